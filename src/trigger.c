/*-------------------------------------------------------------------------
 *
 * trigger.c
 *	  The row rule, and the trigger that applies it to application updates.
 *
 * The rule: a row needs the backfill if and only if its stored tuple was
 * formed before the column existed.  PostgreSQL does not store trailing
 * attributes a tuple was formed without, so HeapTupleHeaderGetNatts() below
 * the column's attnum says exactly that, with no marker column and no
 * guessing from xmin.  Every tuple written after the ALTER (by INSERT,
 * UPDATE, COPY or the backfill) has the column physically, even when it
 * holds NULL.
 *
 * needs_fill() reads the rule off the stored tuple at a ctid, for the
 * backfill's UPDATE.  fill_trigger() is a BEFORE UPDATE row trigger, named
 * to fire after the table's own BEFORE triggers and enabled ALWAYS, that
 * fills the job's columns when the application updates a row that predates
 * them: so no row escapes the backfill, and the NOT VALID helper check
 * never rejects the application's update of an old row.  It computes the
 * value as the table's owner, as PostgreSQL's rewrite would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/execdesc.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "optimizer/optimizer.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "app_update.h"
#include "fill.h"
#include "job.h"
#include "job_objects.h"
#include "trigger.h"
#include "bind.h"
#include "job_catalog.h"
#include "exec_stack.h"
#include "util.h"

PG_FUNCTION_INFO_V1(sg_needs_fill);
PG_FUNCTION_INFO_V1(sg_fill_trigger_v2);
PG_FUNCTION_INFO_V1(sg_fill_value_v2);
PG_FUNCTION_INFO_V1(sg_fill_trigger);
PG_FUNCTION_INFO_V1(sg_fill_value);

/* The last row version needs_fill() let through, for error reports. */
ItemPointerData sg_last_filled_tid;
Oid			sg_last_filled_rel = InvalidOid;

/*
 * What a job fills, cached per backend: a job's columns and fill
 * expressions never change once it exists.  The cache is emptied whenever
 * the job catalog is invalidated (a job created, the extension dropped and
 * created again, so that job numbers start over): a pooled session never
 * fills by another job's definition.  Users of an entry copy what they
 * keep beyond the statement.
 */
typedef struct FillSpec
{
	int64		job_id;			/* hash key */
	Oid			relid;
	SgFillEnv	env;
	int			ncols;
	AttrNumber *attnums;		/* in the job's table */
	char	  **colnames;		/* at the ALTER */
	Node	  **exprs;			/* fill expressions, bound here */
	bool	   *not_null;
	Oid		   *types;			/* the columns' types */
	List	   *leaves;			/* tables that store the job's rows */
	List	   *triggers;		/* OIDs of the job's fill triggers, if bound */
} FillSpec;

static HTAB *fill_specs = NULL;
static MemoryContext fill_spec_cxt = NULL;
static Oid	fill_specs_catalog = InvalidOid;	/* schema_guard.jobs, when loaded */
static bool fill_specs_stale = false;

static void
fill_spec_invalidate(Datum arg, Oid relid)
{
	if (!OidIsValid(relid) || relid == fill_specs_catalog)
		fill_specs_stale = true;
}

