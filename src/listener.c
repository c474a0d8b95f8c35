/* The listener loop: poll the sockets and the signal pipe, parse each request,
 * map its name (-m), apply the checks that need no disk, and fork one child
 * per transfer.  This is the hot path for small files: no stdio, no disk,
 * and no allocation but what remap rules need (a name buffer for a rewrite,
 * and regexec's own). */
#include "autoconfig.h"

#include "listener.h"

#include "log.h"
#include "packet.h"
#include "path.h"
#include "remap.h"
#include "shmem.h"
#include "sink.h"
#include "transfer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#if HAVE_DECL_PR_SET_PDEATHSIG
#include <sys/prctl.h>
#endif

/* The listener's pid, for its children to tell whether it still lives. */
static pid_t listener_pid;

struct child {
	pid_t pid;
	union sockaddr_any client;
	uint64_t request_hash; /* of the request's bytes, to know a repeat */
	size_t request_len;
	int slot;     /* its handoff word */
	int ending;   /* replaced by a new request: no longer the
		       * client's transfer, only waiting to be reaped */
	char *upload; /* WRQ: the name under the root, to remove
		       * its temporary file should the child die */
};

/* The only state a signal handler touches. */
static int signal_fd = -1;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char b = (unsigned char)sig;

	(void)!write(signal_fd, &b, 1);
	errno = saved;
}

static int set_nonblock_cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* Bind one listening socket.  Returns 0; 1 when optional is set and the
 * address family is not available on this host (logged as a notice); -1
 * after logging an error. */
static int bind_one(struct listener *l, const union sockaddr_any *addr,
		    int optional)
{
	char where[NET_ADDRSTRLEN];
	int fd, on = 1;

	net_format(addr, where);
	fd = socket(addr->sa.sa_family, SOCK_DGRAM, 0);
	if (fd < 0)
		goto fail;
	if (addr->sa.sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) != 0)
		goto fail;
	if (bind(fd, &addr->sa, net_len(addr)) != 0)
		goto fail;
	/* --single-port: shared only once bound, so that a port another
	 * process holds (a second ctftpd --single-port too) is still "in
	 * use"; Linux looks at the option at the later binds, and the
	 * start-up check proves it on other platforms. */
	if (l->cfg->single_port && net_share_port(fd) != 0)
		goto fail;
	if (net_is_any(addr) &&
	    net_want_local_address(fd, addr->sa.sa_family) != 0)
		log_msg(LOG_WARNING,
			"%s: cannot learn the local address of "
			"requests (%s); replies come from the route's address",
			where, strerror(errno));
	if (set_nonblock_cloexec(fd) != 0)
		goto fail;
	l->fds[l->nfds] = fd;
	l->bound[l->nfds] = *addr;
	l->nfds++;
	return 0;
fail:
	if (fd >= 0) {
		int saved = errno;
		close(fd);
		errno = saved;
	}
	if (optional && (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL ||
			 errno == EPROTONOSUPPORT)) {
		log_msg(LOG_NOTICE, "IPv6 unavailable (%s); serving IPv4 only",
			strerror(errno));
		return 1;
	}
	log_msg(LOG_ERR, "cannot listen on %s: %s", where, strerror(errno));
	return -1;
}

int listener_bind(struct listener *l, const struct config *cfg)
{
	union sockaddr_any addr;
	const char *why;

	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->sigpipe[0] = l->sigpipe[1] = -1;
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		const struct config_listen *cl = &cfg->listen[i];
		if (net_parse(cl->host, cl->port ? cl->port : cfg->port, &addr,
			      &why) != 0) {
			log_msg(LOG_ERR, "bad listen address '%s': %s",
				cl->host, why);
			return -1;
		}
		if (bind_one(l, &addr, 0) != 0)
			return -1;
	}
	if (cfg->nlisten > 0)
		return 0;
	/* IPv6 first, with IPV6_V6ONLY, so each family has its own socket.
	 * With -6 alone, IPv6 is required. */
	if (cfg->family != AF_INET &&
	    (net_parse("::", cfg->port, &addr, &why) != 0 ||
	     bind_one(l, &addr, cfg->family == AF_UNSPEC) < 0))
		return -1;
	if (cfg->family != AF_INET6 &&
	    (net_parse("0.0.0.0", cfg->port, &addr, &why) != 0 ||
	     bind_one(l, &addr, 0) != 0))
		return -1;
	return 0;
}

