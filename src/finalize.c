/*-------------------------------------------------------------------------
 *
 * finalize.c
 *	  The end of a job: turn the staged column into exactly what the plain
 *	  ALTER would have produced, in short lock-bounded transactions.
 *
 * After the backfill (backfill.c) a job goes through the phases that
 * sg_phase_after() (job_state.c) gives it, each one step or more, in the
 * order the plain ALTER would have met their errors:
 *
 *	validate    VALIDATE CONSTRAINT on each helper check (c IS NOT NULL),
 *	            or on 18 each NOT NULL constraint, and each CHECK added NOT
 *	            VALID, one per step; it scans the table but blocks neither
 *	            reads nor writes.
 *	index       the UNIQUE and PRIMARY KEY indexes the ALTER reserved: the
 *	            worker builds each concurrently, at top level, one per step
 *	            (sg_next_index says which).
 *	references  VALIDATE CONSTRAINT on each foreign key, one per step.
 *	finalize    in one transaction: SET NOT NULL (proven by the validated
 *	            helper check, so without a scan), the helper checks dropped
 *	            (a validated NOT NULL constraint of 18 stays as it is),
 *	            UNIQUE and PRIMARY KEY attached USING INDEX, foreign keys of
 *	            partitioned tables attached, a staged identity column made a
 *	            real one whose sequence continues where the staging sequence
 *	            stopped, the fill trigger dropped, the job done.
 *
 * A staged SET NOT NULL of existing columns (stage_not_null.c) has only
 * the validate and finalize phases, for the helpers of its columns.
 *
 * Every step is idempotent and runs as the job's role, with its locks
 * bounded by schema_guard.lock_timeout; the worker retries it.  A failing
 * step fails the job with the error the plain ALTER would have raised
 * (sg_translate_error).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "catalog/dependency.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_type.h"
#include "catalog/pg_index.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "exec.h"
#include "finalize.h"
#include "util.h"

/* The column as it is now, or NULL if it was dropped meanwhile. */
static char *
current_name(SgJob *job, SgJobColumn *col)
{
	return sg_column_name(job->relid, col->attnum);
}

/* The job's constraint an object stands for, NULL for a helper check. */
static SgJobConstraint *
constraint_of(SgJob *job, SgJobObject *obj)
{
	ListCell   *lc;

	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);

		if (strcmp(con->conname, obj->name) == 0)
			return con;
	}
	return NULL;
}

static bool
is_foreign_key_object(SgJob *job, SgJobObject *obj)
{
	SgJobConstraint *con = constraint_of(job, obj);

	return con != NULL && con->kind == SG_CONSTRAINT_FOREIGN_KEY;
}

/*
 * The next index of the job that is not built yet (invalid, as the ALTER
 * reserved it or as a failed build left it), or NULL.  A partitioned
 * index is not built but made valid by sg_validate_partitioned_indexes;
 * a partition's index that is gone went with its partition.
 */
SgJobObject *
sg_next_index(SgJob *job)
{
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		SgIndexState state;

		if (obj->kind != SG_OBJECT_INDEX)
			continue;
		state = sg_index_state(obj->objid, obj->relid);
		if (state == SG_INDEX_VALID ||
			(state == SG_INDEX_MISSING && obj->relid != job->relid) ||
			(state == SG_INDEX_INVALID &&
			 get_rel_relkind(obj->objid) == RELKIND_PARTITIONED_INDEX))
			continue;
		return obj;
	}
	return NULL;
}

/*
 * Once every leaf's index is built: the job's partitioned indexes made
 * valid, each once all of its partitions' are, the deepest first.  One
 * whose partitions lack an index (one attached invalid, as PostgreSQL
 * leaves it too) stays invalid.
 */
void
sg_validate_partitioned_indexes(SgJob *job)
{
	int			i;

	for (i = list_length(job->objects) - 1; i >= 0; i--)
	{
		SgJobObject *obj = list_nth(job->objects, i);

		if (obj->kind == SG_OBJECT_INDEX &&
			sg_index_state(obj->objid, obj->relid) == SG_INDEX_INVALID &&
			get_rel_relkind(obj->objid) == RELKIND_PARTITIONED_INDEX)
			sg_validate_partitioned_index(obj->objid);
	}
}

