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

#include "job.h"

extern void sg_guard_attach_partition(RangeVar *parent_rv, RangeVar *part_rv);
extern void sg_guard_column_change(AlterTableStmt *stmt, AlterTableCmd *cmd);
extern void sg_guard_new_parent(RangeVar *parent_rv);
extern SgJob *sg_job_of_table_column(Oid relid, AttrNumber attnum, bool not_null_only);
extern void sg_guard_not_null_column(AlterTableStmt *stmt, AlterTableCmd *cmd);
extern void sg_guard_not_null_dropped(AlterTableStmt *stmt, AlterTableCmd *cmd);

#endif							/* SG_GUARD_COLUMNS_H */
