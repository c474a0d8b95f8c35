/* RFC 6298 arithmetic in integer microseconds: alpha = 1/8, beta = 1/4,
 * K = 4, the clock granularity G taken as 1 ms. */
#include "autoconfig.h"

#include "rto.h"

void rto_init(struct rto *r, unsigned initial_ms, unsigned floor_ms,
	      unsigned backoff_max_ms)
{
	r->cap_ms = initial_ms;
	r->backoff_max_ms =
		backoff_max_ms > initial_ms ? backoff_max_ms : initial_ms;
	r->floor_ms = floor_ms < initial_ms ? floor_ms : initial_ms;
	r->current_ms = initial_ms;
	r->have_sample = 0;
	r->srtt_us = 0;
	r->rttvar_us = 0;
}

static unsigned clamp_ms(const struct rto *r, uint64_t us)
{
	/* Round up: a timeout shorter than the RTT would fire every time. */
	uint64_t ms = (us + 999) / 1000;

	if (ms < r->floor_ms)
		return r->floor_ms;
	if (ms > r->cap_ms)
		return r->cap_ms;
	return (unsigned)ms;
}

/* RFC 6298 2.3: RTO = SRTT + max(G, K * RTTVAR). */
static void recompute(struct rto *r)
{
	uint64_t var = 4 * r->rttvar_us;

	if (var < 1000)
		var = 1000; /* G */
	r->current_ms = clamp_ms(r, r->srtt_us + var);
}

void rto_progress(struct rto *r)
{
	if (r->have_sample && r->floor_ms != r->cap_ms)
		recompute(r);
	else
		r->current_ms = r->cap_ms;
}

void rto_sample(struct rto *r, uint64_t rtt_us)
{
	if (r->floor_ms == r->cap_ms) {
		r->current_ms = r->cap_ms; /* fixed: only the backoff ends */
		return;
	}
	if (!r->have_sample) {
		r->srtt_us = rtt_us;
		r->rttvar_us = rtt_us / 2;
		r->have_sample = 1;
	} else {
		uint64_t delta = r->srtt_us > rtt_us ? r->srtt_us - rtt_us
						     : rtt_us - r->srtt_us;
		r->rttvar_us = r->rttvar_us - r->rttvar_us / 4 + delta / 4;
		r->srtt_us = r->srtt_us - r->srtt_us / 8 + rtt_us / 8;
	}
	recompute(r);
}

void rto_backoff(struct rto *r)
{
	unsigned doubled = r->current_ms * 2;

	r->current_ms = doubled > r->backoff_max_ms || doubled < r->current_ms
				? r->backoff_max_ms
				: doubled;
}

unsigned rto_timeout_ms(const struct rto *r)
{
	return r->current_ms;
}
