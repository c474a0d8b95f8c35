/* The raw-packet probe: speaks hand-made TFTP datagrams to a running ctftpd
 * on the loopback and checks what comes back, for the cases a well-behaved
 * client never produces.  One scenario per run; one line of diagnosis; exit
 * 0 pass, 1 fail, 2 usage.  Every wait is a bounded poll(). */
#include "autoconfig.h"

#include "net.h"
#include "packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if defined(__GNUC__) || defined(__clang__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#else
#define PRINTF_LIKE(f, a)
#endif

/* How long the server may take to answer anything.  It answers in well under
 * a millisecond on the loopback; the margin is for sanitizer builds on a
 * loaded CI machine, not for the server's own timers. */
#define REPLY_MS 3000
/* How long to listen for packets that must NOT come, when nothing orders them
 * after something we can wait for. */
#define QUIET_MS 2500
/* How long to collect answers to a repeated request. */
#define COLLECT_MS 1500
/* The file every root made by tests/helpers.bash holds: used to show the
 * server still serves after a hostile packet. */
#define ALIVE_FILE "hello.txt"

/* Room for the largest DATA (RFC 2348) and then some, so that an oversized
 * datagram shows up as too long instead of being cut silently. */
#define DGRAM_MAX 65536

enum {
	PROBE_PASS = 0,
	PROBE_FAIL = 1,
	PROBE_USAGE = 2
};

struct probe {
	union sockaddr_any server; /* the listening address and port */
	char server_str[NET_ADDRSTRLEN];
	const char *scenario; /* the one being run */
	char diag[1024];      /* the one-line verdict's text */
};

/* A datagram received from the server, decoded when it is DATA/ACK/ERROR.
 * 64 KiB each: the functions that receive keep theirs static, off the
 * stack (the probe is single-threaded and nothing recurses). */
struct reply {
	union sockaddr_any from;
	size_t len;
	int decoded; /* packet_parse_reply accepted it */
	struct tftp_packet pkt;
	uint8_t buf[DGRAM_MAX];
};

PRINTF_LIKE(2, 3)
static int fail(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->diag, sizeof(p->diag), fmt, ap);
	va_end(ap);
	return -1;
}

PRINTF_LIKE(2, 3)
static int pass(struct probe *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(p->diag, sizeof(p->diag), fmt, ap);
	va_end(ap);
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)((unsigned)b[0] << 8 | b[1]);
}

/* "DATA block 3 (512 bytes)", "ERROR 4 \"...\"": what a reply was, for a
 * diagnosis.  The message is printed with its length bounded and
 * non-printable bytes replaced, because the server's bytes are under test. */
