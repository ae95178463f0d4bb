/*-------------------------------------------------------------------------
 *
 * worker.c
 *	  The per-database background worker: runs the database's jobs, oldest
 *	  first, one short transaction per step, until none is left.
 *
 * The worker connects as the bootstrap superuser, sets the superuser-only
 * settings that make the backfill invisible (session_replication_role =
 * replica, so the table's own triggers and rules do not fire, as in a
 * table rewrite; row_security = off, so a policy can never silently hide
 * rows), and then does every piece of work on a user's table as the role
 * that issued the ALTER, never as superuser on its behalf.
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
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "job.h"
#include "launcher.h"
#include "trigger.h"
#include "worker.h"

/* What this worker publishes about itself. */
static SgWorkerState my_state;

/* Consecutive retried steps of the current job, for the backoff. */
static int	consecutive_retries = 0;
static int64 retrying_job = 0;

/*
 * Run SQL against a user's table as the job's role, with the restrictions
 * PostgreSQL applies to maintenance it runs on a table owner's behalf.
 * The statement itself (schema_guard's own, names qualified) is parsed
 * under a search_path of pg_catalog alone, so nobody's objects can stand
 * in for the ones it means; fill values are computed under the ALTER's
 * search_path by fill_value().  Returns SPI_processed.
 */
int
sg_exec_as_job_role(SgJob *job, const char *sql, bool read_only)
{
	Oid			save_userid;
	int			save_sec_context;
	int			save_nestlevel;
	int			rc;
	uint64		processed;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	save_nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(job->role, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION |
						   SECURITY_NOFORCE_RLS);
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
		SetUserIdAndSecContext(save_userid, save_sec_context);
	}
	PG_END_TRY();
	AtEOXact_GUC(true, save_nestlevel);
	SPI_finish();
	return (int) processed;
}

/*
 * Move the job to another phase and/or state, but only if nobody paused,
 * cancelled or reverted it meanwhile.  Returns false if it changed.
 */
bool
sg_job_advance(SgJob *job, const char *phase, const char *state,
			   const char *detail)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		ok;

	values[0] = Int64GetDatum(job->job_id);
	values[1] = CStringGetTextDatum(phase);
	values[2] = state ? CStringGetTextDatum(state) : (Datum) 0;
	nulls[2] = state ? ' ' : 'n';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute_with_args("UPDATE schema_guard.jobs SET phase = $2, "
						  "state = COALESCE($3, state), updated_at = pg_catalog.now(), "
						  "finished_at = CASE WHEN $3 IN ('done', 'cancelled') THEN pg_catalog.now() END "
						  "WHERE job_id = $1 AND state IN ('queued', 'running')",
						  3, types, values, nulls, false, 0);
	ok = SPI_processed == 1;
	SPI_finish();
	if (ok)
		sg_job_event(job->job_id, state ? state : phase, detail);
	return ok;
}

static void
publish(int64 job_id, SgWaitReason waiting, int batch_blocks, int delay_ms)
{
	if (my_state.waiting != waiting || my_state.job_id != job_id)
		my_state.waiting_since = GetCurrentTimestamp();
	my_state.job_id = job_id;
	my_state.waiting = waiting;
	my_state.batch_blocks = batch_blocks;
	my_state.delay_ms = delay_ms;
	sg_worker_publish(&my_state);
}

/*
 * One worker per database, whatever the launcher's bookkeeping says: a
 * session-level advisory lock, held until the worker exits.
 */
#define SG_WORKER_LOCK_KEY1 0x5347	/* "SG" */
#define SG_WORKER_LOCK_KEY2 1

static bool
only_worker_here(void)
{
	bool		isnull;
	bool		got;

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute(psprintf("SELECT pg_catalog.pg_try_advisory_lock(%d, %d)",
						 SG_WORKER_LOCK_KEY1, SG_WORKER_LOCK_KEY2), false, 1);
	got = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	SPI_finish();
	return got;
}

/*
 * The oldest runnable job, 0 if none, -1 if schema_guard is not installed
 * or another worker serves this database.
 */
static int64
next_runnable_job(bool first, bool *index_phase)
{
	int64		job_id = 0;

	*index_phase = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	if (!sg_extension_active())
		job_id = -1;
	else if (first && !only_worker_here())
		job_id = 0;
	else
	{
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		SPI_execute("SELECT job_id, state = 'running' AND phase = 'index' "
					"FROM schema_guard.jobs "
					"WHERE state IN ('queued', 'running') ORDER BY job_id LIMIT 1",
					true, 0);
		if (SPI_processed == 1)
		{
			bool		isnull;

			job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
												 SPI_tuptable->tupdesc, 1, &isnull));
			*index_phase = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 2, &isnull));
		}
		SPI_finish();
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
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
 * A job whose table was dropped, or all of whose columns were, has nothing
 * left to do: end it, dropping the fill trigger if the table remains.
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
			if (sg_column_name(job->relid, ((SgJobConstraint *) lfirst(lc))->attnum))
				return false;
		}
		why = "the columns were dropped";
		foreach(lc, sg_drop_trigger_sqls(job))
			sg_exec_as_job_role(job, lfirst(lc), false);
	}
	result->committed = sg_job_advance(job, job->phase, "cancelled", why);
	return true;
}

