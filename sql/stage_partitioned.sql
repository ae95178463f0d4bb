-- Partitioned tables and inheritance trees: every leaf is filled, the
-- constraints end on the parent and on each leaf as PostgreSQL puts them,
-- and partitions attached or created meanwhile end correct.
SELECT sg_test.number_jobs_from(1400);

-- a partitioned table with a sub-partitioned partition and a default one
CREATE FUNCTION sg_test.make_parted(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE %I (id int, v text) PARTITION BY RANGE (id)', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (0) TO (1000)', name || '_a', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (1000) TO (2000) PARTITION BY RANGE (id)',
                 name || '_b', name);
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (1000) TO (1500)', name || '_b1', name || '_b');
  EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (1500) TO (2000)', name || '_b2', name || '_b');
  EXECUTE format('CREATE TABLE %I PARTITION OF %I DEFAULT', name || '_d', name);
  EXECUTE format('INSERT INTO %I SELECT g, repeat(''p'', 50) FROM generate_series(1, 2400) g', name);
END $$;
SELECT sg_test.make_parted('pt_plain'), sg_test.make_parted('pt_guard');

CREATE PROCEDURE sg_test.pt_alter(tab text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %I ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid(),
                  ADD COLUMN n bigserial CHECK (n > 0)', tab);
END $$;
SET schema_guard.mode = off;
CALL sg_test.pt_alter('pt_plain');
RESET schema_guard.mode;
BEGIN;
CALL sg_test.pt_alter('pt_guard');
SELECT schema_guard.pause(1400);
COMMIT;
-- one job, every leaf in it; clones of the helper check and fill trigger
SELECT relid, pass, done FROM schema_guard.job_leaves WHERE job_id = 1400 ORDER BY relid::text;
SELECT tgrelid::regclass, tgenabled FROM pg_trigger
 WHERE tgname = '~schema_guard_fill_1400' ORDER BY tgrelid::regclass::text;

-- meanwhile: writes to old rows, a new partition, an attached one; a
-- detach would take rows out of the job
UPDATE pt_guard SET v = 'touched' WHERE id IN (5, 1005, 1705, 2300);
CREATE TABLE pt_guard_c PARTITION OF pt_guard FOR VALUES FROM (3000) TO (4000);
INSERT INTO pt_guard (id, v) VALUES (3001, 'new');
-- (it needs the CHECK constraint of the ALTER, as it would after the plain ALTER)
CREATE TABLE pt_guard_e (id int, v text, token uuid NOT NULL, n bigint NOT NULL CONSTRAINT pt_guard_n_check CHECK (n > 0));
INSERT INTO pt_guard_e VALUES (4001, 'attached', gen_random_uuid(), 100000);
ALTER TABLE pt_guard DETACH PARTITION pt_guard_d;
ALTER TABLE pt_guard ATTACH PARTITION pt_guard_e FOR VALUES FROM (4000) TO (5000);
SELECT schema_guard.resume(1400);
SET client_min_messages = warning;
CALL schema_guard.wait(1400, '2 min');
RESET client_min_messages;

-- every row of every leaf filled, values distinct
SELECT tableoid::regclass AS leaf, count(*), count(token), count(DISTINCT token), count(n)
  FROM pt_guard GROUP BY 1 ORDER BY 1::text;
SELECT count(*), count(DISTINCT n) FROM pt_guard;
-- the same catalogs as the plain ALTER, on the parent and every partition
-- (the partitions added meanwhile have no counterpart)
SELECT p.suffix,
       (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('pt_plain' || p.suffix)::regclass, 'pt_plain') c)
     = (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('pt_guard' || p.suffix)::regclass, 'pt_guard') c)
       AS same
  FROM unnest(ARRAY['', '_a', '_b', '_b1', '_b2', '_d']) AS p(suffix);
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE '~schema_guard_fill%';
SELECT * FROM sg_test.catalog('pt_guard_e', 'pt_guard');

