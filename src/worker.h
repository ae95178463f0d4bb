/*-------------------------------------------------------------------------
 *
 * worker.h
 *	  The per-database background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_WORKER_H
#define SG_WORKER_H

extern PGDLLEXPORT void sg_worker_main(Datum main_arg);

#endif							/* SG_WORKER_H */
