/* The child's side of a read request (RFC 1350, RFC 7440): send a window of
 * DATA blocks, wait for an ACK, advance or resend, until the last block is
 * acknowledged.  Blocks are counted with 64-bit sequence numbers; the 16-bit
 * block number on the wire is the low half, so a file of more than 65535
 * blocks rolls over to 0.  Where the bytes come from is source.c's concern;
 * when to resend is rto.c's. */
#include "autoconfig.h"

#include "transfer.h"

#include "handoff.h"
#include "log.h"
#include "options.h"
#include "path.h"
#include "rto.h"
#include "sink.h"
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* What the ring knows of each block it holds. */
struct slot_meta {
	size_t len; /* datagram bytes, header included */
	int niov;   /* payload pieces in the cache or the mapping (0: in the
		     * slot) */
	struct iovec iov[2];
	int64_t sent_us; /* first transmission */
	int resent;	 /* sent more than once: no RTT sample (Karn) */
};

struct transfer {
	const struct config *cfg;
	const struct transfer_request *tr;
	int sock;    /* connected to the client */
	int wake_fd; /* handoff: a repeated request, or stop */
	char client_str[NET_ADDRSTRLEN];
	char name[LOG_FILE_NAMES_MAX]; /* "requested" [-> "mapped"] */
	const char *op;		       /* "RRQ" or "WRQ" */
	const char *mode_name;
	unsigned blksize;    /* bytes of payload in a full DATA block */
	unsigned windowsize; /* blocks sent before waiting for an ACK */
	struct rto rto;	     /* how long to wait for a reply before resending */
	int confirmed;	     /* the client acknowledged something: its
			      * address is real, the timer may resend */
	int backed_off;	     /* silence has backed the timer off since the
			      * last progress */
	int64_t heard_us;    /* the client's last progress (before
			      * confirmation: its last request) */
	int64_t give_up_us;  /* silence that ends a confirmed transfer */
	int64_t first_reply_us; /* silence that ends an unconfirmed one */
	/* window ring: slot i holds 4 + blksize bytes */
	uint8_t *ring;
	struct slot_meta *meta;
	/* the end, and statistics for the summary line */
	enum transfer_outcome outcome;
	char detail[192];
	uint64_t bytes;		 /* payload bytes sent, first transmissions */
	uint64_t blocks;	 /* DATA blocks, first transmissions */
	uint64_t retransmits;	 /* packets sent again */
	const char *cache_state; /* hit, fill, miss or off */
	int logged;		 /* the summary line is out */
	struct timespec start;
	/* last: transfer_run zeroes everything before it, not its 64 KiB */
	uint8_t rxbuf[TFTP_BLKSIZE_MAX + TFTP_DATA_HEADER];
};

static int64_t now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* Milliseconds since the transfer started: integers, so that the summary
 * line does not pay for floating-point formatting in every child. */
static long long elapsed_ms(const struct transfer *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (long long)(now.tv_sec - t->start.tv_sec) * 1000 +
	       (now.tv_nsec - t->start.tv_nsec) / 1000000;
}

/* Record how the transfer ends, with the words for the summary line. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static void
end(struct transfer *t, enum transfer_outcome outcome, const char *fmt, ...)
{
	va_list ap;

	t->outcome = outcome;
	va_start(ap, fmt);
	vsnprintf(t->detail, sizeof(t->detail), fmt, ap);
	va_end(ap);
}

/* --verbose=3: a line for a packet about to be sent (head: len bytes, then
 * nmore payload pieces). */
static void log_sent(const struct transfer *t, const uint8_t *head, size_t len,
		     const struct iovec *more, int nmore)
{
	char what[160];
	size_t total = len;

	for (int i = 0; i < nmore; i++)
		total += more[i].iov_len;
	log_packet("%s: sent %s", t->client_str,
		   packet_describe(head, len, total, what, sizeof(what)));
}

static void send_error(struct transfer *t, uint16_t code, const char *msg)
{
	uint8_t buf[512];
	size_t len = packet_build_error(buf, sizeof(buf), code, msg);

	if (log_level() >= LOG_V_PACKETS)
		log_sent(t, buf, len, NULL, 0);
	(void)send(t->sock, buf, len, 0);
}

/* The per-transfer summary line, one per transfer: a warning when the
 * transfer failed after it started, info otherwise (a source that never
 * answers is usually a spoofed one: not worth a warning each).  A request
 * refused before anything was sent keeps a short form. */
static void summary(struct transfer *t)
{
	int level =
		t->outcome == TRANSFER_GAVE_UP || t->outcome == TRANSFER_FAILED
			? LOG_WARNING
			: LOG_INFO;
	long long ms;

	log_packet_flush(); /* the count of per-packet lines left out */
	if (t->outcome == TRANSFER_REFUSED && t->blocks == 0) {
		log_msg(LOG_INFO, "%s from %s file %s %s", t->op, t->client_str,
			t->name, t->detail);
		return;
	}
	ms = elapsed_ms(t);
	log_msg(level,
		"%s from %s file %s mode %s: %s; %llu bytes, %llu blocks, "
		"%llu retransmits, %lld.%03lld s; cache %s; blksize %u, "
		"windowsize %u",
		t->op, t->client_str, t->name, t->mode_name, t->detail,
		(unsigned long long)t->bytes, (unsigned long long)t->blocks,
		(unsigned long long)t->retransmits, ms / 1000, ms % 1000,
		t->cache_state ? t->cache_state : "off", t->blksize,
		t->windowsize);
}

int transfer_exit_status(enum transfer_outcome outcome)
{
	return outcome == TRANSFER_COMPLETE || outcome == TRANSFER_CLIENT_END
		       ? 0
		       : 1;
}

/* Send one packet to the client: the header (or the whole datagram) in
 * head, and the payload in up to two more pieces.  An ICMP port
 * unreachable already reported by the kernel ends the transfer, and so
 * does a payload in a mapped file that can no longer be read (EFAULT).
 * Returns 0, or -1 when the transfer is over. */
