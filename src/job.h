/*-------------------------------------------------------------------------
 *
 * job.h
 *	  A job as the job catalog records it: its columns, constraints,
 *	  objects and tables, its state and phase, and the changes of those.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_JOB_H
#define SG_JOB_H

#include "access/attnum.h"
#include "datatype/timestamp.h"
#include "nodes/pg_list.h"

#include "job_state.h"

/* One column a job added. */
typedef struct SgJobColumn
{
	AttrNumber	attnum;			/* in the job's table */
	char	   *colname;		/* at ALTER time, for messages */
	char	   *kind;			/* "default", "serial" or "identity" */
	char	   *fill_expr;		/* the fill value, deparsed, for people */
	char	   *fill_sql;		/* the fill value, schema-qualified */
	char	   *fill_node;		/* the fill value, cooked, where bound_to says */
	Oid			atttype;		/* the column's type and typmod */
	int32		atttypmod;
	bool		not_null;
	char	   *check_name;		/* helper CHECK (c IS NOT NULL) NOT VALID */
	char		identity;		/* ATTRIBUTE_IDENTITY_* or '\0' */
	char	   *identity_options;	/* SQL of the identity's sequence options */
	Oid			staging_seq;	/* identity: the sequence used meanwhile */
} SgJobColumn;

/*
 * A constraint of an added column that the job finishes.  Its objects (the
 * NOT VALID constraint, or the index a UNIQUE or PRIMARY KEY is built on)
 * are the job's objects of that name.
 */
typedef struct SgJobConstraint
{
	char	   *conname;
	AttrNumber	attnum;
	char	   *colname;		/* at ALTER time */
	SgConstraintKind kind;
	bool		deferrable;		/* unique/primary key: as declared */
	bool		initdeferred;
	/* while staging only, not stored */
	char	   *index_sql;		/* unique/primary key: the index to reserve */
	char	   *leaf_sql;		/* partitioned foreign key: each leaf's NOT VALID one */
} SgJobConstraint;

/* An object the job created, and may change or drop. */
typedef struct SgJobObject
{
	SgObjectKind kind;
	Oid			relid;			/* the table it belongs to */
	char	   *name;			/* at creation, to find it again elsewhere */
	Oid			objid;			/* valid where the job's bound_to says */
	char	   *definition;		/* an index's CREATE INDEX, to make it again */
} SgJobObject;

/* One table that stores rows the job fills. */
typedef struct SgJobLeaf
{
	Oid			relid;
	int			pass;			/* 1: blocks at ALTER time; 2: whole table */
	int64		end_block;		/* the pass covers [0, end_block) */
	int64		next_block;		/* cursor */
	Oid			relfilenode;	/* as last seen by schema_guard */
	AttrNumber	min_attnum;		/* first job column, in this table */
	bool		done;
} SgJobLeaf;

typedef struct SgJob
{
	int64		job_id;
	Oid			relid;
	Oid			role;			/* the table's owner at the ALTER: computes values */
	SgJobState	state;
	SgJobPhase	phase;
	char	   *statement;
	char	   *search_path;	/* the ALTER's search_path, pinned */
	List	   *settings;		/* the ALTER's value-shaping settings, "name=value" */
	char	   *bound_to;		/* where the OIDs below are valid */
	char	   *trigger_name;
	TimestampTz locked_at;		/* when the ALTER got its table lock */
	int64		blocks_total;
	int64		blocks_done;
	int64		rows_done;
	int			batch_blocks;
	int			batch_time;		/* per-job override, 0 = setting */
	int			batch_delay;	/* per-job override, -1 = setting */
	char	   *last_error;
	char	   *unsound;		/* why rows may look filled that are not, or NULL */
	List	   *columns;		/* SgJobColumn: columns to fill */
	List	   *constraints;	/* SgJobConstraint */
	List	   *objects;		/* SgJobObject */
	List	   *leaves;			/* SgJobLeaf */
	List	   *added_attnums;	/* every column the ALTER added, staged or not */
} SgJob;

#define SG_NEXT_JOB_ID_SQL "SELECT pg_catalog.nextval('schema_guard.jobs_job_id_seq')"

extern int64 sg_job_next_id(void);
extern void sg_job_insert(SgJob *job);
extern SgJob *sg_job_load(int64 job_id, bool missing_ok);
extern void sg_job_event(int64 job_id, const char *event, const char *detail);
extern List *sg_job_event_details(int64 job_id, const char *event);
extern bool sg_job_set_state(int64 job_id, uint32 from, SgJobState state,
							 SgJobPhase phase, const char *error, const char *detail);
extern void sg_job_mark_unsound(int64 job_id, const char *why);
extern bool sg_job_advance(SgJob *job, SgJobPhase phase, SgJobState state,
						   const char *detail);
extern void sg_job_set_batch(int64 job_id, int batch_time_ms, int batch_delay_ms);
extern bool sg_job_save_cursor(SgJob *job, SgJobLeaf *leaf, int64 blocks,
							   int64 rows, int next_batch_blocks);
extern void sg_job_count_retry(int64 job_id, const char *error, int min_batch_blocks);
extern void sg_job_add_objects(SgJob *job, List *objects);
extern void sg_job_note_error(int64 job_id, const char *error);
extern void sg_job_set_binding(int64 job_id, const char *bound_to);
extern void sg_job_set_fill_node(int64 job_id, AttrNumber attnum, const char *fill_node);
extern void sg_job_adopt_file(int64 job_id, Oid relid, Oid old_file, Oid new_file,
							  bool truncated);

#endif							/* SG_JOB_H */
