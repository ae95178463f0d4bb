-- schema_guard.mode decides what happens to a risky ADD COLUMN: off runs
-- it exactly like PostgreSQL without schema_guard, warn warns and runs it as
-- written, block refuses it, rewrite stages it (or refuses a form that has
-- no online path).  Harmless forms run as written in every mode, and so
-- does every form on a table smaller than schema_guard.min_table_size.
SELECT sg_test.number_jobs_from(400);

CREATE SCHEMA modes;
CREATE DOMAIN modes.pos AS int CHECK (VALUE > 0);
CREATE DOMAIN modes.pos_nn AS int NOT NULL CHECK (VALUE > 0);
CREATE TABLE modes.guarded (id int PRIMARY KEY, v text);
INSERT INTO modes.guarded SELECT g, 'row ' || g FROM generate_series(1, 2000) g;

-- What the checks below compare: the table's file and its catalog entries.
CREATE FUNCTION modes.state(tab regclass, OUT file oid, OUT catalog text)
LANGUAGE sql AS $$
  SELECT pg_relation_filenode(tab), string_agg(c, E'\n') FROM sg_test.catalog(tab) c;
$$;

--
-- block: a risky form is refused, with why and what to do; nothing changes
--
SET schema_guard.mode = block;
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN r uuid DEFAULT gen_random_uuid();
ALTER TABLE modes.guarded ADD COLUMN r int GENERATED ALWAYS AS (id * 2) STORED;
ALTER TABLE modes.guarded ADD COLUMN r modes.pos DEFAULT 1;
ALTER TABLE modes.guarded ADD COLUMN r int UNIQUE;
-- in a transaction block too, and the transaction is aborted as by any error
BEGIN;
ALTER TABLE modes.guarded ADD COLUMN r bigserial;
ROLLBACK;
SELECT file = :before_file AS same_file, catalog = :'before_catalog' AS same_catalog
  FROM modes.state('modes.guarded');
-- a harmless form runs as written, without a word
ALTER TABLE modes.guarded ADD COLUMN b1 int DEFAULT 0;
-- a form that fails anyway gets PostgreSQL's own error
ALTER TABLE modes.guarded ADD COLUMN b2 int NOT NULL;
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
ALTER TABLE modes.guarded DROP COLUMN b1;

--
-- warn: a warning, then the statement runs as written: the table is
-- rewritten, as stock PostgreSQL does
--
SET schema_guard.mode = warn;
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN w1 uuid DEFAULT gen_random_uuid();
SELECT file <> :before_file AS rewritten FROM modes.state('modes.guarded');
SELECT count(*), count(w1), count(DISTINCT w1) FROM modes.guarded;
-- forms with no online path are also only warned about
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN w2 int GENERATED ALWAYS AS (id * 2) STORED;
SELECT file <> :before_file AS rewritten FROM modes.state('modes.guarded');
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN w3 modes.pos DEFAULT 1;
SELECT file <> :before_file AS rewritten FROM modes.state('modes.guarded');
SELECT count(*) FILTER (WHERE w2 = id * 2 AND w3 = 1) FROM modes.guarded;
-- harmless: no warning, no rewrite
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN w4 int DEFAULT 0;
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
ALTER TABLE modes.guarded DROP COLUMN w1, DROP COLUMN w2, DROP COLUMN w3, DROP COLUMN w4;

--
-- rewrite: forms with no online path are refused with why and what to do,
-- and nothing changes
--
SET schema_guard.mode = rewrite;
SELECT * FROM modes.state('modes.guarded') \gset before_
ALTER TABLE modes.guarded ADD COLUMN s int GENERATED ALWAYS AS (id * 2) STORED;
ALTER TABLE modes.guarded ADD COLUMN s modes.pos DEFAULT 1;
ALTER TABLE modes.guarded ADD COLUMN s modes.pos;
SELECT file = :before_file AS same_file, catalog = :'before_catalog' AS same_catalog
  FROM modes.state('modes.guarded');
