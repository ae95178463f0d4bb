/*-------------------------------------------------------------------------
 *
 * index_online.c
 *	  CREATE INDEX sent outside a transaction block, built concurrently in
 *	  place: the client waits for it, as it expects, and writes go on.
 *
 * On a table that is not partitioned the statement runs as CREATE INDEX
 * CONCURRENTLY, through PostgreSQL's own
 * code: same name, same definition, same errors (a duplicate key is
 * PostgreSQL's 23505 on that index).  Where PostgreSQL's concurrent build
 * fails after its first transaction it leaves an INVALID index behind; the
 * plain CREATE INDEX the client sent would have left nothing.  So the index
 * the build created is known by its OID (an object access hook sees it
 * created), and on any error it is dropped concurrently before the error
 * is raised again.
 *
 * PostgreSQL has no concurrent build of a partitioned table's index.  It
 * is built here the way a staged one is (stage_index.c): the tree of
 * indexes reserved in the statement's transaction, which commits, each
 * leaf's built concurrently, then the partitioned ones marked valid; on
 * an error the tree is dropped and the error raised again.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_class.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "index_build.h"
#include "index_online.h"
#include "stage_index.h"

static object_access_hook_type prev_object_access_hook = NULL;

/* the first relation created while the build runs: its index */
static Oid	built_index = InvalidOid;

static void
note_new_index(ObjectAccessType access, Oid classId, Oid objectId, int subId,
			   void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_CREATE && classId == RelationRelationId &&
		subId == 0 && !OidIsValid(built_index))
		built_index = objectId;
}

/*
 * Drop what a failed build left, concurrently, as DROP INDEX CONCURRENTLY
 * would (a partitioned index with a plain DROP INDEX, its lock bounded):
 * the index is locked first so that its name stays its own.  Runs
 * in a fresh transaction, commits the drop's last one, and leaves a new
 * transaction started.
 */
static void
drop_failed_build(Oid indexoid, SgRunUtility run, void *arg)
{
	DropStmt   *drop;
	PlannedStmt *pstmt;
	char	   *nspname;
	char	   *relname;

	if (!OidIsValid(indexoid))
		return;
	LockRelationOid(indexoid, ShareUpdateExclusiveLock);
	if (!SearchSysCacheExists1(RELOID, ObjectIdGetDatum(indexoid)) ||
		(get_rel_relkind(indexoid) != RELKIND_INDEX &&
		 get_rel_relkind(indexoid) != RELKIND_PARTITIONED_INDEX))
		return;					/* rolled back with its first transaction */
	nspname = get_namespace_name(get_rel_namespace(indexoid));
	relname = get_rel_name(indexoid);

	drop = makeNode(DropStmt);
	drop->removeType = OBJECT_INDEX;
	drop->objects = list_make1(list_make2(makeString(nspname), makeString(relname)));
	drop->behavior = DROP_RESTRICT;
	drop->missing_ok = true;
	/* a partitioned index (with its partitions') has no concurrent drop */
	drop->concurrent = get_rel_relkind(indexoid) == RELKIND_INDEX;
	pstmt = makeNode(PlannedStmt);
	pstmt->commandType = CMD_UTILITY;
	pstmt->utilityStmt = (Node *) drop;
	pstmt->stmt_location = -1;
	/* as PortalRunUtility gives it: DROP INDEX CONCURRENTLY pops it */
	PushActiveSnapshot(GetTransactionSnapshot());
	run(pstmt, psprintf("DROP INDEX%s IF EXISTS %s", drop->concurrent ? " CONCURRENTLY" : "",
						quote_qualified_identifier(nspname, relname)),
		true, arg);
	/* (a plain DROP INDEX leaves it) */
	if (ActiveSnapshotSet())
		PopActiveSnapshot();
	/* the drop's last transaction removes the catalog entry: keep it */
	CommitTransactionCommand();
	StartTransactionCommand();
}

