-- The ADD COLUMN classifier against PostgreSQL itself.  For every form,
-- schema_guard.explain() gives its verdict (risk and action in the default
-- mode), then the same statement runs with schema_guard.mode = off, as stock
-- PostgreSQL runs it, and what it did to the table is observed:
--   rewrite      the table (or one of its leaves) got a new file
--   index build  a new index appeared
--   scan         the table's blocks were read, in the same file (blocks
--                read, not the seq_scan counter: PostgreSQL also "scans"
--                an empty table to check NOT NULL, reading nothing)
--   none         none of the above
-- A statement that fails is shown with its error; explain() must have said
-- that it fails (or that PostgreSQL would reject it).  Each form runs in a
-- subtransaction that is rolled back, so every form sees the same table.
SELECT sg_test.number_jobs_from(300);

CREATE SCHEMA cls;

-- a table with rows, an empty one, one with a single row
CREATE TABLE cls.items (id int, v text);
INSERT INTO cls.items SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
CREATE TABLE cls.empty (id int, v text);
CREATE TABLE cls.one (id int, v text);
INSERT INTO cls.one VALUES (1, 'only');

-- a table whose primary key is deferrable
CREATE TABLE cls.dpk (id int PRIMARY KEY DEFERRABLE, v text);
INSERT INTO cls.dpk SELECT g, 'row ' || g FROM generate_series(1, 1000) g;

-- a referenced table
CREATE TABLE cls.ref (id int PRIMARY KEY);
INSERT INTO cls.ref SELECT generate_series(1, 10);

-- a partitioned table, and a table with an inheritance child, both with rows
CREATE TABLE cls.part (id int, v text) PARTITION BY RANGE (id);
CREATE TABLE cls.part_1 PARTITION OF cls.part FOR VALUES FROM (0) TO (500);
CREATE TABLE cls.part_2 PARTITION OF cls.part FOR VALUES FROM (500) TO (1001);
INSERT INTO cls.part SELECT g, 'row ' || g FROM generate_series(1, 1000) g;
CREATE TABLE cls.parent (id int, v text);
CREATE TABLE cls.child () INHERITS (cls.parent);
INSERT INTO cls.parent SELECT g, 'row ' || g FROM generate_series(1, 500) g;
INSERT INTO cls.child SELECT g, 'row ' || g FROM generate_series(501, 1000) g;

-- quoted, mixed-case names
CREATE SCHEMA "Cls Mixed";
CREATE TABLE "Cls Mixed"."Order Items" ("Id" int, "Note" text);
INSERT INTO "Cls Mixed"."Order Items" SELECT g, 'item ' || g FROM generate_series(1, 1000) g;

-- a foreign table: a wrapper without handler is enough to define one
CREATE FOREIGN DATA WRAPPER cls_fdw;
CREATE SERVER cls_server FOREIGN DATA WRAPPER cls_fdw;
CREATE FOREIGN TABLE cls.ft (id int) SERVER cls_server;

-- types, functions and a sequence used in defaults
CREATE SEQUENCE cls.seq;
CREATE FUNCTION cls.vol_sql() RETURNS float8 LANGUAGE sql VOLATILE AS 'SELECT random()';
CREATE FUNCTION cls.vol_sql_const() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT 42';
CREATE FUNCTION cls.vol_plpgsql() RETURNS int LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 42; END';
CREATE FUNCTION cls.stable_fn() RETURNS float8 LANGUAGE plpgsql STABLE AS 'BEGIN RETURN random(); END';
CREATE FUNCTION cls.immutable_fn() RETURNS int LANGUAGE plpgsql IMMUTABLE AS 'BEGIN RETURN 7; END';
CREATE DOMAIN cls.plain_dom AS int;
CREATE DOMAIN cls.pos_dom AS int CHECK (VALUE > 0);
CREATE DOMAIN cls.nn_dom AS int NOT NULL;
CREATE DOMAIN cls.nn_dom_over AS cls.nn_dom;
CREATE DOMAIN cls.stamp_dom AS timestamptz DEFAULT clock_timestamp();
CREATE DOMAIN cls.tags AS text[];
CREATE DOMAIN cls.tags_nonempty AS text[] CHECK (cardinality(VALUE) > 0);
CREATE TYPE cls.pair AS (a int, b text);

