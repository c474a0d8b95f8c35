/* A ctftpd listener whose shared cache lock is held by a stopped process,
 * as if a transfer had been stopped (SIGSTOP, a debugger) inside a critical
 * section: for tests/faults.bats, which checks that the others keep being
 * served.  Takes ctftpd's command line (foreground, standalone); logs the
 * holder's pid as "cache lock held by stopped process PID", then serves
 * until SIGTERM.  The test ends the holder itself. */
#include "autoconfig.h"

#include "cache.h"
#include "cache_test_hooks.h"
#include "config.h"
#include "listener.h"
#include "log.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Fork a process that takes the index lock and stops with it (without
 * the listening sockets: it is not a listener).  Returns its pid, or -1. */
static pid_t stopped_holder(struct listener *l, struct cache *c)
{
	int pfd[2];
	char b;
	pid_t pid;

	if (pipe(pfd) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < l->nfds; i++)
			close(l->fds[i]);
		close(pfd[0]);
		if (cache_debug_lock(c) != 0)
			_exit(1);
		(void)!write(pfd[1], "x", 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	if (pid < 0 || read(pfd[0], &b, 1) != 1) {
		close(pfd[0]);
		return -1;
	}
	close(pfd[0]);
	kill(pid, SIGSTOP);
	return pid;
}

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct listener l;
	struct cache_params cp;
	char err[512];
	pid_t holder;

	if (config_parse(argc, argv, &cfg, err, sizeof(err)) != CONFIG_RUN ||
	    cfg.cache_size == 0) {
		fprintf(stderr, "lockheld: %s\n",
			cfg.cache_size ? err : "needs a cache");
		return 2;
	}
	cfg.root_real = realpath(cfg.root, NULL);
	if (!cfg.root_real) {
		perror(cfg.root);
		return 2;
	}
	cfg.root_name = cfg.root_real;
	log_open("ctftpd", 1, cfg.verbosity);
	if (listener_bind(&l, &cfg) != 0)
		return 1;
	cache_params_default(&cp);
	cp.size = cfg.cache_size;
	cp.max_file = cfg.cache_max_file;
	cp.max_pins = cfg.max_clients;
	cp.settle_ms = cfg.cache_min_age_ms;
	l.cache = cache_create(&cp);
	if (!l.cache) {
		perror("lockheld: cache_create");
		return 1;
	}
	holder = stopped_holder(&l, l.cache);
	if (holder < 0) {
		perror("lockheld: lock holder");
		return 1;
	}
	log_msg(LOG_NOTICE, "cache lock held by stopped process %ld",
		(long)holder);
	return listener_run(&l);
}