/*
 * One step of a job, in the current transaction.  Returns why the job
 * holds back instead, with how long in *wait_ms.
 */
static SgWaitReason
dispatch(SgJob *job, SgStepResult *result, int *wait_ms)
{
	if (end_if_gone(job, result))
		return SG_WAIT_NONE;

	/* starting is a step of its own, so its record survives a failing batch */
	if (strcmp(job->state, "queued") == 0)
	{
		sg_job_set_state(job->job_id, "running", NULL, NULL, NULL);
		return SG_WAIT_NONE;
	}

	if (strcmp(job->phase, "backfill") == 0 || strcmp(job->phase, "verify") == 0)
	{
		SgWaitReason why = sg_throttle_before_batch(job, wait_ms);

		if (why != SG_WAIT_NONE)
			return why;
		publish(job->job_id, SG_WAIT_NONE, job->batch_blocks, 0);
		sg_backfill_step(job, result);
	}
	else if (strcmp(job->phase, "validate") == 0 || strcmp(job->phase, "references") == 0)
		sg_finalize_validate(job, result);
	else if (strcmp(job->phase, "finalize") == 0)
		sg_finalize_complete(job, result);
	else if (strcmp(job->phase, "index") == 0)
		result->committed = sg_job_advance(job, sg_phase_after(job, "index"), NULL, NULL);
	else
		result->committed = sg_job_advance(job, "done", "done", NULL);
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

/* Record a failed step in a fresh transaction; return the backoff. */
static int
after_step_error(int64 job_id, ErrorData *edata)
{
	int			delay = 0;
	char	   *detail;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* names of relations need the catalogs, so a transaction */
	detail = error_detail(edata);
	if (is_retryable(edata->sqlerrcode))
	{
		Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
		Datum		values[3];

		if (retrying_job != job_id)
			consecutive_retries = 0;
		retrying_job = job_id;
		consecutive_retries++;
		delay = Min(sg_lock_timeout_ms * (1 << Min(consecutive_retries, 10)), 10000);
		values[0] = Int64GetDatum(job_id);
		values[1] = CStringGetTextDatum(edata->message);
		values[2] = Int32GetDatum(sg_batch_min_blocks);
		if (SPI_connect() != SPI_OK_CONNECT)
			elog(ERROR, "SPI_connect failed");
		SPI_execute_with_args("UPDATE schema_guard.jobs SET retries = retries + 1, "
							  "batch_blocks = GREATEST($3, batch_blocks / 2), "
							  "last_error = $2, updated_at = pg_catalog.now() WHERE job_id = $1",
							  3, types, values, NULL, false, 0);
		SPI_finish();
		sg_job_event(job_id, "retry", edata->message);
		publish(job_id, SG_WAIT_LOCK, my_state.batch_blocks, delay);
	}
	else
	{
		SgJob	   *job = sg_job_load(job_id, true);

		if (job != NULL && sg_job_is_runnable(job))
		{
			sg_translate_error(job, edata);
			detail = error_detail(edata);
			sg_job_set_state(job_id, "failed", NULL, edata->message, detail);
		}
		consecutive_retries = 0;
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
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

/*
 * Run one statement at top level, in transactions of its own, as a client
 * would: CREATE INDEX CONCURRENTLY and DROP INDEX CONCURRENTLY refuse to
 * run inside a transaction block or a function.  The caller restores the
 * user after an error: the abort of an internal transaction the statement
 * started would restore the role it ran as.
 *
 * The parse and plan trees live in a context of their own, as a backend's
 * live in MessageContext: those statements commit transactions of their
 * own, and the trees must outlive them (the utility hook reads them after
 * the statement).
 */
static void
exec_toplevel(Oid role, const char *sql)
{
	static MemoryContext statement_cxt = NULL;
	Oid			save_userid;
	int			save_sec_context;
	List	   *raw;
	List	   *plans;
	Portal		portal;
	DestReceiver *receiver;
	QueryCompletion qc;
	MemoryContext old;

	if (statement_cxt == NULL)
		statement_cxt = AllocSetContextCreate(TopMemoryContext,
											  "schema_guard top-level statement",
											  ALLOCSET_DEFAULT_SIZES);
	else
		MemoryContextReset(statement_cxt);

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SetUserIdAndSecContext(role, save_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	pgstat_report_activity(STATE_RUNNING, sql);
	old = MemoryContextSwitchTo(statement_cxt);

	raw = pg_parse_query(sql);
	if (list_length(raw) != 1)
		elog(ERROR, "schema_guard runs one statement at a time: %s", sql);
	plans = pg_plan_queries(sg_analyze_and_rewrite(linitial_node(RawStmt, raw), sql),
							sql, CURSOR_OPT_PARALLEL_OK, NULL);
	MemoryContextSwitchTo(old);
	portal = CreatePortal("", true, true);
	portal->visible = false;
	PortalDefineQuery(portal, NULL, sql,
					  CreateCommandTag(linitial_node(RawStmt, raw)->stmt),
					  plans, NULL);
	PortalStart(portal, NULL, 0, InvalidSnapshot);
	receiver = CreateDestReceiver(DestNone);
	(void) PortalRun(portal, FETCH_ALL, true, true, receiver, receiver, &qc);
	receiver->rDestroy(receiver);
	PortalDrop(portal, false);

	SetUserIdAndSecContext(save_userid, save_sec_context);
	CommitTransactionCommand();
}

/*
 * The index phase: build the next UNIQUE or PRIMARY KEY index concurrently,
 * first dropping what a failed build left INVALID.  When the build fails
 * (a duplicate key) its leftover is dropped too, and the job fails with
 * PostgreSQL's error.  Runs at top level, in transactions of its own.
 */
static int
run_index_step(int64 job_id, MemoryContext loopcxt)
{
	volatile int delay = 0;
	Oid			save_userid;
	int			save_sec_context;
	char	   *drop_sql = NULL;
	char	   *build_sql = NULL;
	Oid			role = InvalidOid;
	bool		invalid = false;
	SgJob	   *job;
	SgStepResult result;

	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	memset(&result, 0, sizeof(result));
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	job = sg_job_load(job_id, true);
	if (job != NULL && sg_job_is_runnable(job) && strcmp(job->phase, "index") == 0 &&
		!end_if_gone(job, &result))
	{
		SgJobConstraint *con = sg_next_index(job, &invalid);

		publish(job_id, SG_WAIT_NONE, job->batch_blocks, 0);
		if (con == NULL)
			(void) sg_job_advance(job, sg_phase_after(job, "index"), NULL, NULL);
		else
		{
			role = job->role;
			drop_sql = MemoryContextStrdup(loopcxt,
										   psprintf("DROP INDEX CONCURRENTLY IF EXISTS %s",
													quote_qualified_identifier(get_namespace_name(get_rel_namespace(job->relid)),
																			   con->conname)));
			build_sql = MemoryContextStrdup(loopcxt, con->index_sql);
		}
	}
	PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(loopcxt);
	if (build_sql == NULL)
		return 0;

	PG_TRY();
	{
		if (invalid)
			exec_toplevel(role, drop_sql);
		exec_toplevel(role, build_sql);
	}
	PG_CATCH();
	{
		ErrorData  *edata = recover_from_error(job_id, loopcxt);

		SetUserIdAndSecContext(save_userid, save_sec_context);
		PG_TRY();
		{
			exec_toplevel(role, drop_sql);
		}
		PG_CATCH();
		{
			FlushErrorState();
			AbortCurrentTransaction();
			PortalErrorCleanup();
			SetUserIdAndSecContext(save_userid, save_sec_context);
		}
		PG_END_TRY();
		delay = after_step_error(job_id, edata);
	}
	PG_END_TRY();
	MemoryContextSwitchTo(loopcxt);
	pgstat_report_activity(STATE_IDLE, NULL);
	return delay;
}

/* Run one step of a job; return how long to wait before the next one. */
static int
run_step(int64 job_id, MemoryContext loopcxt)
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
		if (job != NULL && sg_job_is_runnable(job))
		{
			why = dispatch(job, &result, &wait_ms);
			if (why != SG_WAIT_NONE)
				delay = wait_ms;
			else if (result.batch)
			{
				delay = sg_job_batch_delay(job);
				why = delay > 0 ? SG_WAIT_DELAY : SG_WAIT_NONE;
			}
		}
		PopActiveSnapshot();
		if (result.committed)
			CommitTransactionCommand();
		else
			AbortCurrentTransaction();
		if (retrying_job == job_id && why != SG_WAIT_LOCK)
			consecutive_retries = 0;
		if (job != NULL)
			publish(job_id, why, job->batch_blocks, delay);
	}
	PG_CATCH();
	{
		delay = after_step_error(job_id, recover_from_error(job_id, loopcxt));
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
		bool		index_phase;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		MemoryContextReset(loopcxt);
		MemoryContextSwitchTo(loopcxt);

		job_id = next_runnable_job(first, &index_phase);
		MemoryContextSwitchTo(loopcxt);
		/* the naptime looks again only while jobs are unfinished */
		sg_worker_set_known(job_id > 0);
		if (job_id <= 0)
			break;

		delay = index_phase ? run_index_step(job_id, loopcxt)
			: run_step(job_id, loopcxt);
		if (delay > 0)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 delay, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	proc_exit(0);
}