static const char *describe(const struct reply *r, char *out, size_t cap)
{
	char who[NET_ADDRSTRLEN];
	char msg[64];
	size_t i;

	net_format(&r->from, who);
	if (!r->decoded) {
		snprintf(out, cap, "a %zu-byte datagram with opcode %u from %s",
			 r->len, r->len >= 2 ? get16(r->buf) : 0u, who);
		return out;
	}
	switch (r->pkt.opcode) {
	case TFTP_DATA:
		snprintf(out, cap, "DATA block %u (%zu bytes) from %s",
			 r->pkt.block, r->pkt.data_len, who);
		break;
	case TFTP_ACK:
		snprintf(out, cap, "ACK %u from %s", r->pkt.block, who);
		break;
	default:
		for (i = 0; i + 1 < sizeof(msg) && r->pkt.error_msg[i]; i++) {
			unsigned char c = (unsigned char)r->pkt.error_msg[i];
			msg[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		msg[i] = '\0';
		snprintf(out, cap, "ERROR %u \"%s\" from %s", r->pkt.error_code,
			 msg, who);
		break;
	}
	return out;
}

/* A client socket bound to the loopback address of the server's family, so
 * that no probe datagram can leave the host whatever the routing says. */
static int client_socket(const struct probe *p)
{
	union sockaddr_any me = p->server;
	int fd = socket(me.sa.sa_family, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (me.sa.sa_family == AF_INET6)
		me.sin6.sin6_port = 0;
	else
		me.sin.sin_port = 0;
	if (bind(fd, &me.sa, net_len(&me)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int send_to(struct probe *p, int fd, const union sockaddr_any *to,
		   const void *buf, size_t len)
{
	char who[NET_ADDRSTRLEN];

	if (sendto(fd, buf, len, 0, &to->sa, net_len(to)) != (ssize_t)len)
		return fail(p, "sendto %s: %s", net_format(to, who),
			    strerror(errno));
	return 0;
}

/* Wait up to timeout_ms for one datagram.  Returns 1 with *r filled, 0 on
 * silence, -1 on a local error (diagnosis set). */
static int recv_reply(struct probe *p, int fd, int timeout_ms, struct reply *r)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		socklen_t alen = sizeof(r->from);
		const char *why;
		int64_t left = deadline - now_ms();
		int n;
		ssize_t got;

		if (left < 0)
			left = 0;
		n = poll(&pfd, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail(p, "poll: %s", strerror(errno));
		if (n == 0)
			return 0;
		memset(&r->from, 0, sizeof(r->from));
		got = recvfrom(fd, r->buf, sizeof(r->buf), 0, &r->from.sa,
			       &alen);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0) {
			/* ECONNREFUSED here means an ICMP port unreachable:
			 * the server is gone. */
			return fail(p, "receive: %s", strerror(errno));
		}
		r->len = (size_t)got;
		r->decoded =
			packet_parse_reply(r->buf, r->len, &r->pkt, &why) == 0;
		return 1;
	}
}

/* Nonzero when a reply came from the server's host (any port). */
static int from_server_host(const struct probe *p, const struct reply *r)
{
	union sockaddr_any a = r->from;

	if (a.sa.sa_family != p->server.sa.sa_family)
		return 0;
	if (a.sa.sa_family == AF_INET6)
		a.sin6.sin6_port = p->server.sin6.sin6_port;
	else
		a.sin.sin_port = p->server.sin.sin_port;
	return net_same(&a, &p->server);
}

/* Nonzero when the server runs with --single-port (PROBE_SINGLE_PORT set
 * and not empty in the environment). */
static int single_port(void)
{
	const char *single = getenv("PROBE_SINGLE_PORT");

	return single && *single;
}

/* Nonzero when r came from a port of the server's host that a transfer
 * answers from: any but the listening port, or with PROBE_SINGLE_PORT set
 * in the environment (the server runs with --single-port) the listening
 * port and no other. */
static int from_transfer_port(const struct probe *p, const struct reply *r)
{
	if (single_port())
		return net_same(&r->from, &p->server);
	return from_server_host(p, r) && !net_same(&r->from, &p->server);
}

/* An RRQ or WRQ, built from counted pieces so a test can leave out a NUL.
 * Returns the length. */
static size_t build_request(uint8_t *buf, size_t cap, uint16_t opcode,
			    const char *name, const char *mode)
{
	size_t nl = strlen(name), ml = strlen(mode);

	if (4 + nl + ml > cap)
		return 0;
	buf[0] = (uint8_t)(opcode >> 8);
	buf[1] = (uint8_t)opcode;
	memcpy(buf + 2, name, nl + 1);
	memcpy(buf + 3 + nl, mode, ml + 1);
	return 4 + nl + ml;
}

/* Send one datagram from a fresh socket and require an ERROR whose code is
 * in want (a bit mask of 1 << code).  from_listener: the ERROR must come from
 * the listening port itself (refusals decided before a transfer exists);
 * otherwise any port of the server's host will do.  what names the datagram
 * in the diagnosis.  Returns the code, or -1. */
static int expect_error(struct probe *p, const void *dgram, size_t len,
			unsigned want, int from_listener, const char *what)
{
	static struct reply r;
	char desc[256];
	int fd = client_socket(p), rc;

	if (fd < 0)
		return fail(p, "%s: client socket: %s", what, strerror(errno));
	if (send_to(p, fd, &p->server, dgram, len) != 0) {
		close(fd);
		return -1;
	}
	rc = recv_reply(p, fd, REPLY_MS, &r);
	close(fd);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return fail(p, "%s: no reply from %s within %d ms", what,
			    p->server_str, REPLY_MS);
	describe(&r, desc, sizeof(desc));
	if (!r.decoded || r.pkt.opcode != TFTP_ERROR || r.pkt.error_code > 15 ||
	    !(want & (1u << r.pkt.error_code)))
		return fail(p,
			    "%s: expected an ERROR with code mask 0x%x, got "
			    "%s",
			    what, want, desc);
	if (from_listener ? !net_same(&r.from, &p->server)
			  : !from_server_host(p, &r))
		return fail(p, "%s: %s, expected it from %s", what, desc,
			    p->server_str);
	return r.pkt.error_code;
}

/* A download as a client makes it: in lockstep (RFC 1350: DATA n, ACK n),
 * which is a window of one block, or with RFC 2347 options and RFC 7440
 * windows (ACK 0 after the OACK, then an ACK at the end of every window and
 * for the last block).  The pieces are separate so that scenarios can act
 * between receiving a block and acknowledging it.  No DATA may carry more
 * than blksize bytes; a shorter one is the last. */
struct wdl {
	int fd;
	const char *name;
	union sockaddr_any tid; /* the server's port for this transfer */
	int have_tid;
	unsigned blksize, windowsize;
	uint16_t expected; /* next block number wanted (wraps like the wire) */
	uint16_t last_block; /* the newest block received in order */
	unsigned in_window;  /* new blocks since our last ACK */
	int ack_due;	     /* a window is complete, or the last block came */
	int done;	     /* the short last block arrived */
	int strict;	     /* a block out of order or twice is a failure */
	unsigned acks;	     /* copies of each ACK: 2 tests duplicate ACKs */
	uint64_t blocks, bytes; /* new blocks and their payload */
	uint64_t datagrams;	/* every DATA received, repeats included */
	uint64_t repeats;  /* DATA for a block already received, or ahead */
	uint64_t wraps;	   /* times the block number went past 65535 to 0 */
	unsigned requests; /* copies of the RRQ sent (wdl_start) */
	FILE *out;	   /* the payload goes here when not NULL */
};

/* Lockstep (blksize 512, window 1) until an OACK says otherwise. */
static void wdl_init(struct wdl *w, int fd, const char *name)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->name = name;
	w->blksize = TFTP_BLKSIZE_DEFAULT;
	w->windowsize = 1;
	w->expected = 1;
	w->acks = 1;
}

static int send_rrq(struct probe *p, int fd, const char *name, const char *mode)
{
	uint8_t req[1024];
	size_t len = build_request(req, sizeof(req), TFTP_RRQ, name, mode);

	if (len == 0)
		return fail(p, "file name too long for the probe");
	return send_to(p, fd, &p->server, req, len);
}

static int send_ack(struct probe *p, int fd, const union sockaddr_any *to,
		    uint16_t block)
{
	uint8_t ack[4];

	return send_to(p, fd, to, ack, packet_build_ack(ack, block));
}

/* Acknowledge the newest block received in order (w->acks times). */
static int wdl_ack(struct probe *p, struct wdl *w)
{
	for (unsigned i = 0; i < w->acks; i++)
		if (send_ack(p, w->fd, &w->tid, w->last_block) != 0)
			return -1;
	w->in_window = 0;
	w->ack_due = 0;
	return 0;
}

/* Check that a reply is DATA from the transfer's port: the first one (block
 * 1, when no OACK came) fixes the port.  Returns 0, or -1 after fail(). */
static int wdl_check_source(struct probe *p, struct wdl *w,
			    const struct reply *r)
{
	char desc[256];

	describe(r, desc, sizeof(desc));
	if (!from_server_host(p, r))
		return fail(p, "%s: %s: not from the server's address", w->name,
			    desc);
	if (!r->decoded || r->pkt.opcode != TFTP_DATA)
		return fail(p, "%s: expected DATA %u, got %s", w->name,
			    w->expected, desc);
	if (!w->have_tid) {
		if (r->pkt.block != 1)
			return fail(p, "%s: first reply is %s, not block 1",
				    w->name, desc);
		if (!from_transfer_port(p, r))
			return fail(p, "%s: %s: not from a transfer port",
				    w->name, desc);
		w->tid = r->from;
		w->have_tid = 1;
	} else if (!net_same(&r->from, &w->tid)) {
		return fail(p, "%s: %s: a second transfer port answered",
			    w->name, desc);
	}
	return 0;
}

/* Take one reply.  Returns 2 for a new block that completes a window (or
 * the file: ACK due), 1 for another new block, 0 for a repeat or a block
 * out of order (answered, when not strict, with an ACK of the last block in
 * order, as RFC 7440 section 4 has the receiver do; RFC 1350 too: our ACK
 * may have been lost), -1 on a failure.  In lockstep the server sends a
 * block only after the ACK of the one before: anything but the expected
 * block or the last one again is a failure. */
static int wdl_take(struct probe *p, struct wdl *w, const struct reply *r)
{
	char desc[256];

	if (wdl_check_source(p, w, r) != 0)
		return -1;
	describe(r, desc, sizeof(desc));
	w->datagrams++;
	if (r->pkt.data_len > w->blksize)
		return fail(p, "%s: %s: larger than the blksize %u", w->name,
			    desc, w->blksize);
	if (w->done || r->pkt.block != w->expected) {
		int again = w->blocks > 0 && r->pkt.block == w->last_block;
		w->repeats++;
		if (w->strict || (w->windowsize == 1 && !again))
			return fail(p,
				    "%s: %s, expected block %u%s (%llu DATA "
				    "for %llu blocks so far)",
				    w->name, desc, w->expected,
				    w->done ? " (after the last)" : "",
				    (unsigned long long)w->datagrams,
				    (unsigned long long)w->blocks);
		if (send_ack(p, w->fd, &w->tid, w->last_block) != 0)
			return -1;
		w->in_window = 0;
		w->ack_due = 0;
		return 0;
	}
	if (w->out && r->pkt.data_len > 0 &&
	    fwrite(r->pkt.data, 1, r->pkt.data_len, w->out) != r->pkt.data_len)
		return fail(p, "%s: write: %s", w->name, strerror(errno));
	if (r->pkt.block == 0)
		w->wraps++;
	w->last_block = r->pkt.block;
	w->expected++;
	w->blocks++;
	w->bytes += r->pkt.data_len;
	w->in_window++;
	w->done = r->pkt.data_len < w->blksize;
	w->ack_due = w->done || w->in_window >= w->windowsize;
	return w->ack_due ? 2 : 1;
}

/* Receive until an ACK is due (a window complete, or the last block); in
 * lockstep, that is the next new block. */
static int wdl_window(struct probe *p, struct wdl *w)
{
	static struct reply r;

	while (!w->ack_due) {
		int rc = recv_reply(p, w->fd, REPLY_MS, &r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fail(p,
				    "%s: no DATA %u within %d ms (%llu "
				    "blocks, %llu bytes so far; blksize %u, "
				    "windowsize %u)",
				    w->name, w->expected, REPLY_MS,
				    (unsigned long long)w->blocks,
				    (unsigned long long)w->bytes, w->blksize,
				    w->windowsize);
		if (wdl_take(p, w, &r) < 0)
			return -1;
	}
	return 0;
}

/* Windows and ACKs until the last block is acknowledged. */
static int wdl_finish(struct probe *p, struct wdl *w)
{
	for (;;) {
		if (wdl_window(p, w) != 0 || wdl_ack(p, w) != 0)
			return -1;
		if (w->done)
			return 0;
	}
}

/* Take whatever still comes for linger_ms after the end: with strict, any
 * DATA at all fails (the last block resent at once after our ACK would be
 * the Sorcerer's Apprentice, RFC 1123 section 4.2.3.1). */
static int wdl_linger(struct probe *p, struct wdl *w, int linger_ms)
{
	static struct reply r;
	int64_t end = now_ms() + linger_ms;
	int64_t left;

	while ((left = end - now_ms()) > 0) {
		int rc = recv_reply(p, w->fd, (int)left, &r);
		if (rc <= 0)
			return rc;
		if (wdl_take(p, w, &r) < 0)
			return -1;
	}
	return 0;
}

/* A client socket, or -1 with the diagnosis set. */
static int open_client(struct probe *p)
{
	int fd = client_socket(p);

	if (fd < 0)
		fail(p, "client socket: %s", strerror(errno));
	return fd;
}

/* Start a lockstep download of name in mode on a fresh socket (w->fd): the
 * RRQ goes out and DATA 1 comes in, not yet acknowledged; its payload and
 * the rest go to out when not NULL.  Returns 0, or -1 with the socket
 * closed (w->fd is then -1). */
static int wdl_begin(struct probe *p, struct wdl *w, const char *name,
		     const char *mode, FILE *out)
{
	wdl_init(w, open_client(p), name);
	w->out = out;
	if (w->fd < 0)
		return -1;
	if (send_rrq(p, w->fd, name, mode) != 0 || wdl_window(p, w) != 0) {
		close(w->fd);
		w->fd = -1;
		return -1;
	}
	return 0;
}

/* Acknowledge and receive in lockstep until n blocks have come, or the
 * last: the newest one is then received and not yet acknowledged. */
static int wdl_upto(struct probe *p, struct wdl *w, uint64_t n)
{
	while (!w->done && w->blocks < n)
		if (wdl_ack(p, w) != 0 || wdl_window(p, w) != 0)
			return -1;
	return 0;
}

/* A whole lockstep download of name on a fresh socket.  Returns 0 or -1. */
static int download_file(struct probe *p, const char *name, const char *mode,
			 FILE *out, uint64_t *bytes, union sockaddr_any *tid)
{
	struct wdl w;
	int rc;

	if (wdl_begin(p, &w, name, mode, out) != 0)
		return -1;
	rc = wdl_finish(p, &w);
	close(w.fd);
	if (bytes)
		*bytes = w.bytes;
	if (tid)
		*tid = w.tid;
	return rc;
}

/* After hostile input: the server must still serve a normal request. */
static int still_serves(struct probe *p, const char *after)
{
	uint64_t bytes;
	char why[sizeof(p->diag)];

	if (download_file(p, ALIVE_FILE, "octet", NULL, &bytes, NULL) != 0) {
		memcpy(why, p->diag, sizeof(why));
		return fail(p, "after %s the server no longer serves: %s",
			    after, why);
	}
	return 0;
}

/* Open OUT for a download's bytes, or NULL when no OUT was given. */
static int open_out(struct probe *p, int argc, char **argv, int idx, FILE **out)
{
	*out = NULL;
	if (argc <= idx)
		return 0;
	*out = fopen(argv[idx], "wb");
	if (!*out)
		return fail(p, "%s: %s", argv[idx], strerror(errno));
	return 0;
}

static int close_out(struct probe *p, FILE *out, const char *path, int rc)
{
	if (out && fclose(out) != 0 && rc == 0)
		return fail(p, "%s: %s", path, strerror(errno));
	return rc;
}

/* parse_count: a decimal count within lo..hi into *v, or fail naming what. */
static int parse_count(struct probe *p, const char *s, unsigned long lo,
		       unsigned long hi, const char *what, unsigned long *v)
{
	char *end;

	*v = strtoul(s, &end, 10);
	if (!*s || *end || *v < lo || *v > hi)
		return fail(p, "%s must be %lu..%lu", what, lo, hi);
	return 0;
}

/* ---- scenarios ---------------------------------------------------------- */

/* get FILE [OUT [MODE]]: a normal download; the diagnosis names the
 * transfer's port (the server's TID). */
static int sc_get(struct probe *p, int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "octet";
	char tidstr[NET_ADDRSTRLEN];
	union sockaddr_any tid;
	uint64_t bytes = 0;
	FILE *out;
	int rc;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	rc = download_file(p, argv[0], mode, out, &bytes, &tid);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p, "%s (%s): %llu bytes from TID %s", argv[0], mode,
		    (unsigned long long)bytes, net_format(&tid, tidstr));
}

/* ---- raw datagrams --------------------------------------------------------
 * The scenarios that differ only in the datagrams they send: each is a set of
 * rows in raw_cases below, and one function drives them all. */

struct raw_case {
	const char *set;  /* the scenario it belongs to */
	const char *what; /* names the datagram in a diagnosis */
	const uint8_t *bytes;
	size_t len;
	int any_port; /* its ERROR may come from a transfer's port */
};

/* What every datagram of a set must bring back: an ERROR with a code in want
 * (1 << code), from the listening port (refusals decided before a transfer
 * exists) unless the case says any_port; or, with want 0, nothing at all. */
struct raw_set {
	const char *name;    /* the scenario */
	const char *summary; /* its datagrams, in the verdict */
	unsigned want;
};

/* The bytes of a string literal, to be answered from the listening port
 * (RAW) or from any port of the server (RAW_ANY_PORT); RRQ: those of an RRQ
 * in octet mode for a name given as a string literal. */
#define RAW(lit) (const uint8_t *)(lit), sizeof(lit) - 1, 0
#define RAW_ANY_PORT(lit) (const uint8_t *)(lit), sizeof(lit) - 1, 1
#define RRQ(name) RAW("\0\1" name "\0octet\0")
#define RRQ_ANY_PORT(name) RAW_ANY_PORT("\0\1" name "\0octet\0")
#define TRAVERSAL(name)                                             \
	{                                                           \
		"traversal", "RRQ \"" name "\"", RRQ_ANY_PORT(name) \
	}

static const struct raw_set raw_sets[] = {
	{"truncated", "truncated datagrams", 1u << TFTP_EBADOP},
	{"missing-nul", "requests missing a NUL", 1u << TFTP_EBADOP},
	{"bad-opcode", "unknown opcodes", 1u << TFTP_EBADOP},
	{"mode-refused", "refused modes", 1u << TFTP_EBADOP},
	{"wrq", "write requests", 1u << TFTP_EACCESS | 1u << TFTP_ENOTFOUND},
	{"empty-name", "empty file names", 1u << TFTP_EACCESS},
	{"traversal", "traversal names",
	 1u << TFTP_ENOTFOUND | 1u << TFTP_EACCESS},
	{"stray-opcode", "DATA/ACK/OACK datagrams", 0},
	{"error-no-reply", "ERRORs", 0},
};

/* The rows of a set are consecutive. */
static const struct raw_case raw_cases[] = {
	/* A server that reads the opcode, a name or a mode without checking
	 * the length reads past the datagram. */
	{"truncated", "1-byte datagram", RAW("\0")},
	{"truncated", "opcode only (RRQ)", RAW("\0\1")},
	{"truncated", "opcode only (WRQ)", RAW("\0\2")},
	{"truncated", "RRQ with a name and no NUL", RAW("\0\1hello.txt")},

	{"missing-nul", "file name without NUL", RAW("\0\1hello.txt")},
	{"missing-nul", "name and mode run together",
	 RAW("\0\1hello.txtoctet\0")},
	{"missing-nul", "mode without NUL", RAW("\0\1hello.txt\0octet")},
	{"missing-nul", "no mode at all", RAW("\0\1hello.txt\0")},
	{"missing-nul", "empty mode", RAW("\0\1hello.txt\0\0")},

	{"bad-opcode", "opcode 0", RAW("\0\0hello.txt\0octet\0")},
	{"bad-opcode", "opcode 7", RAW("\0\7hello.txt\0octet\0")},
	{"bad-opcode", "opcode 99", RAW("\0\x63hello.txt\0octet\0")},
	{"bad-opcode", "opcode 0x0101", RAW("\1\1hello.txt\0octet\0")},
	{"bad-opcode", "opcode 0xffff", RAW("\xff\xff")},

	/* "mail" is obsolete (RFC 1350 section 1); an unknown mode must not
	 * fall back to octet silently. */
	{"mode-refused", "mode mail", RAW("\0\1hello.txt\0mail\0")},
	{"mode-refused", "mode MAIL", RAW("\0\1hello.txt\0MAIL\0")},
	{"mode-refused", "mode foo", RAW("\0\1hello.txt\0foo\0")},
	{"mode-refused", "mode octet with a trailing space",
	 RAW("\0\1hello.txt\0octet \0")},

	/* tftpd-hpa's rules: ERROR 2 for an existing file nobody may write,
	 * ERROR 1 for a missing one without --create.  The transfer process
	 * decides (it looks at the disk), so the ERROR comes from its port. */
	{"wrq", "WRQ for a file that is not world-writable",
	 RAW_ANY_PORT("\0\2hello.txt\0octet\0")},
	{"wrq", "WRQ for a new file",
	 RAW_ANY_PORT("\0\2probe-new.bin\0octet\0")},
	{"wrq", "WRQ in netascii",
	 RAW_ANY_PORT("\0\2probe-new.txt\0netascii\0")},

	/* "/" and "./" normalise to nothing: the root directory itself, which
	 * the listener or the transfer (once it sees a directory) refuses. */
	{"empty-name", "empty file name", RRQ("")},
	{"empty-name", "file name \"/\"", RRQ_ANY_PORT("/")},
	{"empty-name", "file name \"./\"", RRQ_ANY_PORT("./")},

	/* A symlink out of the root passes the listener's lexical check and
	 * is refused by the transfer: any port (see sc_traversal). */
	TRAVERSAL("../etc/passwd"),
	TRAVERSAL("a/../../x"),
	TRAVERSAL("/../x"),
	TRAVERSAL(".."),
	TRAVERSAL("../"),
	TRAVERSAL("./../hello.txt"),
	TRAVERSAL("//../x"),
	TRAVERSAL("../../../../../../../etc/passwd"),

	/* DATA, ACK and OACK belong on a transfer's port.  On the listening
	 * port they are strays (typically a client's ACK of an ERROR we sent
	 * from there): the listener drops them, since answering would feed an
	 * endless exchange with a confused or spoofed peer. */
	{"stray-opcode", "DATA to the listening port",
	 RAW("\0\3\0\1some data")},
	{"stray-opcode", "ACK to the listening port", RAW("\0\4\0\1")},
	{"stray-opcode", "OACK to the listening port",
	 RAW("\0\6blksize\0001024\0")},

	/* An ERROR to the listening port must not be answered, or two servers
	 * (or a spoofed source) could bounce ERRORs forever. */
	{"error-no-reply", "ERROR 0 with a message",
	 RAW("\0\5\0\0probe says hi\0")},
	{"error-no-reply", "ERROR 4 with a message",
	 RAW("\0\5\0\4Illegal TFTP operation\0")},
	{"error-no-reply", "ERROR 5 without a NUL", RAW("\0\5\0\5no nul")},
	{"error-no-reply", "ERROR with no code", RAW("\0\5")},
	{"error-no-reply", "ERROR with half a code", RAW("\0\5\0")},
};

/* Send the cases to the listening port from one socket, then an RRQ: nothing
 * may answer the cases.  The listener handles datagrams in order, so an
 * answer to any case would reach this socket before the DATA of the request
 * sent after them: no fixed wait is needed to see it. */
static int expect_no_reply(struct probe *p, const struct raw_case *cases,
			   size_t ncases, const char *what)
{
	static struct reply r;
	struct wdl d;
	char desc[256];
	int fd = open_client(p), rc = 0;

	if (fd < 0)
		return -1;
	for (size_t i = 0; rc == 0 && i < ncases; i++)
		rc = send_to(p, fd, &p->server, cases[i].bytes, cases[i].len);
	if (rc == 0)
		rc = send_rrq(p, fd, ALIVE_FILE, "octet");
	if (rc == 0) {
		rc = recv_reply(p, fd, REPLY_MS, &r);
		if (rc == 0)
			rc = fail(p,
				  "no DATA for the RRQ sent after the %s "
				  "within %d ms",
				  what, REPLY_MS);
		else if (rc > 0 && (!from_transfer_port(p, &r) || !r.decoded ||
				    r.pkt.opcode != TFTP_DATA))
			rc = fail(p, "the listening port answered: %s",
				  describe(&r, desc, sizeof(desc)));
	}
	if (rc >= 0) {
		wdl_init(&d, fd, ALIVE_FILE);
		rc = wdl_take(p, &d, &r) < 0 ? -1 : 0;
		if (rc == 0)
			rc = wdl_finish(p, &d);
	}
	/* And nothing late either. */
	if (rc == 0) {
		rc = recv_reply(p, fd, 300, &r);
		if (rc > 0)
			rc = fail(p, "unexpected %s after the transfer",
				  describe(&r, desc, sizeof(desc)));
	}
	close(fd);
	if (rc != 0)
		return -1;
	return pass(p, "%zu %s to %s got no reply; the server still serves",
		    ncases, what, p->server_str);
}

/* The one driver: every case must bring back what the set wants, each from a
 * fresh socket (nothing, for want 0: see expect_no_reply), and the server
 * must still serve afterwards. */
static int run_raw(struct probe *p, const struct raw_set *set,
		   const struct raw_case *cases, size_t n)
{
	if (set->want == 0)
		return expect_no_reply(p, cases, n, set->summary);
	for (size_t i = 0; i < n; i++)
		if (expect_error(p, cases[i].bytes, cases[i].len, set->want,
				 !cases[i].any_port, cases[i].what) < 0)
			return -1;
	if (still_serves(p, set->summary) != 0)
		return -1;
	return pass(p,
		    "%zu %s answered with ERROR (code mask 0x%x); server "
		    "still serves " ALIVE_FILE,
		    n, set->summary, set->want);
}

static const struct raw_set *raw_set_named(const char *name)
{
	for (size_t i = 0; i < sizeof(raw_sets) / sizeof(raw_sets[0]); i++)
		if (strcmp(raw_sets[i].name, name) == 0)
			return &raw_sets[i];
	return NULL;
}

/* truncated, missing-nul, bad-opcode, mode-refused, wrq, empty-name,
 * stray-opcode, error-no-reply, and traversal without names: the rows of
 * raw_cases for the scenario being run. */
static int sc_raw(struct probe *p, int argc, char **argv)
{
	const struct raw_set *set = raw_set_named(p->scenario);
	const struct raw_case *first = NULL;
	size_t n = 0;

	(void)argc;
	(void)argv;
	for (size_t i = 0; set && i < sizeof(raw_cases) / sizeof(raw_cases[0]);
	     i++) {
		if (strcmp(raw_cases[i].set, set->name) != 0)
			continue;
		if (!first)
			first = &raw_cases[i];
		else if (&raw_cases[i] != first + n)
			return fail(p,
				    "raw_cases: the rows of %s are not "
				    "consecutive",
				    set->name);
		n++;
	}
	if (!first)
		return fail(p, "no raw datagrams for %s", p->scenario);
	return run_raw(p, set, first, n);
}

/* long-name [LEN]: a name of LEN (600) bytes is simply not found. */
static int sc_long_name(struct probe *p, int argc, char **argv)
{
	static const struct raw_set set = {"long-name", "long file names",
					   1u << TFTP_ENOTFOUND};
	static uint8_t req[8192];
	unsigned long n = 600;
	struct raw_case c = {set.name, "long file name", req, 0,
			     1 /* any port: the transfer looks it up */};

	if (argc > 0 && parse_count(p, argv[0], 1, 4000, "LEN", &n) != 0)
		return -1;
	req[0] = 0;
	req[1] = TFTP_RRQ;
	memset(req + 2, 'a', n);
	req[2 + n] = '\0';
	memcpy(req + 3 + n, "octet", 6);
	c.len = 3 + n + 6;
	return run_raw(p, &set, &c, 1);
}

/* traversal [NAME...]: each name must be refused (ERROR 1 or 2), never
 * served; without names, the built-in ones of raw_cases. */
static int sc_traversal(struct probe *p, int argc, char **argv)
{
	static uint8_t reqs[64][1024];
	static char whats[64][300];
	struct raw_case cases[64];

	if (argc == 0)
		return sc_raw(p, argc, argv);
	if (argc > 64)
		return fail(p, "at most 64 names");
	for (int i = 0; i < argc; i++) {
		cases[i] = (struct raw_case){"traversal", whats[i], reqs[i], 0,
					     1 /* any port */};
		cases[i].len = build_request(reqs[i], sizeof(reqs[i]), TFTP_RRQ,
					     argv[i], "octet");
		if (cases[i].len == 0)
			return fail(p, "name %d too long for the probe", i);
		snprintf(whats[i], sizeof(whats[i]), "RRQ \"%s\"", argv[i]);
	}
	return run_raw(p, raw_set_named("traversal"), cases, (size_t)argc);
}

/* foreign-tid FILE [OUT]: during a transfer a second socket sends an ACK to
 * the transfer's port.  The transfer socket is connected to its client, so
 * the kernel drops the stranger's datagram (and answers it with ICMP port
 * unreachable) instead of RFC 1350's ERROR 5: the stranger gets no TFTP
 * reply, and the transfer goes on undisturbed. */
static int sc_foreign_tid(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct wdl d;
	char desc[256], tid[NET_ADDRSTRLEN];
	int intruder, rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	intruder = open_client(p);
	if (intruder < 0)
		return close_out(p, out, "", -1);
	rc = wdl_begin(p, &d, argv[0], "octet", out);
	/* The intruder acknowledges block 1 before the real client does. */
	if (rc == 0)
		rc = send_ack(p, intruder, &d.tid, 1);
	/* The foreign ACK must not advance the transfer: nothing but a resend
	 * of block 1 may reach the real client before its own ACK (DATA 2
	 * would come at once; a resend only after the timer). */
	if (rc == 0) {
		rc = recv_reply(p, d.fd, 300, &r);
		if (rc > 0 && (!r.decoded || r.pkt.opcode != TFTP_DATA ||
			       r.pkt.block != 1))
			rc = fail(p,
				  "the foreign ACK moved the transfer: the "
				  "client got %s",
				  describe(&r, desc, sizeof(desc)));
		else if (rc > 0)
			rc = wdl_take(p, &d, &r) < 0 ? -1 : 0;
	}
	if (rc == 0)
		rc = wdl_finish(p, &d);
	/* The intruder hears nothing from the transfer. */
	if (rc == 0 && recv_reply(p, intruder, 200, &r) > 0)
		rc = fail(p, "the foreign port got a reply: %s",
			  describe(&r, desc, sizeof(desc)));
	if (d.fd >= 0)
		close(d.fd);
	close(intruder);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "foreign ACK to %s had no effect; %s: %llu bytes in "
		    "%llu blocks delivered",
		    net_format(&d.tid, tid), argv[0],
		    (unsigned long long)d.bytes, (unsigned long long)d.blocks);
}

/* dup-ack FILE [OUT]: every block acknowledged twice.  A server that sends
 * the next block for each ACK it gets sends every block twice from then on
 * (the Sorcerer's Apprentice, RFC 1123 section 4.2.3.1). */
static int sc_dup_ack(struct probe *p, int argc, char **argv)
{
	struct wdl d;
	int rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	rc = wdl_begin(p, &d, argv[0], "octet", out);
	d.acks = 2;
	d.strict = 1;
	if (rc == 0)
		rc = wdl_finish(p, &d);
	/* A repeat of the last block would come at once; a resend after a
	 * lost ACK (there is none on the loopback) only after the server's
	 * timeout, which this wait covers for the default of 1 s. */
	if (rc == 0)
		rc = wdl_linger(p, &d, COLLECT_MS);
	if (d.fd >= 0)
		close(d.fd);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	if (d.blocks < 2)
		return fail(p, "%s has one block: no duplicate ACK was tested",
			    argv[0]);
	return pass(p,
		    "%s: every block ACKed twice; %llu DATA for %llu "
		    "blocks, %llu bytes",
		    argv[0], (unsigned long long)d.datagrams,
		    (unsigned long long)d.blocks, (unsigned long long)d.bytes);
}

/* Count DATA 1 copies from one port until quiet_ms pass with nothing, at most
 * cap_ms in all.  Any other datagram is reported in *other. */
static int count_copies(struct probe *p, int fd, const union sockaddr_any *tid,
			int quiet_ms, int cap_ms, unsigned *copies, char *other,
			size_t othercap)
{
	static struct reply r;
	int64_t cap_end = now_ms() + cap_ms;

	for (;;) {
		int64_t left = cap_end - now_ms();
		int rc;
		if (left <= 0)
			return fail(p,
				    "the server was still sending after "
				    "%d ms (%u copies of DATA 1)",
				    cap_ms, *copies);
		rc = recv_reply(p, fd, (int)(left < quiet_ms ? left : quiet_ms),
				&r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return left < quiet_ms
				       ? fail(p,
					      "the server was still "
					      "sending after %d ms (%u copies of DATA 1)",
					      cap_ms, *copies)
				       : 0;
		if (r.decoded && r.pkt.opcode == TFTP_DATA &&
		    r.pkt.block == 1 && net_same(&r.from, tid))
			(*copies)++;
		else if (r.decoded && r.pkt.opcode == TFTP_ERROR &&
			 net_same(&r.from, tid) && !other[0])
			describe(&r, other, othercap); /* a farewell is fine */
		else
			return fail(p, "while silent, got %s",
				    describe(&r, other, othercap));
	}
}

/* silence FILE COPIES [QUIET_MS]: receive DATA 1 and never answer.  The
 * server resends it COPIES - 1 times (--retries), then gives up and stops. */
static int sc_silence(struct probe *p, int argc, char **argv)
{
	struct wdl d;
	char other[256] = "";
	unsigned long want, quiet = QUIET_MS;
	unsigned copies = 1;
	int rc;

	if (parse_count(p, argv[1], 1, 200, "COPIES", &want) != 0 ||
	    (argc > 2 &&
	     parse_count(p, argv[2], 100, 60000, "QUIET_MS", &quiet) != 0) ||
	    wdl_begin(p, &d, argv[0], "octet", NULL) != 0)
		return -1;
	rc = 0;
	if (d.done)
		rc = fail(p, "%s fits in one block: use a bigger file",
			  argv[0]);
	/* Bounded in all by the copies we expect, each at most a quiet period
	 * apart, plus one more period to see that nothing follows. */
	if (rc == 0)
		rc = count_copies(p, d.fd, &d.tid, (int)quiet,
				  (int)((want + 2) * quiet), &copies, other,
				  sizeof(other));
	close(d.fd);
	if (rc != 0)
		return -1;
	if (copies != want)
		return fail(p,
			    "%u copies of DATA 1 while silent, expected %lu "
			    "(the first and %lu resends)",
			    copies, want, want - 1);
	return pass(p, "%u copies of DATA 1, then nothing for %lu ms%s%s",
		    copies, quiet, other[0] ? "; then " : "", other);
}

/* adaptive FILE BLOCKS WINDOW_MS MIN_COPIES: RFC 1123 4.2.3.2.  ACK the
 * first BLOCKS blocks at once (the server learns a loopback round trip),
 * then fall silent and count the copies of the next block that arrive
 * within WINDOW_MS.  A server started with a long --timeout resends none in
 * that time if its timer is fixed; an adaptive one resends after tens of
 * milliseconds, backing off.  Passes with at least MIN_COPIES copies. */
static int sc_adaptive(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct wdl d;
	unsigned long blocks, window_ms, min_copies;
	unsigned copies = 0;
	uint16_t waiting;
	int64_t stop;
	int rc;

	(void)argc;
	if (parse_count(p, argv[1], 1, 10000, "BLOCKS", &blocks) != 0 ||
	    parse_count(p, argv[2], 100, 60000, "WINDOW_MS", &window_ms) != 0 ||
	    parse_count(p, argv[3], 1, 1000, "MIN_COPIES", &min_copies) != 0 ||
	    wdl_begin(p, &d, argv[0], "octet", NULL) != 0)
		return -1;
	rc = wdl_upto(p, &d, blocks);
	if (rc == 0 && d.done)
		rc = fail(p, "%s ended before block %lu: use a bigger file",
			  argv[0], blocks + 1);
	/* Block `blocks` has arrived and is not acknowledged: count it and
	 * its resends. */
	waiting = d.last_block;
	copies = 1;
	stop = now_ms() + (int64_t)window_ms;
	while (rc == 0) {
		int64_t left = stop - now_ms();
		if (left <= 0)
			break;
		rc = recv_reply(p, d.fd, (int)left, &r);
		if (rc == 0)
			break;
		if (rc > 0) {
			rc = 0;
			if (net_same(&r.from, &d.tid) && r.decoded &&
			    r.pkt.opcode == TFTP_DATA && r.pkt.block == waiting)
				copies++;
		}
	}
	close(d.fd);
	if (rc != 0)
		return -1;
	if (copies < min_copies)
		return fail(p,
			    "%u copies of block %u within %lu ms of silence, "
			    "expected at least %lu: the timer did not adapt",
			    copies, waiting, window_ms, min_copies);
	return pass(p,
		    "%u copies of block %u within %lu ms of silence after "
		    "%lu prompt ACKs",
		    copies, waiting, window_ms, blocks);
}

/* retransmitted-rrq FILE [OUT]: the same RRQ twice from one port, back to
 * back, as a client whose first request seemed lost sends it.  Exactly one
 * transfer may answer (two would race over the same client port). */
static int sc_retransmitted_rrq(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	union sockaddr_any tids[8];
	unsigned ntids = 0, copies = 0;
	struct wdl d;
	char desc[256], me[NET_ADDRSTRLEN];
	union sockaddr_any self;
	socklen_t slen = sizeof(self);
	int64_t end;
	int fd, rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	fd = open_client(p);
	if (fd < 0)
		return close_out(p, out, "", -1);
	wdl_init(&d, fd, argv[0]);
	d.out = out;
	memset(&self, 0, sizeof(self));
	getsockname(fd, &self.sa, &slen);
	rc = send_rrq(p, fd, argv[0], "octet");
	if (rc == 0)
		rc = send_rrq(p, fd, argv[0], "octet");
	/* Collect without acknowledging, so a second transfer, if any, is
	 * still sending block 1 and cannot hide. */
	end = now_ms() + COLLECT_MS;
	while (rc == 0 && now_ms() < end) {
		unsigned i;
		int got = recv_reply(p, fd, (int)(end - now_ms()), &r);
		if (got <= 0) {
			rc = got;
			break;
		}
		describe(&r, desc, sizeof(desc));
		if (!r.decoded || r.pkt.opcode != TFTP_DATA ||
		    r.pkt.block != 1) {
			rc = fail(p, "expected only DATA 1, got %s", desc);
			break;
		}
		copies++;
		for (i = 0; i < ntids && !net_same(&tids[i], &r.from); i++)
			;
		if (i < ntids)
			continue;
		if (ntids < sizeof(tids) / sizeof(tids[0]))
			tids[ntids++] = r.from;
		if (ntids == 1)
			rc = wdl_take(p, &d, &r) < 0 ? -1 : 0;
	}
	if (rc == 0 && ntids != 1)
		rc = fail(p,
			  "%u transfer ports answered the repeated RRQ "
			  "with DATA 1 (%u copies in %d ms)",
			  ntids, copies, COLLECT_MS);
	if (rc == 0)
		rc = wdl_finish(p, &d);
	close(fd);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "one transfer port answered (%u copies of DATA 1 in "
		    "%d ms); %llu bytes received; client %s",
		    copies, COLLECT_MS, (unsigned long long)d.bytes,
		    net_format(&self, me));
}

/* client-error FILE [QUIET_MS]: take two blocks, then send ERROR instead of
 * the second ACK.  The transfer must end at once: no resend, no more DATA. */
static int sc_client_error(struct probe *p, int argc, char **argv)
{
	static const uint8_t abort_msg[] = "\0\5\0\0probe abort";
	static struct reply r;
	struct wdl d;
	char desc[256];
	unsigned long quiet = QUIET_MS;
	int rc;

	if ((argc > 1 &&
	     parse_count(p, argv[1], 100, 60000, "QUIET_MS", &quiet) != 0) ||
	    wdl_begin(p, &d, argv[0], "octet", NULL) != 0)
		return -1;
	rc = 0;
	if (d.done)
		rc = fail(p, "%s fits in one block: use a bigger file",
			  argv[0]);
	if (rc == 0)
		rc = wdl_upto(p, &d, 2);
	if (rc == 0)
		rc = send_to(p, d.fd, &d.tid, abort_msg, sizeof(abort_msg));
	/* Longer than the server's resend timeout, so a server that ignored
	 * the ERROR would have resent block 2 by the end. */
	if (rc == 0) {
		rc = recv_reply(p, d.fd, (int)quiet, &r);
		if (rc > 0)
			rc = fail(p, "after our ERROR the server sent %s",
				  describe(&r, desc, sizeof(desc)));
	}
	close(d.fd);
	if (rc != 0)
		return -1;
	return pass(p,
		    "ERROR after block 2 of %s: the server sent nothing "
		    "more for %lu ms",
		    argv[0], quiet);
}

/* ---- option negotiation (RFC 2347, 2348, 2349, 7440) -------------------- */

/* Name/value pairs of an OACK, or what a test expects of one. */
#define OPT_MAX 16
#define OPT_NAME_MAX 64
#define OPT_VALUE_MAX 32

struct optset {
	unsigned n;
	char name[OPT_MAX][OPT_NAME_MAX];
	char value[OPT_MAX][OPT_VALUE_MAX];
};

/* The server's bytes, printable and bounded, for a diagnosis. */
static const char *printable(const char *in, size_t inlen, char *out,
			     size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < inlen && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)in[i];
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	out[o] = '\0';
	return out;
}

/* "blksize=1024,tsize=5000", or "(none)". */
static const char *optset_format(const struct optset *s, char *out, size_t cap)
{
	size_t o = 0;

	out[0] = '\0';
	if (s->n == 0)
		snprintf(out, cap, "(none)");
	for (unsigned i = 0; i < s->n && o < cap; i++) {
		int k = snprintf(out + o, cap - o, "%s%s=%s", i ? "," : "",
				 s->name[i], s->value[i]);
		if (k < 0)
			break;
		o += (size_t)k;
	}
	return out;
}

/* EXPECT: "none", or "name=value,name=value...". */
static int optset_parse(struct probe *p, const char *spec, struct optset *s)
{
	const char *q = spec;

	memset(s, 0, sizeof(*s));
	if (strcmp(spec, "none") == 0)
		return 0;
	while (*q) {
		const char *eq = strchr(q, '='), *comma;
		size_t nl, vl;

		if (!eq)
			return fail(p, "EXPECT \"%s\": no '=' after \"%s\"",
				    spec, q);
		comma = strchr(eq, ',');
		if (!comma)
			comma = eq + strlen(eq);
		nl = (size_t)(eq - q);
		vl = (size_t)(comma - eq - 1);
		if (s->n == OPT_MAX || nl == 0 || nl >= OPT_NAME_MAX ||
		    vl >= OPT_VALUE_MAX)
			return fail(p, "EXPECT \"%s\": bad or too many pairs",
				    spec);
		memcpy(s->name[s->n], q, nl);
		memcpy(s->value[s->n], eq + 1, vl);
		s->n++;
		q = *comma ? comma + 1 : comma;
	}
	return 0;
}

static int is_oack(const struct reply *r)
{
	return r->len >= 2 && get16(r->buf) == TFTP_OACK;
}

/* Decode an OACK's name/value pairs: every string NUL-terminated inside the
 * datagram, no name without its value. */
static int oack_parse(struct probe *p, const struct reply *r, struct optset *s)
{
	const char *q = (const char *)r->buf + 2;
	const char *end = (const char *)r->buf + r->len;
	char shown[80];

	memset(s, 0, sizeof(*s));
	while (q < end) {
		const char *nul = memchr(q, '\0', (size_t)(end - q));
		const char *val;
		size_t nl, vl;

		if (!nul)
			return fail(p, "OACK: \"%s\" lacks its NUL",
				    printable(q, (size_t)(end - q), shown,
					      sizeof(shown)));
		nl = (size_t)(nul - q);
		val = nul + 1;
		nul = val < end ? memchr(val, '\0', (size_t)(end - val)) : NULL;
		if (!nul)
			return fail(p, "OACK: option \"%s\" has no value",
				    printable(q, nl, shown, sizeof(shown)));
		vl = (size_t)(nul - val);
		if (s->n == OPT_MAX)
			return fail(p, "OACK: more than %d options", OPT_MAX);
		if (nl == 0 || nl >= OPT_NAME_MAX || vl >= OPT_VALUE_MAX)
			return fail(p,
				    "OACK: option \"%s\" = \"%s\": empty or "
				    "too long",
				    printable(q, nl, shown, sizeof(shown)),
				    val);
		memcpy(s->name[s->n], q, nl + 1);
		memcpy(s->value[s->n], val, vl + 1);
		s->n++;
		q = nul + 1;
	}
	return 0;
}

/* got must hold exactly the pairs of want, in any order, each once; names
 * compare exactly (the server sends them in lower case). */
static int optset_match(struct probe *p, const struct optset *got,
			const struct optset *want)
{
	char g[512], w[512];
	unsigned i, j;

	optset_format(got, g, sizeof(g));
	optset_format(want, w, sizeof(w));
	for (i = 0; i < got->n; i++) {
		for (j = 0; j < i; j++)
			if (strcasecmp(got->name[i], got->name[j]) == 0)
				return fail(p, "OACK {%s} names %s twice", g,
					    got->name[i]);
		for (j = 0; j < want->n; j++)
			if (strcmp(got->name[i], want->name[j]) == 0)
				break;
		if (j == want->n)
			return fail(p, "OACK {%s} has %s, expected {%s}", g,
				    got->name[i], w);
		if (strcmp(got->value[i], want->value[j]) != 0)
			return fail(p, "OACK {%s}: %s is %s, expected {%s}", g,
				    got->name[i], got->value[i], w);
	}
	if (got->n != want->n)
		return fail(p, "OACK {%s} lacks options of {%s}", g, w);
	return 0;
}

/* The value of name in s, or NULL. */
static const char *optset_get(const struct optset *s, const char *name)
{
	for (unsigned i = 0; i < s->n; i++)
		if (strcmp(s->name[i], name) == 0)
			return s->value[i];
	return NULL;
}

/* An RRQ with options: pad unknown options "x0" "1", "x1" "1"... first, then
 * the strings of opts (NAME VALUE...; an odd count leaves the last name
 * without a value, a malformed tail).  Returns the length, or 0 when it does
 * not fit. */
static size_t build_rrq_options(uint8_t *buf, size_t cap, const char *name,
				const char *mode, unsigned pad,
				char *const *opts, int nopts)
{
	size_t len = build_request(buf, cap, TFTP_RRQ, name, mode);

	if (len == 0)
		return 0;
	for (unsigned i = 0; i < pad; i++) {
		char nm[16];
		int k = snprintf(nm, sizeof(nm), "x%u", i);
		if (k < 0 || len + (size_t)k + 1 + 2 > cap)
			return 0;
		memcpy(buf + len, nm, (size_t)k + 1);
		len += (size_t)k + 1;
		memcpy(buf + len, "1", 2);
		len += 2;
	}
	for (int i = 0; i < nopts; i++) {
		size_t l = strlen(opts[i]);
		if (len + l + 1 > cap)
			return 0;
		memcpy(buf + len, opts[i], l + 1);
		len += l + 1;
	}
	return len;
}

/* Parse a granted number from the OACK into *v when present: it must be
 * plain decimal within lo..hi. */
static int oack_number(struct probe *p, const struct optset *got,
		       const char *name, unsigned long lo, unsigned long hi,
		       unsigned *v)
{
	const char *s = optset_get(got, name);
	char *end;
	unsigned long n;

	if (!s)
		return 0;
	n = strtoul(s, &end, 10);
	if (!*s || *end || s[0] < '0' || s[0] > '9' || n < lo || n > hi)
		return fail(p, "OACK grants %s \"%s\", not in %lu..%lu", name,
			    s, lo, hi);
	*v = (unsigned)n;
	return 0;
}

/* Send req (len bytes) from w->fd, take the first reply: an OACK (checked
 * against want when want is not NULL; then ACK 0 goes back and the window
 * takes the granted blksize and windowsize) or DATA 1 (then want must be
 * empty).  tries > 1 resends the request after every second of silence, as
 * firmware does.  *got receives the OACK's options (none for DATA 1). */
static int wdl_start(struct probe *p, struct wdl *w, const uint8_t *req,
		     size_t len, const struct optset *want, struct optset *got,
		     int tries)
{
	static struct reply r;
	char desc[256], ws[512];
	int rc = 0;

	memset(got, 0, sizeof(*got));
	for (int i = 0; i < tries && rc == 0; i++) {
		if (send_to(p, w->fd, &p->server, req, len) != 0)
			return -1;
		w->requests++;
		rc = recv_reply(p, w->fd, i + 1 < tries ? 1000 : REPLY_MS, &r);
	}
	if (rc < 0)
		return -1;
	if (rc == 0)
		return fail(p, "%s: no reply to the RRQ within %d ms", w->name,
			    REPLY_MS);
	if (!is_oack(&r)) {
		if (want && want->n)
			return fail(p, "%s: expected OACK {%s}, got %s",
				    w->name,
				    optset_format(want, ws, sizeof(ws)),
				    describe(&r, desc, sizeof(desc)));
		return wdl_take(p, w, &r) < 0 ? -1 : 0;
	}
	if (!from_transfer_port(p, &r))
		return fail(p,
			    "%s: OACK from %s, not from a transfer port of "
			    "the server",
			    w->name, net_format(&r.from, desc));
	if (oack_parse(p, &r, got) != 0)
		return -1;
	if (want && optset_match(p, got, want) != 0)
		return -1;
	if (oack_number(p, got, "blksize", 8, TFTP_BLKSIZE_MAX, &w->blksize) !=
		    0 ||
	    oack_number(p, got, "windowsize", 1, 65535, &w->windowsize) != 0)
		return -1;
	w->tid = r.from;
	w->have_tid = 1;
	return send_ack(p, w->fd, &w->tid, 0);
}

/* The common part of oack and many-options. */
static int run_oack(struct probe *p, const char *file, const char *outpath,
		    const char *mode, unsigned pad, const char *expect,
		    char *const *opts, int nopts)
{
	static uint8_t req[8192];
	struct optset want, got;
	struct wdl w;
	char gs[512];
	size_t len;
	FILE *out;
	int fd, rc;

	if (optset_parse(p, expect, &want) != 0)
		return -1;
	len = build_rrq_options(req, sizeof(req), file, mode, pad, opts, nopts);
	if (len == 0)
		return fail(p, "request too long for the probe");
	out = fopen(outpath, "wb");
	if (!out)
		return fail(p, "%s: %s", outpath, strerror(errno));
	fd = open_client(p);
	if (fd < 0)
		return close_out(p, out, "", -1);
	wdl_init(&w, fd, file);
	w.out = out;
	rc = wdl_start(p, &w, req, len, &want, &got, 1);
	if (rc == 0)
		rc = wdl_finish(p, &w);
	close(fd);
	rc = close_out(p, out, outpath, rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%zu-byte RRQ for %s (%s): OACK {%s}; %llu bytes in "
		    "%llu blocks of %u, windowsize %u; %llu repeats; block "
		    "numbers wrapped %llu times",
		    len, file, mode, optset_format(&got, gs, sizeof(gs)),
		    (unsigned long long)w.bytes, (unsigned long long)w.blocks,
		    w.blksize, w.windowsize, (unsigned long long)w.repeats,
		    (unsigned long long)w.wraps);
}

/* oack FILE OUT MODE EXPECT [NAME VALUE]...: an RRQ with these options (an
 * odd count leaves the last name without a value); the OACK must hold
 * exactly EXPECT ("none": no OACK, DATA 1 comes at once); then the file comes
 * with the granted blksize and windowsize, into OUT. */
static int sc_oack(struct probe *p, int argc, char **argv)
{
	return run_oack(p, argv[0], argv[1], argv[2], 0, argv[3], argv + 4,
			argc - 4);
}

/* many-options FILE OUT COUNT EXPECT [NAME VALUE]...: the same after COUNT
 * unknown options "x0" "1", "x1" "1"... */
static int sc_many_options(struct probe *p, int argc, char **argv)
{
	unsigned long pad;

	if (parse_count(p, argv[2], 0, 1000, "COUNT", &pad) != 0)
		return -1;
	return run_oack(p, argv[0], argv[1], "octet", (unsigned)pad, argv[3],
			argv + 4, argc - 4);
}

/* long-request LEN: an RRQ for ALIVE_FILE of exactly LEN bytes, padded with
 * one unknown option.  Up to the server's 4096-byte request buffer it is
 * served (no OACK: nothing known was asked); longer, the listening port
 * answers ERROR 4 and the server still serves. */
static int sc_long_request(struct probe *p, int argc, char **argv)
{
	static uint8_t req[65536];
	static const char head[] = "\0\1" ALIVE_FILE "\0octet\0pad";
	unsigned long n;
	size_t hl = sizeof(head); /* with the name's NUL */
	struct optset none, got;
	struct wdl w;
	int fd, rc;

	(void)argc;
	if (parse_count(p, argv[0], hl + 2, 65000, "LEN", &n) != 0)
		return -1;
	memcpy(req, head, hl);
	memset(req + hl, 'v', n - hl - 1);
	req[n - 1] = '\0';
	if (n > 4096) {
		static const struct raw_set set = {"long-request",
						   "requests over 4096 bytes",
						   1u << TFTP_EBADOP};
		struct raw_case c = {set.name, "long request", req, n, 0};
		return run_raw(p, &set, &c, 1);
	}
	fd = open_client(p);
	if (fd < 0)
		return -1;
	memset(&none, 0, sizeof(none));
	wdl_init(&w, fd, ALIVE_FILE);
	rc = wdl_start(p, &w, req, n, &none, &got, 1);
	if (rc == 0)
		rc = wdl_finish(p, &w);
	close(fd);
	if (rc != 0)
		return -1;
	return pass(p, "a %lu-byte request was served: %llu bytes", n,
		    (unsigned long long)w.bytes);
}

/* Send an RRQ with opts (blksize 1024 when none are given) from a fresh
 * socket and require an OACK.  Returns the socket (the OACK in *r, its
 * options in *got), or -1. */
static int rrq_expect_oack(struct probe *p, const char *file, char *const *opts,
			   int nopts, struct reply *r, struct optset *got)
{
	static char *const dflt[] = {"blksize", "1024"};
	uint8_t req[2048];
	char desc[256];
	size_t len;
	int fd, rc;

	if (nopts == 0) {
		opts = dflt;
		nopts = 2;
	}
	len = build_rrq_options(req, sizeof(req), file, "octet", 0, opts,
				nopts);
	if (len == 0)
		return fail(p, "request too long for the probe");
	fd = open_client(p);
	if (fd < 0)
		return -1;
	rc = send_to(p, fd, &p->server, req, len);
	if (rc == 0) {
		rc = recv_reply(p, fd, REPLY_MS, r);
		if (rc == 0)
			rc = fail(p, "%s: no OACK within %d ms", file,
				  REPLY_MS);
		else if (rc > 0 && !is_oack(r))
			rc = fail(p, "%s: expected an OACK, got %s", file,
				  describe(r, desc, sizeof(desc)));
		else if (rc > 0 && !from_transfer_port(p, r))
			rc = fail(p, "%s: OACK from %s, not a transfer port",
				  file, net_format(&r->from, desc));
		else if (rc > 0)
			rc = oack_parse(p, r, got);
	}
	if (rc == 0 && got->n == 0)
		rc = fail(p, "%s: an empty OACK", file);
	if (rc != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* oack-error FILE QUIET_MS [NAME VALUE]...: take the OACK, answer ERROR 8
 * (RFC 2347: the client refuses the options).  The transfer must end: no
 * DATA, no OACK resent, nothing for QUIET_MS. */
static int sc_oack_error(struct probe *p, int argc, char **argv)
{
	static const uint8_t refuse_msg[] =
		"\0\5\0\10probe refuses the options";
	static struct reply r;
	struct optset got;
	char desc[256], gs[512];
	unsigned long quiet;
	union sockaddr_any tid;
	int fd, rc;

	if (parse_count(p, argv[1], 100, 60000, "QUIET_MS", &quiet) != 0)
		return -1;
	fd = rrq_expect_oack(p, argv[0], argv + 2, argc - 2, &r, &got);
	if (fd < 0)
		return -1;
	tid = r.from;
	rc = send_to(p, fd, &tid, refuse_msg, sizeof(refuse_msg));
	if (rc == 0) {
		rc = recv_reply(p, fd, (int)quiet, &r);
		if (rc > 0)
			rc = fail(p, "after our ERROR 8 the server sent %s",
				  is_oack(&r)
					  ? "the OACK again"
					  : describe(&r, desc, sizeof(desc)));
	}
	close(fd);
	if (rc != 0)
		return -1;
	return pass(p,
		    "OACK {%s} answered with ERROR 8: nothing more from %s "
		    "for %lu ms",
		    optset_format(&got, gs, sizeof(gs)), net_format(&tid, desc),
		    quiet);
}

/* oack-silence FILE COPIES QUIET_MS [NAME VALUE]...: take the OACK and never
 * answer.  The same OACK must come COPIES times in all (1 + --retries), from
 * the same port, then nothing (an ERROR farewell is allowed) for QUIET_MS. */
static int sc_oack_silence(struct probe *p, int argc, char **argv)
{
	static struct reply first, r;
	struct optset got;
	char desc[256], gs[512], other[256] = "";
	unsigned long want, quiet;
	unsigned copies = 1;
	int64_t cap_end;
	int fd, rc = 0;

	if (parse_count(p, argv[1], 1, 200, "COPIES", &want) != 0 ||
	    parse_count(p, argv[2], 100, 60000, "QUIET_MS", &quiet) != 0)
		return -1;
	fd = rrq_expect_oack(p, argv[0], argv + 3, argc - 3, &first, &got);
	if (fd < 0)
		return -1;
	cap_end = now_ms() + (int64_t)(want + 2) * (int64_t)quiet;
	for (;;) {
		int64_t left = cap_end - now_ms();
		if (left <= 0) {
			rc = fail(p, "still sending after %lld ms (%u OACKs)",
				  (long long)((want + 2) * quiet), copies);
			break;
		}
		rc = recv_reply(
			p, fd,
			(int)(left < (int64_t)quiet ? left : (int64_t)quiet),
			&r);
		if (rc <= 0)
			break;
		rc = 0;
		if (!net_same(&r.from, &first.from)) {
			rc = fail(p, "while silent, got a datagram from %s",
				  net_format(&r.from, desc));
			break;
		}
		if (is_oack(&r) && r.len == first.len &&
		    memcmp(r.buf, first.buf, r.len) == 0 && !other[0]) {
			copies++;
			continue;
		}
		if (r.decoded && r.pkt.opcode == TFTP_ERROR && !other[0]) {
			describe(&r, other, sizeof(other));
			continue;
		}
		rc = fail(p, "while silent, got %s (after %u OACKs)",
			  is_oack(&r) ? "a different OACK"
				      : describe(&r, desc, sizeof(desc)),
			  copies);
		break;
	}
	close(fd);
	if (rc != 0)
		return -1;
	if (copies != want)
		return fail(p,
			    "%u copies of the OACK while silent, expected %lu "
			    "(the first and %lu resends)",
			    copies, want, want - 1);
	return pass(p, "%u copies of OACK {%s}, then nothing for %lu ms%s%s",
		    copies, optset_format(&got, gs, sizeof(gs)), quiet,
		    other[0] ? "; then " : "", other);
}

/* A windowed download of file with blksize 512 and windowsize W, strict:
 * any block out of order or twice fails.  Fills *w (on fd) after the OACK's
 * ACK 0. */
static int wdl_open_window(struct probe *p, struct wdl *w, int fd,
			   const char *file, unsigned window, FILE *out)
{
	uint8_t req[1024];
	char ws[16], spec[64];
	char *opts[4] = {"blksize", "512", "windowsize", ws};
	struct optset want, got;
	size_t len;

	snprintf(ws, sizeof(ws), "%u", window);
	snprintf(spec, sizeof(spec), "blksize=512,windowsize=%u", window);
	if (optset_parse(p, spec, &want) != 0)
		return -1;
	len = build_rrq_options(req, sizeof(req), file, "octet", 0, opts, 4);
	if (len == 0)
		return fail(p, "request too long for the probe");
	wdl_init(w, fd, file);
	w->out = out;
	w->strict = 1;
	return wdl_start(p, w, req, len, &want, &got, 1);
}

/* Open OUT and a client socket for a windowed scenario. */
static int open_window_scenario(struct probe *p, const char *outpath,
				FILE **out, int *fd)
{
	*out = fopen(outpath, "wb");
	if (!*out)
		return fail(p, "%s: %s", outpath, strerror(errno));
	*fd = open_client(p);
	if (*fd < 0) {
		fclose(*out);
		return -1;
	}
	return 0;
}

static int parse_window(struct probe *p, const char *s, unsigned *window)
{
	unsigned long v;

	if (parse_count(p, s, 2, 64, "WINDOW", &v) != 0)
		return -1;
	*window = (unsigned)v;
	return 0;
}

/* window-stray FILE OUT WINDOW: after each of the first two windows, before
 * the right ACK, send ACKs the server must ignore: the block it last had
 * acknowledged (a duplicate), the one before (stale), blocks not sent yet
 * (end + 1, end + 2, end + 100) and one half the number space away.  Nothing
 * may come back for them (the server's --timeout must exceed 0.5 s); after
 * the right ACK the next window follows in order, and the file is intact. */
static int sc_window_stray(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct wdl w;
	char desc[256];
	unsigned window = 0;
	FILE *out;
	int fd, rc;

	(void)argc;
	if (parse_window(p, argv[2], &window) != 0 ||
	    open_window_scenario(p, argv[1], &out, &fd) != 0)
		return -1;
	rc = wdl_open_window(p, &w, fd, argv[0], window, out);
	for (int round = 0; rc == 0 && round < 2; round++) {
		uint16_t a = (uint16_t)(round * window); /* acknowledged */
		uint16_t e = (uint16_t)(a + window);	 /* window's end */
		uint16_t strays[] = {a,
				     (uint16_t)(a - 1),
				     (uint16_t)(e + 1),
				     (uint16_t)(e + 2),
				     (uint16_t)(e + 100),
				     (uint16_t)(a + 32768)};
		rc = wdl_window(p, &w);
		if (rc == 0 && (w.done || w.last_block != e))
			rc = fail(p, "%s: too small for two windows of %u",
				  argv[0], window);
		for (size_t i = 0;
		     rc == 0 && i < sizeof(strays) / sizeof(strays[0]); i++)
			rc = send_ack(p, fd, &w.tid, strays[i]);
		if (rc == 0) {
			rc = recv_reply(p, fd, 500, &r);
			if (rc > 0)
				rc = fail(p,
					  "ACKs %u, %u, %u, %u, %u, %u out "
					  "of window %u..%u got an answer: %s",
					  strays[0], strays[1], strays[2],
					  strays[3], strays[4], strays[5],
					  a + 1, e,
					  describe(&r, desc, sizeof(desc)));
		}
		if (rc == 0)
			rc = wdl_ack(p, &w);
	}
	if (rc == 0)
		rc = wdl_finish(p, &w);
	close(fd);
	rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "ACKs outside windows 1 and 2 of %u were ignored; %s: "
		    "%llu bytes in %llu blocks, %llu DATA",
		    window, argv[0], (unsigned long long)w.bytes,
		    (unsigned long long)w.blocks,
		    (unsigned long long)w.datagrams);
}

/* window-ack-inside FILE OUT: windowsize 8.  After blocks 1..3 of the first
 * window, ACK 3.  The server sends a whole window before it reads an ACK, so
 * blocks 4..8 of the first window are on their way; then it must start
 * again at 4 and send 4..11 (a window after block 3).  Robustly: after the
 * ACK come k >= 1 blocks 4, 5... (the rest of the first window), then 4..11;
 * the two copies must match.  Then the download goes on and ends intact. */
static int sc_window_ack_inside(struct probe *p, int argc, char **argv)
{
	enum {
		W = 8,
		BS = 512,
		K = 3
	};
	static struct reply r;
	static uint8_t old[W][BS];
	unsigned nold = 0;
	int restarted = 0;
	struct wdl w;
	char desc[256];
	FILE *out;
	int fd, rc;

	(void)argc;
	if (open_window_scenario(p, argv[1], &out, &fd) != 0)
		return -1;
	rc = wdl_open_window(p, &w, fd, argv[0], W, out);
	for (int i = 0; rc == 0 && i < K; i++) {
		rc = recv_reply(p, fd, REPLY_MS, &r);
		if (rc == 0)
			rc = fail(p, "no DATA %d within %d ms", i + 1,
				  REPLY_MS);
		else if (rc > 0)
			rc = wdl_take(p, &w, &r) == 1 ? 0 : -1;
	}
	if (rc == 0 && w.last_block != K)
		rc = fail(p, "%s: too small", argv[0]);
	if (rc == 0)
		rc = wdl_ack(p, &w); /* ACK 3, inside window 1..8 */
	while (rc == 0 && !w.ack_due) {
		uint16_t b;
		rc = recv_reply(p, fd, REPLY_MS, &r);
		if (rc == 0) {
			rc = fail(p,
				  "after ACK %d: no DATA within %d ms (%u "
				  "blocks of the first window, %s)",
				  K, REPLY_MS, nold,
				  restarted ? "then a resend from 4"
					    : "no resend from 4");
			break;
		}
		if (rc < 0)
			break;
		rc = 0;
		describe(&r, desc, sizeof(desc));
		if (!r.decoded || r.pkt.opcode != TFTP_DATA ||
		    !net_same(&r.from, &w.tid) || r.pkt.data_len != BS) {
			rc = fail(p, "after ACK %d: got %s", K, desc);
			break;
		}
		b = r.pkt.block;
		if (!restarted && b == K + 1 + nold && nold < W - K &&
		    !(nold > 0 && b == K + 1)) {
			/* the rest of the first window, sent before our ACK */
			memcpy(old[nold++], r.pkt.data, BS);
			continue;
		}
		if (!restarted && b == K + 1 && nold > 0) {
			restarted = 1;
		} else if (!restarted) {
			rc = fail(
				p,
				"after ACK %d and blocks %d..%u of the "
				"first window, got %s: expected block %d "
				"again (the server must resend from the block "
				"after the ACK)",
				K, K + 1, K + nold, desc, K + 1);
			break;
		}
		if (b >= K + 1 && b < K + 1 + nold &&
		    memcmp(old[b - K - 1], r.pkt.data, BS) != 0) {
			rc = fail(p, "block %u resent with other bytes", b);
			break;
		}
		rc = wdl_take(p, &w, &r) < 0 ? -1 : 0;
	}
	if (rc == 0 && w.last_block != K + W)
		rc = fail(p,
			  "the window after ACK %d ended at block %u, not %d",
			  K, w.last_block, K + W);
	if (rc == 0)
		rc = wdl_finish(p, &w);
	close(fd);
	rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "ACK %d inside window 1..%d: %u blocks of the first "
		    "window arrived, then %d..%d; %s: %llu bytes in %llu "
		    "blocks",
		    K, W, nold, K + 1, K + W, argv[0],
		    (unsigned long long)w.bytes, (unsigned long long)w.blocks);
}

/* window-dup-ack FILE OUT WINDOW: every ACK sent twice.  A server that sent
 * a window per ACK would send every window twice; strict: a block seen twice
 * fails, until COLLECT_MS after the end. */
static int sc_window_dup_ack(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct wdl w;
	unsigned window = 0;
	int64_t end;
	FILE *out;
	int fd, rc;

	(void)argc;
	if (parse_window(p, argv[2], &window) != 0 ||
	    open_window_scenario(p, argv[1], &out, &fd) != 0)
		return -1;
	rc = wdl_open_window(p, &w, fd, argv[0], window, out);
	w.acks = 2;
	/* The OACK's ACK 0 went once: send it again. */
	if (rc == 0)
		rc = send_ack(p, fd, &w.tid, 0);
	if (rc == 0)
		rc = wdl_finish(p, &w);
	end = now_ms() + COLLECT_MS;
	while (rc == 0 && now_ms() < end) {
		int got = recv_reply(p, fd, (int)(end - now_ms()), &r);
		if (got <= 0) {
			rc = got;
			break;
		}
		rc = wdl_take(p, &w, &r) < 0 ? -1 : 0;
	}
	close(fd);
	rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	if (w.blocks <= window)
		return fail(p, "%s fits in one window of %u: use a bigger file",
			    argv[0], window);
	return pass(p,
		    "%s: every ACK sent twice, window %u; %llu DATA for "
		    "%llu blocks, %llu bytes",
		    argv[0], window, (unsigned long long)w.datagrams,
		    (unsigned long long)w.blocks, (unsigned long long)w.bytes);
}

/* pxe FILE OUT SIZE [same-port]: what UEFI PXE firmware does.  An RRQ with
 * tsize 0 and blksize 1468 gets an OACK with the size; the firmware answers
 * ERROR 8 (it only wanted the size), then asks again from a new port (or,
 * with same-port, from the same one) with blksize 1468 and windowsize 4,
 * and downloads.  The second request is sent once: it must be answered at
 * once, not on the firmware's retransmission a second later. */
static int sc_pxe(struct probe *p, int argc, char **argv)
{
	static const uint8_t abort_msg[] = "\0\5\0\10tsize query only";
	static char *const ask_size[] = {"tsize", "0", "blksize", "1468"};
	static char *const ask_file[] = {"blksize", "1468", "windowsize", "4"};
	static struct reply r;
	uint8_t req[1024];
	struct optset want, got;
	char spec[96], desc[256];
	int same = argc > 3 && strcmp(argv[3], "same-port") == 0;
	union sockaddr_any tid1;
	struct wdl w;
	size_t len;
	FILE *out;
	int fd1, fd2 = -1, rc;

	if (argc > 3 && !same)
		return fail(p, "the fourth argument can only be same-port");
	snprintf(spec, sizeof(spec), "tsize=%s,blksize=1468", argv[2]);
	if (optset_parse(p, spec, &want) != 0)
		return -1;
	fd1 = rrq_expect_oack(p, argv[0], ask_size, 4, &r, &got);
	if (fd1 < 0)
		return -1;
	tid1 = r.from;
	rc = optset_match(p, &got, &want);
	if (rc == 0)
		rc = send_to(p, fd1, &tid1, abort_msg, sizeof(abort_msg));
	out = rc == 0 ? fopen(argv[1], "wb") : NULL;
	if (rc == 0 && !out)
		rc = fail(p, "%s: %s", argv[1], strerror(errno));
	if (rc == 0) {
		fd2 = same ? fd1 : open_client(p);
		if (fd2 < 0)
			rc = -1;
	}
	if (rc == 0)
		rc = optset_parse(p, "blksize=1468,windowsize=4", &want);
	len = build_rrq_options(req, sizeof(req), argv[0], "octet", 0, ask_file,
				4);
	if (rc == 0) {
		wdl_init(&w, fd2, argv[0]);
		w.out = out;
		rc = wdl_start(p, &w, req, len, &want, &got, 1);
	}
	/* Under --single-port every transfer has the listening port. */
	if (rc == 0 && !single_port() && net_same(&w.tid, &tid1))
		rc = fail(p, "the second transfer has the first one's port");
	if (rc == 0)
		rc = wdl_finish(p, &w);
	/* The first transfer ended with our ERROR 8: it sends nothing more,
	 * not even after its timeout. */
	if (rc == 0 && !same) {
		rc = recv_reply(p, fd1, COLLECT_MS, &r);
		if (rc > 0)
			rc = fail(p, "after ERROR 8 the first port got %s",
				  is_oack(&r)
					  ? "the OACK again"
					  : describe(&r, desc, sizeof(desc)));
	}
	if (fd2 >= 0 && fd2 != fd1)
		close(fd2);
	close(fd1);
	if (out)
		rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "tsize %s from the first OACK; ERROR 8; %s (%u RRQs "
		    "sent): %llu bytes in %llu blocks of %u, windowsize %u",
		    argv[2],
		    same ? "same port asked again" : "a new port asked again",
		    w.requests, (unsigned long long)w.bytes,
		    (unsigned long long)w.blocks, w.blksize, w.windowsize);
}

