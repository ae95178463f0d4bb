/*-------------------------------------------------------------------------
 *
 * integrity.c
 *	  What a sound job is: the rules that keep it truthful.
 *
 * A job is only right while
 *	- every table that stores its rows is still in its tree;
 *	- each of those tables has its fill trigger, as schema_guard made it
 *	  (BEFORE UPDATE for each row, the job's argument, no WHEN, no column
 *	  list), enabled ALWAYS, and after every other BEFORE UPDATE row
 *	  trigger, so that it judges the final row; and no other trigger calls
 *	  the fill function for the job;
 *	- its helper checks are still CHECK (c IS NOT NULL) on its table, its
 *	  NOT VALID constraints and reserved indexes exist, and a staged
 *	  identity column keeps its staging sequence's default;
 *	- until the backfill is done, no table of it has a file that the job
 *	  did not see it get (a rewrite forms every tuple anew).
 * The guard (after each DDL statement) and the worker (at each step) hold
 * every unfinished job to these rules; rewrites are the backfill's to see.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "nodes/nodeFuncs.h"
#include "nodes/primnodes.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "schema_guard.h"
#include "bind.h"
#include "integrity.h"
#include "job.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "util.h"


/* The job a trigger's single argument names, or 0. */
static int64
trigger_job_argument(Trigger *tg)
{
	char	   *end;
	int64		job_id;

	if (tg->tgnargs != 1)
		return 0;
	errno = 0;
	job_id = strtoi64(tg->tgargs[0], &end, 10);
	return errno == 0 && end != tg->tgargs[0] && *end == '\0' ? job_id : 0;
}

/* Is the trigger schema_guard's fill trigger for this job, as made? */
static bool
is_intact_fill_trigger(Trigger *tg, int64 job_id, Oid fill_fn)
{
	return tg->tgfoid == fill_fn &&
		tg->tgtype == (TRIGGER_TYPE_ROW | TRIGGER_TYPE_BEFORE | TRIGGER_TYPE_UPDATE) &&
		tg->tgnattr == 0 && tg->tgqual == NULL && trigger_job_argument(tg) == job_id;
}

/* Is the trigger one the job made, or a partition's clone of one? */
static bool
is_jobs_own_trigger(SgJob *job, Oid tgoid)
{
	List	   *made = NIL;
	ListCell   *lc;

	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);

		if (obj->kind == SG_OBJECT_FILL_TRIGGER)
			made = lappend_oid(made, obj->objid);
	}
	return sg_trigger_descends_from(tgoid, made);
}

/*
 * Does every table that stores the job's rows have the job's fill trigger,
 * intact, enabled ALWAYS, and after every other BEFORE UPDATE row trigger?
 */
static char *
leaf_trigger_problem(SgJob *job, Oid leafid, Oid fill_fn)
{
	Relation	rel = relation_open(leafid, AccessShareLock);
	TriggerDesc *desc = rel->trigdesc;
	char	   *problem = NULL;
	int			ours = -1;
	int			i;

	for (i = 0; desc && i < desc->numtriggers && problem == NULL; i++)
	{
		Trigger    *tg = &desc->triggers[i];

		if (tg->tgfoid == fill_fn && trigger_job_argument(tg) == job->job_id)
		{
			if (!is_jobs_own_trigger(job, tg->tgoid))
				problem = psprintf("trigger \"%s\" of table \"%s\" calls schema_guard.fill_trigger() for the job, but schema_guard did not make it",
								   tg->tgname, RelationGetRelationName(rel));
			else if (!is_intact_fill_trigger(tg, job->job_id, fill_fn))
				problem = psprintf("the fill trigger \"%s\" of table \"%s\" is no longer the one schema_guard made",
								   tg->tgname, RelationGetRelationName(rel));
			else if (tg->tgenabled != TRIGGER_FIRES_ALWAYS)
				problem = psprintf("the fill trigger \"%s\" of table \"%s\" no longer fires always",
								   tg->tgname, RelationGetRelationName(rel));
			ours = i;
		}
		else if (ours >= 0 && tg->tgfoid != fill_fn &&
				 tg->tgenabled != TRIGGER_DISABLED &&
				 TRIGGER_FOR_ROW(tg->tgtype) && TRIGGER_FOR_BEFORE(tg->tgtype) &&
				 TRIGGER_FOR_UPDATE(tg->tgtype))
			problem = psprintf("trigger \"%s\" of table \"%s\" would fire after the fill trigger, "
							   "which must see the final row",
							   tg->tgname, RelationGetRelationName(rel));
	}
	if (ours < 0 && problem == NULL)
		problem = psprintf("table \"%s\" has lost the job's fill trigger",
						   RelationGetRelationName(rel));
	relation_close(rel, AccessShareLock);
	return problem;
}

