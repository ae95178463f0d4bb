# An ALTER waiting for its table lock must not make the application queue.
#
# In PostgreSQL an ALTER TABLE that waits for ACCESS EXCLUSIVE behind a long
# transaction makes every later query on the table wait behind it, for as
# long as the long transaction lasts.  schema_guard waits for the lock at
# most schema_guard.lock_timeout at a time, gives the request up between
# attempts so the queue drains, and after schema_guard.lock_retries failed
# attempts raises an error that names the processes holding the table.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused poll_job_state);

my $node = new_node('lock_queue');

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v int NOT NULL DEFAULT 0);
	INSERT INTO t (id) SELECT generate_series(1, 1000);

	-- The application: for the given number of seconds, read, update and
	-- insert (or update, the second time) rows of t, each statement in a
	-- transaction of its own.
	-- Reports how many statements ran and the longest any of them took.
	CREATE PROCEDURE app_load(seconds float8,
							  INOUT statements int DEFAULT NULL,
							  INOUT longest_ms float8 DEFAULT NULL)
	LANGUAGE plpgsql AS $$
	DECLARE
		stop timestamptz := clock_timestamp() + seconds * interval '1 s';
		started timestamptz;
		row_id int;
	BEGIN
		statements := 0;
		longest_ms := 0;
		WHILE clock_timestamp() < stop LOOP
			row_id := 1 + statements % 1000;
			FOR step IN 1..3 LOOP
				started := clock_timestamp();
				CASE step
					WHEN 1 THEN PERFORM v FROM t WHERE id = row_id;
					WHEN 2 THEN UPDATE t SET v = v + 1 WHERE id = row_id;
					WHEN 3 THEN INSERT INTO t (id) VALUES (1000 + row_id)
								ON CONFLICT (id) DO UPDATE SET v = t.v + 1;
				END CASE;
				longest_ms := greatest(longest_ms,
					1000 * extract(epoch FROM clock_timestamp() - started));
				statements := statements + 1;
				COMMIT;
			END LOOP;
		END LOOP;
	END $$;
});

# A long transaction that read t: it holds ACCESS SHARE until it ends.
my $holder = $node->background_psql('postgres');
my $holder_pid = $holder->query_safe('SELECT pg_backend_pid()');

# The session that runs the ALTER.  It may fail, so it does not stop there.
my $alter = $node->background_psql('postgres', on_error_stop => 0);
my $alter_pid = $alter->query_safe('SELECT pg_backend_pid()');

# Send a statement to the ALTER session and return without waiting for it.
sub start_alter
{
	my ($sql) = @_;
	$alter->query_until(qr/sending/, "\\echo sending\n$sql;\n");
}

# Wait for the statement sent to the ALTER session to end; return its
# messages.
sub finish_alter
{
	$alter->query("SELECT 'ended'");
	my $messages = $alter->{stderr};
	$alter->{stderr} = '';
	return $messages;
}

# The statement of the ALTER session has been running for three times its
# lock timeout: its first attempt to lock the table has given up.
sub alter_retries
{
	return $node->poll_query_until(
		'postgres', qq{
	SELECT state = 'active' AND clock_timestamp() - query_start > interval '300 ms'
	  FROM pg_stat_activity WHERE pid = $alter_pid});
}

# Hold the lock, start an ALTER that waits for it with schema_guard's
# settings, run the application for 2 seconds meanwhile, then end the long
# transaction.  Returns the application's statement count and longest
# statement, and the ALTER's messages.
sub alter_behind_long_transaction
{
	my ($sql) = @_;

	$holder->query_safe('BEGIN; SELECT count(*) FROM t');
	start_alter($sql);

	ok(alter_retries(), "the ALTER waits for its lock, retrying: $sql");

	my ($statements, $longest_ms) = split /\|/,
	  $node->safe_psql('postgres', 'CALL app_load(2)');

	# The long transaction was still open and the ALTER still waiting
	# during all of that.
	is( $node->safe_psql(
			'postgres', qq{
		SELECT (SELECT state FROM pg_stat_activity WHERE pid = $holder_pid)
			   || ' ' || (SELECT state FROM pg_stat_activity WHERE pid = $alter_pid)
			   || ' ' || (SELECT now() - xact_start >= interval '2 s'
							FROM pg_stat_activity WHERE pid = $holder_pid)}),
		'idle in transaction active true',
		'the long transaction lasted over 2 s, and the ALTER is still waiting');

	$holder->query_safe('COMMIT');
	my $messages = finish_alter();
	return ($statements, $longest_ms, $messages);
}

