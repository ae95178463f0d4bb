/*-------------------------------------------------------------------------
 *
 * utility_hook.c
 *	  The ProcessUtility hook: sees every ALTER TABLE ... ADD COLUMN and
 *	  either hands it on untouched, warns, refuses it, or has stage.c run
 *	  the staged equivalent in the same transaction.
 *
 * The hook never waits for the background worker and never touches a
 * statement after handing it on.  It is inert where schema_guard is not
 * installed, inside extension scripts, in binary upgrade, for temporary
 * tables and tables created in the current transaction, for schema_guard's
 * own statements, and when schema_guard.mode = off.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "commands/event_trigger.h"
#include "commands/extension.h"
#include "commands/tablecmds.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "tcop/cmdtag.h"
#include "tcop/utility.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "classify.h"
#include "decide.h"
#include "guard.h"
#include "index_online.h"
#include "job.h"
#include "job_catalog.h"
#include "job_warmup.h"
#include "launcher.h"
#include "lock_targets.h"
#include "lockwait.h"
#include "settings.h"
#include "stage.h"
#include "stage_index.h"
#include "stage_not_null.h"
#include "stage_not_valid.h"
#include "stage_unique.h"
#include "util.h"
#include "utility_hook.h"

static ProcessUtility_hook_type prev_ProcessUtility = NULL;

static void sg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
							  bool readOnlyTree, ProcessUtilityContext context,
							  ParamListInfo params, QueryEnvironment *queryEnv,
							  DestReceiver *dest, QueryCompletion *qc);

void
sg_install_utility_hook(void)
{
	prev_ProcessUtility = ProcessUtility_hook;
	ProcessUtility_hook = sg_ProcessUtility;
}

/* Hand a statement on to the next hook in the chain, or to PostgreSQL. */
static void
sg_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
					   bool readOnlyTree, ProcessUtilityContext context,
					   ParamListInfo params, QueryEnvironment *queryEnv,
					   DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_ProcessUtility)
		prev_ProcessUtility(pstmt, queryString, readOnlyTree, context,
							params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context,
								params, queryEnv, dest, qc);
}

/* First column whose path decides the statement's fate. */
static SgAddColumn *
deciding_column(SgAlterPlan *plan)
{
	ListCell   *lc;
	SgAddColumn *found = NULL;

	foreach(lc, plan->columns)
	{
		SgAddColumn *col = lfirst(lc);

		if (col->risk == SG_RISK_NONE)
			continue;
		if (found == NULL || col->path > found->path)
			found = col;
	}
	return found;
}

/* What PostgreSQL does while it holds the lock, for messages. */
static const char *
lock_activity(SgRisk risk)
{
	switch (risk)
	{
		case SG_RISK_REWRITE:
			return "rewrites it";
		case SG_RISK_INDEX_BUILD:
			return "builds an index";
		case SG_RISK_SCAN:
			return "scans it";
		default:
			return "changes its catalog entry";
	}
}

static void
warn_plain_run(Relation rel, SgAlterPlan *plan, const char *hint)
{
	ListCell   *lc;

	foreach(lc, plan->columns)
	{
		SgAddColumn *col = lfirst(lc);

		if (col->risk == SG_RISK_NONE || col->path == SG_PATH_FAILS_FAST)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("ADD COLUMN \"%s\" locks table \"%s\" while PostgreSQL %s",
						col->colname, RelationGetRelationName(rel),
						lock_activity(col->risk)),
				 errdetail("%s", sg_sentence(col->reason)),
				 errhint("%s", col->path == SG_PATH_NONE ? col->refuse_hint : hint)));
	}
}

static void
refuse(Relation rel, SgAddColumn *col, bool blocked_by_mode)
{
	if (blocked_by_mode)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ADD COLUMN \"%s\" would lock table \"%s\" while PostgreSQL %s",
						col->colname, RelationGetRelationName(rel),
						lock_activity(col->risk)),
				 errdetail("%s", sg_sentence(col->reason)),
				 col->path == SG_PATH_NONE
				 ? errhint("%s", col->refuse_hint)
				 : errhint("schema_guard.mode is \"block\". Set it to \"rewrite\" to run the statement online, "
						   "or to \"off\" to run it as written.")));
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ADD COLUMN \"%s\" on table \"%s\" cannot be run online",
					col->colname, RelationGetRelationName(rel)),
			 errdetail("%s", col->refuse_detail),
			 errhint("%s", col->refuse_hint)));
}

