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
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "job.h"
#include "trigger.h"

PG_FUNCTION_INFO_V1(sg_needs_fill);
PG_FUNCTION_INFO_V1(sg_fill_trigger);
PG_FUNCTION_INFO_V1(sg_fill_value);

/*
 * The statements being executed, innermost last, so the fill trigger can
 * tell a MERGE (whose updated columns are those of all its WHEN clauses
 * together) from a plain UPDATE.  Entries left by an error are dropped when
 * their (sub)transaction aborts.
 */
#define SG_EXEC_STACK_DEPTH 64

typedef struct ExecFrame
{
	QueryDesc  *query;
	CmdType		command;
	SubTransactionId subxact;
} ExecFrame;

static ExecFrame exec_stack[SG_EXEC_STACK_DEPTH];
static int	exec_depth = 0;		/* may exceed the array: frames beyond are not kept */
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

static void
sg_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	if (exec_depth < SG_EXEC_STACK_DEPTH)
	{
		exec_stack[exec_depth].query = queryDesc;
		exec_stack[exec_depth].command = queryDesc->operation;
		exec_stack[exec_depth].subxact = GetCurrentSubTransactionId();
	}
	exec_depth++;
}

static void
sg_ExecutorEnd(QueryDesc *queryDesc)
{
	/* pop down to this query, dropping frames an error left behind */
	while (exec_depth > 0 &&
		   (exec_depth > SG_EXEC_STACK_DEPTH ||
			exec_stack[exec_depth - 1].query != queryDesc))
		exec_depth--;
	if (exec_depth > 0)
		exec_depth--;
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
exec_stack_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (exec_depth > 0 && exec_depth <= SG_EXEC_STACK_DEPTH &&
		   exec_stack[exec_depth - 1].subxact >= mySubid)
		exec_depth--;
}

static void
exec_stack_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
		exec_depth = 0;
}

void
sg_install_executor_hooks(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = sg_ExecutorStart;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = sg_ExecutorEnd;
	RegisterSubXactCallback(exec_stack_subxact_callback, NULL);
	RegisterXactCallback(exec_stack_xact_callback, NULL);
}

/* Is the innermost statement running a MERGE? */
static bool
running_merge(void)
{
	return exec_depth > 0 && exec_depth <= SG_EXEC_STACK_DEPTH &&
		exec_stack[exec_depth - 1].command == CMD_MERGE;
}

/* The last row version needs_fill() let through, for error reports. */
ItemPointerData sg_last_filled_tid;
Oid			sg_last_filled_rel = InvalidOid;

/*
 * What a job fills, cached per backend: a job's columns and fill
 * expressions never change once it exists.  (Who computes them, the
 * table's owner, is looked up per statement.)
 */
typedef struct FillSpec
{
	int64		job_id;			/* hash key */
	Oid			relid;
	char	   *search_path;
	int			ncols;
	AttrNumber *attnums;		/* in the job's table */
	Node	  **exprs;			/* cooked fill expressions */
	bool	   *not_null;
	List	   *checked_leaves; /* tables verified to be in the job's tree */
} FillSpec;

static HTAB *fill_specs = NULL;
static MemoryContext fill_spec_cxt = NULL;

static FillSpec *
load_fill_spec(int64 job_id)
{
	FillSpec   *spec;
	bool		found;
	SgJob	   *job;
	ListCell   *lc;
	int			i = 0;
	MemoryContext old;

	if (fill_specs == NULL)
	{
		HASHCTL		ctl;

		fill_spec_cxt = AllocSetContextCreate(CacheMemoryContext,
											  "schema_guard fill specs",
											  ALLOCSET_SMALL_SIZES);
		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(FillSpec);
		ctl.hcxt = fill_spec_cxt;
		fill_specs = hash_create("schema_guard fill specs", 16, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	spec = hash_search(fill_specs, &job_id, HASH_FIND, NULL);
	if (spec)
		return spec;

	job = sg_job_load(job_id, true);
	if (job == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("schema_guard fill trigger refers to job %lld, which does not exist",
						(long long) job_id),
				 errhint("Drop the trigger; it belongs to a job that is gone.")));

	old = MemoryContextSwitchTo(fill_spec_cxt);
	spec = hash_search(fill_specs, &job_id, HASH_ENTER, &found);
	spec->relid = job->relid;
	spec->search_path = pstrdup(job->search_path);
	spec->ncols = list_length(job->columns);
	spec->attnums = palloc(sizeof(AttrNumber) * spec->ncols);
	spec->exprs = palloc(sizeof(Node *) * spec->ncols);
	spec->not_null = palloc(sizeof(bool) * spec->ncols);
	spec->checked_leaves = NIL;
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);

		spec->attnums[i] = col->attnum;
		spec->exprs[i] = stringToNode(col->fill_node);
		spec->not_null[i] = col->not_null;
		i++;
	}
	MemoryContextSwitchTo(old);
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

