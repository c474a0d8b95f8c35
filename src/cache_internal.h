/* Private to the cache's source files: the layout of the shared mapping (a
 * header with the lock and counters, a pin table, hash buckets, entry slots,
 * a chunk-chain array and the data arena) and the index operations the parts
 * share.  Links are 1-based indices (0 = none), never pointers, so
 * zero-filled memory is an empty, valid index and every process can follow
 * them.  Nothing outside src/cache*.c includes this. */
#ifndef CTFTPD_CACHE_INTERNAL_H
#define CTFTPD_CACHE_INTERNAL_H

#include "cache.h"
#include "cache_test_hooks.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define NIL 0
#define CACHE_MAGIC 0x6374667470636831ULL /* "ctftpch1" */
/* The parent may wait this long for the lock (a stopped child holds it). */
#define OWNER_LOCK_MS 1000

enum slot_state {
	SLOT_FREE = 0, /* zero: untouched slots are free */
	SLOT_LOADING,  /* in the hash, being filled by loader */
	SLOT_READY,    /* in the hash and on the LRU list */
	SLOT_STALE,    /* file changed while pinned: unlinked, freed when
			  the last pin goes */
};

/* What makes cached bytes valid: fstat identity of the file. */
struct ident {
	uint64_t dev, ino, size;
	int64_t mtime_s, ctime_s;
	int64_t mtime_ns, ctime_ns;
};

struct slot {
	uint32_t state;
	uint32_t refs;	     /* pin records naming this slot */
	uint32_t hnext;	     /* hash chain; the free-slot list when FREE */
	uint32_t prev, next; /* LRU list of READY slots, head = oldest */
	uint32_t first;	     /* first chunk */
	uint32_t nchunks;
	uint32_t keylen;
	int32_t loader; /* pid filling a LOADING slot */
	uint32_t gen;	/* bumped each time the slot is freed */
	uint64_t hash;
	uint64_t stamp; /* tick of the last acquire, for the LRU */
	struct ident id;
	char key[CACHE_KEY_MAX];
};

/* One ref held by one process.  pid 0 = free record. */
struct pin {
	int32_t pid;
	uint32_t slot; /* 1-based */
	uint32_t gen;  /* the slot's gen when pinned */
	uint32_t seq;  /* bumped on every use of the record: stale refs */
};

struct hdr {
	uint64_t magic;
	pthread_mutex_t lock;
	uint32_t broken;
	uint32_t chunk_hwm;   /* chunks [hwm, nchunks) were never used */
	uint32_t slot_hwm;    /* slots [hwm, nslots) were never used */
	uint32_t free_chunk;  /* free chunk list through next[] */
	uint32_t free_chunks; /* its length */
	uint32_t free_slot;   /* free slot list through slot.hnext */
	uint32_t lru_head, lru_tail;
	uint32_t pin_hint;
	uint64_t tick;
	struct cache_stats st;
};

/* The process-local handle.  Geometry is copied here at create time and
 * never read back from shared memory, so a corrupted header cannot send a
 * process outside the mapping. */
struct cache {
	unsigned char *base;
	size_t map_size;
	struct hdr *h;
	struct pin *pins;
	uint32_t *buckets;
	struct slot *slots;
	uint32_t *next;
	unsigned char *arena;
	uint32_t nchunks, nslots, nbuckets, npins;
	size_t chunk_size;
	unsigned chunk_shift;
	uint64_t max_file;
	unsigned lock_ms, settle_ms;
	int crash_at;
};

/* --- small helpers --- */

static inline struct slot *slot_at(const struct cache *c, uint32_t one_based)
{
	return &c->slots[one_based - 1];
}

/* A kill between two stores must not see them reordered by the compiler:
 * the store that commits a change comes after this. */
static inline void commit_barrier(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

static inline void crash_point(const struct cache *c, enum cache_crash_point p)
{
	if (c->crash_at == (int)p)
		raise(SIGKILL);
}

/* --- the lock (cache_map.c) --- */

/* Take the index lock, waiting at most ms.  A previous owner that died
 * holding it left the index possibly half-updated: it is rebuilt
 * (cache_repair) before this returns.  Returns 0, or -1 with errno EAGAIN
 * (timeout), EIO (the cache is broken) or ENOSYS (no robust mutexes). */
int cache_lock_index(struct cache *c, unsigned ms);
void cache_unlock_index(struct cache *c);

/* --- the index (cache_index.c) --- */

/* Pure arithmetic: no lock needed. */

uint64_t cache_key_hash(const char *key, size_t len);
/* Chunks needed for size bytes (UINT32_MAX when more). */
uint32_t cache_chunks_for(const struct cache *c, uint64_t size);

/* The rest are called with the lock held. */

/* The LOADING or READY slot holding key, or NIL. */
uint32_t cache_hash_find(const struct cache *c, const char *key, size_t keylen,
			 uint64_t hash);
void cache_hash_insert(struct cache *c, uint32_t i);
void cache_lru_unlink(struct cache *c, uint32_t i);
/* Append at the most recent end, stamped with the next tick. */
void cache_lru_push(struct cache *c, uint32_t i);
/* Take n chunks as a chain (the caller has made sure they exist).  Returns
 * the first, 1-based. */
uint32_t cache_chunks_take(struct cache *c, uint32_t n);
/* Free a slot and everything it holds.  Its pins must be gone already
 * (refs 0), except for a LOADING slot whose loader pin the caller drops. */
void cache_entry_drop(struct cache *c, uint32_t i);
/* The file changed while others still serve the old bytes: unlink the
 * entry so no new acquirer finds it; its last release frees it. */
void cache_entry_detach(struct cache *c, uint32_t i);
/* A free slot, 1-based, or NIL. */
uint32_t cache_slot_take(struct cache *c);
/* A free pin record, 1-based, or NIL. */
uint32_t cache_pin_find_free(struct cache *c);
/* Record a pin by pid on slot i in free pin record p (1-based). */
void cache_pin_set(struct cache *c, uint32_t p, uint32_t i, pid_t pid);
/* Drop pin record p (1-based).  A LOADING slot it held is abandoned, a
 * STALE slot it was the last pin of is freed. */
void cache_pin_drop(struct cache *c, uint32_t p);
/* Make n chunks free, evicting unpinned READY entries oldest first, but only
 * if that is enough: never evict for nothing.  Returns 0 or -1. */
int cache_make_room(struct cache *c, uint32_t n);

/* Plausibility, shared by the repair and the checker. */

/* A slot's own fields are plausible (chain not checked): 1 or 0. */
int cache_slot_sane(const struct cache *c, const struct slot *s);
/* Set bit i; returns whether it was set already. */
int cache_bit_test_set(uint8_t *bits, uint32_t i);
/* Mark the slot's chunks in bits.  Returns 0, or -1 when the chain leaves
 * the used range or meets a chunk already marked. */
int cache_chain_claim(const struct cache *c, const struct slot *s,
		      uint8_t *bits);

/* --- crash repair (cache_repair.c) --- */

/* Rebuild the index after a lock owner died; with the lock held.  Sets
 * broken when it cannot (out of memory). */
void cache_repair(struct cache *c);

#endif
