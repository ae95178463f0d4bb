/*-------------------------------------------------------------------------
 *
 * job_lookup.c
 *	  Which jobs: the unfinished ones on a table or in the database, the
 *	  next one to run, what a job has recorded for a table now.
 *
 * Every query reads the job catalog through job_catalog.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/memutils.h"

#include "schema_guard.h"
#include "job.h"
#include "job_catalog.h"
#include "job_lookup.h"
#include "util.h"

/* The oldest unfinished job filling this table (or leaf), 0 if none. */
int64
sg_job_active_on(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int64		job_id = 0;
	bool		isnull;

	sg_spi_connect();
	sg_catalog_exec("SELECT j.job_id FROM schema_guard.jobs j "
				 "WHERE j.state NOT IN ('done', 'cancelled', 'reverted') "
				 "AND (j.relid = $1 OR EXISTS (SELECT 1 FROM schema_guard.job_leaves l "
				 "                             WHERE l.job_id = j.job_id AND l.relid = $1)) "
				 "ORDER BY j.job_id LIMIT 1",
				 1, types, values, NULL, true);
	if (SPI_processed == 1)
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	sg_spi_finish();
	return job_id;
}

/*
 * The file a job has recorded for a leaf, read with a snapshot of now (a
 * commit that happened while the caller waited for a lock is seen).
 */
Oid
sg_job_leaf_file(int64 job_id, Oid relid)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	Oid			file = InvalidOid;
	bool		isnull;

	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(relid);
	sg_spi_connect();
	/* not read-only: SPI takes a new snapshot for the statement */
	sg_catalog_exec("SELECT relfilenode FROM schema_guard.job_leaves WHERE job_id = $1 AND relid = $2",
				 2, types, values, NULL, false);
	if (SPI_processed == 1)
		file = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	sg_spi_finish();
	return file;
}

/* The oldest job that is queued or running, 0 if none. */
int64
sg_job_next_runnable(void)
{
	int64		job_id = 0;
	bool		isnull;

	sg_spi_connect();
	sg_catalog_exec("SELECT job_id FROM schema_guard.jobs "
				 "WHERE state IN ('queued', 'running') ORDER BY job_id LIMIT 1",
				 0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	sg_spi_finish();
	return job_id;
}

/* The oldest unfinished job in this database, and its table; 0 if none. */
int64
sg_job_any_active(Oid *relid)
{
	int64		job_id = 0;
	bool		isnull;

	sg_spi_connect();
	sg_catalog_exec("SELECT job_id, relid::oid FROM schema_guard.jobs "
				 "WHERE state NOT IN ('done', 'cancelled', 'reverted') ORDER BY job_id LIMIT 1",
				 0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
	{
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
		*relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
	}
	sg_spi_finish();
	return job_id;
}

/* Ids of the unfinished jobs on a table (every table: InvalidOid), oldest first. */
List *
sg_jobs_active_on(Oid relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *ids = NIL;
	uint64		i;

	sg_spi_connect();
	sg_catalog_exec("SELECT job_id FROM schema_guard.jobs WHERE (relid = $1 OR $1 = 0) "
				 "AND state NOT IN ('done', 'cancelled', 'reverted') ORDER BY job_id",
				 1, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(cxt);
		int64	   *p = palloc(sizeof(int64));

		*p = id;
		ids = lappend(ids, p);
		MemoryContextSwitchTo(old);
	}
	sg_spi_finish();
	return ids;
}

/* Is the job's row one this transaction wrote (not visible to the worker)? */
bool
sg_job_created_here(int64 job_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};
	bool		mine = false;

	sg_spi_connect();
	sg_catalog_exec("SELECT xmin::text::pg_catalog.int8 FROM schema_guard.jobs WHERE job_id = $1",
					1, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		bool		isnull;
		int64		xmin = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1, &isnull));

		mine = TransactionIdIsCurrentTransactionId((TransactionId) xmin);
	}
	sg_spi_finish();
	return mine;
}