/* Per-statement state of the fill trigger, in the trigger's fn_mcxt. */
typedef struct FillTriggerState
{
	int64		job_id;
	Oid			relid;			/* the table the trigger fired on */
	FillSpec   *spec;
	Oid			role;			/* the job's table's owner: it computes */
	AttrNumber	min_attnum;		/* in relid */
	int		   *attnums;		/* in relid, for heap_modify_tuple_by_cols */
	ExprState **exprstates;		/* built on first use */
	ExprContext *econtext;
} FillTriggerState;

static void
check_leaf_of_job(FillSpec *spec, Relation rel)
{
	Oid			relid = RelationGetRelid(rel);
	MemoryContext old;

	if (relid == spec->relid || list_member_oid(spec->checked_leaves, relid))
		return;
	if (!list_member_oid(find_all_inheritors(spec->relid, NoLock, NULL), relid))
		ereport(ERROR,
				(errcode(ERRCODE_TRIGGERED_ACTION_EXCEPTION),
				 errmsg("schema_guard fill trigger on table \"%s\" belongs to a job on another table",
						RelationGetRelationName(rel))));
	old = MemoryContextSwitchTo(fill_spec_cxt);
	spec->checked_leaves = lappend_oid(spec->checked_leaves, relid);
	MemoryContextSwitchTo(old);
}

static FillTriggerState *
trigger_state(FunctionCallInfo fcinfo, TriggerData *trigdata)
{
	FillTriggerState *state = fcinfo->flinfo->fn_extra;
	Relation	rel = trigdata->tg_relation;
	Trigger    *trigger = trigdata->tg_trigger;
	int64		job_id;
	int			i;

	if (state && state->relid == RelationGetRelid(rel))
		return state;

	if (trigger->tgnargs != 1)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("schema_guard.fill_trigger() takes one argument, a job id")));
	job_id = pg_strtoint64(trigger->tgargs[0]);

	state = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FillTriggerState));
	state->job_id = job_id;
	state->relid = RelationGetRelid(rel);
	state->spec = load_fill_spec(job_id);
	state->role = sg_rel_owner(state->spec->relid);
	check_leaf_of_job(state->spec, rel);

	state->attnums = MemoryContextAlloc(fcinfo->flinfo->fn_mcxt,
										sizeof(int) * state->spec->ncols);
	state->min_attnum = MaxAttrNumber;
	for (i = 0; i < state->spec->ncols; i++)
	{
		AttrNumber	attnum = state->spec->attnums[i];

		if (state->relid != state->spec->relid)
		{
			char	   *name = sg_column_name(state->spec->relid, attnum);

			attnum = name ? get_attnum(state->relid, name) : InvalidAttrNumber;
		}
		/* a dropped column needs no value */
		if (attnum == InvalidAttrNumber ||
			TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attisdropped)
			attnum = InvalidAttrNumber;
		else
			state->min_attnum = Min(state->min_attnum, attnum);
		state->attnums[i] = attnum;
	}
	fcinfo->flinfo->fn_extra = state;
	return state;
}

/* A job's fill expressions, ready to evaluate for the rest of a query. */
static ExprState **
prepare_fill(FillSpec *spec, MemoryContext cxt, ExprContext **econtext)
{
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ExprState **states = palloc(sizeof(ExprState *) * spec->ncols);
	int			i;

	for (i = 0; i < spec->ncols; i++)
		states[i] = ExecInitExpr(expression_planner((Expr *) copyObject(spec->exprs[i])), NULL);
	*econtext = CreateStandaloneExprContext();
	MemoryContextSwitchTo(old);
	return states;
}

/*
 * Evaluate fill expressions under the search_path the ALTER had, as
 * PostgreSQL's rewrite would have: functions in them look names up there.
 * The expressions themselves are bound to their objects already.  On
 * error the (sub)transaction abort restores the setting.
 */
static void
fill_error_callback(void *arg)
{
	FillSpec   *spec = (FillSpec *) arg;

	errcontext("schema_guard job %lld computing a new column's value for a row that predates it",
			   (long long) spec->job_id);
}

