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

#include "access/heapam.h"
#include "access/xlog.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "storage/freespace.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "util.h"
#include "settings.h"
#include "throttle.h"

int
sg_next_batch_blocks(SgJob *job, const SgStepResult *result)
{
	double		target = job->batch_time > 0 ? job->batch_time : sg_batch_time_ms;
	double		current = Max(job->batch_blocks, 1);
	double		next;
	int			lo = sg_batch_min_blocks;
	int			hi = Max(sg_batch_min_blocks, sg_batch_max_blocks);

	if (result->blocks <= 0)
		return (int) current;
	if (result->elapsed_ms <= 0.1)
		next = current * 1.5;
	else
		next = current * target / result->elapsed_ms;

	/* grow gently, shrink fast */
	next = Min(next, ceil(current * 1.5));
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
