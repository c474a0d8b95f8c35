/* Test and debugging hooks of the cache (declared in cache_test_hooks.h, not
 * in the daemon's cache.h): a full consistency check of the index, manual
 * locking, and the switch for the crash points in the index code. */
#include "autoconfig.h"

#include "cache_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                  \
	do {                                       \
		snprintf(why, whysz, __VA_ARGS__); \
		goto out;                          \
	} while (0)

int cache_check(struct cache *c, char *why, size_t whysz)
{
	struct hdr *h;
	uint8_t *bits = NULL;
	uint64_t entries = 0, loading = 0, bytes = 0, used = 0, pins = 0;
	uint32_t i, x, n, nfree = 0, nhashed = 0, live = 0;
	int rc = -1;

	snprintf(why, whysz, "ok");
	if (!c)
		return 0;
	if (cache_lock_index(c, OWNER_LOCK_MS) != 0) {
		snprintf(why, whysz, "lock: %s", strerror(errno));
		return -1;
	}
	h = c->h;
	bits = calloc(((size_t)c->nchunks + 7) / 8, 1);
	if (!bits)
		FAIL("out of memory");
	if (h->magic != CACHE_MAGIC)
		FAIL("bad magic");
	if (h->chunk_hwm > c->nchunks || h->slot_hwm > c->nslots)
		FAIL("high-water marks out of range");
	/* The free chunk list. */
	for (x = h->free_chunk, n = 0; x != NIL; x = c->next[x - 1], n++) {
		if (x > h->chunk_hwm || n > c->nchunks)
			FAIL("free chunk %u out of range", x);
		if (cache_bit_test_set(bits, x - 1))
			FAIL("chunk %u twice on the free list", x);
	}
	if (n != h->free_chunks)
		FAIL("free list has %u chunks, count says %u", n,
		     h->free_chunks);
	/* Slots: plausible, chains disjoint from each other and from the
	 * free list, refs equal to the pin records naming them. */
	for (i = 1; i <= h->slot_hwm; i++) {
		struct slot *s = slot_at(c, i);
		uint32_t refs = 0;
		if (s->state == SLOT_FREE) {
			nfree++;
			continue;
		}
		if (!cache_slot_sane(c, s))
			FAIL("slot %u implausible", i);
		if (cache_chain_claim(c, s, bits) != 0)
			FAIL("slot %u chain overlaps or leaves the arena", i);
		for (uint32_t p = 0; p < c->npins; p++)
			if (c->pins[p].pid != 0 && c->pins[p].slot == i) {
				if (c->pins[p].gen != s->gen)
					FAIL("pin %u has an old gen", p);
				if (s->state == SLOT_LOADING &&
				    c->pins[p].pid != s->loader)
					FAIL("LOADING slot %u pinned by other",
					     i);
				refs++;
			}
		if (refs != s->refs)
			FAIL("slot %u refs %u, pins %u", i, s->refs, refs);
		if (s->state == SLOT_LOADING && refs != 1)
			FAIL("LOADING slot %u has %u pins", i, refs);
		if (s->state == SLOT_STALE && refs == 0)
			FAIL("STALE slot %u unpinned", i);
		if (s->state == SLOT_READY) {
			entries++;
			bytes += s->id.size;
		}
		if (s->state == SLOT_LOADING)
			loading++;
		if (s->state != SLOT_STALE) {
			live++;
			if (s->hash != cache_key_hash(s->key, s->keylen) ||
			    cache_hash_find(c, s->key, s->keylen, s->hash) != i)
				FAIL("slot %u not found by its key", i);
		}
		used += s->nchunks;
		pins += refs;
	}
	for (i = 0; i < h->chunk_hwm; i++)
		if (!(bits[i >> 3] & (1u << (i & 7))))
			FAIL("chunk %u leaked", i + 1);
	for (uint32_t p = 0; p < c->npins; p++) {
		const struct pin *r = &c->pins[p];
		if (r->pid != 0 && (r->slot == NIL || r->slot > h->slot_hwm ||
				    slot_at(c, r->slot)->state == SLOT_FREE))
			FAIL("pin %u names a free slot", p);
	}
	/* The hash holds exactly the LOADING and READY slots. */
	for (uint32_t b = 0; b < c->nbuckets; b++)
		for (x = c->buckets[b], n = 0; x != NIL;
		     x = slot_at(c, x)->hnext) {
			struct slot *s;
			if (x > h->slot_hwm || ++n > c->nslots)
				FAIL("hash chain %u broken", b);
			s = slot_at(c, x);
			if (s->state != SLOT_LOADING && s->state != SLOT_READY)
				FAIL("slot %u in the hash in state %u", x,
				     s->state);
			if ((s->hash & (c->nbuckets - 1)) != b)
				FAIL("slot %u in the wrong bucket", x);
			nhashed++;
		}
	if (nhashed != live)
		FAIL("hash holds %u slots, %u are live", nhashed, live);
	/* The LRU list: exactly the READY slots, stamps never decreasing. */
	n = 0;
	for (x = h->lru_head, i = NIL; x != NIL;
	     i = x, x = slot_at(c, x)->next) {
		struct slot *s;
		if (x > h->slot_hwm || ++n > c->nslots)
			FAIL("LRU list broken");
		s = slot_at(c, x);
		if (s->state != SLOT_READY)
			FAIL("slot %u on the LRU in state %u", x, s->state);
		if (s->prev != i)
			FAIL("slot %u LRU prev link", x);
		if (i != NIL && slot_at(c, i)->stamp > s->stamp)
			FAIL("LRU out of order at slot %u", x);
	}
	if (h->lru_tail != i || n != entries)
		FAIL("LRU tail or length (%u of %llu)", n,
		     (unsigned long long)entries);
	/* The free slot list. */
	for (x = h->free_slot, n = 0; x != NIL; x = slot_at(c, x)->hnext) {
		if (x > h->slot_hwm || ++n > c->nslots ||
		    slot_at(c, x)->state != SLOT_FREE)
			FAIL("free slot list broken at %u", x);
	}
	if (n != nfree)
		FAIL("free slot list has %u, %u are free", n, nfree);
	if (h->st.entries != entries || h->st.loading != loading ||
	    h->st.bytes_used != bytes || h->st.chunks_used != used ||
	    h->st.pins != pins)
		FAIL("gauges: entries %llu/%llu loading %llu/%llu bytes "
		     "%llu/%llu chunks %llu/%llu pins %llu/%llu",
		     (unsigned long long)h->st.entries,
		     (unsigned long long)entries,
		     (unsigned long long)h->st.loading,
		     (unsigned long long)loading,
		     (unsigned long long)h->st.bytes_used,
		     (unsigned long long)bytes,
		     (unsigned long long)h->st.chunks_used,
		     (unsigned long long)used, (unsigned long long)h->st.pins,
		     (unsigned long long)pins);
	rc = 0;
out:
	free(bits);
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
