/*-------------------------------------------------------------------------
 *
 * job_revert.h
 *	  Undoing a job's statement.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_REVERT_H
#define SG_JOB_REVERT_H

#include "job.h"

/* Runs one of the revert's statements, as the caller decides. */
typedef void (*SgRevertRun) (SgJob *job, const char *sql);

extern const char *sg_job_revert(SgJob *job, SgRevertRun run);

#endif							/* SG_JOB_REVERT_H */
