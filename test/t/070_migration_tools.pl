# Real migration tools, as an application deploys with them: Django
# (Debian's python3-django) and ActiveRecord (Debian's ruby-activerecord).
# Each tool's migration runs in a transaction, on a guarded table of
# 100,000 rows that two pgbench clients update and read meanwhile; once
# schema_guard's jobs are done, the table must be what stock PostgreSQL
# gives for the same migration (run on another database with
# schema_guard.mode = off): columns, NOT NULL, defaults, constraints with
# their validation, indexes with their validity.  A tool that is not
# installed is skipped, saying so (scripts/setup installs both).
use strict;
use warnings;
use File::Basename qw(dirname);
use Cwd qw(abs_path);
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node create_describe);

my $tools = abs_path(dirname(__FILE__) . '/../tools');
my $rows = 100_000;

my %tool = (
	django => {
		check => [ '/usr/bin/python3', '-c', 'import django, psycopg2' ],
		package => 'python3-django and python3-psycopg2',
		migrate => sub { [ '/usr/bin/python3', "$tools/django/migrate.py", @_ ] },
		create => '0001', change => '0002',
		table => 'shop_order', customers => 'shop_customer',
	},
	activerecord => {
		check => [ 'ruby', '-e', "require 'active_record'; require 'pg'" ],
		package => 'ruby-activerecord and ruby-pg',
		migrate => sub { [ 'ruby', "$tools/activerecord/migrate.rb", @_ ] },
		create => '20240101000001', change => '20240101000002',
		table => 'orders', customers => 'customers',
	});

my $node = new_node('migration_tools');
local $ENV{PGHOST} = $node->host;
local $ENV{PGPORT} = $node->port;
my $tmp = PostgreSQL::Test::Utils::tempdir;

# Run a tool's migration command; returns its exit status and output.
sub migrate
{
	my ($name, $db, $target) = @_;
	my ($out, $err) = ('', '');
	my $ok = IPC::Run::run($tool{$name}{migrate}->($db, $target),
		'>', \$out, '2>', \$err);
	return ($ok, "$out$err");
}

foreach my $name (sort keys %tool)
{
	my $t = $tool{$name};
  SKIP:
	{
		skip "$name is not installed (Debian's $t->{package}; scripts/setup installs it)", 1
		  unless IPC::Run::run($t->{check}, '>', \my $o, '2>', \my $e);

		my ($guarded, $plain) = ("${name}_guarded", "${name}_plain");
		foreach my $db ($guarded, $plain)
		{
			$node->safe_psql('postgres', "CREATE DATABASE $db");
			$node->safe_psql($db, 'CREATE EXTENSION schema_guard');
			create_describe($node, $db);
			my ($ok, $out) = migrate($name, $db, $t->{create});
			ok($ok, "$name creates the tables in $db") or diag $out;
			$node->safe_psql($db, qq{
				INSERT INTO $t->{customers} (name) SELECT 'c' || g FROM generate_series(1, 100) g;
				INSERT INTO $t->{table} (amount) SELECT g % 1000 FROM generate_series(1, $rows) g;
				VACUUM ANALYZE $t->{table};
			});
		}
		$node->safe_psql('postgres', "ALTER DATABASE $plain SET schema_guard.mode = off");

		# the application: two clients updating and reading rows, while the
		# migration runs (and its jobs, for the guarded table)
		my $script = "$tmp/$name.sql";
		open my $fh, '>', $script or die $!;
		print $fh "\\set id random(1, $rows)\n"
		  . "UPDATE $t->{table} SET amount = amount + 1 WHERE id = :id;\n"
		  . "SELECT amount FROM $t->{table} WHERE id = :id;\n";
		close $fh;
		my %worst;
		foreach my $db ($guarded, $plain)
		{
			my ($bench_out, $bench_err) = ('', '');
			local $ENV{PGAPPNAME} = 'pgbench';
			my $bench = IPC::Run::start(
				[ 'pgbench', '-n', '-c', '2', '-j', '2', '-T', '8', '-f', $script,
				  '-l', "--log-prefix=$tmp/$db", $db ],
				'>', \$bench_out, '2>', \$bench_err);
			# (once pgbench's clients are connected)
			$node->poll_query_until($db,
				"SELECT count(*) >= 2 FROM pg_stat_activity WHERE application_name = 'pgbench'");
			my ($ok, $out) = migrate($name, $db, $t->{change});
			ok($ok, "$name migrates $db under load") or diag $out;
			if ($db eq $guarded)
			{
				ok( $node->poll_query_until($db,
						"SELECT count(*) = 0 FROM schema_guard.jobs WHERE state <> 'done'"),
					"$name: schema_guard's jobs are done")
				  or diag $node->safe_psql($db,
					'SELECT job_id, state, phase, last_error FROM schema_guard.jobs');
				note "$name: jobs: " . $node->safe_psql($db,
					"SELECT string_agg(left(statement, 60), ' | ' ORDER BY job_id) FROM schema_guard.jobs");
				cmp_ok($node->safe_psql($db, 'SELECT count(*) FROM schema_guard.jobs'), '>', 0,
					"$name: the migration went through schema_guard's jobs");
			}
			$bench->finish;
			like($bench_out, qr/number of failed transactions: 0 /,
				"$name: the application's transactions on $db all succeeded")
			  or diag "$bench_out$bench_err";
			# the slowest transaction, from pgbench's per-transaction logs (us)
			$worst{$db} = 0;
			foreach my $log (glob "$tmp/$db.*")
			{
				open my $lf, '<', $log or die $!;
				while (<$lf>)
				{
					my @f = split;
					$worst{$db} = $f[2] if $f[2] > $worst{$db};
				}
				close $lf;
			}
			note sprintf "%s on %s: slowest application transaction %.1f ms; %s",
			  $name, $db, $worst{$db} / 1000, join(' ', $bench_out =~ /^(tps = [\d.]+)/mg);
		}

		is( $node->safe_psql($guarded, "SELECT describe('$t->{table}')"),
			$node->safe_psql($plain, "SELECT describe('$t->{table}')"),
			"$name: the guarded table ends as stock PostgreSQL leaves it");
		is( $node->safe_psql($guarded, "SELECT count(*) FROM $t->{table}"),
			$rows, "$name: every row is there");
		if ($name eq 'activerecord')
		{
			is( $node->safe_psql($guarded,
					"SELECT count(*) = count(DISTINCT token) FROM $t->{table}"),
				't', "$name: every row has a token of its own");
		}
	}
}

$node->stop;
done_testing();
