/*-------------------------------------------------------------------------
 *
 * stage_constraints.c
 *	  The constraints of a staged ADD COLUMN: what replaces the scan or the
 *	  index build PostgreSQL would do under its lock, and the NOT VALID
 *	  constraint that stands for its NOT NULL until the job validates it.
 *
 * CHECK and REFERENCES become table constraints added NOT VALID in the
 * same ALTER, under the names PostgreSQL would give them; the worker
 * validates them once the rows are filled (VALIDATE blocks neither reads
 * nor writes).  UNIQUE and PRIMARY KEY are left out of the ALTER; the
 * worker builds their index concurrently and then
 * adds the constraint USING INDEX, under a short lock.  The index's
 * catalog entry is made in the ALTER's transaction, invalid and not ready
 * for inserts, so its name is taken there as PostgreSQL would take it.  A constraint that
 * fails (a duplicate, a violating row) fails the job with PostgreSQL's own
 * error, as the plain ALTER would have failed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "classify.h"
#include "job.h"
#include "stage_constraints.h"

/*
 * The NOT VALID constraint that stands for a column's NOT NULL until the
 * job validates it: on 18, the NOT NULL constraint itself (ADD CONSTRAINT
 * name NOT NULL c NOT VALID), which rejects an application's NULL as the
 * plain ALTER's column would and stays as the column's constraint; before
 * 18, the helper CHECK (c IS NOT NULL), replaced at the end by SET NOT
 * NULL.
 */
AlterTableCmd *
sg_not_null_constraint_cmd(const char *colname, const char *conname, bool no_inherit)
{
	AlterTableCmd *cmd = makeNode(AlterTableCmd);
	Constraint *con;

	if (SG_NOT_NULL_CONSTRAINTS)
	{
		con = sg_make_constraint(CONSTR_NOTNULL);
		con->keys = list_make1(makeString(pstrdup(colname)));
		con->is_no_inherit = no_inherit;
	}
	else
	{
		NullTest   *test = makeNode(NullTest);
		ColumnRef  *ref = makeNode(ColumnRef);

		ref->fields = list_make1(makeString(pstrdup(colname)));
		ref->location = -1;
		test->arg = (Expr *) ref;
		test->nulltesttype = IS_NOT_NULL;
		test->argisrow = false;
		test->location = -1;
		con = sg_make_constraint(CONSTR_CHECK);
		con->raw_expr = (Node *) test;
	}
	con->conname = pstrdup(conname);
	con->skip_validation = true;
	con->initially_valid = false;
	cmd->subtype = AT_AddConstraint;
	cmd->def = (Node *) con;
	return cmd;
}

/*
 * The name of that constraint: on 18 the one the plain ALTER gives the
 * column's NOT NULL (given_name, if the statement named it), taken now;
 * before 18 a helper's, of the job.
 */
char *
sg_not_null_constraint_name(Relation rel, const char *colname, const char *given_name,
							int64 job_id, List **chosen)
{
	char	   *name;

	if (SG_NOT_NULL_CONSTRAINTS && given_name)
		name = pstrdup(given_name);
	else
		name = ChooseConstraintName(RelationGetRelationName(rel), colname,
									SG_NOT_NULL_CONSTRAINTS ? "not_null"
									: psprintf("sg%lld_not_null", (long long) job_id),
									RelationGetNamespace(rel), *chosen);
	*chosen = lappend(*chosen, name);
	return name;
}

/* WITH (...) storage parameters, as SQL. */
static char *
options_sql(List *options)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		appendStringInfo(&buf, "%s%s%s%s", buf.len ? ", " : "",
						 opt->defnamespace ? psprintf("%s.", quote_identifier(opt->defnamespace)) : "",
						 quote_identifier(opt->defname),
						 opt->arg ? psprintf(" = %s", quote_literal_cstr(defGetString(opt))) : "");
	}
	return buf.data;
}

static char *
name_list_sql(List *names)
{
	StringInfoData buf;
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, names)
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", quote_identifier(strVal(lfirst(lc))));
	return buf.data;
}

