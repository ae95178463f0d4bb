/*-------------------------------------------------------------------------
 *
 * stage_index.c
 *	  CREATE INDEX inside a transaction block (a migration's), staged: the
 *	  index's catalog entry is made in the user's transaction, empty,
 *	  invalid and not ready for inserts, and a job builds it concurrently
 *	  once the transaction commits.
 *
 * The index takes its name, definition and OID where PostgreSQL's CREATE
 * INDEX would make them, so the later statements of the same migration
 * find it (COMMENT ON INDEX, ALTER INDEX ... RENAME), and a rollback
 * leaves nothing.  The statement holds the table's SHARE lock from then to
 * the end of its transaction, as the plain statement would, but not for a
 * build: the worker builds the index the way CREATE INDEX CONCURRENTLY
 * does (index_build.c), and the job is done when the index is valid.  A
 * build that fails (a duplicate key) fails the job with PostgreSQL's error
 * and SQLSTATE; the index stays invalid for retry(), and cancel() drops it.
 * The job is one with no rows to fill: its only phase is the index
 * (job_state.c orders the phases by what a job has).
 *
 * On a partitioned table the index is made as PostgreSQL makes it, on the
 * parent and on every partition (attaching a partition's matching index
 * instead, where it has one), all attached at once and all invalid; the
 * job builds each leaf's in turn, then marks the partitioned ones valid,
 * bottom up, as attaching the last partition's index would.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/relation.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/pg_class.h"
#include "catalog/namespace.h"
#include "commands/defrem.h"
#include "commands/event_trigger.h"
#include "commands/tablecmds.h"
#include "parser/parse_utilcmd.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "bind.h"
#include "fill.h"
#include "index_build.h"
#include "job.h"
#include "job_objects.h"
#include "lock_targets.h"
#include "lockwait.h"
#include "settings.h"
#include "stage.h"
#include "stage_index.h"
#include "util.h"

/*
 * Run body(arg), what stands for a DDL statement, as ProcessUtilitySlow
 * runs the statement for users' event triggers: ddl_command_start first,
 * then sql_drop and ddl_command_end, unless it is a subcommand of another
 * statement (whose events they are).
 */
void
sg_as_ddl_command(Node *parsetree, ProcessUtilityContext context,
				  void (*body) (void *arg), void *arg)
{
	bool		complete = context != PROCESS_UTILITY_SUBCOMMAND;
	bool		cleanup = complete && EventTriggerBeginCompleteQuery();

	PG_TRY();
	{
		if (complete)
			EventTriggerDDLCommandStart(parsetree);
		body(arg);
		if (complete)
		{
			EventTriggerSQLDrop(parsetree);
			EventTriggerDDLCommandEnd(parsetree);
		}
	}
	PG_FINALLY();
	{
		if (cleanup)
			EventTriggerEndCompleteQuery();
	}
	PG_END_TRY();
}

/* What define_unbuilt_index hands its body, and gets back. */
typedef struct UnbuiltIndex
{
	Oid			relid;
	IndexStmt  *stmt;
	const char *queryString;
	Oid			indexoid;
	List	   *made;
} UnbuiltIndex;

static void
define_unbuilt_index_body(void *arg)
{
	UnbuiltIndex *ui = arg;
	ObjectAddress address = InvalidObjectAddress;
	Node	   *parsetree = (Node *) ui->stmt;
	Relation	rel;
	IndexStmt  *stmt;

	rel = table_open(ui->relid, NoLock);
	CheckTableNotInUse(rel, "CREATE INDEX");
	table_close(rel, NoLock);
	stmt = transformIndexStmt(ui->relid, ui->stmt, ui->queryString);
	EventTriggerAlterTableStart(parsetree);
	ui->indexoid = sg_reserve_index_stmt(ui->relid, stmt, ui->queryString, &ui->made);
	if (OidIsValid(ui->indexoid))
		ObjectAddressSet(address, RelationRelationId, ui->indexoid);
	EventTriggerCollectSimpleCommand(address, InvalidObjectAddress, parsetree);
	EventTriggerAlterTableEnd();
}

/*
 * The index's catalog entry, as ProcessUtilitySlow makes it for CREATE
 * INDEX (event triggers included), without the build; on a partitioned
 * table, with its partitions' indexes.  Returns the indexes made, this
 * one first: none when IF NOT EXISTS found the name taken.
 */
