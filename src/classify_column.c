/*-------------------------------------------------------------------------
 *
 * classify_column.c
 *	  What the plain ALTER TABLE would do for one ADD COLUMN subcommand:
 *	  nothing but a catalog change, a scan, an index build, or a rewrite;
 *	  and whether a job can do the same online.
 *
 * The rules are PostgreSQL's own (ATExecAddColumn, transformColumnDefinition
 * and Phase 3 of ALTER TABLE): the default is cooked against the table and
 * planned, and the server's volatility test decides.  Nothing here guesses
 * from the statement text, and nothing here changes the database (a default
 * computed once to try it is rolled back).
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
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/typecmds.h"
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
#include "classify_default.h"
#include "fill.h"
#include "fill_guard.h"
#include "util.h"

/* Try the fill as the job would (the hook does; explain() executes nothing). */
static bool trial_fill = false;

static bool holds_rows(Relation rel, int many);

/* Does a table of the tree (the ALTER's reach) hold a row? */
static bool
tree_holds_rows(Oid relid)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Relation	leaf;
		bool		rows;

		if (get_rel_relkind(lfirst_oid(lc)) != RELKIND_RELATION)
			continue;
		leaf = relation_open(lfirst_oid(lc), NoLock);
		rows = holds_rows(leaf, 1);
		relation_close(leaf, NoLock);
		if (rows)
			return true;
	}
	return false;
}

/* Whether to try fills as the job would (the hook does; explain() executes nothing). */
void
sg_set_trial_fill(bool trial)
{
	trial_fill = trial;
}

/* PostgreSQL's serial pseudo-types, as transformColumnDefinition knows them. */
static Oid
serial_type(TypeName *typeName)
{
	const char *name;

	if (typeName == NULL || list_length(typeName->names) != 1 ||
		typeName->pct_type)
		return InvalidOid;
	name = strVal(linitial(typeName->names));
	if (strcmp(name, "smallserial") == 0 || strcmp(name, "serial2") == 0)
		return INT2OID;
	if (strcmp(name, "serial") == 0 || strcmp(name, "serial4") == 0)
		return INT4OID;
	if (strcmp(name, "bigserial") == 0 || strcmp(name, "serial8") == 0)
		return INT8OID;
	return InvalidOid;
}

static void
read_column_definition(SgAddColumn *col)
{
	ListCell   *lc;
	Oid			serial;
	Constraint *last = NULL;

	serial = serial_type(col->def->typeName);
	if (OidIsValid(serial))
	{
		if (col->def->typeName->arrayBounds != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("array of serial is not implemented")));
		col->is_serial = true;
		col->typid = serial;
		col->typmod = -1;
		col->not_null = true;
		col->fill_volatile = true;
	}
	else
		typenameTypeIdAndMod(NULL, col->def->typeName, &col->typid, &col->typmod);

	/*
	 * ENFORCED and NOT ENFORCED (18) apply to the constraint before them,
	 * past its DEFERRABLE and INITIALLY clauses
	 */
	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if (!sg_apply_enforced_clause(con, last) &&
			con->contype != CONSTR_ATTR_DEFERRABLE && con->contype != CONSTR_ATTR_NOT_DEFERRABLE &&
			con->contype != CONSTR_ATTR_DEFERRED && con->contype != CONSTR_ATTR_IMMEDIATE)
			last = con;
	}

	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		switch (con->contype)
		{
			case CONSTR_NOTNULL:
				col->not_null = true;
				if (SG_NOT_NULL_CONSTRAINTS && col->not_null_name == NULL)
					col->not_null_name = con->conname;
				col->not_null_no_inherit |= con->is_no_inherit;
				break;
			case CONSTR_DEFAULT:
				col->raw_default = con->raw_expr;
				break;
			case CONSTR_IDENTITY:
				col->identity = con->generated_when;
				col->identity_options = con->options;
				col->not_null = true;
				break;
			case CONSTR_GENERATED:
				if (sg_generated_virtual(con))
					col->virtual_generated = true;
				else
				{
					col->generated = true;
					col->raw_default = con->raw_expr;
				}
				break;
			case CONSTR_CHECK:
				/* a NOT ENFORCED one is only recorded: nothing to check */
				col->has_check |= sg_constraint_enforced(con);
				break;
			case CONSTR_PRIMARY:
				col->has_pkey = true;
				col->not_null = true;
				break;
			case CONSTR_UNIQUE:
				col->has_unique = true;
				break;
			case CONSTR_FOREIGN:
				col->has_fk |= sg_constraint_enforced(con);
				break;
			default:
				break;
		}
	}

	/* transformAlterTableStmt validates an FK only when there is a default */
	col->fk_validates = col->has_fk && (col->raw_default != NULL || col->is_serial);
	col->domain_checks = DomainHasConstraints(col->typid);
}

