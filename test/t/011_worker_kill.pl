# A backfill worker killed with SIGKILL in the middle of a batch: the
# postmaster treats it as a crash, terminates every process and runs crash
# recovery; the launcher comes back, starts a worker again, and the job
# finishes from its cursor.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused poll_job_state
  poll_launcher_running worker_count poll_worker_waits held_by_backend
  helper_constraints_sql);

my $node = new_node(
	'worker_kill', conf => q{
# the test framework turns this off; a real server restarts after a crash
restart_after_crash = on
schema_guard.batch_min_blocks = 4
schema_guard.batch_max_blocks = 4
# the worker waits for the row lock below instead of timing out
schema_guard.lock_timeout = 3min
});

sub query { return $node->safe_psql('postgres', $_[0]); }

query(q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100000) g;
});
my ($job) = stage_paused($node, 'postgres',
	'ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()');
my $blocks_total =
  query("SELECT blocks_total FROM schema_guard.jobs WHERE job_id = $job");

# An application row written before the kill keeps its value.
query(q{
	INSERT INTO t (id, v) VALUES (100001, 'new');
	CREATE TABLE app_rows AS SELECT id, c FROM t WHERE id = 100001;
});

# A session holds a row in the middle of the table, so that the worker is
# inside a batch, with rows updated and not committed, when it is killed.
my $lock_block = 4 * int($blocks_total / 8) + 2;
my $locker = $node->background_psql('postgres');
my $locker_pid = $locker->query_safe('SELECT pg_backend_pid()');
$locker->query_safe(
	"BEGIN; SELECT 1 FROM t WHERE ctid = '($lock_block,1)' FOR UPDATE");

query("SELECT schema_guard.resume($job)");
ok(poll_worker_waits($node, 'postgres', held_by_backend($locker_pid)),
	'the worker waits inside a batch in the middle of the table');
is(worker_count($node), '1', 'one worker runs the job');
my ($done_before, $cursor_before) = split /\|/, query(qq{
	SELECT blocks_done, next_block
	  FROM schema_guard.jobs JOIN schema_guard.job_leaves USING (job_id)
	 WHERE job_id = $job});
cmp_ok($done_before, '>', 0, "part of the blocks are done ($done_before)");
cmp_ok($done_before, '<', $blocks_total, "but not all ($blocks_total)");

my $pid = query(
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'schema_guard worker'");
my $log_offset = -s $node->logfile;
ok(kill('KILL', $pid), "SIGKILL to the worker (pid $pid)");

# The postmaster restarts everything: the locker's session is gone too.
ok( $node->wait_for_log(
		qr/background worker "schema_guard worker" \(PID $pid\) was terminated by signal 9/,
		$log_offset),
	'the postmaster saw the worker die');
ok( $node->wait_for_log(
		qr/all server processes terminated; reinitializing/, $log_offset),
	'and reinitialized');
ok(poll_launcher_running($node),
	'the launcher runs again after crash recovery');
$locker->quit;

# The job resumes at its cursor and finishes.
ok(poll_job_state($node, 'postgres', $job, 'done'), 'the job finishes');

is( query('SELECT count(*), count(c), count(DISTINCT c) FROM t'),
	'100001|100001|100001', 'every row has a value, all distinct');
is( query(q{
	SELECT attnotnull FROM pg_attribute
	 WHERE attrelid = 't'::regclass AND attname = 'c'}),
	't', 'the column is NOT NULL');
is( query(q{
	SELECT (SELECT count(*) FROM pg_trigger
	         WHERE tgrelid = 't'::regclass AND NOT tgisinternal),
	       (} . helper_constraints_sql(q{'t'::regclass}) . q{)}),
	'0|0', 'no helper trigger or check is left');
is( query('SELECT count(*) FROM app_rows JOIN t USING (id, c)'),
	'1', 'the row written before the kill kept its value');
is( query("SELECT blocks_done FROM schema_guard.jobs WHERE job_id = $job"),
	$blocks_total,
	'every block was counted once: the job resumed, it did not start over');
ok( $node->log_contains(
		qr/database system was not properly shut down; automatic recovery in progress/,
		$log_offset),
	'the log shows crash recovery');

$node->stop;
done_testing();
