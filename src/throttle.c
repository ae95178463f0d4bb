/*-------------------------------------------------------------------------
 *
 * throttle.c
 *	  How big the next backfill batch is, and how long to pause before it.
 *
 * Batches are sized to take schema_guard.batch_time: the size follows the
 * last batch's speed, shrinking at once when a batch ran long and growing
 * by at most half when it ran short, within the configured bounds.  A job
 * may override the target time and the delay.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "schema_guard.h"
#include "worker.h"

int
sg_next_batch_blocks(SgJob *job, const SgStepResult *result)
{
	double		target = job->batch_time > 0 ? job->batch_time : sg_batch_time_ms;
	double		current = Max(job->batch_blocks, 1);
	double		next;
	int			lo = Min(sg_batch_min_blocks, sg_batch_max_blocks);
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
