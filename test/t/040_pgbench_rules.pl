# The application writes through a whole backfill, with several clients
# and every kind of write: inserts, updates with and without the new
# column, deletes, upserts with and without it, explicit NULLs.  Each kind
# of write touches its own rows (ids partitioned by id % 10) and writes
# recognisable values ('app:' || id, NULL), so the final value of every
# row is known:
#
# - a row that existed before the ALTER and that the application never
#   set the column of has a value computed by the fill expression;
# - every value the application wrote is intact, explicit NULLs included;
# - deleted rows are gone, new rows have what they were inserted with, or
#   the default;
# - the table's catalog is what the plain ALTER gives.
#
# With NOT NULL, the same writes (less the NULLs) never fail: an update of
# a row that is not filled yet gets its value from the fill trigger before
# the helper check sees it.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use SchemaGuardTest qw(new_node stage_paused_with_twin create_describe);

my $node = new_node(
	'pgbench_rules', conf => q{
# small batches with pauses, so that the backfill lasts several seconds
schema_guard.batch_min_blocks = 4
schema_guard.batch_max_blocks = 4
schema_guard.batch_delay = 20ms
});

sub query { return $node->safe_psql('postgres', $_[0]); }

my $rows = 50000;

query('CREATE EXTENSION schema_guard');
# describe(table): everything PostgreSQL records about a table, to compare
# a guarded table with its plainly altered twin.
create_describe($node, 'postgres');

# The kinds of write, each on its own rows.  Rows that existed before the
# ALTER have ids 1 to 50000, in categories by id % 10; new rows have ids
# from 100000, in categories by id % 10 too.  Category "old 0" is never
# written.  $null marks the kinds that write NULLs, left out with NOT NULL.
my @writes = (
	{
		name => 'old_1_update_other_column',
		sql => q{
\set id 10 * random(0, 4999) + 1
UPDATE TABLE SET v = 'app' WHERE id = :id;
}
	},
	{
		name => 'old_2_update_column',
		sql => q{
\set id 10 * random(0, 4999) + 2
UPDATE TABLE SET v = 'app', c = 'app:' || id WHERE id = :id;
}
	},
	{
		name => 'old_3_update_column_to_null',
		null => 1,
		sql => q{
\set id 10 * random(0, 4999) + 3
UPDATE TABLE SET v = 'app', c = NULL WHERE id = :id;
}
	},
	{
		name => 'old_4_delete',
		sql => q{
\set id 10 * random(0, 4999) + 4
WITH d AS (DELETE FROM TABLE WHERE id = :id RETURNING id)
INSERT INTO TABLE_deleted SELECT id FROM d;
}
	},
	{
		name => 'old_5_upsert_other_column',
		sql => q{
\set id 10 * random(0, 4999) + 5
INSERT INTO TABLE (id, v) VALUES (:id, 'new')
ON CONFLICT (id) DO UPDATE SET v = 'app';
}
	},
	{
		name => 'old_6_upsert_column',
		sql => q{
\set id 10 * random(0, 4999) + 6
INSERT INTO TABLE (id, v, c) VALUES (:id, 'new', 'app:' || :id)
ON CONFLICT (id) DO UPDATE SET v = 'app', c = excluded.c;
}
	},
	{
		name => 'old_7_upsert_column_to_null',
		null => 1,
		sql => q{
\set id 10 * random(0, 4999) + 7
INSERT INTO TABLE (id, v, c) VALUES (:id, 'new', NULL)
ON CONFLICT (id) DO UPDATE SET v = 'app', c = NULL;
}
	},
	{
		name => 'old_8_update_range',
		sql => q{
\set first 10 * random(0, 4989)
UPDATE TABLE SET v = 'app' WHERE id BETWEEN :first AND :first + 100 AND id % 10 = 8;
}
	},
	{
		name => 'old_9_delete_and_insert_again',
		sql => q{
\set id 10 * random(0, 4999) + 9
BEGIN;
DELETE FROM TABLE WHERE id = :id;
INSERT INTO TABLE (id, v, c) VALUES (:id, 'app', 'app:' || :id)
ON CONFLICT (id) DO UPDATE SET v = 'app', c = excluded.c;
COMMIT;
}
	},
	{
		name => 'new_0_insert_default',
		sql => q{
\set id 100000 + 10 * random(0, 999)
INSERT INTO TABLE (id, v) VALUES (:id, 'app') ON CONFLICT DO NOTHING;
}
	},
	{
		name => 'new_1_insert_value',
		sql => q{
\set id 100000 + 10 * random(0, 999) + 1
INSERT INTO TABLE (id, v, c) VALUES (:id, 'app', 'app:' || :id) ON CONFLICT DO NOTHING;
}
	},
	{
		name => 'new_2_insert_null',
		null => 1,
		sql => q{
\set id 100000 + 10 * random(0, 999) + 2
INSERT INTO TABLE (id, v, c) VALUES (:id, 'app', NULL) ON CONFLICT DO NOTHING;
}
	},
	{
		name => 'new_3_insert_select_default',
		sql => q{
\set first 100000 + 10 * random(0, 989) + 3
INSERT INTO TABLE (id, v) SELECT g, 'app' FROM generate_series(:first, :first + 90, 10) g
ON CONFLICT DO NOTHING;
}
	},
	{
		name => 'new_4_upsert_other_column',
		sql => q{
\set id 100000 + 10 * random(0, 999) + 4
INSERT INTO TABLE (id, v, c) VALUES (:id, 'app', 'app:' || :id)
ON CONFLICT (id) DO UPDATE SET v = 'app2';
}
	},
	{
		name => 'new_5_upsert_null_other_column',
		null => 1,
		sql => q{
\set id 100000 + 10 * random(0, 999) + 5
INSERT INTO TABLE (id, v, c) VALUES (:id, 'app', NULL)
ON CONFLICT (id) DO UPDATE SET v = 'app2';
}
	});

