/*-------------------------------------------------------------------------
 *
 * stage_not_valid.c
 *	  ALTER TABLE ... ADD CONSTRAINT ... CHECK or FOREIGN KEY (without NOT
 *	  VALID), staged: the constraint is added NOT VALID in the user's
 *	  transaction, under the name PostgreSQL gives it (it is the same
 *	  statement, NOT VALID), so that it holds for every row written from
 *	  then on; a job validates it (VALIDATE CONSTRAINT blocks neither reads
 *	  nor writes) once the transaction commits.
 *
 * The finished table is the plain statement's: the same constraint,
 * validated.  A row that violates it fails the job with PostgreSQL's error
 * and SQLSTATE (23514, 23503), as it would have failed the statement; the
 * constraint stays NOT VALID for retry(), revert() drops it.  Only a
 * statement whose every subcommand is such a constraint is staged; a
 * foreign key of a partitioned table (which PostgreSQL 15 cannot add NOT
 * VALID) is not.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/objectaccess.h"
#include "catalog/pg_constraint.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "bind.h"
#include "fill.h"
#include "job.h"
#include "job_objects.h"
#include "settings.h"
#include "stage.h"
#include "stage_not_valid.h"
#include "util.h"

static object_access_hook_type prev_object_access_hook = NULL;
static List *created_constraints = NIL;	/* OIDs, while the statement runs */

static void
note_new_constraint(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access_hook)
		prev_object_access_hook(access, classId, objectId, subId, arg);
	if (access == OAT_POST_CREATE && classId == ConstraintRelationId)
	{
		MemoryContext old = MemoryContextSwitchTo(TopTransactionContext);

		created_constraints = lappend_oid(created_constraints, objectId);
		MemoryContextSwitchTo(old);
	}
}

/*
 * Is every subcommand a CHECK or FOREIGN KEY constraint that the plain
 * statement validates, and can it be added NOT VALID to rel?
 */
bool
sg_constraints_stageable(AlterTableStmt *stmt, Relation rel)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE || stmt->cmds == NIL)
		return false;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		Constraint *con = (Constraint *) cmd->def;

		if (cmd->subtype != AT_AddConstraint || con == NULL || !IsA(con, Constraint) ||
			con->skip_validation ||
			(con->contype != CONSTR_CHECK && con->contype != CONSTR_FOREIGN))
			return false;
		if (con->contype == CONSTR_FOREIGN &&
			rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
			return false;
	}
	return true;
}

/*
 * The statement to run instead: the same, every constraint NOT VALID.
 * Until sg_stage_not_valid_end, the constraints it creates are noted.
 */
AlterTableStmt *
sg_stage_not_valid_begin(AlterTableStmt *stmt)
{
	AlterTableStmt *copy = copyObject(stmt);
	ListCell   *lc;

	foreach(lc, copy->cmds)
	{
		Constraint *con = (Constraint *) lfirst_node(AlterTableCmd, lc)->def;

		con->skip_validation = true;
		con->initially_valid = false;
	}
	created_constraints = NIL;
	prev_object_access_hook = object_access_hook;
	object_access_hook = note_new_constraint;
	return copy;
}

/* The constraint as the job records it: its first column, its kind. */
static SgJobConstraint *
job_constraint(Form_pg_constraint con, HeapTuple tup, Oid relid)
{
	SgJobConstraint *jc = palloc0(sizeof(SgJobConstraint));
	bool		isnull;
	Datum		conkey = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conkey, &isnull);

	jc->conname = pstrdup(NameStr(con->conname));
	jc->kind = con->contype == CONSTRAINT_FOREIGN ? SG_CONSTRAINT_FOREIGN_KEY : SG_CONSTRAINT_CHECK;
	/* the job lasts while that column does (a CHECK of no column: the first) */
	jc->attnum = 1;
	if (!isnull && ARR_DIMS(DatumGetArrayTypeP(conkey))[0] > 0)
		jc->attnum = ((int16 *) ARR_DATA_PTR(DatumGetArrayTypeP(conkey)))[0];
	jc->colname = sg_column_name(relid, jc->attnum);
	return jc;
}

/*
 * A new job for a statement on relid that adds no columns: it validates
 * what the statement made, as the table's owner, and fills no rows.
 */
SgJob *
sg_statement_job(Oid relid, const char *statement)
{
	SgJob	   *job = palloc0(sizeof(SgJob));

	job->job_id = sg_job_next_id();
	job->relid = relid;
	job->role = sg_rel_owner(relid);
	job->statement = pstrdup(statement);
	job->search_path = sg_pinned_search_path();
	job->settings = sg_capture_settings();
	job->bound_to = sg_cluster_binding();
	job->trigger_name = psprintf("~schema_guard_fill_%lld", (long long) job->job_id);
	job->batch_blocks = Max(sg_batch_min_blocks, Min(16, sg_batch_max_blocks));
	return job;
}

/*
 * After the statement ran: the job that validates the constraints it
 * added to relid (not those it added to children: validating the
 * parent's validates theirs).  On an error the caller's transaction ends,
 * and with it what is noted here.
 */
void
sg_stage_not_valid_end(Oid relid, const char *statement)
{
	SgJob	   *job;
	ListCell   *lc;

	object_access_hook = prev_object_access_hook;
	if (relid == InvalidOid)
	{
		created_constraints = NIL;	/* the statement failed */
		return;
	}
	job = sg_statement_job(relid, statement);
	foreach(lc, created_constraints)
	{
		HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(lfirst_oid(lc)));
		Form_pg_constraint con;

		if (!HeapTupleIsValid(tup))
			continue;
		con = (Form_pg_constraint) GETSTRUCT(tup);
		if (con->conrelid == relid && !con->convalidated &&
			(con->contype == CONSTRAINT_CHECK || con->contype == CONSTRAINT_FOREIGN))
		{
			job->constraints = lappend(job->constraints, job_constraint(con, tup, relid));
			job->objects = lappend(job->objects,
								   sg_new_object(SG_OBJECT_CONSTRAINT, relid,
												 NameStr(con->conname), con->oid));
		}
		ReleaseSysCache(tup);
	}
	created_constraints = NIL;
	if (job->constraints == NIL)
		return;
	sg_stage_job(job, psprintf("ALTER TABLE \"%s\"", get_rel_name(relid)),
				 "The constraint is added NOT VALID, and holds for every row written from now on; the existing rows are validated in the background once this transaction commits.");
}
