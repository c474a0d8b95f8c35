/* Socket address helpers and the recvmsg that learns a request's local
 * address, so a multi-homed host answers from the address it was asked on. */
/* glibc declares RFC 3542's struct in6_pktinfo only with _GNU_SOURCE. */
#define _GNU_SOURCE 1
#include "autoconfig.h"

#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_SIOCGIFMTU
#include <sys/ioctl.h>
#endif

char *net_format(const union sockaddr_any *a, char *buf)
{
	char host[INET6_ADDRSTRLEN];

	if (a->sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &a->sin6.sin6_addr, host, sizeof(host));
		snprintf(buf, NET_ADDRSTRLEN, "[%s]:%u", host,
			 ntohs(a->sin6.sin6_port));
	} else if (a->sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &a->sin.sin_addr, host, sizeof(host));
		snprintf(buf, NET_ADDRSTRLEN, "%s:%u", host,
			 ntohs(a->sin.sin_port));
	} else {
		snprintf(buf, NET_ADDRSTRLEN, "(family %d)", a->sa.sa_family);
	}
	return buf;
}

socklen_t net_len(const union sockaddr_any *a)
{
	return a->sa.sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					   : sizeof(struct sockaddr_in);
}

int net_same(const union sockaddr_any *a, const union sockaddr_any *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return 0;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_port == b->sin.sin_port &&
		       a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->sin6.sin6_port == b->sin6.sin6_port &&
		       memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr,
			      sizeof(a->sin6.sin6_addr)) == 0 &&
		       a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
	return 0;
}

void net_host_key(const union sockaddr_any *a, uint8_t key[16])
{
	memset(key, 0, 16);
	if (a->sa.sa_family == AF_INET6) {
		memcpy(key, &a->sin6.sin6_addr, 16);
	} else if (a->sa.sa_family == AF_INET) {
		key[10] = 0xff;
		key[11] = 0xff;
		memcpy(key + 12, &a->sin.sin_addr, 4);
	}
}

int net_same_host(const union sockaddr_any *a, const union sockaddr_any *b)
{
	uint8_t ka[16], kb[16];

	net_host_key(a, ka);
	net_host_key(b, kb);
	return memcmp(ka, kb, sizeof(ka)) == 0;
}

int net_is_loopback(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return (ntohl(a->sin.sin_addr.s_addr) >> 24) == 127;
	if (a->sa.sa_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr))
		return a->sin6.sin6_addr.s6_addr[12] == 127;
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&a->sin6.sin6_addr);
	return 0;
}

int net_is_ipv4(const union sockaddr_any *a)
{
	return a->sa.sa_family == AF_INET ||
	       (a->sa.sa_family == AF_INET6 &&
		IN6_IS_ADDR_V4MAPPED(&a->sin6.sin6_addr));
}

int net_is_any(const union sockaddr_any *a)
{
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == htonl(INADDR_ANY);
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&a->sin6.sin6_addr);
	return 0;
}

int net_parse(const char *host, unsigned port, union sockaddr_any *out,
	      const char **why)
{
	struct addrinfo hints, *res;
	int rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	/* Numeric only: no DNS at start-up.  No AI_ADDRCONFIG: it finds no
	 * address at all in a loopback-only network namespace. */
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		*why = gai_strerror(rc);
		return -1;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	net_set_port(out, port);
	return 0;
}

unsigned net_port(const union sockaddr_any *a)
{
	return ntohs(a->sa.sa_family == AF_INET6 ? a->sin6.sin6_port
						 : a->sin.sin_port);
}

void net_set_port(union sockaddr_any *a, unsigned port)
{
	if (a->sa.sa_family == AF_INET6)
		a->sin6.sin6_port = htons((uint16_t)port);
	else
		a->sin.sin_port = htons((uint16_t)port);
}