/*
 * The next NOT VALID constraint of the job (the helper checks and CHECK
 * constraints, or the foreign keys), or NULL when all are valid.  A
 * partitioned table's foreign key is validated leaf by leaf.
 */
static SgJobObject *
next_to_validate(SgJob *job, bool foreign_keys)
{
	bool		by_column = sg_job_sets_not_null(job);
	SgJobObject *next = NULL;
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind != SG_OBJECT_HELPER_CHECK && obj->kind != SG_OBJECT_CONSTRAINT)
			continue;
		if (is_foreign_key_object(job, obj) != foreign_keys)
			continue;
		if (sg_object_validated(obj))
			continue;
		/* a staged SET NOT NULL: the columns in their order, as PostgreSQL checks them */
		if (next == NULL)
			next = obj;
		else if (by_column && sg_object_column(obj) < sg_object_column(next))
			next = obj;
		if (!by_column)
			break;
	}
	return next;
}

/*
 * Validate one constraint per step: VALIDATE CONSTRAINT scans the table
 * but blocks neither reads nor writes, and a step that commits each keeps
 * the work done when a later one fails.  The NOT NULL constraints (18) of
 * a staged SET NOT NULL are validated together, in one scan that meets a
 * NULL where the plain statement's scan would, row by row, column by
 * column.
 */
void
sg_finalize_validate(SgJob *job, SgStepResult *result)
{
	SgJobObject *obj = next_to_validate(job, job->phase == SG_PHASE_REFERENCES);
	StringInfoData sql;
	ListCell   *lc;

	if (obj == NULL)
	{
		result->committed = sg_job_advance(job, sg_phase_after(job, job->phase), SG_STATE_UNCHANGED, NULL);
		return;
	}
	initStringInfo(&sql);
	appendStringInfo(&sql, "ALTER TABLE %s VALIDATE CONSTRAINT %s",
					 sg_qualified_relname(obj->relid), quote_identifier(sg_object_name(obj)));
	if (sg_job_sets_not_null(job) && sg_object_is_not_null(obj))
	{
		foreach(lc, job->objects)
		{
			SgJobObject *other = lfirst(lc);

			if (other != obj && other->kind == SG_OBJECT_HELPER_CHECK &&
				!sg_object_validated(other) && sg_object_is_not_null(other))
				appendStringInfo(&sql, ", VALIDATE CONSTRAINT %s",
								 quote_identifier(sg_object_name(other)));
		}
	}
	sg_exec_as_owner(job, sql.data, false);
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
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *name;
		ListCell   *cc;

		if (obj->kind != SG_OBJECT_HELPER_CHECK && obj->kind != SG_OBJECT_CONSTRAINT)
			continue;
		name = sg_object_name(obj);
		if (name == NULL || strcmp(name, edata->constraint_name) != 0)
			continue;
		if (obj->kind == SG_OBJECT_CONSTRAINT)
		{
			edata->message = psprintf("check constraint \"%s\" of relation \"%s\" is violated by some row",
									  name, relname);
			edata->hint = "Fix the rows and retry the job, or revert it.";
			return;
		}
		foreach(cc, job->columns)
		{
			SgJobColumn *col = lfirst(cc);

			if (col->check_name == NULL || strcmp(col->check_name, obj->name) != 0)
				continue;
			edata->sqlerrcode = ERRCODE_NOT_NULL_VIOLATION;
			edata->message = psprintf("column \"%s\" of relation \"%s\" contains null values",
									  current_name(job, col) ? current_name(job, col) : col->colname,
									  relname);
			edata->detail = psprintf("The fill expression %s yielded NULL for some row, "
									 "so the column cannot be made NOT NULL.", col->fill_expr);
			edata->hint = "Fill the NULLs by hand and retry the job, or revert it.";
			return;
		}
		/* a staged SET NOT NULL: PostgreSQL's own error, as it scans the table */
		if (sg_job_sets_not_null(job))
		{
			char	   *colname = sg_column_name(obj->relid, sg_object_column(obj));

			edata->sqlerrcode = ERRCODE_NOT_NULL_VIOLATION;
			edata->message = psprintf("column \"%s\" of relation \"%s\" contains null values",
									  colname ? colname : obj->name, relname);
			edata->detail = NULL;
			edata->hint = "Fill the NULLs and retry the job, or revert it.";
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
	Relation	rel;

	if (get_rel_name(col->staging_seq) == NULL)
		return;					/* converted by an earlier attempt */

	sg_spi_connect();
	SPI_execute(psprintf("SELECT last_value, is_called FROM %s", seq), true, 0);
	last_value = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	is_called = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull));
	sg_spi_finish();

	sg_exec_as_owner(job, psprintf("ALTER TABLE %s ALTER COLUMN %s DROP DEFAULT", table, column), false);
	sg_exec_as_owner(job, psprintf("DROP SEQUENCE %s", seq), false);
	sg_exec_as_owner(job, psprintf("ALTER TABLE %s ALTER COLUMN %s ADD GENERATED %s AS IDENTITY%s%s%s",
									  table, column,
									  col->identity == ATTRIBUTE_IDENTITY_ALWAYS ? "ALWAYS" : "BY DEFAULT",
									  col->identity_options ? " (" : "",
									  col->identity_options ? col->identity_options : "",
									  col->identity_options ? ")" : ""),
						false);

	rel = relation_open(job->relid, AccessShareLock);
	identity_seq = sg_identity_sequence(rel, col->attnum);
	relation_close(rel, AccessShareLock);
	values[0] = ObjectIdGetDatum(identity_seq);
	values[1] = Int64GetDatum(last_value);
	values[2] = BoolGetDatum(is_called);
	sg_spi_connect();
	SPI_execute_with_args("SELECT pg_catalog.setval($1::pg_catalog.regclass, $2, $3)",
						  3, types, values, NULL, false, 0);
	sg_spi_finish();
}

