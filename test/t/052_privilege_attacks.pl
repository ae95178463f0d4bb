# No code of one role runs as another through schema_guard, tried the way
# a role with no more than its own schema and the rights an application
# has would try it: settings that the owner's code changes in the session
# or the worker it ran in, what explain() and the classifier compute, the
# state of the application's session (compiled functions, planning under
# its search_path, its rights, its custom settings), views that filter
# rows by the caller's rights, error texts, a change of the table's owner,
# and a failed job that must not hold back other tables.
#
# Every function a test plants records who ran it in table ran(fn, as_role)
# (or says so in a NOTICE where it may not write); each block asserts that
# nobody's function ran as another role.  Each block has a database of its
# own, so that no job of one holds back a job of another.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused wait_for_job_end poll_job_state);

my $node = new_node('privilege_attacks');
my $super = $node->safe_psql('postgres', 'SELECT current_user');

# alice owns tables, bob is an application with the rights it was granted,
# mallory and reader watch what they may see
$node->safe_psql(
	'postgres', q{
	CREATE ROLE alice LOGIN;
	CREATE ROLE bob LOGIN;
	CREATE ROLE mallory LOGIN;
	CREATE ROLE reader LOGIN IN ROLE pg_read_all_stats;
	CREATE ROLE reader_of_table LOGIN IN ROLE pg_read_all_stats;
});

sub query
{
	my ($db, $sql, $user) = @_;
	return $node->safe_psql($db, $sql,
		(defined $user ? (extra_params => [ '-U', $user ]) : ()));
}

# Runs SQL that may fail, as $user; returns (succeeded, stdout, stderr).
sub try_sql
{
	my ($db, $sql, $user) = @_;
	my ($rc, $out, $err) = $node->psql($db, $sql,
		(defined $user ? (extra_params => [ '-U', $user ]) : ()));
	return ($rc == 0, $out, $err);
}

# A database with the extension, table ran, and schemas alice and bob
# that their roles own.
sub new_database
{
	my ($db) = @_;
	query('postgres', "CREATE DATABASE $db");
	query(
		$db, q{
		CREATE EXTENSION schema_guard;
		CREATE TABLE public.ran (fn text, as_role text);
		GRANT SELECT, INSERT ON public.ran TO PUBLIC;
		CREATE SCHEMA alice AUTHORIZATION alice;
		CREATE SCHEMA bob AUTHORIZATION bob;
		GRANT USAGE ON SCHEMA alice, bob TO PUBLIC;
	});
}

# A table of $rows rows (3000 if not given), all older than any ALTER.
sub new_table
{
	my ($db, $table, $owner, $rows) = @_;
	$rows //= 3000;
	query(
		$db, qq{
		CREATE TABLE $table (id int PRIMARY KEY, x text);
		INSERT INTO $table SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
		ALTER TABLE $table OWNER TO $owner;
	});
}

# stage_as($db, $role, @statements): stage_paused() with the statements run
# as $role (and its search_path, if one of them sets it), the jobs paused
# by the superuser.
sub stage_as
{
	my ($db, $role, @statements) = @_;
	return stage_paused($node, $db, "SET ROLE $role", @statements,
		'RESET ROLE', 'RESET search_path');
}

# Who other than its author ran a planted function: "fn as role" lines.
sub ran_as_other
{
	my ($db, $fn, $author) = @_;
	return query($db,
		"SELECT string_agg(DISTINCT fn || ' as ' || as_role, ', ') FROM ran "
		  . "WHERE fn = '$fn' AND as_role <> '$author'");
}

