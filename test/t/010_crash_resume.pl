# A server crash at any point of a job loses at most the step in flight:
# each backfill batch commits its rows together with the job's cursor, so
# after crash recovery the job carries on from the cursor, not from the
# start, and each finalize phase is retried where it stopped.
#
# Prepared transactions hold the locks that stop the worker at chosen
# points (a row lock in the middle of a batch, then the locks the validate
# and finalize steps need): they survive the crash, so the worker stops at
# the same point again after recovery, and the test can compare the job's
# counters before and after.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused worker_count poll_job_blocked
  held_by_prepared crash_and_restart helper_constraints_sql not_null_helper);

my $node = new_node(
	'crash_resume', conf => q{
max_prepared_transactions = 10
schema_guard.batch_min_blocks = 4
schema_guard.batch_max_blocks = 4
# the worker waits for the locks held below instead of timing out
schema_guard.lock_timeout = 3min
});

sub query { return $node->safe_psql('postgres', $_[0]); }

# The job's counters and cursor, as one line.
sub job_state
{
	my ($job) = @_;
	return query(qq{
		SELECT j.state, j.phase, j.blocks_done, j.batches, l.next_block, l.pass
		  FROM schema_guard.jobs j JOIN schema_guard.job_leaves l USING (job_id)
		 WHERE job_id = $job});
}

# The worker waits, while the job is in the given phase, for the lock a
# prepared transaction holds: the locked row (backfill), or the table lock
# VALIDATE CONSTRAINT (validate) or SET NOT NULL (finalize) needs.  Then
# it must be the database's only worker.
my %awaited = (
	backfill => held_by_prepared('row_lock'),
	validate => q{w.relation = 't'::regclass AND w.mode = 'ShareUpdateExclusiveLock'},
	finalize => q{w.relation = 't'::regclass AND w.mode = 'AccessExclusiveLock'});

sub poll_worker_blocked
{
	my ($job, $phase, $what) = @_;
	ok(poll_job_blocked($node, 'postgres', $job, $phase, $awaited{$phase}),
		$what);
	is(worker_count($node), '1', 'one worker runs the jobs');
}

# Rows and cursor agree: every row whose original version lies below the
# cursor is filled, and none above it.  (A filled row's new version may
# lie anywhere, hence the original blocks, recorded before the ALTER.)
# Rows the application wrote are left out: they have their values anyway.
sub rows_against_cursor
{
	my ($cursor) = @_;
	return query(qq{
		SELECT count(*) FILTER (WHERE t.c IS NULL AND o.blk < $cursor),
		       count(*) FILTER (WHERE t.c IS NOT NULL AND o.blk >= $cursor)
		  FROM t JOIN original_blocks o USING (id)
		 WHERE id NOT IN (SELECT id FROM app_rows)});
}

query(q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int PRIMARY KEY, v text);
	INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100000) g;
	CREATE TABLE original_blocks AS
	SELECT id, (ctid::text::point)[0] AS blk FROM t;
});

# Two jobs, staged paused so that the test can set up its locks first.
my ($job_c, $job_s) = stage_paused(
	$node, 'postgres',
	'ALTER TABLE t ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid()',
	'ALTER TABLE t ADD COLUMN s bigserial');
my $blocks_total =
  query("SELECT blocks_total FROM schema_guard.jobs WHERE job_id = $job_c");
cmp_ok($blocks_total, '>=', 400, "the table has several hundred blocks ($blocks_total)");

# The application writes while the jobs are pending: new rows (default and
# explicit values), and updates of old rows near both ends of the table,
# which the fill trigger fills.  Their values must survive everything.
query(q{
	INSERT INTO t (id, v) SELECT g, 'new ' || g FROM generate_series(100001, 100100) g;
	INSERT INTO t (id, v, c) VALUES
		(100101, 'explicit', '00000000-0000-0000-0000-000000000001');
	UPDATE t SET v = v || ' updated' WHERE id IN (2, 3, 99998, 99999);
	CREATE TABLE app_rows AS SELECT id, c, s FROM t
	 WHERE id > 100000 OR id IN (2, 3, 99998, 99999);
});
is(query('SELECT count(*), count(c), count(s) FROM app_rows'),
	'105|105|105',
	'rows written by the application have both values at once');

# Locks held across crashes: a row in the middle of the table (the batch
# that reaches it waits), the lock VALIDATE CONSTRAINT needs, and the lock
# SET NOT NULL needs.  None of them conflicts with the backfill's UPDATEs.
my $lock_block = 4 * int($blocks_total / 8) + 2;
query(qq{
	BEGIN;
	SELECT 1 FROM t WHERE ctid = '($lock_block,1)' FOR UPDATE;
	PREPARE TRANSACTION 'row_lock';
	BEGIN;
	LOCK TABLE t IN SHARE UPDATE EXCLUSIVE MODE;
	PREPARE TRANSACTION 'validate_lock';
	BEGIN;
	LOCK TABLE t IN ACCESS SHARE MODE;
	PREPARE TRANSACTION 'finalize_lock';
});

query("SELECT schema_guard.resume($job_c), schema_guard.resume($job_s)");

#
# Crash 1: in the middle of a backfill batch.
#
poll_worker_blocked($job_c, 'backfill',
	'the backfill reaches the locked row in the middle of the table');
my ($state, $phase, $done_before, $batches_before, $cursor_before, $pass) =
  split /\|/, job_state($job_c);
