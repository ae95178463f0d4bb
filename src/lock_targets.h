/*-------------------------------------------------------------------------
 *
 * lock_targets.h
 *	  Which relations a statement locks, and how strongly.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_LOCK_TARGETS_H
#define SG_LOCK_TARGETS_H

#include "nodes/parsenodes.h"

extern List *sg_lock_targets(Node *parsetree);
extern List *sg_alter_table_other_locks(AlterTableStmt *stmt);

#endif							/* SG_LOCK_TARGETS_H */