int listener_adopt(struct listener *l, const struct config *cfg, const int *fds,
		   int n, int idle_exit)
{
	memset(l, 0, sizeof(*l));
	l->cfg = cfg;
	l->sigpipe[0] = l->sigpipe[1] = -1;
	l->idle_exit = idle_exit && cfg->idle_timeout > 0;
	for (int i = 0; i < n && i < LISTENER_MAX_SOCKETS; i++) {
		union sockaddr_any addr;
		socklen_t len = sizeof(addr);
		char where[NET_ADDRSTRLEN];

		memset(&addr, 0, sizeof(addr));
		if (getsockname(fds[i], &addr.sa, &len) != 0 ||
		    (addr.sa.sa_family != AF_INET &&
		     addr.sa.sa_family != AF_INET6)) {
			log_msg(LOG_ERR,
				"inherited descriptor %d is not an "
				"IPv4 or IPv6 socket",
				fds[i]);
			return -1;
		}
		if (net_is_any(&addr) &&
		    net_want_local_address(fds[i], addr.sa.sa_family) != 0)
			log_msg(LOG_WARNING,
				"%s: cannot learn the local "
				"address of requests (%s)",
				net_format(&addr, where), strerror(errno));
		if (cfg->single_port && net_share_port(fds[i]) != 0) {
			log_msg(LOG_ERR,
				"--single-port: cannot share the port of "
				"inherited descriptor %d: %s",
				fds[i], strerror(errno));
			return -1;
		}
		if (set_nonblock_cloexec(fds[i]) != 0) {
			log_msg(LOG_ERR, "descriptor %d: %s", fds[i],
				strerror(errno));
			return -1;
		}
		l->fds[l->nfds] = fds[i];
		l->bound[l->nfds] = addr;
		l->nfds++;
	}
	return 0;
}

/* Refusals are sent from the listening port, and logged, within these
 * rates (per second) and bursts: a flood of garbage or of requests over a
 * limit, perhaps from spoofed addresses, gets neither an ERROR nor a log
 * line for each datagram, while a client that sends a few bad requests
 * (a test suite) is answered each time.  Per source address, then for all
 * together; the suppressed are counted in a summary line at most every
 * QUIET_SUMMARY_MS. */
#define REFUSALS_PER_SOURCE 20
#define REFUSALS_PER_SOURCE_BURST 50
#define REFUSALS_ALL 200
#define REFUSALS_ALL_BURST 400
#define REFUSAL_LOG_LINES 20
#define REFUSAL_LOG_BURST 50
#define QUIET_SUMMARY_MS 5000

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One line counting the refusals and log lines suppressed since the first
 * of them, once QUIET_SUMMARY_MS have passed (or now, with force). */
static void quiet_summary(struct listener *l, int64_t now, int force)
{
	if (!l->quiet_lines && !l->quiet_replies)
		return;
	if (!force && now - l->quiet_since_ms < QUIET_SUMMARY_MS)
		return;
	log_msg(l->quiet_lines ? l->quiet_priority : LOG_INFO,
		"rate limit: %lu log lines and %lu ERROR replies about refused "
		"requests suppressed in the last %.1f s",
		l->quiet_lines, l->quiet_replies,
		(double)(now - l->quiet_since_ms) / 1000.0);
	l->quiet_lines = l->quiet_replies = 0;
}

static void quiet_count(struct listener *l, int64_t now, int line, int priority)
{
	if (!l->quiet_lines && !l->quiet_replies) {
		l->quiet_since_ms = now;
		l->quiet_priority = priority;
	}
	if (line) {
		if (!l->quiet_lines || priority < l->quiet_priority)
			l->quiet_priority = priority;
		l->quiet_lines++;
	} else {
		l->quiet_replies++;
	}
}

/* Refuse a request before any fork: an ERROR (code, msg) from the
 * listening socket to the source (src: its entry in the sources table), and
 * a log line at priority, each within its rate limit. */
#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 8, 9)))
#endif
static void
refuse(struct listener *l, int fd, const union sockaddr_any *to,
       struct ratelimit_source *src, uint16_t code, const char *msg,
       int priority, const char *fmt, ...)
{
	int64_t now = now_ms();

	quiet_summary(l, now, 0);
	if (ratelimit_take(&src->replies, REFUSALS_PER_SOURCE,
			   REFUSALS_PER_SOURCE_BURST, now) &&
	    ratelimit_take(&l->all_replies, REFUSALS_ALL, REFUSALS_ALL_BURST,
			   now)) {
		uint8_t buf[256];
		size_t len = packet_build_error(buf, sizeof(buf), code, msg);
		(void)sendto(fd, buf, len, 0, &to->sa, net_len(to));
	} else {
		quiet_count(l, now, 0, priority);
	}
	if (!log_enabled(priority))
		return;
	if (ratelimit_take(&l->log_lines, REFUSAL_LOG_LINES, REFUSAL_LOG_BURST,
			   now)) {
		char line[512];
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(line, sizeof(line), fmt, ap);
		va_end(ap);
		log_msg(priority, "%s", line);
	} else {
		quiet_count(l, now, 1, priority);
	}
}

