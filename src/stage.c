/*-------------------------------------------------------------------------
 *
 * stage.c
 *	  Replace a risky ADD COLUMN, in the user's transaction, by short
 *	  metadata-only steps, and record the job that fills existing rows.
 *
 * For each staged column the user's ALTER TABLE is changed, not split:
 * the column is added without its default, NOT NULL or identity, a
 * SET DEFAULT goes first in the subcommand list (so that a later SET
 * DEFAULT in the same statement still wins, as it does in PostgreSQL), and
 * NOT NULL becomes a NOT VALID constraint (stage_constraints.c).  Serial and identity
 * columns get their sequence first, as PostgreSQL creates it, owned by the
 * column.  Then the fill trigger and the job rows are created.  All of it
 * commits or rolls back with the user's transaction.
 *
 * This file never waits for the worker and never evaluates a default.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_type.h"
#include "storage/bufmgr.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"

#include "schema_guard.h"
#include "classify.h"
#include "fill.h"
#include "index_build.h"
#include "job.h"
#include "job_leaves.h"
#include "job_objects.h"
#include "bind.h"
#include "launcher.h"
#include "settings.h"
#include "stage.h"
#include "stage_constraints.h"
#include "util.h"

/* What staging one column produced. */
typedef struct StagedColumn
{
	SgAddColumn *col;
	bool		needs_fill;		/* existing rows need a computed value */
	List	   *constraints;	/* SgJobConstraint the job finishes */
	char	   *seq_name;		/* serial or identity sequence, or NULL */
	Node	   *raw_default;	/* what SET DEFAULT installs, or NULL */
	char	   *check_name;
} StagedColumn;

/* Run a statement built as a node, as ALTER TABLE runs its own pieces. */
static void
run_node(Node *stmt, const char *sql)
{
	PlannedStmt *wrapper = makeNode(PlannedStmt);

	wrapper->commandType = CMD_UTILITY;
	wrapper->canSetTag = false;
	wrapper->utilityStmt = stmt;
	wrapper->stmt_location = -1;
	wrapper->stmt_len = 0;
	ProcessUtility(wrapper, sql, false, PROCESS_UTILITY_SUBCOMMAND,
				   NULL, NULL, None_Receiver, NULL);
	CommandCounterIncrement();
}


/* The text of this statement alone, out of a possibly longer string. */
static char *
statement_text(PlannedStmt *pstmt, const char *queryString)
{
	int			loc = pstmt->stmt_location;
	int			len = pstmt->stmt_len;

	if (loc < 0)
		loc = 0;
	if (len <= 0)
		len = strlen(queryString + loc);
	return pnstrdup(queryString + loc, len);
}

static Node *
nextval_call(const char *nspname, const char *seqname)
{
	A_Const    *name = makeNode(A_Const);
	TypeCast   *cast = makeNode(TypeCast);

	name->val.sval.type = T_String;
	name->val.sval.sval = (char *) quote_qualified_identifier(nspname, seqname);
	name->location = -1;
	cast->typeName = SystemTypeName("regclass");
	cast->arg = (Node *) name;
	cast->location = -1;
	return (Node *) makeFuncCall(SystemFuncName("nextval"), list_make1(cast),
								 COERCE_EXPLICIT_CALL, -1);
}

