/* The shared-memory file cache.  Everything lives in one MAP_SHARED mapping
 * made before the first fork: a header with the lock and counters, a pin
 * table, hash buckets, entry slots, a chunk-chain array and the data arena.
 * Links are 1-based indices (0 = none), never pointers, so zero-filled
 * memory is an empty, valid index and every process can follow them. */
#include "autoconfig.h"

#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(HAVE_PTHREAD_MUTEXATTR_SETROBUST) &&      \
	defined(HAVE_PTHREAD_MUTEX_CONSISTENT) &&     \
	defined(HAVE_PTHREAD_MUTEXATTR_SETPSHARED) && \
	defined(HAVE_PTHREAD_MUTEX_TIMEDLOCK)
#define CACHE_ROBUST 1
#endif

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

/* A kill between two stores must not see them reordered by the compiler:
 * the store that commits a change comes after this. */
static void commit_barrier(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

static void crash_point(const struct cache *c, enum cache_crash_point p)
{
	if (c->crash_at == (int)p)
		raise(SIGKILL);
}

static void count_unlocked(uint64_t *counter)
{
	/* GCC and clang builtin: the lock is exactly what we could not get. */
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

void cache_params_default(struct cache_params *p)
{
	memset(p, 0, sizeof(*p));
	p->size = (size_t)64 * 1024 * 1024;
	p->max_file = (size_t)16 * 1024 * 1024;
	p->max_pins = 64;
	p->chunk_size = CACHE_CHUNK_DEFAULT;
	p->lock_ms = 100;
	p->settle_ms = 2000;
}

/* --- the lock --- */

static void repair(struct cache *c);

#ifdef CACHE_ROBUST
static int mutex_init_shared(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	int rc;

	if ((rc = pthread_mutexattr_init(&a)) != 0)
		return rc;
	rc = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
	if (rc == 0)
		rc = pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
	if (rc == 0)
		rc = pthread_mutex_init(m, &a);
	pthread_mutexattr_destroy(&a);
	return rc;
}

/* Take the index lock, waiting at most ms.  A previous owner that died
 * holding it left the index possibly half-updated: rebuild it, then mark
 * the mutex consistent.  Returns 0, or -1 with errno EAGAIN (timeout) or
 * EIO (the cache is broken). */
static int lock_index(struct cache *c, unsigned ms)
{
	pthread_mutex_t *m = &c->h->lock;
	int rc = pthread_mutex_trylock(m);

	if (rc == EBUSY) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(ms / 1000);
		ts.tv_nsec += (long)(ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		rc = pthread_mutex_timedlock(m, &ts);
	}
	if (rc == EOWNERDEAD) {
		repair(c);
		c->h->st.repairs++;
		if (pthread_mutex_consistent(m) != 0)
			c->h->broken = 1;
		rc = 0;
	}
	if (rc == ENOTRECOVERABLE) {
		c->h->broken = 1;
		errno = EIO;
		return -1;
	}
	if (rc != 0) {
		errno = rc == ETIMEDOUT ? EAGAIN : rc;
		return -1;
	}
	if (c->h->broken) {
		pthread_mutex_unlock(m);
		errno = EIO;
		return -1;
	}
	return 0;
}
#else
static int mutex_init_shared(pthread_mutex_t *m)
{
	(void)m;
	return ENOSYS;
}

static int lock_index(struct cache *c, unsigned ms)
{
	(void)c;
	(void)ms;
	errno = ENOSYS;
	return -1;
}
#endif

static void unlock_index(struct cache *c)
{
	pthread_mutex_unlock(&c->h->lock);
}

/* --- small helpers --- */

static struct slot *slot_at(const struct cache *c, uint32_t one_based)
{
	return &c->slots[one_based - 1];
}

static uint64_t key_hash(const char *key, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 0x100000001b3ULL;
	}
	return h;
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

static uint32_t chunks_for(const struct cache *c, uint64_t size)
{
	uint64_t n = (size + c->chunk_size - 1) >> c->chunk_shift;

	return n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
}

/* --- hash, LRU, chunks, slots, pins: all called with the lock held --- */

static uint32_t hash_find(const struct cache *c, const char *key, size_t keylen,
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

static void hash_insert(struct cache *c, uint32_t i)
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

static void lru_unlink(struct cache *c, uint32_t i)
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

/* Append at the most recent end. */
static void lru_push(struct cache *c, uint32_t i)
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

/* Take n chunks (free list first, then never-used ones) as a chain.  The
 * caller has made sure they exist.  Returns the first, 1-based. */
static uint32_t chunks_take(struct cache *c, uint32_t n)
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

/* Free a slot and everything it holds.  Its pins must be gone already
 * (refs 0), except for a LOADING slot whose loader pin the caller drops. */
static void entry_drop(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);
	struct cache_stats *st = &c->h->st;
	uint32_t first = s->first, n = s->nchunks;

	if (s->state == SLOT_READY) {
		hash_remove(c, i);
		lru_unlink(c, i);
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

/* The file changed while others still serve the old bytes: unlink the
 * entry so no new acquirer finds it; its last release frees it. */
static void entry_detach(struct cache *c, uint32_t i)
{
	struct slot *s = slot_at(c, i);

	hash_remove(c, i);
	lru_unlink(c, i);
	c->h->st.entries--;
	c->h->st.bytes_used -= s->id.size;
	commit_barrier();
	s->state = SLOT_STALE;
}

static uint32_t slot_take(struct cache *c)
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

static uint32_t pin_find_free(struct cache *c)
{
	uint32_t start = c->h->pin_hint % c->npins;

	for (uint32_t k = 0; k < c->npins; k++) {
		uint32_t p = (start + k) % c->npins;
		if (c->pins[p].pid == 0)
			return p + 1;
	}
	return NIL;
}

/* Record a pin by pid on slot i in free pin record p (1-based). */
static void pin_set(struct cache *c, uint32_t p, uint32_t i, pid_t pid)
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

/* Drop pin record p (1-based).  A LOADING slot it held is abandoned, a
 * STALE slot it was the last pin of is freed. */
static void pin_drop(struct cache *c, uint32_t p)
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
		entry_drop(c, i);
	} else if (s->state == SLOT_STALE && s->refs == 0) {
		entry_drop(c, i);
	}
}

/* Make n chunks free, evicting unpinned READY entries oldest first, but only
 * if that is enough: never evict for nothing.  Returns 0 or -1. */
static int make_room(struct cache *c, uint32_t n)
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
		entry_drop(c, i);
		c->h->st.evictions++;
	}
	return 0;
}

