/*-------------------------------------------------------------------------
 *
 * job_objects.h
 *	  The objects a job created, found by identity.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_OBJECTS_H
#define SG_JOB_OBJECTS_H

#include "access/htup.h"

#include "job.h"

extern SgJobObject *sg_new_object(SgObjectKind kind, Oid relid, const char *name, Oid objid);
extern SgJobObject *sg_job_object(const SgJob *job, SgObjectKind kind, Oid relid,
								  const char *name);
extern HeapTuple sg_trigger_tuple(Oid tgoid);
extern bool sg_trigger_descends_from(Oid tgoid, List *triggers);
extern char *sg_object_name(const SgJobObject *obj);
extern bool sg_object_validated(const SgJobObject *obj);
extern bool sg_object_is_not_null(const SgJobObject *obj);
extern AttrNumber sg_object_column(const SgJobObject *obj);
extern char *sg_object_drop_sql(const SgJobObject *obj);
extern List *sg_job_drop_sqls(const SgJob *job, SgObjectKind kind);
extern Oid	sg_object_find_by_name(const SgJob *job, const SgJobObject *obj);
extern Oid	sg_index_of(Oid indexoid);
extern Oid	sg_fill_trigger_function(void);
extern int64 sg_trigger_job(HeapTuple tgtup);

#endif							/* SG_JOB_OBJECTS_H */
