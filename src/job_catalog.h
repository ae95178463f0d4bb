/*-------------------------------------------------------------------------
 *
 * job_catalog.h
 *	  Access to the job catalog: the extension, its owner, catalog
 *	  statements.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_CATALOG_H
#define SG_JOB_CATALOG_H

#include "access/htup.h"
#include "access/tupdesc.h"
#include "nodes/pg_list.h"

#include "util.h"

extern char *sg_extension_version(void);
extern Oid	sg_extension_owner(void);
extern bool sg_extension_active(void);
extern void sg_require_update(void);
extern bool sg_is_extension_object(Oid classId, Oid objectId);

/* Acting as the extension's owner, under search_path = pg_catalog, pg_temp. */
typedef struct SgExtensionOwner
{
	SgSavedRole role;
	int			nestlevel;		/* of the pinned search_path */
} SgExtensionOwner;

extern void sg_become_extension_owner(SgExtensionOwner *saved);
extern void sg_restore_extension_owner(const SgExtensionOwner *saved);

extern int	sg_catalog_exec(const char *sql, int nargs, const Oid *types,
							Datum *values, const char *nulls, bool read_only);
extern void sg_catalog_prepare(const char *sql, int nargs, const Oid *types);

/* What an UPDATE of schema_guard.jobs returns for sg_catalog_log_job() */
#define SG_CATALOG_JOB_RETURNING \
	"RETURNING relid::pg_catalog.regclass::pg_catalog.text, state, phase"
extern void sg_catalog_log_job(int64 job_id, const char *why);

extern char *sg_catalog_text(HeapTuple tup, TupleDesc desc, int col);
extern Datum sg_text_or_null(const char *s, char *null);
extern Datum sg_text_array(List *strings);
extern List *sg_text_array_list(Datum array);

#endif							/* SG_JOB_CATALOG_H */
