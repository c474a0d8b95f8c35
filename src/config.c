/* Command-line parsing: every number is checked for junk and range, and
 * every error names the option, before anything is bound or opened. */
#include "autoconfig.h"
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_GETOPT_LONG
#include <getopt.h>
#endif

#include "log.h"
#include "options.h"
#include "packet.h"
#include "rto.h"

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->port = 69;
	cfg->root = CTFTPD_DEFAULT_ROOT;
	cfg->max_block_size = 0;
	cfg->max_window = CONFIG_DEFAULT_MAX_WINDOW;
	cfg->timeout_ms = 1000;
	cfg->idle_timeout = 900;
	cfg->umask = 022;
	cfg->family = AF_UNSPEC;
	cfg->cache_size = (size_t)64 << 20;
	cfg->cache_max_file = (size_t)16 << 20;
	cfg->cache_min_age_ms = 2000;
	cfg->min_timeout_ms = RTO_FLOOR_MS;
	cfg->retries = 5;
	cfg->give_up_ms = CONFIG_DEFAULT_GIVE_UP_MS;
	cfg->max_clients = 256;
	cfg->max_per_client = CONFIG_DEFAULT_MAX_PER_CLIENT;
	cfg->rate_limit = CONFIG_DEFAULT_RATE_LIMIT;
	cfg->verbosity = LOG_V_TRANSFERS;
}

#define STR2(x) #x
#define STR(x) STR2(x)

const char *config_usage(void)
{
	return "Usage: ctftpd [OPTION]... [DIRECTORY]\n"
	       "Serve files from DIRECTORY (default " CTFTPD_DEFAULT_ROOT
	       ") over TFTP.\n"
	       "\n"
	       "Running:\n"
	       "  -l, --listen               standalone: bind the port and serve (the default\n"
	       "                             unless fd 0 is a datagram socket)\n"
	       "      --inetd                serve the datagram socket on fd 0 (inetd; found\n"
	       "                             by itself); systemd LISTEN_FDS is honoured too\n"
	       "  -t, --idle-timeout SECONDS inetd/systemd: exit after this long idle, 0 never\n"
	       "                             (default 900)\n"
	       "  -L, --foreground           do not detach; log to standard error\n"
	       "  -P, --pidfile FILE         write the daemon's pid to FILE, locked\n"
	       "  -u, --user USER            run as USER after binding (and chroot)\n"
	       "      --group GROUP          run as GROUP (default: USER's group)\n"
	       "  -s, --secure, --chroot     chroot into DIRECTORY after binding\n"
	       "\n"
	       "Network and protocol:\n"
	       "  -a, --address ADDR[:PORT]  listen on ADDR (numeric, [v6]:port; repeatable);\n"
	       "                             default: all IPv4 and IPv6 addresses\n"
	       "      --host ADDR            the same as --address\n"
	       "      --port PORT            UDP port to listen on (default 69)\n"
	       "  -4, --ipv4                 IPv4 only\n"
	       "  -6, --ipv6                 IPv6 only\n"
	       "  -R, --port-range LOW:HIGH  send from transfer ports in LOW..HIGH\n"
	       "      --file-directory DIR   serve files from DIR\n"
	       "  -B, --max-block-size N     largest blksize granted, 8..65464 bytes; also\n"
	       "      --blocksize N          (tftpd-hpa's name)\n"
	       "                             (default: the interface MTU less headers)\n"
	       "      --max-window N         largest windowsize granted, 1..32767 blocks\n"
	       "                             (default " STR(CONFIG_DEFAULT_MAX_WINDOW) ")\n"
	       "  -r, --refuse OPTION        ignore a client's OPTION (blksize, timeout,\n"
	       "                             tsize, windowsize); repeatable\n"
	       "      --timeout SECONDS      longest wait for a client before resending,\n"
	       "                             1..255 (default 1); the wait adapts to the\n"
	       "                             measured round trip below it\n"
	       "  -T, --retransmit USEC      the same in microseconds (tftpd-hpa's -T)\n"
	       "      --min-timeout MS       shortest adaptive wait, 1..255000 ms (default 20);\n"
	       "                             set to --timeout's value to turn adaptation off\n"
	       "      --retries N            with --timeout, sets the default --give-up:\n"
	       "                             --timeout x (N + 1), 1..100 (default 5)\n"
	       "      --give-up SECONDS      end a transfer whose client made no progress\n"
	       "                             for this long, 1..3600 (default: 30, or\n"
	       "                             --timeout x (--retries + 1) when longer)\n"
	       "      --strict-timeout       a client's timeout option fixes the resend\n"
	       "                             timer (RFC 2349 read literally) instead of\n"
	       "                             capping the adaptive one\n"
	       "      --max-clients N        concurrent transfers, 1..65535 (default 256)\n"
	       "      --max-per-client N     concurrent transfers per client address,\n"
	       "                             0..65535, 0 no limit (default " STR(CONFIG_DEFAULT_MAX_PER_CLIENT) ")\n"
	       "      --rate-limit N         new transfers a second per client address, in\n"
	       "                             bursts of up to 2N; 0..100000, 0 no limit\n"
	       "                             (default " STR(CONFIG_DEFAULT_RATE_LIMIT) ")\n"
	       "  -p, --permissive           serve files that are not world-readable\n"
	       "  -U, --umask MASK           umask for created files (octal; none are created\n"
	       "                             yet: uploads are not implemented)\n"
	       "  -v, --verbose[=LEVEL]      more log lines (0 quiet .. 3 packets; default 1)\n"
	       "      --verbosity LEVEL      the same as --verbose=LEVEL\n"
	       "\n"
	       "\n"
	       "Cache (file contents in memory shared by all transfers):\n"
	       "      --cache-size BYTES     size of the cache, with K, M or G; 0 turns it\n"
	       "                             off (default 64M)\n"
	       "      --cache-max-file BYTES larger files are served from disk (default 16M)\n"
	       "      --cache-min-age MS     files changed less than MS ago are served from\n"
	       "                             disk (timestamps are coarse; default 2000)\n"
	       "\n"
	       "Refused, not implemented yet: -c/--create (uploads), -m/--map-file (remapping).\n"
	       "  -h, --help                 show this help and exit\n"
	       "  -V, --version              show the version and exit\n";
}

