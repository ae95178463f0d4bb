-- Every schema_guard setting: its default, unit, range and who may change
-- it; valid values are taken, invalid ones refused with a clear error, and
-- the schema_guard. prefix is reserved, so a misspelt name is an error.
SELECT sg_test.number_jobs_from(700);

-- the built-in defaults (boot_val), and what this test server sets
-- (test/schema_guard.conf changes min_table_size, naptime, batch_delay)
SELECT name, boot_val, setting, unit, vartype, context, min_val, max_val, enumvals, source
  FROM pg_settings WHERE name LIKE 'schema_guard.%' ORDER BY name;
-- each one is described
SELECT name, short_desc FROM pg_settings WHERE name LIKE 'schema_guard.%' ORDER BY name;

-- SHOW, in the units a user writes
SHOW schema_guard.mode;
SHOW schema_guard.min_table_size;
SHOW schema_guard.lock_timeout;
SHOW schema_guard.lock_retries;
SHOW schema_guard.batch_time;
SHOW schema_guard.batch_delay;
SHOW schema_guard.batch_min_blocks;
SHOW schema_guard.batch_max_blocks;
SHOW schema_guard.reclaim;
SHOW schema_guard.max_replication_lag;
SHOW schema_guard.max_wal_rate;
SHOW schema_guard.max_workers;
SHOW schema_guard.naptime;

--
-- schema_guard.mode: any session may set it, to one of four values
--
SET schema_guard.mode = warn;
SHOW schema_guard.mode;
SET schema_guard.mode = block;
SHOW schema_guard.mode;
SET schema_guard.mode = 'OFF';
SHOW schema_guard.mode;
SET schema_guard.mode = rewrite;
SHOW schema_guard.mode;
SET schema_guard.mode = fast;
SET schema_guard.mode = '';
SET schema_guard.mode = 1;
SET schema_guard.mode = true;
SHOW schema_guard.mode;
-- per transaction
BEGIN;
SET LOCAL schema_guard.mode = off;
SHOW schema_guard.mode;
COMMIT;
SHOW schema_guard.mode;
-- per role and per database, checked when stored
CREATE ROLE sg_settings_role;
ALTER ROLE sg_settings_role SET schema_guard.mode = block;
ALTER ROLE sg_settings_role SET schema_guard.mode = sometimes;
SELECT current_database() AS db \gset
ALTER DATABASE :"db" SET schema_guard.min_table_size = '10MB';
ALTER DATABASE :"db" SET schema_guard.min_table_size = -1;
SELECT r.rolname, d.datname = current_database() AS this_database, c.setting
  FROM pg_db_role_setting s
  CROSS JOIN unnest(s.setconfig) AS c(setting)
  LEFT JOIN pg_roles r ON r.oid = s.setrole
  LEFT JOIN pg_database d ON d.oid = s.setdatabase
 WHERE c.setting LIKE 'schema\_guard.%'
 ORDER BY 1, 2;
ALTER DATABASE :"db" RESET schema_guard.min_table_size;
DROP ROLE sg_settings_role;

--
-- settings any session may change: min_table_size, lock_timeout,
-- lock_retries
--
SET schema_guard.min_table_size = '2MB';
SHOW schema_guard.min_table_size;
SET schema_guard.min_table_size = 512;
SHOW schema_guard.min_table_size;
SET schema_guard.min_table_size = '1.5MB';
SHOW schema_guard.min_table_size;
SET schema_guard.min_table_size = 0;
SHOW schema_guard.min_table_size;
SET schema_guard.min_table_size = -1;
SET schema_guard.min_table_size = '10 parsecs';
SET schema_guard.min_table_size = '4TB';
RESET schema_guard.min_table_size;
SHOW schema_guard.min_table_size;

SET schema_guard.lock_timeout = '2s';
SHOW schema_guard.lock_timeout;
SET schema_guard.lock_timeout = 250;
SHOW schema_guard.lock_timeout;
SET schema_guard.lock_timeout = 0;
SET schema_guard.lock_timeout = '1 fortnight';
SET schema_guard.lock_timeout = 'soon';
RESET schema_guard.lock_timeout;

SET schema_guard.lock_retries = 0;
SHOW schema_guard.lock_retries;
SET schema_guard.lock_retries = 10000;
SHOW schema_guard.lock_retries;
SET schema_guard.lock_retries = 10001;
SET schema_guard.lock_retries = -1;
SET schema_guard.lock_retries = 2.5;
SHOW schema_guard.lock_retries;
SET schema_guard.lock_retries = '3ms';
SET schema_guard.lock_retries = many;
RESET schema_guard.lock_retries;