#
# 1. What the owner's code sets (SET, set_config()) while a value is
# computed is undone: it never changes the settings of the session whose
# UPDATE fired the fill trigger (here a superuser's, whose next query
# would otherwise call alice's lower()), nor those of the worker, whose
# own statements run as a superuser (its replication lag query would
# otherwise aggregate with alice's max()).
#
new_database('settings_leak');
new_table('settings_leak', 'alice.t', 'alice');
new_table('settings_leak', 'alice.w', 'alice', 20000);
query(
	'settings_leak', q{
	SET ROLE alice;
	CREATE FUNCTION alice.mark() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN
	  PERFORM pg_catalog.set_config('search_path', 'alice, pg_catalog', false);
	  PERFORM pg_catalog.set_config('alice.leaked', 'yes', false);
	  PERFORM pg_catalog.set_config('work_mem', '77kB', false);
	  SET extra_float_digits = -3;
	  RETURN 1;
	END $$;
	CREATE FUNCTION alice.lower(text) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN
	  INSERT INTO public.ran VALUES ('alice.lower', current_user);
	  RETURN pg_catalog.lower($1);
	END $$;
	CREATE FUNCTION alice.fin(numeric) RETURNS numeric LANGUAGE plpgsql AS $$
	BEGIN
	  INSERT INTO public.ran VALUES ('alice.fin', current_user);
	  RETURN $1;
	END $$;
	CREATE AGGREGATE alice.max(numeric) (sfunc = pg_catalog.numeric_larger,
	                                     stype = numeric, finalfunc = alice.fin);
});
my ($job) = stage_as('settings_leak', 'alice',
	'ALTER TABLE alice.t ADD COLUMN m int DEFAULT alice.mark()');
my $after = query(
	'settings_leak', q{
	UPDATE alice.t SET x = 'touched' WHERE id = 1;
	SELECT current_setting('search_path') || '|' || coalesce(current_setting('alice.leaked', true), '')
	       || '|' || current_setting('work_mem') || '|' || current_setting('extra_float_digits');
	SELECT lower('X');
	SELECT m FROM alice.t WHERE id = 1;
});
is($after, qq{"\$user", public||4MB|1\nx\n1},
	"the fill trigger's computation leaves the session's settings as they were");
is(ran_as_other('settings_leak', 'alice.lower', 'alice'),
	'', "alice's code never runs as the session's superuser");

# the worker: the first batch (16 blocks of a table of more than 100), then
# the next one's throttle
query('settings_leak',
	"SET ROLE alice; ALTER TABLE alice.w ADD COLUMN m int DEFAULT alice.mark()");
my $wjob = query('settings_leak', 'SELECT max(job_id) FROM schema_guard.jobs');
wait_for_job_end($node, 'settings_leak', $wjob);
is(query('settings_leak', "SELECT state FROM schema_guard.jobs WHERE job_id = $wjob"),
	'done', 'the job whose code sets the search_path is done');
is(query('settings_leak', 'SELECT count(*) FROM alice.w WHERE m = 1'),
	'20000', 'every row of it is filled');
is(ran_as_other('settings_leak', 'alice.fin', 'alice'),
	'', "alice's code never runs as the worker's superuser");
query('settings_leak', "SELECT schema_guard.cancel($job)");

#
# 2. explain() runs no code of users': not the immutable function a
# default calls, nor a domain's default, nor a domain's check on a literal,
# all of which PostgreSQL's planner or parser would compute.  A superuser
# explains a statement on alice's table.
#
new_database('explain');
new_table('explain', 'alice.t', 'alice');
query(
	'explain', q{
	SET ROLE alice;
	CREATE FUNCTION alice.imm() RETURNS int IMMUTABLE LANGUAGE plpgsql AS $$
	BEGIN RAISE NOTICE 'alice code ran as %', current_user; RETURN 1; END $$;
	CREATE FUNCTION alice.chk(int) RETURNS boolean IMMUTABLE LANGUAGE plpgsql AS $$
	BEGIN RAISE NOTICE 'alice code ran as %', current_user; RETURN true; END $$;
	CREATE FUNCTION alice.vol() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN RAISE NOTICE 'alice code ran as %', current_user; RETURN 1; END $$;
	CREATE DOMAIN alice.d AS int DEFAULT alice.imm();
	CREATE DOMAIN alice.checked AS int CHECK (alice.chk(VALUE));
});
my ($ok, $out, $err) = try_sql(
	'explain', q{
	SELECT "column", risk, action FROM schema_guard.explain($$
	  ALTER TABLE alice.t ADD COLUMN a int DEFAULT alice.imm(),
	                      ADD COLUMN b alice.d,
	                      ADD COLUMN c int DEFAULT alice.imm() + alice.vol()$$);
	SELECT "column", risk, action FROM schema_guard.explain($$
	  ALTER TABLE alice.t ADD COLUMN e alice.checked[] DEFAULT '{1}'$$);
});
ok($ok, 'explain() explains statements that name users\' functions');
is($out, "a|none|pass\nb|none|pass\nc|rewrite|stage\ne||unknown",
	'it judges them without computing what it may not run');