/* --- create, destroy --- */

static size_t align_up(size_t v, size_t a)
{
	return (v + a - 1) / a * a;
}

struct layout {
	size_t pins, buckets, slots, next, arena, end;
	uint32_t nbuckets;
};

static void layout_for(struct layout *l, uint32_t nchunks, unsigned npins,
		       size_t chunk, size_t page)
{
	uint32_t nb = 1;

	while (nb < nchunks)
		nb <<= 1;
	l->nbuckets = nb;
	l->pins = align_up(sizeof(struct hdr), 64);
	l->buckets = align_up(l->pins + (size_t)npins * sizeof(struct pin), 64);
	l->slots = align_up(l->buckets + (size_t)nb * sizeof(uint32_t), 64);
	l->next =
		align_up(l->slots + (size_t)nchunks * sizeof(struct slot), 64);
	l->arena = align_up(l->next + (size_t)nchunks * sizeof(uint32_t), page);
	l->end = l->arena + (size_t)nchunks * chunk;
}

static void *map_shared(size_t size)
{
	void *p;
#if HAVE_DECL_MAP_ANONYMOUS && !defined(CACHE_USE_SHM_OPEN)
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		 -1, 0);
#else
	/* POSIX before 2024 has no MAP_ANONYMOUS: a shared memory object,
	 * unlinked at once, gives the same zero-filled shared pages. */
	static unsigned serial;
	char name[64];
	int fd = -1;

	for (int tries = 0; tries < 16 && fd < 0; tries++) {
		snprintf(name, sizeof(name), "/ctftpd-cache-%ld-%u",
			 (long)getpid(), serial++);
		fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
		if (fd < 0 && errno != EEXIST)
			return MAP_FAILED;
	}
	if (fd < 0)
		return MAP_FAILED;
	shm_unlink(name);
	if (ftruncate(fd, (off_t)size) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return MAP_FAILED;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
#endif
	return p;
}

