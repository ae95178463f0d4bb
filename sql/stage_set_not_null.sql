-- ALTER TABLE ... ALTER COLUMN c SET NOT NULL of an existing column scans
-- the table under its ACCESS EXCLUSIVE lock.  schema_guard adds, in the
-- same transaction, a NOT VALID constraint that stands for the NOT NULL
-- (before 18 the helper CHECK (c IS NOT NULL), on 18 the NOT NULL
-- constraint itself, under the name PostgreSQL gives it); a job validates
-- it, then sets NOT NULL without a scan.  The table ends as the plain
-- statement leaves it, names included.
SELECT sg_test.number_jobs_from(1800);
CREATE SCHEMA snn;
-- wait (at most a minute) until the worker has brought a job to a state
CREATE PROCEDURE snn.wait_for(job bigint, wanted text) LANGUAGE plpgsql AS $$
DECLARE
  deadline timestamptz := clock_timestamp() + interval '1 min';
BEGIN
  WHILE (SELECT state FROM schema_guard.jobs WHERE job_id = job) IS DISTINCT FROM wanted
        AND clock_timestamp() < deadline LOOP
    PERFORM pg_sleep(0.05);
  END LOOP;
END $$;
CREATE TABLE snn.plain (id int PRIMARY KEY, v int, w text, x int);
INSERT INTO snn.plain SELECT g, g, 'w' || g, g FROM generate_series(1, 2000) g;
CREATE TABLE snn.guarded (id int PRIMARY KEY, v int, w text, x int);
INSERT INTO snn.guarded SELECT * FROM snn.plain;

SET schema_guard.mode = off;
ALTER TABLE snn.plain ALTER COLUMN v SET NOT NULL;
ALTER TABLE snn.plain ALTER COLUMN w SET NOT NULL, ALTER COLUMN x SET NOT NULL, ALTER COLUMN w SET NOT NULL;
RESET schema_guard.mode;
BEGIN;
ALTER TABLE snn.guarded ALTER COLUMN v SET NOT NULL;
-- the NOT VALID constraint, which rejects a NULL at once
SELECT conname, contype, convalidated FROM pg_constraint
 WHERE conrelid = 'snn.guarded'::regclass AND conkey = '{2}';
INSERT INTO snn.guarded VALUES (0, NULL, 'w', 0);
ROLLBACK;
ALTER TABLE snn.guarded ALTER COLUMN v SET NOT NULL;
-- several columns (one of them twice) are one job
ALTER TABLE snn.guarded ALTER COLUMN w SET NOT NULL, ALTER COLUMN x SET NOT NULL, ALTER COLUMN w SET NOT NULL;
SELECT job_id, count(*) AS constraints FROM schema_guard.job_objects
 WHERE job_id BETWEEN 1801 AND 1802 GROUP BY job_id ORDER BY job_id;
SET client_min_messages = warning;
CALL schema_guard.wait(1801);
CALL schema_guard.wait(1802);
RESET client_min_messages;
-- wait() tells no rows filled: the job fills none
CALL schema_guard.wait(1801);
SELECT job, state, phase, percent FROM schema_guard.progress WHERE job IN (1801, 1802) ORDER BY job;
SELECT * FROM sg_test.catalog('snn.plain') EXCEPT SELECT * FROM sg_test.catalog('snn.guarded');
SELECT * FROM sg_test.catalog('snn.guarded') EXCEPT SELECT * FROM sg_test.catalog('snn.plain');
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'snn.guarded'::regclass ORDER BY 1;
SELECT attname, attnotnull FROM pg_attribute
 WHERE attrelid = 'snn.guarded'::regclass AND attnum > 0 ORDER BY attnum;

-- A NULL in the table fails the job with PostgreSQL's error and SQLSTATE,
-- as it would have failed the statement; the constraint stays NOT VALID
-- for retry(), and the job ends once the row is fixed.
CREATE TABLE snn.bad (id int PRIMARY KEY, v int, w int);
INSERT INTO snn.bad SELECT g, g, g FROM generate_series(1, 2000) g;
UPDATE snn.bad SET v = NULL WHERE id = 1500;
ALTER TABLE snn.bad ALTER COLUMN v SET NOT NULL;
SET client_min_messages = warning;
CALL schema_guard.wait(1803);
RESET client_min_messages;
SELECT state, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1803;
SELECT conname, convalidated FROM pg_constraint
 WHERE conrelid = 'snn.bad'::regclass AND conkey = '{2}';
