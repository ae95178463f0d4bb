-- The objects a job makes (fill triggers, helper checks, NOT VALID
-- constraints, reserved indexes) are its own, known by OID: whatever
-- statement would change, replace or drop one while the job needs it fails;
-- with schema_guard.mode = off the job fails instead.  Names a job takes are
-- taken as PostgreSQL's ALTER takes them.
SELECT sg_test.number_jobs_from(2700);

CREATE TABLE jo (id int PRIMARY KEY, v text);
INSERT INTO jo SELECT g, 'row' FROM generate_series(1, 1000) g;
CREATE FUNCTION sg_test.jo_value() RETURNS float8 VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN random(); END $$;
BEGIN;
ALTER TABLE jo ADD COLUMN a float8 NOT NULL DEFAULT sg_test.jo_value();
SELECT schema_guard.pause(2700);
COMMIT;
SELECT kind, name FROM schema_guard.job_objects WHERE job_id = 2700 ORDER BY kind;
SELECT name AS helper FROM schema_guard.job_objects WHERE job_id = 2700 AND kind = 'helper check' \gset

-- the fill trigger replaced under its name, as another kind of trigger
CREATE FUNCTION sg_test.jo_noop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER "~schema_guard_fill_2700" AFTER INSERT ON jo
  FOR EACH ROW EXECUTE FUNCTION sg_test.jo_noop();
-- the helper check dropped
ALTER TABLE jo DROP CONSTRAINT :"helper";
-- the trigger function dropped, with everything that needs it
DROP FUNCTION schema_guard.fill_trigger() CASCADE;
-- the default's function dropped once the column has another default: the
-- fill trigger needs it still, as the plain ALTER needed it for every row
ALTER TABLE jo ALTER COLUMN a SET DEFAULT 0.5;
DROP FUNCTION sg_test.jo_value();
-- the extension dropped while the job is unfinished
DROP EXTENSION schema_guard CASCADE;
-- a trigger that calls fill_trigger() by hand is not the job's: it may
-- not be made while the job runs, and where one exists, it fills nothing
-- and says so
CREATE TRIGGER forged BEFORE UPDATE ON jo FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('2700');
SET schema_guard.mode = off;
BEGIN;
CREATE TRIGGER forged BEFORE UPDATE ON jo FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('2700');
UPDATE jo SET v = 'forged' WHERE id = 1;
ROLLBACK;
RESET schema_guard.mode;
-- renaming the helper check is harmless: the job knows it by OID
ALTER TABLE jo RENAME CONSTRAINT :"helper" TO jo_helper;
SELECT schema_guard.resume(2700);
SET client_min_messages = warning;
CALL schema_guard.wait(2700, '2 min');
RESET client_min_messages;
SELECT count(*), count(a) FROM jo;
SELECT * FROM sg_test.catalog('jo');

-- with schema_guard.mode = off the statement runs, as in PostgreSQL, and
-- the job it breaks fails, saying why
BEGIN;
ALTER TABLE jo ADD COLUMN b float8 DEFAULT random();
SELECT schema_guard.pause(2701);
COMMIT;
SET schema_guard.mode = off;
DROP TRIGGER "~schema_guard_fill_2701" ON jo;
RESET schema_guard.mode;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 2701;
SELECT schema_guard.resume(2701);
SELECT schema_guard.revert(2701);

-- an inheritance child may not leave the tree of a job
CREATE TABLE jo_parent (id int, v text);
CREATE TABLE jo_child () INHERITS (jo_parent);
INSERT INTO jo_parent SELECT g, 'p' FROM generate_series(1, 500) g;
INSERT INTO jo_child SELECT g, 'c' FROM generate_series(501, 1000) g;
BEGIN;
ALTER TABLE jo_parent ADD COLUMN c float8 DEFAULT random();
SELECT schema_guard.pause(2702);
COMMIT;
ALTER TABLE jo_child NO INHERIT jo_parent;
-- a staged identity column keeps its default until it is an identity
BEGIN;
ALTER TABLE jo_parent ADD COLUMN d int GENERATED ALWAYS AS IDENTITY;
ROLLBACK;
CREATE TABLE jo_ident (id int);
INSERT INTO jo_ident SELECT generate_series(1, 1000);
BEGIN;
ALTER TABLE jo_ident ADD COLUMN d int GENERATED ALWAYS AS IDENTITY;
SELECT schema_guard.pause(2703);
COMMIT;
ALTER TABLE jo_ident ALTER COLUMN d SET DEFAULT 0;
ALTER TABLE jo_ident ALTER COLUMN d DROP DEFAULT;
SELECT schema_guard.resume(2702);
SELECT schema_guard.resume(2703);
SET client_min_messages = warning;
CALL schema_guard.wait(2702, '2 min');
CALL schema_guard.wait(2703, '2 min');
RESET client_min_messages;
SELECT tableoid::regclass, count(*), count(c) FROM jo_parent GROUP BY 1 ORDER BY 1;
SELECT count(*), count(DISTINCT d), min(d), max(d) FROM jo_ident;

