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

enum { PROBE_PASS = 0, PROBE_FAIL = 1, PROBE_USAGE = 2 };

struct probe {
	union sockaddr_any server; /* the listening address and port */
	char server_str[NET_ADDRSTRLEN];
	char diag[1024]; /* the one-line verdict's text */
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
		snprintf(out, cap, "ERROR %u \"%s\" from %s",
			 r->pkt.error_code, msg, who);
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
		r->decoded = packet_parse_reply(r->buf, r->len, &r->pkt,
						&why) == 0;
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
	if (!r.decoded || r.pkt.opcode != TFTP_ERROR ||
	    r.pkt.error_code > 15 || !(want & (1u << r.pkt.error_code)))
		return fail(p, "%s: expected an ERROR with code mask 0x%x, got "
			    "%s", what, want, desc);
	if (from_listener ? !net_same(&r.from, &p->server)
			  : !from_server_host(p, &r))
		return fail(p, "%s: %s, expected it from %s", what, desc,
			    p->server_str);
	return r.pkt.error_code;
}

/* A download in lockstep (RFC 1350): DATA n, ACK n.  The pieces are separate
 * so scenarios can act between receiving a block and acknowledging it. */
struct download {
	int fd;
	const char *name;
	union sockaddr_any tid; /* the server's port for this transfer */
	int have_tid;
	uint16_t expected;      /* next block number wanted (wraps like the wire) */
	uint16_t last_block;    /* the newest block received */
	int done;               /* the short last block arrived */
	unsigned acks;          /* ACKs sent per block: 2 provokes an apprentice */
	int strict;             /* any repeated DATA is a failure */
	uint64_t blocks, bytes; /* new blocks and their payload */
	uint64_t datagrams;     /* every DATA received, repeats included */
	uint64_t repeats;       /* DATA for a block already received */
	FILE *out;              /* the payload goes here when not NULL */
};

static void download_init(struct download *d, int fd, const char *name)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	d->name = name;
	d->expected = 1;
	d->acks = 1;
}

static int send_rrq(struct probe *p, int fd, const char *name,
		    const char *mode)
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

static int download_ack(struct probe *p, struct download *d)
{
	for (unsigned i = 0; i < d->acks; i++)
		if (send_ack(p, d->fd, &d->tid, d->last_block) != 0)
			return -1;
	return 0;
}

/* Take one reply into the download.  Returns 1 for a new block (not yet
 * acknowledged), 0 for a repeat (answered as RFC 1350 asks: ACK it again,
 * since our ACK may have been lost), -1 on a failure. */
static int download_take(struct probe *p, struct download *d,
			 const struct reply *r)
{
	char desc[256];

	describe(r, desc, sizeof(desc));
	if (!from_server_host(p, r))
		return fail(p, "%s: %s: not from the server's address", d->name,
			    desc);
	if (!r->decoded || r->pkt.opcode != TFTP_DATA)
		return fail(p, "%s: expected DATA %u, got %s", d->name,
			    d->expected, desc);
	if (!d->have_tid) {
		if (r->pkt.block != 1)
			return fail(p, "%s: first reply is %s, not block 1",
				    d->name, desc);
		d->tid = r->from;
		d->have_tid = 1;
	} else if (!net_same(&r->from, &d->tid)) {
		return fail(p, "%s: %s: a second transfer port answered",
			    d->name, desc);
	}
	if (r->pkt.data_len > TFTP_BLKSIZE_DEFAULT)
		return fail(p, "%s: %s: larger than the %d-byte block size",
			    d->name, desc, TFTP_BLKSIZE_DEFAULT);
	d->datagrams++;
	if (d->blocks > 0 && r->pkt.block == d->last_block) {
		d->repeats++;
		if (d->strict)
			return fail(p, "%s: %s received twice (%llu DATA for "
				    "%llu blocks): a block was sent again "
				    "without a timeout (Sorcerer's Apprentice "
				    "if we had ACKed twice)", d->name, desc,
				    (unsigned long long)d->datagrams,
				    (unsigned long long)d->blocks);
		return send_ack(p, d->fd, &d->tid, r->pkt.block) == 0 ? 0 : -1;
	}
	if (d->done || r->pkt.block != d->expected)
		return fail(p, "%s: %s, expected block %u%s", d->name, desc,
			    d->expected, d->done ? " (after the last)" : "");
	if (d->out && r->pkt.data_len > 0 &&
	    fwrite(r->pkt.data, 1, r->pkt.data_len, d->out) != r->pkt.data_len)
		return fail(p, "%s: write: %s", d->name, strerror(errno));
	d->last_block = r->pkt.block;
	d->expected++;
	d->blocks++;
	d->bytes += r->pkt.data_len;
	d->done = r->pkt.data_len < TFTP_BLKSIZE_DEFAULT;
	return 1;
}

