/*-------------------------------------------------------------------------
 *
 * job_objects.c
 *	  The objects a job created, found by identity.
 *
 * A job changes or drops only what it created, and it knows those objects
 * by OID: a name can by then belong to something else (another role's
 * index, a trigger replaced under the same name).  OIDs are only valid in
 * the cluster and database the job was created in (the job's bound_to);
 * after pg_upgrade or a restore the worker binds the job again, finding its
 * objects by table and name once, before anything else is done.
 *
 * Statements that drop an object are built from its current name with
 * the table locked first, so the name cannot change before the statement
 * resolves it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "parser/parse_func.h"
#include "storage/lmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "fill.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "util.h"

SgJobObject *
sg_new_object(SgObjectKind kind, Oid relid, const char *name, Oid objid)
{
	SgJobObject *obj = palloc0(sizeof(SgJobObject));

	obj->kind = kind;
	obj->relid = relid;
	obj->name = pstrdup(name);
	obj->objid = objid;
	return obj;
}

/* The job's object of that kind and name (on any table when relid is 0). */
SgJobObject *
sg_job_object(const SgJob *job, SgObjectKind kind, Oid relid, const char *name)
{
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == kind && strcmp(obj->name, name) == 0 &&
			(!OidIsValid(relid) || obj->relid == relid))
			return obj;
	}
	return NULL;
}

/* A trigger's catalog row, by OID, as a copy; NULL if there is none. */
HeapTuple
sg_trigger_tuple(Oid tgoid)
{
	Relation	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	ScanKeyInit(&key, Anum_pg_trigger_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(tgoid));
	scan = systable_beginscan(rel, TriggerOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		tup = heap_copytuple(tup);
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return tup;
}

/*
 * Is the trigger, or the trigger it was cloned from for a partition (or
 * that one's parent), in triggers?
 */
bool
sg_trigger_descends_from(Oid tgoid, List *triggers)
{
	int			depth;

	for (depth = 0; depth < 64 && OidIsValid(tgoid); depth++)
	{
		HeapTuple	tup;

		if (list_member_oid(triggers, tgoid))
			return true;
		tup = sg_trigger_tuple(tgoid);
		if (tup == NULL)
			return false;
		tgoid = ((Form_pg_trigger) GETSTRUCT(tup))->tgparentid;
		heap_freetuple(tup);
	}
	return false;
}

/* The current name of one of the job's objects, or NULL if it is gone. */
char *
sg_object_name(const SgJobObject *obj)
{
	char	   *name = NULL;

	if (obj->kind == SG_OBJECT_FILL_TRIGGER)
	{
		HeapTuple	tup = sg_trigger_tuple(obj->objid);

		if (tup && ((Form_pg_trigger) GETSTRUCT(tup))->tgrelid == obj->relid)
			name = pstrdup(NameStr(((Form_pg_trigger) GETSTRUCT(tup))->tgname));
	}
	else if (obj->kind == SG_OBJECT_INDEX)
	{
		HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(obj->objid));

		if (HeapTupleIsValid(tup))
		{
			if (((Form_pg_index) GETSTRUCT(tup))->indrelid == obj->relid)
				name = get_rel_name(obj->objid);
			ReleaseSysCache(tup);
		}
	}
	else
	{
		HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));

		if (HeapTupleIsValid(tup))
		{
			if (((Form_pg_constraint) GETSTRUCT(tup))->conrelid == obj->relid)
				name = pstrdup(NameStr(((Form_pg_constraint) GETSTRUCT(tup))->conname));
			ReleaseSysCache(tup);
		}
	}
	return name;
}

/* Is the job's constraint validated?  A constraint that is gone needs nothing. */
bool
sg_object_validated(const SgJobObject *obj)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
	bool		validated = true;

	if (HeapTupleIsValid(tup))
	{
		if (((Form_pg_constraint) GETSTRUCT(tup))->conrelid == obj->relid)
			validated = ((Form_pg_constraint) GETSTRUCT(tup))->convalidated;
		ReleaseSysCache(tup);
	}
	return validated;
}

/*
 * Is the job's constraint a NOT NULL constraint (18), rather than a
 * CHECK?  A job's helper for a NOT NULL column is one or the other, by the
 * version of the server that staged it (pg_upgrade carries a helper CHECK
 * to 18).
 */
bool
sg_object_is_not_null(const SgJobObject *obj)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
	bool		not_null = false;

	if (HeapTupleIsValid(tup))
	{
		not_null = SG_CONTYPE_IS_NOT_NULL(((Form_pg_constraint) GETSTRUCT(tup))->contype);
		ReleaseSysCache(tup);
	}
	return not_null;
}

/*
 * The column a constraint of the job is on (its first), or
 * InvalidAttrNumber if the constraint is gone or has no column.
 */
