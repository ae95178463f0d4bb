/*-------------------------------------------------------------------------
 *
 * stage_not_valid.h
 *	  ADD CONSTRAINT ... CHECK / FOREIGN KEY staged NOT VALID, validated
 *	  by a job.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_NOT_VALID_H
#define SG_STAGE_NOT_VALID_H

#include "nodes/parsenodes.h"
#include "utils/relcache.h"

struct SgJob;

extern struct SgJob *sg_statement_job(Oid relid, const char *statement);
extern bool sg_constraints_stageable(AlterTableStmt *stmt, Relation rel);
extern AlterTableStmt *sg_stage_not_valid_begin(AlterTableStmt *stmt);
extern void sg_stage_not_valid_end(Oid relid, const char *statement);

#endif							/* SG_STAGE_NOT_VALID_H */
