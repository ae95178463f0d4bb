-- The context a job computes values in: as the table's owner when the
-- ALTER ran, under the ALTER's settings and pinned search_path, with what
-- is not volatile computed at the ALTER, and never with another session's
-- temporary objects.  Each case compares with the plain ALTER on a twin
-- table, or shows that no code of one role runs as another.
SELECT sg_test.number_jobs_from(2600);

CREATE ROLE regress_fc_owner;
CREATE ROLE regress_fc_member IN ROLE regress_fc_owner;
CREATE ROLE regress_fc_app;
CREATE ROLE regress_fc_heir;
CREATE SCHEMA fc AUTHORIZATION regress_fc_owner;
GRANT USAGE ON SCHEMA fc TO regress_fc_app, regress_fc_heir;
GRANT CREATE ON SCHEMA fc TO regress_fc_heir;
GRANT TEMPORARY ON DATABASE regression TO regress_fc_app;
-- who computed a value; what only the heir may read
CREATE FUNCTION fc.who() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN current_user; END $$;
ALTER FUNCTION fc.who() OWNER TO regress_fc_owner;
CREATE TABLE fc.heirloom (secret text);
INSERT INTO fc.heirloom VALUES ('only the heir may read this');
ALTER TABLE fc.heirloom OWNER TO regress_fc_heir;
CREATE FUNCTION fc.peek() RETURNS text VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT secret FROM fc.heirloom); END $$;
ALTER FUNCTION fc.peek() OWNER TO regress_fc_owner;

CREATE PROCEDURE sg_test.fc_table(name text) LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('CREATE TABLE fc.%I (id int PRIMARY KEY, v text)', name);
  EXECUTE format('INSERT INTO fc.%I SELECT g, ''row'' FROM generate_series(1, 500) g', name);
  EXECUTE format('ALTER TABLE fc.%I OWNER TO regress_fc_owner', name);
  EXECUTE format('GRANT SELECT, UPDATE ON fc.%I TO regress_fc_app', name);
END $$;

--
-- The settings that shape values are the ALTER's: TimeZone, DateStyle,
-- extra_float_digits (the output of a volatile value); and what is stable
-- in the default is computed at the ALTER: now(), current_user (a member
-- of the owner ran the ALTER), session_user.
--
CALL sg_test.fc_table('set_plain');
CALL sg_test.fc_table('set_guard');
CREATE PROCEDURE sg_test.fc_settings_alter(tab text) LANGUAGE plpgsql AS $$
BEGIN
  SET LOCAL TimeZone = '+09';
  SET LOCAL DateStyle = 'SQL, DMY';
  SET LOCAL extra_float_digits = -10;
  SET LOCAL SESSION AUTHORIZATION regress_fc_member;
  EXECUTE format($f$ALTER TABLE fc.%I
    ADD COLUMN ts text DEFAULT ('2020-01-02 03:04:05+00'::timestamptz + random() * interval '0 s')::text,
    ADD COLUMN third text DEFAULT (1::float8 / 3 + random() * 0)::text,
    ADD COLUMN at_alter timestamptz DEFAULT now() + random() * interval '0 s',
    ADD COLUMN made_by text DEFAULT current_user || '/' || session_user || (random() * 0)::int$f$, tab);
END $$;
SET schema_guard.mode = off;
BEGIN;
CALL sg_test.fc_settings_alter('set_plain');
COMMIT;
RESET schema_guard.mode;
BEGIN;
CALL sg_test.fc_settings_alter('set_guard');
SELECT schema_guard.pause(2600);
COMMIT;
-- an application's session with other settings updates old rows: the fill
-- trigger computes them under the ALTER's settings too
SET ROLE regress_fc_app;
SET TimeZone = 'UTC';
SET DateStyle = 'ISO, MDY';
SET extra_float_digits = 1;
UPDATE fc.set_guard SET v = 'touched' WHERE id <= 10;
RESET ROLE;
RESET TimeZone;
RESET DateStyle;
RESET extra_float_digits;
SELECT schema_guard.resume(2600);
SET client_min_messages = warning;
CALL schema_guard.wait(2600, '2 min');
RESET client_min_messages;
SELECT ts, third, made_by, count(*) FROM fc.set_plain GROUP BY 1, 2, 3;
SELECT ts, third, made_by, count(*) FROM fc.set_guard GROUP BY 1, 2, 3;
-- now() is the ALTER's, as in the plain ALTER (the job's row was made by it)
SELECT count(*) FILTER (WHERE g.at_alter = j.created_at) AS at_the_alter, count(*)
  FROM fc.set_guard g, schema_guard.jobs j WHERE j.job_id = 2600;

