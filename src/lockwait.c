/*-------------------------------------------------------------------------
 *
 * lockwait.c
 *	  Take the ALTER's table lock without making the application queue.
 *
 * A session waiting for ACCESS EXCLUSIVE makes every later query on the
 * table wait behind it, even while the lock holder is an idle transaction.
 * So the lock is requested with schema_guard.lock_timeout; when the wait
 * times out it is given up (the queue behind it drains), and retried after
 * a backoff, up to schema_guard.lock_retries times.  Then the statement
 * fails with an error naming the processes that hold the table.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
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
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "schema_guard.h"
#include "lockwait.h"
#include "settings.h"
#include "util.h"

typedef struct LockAttempt
{
	AlterTableStmt *stmt;
	LOCKMODE	lockmode;
	Oid			relid;
} LockAttempt;

/* The lookup ALTER TABLE does, with schema_guard.lock_timeout as lock_timeout. */
static void
lock_with_timeout(void *arg)
{
	LockAttempt *attempt = arg;
	char		timeout[32];
	int			nestlevel = NewGUCNestLevel();

	snprintf(timeout, sizeof(timeout), "%dms", sg_lock_timeout_ms);
	(void) set_config_option("lock_timeout", timeout, PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	attempt->relid = AlterTableLookupRelation(attempt->stmt, attempt->lockmode);
	/* children too, in the order ALTER TABLE locks them */
	if (OidIsValid(attempt->relid) && attempt->stmt->relation->inh)
		(void) find_all_inheritors(attempt->relid, attempt->lockmode, NULL);
	AtEOXact_GUC(true, nestlevel);
}

/*
 * One attempt.  The locks it takes become the user's transaction's; a
 * timeout returns false, any other error is the ALTER's own and is raised.
 */
static bool
try_lock(AlterTableStmt *stmt, LOCKMODE lockmode, Oid *relid)
{
	LockAttempt attempt = {stmt, lockmode, InvalidOid};
	ErrorData  *edata = sg_in_subxact(lock_with_timeout, &attempt, true);

	if (edata == NULL)
	{
		*relid = attempt.relid;
		return true;
	}
	if (edata->sqlerrcode != ERRCODE_LOCK_NOT_AVAILABLE)
		ReThrowError(edata);
	FreeErrorData(edata);
	return false;
}

/* Who holds the table: "pid 123 (idle in transaction), pid 456 (active)". */
static char *
describe_holders(AlterTableStmt *stmt)
{
	Oid			relid = RangeVarGetRelid(stmt->relation, NoLock, true);
	Oid			types[1] = {OIDARRAYOID};
	Datum		values[1];
	char	   *holders = NULL;
	List	   *rels;
	Datum	   *oids;
	ListCell   *lc;
	int			n = 0;
	int			nestlevel;

	if (!OidIsValid(relid))
		return NULL;
	sg_spi_connect();
	/* PostgreSQL's operators, whatever the session's search_path finds first */
	nestlevel = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	/* the table, and the children the ALTER locks too */
	rels = stmt->relation->inh ? find_all_inheritors(relid, NoLock, NULL)
		: list_make1_oid(relid);
	oids = palloc(sizeof(Datum) * list_length(rels));
	foreach(lc, rels)
		oids[n++] = ObjectIdGetDatum(lfirst_oid(lc));
	values[0] = PointerGetDatum(construct_array(oids, n, OIDOID, sizeof(Oid), true, TYPALIGN_INT));
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

Oid
sg_lock_table_for_alter(AlterTableStmt *stmt)
{
	LOCKMODE	lockmode = AlterTableGetLockLevel(stmt->cmds);
	Oid			relid = InvalidOid;
	int			attempt;
	char	   *holders;

	for (attempt = 0;; attempt++)
	{
		long		backoff;

		if (try_lock(stmt, lockmode, &relid))
		{
			if (attempt > 0)
				pgstat_report_activity(STATE_RUNNING, debug_query_string);
			return relid;
		}
		if (attempt >= sg_lock_retries)
			break;

		/* back off, with jitter, so the sessions queued behind get through */
		backoff = Min((long) sg_lock_timeout_ms << Min(attempt, 4), 2000L);
		backoff += (long) (pg_prng_double(&pg_global_prng_state) * backoff / 2);
		pgstat_report_activity(STATE_RUNNING, "schema_guard: waiting to retry the table lock");
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 backoff, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	holders = describe_holders(stmt);

	ereport(ERROR,
			(errcode(ERRCODE_LOCK_NOT_AVAILABLE),
			 errmsg("could not lock table \"%s\" for ALTER TABLE", stmt->relation->relname),
			 errdetail("Each of %d attempts gave up after waiting %d ms, so that queries on the table would not queue behind it. Held by: %s.",
					   sg_lock_retries + 1, sg_lock_timeout_ms,
					   holders ? holders : "no process found"),
			 errhint("Retry when the long-running transactions end, or raise schema_guard.lock_retries or schema_guard.lock_timeout.")));
	return InvalidOid;			/* keep compiler quiet */
}
