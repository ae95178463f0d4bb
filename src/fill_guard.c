/*-------------------------------------------------------------------------
 *
 * fill_guard.c
 *	  What of a session the code a job computes with may not use, and
 *	  explain()'s rule that no code of users' runs at all.
 *
 * A job's values are computed as the table's owner, in the worker and in
 * applications' sessions (the fill trigger, fill.c).  A session holds state
 * that its own role made, and the owner's code must not run with it:
 *
 *	- its temporary relations and functions: while a value is computed,
 *	  reading one or calling one is an error;
 *	- the PL/pgSQL functions it compiled: PL/pgSQL resolves the names of
 *	  its variables' types when it compiles a function, once per session,
 *	  under the search_path of that first call, and keeps what it found.  A
 *	  role that called the owner's function under a search_path of its own
 *	  would have the owner's code use its types (and their domains'
 *	  checks).  So this file notes, for each PL/pgSQL function a process
 *	  calls, the search order and the role it was compiled under; a
 *	  computation that calls it under an order that does not resolve names
 *	  alike is an error, unless that role has the rights of the role
 *	  computing (the owner compiled it, or a superuser).  A process where
 *	  another job's computation compiled it is stale for this job: the
 *	  worker then starts afresh.
 *
 * And schema_guard.explain() runs no code of users': while it classifies a
 * statement, a function that is not PostgreSQL's own is refused before it
 * runs (PostgreSQL's planner would compute an immutable one), and the
 * classifier judges without its value (classify_column.c).
 *
 * Nothing here knows about jobs beyond their number.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/transam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/proclang.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "parser/parse_coerce.h"
#include "utils/acl.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/regproc.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "fill_guard.h"

/* Nesting of computations in progress in this process, and the innermost. */
static int	computing = 0;
static int64 computing_job = 0;

/* The last refusal came from a compilation that is not the job's own. */
static bool stale_session = false;

/* While explain() classifies: no function of users' may run. */
static int	forbidding = 0;
static Oid	refused_function = InvalidOid;

static ExecutorCheckPerms_hook_type prev_check_perms = NULL;
static object_access_hook_type prev_object_access = NULL;
static needs_fmgr_hook_type prev_needs_fmgr_hook = NULL;
static fmgr_hook_type prev_fmgr_hook = NULL;

/*
 * Computations
 */

/* A computation of job job_id's values starts (0: at the ALTER, no job yet). */
void
sg_fill_guard_push(int64 job_id, SgFillGuardSaved *saved)
{
	saved->depth = computing;
	saved->job_id = computing_job;
	computing++;
	computing_job = job_id;
}

/* ... and ends, on success or in the caller's PG_CATCH. */
void
sg_fill_guard_pop(const SgFillGuardSaved *saved)
{
	computing = saved->depth;
	computing_job = saved->job_id;
}

/*
 * Did the last refusal come from a function this process compiled for
 * something else than the job computing now?  A new process would not
 * refuse.  Asking forgets it.
 */
bool
sg_fill_guard_stale_session(void)
{
	bool		stale = stale_session;

	stale_session = false;
	return stale;
}

/*
 * Temporary objects
 */

static void
refuse_temporary(const char *what, const char *name)
{
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("a schema_guard job cannot use temporary %s \"%s\"", what, name),
			 errdetail("A job computes the values of its ALTER TABLE as the table's owner, "
					   "without the temporary objects of any session.")));
}

/* While a value is computed, no temporary relation may be read. */
static bool
guard_check_perms(List *rangeTable, List *rtePermInfos, bool ereport_on_violation)
{
	if (computing > 0)
	{
		ListCell   *lc;

		foreach(lc, rangeTable)
		{
			RangeTblEntry *rte = lfirst_node(RangeTblEntry, lc);
			Oid			relid = sg_rte_relid(rte);

			/* a view too, which is no RTE_RELATION from 16 on */
			if (OidIsValid(relid) && get_rel_persistence(relid) == RELPERSISTENCE_TEMP)
				refuse_temporary("relation", get_rel_name(relid));
		}
	}
	if (prev_check_perms)
		return sg_call_check_perms(prev_check_perms, rangeTable, rtePermInfos,
								   ereport_on_violation);
	return true;
}

SG_DECLARE_CHECK_PERMS_HOOK(guard_check_perms_hook, guard_check_perms)

/*
 * Users' code, for explain()
 */

void
sg_forbid_users_code(bool forbid)
{
	if (forbid)
	{
		forbidding++;
		refused_function = InvalidOid;
	}
	else if (forbidding > 0)
		forbidding--;
}

/* The function refused since this was last asked, if any. */
Oid
sg_users_code_refused(void)
{
	Oid			refused = refused_function;

	refused_function = InvalidOid;
	return refused;
}