static FillSpec *
load_fill_spec(int64 job_id)
{
	FillSpec   *spec;
	bool		found;
	SgJob	   *job;
	ListCell   *lc;
	int			i = 0;
	MemoryContext old;
	Relation	rel;

	if (fill_specs != NULL && fill_specs_stale)
	{
		hash_destroy(fill_specs);
		MemoryContextDelete(fill_spec_cxt);
		fill_specs = NULL;
	}
	if (fill_specs == NULL)
	{
		HASHCTL		ctl;
		static bool registered = false;

		if (!registered)
		{
			CacheRegisterRelcacheCallback(fill_spec_invalidate, (Datum) 0);
			registered = true;
		}
		fill_spec_cxt = AllocSetContextCreate(CacheMemoryContext,
											  "schema_guard fill specs",
											  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(FillSpec);
		ctl.hcxt = fill_spec_cxt;
		fill_specs = hash_create("schema_guard fill specs", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		fill_specs_stale = false;
		fill_specs_catalog = get_relname_relid("jobs", get_namespace_oid(SG_SCHEMA_NAME, false));
	}
	spec = hash_search(fill_specs, &job_id, HASH_FIND, NULL);
	if (spec)
		return spec;

	job = sg_job_load(job_id, true);
	if (job == NULL)
		return NULL;

	rel = relation_open(job->relid, AccessShareLock);
	old = MemoryContextSwitchTo(fill_spec_cxt);
	spec = hash_search(fill_specs, &job_id, HASH_ENTER, &found);
	spec->relid = job->relid;
	spec->env.role = job->role;
	spec->env.search_path = pstrdup(job->search_path);
	spec->env.settings = NIL;
	spec->env.job_id = job_id;
	foreach(lc, job->settings)
		spec->env.settings = lappend(spec->env.settings, pstrdup(lfirst(lc)));
	spec->ncols = list_length(job->columns);
	spec->attnums = palloc(sizeof(AttrNumber) * spec->ncols);
	spec->colnames = palloc(sizeof(char *) * spec->ncols);
	spec->exprs = palloc(sizeof(Node *) * spec->ncols);
	spec->not_null = palloc(sizeof(bool) * spec->ncols);
	spec->types = palloc(sizeof(Oid) * spec->ncols);
	spec->leaves = NIL;
	spec->triggers = NIL;
	foreach(lc, job->leaves)
		spec->leaves = lappend_oid(spec->leaves, ((SgJobLeaf *) lfirst(lc))->relid);
	if (sg_job_is_bound(job))
		foreach(lc, job->objects)
			if (((SgJobObject *) lfirst(lc))->kind == SG_OBJECT_FILL_TRIGGER)
				spec->triggers = lappend_oid(spec->triggers, ((SgJobObject *) lfirst(lc))->objid);
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);

		spec->attnums[i] = col->attnum;
		spec->colnames[i] = pstrdup(col->colname);
		spec->not_null[i] = col->not_null;
		spec->types[i] = col->atttype;
		i++;
	}
	MemoryContextSwitchTo(old);
	/*
	 * The expressions as the ALTER bound them, or, in a cluster the job was
	 * carried to, bound again by name, as the job's role (the worker records
	 * that; a session only keeps it).
	 */
	i = 0;
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		Node	   *expr = sg_job_is_bound(job) ? stringToNode(col->fill_node)
			: sg_fill_rebind(rel, col->fill_sql, col->atttype, col->atttypmod, col->colname,
							 &spec->env);

		old = MemoryContextSwitchTo(fill_spec_cxt);
		spec->exprs[i++] = copyObject(expr);
		MemoryContextSwitchTo(old);
	}
	relation_close(rel, AccessShareLock);
	return spec;
}

/* Does the stored tuple at tid predate attribute attnum? */
bool
sg_tuple_predates(Relation rel, ItemPointer tid, AttrNumber attnum)
{
	BlockNumber block = ItemPointerGetBlockNumber(tid);
	OffsetNumber off = ItemPointerGetOffsetNumber(tid);
	Buffer		buf;
	Page		page;
	bool		result = false;

	buf = ReadBuffer(rel, block);
	LockBuffer(buf, BUFFER_LOCK_SHARE);
	page = BufferGetPage(buf);
	if (off >= FirstOffsetNumber && off <= PageGetMaxOffsetNumber(page))
	{
		ItemId		id = PageGetItemId(page, off);

		if (ItemIdIsNormal(id))
		{
			HeapTupleHeader htup = (HeapTupleHeader) PageGetItem(page, id);

			result = HeapTupleHeaderGetNatts(htup) < attnum;
		}
	}
	UnlockReleaseBuffer(buf);
	return result;
}

typedef struct NeedsFillState
{
	Oid			relid;
	BlockNumber nblocks;
} NeedsFillState;

