/*-------------------------------------------------------------------------
 *
 * stage_unique.c
 *	  ALTER TABLE ... ADD [CONSTRAINT name] UNIQUE (cols) or PRIMARY KEY
 *	  (cols), staged: the constraint's index is made in the user's
 *	  transaction, empty, invalid and not ready for inserts, as a staged
 *	  CREATE INDEX makes its own (index_build.c); a job builds it the way
 *	  CREATE INDEX CONCURRENTLY does once the transaction commits, and then,
 *	  in one short lock-bounded transaction, adds the constraint USING
 *	  INDEX, which takes the index without a scan (finalize.c).
 *
 * The finished table is the plain statement's.  The index is made from
 * PostgreSQL's own transformation of the statement (the same columns,
 * INCLUDE, NULLS NOT DISTINCT, storage parameters and tablespace, the same
 * errors for a column that does not exist), under the name PostgreSQL
 * gives the constraint and its index (the constraint's name, or
 * ChooseRelationName's as DefineIndex chooses it: t_a_key, t_pkey, with
 * the same suffix on a clash), so that USING INDEX renames nothing.  It is
 * a plain unique index until then: immediate (a DEFERRABLE constraint's
 * index becomes deferrable when USING INDEX adds the constraint), not
 * marked primary (USING INDEX marks it).  The checks PostgreSQL makes when
 * it creates the constraint are made here: a constraint of that name on
 * the table, a second primary key (also one an unfinished job is adding).
 *
 * A duplicate key fails the job with PostgreSQL's error and SQLSTATE
 * (23505); the index stays invalid for retry(), revert() drops it.  Only
 * a statement whose every subcommand is such a constraint, on a table that
 * is not partitioned, is staged.  A primary key's columns that may be NULL
 * (the plain statement sets them NOT NULL, with a scan) are staged in the
 * same job as a staged SET NOT NULL stages them (stage_not_null.c): NOT
 * VALID constraints that reject NULL at once, validated by the job after
 * the index is built (as the plain statement builds the index, then scans
 * for NULL), the columns set NOT NULL just before the key is added; a NULL
 * fails the job with PostgreSQL's 23502.  Where a staged SET NOT NULL
 * cannot be (a table with children, one whose rows a job fills), the
 * statement runs as written.
 *
 * On a partitioned table a constraint alone in its statement is staged on
 * every leaf: each leaf's index reserved under the name PostgreSQL gives
 * the leaf's constraint, built by the job, the leaf's constraint added
 * USING INDEX; then the parent's ADD CONSTRAINT, whose DefineIndex attaches
 * the leaves' constraints and indexes instead of building any.
 *
 * Until the job ends the constraint does not exist, only its invalid
 * index: a foreign key that references its columns finds no unique
 * constraint (PostgreSQL's error, 42830).  Such a statement, and any that
 * adds a foreign key to a table with such an unfinished job, is let
 * through as written, after a warning that names the job and says what to
 * do: commit, wait for the job, then add the foreign key.  It does not
 * wait itself: in the migration's own transaction the job cannot start
 * before that transaction commits.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/relation.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_index.h"
#include "catalog/pg_inherits.h"
#include "nodes/makefuncs.h"
#include "utils/partcache.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/tablecmds.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "parser/parse_utilcmd.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "index_build.h"
#include "job.h"
#include "job_lookup.h"
#include "job_objects.h"
#include "stage.h"
#include "classify_column.h"
#include "stage_index.h"
#include "stage_not_null.h"
#include "stage_unique.h"
#include "util.h"

/* Is this subcommand ADD [CONSTRAINT] UNIQUE / PRIMARY KEY (cols)? */
static Constraint *
unique_constraint(AlterTableCmd *cmd)
{
	Constraint *con = (Constraint *) cmd->def;

	if (cmd->subtype != AT_AddConstraint || con == NULL || !IsA(con, Constraint) ||
		(con->contype != CONSTR_UNIQUE && con->contype != CONSTR_PRIMARY) ||
		con->indexname != NULL || con->keys == NIL || SG_WITHOUT_OVERLAPS(con))
		return NULL;
	return con;
}