/*
 * Run the staged equivalent of the statement: staging changes it, it runs
 * (now only a catalog change), and staging records the job.  Statements
 * schema_guard runs meanwhile, and the changed statement itself, are let
 * through untouched.
 *
 * Users' event triggers see the statement as PostgreSQL shows it: one
 * ddl_command_start, then at ddl_command_end the commands the plain ALTER
 * would list (a serial or identity column's CREATE SEQUENCE, the ALTER
 * TABLE, the sequence's ALTER SEQUENCE ... OWNED BY) and sql_drop for what
 * it dropped, as PostgreSQL runs the pieces of one statement: the staged
 * ALTER and its sequences run as subcommands of this statement, and
 * schema_guard's own helpers (the fill trigger, a leaf's constraints) are
 * neither fired for nor listed.  They see no table_rewrite, since the
 * table is not rewritten.
 */
static void
run_staged(Oid relid, SgAlterPlan *plan, PlannedStmt *pstmt,
		   const char *queryString, ProcessUtilityContext context,
		   ParamListInfo params, QueryEnvironment *queryEnv,
		   DestReceiver *dest, QueryCompletion *qc)
{
	bool		saved = sg_running_own_statement;
	bool		complete = context != PROCESS_UTILITY_SUBCOMMAND;
	bool		cleanup = complete && EventTriggerBeginCompleteQuery();

	PG_TRY();
	{
		SgStaging  *staging;

		if (complete)
			EventTriggerDDLCommandStart(pstmt->utilityStmt);
		sg_running_own_statement = true;
		staging = sg_stage_begin(relid, plan, pstmt, queryString);
		sg_next_ProcessUtility(pstmt, queryString, false, PROCESS_UTILITY_SUBCOMMAND,
							   params, queryEnv, dest, qc);
		CommandCounterIncrement();
		sg_stage_end(staging);
		sg_running_own_statement = saved;
		if (complete)
		{
			EventTriggerSQLDrop(pstmt->utilityStmt);
			EventTriggerDDLCommandEnd(pstmt->utilityStmt);
		}
	}
	PG_FINALLY();
	{
		sg_running_own_statement = saved;
		if (cleanup)
			EventTriggerEndCompleteQuery();
	}
	PG_END_TRY();
}

/* Stage an ADD CONSTRAINT UNIQUE / PRIMARY KEY (stage_unique.c). */
static void
run_staged_unique(PlannedStmt *pstmt, const char *queryString,
				  ProcessUtilityContext context)
{
	bool		saved = sg_running_own_statement;

	sg_running_own_statement = true;
	PG_TRY();
	{
		sg_stage_unique(pstmt, queryString, context);
	}
	PG_FINALLY();
	{
		sg_running_own_statement = saved;
	}
	PG_END_TRY();
}

/* What the hook was called with, for statements it runs in its place. */
typedef struct HookCall
{
	ProcessUtilityContext context;
	ParamListInfo params;
	QueryEnvironment *queryEnv;
	DestReceiver *dest;
	QueryCompletion *qc;
} HookCall;

/*
 * An ALTER TABLE that only adds CHECK or FOREIGN KEY constraints, or only
 * sets NOT NULL on existing columns, which the plain statement validates
 * under its lock: staged NOT VALID, and validated by a job
 * (stage_not_valid.c, stage_not_null.c); or only UNIQUE and PRIMARY KEY
 * constraints, whose index it builds under its lock: the index reserved
 * and built by a job, which then adds the constraint USING INDEX
 * (stage_unique.c).  The table is locked already (lock_before_running).
 * Returns true if it ran here.
 */
