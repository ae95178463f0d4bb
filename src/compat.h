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

/* Shared memory must be requested from shmem_request_hook from 15 on. */
#if PG_VERSION_NUM >= 150000
#define SG_HAVE_SHMEM_REQUEST_HOOK 1
#endif

#endif							/* SCHEMA_GUARD_COMPAT_H */
