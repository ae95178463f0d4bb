/*-------------------------------------------------------------------------
 *
 * app_update.h
 *	  What an application's UPDATE of a row not filled yet cannot give.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_APP_UPDATE_H
#define SG_APP_UPDATE_H

#include "commands/trigger.h"
#include "executor/execdesc.h"

extern void sg_check_update_of_unfilled(TriggerData *trigdata, QueryDesc *innermost,
										AttrNumber attnum, const char *colname,
										int64 job_id);

#endif							/* SG_APP_UPDATE_H */
