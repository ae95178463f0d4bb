-- Traps a role without superuser may set for schema_guard, which runs
-- user expressions later, in a background worker and in a trigger: it must
-- not let any role run code as another one, beyond what PostgreSQL's own
-- rewrite would have done at ALTER time.
SELECT sg_test.number_jobs_from(2400);

CREATE ROLE regress_sg_victim;
CREATE ROLE regress_sg_mallory;
CREATE ROLE regress_sg_definer;
CREATE ROLE regress_sg_reader IN ROLE pg_read_all_stats;
CREATE SCHEMA trap AUTHORIZATION regress_sg_victim;
CREATE SCHEMA definer AUTHORIZATION regress_sg_definer;
CREATE SCHEMA mal AUTHORIZATION regress_sg_mallory;
-- a schema everybody may create objects in, as "public" used to be
CREATE SCHEMA shared;
GRANT CREATE, USAGE ON SCHEMA shared TO PUBLIC;
GRANT USAGE ON SCHEMA definer, trap TO PUBLIC;

SET ROLE regress_sg_victim;
CREATE TABLE trap.plain (id int, v text);
INSERT INTO trap.plain SELECT g, repeat('t', 100) FROM generate_series(1, 1000) g;
CREATE TABLE trap.guard (LIKE trap.plain);
INSERT INTO trap.guard SELECT * FROM trap.plain;
RESET ROLE;

--
-- A default that calls a SECURITY DEFINER function of another role runs it
-- as that function's owner, exactly as the plain ALTER does: here it reads
-- a table only its owner may read.
--
SET ROLE regress_sg_definer;
CREATE TABLE definer.secret (code text);
INSERT INTO definer.secret VALUES ('s3cret');
CREATE FUNCTION definer.stamp() RETURNS text VOLATILE SECURITY DEFINER
  LANGUAGE plpgsql SET search_path = definer
  AS $$ BEGIN RETURN current_user || ' read ' || (SELECT code FROM secret); END $$;
SET ROLE regress_sg_victim;
SELECT code FROM definer.secret;
SET schema_guard.mode = off;
ALTER TABLE trap.plain ADD COLUMN stamp text DEFAULT definer.stamp();
RESET schema_guard.mode;
BEGIN;
ALTER TABLE trap.guard ADD COLUMN stamp text DEFAULT definer.stamp();
SELECT schema_guard.pause(2400);
COMMIT;
-- an update of an old row: the fill trigger calls it too
UPDATE trap.guard SET v = 'touched' WHERE id <= 10;
SELECT schema_guard.resume(2400);
SET client_min_messages = warning;
CALL schema_guard.wait(2400, '2 min');
RESET client_min_messages;
SELECT stamp, count(*) FROM trap.plain GROUP BY 1;
SELECT stamp, count(*) FROM trap.guard GROUP BY 1;

--
-- The ALTER's own expression is computed as the ALTER cooked it, even when
-- another role later defines an operator that would win the lookup under
-- the ALTER's search_path (which names pg_catalog after a schema anybody
-- may create in).  PostgreSQL stores the operator the ALTER resolved, and
-- so does the column's default; the fill must use it too.
--
SET search_path = shared, pg_catalog, trap;
SET schema_guard.mode = off;
ALTER TABLE trap.plain ADD COLUMN k int DEFAULT (random() * 10)::int + 1000;
RESET schema_guard.mode;
BEGIN;
ALTER TABLE trap.guard ADD COLUMN k int DEFAULT (random() * 10)::int + 1000;
SELECT schema_guard.pause(2401);
COMMIT;
RESET search_path;
SET ROLE regress_sg_mallory;
CREATE FUNCTION shared.evil_plus(int, int) RETURNS int LANGUAGE sql
  AS $$ SELECT -1 $$;
CREATE OPERATOR shared.+ (LEFTARG = int, RIGHTARG = int, FUNCTION = shared.evil_plus);
SET ROLE regress_sg_victim;
UPDATE trap.guard SET v = 'touched again' WHERE id <= 10;
SELECT schema_guard.resume(2401);
SET client_min_messages = warning;
CALL schema_guard.wait(2401, '2 min');
RESET client_min_messages;
SELECT count(*) FILTER (WHERE k BETWEEN 1000 AND 1010) AS as_cooked, count(*) AS rows
  FROM trap.plain;
