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
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "catalog/pg_index.h"
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

static bool
constraint_validated(Oid relid, const char *conname)
{
	Oid			conoid = get_relation_constraint_oid(relid, conname, true);
	HeapTuple	tup;
	bool		validated;

	if (!OidIsValid(conoid))
		return true;			/* dropped meanwhile: nothing to validate */
	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(conoid));
	if (!HeapTupleIsValid(tup))
		return true;
	validated = ((Form_pg_constraint) GETSTRUCT(tup))->convalidated;
	ReleaseSysCache(tup);
	return validated;
}

static bool
is_index_constraint(SgJobConstraint *con)
{
	return con->index_sql != NULL;
}

static bool
is_foreign_key(SgJobConstraint *con)
{
	return strcmp(con->kind, "foreign key") == 0;
}

/*
 * The phase after "from", skipping those the job has nothing to do in.
 * The order is the order in which PostgreSQL's ALTER would find the
 * trouble, so a job fails with the error the ALTER would have raised:
 * with a rewrite, NOT NULL and CHECK as each row is written, then the
 * unique indexes, then the foreign keys; without one, the unique indexes
 * are built first and the table is scanned for the checks after.
 */
const char *
sg_phase_after(SgJob *job, const char *from)
{
	static const char *const filled[] = {"backfill", "verify", "validate", "index",
	"references", "finalize", "done", NULL};
	static const char *const unfilled[] = {"index", "validate", "references",
	"finalize", "done", NULL};
	const char *const *phases = job->leaves != NIL ? filled : unfilled;
	bool		any_validate = false;
	bool		any_index = false;
	bool		any_reference = false;
	ListCell   *lc;
	int			i;

	foreach(lc, job->columns)
		any_validate |= ((SgJobColumn *) lfirst(lc))->check_name != NULL;
	foreach(lc, job->constraints)
	{
		if (is_index_constraint(lfirst(lc)))
			any_index = true;
		else if (is_foreign_key(lfirst(lc)))
			any_reference = true;
		else
			any_validate = true;
	}
	for (i = 0; phases[i] && strcmp(phases[i], from) != 0; i++)
		;
	for (i = phases[i] ? i + 1 : 0; phases[i]; i++)
	{
		if ((strcmp(phases[i], "validate") == 0 && !any_validate) ||
			(strcmp(phases[i], "index") == 0 && !any_index) ||
			(strcmp(phases[i], "references") == 0 && !any_reference))
			continue;
		return phases[i];
	}
	return "done";
}

/*
 * The next UNIQUE or PRIMARY KEY whose index is not built yet (or was left
 * INVALID by a failed concurrent build: *invalid says so), or NULL.
 */
SgJobConstraint *
sg_next_index(SgJob *job, bool *invalid)
{
	Oid			nspid = get_rel_namespace(job->relid);
	ListCell   *lc;

	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		Oid			indexoid;
		HeapTuple	tup;
		bool		valid = false;

		if (!is_index_constraint(con) ||
			OidIsValid(get_relation_constraint_oid(job->relid, con->conname, true)))
			continue;
		indexoid = get_relname_relid(con->conname, nspid);
		if (OidIsValid(indexoid))
		{
			tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
			if (HeapTupleIsValid(tup))
			{
				Form_pg_index index = (Form_pg_index) GETSTRUCT(tup);

				/* of another table: the build reports the name taken */
				valid = index->indisvalid && index->indrelid == job->relid;
				if (index->indrelid != job->relid)
					indexoid = InvalidOid;
				ReleaseSysCache(tup);
			}
		}
		if (valid)
			continue;
		if (invalid)
			*invalid = OidIsValid(indexoid);
		return con;
	}
	return NULL;
}

/*
 * The next NOT VALID constraint of the job, and its table, or NULL when all
 * are valid.  A partitioned table's foreign key is validated leaf by leaf.
 */