/* A UNIQUE or PRIMARY KEY column constraint, to build after the backfill. */
static SgJobConstraint *
stage_index_constraint(Relation rel, const char *colname, Constraint *con,
					   List **chosen)
{
	SgJobConstraint *jc = palloc0(sizeof(SgJobConstraint));
	const char *table = quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												   RelationGetRelationName(rel));
	bool		primary = con->contype == CONSTR_PRIMARY;
	StringInfoData sql;

	jc->colname = pstrdup(colname);
	jc->kind = primary ? SG_CONSTRAINT_PRIMARY_KEY : SG_CONSTRAINT_UNIQUE;
	jc->conname = con->conname ? pstrdup(con->conname)
		: ChooseRelationName(RelationGetRelationName(rel), primary ? NULL : colname,
							 primary ? "pkey" : "key", RelationGetNamespace(rel), true);
	*chosen = lappend(*chosen, jc->conname);

	initStringInfo(&sql);
	appendStringInfo(&sql, "CREATE UNIQUE INDEX %s ON %s (%s)",
					 quote_identifier(jc->conname), table, quote_identifier(colname));
	if (con->including)
		appendStringInfo(&sql, " INCLUDE (%s)", name_list_sql(con->including));
	if (con->nulls_not_distinct)
		appendStringInfoString(&sql, " NULLS NOT DISTINCT");
	if (con->options)
		appendStringInfo(&sql, " WITH (%s)", options_sql(con->options));
	if (con->indexspace)
		appendStringInfo(&sql, " TABLESPACE %s", quote_identifier(con->indexspace));
	jc->index_sql = sql.data;
	jc->deferrable = con->deferrable;
	jc->initdeferred = con->initdeferred;
	return jc;
}

static const char *
fk_action_sql(char action)
{
	switch (action)
	{
		case FKCONSTR_ACTION_RESTRICT:
			return "RESTRICT";
		case FKCONSTR_ACTION_CASCADE:
			return "CASCADE";
		case FKCONSTR_ACTION_SETNULL:
			return "SET NULL";
		case FKCONSTR_ACTION_SETDEFAULT:
			return "SET DEFAULT";
		default:
			return "NO ACTION";
	}
}

/* A column's REFERENCES clause as a table constraint, as SQL. */
static char *
foreign_key_sql(const char *colname, Constraint *con)
{
	StringInfoData buf;
	Oid			pkrelid = RangeVarGetRelid(con->pktable, NoLock, false);

	initStringInfo(&buf);
	appendStringInfo(&buf, "FOREIGN KEY (%s) REFERENCES %s", quote_identifier(colname),
					 quote_qualified_identifier(get_namespace_name(get_rel_namespace(pkrelid)),
												get_rel_name(pkrelid)));
	if (con->pk_attrs)
		appendStringInfo(&buf, " (%s)", name_list_sql(con->pk_attrs));
	if (con->fk_matchtype == FKCONSTR_MATCH_FULL)
		appendStringInfoString(&buf, " MATCH FULL");
	appendStringInfo(&buf, " ON UPDATE %s ON DELETE %s",
					 fk_action_sql(con->fk_upd_action), fk_action_sql(con->fk_del_action));
	if (con->fk_del_set_cols)
		appendStringInfo(&buf, " (%s)", name_list_sql(con->fk_del_set_cols));
	if (con->deferrable)
		appendStringInfoString(&buf, " DEFERRABLE");
	if (con->initdeferred)
		appendStringInfoString(&buf, " INITIALLY DEFERRED");
	return buf.data;
}

/*
 * A foreign key on a partitioned table: PostgreSQL 15 refuses it NOT VALID
 * there, so each leaf gets it NOT VALID under the parent's name after the
 * ALTER, the job validates each, and at the end the parent's constraint is
 * added, which attaches the leaves' instead of checking the rows again.
 * (18 takes it NOT VALID on the parent: it is staged as on any table.)
 */
static SgJobConstraint *
stage_partitioned_foreign_key(Relation rel, const char *colname, Constraint *con,
							  List **chosen)
{
	SgJobConstraint *jc = palloc0(sizeof(SgJobConstraint));

	jc->colname = pstrdup(colname);
	jc->kind = SG_CONSTRAINT_FOREIGN_KEY;
	jc->conname = con->conname ? pstrdup(con->conname)
		: ChooseConstraintName(RelationGetRelationName(rel), colname, "fkey",
							   RelationGetNamespace(rel), *chosen);
	*chosen = lappend(*chosen, jc->conname);
	jc->leaf_sql = psprintf("CONSTRAINT %s %s NOT VALID", quote_identifier(jc->conname),
							foreign_key_sql(colname, con));
	return jc;
}

/*
 * A CHECK or REFERENCES column constraint, added NOT VALID as a table
 * constraint under the name PostgreSQL would choose for it.  A NOT
 * ENFORCED one (18) checks nothing: it is added as it is, and the job has
 * nothing to do for it (NULL).
 */
