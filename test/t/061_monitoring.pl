# A DBA watches schema_guard with postgres_exporter (Prometheus) and the
# server log.  What must hold:
#
# - monitoring/postgres_exporter.yml is in the format postgres_exporter's
#   --extend.query-path reads: a map of metric namespaces, each with a
#   query and a list of metrics whose usage is LABEL, GAUGE or COUNTER and
#   that have a description;
# - every query runs, as a role that has pg_monitor and nothing else, and
#   returns exactly the columns it declares, numbers (or NULL) for gauges
#   and counters and text for labels;
# - with jobs in every state (done, failed, cancelled, paused, running and
#   waiting for a lock), the values say so: the per-job series cover the
#   unfinished and failed jobs, with state, percent, the waiting reason and
#   the lock retries; the totals count the jobs done and failed, the rows
#   filled and the lock retries;
# - every change of a job's state or phase is in the server log at LOG,
#   naming the job and its table, with the error of a failed job.
use strict;
use warnings;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use YAML::XS ();
use SchemaGuardTest qw(new_node stage_paused poll_job_state wait_for_job_end);

my $node = new_node('monitoring', conf => "schema_guard.lock_timeout = 50ms\n");
my $rows = 2000;

sub query
{
	my ($sql) = @_;
	return $node->safe_psql('postgres', $sql);
}

#
# The file.
#
my $file = 'monitoring/postgres_exporter.yml';
my $queries = eval { YAML::XS::LoadFile($file) };
ok(ref $queries eq 'HASH', "$file is YAML: a map of metric namespaces") or diag($@);
$queries = {} unless ref $queries eq 'HASH';
is_deeply([ sort keys %$queries ], [qw(schema_guard_job schema_guard_job_status schema_guard_jobs)],
	'it has the per-job, per-job status and per-database namespaces');
