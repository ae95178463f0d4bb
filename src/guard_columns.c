/*-------------------------------------------------------------------------
 *
 * guard_columns.c
 *	  Other DDL on a job's columns and on its table's tree while the job
 *	  runs: what waits for the job, and what a new member of the tree gets.
 *
 * Once the plain ALTER is done, PostgreSQL accepts statements on the new
 * column that a job cannot keep exact while rows still lack their value:
 * SET NOT NULL (it needs every row filled), DROP NOT NULL of a column the
 * job makes NOT NULL or a primary key at its end, the identity
 * subcommands (the column becomes an identity column at the end), and
 * INHERIT into a table whose job has constraints of its own (the new child
 * would have to take them, and keep them).  Those are refused, naming the
 * job to wait for.  So are DROP NOT NULL, ALTER COLUMN TYPE and ADD
 * GENERATED AS IDENTITY of an existing column whose staged SET NOT NULL a
 * job has not finished.
 * ATTACH PARTITION works: the new partition gets the helper checks it
 * must have.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "guard_columns.h"
#include "job.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "util.h"

/*
 * ATTACH PARTITION demands that the new partition have every CHECK
 * constraint of its new parent, the helper checks of active jobs included:
 * give it them, NOT VALID, so the attach works as it would without the job.
 * A NOT NULL constraint (18) is not given: PostgreSQL demands it of the
 * partition after the plain ALTER too.
 */
void
sg_guard_attach_partition(RangeVar *parent_rv, RangeVar *part_rv)
{
	Oid			parent = RangeVarGetRelid(parent_rv, NoLock, true);
	Oid			part = RangeVarGetRelid(part_rv, NoLock, true);
	List	   *tables;
	ListCell   *lc;

	if (!OidIsValid(parent) || !OidIsValid(part))
		return;
	tables = lappend_oid(get_partition_ancestors(parent), parent);
	foreach(lc, tables)
	{
		List	   *jobs = sg_jobs_active_on(lfirst_oid(lc));
		ListCell   *jc;

		foreach(jc, jobs)
		{
			SgJob	   *job = sg_job_load(*(int64 *) lfirst(jc), true);
			ListCell   *cc;

			if (job == NULL || job->relid != lfirst_oid(lc))
				continue;
			foreach(cc, job->objects)
			{
				SgJobObject *obj = lfirst(cc);
				char	   *check = obj->kind == SG_OBJECT_HELPER_CHECK &&
					!sg_object_is_not_null(obj) ? sg_object_name(obj) : NULL;
				HeapTuple	tup;
				char	   *def;

				if (check == NULL ||
					OidIsValid(get_relation_constraint_oid(part, check, true)))
					continue;
				tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
				if (!HeapTupleIsValid(tup))
					continue;
				ReleaseSysCache(tup);
				def = TextDatumGetCString(DirectFunctionCall1(pg_get_constraintdef,
															  ObjectIdGetDatum(obj->objid)));
				sg_run_own_sql(psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s",
										sg_qualified_relname(part),
										quote_identifier(check), def));
			}
		}
	}
}

/*
 * The oldest active job on the table or, recursing, on any of its
 * children (or whose leaf one of them is) that adds a column of that name
 * (any column, for NULL); NULL if none.  *attnum is the column's, in the
 * job's table.
 */
static SgJob *
job_of_column(Oid relid, bool recurse, const char *colname, AttrNumber *attnum)
{
	List	   *rels = recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	ListCell   *lc;

	foreach(lc, sg_jobs_active_on(InvalidOid))
	{
		SgJob	   *job = sg_job_load(*(int64 *) lfirst(lc), true);
		bool		ours = false;
		ListCell   *cc;

		if (job == NULL)
			continue;
		foreach(cc, job->leaves)
			ours |= list_member_oid(rels, ((SgJobLeaf *) lfirst(cc))->relid);
		if (!ours && !list_member_oid(rels, job->relid))
			continue;
		if (colname == NULL)
			return job;
		foreach(cc, job->added_attnums)
		{
			char	   *name = sg_column_name(job->relid, (AttrNumber) lfirst_int(cc));

			*attnum = (AttrNumber) lfirst_int(cc);
			if (name != NULL && strcmp(name, colname) == 0)
				return job;
		}
	}
	return NULL;
}

/* Will the job make its column NOT NULL (or its primary key) when it ends? */
static bool
job_makes_not_null(SgJob *job, AttrNumber attnum)
{
	ListCell   *lc;

	foreach(lc, job->columns)
		if (((SgJobColumn *) lfirst(lc))->attnum == attnum &&
			((SgJobColumn *) lfirst(lc))->not_null)
			return true;
	foreach(lc, job->constraints)
		if (((SgJobConstraint *) lfirst(lc))->attnum == attnum &&
			((SgJobConstraint *) lfirst(lc))->kind == SG_CONSTRAINT_PRIMARY_KEY)
			return true;
	return false;
}

/*
 * What stock PostgreSQL accepts on a new column once its ALTER is done, but
 * a job cannot keep exact while it fills the column: refused, until the
 * job is done.
 */
void
sg_guard_column_change(AlterTableStmt *stmt, AlterTableCmd *cmd)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	AttrNumber	attnum = InvalidAttrNumber;
	const char *why;
	SgJob	   *job;

	if (!OidIsValid(relid) || cmd->name == NULL ||
		(job = job_of_column(relid, stmt->relation->inh, cmd->name, &attnum)) == NULL)
		return;
	if (cmd->subtype == AT_SetNotNull)
		why = "SET NOT NULL needs a value in every row, and the job has not filled the rows that predate the column yet.";
	else if (cmd->subtype == AT_DropNotNull)
	{
		if (!job_makes_not_null(job, attnum))
			return;				/* nothing to drop, as in PostgreSQL */
		why = "The job makes the column NOT NULL, or its primary key, when it ends, as the ALTER that added it asked.";
	}
	else
		why = "The column becomes what the ALTER that added it asked for (an identity column or not) only when the job ends.";
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("column \"%s\" of table \"%s\" is being added by schema_guard job %lld",
					cmd->name, get_rel_name(relid), (long long) job->job_id),
			 errdetail("%s", why),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld), then run the statement.",
					 (long long) job->job_id)));
}