static bool
handle_add_constraint(PlannedStmt *pstmt, const char *queryString,
					  const HookCall *call)
{
	AlterTableStmt *stmt = (AlterTableStmt *) pstmt->utilityStmt;
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	Relation	rel;
	bool		stage;
	bool		checks = false;
	bool		not_null = false;
	SgJob	   *job = NULL;
	PlannedStmt *copy;
	bool		saved = sg_running_own_statement;
	int			loc = Max(pstmt->stmt_location, 0);
	char	   *statement;

	if (!OidIsValid(relid) || sg_mode != SG_MODE_REWRITE)
		return false;
	rel = relation_open(relid, NoLock);
	stage = sg_decide_locking_alter(rel, stmt->relation->inh) == SG_ACTION_WARN;
	if (stage && sg_unique_stageable(stmt, rel))
	{
		relation_close(rel, NoLock);
		run_staged_unique(pstmt, queryString, call->context);
		return true;
	}
	checks = stage && sg_constraints_stageable(stmt, rel);
	not_null = stage && !checks && sg_not_null_stageable(stmt, rel);
	if (!checks && !not_null)
	{
		relation_close(rel, NoLock);
		return false;
	}

	statement = pstmt->stmt_len > 0 ? pnstrdup(queryString + loc, pstmt->stmt_len)
		: pstrdup(queryString + loc);
	copy = copyObject(pstmt);
	copy->utilityStmt = checks ? (Node *) sg_stage_not_valid_begin(stmt)
		: (Node *) sg_stage_not_null_begin(stmt, rel, statement, &job);
	/* ALTER TABLE refuses a table this session still has open */
	relation_close(rel, NoLock);
	sg_running_own_statement = true;
	PG_TRY();
	{
		sg_next_ProcessUtility(copy, queryString, false, call->context, call->params,
							   call->queryEnv, call->dest, call->qc);
		CommandCounterIncrement();
		if (checks)
			sg_stage_not_valid_end(relid, statement);
		else
			sg_stage_not_null_end(job);
	}
	PG_CATCH();
	{
		if (checks)
			sg_stage_not_valid_end(InvalidOid, NULL);
		sg_running_own_statement = saved;
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_running_own_statement = saved;
	return true;
}

/*
 * Decide what to do with an ALTER TABLE that adds columns.  Returns true if
 * the statement was executed here (staged), false to hand it on untouched.
 */
static bool
handle_alter_table(PlannedStmt *pstmt, const char *queryString,
				   const HookCall *call)
{
	AlterTableStmt *stmt = (AlterTableStmt *) pstmt->utilityStmt;
	PlannedStmt *copy;
	Oid			relid;
	Relation	rel;
	SgAlterPlan *plan;
	SgAction	action;
	TimestampTz locked_at;
	bool		staged = false;

	/* where ALTER TABLE may not run, let PostgreSQL say so */
	if (stmt->objtype != OBJECT_TABLE || XactReadOnly || RecoveryInProgress())
		return false;
	if (!sg_statement_has_add_column(stmt))
		return handle_add_constraint(pstmt, queryString, call);

	/* before the lock: a session's first staged ALTER loads a lot */
	sg_warm_caches();

	/*
	 * Take the lock ALTER TABLE would take, through the same lookup, so that
	 * the decision is made on the state the ALTER will see and no lock
	 * upgrade happens later.  Errors (no such table, not the owner) are the
	 * ones the ALTER would raise.
	 */
	relid = sg_lock_table_for_alter(stmt, sg_alter_table_other_locks(stmt));
	locked_at = GetCurrentTimestamp();
	if (!OidIsValid(relid))
		return false;			/* IF EXISTS: PostgreSQL reports the skip */

	rel = relation_open(relid, NoLock);
	if (sg_table_is_exempt(rel))
	{
		relation_close(rel, NoLock);
		return false;
	}

	/* Work on a copy: cached plans hand us trees we must not change. */
	copy = copyObject(pstmt);
	stmt = (AlterTableStmt *) copy->utilityStmt;
	plan = sg_classify_alter_safely(rel, stmt, queryString, AccessExclusiveLock, true);

	plan->locked_at = locked_at;
	action = sg_decide(plan);
	if (action != SG_ACTION_STAGE)
		sg_guard_plain_rewrite(relid, stmt->relation->inh, plan);
	switch (action)
	{
		case SG_ACTION_PASS:
			break;
		case SG_ACTION_WARN:
			warn_plain_run(rel, plan,
						   sg_mode == SG_MODE_WARN
						   ? "Set schema_guard.mode to \"rewrite\" to run it online where possible."
						   : plan->other_rewrite
						   ? psprintf("schema_guard does not stage a statement that also rewrites the table (%s); it runs as written.",
									  plan->other_rewrite)
						   : "schema_guard cannot run this form online yet; it runs as written.");
			break;
		case SG_ACTION_REFUSE:
			refuse(rel, deciding_column(plan), sg_mode == SG_MODE_BLOCK);
			break;
		case SG_ACTION_STAGE:
			relation_close(rel, NoLock);
			rel = NULL;
			run_staged(relid, plan, copy, queryString, call->context, call->params,
					   call->queryEnv, call->dest, call->qc);
			staged = true;
			break;
	}
	if (rel)
		relation_close(rel, NoLock);
	return staged;
}

/*
 * Run a statement at top level in the hook's place: the user's (with the
 * user's destination and completion tag), or schema_guard's own.
 */
static void
run_in_place(PlannedStmt *pstmt, const char *sql, bool own, void *arg)
{
	HookCall   *call = arg;
	bool		saved = sg_running_own_statement;

	sg_running_own_statement = own;
	PG_TRY();
	{
		sg_next_ProcessUtility(pstmt, sql, false, PROCESS_UTILITY_TOPLEVEL,
							   own ? NULL : call->params, call->queryEnv,
							   own ? None_Receiver : call->dest,
							   own ? NULL : call->qc);
	}
	PG_FINALLY();
	{
		sg_running_own_statement = saved;
	}
	PG_END_TRY();
}

/*
 * A CREATE INDEX that is not CONCURRENTLY blocks writes while it builds.
 * Returns true if it ran here (online), false to hand it on.
 */
static bool
handle_create_index(PlannedStmt *pstmt, const char *queryString, HookCall *call)
{
	IndexStmt  *stmt = (IndexStmt *) pstmt->utilityStmt;
	bool		in_block;
	bool		partitioned;
	Oid			relid;
	Relation	rel;
	SgAction	action;
	const char *why;

	if (stmt->concurrent || XactReadOnly || RecoveryInProgress())
		return false;
	in_block = call->context != PROCESS_UTILITY_TOPLEVEL || IsTransactionBlock() ||
		IsSubTransaction() || (MyXactFlags & XACT_FLAGS_PIPELINING);
	relid = RangeVarGetRelid(stmt->relation, AccessShareLock, true);
	if (!OidIsValid(relid))
		return false;			/* PostgreSQL's error */
	rel = relation_open(relid, NoLock);
	action = sg_decide_create_index(rel, stmt->relation->inh, &why);
	if (action == SG_ACTION_WARN)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("CREATE INDEX blocks writes to table \"%s\" while PostgreSQL builds the index",
						RelationGetRelationName(rel)),
				 errhint("%s", why)));
	else if (action == SG_ACTION_REFUSE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("CREATE INDEX would block writes to table \"%s\" while PostgreSQL builds the index",
						RelationGetRelationName(rel)),
				 errhint("schema_guard.mode is \"block\". Set it to \"rewrite\" to build the index online, "
						 "or to \"off\" to run it as written.")));
	partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	relation_close(rel, NoLock);
	if (action != SG_ACTION_STAGE)
		return false;
	if (in_block || partitioned)
	{
		bool		saved = sg_running_own_statement;

		sg_running_own_statement = true;
		PG_TRY();
		{
			if (in_block)
				sg_stage_create_index(pstmt, queryString, call->context);
			else
				sg_create_partitioned_index_in_place(pstmt, queryString, call->context,
													 run_in_place, call);
		}
		PG_FINALLY();
		{
			sg_running_own_statement = saved;
		}
		PG_END_TRY();
	}
	else
		sg_create_index_concurrently(pstmt, queryString, run_in_place, call);
	return true;
}

