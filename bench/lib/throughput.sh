# bench/lib/throughput.sh: scenarios 3 and 4, how fast the backfill fills
# rows compared with one plain UPDATE, and the size each way leaves the
# table and its indexes at.
#
# Three identical copies of the same table get a uuid column filled with
# gen_random_uuid():
#   stock rewrite   ALTER TABLE ... ADD COLUMN c uuid DEFAULT gen_random_uuid()
#                   with schema_guard.mode = off (measured inside a
#                   transaction that is then rolled back)
#   plain UPDATE    ADD COLUMN c uuid, then UPDATE t SET c = gen_random_uuid()
#   schema_guard    the same ALTER staged, its job unthrottled with
#                   schema_guard.set_batch(job, '2 s', '0')
# Scenario 1 adds schema_guard at default settings (its volatile-default
# job on a table of the same size) and scenario 2 the same under load.

scenario_throughput() {
	local n=$table_rows ms job state sz

	say "scenario 3: plain UPDATE of $n rows (and stock's rewrite, rolled back, for its size)"
	make_copy "$n" s3
	record_sizes "before (no new column)" s3 novacuum
	sz=$(psql_t -q -At -F '|' <<EOF
BEGIN;
SET LOCAL schema_guard.mode = off;
ALTER TABLE s3 ADD COLUMN c uuid DEFAULT gen_random_uuid();
SELECT pg_table_size('s3'), pg_total_relation_size('s3');
ROLLBACK;
EOF
	) || die "stock ALTER failed"
	q "INSERT INTO r.sizes (ord, method, heap, total) VALUES
	     ((SELECT count(*) FROM r.sizes), 'stock rewrite', ${sz%|*}, ${sz#*|})" >/dev/null
	ms=$(timed_sql "SET schema_guard.mode = off;
ALTER TABLE s3 ADD COLUMN c uuid;
CHECKPOINT;
\\timing on
UPDATE s3 SET c = gen_random_uuid();
\\timing off") || die "plain UPDATE failed"
	q "INSERT INTO r.throughput (method, rows, ms, state) VALUES ('plain UPDATE', $n, $ms, 'done')" >/dev/null
	say "  UPDATE of $n rows: $(calc "\"%.1f\", $ms / 1000") s"
	record_sizes "plain UPDATE" s3
	drop_table s3

	say "scenario 3: schema_guard unthrottled (batch_time 2 s, batch_delay 0), $n rows"
	make_copy "$n" s3
	psql_t -q >>"$work/psql.log" 2>&1 <<EOF || die "ALTER failed"
BEGIN;
ALTER TABLE s3 ADD COLUMN c uuid DEFAULT gen_random_uuid();
SELECT schema_guard.set_batch(max(job_id), '2 s', '0') FROM schema_guard.jobs
 WHERE relid = 's3'::regclass \\g /dev/null
COMMIT;
EOF
	job=$(last_job s3)
	[ -n "$job" ] || die "schema_guard did not stage the ALTER of scenario 3"
	state=$(wait_job "$job" $((600 + n / 1000)))
	record_job_throughput "schema_guard, unthrottled" "$job" "$state"
	say "  job $job $state after $(q "SELECT round(ms::numeric / 1000, 1) FROM r.throughput
	                                    WHERE method = 'schema_guard, unthrottled'") s"
	[ "$state" != done ] || record_sizes "schema_guard, unthrottled" s3
	drop_table s3
}

# Record a job's time from the ALTER to the table complete (done, or the
# start of the indexes' rebuild), its first pass alone, and the rebuild.
record_job_throughput() {		# method, job, state
	local row
	row=$(psql_t -q -At -F , -P null=NULL -c "
	        SELECT j.rows_done,
	               1000 * extract(epoch FROM coalesce(
	                   (SELECT min(at) FROM schema_guard.job_events WHERE job_id = j.job_id AND event = 'reindex'),
	                   j.finished_at) - j.created_at),
	               1000 * extract(epoch FROM
	                   (SELECT min(at) FROM schema_guard.job_events WHERE job_id = j.job_id AND event = 'verify') -
	                   (SELECT min(at) FROM schema_guard.job_events WHERE job_id = j.job_id AND event = 'running')),
	               j.batches,
	               1000 * extract(epoch FROM j.finished_at -
	                   (SELECT min(at) FROM schema_guard.job_events WHERE job_id = j.job_id AND event = 'reindex'))
	          FROM schema_guard.jobs j WHERE j.job_id = $2")
	row=${row:-NULL, NULL, NULL, NULL, NULL}
	q "INSERT INTO r.throughput VALUES ('$1', ${row%,*}, '$3', ${row##*,})" >/dev/null
}

# Scenario 4: sizes of a table as left, then after a plain VACUUM.
record_sizes() {		# method, table, [novacuum]
	local sz vac=NULL
	sz=$(table_sizes "$2")
	if [ "${3:-}" != novacuum ]; then
		qt "VACUUM $2" >/dev/null
		vac=$(table_sizes "$2")
	fi
	q "INSERT INTO r.sizes VALUES ((SELECT count(*) FROM r.sizes), '$1', ${sz%|*}, ${sz#*|},
	     ${vac%|*}, ${vac#*|})" >/dev/null
}