-- an inheritance tree: children are filled too, each with its own trigger
-- during the job
CREATE TABLE ih_plain (id int, v text);
CREATE TABLE ih_plain_c1 () INHERITS (ih_plain);
CREATE TABLE ih_plain_c2 (extra int) INHERITS (ih_plain);
INSERT INTO ih_plain SELECT g, 'parent' FROM generate_series(1, 500) g;
INSERT INTO ih_plain_c1 SELECT g, 'c1' FROM generate_series(501, 1000) g;
INSERT INTO ih_plain_c2 SELECT g, 'c2', g FROM generate_series(1001, 1500) g;
CREATE TABLE ih_guard (id int, v text);
CREATE TABLE ih_guard_c1 () INHERITS (ih_guard);
CREATE TABLE ih_guard_c2 (extra int) INHERITS (ih_guard);
INSERT INTO ih_guard SELECT g, 'parent' FROM generate_series(1, 500) g;
INSERT INTO ih_guard_c1 SELECT g, 'c1' FROM generate_series(501, 1000) g;
INSERT INTO ih_guard_c2 SELECT g, 'c2', g FROM generate_series(1001, 1500) g;
SET schema_guard.mode = off;
ALTER TABLE ih_plain ADD COLUMN r float8 NOT NULL DEFAULT random();
RESET schema_guard.mode;
BEGIN;
ALTER TABLE ih_guard ADD COLUMN r float8 NOT NULL DEFAULT random();
SELECT schema_guard.pause(1401);
COMMIT;
SELECT tgrelid::regclass, tgenabled FROM pg_trigger
 WHERE tgname = '~schema_guard_fill_1401' ORDER BY tgrelid::regclass::text;
UPDATE ih_guard SET v = v || '!' WHERE id % 100 = 0;
SELECT schema_guard.resume(1401);
SET client_min_messages = warning;
CALL schema_guard.wait(1401, '2 min');
RESET client_min_messages;
SELECT tableoid::regclass AS tab, count(*), count(r), count(DISTINCT r) FROM ih_guard GROUP BY 1 ORDER BY 1::text;
SELECT p.suffix,
       (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('ih_plain' || p.suffix)::regclass, 'ih_plain') c)
     = (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('ih_guard' || p.suffix)::regclass, 'ih_guard') c)
       AS same
  FROM unnest(ARRAY['', '_c1', '_c2']) AS p(suffix);
SELECT count(*) AS triggers_left FROM pg_trigger WHERE tgname LIKE '~schema_guard_fill%';

-- ONLY fails as in PostgreSQL; a child that has the column already merges
-- it, which runs as written with a warning
ALTER TABLE ONLY ih_guard ADD COLUMN o float8 DEFAULT random();
ALTER TABLE ih_guard_c2 ADD COLUMN m float8 DEFAULT 1;
ALTER TABLE ih_guard ADD COLUMN m float8 DEFAULT random();
SELECT count(*) FILTER (WHERE m = 1) AS kept, count(*) FILTER (WHERE m IS NULL) AS null_m
  FROM ih_guard_c2;

-- a foreign key on a partitioned table: NOT VALID on each leaf, validated
-- there, then the parent's constraint attaches the leaves' (the same
-- constraints, not new ones that would check the rows again); on
-- PostgreSQL 18, NOT VALID on the parent, which gives every partition its
-- clone, validated there
CREATE TABLE pf_ref (id int PRIMARY KEY);
INSERT INTO pf_ref SELECT g FROM generate_series(1, 10) g;
SELECT sg_test.make_parted('pf_plain'), sg_test.make_parted('pf_guard');
SET schema_guard.mode = off;
ALTER TABLE pf_plain ADD COLUMN r int DEFAULT (random() * 9)::int + 1 REFERENCES pf_ref ON DELETE CASCADE;
RESET schema_guard.mode;
BEGIN;
ALTER TABLE pf_guard ADD COLUMN r int DEFAULT (random() * 9)::int + 1 REFERENCES pf_ref ON DELETE CASCADE;
SELECT schema_guard.pause(1402);
COMMIT;
CREATE TEMP TABLE leaf_fks AS
  SELECT conrelid::regclass AS leaf, oid AS conoid, convalidated FROM pg_constraint
   WHERE conname = 'pf_guard_r_fkey' ORDER BY 1::text;
SELECT leaf, convalidated FROM leaf_fks ORDER BY leaf::text;
SELECT schema_guard.resume(1402);
SET client_min_messages = warning;
CALL schema_guard.wait(1402, '2 min');
RESET client_min_messages;
SELECT l.leaf, c.oid = l.conoid AS same_constraint, c.convalidated,
       c.conparentid <> 0 AS attached
  FROM leaf_fks l JOIN pg_constraint c ON c.conrelid = l.leaf AND c.conname = 'pf_guard_r_fkey'
 ORDER BY l.leaf::text;
SELECT p.suffix,
       (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('pf_plain' || p.suffix)::regclass, 'pf_plain') c)
     = (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(('pf_guard' || p.suffix)::regclass, 'pf_guard') c)
       AS same
  FROM unnest(ARRAY['', '_a', '_b', '_b1', '_b2', '_d']) AS p(suffix);
SELECT count(*), count(r) FROM pf_guard;
