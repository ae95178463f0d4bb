/*-------------------------------------------------------------------------
 *
 * exec_stack.c
 *	  The statements the executor is running in this backend, innermost
 *	  last, so that the fill trigger can tell a MERGE (whose updated
 *	  columns are those of all its WHEN clauses together) from a plain
 *	  UPDATE, and name the statement that met an unfilled row.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "executor/executor.h"

#include "schema_guard.h"
#include "exec_stack.h"

/*
 * The statements being executed, innermost last, so the fill trigger can
 * tell a MERGE (whose updated columns are those of all its WHEN clauses
 * together) from a plain UPDATE.  Entries left by an error are dropped when
 * their (sub)transaction aborts.
 */
#define SG_EXEC_STACK_DEPTH 64

typedef struct ExecFrame
{
	QueryDesc  *query;
	CmdType		command;
	SubTransactionId subxact;
} ExecFrame;

static ExecFrame exec_stack[SG_EXEC_STACK_DEPTH];
static int	exec_depth = 0;		/* may exceed the array: frames beyond are not kept */
static ExecutorStart_hook_type prev_ExecutorStart = NULL;
static ExecutorEnd_hook_type prev_ExecutorEnd = NULL;

static void
sg_ExecutorStart(QueryDesc *queryDesc, int eflags)
{
	if (prev_ExecutorStart)
		prev_ExecutorStart(queryDesc, eflags);
	else
		standard_ExecutorStart(queryDesc, eflags);
	if (exec_depth < SG_EXEC_STACK_DEPTH)
	{
		exec_stack[exec_depth].query = queryDesc;
		exec_stack[exec_depth].command = queryDesc->operation;
		exec_stack[exec_depth].subxact = GetCurrentSubTransactionId();
	}
	exec_depth++;
}

static void
sg_ExecutorEnd(QueryDesc *queryDesc)
{
	/* pop down to this query, dropping frames an error left behind */
	while (exec_depth > 0 &&
		   (exec_depth > SG_EXEC_STACK_DEPTH ||
			exec_stack[exec_depth - 1].query != queryDesc))
		exec_depth--;
	if (exec_depth > 0)
		exec_depth--;
	if (prev_ExecutorEnd)
		prev_ExecutorEnd(queryDesc);
	else
		standard_ExecutorEnd(queryDesc);
}

static void
exec_stack_subxact_callback(SubXactEvent event, SubTransactionId mySubid,
							SubTransactionId parentSubid, void *arg)
{
	if (event != SUBXACT_EVENT_ABORT_SUB)
		return;
	while (exec_depth > 0 && exec_depth <= SG_EXEC_STACK_DEPTH &&
		   exec_stack[exec_depth - 1].subxact >= mySubid)
		exec_depth--;
}

static void
exec_stack_xact_callback(XactEvent event, void *arg)
{
	if (event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_ABORT ||
		event == XACT_EVENT_COMMIT || event == XACT_EVENT_PREPARE)
		exec_depth = 0;
}

void
sg_install_executor_hooks(void)
{
	prev_ExecutorStart = ExecutorStart_hook;
	ExecutorStart_hook = sg_ExecutorStart;
	prev_ExecutorEnd = ExecutorEnd_hook;
	ExecutorEnd_hook = sg_ExecutorEnd;
	RegisterSubXactCallback(exec_stack_subxact_callback, NULL);
	RegisterXactCallback(exec_stack_xact_callback, NULL);
}

/* Is the innermost statement running a MERGE? */
bool
sg_running_merge(void)
{
	return exec_depth > 0 && exec_depth <= SG_EXEC_STACK_DEPTH &&
		exec_stack[exec_depth - 1].command == CMD_MERGE;
}

/* The innermost statement being executed, or NULL if it is not known. */
QueryDesc *
sg_innermost_query(void)
{
	return exec_depth > 0 && exec_depth <= SG_EXEC_STACK_DEPTH
		? exec_stack[exec_depth - 1].query : NULL;
}
