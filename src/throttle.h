/*-------------------------------------------------------------------------
 *
 * throttle.h
 *	  Batch size, pauses, the application's load, standby lag, WAL rate,
 *	  reclaimed space.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_THROTTLE_H
#define SG_THROTTLE_H

#include "access/xlogdefs.h"
#include "storage/block.h"
#include "utils/relcache.h"

#include "job.h"
#include "launcher.h"
#include "step.h"

extern int	sg_next_batch_blocks(SgJob *job, const SgStepResult *result);
extern int	sg_job_batch_delay(SgJob *job);
extern SgWaitReason sg_throttle_before_batch(SgJob *job, int *wait_ms);
extern void sg_throttle_observe(SgStepResult *result);
extern int	sg_throttle_yield_ms(const SgStepResult *result, char **event,
								 char **detail);
extern void sg_throttle_lower_priority(void);
extern void sg_throttle_before_build(void);
extern void sg_throttle_after_build(void);
extern void sg_throttle_after_batch_commit(void);
extern void sg_throttle_account_wal(XLogRecPtr before, XLogRecPtr after);
extern void sg_reclaim_space(Relation rel, BlockNumber start, BlockNumber end);

#endif							/* SG_THROTTLE_H */
