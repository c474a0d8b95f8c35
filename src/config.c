/* Command-line parsing from one table.  Each option is written once: its
 * names, what its value is (kind, range, unit), where it goes in struct
 * config, its default and its help.  The getopt tables, --help and every
 * error message are made from that entry, so they cannot disagree.  Every
 * number is checked for junk and range before anything is bound or opened. */
#include "autoconfig.h"
#include "config.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Long options need getopt_long (configure looks for it); without it,
 * only the short ones exist.  tests/config_test builds this file again
 * with CONFIG_SHORT_OPTIONS_ONLY to run that fallback too. */
#if defined(HAVE_GETOPT_LONG) && !defined(CONFIG_SHORT_OPTIONS_ONLY)
#define USE_GETOPT_LONG 1
#include <getopt.h>
#endif

#include "log.h"
#include "options.h"
#include "packet.h"
#include "rto.h"

#define STR2(x) #x
#define STR(x) STR2(x)

#define PORT_MAX 65535

enum kind {
	K_HEADING, /* not an option: a heading in --help */
	K_SET,	   /* no value: the int field is set to .value */
	K_UINT,	   /* an unsigned field: digits in .base, .min...max; the
		    * field holds value * .mul / .div */
	K_SIZE,	   /* a size_t field: bytes with an optional K, M or G */
	K_STRING,  /* a const char * field: the value itself, at least .min
		    * bytes long */
	K_CUSTOM,  /* only .set knows what to do with the value */
	K_HELP,
	K_VERSION,
};

struct opt;

/* A special rule, used instead of the kind's parser.  Returns 0, or -1 for
 * a bad value: then *why is NULL for the usual "expected ..." message, or
 * says what is wrong with it. */
typedef int setter(const struct opt *o, const char *arg, struct config *cfg,
		   const char **why);

struct opt {
	const char *name;    /* long name; NULL for a heading */
	const char *alias;   /* another long name (tftpd-hpa's), or NULL */
	char letter;	     /* short option, or 0 */
	const char *metavar; /* the value in --help; NULL: takes no value */
	int optional;	     /* the value may be left out: then it must be
			      * attached (-v2, --verbose=2) */
	enum kind kind;
	size_t field;	     /* offsetof(struct config, ...) */
	uint64_t min, max;   /* accepted range, in the option's own unit */
	uint64_t def;	     /* default, in that unit; 0 leaves the field 0
			      * (where options share a field, one gives it) */
	const char *def_str; /* K_STRING: the default */
	unsigned base;	     /* K_UINT: 8 or 10 (0 means 10) */
	unsigned mul, div;   /* K_UINT: unit conversion (0 means 1) */
	int value;	     /* K_SET */
	const char *expect;  /* the value's unit or form, for errors */
	setter *set;	     /* a special rule, or NULL */
	const char *help;    /* --help text: %r the range, %d the default */
};

static setter set_address, set_port_range, set_refuse, set_verbose;

#define F(member) offsetof(struct config, member)
/* Largest --cache-size and --cache-max-file: 64 GiB, or what size_t holds. */
#define SIZE_LIMIT                                                    \
	((uint64_t)SIZE_MAX < (uint64_t)64 << 30 ? (uint64_t)SIZE_MAX \
						 : (uint64_t)64 << 30)
/* --verbose and --verbosity set the same level. */
#define LEVEL                                                      \
	.kind = K_UINT, .field = F(verbosity), .min = LOG_V_QUIET, \
	.max = LOG_V_PACKETS, .def = LOG_V_TRANSFERS, .expect = "a level"