unlike($err, qr/alice code ran/, "no code of alice's ran while explaining");
like(
	query('explain', q{SELECT reason FROM schema_guard.explain(
	  'ALTER TABLE alice.t ADD COLUMN a int DEFAULT alice.imm()')}),
	qr/explain\(\) runs no code of users', so it did not compute alice\.imm\(\)/,
	'and says which function it did not compute');

#
# 3. The fill trigger computes in the job's context, whatever the state of
# the application's session: a PL/pgSQL function the session compiled
# with its own types, an SQL function planned under its search_path, its
# lack of a right the fill needs, custom settings it set.  The table's
# owner is a superuser here; bob is the application.
#
new_database('session_state');
query(
	'session_state', q{
	CREATE DOMAIN public.code AS text;
	CREATE FUNCTION public.compute() RETURNS text VOLATILE LANGUAGE plpgsql AS $$
	DECLARE v code;
	BEGIN v := 'abc'; RETURN v; END $$;
	CREATE FUNCTION public.rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN RETURN 3; END $$;
	CREATE FUNCTION public.lookup() RETURNS int VOLATILE LANGUAGE sql
	  SET search_path = public AS 'SELECT rate()';
	CREATE FUNCTION public.priv() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN RETURN 5; END $$;
	REVOKE EXECUTE ON FUNCTION public.priv() FROM PUBLIC;
	CREATE FUNCTION public.tenant() RETURNS text VOLATILE LANGUAGE plpgsql AS $$
	BEGIN RETURN coalesce(nullif(current_setting('app.tenant', true), ''), 'unset'); END $$;
});
for my $t (qw(compiled planned rights custom))
{
	new_table('session_state', "public.$t", $super);
	query('session_state', "GRANT SELECT, UPDATE ON public.$t TO bob");
}
query(
	'session_state', q{
	SET ROLE bob;
	CREATE FUNCTION bob.evil(text) RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$
	BEGIN
	  RAISE NOTICE 'bob code ran as %', current_user;
	  INSERT INTO public.ran VALUES ('bob.evil', current_user);
	  RETURN true;
	END $$;
	CREATE DOMAIN bob.code AS text CHECK (bob.evil(VALUE));
	CREATE FUNCTION bob.rate() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.ran VALUES ('bob.rate', current_user); RETURN 99; END $$;
});
my @jobs = stage_paused($node,
	'session_state',
	'SET search_path = public',
	'ALTER TABLE public.compiled ADD COLUMN c text DEFAULT public.compute()',
	'ALTER TABLE public.planned ADD COLUMN r int DEFAULT public.lookup()',
	'ALTER TABLE public.rights ADD COLUMN p int DEFAULT public.priv()',
	'ALTER TABLE public.custom ADD COLUMN tn text DEFAULT public.tenant()');

# bob's session compiles public.compute() with bob.code, then updates
($ok, $out, $err) = try_sql(
	'session_state', q{
	SET search_path = bob, public;
	SELECT public.compute();
	UPDATE public.compiled SET x = 'touched' WHERE id = 1;
}, 'bob');
ok(!$ok, 'an update that would compute with what the session compiled fails');
like($err, qr/a schema_guard job cannot use function (public\.)?compute\(\) as this session compiled it/,
	'saying which function and why');
is(ran_as_other('session_state', 'bob.evil', 'bob'),
	'', "bob's code never runs as the table's owner");
unlike($err, qr/bob code ran as $super/, 'not even in the update that fails');
($ok, $out, $err) = try_sql('session_state',
	"UPDATE public.compiled SET x = 'touched' WHERE id = 1 RETURNING c", 'bob');
is($out, 'abc', 'the same update in a new session computes the value');

# making the owner's SQL function inlinable, so that bob's search_path
# would find his rate() when an update plans it, is refused while the job
# computes with it
my ($rc_alter, $out_alter, $err_alter) =
  $node->psql('session_state', 'ALTER FUNCTION public.lookup() RESET search_path');
