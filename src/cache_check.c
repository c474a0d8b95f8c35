/* Test and debugging hooks of the cache (declared in cache_test_hooks.h, not
 * in the daemon's cache.h): a full consistency check of the index, manual
 * locking, and the switch for the crash points in the index code. */
#include "autoconfig.h"

#include "cache_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One run of the checker: what it has seen so far. */
struct check {
	struct cache *c;
	uint8_t *bits; /* chunks met on the free list or in a slot's chain */
	char *why;
	size_t whysz;
	/* What the slots add up to, for the lists and the gauges. */
	uint64_t entries, loading, bytes, used, pins;
	uint32_t nfree, live;
};

#define FAIL(k, ...)                                         \
	do {                                                 \
		snprintf((k)->why, (k)->whysz, __VA_ARGS__); \
		return -1;                                   \
	} while (0)

static int check_header(struct check *k)
{
	const struct cache *c = k->c;

	if (c->h->magic != CACHE_MAGIC)
		FAIL(k, "bad magic");
	if (c->h->chunk_hwm > c->nchunks || c->h->slot_hwm > c->nslots)
		FAIL(k, "high-water marks out of range");
	return 0;
}

static int check_free_chunks(struct check *k)
{
	const struct cache *c = k->c;
	uint32_t x, n;

	for (x = c->h->free_chunk, n = 0; x != NIL; x = c->next[x - 1], n++) {
		if (x > c->h->chunk_hwm || n > c->nchunks)
			FAIL(k, "free chunk %u out of range", x);
		if (cache_bit_test_set(k->bits, x - 1))
			FAIL(k, "chunk %u twice on the free list", x);
	}
	if (n != c->h->free_chunks)
		FAIL(k, "free list has %u chunks, count says %u", n,
		     c->h->free_chunks);
	return 0;
}

/* Slot i: plausible, its chain disjoint from the others' and from the free
 * list, refs equal to the pin records naming it. */
static int check_slot(struct check *k, uint32_t i)
{
	const struct cache *c = k->c;
	const struct slot *s = slot_at(c, i);
	uint32_t refs = 0;

	if (s->state == SLOT_FREE) {
		k->nfree++;
		return 0;
	}
	if (!cache_slot_sane(c, s))
		FAIL(k, "slot %u implausible", i);
	if (cache_chain_claim(c, s, k->bits) != 0)
		FAIL(k, "slot %u chain overlaps or leaves the arena", i);
	for (uint32_t p = 0; p < c->npins; p++)
		if (c->pins[p].pid != 0 && c->pins[p].slot == i) {
			if (c->pins[p].gen != s->gen)
				FAIL(k, "pin %u has an old gen", p);
			if (s->state == SLOT_LOADING &&
			    c->pins[p].pid != s->loader)
				FAIL(k, "LOADING slot %u pinned by other", i);
			refs++;
		}
	if (refs != s->refs)
		FAIL(k, "slot %u refs %u, pins %u", i, s->refs, refs);
	if (s->state == SLOT_LOADING && refs != 1)
		FAIL(k, "LOADING slot %u has %u pins", i, refs);
	if (s->state == SLOT_STALE && refs == 0)
		FAIL(k, "STALE slot %u unpinned", i);
	if (s->state == SLOT_READY) {
		k->entries++;
		k->bytes += s->id.size;
	}
	if (s->state == SLOT_LOADING)
		k->loading++;
	if (s->state != SLOT_STALE) {
		k->live++;
		if (s->hash != cache_key_hash(s->key, s->keylen) ||
		    cache_hash_find(c, s->key, s->keylen, s->hash) != i)
			FAIL(k, "slot %u not found by its key", i);
	}
	k->used += s->nchunks;
	k->pins += refs;
	return 0;
}

/* Every slot, then every chunk below the high-water mark: each one is on
 * the free list or in exactly one chain. */
static int check_slots(struct check *k)
{
	const struct cache *c = k->c;
	uint32_t i;

	for (i = 1; i <= c->h->slot_hwm; i++)
		if (check_slot(k, i) != 0)
			return -1;
	for (i = 0; i < c->h->chunk_hwm; i++)
		if (!(k->bits[i >> 3] & (1u << (i & 7))))
			FAIL(k, "chunk %u leaked", i + 1);
	return 0;
}

static int check_pins(struct check *k)
{
	const struct cache *c = k->c;

	for (uint32_t p = 0; p < c->npins; p++) {
		const struct pin *r = &c->pins[p];
		if (r->pid != 0 &&
		    (r->slot == NIL || r->slot > c->h->slot_hwm ||
		     slot_at(c, r->slot)->state == SLOT_FREE))
			FAIL(k, "pin %u names a free slot", p);
	}
	return 0;
}