/* Parse a decimal in [min, max]: no sign, no junk, no overflow. */
static int parse_uint(const char *s, unsigned min, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* A size in bytes: decimal, with an optional K, M or G (powers of 1024),
 * at most 64 GiB. */
static int parse_size(const char *s, size_t *out)
{
	char digits[24];
	size_t n = strspn(s, "0123456789");
	unsigned shift = 0, v;
	uint64_t total;

	if (n == 0 || n >= sizeof(digits))
		return -1;
	switch (s[n]) {
	case '\0':
		break;
	case 'k': case 'K':
		shift = 10;
		break;
	case 'm': case 'M':
		shift = 20;
		break;
	case 'g': case 'G':
		shift = 30;
		break;
	default:
		return -1;
	}
	if (s[n] != '\0' && s[n + 1] != '\0')
		return -1;
	memcpy(digits, s, n);
	digits[n] = '\0';
	if (parse_uint(digits, 0, 0xffffffffu, &v) != 0)
		return -1;
	total = (uint64_t)v << shift;
	if (total > ((uint64_t)64 << 30) || total > SIZE_MAX)
		return -1;
	*out = (size_t)total;
	return 0;
}

/* An octal mask 0..0777, as umask(1) takes it. */
static int parse_octal(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '7')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end != '\0' || v > 0777)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* "LOW:HIGH", ports 1..65535 with LOW <= HIGH. */
static int parse_range(const char *s, unsigned *low, unsigned *high)
{
	char buf[16];
	const char *colon = strchr(s, ':');
	size_t n;

	if (!colon || (n = (size_t)(colon - s)) >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (parse_uint(buf, 1, 65535, low) != 0 ||
	    parse_uint(colon + 1, 1, 65535, high) != 0 || *low > *high)
		return -1;
	return 0;
}

static enum config_status bad(char *errbuf, size_t errsz, const char *opt,
			      const char *arg, const char *expect)
{
	snprintf(errbuf, errsz, "invalid value '%s' for %s: expected %s", arg,
		 opt, expect);
	return CONFIG_ERROR;
}

/* Nonzero when host is a numeric IPv4 or IPv6 address (an IPv6 one may
 * carry a %scope, which is checked when it is bound). */
static int numeric_address(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char v6[64];
	size_t n = strcspn(host, "%");

	if (inet_pton(AF_INET, host, buf) == 1)
		return 1;
	if (n >= sizeof(v6))
		return 0;
	memcpy(v6, host, n);
	v6[n] = '\0';
	return inet_pton(AF_INET6, v6, buf) == 1;
}

/* "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT", ":PORT" as tftpd-hpa's -a takes.
 * The address part is kept in a static buffer (config is built once). */
static int parse_address(const char *arg, struct config *cfg)
{
	static char hosts[CONFIG_MAX_LISTEN][64];
	char *host = hosts[cfg->nlisten];
	const size_t hostsz = sizeof(hosts[0]);
	const char *port = NULL;
	unsigned portnum = 0;
	size_t hlen;

	if (arg[0] == '[') {
		const char *close = strchr(arg, ']');
		if (!close)
			return -1;
		hlen = (size_t)(close - arg - 1);
		memcpy(host, arg + 1, hlen < hostsz ? hlen : 0);
		if (close[1] == ':')
			port = close + 2;
		else if (close[1] != '\0')
			return -1;
	} else {
		const char *colon = strchr(arg, ':');
		/* More than one colon: a bare IPv6 address, no port. */
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;
		hlen = colon ? (size_t)(colon - arg) : strlen(arg);
		if (colon)
			port = colon + 1;
		if (hlen < hostsz)
			memcpy(host, arg, hlen);
	}
	if (hlen >= hostsz)
		return -1;
	host[hlen] = '\0';
	if (port && parse_uint(port, 1, 65535, &portnum) != 0)
		return -1;
	if (hlen > 0 && !numeric_address(host))
		return -1;
	if (hlen == 0) {
		/* ":PORT": all addresses, on that port. */
		if (!port)
			return -1;
		cfg->port = portnum;
		return 0;
	}
	cfg->listen[cfg->nlisten].host = host;
	cfg->listen[cfg->nlisten].port = portnum;
	cfg->nlisten++;
	return 0;
}

enum {
	OPT_HOST = 256,
	OPT_PORT,
	OPT_FILE_DIRECTORY,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_MAX_CLIENTS,
	OPT_MAX_WINDOW,
	OPT_MIN_TIMEOUT,
	OPT_INETD,
	OPT_GROUP,
	OPT_VERBOSITY,
	OPT_CACHE_SIZE,
	OPT_CACHE_MAX_FILE,
	OPT_CACHE_MIN_AGE,
	OPT_GIVE_UP,
	OPT_STRICT_TIMEOUT,
	OPT_MAX_PER_CLIENT,
	OPT_RATE_LIMIT,
};

enum config_status config_parse(int argc, char **argv, struct config *cfg,
				char *errbuf, size_t errsz)
{
	static const char shortopts[] = ":a:B:r:pLv::hVlt:P:u:scm:U:T:R:46";
#ifdef HAVE_GETOPT_LONG
	static const struct option longopts[] = {
		{"address", required_argument, NULL, 'a'},
		{"host", required_argument, NULL, OPT_HOST},
		{"port", required_argument, NULL, OPT_PORT},
		{"file-directory", required_argument, NULL, OPT_FILE_DIRECTORY},
		{"max-block-size", required_argument, NULL, 'B'},
		{"blocksize", required_argument, NULL, 'B'},
		{"listen", no_argument, NULL, 'l'},
		{"inetd", no_argument, NULL, OPT_INETD},
		{"idle-timeout", required_argument, NULL, 't'},
		{"pidfile", required_argument, NULL, 'P'},
		{"user", required_argument, NULL, 'u'},
		{"group", required_argument, NULL, OPT_GROUP},
		{"secure", no_argument, NULL, 's'},
		{"chroot", no_argument, NULL, 's'},
		{"create", no_argument, NULL, 'c'},
		{"map-file", required_argument, NULL, 'm'},
		{"umask", required_argument, NULL, 'U'},
		{"retransmit", required_argument, NULL, 'T'},
		{"port-range", required_argument, NULL, 'R'},
		{"ipv4", no_argument, NULL, '4'},
		{"ipv6", no_argument, NULL, '6'},
		{"verbosity", required_argument, NULL, OPT_VERBOSITY},
		{"cache-size", required_argument, NULL, OPT_CACHE_SIZE},
		{"cache-max-file", required_argument, NULL, OPT_CACHE_MAX_FILE},
		{"cache-min-age", required_argument, NULL, OPT_CACHE_MIN_AGE},
		{"timeout", required_argument, NULL, OPT_TIMEOUT},
		{"retries", required_argument, NULL, OPT_RETRIES},
		{"give-up", required_argument, NULL, OPT_GIVE_UP},
		{"strict-timeout", no_argument, NULL, OPT_STRICT_TIMEOUT},
		{"max-clients", required_argument, NULL, OPT_MAX_CLIENTS},
		{"max-per-client", required_argument, NULL, OPT_MAX_PER_CLIENT},
		{"rate-limit", required_argument, NULL, OPT_RATE_LIMIT},
		{"max-window", required_argument, NULL, OPT_MAX_WINDOW},
		{"min-timeout", required_argument, NULL, OPT_MIN_TIMEOUT},
		{"refuse", required_argument, NULL, 'r'},
		{"permissive", no_argument, NULL, 'p'},
		{"foreground", no_argument, NULL, 'L'},
		{"verbose", optional_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
#endif
	int c, give_up_set = 0;
	unsigned v;

	config_defaults(cfg);
	opterr = 0;
	optind = 1;
	for (;;) {
#ifdef HAVE_GETOPT_LONG
		c = getopt_long(argc, argv, shortopts, longopts, NULL);
#else
		/* Fallback: short options only. */
		c = getopt(argc, argv, shortopts);
#endif
		if (c == -1)
			break;
		switch (c) {
		case 'a':
		case OPT_HOST:
			if (cfg->nlisten == CONFIG_MAX_LISTEN) {
				snprintf(errbuf, errsz, "at most %d listen "
					 "addresses", CONFIG_MAX_LISTEN);
				return CONFIG_ERROR;
			}
			if (parse_address(optarg, cfg) != 0)
				return bad(errbuf, errsz, "--address", optarg,
					   "ADDR, ADDR:PORT or [IPV6]:PORT");
			break;
		case OPT_PORT:
			if (parse_uint(optarg, 1, 65535, &cfg->port) != 0)
				return bad(errbuf, errsz, "--port", optarg,
					   "a port number 1..65535");
			break;
		case OPT_FILE_DIRECTORY:
			cfg->root = optarg;
			break;
		case 'B':
			if (parse_uint(optarg, 8, TFTP_BLKSIZE_MAX,
				       &cfg->max_block_size) != 0)
				return bad(errbuf, errsz, "--max-block-size",
					   optarg, "bytes, 8..65464");
			break;
		case OPT_TIMEOUT:
			if (parse_uint(optarg, 1, 255, &v) != 0)
				return bad(errbuf, errsz, "--timeout", optarg,
					   "seconds, 1..255");
			cfg->timeout_ms = v * 1000;
			break;
		case 'T':
			/* tftpd-hpa's unit; kept to whole milliseconds */
			if (parse_uint(optarg, 1000, 255000000, &v) != 0)
				return bad(errbuf, errsz, "--retransmit", optarg,
					   "microseconds, 1000..255000000");
			cfg->timeout_ms = v / 1000;
			break;
		case 'l':
			cfg->mode = CONFIG_MODE_STANDALONE;
			break;
		case OPT_CACHE_SIZE:
			if (parse_size(optarg, &cfg->cache_size) != 0)
				return bad(errbuf, errsz, "--cache-size", optarg,
					   "bytes, with an optional K, M or G, "
					   "at most 64G");
			break;
		case OPT_CACHE_MAX_FILE:
			if (parse_size(optarg, &cfg->cache_max_file) != 0 ||
			    cfg->cache_max_file == 0)
				return bad(errbuf, errsz, "--cache-max-file",
					   optarg, "bytes, with an optional K, "
					   "M or G, 1 .. 64G");
			break;
		case OPT_CACHE_MIN_AGE:
			if (parse_uint(optarg, 0, 3600000,
				       &cfg->cache_min_age_ms) != 0)
				return bad(errbuf, errsz, "--cache-min-age",
					   optarg, "milliseconds, 0..3600000");
			break;
		case OPT_INETD:
			cfg->mode = CONFIG_MODE_INETD;
			break;
		case 't':
			if (parse_uint(optarg, 0, 86400 * 365, &cfg->idle_timeout))
				return bad(errbuf, errsz, "--idle-timeout",
					   optarg, "seconds, 0..31536000");
			break;
		case 'P':
			if (optarg[0] == '\0')
				return bad(errbuf, errsz, "--pidfile", optarg,
					   "a file name");
			cfg->pidfile = optarg;
			break;
		case 'u':
			if (optarg[0] == '\0')
				return bad(errbuf, errsz, "--user", optarg,
					   "a user name");
			cfg->user = optarg;
			break;
		case OPT_GROUP:
			if (optarg[0] == '\0')
				return bad(errbuf, errsz, "--group", optarg,
					   "a group name");
			cfg->group = optarg;
			break;
		case 's':
			cfg->chroot = 1;
			break;
		case 'c':
			snprintf(errbuf, errsz, "--create: uploads (WRQ) are not "
				 "implemented yet");
			return CONFIG_ERROR;
		case 'm':
			snprintf(errbuf, errsz, "--map-file: file name remapping "
				 "is not implemented yet");
			return CONFIG_ERROR;
		case 'U':
			if (parse_octal(optarg, &cfg->umask) != 0)
				return bad(errbuf, errsz, "--umask", optarg,
					   "an octal mask, 0..0777");
			break;
		case 'R':
			if (parse_range(optarg, &cfg->port_low,
					&cfg->port_high) != 0)
				return bad(errbuf, errsz, "--port-range", optarg,
					   "LOW:HIGH, 1..65535, LOW <= HIGH");
			break;
		case '4':
			cfg->family = AF_INET;
			break;
		case '6':
			cfg->family = AF_INET6;
			break;
		case OPT_MIN_TIMEOUT:
			if (parse_uint(optarg, 1, 255000, &cfg->min_timeout_ms) != 0)
				return bad(errbuf, errsz, "--min-timeout", optarg,
					   "milliseconds, 1..255000");
			break;
		case OPT_RETRIES:
			if (parse_uint(optarg, 1, 100, &cfg->retries) != 0)
				return bad(errbuf, errsz, "--retries", optarg,
					   "a count, 1..100");
			break;
		case OPT_GIVE_UP:
			if (parse_uint(optarg, 1, 3600, &v) != 0)
				return bad(errbuf, errsz, "--give-up", optarg,
					   "seconds, 1..3600");
			cfg->give_up_ms = v * 1000;
			give_up_set = 1;
			break;
		case OPT_STRICT_TIMEOUT:
			cfg->strict_timeout = 1;
			break;
		case OPT_MAX_CLIENTS:
			if (parse_uint(optarg, 1, 65535, &cfg->max_clients) != 0)
				return bad(errbuf, errsz, "--max-clients",
					   optarg, "a count, 1..65535");
			break;
		case OPT_MAX_PER_CLIENT:
			if (parse_uint(optarg, 0, 65535,
				       &cfg->max_per_client) != 0)
				return bad(errbuf, errsz, "--max-per-client",
					   optarg, "a count, 0..65535");
			break;
		case OPT_RATE_LIMIT:
			if (parse_uint(optarg, 0, 100000, &cfg->rate_limit) != 0)
				return bad(errbuf, errsz, "--rate-limit", optarg,
					   "transfers a second, 0..100000");
			break;
		case OPT_MAX_WINDOW:
			if (parse_uint(optarg, 1, OPTIONS_WINDOWSIZE_GRANT_MAX,
				       &cfg->max_window) != 0)
				return bad(errbuf, errsz, "--max-window", optarg,
					   "blocks, 1..32767");
			break;
		case 'r':
			v = options_bit(optarg);
			if (!v)
				return bad(errbuf, errsz, "--refuse", optarg,
					   "blksize, timeout, tsize or "
					   "windowsize");
			cfg->refused |= v;
			break;
		case 'p':
			cfg->permissive = 1;
			break;
		case 'L':
			cfg->foreground = 1;
			break;
		case 'v':
			if (!optarg || strspn(optarg, "v") == strlen(optarg)) {
				/* -v, and -vv..., each v one level up */
				cfg->verbosity += 1 + (optarg ? (int)strlen(optarg) : 0);
				if (cfg->verbosity > LOG_V_PACKETS)
					cfg->verbosity = LOG_V_PACKETS;
			} else if (parse_uint(optarg, 0, 3, &v) == 0) {
				cfg->verbosity = (int)v;
			} else {
				return bad(errbuf, errsz, "--verbose", optarg,
					   "a level, 0..3");
			}
			break;
		case OPT_VERBOSITY:
			if (parse_uint(optarg, 0, 3, &v) == 0) {
				cfg->verbosity = (int)v;
			} else {
				return bad(errbuf, errsz, "--verbosity", optarg,
					   "a level, 0..3");
			}
			break;
		case 'h':
			return CONFIG_HELP;
		case 'V':
			return CONFIG_VERSION;
		case ':':
			snprintf(errbuf, errsz, "option %s needs a value",
				 argv[optind - 1]);
			return CONFIG_ERROR;
		default:
			snprintf(errbuf, errsz, "unknown option '%s'",
				 argv[optind - 1]);
			return CONFIG_ERROR;
		}
	}
	if (cfg->group && !cfg->user) {
		/* A group change alone would leave the daemon running as
		 * root while looking confined. */
		snprintf(errbuf, errsz, "--group needs --user");
		return CONFIG_ERROR;
	}
	if (!give_up_set) {
		/* At least tftpd-hpa's half minute; longer when the fixed
		 * policy of the older --retries would have waited longer. */
		uint64_t fixed = (uint64_t)cfg->timeout_ms * (cfg->retries + 1);
		cfg->give_up_ms = fixed > CONFIG_DEFAULT_GIVE_UP_MS
					  ? (unsigned)fixed
					  : CONFIG_DEFAULT_GIVE_UP_MS;
	}
	if (optind < argc)
		cfg->root = argv[optind++];
	if (optind < argc) {
		snprintf(errbuf, errsz, "unexpected argument '%s'",
			 argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}
