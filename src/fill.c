/*-------------------------------------------------------------------------
 *
 * fill.c
 *	  The value a job gives the rows that predate its column.
 *
 * PostgreSQL's rewrite computes every existing row's value inside the
 * ALTER, as the ALTER's user, under the ALTER's settings.  A job computes
 * it later, in the worker or in an application's session (the fill
 * trigger), so this file carries what decides the value from the ALTER to
 * the job, and makes sure that nothing else decides it:
 *
 *	- at the ALTER, every part of the expression that is not volatile is
 *	  evaluated once, as the ALTER's statement would see it (now(),
 *	  current_user, session_user, current_setting() ...), and the settings
 *	  that shape values (TimeZone, DateStyle, extra_float_digits, ...) are
 *	  captured with the search_path, "$user" resolved and pg_temp last;
 *	- the expression is kept as the node tree the ALTER resolved, valid in
 *	  this cluster and database, and as schema-qualified text: after
 *	  pg_upgrade or a restore, OIDs of functions are not what they were, so
 *	  the text is bound again, by name, the way a restored column default
 *	  is;
 *	- it is computed as the table's owner at the time of the ALTER (never
 *	  as a role that got the table later, nor as a superuser who merely ran
 *	  the ALTER), as a security-restricted operation, under the ALTER's
 *	  settings, with custom settings the ALTER had not set at their
 *	  defaults, and without what fill_guard.c keeps out: code of the owner
 *	  never sees objects an application's session made, nor what another
 *	  role compiled in it;
 *	- whatever that code sets is undone when the computation ends: it never
 *	  changes the settings of the session or worker it ran in.
 *
 * Nothing here writes the job catalog.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/optimizer.h"
#include "parser/parse_node.h"
#include "parser/parse_relation.h"
#include "parser/parser.h"
#include "catalog/heap.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"
#include "utils/varlena.h"

#include "schema_guard.h"
#include "fill.h"
#include "fill_guard.h"

/*
 * The settings that output and input functions, and the functions users
 * call in defaults, read while computing a value.  Custom settings
 * (placeholders and extensions' own, such as "app.tenant") the ALTER's
 * session had set are captured as well.
 */
static const char *const value_settings[] = {
	"DateStyle", "IntervalStyle", "TimeZone", "timezone_abbreviations",
	"extra_float_digits", "bytea_output", "lc_monetary", "lc_numeric",
	"lc_time", "xmlbinary", "xmloption", "default_text_search_config",
	"array_nulls", "standard_conforming_strings", "backslash_quote",
	"quote_all_identifiers", "transform_null_equals", NULL
};

/*
 * How expressions are written to text and read back: names qualified,
 * literals in formats every session reads alike (as pg_dump writes them).
 */
static const char *const text_settings[][2] = {
	{"search_path", "pg_catalog, pg_temp"},
	{"DateStyle", "ISO"},
	{"IntervalStyle", "postgres"},
	{"extra_float_digits", "3"},
	{"standard_conforming_strings", "on"},
	{NULL, NULL}
};

/* The job whose batch the worker runs now, 0 if none. */
static int64 filling_job = 0;

/*
 * Fold
 */

/* Does the node hold something that cannot be evaluated on its own? */
static bool
fold_blocker_walker(Node *node, void *context)
{
	if (node == NULL)
		return false;
	switch (nodeTag(node))
	{
		case T_Var:
		case T_Param:
		case T_CaseTestExpr:
		case T_CoerceToDomainValue:
		case T_SubLink:
		case T_SubPlan:
		case T_Aggref:
		case T_WindowFunc:
		case T_GroupingFunc:
		case T_NextValueExpr:
		case T_SetToDefault:
		case T_CurrentOfExpr:
			return true;
		default:
			break;
	}
	if (expression_returns_set(node))
		return true;
	return expression_tree_walker(node, fold_blocker_walker, context);
}