SELECT count(*) FILTER (WHERE k BETWEEN 1000 AND 1010) AS as_cooked, count(*) AS rows
  FROM trap.guard;
RESET ROLE;
DROP OPERATOR shared.+ (int, int);
DROP FUNCTION shared.evil_plus(int, int);

--
-- A function in a default that looks a name up when it runs sees the
-- objects as they are when the row is filled (see the README): a role that
-- may create objects in a schema on the ALTER's search_path can shadow the
-- name after the ALTER, and its code then runs as the role that issued the
-- ALTER.  PostgreSQL's rewrite computed every row at ALTER time, before the
-- shadowing.  A function with its own search_path is not affected.
--
SET ROLE regress_sg_victim;
CREATE FUNCTION trap.suffix() RETURNS text LANGUAGE sql AS $$ SELECT 'trap' $$;
CREATE FUNCTION trap.label() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN suffix(); END $$;
CREATE FUNCTION trap.pinned_label() RETURNS text VOLATILE LANGUAGE plpgsql
  SET search_path = trap
  AS $$ BEGIN RETURN suffix(); END $$;
SET search_path = shared, trap;
SET schema_guard.mode = off;
ALTER TABLE trap.plain ADD COLUMN label text DEFAULT trap.label(),
                       ADD COLUMN pinned text DEFAULT trap.pinned_label();
RESET schema_guard.mode;
BEGIN;
ALTER TABLE trap.guard ADD COLUMN label text DEFAULT trap.label(),
                       ADD COLUMN pinned text DEFAULT trap.pinned_label();
SELECT schema_guard.pause(2402);
COMMIT;
RESET search_path;
SET ROLE regress_sg_mallory;
CREATE FUNCTION shared.suffix() RETURNS text LANGUAGE sql
  AS $$ SELECT 'shadowed, ran as ' || current_user $$;
SET ROLE regress_sg_victim;
SELECT schema_guard.resume(2402);
SET client_min_messages = warning;
CALL schema_guard.wait(2402, '2 min');
RESET client_min_messages;
SELECT label, pinned, count(*) FROM trap.plain GROUP BY 1, 2;
SELECT label, pinned, count(*) FROM trap.guard GROUP BY 1, 2;
RESET ROLE;
DROP FUNCTION shared.suffix();

--
-- A role cannot borrow another role's job through the fill trigger
-- function: attached to a table of its own, it fails before computing
-- anything; and it cannot put a table of its own under the job's table.
--
SET ROLE regress_sg_victim;
BEGIN;
ALTER TABLE trap.guard ADD COLUMN n text DEFAULT definer.stamp();
SELECT schema_guard.pause(2403);
COMMIT;
SET ROLE regress_sg_mallory;
CREATE TABLE mal.own (id int, n text);
INSERT INTO mal.own VALUES (1, NULL);
CREATE TRIGGER borrow BEFORE UPDATE ON mal.own
  FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('2403');
UPDATE mal.own SET id = 2;
SELECT * FROM mal.own;
CREATE TABLE mal.child () INHERITS (trap.guard);

--
-- Reading is not steering: other roles see neither the jobs nor their
-- statements, cannot write the job tables or their sequences, and cannot
-- control the jobs; members of pg_read_all_stats see them and may wait for
-- them, but not control them.
--
SELECT count(*) FROM schema_guard.jobs_visible;
SELECT schema_guard.resume(2403);
SELECT schema_guard.retry(2403);
SELECT schema_guard.set_batch(2403, '1 s', NULL);
DELETE FROM schema_guard.jobs;
UPDATE schema_guard.job_columns SET fill_node = fill_node;
DELETE FROM schema_guard.job_leaves;
DELETE FROM schema_guard.job_constraints;
TRUNCATE schema_guard.job_events;
SELECT setval('schema_guard.jobs_job_id_seq', 1);
SELECT nextval('schema_guard.job_events_event_id_seq');
SET ROLE regress_sg_reader;
SELECT job_id, statement FROM schema_guard.jobs_visible WHERE job_id BETWEEN 2400 AND 2499 ORDER BY 1;
SELECT schema_guard.pause(2403);
SELECT schema_guard.cancel(2403);
SET client_min_messages = warning;
\set VERBOSITY terse
CALL schema_guard.wait(2403, '0');
\set VERBOSITY default
RESET client_min_messages;
RESET ROLE;
SELECT schema_guard.revert(2403);

