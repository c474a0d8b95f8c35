/* The cache index inside the shared mapping: key hash, hash chains and the
 * LRU list of slots, chunk chains of the arena, pin records, eviction, and
 * the plausibility tests that the repair and the checker share. */
#include "autoconfig.h"

#include "cache_internal.h"

#include <string.h>

uint64_t cache_key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

uint32_t cache_chunks_for(const struct cache *c, uint64_t size)
{
	uint64_t n = (size + c->chunk_size - 1) >> c->chunk_shift;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* --- hash, LRU, chunks, slots, pins: all called with the lock held --- */

uint32_t cache_hash_find(const struct cache *c, const char *key, size_t keylen,
			 uint64_t hash)
{
	uint32_t i = c->buckets[hash & (c->nbuckets - 1)];
	uint32_t guard = c->nslots;

	while (i != NIL && i <= c->nslots && guard-- > 0) {
		const struct slot *s = slot_at(c, i);
		if (s->hash == hash && s->keylen == keylen &&
		    memcmp(s->key, key, keylen) == 0)
			return i;
		i = s->hnext;
	}
	return NIL;
}

void cache_hash_insert(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);
	uint32_t *b = &c->buckets[s->hash & (c->nbuckets - 1)];

	s->hnext = *b;
	commit_barrier();
	*b = i;
}

static void hash_remove(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);
	uint32_t *link = &c->buckets[s->hash & (c->nbuckets - 1)];
	uint32_t guard = c->nslots;

	while (*link != NIL && *link <= c->nslots && guard-- > 0) {
		if (*link == i) {
			*link = s->hnext;
			return;
		}
		link = &slot_at(c, *link)->hnext;
	}
}

void cache_lru_unlink(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);

	if (s->prev != NIL)
		slot_at(c, s->prev)->next = s->next;
	else
		c->h->lru_head = s->next;
	crash_point(c, CACHE_CRASH_LRU_UNLINK);
	if (s->next != NIL)
		slot_at(c, s->next)->prev = s->prev;
	else
		c->h->lru_tail = s->prev;
	s->prev = s->next = NIL;
}

void cache_lru_push(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);

	s->stamp = ++c->h->tick;
	s->next = NIL;
	s->prev = c->h->lru_tail;
	if (c->h->lru_tail != NIL)
		slot_at(c, c->h->lru_tail)->next = i;
	else
		c->h->lru_head = i;
	c->h->lru_tail = i;
}

/* The free list first, then never-used chunks. */
uint32_t cache_chunks_take(struct cache *c, uint32_t n)
{
	struct hdr *h = c->h;
	uint32_t first = NIL, last = NIL;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t x;
		if (h->free_chunk != NIL) {
			x = h->free_chunk;
			h->free_chunk = c->next[x - 1];
			h->free_chunks--;
		} else {
			x = ++h->chunk_hwm;
		}
		c->next[x - 1] = NIL;
		if (last != NIL)
			c->next[last - 1] = x;
		else
			first = x;
		last = x;
	}
	return first;
}

static void chunks_give(struct cache *c, uint32_t first, uint32_t n)
{
	struct hdr *h = c->h;
	uint32_t x = first;

	for (uint32_t k = 0; k < n && x != NIL && x <= c->nchunks; k++) {
		uint32_t nx = c->next[x - 1];
		c->next[x - 1] = h->free_chunk;
		h->free_chunk = x;
		h->free_chunks++;
		if (k == 0)
			crash_point(c, CACHE_CRASH_FREE_CHUNKS);
		x = nx;
	}
}

static uint32_t free_chunk_count(const struct cache *c)
{
	return c->h->free_chunks + (c->nchunks - c->h->chunk_hwm);
}

void cache_entry_drop(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);
	struct cache_stats *st = &c->h->st;
	uint32_t first = s->first, n = s->nchunks;

	if (s->state == SLOT_READY) {
		hash_remove(c, i);
		cache_lru_unlink(c, i);
		st->entries--;
		st->bytes_used -= s->id.size;
	} else if (s->state == SLOT_LOADING) {
		hash_remove(c, i);
		st->loading--;
	}
	st->chunks_used -= n;
	s->gen++;
	commit_barrier();
	s->state = SLOT_FREE; /* from here on the chunks belong to no one */
	commit_barrier();
	chunks_give(c, first, n);
	s->first = NIL;
	s->nchunks = 0;
	s->hnext = c->h->free_slot;
	c->h->free_slot = i;
}

