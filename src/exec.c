/*-------------------------------------------------------------------------
 *
 * exec.c
 *	  schema_guard's own statements on a user's table, in the worker.
 *
 * A statement runs as the table's owner (as VACUUM and REINDEX run for a
 * table), with the restrictions PostgreSQL applies to maintenance on an
 * owner's behalf, and is parsed under search_path = pg_catalog, pg_temp:
 * its names are qualified, and nobody's objects can stand in for the ones
 * it means.  That owner must be the one of the ALTER, whose code the job
 * runs (its default, its constraints, the triggers of its table, which
 * fire as the role that runs the statement): after the table or one of
 * its partitions changed hands, the job stops rather than lend the new
 * owner's rights to the old owner's code, or the other way round.  A
 * backfill batch runs under the ALTER's settings as well, marked as the
 * job's, so that fill_value() computes in it.  Whatever the code that ran
 * set (SET, set_config()) is undone after each statement.
 *
 * A batch is what PostgreSQL's rewrite is to the plain ALTER, so it runs
 * as the rewrite runs: the table's rules are not applied (the statement is
 * planned as written, never rewritten) and its triggers do not fire,
 * whatever they are enabled for.  Only the fill triggers of jobs fire, so
 * that a batch of one job fills another job's columns in the rows it
 * writes.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "parser/analyze.h"
#include "parser/parsetree.h"
#include "pgstat.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"

#include "schema_guard.h"
#include "exec.h"
#include "fill.h"
#include "job_objects.h"
#include "util.h"

/*
 * Of the triggers a statement's result relation has, keep only the fill
 * triggers of jobs, as a rewrite fires none of the table's own.
 */
static void
keep_only_fill_triggers(ResultRelInfo *rri)
{
	TriggerDesc *desc = rri->ri_TrigDesc;
	TriggerDesc *kept;
	Oid			fill_fn = sg_fill_trigger_function();
	int			i;

	if (desc == NULL)
		return;
	kept = palloc0(sizeof(TriggerDesc));
	kept->triggers = palloc0(sizeof(Trigger) * Max(desc->numtriggers, 1));
	for (i = 0; i < desc->numtriggers; i++)
	{
		Trigger    *tg = &desc->triggers[i];

		/* fill triggers are BEFORE UPDATE row triggers, enabled ALWAYS */
		if (tg->tgfoid != fill_fn || !TRIGGER_FOR_ROW(tg->tgtype) ||
			!TRIGGER_FOR_BEFORE(tg->tgtype) || !TRIGGER_FOR_UPDATE(tg->tgtype))
			continue;
		kept->triggers[kept->numtriggers++] = *tg;
		kept->trig_update_before_row = true;
	}
	/* the arrays PostgreSQL sized for every trigger are large enough */
	rri->ri_TrigDesc = kept->numtriggers > 0 ? kept : NULL;
}

/*
 * Run one UPDATE as a table rewrite would: parsed and planned as written,
 * without the rewriter (so no rule of the table applies), and executed with
 * none of the table's triggers but the jobs' fill triggers.  The statement
 * is schema_guard's own, on one table with no row-level security for its
 * role (the table's owner); returns the rows it updated.
 */
static uint64
execute_as_rewrite(const char *sql)
{
	RawStmt    *raw = linitial_node(RawStmt, pg_parse_query(sql));
	Query	   *query = parse_analyze_fixedparams(raw, sql, NULL, 0, NULL);
	PlannedStmt *plan;
	QueryDesc  *qd;
	ModifyTableState *mtstate;
	uint64		processed;
	int			i;

	if (query->commandType != CMD_UPDATE || query->rowMarks != NIL ||
		query->cteList != NIL || list_length(query->rtable) != 1)
		elog(ERROR, "schema_guard runs only a plain UPDATE of one table as a rewrite: %s", sql);
	/* the rewriter would apply row-level security: the owner is exempt */
	if (check_enable_rls(rt_fetch(query->resultRelation, query->rtable)->relid,
						 InvalidOid, false) == RLS_ENABLED)
		elog(ERROR, "schema_guard's batch would be subject to row-level security: %s", sql);
	plan = pg_plan_query(query, sql, 0, NULL);

	CommandCounterIncrement();
	PushActiveSnapshot(GetTransactionSnapshot());
	qd = CreateQueryDesc(plan, sql, GetActiveSnapshot(), InvalidSnapshot,
						 None_Receiver, NULL, NULL, 0);
	ExecutorStart(qd, 0);
	mtstate = castNode(ModifyTableState, qd->planstate);
	for (i = 0; i < mtstate->mt_nrels; i++)
		keep_only_fill_triggers(&mtstate->resultRelInfo[i]);
	keep_only_fill_triggers(mtstate->rootResultRelInfo);
	/* no trigger is left that could read transition tables */
	mtstate->mt_transition_capture = NULL;
	mtstate->mt_oc_transition_capture = NULL;
	sg_executor_run(qd);
	processed = qd->estate->es_processed;
	ExecutorFinish(qd);
	ExecutorEnd(qd);
	FreeQueryDesc(qd);
	PopActiveSnapshot();
	CommandCounterIncrement();
	return processed;
}