static int send_packet(struct transfer *t, const uint8_t *head, size_t len,
		       const struct iovec *more, int nmore)
{
	struct iovec v[3];
	struct msghdr msg;

	v[0].iov_base = (void *)head;
	v[0].iov_len = len;
	for (int i = 0; i < nmore; i++)
		v[1 + i] = more[i];
	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = v;
	msg.msg_iovlen = 1 + (size_t)nmore;
	if (log_level() >= LOG_V_PACKETS)
		log_sent(t, head, len, more, nmore);
	if (sendmsg(t->sock, &msg, 0) >= 0)
		return 0;
	if (errno == ECONNREFUSED) {
		end(t, TRANSFER_CLIENT_GONE,
		    "client gone (ICMP port unreachable)");
		return -1;
	}
	if (errno == EFAULT) {
		/* A payload in a mapped file whose pages cannot be read: the
		 * file was cut short under the transfer (source_map), or, far
		 * more rarely, its storage failed. */
		send_error(t, TFTP_EUNDEF, "file changed during the transfer");
		end(t, TRANSFER_FAILED,
		    "failed: file changed during the transfer (or its pages "
		    "could not be read)");
		return -1;
	}
	log_msg(LOG_DEBUG, "send to %s: %s", t->client_str, strerror(errno));
	return 0;
}

enum wait_result {
	WAIT_GOT,     /* a packet to act on (an ACK that advances the window,
		       * for wait_ack) */
	WAIT_REPEAT,  /* unconfirmed: the client repeated its request */
	WAIT_TIMEOUT, /* silence until the deadline */
	WAIT_END,     /* the transfer is over: t->outcome says why */
};

/* When the current wait ends: a timer's length from now, within the
 * give-up time, once the client is confirmed; before that, first_reply_us
 * after its last request (no timer: nothing is resent on one). */
static int64_t deadline(const struct transfer *t)
{
	int64_t d;

	if (!t->confirmed)
		return t->heard_us + t->first_reply_us;
	d = now_us() + (int64_t)rto_timeout_ms(&t->rto) * 1000;
	return d < t->heard_us + t->give_up_us ? d
					       : t->heard_us + t->give_up_us;
}

/* --single-port: hand the request of n bytes at buf back to the listener
 * (handoff.h), as if it had reached the listening socket. */
static void give_back(struct transfer *t, const uint8_t *buf, size_t n)
{
	const struct transfer_request *tr = t->tr;
	static struct handoff_request back;

	back.client = tr->client;
	back.origin = tr->origin;
	back.listen_idx = tr->listen_idx;
	back.origin.truncated = n > sizeof(back.bytes);
	back.len = (unsigned)(n > sizeof(back.bytes) ? sizeof(back.bytes) : n);
	memcpy(back.bytes, buf, back.len);
	if (handoff_give_back(tr->handback_fd, &back) != 0)
		log_msg(LOG_WARNING, "%s: cannot hand a request back: %s",
			t->client_str, strerror(errno));
}

/* --single-port: let go of the client's address and port, then close the
 * socket.  Connected to itself, the socket takes no more of the client's
 * datagrams: they go to the listener (or the next transfer's socket) from
 * then on.  What the client sent before is still queued: first (n bytes,
 * or NULL), then each queued request, go back to the listener, which
 * serves them; the rest is dropped. */
static void release_socket(struct transfer *t, const uint8_t *first, size_t n)
{
	union sockaddr_any self, from;
	socklen_t len = sizeof(self);
	ssize_t got;
	int fl;

	if (getsockname(t->sock, &self.sa, &len) == 0 &&
	    connect(t->sock, &self.sa, net_len(&self)) == 0 &&
	    (fl = fcntl(t->sock, F_GETFL)) >= 0 &&
	    fcntl(t->sock, F_SETFL, fl | O_NONBLOCK) == 0) {
		if (first)
			give_back(t, first, n);
		first = NULL;
		while ((len = sizeof(from)),
		       (got = recvfrom(t->sock, t->rxbuf, sizeof(t->rxbuf), 0,
				       &from.sa, &len)) >= 0 ||
			       errno == EINTR)
			if (got >= 2 && net_same(&from, &t->tr->client) &&
			    t->rxbuf[0] == 0 &&
			    (t->rxbuf[1] == TFTP_RRQ ||
			     t->rxbuf[1] == TFTP_WRQ))
				give_back(t, t->rxbuf, (size_t)got);
	}
	close(t->sock);
	t->sock = -1;
	if (first) /* the socket could not let go: still served */
		give_back(t, first, n);
}

/* --single-port: a request (n bytes in rxbuf) that reached the transfer's
 * socket, which holds the client's datagrams to the listening port.  Its
 * own request again, while the transfer runs: before confirmation the
 * first packet is resent (WAIT_REPEAT), after it is a stale copy (ignored,
 * -1).  Anything else goes back to the listener, which serves it as a new
 * request (handoff.h), and this transfer ends (WAIT_END). */
static int take_request(struct transfer *t, size_t n)
{
	const struct transfer_request *tr = t->tr;

	if (n == tr->request_len && memcmp(t->rxbuf, tr->request, n) == 0 &&
	    !t->logged) { /* logged: the outcome is settled (an upload's
			   * dally), a repeat asks for the file again */
		if (t->confirmed)
			return -1;
		t->heard_us = now_us();
		return WAIT_REPEAT;
	}
	/* The listener's line for a new request that reaches it (it does
	 * not repeat it for one handed back: this process may be reaped
	 * before the listener reads it).  The same request after this
	 * transfer's outcome is settled asks for the file again. */
	if (n == tr->request_len && memcmp(t->rxbuf, tr->request, n) == 0)
		log_msg(LOG_INFO,
			"request from %s again after its transfer (process "
			"%ld) ended: served anew",
			t->client_str, (long)getpid());
	else
		log_msg(LOG_INFO,
			"new request from %s: ending its previous transfer "
			"(process %ld)",
			t->client_str, (long)getpid());
	/* A repeat of the old request now gets a new child. */
	handoff_withdraw();
	release_socket(t, t->rxbuf, n);
	end(t, TRANSFER_STOPPED, "stopped by the server");
	return WAIT_END;
}