/* ---- retransmission and repeated requests -------------------------------- */

/* Build the RRQ for file with NAME VALUE options (none: a plain RRQ). */
static size_t build_rrq(struct probe *p, uint8_t *buf, size_t cap,
			const char *file, char *const *opts, int nopts)
{
	size_t len = build_rrq_options(buf, cap, file, "octet", 0, opts, nopts);

	if (len == 0)
		fail(p, "%s: request too long for the probe", file);
	return len;
}

/* Build the RRQ for file with NAME VALUE options into req (cap bytes; its
 * length in *len) and send it from a fresh socket.  Returns the socket, or
 * -1 with the diagnosis set. */
static int open_with_rrq(struct probe *p, uint8_t *req, size_t cap, size_t *len,
			 const char *file, char *const *opts, int nopts)
{
	int fd;

	*len = build_rrq(p, req, cap, file, opts, nopts);
	if (*len == 0 || (fd = open_client(p)) < 0)
		return -1;
	if (send_to(p, fd, &p->server, req, *len) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Take the server's first packet (OACK or DATA 1) into w, without answering
 * it: an OACK sets blksize and windowsize, DATA 1 is stored as block 1. */
static int wdl_take_first(struct probe *p, struct wdl *w, const struct reply *r)
{
	struct optset got;

	if (!is_oack(r))
		return wdl_take(p, w, r) < 0 ? -1 : 0;
	if (!from_transfer_port(p, r))
		return fail(p, "%s: OACK not from a transfer port", w->name);
	if (oack_parse(p, r, &got) != 0 ||
	    oack_number(p, &got, "blksize", 8, TFTP_BLKSIZE_MAX, &w->blksize) !=
		    0 ||
	    oack_number(p, &got, "windowsize", 1, 65535, &w->windowsize) != 0)
		return -1;
	w->tid = r->from;
	w->have_tid = 1;
	w->ack_due = 1; /* ACK 0 */
	return 0;
}

/* Nothing at all may arrive on fd for ms milliseconds. */
static int expect_quiet(struct probe *p, int fd, int ms, const char *when)
{
	static struct reply r;
	char desc[256];
	int rc = recv_reply(p, fd, ms, &r);

	if (rc > 0)
		return fail(p, "%s: got %s", when,
			    is_oack(&r) ? "an OACK"
					: describe(&r, desc, sizeof(desc)));
	return rc;
}

/* repeat-request FILE OUT COUNT GAP_MS [NAME VALUE]...: send the RRQ, take
 * the first packet (DATA 1 or the OACK) without answering, then COUNT times:
 * hear nothing for GAP_MS (no resend on a timer toward an unproven
 * address), repeat the request, and get exactly that packet again from the
 * same port.  Then answer and download the file into OUT.  One packet out
 * per request in. */
static int sc_repeat_request(struct probe *p, int argc, char **argv)
{
	static struct reply first, r;
	uint8_t req[2048];
	unsigned long count, gap;
	unsigned copies = 1;
	struct wdl w;
	char desc[256];
	FILE *out = NULL;
	size_t len;
	int fd, rc;

	if (parse_count(p, argv[2], 0, 50, "COUNT", &count) != 0 ||
	    parse_count(p, argv[3], 100, 60000, "GAP_MS", &gap) != 0)
		return -1;
	fd = open_with_rrq(p, req, sizeof(req), &len, argv[0], argv + 4,
			   argc - 4);
	if (fd < 0)
		return -1;
	if ((rc = recv_reply(p, fd, REPLY_MS, &first)) == 0)
		rc = fail(p, "%s: no reply to the RRQ", argv[0]);
	rc = rc < 0 ? -1 : 0;
	for (unsigned long i = 0; rc == 0 && i < count; i++) {
		rc = expect_quiet(p, fd, (int)gap, "before the repeated RRQ");
		if (rc == 0)
			rc = send_to(p, fd, &p->server, req, len);
		if (rc == 0 && (rc = recv_reply(p, fd, REPLY_MS, &r)) == 0)
			rc = fail(p,
				  "no answer to repeat %lu of the RRQ "
				  "within %d ms",
				  i + 1, REPLY_MS);
		if (rc > 0 &&
		    (!net_same(&r.from, &first.from) || r.len != first.len ||
		     memcmp(r.buf, first.buf, r.len) != 0))
			rc = fail(p,
				  "repeat %lu of the RRQ got %s, not the "
				  "first packet again from its port",
				  i + 1, describe(&r, desc, sizeof(desc)));
		else if (rc > 0) {
			rc = 0;
			copies++;
		}
	}
	if (rc == 0)
		rc = expect_quiet(p, fd, (int)gap, "after the last repeat");
	if (rc == 0 && !(out = fopen(argv[1], "wb")))
		rc = fail(p, "%s: %s", argv[1], strerror(errno));
	if (rc == 0) {
		wdl_init(&w, fd, argv[0]);
		w.out = out;
		rc = wdl_take_first(p, &w, &first);
	}
	if (rc == 0)
		rc = wdl_finish(p, &w);
	close(fd);
	if (out)
		rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%lu repeats of the RRQ, %u copies of the first packet, "
		    "nothing on a timer; then %llu bytes in %llu blocks",
		    count, copies, (unsigned long long)w.bytes,
		    (unsigned long long)w.blocks);
}

/* new-request FILE1 FILE2 OUT: take DATA 1 and DATA 2 of FILE1 (ACK only
 * the first), then request FILE2 from the same port.  FILE2 arrives whole
 * into OUT from a new port, and the old transfer's port never sends again.
 * With PROBE_SINGLE_PORT both transfers share the listening port: the old
 * one shows itself by a block the new one is not at. */
static int sc_new_request(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct wdl d, w;
	char desc[256];
	FILE *out;
	int fd, rc;

	if (open_out(p, argc, argv, 2, &out) != 0)
		return -1;
	if (wdl_begin(p, &d, argv[0], "octet", NULL) != 0)
		return close_out(p, out, "", -1);
	fd = d.fd;
	rc = wdl_upto(p, &d, 2);
	if (rc == 0 && d.done)
		rc = fail(p, "%s has two blocks or fewer", argv[0]);
	if (rc == 0)
		rc = send_rrq(p, fd, argv[1], "octet");
	wdl_init(&w, fd, argv[1]);
	w.out = out;
	w.strict = 1;
	while (rc == 0 && !w.done) {
		rc = recv_reply(p, fd, REPLY_MS, &r);
		if (rc == 0)
			rc = fail(p, "%s: no DATA %u within %d ms", argv[1],
				  w.expected, REPLY_MS);
		else if (rc > 0 &&
			 (single_port()
				  ? r.decoded && r.pkt.opcode == TFTP_DATA &&
					    r.pkt.block != w.expected
				  : net_same(&r.from, &d.tid)))
			rc = fail(p,
				  "the old transfer's port sent %s after "
				  "the new request",
				  describe(&r, desc, sizeof(desc)));
		else if (rc > 0 && wdl_take(p, &w, &r) < 0)
			rc = -1;
		else if (rc > 0)
			rc = wdl_ack(p, &w);
	}
	if (rc == 0)
		rc = expect_quiet(p, fd, COLLECT_MS, "after the new download");
	close(fd);
	rc = close_out(p, out, argv[2], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%s stopped after block 2; %s: %llu bytes from a new "
		    "port",
		    argv[0], argv[1], (unsigned long long)w.bytes);
}

/* again FILE1 FILE2 OUT ROUNDS [NAME VALUE]...: from one port, download
 * FILE1 and FILE2 in turn, ROUNDS times in all, each request sent once
 * only, right after the previous transfer's last ACK (or, with "error8" as
 * the options, after an ERROR 8 to its OACK: a UEFI tsize probe).  Every
 * request must be answered at once.  The last download goes to OUT. */
static int sc_again(struct probe *p, int argc, char **argv)
{
	static const uint8_t abort_msg[] = "\0\5\0\10tsize query only";
	static struct reply r;
	unsigned long rounds;
	uint8_t req[2048];
	struct wdl w;
	FILE *out = NULL;
	size_t len;
	int fd, rc = 0;

	if (parse_count(p, argv[3], 1, 1000, "ROUNDS", &rounds) != 0)
		return -1;
	fd = open_client(p);
	if (fd < 0)
		return -1;
	for (unsigned long i = 0; rc == 0 && i < rounds; i++) {
		const char *file = argv[i % 2];
		int probe8 = argc > 4 && strcmp(argv[4], "error8") == 0;
		char *opts8[] = {"tsize", "0", "blksize", "1468"};
		if (probe8 && i % 2 == 0)
			len = build_rrq(p, req, sizeof(req), file, opts8, 4);
		else
			len = build_rrq(p, req, sizeof(req), file,
					argv + 4 + probe8, argc - 4 - probe8);
		if (len == 0) {
			rc = -1;
			break;
		}
		if (i + 1 == rounds && !(out = fopen(argv[2], "wb"))) {
			rc = fail(p, "%s: %s", argv[2], strerror(errno));
			break;
		}
		wdl_init(&w, fd, file);
		w.out = out;
		rc = send_to(p, fd, &p->server, req, len);
		if (rc == 0 && (rc = recv_reply(p, fd, REPLY_MS, &r)) == 0)
			rc = fail(p,
				  "round %lu: %s: no answer within %d ms "
				  "(the request was sent once)",
				  i + 1, file, REPLY_MS);
		rc = rc < 0 ? -1 : 0;
		if (rc == 0)
			rc = wdl_take_first(p, &w, &r);
		if (rc == 0 && probe8 && i % 2 == 0) {
			if (!is_oack(&r))
				rc = fail(p, "round %lu: no OACK", i + 1);
			else
				rc = send_to(p, fd, &w.tid, abort_msg,
					     sizeof(abort_msg));
			continue;
		}
		if (rc == 0)
			rc = wdl_finish(p, &w);
		if (rc != 0) {
			char why[sizeof(p->diag)];
			memcpy(why, p->diag, sizeof(why));
			fail(p, "round %lu: %s", i + 1, why);
		}
	}
	close(fd);
	if (out)
		rc = close_out(p, out, argv[2], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%lu requests from one port, each answered at once; "
		    "last: %llu bytes",
		    rounds, (unsigned long long)w.bytes);
}

/* backoff FILE BLOCKS SPAN_MS MIN_GAP_MS [NAME VALUE]...: ACK BLOCKS blocks
 * at once (lockstep, with the options given), then fall silent for SPAN_MS
 * and time the copies of the next block.  The first comes after about a
 * round trip's timeout, then the gaps double (exponential backoff): at
 * least 3 copies come, and some gap reaches MIN_GAP_MS (set it above
 * --timeout: backoff goes past it). */
static int sc_backoff(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	unsigned long blocks, span, min_gap;
	int64_t last_at, gap, max_gap = 0, stop;
	uint8_t req[2048];
	struct optset got;
	struct wdl w;
	char gaps[512] = "";
	size_t gl = 0, len;
	unsigned copies = 0;
	int fd, rc;

	if (parse_count(p, argv[1], 1, 10000, "BLOCKS", &blocks) != 0 ||
	    parse_count(p, argv[2], 100, 60000, "SPAN_MS", &span) != 0 ||
	    parse_count(p, argv[3], 1, 60000, "MIN_GAP_MS", &min_gap) != 0)
		return -1;
	len = build_rrq(p, req, sizeof(req), argv[0], argv + 4, argc - 4);
	if (len == 0)
		return -1;
	fd = open_client(p);
	if (fd < 0)
		return -1;
	wdl_init(&w, fd, argv[0]);
	rc = wdl_start(p, &w, req, len, NULL, &got, 1);
	while (rc == 0 && !w.done && w.blocks < blocks) {
		rc = wdl_window(p, &w);
		if (rc == 0 && w.blocks < blocks)
			rc = wdl_ack(p, &w);
	}
	if (rc == 0 && w.done)
		rc = fail(p, "%s ended before block %lu", argv[0], blocks + 1);
	last_at = now_ms();
	stop = last_at + (int64_t)span;
	while (rc == 0 && now_ms() < stop) {
		int n = recv_reply(p, fd, (int)(stop - now_ms()), &r);
		if (n <= 0) {
			rc = n;
			break;
		}
		if (!net_same(&r.from, &w.tid) || !r.decoded ||
		    r.pkt.opcode != TFTP_DATA || r.pkt.block != w.last_block)
			continue;
		/* Times are taken on arrival: on a loaded machine one gap can
		 * look short after a late one, so only the longest counts. */
		gap = now_ms() - last_at;
		last_at = now_ms();
		copies++;
		if (gap > max_gap)
			max_gap = gap;
		if (gl < sizeof(gaps) - 16)
			gl += (size_t)snprintf(gaps + gl, sizeof(gaps) - gl,
					       "%s%lld", gl ? " " : "",
					       (long long)gap);
	}
	close(fd);
	if (rc != 0)
		return -1;
	if (copies < 3 || max_gap < (int64_t)min_gap)
		return fail(p,
			    "%u copies of block %u in %lu ms, gaps (ms): %s; "
			    "expected 3 or more and a gap of %lu ms or more",
			    copies, w.last_block, span, gaps, min_gap);
	return pass(p, "%u copies of block %u, gaps (ms): %s", copies,
		    w.last_block, gaps);
}

/* backoff-ended FILE BLOCKS: ACK BLOCKS blocks at once, fall silent until
 * the server's copies of the next block come 300 ms or more apart (its
 * timer backed off), then send the last ACK again, as a client does on its
 * own timer.  The next copy must then come sooner than the last gap
 * (backed off, it would come two gaps later): the backoff ends, though the
 * duplicate ACK itself is not answered (no Sorcerer's Apprentice: nothing
 * arrives within 5 ms either). */
static int sc_backoff_ended(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	unsigned long blocks;
	int64_t last_at, gap = 0, after;
	uint8_t req[2048];
	struct optset got;
	struct wdl w;
	size_t len;
	int fd, rc, n;

	(void)argc;
	if (parse_count(p, argv[1], 1, 10000, "BLOCKS", &blocks) != 0)
		return -1;
	len = build_rrq(p, req, sizeof(req), argv[0], NULL, 0);
	fd = len ? client_socket(p) : -1;
	if (fd < 0)
		return fail(p, "client socket: %s", strerror(errno));
	wdl_init(&w, fd, argv[0]);
	rc = wdl_start(p, &w, req, len, NULL, &got, 1);
	while (rc == 0 && !w.done && w.blocks < blocks) {
		rc = wdl_window(p, &w);
		if (rc == 0 && w.blocks < blocks)
			rc = wdl_ack(p, &w);
	}
	last_at = now_ms();
	while (rc == 0 && gap < 300) {
		n = recv_reply(p, fd, 5000, &r);
		if (n <= 0) {
			rc = n < 0 ? -1 : fail(p, "no copy within 5 s");
			break;
		}
		gap = now_ms() - last_at;
		last_at = now_ms();
	}
	if (rc == 0)
		rc = send_ack(p, fd, &w.tid, (uint16_t)(w.last_block - 1));
	after = now_ms();
	if (rc == 0) {
		n = recv_reply(p, fd, 2000, &r);
		if (n <= 0)
			rc = n < 0 ? -1
				   : fail(p, "no copy within 2 s after the "
					     "repeated ACK");
	}
	close(fd);
	if (rc != 0)
		return -1;
	after = now_ms() - after;
	/* Still backed off, the next copy would come a doubled gap (2 x gap)
	 * after the last one; measured against the gap rather than a fixed
	 * bound, a loaded machine's scheduling delays do not decide it. */
	if (after < 5 || after >= gap)
		return fail(p,
			    "after a gap of %lld ms and a repeated ACK, the "
			    "next copy came after %lld ms: expected a round "
			    "trip's timeout (5 ms to less than the gap)",
			    (long long)gap, (long long)after);
	return pass(p,
		    "gap %lld ms, then the repeated ACK: next copy after "
		    "%lld ms",
		    (long long)gap, (long long)after);
}

/* field FILE OUT TIMER_MS DUP_ACKS DROP_BLOCK [NAME VALUE]...: a client as
 * found in the field.  It restarts its timer on every datagram it receives,
 * answers a repeated DATA with an ACK only DUP_ACKS times per block (0:
 * never, as U-Boot), ACKs windows (RFC 7440; once at a gap), and only on
 * TIMER_MS of silence resends its last ACK (or its request); it gives up
 * after 10 silences in a row, or as many as make 30 s (tftp-hpa's client
 * waits about as long).  DROP_BLOCK (0: none) is a block whose first
 * ACK it "loses": it does not send it. */
static int sc_field(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	unsigned long timer, dup_acks, drop;
	uint8_t req[2048];
	unsigned silences = 0, dups_sent = 0, fires = 0, dropped = 0, patience;
	int gap_acked = 0;
	int64_t start = now_ms(), deadline;
	struct wdl w;
	FILE *out;
	size_t len;
	int fd, rc = 0;

	if (parse_count(p, argv[2], 10, 60000, "TIMER_MS", &timer) != 0 ||
	    parse_count(p, argv[3], 0, 100, "DUP_ACKS", &dup_acks) != 0 ||
	    parse_count(p, argv[4], 0, 1000000, "DROP_BLOCK", &drop) != 0)
		return -1;
	patience = timer * 10 >= 30000 ? 10 : (unsigned)(30000 / timer);
	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	fd = open_with_rrq(p, req, sizeof(req), &len, argv[0], argv + 5,
			   argc - 5);
	if (fd < 0)
		return close_out(p, out, "", -1);
	wdl_init(&w, fd, argv[0]);
	w.out = out;
	deadline = now_ms() + (int64_t)timer;
	while (rc == 0) {
		int64_t left = deadline - now_ms();
		int got = left > 0 ? recv_reply(p, fd, (int)left, &r) : 0;
		if (got < 0) {
			rc = -1;
			break;
		}
		if (got == 0) { /* our timer fired */
			if (++silences > patience) {
				rc = fail(p,
					  "gave up after %u silences of %lu "
					  "ms (%llu blocks)",
					  patience, timer,
					  (unsigned long long)w.blocks);
				break;
			}
			fires++;
			rc = w.have_tid ? send_ack(p, fd, &w.tid, w.last_block)
					: send_to(p, fd, &p->server, req, len);
			deadline = now_ms() + (int64_t)timer;
			continue;
		}
		silences = 0;
		deadline = now_ms() + (int64_t)timer; /* every datagram */
		if (w.have_tid && !net_same(&r.from, &w.tid))
			continue; /* a stray: ignored */
		if (!w.have_tid) {
			if (wdl_take_first(p, &w, &r) != 0) {
				rc = -1;
				break;
			}
		} else {
			uint16_t behind;
			if (is_oack(&r) || !r.decoded ||
			    r.pkt.opcode != TFTP_DATA)
				continue; /* a repeated OACK, or junk */
			w.datagrams++;
			behind = (uint16_t)(w.expected - r.pkt.block);
			if (w.done || (behind >= 1 && behind < 0x8000)) {
				/* a repeat: ACK it again, a few times */
				w.repeats++;
				if (dups_sent < dup_acks) {
					dups_sent++;
					rc = send_ack(p, fd, &w.tid,
						      w.last_block);
				}
				continue;
			}
			if (behind != 0) {
				/* ahead: a block was lost; ACK once */
				if (!gap_acked) {
					gap_acked = 1;
					rc = send_ack(p, fd, &w.tid,
						      w.last_block);
				}
				continue;
			}
			w.datagrams--; /* wdl_take counts it */
			if (wdl_take(p, &w, &r) < 0) {
				rc = -1;
				break;
			}
			dups_sent = 0;
			gap_acked = 0;
		}
		if (w.ack_due) {
			if (drop && w.blocks == drop && !dropped) {
				dropped = 1;
				w.in_window = 0;
				w.ack_due = 0;
				continue;
			}
			rc = wdl_ack(p, &w);
			if (rc == 0 && w.done)
				break;
		}
	}
	close(fd);
	rc = close_out(p, out, argv[1], rc);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%s: %llu bytes in %llu blocks, %.3f s; %llu repeats "
		    "received, %u timer resends",
		    argv[0], (unsigned long long)w.bytes,
		    (unsigned long long)w.blocks,
		    (double)(now_ms() - start) / 1000,
		    (unsigned long long)w.repeats, fires);
}