/* The SQL of an identity's sequence options, for ADD GENERATED at the end. */
static char *
identity_options_sql(List *options)
{
	StringInfoData buf;
	ListCell   *lc;

	if (options == NIL)
		return NULL;
	initStringInfo(&buf);
	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);
		const char *name = opt->defname;
		Node	   *arg = opt->arg;

		if (buf.len > 0)
			appendStringInfoChar(&buf, ' ');
		if (strcmp(name, "sequence_name") == 0)
			appendStringInfo(&buf, "SEQUENCE NAME %s",
							 NameListToQuotedString(castNode(List, arg)));
		else if (strcmp(name, "cycle") == 0)
			appendStringInfoString(&buf, boolVal(arg) ? "CYCLE" : "NO CYCLE");
		else if (strcmp(name, "logged") == 0 || strcmp(name, "unlogged") == 0)
			appendStringInfoString(&buf, strcmp(name, "logged") == 0 ? "LOGGED" : "UNLOGGED");
		else if ((strcmp(name, "minvalue") == 0 || strcmp(name, "maxvalue") == 0) && arg == NULL)
			appendStringInfo(&buf, "NO %s", strcmp(name, "minvalue") == 0 ? "MINVALUE" : "MAXVALUE");
		else
		{
			const char *keyword;

			if (strcmp(name, "start") == 0)
				keyword = "START WITH";
			else if (strcmp(name, "increment") == 0)
				keyword = "INCREMENT BY";
			else if (strcmp(name, "restart") == 0)
				keyword = arg ? "RESTART WITH" : "RESTART";
			else if (strcmp(name, "minvalue") == 0)
				keyword = "MINVALUE";
			else if (strcmp(name, "maxvalue") == 0)
				keyword = "MAXVALUE";
			else if (strcmp(name, "cache") == 0)
				keyword = "CACHE";
			else
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("identity option \"%s\" is not supported by schema_guard", name)));
			appendStringInfoString(&buf, keyword);
			if (arg != NULL)
				appendStringInfo(&buf, " %s",
								 IsA(arg, Integer) ? psprintf("%d", intVal(arg))
								 : castNode(Float, arg)->fval);
		}
	}
	return buf.data;
}

/*
 * Create the sequence of a serial or identity column, as PostgreSQL would:
 * in the table's schema, with the table's persistence and owner.  For an
 * identity column this is a staging sequence with the identity's options;
 * it takes the name the identity will have, and finalize replaces it by
 * the real identity sequence under the same name.
 */
static char *
create_column_sequence(Relation rel, SgAddColumn *col)
{
	CreateSeqStmt *seq = makeNode(CreateSeqStmt);
	Oid			nspid = RelationGetNamespace(rel);
	char	   *nspname = get_namespace_name(nspid);
	char	   *seqname = NULL;
	char		persistence = rel->rd_rel->relpersistence;
	List	   *options = NIL;
	ListCell   *lc;

	foreach(lc, col->identity_options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "sequence_name") == 0)
		{
			RangeVar   *rv = makeRangeVarFromNameList(castNode(List, opt->arg));

			if (rv->schemaname)
				nspname = rv->schemaname;
			seqname = rv->relname;
		}
		else if (strcmp(opt->defname, "logged") == 0)
			persistence = RELPERSISTENCE_PERMANENT;
		else if (strcmp(opt->defname, "unlogged") == 0)
			persistence = RELPERSISTENCE_UNLOGGED;
		else
			options = lappend(options, opt);
	}
	if (seqname == NULL)
		seqname = ChooseRelationName(RelationGetRelationName(rel), col->colname,
									 "seq", nspid, false);

	seq->sequence = makeRangeVar(nspname, seqname, -1);
	seq->sequence->relpersistence = persistence;
	seq->options = lcons(makeDefElem("as", (Node *) makeTypeNameFromOid(col->typid, -1), -1),
						 options);
	seq->ownerId = rel->rd_rel->relowner;
	/* PostgreSQL's messages about an identity's sequence */
	seq->for_identity = col->identity != '\0';
	run_node((Node *) seq,
			 psprintf("CREATE SEQUENCE %s AS %s",
					  quote_qualified_identifier(nspname, seqname),
					  format_type_be(col->typid)));
	return psprintf("%s", quote_qualified_identifier(nspname, seqname));
}

static void
own_sequence(Relation rel, const char *qualified_seq, const char *colname)
{
	AlterSeqStmt *alter = makeNode(AlterSeqStmt);
	List	   *names;

	names = list_make3(makeString(get_namespace_name(RelationGetNamespace(rel))),
					   makeString(RelationGetRelationName(rel)),
					   makeString(pstrdup(colname)));
	alter->sequence = makeRangeVarFromNameList(sg_qualified_name_list(qualified_seq));
	alter->options = list_make1(makeDefElem("owned_by", (Node *) names, -1));
	run_node((Node *) alter,
			 psprintf("ALTER SEQUENCE %s OWNED BY %s.%s", qualified_seq,
					  quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												 RelationGetRelationName(rel)),
					  quote_identifier(colname)));
}

