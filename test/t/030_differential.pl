# Full run (300 statements): SG_FUZZ_COUNT=300 make installcheck REGRESS= ISOLATION= PROVE_TESTS=test/t/030_differential.pl
#
# Differential test: generated ALTER TABLE ... ADD COLUMN statements, and
# after them ALTER TABLE ... ADD UNIQUE / PRIMARY KEY statements,
# statements that only SET NOT NULL on existing columns, and CREATE INDEX,
# ADD CHECK and ADD FOREIGN KEY on existing columns, half of them in a
# transaction block (test/fuzz/gen_add_column.pl), run once on PostgreSQL's own behaviour and
# once under schema_guard, and must end in the same state.
#
# One cluster preloads schema_guard and holds two copies of one database of
# fixtures: in "stock" every statement runs with schema_guard.mode = off,
# in "guarded" in the default mode, with schema_guard.min_table_size = 0 so
# that small tables are staged too.  Each statement has a fixture table of
# its own (with children or partitions for some), so one outcome never
# bleeds into another.  All statements run first; then the jobs finish;
# then both databases are compared:
#	- outcome: a statement that succeeds in stock must succeed under
#	  schema_guard, and its jobs must end done.  One that fails in stock
#	  must fail under schema_guard with the same SQLSTATE and message, or
#	  stage a job that fails with stock's message as last_error; such a job
#	  is reverted, after which the table must be as stock left it (except
#	  for the dropped attributes a revert leaves, which only a rewrite
#	  removes), plus the effect of the statement's other subcommands that
#	  do not name an added column: those ran, and a revert keeps them.  Forms schema_guard refuses by design in the default mode
#	  (stored generated columns, domains with constraints) are run again
#	  with schema_guard.mode = off, as the refusal's hint says, and must
#	  then end as in stock, success or error; so the refusal must have left
#	  nothing behind.  Where stock fails too, the refusal stands in for
#	  stock's error: often only the data tells that the statement fails.
#	- catalogs: relations, columns (dropped ones included), constraints,
#	  indexes and their validity, triggers (none of schema_guard's may be
#	  left), sequences with their options and last values (except after a
#	  statement that fails: how far it drew is not comparable), inheritance
#	  and partition bounds.
#	- data: the row count of every table, and for each column what its
#	  class (from the generator) allows comparing: every value of columns
#	  with deterministic values, the set of values drawn from a sequence,
#	  distinctness of unique random values, the number of distinct values of
#	  a stable default like now(), and for random values only which rows
#	  are NULL.  Random values cannot be compared otherwise.
#
# SG_FUZZ_COUNT (default 150) and SG_FUZZ_SEED choose the statements; every
# mismatch is reported with its statement.
use strict;
use warnings;
use FindBin;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node);

require "$FindBin::RealBin/../fuzz/gen_add_column.pl";

my $count = $ENV{SG_FUZZ_COUNT} // 150;
my $node = new_node('differential');
# the statements of the server's version: 18's forms on 18
my $major = $node->pg_version->major;
# and after them, statements of SET NOT NULL alone on existing columns
my $gen = GenAddColumn::generate(seed => $ENV{SG_FUZZ_SEED}, count => $count,
	server_version => $major);
my $seed = $gen->{seed};
my @cases = @{ $gen->{cases} };
my %case = map { $_->{no} => $_ } @cases;
note "seed $seed, $count statements, PostgreSQL $major";

