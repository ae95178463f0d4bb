/*-------------------------------------------------------------------------
 *
 * settings.h
 *	  schema_guard's settings (GUCs).
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_SETTINGS_H
#define SG_SETTINGS_H

/* What the hook does with a risky statement. */
typedef enum SgMode
{
	SG_MODE_OFF,				/* behave exactly like stock PostgreSQL */
	SG_MODE_WARN,				/* warn, then run the statement as written */
	SG_MODE_BLOCK,				/* refuse the statement */
	SG_MODE_REWRITE				/* stage it; refuse forms with no online path */
} SgMode;

/* What a job does when it fails. */
typedef enum SgOnFailure
{
	SG_ON_FAILURE_KEEP,			/* keep its helpers, for retry() */
	SG_ON_FAILURE_REVERT		/* undo the statement, as revert() does */
} SgOnFailure;

extern int	sg_mode;
extern int	sg_on_failure;
extern int	sg_min_table_size_kb;
extern int	sg_lock_timeout_ms;
extern int	sg_lock_retries;
extern int	sg_batch_time_ms;
extern int	sg_batch_delay_ms;
extern int	sg_batch_min_blocks;
extern int	sg_batch_max_blocks;
extern bool sg_reclaim;
extern bool sg_reindex;
extern bool sg_yield_to_load;
extern int	sg_min_backfill_share;
extern int	sg_worker_nice;
extern int	sg_max_replication_lag_kb;
extern int	sg_max_wal_rate_kb;
extern int	sg_max_workers;
extern int	sg_naptime_s;

extern void sg_define_settings(void);

#endif							/* SG_SETTINGS_H */
