# The backfill under the application's load: the table's statistics follow
# the backfill as it runs (so autovacuum sees its updates and dead rows),
# and while the application's sessions keep every CPU busy the worker
# yields to them, saying so in progress, down to a share of the time that
# still ends the job; CPU used while no session is at work does not count.
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
			"SELECT /* load */ count(*) FROM generate_series(1, 100000000000)" ],
		\$in, \$out, \$err);
}
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = $cpus FROM pg_stat_activity
	 WHERE query LIKE 'SELECT /* load */%' AND state = 'active'}),
	'the load runs');

my ($job2) = stage_paused($node, 'postgres',
	'ALTER TABLE u ADD COLUMN w float8 DEFAULT slow_random()');
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
is($node->safe_psql('postgres', 'SELECT count(*) FROM u WHERE w IS NULL'),
	'0', 'every row was filled');

# Without the throttle the worker never yields.
set_setting($node, 'schema_guard.yield_to_load', 'off');
$node->safe_psql('postgres', 'ALTER TABLE u DROP COLUMN w');
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

done_testing();
