-- schema_guard.explain(sql): one row per subcommand of each statement of a
-- script, saying what the plain statement would cost under its lock and
-- what schema_guard would do in the current mode.  It executes nothing.
SELECT sg_test.number_jobs_from(500);

CREATE SCHEMA expl;
CREATE TABLE expl.orders (id int PRIMARY KEY, note text);
INSERT INTO expl.orders SELECT g, 'order ' || g FROM generate_series(1, 1000) g;
CREATE TABLE expl.empty (id int);
CREATE VIEW expl.order_view AS SELECT id FROM expl.orders;

-- the state explain() must leave alone
CREATE FUNCTION expl.state(OUT file oid, OUT catalog text, OUT jobs bigint, OUT next_job bigint)
LANGUAGE sql AS $$
  SELECT pg_relation_filenode('expl.orders'),
         (SELECT string_agg(c, E'\n') FROM sg_test.catalog('expl.orders') c),
         (SELECT count(*) FROM schema_guard.jobs),
         (SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END
            FROM schema_guard.jobs_job_id_seq);
$$;
SELECT * FROM expl.state() \gset before_

-- a script: each statement numbered, each subcommand a row
SELECT statement, "table", "column", subcommand, risk, action, reason
  FROM schema_guard.explain($$
    ALTER TABLE expl.orders ADD COLUMN a int DEFAULT 0, ADD COLUMN b uuid NOT NULL DEFAULT gen_random_uuid();
    UPDATE expl.orders SET note = 'x';
    ALTER TABLE expl.orders ALTER COLUMN note TYPE varchar(100), ADD COLUMN c text DEFAULT 'c';
    CREATE INDEX ON expl.orders (note);
    ALTER TABLE expl.orders ADD COLUMN d bigserial;
    ALTER TABLE expl.orders SET (fillfactor = 90);
    SELECT 1
  $$);

-- statements other than ALTER TABLE are let through, whatever they are
SELECT statement, subcommand, risk, action, reason
  FROM schema_guard.explain($$
    CREATE TABLE expl.later (id int);
    ALTER INDEX expl.orders_pkey SET (fillfactor = 80);
    ALTER VIEW expl.order_view RENAME TO v2;
    ALTER TABLE expl.orders RENAME COLUMN note TO remark;
    VACUUM expl.orders;
    BEGIN;
    COMMIT
  $$);

-- each statement is judged against the catalog as it is now: a table the
-- script itself would create is not there yet
SELECT statement, "table", subcommand, risk, action, reason
  FROM schema_guard.explain($$
    CREATE TABLE expl.later (id int);
    ALTER TABLE expl.later ADD COLUMN c uuid DEFAULT gen_random_uuid()
  $$);

-- unknown tables, with and without IF EXISTS
SELECT statement, "table", subcommand, risk, action, reason
  FROM schema_guard.explain($$
    ALTER TABLE expl.no_such_table ADD COLUMN c int;
    ALTER TABLE IF EXISTS expl.no_such_table ADD COLUMN c int;
    ALTER TABLE no_such_schema.orders ADD COLUMN c int
  $$);

-- statements PostgreSQL would reject get a row that says so, with
-- PostgreSQL's message; schema_guard lets them through to fail there
SELECT statement, "column", risk, action, reason
  FROM schema_guard.explain($$
    ALTER TABLE expl.orders ADD COLUMN c no_such_type;
    ALTER TABLE expl.orders ADD COLUMN c int DEFAULT no_such_function();
    ALTER TABLE expl.orders ADD COLUMN c int DEFAULT 'abc';
    ALTER TABLE expl.orders ADD COLUMN note text;
    ALTER TABLE expl.orders ADD COLUMN c int NOT NULL;
    ALTER TABLE expl.orders ADD COLUMN c serial[];
    ALTER TABLE expl.order_view ADD COLUMN c float8 DEFAULT random();
    ALTER TABLE expl.orders_pkey ADD COLUMN c int
  $$);

