/*-------------------------------------------------------------------------
 *
 * bind.h
 *	  Where a job's references are valid; binding it again elsewhere.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_BIND_H
#define SG_BIND_H

#include "job.h"

extern char *sg_cluster_binding(void);
extern bool sg_job_is_bound(const SgJob *job);
extern void sg_job_rebind(SgJob *job);

#endif							/* SG_BIND_H */