-- harmless: no message, no rewrite
ALTER TABLE modes.guarded ADD COLUMN s1 int DEFAULT 0;
-- a statement that rewrites the table anyway runs as written, with a warning
ALTER TABLE modes.guarded ADD COLUMN s2 float8 DEFAULT random(), ALTER COLUMN v TYPE varchar(100);
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
SELECT * FROM modes.state('modes.guarded') \gset before_
-- a risky form is staged: a notice, no rewrite, and a job fills the rows
ALTER TABLE modes.guarded ADD COLUMN s3 uuid NOT NULL DEFAULT gen_random_uuid();
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
-- so is a constraint that would scan or build an index under the lock
ALTER TABLE modes.guarded ADD COLUMN s4 int UNIQUE;
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
SET client_min_messages = warning;
CALL schema_guard.wait(400, '2 min');
CALL schema_guard.wait(401, '2 min');
RESET client_min_messages;
SELECT job, "table", columns, state, phase FROM schema_guard.progress WHERE job IN (400, 401);
SELECT file = :before_file AS same_file FROM modes.state('modes.guarded');
SELECT count(*), count(s3), count(DISTINCT s3) FROM modes.guarded;
SELECT * FROM sg_test.catalog('modes.guarded');

--
-- off: nothing but PostgreSQL.  The same script runs on two identical
-- tables: with mode off on an ordinary table, and on a temporary table,
-- which schema_guard never touches (in the default mode here).  Catalogs,
-- data, notices and errors must be the same.
--
CREATE TABLE modes.script (step int PRIMARY KEY, sql text NOT NULL);
INSERT INTO modes.script VALUES
  (1, 'ALTER TABLE modes_tab ADD COLUMN a int DEFAULT 0'),
  (2, 'ALTER TABLE modes_tab ADD COLUMN b uuid DEFAULT gen_random_uuid()'),
  (3, 'ALTER TABLE modes_tab ADD COLUMN c bigserial'),
  (4, 'ALTER TABLE modes_tab ADD COLUMN d int GENERATED BY DEFAULT AS IDENTITY (START WITH 10)'),
  (5, 'ALTER TABLE modes_tab ADD COLUMN e int GENERATED ALWAYS AS (id * 2) STORED'),
  (6, 'ALTER TABLE modes_tab ADD COLUMN f int NOT NULL'),
  (7, 'ALTER TABLE modes_tab ADD COLUMN g no_such_type'),
  (8, 'ALTER TABLE modes_tab ADD COLUMN a text'),
  (9, 'ALTER TABLE modes_tab ADD COLUMN IF NOT EXISTS a text'),
  (10, 'ALTER TABLE modes_tab ADD COLUMN h modes.pos DEFAULT 3'),
  (11, 'ALTER TABLE modes_tab ADD COLUMN i int UNIQUE'),
  (12, 'ALTER TABLE modes_tab ADD COLUMN j int DEFAULT 5 CHECK (j > 0)'),
  (13, 'ALTER TABLE modes_tab ADD COLUMN k timestamptz NOT NULL DEFAULT clock_timestamp()'),
  (14, 'ALTER TABLE modes_tab ADD COLUMN l int DEFAULT 0 CHECK (l > 0)'),
  (15, 'ALTER TABLE modes_tab ADD COLUMN m modes.pos_nn'),
  (16, 'ALTER TABLE modes_tab ADD COLUMN n int, ALTER COLUMN v TYPE varchar(3)'),
  (17, 'ALTER TABLE modes_tab ADD COLUMN o int DEFAULT 1 REFERENCES modes_tab (id)'),
  (18, 'ALTER TABLE modes_tab ADD COLUMN p int DEFAULT -1 REFERENCES modes_tab (id)'),
  (19, 'ALTER TABLE modes_parent ADD COLUMN x int GENERATED ALWAYS AS IDENTITY'),
  (20, 'ALTER TABLE modes_parent ADD COLUMN y float8 DEFAULT random()'),
  (21, 'ALTER TABLE ONLY modes_parent ADD COLUMN z int'),
  (22, 'ALTER TABLE modes_kid ADD COLUMN y float8'),
  (23, 'ALTER TABLE no_such_table ADD COLUMN q int'),
  (24, 'ALTER TABLE IF EXISTS no_such_table ADD COLUMN q int');

