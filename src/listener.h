/* The parent: listening sockets, signals, the table of children, limits and
 * the fork for each valid request.  It never opens a served file and never
 * waits on a client. */
#ifndef CTFTPD_LISTENER_H
#define CTFTPD_LISTENER_H

#include <sys/types.h>

#include "cache.h"
#include "handoff.h"
#include "config.h"
#include "net.h"
#include "ratelimit.h"
#include "remap.h"

#define LISTENER_MAX_SOCKETS 8

struct child;

struct listener {
	const struct config *cfg;
	int fds[LISTENER_MAX_SOCKETS];
	union sockaddr_any bound[LISTENER_MAX_SOCKETS];
	int nfds;
	int sigpipe[2];	 /* signal handlers write the signal number here */
	int handback[2]; /* --single-port: requests the children hand back
			  * (handoff.h); -1 without it */
	struct child *children; /* dense: the first nchildren are live */
	unsigned nchildren;
	int idle_exit;	     /* inetd/systemd: exit after cfg->idle_timeout */
	struct cache *cache; /* shared by the children; NULL when off */
	struct handoff *handoff; /* one word per child, shared (handoff.h) */
	/* --map-file's rules, applied to each requested name before the
	 * path policy; NULL: none.  Compiled here, in the parent, once (the
	 * children only read their copy), and replaced on SIGHUP. */
	struct remap_rules *remap;
	/* Reaped children whose cache pins could not be released yet (the
	 * lock was held): retried before each fork; a new child given one of
	 * these pids releases them itself (listener.c). */
	pid_t pending_release[16];
	unsigned npending;
	/* Limits (listener.c): per client address, the rate of new transfers
	 * and of refusals sent; for all addresses together, refusals sent and
	 * logged, and what was suppressed since quiet_since_ms. */
	struct ratelimit_table *sources;
	struct ratelimit_bucket all_replies, log_lines;
	unsigned long quiet_replies, quiet_lines;
	int quiet_priority; /* the most severe line suppressed */
	int64_t quiet_since_ms;
};

/* Bind the UDP sockets cfg asks for (cfg->address, or all IPv4 and IPv6
 * addresses; a host without IPv6 starts on IPv4 with a log line).  Returns 0,
 * or -1 after logging why nothing could be bound. */
int listener_bind(struct listener *l, const struct config *cfg);

/* Take over sockets bound by someone else (inetd, systemd): n descriptors in
 * fds.  With idle_exit, listener_run returns once idle_timeout seconds pass
 * with no request and no transfer running, so the super-server gets the
 * socket back.  Returns 0, or -1 after logging. */
int listener_adopt(struct listener *l, const struct config *cfg, const int *fds,
		   int n, int idle_exit);

/* Serve requests until SIGTERM or SIGINT, then let running transfers finish
 * for up to LISTENER_GRACE_SECONDS before ending them.  SIGHUP re-opens
 * syslog and reads cfg->map_file (an absolute path) again: a file that
 * cannot be read or parsed, or is out of reach after --secure (the chroot
 * hides it), keeps the rules in force, with an error logged.  SIGUSR1 logs
 * the cache counters.  Returns the process exit status (0 after a clean
 * stop, 1 on a fatal error). */
int listener_run(struct listener *l);

#define LISTENER_GRACE_SECONDS 30

#endif
