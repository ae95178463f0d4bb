-- Every SQL function of schema_guard, given NULLs, ids of no job, jobs in
-- a state the call does not apply to, and odd arguments, answers with an
-- error that says why (or NULL, where it is STRICT): never an internal
-- error.  (api.sql and throttle.sql cover the common misuses.)
SELECT sg_test.number_jobs_from(100);

-- The SQLSTATE a statement fails with, or 'ok'.
CREATE FUNCTION sg_test.sqlstate_of(stmt text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE stmt;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END $$;

CREATE TABLE bad (id int PRIMARY KEY, v text);
INSERT INTO bad SELECT g, repeat('b', 100) FROM generate_series(1, 1000) g;

-- ids of no job, for each control function
SELECT schema_guard.resume(123456);
SELECT schema_guard.cancel(123456);
SELECT schema_guard.revert(123456);
SELECT schema_guard.retry(123456);
SELECT schema_guard.pause(0);
SELECT schema_guard.pause(-1);
SELECT schema_guard.set_batch(0, '1 s', '0');
CALL schema_guard.wait(-1, '1 s');

-- a job in each final state: 100 done, 101 cancelled, 102 reverted,
-- 103 failed (on a table of its own: the fill trigger of a job fires for
-- the backfill of another job on the same table)
ALTER TABLE bad ADD COLUMN a float8 DEFAULT random();
BEGIN;
ALTER TABLE bad ADD COLUMN b float8 DEFAULT random();
SELECT schema_guard.pause(101);
COMMIT;
SELECT schema_guard.cancel(101);
BEGIN;
ALTER TABLE bad ADD COLUMN c float8 DEFAULT random();
SELECT schema_guard.pause(102);
COMMIT;
SELECT schema_guard.revert(102);
-- a default that fails for every row fails the ALTER at once, with
-- PostgreSQL's own error; one that starts failing once the job runs fails
-- the job
CREATE TABLE sg_test.no_value_today (yes boolean);
INSERT INTO sg_test.no_value_today VALUES (false);
CREATE FUNCTION sg_test.no_value() RETURNS int VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN IF (SELECT yes FROM sg_test.no_value_today) THEN RAISE EXCEPTION 'no value today'; END IF; RETURN 1; END $$;
CREATE TABLE bad_fails (LIKE bad);
INSERT INTO bad_fails SELECT id, v FROM bad;
UPDATE sg_test.no_value_today SET yes = true;
ALTER TABLE bad_fails ADD COLUMN d int DEFAULT sg_test.no_value();
UPDATE sg_test.no_value_today SET yes = false;
BEGIN;
ALTER TABLE bad_fails ADD COLUMN d int DEFAULT sg_test.no_value();
SELECT schema_guard.pause(103);
COMMIT;
UPDATE sg_test.no_value_today SET yes = true;
SELECT schema_guard.resume(103);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT job, state FROM schema_guard.progress WHERE job BETWEEN 100 AND 199 ORDER BY job;

-- what no longer applies is refused, saying the state
SELECT schema_guard.pause(100);
SELECT schema_guard.resume(100);
SELECT schema_guard.retry(100);
SELECT schema_guard.pause(101);
SELECT schema_guard.retry(101);
SELECT schema_guard.cancel(101);
CALL schema_guard.wait(101);
SELECT schema_guard.pause(102);
SELECT schema_guard.retry(102);
SELECT schema_guard.cancel(102);
CALL schema_guard.wait(102);
SELECT schema_guard.pause(103);
CALL schema_guard.wait(103);
SELECT schema_guard.revert(103);

-- wait(): no time at all on a paused job; a timeout longer than the clock
-- can count (the job is done, so it returns at once); a snapshot that
-- would never see the job move
BEGIN;
ALTER TABLE bad ADD COLUMN e float8 DEFAULT random();
SELECT schema_guard.pause(104);
COMMIT;
SET client_min_messages = warning;
\set VERBOSITY terse
CALL schema_guard.wait(104, '0');
\set VERBOSITY default
CALL schema_guard.wait(100, '300000 years');
CALL schema_guard.wait(100, '100000000 years');
RESET client_min_messages;
BEGIN ISOLATION LEVEL REPEATABLE READ;
CALL schema_guard.wait(100);
ROLLBACK;

-- set_batch(): the bounds, and intervals far beyond them either way
SELECT schema_guard.set_batch(104, '1 microsecond', NULL);
SELECT schema_guard.set_batch(104, '2147483648 ms', NULL);
SELECT schema_guard.set_batch(104, '100000000 years', NULL);
SELECT schema_guard.set_batch(104, NULL, '-100000000 years');
SELECT schema_guard.set_batch(104, '2147483647 ms', '2147483647 ms');
SELECT batch_time, batch_delay FROM schema_guard.jobs WHERE job_id = 104;
SELECT schema_guard.set_batch(104, NULL, NULL);
SELECT batch_time, batch_delay FROM schema_guard.jobs WHERE job_id = 104;
SELECT schema_guard.revert(104);

-- needs_fill() reads the header of the row version at a ctid: NULL in,
-- NULL out; relations that store no rows are refused, and so is an oid
-- that names no relation (with an error that says so)
CREATE TABLE nf (id int);
INSERT INTO nf VALUES (1);
ALTER TABLE nf ADD COLUMN x int;
INSERT INTO nf VALUES (2, 2);
SELECT id, schema_guard.needs_fill('nf', ctid, 2::int2) FROM nf ORDER BY id;
SELECT schema_guard.needs_fill(NULL, '(0,1)', 2::int2) IS NULL AS null_rel,
       schema_guard.needs_fill('nf', NULL, 2::int2) IS NULL AS null_ctid,
       schema_guard.needs_fill('nf', '(0,1)', NULL) IS NULL AS null_attnum;
-- positions that hold no row version, and column numbers no row lacks
SELECT schema_guard.needs_fill('nf', '(0,0)', 2::int2) AS offset_zero,
       schema_guard.needs_fill('nf', '(0,999)', 2::int2) AS past_the_page,
       schema_guard.needs_fill('nf', '(4294967295,1)', 2::int2) AS past_the_table,
       schema_guard.needs_fill('nf', '(0,1)', 0::int2) AS attnum_zero,
       schema_guard.needs_fill('nf', '(0,1)', (-1)::int2) AS system_column;
CREATE VIEW nf_view AS SELECT * FROM nf;
CREATE SEQUENCE nf_seq;
CREATE INDEX nf_index ON nf (id);
CREATE TABLE nf_parted (id int) PARTITION BY RANGE (id);
SELECT schema_guard.needs_fill('nf_view', '(0,1)', 2::int2);
SELECT schema_guard.needs_fill('nf_seq', '(0,1)', 2::int2);
SELECT schema_guard.needs_fill('nf_index', '(0,1)', 2::int2);
SELECT schema_guard.needs_fill('nf_parted', '(0,1)', 2::int2);
SELECT sg_test.sqlstate_of($$SELECT schema_guard.needs_fill(0, '(0,1)', 2::int2)$$)
       <> 'XX000' AS not_internal;
CREATE ROLE regress_sg_nobody;
SET ROLE regress_sg_nobody;
SELECT schema_guard.needs_fill('nf', '(0,1)', 2::int2);
RESET ROLE;
DROP ROLE regress_sg_nobody;

-- the fill trigger function works only as a BEFORE UPDATE row trigger
-- with one argument, the id of an existing job of its table
SELECT schema_guard.fill_trigger();
CREATE TABLE ft (id int, v text);
INSERT INTO ft VALUES (1, 'x');
CREATE TRIGGER ft_after AFTER UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('100');
UPDATE ft SET v = 'y';
DROP TRIGGER ft_after ON ft;
CREATE TRIGGER ft_insert BEFORE INSERT ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('100');
INSERT INTO ft VALUES (2, 'y');
DROP TRIGGER ft_insert ON ft;
CREATE TRIGGER ft_statement BEFORE UPDATE ON ft
  FOR EACH STATEMENT EXECUTE FUNCTION schema_guard.fill_trigger('100');
UPDATE ft SET v = 'y';
DROP TRIGGER ft_statement ON ft;
CREATE TRIGGER ft_text BEFORE UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('not a job');
UPDATE ft SET v = 'y';
DROP TRIGGER ft_text ON ft;
CREATE TRIGGER ft_gone BEFORE UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('999999');
UPDATE ft SET v = 'y';
DROP TRIGGER ft_gone ON ft;
CREATE TRIGGER ft_other BEFORE UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('100');
UPDATE ft SET v = 'y';
DROP TRIGGER ft_other ON ft;
-- no argument, or two: an error with a SQLSTATE of its own, not an
-- internal error
CREATE TRIGGER ft_none BEFORE UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger();
SELECT sg_test.sqlstate_of($$UPDATE ft SET v = 'y'$$) NOT IN ('ok', 'XX000') AS refused;
DROP TRIGGER ft_none ON ft;
CREATE TRIGGER ft_two BEFORE UPDATE ON ft
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('100', '101');
SELECT sg_test.sqlstate_of($$UPDATE ft SET v = 'y'$$) NOT IN ('ok', 'XX000') AS refused;
DROP TRIGGER ft_two ON ft;
SELECT * FROM ft;

-- explain(): a script of separators only is empty; an ALTER that
-- PostgreSQL rejects is not shown as staged, and the row says why
SELECT * FROM schema_guard.explain(';');
SELECT * FROM schema_guard.explain(' ; ;; ');
SELECT "column", action <> 'stage' AS not_staged, reason ~ 'system catalog' AS says_why
  FROM schema_guard.explain('ALTER TABLE pg_catalog.pg_class ADD COLUMN x float8 DEFAULT random()');
SELECT "column", action <> 'stage' AS not_staged, reason ~ 'already exists' AS says_why
  FROM schema_guard.explain('ALTER TABLE bad ADD COLUMN x float8 DEFAULT random(), ADD COLUMN x int');

DROP VIEW nf_view;
DROP TABLE bad, bad_fails, nf, ft, nf_parted;
DROP SEQUENCE nf_seq;
DROP FUNCTION sg_test.no_value(), sg_test.sqlstate_of(text);
DROP TABLE sg_test.no_value_today;
