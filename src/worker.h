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
} SgStepResult;

/* backfill.c */
extern void sg_backfill_step(SgJob *job, SgStepResult *result);

/* finalize.c */
extern const char *sg_phase_after(SgJob *job, const char *from);
extern void sg_finalize_validate(SgJob *job, SgStepResult *result);
extern SgJobConstraint *sg_next_index(SgJob *job, bool *invalid);
extern void sg_finalize_complete(SgJob *job, SgStepResult *result);
extern void sg_translate_error(SgJob *job, ErrorData *edata);

/* worker.c: run SQL on the user's table as the job's role */
extern int	sg_exec_as_job_role(SgJob *job, const char *sql, bool read_only);
extern bool sg_job_advance(SgJob *job, const char *phase, const char *state,
						   const char *detail);

/* throttle.c */
extern int	sg_next_batch_blocks(SgJob *job, const SgStepResult *result);
extern int	sg_job_batch_delay(SgJob *job);
extern SgWaitReason sg_throttle_before_batch(SgJob *job, int *wait_ms);
extern void sg_throttle_account_wal(XLogRecPtr before, XLogRecPtr after);
extern void sg_reclaim_space(Relation rel, BlockNumber start, BlockNumber end);

#endif							/* SG_WORKER_H */