-- with mode = off, the plain statement fails with the same error
SET schema_guard.mode = off;
ALTER TABLE snn.bad ALTER COLUMN v SET NOT NULL;
RESET schema_guard.mode;
UPDATE snn.bad SET v = 0 WHERE id = 1500;
SELECT schema_guard.retry(1803);
SET client_min_messages = warning;
CALL schema_guard.wait(1803);
RESET client_min_messages;
SELECT attname, attnotnull FROM pg_attribute WHERE attrelid = 'snn.bad'::regclass AND attnum > 0 ORDER BY attnum;
SELECT conname, contype, convalidated FROM pg_constraint WHERE conrelid = 'snn.bad'::regclass ORDER BY 1;

-- revert() drops the constraint: the column is nullable again
UPDATE snn.bad SET w = NULL WHERE id = 7;
ALTER TABLE snn.bad ALTER COLUMN w SET NOT NULL;
SET client_min_messages = warning;
CALL schema_guard.wait(1804);
RESET client_min_messages;
SELECT schema_guard.revert(1804);
SELECT state, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1804;
SELECT conname FROM pg_constraint WHERE conrelid = 'snn.bad'::regclass AND conkey = '{3}';
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'snn.bad'::regclass AND attname = 'w';

-- schema_guard.on_failure = revert: the worker reverts the failed job
ALTER SYSTEM SET schema_guard.on_failure = 'revert';
SELECT pg_reload_conf();
BEGIN;
ALTER TABLE snn.bad ALTER COLUMN w SET NOT NULL;
SELECT schema_guard.pause(1805);
COMMIT;
SELECT pg_sleep(1);
SELECT schema_guard.resume(1805);
CALL snn.wait_for(1805, 'reverted');
SELECT state, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1805;
SELECT conname FROM pg_constraint WHERE conrelid = 'snn.bad'::regclass AND conkey = '{3}';
ALTER SYSTEM RESET schema_guard.on_failure;
SELECT pg_reload_conf();

-- While the job is unfinished: DROP NOT NULL, ALTER COLUMN TYPE and ADD
-- GENERATED AS IDENTITY of its columns are refused, naming the job, and so
-- is a rewrite of the table;
-- SET NOT NULL of the column runs as written; dropping a column ends its
-- part of the job, dropping all of them the job.
CREATE TABLE snn.busy (id int PRIMARY KEY, v int, w int, z int);
INSERT INTO snn.busy SELECT g, g, g, g FROM generate_series(1, 2000) g;
CREATE TABLE snn.busy_plain (id int PRIMARY KEY, v int, w int, z int);
INSERT INTO snn.busy_plain SELECT * FROM snn.busy;
SET schema_guard.mode = off;
ALTER TABLE snn.busy_plain ALTER COLUMN v SET NOT NULL, ALTER COLUMN z SET NOT NULL;
ALTER TABLE snn.busy_plain DROP COLUMN z;
RESET schema_guard.mode;
BEGIN;
ALTER TABLE snn.busy ALTER COLUMN v SET NOT NULL, ALTER COLUMN z SET NOT NULL;
SELECT schema_guard.pause(1806);
COMMIT;
ALTER TABLE snn.busy ALTER COLUMN v DROP NOT NULL;
ALTER TABLE snn.busy ALTER COLUMN z TYPE bigint;
ALTER TABLE snn.busy ALTER COLUMN z ADD GENERATED ALWAYS AS IDENTITY;
ALTER TABLE snn.busy ALTER COLUMN w TYPE bigint;
ALTER TABLE snn.busy ALTER COLUMN v SET NOT NULL;
ALTER TABLE snn.busy DROP COLUMN z;
SELECT schema_guard.resume(1806);
SET client_min_messages = warning;
CALL schema_guard.wait(1806);
RESET client_min_messages;
SELECT * FROM sg_test.catalog('snn.busy_plain') EXCEPT SELECT * FROM sg_test.catalog('snn.busy');
SELECT * FROM sg_test.catalog('snn.busy') EXCEPT SELECT * FROM sg_test.catalog('snn.busy_plain');
BEGIN;
ALTER TABLE snn.busy ALTER COLUMN w SET NOT NULL;
SELECT schema_guard.pause(1807);
COMMIT;
ALTER TABLE snn.busy DROP COLUMN w;
SELECT schema_guard.resume(1807);
CALL snn.wait_for(1807, 'cancelled');
SELECT j.state, h.detail FROM schema_guard.jobs j
  JOIN schema_guard.history h ON h.job = j.job_id AND h.event = 'cancelled'
 WHERE j.job_id = 1807;

