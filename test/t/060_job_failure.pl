# A staged statement that the plain statement would have failed on the
# data (a duplicate for a UNIQUE index, a default that fails for some row)
# makes its job fail loudly: a WARNING with the SQLSTATE in the server log,
# a NOTIFY on channel "schema_guard" for every change of the job's state
# (JSON: job, table, state, phase, sqlstate; its creation is told by the
# worker's "running"), the SQLSTATE in the job row
# and in progress.  schema_guard.on_failure chooses what the failed job
# does: keep its helpers for retry() (the default), or revert the statement
# so that the table is as it was before.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use SchemaGuardTest qw(new_node set_setting poll_job_state);

my $node = new_node('job_failure');
$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v int);
	INSERT INTO t SELECT g, g FROM generate_series(1, 1000) g;
	INSERT INTO t VALUES (1001, 500);
	-- a default that fails on its 700th value, as the plain ALTER would
	CREATE SEQUENCE picks;
	CREATE FUNCTION picky() RETURNS int LANGUAGE plpgsql VOLATILE AS $$
	DECLARE n int := nextval('picks');
	BEGIN
		IF n = 700 THEN RAISE EXCEPTION 'no value %', n USING ERRCODE = '22023'; END IF;
		RETURN n;
	END $$;
});

# A session that listens, as a deployment tool would.
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN schema_guard');

# Every notification the listener has received so far, as payloads.
my @heard;
sub notifications
{
	my $out = $listener->query_safe('SELECT 1');
	push @heard, $out =~ /Asynchronous notification "schema_guard" with payload "(.*?)" received/g;
	return @heard;
}

# The states the listener heard for a job, once it heard the last one.
sub states_heard
{
	my ($job, $last) = @_;
	my @states;
	foreach my $try (1 .. 600)
	{
		@states = map { /"state" : "(\w+)"/ ? $1 : '?' }
		  grep { /"job" : $job\b/ } notifications();
		last if @states && $states[-1] eq $last;
		usleep(100_000);
	}
	return @states;
}

my $log_offset = -s $node->logfile;

# keep (the default): a duplicate fails the job, the index stays invalid
my $stderr;
$node->psql('postgres', 'BEGIN; CREATE UNIQUE INDEX t_v ON t (v); COMMIT;',
	stderr => \$stderr, on_error_die => 1);
my ($job) = $stderr =~ /as job (\d+)/;
ok($job, 'CREATE UNIQUE INDEX in a transaction block is staged');
ok(poll_job_state($node, 'postgres', $job, 'failed'), 'its job fails');
is( $node->safe_psql('postgres',
		"SELECT last_error || ' ' || error_sqlstate FROM schema_guard.jobs WHERE job_id = $job"),
	'could not create unique index "t_v" 23505',
	'the job row has PostgreSQL\'s error and its SQLSTATE');
is( $node->safe_psql('postgres',
		"SELECT error_sqlstate FROM schema_guard.progress WHERE job = $job"),
	'23505', 'progress shows the SQLSTATE');
is( $node->safe_psql('postgres',
		"SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass"),
	'f', 'the index stays, invalid, for retry()');
ok( $node->wait_for_log(
		qr/WARNING:  schema_guard job $job failed: could not create unique index "t_v"\n[^\n]*DETAIL:  SQLSTATE 23505\. Key \(v\)=\(500\) is duplicated\./,
		$log_offset),
	'the server log has a WARNING with the SQLSTATE');

is_deeply([ states_heard($job, 'failed') ], [ 'running', 'failed' ],
	'the listener heard every state change of the job, in order');
my @payloads = grep { /"job" : $job\b/ } @heard;
like($payloads[-1], qr/"table" : "public.t"/, 'the payload names the table');
like($payloads[-1], qr/"sqlstate" : "23505"/, 'and the SQLSTATE of the failure');
like($payloads[0], qr/"sqlstate" : null/, 'no SQLSTATE before');

# retry() after the cause is fixed: the job is queued again, its SQLSTATE gone
$node->safe_psql('postgres', "DELETE FROM t WHERE id = 1001; SELECT schema_guard.retry($job)");
ok(poll_job_state($node, 'postgres', $job, 'done'), 'retried once fixed, the job completes');
is( $node->safe_psql('postgres',
		"SELECT coalesce(error_sqlstate, 'none') FROM schema_guard.jobs WHERE job_id = $job"),
	'none', 'the SQLSTATE is cleared');
is($node->safe_psql('postgres', "SELECT indisvalid FROM pg_index WHERE indexrelid = 't_v'::regclass"),
	't', 'the index is valid');

# revert: the failed job undoes its statement
set_setting($node, 'schema_guard.on_failure', 'revert');
$node->safe_psql('postgres', 'DROP INDEX t_v');
$node->safe_psql('postgres', 'INSERT INTO t VALUES (1001, 500)');
$node->psql('postgres', 'BEGIN; CREATE UNIQUE INDEX t_v2 ON t (v); COMMIT;',
	stderr => \$stderr, on_error_die => 1);
($job) = $stderr =~ /as job (\d+)/;
ok(poll_job_state($node, 'postgres', $job, 'reverted'), 'with on_failure = revert, the job is reverted');
is( $node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 't_v2'"),
	'0', 'its index is gone, as after the plain statement');
is( $node->safe_psql('postgres',
		"SELECT last_error || ' ' || error_sqlstate FROM schema_guard.jobs WHERE job_id = $job"),
	'could not create unique index "t_v2" 23505', 'the job still tells why');

# an ADD CONSTRAINT UNIQUE: its index is dropped, and there is no constraint
$node->psql('postgres', 'ALTER TABLE t ADD CONSTRAINT t_v_u UNIQUE (v)',
	stderr => \$stderr, on_error_die => 1);
($job) = $stderr =~ /as job (\d+)/;
ok($job, 'the ADD CONSTRAINT UNIQUE is staged');
ok(poll_job_state($node, 'postgres', $job, 'reverted'), 'its failed job is reverted');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_class WHERE relname = 't_v_u'")
	  . $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_constraint WHERE conname = 't_v_u'"),
	'00', 'neither its index nor the constraint is left, as after the plain statement');
is( $node->safe_psql('postgres',
		"SELECT last_error || ' ' || error_sqlstate FROM schema_guard.jobs WHERE job_id = $job"),
	'could not create unique index "t_v_u" 23505', 'the job tells why');

# an ADD COLUMN whose default fails for a row: the column is dropped again
$node->psql('postgres', 'ALTER TABLE t ADD COLUMN p int DEFAULT picky()',
	stderr => \$stderr, on_error_die => 1);
($job) = $stderr =~ /as job (\d+)/;
ok($job, 'the ADD COLUMN is staged');
ok(poll_job_state($node, 'postgres', $job, 'reverted'), 'its failed job is reverted');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'p' AND NOT attisdropped"),
	'0', 'the column is gone, as after the plain ALTER');
is( $node->safe_psql('postgres',
		"SELECT error_sqlstate FROM schema_guard.jobs WHERE job_id = $job"),
	'22023', 'the job row has the SQLSTATE of the default\'s error');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_trigger WHERE tgrelid = 't'::regclass AND NOT tgisinternal"),
	'0', 'and no fill trigger is left');
is_deeply([ states_heard($job, 'reverted') ], [ 'running', 'failed', 'reverted' ],
	'the listener heard it fail, then be reverted');

$listener->quit;
$node->stop;
done_testing();