/* Is the column NOT NULL already (validated, on 18)? */
static bool
column_not_null(Relation rel, AttrNumber attnum)
{
	return TupleDescAttr(RelationGetDescr(rel), attnum - 1)->attnotnull &&
		sg_not_null_validated(RelationGetRelid(rel), attnum);
}

/*
 * The key columns of the statement's primary key that the plain statement
 * makes NOT NULL, by name (NIL if none, or if it adds no primary key).
 */
static List *
nullable_key_columns(AlterTableStmt *stmt, Relation rel)
{
	List	   *nullable = NIL;
	ListCell   *lc;

	foreach(lc, stmt->cmds)
	{
		Constraint *con = unique_constraint(lfirst_node(AlterTableCmd, lc));
		ListCell   *kc;

		if (con == NULL || con->contype != CONSTR_PRIMARY)
			continue;
		foreach(kc, con->keys)
		{
			AttrNumber	attnum = get_attnum(RelationGetRelid(rel), strVal(lfirst(kc)));

			if (attnum > 0 && !column_not_null(rel, attnum))
				nullable = list_append_unique(nullable, lfirst(kc));
		}
	}
	return nullable;
}

/*
 * Does the key have every column of the partition key of each partitioned
 * table of rel's tree, as PostgreSQL requires (else its error)?
 */