-- schema_guard.mode = warn and block, as for the other forms; a table
-- below schema_guard.min_table_size is left to PostgreSQL
CREATE TABLE snn.modes (id int, v int);
INSERT INTO snn.modes SELECT g, g FROM generate_series(1, 2000) g;
SET schema_guard.mode = warn;
ALTER TABLE snn.modes ALTER COLUMN v SET NOT NULL;
ALTER TABLE snn.modes ALTER COLUMN v DROP NOT NULL;
SET schema_guard.mode = block;
ALTER TABLE snn.modes ALTER COLUMN v SET NOT NULL;
RESET schema_guard.mode;
SET schema_guard.min_table_size = '1GB';
ALTER TABLE snn.modes ALTER COLUMN v SET NOT NULL;
ALTER TABLE snn.modes ALTER COLUMN v DROP NOT NULL;
RESET schema_guard.min_table_size;

-- Not staged, run as written with the warning: a column NOT NULL already,
-- a table with inheritance children, a column of another unfinished job,
-- a statement with other subcommands (a partitioned table is staged:
-- stage_set_not_null_partitioned).
ALTER TABLE snn.guarded ALTER COLUMN v SET NOT NULL;
CREATE TABLE snn.kid () INHERITS (snn.modes);
ALTER TABLE snn.modes ALTER COLUMN v SET NOT NULL;
DROP TABLE snn.kid;
ALTER TABLE snn.modes ALTER COLUMN v DROP NOT NULL;
BEGIN;
ALTER TABLE snn.modes ADD CONSTRAINT modes_v_positive CHECK (v > 0);
SELECT schema_guard.pause(1808);
COMMIT;
ALTER TABLE snn.modes ALTER COLUMN v SET NOT NULL;
SELECT schema_guard.resume(1808);
ALTER TABLE snn.bad ALTER COLUMN w SET NOT NULL, ALTER COLUMN w SET STATISTICS 100;
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;

-- With schema_guard.mode = off a DROP NOT NULL runs as in PostgreSQL: the
-- column ends nullable, as after the plain SET NOT NULL and DROP NOT NULL,
-- and the job ends without its constraint.
CREATE TABLE snn.off (id int, v int);
INSERT INTO snn.off SELECT g, g FROM generate_series(1, 2000) g;
BEGIN;
ALTER TABLE snn.off ALTER COLUMN v SET NOT NULL;
SELECT schema_guard.pause(1809);
COMMIT;
SET schema_guard.mode = off;
ALTER TABLE snn.off ALTER COLUMN v DROP NOT NULL;
RESET schema_guard.mode;
SELECT schema_guard.resume(1809);
CALL snn.wait_for(1809, 'cancelled');
SELECT state FROM schema_guard.jobs WHERE job_id = 1809;
SELECT a.attnotnull, (SELECT count(*) FROM pg_constraint c WHERE c.conrelid = a.attrelid) AS constraints
  FROM pg_attribute a WHERE a.attrelid = 'snn.off'::regclass AND a.attname = 'v';

-- explain() says what it would do
SELECT statement, "column", subcommand, risk, action, steps FROM schema_guard.explain(
  'ALTER TABLE snn.bad ALTER COLUMN w SET NOT NULL; ALTER TABLE snn.bad ALTER COLUMN v SET NOT NULL; ALTER TABLE snn.bad ALTER COLUMN w SET NOT NULL, ALTER COLUMN w SET STATISTICS 100');
SELECT count(*) AS unfinished FROM schema_guard.jobs
 WHERE job_id BETWEEN 1800 AND 1899 AND state NOT IN ('done', 'cancelled', 'reverted');
DROP SCHEMA snn CASCADE;