-- a syntax error points into the script, not into the call
SELECT * FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN a int; ALTER TABLE expl.orders ADD COLUMN b int DEFAULT;');
-- an empty script, or one of comments only, is an error
SELECT * FROM schema_guard.explain('');
SELECT * FROM schema_guard.explain('  -- nothing here
  ');
-- NULL in, nothing out: the function is STRICT
SELECT count(*) FROM schema_guard.explain(NULL);

-- the steps of a staged form, in order
SELECT unnest(steps) AS step
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN b uuid NOT NULL DEFAULT gen_random_uuid()');
SELECT unnest(steps) AS step
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN s bigserial');
SELECT unnest(steps) AS step
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN i int GENERATED ALWAYS AS IDENTITY (START WITH 100)');
-- only staged forms have steps
SELECT "column", action, steps IS NULL AS no_steps
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN a int DEFAULT 0, ADD COLUMN b float8 DEFAULT random()');
SELECT "column", action, steps IS NULL AS no_steps
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN u int UNIQUE');
-- a form with no online path refuses the whole statement
SELECT "column", action, steps IS NULL AS no_steps
  FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN b float8 DEFAULT random(), ADD COLUMN g int GENERATED ALWAYS AS (id) STORED');

-- the action follows the current mode
SET schema_guard.mode = warn;
SELECT "column", risk, action FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN a int DEFAULT 0, ADD COLUMN b float8 DEFAULT random()');
SET schema_guard.mode = block;
SELECT "column", risk, action FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN a int DEFAULT 0, ADD COLUMN b float8 DEFAULT random()');
SET schema_guard.mode = off;
SELECT "column", risk, action, reason FROM schema_guard.explain('ALTER TABLE expl.orders ADD COLUMN b float8 DEFAULT random()');
RESET schema_guard.mode;

-- tables schema_guard leaves alone: temporary ones, and those created in
-- the current transaction
CREATE TEMP TABLE expl_temp (id int);
INSERT INTO expl_temp VALUES (1);
SELECT risk, action, reason FROM schema_guard.explain('ALTER TABLE expl_temp ADD COLUMN b float8 DEFAULT random()');
BEGIN;
CREATE TABLE expl.fresh (id int);
INSERT INTO expl.fresh VALUES (1);
SELECT risk, action, reason FROM schema_guard.explain('ALTER TABLE expl.fresh ADD COLUMN b float8 DEFAULT random()');
ROLLBACK;

-- explain() executes nothing: the same file and catalog, no job, no job
-- number used, and it holds no lock stronger than ACCESS SHARE
BEGIN;
SELECT count(*) FROM schema_guard.explain($$
  ALTER TABLE expl.orders ADD COLUMN a int DEFAULT 0, ADD COLUMN b uuid NOT NULL DEFAULT gen_random_uuid();
  ALTER TABLE expl.orders ADD COLUMN d bigserial;
  ALTER TABLE expl.orders ADD COLUMN i int GENERATED ALWAYS AS IDENTITY;
  ALTER TABLE expl.orders ADD COLUMN g int GENERATED ALWAYS AS (id) STORED;
  ALTER TABLE expl.orders ADD COLUMN u int UNIQUE;
  ALTER TABLE expl.orders ALTER COLUMN note TYPE varchar(100)
$$);
SELECT mode FROM pg_locks
 WHERE locktype = 'relation' AND relation = 'expl.orders'::regclass AND pid = pg_backend_pid();
COMMIT;
SELECT file = :before_file AS same_file, catalog = :'before_catalog' AS same_catalog,
       jobs = :before_jobs AS no_job, next_job = :before_next_job AS same_next_job
  FROM expl.state();
SELECT count(*) AS sequences FROM pg_class WHERE relkind = 'S' AND relnamespace = 'expl'::regnamespace;

SET client_min_messages = warning;
DROP SCHEMA expl CASCADE;
RESET client_min_messages;