/* gone FILE: download in lockstep up to the last block, then close the
 * socket without its ACK, as a client whose final ACK was lost and which
 * has already moved on.  The server's resend meets an ICMP port
 * unreachable; the log (checked by the caller) says the client is gone. */
static int sc_gone(struct probe *p, int argc, char **argv)
{
	struct wdl d;
	int rc;

	(void)argc;
	if (wdl_begin(p, &d, argv[0], "octet", NULL) != 0)
		return -1;
	rc = wdl_upto(p, &d, UINT64_MAX);
	close(d.fd);
	if (rc != 0)
		return -1;
	return pass(p,
		    "%s: %llu blocks received, the last one not "
		    "acknowledged; port closed",
		    argv[0], (unsigned long long)d.blocks);
}

/* window-silence FILE WINDOW QUIET_MS: take a whole window and then say
 * nothing for QUIET_MS.  Only the oldest unacknowledged block (1) may come
 * again, never the whole window. */
static int sc_window_silence(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	unsigned long quiet;
	unsigned copies = 0, window = 1;
	struct wdl w;
	char desc[256];
	int64_t stop;
	int fd, rc;

	(void)argc;
	if (parse_window(p, argv[1], &window) != 0 ||
	    parse_count(p, argv[2], 100, 60000, "QUIET_MS", &quiet) != 0)
		return -1;
	fd = open_client(p);
	if (fd < 0)
		return -1;
	rc = wdl_open_window(p, &w, fd, argv[0], window, NULL);
	if (rc == 0)
		rc = wdl_window(p, &w);
	stop = now_ms() + (int64_t)quiet;
	while (rc == 0 && now_ms() < stop) {
		int got = recv_reply(p, fd, (int)(stop - now_ms()), &r);
		if (got <= 0) {
			rc = got;
			break;
		}
		describe(&r, desc, sizeof(desc));
		if (!r.decoded || r.pkt.opcode != TFTP_DATA || r.pkt.block != 1)
			rc = fail(p,
				  "while silent after a window, got %s: only "
				  "block 1 may be resent",
				  desc);
		copies++;
	}
	close(fd);
	if (rc != 0)
		return -1;
	if (copies == 0)
		return fail(p, "block 1 was never resent in %lu ms", quiet);
	return pass(p,
		    "a window of %u blocks, then only block 1 again (%u "
		    "copies in %lu ms)",
		    w.windowsize, copies, quiet);
}

