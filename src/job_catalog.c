/*-------------------------------------------------------------------------
 *
 * job_catalog.c
 *	  Access to the job catalog, the tables in schema schema_guard: whether
 *	  the extension is installed (and in this library's version), acting as
 *	  its owner, and running catalog statements with kept plans.
 *
 * Every statement on the job tables goes through sg_catalog_exec(), in
 * the caller's transaction and SPI session, as the extension's owner and
 * under search_path = pg_catalog, pg_temp: ordinary roles cannot write the
 * tables, and the caller's objects cannot stand in for PostgreSQL's in a
 * statement run with the owner's rights.  Only the job layer (job.c,
 * job_lookup.c, upgrade.c) calls it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "job_catalog.h"
#include "util.h"

/*
 * The pg_extension row of schema_guard in this database: its version
 * (NULL if not installed) and owner (InvalidOid).
 */
static void
read_extension(char **version, Oid *owner)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;

	*version = NULL;
	*owner = InvalidOid;
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
			*version = TextDatumGetCString(d);
		*owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/* The installed version of schema_guard in this database, or NULL. */
char *
sg_extension_version(void)
{
	char	   *version;
	Oid			owner;

	read_extension(&version, &owner);
	return version;
}

Oid
sg_extension_owner(void)
{
	char	   *version;
	Oid			owner;

	read_extension(&version, &owner);
	if (!OidIsValid(owner))
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("extension \"%s\" is not installed in this database",
						SG_EXTENSION_NAME),
				 errhint("Run CREATE EXTENSION schema_guard.")));
	return owner;
}

/*
 * Is schema_guard installed in this database, in the version of this
 * library?  An older version's SQL objects do not fit this library's code:
 * until ALTER EXTENSION UPDATE, schema_guard stays out of the way (and says
 * so, once per session).
 */
bool
sg_extension_active(void)
{
	static bool warned = false;
	char	   *version = sg_extension_version();

	if (version == NULL)
		return false;
	if (strcmp(version, SG_EXTENSION_VERSION) == 0)
		return true;
	if (!warned)
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema_guard %s is installed in this database, but its library is version %s",
						version, SG_EXTENSION_VERSION),
				 errdetail("schema_guard lets every statement through and runs no job here until the extension is updated."),
				 errhint("Run ALTER EXTENSION schema_guard UPDATE.")));
	warned = true;
	return false;
}

/* For SQL entry points that an older version's definitions still name. */
void
sg_require_update(void)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("schema_guard's SQL definitions are older than its library (version %s)",
					SG_EXTENSION_VERSION),
			 errhint("Run ALTER EXTENSION schema_guard UPDATE.")));
}

/*
 * Act as the extension's owner, whose rights the job catalog needs, under
 * a search_path of pg_catalog alone: the caller's search_path must not let
 * the caller's objects (an operator, a function) stand in for PostgreSQL's
 * in statements run with those rights.
 */
void
sg_become_extension_owner(SgExtensionOwner *saved)
{
	sg_switch_role(sg_extension_owner(), 0, &saved->role);
	saved->nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

/* Back to the caller: whatever was set meanwhile is undone with the search_path. */
void
sg_restore_extension_owner(const SgExtensionOwner *saved)
{
	AtEOXact_GUC(false, saved->nestlevel);
	sg_restore_role(&saved->role);
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
catalog_plan(const char *sql, int nargs, const Oid *types)
{
	CatalogPlan *entry;
	SPIPlanPtr	plan;

	for (entry = catalog_plans; entry != NULL; entry = entry->next)
		if (strcmp(entry->sql, sql) == 0)
			return entry->plan;

	/* small tables read by key: the generic plan is the right one */
	plan = SPI_prepare_cursor(sql, nargs, (Oid *) types, CURSOR_OPT_GENERIC_PLAN);
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
catalog_run(const char *sql, int nargs, const Oid *types, Datum *values,
			const char *nulls, bool read_only, bool execute)
{
	SgExtensionOwner saved;
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
		sg_restore_extension_owner(&saved);
		PG_RE_THROW();
	}
	PG_END_TRY();
	sg_restore_extension_owner(&saved);
	if (rc < 0)
		elog(ERROR, "schema_guard catalog statement failed: %s",
			 SPI_result_code_string(rc));
	return rc;
}

/*
 * Run one catalog statement, in the caller's SPI session; the caller reads
 * SPI_tuptable before its sg_spi_finish().  Returns SPI's result code.
 */
int
sg_catalog_exec(const char *sql, int nargs, const Oid *types, Datum *values,
				const char *nulls, bool read_only)
{
	return catalog_run(sql, nargs, types, values, nulls, read_only, true);
}

/* Plan a catalog statement and keep the plan, executing nothing. */
void
sg_catalog_prepare(const char *sql, int nargs, const Oid *types)
{
	(void) catalog_run(sql, nargs, types, NULL, NULL, false, false);
}

/*
 * The server log's line for a job whose state or phase changed: its id,
 * its table, its state and phase now, and why, from the row the caller's
 * UPDATE of schema_guard.jobs returned (SG_CATALOG_JOB_RETURNING), in the
 * caller's SPI session.  Nothing when no row changed.
 */
void
sg_catalog_log_job(int64 job_id, const char *why)
{
	HeapTuple	tup;
	TupleDesc	desc;

	if (SPI_processed != 1 || SPI_tuptable == NULL)
		return;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	ereport(LOG,
			(errmsg("schema_guard job %lld on table %s: state %s, phase %s",
					(long long) job_id, sg_catalog_text(tup, desc, 1),
					sg_catalog_text(tup, desc, 2), sg_catalog_text(tup, desc, 3)),
			 why ? errdetail_internal("%s", why) : 0));
}

/* A text column of a row SPI returned, or NULL. */
char *
sg_catalog_text(HeapTuple tup, TupleDesc desc, int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(tup, desc, col, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

Datum
sg_text_or_null(const char *s, char *null)
{
	*null = s ? ' ' : 'n';
	return s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* A list of C strings as a text[] datum. */
Datum
sg_text_array(List *strings)
{
	Datum	   *elems = palloc(sizeof(Datum) * (list_length(strings) + 1));
	ListCell   *lc;
	int			n = 0;

	foreach(lc, strings)
		elems[n++] = CStringGetTextDatum((char *) lfirst(lc));
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* A text[] datum as a list of C strings, in the current memory context. */
List *
sg_text_array_list(Datum array)
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
 * Is the object schema_guard's extension, its schema, or one of its
 * members?  Members go first (DROP EXTENSION, DROP SCHEMA ... CASCADE),
 * while the job catalog can still be read: it is checked at the first.
 */
bool
sg_is_extension_object(Oid classId, Oid objectId)
{
	Oid			extension = get_extension_oid(SG_EXTENSION_NAME, true);
	Oid			schema;

	if (!OidIsValid(extension))
		return false;
	if (classId == ExtensionRelationId)
		return objectId == extension;
	schema = get_namespace_oid(SG_SCHEMA_NAME, true);
	if (classId == NamespaceRelationId)
		return objectId == schema;
	if (classId == RelationRelationId)
		return get_rel_namespace(objectId) == schema &&
			getExtensionOfObject(classId, objectId) == extension;
	if (classId == ProcedureRelationId)
		return get_func_namespace(objectId) == schema &&
			getExtensionOfObject(classId, objectId) == extension;
	return false;
}