/* Receive the next new block (repeats are handled on the way).  Returns 0,
 * or -1 with the diagnosis set. */
static int download_next(struct probe *p, struct download *d)
{
	static struct reply r;

	for (;;) {
		int rc = recv_reply(p, d->fd, REPLY_MS, &r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return fail(p, "%s: no DATA %u within %d ms (%llu "
				    "blocks, %llu bytes so far)", d->name,
				    d->expected, REPLY_MS,
				    (unsigned long long)d->blocks,
				    (unsigned long long)d->bytes);
		rc = download_take(p, d, &r);
		if (rc != 0)
			return rc > 0 ? 0 : -1;
	}
}

/* Acknowledge and receive until the last block has been acknowledged. */
static int download_finish(struct probe *p, struct download *d)
{
	for (;;) {
		if (download_ack(p, d) != 0)
			return -1;
		if (d->done)
			return 0;
		if (download_next(p, d) != 0)
			return -1;
	}
}

/* Listen for linger_ms after the end: a strict download counts any DATA that
 * still comes (the last block resent after our ACK is an apprentice, too). */
static int download_linger(struct probe *p, struct download *d, int linger_ms)
{
	static struct reply r;
	int64_t end = now_ms() + linger_ms;
	int64_t left;

	while ((left = end - now_ms()) > 0) {
		int rc = recv_reply(p, d->fd, (int)left, &r);
		if (rc <= 0)
			return rc;
		if (download_take(p, d, &r) < 0)
			return -1;
	}
	return 0;
}

/* A whole download of name on a fresh socket.  Returns 0 or -1. */
static int download_file(struct probe *p, const char *name, const char *mode,
			 FILE *out, uint64_t *bytes)
{
	struct download d;
	int fd = client_socket(p), rc;

	if (fd < 0)
		return fail(p, "client socket: %s", strerror(errno));
	download_init(&d, fd, name);
	d.out = out;
	rc = send_rrq(p, fd, name, mode);
	if (rc == 0)
		rc = download_next(p, &d);
	if (rc == 0)
		rc = download_finish(p, &d);
	close(fd);
	if (bytes)
		*bytes = d.bytes;
	return rc;
}

/* After hostile input: the server must still serve a normal request. */
static int still_serves(struct probe *p, const char *after)
{
	uint64_t bytes;
	char why[sizeof(p->diag)];

	if (download_file(p, ALIVE_FILE, "octet", NULL, &bytes) != 0) {
		memcpy(why, p->diag, sizeof(why));
		return fail(p, "after %s the server no longer serves: %s",
			    after, why);
	}
	return 0;
}

/* Open OUT for a download's bytes, or NULL when no OUT was given. */
static int open_out(struct probe *p, int argc, char **argv, int idx,
		    FILE **out)
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

/* ---- scenarios ---------------------------------------------------------- */

/* get FILE [OUT [MODE]]: a normal download. */
static int sc_get(struct probe *p, int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "octet";
	uint64_t bytes = 0;
	FILE *out;
	int rc;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	rc = download_file(p, argv[0], mode, out, &bytes);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p, "%s (%s): %llu bytes", argv[0], mode,
		    (unsigned long long)bytes);
}

struct raw_case {
	const char *what;
	const uint8_t *bytes;
	size_t len;
};

/* Each datagram must get ERROR (code in want) from the listening port, and
 * the server must still serve afterwards. */
static int expect_refusals(struct probe *p, const struct raw_case *cases,
			   size_t n, unsigned want, const char *summary)
{
	for (size_t i = 0; i < n; i++)
		if (expect_error(p, cases[i].bytes, cases[i].len, want, 1,
				 cases[i].what) < 0)
			return -1;
	if (still_serves(p, summary) != 0)
		return -1;
	return pass(p, "%zu %s answered with ERROR from %s; server still "
		    "serves " ALIVE_FILE, n, summary, p->server_str);
}

#define RAW(what, lit) {what, (const uint8_t *)(lit), sizeof(lit) - 1}

