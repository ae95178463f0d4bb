-- CREATE INDEX (without CONCURRENTLY) blocks writes to its table for as
-- long as the build runs.  Sent outside a transaction block, schema_guard
-- runs it as CREATE INDEX CONCURRENTLY in place: the client waits for it,
-- the index ends as the plain statement leaves it, and a failed build
-- leaves no INVALID index behind.
CREATE SCHEMA ci;
CREATE TABLE ci.plain (id int PRIMARY KEY, v int, w text);
INSERT INTO ci.plain SELECT g, g % 100, 'w' || g FROM generate_series(1, 2000) g;
CREATE TABLE ci.guarded (id int PRIMARY KEY, v int, w text);
INSERT INTO ci.guarded SELECT * FROM ci.plain;

-- The same statements on a plain table (mode = off) and a guarded one:
-- expression, partial, INCLUDE, UNIQUE, IF NOT EXISTS, named and unnamed.
SET schema_guard.mode = off;
CREATE INDEX ON ci.plain (v);
CREATE INDEX plain_w ON ci.plain (lower(w)) INCLUDE (id) WHERE v > 10;
CREATE UNIQUE INDEX IF NOT EXISTS plain_w_u ON ci.plain (w DESC NULLS LAST);
CREATE UNIQUE INDEX IF NOT EXISTS plain_w_u ON ci.plain (w);
CREATE INDEX ON ci.plain USING hash (w);
RESET schema_guard.mode;
CREATE INDEX ON ci.guarded (v);
CREATE INDEX guarded_w ON ci.guarded (lower(w)) INCLUDE (id) WHERE v > 10;
CREATE UNIQUE INDEX IF NOT EXISTS guarded_w_u ON ci.guarded (w DESC NULLS LAST);
CREATE UNIQUE INDEX IF NOT EXISTS guarded_w_u ON ci.guarded (w);
CREATE INDEX ON ci.guarded USING hash (w);

-- identical catalogs, every index valid and ready
SELECT * FROM sg_test.catalog('ci.plain') EXCEPT SELECT * FROM sg_test.catalog('ci.guarded');
SELECT * FROM sg_test.catalog('ci.guarded') EXCEPT SELECT * FROM sg_test.catalog('ci.plain');
SELECT c.relname, i.indisvalid, i.indisready, i.indislive
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'ci.guarded'::regclass ORDER BY 1;
-- and usable
SET enable_seqscan = off;
SELECT count(*) FROM ci.guarded WHERE lower(w) = 'w42' AND v > 10;
RESET enable_seqscan;

-- A duplicate fails the build with PostgreSQL's error, and no INVALID
-- index is left behind (CREATE INDEX CONCURRENTLY, sent as such, leaves one).
CREATE TABLE ci.dups (id int);
INSERT INTO ci.dups SELECT g FROM generate_series(1, 2000) g;
INSERT INTO ci.dups VALUES (1234);
\set VERBOSITY default
CREATE UNIQUE INDEX dups_id ON ci.dups (id);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS left_behind FROM pg_class WHERE relname = 'dups_id';
CREATE UNIQUE INDEX CONCURRENTLY dups_id_cic ON ci.dups (id);
SELECT relname, indisvalid FROM pg_index JOIN pg_class ON oid = indexrelid
 WHERE indrelid = 'ci.dups'::regclass;
DROP INDEX ci.dups_id_cic;
-- with mode = off, the plain statement fails with the same error
SET schema_guard.mode = off;
CREATE UNIQUE INDEX dups_id ON ci.dups (id);
RESET schema_guard.mode;

