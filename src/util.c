/*-------------------------------------------------------------------------
 *
 * util.c
 *	  The few mechanisms every part of schema_guard uses, written once:
 *	  running a statement of its own, an internal subtransaction, an SPI
 *	  session, acting as another role, and naming things in messages.
 *
 * Nothing here knows about jobs.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_class.h"
#include "commands/event_trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "tcop/dest.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "util.h"

bool		sg_running_own_statement = false;

/*
 * Run a statement of schema_guard's own, as the current user, without the
 * hook intercepting it.
 */
void
sg_run_own_sql(const char *sql)
{
	bool		saved = sg_running_own_statement;
	int			rc;

	sg_running_own_statement = true;
	PG_TRY();
	{
		sg_spi_connect();
		rc = SPI_execute(sql, false, 0);
		if (rc < 0)
			elog(ERROR, "schema_guard could not run (%s): %s",
				 SPI_result_code_string(rc), sql);
		sg_spi_finish();
	}
	PG_FINALLY();
	{
		sg_running_own_statement = saved;
	}
	PG_END_TRY();
	CommandCounterIncrement();
}

/*
 * Run utility statements of schema_guard's own as parts of the statement
 * being executed, the way PostgreSQL runs the pieces it splits a statement
 * into: as subcommands, which no event trigger fires for or lists (users'
 * event triggers see the user's statement, not schema_guard's helpers).
 */
void
sg_run_own_utility(const char *sql)
{
	bool		saved = sg_running_own_statement;
	ListCell   *lc;

	sg_running_own_statement = true;
	EventTriggerInhibitCommandCollection();
	PG_TRY();
	{
		foreach(lc, pg_parse_query(sql))
		{
			RawStmt    *raw = lfirst_node(RawStmt, lc);
			PlannedStmt *wrapper = makeNode(PlannedStmt);

			wrapper->commandType = CMD_UTILITY;
			wrapper->canSetTag = false;
			wrapper->utilityStmt = raw->stmt;
			wrapper->stmt_location = raw->stmt_location;
			wrapper->stmt_len = raw->stmt_len;
			ProcessUtility(wrapper, sql, false, PROCESS_UTILITY_SUBCOMMAND,
						   NULL, NULL, None_Receiver, NULL);
			CommandCounterIncrement();
		}
	}
	PG_FINALLY();
	{
		EventTriggerUndoInhibitCommandCollection();
		sg_running_own_statement = saved;
	}
	PG_END_TRY();
}

/*
 * Run fn(arg) in an internal subtransaction.  Its effects stay when keep
 * is true (locks taken in it become the caller's), or are rolled back.
 * Returns NULL, or the error it raised, copied into the caller's memory
 * context, the subtransaction rolled back.  A cancel or statement_timeout
 * is not the callee's to handle: it is raised again.
 */
ErrorData *
sg_in_subxact(void (*fn) (void *arg), void *arg, bool keep)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	ErrorData  *volatile edata = NULL;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		fn(arg);
		if (keep)
			ReleaseCurrentSubTransaction();
		else
			RollbackAndReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	if (edata && edata->sqlerrcode == ERRCODE_QUERY_CANCELED)
		ReThrowError(edata);
	return edata;
}

void
sg_spi_connect(void)
{
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
}

void
sg_spi_finish(void)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
}

/*
 * The current transaction commits without waiting for its WAL to reach
 * the disk, for a worker's step that a crash may lose: it is lost with
 * every commit after it (whose flush would have carried it), and the
 * worker does it again.  Its locks go the moment it commits.
 */
void
sg_commit_without_flush(void)
{
	(void) set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_LOCAL, true, 0, false);
}

/*
 * Act as role, with flags added to the security context (always a local
 * user change: SET ROLE and RESET stay where they were).  The caller
 * restores on its way out; after an error the (sub)transaction abort
 * restores the user, as for SECURITY DEFINER functions.
 */
void
sg_switch_role(Oid role, int flags, SgSavedRole *saved)
{
	GetUserIdAndSecContext(&saved->userid, &saved->sec_context);
	SetUserIdAndSecContext(role, saved->sec_context | SECURITY_LOCAL_USERID_CHANGE | flags);
}

void
sg_restore_role(const SgSavedRole *saved)
{
	SetUserIdAndSecContext(saved->userid, saved->sec_context);
}

/* A relation's owner, or InvalidOid if it is gone. */
Oid
sg_rel_owner(Oid relid)
{
	HeapTuple	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tup))
		return InvalidOid;
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/* A relation's schema-qualified, quoted name; its OID if it is gone. */
char *
sg_qualified_relname(Oid relid)
{
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		return psprintf("%u", relid);
	return (char *) quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)),
											   relname);
}

/* A column's current name, or NULL if it was dropped. */
char *
sg_column_name(Oid relid, AttrNumber attnum)
{
	HeapTuple	tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid),
									  Int16GetDatum(attnum));
	char	   *name = NULL;

	if (!HeapTupleIsValid(tup))
		return NULL;
	if (!((Form_pg_attribute) GETSTRUCT(tup))->attisdropped)
		name = pstrdup(NameStr(((Form_pg_attribute) GETSTRUCT(tup))->attname));
	ReleaseSysCache(tup);
	return name;
}

/* A clause as a sentence: capital first letter, final period. */
char *
sg_sentence(const char *clause)
{
	char	   *s = psprintf("%s.", clause);

	s[0] = pg_toupper((unsigned char) s[0]);
	return s;
}