/* amplify FILE QUIET_MS CAP_MS [NAME VALUE]...: what one request from a
 * source that never answers brings back.  Sends the RRQ once, then counts
 * every datagram and byte that arrives until QUIET_MS pass with nothing (at
 * most CAP_MS).  Works against any TFTP server on the loopback (a benchmark
 * of peers uses it too).  Prints "bytes in, packets and bytes out, ratio". */
static int sc_amplify(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	unsigned long quiet, cap;
	uint64_t bytes = 0, packets = 0;
	uint8_t req[2048];
	int64_t stop;
	size_t len;
	int fd, rc;

	if (parse_count(p, argv[1], 100, 600000, "QUIET_MS", &quiet) != 0 ||
	    parse_count(p, argv[2], 100, 600000, "CAP_MS", &cap) != 0)
		return -1;
	fd = open_with_rrq(p, req, sizeof(req), &len, argv[0], argv + 3,
			   argc - 3);
	if (fd < 0)
		return -1;
	rc = 0;
	stop = now_ms() + (int64_t)cap;
	while (rc == 0) {
		int64_t left = stop - now_ms();
		int n;
		if (left <= 0)
			break;
		n = recv_reply(
			p, fd,
			(int)(left < (int64_t)quiet ? left : (int64_t)quiet),
			&r);
		if (n <= 0) {
			rc = n;
			break;
		}
		packets++;
		bytes += r.len;
	}
	close(fd);
	if (rc != 0)
		return -1;
	return pass(p,
		    "request %zu bytes; %llu packets, %llu bytes back; "
		    "ratio %.1f",
		    len, (unsigned long long)packets, (unsigned long long)bytes,
		    (double)bytes / (double)len);
}

