/* ctftpd: parse the command line, check the root, get the sockets (bind,
 * or take them from inetd or systemd), confine, detach, serve. */
#include "autoconfig.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "config.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"
#include "maptest.h"
#include "remap.h"

/* Exit statuses (documented in ctftpd(8)). */
enum {
	EXIT_OK = 0,	  /* stopped cleanly, or --help / --version */
	EXIT_RUNTIME = 1, /* could not start or keep serving: bind, fork... */
	EXIT_USAGE = 2,	  /* bad command line or configuration */
};

/* Read and compile --map-file, and make its name absolute: SIGHUP reads it
 * again after daemon_detach has changed to "/".  Done before anything is
 * bound and before the chroot, which would hide a file outside the root.
 * Returns the rules, or NULL after saying on standard error what is wrong
 * (with the line). */
static struct remap_rules *load_map(struct config *cfg)
{
	struct remap_rules *rules;
	struct remap_error err;
	char why[512], *abs;

	rules = remap_load(cfg->map_file, &err);
	if (!rules) {
		fprintf(stderr, "ctftpd: --map-file %s\n",
			remap_error_format(cfg->map_file, &err, why,
					   sizeof(why)));
		return NULL;
	}
	abs = realpath(cfg->map_file, NULL);
	if (!abs) {
		fprintf(stderr, "ctftpd: --map-file %s: %s\n", cfg->map_file,
			strerror(errno));
		remap_free(rules);
		return NULL;
	}
	cfg->map_file = abs;
	return rules;
}

/* --map-test: map the names on standard input with the rules, serve
 * nothing.  The root, when it exists, is named as the listener names it. */
static int map_test(struct config *cfg)
{
	struct remap_rules *rules = load_map(cfg);
	char *root;
	int rc;

	if (!rules)
		return EXIT_USAGE;
	root = realpath(cfg->root, NULL);
	struct maptest_defaults d = {NULL, REMAP_RRQ, root ? root : cfg->root};
	rc = maptest_run(rules, &d, stdin, stdout);
	if (rc != 0)
		fprintf(stderr, "ctftpd: --map-test: %s\n", strerror(errno));
	free(root);
	remap_free(rules);
	return rc != 0 ? EXIT_RUNTIME : EXIT_OK;
}

/* Where the log goes, decided once the sockets are known (inherited: from
 * inetd or systemd) and never nowhere: --log-file; standard error with
 * --foreground (not when inetd made it the socket); else syslog, if a
 * syslog daemon listens; else standard error if it leads somewhere (a
 * terminal, the journal, a file, a pipe unless detaching), kept open when
 * detaching (*keep_stderr); else LOG_FALLBACK_FILE.  A standalone daemon's
 * start-up lines reach the terminal too until it detaches.  Returns 0, or
 * an exit status after saying on standard error what is wrong. */
static int choose_log(const struct config *cfg, int inherited, int *keep_stderr)
{
	int echo = !inherited && !cfg->foreground;
	const char *why;

	*keep_stderr = 0;
	log_open("ctftpd", 1, cfg->verbosity);
	if (cfg->log_file) {
		if (log_open_file(cfg->log_file) != 0) {
			fprintf(stderr, "ctftpd: --log-file %s: %s\n",
				cfg->log_file, strerror(errno));
			return EXIT_USAGE;
		}
		log_echo_stderr(echo);
		return 0;
	}
	/* --foreground logs to standard error, unless a superserver made
	 * it the socket (inetd's dgram wait: fds 0 to 2), where a line would
	 * be lost: then as a daemon. */
	if (cfg->foreground && (!inherited || log_stderr_usable(0)))
		return 0;
	if (log_syslog_reachable()) {
		log_open("ctftpd", 0, cfg->verbosity);
		log_echo_stderr(echo);
		return 0;
	}
	why = strerror(errno);
	if (log_stderr_usable(echo)) {
		*keep_stderr = 1;
		log_msg(LOG_WARNING,
			"no syslog at %s (%s): logging to standard error "
			"(--log-file FILE logs to a file)",
			log_syslog_path(), why);
		return 0;
	}
	if (log_open_file(LOG_FALLBACK_FILE) == 0) {
		log_echo_stderr(echo);
		log_msg(LOG_WARNING,
			"no syslog at %s (%s): logging to %s (--log-file FILE "
			"to choose)",
			log_syslog_path(), why, LOG_FALLBACK_FILE);
		return 0;
	}
	fprintf(stderr,
		"ctftpd: no syslog at %s (%s), standard error leads nowhere, "
		"and %s: %s: give --log-file FILE, or --foreground\n",
		log_syslog_path(), why, LOG_FALLBACK_FILE, strerror(errno));
	return EXIT_RUNTIME;
}

