# bench/lib/report.sh: REPORT.md and the charts, from the results the
# scenarios left in the schema r of the bench database.

# Formatting helpers, in SQL: numbers with thousands separators, ratios.
report_functions() {
	psql_bench -q <<'EOF'
CREATE OR REPLACE FUNCTION r.n(x float8, d int DEFAULT 0) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL OR x = 'NaN' THEN '–'
              ELSE to_char(round(x::numeric, d),
                           'FM999,999,999,990' || CASE WHEN d > 0 THEN '.' || repeat('0', d) ELSE '' END)
         END $$;
-- milliseconds: two decimals below 10, one below 100, none above
CREATE OR REPLACE FUNCTION r.ms(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT r.n(x, CASE WHEN x < 10 THEN 2 WHEN x < 100 THEN 1 ELSE 0 END) $$;
CREATE OR REPLACE FUNCTION r.x(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL OR x = 'NaN' THEN '–'
              WHEN x >= 100 THEN r.n(x, 0) || 'x'
              ELSE to_char(x, 'FM990.00') || 'x' END $$;
CREATE OR REPLACE FUNCTION r.pct(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN x IS NULL OR x = 'NaN' THEN '–' ELSE to_char(100 * x, 'FM9990.0') || '%' END $$;
CREATE OR REPLACE FUNCTION r.mb(x float8) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE WHEN x IS NULL THEN '–' ELSE r.n(x / 1048576, 1) || ' MB' END $$;
CREATE OR REPLACE FUNCTION r.median(float8[]) RETURNS float8
LANGUAGE sql IMMUTABLE AS $$
  SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY v) FROM unnest($1) v $$;

-- Scenario 2: every logged transaction, with its times in seconds since
-- the epoch.  lat_us counts from the scheduled start (-R), so it includes
-- the schedule lag; svc_us is the latency proper.
CREATE OR REPLACE VIEW r.tx AS
SELECT label, epoch + us / 1e6 AS end_ts, epoch + us / 1e6 - lat_us / 1e6 AS sched_ts,
       lat_us, lag_us, lat_us - lag_us AS svc_us
  FROM r.txlog;

-- Figures of a case over an interval: throughput of the transactions that
-- completed in it; latencies of those that were scheduled before its end
-- and completed after its start (a transaction the ALTER held up counts).
CREATE OR REPLACE FUNCTION r.window_stats(lbl text, a float8, b float8,
    OUT tps float8, OUT p50 float8, OUT p99 float8, OUT max float8,
    OUT lag_p99 float8, OUT lag_max float8, OUT total_p99 float8, OUT n bigint)
LANGUAGE sql STABLE AS $$
  SELECT (SELECT count(*) FROM r.tx WHERE label = lbl AND end_ts >= a AND end_ts < b) / nullif(b - a, 0),
         percentile_disc(0.5) WITHIN GROUP (ORDER BY svc_us) / 1000.0,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY svc_us) / 1000.0,
         max(svc_us) / 1000.0,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY lag_us) / 1000.0,
         max(lag_us) / 1000.0,
         percentile_disc(0.99) WITHIN GROUP (ORDER BY lat_us) / 1000.0,
         count(*)
    FROM r.tx WHERE label = lbl AND sched_ts < b AND end_ts >= a $$;

-- Per case: the interval "during" (the ALTER, or the ALTER and its
-- backfill; the whole window for the idle baseline) and the whole window
-- (without its first second and the last, which pgbench may not have
-- finished logging when it was stopped).
CREATE OR REPLACE VIEW r.impact_stats AS
SELECT i.label, i.from_ts - i.t0 AS from_s, i.to_ts - i.t0 AS to_s, i.to_ts - i.from_ts AS during_s,
       i.alter_ms, i.job, i.job_state, i.errors, i.t_stop - i.t0 AS window_s,
       d.tps AS d_tps, d.p50 AS d_p50, d.p99 AS d_p99, d.max AS d_max,
       d.lag_p99 AS d_lag_p99, d.lag_max AS d_lag_max, d.total_p99 AS d_total_p99,
       w.tps AS w_tps, w.p50 AS w_p50, w.p99 AS w_p99, w.max AS w_max,
       w.lag_p99 AS w_lag_p99, w.lag_max AS w_lag_max, w.total_p99 AS w_total_p99
  FROM r.impact i,
       LATERAL r.window_stats(i.label, i.from_ts, i.to_ts) d,
       LATERAL r.window_stats(i.label, i.t0 + 1, i.t_stop - 1) w;
EOF
}

