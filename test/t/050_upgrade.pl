# A DBA upgrades a cluster with pg_upgrade while schema_guard jobs are
# paused, then resumes them in the upgraded cluster.  What the users must
# be able to rely on afterwards:
#
# - the server does not crash;
# - no other role's code runs in place of the function the ALTER named;
# - each job either ends done, every row holding the value the ALTER's
#   default gives, or ends failed with an error that names the column;
#   never done with NULLs or wrong values;
# - an application UPDATE of a row not filled yet gets the right value,
#   or fails with a clear error, never "cache lookup failed".
#
# pg_upgrade keeps the OIDs of tables, types and roles, and the table files
# (the job rows come across as they are), but restores functions under new
# OIDs: it sets the new cluster's OID counter only after it restored the
# schema.  A job that kept the OID of the function its default calls finds,
# under that OID in the new cluster, whatever the restore put there.  Any
# role that may create functions can arrange for that to be its own: the
# OID of make_value() is public in pg_proc, the restore creates functions
# in the order of their schemas' names, and the OIDs it hands out start at
# the first one a fresh cluster gives (16384, FirstNormalObjectId), so
# enough functions in a schema that sorts before "public" cover it.
#
# Each case upgrades a fresh cluster holding:
#
# - job A: ALTER TABLE ta ADD COLUMN label text DEFAULT public.make_value(),
#   make_value() a volatile PL/pgSQL function of the table's owner;
# - job B: ALTER TABLE tb ADD COLUMN token uuid NOT NULL DEFAULT
#   gen_random_uuid(), whose NOT NULL ends as the new version's plain ALTER
#   leaves it (18: a validated NOT NULL constraint tb_token_not_null, also
#   when the job was staged by 15 with a helper CHECK);
# - (but for the case without one) the attacker's functions, in schema
#   "aaa": each records that it ran, as whom, in a table of the attacker's
#   and in the server log, then returns 'stolen' (text) or 7 (integer).
#
# The cases: the version under test to itself (the same binaries, a new
# cluster) with the attacker's functions returning text, returning integer,
# and with no attacker; then the same from an older version
# (SG_UPGRADE_FROM_BINDIR, 15 for 18 in scripts/test), whose jobs' node
# trees are in the old version's format: the worker binds each job again
# by name before it reads anything of it (bind.c).
use strict;
use warnings;
use Cwd;
use File::Find;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node init_node stage_paused);

# The first OID a fresh cluster gives out (FirstNormalObjectId).
my $first_normal_oid = 16384;

# Rows per table.
my $rows = 5000;

# The restore gives the attacker's functions consecutive OIDs from
# $first_normal_oid or a little after it on, so that (OID aimed at -
# $first_normal_oid + 1) functions reach it whatever the restore creates
# before them; these many more in case other objects come in between.
my $spare_functions = 64;

# The server log since a byte offset, and what it says about crashes and
# about the attacker's functions.
sub log_since
{
	my ($node, $offset) = @_;
	my $log = slurp_file($node->logfile);
	return substr($log, $offset);
}

sub count_matches
{
	my ($text, $re) = @_;
	my $n = () = $text =~ /$re/g;
	return $n;
}

my $crash_re = qr/terminated by signal|server process .* was terminated/;
my $restart_re = qr/all server processes terminated; reinitializing/;
my $attacker_log_re = qr/attacker function aaa\.\w+ ran as/;

# run_pg_upgrade($old, $new)
#
# Upgrades the stopped cluster $old into the new, stopped cluster $new
# with the pg_upgrade of $new's installation, from a writable directory.
# True if it succeeded.
sub run_pg_upgrade
{
	my ($old, $new) = @_;
	my $old_bindir = $old->config_data('--bindir');
	my $new_bindir = $new->config_data('--bindir');
	my $cwd = getcwd();
	chdir $PostgreSQL::Test::Utils::tmp_check;
	my $upgraded = run_log(
		[
			"$new_bindir/pg_upgrade", '--no-sync',
			'-d', $old->data_dir, '-D', $new->data_dir,
			'-b', $old_bindir, '-B', $new_bindir,
			'-s', $new->host, '-p', $old->port, '-P', $new->port
		]);
	chdir $cwd;
	return $upgraded;
}

