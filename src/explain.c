/*-------------------------------------------------------------------------
 *
 * explain.c
 *	  schema_guard.explain(sql): what each subcommand of each statement of
 *	  a script would cost under PostgreSQL's lock, and what schema_guard
 *	  would do about it in the current mode.  Executes nothing, and runs no
 *	  code of users' (classify.c): where PostgreSQL would compute a
 *	  function of users' to judge a default, the verdict is made without
 *	  its value, or the subcommand is left unexplained.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/namespace.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/lock.h"
#include "parser/parser.h"
#include "tcop/cmdtag.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/tuplestore.h"

#include "schema_guard.h"
#include "classify.h"
#include "decide.h"
#include "lock_targets.h"
#include "lockwait.h"
#include "settings.h"
#include "stage.h"
#include "stage_not_null.h"
#include "stage_not_valid.h"
#include "stage_unique.h"

PG_FUNCTION_INFO_V1(sg_explain_v1);

#define EXPLAIN_COLS 8

typedef struct ExplainRow
{
	int			statement;
	Oid			relid;
	const char *column;
	const char *subcommand;
	const char *risk;
	const char *reason;
	const char *action;
	List	   *steps;
} ExplainRow;

static void
emit(ReturnSetInfo *rsinfo, ExplainRow *row)
{
	Datum		values[EXPLAIN_COLS];
	bool		nulls[EXPLAIN_COLS] = {0};

	values[0] = Int32GetDatum(row->statement);
	values[1] = ObjectIdGetDatum(row->relid);
	nulls[1] = !OidIsValid(row->relid);
	values[2] = row->column ? CStringGetDatum(row->column) : (Datum) 0;
	nulls[2] = row->column == NULL;
	if (row->column)
		values[2] = DirectFunctionCall1(namein, CStringGetDatum(row->column));
	values[3] = CStringGetTextDatum(row->subcommand);
	values[4] = row->risk ? CStringGetTextDatum(row->risk) : (Datum) 0;
	nulls[4] = row->risk == NULL;
	values[5] = CStringGetTextDatum(row->reason);
	values[6] = CStringGetTextDatum(row->action);
	if (row->steps != NIL)
	{
		Datum	   *elems = palloc(sizeof(Datum) * list_length(row->steps));
		ListCell   *lc;
		int			i = 0;

		foreach(lc, row->steps)
			elems[i++] = CStringGetTextDatum((char *) lfirst(lc));
		values[7] = PointerGetDatum(construct_array(elems, i, TEXTOID, -1, false, TYPALIGN_INT));
	}
	else
		nulls[7] = true;
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

static const char *
action_name(SgAction action, SgAddColumn *col, SgAlterPlan *plan)
{
	switch (action)
	{
		case SG_ACTION_STAGE:
			return col->path == SG_PATH_STAGE ? "stage" : "pass";
		case SG_ACTION_WARN:
			return col->risk != SG_RISK_NONE && col->path != SG_PATH_FAILS_FAST
				? "warn" : "pass";
		case SG_ACTION_REFUSE:
			return "refuse";
		default:
			return "pass";
	}
}

/* Why the action differs from what the risk alone suggests, if it does. */
static const char *
action_note(SgAction action, SgAlterPlan *plan, SgAddColumn *col,
			Relation rel, const char *reason)
{
	if (plan->error)
		return psprintf("PostgreSQL would reject the statement: %s", plan->error);
	if (rel && sg_table_is_exempt(rel))
	{
		const char *exempt = sg_exempt_reason(rel);

		return *exempt ? psprintf("%s; %s", reason, exempt) : reason;
	}
	if (sg_mode == SG_MODE_OFF)
		return psprintf("%s; schema_guard.mode is off", reason);
	if (action == SG_ACTION_PASS && plan->path >= SG_PATH_STAGE && sg_below_min_size(plan))
		return psprintf("%s; the table is smaller than schema_guard.min_table_size", reason);
	if (plan->path == SG_PATH_FAILS_FAST && plan->fails_why &&
		(col == NULL || col->path != SG_PATH_FAILS_FAST))
		return psprintf("%s; the statement fails: %s", reason, plan->fails_why);
	if (plan->other_rewrite && plan->path == SG_PATH_NOT_YET)
		return psprintf("%s; another subcommand rewrites the table anyway (%s)", reason, plan->other_rewrite);
	return reason;
}

