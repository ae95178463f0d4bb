/*-------------------------------------------------------------------------
 *
 * guard.c
 *	  Keeping active jobs truthful while other DDL runs.
 *
 * The backfill tells rows that predate a column from rows written since by
 * the tuples' stored attribute count, and the fill trigger fills old rows
 * the application updates meanwhile.  So a job is only right while
 *	- no table of it is rewritten (VACUUM FULL, CLUSTER, ALTER COLUMN TYPE,
 *	  SET LOGGED/UNLOGGED, SET ACCESS METHOD, a rewriting ADD COLUMN), and
 *	  no table leaves its tree (DETACH PARTITION, NO INHERIT);
 *	- each of its tables has its fill trigger, as schema_guard made it:
 *	  BEFORE UPDATE for each row, enabled ALWAYS, and sorting after every
 *	  other BEFORE UPDATE row trigger, so that it judges the final row;
 *	- its helper checks, NOT VALID constraints and reserved indexes exist,
 *	  and a staged identity column keeps its default.
 *
 * Statements known to break the first rule are refused before they run.
 * The others are held to the rules by their effect, whatever the statement
 * (CREATE OR REPLACE TRIGGER, DROP ... CASCADE, REASSIGN OWNED, a DO
 * block): an object access hook notes that a statement touched triggers,
 * constraints, defaults, inheritance or relations, and after the statement
 * every active job is checked; a broken one makes the statement fail.  A
 * failed job is checked only after a statement that touched one of its own
 * tables: whatever broke it before holds back no other table.
 * With schema_guard.mode = off nothing is refused, as in PostgreSQL, and a
 * job that a statement breaks fails instead, loudly, in that statement's
 * transaction: it never ends done with rows it did not fill.
 *
 * Two statements replace a table's file without that harm, and the jobs
 * follow them: TRUNCATE (no row is left to fill) and SET TABLESPACE (a
 * block copy).  Only the files that the statement itself replaced are
 * adopted.  Dropping the table or the job's columns ends the job; the
 * worker sees that.
 *
 * The guard never runs for schema_guard's own statements.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/index.h"
#include "catalog/dependency.h"
#include "catalog/objectaccess.h"
#include "catalog/partition.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "commands/defrem.h"
#include "commands/extension.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "classify.h"
#include "guard.h"
#include "guard_columns.h"
#include "job.h"
#include "job_catalog.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "integrity.h"
#include "settings.h"
#include "util.h"

static object_access_hook_type prev_object_access = NULL;

/* A statement touched catalogs a job depends on; reset per statement. */
static bool touched = false;

/*
 * The tables whose triggers, constraints, defaults, indexes or place in a
 * tree it touched, as far as the hook could tell (touched_unknown: not all).
 * A failed job constrains only its own tables: it is checked after a
 * statement that touched one of them.
 */
#define SG_MAX_TOUCHED 64
static Oid	touched_rels[SG_MAX_TOUCHED];
static int	ntouched = 0;
static bool touched_unknown = false;

static void forget_touched(void);

/*
 * Functions and sequences the statement created, replaced or altered (in
 * TopMemoryContext): a job's expression must compute with them as they
 * were at its ALTER.
 */
static List *changed_objects = NIL;

/* The statement drops schema_guard's objects: checked once. */
static bool extension_drop_checked = false;

/* While set, the only relation that may be dropped. */
static Oid	expected_drop = InvalidOid;

static void
refuse_during_job(Oid relid, int64 job_id, const char *what)
{
	SgJob	   *job = sg_job_load(job_id, true);

	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("table \"%s\" has an active schema_guard job", get_rel_name(relid)),
			 job == NULL || job->leaves != NIL
			 ? errdetail("%s while job %lld is filling rows that predate its columns; "
						 "rows not filled yet would then look filled.",
						 what, (long long) job_id)
			 : errdetail("%s while job %lld is still checking or building what its statement added.",
						 what, (long long) job_id),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld), or end it with schema_guard.cancel(%lld), first.",
					 (long long) job_id, (long long) job_id)));
}

/* Refuse if the table, or with recursion any of its children, has a job. */
static void
check_relation(RangeVar *rv, bool recurse, const char *what)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);

	if (OidIsValid(relid))
		sg_guard_refuse_if_active(relid, recurse, what);
}

