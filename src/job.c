/*-------------------------------------------------------------------------
 *
 * job.c
 *	  Reading and writing the job catalog (schema_guard.jobs, job_columns,
 *	  job_leaves, job_events).
 *
 * Every access goes through SPI in the caller's transaction, so a job
 * created by an ALTER vanishes with it on rollback, and progress is made
 * durable by the same commit as the rows it describes.  The tables belong
 * to the extension's owner; backends switch to that role for the duration
 * of a catalog statement and back, on every path.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "storage/bufmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "job.h"

/* The installed version of schema_guard in this database, or NULL. */
char *
sg_extension_version(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	char	   *version = NULL;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(SG_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
	{
		bool		isnull;
		Datum		d = heap_getattr(tuple, Anum_pg_extension_extversion,
									 RelationGetDescr(rel), &isnull);

		if (!isnull)
			version = TextDatumGetCString(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return version;
}

Oid
sg_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(SG_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in this database",
						SG_EXTENSION_NAME),
				 errhint("Run CREATE EXTENSION schema_guard.")));
	return owner;
}

/*
 * Act as the extension's owner, whose rights the job catalog needs, under
 * a search_path of pg_catalog alone: the caller's search_path must not let
 * the caller's objects (an operator, a function) stand in for PostgreSQL's
 * in statements run with those rights.
 */
