/* ctftpd: parse the command line, check the root, bind, detach, serve. */
#include "autoconfig.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "daemon.h"
#include "listener.h"
#include "log.h"

/* Exit statuses (documented in ctftpd(8)). */
enum {
	EXIT_OK = 0,      /* stopped cleanly, or --help / --version */
	EXIT_RUNTIME = 1, /* could not start or keep serving: bind, fork... */
	EXIT_USAGE = 2,   /* bad command line or configuration */
};

int main(int argc, char **argv)
{
	static struct config cfg;
	static struct listener l;
	char err[512];
	struct stat st;

	switch (config_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CONFIG_HELP:
		fputs(config_usage(), stdout);
		return EXIT_OK;
	case CONFIG_VERSION:
		puts(PACKAGE_STRING);
		return EXIT_OK;
	case CONFIG_ERROR:
		fprintf(stderr, "ctftpd: %s\nTry 'ctftpd --help'.\n", err);
		return EXIT_USAGE;
	case CONFIG_RUN:
		break;
	}
	cfg.root_real = realpath(cfg.root, NULL);
	if (!cfg.root_real || stat(cfg.root_real, &st) != 0) {
		fprintf(stderr, "ctftpd: file directory '%s': %s\n", cfg.root,
			strerror(errno));
		return EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "ctftpd: file directory '%s': not a directory\n",
			cfg.root);
		return EXIT_USAGE;
	}

	log_open("ctftpd", 1, cfg.verbosity);
	if (listener_bind(&l, &cfg) != 0)
		return EXIT_RUNTIME;
	if (!cfg.foreground) {
		if (daemon_detach() != 0) {
			log_msg(LOG_ERR, "cannot detach: %s", strerror(errno));
			return EXIT_RUNTIME;
		}
		log_open("ctftpd", 0, cfg.verbosity);
	}
	return listener_run(&l);
}
