/* The child's side of a read request: open the file, then send DATA blocks,
 * wait for each ACK, resend on silence, give up after --retries.  Blocks are
 * counted with 64-bit sequence numbers; the 16-bit block number on the wire
 * is the low half, so a file of more than 65535 blocks rolls over to 0. */
#include "autoconfig.h"

#include "transfer.h"

#include "log.h"
#include "netascii.h"
#include "options.h"
#include "cache.h"
#include "path.h"
#include "rto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Room for a request's file name in log lines. */
#define LOG_NAME_MAX 256

/* Reads the file and produces DATA payloads, converting for netascii. */
struct block_reader {
	int fd;
	enum tftp_mode mode;
	struct netascii_encoder enc;
	int eof;
	size_t stage_pos, stage_len;
	uint8_t stage[8192];
	/* From the shared cache instead of the file, when cached is set: */
	int cached;
	struct cache_ref ref;
	uint64_t offset;     /* next byte of the file to read */
};

/* What the ring knows of each block it holds. */
struct slot_meta {
	size_t len;      /* datagram bytes, header included */
	int niov;        /* payload pieces in the cache (0: in the slot) */
	struct iovec iov[2];
	int64_t sent_us; /* first transmission */
	int resent;      /* sent more than once: no RTT sample (Karn) */
};

struct transfer {
	const struct config *cfg;
	int sock;
	union sockaddr_any client;
	char client_str[NET_ADDRSTRLEN];
	char name[LOG_NAME_MAX];
	const char *mode_name;
	unsigned blksize;    /* bytes of payload in a full DATA block */
	unsigned windowsize; /* blocks sent before waiting for an ACK */
	struct rto rto;      /* how long to wait for a reply before resending */
	int64_t silence_limit_us; /* give up after this long without progress */
	int64_t heard_us;    /* when the client last made progress */
	/* window ring: slot i holds 4 + blksize bytes */
	uint8_t *ring;
	struct slot_meta *meta;
	/* statistics for the summary line */
	uint64_t bytes;       /* payload bytes sent, first transmissions */
	uint64_t blocks;      /* DATA blocks, first transmissions */
	uint64_t retransmits; /* DATA blocks sent again */
	const char *cache_state; /* hit, fill, miss or off */
	struct timespec start;
	uint8_t rxbuf[TFTP_BLKSIZE_MAX + TFTP_DATA_HEADER];
};

static double elapsed(const struct transfer *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->start.tv_sec) +
	       (double)(now.tv_nsec - t->start.tv_nsec) / 1e9;
}

static int64_t now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static void send_error_to(struct transfer *t, const union sockaddr_any *to,
			  uint16_t code, const char *msg)
{
	uint8_t buf[512];
	size_t len = packet_build_error(buf, sizeof(buf), code, msg);

	(void)sendto(t->sock, buf, len, 0, &to->sa, net_len(to));
}

/* The per-transfer summary line (one per transfer, at info level). */
static void summary(struct transfer *t, int priority, const char *outcome)
{
	log_msg(priority,
		"RRQ from %s file \"%s\" mode %s: %s; %llu bytes, %llu blocks, "
		"%llu retransmits, %.3f s; cache %s; blksize %u, windowsize %u",
		t->client_str, t->name, t->mode_name, outcome,
		(unsigned long long)t->bytes, (unsigned long long)t->blocks,
		(unsigned long long)t->retransmits, elapsed(t),
		t->cache_state ? t->cache_state : "off", t->blksize,
		t->windowsize);
}

static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Produce the next block's payload (at most len bytes) into out.  A result
 * shorter than len marks the last block.  Returns bytes, or -1 (errno). */
/* Read up to len bytes of the file from where the reader stands: from the
 * cache (a copy) or the file.  Returns bytes, 0 at the end, -1 (errno). */
static ssize_t source_read(struct block_reader *r, uint8_t *buf, size_t len)
{
	size_t got = 0;

	if (!r->cached)
		return read_full(r->fd, buf, len);
	while (got < len) {
		struct iovec v[2];
		int niov;
		size_t n = cache_iov(&r->ref, r->offset, len - got, v, &niov);
		if (n == 0)
			break;
		for (int i = 0; i < niov; i++) {
			memcpy(buf + got, v[i].iov_base, v[i].iov_len);
			got += v[i].iov_len;
		}
		r->offset += n;
	}
	return (ssize_t)got;
}

