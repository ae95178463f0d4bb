/*-------------------------------------------------------------------------
 *
 * schema_guard.h
 *	  Settings and entry points shared by the parts of schema_guard.
 *
 * The path of one ALTER through the files:
 *	  utility_hook.c  sees the statement and decides what to do with it
 *	  classify.c      decides, per ADD COLUMN, what the plain ALTER would cost
 *	  stage.c         runs the staged equivalent and records the job
 *	  job.c           reads and writes the job catalog (the only truth)
 *	  launcher.c      starts one worker per database with runnable jobs
 *	  worker.c        runs a database's jobs, one short transaction per step
 *	  backfill.c      one batch: fill the rows that predate the column
 *	  finalize.c      validate, set NOT NULL, convert identity, clean up
 *	  trigger.c       fills old rows touched by the application meanwhile
 *	  api.c, explain.c  the SQL interface
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_GUARD_H
#define SCHEMA_GUARD_H

#include "postgres.h"

#include "compat.h"
#include "utils/elog.h"
#include "utils/palloc.h"
#include "utils/resowner.h"

#define SG_EXTENSION_NAME	"schema_guard"
#define SG_SCHEMA_NAME		"schema_guard"
#define SG_EXTENSION_VERSION "0.2"		/* the SQL objects this library works with */

/* What the hook does with a risky ADD COLUMN. */
typedef enum SgMode
{
	SG_MODE_OFF,				/* behave exactly like stock PostgreSQL */
	SG_MODE_WARN,				/* warn, then run the statement as written */
	SG_MODE_BLOCK,				/* refuse the statement */
	SG_MODE_REWRITE				/* stage it; refuse forms with no online path */
} SgMode;

/* Settings (schema_guard.c) */
extern int	sg_mode;
extern int	sg_min_table_size_kb;
extern int	sg_lock_timeout_ms;
extern int	sg_lock_retries;
extern int	sg_batch_time_ms;
extern int	sg_batch_delay_ms;
extern int	sg_batch_min_blocks;
extern int	sg_batch_max_blocks;
extern bool sg_reclaim;
extern int	sg_max_replication_lag_kb;
extern int	sg_max_wal_rate_kb;
extern int	sg_max_workers;
extern int	sg_naptime_s;

/* true when the library came in through shared_preload_libraries */
extern bool sg_preloaded;

/*
 * true while schema_guard runs statements of its own, in a backend or in a
 * worker: the hook must let them through untouched.
 */
extern bool sg_running_own_statement;

/* utility_hook.c */
extern void sg_install_utility_hook(void);
extern bool sg_extension_active(void);
extern void sg_require_update(void);
extern void sg_run_own_sql(const char *sql);
extern ErrorData *sg_abort_subxact(MemoryContext cxt, ResourceOwner owner);

/* launcher.c */
extern void sg_launcher_register(void);
extern void sg_shmem_request(void);
extern void sg_shmem_startup(void);
extern void sg_request_worker_at_commit(void);
extern void sg_xact_callback_register(void);

#endif							/* SCHEMA_GUARD_H */
