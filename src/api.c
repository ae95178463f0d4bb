/*-------------------------------------------------------------------------
 *
 * api.c
 *	  SQL functions to watch and steer jobs: pause, resume, cancel, revert,
 *	  retry, wait, and the workers' live state for the progress view.
 *
 * Control functions check that the caller owns the job's table (or is
 * superuser), run any DDL on the table as the caller, and write the job
 * catalog as the extension's owner.  DDL comes before the job row is
 * touched, so the caller queues for the table lock (behind a batch in
 * flight) before it holds the job row the worker also updates.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_guard.h"
#include "guard.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "launcher.h"
#include "worker.h"

PG_FUNCTION_INFO_V1(sg_pause_v1);
PG_FUNCTION_INFO_V1(sg_resume_v1);
PG_FUNCTION_INFO_V1(sg_cancel_v1);
PG_FUNCTION_INFO_V1(sg_revert_v1);
PG_FUNCTION_INFO_V1(sg_retry_v1);
PG_FUNCTION_INFO_V1(sg_wait_v1);
PG_FUNCTION_INFO_V1(sg_worker_status);
PG_FUNCTION_INFO_V1(sg_set_batch_v1);

/*
 * An interval in microseconds, saturated at PG_INT64_MAX (and MIN) rather
 * than overflowing: "300000 years" is simply very long.
 */
static int64
interval_usecs(Interval *iv)
{
	double		usecs = (double) iv->time +
	((double) iv->day + (double) iv->month * DAYS_PER_MONTH) * (double) USECS_PER_DAY;

	if (usecs >= (double) PG_INT64_MAX)
		return PG_INT64_MAX;
	if (usecs <= (double) PG_INT64_MIN)
		return PG_INT64_MIN;
	return (int64) usecs;
}

static bool
may_control(SgJob *job)
{
	Oid			user = GetUserId();

	if (superuser())
		return true;
	if (get_rel_name(job->relid) != NULL)
		return sg_rel_ownercheck(job->relid, user);
	/* the table is gone: whoever issued the ALTER may clean up */
	return has_privs_of_role(user, job->role);
}

static int64
job_argument(FunctionCallInfo fcinfo)
{
	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job must not be NULL")));
	return PG_GETARG_INT64(0);
}

static SgJob *
job_for_control(int64 job_id)
{
	SgJob	   *job = sg_job_load(job_id, false);

	if (!may_control(job))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema_guard job %lld", (long long) job_id),
				 errdetail("Only the owner of table %s or a superuser may control its jobs.",
						   sg_qualified_relname(job->relid))));
	return job;
}

static bool
state_is(SgJob *job, const char *const *states)
{
	for (; *states; states++)
		if (strcmp(job->state, *states) == 0)
			return true;
	return false;
}

static void
require_state(SgJob *job, const char *action, const char *const *allowed,
			  const char *hint)
{
	if (state_is(job, allowed))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s schema_guard job %lld because it is %s",
					action, (long long) job->job_id, job->state),
			 hint ? errhint("%s", hint) : 0));
}


static const char *const active_states[] = {"queued", "running", NULL};

Datum
sg_pause_v1(PG_FUNCTION_ARGS)
{
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	require_state(job, "pause", active_states, NULL);
	sg_job_set_state(job->job_id, "paused", NULL, NULL, NULL);
	sg_request_worker_at_commit();
	PG_RETURN_VOID();
}

Datum
sg_resume_v1(PG_FUNCTION_ARGS)
{
	static const char *const allowed[] = {"paused", NULL};
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	require_state(job, "resume", allowed,
				  strcmp(job->state, "failed") == 0 ? "Use schema_guard.retry() for a failed job." : NULL);
	sg_job_set_state(job->job_id, "queued", NULL, NULL, NULL);
	sg_request_worker_at_commit();
	PG_RETURN_VOID();
}

Datum
sg_retry_v1(PG_FUNCTION_ARGS)
{
	static const char *const allowed[] = {"failed", NULL};
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	require_state(job, "retry", allowed,
				  strcmp(job->state, "paused") == 0 ? "Use schema_guard.resume() for a paused job." : NULL);
	sg_job_set_state(job->job_id, "queued", NULL, NULL, "retried");
	sg_request_worker_at_commit();
	PG_RETURN_VOID();
}

