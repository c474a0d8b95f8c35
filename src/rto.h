/* The retransmission timer of one transfer: RFC 6298's smoothed RTT and
 * variance (as RFC 1123 4.2.3.2 requires of TFTP: adaptive, with exponential
 * backoff), kept between a floor and the configured --timeout.  Pure: the
 * caller measures time and passes it in. */
#ifndef CTFTPD_RTO_H
#define CTFTPD_RTO_H

#include <stdint.h>

/* The default lowest timeout the adaptive timer may reach (milliseconds,
 * --min-timeout): below it, scheduling noise on a busy host would pass for
 * loss. */
#define RTO_FLOOR_MS 20

struct rto {
	unsigned floor_ms;   /* lowest timeout */
	unsigned ceiling_ms; /* highest timeout: --timeout */
	unsigned current_ms; /* the timeout to wait now */
	int have_sample;
	uint64_t srtt_us;    /* smoothed round-trip time (microseconds) */
	uint64_t rttvar_us;  /* its mean deviation (microseconds) */
};

/* Start a timer at initial_ms, the ceiling too (RFC 6298 2.1: before the
 * first sample, wait the initial value), adapting down to floor_ms at the
 * lowest.  floor_ms >= initial_ms fixes the timeout at initial_ms for the
 * whole transfer (as for an RFC 2349 timeout the client asked for). */
void rto_init(struct rto *r, unsigned initial_ms, unsigned floor_ms);

/* Feed one round-trip measurement (microseconds) from a packet that was sent
 * once only (Karn's rule: the caller never passes one from a retransmitted
 * packet).  Updates the timeout per RFC 6298 2.2 and 2.3, bounded by the
 * floor and the ceiling; a sample also ends any backoff. */
void rto_sample(struct rto *r, uint64_t rtt_us);

/* Progress without a sample (an ACK of a packet sent more than once): the
 * path works, so undo the backoff and return to the timeout the last
 * samples gave.  Without this, a client that loses a packet in every window
 * would never yield a sample and the timer would stay at its ceiling. */
void rto_progress(struct rto *r);

/* Silence: double the timeout (RFC 6298 5.5), up to the ceiling. */
void rto_backoff(struct rto *r);

/* The timeout to wait now, in milliseconds. */
unsigned rto_timeout_ms(const struct rto *r);

#endif