$alter->query_safe(
	"SET schema_guard.lock_timeout = '100ms'; SET schema_guard.lock_retries = 1000");

# A risky ADD COLUMN, which schema_guard stages.
my ($statements, $longest_ms, $messages) = alter_behind_long_transaction(
	'ALTER TABLE t ADD COLUMN u uuid DEFAULT gen_random_uuid()');
cmp_ok($statements, '>', 100,
	'the application kept running while the staged ALTER waited');
cmp_ok($longest_ms, '<', 1000,
	'no statement of the application waited as long as 1 s');
note "longest application statement: $longest_ms ms of $statements";
like($messages, qr/NOTICE:  schema_guard staged ALTER TABLE "t" as job (\d+)/,
	'once the long transaction ended, the ALTER succeeded');
unlike($messages, qr/ERROR/, 'without an error');
my ($job) = $messages =~ /as job (\d+)/;
ok(poll_job_state($node, 'postgres', $job, 'done'), 'its job completed');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE u IS NULL'),
	'0', 'every row was filled');

# A harmless ADD COLUMN, which PostgreSQL runs as written, waits for its
# lock the same way.
($statements, $longest_ms, $messages) = alter_behind_long_transaction(
	'ALTER TABLE t ADD COLUMN n int DEFAULT 7');
cmp_ok($statements, '>', 100,
	'the application kept running while the harmless ALTER waited');
cmp_ok($longest_ms, '<', 1000,
	'no statement of the application waited as long as 1 s');
note "longest application statement: $longest_ms ms of $statements";
is($messages, '', 'once the long transaction ended, the ALTER succeeded');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE n = 7'),
	$node->safe_psql('postgres', 'SELECT count(*) FROM t'),
	'the column is there, every row reading the default');

# Any other statement that locks the table waits the same way: a RENAME
# COLUMN, which takes ACCESS EXCLUSIVE.
($statements, $longest_ms, $messages) = alter_behind_long_transaction(
	'ALTER TABLE t RENAME COLUMN n TO n2');
cmp_ok($statements, '>', 100,
	'the application kept running while the RENAME waited');
cmp_ok($longest_ms, '<', 1000,
	'no statement of the application waited as long as 1 s');
note "longest application statement: $longest_ms ms of $statements";
is($messages, '', 'once the long transaction ended, the RENAME succeeded');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'n2'"),
	'1', 'the column is renamed');

# The worker's own locks are bounded the same way: a job whose last step
# (SET NOT NULL, dropping its trigger) needs ACCESS EXCLUSIVE gives the
# request up and retries while a long transaction reads the table, and the
# application does not queue behind it.
my ($job2) = stage_paused($node, 'postgres',
	'ALTER TABLE t ADD COLUMN k uuid NOT NULL DEFAULT gen_random_uuid()');
$holder->query_safe('BEGIN; SELECT count(*) FROM t');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job2)");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT phase = 'finalize' AND waiting = 'lock'
	  FROM schema_guard.progress WHERE job = $job2}),
	'the job\'s last step waits for the long transaction, retrying');
($statements, $longest_ms) = split /\|/,
  $node->safe_psql('postgres', 'CALL app_load(2)');
cmp_ok($statements, '>', 100,
	'the application kept running while the job retried');
cmp_ok($longest_ms, '<', 1000,
	'no statement of the application waited as long as 1 s');
note "longest application statement: $longest_ms ms of $statements";
is( $node->safe_psql(
		'postgres', "SELECT state || ' ' || phase FROM schema_guard.jobs WHERE job_id = $job2"),
	'running finalize', 'the job is still waiting for its lock');
$holder->query_safe('COMMIT');
ok(poll_job_state($node, 'postgres', $job2, 'done'),
	'once the long transaction ended, the job completed');
is( $node->safe_psql(
		'postgres', q{
	SELECT attnotnull FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'k'}),
	't', 'the column is NOT NULL');

# Contrast: with schema_guard.mode = off (PostgreSQL's own behaviour) the
# waiting ALTER makes the application queue for as long as the long
# transaction lasts.
$holder->query_safe('BEGIN; SELECT count(*) FROM t');
$alter->query_safe('SET schema_guard.mode = off');
start_alter('ALTER TABLE t ADD COLUMN u2 uuid DEFAULT gen_random_uuid()');
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT pg_blocking_pids($alter_pid) = ARRAY[$holder_pid]}),
	'with mode off the ALTER queues behind the long transaction');
