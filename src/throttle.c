/*-------------------------------------------------------------------------
 *
 * throttle.c
 *	  Keep the backfill from hurting production: batch size, pauses,
 *	  standby lag, WAL rate, and the space old row versions take.
 *
 * Batches are sized to take schema_guard.batch_time: the size follows the
 * last batch's speed, shrinking at once when a batch ran long and growing
 * by at most half when it ran short, within the configured bounds.  A job
 * may override the target time and the delay between batches.
 *
 * Before a batch the worker holds back while a streaming standby replays
 * more than schema_guard.max_replication_lag behind, or while the
 * backfill's own WAL exceeds schema_guard.max_wal_rate.
 *
 * The worker yields to the application (schema_guard.yield_to_load).  It
 * watches four signals, each cheap to read between batches: whether its
 * last batch made anyone wait for a row lock (the cost it imposes, seen
 * directly); whether client backends are running statements (the
 * application is there at all); how much of the CPU time the worker left
 * free the other processes used (from /proc/stat and the worker's own
 * rusage: whether the application needs the CPU); and how long a batch's
 * commit record takes to reach the disk, flushed by the application's own
 * commits, which wait behind the backfill's WAL (whether the application
 * needs the disk).  While the application is there, batches are kept
 * short, so that a transaction that meets a row of the batch in flight
 * waits milliseconds; CPU used by others counts only then, so that
 * autovacuum or a checkpoint on an idle machine does not slow the job.
 * While the application needs the machine (it waited, used most of the
 * CPU left to it, or the flush was slow), the worker runs only a share of
 * the time (its duty cycle), halving towards schema_guard.min_backfill_share
 * and growing back as the load goes.  At idle it runs at full speed, with
 * batches of schema_guard.batch_time.  Index builds start parallel workers
 * only at idle: those run at the server's priority, not the worker's; and
 * their WAL is compressed, since the application's commits wait behind it.
 *
 * Every backfilled row leaves its old version behind.  A plain UPDATE of a
 * whole table doubles it; here the pages a committed batch emptied are
 * pruned and their free space recorded in the free space map before the
 * next batch runs, so the next batch's new row versions reuse them instead
 * of extending the table.  Pruning needs no index work and takes no lock
 * beyond a buffer pin; VACUUM later removes the dead line pointers.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>
#include <sys/resource.h>
#include <unistd.h>

#include "access/heapam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "storage/latch.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "util.h"
#include "settings.h"
#include "throttle.h"

/*
 * The load the worker yields to: above this share of the CPU time the
 * worker leaves free, the application is taken to need the machine.
 */
#define LOAD_HIGH			0.80
#define LOAD_LOW			0.60
/* the longest batch while the application needs the machine */
#define LOAD_BATCH_TIME_MS	20.0

/*
 * A WAL flush after a batch that takes this long means the disk, not the
 * CPU, is what the application waits for: its commits queue behind the
 * backfill's WAL.
 */
#define SLOW_FLUSH_MS		10.0
/* how long to watch for it at most */
#define MAX_FLUSH_WATCH_MS	100

/*
 * How long the application counts as present after it was last seen: a
 * few samples, so that sessions between two statements still count.
 */
#define APP_LINGER_MS		1000

/* The worker's duty cycle: the share of time it runs batches. */
static double duty = 1.0;
static bool under_load = false;
/* when the application was last seen at work; 0: not yet */
static TimestampTz app_seen_at = 0;
/* how long flushing the WAL took after the last batch committed */
static double last_flush_ms = 0;

/* Has the application been seen at work within the last APP_LINGER_MS? */
static bool
application_present(void)
{
	return app_seen_at != 0 &&
		!TimestampDifferenceExceeds(app_seen_at, GetCurrentTimestamp(), APP_LINGER_MS);
}

/*
 * Sleep the whole of ms, however often the latch is set meanwhile; a
 * latch set during the sleep stays set, for the worker's main loop.
 */
