/*-------------------------------------------------------------------------
 *
 * job_leaves.h
 *	  The tables that store a job's rows, and the passes over them.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_LEAVES_H
#define SG_JOB_LEAVES_H

#include "job.h"

extern List *sg_job_make_leaves(Oid relid, bool recurse, List *columns);
extern void sg_job_leaf_done(SgJob *job, SgJobLeaf *leaf);
extern void sg_job_restart_leaves(SgJob *job, List *end_blocks);

#endif							/* SG_JOB_LEAVES_H */
