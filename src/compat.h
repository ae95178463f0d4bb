/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Differences between the PostgreSQL major versions schema_guard builds
 *	  against (14 to 17), kept in one place so the rest of the code reads as
 *	  if there were only one server version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_GUARD_COMPAT_H
#define SCHEMA_GUARD_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 140000
#error "schema_guard requires PostgreSQL 14 or later (TID range scans, readOnlyTree)"
#endif

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/rel.h"

/* GUC prefix reservation was renamed in 15. */
#if PG_VERSION_NUM < 150000
#define SG_RESERVE_GUC_PREFIX(prefix) EmitWarningsOnPlaceholders(prefix)
#else
#define SG_RESERVE_GUC_PREFIX(prefix) MarkGUCPrefixReserved(prefix)
#endif

/* Ownership checks became object_ownercheck() in 16. */
#if PG_VERSION_NUM < 160000
#define sg_rel_ownercheck(relid, roleid) pg_class_ownercheck((relid), (roleid))
#else
#define sg_rel_ownercheck(relid, roleid) \
	object_ownercheck(RelationRelationId, (relid), (roleid))
#endif

/* The physical file of a relation: RelFileNode until 15, RelFileLocator after. */
#if PG_VERSION_NUM < 160000
#define SG_REL_FILENUMBER(rel) ((rel)->rd_node.relNode)
#else
#define SG_REL_FILENUMBER(rel) ((rel)->rd_locator.relNumber)
#endif

/*
 * Until 15, ALTER TABLE had separate "Recurse" subcommand codes that only
 * tablecmds.c produced; 16 removed them.
 */
#if PG_VERSION_NUM < 160000
#define SG_IS_ADD_COLUMN(subtype) \
	((subtype) == AT_AddColumn || (subtype) == AT_AddColumnRecurse)
#else
#define SG_IS_ADD_COLUMN(subtype) ((subtype) == AT_AddColumn)
#endif

/* Parse analysis of a query without parameters was renamed in 15. */
#if PG_VERSION_NUM < 150000
#define sg_analyze_and_rewrite(raw, sql) \
	pg_analyze_and_rewrite((raw), (sql), NULL, 0, NULL)
#else
#define sg_analyze_and_rewrite(raw, sql) \
	pg_analyze_and_rewrite_fixedparams((raw), (sql), NULL, 0, NULL)
#endif

/*
 * Every GUC variable: 16 keeps them in a hash table and hands out an array
 * with its length.
 */
#include "utils/guc_tables.h"
#if PG_VERSION_NUM < 160000
static inline struct config_generic **
sg_guc_variables(int *num_vars)
{
	*num_vars = GetNumConfigOptions();
	return get_guc_variables();
}
#else
#define sg_guc_variables(num_vars) get_guc_variables(num_vars)
#endif

/*
 * How many GUC variables there are, cheaply, to tell that one was added
 * (-1: not cheaply known, from 16 on), and giving back the array (16's is
 * a copy).
 */
#if PG_VERSION_NUM < 160000
#define sg_guc_count() GetNumConfigOptions()
#define sg_guc_variables_done(vars) ((void) (vars))
#else
#define sg_guc_count() (-1)
#define sg_guc_variables_done(vars) pfree(vars)
#endif

/*
 * ExecutorCheckPerms_hook got the permission infos as a list of their own
 * in 16.  SG_DECLARE_CHECK_PERMS_HOOK(name, impl) defines a hook function
 * name() of the server's signature that calls
 * impl(rangeTable, rtePermInfos, ereport_on_violation).
 */
#if PG_VERSION_NUM < 160000
#define SG_DECLARE_CHECK_PERMS_HOOK(name, impl) \
	static bool name(List *rangeTable, bool ereport_on_violation) \
	{ return impl(rangeTable, NIL, ereport_on_violation); }
#define sg_call_check_perms(hook, rangeTable, rtePermInfos, ereport_on_violation) \
	(hook) ((rangeTable), (ereport_on_violation))
#else
#define SG_DECLARE_CHECK_PERMS_HOOK(name, impl) \
	static bool name(List *rangeTable, List *rtePermInfos, bool ereport_on_violation) \
	{ return impl(rangeTable, rtePermInfos, ereport_on_violation); }
#define sg_call_check_perms(hook, rangeTable, rtePermInfos, ereport_on_violation) \
	(hook) ((rangeTable), (rtePermInfos), (ereport_on_violation))
#endif

/*
 * DefineIndex() of a plain table's index, neither partitioned nor part of
 * an ALTER TABLE, with rights checked; 16 added the number of partitions.
 */
#if PG_VERSION_NUM < 160000
#define sg_define_index(relid, stmt, skip_build) \
	DefineIndex((relid), (stmt), InvalidOid, InvalidOid, InvalidOid, \
				false, true, false, (skip_build), true)
#else
#define sg_define_index(relid, stmt, skip_build) \
	DefineIndex((relid), (stmt), InvalidOid, InvalidOid, InvalidOid, -1, \
				false, true, false, (skip_build), true)
#endif

/* A relation's new, empty file: "relfilenode" became "relfilenumber" in 16. */
#if PG_VERSION_NUM < 160000
#define sg_relation_set_new_file(rel, persistence) RelationSetNewRelfilenode((rel), (persistence))
#else
#define sg_relation_set_new_file(rel, persistence) RelationSetNewRelfilenumber((rel), (persistence))
#endif

/* Shared memory must be requested from shmem_request_hook from 15 on. */
#if PG_VERSION_NUM >= 150000
#define SG_HAVE_SHMEM_REQUEST_HOOK 1
#endif

#endif							/* SCHEMA_GUARD_COMPAT_H */