AttrNumber
sg_object_column(const SgJobObject *obj)
{
	HeapTuple	tup;
	AttrNumber	attnum = InvalidAttrNumber;

	if (obj->kind != SG_OBJECT_HELPER_CHECK && obj->kind != SG_OBJECT_CONSTRAINT)
		return InvalidAttrNumber;
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
	if (!HeapTupleIsValid(tup))
		return InvalidAttrNumber;
	if (((Form_pg_constraint) GETSTRUCT(tup))->conrelid == obj->relid)
	{
		bool		isnull;
		Datum		conkey = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull);
		ArrayType  *arr = isnull ? NULL : DatumGetArrayTypeP(conkey);

		if (arr && ARR_NDIM(arr) == 1 && ARR_DIMS(arr)[0] > 0)
			attnum = ((int16 *) ARR_DATA_PTR(arr))[0];
	}
	ReleaseSysCache(tup);
	return attnum;
}

/*
 * The statement that drops one of the job's triggers or constraints, or
 * NULL if it is gone.  The table is locked as the statement will lock it,
 * so the name is still the object's when the statement runs.
 */
char *
sg_object_drop_sql(const SgJobObject *obj)
{
	char	   *name;

	if (!ConditionalLockRelationOid(obj->relid, AccessExclusiveLock))
		LockRelationOid(obj->relid, AccessExclusiveLock);
	if (get_rel_name(obj->relid) == NULL)
		return NULL;
	name = sg_object_name(obj);
	if (name == NULL)
		return NULL;
	if (obj->kind == SG_OBJECT_FILL_TRIGGER)
		return psprintf("DROP TRIGGER %s ON %s", quote_identifier(name),
						sg_qualified_relname(obj->relid));
	return psprintf("ALTER TABLE %s DROP CONSTRAINT %s",
					sg_qualified_relname(obj->relid), quote_identifier(name));
}

/* DROP statements for every object of one kind the job has. */
List *
sg_job_drop_sqls(const SgJob *job, SgObjectKind kind)
{
	List	   *sqls = NIL;
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *sql;

		if (obj->kind != kind)
			continue;
		sql = sg_object_drop_sql(obj);
		if (sql)
			sqls = lappend(sqls, sql);
	}
	return sqls;
}

/*
 * Find an object again after the job was carried to another cluster or
 * database: by table and name, of the kind it was.  Returns InvalidOid if
 * there is no such object (an invalid index is not dumped, for one).
 */
Oid
sg_object_find_by_name(const SgJob *job, const SgJobObject *obj)
{
	if (get_rel_name(obj->relid) == NULL)
		return InvalidOid;
	if (obj->kind == SG_OBJECT_FILL_TRIGGER)
	{
		Oid			tgoid = get_trigger_oid(obj->relid, obj->name, true);
		HeapTuple	tup;
		bool		ours = false;

		if (!OidIsValid(tgoid) || (tup = sg_trigger_tuple(tgoid)) == NULL)
			return InvalidOid;
		/* schema_guard's fill trigger, for this job */
		ours = ((Form_pg_trigger) GETSTRUCT(tup))->tgfoid == sg_fill_trigger_function() &&
			sg_trigger_job(tup) == job->job_id;
		return ours ? tgoid : InvalidOid;
	}
	if (obj->kind == SG_OBJECT_INDEX)
	{
		Oid			indexoid = get_relname_relid(obj->name, get_rel_namespace(obj->relid));

		return OidIsValid(indexoid) && sg_index_of(indexoid) == obj->relid
			? indexoid : InvalidOid;
	}
	return get_relation_constraint_oid(obj->relid, obj->name, true);
}

/* The table an index belongs to, or InvalidOid. */
Oid
sg_index_of(Oid indexoid)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Oid			relid = InvalidOid;

	if (HeapTupleIsValid(tup))
	{
		relid = ((Form_pg_index) GETSTRUCT(tup))->indrelid;
		ReleaseSysCache(tup);
	}
	return relid;
}

/* schema_guard.fill_trigger()'s OID in this database. */
Oid
sg_fill_trigger_function(void)
{
	List	   *name = list_make2(makeString(SG_SCHEMA_NAME), makeString("fill_trigger"));

	return LookupFuncName(name, 0, NULL, true);
}

/* The job a fill trigger's row names in its argument, or 0. */
int64
sg_trigger_job(HeapTuple tgtup)
{
	Form_pg_trigger tg = (Form_pg_trigger) GETSTRUCT(tgtup);
	Relation	rel;
	bool		isnull;
	Datum		args;
	bytea	   *val;
	char	   *arg;
	char	   *end;
	int64		job_id;

	if (tg->tgnargs != 1)
		return 0;
	rel = table_open(TriggerRelationId, AccessShareLock);
	args = heap_getattr(tgtup, Anum_pg_trigger_tgargs, RelationGetDescr(rel), &isnull);
	table_close(rel, AccessShareLock);
	if (isnull)
		return 0;
	val = DatumGetByteaPP(args);
	/* the arguments are NUL-terminated strings, one after the other */
	arg = pnstrdup(VARDATA_ANY(val), VARSIZE_ANY_EXHDR(val));
	errno = 0;
	job_id = strtoi64(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0')
		return 0;
	return job_id;
}