isnt($rc_alter, 0, 'the function the job computes with cannot be altered while it runs');
like($err_alter, qr/function lookup\(\), with which the job computes column "r", was replaced or altered/,
	'saying which function and why');
($ok, $out, $err) = try_sql(
	'session_state', q{
	SET search_path = bob, public;
	UPDATE public.planned SET x = 'touched' WHERE id = 1 RETURNING r;
}, 'bob');
is($out, '3', "the default's SQL function is planned under the job's search_path");
is(ran_as_other('session_state', 'bob.rate', 'bob'),
	'', "bob's function never runs as the table's owner");

# bob may not execute public.priv(); the job's role may
($ok, $out, $err) = try_sql('session_state',
	"UPDATE public.rights SET x = 'touched' WHERE id = 1 RETURNING p", 'bob');
is($out, '5', 'the fill needs none of the application\'s rights');

# bob sets a custom setting the ALTER's session had not set
($ok, $out, $err) = try_sql(
	'session_state', q{
	SET app.tenant = 'evil';
	UPDATE public.custom SET x = 'touched' WHERE id = 1 RETURNING tn;
	SHOW app.tenant;
}, 'bob');
is($out, "unset\nevil",
	'a custom setting the ALTER had not set is at its default while the fill computes');

# jobs of different owners in one worker: alice's job compiles a shared
# function with alice's types, then bob's job calls it
query(
	'session_state', q{
	CREATE FUNCTION public.shared() RETURNS text VOLATILE LANGUAGE plpgsql AS $$
	DECLARE v code;
	BEGIN v := 'shared'; RETURN v; END $$;
	SET ROLE alice;
	CREATE FUNCTION alice.evil(text) RETURNS boolean VOLATILE LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.ran VALUES ('alice.evil', current_user); RETURN true; END $$;
	CREATE DOMAIN alice.code AS text CHECK (alice.evil(VALUE));
});
new_table('session_state', 'alice.first', 'alice');
new_table('session_state', 'bob.second', 'bob');
my @two = (
	stage_as('session_state', 'alice', 'SET search_path = alice, public',
		'ALTER TABLE alice.first ADD COLUMN s text DEFAULT public.shared()'),
	stage_as('session_state', 'bob', 'SET search_path = public',
		'ALTER TABLE bob.second ADD COLUMN s text DEFAULT public.shared()'));
query('session_state', "SELECT schema_guard.resume($two[0]), schema_guard.resume($two[1])");
wait_for_job_end($node, 'session_state', $_) for @two;
is( query('session_state',
		"SELECT string_agg(state, ',' ORDER BY job_id) FROM schema_guard.jobs WHERE job_id IN ($two[0], $two[1])"),
	'done,done', 'both jobs are done');
is(query('session_state', "SELECT count(*) FROM bob.second WHERE s = 'shared'"),
	'3000', "the second job's rows are all filled");
is(ran_as_other('session_state', 'alice.evil', 'alice'),
	'', "alice's code never runs as bob in the worker");

#
# 4, 5. Views over the job catalog are security barriers, and a job's
# error texts are shown only to roles that may read its table.
#
new_database('views');
new_table('views', 'alice.t', 'alice');
query(
	'views', q{
	SET ROLE alice;
	CREATE TABLE alice.secrets (token text);
	INSERT INTO alice.secrets VALUES ('tok-1234');
	CREATE TABLE alice.flags (fail boolean);
	INSERT INTO alice.flags VALUES (false);
	CREATE FUNCTION alice.fillfn() RETURNS int VOLATILE LANGUAGE plpgsql AS $$
	BEGIN
	  IF (SELECT fail FROM alice.flags) THEN
	    RAISE EXCEPTION 'cannot fill: token %', (SELECT token FROM alice.secrets);
	  END IF;
	  RETURN 1;
	END $$;
	RESET ROLE;
	CREATE SCHEMA mal AUTHORIZATION mallory;
	SET ROLE mallory;
	CREATE FUNCTION mal.leak(text) RETURNS boolean IMMUTABLE COST 0.0001 LANGUAGE plpgsql AS $$
	BEGIN RAISE NOTICE 'seen: %', $1; RETURN true; END $$;
});
($job) = stage_as('views', 'alice',
	"ALTER TABLE alice.t ADD COLUMN f int DEFAULT alice.fillfn() + 0 * length('private-statement')");
