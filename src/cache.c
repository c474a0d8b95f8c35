/* The cache's interface to the transfer children and the parent: acquire an
 * entry (hit, fill or bypass), fill it from the file, describe its bytes as
 * iovecs into the arena, release it, and the counters. */
#include "autoconfig.h"

#include "cache_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

static void count_unlocked(uint64_t *counter)
{
	/* GCC and clang builtin: the lock is exactly what we could not get. */
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void ident_from_stat(struct ident *id, const struct stat *st)
{
	memset(id, 0, sizeof(*id));
	id->dev = (uint64_t)st->st_dev;
	id->ino = (uint64_t)st->st_ino;
	id->size = (uint64_t)st->st_size;
	id->mtime_s = (int64_t)st->st_mtim.tv_sec;
	id->mtime_ns = (int64_t)st->st_mtim.tv_nsec;
	id->ctime_s = (int64_t)st->st_ctim.tv_sec;
	id->ctime_ns = (int64_t)st->st_ctim.tv_nsec;
}

static int ident_eq(const struct ident *a, const struct ident *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime_s == b->mtime_s && a->mtime_ns == b->mtime_ns &&
	       a->ctime_s == b->ctime_s && a->ctime_ns == b->ctime_ns;
}

/* Changed less than settle_ms ago (or in the future)?  Coarse timestamps
 * could then hide a second write within the same tick. */
static int settling(const struct cache *c, const struct ident *id)
{
	struct timespec now;
	int64_t s = id->mtime_s, ns = id->mtime_ns, age_ms;

	if (c->settle_ms == 0)
		return 0;
	if (id->ctime_s > s || (id->ctime_s == s && id->ctime_ns > ns)) {
		s = id->ctime_s;
		ns = id->ctime_ns;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	age_ms = ((int64_t)now.tv_sec - s) * 1000 +
		 ((int64_t)now.tv_nsec - ns) / 1000000;
	return age_ms < (int64_t)c->settle_ms;
}

/* --- acquire, fill, serve, release --- */

static void ref_set(struct cache *c, struct cache_ref *ref, uint32_t i,
		    uint32_t p, const struct stat *st)
{
	const struct slot *s = slot_at(c, i);

	ref->cache = c;
	ref->slot = i;
	ref->pin = p;
	ref->seq = c->pins[p - 1].seq;
	ref->loading = s->state == SLOT_LOADING;
	ref->size = s->id.size;
	ref->first = s->first;
	ref->cur_ord = 0;
	ref->cur_chunk = s->first;
	ref->served = 0;
	ref->st = *st;
}

/* Does this process hold *ref?  Called with the lock held. */
static int ref_held(const struct cache *c, const struct cache_ref *ref)
{
	const struct pin *r;

	if (ref->pin == NIL || ref->pin > c->npins)
		return 0;
	r = &c->pins[ref->pin - 1];
	return r->pid == (int32_t)getpid() && r->seq == ref->seq &&
	       r->slot == ref->slot && ref->slot != NIL &&
	       ref->slot <= c->nslots && r->gen == slot_at(c, ref->slot)->gen;
}

enum cache_result cache_acquire(struct cache *c, const char *key,
				const struct stat *st, struct cache_ref *ref)
{
	struct cache_stats *cs;
	struct ident id;
	struct slot *s;
	size_t keylen;
	uint64_t hash;
	uint32_t i, p, need;
	enum cache_result res = CACHE_BYPASS;

	memset(ref, 0, sizeof(*ref));
	if (!c)
		return CACHE_BYPASS;
	if (cache_lock_index(c, c->lock_ms) != 0) {
		count_unlocked(&c->h->st.bypass_lock);
		return CACHE_BYPASS;
	}
	cs = &c->h->st;
	keylen = strnlen(key, CACHE_KEY_MAX);
	ident_from_stat(&id, st);
	need = cache_chunks_for(c, id.size);
	if (keylen == 0 || keylen >= CACHE_KEY_MAX) {
		cs->bypass_too_big++;
		goto out;
	}
	hash = cache_key_hash(key, keylen);
	i = cache_hash_find(c, key, keylen, hash);
	if (i != NIL) {
		s = slot_at(c, i);
		if (s->state == SLOT_LOADING) {
			cs->bypass_loading++;
			goto out;
		}
		if (ident_eq(&s->id, &id)) {
			p = cache_pin_find_free(c);
			if (p == NIL) {
				cs->bypass_no_space++;
				goto out;
			}
			cache_pin_set(c, p, i, getpid());
			cache_lru_unlink(c, i);
			cache_lru_push(c, i);
			cs->hits++;
			ref_set(c, ref, i, p, st);
			res = CACHE_HIT;
			goto out;
		}
		/* The file changed: never serve these bytes again. */
		cs->stale++;
		if (s->refs == 0)
			cache_entry_drop(c, i);
		else
			cache_entry_detach(c, i);
	}
	/* After the lookup, so that a file grown too big or emptied still
	 * drops its old entry. */
	if (st->st_size <= 0 || id.size > c->max_file || need > c->nchunks) {
		cs->bypass_too_big++;
		goto out;
	}
	if (settling(c, &id)) {
		cs->bypass_settling++;
		goto out;
	}
	cs->misses++;
	p = cache_pin_find_free(c);
	if (p == NIL || cache_make_room(c, need) != 0) {
		cs->bypass_no_space++;
		goto out;
	}
	i = cache_slot_take(c);
	if (i == NIL) { /* cannot happen: every live slot holds a chunk */
		cs->bypass_no_space++;
		goto out;
	}
	s = slot_at(c, i);
	s->first = cache_chunks_take(c, need);
	s->nchunks = need;
	crash_point(c, CACHE_CRASH_ALLOC_CHAIN);
	s->refs = 0;
	s->prev = s->next = NIL;
	s->keylen = (uint32_t)keylen;
	memcpy(s->key, key, keylen);
	s->key[keylen] = '\0';
	s->hash = hash;
	s->id = id;
	s->loader = (int32_t)getpid();
	s->stamp = c->h->tick;
	commit_barrier();
	s->state = SLOT_LOADING; /* from here on the chunks are the slot's */
	cs->loading++;
	cs->chunks_used += need;
	crash_point(c, CACHE_CRASH_ALLOC_HASH);
	cache_hash_insert(c, i);
	crash_point(c, CACHE_CRASH_ALLOC_PIN);
	cache_pin_set(c, p, i, getpid());
	ref_set(c, ref, i, p, st);
	res = CACHE_FILL;
out:
	cache_unlock_index(c);
	return res;
}

static int read_at(int fd, unsigned char *buf, size_t len, uint64_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ESTALE; /* shrank since the fstat */
			return -1;
		}
		got += (size_t)n;
	}
	return 0;
}

