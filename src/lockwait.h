/*-------------------------------------------------------------------------
 *
 * lockwait.h
 *	  The ALTER's table lock, taken without making the application queue.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_LOCKWAIT_H
#define SG_LOCKWAIT_H

#include "nodes/parsenodes.h"

extern Oid	sg_lock_table_for_alter(AlterTableStmt *stmt);

#endif							/* SG_LOCKWAIT_H */
