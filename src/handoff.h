/* What the listener and a transfer child tell each other while the child
 * runs: one word per child in memory shared across fork(), and a wake-up
 * signal.  It decides, exactly once, who answers a request that repeats the
 * bytes of a live transfer's request from the same address and port:
 *
 *   - while the transfer runs, the child (a client that resent its request
 *     before our first packet reached it: resend that packet, RFC 1350
 *     gives the client no other way to ask);
 *   - once the transfer has ended, a new child (the client asks again).
 *
 * A compare-and-swap on the word settles the race between the client's
 * last packet reaching the child and its next request reaching the
 * listener, so neither a request is lost nor two transfers answer one. */
#ifndef CTFTPD_HANDOFF_H
#define CTFTPD_HANDOFF_H

#include "net.h"

#include <signal.h>
#include <stdint.h>

/* The word's states.  0 is a free slot. */
enum handoff_state {
	HANDOFF_FREE = 0,
	HANDOFF_ACTIVE, /* the transfer runs */
	HANDOFF_NUDGED, /* the listener saw the request again */
	HANDOFF_DONE,	/* the transfer ended; the child is exiting */
};

/* The signal the listener sends a child after setting HANDOFF_NUDGED. */
#define HANDOFF_SIGNAL SIGUSR2

struct handoff;

/* The table of nslots words, in shared memory.  Returns NULL (errno). */
struct handoff *handoff_create(unsigned nslots);

/* Listener: claim a free slot for a child about to be forked, set to
 * HANDOFF_ACTIVE.  Returns its index, or -1 when all are taken. */
int handoff_claim(struct handoff *h);

/* Listener: free a slot once its child has been reaped. */
void handoff_release(struct handoff *h, int slot);

/* Listener: the child's request came again.  Returns 1 when the child will
 * answer it (the word is now HANDOFF_NUDGED; send HANDOFF_SIGNAL to wake
 * it), 0 when the child's transfer has ended and a new child must answer. */
int handoff_nudge(struct handoff *h, int slot);

/* Listener: nonzero once the child's transfer is over (HANDOFF_DONE): it
 * only lingers (an upload's dally) or exits, and holds no transfer. */
int handoff_done(const struct handoff *h, int slot);

/* Child: catch HANDOFF_SIGNAL (a repeated request) and SIGTERM (stop) on a
 * pipe whose read end is returned.  The listener keeps both blocked across
 * fork(), so one sent before this call stays pending: the caller unblocks
 * them afterwards.  Returns the fd to poll, or -1 (errno). */
int handoff_child_init(struct handoff *h, int slot);

/* Child: after the wake-up fd polled readable, drain it.  Returns 1 when a
 * repeated request is waiting to be answered (and takes it: the word goes
 * back to HANDOFF_ACTIVE), 0 otherwise. */
int handoff_take_nudge(void);

/* Child: nonzero once SIGTERM asked the transfer to stop (the listener
 * replaced it with a client's new request, or is shutting down). */
int handoff_stop_requested(void);

/* Child: the transfer's outcome is settled, but the child lingers (an
 * upload answering a repeat of its last DATA).  Marks it HANDOFF_DONE so
 * that a repeat of the request goes to a new child meanwhile.  Returns 1
 * when marked, 0 when a repeat is already waiting (handoff_finish will
 * serve it: do not linger). */
int handoff_mark_done(void);

/* Child: the transfer has ended.  Returns 0 when the child may exit (the
 * word is now HANDOFF_DONE and later repeats go to a new child), or 1 when
 * the request was repeated meanwhile and must be served again. */
int handoff_finish(void);

/* Child: give up the request word at once (HANDOFF_DONE, whatever it
 * held), so that a later repeat of the request goes to a new child.  For a
 * child that hands a request back (below) and ends. */
void handoff_withdraw(void);

/* ---- --single-port: requests handed back -------------------------------
 *
 * With --single-port a client's datagrams reach its transfer's socket, not
 * the listener, for as long as that socket lives: a repeat of its request,
 * or a new request from the same address and port.  The transfer answers a
 * repeat itself while it runs (it resends its first packet), and hands
 * anything else back to the listener, which decides as it does for what
 * reaches it directly (listener.c, repeated_request): a new request ends
 * the old transfer and is served by a new child; the old request again,
 * once its transfer is over, is served again.  The child closes its socket
 * before it hands the request back, so the new transfer's socket is the
 * only one connected to that client. */

/* Longest request handed back (bytes): the listener's own limit. */
#define HANDOFF_REQUEST_MAX 4096

/* One request handed back, as the listener would have received it. */
struct handoff_request {
	union sockaddr_any client;
	struct net_recv_info origin; /* its truncated: longer than the max */
	int listen_idx;		     /* the listening socket it belongs to */
	unsigned len;		     /* bytes */
	uint8_t bytes[HANDOFF_REQUEST_MAX];
};

/* The channel: a datagram socket pair, close-on-exec, the read end (fds[0])
 * non-blocking.  Returns 0, or -1 (errno). */
int handoff_channel(int fds[2]);

/* Child: hand the request r back on fd without waiting (a full channel
 * drops it: the client resends).  Returns 0, or -1 (errno). */
int handoff_give_back(int fd, const struct handoff_request *r);

/* Listener: one request from fd into *r.  Returns 0, or -1 when none is
 * waiting or it is malformed. */
int handoff_take_back(int fd, struct handoff_request *r);

#endif
