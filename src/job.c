/*-------------------------------------------------------------------------
 *
 * job.c
 *	  A job's rows in the job catalog (schema_guard.jobs, job_columns,
 *	  job_constraints, job_objects, job_leaves, job_events): recording a
 *	  job, reading it, and every change of its state, phase and progress.
 *
 * Every access is a catalog statement (job_catalog.c) in the caller's
 * transaction, so a job created by an ALTER vanishes with it on rollback,
 * and progress is made durable by the same commit as the rows it
 * describes.
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
#include "job_notify.h"
#include "job_catalog.h"
#include "launcher.h"
#include "util.h"

/* A statement that records a job. */
typedef struct CatalogStatement
{
	const char *sql;
	int			nargs;
	Oid			types[14];
} CatalogStatement;

static const CatalogStatement next_job_id = {SG_NEXT_JOB_ID_SQL, 0, {0}};
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
	return sg_catalog_exec(stmt->sql, stmt->nargs, stmt->types, values, nulls, false);
}

/* Run one of the job table's statements that take the job's id and a text. */
static void
update_job_text(const char *sql, int64 job_id, const char *text)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(text);
	sg_spi_connect();
	sg_catalog_exec(sql, 2, types, values, NULL, false);
	sg_spi_finish();
}

int64
sg_job_next_id(void)
{
	int64		id;
	bool		isnull;

	sg_spi_connect();
	catalog_exec_statement(&next_job_id, NULL, NULL);
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0],
									 SPI_tuptable->tupdesc, 1, &isnull));
	sg_spi_finish();
	return id;
}


/* Makes the parameters after $1 (the job) of one row from one entry of a list. */
typedef void (*JobRowWriter) (void *entry, Datum *values, char *nulls);

/* Insert a row per entry of a list into one of the job tables. */
static void
write_job_rows(int64 job_id, List *entries, const CatalogStatement *stmt,
			   JobRowWriter write)
{
	ListCell   *lc;

	sg_spi_connect();
	foreach(lc, entries)
	{
		Datum		values[lengthof(stmt->types)];
		char		nulls[lengthof(stmt->types)];

		memset(nulls, ' ', sizeof(nulls));
		values[0] = Int64GetDatum(job_id);
		write(lfirst(lc), values, nulls);
		catalog_exec_statement(stmt, values, nulls);
	}
	sg_spi_finish();
}

static void
write_object(void *entry, Datum *values, char *nulls)
{
	SgJobObject *obj = entry;

	values[1] = CStringGetTextDatum(sg_object_kind_name(obj->kind));
	values[2] = ObjectIdGetDatum(obj->relid);
	values[3] = CStringGetDatum(obj->name);
	values[4] = ObjectIdGetDatum(obj->objid);
	values[5] = sg_text_or_null(obj->definition, &nulls[5]);
}

/*
 * Record objects a job created; an object recorded already (the same
 * kind, table and name) gets the new OID, as after the job was bound again.
 */
void
sg_job_add_objects(SgJob *job, List *objects)
{
	write_job_rows(job->job_id, objects, &insert_object, write_object);
}

static void
write_column(void *entry, Datum *values, char *nulls)
{
	SgJobColumn *col = entry;

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
	values[12] = sg_text_or_null(col->identity_options, &nulls[12]);
	values[13] = ObjectIdGetDatum(col->staging_seq);
	nulls[13] = OidIsValid(col->staging_seq) ? ' ' : 'n';
}

static void
write_constraint(void *entry, Datum *values, char *nulls)
{
	SgJobConstraint *con = entry;

	values[1] = CStringGetDatum(con->conname);
	values[2] = Int16GetDatum(con->attnum);
	values[3] = CStringGetTextDatum(sg_constraint_kind_name(con->kind));
	values[4] = BoolGetDatum(con->deferrable);
	values[5] = BoolGetDatum(con->initdeferred);
}

