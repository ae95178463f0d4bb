#!/usr/bin/perl
#
# gen_add_column.pl
#	  Generate ALTER TABLE ... ADD COLUMN statements, each with a fixture
#	  table of its own, for the differential test test/t/030_differential.pl,
#	  which runs every statement on stock PostgreSQL and under schema_guard
#	  and compares the end states.
#
# The same seed and count always give the same SQL, on any platform: the
# generator has its own random number generator.  Run it by hand to see
# (or replay) what the test ran:
#
#	perl test/fuzz/gen_add_column.pl [--seed N] [--count N] [--server-version 18] > fuzz.sql
#
# The output is the shared objects, every fixture, then every statement:
# psql -f it into a database where schema_guard is installed.
#
# What is generated:
#	- fixture tables: plain (rows written before and after an earlier ADD
#	  COLUMN, some updated since), empty, emptied by DELETE, with a primary
#	  key, with a user BEFORE UPDATE trigger, with inheritance children, and
#	  partitioned (a partition with its own column order, a sub-partitioned
#	  default partition); named plainly, schema-qualified, or quoted in
#	  mixed case;
#	- ADD COLUMN of many types (integers, numeric, text, varchar, uuid,
#	  timestamptz, date, boolean, jsonb, arrays, a composite type, domains
#	  with and without constraints, an enum), with no default, NULL,
#	  constants, stable and volatile functions, a sequence, user volatile
#	  functions and expressions mixing them; serial types, identity columns
#	  with options, stored generated columns; NOT NULL, UNIQUE, PRIMARY KEY,
#	  CHECK, REFERENCES, COLLATE; IF NOT EXISTS, several columns per
#	  statement, and other subcommands mixed in;
#	- statements that fail in PostgreSQL, at once or while it fills the
#	  rows;
#	- after them, ADD UNIQUE and PRIMARY KEY, SET NOT NULL alone, and
#	  CREATE INDEX, ADD CHECK and ADD FOREIGN KEY on existing columns, in
#	  a transaction block or not;
#	- with --server-version 18 (or more) also PostgreSQL 18's forms:
#	  virtual generated columns, named NOT NULL and NOT NULL NO INHERIT,
#	  NOT ENFORCED and ENFORCED constraints, NOT NULL and NOT ENFORCED
#	  table constraints; the statements of other versions are the same
#	  for a seed as without it (18's choices draw their own random
#	  numbers, only on 18).
#
# Each added column carries a comparison class, saying what of its values
# two runs can be expected to agree on:
#	exact     the same value in every row (the default is deterministic,
#	          even where it is volatile, like fx.vol_det(4))
#	const     one value for all rows, not known in advance (now())
#	distinct  a different value in every row (gen_random_uuid())
#	seq       values drawn from a sequence: the same set of values
#	volatile  random values: only which rows are NULL is comparable
# A volatile default whose values could make a constraint pass in one run
# and fail in the other is never combined with that constraint, so every
# statement's outcome is deterministic.
#

package GenAddColumn;

use strict;
use warnings;

# The seed the differential test uses unless SG_FUZZ_SEED says otherwise.
our $DEFAULT_SEED = 20240611;

# ---------------------------------------------------------------------------
# Random numbers: xorshift32, so that a seed means the same everywhere.

