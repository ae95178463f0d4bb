/*-------------------------------------------------------------------------
 *
 * stage.h
 *	  Running a risky ADD COLUMN as a staged, metadata-only change plus a
 *	  backfill job.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_H
#define SG_STAGE_H

#include "nodes/parsenodes.h"
#include "nodes/plannodes.h"
#include "tcop/utility.h"
#include "utils/relcache.h"

#include "classify.h"

extern void sg_stage_alter(Oid relid, SgAlterPlan *plan, PlannedStmt *pstmt,
						   const char *queryString, ProcessUtilityContext context,
						   ParamListInfo params, QueryEnvironment *queryEnv,
						   DestReceiver *dest, QueryCompletion *qc);
extern List *sg_describe_steps(Relation rel, SgAlterPlan *plan, SgAddColumn *col);

/* utility_hook.c */
extern void sg_next_ProcessUtility(PlannedStmt *pstmt, const char *queryString,
								   bool readOnlyTree, ProcessUtilityContext context,
								   ParamListInfo params, QueryEnvironment *queryEnv,
								   DestReceiver *dest, QueryCompletion *qc);
extern char *sg_sentence(const char *clause);

/* stage_constraints.c */
extern List *sg_stage_constraints(Relation rel, SgAddColumn *col, List **chosen,
								  List **suffix);

/* lockwait.c */
extern Oid	sg_lock_table_for_alter(AlterTableStmt *stmt);

/* classify.c */
extern Node *sg_cook_default(Relation rel, Node *raw_default, Oid typid,
							 int32 typmod, const char *colname,
							 const char *queryString);

#endif							/* SG_STAGE_H */
