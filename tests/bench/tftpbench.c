/* tftpbench: a TFTP benchmark client for the loopback.  C clients at once,
 * each making N requests one after the other (RRQ or WRQ, with blksize,
 * windowsize and tsize, RFC 2347-2349 and 7440), every byte checked against
 * a local copy; one key=value line out.  Driven by one poll() loop, split
 * over P processes when one core cannot keep up with the server.
 *
 * It is independent of src/ on purpose: a client that shared the server's
 * packet code would share its mistakes.  Exit 0 when every transfer
 * completed (and was verified, when a copy was given), 1 otherwise, 2 on a
 * usage error. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* RFC 1350 opcodes, and OACK from RFC 2347. */
enum {
	OP_RRQ = 1,
	OP_WRQ,
	OP_DATA,
	OP_ACK,
	OP_ERROR,
	OP_OACK
};

/* The largest DATA: RFC 2348's largest blksize plus the 4-byte header, and
 * room to notice a datagram longer than that. */
#define DGRAM_MAX 65536
#define BLKSIZE_MAX 65464
#define WINDOW_MAX 65535
/* Failures reported on stderr per process; the rest are only counted. */
#define REPORT_MAX 5
/* How long a WRQ's written file may take to show the uploaded bytes after
 * the last ACK (the server may still be closing or renaming it), in ms. */
#define UPLOAD_SETTLE_MS 3000

struct settings {
	int wrq;	     /* WRQ instead of RRQ */
	unsigned blksize;    /* requested blksize; 0 = no option */
	unsigned window;     /* requested windowsize; 0 = no option */
	int tsize;	     /* request tsize (RRQ "0", WRQ the size) */
	unsigned requests;   /* sequential requests per client */
	unsigned clients;    /* concurrent clients */
	unsigned procs;	     /* processes sharing the clients */
	unsigned timeout_ms; /* silence before a resend */
	unsigned give_up_ms; /* silence before a transfer fails */
	const char *remote;  /* the file name sent in the request */
	const char *local;   /* -V: the bytes expected (RRQ) or sent (WRQ) */
	const char *written; /* -U: where the server writes a WRQ's file */
	const char *label;   /* -l: echoed in the output line */
	struct sockaddr_storage server;
	socklen_t server_len;
};

/* The local copy, mapped read-only; size 0 and data NULL when absent. */
struct copy {
	const unsigned char *data;
	size_t size;
	int present;
};

/* One client: at most one transfer in flight at a time. */
struct session {
	unsigned client; /* 0..clients-1 */
	unsigned done;	 /* requests finished (well or not) */
	int fd;		 /* -1 between transfers */
	int tid_known;	 /* the server's transfer port is learnt */
	struct sockaddr_storage tid;
	socklen_t tid_len;
	int settled;	     /* options answered (OACK) or ignored */
	unsigned blksize;    /* in force for this transfer */
	unsigned window;     /* in force for this transfer */
	uint64_t next;	     /* RRQ: block expected; WRQ: unused */
	uint64_t acked;	     /* last block acknowledged (by us for RRQ,
			      * by the server for WRQ) */
	uint64_t resync_for; /* RRQ: the block a resync ACK was sent for */
	uint64_t sent_upto;  /* WRQ: highest block sent */
	uint64_t nblocks;    /* WRQ: blocks in the upload, the short one too */
	unsigned in_window;  /* RRQ: blocks in order since our last ACK */
	uint64_t bytes;	     /* data bytes of this transfer so far */
	double t_begin;	     /* when the request was first sent (s) */
	double t_progress;   /* when the transfer last moved forward (s) */
	double t_deadline;   /* when the next resend is due (s) */
	unsigned char req[600]; /* the request, resent until answered */
	size_t req_len;
};

/* What one process did; summed over the processes. */
struct tally {
	uint64_t ok, failed, bytes, resends, dups, verified;
	double first, last; /* first request sent, last transfer ended (s) */
	/* blksize and windowsize of the first transfer to end well */
	unsigned neg_blksize, neg_window;
	unsigned nlat; /* entries in the latency array that follows */
};

