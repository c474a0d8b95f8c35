/* The flood tool: many requests or malformed datagrams at once to a running
 * ctftpd on the loopback, to test the listener's limits.  One scenario per
 * run; it prints one line of counts (and a verdict for "mixed"); exit 0
 * pass, 1 fail, 2 usage.  Every wait is a bounded poll().  Clients bind to
 * loopback addresses only, so nothing leaves the host. */
#include "autoconfig.h"

#include "net.h"
#include "packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Clients of one run at most: one socket each. */
#define MAX_CLIENTS 512
/* A "mixed" client that hears nothing for this long resends its request, as
 * a real client does (the burst may overflow the server's receive queue),
 * at most MAX_TRIES times in all. */
#define RESEND_MS 1000
#define MAX_TRIES 10

static union sockaddr_any server;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A socket bound to local (port 0), or -1 with a message. */
static int bound_socket(const union sockaddr_any *local)
{
	union sockaddr_any me = *local;
	int fd = socket(me.sa.sa_family, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("flood: socket");
		return -1;
	}
	net_set_port(&me, 0);
	if (bind(fd, &me.sa, net_len(&me)) != 0) {
		perror("flood: bind");
		close(fd);
		return -1;
	}
	return fd;
}

/* An RRQ for name in octet mode with NAME VALUE option pairs.  Returns the
 * length, 0 when it does not fit. */
static size_t build_rrq(uint8_t *buf, size_t cap, const char *name, int nopt,
			char **opt)
{
	size_t len = 2;

	buf[0] = 0;
	buf[1] = TFTP_RRQ;
	for (int i = -2; i < nopt; i++) {
		const char *s = i == -2 ? name : i == -1 ? "octet" : opt[i];
		size_t n = strlen(s) + 1;
		if (len + n > cap)
			return 0;
		memcpy(buf + len, s, n);
		len += n;
	}
	return len;
}

/* The k-th kind of malformed datagram (k taken modulo the kinds): each is
 * refused or ignored by the listener without a fork.  Returns the length. */
static size_t build_garbage(uint8_t *buf, size_t cap, unsigned k)
{
	static const struct {
		const char *bytes;
		size_t len;
	} kinds[] = {
		{"", 0},			    /* empty */
		{"\0", 1},			    /* one byte */
		{"\0\1", 2},			    /* RRQ without a name */
		{"\0\1name", 6},		    /* no NUL after the name */
		{"\0\1name\0octet", 12},	    /* no NUL after the mode */
		{"\0\11x\0octet\0", 11},	    /* opcode 9 */
		{"\0\1name\0mail\0", 12},	    /* mode mail */
		{"\0\1../etc/passwd\0octet\0", 23}, /* traversal */
		{"\0\1\0octet\0", 9},		    /* empty name */
		{"\0\4\0\1", 4},		    /* stray ACK: no reply */
	};
	unsigned i = k % (sizeof(kinds) / sizeof(kinds[0]));

	if (kinds[i].len > cap)
		return 0;
	memcpy(buf, kinds[i].bytes, kinds[i].len);
	return kinds[i].len;
}

/* The first datagram on fd within wait_ms: 1 with *pkt decoded (or
 * *decoded 0), 0 on silence. */
static int first_reply(int fd, int wait_ms, struct tftp_packet *pkt,
		       uint8_t *buf, size_t cap, int *decoded,
		       union sockaddr_any *from)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	socklen_t alen = sizeof(*from);
	const char *why;
	ssize_t n;

	pkt->opcode = 0;
	if (poll(&pfd, 1, wait_ms) <= 0)
		return 0;
	n = recvfrom(fd, buf, cap, 0, &from->sa, &alen);
	if (n < 0)
		return 0;
	*decoded = packet_parse_reply(buf, (size_t)n, pkt, &why) == 0;
	if (!*decoded && n >= 2 && buf[1] == TFTP_OACK)
		pkt->opcode = TFTP_OACK;
	return 1;
}

/* requests COUNT FILE WAIT_MS [NAME VALUE]...: COUNT RRQs for FILE, each
 * from its own port, back to back, never answered; then the first reply of
 * each port within WAIT_MS is sorted: served (DATA or OACK), busy (ERROR 0),
 * refused (another ERROR), silent. */
