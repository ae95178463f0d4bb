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
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "schema_guard.h"
#include "guard.h"
#include "index_build.h"
#include "job.h"
#include "job_catalog.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "job_revert.h"
#include "launcher.h"
#include "util.h"

PG_FUNCTION_INFO_V1(sg_pause_v1);
PG_FUNCTION_INFO_V1(sg_resume_v1);
PG_FUNCTION_INFO_V1(sg_cancel_v1);
PG_FUNCTION_INFO_V1(sg_revert_v1);
PG_FUNCTION_INFO_V1(sg_retry_v1);
PG_FUNCTION_INFO_V1(sg_wait_v1);
PG_FUNCTION_INFO_V1(sg_worker_status);
PG_FUNCTION_INFO_V1(sg_worker_blockers);
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

/*
 * May the caller read the job's error texts?  They can hold the table's
 * values (a duplicate key, a failing row): only the roles that may read
 * the whole table, as schema_guard.jobs_visible shows them.
 */
static bool
may_read_errors(SgJob *job)
{
	Oid			user = GetUserId();
	Oid			owner = sg_rel_owner(job->relid);

	if (!OidIsValid(owner))
		return false;
	return has_privs_of_role(user, owner) ||
		(pg_class_aclcheck(job->relid, user, ACL_SELECT) == ACLCHECK_OK &&
		 check_enable_rls(job->relid, InvalidOid, true) != RLS_ENABLED);
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

static void
require_state(SgJob *job, const char *action, uint32 allowed, const char *hint)
{
	if (allowed & SG_STATE_BIT(job->state))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s schema_guard job %lld because it is %s",
					action, (long long) job->job_id, sg_state_name(job->state)),
			 hint ? errhint("%s", hint) : 0));
}

/*
 * Change the job's state, if it is still in one of the allowed ones: the
 * worker (finishing the job) or another session may have changed it since
 * it was read, while this call waited for the table.  Then the call fails
 * with the state the job is in now, and its transaction, DDL included, is
 * rolled back.
 */
static void
change_state(SgJob *job, const char *action, uint32 allowed, SgJobState to,
			 const char *detail)
{
	SgJob	   *now;

	if (sg_job_set_state(job->job_id, allowed, to, SG_PHASE_UNCHANGED, NULL, detail))
		return;
	PushActiveSnapshot(GetLatestSnapshot());
	now = sg_job_load(job->job_id, false);
	PopActiveSnapshot();
	require_state(now, action, 0, NULL);
}

/*
 * Take the lock on the job's table that the call's DDL takes, queueing
 * behind the worker's step that holds it, and read the job again: the
 * worker may have finished it meanwhile, and then nothing is dropped.
 */
static SgJob *
job_after_table_lock(SgJob *job, const char *action, uint32 allowed)
{
	SgJob	   *now;

	if (get_rel_name(job->relid) != NULL)
		LockRelationOid(job->relid, AccessExclusiveLock);
	PushActiveSnapshot(GetLatestSnapshot());
	now = sg_job_load(job->job_id, false);
	PopActiveSnapshot();
	require_state(now, action, allowed, NULL);
	return now;
}

/* Move a job to another state, if it is in one of the allowed ones. */
static void
move_job(SgJob *job, const char *action, uint32 allowed,
		 SgJobState mistaken, const char *mistaken_hint,
		 SgJobState to, const char *detail)
{
	require_state(job, action, allowed, job->state == mistaken ? mistaken_hint : NULL);
	change_state(job, action, allowed, to, detail);
	sg_request_worker_at_commit();
}

Datum
sg_pause_v1(PG_FUNCTION_ARGS)
{
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	move_job(job, "pause", SG_ACTIVE_STATES, SG_STATE_UNCHANGED, NULL, SG_STATE_PAUSED, NULL);
	PG_RETURN_VOID();
}

Datum
sg_resume_v1(PG_FUNCTION_ARGS)
{
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	move_job(job, "resume", SG_STATE_BIT(SG_STATE_PAUSED),
			 SG_STATE_FAILED, "Use schema_guard.retry() for a failed job.",
			 SG_STATE_QUEUED, NULL);
	PG_RETURN_VOID();
}

/*
 * retry(): run a failed job again, from where it stopped.  Not a job that
 * failed because rows may have come to look filled without being filled
 * (its table rewritten, its fill trigger lost or disabled, a function of
 * its expression replaced): retrying cannot tell those rows apart.
 */
