-- Shared setup for the regression tests: the extension, and helpers that
-- describe a table the way the tests compare them.
CREATE EXTENSION schema_guard;

CREATE SCHEMA sg_test;

-- Start each test's job numbers at a fixed point, so outputs are stable.
CREATE FUNCTION sg_test.number_jobs_from(first bigint) RETURNS void
LANGUAGE sql AS $$
  SELECT pg_catalog.setval('schema_guard.jobs_job_id_seq', first, false);
$$;

-- Wait until no job is queued or running (failed ones included).
CREATE PROCEDURE sg_test.wait_all()
LANGUAGE plpgsql AS $$
DECLARE j bigint;
BEGIN
  FOR j IN SELECT job_id FROM schema_guard.jobs
            WHERE state IN ('queued', 'running') ORDER BY job_id LOOP
    BEGIN
      CALL schema_guard.wait(j, '5 min');
    EXCEPTION WHEN object_not_in_prerequisite_state THEN
      NULL;  -- it failed or was cancelled: settled all the same
    END;
  END LOOP;
END $$;

-- Everything PostgreSQL records about a table's columns, defaults,
-- constraints, triggers, indexes and owned sequences, with the table's
-- own name replaced by "T", so two tables built by the same statements
-- (one plain, one guarded) can be compared; for a partition or child, its
-- parent's name by "P".  The replacement is textual: give compared tables
-- names that occur nowhere else in their definitions.
CREATE FUNCTION sg_test.catalog(tab regclass, parent text DEFAULT NULL) RETURNS SETOF text
LANGUAGE sql STABLE AS $$
  WITH n AS (SELECT relname::text AS name FROM pg_class WHERE oid = tab)
  SELECT replace(replace(x, (SELECT name FROM n), 'T'), coalesce(parent, (SELECT name FROM n)), 'P') FROM (
    SELECT format('column %s %s notnull=%s identity=%s generated=%s default=%s collation=%s',
                  a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
                  nullif(a.attidentity, ''), nullif(a.attgenerated, ''),
                  pg_get_expr(d.adbin, d.adrelid), a.attcollation::regcollation) AS x,
           1 AS k, lpad(a.attnum::text, 5, '0') AS o
      FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE a.attrelid = tab AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT format('constraint %s %s validated=%s', c.conname, pg_get_constraintdef(c.oid), c.convalidated),
           2, c.conname::text
      FROM pg_constraint c WHERE c.conrelid = tab
    UNION ALL
    SELECT format('trigger %s %s', t.tgname, t.tgenabled), 3, t.tgname::text
      FROM pg_trigger t WHERE t.tgrelid = tab AND NOT t.tgisinternal
    UNION ALL
    SELECT format('index %s', pg_get_indexdef(i.indexrelid)), 4, i.indexrelid::regclass::text
      FROM pg_index i WHERE i.indrelid = tab
    UNION ALL
    SELECT format('sequence %s owned by %s (%s) type=%s start=%s inc=%s min=%s max=%s cache=%s cycle=%s',
                  s.seqrelid::regclass, a.attname, dep.deptype, format_type(s.seqtypid, NULL),
                  s.seqstart, s.seqincrement, s.seqmin, s.seqmax, s.seqcache, s.seqcycle),
           5, s.seqrelid::regclass::text
      FROM pg_depend dep
      JOIN pg_sequence s ON s.seqrelid = dep.objid
      JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
     WHERE dep.classid = 'pg_class'::regclass AND dep.refclassid = 'pg_class'::regclass
       AND dep.refobjid = tab AND dep.deptype IN ('a', 'i')
  ) s ORDER BY k, o;
$$;
-- The catalogs of two partition trees built alike, table by table: each
-- suffix is what follows the root's name in a table's name.
CREATE FUNCTION sg_test.same_trees(nsp text, a text, b text, suffixes text[])
RETURNS TABLE (suffix text, same bool) LANGUAGE sql STABLE AS $$
  SELECT p.suffix,
         (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(format('%I.%I', nsp, a || p.suffix)::regclass, a) c)
       = (SELECT array_agg(c ORDER BY c) FROM sg_test.catalog(format('%I.%I', nsp, b || p.suffix)::regclass, b) c)
    FROM unnest(suffixes) AS p(suffix);
$$;
