-- Batches adapt to schema_guard.batch_time (or a job's own target): they
-- shrink when a batch runs long and grow when it runs short.
SELECT sg_test.number_jobs_from(1100);

CREATE TABLE thr_slow (id int, pad text);
INSERT INTO thr_slow SELECT g, repeat('p', 200) FROM generate_series(1, 1000) g;
CREATE TABLE thr_fast (id int, pad text);
INSERT INTO thr_fast SELECT g, repeat('p', 200) FROM generate_series(1, 10000) g;
SELECT pg_relation_size('thr_fast') / current_setting('block_size')::int AS blocks;

-- each row takes about a millisecond to fill
CREATE FUNCTION sg_test.slow_value() RETURNS int VOLATILE LANGUAGE plpgsql
  AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN 1; END $$;

-- a 10 ms target with ~30 ms of work per block: down to one block a batch
BEGIN;
ALTER TABLE thr_slow ADD COLUMN slow int DEFAULT sg_test.slow_value();
SELECT schema_guard.pause(1100);
COMMIT;
SELECT schema_guard.set_batch(1100, '10 ms', '0');
SELECT schema_guard.resume(1100);
SET client_min_messages = warning;
CALL schema_guard.wait(1100, '2 min');
RESET client_min_messages;
SELECT detail FROM schema_guard.history WHERE job = 1100 AND event = 'verify';

-- a generous target with fast fills: batches grow from 16 blocks, by at
-- most half each time (16, 24, 36, 54, then 81); towards the end of the
-- pass each batch covers at most a quarter of the blocks left, and a batch
-- cut short does not grow the size further
BEGIN;
ALTER TABLE thr_fast ADD COLUMN fast float8 DEFAULT random();
SELECT schema_guard.pause(1101);
COMMIT;
SELECT schema_guard.set_batch(1101, '10 s', '0');
SELECT schema_guard.resume(1101);
SET client_min_messages = warning;
CALL schema_guard.wait(1101, '2 min');
RESET client_min_messages;
SELECT detail FROM schema_guard.history WHERE job = 1101 AND event = 'verify';
SELECT count(*) = count(slow) AS all_filled FROM thr_slow;
SELECT count(*) = count(fast) AS all_filled FROM thr_fast;

-- settings are checked
SELECT schema_guard.set_batch(1101, '0', NULL);
SELECT schema_guard.set_batch(1101, NULL, '-1 s');
SELECT schema_guard.set_batch(NULL, NULL, NULL);
SELECT schema_guard.set_batch(99999, NULL, NULL);
