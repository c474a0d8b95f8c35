/* Crash repair of the cache index: the rebuild run by whoever takes the lock
 * after its holder died (EOWNERDEAD), and the parent's release of the pins
 * and LOADING entries of children that died without releasing them. */
#include "autoconfig.h"

#include "cache_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void pins_clear_slot(struct cache *c, uint32_t i)
{
	for (uint32_t p = 0; p < c->npins; p++)
		if (c->pins[p].pid != 0 && c->pins[p].slot == i)
			c->pins[p].pid = 0;
	slot_at(c, i)->refs = 0;
}

struct stamp_order {
	uint64_t stamp;
	uint32_t slot;
};

static int stamp_cmp(const void *a, const void *b)
{
	const struct stamp_order *x = a, *y = b;

	if (x->stamp != y->stamp)
		return x->stamp < y->stamp ? -1 : 1;
	return x->slot < y->slot ? -1 : x->slot > y->slot;
}

/* Slots whose fields or chains are implausible are dropped. */
static void drop_implausible(struct cache *c, uint32_t hwm, uint8_t *bits,
			     size_t bitsz)
{
	uint32_t i;

again:
	memset(bits, 0, bitsz);
	for (i = 1; i <= hwm; i++) {
		struct slot *s = slot_at(c, i);
		if (s->state == SLOT_FREE)
			continue;
		if (!cache_slot_sane(c, s) ||
		    cache_chain_claim(c, s, bits) != 0) {
			s->state = SLOT_FREE;
			s->gen++;
			goto again;
		}
	}
}

/* Pins: keep those naming a live slot; recount refs. */
static void recount_pins(struct cache *c, uint32_t hwm)
{
	for (uint32_t i = 1; i <= hwm; i++)
		slot_at(c, i)->refs = 0;
	for (uint32_t p = 0; p < c->npins; p++) {
		struct pin *r = &c->pins[p];
		if (r->pid == 0)
			continue;
		if (r->pid < 0 || r->slot == NIL || r->slot > hwm ||
		    slot_at(c, r->slot)->state == SLOT_FREE ||
		    slot_at(c, r->slot)->gen != r->gen) {
			r->pid = 0;
			continue;
		}
		slot_at(c, r->slot)->refs++;
	}
}

/* LOADING needs its loader's pin (the dead owner may have died before
 * recording it); STALE lives only while pinned. */
static void drop_unowned(struct cache *c, uint32_t hwm)
{
	for (uint32_t i = 1; i <= hwm; i++) {
		struct slot *s = slot_at(c, i);
		int ok = 1;
		if (s->state == SLOT_LOADING) {
			ok = s->refs == 1;
			for (uint32_t p = 0; ok && p < c->npins; p++)
				if (c->pins[p].pid != 0 &&
				    c->pins[p].slot == i &&
				    c->pins[p].pid != s->loader)
					ok = 0;
		} else if (s->state == SLOT_STALE) {
			ok = s->refs > 0;
		}
		if (!ok) {
			pins_clear_slot(c, i);
			s->state = SLOT_FREE;
			s->gen++;
		}
	}
}

/* The hash, from the live LOADING and READY slots; a duplicate key (a
 * replacement half done) keeps the first and demotes the other. */
static void rebuild_hash(struct cache *c, uint32_t hwm)
{
	memset(c->buckets, 0, sizeof(uint32_t) * c->nbuckets);
	for (uint32_t i = 1; i <= hwm; i++) {
		struct slot *s = slot_at(c, i);
		if (s->state != SLOT_LOADING && s->state != SLOT_READY)
			continue;
		s->hash = cache_key_hash(s->key, s->keylen);
		if (cache_hash_find(c, s->key, s->keylen, s->hash) == NIL) {
			cache_hash_insert(c, i);
		} else if (s->state == SLOT_READY && s->refs > 0) {
			s->state = SLOT_STALE;
		} else {
			pins_clear_slot(c, i);
			s->state = SLOT_FREE;
			s->gen++;
		}
	}
}

