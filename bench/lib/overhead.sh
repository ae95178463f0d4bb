# bench/lib/overhead.sh: scenario 5, what schema_guard costs work it does
# not help with.
#
# (a) The fill trigger: pgbench UPDATEs random rows by id as fast as it
#     can, on a table with a job staged and paused (its trigger is present,
#     no worker runs; the first UPDATE of each old row fills the new column)
#     and on an identical table that got the same column as a plain,
#     nullable ADD COLUMN.
# (b) The hooks: a DDL workload (CREATE TABLE, two harmless ADD COLUMNs,
#     DROP TABLE, on ordinary tables so that the utility hook classifies
#     every ALTER) and a read-only OLTP workload (pgbench -S, through the
#     executor hooks) with schema_guard preloaded and installed but idle,
#     and with shared_preload_libraries emptied, restarting between.
# Every measurement runs $overhead_runs times, the two sides alternating
# (ABBA order, so that a drift of the machine hits both alike); the
# report gives medians and the spread.

overhead_scripts() {
	local t
	for t in s5_plain s5_trig; do
		cat >"$work/$t.sql" <<EOF
\\set id random(1, :rows)
UPDATE $t SET amount = amount + 1 WHERE id = :id;
EOF
	done
	cat >"$work/s5-ddl.sql" <<'EOF'
DROP TABLE IF EXISTS ddl_:client_id;
CREATE TABLE ddl_:client_id (id int, note text);
ALTER TABLE ddl_:client_id ADD COLUMN flag boolean DEFAULT false;
ALTER TABLE ddl_:client_id ADD COLUMN extra text;
DROP TABLE ddl_:client_id;
EOF
}

overhead_record() {		# test, config, run, tps
	q "INSERT INTO r.overhead VALUES ('$1', '$2', $3, $4)" >/dev/null
}

# ABBA: the order of the two sides in run i.
overhead_order() {		# i, a, b
	if [ $(($1 % 2)) = 1 ]; then echo "$2 $3"; else echo "$3 $2"; fi
}

scenario_trigger_overhead() {
	local n=$table_rows job i t tps
	say "scenario 5a: fill trigger, $overhead_runs runs of ${overhead_duration}s per side"
	make_copy "$n" s5_plain
	make_copy "$n" s5_trig
	psql_bench -q >>"$work/psql.log" 2>&1 <<EOF || die "staging the paused job failed"
ALTER TABLE s5_plain ADD COLUMN c uuid;
BEGIN;
ALTER TABLE s5_trig ADD COLUMN c uuid DEFAULT gen_random_uuid();
SELECT schema_guard.pause(max(job_id)) FROM schema_guard.jobs
 WHERE relid = 's5_trig'::regclass \\g /dev/null
COMMIT;
CHECKPOINT;
EOF
	job=$(last_job s5_trig)
	[ "$(q "SELECT state FROM schema_guard.jobs WHERE job_id = ${job:-0}")" = paused ] ||
		die "scenario 5a: no paused job"
	[ "$(q "SELECT count(*) FROM pg_trigger WHERE tgrelid = 's5_trig'::regclass")" = 1 ] ||
		die "scenario 5a: the paused job has no trigger"
	for i in $(seq "$overhead_runs"); do
		for t in $(overhead_order "$i" s5_plain s5_trig); do
			tps=$(run_pgbench "s5a-$t-$i" -n -M prepared -c "$clients" -j "$threads" \
				-T "$overhead_duration" -D rows="$n" -f "$work/$t.sql")
			overhead_record trigger "${t#s5_}" "$i" "$tps"
		done
	done
	q "INSERT INTO r.meta VALUES ('trigger_filled',
	     (SELECT count(c) FROM s5_trig WHERE id <= $n)::text)" >/dev/null
	q "SELECT schema_guard.cancel($job)" >/dev/null
	drop_table s5_plain
	drop_table s5_trig
}

# Restart the server with or without the library.
overhead_preload() {		# on | off
	local have want=
	[ "$1" = off ] || want=schema_guard
	set_preload "$want"
	pg_ctl_stop
	pg_ctl_start
	have=$(q "SHOW shared_preload_libraries")
	[ "$have" = "$want" ] ||
		die "shared_preload_libraries is '$have' after restarting with the library $1"
}

scenario_hook_overhead() {
	local i cfg tps scale=$pgbench_scale
	say "scenario 5b: hooks, $overhead_runs runs of ${overhead_duration}s per side and workload"
	"${as_pg[@]}" "$PGBIN/pgbench" -h "$work" -p "$port" -U postgres -i -q -s "$scale" bench \
		>"$work/pgbench-init.log" 2>&1 || { cat "$work/pgbench-init.log"; die "pgbench -i failed"; }
	q "CHECKPOINT" >/dev/null
	for i in $(seq "$overhead_runs"); do
		for cfg in $(overhead_order "$i" on off); do
			overhead_preload "$cfg"
			# warm up the caches after the restart
			run_pgbench "s5b-warm" -n -S -M prepared -c "$clients" -j "$threads" -T 1 >/dev/null
			tps=$(run_pgbench "s5b-ddl-$cfg-$i" -n -M simple -c "$clients" -j "$threads" \
				-T "$overhead_duration" -f "$work/s5-ddl.sql")
			overhead_record ddl "$cfg" "$i" "$tps"
			tps=$(run_pgbench "s5b-select-$cfg-$i" -n -S -M prepared -c "$clients" -j "$threads" \
				-T "$overhead_duration")
			overhead_record select "$cfg" "$i" "$tps"
		done
	done
	overhead_preload on
}

scenario_overhead() {
	overhead_scripts
	# measure the work, not the disk's flush latency, which on a shared
	# machine is the noisiest part of a commit and would hide the rest
	pgbench_options="-c synchronous_commit=off"
	scenario_trigger_overhead
	scenario_hook_overhead
	pgbench_options=
}
