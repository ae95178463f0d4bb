/*-------------------------------------------------------------------------
 *
 * decide.c
 *	  What schema_guard does with a statement: the single place where the
 *	  mode, the table's size, the exemptions and the classifier's verdict
 *	  meet.  The hook acts on the decision, explain() reports it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "decide.h"
#include "job_catalog.h"
#include "settings.h"
#include "util.h"

/* Cases where schema_guard must behave exactly like stock PostgreSQL. */
bool
sg_hook_is_inert(void)
{
	return sg_mode == SG_MODE_OFF ||
		sg_running_own_statement ||
		IsBinaryUpgrade ||
		creating_extension ||
		!IsTransactionState() ||
		!sg_extension_active();
}

/*
 * Why schema_guard leaves a relation alone, or NULL if it does not; "" for
 * what ALTER TABLE ... ADD COLUMN refuses anyway (a view, an index).
 */
const char *
sg_exempt_reason(Relation rel)
{
	char		relkind = rel->rd_rel->relkind;

	if (relkind == RELKIND_FOREIGN_TABLE)
		return "schema_guard leaves foreign tables alone";
	if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
		return "";
	if (rel->rd_rel->relpersistence == RELPERSISTENCE_TEMP)
		return "schema_guard leaves temporary tables alone";
	/* nobody else can see a table created in this transaction */
	if (rel->rd_createSubid != InvalidSubTransactionId)
		return "schema_guard leaves tables created in this transaction alone";
	if (rel->rd_rel->relnamespace == get_namespace_oid(SG_SCHEMA_NAME, true))
		return "schema_guard leaves its own tables alone";
	return NULL;
}

bool
sg_table_is_exempt(Relation rel)
{
	return sg_exempt_reason(rel) != NULL;
}

/* Is the statement's reach too small to be worth staging? */
bool
sg_below_min_size(const SgAlterPlan *plan)
{
	return plan->table_blocks * (BLCKSZ / 1024) < sg_min_table_size_kb;
}

/*
 * What the current mode makes of a statement that schema_guard would run
 * as "staged" in rewrite mode (SG_ACTION_STAGE, _WARN or _REFUSE).
 */
static SgAction
action_in_mode(SgAction staged)
{
	switch (sg_mode)
	{
		case SG_MODE_WARN:
			return SG_ACTION_WARN;
		case SG_MODE_BLOCK:
			return SG_ACTION_REFUSE;
		case SG_MODE_REWRITE:
			return staged;
		default:
			return SG_ACTION_PASS;
	}
}

/*
 * What schema_guard does with a classified statement in the current mode.
 * The single place where modes, sizes and paths meet: the hook acts on it,
 * explain() reports it.
 */
SgAction
sg_decide(SgAlterPlan *plan)
{
	if (plan->path == SG_PATH_PLAIN || plan->path == SG_PATH_FAILS_FAST ||
		sg_below_min_size(plan))
		return SG_ACTION_PASS;
	if (plan->path == SG_PATH_NONE)
		return action_in_mode(SG_ACTION_REFUSE);
	if (plan->path == SG_PATH_NOT_YET)
		return action_in_mode(SG_ACTION_WARN);
	return action_in_mode(SG_ACTION_STAGE);
}

/*
 * What schema_guard does with a CREATE INDEX (not CONCURRENTLY) on rel,
 * which blocks writes for as long as the build runs: SG_ACTION_STAGE builds
 * it online (concurrently in place outside a transaction block, staged as
 * a job inside one).  For SG_ACTION_WARN, *why says why it runs as written.
 */
SgAction
sg_decide_create_index(Relation rel, bool recurse, const char **why)
{
	bool		partitioned = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE;
	SgAction	action;

	*why = NULL;
	/* ON ONLY a partitioned table: an invalid index, nothing built */
	if (partitioned && !recurse)
		return SG_ACTION_PASS;
	if (sg_table_is_exempt(rel) ||
		sg_storage_blocks(RelationGetRelid(rel), partitioned && recurse, AccessShareLock) *
		(BLCKSZ / 1024) < sg_min_table_size_kb)
		return SG_ACTION_PASS;
	action = action_in_mode(SG_ACTION_STAGE);
	if (action == SG_ACTION_WARN)
		*why = "Set schema_guard.mode to \"rewrite\" to build it without blocking writes.";
	return action;
}

/*
 * The costliest subcommand of an ALTER TABLE without ADD COLUMN, which
 * schema_guard runs as written: what PostgreSQL does under the lock, in
 * *what.  A constraint added NOT VALID, or USING INDEX, VALIDATE
 * CONSTRAINT (which does not block writes) and ATTACH PARTITION (whose
 * scan is of the partition) cost nothing here.
 */
SgRisk
sg_alter_risk(List *cmds, const char **what)
{
	SgRisk		risk = SG_RISK_NONE;
	ListCell   *lc;

	*what = NULL;
	foreach(lc, cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con = (cmd->def && IsA(cmd->def, Constraint)) ? (Constraint *) cmd->def : NULL;
		const char *w;
		SgRisk		r;

		/* ATTACH PARTITION scans the partition, not this table */
		if (cmd->subtype == AT_ValidateConstraint || cmd->subtype == AT_AttachPartition ||
			(con && (con->indexname ||
					 ((con->contype == CONSTR_CHECK || con->contype == CONSTR_FOREIGN) &&
					  con->skip_validation))))
			continue;
		if (con && (con->contype == CONSTR_UNIQUE || con->contype == CONSTR_PRIMARY ||
					con->contype == CONSTR_EXCLUSION))
		{
			w = "the constraint's index is built under the lock";
			r = SG_RISK_INDEX_BUILD;
		}
		else
			r = sg_subcommand_risk(cmd, &w);
		if (r > risk)
		{
			risk = r;
			*what = w;
		}
	}
	return risk;
}

/*
 * What schema_guard does with such an ALTER TABLE on rel, which it does not
 * run online: warn (rewrite and warn modes) or refuse (block mode), unless
 * the table is exempt or small.
 */
SgAction
sg_decide_locking_alter(Relation rel, bool recurse)
{
	if (sg_table_is_exempt(rel) ||
		sg_storage_blocks(RelationGetRelid(rel), recurse, AccessShareLock) *
		(BLCKSZ / 1024) < sg_min_table_size_kb)
		return SG_ACTION_PASS;
	switch (sg_mode)
	{
		case SG_MODE_WARN:
		case SG_MODE_REWRITE:
			return SG_ACTION_WARN;
		case SG_MODE_BLOCK:
			return SG_ACTION_REFUSE;
		default:
			return SG_ACTION_PASS;
	}
}