-- An error while the index is built (here, in its expression) is
-- PostgreSQL's, and leaves nothing either.
CREATE FUNCTION ci.checked(n int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF n = 1500 THEN
    RAISE EXCEPTION 'row % cannot be indexed', n;
  END IF;
  RETURN n;
END $$;
CREATE INDEX dups_checked ON ci.dups (ci.checked(id));
SELECT count(*) AS left_behind FROM pg_class WHERE relname = 'dups_checked';
\set VERBOSITY terse

-- A role that does not own the table gets PostgreSQL's error.
CREATE ROLE ci_other;
GRANT USAGE ON SCHEMA ci TO ci_other;
SET ROLE ci_other;
CREATE INDEX ON ci.guarded (w);
RESET ROLE;
DROP OWNED BY ci_other;
DROP ROLE ci_other;

-- Inside a transaction block (a migration's), in a multi-statement query
-- or in a function, the index is staged: its catalog entry is made at once,
-- empty and invalid, so that the later statements of the migration find
-- it, and a job builds it concurrently once the transaction commits.
SELECT sg_test.number_jobs_from(1500);
-- (jobs are waited for without their progress notices, whose number
-- depends on timing)
SET schema_guard.mode = off;
BEGIN;
CREATE INDEX plain_in_block ON ci.plain (v, id) WHERE id > 5;
COMMENT ON INDEX ci.plain_in_block IS 'built in a migration';
ALTER INDEX ci.plain_in_block RENAME TO plain_renamed;
COMMIT;
RESET schema_guard.mode;
BEGIN;
CREATE INDEX guarded_in_block ON ci.guarded (v, id) WHERE id > 5;
SELECT indisvalid, indisready FROM pg_index WHERE indexrelid = 'ci.guarded_in_block'::regclass;
COMMENT ON INDEX ci.guarded_in_block IS 'built in a migration';
ALTER INDEX ci.guarded_in_block RENAME TO guarded_renamed;
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1500);
RESET client_min_messages;
SELECT state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1500;
SELECT * FROM sg_test.catalog('ci.plain') EXCEPT SELECT * FROM sg_test.catalog('ci.guarded');
SELECT * FROM sg_test.catalog('ci.guarded') EXCEPT SELECT * FROM sg_test.catalog('ci.plain');
SELECT indisvalid, indisready, obj_description('ci.guarded_renamed'::regclass, 'pg_class') AS comment
  FROM pg_index WHERE indexrelid = 'ci.guarded_renamed'::regclass;

-- rolled back: no index, no job
BEGIN;
CREATE INDEX guarded_rolled_back ON ci.guarded (w, v);
ROLLBACK;
SELECT count(*) FROM pg_class WHERE relname = 'guarded_rolled_back';
SELECT count(*) FROM schema_guard.jobs WHERE job_id BETWEEN 1501 AND 1599;
-- dropped again in the same migration, as PostgreSQL allows: nothing is
-- left, and the job ends
BEGIN;
CREATE INDEX guarded_dropped ON ci.guarded (w, v);
DROP INDEX ci.guarded_dropped;
COMMIT;
SELECT count(*) FROM pg_class WHERE relname = 'guarded_dropped';
DO $$
BEGIN
  FOR i IN 1 .. 3000 LOOP
    EXIT WHEN (SELECT state FROM schema_guard.jobs WHERE job_id = 1502) = 'cancelled';
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
SELECT state, phase FROM schema_guard.jobs WHERE job_id = 1502;
-- IF NOT EXISTS on a name taken: PostgreSQL's notice, no job
BEGIN;
CREATE INDEX IF NOT EXISTS guarded_renamed ON ci.guarded (w);
COMMIT;
SELECT count(*) FROM schema_guard.jobs WHERE job_id BETWEEN 1503 AND 1599;

-- a multi-statement query and a function stage it too
CREATE INDEX guarded_multi ON ci.guarded (v, id) \; SELECT 1 AS one;
DO $$ BEGIN CREATE INDEX guarded_do ON ci.guarded (id, v); END $$;
-- (wait() outside a transaction block: a transaction that holds a snapshot
-- is one the concurrent build waits for)
SET client_min_messages = warning;
CALL schema_guard.wait(1503);
RESET client_min_messages;
SET client_min_messages = warning;
CALL schema_guard.wait(1504);
RESET client_min_messages;
SELECT c.relname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relname IN ('guarded_multi', 'guarded_do') ORDER BY 1;
DROP INDEX ci.guarded_multi, ci.guarded_do;

-- An index on a column a staged ADD COLUMN of the same migration fills:
-- built once the rows are filled, covering every row.
BEGIN;
ALTER TABLE ci.guarded ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX guarded_token ON ci.guarded (token);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1505);
RESET client_min_messages;
SET client_min_messages = warning;
CALL schema_guard.wait(1506);
RESET client_min_messages;
SELECT job_id, state, phase FROM schema_guard.jobs WHERE job_id BETWEEN 1504 AND 1599 ORDER BY job_id;
SET enable_seqscan = off;
SELECT count(*) = (SELECT count(*) FROM ci.plain) AS every_row_indexed
  FROM ci.guarded WHERE token IS NOT NULL;
