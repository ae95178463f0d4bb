/*-------------------------------------------------------------------------
 *
 * launcher.c
 *	  Shared memory, the commit-time wakeup, and the launcher that starts
 *	  one worker per database with runnable jobs.
 *
 * Shared memory only caches and wakes: which databases may have runnable
 * jobs, which have a worker, and what each worker is waiting for.  The job
 * rows are the truth.  So the launcher is told at the commit of an ALTER
 * that staged a job, and also starts a worker for every database once at
 * server start (to resume) and every naptime for databases known to have
 * unfinished jobs (to catch a worker that ended without finishing them).
 * A worker exits when its database has nothing left to run, freeing its
 * slot.  The table of databases is small and fixed: entries of dropped
 * databases are forgotten at the naptime's look, and if it ever overflows,
 * that look covers every database instead.
 *
 * The launcher never connects to a database and never reads a job.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "schema_guard.h"
#include "launcher.h"
#include "settings.h"

#define SG_MAX_DATABASES 128

typedef struct SgDatabase
{
	Oid			dboid;			/* InvalidOid: free entry */
	bool		pending;		/* may have runnable jobs */
	bool		woken;			/* pending because a job became runnable, not
								 * just the naptime's look */
	bool		known;			/* has unfinished jobs: the naptime looks */
	bool		warned;			/* told the log no worker slot was free */
	TimestampTz pending_since;
	pid_t		worker_pid;		/* 0: no worker running */
	Latch	   *worker_latch;	/* to wake it when a job changes */
	bool		worker_starting;
	TimestampTz not_before;		/* start no worker before this */
	int			quick_exits;	/* workers that left jobs unfinished, in a row */
	uint64		worker_generation;	/* which launch the flags above are about */
	SgWorkerState state;		/* written by the worker */
} SgDatabase;

typedef struct SgShared
{
	slock_t		mutex;
	Latch	   *launcher_latch;
	pid_t		launcher_pid;
	bool		overflowed;		/* a database found no entry: look at all */
	SgDatabase	dbs[SG_MAX_DATABASES];
} SgShared;

static SgShared *sg_shared = NULL;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Set when this transaction created or revived a job. */
static bool wake_at_commit = false;

static Size
shared_size(void)
{
	return MAXALIGN(sizeof(SgShared));
}

static void
request_shmem(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(shared_size());
}