/* ADD CONSTRAINT ... USING INDEX, under the index's name of the moment. */
static void
attach_index_constraint(SgJob *job, SgJobObject *obj)
{
	SgJobConstraint *con = constraint_of(job, obj);
	char	   *name = sg_object_name(obj);

	if (con == NULL || name == NULL || OidIsValid(get_index_constraint(obj->objid)))
		return;
	sg_exec_as_owner(job, psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s%s",
								   sg_qualified_relname(obj->relid), quote_identifier(name),
								   con->kind == SG_CONSTRAINT_PRIMARY_KEY ? "PRIMARY KEY" : "UNIQUE",
								   quote_identifier(name),
								   con->deferrable ? " DEFERRABLE" : "",
								   con->initdeferred ? " INITIALLY DEFERRED" : ""),
					 false);
}

/*
 * The partitioned table's constraint conname, defined as a leaf's
 * constraint leaf_con: ADD CONSTRAINT on the parent finds the leaves' and
 * attaches them.
 */
static void
add_parent_constraint(SgJob *job, const char *conname, Oid leaf_con)
{
	sg_exec_as_owner(job, psprintf("ALTER TABLE %s ADD CONSTRAINT %s %s",
								   sg_qualified_relname(job->relid), quote_identifier(conname),
								   TextDatumGetCString(DirectFunctionCall1(pg_get_constraintdef,
																		   ObjectIdGetDatum(leaf_con)))),
					 false);
}

/* Is one of the job's indexes (on any of its tables) named so? */
static bool
index_named(SgJob *job, const char *name)
{
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == SG_OBJECT_INDEX && strcmp(obj->name, name) == 0)
			return true;
	}
	return false;
}

/*
 * A partitioned table's UNIQUE or PRIMARY KEY, added once every leaf has
 * its own (attach_index_constraint): the parent's constraint attaches the
 * leaves' with their indexes instead of building any.  Its definition is
 * a leaf's.  The parent's is the job's constraint no index stands for.
 */
