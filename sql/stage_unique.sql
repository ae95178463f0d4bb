-- ALTER TABLE ... ADD UNIQUE / PRIMARY KEY builds the constraint's index
-- under the table's lock.  schema_guard makes the index's catalog entry in
-- the statement, empty and invalid, under the name PostgreSQL gives it; a
-- job builds it concurrently and then adds the constraint USING INDEX.
-- The table ends as the plain statement leaves it, names included.
SELECT sg_test.number_jobs_from(3200);
CREATE SCHEMA su;
-- what the table's constraints and indexes are, names relative to it
CREATE FUNCTION su.shape(tab regclass) RETURNS SETOF text LANGUAGE sql AS $$
  WITH n AS (SELECT relname::text AS name FROM pg_class WHERE oid = tab)
  SELECT replace(x, (SELECT name FROM n), 'T') FROM (
    SELECT format('constraint %s %s index=%s deferrable=%s deferred=%s',
                  c.conname, c.contype, c.conindid::regclass, c.condeferrable, c.condeferred) AS x
      FROM pg_constraint c WHERE c.conrelid = tab AND c.contype IN ('u', 'p')
    UNION ALL
    SELECT format('index %s unique=%s primary=%s valid=%s ready=%s immediate=%s constraint=%s',
                  i.indexrelid::regclass, i.indisunique, i.indisprimary, i.indisvalid,
                  i.indisready, i.indimmediate,
                  (SELECT conname FROM pg_constraint WHERE conindid = i.indexrelid AND conrelid = tab))
      FROM pg_index i WHERE i.indrelid = tab
  ) s ORDER BY 1;
$$;
CREATE TABLE su.plain (id int NOT NULL, a int, b int NOT NULL, c text, d int);
INSERT INTO su.plain SELECT g, g, g, 'c' || g, g FROM generate_series(1, 2000) g;
CREATE TABLE su.guarded (id int NOT NULL, a int, b int NOT NULL, c text, d int);
INSERT INTO su.guarded SELECT * FROM su.plain;
-- a relation that has the name PostgreSQL would choose first: both get
-- the same suffix
CREATE TABLE su.plain_a_key (x int);
CREATE TABLE su.guarded_a_key (x int);

SET schema_guard.mode = off;
ALTER TABLE su.plain ADD UNIQUE (a);
ALTER TABLE su.plain ADD CONSTRAINT plain_c_u UNIQUE (c) INCLUDE (d) WITH (fillfactor = 70);
ALTER TABLE su.plain ADD UNIQUE NULLS NOT DISTINCT (d) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE su.plain ADD PRIMARY KEY (id, b);
ALTER TABLE su.plain ADD UNIQUE (a, b), ADD CONSTRAINT plain_b_a UNIQUE (b, a) DEFERRABLE;
RESET schema_guard.mode;
-- (in one transaction, as a migration runs them: while a job builds an
-- index of the table, a statement that needs the table's lock waits for
-- the build, as for CREATE INDEX CONCURRENTLY, within its bounded waits)
BEGIN;
ALTER TABLE su.guarded ADD UNIQUE (a);
ALTER TABLE su.guarded ADD CONSTRAINT guarded_c_u UNIQUE (c) INCLUDE (d) WITH (fillfactor = 70);
-- in the statement's transaction: the indexes, empty and invalid; no constraint yet
SELECT * FROM su.shape('su.guarded');
ALTER TABLE su.guarded ADD UNIQUE NULLS NOT DISTINCT (d) DEFERRABLE INITIALLY DEFERRED;
ALTER TABLE su.guarded ADD PRIMARY KEY (id, b);
ALTER TABLE su.guarded ADD UNIQUE (a, b), ADD CONSTRAINT guarded_b_a UNIQUE (b, a) DEFERRABLE;
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(3200);
CALL schema_guard.wait(3201);
CALL schema_guard.wait(3202);
CALL schema_guard.wait(3203);
CALL schema_guard.wait(3204);
RESET client_min_messages;
SELECT job_id, state, phase, error_sqlstate FROM schema_guard.jobs
 WHERE job_id BETWEEN 3200 AND 3204 ORDER BY 1;
-- identical catalogs
SELECT * FROM sg_test.catalog('su.plain') EXCEPT SELECT * FROM sg_test.catalog('su.guarded');
SELECT * FROM sg_test.catalog('su.guarded') EXCEPT SELECT * FROM sg_test.catalog('su.plain');
SELECT * FROM su.shape('su.plain') EXCEPT SELECT * FROM su.shape('su.guarded');
SELECT * FROM su.shape('su.guarded') EXCEPT SELECT * FROM su.shape('su.plain');
SELECT * FROM su.shape('su.guarded');
-- and enforced, deferred where declared so
INSERT INTO su.guarded VALUES (5000, 1, 5000, 'x', 5000);
BEGIN;
INSERT INTO su.guarded VALUES (5000, 5000, 5001, 'y', 1);
UPDATE su.guarded SET d = 6000 WHERE id = 1;
COMMIT;
-- wait() of a job with no rows to fill says what it did
CALL schema_guard.wait(3200);

