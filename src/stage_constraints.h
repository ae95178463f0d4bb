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

extern List *sg_stage_constraints(Relation rel, SgAddColumn *col, List **chosen,
								  List **suffix);

#endif							/* SG_STAGE_CONSTRAINTS_H */