/* Read one datagram from the client.  An ERROR ends the transfer (and is
 * never answered).  Returns WAIT_GOT with *pkt filled, WAIT_END, or -1 to
 * keep waiting (nothing, or junk). */
static int take_packet(struct transfer *t, struct tftp_packet *pkt)
{
	const char *why;
	union sockaddr_any from;
	socklen_t fromlen = sizeof(from);
	ssize_t n = recvfrom(t->sock, t->rxbuf, sizeof(t->rxbuf), 0, &from.sa,
			     &fromlen);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return -1;
		if (errno == ECONNREFUSED)
			end(t, TRANSFER_CLIENT_GONE,
			    "client gone (ICMP port unreachable)");
		else
			end(t, TRANSFER_FAILED, "failed: receive error: %s",
			    strerror(errno));
		return WAIT_END;
	}
	if (log_level() >= LOG_V_PACKETS) {
		char what[160];
		log_packet("%s: received %s", t->client_str,
			   packet_describe(t->rxbuf, (size_t)n, (size_t)n, what,
					   sizeof(what)));
	}
	if (t->cfg->single_port) {
		/* Queued in the instant between the socket's bind and its
		 * connect, on another CPU: somebody else's. */
		if (!net_same(&from, &t->tr->client))
			return -1;
		if (n >= 2 && t->rxbuf[0] == 0 &&
		    (t->rxbuf[1] == TFTP_RRQ || t->rxbuf[1] == TFTP_WRQ))
			return take_request(t, (size_t)n);
	}
	if (packet_parse_reply(t->rxbuf, (size_t)n, pkt, &why) != 0) {
		log_msg(LOG_DEBUG, "ignoring bad datagram from %s: %s",
			t->client_str, why);
		return -1;
	}
	if (pkt->opcode == TFTP_ERROR) {
		char msg[128];
		log_sanitize(pkt->error_msg, strlen(pkt->error_msg), msg,
			     sizeof(msg));
		end(t, TRANSFER_CLIENT_END, "ended by client: ERROR %u \"%s\"",
		    pkt->error_code, msg);
		return WAIT_END;
	}
	return WAIT_GOT;
}

/* Wait for a packet from the client until the deadline.  Datagrams are
 * read before the wake-up pipe, so a client's last ACK or ERROR is seen
 * before its next request; a repeated request counts only before the
 * client is confirmed (after, it is a stale copy of the request this
 * transfer serves). */
static enum wait_result wait_packet(struct transfer *t, int64_t until,
				    struct tftp_packet *pkt)
{
	for (;;) {
		struct pollfd pfd[2] = {{.fd = t->sock, .events = POLLIN},
					{.fd = t->wake_fd, .events = POLLIN}};
		int64_t left = until - now_us();
		int n, r;

		if (handoff_stop_requested()) {
			end(t, TRANSFER_STOPPED, "stopped by the server");
			return WAIT_END;
		}
		if (left <= 0)
			return WAIT_TIMEOUT;
		n = poll(pfd, 2, (int)((left + 999) / 1000));
		if (n < 0 && errno != EINTR) {
			end(t, TRANSFER_FAILED, "failed: poll: %s",
			    strerror(errno));
			return WAIT_END;
		}
		if (n <= 0)
			continue;
		if (pfd[0].revents) {
			r = take_packet(t, pkt);
			if (r >= 0)
				return (enum wait_result)r;
			continue;
		}
		if (pfd[1].revents && handoff_take_nudge() && !t->confirmed) {
			t->heard_us = now_us();
			return WAIT_REPEAT;
		}
	}
}

/* Wait for an ACK of a block in (acked, sent].  Duplicate and stale ACKs
 * are ignored without resending (RFC 1123 4.2.3.1: no Sorcerer's
 * Apprentice); anything but an ACK ends a read with ERROR 4.  On WAIT_GOT,
 * *seq is the block acknowledged. */
static enum wait_result wait_ack(struct transfer *t, uint64_t acked,
				 uint64_t sent, uint64_t *seq)
{
	int64_t until = deadline(t);
	struct tftp_packet pkt;
	enum wait_result r;

	while ((r = wait_packet(t, until, &pkt)) == WAIT_GOT) {
		uint16_t delta;
		if (pkt.opcode != TFTP_ACK) {
			send_error(t, TFTP_EBADOP, "expected an ACK");
			end(t, TRANSFER_REFUSED,
			    "failed: client sent %s during a read",
			    packet_opcode_name(pkt.opcode));
			return WAIT_END;
		}
		/* Map the 16-bit block number into the window. */
		delta = (uint16_t)(pkt.block - (uint16_t)acked);
		if (delta >= 1 && delta <= sent - acked) {
			*seq = acked + delta;
			return WAIT_GOT;
		}
		/* The last ACK again while the timer is backed off: a client
		 * resending it on its own timer is alive and still lacks the
		 * next block.  No resend for it (no Sorcerer's Apprentice),
		 * but the backoff ends, so the timer sends the block soon,
		 * not after up to 16 s in which such a client gives up. */
		if (delta == 0 && t->backed_off) {
			int64_t soon;
			t->backed_off = 0;
			rto_progress(&t->rto);
			soon = now_us() +
			       (int64_t)rto_timeout_ms(&t->rto) * 1000;
			if (soon < until)
				until = soon;
			continue;
		}
		if (log_level() >= LOG_V_PACKETS)
			log_msg(LOG_DEBUG, "%s: ignoring ACK %u (acked %llu)",
				t->client_str, pkt.block,
				(unsigned long long)acked);
	}
	return r;
}