int cache_fill(struct cache_ref *ref, int fd)
{
	struct cache *c = ref ? ref->cache : NULL;
	struct ident before, after;
	struct stat st;
	uint64_t off = 0;
	uint32_t x = ref ? ref->first : NIL;
	unsigned char extra;
	int err = 0;

	if (!c || !ref->loading) {
		errno = EINVAL;
		return -1;
	}
	/* The chunks are ours alone while LOADING: no lock needed. */
	for (uint32_t k = 0; off < ref->size; k++) {
		size_t want = c->chunk_size;
		if (want > ref->size - off)
			want = (size_t)(ref->size - off);
		if (x == NIL || x > c->nchunks) {
			err = EINVAL;
			break;
		}
		if (read_at(fd, c->arena + (size_t)(x - 1) * c->chunk_size,
			    want, off) != 0) {
			err = errno;
			break;
		}
		off += want;
		x = c->next[x - 1];
	}
	if (err == 0 && pread(fd, &extra, 1, (off_t)ref->size) != 0)
		err = ESTALE; /* grew, or cannot tell */
	if (err == 0 && fstat(fd, &st) != 0)
		err = errno;
	if (err == 0) {
		ident_from_stat(&before, &ref->st);
		ident_from_stat(&after, &st);
		if (!ident_eq(&before, &after))
			err = ESTALE;
	}
	if (cache_lock_index(c, OWNER_LOCK_MS) != 0) {
		/* The parent abandons the entry when this process exits. */
		memset(ref, 0, sizeof(*ref));
		errno = err ? err : EAGAIN;
		return -1;
	}
	if (!ref_held(c, ref) || slot_at(c, ref->slot)->state != SLOT_LOADING) {
		cache_unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = EINVAL;
		return -1;
	}
	if (err != 0) {
		cache_pin_drop(c, ref->pin); /* abandons the LOADING entry */
		cache_unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = err;
		return -1;
	}
	struct slot *s = slot_at(c, ref->slot);
	cache_lru_push(c, ref->slot);
	c->h->st.loading--;
	c->h->st.entries++;
	c->h->st.bytes_used += s->id.size;
	c->h->st.fills++;
	commit_barrier();
	s->state = SLOT_READY;
	cache_unlock_index(c);
	ref->loading = 0;
	return 0;
}

