/*-------------------------------------------------------------------------
 *
 * app_update.c
 *	  What an application's UPDATE of a row that a job has not filled yet
 *	  cannot be made to give.
 *
 * The table's own BEFORE UPDATE triggers fire before the fill trigger, and
 * in such a row they see NULL in OLD's new column, where the plain ALTER's
 * table holds the default's value.  When the statement sets the column to
 * a value that is not NULL and the row reaches the fill trigger with NULL
 * there, one of those triggers made it NULL: from OLD's value maybe (a
 * trigger that keeps the old value, which in the plain ALTER's table is
 * the default's), maybe not (one that always clears it).  Either value may
 * be wrong, so the update is refused.  A NULL the statement itself writes
 * is the statement's, and kept; what the statement sets is read off its
 * plan (a constant or a parameter), never guessed.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "nodes/params.h"
#include "nodes/plannodes.h"
#include "parser/parsetree.h"
#include "utils/rel.h"

#include "schema_guard.h"
#include "app_update.h"

/*
 * The first enabled BEFORE UPDATE row trigger of the table, other than a
 * fill trigger, that fires before this fill trigger; NULL if none.  (Such
 * a trigger may have changed the row, seeing NULL in OLD where the plain
 * ALTER's table has the default's value.)
 */
static const char *
earlier_trigger(TriggerData *trigdata)
{
	TriggerDesc *desc = trigdata->tg_relation->trigdesc;
	int			i;

	for (i = 0; desc && i < desc->numtriggers; i++)
	{
		Trigger    *tg = &desc->triggers[i];

		if (tg->tgoid == trigdata->tg_trigger->tgoid)
			break;
		if (tg->tgfoid == trigdata->tg_trigger->tgfoid || tg->tgenabled == TRIGGER_DISABLED ||
			tg->tgenabled == (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA
							  ? TRIGGER_FIRES_ON_ORIGIN : TRIGGER_FIRES_ON_REPLICA) ||
			!TRIGGER_FOR_ROW(tg->tgtype) || !TRIGGER_FOR_BEFORE(tg->tgtype) ||
			!TRIGGER_FOR_UPDATE(tg->tgtype))
			continue;
		return tg->tgname;
	}
	return NULL;
}

/*
 * Does the statement that fired the trigger, a plain UPDATE, set column
 * attnum of the trigger's table to a value known not to be NULL (a
 * constant, or a parameter)?  False when that cannot be told.
 */
static bool
statement_sets_not_null(TriggerData *trigdata, QueryDesc *qd, AttrNumber attnum)
{
	ModifyTable *mt;
	Plan	   *subplan;
	List	   *colnos = NIL;
	ListCell   *lc;
	int			i = 0;
	int			k;
	Node	   *expr;

	if (qd == NULL || qd->operation != CMD_UPDATE || !IsA(qd->plannedstmt->planTree, ModifyTable))
		return false;
	mt = (ModifyTable *) qd->plannedstmt->planTree;
	foreach(lc, mt->resultRelations)
	{
		if (rt_fetch(lfirst_int(lc), qd->plannedstmt->rtable)->relid ==
			RelationGetRelid(trigdata->tg_relation))
			colnos = list_nth(mt->updateColnosLists, i);
		i++;
	}
	/* the subplan's first entries are the new values, in colnos' order */
	subplan = outerPlan(mt);
	k = 0;
	foreach(lc, colnos)
	{
		if (lfirst_int(lc) == attnum)
			break;
		k++;
	}
	if (lc == NULL || subplan == NULL || k >= list_length(subplan->targetlist))
		return false;
	expr = (Node *) ((TargetEntry *) list_nth(subplan->targetlist, k))->expr;
	while (IsA(expr, RelabelType))
		expr = (Node *) ((RelabelType *) expr)->arg;
	if (IsA(expr, Const))
		return !((Const *) expr)->constisnull;
	if (IsA(expr, Param) && ((Param *) expr)->paramkind == PARAM_EXTERN && qd->params != NULL)
	{
		ParamListInfo params = qd->params;
		int			id = ((Param *) expr)->paramid;
		ParamExternData workspace;
		ParamExternData *prm;

		if (id < 1 || id > params->numParams)
			return false;
		prm = params->paramFetch ? params->paramFetch(params, id, false, &workspace)
			: &params->params[id - 1];
		return prm != NULL && OidIsValid(prm->ptype) && !prm->isnull;
	}
	return false;
}

/*
 * The fill trigger found column attnum NULL in an update of a row that
 * predates it, with the column among those the statement sets: refuse the
 * update if the statement set it to a value that is not NULL and a trigger
 * of the table fired before (see the file's header).
 */
void
sg_check_update_of_unfilled(TriggerData *trigdata, QueryDesc *innermost, AttrNumber attnum,
							const char *colname, int64 job_id)
{
	const char *trigger;

	if ((trigger = earlier_trigger(trigdata)) == NULL ||
		!statement_sets_not_null(trigdata, innermost, attnum))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot update column \"%s\" of a row of table \"%s\" that schema_guard job %lld has not filled yet",
					colname, RelationGetRelationName(trigdata->tg_relation),
					(long long) job_id),
			 errdetail("The update sets the column, and trigger \"%s\" made it NULL; the trigger sees the column as NULL in OLD, where the plain ALTER's table has the default's value, so what the row would hold there cannot be told.",
					   trigger),
			 errhint("Wait for the job with CALL schema_guard.wait(%lld) before updating the column in existing rows.",
					 (long long) job_id)));
}