has_table() { [ "$(q "SELECT EXISTS (SELECT FROM r.$1)")" = t ]; }
has_method() { [ "$(q "SELECT EXISTS (SELECT FROM r.$1 WHERE method = '$2')")" = t ]; }
meta() { q "SELECT value FROM r.meta WHERE key = '$1'"; }
# a number, or a list of numbers, with thousands separators
meta_n() { q "SELECT string_agg(r.n(x::float8), ', ') FROM r.meta, unnest(string_to_array(value, ',')) x
              WHERE key = '$1'"; }
md() { q "$1"; }	# a query whose rows are Markdown lines

#
# Charts.
#
chart_common='set terminal pngcairo size 960,640 font "sans,10" noenhanced
set key box
set grid lc rgb "#dddddd"'

chart_lock() {
	local dir=$work/charts plot= sep= ord mode color dt pt title
	local -a colors=("#1f77b4" "#d62728" "#2ca02c" "#9467bd" "#ff7f0e")
	for mode in stock schema_guard; do
		for ord in $(q "SELECT DISTINCT ord FROM r.lock WHERE ord > 0 ORDER BY 1"); do
			md "SELECT rows, held_ms FROM r.lock
			     WHERE mode = '$mode' AND ord = $ord ORDER BY rows" | tr '|' ' ' >"$dir/lock-$mode-$ord.dat"
			title="$(q "SELECT form FROM r.lock WHERE ord = $ord LIMIT 1"), $mode"
			color=${colors[$(((ord - 1) % 5))]}
			if [ "$mode" = stock ]; then dt=1 pt=7; else dt=2 pt=9; fi
			plot+="$sep'$dir/lock-$mode-$ord.dat' using 1:2 with linespoints lw 2 dt $dt pt $pt ps 1.2 lc rgb '$color' title '$title'"
			sep=", "
		done
	done
	md "SELECT rows, held_ms FROM r.lock WHERE mode = 'floor' ORDER BY rows" | tr '|' ' ' >"$dir/lock-floor.dat"
	if [ -s "$dir/lock-floor.dat" ]; then
		plot+="$sep'$dir/lock-floor.dat' using 1:2 with linespoints lw 1 dt 1 pt 1 ps 1 lc rgb '#888888' title 'PostgreSQL, catalog-only ADD COLUMN (floor)'"
	fi
	gnuplot <<EOF
$chart_common
set terminal pngcairo size 1100,640 font "sans,10" noenhanced
set output '$results/lock.png'
set title "Scenario 1: how long the ALTER holds ACCESS EXCLUSIVE (until the end of its transaction)"
set key outside right top
set logscale xy
set xrange [$(q "SELECT min(rows) / 1.5 || ':' || max(rows) * 1.5 FROM r.lock")]
set xlabel "rows in the table"
set ylabel "lock held (ms, log scale)"
set format x "%.0s%c"
set format y "%g"
plot $plot, 5 with lines lw 1 dt 3 lc rgb "#000000" title "target: 5 ms"
EOF
}

chart_impact() {
	local dir=$work/charts label title ymax lmax lmin xmax from to
	lmax=$(q "SELECT greatest(max(lat_us) / 1000.0 * 2, 10) FROM r.tx
	           WHERE label IN (SELECT label FROM r.impact)")
	lmin=$(q "SELECT least(percentile_disc(0.01) WITHIN GROUP (ORDER BY svc_us) / 1000.0 / 2, 0.1) FROM r.tx
	           WHERE label IN (SELECT label FROM r.impact)")
	xmax=$(q "SELECT ceil(max(t_stop - t0)) FROM r.impact")
	for label in $(q "SELECT label FROM r.impact ORDER BY label"); do
		# per second: tps, latency p50 p99 max, schedule lag p99 (ms)
		md "SELECT s, count(t.end_ts),
		           coalesce((percentile_disc(0.5) WITHIN GROUP (ORDER BY svc_us) / 1000.0)::text, 'NaN'),
		           coalesce((percentile_disc(0.99) WITHIN GROUP (ORDER BY svc_us) / 1000.0)::text, 'NaN'),
		           coalesce((max(svc_us) / 1000.0)::text, 'NaN'),
		           coalesce((percentile_disc(0.99) WITHIN GROUP (ORDER BY lag_us) / 1000.0)::text, 'NaN')
		      FROM r.impact i
		     CROSS JOIN generate_series(0, floor(i.t_stop - i.t0 - 1)::int - 1) s
		      LEFT JOIN r.tx t ON t.label = i.label AND t.end_ts >= i.t0 + s AND t.end_ts < i.t0 + s + 1
		     WHERE i.label = '$label'
		     GROUP BY s ORDER BY s" | tr '|' ' ' |
			# each second from its start to its end, so that lines draw
			# steps; a second without transactions interrupts them (NaN)
			awk '{ print; $1 = $1 + 1; print }' >"$dir/impact-$label.dat"
		IFS='|' read -r from to < <(q "SELECT from_ts - t0, to_ts - t0 FROM r.impact WHERE label = '$label'")
		case $label in
			sg) title="schema_guard: ALTER, then the backfill at default settings (shaded)" ;;
			stock) title="stock PostgreSQL: the ALTER (shaded)" ;;
			idle) title="idle baseline: no DDL" ;;
		esac
		local shade=
		[ "$label" = idle ] ||
			shade="set object 1 rect from $from, graph 0 to $to, graph 1 fc rgb '#ffe0b0' fs solid 0.6 noborder behind"
		gnuplot <<EOF
$chart_common
set output '$results/impact-$label.png'
set multiplot layout 2,1 title "Scenario 2, $title\\n$clients pgbench clients at $rate tps on $(q "SELECT r.n($table_rows)") rows"
set key inside top right horizontal opaque
set xrange [0:$xmax]
set lmargin 10
set rmargin 3
$shade
set ylabel "transactions per second"
# the same scale for every case; a catching-up burst may go off it
set yrange [0:$((2 * rate))]
plot '$dir/impact-$label.dat' using 1:2 with lines lw 2 lc rgb "#1f77b4" title "completed per second"
set xlabel "seconds since pgbench started"
set ylabel "ms (log scale)"
set logscale y
set yrange [$lmin:$lmax]
set format y "%g"
plot '$dir/impact-$label.dat' using 1:3 with lines lw 2 lc rgb "#2ca02c" title "latency p50", \
     '' using 1:4 with lines lw 2 lc rgb "#ff7f0e" title "p99", \
     '' using 1:5 with lines lw 1 lc rgb "#d62728" title "max", \
     '' using 1:6 with lines lw 1 dt 2 lc rgb "#555555" title "schedule lag p99"
unset multiplot
EOF
	done
}