static void
write_leaf(void *entry, Datum *values, char *nulls)
{
	SgJobLeaf  *leaf = entry;

	values[1] = ObjectIdGetDatum(leaf->relid);
	values[2] = Int32GetDatum(leaf->pass);
	values[3] = Int64GetDatum(leaf->end_block);
	values[4] = ObjectIdGetDatum(leaf->relfilenode);
	values[5] = Int16GetDatum(leaf->min_attnum);
}

/* The job's own row. */
static void
insert_job_row(SgJob *job)
{
	Datum		values[12];
	char		nulls[12];
	Datum	   *added = palloc(sizeof(Datum) * (list_length(job->added_attnums) + 1));
	int			nadded = 0;
	ListCell   *lc;

	values[0] = Int64GetDatum(job->job_id);
	values[1] = ObjectIdGetDatum(job->relid);
	values[2] = ObjectIdGetDatum(job->role);
	values[3] = CStringGetTextDatum(job->statement);
	values[4] = CStringGetTextDatum(job->search_path);
	values[5] = sg_text_array(job->settings);
	values[6] = CStringGetTextDatum(job->bound_to);
	values[7] = CStringGetDatum(job->trigger_name);
	values[8] = Int64GetDatum(job->blocks_total);
	values[9] = Int32GetDatum(job->batch_blocks);
	foreach(lc, job->added_attnums)
		added[nadded++] = Int16GetDatum((int16) lfirst_int(lc));
	values[10] = PointerGetDatum(construct_array(added, nadded, INT2OID, sizeof(int16),
												 true, TYPALIGN_SHORT));
	memset(nulls, ' ', sizeof(nulls));
	values[11] = TimestampTzGetDatum(job->locked_at);
	nulls[11] = job->locked_at ? ' ' : 'n';
	sg_spi_connect();
	catalog_exec_statement(&insert_job, values, nulls);
	sg_spi_finish();
}

/* Record a new job with its columns, constraints, leaves and objects. */
void
sg_job_insert(SgJob *job)
{
	ListCell   *lc;

	job->blocks_total = 0;
	foreach(lc, job->leaves)
		job->blocks_total += ((SgJobLeaf *) lfirst(lc))->end_block;
	insert_job_row(job);
	write_job_rows(job->job_id, job->columns, &insert_column, write_column);
	write_job_rows(job->job_id, job->constraints, &insert_constraint, write_constraint);
	write_job_rows(job->job_id, job->leaves, &insert_leaf, write_leaf);
	sg_job_add_objects(job, job->objects);
	/* not notified: a transaction that notifies cannot be prepared */
	sg_job_event(job->job_id, "created", job->statement);
}

/* Makes one entry of a job's list from one row of a job table. */
typedef void (*JobRowReader) (SgJob *job, HeapTuple tup, TupleDesc desc);

/*
 * Read the rows of one job from one of the job tables ($1 is the job),
 * each made into an entry by "read" in the job's memory context.
 */
static void
read_job_rows(SgJob *job, MemoryContext cxt, const char *sql, JobRowReader read)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job->job_id)};
	uint64		i;

	sg_catalog_exec(sql, 1, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		read(job, SPI_tuptable->vals[i], SPI_tuptable->tupdesc);
		MemoryContextSwitchTo(old);
	}
}

static void
read_column(SgJob *job, HeapTuple tup, TupleDesc desc)
{
	SgJobColumn *col = palloc0(sizeof(SgJobColumn));
	bool		isnull;
	Datum		d;

	col->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 1, &isnull));
	col->colname = sg_catalog_text(tup, desc, 2);
	col->kind = sg_catalog_text(tup, desc, 3);
	col->fill_expr = sg_catalog_text(tup, desc, 4);
	col->fill_sql = sg_catalog_text(tup, desc, 5);
	col->fill_node = sg_catalog_text(tup, desc, 6);
	col->atttype = DatumGetObjectId(SPI_getbinval(tup, desc, 7, &isnull));
	col->atttypmod = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
	col->not_null = DatumGetBool(SPI_getbinval(tup, desc, 9, &isnull));
	col->check_name = sg_catalog_text(tup, desc, 10);
	d = SPI_getbinval(tup, desc, 11, &isnull);
	col->identity = isnull ? '\0' : DatumGetChar(d);
	col->identity_options = sg_catalog_text(tup, desc, 12);
	d = SPI_getbinval(tup, desc, 13, &isnull);
	col->staging_seq = isnull ? InvalidOid : DatumGetObjectId(d);
	job->columns = lappend(job->columns, col);
}