static int sc_requests(int argc, char **argv)
{
	static int fds[MAX_CLIENTS];
	static uint8_t buf[65536];
	unsigned served = 0, busy = 0, refused = 0, silent = 0;
	long count = strtol(argv[0], NULL, 10);
	long wait_ms = strtol(argv[2], NULL, 10);
	int64_t deadline;
	size_t len;

	if (count < 1 || count > MAX_CLIENTS || wait_ms < 1 ||
	    wait_ms > 60000 || (argc - 3) % 2) {
		fprintf(stderr,
			"flood: requests COUNT(1..%d) FILE "
			"WAIT_MS(1..60000) [NAME VALUE]...\n",
			MAX_CLIENTS);
		return 2;
	}
	len = build_rrq(buf, sizeof(buf), argv[1], argc - 3, argv + 3);
	for (long i = 0; i < count; i++) {
		fds[i] = bound_socket(&server);
		if (fds[i] < 0)
			return 1;
		if (sendto(fds[i], buf, len, 0, &server.sa, net_len(&server)) !=
		    (ssize_t)len) {
			perror("flood: sendto");
			return 1;
		}
	}
	deadline = now_ms() + wait_ms;
	for (long i = 0; i < count; i++) {
		struct tftp_packet pkt;
		union sockaddr_any from;
		int64_t left = deadline - now_ms();
		int decoded = 0;

		if (!first_reply(fds[i], left > 0 ? (int)left : 0, &pkt, buf,
				 sizeof(buf), &decoded, &from))
			silent++;
		else if (pkt.opcode == TFTP_OACK ||
			 (decoded && pkt.opcode == TFTP_DATA))
			served++;
		else if (decoded && pkt.opcode == TFTP_ERROR &&
			 pkt.error_code == TFTP_EUNDEF)
			busy++;
		else
			refused++;
		close(fds[i]);
	}
	printf("served=%u busy=%u refused=%u silent=%u\n", served, busy,
	       refused, silent);
	return 0;
}

/* garbage COUNT WAIT_MS: COUNT malformed datagrams of every kind from one
 * port, back to back; then count the replies that come within WAIT_MS of
 * the last one sent.  Prints the time it all took (ms), for a bound on the
 * replies a rate allows. */
static int sc_garbage(int argc, char **argv)
{
	static uint8_t buf[65536];
	long count = strtol(argv[0], NULL, 10);
	long wait_ms = strtol(argv[1], NULL, 10);
	unsigned replies = 0;
	int64_t deadline, start = now_ms();
	int fd;

	(void)argc;
	if (count < 1 || count > 1000000 || wait_ms < 1 || wait_ms > 60000) {
		fprintf(stderr, "flood: garbage COUNT WAIT_MS\n");
		return 2;
	}
	fd = bound_socket(&server);
	if (fd < 0)
		return 1;
	for (long i = 0; i < count; i++) {
		size_t len = build_garbage(buf, sizeof(buf), (unsigned)i);
		(void)sendto(fd, buf, len, 0, &server.sa, net_len(&server));
		/* Read as we go, so that our own receive queue does not
		 * overflow and hide replies. */
		while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
			replies++;
	}
	deadline = now_ms() + wait_ms;
	for (;;) {
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int64_t left = deadline - now_ms();
		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		if (recv(fd, buf, sizeof(buf), 0) >= 0)
			replies++;
	}
	close(fd);
	printf("sent=%ld replies=%u ms=%lld\n", count, replies,
	       (long long)(now_ms() - start));
	return 0;
}

/* One client of "mixed": a lockstep download of the whole file. */
struct client {
	int fd;
	union sockaddr_any tid;
	int have_tid, done, tries;
	uint16_t expected;
	int64_t last_ms;
	size_t rrq_len;
};

static int client_send_rrq(struct client *c, const uint8_t *rrq)
{
	c->tries++;
	c->last_ms = now_ms();
	return sendto(c->fd, rrq, c->rrq_len, 0, &server.sa, net_len(&server)) <
			       0
		       ? -1
		       : 0;
}

/* Take one datagram for client c; ACK a DATA in order.  Returns -1 when
 * the transfer failed (an ERROR), 0 otherwise. */
static int client_take(struct client *c)
{
	static uint8_t buf[65536];
	union sockaddr_any from;
	socklen_t alen = sizeof(from);
	struct tftp_packet pkt;
	const char *why;
	uint8_t ack[4];
	ssize_t n = recvfrom(c->fd, buf, sizeof(buf), MSG_DONTWAIT, &from.sa,
			     &alen);

	if (n < 0 || packet_parse_reply(buf, (size_t)n, &pkt, &why) != 0)
		return 0;
	if (pkt.opcode == TFTP_ERROR) {
		fprintf(stderr, "flood: a valid request got ERROR %u\n",
			pkt.error_code);
		return -1;
	}
	if (pkt.opcode != TFTP_DATA)
		return 0;
	if (!c->have_tid) {
		c->tid = from;
		c->have_tid = 1;
	} else if (!net_same(&c->tid, &from)) {
		return 0;
	}
	c->last_ms = now_ms();
	if (pkt.block == c->expected) {
		c->expected++;
		if (pkt.data_len < TFTP_BLKSIZE_DEFAULT)
			c->done = 1;
	}
	(void)sendto(c->fd, ack, packet_build_ack(ack, pkt.block), 0, &from.sa,
		     net_len(&from));
	return 0;
}

/* Serve every pending datagram of the clients without waiting. */
static void clients_poll(struct client *cl, int n, int wait_ms)
{
	static struct pollfd pfd[MAX_CLIENTS];

	for (int i = 0; i < n; i++) {
		pfd[i].fd = cl[i].done || cl[i].tries < 0 ? -1 : cl[i].fd;
		pfd[i].events = POLLIN;
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, wait_ms) <= 0)
		return;
	for (int i = 0; i < n; i++)
		if (pfd[i].revents && client_take(&cl[i]) != 0)
			cl[i].tries = -1; /* failed: no more resends */
}