static ssize_t reader_next(struct block_reader *r, uint8_t *out, size_t len)
{
	size_t o = 0;

	if (r->mode != TFTP_MODE_NETASCII)
		return read_full(r->fd, out, len);
	while (o < len) {
		size_t used;
		if (r->stage_pos == r->stage_len && !r->eof) {
			ssize_t n = source_read(r, r->stage, sizeof(r->stage));
			if (n < 0)
				return -1;
			r->stage_pos = 0;
			r->stage_len = (size_t)n;
			r->eof = n == 0;
		}
		if (r->stage_pos == r->stage_len &&
		    !netascii_encoder_pending(&r->enc))
			break;
		o += netascii_encode(&r->enc, r->stage + r->stage_pos,
				     r->stage_len - r->stage_pos, &used, out + o,
				     len - o);
		r->stage_pos += used;
	}
	return (ssize_t)o;
}

/* Produce the payload of the next block, at most len bytes, for the slot
 * whose buffer is slot (header first) and whose record is m: straight from
 * the shared cache as iovecs when the file is cached in octet mode (no
 * copy), otherwise into the slot.  A result shorter than len marks the last
 * block.  Returns bytes, or -1 (errno). */
static ssize_t produce(struct block_reader *r, uint8_t *slot, size_t len,
		       struct slot_meta *m)
{
	m->niov = 0;
	if (r->cached && r->mode != TFTP_MODE_NETASCII) {
		size_t n = cache_iov(&r->ref, r->offset, len, m->iov, &m->niov);
		r->offset += n;
		return (ssize_t)n;
	}
	return reader_next(r, slot + TFTP_DATA_HEADER, len);
}

/* Send one DATA block: the header in the slot and the payload beside it,
 * or in up to two pieces of the cache, in one sendmsg. */
static ssize_t send_block(struct transfer *t, uint8_t *slot,
			  const struct slot_meta *m)
{
	struct iovec v[3];
	struct msghdr msg;

	if (m->niov == 0)
		return sendto(t->sock, slot, m->len, 0, &t->client.sa,
			      net_len(&t->client));
	v[0].iov_base = slot;
	v[0].iov_len = TFTP_DATA_HEADER;
	for (int i = 0; i < m->niov; i++)
		v[1 + i] = m->iov[i];
	memset(&msg, 0, sizeof(msg));
	msg.msg_name = &t->client.sa;
	msg.msg_namelen = net_len(&t->client);
	msg.msg_iov = v;
	msg.msg_iovlen = 1 + (size_t)m->niov;
	return sendmsg(t->sock, &msg, 0);
}

enum wait_result {
	WAIT_ACK,     /* an ACK that advances the window */
	WAIT_TIMEOUT, /* silence until the deadline */
	WAIT_END,     /* the client sent ERROR, or something illegal: stop */
	WAIT_FAIL,    /* local error */
};

/* Wait up to the current timeout for an ACK of a block in (acked, sent].  Duplicate
 * and stale ACKs are ignored without resending (RFC 1123 4.2.3.1: no
 * Sorcerer's Apprentice).  A datagram from another address or port gets
 * ERROR 5 and the wait goes on.  On WAIT_ACK, *seq is the acknowledged
 * sequence number. */