#
# Sections.
#
section_machine() {
	cat <<EOF
## Machine and settings

| | |
|---|---|
| CPU | $(meta cpu) |
| cores (nproc) | $(meta nproc) |
| memory | $(meta memory) |
| kernel | $(meta kernel) |
| load average (1 min) at start / end | $(meta load_start) / $(meta load_end) |
| PostgreSQL | $(meta pg_version) |
| schema_guard | $(meta commit) |
| run | $(meta started), $(meta elapsed) in all ($(q "SELECT string_agg('scenario ' || substr(key, 6) || ' ' || value || ' s', ', ' ORDER BY key)
                                                     FROM r.meta WHERE key LIKE 'time_%'")) |

Benchmark parameters: \`bench/run $(meta args)\` — scale $(meta scale);
scenario 1 tables of $(meta_n lock_sizes) rows; the other scenarios
$(meta_n table_rows) rows; scenario 2 and 5a load: $(meta clients) pgbench
clients ($(meta threads) threads); scenario 2 at $(meta rate) transactions/s;
scenario 5: $(meta runs) runs of $(meta duration) s per side.

Every table is a copy of the same generated rows, loaded, indexed,
\`VACUUM (ANALYZE)\`d and checkpointed before it is used:

\`\`\`sql
CREATE TABLE t (
    id          bigserial PRIMARY KEY,
    customer_id integer NOT NULL,          -- indexed
    amount      numeric(10,2) NOT NULL,
    status      text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
\`\`\`

The cluster is a temporary one with these settings (everything else is
PostgreSQL's and schema_guard's default):

| setting | value |
|---|---|
$(md "SELECT format('| %s | %s |', name, value)
        FROM r.settings ORDER BY name")

EOF
}

section_lock() {
	has_table lock || return 0
	cat <<'EOF'
## 1. Lock hold of the ALTER

How long `ALTER TABLE t ADD COLUMN ...` holds ACCESS EXCLUSIVE on the
table. Stock PostgreSQL (the same server with `SET schema_guard.mode =
off`) locks the table as the ALTER starts: its figure is the ALTER's
duration plus the ROLLBACK's (its runs are rolled back so that one copy of
the table serves every form). schema_guard loads what it needs before it
asks for the lock, and its job records how long the ALTER ran until the
lock was granted (`lock_wait`); its figure is the ALTER's duration less
that, plus the COMMIT's. The whole statement, ALTER plus COMMIT as the
client timed them, is given beside it.
For schema_guard the job's total time, from the ALTER to the end of its
backfill and finalization at default settings, is given too; during it the
table stays readable and writable.

| rows | form | stock: lock held | schema_guard: lock held | schema_guard: ALTER + COMMIT | shorter by | schema_guard: job total | job |
|---:|---|---:|---:|---:|---:|---:|---|
EOF
	md "SELECT format('| %s | %s | %s ms | %s ms | %s ms | %s | %s | %s |', r.n(s.rows), s.form,
	               r.ms(s.held_ms), r.ms(g.held_ms), r.ms(g.alter_ms + g.end_ms),
	               r.x(s.held_ms / nullif(g.held_ms, 0)),
	               CASE WHEN g.job_ms IS NULL THEN '–' ELSE r.n(g.job_ms / 1000, 1) || ' s' END,
	               CASE g.job_state WHEN 'not waited for' THEN 'not waited for (--all-jobs waits)'
	                    ELSE coalesce(g.job_state, '–') END
	               || coalesce(': ' || replace(g.error, '|', '\\|'), ''))
	      FROM r.lock s LEFT JOIN r.lock g ON g.rows = s.rows AND g.ord = s.ord AND g.mode = 'schema_guard'
	     WHERE s.mode = 'stock' ORDER BY s.rows, s.ord"
	cat <<'EOF'

The forms, as written after `ADD COLUMN`: volatile default
`c uuid DEFAULT gen_random_uuid()`; NOT NULL volatile default
`c uuid NOT NULL DEFAULT gen_random_uuid()`; `c bigserial`;
identity `c bigint GENERATED ALWAYS AS IDENTITY`; UNIQUE
`c uuid DEFAULT gen_random_uuid() UNIQUE`.

EOF
	md "SELECT 'For reference, PostgreSQL''s own catalog-only \`ADD COLUMN c int\` (no
default), committed under the same conditions (a fresh copy of the table,
after a CHECKPOINT, in a session warmed up the same way), held the lock ' ||
	               string_agg(r.ms(held_ms) || ' ms at ' || r.n(rows) || ' rows', ', ' ORDER BY rows) ||
	               '. That is the least any ALTER TABLE costs: its catalog changes and the
COMMIT that flushes them.'
	      FROM r.lock WHERE mode = 'floor' HAVING count(*) > 0"
	echo
	md "SELECT format('Each ALTER ran in a session that had already read the table and run a
harmless ALTER of a temporary table. As the first statement of a brand-new
session, which must also load the catalog caches it uses, the %s form at
%s rows held the lock %s ms with stock PostgreSQL and %s ms with
schema_guard (ALTER %s ms, COMMIT %s ms).', s.form, r.n(s.rows),
	               r.ms(s.held_ms), r.ms(g.held_ms), r.ms(g.alter_ms), r.ms(g.end_ms))
	      FROM r.lock s JOIN r.lock g USING (rows, ord)
	     WHERE s.mode = 'stock, new session' AND g.mode = 'schema_guard, new session'"
	cat <<'EOF'

![lock held vs rows](lock.png)

EOF
}

section_impact() {
	has_table impact || return 0
	cat <<EOF
## 2. Application impact

pgbench, $(meta clients) clients at a fixed rate of $(meta rate)
transactions/s (\`-R\`), 50% \`UPDATE\` of a random existing row by id, 20%
\`INSERT\`, 30% \`SELECT\` by id, against a fresh copy of the
$(meta_n table_rows)-row table, in three windows of the same length: the
stock ALTER, schema_guard (the ALTER and its whole backfill at default
settings), and an idle baseline. The ALTER is
\`ALTER TABLE t ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid()\`.

*Latency* is the time a transaction took from its actual start; with
\`-R\` pgbench also reports the *schedule lag*, the time a transaction
waited to start after its scheduled time because the previous one of its
client was late; the two add up (*incl. lag*) to what a user of a
rate-limited client sees. A stall shows mostly as lag: each of the
$(meta clients) clients has only one transaction waiting on the lock,
and the ones scheduled meanwhile start late.

*During* is the stock ALTER's duration, or from schema_guard's
ALTER until its job is done; for the baseline, the whole window. Latencies
count the transactions scheduled before the interval's end that completed
after its start; throughput those completed in it.

| case | during | tps | tps vs idle | latency p50 | p99 | p99 vs idle | max | lag p99 | lag max | p99 incl. lag | vs idle | errors |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
	md "SELECT format('| %s | %s s | %s | %s | %s ms | %s ms | %s | %s ms | %s ms | %s ms | %s ms | %s | %s |',
	               CASE s.label WHEN 'idle' THEN 'idle baseline' WHEN 'stock' THEN 'stock ALTER'
	                            ELSE 'schema_guard ALTER + backfill' END,
	               r.n(s.during_s, 1), r.n(s.d_tps), r.pct(s.d_tps / b.d_tps), r.ms(s.d_p50),
	               r.ms(s.d_p99), r.x(s.d_p99 / b.d_p99), r.ms(s.d_max), r.ms(s.d_lag_p99),
	               r.ms(s.d_lag_max), r.ms(s.d_total_p99), r.x(s.d_total_p99 / b.d_total_p99), s.errors)
	      FROM r.impact_stats s, r.impact_stats b
	     WHERE b.label = 'idle'
	     ORDER BY array_position(ARRAY['idle', 'stock', 'sg'], s.label)"
	cat <<EOF

Over each whole window ($(q "SELECT r.n(min(window_s)) || CASE WHEN round(min(window_s)) < round(max(window_s))
	                                                       THEN '–' || r.n(max(window_s)) ELSE '' END
	                         FROM r.impact_stats") s; the ALTER starts
$(meta impact_lead) s in, and the load goes on $(meta impact_tail) s after
the ALTER, or the job, is done), where a stalled client catches up later:

| case | tps | tps vs idle | latency p50 | p99 | p99 vs idle | max | lag p99 | lag max | p99 incl. lag | vs idle |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
	md "SELECT format('| %s | %s | %s | %s ms | %s ms | %s | %s ms | %s ms | %s ms | %s ms | %s |',
	               CASE s.label WHEN 'idle' THEN 'idle baseline' WHEN 'stock' THEN 'stock ALTER'
	                            ELSE 'schema_guard ALTER + backfill' END,
	               r.n(s.w_tps), r.pct(s.w_tps / b.w_tps), r.ms(s.w_p50),
	               r.ms(s.w_p99), r.x(s.w_p99 / b.w_p99), r.ms(s.w_max), r.ms(s.w_lag_p99),
	               r.ms(s.w_lag_max), r.ms(s.w_total_p99), r.x(s.w_total_p99 / b.w_total_p99))
	      FROM r.impact_stats s, r.impact_stats b
	     WHERE b.label = 'idle'
	     ORDER BY array_position(ARRAY['idle', 'stock', 'sg'], s.label)"
	cat <<EOF

The stock ALTER held the table for $(q "SELECT r.ms(alter_ms) FROM r.impact WHERE label = 'stock'") ms;
schema_guard's ALTER returned after $(q "SELECT r.ms(alter_ms) FROM r.impact WHERE label = 'sg'") ms and
its job (job $(q "SELECT job FROM r.impact WHERE label = 'sg'"), $(q "SELECT job_state FROM r.impact WHERE label = 'sg'")) took
$(q "SELECT r.n(during_s, 1) FROM r.impact_stats WHERE label = 'sg'") s. Per second (the shaded interval is *during*):

![idle baseline](impact-idle.png)

![stock ALTER](impact-stock.png)

![schema_guard](impact-sg.png)

EOF
}

section_throughput() {
	has_method throughput 'plain UPDATE' || return 0
	cat <<'EOF'
## 3. Backfill throughput

Filling a new uuid column of every existing row with `gen_random_uuid()`
on identical copies of the table, with no other load unless said: one
plain `UPDATE t SET c = gen_random_uuid()` (after a plain
`ADD COLUMN c uuid`), against schema_guard's job for
`ADD COLUMN c uuid DEFAULT gen_random_uuid()`, unthrottled
(`SELECT schema_guard.set_batch(job, '2 s', '0')` in the ALTER's
transaction) and at default settings. A job's time runs from its ALTER to
the table complete (backfill, a second pass over the pages written
meanwhile, and finalization); its first pass is the backfill proper; the
rebuild of the table's indexes that follows (`schema_guard.reindex`) is
timed on its own: the plain UPDATE leaves them bloated, stock's rewrite
rebuilds them within its time.

| method | rows | time | rows/s | vs plain UPDATE | first pass | first pass rows/s | batches | index rebuild after |
|---|---:|---:|---:|---:|---:|---:|---:|---:|
EOF
	md "SELECT format('| %s%s | %s | %s s | %s | %s | %s | %s | %s | %s |',
	                  t.method, CASE WHEN t.method LIKE '%under load' THEN ' (scenario 2, NOT NULL form)'
	                                 WHEN t.method LIKE '%default settings' THEN ' (scenario 1)' ELSE '' END
	                            || CASE WHEN t.state <> 'done' THEN ' — ' || t.state ELSE '' END,
	                  r.n(t.rows), r.n(t.ms / 1000, 1), r.n(t.rows / (t.ms / 1000)),
	                  r.x((t.rows / t.ms) / (u.rows / u.ms)),
	                  CASE WHEN t.first_pass_ms IS NULL THEN '–' ELSE r.n(t.first_pass_ms / 1000, 1) || ' s' END,
	                  r.n(t.rows / (t.first_pass_ms / 1000)), r.n(t.batches),
	                  CASE WHEN t.reindex_ms IS NULL THEN '–' ELSE r.n(t.reindex_ms / 1000, 1) || ' s' END)
	      FROM r.throughput t, r.throughput u WHERE u.method = 'plain UPDATE'
	     ORDER BY array_position(ARRAY['plain UPDATE', 'schema_guard, unthrottled',
	                                   'schema_guard, default settings',
	                                   'schema_guard, default settings, under load'], t.method)"
	echo
}

section_sizes() {
	has_method sizes 'stock rewrite' || return 0
	cat <<'EOF'
## 4. Table and index size after

The same starting table, after each way of adding and filling the column
(the stock rewrite measured inside its transaction before rolling it
back). *Table* is `pg_table_size` (heap, TOAST, free space and visibility
maps), *total* adds the indexes (`pg_total_relation_size`); then the same
after a plain `VACUUM` (stock's rewrite leaves nothing to vacuum).

| method | table | vs stock | total | vs stock | table after VACUUM | total after VACUUM |
|---|---:|---:|---:|---:|---:|---:|
EOF
	md "SELECT format('| %s | %s | %s | %s | %s | %s | %s |', s.method, r.mb(s.heap),
	               r.x(s.heap::float8 / k.heap), r.mb(s.total), r.x(s.total::float8 / k.total),
	               r.mb(s.heap_vac), r.mb(s.total_vac))
	      FROM r.sizes s, r.sizes k WHERE k.method = 'stock rewrite'
	     ORDER BY array_position(ARRAY['before (no new column)', 'stock rewrite', 'plain UPDATE',
	                                   'schema_guard, unthrottled', 'schema_guard, default settings'],
	                             s.method)"
	echo
}

section_overhead() {
	has_table overhead || return 0
	cat <<EOF
## 5. Overhead

Each figure is pgbench's throughput (transactions/s, without connection
time) over $(meta duration) s, $(meta runs) runs per side, the sides
alternating (ABBA); the ratio is of the medians. The pgbench sessions run
with \`synchronous_commit = off\`, so that the figures measure work rather
than the disk's flush latency (which would dilute the overhead, and is
the noisiest part of a commit on a shared machine). *Spread* is (max − min) /
median of one side's runs: a difference smaller than it is within the
noise of this machine.

- **fill trigger**: $(meta clients) clients \`UPDATE\` random rows by id
  as fast as they can, on a table with a schema_guard job staged and
  paused (trigger present, no worker), against an identical table that
  got the same column from stock PostgreSQL's ALTER, values and all.
  Every row of both already has its value (the trigger's was filled
  through it beforehand), so this is what the trigger costs an
  application's \`UPDATE\` while a job runs: the target.
- **fill trigger, first UPDATE of old rows**: the same, on a table whose
  rows have no value yet: the first \`UPDATE\` of each old row computes
  it (here \`gen_random_uuid()\`) and writes the wider row, the work
  stock PostgreSQL did in its rewrite while the table was locked. By the
  end $(q "SELECT r.n(value::float8) FROM r.meta WHERE key = 'trigger_filled'")
  of the $(meta_n table_rows) rows had been filled so. With a worker
  running, its batches fill most rows before the application touches
  them.
- **hooks, DDL**: $(meta clients) clients each run \`DROP TABLE IF EXISTS\`,
  \`CREATE TABLE\`, two harmless \`ALTER TABLE ... ADD COLUMN\`s (a constant
  default, no default) and \`DROP TABLE\` on an ordinary table of their own,
  with schema_guard preloaded and the extension installed but idle,
  against the same server restarted without \`shared_preload_libraries\`.
- **hooks, OLTP**: the same comparison with \`pgbench -S\` (point
  \`SELECT\`s on pgbench_accounts, scale $(meta pgbench_scale)).

| test | with schema_guard (median) | without (median) | ratio | overhead | spread with | spread without |
|---|---:|---:|---:|---:|---:|---:|
EOF
	md "WITH m AS (
	      SELECT test, config, r.median(array_agg(tps)) AS med, (max(tps) - min(tps)) / r.median(array_agg(tps)) AS spread,
	             string_agg(r.n(tps), ', ' ORDER BY run) AS runs
	        FROM r.overhead GROUP BY test, config),
	    p AS (
	      SELECT CASE w.test WHEN 'trigger' THEN 'fill trigger (UPDATE)'
	                         WHEN 'first_fill' THEN 'fill trigger, first UPDATE of old rows'
	                         WHEN 'ddl' THEN 'hooks, DDL'
	                         ELSE 'hooks, OLTP (pgbench -S)' END AS name,
	             w.test, w.med AS w, o.med AS o, w.spread AS ws, o.spread AS os, w.runs AS wr, o.runs AS orr
	        FROM m w JOIN m o ON o.test = w.test AND o.config IN ('plain', 'off')
	       WHERE w.config IN ('trig', 'on'))
	    SELECT format('| %s | %s | %s | %s | %s | %s | %s |', name, r.n(w), r.n(o), r.x(w / o),
	                  r.pct(1 - w / o), r.pct(ws), r.pct(os))
	      FROM p ORDER BY array_position(ARRAY['trigger', 'first_fill', 'ddl', 'select'], test)"
	cat <<'EOF'

Every run (transactions/s, in run order):

| test | side | runs |
|---|---|---|
EOF
	md "SELECT format('| %s | %s | %s |', test,
	               CASE config WHEN 'trig' THEN 'paused job (trigger)' WHEN 'plain' THEN 'stock ALTER, no job'
	                           WHEN 'on' THEN 'preloaded' ELSE 'not loaded' END,
	               string_agg(r.n(tps), ', ' ORDER BY run))
	      FROM r.overhead GROUP BY test, config
	     ORDER BY array_position(ARRAY['trigger', 'first_fill', 'ddl', 'select'], test), config DESC"
	echo
}

# met / missed, and by how much.
section_load() {
	has_table load || return 0
	cat <<EOF
## 6. Under the application's load

The application of scenario 2 with $(meta load_clients) clients (one per
core), on a fresh copy of the $(meta_n table_rows)-row table for every
window. Its capacity, as fast as it goes with no DDL: $(meta load_capacity)
transactions/s. Two shapes: **saturating** (as fast as it goes) and
**half** (a fixed rate of $(meta load_half)/s, half the capacity, so that
falling behind shows as schedule lag). "Before" is the $(meta load_lead) s
of load before the ALTER; "during" runs from the ALTER to the job's end
(schema_guard) or the ALTER's end (stock). Latencies are of the
transactions that ran in the window, without the schedule lag, which has
its own column. The worst figures before the ALTER are the machine's own
noise floor: a target the application misses before the ALTER too is not
the backfill's doing.

EOF
	md "SELECT '| shape | side | ALTER | window | TPS before | TPS during | kept | p99 before | p99 during | worst before | worst during | worst lag before | worst lag during | errors |'
	    UNION ALL SELECT '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|'"
	md "SELECT format('| %s | %s | %s ms | %s s | %s | %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s | %s |',
	               split_part(l.label, '-', 2),
	               CASE split_part(l.label, '-', 3) WHEN 'sg' THEN 'schema_guard' || coalesce(' (job ' || nullif(l.job_state, '') || ')', '') ELSE 'stock' END,
	               r.ms(l.alter_ms), r.n(l.to_ts - l.from_ts, 1), r.n(b.tps), r.n(d.tps), r.pct(d.tps / b.tps),
	               r.ms(b.p99), r.ms(d.p99), r.ms(b.max), r.ms(d.max),
	               CASE WHEN split_part(l.label, '-', 2) = 'half' THEN r.ms(b.lag_max) || ' ms' ELSE '–' END,
	               CASE WHEN split_part(l.label, '-', 2) = 'half' THEN r.ms(d.lag_max) || ' ms' ELSE '–' END,
	               l.errors)
	      FROM r.load l,
	           LATERAL r.window_stats(l.label, l.t0 + 1, l.from_ts) b,
	           LATERAL r.window_stats(l.label, l.from_ts, l.to_ts) d
	     ORDER BY split_part(l.label, '-', 2) DESC, split_part(l.label, '-', 3)"
	echo
}

section_migration() {
	has_table migration || return 0
	cat <<EOF
## 7. A whole migration under load

One transaction with the statements that come with new columns, on a
fresh copy of the $(meta_n table_rows)-row table for every window, while
the application of scenario 6 runs ($(meta load_clients) clients, as fast
as they go, or at a fixed $(meta load_half)/s):

\`\`\`sql
$(migration_sql)
\`\`\`

"Migration" is BEGIN to COMMIT, as the migration tool waits for it; the
window runs from BEGIN to the end of the last job (schema_guard) or to
COMMIT (stock). Latencies exclude the schedule lag, which has its own
column. "Catalog" compares the table's columns, NOT NULL, defaults,
constraints (validated or not), indexes (valid or not) and triggers after
the window with stock's, and "bad tokens" counts NULL or duplicate values
of the new uuid column.

EOF
	md "SELECT '| shape | side | migration | window | TPS before | TPS during | p99 before | p99 during | worst before | worst during | worst lag during | catalog | bad tokens | errors |'
	    UNION ALL SELECT '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|'"
	md "SELECT format('| %s | %s | %s ms | %s s | %s | %s | %s ms | %s ms | %s ms | %s ms | %s | %s | %s | %s |',
	               split_part(m.label, '-', 2),
	               CASE split_part(m.label, '-', 3) WHEN 'sg' THEN 'schema_guard (' || m.jobs || ' jobs' || coalesce(', ' || nullif(m.job_state, ''), '') || ')' ELSE 'stock' END,
	               r.ms(m.alter_ms), r.n(m.to_ts - m.from_ts, 1), r.n(b.tps), r.n(d.tps),
	               r.ms(b.p99), r.ms(d.p99), r.ms(b.max), r.ms(d.max),
	               CASE WHEN split_part(m.label, '-', 2) = 'half' THEN r.ms(d.lag_max) || ' ms' ELSE '–' END,
	               CASE WHEN split_part(m.label, '-', 3) = 'stock' THEN '(reference)'
	                    WHEN m.catalog = s.catalog THEN 'equal' ELSE 'differs' END,
	               m.bad_tokens, m.errors)
	      FROM r.migration m
	      JOIN r.migration s ON s.label = 'mig-' || split_part(m.label, '-', 2) || '-stock',
	           LATERAL r.window_stats(m.label, m.t0 + 1, m.from_ts) b,
	           LATERAL r.window_stats(m.label, m.from_ts, m.to_ts) d
	     ORDER BY split_part(m.label, '-', 2) DESC, split_part(m.label, '-', 3)"
	echo
	local diff
	diff=$(q "SELECT string_agg(x, E'\n') FROM (
	            (SELECT '+ ' || l AS x FROM r.migration m, regexp_split_to_table(m.catalog, E'\n') l
	              WHERE m.label = 'mig-saturating-sg'
	             EXCEPT
	             SELECT '+ ' || l FROM r.migration m, regexp_split_to_table(m.catalog, E'\n') l
	              WHERE m.label = 'mig-saturating-stock')
	            UNION ALL
	            (SELECT '- ' || l FROM r.migration m, regexp_split_to_table(m.catalog, E'\n') l
	              WHERE m.label = 'mig-saturating-stock'
	             EXCEPT
	             SELECT '- ' || l FROM r.migration m, regexp_split_to_table(m.catalog, E'\n') l
	              WHERE m.label = 'mig-saturating-sg')) d")
	if [ -n "$diff" ]; then
		echo "Where schema_guard's table (+) differs from stock's (-), saturating shape:"
		echo
		echo '```'
		echo "$diff"
		echo '```'
		echo
	fi
}

section_targets() {
	echo "## Targets"
	echo
	echo "| target | measured | |"
	echo "|---|---|---|"
	if has_table lock; then
		md "SELECT format('| ALTER lock hold ≤ 5 ms at every size for every staged form | %s | %s |',
		               'longest ' || r.ms(max(held_ms)) || ' ms (' ||
		               (array_agg(form || ', ' || r.n(rows) || ' rows' ORDER BY held_ms DESC))[1] || '); ' ||
		               count(*) FILTER (WHERE held_ms > 5) || ' of ' || count(*) || ' over 5 ms; median ' ||
		               r.ms(r.median(array_agg(held_ms))) || ' ms' ||
		               coalesce('; PostgreSQL''s own catalog-only ADD COLUMN: ' ||
		                        (SELECT r.ms(min(held_ms)) || '–' || r.ms(max(held_ms)) FROM r.lock WHERE mode = 'floor') || ' ms', ''),
		               CASE WHEN max(held_ms) <= 5
		                    THEN 'met, by ' || r.ms(5 - max(held_ms)) || ' ms'
		                    ELSE 'missed, by ' || r.ms(max(held_ms) - 5) || ' ms (' ||
		                         r.x(max(held_ms) / 5) || ' the target)' END)
		      FROM r.lock WHERE mode = 'schema_guard'"
	fi
	if has_table impact; then
		md "SELECT format('| foreground tps during the default-throttled backfill ≥ 90%% of the idle baseline | %s | %s |',
		               r.pct(s.d_tps / b.d_tps) || ' (' || r.n(s.d_tps) || ' vs ' || r.n(b.d_tps) || ' tps)',
		               CASE WHEN s.d_tps / b.d_tps >= 0.9
		                    THEN 'met, by ' || r.n(100 * (s.d_tps / b.d_tps - 0.9), 1) || ' points'
		                    ELSE 'missed, by ' || r.n(100 * (0.9 - s.d_tps / b.d_tps), 1) || ' points' END)
		          || E'\n' ||
		       format('| p99 latency during the backfill ≤ 2x the idle baseline | %s | %s |',
		               r.x(s.d_p99 / b.d_p99) || ' (' || r.ms(s.d_p99) || ' vs ' || r.ms(b.d_p99) ||
		               ' ms; including the schedule lag ' || r.x(s.d_total_p99 / b.d_total_p99) || ', ' ||
		               r.ms(s.d_total_p99) || ' vs ' || r.ms(b.d_total_p99) || ' ms)',
		               CASE WHEN s.d_p99 / b.d_p99 <= 2
		                    THEN 'met, by ' || r.x(2 - s.d_p99 / b.d_p99)
		                    ELSE 'missed, by ' || r.x(s.d_p99 / b.d_p99 - 2) END)
		      FROM r.impact_stats s, r.impact_stats b WHERE s.label = 'sg' AND b.label = 'idle'"
	fi
	if has_table load; then
		md "SELECT format('| saturating load: TPS kept during the backfill ≥ 75%%, no transaction over 50 ms, the job ends | %s of %s tps kept; worst %s ms (%s ms in the %s s before the ALTER); job %s (stock ALTER: %s kept, worst %s ms) | %s |',
		               r.pct(d.tps / b.tps), r.n(b.tps), r.ms(d.max), r.ms(b.max), r.n(l.from_ts - l.t0 - 1, 0),
		               coalesce(nullif(l.job_state, ''), '–'),
		               r.pct(sd.tps / sb.tps), r.ms(sd.max),
		               CASE WHEN d.tps / b.tps >= 0.75 AND d.max <= 50 AND l.job_state = 'done' THEN 'met'
		                    ELSE 'missed' END)
		      FROM r.load l, r.load s,
		           LATERAL r.window_stats(l.label, l.t0 + 1, l.from_ts) b,
		           LATERAL r.window_stats(l.label, l.from_ts, l.to_ts) d,
		           LATERAL r.window_stats(s.label, s.t0 + 1, s.from_ts) sb,
		           LATERAL r.window_stats(s.label, s.from_ts, s.to_ts) sd
		     WHERE l.label = 'load-saturating-sg' AND s.label = 'load-saturating-stock'"
		md "SELECT format('| half load: at most 100 ms behind schedule, p99 ≤ 2x before | worst lag %s ms (%s ms before the ALTER), p99 %s (%s vs %s ms) (stock ALTER: worst lag %s ms) | %s |',
		               r.ms(d.lag_max), r.ms(b.lag_max), r.x(d.p99 / b.p99), r.ms(d.p99), r.ms(b.p99), r.ms(sd.lag_max),
		               CASE WHEN d.lag_max <= 100 AND d.p99 / b.p99 <= 2 THEN 'met' ELSE 'missed' END)
		      FROM r.load l, r.load s,
		           LATERAL r.window_stats(l.label, l.t0 + 1, l.from_ts) b,
		           LATERAL r.window_stats(l.label, l.from_ts, l.to_ts) d,
		           LATERAL r.window_stats(s.label, s.from_ts, s.to_ts) sd
		     WHERE l.label = 'load-half-sg' AND s.label = 'load-half-stock'"
	fi
	if has_table migration; then
		md "SELECT format('| whole migration in one transaction on %s rows under %s clients: returns in < 2 s, no transaction over 100 ms until its jobs are done, the table ends as stock''s | migration %s ms (stock %s ms); worst %s ms saturating, %s ms at half (stock %s ms, %s ms); catalog %s | %s |',
		               r.n($(meta table_rows)), $(meta load_clients),
		               r.ms(g.alter_ms), r.ms(gs.alter_ms), r.ms(d.max), r.ms(h.max), r.ms(ds.max), r.ms(hs.max),
		               CASE WHEN g.catalog = gs.catalog AND hg.catalog = hs2.catalog THEN 'equal to stock''s' ELSE 'differs from stock''s' END,
		               CASE WHEN g.alter_ms < 2000 AND hg.alter_ms < 2000 AND d.max <= 100 AND h.max <= 100
		                         AND g.catalog = gs.catalog AND hg.catalog = hs2.catalog
		                         AND g.job_state = 'done' AND hg.job_state = 'done' THEN 'met' ELSE 'missed' END)
		      FROM r.migration g, r.migration gs, r.migration hg, r.migration hs2,
		           LATERAL r.window_stats(g.label, g.from_ts, g.to_ts) d,
		           LATERAL r.window_stats(gs.label, gs.from_ts, gs.to_ts) ds,
		           LATERAL r.window_stats(hg.label, hg.from_ts, hg.to_ts) h,
		           LATERAL r.window_stats(hs2.label, hs2.from_ts, hs2.to_ts) hs
		     WHERE g.label = 'mig-saturating-sg' AND gs.label = 'mig-saturating-stock'
		       AND hg.label = 'mig-half-sg' AND hs2.label = 'mig-half-stock'"
	fi
	if has_method throughput 'plain UPDATE'; then
		md "SELECT format('| unthrottled backfill throughput ≥ 0.8x a plain UPDATE | %s | %s |',
		               r.x(v) || ' (' || r.n(g.rows / (g.ms / 1000)) || ' vs ' ||
		               r.n(u.rows / (u.ms / 1000)) || ' rows/s, from the ALTER to the table complete' ||
		               coalesce('; the indexes'' rebuild after it ' || r.n(g.reindex_ms / 1000, 1) || ' s', '') || ')',
		               CASE WHEN v >= 0.8 THEN 'met, by ' || r.x(v - 0.8)
		                    ELSE 'missed, by ' || r.x(0.8 - v) END)
		      FROM r.throughput g, r.throughput u,
		           LATERAL (SELECT (g.rows / g.ms) / (u.rows / u.ms) AS v) x
		     WHERE g.method = 'schema_guard, unthrottled' AND u.method = 'plain UPDATE'"
	fi
	if has_table overhead; then
		md "WITH m AS (SELECT test, config, r.median(array_agg(tps)) AS med,
		                      (max(tps) - min(tps)) / r.median(array_agg(tps)) AS spread
		               FROM r.overhead GROUP BY test, config),
		    o AS (SELECT w.test, 1 - w.med / b.med AS v, greatest(w.spread, b.spread) AS spread
		            FROM m w JOIN m b ON b.test = w.test AND b.config IN ('plain', 'off')
		           WHERE w.config IN ('trig', 'on') AND w.test <> 'first_fill')
		    SELECT format('| %s | %s overhead (spread of the runs up to %s) | %s |',
		                  CASE test WHEN 'trigger' THEN 'fill trigger overhead ≤ 10%'
		                            WHEN 'ddl' THEN 'hook overhead < 1%, DDL workload'
		                            ELSE 'hook overhead < 1%, OLTP (pgbench -S)' END,
		                  r.pct(v), r.pct(spread),
		                  CASE WHEN (test = 'trigger' AND v <= 0.10) OR (test <> 'trigger' AND v < 0.01)
		                       THEN 'met, by ' || r.n(100 * (CASE test WHEN 'trigger' THEN 0.10 ELSE 0.01 END - v), 1) || ' points'
		                       ELSE 'missed, by ' || r.n(100 * (v - CASE test WHEN 'trigger' THEN 0.10 ELSE 0.01 END), 1) || ' points' END
		                  || CASE WHEN abs(v) < spread THEN ' (within the noise)' ELSE '' END)
		      FROM o ORDER BY array_position(ARRAY['trigger', 'first_fill', 'ddl', 'select'], test)"
	fi
	echo
}

write_report() {
	local out=$results/REPORT.md
	report_functions
	mkdir -p "$work/charts"
	has_table lock && chart_lock
	has_table impact && chart_impact
	{
		echo "# schema_guard benchmark"
		echo
		echo "Produced by \`bench/run\` ($(meta started)): schema_guard against stock"
		echo "PostgreSQL on the same server in the same run. Rerun it with"
		echo "\`make bench\` or \`bench/run --help\`."
		echo
		section_targets
		section_machine
		section_lock
		section_impact
		section_throughput
		section_sizes
		section_overhead
		section_load
		section_migration
	} >"$out.tmp"
	mv "$out.tmp" "$out"
}