/*
 * needs_fill(rel, ctid, attnum): does the row version stored at ctid
 * predate the column numbered attnum?  For the backfill's WHERE clause,
 * evaluated on the row the scan returns, and again on the newest version
 * if a concurrent update intervened.
 */
Datum
sg_needs_fill(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ItemPointer tid = (ItemPointer) PG_GETARG_POINTER(1);
	AttrNumber	attnum = PG_GETARG_INT16(2);
	NeedsFillState *state = fcinfo->flinfo->fn_extra;
	Relation	rel;
	bool		result;

	if (state == NULL || state->relid != relid)
	{
		AclResult	acl;

		/* held until the end of the transaction, like any read */
		rel = try_relation_open(relid, AccessShareLock);
		if (rel == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("relation with OID %u does not exist", relid)));
		if (rel->rd_rel->relkind != RELKIND_RELATION)
			ereport(ERROR,
					(errcode(ERRCODE_WRONG_OBJECT_TYPE),
					 errmsg("\"%s\" is not a table that stores rows",
							RelationGetRelationName(rel))));
		acl = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
		if (acl != ACLCHECK_OK)
			aclcheck_error(acl, OBJECT_TABLE, RelationGetRelationName(rel));
		/*
		 * It reads row versions whatever their visibility and whatever
		 * row-level security would hide: only for who may see them all.
		 */
		if (!superuser() && !has_privs_of_role(GetUserId(), rel->rd_rel->relowner))
			aclcheck_error(ACLCHECK_NOT_OWNER, OBJECT_TABLE, RelationGetRelationName(rel));
		state = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(NeedsFillState));
		state->relid = relid;
		state->nblocks = RelationGetNumberOfBlocks(rel);
		fcinfo->flinfo->fn_extra = state;
	}
	else
		rel = relation_open(relid, NoLock);

	if (ItemPointerGetBlockNumber(tid) >= state->nblocks)
		state->nblocks = RelationGetNumberOfBlocks(rel);
	result = ItemPointerGetBlockNumber(tid) < state->nblocks &&
		sg_tuple_predates(rel, tid, attnum);
	relation_close(rel, NoLock);

	if (result)
	{
		ItemPointerCopy(tid, &sg_last_filled_tid);
		sg_last_filled_rel = relid;
	}
	PG_RETURN_BOOL(result);
}

static void
report_null_fill(const char *relname, const char *colname)
{
	ereport(ERROR,
			(errcode(ERRCODE_NOT_NULL_VIOLATION),
			 errmsg("column \"%s\" of relation \"%s\" contains null values",
					colname, relname)));
}

/*
 * Per-statement state of the fill trigger and of fill_value(), in the
 * function's fn_mcxt: a copy, so that the cache may be emptied meanwhile.
 */
typedef struct FillState
{
	int64		job_id;
	Oid			relid;			/* the table the trigger fired on / the leaf */
	Oid			job_relid;		/* the job's table */
	SgFillEnv	env;
	int			ncols;
	AttrNumber	min_attnum;		/* in relid */
	int		   *attnums;		/* in relid, for heap_modify_tuple_by_cols */
	char	  **colnames;
	bool	   *not_null;
	Oid		   *types;
	ExprState **exprstates;
	ExprContext *econtext;
	bool		leaf;			/* relid stores the job's rows */
	AttrNumber	key_attnum;		/* fill_value(): its column, in the job's table */
} FillState;

/*
 * Plan and prepare the job's expressions in the context they are computed
 * in (fill.c): as the job's role, under its search_path and settings, so
 * that planning (which inlines SQL functions, reading their bodies under
 * the search_path) and the checks of the right to execute the functions
 * are the job's, not those of the session that fires the trigger.
 */
