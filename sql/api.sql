-- Watching and steering jobs: pause, resume, cancel, revert, retry, wait,
-- with every misuse answered by a clear error.
SELECT sg_test.number_jobs_from(900);

CREATE TABLE api_t (id int, v text);
INSERT INTO api_t SELECT g, repeat('v', 200) FROM generate_series(1, 2000) g;

-- pause a job before it starts: it waits, untouched
BEGIN;
ALTER TABLE api_t ADD COLUMN a float8 DEFAULT random();
SELECT schema_guard.pause(900);
COMMIT;
SELECT job, state, phase, waiting FROM schema_guard.progress WHERE job = 900;
SELECT count(a) FROM api_t;
-- the job records when its ALTER got the table's lock, held to the commit
SELECT locked_at >= created_at AND locked_at < clock_timestamp() AS locked_at_in_order,
       lock_wait >= '0' AND lock_wait < locked_at - created_at + '1 ms' AS lock_wait_in_order
  FROM schema_guard.jobs WHERE job_id = 900;
-- a session's first staged ALTER rehearses recording a job, and rolls that back
SELECT (SELECT count(*) FROM schema_guard.jobs WHERE job_id < 0) +
       (SELECT count(*) FROM schema_guard.job_columns WHERE job_id < 0) +
       (SELECT count(*) FROM schema_guard.job_constraints WHERE job_id < 0) +
       (SELECT count(*) FROM schema_guard.job_leaves WHERE job_id < 0) +
       (SELECT count(*) FROM schema_guard.job_events WHERE job_id < 0) AS rehearsal_rows;

-- wrong states
SELECT schema_guard.pause(900);
SELECT schema_guard.retry(900);
SELECT schema_guard.resume(900);
SELECT schema_guard.resume(900);
SET client_min_messages = warning;
CALL schema_guard.wait(900, '2 min');
RESET client_min_messages;
SELECT job, state, phase, percent FROM schema_guard.progress WHERE job = 900;
SELECT count(*) = count(a) AS all_filled FROM api_t;
SELECT schema_guard.cancel(900);
SELECT schema_guard.revert(900);

-- unknown jobs and NULLs
SELECT schema_guard.pause(123456);
SELECT schema_guard.pause(NULL);
SELECT schema_guard.resume(NULL);
SELECT schema_guard.cancel(NULL);
SELECT schema_guard.revert(NULL);
SELECT schema_guard.retry(NULL);
CALL schema_guard.wait(123456);
CALL schema_guard.wait(NULL);
CALL schema_guard.wait(900, '-1 second');

-- waiting in the transaction that staged the job cannot work
BEGIN;
ALTER TABLE api_t ADD COLUMN b float8 DEFAULT random();
CALL schema_guard.wait(901);
ROLLBACK;

-- cancel keeps the column as it is: default set, helpers gone
BEGIN;
ALTER TABLE api_t ADD COLUMN c int NOT NULL DEFAULT (random() * 100)::int;
SELECT schema_guard.pause(902);
COMMIT;
SELECT schema_guard.cancel(902);
SELECT * FROM sg_test.catalog('api_t') WHERE catalog ~ '( c |_c_|schema_guard)';
SELECT job, state FROM schema_guard.progress WHERE job = 902;
CALL schema_guard.wait(902);
SELECT schema_guard.resume(902);

-- revert drops what the job added, sequences included
BEGIN;
ALTER TABLE api_t ADD COLUMN d bigserial, ADD COLUMN e int GENERATED ALWAYS AS IDENTITY;
SELECT schema_guard.pause(903);
COMMIT;
SELECT schema_guard.revert(903);
SELECT * FROM sg_test.catalog('api_t') WHERE catalog ~ '( d | e |_d_|_e_)';
SELECT count(*) FROM pg_class WHERE relname LIKE 'api_t_%_seq';
SELECT job, state FROM schema_guard.progress WHERE job = 903;
SELECT schema_guard.revert(903);

-- a fill expression that fails makes the job fail with the error and the
-- row; retry continues once the cause is fixed.  (One that fails already
-- when the ALTER runs fails the ALTER, as in PostgreSQL: bad_input.)
CREATE TABLE sg_test.switch (broken boolean);
INSERT INTO sg_test.switch VALUES (false);
CREATE FUNCTION sg_test.flaky() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT broken FROM sg_test.switch) THEN
    RAISE EXCEPTION 'the switch is broken';
  END IF;
  RETURN 7;
END $$;
BEGIN;
ALTER TABLE api_t ADD COLUMN f int DEFAULT sg_test.flaky();
SELECT schema_guard.pause(904);
COMMIT;
UPDATE sg_test.switch SET broken = true;
SELECT schema_guard.resume(904);
SET client_min_messages = warning;
CALL schema_guard.wait(904, '2 min');
RESET client_min_messages;
SELECT job, state, last_error FROM schema_guard.progress WHERE job = 904;
SELECT error_detail ~ 'While filling the row at ctid \(\d+,\d+\) of table public.api_t' AS names_the_row
  FROM schema_guard.jobs WHERE job_id = 904;
-- until then an application UPDATE of a row not yet filled computes the
-- value as well, and fails as the job did, saying so
UPDATE api_t SET id = id WHERE id = (SELECT max(id) FROM api_t);
SELECT schema_guard.resume(904);
UPDATE sg_test.switch SET broken = false;
SELECT schema_guard.retry(904);
SET client_min_messages = warning;
CALL schema_guard.wait(904, '2 min');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE f = 7) = count(*) AS all_filled FROM api_t;
SELECT event FROM schema_guard.history WHERE job = 904;
