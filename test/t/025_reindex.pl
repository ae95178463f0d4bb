# The last phase of a job that filled rows: its tables' indexes rebuilt
# concurrently (schema_guard.reindex), so that they end as small as the
# table rewrite of the plain ALTER leaves them, with the same names,
# definitions and constraints; partitions' indexes stay attached; an index
# that cannot be rebuilt is left as it is and the job still ends done;
# what an interrupted rebuild left is dropped before the next attempt.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest
  qw(new_node set_setting stage_paused_with_twin create_describe poll_job_state);

my $node = new_node('reindex', conf => q{
schema_guard.reindex = on
schema_guard.batch_max_blocks = 16
});

$node->safe_psql('postgres', 'CREATE EXTENSION schema_guard');
for my $name (qw(rx_guarded rx_twin rx_plain))
{
	$node->safe_psql(
		'postgres', qq{
		SET schema_guard.mode = off;
		CREATE TABLE $name (id int PRIMARY KEY, v int, pad text);
		CREATE INDEX ${name}_v_idx ON $name (v);
		CREATE UNIQUE INDEX ${name}_cover ON $name (v, id) INCLUDE (pad);
		INSERT INTO $name SELECT g, g % 1000, repeat('x', 300) FROM generate_series(1, 20000) g;
	});
	$node->safe_psql('postgres', "VACUUM ANALYZE $name");
}
create_describe($node, 'postgres');

# The sizes of a table's indexes, by name with the table's name cut off.
sub index_sizes
{
	my ($table) = @_;
	my %size = map { split /\|/ } split /\n/, $node->safe_psql(
		'postgres', qq{
		SELECT replace(c.relname, '$table', 'T'), pg_relation_size(c.oid)
		  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		 WHERE i.indrelid = '$table'::regclass});
	return \%size;
}

# NOT NULL: the job's helper check is gone when the phase starts
my $job = stage_paused_with_twin($node, 'rx_guarded', 'rx_twin',
	'ADD COLUMN c float8 NOT NULL DEFAULT random()');
my $before = $node->safe_psql('postgres',
	"SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 'rx_guarded'::regclass");
$node->safe_psql('postgres', "SELECT schema_guard.resume($job)");
ok(poll_job_state($node, 'postgres', $job, 'done'), 'the job ends done');

is( $node->safe_psql('postgres',
		"SELECT string_agg(event, ',' ORDER BY at, event_id) FROM schema_guard.job_events
		  WHERE job_id = $job AND event IN ('finalize', 'reindex', 'reindexing', 'reindexed', 'done')"),
	'finalize,reindex,reindexing,reindexed,reindexing,reindexed,reindexing,reindexed,done',
	'after finalizing, the job rebuilds each of the three indexes, then is done');
is( $node->safe_psql('postgres',
		"SELECT string_agg(detail, ',' ORDER BY detail) FROM schema_guard.job_events
		  WHERE job_id = $job AND event = 'reindexed'"),
	'public.rx_guarded_cover,public.rx_guarded_pkey,public.rx_guarded_v_idx',
	'the events name the indexes');
isnt(
	$node->safe_psql('postgres',
		"SELECT string_agg(indexrelid::text, ',' ORDER BY indexrelid) FROM pg_index WHERE indrelid = 'rx_guarded'::regclass"),
	$before, 'the indexes are new');
is($node->safe_psql('postgres', q{SELECT describe('rx_guarded') = describe('rx_twin')}),
	't', 'the table ends as its plainly altered twin: columns, constraints, indexes, all valid');
is( $node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_class WHERE relname ~ '_cc(new|old)[0-9]*$'}),
	'0', 'no copy of an index is left');

my $guarded = index_sizes('rx_guarded');
my $stock = index_sizes('rx_twin');
for my $index (sort keys %$stock)
{
	cmp_ok($guarded->{$index}, '<=', $stock->{$index} * 1.05 + 8192,
		"index $index is as small as the rewrite's ($guarded->{$index} vs $stock->{$index} bytes)");
}

# Without the phase the indexes stay as the backfill left them.
set_setting($node, 'schema_guard.reindex', 'off');
my ($job2) = SchemaGuardTest::stage_paused($node, 'postgres',
	'ALTER TABLE rx_plain ADD COLUMN c float8 DEFAULT random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job2)");
ok(poll_job_state($node, 'postgres', $job2, 'done'), 'with reindex off the job ends done');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM schema_guard.job_events WHERE job_id = $job2 AND event LIKE 'reindex%'"),
	'0', 'and rebuilds nothing');
my $bloated = index_sizes('rx_plain');
cmp_ok($bloated->{T_pkey}, '>', $guarded->{T_pkey},
	"the backfill alone leaves the primary key larger ($bloated->{T_pkey} vs $guarded->{T_pkey} bytes)");
set_setting($node, 'schema_guard.reindex', 'on');

