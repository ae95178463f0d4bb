/*-------------------------------------------------------------------------
 *
 * classify_default.h
 *	  The value an added column's existing rows get.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_CLASSIFY_DEFAULT_H
#define SG_CLASSIFY_DEFAULT_H

#include "utils/relcache.h"

#include "classify.h"

extern Node *sg_cook_fill_expr(Relation rel, SgAddColumn *col, const char *queryString);
extern void sg_plan_fill(SgAddColumn *col, bool trial);
extern bool sg_fill_is_volatile(SgAddColumn *col);
extern Node *sg_fill_as_planned(SgAddColumn *col);
extern bool sg_fill_is_null(SgAddColumn *col);
extern bool sg_domain_is_not_null(Oid typid);
extern bool sg_fill_is_null_for_domain(SgAddColumn *col);

#endif							/* SG_CLASSIFY_DEFAULT_H */
