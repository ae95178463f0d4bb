/*-------------------------------------------------------------------------
 *
 * ddl_guard.c
 *	  Other DDL on a table while one of its jobs is active.
 *
 * The backfill tells rows that predate a column from rows written since by
 * the tuples' stored attribute count.  Anything that forms every tuple anew
 * (VACUUM FULL, CLUSTER, ALTER COLUMN TYPE, SET LOGGED/UNLOGGED, SET ACCESS
 * METHOD, a rewriting ADD COLUMN) would make unfilled rows look filled, and
 * disabling or dropping the fill trigger would let application updates
 * write such rows.  Those are refused with an error naming the job.
 *
 * Two statements replace a table's file without that harm, and the job
 * adopts the new file: TRUNCATE (no row is left to fill, which completes the
 * backfill) and SET TABLESPACE (a block copy, tuples as they were).
 * Dropping the table or the job's columns ends the job; the worker sees it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_trigger.h"
#include "commands/defrem.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "nodes/parsenodes.h"
#include "utils/lsyscache.h"

#include "schema_guard.h"
#include "classify.h"
#include "job.h"
#include "stage.h"


static void
refuse_during_job(Oid relid, int64 job_id, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_IN_USE),
			 errmsg("table \"%s\" has an active schema_guard job", get_rel_name(relid)),
			 errdetail("%s while job %lld is filling rows that predate its columns; "
					   "rows not filled yet would then look filled.",
					   what, (long long) job_id),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld), or end it with schema_guard.cancel(%lld), first.",
					 (long long) job_id, (long long) job_id)));
}

/* Refuse if the table, or with recursion any of its children, has a job. */
static void
check_relation(RangeVar *rv, bool recurse, const char *what)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	List	   *rels;
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;					/* PostgreSQL reports it */
	rels = recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lc, rels)
	{
		int64		job_id = sg_job_active_on(lfirst_oid(lc));

		if (job_id != 0)
			refuse_during_job(lfirst_oid(lc), job_id, what);
	}
}

/* Refuse if the named trigger is the fill trigger of an active job. */
static void
check_fill_trigger(RangeVar *rv, const char *trigger, const char *what)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	int64		job_id;

	if (!OidIsValid(relid) || trigger == NULL)
		return;
	job_id = sg_job_of_trigger(relid, trigger);
	if (job_id != 0)
		refuse_during_job(relid, job_id, what);
}

/*
 * ATTACH PARTITION demands that the new partition have every CHECK
 * constraint of its new parent, the helper checks of active jobs included:
 * give it them, NOT VALID, so the attach works as it would without the job.
 */
static void
add_helper_checks(RangeVar *parent_rv, RangeVar *part_rv)
{
	Oid			parent = RangeVarGetRelid(parent_rv, NoLock, true);
	Oid			part = RangeVarGetRelid(part_rv, NoLock, true);
	List	   *tables;
	ListCell   *lc;

	if (!OidIsValid(parent) || !OidIsValid(part))
		return;
	tables = lappend_oid(get_partition_ancestors(parent), parent);
	foreach(lc, tables)
	{
		List	   *jobs = sg_jobs_active_on(lfirst_oid(lc));
		ListCell   *jc;

		foreach(jc, jobs)
		{
			SgJob	   *job = sg_job_load(*(int64 *) lfirst(jc), true);
			ListCell   *cc;

			if (job == NULL || job->relid != lfirst_oid(lc))
				continue;
			foreach(cc, job->columns)
			{
				SgJobColumn *col = lfirst(cc);
				char	   *name = sg_column_name(job->relid, col->attnum);

				if (col->check_name == NULL || name == NULL ||
					get_attnum(part, name) == InvalidAttrNumber ||
					OidIsValid(get_relation_constraint_oid(part, col->check_name, true)))
					continue;
				sg_run_own_sql(psprintf("ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID",
									 quote_qualified_identifier(get_namespace_name(get_rel_namespace(part)),
																get_rel_name(part)),
									 quote_identifier(col->check_name), quote_identifier(name)));
			}
		}
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
				what = "ALTER COLUMN TYPE may rewrite the table";
				break;
			case AT_SetLogged:
			case AT_SetUnLogged:
				what = "SET LOGGED/UNLOGGED rewrites the table";
				break;
			case AT_SetAccessMethod:
				what = "SET ACCESS METHOD rewrites the table";
				break;
			case AT_DisableTrigAll:
			case AT_DisableTrigUser:
				what = "Disabling the table's triggers stops the fill trigger";
				break;
			case AT_DetachPartition:
			case AT_DetachPartitionFinalize:
				/* the detached table would keep the helper check, unfilled */
				check_relation(castNode(PartitionCmd, cmd->def)->name, true,
							   "Detaching the partition takes rows out of the job");
				break;
			case AT_AttachPartition:
				add_helper_checks(stmt->relation, castNode(PartitionCmd, cmd->def)->name);
				break;
			case AT_DisableTrig:
			case AT_EnableTrig:
			case AT_EnableReplicaTrig:
				check_fill_trigger(stmt->relation, cmd->name,
								   "Changing when the fill trigger fires lets updates skip it");
				break;
			default:
				break;
		}
		if (what)
			check_relation(stmt->relation, stmt->relation->inh, what);
	}
}

