# schema_guard runs at most schema_guard.max_workers workers at a time, one
# per database; the jobs of other databases wait their turn, in the order
# they became runnable, and say so in schema_guard.progress.  When the
# server has no background worker slot left, jobs wait too, with a
# warning in the server log, and start once a slot frees up.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SchemaGuardTest qw(new_node stage_paused set_setting wait_for_job_end);

my $node = new_node(
	'max_workers', conf => q{
schema_guard.max_workers = 1
# the launcher looks for work only when told, not every second, so that the
# order in which databases wait is the order in which their jobs were resumed
schema_guard.naptime = 1h
});

my @dbs = ('db1', 'db2', 'db3');
my %oid;
for my $db (@dbs)
{
	$node->safe_psql('postgres', "CREATE DATABASE $db");
	$node->safe_psql(
		$db, q{
		CREATE EXTENSION schema_guard;
		CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 2000) g;
	});
	$oid{$db} = $node->safe_psql($db,
		'SELECT oid FROM pg_database WHERE datname = current_database()');
}

# Stage a job paused in each database; return the job numbers.
sub stage_paused_in_each_db
{
	my ($column) = @_;
	my %job;
	for my $db (@dbs)
	{
		($job{$db}) = stage_paused($node, $db,
			"ALTER TABLE t ADD COLUMN $column uuid DEFAULT gen_random_uuid()");
	}
	return %job;
}

sub job_sql
{
	my ($db, $job, $sql) = @_;
	return $node->safe_psql($db, "$sql WHERE job = $job");
}

# A session in db2 holds the first row of t, so db2's worker keeps
# retrying its first batch until the session ends.
sub hold_db2
{
	my $locker = $node->background_psql('db2');
	$locker->query_safe('BEGIN; SELECT 1 FROM t WHERE id = 1 FOR UPDATE');
	return $locker;
}

# The databases in the order their jobs ran, if they ran one after another
# and all completed.
sub run_order
{
	my ($job) = @_;
	my @spans;
	for my $db (@dbs)
	{
		my ($state, $started, $finished) = split /\|/,
		  $node->safe_psql($db,
			"SELECT state, extract(epoch FROM started_at), extract(epoch FROM finished_at) FROM schema_guard.jobs WHERE job_id = $job->{$db}"
		  );
		return "the job of $db is $state" unless $state eq 'done';
		push @spans, [ $db, $started, $finished ];
	}
	@spans = sort { $a->[1] <=> $b->[1] } @spans;
	for my $i (1 .. $#spans)
	{
		return "$spans[$i][0] overlaps $spans[$i - 1][0]"
		  if $spans[$i][1] < $spans[ $i - 1 ][2];
	}
	return join ' ', map { $_->[0] } @spans;
}

#
# One worker at a time; the others wait, in the order their jobs were
# resumed: db2, then db3, then db1.
#
my %job = stage_paused_in_each_db('u');
my $locker = hold_db2();
$node->safe_psql('db2', "SELECT schema_guard.resume($job{db2})");
ok( $node->poll_query_until(
		'db2', "SELECT waiting = 'lock' FROM schema_guard.progress WHERE job = $job{db2}"),
	'db2\'s worker runs its job, retrying the held row');
$node->safe_psql('db3', "SELECT schema_guard.resume($job{db3})");
$node->safe_psql('db1', "SELECT schema_guard.resume($job{db1})");

is( $node->safe_psql(
		'postgres', q{
	SELECT string_agg(datname, ',') FROM pg_stat_activity
	 WHERE backend_type = 'schema_guard worker'}),
	'db2', 'only db2 has a worker');
is(job_sql('db3', $job{db3}, 'SELECT state, waiting FROM schema_guard.progress'),
	'queued|worker', 'db3\'s job waits for a worker');
is(job_sql('db1', $job{db1}, 'SELECT state, waiting FROM schema_guard.progress'),
	'queued|worker', 'so does db1\'s');

$locker->query_safe('COMMIT');
$locker->quit;
wait_for_job_end($node, $_, $job{$_}) for @dbs;
is(run_order(\%job), 'db2 db3 db1',
	'the jobs ran one at a time, in the order they were resumed');
is($node->safe_psql($_, 'SELECT count(*) FROM t WHERE u IS NULL'),
	'0', "every row of $_ was filled")
  for @dbs;

#
# The same, while the launcher also looks for work every naptime.  Its
# periodic look must not move a database ahead of one whose job became
# runnable earlier.
#
%job = stage_paused_in_each_db('u2');
set_setting($node, 'schema_guard.naptime', '1s');
$locker = hold_db2();
$node->safe_psql('db2', "SELECT schema_guard.resume($job{db2})");
ok( $node->poll_query_until(
		'db2', "SELECT waiting = 'lock' FROM schema_guard.progress WHERE job = $job{db2}"),
	'db2\'s worker runs its job, retrying the held row');
# The launcher looks for work in every database where schema_guard is
# installed once per naptime: let it do so while db2's worker runs, and
# only then resume the other jobs.
usleep(2_500_000);
$node->safe_psql('db3', "SELECT schema_guard.resume($job{db3})");
$node->safe_psql('db1', "SELECT schema_guard.resume($job{db1})");
$locker->query_safe('COMMIT');
$locker->quit;
wait_for_job_end($node, $_, $job{$_}) for @dbs;
is(run_order(\%job), 'db2 db3 db1',
	'the jobs ran one at a time, in the order they were resumed');
$node->safe_psql('postgres',
	"ALTER SYSTEM RESET schema_guard.naptime; SELECT pg_reload_conf()");

#
# No background worker slot left: max_worker_processes leaves room for the
# launcher and one worker, and db2's worker has that one.
#
$node->append_conf(
	'postgresql.conf', q{
max_worker_processes = 2
max_logical_replication_workers = 0
max_parallel_workers = 0
schema_guard.max_workers = 2
});
$node->restart;
%job = stage_paused_in_each_db('u3');
$locker = hold_db2();
$node->safe_psql('db2', "SELECT schema_guard.resume($job{db2})");
ok( $node->poll_query_until(
		'db2', "SELECT waiting = 'lock' FROM schema_guard.progress WHERE job = $job{db2}"),
	'db2\'s worker takes the last slot');
my $offset = -s $node->logfile;
$node->safe_psql('db3', "SELECT schema_guard.resume($job{db3})");
ok( $node->wait_for_log(
		qr/WARNING:  schema_guard could not start a worker for database $oid{db3}\n.*DETAIL:  All background worker slots are in use\.\n.*HINT:  Raise max_worker_processes; the jobs wait and start later\./,
		$offset),
	'the launcher warns that it cannot start a worker for db3');
is(job_sql('db3', $job{db3}, 'SELECT state, waiting FROM schema_guard.progress'),
	'queued|worker', 'db3\'s job waits for a worker');
$locker->query_safe('COMMIT');
$locker->quit;
wait_for_job_end($node, 'db2', $job{db2});
wait_for_job_end($node, 'db3', $job{db3});
is(job_sql('db3', $job{db3}, 'SELECT state FROM schema_guard.progress'),
	'done', 'db3\'s job ran once db2\'s worker freed the slot');
is($node->safe_psql('db3', 'SELECT count(*) FROM t WHERE u3 IS NULL'),
	'0', 'every row of db3 was filled');
my $warnings = () =
  slurp_file($node->logfile, $offset) =~ /could not start a worker/g;
note "the launcher warned $warnings times";

$node->stop;
done_testing();
