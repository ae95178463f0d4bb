/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database background worker: runs the database's jobs, oldest
 *	  first, one short transaction per step, until none is left.
 *
 * The worker connects as the bootstrap superuser, sets the superuser-only
 * settings its statements need (session_replication_role = replica, so
 * that the table's ordinary triggers and rules stay out of them: the
 * backfill's own UPDATEs bypass every rule and trigger, exec.c;
 * row_security = off, so a policy can never silently hide rows), and then
 * does every piece of work on a user's table as the role that issued the
 * ALTER, never as superuser on its behalf.
 *
 * A step commits its work and the job's cursor together, so a crash loses
 * at most the step in flight.  Lock timeouts, deadlocks and serialization
 * failures are retried with backoff; any other error fails the job with
 * the message, the row and the statement.  The worker never talks to a
 * client.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "commands/dbcommands.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "tcop/pquery.h"
#include "tcop/utility.h"
#include "utils/portal.h"
#include "utils/lsyscache.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "backfill.h"
#include "bind.h"
#include "exec.h"
#include "fill_guard.h"
#include "finalize.h"
#include "index_build.h"
#include "integrity.h"
#include "job.h"
#include "job_notify.h"
#include "job_revert.h"
#include "job_catalog.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "launcher.h"
#include "settings.h"
#include "step.h"
#include "reindex.h"
#include "throttle.h"
#include "trigger.h"
#include "util.h"
#include "worker.h"

/* What this worker publishes about itself. */
static SgWorkerState my_state;

/* Consecutive retried steps of the current job, for the backoff. */
static int	consecutive_retries = 0;
static int64 retrying_job = 0;

static void
publish(int64 job_id, SgWaitReason waiting, int batch_blocks, int delay_ms)
{
	if (my_state.waiting != waiting || my_state.job_id != job_id)
		my_state.waiting_since = GetCurrentTimestamp();
	if (waiting != SG_WAIT_LOCK)
		my_state.nblockers = 0;
	my_state.job_id = job_id;
	my_state.waiting = waiting;
	my_state.batch_blocks = batch_blocks;
	my_state.delay_ms = delay_ms;
	sg_worker_publish(&my_state);
}

/*
 * One worker per database, whatever the launcher's bookkeeping says: a
 * session-level advisory lock, held until the worker exits.  Its tag has a
 * fourth field that SQL's advisory lock functions never use (they use 1
 * and 2), so no session can take it and stall the database's jobs.
 */
#define SG_WORKER_LOCK_KEY	0x5347	/* "SG" */
#define SG_WORKER_LOCK_FIELD4	0x5347

static bool
only_worker_here(void)
{
	LOCKTAG		tag;

	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, SG_WORKER_LOCK_KEY, 0, SG_WORKER_LOCK_FIELD4);
	return LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
}

/*
 * A database whose transactions are read-only by default
 * (default_transaction_read_only) is left alone: the job waits, and its
 * last_error says why, once.  Returns true if the worker must stop.
 */
static bool
database_is_read_only(int64 job_id)
{
	SgJob	   *job;
	char	   *why;

	if (!DefaultXactReadOnly)
		return false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	/* only schema_guard's own record of the job is written */
	SetConfigOption("transaction_read_only", "off", PGC_SUSET, PGC_S_SESSION);
	PushActiveSnapshot(GetTransactionSnapshot());
	why = psprintf("database \"%s\" is read-only (default_transaction_read_only = on): "
				   "the job waits until it is writable",
				   get_database_name(MyDatabaseId));
	job = sg_job_load(job_id, true);
	if (job != NULL && (job->last_error == NULL || strcmp(job->last_error, why) != 0))
	{
		ereport(LOG,
				(errmsg("schema_guard job %lld: %s", (long long) job_id, why)));
		sg_job_note_error(job_id, why);
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	return true;
}

/* What next_runnable_job() finds besides a job to run. */
#define NO_JOB		0			/* none is unfinished */
#define NOT_HERE	(-1)		/* schema_guard is not installed, or another
								 * worker serves this database */
#define NOT_NOW		(-2)		/* unfinished, but the database is read-only */

/* The oldest runnable job, or one of the above. */
static int64
next_runnable_job(bool first)
{
	int64		job_id = NO_JOB;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!sg_extension_active() || (first && !only_worker_here()))
		job_id = NOT_HERE;
	else
		job_id = sg_job_next_runnable();
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (job_id > 0 && database_is_read_only(job_id))
		job_id = NOT_NOW;
	return job_id;
}

