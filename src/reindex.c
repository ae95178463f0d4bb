/*-------------------------------------------------------------------------
 *
 * reindex.c
 *	  The last phase of a job that filled rows: rebuild the table's indexes
 *	  concurrently, as the table rewrite of the plain ALTER rebuilds them.
 *
 * A backfill updates every row once.  Each update that cannot stay on its
 * page adds an entry to every index, and the entries of the old versions
 * are removed later, leaving the indexes 1.3 to 1.4 times the size the
 * rewrite leaves.  So, after finalizing (when the table is already what
 * the plain statement makes of it), each index of each table the job
 * filled is rebuilt with REINDEX INDEX CONCURRENTLY, one per step, at top
 * level, through PostgreSQL's own code: same name, same definition, same
 * constraints.  It blocks neither reads nor writes; it waits for older
 * transactions as CREATE INDEX CONCURRENTLY does.  schema_guard.reindex =
 * off skips the phase.
 *
 * The phase only makes indexes smaller, so it never fails a job: an index
 * that cannot be rebuilt (an error other than a lock timeout or a
 * deadlock, which are retried) is left as it is, with a WARNING and an
 * event.  What a failed or interrupted rebuild leaves (an INVALID index
 * named after the index, "_ccnew" or "_ccold") is dropped concurrently
 * before the next attempt; the job's events say which index was being
 * rebuilt ("reindexing"), and which are done ("reindexed", "not
 * reindexed"), so that a crash does not make it start over.  The indexes
 * the job built itself are new already, and an exclusion constraint's
 * index cannot be rebuilt concurrently: both are left.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/xact.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "job.h"
#include "reindex.h"
#include "settings.h"

/* How many numbered "_ccnewN" names PostgreSQL may have tried. */
#define MAX_LEFTOVER_SUFFIX 9

/*
 * A transaction of the phase's own, at top level, with a snapshot for the
 * catalog statements; and its commit, after which the caller's memory
 * context is current again.  Both run in the caller's memory context: a
 * concurrent REINDEX or DROP INDEX commits the transaction it starts in
 * (and ends in one of its own, without a snapshot), and what it keeps
 * across must not be freed with it.
 */
static void
start_xact(MemoryContext cxt)
{
	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	/* what a concurrent command keeps across its commits must survive them */
	MemoryContextSwitchTo(cxt);
}

static void
commit_into(MemoryContext cxt)
{
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	CommitTransactionCommand();
	MemoryContextSwitchTo(cxt);
}

/* An index's name as the job's events give it: schema-qualified, quoted. */
static char *
index_qualified_name(Oid indexoid)
{
	char	   *name = get_rel_name(indexoid);

	return name ? quote_qualified_identifier(get_namespace_name(get_rel_namespace(indexoid)), name)
		: NULL;
}

/* Which indexes the phase has rebuilt, or left: by name, as events say. */
static List *
handled_indexes(int64 job_id)
{
	return list_concat(sg_job_event_details(job_id, "reindexed"),
					   sg_job_event_details(job_id, "not reindexed"));
}

static bool
name_in(List *names, const char *name)
{
	ListCell   *lc;

	foreach(lc, names)
		if (strcmp(lfirst(lc), name) == 0)
			return true;
	return false;
}

/* Is this index one the phase rebuilds? */
static bool
rebuildable(SgJob *job, Oid indexoid, List *handled)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index index;
	bool		ok;
	ListCell   *lc;

	if (!HeapTupleIsValid(tup))
		return false;
	index = (Form_pg_index) GETSTRUCT(tup);
	ok = index->indisvalid && index->indisready && index->indislive &&
		!index->indisexclusion;
	ReleaseSysCache(tup);
	if (!ok)
		return false;
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == SG_OBJECT_INDEX && obj->objid == indexoid)
			return false;
	}
	return !name_in(handled, index_qualified_name(indexoid));
}

/*
 * The next index the phase rebuilds, InvalidOid when none is left.  Called
 * in a step's transaction.
 */
Oid
sg_reindex_next(SgJob *job)
{
	List	   *handled = handled_indexes(job->job_id);
	ListCell   *lc;

	if (!sg_reindex)
		return InvalidOid;
	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		Relation	rel;
		List	   *indexes;
		ListCell   *ic;

		if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(leaf->relid)))
			continue;			/* dropped since */
		rel = relation_open(leaf->relid, AccessShareLock);
		indexes = RelationGetIndexList(rel);
		relation_close(rel, AccessShareLock);
		foreach(ic, indexes)
		{
			Oid			indexoid = lfirst_oid(ic);

			if (rebuildable(job, indexoid, handled))
				return indexoid;
		}
	}
	return InvalidOid;
}

/*
 * Drop, concurrently, the INVALID indexes a rebuild of the index named
 * "name" on table relid left: PostgreSQL names them as ChooseRelationName
 * does, name_ccnew (or _ccnew1, ...) and, after the swap, name_ccold.
 * Runs at top level; starts and commits transactions of its own.
 */