/* A subcommand other than ADD COLUMN: run as written, or warned about. */
static void
explain_other_subcommand(ExplainRow *row, AlterTableCmd *cmd, AlterTableStmt *stmt,
						 Relation rel, SgAlterPlan *plan, SgAction action)
{
	const char *what;
	SgRisk		risk = sg_subcommand_risk(cmd, &what);

	row->column = cmd->name;
	row->subcommand = "other subcommand";
	row->risk = sg_risk_name(risk);
	row->reason = psprintf("%s; schema_guard runs it as written", what);
	row->action = action == SG_ACTION_REFUSE ? "refuse" : "pass";
	/* without ADD COLUMN: warned about (or refused) where it locks */
	if (plan->columns == NIL)
	{
		risk = sg_alter_risk(list_make1(cmd), &what);
		row->risk = sg_risk_name(risk);
		row->reason = psprintf("%s; schema_guard runs it as written",
							  what ? what : "catalog-only change");
	}
	if (plan->columns == NIL && risk != SG_RISK_NONE && !sg_hook_is_inert())
	{
		SgAction	locking = sg_decide_locking_alter(rel, stmt->relation->inh);

		row->action = locking == SG_ACTION_WARN ? "warn"
			: locking == SG_ACTION_REFUSE ? "refuse" : "pass";
		if (locking == SG_ACTION_WARN && sg_mode == SG_MODE_REWRITE &&
			sg_constraints_stageable(stmt, rel))
		{
			row->action = "stage";
			row->steps = list_make2("ADD CONSTRAINT as written, NOT VALID: it holds for new rows at once",
								   "background, once the transaction commits: VALIDATE CONSTRAINT (blocks neither reads nor writes)");
		}
		else if (locking == SG_ACTION_WARN && sg_mode == SG_MODE_REWRITE &&
				 sg_not_null_stageable(stmt, rel))
		{
			row->action = "stage";
			row->reason = "SET NOT NULL scans the table under its lock; schema_guard checks the rows in the background instead";
			row->steps = sg_describe_not_null_steps(rel, cmd->name);
		}
		else if (locking == SG_ACTION_WARN && sg_mode == SG_MODE_REWRITE &&
				 sg_unique_stageable(stmt, rel))
		{
			row->action = "stage";
			row->steps = sg_describe_unique_steps(rel, cmd);
		}
	}
}

