/*-------------------------------------------------------------------------
 *
 * upgrade.c
 *	  What ALTER EXTENSION schema_guard UPDATE needs besides SQL: jobs that
 *	  an older version recorded, carried over to what this version knows.
 *
 * Called from the update scripts only, in their transaction, as the
 * extension's owner.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "access/xact.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "fill.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "bind.h"
#include "util.h"

PG_FUNCTION_INFO_V1(sg_upgrade_jobs_0_2);

static void
spi_exec(const char *sql, int nargs, Oid *types, Datum *values, const char *nulls)
{
	if (SPI_execute_with_args(sql, nargs, types, values, nulls, false, 0) < 0)
		elog(ERROR, "schema_guard update could not run: %s", sql);
}

static void
record_object(int64 job_id, const char *kind, Oid relid, const char *name, Oid objid,
			  const char *definition)
{
	Oid			types[6] = {INT8OID, TEXTOID, OIDOID, NAMEOID, OIDOID, TEXTOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', definition ? ' ' : 'n'};

	values[0] = Int64GetDatum(job_id);
	values[1] = CStringGetTextDatum(kind);
	values[2] = ObjectIdGetDatum(relid);
	values[3] = CStringGetDatum(name);
	values[4] = ObjectIdGetDatum(objid);
	values[5] = definition ? CStringGetTextDatum(definition) : (Datum) 0;
	spi_exec("INSERT INTO schema_guard.job_objects (job_id, kind, relid, name, objid, definition) "
			 "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
			 6, types, values, nulls);
}

typedef struct QualifyArgs
{
	const char *fill_node;
	char	   *sql;
} QualifyArgs;

static void
qualify_cb(void *arg)
{
	QualifyArgs *args = arg;

	args->sql = sg_fill_qualified_sql(stringToNode(args->fill_node));
}

/*
 * The expression as schema-qualified text, or the text people read when
 * it cannot be deparsed any more (an object it used is gone).
 */
static char *
qualified_or(const char *fill_node, const char *fill_expr)
{
	QualifyArgs args = {fill_node, NULL};
	ErrorData  *edata = sg_in_subxact(qualify_cb, &args, false);

	if (edata == NULL)
		return args.sql;
	FreeErrorData(edata);
	return pstrdup(fill_expr);
}

/* One job's columns: the qualified text of its fill, the column's type. */
static void
upgrade_columns(int64 job_id, Oid relid, bool active)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};
	SPITupleTable *rows;
	uint64		n;
	uint64		i;

	spi_exec("SELECT attnum, fill_node, fill_expr FROM schema_guard.job_columns WHERE job_id = $1",
			 1, types, values, NULL);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		AttrNumber	attnum = DatumGetInt16(SPI_getbinval(rows->vals[i], rows->tupdesc, 1, &isnull));
		char	   *node = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		char	   *expr = SPI_getvalue(rows->vals[i], rows->tupdesc, 3);
		Oid			atttype = UNKNOWNOID;
		int32		atttypmod = -1;
		Oid			collid;
		Oid			utypes[5] = {INT8OID, INT2OID, TEXTOID, OIDOID, INT4OID};
		Datum		uvalues[5];

		if (get_rel_name(relid) != NULL && sg_column_name(relid, attnum) != NULL)
			get_atttypetypmodcoll(relid, attnum, &atttype, &atttypmod, &collid);
		uvalues[0] = Int64GetDatum(job_id);
		uvalues[1] = Int16GetDatum(attnum);
		uvalues[2] = CStringGetTextDatum(active ? qualified_or(node, expr) : expr);
		uvalues[3] = ObjectIdGetDatum(atttype);
		uvalues[4] = Int32GetDatum(atttypmod);
		spi_exec("UPDATE schema_guard.job_columns SET fill_sql = $3, atttype = $4, atttypmod = $5 "
				 "WHERE job_id = $1 AND attnum = $2",
				 5, utypes, uvalues, NULL);
	}
}

/*
 * The objects an unfinished job made, by the names 0.1 kept: fill
 * triggers, helper checks, NOT VALID constraints; and the index of a
 * UNIQUE or PRIMARY KEY not built yet, reserved now, as this version
 * reserves it at the ALTER.
 */
