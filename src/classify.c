/*-------------------------------------------------------------------------
 *
 * classify.c
 *	  What a whole ALTER TABLE statement would do while it holds its
 *	  ACCESS EXCLUSIVE lock, from what each ADD COLUMN would do
 *	  (classify_column.c) and what the statement's other subcommands do:
 *	  rewrite the table anyway, check its rows anyway, act on a new column.
 *
 * Classification runs in a subtransaction, so that a statement PostgreSQL
 * rejects reaches PostgreSQL untouched and fails there with PostgreSQL's
 * own error, in PostgreSQL's own order.  Nothing here changes the database.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/heap.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "commands/typecmds.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "parser/parse_relation.h"
#include "parser/parse_type.h"
#include "parser/parse_utilcmd.h"
#include "storage/bufmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/typcache.h"

#include "schema_guard.h"
#include "classify.h"
#include "classify_column.h"
#include "fill_guard.h"
#include "util.h"

static const char *const risk_names[] = {"none", "scan", "index build", "rewrite"};

const char *
sg_risk_name(SgRisk risk)
{
	return risk_names[risk];
}

bool
sg_statement_has_add_column(AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (SG_IS_ADD_COLUMN(cmd->subtype))
			return true;
	}
	return false;
}

/*
 * Blocks of every table in the statement's reach that stores rows: the
 * table itself, and with recursion its partitions and inheritance children.
 * Children are locked with lockmode, in the order ALTER TABLE would lock them.
 */
int64
sg_storage_blocks(Oid relid, bool recurse, LOCKMODE lockmode)
{
	List	   *rels;
	ListCell   *lc;
	int64		blocks = 0;

	rels = recurse ? find_all_inheritors(relid, lockmode, NULL)
		: list_make1_oid(relid);
	foreach(lc, rels)
	{
		Oid			child = lfirst_oid(lc);
		Relation	rel;

		if (!RELKIND_HAS_STORAGE(get_rel_relkind(child)))
			continue;
		rel = relation_open(child, NoLock);
		blocks += RelationGetNumberOfBlocks(rel);
		relation_close(rel, NoLock);
	}
	return blocks;
}

/*
 * Other ALTER TABLE subcommands that may rewrite the table (which would
 * also destroy the "row predates the column" marker the backfill relies
 * on), scan it, or build an index.
 */
SgRisk
sg_subcommand_risk(AlterTableCmd *cmd, const char **what)
{
	switch (cmd->subtype)
	{
		case AT_AlterColumnType:
			*what = "ALTER COLUMN TYPE may rewrite the table";
			return SG_RISK_REWRITE;
		case AT_SetLogged:
		case AT_SetUnLogged:
			*what = "SET LOGGED/UNLOGGED rewrites the table";
			return SG_RISK_REWRITE;
		case AT_SetAccessMethod:
			*what = "SET ACCESS METHOD rewrites the table";
			return SG_RISK_REWRITE;
		case AT_SetTableSpace:
			*what = "SET TABLESPACE copies the table";
			return SG_RISK_REWRITE;
		case AT_SetNotNull:
			*what = "SET NOT NULL scans the table unless a valid CHECK constraint proves it";
			return SG_RISK_SCAN;
		case AT_AddConstraint:
		case AT_ValidateConstraint:
			*what = "the constraint is verified by scanning the table";
			return SG_RISK_SCAN;
		case AT_AddIndex:
		case AT_AddIndexConstraint:
			*what = "the index is built under the lock";
			return SG_RISK_INDEX_BUILD;
		case AT_AttachPartition:
			*what = "ATTACH PARTITION scans the partition unless a constraint proves its bound";
			return SG_RISK_SCAN;
		default:
			*what = "catalog-only change";
			return SG_RISK_NONE;
	}
}

/*
 * A column of the same name added earlier in the same statement: with IF
 * NOT EXISTS PostgreSQL skips this one, without it the statement fails.
 * Returns true (after classifying) in that case.
 */
static bool
added_earlier(Relation rel, SgAlterPlan *plan, SgAddColumn *col)
{
	ListCell   *lc;

	foreach(lc, plan->columns)
	{
		SgAddColumn *other = lfirst(lc);

		if (other == col || strcmp(other->colname, col->colname) != 0)
			continue;
		col->risk = SG_RISK_NONE;
		col->path = SG_PATH_PLAIN;
		if (col->cmd->missing_ok)
		{
			col->already_exists = true;
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
					   "the statement adds column \"%s\" before, so IF NOT EXISTS skips it",
					   col->colname);
		}
		else
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
					   "the statement adds column \"%s\" twice: column \"%s\" of relation \"%s\" already exists, so it fails",
					   col->colname, col->colname, RelationGetRelationName(rel));
		return true;
	}
	return false;
}

