-- ALTER TABLE ... ADD UNIQUE / PRIMARY KEY on a partitioned table builds
-- an index on every partition under ACCESS EXCLUSIVE and SHARE locks on
-- the whole tree.  schema_guard reserves each leaf's index in the
-- statement, empty and invalid, under the name PostgreSQL gives the
-- leaf's constraint; a job builds them concurrently, adds each leaf's
-- constraint USING INDEX, then the parent's, which attaches them without
-- a build.  The tree ends as the plain statement leaves it.
SELECT sg_test.number_jobs_from(2100);
CREATE SCHEMA sup;
CREATE FUNCTION sup.make(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE sup.%1$s (id int NOT NULL, v int, w text) PARTITION BY RANGE (id);
    CREATE TABLE sup.%1$s_1 PARTITION OF sup.%1$s FOR VALUES FROM (0) TO (1000);
    CREATE TABLE sup.%1$s_2 PARTITION OF sup.%1$s FOR VALUES FROM (1000) TO (100000)
      PARTITION BY HASH (id);
    CREATE TABLE sup.%1$s_2a PARTITION OF sup.%1$s_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE sup.%1$s_2b (w text, v int, id int NOT NULL);
    ALTER TABLE sup.%1$s_2 ATTACH PARTITION sup.%1$s_2b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    CREATE TABLE sup.%1$s_d PARTITION OF sup.%1$s DEFAULT;
    INSERT INTO sup.%1$s SELECT g, g, ''w'' || g FROM generate_series(1, 3000) g', name);
END $$;
-- the indexes and constraints of a tree, names relative to its root
CREATE FUNCTION sup.shape(root text) RETURNS SETOF text LANGUAGE sql STABLE AS $$
  SELECT replace(x, root, 'T') FROM (
    SELECT format('index %s %s parent=%s valid=%s ready=%s constraint=%s', c.relname, c.relkind,
                  coalesce(inh.inhparent::regclass::text, '-'), i.indisvalid, i.indisready,
                  (SELECT k.conname || ' ' || k.contype::text || ' parent=' ||
                          coalesce((SELECT p.conname FROM pg_constraint p WHERE p.oid = k.conparentid), '-')
                     FROM pg_constraint k WHERE k.conindid = i.indexrelid AND k.contype IN ('p', 'u'))) AS x
      FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid
     WHERE i.indrelid IN (SELECT relid FROM pg_partition_tree(('sup.' || root)::regclass))
  ) s ORDER BY 1;
$$;
SELECT sup.make('plain'), sup.make('guard');

SET schema_guard.mode = off;
ALTER TABLE sup.plain ADD UNIQUE (id, w);
ALTER TABLE sup.plain ADD CONSTRAINT plain_pk PRIMARY KEY (id) INCLUDE (v);
RESET schema_guard.mode;
BEGIN;
ALTER TABLE sup.guard ADD UNIQUE (id, w);
-- in the statement's transaction: each leaf's index, empty and invalid;
-- no constraint yet
SELECT * FROM sup.shape('guard');
ALTER TABLE sup.guard ADD CONSTRAINT guard_pk PRIMARY KEY (id) INCLUDE (v);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(2100);
CALL schema_guard.wait(2101);
RESET client_min_messages;
SELECT job_id, state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id BETWEEN 2100 AND 2101 ORDER BY 1;
-- the same catalogs, the same indexes and constraints, attached alike
SELECT * FROM sg_test.same_trees('sup', 'plain', 'guard', ARRAY['', '_1', '_2', '_2a', '_2b', '_d']);
SELECT * FROM sup.shape('plain') EXCEPT SELECT * FROM sup.shape('guard');
SELECT * FROM sup.shape('guard') EXCEPT SELECT * FROM sup.shape('plain');
SELECT count(*) AS indexes FROM sup.shape('guard');
-- and enforced
INSERT INTO sup.guard VALUES (1500, 0, 'dup');

-- A duplicate in one leaf fails the job with PostgreSQL's error and
-- SQLSTATE; revert() drops what the job made.
CREATE TABLE sup.dups (id int NOT NULL, v int) PARTITION BY RANGE (id);
CREATE TABLE sup.dups_1 PARTITION OF sup.dups FOR VALUES FROM (0) TO (1000);
CREATE TABLE sup.dups_2 PARTITION OF sup.dups FOR VALUES FROM (1000) TO (3000);
INSERT INTO sup.dups SELECT g, g % 1500 FROM generate_series(1, 2999) g;
INSERT INTO sup.dups VALUES (1200, 5), (1200, 5);
SET schema_guard.mode = off;
ALTER TABLE sup.dups ADD UNIQUE (id, v);
RESET schema_guard.mode;
ALTER TABLE sup.dups ADD UNIQUE (id, v);
SET client_min_messages = warning;
CALL schema_guard.wait(2102);
RESET client_min_messages;
SELECT state, phase, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 2102;
SELECT schema_guard.revert(2102);
SELECT * FROM sup.shape('dups');

-- Not staged: a key without the partition key (PostgreSQL's error), a
-- statement with two constraints (run as written, with a warning).
ALTER TABLE sup.guard ADD UNIQUE (w);
ALTER TABLE sup.dups ADD UNIQUE (id), ADD UNIQUE (v, id);
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id BETWEEN 2103 AND 2199;
-- explain() says what it does
SELECT action, steps[3] FROM schema_guard.explain('ALTER TABLE sup.guard ADD UNIQUE (id, v)');

DROP SCHEMA sup CASCADE;