/* Chunks: whatever no surviving slot claims is free. */
static void rebuild_free_chunks(struct cache *c, uint32_t hwm, uint8_t *bits,
				size_t bitsz)
{
	struct hdr *h = c->h;

	memset(bits, 0, bitsz);
	for (uint32_t i = 1; i <= hwm; i++)
		if (slot_at(c, i)->state != SLOT_FREE)
			(void)cache_chain_claim(c, slot_at(c, i), bits);
	h->free_chunk = NIL;
	h->free_chunks = 0;
	for (uint32_t x = h->chunk_hwm; x >= 1; x--) {
		if (bits[(x - 1) >> 3] & (1u << ((x - 1) & 7)))
			continue;
		c->next[x - 1] = h->free_chunk;
		h->free_chunk = x;
		h->free_chunks++;
	}
}

/* Free slots and gauges; the READY slots go into ord for the LRU.  Returns
 * how many. */
static uint32_t rebuild_free_slots(struct cache *c, uint32_t hwm,
				   struct stamp_order *ord)
{
	struct hdr *h = c->h;
	struct cache_stats *st = &h->st;
	uint32_t n = 0;

	h->free_slot = NIL;
	st->entries = st->loading = st->bytes_used = 0;
	st->chunks_used = st->pins = 0;
	for (uint32_t i = hwm; i >= 1; i--) {
		struct slot *s = slot_at(c, i);
		s->prev = s->next = NIL;
		switch (s->state) {
		case SLOT_FREE:
			s->hnext = h->free_slot;
			h->free_slot = i;
			continue;
		case SLOT_READY:
			ord[n].stamp = s->stamp;
			ord[n].slot = i;
			n++;
			st->entries++;
			st->bytes_used += s->id.size;
			break;
		case SLOT_LOADING:
			st->loading++;
			break;
		default:
			break;
		}
		st->chunks_used += s->nchunks;
		st->pins += s->refs;
	}
	return n;
}

/* The LRU in stamp order, keeping the stamps. */
static void rebuild_lru(struct cache *c, struct stamp_order *ord, uint32_t n)
{
	struct hdr *h = c->h;

	qsort(ord, n, sizeof(*ord), stamp_cmp);
	h->lru_head = h->lru_tail = NIL;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t stamp = ord[k].stamp;
		cache_lru_push(c, ord[k].slot);
		slot_at(c, ord[k].slot)->stamp = stamp;
		if (h->tick < stamp)
			h->tick = stamp;
	}
}

/* The lock's owner died, perhaps mid-update.  Slot states, keys, chains and
 * pin records are the truth; hash, LRU, free lists, refs and gauges are
 * rebuilt from them.  Anything implausible is dropped, never served. */
void cache_repair(struct cache *c)
{
	struct hdr *h = c->h;
	size_t bitsz = ((size_t)c->nchunks + 7) / 8;
	uint8_t *bits = malloc(bitsz);
	struct stamp_order *ord = malloc(sizeof(*ord) * c->nslots);
	uint32_t hwm;

	if (!bits || !ord) {
		h->broken = 1; /* cannot rebuild: turn the cache off */
		free(bits);
		free(ord);
		return;
	}
	if (h->chunk_hwm > c->nchunks)
		h->chunk_hwm = c->nchunks;
	if (h->slot_hwm > c->nslots)
		h->slot_hwm = c->nslots;
	hwm = h->slot_hwm;
	drop_implausible(c, hwm, bits, bitsz);
	recount_pins(c, hwm);
	drop_unowned(c, hwm);
	rebuild_hash(c, hwm);
	rebuild_free_chunks(c, hwm, bits, bitsz);
	rebuild_lru(c, ord, rebuild_free_slots(c, hwm, ord));
	free(bits);
	free(ord);
}

int cache_release_owner(struct cache *c, pid_t pid)
{
	return cache_release_owner_within(c, pid, OWNER_LOCK_MS);
}

int cache_release_owner_within(struct cache *c, pid_t pid, unsigned lock_ms)
{
	int n = 0;

	if (!c || pid <= 0)
		return 0;
	if (cache_lock_index(c, lock_ms) != 0) {
		errno = EAGAIN;
		return -1;
	}
	for (uint32_t p = 1; p <= c->npins; p++) {
		if (c->pins[p - 1].pid != (int32_t)pid)
			continue;
		cache_pin_drop(c, p);
		c->h->st.released_dead++;
		n++;
	}
	cache_unlock_index(c);
	return n;
}