static void
attach_partitioned_unique(SgJob *job)
{
	ListCell   *lc;

	if (get_rel_relkind(job->relid) != RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		ListCell   *oc;

		if (!sg_constraint_is_index(con->kind) || index_named(job, con->conname) ||
			OidIsValid(get_relation_constraint_oid(job->relid, con->conname, true)))
			continue;
		foreach(oc, job->objects)
		{
			SgJobObject *obj = lfirst(oc);
			Oid			leaf_con;

			if (obj->kind != SG_OBJECT_INDEX ||
				!OidIsValid(leaf_con = get_index_constraint(obj->objid)))
				continue;
			add_parent_constraint(job, con->conname, leaf_con);
			break;
		}
	}
}

/*
 * A partitioned table's foreign key, added once every leaf has it
 * validated: the parent's constraint attaches the leaves' instead of
 * checking the rows again.  Its definition is a leaf's, with the names of
 * the moment.
 */
static void
attach_partitioned_foreign_keys(SgJob *job)
{
	ListCell   *lc;

	if (get_rel_relkind(job->relid) != RELKIND_PARTITIONED_TABLE)
		return;
	foreach(lc, job->constraints)
	{
		SgJobConstraint *con = lfirst(lc);
		ListCell   *oc;

		if (con->kind != SG_CONSTRAINT_FOREIGN_KEY ||
			OidIsValid(get_relation_constraint_oid(job->relid, con->conname, true)))
			continue;
		foreach(oc, job->objects)
		{
			SgJobObject *obj = lfirst(oc);

			if (obj->kind != SG_OBJECT_CONSTRAINT || strcmp(obj->name, con->conname) != 0 ||
				sg_object_name(obj) == NULL)
				continue;
			add_parent_constraint(job, con->conname, obj->objid);
			break;
		}
	}
}

/*
 * SET NOT NULL of a column whose helper check is validated, then the
 * helper dropped.  A validated NOT NULL constraint (18) is the column's
 * own already.
 */
static void
set_not_null(SgJob *job, const char *table, const char *column, SgJobObject *check)
{
	char	   *drop;

	if (check && sg_object_is_not_null(check))
		return;
	drop = check ? sg_object_drop_sql(check) : NULL;
	/* proven by the validated check: no scan */
	sg_exec_as_owner(job, psprintf("ALTER TABLE %s ALTER COLUMN %s SET NOT NULL",
								   table, quote_identifier(column)), false);
	if (drop)
		sg_exec_as_owner(job, drop, false);
}

void
sg_finalize_complete(SgJob *job, SgStepResult *result)
{
	char	   *table = sg_qualified_relname(job->relid);
	ListCell   *lc;
	SgJobPhase	next;

	/* an index that went missing or invalid meanwhile is built again first */
	if (sg_next_index(job) != NULL)
	{
		result->committed = sg_job_advance(job, SG_PHASE_INDEX, SG_STATE_UNCHANGED, "an index must be built again");
		return;
	}

	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = current_name(job, col);

		if (name != NULL && col->check_name != NULL)
			set_not_null(job, table, name,
						 sg_job_object(job, SG_OBJECT_HELPER_CHECK, job->relid, col->check_name));
	}
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *name;

		if (obj->kind == SG_OBJECT_INDEX)
			attach_index_constraint(job, obj);
		/* a staged SET NOT NULL: each of its columns */
		else if (obj->kind == SG_OBJECT_HELPER_CHECK && sg_job_sets_not_null(job) &&
				 (name = sg_column_name(obj->relid, sg_object_column(obj))) != NULL)
			set_not_null(job, table, name, obj);
	}
	attach_partitioned_unique(job);
	attach_partitioned_foreign_keys(job);
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		char	   *name = current_name(job, col);

		if (name && col->identity)
			make_identity(job, col, table, (char *) quote_identifier(name));
	}
	foreach(lc, sg_job_drop_sqls(job, SG_OBJECT_FILL_TRIGGER))
		sg_exec_as_owner(job, lfirst(lc), false);

	/*
	 * The ACCESS EXCLUSIVE lock taken above queues every session of the
	 * table: it goes at commit, not after the disk took the commit.  A
	 * finalize that a crash loses is done again, the table as it was.
	 */
	sg_commit_without_flush();
	next = sg_phase_after(job, SG_PHASE_FINALIZE);
	result->committed = sg_job_advance(job, next,
									   next == SG_PHASE_DONE ? SG_STATE_DONE : SG_STATE_UNCHANGED,
									   NULL);
}