/*
 * Has the leaf a file the job did not see it get?  A rewrite forms every
 * tuple anew, so rows that still needed a value look filled.  (The files
 * TRUNCATE and SET TABLESPACE give a table are adopted as they happen.)
 * Both files are read under the table's lock, the recorded one afresh, so
 * that a TRUNCATE committing meanwhile is seen in both or in neither.
 */
static char *
rewrite_problem(SgJob *job, SgJobLeaf *leaf)
{
	Relation	rel = try_relation_open(leaf->relid, AccessShareLock);
	Oid			file;
	char	   *problem = NULL;

	if (rel == NULL)
		return NULL;
	file = rel->rd_rel->relfilenode;
	if (file != leaf->relfilenode && file != sg_job_leaf_file(job->job_id, leaf->relid))
		problem = psprintf("table \"%s\" was rewritten outside schema_guard",
						   RelationGetRelationName(rel));
	relation_close(rel, AccessShareLock);
	return problem;
}

/*
 * Is the helper check still CHECK (column IS NOT NULL) on the job's table,
 * or, staged on 18, the column's NOT NULL constraint?
 */
static char *
helper_check_problem(SgJob *job, SgJobObject *obj, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(obj->objid));
	Form_pg_constraint con;
	bool		intact = false;
	Datum		bin;
	bool		isnull;

	if (!HeapTupleIsValid(tup))
		return psprintf("the helper check \"%s\" of table \"%s\" was dropped",
						obj->name, get_rel_name(job->relid));
	con = (Form_pg_constraint) GETSTRUCT(tup);
	bin = SysCacheGetAttr(CONSTROID, tup, Anum_pg_constraint_conbin, &isnull);
	if (con->conrelid == job->relid && SG_CONTYPE_IS_NOT_NULL(con->contype))
		intact = sg_not_null_column(tup) == attnum;
	else if (con->conrelid == job->relid && con->contype == CONSTRAINT_CHECK &&
		!con->connoinherit && !isnull)
	{
		Node	   *expr = stringToNode(TextDatumGetCString(bin));

		intact = IsA(expr, NullTest) && ((NullTest *) expr)->nulltesttype == IS_NOT_NULL &&
			IsA(((NullTest *) expr)->arg, Var) &&
			((Var *) ((NullTest *) expr)->arg)->varattno == attnum;
	}
	ReleaseSysCache(tup);
	return intact ? NULL
		: psprintf("the helper check \"%s\" of table \"%s\" is no longer the one schema_guard made",
				   obj->name, get_rel_name(job->relid));
}

/* A staged identity column must keep its staging sequence's default. */
static char *
identity_default_problem(SgJob *job, SgJobColumn *col)
{
	Relation	rel;
	Node	   *current;
	char	   *problem = NULL;

	if (!col->identity || sg_column_name(job->relid, col->attnum) == NULL)
		return NULL;
	rel = relation_open(job->relid, AccessShareLock);
	current = build_column_default(rel, col->attnum);
	if (current == NULL || !equal(current, stringToNode(col->fill_node)))
		problem = psprintf("the default of column \"%s\", an identity column once the job is done, was changed",
						   col->colname);
	relation_close(rel, AccessShareLock);
	return problem;
}

/*
 * What, if anything, is wrong with an unfinished job: the rules in this
 * file's header.  NULL when the job is sound, or when it has nothing left
 * to protect (its table or columns are gone: the worker ends it), or when
 * it is not bound here yet (the worker binds it first).
 */