--
-- settings of the background work, read from the server's configuration:
-- a session cannot change them, and ALTER SYSTEM checks what it stores
--
SET schema_guard.batch_time = '100ms';
SET schema_guard.batch_delay = 0;
SET schema_guard.batch_min_blocks = 8;
SET schema_guard.batch_max_blocks = 8;
SET schema_guard.reclaim = off;
SET schema_guard.reindex = on;
SET schema_guard.yield_to_load = off;
SET schema_guard.min_backfill_share = 50;
SET schema_guard.worker_nice = 19;
SET schema_guard.max_replication_lag = '1GB';
SET schema_guard.max_wal_rate = '10MB';
SET schema_guard.max_workers = 4;
SET schema_guard.naptime = '10s';

ALTER SYSTEM SET schema_guard.batch_time = '1min';
ALTER SYSTEM SET schema_guard.batch_time = 0;
ALTER SYSTEM SET schema_guard.batch_time = '61s';
ALTER SYSTEM SET schema_guard.batch_delay = '1h';
ALTER SYSTEM SET schema_guard.batch_delay = '-1ms';
ALTER SYSTEM SET schema_guard.batch_delay = '2h';
ALTER SYSTEM SET schema_guard.batch_min_blocks = 1048576;
ALTER SYSTEM SET schema_guard.batch_min_blocks = 0;
ALTER SYSTEM SET schema_guard.batch_max_blocks = 1;
ALTER SYSTEM SET schema_guard.batch_max_blocks = 1048577;
ALTER SYSTEM SET schema_guard.batch_max_blocks = 'lots';
ALTER SYSTEM SET schema_guard.reclaim = off;
ALTER SYSTEM SET schema_guard.reclaim = sometimes;
ALTER SYSTEM SET schema_guard.reclaim = 2;
ALTER SYSTEM SET schema_guard.reindex = on;
ALTER SYSTEM SET schema_guard.reindex = later;
ALTER SYSTEM SET schema_guard.yield_to_load = off;
ALTER SYSTEM SET schema_guard.yield_to_load = maybe;
ALTER SYSTEM SET schema_guard.min_backfill_share = 100;
ALTER SYSTEM SET schema_guard.min_backfill_share = 0;
ALTER SYSTEM SET schema_guard.min_backfill_share = 101;
ALTER SYSTEM SET schema_guard.worker_nice = 19;
ALTER SYSTEM SET schema_guard.worker_nice = -1;
ALTER SYSTEM SET schema_guard.worker_nice = 20;
ALTER SYSTEM SET schema_guard.max_replication_lag = '16MB';
ALTER SYSTEM SET schema_guard.max_replication_lag = '-1kB';
ALTER SYSTEM SET schema_guard.max_replication_lag = 'far';
ALTER SYSTEM SET schema_guard.max_wal_rate = '50MB';
ALTER SYSTEM SET schema_guard.max_wal_rate = -5;
ALTER SYSTEM SET schema_guard.max_workers = 64;
ALTER SYSTEM SET schema_guard.max_workers = 0;
ALTER SYSTEM SET schema_guard.max_workers = 65;
ALTER SYSTEM SET schema_guard.naptime = '1d';
ALTER SYSTEM SET schema_guard.naptime = '0s';
ALTER SYSTEM SET schema_guard.naptime = '2d';
ALTER SYSTEM SET schema_guard.mode = block;
-- what was stored is not in force until a reload; take it back
SHOW schema_guard.batch_time;
ALTER SYSTEM RESET schema_guard.batch_time;
ALTER SYSTEM RESET schema_guard.batch_delay;
ALTER SYSTEM RESET schema_guard.batch_min_blocks;
ALTER SYSTEM RESET schema_guard.batch_max_blocks;
ALTER SYSTEM RESET schema_guard.reclaim;
ALTER SYSTEM RESET schema_guard.reindex;
ALTER SYSTEM RESET schema_guard.yield_to_load;
ALTER SYSTEM RESET schema_guard.min_backfill_share;
ALTER SYSTEM RESET schema_guard.worker_nice;
ALTER SYSTEM RESET schema_guard.max_replication_lag;
ALTER SYSTEM RESET schema_guard.max_wal_rate;
ALTER SYSTEM RESET schema_guard.max_workers;
ALTER SYSTEM RESET schema_guard.naptime;
ALTER SYSTEM RESET schema_guard.mode;

--
-- the prefix is reserved: unknown names are errors, not placeholders
--
SET schema_guard.nonexistent = 1;
SET schema_guard.Mode = warn;
SHOW schema_guard.mode;
SHOW schema_guard.nonexistent;
SELECT current_setting('schema_guard.nonexistent');
SELECT current_setting('schema_guard.nonexistent', true) IS NULL AS missing;
SELECT set_config('schema_guard.nonexistent', 'x', false);
ALTER SYSTEM SET schema_guard.nonexistent = 1;
ALTER ROLE CURRENT_USER SET schema_guard.nonexistent = 1;
SELECT count(*) FROM pg_settings WHERE name = 'schema_guard.nonexistent';
RESET schema_guard.mode;