static AlterTableCmd *
set_default_cmd(const char *colname, Node *raw_default)
{
	AlterTableCmd *cmd = makeNode(AlterTableCmd);

	cmd->subtype = AT_ColumnDefault;
	cmd->name = pstrdup(colname);
	cmd->def = copyObject(raw_default);
	return cmd;
}

/*
 * Strip what makes the column expensive from its definition; return the
 * subcommands and sequence that stand in for it.
 */
static StagedColumn *
stage_column(Relation rel, SgAddColumn *col, int64 job_id,
			 List **prefix, List **suffix, List **chosen)
{
	StagedColumn *staged = palloc0(sizeof(StagedColumn));
	List	   *kept = NIL;
	ListCell   *lc;

	staged->col = col;
	staged->needs_fill = col->is_serial || col->identity || col->fill_volatile;
	/* PostgreSQL names a column's NOT NULL before its other constraints */
	if (staged->needs_fill && col->not_null)
		staged->check_name = sg_not_null_constraint_name(rel, col->colname, col->not_null_name,
															  job_id, chosen);
	staged->constraints = sg_stage_constraints(rel, col, chosen, suffix);

	/*
	 * Without a value to compute, the column keeps its default and NOT NULL:
	 * PostgreSQL stores the default once and needs no scan for them.
	 */
	if (!staged->needs_fill)
	{
		if (col->has_pkey)
		{
			Constraint *notnull = sg_make_constraint(CONSTR_NOTNULL);

			col->def->constraints = lappend(col->def->constraints, notnull);
		}
		return staged;
	}

	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if (con->contype != CONSTR_DEFAULT && con->contype != CONSTR_NOTNULL &&
			con->contype != CONSTR_IDENTITY)
			kept = lappend(kept, con);
	}
	col->def->constraints = kept;

	if (col->is_serial || col->identity)
	{
		char	   *nspname = get_namespace_name(RelationGetNamespace(rel));
		List	   *names;

		col->def->typeName = makeTypeNameFromOid(col->typid, col->typmod);
		staged->seq_name = create_column_sequence(rel, col);
		names = sg_qualified_name_list(staged->seq_name);
		if (list_length(names) == 2)
			nspname = strVal(linitial(names));
		staged->raw_default = nextval_call(nspname, strVal(llast(names)));
	}
	else if (col->raw_default != NULL && col->fill_volatile)
		staged->raw_default = col->raw_default;

	/* SET DEFAULT goes first so a later one in the same statement wins */
	if (staged->raw_default)
		*prefix = lappend(*prefix, set_default_cmd(col->colname, staged->raw_default));

	if (col->not_null)
		*suffix = lappend(*suffix, sg_not_null_constraint_cmd(col->colname, staged->check_name,
															  col->not_null_no_inherit));
	return staged;
}

/* The job's record of one staged column, once the column exists. */
static SgJobColumn *
job_column(Relation rel, StagedColumn *staged, const char *queryString)
{
	SgAddColumn *col = staged->col;
	SgJobColumn *jc = palloc0(sizeof(SgJobColumn));
	Node	   *fill;

	jc->attnum = get_attnum(RelationGetRelid(rel), col->colname);
	if (jc->attnum == InvalidAttrNumber)
		return NULL;			/* dropped again by the same statement */
	jc->colname = pstrdup(col->colname);
	jc->not_null = col->not_null;
	jc->check_name = staged->check_name;
	if (col->identity)
	{
		jc->kind = "identity";
		jc->identity = col->identity;
		jc->identity_options = identity_options_sql(col->identity_options);
		jc->staging_seq = RangeVarGetRelid(makeRangeVarFromNameList(sg_qualified_name_list(staged->seq_name)),
										   NoLock, false);
	}
	else
		jc->kind = col->is_serial ? "serial" : "default";

	/*
	 * The ADD COLUMN's own value, never the column's current default, with
	 * what is not volatile in it computed now, as the rewrite would see it.
	 */
	if (staged->seq_name)
		fill = sg_cook_default(rel, staged->raw_default, col->typid, col->typmod,
							   col->colname, queryString);
	else
		fill = sg_fill_fold(col->fill_expr);
	jc->atttype = col->typid;
	jc->atttypmod = col->typmod;
	jc->fill_node = nodeToString(fill);
	jc->fill_sql = sg_fill_qualified_sql(fill);
	jc->fill_expr = deparse_expression(fill, NIL, false, false);
	return jc;
}

