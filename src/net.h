/* Socket addresses and the few socket calls the listener and the transfers
 * share: formatting, comparing, learning the local address of a request. */
#ifndef CTFTPD_NET_H
#define CTFTPD_NET_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

union sockaddr_any {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_storage ss;
};

/* Room for "[ffff:...:255.255.255.255%ifname]:65535". */
#define NET_ADDRSTRLEN 80

/* Format an address as "192.0.2.1:69" or "[2001:db8::1]:69" into buf
 * (NET_ADDRSTRLEN bytes).  Returns buf. */
char *net_format(const union sockaddr_any *a, char *buf);

/* Length of the sockaddr for a's family, for bind/sendto. */
socklen_t net_len(const union sockaddr_any *a);

/* Nonzero when a and b are the same address and port. */
int net_same(const union sockaddr_any *a, const union sockaddr_any *b);

/* The 16 bytes that name a's host, the port left out: an IPv6 address as
 * is, an IPv4 one as ::ffff:a.b.c.d, so that a client seen through a
 * dual-stack socket is the same host as seen through an IPv4 one. */
void net_host_key(const union sockaddr_any *a, uint8_t key[16]);

/* Nonzero when a and b are the same host (ports ignored; see
 * net_host_key). */
int net_same_host(const union sockaddr_any *a, const union sockaddr_any *b);

/* Parse a numeric address (AI_NUMERICHOST, no AI_ADDRCONFIG) and a port
 * (decimal, 0..65535) into *out.  Returns 0, or -1 with *why set. */
int net_parse(const char *host, unsigned port, union sockaddr_any *out,
	      const char **why);

/* The port of a (host byte order). */
unsigned net_port(const union sockaddr_any *a);

/* Set the port of a (host byte order, 0..65535). */
void net_set_port(union sockaddr_any *a, unsigned port);

/* The socket of one transfer (the server's TID, RFC 1350 section 4): bound
 * on local's address (its port is ignored) and a port from port_low ..
 * port_high, tried in turn from start modulo the span so that concurrent
 * children do not race for the same one (port_low 0: any free port), then
 * connected to peer.  Connected, it receives only the peer's datagrams (the
 * kernel answers any other source with ICMP port unreachable) and reports
 * an ICMP port unreachable from the peer as ECONNREFUSED.  Returns the
 * socket, or -1 (errno; EADDRINUSE when every port of the range is taken). */
int net_transfer_socket(const union sockaddr_any *local, unsigned port_low,
			unsigned port_high, unsigned start,
			const union sockaddr_any *peer);

/* --single-port.  Every transfer socket is bound to the listening address
 * and port itself and connected to its client; the kernel hands a datagram
 * to the socket whose binding matches it best, and a connected socket
 * (address and port of both ends) matches a client's datagrams better than
 * the unconnected listener, which keeps everybody else's.  Several sockets
 * may share one address and port only when each of them allows it: on
 * Linux SO_REUSEADDR on all of them (SO_REUSEPORT there would spread the
 * listener's datagrams over unconnected sockets), on the BSDs SO_REUSEPORT
 * too.  net_single_port_check proves at start-up that the platform routes
 * this way; without that proof the option is refused. */

/* Let fd share its address and port with the transfers' sockets.  On Linux
 * fd may be bound already (the option is looked at by the later binds): the
 * listener sets it after its own bind, so that a port another process holds
 * is still in use, and an inherited socket gets it too.  Returns 0, or -1
 * (errno). */
int net_share_port(int fd);

/* A transfer's socket under --single-port: bound on local (address and
 * port: the listening port), then connected to peer.  Between the bind and
 * the connect the socket may take datagrams meant for the listener; they
 * are read and dropped (their senders resend, RFC 1350) and counted in
 * *dropped.  Returns the socket, or -1 (errno). */
int net_shared_port_socket(const union sockaddr_any *local,
			   const union sockaddr_any *peer, unsigned *dropped);

/* Prove on the loopback of listening's family that datagrams are routed as
 * --single-port needs, with the listener bound before and after the
 * connected socket (a listener restarted while transfers run), and that a
 * socket can be bound to listening's own address and port (the privilege
 * to bind a port below 1024 may be gone).  Returns 0, or -1 with *why set
 * to a static description. */
int net_single_port_check(const union sockaddr_any *listening,
			  const char **why);

/* Ask the kernel to report each datagram's destination address (IP_PKTINFO,
 * IP_RECVDSTADDR or IPV6_RECVPKTINFO, whichever the platform has).  Returns 0,
 * or -1 when the platform has none (replies then come from the bound
 * address). */
int net_want_local_address(int fd, int family);

/* What recvmsg(2) learned about a datagram beyond its bytes. */
struct net_recv_info {
	union sockaddr_any local; /* address it was sent to, when known */
	unsigned ifindex;	  /* interface it arrived on, or 0 */
	int truncated;		  /* longer than the buffer */
};

/* recvmsg(2) one datagram of at most cap bytes.  Fills *from; fills
 * info->local (port 0) and info->ifindex when the kernel told us, and
 * leaves them alone otherwise.  Returns the byte count or -1 (errno). */
ssize_t net_recv(int fd, void *buf, size_t cap, union sockaddr_any *from,
		 struct net_recv_info *info);

/* The MTU in bytes of the interface with index ifindex, or 0 when unknown
 * (no index, or no SIOCGIFMTU on this platform). */
unsigned net_mtu(unsigned ifindex);

/* Nonzero when the address is a loopback one (127/8, also as
 * ::ffff:127.x.y.z on a dual-stack socket, or ::1). */
int net_is_loopback(const union sockaddr_any *a);

/* Nonzero when datagrams to or from a travel as IPv4: an IPv4 address, or
 * an IPv4-mapped IPv6 one (a dual-stack socket's view of an IPv4 peer). */
int net_is_ipv4(const union sockaddr_any *a);

/* Nonzero when the address is a wildcard (0.0.0.0 or ::). */
int net_is_any(const union sockaddr_any *a);

#endif
