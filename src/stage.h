/*-------------------------------------------------------------------------
 *
 * stage.h
 *	  The staged equivalent of a risky ALTER TABLE, and the job it records.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_H
#define SG_STAGE_H

#include "nodes/plannodes.h"
#include "utils/relcache.h"

#include "classify.h"
#include "job.h"

typedef struct SgStaging SgStaging;

extern SgStaging *sg_stage_begin(Oid relid, SgAlterPlan *plan, PlannedStmt *pstmt,
								 const char *queryString);
extern void sg_stage_end(SgStaging *staging);
extern void sg_stage_job(SgJob *job, const char *what, const char *detail);
extern List *sg_describe_steps(Relation rel, SgAlterPlan *plan, SgAddColumn *col);

#endif							/* SG_STAGE_H */