/* ---- uploads (WRQ) --------------------------------------------------------
 */

/* Keep fd open for ms, reading and ignoring whatever comes. */
static void linger(struct probe *p, int fd, int ms)
{
	static struct reply r;
	int64_t stop = now_ms() + ms;

	while (now_ms() < stop &&
	       recv_reply(p, fd, (int)(stop - now_ms()), &r) >= 0)
		;
}

/* put REMOTE LOCAL HOW [NAME VALUE]...: upload the file LOCAL as REMOTE in
 * octet mode with the options given, as a client that follows RFC 1350 and
 * RFC 7440 (a window at a time; on silence, the window again), except for
 * what HOW asks:
 *   ok          a clean upload: the final ACK must come;
 *   dup         every DATA goes twice: still one clean upload;
 *   swap        each pair of blocks goes in reverse order: the server ACKs
 *               the gap, the window goes again from there;
 *   error@N     an ERROR after N blocks ends the upload;
 *   quiet@N     nothing after N blocks, the socket open for QUIET_MS;
 *   hold@N      nothing after N blocks; prints "held" on stderr and keeps
 *               the socket open up to 20 s, for the caller to kill the
 *               server's child;
 *   error:C     the server must answer with ERROR C, at the WRQ or later. */
static int sc_put(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	static uint8_t data[TFTP_DATA_HEADER + TFTP_BLKSIZE_MAX];
	static const uint8_t abort_msg[] = "\0\5\0\0probe gives up";
	const char *how = argv[2];
	unsigned long at = 0, want_code = 99;
	unsigned blksize = TFTP_BLKSIZE_DEFAULT, windowsize = 1, tries = 0;
	uint64_t acked = 0, last = 0, size;
	uint8_t req[2048];
	union sockaddr_any tid;
	struct optset got;
	char desc[256];
	FILE *in;
	size_t len;
	int fd, rc = 0;

	if (strncmp(how, "error:", 6) == 0)
		rc = parse_count(p, how + 6, 0, 8, "the ERROR code",
				 &want_code);
	else if (strchr(how, '@'))
		rc = parse_count(p, strchr(how, '@') + 1, 0, 1000000, "N", &at);
	else if (strcmp(how, "ok") && strcmp(how, "dup") && strcmp(how, "swap"))
		return fail(p,
			    "HOW: ok, dup, swap, error@N, quiet@N, hold@N or "
			    "error:CODE");
	if (rc != 0)
		return -1;
	in = fopen(argv[1], "rb");
	if (!in)
		return fail(p, "%s: %s", argv[1], strerror(errno));
	fseek(in, 0, SEEK_END);
	size = (uint64_t)ftell(in);
	len = build_request(req, sizeof(req), TFTP_WRQ, argv[0], "octet");
	for (int i = 3; i < argc && len; i++) {
		size_t l = strlen(argv[i]);
		if (len + l + 1 > sizeof(req))
			len = 0;
		else
			memcpy(req + len, argv[i], l + 1), len += l + 1;
	}
	fd = len ? client_socket(p) : -1;
	if (fd < 0) {
		fclose(in);
		return fail(p, "WRQ too long, or no socket");
	}
	rc = send_to(p, fd, &p->server, req, len);
	if (rc == 0 && (rc = recv_reply(p, fd, REPLY_MS, &r)) == 0)
		rc = fail(p, "no answer to the WRQ");
	rc = rc < 0 ? -1 : 0;
	if (rc == 0 && r.decoded && r.pkt.opcode == TFTP_ERROR) {
		describe(&r, desc, sizeof(desc));
		fclose(in);
		close(fd);
		if (r.pkt.error_code == want_code)
			return pass(p, "WRQ answered with %s", desc);
		return fail(p, "WRQ answered with %s", desc);
	}
	if (rc == 0 && is_oack(&r)) {
		if (oack_parse(p, &r, &got) != 0 ||
		    oack_number(p, &got, "blksize", 8, TFTP_BLKSIZE_MAX,
				&blksize) != 0 ||
		    oack_number(p, &got, "windowsize", 1, 65535, &windowsize) !=
			    0)
			rc = -1;
	} else if (rc == 0 && (!r.decoded || r.pkt.opcode != TFTP_ACK ||
			       r.pkt.block != 0)) {
		rc = fail(p, "WRQ answered with %s, not ACK 0 or an OACK",
			  describe(&r, desc, sizeof(desc)));
	}
	tid = r.from;
	last = size / blksize + 1;
	while (rc == 0 && acked < last) {
		uint64_t end =
			acked + windowsize > last ? last : acked + windowsize;
		for (uint64_t k = acked + 1; k <= end && rc == 0; k++) {
			uint64_t seq = k;
			size_t n;
			if (strcmp(how, "swap") == 0 && (k - acked) % 2 == 0)
				seq = k - 1;
			else if (strcmp(how, "swap") == 0 && k < end)
				seq = k + 1;
			if (at && seq > at && strchr(how, '@')) {
				if (strncmp(how, "error@", 6) == 0)
					rc = send_to(p, fd, &tid, abort_msg,
						     sizeof(abort_msg));
				else if (strncmp(how, "hold@", 5) == 0) {
					fprintf(stderr, "held\n");
					fflush(stderr);
					linger(p, fd, 20000);
				} else {
					linger(p, fd, QUIET_MS);
				}
				fclose(in);
				close(fd);
				return rc ? -1
					  : pass(p,
						 "%s: stopped after %lu "
						 "blocks",
						 how, at);
			}
			fseek(in, (long)((seq - 1) * blksize), SEEK_SET);
			n = fread(data + TFTP_DATA_HEADER, 1, blksize, in);
			packet_build_data_header(data, (uint16_t)seq);
			rc = send_to(p, fd, &tid, data, TFTP_DATA_HEADER + n);
			if (rc == 0 && strcmp(how, "dup") == 0)
				rc = send_to(p, fd, &tid, data,
					     TFTP_DATA_HEADER + n);
		}
		/* ACKs until the window is acknowledged or all goes quiet. */
		while (rc == 0) {
			int got_one = recv_reply(p, fd, 1000, &r);
			uint16_t delta;
			if (got_one < 0) {
				rc = -1;
				break;
			}
			if (got_one == 0) {
				if (++tries > 5)
					rc = fail(p, "no ACK after block %llu",
						  (unsigned long long)acked);
				break;
			}
			if (r.decoded && r.pkt.opcode == TFTP_ERROR) {
				describe(&r, desc, sizeof(desc));
				if (r.pkt.error_code == want_code) {
					fclose(in);
					close(fd);
					return pass(p,
						    "got %s after block %llu",
						    desc,
						    (unsigned long long)acked);
				}
				rc = fail(p, "got %s after block %llu", desc,
					  (unsigned long long)acked);
				break;
			}
			if (!r.decoded || r.pkt.opcode != TFTP_ACK)
				continue;
			delta = (uint16_t)(r.pkt.block - (uint16_t)acked);
			if (delta == 0 || delta > end - acked)
				continue; /* a repeat or stale */
			acked += delta;
			tries = 0;
			break; /* the next window starts after it */
		}
	}
	fclose(in);
	close(fd);
	if (rc != 0)
		return -1;
	if (want_code != 99)
		return fail(p, "the upload completed; expected ERROR %lu",
			    want_code);
	return pass(p, "%s: %llu bytes in %llu blocks of %u, windowsize %u",
		    how, (unsigned long long)size, (unsigned long long)last,
		    blksize, windowsize);
}

