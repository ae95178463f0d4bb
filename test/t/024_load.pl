# The backfill under the application's load: the table's statistics follow
# the backfill as it runs (so autovacuum sees its updates and dead rows),
# and while the application's sessions keep every CPU busy the worker
# yields to them, saying so in progress, down to a share of the time that
# still ends the job; CPU used while no session is at work does not count;
# and its index builds use parallel workers only while nobody else works.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use SchemaGuardTest qw(new_node set_setting stage_paused poll_job_state);

my $node = new_node('load', conf => q{
schema_guard.batch_max_blocks = 4
});

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int, pad text);
	INSERT INTO t SELECT g, repeat('p', 200) FROM generate_series(1, 6000) g;
	CREATE TABLE u (id int, pad text);
	INSERT INTO u SELECT g, repeat('p', 200) FROM generate_series(1, 3000) g;
	CREATE TABLE v (id int, pad text);
	INSERT INTO v SELECT g, repeat('p', 200) FROM generate_series(1, 600) g;
	SELECT pg_stat_force_next_flush();
	-- about a millisecond a row: batches long enough that yielding shows
	CREATE FUNCTION slow_random() RETURNS float8 VOLATILE LANGUAGE plpgsql
	  AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN random(); END $$;
});

# Statistics while the backfill runs: batches of 4 blocks, 100 ms apart.
my ($job) = stage_paused($node, 'postgres',
	'ALTER TABLE t ADD COLUMN v float8 DEFAULT random()');
$node->safe_psql('postgres',
	"SELECT schema_guard.set_batch($job, NULL, '100 ms'), schema_guard.resume($job)");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT s.n_tup_upd > 0 AND s.n_dead_tup > 0 AND j.state = 'running' AND j.phase = 'backfill'
	  FROM pg_stat_user_tables s, schema_guard.jobs j
	 WHERE s.relname = 't' AND j.job_id = $job}),
	'pg_stat_user_tables counts the backfill\'s updates and dead rows while it runs');
# The worker runs at schema_guard.worker_nice: the scheduler serves the
# application's processes first (field 19 of /proc/PID/stat).
ok( $node->poll_query_until(
		'postgres', q{
	SELECT split_part(split_part(pg_read_file('/proc/' || pid || '/stat'), ') ', 2), ' ', 17)
	  FROM pg_stat_activity WHERE application_name = 'schema_guard worker'}, '10'),
	'the worker lowered its CPU priority to worker_nice');
$node->safe_psql('postgres', "SELECT schema_guard.set_batch($job, NULL, '0')");
ok(poll_job_state($node, 'postgres', $job, 'done'), 'the job completes');

# Load: one process per CPU computing for minutes.
my $cpus = $node->safe_psql('postgres', q{
	SELECT count(*) FROM regexp_split_to_table(pg_read_file('/proc/cpuinfo'), E'\n') l
	 WHERE l LIKE 'processor%'});
$cpus = 2 if !$cpus || $cpus < 1;
my @burners;
for my $i (1 .. $cpus)
{
	my ($in, $out, $err) = ('', '', '');
	push @burners,
	  IPC::Run::start(
		[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
			"SELECT /* load */ sum(i) FROM (SELECT generate_series(1, 100000000000) i) s" ],
		\$in, \$out, \$err);
}
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = $cpus FROM pg_stat_activity
	 WHERE query LIKE 'SELECT /* load */%' AND state = 'active'}),
	'the load runs');

my ($job2) = stage_paused($node, 'postgres',
	'ALTER TABLE v ADD COLUMN w float8 DEFAULT slow_random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job2)");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT waiting = 'load' FROM schema_guard.progress WHERE job = $job2}),
	'with every CPU busy, the worker yields to the load, and progress says so');
ok($node->log_contains(qr/LOG:  schema_guard job $job2: yielding to the application's load/),
	'the server log says so too');
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT j.state = 'done' AND
	       (SELECT count(*) FROM pg_stat_activity
	         WHERE query LIKE 'SELECT /* load */%' AND state = 'active') = $cpus
	  FROM schema_guard.jobs j WHERE j.job_id = $job2}),
	'the job still ends while the load goes on');
is($node->safe_psql('postgres', 'SELECT count(*) FROM v WHERE w IS NULL'),
	'0', 'every row was filled');

# Without the throttle the worker never yields.
set_setting($node, 'schema_guard.yield_to_load', 'off');
my ($job3) = stage_paused($node, 'postgres',
	'ALTER TABLE u ADD COLUMN w float8 DEFAULT random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job3)");
ok(poll_job_state($node, 'postgres', $job3, 'done'), 'the unthrottled job completes');
ok(!$node->log_contains(qr/schema_guard job $job3: yielding/), 'and never yielded');

$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	 WHERE query LIKE 'SELECT /* load */%' AND pid <> pg_backend_pid()});
$_->finish for @burners;

