/*-------------------------------------------------------------------------
 *
 * index_build.c
 *	  The indexes a job builds: reserved in the ALTER's transaction, built
 *	  concurrently by the worker, known by OID throughout.
 *
 * PostgreSQL's ALTER builds a UNIQUE or PRIMARY KEY index under its lock,
 * and the index takes its name there.  A staged ALTER makes the index's
 * catalog entry in the same place, from the same definition, but empty,
 * invalid and not ready for inserts (the state CREATE INDEX CONCURRENTLY
 * leaves after its first transaction): the name is taken as PostgreSQL
 * would take it, later statements can name the index, and nobody else can
 * get the name meanwhile.  The worker then builds that very index the way
 * CREATE INDEX CONCURRENTLY builds its own, phase by phase, with
 * PostgreSQL's functions for it: the index keeps its OID throughout, and
 * the build can stop anywhere (an error, a crash) and start again from
 * the state the index is in.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/indexing.h"
#include "catalog/pg_index.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "parser/parser.h"
#include "parser/parse_utilcmd.h"
#include "pgstat.h"
#include "storage/bufmgr.h"
#include "storage/lmgr.h"
#include "utils/snapmgr.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "index_build.h"

/*
 * Leave an index just made (its catalog entry, not built) invalid and not
 * ready for inserts: the state CREATE INDEX CONCURRENTLY leaves after its
 * first transaction.
 */