/* Append one clause to a column's reason, and raise its risk and path. */
void
sg_add_reason(SgAddColumn *col, SgRisk risk, SgPath path, const char *fmt,...)
{
	StringInfoData buf;
	va_list		args;
	int			needed;

	initStringInfo(&buf);
	if (col->reason)
		appendStringInfo(&buf, "%s; ", col->reason);
	for (;;)
	{
		va_start(args, fmt);
		needed = appendStringInfoVA(&buf, fmt, args);
		va_end(args);
		if (needed == 0)
			break;
		enlargeStringInfo(&buf, needed);
	}
	col->reason = buf.data;
	if (risk > col->risk)
		col->risk = risk;

	/*
	 * A statement that PostgreSQL rejects anyway is left for PostgreSQL to
	 * reject, with its own error: no other path can make it succeed.
	 */
	if (col->path != SG_PATH_FAILS_FAST &&
		(path > col->path || path == SG_PATH_FAILS_FAST))
		col->path = path;
}

/* Does a descendant of the table have a column of this name already? */
static bool
child_has_column(Oid relid, const char *colname)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		if (lfirst_oid(lc) != relid &&
			get_attnum(lfirst_oid(lc), colname) != InvalidAttrNumber)
			return true;
	}
	return false;
}

/*
 * A partition or child owned by another role than the table, if any: a
 * job runs its statements on every table of the tree as the one owner of
 * the ALTER (exec.c).
 */
const char *
sg_other_owner(Relation rel)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(RelationGetRelid(rel), NoLock, NULL))
	{
		Oid			child = lfirst_oid(lc);

		if (RELKIND_HAS_STORAGE(get_rel_relkind(child)) &&
			sg_rel_owner(child) != rel->rd_rel->relowner)
			return get_rel_name(child);
	}
	return NULL;
}

/*
 * Does every table of rel's partition tree store its rows here (a table
 * or a partitioned one; no foreign table)?
 */
bool
sg_tree_stores_rows_here(Relation rel)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(RelationGetRelid(rel), NoLock, NULL))
	{
		char		relkind = get_rel_relkind(lfirst_oid(lc));

		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			return false;
	}
	return true;
}

/* Does a named UNIQUE or PRIMARY KEY of the column ask for a taken name? */
static bool
index_name_taken(Relation rel, SgAddColumn *col)
{
	ListCell   *lc;

	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if ((con->contype == CONSTR_UNIQUE || con->contype == CONSTR_PRIMARY) &&
			con->conname != NULL &&
			OidIsValid(get_relname_relid(con->conname, RelationGetNamespace(rel))))
			return true;
	}
	return false;
}

/*
 * Does the statement drop this column?  ALTER TABLE runs every DROP before
 * any ADD, so a column it drops does not exist by the time it adds one of
 * that name.
 */
static bool
dropped_by_statement(AlterTableStmt *stmt, const char *colname)
{
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);

		if (cmd->subtype == AT_DropColumn && cmd->name != NULL &&
			strcmp(cmd->name, colname) == 0)
			return true;
	}
	return false;
}

/*
 * Statements PostgreSQL rejects before it looks at the column: left for
 * PostgreSQL to reject.  Returns true if the column needs no more thought.
 */
static bool
classify_target(Relation rel, AlterTableStmt *stmt, SgAddColumn *col)
{
	Oid			relid = RelationGetRelid(rel);

	/* ATPrepCmd's first check: only tables and foreign tables get columns */
	if (rel->rd_rel->relkind != RELKIND_RELATION &&
		rel->rd_rel->relkind != RELKIND_PARTITIONED_TABLE &&
		rel->rd_rel->relkind != RELKIND_FOREIGN_TABLE)
	{
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
				   "\"%s\" is not a table, so the statement fails",
				   RelationGetRelationName(rel));
		return true;
	}

	/* ATExecAddColumn's first check */
	if (rel->rd_rel->relispartition)
	{
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
				   "a column cannot be added to a partition alone, so the statement fails");
		return true;
	}

	if (get_attnum(relid, col->colname) != InvalidAttrNumber &&
		!dropped_by_statement(stmt, col->colname))
	{
		if (col->cmd->missing_ok)
		{
			col->already_exists = true;
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
					   "column \"%s\" of relation \"%s\" already exists, so IF NOT EXISTS skips it",
					   col->colname, RelationGetRelationName(rel));
		}
		else
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
					   "column \"%s\" of relation \"%s\" already exists, so the statement fails",
					   col->colname, RelationGetRelationName(rel));
		return true;
	}

	return false;
}

