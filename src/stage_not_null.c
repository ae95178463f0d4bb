/*-------------------------------------------------------------------------
 *
 * stage_not_null.c
 *	  ALTER TABLE ... ALTER COLUMN c SET NOT NULL of an existing column,
 *	  staged: in the user's transaction the column gets the NOT VALID
 *	  constraint that stands for a NOT NULL (stage_constraints.c: before
 *	  18 the helper CHECK (c IS NOT NULL), on 18 the NOT NULL constraint
 *	  itself, under the name PostgreSQL gives it), which rejects a NULL
 *	  from then on; a job validates it once the transaction commits
 *	  (VALIDATE CONSTRAINT blocks neither reads nor writes), and then, in
 *	  one short lock-bounded step, sets NOT NULL, which the validated
 *	  check proves without a scan, and drops the helper (finalize.c).
 *
 * The finished table is the plain statement's.  A NULL in the table fails
 * the job with PostgreSQL's error and SQLSTATE (23502, "column ... contains
 * null values"); the helper stays for retry(), revert() drops it.  Only a
 * statement whose every subcommand is such a SET NOT NULL is staged, all
 * of them as one job, on a table without inheritance children, of columns
 * that are not NOT NULL yet and that no unfinished job works on, while no
 * job fills rows of the table (its backfill would meet the helpers).
 *
 * On a partitioned table the constraint is the parent's, and so every
 * partition's (inherited, as PostgreSQL gives it): VALIDATE CONSTRAINT on
 * the parent checks every leaf, SET NOT NULL on the parent sets every
 * partition's column, each proven by its validated copy, and dropping the
 * helper from the parent drops the copies.  A partition detached meanwhile
 * would keep its copy: the guard refuses DETACH PARTITION while the job
 * runs (guard.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "commands/tablecmds.h"
#include "nodes/makefuncs.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "classify_column.h"
#include "guard_columns.h"
#include "job.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "stage.h"
#include "stage_constraints.h"
#include "stage_not_null.h"
#include "stage_not_valid.h"

/*
 * Would SET NOT NULL scan the table for the column, and can a job take it
 * over?  Not for a column PostgreSQL rejects (let it say so), one that is
 * NOT NULL already (nothing to scan; on 18 also one with a NOT VALID NOT
 * NULL, which the plain statement validates), a virtual generated column
 * (18), or one an unfinished job works on.
 */
bool
sg_not_null_column_stageable(Relation rel, const char *colname)
{
	HeapTuple	tup = SearchSysCacheAttName(RelationGetRelid(rel), colname);
	Form_pg_attribute att;
	bool		ok;

	if (!HeapTupleIsValid(tup))
		return false;
	att = (Form_pg_attribute) GETSTRUCT(tup);
	ok = att->attnum > 0 && !att->attnotnull && !SG_ATTR_IS_VIRTUAL(att) &&
		sg_job_of_table_column(RelationGetRelid(rel), att->attnum, false) == NULL;
	ReleaseSysCache(tup);
	return ok;
}

/* Does an unfinished job fill rows of the table, its own or its tree's? */
bool
sg_rows_being_filled(Oid relid)
{
	int64		oldest = sg_job_active_on(relid);
	SgJob	   *job;
	ListCell   *lc;

	if (oldest == 0)
		return false;
	foreach(lc, sg_jobs_active_on(relid))
	{
		job = sg_job_load(*(int64 *) lfirst(lc), true);
		if (job != NULL && job->leaves != NIL)
			return true;
	}
	/* a leaf of another table's job */
	job = sg_job_load(oldest, true);
	return job != NULL && job->relid != relid;
}

/*
 * A partitioned table whose every partition a job can take over with it:
 * the statement recurses (it cannot do otherwise), every partition stores
 * its rows here (no foreign table) and belongs to the table's owner, as
 * whom the job runs.
 */
static bool
tree_stageable(AlterTableStmt *stmt, Relation rel)
{
	return stmt->relation->inh && sg_other_owner(rel) == NULL &&
		sg_tree_stores_rows_here(rel);
}

/*
 * Is every subcommand a SET NOT NULL of an existing column that the plain
 * statement would scan rel for (every partition of a partitioned table),
 * and can a job take them over?
 */
bool
sg_not_null_stageable(AlterTableStmt *stmt, Relation rel)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE || stmt->cmds == NIL)
		return false;
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
	{
		if (!tree_stageable(stmt, rel))
			return false;
	}
	else if (rel->rd_rel->relkind != RELKIND_RELATION ||
			 find_inheritance_children(RelationGetRelid(rel), NoLock) != NIL)
		return false;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype != AT_SetNotNull || cmd->name == NULL ||
			!sg_not_null_column_stageable(rel, cmd->name))
			return false;
	}
	return !sg_rows_being_filled(RelationGetRelid(rel));
}

