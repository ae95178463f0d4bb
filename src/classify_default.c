/*-------------------------------------------------------------------------
 *
 * classify_default.c
 *	  The value an added column's existing rows get, as the plain ALTER
 *	  would compute it: cooked, planned (without running users' code in
 *	  explain()), and what can be told of it without computing it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "parser/parse_coerce.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "classify_default.h"
#include "fill.h"
#include "fill_guard.h"
#include "util.h"

/*
 * The value stock PostgreSQL fills existing rows with: the column's DEFAULT,
 * or else the type's default, as build_column_default finds it.  A DEFAULT
 * NULL stores no default, so the type's default applies then too.
 */
Node *
sg_cook_fill_expr(Relation rel, SgAddColumn *col, const char *queryString)
{
	Node	   *expr = NULL;

	if (col->raw_default)
	{
		expr = sg_cook_default(rel, col->raw_default, col->typid, col->typmod,
							   col->colname, queryString);
		if (IsA(expr, Const) && castNode(Const, expr)->constisnull)
			expr = NULL;
	}
	if (expr == NULL)
	{
		expr = get_typdefault(col->typid);
		if (expr != NULL)
			expr = coerce_to_target_type(NULL, expr, exprType(expr),
										 col->typid, col->typmod,
										 COERCION_ASSIGNMENT,
										 COERCE_IMPLICIT_CAST, -1);
	}
	return expr;
}

/*
 * The fill expression as PostgreSQL plans it at the ALTER (planning
 * computes the immutable functions it calls): in the hook as the ALTER's
 * user, as PostgreSQL's ALTER would.  explain() runs no code of users':
 * where planning would compute a function of users', the expression stays
 * unplanned, and the classifier judges it as it is (fill_guard.c).
 */
static void
plan_cb(void *arg)
{
	SgAddColumn *col = arg;

	col->fill_planned = (Node *) expression_planner((Expr *) copyObject(col->fill_expr));
}

void
sg_plan_fill(SgAddColumn *col, bool trial)
{
	ErrorData  *edata;
	Oid			refused;

	if (col->fill_expr == NULL)
		return;
	if (trial)
	{
		plan_cb(col);
		return;
	}
	(void) sg_users_code_refused();
	edata = sg_in_subxact(plan_cb, col, true);
	refused = sg_users_code_refused();
	if (edata == NULL)
		return;
	if (!OidIsValid(refused))
		ReThrowError(edata);
	col->fill_planned = NULL;
	col->fill_unplanned = refused;
}

/* The expression with the defaults of its functions' omitted arguments. */
static Node *
expand_defaults_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, FuncExpr))
	{
		FuncExpr   *func = (FuncExpr *) expression_tree_mutator(node, expand_defaults_mutator, context);
		HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(func->funcid));

		if (HeapTupleIsValid(tup))
		{
			func->args = expand_function_arguments(func->args, false, func->funcresulttype, tup);
			ReleaseSysCache(tup);
		}
		return (Node *) func;
	}
	return expression_tree_mutator(node, expand_defaults_mutator, context);
}

/*
 * Is the fill volatile, by the test ALTER TABLE applies to the planned
 * expression?  Unplanned, the functions it calls decide, with the defaults
 * of their omitted arguments, which planning adds.
 */
bool
sg_fill_is_volatile(SgAddColumn *col)
{
	if (col->fill_planned)
		return contain_volatile_functions(col->fill_planned);
	return contain_volatile_functions(expand_defaults_mutator(col->fill_expr, NULL));
}

/* The fill as planned, or as cooked where explain() could not plan it. */
Node *
sg_fill_as_planned(SgAddColumn *col)
{
	return col->fill_planned ? col->fill_planned : col->fill_expr;
}

/* Does the fill certainly yield NULL? */
bool
sg_fill_is_null(SgAddColumn *col)
{
	Node	   *fill = sg_fill_as_planned(col);

	return fill == NULL || (IsA(fill, Const) && ((Const *) fill)->constisnull);
}

/*
 * Is the type a domain declared NOT NULL, itself or through the domain it
 * is based on?  Then a NULL fill fails on the first row.
 */
bool
sg_domain_is_not_null(Oid typid)
{
	while (get_typtype(typid) == TYPTYPE_DOMAIN)
	{
		HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
		Form_pg_type typ;
		bool		notnull;

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "cache lookup failed for type %u", typid);
		typ = (Form_pg_type) GETSTRUCT(tup);
		notnull = typ->typnotnull;
		typid = typ->typbasetype;
		ReleaseSysCache(tup);
		if (notnull)
			return true;
	}
	return false;
}

/*
 * The fill is NULL before its domain checks it (DEFAULT NULL, or none):
 * planning keeps the coercion to a domain with constraints.
 */
bool
sg_fill_is_null_for_domain(SgAddColumn *col)
{
	Node	   *fill = sg_fill_as_planned(col);

	while (fill != NULL && IsA(fill, CoerceToDomain))
		fill = (Node *) ((CoerceToDomain *) fill)->arg;
	return fill == NULL || (IsA(fill, Const) && ((Const *) fill)->constisnull);
}
