# In binary-upgrade mode (the mode pg_upgrade starts servers in, postgres -b)
# schema_guard must behave exactly like PostgreSQL without it: a risky
# ADD COLUMN is not staged, no job is created, and the statement succeeds or
# fails just as it does with schema_guard.mode = off.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('binary_upgrade');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'schema_guard'");
$node->append_conf('postgresql.conf', "schema_guard.min_table_size = 0");
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION schema_guard;
	CREATE TABLE t (id int);
	INSERT INTO t SELECT generate_series(1, 1000);
});

my $risky = 'ALTER TABLE t ADD COLUMN c float8 DEFAULT random()';

# In normal operation the risky statement is staged.
my ($ret, $stdout, $stderr) =
  $node->psql('postgres', "BEGIN; $risky; ROLLBACK;");
like($stderr, qr/NOTICE:  schema_guard staged ALTER TABLE "t"/,
	'outside binary-upgrade mode the statement is staged');

# Restart as pg_upgrade does: postgres -b.
$node->stop;
command_ok(
	[
		'pg_ctl', '-w', '-D', $node->data_dir, '-l', $node->logfile,
		'-o', '-b', 'start'
	],
	'the server starts in binary-upgrade mode');
# let the test framework stop it at the end, whatever happens
$node->_update_pid(1);

is($node->safe_psql('postgres', 'SHOW schema_guard.mode'),
	'rewrite', 'schema_guard.mode is rewrite');

my $state_sql = q{
	SELECT pg_relation_filenode('t') || ' '
		|| (SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute
			 WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped) || ' '
		|| (SELECT count(*) FROM schema_guard.jobs)
};
my $state_before = $node->safe_psql('postgres', $state_sql);

# A rewrite needs OIDs that pg_upgrade assigns ahead of time, so in
# binary-upgrade mode PostgreSQL rejects this statement.  schema_guard must
# not stage it into a success: the same error as with mode off.
my ($ret_guard, $out_guard, $err_guard) = $node->psql('postgres', $risky);
my ($ret_off, $out_off, $err_off) = $node->psql('postgres',
	"SET schema_guard.mode = off; $risky");
isnt($ret_guard, 0, 'the risky statement fails, as in PostgreSQL');
like($err_guard,
	qr/ERROR:  pg_class heap OID value not set when in binary upgrade mode/,
	'with PostgreSQL\'s own error');
unlike($err_guard, qr/schema_guard/, 'schema_guard says nothing');
is($ret_guard, $ret_off, 'the same outcome as with mode off');
is($err_guard =~ s/^psql:<stdin>:\d+: //mgr,
	$err_off =~ s/^psql:<stdin>:\d+: //mgr,
	'the same messages as with mode off');
is($node->safe_psql('postgres', $state_sql),
	$state_before, 'no job, and the table is unchanged');

# A harmless form runs as written, silently.
($ret, $stdout, $stderr) =
  $node->psql('postgres', 'ALTER TABLE t ADD COLUMN d int DEFAULT 7');
is($ret, 0, 'a harmless ADD COLUMN succeeds');
is($stderr, '', 'without a message');
is($node->safe_psql('postgres', 'SELECT count(*) FROM t WHERE d = 7'),
	'1000', 'every row reads the default');
is($node->safe_psql('postgres', 'SELECT count(*) FROM schema_guard.jobs'),
	'0', 'no job was created');

$node->stop;
done_testing();