struct scenario {
	const char *name;
	const char *args;
	int min_args, max_args;
	int (*run)(struct probe *, int, char **);
};

static const struct scenario scenarios[] = {
	{"get", "FILE [OUT [MODE]]", 1, 3, sc_get},
	{"truncated", "", 0, 0, sc_raw},
	{"missing-nul", "", 0, 0, sc_raw},
	{"empty-name", "", 0, 0, sc_raw},
	{"long-name", "[LEN]", 0, 1, sc_long_name},
	{"bad-opcode", "", 0, 0, sc_raw},
	{"stray-opcode", "", 0, 0, sc_raw},
	{"error-no-reply", "", 0, 0, sc_raw},
	{"mode-refused", "", 0, 0, sc_raw},
	{"traversal", "[NAME...]", 0, 64, sc_traversal},
	{"wrq", "", 0, 0, sc_raw},
	{"foreign-tid", "FILE [OUT]", 1, 2, sc_foreign_tid},
	{"dup-ack", "FILE [OUT]", 1, 2, sc_dup_ack},
	{"silence", "FILE COPIES [QUIET_MS]", 2, 3, sc_silence},
	{"adaptive", "FILE BLOCKS WINDOW_MS MIN_COPIES", 4, 4, sc_adaptive},
	{"retransmitted-rrq", "FILE [OUT]", 1, 2, sc_retransmitted_rrq},
	{"client-error", "FILE [QUIET_MS]", 1, 2, sc_client_error},
	{"oack", "FILE OUT MODE EXPECT [NAME VALUE]...", 4, 200, sc_oack},
	{"many-options", "FILE OUT COUNT EXPECT [NAME VALUE]...", 4, 200,
	 sc_many_options},
	{"long-request", "LEN", 1, 1, sc_long_request},
	{"oack-error", "FILE QUIET_MS [NAME VALUE]...", 2, 100, sc_oack_error},
	{"oack-silence", "FILE COPIES QUIET_MS [NAME VALUE]...", 3, 100,
	 sc_oack_silence},
	{"window-stray", "FILE OUT WINDOW", 3, 3, sc_window_stray},
	{"window-ack-inside", "FILE OUT", 2, 2, sc_window_ack_inside},
	{"window-dup-ack", "FILE OUT WINDOW", 3, 3, sc_window_dup_ack},
	{"pxe", "FILE OUT SIZE [same-port]", 3, 4, sc_pxe},
	{"repeat-request", "FILE OUT COUNT GAP_MS [NAME VALUE]...", 4, 100,
	 sc_repeat_request},
	{"new-request", "FILE1 FILE2 OUT", 3, 3, sc_new_request},
	{"again", "FILE1 FILE2 OUT ROUNDS [error8 | NAME VALUE...]", 4, 100,
	 sc_again},
	{"backoff", "FILE BLOCKS SPAN_MS MIN_GAP_MS [NAME VALUE]...", 4, 100,
	 sc_backoff},
	{"field", "FILE OUT TIMER_MS DUP_ACKS DROP_BLOCK [NAME VALUE]...", 5,
	 100, sc_field},
	{"gone", "FILE", 1, 1, sc_gone},
	{"backoff-ended", "FILE BLOCKS", 2, 2, sc_backoff_ended},
	{"window-silence", "FILE WINDOW QUIET_MS", 3, 3, sc_window_silence},
	{"amplify", "FILE QUIET_MS CAP_MS [NAME VALUE]...", 3, 100, sc_amplify},
	{"put", "REMOTE LOCAL HOW [NAME VALUE]...", 3, 100, sc_put},
};