static struct child *find_child(struct listener *l,
				const union sockaddr_any *client)
{
	for (unsigned i = 0; i < l->nchildren; i++)
		if (!l->children[i].ending &&
		    net_same(&l->children[i].client, client))
			return &l->children[i];
	return NULL;
}

/* FNV-1a, 64 bits: tells a repeated request from a new one.  A collision
 * only makes a running transfer resend its first packet to its own
 * client. */
static uint64_t request_hash(const uint8_t *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ buf[i]) * 0x100000001b3u;
	return h;
}

/* The longest the listener waits for the cache lock to release what a
 * reaped child held (milliseconds): a child stopped while holding the lock
 * must not stall the listener; what cannot be released now is retried. */
#define LISTENER_LOCK_MS 10

/* Retry the cache releases that failed at reaping time, until one fails
 * (the lock is still held: the others would fail too). */
static void retry_releases(struct listener *l)
{
	unsigned kept = 0, i;

	for (i = 0; i < l->npending; i++) {
		if (cache_release_owner_within(l->cache, l->pending_release[i],
					       LISTENER_LOCK_MS) < 0)
			break;
	}
	for (; i < l->npending; i++)
		l->pending_release[kept++] = l->pending_release[i];
	l->npending = kept;
}

/* A new child was given pid: if a reaped child with that pid still has
 * cache pins recorded, the new child releases them itself before it takes
 * any (run_child), and the listener forgets them. */
static void pending_taken_over(struct listener *l, pid_t pid)
{
	for (unsigned i = 0; i < l->npending; i++)
		if (l->pending_release[i] == pid) {
			l->pending_release[i] =
				l->pending_release[--l->npending];
			return;
		}
}

/* SIGUSR1: one line of cache counters. */
static void log_cache_stats(struct listener *l)
{
	struct cache_stats st;
	char line[512];

	if (!l->cache) {
		log_msg(LOG_NOTICE, "cache: off");
		return;
	}
	cache_stats(l->cache, &st);
	log_msg(LOG_NOTICE, "%s", cache_stats_format(&st, line, sizeof(line)));
}

/* An upload whose process was killed leaves its temporary file beside the
 * target (a child that ends any other way removes its own): remove it. */
static void remove_upload_leftover(struct listener *l, const char *rel,
				   pid_t pid)
{
	char name[NAME_MAX + 1], tmp[64];
	const char *why;
	int code, dirfd = path_parent_dir(l->cfg->root_real, rel, name, &code,
					  &why);

	if (dirfd < 0)
		return;
	sink_temp_name(tmp, (long)pid);
	if (unlinkat(dirfd, tmp, 0) == 0)
		log_msg(LOG_NOTICE,
			"removed the unfinished upload of process "
			"%ld",
			(long)pid);
	close(dirfd);
}

/* Collect ended children and drop them from the table; with block, wait
 * for one child at least. */
static void reap(struct listener *l, int block)
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, block ? 0 : WNOHANG)) > 0) {
		block = 0;
		/* A child killed mid-transfer leaves its cache pin or the
		 * entry it was filling behind: take them back (cheap when it
		 * held none); if the lock is busy, later. */
		if (l->cache &&
		    cache_release_owner_within(
			    l->cache, pid, l->npending ? 0 : LISTENER_LOCK_MS) <
			    0) {
			if (l->npending < sizeof(l->pending_release) /
						  sizeof(l->pending_release[0]))
				l->pending_release[l->npending++] = pid;
			else
				log_msg(LOG_WARNING,
					"cache: could not release "
					"what process %ld held",
					(long)pid);
		}
		int ending = 0;
		for (unsigned i = 0; i < l->nchildren; i++) {
			struct child *c = &l->children[i];
			if (c->pid != pid)
				continue;
			ending = c->ending;
			handoff_release(l->handoff, c->slot);
			if (c->upload && WIFSIGNALED(status))
				remove_upload_leftover(l, c->upload, pid);
			free(c->upload);
			*c = l->children[--l->nchildren];
			break;
		}
		if (WIFSIGNALED(status) &&
		    !(ending && WTERMSIG(status) == SIGTERM))
			log_msg(LOG_WARNING,
				"transfer process %ld killed by "
				"signal %d",
				(long)pid, WTERMSIG(status));
	}
}

/* --single-port: each transfer's socket is bound to the listening port,
 * so a transfer outliving a listener killed with SIGKILL would keep a new
 * listener from binding it until the transfer ends.  Have the kernel send
 * SIGTERM (handoff.h: the transfer stops) when the listener dies, and stop
 * at once if it died before this call.  Where PR_SET_PDEATHSIG is missing,
 * such a transfer ends on its own, as the BUGS section of the man page
 * says.  Called in the child, before signals are unblocked. */
