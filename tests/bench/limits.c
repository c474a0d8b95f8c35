/* The ceilings a TFTP server is measured against, on this machine, now:
 *   limits fork N
 *	N times fork(), _exit(0) in the child, waitpid() in the parent: the
 *	least a fork-per-transfer server pays per request.  Built static where
 *	the C library allows it (a static program has the fewest mappings to
 *	copy), and dynamic beside it.
 *   limits udp BLKSIZE WINDOW BYTES [FILE]
 *	Two processes on the loopback exchange BYTES in datagrams of
 *	4 + BLKSIZE bytes, WINDOW of them, then a 4-byte reply, as a windowed
 *	TFTP transfer does (RFC 7440), with no file and no protocol logic.
 *	The payloads come from one buffer that stays in the CPU's caches, or
 *	with FILE from that file, mapped read-only and walked in order (from
 *	its start again at its end), as a server sends a file from the page
 *	cache: its pages are mapped, and not in the CPU's caches.
 *   limits many C BLKSIZE BYTES procs|one
 *	C transfers at once, each BYTES in lockstep datagrams of 4 + BLKSIZE
 *	bytes, each waited for by a 4-byte reply; the receivers are two
 *	processes sharing the C sockets (as tftpbench -c C -j 2).  The senders
 *	are C processes, one per transfer (procs: what a fork-per-transfer
 *	server is), or one process polling all C sockets (one: an event-loop
 *	server).  Adds the senders' CPU.
 *   limits forkxfer N BYTES
 *	The floor of a fork-per-transfer server: N requests one after the
 *	other, each answered by a child forked for it, from a socket of its
 *	own (its TID, connected to the client), with BYTES in 512-byte
 *	datagrams in lockstep, each waited for by a 4-byte reply, as an RFC
 *	1350 RRQ; then the child exits and the parent reaps it.  No file, no
 *	options, no log, no limits: what no such server can beat.  Adds the
 *	server's CPU per request (its children included).
 * One key=value line out; exit 0, 1 on failure, 2 on a usage error. */
#include "autoconfig.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
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

/* Payload bytes of block k (from 1) of a transfer of bytes in blocks of
 * blksize: the last one, bytes % blksize, is short (perhaps empty). */
static size_t block_len(uint64_t k, unsigned long long blksize,
			unsigned long long bytes)
{
	return k < bytes / blksize + 1 ? (size_t)blksize
				       : (size_t)(bytes % blksize);
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

/* The CPU time (s) of the children reaped so far, and theirs. */
static double children_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_CHILDREN, &ru) != 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
	       ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) /
		       1e6;
}

/* A buffer of span bytes whose every page is the process's own (no page is
 * the shared zero page).  NULL on error. */
static unsigned char *source_buffer(size_t span)
{
	unsigned char *b = malloc(span);

	if (b)
		for (size_t i = 0; i < span; i++)
			b[i] = (unsigned char)(i * 131u + (i >> 12));
	return b;
}

/* The payloads of udp's datagrams: the whole blocks of the file open on fd,
 * mapped (*nspan of them, at least one), or with fd -1 one block of a
 * buffer.  NULL on error. */
