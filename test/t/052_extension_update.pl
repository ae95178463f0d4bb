# A DBA who installed schema_guard 0.1 installs the new library and runs
# ALTER EXTENSION schema_guard UPDATE in each database.  What must hold:
#
# - the updated extension is exactly what CREATE EXTENSION makes: the same
#   member objects (pg_describe_object over pg_depend), the same columns
#   in the same order with the same types, defaults and collations, the
#   same constraints, indexes, view definitions, function definitions
#   (signature, language, volatility, C symbol), sequences, grants and
#   comments, and the same tables registered for pg_dump;
# - every C function the 0.1 script names exists in the library, and one
#   whose behaviour changed has a versioned name (0.1's definitions then
#   say "run ALTER EXTENSION ... UPDATE" instead of doing what 0.2 does);
# - jobs that 0.1 recorded and had not finished (one queued, one paused,
#   with a NOT NULL helper check) finish after the update, with every row
#   holding the default's value and the table as the plain ALTER leaves it;
#   until the update, no worker touches them and an application UPDATE of
#   an old row is refused with a hint that names the update.
#
# The 0.1 library is not built here: the library installed is 0.2's.  The
# 0.1 jobs are recorded as 0.1 recorded them: the column added by a plain
# ALTER with its default set afterwards (so old rows read NULL), the fill
# trigger "~schema_guard_fill_N" calling fill_trigger('N'), the helper
# check "<table>_<column>_sgN_not_null", and the rows of 0.1's job tables
# with fill_node the stored default (pg_attrdef.adbin, the form 0.1 kept
# the expression in).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node create_describe wait_for_job_end);

my $node = new_node('extension_update');
my $rows = 4000;

sub query
{
	my ($db, $sql) = @_;
	return $node->safe_psql($db, $sql);
}

# Everything the extension consists of, one line each, sorted.
my $objects_sql = q{
WITH members AS (
  SELECT d.classid, d.objid, d.objsubid
    FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'schema_guard'
     AND d.deptype = 'e'
), rels AS (
  SELECT c.* FROM pg_class c
    JOIN members m ON m.classid = 'pg_class'::regclass AND m.objid = c.oid
)
SELECT line FROM (
  SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
         || coalesce(' comment ' || quote_literal(obj_description(objid,
                       (SELECT relname FROM pg_class WHERE oid = classid))), '') AS line
    FROM members
  UNION ALL
  SELECT format('relation %s kind %s persistence %s options %s owner %s acl %s',
                r.oid::regclass, r.relkind, r.relpersistence, r.reloptions,
                r.relowner::regrole, r.relacl)
    FROM rels r
  UNION ALL
  SELECT format('column %s #%s %s %s%s%s identity %s generated %s collation %s acl %s comment %s',
                r.oid::regclass, row_number() OVER (PARTITION BY r.oid ORDER BY a.attnum),
                a.attname, format_type(a.atttypid, a.atttypmod),
                CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
                coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                a.attidentity::text, a.attgenerated::text, a.attcollation::regcollation,
                a.attacl, col_description(r.oid, a.attnum))
    FROM rels r
    JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
  UNION ALL
  SELECT format('constraint %s %s %s validated %s comment %s', r.oid::regclass, con.conname,
                pg_get_constraintdef(con.oid), con.convalidated,
                obj_description(con.oid, 'pg_constraint'))
    FROM rels r JOIN pg_constraint con ON con.conrelid = r.oid
  UNION ALL
  SELECT format('index %s', pg_get_indexdef(i.indexrelid))
    FROM rels r JOIN pg_index i ON i.indrelid = r.oid
  UNION ALL
  SELECT format('trigger %s', pg_get_triggerdef(t.oid))
    FROM rels r JOIN pg_trigger t ON t.tgrelid = r.oid
  UNION ALL
  SELECT format('view %s %s', r.oid::regclass, pg_get_viewdef(r.oid))
    FROM rels r WHERE r.relkind IN ('v', 'm')
  UNION ALL
  SELECT format('sequence %s %s start %s increment %s min %s max %s cache %s cycle %s owned by %s',
                r.oid::regclass, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement,
                s.seqmin, s.seqmax, s.seqcache, s.seqcycle,
                (SELECT pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid)
                   FROM pg_depend d
                  WHERE d.classid = 'pg_class'::regclass AND d.objid = r.oid
                    AND d.deptype IN ('a', 'i')))
    FROM rels r JOIN pg_sequence s ON s.seqrelid = r.oid
  UNION ALL
  SELECT format('routine %s owner %s acl %s', pg_get_functiondef(p.oid), p.proowner::regrole,
                p.proacl)
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT format('schema %s owner %s acl %s comment %s', n.nspname, n.nspowner::regrole,
                n.nspacl, obj_description(n.oid, 'pg_namespace'))
    FROM pg_namespace n WHERE n.nspname = 'schema_guard'
  UNION ALL
  SELECT format('extension %s version %s schema %s relocatable %s dumped %s conditions %s comment %s',
                e.extname, e.extversion, e.extnamespace::regnamespace, e.extrelocatable,
                (SELECT array_agg(c::regclass::text ORDER BY c::regclass::text)
                   FROM unnest(e.extconfig) c),
                (SELECT array_agg(x ORDER BY x) FROM unnest(e.extcondition) x),
                obj_description(e.oid, 'pg_extension'))
    FROM pg_extension e WHERE e.extname = 'schema_guard'
  UNION ALL
  SELECT format('not a member: %s', c.oid::regclass) FROM pg_class c
   WHERE c.relnamespace = 'schema_guard'::regnamespace AND c.relkind NOT IN ('i', 't')
     AND NOT EXISTS (SELECT 1 FROM members m
                      WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid)
  UNION ALL
  SELECT format('not a member: %s', p.oid::regprocedure) FROM pg_proc p
   WHERE p.pronamespace = 'schema_guard'::regnamespace
     AND NOT EXISTS (SELECT 1 FROM members m
                      WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)
) o ORDER BY line COLLATE "C";
};