static List *
define_unbuilt_index(Oid relid, IndexStmt *stmt, const char *queryString,
					 ProcessUtilityContext context)
{
	UnbuiltIndex ui = {relid, stmt, queryString, InvalidOid, NIL};

	sg_as_ddl_command((Node *) stmt, context, define_unbuilt_index_body, &ui);
	return OidIsValid(ui.indexoid) ? ui.made : NIL;
}

/*
 * The job of a statement that only makes indexes (a CREATE INDEX, an ADD
 * CONSTRAINT UNIQUE or PRIMARY KEY): no rows to fill; its indexes are
 * added with sg_index_job_add.
 */
SgJob *
sg_index_job(Oid relid, PlannedStmt *pstmt, const char *queryString,
			 TimestampTz locked_at)
{
	SgJob	   *job = palloc0(sizeof(SgJob));
	int			loc = Max(pstmt->stmt_location, 0);

	job->job_id = sg_job_next_id();
	job->relid = relid;
	/* index expressions run as the table's owner, as PostgreSQL runs them */
	job->role = sg_rel_owner(relid);
	job->statement = pstmt->stmt_len > 0
		? pnstrdup(queryString + loc, pstmt->stmt_len) : pstrdup(queryString + loc);
	job->search_path = sg_pinned_search_path();
	job->settings = sg_capture_settings();
	job->bound_to = sg_cluster_binding();
	job->trigger_name = psprintf("~schema_guard_fill_%lld", (long long) job->job_id);
	job->locked_at = locked_at;
	job->batch_blocks = Max(sg_batch_min_blocks, Min(16, sg_batch_max_blocks));
	return job;
}

/*
 * An index the job builds, known by OID and by its definition: on the
 * job's table, or on one of its partitions.
 */
void
sg_index_job_add(SgJob *job, Oid indexoid)
{
	SgJobObject *obj = sg_new_object(SG_OBJECT_INDEX, IndexGetRelation(indexoid, false),
									 get_rel_name(indexoid), indexoid);

	obj->definition = pg_get_indexdef_string(indexoid);
	job->objects = lappend(job->objects, obj);
}

/*
 * The catalog entries of a CREATE INDEX (not CONCURRENTLY), as the
 * statement makes them but without the build, under the statement's lock
 * (bounded, as every lock, lockwait.c): the indexes made, the statement's
 * first, or none (IF NOT EXISTS found the name taken).  *relid says on
 * which table, *locked_at since when it is locked.
 */
List *
sg_reserve_create_index(PlannedStmt *pstmt, const char *queryString,
						ProcessUtilityContext context, Oid *relid,
						TimestampTz *locked_at)
{
	IndexStmt  *stmt = copyObject(castNode(IndexStmt, pstmt->utilityStmt));

	sg_lock_statement(sg_lock_targets((Node *) stmt), "CREATE INDEX");
	*relid = RangeVarGetRelidExtended(stmt->relation, ShareLock, 0,
									  RangeVarCallbackOwnsRelation, NULL);
	*locked_at = GetCurrentTimestamp();
	return define_unbuilt_index(*relid, stmt, queryString, context);
}

/*
 * Stage a CREATE INDEX (not CONCURRENTLY) inside a transaction block: the
 * index reserved (with its partitions'), the job recorded.
 */
void
sg_stage_create_index(PlannedStmt *pstmt, const char *queryString,
					  ProcessUtilityContext context)
{
	Oid			relid;
	List	   *made;
	Oid			indexoid;
	TimestampTz locked_at;
	SgJob	   *job;
	ListCell   *lc;

	made = sg_reserve_create_index(pstmt, queryString, context, &relid, &locked_at);
	if (made == NIL)
		return;					/* IF NOT EXISTS: PostgreSQL said so */
	indexoid = linitial_oid(made);

	job = sg_index_job(relid, pstmt, queryString, locked_at);
	foreach(lc, made)
		sg_index_job_add(job, lfirst_oid(lc));
	sg_stage_job(job, psprintf("CREATE INDEX \"%s\" on table \"%s\"",
							   get_rel_name(indexoid), get_rel_name(relid)),
				 "The index is built concurrently in the background once this transaction commits; until then queries do not use it.");
}