sub new
{
	my ($class, $seed, $version) = @_;
	my $s = ($seed * 2654435761 + 12345) % 4294967296;

	$s = 2463534242 if $s == 0;
	my $self = bless { s => $s }, $class;
	$self->next_u32 for 1 .. 10;
	# PostgreSQL 18's forms draw from a generator of their own
	$self->{pg18} = GenAddColumn->new($seed + 18) if ($version // 0) >= 18;
	return $self;
}

# On PostgreSQL 18 and later, true with probability p; never before.
sub pg18_chance
{
	my ($self, $p) = @_;
	return $self->{pg18} && $self->{pg18}->chance($p);
}

sub next_u32
{
	my ($self) = @_;
	my $s = $self->{s};

	$s ^= ($s << 13) & 0xFFFFFFFF;
	$s ^= $s >> 17;
	$s ^= ($s << 5) & 0xFFFFFFFF;
	$self->{s} = $s;
	return $s;
}

# an integer in [0, n)
sub int_below
{
	my ($self, $n) = @_;
	return $self->next_u32 % $n;
}

# true with probability p
sub chance
{
	my ($self, $p) = @_;
	return $self->next_u32 < $p * 4294967296;
}

sub pick
{
	my ($self, @items) = @_;
	return $items[ $self->int_below(scalar @items) ];
}

# pick from [weight, value] pairs
sub weighted
{
	my ($self, @pairs) = @_;
	my $total = 0;

	$total += $_->[0] for @pairs;
	my $r = $self->int_below($total);
	for my $p (@pairs)
	{
		return $p->[1] if $r < $p->[0];
		$r -= $p->[0];
	}
	die "unreachable";
}

# ---------------------------------------------------------------------------
# Names

sub qi
{
	my ($name) = @_;
	return $name if $name =~ /^[a-z_][a-z0-9_]*$/;
	(my $q = $name) =~ s/"/""/g;
	return qq{"$q"};
}

# a relation's SQL name, schema-qualified if it has a schema
sub qrel
{
	my ($schema, $name) = @_;
	return defined $schema ? qi($schema) . '.' . qi($name) : qi($name);
}

# a string literal
sub ql
{
	my ($s) = @_;
	$s =~ s/'/''/g;
	return "'$s'";
}

# ---------------------------------------------------------------------------
# Objects every fixture may use, created once per database.

sub prelude_sql
{
	return <<'EOS';
CREATE SCHEMA fx;
CREATE SCHEMA "Fx Schema";
CREATE TYPE fx.pair AS (a int, b text);
CREATE DOMAIN fx.d_plain AS int;
CREATE DOMAIN fx.d_pos AS int CHECK (VALUE > 0);
CREATE DOMAIN fx.d_nn AS int NOT NULL;
CREATE TYPE fx.mood AS ENUM ('sad', 'ok', 'happy');
-- volatile, yet the same value every time
CREATE FUNCTION fx.vol_det(x int) RETURNS int LANGUAGE sql VOLATILE AS 'SELECT x * 2';
CREATE FUNCTION fx.vol_text() RETURNS text LANGUAGE sql VOLATILE AS 'SELECT md5(random()::text)';
CREATE FUNCTION fx.vol_null() RETURNS int LANGUAGE sql VOLATILE AS 'SELECT NULL::int';
CREATE FUNCTION fx.vol_fail() RETURNS int LANGUAGE plpgsql VOLATILE
  AS $$BEGIN RAISE EXCEPTION 'fx.vol_fail() was called'; END$$;
-- a user trigger a table rewrite does not fire
CREATE FUNCTION fx.touch() RETURNS trigger LANGUAGE plpgsql
  AS $$BEGIN NEW.touched := OLD.touched + 1; RETURN NEW; END$$;
CREATE TABLE fx.parent (id int PRIMARY KEY);
INSERT INTO fx.parent SELECT generate_series(1, 10);
EOS
}

# ---------------------------------------------------------------------------
# Fixtures.  Every relation of case N has a name that starts with "t<N>" or
# "T<N>", which the test uses to tell whose it is.

sub rows_sql
{
	my ($rel, $from, $to) = @_;
	return "INSERT INTO $rel (id, v, n) SELECT g, CASE WHEN g % 5 = 0 THEN NULL ELSE 'v' || g END, g % 7"
	  . " FROM generate_series($from, $to) g;";
}

sub make_fixture
{
	my ($self, $no) = @_;
	my %f;
	my $style = $self->weighted([ 5, 'plain' ], [ 2, 'schema' ], [ 2, 'quoted' ],
		[ 1, 'quoted_schema' ]);
	my ($schema, $name) =
		$style eq 'plain' ? (undef, "t$no")
	  : $style eq 'schema' ? ('fx', "t$no")
	  : $style eq 'quoted' ? (undef, "T$no Mixed")
	  : ('Fx Schema', "T${no}Tab");
	my $kind = $self->weighted([ 10, 'plain' ], [ 3, 'empty' ], [ 1, 'emptied' ],
		[ 2, 'pk' ], [ 2, 'trigger' ], [ 4, 'inherit' ], [ 4, 'partitioned' ]);
	my $rel = qrel($schema, $name);
	my @sql;
	my $rows = $self->chance(0.1) ? 500 + $self->int_below(2500) : 1 + $self->int_below(120);
	my $more = $self->int_below(20);

	%f = (
		no => $no,
		kind => $kind,
		schema => $schema,
		name => $name,
		rel => $rel,
		seq => qrel($schema, "${name}_s"),
		cols => [qw(id v n old)],
		rows => $rows);
	push @sql, "CREATE SEQUENCE $f{seq};";

	if ($kind eq 'partitioned')
	{
		my $p1 = qrel($schema, "${name}_p1");
		my $p2 = qrel($schema, "${name}_p2");
		my $pd = qrel($schema, "${name}_pd");
		push @sql,
		  "CREATE TABLE $rel (id int NOT NULL, v text, n int DEFAULT 0) PARTITION BY RANGE (id);",
		  "CREATE TABLE $p1 PARTITION OF $rel FOR VALUES FROM (MINVALUE) TO (50);",
		  # its own column order, and a dropped column: other attnums
		  "CREATE TABLE $p2 (x int, n int DEFAULT 0, v text, id int NOT NULL);",
		  "ALTER TABLE $p2 DROP COLUMN x;",
		  "ALTER TABLE $rel ATTACH PARTITION $p2 FOR VALUES FROM (50) TO (100);";
		if ($self->chance(0.5))
		{
			push @sql,
			  "CREATE TABLE $pd PARTITION OF $rel DEFAULT PARTITION BY LIST (n);",
			  "CREATE TABLE " . qrel($schema, "${name}_pd1") . " PARTITION OF $pd FOR VALUES IN (0, 1, 2);",
			  "CREATE TABLE " . qrel($schema, "${name}_pd2") . " PARTITION OF $pd DEFAULT;";
		}
		else
		{
			push @sql, "CREATE TABLE $pd PARTITION OF $rel DEFAULT;";
		}
	}
	else
	{
		my $pk = $kind eq 'pk' ? ' PRIMARY KEY' : ' NOT NULL';
		my $touched = $kind eq 'trigger' ? ', touched int DEFAULT 0' : '';
		push @sql, "CREATE TABLE $rel (id int$pk, v text, n int DEFAULT 0$touched);";
		push @{ $f{cols} }, 'touched' if $kind eq 'trigger';
		push @sql, "CREATE TRIGGER t${no}_touch BEFORE UPDATE ON $rel FOR EACH ROW EXECUTE FUNCTION fx.touch();"
		  if $kind eq 'trigger';
	}

	if ($kind eq 'empty')
	{
		push @sql, "ALTER TABLE $rel ADD COLUMN old int DEFAULT 5;";
		$f{rows} = 0;
	}
	else
	{
		# rows from before "old" was added lack it in their tuples
		push @sql, rows_sql($rel, 1, $rows);
		push @sql, "ALTER TABLE $rel ADD COLUMN old int DEFAULT 5;";
		push @sql, rows_sql($rel, $rows + 1, $rows + $more);
		push @sql, "UPDATE $rel SET n = n + 1 WHERE id % 10 = 3;";
		$f{rows} = $rows + $more;
		if ($kind eq 'emptied')
		{
			push @sql, "DELETE FROM $rel;";
			$f{rows} = 0;
		}
	}

	if ($kind eq 'inherit')
	{
		my $c = qrel($schema, "${name}_c");
		# the child sometimes has a column "m" of its own, which a parent's
		# ADD COLUMN m merges
		my $own = $self->chance(0.5) ? ', m int DEFAULT 3' : '';
		push @sql, "CREATE TABLE $c (extra int DEFAULT 1$own) INHERITS ($rel);";
		push @sql, rows_sql($c, 1001, 1000 + 1 + $self->int_below(60));
		if ($self->chance(0.3))
		{
			my $g = qrel($schema, "${name}_cg");
			push @sql, "CREATE TABLE $g () INHERITS ($c);";
			push @sql, rows_sql($g, 2001, 2000 + 1 + $self->int_below(30));
		}
	}
	$f{setup} = \@sql;
	return \%f;
}

# ---------------------------------------------------------------------------
# Column types and defaults.
#
# A default is [sql, class, lo, hi, null]: lo and hi bound an integer
# default's values (undef when unknown), null says the default always yields
# NULL.  A default that can fail is [sql, class, ..., fail => 1]: it fails
# whenever the table has rows (and sometimes at once).

my %DEFAULTS = (
	int => [
		[ '0', 'exact', 0, 0 ],
		[ '42', 'exact', 42, 42 ],
		[ '-7', 'exact', -7, -7 ],
		[ '(6 * 7)', 'exact', 42, 42 ],
		[ q{'12'::int}, 'exact', 12, 12 ],
		[ q{length('abcd')}, 'exact', 4, 4 ],
		[ 'fx.vol_det(4)', 'exact', 8, 8 ],
		[ '(random() * 0)::int + 9', 'exact', 9, 9 ],
		[ '(random() * 100)::int', 'volatile', 0, 100 ],
		[ '(random() * 9)::int + 1', 'volatile', 1, 10 ],
		[ 'fx.vol_det((random() * 4)::int)', 'volatile', 0, 8 ],
		[ q{nextval('SEQ')}, 'seq', 1, 100000 ],
		[ q{(nextval('SEQ') * 2 + fx.vol_det(0))}, 'seq', 2, 200000 ],
		[ 'CASE WHEN random() < 2 THEN NULL ELSE 1 END', 'exact', undef, undef, 1 ],
		[ 'fx.vol_null()', 'exact', undef, undef, 1 ],
		[ 'NULL', 'exact', undef, undef, 1 ],
		[ 'NULL::int', 'exact', undef, undef, 1 ],
		[ q{'abc'}, 'exact', undef, undef, 0, 1 ],
		[ '1 / 0', 'exact', undef, undef, 0, 1 ],
		[ '1 / (random() * 0)::int', 'volatile', undef, undef, 0, 1 ],
		[ 'fx.vol_fail()', 'volatile', undef, undef, 0, 1 ],
		[ '(random() * 0)::int + 2147483647 + 1', 'volatile', undef, undef, 0, 1 ],
		[ 'fx.nosuch()', 'exact', undef, undef, 0, 1 ],
	],
	num => [
		[ '3.14159', 'exact' ],
		[ '12345678.9', 'exact' ],
		[ 'fx.vol_det(3) / 7.0', 'exact' ],
		[ 'random() * 100', 'volatile' ],
		[ 'round(random()::numeric, 2)', 'volatile' ],
		[ '123456789.0', 'exact', undef, undef, 0, 1 ],
		[ '(random() * 0 + 123456789)', 'volatile', undef, undef, 0, 1 ],
	],
	text => [
		[ q{'hello'}, 'exact' ],
		[ q{''}, 'exact' ],
		[ q{upper('abc')}, 'exact' ],
		[ q{'row ' || fx.vol_det(1)}, 'exact' ],
		[ q{repeat('x', 3000)}, 'exact' ],
		[ 'md5(random()::text)', 'distinct' ],
		[ 'gen_random_uuid()::text', 'distinct' ],
		[ 'fx.vol_text()', 'distinct' ],
		[ 'now()::text', 'const' ],
		[ 'length(md5(random()::text))::text', 'exact' ],
		[ 'fx.vol_fail()::text', 'volatile', undef, undef, 0, 1 ],
	],
	uuid => [
		[ 'gen_random_uuid()', 'distinct' ],
		[ q{'00000000-0000-0000-0000-000000000001'}, 'exact' ],
		[ 'md5(random()::text)::uuid', 'distinct' ],
		[ q{'not-a-uuid'}, 'exact', undef, undef, 0, 1 ],
	],
	ts => [
		[ q{'2020-01-01 00:00:00+00'}, 'exact' ],
		[ 'now()', 'const' ],
		[ 'current_timestamp', 'const' ],
		[ 'statement_timestamp()', 'const' ],
		[ 'clock_timestamp()', 'volatile' ],
		[ q{now() + random() * interval '1 day'}, 'volatile' ],
		[ q{'2020-01-01 00:00:00+00'::timestamptz + fx.vol_det(3) * interval '1 hour'}, 'exact' ],
	],
	date => [
		[ q{'2021-02-03'}, 'exact' ],
		[ 'current_date', 'const' ],
		[ 'clock_timestamp()::date', 'volatile' ],
		[ q{'2021-01-01'::date + (random() * 0)::int}, 'exact' ],
		[ q{'not a date'}, 'exact', undef, undef, 0, 1 ],
	],
	bool => [
		[ 'true', 'exact' ],
		[ 'false', 'exact' ],
		[ 'random() < 0.5', 'volatile' ],
		[ 'random() < 2', 'exact' ],
		[ q{now() > '2000-01-01'}, 'exact' ],
	],
	jsonb => [
		[ q{'{"a": 1}'}, 'exact' ],
		[ q{'[]'::jsonb}, 'exact' ],
		[ q{jsonb_build_object('r', random())}, 'distinct' ],
		[ 'to_jsonb(now())', 'const' ],
		[ q{jsonb_build_object('k', fx.vol_det(5))}, 'exact' ],
		[ q<'{bad'>, 'exact', undef, undef, 0, 1 ],
	],
	intarr => [
		[ 'ARRAY[1, 2]', 'exact' ],
		[ q{'{3,4}'}, 'exact' ],
		[ 'ARRAY[(random() * 0)::int]', 'exact' ],
		[ 'ARRAY[(random() * 10)::int]', 'volatile' ],
		[ 'ARRAY[]::int[]', 'exact' ],
	],
	textarr => [
		[ q{'{a,b}'}, 'exact' ],
		[ q{ARRAY['x', md5(random()::text)]}, 'distinct' ],
		[ 'ARRAY[]::text[]', 'exact' ],
		[ q{string_to_array('a,b,c', ',')}, 'exact' ],
	],
	pair => [
		[ q{ROW(1, 'x')}, 'exact' ],
		[ q{'(2,y)'}, 'exact' ],
		[ q{ROW((random() * 10)::int, 'z')::fx.pair}, 'volatile' ],
		[ 'ROW(fx.vol_det(1), md5(random()::text))::fx.pair', 'distinct' ],
	],
	mood => [
		[ q{'ok'}, 'exact' ],
		[ q{'happy'::fx.mood}, 'exact' ],
		[ '(enum_range(NULL::fx.mood))[1 + (random() * 2)::int]', 'volatile' ],
		[ q{'angry'}, 'exact', undef, undef, 0, 1 ],
	],
);

# [weight, sql type, default family, collatable]
my @TYPES = (
	[ 4, 'int', 'int', 0 ],
	[ 2, 'bigint', 'int', 0 ],
	[ 2, 'smallint', 'int', 0 ],
	[ 2, 'numeric(10,2)', 'num', 0 ],
	[ 3, 'text', 'text', 1 ],
	[ 2, 'varchar', 'text', 1 ],
	[ 2, 'uuid', 'uuid', 0 ],
	[ 2, 'timestamptz', 'ts', 0 ],
	[ 1, 'date', 'date', 0 ],
	[ 1, 'boolean', 'bool', 0 ],
	[ 2, 'jsonb', 'jsonb', 0 ],
	[ 1, 'int[]', 'intarr', 0 ],
	[ 1, 'text[]', 'textarr', 1 ],
	[ 1, 'fx.pair', 'pair', 0 ],
	[ 2, 'fx.d_plain', 'int', 0 ],
	[ 2, 'fx.d_pos', 'int', 0 ],
	[ 1, 'fx.d_nn', 'int', 0 ],
	[ 1, 'fx.mood', 'mood', 0 ],
);

# A CHECK constraint on the new column whose outcome the default decides.
sub check_clause
{
	my ($self, $c, $family, $def) = @_;
	my ($lo, $hi, $null) = @$def[ 2, 3, 4 ];

	if ($family eq 'int' && defined $lo && $self->chance(0.6))
	{
		# passes when at or below the lowest value, fails above the highest
		my $k = $self->chance(0.7) ? $lo - $self->int_below(5) : $hi + 1;
		return "CHECK ($c >= $k)";
	}
	return $self->pick("CHECK ($c IS NOT NULL)", "CHECK (length(${c}::text) < 100000)",
		"CHECK ($c IS NULL OR ${c}::text <> 'never')");
}

# A value of the type for SET DEFAULT: always one that works.
sub simple_default
{
	my ($self, $family) = @_;
	my @ok = grep { !$_->[5] } @{ $DEFAULTS{$family} };
	return $self->pick(@ok)->[0];
}

# The definition of one new column: [sql, class, refusable, type family].
sub column_definition
{
	my ($self, $f, $name, $state) = @_;
	my $c = qi($name);
	my $what = $self->weighted([ 70, 'typed' ], [ 9, 'serial' ], [ 9, 'identity' ],
		[ 6, 'generated' ], [ 2, 'bad' ]);
	my $seq = $f->{seq};
	my @cons;

	if ($what eq 'serial')
	{
		my $t = $self->pick(qw(serial bigserial smallserial serial4 serial8));
		push @cons, 'NOT NULL' if $self->chance(0.2);
		push @cons, 'UNIQUE' if $self->chance(0.15);
		push @cons, 'PRIMARY KEY' if $self->chance(0.1);
		push @cons, "CHECK ($c " . $self->pick('> 0', '< 50', '<> 7') . ')' if $self->chance(0.2);
		push @cons, 'REFERENCES fx.parent' if $self->chance(0.15);
		return [ join(' ', $t, @cons), 'seq', 0, 'int' ];
	}
	if ($what eq 'identity')
	{
		my $t = $self->pick(qw(int bigint smallint));
		my $when = $self->pick('ALWAYS', 'BY DEFAULT');
		my @opt;
		my $shape = $self->int_below(8);
		if ($shape == 1) { push @opt, 'START WITH 100', 'INCREMENT BY 10' }
		elsif ($shape == 2) { push @opt, 'START WITH 5', 'INCREMENT BY -1', 'MINVALUE -1000', 'MAXVALUE 5' }
		elsif ($shape == 3) { push @opt, 'MAXVALUE 50' }
		elsif ($shape == 4) { push @opt, 'START WITH 1', 'MAXVALUE 3', 'CYCLE' }
		elsif ($shape == 5) { push @opt, 'CACHE 10' }
		elsif ($shape == 6)
		{
			my $sn = qrel($f->{schema}, "$f->{name}_ids$state->{n}");
			push @opt, "SEQUENCE NAME $sn", 'START WITH 7';
		}
		elsif ($shape == 7) { push @opt, 'NO MINVALUE', 'NO CYCLE', 'INCREMENT 3' }
		my $def = "$t GENERATED $when AS IDENTITY" . (@opt ? ' (' . join(' ', @opt) . ')' : '');
		push @cons, 'UNIQUE' if $self->chance(0.15);
		push @cons, 'PRIMARY KEY' if $self->chance(0.1);
		push @cons, "CHECK ($c <> 2)" if $self->chance(0.1);
		# PostgreSQL refuses these: identity with a default, on text
		$def = "text GENERATED $when AS IDENTITY" if $self->chance(0.04);
		push @cons, 'DEFAULT 1' if $self->chance(0.04);
		return [ join(' ', $def, @cons), 'seq', 0, 'int' ];
	}
	if ($what eq 'generated')
	{
		my ($t, $expr) = @{ $self->pick(
			[ 'int', 'id * 2' ],
			[ 'bigint', 'id::bigint + n' ],
			[ 'text', q{coalesce(v, '-') || id::text} ],
			[ 'boolean', 'n > 3' ],
			[ 'float8', 'random()' ],    # not immutable: fails
		) };
		push @cons, 'NOT NULL' if $self->chance(0.2);
		push @cons, "CHECK ($c IS NOT NULL)" if $self->chance(0.15);
		push @cons, 'DEFAULT 0' if $self->chance(0.03);
		# 18: a virtual generated column, computed when read
		if ($self->pg18_chance(0.6))
		{
			my $kind = $self->{pg18}->pick('', ' VIRTUAL');
			return [ join(' ', "$t GENERATED ALWAYS AS ($expr)$kind", @cons), 'exact', 0, 'gen' ];
		}
		return [ join(' ', "$t GENERATED ALWAYS AS ($expr) STORED", @cons), 'exact', 1, 'gen' ];
	}
	if ($what eq 'bad')
	{
		my $sql = $self->pick('nosuchtype', 'serial[]', 'int COLLATE "C"',
			'int NOT NULL DEFAULT NULL', 'int REFERENCES fx.nosuch', 'int CHECK (nosuch > 0)',
			'int REFERENCES fx.parent (nosuch)');
		return [ $sql, 'exact', 0, 'bad' ];
	}

	my (undef, $type, $family, $collatable) = @{ $self->weighted(map { [ $_->[0], $_ ] } @TYPES) };
	$type = 'varchar(' . $self->pick(4, 10, 40, 100) . ')' if $type eq 'varchar';
	# a domain with constraints has no online path: refused by design
	my $refusable = $type eq 'fx.d_pos' || $type eq 'fx.d_nn';
	my $sql = $type;
	$sql .= ' COLLATE "C"' if $collatable && $self->chance(0.2);

	# the default
	my $def;
	my $shape = $self->weighted([ 3, 'none' ], [ 10, 'default' ]);
	if ($shape eq 'default')
	{
		my @choices = @{ $DEFAULTS{$family} };
		my $vol = qr/random|clock_timestamp|nextval|fx\.vol_/;
		# a failing default now and then only; volatile ones half of the time
		my $pool = $self->weighted([ 1, 'fail' ], [ 9, 'volatile' ], [ 9, 'stable' ]);
		my @pool =
			$pool eq 'fail' ? grep { $_->[5] } @choices
		  : $pool eq 'volatile' ? grep { !$_->[5] && $_->[0] =~ $vol } @choices
		  : grep { !$_->[5] && $_->[0] !~ $vol } @choices;
		@pool = grep { !$_->[5] } @choices unless @pool;
		$def = $self->pick(@pool);
		(my $d = $def->[0]) =~ s/SEQ/$seq/g;
		$sql .= " DEFAULT $d";
	}
	else
	{
		$def = [ undef, 'exact', undef, undef, 1 ];
	}
	my $class = $def->[1];
	my $deterministic = $class ne 'volatile';
	# fx.d_pos (VALUE > 0) with random values on both sides of 0 would
	# leave the outcome to chance: a domain without the check instead
	if ($type eq 'fx.d_pos' && !$deterministic && defined $def->[2] && $def->[2] <= 0 && $def->[3] >= 1)
	{
		$sql =~ s/^fx\.d_pos/fx.d_plain/;
		$refusable = 0;
	}


	if ($self->chance(0.2))
	{
		# 18: a named NOT NULL, or one the children do not inherit
		my $nn = 'NOT NULL';
		$nn = 'CONSTRAINT ' . qi("$f->{name}_${name}_nn") . ' NOT NULL' if $self->pg18_chance(0.25);
		$nn .= ' NO INHERIT' if $self->pg18_chance(0.15);
		push @cons, $nn;
	}
	# uniqueness of random values is left to chance: not with those; one
	# value in every row is unique in a table of one row at most
	my $unique_ok = $class eq 'seq' || $class eq 'distinct' || $f->{rows} <= 1 || $def->[4];
	if ($deterministic && $self->chance($unique_ok ? 0.2 : 0.03))
	{
		my $u = $self->chance(0.3) ? 'CONSTRAINT ' . qi("$f->{name}_${name}_uq") . ' UNIQUE' : 'UNIQUE';
		$u = 'CONSTRAINT ' . qi("$f->{name}_s") . ' UNIQUE' if $self->chance(0.05);    # name taken
		$u .= ' DEFERRABLE INITIALLY DEFERRED' if $self->chance(0.15);
		push @cons, $u;
	}
	push @cons, 'PRIMARY KEY' if $deterministic && $self->chance($unique_ok ? 0.08 : 0.02);
	if ($self->chance(0.2))
	{
		my $chk = $self->check_clause($c, $family, $def);
		$chk = 'CONSTRAINT ' . qi("$f->{name}_${name}_chk") . " $chk" if $self->chance(0.3);
		$chk .= $self->{pg18}->pick(' NOT ENFORCED', ' ENFORCED') if $self->pg18_chance(0.3);
		push @cons, $chk;
	}
	if ($family eq 'int' && $type !~ /fx\.d_/ && $self->chance(0.2))
	{
		# REFERENCES fx.parent (ids 1 to 10): random values must all be in
		# range, or all out of it
		my ($lo, $hi) = @$def[ 2, 3 ];
		if ($deterministic || !defined $lo || ($lo >= 1 && $hi <= 10) || $lo > 10 || $hi < 1)
		{
			push @cons, 'REFERENCES fx.parent'
			  . $self->pick('', ' (id)', ' ON DELETE CASCADE', ' ON DELETE SET NULL', ' DEFERRABLE')
			  . ($self->pg18_chance(0.3) ? ' NOT ENFORCED' : '');
		}
	}
	return [ join(' ', $sql, @cons), $class, $refusable, $family ];
}

# ---------------------------------------------------------------------------
# Statements

sub new_column_name
{
	my ($self, $f, $state) = @_;
	my $r = $self->int_below(100);

	# an existing column, with or without IF NOT EXISTS
	return $self->pick(@{ $f->{cols} }, ($f->{kind} eq 'inherit' ? ('m') : ())) if $r < 8;
	# one this statement already adds
	return $self->pick(@{ $state->{added} }) if $r < 12 && @{ $state->{added} };
	$state->{n}++;
	return $self->pick("New Col$state->{n}", "Cc$state->{n}") if $r < 22;
	return "c$state->{n}";
}

sub add_column_cmd
{
	my ($self, $f, $state) = @_;
	my $c = $self->new_column_name($f, $state);
	my $exists = grep { $_ eq $c } @{ $f->{cols} }, @{ $state->{added} };
	my $ine = $exists ? $self->chance(0.7) : $self->chance(0.15);
	my $col = $self->column_definition($f, $c, $state);
	my $kw = $self->weighted([ 8, 'ADD COLUMN' ], [ 2, 'ADD' ]);

	$kw .= ' IF NOT EXISTS' if $ine;
	# which definition a column keeps is known once the order is final
	$state->{def} = [ $c, $col->[1], scalar grep { $_ eq $c } @{ $f->{cols} } ];
	$state->{refusable} ||= $col->[2];
	push @{ $state->{added} }, $c unless $exists;
	push @{ $state->{families} }, [ $c, $col->[3] ];
	return "$kw " . qi($c) . " $col->[0]";
}

sub other_cmd
{
	my ($self, $f, $state) = @_;
	my @fixed = grep { $_ ne 'id' } @{ $f->{cols} };
	my $r = $self->int_below(100);
	my $t = $f->{name};

	# those that name a column the statement adds go with it on a revert
	$state->{names_added} = 1;
	if ($r < 25 && @{ $state->{families} })
	{
		# a new default for a column this statement adds
		my ($c, $family) = @{ $self->pick(@{ $state->{families} }) };

		# a column that existed (IF NOT EXISTS skipped it) stays on a revert
		$state->{names_added} = grep { $_ eq $c } @{ $state->{added} };
		return 'ALTER COLUMN ' . qi($c) . ' DROP DEFAULT' if $family eq 'gen' || $family eq 'bad';
		my $d = $self->simple_default($family);
		$d =~ s/SEQ/$f->{seq}/g;
		return 'ALTER COLUMN ' . qi($c) . " SET DEFAULT $d";
	}
	return 'DROP COLUMN IF EXISTS ' . qi($self->pick(@{ $state->{added} })) if $r >= 50 && $r < 55 && @{ $state->{added} };
	return 'ADD CHECK (' . qi($self->pick(@{ $state->{added} })) . ' IS NOT NULL)' if $r >= 72 && $r < 78 && @{ $state->{added} };
	$state->{names_added} = 0;
	return 'ALTER COLUMN n SET DEFAULT ' . $self->pick('3', '(random() * 5)::int') if $r < 35;
	if ($r < 50)
	{
		my $if_exists = $self->pick('', 'IF EXISTS ');
		my $c = $self->pick(@fixed);

		$state->{dropped}{$c} = 1;
		return "DROP COLUMN $if_exists$c";
	}
	# 18: a NOT NULL table constraint, NOT VALID or not; a NOT ENFORCED check
	if ($r >= 55 && $r < 62 && $self->pg18_chance(0.4))
	{
		return $self->{pg18}->pick('ADD CONSTRAINT ' . qi("${t}_nn$r") . ' NOT NULL n NOT VALID',
			'ADD NOT NULL n', 'ADD CONSTRAINT ' . qi("${t}_k$r") . ' CHECK (n > 3) NOT ENFORCED');
	}
	return 'ADD CONSTRAINT ' . qi("${t}_k$r") . ' CHECK (n >= 0)' if $r < 62;
	return 'ADD CONSTRAINT ' . qi("${t}_k$r") . ' CHECK (n > 3)' if $r < 66;
	return 'ADD CONSTRAINT ' . qi("${t}_k$r") . ' UNIQUE (id)' if $r < 72;
	return 'ADD FOREIGN KEY (n) REFERENCES fx.parent NOT VALID' if $r < 83;
	return 'ALTER COLUMN n SET NOT NULL' if $r < 90;
	return 'ALTER COLUMN v TYPE varchar(200)' if $r < 94;
	return 'ALTER COLUMN v SET STATISTICS 100';
}

sub make_statement
{
	my ($self, $f) = @_;
	my %state = (n => 0, added => [], class => {}, families => [], refusable => 0,
		dropped => {});
	my $ncmds = $self->weighted([ 6, 1 ], [ 3, 2 ], [ 2, 3 ], [ 1, 4 ]);
	my (@cmds, @others, @defs);

	for my $i (1 .. $ncmds)
	{
		if ($i > 1 && $self->chance(0.35))
		{
			push @cmds, $self->other_cmd($f, \%state);
			push @others, $cmds[-1] unless $state{names_added};
			push @defs, undef;
		}
		else
		{
			push @cmds, $self->add_column_cmd($f, \%state);
			push @defs, $state{def};
		}
	}
	# a subcommand of another kind goes first now and then
	if (@cmds > 1 && $self->chance(0.15))
	{
		push @cmds, shift @cmds;
		push @defs, shift @defs;
	}

	# The first definition of a name, in the statement's order, is the one
	# a column keeps.  An existing column keeps its values, unless the
	# statement drops it too: PostgreSQL drops before it adds, so the
	# column is a new one then.
	for my $def (grep { defined } @defs)
	{
		my ($c, $class, $existing) = @$def;

		next if $existing && !$state{dropped}{$c};
		$state{class}{$c} //= $class;
	}

	my $target = $f->{rel};
	my $prefix = '';
	$prefix = 'IF EXISTS ' if $self->chance(0.05);
	$prefix = 'ONLY ' if $self->chance(0.04);
	# now and then at a partition or a child directly
	if ($f->{kind} eq 'partitioned' && $self->chance(0.05))
	{
		$target = qrel($f->{schema}, "$f->{name}_p1");
	}
	elsif ($f->{kind} eq 'inherit' && $self->chance(0.1))
	{
		$target = qrel($f->{schema}, "$f->{name}_c");
	}
	return {
		sql => "ALTER TABLE $prefix$target " . join(', ', @cmds),
		others_sql => @others ? "ALTER TABLE $prefix$target " . join(', ', @others) : undef,
		classes => $state{class},
		refusable => $state{refusable} };
}

# An ALTER TABLE that only adds UNIQUE or PRIMARY KEY constraints: named
# or not, with INCLUDE, NULLS NOT DISTINCT, DEFERRABLE, several at once;
# some fail on the data (n repeats, v has NULLs), some on the table (a
# second primary key), some are not staged (a primary key on a column that
# may be NULL, a partitioned table).
sub make_unique_statement
{
	my ($self, $f) = @_;
	my $u = qi("$f->{name}_u$f->{no}");
	my $cmds = $self->pick('ADD UNIQUE (id)',
		"ADD CONSTRAINT $u UNIQUE (id, n) INCLUDE (v)",
		'ADD UNIQUE (n)',
		'ADD PRIMARY KEY (id)',
		'ADD UNIQUE NULLS NOT DISTINCT (v) DEFERRABLE',
		'ADD UNIQUE (v, id) DEFERRABLE INITIALLY DEFERRED, ADD UNIQUE (id)',
		'ADD PRIMARY KEY (id, n)',
		"ADD UNIQUE (id), ADD CONSTRAINT $u PRIMARY KEY (id)",
		'ADD UNIQUE (id), ADD UNIQUE (id)');
	my $prefix = $self->chance(0.1) ? 'ONLY ' : '';

	return {
		sql => "ALTER TABLE $prefix$f->{rel} $cmds",
		others_sql => undef,
		classes => {},
		refusable => 0 };
}

# A statement that only sets NOT NULL on existing columns: "v" has NULLs
# in every fifth row, "n" and "old" none, "id" is NOT NULL already.
sub set_not_null_statement
{
	my ($self, $f) = @_;
	my $cols = $self->pick([qw(n)], [qw(v)], [qw(old)], [qw(n old)], [qw(v n)], [qw(id)],
		[qw(n n)]);
	my $prefix = $self->chance(0.1) ? 'ONLY ' : '';

	return {
		sql => "ALTER TABLE $prefix$f->{rel} "
		  . join(', ', map { 'ALTER COLUMN ' . qi($_) . ' SET NOT NULL' } @$cols),
		others_sql => undef,
		classes => {},
		refusable => 0 };
}

# A CREATE INDEX, or an ALTER TABLE that adds CHECK or FOREIGN KEY
# constraints, on a fixture's existing columns: named or not, unique,
# expression, partial, INCLUDE, IF NOT EXISTS, other access methods; some
# fail on the data ("n" repeats and is 0 in every seventh row, "v" has
# NULLs, "id" goes past fx.parent's 10), some on the table (ONLY on a
# table with children).  Half of them run inside a transaction block,
# where schema_guard stages them; outside one a CREATE INDEX is built
# concurrently in place.
sub index_or_constraint_statement
{
	my ($self, $f) = @_;
	my $rel = $f->{rel};
	my $i = qi("$f->{name}_i$f->{no}");
	my $c = qi("$f->{name}_c$f->{no}");
	my $only = $self->chance(0.1) ? 'ONLY ' : '';
	my $sql;

	if ($self->chance(0.5))
	{
		my $what = $self->pick('(n)', '(v, id)', '(v DESC NULLS LAST)',
			'(lower(v)) WHERE n > 2', '(id) INCLUDE (v)', 'USING hash (v)',
			'((100 / n))', '(n) WHERE v IS NOT NULL');
		my $unique = $what !~ /hash/ && $self->chance(0.4) ? 'UNIQUE ' : '';
		my $name = $self->pick('', "$i ", "IF NOT EXISTS $i ");
		$sql = "CREATE ${unique}INDEX ${name}ON $only$rel $what";
		# the same name twice: the second is skipped, or fails
		$sql .= ";
CREATE INDEX ${name}ON $only$rel (id)" if $name ne '' && $self->chance(0.15);
	}
	else
	{
		my @cons = ('ADD CHECK (n >= 0)', "ADD CONSTRAINT $c CHECK (n < 5)",
			'ADD CHECK (v IS NOT NULL)', "ADD CONSTRAINT $c CHECK (n >= 0) NO INHERIT",
			'ADD CHECK (n > 100) NOT VALID', 'ADD FOREIGN KEY (n) REFERENCES fx.parent (id)',
			"ADD CONSTRAINT $c FOREIGN KEY (id) REFERENCES fx.parent",
			'ADD FOREIGN KEY (n) REFERENCES fx.parent ON DELETE CASCADE NOT VALID');
		my @picked = ($self->pick(@cons));
		push @picked, $self->pick(grep { $_ !~ /\Q$c\E/ } @cons) if $self->chance(0.3);
		$sql = "ALTER TABLE $only$rel " . join(', ', @picked);
	}
	return {
		sql => $sql,
		block => $self->chance(0.5),
		others_sql => undef,
		classes => {},
		refusable => 0 };
}

# After the ADD COLUMN statements: UNIQUE and PRIMARY KEY statements,
# drawn from the same generator after them (so that a seed gives the same
# ADD COLUMNs), then $opt{set_not_null} cases of SET NOT NULL alone (by
# default a tenth of the count, plus 5), drawn
# from a generator of their own so the others stay as the seed makes them,
# then $opt{indexes} cases of CREATE INDEX, CHECK and FOREIGN KEY (a
# tenth of the count, plus 10), from another.
sub generate
{
	my (%opt) = @_;
	my $seed = $opt{seed} // $DEFAULT_SEED;
	my $count = $opt{count} // 100;
	my $self = GenAddColumn->new($seed, $opt{server_version});
	my $more = GenAddColumn->new($seed + 1, $opt{server_version});
	my @cases;

	for my $no (1 .. $count)
	{
		my $f = $self->make_fixture($no);
		my $st = $self->make_statement($f);
		push @cases, { %$f, %$st };
	}
	my $unique = 10 + int($count / 10);
	for my $no ($count + 1 .. $count + $unique)
	{
		my $f = $self->make_fixture($no);
		my $st = $self->make_unique_statement($f);
		push @cases, { %$f, %$st };
	}
	my $set_not_null = $opt{set_not_null} // int($count / 10) + 5;
	my $indexes = $opt{indexes} // int($count / 10) + 10;
	my $next = $count + $unique;
	for my $no ($next + 1 .. $next + $set_not_null)
	{
		my $f = $more->make_fixture($no);
		push @cases, { %$f, %{ $more->set_not_null_statement($f) } };
	}
	$next += $set_not_null;
	my $other = GenAddColumn->new($seed + 2, $opt{server_version});
	for my $no ($next + 1 .. $next + $indexes)
	{
		my $f = $other->make_fixture($no);
		push @cases, { %$f, %{ $other->index_or_constraint_statement($f) } };
	}
	return { seed => $seed, prelude => prelude_sql(), cases => \@cases };
}

# ---------------------------------------------------------------------------
# Run as a script: print the SQL.

sub main
{
	my %opt;
	while (@ARGV)
	{
		my $a = shift @ARGV;
		if ($a eq '--seed') { $opt{seed} = shift @ARGV }
		elsif ($a eq '--count') { $opt{count} = shift @ARGV }
		elsif ($a eq '--server-version') { $opt{server_version} = shift @ARGV }
		else { die "usage: $0 [--seed N] [--count N] [--server-version MAJOR]\n" }
	}
	my $g = generate(%opt);
	print "-- gen_add_column.pl --seed $g->{seed} --count ", scalar @{ $g->{cases} }, "\n";
	print "SET schema_guard.mode = off;\n", $g->{prelude};
	for my $c (@{ $g->{cases} })
	{
		print "-- fixture $c->{no} ($c->{kind})\n", map { "$_\n" } @{ $c->{setup} };
	}
	print "RESET schema_guard.mode;\n";
	for my $c (@{ $g->{cases} })
	{
		print "-- case $c->{no}\n", $c->{block} ? "BEGIN;\n$c->{sql};\nCOMMIT;\n" : "$c->{sql};\n";
	}
	return 0;
}

exit main() unless caller;

1;