static enum wait_result wait_ack(struct transfer *t, uint64_t acked,
				 uint64_t sent, uint64_t *seq,
				 const char **outcome)
{
	int64_t deadline = now_us() + (int64_t)rto_timeout_ms(&t->rto) * 1000;

	for (;;) {
		union sockaddr_any from;
		struct net_recv_info info;
		struct tftp_packet pkt;
		struct pollfd pfd = {.fd = t->sock, .events = POLLIN};
		int64_t left = deadline - now_us();
		const char *why;
		ssize_t n;

		if (left <= 0)
			return WAIT_TIMEOUT;
		n = poll(&pfd, 1, (int)((left + 999) / 1000));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			*outcome = "failed: poll error";
			return WAIT_FAIL;
		}
		if (n == 0)
			return WAIT_TIMEOUT;
		n = net_recv(t->sock, t->rxbuf, sizeof(t->rxbuf), &from, &info);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			*outcome = "failed: receive error";
			return WAIT_FAIL;
		}
		if (!net_same(&from, &t->client)) {
			/* RFC 1350 section 4: a stray TID gets ERROR 5 and
			 * does not disturb the transfer. */
			char who[NET_ADDRSTRLEN];
			log_msg(LOG_INFO, "packet from unknown TID %s during "
				"transfer to %s", net_format(&from, who),
				t->client_str);
			/* Never answer an ERROR: a spoofed one could set two
			 * servers bouncing ERROR 5 at each other. */
			if (n < 2 || t->rxbuf[0] != 0 ||
			    t->rxbuf[1] != TFTP_ERROR)
				send_error_to(t, &from, TFTP_EBADID, NULL);
			continue;
		}
		if (packet_parse_reply(t->rxbuf, (size_t)n, &pkt, &why) != 0) {
			log_msg(LOG_DEBUG, "ignoring bad datagram from %s: %s",
				t->client_str, why);
			continue;
		}
		if (pkt.opcode == TFTP_ERROR) {
			char msg[128];
			log_sanitize(pkt.error_msg, strlen(pkt.error_msg), msg,
				     sizeof(msg));
			static char buf[192];
			snprintf(buf, sizeof(buf),
				 "ended by client: ERROR %u \"%s\"",
				 pkt.error_code, msg);
			*outcome = buf;
			return WAIT_END;
		}
		if (pkt.opcode != TFTP_ACK) {
			send_error_to(t, &t->client, TFTP_EBADOP,
				      "expected an ACK");
			*outcome = "failed: client sent DATA during a read";
			return WAIT_END;
		}
		/* Map the 16-bit block number into the window. */
		uint16_t delta = (uint16_t)(pkt.block - (uint16_t)acked);
		if (delta >= 1 && delta <= sent - acked) {
			*seq = acked + delta;
			return WAIT_ACK;
		}
		if (log_level() >= LOG_V_PACKETS)
			log_msg(LOG_DEBUG, "%s: ignoring ACK %u (acked %llu)",
				t->client_str, pkt.block,
				(unsigned long long)acked);
	}
}

static uint8_t *slot(struct transfer *t, uint64_t seq)
{
	return t->ring + (size_t)(seq % t->windowsize) *
				 (TFTP_DATA_HEADER + t->blksize);
}

/* After a silence: give up once the client has made no progress for as
 * long as the fixed policy would have waited (the timeout, once and then
 * once per retry), however many resends the shorter adaptive timeout made.
 * Otherwise back the timer off.  Returns 1 to give up. */
static int silence(struct transfer *t)
{
	if (now_us() - t->heard_us >= t->silence_limit_us)
		return 1;
	rto_backoff(&t->rto);
	return 0;
}

/* Progress from the client: an RTT sample unless the packet acknowledged
 * was sent more than once (Karn's rule), in which case only the backoff is
 * undone. */
static void progress(struct transfer *t, const struct slot_meta *m)
{
	t->heard_us = now_us();
	if (!m->resent)
		rto_sample(&t->rto, (uint64_t)(t->heard_us - m->sent_us));
	else
		rto_progress(&t->rto);
}

/* Send file blocks until the last one is acknowledged: a window at a time
 * (RFC 7440; a window of 1 is RFC 1350's lockstep).  Returns 0 when the
 * transfer completed, 1 otherwise; *outcome describes the end. */