/* Does a raw expression mention a column of this name? */
static bool
mentions_column_walker(Node *node, void *colname)
{
	if (node == NULL)
		return false;
	if (IsA(node, ColumnRef))
	{
		Node	   *last = llast(((ColumnRef *) node)->fields);

		return IsA(last, String) && strcmp(strVal(last), (char *) colname) == 0;
	}
	return raw_expression_tree_walker(node, mentions_column_walker, colname);
}

static bool
names_include(List *names, const char *colname)
{
	ListCell   *lc;

	foreach(lc, names)
	{
		if (IsA(lfirst(lc), String) && strcmp(strVal(lfirst(lc)), colname) == 0)
			return true;
	}
	return false;
}

/* Does a table constraint of the statement check this column? */
static bool
constraint_mentions(Constraint *con, const char *colname)
{
	ListCell   *lc;

	if (names_include(con->keys, colname) || names_include(con->including, colname) ||
		names_include(con->fk_attrs, colname) ||
		mentions_column_walker(con->raw_expr, (void *) colname))
		return true;
	foreach(lc, con->exclusions)
	{
		IndexElem  *elem = linitial_node(IndexElem, (List *) lfirst(lc));

		if ((elem->name && strcmp(elem->name, colname) == 0) ||
			mentions_column_walker(elem->expr, (void *) colname))
			return true;
	}
	return false;
}

/*
 * Does this subcommand check the existing rows while the ALTER holds its
 * lock (a constraint added without NOT VALID, an index built, SET NOT
 * NULL, VALIDATE)?
 */
static bool
checks_existing_rows(AlterTableCmd *cmd)
{
	switch (cmd->subtype)
	{
		case AT_SetNotNull:
		case AT_ValidateConstraint:
		case AT_AddIndex:
			return true;
		case AT_AddConstraint:
			if (IsA(cmd->def, Constraint))
			{
				Constraint *con = (Constraint *) cmd->def;

				return !con->skip_validation || con->contype == CONSTR_UNIQUE ||
					con->contype == CONSTR_PRIMARY || con->contype == CONSTR_EXCLUSION;
			}
			return true;
		default:
			return false;
	}
}

/*
 * Other subcommands of the statement that act on a staged column would act
 * before its rows are filled, where PostgreSQL acts after: a SET NOT NULL
 * or a table constraint would see NULLs.  Such a statement runs as written.
 * So does one that checks the existing rows anyway: PostgreSQL checks them
 * in the same pass as it computes the new column, and which violation it
 * reports first depends on that.  A SET DEFAULT on an identity column fails
 * in PostgreSQL; let it.
 */
static void
check_other_subcommands(SgAlterPlan *plan, AlterTableStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		ListCell   *cc;

		if (SG_IS_ADD_COLUMN(cmd->subtype))
			continue;
		foreach(cc, plan->columns)
		{
			SgAddColumn *col = lfirst(cc);

			if (col->path != SG_PATH_STAGE)
				continue;
			if (checks_existing_rows(cmd))
				sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
						   "another subcommand of the statement checks the existing rows under the lock anyway, in the same pass as PostgreSQL fills the new column");
			else if (cmd->subtype == AT_AddConstraint && IsA(cmd->def, Constraint) &&
				constraint_mentions((Constraint *) cmd->def, col->colname))
				sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
						   "a table constraint of the statement checks the new column, which has no values yet");
			else if (cmd->name == NULL || strcmp(cmd->name, col->colname) != 0)
				continue;
			else if (cmd->subtype == AT_ColumnDefault && col->identity)
				sg_add_reason(col, col->risk, SG_PATH_FAILS_FAST,
						   "an identity column cannot have a default, so the statement fails");
			else if (cmd->subtype != AT_ColumnDefault && cmd->subtype != AT_DropColumn &&
					 cmd->subtype != AT_SetStatistics && cmd->subtype != AT_SetStorage &&
					 cmd->subtype != AT_SetCompression && cmd->subtype != AT_SetOptions &&
					 cmd->subtype != AT_ResetOptions)
				sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
						   "another subcommand of the statement changes the new column, which has no values yet");
		}
	}
}