int net_transfer_socket(const union sockaddr_any *local, unsigned port_low,
			unsigned port_high, unsigned start,
			const union sockaddr_any *peer)
{
	union sockaddr_any addr = *local;
	unsigned span = port_low ? port_high - port_low + 1 : 1;
	int fd = socket(addr.sa.sa_family, SOCK_DGRAM, 0), on = 1, saved;

	if (fd < 0)
		return -1;
	/* IPv6-only, unless the request came to a dual-stack socket from an
	 * IPv4 client (systemd's BindIPv6Only=both): then the local address
	 * is IPv4-mapped, which an IPv6-only socket cannot bind. */
	if (addr.sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&addr.sin6.sin6_addr))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				 sizeof(on));
	for (unsigned i = 0; i < span; i++) {
		net_set_port(&addr,
			     port_low ? port_low + (start + i) % span : 0);
		if (bind(fd, &addr.sa, net_len(&addr)) == 0) {
			if (connect(fd, &peer->sa, net_len(peer)) == 0)
				return fd;
			break;
		}
		if (errno != EADDRINUSE)
			break;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int net_share_port(int fd)
{
	int on = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0)
		return -1;
#if HAVE_DECL_SO_REUSEPORT && !defined(__linux__)
	/* The BSDs bind an exact duplicate only with SO_REUSEPORT.  Not on
	 * Linux: there it would make the unconnected sockets of a port a
	 * group that shares the listener's datagrams out between them. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0)
		return -1;
#endif
	return 0;
}

/* A datagram socket for addr's family; IPv6-only unless addr is
 * IPv4-mapped (a dual-stack listener's view of an IPv4 client, see
 * net_transfer_socket).  With share, ready to share its port. */
static int open_udp(const union sockaddr_any *addr, int share)
{
	int fd = socket(addr->sa.sa_family, SOCK_DGRAM, 0), on = 1, saved;

	if (fd < 0)
		return -1;
	if (addr->sa.sa_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&addr->sin6.sin6_addr))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
				 sizeof(on));
	if (!share || net_share_port(fd) == 0)
		return fd;
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/* Read and count what is queued on fd, without waiting. */
static unsigned drain(int fd)
{
	unsigned char junk[1];
	unsigned n = 0;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return 0;
	while (recv(fd, junk, sizeof(junk), 0) >= 0 || errno == EINTR)
		n++;
	(void)fcntl(fd, F_SETFL, fl);
	return n;
}

int net_shared_port_socket(const union sockaddr_any *local,
			   const union sockaddr_any *peer, unsigned *dropped)
{
	int fd = open_udp(local, 1), saved;

	*dropped = 0;
	if (fd < 0)
		return -1;
	if (bind(fd, &local->sa, net_len(local)) != 0 ||
	    connect(fd, &peer->sa, net_len(peer)) != 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	/* Connected, it is sent the peer's datagrams only; what came in
	 * before is anybody's (connect does not empty the queue). */
	*dropped = drain(fd);
	return fd;
}

/* ---- the start-up proof of --single-port ------------------------------ */

/* Nonzero when a one-byte datagram holding want comes to fd within a
 * second (loopback delivery is quick; a second covers a loaded host). */
static int check_got(int fd, char want)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, 1000) == 1 && recv(fd, &c, 1, 0) == 1 && c == want;
}

/* A socket bound to addr (its port 0: any), its name in *bound. */
static int check_peer(const union sockaddr_any *addr, union sockaddr_any *bound)
{
	socklen_t len = sizeof(*bound);
	int fd = open_udp(addr, 0);

	if (fd >= 0 && (bind(fd, &addr->sa, net_len(addr)) != 0 ||
			getsockname(fd, &bound->sa, &len) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The client a sends 'a' and the stranger b sends 'b' to port: the
 * transfer's socket t must get 'a', the listener l 'b'.  Returns 0, or -1
 * with *why set (wrong: what it says when the routing is wrong). */
static int check_route(int t, int l, int a, int b,
		       const union sockaddr_any *port, const char *wrong,
		       const char **why)
{
	errno = 0;
	if (sendto(a, "a", 1, 0, &port->sa, net_len(port)) != 1 ||
	    sendto(b, "b", 1, 0, &port->sa, net_len(port)) != 1) {
		*why = "the check's datagrams cannot be sent on the loopback";
		return -1;
	}
	*why = wrong;
	return check_got(t, 'a') && check_got(l, 'b') ? 0 : -1;
}

int net_single_port_check(const union sockaddr_any *listening, const char **why)
{
	union sockaddr_any lo, any, ta, tb, from;
	socklen_t len = sizeof(any);
	int fd[5] = {-1, -1, -1, -1, -1}; /* listener, transfer, a, b, test */
	int family = listening->sa.sa_family, rc = -1;
	struct pollfd p;
	unsigned dropped;
	char c;

	memset(&lo, 0, sizeof(lo));
	lo.sa.sa_family = (sa_family_t)family;
	any = lo;
	if (family == AF_INET6)
		lo.sin6.sin6_addr = in6addr_loopback;
	else
		lo.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* Two peers, the transfer's client and a stranger, and a wildcard
	 * listener on a free port. */
	*why = "the loopback is not usable for the check";
	if ((fd[2] = check_peer(&lo, &ta)) < 0 ||
	    (fd[3] = check_peer(&lo, &tb)) < 0)
		goto out;
	fd[0] = open_udp(&any, 1);
	if (fd[0] < 0 || bind(fd[0], &any.sa, net_len(&any)) != 0 ||
	    getsockname(fd[0], &any.sa, &len) != 0)
		goto out;
	net_set_port(&lo, net_port(&any));
	*why = "a second socket cannot be bound to the listening port";
	fd[1] = net_shared_port_socket(&lo, &ta, &dropped);
	if (fd[1] < 0)
		goto out;
	if (check_route(fd[1], fd[0], fd[2], fd[3], &lo,
			"a connected socket does not take its peer's "
			"datagrams from the listener (or they were lost: a "
			"firewall on the loopback?)",
			why) != 0)
		goto out;
	*why = "the connected socket's reply did not come from the "
	       "listening port";
	p.fd = fd[2];
	p.events = POLLIN;
	len = sizeof(from);
	if (send(fd[1], "c", 1, 0) != 1 || poll(&p, 1, 1000) != 1 ||
	    recvfrom(fd[2], &c, 1, 0, &from.sa, &len) != 1 || c != 'c' ||
	    !net_same(&from, &lo))
		goto out;
	/* The other order: a listener bound after the transfer's socket
	 * (restarted while transfers run), on the specific address this
	 * time. */
	close(fd[0]);
	*why = "a listener cannot be bound beside a transfer's socket";
	fd[0] = open_udp(&lo, 1);
	if (fd[0] < 0 || bind(fd[0], &lo.sa, net_len(&lo)) != 0)
		goto out;
	if (check_route(fd[1], fd[0], fd[2], fd[3], &lo,
			"a listener bound later takes the transfer's "
			"datagrams (or they were lost: a firewall on the "
			"loopback?)",
			why) != 0)
		goto out;
	/* The transfers' own binds: the listening address and port (any
	 * datagram the test socket takes in its short life is dropped, and
	 * resent by its client). */
	*why = "a transfer socket cannot be bound to the listening address "
	       "and port (a port below 1024 after the privilege drop?)";
	fd[4] = open_udp(listening, 1);
	if (fd[4] < 0 || bind(fd[4], &listening->sa, net_len(listening)) != 0)
		goto out;
	rc = 0;
out:
	for (int i = 0; i < 5; i++)
		if (fd[i] >= 0)
			close(fd[i]);
	return rc;
}

int net_want_local_address(int fd, int family)
{
	int on = 1;

	if (family == AF_INET6) {
#ifdef HAVE_IPV6_RECVPKTINFO
		return setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on,
				  sizeof(on));
#endif
	} else {
#if HAVE_DECL_IP_PKTINFO
		return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on));
#elif HAVE_DECL_IP_RECVDSTADDR
		return setsockopt(fd, IPPROTO_IP, IP_RECVDSTADDR, &on,
				  sizeof(on));
#endif
	}
	(void)on;
	errno = ENOPROTOOPT;
	return -1;
}