static int usage(const char *why)
{
	if (why)
		fprintf(stderr, "probe: %s\n", why);
	fprintf(stderr, "usage: probe HOST PORT SCENARIO [ARGS]\n"
			"  HOST is 127.0.0.1 or ::1 (never another address)\n"
			"  scenarios:\n");
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		fprintf(stderr, "    %s %s\n", scenarios[i].name,
			scenarios[i].args);
	fprintf(stderr, "  the server's root must hold " ALIVE_FILE "\n");
	return PROBE_USAGE;
}

/* The probe sends hostile datagrams: it refuses any address but the
 * loopback, whatever the spelling ("127.1", "::ffff:127.0.0.1"...). */
static int is_loopback(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->sin6.sin6_addr);
	return 0;
}

int main(int argc, char **argv)
{
	static struct probe p;
	const struct scenario *sc = NULL;
	const char *why;
	char *end;
	unsigned long port;
	int nargs;

	if (argc < 4)
		return usage(NULL);
	port = strtoul(argv[2], &end, 10);
	if (*argv[2] == '\0' || *end || port < 1 || port > 65535)
		return usage("PORT must be 1..65535");
	if (net_parse(argv[1], (unsigned)port, &p.server, &why) != 0)
		return usage(why);
	if (!is_loopback(&p.server))
		return usage("HOST must be 127.0.0.1 or ::1");
	net_format(&p.server, p.server_str);
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		if (strcmp(argv[3], scenarios[i].name) == 0)
			sc = &scenarios[i];
	if (!sc)
		return usage("unknown scenario");
	nargs = argc - 4;
	if (nargs < sc->min_args || nargs > sc->max_args)
		return usage("wrong number of arguments for the scenario");
	p.scenario = sc->name;
	if (sc->run(&p, nargs, argv + 4) != 0) {
		printf("FAIL %s %s: %s\n", sc->name, p.server_str, p.diag);
		return PROBE_FAIL;
	}
	printf("PASS %s %s: %s\n", sc->name, p.server_str, p.diag);
	return PROBE_PASS;
}
