# Jobs on a streaming replica: the job catalog replicates like any table,
# no schema_guard process runs while the server is a standby, and after a
# failover the promoted standby finishes the jobs: one that was in the
# middle of its backfill continues from the replicated cursor, one that
# was paused is resumed on the new primary.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused poll_job_state
  poll_launcher_running worker_count poll_worker_waits held_by_backend
  helper_constraints_sql);

my $primary = new_node(
	'primary',
	allows_streaming => 1,
	conf => q{
schema_guard.batch_min_blocks = 4
schema_guard.batch_max_blocks = 4
# the worker waits for the row lock below instead of timing out
schema_guard.lock_timeout = 3min
});

# Two tables, each with a job staged paused.
$primary->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100000) g;
	CREATE TABLE t2 (id int PRIMARY KEY, v text);
	INSERT INTO t2 SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
});
my ($job_t, $job_t2) = stage_paused(
	$primary, 'postgres',
	'ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()',
	'ALTER TABLE t2 ADD COLUMN s bigserial');
my $blocks_total = $primary->safe_psql('postgres',
	"SELECT blocks_total FROM schema_guard.jobs WHERE job_id = $job_t");

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);

is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	't', 'the standby is in recovery');
is( $standby->safe_psql(
		'postgres',
		'SELECT string_agg(job_id || state, \',\' ORDER BY job_id) FROM schema_guard.jobs'),
	"${job_t}paused,${job_t2}paused",
	'the job rows replicated to the standby');
is( $standby->safe_psql(
		'postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type IN ('schema_guard launcher', 'schema_guard worker')}),
	'0', 'no schema_guard process runs on the standby');
ok(poll_launcher_running($primary), 'while the primary runs its launcher');

# A session holds a row in the middle of t, so that the backfill is part
# way, with a batch in flight, when the primary fails.
my $lock_block = 4 * int($blocks_total / 8) + 2;
my $locker = $primary->background_psql('postgres');
my $locker_pid = $locker->query_safe('SELECT pg_backend_pid()');
$locker->query_safe(
	"BEGIN; SELECT 1 FROM t WHERE ctid = '($lock_block,1)' FOR UPDATE");
$primary->safe_psql('postgres', "SELECT schema_guard.resume($job_t)");
ok(poll_worker_waits($primary, 'postgres', held_by_backend($locker_pid)),
	'the backfill waits in the middle of the table');
is(worker_count($primary), '1', 'one worker runs the job');
my $progress_query = qq{
	SELECT j.state, j.blocks_done, l.next_block
	  FROM schema_guard.jobs j JOIN schema_guard.job_leaves l USING (job_id)
	 WHERE job_id = $job_t};
my $progress = $primary->safe_psql('postgres', $progress_query);
my (undef, $done_before, $cursor_before) = split /\|/, $progress;
cmp_ok($done_before, '>', 0, "part of the blocks are done ($done_before)");
cmp_ok($done_before, '<', $blocks_total, "but not all ($blocks_total)");
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', $progress_query),
	$progress, 'the standby has the same progress');
is( $standby->safe_psql(
		'postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type IN ('schema_guard launcher', 'schema_guard worker')}),
	'0', 'still no schema_guard process on the standby');

# Failover: the primary dies, the standby is promoted.
$primary->stop('immediate');
$locker->quit;
$standby->promote;
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'),
	'f', 'the standby was promoted');

ok(poll_job_state($standby, 'postgres', $job_t, 'done'),
	'the new primary finishes the job that was part way');
is( $standby->safe_psql(
		'postgres', "SELECT blocks_done FROM schema_guard.jobs WHERE job_id = $job_t"),
	$blocks_total,
	'every block was counted once: it continued from the replicated cursor');
is( $standby->safe_psql(
		'postgres', q{
	SELECT count(*), count(c), count(DISTINCT c),
	       (SELECT attnotnull FROM pg_attribute
	         WHERE attrelid = 't'::regclass AND attname = 'c')
	  FROM t}),
	'100000|100000|100000|t',
	'every row of t has its own value, and c is NOT NULL');

# The job paused at failover stays paused until resumed on the new primary.
is( $standby->safe_psql(
		'postgres', "SELECT state FROM schema_guard.jobs WHERE job_id = $job_t2"),
	'paused', 'the paused job stayed paused');
$standby->safe_psql('postgres', "SELECT schema_guard.resume($job_t2)");
ok(poll_job_state($standby, 'postgres', $job_t2, 'done'),
	'resumed on the new primary, it runs to the end');
is( $standby->safe_psql(
		'postgres', q{
	SELECT count(*), count(s), count(DISTINCT s),
	       (SELECT attnotnull FROM pg_attribute
	         WHERE attrelid = 't2'::regclass AND attname = 's')
	  FROM t2}),
	'20000|20000|20000|t',
	'every row of t2 has its own serial value, and s is NOT NULL');

is( $standby->safe_psql(
		'postgres', q{
	SELECT (SELECT count(*) FROM pg_trigger
	         WHERE tgrelid IN ('t'::regclass, 't2'::regclass) AND NOT tgisinternal),
	       (} . helper_constraints_sql(q{'t'::regclass, 't2'::regclass}) . q{)}),
	'0|0', 'no helper trigger or check is left');

$standby->stop;
done_testing();