static bool
key_covers_partition_keys(Relation rel, List *keys)
{
	ListCell   *lc;

	foreach(lc, find_all_inheritors(RelationGetRelid(rel), NoLock, NULL))
	{
		Relation	part = relation_open(lfirst_oid(lc), NoLock);
		bool		covered = true;

		if (part->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		{
			PartitionKey key = RelationGetPartitionKey(part);
			int			i;

			for (i = 0; covered && i < key->partnatts; i++)
				covered = key->partattrs[i] != 0 &&
					list_member(keys, makeString(get_attname(RelationGetRelid(part),
															 key->partattrs[i], false)));
		}
		relation_close(part, NoLock);
		if (!covered)
			return false;
	}
	return true;
}

/*
 * A partitioned table's UNIQUE or PRIMARY KEY, alone in its statement,
 * that the job can take over on every leaf: the statement recurses, every
 * partition stores its rows here and belongs to the table's owner, a
 * primary key's columns are NOT NULL already, and the key has the
 * partition keys' columns (else PostgreSQL's error).
 */
static bool
partitioned_stageable(AlterTableStmt *stmt, Relation rel)
{
	Constraint *con;
	ListCell   *lc;

	if (list_length(stmt->cmds) != 1 || !stmt->relation->inh ||
		(con = unique_constraint(linitial_node(AlterTableCmd, stmt->cmds))) == NULL ||
		sg_other_owner(rel) != NULL || nullable_key_columns(stmt, rel) != NIL ||
		!key_covers_partition_keys(rel, con->keys))
		return false;
	foreach(lc, list_concat_copy(con->keys, con->including))
		if (get_attnum(RelationGetRelid(rel), strVal(lfirst(lc))) <= 0)
			return false;
	return sg_tree_stores_rows_here(rel);
}

/*
 * Can the statement be staged: is every subcommand a UNIQUE or PRIMARY KEY
 * constraint that the plain statement builds an index for, on a table that
 * is not partitioned?  A primary key's columns that may be NULL are made
 * NOT NULL as a staged SET NOT NULL makes them (stage_not_null.c), where
 * that can be: a table without children, whose rows no job fills.
 */
bool
sg_unique_stageable(AlterTableStmt *stmt, Relation rel)
{
	List	   *nullable;
	ListCell   *lc;

	if (stmt->objtype != OBJECT_TABLE || stmt->cmds == NIL)
		return false;
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return partitioned_stageable(stmt, rel);
	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return false;
	foreach(lc, stmt->cmds)
	{
		Constraint *con = unique_constraint(lfirst_node(AlterTableCmd, lc));
		ListCell   *kc;

		if (con == NULL)
			return false;
		/* a key column that does not exist: PostgreSQL's error */
		foreach(kc, con->contype == CONSTR_PRIMARY ? con->keys : NIL)
			if (get_attnum(RelationGetRelid(rel), strVal(lfirst(kc))) <= 0)
				return false;
	}
	nullable = nullable_key_columns(stmt, rel);
	if (nullable == NIL)
		return true;
	if (find_inheritance_children(RelationGetRelid(rel), NoLock) != NIL ||
		sg_rows_being_filled(RelationGetRelid(rel)))
		return false;
	foreach(lc, nullable)
		if (!sg_not_null_column_stageable(rel, strVal(lfirst(lc))))
			return false;
	return true;
}

/*
 * The name DefineIndex chooses for a constraint's index, and so for the
 * constraint: t_pkey, or t_<columns>_key from the key and INCLUDE columns
 * (each name made distinct, as ChooseIndexColumnNames does, joined while
 * shorter than NAMEDATALEN, as ChooseIndexNameAddition does), with
 * ChooseRelationName's suffix where that name is taken.
 */
static char *
constraint_index_name(Relation rel, bool primary, List *colnames)
{
	List	   *names = NIL;
	StringInfoData addition;
	ListCell   *lc;

	if (primary)
		return ChooseRelationName(RelationGetRelationName(rel), NULL, "pkey",
								  RelationGetNamespace(rel), true);
	foreach(lc, colnames)
	{
		const char *orig = strVal(lfirst(lc));
		char	   *name = pstrdup(orig);
		int			i;

		for (i = 1; list_member(names, makeString(name)); i++)
		{
			char		suffix[32];
			int			len;

			snprintf(suffix, sizeof(suffix), "%d", i);
			len = pg_mbcliplen(orig, strlen(orig), NAMEDATALEN - 1 - strlen(suffix));
			name = psprintf("%.*s%s", len, orig, suffix);
		}
		names = lappend(names, makeString(name));
	}
	initStringInfo(&addition);
	foreach(lc, names)
	{
		if (addition.len > 0)
			appendStringInfoChar(&addition, '_');
		appendStringInfoString(&addition, strVal(lfirst(lc)));
		if (addition.len >= NAMEDATALEN)
			break;
	}
	return ChooseRelationName(RelationGetRelationName(rel), addition.data, "key",
							  RelationGetNamespace(rel), true);
}

/* The constraint's key and INCLUDE columns, as names. */
static List *
constraint_columns(Constraint *con)
{
	return list_concat_copy(con->keys, con->including);
}

/* The constraint's name as the plain statement gives it. */
static char *
constraint_name(Relation rel, Constraint *con)
{
	if (con->conname)
		return pstrdup(con->conname);
	return constraint_index_name(rel, con->contype == CONSTR_PRIMARY,
								 constraint_columns(con));
}

/* Does the index have exactly these key columns, in any order? */
static bool
index_has_keys(Oid indexoid, List *attnums)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	Form_pg_index form;
	bool		same;
	int			i;

	if (!HeapTupleIsValid(tup))
		return false;
	form = (Form_pg_index) GETSTRUCT(tup);
	same = form->indnkeyatts == list_length(attnums);
	for (i = 0; same && i < form->indnkeyatts; i++)
		same = list_member_int(attnums, form->indkey.values[i]);
	ReleaseSysCache(tup);
	return same;
}

/* The index's first key column (the job's constraint lasts while it does). */
static AttrNumber
first_key_column(Oid indexoid)
{
	HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(indexoid));
	AttrNumber	attnum;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for index %u", indexoid);
	attnum = ((Form_pg_index) GETSTRUCT(tup))->indkey.values[0];
	ReleaseSysCache(tup);
	return attnum;
}

/*
 * The oldest unfinished job with a UNIQUE or PRIMARY KEY constraint on
 * relid that is not there yet (only a primary key if primary, only one on
 * these key columns if attnums is not NIL), and that constraint's name in
 * *conname; NULL if none.
 */
static SgJob *
pending_constraint(Oid relid, bool primary, List *attnums, char **conname)
{
	ListCell   *lc;

	foreach(lc, sg_jobs_active_on(relid))
	{
		SgJob	   *job = sg_job_load(*(int64 *) lfirst(lc), true);
		ListCell   *cc;

		if (job == NULL || job->relid != relid)
			continue;
		foreach(cc, job->constraints)
		{
			SgJobConstraint *con = lfirst(cc);
			SgJobObject *obj = sg_job_object(job, SG_OBJECT_INDEX, relid, con->conname);

			if (!sg_constraint_is_index(con->kind) || obj == NULL ||
				sg_object_name(obj) == NULL ||
				OidIsValid(get_index_constraint(obj->objid)) ||
				(primary && con->kind != SG_CONSTRAINT_PRIMARY_KEY) ||
				(attnums != NIL && !index_has_keys(obj->objid, attnums)))
				continue;
			*conname = con->conname;
			return job;
		}
	}
	return NULL;
}

