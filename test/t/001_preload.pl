# schema_guard needs shared_preload_libraries: without it, CREATE EXTENSION
# fails with an error that names the setting, and nothing is created.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(poll_launcher_running);

my $node = PostgreSQL::Test::Cluster->new('no_preload');
$node->init;
$node->start;

my ($ret, $stdout, $stderr) =
  $node->psql('postgres', 'CREATE EXTENSION schema_guard');
isnt($ret, 0, 'CREATE EXTENSION fails without preloading');
like($stderr, qr/schema_guard must be loaded via shared_preload_libraries/,
	'the error says why');
like($stderr, qr/HINT:  Add schema_guard to the shared_preload_libraries setting/,
	'the hint names the setting');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_namespace WHERE nspname = 'schema_guard'"),
	'0', 'nothing is left behind');

# With the library preloaded it installs, and the launcher runs.
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'schema_guard'");
$node->restart;
$node->safe_psql('postgres', 'CREATE EXTENSION schema_guard');
ok(poll_launcher_running($node), 'the launcher is running');

$node->stop;
done_testing();
