/*-------------------------------------------------------------------------
 *
 * job_warmup.c
 *	  Before the ALTER's table lock: load what recording a job needs, so
 *	  the application does not wait for it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "job.h"
#include "job_catalog.h"
#include "job_warmup.h"
#include "util.h"

/*
 * Record a made-up job, with a row in every job table: the first execution
 * of a statement plans it and loads what its executor needs (the tables,
 * their indexes and constraints, operator lookups).  The caller rolls it
 * back.
 */
static void
rehearse_job_insert(void)
{
	SgJob	   *job = palloc0(sizeof(SgJob));
	SgJobColumn *col = palloc0(sizeof(SgJobColumn));
	SgJobLeaf  *leaf = palloc0(sizeof(SgJobLeaf));
	SgJobConstraint *con = palloc0(sizeof(SgJobConstraint));
	SgJobObject *obj = palloc0(sizeof(SgJobObject));

	job->job_id = -1;			/* never a real job's */
	job->relid = RelationRelationId;
	job->role = GetUserId();
	job->statement = job->search_path = job->trigger_name = job->bound_to = "";
	col->colname = col->fill_expr = col->fill_sql = col->fill_node = "";
	col->atttype = INT4OID;
	col->kind = "default";
	job->columns = list_make1(col);
	leaf->relid = RelationRelationId;
	leaf->pass = 1;
	job->leaves = list_make1(leaf);
	con->conname = "";
	con->kind = SG_CONSTRAINT_CHECK;
	job->constraints = list_make1(con);
	obj->kind = SG_OBJECT_CONSTRAINT;
	obj->relid = RelationRelationId;
	obj->name = "";
	job->objects = list_make1(obj);
	sg_job_insert(job);
}

/* Load one relation's cache entry and those of its indexes. */
static void
warm_relation(Oid relid)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);
	List	   *indexes;
	ListCell   *lc;

	if (rel == NULL)
		return;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
		index_close(index_open(lfirst_oid(lc), AccessShareLock), AccessShareLock);
	list_free(indexes);
	relation_close(rel, AccessShareLock);
}

static void
warm_caches_now(void)
{
	static const Oid catalogs[] = {
		TriggerRelationId, ConstraintRelationId, DependRelationId,
		AttrDefaultRelationId, SequenceRelationId, InheritsRelationId
	};
	int			i;

	for (i = 0; i < lengthof(catalogs); i++)
		warm_relation(catalogs[i]);
	/* the one statement the rehearsal leaves out: it would use up a job id */
	warm_relation(get_relname_relid("jobs_job_id_seq",
									get_namespace_oid(SG_SCHEMA_NAME, false)));
	sg_spi_connect();
	sg_catalog_prepare(SG_NEXT_JOB_ID_SQL, 0, NULL);
	sg_spi_finish();
	rehearse_job_insert();
}

/*
 * Load the cache entries a staged ALTER needs besides the table's own: the
 * system catalogs staging writes to, and the job catalog with the plans
 * and executor state of the statements that record a job.  A session's first
 * staged ALTER would otherwise build them while it holds the table's
 * ACCESS EXCLUSIVE lock, which is more work than the staging itself; called
 * before the lock is taken, this moves that work out of the time the
 * application waits (on a 2-core machine, a fresh session's staging under
 * the lock went from 4.5-7.5 ms to 2.7-4.5 ms).  Once per backend: what it loads stays loaded, or is rebuilt
 * after an invalidation at a fraction of the cost.
 *
 * It all runs in a subtransaction rolled back at the end, so that nothing
 * it writes stays.  It is only an optimization: an error (a job catalog
 * from another version of the extension, say) is dropped, unless it is a
 * cancel or shutdown, and the ALTER goes on to meet whatever it means.
 */
static void
warm_caches_cb(void *arg)
{
	warm_caches_now();
}

void
sg_warm_caches(void)
{
	static bool warmed = false;
	ErrorData  *edata;

	/* where the ALTER cannot write, it fails with its own error */
	if (warmed || XactReadOnly || RecoveryInProgress())
		return;
	warmed = true;

	edata = sg_in_subxact(warm_caches_cb, NULL, false);
	if (edata == NULL)
		return;
	if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);
	ereport(DEBUG1,
			(errmsg_internal("schema_guard could not load its caches ahead: %s",
							 edata->message)));
	FreeErrorData(edata);
}