static void
explain_alter(ReturnSetInfo *rsinfo, int stmtno, AlterTableStmt *stmt,
			  const char *sql)
{
	Oid			relid;
	Relation	rel;
	SgAlterPlan *plan;
	SgAction	action;
	ListCell   *lc;
	ListCell   *pc;
	ExplainRow	row;

	memset(&row, 0, sizeof(row));
	row.statement = stmtno;
	row.subcommand = "ALTER TABLE";

	relid = RangeVarGetRelid(stmt->relation, AccessShareLock, true);
	if (!OidIsValid(relid))
	{
		RangeVar   *rv = stmt->relation;

		/* PostgreSQL's own words: its error, or its IF EXISTS notice */
		if (stmt->missing_ok)
			row.reason = psprintf("relation \"%s\" does not exist, so IF EXISTS skips the statement",
								  rv->relname);
		else if (rv->schemaname && !OidIsValid(get_namespace_oid(rv->schemaname, true)))
			row.reason = psprintf("schema \"%s\" does not exist", rv->schemaname);
		else if (rv->schemaname)
			row.reason = psprintf("relation \"%s.%s\" does not exist",
								  rv->schemaname, rv->relname);
		else
			row.reason = psprintf("relation \"%s\" does not exist", rv->relname);
		row.action = stmt->missing_ok ? "pass" : "error";
		emit(rsinfo, &row);
		return;
	}
	/* any kind: the classifier tells that ALTER TABLE fails on a view */
	rel = relation_open(relid, NoLock);
	plan = sg_classify_alter_safely(rel, stmt, sql, AccessShareLock, false);
	action = (sg_hook_is_inert() || sg_table_is_exempt(rel)) ? SG_ACTION_PASS : sg_decide(plan);
	row.relid = relid;

	pc = list_head(plan->columns);
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		row.steps = NIL;
		if (SG_IS_ADD_COLUMN(cmd->subtype) && plan->unexplained)
		{
			row.column = castNode(ColumnDef, cmd->def)->colname;
			row.subcommand = "ADD COLUMN";
			row.risk = NULL;
			row.reason = plan->unexplained;
			row.action = "unknown";
		}
		else if (SG_IS_ADD_COLUMN(cmd->subtype) && plan->error)
		{
			row.column = castNode(ColumnDef, cmd->def)->colname;
			row.subcommand = "ADD COLUMN";
			row.risk = NULL;
			row.reason = action_note(action, plan, NULL, rel, "");
			row.action = "pass";
		}
		else if (SG_IS_ADD_COLUMN(cmd->subtype) && pc != NULL)
		{
			SgAddColumn *col = lfirst(pc);

			pc = lnext(plan->columns, pc);
			row.column = col->colname;
			row.subcommand = "ADD COLUMN";
			row.risk = plan->error ? NULL : sg_risk_name(col->risk);
			row.reason = action_note(action, plan, col, rel, col->reason ? col->reason : "");
			row.action = action_name(action, col, plan);
			if (strcmp(row.action, "stage") == 0)
				row.steps = sg_describe_steps(rel, plan, col);
		}
		else
			explain_other_subcommand(&row, cmd, stmt, rel, plan, action);
		emit(rsinfo, &row);
	}
	relation_close(rel, NoLock);
}


/* Why schema_guard leaves a CREATE INDEX as written, if it does. */
static const char *
index_pass_note(Relation rel, const char *reason)
{
	const char *exempt = sg_exempt_reason(rel);

	if (exempt && *exempt)
		return psprintf("%s; %s", reason, exempt);
	if (sg_mode == SG_MODE_OFF)
		return psprintf("%s; schema_guard.mode is off", reason);
	return psprintf("%s; the table is smaller than schema_guard.min_table_size", reason);
}

/*
 * CREATE INDEX: built concurrently in place, or staged in a transaction
 * block (in_block: the script opened one, or sends several statements in
 * one query).
 */
static void
explain_create_index(ReturnSetInfo *rsinfo, int stmtno, IndexStmt *stmt, bool in_block)
{
	ExplainRow	row;
	Relation	rel;
	SgAction	action;
	const char *why;
	const char *reason = "CREATE INDEX blocks writes to the table (SHARE lock) for the whole build";

	memset(&row, 0, sizeof(row));
	row.statement = stmtno;
	row.subcommand = "CREATE INDEX";
	row.relid = RangeVarGetRelid(stmt->relation, AccessShareLock, true);
	if (!OidIsValid(row.relid))
	{
		row.reason = psprintf("relation \"%s\" does not exist", stmt->relation->relname);
		row.action = "error";
		emit(rsinfo, &row);
		return;
	}
	if (stmt->concurrent)
	{
		row.risk = "none";
		row.reason = "CREATE INDEX CONCURRENTLY does not block writes";
		row.action = "pass";
		emit(rsinfo, &row);
		return;
	}
	rel = relation_open(row.relid, NoLock);
	action = sg_hook_is_inert() ? SG_ACTION_PASS
		: sg_decide_create_index(rel, stmt->relation->inh, &why);
	row.risk = "index build";
	row.reason = reason;
	switch (action)
	{
		case SG_ACTION_STAGE:
			row.action = "stage";
			row.steps = in_block && rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE
				? list_make2("CREATE INDEX as written, with the index of every partition attached: catalog entries only, empty and invalid",
							 "background, once the transaction commits: build each partition's index as CREATE INDEX CONCURRENTLY does, then mark the partitioned ones valid")
				: in_block
				? list_make2("CREATE INDEX as written, its catalog entry only: empty, invalid, not ready for inserts",
							 "background, once the transaction commits: build it as CREATE INDEX CONCURRENTLY does, then mark it valid")
				: rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE
				? list_make2("CREATE INDEX as written, with the index of every partition attached: catalog entries only, empty and invalid, committed",
							 "then, as CREATE INDEX CONCURRENTLY would: build each partition's index concurrently, mark the partitioned ones valid (a failed build drops them all)")
				: list_make1("CREATE INDEX CONCURRENTLY as written (a failed build drops its INVALID index)");
			break;
		case SG_ACTION_WARN:
			row.action = "warn";
			row.reason = psprintf("%s; %s", reason, why);
			break;
		case SG_ACTION_REFUSE:
			row.action = "refuse";
			break;
		default:
			row.action = "pass";
			row.reason = stmt->relation->inh ||
				rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE
				? index_pass_note(rel, reason)
				: "CREATE INDEX ON ONLY a partitioned table builds nothing";
			break;
	}
	relation_close(rel, NoLock);
	emit(rsinfo, &row);
}

