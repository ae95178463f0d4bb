/*-------------------------------------------------------------------------
 *
 * lockwait.c
 *	  Take a statement's table locks without making the application queue.
 *
 * A session waiting for a strong lock makes every later query on the
 * table that conflicts with it wait behind it, even while the lock holder
 * is an idle transaction.  So the locks a statement takes (the ALTER's,
 * a CREATE INDEX's, a DROP's, a RENAME's, ...) are requested first, before
 * the statement runs, with schema_guard.lock_timeout; when a wait times
 * out every lock of the attempt is given up (the queue behind it drains),
 * and the attempt is retried after a backoff, up to
 * schema_guard.lock_retries times.  Then the statement fails with an error
 * naming the processes that hold the relations.  The statement itself
 * finds its locks held and runs as it would have, holding them until its
 * transaction ends.
 *
 * Only locks the statement would take are taken, in the order it takes
 * them, and only on relations the current role owns (or has the privilege
 * the statement needs on): whatever else the statement locks, and a
 * statement by a role without the right, is left to PostgreSQL as it is.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/catalog.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "commands/tablecmds.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "schema_guard.h"
#include "lockwait.h"
#include "settings.h"
#include "util.h"

/* A target whose relation was found, and may be locked first. */
typedef struct CheckedTarget
{
	const SgLockTarget *target;
	Oid			relid;
} CheckedTarget;

typedef struct LockAttempt
{
	AlterTableStmt *stmt;		/* locked through ALTER TABLE's own lookup */
	List	   *targets;		/* CheckedTargets, locked after it, in order */
	Oid			relid;			/* what stmt resolved to */
	bool		changed;		/* a name resolved to another relation meanwhile */
} LockAttempt;

/* Lock one relation the statement names, as the statement would. */
static void
lock_target(LockAttempt *attempt, CheckedTarget *ct)
{
	const SgLockTarget *t = ct->target;

	if (t->heap_first)
	{
		Oid			heap = IndexGetRelation(ct->relid, true);

		if (OidIsValid(heap))
			LockRelationOid(heap, t->lockmode);
	}
	LockRelationOid(ct->relid, t->lockmode);
	if (t->children && has_subclass(ct->relid))
		(void) find_all_inheritors(ct->relid, t->lockmode, NULL);
	/* the name may have come to mean another relation while we waited */
	if (RangeVarGetRelid(t->relation, NoLock, true) != ct->relid)
	{
		attempt->changed = true;
		elog(ERROR, "relation \"%s\" changed while it was being locked",
			 t->relation->relname);
	}
}