#
# The objects: a fresh install against an update from 0.1.
#
query('postgres', 'CREATE DATABASE fresh');
query('postgres', 'CREATE DATABASE updated');
query('fresh', 'CREATE EXTENSION schema_guard');
query('updated', "CREATE EXTENSION schema_guard VERSION '0.1'");
is(query('updated', "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'"),
	'0.1', 'version 0.1 installs');
query('updated', 'ALTER EXTENSION schema_guard UPDATE');
my $default = query('fresh', "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'");
is(query('updated', "SELECT extversion FROM pg_extension WHERE extname = 'schema_guard'"),
	$default, "ALTER EXTENSION ... UPDATE goes to the default version $default");

my @fresh = split /\n/, query('fresh', $objects_sql);
my @updated = split /\n/, query('updated', $objects_sql);
cmp_ok(scalar @fresh, '>', 100, 'the description of the extension has all its parts (' . @fresh . ' lines)');
my %in_fresh = map { $_ => 1 } @fresh;
my %in_updated = map { $_ => 1 } @updated;
my @only_fresh = grep { !$in_updated{$_} } @fresh;
my @only_updated = grep { !$in_fresh{$_} } @updated;
is_deeply(\@updated, \@fresh, 'an update from 0.1 gives the objects a fresh install gives')
  or diag(join("\n", 'only in a fresh install:', @only_fresh, 'only after the update:', @only_updated));
# every kind of object was compared
for my $kind ('member ', 'relation ', 'column ', 'constraint ', 'index ', 'view ', 'sequence ',
	'routine ', 'schema ', 'extension ')
{
	ok((grep { index($_, $kind) == 0 } @fresh), "the comparison covers: $kind");
}