static int sc_truncated(struct probe *p, int argc, char **argv)
{
	/* A server that reads the opcode, a name or a mode without checking
	 * the length reads past the datagram. */
	static const struct raw_case cases[] = {
		RAW("1-byte datagram", "\0"),
		RAW("opcode only (RRQ)", "\0\1"),
		RAW("opcode only (WRQ)", "\0\2"),
		RAW("RRQ with a name and no NUL", "\0\1hello.txt"),
	};

	(void)argc;
	(void)argv;
	return expect_refusals(p, cases, sizeof(cases) / sizeof(cases[0]),
			       1u << TFTP_EBADOP, "truncated datagrams");
}

static int sc_missing_nul(struct probe *p, int argc, char **argv)
{
	static const struct raw_case cases[] = {
		RAW("file name without NUL", "\0\1hello.txt"),
		RAW("name and mode run together", "\0\1hello.txtoctet\0"),
		RAW("mode without NUL", "\0\1hello.txt\0octet"),
		RAW("no mode at all", "\0\1hello.txt\0"),
		RAW("empty mode", "\0\1hello.txt\0\0"),
	};

	(void)argc;
	(void)argv;
	return expect_refusals(p, cases, sizeof(cases) / sizeof(cases[0]),
			       1u << TFTP_EBADOP, "requests missing a NUL");
}

static int sc_bad_opcode(struct probe *p, int argc, char **argv)
{
	static const struct raw_case cases[] = {
		RAW("opcode 0", "\0\0hello.txt\0octet\0"),
		RAW("opcode 7", "\0\7hello.txt\0octet\0"),
		RAW("opcode 99", "\0\x63hello.txt\0octet\0"),
		RAW("opcode 0x0101", "\1\1hello.txt\0octet\0"),
		RAW("opcode 0xffff", "\xff\xff"),
	};

	(void)argc;
	(void)argv;
	return expect_refusals(p, cases, sizeof(cases) / sizeof(cases[0]),
			       1u << TFTP_EBADOP, "unknown opcodes");
}

/* Send each case to the listening port, then an RRQ from the same socket:
 * nothing may answer the cases.  The listener handles datagrams in order, so
 * an answer to any case would reach this socket before the DATA of the
 * request sent after them: no fixed wait is needed to see it. */