/* mixed COUNT EVERY FILE: IPv4 only.  COUNT datagrams back to back: every
 * EVERY-th an RRQ for FILE (octet, 512-byte blocks) from its own client on
 * 127.0.0.2, 127.0.0.3, ... (so no two share a source address), the rest
 * malformed ones of every kind from one port on the server's address.
 * Every client then downloads FILE to its end, resending its request after
 * RESEND_MS of silence as a real client would.  Passes when all complete. */
static int sc_mixed(int argc, char **argv)
{
	static struct client cl[MAX_CLIENTS];
	static uint8_t buf[65536], rrq[600];
	long count = strtol(argv[0], NULL, 10);
	long every = strtol(argv[1], NULL, 10);
	int nclients = 0, complete = 0, junk;
	long garbage = 0;
	int64_t deadline;
	size_t rrq_len;

	(void)argc;
	if (server.sa.sa_family != AF_INET || count < 1 || count > 1000000 ||
	    every < 1 || count / every > MAX_CLIENTS) {
		fprintf(stderr,
			"flood: mixed COUNT EVERY FILE (IPv4; at most "
			"%d valid requests)\n",
			MAX_CLIENTS);
		return 2;
	}
	rrq_len = build_rrq(rrq, sizeof(rrq), argv[2], 0, argv + 3);
	junk = bound_socket(&server);
	if (junk < 0 || rrq_len == 0)
		return 1;
	for (long i = 1; i <= count; i++) {
		if (i % every == 0) {
			struct client *c = &cl[nclients];
			union sockaddr_any me = server;
			/* 127.0.0.2 upwards: loopback, a source of its own */
			me.sin.sin_addr.s_addr =
				htonl(0x7f000002u + (uint32_t)nclients);
			memset(c, 0, sizeof(*c));
			c->expected = 1;
			c->rrq_len = rrq_len;
			c->fd = bound_socket(&me);
			if (c->fd < 0 || client_send_rrq(c, rrq) != 0)
				return 1;
			nclients++;
		} else {
			size_t len = build_garbage(buf, sizeof(buf),
						   (unsigned)garbage++);
			(void)sendto(junk, buf, len, 0, &server.sa,
				     net_len(&server));
		}
		if (i % 64 == 0) {
			clients_poll(cl, nclients, 0);
			while (recv(junk, buf, sizeof(buf), MSG_DONTWAIT) >= 0)
				;
		}
	}
	close(junk);
	deadline = now_ms() + (int64_t)MAX_TRIES * RESEND_MS + 5000;
	while (now_ms() < deadline) {
		int open = 0;
		clients_poll(cl, nclients, 50);
		for (int i = 0; i < nclients; i++) {
			struct client *c = &cl[i];
			if (c->done || c->tries < 0)
				continue;
			open++;
			/* Before the first DATA only: after it, the server's
			 * own timer resends. */
			if (!c->have_tid &&
			    now_ms() - c->last_ms >= RESEND_MS &&
			    c->tries < MAX_TRIES)
				(void)client_send_rrq(c, rrq);
		}
		if (!open)
			break;
	}
	for (int i = 0; i < nclients; i++) {
		complete += cl[i].done;
		close(cl[i].fd);
	}
	printf("%s: valid=%d complete=%d garbage=%ld\n",
	       complete == nclients ? "PASS" : "FAIL", nclients, complete,
	       garbage);
	return complete == nclients ? 0 : 1;
}

int main(int argc, char **argv)
{
	const char *why;
	char *end;
	unsigned long port;

	if (argc < 4) {
		fprintf(stderr,
			"usage: flood HOST PORT requests COUNT FILE "
			"WAIT_MS [NAME VALUE]...\n"
			"       flood HOST PORT garbage COUNT WAIT_MS\n"
			"       flood HOST PORT mixed COUNT EVERY FILE\n");
		return 2;
	}
	port = strtoul(argv[2], &end, 10);
	if (*end || port < 1 || port > 65535 ||
	    net_parse(argv[1], (unsigned)port, &server, &why) != 0) {
		fprintf(stderr, "flood: bad address %s port %s\n", argv[1],
			argv[2]);
		return 2;
	}
	if (!net_is_loopback(&server)) {
		fprintf(stderr, "flood: %s is not a loopback address\n",
			argv[1]);
		return 2;
	}
	if (strcmp(argv[3], "requests") == 0 && argc >= 7)
		return sc_requests(argc - 4, argv + 4);
	if (strcmp(argv[3], "garbage") == 0 && argc == 6)
		return sc_garbage(argc - 4, argv + 4);
	if (strcmp(argv[3], "mixed") == 0 && argc == 7)
		return sc_mixed(argc - 4, argv + 4);
	fprintf(stderr, "flood: unknown scenario or wrong arguments\n");
	return 2;
}
