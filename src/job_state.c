/*-------------------------------------------------------------------------
 *
 * job_state.c
 *	  The names of a job's states, phases and kinds as SQL shows them and
 *	  the job catalog stores them, which states are finished, and the
 *	  order of the phases.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "schema_guard.h"
#include "job.h"
#include "settings.h"

static const char *const state_names[] = {
	[SG_STATE_QUEUED] = "queued",
	[SG_STATE_RUNNING] = "running",
	[SG_STATE_PAUSED] = "paused",
	[SG_STATE_FAILED] = "failed",
	[SG_STATE_CANCELLED] = "cancelled",
	[SG_STATE_REVERTED] = "reverted",
	[SG_STATE_DONE] = "done"
};

static const char *const phase_names[] = {
	[SG_PHASE_BACKFILL] = "backfill",
	[SG_PHASE_VERIFY] = "verify",
	[SG_PHASE_VALIDATE] = "validate",
	[SG_PHASE_INDEX] = "index",
	[SG_PHASE_REFERENCES] = "references",
	[SG_PHASE_FINALIZE] = "finalize",
	[SG_PHASE_REINDEX] = "reindex",
	[SG_PHASE_DONE] = "done"
};

static const char *const object_kind_names[] = {
	[SG_OBJECT_FILL_TRIGGER] = "fill trigger",
	[SG_OBJECT_HELPER_CHECK] = "helper check",
	[SG_OBJECT_CONSTRAINT] = "constraint",
	[SG_OBJECT_INDEX] = "index"
};

static const char *const constraint_kind_names[] = {
	[SG_CONSTRAINT_CHECK] = "check",
	[SG_CONSTRAINT_FOREIGN_KEY] = "foreign key",
	[SG_CONSTRAINT_UNIQUE] = "unique",
	[SG_CONSTRAINT_PRIMARY_KEY] = "primary key"
};

const char *
sg_state_name(SgJobState state)
{
	return state_names[state];
}

const char *
sg_phase_name(SgJobPhase phase)
{
	return phase_names[phase];
}

const char *
sg_object_kind_name(SgObjectKind kind)
{
	return object_kind_names[kind];
}

const char *
sg_constraint_kind_name(SgConstraintKind kind)
{
	return constraint_kind_names[kind];
}

/* The entry of names that is name; the catalog's CHECKs allow no other. */
static int
from_name(const char *const *names, int n, const char *name)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	elog(ERROR, "unknown name in schema_guard's job catalog: \"%s\"", name);
	return 0;					/* keep compiler quiet */
}

SgObjectKind
sg_object_kind_from_name(const char *name)
{
	return (SgObjectKind) from_name(object_kind_names, lengthof(object_kind_names), name);
}

SgConstraintKind
sg_constraint_kind_from_name(const char *name)
{
	return (SgConstraintKind) from_name(constraint_kind_names,
										lengthof(constraint_kind_names), name);
}

SgJobState
sg_state_from_name(const char *name)
{
	return (SgJobState) from_name(state_names, lengthof(state_names), name);
}

SgJobPhase
sg_phase_from_name(const char *name)
{
	return (SgJobPhase) from_name(phase_names, lengthof(phase_names), name);
}

/* Done, cancelled, reverted: nothing more happens to the job. */
bool
sg_state_finished(SgJobState state)
{
	return state == SG_STATE_DONE || state == SG_STATE_CANCELLED ||
		state == SG_STATE_REVERTED;
}

/* Queued, running: the worker takes its next step. */
bool
sg_state_runnable(SgJobState state)
{
	return state == SG_STATE_QUEUED || state == SG_STATE_RUNNING;
}

/* Is the constraint built on an index (reserved by the ALTER)? */
bool
sg_constraint_is_index(SgConstraintKind kind)
{
	return kind == SG_CONSTRAINT_UNIQUE || kind == SG_CONSTRAINT_PRIMARY_KEY;
}

/*
 * The phase after "from", skipping those the job has nothing to do in.
 * The order is the order in which PostgreSQL's ALTER would find the
 * trouble, so a job fails with the error the ALTER would have raised:
 * with a rewrite, NOT NULL and CHECK as each row is written, then the
 * unique indexes, then the foreign keys; without one (no column to fill),
 * the unique indexes are built first and the table is scanned for the
 * checks after.
 */
SgJobPhase
sg_phase_after(const SgJob *job, SgJobPhase from)
{
	static const SgJobPhase filled[] = {SG_PHASE_BACKFILL, SG_PHASE_VERIFY,
		SG_PHASE_VALIDATE, SG_PHASE_INDEX, SG_PHASE_REFERENCES, SG_PHASE_FINALIZE,
	SG_PHASE_REINDEX, SG_PHASE_DONE};
	static const SgJobPhase unfilled[] = {SG_PHASE_INDEX, SG_PHASE_VALIDATE,
	SG_PHASE_REFERENCES, SG_PHASE_FINALIZE, SG_PHASE_DONE};
	const SgJobPhase *phases = job->leaves != NIL ? filled : unfilled;
	int			nphases = job->leaves != NIL ? lengthof(filled) : lengthof(unfilled);
	bool		has[SG_PHASE_DONE + 1] = {0};
	ListCell   *lc;
	int			i;

	/* a job that filled rows rebuilds its tables' indexes, as a rewrite would */
	has[SG_PHASE_REINDEX] = sg_reindex;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == SG_OBJECT_HELPER_CHECK)
			has[SG_PHASE_VALIDATE] = true;
		else if (obj->kind == SG_OBJECT_INDEX)
			has[SG_PHASE_INDEX] = true;
		else if (obj->kind == SG_OBJECT_CONSTRAINT)
		{
			/* a foreign key is validated in its own phase, a CHECK is not */
			bool		foreign_key = false;
			ListCell   *cc;

			foreach(cc, job->constraints)
			{
				SgJobConstraint *con = lfirst(cc);

				if (strcmp(con->conname, obj->name) == 0)
				{
					foreign_key = con->kind == SG_CONSTRAINT_FOREIGN_KEY;
					break;
				}
			}
			has[foreign_key ? SG_PHASE_REFERENCES : SG_PHASE_VALIDATE] = true;
		}
	}
	for (i = 0; i < nphases && phases[i] != from; i++)
		;
	for (i = i < nphases ? i + 1 : 0; i < nphases; i++)
	{
		if ((phases[i] == SG_PHASE_VALIDATE || phases[i] == SG_PHASE_INDEX ||
			 phases[i] == SG_PHASE_REFERENCES || phases[i] == SG_PHASE_REINDEX) &&
			!has[phases[i]])
			continue;
		return phases[i];
	}
	return SG_PHASE_DONE;
}

/*
 * Did the job's statement add columns?  A job that did not (a CREATE
 * INDEX, an ADD CONSTRAINT) has only objects: it ends when they are gone.
 */
bool
sg_job_adds_columns(const SgJob *job)
{
	return job->columns != NIL || job->added_attnums != NIL;
}

/*
 * Is the job a staged SET NOT NULL of existing columns?  It adds no
 * columns and has only the constraints that stand for their NOT NULL.
 */
bool
sg_job_sets_not_null(const SgJob *job)
{
	ListCell   *lc;

	if (sg_job_adds_columns(job))
		return false;
	foreach(lc, job->objects)
		if (((SgJobObject *) lfirst(lc))->kind == SG_OBJECT_HELPER_CHECK)
			return true;
	return false;
}
