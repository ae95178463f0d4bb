/*-------------------------------------------------------------------------
 *
 * index_build.h
 *	  The indexes a job builds: reserved at the ALTER, built concurrently.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_INDEX_BUILD_H
#define SG_INDEX_BUILD_H

#include "nodes/parsenodes.h"

typedef enum SgIndexState
{
	SG_INDEX_MISSING,
	SG_INDEX_INVALID,
	SG_INDEX_VALID
} SgIndexState;

extern void sg_index_make_reserved(Oid relid, Oid indexoid);
extern Oid	sg_reserve_index(Oid relid, const char *index_sql);
extern Oid	sg_reserve_index_stmt(Oid relid, IndexStmt *stmt, const char *queryString,
								  List **made);
extern void sg_validate_partitioned_index(Oid indexoid);
extern SgIndexState sg_index_state(Oid indexoid, Oid relid);
extern void sg_build_index_concurrently(Oid relid, Oid indexoid, void (*waiting) (bool));

#endif							/* SG_INDEX_BUILD_H */