/*
 * Drop the job's trigger, helper checks and the indexes it had not built
 * yet, by OID: the columns stay as they are.
 */
static void
drop_helpers(SgJob *job)
{
	ListCell   *lc;

	if (get_rel_name(job->relid) == NULL)
		return;
	foreach(lc, sg_job_drop_sqls(job, "fill trigger"))
		sg_run_own_sql(lfirst(lc));
	foreach(lc, sg_job_drop_sqls(job, "helper check"))
		sg_run_own_sql(lfirst(lc));
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (strcmp(obj->kind, "index") != 0 ||
			sg_index_state(obj->objid, obj->relid) != SG_INDEX_INVALID)
			continue;
		sg_expect_drop(obj->objid);
		PG_TRY();
		{
			sg_run_own_sql(psprintf("DROP INDEX %s", sg_qualified_relname(obj->objid)));
		}
		PG_FINALLY();
		{
			sg_expect_drop(InvalidOid);
		}
		PG_END_TRY();
	}
}

Datum
sg_cancel_v1(PG_FUNCTION_ARGS)
{
	static const char *const allowed[] = {"queued", "running", "paused", "failed", NULL};
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	require_state(job, "cancel", allowed, NULL);
	drop_helpers(job);
	sg_job_set_state(job->job_id, "cancelled", NULL, NULL,
					 "the columns stay; rows not filled yet keep reading NULL");
	PG_RETURN_VOID();
}

Datum
sg_revert_v1(PG_FUNCTION_ARGS)
{
	static const char *const allowed[] = {"queued", "running", "paused", "failed", "cancelled", NULL};
	SgJob	   *job = job_for_control(job_argument(fcinfo));
	StringInfoData sql;
	ListCell   *lc;

	require_state(job, "revert", allowed,
				  strcmp(job->state, "done") == 0
				  ? "The job is complete; drop the columns with ALTER TABLE ... DROP COLUMN if you no longer want them."
				  : NULL);
	if (get_rel_name(job->relid) != NULL)
	{
		List	   *attnums = NIL;

		/*
		 * Every column the ALTER added; dropping a column drops its
		 * constraints, helper check and sequences.  Other subcommands of
		 * the statement stay done.
		 */
		attnums = list_copy(job->added_attnums);
		foreach(lc, job->columns)
			attnums = list_append_unique_int(attnums, ((SgJobColumn *) lfirst(lc))->attnum);
		foreach(lc, job->constraints)
			attnums = list_append_unique_int(attnums, ((SgJobConstraint *) lfirst(lc))->attnum);
		initStringInfo(&sql);
		foreach(lc, attnums)
		{
			char	   *name = sg_column_name(job->relid, (AttrNumber) lfirst_int(lc));

			if (name)
				appendStringInfo(&sql, "%s DROP COLUMN %s", sql.len ? "," : "",
								 quote_identifier(name));
		}
		foreach(lc, sg_job_drop_sqls(job, "fill trigger"))
			sg_run_own_sql(lfirst(lc));
		if (sql.len > 0)
			sg_run_own_sql(psprintf("ALTER TABLE %s%s", sg_qualified_relname(job->relid), sql.data));
	}
	sg_job_set_state(job->job_id, "reverted", NULL, NULL, "the columns were dropped");
	PG_RETURN_VOID();
}