static void
prepare_exprs(FunctionCallInfo fcinfo, FillState *state, FillSpec *spec, bool settings)
{
	MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	SgFillSaved saved;
	int			i;

	sg_fill_enter(&state->env, settings, &saved);
	PG_TRY();
	{
		for (i = 0; i < spec->ncols; i++)
			state->exprstates[i] =
				ExecInitExpr(expression_planner((Expr *) copyObject(spec->exprs[i])), NULL);
	}
	PG_CATCH();
	{
		sg_fill_leave(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_fill_leave(&saved, true);
	MemoryContextSwitchTo(old);
}

/*
 * Copy what a statement needs of a job; its expressions are prepared once
 * the caller knows it may compute them (prepare_exprs).
 */
static FillState *
fill_state(FunctionCallInfo fcinfo, FillSpec *spec, Relation rel)
{
	MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
	FillState  *state = palloc0(sizeof(FillState));
	ListCell   *lc;
	int			i;

	state->job_id = spec->job_id;
	state->relid = RelationGetRelid(rel);
	state->job_relid = spec->relid;
	state->env = spec->env;
	state->env.search_path = pstrdup(spec->env.search_path);
	state->env.settings = NIL;
	foreach(lc, spec->env.settings)
		state->env.settings = lappend(state->env.settings, pstrdup(lfirst(lc)));
	state->ncols = spec->ncols;
	state->attnums = palloc(sizeof(int) * spec->ncols);
	state->colnames = palloc(sizeof(char *) * spec->ncols);
	state->not_null = palloc(sizeof(bool) * spec->ncols);
	state->types = palloc(sizeof(Oid) * spec->ncols);
	state->exprstates = palloc(sizeof(ExprState *) * spec->ncols);
	state->leaf = state->relid == spec->relid ||
		list_member_oid(spec->leaves, state->relid);
	state->min_attnum = MaxAttrNumber;
	for (i = 0; i < spec->ncols; i++)
	{
		AttrNumber	attnum = spec->attnums[i];

		/* each leaf numbers the job's columns its own way */
		if (state->relid != spec->relid)
		{
			char	   *name = sg_column_name(spec->relid, attnum);

			attnum = name ? get_attnum(state->relid, name) : InvalidAttrNumber;
		}
		/* a dropped column needs no value */
		if (attnum == InvalidAttrNumber ||
			TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attisdropped)
			attnum = InvalidAttrNumber;
		else
			state->min_attnum = Min(state->min_attnum, attnum);
		state->attnums[i] = attnum;
		state->colnames[i] = pstrdup(spec->colnames[i]);
		state->not_null[i] = spec->not_null[i];
		state->types[i] = spec->types[i];
	}
	state->econtext = CreateStandaloneExprContext();
	MemoryContextSwitchTo(old);
	return state;
}

/* Is the firing trigger one of the job's, or a partition's clone of one? */
static bool
is_jobs_trigger(FillSpec *spec, Trigger *trigger)
{
	if (spec->triggers == NIL)
		return true;			/* carried to another cluster: not bound yet */
	return sg_trigger_descends_from(trigger->tgoid, spec->triggers);
}

static FillState *
trigger_state(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	FillState  *state = fcinfo->flinfo->fn_extra;
	Relation	rel = trigdata->tg_relation;
	Trigger    *trigger = trigdata->tg_trigger;
	FillSpec   *spec;
	int64		job_id;

	if (state && state->relid == RelationGetRelid(rel))
		return state;

	if (trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("schema_guard.fill_trigger() takes one argument, a job id")));
	job_id = pg_strtoint64(trigger->tgargs[0]);

	spec = load_fill_spec(job_id);
	if (spec == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("schema_guard fill trigger refers to job %lld, which does not exist",
						(long long) job_id),
				 errhint("Drop the trigger; it belongs to a job that is gone.")));
	state = fill_state(fcinfo, spec, rel);

	/*
	 * Only the job's own triggers, on the tables that store its rows, fill
	 * anything.  A partition created since the ALTER has the column in
	 * every row and needs nothing.
	 */
	if (!state->leaf &&
		!list_member_oid(find_all_inheritors(spec->relid, NoLock, NULL), state->relid))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("schema_guard fill trigger on table \"%s\" belongs to a job on another table",
						RelationGetRelationName(rel))));
	if (state->leaf && !is_jobs_trigger(spec, trigger))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("trigger \"%s\" on table \"%s\" is not the fill trigger of schema_guard job %lld",
						trigger->tgname, RelationGetRelationName(rel), (long long) job_id),
				 errhint("Drop the trigger: only schema_guard makes fill triggers.")));
	if (state->leaf)
		prepare_exprs(fcinfo, state, spec, true);
	fcinfo->flinfo->fn_extra = state;
	return state;
}

