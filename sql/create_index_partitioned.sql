-- CREATE INDEX on a partitioned table inside a transaction block (a
-- migration's): PostgreSQL builds an index on every partition under the
-- tables' SHARE locks, and has no concurrent build of it.  schema_guard
-- makes the whole tree of indexes in the migration's transaction, as the
-- plain statement names and attaches them (a partition's matching index
-- is attached instead), all empty and invalid; a job builds each leaf's
-- concurrently, then marks the partitioned ones valid, bottom up.
SELECT sg_test.number_jobs_from(1900);
CREATE SCHEMA cip;
CREATE FUNCTION cip.make(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE cip.%1$s (id int NOT NULL, v int, w text) PARTITION BY RANGE (id);
    CREATE TABLE cip.%1$s_1 PARTITION OF cip.%1$s FOR VALUES FROM (0) TO (1000);
    CREATE TABLE cip.%1$s_2 PARTITION OF cip.%1$s FOR VALUES FROM (1000) TO (100000)
      PARTITION BY HASH (id);
    CREATE TABLE cip.%1$s_2a PARTITION OF cip.%1$s_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE cip.%1$s_2b PARTITION OF cip.%1$s_2 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    CREATE TABLE cip.%1$s_d PARTITION OF cip.%1$s DEFAULT;
    CREATE INDEX %1$s_2b_has_v ON cip.%1$s_2b (v);
    INSERT INTO cip.%1$s SELECT g, g %% 100, ''w'' || g FROM generate_series(1, 3000) g;
    INSERT INTO cip.%1$s VALUES (-5, 1, ''d'')', name);
END $$;
-- the indexes of a tree: name, kind, the index it is attached to, state
CREATE FUNCTION cip.indexes(root text) RETURNS TABLE (index text, kind "char", parent text, valid bool, ready bool)
LANGUAGE sql STABLE AS $$
  SELECT replace(c.relname, root, 'T'), c.relkind, replace(inh.inhparent::regclass::text, root, 'T'),
         i.indisvalid, i.indisready
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid
   WHERE i.indrelid IN (SELECT relid FROM pg_partition_tree(('cip.' || root)::regclass))
   ORDER BY 1;
$$;
SELECT cip.make('plain'), cip.make('guard');

-- The migration, plain (mode = off) and guarded: named and unnamed,
-- expression, partial, INCLUDE, UNIQUE (with the partition key), and one
-- that partition _2b has already.
SET schema_guard.mode = off;
BEGIN;
CREATE INDEX plain_v ON cip.plain (v);
CREATE INDEX ON cip.plain (lower(w)) INCLUDE (v) WHERE v > 10;
CREATE UNIQUE INDEX ON cip.plain (id, w);
COMMENT ON INDEX cip.plain_v IS 'by a migration';
COMMIT;
RESET schema_guard.mode;
BEGIN;
CREATE INDEX guard_v ON cip.guard (v);
CREATE INDEX ON cip.guard (lower(w)) INCLUDE (v) WHERE v > 10;
CREATE UNIQUE INDEX ON cip.guard (id, w);
COMMENT ON INDEX cip.guard_v IS 'by a migration';
-- in the transaction: the whole tree, attached, empty and invalid; the
-- index _2b had is attached as it is
SELECT * FROM cip.indexes('guard') WHERE index LIKE 'T%v%' AND index NOT LIKE '%lower%';
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1900);
CALL schema_guard.wait(1901);
CALL schema_guard.wait(1902);
RESET client_min_messages;
SELECT job_id, state, phase FROM schema_guard.jobs WHERE job_id BETWEEN 1900 AND 1902 ORDER BY 1;
-- the same catalogs, the same index trees, every index valid
SELECT * FROM sg_test.same_trees('cip', 'plain', 'guard', ARRAY['', '_1', '_2', '_2a', '_2b', '_d']);
SELECT * FROM cip.indexes('plain') EXCEPT SELECT * FROM cip.indexes('guard');
SELECT * FROM cip.indexes('guard') EXCEPT SELECT * FROM cip.indexes('plain');
SELECT count(*) FILTER (WHERE NOT valid OR NOT ready) AS not_valid FROM cip.indexes('guard');
SELECT obj_description('cip.guard_v'::regclass, 'pg_class') AS comment;
-- and used, on every partition
SET enable_seqscan = off;
SET enable_bitmapscan = off;
SELECT count(*) FROM cip.guard WHERE v = 7;
RESET enable_bitmapscan;
RESET enable_seqscan;

-- Rolled back: nothing is left, and no job.
BEGIN;
CREATE INDEX guard_rolled_back ON cip.guard (w);
ROLLBACK;
SELECT count(*) FROM pg_class WHERE relname LIKE '%rolled_back%';
SELECT count(*) FROM schema_guard.jobs WHERE job_id = 1903;

-- While the job waits: a partition created meanwhile gets its index from
-- PostgreSQL (built), a partition dropped takes its own with it; the job
-- builds the rest and the parent ends valid.
BEGIN;
CREATE INDEX guard_w ON cip.guard (w);
SELECT schema_guard.pause(1904);
COMMIT;
CREATE TABLE cip.guard_3 PARTITION OF cip.guard FOR VALUES FROM (100000) TO (200000);
INSERT INTO cip.guard_3 VALUES (150000, 1, 'new');
DROP TABLE cip.guard_1;
SELECT * FROM cip.indexes('guard') WHERE index LIKE '%\_w' ESCAPE '\' OR index LIKE '%\_w\_idx' ESCAPE '\';
SELECT schema_guard.resume(1904);
SET client_min_messages = warning;
CALL schema_guard.wait(1904);
RESET client_min_messages;
SELECT state, phase FROM schema_guard.jobs WHERE job_id = 1904;
SELECT * FROM cip.indexes('guard') WHERE index LIKE '%\_w' ESCAPE '\' OR index LIKE '%\_w\_idx' ESCAPE '\';

-- A duplicate in one partition fails the job with PostgreSQL's error and
-- SQLSTATE, the indexes left invalid for retry(); cancel() drops the whole
-- tree.
INSERT INTO cip.guard VALUES (2500, 0, 'dup a'), (2500, 0, 'dup b');
BEGIN;
CREATE UNIQUE INDEX guard_dup ON cip.guard (id, v);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1905);
RESET client_min_messages;
SELECT state, phase, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1905;
SELECT index, kind, valid FROM cip.indexes('guard') WHERE index LIKE '%dup%' OR index LIKE '%id_v_idx';
SELECT schema_guard.cancel(1905);
SELECT state FROM schema_guard.jobs WHERE job_id = 1905;
SELECT count(*) AS left_behind FROM cip.indexes('guard') WHERE index LIKE '%dup%' OR index LIKE '%id_v_idx';
-- revert() after the same failure drops it too
BEGIN;
CREATE UNIQUE INDEX guard_dup ON cip.guard (id, v);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1906);
RESET client_min_messages;
SELECT state, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1906;
SELECT schema_guard.revert(1906);
SELECT state FROM schema_guard.jobs WHERE job_id = 1906;
SELECT count(*) AS left_behind FROM cip.indexes('guard') WHERE index LIKE '%dup%' OR index LIKE '%id_v_idx';
-- retry() once the duplicate is gone: the job builds what is left, and the
-- tree ends valid
BEGIN;
CREATE UNIQUE INDEX guard_dup ON cip.guard (id, v);
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(1907);
RESET client_min_messages;
DELETE FROM cip.guard WHERE w LIKE 'dup%';
SELECT schema_guard.retry(1907);
SET client_min_messages = warning;
CALL schema_guard.wait(1907);
RESET client_min_messages;
SELECT state, error_sqlstate FROM schema_guard.jobs WHERE job_id = 1907;
SELECT index, kind, valid, ready FROM cip.indexes('guard') WHERE index LIKE '%dup%' OR index LIKE '%id_v_idx';

