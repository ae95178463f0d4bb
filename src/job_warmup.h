/*-------------------------------------------------------------------------
 *
 * job_warmup.h
 *	  Loading what recording a job needs, before the table lock.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_WARMUP_H
#define SG_JOB_WARMUP_H

extern void sg_warm_caches(void);

#endif							/* SG_JOB_WARMUP_H */