/* Evaluate an expression now, as a constant of its type. */
static Node *
evaluate_now(Expr *expr)
{
	Oid			typid = exprType((Node *) expr);
	int32		typmod = exprTypmod((Node *) expr);
	Oid			collid = exprCollation((Node *) expr);
	EState	   *estate = CreateExecutorState();
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
	ExprState  *state;
	Datum		value;
	bool		isnull;
	int16		typlen;
	bool		typbyval;

	fix_opfuncids((Node *) expr);
	state = ExecInitExpr(expr, NULL);
	value = ExecEvalExprSwitchContext(state, GetPerTupleExprContext(estate), &isnull);
	get_typlenbyval(typid, &typlen, &typbyval);
	MemoryContextSwitchTo(old);
	if (!isnull)
		value = typlen == -1 ? PointerGetDatum(PG_DETOAST_DATUM_COPY(value))
			: datumCopy(value, typbyval, typlen);
	FreeExecutorState(estate);
	return (Node *) makeConst(typid, typmod, collid, typlen, value, isnull, typbyval);
}

static Node *
fold_mutator(Node *node, void *context)
{
	if (node == NULL)
		return NULL;
	if (IsA(node, Const) || IsA(node, List))
		return expression_tree_mutator(node, fold_mutator, context);
	if (!contain_volatile_functions(node) && !fold_blocker_walker(node, NULL))
		return evaluate_now((Expr *) node);
	return expression_tree_mutator(node, fold_mutator, context);
}

typedef struct FoldArgs
{
	Node	   *expr;
	Node	   *folded;
} FoldArgs;

static void
fold_cb(void *arg)
{
	FoldArgs   *args = arg;

	/* the safe simplifications first: they leave executable trees */
	args->folded = fold_mutator(eval_const_expressions(NULL, copyObject(args->expr)),
								NULL);
}

/*
 * The expression with every part that is not volatile replaced by its value
 * now: a stable function (now(), current_user, current_setting(), a lookup)
 * gives the same value for every row of the ALTER's rewrite, and that is
 * the value stock PostgreSQL stores.  If evaluating a part fails, the
 * expression is kept as it is and fails where the rewrite would have, on a
 * row.
 */
Node *
sg_fill_fold(Node *expr)
{
	FoldArgs	args = {expr, NULL};
	ErrorData  *edata;

	if (expr == NULL)
		return NULL;
	edata = sg_in_subxact(fold_cb, &args, true);
	if (edata == NULL)
		return args.folded;
	FreeErrorData(edata);
	return expr;
}

/*
 * Cook a column default against the table, as AddRelationNewConstraints
 * does when ALTER TABLE stores it.
 */
Node *
sg_cook_default(Relation rel, Node *raw_default, Oid typid, int32 typmod,
				const char *colname, const char *queryString)
{
	ParseState *pstate = make_parsestate(NULL);
	ParseNamespaceItem *nsitem;
	Node	   *expr;

	pstate->p_sourcetext = queryString;
	nsitem = addRangeTableEntryForRelation(pstate, rel, AccessShareLock,
										   NULL, false, true);
	addNSItemToQuery(pstate, nsitem, true, true, true);
	expr = cookDefault(pstate, copyObject(raw_default), typid, typmod,
					   colname, '\0');
	free_parsestate(pstate);
	return expr;
}

/*
 * Text
 */

