/*-------------------------------------------------------------------------
 *
 * settings.c
 *	  schema_guard's settings (GUCs): their variables, definitions and the
 *	  checks of those that depend on each other.
 *
 * Nothing here acts on a setting; the files that use one read its variable.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "utils/guc.h"

#include "compat.h"
#include "settings.h"

int			sg_mode = SG_MODE_REWRITE;
int			sg_on_failure = SG_ON_FAILURE_KEEP;
int			sg_min_table_size_kb = 1024;
int			sg_lock_timeout_ms = 100;
int			sg_lock_retries = 50;
int			sg_batch_time_ms = 200;
int			sg_batch_delay_ms = 20;
int			sg_batch_min_blocks = 1;
int			sg_batch_max_blocks = 4096;
bool		sg_reclaim = true;
bool		sg_reindex = true;
bool		sg_yield_to_load = true;
int			sg_min_backfill_share = 10;
int			sg_worker_nice = 10;
int			sg_max_replication_lag_kb = 64 * 1024;
int			sg_max_wal_rate_kb = 0;
int			sg_max_workers = 2;
int			sg_naptime_s = 30;


static const struct config_enum_entry on_failure_options[] = {
	{"keep", SG_ON_FAILURE_KEEP, false},
	{"revert", SG_ON_FAILURE_REVERT, false},
	{NULL, 0, false}
};

static const struct config_enum_entry mode_options[] = {
	{"rewrite", SG_MODE_REWRITE, false},
	{"warn", SG_MODE_WARN, false},
	{"block", SG_MODE_BLOCK, false},
	{"off", SG_MODE_OFF, false},
	{NULL, 0, false}
};

/*
 * The smallest batch may not be larger than the largest.  Each bound is
 * checked against the other's value at the time; changing both the wrong
 * way in one reload is refused for one of them, and the log says which.
 */
static bool
check_batch_min_blocks(int *newval, void **extra, GucSource source)
{
	if (*newval > sg_batch_max_blocks)
	{
		GUC_check_errdetail("schema_guard.batch_min_blocks (%d) must not be larger than schema_guard.batch_max_blocks (%d).",
							*newval, sg_batch_max_blocks);
		return false;
	}
	return true;
}

static bool
check_batch_max_blocks(int *newval, void **extra, GucSource source)
{
	if (*newval < sg_batch_min_blocks)
	{
		GUC_check_errdetail("schema_guard.batch_max_blocks (%d) must not be smaller than schema_guard.batch_min_blocks (%d).",
							*newval, sg_batch_min_blocks);
		return false;
	}
	return true;
}

/* What schema_guard does with a statement and a failed job, and how statements wait for locks. */
static void
define_session_settings(void)
{
	DefineCustomEnumVariable("schema_guard.mode",
							 "What to do with a statement (ADD COLUMN, CREATE INDEX, ...) that would lock a table while PostgreSQL rewrites, scans or indexes it.",
							 "rewrite stages it online, warn runs it as written with a warning, "
							 "block refuses it, off behaves exactly like PostgreSQL without schema_guard.",
							 &sg_mode, SG_MODE_REWRITE, mode_options,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("schema_guard.on_failure",
							 "What a job does when it fails: keep its helpers for retry(), or revert the statement.",
							 "keep leaves the job failed, as it stopped, for schema_guard.retry(); "
							 "revert undoes the statement as schema_guard.revert() does, leaving the table as it was before it.",
							 &sg_on_failure, SG_ON_FAILURE_KEEP, on_failure_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.min_table_size",
							"Tables smaller than this get the plain ALTER, whose lock is then short anyway.",
							"For a partitioned table the sizes of all its partitions count.",
							&sg_min_table_size_kb, 1024, 0, INT_MAX,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.lock_timeout",
							"How long one attempt to take a table lock may wait before it gives up the wait and retries.",
							"Applies to the ALTER TABLE itself and to every lock the background worker takes, "
							"so that other sessions never queue behind schema_guard for longer than this.",
							&sg_lock_timeout_ms, 100, 1, INT_MAX,
							PGC_USERSET, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.lock_retries",
							"How many times a lock wait that timed out is retried before giving up.",
							NULL,
							&sg_lock_retries, 50, 0, 10000,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/* How the background work runs. */
static void
define_background_settings(void)
{
	DefineCustomIntVariable("schema_guard.batch_time",
							"Target duration of one backfill batch; the batch size adapts to it.",
							NULL,
							&sg_batch_time_ms, 200, 1, 60000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.batch_delay",
							"Pause between two backfill batches.",
							NULL,
							&sg_batch_delay_ms, 20, 0, 3600000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	/* the largest first: the smallest is checked against it */
	DefineCustomIntVariable("schema_guard.batch_max_blocks",
							"Largest backfill batch, in table blocks.",
							NULL,
							&sg_batch_max_blocks, 4096, 1, 1048576,
							PGC_SIGHUP, 0, check_batch_max_blocks, NULL, NULL);

	DefineCustomIntVariable("schema_guard.batch_min_blocks",
							"Smallest backfill batch, in table blocks.",
							NULL,
							&sg_batch_min_blocks, 1, 1, 1048576,
							PGC_SIGHUP, 0, check_batch_min_blocks, NULL, NULL);

	DefineCustomBoolVariable("schema_guard.yield_to_load",
							 "Slow the backfill down while the application needs the machine.",
							 "The worker measures the CPU time other processes use and the lock waits its batches cause, and runs only part of the time while they are high.",
							 &sg_yield_to_load, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.min_backfill_share",
							"Least share of the time the backfill runs while it yields to the application, in percent.",
							"The floor that makes a job end under any load.",
							&sg_min_backfill_share, 10, 1, 100,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.worker_nice",
							"CPU scheduling priority (nice value) the worker lowers itself to when it starts; 0 leaves it as it is.",
							"Where the application's processes want the CPU, the operating system gives it to them first; at idle the worker still runs at full speed.",
							&sg_worker_nice, 10, 0, 19,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("schema_guard.reindex",
							 "Rebuild the indexes of a table a job filled, concurrently, as its last phase.",
							 "A backfill leaves indexes larger than the table rewrite of the plain statement does; REINDEX INDEX CONCURRENTLY makes them as small, without blocking reads or writes.",
							 &sg_reindex, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomBoolVariable("schema_guard.reclaim",
							 "Make the space of the row versions a batch replaced reusable before the next batch.",
							 "Keeps the table from growing to twice its size during the backfill. Turn off only to measure what it saves.",
							 &sg_reclaim, true,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.max_replication_lag",
							"The backfill waits while a streaming standby's replay is further behind than this; 0 turns the check off.",
							NULL,
							&sg_max_replication_lag_kb, 64 * 1024, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.max_wal_rate",
							"Most WAL the backfill may generate per second, in kilobytes; 0 means no limit.",
							NULL,
							&sg_max_wal_rate_kb, 0, 0, INT_MAX,
							PGC_SIGHUP, GUC_UNIT_KB, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.max_workers",
							"Most backfill workers running at once, across all databases.",
							"Each worker also needs a free slot of max_worker_processes.",
							&sg_max_workers, 2, 1, 64,
							PGC_SIGHUP, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("schema_guard.naptime",
							"How often the launcher looks for runnable jobs it was not told about.",
							"Jobs are normally started at once when their ALTER commits; this catches the rest, "
							"such as jobs whose worker ended before finishing them.",
							&sg_naptime_s, 30, 1, 86400,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);
}

void
sg_define_settings(void)
{
	define_session_settings();
	define_background_settings();
	SG_RESERVE_GUC_PREFIX("schema_guard");
}

