# An ALTER staged in a transaction that is prepared for two-phase commit:
# until COMMIT PREPARED nobody, the worker included, can see the job; after
# it the job runs to the end, although the commit happens in a session
# that never ran the ALTER (the launcher finds the job on its own, within
# its naptime).  After ROLLBACK PREPARED nothing is left.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node helper_constraints_sql);

my $node = new_node(
	'prepared', conf => q{
max_prepared_transactions = 10
schema_guard.batch_max_blocks = 8
});

# Every job here is small and the launcher looks every second: a short
# timeout is generous, and a job that never starts fails in seconds.
$PostgreSQL::Test::Utils::timeout_default = 15;

sub query
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

# Everything the staged ALTER of column c leaves on a table, as one line.
sub staged_objects
{
	my ($db, $table) = @_;
	return query(
		$db, qq{
	SELECT (SELECT count(*) FROM pg_attribute
	         WHERE attrelid = '$table'::regclass AND attname = 'c'),
	       (SELECT count(*) FROM pg_trigger
	         WHERE tgrelid = '$table'::regclass AND NOT tgisinternal),
	       (} . helper_constraints_sql("'$table'::regclass") . qq{),
	       (SELECT count(*) FROM pg_class
	         WHERE relkind = 'S' AND relname LIKE '${table}_c%'),
	       (SELECT count(*) FROM schema_guard.jobs
	         WHERE relid = '$table'::regclass)});
}

sub setup_tables
{
	my ($db, @tables) = @_;
	query($db, 'CREATE EXTENSION schema_guard');
	foreach my $t (@tables)
	{
		query(
			$db, qq{
			CREATE TABLE $t (id int PRIMARY KEY, v text);
			INSERT INTO $t SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
		});
	}
}

sub check_filled
{
	my ($db, $table, $what) = @_;
	is( query(
			$db, qq{
		SELECT count(*), count(c), count(DISTINCT c),
		       (SELECT attnotnull FROM pg_attribute
		         WHERE attrelid = '$table'::regclass AND attname = 'c')
		  FROM $table}),
		'20000|20000|20000|t',
		"$what: every row of $table has its own value, and c is NOT NULL");
	is( query(
			$db, qq{
		SELECT (SELECT count(*) FROM pg_trigger
		         WHERE tgrelid = '$table'::regclass AND NOT tgisinternal),
		       (} . helper_constraints_sql("'$table'::regclass") . q{)}),
		'0|0', "$what: no helper trigger or check is left on $table");
}

#
# COMMIT PREPARED, while another job comes and goes in the same database.
#
setup_tables('postgres', 't_commit', 't_rollback', 't_other');

query(
	'postgres', q{
	BEGIN;
	ALTER TABLE t_commit ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
	PREPARE TRANSACTION 'add_c';
});
is(staged_objects('postgres', 't_commit'),
	'0|0|0|0|0', 'while prepared, nothing of the ALTER is visible');
is( query(
		'postgres', q{
	SELECT bool_or(l.mode = 'AccessExclusiveLock')
	  FROM pg_prepared_xacts p
	  JOIN pg_locks x ON x.locktype = 'transactionid' AND x.transactionid = p.transaction
	  JOIN pg_locks l ON l.virtualtransaction = x.virtualtransaction
	 WHERE p.gid = 'add_c' AND l.relation = 't_commit'::regclass}),
	't',
	'the prepared transaction holds the lock of the ALTER');

# Another job in the same database runs meanwhile: the worker looks for
# work, finds this job only, and never even waits for t_commit.
query('postgres',
	'ALTER TABLE t_other ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()');
ok( $node->poll_query_until(
		'postgres', q{
	SELECT state = 'done' FROM schema_guard.jobs
	 WHERE relid = 't_other'::regclass}),
	'a job committed meanwhile runs to the end');
check_filled('postgres', 't_other', 'the other job');
is( query(
		'postgres', q{
	SELECT count(*) FROM pg_locks
	 WHERE relation = 't_commit'::regclass AND NOT granted}),
	'0', 'nobody waited for the prepared table');
is(query('postgres', 'SELECT count(*) FROM schema_guard.jobs'),
	'1', 'the worker saw only the committed job');

# Nothing tells the launcher about this commit: it finds the job when it
# next looks (every second here).
query('postgres', "COMMIT PREPARED 'add_c'");
ok( $node->poll_query_until(
		'postgres', q{
	SELECT state = 'done' FROM schema_guard.jobs
	 WHERE relid = 't_commit'::regclass}),
	'after COMMIT PREPARED the job runs to the end');
check_filled('postgres', 't_commit', 'COMMIT PREPARED');

#
# ROLLBACK PREPARED: no job, no column, nothing left behind.
#
my $jobs_before = query('postgres',
	'SELECT (SELECT count(*) FROM schema_guard.jobs), (SELECT count(*) FROM schema_guard.job_events)');
query(
	'postgres', q{
	BEGIN;
	ALTER TABLE t_rollback ADD COLUMN c bigserial;
	PREPARE TRANSACTION 'add_c_rollback';
	ROLLBACK PREPARED 'add_c_rollback';
});
is(staged_objects('postgres', 't_rollback'),
	'0|0|0|0|0', 'after ROLLBACK PREPARED: no column, trigger, check, sequence or job');
is( query('postgres',
		'SELECT (SELECT count(*) FROM schema_guard.jobs), (SELECT count(*) FROM schema_guard.job_events)'),
	$jobs_before, 'no job and no job event was added');
is( query(
		'postgres', q{
	SELECT count(*) FROM pg_attribute
	 WHERE attrelid = 't_rollback'::regclass AND attnum > 0 AND NOT attisdropped}),
	'2', 't_rollback has its two columns');

#
# COMMIT PREPARED of the first job of a database created after the server
# started: no worker has ever run there, and no commit callback tells the
# launcher, which must still find the job.
#
query('postgres', 'CREATE DATABASE fresh');
setup_tables('fresh', 't_fresh');
query(
	'fresh', q{
	BEGIN;
	ALTER TABLE t_fresh ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid();
	PREPARE TRANSACTION 'add_c_fresh';
});
is(staged_objects('fresh', 't_fresh'),
	'0|0|0|0|0', 'while prepared, nothing of the ALTER is visible');
query('fresh', "COMMIT PREPARED 'add_c_fresh'");
ok( $node->poll_query_until(
		'fresh', q{
	SELECT state = 'done' FROM schema_guard.jobs
	 WHERE relid = 't_fresh'::regclass}),
	'the first job of a new database, committed by COMMIT PREPARED, runs to the end'
);
check_filled('fresh', 't_fresh', 'COMMIT PREPARED in a new database');

$node->stop;
done_testing();