/*
 * An ALTER TABLE without ADD COLUMN that rewrites, scans or indexes the
 * table under its lock, which schema_guard does not run online: a warning
 * (rewrite and warn modes), or refused in block mode, as for ADD COLUMN.
 */
static void
check_locking_alter(AlterTableStmt *stmt)
{
	const char *what;
	SgRisk		risk;
	Oid			relid;
	Relation	rel;
	SgAction	action;
	bool		online;

	if (stmt->objtype != OBJECT_TABLE || sg_statement_has_add_column(stmt) ||
		XactReadOnly || RecoveryInProgress() ||
		(risk = sg_alter_risk(stmt->cmds, &what)) == SG_RISK_NONE)
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	rel = relation_open(relid, NoLock);
	action = sg_decide_locking_alter(rel, stmt->relation->inh);
	/* a form rewrite mode stages (handle_add_constraint) */
	online = sg_constraints_stageable(stmt, rel) || sg_unique_stageable(stmt, rel);
	if (action == SG_ACTION_WARN)
		ereport(WARNING,
				(errcode(ERRCODE_WARNING),
				 errmsg("ALTER TABLE locks table \"%s\" while PostgreSQL %s",
						RelationGetRelationName(rel), lock_activity(risk)),
				 errdetail("%s", sg_sentence(what)),
				 online && sg_mode == SG_MODE_WARN
				 ? errhint("Set schema_guard.mode to \"rewrite\" to run it online.")
				 : errhint("schema_guard does not run this form online yet; it runs as written.")));
	else if (action == SG_ACTION_REFUSE)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("ALTER TABLE would lock table \"%s\" while PostgreSQL %s",
						RelationGetRelationName(rel), lock_activity(risk)),
				 errdetail("%s", sg_sentence(what)),
				 online
				 ? errhint("schema_guard.mode is \"block\". Set it to \"rewrite\" to run it online, "
						   "or to \"off\" to run it as written.")
				 : errhint("schema_guard.mode is \"block\". Set it to \"off\" to run it as written.")));
	relation_close(rel, NoLock);
}