/* Forms PostgreSQL can only run by rewriting, with no online equivalent. */
static void
classify_no_online_path(SgAddColumn *col)
{
	if (col->generated)
	{
		sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_NONE,
				   "a stored generated column is computed for every row by rewriting the table");
		col->refuse_detail = "PostgreSQL computes a stored generated column for every existing row "
			"while it holds an ACCESS EXCLUSIVE lock on the table, and offers no way to add one without that.";
		col->refuse_hint = "Add a plain column kept current by a trigger, or run the statement "
			"in a maintenance window after SET schema_guard.mode = off.";
	}
	if (col->domain_checks)
	{
		sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_NONE,
				   "type %s is a domain with constraints, which are checked for every row by rewriting the table",
				   format_type_be(col->typid));
		col->refuse_detail = "PostgreSQL checks a domain's constraints for every existing row "
			"while it holds an ACCESS EXCLUSIVE lock on the table.";
		col->refuse_hint = "Add the column with the domain's base type and a CHECK constraint, or run the "
			"statement in a maintenance window after SET schema_guard.mode = off.";
	}

}

/*
 * Can a job compute what the rewrite would?  Not with the session's
 * temporary objects, which the job cannot see.  When the default calls
 * users' functions, it is computed once now: if that fails, so would the
 * plain ALTER, and PostgreSQL says it, at once; if it works here but not
 * as the job will compute it (as the table's owner, restricted, without
 * the session's temporary objects), the job could not do what the rewrite
 * does.
 */
static void
classify_reproducible(Relation rel, SgAddColumn *col)
{
	const char *why = sg_fill_unreproducible(col->fill_expr);
	char	   *failure = NULL;

	/* (PostgreSQL computes it for each row: not at all on an empty table) */
	if (why == NULL && trial_fill && sg_fill_worth_trial(col->fill_expr) &&
		tree_holds_rows(RelationGetRelid(rel)))
	{
		failure = sg_fill_trial(rel, sg_fill_fold(col->fill_expr), true);
		if (failure && sg_fill_trial(rel, col->fill_expr, false) != NULL)
		{
			sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_FAILS_FAST,
					   "computing the default fails (%s), so the statement fails", failure);
			return;
		}
	}
	if (why == NULL && failure == NULL)
		return;
	if (why == NULL)
		why = psprintf("computed as the background job computes it, the default fails: %s", failure);
	sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_NONE, "%s", why);
	col->refuse_detail = psprintf("%s A job computes the default later, in the background, as the table's owner, "
								  "as a security-restricted operation and without the temporary objects of the ALTER's session.",
								  sg_sentence(why));
	col->refuse_hint = "Make the default work without temporary objects and as the table's owner, or run the "
		"statement in a maintenance window after SET schema_guard.mode = off.";
}