/* One option a paragraph: easier to read than one field a line. */
/* clang-format off */
static const struct opt table[] = {
	{.kind = K_HEADING, .help = "Running:"},
	{.name = "listen", .letter = 'l', .kind = K_SET, .field = F(mode),
	 .value = CONFIG_MODE_STANDALONE,
	 .help = "standalone: bind the port and serve (the default unless "
		 "fd 0 is a datagram socket)"},
	{.name = "inetd", .kind = K_SET, .field = F(mode),
	 .value = CONFIG_MODE_INETD,
	 .help = "serve the datagram socket on fd 0 (inetd; found by itself); "
		 "systemd LISTEN_FDS is honoured too"},
	/* tftpd-hpa's -t; its long name --timeout is ours for resending */
	{.name = "idle-timeout", .letter = 't', .metavar = "SECONDS",
	 .kind = K_UINT, .field = F(idle_timeout), .min = 0, .max = 86400 * 365,
	 .def = 900, .expect = "seconds",
	 .help = "inetd/systemd: exit after this long idle, %r, 0 never "
		 "(default %d)"},
	{.name = "foreground", .letter = 'L', .kind = K_SET,
	 .field = F(foreground), .value = 1,
	 .help = "do not detach; log to standard error"},
	{.name = "log-file", .metavar = "FILE", .kind = K_STRING,
	 .field = F(log_file), .min = 1, .expect = "a file name",
	 .help = "log to FILE instead of syslog: appended, one line per event "
		 "with a UTC time; opened before chroot; SIGHUP re-opens it"},
	{.name = "pidfile", .letter = 'P', .metavar = "FILE", .kind = K_STRING,
	 .field = F(pidfile), .min = 1, .expect = "a file name",
	 .help = "write the daemon's pid to FILE, locked"},
	{.name = "user", .letter = 'u', .metavar = "USER", .kind = K_STRING,
	 .field = F(user), .min = 1, .expect = "a user name",
	 .help = "run as USER after binding (and chroot); started as root "
		 "without it: tftp, or nobody where there is no tftp user "
		 "(--user root keeps root)"},
	{.name = "group", .metavar = "GROUP", .kind = K_STRING,
	 .field = F(group), .min = 1, .expect = "a group name",
	 .help = "run as GROUP (default: USER's group); needs --user"},
	{.name = "secure", .alias = "chroot", .letter = 's', .kind = K_SET,
	 .field = F(chroot), .value = 1,
	 .help = "chroot into DIRECTORY after binding"},

	{.kind = K_HEADING,
	 .help = "Cache (file contents in memory shared by all transfers):"},
	{.name = "cache-size", .metavar = "BYTES", .kind = K_SIZE,
	 .field = F(cache_size), .min = 0, .max = SIZE_LIMIT,
	 .def = (uint64_t)64 << 20,
	 .expect = "bytes with an optional K, M or G",
	 .help = "size of the cache, %r, with K, M or G; 0 turns it off "
		 "(default %d)"},
	{.name = "cache-max-file", .metavar = "BYTES", .kind = K_SIZE,
	 .field = F(cache_max_file), .min = 1, .max = SIZE_LIMIT,
	 .def = (uint64_t)16 << 20,
	 .expect = "bytes with an optional K, M or G",
	 .help = "larger files are served from disk, %r (default %d)"},
	{.name = "cache-min-age", .metavar = "MS", .kind = K_UINT,
	 .field = F(cache_min_age_ms), .min = 0, .max = 3600000, .def = 2000,
	 .expect = "milliseconds",
	 .help = "files changed less than MS ago are served from disk "
		 "(timestamps are coarse), %r (default %d)"},

	{.kind = K_HEADING, .help = "Network and protocol:"},
	{.name = "address", .alias = "host", .letter = 'a',
	 .metavar = "ADDR[:PORT]", .kind = K_CUSTOM, .set = set_address,
	 .expect = "ADDR, ADDR:PORT, [IPV6]:PORT or :PORT",
	 .help = "listen on ADDR (numeric, [v6]:port; up to "
		 STR(CONFIG_MAX_LISTEN) " times); default: all IPv4 and IPv6 "
		 "addresses"},
	{.name = "port", .metavar = "PORT", .kind = K_UINT, .field = F(port),
	 .min = 1, .max = PORT_MAX, .def = 69, .expect = "a port number",
	 .help = "UDP port to listen on, %r (default %d)"},
	{.name = "ipv4", .letter = '4', .kind = K_SET, .field = F(family),
	 .value = AF_INET,
	 .help = "IPv4 only"},
	{.name = "ipv6", .letter = '6', .kind = K_SET, .field = F(family),
	 .value = AF_INET6,
	 .help = "IPv6 only"},
	{.name = "port-range", .letter = 'R', .metavar = "LOW:HIGH",
	 .kind = K_CUSTOM, .set = set_port_range,
	 .expect = "LOW:HIGH, 1.." STR(PORT_MAX) ", LOW <= HIGH",
	 .help = "send from transfer ports in LOW..HIGH"},
	{.name = "single-port", .kind = K_SET, .field = F(single_port),
	 .value = 1,
	 .help = "answer every transfer from the listening port itself (for "
		 "NAT and containers); checked at start-up"},
	{.name = "file-directory", .metavar = "DIR", .kind = K_STRING,
	 .field = F(root), .def_str = CTFTPD_DEFAULT_ROOT,
	 .help = "serve files from DIR (default %d)"},
	{.name = "max-block-size", .alias = "blocksize", .letter = 'B',
	 .metavar = "N", .kind = K_UINT, .field = F(max_block_size), .min = 8,
	 .max = TFTP_BLKSIZE_MAX, .expect = "bytes",
	 .help = "largest blksize granted, %r bytes (default: the interface "
		 "MTU less headers)"},
	{.name = "max-window", .metavar = "N", .kind = K_UINT,
	 .field = F(max_window), .min = 1, .max = OPTIONS_WINDOWSIZE_GRANT_MAX,
	 .def = CONFIG_DEFAULT_MAX_WINDOW, .expect = "blocks",
	 .help = "largest windowsize granted, %r blocks (default %d)"},
	{.name = "refuse", .letter = 'r', .metavar = "OPTION", .kind = K_CUSTOM,
	 .set = set_refuse, .expect = "blksize, timeout, tsize or windowsize",
	 .help = "ignore a client's OPTION (blksize, timeout, tsize, "
		 "windowsize); repeatable"},
	{.name = "timeout", .metavar = "SECONDS", .kind = K_UINT,
	 .field = F(timeout_ms), .min = 1, .max = 255, .mul = 1000, .def = 1,
	 .expect = "seconds",
	 .help = "longest wait for a client before resending, %r (default "
		 "%d); the wait adapts to the measured round trip below it"},
	/* tftpd-hpa's unit; kept to whole milliseconds */
	{.name = "retransmit", .letter = 'T', .metavar = "USEC", .kind = K_UINT,
	 .field = F(timeout_ms), .min = 1000, .max = 255000000, .div = 1000,
	 .expect = "microseconds",
	 .help = "the same as --timeout in microseconds, %r (tftpd-hpa's -T)"},
	{.name = "min-timeout", .metavar = "MS", .kind = K_UINT,
	 .field = F(min_timeout_ms), .min = 1, .max = 255000,
	 .def = RTO_FLOOR_MS, .expect = "milliseconds",
	 .help = "shortest adaptive wait, %r ms (default %d); set to "
		 "--timeout's value to turn adaptation off"},
	{.name = "retries", .metavar = "N", .kind = K_UINT, .field = F(retries),
	 .min = 1, .max = 100, .def = 5, .expect = "a count",
	 .help = "with --timeout, sets the default --give-up: --timeout x "
		 "(N + 1), %r (default %d)"},
	/* .def is the floor: see default_give_up() */
	{.name = "give-up", .metavar = "SECONDS", .kind = K_UINT,
	 .field = F(give_up_ms), .min = 1, .max = 3600, .mul = 1000,
	 .def = CONFIG_DEFAULT_GIVE_UP_MS / 1000, .expect = "seconds",
	 .help = "end a transfer whose client made no progress for this long, "
		 "%r (default: %d, or --timeout x (--retries + 1) when longer)"},
	{.name = "strict-timeout", .kind = K_SET, .field = F(strict_timeout),
	 .value = 1,
	 .help = "a client's timeout option fixes the resend timer (RFC 2349 "
		 "read literally) instead of capping the adaptive one"},
	{.name = "max-clients", .metavar = "N", .kind = K_UINT,
	 .field = F(max_clients), .min = 1, .max = 65535, .def = 256,
	 .expect = "a count",
	 .help = "concurrent transfers, %r (default %d)"},
	{.name = "max-per-client", .metavar = "N", .kind = K_UINT,
	 .field = F(max_per_client), .min = 0, .max = 65535,
	 .def = CONFIG_DEFAULT_MAX_PER_CLIENT, .expect = "a count",
	 .help = "concurrent transfers per client address, %r, 0 no limit "
		 "(default %d)"},
	{.name = "rate-limit", .metavar = "N", .kind = K_UINT,
	 .field = F(rate_limit), .min = 0, .max = 100000,
	 .def = CONFIG_DEFAULT_RATE_LIMIT, .expect = "transfers a second",
	 .help = "new transfers a second per client address, in bursts of "
		 "up to 2N, %r, 0 no limit (default %d)"},
	{.name = "permissive", .letter = 'p', .kind = K_SET,
	 .field = F(permissive), .value = 1,
	 .help = "serve files that are not world-readable, and accept uploads "
		 "to any file the server may write"},
	{.name = "verbose", .letter = 'v', .metavar = "LEVEL", .optional = 1,
	 LEVEL, .set = set_verbose,
	 .help = "log more: one level up per v (-vv: two), or set LEVEL, "
		 "attached (-v2, --verbose=2); levels %r: quiet 0, transfers 1, "
		 "requests 2, packets 3 (default %d)"},
	{.name = "verbosity", .metavar = "LEVEL", LEVEL,
	 .help = "set the log level, %r (the same as --verbose=LEVEL)"},

	{.kind = K_HEADING, .help = "Uploads (WRQ; tftpd-hpa's rules: only "
				     "existing world-writable files):"},
	{.name = "create", .letter = 'c', .kind = K_SET, .field = F(create),
	 .value = 1,
	 .help = "also allow new files"},
	/* .def is left out: see config_parse */
	{.name = "umask", .letter = 'U', .metavar = "MASK", .kind = K_UINT,
	 .field = F(umask), .base = 8, .min = 0, .max = 0777,
	 .expect = "an octal mask",
	 .help = "new files get 0666 less MASK, octal %r (default 0; with "
		 "--permissive the inherited umask, as tftpd-hpa)"},
	{.name = "readonly", .kind = K_SET, .field = F(readonly), .value = 1,
	 .help = "refuse every upload, whatever the file modes"},
	{.name = "max-upload-size", .metavar = "BYTES", .kind = K_SIZE,
	 .field = F(max_upload_size), .min = 0, .max = SIZE_LIMIT,
	 .expect = "bytes with an optional K, M or G",
	 .help = "refuse larger uploads, %r, with K, M or G; 0: no limit but "
		 "the disk (default 0)"},

	{.kind = K_HEADING,
	 .help = "Remapping (tftpd-hpa rule files, before the file name "
		 "rules):"},
	{.name = "map-file", .letter = 'm', .metavar = "FILE", .kind = K_STRING,
	 .field = F(map_file), .min = 1, .expect = "a file name",
	 .help = "rewrite or refuse requested names by the rules in FILE, "
		 "read at start-up and again on SIGHUP"},
	{.name = "map-test", .kind = K_SET, .field = F(map_test), .value = 1,
	 .help = "serve nothing: map each line of standard input, \"NAME "
		 "[CLIENT-ADDRESS] [RRQ|WRQ]\", with --map-file's rules and "
		 "print the outcome and the rule lines"},

	{.kind = K_HEADING, .help = "Information:"},
	{.name = "help", .letter = 'h', .kind = K_HELP,
	 .help = "show this help and exit"},
	{.name = "version", .letter = 'V', .kind = K_VERSION,
	 .help = "show the version and exit"},
};
/* clang-format on */