static int expect_no_reply(struct probe *p, const struct raw_case *cases,
			   size_t ncases, const char *what)
{
	static struct reply r;
	struct download d;
	char desc[256];
	int fd = client_socket(p), rc = 0;

	if (fd < 0)
		return fail(p, "client socket: %s", strerror(errno));
	for (size_t i = 0; rc == 0 && i < ncases; i++)
		rc = send_to(p, fd, &p->server, cases[i].bytes, cases[i].len);
	if (rc == 0)
		rc = send_rrq(p, fd, ALIVE_FILE, "octet");
	if (rc == 0) {
		rc = recv_reply(p, fd, REPLY_MS, &r);
		if (rc == 0)
			rc = fail(p, "no DATA for the RRQ sent after the %s "
				  "within %d ms", what, REPLY_MS);
		else if (rc > 0 && net_same(&r.from, &p->server))
			rc = fail(p, "the listening port answered: %s",
				  describe(&r, desc, sizeof(desc)));
	}
	if (rc >= 0) {
		download_init(&d, fd, ALIVE_FILE);
		rc = download_take(p, &d, &r) < 0 ? -1 : 0;
		if (rc == 0)
			rc = download_finish(p, &d);
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

static int sc_stray_opcode(struct probe *p, int argc, char **argv)
{
	/* DATA, ACK and OACK belong on a transfer's port.  On the listening
	 * port they are strays (typically a client's ACK of an ERROR we sent
	 * from there): the listener drops them, since answering would feed an
	 * endless exchange with a confused or spoofed peer. */
	static const struct raw_case cases[] = {
		RAW("DATA to the listening port", "\0\3\0\1some data"),
		RAW("ACK to the listening port", "\0\4\0\1"),
		RAW("OACK to the listening port", "\0\6blksize\0001024\0"),
	};

	(void)argc;
	(void)argv;
	return expect_no_reply(p, cases, sizeof(cases) / sizeof(cases[0]),
			       "DATA/ACK/OACK datagrams");
}

static int sc_mode_refused(struct probe *p, int argc, char **argv)
{
	/* "mail" is obsolete (RFC 1350 section 1); an unknown mode must not
	 * fall back to octet silently. */
	static const struct raw_case cases[] = {
		RAW("mode mail", "\0\1hello.txt\0mail\0"),
		RAW("mode MAIL", "\0\1hello.txt\0MAIL\0"),
		RAW("mode foo", "\0\1hello.txt\0foo\0"),
		RAW("mode octet with a trailing space", "\0\1hello.txt\0octet \0"),
	};

	(void)argc;
	(void)argv;
	return expect_refusals(p, cases, sizeof(cases) / sizeof(cases[0]),
			       1u << TFTP_EBADOP, "refused modes");
}

static int sc_wrq(struct probe *p, int argc, char **argv)
{
	static const struct raw_case cases[] = {
		RAW("WRQ for an existing file", "\0\2hello.txt\0octet\0"),
		RAW("WRQ for a new file", "\0\2probe-new.bin\0octet\0"),
		RAW("WRQ in netascii", "\0\2probe-new.txt\0netascii\0"),
	};

	(void)argc;
	(void)argv;
	return expect_refusals(p, cases, sizeof(cases) / sizeof(cases[0]),
			       1u << TFTP_EACCESS, "write requests");
}

static int sc_empty_name(struct probe *p, int argc, char **argv)
{
	/* "/" and "./" normalise to nothing: the root directory itself. */
	static const struct raw_case cases[] = {
		RAW("empty file name", "\0\1\0octet\0"),
		RAW("file name \"/\"", "\0\1/\0octet\0"),
		RAW("file name \"./\"", "\0\1./\0octet\0"),
	};
	int code;

	(void)argc;
	(void)argv;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* The root directory may be refused by the listener or by the
		 * transfer once it sees a directory: any port will do. */
		code = expect_error(p, cases[i].bytes, cases[i].len,
				    1u << TFTP_EACCESS, i == 0, cases[i].what);
		if (code < 0)
			return -1;
	}
	if (still_serves(p, "empty file names") != 0)
		return -1;
	return pass(p, "empty file names refused with ERROR 2; server still "
		    "serves " ALIVE_FILE);
}

/* long-name [LEN]: a name of LEN (600) bytes is simply not found. */
static int sc_long_name(struct probe *p, int argc, char **argv)
{
	static uint8_t req[8192];
	char *end;
	unsigned long n = argc > 0 ? strtoul(argv[0], &end, 10) : 600;
	size_t len;

	if (argc > 0 && (*end || n < 1 || n > 4000))
		return fail(p, "LEN must be 1..4000");
	req[0] = 0;
	req[1] = TFTP_RRQ;
	memset(req + 2, 'a', n);
	req[2 + n] = '\0';
	memcpy(req + 3 + n, "octet", 6);
	len = 3 + n + 6;
	if (expect_error(p, req, len, 1u << TFTP_ENOTFOUND, 0,
			 "long file name") < 0)
		return -1;
	if (still_serves(p, "a long file name") != 0)
		return -1;
	return pass(p, "a %lu-byte file name got ERROR 1; server still serves "
		    ALIVE_FILE, n);
}

/* traversal [NAME...]: each name must be refused (ERROR 1 or 2), never
 * served. */
static int sc_traversal(struct probe *p, int argc, char **argv)
{
	static const char *const builtin[] = {
		"../etc/passwd", "a/../../x", "/../x", "..", "../",
		"./../hello.txt", "//../x", "../../../../../../../etc/passwd",
	};
	const char *const *names = (const char *const *)argv;
	size_t n = (size_t)argc;
	char what[300];

	if (argc == 0) {
		names = builtin;
		n = sizeof(builtin) / sizeof(builtin[0]);
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t req[1024];
		size_t len = build_request(req, sizeof(req), TFTP_RRQ,
					   names[i], "octet");
		if (len == 0)
			return fail(p, "name %zu too long for the probe", i);
		snprintf(what, sizeof(what), "RRQ \"%s\"", names[i]);
		/* A symlink out of the root passes the listener's lexical
		 * check and is refused by the transfer: any port. */
		if (expect_error(p, req, len,
				 1u << TFTP_ENOTFOUND | 1u << TFTP_EACCESS, 0,
				 what) < 0)
			return -1;
	}
	if (still_serves(p, "traversal attempts") != 0)
		return -1;
	return pass(p, "%zu traversal names refused with ERROR 1 or 2", n);
}

/* error-no-reply: an ERROR to the listening port must not be answered, or two
 * servers (or a spoofed source) could bounce ERRORs forever. */
static int sc_error_no_reply(struct probe *p, int argc, char **argv)
{
	static const struct raw_case cases[] = {
		RAW("ERROR 0 with a message", "\0\5\0\0probe says hi\0"),
		RAW("ERROR 4 with a message", "\0\5\0\4Illegal TFTP operation\0"),
		RAW("ERROR 5 without a NUL", "\0\5\0\5no nul"),
		RAW("ERROR with no code", "\0\5"),
		RAW("ERROR with half a code", "\0\5\0"),
	};

	(void)argc;
	(void)argv;
	return expect_no_reply(p, cases, sizeof(cases) / sizeof(cases[0]),
			       "ERRORs");
}

/* foreign-tid FILE [OUT]: during a transfer a second socket sends an ACK to
 * the transfer's port.  RFC 1350 section 4: it gets ERROR 5 and the transfer
 * goes on undisturbed. */
static int sc_foreign_tid(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	struct download d;
	char desc[256], tid[NET_ADDRSTRLEN];
	int fd, intruder, rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	fd = client_socket(p);
	intruder = client_socket(p);
	if (fd < 0 || intruder < 0) {
		rc = fail(p, "client socket: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		if (intruder >= 0)
			close(intruder);
		return close_out(p, out, "", rc);
	}
	download_init(&d, fd, argv[0]);
	d.out = out;
	rc = send_rrq(p, fd, argv[0], "octet");
	if (rc == 0)
		rc = download_next(p, &d);
	/* The intruder acknowledges block 1 before the real client does. */
	if (rc == 0)
		rc = send_ack(p, intruder, &d.tid, 1);
	if (rc == 0) {
		rc = recv_reply(p, intruder, REPLY_MS, &r);
		if (rc > 0)
			describe(&r, desc, sizeof(desc));
		if (rc == 0)
			rc = fail(p, "no ERROR 5 for the foreign ACK within "
				  "%d ms", REPLY_MS);
		else if (rc > 0 && (!r.decoded || r.pkt.opcode != TFTP_ERROR ||
				    r.pkt.error_code != TFTP_EBADID))
			rc = fail(p, "the foreign port got %s, expected ERROR "
				  "5", desc);
		else if (rc > 0 && !net_same(&r.from, &d.tid))
			rc = fail(p, "ERROR 5 came from %s, not the transfer "
				  "port %s", desc, net_format(&d.tid, tid));
		else if (rc > 0)
			rc = 0;
	}
	/* The foreign ACK must not have advanced the transfer: nothing but a
	 * resend of block 1 may reach the real client before its own ACK.
	 * The transfer has answered the intruder already, so a DATA 2 caused
	 * by the intruder's ACK was sent before that ERROR and is queued here
	 * by now: a short poll suffices. */
	if (rc == 0) {
		rc = recv_reply(p, fd, 200, &r);
		if (rc > 0 && (!r.decoded || r.pkt.opcode != TFTP_DATA ||
			       r.pkt.block != 1))
			rc = fail(p, "the foreign ACK moved the transfer: the "
				  "client got %s", describe(&r, desc,
							     sizeof(desc)));
		else if (rc > 0)
			rc = download_take(p, &d, &r) < 0 ? -1 : 0;
	}
	if (rc == 0)
		rc = download_finish(p, &d);
	/* The intruder hears nothing more. */
	if (rc == 0 && recv_reply(p, intruder, 200, &r) > 0)
		rc = fail(p, "the foreign port got a second reply: %s",
			  describe(&r, desc, sizeof(desc)));
	close(fd);
	close(intruder);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p, "foreign ACK got ERROR 5 from %s; %s: %llu bytes in "
		    "%llu blocks delivered", net_format(&d.tid, tid), argv[0],
		    (unsigned long long)d.bytes, (unsigned long long)d.blocks);
}

/* dup-ack FILE [OUT]: every block acknowledged twice.  A server that sends
 * the next block for each ACK it gets sends every block twice from then on
 * (the Sorcerer's Apprentice, RFC 1123 section 4.2.3.1). */
static int sc_dup_ack(struct probe *p, int argc, char **argv)
{
	struct download d;
	int fd, rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	fd = client_socket(p);
	if (fd < 0)
		return close_out(p, out, "",
				 fail(p, "client socket: %s", strerror(errno)));
	download_init(&d, fd, argv[0]);
	d.out = out;
	d.acks = 2;
	d.strict = 1;
	rc = send_rrq(p, fd, argv[0], "octet");
	if (rc == 0)
		rc = download_next(p, &d);
	if (rc == 0)
		rc = download_finish(p, &d);
	/* A repeat of the last block would come at once; a resend after a
	 * lost ACK (there is none on the loopback) only after the server's
	 * timeout, which this wait covers for the default of 1 s. */
	if (rc == 0)
		rc = download_linger(p, &d, COLLECT_MS);
	close(fd);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	if (d.blocks < 2)
		return fail(p, "%s has one block: no duplicate ACK was tested",
			    argv[0]);
	return pass(p, "%s: every block ACKed twice; %llu DATA for %llu "
		    "blocks, %llu bytes", argv[0],
		    (unsigned long long)d.datagrams,
		    (unsigned long long)d.blocks, (unsigned long long)d.bytes);
}

/* Count DATA 1 copies from one port until quiet_ms pass with nothing, at most
 * cap_ms in all.  Any other datagram is reported in *other. */
static int count_copies(struct probe *p, int fd, const union sockaddr_any *tid,
			int quiet_ms, int cap_ms, unsigned *copies,
			char *other, size_t othercap)
{
	static struct reply r;
	int64_t cap_end = now_ms() + cap_ms;

	for (;;) {
		int64_t left = cap_end - now_ms();
		int rc;
		if (left <= 0)
			return fail(p, "the server was still sending after "
				    "%d ms (%u copies of DATA 1)", cap_ms,
				    *copies);
		rc = recv_reply(p, fd, (int)(left < quiet_ms ? left : quiet_ms),
				&r);
		if (rc < 0)
			return -1;
		if (rc == 0)
			return left < quiet_ms ? fail(p, "the server was still "
				"sending after %d ms (%u copies of DATA 1)",
				cap_ms, *copies) : 0;
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
	struct download d;
	char *end, other[256] = "";
	unsigned long want = strtoul(argv[1], &end, 10), quiet = QUIET_MS;
	unsigned copies = 1;
	int fd, rc;

	if (*end || want < 1 || want > 200)
		return fail(p, "COPIES must be 1..200");
	if (argc > 2) {
		quiet = strtoul(argv[2], &end, 10);
		if (*end || quiet < 100 || quiet > 60000)
			return fail(p, "QUIET_MS must be 100..60000");
	}
	fd = client_socket(p);
	if (fd < 0)
		return fail(p, "client socket: %s", strerror(errno));
	download_init(&d, fd, argv[0]);
	rc = send_rrq(p, fd, argv[0], "octet");
	if (rc == 0)
		rc = download_next(p, &d);
	if (rc == 0 && d.done)
		rc = fail(p, "%s fits in one block: use a bigger file",
			  argv[0]);
	/* Bounded in all by the copies we expect, each at most a quiet period
	 * apart, plus one more period to see that nothing follows. */
	if (rc == 0)
		rc = count_copies(p, fd, &d.tid, (int)quiet,
				  (int)((want + 2) * quiet), &copies, other,
				  sizeof(other));
	close(fd);
	if (rc != 0)
		return -1;
	if (copies != want)
		return fail(p, "%u copies of DATA 1 while silent, expected %lu "
			    "(the first and %lu resends)", copies, want,
			    want - 1);
	return pass(p, "%u copies of DATA 1, then nothing for %lu ms%s%s",
		    copies, quiet, other[0] ? "; then " : "", other);
}

/* retransmitted-rrq FILE [OUT]: the same RRQ twice from one port, back to
 * back, as a client whose first request seemed lost sends it.  Exactly one
 * transfer may answer (two would race over the same client port). */
static int sc_retransmitted_rrq(struct probe *p, int argc, char **argv)
{
	static struct reply r;
	union sockaddr_any tids[8];
	unsigned ntids = 0, copies = 0;
	struct download d;
	char desc[256], me[NET_ADDRSTRLEN];
	union sockaddr_any self;
	socklen_t slen = sizeof(self);
	int64_t end;
	int fd, rc;
	FILE *out;

	if (open_out(p, argc, argv, 1, &out) != 0)
		return -1;
	fd = client_socket(p);
	if (fd < 0)
		return close_out(p, out, "",
				 fail(p, "client socket: %s", strerror(errno)));
	download_init(&d, fd, argv[0]);
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
			rc = download_take(p, &d, &r) < 0 ? -1 : 0;
	}
	if (rc == 0 && ntids != 1)
		rc = fail(p, "%u transfer ports answered the repeated RRQ "
			  "with DATA 1 (%u copies in %d ms)", ntids, copies,
			  COLLECT_MS);
	if (rc == 0)
		rc = download_finish(p, &d);
	close(fd);
	rc = close_out(p, out, argc > 1 ? argv[1] : "", rc);
	if (rc != 0)
		return -1;
	return pass(p, "one transfer port answered (%u copies of DATA 1 in "
		    "%d ms); %llu bytes received; client %s", copies,
		    COLLECT_MS, (unsigned long long)d.bytes,
		    net_format(&self, me));
}

/* client-error FILE [QUIET_MS]: take two blocks, then send ERROR instead of
 * the second ACK.  The transfer must end at once: no resend, no more DATA. */
static int sc_client_error(struct probe *p, int argc, char **argv)
{
	static const uint8_t abort_msg[] = "\0\5\0\0probe abort";
	static struct reply r;
	struct download d;
	char *end, desc[256];
	unsigned long quiet = QUIET_MS;
	int fd, rc;

	if (argc > 1) {
		quiet = strtoul(argv[1], &end, 10);
		if (*end || quiet < 100 || quiet > 60000)
			return fail(p, "QUIET_MS must be 100..60000");
	}
	fd = client_socket(p);
	if (fd < 0)
		return fail(p, "client socket: %s", strerror(errno));
	download_init(&d, fd, argv[0]);
	rc = send_rrq(p, fd, argv[0], "octet");
	if (rc == 0)
		rc = download_next(p, &d);
	if (rc == 0 && d.done)
		rc = fail(p, "%s fits in one block: use a bigger file",
			  argv[0]);
	if (rc == 0)
		rc = download_ack(p, &d);
	if (rc == 0)
		rc = download_next(p, &d);
	if (rc == 0)
		rc = send_to(p, fd, &d.tid, abort_msg, sizeof(abort_msg));
	/* Longer than the server's resend timeout, so a server that ignored
	 * the ERROR would have resent block 2 by the end. */
	if (rc == 0) {
		rc = recv_reply(p, fd, (int)quiet, &r);
		if (rc > 0)
			rc = fail(p, "after our ERROR the server sent %s",
				  describe(&r, desc, sizeof(desc)));
	}
	close(fd);
	if (rc != 0)
		return -1;
	return pass(p, "ERROR after block 2 of %s: the server sent nothing "
		    "more for %lu ms", argv[0], quiet);
}

struct scenario {
	const char *name;
	const char *args;
	int min_args, max_args;
	int (*run)(struct probe *, int, char **);
};

static const struct scenario scenarios[] = {
	{"get", "FILE [OUT [MODE]]", 1, 3, sc_get},
	{"truncated", "", 0, 0, sc_truncated},
	{"missing-nul", "", 0, 0, sc_missing_nul},
	{"empty-name", "", 0, 0, sc_empty_name},
	{"long-name", "[LEN]", 0, 1, sc_long_name},
	{"bad-opcode", "", 0, 0, sc_bad_opcode},
	{"stray-opcode", "", 0, 0, sc_stray_opcode},
	{"error-no-reply", "", 0, 0, sc_error_no_reply},
	{"mode-refused", "", 0, 0, sc_mode_refused},
	{"traversal", "[NAME...]", 0, 64, sc_traversal},
	{"wrq", "", 0, 0, sc_wrq},
	{"foreign-tid", "FILE [OUT]", 1, 2, sc_foreign_tid},
	{"dup-ack", "FILE [OUT]", 1, 2, sc_dup_ack},
	{"silence", "FILE COPIES [QUIET_MS]", 2, 3, sc_silence},
	{"retransmitted-rrq", "FILE [OUT]", 1, 2, sc_retransmitted_rrq},
	{"client-error", "FILE [QUIET_MS]", 1, 2, sc_client_error},
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
	if (sc->run(&p, nargs, argv + 4) != 0) {
		printf("FAIL %s %s: %s\n", sc->name, p.server_str, p.diag);
		return PROBE_FAIL;
	}
	printf("PASS %s %s: %s\n", sc->name, p.server_str, p.diag);
	return PROBE_PASS;
}