static const char *
next_to_validate(SgJob *job, bool foreign_keys, Oid *relid)
{
	ListCell   *lc;

	*relid = job->relid;
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);

		if (!foreign_keys && col->check_name && current_name(job, col) &&
			!constraint_validated(job->relid, col->check_name))
			return col->check_name;
	}
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		ListCell   *rc;

		if (is_index_constraint(con) || is_foreign_key(con) != foreign_keys)
			continue;
		if (con->leaf_sql == NULL)
		{
			if (!constraint_validated(job->relid, con->conname))
				return con->conname;
			continue;
		}
		foreach(rc, find_all_inheritors(job->relid, NoLock, NULL))
		{
			*relid = lfirst_oid(rc);
			if (get_rel_relkind(*relid) == RELKIND_RELATION &&
				!constraint_validated(*relid, con->conname))
				return con->conname;
		}
		*relid = job->relid;
	}
	return NULL;
}

/*
 * Validate one constraint per step: VALIDATE CONSTRAINT scans the table
 * but blocks neither reads nor writes, and a step that commits each keeps
 * the work done when a later one fails.
 */
void
sg_finalize_validate(SgJob *job, SgStepResult *result)
{
	Oid			relid;
	const char *conname = next_to_validate(job, strcmp(job->phase, "references") == 0,
										   &relid);

	if (conname == NULL)
	{
		result->committed = sg_job_advance(job, sg_phase_after(job, job->phase), NULL, NULL);
		return;
	}
	sg_exec_as_job_role(job, psprintf("ALTER TABLE %s VALIDATE CONSTRAINT %s",
									  sg_qualified_relname(relid),
									  quote_identifier(conname)),
						false);
}

/*
 * Say a constraint violation the way the plain ALTER would have: the fill
 * expression yielding NULL for a NOT NULL column, or a row violating a
 * CHECK of the new column.  The relation named is the one whose row
 * violates it (a leaf of a partitioned table), as in the plain ALTER,
 * which checks each leaf's rows.
 */
void
sg_translate_error(SgJob *job, ErrorData *edata)
{
	ListCell   *lc;
	const char *relname = edata->table_name ? edata->table_name : get_rel_name(job->relid);

	if (edata->sqlerrcode != ERRCODE_CHECK_VIOLATION || edata->constraint_name == NULL ||
		relname == NULL)
		return;
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);

		if (col->check_name && strcmp(col->check_name, edata->constraint_name) == 0)
		{
			edata->sqlerrcode = ERRCODE_NOT_NULL_VIOLATION;
			edata->message = psprintf("column \"%s\" of relation \"%s\" contains null values",
									  current_name(job, col) ? current_name(job, col) : col->colname,
									  relname);
			edata->detail = psprintf("The fill expression %s yielded NULL for some row, "
									 "so the column cannot be made NOT NULL.", col->fill_expr);
			edata->hint = "Fill the NULLs by hand and retry the job, or revert it.";
			return;
		}
	}
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);

		if (strcmp(con->conname, edata->constraint_name) == 0)
		{
			edata->message = psprintf("check constraint \"%s\" of relation \"%s\" is violated by some row",
									  con->conname, relname);
			edata->hint = "Fix the rows and retry the job, or revert it.";
			return;
		}
	}
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

	/* an index that went missing or invalid meanwhile is built again first */
	if (sg_next_index(job, NULL) != NULL)
	{
		result->committed = sg_job_advance(job, "index", NULL, "an index must be built again");
		return;
	}

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
	}
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);

		/* USING INDEX, or a partitioned table's foreign key attaching its leaves' */
		if (con->constraint_sql &&
			!OidIsValid(get_relation_constraint_oid(job->relid, con->conname, true)))
			sg_exec_as_job_role(job, con->constraint_sql, false);
	}
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = current_name(job, col);

		if (name && col->identity)
			make_identity(job, col, table, (char *) quote_identifier(name));
	}
	foreach(lc, sg_drop_trigger_sqls(job))
		sg_exec_as_job_role(job, lfirst(lc), false);
	result->committed = sg_job_advance(job, "done", "done", NULL);
}