int cache_release(struct cache_ref *ref)
{
	struct cache *c = ref ? ref->cache : NULL;

	if (!c) {
		errno = EINVAL;
		return -1;
	}
	if (cache_lock_index(c, c->lock_ms) != 0) {
		/* The pin stays; cache_release_owner drops it at exit. */
		memset(ref, 0, sizeof(*ref));
		errno = EAGAIN;
		return -1;
	}
	if (!ref_held(c, ref)) {
		cache_unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = EINVAL;
		return -1;
	}
	c->h->st.bytes_served += ref->served;
	cache_pin_drop(c, ref->pin);
	cache_unlock_index(c);
	memset(ref, 0, sizeof(*ref));
	return 0;
}

int cache_abandon(struct cache_ref *ref)
{
	if (!ref || !ref->cache || !ref->loading) {
		errno = EINVAL;
		return -1;
	}
	return cache_release(ref);
}

/* Chunk number ord of the entry, 1-based, or NIL past its chain. */
static uint32_t ref_seek(struct cache_ref *ref, uint32_t ord)
{
	const struct cache *c = ref->cache;

	if (ord < ref->cur_ord || ref->cur_chunk == NIL ||
	    ref->cur_chunk > c->nchunks) {
		ref->cur_ord = 0;
		ref->cur_chunk = ref->first;
	}
	while (ref->cur_ord < ord) {
		uint32_t nx;
		if (ref->cur_chunk == NIL || ref->cur_chunk > c->nchunks)
			return NIL;
		nx = c->next[ref->cur_chunk - 1];
		ref->cur_chunk = nx;
		ref->cur_ord++;
	}
	if (ref->cur_chunk == NIL || ref->cur_chunk > c->nchunks)
		return NIL;
	return ref->cur_chunk;
}

size_t cache_iov(struct cache_ref *ref, uint64_t offset, size_t len,
		 struct iovec iov[2], int *niov)
{
	const struct cache *c;
	size_t done = 0;
	uint32_t ord;
	size_t within;

	*niov = 0;
	if (!ref || !ref->cache || ref->loading || offset >= ref->size)
		return 0;
	c = ref->cache;
	if (len > ref->size - offset)
		len = (size_t)(ref->size - offset);
	ord = (uint32_t)(offset >> c->chunk_shift);
	within = (size_t)(offset & (c->chunk_size - 1));
	while (done < len && *niov < 2) {
		uint32_t x = ref_seek(ref, ord);
		size_t piece = c->chunk_size - within;
		if (x == NIL)
			break;
		if (piece > len - done)
			piece = len - done;
		iov[*niov].iov_base =
			c->arena + (size_t)(x - 1) * c->chunk_size + within;
		iov[*niov].iov_len = piece;
		(*niov)++;
		done += piece;
		ord++;
		within = 0;
	}
	ref->served += done;
	return done;
}

/* --- statistics --- */

void cache_stats(struct cache *c, struct cache_stats *out)
{
	if (!c) {
		memset(out, 0, sizeof(*out));
		return;
	}
	if (cache_lock_index(c, c->lock_ms) != 0) {
		memcpy(out, &c->h->st, sizeof(*out));
		out->broken = c->h->broken != 0;
		return;
	}
	*out = c->h->st;
	out->broken = 0;
	cache_unlock_index(c);
}

char *cache_stats_format(const struct cache_stats *s, char *out, size_t outsz)
{
	snprintf(out, outsz,
		 "cache: entries=%llu loading=%llu bytes=%llu "
		 "chunks=%llu/%llu pins=%llu hits=%llu misses=%llu "
		 "fills=%llu fill_failures=%llu evictions=%llu stale=%llu "
		 "bypass_loading=%llu bypass_too_big=%llu "
		 "bypass_no_space=%llu bypass_settling=%llu bypass_lock=%llu "
		 "served=%llu released_dead=%llu repairs=%llu%s",
		 (unsigned long long)s->entries, (unsigned long long)s->loading,
		 (unsigned long long)s->bytes_used,
		 (unsigned long long)s->chunks_used,
		 (unsigned long long)s->chunks_total,
		 (unsigned long long)s->pins, (unsigned long long)s->hits,
		 (unsigned long long)s->misses, (unsigned long long)s->fills,
		 (unsigned long long)s->fill_failures,
		 (unsigned long long)s->evictions, (unsigned long long)s->stale,
		 (unsigned long long)s->bypass_loading,
		 (unsigned long long)s->bypass_too_big,
		 (unsigned long long)s->bypass_no_space,
		 (unsigned long long)s->bypass_settling,
		 (unsigned long long)s->bypass_lock,
		 (unsigned long long)s->bytes_served,
		 (unsigned long long)s->released_dead,
		 (unsigned long long)s->repairs, s->broken ? " BROKEN" : "");
	return out;
}