-- a trigger of the table that already bears the name the fill trigger would
-- get: the fill trigger takes another, as PostgreSQL's ALTER works here too
CREATE TABLE jo_named (id int, v text);
INSERT INTO jo_named SELECT g, 'n' FROM generate_series(1, 1000) g;
CREATE TRIGGER "~schema_guard_fill_2704" BEFORE UPDATE ON jo_named
  FOR EACH ROW EXECUTE FUNCTION sg_test.jo_noop();
ALTER TABLE jo_named ADD COLUMN e float8 DEFAULT random();
SELECT tgname FROM pg_trigger WHERE tgrelid = 'jo_named'::regclass ORDER BY 1;
SET client_min_messages = warning;
CALL schema_guard.wait(2704, '2 min');
RESET client_min_messages;
SELECT count(*), count(e) FROM jo_named;

-- the index of a UNIQUE column is the job's from the ALTER on: its name is
-- taken there, as in PostgreSQL, for later statements and other roles alike
CREATE ROLE regress_jo_other;
CREATE SCHEMA jo_other AUTHORIZATION regress_jo_other;
GRANT CREATE ON SCHEMA public TO regress_jo_other;
CREATE TABLE jo_unique (id int, v text);
INSERT INTO jo_unique SELECT g, 'u' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE jo_unique ADD COLUMN u uuid DEFAULT gen_random_uuid() UNIQUE;
SELECT schema_guard.pause(2705);
COMMIT;
SET ROLE regress_jo_other;
CREATE TABLE public.jo_others (x int);
CREATE INDEX jo_unique_u_key ON public.jo_others (x);
CREATE INDEX jo_others_x ON public.jo_others (x);
RESET ROLE;
-- cancelling drops the index the job reserved, by OID, and nothing else
SELECT schema_guard.cancel(2705);
SELECT relname FROM pg_class WHERE relname IN ('jo_unique_u_key', 'jo_others_x') ORDER BY 1;
DROP TABLE jo_others;
-- two tables whose names truncate alike, altered in transactions of their
-- own: each index gets its own name, as with the plain ALTER
CREATE SCHEMA jo_long_plain;
CREATE SCHEMA jo_long_guard;
SET client_min_messages = warning;
SELECT format('CREATE TABLE %I.%I (id int)', n, repeat('t', 60) || t),
       format('INSERT INTO %I.%I SELECT generate_series(1, 1000)', n, repeat('t', 60) || t)
  FROM unnest(ARRAY['jo_long_plain', 'jo_long_guard']) n, unnest(ARRAY['_one', '_two']) t \gexec
SELECT format('%sALTER TABLE %I.%I ADD COLUMN long_column_name_here int DEFAULT (random() * 1e9)::int UNIQUE',
              CASE n WHEN 'jo_long_plain' THEN 'SET schema_guard.mode = off; ' ELSE 'RESET schema_guard.mode; ' END,
              n, repeat('t', 60) || t)
  FROM unnest(ARRAY['jo_long_plain', 'jo_long_guard']) n, unnest(ARRAY['_one', '_two']) t ORDER BY n DESC, t \gexec
RESET schema_guard.mode;
CALL schema_guard.wait(2706, '2 min');
CALL schema_guard.wait(2707, '2 min');
RESET client_min_messages;
SELECT n.nspname, c.relname AS index, i.indisvalid
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname LIKE 'jo_long_%' ORDER BY 1, 2;
SELECT job_id, state FROM schema_guard.jobs WHERE job_id IN (2706, 2707) ORDER BY 1;
SELECT count(*) AS helpers_left FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'jo_long_%';

DROP SCHEMA jo_long_plain, jo_long_guard CASCADE;
DROP SCHEMA jo_other CASCADE;
REVOKE CREATE ON SCHEMA public FROM regress_jo_other;
DROP ROLE regress_jo_other;
DROP TABLE jo, jo_parent, jo_child, jo_ident, jo_named, jo_unique;
DROP FUNCTION sg_test.jo_value(), sg_test.jo_noop();
