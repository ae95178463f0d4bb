/*-------------------------------------------------------------------------
 *
 * fill_guard.h
 *	  What of a session the code a job computes with may not use, and
 *	  explain()'s rule that no code of users' runs at all.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_FILL_GUARD_H
#define SG_FILL_GUARD_H

/* The computation that was going on, to carry on with after one ends. */
typedef struct SgFillGuardSaved
{
	int			depth;
	int64		job_id;
} SgFillGuardSaved;

extern void sg_fill_guard_push(int64 job_id, SgFillGuardSaved *saved);
extern void sg_fill_guard_pop(const SgFillGuardSaved *saved);
extern bool sg_fill_guard_stale_session(void);

extern void sg_forbid_users_code(bool forbid);
extern Oid	sg_users_code_refused(void);

extern void sg_install_fill_guard_hooks(void);

#endif							/* SG_FILL_GUARD_H */