-- rolled back: no index, no job
BEGIN;
ALTER TABLE su.guarded ADD CONSTRAINT guarded_rolled_back UNIQUE (c, d);
ROLLBACK;
SELECT count(*) FROM pg_class WHERE relname = 'guarded_rolled_back';
SELECT count(*) FROM schema_guard.jobs WHERE job_id BETWEEN 3205 AND 3299;

-- PostgreSQL's errors, in the statement: a column that does not exist, a
-- second primary key (also while a job adds the first), a name taken by
-- another constraint of the table or by a relation
\set VERBOSITY terse
ALTER TABLE su.guarded ADD UNIQUE (nope);
ALTER TABLE su.guarded ADD PRIMARY KEY (b);
SET schema_guard.mode = off;
ALTER TABLE su.guarded ADD CONSTRAINT guarded_c_check CHECK (c <> '');
RESET schema_guard.mode;
ALTER TABLE su.guarded ADD CONSTRAINT guarded_c_check UNIQUE (c);
ALTER TABLE su.guarded ADD CONSTRAINT guarded_a_key UNIQUE (c);
SET schema_guard.mode = off;
ALTER TABLE su.plain ADD UNIQUE (nope);
ALTER TABLE su.plain ADD PRIMARY KEY (b);
ALTER TABLE su.plain ADD CONSTRAINT plain_c_check CHECK (c <> '');
ALTER TABLE su.plain ADD CONSTRAINT plain_c_check UNIQUE (c);
ALTER TABLE su.plain ADD CONSTRAINT plain_a_key UNIQUE (c);
RESET schema_guard.mode;
CREATE TABLE su.twice (id int NOT NULL, v int NOT NULL);
INSERT INTO su.twice SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE su.twice ADD PRIMARY KEY (id), ADD PRIMARY KEY (v);
BEGIN;
ALTER TABLE su.twice ADD PRIMARY KEY (id);
ALTER TABLE su.twice ADD PRIMARY KEY (v);
ROLLBACK;
\set VERBOSITY default

-- A duplicate fails the job with PostgreSQL's error and SQLSTATE, as it
-- would have failed the statement; the index stays invalid, and the
-- constraint does not exist, until retry() after the duplicate is gone.
SELECT sg_test.number_jobs_from(3210);
CREATE TABLE su.dups (id int NOT NULL, v int NOT NULL);
INSERT INTO su.dups SELECT g, g FROM generate_series(1, 2000) g;
INSERT INTO su.dups VALUES (2001, 1234);
ALTER TABLE su.dups ADD CONSTRAINT dups_v_u UNIQUE (v);
SET client_min_messages = warning;
CALL schema_guard.wait(3210);
RESET client_min_messages;
SELECT state, phase, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3210;
SELECT * FROM su.shape('su.dups');
-- with mode = off, the plain statement fails with the same error
SET schema_guard.mode = off;
ALTER TABLE su.dups ADD CONSTRAINT dups_v_u2 UNIQUE (v);
RESET schema_guard.mode;
-- meanwhile a foreign key to those columns finds no unique constraint:
-- PostgreSQL's error, after a warning that names the job
CREATE TABLE su.child (x int);
ALTER TABLE su.child ADD FOREIGN KEY (x) REFERENCES su.dups (v);
CREATE TABLE su.child2 (x int REFERENCES su.dups (v));
-- one that references other columns is not warned about
ALTER TABLE su.dups ADD PRIMARY KEY (id);
SET client_min_messages = warning;
CALL schema_guard.wait(3211);
RESET client_min_messages;
ALTER TABLE su.child ADD FOREIGN KEY (x) REFERENCES su.dups;
SET client_min_messages = warning;
CALL schema_guard.wait(3212);
RESET client_min_messages;
DELETE FROM su.dups WHERE id = 2001;
SELECT schema_guard.retry(3210);
SET client_min_messages = warning;
CALL schema_guard.wait(3210);
RESET client_min_messages;
SELECT state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3210;
SELECT * FROM su.shape('su.dups');
ALTER TABLE su.child ADD FOREIGN KEY (x) REFERENCES su.dups (v);
SET client_min_messages = warning;
CALL schema_guard.wait(3213);
RESET client_min_messages;
SELECT conname, convalidated, conindid::regclass FROM pg_constraint
 WHERE conrelid = 'su.child'::regclass ORDER BY 1;
