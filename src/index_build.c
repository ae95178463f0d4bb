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
#include "catalog/pg_class.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "commands/defrem.h"
#include "nodes/parsenodes.h"
#include "partitioning/partdesc.h"
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
 * Set an index's valid and ready flags, in its pg_index row (an update
 * that invalidates the index's relcache entry); the table's entry is
 * invalidated too.
 */
static void
set_index_flags(Oid relid, Oid indexoid, bool valid, bool ready)
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
	form->indisvalid = valid;
	form->indisready = ready;
	CatalogTupleUpdate(pg_index, &tup->t_self, tup);
	heap_freetuple(tup);
	table_close(pg_index, RowExclusiveLock);
	CacheInvalidateRelcacheByRelid(relid);
	CommandCounterIncrement();
}

/*
 * Leave an index just made (its catalog entry, not built) invalid and not
 * ready for inserts: the state CREATE INDEX CONCURRENTLY leaves after its
 * first transaction.
 */
void
sg_index_make_reserved(Oid relid, Oid indexoid)
{
	set_index_flags(relid, indexoid, false, false);
}

/* Every index of the tables of relid's partition tree. */
static List *
tree_indexes(Oid relid)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Relation	rel = relation_open(lfirst_oid(lc), NoLock);

		result = list_concat(result, RelationGetIndexList(rel));
		relation_close(rel, NoLock);
	}
	return result;
}

/*
 * The index of a partitioned table just made, with the index DefineIndex
 * gave each partition: those it made (not among before) are left as a
 * concurrent build's first transaction would leave them, the leaves' not
 * ready for inserts, and every one invalid, so that the parent's becomes
 * valid only once every leaf's is built.  Indexes the partitions had
 * already, which DefineIndex attached instead, stay as they are.  Returns
 * the indexes made, the parent's first.
 */
static List *
reserve_index_tree(Oid indexoid, List *before)
{
	List	   *made = NIL;
	ListCell   *lc;

	CommandCounterIncrement();
	foreach(lc, find_all_inheritors(indexoid, NoLock, NULL))
	{
		Oid			oid = lfirst_oid(lc);

		if (list_member_oid(before, oid))
			continue;
		set_index_flags(IndexGetRelation(oid, false), oid, false,
						get_rel_relkind(oid) == RELKIND_PARTITIONED_INDEX);
		made = lappend_oid(made, oid);
	}
	return made;
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
	return sg_reserve_index_stmt(relid, stmt, index_sql, NULL);
}

/*
 * The same, from a CREATE INDEX statement's node (transformed or not), as
 * DefineIndex makes the entry for CREATE INDEX; on a partitioned table,
 * with an index on every partition, as reserve_index_tree leaves them.
 * Returns InvalidOid when IF NOT EXISTS found the name taken.  made, if
 * not NULL, gets the indexes made (this one first).
 */
Oid
sg_reserve_index_stmt(Oid relid, IndexStmt *stmt, const char *queryString,
					  List **made)
{
	bool		partitioned = get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE;
	List	   *before = partitioned ? tree_indexes(relid) : NIL;
	ObjectAddress address;
	List	   *indexes;

	if (!stmt->transformed)
		stmt = transformIndexStmt(relid, stmt, queryString);
	address = sg_define_index(relid, stmt, true);
	if (!OidIsValid(address.objectId))
		return InvalidOid;
	if (partitioned)
		indexes = reserve_index_tree(address.objectId, before);
	else
	{
		sg_index_make_reserved(relid, address.objectId);
		indexes = list_make1_oid(address.objectId);
	}
	if (made)
		*made = indexes;
	return address.objectId;
}

/*
 * Mark a partitioned index valid once every partition of its table has a
 * valid index attached to it, as ALTER INDEX ... ATTACH PARTITION does.
 * The SHARE UPDATE EXCLUSIVE locks keep partitions from being attached or
 * detached meanwhile, and block no reads or writes.
 */
void
sg_validate_partitioned_index(Oid indexoid)
{
	Oid			relid = IndexGetRelation(indexoid, false);
	Relation	rel;
	int			valid = 0;
	ListCell   *lc;

	rel = table_open(relid, ShareUpdateExclusiveLock);
	LockRelationOid(indexoid, ShareUpdateExclusiveLock);
	foreach(lc, find_inheritance_children(indexoid, NoLock))
	{
		Oid			child = lfirst_oid(lc);

		if (sg_index_state(child, IndexGetRelation(child, false)) == SG_INDEX_VALID)
			valid++;
	}
	if (valid == RelationGetPartitionDesc(rel, true)->nparts &&
		sg_index_state(indexoid, relid) != SG_INDEX_VALID)
		set_index_flags(relid, indexoid, true, true);
	table_close(rel, NoLock);
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
