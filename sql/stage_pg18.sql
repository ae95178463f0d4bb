-- PostgreSQL 18's ADD COLUMN, staged (this test runs on 18 and later
-- only).  A NOT NULL column gets 18's own NOT NULL constraint, added NOT
-- VALID under the name the plain ALTER gives it: during the job an
-- application's NULL is refused with 23502, as after the plain ALTER, and
-- the job ends with that constraint validated.  Virtual generated columns
-- and NOT ENFORCED constraints are added as written; a partitioned table
-- gets an identity column.  Every form ends with the catalogs of the plain
-- ALTER on an identical table: constraint names, validity, enforcement,
-- inheritance counts and NO INHERIT included.
SELECT sg_test.number_jobs_from(3800);

-- sg_test.catalog, and what pg_constraint says beyond it
CREATE FUNCTION sg_test.describe(tab regclass, parent text DEFAULT NULL) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT * FROM sg_test.catalog(tab, parent)
  UNION ALL
  SELECT replace(replace(format('pg_constraint %s type=%s validated=%s enforced=%s local=%s inhcount=%s noinherit=%s',
                                k.conname, k.contype, k.convalidated, k.conenforced, k.conislocal,
                                k.coninhcount, k.connoinherit),
                         c.relname, 'T'), coalesce(parent, c.relname), 'P')
    FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
   WHERE k.conrelid = tab;
$$;
-- what differs between the plain table and the guarded one, and between
-- their partitions or children of the same suffixes
CREATE FUNCTION sg_test.differences(plain text, guard text, suffixes text[] DEFAULT ARRAY['']) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  SELECT format('%s%s only in %s: %s', guard, s.suffix, d.side, d.line)
    FROM unnest(suffixes) AS s(suffix),
    LATERAL ((SELECT 'plain', x FROM sg_test.describe((plain || s.suffix)::regclass, plain) x
              EXCEPT ALL
              SELECT 'plain', x FROM sg_test.describe((guard || s.suffix)::regclass, guard) x)
             UNION ALL
             (SELECT 'guard', x FROM sg_test.describe((guard || s.suffix)::regclass, guard) x
              EXCEPT ALL
              SELECT 'guard', x FROM sg_test.describe((plain || s.suffix)::regclass, plain) x)) AS d(side, line)
   ORDER BY 1;