/*
 * BEFORE triggers fire in name order, and the fill trigger must see the
 * final NEW row, so its name must sort after every trigger of the table:
 * "~schema_guard_fill_N" sorts after any name that starts with an ASCII
 * character; after a greater (or equal) name, the greatest one extended.
 */
static char *
fill_trigger_name(Oid relid, bool recurse, int64 job_id)
{
	char	   *name = psprintf("~schema_guard_fill_%lld", (long long) job_id);
	const char *greatest = NULL;
	ListCell   *lc;

	/* every table of the tree fires the trigger, so look at all of them */
	foreach(lc, recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid))
	{
		Relation	rel = relation_open(lfirst_oid(lc), AccessShareLock);
		TriggerDesc *triggers = rel->trigdesc;
		int			i;

		for (i = 0; triggers && i < triggers->numtriggers; i++)
		{
			const char *tgname = triggers->triggers[i].tgname;

			/* one of that very name too: the new one must differ */
			if (strcmp(tgname, name) >= 0 && (greatest == NULL || strcmp(tgname, greatest) > 0))
				greatest = pstrdup(tgname);
		}
		relation_close(rel, AccessShareLock);
	}
	if (greatest != NULL)
	{
		if (strlen(greatest) + strlen(name) < NAMEDATALEN)
			name = psprintf("%s%s", greatest, name);
		else if (strlen(greatest) + 1 < NAMEDATALEN)
			name = psprintf("%s~", greatest);
		else
			ereport(ERROR,
					(errcode(ERRCODE_NAME_TOO_LONG),
					 errmsg("cannot name the fill trigger of table \"%s\" to fire after trigger \"%s\"",
							get_rel_name(relid), greatest),
					 errhint("Rename that trigger, or run the statement with schema_guard.mode = off.")));
	}
	return name;
}

static Oid
create_trigger_on(Oid relid, SgJob *job)
{
	char	   *table = quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
												   get_rel_name(relid));
	Oid			tgoid;

	sg_run_own_utility(psprintf("CREATE TRIGGER %s BEFORE UPDATE ON %s FOR EACH ROW "
								"EXECUTE FUNCTION schema_guard.fill_trigger('%lld')",
								quote_identifier(job->trigger_name), table,
								(long long) job->job_id));
	/* it must fire under session_replication_role = replica too */
	sg_run_own_utility(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s", table,
								quote_identifier(job->trigger_name)));
	tgoid = get_trigger_oid(relid, job->trigger_name, false);
	job->objects = lappend(job->objects,
						   sg_new_object(SG_OBJECT_FILL_TRIGGER, relid, job->trigger_name, tgoid));
	return tgoid;
}

/*
 * The fill trigger goes on the table; partitions get clones of it, and
 * inheritance children, which inherit no triggers, one of their own.
 */
static void
create_fill_trigger(Oid relid, bool recurse, SgJob *job)
{
	ListCell   *lc;
	Oid			tgoid;

	job->trigger_name = fill_trigger_name(relid, recurse, job->job_id);
	tgoid = create_trigger_on(relid, job);
	/* the objects the fill expressions use cannot go while the trigger lives */
	foreach(lc, job->columns)
		sg_fill_record_dependencies(tgoid, stringToNode(((SgJobColumn *) lfirst(lc))->fill_node));
	if (!recurse || get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);

		if (child != relid && get_rel_relkind(child) == RELKIND_RELATION)
			create_trigger_on(child, job);
	}
}

