/* The ceilings a TFTP server is measured against, on this machine, now:
 *   limits fork N
 *	N times fork(), _exit(0) in the child, waitpid() in the parent: the
 *	least a fork-per-transfer server pays per request.  Built static where
 *	the C library allows it (a static program has the fewest mappings to
 *	copy), and dynamic beside it.
 *   limits udp BLKSIZE WINDOW BYTES
 *	Two processes on the loopback exchange BYTES in datagrams of
 *	4 + BLKSIZE bytes, WINDOW of them, then a 4-byte reply, as a windowed
 *	TFTP transfer does (RFC 7440), with no file and no protocol logic.
 *   limits forkxfer N BYTES
 *	The floor of a fork-per-transfer server: N requests one after the
 *	other, each answered by a child forked for it, from a socket of its
 *	own (its TID, connected to the client), with BYTES in 512-byte
 *	datagrams in lockstep, each waited for by a 4-byte reply, as an RFC
 *	1350 RRQ; then the child exits and the parent reaps it.  No file, no
 *	options, no log, no limits: what no such server can beat.
 * One key=value line out; exit 0, 1 on failure, 2 on a usage error. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef LIMITS_STATIC
#define LIMITS_STATIC 0
#endif

/* How long the receiver waits for the rest of a window before it reports
 * what it has, and the sender for a reply before it resends (ms).  Both
 * matter only when the kernel drops a datagram for want of buffer room. */
#define GAP_MS 50
#define REPLY_MS 200

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_ull(const char *s, unsigned long long lo,
		     unsigned long long hi, unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	return *s && !*end && !errno && *out >= lo && *out <= hi ? 0 : -1;
}

static int fork_rate(unsigned long long n)
{
	double t0 = now_s(), secs;

	for (unsigned long long i = 0; i < n; i++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("limits: fork");
			return 1;
		}
		if (pid == 0)
			_exit(0);
		if (waitpid(pid, NULL, 0) != pid) {
			perror("limits: waitpid");
			return 1;
		}
	}
	secs = now_s() - t0;
	printf("limits op=fork linkage=%s n=%llu seconds=%.6f rate=%.1f "
	       "us_per=%.2f\n",
	       LIMITS_STATIC ? "static" : "dynamic", n, secs, (double)n / secs,
	       secs / (double)n * 1e6);
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* Room in a socket buffer for two windows, never less than the system's
 * default (the kernel caps it at its maximum). */
static void size_buffer(int fd, int opt, size_t room)
{
	int have = 0, v = room > (size_t)1 << 30 ? 1 << 30 : (int)room;
	socklen_t len = sizeof(have);

	if (getsockopt(fd, SOL_SOCKET, opt, &have, &len) == 0 && have >= v)
		return;
	setsockopt(fd, SOL_SOCKET, opt, &v, sizeof(v));
}

/* A socket on 127.0.0.1 with room for two windows, connected to peer when
 * given; its own address in *self. */
