/* The file cache's shared mapping and the robust process-shared mutex at its
 * start: the geometry computed from --cache-size, the mapping made before the
 * first fork, and the index lock with its recovery after a holder's death. */
#include "autoconfig.h"

#include "cache_internal.h"

#include "shmem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(HAVE_PTHREAD_MUTEXATTR_SETROBUST) &&      \
	defined(HAVE_PTHREAD_MUTEX_CONSISTENT) &&     \
	defined(HAVE_PTHREAD_MUTEXATTR_SETPSHARED) && \
	defined(HAVE_PTHREAD_MUTEX_TIMEDLOCK)
#define CACHE_ROBUST 1
#endif

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

/* A previous owner that died holding the lock left the index possibly
 * half-updated: rebuild it, then mark the mutex consistent. */
int cache_lock_index(struct cache *c, unsigned ms)
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
		cache_repair(c);
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

int cache_lock_index(struct cache *c, unsigned ms)
{
	(void)c;
	(void)ms;
	errno = ENOSYS;
	return -1;
}
#endif

void cache_unlock_index(struct cache *c)
{
	pthread_mutex_unlock(&c->h->lock);
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
	c->base = shmem_map(p->size);
	if (!c->base) {
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
		shmem_unmap(c->base, c->map_size);
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
	shmem_unmap(c->base, c->map_size);
	free(c);
}