--
-- The job computes as the table's owner at the ALTER: a new owner lends it
-- nothing, not even a superuser's rights.  The fill trigger keeps
-- computing as the old owner; the worker, whose statements would fire the
-- table's triggers as the new owner, stops the job until the table is
-- given back.
--
CALL sg_test.fc_table('heir');
BEGIN;
SET LOCAL ROLE regress_fc_owner;
ALTER TABLE fc.heir ADD COLUMN made_by text DEFAULT fc.who();
SELECT schema_guard.pause(2601);
COMMIT;
ALTER TABLE fc.heir OWNER TO regress_fc_heir;
SET ROLE regress_fc_app;
UPDATE fc.heir SET v = 'touched' WHERE id <= 10;
RESET ROLE;
SELECT schema_guard.resume(2601);
SET client_min_messages = warning;
CALL schema_guard.wait(2601, '2 min');
RESET client_min_messages;
SELECT made_by, count(*) FROM fc.heir GROUP BY 1 ORDER BY 1;
ALTER TABLE fc.heir OWNER TO regress_fc_owner;
SELECT schema_guard.retry(2601);
SET client_min_messages = warning;
CALL schema_guard.wait(2601, '2 min');
RESET client_min_messages;
SELECT made_by, count(*) FROM fc.heir GROUP BY 1;
-- given back, a default that reads what only the new owner may read
-- fails the job, as the old owner
CALL sg_test.fc_table('heir_peek');
BEGIN;
SET LOCAL ROLE regress_fc_owner;
ALTER TABLE fc.heir_peek ADD COLUMN secret text DEFAULT fc.peek() || (random() * 0)::int;
ROLLBACK;
GRANT SELECT ON fc.heirloom TO regress_fc_owner;
BEGIN;
SET LOCAL ROLE regress_fc_owner;
ALTER TABLE fc.heir_peek ADD COLUMN secret text DEFAULT fc.peek() || (random() * 0)::int;
SELECT schema_guard.pause(2602);
COMMIT;
REVOKE SELECT ON fc.heirloom FROM regress_fc_owner;
ALTER TABLE fc.heir_peek OWNER TO regress_fc_heir;
SELECT schema_guard.resume(2602);
SET client_min_messages = warning;
CALL schema_guard.wait(2602, '2 min');
RESET client_min_messages;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 2602;
ALTER TABLE fc.heir_peek OWNER TO regress_fc_owner;
SELECT schema_guard.retry(2602);
SET client_min_messages = warning;
CALL schema_guard.wait(2602, '2 min');
RESET client_min_messages;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 2602;
SELECT count(secret) FROM fc.heir_peek;
-- even to a superuser
ALTER TABLE fc.heir_peek OWNER TO CURRENT_USER;
SELECT schema_guard.retry(2602);
SET client_min_messages = warning;
CALL schema_guard.wait(2602, '2 min');
RESET client_min_messages;
SELECT state, last_error FROM schema_guard.jobs WHERE job_id = 2602;
SELECT schema_guard.revert(2602);

--
-- An application's session cannot make the owner's code use its
-- temporary objects: the search_path the job pinned has pg_temp last, so a
-- name the owner's function reads finds the owner's table, and a name only
-- the session's temporary schema has is refused.  Here the owner is a
-- superuser, and the application's role would otherwise make itself one.
--
CREATE TABLE fc.rates (rate int);
INSERT INTO fc.rates VALUES (3);
CREATE FUNCTION fc.rate() RETURNS int VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT rate FROM rates); END $$;
CREATE FUNCTION fc.missing_rate() RETURNS int VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT rate FROM only_in_temp); END $$;
CREATE TABLE fc.only_in_temp (rate int);
INSERT INTO fc.only_in_temp VALUES (5);
CREATE TABLE fc.temp_guard (id int PRIMARY KEY, v text);
INSERT INTO fc.temp_guard SELECT g, 'row' FROM generate_series(1, 500) g;
GRANT SELECT, UPDATE ON fc.temp_guard TO regress_fc_app;
BEGIN;
SET LOCAL search_path = fc;
ALTER TABLE temp_guard ADD COLUMN rate int DEFAULT rate() + (random() * 0)::int,
                       ADD COLUMN rate2 int DEFAULT missing_rate() + (random() * 0)::int;