# What both databases use to record and describe what happened.
my $harness = q{
CREATE EXTENSION schema_guard;
CREATE SCHEMA fuzz;

-- each statement's outcome, and the last job number when it ended
CREATE TABLE fuzz.outcome (no int PRIMARY KEY, sqlstate text, message text, upto bigint);
CREATE FUNCTION fuzz.record(no int, state text, msg text) RETURNS void LANGUAGE sql AS $$
  INSERT INTO fuzz.outcome
  SELECT no, state, CASE WHEN state <> '00000' THEN msg END,
         (SELECT coalesce(max(job_id), 0) FROM schema_guard.jobs)
$$;

-- revert a job; the error, if it fails
CREATE FUNCTION fuzz.try_revert(job bigint) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  PERFORM schema_guard.revert(job);
  RETURN NULL;
EXCEPTION WHEN OTHERS THEN
  RETURN SQLERRM;
END $$;

-- whose is a relation: fixture relations' names start with t<N> or T<N>
CREATE FUNCTION fuzz.case_of(relname name) RETURNS int LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce((regexp_match(relname, '^[tT](\d+)'))[1]::int, 0)
$$;

CREATE VIEW fuzz.rels AS
  SELECT c.oid, c.oid::regclass AS rel, c.relkind, fuzz.case_of(c.relname) AS no
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname IN ('public', 'fx', 'Fx Schema');

-- everything PostgreSQL records about the fixtures
CREATE FUNCTION fuzz.catalog() RETURNS TABLE (no int, line text) LANGUAGE sql STABLE AS $$
  SELECT r.no, format('relation %s kind=%s persistence=%s', r.rel, r.relkind, c.relpersistence)
    FROM fuzz.rels r JOIN pg_class c ON c.oid = r.oid
  UNION ALL
  SELECT r.no, format('inherits %s from %s bound=%s', r.rel, i.inhparent::regclass,
                      pg_get_expr(c.relpartbound, c.oid))
    FROM fuzz.rels r JOIN pg_inherits i ON i.inhrelid = r.oid JOIN pg_class c ON c.oid = r.oid
  UNION ALL
  SELECT r.no, CASE WHEN a.attisdropped
           THEN format('dropped-column %s %s', r.rel, a.attnum)
           ELSE format('column %s %s %s %s notnull=%s default=%s identity=%s generated=%s collation=%s local=%s inhcount=%s',
                       r.rel, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                       pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                       CASE WHEN a.attcollation <> 0 THEN a.attcollation::regcollation::text END,
                       a.attislocal, a.attinhcount) END
    FROM fuzz.rels r JOIN pg_attribute a ON a.attrelid = r.oid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE r.relkind IN ('r', 'p') AND a.attnum > 0
  UNION ALL
  SELECT r.no, format('constraint %s %s type=%s %s validated=%s local=%s inhcount=%s',
                      r.rel, k.conname, k.contype, pg_get_constraintdef(k.oid), k.convalidated,
                      k.conislocal, k.coninhcount)
    FROM fuzz.rels r JOIN pg_constraint k ON k.conrelid = r.oid
  UNION ALL
  SELECT r.no, format('index %s valid=%s ready=%s', pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready)
    FROM fuzz.rels r JOIN pg_index i ON i.indrelid = r.oid
  UNION ALL
  SELECT r.no, format('trigger %s %s enabled=%s', r.rel, pg_get_triggerdef(t.oid), t.tgenabled)
    FROM fuzz.rels r JOIN pg_trigger t ON t.tgrelid = r.oid
   WHERE NOT t.tgisinternal
  UNION ALL
  SELECT r.no, format('sequence %s type=%s start=%s increment=%s min=%s max=%s cache=%s cycle=%s last_value=%s owned_by=%s',
                      r.rel, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin,
                      s.seqmax, s.seqcache, s.seqcycle, pg_sequence_last_value(r.oid),
                      (SELECT string_agg(format('%s.%s(%s)', dep.refobjid::regclass, a.attname, dep.deptype), ', ')
                         FROM pg_depend dep
                         JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
                        WHERE dep.classid = 'pg_class'::regclass AND dep.objid = r.oid
                          AND dep.refclassid = 'pg_class'::regclass AND dep.deptype IN ('a', 'i')))
    FROM fuzz.rels r JOIN pg_sequence s ON s.seqrelid = r.oid
$$;

-- what the data of every table allows comparing, column by column
CREATE FUNCTION fuzz.data(classes jsonb) RETURNS TABLE (no int, line text) LANGUAGE plpgsql AS $$
DECLARE
  r record;
  names text[];
  exprs text[];
  vals text[];
  c text;
BEGIN
  FOR r IN SELECT * FROM fuzz.rels WHERE relkind = 'r' ORDER BY rel::text LOOP
    SELECT array_agg(a.attname::text ORDER BY a.attnum),
           array_agg(CASE coalesce(classes -> r.no::text ->> a.attname, 'exact')
             WHEN 'exact' THEN
               format('count(%1$s) || '' '' || coalesce(md5(string_agg(quote_nullable(%1$s::text), '','' ORDER BY id, %1$s::text)), ''-'')', quote_ident(a.attname))
             WHEN 'const' THEN
               format('count(%1$s) || '' '' || count(DISTINCT %1$s::text)', quote_ident(a.attname))
             WHEN 'distinct' THEN
               format('count(%1$s) || '' '' || (count(DISTINCT %1$s::text) = count(%1$s))', quote_ident(a.attname))
             WHEN 'seq' THEN
               format('concat_ws('' '', count(%1$s), count(DISTINCT %1$s), min(%1$s), max(%1$s), md5(string_agg(%1$s::text, '','' ORDER BY %1$s)))', quote_ident(a.attname))
             ELSE format('count(%1$s)::text', quote_ident(a.attname))
           END ORDER BY a.attnum)
      INTO names, exprs
      FROM pg_attribute a
     WHERE a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('SELECT ARRAY[count(*)::text, %s] FROM ONLY %s', array_to_string(exprs, ', '), r.rel)
      INTO vals;
    no := r.no;
    line := format('rows %s %s', r.rel, vals[1]);
    RETURN NEXT;
    FOR i IN 1 .. array_length(names, 1) LOOP
      line := format('data %s %s %s', r.rel, names[i], vals[i + 1]);
      RETURN NEXT;
    END LOOP;
  END LOOP;
END $$;
};

