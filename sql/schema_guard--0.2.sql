/* schema_guard--0.2.sql */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION schema_guard" to load this file. \quit

--
-- The job catalog.  These tables are the only truth about a job: shared
-- memory just caches and wakes.  Ordinary roles cannot read or write them;
-- they see their own jobs through the views below.
--

CREATE TABLE schema_guard.jobs (
    job_id        bigint PRIMARY KEY,
    relid         regclass NOT NULL,
    role          regrole NOT NULL,
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'running', 'paused', 'failed',
                                   'cancelled', 'reverted', 'done')),
    phase         text NOT NULL DEFAULT 'backfill'
                  CHECK (phase IN ('backfill', 'verify', 'validate', 'index',
                                   'references', 'finalize', 'reindex', 'done')),
    statement     text NOT NULL,
    search_path   text NOT NULL,  -- the ALTER's, pinned: "$user" resolved, pg_temp last
    trigger_name  name NOT NULL,
    added_columns int2[] NOT NULL DEFAULT '{}',   -- every column the ALTER added
    created_at    timestamptz NOT NULL DEFAULT now(),
    locked_at     timestamptz,    -- the ALTER's table lock granted: held to its commit
    lock_wait     interval,       -- from the ALTER's start to locked_at
    started_at    timestamptz,
    finished_at   timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    blocks_total  bigint NOT NULL DEFAULT 0,
    blocks_done   bigint NOT NULL DEFAULT 0,
    rows_done     bigint NOT NULL DEFAULT 0,
    batches       bigint NOT NULL DEFAULT 0,
    retries       bigint NOT NULL DEFAULT 0,
    batch_blocks  integer NOT NULL DEFAULT 0,
    batch_time    integer CHECK (batch_time > 0),
    batch_delay   integer CHECK (batch_delay >= 0),
    last_error    text,
    error_detail  text,
    -- Columns in the order ALTER EXTENSION ... UPDATE adds them to a table
    -- an older version made, so that both have the same columns in the
    -- same order: new columns go at the end, here and in the update script.
    settings      text[] NOT NULL DEFAULT '{}',  -- the ALTER's value-shaping settings, name=value
    bound_to      text NOT NULL DEFAULT '',  -- the cluster, database and server version
                                             -- the job's object references are valid in
    error_sqlstate text,
    unsound       text            -- why rows may look filled that were not: retry() refuses
);

CREATE SEQUENCE schema_guard.jobs_job_id_seq OWNED BY schema_guard.jobs.job_id;

-- One row per column the job added.
CREATE TABLE schema_guard.job_columns (
    job_id            bigint NOT NULL,
    attnum            int2 NOT NULL,
    colname           name NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('default', 'serial', 'identity')),
    fill_expr         text NOT NULL,    -- for people
    fill_node         text NOT NULL,    -- as bound where bound_to says
    not_null          boolean NOT NULL,
    check_name        name,
    identity          "char",
    identity_options  text,
    staging_seq       regclass,
    fill_sql          text NOT NULL,    -- schema-qualified, to bind again elsewhere
    atttype           regtype NOT NULL,
    atttypmod         integer NOT NULL,
    PRIMARY KEY (job_id, attnum)
);

-- Constraints of the added columns that the job finishes: CHECK and
-- FOREIGN KEY added NOT VALID, to validate (on a partitioned table a
-- foreign key is added NOT VALID to each leaf, and to the parent at the
-- end); UNIQUE and PRIMARY KEY, whose index the ALTER reserved, to build
-- concurrently and add USING INDEX.  Their objects are in job_objects.
CREATE TABLE schema_guard.job_constraints (
    job_id          bigint NOT NULL,
    conname         name NOT NULL,
    attnum          int2 NOT NULL,
    kind            text NOT NULL
                    CHECK (kind IN ('check', 'foreign key', 'unique', 'primary key')),
    is_deferrable   boolean NOT NULL DEFAULT false,   -- unique, primary key
    is_deferred     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, conname)
);

-- One row per table that stores rows: the table itself, or its leaves.
CREATE TABLE schema_guard.job_leaves (
    job_id       bigint NOT NULL,
    relid        regclass NOT NULL,
    pass         integer NOT NULL DEFAULT 1 CHECK (pass IN (1, 2)),
    end_block    bigint NOT NULL,
    next_block   bigint NOT NULL DEFAULT 0,
    relfilenode  oid NOT NULL,
    min_attnum   int2 NOT NULL,
    done         boolean NOT NULL DEFAULT false,
    PRIMARY KEY (job_id, relid)
);