# CPU others use counts only while the application is at work: with every
# CPU busy outside PostgreSQL (autovacuum, a build, another program) and no
# session running statements, the worker does not yield.  The job is
# waited for with wait(), which is not the application at work.
set_setting($node, 'schema_guard.yield_to_load', 'on');
my @spinners;
push @spinners, IPC::Run::start([ $^X, '-e', '1 while 1' ]) for 1 .. $cpus;
$node->safe_psql('postgres', 'ALTER TABLE u DROP COLUMN w');
my ($job4) = stage_paused($node, 'postgres',
	'ALTER TABLE u ADD COLUMN w float8 DEFAULT slow_random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job4)");
$node->safe_psql('postgres', "CALL schema_guard.wait($job4)");
is($node->safe_psql('postgres', "SELECT state FROM schema_guard.jobs WHERE job_id = $job4"),
	'done', 'with every CPU busy outside the application, the job completes');
ok(!$node->log_contains(qr/schema_guard job $job4: yielding/),
	'and never yielded: no session of the application was at work');
$_->kill_kill for @spinners;

# Index builds: CREATE INDEX's sort may start parallel workers, which run
# at the server's priority, not at worker_nice.  At idle the worker's
# build uses them; while the application is at work it builds alone.  The
# index's expression takes a millisecond a row, so that a build lasts
# seconds; the watch spends nearly all its time asleep, which does not
# count as the application at work.
set_setting($node, 'min_parallel_table_scan_size', '0');
set_setting($node, 'maintenance_work_mem', '256MB');
$node->safe_psql('postgres', q{
	CREATE FUNCTION slow_key(int) RETURNS int IMMUTABLE PARALLEL SAFE LANGUAGE plpgsql
	  AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN $1; END $$;
	-- commits as it goes: the build waits for older snapshots, as CREATE
	-- INDEX CONCURRENTLY does, and the watch must hold none.  It first
	-- sleeps while the worker samples the sessions at the job's start.
	CREATE PROCEDURE watch_build(job bigint, INOUT seen boolean DEFAULT false) LANGUAGE plpgsql AS $$
	BEGIN
	  PERFORM pg_sleep(0.3);
	  LOOP
	    seen := EXISTS (SELECT FROM pg_stat_activity p JOIN pg_stat_activity w ON p.leader_pid = w.pid
	                     WHERE p.backend_type = 'parallel worker'
	                       AND w.application_name = 'schema_guard worker');
	    EXIT WHEN seen OR (SELECT state FROM schema_guard.jobs j WHERE j.job_id = job) NOT IN ('queued', 'running');
	    COMMIT;
	    PERFORM pg_sleep(0.02);
	  END LOOP;
	END $$;
});
sub stage_index
{
	my ($name) = @_;
	return $node->safe_psql('postgres', qq{
		BEGIN;
		CREATE INDEX $name ON u (slow_key(id));
		SELECT max(job_id) FROM schema_guard.jobs WHERE relid = 'u'::regclass;
		COMMIT;});
}
my $idle_build = stage_index('u_idle_idx');
is($node->safe_psql('postgres', "CALL watch_build($idle_build)"),
	't', 'at idle, the worker builds an index with parallel workers');
ok(poll_job_state($node, 'postgres', $idle_build, 'done'), 'and the build ends');

# The application's session commits often: the build waits for older
# snapshots, as CREATE INDEX CONCURRENTLY does, and this one holds none long.
my ($in, $out, $err) = ('', '', '');
my $app = IPC::Run::start(
	[ 'psql', '-X', '-d', $node->connstr('postgres'), '-c',
		"DO /* app */ \$\$ BEGIN LOOP PERFORM sum(i) FROM (SELECT generate_series(1, 100000) i) s; COMMIT; END LOOP; END \$\$" ],
	\$in, \$out, \$err);
ok( $node->poll_query_until(
		'postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE query LIKE 'DO /* app */%' AND state = 'active'}),
	'a session of the application is at work');
my $busy_build = stage_index('u_busy_idx');
is($node->safe_psql('postgres', "CALL watch_build($busy_build)"),
	'f', 'while the application is at work, the worker builds the index alone');
ok(poll_job_state($node, 'postgres', $busy_build, 'done'), 'and the build ends');
is( $node->safe_psql('postgres', q{
	SELECT count(*) FROM pg_index WHERE indrelid = 'u'::regclass AND indisvalid}),
	'2', 'both indexes are valid');
$node->safe_psql('postgres', q{
	SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	 WHERE query LIKE 'DO /* app */%' AND pid <> pg_backend_pid()});
$app->finish;

done_testing();