static void
check_drop_trigger(DropStmt *stmt)
{
	ListCell   *lc;

	if (stmt->removeType != OBJECT_TRIGGER)
		return;
	foreach(lc, stmt->objects)
	{
		List	   *names = castNode(List, lfirst(lc));

		check_fill_trigger(makeRangeVarFromNameList(list_truncate(list_copy(names),
																  list_length(names) - 1)),
						   strVal(llast(names)),
						   "Dropping the fill trigger lets updates skip it");
	}
}

/*
 * A new BEFORE UPDATE row trigger must fire before the fill trigger, which
 * judges the final NEW row: refuse a name that sorts after it.
 */
static void
check_create_trigger(CreateTrigStmt *stmt)
{
	Oid			relid;
	ListCell   *lc;

	if (!stmt->row || !TRIGGER_FOR_BEFORE(stmt->timing) ||
		!TRIGGER_FOR_UPDATE(stmt->events))
		return;
	relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	if (!OidIsValid(relid))
		return;
	foreach(lc, sg_job_triggers_on(relid))
	{
		const char *fill = lfirst(lc);

		if (strcmp(stmt->trigname, fill) >= 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_IN_USE),
					 errmsg("trigger \"%s\" would fire after schema_guard's fill trigger \"%s\"",
							stmt->trigname, fill),
					 errdetail("BEFORE UPDATE triggers fire in name order, and the fill trigger of an active job must see the final row."),
					 errhint("Choose a name that sorts before \"%s\", or create the trigger once the job is done.",
							 fill)));
	}
}

/* After ENABLE TRIGGER ALL/USER: the fill triggers must fire ALWAYS again. */
static void
restore_fill_triggers(RangeVar *rv)
{
	Oid			relid = RangeVarGetRelid(rv, NoLock, true);
	ListCell   *lc;

	if (!OidIsValid(relid))
		return;
	foreach(lc, sg_job_triggers_on(relid))
	{
		sg_run_own_sql(psprintf("ALTER TABLE %s ENABLE ALWAYS TRIGGER %s",
							 quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
														get_rel_name(relid)),
							 quote_identifier(lfirst(lc))));
	}
}

/* Before the statement runs: refuse what would harm an active job. */
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
		case T_DropStmt:
			check_drop_trigger((DropStmt *) parsetree);
			break;
		case T_CreateTrigStmt:
			check_create_trigger((CreateTrigStmt *) parsetree);
			break;
		case T_RenameStmt:
			if (((RenameStmt *) parsetree)->renameType == OBJECT_TRIGGER)
				check_fill_trigger(((RenameStmt *) parsetree)->relation,
								   ((RenameStmt *) parsetree)->subname,
								   "Renaming the fill trigger changes when it fires");
			break;
		default:
			break;
	}
}

/* After the statement ran: adopt files that were replaced harmlessly. */
void
sg_guard_after(PlannedStmt *pstmt)
{
	Node	   *parsetree = pstmt->utilityStmt;

	if (IsA(parsetree, TruncateStmt))
		sg_job_adopt_new_files(true);
	else if (IsA(parsetree, AlterTableStmt))
	{
		AlterTableStmt *stmt = (AlterTableStmt *) parsetree;
		ListCell   *lc;

		foreach(lc, stmt->cmds)
		{
			AlterTableType subtype = lfirst_node(AlterTableCmd, lc)->subtype;

			if (subtype == AT_SetTableSpace)
				sg_job_adopt_new_files(false);
			else if (subtype == AT_EnableTrigAll || subtype == AT_EnableTrigUser)
				restore_fill_triggers(stmt->relation);
		}
	}
}

/*
 * Does this statement add a column that PostgreSQL will rewrite the table
 * for, on a table with an active job?  (Staged columns are fine: they get a
 * job of their own.)
 */
void
sg_guard_plain_rewrite(Oid relid, bool recurse, SgAlterPlan *plan)
{
	List	   *rels;
	ListCell   *lc;

	if (plan->risk != SG_RISK_REWRITE && plan->other_rewrite == NULL)
		return;
	rels = recurse ? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	foreach(lc, rels)
	{
		int64		job_id = sg_job_active_on(lfirst_oid(lc));

		if (job_id != 0)
			refuse_during_job(lfirst_oid(lc), job_id,
							  plan->other_rewrite ? plan->other_rewrite
							  : "Adding this column rewrites the table");
	}
}