# drop_pg_attver($node)
#
# Removes the attribute option pg_attver, which PostgreSQL 15.20 gives
# every column, from the user tables of the running cluster $node: no
# other version knows it, and a restore of the schema into 18 fails on it.
sub drop_pg_attver
{
	my ($node) = @_;
	for my $db ('postgres', 'template1')
	{
		$node->safe_psql(
			$db, q{
			SET allow_system_table_mods = on;
			UPDATE pg_attribute
			   SET attoptions = nullif(array(SELECT o FROM unnest(attoptions) o
			                                  WHERE o NOT LIKE 'pg_attver=%'), '{}')
			 WHERE attrelid >= 16384 AND attoptions::text LIKE '%pg_attver=%';
		});
	}
	return;
}

# The pg_upgrade logs it keeps in the new data directory after a failure.
sub upgrade_log_files
{
	my ($new) = @_;
	my $dir = $new->data_dir . '/pg_upgrade_output.d';
	my @files;
	find(sub { push @files, $File::Find::name if /\.(log|txt)$/ }, $dir)
	  if -d $dir;
	return sort @files;
}

sub print_upgrade_logs
{
	my ($new) = @_;
	print "=== $_ ===\n", slurp_file($_), "=== EOF ===\n"
	  for upgrade_log_files($new);
	return;
}

# plain_upgrade_failure($old_install, $initdb_extra, $prepare)
#
# Why pg_upgrade from the installation at $old_install into a new cluster
# of this one fails for a cluster without schema_guard, or undef when it
# does not fail: an upgrade path that does not work without schema_guard
# tells nothing about schema_guard.  $prepare, if given, is called with
# the running old cluster before it is stopped.
my $plain_attempts = 0;

sub plain_upgrade_failure
{
	my ($old_install, $initdb_extra, $prepare) = @_;
	$plain_attempts++;
	my $old = PostgreSQL::Test::Cluster->new("plain_old$plain_attempts",
		install_path => $old_install);
	$old->init;
	$old->start;
	$old->safe_psql('postgres',
		'CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 1)');
	$prepare->($old) if $prepare;
	$old->stop;
	my $new = PostgreSQL::Test::Cluster->new("plain_new$plain_attempts");
	$new->init(extra => $initdb_extra);
	return undef if run_pg_upgrade($old, $new);
	for my $file (upgrade_log_files($new))
	{
		my ($error) = slurp_file($file) =~ /^(.*\b(?:ERROR|FATAL|error):.*)$/m;
		return $error if defined $error;
	}
	return 'pg_upgrade failed; see its logs in ' . $new->data_dir;
}

