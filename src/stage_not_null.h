/*-------------------------------------------------------------------------
 *
 * stage_not_null.h
 *	  ALTER COLUMN ... SET NOT NULL of an existing column, staged as a NOT
 *	  VALID constraint that a job validates.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_NOT_NULL_H
#define SG_STAGE_NOT_NULL_H

#include "nodes/parsenodes.h"
#include "utils/relcache.h"

#include "job.h"

extern bool sg_not_null_stageable(AlterTableStmt *stmt, Relation rel);
extern AlterTableStmt *sg_stage_not_null_begin(AlterTableStmt *stmt, Relation rel,
											   const char *statement, SgJob **jobp);
extern void sg_stage_not_null_end(SgJob *job);
extern List *sg_describe_not_null_steps(Relation rel, const char *colname);

#endif							/* SG_STAGE_NOT_NULL_H */
