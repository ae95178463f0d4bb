/*-------------------------------------------------------------------------
 *
 * index_online.h
 *	  CREATE INDEX outside a transaction block, built concurrently in place.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_INDEX_ONLINE_H
#define SG_INDEX_ONLINE_H

#include "nodes/plannodes.h"
#include "tcop/utility.h"

/* Runs a utility statement at top level, as the hook's caller would. */
typedef void (*SgRunUtility) (PlannedStmt *pstmt, const char *sql, bool own, void *arg);

extern void sg_create_index_concurrently(PlannedStmt *pstmt, const char *queryString,
										 SgRunUtility run, void *arg);
extern void sg_create_partitioned_index_in_place(PlannedStmt *pstmt, const char *queryString,
												 ProcessUtilityContext context,
												 SgRunUtility run, void *arg);

#endif							/* SG_INDEX_ONLINE_H */