-- Outside a transaction block it is built in place, the way the job builds
-- it (PostgreSQL has no concurrent build of a partitioned table's index):
-- the client waits, as it expects, and the tree ends valid.
SET schema_guard.mode = off;
CREATE INDEX plain_outside ON cip.plain (v, id);
RESET schema_guard.mode;
CREATE INDEX guard_outside ON cip.guard (v, id);
SELECT * FROM cip.indexes('guard') WHERE index LIKE '%outside' OR index LIKE '%v_id_idx';
SELECT count(*) FROM schema_guard.jobs WHERE job_id BETWEEN 1908 AND 1999;
-- as the plain statement made them (but for the partitions that differ)
SELECT * FROM cip.indexes('plain') WHERE index LIKE '%outside' OR index LIKE 'T\_%\_v\_id\_idx' ESCAPE '\'
EXCEPT SELECT * FROM cip.indexes('guard') WHERE index LIKE '%outside' OR index LIKE 'T\_%\_v\_id\_idx' ESCAPE '\';
-- a duplicate fails it with PostgreSQL's error, and leaves nothing
DROP INDEX cip.guard_dup;
INSERT INTO cip.guard VALUES (2500, 0, 'dup a'), (2500, 0, 'dup b');
CREATE UNIQUE INDEX guard_outside_dup ON cip.guard (id, v);
SELECT count(*) AS left_behind FROM pg_class WHERE relname LIKE '%id_v_idx1' OR relname LIKE '%outside_dup';
DELETE FROM cip.guard WHERE w LIKE 'dup%';

-- explain() says so
SELECT action, steps FROM schema_guard.explain('BEGIN; CREATE INDEX ON cip.guard (w); COMMIT');
SELECT action, reason FROM schema_guard.explain('CREATE INDEX ON cip.guard (w)');
-- warn and block modes apply to it as to any CREATE INDEX
SET schema_guard.mode = block;
BEGIN;
CREATE INDEX guard_blocked ON cip.guard (w);
ROLLBACK;
RESET schema_guard.mode;

DROP SCHEMA cip CASCADE;