static void
load_columns(SgJob *job, MemoryContext cxt)
{
	read_job_rows(job, cxt, "SELECT attnum, colname::text, kind, fill_expr, fill_sql, fill_node, "
				  "atttype::oid, atttypmod, not_null, check_name::text, identity, "
				  "identity_options, staging_seq::oid "
				  "FROM schema_guard.job_columns WHERE job_id = $1 ORDER BY attnum",
				  read_column);
}

static void
read_constraint(SgJob *job, HeapTuple tup, TupleDesc desc)
{
	SgJobConstraint *con = palloc0(sizeof(SgJobConstraint));
	bool		isnull;

	con->conname = sg_catalog_text(tup, desc, 1);
	con->attnum = DatumGetInt16(SPI_getbinval(tup, desc, 2, &isnull));
	con->kind = sg_constraint_kind_from_name(sg_catalog_text(tup, desc, 3));
	con->deferrable = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
	con->initdeferred = DatumGetBool(SPI_getbinval(tup, desc, 5, &isnull));
	job->constraints = lappend(job->constraints, con);
}

static void
load_constraints(SgJob *job, MemoryContext cxt)
{
	read_job_rows(job, cxt, "SELECT conname::text, attnum, kind, is_deferrable, is_deferred "
				  "FROM schema_guard.job_constraints WHERE job_id = $1 ORDER BY conname",
				  read_constraint);
}

static void
read_object(SgJob *job, HeapTuple tup, TupleDesc desc)
{
	SgJobObject *obj = palloc0(sizeof(SgJobObject));
	bool		isnull;

	obj->kind = sg_object_kind_from_name(sg_catalog_text(tup, desc, 1));
	obj->relid = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	obj->name = sg_catalog_text(tup, desc, 3);
	obj->objid = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	obj->definition = sg_catalog_text(tup, desc, 5);
	job->objects = lappend(job->objects, obj);
}

static void
load_objects(SgJob *job, MemoryContext cxt)
{
	read_job_rows(job, cxt, "SELECT kind, relid::oid, name::text, objid, definition "
				  "FROM schema_guard.job_objects WHERE job_id = $1 "
				  "ORDER BY kind, relid::oid, name",
				  read_object);
}

static void
read_leaf(SgJob *job, HeapTuple tup, TupleDesc desc)
{
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
}

