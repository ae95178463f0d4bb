# Crashes at the steps 010_crash_resume.pl does not stop at: while the
# ALTER that stages a job is still uncommitted, while the concurrent build
# of a UNIQUE column's index waits for an older writer, between two
# VALIDATE CONSTRAINT steps, after the unique index is built but before
# the finalize step adds the constraint, between the leaves of a
# partitioned table's index, and while a partitioned table's SET NOT NULL
# is validated.
#
# Prepared transactions hold the locks that stop the worker at each point:
# they survive the crash, so after recovery the worker stops at the same
# point again and the test can compare what is left before and after.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused_with_twin create_describe
  poll_job_state poll_launcher_running poll_job_blocked held_by_prepared
  crash_and_restart not_null_helper);

my $node = new_node(
	'crash_steps', conf => q{
# the test framework turns this off; a real server restarts after a crash
restart_after_crash = on
max_prepared_transactions = 10
# the worker waits for the locks held below instead of timing out
schema_guard.lock_timeout = 3min
});

sub query { return $node->safe_psql('postgres', $_[0]); }

query('CREATE EXTENSION schema_guard');
# describe(table): everything PostgreSQL records about a table, to compare
# a guarded table with its plainly altered twin.
create_describe($node, 'postgres');
query(q{
	CREATE FUNCTION make_table(name text, rows int) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
	  EXECUTE format('CREATE TABLE %I (id int PRIMARY KEY, v text)', name);
	  EXECUTE format('INSERT INTO %I SELECT g, %L || g FROM generate_series(1, %s) g',
	                 name, 'row ', rows);
	END $$;
});

# The job of a table.
sub job_of
{
	my ($table) = @_;
	return query("SELECT job_id FROM schema_guard.jobs WHERE relid = '$table'::regclass");
}

# The worker waits, while the job is in the given phase, for a lock that
# matches $what.
sub poll_worker_blocked
{
	my ($job, $phase, $what, $name) = @_;
	ok(poll_job_blocked($node, 'postgres', $job, $phase, $what), $name);
}

sub poll_done
{
	my ($job, $name) = @_;
	ok(poll_job_state($node, 'postgres', $job, 'done'), $name);
}

# Stage an ALTER paused on a new table, and the same ALTER on a new twin
# table with the plain statement: the guarded table must end up described
# exactly like the twin.
sub stage_paused_on_new_tables
{
	my ($table, $twin, $rows, $add) = @_;
	query("SELECT make_table('$table', $rows), make_table('$twin', $rows)");
	return stage_paused_with_twin($node, $table, $twin, $add);
}

#
# 1. The backend that ran the ALTER is killed while its transaction is
#    open: crash recovery rolls the transaction back, so nothing of the
#    staged ALTER is left, not even a job.
#
query(q{SELECT make_table('staged', 20000)});
my $staged_before = query(q{SELECT describe('staged')});
my $staged_file = query(q{SELECT pg_relation_filenode('staged')});
my $counts_sql = q{
	SELECT (SELECT count(*) FROM schema_guard.jobs),
	       (SELECT count(*) FROM schema_guard.job_events),
	       (SELECT count(*) FROM pg_class WHERE relname LIKE 'staged%')};
my $counts_before = query($counts_sql);

my $alter = $node->background_psql('postgres');
my $alter_pid = $alter->query_safe('SELECT pg_backend_pid()');
$alter->query_safe(q{
	SET client_min_messages = warning;
	BEGIN;
	ALTER TABLE staged ADD COLUMN c uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
	                   ADD COLUMN s bigserial CHECK (s > 0),
	                   ADD COLUMN i int GENERATED ALWAYS AS IDENTITY});
is( $alter->query_safe(q{
	SELECT count(*) FROM schema_guard.jobs WHERE relid = 'staged'::regclass}),
	'1', 'the open transaction has staged a job');
is( query(qq{
	SELECT bool_or(mode = 'AccessExclusiveLock') FROM pg_locks
	 WHERE pid = $alter_pid AND relation = 'staged'::regclass AND granted}),
	't', 'and holds the lock of the ALTER');

my $log_offset = -s $node->logfile;
ok(kill('KILL', $alter_pid), "SIGKILL to the backend of the ALTER (pid $alter_pid)");
ok( $node->wait_for_log(qr/all server processes terminated; reinitializing/,
		$log_offset),
	'the postmaster reinitialized after the crash');