void
sg_guard_refuse_if_active(Oid relid, bool recurse, const char *what)
{
	List	   *rels;
	ListCell   *lc;

	rels = recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lc, rels)
	{
		int64		job_id = sg_job_active_on(lfirst_oid(lc));

		if (job_id != 0)
			refuse_during_job(lfirst_oid(lc), job_id, what);
	}
}

/* Refuse if the table has an unfinished job of a staged SET NOT NULL. */
static void
check_not_null_job(RangeVar *rv, const char *what)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;
	foreach(lc, sg_jobs_active_on(relid))
	{
		int64		job_id = *(int64 *) lfirst(lc);
		SgJob	   *job = sg_job_load(job_id, true);

		if (job != NULL && sg_job_sets_not_null(job))
			refuse_during_job(relid, job_id, what);
	}
}

/* Refuse a database-wide command if any job is active. */
static void
check_database(const char *what)
{
	Oid			relid;
	int64		job_id = sg_job_any_active(&relid);

	if (job_id != 0)
		refuse_during_job(relid, job_id, what);
}

static bool
vacuum_is_full(VacuumStmt *stmt)
{
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *opt = lfirst_node(DefElem, lc);

		if (strcmp(opt->defname, "full") == 0)
			return opt->arg == NULL || defGetBoolean(opt);
	}
	return false;
}

static void
check_alter_table(AlterTableStmt *stmt)
{
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE && stmt->objtype != OBJECT_MATVIEW)
		return;
	foreach(lc, stmt->cmds)
	{
		AlterTableCmd *cmd = lfirst_node(AlterTableCmd, lc);
		const char *what = NULL;

		switch (cmd->subtype)
		{
			case AT_AlterColumnType:
				sg_guard_not_null_column(stmt, cmd);
				what = "ALTER COLUMN TYPE may rewrite the table";
				break;
			case AT_SetLogged:
			case AT_SetUnLogged:
				what = "SET LOGGED/UNLOGGED rewrites the table";
				break;
			case AT_SetAccessMethod:
				what = "SET ACCESS METHOD rewrites the table";
				break;
			case AT_DetachPartition:
			case AT_DetachPartitionFinalize:
				/* the detached table would keep the helper check, unfilled */
				check_relation(castNode(PartitionCmd, cmd->def)->name, true,
							   "Detaching the partition takes rows out of the job");
				/* or the NOT VALID constraint of its parent's SET NOT NULL */
				check_not_null_job(stmt->relation,
								   "Detaching the partition would leave it the constraint the job checks");
				break;
			case AT_DropInherit:
				/* the table would keep the fill trigger and helper check */
				check_relation(stmt->relation, true,
							   "Removing the table from its parent takes rows out of the job");
				break;
			case AT_AttachPartition:
				sg_guard_attach_partition(stmt->relation, castNode(PartitionCmd, cmd->def)->name);
				break;
			case AT_DropNotNull:
			case AT_AddIdentity:
				sg_guard_not_null_column(stmt, cmd);
				sg_guard_column_change(stmt, cmd);
				break;
			case AT_SetNotNull:
			case AT_SetIdentity:
			case AT_DropIdentity:
				sg_guard_column_change(stmt, cmd);
				break;
			case AT_AddInherit:
				sg_guard_new_parent(castNode(RangeVar, cmd->def));
				break;
			default:
				break;
		}
		if (what)
			check_relation(stmt->relation, stmt->relation->inh, what);
	}
}

/* The statement changed a function or a sequence: the jobs are checked after it. */
static void
note_changed(Oid objectId)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

	changed_objects = list_append_unique_oid(changed_objects, objectId);
	MemoryContextSwitchTo(old);
	touched = true;
}

/*
 * Before a statement that may harm a job, in every mode: what it is about
 * to change that the object access hook cannot tell apart.  ALTER SEQUENCE
 * (new options, RESTART, OWNED BY) changes the values a job's rows get
 * from the sequence; a change of its owner or name does not.  A DROP NOT
 * NULL that got here (the guard refuses it in the other modes) drops
 * what stands for a staged SET NOT NULL with it.
 */
