/*-------------------------------------------------------------------------
 *
 * integrity.h
 *	  What a sound job is.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_INTEGRITY_H
#define SG_INTEGRITY_H

#include "job.h"

extern char *sg_job_integrity_problem(SgJob *job);
extern char *sg_job_problem_now(SgJob *job);
extern char *sg_job_changed_object_problem(SgJob *job, List *changed);

#endif							/* SG_INTEGRITY_H */