/*
 * Run SQL against a user's table as role, with the restrictions PostgreSQL
 * applies to maintenance it runs on a table owner's behalf, and with
 * settings ("name=value") applied while it runs.  The statement itself
 * (schema_guard's own, names qualified) is parsed under a search_path of
 * pg_catalog alone, so nobody's objects can stand in for the ones it
 * means.  Returns SPI_processed.
 */
static int
exec_as(Oid role, const char *sql, bool read_only, List *settings, bool as_rewrite)
{
	SgSavedRole saved;
	int			save_nestlevel;
	int			rc;
	uint64		processed;

	sg_spi_connect();
	save_nestlevel = sg_apply_settings(settings, "pg_catalog, pg_temp", settings != NIL);
	sg_switch_role(role, SECURITY_RESTRICTED_OPERATION | SECURITY_NOFORCE_RLS, &saved);
	PG_TRY();
	{
		pgstat_report_activity(STATE_RUNNING, sql);
		if (as_rewrite)
			processed = execute_as_rewrite(sql);
		else
		{
			rc = SPI_execute(sql, read_only, 0);
			if (rc < 0)
				elog(ERROR, "SPI_execute failed (%s): %s", SPI_result_code_string(rc), sql);
			processed = SPI_processed;
		}
	}
	PG_FINALLY();
	{
		sg_restore_role(&saved);
	}
	PG_END_TRY();
	AtEOXact_GUC(false, save_nestlevel);
	sg_spi_finish();
	return (int) processed;
}

/* A table of the job that another role than the job's owns now, if any. */
static Oid
changed_hands(SgJob *job, Oid *owner)
{
	ListCell   *lc;

	*owner = sg_rel_owner(job->relid);
	if (OidIsValid(*owner) && *owner != job->role)
		return job->relid;
	foreach(lc, job->leaves)
	{
		Oid			relid = ((SgJobLeaf *) lfirst(lc))->relid;

		*owner = sg_rel_owner(relid);
		if (OidIsValid(*owner) && *owner != job->role)
			return relid;
	}
	return InvalidOid;
}

/*
 * The role that runs schema_guard's statements on a job's table: its
 * owner, who must still be the owner at the ALTER, the role the job
 * computes as.
 */
Oid
sg_job_table_owner(SgJob *job)
{
	Oid			owner;
	Oid			relid = changed_hands(job, &owner);
	const char *was;

	if (!OidIsValid(relid))
		return job->role;
	was = GetUserNameFromId(job->role, true);
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("table \"%s\" changed owner during schema_guard job %lld",
					get_rel_name(relid), (long long) job->job_id),
			 errdetail("The job runs the code of its ALTER TABLE (its default, its constraints, "
					   "the triggers its updates fire) as role %s, who owned the table then; "
					   "it does not run it as role %s, who owns it now.",
					   was ? was : "(dropped)", GetUserNameFromId(owner, false)),
			 errhint("Make role %s its owner again and call schema_guard.retry(%lld), or cancel or revert the job.",
					 was ? was : "(dropped)", (long long) job->job_id)));
	return InvalidOid;			/* not reached */
}

int
sg_exec_as_owner(SgJob *job, const char *sql, bool read_only)
{
	return exec_as(sg_job_table_owner(job), sql, read_only, NIL, false);
}

/*
 * Run one of the job's batches: as the table's owner, under the ALTER's
 * settings, marked as the job's, so that fill_value() computes in it, and
 * as a rewrite runs (no rules, no triggers but the jobs' fill triggers).
 */
int
sg_exec_batch(SgJob *job, const char *sql)
{
	volatile int processed = 0;

	sg_set_filling_job(job->job_id);
	PG_TRY();
	{
		processed = exec_as(sg_job_table_owner(job), sql, false, job->settings, true);
	}
	PG_FINALLY();
	{
		sg_set_filling_job(0);
	}
	PG_END_TRY();
	return processed;
}