static void
sleep_keeping_latch(long ms)
{
	TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
	bool		was_set = false;
	long		left;

	while ((left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end)) > 0)
	{
		int			rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								   left, PG_WAIT_EXTENSION);

		if (rc & WL_LATCH_SET)
		{
			ResetLatch(MyLatch);
			was_set = true;
		}
		CHECK_FOR_INTERRUPTS();
	}
	if (was_set)
		SetLatch(MyLatch);
}

int
sg_next_batch_blocks(SgJob *job, const SgStepResult *result)
{
	double		target = job->batch_time > 0 ? job->batch_time : sg_batch_time_ms;
	double		current = Max(job->batch_blocks, 1);
	double		next;
	int			lo = sg_batch_min_blocks;
	int			hi = Max(sg_batch_min_blocks, sg_batch_max_blocks);

	/*
	 * While the application is at work, a batch holds its row locks briefly;
	 * a job's own batch time is the operator's choice, and stays.
	 */
	if (job->batch_time <= 0 && (under_load || application_present()))
		target = Min(target, LOAD_BATCH_TIME_MS);
	if (result->blocks <= 0)
		return (int) current;
	if (result->elapsed_ms <= 0.1)
		next = result->blocks * 1.5;
	else
		next = result->blocks * target / result->elapsed_ms;

	/*
	 * Grow gently, shrink fast.  A batch cut short towards a pass's end
	 * (backfill.c) says nothing of how a longer one would go.
	 */
	next = Min(next, ceil(current * 1.5));
	if (result->blocks < current)
		next = Min(next, current);
	next = Max(next, floor(current / 4));
	return (int) Max(lo, Min(hi, next));
}

int
sg_job_batch_delay(SgJob *job)
{
	return job->batch_delay >= 0 ? job->batch_delay : sg_batch_delay_ms;
}

/* How far the furthest-behind streaming standby is from replaying our WAL. */
static int64
replication_lag_bytes(void)
{
	int64		lag = 0;

	sg_spi_connect();
	if (SPI_execute("SELECT COALESCE(pg_catalog.max(pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)), 0)::pg_catalog.int8 "
					"FROM pg_catalog.pg_stat_replication WHERE replay_lsn IS NOT NULL",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		bool		isnull;

		lag = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
										  SPI_tuptable->tupdesc, 1, &isnull));
	}
	sg_spi_finish();
	return lag;
}

/* WAL the backfill wrote in the current accounting window. */
static int64 wal_window_bytes = 0;
static TimestampTz wal_window_start = 0;

void
sg_throttle_account_wal(XLogRecPtr before, XLogRecPtr after)
{
	/* without a limit nothing is owed: a limit set later starts afresh */
	if (sg_max_wal_rate_kb <= 0 || wal_window_start == 0)
	{
		wal_window_bytes = 0;
		wal_window_start = GetCurrentTimestamp();
		if (sg_max_wal_rate_kb <= 0)
			return;
	}
	if (after > before)
		wal_window_bytes += (int64) (after - before);
}

/* Milliseconds to wait until the WAL written so far fits the rate limit. */
static long
wal_rate_wait_ms(void)
{
	double		rate = (double) sg_max_wal_rate_kb * 1024.0;	/* bytes/s */
	double		elapsed;
	double		allowed;

	if (sg_max_wal_rate_kb <= 0 || wal_window_start == 0)
		return 0;
	elapsed = (double) (GetCurrentTimestamp() - wal_window_start) / USECS_PER_SEC;
	allowed = rate * elapsed;
	if (elapsed > 10.0)
	{
		/* slide the window, keeping any debt */
		wal_window_bytes = (int64) Max(0.0, wal_window_bytes - allowed);
		wal_window_start = GetCurrentTimestamp();
		allowed = 0;
	}
	if (wal_window_bytes <= allowed)
		return 0;
	return (long) Min(((wal_window_bytes - allowed) / rate) * 1000.0 + 1, 10000.0);
}

/*
 * CPU seconds the whole machine spent busy, and this process, since boot
 * and since it started; false where /proc/stat cannot be read.
 */