static unsigned char *udp_source(int fd, size_t blksize, size_t *nspan)
{
	struct stat st;
	void *p;

	*nspan = 1;
	if (fd < 0)
		return source_buffer(blksize);
	if (fstat(fd, &st) != 0)
		return NULL;
	if ((size_t)st.st_size < blksize) {
		errno = 0; /* shorter than a block */
		return NULL;
	}
	*nspan = (size_t)st.st_size / blksize;
	p = mmap(NULL, *nspan * blksize, PROT_READ, MAP_SHARED, fd, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int udp_rate(unsigned long long blksize, unsigned long long window,
		    unsigned long long bytes, const char *file)
{
	uint64_t nblocks = bytes / blksize + 1, acked = 0, lost = 0;
	size_t room = (size_t)(window * (blksize + 64) * 2), nspan;
	int ffd = file ? open(file, O_RDONLY) : -1;
	unsigned char *src = file && ffd < 0
				     ? NULL
				     : udp_source(ffd, (size_t)blksize, &nspan);
	struct iovec iov[2];
	unsigned char hdr[4];
	struct sockaddr_in ra, sa;
	unsigned char reply[4];
	int rfd = udp_socket(room, NULL, &ra), sfd, status;
	struct pollfd pfd;
	double t0, secs;
	pid_t pid;

	if (!src) {
		if (file)
			fprintf(stderr, "limits: %s: %s\n", file,
				errno ? strerror(errno)
				      : "shorter than a block");
		else
			perror("limits: buffer");
		return 1;
	}
	if (rfd < 0 || (sfd = udp_socket(room, &ra, &sa)) < 0 ||
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
			size_t n = block_len(k, blksize, bytes);
			struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

			if (ffd >= 0 && k > 1 && (k - 1) % nspan == 0) {
				/* The file again: mapped anew, as a new
				 * transfer of it is. */
				munmap(src, nspan * (size_t)blksize);
				if (!(src = udp_source(ffd, (size_t)blksize,
						       &nspan)))
					return 1;
			}
			put32(hdr, (uint32_t)k);
			iov[0].iov_base = hdr;
			iov[0].iov_len = 4;
			iov[1].iov_base = src + (size_t)((k - 1) % nspan) *
							(size_t)blksize;
			iov[1].iov_len = n;
			if (sendmsg(sfd, &msg, 0) < 0 && errno != ENOBUFS) {
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
	       "source=%s seconds=%.6f MBps=%.3f lost=%llu\n",
	       blksize, window, bytes, file ? "file" : "buffer", secs,
	       (double)bytes / secs / 1e6, (unsigned long long)lost);
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
		if (pfd[1].revents) {
			/* Reap all: their CPU counts as the server's. */
			while (waitpid(-1, NULL, 0) > 0)
				;
			return 0;
		}
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
	       "rate=%.1f us_per=%.2f server_cpu_us_per=%.2f\n",
	       LIMITS_STATIC ? "static" : "dynamic", n, bytes, secs,
	       (double)n / secs, secs / (double)n * 1e6,
	       children_cpu_s() / (double)n * 1e6);
	return 0;
fail:
	fprintf(stderr, "limits: forkxfer: no answer\n");
	close(ctl[1]);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return 1;
}

/* ---- many: C lockstep transfers at once ---- */

/* One sender's state in many. */
struct many_flow {
	int fd;
	uint32_t block; /* the block in flight, from 1 */
	int done;
};

/* Send flow f's current block (the last one short: BYTES % BLKSIZE). */
static int many_send(struct many_flow *f, const unsigned char *pkt,
		     unsigned long long blksize, unsigned long long bytes)
{
	size_t n = block_len(f->block, blksize, bytes);
	unsigned char hdr[4];
	struct iovec iov[2] = {{hdr, 4}, {(void *)pkt, n}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};

	put32(hdr, f->block);
	return sendmsg(f->fd, &msg, 0) < 0 && errno != ENOBUFS ? -1 : 0;
}

/* A reply came on flow f: the next block, or done after the last. */
static int many_acked(struct many_flow *f, const unsigned char *pkt,
		      unsigned long long blksize, unsigned long long bytes)
{
	unsigned char reply[4];

	if (recv(f->fd, reply, sizeof(reply), 0) != 4 ||
	    get32(reply) != f->block)
		return 0;
	if (f->block == bytes / blksize + 1) {
		f->done = 1;
		return 0;
	}
	f->block++;
	return many_send(f, pkt, blksize, bytes);
}

/* The senders of flows[0..n): one process polling them all.  Returns the
 * exit status. */
static int many_one(struct many_flow *flows, unsigned n,
		    const unsigned char *pkt, unsigned long long blksize,
		    unsigned long long bytes)
{
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	unsigned left = n;

	if (!pfd)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		pfd[i].fd = flows[i].fd;
		pfd[i].events = POLLIN;
		if (many_send(&flows[i], pkt, blksize, bytes) != 0)
			return 1;
	}
	while (left) {
		int r = poll(pfd, n, REPLY_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return 1;
		for (unsigned i = 0; i < n; i++) {
			if (flows[i].done)
				continue;
			if (r == 0) { /* silence: resend what is in flight */
				if (many_send(&flows[i], pkt, blksize, bytes))
					return 1;
				continue;
			}
			if (!(pfd[i].revents & POLLIN))
				continue;
			if (many_acked(&flows[i], pkt, blksize, bytes) != 0)
				return 1;
			if (flows[i].done) {
				pfd[i].fd = -1;
				left--;
			}
		}
	}
	return 0;
}

/* The receivers of flows[0..n): reply to each datagram with its number;
 * done when every flow has had its short block, then answer repeats until
 * the senders go quiet. */
static int many_receive(const int *fds, unsigned n, unsigned long long blksize)
{
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	uint32_t *next = calloc(n, sizeof(*next));
	unsigned char *buf = malloc(blksize + 5);
	unsigned left = n;

	if (!pfd || !next || !buf)
		return 1;
	for (unsigned i = 0; i < n; i++) {
		pfd[i].fd = fds[i];
		pfd[i].events = POLLIN;
		next[i] = 1;
	}
	for (;;) {
		int r = poll(pfd, n, left ? 10000 : 2 * REPLY_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 || left ? 1 : 0;
		for (unsigned i = 0; i < n; i++) {
			ssize_t got;

			if (!(pfd[i].revents & POLLIN))
				continue;
			got = recv(fds[i], buf, blksize + 5, 0);
			if (got < 4)
				continue;
			if (get32(buf) == next[i]) {
				next[i]++;
				if ((size_t)got < blksize + 4)
					left--;
			}
			send(fds[i], buf, 4, 0);
		}
	}
}

/* many: C transfers at once; the senders in procs mode or one. */
static int many_rate(unsigned long long c, unsigned long long blksize,
		     unsigned long long bytes, int procs)
{
	struct many_flow *flows = calloc(c, sizeof(*flows));
	int *cfds = calloc(c, sizeof(*cfds)), status, failed = 0;
	unsigned char *pkt = source_buffer((size_t)blksize);
	pid_t recv_pid[2], send_pid;
	double t0, secs, cpu0;

	if (!flows || !cfds || !pkt) {
		perror("limits: many");
		return 1;
	}
	for (unsigned long long i = 0; i < c; i++) {
		struct sockaddr_in sa, ca;

		if ((cfds[i] = udp_socket(0, NULL, &ca)) < 0 ||
		    (flows[i].fd = udp_socket(0, &ca, &sa)) < 0 ||
		    connect(cfds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			perror("limits: socket");
			return 1;
		}
		flows[i].block = 1;
	}
	/* The receivers: two processes, half the flows each. */
	for (int k = 0; k < 2; k++) {
		unsigned lo = (unsigned)(c * (unsigned)k / 2),
			 hi = (unsigned)(c * (unsigned)(k + 1) / 2);

		recv_pid[k] = fork();
		if (recv_pid[k] < 0) {
			perror("limits: fork");
			return 1;
		}
		if (recv_pid[k] == 0)
			_exit(many_receive(cfds + lo, hi - lo, blksize));
	}
	t0 = now_s();
	send_pid = fork();
	if (send_pid < 0) {
		perror("limits: fork");
		return 1;
	}
	if (send_pid == 0) {
		if (!procs)
			_exit(many_one(flows, (unsigned)c, pkt, blksize,
				       bytes));
		/* procs: a process per flow, reaped here. */
		for (unsigned long long i = 0; i < c; i++) {
			pid_t pid = fork();

			if (pid < 0)
				_exit(1);
			if (pid == 0)
				_exit(many_one(&flows[i], 1, pkt, blksize,
					       bytes));
		}
		while (wait(&status) > 0)
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				failed = 1;
		_exit(failed);
	}
	/* The end is when the senders are done (each has had its last
	 * reply); the receivers linger 2 x REPLY_MS for repeats, and are
	 * reaped after, so that the CPU counted is the senders'. */
	cpu0 = children_cpu_s();
	if (waitpid(send_pid, &status, 0) != send_pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		failed = 1;
	secs = now_s() - t0;
	cpu0 = children_cpu_s() - cpu0;
	for (int k = 0; k < 2; k++)
		if (waitpid(recv_pid[k], &status, 0) != recv_pid[k] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed = 1;
	if (failed) {
		fprintf(stderr, "limits: many: a transfer failed\n");
		return 1;
	}
	printf("limits op=many mode=%s clients=%llu blksize=%llu bytes=%llu "
	       "seconds=%.6f MBps=%.3f server_cpu_s=%.6f\n",
	       procs ? "procs" : "one", c, blksize, c * bytes, secs,
	       (double)(c * bytes) / secs / 1e6, cpu0);
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: limits fork N\n"
			"       limits udp BLKSIZE WINDOW BYTES [FILE]\n"
			"       limits many C BLKSIZE BYTES procs|one\n"
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
	if ((argc == 5 || argc == 6) && strcmp(argv[1], "udp") == 0) {
		if (parse_ull(argv[2], 8, 65464, &a) != 0 ||
		    parse_ull(argv[3], 1, 65535, &b) != 0 ||
		    parse_ull(argv[4], 1, 1ull << 40, &c) != 0)
			return usage();
		return udp_rate(a, b, c, argc == 6 ? argv[5] : NULL);
	}
	if (argc == 6 && strcmp(argv[1], "many") == 0) {
		if (parse_ull(argv[2], 1, 10000, &a) != 0 ||
		    parse_ull(argv[3], 8, 65464, &b) != 0 ||
		    parse_ull(argv[4], 1, 1ull << 34, &c) != 0 ||
		    (strcmp(argv[5], "procs") != 0 &&
		     strcmp(argv[5], "one") != 0))
			return usage();
		return many_rate(a, b, c, strcmp(argv[5], "procs") == 0);
	}
	if (argc == 4 && strcmp(argv[1], "forkxfer") == 0) {
		if (parse_ull(argv[2], 1, 100000000, &a) != 0 ||
		    parse_ull(argv[3], 0, 1ull << 24, &b) != 0)
			return usage();
		return forkxfer_rate(a, b);
	}
	return usage();
}