static void
eval_fill(FillSpec *spec, ExprState **states, ExprContext *econtext,
		  int n, const int *which, Datum *values, bool *nulls)
{
	int			save_nestlevel = -1;
	int			i;
	ErrorContextCallback errcallback;

	if (strcmp(namespace_search_path, spec->search_path) != 0)
	{
		save_nestlevel = NewGUCNestLevel();
		(void) set_config_option("search_path", spec->search_path,
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
	}
	/* an application's UPDATE can fail here: say who computes what */
	errcallback.callback = fill_error_callback;
	errcallback.arg = spec;
	errcallback.previous = error_context_stack;
	error_context_stack = &errcallback;
	for (i = 0; i < n; i++)
		values[i] = ExecEvalExprSwitchContext(states[which[i]], econtext, &nulls[i]);
	error_context_stack = errcallback.previous;
	if (save_nestlevel >= 0)
		AtEOXact_GUC(true, save_nestlevel);
}

/*
 * The trigger evaluates as the table's owner, with the restrictions
 * PostgreSQL applies to maintenance it runs for a table's owner; on error
 * the (sub)transaction abort restores the user, as for SECURITY DEFINER
 * functions.
 */
static void
evaluate_fill(FunctionCallInfo fcinfo, FillTriggerState *state,
			  int nfill, const int *which, Datum *values, bool *nulls)
{
	Oid			save_userid;
	int			save_sec_context;

	if (state->exprstates == NULL)
		state->exprstates = prepare_fill(state->spec, fcinfo->flinfo->fn_mcxt,
										 &state->econtext);
	GetUserIdAndSecContext(&save_userid, &save_sec_context);
	SetUserIdAndSecContext(state->role, save_sec_context |
						   SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	eval_fill(state->spec, state->exprstates, state->econtext, nfill, which,
			  values, nulls);
	SetUserIdAndSecContext(save_userid, save_sec_context);
}

/* Per-query state of fill_value(). */
typedef struct FillValueState
{
	int64		job_id;
	AttrNumber	attnum;
	FillSpec   *spec;
	int			column;			/* index in spec */
	ExprState **exprstates;
	ExprContext *econtext;
} FillValueState;

/*
 * fill_value(job, attnum, leaf, type): the value the job's ALTER gives a
 * row of leaf in column attnum (of the job's table), computed from the
 * expression the ALTER cooked and stored, never re-read from text.  For the
 * backfill's UPDATE, which runs as the job's role; the caller must own the
 * table.  A NULL for a NOT NULL column is the error the rewrite raises.
 */
Datum
sg_fill_value(PG_FUNCTION_ARGS)
{
	FillValueState *state = fcinfo->flinfo->fn_extra;
	Datum		value;
	bool		isnull;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("job, column and table must not be NULL")));
	if (state == NULL || state->job_id != PG_GETARG_INT64(0) ||
		state->attnum != PG_GETARG_INT16(1))
	{
		FillSpec   *spec = load_fill_spec(PG_GETARG_INT64(0));
		Oid			owner;
		int			i;

		state = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FillValueState));
		state->job_id = PG_GETARG_INT64(0);
		state->attnum = PG_GETARG_INT16(1);
		state->spec = spec;
		state->column = -1;
		for (i = 0; i < spec->ncols; i++)
			if (spec->attnums[i] == state->attnum)
				state->column = i;
		if (state->column < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("schema_guard job %lld fills no column %d",
							(long long) state->job_id, state->attnum)));
		owner = sg_rel_owner(spec->relid);
		if (!superuser() && !has_privs_of_role(GetUserId(), owner))
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied for schema_guard job %lld",
							(long long) state->job_id),
					 errdetail("Only the owner of the job's table may compute its values.")));
		state->exprstates = prepare_fill(spec, fcinfo->flinfo->fn_mcxt, &state->econtext);
		fcinfo->flinfo->fn_extra = state;
	}
	eval_fill(state->spec, state->exprstates, state->econtext, 1, &state->column,
			  &value, &isnull);
	if (isnull && state->spec->not_null[state->column])
		report_null_fill(get_rel_name(PG_GETARG_OID(2)),
						 sg_column_name(state->spec->relid, state->attnum));
	if (isnull)
		PG_RETURN_NULL();
	PG_RETURN_DATUM(value);
}

Datum
sg_fill_trigger(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	FillTriggerState *state;
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
	merge = running_merge();
	cols = palloc(sizeof(int) * state->spec->ncols);
	for (i = 0; i < state->spec->ncols; i++)
	{
		AttrNumber	attnum = state->attnums[i];
		bool		isnull;

		if (attnum == InvalidAttrNumber)
			continue;
		if (!new_lacks)
		{
			if (!merge &&
				bms_is_member(attnum - FirstLowInvalidHeapAttributeNumber,
							  trigdata->tg_updatedcols))
				continue;
			(void) heap_getattr(newtup, attnum,
								RelationGetDescr(trigdata->tg_relation), &isnull);
			if (!isnull)
				continue;
		}
		cols[nfill++] = i;
	}
	if (nfill == 0)
		return PointerGetDatum(newtup);

	values = palloc(sizeof(Datum) * nfill);
	nulls = palloc(sizeof(bool) * nfill);
	evaluate_fill(fcinfo, state, nfill, cols, values, nulls);
	for (i = 0; i < nfill; i++)
	{
		/* as the rewrite would have failed: before the helper check does */
		if (nulls[i] && state->spec->not_null[cols[i]])
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