static void
set_step_settings(void)
{
	char		buf[32];

	snprintf(buf, sizeof(buf), "%dms", sg_lock_timeout_ms);
	(void) set_config_option("lock_timeout", buf, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * A job whose table was dropped, or all of whose columns were (the index,
 * for a job that only builds one), has nothing left to do: end it, dropping the fill trigger if the table remains.
 */
static bool
end_if_gone(SgJob *job, SgStepResult *result)
{
	ListCell   *lc;
	const char *why;

	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(job->relid)))
		why = "the table was dropped";
	else
	{
		foreach(lc, job->columns)
		{
			if (sg_column_name(job->relid, ((SgJobColumn *) lfirst(lc))->attnum))
				return false;
		}
		foreach(lc, job->constraints)
		{
			if (sg_job_adds_columns(job) &&
				sg_column_name(job->relid, ((SgJobConstraint *) lfirst(lc))->attnum))
				return false;
		}
		/* the job of a CREATE INDEX, ADD CONSTRAINT, SET NOT NULL: while they exist */
		foreach(lc, job->objects)
		{
			SgJobObject *obj = lfirst(lc);

			if (!sg_job_adds_columns(job) &&
				((obj->kind == SG_OBJECT_INDEX &&
				  sg_index_state(obj->objid, obj->relid) != SG_INDEX_MISSING) ||
				 ((obj->kind == SG_OBJECT_CONSTRAINT || obj->kind == SG_OBJECT_HELPER_CHECK) &&
				  sg_object_name(obj) != NULL)))
				return false;
		}
		why = sg_job_adds_columns(job) ? "the columns were dropped"
			: "what the statement made was dropped";
		foreach(lc, sg_job_drop_sqls(job, SG_OBJECT_FILL_TRIGGER))
			sg_exec_as_owner(job, lfirst(lc), false);
	}
	result->committed = sg_job_advance(job, job->phase, SG_STATE_CANCELLED, why);
	return true;
}

/*
 * One step of a job, in the current transaction.  Returns why the job
 * holds back instead, with how long in *wait_ms.
 */
static SgWaitReason
dispatch(SgJob *job, SgStepResult *result, int *wait_ms)
{
	char	   *problem;

	if (end_if_gone(job, result))
		return SG_WAIT_NONE;

	/* carried here by pg_upgrade or a restore: bind it first */
	if (!sg_job_is_bound(job))
	{
		sg_job_rebind(job);
		return SG_WAIT_NONE;
	}
	/* whatever happened to its objects meanwhile, the job must be sound */
	if ((problem = sg_job_problem_now(job)) != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("schema_guard job %lld cannot go on: %s", (long long) job->job_id, problem),
				 errdetail("Rows not filled yet could otherwise end up looking filled, or get other values than the ALTER's."),
				 errhint("Check the job's columns for NULLs; cancel or revert the job.")));

	/* starting is a step of its own, so its record survives a failing batch */
	if (job->state == SG_STATE_QUEUED)
	{
		/* not if it was paused or cancelled since it was read */
		(void) sg_job_set_state(job->job_id, SG_STATE_BIT(SG_STATE_QUEUED), SG_STATE_RUNNING,
								SG_PHASE_UNCHANGED, NULL, NULL);
		return SG_WAIT_NONE;
	}

	if (job->phase == SG_PHASE_BACKFILL || job->phase == SG_PHASE_VERIFY)
	{
		SgWaitReason why = sg_throttle_before_batch(job, wait_ms);

		if (why != SG_WAIT_NONE)
			return why;
		publish(job->job_id, SG_WAIT_NONE, job->batch_blocks, 0);
		sg_backfill_step(job, result);
	}
	else if (job->phase == SG_PHASE_VALIDATE || job->phase == SG_PHASE_REFERENCES)
		sg_finalize_validate(job, result);
	else if (job->phase == SG_PHASE_FINALIZE)
		sg_finalize_complete(job, result);
	else if (job->phase == SG_PHASE_REINDEX)
	{
		/* the rebuild runs at top level, after this step's transaction */
		result->rebuild_index = sg_reindex_next(job);
		if (!OidIsValid(result->rebuild_index))
			result->committed = sg_job_advance(job, SG_PHASE_DONE, SG_STATE_DONE, NULL);
	}
	else if (job->phase == SG_PHASE_INDEX)
	{
		SgJobObject *obj = sg_next_index(job);

		/* the build runs at top level, after this step's transaction */
		if (obj != NULL)
		{
			result->build_index = obj->objid;
			result->build_relid = obj->relid;
		}
		else
		{
			sg_validate_partitioned_indexes(job);
			result->committed = sg_job_advance(job, sg_phase_after(job, SG_PHASE_INDEX), SG_STATE_UNCHANGED, NULL);
		}
	}
	else
		result->committed = sg_job_advance(job, SG_PHASE_DONE, SG_STATE_DONE, NULL);
	return SG_WAIT_NONE;
}