--
-- schema_guard's own queries on its job tables run as the extension's
-- owner: they must not call a role's operators.  A role that puts its own
-- schema before pg_catalog on its search_path and defines "=" for bigint
-- there must not get it called with the owner's rights when it stages,
-- steers or waits for its own job, or updates a row its fill trigger fills.
--
SET ROLE regress_sg_mallory;
CREATE TABLE mal.calls (by_superuser boolean);
CREATE FUNCTION mal.int8eq(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO mal.calls
  SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user;
  RETURN $1 OPERATOR(pg_catalog.=) $2;
END $$;
CREATE OPERATOR mal.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = mal.int8eq);
CREATE TABLE mal.t (id int, v text);
INSERT INTO mal.t SELECT g, repeat('m', 100) FROM generate_series(1, 1000) g;
SET search_path = mal, pg_catalog;
BEGIN;
ALTER TABLE mal.t ADD COLUMN r float8 DEFAULT random();
SELECT schema_guard.pause(2404);
COMMIT;
UPDATE mal.t SET v = 'touched' WHERE id <= 10;
SELECT schema_guard.set_batch(2404, '1 s', NULL);
SELECT schema_guard.resume(2404);
SET client_min_messages = warning;
CALL schema_guard.wait(2404, '2 min');
RESET client_min_messages;
RESET search_path;
SELECT count(*) = count(r) AS all_filled FROM mal.t;
SELECT count(*) FILTER (WHERE by_superuser) AS calls_as_superuser FROM mal.calls;

--
-- explain() tells a role that the ALTER would fail on a table it does not
-- own, as it does for any statement PostgreSQL would reject.
--
SELECT "column", action <> 'stage' AS not_staged,
       reason ~ 'must be owner of table guard' AS says_why
  FROM schema_guard.explain('ALTER TABLE trap.guard ADD COLUMN z float8 DEFAULT random()');


--
-- A superuser's ALTER of a table another role owns: PostgreSQL's rewrite
-- computes the rows as the superuser, once, at ALTER time, with the
-- functions as they are then.  The table's owner must not be able to use
-- the time the job takes to have code of its own run with those rights, by
-- replacing a function of its own that the default calls.  (Whether the
-- ALTER is staged, and how the job pauses, is left open here.)
--
CREATE TABLE mal.orders (id int, v text);
INSERT INTO mal.orders SELECT g, repeat('o', 100) FROM generate_series(1, 1000) g;
CREATE FUNCTION mal.code() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN 'reviewed'; END $$;
RESET ROLE;
SET client_min_messages = error;
BEGIN;
ALTER TABLE mal.orders ADD COLUMN code text DEFAULT mal.code();
DO $$ BEGIN
  PERFORM schema_guard.pause(job_id) FROM schema_guard.jobs
    WHERE relid = 'mal.orders'::regclass AND state = 'queued';
END $$;
COMMIT;
RESET client_min_messages;
SET ROLE regress_sg_mallory;
CREATE OR REPLACE FUNCTION mal.code() RETURNS text VOLATILE LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
    ALTER ROLE regress_sg_mallory SUPERUSER;
  END IF;
  RETURN 'replaced';
END $$;
UPDATE mal.orders SET v = 'touched' WHERE id <= 10;
RESET ROLE;
DO $$ BEGIN
  PERFORM schema_guard.resume(job_id) FROM schema_guard.jobs
    WHERE relid = 'mal.orders'::regclass AND state = 'paused';
END $$;
SET client_min_messages = warning;
CALL sg_test.wait_all();
RESET client_min_messages;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_sg_mallory';

RESET ROLE;
SET client_min_messages = warning;
DROP SCHEMA trap, definer, mal, shared CASCADE;
RESET client_min_messages;
DROP ROLE regress_sg_victim, regress_sg_mallory, regress_sg_definer, regress_sg_reader;
