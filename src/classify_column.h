/*-------------------------------------------------------------------------
 *
 * classify_column.h
 *	  What the plain ALTER would do for one ADD COLUMN.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_CLASSIFY_COLUMN_H
#define SG_CLASSIFY_COLUMN_H

#include "classify.h"

extern void sg_classify_column(Relation rel, AlterTableStmt *stmt, int64 table_blocks,
							   SgAddColumn *col, const char *queryString);
extern void sg_add_reason(SgAddColumn *col, SgRisk risk, SgPath path,
						  const char *fmt,...) pg_attribute_printf(4, 5);
extern void sg_set_trial_fill(bool trial);

extern const char *sg_other_owner(Relation rel);
extern bool sg_tree_stores_rows_here(Relation rel);

#endif							/* SG_CLASSIFY_COLUMN_H */