static bool
is_retryable(int sqlerrcode)
{
	return sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE ||
		sqlerrcode == ERRCODE_T_R_DEADLOCK_DETECTED ||
		sqlerrcode == ERRCODE_T_R_SERIALIZATION_FAILURE ||
		sqlerrcode == ERRCODE_QUERY_CANCELED;
}

static char *
error_detail(ErrorData *edata)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (edata->detail)
		appendStringInfo(&buf, "%s\n", edata->detail);
	if (OidIsValid(sg_last_filled_rel))
		appendStringInfo(&buf, "While filling the row at ctid (%u,%u) of table %s.\n",
						 ItemPointerGetBlockNumberNoCheck(&sg_last_filled_tid),
						 ItemPointerGetOffsetNumberNoCheck(&sg_last_filled_tid),
						 sg_qualified_relname(sg_last_filled_rel));
	if (edata->hint)
		appendStringInfo(&buf, "Hint: %s\n", edata->hint);
	if (edata->context)
		appendStringInfo(&buf, "Context: %s\n", edata->context);
	if (edata->internalquery)
		appendStringInfo(&buf, "Statement: %s\n", edata->internalquery);
	else if (debug_query_string)
		appendStringInfo(&buf, "Statement: %s\n", debug_query_string);
	if (buf.len > 0 && buf.data[buf.len - 1] == '\n')
		buf.data[--buf.len] = '\0';
	return buf.data;
}

/*
 * A lock wait of the job's step timed out: note who held the job's tables
 * in a mode that conflicts with the one the step needs, processes and
 * prepared transactions, for progress to show while the worker backs off.
 */
static void
note_lock_blockers(int64 job_id)
{
	SgJob	   *job = sg_job_load(job_id, true);
	const char *modes;
	Datum		relids[64];
	int			nrels = 0;
	Datum		values[2];
	Oid			types[2] = {OIDARRAYOID, TEXTOID};
	ListCell   *lc;
	uint64		i;

	my_state.nblockers = 0;
	if (job == NULL)
		return;
	if (job->phase == SG_PHASE_BACKFILL || job->phase == SG_PHASE_VERIFY)
		modes = "{ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}";
	else if (job->phase == SG_PHASE_FINALIZE)
		modes = "{AccessShareLock,RowShareLock,RowExclusiveLock,ShareUpdateExclusiveLock,"
			"ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}";
	else
		modes = "{ShareUpdateExclusiveLock,ShareLock,ShareRowExclusiveLock,ExclusiveLock,AccessExclusiveLock}";
	relids[nrels++] = ObjectIdGetDatum(job->relid);
	foreach(lc, job->leaves)
		if (nrels < lengthof(relids))
			relids[nrels++] = ObjectIdGetDatum(((SgJobLeaf *) lfirst(lc))->relid);
	values[0] = PointerGetDatum(construct_array(relids, nrels, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	values[1] = CStringGetTextDatum(modes);
	sg_spi_connect();
	/* a prepared transaction's locks share its transaction id lock's vxid */
	if (SPI_execute_with_args("SELECT DISTINCT COALESCE(l.pid, 0), x.transaction "
							  "FROM pg_catalog.pg_locks l "
							  "LEFT JOIN pg_catalog.pg_locks xl ON l.pid IS NULL AND xl.pid IS NULL "
							  "     AND xl.locktype = 'transactionid' AND xl.granted "
							  "     AND xl.virtualtransaction = l.virtualtransaction "
							  "LEFT JOIN pg_catalog.pg_prepared_xacts x ON x.transaction = xl.transactionid "
							  "WHERE l.locktype = 'relation' AND l.granted AND l.relation = ANY ($1) "
							  "AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d "
							  "                   WHERE d.datname = pg_catalog.current_database()) "
							  "AND l.mode = ANY ($2::pg_catalog.text[]) "
							  "AND l.pid IS DISTINCT FROM pg_catalog.pg_backend_pid() LIMIT 8",
							  2, types, values, NULL, true, SG_MAX_BLOCKERS) == SPI_OK_SELECT)
	{
		for (i = 0; i < SPI_processed && i < SG_MAX_BLOCKERS; i++)
		{
			bool		isnull;
			Datum		xid = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull);

			my_state.blocker_pids[i] = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
																   SPI_tuptable->tupdesc, 1, &isnull));
			my_state.blocker_xids[i] = isnull ? InvalidTransactionId : DatumGetTransactionId(xid);
		}
		my_state.nblockers = (int) i;
	}
	sg_spi_finish();
}