/* Is the job's row one this transaction wrote (not visible to the worker)? */
static bool
job_created_here(int64 job_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};
	bool		mine = false;
	SgSavedUser saved;

	sg_become_extension_owner(&saved);
	PG_TRY();
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		SPI_execute_with_args("SELECT xmin::text::pg_catalog.int8 FROM schema_guard.jobs WHERE job_id = $1",
							  1, types, values, NULL, true, 1);
		if (SPI_processed == 1)
		{
			bool		isnull;
			int64		xmin = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 1, &isnull));

			mine = TransactionIdIsCurrentTransactionId((TransactionId) xmin);
		}
		SPI_finish();
	}
	PG_CATCH();
	{
		sg_restore_user(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_restore_user(&saved, true);
	return mine;
}

/* The job as it is now, in cxt (emptied first). */
static SgJob *
load_fresh(int64 job_id, MemoryContext cxt)
{
	MemoryContext old;
	SgJob	   *job;

	MemoryContextReset(cxt);
	old = MemoryContextSwitchTo(cxt);
	PushActiveSnapshot(GetTransactionSnapshot());
	job = sg_job_load(job_id, false);
	PopActiveSnapshot();
	MemoryContextSwitchTo(old);
	return job;
}

static void
report_progress(SgJob *job)
{
	double		percent = job->blocks_total > 0
	? 100.0 * Min(job->blocks_done, job->blocks_total) / job->blocks_total : 100.0;

	ereport(NOTICE,
			(errmsg("schema_guard job %lld: %s, %s, %.1f%% of %lld blocks, %lld rows filled",
					(long long) job->job_id, job->state, job->phase, percent,
					(long long) job->blocks_total, (long long) job->rows_done)));
}

static int64 wait_for_job(FunctionCallInfo fcinfo, int64 job_id,
						  TimestampTz deadline, MemoryContext pollcxt);

/*
 * CALL schema_guard.wait(job, timeout): block until the job is done,
 * reporting progress.  Outside a transaction block it commits between
 * polls, so the waiting session holds no snapshot that would keep VACUUM
 * from reclaiming the old row versions the backfill leaves behind.
 */
Datum
sg_wait_v1(PG_FUNCTION_ARGS)
{
	int64		job_id;
	TimestampTz deadline = 0;
	volatile int64 rows_done = 0;
	MemoryContext pollcxt;

	job_id = job_argument(fcinfo);
	if (!PG_ARGISNULL(1))
	{
		int64		usecs = interval_usecs(PG_GETARG_INTERVAL_P(1));
		TimestampTz now = GetCurrentTimestamp();

		if (usecs < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("timeout must not be negative")));
		/* a deadline past the end of time is no deadline */
		deadline = usecs < PG_INT64_MAX - now ? now + usecs : 0;
	}
	if (IsolationUsesXactSnapshot())
		ereport(ERROR,
				(errcode(ERRCODE_ACTIVE_SQL_TRANSACTION),
				 errmsg("schema_guard.wait() cannot run in a REPEATABLE READ or SERIALIZABLE transaction"),
				 errdetail("Its snapshot would never see the job advance.")));

	/* survives the commits between polls; emptied by each poll */
	pollcxt = AllocSetContextCreate(TopMemoryContext, "schema_guard wait",
									ALLOCSET_SMALL_SIZES);
	PG_TRY();
	{
		rows_done = wait_for_job(fcinfo, job_id, deadline, pollcxt);
	}
	PG_FINALLY();
	{
		MemoryContextDelete(pollcxt);
	}
	PG_END_TRY();
	ereport(NOTICE,
			(errmsg("schema_guard job %lld is done: %lld rows filled",
					(long long) job_id, (long long) rows_done)));
	PG_RETURN_VOID();
}

/* The polling loop of wait(); returns the rows the job filled. */
static int64
wait_for_job(FunctionCallInfo fcinfo, int64 job_id, TimestampTz deadline,
			 MemoryContext pollcxt)
{
	bool		nonatomic;
	SgJob	   *job;
	int64		last_blocks = -1;
	int64		rows_done;
	TimestampTz last_report = 0;

	job = load_fresh(job_id, pollcxt);
	if (!may_control(job) && !has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for schema_guard job %lld", (long long) job_id)));
	if (job_created_here(job_id))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema_guard job %lld was created in this transaction", (long long) job_id),
				 errdetail("The job starts when the transaction that staged it commits."),
				 errhint("Commit first, then wait for the job.")));

	nonatomic = fcinfo->context && IsA(fcinfo->context, CallContext) &&
		!castNode(CallContext, fcinfo->context)->atomic;
	if (nonatomic && SPI_connect_ext(SPI_OPT_NONATOMIC) != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");

	for (;;)
	{
		TimestampTz now;

		job = load_fresh(job_id, pollcxt);
		if (strcmp(job->state, "done") == 0)
			break;
		if (strcmp(job->state, "failed") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_guard job %lld failed: %s", (long long) job_id,
							job->last_error ? job->last_error : "unknown error"),
					 errhint("Fix the cause, then run SELECT schema_guard.retry(%lld); or undo the ALTER with schema_guard.revert(%lld).",
							 (long long) job_id, (long long) job_id)));
		if (strcmp(job->state, "cancelled") == 0 || strcmp(job->state, "reverted") == 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_guard job %lld was %s", (long long) job_id, job->state)));

		now = GetCurrentTimestamp();
		if (job->blocks_done != last_blocks &&
			TimestampDifferenceExceeds(last_report, now, 1000))
		{
			report_progress(job);
			last_report = now;
			last_blocks = job->blocks_done;
		}
		if (deadline != 0 && now >= deadline)
			ereport(ERROR,
					(errcode(ERRCODE_QUERY_CANCELED),
					 errmsg("timed out waiting for schema_guard job %lld", (long long) job_id),
					 errdetail("The job is %s in phase %s, with %lld of %lld blocks done.",
							   job->state, job->phase, (long long) job->blocks_done,
							   (long long) job->blocks_total)));

		/* end this poll's transaction, so nothing of ours holds back VACUUM */
		if (nonatomic)
			SPI_commit();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	rows_done = job->rows_done;
	if (nonatomic)
		SPI_finish();
	return rows_done;
}