static bool
read_cpu_seconds(double *busy, double *self)
{
	FILE	   *f = fopen("/proc/stat", "r");
	unsigned long long v[8] = {0};
	int			n;
	struct rusage ru;
	long		ticks = sysconf(_SC_CLK_TCK);

	if (f == NULL)
		return false;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			   &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n < 5 || ticks <= 0 || getrusage(RUSAGE_SELF, &ru) != 0)
		return false;
	/* user, nice, system, irq, softirq, steal: all but idle and iowait */
	*busy = (double) (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / ticks;
	*self = ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
	return true;
}

/*
 * The share of the CPU time this worker left free that other processes
 * used since the last call; -1 when it cannot be told (the first call, no
 * /proc/stat, less than 50 ms since the last call).
 */
static double
others_load(void)
{
	static double last_busy = -1;
	static double last_self;
	static TimestampTz last_at;
	double		busy;
	double		self;
	double		load = -1;
	TimestampTz now = GetCurrentTimestamp();
	long		ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	if (!read_cpu_seconds(&busy, &self))
		return -1;
	if (last_busy >= 0 && now - last_at >= 50 * 1000L)
	{
		double		wall = (double) (now - last_at) / USECS_PER_SEC;
		double		mine = Max(0.0, self - last_self);
		double		others = Max(0.0, (busy - last_busy) - mine);
		double		free_for_others = Max(Max(ncpu, 1) * wall - mine, 0.01);

		load = Min(1.0, others / free_for_others);
	}
	if (load >= 0 || last_busy < 0 || now - last_at >= 50 * 1000L)
	{
		last_busy = busy;
		last_self = self;
		last_at = now;
	}
	return load;
}

/*
 * What the application is doing, sampled before each batch commits:
 * backends waiting now for a lock this backend holds (transactions that
 * met a row of the batch in flight), and client backends running a
 * statement (other than waiting for a job, or sleeping).  A session that
 * runs a statement now and then (a DBA watching progress) is seldom caught
 * running one; an application's sessions are caught on most samples.
 */
void
sg_throttle_observe(SgStepResult *result)
{
	bool		isnull;

	result->waiters = 0;
	result->app_backends = 0;
	if (!sg_yield_to_load)
		return;
	sg_spi_connect();
	if (SPI_execute("SELECT pg_catalog.count(*) FILTER (WHERE wait_event_type OPERATOR(pg_catalog.=) 'Lock' "
					"AND pg_catalog.pg_backend_pid() OPERATOR(pg_catalog.=) "
					"ANY (pg_catalog.pg_blocking_pids(pid)))::pg_catalog.int4, "
					"pg_catalog.count(*) FILTER (WHERE backend_type OPERATOR(pg_catalog.=) 'client backend' "
					"AND state OPERATOR(pg_catalog.=) 'active' "
					"AND pid OPERATOR(pg_catalog.<>) pg_catalog.pg_backend_pid() "
					"AND wait_event_type IS DISTINCT FROM 'Extension' "
					"AND wait_event_type IS DISTINCT FROM 'Timeout')::pg_catalog.int4 "
					"FROM pg_catalog.pg_stat_activity",
					true, 1) == SPI_OK_SELECT && SPI_processed == 1)
	{
		result->waiters = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
													  SPI_tuptable->tupdesc, 1, &isnull));
		result->app_backends = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0],
														   SPI_tuptable->tupdesc, 2, &isnull));
	}
	sg_spi_finish();
	if (result->waiters > 0 || result->app_backends > 0)
		app_seen_at = GetCurrentTimestamp();
}

/*
 * After a batch: how long to yield to the application, in ms, beyond the
 * configured pause.  The duty cycle halves while the application needs
 * the machine (its processes use most of the CPU the worker leaves, or
 * the batch made some of them wait), down to min_backfill_share so that
 * the job still ends, and grows back by a quarter when the load is gone.
 */
