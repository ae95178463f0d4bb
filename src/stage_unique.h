/*-------------------------------------------------------------------------
 *
 * stage_unique.h
 *	  ADD CONSTRAINT ... UNIQUE / PRIMARY KEY staged: the index reserved,
 *	  built by a job, the constraint added USING INDEX.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_UNIQUE_H
#define SG_STAGE_UNIQUE_H

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/relcache.h"

extern bool sg_unique_stageable(AlterTableStmt *stmt, Relation rel);
extern void sg_stage_unique(PlannedStmt *pstmt, const char *queryString,
							ProcessUtilityContext context);
extern List *sg_describe_unique_steps(Relation rel, AlterTableCmd *cmd);
extern void sg_warn_unfinished_unique(Node *parsetree);

#endif							/* SG_STAGE_UNIQUE_H */