void
sg_become_extension_owner(SgSavedUser *saved)
{
	Oid			owner = sg_extension_owner();

	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(owner,
						   saved->sec_context | SECURITY_LOCAL_USERID_CHANGE);
	saved->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/* Back to the caller; ok is false on the way out of an error. */
void
sg_restore_user(const SgSavedUser *saved, bool ok)
{
	AtEOXact_GUC(ok, saved->nestlevel);
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/*
 * Plans of the catalog statements, kept for the backend's life: there are
 * a few dozen, each a literal of this file, and planning them anew for
 * every call was most of the cost of recording a job.  PostgreSQL replans
 * them when the tables change (DROP and CREATE EXTENSION included).
 */
typedef struct CatalogPlan
{
	const char *sql;
	SPIPlanPtr	plan;
	struct CatalogPlan *next;
} CatalogPlan;

static CatalogPlan *catalog_plans = NULL;

/* The kept plan of sql; the caller acts as the extension's owner. */
static SPIPlanPtr
catalog_plan(const char *sql, int nargs, Oid *types)
{
	CatalogPlan *entry;
	SPIPlanPtr	plan;

	for (entry = catalog_plans; entry != NULL; entry = entry->next)
		if (strcmp(entry->sql, sql) == 0)
			return entry->plan;

	/* small tables read by key: the generic plan is the right one */
	plan = SPI_prepare_cursor(sql, nargs, types, CURSOR_OPT_GENERIC_PLAN);
	if (plan == NULL)
		elog(ERROR, "schema_guard could not prepare a catalog statement: %s",
			 SPI_result_code_string(SPI_result));
	if (SPI_keepplan(plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	entry = MemoryContextAlloc(TopMemoryContext, sizeof(CatalogPlan));
	entry->sql = MemoryContextStrdup(TopMemoryContext, sql);
	entry->plan = plan;
	entry->next = catalog_plans;
	catalog_plans = entry;
	return plan;
}

/*
 * Run one catalog statement as the extension's owner, or with execute
 * false only plan it.  Returns SPI's result code; the caller reads
 * SPI_tuptable before its SPI_finish.
 */
static int
catalog_run(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, bool read_only, bool execute)
{
	SgSavedUser saved;
	int			rc = 0;

	sg_become_extension_owner(&saved);
	PG_TRY();
	{
		SPIPlanPtr	plan = catalog_plan(sql, nargs, types);

		if (execute)
			rc = SPI_execute_plan(plan, values, nulls, read_only, 0);
	}
	PG_CATCH();
	{
		sg_restore_user(&saved, false);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_restore_user(&saved, true);
	if (rc < 0)
		elog(ERROR, "schema_guard catalog statement failed: %s",
			 SPI_result_code_string(rc));
	return rc;
}

static int
catalog_exec(const char *sql, int nargs, Oid *types, Datum *values,
			 const char *nulls, bool read_only)
{
	return catalog_run(sql, nargs, types, values, nulls, read_only, true);
}

/* A statement that records a job. */
typedef struct CatalogStatement
{
	const char *sql;
	int			nargs;
	Oid			types[14];
} CatalogStatement;

static const CatalogStatement next_job_id = {
	"SELECT pg_catalog.nextval('schema_guard.jobs_job_id_seq')", 0, {0}
};
static const CatalogStatement insert_job = {
	"INSERT INTO schema_guard.jobs (job_id, relid, role, statement, "
	"search_path, settings, bound_to, trigger_name, blocks_total, batch_blocks, "
	"added_columns, locked_at, lock_wait) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
	"$9, $10, $11, $12, $12 - pg_catalog.statement_timestamp())",
	12, {INT8OID, OIDOID, OIDOID, TEXTOID, TEXTOID, TEXTARRAYOID, TEXTOID, NAMEOID,
	INT8OID, INT4OID, INT2ARRAYOID, TIMESTAMPTZOID}
};
static const CatalogStatement insert_column = {
	"INSERT INTO schema_guard.job_columns (job_id, attnum, colname, "
	"kind, fill_expr, fill_sql, fill_node, atttype, atttypmod, not_null, check_name, "
	"identity, identity_options, staging_seq) "
	"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
	14, {INT8OID, INT2OID, NAMEOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, OIDOID, INT4OID,
	BOOLOID, NAMEOID, CHAROID, TEXTOID, OIDOID}
};
static const CatalogStatement insert_constraint = {
	"INSERT INTO schema_guard.job_constraints (job_id, conname, attnum, "
	"kind, is_deferrable, is_deferred) VALUES ($1, $2, $3, $4, $5, $6)",
	6, {INT8OID, NAMEOID, INT2OID, TEXTOID, BOOLOID, BOOLOID}
};
static const CatalogStatement insert_object = {
	"INSERT INTO schema_guard.job_objects (job_id, kind, relid, name, objid, definition) "
	"VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (job_id, kind, relid, name) "
	"DO UPDATE SET objid = excluded.objid",
	6, {INT8OID, TEXTOID, OIDOID, NAMEOID, OIDOID, TEXTOID}
};
static const CatalogStatement insert_leaf = {
	"INSERT INTO schema_guard.job_leaves (job_id, relid, pass, end_block, "
	"relfilenode, min_attnum) VALUES ($1, $2, $3, $4, $5, $6) "
	"ON CONFLICT (job_id, relid) DO NOTHING",
	6, {INT8OID, OIDOID, INT4OID, INT8OID, OIDOID, INT2OID}
};
static const CatalogStatement insert_event = {
	"INSERT INTO schema_guard.job_events (job_id, event, detail) "
	"VALUES ($1, $2, $3)",
	3, {INT8OID, TEXTOID, TEXTOID}
};

static int
catalog_exec_statement(const CatalogStatement *stmt, Datum *values,
					   const char *nulls)
{
	return catalog_run(stmt->sql, stmt->nargs, (Oid *) stmt->types, values,
					   nulls, false, true);
}

static void
connect_spi(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

static void
finish_spi(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * Record a made-up job, with a row in every job table: the first execution
 * of a statement plans it and loads what its executor needs (the tables,
 * their indexes and constraints, operator lookups).  The caller rolls it
 * back.
 */
static void
rehearse_job_insert(void)
{
	SgJob	   *job = palloc0(sizeof(SgJob));
	SgJobColumn *col = palloc0(sizeof(SgJobColumn));
	SgJobLeaf  *leaf = palloc0(sizeof(SgJobLeaf));
	SgJobConstraint *con = palloc0(sizeof(SgJobConstraint));
	SgJobObject *obj = palloc0(sizeof(SgJobObject));

	job->job_id = -1;			/* never a real job's */
	job->relid = RelationRelationId;
	job->role = GetUserId();
	job->statement = job->search_path = job->trigger_name = job->bound_to = "";
	col->colname = col->fill_expr = col->fill_sql = col->fill_node = "";
	col->atttype = INT4OID;
	col->kind = "default";
	job->columns = list_make1(col);
	leaf->relid = RelationRelationId;
	leaf->pass = 1;
	job->leaves = list_make1(leaf);
	con->conname = "";
	con->kind = "check";
	job->constraints = list_make1(con);
	obj->kind = "constraint";
	obj->relid = RelationRelationId;
	obj->name = "";
	job->objects = list_make1(obj);
	sg_job_insert(job);
}

/* Load one relation's cache entry and those of its indexes. */
static void
warm_relation(Oid relid)
{
	Relation	rel = try_relation_open(relid, AccessShareLock);
	List	   *indexes;
	ListCell   *lc;

	if (rel == NULL)
		return;
	indexes = RelationGetIndexList(rel);
	foreach(lc, indexes)
		index_close(index_open(lfirst_oid(lc), AccessShareLock), AccessShareLock);
	list_free(indexes);
	relation_close(rel, AccessShareLock);
}

static void
warm_caches_now(void)
{
	static const Oid catalogs[] = {
		TriggerRelationId, ConstraintRelationId, DependRelationId,
		AttrDefaultRelationId, SequenceRelationId, InheritsRelationId
	};
	int			i;

	for (i = 0; i < lengthof(catalogs); i++)
		warm_relation(catalogs[i]);
	/* the one statement the rehearsal leaves out: it would use up a job id */
	warm_relation(get_relname_relid("jobs_job_id_seq",
									get_namespace_oid(SG_SCHEMA_NAME, false)));
	connect_spi();
	catalog_run(next_job_id.sql, next_job_id.nargs, (Oid *) next_job_id.types,
				NULL, NULL, false, false);
	finish_spi();
	rehearse_job_insert();
}

/*
 * Load the cache entries a staged ALTER needs besides the table's own: the
 * system catalogs staging writes to, and the job catalog with the plans
 * and executor state of the statements that record a job.  A session's first
 * staged ALTER would otherwise build them while it holds the table's
 * ACCESS EXCLUSIVE lock, which is more work than the staging itself; called
 * before the lock is taken, this moves that work out of the time the
 * application waits (on a 2-core machine, a fresh session's staging under
 * the lock went from 4.5-7.5 ms to 2.7-4.5 ms).  Once per backend: what it loads stays loaded, or is rebuilt
 * after an invalidation at a fraction of the cost.
 *
 * It all runs in a subtransaction rolled back at the end, so that nothing
 * it writes stays.  It is only an optimization: an error (a job catalog
 * from another version of the extension, say) is dropped, unless it is a
 * cancel or shutdown, and the ALTER goes on to meet whatever it means.
 */
void
sg_warm_caches(void)
{
	static bool warmed = false;
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;

	/* where the ALTER cannot write, it fails with its own error */
	if (warmed || XactReadOnly || RecoveryInProgress())
		return;
	warmed = true;

	BeginInternalSubTransaction(NULL);
	PG_TRY();
	{
		warm_caches_now();
	}
	PG_CATCH();
	{
		ErrorData  *edata = sg_abort_subxact(cxt, owner);

		if (edata->sqlerrcode == ERRCODE_QUERY_CANCELED ||
			edata->sqlerrcode == ERRCODE_ADMIN_SHUTDOWN ||
			edata->sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE)
			ReThrowError(edata);
		ereport(DEBUG1,
				(errmsg_internal("schema_guard could not load its caches ahead: %s",
								 edata->message)));
		FreeErrorData(edata);
		return;
	}
	PG_END_TRY();
	RollbackAndReleaseCurrentSubTransaction();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
}

int64
sg_job_next_id(void)
{
	int64		id;
	bool		isnull;

	connect_spi();
	catalog_exec_statement(&next_job_id, NULL, NULL);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &isnull));
	finish_spi();
	return id;
}

static Datum
text_or_null(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* A list of C strings as a text[] datum. */
static Datum
text_array(List *strings)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(strings) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, strings)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* A text[] datum as a list of C strings, in the current memory context. */
static List *
text_array_list(Datum array)
{
	ArrayType  *arr = DatumGetArrayTypeP(array);
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	List	   *strings = NIL;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (i = 0; i < n; i++)
		if (!nulls[i])
			strings = lappend(strings, TextDatumGetCString(elems[i]));
	return strings;
}

/*
 * Record objects a job created; an object recorded already (the same
 * kind, table and name) gets the new OID, as after the job was bound again.
 */
void
sg_job_add_objects(SgJob *job, List *objects)
{
	ListCell   *lc;

	connect_spi();
	foreach(lc, objects)
	{
		SgJobObject *obj = lfirst(lc);
		Datum		values[6];
		char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};

		values[0] = Int64GetDatum(job->job_id);
		values[1] = CStringGetTextDatum(obj->kind);
		values[2] = ObjectIdGetDatum(obj->relid);
		values[3] = CStringGetDatum(obj->name);
		values[4] = ObjectIdGetDatum(obj->objid);
		values[5] = text_or_null(obj->definition, &nulls[5]);
		catalog_exec_statement(&insert_object, values, nulls);
	}
	finish_spi();
}

void
sg_job_insert(SgJob *job)
{
	ListCell   *lc;
	int64		blocks_total = 0;

	connect_spi();

	foreach(lc, job->leaves)
		blocks_total += ((SgJobLeaf *) lfirst(lc))->end_block;
	job->blocks_total = blocks_total;

	{
		Datum		values[12];
		char		nulls[12];
		Datum	   *added = palloc(sizeof(Datum) * (list_length(job->added_attnums) + 1));
		int			nadded = 0;

		values[0] = Int64GetDatum(job->job_id);
		values[1] = ObjectIdGetDatum(job->relid);
		values[2] = ObjectIdGetDatum(job->role);
		values[3] = CStringGetTextDatum(job->statement);
		values[4] = CStringGetTextDatum(job->search_path);
		values[5] = text_array(job->settings);
		values[6] = CStringGetTextDatum(job->bound_to);
		values[7] = CStringGetDatum(job->trigger_name);
		values[8] = Int64GetDatum(blocks_total);
		values[9] = Int32GetDatum(job->batch_blocks);
		foreach(lc, job->added_attnums)
			added[nadded++] = Int16GetDatum((int16) lfirst_int(lc));
		values[10] = PointerGetDatum(construct_array(added, nadded, INT2OID, sizeof(int16),
													 true, TYPALIGN_SHORT));
		memset(nulls, ' ', sizeof(nulls));
		values[11] = TimestampTzGetDatum(job->locked_at);
		nulls[11] = job->locked_at ? ' ' : 'n';
		catalog_exec_statement(&insert_job, values, nulls);
	}

	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		Datum		values[14];
		char		nulls[14];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(job->job_id);
		values[1] = Int16GetDatum(col->attnum);
		values[2] = CStringGetDatum(col->colname);
		values[3] = CStringGetTextDatum(col->kind);
		values[4] = CStringGetTextDatum(col->fill_expr);
		values[5] = CStringGetTextDatum(col->fill_sql);
		values[6] = CStringGetTextDatum(col->fill_node);
		values[7] = ObjectIdGetDatum(col->atttype);
		values[8] = Int32GetDatum(col->atttypmod);
		values[9] = BoolGetDatum(col->not_null);
		values[10] = col->check_name ? CStringGetDatum(col->check_name) : (Datum) 0;
		nulls[10] = col->check_name ? ' ' : 'n';
		values[11] = CharGetDatum(col->identity);
		nulls[11] = col->identity ? ' ' : 'n';
		values[12] = text_or_null(col->identity_options, &nulls[12]);
		values[13] = ObjectIdGetDatum(col->staging_seq);
		nulls[13] = OidIsValid(col->staging_seq) ? ' ' : 'n';
		catalog_exec_statement(&insert_column, values, nulls);
	}

	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		Datum		values[6];

		values[0] = Int64GetDatum(job->job_id);
		values[1] = CStringGetDatum(con->conname);
		values[2] = Int16GetDatum(con->attnum);
		values[3] = CStringGetTextDatum(con->kind);
		values[4] = BoolGetDatum(con->deferrable);
		values[5] = BoolGetDatum(con->initdeferred);
		catalog_exec_statement(&insert_constraint, values, NULL);
	}

	finish_spi();
	sg_job_add_leaves(job, job->leaves);
	sg_job_add_objects(job, job->objects);
	sg_job_event(job->job_id, "created", job->statement);
}

/* Read the rows of one job from one of the job tables; $1 is the job. */
static void
catalog_read_job_rows(const char *sql, int64 job_id)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};

	catalog_exec(sql, 1, types, values, NULL, true);
}

