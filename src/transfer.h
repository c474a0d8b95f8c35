/* One transfer, run by a child process: a fresh socket (the server's TID),
 * then the synchronous send / wait / resend loop of RFC 1350 and RFC 7440. */
#ifndef CTFTPD_TRANSFER_H
#define CTFTPD_TRANSFER_H

#include "cache.h"
#include "config.h"
#include "net.h"
#include "packet.h"

/* Before the client has answered anything, its address is unproven (it
 * may be spoofed): no timer resends the first packet, only a repeat of the
 * request does (one packet out per request in).  A client silent for this
 * long after its last request (milliseconds; --give-up when shorter) is
 * given up on: long enough for six tries of a client whose first ACK is
 * lost and whose own timer is U-Boot's 5 s, shorter than --give-up's
 * default because a forged source holds a slot of --max-clients as long. */
#define TRANSFER_FIRST_REPLY_MS 30000

/* After the final ACK of an upload, how long the child stays to answer a
 * repeat of the last DATA, should that ACK be lost (milliseconds). */
#define TRANSFER_DALLY_MS 2000

/* What the listener hands the child: a request it has already checked. */
struct transfer_request {
	const struct tftp_request *req; /* mode, file name, options */
	const char *rel;		/* the name normalised, relative to
					 * cfg->root_real */
	const char *mapped;		/* the name as the remap rules (-m)
					 * rewrote it, which rel comes from;
					 * NULL: not rewritten */
	union sockaddr_any client;	/* the requester's address and TID */
	struct net_recv_info origin;	/* local: the address the request was
					 * sent to, which the reply comes
					 * from, and the listening port (for
					 * --single-port); ifindex: the
					 * interface, whose MTU caps blksize */
	int wake_fd;   /* readable on a repeated request or a stop (handoff.h);
			* -1: none */
	int listen_fd; /* the listening socket the request came in on, kept
			* only to send an ERROR when no transfer socket can
			* be had (out of descriptors); transfer_run closes it
			* once past that point.  -1: none */
	/* --single-port: the request's bytes, to know a repeat of it on the
	 * transfer's own socket, and where to hand back any other request
	 * (handoff.h): the channel, and the listening socket's index. */
	const uint8_t *request;
	size_t request_len;
	int listen_idx;
	int handback_fd;
};

/* How a transfer ended. */
enum transfer_outcome {
	TRANSFER_COMPLETE,    /* the last block was acknowledged */
	TRANSFER_CLIENT_END,  /* the client sent ERROR (e.g. 8 after the OACK,
			       * RFC 2347: a tsize probe) */
	TRANSFER_STOPPED,     /* SIGTERM: a new request from the client
			       * replaced it, or the server is stopping */
	TRANSFER_NO_REPLY,    /* nothing ever came back from the client */
	TRANSFER_GAVE_UP,     /* the client fell silent for --give-up */
	TRANSFER_CLIENT_GONE, /* ICMP port unreachable from the client */
	TRANSFER_REFUSED,     /* ERROR sent: not found, access, bad packet */
	TRANSFER_FAILED,      /* a local error */
};

/* Serve one request and log one summary line.  RRQ: open the file,
 * negotiate options (RFC 2347), send it from the shared cache (cache, or
 * NULL) or from disk.  WRQ (tftpd-hpa's write rules, see path.h): receive
 * into a temporary file and rename it over the target once complete
 * (sink.h).  Returns the outcome. */
enum transfer_outcome transfer_run(const struct config *cfg,
				   struct cache *cache,
				   const struct transfer_request *tr);

/* The child's exit status for an outcome: 0 when the transfer completed or
 * the client ended it, 1 otherwise. */
int transfer_exit_status(enum transfer_outcome outcome);

#endif
