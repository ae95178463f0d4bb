/*-------------------------------------------------------------------------
 *
 * schema_guard.c
 *	  Library entry point: settings, hooks, shared memory and the launcher.
 *
 * Everything here runs once per process at load time.  It only defines and
 * registers; the work happens in the files named in schema_guard.h.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "schema_guard.h"
#include "settings.h"
#include "exec_stack.h"
#include "fill_guard.h"
#include "guard.h"
#include "trigger.h"
#include "launcher.h"
#include "utility_hook.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

bool		sg_preloaded = false;

void
_PG_init(void)
{
	/*
	 * The launcher, the shared memory it uses and the commit-time wakeup
	 * only exist when the library is preloaded.  Loading it any other way
	 * would give a hook that creates jobs nobody ever runs, so refuse.
	 */
	/*
	 * pg_upgrade loads every library an old database uses into the new
	 * cluster's binary-upgrade server to see that it exists: let it, and do
	 * nothing else there.
	 */
	if (!process_shared_preload_libraries_in_progress && IsBinaryUpgrade)
		return;
	if (!process_shared_preload_libraries_in_progress)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("schema_guard must be loaded via shared_preload_libraries"),
				 errhint("Add schema_guard to the shared_preload_libraries setting in postgresql.conf and restart the server.")));

	sg_preloaded = true;

	sg_define_settings();
	sg_shmem_request();
	/* no job may run while pg_upgrade restores the schema */
	if (!IsBinaryUpgrade)
		sg_launcher_register();
	sg_install_utility_hook();
	sg_install_executor_hooks();
	sg_install_fill_guard_hooks();
	sg_install_guard_hooks();
	sg_xact_callback_register();
}
