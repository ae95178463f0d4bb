# What schema_guard says of itself outside the extension, in step with the
# extension: META.json (PGXN's distribution metadata), the Debian
# packaging and the SQL scripts, against schema_guard.control.
#
# - META.json is PGXN's format (meta-spec 1.0.0) with every key PGXN needs
#   and the ones people look for (resources, prereqs, release_status);
# - its name, abstract and version are the control file's name, comment and
#   default_version (PGXN writes versions as x.y.z: '0.2' is "0.2.0"), and
#   so is the one extension it provides, whose file is the install script
#   of that version, present in sql/;
# - the PostgreSQL it requires is the oldest one debian/pgversions builds
#   for; debian/changelog's latest entry is the same version;
# - every version that has an install script in sql/ reaches
#   default_version through the update scripts there, and no update script
#   starts or ends at a version nothing installs or reaches;
# - the README's table of settings has every setting the library defines,
#   each with the default, range and context the server reports
#   (pg_settings of a server that preloads the library).
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "cannot read $path: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text;
}

# schema_guard.control: name => value
my %control;
for my $line (split /\n/, slurp('schema_guard.control'))
{
	next if $line =~ /^\s*(#|$)/;
	$line =~ /^\s*(\w+)\s*=\s*(?:'((?:[^']|'')*)'|(\S+))\s*$/
	  or die "cannot read schema_guard.control line: $line";
	$control{$1} = defined $2 ? ($2 =~ s/''/'/gr) : $3;
}
my $version = $control{default_version};
ok(defined $version && $version =~ /^\d+\.\d+(\.\d+)?$/,
	"schema_guard.control has a default_version ($version)");
(my $semver = $version) =~ s/^(\d+\.\d+)$/$1.0/;

my $meta = eval { JSON::PP->new->decode(slurp('META.json')) };
ok($meta, 'META.json is JSON') or diag($@);
$meta //= {};

for my $key (
	qw(name abstract version maintainer license provides meta-spec
	prereqs resources release_status))
{
	ok(exists $meta->{$key}, "META.json has $key");
}
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows meta-spec 1.0.0');
is($meta->{name}, 'schema_guard', 'META.json names the extension');
is($meta->{abstract}, $control{comment}, "META.json's abstract is the control file's comment");
is($meta->{version}, $semver, "META.json's version is default_version $version");
like($meta->{release_status}, qr/^(stable|testing|unstable)$/, 'release_status is one PGXN knows');
like($meta->{license}, qr/^postgresql$/, 'the license is the PostgreSQL License');
like(slurp('LICENSE'), qr/PostgreSQL License/, 'LICENSE says the same');
like(slurp('debian/copyright'), qr/^License: PostgreSQL$/m, 'debian/copyright says the same');
ok(ref $meta->{resources} eq 'HASH' && %{ $meta->{resources} }, 'resources say where to report bugs')
  and ok($meta->{resources}{bugtracker}{mailto} || $meta->{resources}{bugtracker}{web},
	'a bug tracker is named');

my $provides = $meta->{provides} // {};
is_deeply([ sort keys %$provides ], ['schema_guard'], 'META.json provides the one extension');
my $ext = $provides->{schema_guard} // {};
is($ext->{version}, $semver, 'the extension it provides is at default_version');
is($ext->{file}, "sql/schema_guard--$version.sql", 'its file is the install script of default_version');
ok(-f $ext->{file}, "$ext->{file} is there") if defined $ext->{file};
is($ext->{abstract}, $control{comment}, "its abstract is the control file's comment");
ok(-f $ext->{docfile}, "its docfile $ext->{docfile} is there") if defined $ext->{docfile};

