/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Differences between the PostgreSQL major versions schema_guard builds
 *	  against (15 to 18; tested on 15 and 18), kept in one place so the rest
 *	  of the code reads as if there were only one server version.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_GUARD_COMPAT_H
#define SCHEMA_GUARD_COMPAT_H

#include "postgres.h"

#if PG_VERSION_NUM < 150000
#error "schema_guard requires PostgreSQL 15 or later (MERGE, NULLS NOT DISTINCT, pg_prng, InitMaterializedSRF)"
#endif

#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/guc.h"
#include "utils/rel.h"

#define SG_RESERVE_GUC_PREFIX(prefix) MarkGUCPrefixReserved(prefix)

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

#define sg_analyze_and_rewrite(raw, sql) \
	pg_analyze_and_rewrite_fixedparams((raw), (sql), NULL, 0, NULL)

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
 * The relation a range table entry reads, or InvalidOid.  From 16 on, a
 * view keeps its relid in the RTE_SUBQUERY it is expanded into, and no
 * RTE_RELATION of the view is left in the range table.
 */
#define sg_rte_relid(rte) \
	((rte)->rtekind == RTE_RELATION || \
	 ((rte)->rtekind == RTE_SUBQUERY && OidIsValid((rte)->relid)) ? (rte)->relid : InvalidOid)

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

/*
 * A qualified name from its text: 16 added a soft-error context (NULL:
 * errors are thrown).
 */
#if PG_VERSION_NUM < 160000
#define sg_qualified_name_list(string) stringToQualifiedNameList(string)
#else
#define sg_qualified_name_list(string) stringToQualifiedNameList((string), NULL)
#endif

/* Run a query to its end: 18 dropped ExecutorRun()'s execute_once. */
#if PG_VERSION_NUM < 180000
#define sg_executor_run(qd) ExecutorRun((qd), ForwardScanDirection, 0, true)
#else
#define sg_executor_run(qd) ExecutorRun((qd), ForwardScanDirection, 0)
#endif

/* The sequence of an identity column: 17 takes the table's Relation. */
#if PG_VERSION_NUM < 170000
#define sg_identity_sequence(rel, attnum) \
	getIdentitySequence(RelationGetRelid(rel), (attnum), false)
#else
#define sg_identity_sequence(rel, attnum) getIdentitySequence((rel), (attnum), false)
#endif

/*
 * What ADD COLUMN can do, by version.
 *
 * 17 allows identity columns on partitioned tables (every partition shares
 * the parent's sequence).
 */
#define SG_PARTITIONED_IDENTITY (PG_VERSION_NUM >= 170000)

/*
 * 18 keeps NOT NULL as a named row of pg_constraint (contype 'n'), which
 * ALTER TABLE ... ADD CONSTRAINT name NOT NULL col NOT VALID adds without
 * a scan and VALIDATE CONSTRAINT validates without ACCESS EXCLUSIVE: a
 * staged NOT NULL column gets that constraint, under stock's name, rather
 * than a helper CHECK (c IS NOT NULL).
 */
#define SG_NOT_NULL_CONSTRAINTS (PG_VERSION_NUM >= 180000)

/*
 * 18 adds a foreign key NOT VALID to a partitioned table (and validates it
 * there); before, each leaf gets its own and the parent's attaches them.
 */
#define SG_PARTITIONED_FK_NOT_VALID (PG_VERSION_NUM >= 180000)

#include "access/htup_details.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "nodes/makefuncs.h"
#include "nodes/parsenodes.h"

/* 18 has NOT ENFORCED CHECK and FOREIGN KEY constraints. */
static inline bool
sg_constraint_enforced(const Constraint *con)
{
#if PG_VERSION_NUM >= 180000
	return con->is_enforced;
#else
	return true;
#endif
}

/*
 * A new constraint node as the grammar makes one: valid, and enforced (a
 * field of its own in 18, false unless said).
 */
static inline Constraint *
sg_make_constraint(ConstrType contype)
{
	Constraint *con = makeNode(Constraint);

	con->contype = contype;
	con->location = -1;
	con->initially_valid = true;
#if PG_VERSION_NUM >= 180000
	con->is_enforced = true;
#endif
	return con;
}

/*
 * 18's ENFORCED and NOT ENFORCED clauses of a column constraint follow the
 * CHECK or REFERENCES they apply to, as separate list members (as
 * DEFERRABLE does).  If con is one, apply it to last as
 * transformConstraintAttrs does, and return true.
 */
static inline bool
sg_apply_enforced_clause(const Constraint *con, Constraint *last)
{
#if PG_VERSION_NUM >= 180000
	if (con->contype != CONSTR_ATTR_ENFORCED && con->contype != CONSTR_ATTR_NOT_ENFORCED)
		return false;
	if (last != NULL && (last->contype == CONSTR_CHECK || last->contype == CONSTR_FOREIGN))
	{
		last->is_enforced = con->contype == CONSTR_ATTR_ENFORCED;
		if (!last->is_enforced)
		{
			last->skip_validation = true;
			last->initially_valid = false;
		}
	}
	return true;
#else
	return false;
#endif
}

/*
 * Is a pg_constraint row an 18 NOT NULL constraint, and of which column?
 */
#if PG_VERSION_NUM >= 180000
#define SG_CONTYPE_IS_NOT_NULL(contype) ((contype) == CONSTRAINT_NOTNULL)
#define sg_not_null_column(contup) extractNotNullColumn(contup)
#else
#define SG_CONTYPE_IS_NOT_NULL(contype) false
#define sg_not_null_column(contup) InvalidAttrNumber
#endif

/*
 * 18's GENERATED ALWAYS AS (expr) without STORED is VIRTUAL: computed when
 * read, stored nowhere.
 */
static inline bool
sg_generated_virtual(const Constraint *con)
{
#if PG_VERSION_NUM >= 180000
	return con->contype == CONSTR_GENERATED &&
		con->generated_kind == ATTRIBUTE_GENERATED_VIRTUAL;
#else
	return false;
#endif
}

/* Is a pg_attribute row an 18 virtual generated column? */
#if PG_VERSION_NUM >= 180000
#define SG_ATTR_IS_VIRTUAL(att) ((att)->attgenerated == ATTRIBUTE_GENERATED_VIRTUAL)
#else
#define SG_ATTR_IS_VIRTUAL(att) false
#endif

/*
 * Is a column's NOT NULL one a primary key can rely on without a scan?
 * Before 18, attnotnull is; 18 also has NOT VALID NOT NULL constraints,
 * which set attnotnull but prove nothing about the rows.
 */
static inline bool
sg_not_null_validated(Oid relid, AttrNumber attnum)
{
#if PG_VERSION_NUM >= 180000
	HeapTuple	tup = findNotNullConstraintAttnum(relid, attnum);
	bool		valid = tup != NULL && ((Form_pg_constraint) GETSTRUCT(tup))->convalidated;

	if (tup != NULL)
		heap_freetuple(tup);
	return valid;
#else
	return true;
#endif
}

/* 18's UNIQUE and PRIMARY KEY (..., c WITHOUT OVERLAPS): a GiST index. */
#if PG_VERSION_NUM >= 180000
#define SG_WITHOUT_OVERLAPS(con) ((con)->without_overlaps)
#else
#define SG_WITHOUT_OVERLAPS(con) false
#endif

#endif							/* SCHEMA_GUARD_COMPAT_H */
