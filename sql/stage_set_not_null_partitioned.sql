-- ALTER TABLE ... ALTER COLUMN c SET NOT NULL on a partitioned table scans
-- every partition under ACCESS EXCLUSIVE locks on the whole tree.
-- schema_guard adds the NOT VALID constraint that stands for the NOT NULL
-- to the parent (and so, inherited, to every partition), a job validates
-- it on the parent (every leaf is checked, reads and writes go on), then
-- sets NOT NULL on the parent, which every partition's validated copy
-- proves without a scan.  The tree ends as the plain statement leaves it.
SELECT sg_test.number_jobs_from(2000);
CREATE SCHEMA snp;
CREATE FUNCTION snp.make(name text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE snp.%1$s (id int, v int, w text) PARTITION BY RANGE (id);
    CREATE TABLE snp.%1$s_1 PARTITION OF snp.%1$s FOR VALUES FROM (0) TO (1000);
    CREATE TABLE snp.%1$s_2 PARTITION OF snp.%1$s FOR VALUES FROM (1000) TO (100000)
      PARTITION BY HASH (id);
    CREATE TABLE snp.%1$s_2a PARTITION OF snp.%1$s_2 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
    CREATE TABLE snp.%1$s_2b (id int, v int NOT NULL, w text);
    ALTER TABLE snp.%1$s_2 ATTACH PARTITION snp.%1$s_2b FOR VALUES WITH (MODULUS 2, REMAINDER 1);
    CREATE TABLE snp.%1$s_d PARTITION OF snp.%1$s DEFAULT;
    INSERT INTO snp.%1$s SELECT g, g, ''w'' || g FROM generate_series(1, 3000) g', name);
END $$;
SELECT snp.make('plain'), snp.make('guard');

SET schema_guard.mode = off;
ALTER TABLE snp.plain ALTER COLUMN v SET NOT NULL;
RESET schema_guard.mode;
BEGIN;
ALTER TABLE snp.guard ALTER COLUMN v SET NOT NULL;
SELECT schema_guard.pause(2000);
COMMIT;
-- the NOT VALID constraint on every table of the tree rejects NULL at
-- once in every partition
DO $$
DECLARE
  refused int := 0;
  id int;
BEGIN
  FOREACH id IN ARRAY ARRAY[5, 1500, 1501, -5] LOOP
    BEGIN
      INSERT INTO snp.guard VALUES (id, NULL, 'null');
    EXCEPTION WHEN integrity_constraint_violation THEN
      refused := refused + 1;
    END;
  END LOOP;
  RAISE NOTICE 'NULL refused in % of 4 partitions', refused;
END $$;
-- detaching a partition meanwhile would leave it the constraint: refused
ALTER TABLE snp.guard DETACH PARTITION snp.guard_d;
-- a partition created meanwhile gets it too, and ends NOT NULL
CREATE TABLE snp.guard_3 PARTITION OF snp.guard FOR VALUES FROM (100000) TO (200000);
INSERT INTO snp.guard VALUES (150000, 1, 'new');
SELECT schema_guard.resume(2000);
SET client_min_messages = warning;
CALL schema_guard.wait(2000);
RESET client_min_messages;
SELECT state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id = 2000;
SELECT * FROM sg_test.same_trees('snp', 'plain', 'guard', ARRAY['', '_1', '_2', '_2a', '_2b', '_d']);
SELECT attrelid::regclass, attnotnull FROM pg_attribute
 WHERE attrelid IN (SELECT relid FROM pg_partition_tree('snp.guard')) AND attname = 'v'
 ORDER BY 1::text;
SELECT count(*) AS helpers_left FROM pg_constraint WHERE conname LIKE '%sg2000%';
-- the partitions can be detached again
ALTER TABLE snp.guard DETACH PARTITION snp.guard_3;

-- A NULL in one leaf fails the job with the plain statement's error,
-- naming the leaf; retry() ends it once the row is fixed.
CREATE TABLE snp.nulls (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE snp.nulls_1 PARTITION OF snp.nulls FOR VALUES FROM (0) TO (1000);
CREATE TABLE snp.nulls_2 PARTITION OF snp.nulls FOR VALUES FROM (1000) TO (3000);
INSERT INTO snp.nulls SELECT g, g FROM generate_series(1, 2000) g;
UPDATE snp.nulls SET v = NULL WHERE id = 1500;
SET schema_guard.mode = off;
ALTER TABLE snp.nulls ALTER COLUMN v SET NOT NULL;
RESET schema_guard.mode;
ALTER TABLE snp.nulls ALTER COLUMN v SET NOT NULL;
SET client_min_messages = warning;
CALL schema_guard.wait(2001);
RESET client_min_messages;
SELECT state, phase, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 2001;
UPDATE snp.nulls SET v = 0 WHERE v IS NULL;
SELECT schema_guard.retry(2001);
SET client_min_messages = warning;
CALL schema_guard.wait(2001);
RESET client_min_messages;
SELECT state FROM schema_guard.jobs WHERE job_id = 2001;
SELECT attrelid::regclass, attnotnull FROM pg_attribute
 WHERE attrelid IN (SELECT relid FROM pg_partition_tree('snp.nulls')) AND attname = 'v'
 ORDER BY 1::text;

-- Not staged, run as written with the warning: a partition of another
-- owner (the job runs as the table's owner), ONLY (PostgreSQL's error).
CREATE ROLE snp_other;
CREATE TABLE snp.mixed (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE snp.mixed_1 PARTITION OF snp.mixed FOR VALUES FROM (0) TO (1000);
ALTER TABLE snp.mixed_1 OWNER TO snp_other;
INSERT INTO snp.mixed SELECT g, g FROM generate_series(1, 900) g;
ALTER TABLE snp.mixed ALTER COLUMN v SET NOT NULL;
\set VERBOSITY terse
ALTER TABLE ONLY snp.guard ALTER COLUMN w SET NOT NULL;
\set VERBOSITY default
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id BETWEEN 2002 AND 2099;
-- explain() says what it does
SELECT action, steps[1] LIKE '%NOT VALID: it rejects NULL at once' AS first_step
  FROM schema_guard.explain('ALTER TABLE snp.guard ALTER COLUMN w SET NOT NULL');

DROP SCHEMA snp CASCADE;
DROP ROLE snp_other;
