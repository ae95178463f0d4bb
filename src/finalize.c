/*-------------------------------------------------------------------------
 *
 * finalize.c
 *	  The end of a job: turn the staged column into exactly what the plain
 *	  ALTER would have produced, in short lock-bounded transactions.
 *
 * Step 1 (validate) runs VALIDATE CONSTRAINT on each helper check
 * (c IS NOT NULL); it scans the table but blocks neither reads nor writes.
 * Step 2 (finalize), in one transaction: SET NOT NULL, which PostgreSQL
 * proves from the validated check without a scan; drop the helper check;
 * turn a staged identity column into a real identity column whose
 * sequence continues where the staging sequence stopped; drop the fill
 * trigger; mark the job done.  Both steps are idempotent and run as the
 * job's role; their locks are bounded by schema_guard.lock_timeout and
 * the worker retries them.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/dependency.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "job.h"
#include "worker.h"

/* The column as it is now, or NULL if it was dropped meanwhile. */
static char *
current_name(SgJob *job, SgJobColumn *col)
{
	return sg_column_name(job->relid, col->attnum);
}

static bool
constraint_exists(Oid relid, const char *conname)
{
	return OidIsValid(get_relation_constraint_oid(relid, conname, true));
}

void
sg_finalize_validate(SgJob *job, SgStepResult *result)
{
	char	   *table = sg_qualified_relname(job->relid);
	ListCell   *lc;

	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = current_name(job, col);

		if (col->check_name == NULL || name == NULL ||
			!constraint_exists(job->relid, col->check_name))
			continue;
		PG_TRY();
		{
			sg_exec_as_job_role(job, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s",
											  table, quote_identifier(col->check_name)),
								false);
		}
		PG_CATCH();
		{
			/* say it as PostgreSQL's ALTER would have */
			if (geterrcode() == ERRCODE_CHECK_VIOLATION)
			{
				FlushErrorState();
				ereport(ERROR,
						(errcode(ERRCODE_NOT_NULL_VIOLATION),
						 errmsg("column \"%s\" of relation \"%s\" contains null values",
								name, get_rel_name(job->relid)),
						 errdetail("The fill expression %s yielded NULL for some row, "
								   "so the column cannot be made NOT NULL.", col->fill_expr),
						 errhint("Fill the NULLs by hand and retry the job, or revert it.")));
			}
			PG_RE_THROW();
		}
		PG_END_TRY();
	}
	result->committed = sg_job_advance(job, "finalize", NULL, NULL);
}

/* Replace the staging sequence by the identity, continuing its values. */
static void
make_identity(SgJob *job, SgJobColumn *col, const char *table, const char *column)
{
	char	   *seq = sg_qualified_relname(col->staging_seq);
	Oid			types[3] = {OIDOID, INT8OID, BOOLOID};
	Datum		values[3];
	int64		last_value;
	bool		is_called;
	bool		isnull;
	Oid			identity_seq;

	if (get_rel_name(col->staging_seq) == NULL)
		return;					/* converted by an earlier attempt */

	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute(psprintf("SELECT last_value, is_called FROM %s", seq), true, 0);
	last_value = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	is_called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	SPI_finish();

	sg_exec_as_job_role(job, psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", table, column), false);
	sg_exec_as_job_role(job, psprintf("DROP SEQUENCE %s", seq), false);
	sg_exec_as_job_role(job, psprintf("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY%s%s%s",
									  table, column,
									  col->identity == ATTRIBUTE_IDENTITY_ALWAYS ? "ALWAYS" : "BY DEFAULT",
									  col->identity_options ? " (" : "",
									  col->identity_options ? col->identity_options : "",
									  col->identity_options ? ")" : ""),
						false);

	identity_seq = getIdentitySequence(job->relid, col->attnum, false);
	values[0] = ObjectIdGetDatum(identity_seq);
	values[1] = Int64GetDatum(last_value);
	values[2] = BoolGetDatum(is_called);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	SPI_execute_with_args("SELECT pg_catalog.setval($1::pg_catalog.regclass, $2, $3)",
						  3, types, values, NULL, false, 0);
	SPI_finish();
}

void
sg_finalize_complete(SgJob *job, SgStepResult *result)
{
	char	   *table = sg_qualified_relname(job->relid);
	ListCell   *lc;

	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = current_name(job, col);
		char	   *column;

		if (name == NULL)
			continue;
		column = (char *) quote_identifier(name);
		if (col->check_name && constraint_exists(job->relid, col->check_name))
		{
			/* proven by the validated check: no scan */
			sg_exec_as_job_role(job, psprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
											  table, column), false);
			sg_exec_as_job_role(job, psprintf("ALTER TABLE %s DROP CONSTRAINT %s",
											  table, quote_identifier(col->check_name)), false);
		}
		if (col->identity)
			make_identity(job, col, table, column);
	}
	sg_exec_as_job_role(job, psprintf("DROP TRIGGER IF EXISTS %s ON %s",
									  quote_identifier(job->trigger_name), table), false);
	result->committed = sg_job_advance(job, "done", "done", NULL);
}