/*
 * The statement to run instead: for each column (once, however often the
 * statement names it), its NOT VALID constraint, named as the job's helper
 * (before 18) or as the plain SET NOT NULL names it (18).  *jobp is the
 * job that finishes them, recorded by sg_stage_not_null_end.
 */
AlterTableStmt *
sg_stage_not_null_begin(AlterTableStmt *stmt, Relation rel, const char *statement,
						SgJob **jobp)
{
	AlterTableStmt *copy = copyObject(stmt);
	SgJob	   *job = sg_statement_job(RelationGetRelid(rel), statement);
	List	   *cmds = NIL;
	List	   *columns = NIL;
	List	   *chosen = NIL;
	ListCell   *lc;

	foreach(lc, copy->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		char	   *name;

		if (list_member(columns, makeString(cmd->name)))
			continue;
		columns = lappend(columns, makeString(cmd->name));
		name = sg_not_null_constraint_name(rel, cmd->name, NULL, job->job_id, &chosen);
		cmds = lappend(cmds, sg_not_null_constraint_cmd(cmd->name, name, false));
		job->objects = lappend(job->objects,
							   sg_new_object(SG_OBJECT_HELPER_CHECK, RelationGetRelid(rel),
											 name, InvalidOid));
	}
	copy->cmds = cmds;
	*jobp = job;
	return copy;
}

/* After the statement ran: the job, with the constraints it made. */
void
sg_stage_not_null_end(SgJob *job)
{
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		obj->objid = get_relation_constraint_oid(obj->relid, obj->name, false);
	}
	sg_stage_job(job, psprintf("ALTER TABLE \"%s\"", get_rel_name(job->relid)),
				 "The column rejects NULL from now on; the existing rows are checked in the background once this transaction commits, and the column is made NOT NULL then.");
}

/*
 * The columns of a staged primary key that the plain statement makes NOT
 * NULL (with a scan), staged in the key's job as a staged SET NOT NULL
 * stages its own: their NOT VALID constraints, named as
 * sg_stage_not_null_begin names them, added now by an ALTER TABLE whose
 * subcommands users' event triggers see as the statement's.  The job
 * validates them, and sets the columns NOT NULL before it adds the key
 * (finalize.c).  The caller holds the statement's ACCESS EXCLUSIVE lock.
 */
void
sg_stage_not_null_columns(SgJob *job, RangeVar *relation, List *colnames,
						  PlannedStmt *pstmt, const char *queryString)
{
	Relation	rel = relation_open(job->relid, NoLock);
	AlterTableStmt *helpers = makeNode(AlterTableStmt);
	AlterTableUtilityContext atcontext;
	List	   *chosen = NIL;
	List	   *made = NIL;
	ListCell   *lc;

	foreach(lc, colnames)
	{
		char	   *colname = strVal(lfirst(lc));
		char	   *name = sg_not_null_constraint_name(rel, colname, NULL, job->job_id, &chosen);

		helpers->cmds = lappend(helpers->cmds, sg_not_null_constraint_cmd(colname, name, false));
		made = lappend(made, name);
	}
	relation_close(rel, NoLock);
	helpers->relation = copyObject(relation);
	helpers->objtype = OBJECT_TABLE;
	memset(&atcontext, 0, sizeof(atcontext));
	atcontext.pstmt = pstmt;
	atcontext.queryString = queryString;
	atcontext.relid = job->relid;
	AlterTable(helpers, AccessExclusiveLock, &atcontext);
	CommandCounterIncrement();
	foreach(lc, made)
		job->objects = lappend(job->objects,
							   sg_new_object(SG_OBJECT_HELPER_CHECK, job->relid, lfirst(lc),
											 get_relation_constraint_oid(job->relid, lfirst(lc), false)));
}

/*
 * The steps of a staged SET NOT NULL of one column, as text for explain().
 * They mirror what this file and finalize.c do.
 */
List *
sg_describe_not_null_steps(Relation rel, const char *colname)
{
	const char *table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel));
	const char *c = quote_identifier(colname);

	if (SG_NOT_NULL_CONSTRAINTS)
		return list_make2(psprintf("ALTER TABLE %s ADD CONSTRAINT <not null> NOT NULL %s NOT VALID: it rejects NULL at once",
								   table, c),
						  psprintf("background, once the transaction commits: ALTER TABLE %s VALIDATE CONSTRAINT <not null> (blocks neither reads nor writes)",
								   table));
	return list_make3(psprintf("ALTER TABLE %s ADD CONSTRAINT <not null check> CHECK (%s IS NOT NULL) NOT VALID: it rejects NULL at once",
							   table, c),
					  psprintf("background, once the transaction commits: ALTER TABLE %s VALIDATE CONSTRAINT <not null check> (blocks neither reads nor writes)",
							   table),
					  psprintf("background, under a bounded lock: ALTER TABLE %s ALTER COLUMN %s SET NOT NULL (proven by the check: no scan), DROP CONSTRAINT <not null check>",
							   table, c));
}