static int
enter_text_settings(void)
{
	int			nestlevel = NewGUCNestLevel();
	int			i;

	for (i = 0; text_settings[i][0]; i++)
		(void) set_config_option(text_settings[i][0], text_settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	return nestlevel;
}

/*
 * The expression as text that names every object outside pg_catalog by
 * its schema, and writes literals so that any session reads them back the
 * same: what a restored column default is made from.
 */
char *
sg_fill_qualified_sql(Node *expr)
{
	int			nestlevel = enter_text_settings();
	char	   *sql;

	sql = deparse_expression(expr, NIL, false, false);
	AtEOXact_GUC(false, nestlevel);
	return sql;
}

/*
 * The expression the text means in this cluster, cooked against the table
 * as the ALTER cooked it, in the job's context (cooking a literal of a
 * domain runs the domain's checks).  Names resolve only where they are
 * qualified (and in pg_catalog), so nobody's object in some schema of a
 * search_path can stand in for the one the ALTER resolved.
 */
Node *
sg_fill_rebind(Relation rel, const char *fill_sql, Oid typid, int32 typmod,
			   const char *colname, const SgFillEnv *env)
{
	SgFillSaved saved;
	Node	   *volatile expr = NULL;

	sg_fill_enter(env, false, &saved);
	PG_TRY();
	{
		int			nestlevel = enter_text_settings();
		char	   *select = psprintf("SELECT %s", fill_sql);
		List	   *raw = raw_parser(select, RAW_PARSE_DEFAULT);
		SelectStmt *stmt;
		ResTarget  *target;

		if (list_length(raw) != 1)
			elog(ERROR, "fill expression is not a single expression: %s", fill_sql);
		stmt = castNode(SelectStmt, linitial_node(RawStmt, raw)->stmt);
		if (list_length(stmt->targetList) != 1 || stmt->fromClause != NIL)
			elog(ERROR, "fill expression is not a single expression: %s", fill_sql);
		target = linitial_node(ResTarget, stmt->targetList);
		expr = sg_cook_default(rel, target->val, typid, typmod, colname, select);
		AtEOXact_GUC(false, nestlevel);
	}
	PG_CATCH();
	{
		sg_fill_leave(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_fill_leave(&saved, true);
	return expr;
}

/*
 * What cannot be reproduced
 */

static bool
temp_function_checker(Oid funcid, void *context)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	bool		temp = false;

	if (HeapTupleIsValid(tup))
	{
		temp = isAnyTempNamespace(((Form_pg_proc) GETSTRUCT(tup))->pronamespace);
		if (temp)
			*(Oid *) context = funcid;
		ReleaseSysCache(tup);
	}
	return temp;
}

static bool
type_is_temporary(Oid typid)
{
	HeapTuple	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	bool		temp = false;

	if (HeapTupleIsValid(tup))
	{
		temp = isAnyTempNamespace(((Form_pg_type) GETSTRUCT(tup))->typnamespace);
		ReleaseSysCache(tup);
	}
	return temp;
}

typedef struct TempReference
{
	Oid			funcid;
	Oid			relid;
	Oid			typid;
} TempReference;

static bool
temp_reference_walker(Node *node, TempReference *found)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, temp_function_checker, &found->funcid))
		return true;
	if (IsA(node, Const))
	{
		Const	   *c = (Const *) node;

		if (!c->constisnull && c->consttype == REGCLASSOID &&
			get_rel_persistence(DatumGetObjectId(c->constvalue)) == RELPERSISTENCE_TEMP)
		{
			found->relid = DatumGetObjectId(c->constvalue);
			return true;
		}
	}
	if (!IsA(node, List) && type_is_temporary(exprType(node)))
	{
		found->typid = exprType(node);
		return true;
	}
	return expression_tree_walker(node, temp_reference_walker, found);
}

/*
 * Why the job cannot compute what the ALTER would have, or NULL: the
 * session's temporary objects die with it, and the job runs elsewhere.
 */
const char *
sg_fill_unreproducible(Node *expr)
{
	TempReference found = {InvalidOid, InvalidOid, InvalidOid};

	if (!temp_reference_walker(expr, &found))
		return NULL;
	if (OidIsValid(found.funcid))
		return psprintf("the default calls temporary function %s(), which the background job cannot see",
						get_func_name(found.funcid));
	if (OidIsValid(found.relid))
		return psprintf("the default uses temporary relation \"%s\", which the background job cannot see",
						get_rel_name(found.relid));
	return psprintf("the default uses temporary type %s, which the background job cannot see",
					format_type_be(found.typid));
}

