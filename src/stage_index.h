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

extern void sg_stage_create_index(PlannedStmt *pstmt, const char *queryString,
								  ProcessUtilityContext context);

#endif							/* SG_STAGE_INDEX_H */