char *
sg_job_integrity_problem(SgJob *job)
{
	List	   *tree;
	ListCell   *lc;
	Oid			fill_fn;
	bool		fills = false;

	if (get_rel_name(job->relid) == NULL || !sg_job_is_bound(job))
		return NULL;
	/* finalized: the table is complete, its helpers are gone */
	if (job->phase == SG_PHASE_REINDEX)
		return NULL;
	foreach(lc, job->columns)
		fills |= sg_column_name(job->relid, ((SgJobColumn *) lfirst(lc))->attnum) != NULL;
	tree = find_all_inheritors(job->relid, NoLock, NULL);
	fill_fn = sg_fill_trigger_function();
	foreach(lc, job->leaves)
	{
		SgJobLeaf  *leaf = lfirst(lc);
		char	   *problem;

		if (get_rel_name(leaf->relid) == NULL)
			continue;			/* dropped: its rows are gone */
		if (!list_member_oid(tree, leaf->relid))
			return psprintf("table \"%s\" is no longer part of table \"%s\"",
							get_rel_name(leaf->relid), get_rel_name(job->relid));
		if (fills && job->phase != SG_PHASE_DONE &&
			(problem = leaf_trigger_problem(job, leaf->relid, fill_fn)) != NULL)
			return problem;
		if (fills && (job->phase == SG_PHASE_BACKFILL || job->phase == SG_PHASE_VERIFY) &&
			(problem = rewrite_problem(job, leaf)) != NULL)
			return problem;
	}
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		SgJobObject *obj;
		char	   *problem;

		if (sg_column_name(job->relid, col->attnum) == NULL)
			continue;
		if (col->check_name &&
			(obj = sg_job_object(job, SG_OBJECT_HELPER_CHECK, job->relid, col->check_name)) != NULL &&
			(problem = helper_check_problem(job, obj, col->attnum)) != NULL)
			return problem;
		if ((problem = identity_default_problem(job, col)) != NULL)
			return problem;
	}
	foreach(lc, job->objects)
	{
		SgJobObject *obj = lfirst(lc);
		char	   *name;
		char	   *problem;

		if (get_rel_name(obj->relid) == NULL)
			continue;
		/* a staged SET NOT NULL: its helpers, while they exist */
		if (obj->kind == SG_OBJECT_HELPER_CHECK && !sg_job_adds_columns(job) &&
			sg_object_name(obj) != NULL &&
			(problem = helper_check_problem(job, obj, sg_object_column(obj))) != NULL)
			return problem;
		/* (the job of a CREATE INDEX or ADD CONSTRAINT just ends without them) */
		if (obj->kind == SG_OBJECT_CONSTRAINT && sg_object_name(obj) == NULL &&
			sg_job_adds_columns(job))
			return psprintf("the constraint \"%s\" of table \"%s\" that the job validates was dropped",
							obj->name, get_rel_name(obj->relid));
		if (obj->kind == SG_OBJECT_INDEX && sg_index_of(obj->objid) != obj->relid &&
			sg_job_adds_columns(job))
			return psprintf("the index \"%s\" of table \"%s\" that the job builds was dropped",
							obj->name, get_rel_name(obj->relid));
		if (obj->kind == SG_OBJECT_FILL_TRIGGER &&
			(name = sg_object_name(obj)) != NULL && strcmp(name, obj->name) != 0)
			return psprintf("the fill trigger \"%s\" of table \"%s\" was renamed, which changes when it fires",
							obj->name, get_rel_name(obj->relid));
	}
	return NULL;
}

/* The functions and sequences an expression calls and reads. */
typedef struct UsedObjects
{
	List	   *functions;
	List	   *sequences;
} UsedObjects;

static bool
note_function(Oid funcid, void *context)
{
	UsedObjects *used = context;

	used->functions = list_append_unique_oid(used->functions, funcid);
	return false;
}

static bool
used_objects_walker(Node *node, UsedObjects *used)
{
	if (node == NULL)
		return false;
	(void) check_functions_in_node(node, note_function, used);
	/* nextval('seq'::regclass) */
	if (IsA(node, Const) && ((Const *) node)->consttype == REGCLASSOID &&
		!((Const *) node)->constisnull)
		used->sequences = list_append_unique_oid(used->sequences,
												 DatumGetObjectId(((Const *) node)->constvalue));
	return expression_tree_walker(node, used_objects_walker, (void *) used);
}

/* Are two values of a variable-length column of a catalog row the same? */
static bool
same_varlena(HeapTuple a, HeapTuple b, int attnum, TupleDesc desc)
{
	bool		anull;
	bool		bnull;
	Datum		ad = heap_getattr(a, attnum, desc, &anull);
	Datum		bd = heap_getattr(b, attnum, desc, &bnull);
	struct varlena *av;
	struct varlena *bv;

	if (anull || bnull)
		return anull == bnull;
	av = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(ad));
	bv = pg_detoast_datum_packed((struct varlena *) DatumGetPointer(bd));
	return VARSIZE_ANY_EXHDR(av) == VARSIZE_ANY_EXHDR(bv) &&
		memcmp(VARDATA_ANY(av), VARDATA_ANY(bv), VARSIZE_ANY_EXHDR(av)) == 0;
}

