/*-------------------------------------------------------------------------
 *
 * finalize.h
 *	  Validation, the indexes to build, and the end of a job.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_FINALIZE_H
#define SG_FINALIZE_H

#include "job.h"
#include "step.h"

extern void sg_finalize_validate(SgJob *job, SgStepResult *result);
extern SgJobObject *sg_next_index(SgJob *job);
extern void sg_validate_partitioned_indexes(SgJob *job);
extern void sg_finalize_complete(SgJob *job, SgStepResult *result);
extern void sg_translate_error(SgJob *job, ErrorData *edata);

#endif							/* SG_FINALIZE_H */