/*
 * What PostgreSQL checks when it creates the constraint, which a plain
 * unique index does not: a second primary key (one on the table, one an
 * unfinished job is adding, one an earlier subcommand is), a constraint of
 * that name on the table.
 */
static void
check_as_constraint(SgJob *job, Oid relid, const char *name, bool primary)
{
	Relation	rel = relation_open(relid, NoLock);
	char	   *pending;
	bool		has_primary = false;
	ListCell   *lc;

	if (primary)
	{
		foreach(lc, RelationGetIndexList(rel))
		{
			HeapTuple	tup = SearchSysCache1(INDEXRELID, ObjectIdGetDatum(lfirst_oid(lc)));

			if (!HeapTupleIsValid(tup))
				continue;
			has_primary |= ((Form_pg_index) GETSTRUCT(tup))->indisprimary;
			ReleaseSysCache(tup);
		}
		foreach(lc, job->constraints)
			has_primary |= ((SgJobConstraint *) lfirst(lc))->kind == SG_CONSTRAINT_PRIMARY_KEY;
		if (has_primary || pending_constraint(relid, true, NIL, &pending) != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_TABLE_DEFINITION),
					 errmsg("multiple primary keys for table \"%s\" are not allowed",
							RelationGetRelationName(rel))));
	}
	if (ConstraintNameIsUsed(CONSTRAINT_RELATION, relid, name))
		ereport(ERROR,
				(errcode(ERRCODE_DUPLICATE_OBJECT),
				 errmsg("constraint \"%s\" for relation \"%s\" already exists",
						name, RelationGetRelationName(rel))));
	relation_close(rel, NoLock);
}

/*
 * A key or INCLUDE column that does not exist: PostgreSQL's error for a
 * constraint's index (DefineIndex words it otherwise for a plain index).
 */
static void
check_key_columns(Oid relid, IndexStmt *index)
{
	ListCell   *lc;

	foreach(lc, list_concat_copy(index->indexParams, index->indexIncludingParams))
	{
		IndexElem  *elem = lfirst_node(IndexElem, lc);

		if (elem->name && !SearchSysCacheExistsAttName(relid, elem->name))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" named in key does not exist", elem->name)));
	}
}

/* The name of the constraint an IndexStmt of ADD CONSTRAINT is for. */
static char *
name_of(Oid relid, IndexStmt *index, Constraint *con)
{
	Relation	rel;
	char	   *name;

	if (index->idxname)
		return pstrdup(index->idxname);
	rel = relation_open(relid, NoLock);
	name = constraint_index_name(rel, index->primary, constraint_columns(con));
	relation_close(rel, NoLock);
	return name;
}

/*
 * PostgreSQL's transformation of one ADD CONSTRAINT subcommand: its index
 * (AT_AddIndex; the others are SET NOT NULL of NOT NULL columns).
 */
static AlterTableCmd *
index_subcommand(Oid relid, AlterTableStmt *stmt, AlterTableCmd *cmd,
				 const char *queryString)
{
	AlterTableStmt *one = copyObject(stmt);
	List	   *before = NIL;
	List	   *after = NIL;
	ListCell   *lc;

	one->cmds = list_make1(copyObject(cmd));
	one = transformAlterTableStmt(relid, one, queryString, &before, &after);
	foreach(lc, one->cmds)
	{
		if (lfirst_node(AlterTableCmd, lc)->subtype == AT_AddIndex)
			return lfirst_node(AlterTableCmd, lc);
	}
	elog(ERROR, "ADD CONSTRAINT made no index");
	return NULL;				/* keep compiler quiet */
}

/*
 * One subcommand: PostgreSQL's transformation of it into the index to
 * build, that index reserved under the constraint's name, the job's
 * constraint.  Event triggers see the subcommand as the plain ALTER
 * lists it (its index).  The table is not open here: DefineIndex checks
 * that nothing of this session uses it.
 */