RESET enable_seqscan;
SELECT indisvalid, indisunique FROM pg_index WHERE indexrelid = 'ci.guarded_token'::regclass;

-- A duplicate fails the job with PostgreSQL's error and SQLSTATE; the index
-- stays invalid for retry(), and cancel() drops it.
BEGIN;
CREATE UNIQUE INDEX dups_in_block ON ci.dups (id);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1507);
RESET client_min_messages;
SELECT state, last_error, error_sqlstate FROM schema_guard.jobs
 WHERE statement LIKE 'CREATE UNIQUE INDEX dups_in_block%';
SELECT indisvalid FROM pg_index WHERE indexrelid = 'ci.dups_in_block'::regclass;
SELECT schema_guard.cancel(job_id) FROM schema_guard.jobs
 WHERE statement LIKE 'CREATE UNIQUE INDEX dups_in_block%';
SELECT count(*) AS left_behind FROM pg_class WHERE relname = 'dups_in_block';

-- A partitioned table: the index is built online too (its own test is
-- create_index_partitioned); ON ONLY the parent builds nothing and passes.
CREATE TABLE ci.parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE ci.parted_1 PARTITION OF ci.parted FOR VALUES FROM (0) TO (1000);
CREATE TABLE ci.parted_2 PARTITION OF ci.parted FOR VALUES FROM (1000) TO (3000);
INSERT INTO ci.parted SELECT g, g FROM generate_series(1, 2000) g;
CREATE INDEX ON ci.parted (v);
CREATE INDEX parted_id ON ONLY ci.parted (id);

-- Modes: warn runs it as written with a warning, block refuses it.
SET schema_guard.mode = warn;
CREATE INDEX guarded_warn ON ci.guarded (v, id);
DROP INDEX ci.guarded_warn;
SET schema_guard.mode = block;
CREATE INDEX guarded_block ON ci.guarded (v, id);
RESET schema_guard.mode;

-- Exempt: a temporary table, a table below schema_guard.min_table_size.
CREATE TEMP TABLE ci_temp AS SELECT * FROM ci.plain;
CREATE INDEX ON ci_temp (v);
SET schema_guard.min_table_size = '1GB';
SET schema_guard.mode = block;
CREATE INDEX guarded_small ON ci.guarded (v, id);
RESET schema_guard.mode;
RESET schema_guard.min_table_size;

-- explain() says what each would do
SELECT statement, subcommand, risk, action, reason, steps
  FROM schema_guard.explain('CREATE INDEX ON ci.guarded (v)');
SELECT statement, subcommand, risk, action, reason, steps
  FROM schema_guard.explain('BEGIN; CREATE UNIQUE INDEX ON ci.guarded (w); COMMIT');
SELECT statement, subcommand, risk, action, reason
  FROM schema_guard.explain('CREATE INDEX CONCURRENTLY ON ci.guarded (v); CREATE INDEX ON ONLY ci.parted (v); CREATE INDEX ON ci_temp (v)');
SELECT statement, subcommand, risk, action, reason
  FROM schema_guard.explain('ALTER TABLE ci.guarded RENAME COLUMN w TO w2; DROP INDEX ci.guarded_w; CREATE TRIGGER t BEFORE UPDATE ON ci.guarded FOR EACH ROW EXECUTE FUNCTION suppress_redundant_updates_trigger()');
SET schema_guard.mode = warn;
SELECT action, reason FROM schema_guard.explain('CREATE INDEX ON ci.guarded (v)');
SET schema_guard.mode = block;
SELECT action, reason FROM schema_guard.explain('CREATE INDEX ON ci.guarded (v)');
SET schema_guard.mode = off;
SELECT action, reason FROM schema_guard.explain('CREATE INDEX ON ci.guarded (v)');
SELECT action, reason FROM schema_guard.explain('DROP INDEX ci.guarded_w');
RESET schema_guard.mode;

DROP SCHEMA ci CASCADE;
