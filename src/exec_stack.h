/*-------------------------------------------------------------------------
 *
 * exec_stack.h
 *	  The statements the executor is running in this backend.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_EXEC_STACK_H
#define SG_EXEC_STACK_H

#include "executor/execdesc.h"

extern void sg_install_executor_hooks(void);
extern bool sg_running_merge(void);
extern QueryDesc *sg_innermost_query(void);

#endif							/* SG_EXEC_STACK_H */