/* Does the expression call a function that is not PostgreSQL's own? */
static bool
user_function_checker(Oid funcid, void *context)
{
	return funcid >= FirstNormalObjectId;
}

/* ... or one that moves a sequence, which no rollback takes back? */
static bool
sequence_function_checker(Oid funcid, void *context)
{
	return funcid == F_NEXTVAL || funcid == F_SETVAL_REGCLASS_INT8 ||
		funcid == F_SETVAL_REGCLASS_INT8_BOOL;
}

static bool
calls_walker(Node *node, void *checker)
{
	if (node == NULL)
		return false;
	if (check_functions_in_node(node, (check_function_callback) checker, NULL))
		return true;
	return expression_tree_walker(node, calls_walker, checker);
}

/*
 * Is the expression worth computing once at the ALTER?  It calls functions
 * of users', whose bodies could need what a job cannot reproduce (the
 * session's temporary tables, SET ROLE, ...) or fail: better say so at the
 * ALTER than in a failed job.  Not when it moves a sequence: the sequence
 * must end where PostgreSQL's rewrite leaves it.
 */
bool
sg_fill_worth_trial(Node *expr)
{
	return expr != NULL && calls_walker(expr, user_function_checker) &&
		!calls_walker(expr, sequence_function_checker);
}

typedef struct TrialArgs
{
	Node	   *expr;
	SgFillEnv  *env;			/* NULL: as the ALTER computes it */
} TrialArgs;