static void end_with_listener(const struct listener *l)
{
	if (!l->cfg->single_port)
		return;
#if HAVE_DECL_PR_SET_PDEATHSIG
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0)
		log_msg(LOG_WARNING,
			"transfer process: cannot ask to end with the "
			"listener: %s",
			strerror(errno));
	else if (getppid() != listener_pid)
		raise(SIGTERM);
#endif
}

/* In the child: drop what belongs to the parent, then run the transfer,
 * again for as long as the client repeats its request just as the transfer
 * ends (handoff.h). */
static void run_child(struct listener *l, const struct transfer_request *tr0,
		      int slot)
{
	struct transfer_request tr = *tr0;
	struct cache *cache = l->cache;
	struct sigaction sa;
	sigset_t none;
	enum transfer_outcome outcome;

	/* The request's own listening socket stays until the transfer has
	 * its socket (transfer.h, listen_fd). */
	for (int i = 0; i < l->nfds; i++)
		if (l->fds[i] != tr.listen_fd)
			close(l->fds[i]);
	close(l->sigpipe[0]);
	close(l->sigpipe[1]);
	if (l->handback[0] >= 0)
		close(l->handback[0]);
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = SIG_DFL;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A terminal's ^C, a HUP or a stats request for the parent lets
	 * transfers finish. */
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	/* A process with this pid, reaped while the cache lock was held,
	 * left pins recorded under it: drop them before taking any, or else
	 * serve without the cache (they would be taken for ours). */
	for (unsigned i = 0; i < l->npending; i++)
		if (l->pending_release[i] == getpid() &&
		    cache_release_owner(cache, getpid()) < 0)
			cache = NULL;
	tr.wake_fd = handoff_child_init(l->handoff, slot);
	if (tr.wake_fd < 0)
		log_msg(LOG_WARNING, "transfer process: no wake-up pipe: %s",
			strerror(errno));
	end_with_listener(l);
	/* What was blocked across fork() is delivered now. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	do {
		outcome = transfer_run(l->cfg, cache, &tr);
		tr.listen_fd = -1; /* closed by the first run */
	} while (handoff_finish());
	_exit(transfer_exit_status(outcome));
}

/* A request from the address and port of a live transfer.  The same bytes
 * again: that transfer's child answers (it resends its first packet), or
 * when it has just ended, a new child does.  Other bytes: the client has
 * moved on, so its old transfer ends without another packet and the new
 * request is served.  handed_back: the request came from a child
 * (--single-port, handoff.h).  Returns 1 when the request is dealt with, 0
 * when it must be served by a new child. */
static int repeated_request(struct listener *l, struct child *c, uint64_t hash,
			    size_t len, const union sockaddr_any *from,
			    int handed_back)
{
	char who[NET_ADDRSTRLEN];

	if (c->request_hash == hash && c->request_len == len) {
		if (handoff_nudge(l->handoff, c->slot)) {
			kill(c->pid, HANDOFF_SIGNAL);
			if (log_enabled(LOG_DEBUG))
				log_msg(LOG_DEBUG,
					"repeated request from %s: "
					"passed to its transfer",
					net_format(from, who));
			return 1;
		}
		c->ending = 1; /* it has ended and is exiting */
		return 0;
	}
	if (!handed_back) /* else the child said it (take_request) */
		log_msg(LOG_INFO,
			"new request from %s: ending its previous transfer "
			"(process %ld)",
			net_format(from, who), (long)c->pid);
	kill(c->pid, SIGTERM);
	c->ending = 1;
	return 0;
}

/* The ERROR for a name an 'a' rule refuses when the rule words none
 * (in.tftpd's). */
#define REMAP_DEFAULT_REFUSAL "Access denied"

/* Apply the remap rules (-m) to the requested file name, before the path
 * policy so that what they produce is checked as a name from the client
 * is.  Returns the name the policy is to check: the request's own, or the
 * rules' result (then also in *mapped); NULL after refusing the request:
 * an 'a' rule (ERROR 2, with the rule's text sanitised when it words one),
 * a name the rules make too long (ERROR 1, as the path policy does), the
 * work limits of remap.h (ERROR 2), or regexec out of memory (ERROR 0). */
