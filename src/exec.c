/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  schema_guard's own statements on a user's table, in the worker.
 *
 * A statement runs as the table's owner of the moment (as VACUUM and
 * REINDEX run for a table), with the restrictions PostgreSQL applies to
 * maintenance on an owner's behalf, and is parsed under search_path =
 * pg_catalog, pg_temp: its names are qualified, and nobody's objects can
 * stand in for the ones it means.  A backfill batch runs under the ALTER's
 * settings as well, marked as the job's, so that fill_value() computes in
 * it; the values themselves are computed as the owner at the time of the
 * ALTER (fill.c).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "utils/guc.h"

#include "schema_guard.h"
#include "exec.h"
#include "fill.h"
#include "util.h"

/*
 * Run SQL against a user's table as role, with the restrictions PostgreSQL
 * applies to maintenance it runs on a table owner's behalf, and with
 * settings ("name=value") applied while it runs.  The statement itself
 * (schema_guard's own, names qualified) is parsed under a search_path of
 * pg_catalog alone, so nobody's objects can stand in for the ones it
 * means.  Returns SPI_processed.
 */
static int
exec_as(Oid role, const char *sql, bool read_only, List *settings)
{
	SgSavedRole saved;
	int			save_nestlevel;
	int			rc;
	uint64		processed;

	sg_spi_connect();
	save_nestlevel = sg_apply_settings(settings, "pg_catalog, pg_temp");
	sg_switch_role(role, SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS, &saved);
	PG_TRY();
	{
		pgstat_report_activity(STATE_RUNNING, sql);
		rc = SPI_execute(sql, read_only, 0);
		if (rc < 0)
			elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
		processed = SPI_processed;
	}
	PG_FINALLY();
	{
		sg_restore_role(&saved);
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);
	sg_spi_finish();
	return (int) processed;
}

/*
 * The role that runs schema_guard's statements on a job's table: its owner
 * now, as for VACUUM or REINDEX.  (The values themselves are computed as
 * the owner at the time of the ALTER: fill.c.)
 */
Oid
sg_job_table_owner(SgJob *job)
{
	Oid			owner = sg_rel_owner(job->relid);

	return OidIsValid(owner) ? owner : job->role;
}

int
sg_exec_as_owner(SgJob *job, const char *sql, bool read_only)
{
	return exec_as(sg_job_table_owner(job), sql, read_only, NIL);
}

/*
 * Run one of the job's batches: as the table's owner, under the ALTER's
 * settings, marked as the job's, so that fill_value() computes in it.
 */
int
sg_exec_batch(SgJob *job, const char *sql)
{
	volatile int processed = 0;

	sg_set_filling_job(job->job_id);
	PG_TRY();
	{
		processed = exec_as(sg_job_table_owner(job), sql, false, job->settings);
	}
	PG_FINALLY();
	{
		sg_set_filling_job(0);
	}
	PG_END_TRY();
	return processed;
}

