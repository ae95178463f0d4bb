# bench/lib/lock.sh: scenario 1, how long the ALTER holds its lock.
#
# For each risky form and table size: stock PostgreSQL (schema_guard.mode
# = off) rewrites the table under ACCESS EXCLUSIVE; schema_guard stages
# the ALTER and a background worker backfills.  Stock PostgreSQL takes
# the lock as the ALTER starts and holds it to the end of the transaction,
# so its figure is the ALTER's duration plus that of the ROLLBACK (its
# runs are rolled back, so that one copy of the table serves every form,
# and the rewritten table is thrown away as a COMMIT would throw away the
# old one).  schema_guard does some of its work before it asks for the
# lock, and its job records how long the ALTER ran before the lock was
# granted (lock_wait); its figure is the ALTER's duration less that, plus
# the COMMIT's.  For
# schema_guard the job's total time, from the ALTER to done, is recorded
# too; at the largest size only for the first form unless --all-jobs is
# given, as those jobs alone would take most of the run.
#
# Each size gets a database with the table, indexed and vacuumed; every
# measurement runs in a fresh file copy of it (CREATE DATABASE ...
# TEMPLATE), which is quicker than loading and indexing the table again.
#
# The ALTER runs in a session that has already read the table and run a
# harmless ALTER of a temporary table, as a migration tool's session
# would have: the first statement of a brand-new session also loads the
# catalog caches it needs, for stock and schema_guard alike.  How much
# that adds is measured once, at the smallest size, for the first form.

lock_warmup="SELECT * FROM s1 LIMIT 0;
CREATE TEMP TABLE bench_warmup (a int);
ALTER TABLE bench_warmup ADD COLUMN b int DEFAULT 0;"

lock_forms=(
	"volatile default|c uuid DEFAULT gen_random_uuid()"
	"NOT NULL volatile default|c uuid NOT NULL DEFAULT gen_random_uuid()"
	"bigserial|c bigserial"
	"identity|c bigint GENERATED ALWAYS AS IDENTITY"
	"UNIQUE|c uuid DEFAULT gen_random_uuid() UNIQUE"
)