void
sg_guard_note_statement(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, AlterSeqStmt))
	{
		Oid			seq = RangeVarGetRelid(((AlterSeqStmt *) parsetree)->sequence, NoLock, true);

		if (OidIsValid(seq))
			note_changed(seq);
	}
	if (IsA(parsetree, AlterTableStmt) &&
		((AlterTableStmt *) parsetree)->objtype == OBJECT_TABLE)
	{
		ListCell   *lc;

		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			if (lfirst_node(AlterTableCmd, lc)->subtype == AT_DropNotNull)
				sg_guard_not_null_dropped((AlterTableStmt *) parsetree,
										  lfirst_node(AlterTableCmd, lc));
	}
}

/* Forget what the statement changed, once the jobs were checked. */
static void
forget_changes(void)
{
	touched = false;
	list_free(changed_objects);
	changed_objects = NIL;
}

/* A top-level statement starts: what earlier ones touched was checked. */
void
sg_guard_statement_start(void)
{
	forget_touched();
	forget_changes();
	extension_drop_checked = false;
}

/*
 * Before the statement runs: refuse what is known to harm an active job.
 * Not with schema_guard.mode = off, where PostgreSQL's behaviour is kept
 * and the jobs see the harm afterwards.
 */
void
sg_guard_before(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	switch (nodeTag(parsetree))
	{
		case T_VacuumStmt:
			{
				VacuumStmt *stmt = (VacuumStmt *) parsetree;
				ListCell   *lc;

				if (!stmt->is_vacuumcmd || !vacuum_is_full(stmt))
					break;
				if (stmt->rels == NIL)
					check_database("VACUUM FULL rewrites every table");
				foreach(lc, stmt->rels)
				{
					VacuumRelation *vrel = lfirst_node(VacuumRelation, lc);

					if (vrel->relation)
						check_relation(vrel->relation, true, "VACUUM FULL rewrites the table");
				}
				break;
			}
		case T_ClusterStmt:
			{
				ClusterStmt *stmt = (ClusterStmt *) parsetree;

				if (stmt->relation)
					check_relation(stmt->relation, true, "CLUSTER rewrites the table");
				else
					check_database("CLUSTER rewrites every clustered table");
				break;
			}
		case T_AlterTableStmt:
			check_alter_table((AlterTableStmt *) parsetree);
			break;
		default:
			break;
	}
}

/*
 * Files
 */

/* The current file of every leaf of every active job, before a statement. */
typedef struct LeafFile
{
	int64		job_id;
	Oid			relid;
	Oid			relfilenode;
} LeafFile;

static List *
leaf_files(void)
{
	List	   *files = NIL;
	ListCell   *lc;

	foreach(lc, sg_jobs_active_on(InvalidOid))
	{
		SgJob	   *job = sg_job_load(*(int64 *) lfirst(lc), true);
		ListCell   *fc;

		if (job == NULL)
			continue;
		foreach(fc, job->leaves)
		{
			SgJobLeaf  *leaf = lfirst(fc);
			LeafFile   *file = palloc(sizeof(LeafFile));
			HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(leaf->relid));

			if (!HeapTupleIsValid(tup))
				continue;
			file->job_id = job->job_id;
			file->relid = leaf->relid;
			file->relfilenode = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
			ReleaseSysCache(tup);
			files = lappend(files, file);
		}
	}
	return files;
}

/* Does the statement replace files without forming tuples anew? */
static bool
replaces_files_harmlessly(Node *parsetree, bool *truncate)
{
	*truncate = IsA(parsetree, TruncateStmt);
	if (*truncate || IsA(parsetree, AlterTableMoveAllStmt))
		return true;
	if (IsA(parsetree, AlterTableStmt))
	{
		ListCell   *lc;

		/* only SET TABLESPACE: anything else might rewrite as well */
		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			if (lfirst_node(AlterTableCmd, lc)->subtype != AT_SetTableSpace)
				return false;
		return ((AlterTableStmt *) parsetree)->cmds != NIL;
	}
	return false;
}

/* Before a statement that replaces files harmlessly: where they are now. */
List *
sg_guard_files_before(PlannedStmt *pstmt)
{
	bool		truncate;

	if (!replaces_files_harmlessly(pstmt->utilityStmt, &truncate))
		return NIL;
	return leaf_files();
}

