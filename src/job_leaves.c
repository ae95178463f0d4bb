/*-------------------------------------------------------------------------
 *
 * job_leaves.c
 *	  The tables that store a job's rows (schema_guard.job_leaves): which
 *	  they are at the ALTER, and the passes of the backfill over each.
 *
 * The cursor within a pass moves with each batch, in job.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "storage/bufmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "job.h"
#include "job_catalog.h"
#include "job_leaves.h"
#include "util.h"

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

/* A leaf that is gone (its partition dropped) has nothing left to fill. */
void
sg_job_leaf_done(SgJob *job, SgJobLeaf *leaf)
{
	Oid			types[2] = {INT8OID, OIDOID};
	Datum		values[2];

	values[0] = Int64GetDatum(job->job_id);
	values[1] = ObjectIdGetDatum(leaf->relid);
	sg_spi_connect();
	sg_catalog_exec("UPDATE schema_guard.job_leaves SET done = true WHERE job_id = $1 AND relid = $2",
				 2, types, values, NULL, false);
	sg_spi_finish();
	leaf->done = true;
}

/*
 * Every leaf done with the first pass: each starts the second, over its
 * whole table (end_blocks: the number of blocks of each leaf now, in the
 * order of job->leaves).
 */
void
sg_job_restart_leaves(SgJob *job, List *end_blocks)
{
	ListCell   *lc;
	ListCell   *ec;

	sg_spi_connect();
	forboth(lc, job->leaves, ec, end_blocks)
	{
		Oid			types[3] = {INT8OID, OIDOID, INT8OID};
		Datum		values[3];

		values[0] = Int64GetDatum(job->job_id);
		values[1] = ObjectIdGetDatum(((SgJobLeaf *) lfirst(lc))->relid);
		values[2] = Int64GetDatum((int64) lfirst_int(ec));
		sg_catalog_exec("UPDATE schema_guard.job_leaves SET pass = 2, next_block = 0, "
						"end_block = $3, done = false WHERE job_id = $1 AND relid = $2",
						3, types, values, NULL, false);
	}
	sg_spi_finish();
}