static SgJobConstraint *
stage_not_valid_constraint(Relation rel, const char *colname, Constraint *con,
						   List **chosen, List **suffix)
{
	SgJobConstraint *jc = palloc0(sizeof(SgJobConstraint));
	Constraint *copy = copyObject(con);
	AlterTableCmd *cmd = makeNode(AlterTableCmd);
	bool		fk = con->contype == CONSTR_FOREIGN;

	jc->colname = pstrdup(colname);
	jc->kind = fk ? SG_CONSTRAINT_FOREIGN_KEY : SG_CONSTRAINT_CHECK;
	jc->conname = con->conname ? pstrdup(con->conname)
		: ChooseConstraintName(RelationGetRelationName(rel), colname,
							   fk ? "fkey" : "check", RelationGetNamespace(rel),
							   *chosen);
	*chosen = lappend(*chosen, jc->conname);

	copy->conname = jc->conname;
	copy->skip_validation = true;
	copy->initially_valid = false;
	if (fk)
		copy->fk_attrs = list_make1(makeString(pstrdup(colname)));
	cmd->subtype = AT_AddConstraint;
	cmd->def = (Node *) copy;
	*suffix = lappend(*suffix, cmd);
	return sg_constraint_enforced(con) ? jc : NULL;
}

/*
 * The column's UNIQUE and PRIMARY KEY constraints as PostgreSQL builds
 * them: the primary key first, and a constraint that would build the same
 * index as an earlier one dropped, handing it its name if the earlier one
 * has none (so "UNIQUE PRIMARY KEY" is one primary key).
 */
static List *
unique_indexes(List *constraints)
{
	List	   *kept = NIL;
	ListCell   *lc;

	foreach(lc, constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		if (con->contype == CONSTR_PRIMARY)
			kept = lcons(copyObject(con), kept);
	}
	foreach(lc, constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);
		ListCell   *kc;
		bool		keep = true;

		if (con->contype != CONSTR_UNIQUE)
			continue;
		foreach(kc, kept)
		{
			Constraint *prior = lfirst(kc);

			if (equal(con->including, prior->including) &&
				con->nulls_not_distinct == prior->nulls_not_distinct &&
				con->deferrable == prior->deferrable &&
				con->initdeferred == prior->initdeferred)
			{
				if (prior->conname == NULL)
					prior->conname = con->conname;
				keep = false;
				break;
			}
		}
		if (keep)
			kept = lappend(kept, copyObject(con));
	}
	return kept;
}

/*
 * Take the CHECK, REFERENCES, UNIQUE and PRIMARY KEY constraints out of a
 * column definition.  Returns what the job finishes later; NOT VALID
 * constraints go to *suffix, to run in the same ALTER.
 */
List *
sg_stage_constraints(Relation rel, SgAddColumn *col, List **chosen, List **suffix)
{
	List	   *kept = NIL;
	List	   *staged = NIL;
	Constraint *last = NULL;
	ListCell   *lc;

	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);

		/* (ENFORCED clauses were applied to their constraints when classified) */
		if (sg_apply_enforced_clause(con, NULL))
			continue;
		switch (con->contype)
		{
			case CONSTR_CHECK:
			case CONSTR_FOREIGN:
			case CONSTR_PRIMARY:
			case CONSTR_UNIQUE:
				last = con;
				break;
			case CONSTR_ATTR_DEFERRABLE:
			case CONSTR_ATTR_NOT_DEFERRABLE:
			case CONSTR_ATTR_DEFERRED:
			case CONSTR_ATTR_IMMEDIATE:
				/* applies to the constraint before it, as PostgreSQL reads it */
				if (last == NULL)
					kept = lappend(kept, con);
				else if (con->contype == CONSTR_ATTR_DEFERRABLE)
					last->deferrable = true;
				else if (con->contype == CONSTR_ATTR_NOT_DEFERRABLE)
					last->deferrable = false;
				else if (con->contype == CONSTR_ATTR_DEFERRED)
					last->initdeferred = last->deferrable = true;
				else
					last->initdeferred = false;
				break;
			default:
				kept = lappend(kept, con);
				break;
		}
	}

	foreach(lc, unique_indexes(col->def->constraints))
		staged = lappend(staged, stage_index_constraint(rel, col->colname,
														lfirst(lc), chosen));
	foreach(lc, col->def->constraints)
	{
		Constraint *con = lfirst_node(Constraint, lc);
		SgJobConstraint *jc = NULL;

		if (con->contype == CONSTR_FOREIGN && sg_constraint_enforced(con) &&
			rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE && !SG_PARTITIONED_FK_NOT_VALID)
			jc = stage_partitioned_foreign_key(rel, col->colname, con, chosen);
		else if (con->contype == CONSTR_CHECK || con->contype == CONSTR_FOREIGN)
			jc = stage_not_valid_constraint(rel, col->colname, con, chosen, suffix);
		if (jc != NULL)
			staged = lappend(staged, jc);
	}
	col->def->constraints = kept;
	return staged;
}