static void
reserve_constraint_index(SgJob *job, Oid relid, AlterTableStmt *stmt,
						 AlterTableCmd *cmd, const char *queryString)
{
	AlterTableCmd *sub = index_subcommand(relid, stmt, cmd, queryString);
	IndexStmt  *index = (IndexStmt *) sub->def;
	SgJobConstraint *jc = palloc0(sizeof(SgJobConstraint));
	ObjectAddress address;
	Oid			indexoid;

	check_key_columns(relid, index);
	jc->kind = index->primary ? SG_CONSTRAINT_PRIMARY_KEY : SG_CONSTRAINT_UNIQUE;
	jc->deferrable = index->deferrable;
	jc->initdeferred = index->initdeferred;
	jc->conname = name_of(relid, index, (Constraint *) cmd->def);
	/* a unique index until USING INDEX makes it the constraint's */
	index->idxname = jc->conname;
	index->isconstraint = index->primary = false;
	index->deferrable = index->initdeferred = false;
	indexoid = sg_reserve_index_stmt(relid, index, queryString, NULL);
	check_as_constraint(job, relid, jc->conname, jc->kind == SG_CONSTRAINT_PRIMARY_KEY);
	ObjectAddressSet(address, RelationRelationId, indexoid);
	EventTriggerCollectAlterTableSubcmd((Node *) sub, address);

	jc->attnum = first_key_column(indexoid);
	jc->colname = get_attname(relid, jc->attnum, false);
	job->constraints = lappend(job->constraints, jc);
	sg_index_job_add(job, indexoid);
}

/*
 * The subcommand on a partitioned table: PostgreSQL's transformation of it
 * into the index to build, that index reserved on every leaf under the
 * name PostgreSQL gives the leaf's constraint and its index (t_1_a_key),
 * each leaf's constraint and the parent's (last) the job's.  The job
 * builds the leaves' indexes, adds each leaf's constraint USING INDEX,
 * then the parent's, which attaches them without a build (finalize.c).
 * Event triggers see the subcommand with the first leaf's index.
 */
static void
reserve_partitioned_indexes(SgJob *job, Oid relid, AlterTableStmt *stmt,
							AlterTableCmd *cmd, const char *queryString)
{
	Constraint *con = (Constraint *) cmd->def;
	SgJobConstraint *parent = palloc0(sizeof(SgJobConstraint));
	ObjectAddress address = InvalidObjectAddress;
	AlterTableCmd *sub = index_subcommand(relid, stmt, cmd, queryString);
	IndexStmt  *index = (IndexStmt *) sub->def;
	List	   *leaves = NIL;
	ListCell   *lc;

	check_key_columns(relid, index);
	parent->kind = index->primary ? SG_CONSTRAINT_PRIMARY_KEY : SG_CONSTRAINT_UNIQUE;
	parent->deferrable = index->deferrable;
	parent->initdeferred = index->initdeferred;
	parent->conname = name_of(relid, index, con);
	parent->colname = strVal(linitial(con->keys));
	parent->attnum = get_attnum(relid, parent->colname);
	check_as_constraint(job, relid, parent->conname, index->primary);

	foreach(lc, find_all_inheritors(relid, NoLock, NULL))
	{
		Oid			leaf = lfirst_oid(lc);
		Relation	rel;
		IndexStmt  *leaf_index;
		SgJobConstraint *jc;
		Oid			indexoid;

		if (get_rel_relkind(leaf) != RELKIND_RELATION)
			continue;
		jc = palloc0(sizeof(SgJobConstraint));
		*jc = *parent;
		rel = relation_open(leaf, NoLock);
		jc->conname = constraint_index_name(rel, index->primary, constraint_columns(con));
		relation_close(rel, NoLock);
		leaf_index = copyObject(index);
		leaf_index->relation = makeRangeVar(get_namespace_name(get_rel_namespace(leaf)),
											get_rel_name(leaf), -1);
		leaf_index->idxname = jc->conname;
		leaf_index->isconstraint = leaf_index->primary = false;
		leaf_index->deferrable = leaf_index->initdeferred = false;
		indexoid = sg_reserve_index_stmt(leaf, leaf_index, queryString, NULL);
		check_as_constraint(job, leaf, jc->conname, index->primary);
		if (!OidIsValid(address.objectId))
			ObjectAddressSet(address, RelationRelationId, indexoid);
		/* (the job's, after the checks: they count its primary keys) */
		leaves = lappend(leaves, jc);
		sg_index_job_add(job, indexoid);
	}
	EventTriggerCollectAlterTableSubcmd((Node *) sub, address);
	job->constraints = list_concat(job->constraints, leaves);
	job->constraints = lappend(job->constraints, parent);
}

