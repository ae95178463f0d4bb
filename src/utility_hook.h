/*-------------------------------------------------------------------------
 *
 * utility_hook.h
 *	  The ProcessUtility hook.
 *
 *-------------------------------------------------------------------------
 */
#ifndef SG_UTILITY_HOOK_H
#define SG_UTILITY_HOOK_H

extern void sg_install_utility_hook(void);

#endif							/* SG_UTILITY_HOOK_H */
