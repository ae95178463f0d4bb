# Out of resources: when every background worker slot is taken, a job
# waits (the launcher logs once that it could not start a worker, and keeps
# trying) and starts as soon as a slot frees.  When a statement of a batch
# fails, the job fails with the error, keeps what earlier batches did, and
# schema_guard.retry() carries on from where it stopped.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused poll_job_state poll_worker_waits);

my $node = new_node(
	'resources', conf => q{
# room for the schema_guard launcher and one more background worker only:
# no logical replication launcher, no parallel workers
max_worker_processes = 2
max_logical_replication_workers = 0
max_parallel_workers = 0
schema_guard.batch_min_blocks = 8
schema_guard.batch_max_blocks = 8
# the worker waits for the row lock below instead of timing out
schema_guard.lock_timeout = 3min
});

sub query
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

$node->safe_psql('postgres', 'CREATE DATABASE other');
foreach my $db ('postgres', 'other')
{
	query(
		$db, q{
		CREATE EXTENSION schema_guard;
		CREATE TABLE t (id int PRIMARY KEY, v text);
		INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
	});
}

#
# 1. Every worker slot is taken.
#
# The job of database "other" takes the only free slot, and keeps it while
# its worker waits for a row that a session holds locked.
my ($job_other) = stage_paused($node, 'other',
	'ALTER TABLE t ADD COLUMN c float8 DEFAULT random()');
my $locker = $node->background_psql('other');
$locker->query_safe('BEGIN; SELECT 1 FROM t WHERE id = 10000 FOR UPDATE');
query('other', "SELECT schema_guard.resume($job_other)");
ok(poll_worker_waits($node, 'other'),
	'the worker of database "other" holds the last slot, waiting for a row lock');

# A job in database "postgres" now finds no slot for its worker.
my $log_offset = -s $node->logfile;
my $dboid = query('postgres',
	"SELECT oid FROM pg_database WHERE datname = 'postgres'");
query('postgres', 'ALTER TABLE t ADD COLUMN c float8 DEFAULT random()');
my $job = query('postgres', 'SELECT job_id FROM schema_guard.jobs');
my $warning =
  qr/WARNING:  schema_guard could not start a worker for database $dboid\n.*DETAIL:  All background worker slots are in use\.\n.*HINT:  Raise max_worker_processes; the jobs wait and start later\./;
ok($node->wait_for_log($warning, $log_offset),
	'the launcher logs that it could not start a worker, and why');

# It keeps trying, and the job waits meanwhile.
is( query(
		'postgres', qq{
	SELECT state, phase, waiting, started_at IS NULL, blocks_done
	  FROM schema_guard.progress WHERE job = $job}),
	'queued|backfill|worker|t|0',
	'the job waits for a worker, untouched');
