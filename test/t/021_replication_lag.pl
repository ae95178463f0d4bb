# The backfill holds back while a streaming standby replays too far behind
# (schema_guard.max_replication_lag) and while its own WAL exceeds
# schema_guard.max_wal_rate, and still completes, leaving the standby with
# exactly the primary's rows.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use SchemaGuardTest qw(new_node stage_paused set_setting wait_for_job_end);

my $primary = new_node(
	'primary',
	allows_streaming => 1,
	conf => q{
# many small batches, so that there is something to hold back
schema_guard.batch_min_blocks = 4
schema_guard.batch_max_blocks = 4
});

$primary->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 5000) g;
	CREATE TABLE t2 (id int PRIMARY KEY, v text);
	INSERT INTO t2 SELECT g, 'row ' || g FROM generate_series(1, 1200) g;

	-- For the given number of seconds, every millisecond, look at a job:
	-- the most blocks it had done, and every reason it was seen waiting
	-- ('none' when it was not).
	CREATE FUNCTION watch(job bigint, seconds float8,
						  OUT max_blocks_done bigint, OUT waiting text)
	LANGUAGE plpgsql AS $$
	DECLARE
		stop timestamptz := clock_timestamp() + seconds * interval '1 s';
		seen text[] := '{}';
		p record;
	BEGIN
		max_blocks_done := 0;
		WHILE clock_timestamp() < stop LOOP
			SELECT * INTO p FROM schema_guard.progress WHERE progress.job = watch.job;
			max_blocks_done := greatest(max_blocks_done, p.blocks_done);
			IF NOT coalesce(p.waiting, 'none') = ANY (seen) THEN
				seen := seen || coalesce(p.waiting, 'none');
			END IF;
			PERFORM pg_sleep(0.001);
		END LOOP;
		waiting := array_to_string(seen, ',');
	END $$;
});

# Both jobs are staged paused.
my ($job) = stage_paused($primary, 'postgres',
	'ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()');
my ($job2) = stage_paused($primary, 'postgres',
	'ALTER TABLE t2 ADD COLUMN u uuid DEFAULT gen_random_uuid()');

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

# Wait up to the given number of seconds for a job to end; true if it did.
sub job_ends_within
{
	my ($job, $seconds) = @_;
	my $deadline = time() + $seconds;
	while (time() < $deadline)
	{
		return 1
		  if $primary->safe_psql('postgres',
			"SELECT state NOT IN ('queued', 'running') FROM schema_guard.jobs WHERE job_id = $job") eq 't';
		usleep(100_000);
	}
	return 0;
}

# Contents of a table, to compare the standby with the primary.
my $rows_sql = q{SELECT count(*) || ' ' || md5(string_agg(id || ':' || v || ':' || coalesce(u::text, 'NULL'), ',' ORDER BY id)) FROM };

#
# Replication lag
#
set_setting($primary, 'schema_guard.max_replication_lag', '1MB');

# The standby stops replaying while the primary writes more than that.
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_pause()');
ok( $standby->poll_query_until(
		'postgres', "SELECT pg_get_wal_replay_pause_state() = 'paused'"),
	'replay is paused on the standby');
$primary->safe_psql('postgres',
	q{CREATE TABLE filler AS SELECT g, repeat('x', 200) AS x FROM generate_series(1, 20000) g});
ok( $primary->poll_query_until(
		'postgres', q{
	SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn) > 2 * 1024 * 1024
	  FROM pg_stat_replication}),
	'the standby replays over 2MB behind');

$primary->safe_psql('postgres', "SELECT schema_guard.resume($job)");
ok( $primary->poll_query_until(
		'postgres', qq{
	SELECT waiting = 'replication lag' FROM schema_guard.progress WHERE job = $job}),
	'the job waits for the standby');
my $seen_waiting = $primary->safe_psql('postgres', 'SELECT now()');
my ($max_blocks_done, $waiting) = split /\|/,
  $primary->safe_psql('postgres', "SELECT * FROM watch($job, 2)");
is($max_blocks_done, '0', 'no block was filled in the next 2 s');
is($waiting, 'replication lag', 'while progress said why, all along');
is( $primary->safe_psql(
		'postgres', qq{
	SELECT waiting_since <= '$seen_waiting' FROM schema_guard.worker_status() WHERE job = $job}),
	't', 'and worker_status() says since when it waits');
is( $primary->safe_psql(
		'postgres', "SELECT state || ' ' || phase FROM schema_guard.jobs WHERE job_id = $job"),
	'running backfill', 'the job is running, in its backfill');