-- in the migration's own transaction, the same
BEGIN;
ALTER TABLE su.dups ADD UNIQUE (id, v);
ALTER TABLE su.child ADD COLUMN y int, ADD FOREIGN KEY (x, y) REFERENCES su.dups (v, id);
ROLLBACK;

-- revert() drops the indexes the job made, and the table is as before
SELECT sg_test.number_jobs_from(3220);
CREATE TABLE su.dups2 (id int NOT NULL, v int NOT NULL);
INSERT INTO su.dups2 SELECT g, g % 1999 FROM generate_series(1, 2000) g;
ALTER TABLE su.dups2 ADD UNIQUE (v, id), ADD CONSTRAINT dups2_v_u UNIQUE (v);
SET client_min_messages = warning;
CALL schema_guard.wait(3220);
RESET client_min_messages;
SELECT state, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3220;
SELECT * FROM su.shape('su.dups2');
SELECT schema_guard.revert(3220);
SELECT state FROM schema_guard.jobs WHERE job_id = 3220;
SELECT * FROM su.shape('su.dups2');

-- Not staged, run as written: a primary key on a column that may be NULL
-- of a table with children (the plain statement sets it NOT NULL on every
-- child, with scans), two constraints of a partitioned table in one
-- statement (one alone is staged: stage_unique_partitioned), a statement
-- with other subcommands, USING INDEX (no scan)
CREATE TABLE su.nullable (id int PRIMARY KEY, v int);
INSERT INTO su.nullable SELECT g, g FROM generate_series(1, 2000) g;
CREATE TABLE su.nullable_parent (id int, v int);
CREATE TABLE su.nullable_child () INHERITS (su.nullable_parent);
INSERT INTO su.nullable_parent SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE su.nullable_parent ADD PRIMARY KEY (id);
CREATE TABLE su.parted (id int NOT NULL, v int) PARTITION BY RANGE (id);
CREATE TABLE su.parted_1 PARTITION OF su.parted FOR VALUES FROM (0) TO (3000);
INSERT INTO su.parted SELECT g, g FROM generate_series(1, 2000) g;
ALTER TABLE su.parted ADD UNIQUE (id), ADD UNIQUE (v, id);
ALTER TABLE su.nullable ADD UNIQUE (v), ADD CHECK (v > 0);
CREATE UNIQUE INDEX CONCURRENTLY nullable_u ON su.nullable (v, id);
ALTER TABLE su.nullable ADD CONSTRAINT nullable_u UNIQUE USING INDEX nullable_u;
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id > 3220;

-- Modes: warn runs it as written with a warning, block refuses it, off
-- runs it as written; a table below schema_guard.min_table_size passes
SET schema_guard.mode = warn;
ALTER TABLE su.nullable ADD UNIQUE (v, id);
SET schema_guard.mode = block;
ALTER TABLE su.nullable ADD CONSTRAINT nullable_blocked UNIQUE (v, id);
SET schema_guard.mode = off;
ALTER TABLE su.nullable ADD CONSTRAINT nullable_off UNIQUE (id, v);
RESET schema_guard.mode;
SET schema_guard.min_table_size = '1GB';
ALTER TABLE su.nullable ADD CONSTRAINT nullable_small UNIQUE (v, id);
RESET schema_guard.min_table_size;
SELECT count(*) AS jobs FROM schema_guard.jobs WHERE job_id > 3220;
SELECT conname FROM pg_constraint WHERE conrelid = 'su.nullable'::regclass AND contype IN ('p', 'u', 'c') ORDER BY 1;

