/*-------------------------------------------------------------------------
 *
 * fill.h
 *	  The value a job gives the rows that predate its column: captured when
 *	  the ALTER runs, bound to the objects the ALTER resolved, and computed
 *	  later in a context the table's owner controls.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_FILL_H
#define SG_FILL_H

#include "nodes/pg_list.h"
#include "nodes/primnodes.h"
#include "utils/relcache.h"

#include "fill_guard.h"
#include "util.h"

/*
 * What a job's values are computed under: the role, the ALTER's
 * search_path (pinned) and the settings that shape values.
 */
typedef struct SgFillEnv
{
	Oid			role;			/* the table's owner when the ALTER ran */
	char	   *search_path;
	List	   *settings;		/* "name=value" strings */
	int64		job_id;			/* 0 at the ALTER, before the job exists */
} SgFillEnv;

/* What sg_fill_enter() changed, for sg_fill_leave(). */
typedef struct SgFillSaved
{
	SgSavedRole role;
	SgFillGuardSaved guard;
	int			nestlevel;
} SgFillSaved;

/* At the ALTER */
extern Node *sg_cook_default(Relation rel, Node *raw_default, Oid typid,
							 int32 typmod, const char *colname,
							 const char *queryString);
extern Node *sg_fill_fold(Node *expr);
extern char *sg_fill_qualified_sql(Node *expr);
extern const char *sg_fill_unreproducible(Node *expr);
extern bool sg_fill_worth_trial(Node *expr);
extern char *sg_fill_trial(Relation rel, Node *expr, bool as_job);
extern char *sg_pinned_search_path(void);
extern char *sg_pin_search_path(const char *search_path, const char *user);
extern List *sg_capture_settings(void);
extern void sg_fill_record_dependencies(Oid trigger_oid, Node *expr);

/* Later, anywhere: the expression as it means the ALTER's objects here */
extern Node *sg_fill_rebind(Relation rel, const char *fill_sql, Oid typid,
							int32 typmod, const char *colname, const SgFillEnv *env);

/* Computing */
extern void sg_fill_enter(const SgFillEnv *env, bool settings, SgFillSaved *saved);
extern void sg_fill_leave(const SgFillSaved *saved, bool ok);
extern void sg_set_filling_job(int64 job_id);
extern int64 sg_filling_job(void);
extern int	sg_apply_settings(List *settings, const char *search_path, bool all);

#endif							/* SG_FILL_H */