# upgrade_case(name => $label, attacker => 'text' | 'integer' | 'none',
#              old_install => $dir, initdb_extra => [...], prepare => $sub)
#
# One upgrade of a fresh cluster of the installation at old_install (the
# one on the PATH when not given) into a new cluster of the PATH's, and the
# checks above.  prepare is called with the running old cluster before it
# is stopped.
sub upgrade_case
{
	my (%p) = @_;
	my $name = $p{name};
	my $attacker = $p{attacker};

	#
	# The old cluster: two paused jobs, and the attacker's functions.
	#
	my $old = new_node("$p{node}_old", install_path => $p{old_install});
	my $q_old = sub { return $old->safe_psql('postgres', $_[0]); };
	$q_old->(qq{
		CREATE EXTENSION schema_guard;
		CREATE ROLE app_owner LOGIN;
		CREATE ROLE app_user LOGIN;
		CREATE ROLE attacker LOGIN;
		GRANT CREATE ON SCHEMA public TO app_owner;
		GRANT CREATE ON DATABASE postgres TO attacker;
		SET ROLE app_owner;
		CREATE FUNCTION public.make_value() RETURNS text
		  LANGUAGE plpgsql VOLATILE
		  AS \$\$ BEGIN RETURN 'good-' || floor(random() * 1e9)::bigint; END \$\$;
		CREATE TABLE ta (id int PRIMARY KEY, v text);
		CREATE TABLE tb (id int PRIMARY KEY, v text);
		INSERT INTO ta SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
		INSERT INTO tb SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
		GRANT SELECT, UPDATE ON ta, tb TO app_user;
	});
	my ($job_a, $job_b) = stage_paused(
		$old, 'postgres',
		'SET ROLE app_owner',
		'ALTER TABLE ta ADD COLUMN label text DEFAULT public.make_value()',
		'ALTER TABLE tb ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()',
		'RESET ROLE');
	my $old_oid = $q_old->("SELECT 'public.make_value()'::regprocedure::oid");

	# The attacker reads that OID like anybody else, and creates enough
	# functions that the restore reaches it with one of them.
	my $functions = 0;
	if ($attacker ne 'none')
	{
		my $seen = $old->safe_psql('postgres',
			"SELECT oid FROM pg_proc WHERE proname = 'make_value'",
			extra_params => [ '-U', 'attacker' ]);
		$functions = $seen - $first_normal_oid + 1 + $spare_functions;
		my ($type, $value) =
		  $attacker eq 'text' ? ('text', q{'stolen'}) : ('integer', '7');
		$old->safe_psql(
			'postgres', qq{
			CREATE SCHEMA aaa;
			GRANT USAGE ON SCHEMA aaa TO PUBLIC;
			CREATE TABLE aaa.ran (fn text, run_as name, at timestamptz DEFAULT now());
			GRANT INSERT ON aaa.ran TO PUBLIC;
			DO \$do\$
			BEGIN
			  FOR i IN 1..$functions LOOP
			    EXECUTE format(\$f\$
			      CREATE FUNCTION aaa.%1\$I() RETURNS $type LANGUAGE plpgsql VOLATILE
			      AS \$b\$
			      BEGIN
			        INSERT INTO aaa.ran (fn, run_as) VALUES (%1\$L, current_user);
			        RAISE WARNING 'attacker function aaa.%1\$s ran as %%', current_user;
			        RETURN $value;
			      END \$b\$ \$f\$, 'f_' || lpad(i::text, 5, '0'));
			  END LOOP;
			END \$do\$;
		}, extra_params => [ '-U', 'attacker' ]);
	}
	note "$name: make_value() has OID $old_oid in the old cluster; "
	  . "the attacker created $functions functions";
	$p{prepare}->($old) if $p{prepare};
	$old->stop;

	#
	# pg_upgrade into a new cluster with the same settings.  pg_upgrade
	# loads every library the old cluster's functions name into the new
	# cluster, and schema_guard loads only when preloaded: the DBA sets
	# shared_preload_libraries in the new cluster before the upgrade.
	#
	my $new = init_node(
		"$p{node}_new",
		extra => $p{initdb_extra},
		conf => q{
# as in production: a crash restarts the server
restart_after_crash = on
});
	my $upgraded = run_pg_upgrade($old, $new);
	ok($upgraded, "$name: pg_upgrade succeeds");
	if (!$upgraded)
	{
		print_upgrade_logs($new);
		return;
	}

	my $log_offset = -s $new->logfile // 0;
	$new->start;
	my $q_new = sub { return $new->safe_psql('postgres', $_[0]); };

	my $at_old_oid = $q_new->(qq{
		SELECT pronamespace::regnamespace || '.' || proname || '() returns '
		       || prorettype::regtype || ', owner ' || proowner::regrole
		  FROM pg_proc WHERE oid = $old_oid});
	my $new_oid = $q_new->("SELECT 'public.make_value()'::regprocedure::oid");
	note "$name: in the new cluster make_value() has OID $new_oid, and OID "
	  . "$old_oid is " . ($at_old_oid eq '' ? 'no function' : $at_old_oid);
	if ($attacker ne 'none')
	{
		like($at_old_oid, qr/^aaa\.f_\d+\(\) returns $attacker, owner attacker$/,
			"$name: the restore gave make_value()'s old OID $old_oid to a function of the attacker"
		);
	}
	is( $q_new->(qq{
		SELECT string_agg(job_id || ' ' || state, ', ' ORDER BY job_id)
		  FROM schema_guard.jobs}),
		"$job_a paused, $job_b paused",
		"$name: the jobs came across, still paused");
	is( $q_new->(qq{
		SELECT (SELECT count(*) FROM ta WHERE id <= 3 AND label IS NULL),
		       (SELECT count(*) FROM tb WHERE id <= 3 AND token IS NULL)}),
		'3|3', "$name: the first rows of both tables are not filled yet");

	#
	# The application updates rows not filled yet: the fill trigger
	# computes their values in its session.
	#
	my %app;
	for my $t ([ 'ta', 'label' ], [ 'tb', 'token' ])
	{
		my ($table, $column) = @$t;
		my ($ret, $out, $err) = $new->psql(
			'postgres',
			"UPDATE $table SET v = v || ' app' WHERE id <= 3 RETURNING $column",
			extra_params => [ '-U', 'app_user' ]);
		$err =~ s/^psql:<stdin>:\d+: //mg;
		$app{$table} = { ret => $ret, out => $out, err => $err };
		note "$name: application UPDATE of $table: exit $ret, "
		  . "returned [" . join(', ', split /\n/, $out) . "], stderr: $err";
		# a crash takes the server through a restart
		$new->poll_query_until('postgres', 'SELECT true')
		  or die "the server did not come back";
	}

	#
	# The DBA resumes the jobs.  They end, or the server crashes again and
	# again (each restart starts the job's worker again): stop waiting at
	# the third crash, then pause the jobs so that the cluster holds still.
	#
	my $crashes_before = count_matches(log_since($new, $log_offset), $crash_re);
	$q_new->("SELECT schema_guard.resume($job_a), schema_guard.resume($job_b)");
	my $ended_sql = qq{
		SELECT count(*) = 2 FROM schema_guard.jobs
		 WHERE job_id IN ($job_a, $job_b) AND state NOT IN ('queued', 'running')};
	my $ended = 0;
	my $crash_loop = 0;
	for (my $i = 0; $i < 10 * $PostgreSQL::Test::Utils::timeout_default; $i++)
	{
		my ($ret, $out) = $new->psql('postgres', $ended_sql);
		if ($ret == 0 && $out eq 't')
		{
			$ended = 1;
			last;
		}
		if (count_matches(log_since($new, $log_offset), $crash_re) >= $crashes_before + 3)
		{
			$crash_loop = 1;
			last;
		}
		usleep(100_000);
	}
	if (!$ended)
	{
		note "$name: the jobs did not end"
		  . ($crash_loop ? ': the server crashed three times since they were resumed' : '');
		$new->poll_query_until(
			'postgres', qq{
			WITH paused AS (
			  SELECT schema_guard.pause(job_id) FROM schema_guard.jobs
			   WHERE job_id IN ($job_a, $job_b) AND state IN ('queued', 'running'))
			SELECT count(*) = 0 FROM paused})
		  or die "the jobs could not be paused";
		$new->poll_query_until(
			'postgres', q{
			SELECT count(*) = 0 FROM pg_stat_activity
			 WHERE backend_type = 'schema_guard worker'})
		  or die "a schema_guard worker keeps running";
	}

	#
	# What the users see.
	#
	my $log = log_since($new, $log_offset);
	my $crashes = count_matches($log, $crash_re);
	my $restarts = count_matches($log, $restart_re);
	is($crashes, 0,
		"$name: the server never crashed (crashes: $crashes, restarts: $restarts)");
	if ($crashes)
	{
		my @lines = grep { /$crash_re/ } split /\n/, $log;
		note "$name: $_" for @lines[ 0 .. ($#lines < 2 ? $#lines : 2) ];
	}

	if ($attacker ne 'none')
	{
		my ($runs, $who) = split /\|/, $q_new->(q{
			SELECT count(*), coalesce(string_agg(DISTINCT fn || ' as ' || run_as, ', '), 'nobody')
			  FROM aaa.ran});
		my $logged = count_matches($log, $attacker_log_re);
		my $stolen = $q_new->(
			q{SELECT count(*) FROM ta WHERE label IN ('stolen', '7')});
		my $app_got = grep { $_->{out} =~ /^(stolen|7)$/m } values %app;
		note "$name: the attacker's functions that ran, and as whom: $who";
		is( "runs recorded $runs, server log lines $logged, "
			  . "its values in ta $stolen, application UPDATEs that got them $app_got",
			'runs recorded 0, server log lines 0, its values in ta 0, '
			  . 'application UPDATEs that got them 0',
			"$name: no function of the attacker ran");
	}

	my %expect = (
		$job_a => {
			table => 'ta',
			column => 'label',
			what => "make_value()'s 'good-<number>'",
			bad_sql => q{SELECT count(*) FILTER (WHERE label IS NULL),
			                    count(*) FILTER (WHERE label !~ '^good-[0-9]+$')
			               FROM ta},
		},
		$job_b => {
			table => 'tb',
			column => 'token',
			what => 'a uuid of its own',
			bad_sql => q{SELECT count(*) FILTER (WHERE token IS NULL),
			                    count(token) - count(DISTINCT token)
			               FROM tb},
		});
	for my $job ($job_a, $job_b)
	{
		my $e = $expect{$job};
		my ($state, $phase, $error) = split /\|/,
		  $q_new->(qq{
			SELECT state, phase, coalesce(last_error, '')
			  FROM schema_guard.jobs WHERE job_id = $job}), 3;
		my ($nulls, $wrong) = split /\|/, $q_new->($e->{bad_sql});
		my $detail = "state $state, phase $phase, error \"$error\", "
		  . "$nulls NULL, $wrong wrong or duplicate values";
		note "$name: job $job ($e->{table}.$e->{column}): $detail";
		ok( ($state eq 'done' && $nulls == 0 && $wrong == 0)
			  || ($state eq 'failed' && $error =~ /\b$e->{column}\b/),
			"$name: job $job ends done with $e->{what} in every row of $e->{table}, "
			  . "or failed naming column $e->{column} ($detail)");
	}

	# the NOT NULL column ends as this version's plain ALTER leaves it
	if ($q_new->("SELECT state FROM schema_guard.jobs WHERE job_id = $job_b") eq 'done')
	{
		is( $q_new->(q{
			SELECT string_agg(conname || ' ' || contype::text || ' ' || convalidated, ', ' ORDER BY conname)
			  FROM pg_constraint WHERE conrelid = 'tb'::regclass}),
			$new->pg_version >= 18
			? 'tb_id_not_null n true, tb_pkey p true, tb_token_not_null n true'
			: 'tb_pkey p true',
			"$name: job $job_b leaves the constraints of the plain ALTER, and no helper check");
	}

	for my $t ([ 'ta', 'label', qr/^good-\d+$/ ],
		[ 'tb', 'token', qr/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/ ])
	{
		my ($table, $column, $right) = @$t;
		my $r = $app{$table};
		my @values = split /\n/, $r->{out};
		my $filled = $r->{ret} == 0 && @values == 3 && !grep { !/$right/ } @values;
		my $clear_error = $r->{ret} != 0
		  && $r->{err} =~ /ERROR:/
		  && $r->{err} !~ /cache lookup failed|server closed the connection|connection to server was lost/;
		ok( $filled || $clear_error,
			"$name: the application UPDATE of $table got the right $column or a clear error "
			  . "(exit $r->{ret}, returned [" . join(', ', @values) . "], stderr: $r->{err})");
	}

	$new->stop('immediate');
	return;
}

my %attackers = (
	text => "the attacker's functions return text",
	integer => "the attacker's functions return integer",
	none => 'no attacker');

# The major version of the installation the tests run on (the PATH's).
my $major = PostgreSQL::Test::Cluster->new('version')->pg_version->major;

for my $attacker ('text', 'integer', 'none')
{
	upgrade_case(
		name => "$major to $major, $attackers{$attacker}",
		node => "u${major}_$attacker",
		attacker => $attacker);
}

#
# From an older major version to this one: SG_UPGRADE_FROM_BINDIR names
# the bin directory of an older installation that has schema_guard
# installed (scripts/test sets it to 15's for 18's suite).
#
SKIP:
{
	my $bindir = $ENV{SG_UPGRADE_FROM_BINDIR};
	skip 'SG_UPGRADE_FROM_BINDIR is not set: no older PostgreSQL to upgrade from', 1
	  unless defined $bindir && $bindir ne '';
	$bindir =~ s{/+$}{};
	skip "SG_UPGRADE_FROM_BINDIR ($bindir) has no postgres or pg_config", 1
	  unless -x "$bindir/postgres" && -x "$bindir/pg_config";
	my $install = $bindir =~ s{/bin$}{}r;
	my $old_major = PostgreSQL::Test::Cluster->new('old_version', install_path => $install)
	  ->pg_version->major;
	skip "SG_UPGRADE_FROM_BINDIR ($bindir) is PostgreSQL $old_major, not older than $major", 1
	  unless $old_major < $major;
	my $pkglibdir = `"$bindir/pg_config" --pkglibdir`;
	my $sharedir = `"$bindir/pg_config" --sharedir`;
	chomp($pkglibdir, $sharedir);
	skip "schema_guard is not installed for PostgreSQL $old_major "
	  . "(make PG_CONFIG=$bindir/pg_config install)", 1
	  unless -f "$pkglibdir/schema_guard.so"
	  && -f "$sharedir/extension/schema_guard.control";

	# from 18 on initdb enables data checksums by default, and pg_upgrade
	# needs them alike in both clusters
	my $initdb_extra = $major >= 18 && $old_major < 18 ? ['--no-data-checksums'] : [];
	my $prepare = undef;
	my $failure = plain_upgrade_failure($install, $initdb_extra);
	# PostgreSQL 15.20 gives every column an attribute option pg_attver,
	# which no other version knows: 18's restore of the schema fails on it
	# ("unrecognized parameter"), with or without schema_guard.  The old
	# cluster loses it first here, as it must before any such upgrade.
	if (defined $failure && $failure =~ /unrecognized parameter "pg_attver"/)
	{
		note "pg_upgrade from $old_major to $major fails without schema_guard too: $failure; "
		  . 'the old clusters lose their columns\' pg_attver options first';
		$prepare = \&drop_pg_attver;
		$failure = plain_upgrade_failure($install, $initdb_extra, $prepare);
	}
	skip "pg_upgrade from PostgreSQL $old_major to $major fails here without schema_guard too: $failure", 1
	  if defined $failure;

	for my $attacker ('text', 'integer', 'none')
	{
		upgrade_case(
			name => "$old_major to $major, $attackers{$attacker}",
			node => "u${old_major}_${major}_$attacker",
			attacker => $attacker,
			old_install => $install,
			initdb_extra => $initdb_extra,
			prepare => $prepare);
	}
}

done_testing();
