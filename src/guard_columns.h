/*-------------------------------------------------------------------------
 *
 * guard_columns.h
 *	  Other DDL on a job's columns and on its table's tree.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_GUARD_COLUMNS_H
#define SG_GUARD_COLUMNS_H

#include "nodes/parsenodes.h"

extern void sg_guard_attach_partition(RangeVar *parent_rv, RangeVar *part_rv);
extern void sg_guard_column_change(AlterTableStmt *stmt, AlterTableCmd *cmd);
extern void sg_guard_new_parent(RangeVar *parent_rv);

#endif							/* SG_GUARD_COLUMNS_H */