struct cache *cache_create(const struct cache_params *p)
{
	struct layout l;
	struct cache *c;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), per_chunk;
	uint64_t n;
	unsigned shift = 0;
	int rc;

	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	if (p->size == 0) {
		errno = 0;
		return NULL;
	}
	while (((size_t)1 << shift) < p->chunk_size && shift < 63)
		shift++;
	if (p->chunk_size < 4096 || p->chunk_size > ((size_t)16 << 20) ||
	    ((size_t)1 << shift) != p->chunk_size || p->max_pins == 0 ||
	    p->max_pins > (1u << 20)) {
		errno = EINVAL;
		return NULL;
	}
#ifndef CACHE_ROBUST
	errno = ENOSYS;
	return NULL;
#endif
	/* Every chunk brings its slot, its next[] word and up to two buckets,
	 * so small files (one chunk each) never run out of slots. */
	per_chunk = p->chunk_size + sizeof(struct slot) + 3 * sizeof(uint32_t);
	layout_for(&l, 0, p->max_pins, p->chunk_size, page);
	if (p->size < l.arena + page) {
		errno = EINVAL;
		return NULL;
	}
	n = (p->size - l.arena - page) / per_chunk;
	if (n > UINT32_MAX / 2)
		n = UINT32_MAX / 2;
	for (;;) {
		if (n == 0) {
			errno = EINVAL;
			return NULL;
		}
		layout_for(&l, (uint32_t)n, p->max_pins, p->chunk_size, page);
		if (l.end <= p->size)
			break;
		n--;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = map_shared(p->size);
	if (c->base == MAP_FAILED) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	c->map_size = p->size;
	c->h = (struct hdr *)(void *)c->base;
	c->pins = (struct pin *)(void *)(c->base + l.pins);
	c->buckets = (uint32_t *)(void *)(c->base + l.buckets);
	c->slots = (struct slot *)(void *)(c->base + l.slots);
	c->next = (uint32_t *)(void *)(c->base + l.next);
	c->arena = c->base + l.arena;
	c->nchunks = c->nslots = (uint32_t)n;
	c->nbuckets = l.nbuckets;
	c->npins = p->max_pins;
	c->chunk_size = p->chunk_size;
	c->chunk_shift = shift;
	c->max_file = p->max_file ? p->max_file : (uint64_t)n * p->chunk_size;
	c->lock_ms = p->lock_ms;
	c->settle_ms = p->settle_ms;
	/* Only the header is written: the rest is valid as zero-filled. */
	c->h->magic = CACHE_MAGIC;
	c->h->st.chunks_total = n;
	c->h->st.chunk_size = p->chunk_size;
	rc = mutex_init_shared(&c->h->lock);
	if (rc != 0) {
		munmap(c->base, c->map_size);
		free(c);
		errno = rc;
		return NULL;
	}
	return c;
}

