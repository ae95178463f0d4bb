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
#include "nodes/plannodes.h"
#include "utils/relcache.h"

#include "job.h"

extern bool sg_not_null_stageable(AlterTableStmt *stmt, Relation rel);
extern bool sg_not_null_column_stageable(Relation rel, const char *colname);
extern bool sg_rows_being_filled(Oid relid);
extern void sg_stage_not_null_columns(SgJob *job, RangeVar *relation, List *colnames,
									  PlannedStmt *pstmt, const char *queryString);
extern AlterTableStmt *sg_stage_not_null_begin(AlterTableStmt *stmt, Relation rel,
											   const char *statement, SgJob **jobp);
extern void sg_stage_not_null_end(SgJob *job);
extern List *sg_describe_not_null_steps(Relation rel, const char *colname);

#endif							/* SG_STAGE_NOT_NULL_H */