$$;
-- an application's statement, and the SQLSTATE and message it fails with
CREATE PROCEDURE sg_test.try(sql text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE sql;
  RAISE NOTICE 'ok';
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE '% %', SQLSTATE, SQLERRM;
END $$;

CREATE TABLE p18_ref (id int PRIMARY KEY);
INSERT INTO p18_ref SELECT generate_series(1, 10);

--
-- A plain table: NOT NULL volatile defaults (one named), serial and
-- identity, NOT ENFORCED constraints beside a staged column, a virtual
-- generated column.
--
CREATE FUNCTION sg_test.p18_table(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int, v text)', name);
  EXECUTE format('INSERT INTO %I SELECT g, repeat(''x'', 50) FROM generate_series(1, 2000) g', name);
END $$;
SELECT sg_test.p18_table('p18_plain'), sg_test.p18_table('p18_guard');
CREATE PROCEDURE sg_test.p18_alter(tab text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I
    ADD COLUMN a uuid NOT NULL DEFAULT gen_random_uuid(),
    ADD COLUMN b bigserial,
    ADD COLUMN c int GENERATED ALWAYS AS IDENTITY (START WITH 100),
    ADD COLUMN d float8 CONSTRAINT %I NOT NULL DEFAULT random(),
    ADD COLUMN e float8 DEFAULT random() CHECK (e >= 0) NOT ENFORCED,
    ADD COLUMN f int DEFAULT 1 REFERENCES p18_ref NOT ENFORCED,
    ADD COLUMN g int GENERATED ALWAYS AS (id * 2),
    ADD COLUMN h bigserial UNIQUE', tab, tab || '_d_present');
END $$;
SET schema_guard.mode = off;
CALL sg_test.p18_alter('p18_plain');
RESET schema_guard.mode;
BEGIN;
CALL sg_test.p18_alter('p18_guard');
SELECT schema_guard.pause(3800);
COMMIT;
SELECT kind, name FROM schema_guard.job_objects WHERE job_id = 3800 ORDER BY kind, name;
-- during the job: the NOT NULL constraints exist, NOT VALID, under their
-- final names; the NOT ENFORCED ones are there as written
SELECT d FROM sg_test.describe('p18_guard') d WHERE d ~ '^(pg_)?constraint' ORDER BY 1;
-- an application's NULL fails as after the plain ALTER, old rows are filled
-- when updated, virtual columns are computed
CALL sg_test.try($$INSERT INTO p18_guard (id, v, a) VALUES (5001, 'new', NULL)$$);
CALL sg_test.try($$INSERT INTO p18_plain (id, v, a) VALUES (5001, 'new', NULL)$$);
CALL sg_test.try($$UPDATE p18_guard SET d = NULL WHERE id = 1$$);
CALL sg_test.try($$UPDATE p18_plain SET d = NULL WHERE id = 1$$);
CALL sg_test.try($$INSERT INTO p18_guard (id, v, g) VALUES (5002, 'new', 7)$$);
UPDATE p18_guard SET v = 'touched' WHERE id = 2;
SELECT a IS NOT NULL AS a, d IS NOT NULL AS d, g FROM p18_guard WHERE id = 2;
-- what would remove a NOT NULL the job validates is refused, as a helper
-- check's drop is
ALTER TABLE p18_guard ALTER COLUMN a DROP NOT NULL;
ALTER TABLE p18_guard DROP CONSTRAINT p18_guard_d_present;
SELECT schema_guard.resume(3800);
SET client_min_messages = warning;
CALL schema_guard.wait(3800, '2 min');
RESET client_min_messages;
SELECT event FROM schema_guard.history WHERE job = 3800;
SELECT count(*), count(a), count(DISTINCT a), count(DISTINCT b), count(DISTINCT c), min(c),
       count(d), count(e), count(f), count(DISTINCT h), sum(g) = sum(id) * 2 AS g
  FROM p18_guard;
SELECT * FROM sg_test.differences('p18_plain', 'p18_guard');
CALL sg_test.try($$INSERT INTO p18_guard (id, v, c) VALUES (5003, 'new', 1)$$);
CALL sg_test.try($$INSERT INTO p18_plain (id, v, c) VALUES (5003, 'new', 1)$$);

--
-- A partitioned table: an identity column on every partition (17 and
-- later), a NOT NULL volatile default, a foreign key.  A partition
-- attached meanwhile needs the column NOT NULL, as after the plain ALTER.
--
CREATE FUNCTION sg_test.p18_parted(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int, v text) PARTITION BY RANGE (id)', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (0) TO (1000)', name || '_a', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (1000) TO (3000) PARTITION BY RANGE (id)',
                 name || '_b', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (1000) TO (3000)', name || '_b1', name || '_b');
  EXECUTE format('INSERT INTO %I SELECT g, repeat(''p'', 50) FROM generate_series(1, 2400) g', name);
END $$;
SELECT sg_test.p18_parted('p18_pplain'), sg_test.p18_parted('p18_pguard');
CREATE PROCEDURE sg_test.p18_palter(tab text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I
    ADD COLUMN n bigint GENERATED BY DEFAULT AS IDENTITY,
    ADD COLUMN t timestamptz NOT NULL DEFAULT clock_timestamp(),
    ADD COLUMN r int DEFAULT (random() * 9)::int + 1 REFERENCES p18_ref', tab);
END $$;
SET schema_guard.mode = off;
CALL sg_test.p18_palter('p18_pplain');
RESET schema_guard.mode;
BEGIN;
CALL sg_test.p18_palter('p18_pguard');
SELECT schema_guard.pause(3801);
COMMIT;
CREATE TABLE p18_pguard_c (id int, v text, n bigint NOT NULL, t timestamptz, r int);
CALL sg_test.try($$ALTER TABLE p18_pguard ATTACH PARTITION p18_pguard_c FOR VALUES FROM (4000) TO (5000)$$);
CREATE TABLE p18_pplain_c (id int, v text, n bigint NOT NULL, t timestamptz, r int);
CALL sg_test.try($$ALTER TABLE p18_pplain ATTACH PARTITION p18_pplain_c FOR VALUES FROM (4000) TO (5000)$$);
DROP TABLE p18_pguard_c, p18_pplain_c;
SELECT schema_guard.resume(3801);
SET client_min_messages = warning;
CALL schema_guard.wait(3801, '2 min');
RESET client_min_messages;
SELECT tableoid::regclass AS leaf, count(*), count(DISTINCT n), count(t), count(r)
  FROM p18_pguard GROUP BY 1 ORDER BY tableoid::regclass::text COLLATE "C";
SELECT * FROM sg_test.differences('p18_pplain', 'p18_pguard', ARRAY['', '_a', '_b', '_b1']);
-- the partitions share the parent's identity sequence
INSERT INTO p18_pguard (id, v) VALUES (10, 'new'), (1010, 'new');
SELECT count(DISTINCT n) = count(*) AS distinct_n FROM p18_pguard;

--
-- NOT NULL NO INHERIT: staged on a table without children; on one with
-- children it runs as written, with a warning: 18 marks the children's
-- column NOT NULL without a constraint of theirs, which no staged
-- statement makes.
--
CREATE TABLE p18_nplain (id int, v text);
INSERT INTO p18_nplain SELECT g, 'x' FROM generate_series(1, 1000) g;
CREATE TABLE p18_nguard (id int, v text);
INSERT INTO p18_nguard SELECT g, 'x' FROM generate_series(1, 1000) g;
SET schema_guard.mode = off;
ALTER TABLE p18_nplain ADD COLUMN w float8 NOT NULL NO INHERIT DEFAULT random();
RESET schema_guard.mode;
ALTER TABLE p18_nguard ADD COLUMN w float8 NOT NULL NO INHERIT DEFAULT random();
SET client_min_messages = warning;
CALL schema_guard.wait(3802, '2 min');
RESET client_min_messages;
SELECT count(*), count(w) FROM p18_nguard;
SELECT * FROM sg_test.differences('p18_nplain', 'p18_nguard');
CREATE FUNCTION sg_test.p18_tree(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int, v text)', name);
  EXECUTE format('CREATE TABLE %I () INHERITS (%I)', name || '_c', name);
  EXECUTE format('INSERT INTO %I SELECT g, ''x'' FROM generate_series(1, 500) g', name);
  EXECUTE format('INSERT INTO %I SELECT g, ''x'' FROM generate_series(501, 1000) g', name || '_c');
END $$;
SELECT sg_test.p18_tree('p18_iplain'), sg_test.p18_tree('p18_iguard');
SET schema_guard.mode = off;
ALTER TABLE p18_iplain ADD COLUMN w float8 NOT NULL NO INHERIT DEFAULT random(),
                       ADD COLUMN x float8 NOT NULL DEFAULT random();
RESET schema_guard.mode;
ALTER TABLE p18_iguard ADD COLUMN w float8 NOT NULL NO INHERIT DEFAULT random(),
                       ADD COLUMN x float8 NOT NULL DEFAULT random();
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id > 3802;
SELECT tableoid::regclass AS tab, count(*), count(w), count(x) FROM p18_iguard GROUP BY 1 ORDER BY tableoid::regclass::text COLLATE "C";
SELECT * FROM sg_test.differences('p18_iplain', 'p18_iguard', ARRAY['', '_c']);

--
-- A job cancelled: its NOT NULL constraint goes with its fill trigger, the
-- column stays nullable, its rows as they are.
--
CREATE TABLE p18_cancel (id int, v text);
INSERT INTO p18_cancel SELECT g, 'x' FROM generate_series(1, 1000) g;
BEGIN;
ALTER TABLE p18_cancel ADD COLUMN k uuid NOT NULL DEFAULT gen_random_uuid();
SELECT schema_guard.pause(3803);
COMMIT;
SELECT schema_guard.cancel(3803);
SELECT * FROM sg_test.describe('p18_cancel') ORDER BY 1;
UPDATE p18_cancel SET v = 'after' WHERE id = 1;
SELECT count(*), count(k) FROM p18_cancel;

SET client_min_messages = warning;
DROP TABLE p18_plain, p18_guard, p18_pplain, p18_pguard, p18_nplain, p18_nguard, p18_iplain,
  p18_iguard, p18_cancel, p18_ref CASCADE;
DROP FUNCTION sg_test.p18_table(text), sg_test.p18_parted(text), sg_test.p18_tree(text);
DROP PROCEDURE sg_test.p18_alter(text), sg_test.p18_palter(text);
RESET client_min_messages;