/* What filling the existing rows takes: nothing, a scan, or a rewrite. */
static void
classify_fill(Relation rel, bool recurse, bool has_rows, SgAddColumn *col,
			  const char *queryString)
{
	Oid			relid = RelationGetRelid(rel);

	if (col->identity)
	{
		/* partitions share the parent's identity since 17; children never */
		if (recurse && find_inheritance_children(relid, NoLock) != NIL &&
			!(SG_PARTITIONED_IDENTITY && rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE))
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
					   "PostgreSQL cannot add an identity column to a table with children, so the statement fails");
		else
			sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_STAGE,
					   "an identity column is filled from its sequence by rewriting the table");
	}
	else if (col->is_serial)
		sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_STAGE,
				   "a serial column is filled from its sequence by rewriting the table");
	else if (!col->generated)
	{
		col->fill_expr = sg_cook_fill_expr(rel, col, queryString);
		sg_plan_fill(col, trial_fill);
		col->fill_volatile = col->fill_expr != NULL && sg_fill_is_volatile(col);
		if (col->domain_checks && has_rows &&
			sg_fill_is_null_for_domain(col) &&
			sg_domain_is_not_null(col->typid))
			sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_FAILS_FAST,
					   "type %s does not allow null values and the column gets none, so the statement fails on a table with rows",
					   format_type_be(col->typid));
		else if (col->fill_volatile)
		{
			sg_add_reason(col, SG_RISK_REWRITE, SG_PATH_STAGE,
					   "the default %s is volatile, so every row gets its own value by rewriting the table",
					   deparse_expression(col->fill_expr, NIL, false, false));
			classify_reproducible(rel, col);
		}
		else if (col->not_null && sg_fill_is_null(col) && !col->domain_checks)
		{
			if (has_rows)
				sg_add_reason(col, SG_RISK_SCAN, SG_PATH_FAILS_FAST,
						   "NOT NULL without a default fails at once on a table with rows");
			else
				sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
						   "NOT NULL without a default on an empty table");
		}
		else if (col->fill_expr != NULL && !col->domain_checks)
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
					   "the default is not volatile, so it is stored once in the catalog");
		else if (!col->domain_checks)
			sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
					   "no default, so existing rows read NULL without a rewrite");
	}
	if (OidIsValid(col->fill_unplanned))
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
					  "explain() runs no code of users', so it did not compute %s as planning the default would, and judged the default without its value",
					  format_procedure(col->fill_unplanned));
}

/*
 * A virtual generated column (18) is computed when read: adding one only
 * changes the catalog, unless its NOT NULL or CHECK makes PostgreSQL
 * compute it for every row under the lock.  Nothing of it is staged.
 */
static void
classify_virtual(SgAddColumn *col, bool has_rows)
{
	if ((col->not_null || col->has_check) && has_rows)
		sg_add_reason(col, SG_RISK_SCAN, SG_PATH_NOT_YET,
				   "the %s of a virtual generated column is verified by computing the column for every row",
				   col->not_null ? "NOT NULL" : "CHECK constraint");
	else
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
				   "a virtual generated column is computed when read, so adding it only changes the catalog");
	if (get_typtype(col->typid) == TYPTYPE_DOMAIN)
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
				   "a virtual generated column cannot have a domain type, so the statement fails");
	else if (col->has_unique || col->has_pkey || col->has_fk)
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
				   "PostgreSQL supports no %s on a virtual generated column, so the statement fails",
				   col->has_fk ? "foreign key" : "unique index");
}

/* Does the table itself hold that many rows or more? */
static bool
holds_rows(Relation rel, int many)
{
	Snapshot	snapshot = RegisterSnapshot(GetLatestSnapshot());
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	int			rows = 0;

	while (rows < many && table_scan_getnextslot(scan, ForwardScanDirection, slot))
		rows++;
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	return rows >= many;
}

/* A default every row gets the same non-null value of: a constant. */
static bool
fill_is_same_value(SgAddColumn *col)
{
	Node	   *fill;

	if (col->fill_expr == NULL || col->fill_volatile || col->is_serial || col->identity)
		return false;
	fill = sg_fill_as_planned(col);
	return IsA(fill, Const) && !((Const *) fill)->constisnull;
}