/* What sg_stage_unique hands its body. */
typedef struct StagedUnique
{
	PlannedStmt *pstmt;
	const char *queryString;
} StagedUnique;

static void
stage_unique_body(void *arg)
{
	StagedUnique *su = arg;
	AlterTableStmt *stmt = castNode(AlterTableStmt, su->pstmt->utilityStmt);
	Oid			relid;
	Relation	rel;
	SgJob	   *job;
	List	   *nullable;
	ListCell   *lc;

	relid = AlterTableLookupRelation(stmt, AlterTableGetLockLevel(stmt->cmds));
	job = sg_index_job(relid, su->pstmt, su->queryString, GetCurrentTimestamp());
	rel = relation_open(relid, NoLock);
	CheckTableNotInUse(rel, "ALTER TABLE");
	nullable = nullable_key_columns(stmt, rel);
	relation_close(rel, NoLock);
	EventTriggerAlterTableStart((Node *) stmt);
	EventTriggerAlterTableRelid(relid);
	/* first: the job sets them NOT NULL before it adds the key */
	if (nullable != NIL)
		sg_stage_not_null_columns(job, stmt->relation, nullable, su->pstmt, su->queryString);
	foreach(lc, stmt->cmds)
	{
		if (get_rel_relkind(relid) == RELKIND_PARTITIONED_TABLE)
			reserve_partitioned_indexes(job, relid, stmt, lfirst_node(AlterTableCmd, lc),
										su->queryString);
		else
			reserve_constraint_index(job, relid, stmt, lfirst_node(AlterTableCmd, lc),
									 su->queryString);
	}
	EventTriggerAlterTableEnd();
	sg_stage_job(job, psprintf("ALTER TABLE \"%s\"", get_rel_name(relid)),
				 nullable != NIL
				 ? "The key's columns reject NULL from now on; the constraint's index is built concurrently in the background "
				 "once this transaction commits, the rows are checked for NULL, then the constraint is added USING INDEX; "
				 "until then the constraint does not exist."
				 : "The constraint's index is built concurrently in the background once this transaction commits, "
				 "then the constraint is added USING INDEX; until then the constraint does not exist.");
}

/*
 * Stage the statement (sg_unique_stageable said it can be); the table is
 * locked as the plain statement locks it (lockwait.c), and looked up
 * again here as AlterTable looks it up (its owner, its kind).  Users'
 * event triggers see one ALTER TABLE, as for the plain statement.
 */
void
sg_stage_unique(PlannedStmt *pstmt, const char *queryString,
				ProcessUtilityContext context)
{
	StagedUnique su = {pstmt, queryString};

	sg_as_ddl_command(pstmt->utilityStmt, context, stage_unique_body, &su);
}