# Once the standby replays again the job completes.
$standby->safe_psql('postgres', 'SELECT pg_wal_replay_resume()');
wait_for_job_end($primary, 'postgres', $job);
is( $primary->safe_psql(
		'postgres', "SELECT state, blocks_done = blocks_total FROM schema_guard.jobs WHERE job_id = $job"),
	'done|t', 'after replay resumed the job completed');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t WHERE u IS NULL'),
	'0', 'every row has a value');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $rows_sql . 't'),
	$primary->safe_psql('postgres', $rows_sql . 't'),
	'the standby has exactly the primary\'s rows');

#
# WAL rate
#
set_setting($primary, 'schema_guard.max_replication_lag', '0');
set_setting($primary, 'schema_guard.max_wal_rate', '128kB');

# Every backfilled page is written in full to WAL after the checkpoint.
$primary->safe_psql('postgres', 'CHECKPOINT');
my $lsn_before = $primary->lsn('insert');
$primary->safe_psql('postgres', "SELECT schema_guard.resume($job2)");
ok( $primary->poll_query_until(
		'postgres', qq{
	SELECT waiting = 'wal rate' FROM schema_guard.progress WHERE job = $job2}),
	'the job waits for its WAL rate to come down');
wait_for_job_end($primary, 'postgres', $job2);
is($primary->safe_psql('postgres', "SELECT state FROM schema_guard.jobs WHERE job_id = $job2"),
	'done', 'and completes');
my ($wal_kb, $seconds) = split /\|/, $primary->safe_psql(
	'postgres', qq{
	SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn_before') / 1024),
		   round(extract(epoch FROM finished_at - started_at), 1)
	  FROM schema_guard.jobs WHERE job_id = $job2});
note "the job wrote $wal_kb kB of WAL in $seconds s";
cmp_ok($wal_kb / $seconds, '<=', 1.5 * 128,
	'its WAL rate stayed within the limit, give or take its first batch');
is($primary->safe_psql('postgres', 'SELECT count(*) FROM t2 WHERE u IS NULL'),
	'0', 'every row has a value');
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $rows_sql . 't2'),
	$primary->safe_psql('postgres', $rows_sql . 't2'),
	'the standby has exactly the primary\'s rows');

# A limit set while a job runs holds it back from then on; the WAL it wrote
# while there was no limit does not count.  A session holds a row of the
# job's last batch, and the worker waits for it (a long lock_timeout), so
# that the limit is set after the job has written most of its WAL.
set_setting($primary, 'schema_guard.max_wal_rate', '0');
set_setting($primary, 'schema_guard.lock_timeout', '1min');
$primary->safe_psql(
	'postgres', q{
	CREATE TABLE t3 (id int PRIMARY KEY, v text);
	INSERT INTO t3 SELECT g, 'row ' || g FROM generate_series(1, 8000) g;
	CHECKPOINT;
});
my ($job3) = stage_paused($primary, 'postgres',
	'ALTER TABLE t3 ADD COLUMN u uuid DEFAULT gen_random_uuid()');
my $locker = $primary->background_psql('postgres');
$locker->query_safe(q{
	BEGIN;
	SELECT 1 FROM t3 WHERE ctid = (SELECT max(ctid) FROM t3) FOR UPDATE});
$lsn_before = $primary->lsn('insert');
$primary->safe_psql('postgres', "SELECT schema_guard.resume($job3)");
ok( $primary->poll_query_until(
		'postgres', qq{
	SELECT j.blocks_done + 4 >= j.blocks_total AND a.wait_event_type = 'Lock'
	  FROM schema_guard.jobs j, pg_stat_activity a
	 WHERE j.job_id = $job3 AND a.backend_type = 'schema_guard worker'}),
	'a job without a WAL limit fills the table up to the held row');
$wal_kb = $primary->safe_psql('postgres',
	"SELECT round(pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn_before') / 1024)");
note "the job wrote $wal_kb kB of WAL without a limit";
# The worker reloads its settings as soon as its batch ends.
set_setting($primary, 'schema_guard.max_wal_rate', '128kB');
$locker->query_safe('COMMIT');
$locker->quit;
# What is left (one batch and the second pass) writes little WAL.
ok(job_ends_within($job3, 10),
	'the job completes at once: the WAL written before the limit does not count');
is($primary->safe_psql('postgres', "SELECT state FROM schema_guard.jobs WHERE job_id = $job3"),
	'done', 'the job completed');

$standby->stop;
$primary->stop;
done_testing();
