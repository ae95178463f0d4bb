/*-------------------------------------------------------------------------
 *
 * exec.h
 *	  schema_guard's own statements on a user's table, in the worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_EXEC_H
#define SG_EXEC_H

#include "job.h"

extern Oid	sg_job_table_owner(SgJob *job);
extern int	sg_exec_as_owner(SgJob *job, const char *sql, bool read_only);
extern int	sg_exec_batch(SgJob *job, const char *sql);

#endif							/* SG_EXEC_H */