static void
upgrade_objects(int64 job_id, Oid relid, const char *trigger_name)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(job_id)};
	List	   *tree = find_all_inheritors(relid, NoLock, NULL);
	Oid			main_trigger = InvalidOid;
	SPITupleTable *rows;
	uint64		n;
	uint64		i;
	ListCell   *lc;

	foreach(lc, tree)
	{
		Oid			tgoid = get_trigger_oid(lfirst_oid(lc), trigger_name, true);
		HeapTuple	tup = OidIsValid(tgoid) ? sg_trigger_tuple(tgoid) : NULL;

		/* a partition's clone goes with its parent's */
		if (tup == NULL || OidIsValid(((Form_pg_trigger) GETSTRUCT(tup))->tgparentid))
			continue;
		record_object(job_id, "fill trigger", lfirst_oid(lc), trigger_name, tgoid, NULL);
		if (lfirst_oid(lc) == relid)
			main_trigger = tgoid;
	}

	spi_exec("SELECT check_name::text, fill_node FROM schema_guard.job_columns "
			 "WHERE job_id = $1", 1, types, values, NULL);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		char	   *check = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
		char	   *node = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		Oid			conoid = check ? get_relation_constraint_oid(relid, check, true) : InvalidOid;

		if (OidIsValid(conoid))
			record_object(job_id, "helper check", relid, check, conoid, NULL);
		if (OidIsValid(main_trigger))
			sg_fill_record_dependencies(main_trigger, stringToNode(node));
	}

	spi_exec("SELECT conname::text, index_sql, leaf_sql IS NOT NULL "
			 "FROM schema_guard.job_constraints WHERE job_id = $1", 1, types, values, NULL);
	rows = SPI_tuptable;
	n = SPI_processed;
	for (i = 0; i < n; i++)
	{
		bool		isnull;
		char	   *conname = SPI_getvalue(rows->vals[i], rows->tupdesc, 1);
		char	   *index_sql = SPI_getvalue(rows->vals[i], rows->tupdesc, 2);
		bool		leaves = DatumGetBool(SPI_getbinval(rows->vals[i], rows->tupdesc, 3, &isnull));

		if (index_sql)
		{
			Oid			indexoid = get_relname_relid(conname, get_rel_namespace(relid));
			char	   *create = pstrdup(index_sql);
			char	   *concurrently = strstr(create, " CONCURRENTLY");

			if (concurrently)
				memmove(concurrently, concurrently + strlen(" CONCURRENTLY"),
						strlen(concurrently + strlen(" CONCURRENTLY")) + 1);
			if (!OidIsValid(indexoid) || sg_index_of(indexoid) != relid)
				indexoid = sg_reserve_index(relid, create);
			record_object(job_id, "index", relid, conname, indexoid, create);
			continue;
		}
		foreach(lc, leaves ? tree : list_make1_oid(relid))
		{
			Oid			conoid = get_relation_constraint_oid(lfirst_oid(lc), conname, true);

			if (OidIsValid(conoid) && (!leaves || get_rel_relkind(lfirst_oid(lc)) == RELKIND_RELATION))
				record_object(job_id, "constraint", lfirst_oid(lc), conname, conoid, NULL);
		}
	}
}

/*
 * schema_guard.upgrade_jobs_0_2(): every job of 0.1, as 0.2 records it.
 * Unfinished ones are bound to this cluster with their objects found by
 * OID; their search_path is pinned as 0.2 pins it ("$user" the owner's,
 * pg_temp last).  Their settings stay empty: 0.1 did not capture them.
 */
Datum
sg_upgrade_jobs_0_2(PG_FUNCTION_ARGS)
{
	SPITupleTable *jobs;
	uint64		njobs;
	uint64		i;

	if (!creating_extension)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema_guard.upgrade_jobs_0_2() runs only in ALTER EXTENSION schema_guard UPDATE")));
	sg_spi_connect();
	spi_exec("SELECT job_id, relid::oid, role::oid, state NOT IN ('done', 'cancelled', 'reverted'), "
			 "search_path, trigger_name::text FROM schema_guard.jobs ORDER BY job_id",
			 0, NULL, NULL, NULL);
	jobs = SPI_tuptable;
	njobs = SPI_processed;
	for (i = 0; i < njobs; i++)
	{
		HeapTuple	tup = jobs->vals[i];
		bool		isnull;
		int64		job_id = DatumGetInt64(SPI_getbinval(tup, jobs->tupdesc, 1, &isnull));
		Oid			relid = DatumGetObjectId(SPI_getbinval(tup, jobs->tupdesc, 2, &isnull));
		Oid			role = DatumGetObjectId(SPI_getbinval(tup, jobs->tupdesc, 3, &isnull));
		bool		active = DatumGetBool(SPI_getbinval(tup, jobs->tupdesc, 4, &isnull));
		char	   *search_path = SPI_getvalue(tup, jobs->tupdesc, 5);
		char	   *trigger_name = SPI_getvalue(tup, jobs->tupdesc, 6);
		char	   *user = GetUserNameFromId(role, true);
		Oid			types[3] = {INT8OID, TEXTOID, TEXTOID};
		Datum		values[3];

		values[0] = Int64GetDatum(job_id);
		values[1] = CStringGetTextDatum(sg_pin_search_path(search_path, user ? user : ""));
		values[2] = CStringGetTextDatum(sg_cluster_binding());
		spi_exec("UPDATE schema_guard.jobs SET search_path = $2, bound_to = $3 WHERE job_id = $1",
				 3, types, values, NULL);
		upgrade_columns(job_id, relid, active && get_rel_name(relid) != NULL);
		if (active && get_rel_name(relid) != NULL)
			upgrade_objects(job_id, relid, trigger_name);
	}
	sg_spi_finish();
	PG_RETURN_VOID();
}