-- Every member of a table's inheritance tree, the table first.
CREATE FUNCTION cls.members(tab regclass) RETURNS oid[]
LANGUAGE sql STABLE AS $$
  WITH RECURSIVE tree(relid) AS (
    SELECT tab::oid
    UNION ALL
    SELECT i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.relid)
  SELECT array_agg(relid ORDER BY relid <> tab, relid) FROM tree;
$$;

-- What can be seen of a tree of tables: their files, how many indexes they
-- have, and how many of their blocks this transaction has read so far.
CREATE FUNCTION cls.observe(members oid[], OUT files oid[], OUT indexes bigint,
                            OUT blocks_read bigint)
LANGUAGE sql VOLATILE AS $$
  SELECT array_agg(pg_relation_filenode(m) ORDER BY m),
         (SELECT count(*) FROM pg_index WHERE indrelid = ANY (members)),
         sum(pg_stat_get_xact_blocks_fetched(m))
    FROM unnest(members) m;
$$;

CREATE FUNCTION cls.rank(risk text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
  SELECT array_position(ARRAY['none', 'scan', 'index build', 'rewrite'], coalesce(risk, 'none'));
$$;

-- explain()'s verdict on one statement, then what stock PostgreSQL does.
CREATE FUNCTION cls.check(tab regclass, only_table boolean, clause text,
                          OUT risk text, OUT action text, OUT reality text,
                          OUT agree boolean)
LANGUAGE plpgsql AS $$
DECLARE
  stmt text := format('ALTER TABLE %s%s %s',
                       CASE WHEN only_table THEN 'ONLY ' ELSE '' END, tab, clause);
  members oid[] := cls.members(tab);
  predicts_failure boolean;
  before record;
  after record;
  failure text;
BEGIN
  -- the verdict: the worst risk of the statement's rows, and each action
  SELECT (array_agg(e.risk ORDER BY cls.rank(e.risk) DESC))[1],
         string_agg(e.action, ', ' ORDER BY e.n),
         bool_or(e.action = 'error' OR e.reason ~ '\m(fails|reject)')
           AND bool_and(e.action IN ('pass', 'error'))
    INTO risk, action, predicts_failure
    FROM schema_guard.explain(stmt)
         WITH ORDINALITY AS e(statement, tab, col, subcommand, risk, reason, action, steps, n);
  risk := coalesce(risk, 'none');

  -- reality: the plain statement, rolled back afterwards
  BEGIN
    PERFORM set_config('schema_guard.mode', 'off', true);
    before := cls.observe(members);
    BEGIN
      EXECUTE stmt;
    EXCEPTION WHEN OTHERS THEN
      failure := SQLERRM;
    END;
    after := cls.observe(members);
    RAISE EXCEPTION USING ERRCODE = 'SGT01', MESSAGE = 'roll back this form';
  EXCEPTION WHEN SQLSTATE 'SGT01' THEN
    NULL;
  END;

  reality := CASE
    WHEN after.files IS DISTINCT FROM before.files THEN 'rewrite'
    WHEN after.indexes > before.indexes THEN 'index build'
    WHEN after.blocks_read > before.blocks_read THEN 'scan'
    ELSE 'none' END;
  -- A statement that fails must be predicted to fail, and let through for
  -- PostgreSQL to reject (every action "pass").  What it did before failing
  -- is rolled back with it (a new file or index vanishes), so what is seen
  -- then is only a lower bound of the risk.
  agree := CASE WHEN failure IS NULL THEN reality = risk AND NOT predicts_failure
                ELSE predicts_failure AND cls.rank(reality) <= cls.rank(risk) END;
  IF failure IS NOT NULL THEN
    reality := reality || ', fails: ' || failure;
  END IF;
END $$;

CREATE TABLE cls.forms (n serial PRIMARY KEY, tab regclass NOT NULL,
                        only_table boolean NOT NULL DEFAULT false, clause text NOT NULL);
INSERT INTO cls.forms (tab, clause) VALUES
  -- constant, stable and immutable defaults are stored once in the catalog
  ('cls.items', 'ADD COLUMN c int DEFAULT 0'),
  ('cls.items', 'ADD COLUMN c text DEFAULT ''text'''),
  ('cls.items', 'ADD COLUMN c timestamptz DEFAULT now()'),
  ('cls.items', 'ADD COLUMN c timestamptz DEFAULT current_timestamp'),
  ('cls.items', 'ADD COLUMN c float8 DEFAULT cls.stable_fn()'),
  ('cls.items', 'ADD COLUMN c int DEFAULT cls.immutable_fn()'),
  ('cls.items', 'ADD COLUMN c int DEFAULT NULL'),
  ('cls.items', 'ADD COLUMN c int'),
  -- volatile defaults give each row its own value: a rewrite
  ('cls.items', 'ADD COLUMN c timestamptz DEFAULT clock_timestamp()'),
  ('cls.items', 'ADD COLUMN c float8 DEFAULT random()'),
  ('cls.items', 'ADD COLUMN c uuid DEFAULT gen_random_uuid()'),
  ('cls.items', 'ADD COLUMN c bigint DEFAULT nextval(''cls.seq'')'),
  ('cls.items', 'ADD COLUMN c float8 DEFAULT cls.vol_sql()'),
  ('cls.items', 'ADD COLUMN c int DEFAULT cls.vol_plpgsql()'),
  ('cls.items', 'ADD COLUMN c int DEFAULT (random() * 100)::int'),
  ('cls.items', 'ADD COLUMN c text DEFAULT gen_random_uuid()::text'),
  ('cls.items', 'ADD COLUMN c int DEFAULT CASE WHEN random() < 0.5 THEN 1 ELSE 2 END'),
  -- volatility is judged after planning, as PostgreSQL does: an inlined
  -- VOLATILE SQL function with a constant body, and a CASE whose volatile
  -- branch the planner removes, are constants
  ('cls.items', 'ADD COLUMN c int DEFAULT cls.vol_sql_const()'),
  ('cls.items', 'ADD COLUMN c int DEFAULT CASE WHEN true THEN 1 ELSE (random() * 10)::int END'),
  -- NOT NULL
  ('cls.items', 'ADD COLUMN c int NOT NULL DEFAULT 0'),
  ('cls.items', 'ADD COLUMN c timestamptz NOT NULL DEFAULT clock_timestamp()'),
  ('cls.items', 'ADD COLUMN c int NOT NULL'),
  ('cls.items', 'ADD COLUMN c int NOT NULL DEFAULT NULL'),
  ('cls.empty', 'ADD COLUMN c int NOT NULL'),
  ('cls.empty', 'ADD COLUMN c int NOT NULL DEFAULT 0'),
  ('cls.empty', 'ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()'),
  -- serial and identity columns are filled from their sequence
  ('cls.items', 'ADD COLUMN c serial'),
  ('cls.items', 'ADD COLUMN c bigserial'),
  ('cls.items', 'ADD COLUMN c smallserial'),
  ('cls.items', 'ADD COLUMN c serial4'),
  ('cls.items', 'ADD COLUMN c serial8'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS IDENTITY'),
  ('cls.items', 'ADD COLUMN c bigint GENERATED BY DEFAULT AS IDENTITY'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS IDENTITY (START WITH 1000 INCREMENT BY 10)'),
  ('cls.items', 'ADD COLUMN c bigint GENERATED BY DEFAULT AS IDENTITY (START 5 CACHE 20 NO CYCLE)'),
  -- stored generated columns
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) STORED'),
  -- domains: only constraints force a rewrite (or a volatile default)
  ('cls.items', 'ADD COLUMN c cls.plain_dom'),
  ('cls.items', 'ADD COLUMN c cls.plain_dom DEFAULT 7'),
  ('cls.items', 'ADD COLUMN c cls.pos_dom'),
  ('cls.items', 'ADD COLUMN c cls.pos_dom DEFAULT 1'),
  ('cls.items', 'ADD COLUMN c cls.nn_dom DEFAULT 1'),
  ('cls.items', 'ADD COLUMN c cls.nn_dom'),
  ('cls.items', 'ADD COLUMN c cls.nn_dom DEFAULT NULL'),
  ('cls.items', 'ADD COLUMN c cls.nn_dom_over'),
  ('cls.empty', 'ADD COLUMN c cls.nn_dom'),
  ('cls.items', 'ADD COLUMN c cls.stamp_dom'),
  ('cls.items', 'ADD COLUMN c cls.stamp_dom DEFAULT NULL'),
  ('cls.items', 'ADD COLUMN c cls.tags DEFAULT ''{}'''),
  ('cls.items', 'ADD COLUMN c cls.tags_nonempty DEFAULT ''{a}'''),
  -- arrays, composite types, collations
  ('cls.items', 'ADD COLUMN c int[] DEFAULT ''{1,2}'''),
  ('cls.items', 'ADD COLUMN c float8[] DEFAULT ARRAY[random()]'),
  ('cls.items', 'ADD COLUMN c cls.pair'),
  ('cls.items', 'ADD COLUMN c cls.pair DEFAULT ROW(1, ''a'')'),
  ('cls.items', 'ADD COLUMN c text COLLATE "C" DEFAULT ''x'''),
  -- UNIQUE and PRIMARY KEY build an index
  ('cls.items', 'ADD COLUMN c int UNIQUE'),
  ('cls.items', 'ADD COLUMN c uuid UNIQUE DEFAULT gen_random_uuid()'),
  ('cls.items', 'ADD COLUMN c bigserial PRIMARY KEY'),
  ('cls.one', 'ADD COLUMN c int DEFAULT 0 PRIMARY KEY'),
  -- the same value in every row of a table with two rows or more
  ('cls.items', 'ADD COLUMN c int DEFAULT 0 UNIQUE'),
  ('cls.items', 'ADD COLUMN c text[] DEFAULT string_to_array(''a,b'', '','') UNIQUE, ADD COLUMN d bigserial'),
  ('cls.empty', 'ADD COLUMN c int PRIMARY KEY'),
  ('cls.items', 'ADD COLUMN c int PRIMARY KEY'),
  ('cls.dpk', 'ADD COLUMN c bigserial PRIMARY KEY'),
  -- CHECK is verified by a scan; a foreign key only when there is a default
  ('cls.items', 'ADD COLUMN c int CHECK (c > 0)'),
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 CHECK (c > 0)'),
  ('cls.items', 'ADD COLUMN c int REFERENCES cls.ref'),
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 REFERENCES cls.ref'),
  ('cls.items', 'ADD COLUMN c int DEFAULT NULL REFERENCES cls.ref'),
  ('cls.items', 'ADD COLUMN c int DEFAULT (random() * 9)::int + 1 REFERENCES cls.ref'),
  -- the column exists already
  ('cls.items', 'ADD COLUMN IF NOT EXISTS v text DEFAULT random()::text'),
  -- a column the statement drops is gone before any ADD runs
  ('cls.items', 'DROP COLUMN v, ADD COLUMN IF NOT EXISTS v text DEFAULT random()::text'),
  ('cls.items', 'ADD COLUMN v text DEFAULT random()::text, DROP COLUMN v'),
  -- another subcommand checks the existing rows anyway: runs as written
  ('cls.items', 'ADD COLUMN c uuid DEFAULT gen_random_uuid(), ADD CONSTRAINT items_id_chk CHECK (id > 0)'),
  ('cls.items', 'ADD COLUMN c uuid DEFAULT gen_random_uuid(), ADD CONSTRAINT items_id_chk CHECK (id > 0) NOT VALID'),
  ('cls.items', 'ADD COLUMN c uuid DEFAULT gen_random_uuid(), ALTER COLUMN id SET NOT NULL'),
  ('cls.items', 'ADD COLUMN v text'),
  -- several subcommands
  ('cls.items', 'ADD COLUMN a int DEFAULT 0, ADD COLUMN b text DEFAULT ''x'''),
  ('cls.items', 'ADD COLUMN a int DEFAULT 0, ADD COLUMN b uuid DEFAULT gen_random_uuid()'),
  ('cls.items', 'ADD COLUMN a int DEFAULT 0, ADD COLUMN r int REFERENCES cls.ref'),
  ('cls.items', 'ADD COLUMN a int DEFAULT 0, ALTER COLUMN id TYPE bigint'),
  ('cls.items', 'ADD a int, ADD IF NOT EXISTS id int, ADD b int NOT NULL'),
  ('cls.items', 'ADD COLUMN a uuid DEFAULT gen_random_uuid(), ADD COLUMN b int NOT NULL'),
  ('cls.items', 'ADD COLUMN a int UNIQUE, ADD COLUMN b int NOT NULL'),
  -- a foreign table stores no rows here
  ('cls.ft', 'ADD COLUMN c float8 DEFAULT random()'),
  -- a partitioned table: the leaves are what is rewritten or scanned
  ('cls.part', 'ADD COLUMN c int DEFAULT 0'),
  ('cls.part', 'ADD COLUMN c uuid DEFAULT gen_random_uuid()'),
  ('cls.part', 'ADD COLUMN c int CHECK (c > 0)'),
  ('cls.part', 'ADD COLUMN c int GENERATED ALWAYS AS IDENTITY'),
  ('cls.part_1', 'ADD COLUMN c float8 DEFAULT random()'),
  -- a table with an inheritance child
  ('cls.parent', 'ADD COLUMN c int DEFAULT 0'),
  ('cls.parent', 'ADD COLUMN c float8 DEFAULT random()'),
  ('cls.parent', 'ADD COLUMN c int GENERATED ALWAYS AS IDENTITY'),
  ('cls.child', 'ADD COLUMN c float8 DEFAULT random()'),
  -- quoted, mixed-case names
  ('"Cls Mixed"."Order Items"', 'ADD COLUMN "Created At" timestamptz DEFAULT clock_timestamp()'),
  ('"Cls Mixed"."Order Items"', 'ADD COLUMN "Line Total" numeric(10, 2) DEFAULT 0'),
  -- statements PostgreSQL rejects
  ('cls.items', 'ADD COLUMN c no_such_type'),
  ('cls.items', 'ADD COLUMN c int DEFAULT no_such_function()');
-- PostgreSQL 18's forms, on 18 only (its output is expected/classify_1.out)
INSERT INTO cls.forms (tab, clause)
SELECT tab::regclass, clause FROM (VALUES
  -- a virtual generated column (18's default kind) is computed when read
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2)'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL'),
  ('cls.part', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL NOT NULL'),
  ('cls.empty', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL NOT NULL'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL CHECK (c > 0)'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id * 2) VIRTUAL UNIQUE'),
  ('cls.items', 'ADD COLUMN c int GENERATED ALWAYS AS (id) VIRTUAL REFERENCES cls.ref'),
  ('cls.items', 'ADD COLUMN c cls.plain_dom GENERATED ALWAYS AS (id) VIRTUAL'),
  -- a NOT ENFORCED constraint checks nothing
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 CHECK (c > 0) NOT ENFORCED'),
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 CHECK (c > 0) ENFORCED'),
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 REFERENCES cls.ref NOT ENFORCED'),
  ('cls.items', 'ADD COLUMN c float8 DEFAULT random() CHECK (c >= 0) NOT ENFORCED'),
  ('cls.items', 'ADD COLUMN c int DEFAULT 1 NOT ENFORCED'),
  -- a named NOT NULL, NOT NULL NO INHERIT
  ('cls.items', 'ADD COLUMN c uuid CONSTRAINT c_nn NOT NULL DEFAULT gen_random_uuid()'),
  ('cls.parent', 'ADD COLUMN c float8 NOT NULL NO INHERIT DEFAULT random()'),
  ('cls.part', 'ADD COLUMN c float8 NOT NULL NO INHERIT DEFAULT random()'),
  -- identity columns on partitioned tables (17 and later)
  ('cls.part', 'ADD COLUMN c bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 10)')
) AS f(tab, clause)
WHERE current_setting('server_version_num')::int >= 180000;
-- ONLY on a table with children
INSERT INTO cls.forms (tab, only_table, clause) VALUES
  ('cls.parent', true, 'ADD COLUMN c int DEFAULT 0'),
  ('cls.parent', true, 'ADD COLUMN c float8 DEFAULT random()'),
  ('cls.parent', true, 'ADD COLUMN IF NOT EXISTS v text DEFAULT random()::text'),
  ('cls.part', true, 'ADD COLUMN c int DEFAULT 0');

-- One row per form.  PostgreSQL's own notices (IF NOT EXISTS skipping a
-- column) are not what this test is about.
SET client_min_messages = warning;
CREATE TABLE cls.results AS
SELECT f.n, CASE WHEN f.only_table THEN 'ONLY ' ELSE '' END || f.tab::text AS "table",
       f.clause, c.risk, c.action, c.reality, c.agree
  FROM cls.forms f, LATERAL cls.check(f.tab, f.only_table, f.clause) c;
RESET client_min_messages;
SELECT "table", clause, risk, action, reality, agree FROM cls.results ORDER BY n;

-- The verdicts that disagree with PostgreSQL: there must be none.
SELECT count(*) AS forms, count(*) FILTER (WHERE NOT agree) AS disagreements
  FROM cls.results;

-- Nothing was left behind: the setting is back, no job was created, and
-- the tables are as they were.
SHOW schema_guard.mode;
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id BETWEEN 300 AND 399;
SELECT * FROM sg_test.catalog('cls.items');
SELECT relname FROM pg_class WHERE relnamespace = 'cls'::regnamespace AND relkind = 'S' ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA cls CASCADE;
DROP SCHEMA "Cls Mixed" CASCADE;
DROP SERVER cls_server;
DROP FOREIGN DATA WRAPPER cls_fdw;
RESET client_min_messages;
