# What the TAP tests of schema_guard (test/t) share: a server that preloads
# schema_guard, jobs staged paused, waits for a job or its worker to reach a
# given point, a crash, and the describe() SQL function.
#
# Every helper takes the PostgreSQL::Test::Cluster node it works on and,
# where it runs SQL in one database, that database's name.  None of them
# asserts anything: the pollers return what poll_query_until returns, and
# each test states its own checks with ok() and is().
#
# The Makefile puts test/perl on prove's include path; this module is not
# installed.

package SchemaGuardTest;

use strict;
use warnings;
use Exporter 'import';
use PostgreSQL::Test::Cluster;

our @EXPORT_OK = qw(
  new_node
  init_node
  stage_paused
  stage_paused_with_twin
  create_describe
  helper_constraints_sql
  not_null_helper
  set_setting
  poll_job_state
  wait_for_job_end
  poll_launcher_running
  worker_count
  poll_worker_waits
  poll_job_blocked
  held_by_backend
  held_by_prepared
  crash_and_restart
);

#
# The server
#

# The settings every test starts from: the library preloaded, small tables
# staged too, the launcher looking for work every second, no pause between
# batches, and no rebuild of the indexes at a job's end (the tests of that
# phase ask for it).
my $base_conf = q{
shared_preload_libraries = 'schema_guard'
schema_guard.min_table_size = 0
schema_guard.naptime = 1s
schema_guard.batch_delay = 0
schema_guard.reindex = off
};

# new_node($name, conf => $text, allows_streaming => 1)
#
# Creates, initializes and starts a node with the settings above, then
# $text: the test's own settings, which win over those above (in
# postgresql.conf the last line for a setting counts).  allows_streaming is
# passed to init, for a primary.
sub new_node
{
	my ($name, %params) = @_;
	my $node = init_node($name, %params);
	$node->start;
	return $node;
}