static char *
get_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

static void
load_columns(SgJob *job, MemoryContext cxt)
{
	uint64		i;

	catalog_read_job_rows("SELECT attnum, colname::text, kind, fill_expr, fill_sql, fill_node, "
						  "atttype::oid, atttypmod, not_null, check_name::text, identity, "
						  "identity_options, staging_seq::oid "
						  "FROM schema_guard.job_columns WHERE job_id = $1 ORDER BY attnum",
						  job->job_id);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		SgJobColumn *col = palloc0(sizeof(SgJobColumn));
		bool		isnull;
		Datum		d;

		col->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 1, &isnull));
		col->colname = get_text(tup, desc, 2);
		col->kind = get_text(tup, desc, 3);
		col->fill_expr = get_text(tup, desc, 4);
		col->fill_sql = get_text(tup, desc, 5);
		col->fill_node = get_text(tup, desc, 6);
		col->atttype = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
		col->atttypmod = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
		col->not_null = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
		col->check_name = get_text(tup, desc, 10);
		d = SPI_getbinval(tup, desc, 11, &isnull);
		col->identity = isnull ? '\0' : DatumGetChar(d);
		col->identity_options = get_text(tup, desc, 12);
		d = SPI_getbinval(tup, desc, 13, &isnull);
		col->staging_seq = isnull ? InvalidOid : DatumGetObjectId(d);
		job->columns = lappend(job->columns, col);
		MemoryContextSwitchTo(old);
	}
}

