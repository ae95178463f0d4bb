/* schema_guard--0.1--0.2.sql */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION schema_guard UPDATE TO '0.2'" to load this file. \quit

--
-- 0.2 binds a job to the objects its ALTER resolved and made, by OID in the
-- cluster it was made in and by name elsewhere, carries the ALTER's
-- settings, and reserves the indexes it builds.
--

ALTER TABLE schema_guard.jobs
    ADD COLUMN settings text[] NOT NULL DEFAULT '{}',
    ADD COLUMN bound_to text NOT NULL DEFAULT '',
    ADD COLUMN error_sqlstate text,
    ADD COLUMN unsound text;

-- a job that filled rows rebuilds its tables' indexes last
ALTER TABLE schema_guard.jobs DROP CONSTRAINT jobs_phase_check;
ALTER TABLE schema_guard.jobs ADD CONSTRAINT jobs_phase_check
    CHECK (phase IN ('backfill', 'verify', 'validate', 'index',
                     'references', 'finalize', 'reindex', 'done'));

ALTER TABLE schema_guard.job_columns
    ADD COLUMN fill_sql text,
    ADD COLUMN atttype regtype,
    ADD COLUMN atttypmod integer;

ALTER TABLE schema_guard.job_constraints
    ADD COLUMN is_deferrable boolean NOT NULL DEFAULT false,
    ADD COLUMN is_deferred boolean NOT NULL DEFAULT false;
UPDATE schema_guard.job_constraints
   SET is_deferrable = coalesce(constraint_sql LIKE '% USING INDEX % DEFERRABLE%', false),
       is_deferred = coalesce(constraint_sql LIKE '% INITIALLY DEFERRED%', false)
 WHERE index_sql IS NOT NULL;

CREATE TABLE schema_guard.job_objects (
    job_id   bigint NOT NULL,
    kind     text NOT NULL
             CHECK (kind IN ('fill trigger', 'helper check', 'constraint', 'index')),
    relid    regclass NOT NULL,
    name     name NOT NULL,
    objid    oid NOT NULL,
    definition text,
    PRIMARY KEY (job_id, kind, relid, name)
);
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_objects', '');

-- what SQL cannot do: qualify the fill expressions, pin the search_paths,
-- find the objects of unfinished jobs, reserve their indexes
CREATE FUNCTION schema_guard.upgrade_jobs_0_2() RETURNS void
AS 'MODULE_PATHNAME', 'sg_upgrade_jobs_0_2' LANGUAGE C;
SELECT schema_guard.upgrade_jobs_0_2();
DROP FUNCTION schema_guard.upgrade_jobs_0_2();

ALTER TABLE schema_guard.job_columns
    ALTER COLUMN fill_sql SET NOT NULL,
    ALTER COLUMN atttype SET NOT NULL,
    ALTER COLUMN atttypmod SET NOT NULL;
ALTER TABLE schema_guard.job_constraints
    DROP COLUMN index_sql,
    DROP COLUMN constraint_sql,
    DROP COLUMN leaf_sql;

CREATE OR REPLACE FUNCTION schema_guard.fill_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'sg_fill_trigger_v2'
LANGUAGE C;