($ok, $out, $err) = try_sql(
	'views', q{
	SELECT count(*) FROM schema_guard.history WHERE mal.leak(detail);
	SELECT count(*) FROM schema_guard.progress WHERE mal.leak(last_error);
	SELECT count(*) FROM schema_guard.jobs_visible WHERE mal.leak(statement);
}, 'mallory');
is($out, "0\n0\n0", 'mallory sees no job of alice\'s');
unlike($err, qr/private-statement/, 'not even through a function in her WHERE clause');

query('views', "UPDATE alice.flags SET fail = true; SELECT schema_guard.resume($job)");
poll_job_state($node, 'views', $job, 'failed') or die "job $job did not fail";
my $errors = "SELECT coalesce(v.last_error, '-') || '|' || coalesce(p.last_error, '-') || '|' "
  . "|| coalesce((SELECT max(detail) FROM schema_guard.history WHERE job = $job AND event = 'failed'), '-') "
  . "|| '|' || v.state "
  . "FROM schema_guard.jobs_visible v JOIN schema_guard.progress p ON p.job = v.job_id WHERE v.job_id = $job";
is(query('views', $errors, 'reader'), '-|-|-|failed',
	'a monitoring role sees that the job failed and how, not the error text');
($ok, $out, $err) = try_sql('views', "CALL schema_guard.wait($job)", 'reader');
like($err, qr/job $job failed\nDETAIL:  Its error is shown only to roles that may read table alice\.t\./,
	'nor when it waits for the job');
unlike($err, qr/tok-1234/, 'which does not name the token');
like(query('views', $errors, 'alice'), qr/^cannot fill: token tok-1234\|cannot fill/,
	'the table\'s owner sees the error text');
query('views', 'GRANT SELECT ON alice.t TO reader_of_table');
like(query('views', $errors, 'reader_of_table'), qr/^cannot fill: token tok-1234/,
	'so does a monitoring role that may read the table');
query('views', "SELECT schema_guard.cancel($job)");

#
# 6. A change of the table's owner stops the job: its batches would fire
# the table's ENABLE ALWAYS triggers (alice's) as the new owner.
#
new_database('owner');
new_table('owner', 'alice.t', 'alice');
new_table('owner', 'alice.r', 'alice');
query(
	'owner', q{
	SET ROLE alice;
	CREATE FUNCTION alice.log_trg() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN INSERT INTO public.ran VALUES ('alice.log_trg', current_user); RETURN NEW; END $$;
	CREATE TRIGGER a_log BEFORE UPDATE ON alice.t FOR EACH ROW EXECUTE FUNCTION alice.log_trg();
	ALTER TABLE alice.t ENABLE ALWAYS TRIGGER a_log;
	CREATE TRIGGER a_log BEFORE UPDATE ON alice.r FOR EACH ROW EXECUTE FUNCTION alice.log_trg();
	ALTER TABLE alice.r ENABLE ALWAYS TRIGGER a_log;
});
my @owned = stage_as('owner', 'alice',
	'ALTER TABLE alice.t ADD COLUMN m int DEFAULT (random() * 0)::int',
	'ALTER TABLE alice.r ADD COLUMN m int DEFAULT (random() * 0)::int');
query('owner', "ALTER TABLE alice.t OWNER TO $super");
query('owner', "SELECT schema_guard.resume($owned[0])");
wait_for_job_end($node, 'owner', $owned[0]);
is( query('owner', "SELECT state || ': ' || last_error FROM schema_guard.jobs WHERE job_id = $owned[0]"),
	"failed: table \"t\" changed owner during schema_guard job $owned[0]",
	'a change of owner stops the job, saying so');
is(ran_as_other('owner', 'alice.log_trg', 'alice'),
	'', "alice's trigger never runs as the new owner");
try_sql('owner', "ALTER TABLE alice.t OWNER TO alice; SELECT schema_guard.retry($owned[0])");
wait_for_job_end($node, 'owner', $owned[0]);
is(query('owner', "SELECT state FROM schema_guard.jobs WHERE job_id = $owned[0]"),
	'done', 'given back to its owner, the job carries on and is done');

