# bench/lib/load.sh: scenario 6, the backfill at the loads servers carry.
#
# The application of scenario 2 (UPDATE by id, INSERT, SELECT by id), with
# as many clients as the machine has cores, first as fast as it can go for
# $load_probe seconds on a fresh copy of the table: its capacity.  Then, in
# two shapes, each for schema_guard and for the stock ALTER on a fresh copy:
#   saturating  the same clients as fast as they can go
#   half        a fixed rate of half the capacity (-R), so that falling
#               behind schedule shows as lag
# The ALTER of scenario 2 runs after $load_lead seconds of load; the window
# "during" is from the ALTER to the job's end (schema_guard) or to the
# ALTER's end (stock), compared with the $load_lead seconds before it.

load_lead=10
load_tail=3
load_probe=10

# Start the application on s2, as fast as it goes (saturating) or at a
# fixed rate (half), and return after $load_lead seconds of it.
load_start() {		# label, shape, rate
	local rate_opt=()
	[ "$2" = half ] && rate_opt=(-R "$3")
	start_pgbench "$1" -n -M prepared -c "$load_clients" -j "$load_clients" -T 86400 "${rate_opt[@]}" \
		-P 1 --progress-timestamp -l --log-prefix="$work/pgb-$1-log" -D rows="$table_rows" \
		-f "$work/s2-update.sql@5" -f "$work/s2-insert.sql@2" -f "$work/s2-select.sql@3"
	pgbench_running "$1"
	sleep_until "$(calc "\"%f\", $pgb_t0 + $load_lead")"
}

# Every transaction of a window's pgbench log into r.txlog.
load_copy_log() {		# label
	# without -R the log has no schedule lag column
	cat "$work/pgb-$1-log".* |
		awk -v l="$1" 'NF >= 6 && $3 ~ /^[0-9]+$/ { print l, $1, $2, $3, $4, $5, $6, (NF >= 7 ? $7 : 0) }' |
		psql_bench -q -c "\\copy r.txlog FROM STDIN WITH (DELIMITER ' ')"
}

load_record() {		# label, from, to, alter_ms, job, state, errors
	local t_stop
	t_stop=$(now)
	q "INSERT INTO r.load VALUES ('$1', $pgb_t0, $t_stop, $2, $3, ${4:-NULL}, ${5:-NULL},
	     '${6:-}', $7)" >/dev/null
	load_copy_log "$1"
}

load_window() {		# shape (saturating | half), side (sg | stock), rate
	local label="load-$1-$2" n=$table_rows from ms to job= state= errors
	make_copy "$n" s2
	errors=$(server_errors)
	load_start "$label" "$1" "$3"
	if [ "$2" = sg ]; then
		read -r from ms < <(impact_run_alter "")
		job=$(last_job s2)
		[ -n "$job" ] || die "schema_guard did not stage the ALTER of scenario 6"
		state=$(wait_job "$job" $((1200 + n / 500)))
		to=$(q "SELECT extract(epoch FROM coalesce(finished_at, clock_timestamp()))
		          FROM schema_guard.jobs WHERE job_id = $job")
		record_job_throughput "schema_guard, $1 load" "$job" "$state"
	else
		read -r from ms < <(impact_run_alter off)
		to=$(calc "\"%f\", $from + $ms / 1000")
	fi
	sleep "$load_tail"
	stop_pgbench "$label"
	load_record "$label" "$from" "$to" "$ms" "$job" "$state" $(($(server_errors) - errors))
	say "  $1, $2: ALTER $ms ms, window $(calc "\"%.1f\", $to - $from") s${job:+, job $job $state}"
	drop_table s2
}

# The application's capacity, one client per core as fast as they go on a
# fresh copy of the table, measured once per run (scenarios 6 and 7 share
# it); sets load_clients and load_half.
load_capacity() {		# scenario number
	local cap
	load_clients=$(nproc)
	impact_scripts
	cap=$(q "SELECT value FROM r.meta WHERE key = 'load_capacity'")
	if [ -z "$cap" ]; then
		say "scenario $1: the application's capacity ($load_clients clients as fast as they go)"
		make_copy "$table_rows" s2
		cap=$(run_pgbench load-capacity -n -M prepared -c "$load_clients" -j "$load_clients" -T "$load_probe" \
			-D rows="$table_rows" \
			-f "$work/s2-update.sql@5" -f "$work/s2-insert.sql@2" -f "$work/s2-select.sql@3")
		drop_table s2
		set_meta load_capacity "$cap"
		set_meta load_clients "$load_clients"
		set_meta load_lead "$load_lead"
	fi
	load_half=$(calc "\"%d\", $cap / 2")
	set_meta load_half "$load_half"
	say "  capacity $cap tps; half: $load_half tps"
}

scenario_load() {
	local half
	load_capacity 6
	half=$load_half
	for shape in saturating half; do
		for side in sg stock; do
			load_window "$shape" "$side" "$half"
		done
	done
}
