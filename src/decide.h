/*-------------------------------------------------------------------------
 *
 * decide.h
 *	  What schema_guard does with a statement, in the current mode.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_DECIDE_H
#define SG_DECIDE_H

#include "utils/relcache.h"

#include "classify.h"

/* What schema_guard does with a statement, in the current mode. */
typedef enum SgAction
{
	SG_ACTION_PASS,				/* hand it on untouched */
	SG_ACTION_WARN,				/* warn, then hand it on */
	SG_ACTION_STAGE,			/* run the staged equivalent */
	SG_ACTION_REFUSE			/* raise an error */
} SgAction;

extern bool sg_hook_is_inert(void);
extern const char *sg_exempt_reason(Relation rel);
extern bool sg_table_is_exempt(Relation rel);
extern bool sg_below_min_size(const SgAlterPlan *plan);
extern SgAction sg_decide(SgAlterPlan *plan);
extern SgAction sg_decide_create_index(Relation rel, bool recurse, const char **why);
extern SgRisk sg_alter_risk(List *cmds, const char **what);
extern SgAction sg_decide_locking_alter(Relation rel, bool recurse);

#endif							/* SG_DECIDE_H */