#define NOPTS (sizeof(table) / sizeof(table[0]))

/* getopt_long's value for table[i]; above every short letter. */
#define LONG_VAL 256

/* The one number parser: the n bytes at s, digits in base (8 or 10) and
 * nothing else (no sign, no space, not empty), in min..max. */
static int parse_number(const char *s, size_t n, unsigned base, uint64_t min,
			uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		unsigned d = (unsigned)(unsigned char)s[i] - '0';
		if (d >= base || d > max || v > (max - d) / base)
			return -1;
		v = v * base + d;
	}
	if (v < min)
		return -1;
	*out = v;
	return 0;
}

/* Bytes: decimal digits and an optional K, M or G (powers of 1024). */
static int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	static const char suffixes[] = "kKmMgG";
	size_t n = strspn(s, "0123456789");
	const char *suffix = s[n] ? strchr(suffixes, s[n]) : NULL;
	unsigned shift =
		suffix ? 10 * (unsigned)(1 + (suffix - suffixes) / 2) : 0;
	uint64_t v;

	if ((s[n] && (!suffix || s[n + 1])) ||
	    parse_number(s, n, 10, 0, max >> shift, &v) != 0 ||
	    (v << shift) < min)
		return -1;
	*out = v << shift;
	return 0;
}

static void *field_of(const struct opt *o, struct config *cfg)
{
	return (char *)cfg + o->field;
}

