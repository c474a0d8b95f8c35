/* The file-content cache: one shared mapping made by the parent before the
 * first fork, so every transfer child sees the same index, LRU and data.
 * Entries are keyed by the path under the root and validated by fstat
 * identity, so a file that changed is a miss, never stale bytes. */
#ifndef CTFTPD_CACHE_H
#define CTFTPD_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Longest key (path relative to the root) plus its NUL; longer keys bypass. */
#define CACHE_KEY_MAX 1024
/* Default arena chunk: one chunk holds a whole DATA block of any blksize
 * (RFC 2348 caps it at 65464), so a block spans at most two chunks. */
#define CACHE_CHUNK_DEFAULT ((size_t)64 * 1024)

struct cache_params {
	size_t size;	    /* bytes of the whole mapping (--cache-size),
			       index included; 0 = no cache */
	size_t max_file;    /* bytes; larger files are never cached (0 = up
			       to the arena's size) */
	unsigned max_pins;  /* refs held at once, all processes together:
			       --max-clients (a child holds at most one) */
	size_t chunk_size;  /* bytes, a power of two in [4 KiB, 16 MiB] */
	unsigned lock_ms;   /* longest wait for the index lock before an
			       acquire gives up and bypasses */
	unsigned settle_ms; /* a file whose mtime or ctime is younger than
			       this is not cached: timestamps are coarse, so a
			       rewrite within the same tick could go unseen */
};

enum cache_result {
	CACHE_BYPASS = 0, /* serve from the file; no ref is held */
	CACHE_HIT,	  /* ref pins a READY entry: serve with cache_iov */
	CACHE_FILL,	  /* ref owns a new LOADING entry: call cache_fill
			     (or cache_abandon) */
};

/* Copied out by cache_stats.  Counters count since cache_create; the gauges
 * (entries .. pins) describe the index now. */
struct cache_stats {
	uint64_t hits;		/* acquires that returned CACHE_HIT */
	uint64_t misses;	/* acquires that found no valid entry */
	uint64_t fills;		/* entries filled and made READY */
	uint64_t fill_failures; /* fills abandoned (read error, file changed) */
	uint64_t evictions;	/* READY entries evicted to make room */
	uint64_t stale;		/* entries dropped because the file changed */
	uint64_t bypass_loading;  /* entry being filled by another process */
	uint64_t bypass_too_big;  /* > max_file or > arena, empty, long key */
	uint64_t bypass_no_space; /* not enough unpinned room, or no pin free */
	uint64_t bypass_settling; /* file changed less than settle_ms ago */
	uint64_t bypass_lock;	  /* lock not obtained within lock_ms */
	uint64_t released_dead;	  /* refs dropped by cache_release_owner */
	uint64_t repairs;	  /* index rebuilds after a lock owner died */
	uint64_t bytes_served;	  /* bytes described by cache_iov, counted at
				     release (retransmissions included) */
	uint64_t entries;	  /* READY entries */
	uint64_t loading;	  /* LOADING entries */
	uint64_t bytes_used;	  /* file bytes held by READY entries */
	uint64_t chunks_used;	  /* chunks held by any entry */
	uint64_t chunks_total;	  /* chunks in the arena */
	uint64_t chunk_size;	  /* bytes per chunk */
	uint64_t pins;		  /* refs held now */
	int broken;		  /* the lock is unrecoverable: all bypass */
};

struct cache;

/* A pin on one entry, held by the process that acquired it.  Caller-owned
 * storage; the fields are private to src/cache*.c. */
struct cache_ref {
	struct cache *cache; /* NULL when no entry is held */
	uint32_t slot, pin, seq;
	int loading;
	uint64_t size;
	uint32_t first;		     /* first chunk of the entry */
	uint32_t cur_ord, cur_chunk; /* cursor: chunk number cur_ord is
					cur_chunk (sequential reads are O(1)) */
	uint64_t served;
	struct stat st; /* identity at acquire, for cache_fill */
};

/* The defaults: 64 MiB, files up to 16 MiB, 64 pins, 64 KiB chunks, 100 ms
 * lock wait, 2 s settle time. */
void cache_params_default(struct cache_params *p);

/* Make the shared mapping (MAP_SHARED|MAP_ANONYMOUS, or shm_open then
 * shm_unlink where that is missing).  Call once in the parent before the
 * first fork; children inherit it.  Writes only the first page: the index is
 * valid zero-filled and the arena is untouched until filled.  The index is
 * carved out of p->size: about 1.1 KiB per chunk (64 MiB in 64 KiB chunks
 * gives 1006 chunks, 1.8% for the index) plus 16 bytes per pin.
 * Returns the handle; NULL with errno 0 when p->size is 0 (the cache is off:
 * every function below accepts a NULL cache and then does nothing, and
 * cache_acquire bypasses); NULL with errno EINVAL (size too small for one
 * chunk, bad chunk_size, max_pins 0), ENOMEM, or ENOSYS (no process-shared
 * robust mutexes on this system). */
