/*-------------------------------------------------------------------------
 *
 * launcher.h
 *	  What workers publish in shared memory, and how they are woken.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_LAUNCHER_H
#define SG_LAUNCHER_H

#include "datatype/timestamp.h"

/* Why a worker is not filling rows right now. */
typedef enum SgWaitReason
{
	SG_WAIT_NONE = 0,			/* working */
	SG_WAIT_DELAY,				/* the pause between batches */
	SG_WAIT_LOCK,				/* a lock wait timed out; backing off */
	SG_WAIT_REPLICATION_LAG,	/* a standby is too far behind */
	SG_WAIT_WAL_RATE,			/* over schema_guard.max_wal_rate */
	SG_WAIT_TRANSACTIONS,		/* an index build waits for older transactions */
	SG_WAIT_LOAD				/* yielding to the application's load */
} SgWaitReason;

#define SG_MAX_BLOCKERS 8

typedef struct SgWorkerState
{
	int64		job_id;
	SgWaitReason waiting;
	TimestampTz waiting_since;
	int			batch_blocks;
	int			delay_ms;
	/* waiting = SG_WAIT_LOCK: who held the lock when the wait timed out */
	int			nblockers;
	int			blocker_pids[SG_MAX_BLOCKERS];	/* 0 for a prepared transaction */
	TransactionId blocker_xids[SG_MAX_BLOCKERS];	/* that prepared transaction */
} SgWorkerState;

extern void sg_wake_launcher(Oid dboid);
extern void sg_worker_attach(Oid dboid);
extern void sg_worker_set_known(bool known, int retry_ms);
extern void sg_worker_publish(const SgWorkerState *state);
extern int	sg_worker_states(Oid *dboids, pid_t *pids, SgWorkerState *states, int max);
extern const char *sg_wait_reason_name(SgWaitReason reason);

extern void sg_launcher_register(void);
extern void sg_shmem_request(void);
extern void sg_request_worker_at_commit(void);
extern void sg_xact_callback_register(void);

extern PGDLLEXPORT void sg_launcher_main(Datum main_arg);

#endif							/* SG_LAUNCHER_H */