/* Every lock of one attempt, with schema_guard.lock_timeout as lock_timeout. */
static void
lock_with_timeout(void *arg)
{
	LockAttempt *attempt = arg;
	char		timeout[32];
	int			nestlevel = NewGUCNestLevel();
	ListCell   *lc;

	snprintf(timeout, sizeof(timeout), "%dms", sg_lock_timeout_ms);
	(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (attempt->stmt)
	{
		LOCKMODE	lockmode = AlterTableGetLockLevel(attempt->stmt->cmds);

		attempt->relid = AlterTableLookupRelation(attempt->stmt, lockmode);
		/* children too, in the order ALTER TABLE locks them */
		if (OidIsValid(attempt->relid) && attempt->stmt->relation->inh)
			(void) find_all_inheritors(attempt->relid, lockmode, NULL);
	}
	foreach(lc, attempt->targets)
		lock_target(attempt, lfirst(lc));
	AtEOXact_GUC(true, nestlevel);
}

/*
 * One attempt.  The locks it takes become the user's transaction's; a
 * timeout returns false.  A relation that changed meanwhile leaves the
 * statement to PostgreSQL (*skip); any other error is the statement's own
 * and is raised.
 */
static bool
try_lock(LockAttempt *attempt, bool *skip)
{
	ErrorData  *edata;

	attempt->changed = false;
	edata = sg_in_subxact(lock_with_timeout, attempt, true);
	if (edata == NULL)
		return true;
	if (attempt->changed)
	{
		FreeErrorData(edata);
		*skip = true;
		return true;
	}
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

/* The relations whose holders the error names. */
static List *
held_relations(LockAttempt *attempt)
{
	List	   *rels = NIL;
	ListCell   *lc;

	if (attempt->stmt)
	{
		Oid			relid = RangeVarGetRelid(attempt->stmt->relation, NoLock, true);

		if (OidIsValid(relid))
			rels = attempt->stmt->relation->inh
				? find_all_inheritors(relid, NoLock, NULL) : list_make1_oid(relid);
	}
	foreach(lc, attempt->targets)
	{
		CheckedTarget *ct = lfirst(lc);

		if (ct->target->heap_first && OidIsValid(IndexGetRelation(ct->relid, true)))
			rels = lappend_oid(rels, IndexGetRelation(ct->relid, true));
		rels = list_concat(rels, ct->target->children
						   ? find_all_inheritors(ct->relid, NoLock, NULL)
						   : list_make1_oid(ct->relid));
	}
	return rels;
}

/* Who holds the relations: "process 123 (idle in transaction), process 456 (active)". */
static char *
describe_holders(List *rels)
{
	Oid			types[1] = {OIDARRAYOID};
	Datum		values[1];
	char	   *holders = NULL;
	Datum	   *oids;
	ListCell   *lc;
	int			n = 0;
	int			nestlevel;

	if (rels == NIL)
		return NULL;
	oids = palloc(sizeof(Datum) * list_length(rels));
	foreach(lc, rels)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
	sg_spi_connect();
	/* PostgreSQL's operators, whatever the session's search_path finds first */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_execute_with_args("SELECT pg_catalog.string_agg(DISTINCT 'process ' || l.pid || "
							  "COALESCE(' (' || a.state || ')', ''), ', ') "
							  "FROM pg_catalog.pg_locks l "
							  "LEFT JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
							  "WHERE l.locktype = 'relation' AND l.relation = ANY ($1) AND l.granted "
							  "AND l.database = (SELECT oid FROM pg_catalog.pg_database "
							  "                   WHERE datname = pg_catalog.current_database()) "
							  "AND l.pid <> pg_catalog.pg_backend_pid()",
							  1, types, values, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed == 1)
	{
		char	   *s = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1);

		if (s)
			holders = MemoryContextStrdup(TopTransactionContext, s);
	}
	AtEOXact_GUC(false, nestlevel);
	sg_spi_finish();
	return holders;
}

/* "table", "index", ...: what the error calls the relation. */
static const char *
relation_word(const RangeVar *relation)
{
	Oid			relid = RangeVarGetRelid(relation, NoLock, true);

	switch (OidIsValid(relid) ? get_rel_relkind(relid) : RELKIND_RELATION)
	{
		case RELKIND_INDEX:
		case RELKIND_PARTITIONED_INDEX:
			return "index";
		case RELKIND_RELATION:
		case RELKIND_PARTITIONED_TABLE:
			return "table";
		default:
			return "relation";
	}
}

/*
 * Take the locks of the attempt, retrying with backoff; raise the error
 * that names the holders when the retries are used up.  Returns false if
 * the statement is left to PostgreSQL.
 */
static bool
lock_with_retries(LockAttempt *attempt, const RangeVar *relation, const char *command)
{
	int			n;
	char	   *holders;
	bool		skip = false;

	for (n = 0;; n++)
	{
		long		backoff;

		if (try_lock(attempt, &skip))
		{
			if (n > 0)
				pgstat_report_activity(STATE_RUNNING, debug_query_string);
			return !skip;
		}
		if (n >= sg_lock_retries)
			break;

		/* back off, with jitter, so the sessions queued behind get through */
		backoff = Min((long) sg_lock_timeout_ms << Min(n, 4), 2000L);
		backoff += (long) (pg_prng_double(&pg_global_prng_state) * backoff / 2);
		pgstat_report_activity(STATE_RUNNING, "schema_guard: waiting to retry the table lock");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 backoff, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	holders = describe_holders(held_relations(attempt));

	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("could not lock %s \"%s\" for %s",
					relation_word(relation), relation->relname, command),
			 errdetail("Each of %d attempts gave up after waiting %d ms, so that queries on the table would not queue behind it. Held by: %s.",
					   sg_lock_retries + 1, sg_lock_timeout_ms,
					   holders ? holders : "no process found"),
			 errhint("Retry when the long-running transactions end, or raise schema_guard.lock_retries or schema_guard.lock_timeout.")));
	return false;				/* keep compiler quiet */
}

/*
 * The targets that may be locked before the statement runs: those found,
 * of a kind the statement accepts, that the current role may lock.  NIL
 * with *skip when one of them may not be: then PostgreSQL runs the
 * statement as it is, and raises its own error.
 */
static List *
check_targets(List *targets, bool *skip)
{
	List	   *checked = NIL;
	ListCell   *lc;

	*skip = false;
	foreach(lc, targets)
	{
		SgLockTarget *t = lfirst(lc);
		Oid			relid = RangeVarGetRelid(t->relation, NoLock, true);
		CheckedTarget *ct;
		char		relkind;

		if (!OidIsValid(relid) || IsCatalogRelationOid(relid))
			continue;			/* IF EXISTS, or PostgreSQL's own error */
		relkind = get_rel_relkind(relid);
		if ((t->relkinds && strchr(t->relkinds, relkind) == NULL) ||
			!(sg_rel_ownercheck(relid, GetUserId()) ||
			  (t->privilege != 0 &&
			   pg_class_aclcheck(relid, GetUserId(), t->privilege) == ACLCHECK_OK)))
		{
			*skip = true;
			return NIL;
		}
		ct = palloc(sizeof(CheckedTarget));
		ct->target = t;
		ct->relid = relid;
		checked = lappend(checked, ct);
	}
	return checked;
}

/*
 * The ALTER TABLE's lock, through ALTER TABLE's own lookup (so that the
 * decision is made on the state the ALTER will see, and its errors are
 * PostgreSQL's), then the other relations it locks.
 */
Oid
sg_lock_table_for_alter(AlterTableStmt *stmt, List *others)
{
	LockAttempt attempt = {stmt, NIL, InvalidOid, false};
	bool		skip;

	attempt.targets = check_targets(others, &skip);
	(void) lock_with_retries(&attempt, stmt->relation, "ALTER TABLE");
	return attempt.relid;
}

/* The locks of any other statement, named by command ("CREATE INDEX"). */
void
sg_lock_statement(List *targets, const char *command)
{
	LockAttempt attempt = {NULL, NIL, InvalidOid, false};
	bool		skip;

	attempt.targets = check_targets(targets, &skip);
	if (skip || attempt.targets == NIL)
		return;
	(void) lock_with_retries(&attempt,
							 ((CheckedTarget *) linitial(attempt.targets))->target->relation,
							 command);
}
