/*-------------------------------------------------------------------------
 *
 * trigger.h
 *	  The row rule: which stored tuples predate a column.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_TRIGGER_H
#define SG_TRIGGER_H

#include "storage/itemptr.h"
#include "utils/relcache.h"

extern bool sg_tuple_predates(Relation rel, ItemPointer tid, AttrNumber attnum);

/* The last row version the backfill's filter let through. */
extern ItemPointerData sg_last_filled_tid;
extern Oid	sg_last_filled_rel;

#endif							/* SG_TRIGGER_H */
