/*-------------------------------------------------------------------------
 *
 * schema_guard.h
 *	  What every file of schema_guard shares: its names and version.
 *
 * The files, from the bottom up (each calls only files above it in this
 * list, never one below):
 *
 *	  compat.h         differences between PostgreSQL versions
 *	  settings.c       the GUCs
 *	  util.c           own statements, subtransactions, SPI, role switches, names
 *	  launcher.c       shared memory, wakeups, the launcher
 *	  job_catalog.c    the extension, acting as its owner, catalog statements
 *	  job_state.c      a job's states, phases and kinds, their names and order
 *	  job_leaves.c     the tables that store a job's rows, and the passes over them
 *	  job_notify.c     a job's state told to listeners, its failure's SQLSTATE
 *	  job.c            a job's rows: record, read, change state, phase, progress
 *	  job_warmup.c     what recording a job needs, loaded before the table lock
 *	  job_lookup.c     which jobs there are
 *	  job_objects.c    the objects a job made, by identity
 *	  fill_guard.c     what of a session the code a job computes with may not use
 *	  fill.c           the value a job gives rows, and the context it is computed in
 *	  bind.c           where a job's references are valid; binding it again
 *	  index_build.c    indexes reserved at the ALTER, built concurrently
 *	  index_online.c   CREATE INDEX outside a transaction block, built concurrently
 *	  exec.c           schema_guard's statements on a user's table
 *	  app_update.c     what an update of a row not filled yet cannot give
 *	  exec_stack.c     the statements the executor runs, innermost last
 *	  trigger.c        the row rule, the fill trigger, fill_value()
 *	  integrity.c      what a sound job is
 *	  lockwait.c       the ALTER's table lock, without making others queue
 *	  classify*.c      what the plain ALTER would cost (classify_default.c: the
 *	                   value existing rows get; classify_column.c: one column)
 *	  decide.c         what schema_guard does about it, in the current mode
 *	  stage*.c         the staged equivalent of an ALTER, and its job
 *	  guard_columns.c  other DDL on a job's columns and its table's tree
 *	  lockwait.c       a statement's table locks, without making others queue
 *	  lock_targets.c   which relations a statement locks, and how strongly
 *	  classify*.c      what the plain ALTER would cost
 *	  decide.c         what schema_guard does about it, in the current mode
 *	  stage*.c         the staged equivalent of an ALTER, and its job
 *	  stage_index.c    a CREATE INDEX in a transaction block, staged as a job
 *	  stage_not_valid.c  ADD CONSTRAINT CHECK / FOREIGN KEY, NOT VALID, then validated
 *	  stage_not_null.c   SET NOT NULL of an existing column, NOT VALID, then validated
 *	  stage_unique.c   ADD CONSTRAINT UNIQUE / PRIMARY KEY: the index reserved, built
 *	                   by a job, the constraint added USING INDEX
 *	  guard.c          other DDL while jobs run
 *	  throttle.c       batch size, pauses, lag, WAL rate, reclaimed space
 *	  backfill.c       one batch
 *	  finalize.c       validation and the end of a job
 *	  reindex.c        the last phase: the filled tables' indexes rebuilt
 *	  job_revert.c     undoing a job's statement
 *	  worker.c         the per-database worker: steps, errors, index builds
 *	  utility_hook.c   the ProcessUtility hook
 *	  api.c, explain.c, upgrade.c   the SQL interface
 *	  schema_guard.c   _PG_init
 *
 *-------------------------------------------------------------------------
 */
#ifndef SCHEMA_GUARD_H
#define SCHEMA_GUARD_H

#include "postgres.h"

#include "compat.h"

#define SG_EXTENSION_NAME	"schema_guard"
#define SG_SCHEMA_NAME		"schema_guard"
#define SG_EXTENSION_VERSION "0.2"		/* the SQL objects this library works with */

/* true when the library came in through shared_preload_libraries */
extern bool sg_preloaded;

#endif							/* SCHEMA_GUARD_H */