/*
 * The oldest unfinished job on the table that works on its column attnum:
 * adds it, fills it, or has a constraint on it; with not_null_only, a
 * staged SET NOT NULL of it.  NULL if none.
 */
SgJob *
sg_job_of_table_column(Oid relid, AttrNumber attnum, bool not_null_only)
{
	ListCell   *lc;

	foreach(lc, sg_jobs_active_on(relid))
	{
		SgJob	   *job = sg_job_load(*(int64 *) lfirst(lc), true);
		ListCell   *cc;

		if (job == NULL || (not_null_only && !sg_job_sets_not_null(job)))
			continue;
		if (list_member_int(job->added_attnums, attnum))
			return job;
		foreach(cc, job->columns)
			if (((SgJobColumn *) lfirst(cc))->attnum == attnum)
				return job;
		foreach(cc, job->constraints)
			if (((SgJobConstraint *) lfirst(cc))->attnum == attnum)
				return job;
		foreach(cc, job->objects)
		{
			SgJobObject *obj = lfirst(cc);

			if (obj->relid == relid && sg_object_column(obj) == attnum &&
				(obj->kind == SG_OBJECT_HELPER_CHECK || !not_null_only))
				return job;
		}
	}
	return NULL;
}

/*
 * DROP NOT NULL, ALTER COLUMN TYPE or ADD GENERATED AS IDENTITY of a
 * column that a staged SET NOT NULL makes NOT NULL: after the plain SET
 * NOT NULL, PostgreSQL would drop the NOT NULL, keep it through the new
 * type, or make the NOT NULL column an identity column; here the job's
 * NOT VALID constraint would be dropped or rebuilt under the job, and an
 * identity column needs the column NOT NULL already.  Refused, naming the
 * job to wait for.
 */
void
sg_guard_not_null_column(AlterTableStmt *stmt, AlterTableCmd *cmd)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	AttrNumber	attnum;
	SgJob	   *job;

	if (!OidIsValid(relid) || cmd->name == NULL ||
		(attnum = get_attnum(relid, cmd->name)) == InvalidAttrNumber ||
		(job = sg_job_of_table_column(relid, attnum, true)) == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("column \"%s\" of table \"%s\" is being made NOT NULL by schema_guard job %lld",
					cmd->name, get_rel_name(relid), (long long) job->job_id),
			 cmd->subtype == AT_DropNotNull
			 ? errdetail("The job makes the column NOT NULL once it has checked the existing rows, as the ALTER that set it asked.")
			 : cmd->subtype == AT_AddIdentity
			 ? errdetail("An identity column must be NOT NULL, and the column is only once the job has checked the existing rows.")
			 : errdetail("Changing the column's type would rebuild the constraint that the job checks the existing rows with."),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld), or undo it with schema_guard.revert(%lld), then run the statement.",
					 (long long) job->job_id, (long long) job->job_id)));
}

/*
 * DROP NOT NULL, run as written (schema_guard.mode = off), of a column
 * whose staged SET NOT NULL is unfinished: the column is to end nullable,
 * as after the plain SET NOT NULL, so the job's helper check goes with its
 * NOT NULL (before 18 PostgreSQL would not find one to drop; an 18 NOT
 * NULL constraint it drops itself), and the job ends without it.
 */
void
sg_guard_not_null_dropped(AlterTableStmt *stmt, AlterTableCmd *cmd)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	AttrNumber	attnum;
	SgJob	   *job;
	ListCell   *lc;

	if (!OidIsValid(relid) || cmd->name == NULL ||
		(attnum = get_attnum(relid, cmd->name)) == InvalidAttrNumber ||
		(job = sg_job_of_table_column(relid, attnum, true)) == NULL)
		return;
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *sql;

		if (obj->kind == SG_OBJECT_HELPER_CHECK && obj->relid == relid &&
			sg_object_column(obj) == attnum && !sg_object_is_not_null(obj) &&
			(sql = sg_object_drop_sql(obj)) != NULL)
			sg_run_own_sql(sql);
	}
}

/*
 * INHERIT: the new parent's constraints must be the child's too, the
 * helper checks of its jobs included, which would then stay on the child.
 */
void
sg_guard_new_parent(RangeVar *parent_rv)
{
	Oid			parent = RangeVarGetRelid(parent_rv, NoLock, true);
	AttrNumber	attnum;
	SgJob	   *job;
	bool		has_helpers;
	ListCell   *lc;

	/* a job on the parent, or on an ancestor, whose tree the parent is in */
	if (!OidIsValid(parent) || (job = job_of_column(parent, false, NULL, &attnum)) == NULL)
		return;
	has_helpers = job->constraints != NIL || sg_job_sets_not_null(job);
	foreach(lc, job->columns)
		has_helpers |= ((SgJobColumn *) lfirst(lc))->check_name != NULL;
	if (!has_helpers)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("table \"%s\" has an active schema_guard job", get_rel_name(parent)),
			 errdetail("A new child must have the constraints of its parent, and job %lld still has constraints of its own there, which it drops or validates when it ends.",
					   (long long) job->job_id),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld), then run the statement.",
					 (long long) job->job_id)));
}