static void local_from_control(struct msghdr *msg, struct net_recv_info *info)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(msg); c;
	     c = CMSG_NXTHDR(msg, c)) {
#if HAVE_DECL_IP_PKTINFO
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(&info->local, 0, sizeof(info->local));
			info->local.sin.sin_family = AF_INET;
			/* ipi_spec_dst is the local address to answer from;
			 * ipi_addr may be a broadcast address. */
			info->local.sin.sin_addr = pi.ipi_spec_dst;
			info->ifindex = (unsigned)pi.ipi_ifindex;
		}
#elif HAVE_DECL_IP_RECVDSTADDR
		if (c->cmsg_level == IPPROTO_IP &&
		    c->cmsg_type == IP_RECVDSTADDR) {
			memset(&info->local, 0, sizeof(info->local));
			info->local.sin.sin_family = AF_INET;
			memcpy(&info->local.sin.sin_addr, CMSG_DATA(c),
			       sizeof(struct in_addr));
		}
#endif
#ifdef HAVE_IPV6_RECVPKTINFO
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			memset(&info->local, 0, sizeof(info->local));
			info->local.sin6.sin6_family = AF_INET6;
			info->local.sin6.sin6_addr = pi.ipi6_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
				info->local.sin6.sin6_scope_id =
					pi.ipi6_ifindex;
			info->ifindex = pi.ipi6_ifindex;
		}
#endif
	}
}

ssize_t net_recv(int fd, void *buf, size_t cap, union sockaddr_any *from,
		 struct net_recv_info *info)
{
	union {
		struct cmsghdr align;
		char buf[256];
	} control;
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	msg.msg_name = from;
	msg.msg_namelen = sizeof(*from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = control.buf;
	msg.msg_controllen = sizeof(control.buf);
	n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return -1;
	info->truncated = (msg.msg_flags & MSG_TRUNC) != 0;
	if (msg.msg_controllen > 0)
		local_from_control(&msg, info);
	return n;
}

unsigned net_mtu(unsigned ifindex)
{
#ifdef HAVE_SIOCGIFMTU
	struct ifreq ifr;
	int fd, rc;

	memset(&ifr, 0, sizeof(ifr));
	if (ifindex == 0 || !if_indextoname(ifindex, ifr.ifr_name))
		return 0;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 0;
	rc = ioctl(fd, SIOCGIFMTU, &ifr);
	close(fd);
	return rc == 0 && ifr.ifr_mtu > 0 ? (unsigned)ifr.ifr_mtu : 0;
#else
	(void)ifindex;
	return 0;
#endif
}