/*
 * Did the statement running now change what the function computes (its
 * name, language, body, strictness, settings, or, for SECURITY DEFINER,
 * the role it runs as)?  Its row as the statement found it is read with
 * the statement's snapshot.  A change of owner of an ordinary function,
 * or of its cost, is no change.
 */
static bool
function_changed(Oid funcid)
{
	static const int bodies[] = {Anum_pg_proc_prosrc, Anum_pg_proc_probin,
	Anum_pg_proc_prosqlbody, Anum_pg_proc_proconfig};
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	before;
	HeapTuple	now;
	Form_pg_proc b;
	Form_pg_proc n;
	bool		changed;
	int			i;

	if (!ActiveSnapshotSet())
		return true;
	rel = table_open(ProcedureRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_proc_oid, BTEqualStrategyNumber, F_OIDEQ,
				ObjectIdGetDatum(funcid));
	scan = systable_beginscan(rel, ProcedureOidIndexId, true, GetActiveSnapshot(), 1, &key);
	before = systable_getnext(scan);
	before = HeapTupleIsValid(before) ? heap_copytuple(before) : NULL;
	systable_endscan(scan);
	now = SearchSysCacheCopy1(PROCOID, ObjectIdGetDatum(funcid));
	changed = before == NULL || !HeapTupleIsValid(now);
	if (!changed)
	{
		b = (Form_pg_proc) GETSTRUCT(before);
		n = (Form_pg_proc) GETSTRUCT(now);
		changed = strcmp(NameStr(b->proname), NameStr(n->proname)) != 0 ||
			b->pronamespace != n->pronamespace || b->prolang != n->prolang ||
			b->prosecdef != n->prosecdef || b->proisstrict != n->proisstrict ||
			b->proretset != n->proretset ||
			(n->prosecdef && b->proowner != n->proowner);
		for (i = 0; i < lengthof(bodies) && !changed; i++)
			changed = !same_varlena(before, now, bodies[i], RelationGetDescr(rel));
	}
	table_close(rel, AccessShareLock);
	return changed;
}

/*
 * Did the statement change (changed: the OIDs of the functions it
 * created, replaced or altered, and of the sequences it altered) what the
 * job's expressions call or number with?  The plain ALTER computed every
 * row with them as they were then: the rows filled afterwards would get
 * other values.
 */
char *
sg_job_changed_object_problem(SgJob *job, List *changed)
{
	ListCell   *lc;

	if (changed == NIL || !sg_job_is_bound(job))
		return NULL;
	foreach(lc, job->columns)
	{
		SgJobColumn *col = lfirst(lc);
		UsedObjects used = {NIL, NIL};
		ListCell   *oc;

		if (job->phase != SG_PHASE_BACKFILL && job->phase != SG_PHASE_VERIFY &&
			!col->identity)
			continue;			/* every row has its value */
		(void) used_objects_walker(stringToNode(col->fill_node), &used);
		foreach(oc, used.functions)
			if (list_member_oid(changed, lfirst_oid(oc)) && function_changed(lfirst_oid(oc)))
				return psprintf("function %s, with which the job computes column \"%s\", was replaced or altered",
								format_procedure(lfirst_oid(oc)), col->colname);
		foreach(oc, used.sequences)
			if (list_member_oid(changed, lfirst_oid(oc)))
				return psprintf("sequence %s, from which column \"%s\" takes its values, was altered",
								sg_qualified_relname(lfirst_oid(oc)), col->colname);
	}
	return NULL;
}

/*
 * The job's problem, if it still has one when read afresh: the job was
 * read with the statement's snapshot, the catalogs with a newer one, and
 * a job that its worker finished meanwhile (dropping its fill trigger in
 * the same transaction) must not look broken.
 */
char *
sg_job_problem_now(SgJob *job)
{
	char	   *problem = sg_job_integrity_problem(job);
	SgJob	   *fresh;

	if (problem == NULL)
		return NULL;
	PushActiveSnapshot(GetLatestSnapshot());
	fresh = sg_job_load(job->job_id, true);
	PopActiveSnapshot();
	if (fresh == NULL || fresh->state == SG_STATE_DONE ||
		fresh->state == SG_STATE_CANCELLED || fresh->state == SG_STATE_REVERTED)
		return NULL;
	return sg_job_integrity_problem(fresh);
}