static void
load_constraints(SgJob *job, MemoryContext cxt)
{
	uint64		i;

	catalog_read_job_rows("SELECT conname::text, attnum, kind, is_deferrable, is_deferred "
						  "FROM schema_guard.job_constraints WHERE job_id = $1 ORDER BY conname",
						  job->job_id);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		SgJobConstraint *con = palloc0(sizeof(SgJobConstraint));
		bool		isnull;

		con->conname = get_text(tup, desc, 1);
		con->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
		con->kind = get_text(tup, desc, 3);
		con->deferrable = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		con->initdeferred = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
		job->constraints = lappend(job->constraints, con);
		MemoryContextSwitchTo(old);
	}
}

static void
load_objects(SgJob *job, MemoryContext cxt)
{
	uint64		i;

	catalog_read_job_rows("SELECT kind, relid::oid, name::text, objid, definition "
						  "FROM schema_guard.job_objects WHERE job_id = $1 "
						  "ORDER BY kind, relid::oid, name",
						  job->job_id);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		SgJobObject *obj = palloc0(sizeof(SgJobObject));
		bool		isnull;

		obj->kind = get_text(tup, desc, 1);
		obj->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		obj->name = get_text(tup, desc, 3);
		obj->objid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
		obj->definition = get_text(tup, desc, 5);
		job->objects = lappend(job->objects, obj);
		MemoryContextSwitchTo(old);
	}
}