static void
load_leaves(SgJob *job, MemoryContext cxt)
{
	read_job_rows(job, cxt, "SELECT relid::oid, pass, end_block, next_block, relfilenode, "
				  "min_attnum, done FROM schema_guard.job_leaves WHERE job_id = $1 "
				  "ORDER BY relid::oid",
				  read_leaf);
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

	sg_spi_connect();
	sg_catalog_exec("SELECT relid::oid, role::oid, state, phase, statement, search_path, "
				 "trigger_name::text, blocks_total, blocks_done, rows_done, batch_blocks, "
				 "COALESCE(batch_time, 0), COALESCE(batch_delay, -1), last_error, "
				 "added_columns, settings, bound_to, unsound "
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
		job->state = sg_state_from_name(sg_catalog_text(tup, desc, 3));
		job->phase = sg_phase_from_name(sg_catalog_text(tup, desc, 4));
		job->statement = sg_catalog_text(tup, desc, 5);
		job->search_path = sg_catalog_text(tup, desc, 6);
		job->trigger_name = sg_catalog_text(tup, desc, 7);
		job->blocks_total = DatumGetInt64(SPI_getbinval(tup, desc, 8, &isnull));
		job->blocks_done = DatumGetInt64(SPI_getbinval(tup, desc, 9, &isnull));
		job->rows_done = DatumGetInt64(SPI_getbinval(tup, desc, 10, &isnull));
		job->batch_blocks = DatumGetInt32(SPI_getbinval(tup, desc, 11, &isnull));
		job->batch_time = DatumGetInt32(SPI_getbinval(tup, desc, 12, &isnull));
		job->batch_delay = DatumGetInt32(SPI_getbinval(tup, desc, 13, &isnull));
		job->last_error = sg_catalog_text(tup, desc, 14);
		{
			ArrayType  *arr = DatumGetArrayTypeP(SPI_getbinval(tup, desc, 15, &isnull));
			int16	   *attnums = (int16 *) ARR_DATA_PTR(arr);
			int			i;

			for (i = 0; i < ArrayGetNItems(ARR_NDIM(arr), ARR_DIMS(arr)); i++)
				job->added_attnums = lappend_int(job->added_attnums, attnums[i]);
		}
		job->settings = sg_text_array_list(SPI_getbinval(tup, desc, 16, &isnull));
		job->bound_to = sg_catalog_text(tup, desc, 17);
		job->unsound = sg_catalog_text(tup, desc, 18);
		MemoryContextSwitchTo(old);

		load_columns(job, cxt);
		load_constraints(job, cxt);
		load_objects(job, cxt);
		load_leaves(job, cxt);
	}
	sg_spi_finish();

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
	values[2] = sg_text_or_null(detail, &nulls[2]);
	sg_spi_connect();
	catalog_exec_statement(&insert_event, values, nulls);
	sg_spi_finish();
}

/*
 * The details of a job's events of one kind, oldest first, allocated in
 * the caller's memory context.
 */
List *
sg_job_event_details(int64 job_id, const char *event)
{
	Oid			types[2] = {INT8OID, TEXTOID};
	Datum		values[2];
	List	   *details = NIL;
	MemoryContext cxt = CurrentMemoryContext;
	uint64		i;

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(event);
	sg_spi_connect();
	sg_catalog_exec("SELECT detail FROM schema_guard.job_events "
					"WHERE job_id = $1 AND event = $2 AND detail IS NOT NULL ORDER BY at, event_id",
					2, types, values, NULL, true);
	for (i = 0; i < SPI_processed; i++)
	{
		char	   *detail = sg_catalog_text(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1);
		MemoryContext old = MemoryContextSwitchTo(cxt);

		details = lappend(details, pstrdup(detail));
		MemoryContextSwitchTo(old);
	}
	sg_spi_finish();
	return details;
}

/* The names of the states in a set, as a text[] datum. */
static Datum
state_names_array(uint32 states)
{
	List	   *names = NIL;
	int			s;

	for (s = SG_STATE_QUEUED; s <= SG_STATE_DONE; s++)
		if (states & SG_STATE_BIT(s))
			names = lappend(names, (char *) sg_state_name((SgJobState) s));
	return sg_text_array(names);
}

/*
 * Change a job's state (and phase, unless SG_PHASE_UNCHANGED), record why,
 * and log it, but only if the job is in one of the states "from" (a set
 * of SG_STATE_BIT): read under the row's lock, so a change that another
 * transaction committed meanwhile is seen, never overwritten.  Returns
 * false, changing nothing, if the job is in another state.  A NULL error
 * keeps the last one, until the job is queued again.
 */
