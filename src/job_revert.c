/*-------------------------------------------------------------------------
 *
 * job_revert.c
 *	  Undo a job's statement, leaving the table as it was before it: for an
 *	  ALTER, drop every column it added (with their constraints, indexes,
 *	  sequences and helper checks) and the fill trigger; for a CREATE INDEX,
 *	  an ADD CONSTRAINT or a SET NOT NULL, drop the index, the constraint or
 *	  the helper (the column is nullable again).  Other subcommands of the
 *	  statement stay done.
 *
 * revert() runs it in the caller's session, and the worker when a job
 * fails with schema_guard.on_failure = revert; each says how its
 * statements run.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "schema_guard.h"
#include "guard.h"
#include "index_build.h"
#include "job_objects.h"
#include "job_revert.h"
#include "util.h"

/* Drop an index the job builds, telling the guard it is expected. */
static void
drop_index(SgJob *job, SgJobObject *obj, SgRevertRun run)
{
	sg_expect_drop(obj->objid);
	PG_TRY();
	{
		run(job, psprintf("DROP INDEX %s", sg_qualified_relname(obj->objid)));
	}
	PG_FINALLY();
	{
		sg_expect_drop(InvalidOid);
	}
	PG_END_TRY();
}

/*
 * Undo the job's statement; returns what was done, for the job's record.
 * A job that added no columns (a CREATE INDEX, an ADD CONSTRAINT) drops
 * what its statement made.
 */
const char *
sg_job_revert(SgJob *job, SgRevertRun run)
{
	StringInfoData sql;
	List	   *attnums;
	ListCell   *lc;
	if (get_rel_name(job->relid) == NULL)
		return "the table was dropped";
	if (!sg_job_adds_columns(job))
	{
		foreach(lc, job->objects)
		{
			SgJobObject *obj = lfirst(lc);
			char	   *name = sg_object_name(obj);

			/* a partition's index attached to the job's goes with it */
			if (obj->kind == SG_OBJECT_INDEX &&
				sg_index_state(obj->objid, obj->relid) != SG_INDEX_MISSING &&
				!get_rel_relispartition(obj->objid))
				drop_index(job, obj, run);
			else if ((obj->kind == SG_OBJECT_CONSTRAINT ||
					  obj->kind == SG_OBJECT_HELPER_CHECK) && name != NULL)
				run(job, psprintf("ALTER TABLE %s DROP CONSTRAINT %s",
								  sg_qualified_relname(obj->relid), quote_identifier(name)));
		}
		return "what the statement made was dropped";
	}

	/*
	 * Every column the ALTER added; dropping a column drops its constraints,
	 * helper check and sequences.
	 */
	attnums = list_copy(job->added_attnums);
	foreach(lc, job->columns)
		attnums = list_append_unique_int(attnums, ((SgJobColumn *) lfirst(lc))->attnum);
	foreach(lc, job->constraints)
		attnums = list_append_unique_int(attnums, ((SgJobConstraint *) lfirst(lc))->attnum);
	initStringInfo(&sql);
	foreach(lc, attnums)
	{
		char	   *name = sg_column_name(job->relid, (AttrNumber) lfirst_int(lc));

		if (name)
			appendStringInfo(&sql, "%s DROP COLUMN %s", sql.len ? "," : "",
							 quote_identifier(name));
	}
	foreach(lc, sg_job_drop_sqls(job, SG_OBJECT_FILL_TRIGGER))
		run(job, lfirst(lc));
	if (sql.len > 0)
		run(job, psprintf("ALTER TABLE %s%s", sg_qualified_relname(job->relid), sql.data));
	return "the columns were dropped";
}
