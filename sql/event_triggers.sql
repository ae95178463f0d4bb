-- Users' event triggers see a staged ALTER as PostgreSQL shows the plain
-- one: one ddl_command_start; at ddl_command_end the commands the plain
-- ALTER lists (a serial or identity column's CREATE SEQUENCE, the ALTER
-- TABLE, the sequence's ALTER SEQUENCE ... OWNED BY), and not schema_guard's
-- helpers (the fill trigger); at sql_drop what the statement dropped.
SELECT sg_test.number_jobs_from(3100);
CREATE SCHEMA et;
CREATE TABLE et.log (n serial, ev text, tag text, otype text, ident text);
CREATE FUNCTION et.on_start() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO et.log (ev, tag) VALUES ('start', tg_tag);
END $$;
CREATE FUNCTION et.on_end() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    INSERT INTO et.log (ev, tag, otype, ident)
      VALUES ('end', r.command_tag, r.object_type, r.object_identity);
  END LOOP;
END $$;
CREATE FUNCTION et.on_drop() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    INSERT INTO et.log (ev, tag, otype, ident) VALUES ('drop', tg_tag, r.object_type, r.object_identity);
  END LOOP;
END $$;
CREATE FUNCTION et.on_rewrite() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO et.log (ev, tag, ident) VALUES ('rewrite', tg_tag, pg_event_trigger_table_rewrite_oid()::regclass::text);
END $$;
CREATE EVENT TRIGGER et_start ON ddl_command_start EXECUTE FUNCTION et.on_start();
CREATE EVENT TRIGGER et_end ON ddl_command_end EXECUTE FUNCTION et.on_end();
CREATE EVENT TRIGGER et_drop ON sql_drop EXECUTE FUNCTION et.on_drop();
CREATE EVENT TRIGGER et_rewrite ON table_rewrite EXECUTE FUNCTION et.on_rewrite();

-- Two tables alike, made in a transaction of their own (a table made in
-- the ALTER's transaction is left alone).
CREATE PROCEDURE et.tables() LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE IF EXISTS et.plain, et.staged;
  CREATE TABLE et.plain (id int PRIMARY KEY, x int);
  CREATE TABLE et.staged (id int PRIMARY KEY, x int);
  INSERT INTO et.plain SELECT generate_series(1, 1000);
  INSERT INTO et.staged SELECT generate_series(1, 1000);
END $$;

-- What the event triggers saw of one ALTER, run plainly on table "plain"
-- and staged on table "staged", side by side, with the table's name as T.
-- (table_rewrite is not among them: the staged ALTER does not rewrite the
-- table, so it fires for the plain one only.)
CREATE FUNCTION et.compare(subcommands text)
RETURNS TABLE (k bigint, plain text, staged text, same bool)
LANGUAGE plpgsql AS $$
BEGIN
  TRUNCATE et.log;
  SET LOCAL schema_guard.mode = off;
  EXECUTE 'ALTER TABLE et.plain ' || subcommands;
  SET LOCAL schema_guard.mode = rewrite;
  UPDATE et.log l SET ev = 'plain ' || l.ev;
  EXECUTE 'ALTER TABLE et.staged ' || subcommands;
  RETURN QUERY
    WITH e AS (SELECT l.n, l.ev LIKE 'plain %' AS is_plain,
                      concat_ws(' ', replace(l.ev, 'plain ', ''), l.tag, l.otype,
                                replace(replace(l.ident, 'plain', 'T'), 'staged', 'T')) AS what
                 FROM et.log l WHERE l.ev NOT LIKE '%rewrite'),
         p AS (SELECT row_number() OVER (ORDER BY n) AS k, what FROM e WHERE is_plain),
         s AS (SELECT row_number() OVER (ORDER BY n) AS k, what FROM e WHERE NOT is_plain)
    SELECT coalesce(p.k, s.k), p.what, s.what, p.what IS NOT DISTINCT FROM s.what
      FROM p FULL JOIN s ON p.k = s.k ORDER BY 1;
END $$;

SET client_min_messages = warning;
CALL et.tables();
SELECT * FROM et.compare('ADD COLUMN s bigserial');
SELECT ev, count(*) FROM et.log WHERE ev LIKE '%rewrite' GROUP BY ev;
CALL schema_guard.wait(3100, '2 min');
CALL et.tables();
SELECT * FROM et.compare('ADD COLUMN i int GENERATED ALWAYS AS IDENTITY');
CALL schema_guard.wait(3101, '2 min');
CALL et.tables();
SELECT * FROM et.compare('ADD COLUMN u uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE, DROP COLUMN x');
CALL schema_guard.wait(3102, '2 min');
CALL et.tables();
SELECT * FROM et.compare('ADD COLUMN r float8 DEFAULT random() CHECK (r >= 0)');
CALL schema_guard.wait(3103, '2 min');
SELECT job_id, state FROM schema_guard.jobs WHERE job_id >= 3100 ORDER BY job_id;
RESET client_min_messages;

DROP EVENT TRIGGER et_start;
DROP EVENT TRIGGER et_end;
DROP EVENT TRIGGER et_drop;
DROP EVENT TRIGGER et_rewrite;
SET client_min_messages = warning;
DROP SCHEMA et CASCADE;
RESET client_min_messages;
