/* Token buckets and the fixed table of per-source state behind the
 * listener's --rate-limit and its limits on refusals. */
#include "autoconfig.h"

#include "ratelimit.h"

#include <string.h>

int ratelimit_take(struct ratelimit_bucket *b, unsigned rate, unsigned burst,
		   int64_t now_ms)
{
	uint64_t cap;

	if (rate == 0)
		return 1;
	cap = (uint64_t)(burst ? burst : 1) * 1000;
	if (!b->started) {
		b->started = 1;
		b->milli = cap;
		b->last_ms = now_ms;
	} else if (now_ms > b->last_ms) {
		uint64_t dt = (uint64_t)(now_ms - b->last_ms);
		/* rate tokens a second are rate thousandths a millisecond;
		 * past the time that fills it from empty, the bucket is full
		 * (and the product cannot overflow). */
		if (dt > cap / rate)
			b->milli = cap;
		else if ((b->milli += dt * rate) > cap)
			b->milli = cap;
		b->last_ms = now_ms;
	}
	if (b->milli < 1000)
		return 0;
	b->milli -= 1000;
	return 1;
}

void ratelimit_table_init(struct ratelimit_table *t, uint64_t seed)
{
	memset(t, 0, sizeof(*t));
	t->seed = seed;
}

_Static_assert((RATELIMIT_SOURCES & (RATELIMIT_SOURCES - 1)) == 0,
	       "RATELIMIT_SOURCES is a power of two");

/* FNV-1a over the seed and the key. */
static uint32_t slot_of(const struct ratelimit_table *t, const uint8_t key[16])
{
	uint64_t h = 0xcbf29ce484222325u;

	for (int i = 0; i < 8; i++)
		h = (h ^ ((t->seed >> (8 * i)) & 0xff)) * 0x100000001b3u;
	for (int i = 0; i < 16; i++)
		h = (h ^ key[i]) * 0x100000001b3u;
	return (uint32_t)(h ^ (h >> 32)) & (RATELIMIT_SOURCES - 1);
}

struct ratelimit_source *ratelimit_lookup(struct ratelimit_table *t,
					  const union sockaddr_any *a,
					  int64_t now_ms)
{
	struct ratelimit_source *s, *free_slot = NULL, *oldest = NULL;
	uint8_t key[16];
	uint32_t first;

	net_host_key(a, key);
	first = slot_of(t, key);
	for (uint32_t k = 0; k < RATELIMIT_PROBE; k++) {
		s = &t->slot[(first + k) & (RATELIMIT_SOURCES - 1)];
		if (s->used && memcmp(s->addr, key, 16) == 0) {
			s->seen_ms = now_ms;
			return s;
		}
		if (!free_slot &&
		    (!s->used || now_ms - s->seen_ms >= RATELIMIT_IDLE_MS))
			free_slot = s;
		if (!oldest || s->seen_ms < oldest->seen_ms)
			oldest = s;
	}
	s = free_slot ? free_slot : oldest;
	memset(s, 0, sizeof(*s));
	memcpy(s->addr, key, 16);
	s->used = 1;
	s->seen_ms = now_ms;
	return s;
}