/* Silence until the deadline.  Returns 1 when the transfer is over: an
 * unconfirmed client gets nothing on a timer (its address may be spoofed)
 * and is given up TRANSFER_FIRST_REPLY_MS after its last request, a
 * confirmed one once silent for --give-up; otherwise the timer backs off
 * and the caller resends. */
static int silence(struct transfer *t)
{
	if (!t->confirmed) {
		end(t, TRANSFER_NO_REPLY,
		    "failed: no reply from the client, "
		    "gave up after %.1f s",
		    (double)t->first_reply_us / 1e6);
		return 1;
	}
	if (now_us() - t->heard_us >= t->give_up_us) {
		end(t, TRANSFER_GAVE_UP,
		    "failed: client silent, gave up after "
		    "%.1f s",
		    (double)t->give_up_us / 1e6);
		return 1;
	}
	rto_backoff(&t->rto);
	t->backed_off = 1;
	return 0;
}

/* Progress from the client, in answer to a packet we sent at sent_us: an
 * RTT sample unless that packet was sent more than once (Karn's rule), in
 * which case only the backoff is undone.  The client is confirmed. */
static void progress(struct transfer *t, int64_t sent_us, int resent)
{
	t->confirmed = 1;
	t->backed_off = 0;
	t->heard_us = now_us();
	if (!resent)
		rto_sample(&t->rto, (uint64_t)(t->heard_us - sent_us));
	else
		rto_progress(&t->rto);
}

static uint8_t *slot(struct transfer *t, uint64_t seq)
{
	return t->ring +
	       (size_t)(seq % t->windowsize) * (TFTP_DATA_HEADER + t->blksize);
}

/* The window's bookkeeping: which blocks exist, which went out. */
struct window {
	uint64_t acked;	   /* highest block the client acknowledged */
	uint64_t produced; /* highest block taken from the source */
	uint64_t sent;	   /* highest block sent so far */
	uint64_t last;	   /* the final (short) block, 0 until produced */
};

/* The source failed to give a block: the file changed (what the client has
 * is not the file, nor the tsize it was told: say so) or could not be
 * read.  Sends the ERROR, ends the transfer; returns -1. */
static int source_failed(struct transfer *t, const struct source *src)
{
	if (source_changed(src)) {
		send_error(t, TFTP_EUNDEF, "file changed during the transfer");
		end(t, TRANSFER_FAILED,
		    "failed: file changed during the transfer");
	} else {
		send_error(t, TFTP_EUNDEF, "read error");
		end(t, TRANSFER_FAILED, "failed: read error: %s",
		    strerror(errno));
	}
	return -1;
}

/* Send blocks from .. to (taking new ones from the source as needed; fewer
 * when the last block comes first).  Returns 0, or -1 when the transfer is
 * over. */
static int send_blocks(struct transfer *t, struct source *src, struct window *w,
		       uint64_t from, uint64_t to)
{
	for (uint64_t seq = from; seq <= to && !(w->last && seq > w->last);
	     seq++) {
		uint8_t *b = slot(t, seq);
		struct slot_meta *m = &t->meta[seq % t->windowsize];
		if (handoff_stop_requested()) {
			end(t, TRANSFER_STOPPED, "stopped by the server");
			return -1;
		}
		if (seq > w->produced) {
			ssize_t n = source_next(src, b + TFTP_DATA_HEADER,
						t->blksize, m->iov, &m->niov);
			if (n < 0)
				return source_failed(t, src);
			packet_build_data_header(b, (uint16_t)seq);
			m->len = TFTP_DATA_HEADER + (size_t)n;
			w->produced = seq;
			if ((size_t)n < t->blksize)
				w->last = seq;
		}
		if (seq > w->sent) {
			w->sent = seq;
			t->blocks++;
			t->bytes += m->len - TFTP_DATA_HEADER;
			m->sent_us = now_us();
			m->resent = 0;
		} else {
			t->retransmits++;
			m->resent = 1;
			if (source_pin(src, m->iov, &m->niov,
				       b + TFTP_DATA_HEADER) != 0)
				return source_failed(t, src);
		}
		if (send_packet(t, b, m->niov ? TFTP_DATA_HEADER : m->len,
				m->iov, m->niov) != 0)
			return -1;
	}
	return 0;
}

/* Send the file until its last block is acknowledged: a window at a time
 * (RFC 7440; a window of 1 is RFC 1350's lockstep).  An ACK moves the
 * window and sends what it opens (an ACK inside the window resends from
 * the block after it, RFC 7440 section 4); silence resends only the oldest
 * unacknowledged block, the rest follows when the client answers.  Sets
 * t->outcome. */
static void send_file(struct transfer *t, struct source *src)
{
	struct window w = {0, 0, 0, 0};
	uint64_t from = 1, to = t->windowsize, seq;

	for (;;) {
		if (send_blocks(t, src, &w, from, to) != 0)
			return;
		switch (wait_ack(t, w.acked, w.sent, &seq)) {
		case WAIT_GOT:
			w.acked = seq;
			progress(t, t->meta[seq % t->windowsize].sent_us,
				 t->meta[seq % t->windowsize].resent);
			if (w.last && w.acked == w.last) {
				end(t, TRANSFER_COMPLETE, "complete");
				return;
			}
			from = w.acked + 1;
			to = w.acked + t->windowsize;
			break;
		case WAIT_REPEAT: /* DATA 1 did not reach the client */
			from = to = w.acked + 1;
			break;
		case WAIT_TIMEOUT:
			if (silence(t))
				return;
			if (log_level() >= LOG_V_PACKETS)
				log_msg(LOG_DEBUG,
					"%s: no ACK after block %llu "
					"(acked %llu), resending block %llu; "
					"timeout now %u ms",
					t->client_str,
					(unsigned long long)w.sent,
					(unsigned long long)w.acked,
					(unsigned long long)w.acked + 1,
					rto_timeout_ms(&t->rto));
			from = to = w.acked + 1;
			break;
		case WAIT_END:
			return;
		}
	}
}

/* Before anything is acknowledged: one before block 0, modulo 2^64, so
 * that an ACK of block 0 (the OACK's, RFC 2347) maps to seq 0. */