/*
 * ... nor a temporary function called, and while explain() classifies, no
 * function of users' (the executor asks before it runs one, the planner
 * too before it computes one).
 */
static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (access == OAT_FUNCTION_EXECUTE && forbidding > 0 &&
		objectId >= FirstNormalObjectId)
	{
		refused_function = objectId;
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("schema_guard.explain() runs no function of users', such as %s",
						format_procedure(objectId))));
	}
	if (access == OAT_FUNCTION_EXECUTE && computing > 0 &&
		isAnyTempNamespace(get_func_namespace(objectId)))
		refuse_temporary("function", get_func_name(objectId));
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);
}

/*
 * PL/pgSQL's compilations
 */

/* Search orders longer than this are never taken to resolve names alike. */
#define SG_MAX_ORDER 32

/*
 * What this process knows of the compilations of a PL/pgSQL function: the
 * search order and role of its first call since its pg_proc row last
 * changed (which compiled it), and, for a function PL/pgSQL may compile
 * again for another call (another collation or argument type, a trigger),
 * the role of the calls made since under another order.
 */
typedef struct CompiledFunction
{
	Oid			funcid;			/* hash key */
	bool		plpgsql;		/* false: a function of no concern here */
	bool		checked;		/* its pg_proc row has not changed since */
	uint32		hashvalue;		/* its pg_proc row's, in the syscache */
	TransactionId xmin;			/* the pg_proc row it was compiled from */
	ItemPointerData tid;
	int			norder;
	Oid			order[SG_MAX_ORDER];
	Oid			role;			/* the current user of that first call */
	int64		job_id;			/* the job computing then, 0 if none */
	bool		once;			/* PL/pgSQL compiles it once per session */
	bool		elsewhere;		/* called since under another order ... */
	Oid			elsewhere_role; /* ... by this role (InvalidOid: several) */
	int64		elsewhere_job;	/* ... computing this job (-1: several) */
} CompiledFunction;

static HTAB *compiled = NULL;

/*
 * Is the function one PL/pgSQL compiles per session?  Then its pg_proc
 * row's identity, and whether every call has the same compilation (no
 * argument whose collation or type varies by call, not a trigger).
 */
static bool
plpgsql_function(Oid funcid, TransactionId *xmin, ItemPointerData *tid, bool *once)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(funcid));
	Form_pg_proc proc;
	bool		result;
	int			i;

	if (!HeapTupleIsValid(tup))
		return false;
	proc = (Form_pg_proc) GETSTRUCT(tup);
	result = proc->prokind == PROKIND_FUNCTION &&
		proc->prolang == get_language_oid("plpgsql", true);
	if (result && xmin)
	{
		*xmin = HeapTupleHeaderGetRawXmin(tup->t_data);
		*tid = tup->t_self;
		*once = proc->prorettype != TRIGGEROID && proc->prorettype != EVENT_TRIGGEROID;
		for (i = 0; i < proc->pronargs; i++)
			if (type_is_collatable(proc->proargtypes.values[i]) ||
				IsPolymorphicType(proc->proargtypes.values[i]))
				*once = false;
	}
	ReleaseSysCache(tup);
	return result;
}

/*
 * Does the order the function was compiled under resolve names as the one
 * now does?  It does if it is the same, or begins the one now (a name it
 * found is in that beginning, which the order now searches first).
 */
static bool
compiled_alike(CompiledFunction *entry, const Oid *order, int norder)
{
	return entry->norder <= SG_MAX_ORDER && norder <= SG_MAX_ORDER &&
		entry->norder <= norder &&
		memcmp(entry->order, order, sizeof(Oid) * entry->norder) == 0;
}

/*
 * May a computation running as the current user now use a compilation
 * made by role?  If it resolves names alike, or if role has the rights of
 * the current user anyway (the owner itself, a member of it, a superuser).
 */
static bool
may_use(Oid role, bool alike)
{
	return alike || (OidIsValid(role) && has_privs_of_role(role, GetUserId()));
}

static void
refuse_compilation(CompiledFunction *entry, int64 by_job)
{
	stale_session = by_job != computing_job;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("a schema_guard job cannot use function %s as this session compiled it",
					format_procedure(entry->funcid)),
			 errdetail("Another role compiled the PL/pgSQL function in this session under another search_path, "
					   "and PL/pgSQL keeps the types the names in it resolved to then; a job computes as the "
					   "table's owner, with only the names the search_path of its ALTER TABLE resolves.")),
			 errhint("Run the statement in a new session, or in one whose search_path is the job's "
					 "(schema_guard.jobs_visible.search_path)."));
}

