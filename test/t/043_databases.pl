# The launcher keeps a small table of the databases it starts workers for.
#
# - A worker that ends with its job unfinished (here: terminated) is started
#   again by the launcher's next look, and the job carries on.
# - A dropped database is forgotten: no worker is started for it again and
#   again, only to fail to connect.
# - With more databases than the table holds, a job that was running when
#   the server restarted still finishes: the launcher then looks at every
#   database, not only those it could note.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused set_setting poll_job_state poll_worker_waits);

# More databases than the launcher's table (128 entries) holds.
my $many = 130;

my $node = new_node(
	'databases', conf => q{
max_prepared_transactions = 2
# the worker waits for the row locks below instead of timing out
schema_guard.lock_timeout = 3min
});

sub query
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

sub make_table
{
	my ($db) = @_;
	query(
		$db, q{
		CREATE EXTENSION schema_guard;
		CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
	});
}

sub worker_pid
{
	my ($db) = @_;
	return query('postgres', qq{
		SELECT pid FROM pg_stat_activity
		 WHERE backend_type = 'schema_guard worker' AND datname = '$db'});
}

#
# 1. A worker terminated in the middle of its job is started again.
#
query('postgres', 'CREATE DATABASE gone');
make_table('gone');
my $gone_oid = query('postgres', "SELECT oid FROM pg_database WHERE datname = 'gone'");
my ($job_gone) =
  stage_paused($node, 'gone', 'ALTER TABLE t ADD COLUMN c float8 DEFAULT random()');
my $locker = $node->background_psql('gone');
$locker->query_safe('BEGIN; SELECT 1 FROM t WHERE id = 10000 FOR UPDATE');
query('gone', "SELECT schema_guard.resume($job_gone)");
ok(poll_worker_waits($node, 'gone'), 'the worker waits for a row lock');
my $first_pid = worker_pid('gone');
query('postgres', "SELECT pg_terminate_backend($first_pid)");
ok( $node->poll_query_until(
		'postgres', qq{
		SELECT count(*) = 1 AND min(pid) <> $first_pid FROM pg_stat_activity
		 WHERE backend_type = 'schema_guard worker' AND datname = 'gone'}),
	'the launcher starts a worker again for the unfinished job');
ok(poll_worker_waits($node, 'gone'), 'and it goes back to the job');
is(query('gone', "SELECT state FROM schema_guard.jobs WHERE job_id = $job_gone"),
	'running', 'the job is still running');

#
# 2. The database is dropped while its job is unfinished: the launcher
#    forgets it.
#
set_setting($node, 'log_min_messages', 'debug1');
my $log_offset = -s $node->logfile;
query('postgres', 'DROP DATABASE gone WITH (FORCE)');
eval { $locker->quit };
ok( $node->wait_for_log(
		qr/schema_guard forgets dropped database $gone_oid\b/, $log_offset),
	'the launcher forgets the dropped database');
set_setting($node, 'log_min_messages', 'warning');

#
# 3. More databases than the launcher's table holds, and a job whose worker
#    waits for a row lock that a prepared transaction holds across a
#    restart.  At server start every database is looked at; the one with
#    the job comes last and finds no entry.  The row lock then goes without
#    anything waking the launcher for that database.
#
query('postgres', join('', map { "CREATE DATABASE many_$_;\n" } 1 .. $many));
query('postgres', 'CREATE DATABASE last');
make_table('last');
my ($job_last) =
  stage_paused($node, 'last', 'ALTER TABLE t ADD COLUMN c float8 DEFAULT random()');
query(
	'last', qq{
	BEGIN;
	SELECT 1 FROM t WHERE id = 10000 FOR UPDATE;
	PREPARE TRANSACTION 'row_lock';
	SELECT schema_guard.resume($job_last);
});
ok(poll_worker_waits($node, 'last'), 'the job in the last database waits for the row lock');
is( query('postgres', q{SELECT count(*) FROM pg_database WHERE datallowconn}),
	$many + 3, 'more databases than the launcher keeps track of');

$node->restart;
query('last', "ROLLBACK PREPARED 'row_lock'");
ok(poll_job_state($node, 'last', $job_last, 'done'),
	'the job that was running at restart finishes');
is(query('last', 'SELECT count(*), count(c) FROM t'),
	'20000|20000', 'every row is filled');

# No worker was started for the dropped database after it was forgotten
# (at most once before: the restart in part 3 came after several looks).
my $fatal = () = slurp_file($node->logfile, $log_offset) =~
  /FATAL:  database $gone_oid does not exist/g;
cmp_ok($fatal, '<=', 1, 'no worker is started again and again for the dropped database');

$node->stop;
done_testing();