#define ACKED_NOTHING UINT64_MAX

/* Send the OACK and wait for its ACK (block 0).  The OACK is always the
 * first packet: resent only when the client repeats its request.  Returns
 * 0 when acknowledged, -1 when the transfer is over (the client's ERROR 8
 * is a normal end, RFC 2347). */
static int send_oack(struct transfer *t, const uint8_t *oack, size_t len)
{
	struct slot_meta m = {.len = len, .sent_us = now_us(), .resent = 0};
	uint64_t seq;

	for (;;) {
		if (send_packet(t, oack, len, NULL, 0) != 0)
			return -1;
		switch (wait_ack(t, ACKED_NOTHING, 0, &seq)) {
		case WAIT_GOT:
			progress(t, m.sent_us, m.resent);
			return 0;
		case WAIT_REPEAT:
			t->retransmits++;
			m.resent = 1;
			break;
		case WAIT_TIMEOUT:
			if (silence(t))
				return -1;
			break;
		case WAIT_END:
			return -1;
		}
	}
}

/* The largest blksize to grant (bytes): --max-block-size, or else what fits
 * the interface's MTU after the IP, UDP and TFTP headers, so no DATA is
 * fragmented (a client asking 65464 on Ethernet gets 1468).  Without an MTU
 * reading, loopback (either end: the local address may be a wildcard) gets
 * the maximum and anything else Ethernet's.  An IPv4 client seen through a
 * dual-stack socket (::ffff:a.b.c.d) is IPv4 on the wire: 20-byte header. */
static unsigned blksize_cap(const struct config *cfg,
			    const struct net_recv_info *origin,
			    const union sockaddr_any *client)
{
	int v6 = !net_is_ipv4(client);
	unsigned mtu, cap;

	if (cfg->max_block_size)
		return cfg->max_block_size;
	mtu = net_mtu(origin->ifindex);
	if (mtu == 0)
		mtu = net_is_loopback(&origin->local) || net_is_loopback(client)
			      ? 65536
			      : 1500;
	cap = mtu - (v6 ? 40 : 20) - 8 - TFTP_DATA_HEADER;
	/* Never below RFC 1350's own block: asking for more must not get
	 * less than asking for nothing. */
	if (mtu < 576 || cap < TFTP_BLKSIZE_DEFAULT)
		cap = TFTP_BLKSIZE_DEFAULT;
	return cap > TFTP_BLKSIZE_MAX ? TFTP_BLKSIZE_MAX : cap;
}

/* The transfer's socket, connected to the client; when none can be had,
 * an ERROR from a socket on any port says why.  Returns 0, or -1 with
 * t->outcome set. */
static int open_socket(struct transfer *t, const struct transfer_request *tr)
{
	const struct config *cfg = t->cfg;
	const union sockaddr_any *local = &tr->origin.local;
	char where[NET_ADDRSTRLEN];
	unsigned dropped;
	int saved;

	if (cfg->single_port)
		t->sock = net_shared_port_socket(local, &tr->client, &dropped);
	else
		t->sock = net_transfer_socket(local, cfg->port_low,
					      cfg->port_high,
					      (unsigned)getpid(), &tr->client);
	if (t->sock >= 0) {
		if (cfg->single_port && dropped)
			log_msg(LOG_DEBUG,
				"%s: dropped %u datagrams that reached the "
				"transfer socket before its connect",
				t->client_str, dropped);
		return 0;
	}
	saved = errno;
	if (cfg->port_low)
		snprintf(where, sizeof(where), "%u-%u", cfg->port_low,
			 cfg->port_high);
	else
		net_format(local, where);
	end(t, TRANSFER_FAILED, "failed: no transfer socket on %s: %s", where,
	    strerror(saved));
	/* --single-port: an ERROR from another port would not pass the
	 * NAT or firewall the option is for; the listening socket's does. */
	t->sock = cfg->single_port
			  ? -1
			  : net_transfer_socket(local, 0, 0, 0, &tr->client);
	if (t->sock >= 0) {
		send_error(t, TFTP_EUNDEF,
			   saved == EADDRINUSE ? "no free transfer port"
					       : "cannot open a transfer port");
	} else if (tr->listen_fd >= 0) {
		/* Out of descriptors: the ERROR goes from the listening
		 * port, as the listener's own refusals do. */
		uint8_t buf[128];
		size_t len = packet_build_error(buf, sizeof(buf), TFTP_EUNDEF,
						"cannot open a transfer port");
		(void)sendto(tr->listen_fd, buf, len, 0, &tr->client.sa,
			     net_len(&tr->client));
	}
	return -1;
}

/* The timer of this transfer.  A client's RFC 2349 timeout caps the timer
 * (below the cap it adapts, RFC 1123 4.2.3.2) or, with --strict-timeout,
 * fixes it; either way the give-up time bounds what it may cost. */
static void start_timer(struct transfer *t, const struct options_accepted *acc)
{
	const struct config *cfg = t->cfg;
	unsigned initial = cfg->timeout_ms, floor = cfg->min_timeout_ms;
	unsigned backoff_max = RTO_BACKOFF_MAX_MS;

	t->give_up_us = (int64_t)cfg->give_up_ms * 1000;
	t->first_reply_us = (int64_t)(cfg->give_up_ms < TRANSFER_FIRST_REPLY_MS
					      ? cfg->give_up_ms
					      : TRANSFER_FIRST_REPLY_MS) *
			    1000;
	if (acc->present & OPTION_TIMEOUT) {
		initial = acc->timeout * 1000;
		if (initial > cfg->give_up_ms)
			initial = cfg->give_up_ms;
		if (cfg->strict_timeout)
			floor = backoff_max = initial;
	}
	rto_init(&t->rto, initial, floor, backoff_max);
}

