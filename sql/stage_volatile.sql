-- A volatile default is staged: the ALTER changes only the catalog, a
-- background job fills the existing rows, and the result matches the plain
-- ALTER on an identical table.
SELECT sg_test.number_jobs_from(200);

CREATE TABLE vol_plain (id int PRIMARY KEY, v text);
INSERT INTO vol_plain SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
CREATE TABLE vol_guard (id int PRIMARY KEY, v text);
INSERT INTO vol_guard SELECT * FROM vol_plain;

SET schema_guard.mode = off;
ALTER TABLE vol_plain ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
RESET schema_guard.mode;

SELECT pg_relation_filenode('vol_guard') AS filenode_before \gset
ALTER TABLE vol_guard ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
-- no rewrite: the same file
SELECT pg_relation_filenode('vol_guard') = :filenode_before AS same_file;
-- meanwhile: nullable, a NOT VALID check, and the fill trigger
SELECT * FROM sg_test.catalog('vol_guard');
SELECT job, "table", columns FROM schema_guard.progress WHERE job = 200;

SET client_min_messages = warning;
CALL schema_guard.wait(200);
RESET client_min_messages;
SELECT job, "table", columns, state, phase, percent FROM schema_guard.progress WHERE job = 200;

-- same catalogs as the plain ALTER
(SELECT * FROM sg_test.catalog('vol_plain') EXCEPT SELECT * FROM sg_test.catalog('vol_guard'))
UNION ALL
(SELECT * FROM sg_test.catalog('vol_guard') EXCEPT SELECT * FROM sg_test.catalog('vol_plain'));
-- every old row has its own value, as with the plain ALTER
SELECT count(*), count(token), count(DISTINCT token) FROM vol_plain;
SELECT count(*), count(token), count(DISTINCT token) FROM vol_guard;

-- a column the statement drops and adds again: PostgreSQL drops it first,
-- so IF NOT EXISTS adds it, with a volatile default: staged as well
SET schema_guard.mode = off;
ALTER TABLE vol_plain DROP COLUMN v, ADD COLUMN IF NOT EXISTS v uuid DEFAULT gen_random_uuid();
RESET schema_guard.mode;
ALTER TABLE vol_guard DROP COLUMN v, ADD COLUMN IF NOT EXISTS v uuid DEFAULT gen_random_uuid();
SET client_min_messages = warning;
CALL schema_guard.wait(201);
RESET client_min_messages;
(SELECT * FROM sg_test.catalog('vol_plain') EXCEPT SELECT * FROM sg_test.catalog('vol_guard'))
UNION ALL
(SELECT * FROM sg_test.catalog('vol_guard') EXCEPT SELECT * FROM sg_test.catalog('vol_plain'));
SELECT count(*), count(v), count(DISTINCT v) FROM vol_plain;
SELECT count(*), count(v), count(DISTINCT v) FROM vol_guard;
