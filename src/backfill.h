/*-------------------------------------------------------------------------
 *
 * backfill.h
 *	  One batch of a job's backfill.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_BACKFILL_H
#define SG_BACKFILL_H

#include "job.h"
#include "step.h"

extern void sg_backfill_step(SgJob *job, SgStepResult *result);

#endif							/* SG_BACKFILL_H */