# Stock: every form on one copy, each ALTER rolled back.
lock_stock() {		# rows, [mode label, forms to run, warm-up]
	local n=$1 mode=${2:-stock} forms=${3:-${#lock_forms[@]}} warmup=${4-$lock_warmup}
	local form name sql times a e ord=0
	say "scenario 1: $n rows, stock PostgreSQL${2:+ ($2)}"
	create_database s1_run s1_master
	tdb=s1_run
	for form in "${lock_forms[@]:0:$forms}"; do
		name=${form%%|*} sql=${form#*|}
		ord=$((ord + 1))
		qt "CHECKPOINT" >/dev/null
		times=$(timed_sql "$warmup
BEGIN;
SET LOCAL schema_guard.mode = off;
\\timing on
ALTER TABLE s1 ADD COLUMN $sql;
ROLLBACK;
\\timing off") || die "stock ALTER failed: $sql"
		read -r a e <<<"$times"
		q "INSERT INTO r.lock (rows, form, ord, mode, alter_ms, end_ms, held_ms)
		   VALUES ($n, '$name', $ord, '$mode', $a, $e, $a + $e)" >/dev/null
		say "  stock  $(printf '%-26s' "$name") ALTER+ROLLBACK $(calc "\"%.1f\", $a + $e") ms"
	done
	tdb=bench
	drop_database s1_run
}

# A fresh copy of the table to run one committed ALTER on, after a
# checkpoint; and the SQL that times it: warm-up, the ALTER and its COMMIT,
# then what to read afterwards.
fresh_copy() {
	create_database s1_run s1_master
	tdb=s1_run
	qt "CHECKPOINT" >/dev/null
}
committed_alter() {		# warm-up, column clause, SQL to run after
	printf '%s\nBEGIN;\n\\timing on\nALTER TABLE s1 ADD COLUMN %s;\nCOMMIT;\n\\timing off\n%s\n' "$1" "$2" "$3"
}

# PostgreSQL's floor: an ADD COLUMN that only changes the catalog (no
# default), committed, under the same conditions as schema_guard's runs.
lock_floor() {		# rows
	local n=$1 times a e
	fresh_copy
	times=$(timed_sql "$(committed_alter "$lock_warmup" "c int" "")") || die "catalog-only ALTER failed"
	read -r a e <<<"$times"
	q "INSERT INTO r.lock (rows, form, ord, mode, alter_ms, end_ms, held_ms)
	   VALUES ($n, 'catalog only', 0, 'floor', $a, $e, $a + $e)" >/dev/null
	say "  PostgreSQL's floor, catalog-only ADD COLUMN + COMMIT $(calc "\"%.1f\", $a + $e") ms"
	tdb=bench
	drop_database s1_run
}

# schema_guard: every form on a copy of its own, waiting for its job.
lock_guarded() {		# rows, [mode label, forms to run, warm-up]
	local n=$1 mode=${2:-schema_guard} forms=${3:-${#lock_forms[@]}} warmup=${4-$lock_warmup}
	local form name sql times a e w h ord=0 job state
	say "scenario 1: $n rows, schema_guard${2:+ ($2)}"
	for form in "${lock_forms[@]:0:$forms}"; do
		name=${form%%|*} sql=${form#*|}
		ord=$((ord + 1))
		fresh_copy
		times=$(timed_sql "$(committed_alter "$warmup" "$sql" "\
SELECT coalesce(max(1000 * extract(epoch FROM lock_wait))::text, 'NULL') AS lock_wait
  FROM (SELECT lock_wait FROM schema_guard.jobs ORDER BY job_id DESC LIMIT 1) j \\gset
\\echo Wait: :lock_wait")") || die "ALTER failed: $sql"
		read -r a e w <<<"$times"
		h=$(calc "\"%.3f\", $a + $e - ${w/NULL/0}")
		job=$(last_job s1)
		if [ -n "$job" ] && [ "$all_jobs" = 0 ] && [ "$ord" -gt 1 ] && [ "$n" = "${lock_sizes[2]}" ]; then
			qt "SELECT schema_guard.cancel($job)" >/dev/null
			q "INSERT INTO r.lock (rows, form, ord, mode, alter_ms, end_ms, job, job_state, held_ms)
			   VALUES ($n, '$name', $ord, '$mode', $a, $e, $job, 'not waited for', $h)" >/dev/null
			say "  schema_guard $(printf '%-19s' "$name") lock held $(calc "\"%.1f\", $h") ms," \
				"ALTER+COMMIT $(calc "\"%.1f\", $a + $e") ms (job not waited for)"
		elif [ -z "$job" ]; then
			q "INSERT INTO r.lock (rows, form, ord, mode, alter_ms, end_ms, job_state, held_ms)
			   VALUES ($n, '$name', $ord, '$mode', $a, $e, 'not staged', $a + $e)" >/dev/null
			say "  schema_guard $name: not staged"
		else
			state=$(wait_job "$job" $((600 + n / 1000)))
			q "INSERT INTO r.lock VALUES ($n, '$name', $ord, '$mode', $a, $e, $job, '$state',
			     $(psql_t -q -At -F , -P null=NULL -c "
			         SELECT 1000 * extract(epoch FROM finished_at - created_at), rows_done,
			                coalesce(quote_literal(last_error), 'NULL')
			           FROM schema_guard.jobs WHERE job_id = $job"), $h)" >/dev/null
			say "  schema_guard $(printf '%-19s' "$name") lock held $(calc "\"%.1f\", $h") ms," \
				"ALTER+COMMIT $(calc "\"%.1f\", $a + $e") ms," \
				"job $job $state after $(q "SELECT round(job_ms::numeric / 1000, 1) FROM r.lock
				                              WHERE rows = $n AND ord = $ord AND mode = '$mode'") s"
			# scenarios 3 and 4 compare this job with the other ways
			if [ "$n" = "$table_rows" ] && [ "$ord" = 1 ] && [ "$mode" = schema_guard ]; then
				record_job_throughput "schema_guard, default settings" "$job" "$state"
				[ "$state" != done ] || record_sizes "schema_guard, default settings" s1
			fi
		fi
		tdb=bench
		drop_database s1_run
	done
}

scenario_lock() {
	local n
	for n in "${lock_sizes[@]}"; do
		say "scenario 1: loading $n rows"
		create_database s1_master
		tdb=s1_master
		make_copy "$n" s1
		qt "DROP TABLE tmpl_$n; CHECKPOINT" >/dev/null
		tdb=bench
		lock_stock "$n"
		lock_floor "$n"
		lock_guarded "$n"
		if [ "$n" = "${lock_sizes[0]}" ]; then
			lock_stock "$n" "stock, new session" 1 ""
			lock_guarded "$n" "schema_guard, new session" 1 ""
		fi
		drop_database s1_master
	done
}
