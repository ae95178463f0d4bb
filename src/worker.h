/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  What one step of a job (a backfill batch or a finalize step) reports
 *	  back to the worker loop, and the helpers steps share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_WORKER_H
#define SG_WORKER_H

#include "access/xlogdefs.h"
#include "storage/block.h"
#include "utils/relcache.h"

#include "job.h"
#include "launcher.h"

typedef struct SgStepResult
{
	bool		committed;		/* false: the job changed state meanwhile */
	int64		rows;			/* rows filled */
	int64		blocks;			/* blocks covered */
	double		elapsed_ms;		/* time spent in the batch statement */
	bool		batch;			/* a backfill batch (not a phase change) */
	Oid			build_index;	/* an index to build at top level, next */
	Oid			build_relid;	/* its table */
	Oid			build_role;		/* who builds it: the table's owner */
} SgStepResult;

/* backfill.c */
extern void sg_backfill_step(SgJob *job, SgStepResult *result);

/* finalize.c */
extern const char *sg_phase_after(SgJob *job, const char *from);
extern void sg_finalize_validate(SgJob *job, SgStepResult *result);
extern SgJobObject *sg_next_index(SgJob *job);
extern void sg_finalize_complete(SgJob *job, SgStepResult *result);
extern void sg_translate_error(SgJob *job, ErrorData *edata);

/* worker.c: run SQL on the user's table as its owner */
extern int	sg_exec_as_owner(SgJob *job, const char *sql, bool read_only);
extern int	sg_exec_batch(SgJob *job, const char *sql);
extern bool sg_job_advance(SgJob *job, const char *phase, const char *state,
						   const char *detail);

/* throttle.c */
extern int	sg_next_batch_blocks(SgJob *job, const SgStepResult *result);
extern int	sg_job_batch_delay(SgJob *job);
extern SgWaitReason sg_throttle_before_batch(SgJob *job, int *wait_ms);
extern void sg_throttle_account_wal(XLogRecPtr before, XLogRecPtr after);
extern void sg_reclaim_space(Relation rel, BlockNumber start, BlockNumber end);

#endif							/* SG_WORKER_H */
