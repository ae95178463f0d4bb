/*-------------------------------------------------------------------------
 *
 * backfill.c
 *	  One batch of a job's backfill: fill the rows of a range of blocks
 *	  whose stored tuples predate the job's columns.
 *
 * A batch is a single UPDATE over a ctid range (a TID range scan), as the
 * job's role, setting each column to the ADD COLUMN's own fill expression
 * (never the column's current default), evaluated by fill_value() from the
 * form the ALTER stored.  needs_fill() in its WHERE clause
 * applies the row rule to each stored tuple, and again to the newest
 * version when a concurrent update intervened, so values the application
 * wrote after the ALTER, explicit NULLs included, are never overwritten.
 * The cursor moves in the same transaction.
 *
 * The UPDATE runs as the table rewrite runs (exec.c): no rule of the table
 * applies to it and none of its triggers fires, whatever they are enabled
 * for, so nothing can keep a row from its value or give it another one.
 * And each batch checks, in its own transaction, that no row of its blocks
 * still lacks the column: a batch that left one fails the job, loudly.
 *
 * Pass 1 covers the blocks that existed when the ALTER committed.  Pass 2
 * (the verify phase) covers the whole table once more, with the same check
 * after each batch, and at its end the blocks added since it started are
 * checked too: a job never leaves the backfill with a row that predates its
 * columns.  Every block range is clamped to the table's size of the moment,
 * which a VACUUM after a DELETE may have reduced.
 *
 * The leaves are the tables that stored rows when the ALTER ran.  A
 * partition created since has the column in every row; one attached since
 * got its column by its own DDL, and its rows' values are its own: neither
 * is filled.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/nodes.h"
#include "portability/instr_time.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"

#include "schema_guard.h"
#include "backfill.h"
#include "exec.h"
#include "job.h"
#include "job_leaves.h"
#include "job_lookup.h"
#include "settings.h"
#include "throttle.h"
#include "util.h"

/*
 * How many rows of blocks [start, end) of rel that are visible now are
 * stored as tuples formed before column attnum existed.
 */
static int64
rows_predating(Relation rel, BlockNumber start, BlockNumber end, AttrNumber attnum)
{
	BufferAccessStrategy strategy = GetAccessStrategy(BAS_BULKREAD);
	Snapshot	snapshot;
	BlockNumber blkno;
	int64		count = 0;

	end = Min(end, RelationGetNumberOfBlocks(rel));
	/* the transaction's own updates too */
	CommandCounterIncrement();
	snapshot = RegisterSnapshot(GetLatestSnapshot());
	for (blkno = start; blkno < end; blkno++)
	{
		Buffer		buf;
		Page		page;
		OffsetNumber off;

		CHECK_FOR_INTERRUPTS();
		buf = ReadBufferExtended(rel, MAIN_FORKNUM, blkno, RBM_NORMAL, strategy);
		LockBuffer(buf, BUFFER_LOCK_SHARE);
		page = BufferGetPage(buf);
		for (off = FirstOffsetNumber; off <= PageGetMaxOffsetNumber(page); off++)
		{
			ItemId		id = PageGetItemId(page, off);
			HeapTupleData tuple;

			if (!ItemIdIsNormal(id))
				continue;
			tuple.t_data = (HeapTupleHeader) PageGetItem(page, id);
			tuple.t_len = ItemIdGetLength(id);
			tuple.t_tableOid = RelationGetRelid(rel);
			ItemPointerSet(&tuple.t_self, blkno, off);
			if (HeapTupleHeaderGetNatts(tuple.t_data) < attnum &&
				HeapTupleSatisfiesVisibility(&tuple, snapshot, buf))
				count++;
		}
		UnlockReleaseBuffer(buf);
	}
	UnregisterSnapshot(snapshot);
	FreeAccessStrategy(strategy);
	return count;
}

/*
 * Fail the job if rows of blocks [start, end) of the leaf still lack the
 * column.  Nothing can keep the batch's UPDATE from a row (no rule or
 * trigger applies to it), so this never happens; if it did, the job must
 * not go on as if the rows were filled.
 */
static void
check_filled(SgJob *job, SgJobLeaf *leaf, BlockNumber start, BlockNumber end)
{
	Relation	rel = relation_open(leaf->relid, NoLock);
	int64		left = rows_predating(rel, start, end, leaf->min_attnum);

	if (left > 0)
		elog(ERROR, "schema_guard job %lld left %lld rows of table \"%s\" in blocks %u to %u without their value",
			 (long long) job->job_id, (long long) left, RelationGetRelationName(rel), start, end);
	relation_close(rel, NoLock);
}

