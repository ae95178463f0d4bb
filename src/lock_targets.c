/*-------------------------------------------------------------------------
 *
 * lock_targets.c
 *	  Which relations a statement locks, and how strongly: the locks
 *	  lockwait.c takes, bounded, before the statement runs.
 *
 * Each entry follows what PostgreSQL 15 does for the statement: the
 * strongest lock it takes on the relation it names (ProcessUtilitySlow,
 * tablecmds.c, indexcmds.c, trigger.c, ...), in the order it takes them,
 * and whether it locks the relation's inheritors too.  Statements that
 * conflict with no read or write (CREATE INDEX CONCURRENTLY, ALTER INDEX
 * ... RENAME, COMMENT, ...) and explicit LOCK TABLE are not listed: they
 * run as written.  ALTER TABLE's own table is locked through ALTER TABLE's
 * lookup (lockwait.c); its other relations are listed here.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"

#include "schema_guard.h"
#include "lock_targets.h"
#include "lockwait.h"

#define TABLE_KINDS		"rp"
#define INDEX_KINDS		"iI"

static List *
add_target(List *targets, RangeVar *relation, LOCKMODE lockmode, bool children,
		   const char *relkinds, AclMode privilege)
{
	SgLockTarget *t = palloc0(sizeof(SgLockTarget));

	t->relation = relation;
	t->lockmode = lockmode;
	t->children = children;
	t->relkinds = relkinds;
	t->privilege = privilege;
	return lappend(targets, t);
}

/* Is the relation a partitioned table (or index)?  Looked up unlocked. */
static bool
is_partitioned(RangeVar *relation)
{
	Oid			relid = RangeVarGetRelid(relation, NoLock, true);
	char		relkind = OidIsValid(relid) ? get_rel_relkind(relid) : '\0';

	return relkind == RELKIND_PARTITIONED_TABLE || relkind == RELKIND_PARTITIONED_INDEX;
}

/* The relation part of "schema.table.trigger": the table. */
static RangeVar *
owning_table(List *names)
{
	return makeRangeVarFromNameList(list_truncate(list_copy(names),
												  list_length(names) - 1));
}

/* The relations a foreign key constraint locks besides its table. */
static List *
foreign_key_targets(List *targets, Constraint *con)
{
	if (con->contype != CONSTR_FOREIGN || con->pktable == NULL)
		return targets;
	return add_target(targets, con->pktable, ShareRowExclusiveLock,
					  is_partitioned(con->pktable), TABLE_KINDS, ACL_REFERENCES);
}

/*
 * ALTER TABLE's relations other than its own table: the tables its new
 * foreign keys reference, the partition it attaches or detaches.
 */
List *
sg_alter_table_other_locks(AlterTableStmt *stmt)
{
	List	   *targets = NIL;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->def && IsA(cmd->def, Constraint))
			targets = foreign_key_targets(targets, (Constraint *) cmd->def);
		else if (cmd->def && IsA(cmd->def, ColumnDef))
		{
			ListCell   *lc2;

			foreach(lc2, ((ColumnDef *) cmd->def)->constraints)
				targets = foreign_key_targets(targets, lfirst(lc2));
		}
		else if (cmd->subtype == AT_AttachPartition ||
				 (cmd->subtype == AT_DetachPartition &&
				  !((PartitionCmd *) cmd->def)->concurrent))
			targets = add_target(targets, ((PartitionCmd *) cmd->def)->name,
								 AccessExclusiveLock, true, NULL, 0);
	}
	return targets;
}

/* What DROP locks for one of the objects it names. */
static List *
drop_target(List *targets, ObjectType type, List *names)
{
	RangeVar   *rv;

	switch (type)
	{
		case OBJECT_TABLE:
			return add_target(targets, makeRangeVarFromNameList(names),
							  AccessExclusiveLock, true, TABLE_KINDS, 0);
		case OBJECT_INDEX:
			targets = add_target(targets, makeRangeVarFromNameList(names),
								 AccessExclusiveLock, true, INDEX_KINDS, 0);
			((SgLockTarget *) llast(targets))->heap_first = true;
			return targets;
		case OBJECT_MATVIEW:
		case OBJECT_VIEW:
		case OBJECT_FOREIGN_TABLE:
			return add_target(targets, makeRangeVarFromNameList(names),
							  AccessExclusiveLock, false, NULL, 0);
		case OBJECT_TRIGGER:
		case OBJECT_RULE:
		case OBJECT_POLICY:
			rv = owning_table(names);
			return add_target(targets, rv, AccessExclusiveLock,
							  type == OBJECT_TRIGGER && is_partitioned(rv),
							  NULL, 0);
		default:
			return targets;
	}
}