Datum
sg_retry_v1(PG_FUNCTION_ARGS)
{
	SgJob	   *job = job_for_control(job_argument(fcinfo));
	StringInfoData cols;
	ListCell   *lc;

	if (job->unsound == NULL || job->state != SG_STATE_FAILED)
	{
		move_job(job, "retry", SG_STATE_BIT(SG_STATE_FAILED),
				 SG_STATE_PAUSED, "Use schema_guard.resume() for a paused job.",
				 SG_STATE_QUEUED, "retried");
		PG_RETURN_VOID();
	}
	initStringInfo(&cols);
	foreach(lc, job->columns)
		appendStringInfo(&cols, "%s%s", cols.len ? ", " : "",
						 quote_identifier(((SgJobColumn *) lfirst(lc))->colname));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot retry schema_guard job %lld: %s",
					(long long) job->job_id, job->unsound),
			 errdetail("Rows the job had not filled yet may look filled now (in column %s), and neither a retry nor schema_guard can tell them apart.",
					   cols.len ? cols.data : "?"),
			 errhint("Check the column for rows that need a value and fill them by hand, then end the job with schema_guard.cancel(%lld); or undo the ALTER with schema_guard.revert(%lld).",
					 (long long) job->job_id, (long long) job->job_id)));
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
	foreach(lc, sg_job_drop_sqls(job, SG_OBJECT_FILL_TRIGGER))
		sg_run_own_sql(lfirst(lc));
	foreach(lc, sg_job_drop_sqls(job, SG_OBJECT_HELPER_CHECK))
		sg_run_own_sql(lfirst(lc));
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind != SG_OBJECT_INDEX ||
			sg_index_state(obj->objid, obj->relid) != SG_INDEX_INVALID ||
			get_rel_relispartition(obj->objid))
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
	SgJob	   *job = job_for_control(job_argument(fcinfo));

	require_state(job, "cancel", SG_UNFINISHED_STATES, NULL);
	job = job_after_table_lock(job, "cancel", SG_UNFINISHED_STATES);
	drop_helpers(job);
	change_state(job, "cancel", SG_UNFINISHED_STATES, SG_STATE_CANCELLED,
				 "the columns stay; rows not filled yet keep reading NULL");
	PG_RETURN_VOID();
}

/* revert() runs its statements in the caller's session, as the caller */
static void
run_own_sql(SgJob *job, const char *sql)
{
	sg_run_own_sql(sql);
}