is( query(
		'postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'schema_guard worker' AND datname = 'postgres'}),
	'0', 'no worker runs in database "postgres"');
is(query('postgres', 'SELECT count(c) FROM t'),
	'0', 'no row of its table is filled');

# The row lock goes, the other job finishes, its worker exits and frees the
# slot: the waiting job starts and finishes.
$locker->query_safe('COMMIT');
$locker->quit;
ok(poll_job_state($node, 'other', $job_other, 'done'),
	'the job of database "other" finishes');
ok(poll_job_state($node, 'postgres', $job, 'done'),
	'the waiting job starts once the slot is free, and finishes');
my @warnings =
  (slurp_file($node->logfile, $log_offset) =~
	  /schema_guard could not start a worker for database $dboid\n/g);
is(scalar(@warnings), 1,
	'the launcher said so once for the whole shortage, not at every attempt');
foreach my $db ('postgres', 'other')
{
	is(query($db, 'SELECT count(*), count(c) FROM t'),
		'20000|20000', "every row of the table in database \"$db\" is filled");
}

#
# 2. A statement of a batch fails: here the fill function raises once it
#    has filled 10000 rows, until a switch is flipped.  Database "other"
#    has no job meanwhile, so nothing waits there for a worker slot.
#
my $other_oid = query('postgres',
	"SELECT oid FROM pg_database WHERE datname = 'other'");
$log_offset = -s $node->logfile;
query(
	'postgres', q{
	CREATE TABLE e (id int PRIMARY KEY, v text);
	INSERT INTO e SELECT g, 'row ' || g FROM generate_series(1, 20000) g;
	CREATE TABLE original_blocks AS
	SELECT id, (ctid::text::point)[0] AS blk FROM e;
	CREATE TABLE switch (broken boolean);
	INSERT INTO switch VALUES (true);
	CREATE SEQUENCE calls;
	CREATE FUNCTION fill() RETURNS text VOLATILE LANGUAGE plpgsql AS $$
	BEGIN
	  IF (SELECT broken FROM switch) THEN
	    IF nextval('calls') > 10000 THEN
	      RAISE EXCEPTION 'out of fill values';
	    END IF;
	    RETURN 'before';
	  END IF;
	  RETURN 'after';
	END $$;
});
query('postgres', 'ALTER TABLE e ADD COLUMN f text DEFAULT fill()');
my $job_e = query('postgres',
	"SELECT job_id FROM schema_guard.jobs WHERE relid = 'e'::regclass");
ok(poll_job_state($node, 'postgres', $job_e, 'failed'), 'the job fails');
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "CALL schema_guard.wait($job_e)");
like(
	$stderr,
	qr/ERROR:  schema_guard job $job_e failed: out of fill values/,
	'waiting for it reports the error');
my ($failed_cursor, $blocks_total) = split /\|/, query(
	'postgres', qq{
	SELECT l.next_block, j.blocks_total
	  FROM schema_guard.jobs j JOIN schema_guard.job_leaves l USING (job_id)
	 WHERE job_id = $job_e});
cmp_ok($failed_cursor, '>', 0, "the job got part of the way ($failed_cursor blocks)");
cmp_ok($failed_cursor, '<', $blocks_total, "but not to the end ($blocks_total)");
is( query(
		'postgres', qq{
	SELECT phase, last_error,
	       error_detail ~ 'While filling the row at ctid \\(\\d+,\\d+\\) of table public\\.e'
	  FROM schema_guard.jobs WHERE job_id = $job_e}),
	'backfill|out of fill values|t',
	'the job keeps the error and the row it was filling');

# What the committed batches filled stays, and nothing beyond the cursor.
my $rows_sql = qq{
	SELECT count(*) FILTER (WHERE f = 'before' AND o.blk < $failed_cursor),
	       count(*) FILTER (WHERE f IS NULL AND o.blk >= $failed_cursor),
	       count(*)
	  FROM e JOIN original_blocks o USING (id)};
my ($before_rows) = split /\|/, query('postgres', $rows_sql);
is(query('postgres', $rows_sql),
	"$before_rows|" . (20000 - $before_rows) . "|20000",
	'the rows below the cursor are filled, the others are not');

# Fix the cause, retry: the job continues at the cursor.
query(
	'postgres', qq{
	UPDATE switch SET broken = false;
	SELECT schema_guard.retry($job_e);
});
ok(poll_job_state($node, 'postgres', $job_e, 'done'),
	'after retry the job finishes');
is( query(
		'postgres', q{
	SELECT count(*) FILTER (WHERE f = 'before'), count(*) FILTER (WHERE f = 'after'),
	       count(*) FILTER (WHERE f IS NULL)
	  FROM e}),
	"$before_rows|" . (20000 - $before_rows) . "|0",
	'the rows filled before the failure were not filled again, the rest were');
is( query(
		'postgres', qq{
	SELECT blocks_done = blocks_total FROM schema_guard.jobs WHERE job_id = $job_e}),
	't', 'every block was counted once');

# While the worker of database "postgres" held the free slot, the launcher
# had no job to start in database "other": it must not have claimed that
# one was waiting there.
ok( !$node->log_contains(
		qr/schema_guard could not start a worker for database $other_oid\n/,
		$log_offset),
	'no warning about a worker for a database where no job waits');

$node->stop;
done_testing();
