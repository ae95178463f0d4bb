# bench/lib/common.sh: preparing the machine, building and installing
# schema_guard, the temporary cluster, and the helpers every scenario uses.
# Sourced by bench/run; not a program of its own.

die() { echo "bench/run: $*" >&2; exit 2; }
say() { printf '%s  %s\n' "$(date +%H:%M:%S)" "$*"; }
now() { date +%s.%N; }
calc() { awk "BEGIN { printf $1 }"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Sleep until the clock reaches an absolute time (seconds since the epoch).
sleep_until() {
	local d
	d=$(awk -v t="$1" -v n="$(now)" 'BEGIN { printf "%.3f", (t > n ? t - n : 0) }')
	sleep "$d"
}

#
# Packages, PostgreSQL to use, build with warnings as errors, install.
#
prepare_install() {
	# the server packages only when the server is Debian's
	if [ -n "${SG_PGBIN:-}${PG_CONFIG:-}" ]; then
		PGVER='' "$here/scripts/setup"
	else
		"$here/scripts/setup"
	fi
	if [ -n "${SG_PGBIN:-}" ]; then
		PGBIN=$SG_PGBIN
	elif [ -n "${PG_CONFIG:-}" ]; then
		PGBIN=$("$PG_CONFIG" --bindir) || die "PG_CONFIG=$PG_CONFIG does not work"
	else
		PGBIN=/usr/lib/postgresql/$PGVER/bin
	fi
	PG_CONFIG=$PGBIN/pg_config
	[ -x "$PG_CONFIG" ] || die "no PostgreSQL at $PGBIN (set SG_PGBIN or PG_CONFIG)"
	"$PG_CONFIG" --version | grep -q "PostgreSQL $PGVER\." ||
		die "$PG_CONFIG is $("$PG_CONFIG" --version), not PostgreSQL $PGVER"
	command -v gnuplot >/dev/null || die "gnuplot is missing (scripts/setup installs it)"

	# Build a copy, so that the checkout is left as it is.
	mkdir "$work/build"
	tar -C "$here" --exclude=.git --exclude='tmp_check*' --exclude=results \
		--exclude=output_iso --exclude=log --exclude=bench -cf - . | tar -C "$work/build" -xf -
	[ ${#as_pg[@]} -eq 0 ] || chown -R postgres:postgres "$work/build"
	if ! "${as_pg[@]}" make -s -C "$work/build" PG_CONFIG="$PG_CONFIG" clean >"$work/build.log" 2>&1 ||
	   ! "${as_pg[@]}" make -s -C "$work/build" PG_CONFIG="$PG_CONFIG" COPT=-Werror >>"$work/build.log" 2>&1; then
		cat "$work/build.log"
		die "build failed"
	fi
	# A private installation owned by postgres is written as postgres; the
	# system's needs root.
	if "${as_pg[@]}" test -w "$("$PG_CONFIG" --pkglibdir)" -a -w "$("$PG_CONFIG" --sharedir)/extension"; then
		"${as_pg[@]}" make -s -C "$work/build" PG_CONFIG="$PG_CONFIG" install >>"$work/build.log" 2>&1
	else
		as_root make -s -C "$work/build" PG_CONFIG="$PG_CONFIG" install >>"$work/build.log" 2>&1
	fi
	say "built with -Werror and installed schema_guard into $("$PG_CONFIG" --pkglibdir)"
}

#
# The temporary cluster: socket in $work, a port nobody uses.
#
start_cluster() {
	port=$((50000 + RANDOM % 10000))
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || [ -e "/tmp/.s.PGSQL.$port" ] ||
		  [ -e "/var/run/postgresql/.s.PGSQL.$port" ]; do
		port=$((port + 1))
	done
	"${as_pg[@]}" "$PGBIN/initdb" -D "$work/data" -U postgres -A trust -E UTF8 --locale=C \
		--no-instructions >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log"; die "initdb failed"; }
	cat >>"$work/data/postgresql.conf" <<EOF

# bench/run
port = $port
listen_addresses = ''
unix_socket_directories = '$work'
# shared_preload_libraries, which scenario 5 switches off and on again
include_if_exists = 'preload.conf'
shared_buffers = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
log_line_prefix = '%m [%p] %a: '
# stage the ALTER at every --scale (the default skips tables under 1MB)
schema_guard.min_table_size = 0
# SG_BENCH_SETTINGS
${SG_BENCH_SETTINGS:-}
EOF
	set_preload schema_guard
	pg_ctl_start
	"${as_pg[@]}" "$PGBIN/createdb" -h "$work" -p "$port" -U postgres bench
	psql_bench -q -c "CREATE EXTENSION schema_guard"
	say "temporary cluster: $work/data, socket $work, port $port"
}

# The libraries to preload from the next start on.
set_preload() {		# libraries, or nothing
	echo "shared_preload_libraries = '$1'" | "${as_pg[@]}" tee "$work/data/preload.conf" >/dev/null
}

pg_ctl_start() {
	"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/data" -l "$work/postgres.log" -w -t 120 start >/dev/null ||
		{ tail -n 30 "$work/postgres.log"; die "could not start the cluster"; }
}

pg_ctl_stop() {
	"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/data" -m fast -t 120 -w stop >/dev/null
}

stop_cluster() {
	[ -f "$work/data/postmaster.pid" ] || return 0
	pg_ctl_stop 2>/dev/null ||
		"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
}

psql_on() {		# database, psql arguments...
	local db=$1
	shift
	PGOPTIONS="-c client_min_messages=warning" "${as_pg[@]}" "$PGBIN/psql" -X -v ON_ERROR_STOP=1 \
		-h "$work" -p "$port" -U postgres -d "$db" "$@"
}
# The results (schema r) live in the database bench; the tables under
# test in $tdb, bench too except in scenario 1, which clones a database
# per measurement.
tdb=bench
psql_bench() { psql_on bench "$@"; }
psql_t() { psql_on "$tdb" "$@"; }
# One query, unaligned, fields separated by |: on bench, on $tdb.
q() { psql_bench -q -At -F '|' -c "$1"; }
qt() { psql_t -q -At -F '|' -c "$1"; }

# Run SQL with \timing and print "<ms of each timed statement>" on one
# line, in order; other output goes to $work/psql.log.  The SQL marks the
# statements to time by surrounding them with \timing on / \timing off.
timed_sql() {
	local out
	out=$(psql_t -q 2>&1 <<<"$1") || { echo "$out" >>"$work/psql.log"; echo "$out" >&2; return 1; }
	echo "$out" >>"$work/psql.log"
	echo "$out" | awk '/^(Time|Wait): / { printf "%s%s", sep, $2; sep = " " } END { print "" }'
}

#
# Tables.  Every scenario works on copies of a template with the same rows:
#   id bigserial PRIMARY KEY, customer_id int (indexed), amount numeric,
#   status text, created_at timestamptz
#

# Create the template of N rows once (no indexes, only read from); with
# the same rows in every database.
make_template() {		# rows
	local n=$1
	[ -z "$(qt "SELECT 1 FROM pg_class WHERE relname = 'tmpl_$n'")" ] || return 0
	psql_t -q <<EOF
SELECT setseed(0.5) \\g /dev/null
CREATE TABLE tmpl_$n (id bigint, customer_id integer, amount numeric(10,2),
                      status text, created_at timestamptz);
INSERT INTO tmpl_$n
SELECT g, 1 + floor(random() * 100000)::int,
       round((random() * 500)::numeric, 2),
       (ARRAY['new', 'paid', 'shipped', 'delivered', 'cancelled'])[1 + floor(random() * 5)::int],
       now() - random() * interval '365 days'
  FROM generate_series(1, $n) g;
VACUUM (ANALYZE) tmpl_$n;
EOF
}

# A fresh copy of the template: table, indexes, statistics, all-visible.
make_copy() {		# rows, name
	local n=$1 t=$2
	make_template "$n"
	psql_t -q <<EOF
DROP TABLE IF EXISTS $t;
CREATE TABLE $t (
    id          bigserial,
    customer_id integer NOT NULL,
    amount      numeric(10,2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO $t SELECT * FROM tmpl_$n ORDER BY id;
SELECT setval('${t}_id_seq', $n) \\g /dev/null
ALTER TABLE $t ADD PRIMARY KEY (id);
CREATE INDEX ON $t (customer_id);
VACUUM (ANALYZE) $t;
CHECKPOINT;
EOF
}

drop_table() { qt "DROP TABLE IF EXISTS $1" >/dev/null; }

# The job an ALTER on this table created last, or nothing.
last_job() { qt "SELECT max(job_id) FROM schema_guard.jobs WHERE relid = '$1'::regclass"; }

# Wait until a job has ended; print its state.  Polls in short
# transactions of their own, so that no snapshot of ours holds back the
# pruning of the row versions the backfill replaces.
wait_job() {		# job, timeout in seconds
	local job=$1 limit=$2 from state
	from=$(now)
	while :; do
		state=$(qt "SELECT state FROM schema_guard.jobs WHERE job_id = $job")
		case $state in
			done|failed|cancelled|reverted) echo "$state"; return 0 ;;
		esac
		if [ "$(calc "\"%d\", ($(now) - $from > $limit)")" = 1 ]; then
			echo "timeout"
			return 0
		fi
		sleep 0.25
	done
}

# "heap_bytes|total_bytes" of a table.
table_sizes() { qt "SELECT pg_table_size('$1'), pg_total_relation_size('$1')"; }

# A database of its own with the extension, or a copy of one (its files
# copied, the quickest way to an identical table with its indexes).
create_database() {		# name, [template]
	local i
	for i in 1 2 3; do
		# the template must have no session, and a worker may just be
		# looking at it
		if q "CREATE DATABASE $1 ${2:+TEMPLATE $2 STRATEGY FILE_COPY}" >/dev/null 2>"$work/createdb.err"; then
			[ -n "${2:-}" ] || psql_on "$1" -q -c "CREATE EXTENSION schema_guard"
			return 0
		fi
		sleep 2
	done
	cat "$work/createdb.err" >&2
	die "could not create database $1"
}
drop_database() { q "DROP DATABASE IF EXISTS $1 WITH (FORCE)" >/dev/null; }

#
# pgbench.
#
pgbench_pid=

# Start pgbench in the background.  Sets pgbench_pid and pgb_t0 (the
# clock just before it started).
start_pgbench() {		# label, options...
	local label=$1
	shift
	rm -f "$work/pgb-$label-log".*
	pgb_t0=$(now)
	PGAPPNAME=pgbench "${as_pg[@]}" "$PGBIN/pgbench" -h "$work" -p "$port" -U postgres "$@" bench \
		>"$work/pgb-$label.out" 2>"$work/pgb-$label.progress" &
	pgbench_pid=$!
}

# Wait until a started pgbench reports progress.
pgbench_running() {		# label
	local _
	for _ in $(seq 300); do
		grep -q '^progress:' "$work/pgb-$1.progress" && return 0
		kill -0 "$pgbench_pid" 2>/dev/null || { cat "$work/pgb-$1.progress"; die "pgbench failed"; }
		sleep 0.1
	done
	die "pgbench did not start"
}

# Stop a pgbench started with a long -T.  It dies without flushing the
# last few lines of its per-transaction log, so analyses end a second
# before the time this returns.
stop_pgbench() {		# label
	if ! kill -0 "$pgbench_pid" 2>/dev/null; then
		echo "pgbench exited early:" >&2
		tail -n 20 "$work/pgb-$1.progress" >&2
	fi
	kill "$pgbench_pid" 2>/dev/null || true
	wait "$pgbench_pid" 2>/dev/null || true
	pgbench_pid=
}

# Run pgbench to completion; print its tps (without initial connection time).
run_pgbench() {		# label, options...
	local label=$1 out
	shift
	out=$(PGOPTIONS="${pgbench_options:-}" "${as_pg[@]}" "$PGBIN/pgbench" -h "$work" -p "$port" -U postgres "$@" bench 2>&1) ||
		{ echo "$out" >&2; die "pgbench $label failed"; }
	echo "$out" >"$work/pgb-$label.out"
	echo "$out" | awk '/^tps = / { print $3; exit }'
}

# Machine load, for the report: "1-minute load average / cores".
load_now() { awk -v n="$(nproc)" '{ printf "%s (%d cores)", $1, n }' /proc/loadavg; }