struct cache *cache_create(const struct cache_params *p);

/* Unmap this process's view and free the handle.  Other processes keep
 * theirs.  NULL is ignored. */
void cache_destroy(struct cache *c);

/* Look up key (the path relative to the root, NUL-terminated) for the file
 * the caller has just opened and fstat'ed into *st.  The owner of a ref is
 * getpid() at this call.
 *  CACHE_HIT: *ref pins a READY entry with the same (st_dev, st_ino,
 *    st_size, st_mtim, st_ctim); serve it with cache_iov, then cache_release.
 *  CACHE_FILL: *ref owns a new LOADING entry of st->st_size bytes, evicting
 *    least recently used unpinned entries for room; call cache_fill.
 *  CACHE_BYPASS: serve from the file (see the bypass_* counters for why).
 * An entry for key with another identity is dropped (or, while others still
 * serve it, unlinked and freed at their last release).  Never waits more
 * than lock_ms.  *ref is written in every case. */
enum cache_result cache_acquire(struct cache *c, const char *key,
				const struct stat *st, struct cache_ref *ref);

/* Fill a CACHE_FILL ref from fd (the file acquired for): pread every byte,
 * then fstat fd and compare with the identity given to cache_acquire.  On
 * success the entry is READY and *ref stays pinned on it, as after a hit:
 * returns 0.  Otherwise *ref is cleared and the entry abandoned: returns -1
 * with errno ESTALE (the file changed or its size did not match), EINVAL
 * (not a FILL ref of this process), the pread/fstat error, or EAGAIN (the
 * lock was not obtained within a second to publish the entry: it stays
 * LOADING, others bypass it, until cache_release_owner at this process's
 * exit).  In every failure case serve from the file. */
int cache_fill(struct cache_ref *ref, int fd);

/* Give up a CACHE_FILL ref without filling it: the entry is dropped.
 * Returns 0, or -1 with EINVAL for a ref this process does not hold. */
int cache_abandon(struct cache_ref *ref);

/* Describe bytes [offset, offset + len) of a pinned READY entry as at most
 * two iovecs pointing into the shared arena (no copy).  Returns the bytes
 * described: len, less at the end of the file or when the range would need
 * more than two pieces (only if len > chunk size), 0 at or past the end or
 * for a ref that is not a READY pin.  *niov gets 0, 1 or 2.  Not locked: a
 * pinned entry's chunks never change.  Moves the ref's cursor. */
size_t cache_iov(struct cache_ref *ref, uint64_t offset, size_t len,
		 struct iovec iov[2], int *niov);

/* Drop the pin (a LOADING ref is abandoned).  *ref is cleared.  Returns 0,
 * or -1 with EINVAL when *ref is not held by this process (released already,
 * never acquired, forged, or inherited across fork), or EAGAIN when the lock
 * was not obtained: the pin then stays until cache_release_owner. */
int cache_release(struct cache_ref *ref);

/* In the parent, after reaping pid: drop every pin pid held and abandon its
 * LOADING entries.  Cheap when it held none, so call it for every child
 * reaped.  Returns the refs dropped, or -1 with EAGAIN when the lock was not
 * obtained within one second (a stopped child holds it): call again before
 * the next fork, since a new child could reuse pid. */
int cache_release_owner(struct cache *c, pid_t pid);

/* The same, waiting at most lock_ms for the lock (0: only if it is free
 * now): for the listener, which must not stall on a stopped lock holder. */
int cache_release_owner_within(struct cache *c, pid_t pid, unsigned lock_ms);

/* Copy the counters out (zeros for a NULL cache).  Takes the lock, waiting
 * at most lock_ms; when that fails the copy is unlocked and may be slightly
 * inconsistent.  Every acquire counts once in hits + misses + bypass_loading
 * + bypass_too_big + bypass_settling + bypass_lock, and misses = fills +
 * fill_failures + bypass_no_space (once no fill is in progress). */
void cache_stats(struct cache *c, struct cache_stats *out);

/* One line for the SIGUSR1 log: "cache: entries=.. used=.. hits=..".
 * Always NUL-terminates out (outsz > 0).  Returns out. */
char *cache_stats_format(const struct cache_stats *s, char *out, size_t outsz);

#endif
