/*-------------------------------------------------------------------------
 *
 * job_lookup.h
 *	  Which jobs there are, and what they have recorded now.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_LOOKUP_H
#define SG_JOB_LOOKUP_H

#include "nodes/pg_list.h"

extern int64 sg_job_active_on(Oid relid);
extern List *sg_jobs_active_on(Oid relid);
extern int64 sg_job_any_active(Oid *relid);
extern int64 sg_job_next_runnable(void);
extern Oid	sg_job_leaf_file(int64 job_id, Oid relid);
extern bool sg_job_created_here(int64 job_id);

#endif							/* SG_JOB_LOOKUP_H */