/*
 * Has the table a primary key already, deferrable or not?  (The relation
 * cache remembers only an immediate one before PostgreSQL 17.)
 */
static bool
has_primary_key(Relation rel)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	bool		found = false;

	foreach(lc, indexes)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

		if (!HeapTupleIsValid(tup))
			continue;
		found |= ((Form_pg_index) GETSTRUCT(tup))->indisprimary;
		ReleaseSysCache(tup);
	}
	list_free(indexes);
	return found;
}

/* More than one primary key: PostgreSQL refuses the statement. */
static void
check_primary_keys(Relation rel, SgAlterPlan *plan, AlterTableStmt *stmt)
{
	int			pkeys = has_primary_key(rel) ? 1 : 0;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_AddConstraint && IsA(cmd->def, Constraint) &&
			((Constraint *) cmd->def)->contype == CONSTR_PRIMARY)
			pkeys++;
	}
	foreach(lc, plan->columns)
		pkeys += ((SgAddColumn *) lfirst(lc))->has_pkey ? 1 : 0;
	if (pkeys <= 1)
		return;
	foreach(lc, plan->columns)
	{
		SgAddColumn *col = lfirst(lc);

		if (col->has_pkey)
			sg_add_reason(col, col->risk, SG_PATH_FAILS_FAST,
					   "the table would get a second primary key, so the statement fails");
	}
}

static void
check_updates_allowed(void *arg)
{
	CheckCmdReplicaIdentity((Relation) arg, CMD_UPDATE);
}

/*
 * A job fills rows with UPDATEs.  Where PostgreSQL refuses them (a table
 * that publishes updates without a replica identity) the plain ALTER,
 * which rewrites, still works: such a column has no online path here.
 */
static void
check_backfill_updates(Relation rel, SgAlterPlan *plan)
{
	ListCell   *lc;
	ListCell   *cc;

	foreach(lc, plan->recurse ? find_all_inheritors(RelationGetRelid(rel), NoLock, NULL)
			: list_make1_oid(RelationGetRelid(rel)))
	{
		Relation	leaf;
		ErrorData  *edata;

		if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_RELATION)
			continue;
		leaf = relation_open(lfirst_oid(lc), NoLock);
		edata = sg_in_subxact(check_updates_allowed, leaf, false);
		relation_close(leaf, NoLock);
		if (edata == NULL)
			continue;
		foreach(cc, plan->columns)
		{
			SgAddColumn *col = lfirst(cc);

			if (col->path != SG_PATH_STAGE ||
				!(col->is_serial || col->identity || col->fill_volatile))
				continue;
			sg_add_reason(col, col->risk, SG_PATH_NONE,
						  "a job fills existing rows with UPDATEs, which PostgreSQL refuses on table \"%s\" (%s)",
						  get_rel_name(lfirst_oid(lc)), edata->message);
			col->refuse_detail = psprintf("A job would fill the existing rows with UPDATEs, and PostgreSQL refuses them: %s.",
										  edata->message);
			col->refuse_hint = edata->hint ? psprintf("%s Or run the statement as written, with schema_guard.mode = warn.",
													  edata->hint)
				: "Run the statement as written, with schema_guard.mode = warn.";
		}
		return;
	}
}

/*
 * Classify a whole ALTER TABLE statement.  The caller holds the table's
 * lock; children are locked here in lockmode.
 */
/*
 * The rights ALTER TABLE checks when it looks the table up, in its order.
 * The hook has passed that lookup already; explain() has not.
 */
static void
check_alter_rights(Relation rel)
{
	if (!sg_rel_ownercheck(RelationGetRelid(rel), GetUserId()))
		aclcheck_error(ACLCHECK_NOT_OWNER,
					   get_relkind_objtype(rel->rd_rel->relkind),
					   RelationGetRelationName(rel));
	if (!allowSystemTableMods && IsSystemRelation(rel))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied: \"%s\" is a system catalog",
						RelationGetRelationName(rel))));
}

