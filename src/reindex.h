/*-------------------------------------------------------------------------
 *
 * reindex.h
 *	  The last phase of a job that filled rows: its table's indexes
 *	  rebuilt concurrently.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_REINDEX_H
#define SG_REINDEX_H

#include "job.h"

extern Oid	sg_reindex_next(SgJob *job);
extern void sg_reindex_concurrently(int64 job_id, Oid indexoid);
extern void sg_reindex_give_up(int64 job_id, Oid indexoid, const char *error);

#endif							/* SG_REINDEX_H */