static void
fill_error_callback(void *arg)
{
	FillState  *state = (FillState *) arg;

	errcontext("schema_guard job %lld computing a new column's value for a row that predates it",
			   (long long) state->job_id);
}

/*
 * Compute values of the job's columns (indexes which[0..n-1]) for one row,
 * in the job's context (fill.c).  settings says whether to apply the
 * job's settings here, or whether the caller did.
 */
static void
evaluate_fill(FillState *state, bool settings, int n, const int *which,
			  Datum *values, bool *nulls)
{
	ErrorContextCallback errcallback;
	SgFillSaved saved;
	int			i;

	/* an application's UPDATE can fail here: say who computes what */
	errcallback.callback = fill_error_callback;
	errcallback.arg = state;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	sg_fill_enter(&state->env, settings, &saved);
	PG_TRY();
	{
		for (i = 0; i < n; i++)
			values[i] = ExecEvalExprSwitchContext(state->exprstates[which[i]],
												  state->econtext, &nulls[i]);
	}
	PG_CATCH();
	{
		sg_fill_leave(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_fill_leave(&saved, true);
	error_context_stack = errcallback.previous;
}

/*
 * fill_value(job, attnum, leaf, type): the value the job's ALTER gives a
 * row of leaf in column attnum (of the job's table).  schema_guard's own,
 * for the worker's batches: anyone else calling it is refused, and so is a
 * type argument other than the column's, or a table that is not a leaf of
 * the job.  A NULL for a NOT NULL column is the error the rewrite raises.
 */
Datum
sg_fill_value_v2(PG_FUNCTION_ARGS)
{
	FillState  *state = fcinfo->flinfo->fn_extra;
	Datum		value;
	bool		isnull;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job, column and table must not be NULL")));
	if (sg_filling_job() != PG_GETARG_INT64(0))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema_guard.fill_value() is for schema_guard's background worker"),
				 errdetail("Only the worker computes a job's values, in its batches.")));
	if (state == NULL || state->job_id != PG_GETARG_INT64(0) ||
		state->key_attnum != PG_GETARG_INT16(1) || state->relid != PG_GETARG_OID(2))
	{
		FillSpec   *spec = load_fill_spec(PG_GETARG_INT64(0));
		Relation	rel;
		int			i;
		int			column = -1;
		Oid			argtype = get_fn_expr_argtype(fcinfo->flinfo, 3);

		if (spec == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("schema_guard job %lld does not exist", (long long) PG_GETARG_INT64(0))));
		for (i = 0; i < spec->ncols; i++)
			if (spec->attnums[i] == PG_GETARG_INT16(1))
				column = i;
		if (column < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("schema_guard job %lld fills no column %d",
							(long long) PG_GETARG_INT64(0), PG_GETARG_INT16(1))));
		if (argtype != spec->types[column])
			ereport(ERROR,
					(errcode(ERRCODE_DATATYPE_MISMATCH),
					 errmsg("column %d of schema_guard job %lld is of type %s, not %s",
							PG_GETARG_INT16(1), (long long) PG_GETARG_INT64(0),
							format_type_be(spec->types[column]), format_type_be(argtype))));
		rel = relation_open(PG_GETARG_OID(2), AccessShareLock);
		state = fill_state(fcinfo, spec, rel);
		relation_close(rel, AccessShareLock);
		if (!state->leaf)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("table %u is not a table of schema_guard job %lld",
							PG_GETARG_OID(2), (long long) PG_GETARG_INT64(0))));
		prepare_exprs(fcinfo, state, spec, false);
		/* the one column this call computes goes first */
		state->key_attnum = PG_GETARG_INT16(1);
		state->exprstates[0] = state->exprstates[column];
		state->not_null[0] = state->not_null[column];
		state->colnames[0] = state->colnames[column];
		fcinfo->flinfo->fn_extra = state;
	}
	{
		int			which = 0;

		evaluate_fill(state, false, 1, &which, &value, &isnull);
	}
	ResetExprContext(state->econtext);
	if (isnull && state->not_null[0])
		report_null_fill(get_rel_name(state->relid), state->colnames[0]);
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