static void
load_leaves(SgJob *job, MemoryContext cxt)
{
	uint64		i;

	catalog_read_job_rows("SELECT relid::oid, pass, end_block, next_block, relfilenode, "
						  "min_attnum, done FROM schema_guard.job_leaves WHERE job_id = $1 "
						  "ORDER BY relid::oid",
						  job->job_id);
	for (i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		SgJobLeaf  *leaf = palloc0(sizeof(SgJobLeaf));
		bool		isnull;

		leaf->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		leaf->pass = DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull));
		leaf->end_block = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
		leaf->next_block = DatumGetInt64(SPI_getbinval(tup, desc, 4, &isnull));
		leaf->relfilenode = DatumGetObjectId(SPI_getbinval(tup, desc, 5, &isnull));
		leaf->min_attnum = DatumGetInt16(SPI_getbinval(tup, desc, 6, &isnull));
		leaf->done = DatumGetBool(SPI_getbinval(tup, desc, 7, &isnull));
		job->leaves = lappend(job->leaves, leaf);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Load a job with its columns and leaves, allocated in the caller's memory
 * context.  Unknown ids are an error unless missing_ok.
 */
SgJob *
sg_job_load(int64 job_id, bool missing_ok)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};
	SgJob	   *job = NULL;

	connect_spi();
	catalog_exec("SELECT relid::oid, role::oid, state, phase, statement, search_path, "
				 "trigger_name::text, blocks_total, blocks_done, rows_done, batch_blocks, "
				 "COALESCE(batch_time, 0), COALESCE(batch_delay, -1), last_error, "
				 "added_columns, settings, bound_to "
				 "FROM schema_guard.jobs WHERE job_id = $1",
				 1, types, values, NULL, true);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		MemoryContext old = MemoryContextSwitchTo(cxt);
		bool		isnull;

		job = palloc0(sizeof(SgJob));
		job->job_id = job_id;
		job->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 1, &isnull));
		job->role = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
		job->state = get_text(tup, desc, 3);
		job->phase = get_text(tup, desc, 4);
		job->statement = get_text(tup, desc, 5);
		job->search_path = get_text(tup, desc, 6);
		job->trigger_name = get_text(tup, desc, 7);
		job->blocks_total = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		job->blocks_done = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		job->rows_done = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
		job->batch_blocks = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
		job->batch_time = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		job->batch_delay = DatumGetInt32(SPI_getbinval(tup, desc, 13, &isnull));
		job->last_error = get_text(tup, desc, 14);
		{
			ArrayType  *arr = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 15, &isnull));
			int16	   *attnums = (int16 *) ARR_DATA_PTR(arr);
			int			i;

			for (i = 0; i < ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)); i++)
				job->added_attnums = lappend_int(job->added_attnums, attnums[i]);
		}
		job->settings = text_array_list(SPI_getbinval(tup, desc, 16, &isnull));
		job->bound_to = get_text(tup, desc, 17);
		MemoryContextSwitchTo(old);

		load_columns(job, cxt);
		load_constraints(job, cxt);
		load_objects(job, cxt);
		load_leaves(job, cxt);
	}
	finish_spi();

	if (job == NULL && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("schema_guard job %lld does not exist", (long long) job_id)));
	return job;
}