bool
sg_job_set_state(int64 job_id, uint32 from, SgJobState state, SgJobPhase phase,
				 const char *error, const char *detail)
{
	Oid			types[6] = {INT8OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	bool		changed;

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(sg_state_name(state));
	values[2] = sg_text_or_null(phase == SG_PHASE_UNCHANGED ? NULL : sg_phase_name(phase),
								&nulls[2]);
	values[3] = sg_text_or_null(error, &nulls[3]);
	values[4] = sg_text_or_null(detail, &nulls[4]);
	values[5] = state_names_array(from);
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.jobs SET state = $2, "
					"phase = COALESCE($3, phase), "
					"last_error = CASE WHEN $4 IS NOT NULL THEN $4 "
					"                  WHEN $2 = 'queued' THEN NULL ELSE last_error END, "
					"error_detail = CASE WHEN $4 IS NOT NULL THEN $5 "
					"                    WHEN $2 = 'queued' THEN NULL ELSE error_detail END, "
					"error_sqlstate = CASE WHEN $2 = 'queued' THEN NULL ELSE error_sqlstate END, "
					"started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, pg_catalog.now()) "
					"                  ELSE started_at END, "
					"finished_at = CASE WHEN $2 IN " SG_FINISHED_STATES_SQL
					"                   THEN pg_catalog.now() END, "
					"updated_at = pg_catalog.now() WHERE job_id = $1 AND state = ANY ($6) "
					SG_CATALOG_JOB_RETURNING,
					6, types, values, nulls, false);
	changed = SPI_processed == 1;
	sg_catalog_log_job(job_id, error ? error : detail);
	sg_spi_finish();
	if (changed)
	{
		sg_job_event(job_id, error ? "failed" : sg_state_name(state), error ? error : detail);
		sg_job_notify_state(job_id);
	}
	return changed;
}

/*
 * The job failed in a way that may leave rows looking filled without
 * being filled (or filled with other values than the ALTER's): what
 * happened is kept, and retry() refuses the job from then on.
 */
void
sg_job_mark_unsound(int64 job_id, const char *why)
{
	update_job_text("UPDATE schema_guard.jobs SET unsound = COALESCE(unsound, $2) "
					"WHERE job_id = $1",
					job_id, why);
}

/*
 * Move the job to another phase, and to another state unless
 * SG_STATE_UNCHANGED, but only if nobody paused, cancelled or reverted it
 * meanwhile.  Returns false if it changed.
 */
bool
sg_job_advance(SgJob *job, SgJobPhase phase, SgJobState state, const char *detail)
{
	Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	bool		ok;

	values[0] = Int64GetDatum(job->job_id);
	values[1] = CStringGetTextDatum(sg_phase_name(phase));
	values[2] = sg_text_or_null(state == SG_STATE_UNCHANGED ? NULL : sg_state_name(state),
								&nulls[2]);
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.jobs SET phase = $2, "
					"state = COALESCE($3, state), updated_at = pg_catalog.now(), "
					"finished_at = CASE WHEN $3 IN ('done', 'cancelled') THEN pg_catalog.now() END "
					"WHERE job_id = $1 AND state IN " SG_RUNNABLE_STATES_SQL " "
					SG_CATALOG_JOB_RETURNING,
					3, types, values, nulls, false);
	ok = SPI_processed == 1;
	sg_catalog_log_job(job->job_id, detail);
	sg_spi_finish();
	if (ok)
		sg_job_event(job->job_id,
					 state != SG_STATE_UNCHANGED ? sg_state_name(state) : sg_phase_name(phase),
					 detail);
	if (ok && state != SG_STATE_UNCHANGED)
		sg_job_notify_state(job->job_id);
	return ok;
}

/*
 * After a batch: the leaf's cursor, the job's counters and its next batch
 * size, in the batch's transaction.  Returns false if the job is no longer
 * running (paused, cancelled meanwhile): the caller rolls the batch back.
 */