# What each category must hold at the end, as a condition on a row that
# the application wrote (v changed); rows it never wrote must be filled.
my %expected = (
	'old 0' => 'false',
	'old 1' => q{c LIKE 'fill:%'},
	'old 2' => q{c = 'app:' || id},
	'old 3' => q{c IS NULL},
	'old 4' => 'false',
	'old 5' => q{c LIKE 'fill:%'},
	'old 6' => q{c = 'app:' || id},
	'old 7' => q{c IS NULL},
	'old 8' => q{c LIKE 'fill:%'},
	'old 9' => q{c = 'app:' || id},
	'new 0' => q{c LIKE 'fill:%'},
	'new 1' => q{c = 'app:' || id},
	'new 2' => q{c IS NULL},
	'new 3' => q{c LIKE 'fill:%'},
	'new 4' => q{c = 'app:' || id},
	'new 5' => q{c IS NULL});

# One line per category: how many rows the application wrote, and how many
# rows hold something else than they must.
sub check_rows
{
	my ($table) = @_;
	my $cases = join("\n", map {
		"WHEN '$_' THEN CASE WHEN v = 'row ' || id THEN c LIKE 'fill:%' "
		  . "ELSE v IN ('app', 'app2') AND $expected{$_} END"
	} sort keys %expected);
	return query(qq{
		SELECT string_agg(format('%s: %s written, %s wrong', cat, written, wrong),
		                  E'\n' ORDER BY cat)
		  FROM (SELECT cat, count(*) FILTER (WHERE v <> 'row ' || id) AS written,
		               count(*) FILTER (WHERE NOT coalesce(ok, false)) AS wrong
		          FROM (SELECT CASE WHEN id <= $rows THEN 'old ' ELSE 'new ' END
		                       || id % 10 AS cat, id, v, c FROM $table) r,
		               LATERAL (SELECT CASE cat $cases ELSE false END AS ok) o
		         GROUP BY cat) s});
}