static int udp_socket(size_t room, const struct sockaddr_in *peer,
		      struct sockaddr_in *self)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	socklen_t len = sizeof(*self);

	if (fd < 0)
		return -1;
	size_buffer(fd, SO_RCVBUF, room);
	size_buffer(fd, SO_SNDBUF, room);
	memset(self, 0, sizeof(*self));
	self->sin_family = AF_INET;
	self->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)self, sizeof(*self)) != 0 ||
	    getsockname(fd, (struct sockaddr *)self, &len) != 0 ||
	    (peer &&
	     connect(fd, (const struct sockaddr *)peer, sizeof(*peer)) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The receiving process: count datagrams in order; after WINDOW of them,
 * the last one (shorter than 4 + BLKSIZE), or a gap in time, reply with the
 * sequence number of the last datagram received in order. */
static int udp_receiver(int fd, size_t blksize, unsigned window)
{
	unsigned char *buf = malloc(blksize + 5);
	uint32_t next = 1;
	unsigned got = 0;
	unsigned char reply[4];
	struct pollfd pfd = {fd, POLLIN, 0};

	if (!buf)
		return 1;
	for (;;) {
		int r = poll(&pfd, 1, got ? GAP_MS : 10000);
		ssize_t n;
		int last = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		if (r == 0 && !got)
			return 1; /* the sender is gone */
		if (r > 0) {
			n = recv(fd, buf, blksize + 5, 0);
			if (n < 4)
				continue;
			if (get32(buf) != next)
				continue;
			next++;
			last = (size_t)n < blksize + 4;
			if (++got < window && !last)
				continue;
		}
		put32(reply, next - 1);
		send(fd, reply, sizeof(reply), 0);
		got = 0;
		if (last) {
			/* The reply to the last datagram may be lost too:
			 * answer repeats until the sender goes quiet. */
			while (poll(&pfd, 1, 2 * REPLY_MS) > 0 &&
			       recv(fd, buf, blksize + 5, 0) >= 0)
				send(fd, reply, sizeof(reply), 0);
			return 0;
		}
	}
}

static int udp_rate(unsigned long long blksize, unsigned long long window,
		    unsigned long long bytes)
{
	uint64_t nblocks = bytes / blksize + 1, acked = 0, lost = 0;
	size_t room = (size_t)(window * (blksize + 64) * 2);
	struct sockaddr_in ra, sa;
	unsigned char *pkt = calloc(1, blksize + 4), reply[4];
	int rfd = udp_socket(room, NULL, &ra), sfd, status;
	struct pollfd pfd;
	double t0, secs;
	pid_t pid;

	if (!pkt || rfd < 0 || (sfd = udp_socket(room, &ra, &sa)) < 0 ||
	    connect(rfd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("limits: socket");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("limits: fork");
		return 1;
	}
	if (pid == 0) {
		close(sfd);
		_exit(udp_receiver(rfd, (size_t)blksize, (unsigned)window));
	}
	close(rfd);
	pfd.fd = sfd;
	pfd.events = POLLIN;
	t0 = now_s();
	while (acked < nblocks) {
		uint64_t end =
			acked + window < nblocks ? acked + window : nblocks;

		for (uint64_t k = acked + 1; k <= end; k++) {
			size_t n = k < nblocks ? (size_t)blksize
					       : (size_t)(bytes % blksize);

			put32(pkt, (uint32_t)k);
			if (send(sfd, pkt, 4 + n, 0) < 0 && errno != ENOBUFS) {
				perror("limits: send");
				return 1;
			}
		}
		for (;;) {
			int r = poll(&pfd, 1, REPLY_MS);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				lost++;
				break;
			}
			if (recv(sfd, reply, sizeof(reply), 0) == 4 &&
			    get32(reply) > acked) {
				acked = get32(reply);
				if (acked < end)
					lost++;
				break;
			}
		}
	}
	secs = now_s() - t0;
	close(sfd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "limits: the receiver failed\n");
		return 1;
	}
	printf("limits op=udp blksize=%llu windowsize=%llu bytes=%llu "
	       "seconds=%.6f MBps=%.3f lost=%llu\n",
	       blksize, window, bytes, secs, (double)bytes / secs / 1e6,
	       (unsigned long long)lost);
	return 0;
}

/* The child of forkxfer_server: BYTES of pkt in lockstep to the client at
 * peer, from a socket of its own.  Returns the exit status. */
static int forkxfer_child(const struct sockaddr_in *peer, socklen_t peerlen,
			  unsigned char *pkt, unsigned long long bytes)
{
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct pollfd pfd = {fd, POLLIN, 0};
	unsigned char reply[4];

	if (fd < 0 || connect(fd, (const struct sockaddr *)peer, peerlen) != 0)
		return 1;
	for (uint32_t k = 1;; k++) {
		unsigned long long off = (unsigned long long)(k - 1) * 512;
		size_t n = bytes - off < 512 ? (size_t)(bytes - off) : 512;

		put32(pkt, k);
		if (send(fd, pkt, 4 + n, 0) < 0 || poll(&pfd, 1, 1000) != 1 ||
		    recv(fd, reply, sizeof(reply), 0) != 4 || get32(reply) != k)
			return 1;
		if (n < 512)
			return 0;
	}
}

/* The server side of forkxfer: a child per request, reaped as they end,
 * until the client closes the control pipe (ctl). */
