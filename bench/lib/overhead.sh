# bench/lib/overhead.sh: scenario 5, what schema_guard costs work it does
# not help with.
#
# (a) The fill trigger: pgbench UPDATEs random rows by id as fast as it
#     can, on a table with a job staged and paused (its trigger is present,
#     no worker runs), against an identical table that got the same column
#     from stock PostgreSQL's ALTER, values and all.  Twice: once when
#     every row already has its value, so that the trigger only checks and
#     lets the row through (its cost to an application while a job runs:
#     the target), and once on a table where no row has one yet, so that
#     the first UPDATE of each old row computes it and writes the wider row
#     (work stock PostgreSQL did in its rewrite, under the lock).
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
	for t in s5_plain s5_trig s5_fill; do
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
	local n=$table_rows i t tps jobs
	say "scenario 5a: fill trigger, $overhead_runs runs of ${overhead_duration}s per side, twice"
	make_copy "$n" s5_plain
	make_copy "$n" s5_trig
	make_copy "$n" s5_fill
	psql_bench -q >>"$work/psql.log" 2>&1 <<EOF || die "staging the paused jobs failed"
SET schema_guard.mode = off;
ALTER TABLE s5_plain ADD COLUMN c uuid DEFAULT gen_random_uuid();
RESET schema_guard.mode;
BEGIN;
ALTER TABLE s5_trig ADD COLUMN c uuid DEFAULT gen_random_uuid();
ALTER TABLE s5_fill ADD COLUMN c uuid DEFAULT gen_random_uuid();
SELECT schema_guard.pause(job_id) FROM schema_guard.jobs
 WHERE relid IN ('s5_trig'::regclass, 's5_fill'::regclass) \\g /dev/null
COMMIT;
-- every row of s5_trig gets its value through the trigger; s5_plain the
-- same UPDATE, so that both tables have the same layout
UPDATE s5_trig SET amount = amount;
UPDATE s5_plain SET amount = amount;
VACUUM (ANALYZE) s5_plain, s5_trig, s5_fill;
CHECKPOINT;
EOF
	jobs=$(q "SELECT count(*) FROM schema_guard.jobs j JOIN pg_trigger t
	            ON t.tgrelid = j.relid AND t.tgname = j.trigger_name
	           WHERE j.state = 'paused' AND j.relid IN ('s5_trig'::regclass, 's5_fill'::regclass)")
	[ "$jobs" = 2 ] || die "scenario 5a: expected two paused jobs with their triggers, found $jobs"
	[ "$(q "SELECT count(*) FROM s5_trig WHERE c IS NULL")" = 0 ] ||
		die "scenario 5a: the trigger left rows of s5_trig without a value"
	for i in $(seq "$overhead_runs"); do
		for t in $(overhead_order "$i" s5_plain s5_trig); do
			tps=$(run_pgbench "s5a-$t-$i" -n -M prepared -c "$clients" -j "$threads" \
				-T "$overhead_duration" -D rows="$n" -f "$work/$t.sql")
			overhead_record trigger "${t#s5_}" "$i" "$tps"
		done
	done
	for i in $(seq "$overhead_runs"); do
		for t in $(overhead_order "$i" s5_plain s5_fill); do
			tps=$(run_pgbench "s5a-first-$t-$i" -n -M prepared -c "$clients" -j "$threads" \
				-T "$overhead_duration" -D rows="$n" -f "$work/$t.sql")
			[ "$t" = s5_plain ] || t=s5_trig
			overhead_record first_fill "${t#s5_}" "$i" "$tps"
		done
	done
	q "INSERT INTO r.meta VALUES ('trigger_filled',
	     (SELECT count(c) FROM s5_fill WHERE id <= $n)::text)" >/dev/null
	q "SELECT schema_guard.cancel(job_id) FROM schema_guard.jobs
	    WHERE relid IN ('s5_trig'::regclass, 's5_fill'::regclass)" >/dev/null
	drop_table s5_plain
	drop_table s5_trig
	drop_table s5_fill
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