void
sg_job_event(int64 job_id, const char *event, const char *detail)
{
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(event);
	values[2] = text_or_null(detail, &nulls[2]);
	connect_spi();
	catalog_exec_statement(&insert_event, values, nulls);
	finish_spi();
}

/*
 * Change a job's state (and phase, when given), record why, and log it.
 * A NULL error keeps the last one, until the job is queued again.
 */
void
sg_job_set_state(int64 job_id, const char *state, const char *phase,
				 const char *error, const char *detail)
{
	Oid			types[5] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(state);
	values[2] = text_or_null(phase, &nulls[2]);
	values[3] = text_or_null(error, &nulls[3]);
	values[4] = text_or_null(detail, &nulls[4]);
	connect_spi();
	catalog_exec("UPDATE schema_guard.jobs SET state = $2, "
				 "phase = COALESCE($3, phase), "
				 "last_error = CASE WHEN $4 IS NOT NULL THEN $4 "
				 "                  WHEN $2 = 'queued' THEN NULL ELSE last_error END, "
				 "error_detail = CASE WHEN $4 IS NOT NULL THEN $5 "
				 "                    WHEN $2 = 'queued' THEN NULL ELSE error_detail END, "
				 "started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, pg_catalog.now()) "
				 "                  ELSE started_at END, "
				 "finished_at = CASE WHEN $2 IN ('done', 'cancelled', 'reverted') "
				 "                   THEN pg_catalog.now() END, "
				 "updated_at = pg_catalog.now() WHERE job_id = $1",
				 5, types, values, nulls, false);
	finish_spi();
	sg_job_event(job_id, error ? "failed" : state, error ? error : detail);
}

/* Per-job batch settings; -1 for either means: follow the setting. */
void
sg_job_set_batch(int64 job_id, int batch_time_ms, int batch_delay_ms)
{
	Oid			types[3] = {INT8OID, INT4OID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};

	values[0] = Int64GetDatum(job_id);
	values[1] = Int32GetDatum(batch_time_ms);
	nulls[1] = batch_time_ms < 0 ? 'n' : ' ';
	values[2] = Int32GetDatum(batch_delay_ms);
	nulls[2] = batch_delay_ms < 0 ? 'n' : ' ';
	connect_spi();
	catalog_exec("UPDATE schema_guard.jobs SET batch_time = $2, batch_delay = $3, "
				 "updated_at = pg_catalog.now() WHERE job_id = $1",
				 3, types, values, nulls, false);
	finish_spi();
	sg_job_event(job_id, "settings",
				 psprintf("batch_time %s, batch_delay %s",
						  batch_time_ms < 0 ? "default" : psprintf("%d ms", batch_time_ms),
						  batch_delay_ms < 0 ? "default" : psprintf("%d ms", batch_delay_ms)));
}

bool
sg_job_is_runnable(const SgJob *job)
{
	return strcmp(job->state, "queued") == 0 || strcmp(job->state, "running") == 0;
}

/*
 * The tables of the job's tree that store rows, as leaves to fill: the
 * table itself, or every partition and inheritance child.  Each leaf
 * numbers the job's columns its own way; min_attnum is the first of them
 * in the leaf, found by name.  Foreign tables store no rows here.
 */
List *
sg_job_make_leaves(Oid relid, bool recurse, List *columns)
{
	List	   *rels = recurse ? find_all_inheritors(relid, NoLock, NULL)
		: list_make1_oid(relid);
	List	   *leaves = NIL;
	ListCell   *lc;

	foreach(lc, rels)
	{
		Oid			leafid = lfirst_oid(lc);
		Relation	rel;
		SgJobLeaf  *leaf;
		ListCell   *cc;

		if (get_rel_relkind(leafid) != RELKIND_RELATION)
			continue;
		rel = relation_open(leafid, NoLock);
		leaf = palloc0(sizeof(SgJobLeaf));
		leaf->relid = leafid;
		leaf->pass = 1;
		leaf->end_block = RelationGetNumberOfBlocks(rel);
		leaf->relfilenode = rel->rd_rel->relfilenode;
		leaf->min_attnum = MaxAttrNumber;
		foreach(cc, columns)
		{
			char	   *name = sg_column_name(relid, ((SgJobColumn *) lfirst(cc))->attnum);
			AttrNumber	attnum = name ? get_attnum(leafid, name) : InvalidAttrNumber;

			if (attnum != InvalidAttrNumber)
				leaf->min_attnum = Min(leaf->min_attnum, attnum);
		}
		relation_close(rel, NoLock);
		if (leaf->min_attnum != MaxAttrNumber)
			leaves = lappend(leaves, leaf);
	}
	return leaves;
}