my %usage;    # namespace => { column => usage }
for my $ns (sort keys %$queries)
{
	my $q = $queries->{$ns};
	like($ns, qr/^[a-z_][a-z0-9_]*$/, "$ns is a valid metric name prefix");
	ok(ref $q eq 'HASH' && defined $q->{query} && !ref $q->{query}, "$ns has a query");
	ok(ref $q->{metrics} eq 'ARRAY' && @{ $q->{metrics} }, "$ns has a list of metrics");
	is_deeply([ grep { !/^(query|metrics|master|cache_seconds|runonserver)$/ } sort keys %$q ],
		[], "$ns has only keys postgres_exporter knows");
	for my $m (@{ $q->{metrics} // [] })
	{
		my @names = ref $m eq 'HASH' ? keys %$m : ();
		is(scalar @names, 1, "$ns: each metric is a map of one column") or next;
		my ($col) = @names;
		my $spec = $m->{$col};
		like($spec->{usage} // '', qr/^(LABEL|GAUGE|COUNTER)$/, "$ns.$col: usage LABEL, GAUGE or COUNTER");
		ok(length($spec->{description} // ''), "$ns.$col has a description");
		ok(!exists $usage{$ns}{$col}, "$ns.$col is declared once");
		$usage{$ns}{$col} = $spec->{usage};
	}
}
for my $want (
	[qw(schema_guard_job state GAUGE)],
	[qw(schema_guard_job percent GAUGE)],
	[qw(schema_guard_job rows_per_sec GAUGE)],
	[qw(schema_guard_job eta_seconds GAUGE)],
	[qw(schema_guard_job lock_retries COUNTER)],
	[qw(schema_guard_job_status waiting LABEL)],
	[qw(schema_guard_jobs done_total COUNTER)],
	[qw(schema_guard_jobs failed_total COUNTER)],
	[qw(schema_guard_jobs rows_filled_total COUNTER)],
	[qw(schema_guard_jobs lock_retries_total COUNTER)])
{
	my ($ns, $col, $u) = @$want;
	is($usage{$ns}{$col}, $u, "${ns}_$col is a $u");
}

#
# Jobs in every state.
#
query(qq{
CREATE EXTENSION schema_guard;
CREATE ROLE monitor LOGIN IN ROLE pg_monitor;
CREATE TABLE public.boom_flag (x int);
CREATE FUNCTION public.boom() RETURNS int LANGUAGE plpgsql VOLATILE AS \$\$
BEGIN
  IF EXISTS (SELECT 1 FROM public.boom_flag) THEN
    RAISE EXCEPTION 'boom for the monitoring test' USING ERRCODE = 'division_by_zero';
  END IF;
  RETURN 1;
END \$\$;
});
for my $t (qw(t_done t_fail t_cancel t_paused t_lock))
{
	query("CREATE TABLE public.$t (id int PRIMARY KEY, v text);
	       INSERT INTO public.$t SELECT g, 'row ' || g FROM generate_series(1, $rows) g");
}
my $log_offset = -s $node->logfile;
my ($done_job) = stage_paused($node, 'postgres',
	'ALTER TABLE public.t_done ADD COLUMN token uuid DEFAULT gen_random_uuid()');
query("SELECT schema_guard.resume($done_job)");
wait_for_job_end($node, 'postgres', $done_job);
my ($fail_job) = stage_paused($node, 'postgres', 'ALTER TABLE public.t_fail ADD COLUMN n int DEFAULT public.boom()');
query("INSERT INTO public.boom_flag VALUES (1); SELECT schema_guard.resume($fail_job)");
ok(poll_job_state($node, 'postgres', $fail_job, 'failed'), 'a job whose default raises fails');
my ($cancel_job) = stage_paused($node, 'postgres',
	'ALTER TABLE public.t_cancel ADD COLUMN token uuid DEFAULT gen_random_uuid()');
query("SELECT schema_guard.cancel($cancel_job)");
my ($paused_job) = stage_paused($node, 'postgres',
	'ALTER TABLE public.t_paused ADD COLUMN token uuid DEFAULT gen_random_uuid()');
my ($lock_job) = stage_paused($node, 'postgres',
	'ALTER TABLE public.t_lock ADD COLUMN token uuid DEFAULT gen_random_uuid()');
my $locker = $node->background_psql('postgres');
$locker->query_safe('BEGIN; LOCK TABLE public.t_lock IN SHARE MODE');
query("SELECT schema_guard.resume($lock_job)");
ok($node->poll_query_until('postgres', "SELECT retries > 0 FROM schema_guard.jobs WHERE job_id = $lock_job"),
	'the job on the locked table retries its batch');
ok($node->poll_query_until('postgres', "SELECT waiting FROM schema_guard.progress WHERE job = $lock_job", 'lock'),
	'and waits for the lock');
is(query('SELECT string_agg(job || \' \' || state, \', \' ORDER BY job) FROM schema_guard.progress'),
	"$done_job done, $fail_job failed, $cancel_job cancelled, $paused_job paused, $lock_job running",
	'jobs in every state');

#
# Every query, as the exporter's role would run it.
#
my %results;    # namespace => [ { column => value } ]
for my $ns (sort keys %$queries)
{
	my $sql = $queries->{$ns}{query} =~ s/;\s*$//r;
	my ($rc, $out, $err) = $node->psql('postgres',
		"SET ROLE monitor; SELECT pg_catalog.row_to_json(q) FROM ($sql) q");
	is($rc, 0, "$ns: the query runs as a role with pg_monitor") or diag($err);
	($rc, my $desc, $err) = $node->psql('postgres', "SET ROLE monitor;\n$sql \\gdesc");
	my %columns = map { (split /\|/)[0] => 1 } split /\n/, $desc;
	is_deeply([ sort keys %columns ], [ sort keys %{ $usage{$ns} } ],
		"$ns: it returns exactly the columns it declares");
	my @rows = map { JSON::PP->new->decode($_) } grep { length } split /\n/, $out;
	$results{$ns} = \@rows;
	for my $row (@rows)
	{
		for my $col (sort keys %$row)
		{
			my $u = $usage{$ns}{$col} // 'undeclared';
			my $v = $row->{$col};
			if ($u eq 'LABEL')
			{
				ok(defined $v && !ref $v, "$ns: label $col is text ('" . ($v // 'NULL') . "')");
			}
			else
			{
				ok(!defined $v || $v =~ /^-?[0-9.]+(e[-+]?\d+)?$/i,
					"$ns: $u $col is a number or NULL (" . ($v // 'NULL') . ')');
			}
		}
	}
}

my %job = map { $_->{job} => $_ } @{ $results{schema_guard_job} };
is_deeply([ sort { $a <=> $b } keys %job ], [ $fail_job, $paused_job, $lock_job ],
	'schema_guard_job: a series for each failed or unfinished job, none for finished ones');
is($job{$fail_job}{state}, 4, 'the failed job: state 4');
is($job{$paused_job}{state}, 3, 'the paused job: state 3');
is($job{$lock_job}{state}, 2, 'the running job: state 2');
cmp_ok($job{$lock_job}{lock_retries}, '>', 0, 'the running job counts its lock retries');
is($job{$paused_job}{table}, 'public.t_paused', 'the table label names the table');
is($job{$paused_job}{percent}, 0, 'the paused job is at 0 percent');
my %status = map { $_->{job} => $_ } @{ $results{schema_guard_job_status} };
is($status{$lock_job}{waiting}, 'lock', 'schema_guard_job_status: the running job waits for a lock');
is($status{$paused_job}{waiting}, 'paused', 'the paused job waits because it is paused');
is("$status{$fail_job}{state} $status{$fail_job}{phase}", 'failed backfill',
	'the failed job, with the phase it failed in');
my ($totals) = @{ $results{schema_guard_jobs} };
is($totals->{done_total}, 1, 'schema_guard_jobs: one job done');
is($totals->{failed_total}, 1, 'one job failed');
cmp_ok($totals->{rows_filled_total}, '>=', $rows, 'the rows filled count the done job\'s rows');
cmp_ok($totals->{lock_retries_total}, '>=', $job{$lock_job}{lock_retries}, 'the lock retries');
is("$totals->{active} $totals->{paused} $totals->{failed}", '1 1 1', 'one job active, one paused, one failed');
is($totals->{datname}, 'postgres', 'the database label');

# A job retried after its failure stays counted as failed once.
query('TRUNCATE public.boom_flag');
query("SELECT schema_guard.retry($fail_job)");
$locker->query_safe('COMMIT');
wait_for_job_end($node, 'postgres', $_) for $fail_job, $lock_job;
is(query("SELECT done_total || ' ' || failed_total FROM ($queries->{schema_guard_jobs}{query}) q"),
	'3 1', 'after a retry: three jobs done, one ever failed');

#
# The server log.
#
my $log = slurp_file($node->logfile, $log_offset);
my %want = (
	"$done_job on table public.t_done: state running, phase backfill" => 'a job starting',
	"$done_job on table public.t_done: state running, phase verify" => 'a job changing phase',
	"$done_job on table public.t_done: state done, phase done" => 'a job done',
	"$fail_job on table public.t_fail: state failed, phase backfill" => 'a job failing',
	"$fail_job on table public.t_fail: state queued, phase backfill" => 'a job retried',
	"$cancel_job on table public.t_cancel: state cancelled, phase backfill" => 'a job cancelled',
	"$paused_job on table public.t_paused: state paused, phase backfill" => 'a job paused',
	"$lock_job on table public.t_lock: state queued, phase backfill" => 'a job resumed',
	"$lock_job on table public.t_lock: state done, phase done" => 'the job that waited, done');
for my $line (sort keys %want)
{
	like($log, qr/LOG:  schema_guard job \Q$line\E\n/, "the server log has $want{$line}: job $line");
}
like($log,
	qr/LOG:  schema_guard job $fail_job on table public\.t_fail: state failed, phase backfill\n.*DETAIL:  .*boom for the monitoring test/,
	'the failed job\'s line has its error');

done_testing();