/* An interval argument in milliseconds, or -1 for NULL. */
static int
interval_ms_argument(FunctionCallInfo fcinfo, int argno, const char *name, int min)
{
	Interval   *iv;
	int64		usecs;

	if (PG_ARGISNULL(argno))
		return -1;
	iv = PG_GETARG_INTERVAL_P(argno);
	usecs = interval_usecs(iv);
	if (usecs < (int64) min * 1000 || usecs > (int64) INT_MAX * 1000)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be between %d ms and %d ms", name, min, INT_MAX)));
	return (int) (usecs / 1000);
}

Datum
sg_set_batch_v1(PG_FUNCTION_ARGS)
{
	static const char *const allowed[] = {"queued", "running", "paused", "failed", NULL};
	SgJob	   *job = job_for_control(job_argument(fcinfo));
	int			batch_time = interval_ms_argument(fcinfo, 1, "batch_time", 1);
	int			batch_delay = interval_ms_argument(fcinfo, 2, "batch_delay", 0);

	require_state(job, "change the batch settings of", allowed, NULL);
	sg_job_set_batch(job->job_id, batch_time, batch_delay);
	/* a worker sleeping out the old delay takes the new one at once */
	sg_request_worker_at_commit();
	PG_RETURN_VOID();
}

const char *
sg_wait_reason_name(SgWaitReason reason)
{
	switch (reason)
	{
		case SG_WAIT_NONE:
			return NULL;
		case SG_WAIT_DELAY:
			return "delay";
		case SG_WAIT_LOCK:
			return "lock";
		case SG_WAIT_REPLICATION_LAG:
			return "replication lag";
		case SG_WAIT_WAL_RATE:
			return "wal rate";
		case SG_WAIT_TRANSACTIONS:
			return "old transactions";
	}
	return NULL;
}

Datum
sg_worker_status(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			dboids[64];
	pid_t		pids[64];
	SgWorkerState states[64];
	int			n;
	int			i;

	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);

	InitMaterializedSRF(fcinfo, 0);
	n = sg_worker_states(dboids, pids, states, lengthof(dboids));
	for (i = 0; i < n; i++)
	{
		Datum		values[7];
		bool		nulls[7] = {0};
		const char *waiting = sg_wait_reason_name(states[i].waiting);

		/* other databases' workers are for monitoring roles to see */
		if (!all && dboids[i] != MyDatabaseId)
			continue;
		values[0] = ObjectIdGetDatum(dboids[i]);
		values[1] = Int32GetDatum(pids[i]);
		values[2] = Int64GetDatum(states[i].job_id);
		nulls[2] = states[i].job_id == 0;
		values[3] = waiting ? CStringGetTextDatum(waiting) : (Datum) 0;
		nulls[3] = waiting == NULL;
		values[4] = TimestampTzGetDatum(states[i].waiting_since);
		nulls[4] = waiting == NULL;
		values[5] = Int32GetDatum(states[i].batch_blocks);
		values[6] = Int32GetDatum(states[i].delay_ms);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