/* Record leaves: at the start, and those found since (partitions attached or created). */
void
sg_job_add_leaves(SgJob *job, List *leaves)
{
	ListCell   *lc;

	connect_spi();
	foreach(lc, leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		Datum		values[6];

		values[0] = Int64GetDatum(job->job_id);
		values[1] = ObjectIdGetDatum(leaf->relid);
		values[2] = Int32GetDatum(leaf->pass);
		values[3] = Int64GetDatum(leaf->end_block);
		values[4] = ObjectIdGetDatum(leaf->relfilenode);
		values[5] = Int16GetDatum(leaf->min_attnum);
		catalog_exec_statement(&insert_leaf, values, NULL);
	}
	finish_spi();
}

/* A leaf that is gone (its partition dropped) has nothing left to fill. */
void
sg_job_leaf_done(SgJob *job, SgJobLeaf *leaf)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job->job_id);
	values[1] = ObjectIdGetDatum(leaf->relid);
	connect_spi();
	catalog_exec("UPDATE schema_guard.job_leaves SET done = true WHERE job_id = $1 AND relid = $2",
				 2, types, values, NULL, false);
	finish_spi();
	leaf->done = true;
}

/* A relation's owner, or InvalidOid if it is gone. */
Oid
sg_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* A relation's schema-qualified, quoted name; its OID if it is gone. */
char *
sg_qualified_relname(Oid relid)
{
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		return psprintf("%u", relid);
	return (char *) quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   relname);
}

/* A column's current name, or NULL if it was dropped. */
char *
sg_column_name(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
									  Int16GetDatum(attnum));
	char	   *name = NULL;

	if (!HeapTupleIsValid(tup))
		return NULL;
	if (!((Form_pg_attribute) GETSTRUCT(tup))->attisdropped)
		name = pstrdup(NameStr(((Form_pg_attribute) GETSTRUCT(tup))->attname));
	ReleaseSysCache(tup);
	return name;
}

/* The oldest unfinished job filling this table (or leaf), 0 if none. */
int64
sg_job_active_on(Oid relid)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	int64		job_id = 0;
	bool		isnull;

	connect_spi();
	catalog_exec("SELECT j.job_id FROM schema_guard.jobs j "
				 "WHERE j.state NOT IN ('done', 'cancelled', 'reverted') "
				 "AND (j.relid = $1 OR EXISTS (SELECT 1 FROM schema_guard.job_leaves l "
				 "                             WHERE l.job_id = j.job_id AND l.relid = $1)) "
				 "ORDER BY j.job_id LIMIT 1",
				 1, types, values, NULL, true);
	if (SPI_processed == 1)
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	finish_spi();
	return job_id;
}

/*
 * The file a job has recorded for a leaf, read with a snapshot of now (a
 * commit that happened while the caller waited for a lock is seen).
 */
Oid
sg_job_leaf_file(int64 job_id, Oid relid)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];
	Oid			file = InvalidOid;
	bool		isnull;

	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(relid);
	connect_spi();
	/* not read-only: SPI takes a new snapshot for the statement */
	catalog_exec("SELECT relfilenode FROM schema_guard.job_leaves WHERE job_id = $1 AND relid = $2",
				 2, types, values, NULL, false);
	if (SPI_processed == 1)
		file = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
											  SPI_tuptable->tupdesc, 1, &isnull));
	finish_spi();
	return file;
}

/* The oldest job that is queued or running, 0 if none. */
int64
sg_job_next_runnable(void)
{
	int64		job_id = 0;
	bool		isnull;

	connect_spi();
	catalog_exec("SELECT job_id FROM schema_guard.jobs "
				 "WHERE state IN ('queued', 'running') ORDER BY job_id LIMIT 1",
				 0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
	finish_spi();
	return job_id;
}

/* Say why a job does not go on, without changing its state. */
void
sg_job_note_error(int64 job_id, const char *error)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(error);
	connect_spi();
	catalog_exec("UPDATE schema_guard.jobs SET last_error = $2, updated_at = pg_catalog.now() "
				 "WHERE job_id = $1",
				 2, types, values, NULL, false);
	finish_spi();
	sg_job_event(job_id, "waiting", error);
}