static void
startup_shmem(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	sg_shared = ShmemInitStruct("schema_guard", shared_size(), &found);
	if (!found)
	{
		memset(sg_shared, 0, shared_size());
		SpinLockInit(&sg_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

void
sg_shmem_request(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = request_shmem;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = startup_shmem;
}

/* An entry with no worker and no request; caller holds the mutex. */
static SgDatabase *
idle_entry(bool known_ok)
{
	for (int i = 0; i < SG_MAX_DATABASES; i++)
	{
		SgDatabase *db = &sg_shared->dbs[i];

		if ((known_ok || !db->known) && !db->pending &&
			db->worker_pid == 0 && !db->worker_starting)
			return db;
	}
	return NULL;
}

/* Find or add a database's entry; caller holds the mutex.  May be NULL. */
static SgDatabase *
database_entry(Oid dboid, bool add)
{
	SgDatabase *free_entry = NULL;
	int			i;

	for (i = 0; i < SG_MAX_DATABASES; i++)
	{
		SgDatabase *db = &sg_shared->dbs[i];

		if (db->dboid == dboid)
			return db;
		if (free_entry == NULL && !OidIsValid(db->dboid))
			free_entry = db;
	}
	/*
	 * Reuse an idle entry, preferably one of a database with no unfinished
	 * job; taking a known one's, or finding none, means that the naptime
	 * must look at every database.
	 */
	if (add && free_entry == NULL)
		free_entry = idle_entry(false);
	if (add && free_entry == NULL)
	{
		free_entry = idle_entry(true);
		sg_shared->overflowed = true;
	}
	if (!add || free_entry == NULL)
		return NULL;
	memset(free_entry, 0, sizeof(SgDatabase));
	free_entry->dboid = dboid;
	return free_entry;
}

/* Mark a database as having runnable jobs and wake the launcher. */
void
sg_wake_launcher(Oid dboid)
{
	SgDatabase *db;
	Latch	   *latch;

	if (sg_shared == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	db = database_entry(dboid, true);
	/* jobs that became runnable go first, in the order they did */
	if (db && (!db->pending || !db->woken))
	{
		db->pending = true;
		db->woken = true;
		db->pending_since = GetCurrentTimestamp();
	}
	latch = sg_shared->launcher_latch;
	SpinLockRelease(&sg_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/*
 * Wake the database's worker, if one runs: a job was paused, resumed,
 * cancelled or given new batch settings, and a worker sleeping out a long
 * delay must see that now.
 */
static void
wake_worker(Oid dboid)
{
	SgDatabase *db;
	Latch	   *latch = NULL;

	if (sg_shared == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	db = database_entry(dboid, false);
	if (db && db->worker_pid != 0)
		latch = db->worker_latch;
	SpinLockRelease(&sg_shared->mutex);
	if (latch)
		SetLatch(latch);
}

/* Remember that a database uses schema_guard, so the naptime probe covers it. */
static void
mark_known(Oid dboid)
{
	SgDatabase *db;

	if (sg_shared == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	db = database_entry(dboid, true);
	if (db)
		db->known = true;
	SpinLockRelease(&sg_shared->mutex);
}

void
sg_request_worker_at_commit(void)
{
	wake_at_commit = true;
}

/* Nothing here may fail: the transaction has committed already. */
static void
xact_callback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_COMMIT:
			if (wake_at_commit)
			{
				sg_wake_launcher(MyDatabaseId);
				wake_worker(MyDatabaseId);
			}
			wake_at_commit = false;
			break;
		case XACT_EVENT_PREPARE:
			/* COMMIT PREPARED may come from anywhere: look here every naptime */
			if (wake_at_commit)
				mark_known(MyDatabaseId);
			wake_at_commit = false;
			break;
		case XACT_EVENT_ABORT:
			wake_at_commit = false;
			break;
		default:
			break;
	}
}

void
sg_xact_callback_register(void)
{
	RegisterXactCallback(xact_callback, NULL);
}

void
sg_launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 5;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "schema_guard");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sg_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "schema_guard launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "schema_guard launcher");
	RegisterBackgroundWorker(&worker);
}

/*
 * Worker side: claim the database's entry, publish state, let go at exit.
 */
static SgDatabase *my_database = NULL;

static void
worker_detach(int code, Datum arg)
{
	if (my_database == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	my_database->worker_pid = 0;
	my_database->worker_latch = NULL;
	my_database->worker_starting = false;
	memset(&my_database->state, 0, sizeof(SgWorkerState));
	SpinLockRelease(&sg_shared->mutex);
	my_database = NULL;
}

void
sg_worker_attach(Oid dboid)
{
	SpinLockAcquire(&sg_shared->mutex);
	my_database = database_entry(dboid, true);
	if (my_database)
	{
		my_database->worker_pid = MyProcPid;
		my_database->worker_latch = MyLatch;
		my_database->worker_starting = false;
	}
	SpinLockRelease(&sg_shared->mutex);
	before_shmem_exit(worker_detach, (Datum) 0);
}

/*
 * Does the database have unfinished jobs?  If the worker leaves them so,
 * the launcher starts another one soon (after retry_ms, at least).
 */
void
sg_worker_set_known(bool known, int retry_ms)
{
	if (my_database == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	my_database->known = known;
	my_database->not_before = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), retry_ms);
	SpinLockRelease(&sg_shared->mutex);
}

void
sg_worker_publish(const SgWorkerState *state)
{
	if (my_database == NULL)
		return;
	SpinLockAcquire(&sg_shared->mutex);
	my_database->state = *state;
	my_database->quick_exits = 0;	/* it is making progress */
	SpinLockRelease(&sg_shared->mutex);
}

/* Copy out every running worker's state, for worker_status(). */
int
sg_worker_states(Oid *dboids, pid_t *pids, SgWorkerState *states, int max)
{
	int			n = 0;
	int			i;

	if (sg_shared == NULL)
		return 0;
	SpinLockAcquire(&sg_shared->mutex);
	for (i = 0; i < SG_MAX_DATABASES && n < max; i++)
	{
		SgDatabase *db = &sg_shared->dbs[i];

		if (db->worker_pid == 0)
			continue;
		dboids[n] = db->dboid;
		pids[n] = db->worker_pid;
		states[n] = db->state;
		n++;
	}
	SpinLockRelease(&sg_shared->mutex);
	return n;
}

/* What progress says a worker waits for. */
const char *
sg_wait_reason_name(SgWaitReason reason)
{
	switch (reason)
	{
		case SG_WAIT_NONE:
			return NULL;
		case SG_WAIT_DELAY:
			return "delay";
		case SG_WAIT_LOCK:
			return "lock";
		case SG_WAIT_REPLICATION_LAG:
			return "replication lag";
		case SG_WAIT_WAL_RATE:
			return "wal rate";
		case SG_WAIT_TRANSACTIONS:
			return "old transactions";
		case SG_WAIT_LOAD:
			return "load";
	}
	return NULL;
}

/*
 * Launcher side.
 */
typedef struct LauncherWorker
{
	Oid			dboid;
	uint64		generation;
	BackgroundWorkerHandle *handle;
} LauncherWorker;

static uint64 last_generation = 0;

static List *launched = NIL;	/* LauncherWorker, in TopMemoryContext */

static void
launcher_detach(int code, Datum arg)
{
	SpinLockAcquire(&sg_shared->mutex);
	sg_shared->launcher_latch = NULL;
	sg_shared->launcher_pid = 0;
	SpinLockRelease(&sg_shared->mutex);
}

/*
 * Every database a worker can connect to gets a look, once; or, after the
 * table of databases overflowed, every one that has no entry in it.
 */
static void
mark_all_databases_pending(bool untracked_only)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *dboids = NIL;
	ListCell   *lc;

	StartTransactionCommand();
	PushActiveSnapshot(GetTransactionSnapshot());
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (db->datallowconn && db->datconnlimit != -2)
		{
			MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);

			dboids = lappend_oid(dboids, db->oid);
			MemoryContextSwitchTo(old);
		}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	PopActiveSnapshot();
	CommitTransactionCommand();

	foreach(lc, dboids)
	{
		Oid			dboid = lfirst_oid(lc);
		bool		tracked;

		if (untracked_only)
		{
			SpinLockAcquire(&sg_shared->mutex);
			tracked = database_entry(dboid, false) != NULL;
			SpinLockRelease(&sg_shared->mutex);
			if (tracked)
				continue;
		}
		sg_wake_launcher(dboid);
	}
	list_free(dboids);
}

/*
 * Free the entries of databases that were dropped: their workers could
 * only fail to connect, and the table would fill up.
 */
static void
forget_dropped_databases(void)
{
	Oid			dboids[SG_MAX_DATABASES];
	bool		gone[SG_MAX_DATABASES];
	int			i;

	SpinLockAcquire(&sg_shared->mutex);
	for (i = 0; i < SG_MAX_DATABASES; i++)
		dboids[i] = sg_shared->dbs[i].dboid;
	SpinLockRelease(&sg_shared->mutex);

	StartTransactionCommand();
	for (i = 0; i < SG_MAX_DATABASES; i++)
		gone[i] = OidIsValid(dboids[i]) &&
			!SearchSysCacheExists1(DATABASEOID, ObjectIdGetDatum(dboids[i]));
	CommitTransactionCommand();

	SpinLockAcquire(&sg_shared->mutex);
	for (i = 0; i < SG_MAX_DATABASES; i++)
	{
		SgDatabase *db = &sg_shared->dbs[i];

		if (gone[i] && db->dboid == dboids[i] &&
			db->worker_pid == 0 && !db->worker_starting)
			memset(db, 0, sizeof(SgDatabase));
		else
			gone[i] = false;
	}
	SpinLockRelease(&sg_shared->mutex);

	for (i = 0; i < SG_MAX_DATABASES; i++)
		if (gone[i])
			ereport(DEBUG1,
					(errmsg_internal("schema_guard forgets dropped database %u",
									 dboids[i])));
}

/* The naptime's look: databases with unfinished jobs, or all of them. */
static void
mark_known_databases_pending(void)
{
	TimestampTz now = GetCurrentTimestamp();
	bool		overflowed;
	int			i;

	forget_dropped_databases();
	SpinLockAcquire(&sg_shared->mutex);
	overflowed = sg_shared->overflowed;
	sg_shared->overflowed = false;
	SpinLockRelease(&sg_shared->mutex);
	if (overflowed)
		mark_all_databases_pending(true);

	SpinLockAcquire(&sg_shared->mutex);
	for (i = 0; i < SG_MAX_DATABASES; i++)
	{
		SgDatabase *db = &sg_shared->dbs[i];

		if (OidIsValid(db->dboid) && db->known && !db->pending)
		{
			db->pending = true;
			db->pending_since = now;
		}
	}
	SpinLockRelease(&sg_shared->mutex);
}

/* Forget workers that have exited. */
static void
reap_workers(void)
{
	ListCell   *lc;

	foreach(lc, launched)
	{
		LauncherWorker *lw = lfirst(lc);
		pid_t		pid;

		if (GetBackgroundWorkerPid(lw->handle, &pid) == BGWH_STOPPED)
		{
			SgDatabase *db;
			TimestampTz now = GetCurrentTimestamp();

			/*
			 * A worker clears its entry when it exits; this covers one that
			 * died before it could.  A later launch owns the entry now.
			 */
			SpinLockAcquire(&sg_shared->mutex);
			db = database_entry(lw->dboid, false);
			if (db && db->worker_generation == lw->generation)
			{
				db->worker_pid = 0;
				db->worker_latch = NULL;
				db->worker_starting = false;
				/*
				 * It left jobs unfinished (it was terminated, or failed):
				 * another one soon, backing off while that repeats.
				 */
				if (db->known && !db->pending)
				{
					TimestampTz retry = TimestampTzPlusMilliseconds(now,
																	Min(1000 << Min(db->quick_exits, 10),
																		sg_naptime_s * 1000));

					db->pending = true;
					db->pending_since = now;
					db->not_before = Max(db->not_before, retry);
					db->quick_exits++;
				}
			}
			SpinLockRelease(&sg_shared->mutex);
			pfree(lw->handle);
			pfree(lw);
			launched = foreach_delete_current(launched, lc);
		}
	}
}

static bool
start_worker(Oid dboid, uint64 generation)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;
	LauncherWorker *lw;
	MemoryContext old;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = MyProcPid;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "schema_guard");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "sg_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "schema_guard worker for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "schema_guard worker");

	old = MemoryContextSwitchTo(TopMemoryContext);
	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		MemoryContextSwitchTo(old);
		return false;
	}
	lw = palloc(sizeof(LauncherWorker));
	lw->dboid = dboid;
	lw->generation = generation;
	lw->handle = handle;
	launched = lappend(launched, lw);
	MemoryContextSwitchTo(old);
	return true;
}