ok(poll_launcher_running($node), 'the launcher runs again');
$alter->{run}->kill_kill;

is(query(q{SELECT describe('staged')}),
	$staged_before, 'the table is described as before the ALTER');
is(query(q{SELECT pg_relation_filenode('staged')}),
	$staged_file, 'it has the same file');
is(query($counts_sql), $counts_before,
	'no job, job event, sequence or index of the ALTER is left');

#
# 2. The server stops (immediate) while the ALTER's transaction is open.
#
$alter = $node->background_psql('postgres');
$alter->query_safe(q{
	SET client_min_messages = warning;
	BEGIN;
	ALTER TABLE staged ADD COLUMN r float8 DEFAULT random(),
	                   ADD COLUMN f int NOT NULL DEFAULT 1 + (random() * 9)::int});
is( $alter->query_safe(q{
	SELECT count(*) FROM schema_guard.jobs WHERE relid = 'staged'::regclass}),
	'1', 'another open transaction has staged a job');
crash_and_restart($node);
$alter->{run}->kill_kill;

is(query(q{SELECT describe('staged')}),
	$staged_before, 'after the crash the table is described as before the ALTER');
is(query($counts_sql), $counts_before, 'and no job is left');

# Nothing left behind stands in the way of the same ALTER afterwards.
query(q{
	ALTER TABLE staged ADD COLUMN r float8 DEFAULT random(),
	                   ADD COLUMN f int NOT NULL DEFAULT 1 + (random() * 9)::int});
poll_done(job_of('staged'), 'the ALTER issued again after the crash runs to the end');
is(query('SELECT count(*), count(r), count(f) FROM staged'),
	'20000|20000|20000', 'every row is filled');

#
# 3. A crash while CREATE UNIQUE INDEX CONCURRENTLY waits for an older
#    writer: the build has already committed the index's catalog entry, so
#    an INVALID index is left on disk.  After recovery the job drops it and
#    builds it again; once done, only the valid index and its constraint
#    remain.
#
my $job_cic = stage_paused_on_new_tables('cic_guard', 'cic_plain', 20000,
	'ADD COLUMN k uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE');

# A writer that prepared its transaction holds ROW EXCLUSIVE on the table:
# the concurrent build must wait for it (and so must DROP INDEX
# CONCURRENTLY).  Its new row has its own value at once.
query(q{
	BEGIN;
	INSERT INTO cic_guard (id, v) VALUES (0, 'prepared writer') RETURNING k IS NOT NULL;
	PREPARE TRANSACTION 'writer';
});
query("SELECT schema_guard.resume($job_cic)");
poll_worker_blocked($job_cic, 'index', held_by_prepared('writer'),
	'the concurrent index build waits for the prepared writer');
is( query(q{
	SELECT indisvalid FROM pg_index WHERE indexrelid = 'cic_guard_k_key'::regclass}),
	'f', 'the index being built is there, INVALID');
is( query(q{
	SELECT count(*) FROM pg_constraint WHERE conrelid = 'cic_guard'::regclass
	   AND contype = 'u'}),
	'0', 'the constraint is not there yet');

crash_and_restart($node);
poll_worker_blocked($job_cic, 'index', held_by_prepared('writer'),
	'after the crash the job is back at the index step, waiting for the writer');
query("COMMIT PREPARED 'writer'");
poll_done($job_cic, 'the job finishes once the writer commits');

is(query(q{SELECT describe('cic_guard')}),
	query(q{SELECT describe('cic_plain')}),
	'the table is what the plain ALTER gives: one valid unique index, its constraint, no helper');
is( query(q{
	SELECT count(*) FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
	 WHERE i.indrelid = 'cic_guard'::regclass AND NOT (i.indisvalid AND i.indisready)}),
	'0', 'no INVALID index is left');
is( query(q{SELECT count(*), count(k), count(DISTINCT k) FROM cic_guard}),
	'20001|20001|20001', 'every row has its own value, the prepared row included');
is( query(qq{
	SELECT count(*) FROM schema_guard.job_events
	 WHERE job_id = $job_cic AND event = 'failed'}),
	'0', 'the job never failed');

