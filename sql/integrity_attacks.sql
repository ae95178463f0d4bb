-- What a job promises whatever others do meanwhile, tried as an attacker
-- or an unlucky operator would: it never ends done with a row unlike the
-- one the plain ALTER gives.  Where schema_guard cannot keep a job exact,
-- the statement is refused or the job fails, loudly, and for good where a
-- retry could not tell the rows it had not filled from the others.
SELECT sg_test.number_jobs_from(3000);
CREATE SCHEMA ia;
-- a volatile default whose value is known: every row of the plain ALTER gets 7
CREATE FUNCTION ia.seven() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN RETURN 7; END $$;

--
-- The table's rules and triggers, whatever they are enabled for (the worker
-- runs with session_replication_role = replica), do not apply to the
-- backfill, as they do not to the plain ALTER's rewrite: a trigger that
-- skips the update or writes the new column, rules that do nothing instead
-- or something more, an AFTER trigger with a transition table.
--
CREATE TABLE ia.audit (what text);
CREATE FUNCTION ia.skip() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE FUNCTION ia.write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := -1; RETURN NEW; END $$;
CREATE FUNCTION ia.note() RETURNS trigger LANGUAGE plpgsql
  AS $$ BEGIN INSERT INTO ia.audit VALUES (TG_NAME); RETURN NULL; END $$;
CREATE TABLE ia.rt (id int PRIMARY KEY, x text);
INSERT INTO ia.rt SELECT g, 'x' FROM generate_series(1, 1000) g;
CREATE TRIGGER a_skip BEFORE UPDATE ON ia.rt FOR EACH ROW EXECUTE FUNCTION ia.skip();
ALTER TABLE ia.rt ENABLE ALWAYS TRIGGER a_skip;
CREATE TRIGGER b_skip BEFORE UPDATE ON ia.rt FOR EACH ROW EXECUTE FUNCTION ia.skip();
ALTER TABLE ia.rt ENABLE REPLICA TRIGGER b_skip;
CREATE TRIGGER c_note AFTER UPDATE ON ia.rt REFERENCING NEW TABLE AS n
  FOR EACH STATEMENT EXECUTE FUNCTION ia.note();
ALTER TABLE ia.rt ENABLE ALWAYS TRIGGER c_note;
CREATE RULE d_also AS ON UPDATE TO ia.rt DO ALSO INSERT INTO ia.audit VALUES ('rule');
ALTER TABLE ia.rt ENABLE ALWAYS RULE d_also;
CREATE RULE e_instead AS ON UPDATE TO ia.rt DO INSTEAD NOTHING;
ALTER TABLE ia.rt ENABLE REPLICA RULE e_instead;
BEGIN;
ALTER TABLE ia.rt ADD COLUMN v int DEFAULT ia.seven();
SELECT schema_guard.pause(3000);
COMMIT;
-- made during the job, it sorts before the fill trigger
CREATE TRIGGER f_write BEFORE UPDATE ON ia.rt FOR EACH ROW EXECUTE FUNCTION ia.write();
ALTER TABLE ia.rt ENABLE ALWAYS TRIGGER f_write;
SELECT schema_guard.resume(3000);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT j.state, count(*) FILTER (WHERE v = 7) AS seven, count(*) FILTER (WHERE v IS DISTINCT FROM 7) AS other
  FROM ia.rt, schema_guard.jobs j WHERE j.job_id = 3000 GROUP BY j.state;
SELECT count(*) AS fired FROM ia.audit;

