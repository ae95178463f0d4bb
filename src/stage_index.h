/*-------------------------------------------------------------------------
 *
 * stage_index.h
 *	  CREATE INDEX inside a transaction block, staged as a job.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_INDEX_H
#define SG_STAGE_INDEX_H

#include "nodes/plannodes.h"
#include "tcop/utility.h"

#include "job.h"

extern void sg_as_ddl_command(Node *parsetree, ProcessUtilityContext context,
							  void (*body) (void *arg), void *arg);
extern SgJob *sg_index_job(Oid relid, PlannedStmt *pstmt, const char *queryString,
						   TimestampTz locked_at);
extern void sg_index_job_add(SgJob *job, Oid indexoid);
extern List *sg_reserve_create_index(PlannedStmt *pstmt, const char *queryString,
									 ProcessUtilityContext context, Oid *relid,
									 TimestampTz *locked_at);
extern void sg_stage_create_index(PlannedStmt *pstmt, const char *queryString,
								  ProcessUtilityContext context);

#endif							/* SG_STAGE_INDEX_H */