CREATE TABLE modes.log (run text, step int, sqlstate text, message text, detail text,
                        PRIMARY KEY (run, step));
CREATE PROCEDURE modes.run_script(run text)
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  state text;
  msg text;
  det text;
BEGIN
  FOR s IN SELECT * FROM modes.script ORDER BY step LOOP
    BEGIN
      EXECUTE s.sql;
      INSERT INTO modes.log VALUES (run, s.step, NULL, NULL, NULL);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
                              det = PG_EXCEPTION_DETAIL;
      INSERT INTO modes.log VALUES (run, s.step, state, msg, det);
    END;
  END LOOP;
END $$;

-- two identical pairs of tables, one ordinary, one temporary
CREATE SCHEMA modes_reg;
CREATE TABLE modes_reg.modes_tab (id int PRIMARY KEY, v text);
INSERT INTO modes_reg.modes_tab SELECT g, 'row ' || g FROM generate_series(1, 500) g;
CREATE TABLE modes_reg.modes_parent (id int);
CREATE TABLE modes_reg.modes_kid () INHERITS (modes_reg.modes_parent);
INSERT INTO modes_reg.modes_parent SELECT generate_series(1, 100);
INSERT INTO modes_reg.modes_kid SELECT generate_series(101, 200);
CREATE TEMP TABLE modes_tab (id int PRIMARY KEY, v text);
INSERT INTO pg_temp.modes_tab SELECT g, 'row ' || g FROM generate_series(1, 500) g;
CREATE TEMP TABLE modes_parent (id int);
CREATE TEMP TABLE modes_kid () INHERITS (pg_temp.modes_parent);
INSERT INTO pg_temp.modes_parent SELECT generate_series(1, 100);
INSERT INTO pg_temp.modes_kid SELECT generate_series(101, 200);

-- the ordinary tables first in the search path, mode off
SET search_path = modes_reg, pg_temp;
SET schema_guard.mode = off;
CALL modes.run_script('off');
-- the temporary tables first, in the default mode
SET search_path = pg_temp, modes_reg;
RESET schema_guard.mode;
SHOW schema_guard.mode;
CALL modes.run_script('temporary');
RESET search_path;

-- what happened, step by step
SELECT step, sqlstate, message, detail FROM modes.log WHERE run = 'off' ORDER BY step;
-- the same happened to the temporary tables
SELECT step, o.message AS off, t.message AS temporary
  FROM (SELECT * FROM modes.log WHERE run = 'off') o
  FULL JOIN (SELECT * FROM modes.log WHERE run = 'temporary') t USING (step)
 WHERE (o.sqlstate, o.message, o.detail) IS DISTINCT FROM (t.sqlstate, t.message, t.detail);

-- the same catalogs (schema names aside: the index definitions name them)
CREATE FUNCTION modes.catalog(tab regclass) RETURNS SETOF text
LANGUAGE sql AS $$
  SELECT regexp_replace(c, '\m(pg_temp(_\d+)?|modes_reg)\.', '', 'g') FROM sg_test.catalog(tab) c;