#
# 4. A crash between two VALIDATE CONSTRAINT steps: the NOT NULL helper
#    check is validated and committed; the foreign key, validated in the
#    references phase after it, waits for a lock on the referenced table.
#    After recovery the job carries on with the foreign key; the check
#    stays validated.
#
query(q{
	CREATE TABLE ref (id int PRIMARY KEY);
	INSERT INTO ref SELECT generate_series(0, 99);
});
my $job_val = stage_paused_on_new_tables('val_guard', 'val_plain', 20000,
	'ADD COLUMN f int NOT NULL DEFAULT (random() * 99)::int REFERENCES ref (id)');

# VALIDATE of a foreign key takes ROW SHARE on the referenced table, which
# EXCLUSIVE blocks; the backfill and the check's validation do not need it.
query(q{
	BEGIN;
	LOCK TABLE ref IN EXCLUSIVE MODE;
	PREPARE TRANSACTION 'ref_lock';
});
query("SELECT schema_guard.resume($job_val)");
my $waits_for_ref = q{w.relation = 'ref'::regclass};
poll_worker_blocked($job_val, 'references', $waits_for_ref,
	'the foreign key validation waits for the referenced table');
my ($helper_type, $helper_name) = not_null_helper($node, 'val_guard', 'f');
my $validated_sql = qq{
	SELECT string_agg(contype::text || ' ' || convalidated, ', ' ORDER BY contype = 'f')
	  FROM pg_constraint WHERE conrelid = 'val_guard'::regclass
	   AND (contype = 'f' OR (contype = '$helper_type' AND conname LIKE '$helper_name'))};
is(query($validated_sql), "$helper_type true, f false",
	'the NOT NULL helper check is validated, the foreign key is not yet');

crash_and_restart($node);
poll_worker_blocked($job_val, 'references', $waits_for_ref,
	'after the crash the job waits for the referenced table again');
is(query($validated_sql), "$helper_type true, f false",
	'the check validated before the crash stays validated');
query("COMMIT PREPARED 'ref_lock'");
poll_done($job_val, 'the job finishes once the lock is released');
is(query(q{SELECT describe('val_guard')}),
	query(q{SELECT describe('val_plain')}),
	'the table is what the plain ALTER gives: NOT NULL, a validated foreign key, no helper');
is( query(q{
	SELECT count(*), count(f), count(*) FILTER (WHERE f BETWEEN 0 AND 99) FROM val_guard}),
	'20000|20000|20000', 'every row has a value the foreign key accepts');

#
# 5. A crash after the unique index is built, while the finalize step
#    (SET NOT NULL, ADD CONSTRAINT ... USING INDEX) waits for its lock:
#    after recovery the job finalizes with the index it built, not a new
#    one.
#
my $job_fin = stage_paused_on_new_tables('fin_guard', 'fin_plain', 20000,
	'ADD COLUMN s bigserial UNIQUE');

# ACCESS SHARE does not hold back the backfill, the validation or the
# concurrent build, only the finalize step's ACCESS EXCLUSIVE.
query(q{
	BEGIN;
	LOCK TABLE fin_guard IN ACCESS SHARE MODE;
	PREPARE TRANSACTION 'fin_lock';
});
query("SELECT schema_guard.resume($job_fin)");
my $waits_for_fin =
  q{w.relation = 'fin_guard'::regclass AND w.mode = 'AccessExclusiveLock'};
poll_worker_blocked($job_fin, 'finalize', $waits_for_fin,
	'the finalize step waits for its lock');
my $index_sql = q{
	SELECT indexrelid || ' ' || indisvalid FROM pg_index
	 WHERE indexrelid = 'fin_guard_s_key'::regclass};
my ($index_oid) = split / /, query($index_sql);
is(query($index_sql), "$index_oid true", 'the unique index is built and valid');
is( query(q{
	SELECT (SELECT attnotnull FROM pg_attribute
	         WHERE attrelid = 'fin_guard'::regclass AND attname = 's'),
	       (SELECT count(*) FROM pg_constraint
	         WHERE conrelid = 'fin_guard'::regclass AND contype = 'u')}),
	((not_null_helper($node, 'fin_guard', 's'))[2] ? 't' : 'f') . '|0',
	'the column is not NOT NULL yet (on 18 it is, by its validated NOT NULL constraint) and has no UNIQUE constraint yet');