/* Everything up to the listener loop; returns an exit status, or -1 to go
 * on serving. */
static int start(struct config *cfg, struct listener *l,
		 struct remap_rules *rules, int *pidfd)
{
	int fds[LISTENER_MAX_SOCKETS], nfds;
	const char *why, *user = cfg->user;
	uid_t uid = 0;
	gid_t gid = 0;
	struct stat st;
	pid_t holder;
	int detach, devnull = -1, keep_stderr, rc, default_user = 0;
	int keep_bind;

	cfg->root_real = realpath(cfg->root, NULL);
	if (!cfg->root_real || stat(cfg->root_real, &st) != 0) {
		fprintf(stderr, "ctftpd: file directory '%s': %s\n", cfg->root,
			strerror(errno));
		return EXIT_USAGE;
	}
	cfg->root_name = cfg->root_real;
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"ctftpd: file directory '%s': not a directory\n",
			cfg->root);
		return EXIT_USAGE;
	}
	/* Started as root, a daemon drops to an unprivileged user unless told
	 * otherwise, as tftpd-hpa does: staying root is a choice to write. */
	if (!user && geteuid() == 0) {
		user = daemon_default_user();
		default_user = 1;
	}
	if (user &&
	    daemon_lookup_user(user, cfg->group, &uid, &gid, &why) != 0) {
		if (default_user)
			fprintf(stderr,
				"ctftpd: started as root without --user, and "
				"there is no user '%s' to run as: give "
				"--user USER (--user root to stay root)\n",
				user);
		else
			fprintf(stderr, "ctftpd: --%s '%s': %s\n",
				cfg->group && strstr(why, "group") ? "group"
								   : "user",
				cfg->group && strstr(why, "group") ? cfg->group
								   : user,
				why);
		return EXIT_USAGE;
	}

	nfds = daemon_inherited_sockets(cfg->mode == CONFIG_MODE_AUTO,
					cfg->mode == CONFIG_MODE_INETD, fds,
					LISTENER_MAX_SOCKETS, &why);
	if (nfds < 0) {
		fprintf(stderr, "ctftpd: %s\n", why);
		return EXIT_USAGE;
	}
	/* Nothing the starting process left open reaches a transfer: keep
	 * the standard streams and systemd's sockets (3 up), or inetd's (0). */
	daemon_close_inherited(nfds > 0 && fds[0] > STDERR_FILENO
				       ? fds[nfds - 1] + 1
				       : STDERR_FILENO + 1);
	rc = choose_log(cfg, nfds > 0, &keep_stderr);
	if (rc != 0)
		return rc;
	if (nfds > 0) {
		/* The superserver or systemd bound the sockets: an address
		 * given here cannot take effect (ctftpd.socket's
		 * ListenDatagram= decides), and must not pass unnoticed. */
		if (cfg->nlisten > 0)
			log_msg(LOG_WARNING,
				"--address/--host ignored: serving the %d "
				"socket%s inherited from %s",
				nfds, nfds == 1 ? "" : "s",
				fds[0] == STDIN_FILENO ? "inetd" : "systemd");
		if (listener_adopt(l, cfg, fds, nfds, 1) != 0)
			return EXIT_RUNTIME;
	} else {
		if (cfg->pidfile) {
			*pidfd = daemon_pidfile_open(cfg->pidfile, &holder);
			if (*pidfd < 0) {
				if (errno == EAGAIN)
					log_msg(LOG_ERR,
						"pidfile %s: ctftpd "
						"already running (pid %ld)",
						cfg->pidfile, (long)holder);
				else
					log_msg(LOG_ERR, "pidfile %s: %s",
						cfg->pidfile, strerror(errno));
				return EXIT_RUNTIME;
			}
		}
		if (listener_bind(l, cfg) != 0)
			return EXIT_RUNTIME;
	}
	l->remap = rules;
	if (rules)
		log_msg(LOG_NOTICE, "map file %s: %zu rules", cfg->map_file,
			remap_count(rules));

	/* The cache: one shared mapping, made before the first fork so every
	 * transfer inherits it, and before the privilege drop. */
	if (cfg->cache_size > 0) {
		struct cache_params cp;
		cache_params_default(&cp);
		cp.size = cfg->cache_size;
		cp.max_file = cfg->cache_max_file;
		cp.max_pins = cfg->max_clients;
		cp.settle_ms = cfg->cache_min_age_ms;
		l->cache = cache_create(&cp);
		if (!l->cache && errno == EINVAL) {
			log_msg(LOG_ERR,
				"--cache-size %zu: too small for "
				"one %zu-byte chunk and its index",
				cfg->cache_size, cp.chunk_size);
			return EXIT_USAGE;
		}
		if (!l->cache)
			log_msg(LOG_WARNING, "cache off: %s", strerror(errno));
	}

	/* Open /dev/null for detaching while a chroot has not hidden it.
	 * (Syslog, when used, was connected by choose_log.) */
	detach = nfds == 0 && !cfg->foreground;
	if (detach && (devnull = open("/dev/null", O_RDWR)) < 0) {
		log_msg(LOG_ERR, "/dev/null: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	/* --single-port binds each transfer's socket to the listening port:
	 * below 1024, that needs CAP_NET_BIND_SERVICE after the drop. */
	keep_bind = cfg->single_port && user && uid != 0 && geteuid() == 0;
	if (keep_bind && daemon_keep_bind_prepare(&why) != 0) {
		log_msg(LOG_INFO, "cannot keep CAP_NET_BIND_SERVICE: %s", why);
		keep_bind = 0;
	}
	if (cfg->chroot || user) {
		if (daemon_confine(cfg->chroot ? cfg->root_real : NULL,
				   user != NULL, uid, gid, &why) != 0) {
			log_msg(LOG_ERR, "cannot %s: %s; not serving",
				cfg->chroot ? "chroot and drop privileges"
					    : "drop privileges",
				why);
			return EXIT_RUNTIME;
		}
		/* A failure here leaves root's capabilities permitted: the
		 * process must not serve. */
		rc = keep_bind ? daemon_keep_bind_finish(&why) : 0;
		if (rc < 0) {
			log_msg(LOG_ERR,
				"cannot limit capabilities to "
				"CAP_NET_BIND_SERVICE: %s; not serving",
				why);
			return EXIT_RUNTIME;
		}
		if (rc > 0) {
			log_msg(LOG_INFO,
				"cannot keep CAP_NET_BIND_SERVICE: %s", why);
			keep_bind = 0;
		}
		if (keep_bind)
			log_msg(LOG_INFO,
				"kept CAP_NET_BIND_SERVICE alone, for "
				"--single-port's transfer sockets");
		if (cfg->chroot) {
			log_pin_syslog();
			/* root_name keeps the old path for names that
			 * spell it. */
			cfg->root_real = strdup("/");
			if (!cfg->root_real)
				return EXIT_RUNTIME;
		}
	}
	if (user && uid == 0)
		log_msg(LOG_WARNING,
			"running as root (--user %s): transfers may read and "
			"write whatever root may",
			user);
	else if (user)
		log_msg(LOG_NOTICE, "running as user %s (uid %ld, gid %ld)%s",
			user, (long)uid, (long)gid,
			default_user ? ", the default when started as root "
				       "(--user to choose)"
				     : "");
	if (detach) {
		if (daemon_detach(devnull, keep_stderr) != 0) {
			log_msg(LOG_ERR, "cannot detach: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
		log_echo_stderr(0);
	}
	if (*pidfd >= 0 && daemon_pidfile_claim(*pidfd) != 0) {
		log_msg(LOG_ERR, "pidfile %s: %s", cfg->pidfile,
			strerror(errno));
		return EXIT_RUNTIME;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct listener l;
	static struct remap_rules *rules; /* static: reachable until exit */
	char err[512];
	int pidfd = -1, rc;

	if (daemon_standard_streams() != 0)
		return EXIT_RUNTIME; /* nowhere to say it */
	switch (config_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_HELP: {
		size_t n = config_usage(NULL, 0) + 1;
		char *help = malloc(n);
		if (!help) {
			perror("ctftpd");
			return EXIT_RUNTIME;
		}
		config_usage(help, n);
		fputs(help, stdout);
		free(help);
		return EXIT_OK;
	}
	case CONFIG_VERSION:
		puts(PACKAGE_STRING);
		return EXIT_OK;
	case CONFIG_ERROR:
		fprintf(stderr, "ctftpd: %s\nTry 'ctftpd --help'.\n", err);
		return EXIT_USAGE;
	case CONFIG_RUN:
		break;
	}
	if (cfg.map_test)
		return map_test(&cfg);
	if (cfg.map_file && !(rules = load_map(&cfg)))
		return EXIT_USAGE;
	rc = start(&cfg, &l, rules, &pidfd);
	if (rc < 0)
		rc = listener_run(&l);
	if (pidfd >= 0) {
		/* Possible only without chroot and with the directory still
		 * writable to us; init scripts remove it otherwise. */
		(void)unlink(cfg.pidfile);
		close(pidfd);
	}
	return rc;
}