static int send_file(struct transfer *t, struct block_reader *r,
		     const char **outcome)
{
	uint64_t acked = 0;    /* highest block the client acknowledged */
	uint64_t produced = 0; /* highest block read from the file */
	uint64_t sent = 0;     /* highest block sent so far */
	uint64_t last = 0;     /* the final (short) block, 0 until read */

	for (;;) {
		uint64_t end = acked + t->windowsize;
		if (last && end > last)
			end = last;
		for (uint64_t seq = acked + 1; seq <= end; seq++) {
			uint8_t *b = slot(t, seq);
			struct slot_meta *m = &t->meta[seq % t->windowsize];
			if (seq > produced) {
				ssize_t n = produce(r, b, t->blksize, m);
				if (n < 0) {
					send_error_to(t, &t->client,
						      TFTP_EUNDEF,
						      "read error");
					*outcome = "failed: read error";
					return 1;
				}
				packet_build_data_header(b, (uint16_t)seq);
				m->len = TFTP_DATA_HEADER + (size_t)n;
				produced = seq;
				if ((size_t)n < t->blksize)
					last = end = seq;
			}
			if (seq > sent) {
				sent = seq;
				t->blocks++;
				t->bytes += m->len - TFTP_DATA_HEADER;
				m->sent_us = now_us();
				m->resent = 0;
			} else {
				t->retransmits++;
				m->resent = 1;
			}
			if (send_block(t, b, m) < 0)
				log_msg(LOG_DEBUG, "send to %s: %s",
					t->client_str, strerror(errno));
		}
		uint64_t seq;
		switch (wait_ack(t, acked, sent, &seq, outcome)) {
		case WAIT_ACK:
			if (seq < sent && log_level() >= LOG_V_PACKETS)
				log_msg(LOG_DEBUG, "%s: ACK %llu inside the "
					"window (sent %llu): resending from %llu",
					t->client_str, (unsigned long long)seq,
					(unsigned long long)sent,
					(unsigned long long)seq + 1);
			acked = seq;
			progress(t, &t->meta[seq % t->windowsize]);
			if (last && acked == last) {
				*outcome = "complete";
				return 0;
			}
			break;
		case WAIT_TIMEOUT:
			if (silence(t)) {
				*outcome = "failed: client silent, gave up";
				return 1;
			}
			if (log_level() >= LOG_V_PACKETS)
				log_msg(LOG_DEBUG, "%s: no ACK after block %llu "
					"(acked %llu), resending; timeout now "
					"%u ms", t->client_str,
					(unsigned long long)sent,
					(unsigned long long)acked,
					rto_timeout_ms(&t->rto));
			break;
		case WAIT_END:
			return strncmp(*outcome, "ended", 5) == 0 ? 0 : 1;
		case WAIT_FAIL:
			return 1;
		}
	}
}

/* Before anything is acknowledged: one before block 0, modulo 2^64, so
 * that wait_ack() maps an ACK of block 0 (the OACK's, RFC 2347) to seq 0. */
#define ACKED_NOTHING UINT64_MAX

/* Send the OACK and wait for its ACK (block 0), resending on silence.
 * Returns 0 when acknowledged, 1 when the transfer is over (*outcome says
 * why: the client's ERROR 8 is a normal end, RFC 2347). */
static int send_oack(struct transfer *t, const uint8_t *oack, size_t len,
		     const char **outcome)
{
	struct slot_meta m = {.len = len, .sent_us = now_us(), .resent = 0};
	uint64_t seq;

	for (;;) {
		if (sendto(t->sock, oack, len, 0, &t->client.sa,
			   net_len(&t->client)) < 0)
			log_msg(LOG_DEBUG, "send to %s: %s", t->client_str,
				strerror(errno));
		switch (wait_ack(t, ACKED_NOTHING, 0, &seq, outcome)) {
		case WAIT_ACK:
			progress(t, &m);
			return 0;
		case WAIT_TIMEOUT:
			if (silence(t)) {
				*outcome = "failed: no ACK for the OACK, gave up";
				return 1;
			}
			t->retransmits++;
			m.resent = 1;
			break;
		case WAIT_END:
		case WAIT_FAIL:
			return 1;
		}
	}
}

/* The largest blksize to grant (bytes): --max-block-size, or else what fits
 * the interface's MTU after the IP, UDP and TFTP headers, so no DATA is
 * fragmented (a client asking 65464 on Ethernet gets 1468).  Without an MTU
 * reading, loopback gets the maximum and anything else Ethernet's. */
static unsigned blksize_cap(const struct config *cfg,
			    const struct net_recv_info *origin)
{
	int v6 = origin->local.sa.sa_family == AF_INET6;
	unsigned mtu, cap;

	if (cfg->max_block_size)
		return cfg->max_block_size;
	mtu = net_mtu(origin->ifindex);
	if (mtu == 0)
		mtu = net_is_loopback(&origin->local) ? 65536 : 1500;
	cap = mtu - (v6 ? 40 : 20) - 8 - TFTP_DATA_HEADER;
	/* Never below RFC 1350's own block: asking for more must not get
	 * less than asking for nothing. */
	if (mtu < 576 || cap < TFTP_BLKSIZE_DEFAULT)
		cap = TFTP_BLKSIZE_DEFAULT;
	return cap > TFTP_BLKSIZE_MAX ? TFTP_BLKSIZE_MAX : cap;
}