/* Room in the socket for a whole window (RFC 7440): the send buffer of a
 * read, the receive buffer of a write.  The default (net.core.wmem_default,
 * about 200 KiB on Linux) holds three 64 KiB blocks, so a window of 16 of
 * them stalled in sendmsg (a read) or lost its tail (a write).  The kernel
 * caps what an unprivileged process asks at net.core.wmem_max/rmem_max; as
 * root, the FORCE variants lift the cap (Linux).  Never shrinks a buffer;
 * logs what the kernel granted at the packet level. */
static void size_buffer(struct transfer *t, int wrq)
{
	int opt = wrq ? SO_RCVBUF : SO_SNDBUF, have = 0, want;
	socklen_t len = sizeof(have);
	/* payload, header, and the kernel's own per-datagram overhead */
	size_t need =
		(size_t)t->windowsize * (t->blksize + TFTP_DATA_HEADER + 512);

	if (t->windowsize < 2 ||
	    getsockopt(t->sock, SOL_SOCKET, opt, &have, &len) != 0 ||
	    (size_t)have >= need)
		return;
	want = need > INT_MAX / 2 ? INT_MAX / 2 : (int)need;
#if defined(SO_SNDBUFFORCE) && defined(SO_RCVBUFFORCE)
	if (setsockopt(t->sock, SOL_SOCKET,
		       wrq ? SO_RCVBUFFORCE : SO_SNDBUFFORCE, &want,
		       sizeof(want)) != 0)
#endif
		(void)setsockopt(t->sock, SOL_SOCKET, opt, &want, sizeof(want));
	len = sizeof(have);
	if (log_enabled(LOG_DEBUG) &&
	    getsockopt(t->sock, SOL_SOCKET, opt, &have, &len) == 0)
		log_msg(LOG_DEBUG, "%s: %s %d bytes for a window of %zu",
			t->client_str, wrq ? "SO_RCVBUF" : "SO_SNDBUF", have,
			need);
}

/* Negotiate the options (RFC 2347) and start the timer. */
static void negotiate(struct transfer *t, const struct transfer_request *tr,
		      struct options_accepted *acc)
{
	struct options_limits lim;

	lim.max_blksize = blksize_cap(t->cfg, &tr->origin, &tr->client);
	lim.max_windowsize = t->cfg->max_window;
	lim.refused = t->cfg->refused;
	options_negotiate(tr->req, &lim, acc);
	t->blksize = acc->blksize;
	t->windowsize = acc->windowsize;
	size_buffer(t, tr->req->opcode == TFTP_WRQ);
	start_timer(t, acc);
}

/* The OACK for acc with tsize into oack (cap bytes); *len 0 when no option
 * was accepted.  Returns 0, or -1 with t->outcome set. */
static int build_oack(struct transfer *t, const struct options_accepted *acc,
		      uint64_t tsize, uint8_t *oack, size_t cap, size_t *len)
{
	*len = acc->present ? options_build_oack(oack, cap, acc, tsize) : 0;
	if (acc->present && *len == 0) {
		end(t, TRANSFER_FAILED, "failed: OACK does not fit");
		return -1;
	}
	return 0;
}

/* A read's options, tsize and window ring.  Returns 0, or -1 with
 * t->outcome set. */
static int start_read(struct transfer *t, const struct transfer_request *tr,
		      struct source *src, const struct stat *st, uint8_t *oack,
		      size_t cap, size_t *oack_len)
{
	struct options_accepted acc;
	uint64_t tsize = 0;

	negotiate(t, tr, &acc);
	if (acc.present & OPTION_TSIZE) {
		/* netascii grows the file: send the converted size, or
		 * nothing rather than a wrong one (or than counting a large
		 * file for a 30-byte request).  curl (7.88 at least)
		 * rejects "tsize 0" and aborts; leaving tsize out (RFC 2347
		 * lets the server decline any option) lets every client
		 * fetch an empty file. */
		if (source_size(src, st, &tsize) != 0 || tsize == 0)
			acc.present &= ~(unsigned)OPTION_TSIZE;
	}
	if (build_oack(t, &acc, tsize, oack, cap, oack_len) != 0)
		return -1;
	t->ring =
		malloc((size_t)t->windowsize * (TFTP_DATA_HEADER + t->blksize));
	t->meta = calloc(t->windowsize, sizeof(*t->meta));
	if (!t->ring || !t->meta) {
		send_error(t, TFTP_EUNDEF, "out of memory");
		end(t, TRANSFER_FAILED, "failed: out of memory");
		return -1;
	}
	return 0;
}

/* Open the requested file under the root; a refusal gets its ERROR. */
static int open_file(struct transfer *t, const struct transfer_request *tr,
		     struct stat *st)
{
	const char *why;
	int code, fd = path_open_read(t->cfg->root_real, tr->rel,
				      t->cfg->permissive, st, &code, &why);

	if (fd >= 0)
		return fd;
	send_error(t, (uint16_t)code,
		   code == TFTP_ENOTFOUND ? "File not found"
		   : code == TFTP_EACCESS ? "Access violation"
					  : why);
	/* ERROR 0 is the server's own trouble (out of descriptors): worth a
	 * warning, where a client's bad request is not. */
	end(t, code == TFTP_EUNDEF ? TRANSFER_FAILED : TRANSFER_REFUSED,
	    "%s: %s (ERROR %d)", code == TFTP_EUNDEF ? "failed" : "refused",
	    why, code);
	return -1;
}

/* ---- uploads (WRQ) ------------------------------------------------------ */

static int send_ack(struct transfer *t, uint64_t block)
{
	uint8_t ack[4];

	return send_packet(t, ack, packet_build_ack(ack, (uint16_t)block), NULL,
			   0);
}

/* A block that could not be written ends the upload: ERROR 3 for a full
 * disk or an upload over --max-upload-size (RFC 1350), ERROR 0 else. */