static char *
batch_sql(SgJob *job, SgJobLeaf *leaf, BlockNumber start, BlockNumber end)
{
	StringInfoData buf;
	ListCell   *lc;
	bool		first = true;

	initStringInfo(&buf);
	appendStringInfo(&buf, "UPDATE ONLY %s SET ", sg_qualified_relname(leaf->relid));
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = sg_column_name(job->relid, col->attnum);

		if (name == NULL)
			continue;			/* dropped meanwhile */
		/* the expression the ALTER cooked, not its text read again */
		appendStringInfo(&buf, "%s%s = schema_guard.fill_value(%lld, '%d'::pg_catalog.int2, "
						 "'%u'::pg_catalog.regclass, NULL::%s)",
						 first ? "" : ", ", quote_identifier(name), (long long) job->job_id,
						 col->attnum, leaf->relid,
						 format_type_extended(get_atttype(job->relid, col->attnum), -1,
											  FORMAT_TYPE_FORCE_QUALIFY));
		first = false;
	}
	appendStringInfo(&buf,
					 " WHERE ctid >= '(%u,0)'::pg_catalog.tid AND ctid < '(%u,0)'::pg_catalog.tid"
					 " AND schema_guard.needs_fill('%u'::pg_catalog.regclass, ctid, '%d'::pg_catalog.int2)",
					 start, end, leaf->relid, leaf->min_attnum);
	return first ? NULL : buf.data;
}

/*
 * The start of the range whose pages committed batches emptied and that is
 * not reclaimed yet.  Kept in the worker only: after a restart the pages
 * before the cursor are left to pruning on access and to VACUUM.
 */
static int64 reclaim_job = 0;
static Oid	reclaim_rel = InvalidOid;
static BlockNumber reclaim_from = 0;

static void
reclaim_processed(SgJob *job, SgJobLeaf *leaf, Relation rel, BlockNumber upto)
{
	if (leaf->pass != 1)
		return;
	if (reclaim_job == job->job_id && reclaim_rel == leaf->relid &&
		reclaim_from < upto)
		sg_reclaim_space(rel, reclaim_from, upto);
	reclaim_job = job->job_id;
	reclaim_rel = leaf->relid;
	reclaim_from = upto;
}

static SgJobLeaf *
next_leaf(SgJob *job)
{
	ListCell   *lc;

	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);

		if (!leaf->done)
			return leaf;
	}
	return NULL;
}

/* Every leaf done with pass 1: cover the whole table once more. */
static void
start_verify_pass(SgJob *job, SgStepResult *result)
{
	List	   *end_blocks = NIL;
	ListCell   *lc;

	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		Relation	rel = try_relation_open(leaf->relid, AccessShareLock);
		int64		nblocks = 0;

		if (rel)
		{
			nblocks = RelationGetNumberOfBlocks(rel);
			reclaim_processed(job, leaf, rel, (BlockNumber) leaf->end_block);
			relation_close(rel, AccessShareLock);
		}
		end_blocks = lappend_int(end_blocks, (int) nblocks);
	}
	sg_job_restart_leaves(job, end_blocks);
	result->committed =
		sg_job_advance(job, SG_PHASE_VERIFY, SG_STATE_UNCHANGED,
					   psprintf("first pass done with batches of %d blocks", job->batch_blocks));
}

/*
 * The verify pass is done: its batches checked the blocks it covered; the
 * blocks added to each table since it started are checked now.
 */
static void
finish_backfill(SgJob *job, SgStepResult *result)
{
	ListCell   *lc;

	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		Relation	rel = try_relation_open(leaf->relid, AccessShareLock);

		if (rel == NULL)
			continue;
		relation_close(rel, NoLock);
		check_filled(job, leaf, (BlockNumber) leaf->end_block, MaxBlockNumber);
	}
	result->committed = sg_job_advance(job, sg_phase_after(job, SG_PHASE_VERIFY), SG_STATE_UNCHANGED, NULL);
}

/*
 * A table file changed without schema_guard (VACUUM FULL, CLUSTER, a
 * rewriting ALTER, pg_repack): the tuples were formed anew, so rows that
 * still needed a value now look filled.  Fail loudly rather than finish as
 * if all were well.
 */
static void
check_not_rewritten(SgJob *job, SgJobLeaf *leaf, Relation rel)
{
	StringInfoData cols;
	ListCell   *lc;

	if (rel->rd_rel->relfilenode == leaf->relfilenode)
		return;
	initStringInfo(&cols);
	foreach(lc, job->columns)
		appendStringInfo(&cols, "%s\"%s\"", cols.len ? ", " : "",
						 ((SgJobColumn *) lfirst(lc))->colname);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" was rewritten outside schema_guard during job %lld",
					RelationGetRelationName(rel), (long long) job->job_id),
			 errdetail("Rows of column %s that were not filled yet may now read NULL, "
					   "and schema_guard can no longer tell them from values written since.",
					   cols.data),
			 errhint("Check the column for NULLs and fill them by hand, then end the job with schema_guard.cancel(%lld).",
					 (long long) job->job_id)));
}

