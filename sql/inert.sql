-- Where schema_guard must behave exactly like PostgreSQL without it: a
-- risky ADD COLUMN rewrites the table as stock does, no job is created and
-- nothing is said.  Temporary tables, tables created in the same
-- transaction, mode off (also set inside a function or DO block), and a
-- database where the extension is not installed.  (Binary-upgrade mode is
-- covered by test/t/002_inert.pl.)
SELECT sg_test.number_jobs_from(600);
SHOW schema_guard.mode;
SHOW schema_guard.min_table_size;

CREATE SCHEMA inert;
-- The same risky statement each time: NOT NULL with a volatile default.
-- "stock" means: a new file, every row filled, NOT NULL set at once, and
-- none of schema_guard's helper objects (PostgreSQL 18's own NOT NULL
-- constraint, validated and of PostgreSQL's name, is not one).
CREATE FUNCTION inert.stock(tab regclass, file_before oid,
                            OUT rewritten boolean, OUT rows_filled boolean,
                            OUT not_null boolean, OUT helpers bigint)
LANGUAGE plpgsql AS $$
BEGIN
  rewritten := pg_relation_filenode(tab) <> file_before;
  EXECUTE format('SELECT count(*) = count(c) AND count(DISTINCT c) = count(*) FROM %s', tab)
    INTO rows_filled;
  SELECT attnotnull INTO not_null FROM pg_attribute WHERE attrelid = tab AND attname = 'c';
  SELECT (SELECT count(*) FROM pg_trigger WHERE tgrelid = tab)
       + (SELECT count(*) FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid
           WHERE k.conrelid = tab
             AND NOT (k.contype = 'n' AND k.convalidated AND k.conname = r.relname || '_c_not_null'))
    INTO helpers;
END $$;

--
-- a temporary table
--
CREATE TEMP TABLE inert_temp (id int);
INSERT INTO inert_temp SELECT generate_series(1, 1000);
SELECT pg_relation_filenode('inert_temp') AS file \gset
ALTER TABLE inert_temp ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
SELECT * FROM inert.stock('inert_temp', :file);

--
-- a table created in the same transaction, also in a released savepoint
--
BEGIN;
CREATE TABLE inert.fresh (id int);
INSERT INTO inert.fresh SELECT generate_series(1, 1000);
SELECT pg_relation_filenode('inert.fresh') AS file \gset
ALTER TABLE inert.fresh ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
SELECT * FROM inert.stock('inert.fresh', :file);
COMMIT;
BEGIN;
SAVEPOINT s;
CREATE TABLE inert.fresh_sp (id int);
INSERT INTO inert.fresh_sp SELECT generate_series(1, 1000);
RELEASE SAVEPOINT s;
SELECT pg_relation_filenode('inert.fresh_sp') AS file \gset
ALTER TABLE inert.fresh_sp ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
SELECT * FROM inert.stock('inert.fresh_sp', :file);
COMMIT;

-- ordinary tables for the cases below, committed before their ALTER
CREATE TABLE inert.t_off (id int);
CREATE TABLE inert.t_func (id int);
CREATE TABLE inert.t_do (id int);
CREATE TABLE inert.t_do_guarded (id int);
INSERT INTO inert.t_off SELECT generate_series(1, 1000);
INSERT INTO inert.t_func SELECT generate_series(1, 1000);
INSERT INTO inert.t_do SELECT generate_series(1, 1000);
INSERT INTO inert.t_do_guarded SELECT generate_series(1, 1000);

--
-- schema_guard.mode = off
--
SET schema_guard.mode = off;
SELECT pg_relation_filenode('inert.t_off') AS file \gset
ALTER TABLE inert.t_off ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
SELECT * FROM inert.stock('inert.t_off', :file);
RESET schema_guard.mode;

--
-- mode off set by a function's own SET clause, and by SET LOCAL in a DO block
--
CREATE FUNCTION inert.add_column() RETURNS void
LANGUAGE plpgsql SET schema_guard.mode = off AS $$
BEGIN
  ALTER TABLE inert.t_func ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
END $$;
SELECT pg_relation_filenode('inert.t_func') AS file \gset
SELECT inert.add_column();
SELECT * FROM inert.stock('inert.t_func', :file);
SELECT pg_relation_filenode('inert.t_do') AS file \gset
DO $$
BEGIN
  SET LOCAL schema_guard.mode = off;
  ALTER TABLE inert.t_do ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
END $$;
SELECT * FROM inert.stock('inert.t_do', :file);
SHOW schema_guard.mode;
-- the same DO block in the default mode is not inert: it is staged
SELECT pg_relation_filenode('inert.t_do_guarded') AS file \gset
DO $$
BEGIN
  ALTER TABLE inert.t_do_guarded ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
END $$;
SELECT pg_relation_filenode('inert.t_do_guarded') = :file AS same_file;
SET client_min_messages = warning;
CALL schema_guard.wait(600, '2 min');
RESET client_min_messages;
SELECT job, "table", state FROM schema_guard.progress WHERE job BETWEEN 600 AND 699;

--
-- a read-only transaction: the risky form fails with PostgreSQL's own
-- error, staged or not
--
CREATE TABLE inert.ro (id int);
INSERT INTO inert.ro VALUES (1);
BEGIN READ ONLY;
ALTER TABLE inert.ro ADD COLUMN c uuid DEFAULT gen_random_uuid();
ROLLBACK;
BEGIN READ ONLY;
SET LOCAL schema_guard.mode = off;
ALTER TABLE inert.ro ADD COLUMN c uuid DEFAULT gen_random_uuid();
ROLLBACK;

--
-- a database where the extension is not installed: the library is loaded
-- there too (it is preloaded), but does nothing
--
SELECT current_database() AS regress_db \gset
CREATE DATABASE sg_inert_noext;
\c sg_inert_noext
SHOW schema_guard.mode;
SELECT count(*) AS extension FROM pg_extension WHERE extname = 'schema_guard';
CREATE TABLE noext (id int);
INSERT INTO noext SELECT generate_series(1, 1000);
SELECT pg_relation_filenode('noext') AS file \gset
ALTER TABLE noext ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
SELECT pg_relation_filenode('noext') <> :file AS rewritten,
       count(*) = count(c) AND count(DISTINCT c) = count(*) AS rows_filled
  FROM noext;
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'noext'::regclass AND attname = 'c';
SELECT count(*) AS helpers FROM pg_trigger WHERE tgrelid = 'noext'::regclass;
\c :regress_db
DROP DATABASE sg_inert_noext;

-- no job but the one staged on purpose
SELECT job_id, state FROM schema_guard.jobs WHERE job_id BETWEEN 600 AND 699 ORDER BY job_id;

SET client_min_messages = warning;
DROP SCHEMA inert CASCADE;
RESET client_min_messages;