/*
 * After a build failed with edata (copied into cxt): abort as PostgreSQL
 * would after the error, drop what the build left from a new transaction,
 * then raise the error again.
 */
static void
fail_build(ErrorData *edata, Oid indexoid, MemoryContext cxt, SgRunUtility run, void *arg)
{
	AbortCurrentTransaction();
	StartTransactionCommand();
	MemoryContextSwitchTo(cxt);
	drop_failed_build(indexoid, run, arg);
	MemoryContextSwitchTo(cxt);
	ReThrowError(edata);
}

/*
 * Run a CREATE INDEX (at top level, outside a transaction block) as
 * CREATE INDEX CONCURRENTLY.  On an error, the index it made is dropped
 * and the error raised again, from a new transaction.
 */
void
sg_create_index_concurrently(PlannedStmt *pstmt, const char *queryString,
							 SgRunUtility run, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;	/* the portal's: outlives
												 * the build's transactions */
	PlannedStmt *copy = copyObject(pstmt);
	ErrorData  *edata = NULL;

	castNode(IndexStmt, copy->utilityStmt)->concurrent = true;
	built_index = InvalidOid;
	prev_object_access_hook = object_access_hook;
	object_access_hook = note_new_index;
	PG_TRY();
	{
		run(copy, queryString, false, arg);
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	object_access_hook = prev_object_access_hook;
	if (edata == NULL)
		return;

	fail_build(edata, built_index, cxt, run, arg);
}

/* a build in place reports no waits: the client's session shows them */
static void
no_wait_report(bool waiting)
{
}

/*
 * Run a CREATE INDEX on a partitioned table (at top level, outside a
 * transaction block) online: the tree of indexes reserved and committed,
 * each leaf's built concurrently, the partitioned ones marked valid,
 * deepest first.  On an error, the tree is dropped and the error raised
 * again, from a new transaction.
 */
void
sg_create_partitioned_index_in_place(PlannedStmt *pstmt, const char *queryString,
									 ProcessUtilityContext context,
									 SgRunUtility run, void *arg)
{
	MemoryContext cxt = CurrentMemoryContext;	/* the portal's */
	ErrorData  *edata = NULL;
	volatile Oid top = InvalidOid;

	PG_TRY();
	{
		Oid			relid;
		TimestampTz locked_at;
		List	   *made;
		List	   *leaves = NIL;
		List	   *tables = NIL;
		List	   *partitioned = NIL;
		ListCell   *lc;
		ListCell   *tc;

		made = sg_reserve_create_index(pstmt, queryString, context, &relid, &locked_at);
		MemoryContextSwitchTo(cxt);
		/* looked up now: between the builds there is no transaction */
		foreach(lc, made)
		{
			Oid			indexoid = lfirst_oid(lc);

			if (get_rel_relkind(indexoid) == RELKIND_PARTITIONED_INDEX)
				partitioned = lcons_oid(indexoid, partitioned);
			else
			{
				leaves = lappend_oid(leaves, indexoid);
				tables = lappend_oid(tables, IndexGetRelation(indexoid, false));
			}
		}
		if (made != NIL)
		{
			top = linitial_oid(made);
			/* as CREATE INDEX CONCURRENTLY ends its first transaction */
			if (ActiveSnapshotSet())
				PopActiveSnapshot();
			CommitTransactionCommand();
			forboth(lc, leaves, tc, tables)
			{
				sg_build_index_concurrently(lfirst_oid(tc), lfirst_oid(lc), no_wait_report);
				MemoryContextSwitchTo(cxt);
			}
			/* the deepest first */
			StartTransactionCommand();
			foreach(lc, partitioned)
				sg_validate_partitioned_index(lfirst_oid(lc));
			CommitTransactionCommand();
			StartTransactionCommand();
			MemoryContextSwitchTo(cxt);
		}
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
	}
	PG_END_TRY();
	if (edata == NULL)
		return;

	fail_build(edata, top, cxt, run, arg);
}