void cache_destroy(struct cache *c)
{
	if (!c)
		return;
	munmap(c->base, c->map_size);
	free(c);
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
	if (lock_index(c, c->lock_ms) != 0) {
		count_unlocked(&c->h->st.bypass_lock);
		return CACHE_BYPASS;
	}
	cs = &c->h->st;
	keylen = strnlen(key, CACHE_KEY_MAX);
	ident_from_stat(&id, st);
	need = chunks_for(c, id.size);
	if (keylen == 0 || keylen >= CACHE_KEY_MAX) {
		cs->bypass_too_big++;
		goto out;
	}
	hash = key_hash(key, keylen);
	i = hash_find(c, key, keylen, hash);
	if (i != NIL) {
		s = slot_at(c, i);
		if (s->state == SLOT_LOADING) {
			cs->bypass_loading++;
			goto out;
		}
		if (ident_eq(&s->id, &id)) {
			p = pin_find_free(c);
			if (p == NIL) {
				cs->bypass_no_space++;
				goto out;
			}
			pin_set(c, p, i, getpid());
			lru_unlink(c, i);
			lru_push(c, i);
			cs->hits++;
			ref_set(c, ref, i, p, st);
			res = CACHE_HIT;
			goto out;
		}
		/* The file changed: never serve these bytes again. */
		cs->stale++;
		if (s->refs == 0)
			entry_drop(c, i);
		else
			entry_detach(c, i);
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
	p = pin_find_free(c);
	if (p == NIL || make_room(c, need) != 0) {
		cs->bypass_no_space++;
		goto out;
	}
	i = slot_take(c);
	if (i == NIL) { /* cannot happen: every live slot holds a chunk */
		cs->bypass_no_space++;
		goto out;
	}
	s = slot_at(c, i);
	s->first = chunks_take(c, need);
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
	hash_insert(c, i);
	crash_point(c, CACHE_CRASH_ALLOC_PIN);
	pin_set(c, p, i, getpid());
	ref_set(c, ref, i, p, st);
	res = CACHE_FILL;
out:
	unlock_index(c);
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
	if (lock_index(c, OWNER_LOCK_MS) != 0) {
		/* The parent abandons the entry when this process exits. */
		memset(ref, 0, sizeof(*ref));
		errno = err ? err : EAGAIN;
		return -1;
	}
	if (!ref_held(c, ref) || slot_at(c, ref->slot)->state != SLOT_LOADING) {
		unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = EINVAL;
		return -1;
	}
	if (err != 0) {
		pin_drop(c, ref->pin); /* abandons the LOADING entry */
		unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = err;
		return -1;
	}
	struct slot *s = slot_at(c, ref->slot);
	lru_push(c, ref->slot);
	c->h->st.loading--;
	c->h->st.entries++;
	c->h->st.bytes_used += s->id.size;
	c->h->st.fills++;
	commit_barrier();
	s->state = SLOT_READY;
	unlock_index(c);
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
	if (lock_index(c, c->lock_ms) != 0) {
		/* The pin stays; cache_release_owner drops it at exit. */
		memset(ref, 0, sizeof(*ref));
		errno = EAGAIN;
		return -1;
	}
	if (!ref_held(c, ref)) {
		unlock_index(c);
		memset(ref, 0, sizeof(*ref));
		errno = EINVAL;
		return -1;
	}
	c->h->st.bytes_served += ref->served;
	pin_drop(c, ref->pin);
	unlock_index(c);
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

int cache_release_owner(struct cache *c, pid_t pid)
{
	int n = 0;

	if (!c || pid <= 0)
		return 0;
	if (lock_index(c, OWNER_LOCK_MS) != 0) {
		errno = EAGAIN;
		return -1;
	}
	for (uint32_t p = 1; p <= c->npins; p++) {
		if (c->pins[p - 1].pid != (int32_t)pid)
			continue;
		pin_drop(c, p);
		c->h->st.released_dead++;
		n++;
	}
	unlock_index(c);
	return n;
}

/* --- statistics --- */

void cache_stats(struct cache *c, struct cache_stats *out)
{
	if (!c) {
		memset(out, 0, sizeof(*out));
		return;
	}
	if (lock_index(c, c->lock_ms) != 0) {
		memcpy(out, &c->h->st, sizeof(*out));
		out->broken = c->h->broken != 0;
		return;
	}
	*out = c->h->st;
	out->broken = 0;
	unlock_index(c);
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

/* --- crash recovery --- */

/* A slot's own fields are plausible (chain not checked). */
static int slot_sane(const struct cache *c, const struct slot *s)
{
	if (s->state != SLOT_LOADING && s->state != SLOT_READY &&
	    s->state != SLOT_STALE)
		return 0;
	if (s->keylen == 0 || s->keylen >= CACHE_KEY_MAX ||
	    memchr(s->key, '\0', s->keylen) != NULL ||
	    s->key[s->keylen] != '\0')
		return 0;
	if (s->id.size == 0 || s->nchunks != chunks_for(c, s->id.size) ||
	    s->nchunks > c->h->chunk_hwm)
		return 0;
	return s->first != NIL && s->first <= c->h->chunk_hwm;
}

static int bit_test_set(uint8_t *bits, uint32_t i)
{
	uint8_t m = (uint8_t)(1u << (i & 7));

	if (bits[i >> 3] & m)
		return 1;
	bits[i >> 3] |= m;
	return 0;
}

/* Mark the slot's chunks in bits.  Returns 0, or -1 when the chain leaves
 * the used range or meets a chunk already marked. */
static int chain_claim(const struct cache *c, const struct slot *s,
		       uint8_t *bits)
{
	uint32_t x = s->first;

	for (uint32_t k = 0; k < s->nchunks; k++) {
		if (x == NIL || x > c->h->chunk_hwm ||
		    bit_test_set(bits, x - 1))
			return -1;
		x = c->next[x - 1];
	}
	return 0;
}

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

/* The lock's owner died, perhaps mid-update.  Slot states, keys, chains and
 * pin records are the truth; hash, LRU, free lists, refs and gauges are
 * rebuilt from them.  Anything implausible is dropped, never served. */
static void repair(struct cache *c)
{
	struct hdr *h = c->h;
	struct cache_stats *st = &h->st;
	size_t bitsz = ((size_t)c->nchunks + 7) / 8;
	uint8_t *bits = malloc(bitsz);
	struct stamp_order *ord = malloc(sizeof(*ord) * c->nslots);
	uint32_t i, n, hwm;

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
	/* Slots whose fields or chains are implausible are dropped. */
again:
	memset(bits, 0, bitsz);
	for (i = 1; i <= hwm; i++) {
		struct slot *s = slot_at(c, i);
		if (s->state == SLOT_FREE)
			continue;
		if (!slot_sane(c, s) || chain_claim(c, s, bits) != 0) {
			s->state = SLOT_FREE;
			s->gen++;
			goto again;
		}
	}
	/* Pins: keep those naming a live slot; recount refs. */
	for (i = 1; i <= hwm; i++)
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
	/* LOADING needs its loader's pin (the dead owner may have died before
	 * recording it); STALE lives only while pinned. */
	for (i = 1; i <= hwm; i++) {
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
	/* The hash, from the live LOADING and READY slots; a duplicate key
	 * (a replacement half done) keeps the first and demotes the other. */
	memset(c->buckets, 0, sizeof(uint32_t) * c->nbuckets);
	for (i = 1; i <= hwm; i++) {
		struct slot *s = slot_at(c, i);
		if (s->state != SLOT_LOADING && s->state != SLOT_READY)
			continue;
		s->hash = key_hash(s->key, s->keylen);
		if (hash_find(c, s->key, s->keylen, s->hash) == NIL) {
			hash_insert(c, i);
		} else if (s->state == SLOT_READY && s->refs > 0) {
			s->state = SLOT_STALE;
		} else {
			pins_clear_slot(c, i);
			s->state = SLOT_FREE;
			s->gen++;
		}
	}
	/* Chunks: whatever no surviving slot claims is free. */
	memset(bits, 0, bitsz);
	for (i = 1; i <= hwm; i++)
		if (slot_at(c, i)->state != SLOT_FREE)
			(void)chain_claim(c, slot_at(c, i), bits);
	h->free_chunk = NIL;
	h->free_chunks = 0;
	for (uint32_t x = h->chunk_hwm; x >= 1; x--) {
		if (bits[(x - 1) >> 3] & (1u << ((x - 1) & 7)))
			continue;
		c->next[x - 1] = h->free_chunk;
		h->free_chunk = x;
		h->free_chunks++;
	}
	/* LRU in stamp order; free slots; gauges. */
	n = 0;
	h->free_slot = NIL;
	st->entries = st->loading = st->bytes_used = 0;
	st->chunks_used = st->pins = 0;
	for (i = hwm; i >= 1; i--) {
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
	qsort(ord, n, sizeof(*ord), stamp_cmp);
	h->lru_head = h->lru_tail = NIL;
	for (uint32_t k = 0; k < n; k++) {
		uint64_t stamp = ord[k].stamp;
		lru_push(c, ord[k].slot);
		slot_at(c, ord[k].slot)->stamp = stamp;
		if (h->tick < stamp)
			h->tick = stamp;
	}
	free(bits);
	free(ord);
}

/* --- test and debugging hooks --- */

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
	if (lock_index(c, OWNER_LOCK_MS) != 0) {
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
		if (bit_test_set(bits, x - 1))
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
		if (!slot_sane(c, s))
			FAIL("slot %u implausible", i);
		if (chain_claim(c, s, bits) != 0)
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
			if (s->hash != key_hash(s->key, s->keylen) ||
			    hash_find(c, s->key, s->keylen, s->hash) != i)
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
	unlock_index(c);
	return rc;
}

int cache_debug_lock(struct cache *c)
{
	return c ? lock_index(c, OWNER_LOCK_MS) : -1;
}

void cache_debug_unlock(struct cache *c)
{
	if (c)
		unlock_index(c);
}

void cache_debug_crash_at(struct cache *c, enum cache_crash_point point)
{
	if (c)
		c->crash_at = (int)point;
}
