# While a job runs, schema_guard.progress shows the batch size the worker
# uses as it adapts to the job's target batch time, and why the job is not
# filling rows at the moment: the delay between batches, a pause, or
# another job of the database ahead in the queue.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused poll_job_state);

my $node = new_node('batch_progress');

$node->safe_psql(
	'postgres', q{
	CREATE EXTENSION schema_guard;
	-- 3000 rows in 89 blocks
	CREATE TABLE slow (id int, pad text);
	INSERT INTO slow SELECT g, repeat('p', 200) FROM generate_series(1, 3000) g;
	CREATE TABLE fast (id int, pad text);
	INSERT INTO fast SELECT g, repeat('p', 200) FROM generate_series(1, 1000) g;
	-- each row takes about a millisecond to fill: some 30 ms a block
	CREATE FUNCTION slow_value() RETURNS int VOLATILE LANGUAGE plpgsql
	  AS $$ BEGIN PERFORM pg_sleep(0.001); RETURN 1; END $$;
});

# Two jobs, staged paused.
my ($job, $job2) = stage_paused(
	$node, 'postgres',
	'ALTER TABLE slow ADD COLUMN s int DEFAULT slow_value()',
	'ALTER TABLE fast ADD COLUMN f float8 DEFAULT random()');

sub progress
{
	my ($job, $columns) = @_;
	return $node->safe_psql('postgres',
		"SELECT $columns FROM schema_guard.progress WHERE job = $job");
}

is(progress($job, 'batch_blocks'), '16', 'a job starts with batches of 16 blocks');
is(progress($job, 'waiting'), 'paused', 'a paused job says so');

# A 50 ms target, with some 30 ms of work a block: down to one block.
$node->safe_psql('postgres',
	"SELECT schema_guard.set_batch($job, '50 ms', '0'), schema_guard.resume($job), schema_guard.resume($job2)");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT batch_blocks = 1 AND phase = 'backfill' AND blocks_done < blocks_total
	  FROM schema_guard.progress WHERE job = $job}),
	'the batches shrink to one block while the first pass runs');
is(progress($job2, 'state, waiting'), 'queued|queue',
	'the second job waits for the database\'s worker, busy with the first');

# A 10 s target: the batches grow again, by half at most each time.
$node->safe_psql('postgres', "SELECT schema_guard.set_batch($job, '10 s', '0')");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT batch_blocks >= 3 AND phase = 'backfill' AND blocks_done < blocks_total
	  FROM schema_guard.progress WHERE job = $job}),
	'a longer target time makes the batches grow while the first pass runs');

# A delay between batches.
$node->safe_psql('postgres', "SELECT schema_guard.set_batch($job, NULL, '300 ms')");
ok( $node->poll_query_until(
		'postgres', qq{
	SELECT waiting = 'delay' AND batch_delay_ms = 300
	  FROM schema_guard.progress WHERE job = $job}),
	'the job shows its delay between batches');

# Paused, it lets the next job of the database run.
$node->safe_psql('postgres', "SELECT schema_guard.pause($job)");
is(progress($job, 'state, waiting'), 'paused|paused', 'a paused job says so');
ok(poll_job_state($node, 'postgres', $job2, 'done'),
	'the second job runs meanwhile, and completes');
$node->safe_psql('postgres', "SELECT schema_guard.set_batch($job, NULL, '0'), schema_guard.resume($job)");
ok(poll_job_state($node, 'postgres', $job, 'done'),
	'resumed, the first job completes');
is($node->safe_psql('postgres', 'SELECT count(*) FROM slow WHERE s IS NULL'),
	'0', 'every row of slow was filled');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fast WHERE f IS NULL'),
	'0', 'every row of fast was filled');

$node->stop;
done_testing();
