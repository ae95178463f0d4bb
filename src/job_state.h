/*-------------------------------------------------------------------------
 *
 * job_state.h
 *	  A job's states, phases and kinds, and their names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_STATE_H
#define SG_JOB_STATE_H

/*
 * A job's state.  SQL shows the names (sg_state_name); the finished ones
 * are the same three in C (sg_state_finished) and in SQL
 * (SG_FINISHED_STATES_SQL).
 */
typedef enum SgJobState
{
	SG_STATE_QUEUED,
	SG_STATE_RUNNING,
	SG_STATE_PAUSED,
	SG_STATE_FAILED,
	SG_STATE_CANCELLED,
	SG_STATE_REVERTED,
	SG_STATE_DONE
} SgJobState;

/* Sets of states: the states a change of state is allowed from. */
#define SG_STATE_BIT(s)		(1u << (s))
#define SG_ACTIVE_STATES	(SG_STATE_BIT(SG_STATE_QUEUED) | SG_STATE_BIT(SG_STATE_RUNNING))
#define SG_UNFINISHED_STATES \
	(SG_ACTIVE_STATES | SG_STATE_BIT(SG_STATE_PAUSED) | SG_STATE_BIT(SG_STATE_FAILED))

#define SG_FINISHED_STATES_SQL "('done', 'cancelled', 'reverted')"
#define SG_RUNNABLE_STATES_SQL "('queued', 'running')"

/* Where a job is, in the order a job goes through them. */
typedef enum SgJobPhase
{
	SG_PHASE_BACKFILL,			/* the blocks that existed at the ALTER */
	SG_PHASE_VERIFY,			/* the whole table once more */
	SG_PHASE_VALIDATE,			/* helper checks and CHECK constraints */
	SG_PHASE_INDEX,				/* the indexes the ALTER reserved */
	SG_PHASE_REFERENCES,		/* foreign keys */
	SG_PHASE_FINALIZE,			/* NOT NULL, USING INDEX, identity, clean-up */
	SG_PHASE_REINDEX,			/* the filled tables' indexes rebuilt */
	SG_PHASE_DONE
} SgJobPhase;

#define SG_PHASE_UNCHANGED ((SgJobPhase) -1)
#define SG_STATE_UNCHANGED ((SgJobState) -1)

/* What kind of object a job made. */
typedef enum SgObjectKind
{
	SG_OBJECT_FILL_TRIGGER,
	SG_OBJECT_HELPER_CHECK,		/* CHECK (c IS NOT NULL) NOT VALID */
	SG_OBJECT_CONSTRAINT,		/* a CHECK or FOREIGN KEY added NOT VALID */
	SG_OBJECT_INDEX				/* reserved for a UNIQUE or PRIMARY KEY */
} SgObjectKind;

/* What kind of constraint of an added column a job finishes. */
typedef enum SgConstraintKind
{
	SG_CONSTRAINT_CHECK,
	SG_CONSTRAINT_FOREIGN_KEY,
	SG_CONSTRAINT_UNIQUE,
	SG_CONSTRAINT_PRIMARY_KEY
} SgConstraintKind;

extern const char *sg_state_name(SgJobState state);
extern const char *sg_phase_name(SgJobPhase phase);
extern const char *sg_object_kind_name(SgObjectKind kind);
extern const char *sg_constraint_kind_name(SgConstraintKind kind);
extern bool sg_state_finished(SgJobState state);
extern bool sg_state_runnable(SgJobState state);
extern SgJobState sg_state_from_name(const char *name);
extern SgJobPhase sg_phase_from_name(const char *name);
extern SgObjectKind sg_object_kind_from_name(const char *name);
extern SgConstraintKind sg_constraint_kind_from_name(const char *name);

struct SgJob;
extern SgJobPhase sg_phase_after(const struct SgJob *job, SgJobPhase from);
extern bool sg_constraint_is_index(SgConstraintKind kind);
extern bool sg_job_adds_columns(const struct SgJob *job);
extern bool sg_job_sets_not_null(const struct SgJob *job);

#endif							/* SG_JOB_STATE_H */