/* Constraints each leaf gets of its own (foreign keys of a partitioned table). */
static void
add_leaf_constraints(Oid relid, SgJob *job)
{
	ListCell   *lc;

	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		ListCell   *rc;

		if (con->leaf_sql == NULL)
			continue;
		foreach(rc, find_all_inheritors(relid, NoLock, NULL))
		{
			Oid			leaf = lfirst_oid(rc);

			if (get_rel_relkind(leaf) != RELKIND_RELATION)
				continue;
			sg_run_own_utility(psprintf("ALTER TABLE %s ADD %s", sg_qualified_relname(leaf),
										con->leaf_sql));
			job->objects = lappend(job->objects,
								   sg_new_object(SG_OBJECT_CONSTRAINT, leaf, con->conname,
												 get_relation_constraint_oid(leaf, con->conname, false)));
		}
	}
}

/*
 * The objects the staged ALTER made for the job, known by OID from now on:
 * helper checks and NOT VALID constraints; and the indexes of UNIQUE and
 * PRIMARY KEY constraints, whose entries are made here, so that their
 * names are taken in this transaction as PostgreSQL's ALTER takes them.
 */
static void
record_staged_objects(Oid relid, SgJob *job)
{
	ListCell   *lc;

	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);

		if (col->check_name)
			job->objects = lappend(job->objects,
								   sg_new_object(SG_OBJECT_HELPER_CHECK, relid, col->check_name,
												 get_relation_constraint_oid(relid, col->check_name, false)));
	}
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		SgJobObject *obj;

		if (con->index_sql)
		{
			obj = sg_new_object(SG_OBJECT_INDEX, relid, con->conname,
								sg_reserve_index(relid, con->index_sql));
			obj->definition = con->index_sql;
			job->objects = lappend(job->objects, obj);
		}
		else if (con->leaf_sql == NULL)
			job->objects = lappend(job->objects,
								   sg_new_object(SG_OBJECT_CONSTRAINT, relid, con->conname,
												 get_relation_constraint_oid(relid, con->conname, false)));
	}
}

/* What staging an ALTER knows between the statement's two halves. */
struct SgStaging
{
	Oid			relid;
	SgAlterPlan *plan;
	SgJob	   *job;
	List	   *staged;			/* StagedColumn */
	const char *queryString;
};

/* The job the staged ALTER records, as far as the ALTER tells it. */
static SgJob *
new_job(Oid relid, SgAlterPlan *plan, PlannedStmt *pstmt, const char *queryString)
{
	SgJob	   *job = palloc0(sizeof(SgJob));

	job->job_id = sg_job_next_id();
	job->relid = relid;

	/*
	 * The values are computed as the table's owner, as PostgreSQL computes
	 * what it runs later on a table's behalf (VACUUM, ANALYZE, index
	 * expressions): never with more rights than the ALTER's role, which owns
	 * the table or is a member of its owner, and never as a superuser who
	 * merely issued the ALTER, whose rights the owner could otherwise borrow
	 * by replacing a function the default calls.
	 */
	job->role = sg_rel_owner(relid);
	job->statement = statement_text(pstmt, queryString);
	job->search_path = sg_pinned_search_path();
	job->settings = sg_capture_settings();
	job->bound_to = sg_cluster_binding();
	job->trigger_name = psprintf("~schema_guard_fill_%lld", (long long) job->job_id);
	job->locked_at = plan->locked_at;
	job->batch_blocks = Max(sg_batch_min_blocks, Min(16, sg_batch_max_blocks));
	return job;
}

/*
 * The first half, before the statement runs: change the statement so that
 * it only changes the catalog (the column added without what makes it
 * expensive, SET DEFAULT first, NOT NULL as a NOT VALID check, constraints
 * NOT VALID), and create the sequences it needs.  The caller runs the
 * statement, then calls sg_stage_end(), with schema_guard's own statements
 * let through all along.
 */