/* The size of the file in netascii (RFC 2349 tsize for a netascii read):
 * the file is read once through the converter's arithmetic, then rewound.
 * Returns 0, or -1 on a read error. */
static int netascii_file_size(struct block_reader *r, uint64_t *size)
{
	uint64_t total = 0;
	ssize_t n;

	if (r->cached) {
		/* Straight over the shared pages, no copy. */
		struct iovec v[2];
		int niov;
		size_t k;
		for (uint64_t off = 0;
		     (k = cache_iov(&r->ref, off, 65536, v, &niov)) > 0;
		     off += k)
			for (int i = 0; i < niov; i++)
				total += netascii_encoded_size(v[i].iov_base,
							       v[i].iov_len);
		*size = total;
		return 0;
	}
	while ((n = read_full(r->fd, r->stage, sizeof(r->stage))) > 0)
		total += netascii_encoded_size(r->stage, (size_t)n);
	if (n < 0 || lseek(r->fd, 0, SEEK_SET) != 0)
		return -1;
	*size = total;
	return 0;
}

/* Make the transfer's socket: a new port (the server's TID, RFC 1350
 * section 4) on the address the request was sent to; with --port-range, a
 * free port from it, trying them all from a pseudo-random start so
 * concurrent children do not race for the same one.  Returns the socket, or
 * -1 (errno; EADDRINUSE when the range is exhausted). */
static int open_tid_socket(const struct config *cfg,
			   const union sockaddr_any *local)
{
	union sockaddr_any addr = *local;
	unsigned span = cfg->port_low ? cfg->port_high - cfg->port_low + 1 : 1;
	unsigned start = (unsigned)getpid() % span;
	int fd = socket(addr.sa.sa_family, SOCK_DGRAM, 0), on = 1;

	if (fd < 0)
		return -1;
	/* IPv6-only, unless the request came to a dual-stack socket from an
	 * IPv4 client (systemd's BindIPv6Only=both): then the local address
	 * is IPv4-mapped, which an IPv6-only socket cannot bind. */
	if (addr.sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&addr.sin6.sin6_addr))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	for (unsigned i = 0; i < span; i++) {
		uint16_t port = cfg->port_low
					? (uint16_t)(cfg->port_low +
						     (start + i) % span)
					: 0;
		if (addr.sa.sa_family == AF_INET6)
			addr.sin6.sin6_port = htons(port);
		else
			addr.sin.sin_port = htons(port);
		if (bind(fd, &addr.sa, net_len(&addr)) == 0)
			return fd;
		if (errno != EADDRINUSE)
			break;
	}
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Serve from the shared cache when it has the file, or can take it now.
 * Sets r->cached and returns the word for the summary line. */
static const char *use_cache(struct cache *cache, const char *rel,
			     const struct stat *st, struct block_reader *r)
{
	if (!cache)
		return "off";
	switch (cache_acquire(cache, rel, st, &r->ref)) {
	case CACHE_HIT:
		r->cached = 1;
		return "hit";
	case CACHE_FILL:
		/* One pass over the file into shared memory, checked against
		 * the fstat identity afterwards; on any failure, the file. */
		if (cache_fill(&r->ref, r->fd) != 0)
			return "miss";
		r->cached = 1;
		return "fill";
	default:
		return "miss";
	}
}