# The fixtures are built once, with schema_guard off, and copied.
my $fixtures = "SET schema_guard.mode = off;\n" . $gen->{prelude}
  . join('', map { join("\n", @{ $_->{setup} }) . "\n" } @cases);
$node->safe_psql('postgres', 'CREATE DATABASE fixtures');
$node->safe_psql('fixtures', $harness);
$node->safe_psql('fixtures', $fixtures);
$node->safe_psql('postgres', 'ALTER DATABASE fixtures ALLOW_CONNECTIONS false');
$node->safe_psql('postgres', "CREATE DATABASE $_ TEMPLATE fixtures") for qw(stock guarded);
is($node->safe_psql('guarded', 'SHOW schema_guard.mode'), 'rewrite',
	'guarded runs in the default mode');

# A statement and the record of its outcome.  In a transaction block the
# outcome is the statement's error, or else COMMIT's.
sub run_sql
{
	my ($c) = @_;
	return "$c->{sql};\nSELECT fuzz.record($c->{no}, :'SQLSTATE', :'LAST_ERROR_MESSAGE');\n"
	  unless $c->{block};
	return "BEGIN;\n$c->{sql};\n\\set stmt_state :SQLSTATE\nCOMMIT;\n"
	  . "SELECT fuzz.record($c->{no}, CASE WHEN :'stmt_state' <> '00000' THEN :'stmt_state' ELSE :'SQLSTATE' END, :'LAST_ERROR_MESSAGE');\n";
}

# Run every statement, recording its SQLSTATE and message.
sub run_statements
{
	my ($db, $header, @nos) = @_;
	my $script = $header . join('', map { run_sql($case{$_}) } @nos);
	my ($stdout, $stderr);
	$node->psql($db, $script, stdout => \$stdout, stderr => \$stderr,
		on_error_stop => 0);
	return $stderr;
}

my $t0 = time;
my $guard_messages = run_statements('guarded', "SET schema_guard.min_table_size = 0;\n",
	map { $_->{no} } @cases);
run_statements('stock', "SET schema_guard.mode = off;\n", map { $_->{no} } @cases);
my @staged = $guard_messages =~ /schema_guard staged ALTER TABLE/g;
my @passed = $guard_messages =~ /WARNING:  ADD COLUMN .* locks table/g;
note sprintf('statements ran in %d s; %d staged, %d warnings of plain runs',
	time - $t0, scalar @staged, scalar @passed);