static void
trial_cb(void *arg)
{
	TrialArgs  *args = arg;
	SgFillSaved saved;

	if (args->env == NULL)
	{
		(void) evaluate_now(expression_planner((Expr *) copyObject(args->expr)));
		return;
	}
	sg_fill_enter(args->env, true, &saved);
	PG_TRY();
	{
		(void) evaluate_now(expression_planner((Expr *) copyObject(args->expr)));
	}
	PG_CATCH();
	{
		sg_fill_leave(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_fill_leave(&saved, true);
}

/*
 * Compute the value once, now: as the ALTER computes it (as_job false), or
 * as the job will (as the table's owner, as a security-restricted
 * operation, under the ALTER's settings and pinned search_path, without the
 * session's temporary objects).  Everything the computation did is rolled
 * back.  Returns the error, or NULL.
 */
char *
sg_fill_trial(Relation rel, Node *expr, bool as_job)
{
	SgFillEnv	env;
	TrialArgs	args = {expr, as_job ? &env : NULL};
	ErrorData  *edata;

	env.role = rel->rd_rel->relowner;
	env.search_path = sg_pinned_search_path();
	env.settings = sg_capture_settings();
	env.job_id = 0;
	/* nothing it did stays */
	edata = sg_in_subxact(trial_cb, &args, false);
	return edata ? edata->message : NULL;
}

/*
 * Settings
 */

/*
 * The ALTER's search_path as a list of schemas a job can use anywhere:
 * "$user" is the ALTER's user, and pg_temp, which PostgreSQL would search
 * first, goes last (as PostgreSQL advises for SECURITY DEFINER functions).
 */
char *
sg_pinned_search_path(void)
{
	return sg_pin_search_path(namespace_search_path, GetUserNameFromId(GetUserId(), false));
}

/* A search_path as a pinned one, with "$user" meaning user. */
char *
sg_pin_search_path(const char *search_path, const char *user)
{
	char	   *raw = pstrdup(search_path);
	List	   *elems;
	ListCell   *lc;
	StringInfoData buf;

	initStringInfo(&buf);
	if (!SplitIdentifierString(raw, ',', &elems))
		elems = NIL;			/* the GUC's check hook accepted it; cannot happen */
	foreach(lc, elems)
	{
		const char *elem = lfirst(lc);

		if (strcmp(elem, "pg_temp") == 0)
			continue;
		if (strcmp(elem, "$user") == 0)
			elem = user;
		appendStringInfo(&buf, "%s%s", buf.len ? ", " : "", quote_identifier(elem));
	}
	appendStringInfo(&buf, "%spg_temp", buf.len ? ", " : "");
	return buf.data;
}

static bool
is_custom_setting(struct config_generic *var)
{
	return strchr(var->name, '.') != NULL &&
		pg_strncasecmp(var->name, "schema_guard.", strlen("schema_guard.")) != 0;
}

/*
 * The settings of the ALTER's session that shape the values a default
 * computes, as "name=value": the listed ones always, custom ones the
 * session has set.
 */
List *
sg_capture_settings(void)
{
	List	   *settings = NIL;
	struct config_generic **vars;
	int			nvars;
	int			i;

	for (i = 0; value_settings[i]; i++)
	{
		const char *value = GetConfigOption(value_settings[i], true, false);

		if (value)
			settings = lappend(settings, psprintf("%s=%s", value_settings[i], value));
	}
	vars = sg_guc_variables(&nvars);
	for (i = 0; i < nvars; i++)
	{
		struct config_generic *var = vars[i];
		const char *value;

		if (!is_custom_setting(var) || var->context != PGC_USERSET ||
			var->source == PGC_S_DEFAULT)
			continue;
		value = GetConfigOption(var->name, true, false);
		if (value)
			settings = lappend(settings, psprintf("%s=%s", var->name, value));
	}
	return settings;
}

/* Is name one of the settings ("name=value")? */
static bool
is_captured(List *settings, const char *name)
{
	size_t		len = strlen(name);
	ListCell   *lc;

	foreach(lc, settings)
	{
		const char *setting = lfirst(lc);

		if (pg_strncasecmp(setting, name, len) == 0 && setting[len] == '=')
			return true;
	}
	return false;
}

/* A setting's built-in default, as text. */
static const char *
boot_value(struct config_generic *var)
{
	switch (var->vartype)
	{
		case PGC_BOOL:
			return ((struct config_bool *) var)->boot_val ? "on" : "off";
		case PGC_INT:
			return psprintf("%d", ((struct config_int *) var)->boot_val);
		case PGC_REAL:
			return psprintf("%.17g", ((struct config_real *) var)->boot_val);
		case PGC_ENUM:
			return config_enum_lookup_by_value((struct config_enum *) var,
											   ((struct config_enum *) var)->boot_val);
		case PGC_STRING:
			break;
	}
	return ((struct config_string *) var)->boot_val ? ((struct config_string *) var)->boot_val : "";
}

/*
 * The custom settings of this process (placeholders and extensions' own),
 * found again when one is added.  The variables themselves never move.
 */
static struct config_generic **custom_vars = NULL;
static int	ncustom = 0;
static int	custom_count = -1;

static void
find_custom_settings(void)
{
	int			count = sg_guc_count();
	struct config_generic **vars;
	int			nvars;
	int			i;

	if (count >= 0 && count == custom_count)
		return;
	vars = sg_guc_variables(&nvars);
	if (custom_vars)
		pfree(custom_vars);
	custom_vars = MemoryContextAlloc(TopMemoryContext,
									 sizeof(struct config_generic *) * Max(nvars, 1));
	ncustom = 0;
	for (i = 0; i < nvars; i++)
		if (is_custom_setting(vars[i]))
			custom_vars[ncustom++] = vars[i];
	sg_guc_variables_done(vars);
	custom_count = count;
}

/*
 * Custom settings that any role may set and the ALTER's session had not
 * set are at their built-in defaults while a value is computed, whatever
 * the session computing it has set: the owner's code reads what the
 * ALTER's session would have given it, an empty string for a placeholder,
 * not what another role chose.  (Those only privileged roles may set are
 * left as they are, as they are not captured either.)
 */
static void
reset_uncaptured(List *settings)
{
	int			i;

	find_custom_settings();
	for (i = 0; i < ncustom; i++)
	{
		struct config_generic *var = custom_vars[i];

		if (var->source == PGC_S_DEFAULT || var->context != PGC_USERSET ||
			is_captured(settings, var->name))
			continue;
		(void) set_config_option(var->name, boot_value(var), PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
	}
}

/*
 * Apply settings ("name=value") and a search_path (or NULL) for the
 * duration of a GUC nest level, which the caller ends with
 * AtEOXact_GUC(false, ...): whatever was set meanwhile, by the code that
 * ran too, is undone then.  Only what differs is set.  With all, they are
 * all the settings that shape values: custom settings not among them are
 * reset.
 */
int
sg_apply_settings(List *settings, const char *search_path, bool all)
{
	int			nestlevel = NewGUCNestLevel();
	ListCell   *lc;

	foreach(lc, settings)
	{
		char	   *setting = pstrdup(lfirst(lc));
		char	   *eq = strchr(setting, '=');
		const char *current;

		if (eq == NULL)
			continue;
		*eq = '\0';
		current = GetConfigOption(setting, true, false);
		if (current == NULL || strcmp(current, eq + 1) != 0)
			(void) set_config_option(setting, eq + 1, PGC_USERSET, PGC_S_SESSION,
									 GUC_ACTION_SAVE, true, 0, false);
		pfree(setting);
	}
	if (all)
		reset_uncaptured(settings);
	if (search_path && strcmp(namespace_search_path, search_path) != 0)
		(void) set_config_option("search_path", search_path, PGC_USERSET,
								 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	return nestlevel;
}

/*
 * Bind the objects the expression uses to the fill trigger, as a column
 * default is bound to them: while the job lives they cannot be dropped
 * without the trigger, which the job's guard notices, so a stored OID never
 * comes to mean another object.  The dependency is automatic, so that
 * dropping the column (and a serial column's sequence with it) still works.
 */
void
sg_fill_record_dependencies(Oid trigger_oid, Node *expr)
{
	ObjectAddress trigger;

	ObjectAddressSet(trigger, TriggerRelationId, trigger_oid);
	recordDependencyOnExpr(&trigger, expr, NIL, DEPENDENCY_AUTO);
}

/*
 * Computing
 */

/* The worker marks the batch it runs: only there may fill_value() compute. */
void
sg_set_filling_job(int64 job_id)
{
	filling_job = job_id;
}

int64
sg_filling_job(void)
{
	return filling_job;
}

/*
 * Enter the context a job's values are computed in: its role, restricted
 * as PostgreSQL restricts maintenance on a table owner's behalf, its
 * search_path, with its other settings too unless the caller applied them
 * (the worker does, once for a whole batch), and without what the session
 * may not lend it (fill_guard.c).  Everything from planning the expression
 * to computing it happens in there.  On error the (sub)transaction abort
 * restores the user and the settings; the caller still calls
 * sg_fill_leave(saved, false) from its PG_CATCH, so that the guard ends too.
 */
void
sg_fill_enter(const SgFillEnv *env, bool settings, SgFillSaved *saved)
{
	if (!OidIsValid(env->role) ||
		!SearchSysCacheExists1(AUTHOID, ObjectIdGetDatum(env->role)))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("the role that computes this job's values no longer exists"),
				 errdetail("A job computes values as the table's owner at the time of its ALTER TABLE.")));
	sg_switch_role(env->role, SECURITY_RESTRICTED_OPERATION, &saved->role);
	saved->nestlevel = sg_apply_settings(settings ? env->settings : NIL,
										 env->search_path, settings);
	sg_fill_guard_push(env->job_id, &saved->guard);
}

/*
 * Leave it.  Whatever the code that ran set (SET, set_config()) is undone,
 * as PostgreSQL undoes it after maintenance it runs on an owner's behalf:
 * the owner's code never changes the settings of the session or worker it
 * ran in.  After an error (ok false) the abort restores the rest.
 */
void
sg_fill_leave(const SgFillSaved *saved, bool ok)
{
	sg_fill_guard_pop(&saved->guard);
	if (!ok)
		return;
	AtEOXact_GUC(false, saved->nestlevel);
	sg_restore_role(&saved->role);
}
