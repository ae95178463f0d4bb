-- An ALTER TABLE without ADD COLUMN that scans, indexes or rewrites the
-- table under its lock is not run online by this version: it runs as
-- written with a warning (rewrite and warn modes), block refuses it, off
-- is PostgreSQL.  What costs nothing under the lock passes silently.
CREATE SCHEMA la;
CREATE TABLE la.t (id int PRIMARY KEY, v int, w text);
INSERT INTO la.t SELECT g, g, 'w' || g FROM generate_series(1, 2000) g;
CREATE TABLE la.r (id int PRIMARY KEY);
INSERT INTO la.r SELECT generate_series(1, 2000);

-- warned: a validating CHECK or foreign key, a SET NOT NULL or a UNIQUE
-- with other subcommands (alone, they are staged: stage_not_valid,
-- stage_set_not_null, stage_unique), a type change
ALTER TABLE la.t ADD CONSTRAINT t_v_positive CHECK (v > 0), ALTER COLUMN v SET STATISTICS 100;
ALTER TABLE la.t ADD CONSTRAINT t_v_fkey FOREIGN KEY (v) REFERENCES la.r (id), ALTER COLUMN v SET STATISTICS 100;
ALTER TABLE la.t ALTER COLUMN v SET NOT NULL, ALTER COLUMN v SET STATISTICS 100;
ALTER TABLE la.t ADD CONSTRAINT t_w_key UNIQUE (w), ALTER COLUMN w SET STATISTICS 100;
ALTER TABLE la.t ALTER COLUMN w TYPE varchar(20);
-- silent: NOT VALID, VALIDATE, USING INDEX, catalog-only changes
ALTER TABLE la.t ADD CONSTRAINT t_id_positive CHECK (id > 0) NOT VALID;
ALTER TABLE la.t VALIDATE CONSTRAINT t_id_positive;
CREATE UNIQUE INDEX t_id_w ON la.t (id, w);
ALTER TABLE la.t ADD CONSTRAINT t_id_w UNIQUE USING INDEX t_id_w;
ALTER TABLE la.t ALTER COLUMN w SET STATISTICS 200, ALTER COLUMN v DROP NOT NULL;
ALTER TABLE la.t RENAME COLUMN w TO x;

-- explain() says so
SELECT statement, subcommand, risk, action, reason FROM schema_guard.explain(
  'ALTER TABLE la.t ADD CONSTRAINT c CHECK (v < 10000), ALTER COLUMN v SET STATISTICS 100; ALTER TABLE la.t ADD CONSTRAINT c2 CHECK (v < 10000) NOT VALID');

-- block refuses it, and nothing changes
SET schema_guard.mode = block;
ALTER TABLE la.t ADD CONSTRAINT t_v_small CHECK (v < 10000);
SELECT count(*) FROM pg_constraint WHERE conname = 't_v_small';
SELECT action FROM schema_guard.explain('ALTER TABLE la.t ADD CONSTRAINT c CHECK (v < 10000)');
-- off: PostgreSQL
SET schema_guard.mode = off;
ALTER TABLE la.t ADD CONSTRAINT t_v_small CHECK (v < 10000);
RESET schema_guard.mode;
-- a table below schema_guard.min_table_size
SET schema_guard.min_table_size = '1GB';
ALTER TABLE la.t ALTER COLUMN x SET NOT NULL;
RESET schema_guard.min_table_size;

DROP SCHEMA la CASCADE;
