-- Constraints on an added column: CHECK and REFERENCES are added NOT VALID
-- and validated by the job, UNIQUE and PRIMARY KEY are built concurrently
-- and added USING INDEX.  The result matches the plain ALTER, and a
-- constraint the data violates fails the job with PostgreSQL's own error.
SELECT sg_test.number_jobs_from(1300);

CREATE TABLE con_ref (id int PRIMARY KEY);
INSERT INTO con_ref SELECT g FROM generate_series(1, 10) g;
CREATE TABLE con_plain (id int, v text);
INSERT INTO con_plain SELECT g, repeat('c', 80) FROM generate_series(1, 2000) g;
CREATE TABLE con_guard (LIKE con_plain);
INSERT INTO con_guard SELECT * FROM con_plain;

-- the same statements, plain and guarded
CREATE PROCEDURE sg_test.con_alter(tab regclass) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('ALTER TABLE %s
    ADD COLUMN u uuid DEFAULT gen_random_uuid() UNIQUE,
    ADD COLUMN k bigserial PRIMARY KEY,
    ADD COLUMN n int DEFAULT (random() * 9)::int + 1 NOT NULL CHECK (n BETWEEN 1 AND 10),
    ADD COLUMN r int DEFAULT (random() * 9)::int + 1 REFERENCES con_ref ON DELETE CASCADE,
    ADD COLUMN d int DEFAULT 3 CONSTRAINT d_named CHECK (d > 0),
    ADD COLUMN x int UNIQUE DEFERRABLE INITIALLY DEFERRED,
    ADD COLUMN y int CONSTRAINT %s_y_named UNIQUE WITH (fillfactor = 70),
    ADD COLUMN z uuid DEFAULT gen_random_uuid() UNIQUE NULLS NOT DISTINCT', tab, tab);
END $$;
SET schema_guard.mode = off;
CALL sg_test.con_alter('con_plain');
RESET schema_guard.mode;
CALL sg_test.con_alter('con_guard');
-- meanwhile: constraints NOT VALID; the unique indexes' entries are made,
-- so their names are taken, but they are not built (not valid) yet
SELECT c.relname, i.indisvalid, i.indisready FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE i.indrelid = 'con_guard'::regclass ORDER BY 1;
SELECT * FROM sg_test.catalog('con_guard') WHERE catalog ~ '^(constraint|index)';
SET client_min_messages = warning;
CALL schema_guard.wait(1300, '2 min');
RESET client_min_messages;
SELECT event FROM schema_guard.history WHERE job = 1300;
(SELECT * FROM sg_test.catalog('con_plain') EXCEPT SELECT * FROM sg_test.catalog('con_guard'))
UNION ALL
(SELECT * FROM sg_test.catalog('con_guard') EXCEPT SELECT * FROM sg_test.catalog('con_plain'));
SELECT count(*), count(DISTINCT u), count(DISTINCT k), min(n) >= 1 AND max(n) <= 10 AS n_ok,
       count(r), count(*) FILTER (WHERE d = 3)
  FROM con_guard;

-- a duplicate key: the concurrent build fails, the job fails with
-- PostgreSQL's error, and the index the ALTER made stays, invalid, for the
-- retry once the data is fixed
CREATE TABLE con_dup (id int);
INSERT INTO con_dup SELECT g FROM generate_series(1, 500) g;
SET schema_guard.mode = off;
ALTER TABLE con_dup ADD COLUMN c int DEFAULT (random() * 0.4)::int UNIQUE;
RESET schema_guard.mode;
ALTER TABLE con_dup ADD COLUMN c int DEFAULT (random() * 0.4)::int UNIQUE;
SET client_min_messages = warning;
CALL schema_guard.wait(1301, '2 min');
RESET client_min_messages;
SELECT state, phase, last_error FROM schema_guard.jobs WHERE job_id = 1301;
SELECT error_detail ~ '^Key \(c\)=\(\d\) is duplicated\.' AS names_the_key FROM schema_guard.jobs WHERE job_id = 1301;
SELECT count(*) AS indexes, count(*) FILTER (WHERE indisvalid) AS valid
  FROM pg_index WHERE indrelid = 'con_dup'::regclass;
UPDATE con_dup SET c = id;
SELECT schema_guard.retry(1301);
SET client_min_messages = warning;
CALL schema_guard.wait(1301, '2 min');
RESET client_min_messages;
SELECT * FROM sg_test.catalog('con_dup');

-- rows that violate a CHECK or a foreign key fail the job as they fail the
-- plain ALTER: with the same error.  A failed job leaves its column; revert
-- removes it.
CREATE TABLE con_bad (id int);
INSERT INTO con_bad SELECT g FROM generate_series(1, 500) g;
CREATE PROCEDURE sg_test.con_bad_alter(def text, job bigint) LANGUAGE plpgsql AS $$
DECLARE
  stock text;
  guarded text;
BEGIN
  BEGIN
    SET LOCAL schema_guard.mode = off;
    EXECUTE 'ALTER TABLE con_bad ADD COLUMN ' || def;
  EXCEPTION WHEN OTHERS THEN
    stock := SQLERRM;
  END;
  SET LOCAL schema_guard.mode = rewrite;
  EXECUTE 'ALTER TABLE con_bad ADD COLUMN ' || def;
  COMMIT;
  SET client_min_messages = warning;
  BEGIN
    CALL schema_guard.wait(job, '2 min');
  EXCEPTION WHEN OTHERS THEN
    NULL;
  END;
  SET client_min_messages = notice;
  SELECT last_error INTO guarded FROM schema_guard.jobs WHERE job_id = job;
  RAISE NOTICE 'stock: %', stock;
  RAISE NOTICE 'job:   %', guarded;
  PERFORM schema_guard.revert(job);
END $$;
SET client_min_messages = notice;
SET schema_guard.mode = rewrite;
CALL sg_test.con_bad_alter('a int DEFAULT -1 CHECK (a > 0)', 1302);
CALL sg_test.con_bad_alter('b int DEFAULT -(random() * 5)::int - 1 CHECK (b > 0)', 1303);
CALL sg_test.con_bad_alter('f int DEFAULT 99 REFERENCES con_ref', 1304);
CALL sg_test.con_bad_alter('g int DEFAULT (random() * 5)::int + 11 REFERENCES con_ref', 1305);
RESET client_min_messages;
SELECT job_id, state, error_detail ~ '^Key \(\w\)=\(\d+\) is not present in table "con_ref"\.' AS names_the_key
  FROM schema_guard.jobs WHERE job_id BETWEEN 1302 AND 1305 ORDER BY job_id;
SELECT * FROM sg_test.catalog('con_bad');