# The oldest PostgreSQL: the prerequisite, the Debian packaging, the README.
my $pg_required = $meta->{prereqs}{runtime}{requires}{PostgreSQL} // '';
like($pg_required, qr/^\d+\.\d+\.\d+$/, "META.json requires a PostgreSQL version ($pg_required)");
my ($pg_major) = $pg_required =~ /^(\d+)/;
my ($pgversions) = grep { !/^\s*(#|$)/ } split /\n/, slurp('debian/pgversions');
is($pgversions, "$pg_major+", "debian/pgversions builds for PostgreSQL $pg_major and later");
like(slurp('README.md'), qr/PostgreSQL $pg_major or later/, "the README says PostgreSQL $pg_major or later");
my ($changelog_version) = slurp('debian/changelog') =~ /^schema-guard \(([^)]+)\)/;
is($changelog_version =~ s/-[^-]*$//r, $version, "debian/changelog's latest entry is $version");
like(slurp('debian/control.in'), qr/^Package: postgresql-PGVERSION-schema-guard$/m,
	'debian/control.in makes one package per server version');

# Install and update scripts: every installable version reaches default_version.
my (%installs, %updates);
for my $file (glob 'sql/schema_guard--*.sql')
{
	if ($file =~ m{^sql/schema_guard--([^-]+)--([^-]+)\.sql$}) { push @{ $updates{$1} }, $2 }
	elsif ($file =~ m{^sql/schema_guard--([^-]+)\.sql$}) { $installs{$1} = 1 }
	else { fail("$file is neither an install nor an update script") }
}
ok($installs{$version}, "an install script of default_version $version is there");
my %reached;
sub reach
{
	my ($v) = @_;
	return if $reached{$v}++;
	reach($_) for @{ $updates{$v} // [] };
	return;
}
for my $from (sort keys %installs)
{
	%reached = ();
	reach($from);
	ok($reached{$version}, "version $from, installed, updates to $version");
}
%reached = ();
reach($_) for keys %installs;
for my $from (sort keys %updates)
{
	ok($reached{$from}, "the update scripts from $from start at a version one can have");
}

#
# The README's settings against the server's.
#
my %readme;    # name => [default, range, context]
for my $line (split /\n/, slurp('README.md'))
{
	next unless $line =~ /^\|\s*`(schema_guard\.\w+)`\s*\|/;
	my (undef, $name, $default, $range, $context) = map { s/^\s+|\s+$//gr } split /\|/, $line;
	$name =~ s/`//g;
	ok(!exists $readme{$name}, "the README's settings table has $name once");
	$readme{$name} = [ $default, $range, $context ];
}

# A value as the README writes it ("64MB", "1min", "0"), in the setting's
# base unit (kB, ms, s or none), or the text of an enum or bool.
my %factor = (
	kB => [ kB => 1 ], MB => [ kB => 1024 ], GB => [ kB => 1024**2 ], TB => [ kB => 1024**3 ],
	ms => [ ms => 1 ], s => [ ms => 1000 ], min => [ ms => 60_000 ], h => [ ms => 3_600_000 ],
	d => [ ms => 86_400_000 ]);
sub base_value
{
	my ($text, $unit) = @_;
	$text =~ s/`//g;
	return $text unless $text =~ /^(-?\d+)(kB|MB|GB|TB|ms|s|min|h|d)?$/;
	my ($n, $u) = ($1, $2);
	return $n unless defined $u;
	my ($kind, $f) = @{ $factor{$u} };
	return $kind eq 'ms' && ($unit // '') eq 's' ? $n * $f / 1000 : $n * $f;
}

my $node = PostgreSQL::Test::Cluster->new('meta_settings');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'schema_guard'\n");
$node->start;
my @server = map { [ split /\|/, $_, -1 ] } split /\n/, $node->safe_psql('postgres', q{
	SELECT name, boot_val, coalesce(unit, ''), vartype, coalesce(min_val, ''),
	       coalesce(max_val, ''), coalesce(array_to_string(enumvals, ', '), ''), context
	  FROM pg_settings WHERE name LIKE 'schema_guard.%' ORDER BY name});
$node->stop;
cmp_ok(scalar @server, '>=', 13, 'the library defines its settings (' . @server . ')');
is_deeply([ sort keys %readme ], [ map { $_->[0] } @server ],
	"the README's settings table lists every setting the library defines, and no other");
for my $s (@server)
{
	my ($name, $boot, $unit, $type, $min, $max, $enumvals, $context) = @$s;
	my $r = $readme{$name} or next;
	my ($default, $range, $rcontext) = @$r;
	is(base_value($default, $unit), $boot, "$name: the README's default $default is the server's");
	is($rcontext, { user => 'user', sighup => 'reload', postmaster => 'restart',
		superuser => 'superuser' }->{$context} // $context, "$name: context $rcontext");
	if ($type eq 'enum' || $type eq 'bool')
	{
		is($range =~ s/`//gr, $type eq 'bool' ? 'on, off' : $enumvals, "$name: the values $range");
	}
	else
	{
		my ($lo, $hi) = $range =~ /^`([^`]+)`\s*–\s*`([^`]+)`$/;
		is(defined $lo ? base_value($lo, $unit) . ' ' . base_value($hi, $unit) : $range, "$min $max",
			"$name: the range $range is the server's");
	}
}

done_testing();