static const char *map_request(struct listener *l, int fd,
			       const struct tftp_request *req,
			       const union sockaddr_any *from,
			       struct ratelimit_source *src,
			       const char **mapped)
{
	/* Static, like the request buffer: the parent's stack stays flat.
	 * As large as the normalised path the policy makes of it. */
	static char out[PATH_MAX];
	char who[NET_ADDRSTRLEN], names[LOG_FILE_NAMES_MAX], lines[96],
		msg[LOG_NAME_MAX];
	struct remap_trace t;
	enum remap_result res;
	uint16_t code;

	*mapped = NULL;
	if (!l->remap)
		return req->filename;
	res = remap_map(l->remap, req->filename,
			req->opcode == TFTP_WRQ ? REMAP_WRQ : REMAP_RRQ,
			&from->sa, out, sizeof(out), &t);
	if (res == REMAP_UNCHANGED || res == REMAP_MAPPED) {
		if (res == REMAP_MAPPED)
			*mapped = out;
		if (res == REMAP_MAPPED && log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG,
				"%s from %s file %s: remapped by "
				"%s line%s %s",
				packet_opcode_name(req->opcode),
				net_format(from, who),
				log_file_names(req->filename, req->filename_len,
					       out, names, sizeof(names)),
				l->cfg->map_file, t.nrewrote == 1 ? "" : "s",
				remap_trace_lines(&t, lines, sizeof(lines)));
		return res == REMAP_MAPPED ? out : req->filename;
	}
	log_file_names(req->filename, req->filename_len, NULL, names,
		       sizeof(names));
	if (res == REMAP_REFUSED) {
		refuse(l, fd, from, src, TFTP_EACCESS,
		       out[0] ? log_sanitize(out, strlen(out), msg, sizeof(msg))
			      : REMAP_DEFAULT_REFUSAL,
		       LOG_INFO, "%s from %s file %s refused by %s line %u",
		       packet_opcode_name(req->opcode), net_format(from, who),
		       names, l->cfg->map_file, t.line);
		return NULL;
	}
	code = res == REMAP_TOO_LONG	? TFTP_ENOTFOUND
	       : res == REMAP_NO_MEMORY ? TFTP_EUNDEF
					: TFTP_EACCESS;
	refuse(l, fd, from, src, code, remap_result_message(res),
	       res == REMAP_NO_MEMORY ? LOG_WARNING : LOG_INFO,
	       "%s from %s file %s refused: %s, at %s line %u",
	       packet_opcode_name(req->opcode), net_format(from, who), names,
	       remap_result_message(res), l->cfg->map_file, t.line);
	return NULL;
}

/* fork() with the signals a child must not take before it is ready held
 * back: the listener's handlers would write to its signal pipe, and a
 * repeat or a stop would be lost. */
static pid_t fork_child(void)
{
	sigset_t all, old;
	pid_t pid;

	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid = fork();
	if (pid != 0)
		sigprocmask(SIG_SETMASK, &old, NULL);
	return pid;
}

/* The limits of one client address: --max-per-client transfers at once,
 * --rate-limit new ones a second.  Children already told to end, and those
 * whose transfer is over (an upload answering a repeat of its last DATA
 * for a while), do not count.  Returns 1 after refusing the request. */
static int over_source_limits(struct listener *l, int fd,
			      const union sockaddr_any *from,
			      struct ratelimit_source *src, const char *op)
{
	const struct config *cfg = l->cfg;
	char who[NET_ADDRSTRLEN];
	unsigned n = 0;

	if (cfg->max_per_client) {
		for (unsigned i = 0; i < l->nchildren; i++)
			n += !l->children[i].ending &&
			     !handoff_done(l->handoff, l->children[i].slot) &&
			     net_same_host(&l->children[i].client, from);
		if (n >= cfg->max_per_client) {
			refuse(l, fd, from, src, TFTP_EUNDEF, "server busy",
			       LOG_WARNING,
			       "%s from %s refused: server busy "
			       "(%u transfers from this address, "
			       "--max-per-client)",
			       op, net_format(from, who), n);
			return 1;
		}
	}
	if (!ratelimit_take(&src->requests, cfg->rate_limit,
			    2 * cfg->rate_limit, now_ms())) {
		refuse(l, fd, from, src, TFTP_EUNDEF, "server busy",
		       LOG_WARNING,
		       "%s from %s refused: server busy (over %u "
		       "new transfers a second from this address, "
		       "--rate-limit)",
		       op, net_format(from, who), cfg->rate_limit);
		return 1;
	}
	return 0;
}

/* --single-port: a request a child handed back (handoff.h), into buf
 * (HANDOFF_REQUEST_MAX bytes), as if it had just come in on the listening
 * socket *idx.  Returns its length, or -1. */
static ssize_t take_back(struct listener *l, int *idx, uint8_t *buf,
			 union sockaddr_any *from, struct net_recv_info *info)
{
	static struct handoff_request r;

	if (handoff_take_back(l->handback[0], &r) != 0 || r.listen_idx < 0 ||
	    r.listen_idx >= l->nfds)
		return -1;
	*idx = r.listen_idx;
	*from = r.client;
	*info = r.origin;
	memcpy(buf, r.bytes, r.len);
	return (ssize_t)r.len;
}