/* Any other statement: the lock it takes, waited for in bounded attempts. */
static void
explain_other(ReturnSetInfo *rsinfo, int stmtno, Node *parsetree)
{
	ExplainRow	row;
	List	   *targets = sg_lock_targets(parsetree);

	memset(&row, 0, sizeof(row));
	row.statement = stmtno;
	row.subcommand = GetCommandTagName(CreateCommandTag(parsetree));
	row.action = "pass";
	if (targets == NIL)
		row.reason = "not ALTER TABLE ... ADD COLUMN: schema_guard lets it through";
	else
	{
		SgLockTarget *t = linitial(targets);

		row.relid = RangeVarGetRelid(t->relation, NoLock, true);
		row.risk = "none";
		row.reason = sg_hook_is_inert()
			? psprintf("takes %s on \"%s\"; schema_guard.mode is off",
					   GetLockmodeName(DEFAULT_LOCKMETHOD, t->lockmode), t->relation->relname)
			: psprintf("takes %s on \"%s\", which schema_guard waits for at most schema_guard.lock_timeout at a time, "
					   "so that queries on the table do not queue behind it; then it runs as written",
					   GetLockmodeName(DEFAULT_LOCKMETHOD, t->lockmode), t->relation->relname);
	}
	emit(rsinfo, &row);
}

/* Report a syntax error's position within the script, not the call. */
static void
script_error_callback(void *arg)
{
	const char *sql = (const char *) arg;
	int			position = geterrposition();

	if (position > 0)
	{
		errposition(0);
		internalerrposition(position);
		internalerrquery(sql);
	}
	errcontext("schema_guard.explain() script");
}

Datum
sg_explain_v1(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	char	   *sql = text_to_cstring(PG_GETARG_TEXT_PP(0));
	List	   *stmts;
	ListCell   *lc;
	int			stmtno = 0;
	bool		in_block;

	ErrorContextCallback errcallback;

	InitMaterializedSRF(fcinfo, 0);
	errcallback.callback = script_error_callback;
	errcallback.arg = sql;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	stmts = pg_parse_query(sql);
	error_context_stack = errcallback.previous;
	if (stmts == NIL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("schema_guard.explain() needs at least one SQL statement")));

	/* a script sent as one query runs in one (implicit) transaction block */
	in_block = list_length(stmts) > 1;
	foreach(lc, stmts)
	{
		RawStmt    *raw = lfirst_node(RawStmt, lc);

		stmtno++;
		if (IsA(raw->stmt, AlterTableStmt) &&
			castNode(AlterTableStmt, raw->stmt)->objtype == OBJECT_TABLE)
			explain_alter(rsinfo, stmtno, castNode(AlterTableStmt, raw->stmt), sql);
		else if (IsA(raw->stmt, IndexStmt))
			explain_create_index(rsinfo, stmtno, castNode(IndexStmt, raw->stmt), in_block);
		else
			explain_other(rsinfo, stmtno, raw->stmt);
	}
	return (Datum) 0;
}
