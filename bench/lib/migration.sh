# bench/lib/migration.sh: scenario 7, a whole migration under load.
#
# The statements that come with new columns, in one transaction, on the
# 1,000,000-row table of scenario 2 while its application runs with as many
# clients as the machine has cores (as fast as they go, then at a fixed
# half of that):
#
#   ALTER TABLE s2 ADD COLUMN customer_ref integer REFERENCES s2_customers (id);
#   CREATE INDEX s2_customer_ref_idx ON s2 (customer_ref);
#   ALTER TABLE s2 ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
#   CREATE UNIQUE INDEX s2_token_key ON s2 (token);
#   ALTER TABLE s2 ALTER COLUMN created_at SET NOT NULL;
#   ALTER TABLE s2 ADD CONSTRAINT s2_amount_check CHECK (amount >= 0);
#
# (created_at is made nullable, catalog only, before the load starts.)
# Each shape runs once with schema_guard and once as stock PostgreSQL runs
# it (schema_guard.mode = off), each on a fresh copy.  The window runs from
# BEGIN to the end of the last job (schema_guard) or to COMMIT (stock).
# After each side the table's catalog is summarised (columns, NOT NULL,
# defaults, constraints and whether they are validated, index definitions
# and validity, triggers other than a foreign key's internal ones, named
# after their OIDs) and the two summaries are compared.

migration_sql() {
	cat <<'EOF'
BEGIN;
ALTER TABLE s2 ADD COLUMN customer_ref integer REFERENCES s2_customers (id);
CREATE INDEX s2_customer_ref_idx ON s2 (customer_ref);
ALTER TABLE s2 ADD COLUMN token uuid NOT NULL DEFAULT gen_random_uuid();
CREATE UNIQUE INDEX s2_token_key ON s2 (token);
ALTER TABLE s2 ALTER COLUMN created_at SET NOT NULL;
ALTER TABLE s2 ADD CONSTRAINT s2_amount_check CHECK (amount >= 0);
COMMIT;
EOF
}

# One line per catalog fact about s2, sorted: what the two sides compare.
migration_catalog() {
	qt "SELECT string_agg(x, E'\\n' ORDER BY x) FROM (
	      SELECT format('column %s %s not null %s default %s', a.attname,
	                    format_type(a.atttypid, a.atttypmod), a.attnotnull,
	                    coalesce(pg_get_expr(d.adbin, d.adrelid), '-')) AS x
	        FROM pg_attribute a
	        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	       WHERE a.attrelid = 's2'::regclass AND a.attnum > 0 AND NOT a.attisdropped
	      UNION ALL
	      SELECT format('constraint %s %s validated %s', conname, pg_get_constraintdef(oid), convalidated)
	        FROM pg_constraint WHERE conrelid = 's2'::regclass
	      UNION ALL
	      SELECT format('index %s valid %s ready %s', pg_get_indexdef(indexrelid), indisvalid, indisready)
	        FROM pg_index WHERE indrelid = 's2'::regclass
	      UNION ALL
	      SELECT format('trigger %s', tgname) FROM pg_trigger
	       WHERE tgrelid = 's2'::regclass AND NOT tgisinternal) s"
}

migration_window() {		# shape (saturating | half), side (sg | stock), rate
	local label="mig-$1-$2" n=$table_rows set= out from ms to job last state=done errors jobs s
	local njobs=0
	[ "$2" = stock ] && set="SET schema_guard.mode = off;"
	make_copy "$n" s2
	psql_t -q >>"$work/psql.log" 2>&1 <<EOF || die "could not prepare scenario 7"
SET schema_guard.mode = off;
ALTER TABLE s2 ALTER COLUMN created_at DROP NOT NULL;
DROP TABLE IF EXISTS s2_customers;
CREATE TABLE s2_customers (id integer PRIMARY KEY);
INSERT INTO s2_customers SELECT generate_series(1, 100000);
EOF
	last=$(qt "SELECT coalesce(max(job_id), 0) FROM schema_guard.jobs")
	errors=$(server_errors)
	load_start "$label" "$1" "$3"
	out=$(psql_t -q -v ON_ERROR_STOP=1 2>&1 <<EOF
$set
SELECT extract(epoch FROM clock_timestamp()) AS mig_from \\gset
$(migration_sql)
SELECT 1000 * (extract(epoch FROM clock_timestamp()) - :mig_from) AS mig_ms \\gset
\\echo window :mig_from :mig_ms
EOF
	) || { echo "$out" >&2; die "the migration of scenario 7 failed"; }
	echo "$out" >>"$work/psql.log"
	read -r from ms < <(echo "$out" | awk '/^window / { print $2, $3 }')
	to=$(calc "\"%f\", $from + $ms / 1000")
	jobs=$(qt "SELECT string_agg(job_id::text, ' ' ORDER BY job_id) FROM schema_guard.jobs WHERE job_id > $last")
	for job in $jobs; do
		s=$(wait_job "$job" $((1200 + n / 500)))
		[ "$s" = done ] || state=$s
	done
	if [ -n "$jobs" ]; then
		to=$(q "SELECT extract(epoch FROM max(coalesce(finished_at, clock_timestamp())))
		          FROM schema_guard.jobs WHERE job_id > $last")
		job=$(echo "$jobs" | awk '{ print $NF }')
		njobs=$(echo "$jobs" | wc -w)
	else
		job=
	fi
	sleep "$load_tail"
	stop_pgbench "$label"
	q "INSERT INTO r.migration VALUES ('$label', $pgb_t0, $(now), $from, $to, $ms, ${job:-NULL},
	     '$state', $(($(server_errors) - errors)), \$cat\$$(migration_catalog)\$cat\$,
	     $(qt "SELECT count(*) FILTER (WHERE token IS NULL) + count(*) - count(DISTINCT token) FROM s2"),
	     $njobs)" >/dev/null
	load_copy_log "$label"
	say "  $1, $2: migration $ms ms, window $(calc "\"%.1f\", $to - $from") s${jobs:+, jobs $jobs $state}"
	drop_table s2
	drop_table s2_customers
}

scenario_migration() {
	local half
	load_capacity 7
	half=$load_half
	say "scenario 7: a whole migration, $table_rows rows, $load_clients clients"
	for shape in saturating half; do
		for side in sg stock; do
			migration_window "$shape" "$side" "$half"
		done
	done
}
