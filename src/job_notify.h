/*-------------------------------------------------------------------------
 *
 * job_notify.h
 *	  A job's state, told to listeners; the SQLSTATE it failed with.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_NOTIFY_H
#define SG_JOB_NOTIFY_H

/* the channel every change of a job's state is notified on */
#define SG_NOTIFY_CHANNEL "schema_guard"

extern void sg_job_notify_state(int64 job_id);
extern void sg_job_set_sqlstate(int64 job_id, int sqlerrcode);

#endif							/* SG_JOB_NOTIFY_H */