void
sg_index_make_reserved(Oid relid, Oid indexoid)
{
	Relation	pg_index;
	HeapTuple	tup;
	Form_pg_index form;

	CommandCounterIncrement();
	pg_index = table_open(IndexRelationId, RowExclusiveLock);
	tup = SearchSysCacheCopy1(INDEXRELID, ObjectIdGetDatum(indexoid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", indexoid);
	form = (Form_pg_index) GETSTRUCT(tup);
	form->indisvalid = false;
	form->indisready = false;
	CatalogTupleUpdate(pg_index, &tup->t_self, tup);
	heap_freetuple(tup);
	table_close(pg_index, RowExclusiveLock);
	CacheInvalidateRelcacheByRelid(relid);
	CommandCounterIncrement();
}

/*
 * Make the catalog entry of an index from its CREATE INDEX statement,
 * without building it, and leave it invalid and not ready for inserts.
 * The caller holds a lock on the table that keeps writers out, or accepts
 * that DefineIndex waits for them.  Returns the index's OID.
 */
Oid
sg_reserve_index(Oid relid, const char *index_sql)
{
	List	   *raw = raw_parser(index_sql, RAW_PARSE_DEFAULT);
	IndexStmt  *stmt;

	if (list_length(raw) != 1 || !IsA(linitial_node(RawStmt, raw)->stmt, IndexStmt))
		elog(ERROR, "not a CREATE INDEX statement: %s", index_sql);
	stmt = (IndexStmt *) linitial_node(RawStmt, raw)->stmt;
	stmt->concurrent = false;
	return sg_reserve_index_stmt(relid, stmt, index_sql);
}

/*
 * The same, from a CREATE INDEX statement's node (transformed or not), as
 * DefineIndex makes the entry for CREATE INDEX.  Returns InvalidOid when IF
 * NOT EXISTS found the name taken.
 */
Oid
sg_reserve_index_stmt(Oid relid, IndexStmt *stmt, const char *queryString)
{
	ObjectAddress address;

	if (!stmt->transformed)
		stmt = transformIndexStmt(relid, stmt, queryString);
	address = sg_define_index(relid, stmt, true);
	if (OidIsValid(address.objectId))
		sg_index_make_reserved(relid, address.objectId);
	return address.objectId;
}

/* Is the index there, on that table, valid? */
SgIndexState
sg_index_state(Oid indexoid, Oid relid)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	SgIndexState state;

	if (!HeapTupleIsValid(tup))
		return SG_INDEX_MISSING;
	if (((Form_pg_index) GETSTRUCT(tup))->indrelid != relid)
		state = SG_INDEX_MISSING;
	else if (((Form_pg_index) GETSTRUCT(tup))->indisvalid)
		state = SG_INDEX_VALID;
	else
		state = SG_INDEX_INVALID;
	ReleaseSysCache(tup);
	return state;
}

/*
 * Build an index the job reserved, as CREATE INDEX CONCURRENTLY builds its
 * own after its first transaction: wait until no transaction can write the
 * table without knowing the index, build it from a snapshot and mark it
 * ready for inserts; wait again, insert what was written meanwhile
 * (validate_index), wait for the snapshots that could still miss it, mark
 * it valid.  Each phase commits, so the build starts again from where a
 * failure or a crash left it: an index not yet ready is emptied and built
 * anew, one ready but not valid is validated again.  A session lock keeps
 * DDL off the table and the index between the phases; waiting says when
 * the build waits for other transactions.  Runs outside a transaction, at
 * top level; a duplicate key is PostgreSQL's error, on the reserved index.
 */
void
sg_build_index_concurrently(Oid relid, Oid indexoid, void (*waiting) (bool))
{
	Relation	heap;
	Relation	index;
	LockRelId	heaprelid;
	LockRelId	indexrelid;
	LOCKTAG		heaplocktag;
	Snapshot	snapshot;
	TransactionId limitXmin;
	bool		ready;

	StartTransactionCommand();
	heap = table_open(relid, ShareUpdateExclusiveLock);
	index = index_open(indexoid, ShareUpdateExclusiveLock);
	heaprelid = heap->rd_lockInfo.lockRelId;
	indexrelid = index->rd_lockInfo.lockRelId;
	SET_LOCKTAG_RELATION(heaplocktag, heaprelid.dbId, heaprelid.relId);
	ready = index->rd_index->indisready;
	/* what a failed build wrote is of no use: start from an empty file */
	if (!ready && RelationGetNumberOfBlocks(index) > 0)
		sg_relation_set_new_file(index, index->rd_rel->relpersistence);
	LockRelationIdForSession(&heaprelid, ShareUpdateExclusiveLock);
	LockRelationIdForSession(&indexrelid, ShareUpdateExclusiveLock);
	index_close(index, NoLock);
	table_close(heap, NoLock);
	CommitTransactionCommand();

	if (!ready)
	{
		StartTransactionCommand();
		pgstat_progress_start_command(PROGRESS_COMMAND_CREATE_INDEX, relid);
		waiting(true);
		WaitForLockers(heaplocktag, ShareLock, true);
		waiting(false);
		PushActiveSnapshot(GetTransactionSnapshot());
		index_concurrently_build(relid, indexoid);
		PopActiveSnapshot();
		pgstat_progress_end_command();
		CommitTransactionCommand();
	}

	StartTransactionCommand();
	pgstat_progress_start_command(PROGRESS_COMMAND_CREATE_INDEX, relid);
	waiting(true);
	WaitForLockers(heaplocktag, ShareLock, true);
	waiting(false);
	snapshot = RegisterSnapshot(GetTransactionSnapshot());
	PushActiveSnapshot(snapshot);
	validate_index(relid, indexoid, snapshot);
	limitXmin = snapshot->xmin;
	PopActiveSnapshot();
	UnregisterSnapshot(snapshot);
	pgstat_progress_end_command();
	CommitTransactionCommand();

	/* no snapshot of ours may hold back the wait */
	StartTransactionCommand();
	waiting(true);
	WaitForOlderSnapshots(limitXmin, true);
	waiting(false);
	index_set_state_flags(indexoid, INDEX_CREATE_SET_VALID);
	CacheInvalidateRelcacheByRelid(relid);
	UnlockRelationIdForSession(&indexrelid, ShareUpdateExclusiveLock);
	UnlockRelationIdForSession(&heaprelid, ShareUpdateExclusiveLock);
	CommitTransactionCommand();
}