static void write_failed(struct transfer *t, int err)
{
	if (err == ENOSPC || err == EDQUOT) {
		send_error(t, TFTP_ENOSPACE, NULL);
		end(t, TRANSFER_FAILED, "failed: disk full");
	} else if (err == EFBIG) {
		send_error(t, TFTP_ENOSPACE, "larger than the server accepts");
		end(t, TRANSFER_REFUSED, "refused: over --max-upload-size");
	} else {
		send_error(t, TFTP_EUNDEF, "write error");
		end(t, TRANSFER_FAILED, "failed: write error: %s",
		    strerror(err));
	}
}

/* After the final ACK (RFC 1350 section 6, "dallying"): if that ACK is
 * lost the client sends its last DATA again; answer it for a while.  The
 * transfer's outcome is already decided and stays. */
static void dally(struct transfer *t, uint64_t last)
{
	int64_t until = now_us() + (int64_t)TRANSFER_DALLY_MS * 1000;
	enum transfer_outcome outcome = t->outcome;
	char detail[sizeof(t->detail)];
	struct tftp_packet pkt;

	memcpy(detail, t->detail, sizeof(detail));
	while (wait_packet(t, until, &pkt) == WAIT_GOT)
		if (pkt.opcode == TFTP_DATA && pkt.block == (uint16_t)last &&
		    send_ack(t, last) == 0)
			t->retransmits++;
	t->outcome = outcome;
	memcpy(t->detail, detail, sizeof(detail));
}

/* The last block is in: the file is made whole on disk before the client
 * hears that it is, then the final ACK goes out. */
static void finish_upload(struct transfer *t, struct sink *s, uint64_t last)
{
	if (sink_commit(s) != 0) {
		write_failed(t, errno);
		return;
	}
	end(t, TRANSFER_COMPLETE, "complete");
	if (send_ack(t, last) != 0)
		end(t, TRANSFER_COMPLETE, "complete"); /* the file is whole */
	/* The summary now: the dally adds nothing worth waiting for. */
	summary(t);
	t->logged = 1;
	if (handoff_mark_done())
		dally(t, last);
}

/* What the receiving side knows between two packets. */
struct receiver {
	uint64_t received;  /* highest block written, in order */
	unsigned in_window; /* blocks since our last ACK */
	int gap_acked;	    /* a gap was answered: wait for the resend */
	int ack_resent;	    /* our last ACK went more than once (Karn) */
	int64_t acked_us;   /* when our last ACK went out */
};

/* One DATA block from the client.  In order: written, then acknowledged
 * when it ends a window (RFC 7440) or the file.  Seen before: our ACK was
 * lost, so it is acknowledged again, not written twice.  Past a gap: one
 * ACK of the last block in order, so the sender resumes from there.
 * Returns 0 to go on, -1 when the transfer is over. */
static int take_data(struct transfer *t, struct sink *s, struct receiver *rx,
		     const struct tftp_packet *pkt)
{
	uint16_t delta = (uint16_t)(pkt->block - (uint16_t)rx->received);

	if (delta != 1) {
		if (delta != 0 && delta < 0x8000) { /* ahead: a gap */
			if (rx->gap_acked)
				return 0;
			rx->gap_acked = 1;
		}
		rx->in_window = 0;
		return send_ack(t, rx->received);
	}
	if (sink_write(s, pkt->data, pkt->data_len) != 0) {
		write_failed(t, errno);
		return -1;
	}
	rx->received++;
	t->blocks++;
	t->bytes += pkt->data_len;
	rx->gap_acked = 0;
	if (rx->in_window == 0)
		progress(t, rx->acked_us, rx->ack_resent);
	if (pkt->data_len < t->blksize) {
		finish_upload(t, s, rx->received);
		return -1;
	}
	if (++rx->in_window < t->windowsize)
		return 0;
	rx->in_window = 0;
	rx->ack_resent = 0;
	rx->acked_us = now_us();
	return send_ack(t, rx->received);
}

/* Receive the file (RFC 1350 WRQ, RFC 7440 windows) into the sink.  first
 * (len bytes: ACK 0 or the OACK) is resent only when the client repeats its
 * WRQ; later, silence resends the last ACK on the timer. */
static void receive_file(struct transfer *t, struct sink *s,
			 const uint8_t *first, size_t len)
{
	struct receiver rx = {.acked_us = now_us()};
	struct tftp_packet pkt;

	for (;;) {
		switch (wait_packet(t, deadline(t), &pkt)) {
		case WAIT_REPEAT: /* ACK 0 or the OACK was lost */
			t->retransmits++;
			rx.ack_resent = 1;
			if (send_packet(t, first, len, NULL, 0) != 0)
				return;
			continue;
		case WAIT_TIMEOUT:
			if (silence(t))
				return;
			t->retransmits++;
			rx.ack_resent = 1;
			if (send_ack(t, rx.received) != 0)
				return;
			continue;
		case WAIT_END:
			return;
		case WAIT_GOT:
			break;
		}
		if (pkt.opcode != TFTP_DATA || pkt.data_len > t->blksize) {
			int data = pkt.opcode == TFTP_DATA;
			send_error(t, TFTP_EBADOP,
				   data ? "DATA over blksize"
					: "expected DATA");
			end(t, TRANSFER_REFUSED, "failed: client sent %s%s",
			    packet_opcode_name(pkt.opcode),
			    data ? " larger than blksize" : " during a write");
			return;
		}
		if (take_data(t, s, &rx, &pkt) != 0)
			return;
	}
}

/* A new file's mode: 0666 less --umask, or less the daemon's own umask
 * (tftpd-hpa's --permissive default). */
static mode_t create_mode(const struct config *cfg)
{
	mode_t mask = (mode_t)cfg->umask;

	if (cfg->umask == CONFIG_UMASK_INHERIT) {
		mask = umask(0);
		umask(mask);
	}
	return 0666 & ~mask;
}

/* Check and open the upload's target and temporary file, negotiate, and
 * send the first packet (the OACK, or ACK 0).  Returns its length in
 * first, or 0 with t->outcome set. */