/* explain(): the steps of one such subcommand. */
List *
sg_describe_unique_steps(Relation rel, AlterTableCmd *cmd)
{
	Constraint *con = unique_constraint(cmd);
	char	   *table = sg_qualified_relname(RelationGetRelid(rel));
	const char *name;
	StringInfoData keys;
	List	   *steps = NIL;
	ListCell   *lc;

	if (con == NULL)
		return NIL;
	name = quote_identifier(constraint_name(rel, con));
	if (rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		return list_make3("on every leaf: CREATE UNIQUE INDEX, its catalog entry only (empty, invalid, not ready for inserts), under the name of the leaf's constraint",
						  "background, once the transaction commits: build each as CREATE INDEX CONCURRENTLY does, then mark it valid",
						  psprintf("then, in one short transaction: each leaf's constraint USING INDEX, then ALTER TABLE %s ADD CONSTRAINT %s %s, which attaches them",
								   table, name, con->contype == CONSTR_PRIMARY ? "PRIMARY KEY (...)" : "UNIQUE (...)"));
	initStringInfo(&keys);
	foreach(lc, con->keys)
		appendStringInfo(&keys, "%s%s", keys.len ? ", " : "", quote_identifier(strVal(lfirst(lc))));
	/* a primary key's columns that may be NULL: a staged SET NOT NULL first */
	if (con->contype == CONSTR_PRIMARY)
	{
		foreach(lc, con->keys)
		{
			AttrNumber	attnum = get_attnum(RelationGetRelid(rel), strVal(lfirst(lc)));

			if (attnum > 0 && !column_not_null(rel, attnum))
				steps = list_concat(steps, sg_describe_not_null_steps(rel, strVal(lfirst(lc))));
		}
	}
	return list_concat(steps, list_make3(psprintf("CREATE UNIQUE INDEX %s ON %s (%s)%s, its catalog entry only: empty, invalid, not ready for inserts",
							   name, table, keys.data, con->including ? " INCLUDE (...)" : ""),
					  "background, once the transaction commits: build it as CREATE INDEX CONCURRENTLY does, then mark it valid",
					  psprintf("then, in one short transaction: ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s",
							   table, name,
							   con->contype == CONSTR_PRIMARY ? "PRIMARY KEY" : "UNIQUE", name)));
}

/* The foreign keys a statement adds, as their Constraint nodes. */
static List *
foreign_keys_of(Node *parsetree)
{
	List	   *elements = NIL;
	List	   *fks = NIL;
	ListCell   *lc;

	if (IsA(parsetree, AlterTableStmt))
	{
		foreach(lc, ((AlterTableStmt *) parsetree)->cmds)
			if (lfirst_node(AlterTableCmd, lc)->def)
				elements = lappend(elements, lfirst_node(AlterTableCmd, lc)->def);
	}
	else if (IsA(parsetree, CreateStmt))
		elements = list_concat_copy(((CreateStmt *) parsetree)->tableElts,
									((CreateStmt *) parsetree)->constraints);
	foreach(lc, elements)
	{
		Node	   *elem = lfirst(lc);

		if (IsA(elem, ColumnDef))
		{
			ListCell   *cc;

			foreach(cc, ((ColumnDef *) elem)->constraints)
				if (lfirst_node(Constraint, cc)->contype == CONSTR_FOREIGN)
					fks = lappend(fks, lfirst(cc));
		}
		else if (IsA(elem, Constraint) && ((Constraint *) elem)->contype == CONSTR_FOREIGN)
			fks = lappend(fks, elem);
	}
	return fks;
}

/*
 * A statement that adds a foreign key referencing columns whose UNIQUE or
 * PRIMARY KEY constraint an unfinished job is adding: a warning, before
 * PostgreSQL finds no such constraint.
 */
void
sg_warn_unfinished_unique(Node *parsetree)
{
	ListCell   *lc;

	foreach(lc, foreign_keys_of(parsetree))
	{
		Constraint *fk = lfirst(lc);
		Oid			pkrelid = RangeVarGetRelid(fk->pktable, NoLock, true);
		List	   *attnums = NIL;
		ListCell   *ac;
		SgJob	   *job;
		char	   *conname;

		if (!OidIsValid(pkrelid))
			continue;
		foreach(ac, fk->pk_attrs)
			attnums = lappend_int(attnums, get_attnum(pkrelid, strVal(lfirst(ac))));
		job = pending_constraint(pkrelid, fk->pk_attrs == NIL, attnums, &conname);
		if (job == NULL)
			continue;
		ereport(WARNING,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("constraint \"%s\" of table \"%s\" that the foreign key references is not there yet",
						conname, get_rel_name(pkrelid)),
				 errdetail("schema_guard job %lld adds it once it has built its index, after the transaction that staged it commits.",
						   (long long) job->job_id),
				 errhint("Commit, wait for the job with CALL schema_guard.wait(%lld), then add the foreign key; "
						 "or run the ADD CONSTRAINT with schema_guard.mode = off where the constraint is needed at once.",
						 (long long) job->job_id)));
	}
}