/*
 * Statements that may harm a job: they are checked before they run (in
 * every mode but off), and may replace files the jobs follow.
 */
static bool
may_harm_jobs(Node *parsetree)
{
	switch (nodeTag(parsetree))
	{
		case T_AlterTableStmt:
		case T_AlterTableMoveAllStmt:
		case T_VacuumStmt:
		case T_ClusterStmt:
		case T_DropStmt:
		case T_TruncateStmt:
		case T_AlterSeqStmt:
			return true;
		default:
			return false;
	}
}

/*
 * Take the locks the statement will take, each wait bounded, so that it
 * never makes the application queue behind it (lockwait.c).  An ALTER
 * TABLE that adds columns to a table takes them in handle_alter_table,
 * after loading its caches.
 */
static void
lock_before_running(Node *parsetree)
{
	if (XactReadOnly || RecoveryInProgress())
		return;					/* PostgreSQL refuses the statement */
	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;

		if (stmt->objtype == OBJECT_TABLE && sg_statement_has_add_column(stmt))
			return;
		(void) sg_lock_table_for_alter(stmt, sg_alter_table_other_locks(stmt));
	}
	else
		sg_lock_statement(sg_lock_targets(parsetree),
						  CreateCommandName(parsetree));
}

static void
sg_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
				  bool readOnlyTree, ProcessUtilityContext context,
				  ParamListInfo params, QueryEnvironment *queryEnv,
				  DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *parsetree = pstmt->utilityStmt;
	bool		guarding;
	List	   *files = NIL;

	if (context == PROCESS_UTILITY_TOPLEVEL)
		sg_guard_statement_start();
	if (!sg_hook_is_inert())
	{
		HookCall	call = {context, params, queryEnv, dest, qc};

		/* a foreign key to a constraint a job has not added yet */
		if ((IsA(parsetree, AlterTableStmt) || IsA(parsetree, CreateStmt)) &&
			context != PROCESS_UTILITY_SUBCOMMAND)
			sg_warn_unfinished_unique(parsetree);
		if (IsA(parsetree, IndexStmt) &&
			handle_create_index(pstmt, queryString, &call))
		{
			sg_guard_after(pstmt, NIL);
			return;
		}
		lock_before_running(parsetree);
	}

	/*
	 * Keeping jobs truthful is not a matter of mode: with mode = off a
	 * statement runs as written, and a job it breaks fails.
	 */
	guarding = may_harm_jobs(parsetree) && !sg_running_own_statement &&
		!IsBinaryUpgrade && !creating_extension && IsTransactionState() &&
		sg_extension_active();
	if (guarding)
	{
		if (!sg_hook_is_inert())
		{
			HookCall	call = {context, params, queryEnv, dest, qc};

			sg_guard_before(pstmt);
			if (IsA(parsetree, AlterTableStmt) &&
				handle_alter_table(pstmt, queryString, &call))
			{
				sg_guard_after_staged(pstmt);
				return;
			}
			if (IsA(parsetree, AlterTableStmt))
				check_locking_alter((AlterTableStmt *) parsetree);
		}
		sg_guard_note_statement(pstmt);
		files = sg_guard_files_before(pstmt);
	}

	sg_next_ProcessUtility(pstmt, queryString, readOnlyTree, context,
						   params, queryEnv, dest, qc);

	/* the statement may have touched what a job depends on */
	sg_guard_after(pstmt, files);

	/*
	 * A prepared transaction that staged a job commits here, in a session
	 * that did not stage it: wake the launcher, which finds the job.
	 */
	if (IsA(parsetree, TransactionStmt) &&
		((TransactionStmt *) parsetree)->kind == TRANS_STMT_COMMIT_PREPARED)
		sg_wake_launcher(MyDatabaseId);
	/*
	 * A database that just got schema_guard, or updated it (jobs an older
	 * version left can run now): let the launcher know it.
	 */
	if ((IsA(parsetree, CreateExtensionStmt) &&
		 strcmp(((CreateExtensionStmt *) parsetree)->extname, SG_EXTENSION_NAME) == 0) ||
		(IsA(parsetree, AlterExtensionStmt) &&
		 strcmp(((AlterExtensionStmt *) parsetree)->extname, SG_EXTENSION_NAME) == 0))
		sg_request_worker_at_commit();
}