CREATE OR REPLACE FUNCTION schema_guard.fill_value(job bigint, attnum int2, leaf regclass, type anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'sg_fill_value_v2'
LANGUAGE C VOLATILE;

-- For a worker backing off after a lock wait timed out: who held the lock.
CREATE FUNCTION schema_guard.worker_blockers(
    OUT database oid, OUT pid integer, OUT blocked_by integer[],
    OUT blocked_by_prepared xid[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sg_worker_blockers'
LANGUAGE C STRICT VOLATILE;

-- The views, as a fresh install makes them: every column listed, error
-- texts only for who may read the table, every view a security barrier.
DROP VIEW schema_guard.history, schema_guard.progress, schema_guard.jobs_visible;

-- Jobs the current role may see: those on tables it owns (or whose owner
-- it is a member of), and every job for members of pg_read_all_stats.
-- A job's error texts can hold the table's values (a duplicate key, a
-- failing row, what the default's code put in its message): they are shown
-- only to roles that may read the whole table, its owner's members and
-- roles with SELECT on it that row-level security does not restrict.
CREATE VIEW schema_guard.jobs_visible WITH (security_barrier) AS
SELECT j.job_id, j.relid, j.role, j.state, j.phase, j.statement, j.search_path,
       j.settings, j.bound_to, j.trigger_name, j.added_columns, j.created_at,
       j.locked_at, j.lock_wait, j.started_at, j.finished_at, j.updated_at,
       j.blocks_total, j.blocks_done, j.rows_done, j.batches, j.retries,
       j.batch_blocks, j.batch_time, j.batch_delay,
       CASE WHEN r.may_read THEN j.last_error END AS last_error,
       CASE WHEN r.may_read THEN j.error_detail END AS error_detail,
       j.error_sqlstate,
       CASE WHEN r.may_read THEN j.unsound END AS unsound
  FROM schema_guard.jobs j,
       LATERAL (SELECT COALESCE((SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE')
                                        OR (pg_catalog.has_table_privilege(c.oid, 'SELECT')
                                            AND NOT pg_catalog.row_security_active(c.oid))
                                   FROM pg_catalog.pg_class c WHERE c.oid = j.relid),
                                false) AS may_read) r
 WHERE pg_catalog.pg_has_role(j.role, 'USAGE')
    OR pg_catalog.pg_has_role('pg_read_all_stats', 'USAGE')
    OR EXISTS (SELECT 1 FROM pg_catalog.pg_class c
                WHERE c.oid = j.relid
                  AND pg_catalog.pg_has_role(c.relowner, 'USAGE'));

CREATE VIEW schema_guard.progress WITH (security_barrier) AS
SELECT j.job_id AS job,
       j.relid AS "table",
       (SELECT pg_catalog.array_agg(DISTINCT c.colname)
          FROM (SELECT colname FROM schema_guard.job_columns WHERE job_id = j.job_id
                UNION ALL
                SELECT a.attname FROM schema_guard.job_constraints k
                  JOIN pg_catalog.pg_attribute a ON a.attrelid = j.relid AND a.attnum = k.attnum
                 WHERE k.job_id = j.job_id) c) AS columns,
       j.state,
       j.phase,
       j.blocks_done,
       j.blocks_total,
       j.rows_done,
       CASE WHEN j.phase = 'done' THEN 100.0
            WHEN j.blocks_total = 0 THEN NULL
            ELSE pg_catalog.round(100.0 * LEAST(j.blocks_done, j.blocks_total) / j.blocks_total, 1)
       END AS percent,
       pg_catalog.round(j.rows_done / NULLIF(EXTRACT(epoch FROM
               COALESCE(j.finished_at, pg_catalog.now()) - j.started_at), 0))::bigint AS rows_per_sec,
       CASE WHEN j.state IN ('queued', 'running') AND j.blocks_done > 0
                 AND j.blocks_done < j.blocks_total
            THEN pg_catalog.make_interval(secs =>
                 (j.blocks_total - j.blocks_done) *
                 EXTRACT(epoch FROM pg_catalog.now() - j.started_at) / j.blocks_done)
       END AS eta,
       COALESCE(w.batch_blocks, j.batch_blocks) AS batch_blocks,
       w.delay_ms AS batch_delay_ms,
       CASE WHEN j.state = 'paused' THEN 'paused'
            WHEN j.state NOT IN ('queued', 'running') THEN NULL
            WHEN w.job IS NOT NULL THEN COALESCE(w.waiting,
                 CASE WHEN pg_catalog.cardinality(pg_catalog.pg_blocking_pids(w.pid)) > 0
                      THEN 'lock' END)
            WHEN pg_catalog.current_setting('default_transaction_read_only')::boolean
                 THEN 'read only'
            WHEN EXISTS (SELECT 1 FROM schema_guard.worker_status() o
                          WHERE o.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                               WHERE d.datname = pg_catalog.current_database()))
                 THEN 'queue'
            ELSE 'worker'
       END AS waiting,
       j.last_error,
       j.started_at,
       j.updated_at,
       -- the processes the worker waits for: those it waits for now, or,
       -- while it backs off after a lock wait timed out, those that held
       -- the lock then (a prepared transaction counts as process 0)
       CASE WHEN w.job IS NOT NULL
            THEN NULLIF(pg_catalog.array_remove(COALESCE(
                     NULLIF(pg_catalog.pg_blocking_pids(w.pid), '{}'), b.blocked_by), 0), '{}')
       END AS blocked_by,
       j.error_sqlstate,
       -- the prepared transactions among them, by name
       CASE WHEN w.job IS NOT NULL
            THEN (SELECT pg_catalog.array_agg(x.gid ORDER BY x.gid)
                    FROM pg_catalog.pg_prepared_xacts x
                   WHERE x.transaction = ANY (b.blocked_by_prepared)
                      OR (0 = ANY (pg_catalog.pg_blocking_pids(w.pid))
                          AND EXISTS (SELECT 1
                                        FROM pg_catalog.pg_locks wl, pg_catalog.pg_locks hl,
                                             pg_catalog.pg_locks xl
                                       WHERE wl.pid = w.pid AND NOT wl.granted
                                         AND hl.granted AND hl.pid IS NULL
                                         AND hl.locktype = wl.locktype
                                         AND hl.database IS NOT DISTINCT FROM wl.database
                                         AND hl.relation IS NOT DISTINCT FROM wl.relation
                                         AND hl.transactionid IS NOT DISTINCT FROM wl.transactionid
                                         AND xl.locktype = 'transactionid' AND xl.pid IS NULL
                                         AND xl.transactionid = x.transaction
                                         AND xl.virtualtransaction = hl.virtualtransaction)))
       END AS blocked_by_prepared
  FROM schema_guard.jobs_visible j
  LEFT JOIN schema_guard.worker_status() w
         ON w.job = j.job_id
        AND w.database = (SELECT d.oid FROM pg_catalog.pg_database d
                           WHERE d.datname = pg_catalog.current_database())
  LEFT JOIN schema_guard.worker_blockers() b
         ON b.database = w.database AND b.pid = w.pid
 ORDER BY j.job_id;

-- Every view over the job catalog is a security barrier: a function in
-- the caller's WHERE clause never sees rows of jobs the caller may not see.
-- Events that carry an error show it as jobs_visible shows last_error.
CREATE VIEW schema_guard.history WITH (security_barrier) AS
SELECT e.job_id AS job, e.at, e.event,
       CASE WHEN e.event NOT IN ('failed', 'retry', 'waiting')
                 OR COALESCE((SELECT pg_catalog.pg_has_role(c.relowner, 'USAGE')
                                     OR (pg_catalog.has_table_privilege(c.oid, 'SELECT')
                                         AND NOT pg_catalog.row_security_active(c.oid))
                                FROM pg_catalog.pg_class c WHERE c.oid = v.relid), false)
            THEN e.detail END AS detail
  FROM schema_guard.job_events e
  JOIN schema_guard.jobs_visible v ON v.job_id = e.job_id
 ORDER BY e.event_id;

GRANT USAGE ON SCHEMA schema_guard TO PUBLIC;
GRANT SELECT ON schema_guard.jobs_visible, schema_guard.progress,
                schema_guard.history TO PUBLIC;