/* A request on listening socket idx, or with idx -1 one handed back. */
static void handle_request(struct listener *l, int idx)
{
	/* Requests are small (RFC 2347 allows 512 bytes; we take more for
	 * clients that overrun it); the buffer is static to keep the parent's
	 * stack and page footprint flat. */
	static uint8_t buf[4096];
	static char rel[PATH_MAX];
	union sockaddr_any from;
	struct net_recv_info info = {0};
	char who[NET_ADDRSTRLEN], name[LOG_FILE_NAMES_MAX];
	struct ratelimit_source *src;
	struct tftp_request req;
	enum path_result pr;
	const char *why, *op, *mapped, *fname;
	int fd, slot, handed_back = idx < 0;
	struct child *c;
	uint64_t hash;
	ssize_t n;
	pid_t pid;

	if (idx < 0) {
		n = take_back(l, &idx, buf, &from, &info);
	} else {
		info.local = l->bound[idx];
		n = net_recv(l->fds[idx], buf, sizeof(buf), &from, &info);
	}
	if (n < 0)
		return;
	fd = l->fds[idx];
	src = ratelimit_lookup(l->sources, &from, now_ms());
	if (info.truncated) {
		refuse(l, fd, &from, src, TFTP_EBADOP, "request too long",
		       LOG_INFO, "request from %s longer than %zu bytes",
		       net_format(&from, who), sizeof(buf));
		return;
	}
	if (n >= 2 && buf[0] == 0 && buf[1] >= TFTP_DATA &&
	    buf[1] <= TFTP_OACK) {
		/* A stray packet of a transfer (often a client's ACK of our
		 * ERROR).  No reply: answering an ERROR with an ERROR would
		 * let two servers bounce packets forever. */
		if (log_enabled(LOG_DEBUG))
			log_msg(LOG_DEBUG,
				"ignoring %s from %s on the listening "
				"port",
				packet_opcode_name(buf[1]),
				net_format(&from, who));
		return;
	}
	if (packet_parse_request(buf, (size_t)n, &req, &why) != 0) {
		refuse(l, fd, &from, src, TFTP_EBADOP, NULL, LOG_INFO,
		       "bad request from %s: %s", net_format(&from, who), why);
		return;
	}
	op = packet_opcode_name(req.opcode);
	if (req.mode != TFTP_MODE_OCTET && req.mode != TFTP_MODE_NETASCII) {
		log_sanitize(req.mode_name, strlen(req.mode_name), name,
			     sizeof(name));
		refuse(l, fd, &from, src, TFTP_EBADOP, "unsupported mode",
		       LOG_INFO, "%s from %s: unsupported mode \"%s\"", op,
		       net_format(&from, who), name);
		return;
	}
	if (req.opcode == TFTP_WRQ && l->cfg->readonly) {
		refuse(l, fd, &from, src, TFTP_EACCESS, "writes are disabled",
		       LOG_INFO,
		       "WRQ from %s refused: writes are disabled "
		       "(--readonly)",
		       net_format(&from, who));
		return;
	}
	if (!(fname = map_request(l, fd, &req, &from, src, &mapped)))
		return;
	pr = path_normalize(l->cfg->root_name, fname, strlen(fname), rel,
			    sizeof(rel));
	if (pr != PATH_OK) {
		log_file_names(req.filename, req.filename_len, mapped, name,
			       sizeof(name));
		refuse(l, fd, &from, src,
		       pr == PATH_TOO_LONG ? TFTP_ENOTFOUND : TFTP_EACCESS,
		       path_result_message(pr), LOG_INFO,
		       "%s from %s file %s refused: %s", op,
		       net_format(&from, who), name, path_result_message(pr));
		return;
	}
	hash = request_hash(buf, (size_t)n);
	if ((c = find_child(l, &from)) != NULL) {
		/* Reap first: a transfer that has just ended is no reason to
		 * keep a client waiting. */
		reap(l, 0);
		c = find_child(l, &from);
		if (c &&
		    repeated_request(l, c, hash, (size_t)n, &from, handed_back))
			return;
	}
	if (l->nchildren >= l->cfg->max_clients) {
		refuse(l, fd, &from, src, TFTP_EUNDEF, "server busy",
		       LOG_WARNING,
		       "%s from %s refused: server busy "
		       "(%u transfers, --max-clients)",
		       op, net_format(&from, who), l->nchildren);
		return;
	}
	if (over_source_limits(l, fd, &from, src, op))
		return;
	if (l->npending)
		retry_releases(l);
	slot = handoff_claim(l->handoff);
	pid = slot < 0 ? -1 : fork_child();
	if (pid < 0) {
		refuse(l, fd, &from, src, TFTP_EUNDEF, "server busy", LOG_ERR,
		       "%s from %s refused: server busy (fork: %s)", op,
		       net_format(&from, who),
		       slot < 0 ? "no handoff slot" : strerror(errno));
		handoff_release(l->handoff, slot);
		return;
	}
	if (pid == 0) {
		struct transfer_request tr = {.req = &req,
					      .rel = rel,
					      .mapped = mapped,
					      .client = from,
					      .origin = info,
					      .wake_fd = -1,
					      .listen_fd = fd,
					      .request = buf,
					      .request_len = (size_t)n,
					      .listen_idx = idx,
					      .handback_fd = l->handback[1]};
		/* --single-port answers from the listening port. */
		net_set_port(&tr.origin.local, net_port(&l->bound[idx]));
		run_child(l, &tr, slot);
	}
	pending_taken_over(l, pid);
	c = &l->children[l->nchildren++];
	c->pid = pid;
	c->client = from;
	c->request_hash = hash;
	c->request_len = (size_t)n;
	c->slot = slot;
	c->ending = 0;
	c->upload = req.opcode == TFTP_WRQ ? strdup(rel) : NULL;
}