/* The definitions of schema_guard 0.1 point here until ALTER EXTENSION UPDATE. */
Datum
sg_fill_value(PG_FUNCTION_ARGS)
{
	sg_require_update();
	PG_RETURN_NULL();
}

Datum
sg_fill_trigger(PG_FUNCTION_ARGS)
{
	sg_require_update();
	PG_RETURN_NULL();
}

Datum
sg_fill_trigger_v2(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	FillState  *state;
	HeapTuple	oldtup;
	HeapTuple	newtup;
	bool		old_lacks;
	bool		new_lacks;
	bool		merge;
	int			nfill = 0;
	int		   *cols;
	Datum	   *values;
	bool	   *nulls;
	HeapTuple	result;
	int			i;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		!TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("schema_guard.fill_trigger() must be a BEFORE UPDATE row trigger")));

	state = trigger_state(fcinfo, trigdata);
	oldtup = trigdata->tg_trigtuple;
	newtup = trigdata->tg_newtuple;
	if (!state->leaf)
		return PointerGetDatum(newtup);
	old_lacks = HeapTupleHeaderGetNatts(oldtup->t_data) < state->min_attnum;
	new_lacks = HeapTupleHeaderGetNatts(newtup->t_data) < state->min_attnum;
	if (!old_lacks && !new_lacks)
		return PointerGetDatum(newtup);

	/*
	 * NEW lacking the columns means an earlier trigger handed back the old
	 * row: fill everything.  Otherwise fill what the UPDATE does not set
	 * and no earlier trigger set either.  A MERGE reports the columns of all
	 * its WHEN clauses as updated, so there a NULL is filled: a clause that
	 * sets the column to NULL on purpose is indistinguishable from another
	 * clause's column.
	 */
	merge = sg_running_merge();
	cols = palloc(sizeof(int) * state->ncols);
	for (i = 0; i < state->ncols; i++)
	{
		AttrNumber	attnum = state->attnums[i];
		bool		isnull;

		if (attnum == InvalidAttrNumber)
			continue;
		if (!new_lacks)
		{
			(void) heap_getattr(newtup, attnum,
								RelationGetDescr(trigdata->tg_relation), &isnull);
			if (!merge &&
				bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber,
							  trigdata->tg_updatedcols))
			{
				if (isnull)
					sg_check_update_of_unfilled(trigdata, sg_innermost_query(), attnum,
												state->colnames[i], state->job_id);
				continue;
			}
			if (!isnull)
				continue;
		}
		cols[nfill++] = i;
	}
	if (nfill == 0)
		return PointerGetDatum(newtup);

	values = palloc(sizeof(Datum) * nfill);
	nulls = palloc(sizeof(bool) * nfill);
	evaluate_fill(state, true, nfill, cols, values, nulls);
	for (i = 0; i < nfill; i++)
	{
		/* as the rewrite would have failed: before the helper check does */
		if (nulls[i] && state->not_null[cols[i]])
			report_null_fill(RelationGetRelationName(trigdata->tg_relation),
							 NameStr(TupleDescAttr(RelationGetDescr(trigdata->tg_relation),
												   state->attnums[cols[i]] - 1)->attname));
		cols[i] = state->attnums[cols[i]];
	}
	result = heap_modify_tuple_by_cols(newtup, RelationGetDescr(trigdata->tg_relation),
									   nfill, cols, values, nulls);
	ResetExprContext(state->econtext);
	return PointerGetDatum(result);
}