/*
 * A pass's last batches are no smaller than this: a hole of 128 kB is left
 * at most, and a small table or partition is not filled a block at a time.
 */
#define TAIL_MIN_BLOCKS 16

/*
 * The blocks of the leaf's next batch.  Each batch's new row versions go
 * mostly into the pages the batch before it emptied (reclaimed, see
 * throttle.c); the pages the last batch empties stay empty, as a hole in
 * the finished table the size of that batch.  So towards a pass's end a
 * batch covers at most a quarter of the blocks left: the batches shrink,
 * each refilling most of what the one before emptied.
 */
static int64
tail_batch_blocks(SgJob *job, SgJobLeaf *leaf)
{
	int64		left = leaf->end_block - leaf->next_block;
	int64		blocks = Max(job->batch_blocks, 1);

	return Min(blocks, Max((left + 3) / 4, Max(sg_batch_min_blocks, TAIL_MIN_BLOCKS)));
}

void
sg_backfill_step(SgJob *job, SgStepResult *result)
{
	SgJobLeaf  *leaf;
	Relation	rel;
	BlockNumber start;
	BlockNumber end;
	BlockNumber nblocks;
	char	   *sql;
	instr_time	before;
	instr_time	after;
	XLogRecPtr	wal_before;

	leaf = next_leaf(job);
	if (leaf == NULL)
	{
		if (job->phase == SG_PHASE_BACKFILL && job->leaves != NIL)
			start_verify_pass(job, result);
		else
			finish_backfill(job, result);
		return;
	}

	/* the lock the UPDATE takes anyway, bounded by lock_timeout */
	rel = try_relation_open(leaf->relid, RowExclusiveLock);
	if (rel == NULL)
	{
		/* a partition or child dropped meanwhile: its rows are gone */
		sg_job_leaf_done(job, leaf);
		sg_job_event(job->job_id, "leaf dropped", psprintf("table %u", leaf->relid));
		return;
	}
	/*
	 * The job was read before the lock was granted: a TRUNCATE or SET
	 * TABLESPACE that held the table until just now may have given it a new
	 * file and had the job adopt it.  Then this step ends, and the next one
	 * reads the job as it is now.
	 */
	if (rel->rd_rel->relfilenode != leaf->relfilenode &&
		sg_job_leaf_file(job->job_id, leaf->relid) == rel->rd_rel->relfilenode)
	{
		relation_close(rel, NoLock);
		return;
	}
	check_not_rewritten(job, leaf, rel);

	start = (BlockNumber) leaf->next_block;
	end = (BlockNumber) Min(leaf->next_block + tail_batch_blocks(job, leaf),
							leaf->end_block);
	reclaim_processed(job, leaf, rel, start);
	/* past the table's end (a VACUUM truncated it) there is no row to fill */
	nblocks = RelationGetNumberOfBlocks(rel);
	if (start >= nblocks)
		end = (BlockNumber) leaf->end_block;
	sql = start < nblocks ? batch_sql(job, leaf, start, end) : NULL;
	relation_close(rel, NoLock);

	INSTR_TIME_SET_CURRENT(before);
	wal_before = GetXLogInsertRecPtr();
	result->rows = sql ? sg_exec_batch(job, sql) : 0;
	if (result->rows > 0)
		sg_throttle_observe(result);
	if (sql)
		check_filled(job, leaf, start, end);
	/*
	 * A batch lost in a crash is redone: its cursor is lost with it, and the
	 * row rule finds its rows unfilled.  So it need not wait for its WAL to
	 * reach the disk, which keeps its row locks short.
	 */
	sg_commit_without_flush();
	sg_throttle_account_wal(wal_before, GetXLogInsertRecPtr());
	INSTR_TIME_SET_CURRENT(after);
	INSTR_TIME_SUBTRACT(after, before);
	result->elapsed_ms = INSTR_TIME_GET_MILLISEC(after);
	result->blocks = end - start;
	result->batch = true;

	leaf->next_block = end;
	leaf->done = end >= leaf->end_block;
	result->committed =
		sg_job_save_cursor(job, leaf, leaf->pass == 1 ? result->blocks : 0,
						   result->rows, sg_next_batch_blocks(job, result));
}