#
# C entry points: every symbol either script names is in the library; the
# ones whose behaviour changed in 0.2 are new symbols, and 0.1's names ask
# for the update.
#
sub symbols_of
{
	my ($file) = @_;
	my %symbols;
	my $sql = slurp_file($file);
	while ($sql =~ /CREATE\s+(?:OR\s+REPLACE\s+)?(?:FUNCTION|PROCEDURE)\s+([\w.]+)\s*\((.*?)\)\s*
			(?:RETURNS\s+(.*?)\s+)?AS\s+'MODULE_PATHNAME',\s*'(\w+)'/gsx)
	{
		my ($name, $args, $returns, $symbol) = ($1, $2, $3 // '', $4);
		s/^\s+|\s+$//g, s/\s+/ /g for $args, $returns;
		$symbols{$name} = { args => $args, returns => $returns, symbol => $symbol };
	}
	return \%symbols;
}
my $v01 = symbols_of('sql/schema_guard--0.1.sql');
my $v02 = symbols_of("sql/schema_guard--$default.sql");
my $update = symbols_of("sql/schema_guard--0.1--$default.sql");
cmp_ok(scalar keys %$v01, '>=', 12, 'the 0.1 script names its C functions');
for my $fn (sort keys %$v02)
{
	my $old = $v01->{$fn};
	my $new = $v02->{$fn};
	if ($old && $old->{args} eq $new->{args} && $old->{returns} eq $new->{returns}
		&& $old->{symbol} eq $new->{symbol})
	{
		ok(!$update->{$fn}, "$fn keeps its 0.1 definition and symbol $new->{symbol}");
		next;
	}
	isnt($new->{symbol}, $old->{symbol}, "$fn changed in $default: its symbol is new ($new->{symbol})")
	  if $old;
	is($update->{$fn}{symbol}, $new->{symbol}, "the update script points $fn at $new->{symbol}")
	  if $old;
}
# Every symbol of either version resolves in the library: a function of 0.1
# with each symbol, created outside the extension, then dropped.
my $probe = join("\n",
	map { my $s = $_; "CREATE FUNCTION pg_temp.probe_$s() RETURNS void AS '\$libdir/schema_guard', '$s' LANGUAGE C;" }
	  sort { $a cmp $b }
	  keys %{ { map { $_->{symbol} => 1 } values %$v01, values %$v02, values %$update } });
my ($rc, $out, $err) = $node->psql('fresh', "BEGIN;\n$probe\nROLLBACK;");
is($rc, 0, 'every C symbol of 0.1 and 0.2 is in the library') or diag($err);

#
# Jobs 0.1 recorded: job 1 queued (a nullable uuid), job 2 paused (NOT NULL
# with its helper check), each on a table of $rows rows.
#
query('postgres', 'CREATE DATABASE jobs');
query('jobs', "CREATE EXTENSION schema_guard VERSION '0.1'");
create_describe($node, 'jobs');
query('jobs', qq{
CREATE FUNCTION public.answer() RETURNS int LANGUAGE plpgsql VOLATILE AS 'BEGIN RETURN 42; END';
CREATE TABLE public.t1 (id int PRIMARY KEY, v text);
CREATE TABLE public.t2 (id int PRIMARY KEY, v text);
INSERT INTO public.t1 SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
INSERT INTO public.t2 SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
-- the twins made as the tables were (LIKE would copy, on 18, the names of
-- the NOT NULL constraints of the tables' own)
CREATE TABLE public.t1_plain (id int PRIMARY KEY, v text);
CREATE TABLE public.t2_plain (id int PRIMARY KEY, v text);
INSERT INTO public.t1_plain SELECT * FROM public.t1;
INSERT INTO public.t2_plain SELECT * FROM public.t2;
});
my $inert = $node->psql('jobs', 'ALTER TABLE public.t1_plain ADD COLUMN probe uuid DEFAULT gen_random_uuid()',
	stderr => \my $inert_notice);
like($inert_notice, qr/ALTER EXTENSION schema_guard UPDATE/,
	'before the update, schema_guard lets statements through and says how to update');
is(query('jobs', 'SELECT count(*) FROM schema_guard.jobs'), '0', 'and stages nothing');
query('jobs', 'ALTER TABLE public.t1_plain DROP COLUMN probe');
query('jobs', q{
SET schema_guard.mode = off;
ALTER TABLE public.t1_plain ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE public.t2_plain ADD COLUMN n int NOT NULL DEFAULT public.answer();
});

# What 0.1's staging left: the column, its default, the helper check, the
# fill trigger, and the job's rows.
sub record_01_job
{
	my (%j) = @_;
	my $notnull = $j{not_null} ? 'true' : 'false';
	my $check = $j{not_null} ? "'$j{table}_$j{column}_sg$j{job}_not_null'" : 'NULL';
	query('jobs', qq{
BEGIN;
ALTER TABLE public.$j{table} ADD COLUMN $j{column} $j{type};
ALTER TABLE public.$j{table} ALTER COLUMN $j{column} SET DEFAULT $j{default};
} . ($j{not_null} ? qq{ALTER TABLE public.$j{table} ADD CONSTRAINT $j{table}_$j{column}_sg$j{job}_not_null CHECK ($j{column} IS NOT NULL) NOT VALID;
} : '') . qq{
CREATE TRIGGER "~schema_guard_fill_$j{job}" BEFORE UPDATE ON public.$j{table}
    FOR EACH ROW EXECUTE FUNCTION schema_guard.fill_trigger('$j{job}');
ALTER TABLE public.$j{table} ENABLE ALWAYS TRIGGER "~schema_guard_fill_$j{job}";
SELECT setval('schema_guard.jobs_job_id_seq', $j{job});
INSERT INTO schema_guard.jobs (job_id, relid, role, state, statement, search_path,
       trigger_name, blocks_total, batch_blocks, added_columns, locked_at, lock_wait)
SELECT $j{job}, 'public.$j{table}'::regclass, current_user::regrole, '$j{state}',
       'ALTER TABLE public.$j{table} ADD COLUMN $j{column} $j{type}'
         || CASE WHEN $notnull THEN ' NOT NULL' ELSE '' END || ' DEFAULT $j{default}',
       '"\$user", public', '~schema_guard_fill_$j{job}',
       pg_relation_size('public.$j{table}') / current_setting('block_size')::int,
       1, ARRAY[a.attnum], now(), interval '1 ms'
  FROM pg_attribute a WHERE a.attrelid = 'public.$j{table}'::regclass AND a.attname = '$j{column}';
INSERT INTO schema_guard.job_columns (job_id, attnum, colname, kind, fill_expr, fill_node,
       not_null, check_name)
SELECT $j{job}, a.attnum, a.attname, 'default', pg_get_expr(d.adbin, d.adrelid), d.adbin::text,
       $notnull, $check
  FROM pg_attribute a JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = 'public.$j{table}'::regclass AND a.attname = '$j{column}';
INSERT INTO schema_guard.job_leaves (job_id, relid, pass, end_block, relfilenode, min_attnum)
SELECT $j{job}, c.oid, 1, pg_relation_size(c.oid) / current_setting('block_size')::int,
       c.relfilenode, a.attnum
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = '$j{column}'
 WHERE c.oid = 'public.$j{table}'::regclass;
INSERT INTO schema_guard.job_events (job_id, event, detail) VALUES ($j{job}, 'created', NULL);
COMMIT;
});
	return;
}
record_01_job(job => 1, table => 't1', column => 'token', type => 'uuid',
	default => 'gen_random_uuid()', state => 'queued');
record_01_job(job => 2, table => 't2', column => 'n', type => 'int',
	default => 'public.answer()', not_null => 1, state => 'paused');
is(query('jobs', "SELECT count(*) FROM public.t1 WHERE token IS NULL"), $rows,
	"0.1's job 1: every old row reads NULL");

# The DBA installed the new library and restarted the server, which looks
# at every database at start.  Until the update: no job runs, and the fill
# trigger says what to do.
$node->restart;
($rc, $out, $err) = $node->psql('jobs', 'UPDATE public.t1 SET v = v WHERE id = 1');
isnt($rc, 0, 'before the update, an UPDATE of an old row is refused');
like($err, qr/older than its library.*\n.*HINT:\s+Run ALTER EXTENSION schema_guard UPDATE/s,
	'with a hint naming the update');
is(query('jobs', "SELECT state || ' ' || rows_done FROM schema_guard.jobs WHERE job_id = 1"),
	'queued 0', 'before the update, no worker ran the queued 0.1 job');

# The update; the queued job then runs without anything else to wake it.
query('jobs', 'ALTER EXTENSION schema_guard UPDATE');
is(query('jobs', 'SELECT count(*) FROM schema_guard.job_objects WHERE job_id = 1'), '1',
	"the update recorded job 1's fill trigger");
is(query('jobs', "SELECT string_agg(kind, ', ' ORDER BY kind) FROM schema_guard.job_objects WHERE job_id = 2"),
	'fill trigger, helper check', "and job 2's fill trigger and helper check");
is(query('jobs', "SELECT bound_to <> '' AND fill_sql IS NOT NULL AND atttype = 'uuid'::regtype
                    FROM schema_guard.jobs JOIN schema_guard.job_columns USING (job_id) WHERE job_id = 1"),
	't', "job 1 is bound to this cluster, with its expression qualified and its column's type");
wait_for_job_end($node, 'jobs', 1);
is(query('jobs', "SELECT state || ' ' || phase FROM schema_guard.jobs WHERE job_id = 1"),
	'done done', 'the queued job 0.1 recorded ends done after the update');

# The paused one: an application UPDATE of an old row gets its value from
# the fill trigger; resumed, it ends done.
query('jobs', 'UPDATE public.t2 SET v = v WHERE id = 7');
is(query('jobs', 'SELECT n FROM public.t2 WHERE id = 7'), '42',
	'after the update, the fill trigger fills an old row the application updates');
query('jobs', 'SELECT schema_guard.resume(2)');
wait_for_job_end($node, 'jobs', 2);
is(query('jobs', "SELECT state || ' ' || phase FROM schema_guard.jobs WHERE job_id = 2"),
	'done done', 'the paused job 0.1 recorded, resumed, ends done');
is(query('jobs', 'SELECT count(*), count(token), count(DISTINCT token) FROM public.t1'),
	"$rows|$rows|$rows", 'job 1: every row has its own uuid');
is(query('jobs', 'SELECT count(*) FROM public.t2 WHERE n IS DISTINCT FROM 42'), '0',
	"job 2: every row has the default's value");
is(query('jobs', "SELECT describe('public.t1')"), query('jobs', "SELECT describe('public.t1_plain')"),
	't1 ends as the plain ALTER leaves its twin');
is(query('jobs', "SELECT describe('public.t2')"), query('jobs', "SELECT describe('public.t2_plain')"),
	't2 ends as the plain ALTER leaves its twin (NOT NULL, no helper check, no trigger)');
is(query('jobs', 'SELECT count(*) FROM (SELECT * FROM public.t2 EXCEPT SELECT * FROM public.t2_plain) d'),
	'0', 't2 holds the rows its twin holds');

done_testing();