struct worker {
	const struct settings *set;
	const struct copy *copy;
	struct session *sessions;
	unsigned nsessions;
	unsigned active;
	struct tally t;
	double *lat; /* seconds per transfer that ended well */
	unsigned reported;
	unsigned char buf[DGRAM_MAX + 1];
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void put16(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* The 64-bit block whose low 16 bits are b, in lo..hi (hi - lo < 65536):
 * block numbers wrap past 65535 in long transfers.  0 with *found = 0 when
 * none. */
static uint64_t unwrap(unsigned b, uint64_t lo, uint64_t hi, int *found)
{
	uint64_t k = lo + ((b - (unsigned)(lo & 0xffff)) & 0xffff);

	*found = k <= hi;
	return *found ? k : 0;
}

/* End the transfer as failed, saying why (for the first few): -1. */
static int fail(struct worker *w, struct session *s, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

/* End the transfer (ok: it completed) and start the client's next: 0. */
static int finish(struct worker *w, struct session *s, int ok);

/* The remote name and written path of a client: with several clients a WRQ
 * gets NAME.<client>, so that uploads never share a file. */
static void client_name(const struct settings *set, const char *base,
			unsigned client, char *out, size_t cap)
{
	if (set->wrq && set->clients > 1)
		snprintf(out, cap, "%s.%u", base, client);
	else
		snprintf(out, cap, "%s", base);
}

/* Append a NUL-terminated string; 0, or -1 when it does not fit. */
static int put_str(unsigned char *buf, size_t cap, size_t *len, const char *s)
{
	size_t n = strlen(s) + 1;

	if (*len + n > cap)
		return -1;
	memcpy(buf + *len, s, n);
	*len += n;
	return 0;
}

/* RFC 1350 section 5 request, with the RFC 2347 options asked for. */
static int build_request(const struct settings *set, const struct copy *copy,
			 unsigned client, unsigned char *buf, size_t cap,
			 size_t *len)
{
	char name[512], num[32];
	int rc = 0;

	client_name(set, set->remote, client, name, sizeof(name));
	put16(buf, set->wrq ? OP_WRQ : OP_RRQ);
	*len = 2;
	rc |= put_str(buf, cap, len, name);
	rc |= put_str(buf, cap, len, "octet");
	if (set->blksize) {
		snprintf(num, sizeof(num), "%u", set->blksize);
		rc |= put_str(buf, cap, len, "blksize");
		rc |= put_str(buf, cap, len, num);
	}
	if (set->window) {
		snprintf(num, sizeof(num), "%u", set->window);
		rc |= put_str(buf, cap, len, "windowsize");
		rc |= put_str(buf, cap, len, num);
	}
	if (set->tsize) {
		snprintf(num, sizeof(num), "%zu", set->wrq ? copy->size : 0);
		rc |= put_str(buf, cap, len, "tsize");
		rc |= put_str(buf, cap, len, num);
	}
	return rc;
}

static int fail(struct worker *w, struct session *s, const char *fmt, ...)
{
	va_list ap;

	if (w->reported++ < REPORT_MAX) {
		fprintf(stderr, "tftpbench: client %u request %u: ", s->client,
			s->done + 1);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	finish(w, s, 0);
	return -1;
}

static int send_to_peer(struct worker *w, struct session *s,
			const unsigned char *p, size_t n)
{
	ssize_t r;

	if (s->tid_known)
		r = send(s->fd, p, n, 0);
	else
		r = sendto(s->fd, p, n, 0,
			   (const struct sockaddr *)&w->set->server,
			   w->set->server_len);
	if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
	    errno != ENOBUFS) {
		fail(w, s, "send: %s", strerror(errno));
		return -1;
	}
	/* A datagram the kernel had no room for is lost like one on the
	 * wire: the timer resends it. */
	return 0;
}

static void arm(struct worker *w, struct session *s, double now)
{
	unsigned ms = w->set->timeout_ms < w->set->give_up_ms
			      ? w->set->timeout_ms
			      : w->set->give_up_ms;

	s->t_deadline = now + ms / 1e3;
}

static void send_ack(struct worker *w, struct session *s, uint64_t block)
{
	unsigned char ack[4];

	put16(ack, OP_ACK);
	put16(ack + 2, (unsigned)(block & 0xffff));
	s->acked = block;
	s->in_window = 0;
	send_to_peer(w, s, ack, sizeof(ack));
}

/* WRQ: DATA for block k (1-based) of the local copy. */
static int send_data(struct worker *w, struct session *s, uint64_t k)
{
	static unsigned char pkt[4 + BLKSIZE_MAX];
	uint64_t off = (k - 1) * s->blksize;
	size_t n = 0;

	if (off < w->copy->size)
		n = w->copy->size - off < s->blksize ? w->copy->size - off
						     : s->blksize;
	put16(pkt, OP_DATA);
	put16(pkt + 2, (unsigned)(k & 0xffff));
	if (n)
		memcpy(pkt + 4, w->copy->data + off, n);
	return send_to_peer(w, s, pkt, 4 + n);
}

/* WRQ: RFC 7440 section 4, the sender: a window of blocks from the one
 * after the last acknowledged, then wait for the ACK.  Returns 0, or -1
 * when the transfer failed. */
static int send_window(struct worker *w, struct session *s, double now)
{
	uint64_t k, end = s->acked + s->window;

	if (end > s->nblocks)
		end = s->nblocks;
	for (k = s->acked + 1; k <= end; k++)
		if (send_data(w, s, k) != 0)
			return -1;
	s->sent_upto = end;
	arm(w, s, now);
	return 0;
}

/* Room in a socket buffer for two windows of blocks, as a tuned client
 * would ask; never less than the system's default, and the kernel caps it
 * at its own maximum. */
static void size_buffer(int fd, int opt, unsigned blksize, unsigned window)
{
	uint64_t want =
		(uint64_t)(blksize ? blksize : 512) * (window ? window : 1);
	int have = 0;
	socklen_t len = sizeof(have);

	want = want * 2 + 65536;
	if (want > INT_MAX)
		want = INT_MAX;
	if (getsockopt(fd, SOL_SOCKET, opt, &have, &len) == 0 &&
	    (uint64_t)have >= want)
		return;
	have = (int)want;
	setsockopt(fd, SOL_SOCKET, opt, &have, sizeof(have));
}

static void start(struct worker *w, struct session *s, double now)
{
	const struct settings *set = w->set;
	int fl;

	memset((char *)s + offsetof(struct session, fd), 0,
	       sizeof(*s) - offsetof(struct session, fd));
	s->fd = socket(set->server.ss_family, SOCK_DGRAM, 0);
	if (s->fd < 0) {
		/* Out of sockets: this client's remaining requests fail
		 * at once rather than one by one. */
		if (w->reported++ < REPORT_MAX)
			fprintf(stderr, "tftpbench: client %u: socket: %s\n",
				s->client, strerror(errno));
		w->t.failed += set->requests - s->done;
		s->done = set->requests;
		return;
	}
	fl = fcntl(s->fd, F_GETFL);
	fcntl(s->fd, F_SETFL, fl | O_NONBLOCK);
	size_buffer(s->fd, set->wrq ? SO_SNDBUF : SO_RCVBUF, set->blksize,
		    set->window);
	w->active++;
	s->blksize = 512;
	s->window = 1;
	s->next = 1;
	/* parse_args bounds FILE so that the request always fits. */
	(void)build_request(set, w->copy, s->client, s->req, sizeof(s->req),
			    &s->req_len);
	s->t_begin = s->t_progress = now;
	if (w->t.first == 0 || now < w->t.first)
		w->t.first = now;
	arm(w, s, now);
	send_to_peer(w, s, s->req, s->req_len);
}

static int finish(struct worker *w, struct session *s, int ok)
{
	double now = now_s();

	if (s->fd >= 0) {
		close(s->fd);
		w->active--;
	}
	s->fd = -1;
	if (ok) {
		w->t.ok++;
		w->t.bytes += s->bytes;
		if (w->t.neg_blksize == 0) {
			w->t.neg_blksize = s->blksize;
			w->t.neg_window = s->window;
		}
		if (!w->set->wrq && w->copy->present)
			w->t.verified++;
		w->lat[w->t.nlat++] = now - s->t_begin;
	} else {
		w->t.failed++;
	}
	if (now > w->t.last)
		w->t.last = now;
	if (++s->done < w->set->requests)
		start(w, s, now);
	return 0;
}

/* RFC 2347 OACK: name/value pairs, each option one we asked for, each value
 * within what we asked (RFC 2348 section 2, RFC 7440 section 3, RFC 2349
 * section 5).  0, or -1 with *why set. */
static int parse_oack(const struct worker *w, struct session *s,
		      const unsigned char *p, size_t n, const char **why)
{
	const struct settings *set = w->set;
	size_t i = 2;

	while (i < n) {
		const char *name = (const char *)p + i, *val;
		const void *nul = memchr(p + i, 0, n - i);
		unsigned long long v;
		char *end;

		if (!nul)
			return *why = "OACK option name not terminated", -1;
		i = (size_t)((const unsigned char *)nul - p) + 1;
		val = (const char *)p + i;
		nul = memchr(p + i, 0, n - i);
		if (!nul || *val == '\0')
			return *why = "OACK value missing", -1;
		i = (size_t)((const unsigned char *)nul - p) + 1;
		errno = 0;
		v = strtoull(val, &end, 10);
		if (*end || errno)
			return *why = "OACK value not a number", -1;
		if (strcasecmp(name, "blksize") == 0 && set->blksize) {
			if (v < 8 || v > set->blksize)
				return *why = "OACK blksize out of range", -1;
			s->blksize = (unsigned)v;
		} else if (strcasecmp(name, "windowsize") == 0 && set->window) {
			if (v < 1 || v > set->window)
				return *why = "OACK windowsize out of range",
				       -1;
			s->window = (unsigned)v;
		} else if (strcasecmp(name, "tsize") == 0 && set->tsize) {
			if (w->copy->present && v != w->copy->size)
				return *why = "OACK tsize is not the file size",
				       -1;
		} else {
			return *why = "OACK holds an option not asked for", -1;
		}
	}
	return 0;
}

/* An ERROR packet's text, made printable. */
static const char *error_text(const unsigned char *p, size_t n, char *out,
			      size_t cap)
{
	size_t i, j = 0;

	for (i = 4; i < n && p[i] && j + 1 < cap; i++)
		out[j++] = p[i] >= 32 && p[i] < 127 ? (char)p[i] : '?';
	out[j] = '\0';
	return out;
}

/* RRQ, the receiving side (RFC 1350, RFC 7440 section 4): ACK every
 * window's last block and the final short block; on a gap, ACK the last
 * block received in order, once, so that the server restarts there.
 * Returns 0, or -1 when the transfer failed. */
static int rrq_packet(struct worker *w, struct session *s,
		      const unsigned char *p, size_t n, double now)
{
	const char *why;
	unsigned op = get16(p), b;
	size_t len;

	if (op == OP_OACK) {
		if (s->settled) {
			/* Our ACK 0 was lost: the server resent its OACK. */
			if (s->next == 1)
				send_ack(w, s, 0);
			return 0;
		}
		if (parse_oack(w, s, p, n, &why) != 0)
			return fail(w, s, "%s", why);
		s->settled = 1;
		s->t_progress = now;
		arm(w, s, now);
		send_ack(w, s, 0);
		return 0;
	}
	if (op != OP_DATA || n < 4)
		return fail(w, s, "opcode %u where DATA was expected", op);
	/* A server that ignores every option answers with DATA 1 (RFC 2347):
	 * the transfer is plain RFC 1350, blksize 512, windowsize 1. */
	s->settled = 1;
	len = n - 4;
	b = get16(p + 2);
	if (len > s->blksize)
		return fail(w, s, "DATA of %zu bytes, blksize %u", len,
			    s->blksize);
	if (b != (s->next & 0xffff)) {
		unsigned ahead = (b - (unsigned)(s->next & 0xffff)) & 0xffff;

		if (ahead < 0x8000) {
			if (s->resync_for != s->next) {
				s->resync_for = s->next;
				send_ack(w, s, s->next - 1);
			}
		} else {
			w->t.dups++;
			/* The server did not see our last ACK: repeat it. */
			if (b == (s->acked & 0xffff) && s->in_window == 0)
				send_ack(w, s, s->acked);
		}
		return 0;
	}
	if (w->copy->present) {
		uint64_t off = (s->next - 1) * s->blksize;

		if (off + len > w->copy->size)
			return fail(w, s,
				    "more bytes than the local copy's %zu",
				    w->copy->size);
		if (len && memcmp(w->copy->data + off, p + 4, len) != 0)
			return fail(w, s, "bytes differ in block %llu",
				    (unsigned long long)s->next);
	}
	s->bytes += len;
	s->next++;
	s->in_window++;
	s->t_progress = now;
	arm(w, s, now);
	if (len < s->blksize) {
		send_ack(w, s, s->next - 1);
		if (w->copy->present && s->bytes != w->copy->size)
			return fail(w, s, "%llu bytes received, %zu expected",
				    (unsigned long long)s->bytes,
				    w->copy->size);
		return finish(w, s, 1);
	}
	if (s->in_window >= s->window)
		send_ack(w, s, s->next - 1);
	return 0;
}

/* WRQ, the sending side: the server's ACK of block k means blocks up to k
 * arrived in order; the next window starts after it (RFC 7440 section 4).
 * Returns 0, or -1 when the transfer failed. */
static int wrq_packet(struct worker *w, struct session *s,
		      const unsigned char *p, size_t n, double now)
{
	const char *why;
	unsigned op = get16(p);
	int found;
	uint64_t k;

	if (op == OP_OACK) {
		if (s->settled)
			return 0; /* a resent OACK: our DATA 1 is under way */
		if (parse_oack(w, s, p, n, &why) != 0)
			return fail(w, s, "%s", why);
		s->settled = 1;
	} else if (op == OP_ACK && n >= 4 && !s->settled) {
		if (get16(p + 2) != 0)
			return fail(w, s, "first ACK is not ACK 0");
		s->settled = 1; /* options ignored: RFC 1350 */
	} else if (op == OP_ACK && n >= 4) {
		k = unwrap(get16(p + 2), s->acked, s->sent_upto, &found);
		if (!found || k == s->acked) {
			w->t.dups++;
			return 0;
		}
		s->acked = k;
		s->bytes = k * s->blksize < w->copy->size ? k * s->blksize
							  : w->copy->size;
		if (k == s->nblocks)
			return finish(w, s, 1);
	} else {
		return fail(w, s, "opcode %u where ACK was expected", op);
	}
	if (s->nblocks == 0)
		s->nblocks = w->copy->size / s->blksize + 1;
	s->t_progress = now;
	return send_window(w, s, now);
}

/* A datagram for session s.  Returns 0, or -1 when the transfer failed. */
static int on_packet(struct worker *w, struct session *s,
		     const struct sockaddr_storage *from, socklen_t fromlen,
		     size_t n, double now)
{
	const unsigned char *p = w->buf;
	char text[128];

	if (n < 2)
		return fail(w, s, "datagram of %zu bytes", n);
	if (!s->tid_known) {
		/* RFC 1350 section 4: the server's first answer names its
		 * transfer ID; connect so that send() reaches it and the
		 * kernel reports an ICMP port unreachable. */
		memcpy(&s->tid, from, fromlen);
		s->tid_len = fromlen;
		if (connect(s->fd, (const struct sockaddr *)from, fromlen) != 0)
			return fail(w, s, "connect: %s", strerror(errno));
		s->tid_known = 1;
	} else if (fromlen != s->tid_len || memcmp(from, &s->tid, fromlen)) {
		return 0; /* queued before the connect, from another port */
	}
	if (get16(p) == OP_ERROR)
		return fail(w, s, "ERROR %u: %s", n >= 4 ? get16(p + 2) : 0,
			    error_text(p, n, text, sizeof(text)));
	if (w->set->wrq)
		return wrq_packet(w, s, p, n, now);
	return rrq_packet(w, s, p, n, now);
}

/* Read every datagram queued on session s's socket. */
static void drain(struct worker *w, struct session *s)
{
	struct sockaddr_storage from;
	socklen_t fromlen;
	ssize_t n;
	int fd = s->fd;

	/* A transfer that ends here may start the client's next request on
	 * a new socket: that one is polled in the next round. */
	while (s->fd == fd) {
		fromlen = sizeof(from);
		n = recvfrom(fd, w->buf, sizeof(w->buf), 0,
			     (struct sockaddr *)&from, &fromlen);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				fail(w, s, "recv: %s", strerror(errno));
			return;
		}
		on_packet(w, s, &from, fromlen, (size_t)n, now_s());
	}
}

/* Silence: give up, or resend what the server may have missed.  Returns
 * 0, or -1 when the transfer failed. */
static int on_timer(struct worker *w, struct session *s, double now)
{
	if (now - s->t_progress >= w->set->give_up_ms / 1e3)
		return fail(w, s, "no progress for %u ms", w->set->give_up_ms);
	w->t.resends++;
	arm(w, s, now);
	if (!s->tid_known || (w->set->wrq && !s->settled))
		return send_to_peer(w, s, s->req, s->req_len);
	if (w->set->wrq)
		return send_window(w, s, now);
	send_ack(w, s, s->next - 1);
	return 0;
}

static void run_worker(struct worker *w)
{
	struct pollfd *pfd = calloc(w->nsessions, sizeof(*pfd));
	struct session **who = calloc(w->nsessions, sizeof(*who));
	double now = now_s();

	if (!pfd || !who) {
		perror("tftpbench: calloc");
		exit(1);
	}
	for (unsigned i = 0; i < w->nsessions; i++)
		start(w, &w->sessions[i], now);
	while (w->active > 0) {
		double next = 0;
		nfds_t n = 0;
		int ms;

		for (unsigned i = 0; i < w->nsessions; i++) {
			struct session *s = &w->sessions[i];

			if (s->fd < 0)
				continue;
			if (next == 0 || s->t_deadline < next)
				next = s->t_deadline;
			pfd[n].fd = s->fd;
			pfd[n].events = POLLIN;
			who[n++] = s;
		}
		now = now_s();
		ms = next <= now ? 0 : (int)((next - now) * 1e3) + 1;
		if (poll(pfd, n, ms) < 0 && errno != EINTR) {
			perror("tftpbench: poll");
			exit(1);
		}
		for (nfds_t i = 0; i < n; i++)
			if (pfd[i].revents)
				drain(w, who[i]);
		now = now_s();
		for (nfds_t i = 0; i < n; i++)
			if (who[i]->fd == pfd[i].fd &&
			    who[i]->t_deadline <= now)
				on_timer(w, who[i], now);
	}
	free(pfd);
	free(who);
}

/* WRQ: each client's file on the server's disk must hold the bytes sent;
 * it is read until it does, for a bounded time.  Returns the number of
 * files that matched. */
static uint64_t check_uploads(const struct settings *set,
			      const struct copy *copy, unsigned first,
			      unsigned step)
{
	uint64_t good = 0;
	char path[1024];
	unsigned char *buf = malloc(copy->size + 1);

	if (!buf)
		return 0;
	for (unsigned c = first; c < set->clients; c += step) {
		double end = now_s() + UPLOAD_SETTLE_MS / 1e3;

		client_name(set, set->written, c, path, sizeof(path));
		for (;;) {
			size_t got = 0;
			ssize_t r = 0;
			int fd = open(path, O_RDONLY);

			while (fd >= 0 && got <= copy->size &&
			       (r = read(fd, buf + got, copy->size + 1 - got)) >
				       0)
				got += (size_t)r;
			if (fd >= 0)
				close(fd);
			if (fd >= 0 && r >= 0 && got == copy->size &&
			    (got == 0 || memcmp(buf, copy->data, got) == 0)) {
				good++;
				break;
			}
			if (now_s() > end) {
				fprintf(stderr,
					"tftpbench: %s does not hold the "
					"bytes sent\n",
					path);
				break;
			}
			struct timespec ts = {0, 10 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	free(buf);
	return good;
}

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "tftpbench: %s\n", why);
	fprintf(stderr,
		"usage: tftpbench [options] HOST PORT FILE\n"
		"  HOST is 127.0.0.1 or ::1 (never another address)\n"
		"  -o rrq|wrq   operation (default rrq)\n"
		"  -b BYTES     ask for this blksize (RFC 2348)\n"
		"  -w BLOCKS    ask for this windowsize (RFC 7440)\n"
		"  -t           ask for tsize (RFC 2349)\n"
		"  -n N         sequential requests per client (default 1)\n"
		"  -c C         concurrent clients (default 1)\n"
		"  -j P         processes sharing the clients (default 1)\n"
		"  -V PATH      local copy: bytes expected (RRQ) or sent (WRQ)\n"
		"  -U PATH      WRQ: the server's copy, compared at the end\n"
		"               (NAME.<client> with several clients)\n"
		"  -T MS        silence before a resend (default 1000)\n"
		"  -G MS        silence before a transfer fails (default 10000)\n"
		"  -l LABEL     echoed in the output line\n");
	return 2;
}

static int parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (*s == '\0' || *end || errno || v < lo || v > hi)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* Only the loopback, whatever the spelling ("127.1", "::ffff:127.0.0.1"
 * are refused): the benchmark floods its server. */
static int parse_host(const char *host, const char *port, struct settings *set)
{
	struct addrinfo hints = {0}, *ai;
	int ok;

	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
	hints.ai_socktype = SOCK_DGRAM;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	if (ai->ai_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ai->ai_addr;
		ok = a->sin_addr.s_addr == htonl(INADDR_LOOPBACK) &&
		     strcmp(host, "127.0.0.1") == 0;
	} else if (ai->ai_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)ai->ai_addr;
		ok = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
	} else {
		ok = 0;
	}
	if (ok) {
		memcpy(&set->server, ai->ai_addr, ai->ai_addrlen);
		set->server_len = ai->ai_addrlen;
	}
	freeaddrinfo(ai);
	return ok ? 0 : -1;
}

static int parse_args(int argc, char **argv, struct settings *set)
{
	unsigned port;
	int c;

	set->requests = set->clients = set->procs = 1;
	set->timeout_ms = 1000;
	set->give_up_ms = 10000;
	while ((c = getopt(argc, argv, "o:b:w:tn:c:j:V:U:T:G:l:")) != -1) {
		switch (c) {
		case 'o':
			if (strcmp(optarg, "rrq") && strcmp(optarg, "wrq"))
				return usage("-o takes rrq or wrq");
			set->wrq = strcmp(optarg, "wrq") == 0;
			break;
		case 'b':
			if (parse_uint(optarg, 8, BLKSIZE_MAX, &set->blksize))
				return usage("-b takes 8..65464");
			break;
		case 'w':
			if (parse_uint(optarg, 1, WINDOW_MAX, &set->window))
				return usage("-w takes 1..65535");
			break;
		case 't':
			set->tsize = 1;
			break;
		case 'n':
			if (parse_uint(optarg, 1, 100000000, &set->requests))
				return usage("-n takes 1..100000000");
			break;
		case 'c':
			if (parse_uint(optarg, 1, 100000, &set->clients))
				return usage("-c takes 1..100000");
			break;
		case 'j':
			if (parse_uint(optarg, 1, 64, &set->procs))
				return usage("-j takes 1..64");
			break;
		case 'V':
			set->local = optarg;
			break;
		case 'U':
			set->written = optarg;
			break;
		case 'T':
			if (parse_uint(optarg, 1, 600000, &set->timeout_ms))
				return usage("-T takes 1..600000");
			break;
		case 'G':
			if (parse_uint(optarg, 1, 3600000, &set->give_up_ms))
				return usage("-G takes 1..3600000");
			break;
		case 'l':
			set->label = optarg;
			break;
		default:
			return usage(NULL);
		}
	}
	if (argc - optind != 3)
		return usage("HOST PORT FILE expected");
	if (parse_uint(argv[optind + 1], 1, 65535, &port))
		return usage("PORT must be 1..65535");
	if (parse_host(argv[optind], argv[optind + 1], set) != 0)
		return usage("HOST must be 127.0.0.1 or ::1");
	set->remote = argv[optind + 2];
	if (strlen(set->remote) > 400)
		return usage("FILE is too long");
	if (set->wrq && !set->local)
		return usage("-o wrq needs -V, the file to send");
	if (set->written && !set->wrq)
		return usage("-U goes with -o wrq");
	if (set->procs > set->clients)
		set->procs = set->clients;
	return 0;
}

static int load_copy(const char *path, struct copy *copy)
{
	struct stat st;
	int fd = open(path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "tftpbench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	copy->size = (size_t)st.st_size;
	copy->present = 1;
	if (copy->size) {
		void *m = mmap(NULL, copy->size, PROT_READ, MAP_PRIVATE, fd, 0);

		if (m == MAP_FAILED) {
			fprintf(stderr, "tftpbench: mmap %s: %s\n", path,
				strerror(errno));
			close(fd);
			return -1;
		}
		copy->data = m;
	}
	close(fd);
	return 0;
}

/* Worker w of the processes: clients w, w + procs, w + 2 procs... */
static void init_worker(struct worker *w, const struct settings *set,
			const struct copy *copy, unsigned index)
{
	memset(w, 0, sizeof(*w));
	w->set = set;
	w->copy = copy;
	w->nsessions = (set->clients - index + set->procs - 1) / set->procs;
	w->sessions = calloc(w->nsessions, sizeof(*w->sessions));
	w->lat = calloc((size_t)w->nsessions * set->requests, sizeof(double));
	if (!w->sessions || !w->lat) {
		perror("tftpbench: calloc");
		exit(1);
	}
	for (unsigned i = 0; i < w->nsessions; i++) {
		w->sessions[i].client = index + i * set->procs;
		w->sessions[i].fd = -1;
	}
}

/* Move exactly n bytes through a pipe: write them when out, else read
 * them.  0, or -1 on an error or an early end. */
static int pipe_all(int fd, void *p, size_t n, int out)
{
	char *c = p;

	while (n) {
		ssize_t r = out ? write(fd, c, n) : read(fd, c, n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		c += r;
		n -= (size_t)r;
	}
	return 0;
}

static void add_tally(struct tally *sum, const struct tally *t)
{
	sum->ok += t->ok;
	sum->failed += t->failed;
	sum->bytes += t->bytes;
	sum->resends += t->resends;
	sum->dups += t->dups;
	sum->verified += t->verified;
	if (t->first && (sum->first == 0 || t->first < sum->first))
		sum->first = t->first;
	if (t->last > sum->last)
		sum->last = t->last;
	if (sum->neg_blksize == 0) {
		sum->neg_blksize = t->neg_blksize;
		sum->neg_window = t->neg_window;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Run the workers: in this process when there is one, else in children
 * released together by closing a pipe, each reporting its tally and
 * latencies on a pipe of its own.  Returns the latencies (sorted). */
static double *run_all(const struct settings *set, const struct copy *copy,
		       struct tally *sum)
{
	double *lat = calloc((size_t)set->clients * set->requests + 1,
			     sizeof(double));
	int go[2];
	int *res = calloc(set->procs, sizeof(int));
	pid_t *pids = calloc(set->procs, sizeof(pid_t));

	if (!lat || !res || !pids || pipe(go) != 0) {
		perror("tftpbench: setup");
		exit(1);
	}
	memset(sum, 0, sizeof(*sum));
	for (unsigned p = 0; p < set->procs; p++) {
		int fds[2];
		char c;

		if (set->procs == 1) {
			static struct worker w;

			init_worker(&w, set, copy, 0);
			run_worker(&w);
			if (set->written)
				w.t.verified = check_uploads(set, copy, 0, 1);
			add_tally(sum, &w.t);
			memcpy(lat, w.lat, w.t.nlat * sizeof(double));
			sum->nlat = w.t.nlat;
			break;
		}
		if (pipe(fds) != 0 || (pids[p] = fork()) < 0) {
			perror("tftpbench: fork");
			exit(1);
		}
		if (pids[p] == 0) {
			static struct worker w;

			close(go[1]);
			close(fds[0]);
			init_worker(&w, set, copy, p);
			(void)!read(go[0], &c, 1); /* returns at EOF: go */
			run_worker(&w);
			if (set->written)
				w.t.verified =
					check_uploads(set, copy, p, set->procs);
			if (pipe_all(fds[1], &w.t, sizeof(w.t), 1) ||
			    pipe_all(fds[1], w.lat, w.t.nlat * sizeof(double),
				     1))
				_exit(1);
			_exit(0);
		}
		close(fds[1]);
		res[p] = fds[0];
	}
	close(go[0]);
	close(go[1]);
	for (unsigned p = 0; set->procs > 1 && p < set->procs; p++) {
		struct tally t;

		if (pipe_all(res[p], &t, sizeof(t), 0) != 0 ||
		    pipe_all(res[p], lat + sum->nlat, t.nlat * sizeof(double),
			     0) != 0) {
			/* Its clients' transfers count as failed. */
			fprintf(stderr, "tftpbench: process %u lost\n", p);
			memset(&t, 0, sizeof(t));
			t.failed = (set->clients - p + set->procs - 1) /
				   set->procs * set->requests;
		}
		close(res[p]);
		waitpid(pids[p], NULL, 0);
		add_tally(sum, &t);
		sum->nlat += t.nlat;
	}
	free(res);
	free(pids);
	qsort(lat, sum->nlat, sizeof(double), cmp_double);
	return lat;
}

static double quantile_ms(const double *v, unsigned n, double q)
{
	if (n == 0)
		return 0;
	return v[(unsigned)(q * (n - 1) + 0.5)] * 1e3;
}

int main(int argc, char **argv)
{
	static struct settings set;
	struct copy copy = {0};
	struct tally t;
	struct rlimit rl;
	double *lat, secs;
	char host[64];

	if (parse_args(argc, argv, &set) != 0)
		return 2;
	if (set.local && load_copy(set.local, &copy) != 0)
		return 2;
	/* One socket per client, plus a few. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	lat = run_all(&set, &copy, &t);
	secs = t.last > t.first ? t.last - t.first : 0;
	getnameinfo((const struct sockaddr *)&set.server, set.server_len, host,
		    sizeof(host), NULL, 0, NI_NUMERICHOST);
	printf("tftpbench%s%s op=%s host=%s file=%s blksize=%u windowsize=%u "
	       "tsize=%d clients=%u requests=%u procs=%u transfers=%llu "
	       "ok=%llu failed=%llu verified=%llu bytes=%llu seconds=%.6f "
	       "MBps=%.3f rps=%.1f resends=%llu dups=%llu neg_blksize=%u "
	       "neg_windowsize=%u lat_p50_ms=%.3f lat_p99_ms=%.3f "
	       "lat_max_ms=%.3f\n",
	       set.label ? " label=" : "", set.label ? set.label : "",
	       set.wrq ? "wrq" : "rrq", host, set.remote, set.blksize,
	       set.window, set.tsize, set.clients, set.requests, set.procs,
	       (unsigned long long)set.clients * set.requests,
	       (unsigned long long)t.ok, (unsigned long long)t.failed,
	       (unsigned long long)t.verified, (unsigned long long)t.bytes,
	       secs, secs > 0 ? (double)t.bytes / secs / 1e6 : 0,
	       secs > 0 ? (double)t.ok / secs : 0,
	       (unsigned long long)t.resends, (unsigned long long)t.dups,
	       t.neg_blksize, t.neg_window, quantile_ms(lat, t.nlat, 0.5),
	       quantile_ms(lat, t.nlat, 0.99), quantile_ms(lat, t.nlat, 1.0));
	free(lat);
	if (t.failed)
		return 1;
	if (set.written && t.verified != set.clients)
		return 1;
	return 0;
}