# Partitions: each leaf's indexes are rebuilt and stay attached to the
# partitioned index.
$node->safe_psql(
	'postgres', q{
	SET schema_guard.mode = off;
	CREATE TABLE p (id int, v int, PRIMARY KEY (id)) PARTITION BY RANGE (id);
	CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (10000);
	CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (10000) TO (20001);
	CREATE INDEX p_v_idx ON p (v);
	INSERT INTO p SELECT g, g % 100 FROM generate_series(1, 20000) g;
});
my ($job3) = SchemaGuardTest::stage_paused($node, 'postgres',
	'ALTER TABLE p ADD COLUMN c float8 DEFAULT random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job3)");
ok(poll_job_state($node, 'postgres', $job3, 'done'), 'the partitioned job ends done');
is( $node->safe_psql('postgres',
		"SELECT count(*) FROM schema_guard.job_events WHERE job_id = $job3 AND event = 'reindexed'"),
	'4', 'the two indexes of each partition are rebuilt');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(c.relname || ':' || x.indisvalid, ',' ORDER BY c.relname)
		  FROM pg_partition_tree('p_v_idx') t JOIN pg_class c ON c.oid = t.relid
		  JOIN pg_index x ON x.indexrelid = t.relid WHERE t.isleaf}),
	'p1_v_idx:true,p2_v_idx:true', 'the leaves\' indexes are attached to the partitioned index, valid');
is( $node->safe_psql('postgres', q{
		SELECT string_agg(conname || ':' || conindid::regclass::text, ',' ORDER BY conname)
		  FROM pg_constraint WHERE conrelid IN ('p1'::regclass, 'p2'::regclass) AND contype = 'p'}),
	'p1_pkey:p1_pkey,p2_pkey:p2_pkey', 'each partition\'s primary key uses its rebuilt index');

# An index that cannot be rebuilt is left as it is: the job is complete.
# Here the index's function refuses to run for the rebuild only.
$node->safe_psql(
	'postgres', q{
	SET schema_guard.mode = off;
	CREATE FUNCTION f(int) RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
	BEGIN
	  IF EXISTS (SELECT FROM pg_stat_activity WHERE pid = pg_backend_pid()
	             AND query LIKE 'schema_guard: rebuilding%') THEN
	    RAISE EXCEPTION 'f refuses to be rebuilt';
	  END IF;
	  RETURN $1;
	END $$;
	CREATE TABLE e (id int PRIMARY KEY, v int);
	INSERT INTO e SELECT g, g FROM generate_series(1, 5000) g;
	CREATE INDEX e_f_idx ON e (f(v));
});
my ($job4) = SchemaGuardTest::stage_paused($node, 'postgres',
	'ALTER TABLE e ADD COLUMN c float8 DEFAULT random()');
$node->safe_psql('postgres', "SELECT schema_guard.resume($job4)");
ok(poll_job_state($node, 'postgres', $job4, 'done'), 'a job with an index that cannot be rebuilt still ends done');
is( $node->safe_psql('postgres',
		"SELECT string_agg(event || ' ' || detail, ',' ORDER BY event, detail) FROM schema_guard.job_events
		  WHERE job_id = $job4 AND event IN ('reindexed', 'not reindexed')"),
	'not reindexed public.e_f_idx,reindexed public.e_pkey',
	'that index is left, the others are rebuilt');
ok($node->log_contains(qr/WARNING:  schema_guard job $job4 leaves index public\.e_f_idx as it is/),
	'a warning names it');
is( $node->safe_psql('postgres', q{
		SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		 WHERE i.indrelid = 'e'::regclass AND (NOT i.indisvalid OR c.relname ~ '_cc(new|old)')}),
	'0', 'and nothing of the failed rebuild is left');

# A build WAL-logs every index page it writes, and the application's
# commits wait for that WAL to reach the disk: with the server's
# wal_compression off, the worker compresses the WAL of its builds.  The
# same index built concurrently by a client, and by a job.
is($node->safe_psql('postgres', 'SHOW wal_compression'), 'off', 'the server does not compress WAL');
$node->safe_psql('postgres', q{
	SET schema_guard.mode = off;
	CREATE TABLE w_plain (id int, v int);
	INSERT INTO w_plain SELECT g, g % 100 FROM generate_series(1, 100000) g;
	CREATE TABLE w_guarded AS TABLE w_plain;
	VACUUM w_plain, w_guarded;
	CHECKPOINT;
});
sub wal_of
{
	my ($sql, $wait) = @_;
	my $start = $node->safe_psql('postgres', 'SELECT pg_current_wal_lsn()');
	$node->safe_psql('postgres', $sql);
	$wait->() if $wait;
	return $node->safe_psql('postgres', "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$start')");
}
my $plain_wal = wal_of('SET schema_guard.mode = off; CREATE INDEX CONCURRENTLY w_plain_idx ON w_plain (id, v)');
my $job5;
my $guarded_wal = wal_of(
	'BEGIN; CREATE INDEX w_guarded_idx ON w_guarded (id, v); COMMIT;',
	sub {
		$job5 = $node->safe_psql('postgres',
			"SELECT max(job_id) FROM schema_guard.jobs WHERE relid = 'w_guarded'::regclass");
		poll_job_state($node, 'postgres', $job5, 'done');
	});
note "WAL of the index build: $plain_wal bytes by a client, $guarded_wal by the worker";
# two thirds as much with lz4 or pglz for these pages of integers; without
# compression the two are within a few percent
cmp_ok($guarded_wal, '<', $plain_wal * 0.8, 'the worker\'s build writes less WAL');
is( $node->safe_psql('postgres',
		"SELECT pg_relation_size('w_guarded_idx') = pg_relation_size('w_plain_idx') AND indisvalid
		   FROM pg_index WHERE indexrelid = 'w_guarded_idx'::regclass"),
	't', 'for the same index');

done_testing();