/*
 * Start workers for pending databases, oldest request first, while fewer
 * than max_workers run.  Returns true if some database is left waiting.
 */
static bool
start_pending_workers(void)
{
	for (;;)
	{
		SgDatabase *next = NULL;
		TimestampTz now = GetCurrentTimestamp();
		Oid			dboid;
		uint64		generation;
		int			running = 0;
		int			i;
		bool		started;
		bool		warn;
		bool		woken;

		SpinLockAcquire(&sg_shared->mutex);
		for (i = 0; i < SG_MAX_DATABASES; i++)
		{
			SgDatabase *db = &sg_shared->dbs[i];

			if (db->worker_pid != 0 || db->worker_starting)
				running++;
			else if (db->pending && db->not_before <= now &&
					 (next == NULL ||
					  (db->woken && !next->woken) ||
					  (db->woken == next->woken && db->pending_since < next->pending_since)))
				next = db;
		}
		if (next == NULL || running >= sg_max_workers)
		{
			SpinLockRelease(&sg_shared->mutex);
			return next != NULL;
		}
		/* the worker reads the jobs after this, so clearing now loses nothing */
		woken = next->woken;
		next->pending = false;
		next->woken = false;
		next->worker_starting = true;
		next->worker_generation = generation = ++last_generation;
		dboid = next->dboid;
		SpinLockRelease(&sg_shared->mutex);

		started = start_worker(dboid, generation);
		SpinLockAcquire(&sg_shared->mutex);
		/* a look the naptime asked for may find nothing: no warning for it */
		warn = !started && !next->warned && woken;
		next->warned = !started && woken;
		if (!started)
		{
			next->pending = true;
			next->woken = woken;
			next->worker_starting = false;
		}
		SpinLockRelease(&sg_shared->mutex);
		if (!started)
		{
			/* once per shortage, not every second it lasts */
			if (warn)
				ereport(WARNING,
						(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
						 errmsg("schema_guard could not start a worker for database %u", dboid),
						 errdetail("All background worker slots are in use."),
						 errhint("Raise max_worker_processes; the jobs wait and start later.")));
			return true;
		}
	}
}