/*
 * After it: adopt the files it replaced, and only those.  A file that had
 * changed before the statement stays unadopted, so the job still fails.
 */
static void
adopt_files(PlannedStmt *pstmt, List *before)
{
	bool		truncate;
	ListCell   *lc;

	if (before == NIL || !replaces_files_harmlessly(pstmt->utilityStmt, &truncate))
		return;
	foreach(lc, before)
	{
		LeafFile   *file = lfirst(lc);
		HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(file->relid));
		Oid			now;

		if (!HeapTupleIsValid(tup))
			continue;
		now = ((Form_pg_class) GETSTRUCT(tup))->relfilenode;
		ReleaseSysCache(tup);
		if (now != file->relfilenode)
			sg_job_adopt_file(file->job_id, file->relid, file->relfilenode, now, truncate);
	}
}

static void
forget_touched(void)
{
	touched = false;
	ntouched = 0;
	touched_unknown = false;
}

static void
note_touched_rel(Oid relid)
{
	int			i;

	for (i = 0; i < ntouched; i++)
		if (touched_rels[i] == relid)
			return;
	if (ntouched < SG_MAX_TOUCHED)
		touched_rels[ntouched++] = relid;
	else
		touched_unknown = true;
}

/*
 * The table a row of a catalog (pg_trigger, pg_constraint, pg_attrdef)
 * belongs to, read as the statement has left it so far.
 */
static Oid
row_table(Oid catalog, Oid index, AttrNumber oidattr, AttrNumber relattr, Oid objectId)
{
	Relation	rel = table_open(catalog, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	Oid			relid = InvalidOid;

	ScanKeyInit(&key, oidattr, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(objectId));
	scan = systable_beginscan(rel, index, true, SnapshotSelf, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, relattr, RelationGetDescr(rel), &isnull);

		relid = isnull ? InvalidOid : DatumGetObjectId(d);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return relid;
}

/* Note the table the touched object belongs to. */
static void
note_touched(ObjectAccessType access, Oid classId, Oid objectId, void *arg)
{
	Oid			relid = InvalidOid;

	if (classId == RelationRelationId || classId == IndexRelationId)
	{
		note_touched_rel(objectId);
		if (get_rel_relkind(objectId) == RELKIND_INDEX ||
			get_rel_relkind(objectId) == RELKIND_PARTITIONED_INDEX)
			relid = IndexGetRelation(objectId, true);
		else
			return;
	}
	else if (classId == TriggerRelationId)
		relid = row_table(TriggerRelationId, TriggerOidIndexId, Anum_pg_trigger_oid,
						  Anum_pg_trigger_tgrelid, objectId);
	else if (classId == ConstraintRelationId)
	{
		relid = row_table(ConstraintRelationId, ConstraintOidIndexId, Anum_pg_constraint_oid,
						  Anum_pg_constraint_conrelid, objectId);
		if (relid == InvalidOid &&
			OidIsValid(row_table(ConstraintRelationId, ConstraintOidIndexId, Anum_pg_constraint_oid,
								 Anum_pg_constraint_contypid, objectId)))
			return;				/* a domain's */
	}
	else if (classId == AttrDefaultRelationId)
		relid = row_table(AttrDefaultRelationId, AttrDefaultOidIndexId, Anum_pg_attrdef_oid,
						  Anum_pg_attrdef_adrelid, objectId);
	else if (classId == InheritsRelationId)
	{
		/* the child; the parent comes with a change of it */
		relid = objectId;
		if (access == OAT_POST_ALTER && arg)
			note_touched_rel(((ObjectAccessPostAlter *) arg)->auxiliary_id);
	}
	if (OidIsValid(relid))
		note_touched_rel(relid);
	else
		touched_unknown = true;
}

/* Did the statement touch one of the job's tables? */
static bool
touched_job(SgJob *job)
{
	ListCell   *lc;
	int			i;

	if (touched_unknown)
		return true;
	for (i = 0; i < ntouched; i++)
	{
		if (touched_rels[i] == job->relid)
			return true;
		foreach(lc, job->leaves)
			if (touched_rels[i] == ((SgJobLeaf *) lfirst(lc))->relid)
				return true;
		foreach(lc, job->objects)
			if (touched_rels[i] == ((SgJobObject *) lfirst(lc))->relid)
				return true;
	}
	return false;
}

/*
 * After a statement that touched what jobs depend on: every active job
 * must still be sound.  Otherwise the statement fails; with mode = off,
 * the job does.
 */
static void
check_jobs_after(void)
{
	ListCell   *lc;

	foreach(lc, sg_jobs_active_on(InvalidOid))
	{
		int64		job_id = *(int64 *) lfirst(lc);
		SgJob	   *job = sg_job_load(job_id, true);
		char	   *problem;

		if (job == NULL)
			continue;
		if (job->state == SG_STATE_FAILED && !touched_job(job))
			continue;
		if ((problem = sg_job_changed_object_problem(job, changed_objects)) == NULL &&
			(problem = sg_job_problem_now(job)) == NULL)
			continue;
		if (sg_mode != SG_MODE_OFF)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("table \"%s\" has an active schema_guard job", get_rel_name(job->relid)),
					 errdetail("The statement would leave job %lld unable to fill the rows that predate its columns: %s.",
							   (long long) job_id, problem),
					 errhint("Wait for the job with CALL schema_guard.wait(%lld), or end it with schema_guard.cancel(%lld), first.",
							 (long long) job_id, (long long) job_id)));
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_IN_USE),
				 errmsg("schema_guard job %lld on table \"%s\" failed: %s",
						(long long) job_id, get_rel_name(job->relid), problem),
				 errdetail("Rows not filled yet could otherwise end up looking filled, or get other values than the ALTER's."),
				 errhint("Check the job's columns for NULLs; cancel or revert the job.")));
		if (sg_job_set_state(job_id, SG_UNFINISHED_STATES, SG_STATE_FAILED, SG_PHASE_UNCHANGED,
							 psprintf("%s during the job", problem),
							 "schema_guard.mode was off, so the statement ran as written"))
			sg_job_mark_unsound(job_id, problem);
	}
}