/* The hash holds exactly the LOADING and READY slots. */
static int check_hash(struct check *k)
{
	const struct cache *c = k->c;
	uint32_t x, n, nhashed = 0;

	for (uint32_t b = 0; b < c->nbuckets; b++)
		for (x = c->buckets[b], n = 0; x != NIL;
		     x = slot_at(c, x)->hnext) {
			const struct slot *s;
			if (x > c->h->slot_hwm || ++n > c->nslots)
				FAIL(k, "hash chain %u broken", b);
			s = slot_at(c, x);
			if (s->state != SLOT_LOADING && s->state != SLOT_READY)
				FAIL(k, "slot %u in the hash in state %u", x,
				     s->state);
			if ((s->hash & (c->nbuckets - 1)) != b)
				FAIL(k, "slot %u in the wrong bucket", x);
			nhashed++;
		}
	if (nhashed != k->live)
		FAIL(k, "hash holds %u slots, %u are live", nhashed, k->live);
	return 0;
}

/* The LRU list: exactly the READY slots, stamps never decreasing. */
static int check_lru(struct check *k)
{
	const struct cache *c = k->c;
	uint32_t i, x, n = 0;

	for (x = c->h->lru_head, i = NIL; x != NIL;
	     i = x, x = slot_at(c, x)->next) {
		const struct slot *s;
		if (x > c->h->slot_hwm || ++n > c->nslots)
			FAIL(k, "LRU list broken");
		s = slot_at(c, x);
		if (s->state != SLOT_READY)
			FAIL(k, "slot %u on the LRU in state %u", x, s->state);
		if (s->prev != i)
			FAIL(k, "slot %u LRU prev link", x);
		if (i != NIL && slot_at(c, i)->stamp > s->stamp)
			FAIL(k, "LRU out of order at slot %u", x);
	}
	if (c->h->lru_tail != i || n != k->entries)
		FAIL(k, "LRU tail or length (%u of %llu)", n,
		     (unsigned long long)k->entries);
	return 0;
}

static int check_free_slots(struct check *k)
{
	const struct cache *c = k->c;
	uint32_t x, n;

	for (x = c->h->free_slot, n = 0; x != NIL; x = slot_at(c, x)->hnext) {
		if (x > c->h->slot_hwm || ++n > c->nslots ||
		    slot_at(c, x)->state != SLOT_FREE)
			FAIL(k, "free slot list broken at %u", x);
	}
	if (n != k->nfree)
		FAIL(k, "free slot list has %u, %u are free", n, k->nfree);
	return 0;
}

static int check_gauges(struct check *k)
{
	const struct cache_stats *st = &k->c->h->st;

	if (st->entries != k->entries || st->loading != k->loading ||
	    st->bytes_used != k->bytes || st->chunks_used != k->used ||
	    st->pins != k->pins)
		FAIL(k,
		     "gauges: entries %llu/%llu loading %llu/%llu bytes "
		     "%llu/%llu chunks %llu/%llu pins %llu/%llu",
		     (unsigned long long)st->entries,
		     (unsigned long long)k->entries,
		     (unsigned long long)st->loading,
		     (unsigned long long)k->loading,
		     (unsigned long long)st->bytes_used,
		     (unsigned long long)k->bytes,
		     (unsigned long long)st->chunks_used,
		     (unsigned long long)k->used, (unsigned long long)st->pins,
		     (unsigned long long)k->pins);
	return 0;
}

int cache_check(struct cache *c, char *why, size_t whysz)
{
	struct check k = {.c = c, .why = why, .whysz = whysz};
	int rc = -1;

	snprintf(why, whysz, "ok");
	if (!c)
		return 0;
	if (cache_lock_index(c, OWNER_LOCK_MS) != 0) {
		snprintf(why, whysz, "lock: %s", strerror(errno));
		return -1;
	}
	/* In this order, so that the first broken invariant is the one named:
	 * the later checks rely on the totals the slots add up to. */
	k.bits = calloc(((size_t)c->nchunks + 7) / 8, 1);
	if (!k.bits)
		snprintf(why, whysz, "out of memory");
	else if (check_header(&k) == 0 && check_free_chunks(&k) == 0 &&
		 check_slots(&k) == 0 && check_pins(&k) == 0 &&
		 check_hash(&k) == 0 && check_lru(&k) == 0 &&
		 check_free_slots(&k) == 0 && check_gauges(&k) == 0)
		rc = 0;
	free(k.bits);
	cache_unlock_index(c);
	return rc;
}

int cache_debug_lock(struct cache *c)
{
	return c ? cache_lock_index(c, OWNER_LOCK_MS) : -1;
}

void cache_debug_unlock(struct cache *c)
{
	if (c)
		cache_unlock_index(c);
}

void cache_debug_crash_at(struct cache *c, enum cache_crash_point point)
{
	if (c)
		c->crash_at = (int)point;
}
