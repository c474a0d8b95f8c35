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

/* Everything up to the listener loop; returns an exit status, or -1 to go
 * on serving. */
static int start(struct config *cfg, struct listener *l,
		 struct remap_rules *rules, int *pidfd)
{
	int fds[LISTENER_MAX_SOCKETS], nfds;
	const char *why;
	uid_t uid = 0;
	gid_t gid = 0;
	struct stat st;
	pid_t holder;
	int detach, devnull = -1;

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
	if ((cfg->user || cfg->group) &&
	    daemon_lookup_user(cfg->user, cfg->group, &uid, &gid, &why) != 0) {
		fprintf(stderr, "ctftpd: --%s '%s': %s\n",
			cfg->group && strstr(why, "group") ? "group" : "user",
			cfg->group && strstr(why, "group") ? cfg->group
							   : cfg->user,
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
	/* Under inetd, standard error may be the socket itself: log to
	 * syslog from the start unless told otherwise. */
	log_open("ctftpd", cfg->foreground || nfds == 0, cfg->verbosity);
	if (nfds > 0) {
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

	/* Connect to syslog, and open /dev/null for detaching, while a
	 * chroot has not hidden them yet. */
	if (!cfg->foreground)
		log_connect_syslog();
	detach = nfds == 0 && !cfg->foreground;
	if (detach && (devnull = open("/dev/null", O_RDWR)) < 0) {
		log_msg(LOG_ERR, "/dev/null: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	if (cfg->chroot || cfg->user || cfg->group) {
		if (daemon_confine(cfg->chroot ? cfg->root_real : NULL,
				   cfg->user || cfg->group, uid, gid,
				   &why) != 0) {
			log_msg(LOG_ERR, "cannot %s: %s; not serving",
				cfg->chroot ? "chroot and drop privileges"
					    : "drop privileges",
				why);
			return EXIT_RUNTIME;
		}
		if (cfg->chroot) {
			log_pin_syslog();
			/* root_name keeps the old path for names that
			 * spell it. */
			cfg->root_real = strdup("/");
			if (!cfg->root_real)
				return EXIT_RUNTIME;
		}
	}
	if (detach) {
		if (daemon_detach(devnull) != 0) {
			log_msg(LOG_ERR, "cannot detach: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
		log_open("ctftpd", 0, cfg->verbosity);
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