int
sg_throttle_yield_ms(const SgStepResult *result, char **event, char **detail)
{
	double		load;
	double		floor_share = sg_min_backfill_share / 100.0;
	bool		was_under_load = under_load;
	bool		slow_disk;

	*event = *detail = NULL;
	if (!sg_yield_to_load)
	{
		duty = 1.0;
		under_load = false;
		return 0;
	}
	/* CPU others use counts only while the application is at work */
	load = others_load();
	if (!application_present())
		load = Min(load, 0.0);
	slow_disk = application_present() && last_flush_ms >= SLOW_FLUSH_MS;
	if (load >= LOAD_HIGH || result->waiters > 0 || slow_disk)
	{
		under_load = true;
		duty = Max(floor_share, duty / 2);
	}
	else if (load >= 0 && load < LOAD_LOW)
	{
		duty = Min(1.0, duty * 1.25 + 0.05);
		under_load = duty < 1.0;
	}
	if (under_load && !was_under_load)
	{
		*event = "yielding to the application's load";
		*detail = psprintf("Other processes used %.0f%% of the CPU time left to them, %d waited for the last batch's row locks, and flushing the WAL after it took %.0f ms.",
						   Max(load, 0) * 100, result->waiters, last_flush_ms);
	}
	else if (!under_load && was_under_load)
		*event = "back to full speed";
	if (duty >= 1.0)
		return 0;
	return (int) Min(result->elapsed_ms * (1.0 - duty) / duty, 10000.0);
}

/*
 * After a batch committed (asynchronously, so that its row locks went at
 * once), while the application is at work: how long until the batch's
 * commit record is on disk.  The application's own commits flush it, and
 * wait for it behind the backfill's WAL: a slow flush is the disk telling
 * the worker to yield (sg_throttle_yield_ms), and waiting for it keeps the
 * worker from writing WAL faster than the disk takes it.  The worker only
 * watches; flushing itself would hold the WAL write lock at the worker's
 * lowered priority, making every commit wait for the scheduler.  An
 * application that commits asynchronously waits for no flush, and is
 * yielded to all the same where the flush is slow.
 */
void
sg_throttle_after_batch_commit(void)
{
	TimestampTz start = GetCurrentTimestamp();
	TimestampTz now = start;

	last_flush_ms = 0;
	if (!sg_yield_to_load || !application_present() || XLogRecPtrIsInvalid(XactLastCommitEnd))
		return;
	while (GetFlushRecPtr(NULL) < XactLastCommitEnd &&
		   !TimestampDifferenceExceeds(start, now, MAX_FLUSH_WATCH_MS))
	{
		sleep_keeping_latch(1);
		now = GetCurrentTimestamp();
	}
	/*
	 * Where nobody else wrote WAL since (a read-only application), no
	 * commit waits for this flush: the WAL writer makes it in its own time.
	 */
	if (GetXLogInsertRecPtr() > XactLastCommitEnd)
		last_flush_ms = (double) (now - start) / 1000.0;
}

/*
 * Before an index build or rebuild, outside a transaction.  CREATE INDEX's
 * sort may start parallel workers of its own, and they run at the
 * server's priority, not at the worker's lowered one: while the
 * application is at work the worker builds alone; at idle, with as many
 * parallel workers as the server allows.
 *
 * A build may last minutes, so one glance does not decide it.  The job
 * often starts the instant the session that staged it commits, while that
 * session, or a DBA's next statement, is still running: the application is
 * taken to be at work when it is seen on most of a few samples some
 * milliseconds apart, as its sessions are.
 */
#define BUILD_SAMPLES		3
#if defined(USE_LZ4)
#define BUILD_WAL_COMPRESSION	"lz4"
#elif defined(USE_ZSTD)
#define BUILD_WAL_COMPRESSION	"zstd"
#else
#define BUILD_WAL_COMPRESSION	"pglz"
#endif
#define BUILD_SAMPLE_GAP_MS	50

