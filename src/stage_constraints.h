/*-------------------------------------------------------------------------
 *
 * stage_constraints.h
 *	  The constraints of a staged ADD COLUMN.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STAGE_CONSTRAINTS_H
#define SG_STAGE_CONSTRAINTS_H

#include "utils/relcache.h"

#include "classify.h"

extern char *sg_not_null_constraint_name(Relation rel, const char *colname,
										 const char *given_name, int64 job_id,
										 List **chosen);
extern AlterTableCmd *sg_not_null_constraint_cmd(const char *colname, const char *conname,
												 bool no_inherit);
extern List *sg_stage_constraints(Relation rel, SgAddColumn *col, List **chosen,
								  List **suffix);

#endif							/* SG_STAGE_CONSTRAINTS_H */
