/*-------------------------------------------------------------------------
 *
 * integrity.c
 *	  What a sound job is: the rules that keep it truthful.
 *
 * A job is only right while
 *	- every table that stores its rows is still in its tree;
 *	- each of those tables has its fill trigger, as schema_guard made it
 *	  (BEFORE UPDATE for each row, the job's argument, no WHEN, no column
 *	  list), enabled ALWAYS, and after every other BEFORE UPDATE row
 *	  trigger, so that it judges the final row; and no other trigger calls
 *	  the fill function for the job;
 *	- its helper checks are still CHECK (c IS NOT NULL) on its table, its
 *	  NOT VALID constraints and reserved indexes exist, and a staged
 *	  identity column keeps its staging sequence's default.
 * The guard (after each DDL statement) and the worker (at each step) hold
 * every unfinished job to these rules; rewrites are the backfill's to see.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "nodes/primnodes.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "bind.h"
#include "integrity.h"
#include "job.h"
#include "job_objects.h"
#include "util.h"


/* The job a trigger's single argument names, or 0. */
static int64
trigger_job_argument(Trigger *tg)
{
	char	   *end;
	int64		job_id;

	if (tg->tgnargs != 1)
		return 0;
	errno = 0;
	job_id = strtoi64(tg->tgargs[0], &end, 10);
	return errno == 0 && end != tg->tgargs[0] && *end == '\0' ? job_id : 0;
}

/* Is the trigger schema_guard's fill trigger for this job, as made? */
static bool
is_intact_fill_trigger(Trigger *tg, int64 job_id, Oid fill_fn)
{
	return tg->tgfoid == fill_fn &&
		tg->tgtype == (TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_UPDATE) &&
		tg->tgnattr == 0 && tg->tgqual == NULL && trigger_job_argument(tg) == job_id;
}

/* Is the trigger one the job made, or a partition's clone of one? */
static bool
is_jobs_own_trigger(SgJob *job, Oid tgoid)
{
	List	   *made = NIL;
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == SG_OBJECT_FILL_TRIGGER)
			made = lappend_oid(made, obj->objid);
	}
	return sg_trigger_descends_from(tgoid, made);
}

/*
 * Does every table that stores the job's rows have the job's fill trigger,
 * intact, enabled ALWAYS, and after every other BEFORE UPDATE row trigger?
 */
static char *
leaf_trigger_problem(SgJob *job, Oid leafid, Oid fill_fn)
{
	Relation	rel = relation_open(leafid, AccessShareLock);
	TriggerDesc *desc = rel->trigdesc;
	char	   *problem = NULL;
	int			ours = -1;
	int			i;

	for (i = 0; desc && i < desc->numtriggers && problem == NULL; i++)
	{
		Trigger    *tg = &desc->triggers[i];

		if (tg->tgfoid == fill_fn && trigger_job_argument(tg) == job->job_id)
		{
			if (!is_jobs_own_trigger(job, tg->tgoid))
				problem = psprintf("trigger \"%s\" of table \"%s\" calls schema_guard.fill_trigger() for the job, but schema_guard did not make it",
								   tg->tgname, RelationGetRelationName(rel));
			else if (!is_intact_fill_trigger(tg, job->job_id, fill_fn))
				problem = psprintf("the fill trigger \"%s\" of table \"%s\" is no longer the one schema_guard made",
								   tg->tgname, RelationGetRelationName(rel));
			else if (tg->tgenabled != TRIGGER_FIRES_ALWAYS)
				problem = psprintf("the fill trigger \"%s\" of table \"%s\" no longer fires always",
								   tg->tgname, RelationGetRelationName(rel));
			ours = i;
		}
		else if (ours >= 0 && tg->tgfoid != fill_fn &&
				 tg->tgenabled != TRIGGER_DISABLED &&
				 TRIGGER_FOR_ROW(tg->tgtype) && TRIGGER_FOR_BEFORE(tg->tgtype) &&
				 TRIGGER_FOR_UPDATE(tg->tgtype))
			problem = psprintf("trigger \"%s\" of table \"%s\" would fire after the fill trigger, "
							   "which must see the final row",
							   tg->tgname, RelationGetRelationName(rel));
	}
	if (ours < 0 && problem == NULL)
		problem = psprintf("table \"%s\" has lost the job's fill trigger",
						   RelationGetRelationName(rel));
	relation_close(rel, AccessShareLock);
	return problem;
}