static int install_signals(struct listener *l)
{
	static const int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct sigaction sa;

	if (pipe(l->sigpipe) != 0 || set_nonblock_cloexec(l->sigpipe[0]) ||
	    set_nonblock_cloexec(l->sigpipe[1]))
		return -1;
	signal_fd = l->sigpipe[1];
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			return -1;
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigaction(SIGPIPE, &sa, NULL);
	/* The children's wake-up signal: held, never taken, by the
	 * listener, so that a child has it pending until it is ready. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, HANDOFF_SIGNAL);
	return sigprocmask(SIG_BLOCK, &set, NULL);
}

/* SIGHUP: read the rule file again (listener_run). */
static void reload_map(struct listener *l)
{
	const char *path = l->cfg->map_file;
	struct remap_rules *rules;
	struct remap_error err;
	char why[512];

	if (!path)
		return;
	if (l->cfg->chroot) {
		/* The path named a file outside the chroot; inside it, the
		 * same path could name a file a client uploaded. */
		log_msg(LOG_ERR,
			"map file %s not read again: out of reach in "
			"the chroot (--secure); the %zu rules read at start-up "
			"stay in force until a restart",
			path, remap_count(l->remap));
		return;
	}
	rules = remap_load(path, &err);
	if (!rules) {
		log_msg(LOG_ERR, "%s; the %zu rules in force stay",
			remap_error_format(path, &err, why, sizeof(why)),
			remap_count(l->remap));
		return;
	}
	remap_free(l->remap);
	l->remap = rules;
	log_msg(LOG_NOTICE, "map file %s read again: %zu rules", path,
		remap_count(rules));
}

/* Read pending signal numbers.  Returns 1 when asked to stop. */
static int drain_signals(struct listener *l)
{
	unsigned char sigs[64];
	ssize_t n;
	int stop = 0;

	while ((n = read(l->sigpipe[0], sigs, sizeof(sigs))) > 0) {
		for (ssize_t i = 0; i < n; i++) {
			if (sigs[i] == SIGCHLD) {
				reap(l, 0);
			} else if (sigs[i] == SIGHUP) {
				log_reopen();
				reload_map(l);
			} else if (sigs[i] == SIGUSR1) {
				log_cache_stats(l);
			} else {
				stop = 1;
			}
		}
	}
	return stop;
}

/* Wait for the children to finish, at most LISTENER_GRACE_SECONDS, then
 * end the rest. */
static void drain_children(struct listener *l)
{
	time_t deadline = time(NULL) + LISTENER_GRACE_SECONDS;
	char where[NET_ADDRSTRLEN];

	reap(l, 0);
	if (l->nchildren)
		log_msg(LOG_NOTICE, "waiting up to %d s for %u transfers",
			LISTENER_GRACE_SECONDS, l->nchildren);
	while (l->nchildren > 0 && time(NULL) < deadline) {
		struct pollfd pfd = {.fd = l->sigpipe[0], .events = POLLIN};
		(void)poll(&pfd, 1, 1000);
		(void)drain_signals(l);
	}
	for (unsigned i = 0; i < l->nchildren; i++) {
		log_msg(LOG_WARNING, "ending transfer process %ld for %s",
			(long)l->children[i].pid,
			net_format(&l->children[i].client, where));
		kill(l->children[i].pid, SIGTERM);
	}
	while (l->nchildren > 0) {
		unsigned before = l->nchildren;
		reap(l, 1);
		if (l->nchildren == before)
			break; /* ECHILD: nothing left to wait for */
	}
}

/* --single-port: prove that this host routes a client's datagrams to its
 * transfer's socket (net.h) for each listening socket, and open the
 * channel on which children hand requests back (a poll entry of fd -1
 * without it).  Returns 0, or -1 after logging why the option cannot be
 * had. */
static int single_port_start(struct listener *l)
{
	char where[NET_ADDRSTRLEN];
	const char *why;

	l->handback[0] = l->handback[1] = -1;
	if (!l->cfg->single_port)
		return 0;
	for (int i = 0; i < l->nfds; i++) {
		if (net_single_port_check(&l->bound[i], &why) != 0) {
			log_msg(LOG_ERR,
				"--single-port refused on %s: %s (%s); "
				"not serving",
				net_format(&l->bound[i], where), why,
				errno ? strerror(errno) : "no error code");
			return -1;
		}
	}
	if (handoff_channel(l->handback) != 0) {
		log_msg(LOG_ERR, "--single-port: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int listener_run(struct listener *l)
{
	struct pollfd pfds[LISTENER_MAX_SOCKETS + 2];
	nfds_t npfds;
	char where[NET_ADDRSTRLEN];

	listener_pid = getpid();
	/* The child table and the per-address limits are the listener's
	 * alone: not inherited, so written after each fork without a
	 * copy-on-write fault, and untouched entries cost no memory. */
	l->children = shmem_parent_only((size_t)l->cfg->max_clients *
					sizeof(*l->children));
	l->handoff = handoff_create(l->cfg->max_clients);
	l->sources = shmem_parent_only(sizeof(*l->sources));
	if (!l->children || !l->handoff || !l->sources ||
	    install_signals(l) != 0) {
		log_msg(LOG_ERR, "start-up: %s", strerror(errno));
		return 1;
	}
	if (single_port_start(l) != 0)
		return 1;
	for (int i = 0; i < l->nfds; i++) {
		pfds[i].fd = l->fds[i];
		pfds[i].events = POLLIN;
		log_msg(LOG_NOTICE, "listening on %s, serving %s%s",
			net_format(&l->bound[i], where), l->cfg->root_name,
			l->cfg->single_port ? "; transfers answer from this "
					      "port (--single-port)"
					    : "");
	}
	pfds[l->nfds].fd = l->sigpipe[0];
	pfds[l->nfds].events = POLLIN;
	pfds[l->nfds + 1].fd = l->handback[0];
	pfds[l->nfds + 1].events = POLLIN;
	/* The hand-back socket exists only with --single-port.  An unused
	 * entry would still count: poll fails with EINVAL when nfds exceeds
	 * RLIMIT_NOFILE, which a listener holding one socket per address and
	 * its signal pipe must survive at the lowest limit. */
	npfds = (nfds_t)l->nfds + 1 + (l->handback[0] >= 0);
	/* The hash seed only has to differ between runs and hosts.  The
	 * table is zero-filled, so empty already: only the seed is set, and
	 * its pages stay unused until an address lands in them. */
	l->sources->seed = (uint64_t)now_ms() * 2654435761u ^
			   (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);

	time_t last_busy = time(NULL);
	int idle = 0;
	for (;;) {
		int wait_ms = -1;
		if (l->idle_exit) {
			/* Idle means no request and no transfer: inetd must
			 * not start a second server while transfers run. */
			time_t now = time(NULL);
			if (l->nchildren > 0)
				last_busy = now;
			else if (now - last_busy >=
				 (time_t)l->cfg->idle_timeout) {
				idle = 1;
				break;
			}
			int64_t left_ms = ((int64_t)l->cfg->idle_timeout -
					   (int64_t)(now - last_busy)) *
					  1000;
			wait_ms = left_ms > INT_MAX ? INT_MAX : (int)left_ms;
			if (l->nchildren > 0)
				wait_ms = 1000;
		}
		if (l->quiet_lines || l->quiet_replies) {
			/* The suppression summary is due even if nothing
			 * more comes. */
			int64_t due =
				l->quiet_since_ms + QUIET_SUMMARY_MS - now_ms();
			int due_ms = due < 0 ? 0 : (int)due;
			if (wait_ms < 0 || due_ms < wait_ms)
				wait_ms = due_ms;
		}
		int n = poll(pfds, npfds, wait_ms);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_msg(LOG_ERR, "poll: %s", strerror(errno));
			return 1;
		}
		quiet_summary(l, now_ms(), 0);
		if (pfds[l->nfds].revents && drain_signals(l))
			break;
		for (int i = 0; i < l->nfds; i++) {
			if (pfds[i].revents & POLLIN) {
				handle_request(l, i);
				last_busy = time(NULL);
			}
		}
		if (npfds > (nfds_t)l->nfds + 1 &&
		    (pfds[l->nfds + 1].revents & POLLIN))
			handle_request(l, -1);
	}
	if (idle)
		log_msg(LOG_INFO, "idle for %u s: exiting",
			l->cfg->idle_timeout);
	quiet_summary(l, now_ms(), 1);
	log_msg(LOG_NOTICE, "stopping: no new requests");
	for (int i = 0; i < l->nfds; i++)
		close(l->fds[i]);
	drain_children(l);
	log_msg(LOG_NOTICE, "stopped");
	return 0;
}