$$;
SELECT * FROM modes.catalog('modes_reg.modes_tab');
(SELECT * FROM modes.catalog('modes_reg.modes_tab') EXCEPT ALL SELECT * FROM modes.catalog('pg_temp.modes_tab'))
UNION ALL
(SELECT * FROM modes.catalog('pg_temp.modes_tab') EXCEPT ALL SELECT * FROM modes.catalog('modes_reg.modes_tab'));
(SELECT * FROM modes.catalog('modes_reg.modes_parent') EXCEPT ALL SELECT * FROM modes.catalog('pg_temp.modes_parent'))
UNION ALL
(SELECT * FROM modes.catalog('pg_temp.modes_parent') EXCEPT ALL SELECT * FROM modes.catalog('modes_reg.modes_parent'))
UNION ALL
(SELECT * FROM modes.catalog('modes_reg.modes_kid') EXCEPT ALL SELECT * FROM modes.catalog('pg_temp.modes_kid'))
UNION ALL
(SELECT * FROM modes.catalog('pg_temp.modes_kid') EXCEPT ALL SELECT * FROM modes.catalog('modes_reg.modes_kid'));

-- the same data: equal where the values are determined, and as complete
-- and distinct where each row got its own random value
(SELECT id, v, a, c, d, e, h, i, j, o FROM modes_reg.modes_tab
 EXCEPT ALL SELECT id, v, a, c, d, e, h, i, j, o FROM pg_temp.modes_tab)
UNION ALL
(SELECT id, v, a, c, d, e, h, i, j, o FROM pg_temp.modes_tab
 EXCEPT ALL SELECT id, v, a, c, d, e, h, i, j, o FROM modes_reg.modes_tab);
SELECT 'ordinary' AS run, count(*), count(b), count(DISTINCT b), count(k), min(c), max(c), min(d), max(d)
  FROM modes_reg.modes_tab
UNION ALL
SELECT 'temporary', count(*), count(b), count(DISTINCT b), count(k), min(c), max(c), min(d), max(d)
  FROM pg_temp.modes_tab;
SELECT 'ordinary' AS run, count(*), count(y), count(DISTINCT y) FROM modes_reg.modes_parent
UNION ALL
SELECT 'temporary', count(*), count(y), count(DISTINCT y) FROM pg_temp.modes_parent;

--
-- schema_guard.min_table_size: a smaller table gets the plain ALTER in
-- every mode, without a word; the size counts whole 8 kB blocks
--
CREATE TABLE modes.small (id int);
INSERT INTO modes.small SELECT generate_series(1, 10);
SET schema_guard.min_table_size = '16kB';
SELECT action, reason FROM schema_guard.explain('ALTER TABLE modes.small ADD COLUMN t uuid DEFAULT gen_random_uuid()');
SET schema_guard.mode = warn;
SELECT * FROM modes.state('modes.small') \gset before_
ALTER TABLE modes.small ADD COLUMN t1 uuid DEFAULT gen_random_uuid();
SELECT file <> :before_file AS rewritten FROM modes.state('modes.small');
SET schema_guard.mode = block;
SELECT * FROM modes.state('modes.small') \gset before_
ALTER TABLE modes.small ADD COLUMN t2 uuid DEFAULT gen_random_uuid();
SELECT file <> :before_file AS rewritten FROM modes.state('modes.small');
SET schema_guard.mode = rewrite;
SELECT * FROM modes.state('modes.small') \gset before_
ALTER TABLE modes.small ADD COLUMN t3 uuid DEFAULT gen_random_uuid();
ALTER TABLE modes.small ADD COLUMN t4 int GENERATED ALWAYS AS (id * 2) STORED;
SELECT file <> :before_file AS rewritten FROM modes.state('modes.small');
SELECT count(*), count(t1), count(t2), count(t3), count(t4) FROM modes.small;
-- at exactly the table's size, the table is no longer below it
SET schema_guard.min_table_size = '8kB';
SELECT action FROM schema_guard.explain('ALTER TABLE modes.small ADD COLUMN t uuid DEFAULT gen_random_uuid()');
RESET schema_guard.min_table_size;
RESET schema_guard.mode;

-- one job was created here, and it is done
SELECT job_id, state FROM schema_guard.jobs WHERE job_id BETWEEN 400 AND 499 ORDER BY job_id;

SET client_min_messages = warning;
DROP SCHEMA modes, modes_reg CASCADE;
RESET client_min_messages;
