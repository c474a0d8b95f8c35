/* Test and debugging hooks of the file cache, kept out of the daemon's
 * interface (cache.h): only tests/cache_test.c and the cache's own source
 * files include this.  Implemented in cache_check.c. */
#ifndef CTFTPD_CACHE_TEST_HOOKS_H
#define CTFTPD_CACHE_TEST_HOOKS_H

#include "cache.h"

#include <stddef.h>

/* Verify every invariant of the index (lists, hash, refs, counters).
 * Returns 0, or -1 with a reason in why (whysz bytes). */
int cache_check(struct cache *c, char *why, size_t whysz);

/* Take and release the index lock by hand (a test kills a holder). */
int cache_debug_lock(struct cache *c);
void cache_debug_unlock(struct cache *c);

/* Points inside critical sections where a test can make this process die
 * by SIGKILL with the lock held and the index half-updated. */
enum cache_crash_point {
	CACHE_CRASH_NONE = 0,
	CACHE_CRASH_ALLOC_CHAIN, /* chunks taken, entry not yet committed */
	CACHE_CRASH_ALLOC_HASH,	 /* entry committed, not yet in the hash */
	CACHE_CRASH_ALLOC_PIN,	 /* entry in the hash, pin not recorded */
	CACHE_CRASH_FREE_CHUNKS, /* entry freed, chunks half returned */
	CACHE_CRASH_LRU_UNLINK,	 /* an LRU unlink half done */
	CACHE_CRASH_PIN_RELEASE, /* pin record cleared, refcount not */
	CACHE_CRASH_MAX
};
void cache_debug_crash_at(struct cache *c, enum cache_crash_point point);

#endif