/* Is the helper check still CHECK (column IS NOT NULL) on the job's table? */
static char *
helper_check_problem(SgJob *job, SgJobObject *obj, SgJobColumn *col)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
	Form_pg_constraint con;
	bool		intact = false;
	Datum		bin;
	bool		isnull;

	if (!HeapTupleIsValid(tup))
		return psprintf("the helper check \"%s\" of table \"%s\" was dropped",
						obj->name, get_rel_name(job->relid));
	con = (Form_pg_constraint) GETSTRUCT(tup);
	bin = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conbin, &isnull);
	if (con->conrelid == job->relid && con->contype == CONSTRAINT_CHECK &&
		!con->connoinherit && !isnull)
	{
		Node	   *expr = stringToNode(TextDatumGetCString(bin));

		intact = IsA(expr, NullTest) && ((NullTest *) expr)->nulltesttype == IS_NOT_NULL &&
			IsA(((NullTest *) expr)->arg, Var) &&
			((Var *) ((NullTest *) expr)->arg)->varattno == col->attnum;
	}
	ReleaseSysCache(tup);
	return intact ? NULL
		: psprintf("the helper check \"%s\" of table \"%s\" is no longer the one schema_guard made",
				   obj->name, get_rel_name(job->relid));
}

/* A staged identity column must keep its staging sequence's default. */
static char *
identity_default_problem(SgJob *job, SgJobColumn *col)
{
	Relation	rel;
	Node	   *current;
	char	   *problem = NULL;

	if (!col->identity || sg_column_name(job->relid, col->attnum) == NULL)
		return NULL;
	rel = relation_open(job->relid, AccessShareLock);
	current = build_column_default(rel, col->attnum);
	if (current == NULL || !equal(current, stringToNode(col->fill_node)))
		problem = psprintf("the default of column \"%s\", an identity column once the job is done, was changed",
						   col->colname);
	relation_close(rel, AccessShareLock);
	return problem;
}

/*
 * What, if anything, is wrong with an unfinished job: the rules in this
 * file's header.  NULL when the job is sound, or when it has nothing left
 * to protect (its table or columns are gone: the worker ends it), or when
 * it is not bound here yet (the worker binds it first).
 */
char *
sg_job_integrity_problem(SgJob *job)
{
	List	   *tree;
	ListCell   *lc;
	Oid			fill_fn;
	bool		fills = false;

	if (get_rel_name(job->relid) == NULL || !sg_job_is_bound(job))
		return NULL;
	foreach(lc, job->columns)
		fills |= sg_column_name(job->relid, ((SgJobColumn *) lfirst(lc))->attnum) != NULL;
	tree = find_all_inheritors(job->relid, NoLock, NULL);
	fill_fn = sg_fill_trigger_function();
	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		char	   *problem;

		if (get_rel_name(leaf->relid) == NULL)
			continue;			/* dropped: its rows are gone */
		if (!list_member_oid(tree, leaf->relid))
			return psprintf("table \"%s\" is no longer part of table \"%s\"",
							get_rel_name(leaf->relid), get_rel_name(job->relid));
		if (fills && job->phase != SG_PHASE_DONE &&
			(problem = leaf_trigger_problem(job, leaf->relid, fill_fn)) != NULL)
			return problem;
	}
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		SgJobObject *obj;
		char	   *problem;

		if (sg_column_name(job->relid, col->attnum) == NULL)
			continue;
		if (col->check_name &&
			(obj = sg_job_object(job, SG_OBJECT_HELPER_CHECK, job->relid, col->check_name)) != NULL &&
			(problem = helper_check_problem(job, obj, col)) != NULL)
			return problem;
		if ((problem = identity_default_problem(job, col)) != NULL)
			return problem;
	}
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *name;

		if (get_rel_name(obj->relid) == NULL)
			continue;
		/* (the job of a CREATE INDEX or ADD CONSTRAINT just ends without them) */
		if (obj->kind == SG_OBJECT_CONSTRAINT && sg_object_name(obj) == NULL &&
			sg_job_adds_columns(job))
			return psprintf("the constraint \"%s\" of table \"%s\" that the job validates was dropped",
							obj->name, get_rel_name(obj->relid));
		if (obj->kind == SG_OBJECT_INDEX && sg_index_of(obj->objid) != obj->relid &&
			sg_job_adds_columns(job))
			return psprintf("the index \"%s\" of table \"%s\" that the job builds was dropped",
							obj->name, get_rel_name(obj->relid));
		if (obj->kind == SG_OBJECT_FILL_TRIGGER &&
			(name = sg_object_name(obj)) != NULL && strcmp(name, obj->name) != 0)
			return psprintf("the fill trigger \"%s\" of table \"%s\" was renamed, which changes when it fires",
							obj->name, get_rel_name(obj->relid));
	}
	return NULL;
}

/*
 * The job's problem, if it still has one when read afresh: the job was
 * read with the statement's snapshot, the catalogs with a newer one, and
 * a job that its worker finished meanwhile (dropping its fill trigger in
 * the same transaction) must not look broken.
 */
char *
sg_job_problem_now(SgJob *job)
{
	char	   *problem = sg_job_integrity_problem(job);
	SgJob	   *fresh;

	if (problem == NULL)
		return NULL;
	PushActiveSnapshot(GetLatestSnapshot());
	fresh = sg_job_load(job->job_id, true);
	PopActiveSnapshot();
	if (fresh == NULL || fresh->state == SG_STATE_DONE ||
		fresh->state == SG_STATE_CANCELLED || fresh->state == SG_STATE_REVERTED)
		return NULL;
	return sg_job_integrity_problem(fresh);
}