static size_t start_write(struct transfer *t, const struct transfer_request *tr,
			  struct sink *s, uint8_t *first, size_t cap)
{
	const struct config *cfg = t->cfg;
	struct options_accepted acc;
	struct path_target target;
	const char *why;
	size_t len;
	int code;

	if (path_open_write(cfg->root_real, tr->rel, cfg->permissive,
			    cfg->create, &target, &code, &why) != 0) {
		send_error(t, (uint16_t)code,
			   code == TFTP_ENOTFOUND ? "File not found"
			   : code == TFTP_EACCESS ? "Access violation"
						  : why);
		end(t, TRANSFER_REFUSED, "refused: %s (ERROR %d)", why, code);
		return 0;
	}
	if (sink_open(s, &target, tr->req->mode, create_mode(cfg),
		      cfg->max_upload_size) != 0) {
		int err = errno;
		send_error(t,
			   err == EACCES || err == EPERM ? TFTP_EACCESS
							 : TFTP_EUNDEF,
			   "cannot write the file");
		end(t, TRANSFER_REFUSED,
		    "refused: cannot stage the upload: %s "
		    "(ERROR %d)",
		    strerror(err),
		    err == EACCES || err == EPERM ? TFTP_EACCESS : TFTP_EUNDEF);
		return 0;
	}
	negotiate(t, tr, &acc);
	/* RFC 2349: tsize announces the upload's size; refuse at once what
	 * cannot fit, and echo it in the OACK. */
	if ((acc.present & OPTION_TSIZE) &&
	    ((cfg->max_upload_size && acc.tsize > cfg->max_upload_size) ||
	     acc.tsize > sink_free_space(s))) {
		int over = cfg->max_upload_size &&
			   acc.tsize > cfg->max_upload_size;
		send_error(t, TFTP_ENOSPACE,
			   over ? "larger than the server accepts" : NULL);
		end(t, TRANSFER_REFUSED, "refused: tsize %llu %s (ERROR 3)",
		    (unsigned long long)acc.tsize,
		    over ? "over --max-upload-size" : "over the free space");
		return 0;
	}
	if (build_oack(t, &acc, acc.tsize, first, cap, &len) != 0)
		return 0;
	if (len == 0)
		len = packet_build_ack(first, 0);
	if (send_packet(t, first, len, NULL, 0) != 0)
		return 0;
	return len;
}

/* A read: the file, its options, the OACK and the blocks. */
static void serve_read(struct transfer *t, struct cache *cache,
		       const struct transfer_request *tr)
{
	static struct source src;
	static uint8_t oack[512]; /* longer than a DATA of a small blksize */
	size_t oack_len = 0;
	struct stat st;
	int fd = open_file(t, tr, &st);

	if (fd < 0)
		return;
	source_init(&src, fd, tr->req->mode, &st);
	t->cache_state = source_use_cache(&src, cache, tr->rel, &st);
	if (start_read(t, tr, &src, &st, oack, sizeof(oack), &oack_len) == 0) {
		/* A window goes out from a mapping of the file (one copy
		 * less per block: about 15% faster at blksize 65464); in
		 * lockstep a read into the ring, which stays in the CPU's
		 * caches, does better than faulting in a mapped block per
		 * round trip (5% at blksize 65464, median of 10 pairs). */
		if (t->windowsize > 1)
			source_map(&src);
		if (oack_len == 0 || send_oack(t, oack, oack_len) == 0)
			send_file(t, &src);
	}
	source_close(&src);
}

/* A write: the target and its temporary file, the first packet, the
 * blocks; anything short of complete leaves the target as it was. */
static void serve_write(struct transfer *t, const struct transfer_request *tr)
{
	static struct sink sink; /* a netascii buffer: not on the stack */
	uint8_t first[512];
	size_t len;

	if (t->cfg->readonly) { /* the listener refuses these already */
		send_error(t, TFTP_EACCESS, "writes are disabled");
		end(t, TRANSFER_REFUSED, "refused: --readonly (ERROR 2)");
		return;
	}
	sink.fd = sink.dirfd = sink.target_fd = -1;
	sink.tmpname[0] = '\0';
	len = start_write(t, tr, &sink, first, sizeof(first));
	if (len > 0)
		receive_file(t, &sink, first, len);
	sink_close(&sink);
}

enum transfer_outcome transfer_run(const struct config *cfg,
				   struct cache *cache,
				   const struct transfer_request *tr)
{
	static struct transfer t; /* large receive buffer: not on the stack */
	int have_socket;

	/* Not the receive buffer: recv writes it before anything reads it,
	 * and zeroing 64 KiB was three quarters of a small RRQ's instructions
	 * (and 16 page faults). */
	memset(&t, 0, offsetof(struct transfer, rxbuf));
	clock_gettime(CLOCK_MONOTONIC, &t.start);
	t.cfg = cfg;
	t.tr = tr;
	t.wake_fd = tr->wake_fd;
	t.heard_us = now_us();
	net_format(&tr->client, t.client_str);
	log_file_names(tr->req->filename, tr->req->filename_len, tr->mapped,
		       t.name, sizeof(t.name));
	t.op = tr->req->opcode == TFTP_WRQ ? "WRQ" : "RRQ";
	t.mode_name = packet_mode_name(tr->req->mode);
	t.blksize = TFTP_BLKSIZE_DEFAULT;
	t.windowsize = 1;
	end(&t, TRANSFER_FAILED, "failed");

	have_socket = open_socket(&t, tr) == 0;
	/* From here on the listening socket is not ours to hold: a listener
	 * restarted meanwhile must be able to bind its port. */
	if (tr->listen_fd >= 0)
		close(tr->listen_fd);
	if (have_socket) {
		if (tr->req->opcode == TFTP_WRQ)
			serve_write(&t, tr);
		else
			serve_read(&t, cache, tr);
	}
	if (!t.logged)
		summary(&t);
	free(t.ring);
	free(t.meta);
	if (t.sock >= 0 && cfg->single_port)
		release_socket(&t, NULL, 0);
	if (t.sock >= 0)
		close(t.sock);
	return t.outcome;
}
