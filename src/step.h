/*-------------------------------------------------------------------------
 *
 * step.h
 *	  What one step of a job (a backfill batch, a validation, the end)
 *	  reports back to the worker loop.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_STEP_H
#define SG_STEP_H

typedef struct SgStepResult
{
	bool		committed;		/* false: the job changed state meanwhile */
	int64		rows;			/* rows filled */
	int64		blocks;			/* blocks covered */
	double		elapsed_ms;		/* time spent in the batch statement */
	bool		batch;			/* a backfill batch (not a phase change) */
	int			waiters;		/* backends the batch made wait for a lock */
	int			app_backends;	/* client backends running a statement */
	Oid			build_index;	/* an index to build at top level, next */
	Oid			build_relid;	/* its table */
	Oid			rebuild_index;	/* an index to rebuild at top level, next */
} SgStepResult;

#endif							/* SG_STEP_H */
