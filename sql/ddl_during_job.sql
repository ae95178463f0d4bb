-- Other DDL while a job is active: what would make unfilled rows look
-- filled is refused with an error naming the job; renames, a second ADD
-- COLUMN, TRUNCATE and SET TABLESPACE are fine; dropping the table or the
-- columns ends the job.
SELECT sg_test.number_jobs_from(1200);

CREATE TABLE dj (id int PRIMARY KEY, v text);
INSERT INTO dj SELECT g, repeat('d', 100) FROM generate_series(1, 2000) g;
BEGIN;
ALTER TABLE dj ADD COLUMN a float8 NOT NULL DEFAULT random();
SELECT schema_guard.pause(1200);
COMMIT;

-- refused: each would form every tuple anew, or let updates skip the fill
VACUUM FULL dj;
VACUUM (FULL, ANALYZE) dj;
VACUUM FULL;
CLUSTER dj USING dj_pkey;
ALTER TABLE dj ALTER COLUMN v TYPE varchar(200);
ALTER TABLE dj SET UNLOGGED;
ALTER TABLE dj DISABLE TRIGGER ALL;
ALTER TABLE dj DISABLE TRIGGER "~schema_guard_fill_1200";
DROP TRIGGER "~schema_guard_fill_1200" ON dj;
ALTER TRIGGER "~schema_guard_fill_1200" ON dj RENAME TO fill;
-- a BEFORE UPDATE trigger that would fire after the fill trigger
CREATE FUNCTION sg_test.keep_old() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN OLD; END $$;
CREATE TRIGGER "~~late" BEFORE UPDATE ON dj FOR EACH ROW EXECUTE FUNCTION sg_test.keep_old();
CREATE TRIGGER early BEFORE UPDATE ON dj FOR EACH ROW EXECUTE FUNCTION sg_test.keep_old();
DROP TRIGGER early ON dj;
-- ENABLE TRIGGER USER leaves the fill trigger firing ALWAYS
ALTER TABLE dj ENABLE TRIGGER USER;
SELECT tgname, tgenabled FROM pg_trigger WHERE tgrelid = 'dj'::regclass AND NOT tgisinternal;
SET schema_guard.mode = warn;
ALTER TABLE dj ADD COLUMN w float8 DEFAULT random();
RESET schema_guard.mode;
-- a plain VACUUM and an ANALYZE are fine
VACUUM dj;
ANALYZE dj;

-- a second staged ADD COLUMN gets its own job (which the worker may have
-- started already: it does not wait for the paused one)
ALTER TABLE dj ADD COLUMN b bigserial;
SELECT job, columns, state = 'paused' AS paused FROM schema_guard.progress WHERE job BETWEEN 1200 AND 1299 ORDER BY job;

-- renames do not disturb either job
ALTER TABLE dj RENAME COLUMN a TO a_renamed;
ALTER TABLE dj RENAME TO dj_renamed;
SELECT schema_guard.resume(1200);
SET client_min_messages = warning;
CALL schema_guard.wait(1200, '2 min');
CALL schema_guard.wait(1201, '2 min');
RESET client_min_messages;
SELECT count(*), count(a_renamed), count(b), count(DISTINCT b) FROM dj_renamed;
SELECT * FROM sg_test.catalog('dj_renamed');
-- now that the jobs are done, VACUUM FULL is fine again
VACUUM FULL dj_renamed;

-- TRUNCATE leaves no row to fill: the job completes
CREATE TABLE dt (id int, v text);
INSERT INTO dt SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE dt ADD COLUMN a uuid NOT NULL DEFAULT gen_random_uuid();
SELECT schema_guard.pause(1202);
COMMIT;
TRUNCATE dt;
INSERT INTO dt (id, v) VALUES (1, 'after');
SELECT schema_guard.resume(1202);
SET client_min_messages = warning;
CALL schema_guard.wait(1202, '2 min');
RESET client_min_messages;
SELECT event, detail FROM schema_guard.history WHERE job = 1202 AND event = 'truncated';
SELECT count(*), count(a) FROM dt;
SELECT * FROM sg_test.catalog('dt');

-- SET TABLESPACE copies the blocks as they are: the job follows the file
SET allow_in_place_tablespaces = true;
CREATE TABLESPACE regress_sg_space LOCATION '';
CREATE TABLE ds (id int, v text);
INSERT INTO ds SELECT g, repeat('s', 100) FROM generate_series(1, 2000) g;
BEGIN;
ALTER TABLE ds ADD COLUMN a float8 DEFAULT random();
SELECT schema_guard.pause(1203);
COMMIT;
ALTER TABLE ds SET TABLESPACE regress_sg_space;
SELECT schema_guard.resume(1203);
SET client_min_messages = warning;
CALL schema_guard.wait(1203, '2 min');
RESET client_min_messages;
SELECT count(*), count(a) FROM ds;
DROP TABLE ds;
DROP TABLESPACE regress_sg_space;

-- dropping the job's columns, or its table, ends the job
CREATE TABLE dd (id int, v text);
INSERT INTO dd SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE dd ADD COLUMN a float8 DEFAULT random(), ADD COLUMN b float8 DEFAULT random();
SELECT schema_guard.pause(1204);
COMMIT;
ALTER TABLE dd DROP COLUMN a, DROP COLUMN b;
SELECT schema_guard.resume(1204);
SET client_min_messages = warning;
CALL schema_guard.wait(1204, '2 min');
RESET client_min_messages;
SELECT * FROM sg_test.catalog('dd');
BEGIN;
ALTER TABLE dd ADD COLUMN c float8 DEFAULT random();
SELECT schema_guard.pause(1205);
COMMIT;
DROP TABLE dd;
SELECT schema_guard.resume(1205);
SET client_min_messages = warning;
CALL schema_guard.wait(1205, '2 min');
RESET client_min_messages;
SELECT job, event, detail FROM schema_guard.history WHERE job IN (1204, 1205) AND event = 'cancelled';

-- with schema_guard.mode = off nothing is refused; a rewrite made behind a
-- job's back fails the job at once, loudly instead of finishing, and for
-- good: a retry could not tell the rows it had not filled from the others
CREATE TABLE dr (id int, v text);
INSERT INTO dr SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE dr ADD COLUMN a float8 DEFAULT random();
SELECT schema_guard.pause(1206);
COMMIT;
SET schema_guard.mode = off;
VACUUM FULL dr;
RESET schema_guard.mode;
SELECT state, last_error, error_detail, unsound FROM schema_guard.jobs WHERE job_id = 1206;
SELECT schema_guard.resume(1206);
SELECT schema_guard.retry(1206);
SELECT schema_guard.cancel(1206);