cmp_ok($done_before, '>', 0, "job $job_c has done part of its blocks ($done_before)");
cmp_ok($done_before, '<', $blocks_total, 'but not all of them');
ok($cursor_before <= $lock_block && $lock_block < $cursor_before + 4,
	"the cursor ($cursor_before) is at the start of the batch in flight");
is(rows_against_cursor($cursor_before),
	'0|0', 'the committed rows are exactly those below the cursor');
is( job_state($job_s), "queued|backfill|0|0|0|1",
	"job $job_s waits for its turn");

crash_and_restart($node);

# The worker resumes at the cursor, runs the same batch again and stops at
# the same row: nothing done before the crash was counted or done twice,
# and the rows of the batch in flight were rolled back.
poll_worker_blocked($job_c, 'backfill',
	'after the crash the backfill stops at the locked row again');
is( job_state($job_c),
	"running|backfill|$done_before|$batches_before|$cursor_before|1",
	'the job resumed from its cursor, with the same counters');
is(rows_against_cursor($cursor_before),
	'0|0', 'and still are: the rows of the batch in flight were rolled back');
is(query("SELECT count(*) FROM schema_guard.job_events WHERE event = 'created'"),
	'2', 'the jobs were not created again');

query("COMMIT PREPARED 'row_lock'");

#
# Crash 2: while VALIDATE CONSTRAINT waits for its lock.
#
poll_worker_blocked($job_c, 'validate',
	'the backfill finishes and VALIDATE waits for its lock');
is( query("SELECT blocks_done FROM schema_guard.jobs WHERE job_id = $job_c"),
	$blocks_total, 'every block was counted exactly once');
is(query('SELECT count(*) - count(c) FROM t'),
	'0', 'every row has a value before validation');

crash_and_restart($node);
poll_worker_blocked($job_c, 'validate',
	'after the crash the job goes straight back to VALIDATE');
is( query(qq{
		SELECT count(*) FROM schema_guard.job_events
		 WHERE job_id = $job_c AND event IN ('verify', 'validate')}),
	'2', 'the backfill and verify passes did not run again');
my ($helper_type, $helper_name, $notnull_early) = not_null_helper($node, 't', 'c');
is( query(qq{
		SELECT a.attnotnull, con.convalidated
		  FROM pg_attribute a, pg_constraint con
		 WHERE a.attrelid = 't'::regclass AND a.attname = 'c'
		   AND con.conrelid = 't'::regclass AND con.contype = '$helper_type'
		   AND con.conname LIKE '$helper_name'}),
	($notnull_early ? 't' : 'f') . '|f',
	'the column is not NOT NULL yet (18: its constraint is NOT VALID), its check not yet validated');

query("COMMIT PREPARED 'validate_lock'");

#
# Crash 3: while SET NOT NULL waits for its lock.  (The worker then queues
# for ACCESS EXCLUSIVE, so the test reads only catalogs and job tables.)
#
poll_worker_blocked($job_c, 'finalize', 'SET NOT NULL waits for its lock');
is( query(qq{
		SELECT convalidated FROM pg_constraint
		 WHERE conrelid = 't'::regclass AND conname LIKE '$helper_name'}),
	't', 'the check was validated before the finalize step');

crash_and_restart($node);
poll_worker_blocked($job_c, 'finalize',
	'after the crash the job goes straight back to the finalize step');

query("COMMIT PREPARED 'finalize_lock'");

ok( $node->poll_query_until(
		'postgres', qq{
	SELECT count(*) = 2 FROM schema_guard.jobs
	 WHERE job_id IN ($job_c, $job_s) AND state = 'done'}),
	'both jobs finish');

#
# The result is what the plain ALTERs would have produced.
#
is( query(qq{
		SELECT count(*), count(c), count(DISTINCT c), count(s), count(DISTINCT s)
		  FROM t}),
	'100101|100101|100101|100101|100101',
	'every row has a value in both columns, all distinct');
is( query(qq{
		SELECT string_agg(attname || ' ' || attnotnull, ', ' ORDER BY attnum)
		  FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 2}),
	'c true, s true', 'both columns are NOT NULL in the catalog');
is( query(qq{
		SELECT pg_get_expr(adbin, adrelid) FROM pg_attrdef
		 WHERE adrelid = 't'::regclass ORDER BY adnum}),
	"gen_random_uuid()\nnextval('t_s_seq'::regclass)",
	'the defaults are those of the ALTERs');
is( query(qq{
		SELECT (SELECT count(*) FROM pg_trigger
		         WHERE tgrelid = 't'::regclass AND NOT tgisinternal),
		       (} . helper_constraints_sql(q{'t'::regclass}) . q{)}),
	'0|0', 'no helper trigger or check is left');
is( query(qq{
		SELECT count(*) FROM app_rows a JOIN t USING (id)
		 WHERE (a.c, a.s) IS NOT DISTINCT FROM (t.c, t.s)}),
	'105', 'rows the application wrote before the crashes kept their values');
is( query(qq{
		SELECT string_agg(job_id || ' ' || blocks_done || '/' || blocks_total, ', '
		                  ORDER BY job_id)
		  FROM schema_guard.jobs}),
	"$job_c $blocks_total/$blocks_total, $job_s $blocks_total/$blocks_total",
	'no job counted a block twice');
is( query(qq{
		SELECT string_agg(event, ' ' ORDER BY event_id)
		  FROM schema_guard.job_events WHERE job_id = $job_c}),
	'created paused queued running verify validate finalize done',
	"job $job_c went through each phase once");

$node->stop;
done_testing();