SgStaging *
sg_stage_begin(Oid relid, SgAlterPlan *plan, PlannedStmt *pstmt, const char *queryString)
{
	SgStaging  *staging = palloc0(sizeof(SgStaging));
	AlterTableStmt *stmt = (AlterTableStmt *) pstmt->utilityStmt;
	List	   *prefix = NIL;
	List	   *suffix = NIL;
	List	   *chosen = NIL;
	ListCell   *lc;
	Relation	rel;

	staging->relid = relid;
	staging->plan = plan;
	staging->queryString = queryString;
	staging->job = new_job(relid, plan, pstmt, queryString);
	rel = table_open(relid, NoLock);
	foreach(lc, plan->columns)
	{
		SgAddColumn *col = lfirst(lc);

		if (col->path == SG_PATH_STAGE)
			staging->staged = lappend(staging->staged,
									  stage_column(rel, col, staging->job->job_id,
												   &prefix, &suffix, &chosen));
	}
	stmt->cmds = list_concat(list_concat(prefix, stmt->cmds), suffix);
	/* ALTER TABLE refuses a table this session still has open */
	table_close(rel, NoLock);
	return staging;
}

/* The job's columns and constraints, as the statement made them. */
static void
collect_columns(SgStaging *staging, Relation rel)
{
	SgJob	   *job = staging->job;
	ListCell   *lc;

	foreach(lc, staging->staged)
	{
		StagedColumn *sc = lfirst(lc);
		AttrNumber	attnum = get_attnum(staging->relid, sc->col->colname);
		ListCell   *cc;

		if (sc->seq_name)
			own_sequence(rel, sc->seq_name, sc->col->colname);
		if (attnum == InvalidAttrNumber)
			continue;			/* dropped again by the same statement */
		foreach(cc, sc->constraints)
		{
			SgJobConstraint *con = lfirst(cc);

			con->attnum = attnum;
			job->constraints = lappend(job->constraints, con);
		}
		if (sc->needs_fill)
			job->columns = lappend(job->columns, job_column(rel, sc, staging->queryString));
	}
	foreach(lc, staging->plan->columns)
	{
		SgAddColumn *col = lfirst(lc);
		AttrNumber	attnum = get_attnum(staging->relid, col->colname);

		if (!col->already_exists && attnum != InvalidAttrNumber)
			job->added_attnums = list_append_unique_int(job->added_attnums, attnum);
	}
}

/*
 * The second half, after the statement ran: the helpers (leaf constraints,
 * reserved indexes, the fill trigger) and the job rows, in the same
 * transaction, so that a rollback leaves nothing.
 */
void
sg_stage_end(SgStaging *staging)
{
	SgJob	   *job = staging->job;
	Oid			relid = staging->relid;
	Relation	rel;

	rel = table_open(relid, NoLock);
	collect_columns(staging, rel);
	table_close(rel, NoLock);
	add_leaf_constraints(relid, job);
	record_staged_objects(relid, job);
	if (job->columns != NIL)
		job->leaves = sg_job_make_leaves(relid, staging->plan->recurse, job->columns);
	if (job->columns == NIL && job->constraints == NIL)
		return;
	if (job->columns != NIL)
		create_fill_trigger(relid, staging->plan->recurse, job);
	sg_stage_job(job, psprintf("ALTER TABLE \"%s\"", get_rel_name(relid)),
				 "Existing rows are filled in the background once this transaction commits; until then they read NULL in the new column.");
}

/*
 * Record a staged statement's job, for the worker to start when the
 * transaction commits, and tell the client.  "what" names the statement
 * and its object, "detail" what happens next (a full sentence).
 */
void
sg_stage_job(SgJob *job, const char *what, const char *detail)
{
	sg_job_insert(job);
	sg_request_worker_at_commit();
	ereport(NOTICE,
			(errmsg("schema_guard staged %s as job %lld", what, (long long) job->job_id),
			 errdetail_internal("%s", detail),
			 errhint("Watch it with SELECT * FROM schema_guard.progress, or wait for it with CALL schema_guard.wait(%lld).",
					 (long long) job->job_id)));
}

/*
 * The steps schema_guard runs for one column, as text for explain().  They
 * mirror what sg_stage_begin/_end, stage_constraints.c and the worker do.
 */
