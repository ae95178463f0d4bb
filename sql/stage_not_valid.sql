-- ALTER TABLE ... ADD CONSTRAINT ... CHECK / FOREIGN KEY without NOT VALID
-- scans the table under its lock.  schema_guard adds the constraint NOT
-- VALID (it holds for new rows at once) and a job validates it; the table
-- ends as the plain statement leaves it, names included.
SELECT sg_test.number_jobs_from(1700);
CREATE SCHEMA nv;
CREATE TABLE nv.r (id int PRIMARY KEY);
INSERT INTO nv.r SELECT generate_series(1, 2000);
CREATE TABLE nv.plain (id int PRIMARY KEY, v int, w int);
INSERT INTO nv.plain SELECT g, g, g FROM generate_series(1, 2000) g;
CREATE TABLE nv.guarded (id int PRIMARY KEY, v int, w int);
INSERT INTO nv.guarded SELECT * FROM nv.plain;

SET schema_guard.mode = off;
ALTER TABLE nv.plain ADD CHECK (v > 0);
ALTER TABLE nv.plain ADD CONSTRAINT plain_w_small CHECK (w < 100000), ADD FOREIGN KEY (v) REFERENCES nv.r (id);
RESET schema_guard.mode;
BEGIN;
ALTER TABLE nv.guarded ADD CHECK (v > 0);
-- NOT VALID until the job validates it, and enforced for new rows at once
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'nv.guarded'::regclass AND contype = 'c';
INSERT INTO nv.guarded VALUES (0, -1, 0);
ROLLBACK;
ALTER TABLE nv.guarded ADD CHECK (v > 0);
ALTER TABLE nv.guarded ADD CONSTRAINT guarded_w_small CHECK (w < 100000), ADD FOREIGN KEY (v) REFERENCES nv.r (id);
SET client_min_messages = warning;
CALL schema_guard.wait(1701);
CALL schema_guard.wait(1702);
RESET client_min_messages;
SELECT * FROM sg_test.catalog('nv.plain') EXCEPT SELECT * FROM sg_test.catalog('nv.guarded');
SELECT * FROM sg_test.catalog('nv.guarded') EXCEPT SELECT * FROM sg_test.catalog('nv.plain');
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'nv.guarded'::regclass ORDER BY 1;

-- A row that violates the constraint fails the job with PostgreSQL's
-- error and SQLSTATE, as it would have failed the statement; the
-- constraint stays NOT VALID for retry(), and revert() drops it.
CREATE TABLE nv.bad (id int PRIMARY KEY, v int);
INSERT INTO nv.bad SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO nv.bad VALUES (2001, 5000);
ALTER TABLE nv.bad ADD CONSTRAINT bad_v_small CHECK (v < 3000);
ALTER TABLE nv.bad ADD FOREIGN KEY (v) REFERENCES nv.r (id);
SET client_min_messages = warning;
CALL schema_guard.wait(1703);
CALL schema_guard.wait(1704);
RESET client_min_messages;
SELECT job_id, state, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id IN (1703, 1704) ORDER BY 1;
SELECT conname, convalidated FROM pg_constraint WHERE conrelid = 'nv.bad'::regclass ORDER BY 1;
SELECT schema_guard.revert(1703);
SELECT schema_guard.revert(1704);
SELECT conname FROM pg_constraint WHERE conrelid = 'nv.bad'::regclass ORDER BY 1;
-- with mode = off, the plain statements fail with the same errors
SET schema_guard.mode = off;
ALTER TABLE nv.bad ADD CONSTRAINT bad_v_small CHECK (v < 3000);
ALTER TABLE nv.bad ADD FOREIGN KEY (v) REFERENCES nv.r (id);
RESET schema_guard.mode;

-- Not staged, run as written with a warning: a foreign key of a
-- partitioned table (PostgreSQL 15 cannot add it NOT VALID), a statement
-- with other subcommands.
CREATE TABLE nv.parted (id int, v int) PARTITION BY RANGE (id);
CREATE TABLE nv.parted_1 PARTITION OF nv.parted FOR VALUES FROM (0) TO (3000);
INSERT INTO nv.parted SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE nv.parted ADD FOREIGN KEY (v) REFERENCES nv.r (id);
ALTER TABLE nv.guarded ADD CHECK (w > 0), ALTER COLUMN w SET NOT NULL;
-- explain() says what it would do
SELECT statement, subcommand, risk, action, steps FROM schema_guard.explain(
  'ALTER TABLE nv.guarded ADD CHECK (w > -1); ALTER TABLE nv.parted ADD CHECK (v > -1)');
SELECT count(*) AS unfinished FROM schema_guard.jobs WHERE job_id BETWEEN 1700 AND 1799 AND state NOT IN ('done', 'reverted');
DROP SCHEMA nv CASCADE;
