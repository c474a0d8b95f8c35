/* The retransmission timer of one transfer: RFC 6298's smoothed RTT and
 * variance (as RFC 1123 4.2.3.2 requires of TFTP: adaptive, with exponential
 * backoff).  Samples keep it between a floor (--min-timeout) and a cap
 * (--timeout, or the client's RFC 2349 timeout); silence doubles it past the
 * cap, up to a backoff ceiling, so that a client which ignores duplicate
 * DATA and waits on its own timer (U-Boot: 5 s) eventually sees a gap long
 * enough for that timer to fire.  Pure: the caller measures time and passes
 * it in. */
#ifndef CTFTPD_RTO_H
#define CTFTPD_RTO_H

#include <stdint.h>

/* The default lowest timeout the adaptive timer may reach (milliseconds,
 * --min-timeout): below it, scheduling noise on a busy host would pass for
 * loss. */
#define RTO_FLOOR_MS 20

/* The default backoff ceiling (milliseconds): well above the client timers
 * found in the field (U-Boot 5 s, tftp-hpa's client 5 s), so that doubling
 * from any start reaches a gap longer than a client timer of up to 10 s
 * well within the default 60 s give-up time (a timer of 16 s or more never
 * fires: every resend restarts it). */
#define RTO_BACKOFF_MAX_MS 16000

struct rto {
	unsigned floor_ms; /* lowest timeout */
	unsigned cap_ms;   /* highest timeout a sample can give: --timeout */
	unsigned backoff_max_ms; /* highest timeout after backoff (>= cap) */
	unsigned current_ms;	 /* the timeout to wait now */
	int have_sample;
	uint64_t srtt_us;   /* smoothed round-trip time (microseconds) */
	uint64_t rttvar_us; /* its mean deviation (microseconds) */
};

/* Start a timer at initial_ms, which is also the cap of what samples can
 * give (RFC 6298 2.1: before the first sample, wait the initial value),
 * adapting down to floor_ms at the lowest, and backing off on silence up to
 * backoff_max_ms (raised to initial_ms when below it).  floor_ms >=
 * initial_ms turns adaptation off; backoff_max_ms <= initial_ms as well
 * fixes the timeout at initial_ms for the whole transfer (the strict reading
 * of a client's RFC 2349 timeout). */
void rto_init(struct rto *r, unsigned initial_ms, unsigned floor_ms,
	      unsigned backoff_max_ms);

/* Feed one round-trip measurement (microseconds) from a packet that was sent
 * once only (Karn's rule: the caller never passes one from a retransmitted
 * packet).  Updates the timeout per RFC 6298 2.2 and 2.3, bounded by the
 * floor and the cap; a sample also ends any backoff. */
void rto_sample(struct rto *r, uint64_t rtt_us);

/* Progress without a sample (an ACK of a packet sent more than once, or a
 * client heard again after a silence): the path works, so undo the backoff
 * and return to the timeout the last samples gave (the cap before any). Without
 * this, a client that loses a packet in every window would never yield a sample
 * and the timer would stay at its ceiling. */
void rto_progress(struct rto *r);

/* Silence: double the timeout (RFC 6298 5.5), past the cap, up to the
 * backoff ceiling. */
void rto_backoff(struct rto *r);

/* The timeout to wait now, in milliseconds. */
unsigned rto_timeout_ms(const struct rto *r);

#endif