-- Users' event triggers see one ALTER TABLE, as for the plain statement
-- (the worker's ADD CONSTRAINT ... USING INDEX, as replication, fires none)
SELECT sg_test.number_jobs_from(3230);
CREATE FUNCTION su.ddl_end() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    RAISE NOTICE 'ddl_command_end: % % %', r.command_tag, r.object_type,
      replace(replace(r.object_identity, 'plain', 'T'), 'guarded', 'T');
  END LOOP;
END $$;
CREATE EVENT TRIGGER su_end ON ddl_command_end EXECUTE FUNCTION su.ddl_end();
SET schema_guard.mode = off;
ALTER TABLE su.plain ADD CONSTRAINT plain_et UNIQUE (c, a);
RESET schema_guard.mode;
ALTER TABLE su.guarded ADD CONSTRAINT guarded_et UNIQUE (c, a);
SET client_min_messages = warning;
CALL schema_guard.wait(3230);
RESET client_min_messages;
DROP EVENT TRIGGER su_end;
SELECT * FROM su.shape('su.plain') EXCEPT SELECT * FROM su.shape('su.guarded');
SELECT * FROM su.shape('su.guarded') EXCEPT SELECT * FROM su.shape('su.plain');

-- A primary key on columns that may be NULL: the plain statement sets
-- them NOT NULL, with a scan.  The job makes them NOT NULL as a staged SET
-- NOT NULL does (a NOT VALID constraint that rejects NULL at once,
-- validated in the background), after it builds the index, then adds the
-- key.  The table ends as the plain statement leaves it.
SELECT sg_test.number_jobs_from(3240);
CREATE TABLE su.pk_plain (id int, b int NOT NULL, v text);
INSERT INTO su.pk_plain SELECT g, g, 'v' || g FROM generate_series(1, 2000) g;
CREATE TABLE su.pk_guarded (id int, b int NOT NULL, v text);
INSERT INTO su.pk_guarded SELECT * FROM su.pk_plain;
SET schema_guard.mode = off;
ALTER TABLE su.pk_plain ADD PRIMARY KEY (id, b);
RESET schema_guard.mode;
BEGIN;
ALTER TABLE su.pk_guarded ADD PRIMARY KEY (id, b);
-- a NULL is refused at once (before 18 by the helper CHECK, 23514)
DO $$
BEGIN
  INSERT INTO su.pk_guarded VALUES (NULL, 0, 'null');
EXCEPTION WHEN integrity_constraint_violation THEN
  RAISE NOTICE 'NULL refused';
END $$;
COMMIT;
SET client_min_messages = warning;
CALL schema_guard.wait(3240);
RESET client_min_messages;
SELECT state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3240;
SELECT * FROM sg_test.catalog('su.pk_plain') EXCEPT SELECT * FROM sg_test.catalog('su.pk_guarded');
SELECT * FROM sg_test.catalog('su.pk_guarded') EXCEPT SELECT * FROM sg_test.catalog('su.pk_plain');
SELECT * FROM su.shape('su.pk_guarded');
-- a NULL in the table fails the job with the plain statement's error; the
-- constraint that rejects NULL stays for retry(), which ends it once the
-- row is fixed
CREATE TABLE su.pk_null (id int, v text);
INSERT INTO su.pk_null SELECT g, 'v' || g FROM generate_series(1, 2000) g;
INSERT INTO su.pk_null VALUES (NULL, 'null');
SET schema_guard.mode = off;
ALTER TABLE su.pk_null ADD PRIMARY KEY (id);
RESET schema_guard.mode;
ALTER TABLE su.pk_null ADD PRIMARY KEY (id);
SET client_min_messages = warning;
CALL schema_guard.wait(3241);
RESET client_min_messages;
SELECT state, phase, last_error, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3241;
UPDATE su.pk_null SET id = 0 WHERE id IS NULL;
SELECT schema_guard.retry(3241);
SET client_min_messages = warning;
CALL schema_guard.wait(3241);
RESET client_min_messages;
SELECT state FROM schema_guard.jobs WHERE job_id = 3241;
SELECT * FROM su.shape('su.pk_null');
SELECT attnotnull FROM pg_attribute WHERE attrelid = 'su.pk_null'::regclass AND attname = 'id';
-- with a duplicate as well, the duplicate is the error, as in the plain
-- statement (which builds the index before it scans for NULL)
CREATE TABLE su.pk_both (id int);
INSERT INTO su.pk_both VALUES (1), (1), (NULL);
SET schema_guard.mode = off;
ALTER TABLE su.pk_both ADD PRIMARY KEY (id);
RESET schema_guard.mode;
ALTER TABLE su.pk_both ADD PRIMARY KEY (id);
SET client_min_messages = warning;
CALL schema_guard.wait(3242);
RESET client_min_messages;
SELECT state, phase, error_sqlstate FROM schema_guard.jobs WHERE job_id = 3242;
SELECT schema_guard.revert(3242);
SELECT * FROM sg_test.catalog('su.pk_both');

-- explain() says what it would do
SELECT statement, subcommand, risk, action, steps FROM schema_guard.explain(
  'ALTER TABLE su.guarded ADD UNIQUE (c, d); ALTER TABLE su.guarded ADD CONSTRAINT guarded_pk2 PRIMARY KEY (b); ALTER TABLE su.parted ADD UNIQUE (v)');
SELECT action, (SELECT count(*) FROM unnest(steps) s WHERE s LIKE '%it rejects NULL at once') AS not_null_steps,
       steps[array_length(steps, 1)] AS last_step
  FROM schema_guard.explain('ALTER TABLE su.pk_both ADD PRIMARY KEY (id)');
SET schema_guard.mode = warn;
SELECT statement, subcommand, action FROM schema_guard.explain('ALTER TABLE su.guarded ADD UNIQUE (c, d)');
RESET schema_guard.mode;
SELECT count(*) AS unfinished FROM schema_guard.jobs
 WHERE job_id BETWEEN 3200 AND 3299 AND state NOT IN ('done', 'reverted');
DROP SCHEMA su CASCADE;