Datum
sg_revert_v1(PG_FUNCTION_ARGS)
{
	SgJob	   *job = job_for_control(job_argument(fcinfo));
	const char *detail;

	require_state(job, "revert", SG_UNFINISHED_STATES | SG_STATE_BIT(SG_STATE_CANCELLED),
				  job->state == SG_STATE_DONE
				  ? "The job is complete; drop the columns with ALTER TABLE ... DROP COLUMN if you no longer want them."
				  : NULL);
	job = job_after_table_lock(job, "revert", SG_UNFINISHED_STATES | SG_STATE_BIT(SG_STATE_CANCELLED));
	detail = sg_job_revert(job, run_own_sql);
	change_state(job, "revert", SG_UNFINISHED_STATES | SG_STATE_BIT(SG_STATE_CANCELLED),
				 SG_STATE_REVERTED, detail);
	PG_RETURN_VOID();
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

/*
 * What a job with no rows to fill (its statement made indexes or
 * constraints) does in a phase, for wait()'s progress.
 */
static const char *
phase_activity(SgJobPhase phase)
{
	switch (phase)
	{
		case SG_PHASE_INDEX:
			return "building its indexes concurrently";
		case SG_PHASE_VALIDATE:
		case SG_PHASE_REFERENCES:
			return "validating its constraints";
		case SG_PHASE_FINALIZE:
			return "finishing (a UNIQUE or PRIMARY KEY is added USING INDEX)";
		default:
			return sg_phase_name(phase);
	}
}

static void
report_progress(SgJob *job)
{
	double		percent = job->blocks_total > 0
	? 100.0 * Min(job->blocks_done, job->blocks_total) / job->blocks_total : 100.0;

	if (!sg_job_adds_columns(job))
	{
		ereport(NOTICE,
				(errmsg("schema_guard job %lld: %s, %s",
						(long long) job->job_id, sg_state_name(job->state),
						phase_activity(job->phase))));
		return;
	}
	ereport(NOTICE,
			(errmsg("schema_guard job %lld: %s, %s, %.1f%% of %lld blocks, %lld rows filled",
					(long long) job->job_id, sg_state_name(job->state),
					sg_phase_name(job->phase), percent,
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
	if (rows_done < 0)
		ereport(NOTICE,
				(errmsg("schema_guard job %lld is done", (long long) job_id)));
	else
		ereport(NOTICE,
				(errmsg("schema_guard job %lld is done: %lld rows filled",
						(long long) job_id, (long long) rows_done)));
	PG_RETURN_VOID();
}

/*
 * The polling loop of wait(); returns the rows the job filled, -1 for a
 * job that fills none (its statement made indexes or constraints, or set
 * NOT NULL).
 */
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
	if (sg_job_created_here(job_id))
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

		/*
		 * The whole wait, polls included, shows as waiting for schema_guard:
		 * the worker's throttle does not take it for the application at work.
		 */
		pgstat_report_wait_start(PG_WAIT_EXTENSION);
		job = load_fresh(job_id, pollcxt);
		if (job->state == SG_STATE_DONE)
			break;
		if (job->state == SG_STATE_FAILED && !may_read_errors(job))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_guard job %lld failed", (long long) job_id),
					 errdetail("Its error is shown only to roles that may read table %s.",
							   sg_qualified_relname(job->relid))));
		if (job->state == SG_STATE_FAILED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_guard job %lld failed: %s", (long long) job_id,
							job->last_error ? job->last_error : "unknown error"),
					 job->unsound
					 ? errhint("A retry cannot finish it: fill by hand the rows that need a value, then run SELECT schema_guard.cancel(%lld); or undo the ALTER with schema_guard.revert(%lld).",
							   (long long) job_id, (long long) job_id)
					 : errhint("Fix the cause, then run SELECT schema_guard.retry(%lld); or undo the ALTER with schema_guard.revert(%lld).",
							   (long long) job_id, (long long) job_id)));
		if (job->state == SG_STATE_CANCELLED || job->state == SG_STATE_REVERTED)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("schema_guard job %lld was %s", (long long) job_id,
							sg_state_name(job->state))));

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
					 job->leaves == NIL
					 ? errdetail("The job is %s in phase %s.",
								 sg_state_name(job->state), sg_phase_name(job->phase))
					 : errdetail("The job is %s in phase %s, with %lld of %lld blocks done.",
								 sg_state_name(job->state), sg_phase_name(job->phase),
								 (long long) job->blocks_done,
								 (long long) job->blocks_total)));

		/* end this poll's transaction, so nothing of ours holds back VACUUM */
		if (nonatomic)
			SPI_commit();
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 100L, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	pgstat_report_wait_end();
	/* a job with no rows to fill: -1 */
	rows_done = sg_job_adds_columns(job) ? job->rows_done : -1;
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
	SgJob	   *job = job_for_control(job_argument(fcinfo));
	int			batch_time = interval_ms_argument(fcinfo, 1, "batch_time", 1);
	int			batch_delay = interval_ms_argument(fcinfo, 2, "batch_delay", 0);

	require_state(job, "change the batch settings of", SG_UNFINISHED_STATES, NULL);
	sg_job_set_batch(job->job_id, batch_time, batch_delay);
	/* a worker sleeping out the old delay takes the new one at once */
	sg_request_worker_at_commit();
	PG_RETURN_VOID();
}

/*
 * worker_blockers(): for each worker backing off after a lock wait timed
 * out, who held the lock: processes, and prepared transactions (by their
 * transaction id; a process id of 0 stands for each).  Workers of other
 * databases only for pg_read_all_stats, as for worker_status().
 */
Datum
sg_worker_blockers(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			dboids[64];
	pid_t		pids[64];
	SgWorkerState states[64];
	bool		all = has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS);
	int			n;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	n = sg_worker_states(dboids, pids, states, lengthof(dboids));
	for (i = 0; i < n; i++)
	{
		SgWorkerState *state = &states[i];
		Datum		values[4];
		bool		nulls[4] = {0};
		Datum		blockers[SG_MAX_BLOCKERS];
		Datum		xids[SG_MAX_BLOCKERS];
		int			nxids = 0;
		int			b;

		if ((!all && dboids[i] != MyDatabaseId) || state->waiting != SG_WAIT_LOCK ||
			state->nblockers == 0)
			continue;
		for (b = 0; b < state->nblockers; b++)
		{
			blockers[b] = Int32GetDatum(state->blocker_pids[b]);
			if (TransactionIdIsValid(state->blocker_xids[b]))
				xids[nxids++] = TransactionIdGetDatum(state->blocker_xids[b]);
		}
		values[0] = ObjectIdGetDatum(dboids[i]);
		values[1] = Int32GetDatum(pids[i]);
		values[2] = PointerGetDatum(construct_array(blockers, state->nblockers, INT4OID,
													sizeof(int32), true, TYPALIGN_INT));
		values[3] = PointerGetDatum(construct_array(xids, nxids, XIDOID,
													sizeof(TransactionId), true, TYPALIGN_INT));
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
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