/* The column's constraints: CHECK, REFERENCES, UNIQUE, PRIMARY KEY. */
static void
classify_constraints(Relation rel, bool recurse, bool has_rows, SgAddColumn *col)
{
	Oid			relid = RelationGetRelid(rel);

	if ((col->has_unique || col->has_pkey) &&
		rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		sg_add_reason(col, SG_RISK_INDEX_BUILD, SG_PATH_FAILS_FAST,
				   "a unique index on a partitioned table must include the partition key, so the statement fails");
	else if ((col->has_unique || col->has_pkey) && index_name_taken(rel, col))
		sg_add_reason(col, SG_RISK_INDEX_BUILD, SG_PATH_FAILS_FAST,
				   "a relation with the constraint's name exists, so the statement fails");
	else if ((col->has_unique || col->has_pkey) && has_rows &&
			 fill_is_same_value(col) && holds_rows(rel, 2))
		sg_add_reason(col, SG_RISK_INDEX_BUILD, SG_PATH_FAILS_FAST,
				   "every existing row gets the same value, so the %s index cannot be built and the statement fails",
				   col->has_pkey ? "PRIMARY KEY" : "UNIQUE");
	else if (col->has_unique || col->has_pkey)
		sg_add_reason(col, SG_RISK_INDEX_BUILD, SG_PATH_STAGE,
				   "the %s index is built under the lock",
				   col->has_pkey ? "PRIMARY KEY" : "UNIQUE");
	if (col->has_check && has_rows)
		sg_add_reason(col, SG_RISK_SCAN, SG_PATH_STAGE,
				   "the CHECK constraint is verified by scanning the table");
	else if (col->has_check)
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
				   "the CHECK constraint is verified against an empty table");
	if (col->fk_validates && has_rows)
		sg_add_reason(col, SG_RISK_SCAN, SG_PATH_STAGE,
				   "the foreign key is verified against every row by scanning the table");
	else if (col->has_fk)
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
				   "the foreign key needs no check, since %s",
				   has_rows ? "every existing row holds NULL" : "the table is empty");

	/*
	 * A child that has the column already merges it, keeping its own
	 * values: the backfill must leave it alone, which this version does by
	 * not staging the statement.
	 */
	if (col->path == SG_PATH_STAGE && recurse && child_has_column(relid, col->colname))
		sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
				   "an inheritance child has a column \"%s\" already, which PostgreSQL merges",
				   col->colname);

	/*
	 * PostgreSQL 18 marks the children's column NOT NULL for NOT NULL NO
	 * INHERIT, yet gives them no constraint: no statement makes that.
	 */
	if (col->path == SG_PATH_STAGE && col->not_null_no_inherit &&
		(col->is_serial || col->identity || col->fill_volatile) && recurse &&
		find_inheritance_children(relid, NoLock) != NIL)
		sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
				   "NOT NULL NO INHERIT marks the children's column NOT NULL without a constraint of theirs");
	if (col->path == SG_PATH_STAGE && recurse && sg_other_owner(rel) != NULL)
		sg_add_reason(col, col->risk, SG_PATH_NOT_YET,
					  "table \"%s\" of the tree belongs to another role than the table, and a job writes every table as its one owner",
					  sg_other_owner(rel));
}

/*
 * Run PostgreSQL's own parse analysis of the subcommand on a copy, so that
 * a definition it rejects (conflicting clauses, a default with an identity,
 * a misplaced DEFERRABLE, ...) fails the classification, and the statement
 * reaches PostgreSQL to fail there with PostgreSQL's error.
 */
static void
transform_like_postgres(Relation rel, AlterTableStmt *stmt, SgAddColumn *col,
						const char *queryString)
{
	AlterTableStmt *one = makeNode(AlterTableStmt);
	List	   *before = NIL;
	List	   *after = NIL;

	one->relation = copyObject(stmt->relation);
	one->objtype = stmt->objtype;
	one->missing_ok = stmt->missing_ok;
	one->cmds = list_make1(copyObject(col->cmd));
	(void) transformAlterTableStmt(RelationGetRelid(rel), one, queryString,
								   &before, &after);
}

void
sg_classify_column(Relation rel, AlterTableStmt *stmt, int64 table_blocks,
				SgAddColumn *col, const char *queryString)
{
	Oid			relid = RelationGetRelid(rel);
	bool		recurse = stmt->relation->inh;
	bool		has_rows = table_blocks > 0;

	col->risk = SG_RISK_NONE;
	col->path = SG_PATH_PLAIN;
	if (classify_target(rel, stmt, col))
		return;
	transform_like_postgres(rel, stmt, col, queryString);

	read_column_definition(col);

	/* ALTER TABLE ONLY must not leave the children without the column */
	if (!recurse && find_inheritance_children(relid, NoLock) != NIL)
	{
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_FAILS_FAST,
				   "ONLY cannot add a column to a table with children, so the statement fails");
		return;
	}

	/* Tables without storage (foreign tables) never rewrite nor scan. */
	if (rel->rd_rel->relkind == RELKIND_FOREIGN_TABLE)
	{
		sg_add_reason(col, SG_RISK_NONE, SG_PATH_PLAIN,
				   "a foreign table stores no rows locally");
		return;
	}

	if (col->virtual_generated)
	{
		classify_virtual(col, has_rows);
		return;
	}
	classify_no_online_path(col);
	classify_fill(rel, recurse, has_rows, col, queryString);
	classify_constraints(rel, recurse, has_rows, col);
}