/* After ENABLE TRIGGER ALL/USER: the fill triggers must fire ALWAYS again. */
static void
restore_fill_triggers(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	Oid			fill_fn = sg_fill_trigger_function();
	Relation	rel;
	List	   *names = NIL;
	ListCell   *lc;
	int			i;

	if (!OidIsValid(relid) || !OidIsValid(fill_fn))
		return;
	rel = relation_open(relid, AccessShareLock);
	for (i = 0; rel->trigdesc && i < rel->trigdesc->numtriggers; i++)
	{
		Trigger    *tg = &rel->trigdesc->triggers[i];

		if (tg->tgfoid == fill_fn && tg->tgenabled != TRIGGER_FIRES_ALWAYS)
			names = lappend(names, pstrdup(tg->tgname));
	}
	relation_close(rel, AccessShareLock);
	foreach(lc, names)
		sg_run_own_sql(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s",
								sg_qualified_relname(relid), quote_identifier(lfirst(lc))));
}

/* After the statement ran: follow harmless file changes, check the jobs. */
void
sg_guard_after(PlannedStmt *pstmt, List *files_before)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (!touched && files_before == NIL)
		return;
	/* what an extension script did is checked after CREATE/ALTER EXTENSION */
	if (creating_extension)
		return;
	if (sg_running_own_statement || !IsTransactionState() ||
		IsBinaryUpgrade || !sg_extension_active())
	{
		forget_touched();
		forget_changes();
		return;
	}
	adopt_files(pstmt, files_before);
	if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		ListCell   *lc;

		foreach(lc, stmt->cmds)
		{
			AlterTableType subtype = lfirst_node(AlterTableCmd, lc)->subtype;

			if (subtype == AT_EnableTrigAll || subtype == AT_EnableTrigUser)
				restore_fill_triggers(stmt->relation);
		}
	}
	if (touched)
	{
		check_jobs_after();
		forget_touched();
		forget_changes();
	}
}

/*
 * After a staged ALTER: schema_guard ran it as its own statement, but its
 * other subcommands may have harmed other jobs.
 */