static List *
rename_targets(RenameStmt *stmt)
{
	RangeVar   *rv = stmt->relation;

	if (rv == NULL)
		return NIL;
	switch (stmt->renameType)
	{
		case OBJECT_TABLE:
		case OBJECT_SEQUENCE:
		case OBJECT_VIEW:
		case OBJECT_MATVIEW:
		case OBJECT_FOREIGN_TABLE:
			return add_target(NIL, rv, AccessExclusiveLock, false, NULL, 0);
		case OBJECT_INDEX:
			{
				/* ALTER INDEX ... RENAME of an index conflicts with no query */
				char		relkind = get_rel_relkind(RangeVarGetRelid(rv, NoLock, true));

				if (relkind == RELKIND_INDEX || relkind == RELKIND_PARTITIONED_INDEX)
					return NIL;
				return add_target(NIL, rv, AccessExclusiveLock, false, NULL, 0);
			}
		case OBJECT_COLUMN:
			return add_target(NIL, rv, AccessExclusiveLock, rv->inh, NULL, 0);
		case OBJECT_TABCONSTRAINT:
		case OBJECT_RULE:
		case OBJECT_POLICY:
			return add_target(NIL, rv, AccessExclusiveLock, false, NULL, 0);
		case OBJECT_TRIGGER:
			return add_target(NIL, rv, AccessExclusiveLock, is_partitioned(rv), NULL, 0);
		default:
			return NIL;
	}
}

/*
 * The relations the statement locks in a way that makes reads or writes
 * queue behind a waiting request, in the order it locks them; NIL for a
 * statement schema_guard leaves alone.  ALTER TABLE is not listed here.
 */
List *
sg_lock_targets(Node *parsetree)
{
	ListCell   *lc;

	switch (nodeTag(parsetree))
	{
		case T_IndexStmt:
			{
				IndexStmt  *stmt = (IndexStmt *) parsetree;

				if (stmt->concurrent)
					return NIL;
				return add_target(NIL, stmt->relation, ShareLock,
								  stmt->relation->inh && is_partitioned(stmt->relation),
								  NULL, 0);
			}
		case T_DropStmt:
			{
				DropStmt   *stmt = (DropStmt *) parsetree;
				List	   *targets = NIL;

				/* DROP INDEX CONCURRENTLY conflicts with no read or write */
				if (stmt->removeType == OBJECT_INDEX && stmt->concurrent)
					return NIL;
				foreach(lc, stmt->objects)
					targets = drop_target(targets, stmt->removeType, lfirst(lc));
				return targets;
			}
		case T_RenameStmt:
			return rename_targets((RenameStmt *) parsetree);
		case T_TruncateStmt:
			{
				List	   *targets = NIL;

				foreach(lc, ((TruncateStmt *) parsetree)->relations)
				{
					RangeVar   *rv = lfirst(lc);

					targets = add_target(targets, rv, AccessExclusiveLock, rv->inh,
										 TABLE_KINDS, ACL_TRUNCATE);
				}
				return targets;
			}
		case T_CreateTrigStmt:
			{
				CreateTrigStmt *stmt = (CreateTrigStmt *) parsetree;

				return add_target(NIL, stmt->relation, ShareRowExclusiveLock,
								  stmt->row && is_partitioned(stmt->relation),
								  NULL, ACL_TRIGGER);
			}
		case T_RuleStmt:
			return add_target(NIL, ((RuleStmt *) parsetree)->relation,
							  AccessExclusiveLock, false, NULL, 0);
		case T_CreatePolicyStmt:
			return add_target(NIL, ((CreatePolicyStmt *) parsetree)->table,
							  AccessExclusiveLock, false, NULL, 0);
		case T_AlterPolicyStmt:
			return add_target(NIL, ((AlterPolicyStmt *) parsetree)->table,
							  AccessExclusiveLock, false, NULL, 0);
		case T_AlterObjectSchemaStmt:
			{
				AlterObjectSchemaStmt *stmt = (AlterObjectSchemaStmt *) parsetree;

				if (stmt->relation == NULL)
					return NIL;
				return add_target(NIL, stmt->relation, AccessExclusiveLock, false, NULL, 0);
			}
		case T_RefreshMatViewStmt:
			{
				RefreshMatViewStmt *stmt = (RefreshMatViewStmt *) parsetree;

				if (stmt->concurrent)
					return NIL;
				return add_target(NIL, stmt->relation, AccessExclusiveLock, false, "m", 0);
			}
		case T_CreateStmt:
			{
				CreateStmt *stmt = (CreateStmt *) parsetree;

				/* a new partition changes its parent's partition descriptor */
				if (stmt->partbound == NULL || stmt->inhRelations == NIL)
					return NIL;
				return add_target(NIL, linitial(stmt->inhRelations),
								  AccessExclusiveLock, false, "p", 0);
			}
		default:
			return NIL;
	}
}
