/*-------------------------------------------------------------------------
 *
 * util.h
 *	  What every part of schema_guard uses: its own statements,
 *	  subtransactions, SPI sessions, role switches, names.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_UTIL_H
#define SG_UTIL_H

#include "access/attnum.h"
#include "utils/elog.h"

/*
 * true while schema_guard runs statements of its own, in a backend or in a
 * worker: the hooks must let them through untouched.
 */
extern bool sg_running_own_statement;

extern void sg_run_own_sql(const char *sql);
extern void sg_run_own_utility(const char *sql);
extern ErrorData *sg_in_subxact(void (*fn) (void *arg), void *arg, bool keep);
extern void sg_spi_connect(void);
extern void sg_spi_finish(void);
extern void sg_commit_without_flush(void);

typedef struct SgSavedRole
{
	Oid			userid;
	int			sec_context;
} SgSavedRole;

extern void sg_switch_role(Oid role, int flags, SgSavedRole *saved);
extern void sg_restore_role(const SgSavedRole *saved);

extern Oid	sg_rel_owner(Oid relid);
extern char *sg_qualified_relname(Oid relid);
extern char *sg_column_name(Oid relid, AttrNumber attnum);
extern char *sg_sentence(const char *clause);

#endif							/* SG_UTIL_H */