List *
sg_describe_steps(Relation rel, SgAlterPlan *plan, SgAddColumn *col)
{
	const char *table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel));
	const char *c = quote_identifier(col->colname);
	bool		needs_fill = col->is_serial || col->identity || col->fill_volatile;
	List	   *steps = NIL;
	const char *fill = NULL;

	if (col->path != SG_PATH_STAGE || plan->path != SG_PATH_STAGE)
		return NIL;
	if (col->is_serial || col->identity)
	{
		steps = lappend(steps, psprintf("CREATE SEQUENCE %s AS %s, owned by %s.%s",
										col->identity ? "<identity sequence>" : "<serial sequence>",
										format_type_be(col->typid), table, c));
		fill = "nextval(<sequence>)";
	}
	else if (needs_fill)
		fill = deparse_expression(col->fill_expr, NIL, false, false);

	steps = lappend(steps, psprintf("ALTER TABLE %s ADD COLUMN %s %s%s%s", table, c,
									format_type_with_typemod(col->typid, col->typmod),
									!needs_fill && col->raw_default ? " DEFAULT <as written>" : "",
									!needs_fill && col->not_null ? " NOT NULL" : ""));
	if (needs_fill && (col->raw_default || col->is_serial || col->identity))
		steps = lappend(steps, psprintf("ALTER TABLE %s ALTER COLUMN %s SET DEFAULT %s",
										table, c, fill));
	if (needs_fill && col->not_null && SG_NOT_NULL_CONSTRAINTS)
		steps = lappend(steps, psprintf("ALTER TABLE %s ADD CONSTRAINT <not null> NOT NULL %s NOT VALID", table, c));
	else if (needs_fill && col->not_null)
		steps = lappend(steps, psprintf("ALTER TABLE %s ADD CHECK (%s IS NOT NULL) NOT VALID", table, c));
	if (col->has_check)
		steps = lappend(steps, psprintf("ALTER TABLE %s ADD CONSTRAINT <check> CHECK (<as written>) NOT VALID", table));
	if (col->has_fk)
		steps = lappend(steps, psprintf("ALTER TABLE %s ADD CONSTRAINT <foreign key> FOREIGN KEY (%s) REFERENCES <as written> NOT VALID",
										table, c));
	if (needs_fill)
	{
		steps = lappend(steps, psprintf("CREATE TRIGGER fill BEFORE UPDATE ON %s (fills rows that predate %s)", table, c));
		steps = lappend(steps, psprintf("background: UPDATE %s SET %s = %s in batches, for rows that predate the column",
										table, c, fill));
	}
	/* in the order PostgreSQL's ALTER would meet them (see sg_phase_after) */
	if ((col->has_unique || col->has_pkey) && !needs_fill)
		steps = lappend(steps, psprintf("CREATE UNIQUE INDEX CONCURRENTLY <index> ON %s (%s)", table, c));
	if (needs_fill && col->not_null)
		steps = lappend(steps, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT <not null%s>", table,
										SG_NOT_NULL_CONSTRAINTS ? "" : " check"));
	if (col->has_check)
		steps = lappend(steps, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT <check>", table));
	if ((col->has_unique || col->has_pkey) && needs_fill)
		steps = lappend(steps, psprintf("CREATE UNIQUE INDEX CONCURRENTLY <index> ON %s (%s)", table, c));
	if (col->has_fk)
		steps = lappend(steps, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT <foreign key>", table));
	if (needs_fill && col->not_null && !SG_NOT_NULL_CONSTRAINTS)
	{
		steps = lappend(steps, psprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", table, c));
		steps = lappend(steps, psprintf("ALTER TABLE %s DROP CONSTRAINT <not null check>", table));
	}
	if (col->has_unique || col->has_pkey)
		steps = lappend(steps, psprintf("ALTER TABLE %s ADD CONSTRAINT <index> %s USING INDEX <index>",
										table, col->has_pkey ? "PRIMARY KEY" : "UNIQUE"));
	if (col->identity)
		steps = lappend(steps, psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT, ADD GENERATED %s AS IDENTITY, continuing the sequence",
										table, c, col->identity == ATTRIBUTE_IDENTITY_ALWAYS ? "ALWAYS" : "BY DEFAULT"));
	if (needs_fill)
		steps = lappend(steps, psprintf("DROP TRIGGER fill ON %s", table));
	if (needs_fill && sg_reindex)
		steps = lappend(steps, psprintf("REINDEX INDEX CONCURRENTLY, each index of %s", table));
	return steps;
}