-- two jobs on one table: the batches of one fill the other's column too,
-- in the rows they write, through its fill trigger
CREATE TABLE ia.two (id int PRIMARY KEY);
INSERT INTO ia.two SELECT generate_series(1, 1000);
BEGIN;
ALTER TABLE ia.two ADD COLUMN a int DEFAULT ia.seven();
ALTER TABLE ia.two ADD COLUMN b int DEFAULT ia.seven();
SELECT schema_guard.pause(3001), schema_guard.pause(3002);
COMMIT;
SELECT schema_guard.resume(3002);
SET client_min_messages = warning;
CALL schema_guard.wait(3002);
RESET client_min_messages;
SELECT count(*) FILTER (WHERE a = 7 AND b = 7) AS both_filled FROM ia.two;
SELECT schema_guard.resume(3001);
SET client_min_messages = warning;
CALL schema_guard.wait(3001);
RESET client_min_messages;
SELECT job_id, state, rows_done FROM schema_guard.jobs WHERE job_id IN (3001, 3002) ORDER BY job_id;

--
-- A table that shrinks during the job (a DELETE, then a VACUUM that
-- truncates it below the job's range): the job fills what is left.
--
CREATE TABLE ia.shrink (id int PRIMARY KEY, pad text);
INSERT INTO ia.shrink SELECT g, repeat('x', 200) FROM generate_series(1, 20000) g;
BEGIN;
ALTER TABLE ia.shrink ADD COLUMN v float8 DEFAULT random();
SELECT schema_guard.pause(3003);
COMMIT;
DELETE FROM ia.shrink WHERE id > 1000;
-- the rows deleted are removable once no other transaction's snapshot is
-- older than the DELETE (a worker or the launcher looking for jobs)
DO $$
DECLARE
  horizon xid := pg_current_xact_id()::xid;
BEGIN
  FOR i IN 1 .. 3000 LOOP
    PERFORM pg_stat_clear_snapshot();
    EXIT WHEN NOT EXISTS (SELECT FROM pg_stat_activity
                           WHERE pid <> pg_backend_pid() AND backend_xmin IS NOT NULL
                             AND age(backend_xmin) > age(horizon));
    PERFORM pg_sleep(0.01);
  END LOOP;
END $$;
VACUUM ia.shrink;
SELECT pg_relation_size('ia.shrink') < 100 * 8192 AS truncated;
SELECT schema_guard.resume(3003);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 3003;
SELECT count(*) AS left_null FROM ia.shrink WHERE v IS NULL;

--
-- A function the default calls, replaced or altered during the job: the
-- plain ALTER computed every row with the function as it was.  Refused;
-- with schema_guard.mode = off the job fails, and a retry cannot finish it.
--
CREATE FUNCTION ia.rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
CREATE TABLE ia.fn (id int PRIMARY KEY);
INSERT INTO ia.fn SELECT generate_series(1, 1000);
BEGIN;
ALTER TABLE ia.fn ADD COLUMN r int DEFAULT ia.rate();
SELECT schema_guard.pause(3004);
COMMIT;
CREATE OR REPLACE FUNCTION ia.rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN RETURN 2; END $$;
ALTER FUNCTION ia.rate() SECURITY DEFINER;
DO $$ BEGIN
  EXECUTE 'CREATE OR REPLACE FUNCTION ia.rate() RETURNS int VOLATILE LANGUAGE sql AS ''SELECT 2''';
END $$;
SET schema_guard.mode = off;
BEGIN;
CREATE OR REPLACE FUNCTION ia.rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN RETURN 2; END $$;
SELECT state, last_error, unsound FROM schema_guard.jobs WHERE job_id = 3004;
SELECT schema_guard.retry(3004);
ROLLBACK;
RESET schema_guard.mode;
SELECT schema_guard.resume(3004);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT j.state, count(*) FILTER (WHERE r = 1) AS old_body, count(*) FILTER (WHERE r IS DISTINCT FROM 1) AS other
  FROM ia.fn, schema_guard.jobs j WHERE j.job_id = 3004 GROUP BY j.state;

--
-- DDL on what the job makes or finishes.  What stock PostgreSQL accepts on
-- the new columns once its ALTER is done either ends as stock's or is
-- refused until the job is done; the table then ends as its plainly
-- altered twin.
--
CREATE TABLE ia.stage (id int PRIMARY KEY, x text);
CREATE TABLE ia.twin (id int PRIMARY KEY, x text);
INSERT INTO ia.stage SELECT g, 'x' FROM generate_series(1, 1000) g;
INSERT INTO ia.twin SELECT g, 'x' FROM generate_series(1, 1000) g;
SET schema_guard.mode = off;
ALTER TABLE ia.twin ADD COLUMN s bigserial,
  ADD COLUMN i int GENERATED ALWAYS AS IDENTITY (INCREMENT BY 3),
  ADD COLUMN n uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN c int DEFAULT 1 CHECK (c > 0);
RESET schema_guard.mode;
BEGIN;
ALTER TABLE ia.stage ADD COLUMN s bigserial,
  ADD COLUMN i int GENERATED ALWAYS AS IDENTITY (INCREMENT BY 3),
  ADD COLUMN n uuid NOT NULL DEFAULT gen_random_uuid(),
  ADD COLUMN c int DEFAULT 1 CHECK (c > 0);
SELECT schema_guard.pause(3005);
COMMIT;
ALTER TABLE ia.stage ALTER COLUMN n DROP NOT NULL;
ALTER TABLE ia.stage ALTER COLUMN n SET NOT NULL;
ALTER TABLE ia.stage ALTER COLUMN i SET INCREMENT BY 5;
ALTER TABLE ia.stage ALTER COLUMN i DROP IDENTITY IF EXISTS;
ALTER TABLE ia.stage ALTER COLUMN i ADD GENERATED BY DEFAULT AS IDENTITY;
ALTER SEQUENCE ia.stage_s_seq INCREMENT BY 10;
ALTER SEQUENCE ia.stage_i_seq RESTART 100;
ALTER SEQUENCE ia.stage_i_seq OWNED BY NONE;
ALTER SEQUENCE ia.stage_s_seq OWNER TO CURRENT_USER;
ALTER TABLE ia.stage DROP CONSTRAINT stage_c_check;
SELECT check_name FROM schema_guard.job_columns WHERE job_id = 3005 AND check_name IS NOT NULL;
ALTER TABLE ia.stage DROP CONSTRAINT stage_n_sg3005_not_null;
CREATE TABLE ia.child (id int, x text, s bigint NOT NULL, i int NOT NULL, n uuid NOT NULL, c int);
ALTER TABLE ia.child INHERIT ia.stage;
-- a nullable column has nothing to drop, as in PostgreSQL
ALTER TABLE ia.stage ALTER COLUMN c DROP NOT NULL;
SELECT schema_guard.resume(3005);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 3005;
(SELECT sg_test.catalog('ia.stage') EXCEPT SELECT sg_test.catalog('ia.twin'))
UNION ALL
(SELECT sg_test.catalog('ia.twin') EXCEPT SELECT sg_test.catalog('ia.stage'));
SELECT count(*) FILTER (WHERE s IS NULL OR i IS NULL OR n IS NULL OR c IS NULL) AS unfilled,
       count(DISTINCT s) AS serials, count(DISTINCT i) AS identities FROM ia.stage;

--
-- A trigger of the table that keeps the old value of the new column
-- (NEW.v := OLD.v), and an update that sets it: in the plain ALTER's
-- table the row has the default's value, which the trigger keeps; here OLD
-- reads NULL, and a trigger that makes the column NULL may as well clear
-- it whatever OLD holds.  Refused, not left NULL.
--
CREATE FUNCTION ia.keep_v() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.v := OLD.v; RETURN NEW; END $$;
CREATE TABLE ia.keep (id int PRIMARY KEY, x text);
INSERT INTO ia.keep SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE ia.keep ADD COLUMN v int DEFAULT ia.seven();
SELECT schema_guard.pause(3006);
COMMIT;
CREATE TRIGGER keep_v BEFORE UPDATE ON ia.keep FOR EACH ROW EXECUTE FUNCTION ia.keep_v();
UPDATE ia.keep SET v = 5 WHERE id = 1;
PREPARE ia_set(int, int) AS UPDATE ia.keep SET v = $1 WHERE id = $2;
EXECUTE ia_set(5, 1);
DEALLOCATE ia_set;
UPDATE ia.keep SET x = 'y' WHERE id = 2;
-- without another trigger an explicit NULL is the statement's, and kept
DROP TRIGGER keep_v ON ia.keep;
UPDATE ia.keep SET v = NULL WHERE id = 3;
SELECT schema_guard.resume(3006);
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT id, v FROM ia.keep WHERE id <= 3 ORDER BY id;

--
-- A failure that may leave rows looking filled without being filled is
-- for good: the fill trigger disabled with schema_guard.mode = off, rows
-- updated meanwhile, the trigger enabled again.  retry() refuses the job.
--
CREATE TABLE ia.sticky (id int PRIMARY KEY, x text);
INSERT INTO ia.sticky SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE ia.sticky ADD COLUMN v int DEFAULT ia.seven();
SELECT schema_guard.pause(3007);
COMMIT;
SET schema_guard.mode = off;
ALTER TABLE ia.sticky DISABLE TRIGGER "~schema_guard_fill_3007";
UPDATE ia.sticky SET x = 'y' WHERE id <= 10;
ALTER TABLE ia.sticky ENABLE ALWAYS TRIGGER "~schema_guard_fill_3007";
RESET schema_guard.mode;
SELECT state, unsound FROM schema_guard.jobs WHERE job_id = 3007;
SELECT schema_guard.retry(3007);
SET client_min_messages = warning;
CALL schema_guard.wait(3007);
RESET client_min_messages;
SELECT schema_guard.cancel(3007);

--
-- A table that publishes updates without a replica identity: PostgreSQL
-- refuses the UPDATEs a job fills rows with, not the plain ALTER.  Refused
-- before anything is staged, saying what to do.
--
CREATE TABLE ia.pub (id int, x text);
INSERT INTO ia.pub SELECT g, 'x' FROM generate_series(1, 1000) g;
SET client_min_messages = error;
CREATE PUBLICATION ia_updates FOR TABLE ia.pub;
RESET client_min_messages;
ALTER TABLE ia.pub ADD COLUMN w float8 DEFAULT random();
SELECT action, reason FROM schema_guard.explain('ALTER TABLE ia.pub ADD COLUMN w float8 DEFAULT random()');
-- a default stored once needs no UPDATE
ALTER TABLE ia.pub ADD COLUMN w2 float8 DEFAULT 2;
ALTER TABLE ia.pub REPLICA IDENTITY FULL;
ALTER TABLE ia.pub ADD COLUMN w float8 DEFAULT random();
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT count(*) FILTER (WHERE w IS NULL) AS unfilled FROM ia.pub;
DROP PUBLICATION ia_updates;

--
-- Dropping schema_guard while a job is unfinished, whatever the statement:
-- refused, naming the job; with schema_guard.mode = off it is dropped, as
-- in PostgreSQL, with a warning.
--
CREATE TABLE ia.drop (id int PRIMARY KEY);
INSERT INTO ia.drop SELECT generate_series(1, 1000);
BEGIN;
ALTER TABLE ia.drop ADD COLUMN v float8 DEFAULT random();
SELECT schema_guard.pause(3009);
COMMIT;
SET client_min_messages = warning;
DROP SCHEMA schema_guard CASCADE;
DROP EXTENSION schema_guard CASCADE;
SET schema_guard.mode = off;
BEGIN;
DROP EXTENSION schema_guard CASCADE;
ROLLBACK;
RESET client_min_messages;
RESET schema_guard.mode;
SELECT schema_guard.cancel(3009);

SET client_min_messages = warning;
DROP SCHEMA ia CASCADE;
RESET client_min_messages;