crash_and_restart($node);
poll_worker_blocked($job_fin, 'finalize', $waits_for_fin,
	'after the crash the job goes straight back to the finalize step');
is(query($index_sql), "$index_oid true", 'the index built before the crash is kept');
query("COMMIT PREPARED 'fin_lock'");
poll_done($job_fin, 'the job finishes once the lock is released');
is( query(q{
	SELECT conindid FROM pg_constraint
	 WHERE conrelid = 'fin_guard'::regclass AND contype = 'u'}),
	$index_oid, 'the constraint uses the index built before the crash');
is(query(q{SELECT describe('fin_guard')}),
	query(q{SELECT describe('fin_plain')}),
	'the table is what the plain ALTER gives');
# (after a crash a sequence skips the values it had logged ahead, as any
# PostgreSQL sequence does)
is( query(q{
	SELECT count(*), count(DISTINCT s), min(s), max(s),
	       (SELECT last_value FROM fin_guard_s_seq) >= max(s) FROM fin_guard}),
	'20000|20000|1|20000|t',
	'every row has its own serial value, and the sequence continues after the last');

# Each job passed through its phases once, crash or not.
is( query(qq{
	SELECT string_agg(event, ' ' ORDER BY event_id)
	  FROM schema_guard.job_events WHERE job_id = $job_fin}),
	'created paused queued running verify validate index finalize done',
	'the finalize job went through each phase once');

#
# 6. A crash while the job of a partitioned table's CREATE INDEX waits for
#    a writer of its second leaf: the first leaf's index is built, the
#    second's catalog entry committed by the concurrent build.  After
#    recovery the job keeps the first, builds the second again once the
#    writer commits, then the rest, and marks the partitioned indexes
#    valid: the tree is the plain statement's.
#
query(q{
	CREATE FUNCTION make_parted(name text) RETURNS void LANGUAGE plpgsql AS $$
	BEGIN
	  EXECUTE format('CREATE TABLE %1$I (id int NOT NULL, v text) PARTITION BY RANGE (id);
	    CREATE TABLE %2$I PARTITION OF %1$I FOR VALUES FROM (0) TO (10000);
	    CREATE TABLE %3$I PARTITION OF %1$I FOR VALUES FROM (10000) TO (20000);
	    CREATE TABLE %4$I PARTITION OF %1$I FOR VALUES FROM (20000) TO (30000)
	      PARTITION BY HASH (id);
	    CREATE TABLE %5$I PARTITION OF %4$I FOR VALUES WITH (MODULUS 2, REMAINDER 0);
	    CREATE TABLE %6$I PARTITION OF %4$I FOR VALUES WITH (MODULUS 2, REMAINDER 1);
	    INSERT INTO %1$I SELECT g, %7$L || g FROM generate_series(1, 29999) g',
	    name, name || '_a', name || '_b', name || '_c', name || '_c1', name || '_c2', 'row ');
	END $$;
	-- the indexes of a tree, names relative to its root, with their state
	CREATE FUNCTION index_tree(root text) RETURNS text LANGUAGE sql AS $$
	  SELECT string_agg(format('%s %s parent=%s valid=%s ready=%s',
	                           replace(c.relname, root, 'T'), c.relkind,
	                           replace(coalesce(inh.inhparent::regclass::text, '-'), root, 'T'),
	                           i.indisvalid, i.indisready), E'\n' ORDER BY c.relname)
	    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	    LEFT JOIN pg_inherits inh ON inh.inhrelid = c.oid
	   WHERE i.indrelid IN (SELECT relid FROM pg_partition_tree(root::regclass))
	$$;
	SELECT make_parted('pi_guard'), make_parted('pi_plain');
	SET schema_guard.mode = off;
	CREATE INDEX pi_plain_v ON pi_plain (v);
});
query(q{
	BEGIN;
	CREATE INDEX pi_guard_v ON pi_guard (v);
	SELECT schema_guard.pause(max(job_id)) FROM schema_guard.jobs;
	COMMIT;
});
my $job_pi = query('SELECT max(job_id) FROM schema_guard.jobs');
query(q{
	BEGIN;
	INSERT INTO pi_guard VALUES (15000, 'prepared writer');
	PREPARE TRANSACTION 'leaf_writer';
});
query("SELECT schema_guard.resume($job_pi)");
poll_worker_blocked($job_pi, 'index', held_by_prepared('leaf_writer'),
	'the build of the second leaf\'s index waits for the prepared writer');
