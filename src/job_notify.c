/*-------------------------------------------------------------------------
 *
 * job_notify.c
 *	  A job's state, told to the sessions that listen for it, and the
 *	  SQLSTATE it failed with.
 *
 * Every change of a job's state (running, paused, failed, cancelled,
 * reverted, done, queued again by resume() or retry()) is notified on
 * channel "schema_guard", in the transaction that makes it, so listeners
 * hear of it at its commit.  Not the job's creation: the staged statement's
 * transaction must stay one that PREPARE TRANSACTION accepts; the worker's
 * "running" tells of it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

#include "schema_guard.h"
#include "job_catalog.h"
#include "job_notify.h"
#include "util.h"

/*
 * Tell the sessions that LISTEN on channel "schema_guard" the job's state,
 * at commit: {"job": 7, "table": "public.orders", "state": "failed",
 * "phase": "index", "sqlstate": "23505"} (sqlstate null but for a failure).
 */
void
sg_job_notify_state(int64 job_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];

	values[0] = Int64GetDatum(job_id);
	sg_spi_connect();
	sg_catalog_exec("SELECT pg_catalog.pg_notify('" SG_NOTIFY_CHANNEL "', "
					"pg_catalog.json_build_object('job', j.job_id, "
					"'table', CASE WHEN c.oid IS NULL THEN j.relid::oid::text "
					"ELSE pg_catalog.format('%I.%I', n.nspname, c.relname) END, "
					"'state', j.state, 'phase', j.phase, 'sqlstate', j.error_sqlstate)::text) "
					"FROM schema_guard.jobs j "
					"LEFT JOIN pg_catalog.pg_class c ON c.oid = j.relid "
					"LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
					"WHERE j.job_id = $1",
					1, types, values, NULL, false);
	sg_spi_finish();
}

/* The SQLSTATE of the error a job is about to fail with, as five characters. */
void
sg_job_set_sqlstate(int64 job_id, int sqlerrcode)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(unpack_sql_state(sqlerrcode));
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.jobs SET error_sqlstate = $2 WHERE job_id = $1",
					2, types, values, NULL, false);
	sg_spi_finish();
}