my $app = $node->background_psql('postgres');
my $app_pid = $app->query_safe('SELECT pg_backend_pid()');
$app->query_until(qr/sending/, "\\echo sending\nCALL app_load(1);\n");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT pg_blocking_pids($app_pid) = ARRAY[$alter_pid]}),
	'and the application queues behind the ALTER');
# The long transaction lasts 2 s more; the application waits all along.
$holder->query_safe('SELECT pg_sleep(2); COMMIT');
($statements, $longest_ms) = split /\|/,
  (split /\n/, $app->query_safe("SELECT 'ended'"))[0];
cmp_ok($longest_ms, '>=', 2000,
	'an application statement waited until the long transaction ended');
note "longest application statement: $longest_ms ms of $statements";
is(finish_alter(), '', 'then the ALTER ran');
$app->quit;
$alter->query_safe('RESET schema_guard.mode');

# With few retries the ALTER fails, naming the process that holds the
# table, and changes nothing.
$holder->query_safe('BEGIN; SELECT count(*) FROM t');
my $columns_before = $node->safe_psql('postgres',
	"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0");
my $jobs_before = $node->safe_psql('postgres', 'SELECT count(*) FROM schema_guard.jobs');
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
	SET schema_guard.lock_timeout = '100ms';
	SET schema_guard.lock_retries = 2;
	ALTER TABLE t ADD COLUMN w uuid DEFAULT gen_random_uuid();
});
isnt($ret, 0, 'with 2 retries the ALTER fails');
like($stderr,
	qr/ERROR:  could not lock table "t" for ALTER TABLE\n/,
	'because it could not lock the table');
like($stderr,
	qr/DETAIL:  Each of 3 attempts gave up after waiting 100 ms, so that queries on the table would not queue behind it\. Held by: process $holder_pid \(idle in transaction\)\.\n/,
	'the detail names the process that holds the table');
like($stderr, qr/HINT:  .*schema_guard\.lock_retries/,
	'the hint names the settings');
is( $node->safe_psql('postgres',
		"SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0"),
	$columns_before, 'no column was added');
is($node->safe_psql('postgres', 'SELECT count(*) FROM schema_guard.jobs'),
	$jobs_before, 'no job was created');
$holder->query_safe('COMMIT');

# ALTER TABLE locks the children of an inheritance tree too.  When it is a
# child that a long transaction holds, the error names that process.
$node->safe_psql(
	'postgres', q{
	CREATE TABLE parent (id int);
	CREATE TABLE child () INHERITS (parent);
	INSERT INTO child SELECT generate_series(1, 100);
});
$holder->query_safe('BEGIN; SELECT count(*) FROM child');
($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
	SET schema_guard.lock_timeout = '100ms';
	SET schema_guard.lock_retries = 2;
	ALTER TABLE parent ADD COLUMN w uuid DEFAULT gen_random_uuid();
});
like($stderr,
	qr/ERROR:  could not lock table "parent" for ALTER TABLE\n/,
	'an ALTER of the parent of a held child fails');
like($stderr,
	qr/Held by: process $holder_pid \(idle in transaction\)\.\n/,
	'the detail names the process that holds the child');
$holder->query_safe('COMMIT');

# Once the ALTER has its lock, pg_stat_activity shows the ALTER, as it does
# in PostgreSQL, not the message shown while it backed off.
$holder->query_safe('BEGIN; SELECT count(*) FROM t');
$alter->query_safe('BEGIN');
start_alter('ALTER TABLE t ADD COLUMN m int');
ok(alter_retries(), 'the ALTER waits for its lock, retrying');
$holder->query_safe('COMMIT');
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT state = 'idle in transaction'
	  FROM pg_stat_activity WHERE pid = $alter_pid}),
	'the ALTER ran');
like( $node->safe_psql(
		'postgres', "SELECT query FROM pg_stat_activity WHERE pid = $alter_pid"),
	qr/^ALTER TABLE t ADD COLUMN m int/,
	'pg_stat_activity shows the statement the session ran');
is(finish_alter(), '', 'without a message');
$alter->query_safe('COMMIT');

$holder->quit;
$alter->quit;
$node->stop;
done_testing();