/* Is a worker to be started again once its delay is over? */
static bool
restart_due(void)
{
	bool		due = false;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	SpinLockAcquire(&sg_shared->mutex);
	for (i = 0; i < SG_MAX_DATABASES; i++)
		due |= sg_shared->dbs[i].pending && sg_shared->dbs[i].not_before > now;
	SpinLockRelease(&sg_shared->mutex);
	return due;
}

void
sg_launcher_main(Datum main_arg)
{
	TimestampTz last_probe;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("schema_guard launcher");

	SpinLockAcquire(&sg_shared->mutex);
	sg_shared->launcher_latch = MyLatch;
	sg_shared->launcher_pid = MyProcPid;
	SpinLockRelease(&sg_shared->mutex);
	before_shmem_exit(launcher_detach, (Datum) 0);

	mark_all_databases_pending(false);
	last_probe = GetCurrentTimestamp();

	for (;;)
	{
		bool		backlog;
		long		timeout_ms;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		reap_workers();
		if (TimestampDifferenceExceeds(last_probe, GetCurrentTimestamp(),
									   sg_naptime_s * 1000))
		{
			mark_known_databases_pending();
			last_probe = GetCurrentTimestamp();
		}
		backlog = start_pending_workers();

		/* with a backlog, look again soon: a slot may free up */
		timeout_ms = backlog || restart_due() ? 1000L : sg_naptime_s * 1000L;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 timeout_ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}