is( query(q{
	SELECT string_agg(c.relname || '=' || i.indisvalid, ' ' ORDER BY c.relname)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
	 WHERE c.relname IN ('pi_guard_a_v_idx', 'pi_guard_b_v_idx', 'pi_guard_v')}),
	'pi_guard_a_v_idx=true pi_guard_b_v_idx=false pi_guard_v=false',
	'the first leaf\'s index is built, the second\'s and the parent\'s are not valid yet');
my $first_sql = q{SELECT 'pi_guard_a_v_idx'::regclass::oid};
my $first = query($first_sql);

crash_and_restart($node);
poll_worker_blocked($job_pi, 'index', held_by_prepared('leaf_writer'),
	'after the crash the job is back at the second leaf, waiting for the writer');
query("COMMIT PREPARED 'leaf_writer'");
poll_done($job_pi, 'the job finishes once the writer commits');
is(query($first_sql), $first, 'the index built before the crash is kept');
is(query(q{SELECT index_tree('pi_guard')}), query(q{SELECT index_tree('pi_plain')}),
	'the tree of indexes is the plain statement\'s, every one valid');
is( query(q{
	SET enable_seqscan = off;
	SET enable_bitmapscan = off;
	SELECT count(*) FROM pi_guard WHERE v >= ''}),
	'30000', 'every row is in the indexes, the prepared writer\'s included');

#
# 7. A crash while the job of a partitioned table's SET NOT NULL validates
#    the parent's constraint and waits for a lock on the second leaf: the
#    validation is one transaction, so nothing is left validated.  After
#    recovery the job validates again once the lock is released, then sets
#    NOT NULL on the tree: every table is the plain statement's.
#
query(q{
	SELECT make_parted('pn_guard'), make_parted('pn_plain');
	SET schema_guard.mode = off;
	ALTER TABLE pn_plain ALTER COLUMN v SET NOT NULL;
});
query(q{
	BEGIN;
	ALTER TABLE pn_guard ALTER COLUMN v SET NOT NULL;
	SELECT schema_guard.pause(max(job_id)) FROM schema_guard.jobs;
	COMMIT;
});
my $job_pn = query('SELECT max(job_id) FROM schema_guard.jobs');
# VALIDATE CONSTRAINT takes SHARE UPDATE EXCLUSIVE on each partition
query(q{
	BEGIN;
	LOCK TABLE pn_guard_b IN SHARE UPDATE EXCLUSIVE MODE;
	PREPARE TRANSACTION 'leaf_lock';
});
query("SELECT schema_guard.resume($job_pn)");
my $waits_for_leaf = q{w.relation = 'pn_guard_b'::regclass};
poll_worker_blocked($job_pn, 'validate', $waits_for_leaf,
	'the validation waits for the locked leaf');
my $unvalidated_sql = q{
	SELECT count(*) FILTER (WHERE NOT convalidated) || ' of ' || count(*)
	  FROM pg_constraint
	 WHERE conrelid IN (SELECT relid FROM pg_partition_tree('pn_guard'))
	   AND contype IN ('c', 'n') AND conname LIKE 'pn_guard_v%'};
is(query($unvalidated_sql), '6 of 6',
	'every table of the tree has the job\'s constraint, none validated yet');

crash_and_restart($node);
poll_worker_blocked($job_pn, 'validate', $waits_for_leaf,
	'after the crash the job validates again, waiting for the leaf');
is(query($unvalidated_sql), '6 of 6', 'nothing was left half validated');
query("COMMIT PREPARED 'leaf_lock'");
poll_done($job_pn, 'the job finishes once the leaf is unlocked');
for my $suffix ('', '_a', '_b', '_c', '_c1', '_c2')
{
	is( query(qq{SELECT replace(describe('pn_guard$suffix'), 'pn_guard', 'pn_plain')}),
		query(qq{SELECT describe('pn_plain$suffix')}),
		"pn_guard$suffix is what the plain ALTER gives");
}

$node->stop;
done_testing();
