# bench/lib/impact.sh: scenario 2, what the application sees.
#
# pgbench runs a fixed rate of single-row UPDATEs by id, INSERTs and point
# SELECTs against a fresh copy of the table, logging every transaction,
# in three windows of the same length:
#   schema_guard  ALTER TABLE s2 ADD COLUMN token uuid NOT NULL DEFAULT
#                 gen_random_uuid() at default settings, then its whole
#                 backfill; runs first, as its length sets the others'
#   stock         the same ALTER with schema_guard.mode = off
#   idle          no DDL: the baseline
# Each window has $impact_lead seconds of load before the ALTER and
# $impact_tail after it (after the job is done for schema_guard).

impact_alter="ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()"

impact_scripts() {
	cat >"$work/s2-update.sql" <<'EOF'
\set id random(1, :rows)
UPDATE s2 SET amount = amount + 1, status = 'paid' WHERE id = :id;
EOF
	cat >"$work/s2-insert.sql" <<'EOF'
\set customer random(1, 100000)
INSERT INTO s2 (customer_id, amount, status) VALUES (:customer, random() * 500, 'new');
EOF
	cat >"$work/s2-select.sql" <<'EOF'
\set id random(1, :rows)
SELECT id, customer_id, amount, status, created_at FROM s2 WHERE id = :id;
EOF
}

# Start the load on s2 for one window.
impact_pgbench() {		# label
	start_pgbench "$1" -n -M prepared -c "$clients" -j "$threads" -T 86400 -R "$rate" \
		-P 1 --progress-timestamp -l --log-prefix="$work/pgb-$1-log" -D rows="$table_rows" \
		-f "$work/s2-update.sql@5" -f "$work/s2-insert.sql@2" -f "$work/s2-select.sql@3"
	pgbench_running "$1"
}

# Run the ALTER now; print "start_epoch duration_ms" (the server's clock
# just before it, and its duration as psql measures it).
impact_run_alter() {		# mode (empty: default)
	local out set=
	[ -z "$1" ] || set="SET schema_guard.mode = $1;"
	out=$(psql_bench -q 2>&1 <<EOF
$set
SELECT extract(epoch FROM clock_timestamp()) AS alter_from \\gset
\\timing on
ALTER TABLE s2 $impact_alter;
\\timing off
\\echo start :alter_from
EOF
	) || { echo "$out" >&2; die "ALTER failed"; }
	echo "$out" >>"$work/psql.log"
	echo "$(echo "$out" | awk '/^start / { print $2 }') $(echo "$out" | awk '/^Time:/ { t = $2 } END { print t }')"
}

server_errors() { grep -c '\] pgbench: ERROR' "$work/postgres.log" || true; }

impact_record() {		# label, from, to, alter_ms, job, state, errors
	local t_stop
	t_stop=$(now)
	q "INSERT INTO r.impact VALUES ('$1', $pgb_t0, $t_stop, $2, $3, ${4:-NULL}, ${5:-NULL},
	     '${6:-}', $7)" >/dev/null
	# pgbench writes one log per thread
	cat "$work/pgb-$1-log".* | awk -v l="$1" 'NF >= 7 && $3 ~ /^[0-9]+$/ { print l, $1, $2, $3, $4, $5, $6, $7 }' |
		psql_bench -q -c "\\copy r.txlog FROM STDIN WITH (DELIMITER ' ')"
}

scenario_impact() {
	local n=$table_rows from ms to job state errors window stop
	impact_scripts

	say "scenario 2: schema_guard under load ($clients clients at $rate tps, $n rows)"
	make_copy "$n" s2
	errors=$(server_errors)
	impact_pgbench sg
	sleep_until "$(calc "\"%f\", $pgb_t0 + $impact_lead")"
	read -r from ms < <(impact_run_alter "")
	job=$(last_job s2)
	[ -n "$job" ] || die "schema_guard did not stage the ALTER of scenario 2"
	state=$(wait_job "$job" $((600 + n / 1000)))
	to=$(q "SELECT extract(epoch FROM coalesce(finished_at, clock_timestamp()))
	          FROM schema_guard.jobs WHERE job_id = $job")
	sleep "$impact_tail"
	stop_pgbench sg
	impact_record sg "$from" "$to" "$ms" "$job" "$state" $(($(server_errors) - errors))
	record_job_throughput "schema_guard, default settings, under load" "$job" "$state"
	window=$(q "SELECT t_stop - t0 FROM r.impact WHERE label = 'sg'")
	say "  ALTER $ms ms; job $job $state after $(calc "\"%.1f\", $to - $from") s; window $(calc "\"%.0f\", $window") s"
	drop_table s2

	say "scenario 2: stock ALTER under load"
	make_copy "$n" s2
	errors=$(server_errors)
	impact_pgbench stock
	sleep_until "$(calc "\"%f\", $pgb_t0 + $impact_lead")"
	read -r from ms < <(impact_run_alter off)
	to=$(calc "\"%f\", $from + $ms / 1000")
	stop=$(calc "\"%f\", ($pgb_t0 + $window > $to + $impact_tail) ? $pgb_t0 + $window : $to + $impact_tail")
	sleep_until "$stop"
	stop_pgbench stock
	impact_record stock "$from" "$to" "$ms" "" "" $(($(server_errors) - errors))
	say "  ALTER $(calc "\"%.1f\", $ms / 1000") s"
	drop_table s2

	say "scenario 2: idle baseline"
	make_copy "$n" s2
	errors=$(server_errors)
	impact_pgbench idle
	sleep_until "$(calc "\"%f\", $pgb_t0 + $window")"
	stop_pgbench idle
	# the baseline is the whole window, without its first and last second
	impact_record idle "$(calc "\"%f\", $pgb_t0 + 1")" "$(calc "\"%f\", $pgb_t0 + $window - 1")" \
		"" "" "" $(($(server_errors) - errors))
	drop_table s2
}