bool
sg_job_save_cursor(SgJob *job, SgJobLeaf *leaf, int64 blocks, int64 rows,
				   int next_batch_blocks)
{
	Oid			leaf_types[4] = {INT8OID, OIDOID, INT8OID, BOOLOID};
	Datum		leaf_values[4];
	Oid			job_types[4] = {INT8OID, INT8OID, INT8OID, INT4OID};
	Datum		job_values[4];
	bool		ok;

	leaf_values[0] = Int64GetDatum(job->job_id);
	leaf_values[1] = ObjectIdGetDatum(leaf->relid);
	leaf_values[2] = Int64GetDatum(leaf->next_block);
	leaf_values[3] = BoolGetDatum(leaf->done);
	job_values[0] = Int64GetDatum(job->job_id);
	job_values[1] = Int64GetDatum(blocks);
	job_values[2] = Int64GetDatum(rows);
	job_values[3] = Int32GetDatum(next_batch_blocks);
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.job_leaves SET next_block = $3, done = $4 "
					"WHERE job_id = $1 AND relid = $2",
					4, leaf_types, leaf_values, NULL, false);
	sg_catalog_exec("UPDATE schema_guard.jobs SET blocks_done = blocks_done + $2, "
					"rows_done = rows_done + $3, batches = batches + 1, "
					"batch_blocks = $4, updated_at = pg_catalog.now() "
					"WHERE job_id = $1 AND state IN " SG_RUNNABLE_STATES_SQL,
					4, job_types, job_values, NULL, false);
	ok = SPI_processed == 1;
	sg_spi_finish();
	job->batch_blocks = next_batch_blocks;
	return ok;
}

/*
 * A step failed for a reason that passes (a lock timeout, a deadlock): count
 * it, keep the error, and halve the batch.
 */
void
sg_job_count_retry(int64 job_id, const char *error, int min_batch_blocks)
{
	Oid			types[3] = {INT8OID, TEXTOID, INT4OID};
	Datum		values[3];

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(error);
	values[2] = Int32GetDatum(min_batch_blocks);
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.jobs SET retries = retries + 1, "
					"batch_blocks = GREATEST($3, batch_blocks / 2), "
					"last_error = $2, updated_at = pg_catalog.now() WHERE job_id = $1",
					3, types, values, NULL, false);
	sg_spi_finish();
	sg_job_event(job_id, "retry", error);
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
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.jobs SET batch_time = $2, batch_delay = $3, "
				 "updated_at = pg_catalog.now() WHERE job_id = $1",
				 3, types, values, nulls, false);
	sg_spi_finish();
	sg_job_event(job_id, "settings",
				 psprintf("batch_time %s, batch_delay %s",
						  batch_time_ms < 0 ? "default" : psprintf("%d ms", batch_time_ms),
						  batch_delay_ms < 0 ? "default" : psprintf("%d ms", batch_delay_ms)));
}

/* Say why a job does not go on, without changing its state. */
void
sg_job_note_error(int64 job_id, const char *error)
{
	update_job_text("UPDATE schema_guard.jobs SET last_error = $2, "
					"updated_at = pg_catalog.now() WHERE job_id = $1",
					job_id, error);
	sg_job_event(job_id, "waiting", error);
}

/* The job is bound where it runs now. */
void
sg_job_set_binding(int64 job_id, const char *bound_to)
{
	update_job_text("UPDATE schema_guard.jobs SET bound_to = $2, "
					"updated_at = pg_catalog.now() WHERE job_id = $1",
					job_id, bound_to);
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
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.job_columns SET fill_node = $3 "
				 "WHERE job_id = $1 AND attnum = $2",
				 3, types, values, NULL, false);
	sg_spi_finish();
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
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.job_leaves SET relfilenode = $4, "
				 "end_block = CASE WHEN $5 THEN 0 ELSE end_block END, "
				 "next_block = CASE WHEN $5 THEN 0 ELSE next_block END, "
				 "done = done OR $5 "
				 "WHERE job_id = $1 AND relid = $2 AND relfilenode = $3",
				 5, types, values, NULL, false);
	adopted = SPI_processed > 0;
	sg_spi_finish();
	if (!adopted)
		return;
	sg_job_event(job_id, truncated ? "truncated" : "moved",
				 truncated ? psprintf("table %s was truncated: no row of it is left to fill",
									  sg_qualified_relname(relid))
				 : psprintf("table %s moved to another tablespace", sg_qualified_relname(relid)));
	sg_request_worker_at_commit();
}

