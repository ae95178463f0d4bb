/*-------------------------------------------------------------------------
 *
 * lockwait.h
 *	  A statement's table locks, taken without making the application queue.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_LOCKWAIT_H
#define SG_LOCKWAIT_H

#include "nodes/parsenodes.h"
#include "storage/lockdefs.h"

/* A relation a statement locks, and how. */
typedef struct SgLockTarget
{
	RangeVar   *relation;		/* as the statement names it */
	LOCKMODE	lockmode;		/* the strongest lock the statement takes on it */
	bool		children;		/* its inheritors are locked too, in that mode */
	bool		heap_first;		/* an index: its table is locked first */
	const char *relkinds;		/* the kinds the statement accepts, NULL: any */
	AclMode		privilege;		/* enough to lock it first, as well as
								 * ownership; 0: ownership only */
} SgLockTarget;

extern Oid	sg_lock_table_for_alter(AlterTableStmt *stmt, List *others);
extern void sg_lock_statement(List *targets, const char *command);

#endif							/* SG_LOCKWAIT_H */