/* Store a number in the option's unit into its field. */
static void store_number(const struct opt *o, uint64_t v, struct config *cfg)
{
	if (o->kind == K_SIZE)
		*(size_t *)field_of(o, cfg) = (size_t)v;
	else
		*(unsigned *)field_of(o, cfg) =
			(unsigned)(v * (o->mul ? o->mul : 1) /
				   (o->div ? o->div : 1));
}

/* The kind's own parser: 0, or -1 for a bad value. */
static int store(const struct opt *o, const char *arg, struct config *cfg)
{
	uint64_t v;

	switch (o->kind) {
	case K_SET:
		*(int *)field_of(o, cfg) = o->value;
		return 0;
	case K_STRING:
		if (strlen(arg) < o->min)
			return -1;
		*(const char **)field_of(o, cfg) = arg;
		return 0;
	case K_UINT:
		if (parse_number(arg, strlen(arg), o->base ? o->base : 10,
				 o->min, o->max, &v) != 0)
			return -1;
		break;
	case K_SIZE:
		if (parse_size(arg, o->min, o->max, &v) != 0)
			return -1;
		break;
	default:
		return -1;
	}
	store_number(o, v, cfg);
	return 0;
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

/* "ADDR", "ADDR:PORT", "[V6]", "[V6]:PORT" or ":PORT", as tftpd-hpa's -a
 * takes them; ":PORT" alone sets the port for all addresses. */
static int set_address(const struct opt *o, const char *arg, struct config *cfg,
		       const char **why)
{
	struct config_listen *l = &cfg->listen[cfg->nlisten];
	const char *host = arg, *end, *port = NULL;
	uint64_t portnum = 0;
	size_t hlen;

	(void)o;
	if (cfg->nlisten == CONFIG_MAX_LISTEN) {
		*why = "at most " STR(CONFIG_MAX_LISTEN) " addresses";
		return -1;
	}
	if (arg[0] == '[') {
		host = arg + 1;
		end = strchr(host, ']');
		if (!end || (end[1] != '\0' && end[1] != ':'))
			return -1;
		if (end[1] == ':')
			port = end + 2;
	} else {
		end = strchr(arg, ':');
		/* More than one colon: a bare IPv6 address, no port. */
		if (end && !strchr(end + 1, ':'))
			port = end + 1;
		else
			end = arg + strlen(arg);
	}
	hlen = (size_t)(end - host);
	if (port &&
	    parse_number(port, strlen(port), 10, 1, PORT_MAX, &portnum) != 0)
		return -1;
	if (hlen == 0) {
		if (!port)
			return -1;
		cfg->port = (unsigned)portnum;
		return 0;
	}
	if (hlen >= sizeof(l->host))
		return -1;
	memcpy(l->host, host, hlen);
	l->host[hlen] = '\0';
	if (!numeric_address(l->host))
		return -1;
	l->port = (unsigned)portnum;
	cfg->nlisten++;
	return 0;
}

/* "LOW:HIGH", ports with LOW <= HIGH. */
static int set_port_range(const struct opt *o, const char *arg,
			  struct config *cfg, const char **why)
{
	const char *colon = strchr(arg, ':');
	uint64_t low, high;

	(void)o;
	(void)why;
	if (!colon ||
	    parse_number(arg, (size_t)(colon - arg), 10, 1, PORT_MAX, &low) ||
	    parse_number(colon + 1, strlen(colon + 1), 10, 1, PORT_MAX,
			 &high) ||
	    low > high)
		return -1;
	cfg->port_low = (unsigned)low;
	cfg->port_high = (unsigned)high;
	return 0;
}

static int set_refuse(const struct opt *o, const char *arg, struct config *cfg,
		      const char **why)
{
	unsigned bit = options_bit(arg);

	(void)o;
	(void)why;
	if (!bit)
		return -1;
	cfg->refused |= bit;
	return 0;
}

/* -v raises the level by one, -vv (the value "v") by two, and so on, as
 * tftpd-hpa's repeatable -v does; -v2 and --verbose=2 set it. */
static int set_verbose(const struct opt *o, const char *arg, struct config *cfg,
		       const char **why)
{
	size_t more = arg ? strspn(arg, "v") : 0;

	(void)why;
	if (arg && (arg[0] == '\0' || arg[more] != '\0'))
		return store(o, arg, cfg);
	cfg->verbosity += 1 + (unsigned)more;
	if (cfg->verbosity > o->max)
		cfg->verbosity = (unsigned)o->max;
	return 0;
}

/* The default --give-up: a minute, twice tftpd-hpa's half minute, so that
 * a client which resends only on its own 5 s timer (U-Boot) gets about ten
 * tries at a lost ACK, against about five (one lost in every hundred
 * transfers at 30% loss, measured); longer when the fixed policy of the
 * older --retries would have waited longer. */
static unsigned default_give_up(const struct config *cfg)
{
	uint64_t fixed = (uint64_t)cfg->timeout_ms * (cfg->retries + 1);

	return fixed > CONFIG_DEFAULT_GIVE_UP_MS ? (unsigned)fixed
						 : CONFIG_DEFAULT_GIVE_UP_MS;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->family = AF_UNSPEC;
	for (const struct opt *o = table; o < table + NOPTS; o++) {
		if (o->kind == K_STRING && o->def_str)
			*(const char **)field_of(o, cfg) = o->def_str;
		else if (o->def != 0)
			store_number(o, o->def, cfg);
	}
	cfg->give_up_ms = default_give_up(cfg);
}

/* A value as the user writes it: octal with a leading 0, sizes with the
 * largest suffix that divides them. */
static void format_value(const struct opt *o, uint64_t v, char *buf,
			 size_t size)
{
	static const char suffix[] = " KMG";
	unsigned i = 0;

	if (o->kind == K_SIZE)
		while (i < 3 && v != 0 && v % 1024 == 0) {
			v /= 1024;
			i++;
		}
	snprintf(buf, size, o->base == 8 && v ? "0%" PRIo64 : "%" PRIu64, v);
	if (i > 0)
		snprintf(buf + strlen(buf), size - strlen(buf), "%c",
			 suffix[i]);
}

static void format_range(const struct opt *o, char *buf, size_t size)
{
	char lo[32], hi[32];

	format_value(o, o->min, lo, sizeof(lo));
	format_value(o, o->max, hi, sizeof(hi));
	snprintf(buf, size, "%s..%s", lo, hi);
}

/* Why the value was refused, and what the message names it by. */
static enum config_status bad_value(const struct opt *o, const char *arg,
				    const char *why, char *err, size_t errsz)
{
	char range[80];

	if (why) {
		snprintf(err, errsz, "--%s '%s': %s", o->name, arg, why);
	} else if (o->kind == K_UINT || o->kind == K_SIZE) {
		format_range(o, range, sizeof(range));
		snprintf(err, errsz,
			 "invalid value '%s' for --%s: expected "
			 "%s, %s",
			 arg, o->name, o->expect, range);
	} else {
		snprintf(err, errsz, "invalid value '%s' for --%s: expected %s",
			 arg, o->name, o->expect);
	}
	return CONFIG_ERROR;
}

static enum config_status apply(const struct opt *o, const char *arg,
				struct config *cfg, char *err, size_t errsz)
{
	const char *why = NULL;

	switch (o->kind) {
	case K_HELP:
		return CONFIG_HELP;
	case K_VERSION:
		return CONFIG_VERSION;
	default:
		break;
	}
	if ((o->set ? o->set(o, arg, cfg, &why) : store(o, arg, cfg)) != 0)
		return bad_value(o, arg, why, err, errsz);
	return CONFIG_RUN;
}

static const struct opt *by_letter(int c)
{
	for (const struct opt *o = table; o < table + NOPTS; o++)
		if (o->letter && o->letter == c)
			return o;
	return NULL;
}

/* The option getopt returned, reported or refused: a short letter or
 * LONG_VAL + its index. */
static const struct opt *by_val(int c)
{
	if (c >= LONG_VAL && (size_t)(c - LONG_VAL) < NOPTS)
		return &table[c - LONG_VAL];
	return c > 0 && c < LONG_VAL ? by_letter(c) : NULL;
}

/* getopt_long refuses an abbreviation that more than one name starts
 * with: say which names. */
static void unknown_long(const char *arg, char *err, size_t errsz)
{
	size_t n = strcspn(arg, "="), used;
	int matches = 0;

	used = (size_t)snprintf(err, errsz,
				"option '%.*s' is ambiguous:", (int)n, arg);
	for (const struct opt *o = table; o < table + NOPTS; o++) {
		const char *names[2] = {o->name, o->alias};
		for (int i = 0; i < 2; i++) {
			if (!names[i] || n < 2 ||
			    strncmp(names[i], arg + 2, n - 2) != 0)
				continue;
			if (used < errsz)
				used += (size_t)snprintf(
					err + used, errsz - used, "%s --%s",
					matches ? "," : "", names[i]);
			matches++;
		}
	}
	if (matches < 2)
		snprintf(err, errsz, "unknown option '%s'", arg);
}

/* getopt's '?' or ':' for an unknown option, a value missing, or a value
 * given to an option that takes none; optopt says which option (0 for an
 * unknown long one), and how it was written: a letter, or LONG_VAL + i. */
static enum config_status getopt_error(char **argv, char *err, size_t errsz)
{
	const struct opt *o = by_val(optopt);
	char name[40];

	if (!o && optopt > 0) {
		snprintf(err, errsz, "unknown option '-%c'", optopt);
		return CONFIG_ERROR;
	}
	if (!o) {
		unknown_long(argv[optind - 1], err, errsz);
		return CONFIG_ERROR;
	}
	if (optopt >= LONG_VAL)
		snprintf(name, sizeof(name), "--%s", o->name);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	/* By the option, not by c: BSD getopt_long says ':' for both. */
	snprintf(err, errsz, "option %s %s", name,
		 o->metavar ? "needs a value" : "takes no value");
	return CONFIG_ERROR;
}

/* What getopt is given, made from the table. */
struct getopt_tables {
	/* ':' first: a missing value is then ':', told apart from '?' */
	char shortopts[2 + 3 * NOPTS];
#ifdef USE_GETOPT_LONG
	struct option longopts[2 * NOPTS + 1];
#endif
};

static void make_getopt_tables(struct getopt_tables *g)
{
	char *s = g->shortopts;
#ifdef USE_GETOPT_LONG
	struct option *lo = g->longopts;
#endif

	*s++ = ':';
	for (size_t i = 0; i < NOPTS; i++) {
		const struct opt *o = &table[i];
		int has_arg = !o->metavar ? 0 : o->optional ? 2 : 1;
		if (o->letter) {
			*s++ = o->letter;
			for (int k = 0; k < has_arg; k++)
				*s++ = ':';
		}
#ifdef USE_GETOPT_LONG
		for (int k = 0; o->name && k < (o->alias ? 2 : 1); k++)
			*lo++ = (struct option){k ? o->alias : o->name, has_arg,
						NULL, LONG_VAL + (int)i};
#endif
	}
	*s = '\0';
#ifdef USE_GETOPT_LONG
	*lo = (struct option){NULL, 0, NULL, 0};
#endif
}

/* Start getopt afresh and silent (it would print its own errors). */
static void getopt_reset(void)
{
#ifdef USE_GETOPT_LONG
	/* 0, not 1: glibc, musl and the BSDs then also drop a position
	 * inside a group of short options where an earlier call stopped. */
	optind = 0;
#else
	optind = 1;
#endif
	opterr = 0;
}

static int next_option(int argc, char **argv, const struct getopt_tables *g)
{
#ifdef USE_GETOPT_LONG
	return getopt_long(argc, argv, g->shortopts, g->longopts, NULL);
#else
	return getopt(argc, argv, g->shortopts);
#endif
}

enum config_status config_parse(int argc, char **argv, struct config *cfg,
				char *errbuf, size_t errsz)
{
	struct getopt_tables g;
	enum config_status st;
	int c;

	make_getopt_tables(&g);
	getopt_reset();
	config_defaults(cfg);
	cfg->give_up_ms = 0; /* until given: it follows --timeout, --retries */
	cfg->umask = CONFIG_UMASK_UNSET; /* until given: see below */
	while ((c = next_option(argc, argv, &g)) != -1) {
		const struct opt *o = by_val(c); /* NULL for '?' and ':' */
		if (!o)
			return getopt_error(argv, errbuf, errsz);
		st = apply(o, optarg, cfg, errbuf, errsz);
		if (st != CONFIG_RUN)
			return st;
	}
	if (cfg->group && !cfg->user) {
		/* A group change alone would leave the daemon running as
		 * root while looking confined. */
		snprintf(errbuf, errsz, "--group needs --user");
		return CONFIG_ERROR;
	}
	if (cfg->single_port && cfg->port_low) {
		/* Two answers to "which port does a reply come from". */
		snprintf(errbuf, errsz,
			 "--single-port and --port-range exclude each other");
		return CONFIG_ERROR;
	}
	if (cfg->map_test && !cfg->map_file) {
		snprintf(errbuf, errsz, "--map-test needs --map-file");
		return CONFIG_ERROR;
	}
	if (cfg->give_up_ms == 0)
		cfg->give_up_ms = default_give_up(cfg);
	if (cfg->umask == CONFIG_UMASK_UNSET) /* tftpd-hpa's default */
		cfg->umask = cfg->permissive ? CONFIG_UMASK_INHERIT : 0;
	if (optind < argc)
		cfg->root = argv[optind++];
	if (optind < argc) {
		snprintf(errbuf, errsz, "unexpected argument '%s'",
			 argv[optind]);
		return CONFIG_ERROR;
	}
	return CONFIG_RUN;
}

/* --help is laid out in two columns, wrapped to 79. */
#define HELP_COLUMN 29
#define HELP_WIDTH 79

/* Text appended to a buffer that may be too small: what does not fit is
 * counted, not written, as snprintf does. */
struct text {
	char *buf;
	size_t size, len;
};

static void put(struct text *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(t->len < t->size ? t->buf + t->len : NULL,
		      t->len < t->size ? t->size - t->len : 0, fmt, ap);
	va_end(ap);
	if (n > 0)
		t->len += (size_t)n;
}

/* The help of one option, %r and %d filled in. */
static void expand_help(const struct opt *o, char *buf, size_t size)
{
	struct text t = {buf, size, 0};
	char v[80];

	buf[0] = '\0';
	for (const char *p = o->help; *p; p++) {
		if (p[0] != '%' || (p[1] != 'r' && p[1] != 'd')) {
			put(&t, "%c", *p);
			continue;
		}
		if (*++p == 'r')
			format_range(o, v, sizeof(v));
		else if (o->def_str)
			snprintf(v, sizeof(v), "%s", o->def_str);
		else
			format_value(o, o->def, v, sizeof(v));
		put(&t, "%s", v);
	}
}

/* One option: its names at the left, its help wrapped at the right. */
static void put_option(struct text *t, const struct opt *o)
{
	char help[400];
	size_t start = t->len, col;

	put(t, "  %c%c%s--%s", o->letter ? '-' : ' ',
	    o->letter ? o->letter : ' ', o->letter ? ", " : "  ", o->name);
	if (o->alias)
		put(t, ", --%s", o->alias);
	if (o->metavar)
		put(t, o->optional ? "[=%s]" : " %s", o->metavar);
	col = t->len - start;
	if (col >= HELP_COLUMN) {
		put(t, "\n");
		col = 0;
	}
	put(t, "%*s", (int)(HELP_COLUMN - col), "");
	col = HELP_COLUMN;
	expand_help(o, help, sizeof(help));
	for (const char *w = help; *w;) {
		size_t n = strcspn(w, " ");
		/* A short number stays on the line of the word before it:
		 * "(default 16)", "quiet 0". */
		while (w[n] == ' ' && w[n + 1] >= '0' && w[n + 1] <= '9' &&
		       strcspn(w + n + 1, " ") <= 6)
			n += 1 + strcspn(w + n + 1, " ");
		if (col > HELP_COLUMN && col + 1 + n > HELP_WIDTH) {
			put(t, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (col > HELP_COLUMN) {
			put(t, " ");
			col++;
		}
		put(t, "%.*s", (int)n, w);
		col += n;
		w += n + (w[n] == ' ');
	}
	put(t, "\n");
}

size_t config_usage(char *buf, size_t size)
{
	struct text t = {buf, size, 0};

	if (size > 0)
		buf[0] = '\0';
	put(&t, "Usage: ctftpd [OPTION]... [DIRECTORY]\n"
		"Serve files from DIRECTORY (default " CTFTPD_DEFAULT_ROOT
		") over TFTP.\n");
	for (const struct opt *o = table; o < table + NOPTS; o++) {
		if (o->kind == K_HEADING)
			put(&t, "\n%s\n", o->help);
		else
			put_option(&t, o);
	}
	return t.len;
}