/* The job is bound where it runs now. */
void
sg_job_set_binding(int64 job_id, const char *bound_to)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(bound_to);
	connect_spi();
	catalog_exec("UPDATE schema_guard.jobs SET bound_to = $2, updated_at = pg_catalog.now() "
				 "WHERE job_id = $1",
				 2, types, values, NULL, false);
	finish_spi();
}

/* A column's fill expression, bound again. */
void
sg_job_set_fill_node(int64 job_id, AttrNumber attnum, const char *fill_node)
{
	Oid			types[3] = {INT8OID, INT2OID, TEXTOID};
	Datum		values[3];

	values[0] = Int64GetDatum(job_id);
	values[1] = Int16GetDatum(attnum);
	values[2] = CStringGetTextDatum(fill_node);
	connect_spi();
	catalog_exec("UPDATE schema_guard.job_columns SET fill_node = $3 "
				 "WHERE job_id = $1 AND attnum = $2",
				 3, types, values, NULL, false);
	finish_spi();
}

/* The oldest unfinished job in this database, and its table; 0 if none. */
int64
sg_job_any_active(Oid *relid)
{
	int64		job_id = 0;
	bool		isnull;

	connect_spi();
	catalog_exec("SELECT job_id, relid::oid FROM schema_guard.jobs "
				 "WHERE state NOT IN ('done', 'cancelled', 'reverted') ORDER BY job_id LIMIT 1",
				 0, NULL, NULL, NULL, true);
	if (SPI_processed == 1)
	{
		job_id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
											 SPI_tuptable->tupdesc, 1, &isnull));
		*relid = DatumGetObjectId(SPI_getbinval(SPI_tuptable->vals[0],
												SPI_tuptable->tupdesc, 2, &isnull));
	}
	finish_spi();
	return job_id;
}

/*
 * A leaf of a job got a new file without its tuples being formed anew
 * (TRUNCATE, SET TABLESPACE): adopt it, if the job knew the old one.  After
 * TRUNCATE no row is left to fill, so the leaf is done.
 */
void
sg_job_adopt_file(int64 job_id, Oid relid, Oid old_file, Oid new_file, bool truncated)
{
	Oid			types[5] = {INT8OID, OIDOID, OIDOID, OIDOID, BOOLOID};
	Datum		values[5];
	bool		adopted;

	values[0] = Int64GetDatum(job_id);
	values[1] = ObjectIdGetDatum(relid);
	values[2] = ObjectIdGetDatum(old_file);
	values[3] = ObjectIdGetDatum(new_file);
	values[4] = BoolGetDatum(truncated);
	connect_spi();
	catalog_exec("UPDATE schema_guard.job_leaves SET relfilenode = $4, "
				 "end_block = CASE WHEN $5 THEN 0 ELSE end_block END, "
				 "next_block = CASE WHEN $5 THEN 0 ELSE next_block END, "
				 "done = done OR $5 "
				 "WHERE job_id = $1 AND relid = $2 AND relfilenode = $3",
				 5, types, values, NULL, false);
	adopted = SPI_processed > 0;
	finish_spi();
	if (!adopted)
		return;
	sg_job_event(job_id, truncated ? "truncated" : "moved",
				 truncated ? psprintf("table %s was truncated: no row of it is left to fill",
									  sg_qualified_relname(relid))
				 : psprintf("table %s moved to another tablespace", sg_qualified_relname(relid)));
	sg_request_worker_at_commit();
}

/* Ids of the unfinished jobs on a table (every table: InvalidOid), oldest first. */
List *
sg_jobs_active_on(Oid relid)
{
	MemoryContext cxt = CurrentMemoryContext;
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(relid)};
	List	   *ids = NIL;
	uint64		i;

	connect_spi();
	catalog_exec("SELECT job_id FROM schema_guard.jobs WHERE (relid = $1 OR $1 = 0) "
				 "AND state NOT IN ('done', 'cancelled', 'reverted') ORDER BY job_id",
				 1, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		bool		isnull;
		int64		id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i],
													 SPI_tuptable->tupdesc, 1, &isnull));
		MemoryContext old = MemoryContextSwitchTo(cxt);
		int64	   *p = palloc(sizeof(int64));

		*p = id;
		ids = lappend(ids, p);
		MemoryContextSwitchTo(old);
	}
	finish_spi();
	return ids;
}