/* revert() run by the worker: as the table's owner, locks bounded */
static void
run_as_owner(SgJob *job, const char *sql)
{
	(void) sg_exec_as_owner(job, sql, false);
}

/*
 * A job just failed: say so loudly in the server log, with the SQLSTATE,
 * and with schema_guard.on_failure = revert undo its statement.  A revert
 * that fails (its lock not had in time) leaves the job failed, and says so.
 */
static void
after_failure(int64 job_id, ErrorData *edata)
{
	MemoryContext cxt = CurrentMemoryContext;

	ereport(WARNING,
			(errcode(edata->sqlerrcode),
			 errmsg("schema_guard job %lld failed: %s", (long long) job_id, edata->message),
			 errdetail("SQLSTATE %s.%s%s", unpack_sql_state(edata->sqlerrcode),
					   edata->detail ? " " : "", edata->detail ? edata->detail : ""),
			 sg_on_failure == SG_ON_FAILURE_REVERT
			 ? errhint("schema_guard.on_failure is \"revert\": the statement is undone.")
			 : errhint("Fix the cause and call schema_guard.retry(%lld), or undo the statement with schema_guard.revert(%lld).",
					   (long long) job_id, (long long) job_id)));
	if (sg_on_failure != SG_ON_FAILURE_REVERT)
		return;
	PG_TRY();
	{
		SgJob	   *job;

		StartTransactionCommand();
		PushActiveSnapshot(GetTransactionSnapshot());
		set_step_settings();
		job = sg_job_load(job_id, true);
		if (job != NULL && job->state == SG_STATE_FAILED)
			sg_job_set_state(job_id, SG_STATE_BIT(SG_STATE_FAILED), SG_STATE_REVERTED,
							 SG_PHASE_UNCHANGED, NULL,
							 psprintf("schema_guard.on_failure = revert: %s",
									  sg_job_revert(job, run_as_owner)));
		PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *revert_error;

		MemoryContextSwitchTo(cxt);
		revert_error = CopyErrorData();
		FlushErrorState();
		AbortCurrentTransaction();
		ereport(WARNING,
				(errcode(revert_error->sqlerrcode),
				 errmsg("schema_guard job %lld could not be reverted: %s",
						(long long) job_id, revert_error->message),
				 errhint("The job stays failed; undo it with schema_guard.revert(%lld).",
						 (long long) job_id)));
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
}

/* Record a failed step in a fresh transaction; return the backoff. */
static int
after_step_error(int64 job_id, ErrorData *edata)
{
	int			delay = 0;
	char	   *detail;
	bool		failed = false;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* names of relations need the catalogs, so a transaction */
	detail = error_detail(edata);
	if (is_retryable(edata->sqlerrcode))
	{
		if (retrying_job != job_id)
			consecutive_retries = 0;
		retrying_job = job_id;
		consecutive_retries++;
		delay = Min(sg_lock_timeout_ms * (1 << Min(consecutive_retries, 10)), 10000);
		sg_job_count_retry(job_id, edata->message, sg_batch_min_blocks);
		if (edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			note_lock_blockers(job_id);
		publish(job_id, SG_WAIT_LOCK, my_state.batch_blocks, delay);
	}
	else
	{
		SgJob	   *job = sg_job_load(job_id, true);
		char	   *problem;

		if (job != NULL && sg_state_runnable(job->state))
		{
			sg_translate_error(job, edata);
			detail = error_detail(edata);
			sg_job_set_sqlstate(job_id, edata->sqlerrcode);
			if (sg_job_set_state(job_id, SG_ACTIVE_STATES, SG_STATE_FAILED, SG_PHASE_UNCHANGED,
								 edata->message, detail))
			{
				failed = true;
				if ((problem = sg_job_problem_now(job)) != NULL)
					sg_job_mark_unsound(job_id, problem);
			}
		}
		consecutive_retries = 0;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	if (failed)
		after_failure(job_id, edata);
	return delay;
}

/*
 * Back from an error in a step: keep the error, abort the transaction, and
 * log it (the worker has no client to tell).
 */
static ErrorData *
recover_from_error(int64 job_id, MemoryContext loopcxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(loopcxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	/* a statement run at top level leaves its portal behind, as in a backend */
	PortalErrorCleanup();
	ereport(LOG,
			(errmsg("schema_guard job %lld: %s", (long long) job_id, edata->message),
			 edata->detail ? errdetail_internal("%s", edata->detail) : 0));
	return edata;
}

/* While an index build waits for other transactions, progress says so. */
static int64 building_job = 0;
static int	building_batch_blocks = 0;

static void
publish_index_wait(bool waiting)
{
	publish(building_job, waiting ? SG_WAIT_TRANSACTIONS : SG_WAIT_NONE,
			building_batch_blocks, 0);
}

/*
 * Leave an index the reindex phase could not rebuild; what fails meanwhile
 * (a leftover that cannot be dropped now) is logged, and retried with the
 * next index's rebuild.
 */
static void
give_up_rebuild(int64 job_id, Oid indexoid, const char *error, MemoryContext loopcxt)
{
	MemoryContextSwitchTo(loopcxt);
	PG_TRY();
	{
		sg_reindex_give_up(job_id, indexoid, error);
	}
	PG_CATCH();
	{
		(void) recover_from_error(job_id, loopcxt);
	}
	PG_END_TRY();
}

/*
 * The index work a step left for the top level, concurrently, outside any
 * transaction: build an index the job reserved (index_build.c), or rebuild
 * one of a job that finalized (reindex.c).  A build that fails (a
 * duplicate key) fails the job with PostgreSQL's error, the index staying
 * invalid for retry().  A rebuild that fails other than by a lock timeout
 * or a deadlock (which are retried) leaves the index as it is, and the job
 * goes on: it is complete already.
 */
static int
index_at_top_level(int64 job_id, const SgStepResult *step, MemoryContext loopcxt)
{
	volatile int delay = 0;
	bool		rebuild = OidIsValid(step->rebuild_index);
	Oid			save_userid;
	int			save_sec_context;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	building_job = job_id;
	building_batch_blocks = my_state.batch_blocks;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		pgstat_report_activity(STATE_RUNNING, rebuild
							   ? "schema_guard: rebuilding an index concurrently"
							   : "schema_guard: building an index concurrently");
		sg_throttle_before_build();
		if (rebuild)
			sg_reindex_concurrently(job_id, step->rebuild_index);
		else
			sg_build_index_concurrently(step->build_relid, step->build_index,
										publish_index_wait);
	}
	PG_CATCH();
	{
		ErrorData  *edata = recover_from_error(job_id, loopcxt);

		SetUserIdAndSecContext(save_userid, save_sec_context);
		if (rebuild && !is_retryable(edata->sqlerrcode))
			give_up_rebuild(job_id, step->rebuild_index, edata->message, loopcxt);
		else
			delay = after_step_error(job_id, edata);
	}
	PG_END_TRY();
	sg_throttle_after_build();
	MemoryContextSwitchTo(loopcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return delay;
}

/*
 * Run one step of a job; return how long to wait before the next one.  A
 * step that found an index to build says so in *build, for the caller to
 * build at top level.
 */
static int
run_step(int64 job_id, MemoryContext loopcxt, SgStepResult *build)
{
	volatile int delay = 0;

	sg_last_filled_rel = InvalidOid;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PG_TRY();
	{
		SgJob	   *job;
		SgStepResult result;
		SgWaitReason why = SG_WAIT_NONE;
		int			wait_ms = 0;

		memset(&result, 0, sizeof(result));
		result.committed = true;
		PushActiveSnapshot(GetTransactionSnapshot());
		set_step_settings();

		job = sg_job_load(job_id, true);
		if (job != NULL && sg_state_runnable(job->state))
		{
			why = dispatch(job, &result, &wait_ms);
			if (why != SG_WAIT_NONE)
				delay = wait_ms;
			else if (result.batch)
			{
				char	   *event;
				char	   *detail;
				int			yield = sg_throttle_yield_ms(&result, &event, &detail);

				delay = sg_job_batch_delay(job);
				why = delay > 0 ? SG_WAIT_DELAY : SG_WAIT_NONE;
				if (event != NULL)
					ereport(LOG,
							(errmsg("schema_guard job %lld: %s", (long long) job->job_id, event),
							 detail ? errdetail_internal("%s", detail) : 0));
				if (yield > delay)
				{
					delay = yield;
					why = SG_WAIT_LOAD;
				}
			}
		}
		PopActiveSnapshot();
		if (result.committed)
		{
			CommitTransactionCommand();
			if (result.batch)
				sg_throttle_after_batch_commit();
		}
		else
			AbortCurrentTransaction();
		if (retrying_job == job_id && why != SG_WAIT_LOCK)
			consecutive_retries = 0;
		if (job != NULL)
			publish(job_id, why, job->batch_blocks, delay);
		*build = result;
	}
	PG_CATCH();
	{
		ErrorData  *edata = recover_from_error(job_id, loopcxt);

		/*
		 * What this process compiled for another job must not be used for
		 * this one (fill_guard.c): a new worker carries on, the step undone.
		 */
		if (sg_fill_guard_stale_session())
		{
			ereport(LOG,
					(errmsg("schema_guard job %lld: a new worker carries on, with nothing compiled for other jobs",
							(long long) job_id)));
			proc_exit(0);
		}
		delay = after_step_error(job_id, edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(loopcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return delay;
}

void
sg_worker_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	MemoryContext loopcxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	/* the hook must not intercept the worker's own statements */
	sg_running_own_statement = true;
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	sg_worker_attach(dboid);
	pgstat_report_appname("schema_guard worker");
	sg_throttle_lower_priority();

	/* superuser-only settings, set while this process still is one */
	SetConfigOption("session_replication_role", "replica", PGC_SUSET, PGC_S_SESSION);
	SetConfigOption("row_security", "off", PGC_SUSET, PGC_S_SESSION);
	/* the worker's own statements mean PostgreSQL's objects, nobody else's */
	SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_SESSION);

	loopcxt = AllocSetContextCreate(TopMemoryContext, "schema_guard worker",
									ALLOCSET_DEFAULT_SIZES);
	for (bool first = true;; first = false)
	{
		int64		job_id;
		int			delay;
		SgStepResult build;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);

		job_id = next_runnable_job(first);
		MemoryContextSwitchTo(loopcxt);
		/*
		 * The launcher looks again while jobs are unfinished: soon after a
		 * worker that did not finish them exits, at the naptime while the
		 * database is read-only.
		 */
		sg_worker_set_known(job_id > 0 || job_id == NOT_NOW,
							job_id == NOT_NOW ? sg_naptime_s * 1000 : 0);
		if (job_id <= 0)
			break;

		memset(&build, 0, sizeof(build));
		delay = run_step(job_id, loopcxt, &build);
		if (OidIsValid(build.build_index) || OidIsValid(build.rebuild_index))
			delay = index_at_top_level(job_id, &build, loopcxt);
		/* so that pg_stat_user_tables and autovacuum see the backfill as it goes */
		pgstat_report_stat(false);
		if (delay > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 delay, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	proc_exit(0);
}