# init_node($name, conf => $text, allows_streaming => 1,
#           install_path => $dir, extra => [initdb options])
#
# The same as new_node, without starting the node: for a cluster that
# pg_upgrade fills.  install_path (the installation the node runs, its
# bin, lib and share directories) and extra are passed to the
# PostgreSQL::Test::Cluster constructor and to init.
sub init_node
{
	my ($name, %params) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name,
		(defined $params{install_path} ? (install_path => $params{install_path}) : ()));
	$node->init(
		allows_streaming => $params{allows_streaming},
		(defined $params{extra} ? (extra => $params{extra}) : ()));
	$node->append_conf('postgresql.conf', $base_conf . ($params{conf} // ''));
	return $node;
}

# set_setting($node, $name, $value)
#
# Sets a setting with ALTER SYSTEM, reloads, and waits until new sessions
# see the value.
sub set_setting
{
	my ($node, $name, $value) = @_;
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET $name = '$value'; SELECT pg_reload_conf()");
	$node->poll_query_until('postgres',
		"SELECT current_setting('$name') = '$value'")
	  or die "$name did not change";
	return;
}

#
# Staging jobs
#

# stage_paused($node, $db, @alters)
#
# Runs the ALTER TABLE statements in one transaction that also pauses the
# jobs they stage, so that no worker touches them before the test resumes
# them.  Returns the numbers of those jobs, in order.  (The jobs staged are
# those numbered after the last one that existed before: the tests stage
# no job from elsewhere meanwhile.)
sub stage_paused
{
	my ($node, $db, @alters) = @_;
	my $before = $node->safe_psql($db,
		'SELECT coalesce(max(job_id), 0) FROM schema_guard.jobs');
	$node->safe_psql(
		$db, join("\n",
			'BEGIN;',
			(map { "$_;" } @alters),
			"SELECT schema_guard.pause(job_id) FROM schema_guard.jobs WHERE job_id > $before;",
			'COMMIT;'));
	my @jobs = split /\n/,
	  $node->safe_psql($db,
		"SELECT job_id FROM schema_guard.jobs WHERE job_id > $before ORDER BY job_id"
	  );
	die "no job was staged by: @alters" unless @jobs;
	return @jobs;
}

# stage_paused_with_twin($node, $table, $twin, $subcommands)
#
# In database postgres, runs ALTER TABLE $twin $subcommands as PostgreSQL
# does (schema_guard.mode = off), then stages the same on $table, paused.
# Returns the job's number.  Once the job is done, describe() must give the
# same for both tables.
sub stage_paused_with_twin
{
	my ($node, $table, $twin, $subcommands) = @_;
	$node->safe_psql(
		'postgres', qq{
		SET schema_guard.mode = off;
		ALTER TABLE $twin $subcommands;
	});
	my ($job) =
	  stage_paused($node, 'postgres', "ALTER TABLE $table $subcommands");
	return $job;
}

# create_describe($node, $db)
#
# Creates the SQL function describe(table): everything PostgreSQL records
# about a table, one line each, with the table's name replaced by "T" so
# that a guarded table and its plainly altered twin compare equal: columns
# (type, NOT NULL, identity, default), constraints (with their validation),
# triggers, indexes (with their validity) and owned sequences.
sub create_describe
{
	my ($node, $db) = @_;
	$node->safe_psql(
		$db, q{
	CREATE FUNCTION describe(tab regclass) RETURNS text LANGUAGE sql AS $$
	  SELECT replace(string_agg(x, E'\n' ORDER BY k, x),
	                 (SELECT relname FROM pg_class WHERE oid = tab), 'T') FROM (
	    SELECT 1 AS k, format('column %s %s notnull=%s identity=%s default=%s',
	                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
	                  a.attidentity, pg_get_expr(d.adbin, d.adrelid)) AS x
	      FROM pg_attribute a
	      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	     WHERE a.attrelid = tab AND a.attnum > 0 AND NOT a.attisdropped
	    UNION ALL
	    SELECT 2, format('constraint %s %s validated=%s', conname,
	                     pg_get_constraintdef(oid), convalidated)
	      FROM pg_constraint WHERE conrelid = tab
	    UNION ALL
	    SELECT 3, format('trigger %s', tgname)
	      FROM pg_trigger WHERE tgrelid = tab AND NOT tgisinternal
	    UNION ALL
	    SELECT 4, format('index %s valid=%s ready=%s', pg_get_indexdef(indexrelid),
	                     indisvalid, indisready)
	      FROM pg_index WHERE indrelid = tab
	    UNION ALL
	    SELECT 5, format('sequence %s', d.objid::regclass)
	      FROM pg_depend d
	     WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
	       AND d.refobjid = tab AND d.deptype IN ('a', 'i')
	       AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'S'
	  ) s
	$$;
	});
	return;
}

# helper_constraints_sql($tables)
#
# SQL counting the constraints of the tables ($tables: an SQL list of
# regclass values) that a job stages and a finished job must not leave: a
# helper CHECK, or on PostgreSQL 18 a NOT NULL constraint still NOT VALID.
# (18's validated NOT NULL constraints are the columns' own, as after the
# plain ALTER.)
sub helper_constraints_sql
{
	my ($tables) = @_;
	return qq{SELECT count(*) FROM pg_constraint
	 WHERE conrelid IN ($tables) AND (contype = 'c' OR (contype = 'n' AND NOT convalidated))};
}

# not_null_helper($node, $table, $column)
#
# What stands for a staged NOT NULL column until the job has validated it:
# (contype, name) of PostgreSQL 18's own NOT NULL constraint, under the
# name the plain ALTER gives it, or before 18 of the helper CHECK, whose
# name is found by its pattern (as an SQL LIKE).  18 marks the column NOT
# NULL (attnotnull) while its constraint is NOT VALID; 15 does not.
sub not_null_helper
{
	my ($node, $table, $column) = @_;
	return $node->pg_version >= 18
	  ? ('n', "${table}_${column}_not_null", 1)
	  : ('c', "${table}_${column}_sg%_not_null", 0);
}

#
# Waiting for a job
#

# poll_job_state($node, $db, $job, $state)
#
# Waits until the job is in the given state ('done', 'failed', ...); false
# if it is not within the test timeout.
sub poll_job_state
{
	my ($node, $db, $job, $state) = @_;
	return $node->poll_query_until($db,
		"SELECT state FROM schema_guard.jobs WHERE job_id = $job", $state);
}

# wait_for_job_end($node, $db, $job)
#
# Waits until the job has ended, one way or another (it is neither queued
# nor running); dies if it does not within the test timeout.
sub wait_for_job_end
{
	my ($node, $db, $job) = @_;
	$node->poll_query_until($db,
		"SELECT state NOT IN ('queued', 'running') FROM schema_guard.jobs WHERE job_id = $job"
	) or die "job $job in database $db did not end";
	return;
}

#
# The launcher and the workers
#

# poll_launcher_running($node)
#
# Waits until the schema_guard launcher runs; false if it does not.
sub poll_launcher_running
{
	my ($node) = @_;
	return $node->poll_query_until(
		'postgres', q{
	SELECT count(*) = 1 FROM pg_stat_activity
	 WHERE backend_type = 'schema_guard launcher'});
}

# worker_count($node)
#
# How many schema_guard workers run, in all databases.
sub worker_count
{
	my ($node) = @_;
	return $node->safe_psql(
		'postgres', q{
	SELECT count(*) FROM pg_stat_activity
	 WHERE backend_type = 'schema_guard worker'});
}

# The query "does a schema_guard worker wait for a lock", and if $lock is
# given, for one that matches it: a condition on the requested pg_locks
# row, w.
sub worker_waits_sql
{
	my ($lock) = @_;
	return q{SELECT EXISTS (SELECT 1 FROM pg_locks w JOIN pg_stat_activity a USING (pid)
	 WHERE a.backend_type = 'schema_guard worker' AND NOT w.granted}
	  . (defined $lock ? " AND $lock)" : ')');
}

# poll_worker_waits($node, $db, $lock)
#
# Waits until a schema_guard worker waits for a lock (one that matches
# $lock, if given); false if none does within the test timeout.
sub poll_worker_waits
{
	my ($node, $db, $lock) = @_;
	return $node->poll_query_until($db, worker_waits_sql($lock));
}

# poll_job_blocked($node, $db, $job, $phase, $lock)
#
# Waits until the job is in the given phase and a schema_guard worker
# waits for a lock that matches $lock; false if not within the test
# timeout.
sub poll_job_blocked
{
	my ($node, $db, $job, $phase, $lock) = @_;
	return $node->poll_query_until($db,
		worker_waits_sql($lock)
		  . " AND (SELECT phase FROM schema_guard.jobs WHERE job_id = $job) = '$phase'"
	);
}

# held_by_backend($pid): a $lock that matches waiting for a row (the
# transaction id) that the session with that process id has locked.
sub held_by_backend
{
	my ($pid) = @_;
	return qq{EXISTS (SELECT 1 FROM pg_locks h
	 WHERE h.locktype = 'transactionid' AND h.granted
	   AND h.transactionid = w.transactionid AND h.pid = $pid)};
}

# held_by_prepared($gid): a $lock that matches waiting for a prepared
# transaction to end, for a row it locked or as CREATE INDEX CONCURRENTLY
# waits for older writers.
sub held_by_prepared
{
	my ($gid) = @_;
	return qq{w.locktype = 'transactionid' AND w.transactionid =
	 (SELECT transaction FROM pg_prepared_xacts WHERE gid = '$gid')};
}

#
# Crashes
#

# crash_and_restart($node)
#
# Stops the server as a crash would (immediate: no checkpoint, every
# process killed) and starts it again, through crash recovery.
sub crash_and_restart
{
	my ($node) = @_;
	$node->stop('immediate');
	$node->start;
	return;
}

1;