# Let every job finish: wait for the oldest one still queued or running.
sub wait_for_jobs
{
	for (;;)
	{
		my $job = $node->safe_psql('guarded',
			"SELECT min(job_id) FROM schema_guard.jobs WHERE state IN ('queued', 'running')");
		last if $job eq '';
		my ($ret, $out, $err) = $node->psql('guarded',
			"SET client_min_messages = warning; CALL schema_guard.wait($job, '3 min')");
		die "waiting for job $job: $err" if $err =~ /timed out waiting/;
	}
}
wait_for_jobs();
note sprintf('jobs done after %d s', time - $t0);

sub query_json
{
	my ($db, $sql) = @_;
	my $json = $node->safe_psql($db, "SELECT coalesce(json_agg(x), '[]') FROM ($sql) x");
	return decode_json($json);
}

# outcome per statement; for guarded, also the jobs it staged
my $outcome_sql = q{
  SELECT o.no, o.sqlstate, o.message,
         (SELECT coalesce(json_agg(json_build_object('job', j.job_id, 'state', j.state,
                                                     'last_error', j.last_error) ORDER BY j.job_id), '[]')
            FROM schema_guard.jobs j
           WHERE j.job_id > o.since AND j.job_id <= o.upto) AS jobs
    FROM (SELECT *, coalesce(lag(upto) OVER (ORDER BY no), 0) AS since FROM fuzz.outcome) o
};
my %stock = map { $_->{no} => $_ } @{ query_json('stock', $outcome_sql) };
my %guard = map { $_->{no} => $_ } @{ query_json('guarded', $outcome_sql) };

my %problems;    # case number => [ lines ]
my %reverted;    # case number => 1 when its failed job was reverted
my (@rerun, @revert);
my %tally;

sub problem
{
	my ($no, $text) = @_;
	push @{ $problems{$no} }, $text;
}

sub says
{
	my ($o) = @_;
	return $o->{sqlstate} eq '00000' ? 'success' : "ERROR $o->{sqlstate}: $o->{message}";
}

