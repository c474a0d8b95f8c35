/* Token buckets for the listener's limits: how many new transfers a source
 * address may start per second (--rate-limit), and how many refusals the
 * listener sends and logs.  Per-source buckets live in a table of fixed size
 * allocated once, so a flood from any number of addresses costs no memory
 * per packet.  Pure: the caller passes the time; no I/O, no globals. */
#ifndef CTFTPD_RATELIMIT_H
#define CTFTPD_RATELIMIT_H

#include <stdint.h>

#include "net.h"

/* A token bucket: up to burst tokens, refilled at rate tokens per second.
 * Counted in thousandths of a token, so that slow rates refill smoothly
 * with millisecond clocks. */
struct ratelimit_bucket {
	int64_t last_ms; /* when milli was last brought up to date */
	uint64_t milli;	 /* tokens x 1000 */
	int started;	 /* 0: never used, counts as full */
};

/* Take one token at now_ms (a monotonic clock, milliseconds) from a bucket
 * of burst tokens refilled at rate per second.  Returns 1 when a token was
 * there (the event may go ahead), 0 when the bucket is empty.  rate 0 means
 * no limit: always 1.  burst 0 is taken as 1. */
int ratelimit_take(struct ratelimit_bucket *b, unsigned rate, unsigned burst,
		   int64_t now_ms);

/* The sources remembered at once, and how many slots a lookup tries. */
#define RATELIMIT_SOURCES 1024
#define RATELIMIT_PROBE 8
/* A source not seen for this long (milliseconds) is forgotten when its slot
 * is wanted: every bucket the listener keeps refills within it, so the
 * entry remembers nothing a new one would not. */
#define RATELIMIT_IDLE_MS 10000

/* What the listener keeps per source address (the port is ignored: one
 * client may use any number of ports). */
struct ratelimit_source {
	uint8_t addr[16]; /* IPv6, or IPv4 as ::ffff:a.b.c.d */
	int used;
	int64_t seen_ms;		  /* last lookup */
	struct ratelimit_bucket requests; /* new transfers (--rate-limit) */
	struct ratelimit_bucket replies;  /* ERRORs from the listening port */
};

struct ratelimit_table {
	uint64_t seed; /* keys the hash, so that colliding addresses cannot be
			* chosen in advance */
	struct ratelimit_source slot[RATELIMIT_SOURCES];
};

/* Empty the table and set its hash seed (any value; vary it per run). */
void ratelimit_table_init(struct ratelimit_table *t, uint64_t seed);

/* The entry of a's address (an IPv4-mapped IPv6 address is the same source
 * as the IPv4 address), made at now_ms if it was not there.  When the
 * RATELIMIT_PROBE slots where it may live are all taken, one idle for
 * RATELIMIT_IDLE_MS is reused, or else the one seen least recently: that
 * source starts again with full buckets, so an overflowing table errs
 * towards letting requests through, never towards refusing a source that
 * did nothing.  Never fails. */
struct ratelimit_source *ratelimit_lookup(struct ratelimit_table *t,
					  const union sockaddr_any *a,
					  int64_t now_ms);

#endif