static void
drop_leftovers(Oid relid, Oid nspid, const char *name)
{
	MemoryContext cxt = CurrentMemoryContext;
	static const char *const labels[] = {"ccnew", "ccold"};
	int			l;
	int			n;

	for (l = 0; l < lengthof(labels); l++)
	{
		for (n = 0; n <= MAX_LEFTOVER_SUFFIX; n++)
		{
			char	   *label = n == 0 ? pstrdup(labels[l]) : psprintf("%s%d", labels[l], n);
			char	   *leftover = makeObjectName(name, NULL, label);
			Oid			indexoid;
			HeapTuple	tup;
			bool		ours = false;

			start_xact(cxt);
			indexoid = get_relname_relid(leftover, nspid);
			tup = OidIsValid(indexoid) ? SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid)) : NULL;
			if (tup && HeapTupleIsValid(tup))
			{
				Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);

				ours = index->indrelid == relid && !index->indisvalid;
				ReleaseSysCache(tup);
			}
			if (ours)
			{
				ObjectAddress object;

				ObjectAddressSet(object, RelationRelationId, indexoid);
				ereport(LOG,
						(errmsg("schema_guard drops index \"%s\", left by an interrupted rebuild of index \"%s\"",
								leftover, name)));
				performDeletion(&object, DROP_RESTRICT,
								PERFORM_DELETION_CONCURRENTLY | PERFORM_DELETION_INTERNAL);
			}
			commit_into(cxt);
		}
	}
}

/* The index's name and schema, read in a transaction of its own. */
static bool
index_names(Oid indexoid, Oid *relid, Oid *nspid, char **name)
{
	MemoryContext cxt = CurrentMemoryContext;
	HeapTuple	tup;

	start_xact(cxt);
	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (HeapTupleIsValid(tup))
	{
		*relid = ((Form_pg_index) GETSTRUCT(tup))->indrelid;
		ReleaseSysCache(tup);
		*nspid = get_rel_namespace(indexoid);
		*name = get_rel_name(indexoid);
	}
	if (*name)
		*name = MemoryContextStrdup(cxt, *name);
	commit_into(cxt);
	return *name != NULL;
}

/*
 * Rebuild one index with REINDEX INDEX CONCURRENTLY, at top level (outside
 * any transaction; leaves none open).  Earlier attempts' leftovers are
 * dropped first.  Errors are the caller's.
 */
void
sg_reindex_concurrently(int64 job_id, Oid indexoid)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			relid = InvalidOid;
	Oid			nspid = InvalidOid;
	char	   *name = NULL;
	ReindexStmt *stmt;
	ParseState *pstate;
	bool		tried;

	if (!index_names(indexoid, &relid, &nspid, &name))
		return;					/* dropped since the step found it */
	start_xact(cxt);
	tried = name_in(sg_job_event_details(job_id, "reindexing"), index_qualified_name(indexoid));
	commit_into(cxt);
	/* an earlier attempt may have left its new or old copy */
	if (tried)
		drop_leftovers(relid, nspid, name);

	start_xact(cxt);
	sg_job_event(job_id, "reindexing", index_qualified_name(indexoid));
	commit_into(cxt);

	start_xact(cxt);
	stmt = makeNode(ReindexStmt);
	stmt->kind = REINDEX_OBJECT_INDEX;
	stmt->relation = makeRangeVar(get_namespace_name(nspid), name, -1);
	stmt->params = list_make1(makeDefElem("concurrently", NULL, -1));
	pstate = make_parsestate(NULL);
	ExecReindex(pstate, stmt, true);
	commit_into(cxt);

	/* the rebuilt index has the name, and a new OID */
	start_xact(cxt);
	sg_job_event(job_id, "reindexed", quote_qualified_identifier(get_namespace_name(nspid), name));
	commit_into(cxt);
	pfree(name);
}

/*
 * A rebuild failed for good: drop what it left, and record the index as
 * one the phase leaves as it is.  Runs at top level, after the failed
 * transaction was rolled back.
 */
void
sg_reindex_give_up(int64 job_id, Oid indexoid, const char *error)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			relid = InvalidOid;
	Oid			nspid = InvalidOid;
	char	   *name = NULL;
	char	   *qualified;

	if (!index_names(indexoid, &relid, &nspid, &name))
		return;
	drop_leftovers(relid, nspid, name);
	start_xact(cxt);
	qualified = quote_qualified_identifier(get_namespace_name(nspid), name);
	ereport(WARNING,
			(errmsg("schema_guard job %lld leaves index %s as it is", (long long) job_id, qualified),
			 errdetail("Rebuilding it concurrently failed: %s", error),
			 errhint("The table is complete; REINDEX INDEX CONCURRENTLY makes the index smaller.")));
	sg_job_event(job_id, "not reindexed", qualified);
	commit_into(cxt);
	pfree(name);
}