# Run the writes in chunks of a second or so, so that the test knows
# when the application wrote while the job was still backfilling.
sub run_writes
{
	my ($table, $nullable, $seconds, $name) = @_;
	my @args;
	foreach my $w (@writes)
	{
		next if $w->{null} && !$nullable;
		my $file = $node->basedir . "/$table-$w->{name}.sql";
		if (!-e $file)
		{
			(my $sql = $w->{sql}) =~ s/TABLE/$table/g;
			append_to_file($file, $sql);
		}
		push @args, '-f', $file;
	}
	$node->pgbench(
		"--no-vacuum --client=4 --jobs=2 --time=$seconds",
		0,
		[ qr{number of failed transactions: 0 \(0\.000%\)} ],
		[qr{^$}],
		$name, undef, @args, 'postgres');
}

sub run_variant
{
	my ($table, $nullable, $column) = @_;
	my $twin = "${table}_plain";

	query(qq{
		CREATE TABLE $table (id int PRIMARY KEY, v text);
		INSERT INTO $table SELECT g, 'row ' || g FROM generate_series(1, $rows) g;
		CREATE TABLE ${table}_deleted (id int);
		CREATE TABLE $twin (id int PRIMARY KEY, v text);
		INSERT INTO $twin SELECT g, 'row ' || g FROM generate_series(1, 100) g;
	});
	my $job =
	  stage_paused_with_twin($node, $table, $twin, "ADD COLUMN $column");

	# The application writes before the backfill starts, then all along it.
	run_writes($table, $nullable, 1, "$table: writes while the job is paused");
	query("SELECT schema_guard.resume($job)");
	my $chunks_in_backfill = 0;
	for (my $chunk = 1; $chunk <= 60; $chunk++)
	{
		my $phase = query(
			"SELECT state || ' ' || phase FROM schema_guard.jobs WHERE job_id = $job");
		last if $phase eq 'done done';
		$chunks_in_backfill++ if $phase =~ /(backfill|verify)$/;
		run_writes($table, $nullable, 1, "$table: writes while the job is $phase");
	}
	is(query("SELECT state FROM schema_guard.jobs WHERE job_id = $job"),
		'done', "$table: the job is done");
	cmp_ok($chunks_in_backfill, '>=', 2,
		"$table: the application wrote during the backfill ($chunks_in_backfill chunks of writes)");

	# Every category holds only what it must; those the application wrote
	# were written at least once.  Old rows of category 4 were deleted if
	# written; with NOT NULL no NULL is written, so categories old 3 and 7
	# stay unwritten and new 2 and 5 have no rows.
	my @categories =
	  grep { $nullable || !/^new [25]$/ } sort keys %expected;
	my %unwritten = map { $_ => 1 } ('old 0', 'old 4',
		$nullable ? () : ('old 3', 'old 7'));
	my $expect = join("\n",
		map { "$_: " . ($unwritten{$_} ? '0' : '[1-9]\d*') . ' written, 0 wrong' }
		  @categories);
	my $rows_found = check_rows($table);
	note "$table, by category:\n$rows_found";
	like($rows_found, qr/^$expect$/,
		"$table: every row holds what it must, in every category");

	is( query(qq{
		SELECT (SELECT count(*) FROM ${table}_deleted) > 0,
		       (SELECT count(*) FROM ${table}_deleted WHERE id % 10 <> 4),
		       (SELECT count(*) FROM ${table}_deleted d JOIN $table t USING (id)),
		       (SELECT count(*) FROM generate_series(1, $rows) g
		         WHERE NOT EXISTS (SELECT FROM $table WHERE id = g)
		           AND NOT EXISTS (SELECT FROM ${table}_deleted WHERE id = g))}),
		't|0|0|0',
		"$table: the deleted rows are gone, and only they are");
	is(query("SELECT describe('$table')"),
		query("SELECT describe('$twin')"),
		"$table: the catalog is what the plain ALTER gives");
}

run_variant('app_nullable', 1, q{c text DEFAULT 'fill:' || random()});
run_variant('app_not_null', 0, q{c text NOT NULL DEFAULT 'fill:' || random()});

$node->stop;
done_testing();