-- Every object a job created and may later change or drop: fill triggers,
-- helper checks, NOT VALID constraints, the indexes it builds.  It knows
-- them by OID where bound_to says; relid and name find them again after the
-- job was carried to another cluster.
CREATE TABLE schema_guard.job_objects (
    job_id   bigint NOT NULL,
    kind     text NOT NULL
             CHECK (kind IN ('fill trigger', 'helper check', 'constraint', 'index')),
    relid    regclass NOT NULL,
    name     name NOT NULL,
    objid    oid NOT NULL,
    definition text,          -- an index's CREATE INDEX: a dump leaves invalid indexes out
    PRIMARY KEY (job_id, kind, relid, name)
);

-- Append-only log of what happened to each job.
CREATE TABLE schema_guard.job_events (
    event_id  bigserial PRIMARY KEY,
    job_id    bigint NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    event     text NOT NULL,
    detail    text
);
CREATE INDEX ON schema_guard.job_events (job_id);

-- A dump taken during a job carries the job.
SELECT pg_catalog.pg_extension_config_dump('schema_guard.jobs', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.jobs_job_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_columns', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_constraints', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_leaves', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_objects', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_events', '');
SELECT pg_catalog.pg_extension_config_dump('schema_guard.job_events_event_id_seq', '');

--
-- Functions used by the staged objects and the background worker.
--

-- The BEFORE UPDATE trigger that fills rows the application touches first.
CREATE FUNCTION schema_guard.fill_trigger()
RETURNS trigger
AS 'MODULE_PATHNAME', 'sg_fill_trigger_v2'
LANGUAGE C;

-- Does the row version at this ctid predate the column numbered attnum?
CREATE FUNCTION schema_guard.needs_fill(rel regclass, row_ctid tid, attnum int2)
RETURNS boolean
AS 'MODULE_PATHNAME', 'sg_needs_fill'
LANGUAGE C STRICT VOLATILE;

-- The value a job gives a row in one of its columns, computed from the
-- expression the ALTER stored (for the backfill, which runs as the table's
-- owner).  A NULL for a NOT NULL column is the error PostgreSQL's rewrite
-- raises, before any CHECK constraint is looked at.
CREATE FUNCTION schema_guard.fill_value(job bigint, attnum int2, leaf regclass, type anyelement)
RETURNS anyelement
AS 'MODULE_PATHNAME', 'sg_fill_value_v2'
LANGUAGE C VOLATILE;

CREATE FUNCTION schema_guard.worker_status(
    OUT database oid, OUT pid integer, OUT job bigint, OUT waiting text,
    OUT waiting_since timestamptz, OUT batch_blocks integer, OUT delay_ms integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sg_worker_status'
LANGUAGE C STRICT VOLATILE;

-- For a worker backing off after a lock wait timed out: who held the lock.
CREATE FUNCTION schema_guard.worker_blockers(
    OUT database oid, OUT pid integer, OUT blocked_by integer[],
    OUT blocked_by_prepared xid[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sg_worker_blockers'
LANGUAGE C STRICT VOLATILE;

--
-- What a user sees.
--

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

--
-- Control.  Each checks that the caller owns the job's table.
--

CREATE FUNCTION schema_guard.pause(job bigint) RETURNS void
AS 'MODULE_PATHNAME', 'sg_pause_v1' LANGUAGE C VOLATILE;

CREATE FUNCTION schema_guard.resume(job bigint) RETURNS void
AS 'MODULE_PATHNAME', 'sg_resume_v1' LANGUAGE C VOLATILE;

CREATE FUNCTION schema_guard.cancel(job bigint) RETURNS void
AS 'MODULE_PATHNAME', 'sg_cancel_v1' LANGUAGE C VOLATILE;

CREATE FUNCTION schema_guard.revert(job bigint) RETURNS void
AS 'MODULE_PATHNAME', 'sg_revert_v1' LANGUAGE C VOLATILE;

CREATE FUNCTION schema_guard.retry(job bigint) RETURNS void
AS 'MODULE_PATHNAME', 'sg_retry_v1' LANGUAGE C VOLATILE;

CREATE PROCEDURE schema_guard.wait(job bigint, timeout interval DEFAULT NULL)
AS 'MODULE_PATHNAME', 'sg_wait_v1' LANGUAGE C;

-- Per-job batch settings; NULL means: follow schema_guard.batch_time and
-- schema_guard.batch_delay.
CREATE FUNCTION schema_guard.set_batch(job bigint, batch_time interval, batch_delay interval)
RETURNS void
AS 'MODULE_PATHNAME', 'sg_set_batch_v1' LANGUAGE C VOLATILE;

--
-- What would ALTER do?  Executes nothing.
--
CREATE FUNCTION schema_guard.explain(sql text,
    OUT statement integer, OUT "table" regclass, OUT "column" name,
    OUT subcommand text, OUT risk text, OUT reason text, OUT action text,
    OUT steps text[])
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'sg_explain_v1'
LANGUAGE C STRICT VOLATILE;