/* A function's pg_proc row changed, or the syscache was reset: look again. */
static void
proc_changed(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS status;
	CompiledFunction *entry;

	if (compiled == NULL)
		return;
	hash_seq_init(&status, compiled);
	while ((entry = hash_seq_search(&status)) != NULL)
		if (hashvalue == 0 || entry->hashvalue == hashvalue)
			entry->checked = false;
}

/*
 * The entry of a function that is about to run, with its first compilation
 * noted: the compilation is made now, under the order in effect, if the
 * function is new to this process or its pg_proc row changed.  NULL if it
 * is not a PL/pgSQL function, or was compiled just now.
 */
static CompiledFunction *
compiled_entry(Oid funcid)
{
	CompiledFunction *entry;
	TransactionId xmin;
	ItemPointerData tid;
	bool		once;
	bool		found;

	if (compiled == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CompiledFunction);
		ctl.hcxt = TopMemoryContext;
		compiled = hash_create("schema_guard compiled functions", 64, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		CacheRegisterSyscacheCallback(PROCOID, proc_changed, (Datum) 0);
	}
	entry = hash_search(compiled, &funcid, HASH_ENTER, &found);
	if (found && entry->checked)
		return entry->plpgsql ? entry : NULL;
	entry->checked = true;
	entry->hashvalue = GetSysCacheHashValue1(PROCOID, ObjectIdGetDatum(funcid));
	entry->plpgsql = plpgsql_function(funcid, &xmin, &tid, &once);
	if (!entry->plpgsql)
		return NULL;
	if (found && entry->xmin == xmin && ItemPointerEquals(&entry->tid, &tid))
		return entry;
	/* PL/pgSQL compiles it now, under the order in effect */
	entry->xmin = xmin;
	entry->tid = tid;
	entry->norder = fetch_search_path_array(entry->order, SG_MAX_ORDER);
	entry->role = GetUserId();
	entry->job_id = computing > 0 ? computing_job : 0;
	entry->once = once;
	entry->elsewhere = false;
	return NULL;
}

/* A PL/pgSQL function is about to run: note or check its compilation. */
static void
note_call(Oid funcid)
{
	CompiledFunction *entry = compiled_entry(funcid);
	Oid			order[SG_MAX_ORDER];
	int			norder;
	bool		alike;

	if (entry == NULL)
		return;
	if (computing == 0 && (entry->once || (entry->elsewhere && !OidIsValid(entry->elsewhere_role))))
		return;					/* nothing to learn from this call */
	norder = fetch_search_path_array(order, SG_MAX_ORDER);
	alike = compiled_alike(entry, order, norder);
	if (computing > 0 && !may_use(entry->role, alike))
		refuse_compilation(entry, entry->job_id);
	if (computing > 0 && entry->elsewhere && !may_use(entry->elsewhere_role, false))
		refuse_compilation(entry, entry->elsewhere_job);
	/* another compilation of it may be made now, under this order */
	if (!alike && !entry->once)
	{
		int64		job = computing > 0 ? computing_job : 0;

		if (!entry->elsewhere)
		{
			entry->elsewhere_role = GetUserId();
			entry->elsewhere_job = job;
		}
		else
		{
			if (entry->elsewhere_role != GetUserId())
				entry->elsewhere_role = InvalidOid;
			if (entry->elsewhere_job != job)
				entry->elsewhere_job = -1;
		}
		entry->elsewhere = true;
	}
}

static bool
guard_needs_fmgr_hook(Oid fn_oid)
{
	if (prev_needs_fmgr_hook && (*prev_needs_fmgr_hook) (fn_oid))
		return true;
	return fn_oid >= FirstNormalObjectId && plpgsql_function(fn_oid, NULL, NULL, NULL);
}

static void
guard_fmgr_hook(FmgrHookEventType event, FmgrInfo *flinfo, Datum *arg)
{
	if (prev_fmgr_hook)
		(*prev_fmgr_hook) (event, flinfo, arg);
	if (event == FHET_START && flinfo->fn_oid >= FirstNormalObjectId)
		note_call(flinfo->fn_oid);
}

/* Whatever a failed computation left behind ends with its transaction. */
static void
guard_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PARALLEL_COMMIT ||
		event == XACT_EVENT_PREPARE)
	{
		computing = 0;
		computing_job = 0;
		forbidding = 0;
	}
}

void
sg_install_fill_guard_hooks(void)
{
	prev_check_perms = ExecutorCheckPerms_hook;
	ExecutorCheckPerms_hook = guard_check_perms_hook;
	prev_object_access = object_access_hook;
	object_access_hook = guard_object_access;
	prev_needs_fmgr_hook = needs_fmgr_hook;
	needs_fmgr_hook = guard_needs_fmgr_hook;
	prev_fmgr_hook = fmgr_hook;
	fmgr_hook = guard_fmgr_hook;
	RegisterXactCallback(guard_xact_callback, NULL);
}
