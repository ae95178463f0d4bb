-- A job computes values as the role that issued the ALTER, never as a
-- superuser on its behalf, exactly as PostgreSQL's own rewrite would; it
-- cannot do more than that role could, and ordinary roles cannot read or
-- steer jobs on tables they do not own.
SELECT sg_test.number_jobs_from(1000);

CREATE ROLE regress_sg_owner;
CREATE ROLE regress_sg_app;
CREATE SCHEMA sec AUTHORIZATION regress_sg_owner;
GRANT USAGE ON SCHEMA sec TO regress_sg_app;
GRANT USAGE ON SCHEMA sg_test TO PUBLIC;
-- plpgsql, so that the planner cannot inline them into something stable
CREATE FUNCTION sg_test.who() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN current_user; END $$;
CREATE FUNCTION sg_test.steal() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT rolname FROM pg_authid WHERE rolpassword IS NULL LIMIT 1); END $$;

SET ROLE regress_sg_owner;
CREATE TABLE sec.plain (id int, v text);
INSERT INTO sec.plain SELECT g, repeat('s', 100) FROM generate_series(1, 1000) g;
CREATE TABLE sec.guard (LIKE sec.plain);
INSERT INTO sec.guard SELECT * FROM sec.plain;
GRANT SELECT, UPDATE ON sec.guard TO regress_sg_app;

-- values are computed as the ALTER's role, in the backfill and in the fill
-- trigger alike (the application's UPDATE below fires the trigger)
SET schema_guard.mode = off;
ALTER TABLE sec.plain ADD COLUMN made_by text DEFAULT sg_test.who();
RESET schema_guard.mode;
BEGIN;
ALTER TABLE sec.guard ADD COLUMN made_by text DEFAULT sg_test.who();
SELECT schema_guard.pause(1000);
COMMIT;
SET ROLE regress_sg_app;
UPDATE sec.guard SET v = 'touched' WHERE id <= 10;
SET ROLE regress_sg_owner;
SELECT schema_guard.resume(1000);
SET client_min_messages = warning;
CALL schema_guard.wait(1000, '2 min');
RESET client_min_messages;
SELECT made_by, count(*) FROM sec.plain GROUP BY 1;
SELECT made_by, count(*) FROM sec.guard GROUP BY 1;

-- what the role may not do, the job may not do either: the same error as
-- the plain ALTER, at once (the default is computed once when the ALTER
-- runs, as the plain ALTER computes it)
SET schema_guard.mode = off;
ALTER TABLE sec.plain ADD COLUMN stolen text DEFAULT sg_test.steal();
RESET schema_guard.mode;
ALTER TABLE sec.guard ADD COLUMN stolen text DEFAULT sg_test.steal();
RESET ROLE;
SELECT sg_test.number_jobs_from(1002);
SET ROLE regress_sg_owner;

-- an application role updating an old row gets it filled even when it lacks
-- a privilege the fill needs: the value is the ALTER role's to compute
CREATE SEQUENCE sec.private_seq;
BEGIN;
ALTER TABLE sec.guard ADD COLUMN n bigint DEFAULT nextval('sec.private_seq');
SELECT schema_guard.pause(1002);
COMMIT;
SET ROLE regress_sg_app;
SELECT nextval('sec.private_seq');
UPDATE sec.guard SET v = 'again' WHERE id = 1 RETURNING id, n IS NOT NULL AS filled;

-- other roles cannot steer, read or write jobs on tables they do not own
SELECT schema_guard.pause(1002);
SELECT schema_guard.cancel(1002);
SELECT schema_guard.revert(1002);
CALL schema_guard.wait(1002);
SELECT count(*) FROM schema_guard.progress;
SELECT count(*) FROM schema_guard.history;
SELECT * FROM schema_guard.jobs;
UPDATE schema_guard.jobs SET state = 'done';
INSERT INTO schema_guard.job_events (job_id, event) VALUES (1002, 'forged');
SELECT schema_guard.needs_fill('sec.guard', '(0,1)', 1::int2);
SET ROLE regress_sg_owner;
SELECT job, state FROM schema_guard.progress;
SELECT schema_guard.resume(1002);
SET client_min_messages = warning;
CALL schema_guard.wait(1002, '2 min');
RESET client_min_messages;
SELECT count(*) = count(n) AS all_filled, count(DISTINCT n) = count(*) AS distinct_values FROM sec.guard;

-- row-level security never hides rows from the backfill: the owner is
-- exempt even under FORCE, as in PostgreSQL's rewrite
ALTER TABLE sec.guard ENABLE ROW LEVEL SECURITY;
ALTER TABLE sec.guard FORCE ROW LEVEL SECURITY;
CREATE POLICY only_first ON sec.guard USING (id <= 10);
SELECT count(*) FROM sec.guard;
ALTER TABLE sec.guard ADD COLUMN r float8 DEFAULT random();
SET client_min_messages = warning;
CALL schema_guard.wait(1003, '2 min');
RESET client_min_messages;
ALTER TABLE sec.guard NO FORCE ROW LEVEL SECURITY;
SELECT count(*), count(r) FROM sec.guard;

RESET ROLE;
DROP SCHEMA sec CASCADE;
DROP ROLE regress_sg_owner;
DROP ROLE regress_sg_app;
