/*-------------------------------------------------------------------------
 *
 * bind.c
 *	  Where a job's references are valid, and binding a job again where
 *	  they are not.
 *
 * A job refers to objects by OID: its fill expressions' functions, its
 * triggers, checks, constraints and indexes.  OIDs are valid in the
 * cluster, database and server version the job was made in, which the job
 * records (bound_to).  pg_upgrade and a restore keep the tables (by name),
 * the job rows and the objects, but not their OIDs, nor the format of
 * stored node trees across versions: there the worker binds the job again
 * by name, before it does anything else, as a restored column default is
 * bound by name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "bind.h"
#include "fill.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "util.h"

/* Where a job's references are valid: this cluster, database, major version. */
char *
sg_cluster_binding(void)
{
	return psprintf("%llu:%u:%d", (unsigned long long) GetSystemIdentifier(),
					MyDatabaseId, PG_VERSION_NUM / 10000);
}

/* Is the job bound where it runs now? */
bool
sg_job_is_bound(const SgJob *job)
{
	return job->bound_to != NULL && strcmp(job->bound_to, sg_cluster_binding()) == 0;
}

static void
rebind_error_callback(void *arg)
{
	errcontext("schema_guard binding job %lld in this cluster", (long long) *(int64 *) arg);
}

/*
 * Bind a job that pg_upgrade or a restore carried here: find its objects by
 * table and name, make again an index the dump left out (a dump leaves out
 * invalid indexes), bind its fill expressions by name as a restored column
 * default is bound, and record all that.  What cannot be found fails the
 * job, loudly: it is never filled by objects other than the ALTER's.
 */
void
sg_job_rebind(SgJob *job)
{
	ErrorContextCallback errcallback;
	SgJobObject *trigger = NULL;
	ListCell   *lc;

	errcallback.callback = rebind_error_callback;
	errcallback.arg = &job->job_id;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		Oid			found = sg_object_find_by_name(job, obj);

		if (!OidIsValid(found) && obj->kind == SG_OBJECT_INDEX && obj->definition)
			found = sg_reserve_index(obj->relid, obj->definition);
		if (!OidIsValid(found))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("schema_guard job %lld cannot find its %s \"%s\" of table %s",
							(long long) job->job_id, sg_object_kind_name(obj->kind), obj->name,
							sg_qualified_relname(obj->relid)),
					 errdetail("The job was carried to this cluster or database by pg_upgrade or a restore, without it."),
					 errhint("Check the job's columns for NULLs; cancel or revert the job.")));
		obj->objid = found;
		if (obj->kind == SG_OBJECT_FILL_TRIGGER && obj->relid == job->relid)
			trigger = obj;
	}
	sg_job_add_objects(job, job->objects);
	if (job->columns != NIL)
	{
		Relation	rel = relation_open(job->relid, AccessShareLock);
		SgFillEnv	env = {job->role, job->search_path, job->settings, job->job_id};

		foreach(lc, job->columns)
		{
			SgJobColumn *col = lfirst(lc);
			/* as the job's role: cooking a literal of a domain runs its checks */
			Node	   *expr = sg_fill_rebind(rel, col->fill_sql, col->atttype,
											  col->atttypmod, col->colname, &env);

			col->fill_node = nodeToString(expr);
			sg_job_set_fill_node(job->job_id, col->attnum, col->fill_node);
			if (trigger)
				sg_fill_record_dependencies(trigger->objid, expr);
		}
		relation_close(rel, AccessShareLock);
	}
	error_context_stack = errcallback.previous;
	job->bound_to = sg_cluster_binding();
	sg_job_set_binding(job->job_id, job->bound_to);
	sg_job_event(job->job_id, "bound",
				 "carried to this cluster or database: its objects and fill expressions were found again by name");
	/* sessions that cached the job read it again */
	CacheInvalidateRelcacheByRelid(get_relname_relid("jobs", get_namespace_oid(SG_SCHEMA_NAME, false)));
}