void
sg_throttle_before_build(void)
{
	MemoryContext cxt = CurrentMemoryContext;
	bool		alone = false;

	if (sg_yield_to_load)
	{
		int			seen = 0;

		for (int i = 0; i < BUILD_SAMPLES; i++)
		{
			SgStepResult sample = {0};

			if (i > 0)
				sleep_keeping_latch(BUILD_SAMPLE_GAP_MS);
			StartTransactionCommand();
			PushActiveSnapshot(GetTransactionSnapshot());
			sg_throttle_observe(&sample);
			PopActiveSnapshot();
			CommitTransactionCommand();
			MemoryContextSwitchTo(cxt);
			if (sample.waiters > 0 || sample.app_backends > 0)
				seen++;
		}
		alone = under_load || seen * 2 > BUILD_SAMPLES;
		ereport(DEBUG1,
				(errmsg_internal("schema_guard: the application was at work in %d of %d samples; building %s",
								 seen, BUILD_SAMPLES,
								 alone ? "without parallel workers" : "with parallel workers")));
	}
	/* NULL: back to the server's setting */
	SetConfigOption("max_parallel_maintenance_workers", alone ? "0" : NULL,
					PGC_SUSET, PGC_S_SESSION);

	/*
	 * A build WAL-logs every index page it writes as a full page image: for
	 * the primary key of a table of a million rows, a concurrent rebuild
	 * wrote 71 MB of WAL, 12 MB compressed with lz4, and took less time.
	 * The application's commits wait for that WAL to reach the disk, so the
	 * worker compresses it where the server does not already.
	 */
	if (wal_compression == WAL_COMPRESSION_NONE)
		SetConfigOption("wal_compression", BUILD_WAL_COMPRESSION,
						PGC_SUSET, PGC_S_SESSION);
}

/* After an index build or rebuild, on every path. */
void
sg_throttle_after_build(void)
{
	SetConfigOption("wal_compression", NULL, PGC_SUSET, PGC_S_SESSION);
}

/*
 * At the worker's start: lower its CPU priority to schema_guard.worker_nice,
 * so that where the application's processes and the worker both want a
 * CPU, the scheduler runs the application first.  A process may lower its
 * priority but not raise it again, so this is done once, and a priority
 * already lower is kept.
 */
void
sg_throttle_lower_priority(void)
{
	int			current;

	if (sg_worker_nice <= 0)
		return;
	errno = 0;
	current = getpriority(PRIO_PROCESS, 0);
	if (errno != 0 || current >= sg_worker_nice)
		return;
	if (setpriority(PRIO_PROCESS, 0, sg_worker_nice) != 0)
		ereport(LOG,
				(errmsg("schema_guard worker could not lower its CPU priority to %d: %m",
						sg_worker_nice)));
}

/*
 * Should the next batch wait, and for how long?  Returns SG_WAIT_NONE to
 * go ahead.
 */
SgWaitReason
sg_throttle_before_batch(SgJob *job, int *wait_ms)
{
	long		wal_wait;

	*wait_ms = 0;
	if (sg_max_replication_lag_kb > 0 &&
		replication_lag_bytes() > (int64) sg_max_replication_lag_kb * 1024)
	{
		*wait_ms = 500;
		return SG_WAIT_REPLICATION_LAG;
	}
	wal_wait = wal_rate_wait_ms();
	if (wal_wait > 0)
	{
		*wait_ms = (int) wal_wait;
		return SG_WAIT_WAL_RATE;
	}
	return SG_WAIT_NONE;
}

/*
 * Prune the pages [start, end) that committed batches emptied and record
 * their free space, so that new row versions go there.
 */
void
sg_reclaim_space(Relation rel, BlockNumber start, BlockNumber end)
{
	BufferAccessStrategy strategy;
	BlockNumber blkno;

	/* a VACUUM may have truncated the table below the range */
	end = Min(end, RelationGetNumberOfBlocks(rel));
	if (!sg_reclaim || start >= end)
		return;
	strategy = GetAccessStrategy(BAS_VACUUM);
	for (blkno = start; blkno < end; blkno++)
	{
		Buffer		buf;
		Size		freespace;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		heap_page_prune_opt(rel, buf);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		freespace = PageGetHeapFreeSpace(BufferGetPage(buf));
		UnlockReleaseBuffer(buf);
		RecordPageWithFreeSpace(rel, blkno, freespace);
	}
	FreeSpaceMapVacuumRange(rel, start, end);
	FreeAccessStrategy(strategy);
}