SELECT schema_guard.pause(2603);
COMMIT;
SELECT search_path FROM schema_guard.jobs WHERE job_id = 2603;
-- the application's role plants temporary objects of those names
CREATE FUNCTION fc.escalate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE 'ALTER ROLE regress_fc_app SUPERUSER';
  RETURN 99;
END $$;
DROP TABLE fc.only_in_temp;
SET ROLE regress_fc_app;
CREATE TEMP VIEW rates AS SELECT fc.escalate() AS rate;
CREATE TEMP VIEW only_in_temp AS SELECT fc.escalate() AS rate;
UPDATE fc.temp_guard SET v = 'touched' WHERE id = 1;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_fc_app';
-- with only the first column's default to compute, the owner's table is read
ALTER TABLE fc.temp_guard DROP COLUMN rate2;
SET ROLE regress_fc_app;
UPDATE fc.temp_guard SET v = 'touched' WHERE id = 1;
SELECT id, rate FROM fc.temp_guard WHERE id = 1;
RESET ROLE;
SELECT rolsuper FROM pg_roles WHERE rolname = 'regress_fc_app';
SELECT schema_guard.cancel(2603);

--
-- A default that uses the ALTER session's temporary objects cannot be
-- computed by a job: refused at the ALTER, with why (explain() says so too
-- where the expression itself names them).
--
CALL sg_test.fc_table('temp_default');
CREATE TEMP TABLE session_rates (rate int);
INSERT INTO session_rates VALUES (7);
CREATE FUNCTION fc.session_rate() RETURNS int VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN RETURN (SELECT rate FROM session_rates); END $$;
CREATE FUNCTION pg_temp.temp_rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$ BEGIN RETURN 7; END $$;
SET schema_guard.mode = off;
BEGIN;
ALTER TABLE fc.temp_default ADD COLUMN rate int DEFAULT fc.session_rate();
ROLLBACK;
RESET schema_guard.mode;
ALTER TABLE fc.temp_default ADD COLUMN rate int DEFAULT fc.session_rate();
ALTER TABLE fc.temp_default ADD COLUMN rate int DEFAULT pg_temp.temp_rate();
SELECT "column", action, reason FROM schema_guard.explain(
  'ALTER TABLE fc.temp_default ADD COLUMN rate int DEFAULT pg_temp.temp_rate()');
-- in warn mode it runs as written, as PostgreSQL runs it
SET schema_guard.mode = warn;
ALTER TABLE fc.temp_default ADD COLUMN rate int DEFAULT fc.session_rate();
RESET schema_guard.mode;
SELECT rate, count(*) FROM fc.temp_default GROUP BY 1;

--
-- fill_value() computes only in the worker's batches: called by the table's
-- owner, with the column's type or another, it refuses before computing
-- anything.
--
CALL sg_test.fc_table('forged');
BEGIN;
ALTER TABLE fc.forged ADD COLUMN t text DEFAULT fc.who();
SELECT schema_guard.pause(2604);
COMMIT;
SET ROLE regress_fc_owner;
SELECT schema_guard.fill_value(2604, 3::int2, 'fc.forged', NULL::text);
SELECT schema_guard.fill_value(2604, 3::int2, 'fc.forged', NULL::int8);
SELECT schema_guard.fill_value(2604, 3::int2, 'fc.forged', NULL::point);
SELECT schema_guard.fill_value(2604, 3::int2, NULL, NULL::text);
RESET ROLE;
SELECT schema_guard.cancel(2604);

DROP SCHEMA fc CASCADE;
DROP PROCEDURE sg_test.fc_table(text), sg_test.fc_settings_alter(text);
REVOKE TEMPORARY ON DATABASE regression FROM regress_fc_app;
DROP ROLE regress_fc_owner, regress_fc_member, regress_fc_app, regress_fc_heir;