void
sg_guard_after_staged(PlannedStmt *pstmt)
{
	touched = true;
	sg_guard_after(pstmt, NIL);
}

/*
 * Does this statement add a column that PostgreSQL will rewrite the table
 * for, on a table with an active job?  (Staged columns are fine: they get a
 * job of their own.)
 */
void
sg_guard_plain_rewrite(Oid relid, bool recurse, SgAlterPlan *plan)
{
	if (plan->risk != SG_RISK_REWRITE && plan->other_rewrite == NULL)
		return;
	sg_guard_refuse_if_active(relid, recurse,
							  plan->other_rewrite ? plan->other_rewrite
							  : "Adding this column rewrites the table");
}

/*
 * Dropping schema_guard
 */

/*
 * Whatever the statement (DROP EXTENSION, DROP SCHEMA ... CASCADE, DROP
 * OWNED), schema_guard is not dropped while a job is unfinished: its table
 * would keep rows never filled, and helpers nothing removes.  With
 * schema_guard.mode = off it is, as in PostgreSQL, with a warning.
 */
static void
check_extension_drop(void)
{
	Oid			relid;
	int64		job_id;

	if (!sg_extension_active() || (job_id = sg_job_any_active(&relid)) == 0)
		return;
	ereport(sg_mode == SG_MODE_OFF ? WARNING : ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 sg_mode == SG_MODE_OFF
			 ? errmsg("extension %s is dropped while job %lld on table \"%s\" is unfinished",
					  SG_EXTENSION_NAME, (long long) job_id, get_rel_name(relid))
			 : errmsg("cannot drop extension %s while job %lld on table \"%s\" is unfinished",
					  SG_EXTENSION_NAME, (long long) job_id, get_rel_name(relid)),
			 sg_mode == SG_MODE_OFF
			 ? errdetail("The job's table is left with rows that were never filled, and with the job's helper checks.")
			 : errdetail("The job's table would be left with rows that were never filled, and with the job's helper checks."),
			 sg_mode == SG_MODE_OFF
			 ? errhint("Fill those rows by hand, and drop the job's CHECK (... IS NOT NULL) NOT VALID constraints from the table.")
			 : errhint("Wait for the job with CALL schema_guard.wait(%lld), or end it with schema_guard.cancel(%lld) or schema_guard.revert(%lld), first.",
					   (long long) job_id, (long long) job_id, (long long) job_id)));
}

/*
 * The object access hook
 */

static void
guard_object_access(ObjectAccessType access, Oid classId, Oid objectId,
					int subId, void *arg)
{
	if (prev_object_access)
		prev_object_access(access, classId, objectId, subId, arg);

	/* (a partitioned index takes its partitions' with it) */
	if (access == OAT_DROP && OidIsValid(expected_drop) && classId == RelationRelationId &&
		objectId != expected_drop &&
		!(get_rel_relispartition(objectId) &&
		  list_member_oid(get_partition_ancestors(objectId), expected_drop)))
		elog(ERROR, "schema_guard refuses to drop relation %u: it expected to drop %u only",
			 objectId, expected_drop);

	if (sg_running_own_statement)
		return;
	if (access == OAT_DROP && !extension_drop_checked && !creating_extension &&
		sg_is_extension_object(classId, objectId))
	{
		extension_drop_checked = true;
		check_extension_drop();
	}
	if ((access == OAT_POST_CREATE || access == OAT_POST_ALTER || access == OAT_DROP) &&
		(classId == TriggerRelationId || classId == ConstraintRelationId ||
		 classId == RelationRelationId || classId == AttrDefaultRelationId ||
		 classId == InheritsRelationId || classId == IndexRelationId))
	{
		touched = true;
		note_touched(access, classId, objectId, arg);
	}
	/* CREATE OR REPLACE FUNCTION, ALTER FUNCTION */
	if ((access == OAT_POST_CREATE || access == OAT_POST_ALTER) &&
		classId == ProcedureRelationId)
		note_changed(objectId);
}

void
sg_install_guard_hooks(void)
{
	prev_object_access = object_access_hook;
	object_access_hook = guard_object_access;
}

/* While set (not InvalidOid), dropping any other relation is an error. */
void
sg_expect_drop(Oid relid)
{
	expected_drop = relid;
}