# the same through REASSIGN OWNED, which gives away alice's trigger function too
query('owner', "REASSIGN OWNED BY alice TO $super");
query('owner', "SELECT schema_guard.resume($owned[1])");
wait_for_job_end($node, 'owner', $owned[1]);
is(query('owner', "SELECT state FROM schema_guard.jobs WHERE job_id = $owned[1]"),
	'failed', 'REASSIGN OWNED stops the job too');
is(ran_as_other('owner', 'alice.log_trg', 'alice'),
	'', "alice's trigger still never ran as another role");

# a tree whose partitions have other owners is not staged: it runs as written
query(
	'owner', q{
	CREATE TABLE alice.parts (id int, x text) PARTITION BY RANGE (id);
	CREATE TABLE alice.parts_1 PARTITION OF alice.parts FOR VALUES FROM (0) TO (5000);
	INSERT INTO alice.parts SELECT g, 'row' FROM generate_series(1, 3000) g;
	ALTER TABLE alice.parts OWNER TO alice;
});
like(
	query('owner', q{SELECT action || ': ' || reason FROM schema_guard.explain(
	  'ALTER TABLE alice.parts ADD COLUMN m int DEFAULT (random() * 0)::int')}),
	qr/^warn: .*table "parts_1" of the tree belongs to another role than the table/,
	'a tree whose partitions belong to other roles runs as written');

#
# 7. A failed job constrains its own tables, not the whole database.
#
new_database('failed');
new_table('failed', 'public.t', $super);
($job) = stage_paused($node, 'failed',
	'ALTER TABLE public.t ADD COLUMN n int NOT NULL DEFAULT (random() * 0)::int');
my $check = query('failed',
	"SELECT check_name FROM schema_guard.job_columns WHERE job_id = $job");
($ok, $out, $err) = try_sql('failed',
	"SET schema_guard.mode = off; ALTER TABLE public.t DROP CONSTRAINT \"$check\"");
is(query('failed', "SELECT state FROM schema_guard.jobs WHERE job_id = $job"),
	'failed', 'a statement run with mode = off fails the job it breaks');
($ok, $out, $err) = try_sql(
	'failed', q{
	CREATE TABLE public.unrelated (x int);
	CREATE INDEX ON public.unrelated (x);
	ALTER TABLE public.unrelated ADD CONSTRAINT positive CHECK (x > 0);
});
ok($ok, 'DDL on other tables runs') or diag($err);
($ok, $out, $err) = try_sql('failed',
	"ALTER TABLE public.t DISABLE TRIGGER \"~schema_guard_fill_$job\"");
ok(!$ok, 'DDL that touches the failed job\'s table is still held to it');
like($err, qr/has an active schema_guard job/, 'naming the job');

#
# The statement that names who holds the table, when an ALTER gives up
# waiting for its lock, runs with PostgreSQL's operators, whatever the
# session's search_path finds first (here an operator alice could create
# in public, a better match than PostgreSQL's own).  It runs in the
# ALTER's transaction, which fails: alice's function says so in a NOTICE.
#
new_database('lockwait');
new_table('lockwait', 'public.t', $super);
query(
	'lockwait', q{
	GRANT CREATE ON SCHEMA public TO alice;
	SET ROLE alice;
	CREATE FUNCTION public.cat(text, integer) RETURNS text LANGUAGE plpgsql AS $$
	BEGIN RAISE NOTICE 'alice code ran as %', current_user; RETURN $1 || $2::text; END $$;
	CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = integer, FUNCTION = public.cat);
});
my $holder = $node->background_psql('lockwait');
$holder->query_safe('BEGIN; LOCK TABLE public.t IN ACCESS SHARE MODE;');
($ok, $out, $err) = try_sql(
	'lockwait', q{
	SET schema_guard.lock_retries = 0;
	SET schema_guard.lock_timeout = '10ms';
	ALTER TABLE public.t ADD COLUMN g uuid DEFAULT gen_random_uuid();
});
ok(!$ok, 'the ALTER gives up waiting for its lock');
like($err, qr/process \d+/, 'naming the process that holds the table');
unlike($err, qr/alice code ran/, "alice's operator never runs as the superuser who ran the ALTER");
$holder->query_safe('COMMIT');
$holder->quit;

done_testing();