SgAlterPlan *
sg_classify_alter(Relation rel, AlterTableStmt *stmt, const char *queryString,
				  LOCKMODE lockmode)
{
	SgAlterPlan *plan = palloc0(sizeof(SgAlterPlan));
	ListCell   *lc;
	bool		any_stage = false;
	bool		any_fails = false;

	plan->relid = RelationGetRelid(rel);
	plan->relkind = rel->rd_rel->relkind;
	plan->recurse = stmt->relation->inh;
	plan->table_blocks = sg_storage_blocks(plan->relid, plan->recurse, lockmode);
	plan->risk = SG_RISK_NONE;
	plan->path = SG_PATH_PLAIN;
	check_alter_rights(rel);

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		SgAddColumn *col;

		if (!SG_IS_ADD_COLUMN(cmd->subtype))
		{
			const char *what;

			if (sg_subcommand_risk(cmd, &what) == SG_RISK_REWRITE &&
				plan->other_rewrite == NULL)
				plan->other_rewrite = pstrdup(what);
			continue;
		}
		col = palloc0(sizeof(SgAddColumn));
		col->cmd = cmd;
		col->def = castNode(ColumnDef, cmd->def);
		col->colname = col->def->colname;
		if (!added_earlier(rel, plan, col))
			sg_classify_column(rel, stmt, plan->table_blocks, col, queryString);
		plan->columns = lappend(plan->columns, col);
	}
	check_other_subcommands(plan, stmt);
	check_primary_keys(rel, plan, stmt);
	check_backfill_updates(rel, plan);

	foreach(lc, plan->columns)
	{
		SgAddColumn *col = lfirst(lc);

		if (col->risk > plan->risk)
			plan->risk = col->risk;
		if (col->path == SG_PATH_STAGE)
			any_stage = true;
		else if (col->path == SG_PATH_FAILS_FAST)
		{
			if (!any_fails)
				plan->fails_why = col->reason;
			any_fails = true;
		}
		else if (col->path > plan->path)
			plan->path = col->path;
	}

	/*
	 * A statement that rewrites the table anyway gains nothing from staging,
	 * and its rewrite would erase the marker the backfill reads.
	 */
	if (any_fails)
		plan->path = SG_PATH_FAILS_FAST;
	else if (any_stage && plan->other_rewrite != NULL && plan->path < SG_PATH_NOT_YET)
		plan->path = SG_PATH_NOT_YET;
	else if (any_stage && plan->path == SG_PATH_PLAIN)
		plan->path = SG_PATH_STAGE;
	return plan;
}

/* The arguments of a classification run in a subtransaction. */
typedef struct ClassifyCall
{
	Relation	rel;
	AlterTableStmt *stmt;
	const char *queryString;
	LOCKMODE	lockmode;
	SgAlterPlan *plan;
} ClassifyCall;

static void
classify_call(void *arg)
{
	ClassifyCall *call = arg;

	call->plan = sg_classify_alter(call->rel, call->stmt, call->queryString, call->lockmode);
}

/*
 * Classify inside a subtransaction (its locks stay), so that a statement
 * the server will reject (unknown type, bad default, ...) reaches PostgreSQL
 * untouched and fails there with PostgreSQL's own error, in PostgreSQL's
 * own order.  With trial, defaults calling users' functions are computed
 * once, as the job would (the hook asks for that, and plans the default as
 * PostgreSQL's ALTER would, as the ALTER's user).  Without it (explain())
 * no code of users' runs at all: a statement that cannot be read without
 * running some is unexplained.
 */
SgAlterPlan *
sg_classify_alter_safely(Relation rel, AlterTableStmt *stmt,
						 const char *queryString, LOCKMODE lockmode, bool trial)
{
	ClassifyCall call = {rel, stmt, queryString, lockmode, NULL};
	ErrorData  *volatile edata = NULL;
	volatile Oid refused = InvalidOid;

	sg_set_trial_fill(trial);
	if (!trial)
		sg_forbid_users_code(true);
	PG_TRY();
	{
		edata = sg_in_subxact(classify_call, &call, true);
		if (!trial)
			refused = sg_users_code_refused();
	}
	PG_FINALLY();
	{
		sg_set_trial_fill(false);
		if (!trial)
			sg_forbid_users_code(false);
	}
	PG_END_TRY();
	if (edata == NULL)
		return call.plan;
	call.plan = palloc0(sizeof(SgAlterPlan));
	call.plan->relid = RelationGetRelid(rel);
	call.plan->relkind = rel->rd_rel->relkind;
	call.plan->recurse = stmt->relation->inh;
	call.plan->path = SG_PATH_FAILS_FAST;
	call.plan->error = edata->message;
	if (OidIsValid(refused))
		call.plan->unexplained =
			psprintf("reading the statement runs %s, and explain() runs no code of users'",
					 format_procedure(refused));
	return call.plan;
}
