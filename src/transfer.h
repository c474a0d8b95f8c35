/* One transfer, run by a child process: a fresh socket (the server's TID),
 * then the synchronous send / wait / resend loop of RFC 1350. */
#ifndef CTFTPD_TRANSFER_H
#define CTFTPD_TRANSFER_H

#include "cache.h"
#include "config.h"
#include "net.h"
#include "packet.h"

/* Serve one request that the listener has already checked (mode known, path
 * normalised to rel, relative to cfg->root_real).  client is the requester;
 * origin->local is the address the request was sent to (port ignored),
 * which the new socket binds so the reply comes from the address the client
 * asked, and origin->ifindex the interface it came in on (its MTU caps the
 * default blksize).  The file comes from cache (the shared cache, or NULL)
 * when it holds it, or is put there first when it can be; otherwise from
 * disk.  Negotiates options (RFC 2347), then sends the file.
 * Logs one summary line.  Returns the exit status for the child: 0 when the
 * transfer completed or the client ended it, 1 on failure. */
int transfer_run(const struct config *cfg, struct cache *cache,
		 const struct tftp_request *req, const char *rel,
		 const union sockaddr_any *client,
		 const struct net_recv_info *origin);

#endif