int transfer_run(const struct config *cfg, struct cache *cache,
		 const struct tftp_request *req, const char *rel,
		 const union sockaddr_any *client,
		 const struct net_recv_info *origin)
{
	static struct transfer t; /* large receive buffer: not on the stack */
	static struct block_reader r;
	const union sockaddr_any *local = &origin->local;
	struct options_limits lim;
	struct options_accepted acc;
	const char *outcome = "failed";
	const char *why;
	struct stat st;
	uint64_t tsize = 0;
	int code, rc = 0;

	memset(&t, 0, sizeof(t));
	clock_gettime(CLOCK_MONOTONIC, &t.start);
	t.cfg = cfg;
	t.client = *client;
	net_format(client, t.client_str);
	log_sanitize(req->filename, req->filename_len, t.name, sizeof(t.name));
	t.mode_name = packet_mode_name(req->mode);
	t.blksize = TFTP_BLKSIZE_DEFAULT;
	t.windowsize = 1;

	t.sock = open_tid_socket(cfg, local);
	if (t.sock < 0) {
		char where[NET_ADDRSTRLEN];
		int saved = errno;
		log_msg(LOG_ERR, "RRQ from %s file \"%s\": cannot bind a "
			"socket on %s: %s", t.client_str, t.name,
			net_format(local, where), strerror(saved));
		/* Say why from somewhere: a socket on any free port. */
		union sockaddr_any any = *local;
		if (any.sa.sa_family == AF_INET6)
			any.sin6.sin6_port = 0;
		else
			any.sin.sin_port = 0;
		t.sock = socket(any.sa.sa_family, SOCK_DGRAM, 0);
		if (t.sock >= 0 && bind(t.sock, &any.sa, net_len(&any)) == 0)
			send_error_to(&t, &t.client, TFTP_EUNDEF,
				      saved == EADDRINUSE
					      ? "no free transfer port"
					      : "cannot open a transfer port");
		return 1;
	}

	r.fd = path_open_read(cfg->root_real, rel, cfg->permissive, &st, &code,
			      &why);
	if (r.fd < 0) {
		send_error_to(&t, &t.client, (uint16_t)code,
			      code == TFTP_ENOTFOUND ? "File not found"
						     : "Access violation");
		log_msg(LOG_INFO, "RRQ from %s file \"%s\" refused: %s "
			"(ERROR %d)", t.client_str, t.name, why, code);
		return 1;
	}
	r.mode = req->mode;
	netascii_encoder_init(&r.enc);
	t.cache_state = use_cache(cache, rel, &st, &r);

	lim.max_blksize = blksize_cap(cfg, origin);
	lim.max_windowsize = cfg->max_window;
	lim.refused = cfg->refused;
	options_negotiate(req, &lim, &acc);
	t.blksize = acc.blksize;
	t.windowsize = acc.windowsize;
	if (acc.present & OPTION_TIMEOUT) /* RFC 2349: the client's, fixed */
		rto_init(&t.rto, acc.timeout * 1000, acc.timeout * 1000);
	else
		rto_init(&t.rto, cfg->timeout_ms, cfg->min_timeout_ms);
	t.silence_limit_us = (int64_t)rto_timeout_ms(&t.rto) * 1000 *
			     (cfg->retries + 1);
	t.heard_us = now_us();
	if (acc.present & OPTION_TSIZE) {
		tsize = (uint64_t)st.st_size;
		/* netascii grows the file: send the converted size, or
		 * nothing rather than a wrong one. */
		if (r.mode == TFTP_MODE_NETASCII &&
		    netascii_file_size(&r, &tsize) != 0)
			acc.present &= ~(unsigned)OPTION_TSIZE;
		/* curl (7.88 at least) rejects "tsize 0" in an OACK and
		 * aborts; leaving tsize out (RFC 2347 lets the server decline
		 * any option) lets every client fetch an empty file. */
		if (tsize == 0)
			acc.present &= ~(unsigned)OPTION_TSIZE;
	}

	t.ring = malloc((size_t)t.windowsize * (TFTP_DATA_HEADER + t.blksize));
	t.meta = calloc(t.windowsize, sizeof(*t.meta));
	if (!t.ring || !t.meta) {
		send_error_to(&t, &t.client, TFTP_EUNDEF, "out of memory");
		summary(&t, LOG_ERR, "failed: out of memory");
		return 1;
	}
	if (acc.present) {
		/* Its own buffer: with a small blksize the OACK can be
		 * longer than a DATA packet. */
		static uint8_t oack[512];
		size_t len = options_build_oack(oack, sizeof(oack), &acc, tsize);
		if (len == 0 || send_oack(&t, oack, len, &outcome) != 0)
			rc = strncmp(outcome, "ended", 5) == 0 ? 0 : 1;
		else
			outcome = NULL;
	} else {
		outcome = NULL;
	}
	if (!outcome)
		rc = send_file(&t, &r, &outcome);
	summary(&t, rc == 0 ? LOG_INFO : LOG_WARNING, outcome);
	free(t.ring);
	free(t.meta);
	if (r.cached)
		cache_release(&r.ref);
	close(r.fd);
	close(t.sock);
	return rc;
}