void cache_entry_detach(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);

	hash_remove(c, i);
	cache_lru_unlink(c, i);
	c->h->st.entries--;
	c->h->st.bytes_used -= s->id.size;
	commit_barrier();
	s->state = SLOT_STALE;
}

uint32_t cache_slot_take(struct cache *c)
{
	struct hdr *h = c->h;
	uint32_t i;

	if (h->free_slot != NIL) {
		i = h->free_slot;
		h->free_slot = slot_at(c, i)->hnext;
		return i;
	}
	if (h->slot_hwm < c->nslots)
		return ++h->slot_hwm;
	return NIL;
}

uint32_t cache_pin_find_free(struct cache *c)
{
	uint32_t start = c->h->pin_hint % c->npins;

	for (uint32_t k = 0; k < c->npins; k++) {
		uint32_t p = (start + k) % c->npins;
		if (c->pins[p].pid == 0)
			return p + 1;
	}
	return NIL;
}

void cache_pin_set(struct cache *c, uint32_t p, uint32_t i, pid_t pid)
{
	struct pin *r = &c->pins[p - 1];
	struct slot *s = slot_at(c, i);

	r->slot = i;
	r->gen = s->gen;
	r->seq++;
	commit_barrier();
	r->pid = (int32_t)pid;
	s->refs++;
	c->h->st.pins++;
	c->h->pin_hint = p; /* p is 1-based: the next record */
}

void cache_pin_drop(struct cache *c, uint32_t p)
{
	struct pin *r = &c->pins[p - 1];
	struct slot *s;
	uint32_t i = r->slot;

	r->pid = 0;
	commit_barrier();
	crash_point(c, CACHE_CRASH_PIN_RELEASE);
	c->h->st.pins--;
	if (i == NIL || i > c->nslots)
		return;
	s = slot_at(c, i);
	if (s->state == SLOT_FREE || r->gen != s->gen)
		return;
	if (s->refs > 0)
		s->refs--;
	if (s->state == SLOT_LOADING) {
		c->h->st.fill_failures++;
		cache_entry_drop(c, i);
	} else if (s->state == SLOT_STALE && s->refs == 0) {
		cache_entry_drop(c, i);
	}
}

int cache_make_room(struct cache *c, uint32_t n)
{
	uint64_t avail = free_chunk_count(c);
	uint32_t i;

	if (avail >= n)
		return 0;
	for (i = c->h->lru_head; i != NIL && avail < n; i = slot_at(c, i)->next)
		if (slot_at(c, i)->refs == 0)
			avail += slot_at(c, i)->nchunks;
	if (avail < n)
		return -1;
	while (free_chunk_count(c) < n) {
		i = c->h->lru_head;
		while (i != NIL && slot_at(c, i)->refs != 0)
			i = slot_at(c, i)->next;
		if (i == NIL)
			return -1; /* cannot happen: counted above */
		cache_entry_drop(c, i);
		c->h->st.evictions++;
	}
	return 0;
}

int cache_slot_sane(const struct cache *c, const struct slot *s)
{
	if (s->state != SLOT_LOADING && s->state != SLOT_READY &&
	    s->state != SLOT_STALE)
		return 0;
	if (s->keylen == 0 || s->keylen >= CACHE_KEY_MAX ||
	    memchr(s->key, '\0', s->keylen) != NULL ||
	    s->key[s->keylen] != '\0')
		return 0;
	if (s->id.size == 0 || s->nchunks != cache_chunks_for(c, s->id.size) ||
	    s->nchunks > c->h->chunk_hwm)
		return 0;
	return s->first != NIL && s->first <= c->h->chunk_hwm;
}

int cache_bit_test_set(uint8_t *bits, uint32_t i)
{
	uint8_t m = (uint8_t)(1u << (i & 7));

	if (bits[i >> 3] & m)
		return 1;
	bits[i >> 3] |= m;
	return 0;
}

int cache_chain_claim(const struct cache *c, const struct slot *s,
		      uint8_t *bits)
{
	uint32_t x = s->first;

	for (uint32_t k = 0; k < s->nchunks; k++) {
		if (x == NIL || x > c->h->chunk_hwm ||
		    cache_bit_test_set(bits, x - 1))
			return -1;
		x = c->next[x - 1];
	}
	return 0;
}