static int forkxfer_server(int fd, int ctl, unsigned long long bytes)
{
	unsigned char *pkt = calloc(1, 4 + 512), req[512];
	struct pollfd pfd[2] = {{fd, POLLIN, 0}, {ctl, POLLIN, 0}};

	if (!pkt)
		return 1;
	for (;;) {
		struct sockaddr_in peer;
		socklen_t peerlen = sizeof(peer);
		pid_t pid;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		if (pfd[1].revents)
			return 0;
		if (recvfrom(fd, req, sizeof(req), 0, (struct sockaddr *)&peer,
			     &peerlen) < 0)
			continue;
		pid = fork();
		if (pid == 0)
			_exit(forkxfer_child(&peer, peerlen, pkt, bytes));
	}
}

/* forkxfer: the client here, the server in a child process; N requests,
 * each read to its short block, one after the other. */
static int forkxfer_rate(unsigned long long n, unsigned long long bytes)
{
	struct sockaddr_in sa, ca, from;
	socklen_t fromlen;
	unsigned char buf[4 + 512 + 1], ack[4] = {0, 0, 0, 0};
	int sfd = udp_socket(0, NULL, &sa), cfd = udp_socket(0, NULL, &ca);
	int ctl[2], status;
	struct pollfd pfd;
	double t0, secs;
	pid_t pid;

	if (sfd < 0 || cfd < 0 || pipe(ctl) != 0) {
		perror("limits: socket");
		return 1;
	}
	pid = fork();
	if (pid < 0) {
		perror("limits: fork");
		return 1;
	}
	if (pid == 0) {
		close(cfd);
		close(ctl[1]);
		_exit(forkxfer_server(sfd, ctl[0], bytes));
	}
	close(sfd);
	close(ctl[0]);
	pfd.fd = cfd;
	pfd.events = POLLIN;
	t0 = now_s();
	for (unsigned long long i = 0; i < n; i++) {
		uint32_t next = 1;
		ssize_t got;

		if (sendto(cfd, "\0\1f\0octet", 11, 0, (struct sockaddr *)&sa,
			   sizeof(sa)) != 11)
			goto fail;
		do {
			fromlen = sizeof(from);
			if (poll(&pfd, 1, 2000) != 1 ||
			    (got = recvfrom(cfd, buf, sizeof(buf), 0,
					    (struct sockaddr *)&from,
					    &fromlen)) < 4 ||
			    get32(buf) != next)
				goto fail;
			put32(ack, next++);
			if (sendto(cfd, ack, sizeof(ack), 0,
				   (struct sockaddr *)&from, fromlen) != 4)
				goto fail;
		} while (got == 4 + 512);
	}
	secs = now_s() - t0;
	close(ctl[1]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "limits: the forking server failed\n");
		return 1;
	}
	printf("limits op=forkxfer linkage=%s n=%llu bytes=%llu seconds=%.6f "
	       "rate=%.1f us_per=%.2f\n",
	       LIMITS_STATIC ? "static" : "dynamic", n, bytes, secs,
	       (double)n / secs, secs / (double)n * 1e6);
	return 0;
fail:
	fprintf(stderr, "limits: forkxfer: no answer\n");
	close(ctl[1]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: limits fork N\n"
			"       limits udp BLKSIZE WINDOW BYTES\n"
			"       limits forkxfer N BYTES\n");
	return 2;
}

int main(int argc, char **argv)
{
	unsigned long long a, b, c;

	if (argc == 3 && strcmp(argv[1], "fork") == 0) {
		if (parse_ull(argv[2], 1, 100000000, &a) != 0)
			return usage();
		return fork_rate(a);
	}
	if (argc == 5 && strcmp(argv[1], "udp") == 0) {
		if (parse_ull(argv[2], 8, 65464, &a) != 0 ||
		    parse_ull(argv[3], 1, 65535, &b) != 0 ||
		    parse_ull(argv[4], 1, 1ull << 40, &c) != 0)
			return usage();
		return udp_rate(a, b, c);
	}
	if (argc == 4 && strcmp(argv[1], "forkxfer") == 0) {
		if (parse_ull(argv[2], 1, 100000000, &a) != 0 ||
		    parse_ull(argv[3], 0, 1ull << 24, &b) != 0)
			return usage();
		return forkxfer_rate(a, b);
	}
	return usage();
}