for my $c (@cases)
{
	my $no = $c->{no};
	my ($s, $g) = ($stock{$no}, $guard{$no});
	if (!$s || !$g)
	{
		$c->{outcome} = 'no outcome recorded';
		problem($no, 'the statement did not run in both databases');
		next;
	}
	my @jobs = @{ $g->{jobs} };
	my $jobs_text = join('; ', map { "job $_->{job} $_->{state}" . ($_->{last_error} ? ": $_->{last_error}" : '') } @jobs);

	$c->{outcome} = 'stock: ' . says($s) . '; schema_guard: ' . says($g)
	  . ($jobs_text ? ", then $jobs_text" : '');

	$tally{ $s->{sqlstate} eq '00000' ? 'stock succeeded' : 'stock failed' }++;
	$tally{'staged a job'}++ if @jobs;
	if ($s->{sqlstate} eq '00000' && $g->{sqlstate} eq '00000')
	{
		for my $j (grep { $_->{state} ne 'done' } @jobs)
		{
			problem($no, "stock succeeded; schema_guard job $j->{job} ended $j->{state}"
				  . ($j->{last_error} ? ": $j->{last_error}" : ''));
		}
	}
	elsif ($c->{refusable} && $g->{sqlstate} eq '0A000'
		&& $g->{message} =~ /^ADD COLUMN ".*" on table ".*" cannot be run online$/)
	{
		# Refused by design: the form has no online path.  Where stock
		# fails too, the refusal comes first (often only the data would
		# tell that the statement fails); the rerun with mode off must then
		# fail as stock did.
		$tally{'refused by design, then run with mode off'}++;
		push @rerun, $no;
		note "statement $no: refused where stock fails: $c->{outcome}"
		  if $s->{sqlstate} ne '00000';
	}
	elsif ($s->{sqlstate} eq '00000')
	{
		problem($no, 'outcomes differ');
	}
	elsif ($g->{sqlstate} ne '00000')
	{
		problem($no, 'outcomes differ')
		  unless $g->{sqlstate} eq $s->{sqlstate} && $g->{message} eq $s->{message};
	}
	else
	{
		my @failed = grep { $_->{state} eq 'failed' } @jobs;
		if (@failed && grep { ($_->{last_error} // '') eq $s->{message} } @failed)
		{
			$tally{'failed as a job with stock\'s message'}++;
			push @revert, map { { no => $no, job => $_->{job} } } @failed;
			$reverted{$no} = 1;
		}
		else
		{
			problem($no, 'outcomes differ');
		}
	}
}

# Undo the jobs that failed as stock's statement did.
if (@revert)
{
	my %no_of = map { $_->{job} => $_->{no} } @revert;
	my $failed = query_json('guarded',
		'SELECT job, fuzz.try_revert(job) AS error FROM unnest(ARRAY['
		  . join(', ', sort { $a <=> $b } keys %no_of) . ']::bigint[]) job');
	for my $r (grep { defined $_->{error} } @$failed)
	{
		problem($no_of{ $r->{job} }, "schema_guard.revert($r->{job}) failed: $r->{error}");
	}
}

# A revert drops what the ALTER added; its other subcommands ran and stay.
# Those that do not name an added column are run in stock too, so that the
# reverted table must equal the stock table with them alone.
for my $no (sort { $a <=> $b } keys %reverted)
{
	my $sql = $case{$no}{others_sql};
	next unless defined $sql;
	my ($ret, $out, $err) = $node->psql('stock', "SET schema_guard.mode = off;\n$sql");
	problem($no, "the other subcommands alone fail in stock: $err") if $ret != 0;
}

# The statements refused by design, as their hint says: with mode off.  The
# refusal must have left nothing behind for this to end as in stock.
if (@rerun)
{
	$node->safe_psql('guarded', 'TRUNCATE fuzz.outcome');
	run_statements('guarded', "SET schema_guard.mode = off;\n", @rerun);
	my %again = map { $_->{no} => $_ } @{ query_json('guarded', $outcome_sql) };
	for my $no (@rerun)
	{
		problem($no, 'refused by design; then with mode off: ' . says($again{$no}))
		  unless $again{$no}{sqlstate} eq $stock{$no}{sqlstate}
		  && ($again{$no}{message} // '') eq ($stock{$no}{message} // '');
	}
}

# Compare the end states, case by case.
my $classes = encode_json({ map { $_->{no} => $_->{classes} } @cases });
my %lines;
for my $db (qw(stock guarded))
{
	for my $row (@{ query_json($db, 'SELECT * FROM fuzz.catalog()') },
		@{ query_json($db, "SELECT * FROM fuzz.data(\$json\$$classes\$json\$)") })
	{
		# a revert drops its columns: their attributes stay, as dropped ones
		next if $reverted{ $row->{no} } && $row->{line} =~ /^dropped-column /;
		# a statement that fails has drawn sequence values up to where it
		# failed, in stock and in a failed job alike: not comparable
		$row->{line} =~ s/ last_value=\S*//
		  if $stock{ $row->{no} } && $stock{ $row->{no} }{sqlstate} ne '00000';
		push @{ $lines{ $row->{no} }{$db} }, $row->{line};
	}
}
for my $no (sort { $a <=> $b } keys %lines)
{
	my %in_stock;
	my %in_guard;
	$in_stock{$_}++ for @{ $lines{$no}{stock} // [] };
	$in_guard{$_}++ for @{ $lines{$no}{guarded} // [] };
	my @diff;
	for my $l (sort keys %in_stock)
	{
		push @diff, "    - $l" if ($in_guard{$l} // 0) != $in_stock{$l};
	}
	for my $l (sort keys %in_guard)
	{
		push @diff, "    + $l" if ($in_stock{$l} // 0) != $in_guard{$l};
	}
	problem($no, "end states differ (- stock only, + schema_guard only):\n" . join("\n", @diff))
	  if @diff;
}

note "$_: $tally{$_}" for sort keys %tally;
ok(!$problems{0}, 'shared objects are the same') or diag(join("\n", @{ $problems{0} }));
for my $c (@cases)
{
	my $no = $c->{no};
	ok(!$problems{$no}, "statement $no") or diag(
		"statement $no (fixture $c->{kind}): $c->{sql}\n  $c->{outcome}"
		  . ($reverted{$no} ? ' (reverted)' : '') . "\n  " . join("\n  ", @{ $problems{$no} }));
}
note sprintf('%d of %d statements differ; %d s in all', scalar(grep { $_ } keys %problems),
	scalar @cases, time - $t0);

$node->stop;
done_testing();
