/* The daemon's settings: defaults, command-line parsing and validation.
 * Built once at start-up and read-only after.  Pure: prints nothing. */
#ifndef CTFTPD_CONFIG_H
#define CTFTPD_CONFIG_H

#include <stddef.h>

#define CONFIG_MAX_LISTEN 8

/* Largest windowsize granted unless --max-window says otherwise (blocks). */
#define CONFIG_DEFAULT_MAX_WINDOW 16

/* The default --give-up (milliseconds): no shorter than tftpd-hpa's wait. */
#define CONFIG_DEFAULT_GIVE_UP_MS 60000

/* The default --max-per-client (transfers) and --rate-limit (new transfers
 * per second, per client address). */
#define CONFIG_DEFAULT_MAX_PER_CLIENT 8
#define CONFIG_DEFAULT_RATE_LIMIT 100

/* cfg->umask: keep the umask the daemon was started with; and, inside
 * config_parse only, "not given yet". */
#define CONFIG_UMASK_INHERIT 01000u
#define CONFIG_UMASK_UNSET 02000u

/* One --address or --host: a numeric address, and a port or 0 for --port.
 * The address is copied in (room for an IPv6 address with a %scope), so a
 * config holds no pointer into parser state. */
struct config_listen {
	char host[64];
	unsigned port;
};

enum config_mode {
	CONFIG_MODE_AUTO,	/* inetd if fd 0 is a datagram socket, systemd
				 * if LISTEN_FDS says so, else standalone */
	CONFIG_MODE_STANDALONE, /* -l, --listen */
	CONFIG_MODE_INETD,	/* --inetd */
};

struct config {
	struct config_listen listen[CONFIG_MAX_LISTEN];
	unsigned nlisten;	 /* 0 = all IPv4 and IPv6 addresses */
	unsigned port;		 /* UDP port to listen on (default 69) */
	const char *root;	 /* --file-directory as given */
	char *root_real;	 /* canonical root, set by main (realpath); "/"
				  * after --chroot */
	const char *root_name;	 /* canonical root as named before any chroot:
				  * the prefix stripped from requested names */
	unsigned max_block_size; /* bytes; 0 = the MTU of the interface */
	unsigned max_window;	 /* blocks: largest windowsize granted */
	unsigned refused;    /* OPTION_* bits of options to ignore (--refuse) */
	unsigned timeout_ms; /* longest wait for a client before resending */
	unsigned min_timeout_ms; /* floor of the adaptive timeout (ms) */
	unsigned retries;	 /* with timeout_ms, the default give_up_ms */
	unsigned give_up_ms;	 /* a transfer whose client made no progress
				  * for this long ends (--give-up, or the
				  * larger of 60 s and timeout_ms x
				  * (retries + 1)) */
	int strict_timeout;	 /* a client's timeout option fixes the timer */
	unsigned max_clients;	 /* concurrent transfers (children) */
	unsigned max_per_client; /* concurrent transfers per client address;
				  * 0 = no limit but max_clients */
	unsigned rate_limit;	 /* new transfers a second per client address
				  * (bursts of twice as many); 0 = no limit */
	unsigned verbosity;	 /* enum log_verbosity */
	int foreground;
	int permissive;	       /* serve files without the world-read bit */
	int mode;	       /* enum config_mode: where the listening
				* sockets come from */
	int family;	       /* AF_UNSPEC, or AF_INET / AF_INET6 (-4, -6) */
	unsigned idle_timeout; /* seconds: inetd / socket-activated idle exit */
	const char *pidfile;   /* NULL: none */
	const char *log_file;  /* --log-file, or NULL: syslog or stderr */
	const char *user;      /* drop to this user after binding; NULL:
				* daemon_default_user() when started as root */
	const char *group;     /* and this group (default: the user's) */
	int chroot;	       /* chroot into the root after binding */
	unsigned umask;	       /* new uploaded files get 0666 & ~umask (-U;
				* default 0, or CONFIG_UMASK_INHERIT with
				* --permissive, as tftpd-hpa) */
	int create;	       /* -c: uploads may create new files */
	int readonly;	       /* --readonly: refuse every WRQ */
	size_t max_upload_size;	      /* bytes; 0 = no limit but the disk */
	const char *map_file;	      /* -m: remap rules (remap.h), or NULL */
	int map_test;		      /* --map-test: map standard input, serve
				       * nothing */
	unsigned port_low, port_high; /* transfer ports; 0 = any */
	int single_port;	   /* --single-port: transfers answer from the
				    * listening address and port (net.h,
				    * net_shared_port_socket) */
	size_t cache_size;	   /* bytes of the shared cache; 0 = off */
	size_t cache_max_file;	   /* bytes: larger files are never cached */
	unsigned cache_min_age_ms; /* files changed more recently: not cached */
};

enum config_status {
	CONFIG_RUN,	/* parsed: run the daemon */
	CONFIG_HELP,	/* --help was given */
	CONFIG_VERSION, /* --version was given */
	CONFIG_ERROR,	/* bad command line: message in errbuf */
};

/* Fill cfg with the defaults (each one is in the option table). */
void config_defaults(struct config *cfg);

/* Parse argv into cfg (defaults first).  Prints nothing.  On CONFIG_ERROR,
 * errbuf (errsz bytes) says what is wrong, naming the option by its long
 * name.  cfg may point into argv (file names), and getopt may reorder argv.
 * getopt's globals (optind, optarg, optopt, opterr) are reset on entry, so
 * it may be called again (the unit tests do); where getopt_long is missing
 * POSIX has no full reset, and a call that stopped inside a group of short
 * options ("-Lc") leaves getopt mid-word: call it once per process there.
 * Not thread-safe. */
enum config_status config_parse(int argc, char **argv, struct config *cfg,
				char *errbuf, size_t errsz);

/* Write the --help text into buf (size bytes, always NUL-terminated when
 * size > 0).  Returns its full length, as snprintf does: call with size 0
 * to learn how much room it needs. */
size_t config_usage(char *buf, size_t size);

#endif
