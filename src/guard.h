/*-------------------------------------------------------------------------
 *
 * guard.h
 *	  Keeping active jobs truthful while other DDL runs.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_GUARD_H
#define SG_GUARD_H

#include "nodes/plannodes.h"

#include "classify.h"
#include "job.h"

extern void sg_guard_before(PlannedStmt *pstmt);
extern List *sg_guard_files_before(PlannedStmt *pstmt);
extern void sg_guard_after(PlannedStmt *pstmt, List *files_before);
extern void sg_guard_after_staged(PlannedStmt *pstmt);
extern void sg_guard_plain_rewrite(Oid relid, bool recurse, SgAlterPlan *plan);
extern void sg_guard_refuse_if_active(Oid relid, bool recurse, const char *what);
extern void sg_install_guard_hooks(void);
extern void sg_guard_statement_start(void);
extern void sg_guard_note_statement(PlannedStmt *pstmt);
extern void sg_expect_drop(Oid relid);

#endif							/* SG_GUARD_H */
