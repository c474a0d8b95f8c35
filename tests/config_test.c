/* Unit tests for the command line (src/config.c): each option's range edges
 * and junk values, repeats, tftpd-hpa's spellings, getopt's own errors,
 * --help and --version, and the --help text itself.  The expectations are
 * written here again on purpose, independent of the option table.
 * Usage: config_test ranges|values|spellings|errors|help.  Prints each
 * failed check; exits 1 if any failed, 2 for an unknown suite.
 * Built twice: config_test uses getopt_long, config_test_short is built
 * with CONFIG_SHORT_OPTIONS_ONLY and checks the short-option fallback. */
#include "autoconfig.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "log.h"
#include "options.h"
#include "rto.h"

#if defined(HAVE_GETOPT_LONG) && !defined(CONFIG_SHORT_OPTIONS_ONLY)
#define LONG_OPTIONS 1
#else
#define LONG_OPTIONS 0
#endif

static struct config cfg;
static char err[512];
static char *args[64], *old_args[64]; /* the copies, to scribble and free */
static int nargs, old_nargs;

/* config_parse on {"ctftpd", words..., NULL}, each word a heap copy.  The
 * words of the call before are then overwritten with 'L' (-L sets
 * foreground) and freed one call later: a parser that kept a position in
 * an old argv (getopt's inside "-Lc") sees options nobody gave. */
static enum config_status parse(const char *const *words)
{
	static char *argv[64]; /* getopt may reorder it: not args itself */

	while (old_nargs > 0)
		free(old_args[--old_nargs]);
	while (nargs > 0) {
		char *w = args[--nargs];
		memset(w, 'L', strlen(w));
		old_args[old_nargs++] = w;
	}
	args[nargs++] = strdup("ctftpd");
	for (; *words; words++)
		args[nargs++] = strdup(*words);
	memcpy(argv, args, sizeof(args[0]) * (size_t)nargs);
	argv[nargs] = NULL;
	err[0] = '\0';
#if !LONG_OPTIONS
	/* POSIX getopt has no full reset, so config_parse is documented as
	 * once per process there.  This glibc build resets it here: optind
	 * 0 and a call that ends at once. */
	optind = 0;
	(void)getopt(1, (char *[]){"x", NULL}, "");
#endif
	return config_parse(nargs, argv, &cfg, err, sizeof(err));
}

#define PARSE(...) parse((const char *[]){__VA_ARGS__, NULL})

/* Checks that print the message the parser gave. */
#define CHECK_RUN(st) check_status(__LINE__, (st), CONFIG_RUN, NULL)
#define CHECK_ERROR(st, ...)                       \
	check_status(__LINE__, (st), CONFIG_ERROR, \
		     (const char *[]){__VA_ARGS__, NULL})

static void check_status(int line, enum config_status st,
			 enum config_status want, const char *const *words)
{
	checks++;
	if (st != want) {
		failures++;
		fprintf(stderr, "config_test.c:%d: status %d, not %d; '%s'\n",
			line, (int)st, (int)want, err);
		return;
	}
	for (; words && *words; words++)
		if (!strstr(err, *words)) {
			failures++;
			fprintf(stderr,
				"config_test.c:%d: message '%s' lacks '%s'\n",
				line, err, *words);
			return;
		}
}

/* --- ranges: min and max accepted, min-1 and max+1 refused, junk --- */

struct range {
	const char *name; /* long name */
	char letter;	  /* short name, or 0 */
	int attached;	  /* the value is optional: only -Xv, --name=v */
	const char *min, *max;
	const char *below; /* min-1, or NULL when min is 0 */
	const char *above; /* max+1 */
	size_t field;	   /* offsetof(struct config, ...) */
	int is_size;	   /* a size_t field, else unsigned */
	uint64_t min_stored, max_stored;
	const char *range; /* as messages and --help write it */
};

#define F(m) offsetof(struct config, m)
#define G64 ((uint64_t)64 << 30)

static const struct range ranges[] = {
	{"port", 0, 0, "1", "65535", "0", "65536", F(port), 0, 1, 65535,
	 "1..65535"},
	{"idle-timeout", 't', 0, "0", "31536000", NULL, "31536001",
	 F(idle_timeout), 0, 0, 31536000, "0..31536000"},
	{"max-block-size", 'B', 0, "8", "65464", "7", "65465",
	 F(max_block_size), 0, 8, 65464, "8..65464"},
	{"max-window", 0, 0, "1", "32767", "0", "32768", F(max_window), 0, 1,
	 32767, "1..32767"},
	{"timeout", 0, 0, "1", "255", "0", "256", F(timeout_ms), 0, 1000,
	 255000, "1..255"},
	{"retransmit", 'T', 0, "1000", "255000000", "999", "255000001",
	 F(timeout_ms), 0, 1, 255000, "1000..255000000"},
	{"min-timeout", 0, 0, "1", "255000", "0", "255001", F(min_timeout_ms),
	 0, 1, 255000, "1..255000"},
	{"retries", 0, 0, "1", "100", "0", "101", F(retries), 0, 1, 100,
	 "1..100"},
	{"give-up", 0, 0, "1", "3600", "0", "3601", F(give_up_ms), 0, 1000,
	 3600000, "1..3600"},
	{"max-clients", 0, 0, "1", "65535", "0", "65536", F(max_clients), 0, 1,
	 65535, "1..65535"},
	{"umask", 'U', 0, "0", "0777", NULL, "01000", F(umask), 0, 0, 0777,
	 "0..0777"},
	{"verbose", 'v', 1, "0", "3", NULL, "4", F(verbosity), 0, 0, 3, "0..3"},
	{"verbosity", 0, 0, "0", "3", NULL, "4", F(verbosity), 0, 0, 3, "0..3"},
	{"cache-size", 0, 0, "0", "64G", NULL, "68719476737", F(cache_size), 1,
	 0, G64, "0..64G"},
	{"max-upload-size", 0, 0, "0", "64G", NULL, "68719476737",
	 F(max_upload_size), 1, 0, G64, "0..64G"},
	{"cache-max-file", 0, 0, "1", "64G", "0", "68719476737",
	 F(cache_max_file), 1, 1, G64, "1..64G"},
	{"cache-min-age", 0, 0, "0", "3600000", NULL, "3600001",
	 F(cache_min_age_ms), 0, 0, 3600000, "0..3600000"},
};

static uint64_t stored(const struct range *r)
{
	const char *p = (const char *)&cfg + r->field;
	return r->is_size ? *(const size_t *)p : *(const unsigned *)p;
}

/* Parse one value in every spelling of the option: --name=v, --name v,
 * -Xv, -X v (the separate ones only where the value is required).  Each
 * must be accepted and stored as want (want_ok), or refused with a message
 * naming the option by its long name, the value and the range. */
static void try_value(const struct range *r, const char *v, int want_ok,
		      uint64_t want)
{
	char name[64], eq[128], letter[3] = {'-', r->letter, '\0'}, joined[128];
	const char *forms[4][3] = {{NULL}};
	int n = 0;

	snprintf(name, sizeof(name), "--%s", r->name);
	snprintf(eq, sizeof(eq), "--%s=%s", r->name, v);
	snprintf(joined, sizeof(joined), "-%c%s", r->letter, v);
	if (LONG_OPTIONS) {
		forms[n++][0] = eq;
		if (!r->attached) {
			forms[n][0] = name;
			forms[n++][1] = v;
		}
	}
	if (r->letter && v[0] != '\0') /* "-X" alone takes the next word */
		forms[n++][0] = joined;
	if (r->letter && !r->attached) {
		forms[n][0] = letter;
		forms[n++][1] = v;
	}
	for (int i = 0; i < n; i++) {
		enum config_status st = parse(forms[i]);
		if (want_ok) {
			CHECK_RUN(st);
			CHECK(st != CONFIG_RUN || stored(r) == want);
		} else {
			CHECK_ERROR(st, name, r->range);
			CHECK(strstr(err, v) != NULL);
		}
	}
}

static void test_ranges(void)
{
	static const char *const junk[] = {
		"12x",
		"",
		"-1",
		"+1",
		" 1",
		"1 ",
		"0x10",
		"1e3",
		"1.5",
		"18446744073709551617",
		"99999999999999999999",
		"340282366920938463463374607431768211457"};

	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		const struct range *r = &ranges[i];
		if (r->is_size && (uint64_t)SIZE_MAX < G64)
			continue; /* a 32-bit size_t: the limit is lower */
		try_value(r, r->min, 1, r->min_stored);
		try_value(r, r->max, 1, r->max_stored);
		if (r->below)
			try_value(r, r->below, 0, 0);
		try_value(r, r->above, 0, 0);
		for (size_t j = 0; j < sizeof(junk) / sizeof(junk[0]); j++)
			try_value(r, junk[j], 0, 0);
	}

	/* 2^32 + 1 would be 1 in a 32-bit unsigned. */
	CHECK_ERROR(PARSE("-T", "4294968296"), "--retransmit");
	CHECK_ERROR(PARSE("-t", "4294967297"), "--idle-timeout");
	/* Octal digits only, and leading zeros are fine in both bases. */
	CHECK_ERROR(PARSE("-U", "8"), "--umask", "0..0777");
	CHECK_RUN(PARSE("-U", "022"));
	CHECK(cfg.umask == 022);
	CHECK_RUN(PARSE("-U", "77"));
	CHECK(cfg.umask == 077);
	CHECK_RUN(PARSE("-t", "0060"));
	CHECK(cfg.idle_timeout == 60);
	/* -T keeps whole milliseconds. */
	CHECK_RUN(PARSE("-T", "1999"));
	CHECK(cfg.timeout_ms == 1);
	if (!LONG_OPTIONS)
		return;
	/* Sizes: K, M, G in either case, powers of 1024, nothing after. */
	CHECK_RUN(PARSE("--cache-size", "1k"));
	CHECK(cfg.cache_size == 1024);
	CHECK_RUN(PARSE("--cache-size", "3M"));
	CHECK(cfg.cache_size == (size_t)3 << 20);
	CHECK_RUN(PARSE("--cache-size", "65536M"));
	CHECK(cfg.cache_size == (size_t)G64);
	CHECK_RUN(PARSE("--cache-max-file", "1g"));
	CHECK(cfg.cache_max_file == (size_t)1 << 30);
	static const char *const bad_sizes[] = {"65G", "65537M", "1T",
						"1KB", "K",	 "1 K",
						"-1K", "1K1",	 "16777216G"};
	for (size_t j = 0; j < sizeof(bad_sizes) / sizeof(bad_sizes[0]); j++)
		CHECK_ERROR(PARSE("--cache-size", bad_sizes[j]), "--cache-size",
			    "K, M or G", "0..64G");
}

/* --- values: defaults, repeats, lists, the special rules --- */

static void test_values(void)
{
	struct config defaults;

	/* Defaults: what ctftpd(8) documents. */
	CHECK_RUN(parse((const char *[]){NULL}));
	CHECK(cfg.port == 69);
	CHECK(strcmp(cfg.root, CTFTPD_DEFAULT_ROOT) == 0);
	CHECK(cfg.nlisten == 0);
	CHECK(cfg.max_block_size == 0); /* the MTU */
	CHECK(cfg.max_window == CONFIG_DEFAULT_MAX_WINDOW);
	CHECK(cfg.refused == 0);
	CHECK(cfg.timeout_ms == 1000);
	CHECK(cfg.min_timeout_ms == RTO_FLOOR_MS);
	CHECK(cfg.retries == 5);
	CHECK(cfg.give_up_ms == 60000);
	CHECK(cfg.strict_timeout == 0);
	CHECK(cfg.max_clients == 256);
	CHECK(cfg.verbosity == LOG_V_TRANSFERS);
	CHECK(!cfg.foreground && !cfg.permissive && !cfg.chroot);
	CHECK(cfg.mode == CONFIG_MODE_AUTO);
	CHECK(cfg.family == AF_UNSPEC);
	CHECK(cfg.idle_timeout == 900);
	CHECK(!cfg.pidfile && !cfg.user && !cfg.group);
	CHECK(cfg.umask == 0); /* tftpd-hpa's: new uploads rw for all */
	CHECK(!cfg.create && !cfg.readonly && cfg.max_upload_size == 0);
	CHECK(cfg.port_low == 0 && cfg.port_high == 0);
	CHECK(cfg.cache_size == (size_t)64 << 20);
	CHECK(cfg.cache_max_file == (size_t)16 << 20);
	CHECK(cfg.cache_min_age_ms == 2000);
	config_defaults(&defaults);
	CHECK(memcmp(&defaults, &cfg, sizeof(cfg)) == 0);

	/* The directory operand; a second one is an error. */
	CHECK_RUN(PARSE("/a"));
	CHECK(strcmp(cfg.root, "/a") == 0);
	CHECK_ERROR(PARSE("/a", "/b"), "unexpected argument '/b'");

	/* Repeats: the last one wins; -T and --timeout share the timer. */
	CHECK_RUN(PARSE("-t", "5", "-t", "7"));
	CHECK(cfg.idle_timeout == 7);
	CHECK_RUN(PARSE("-4", "-6"));
	CHECK(cfg.family == AF_INET6);
	CHECK_RUN(PARSE("-6", "-4"));
	CHECK(cfg.family == AF_INET);
	CHECK_RUN(PARSE("-T", "300000", "-T", "2000"));
	CHECK(cfg.timeout_ms == 2);
	/* --refuse and --address add up. */
	CHECK_RUN(PARSE("-r", "blksize", "-r", "TSIZE", "-r", "blksize"));
	CHECK(cfg.refused == (OPTION_BLKSIZE | OPTION_TSIZE));
	CHECK_RUN(PARSE("-r", "timeout", "-r", "windowsize"));
	CHECK(cfg.refused == (OPTION_TIMEOUT | OPTION_WINDOWSIZE));
	CHECK_ERROR(PARSE("-r", "multicast"), "--refuse", "'multicast'",
		    "blksize, timeout, tsize or windowsize");
	CHECK_ERROR(PARSE("-r", ""), "--refuse");

	/* Addresses, in each of tftpd-hpa's forms. */
	CHECK_RUN(PARSE("-a", "127.0.0.1", "-a", "[::1]:6969", "-a",
			"10.1.2.3:70", "-a", "fe80::1%lo", "-a", "::"));
	CHECK(cfg.nlisten == 5);
	CHECK(strcmp(cfg.listen[0].host, "127.0.0.1") == 0 &&
	      cfg.listen[0].port == 0);
	CHECK(strcmp(cfg.listen[1].host, "::1") == 0 &&
	      cfg.listen[1].port == 6969);
	CHECK(strcmp(cfg.listen[2].host, "10.1.2.3") == 0 &&
	      cfg.listen[2].port == 70);
	CHECK(strcmp(cfg.listen[3].host, "fe80::1%lo") == 0 &&
	      cfg.listen[3].port == 0);
	CHECK(strcmp(cfg.listen[4].host, "::") == 0);
	CHECK(cfg.port == 69);
	CHECK_RUN(PARSE("-a", ":6970"));
	CHECK(cfg.nlisten == 0 && cfg.port == 6970);
	CHECK_RUN(PARSE("-a", "[::1]"));
	CHECK(cfg.nlisten == 1 && strcmp(cfg.listen[0].host, "::1") == 0);
	static const char *const bad_addresses[] = {
		"localhost", "", ":", "[::1", "[::1]x",
		"[::1]:", "1.2.3.4:", "1.2.3.4:0", "1.2.3.4:65536",
		"1.2.3.4:12x", "1.2.3.4:-1", "[]", "1.2.3", "[1.2.3.4]:x",
		/* 64 bytes: one more than the room in struct config_listen */
		"[aaaa:bbbb:cccc:dddd:eeee:ffff:aaaa:bbbb%aaaaaaaaaaaaaaaaaaaaaaaa]"};
	for (size_t i = 0; i < sizeof(bad_addresses) / sizeof(bad_addresses[0]);
	     i++)
		CHECK_ERROR(PARSE("-a", bad_addresses[i]), "--address",
			    "ADDR:PORT");
	CHECK_ERROR(PARSE("-a", "1.1.1.1", "-a", "1.1.1.2", "-a", "1.1.1.3",
			  "-a", "1.1.1.4", "-a", "1.1.1.5", "-a", "1.1.1.6",
			  "-a", "1.1.1.7", "-a", "1.1.1.8", "-a", "1.1.1.9"),
		    "--address '1.1.1.9'", "at most 8");

	/* Port ranges. */
	CHECK_RUN(PARSE("-R", "1:65535"));
	CHECK(cfg.port_low == 1 && cfg.port_high == 65535);
	CHECK_RUN(PARSE("-R", "5000:5000"));
	CHECK(cfg.port_low == 5000 && cfg.port_high == 5000);
	static const char *const bad_ranges[] = {
		"5000", "6000:5000", "0:10",  "1:65536", ":5",	 "5:",
		":",	"a:b",	     "1:2:3", "-1:5",	 "1 :5", ""};
	for (size_t i = 0; i < sizeof(bad_ranges) / sizeof(bad_ranges[0]); i++)
		CHECK_ERROR(PARSE("-R", bad_ranges[i]), "--port-range",
			    "LOW:HIGH, 1..65535");

	/* Names: not empty. */
	CHECK_ERROR(PARSE("-P", ""), "--pidfile", "a file name");
	CHECK_ERROR(PARSE("-u", ""), "--user", "a user name");
	CHECK_RUN(PARSE("-u", "tftp", "-P", "/run/t.pid"));
	CHECK(strcmp(cfg.user, "tftp") == 0);
	CHECK(strcmp(cfg.pidfile, "/run/t.pid") == 0);

	/* -v: one level up per v, at most 3; a level must be attached. */
	CHECK_RUN(PARSE("-v"));
	CHECK(cfg.verbosity == 2);
	CHECK_RUN(PARSE("-v", "-v"));
	CHECK(cfg.verbosity == 3);
	CHECK_RUN(PARSE("-vv"));
	CHECK(cfg.verbosity == 3);
	CHECK_RUN(PARSE("-v", "-v", "-v", "-vvv"));
	CHECK(cfg.verbosity == 3);
	CHECK_RUN(PARSE("-v0", "-v"));
	CHECK(cfg.verbosity == 1);
	CHECK_RUN(PARSE("-v", "2"));
	CHECK(cfg.verbosity == 2 && strcmp(cfg.root, "2") == 0);
	CHECK_ERROR(PARSE("-vx"), "--verbose", "'x'", "0..3");
	CHECK_ERROR(PARSE("-vvx"), "--verbose", "'vx'");
	CHECK_ERROR(PARSE("-v-1"), "--verbose");

	/* tftpd-hpa's -c and -m. */
	CHECK_RUN(PARSE("-c"));
	CHECK(cfg.create == 1 && cfg.readonly == 0);
	CHECK(cfg.map_file == NULL && cfg.map_test == 0);
	CHECK_RUN(PARSE("-m", "/etc/tftp.map"));
	CHECK(cfg.map_file && strcmp(cfg.map_file, "/etc/tftp.map") == 0);
	CHECK(cfg.map_test == 0);
	CHECK_RUN(PARSE("-cm", "rules"));
	CHECK(cfg.create == 1 && strcmp(cfg.map_file, "rules") == 0);
	CHECK_ERROR(PARSE("-m", ""), "--map-file", "a file name");
	CHECK_ERROR(PARSE("-m"), "option -m needs a value");
	/* The umask of new files: tftpd-hpa's defaults, 0, or the inherited
	 * one with -p; -U wins in any order. */
	CHECK_RUN(PARSE("-c"));
	CHECK(cfg.umask == 0);
	CHECK_RUN(PARSE("-p"));
	CHECK(cfg.umask == CONFIG_UMASK_INHERIT);
	CHECK_RUN(PARSE("-U", "027", "-p"));
	CHECK(cfg.umask == 027);
	CHECK_RUN(PARSE("-p", "-U", "0"));
	CHECK(cfg.umask == 0);

	/* --group needs --user. */
	if (LONG_OPTIONS) {
		CHECK_ERROR(PARSE("--group", "adm"), "--group needs --user");
		CHECK_ERROR(PARSE("--user", "tftp", "--group", ""), "--group",
			    "a group name");
		CHECK_RUN(PARSE("--user", "tftp", "--group", "adm"));
		CHECK(strcmp(cfg.group, "adm") == 0);
		CHECK_RUN(PARSE("--file-directory", "/x"));
		CHECK(strcmp(cfg.root, "/x") == 0);
		CHECK_RUN(PARSE("--file-directory", "/x", "/y"));
		CHECK(strcmp(cfg.root, "/y") == 0);
		CHECK_RUN(PARSE("--timeout", "3", "-T", "500000"));
		CHECK(cfg.timeout_ms == 500);
		CHECK_RUN(PARSE("-T", "500000", "--timeout", "3"));
		CHECK(cfg.timeout_ms == 3000);
		/* --give-up: 60 s, or --timeout x (--retries + 1) when longer,
		 * unless given, in any order. */
		CHECK_RUN(PARSE("--timeout", "5", "--retries", "5"));
		CHECK(cfg.give_up_ms == 60000);
		CHECK_RUN(PARSE("--timeout", "10", "--retries", "9"));
		CHECK(cfg.give_up_ms == 100000);
		CHECK_RUN(PARSE("-T", "255000000", "--retries", "100"));
		CHECK(cfg.give_up_ms == 255000u * 101);
		CHECK_RUN(PARSE("--give-up", "7", "--timeout", "10"));
		CHECK(cfg.give_up_ms == 7000);
		CHECK_RUN(PARSE("--timeout", "10", "--give-up", "7"));
		CHECK(cfg.give_up_ms == 7000);
		CHECK_RUN(PARSE("--strict-timeout"));
		CHECK(cfg.strict_timeout == 1);
		CHECK_RUN(PARSE("--port", "70", "--port", "71"));
		CHECK(cfg.port == 71);
		CHECK_RUN(PARSE("-l", "--inetd"));
		CHECK(cfg.mode == CONFIG_MODE_INETD);
		CHECK_RUN(PARSE("--inetd", "-l"));
		CHECK(cfg.mode == CONFIG_MODE_STANDALONE);
		CHECK_RUN(PARSE("--verbose", "--verbose=0", "--verbose"));
		CHECK(cfg.verbosity == 1);
		CHECK_ERROR(PARSE("--verbose="), "--verbose", "0..3");
		CHECK_RUN(PARSE("--verbosity", "0", "-v"));
		CHECK(cfg.verbosity == 1);
		CHECK_RUN(PARSE("--host", "::1", "--address", "127.0.0.1"));
		CHECK(cfg.nlisten == 2);
		CHECK_ERROR(PARSE("--host", "x"), "--address");
		CHECK_RUN(PARSE("--create", "--readonly", "--max-upload-size",
				"1M"));
		CHECK(cfg.create == 1 && cfg.readonly == 1 &&
		      cfg.max_upload_size == (size_t)1 << 20);
		CHECK_RUN(PARSE("--map-file", "f", "--map-test"));
		CHECK(strcmp(cfg.map_file, "f") == 0 && cfg.map_test == 1);
		CHECK_RUN(PARSE("--map-test", "--map-file=f"));
		CHECK(cfg.map_test == 1);
		/* Testing rules needs rules. */
		CHECK_ERROR(PARSE("--map-test"), "--map-test needs --map-file");
		CHECK_ERROR(PARSE("--map-test=1", "-m", "f"), "--map-test",
			    "takes no value");
	}
}

/* --- spellings: the command lines tftpd-hpa users already have --- */

static void test_spellings(void)
{
	/* Short options as /etc/default/tftpd-hpa passes them. */
	CHECK_RUN(PARSE("-l", "-s", "-u", "tftp", "-a", "0.0.0.0:6969", "-p",
			"-U", "002", "-B", "1468", "-R", "4096:32767", "-r",
			"tsize", "-v", "-4", "-L", "-P", "/run/tftpd.pid", "-t",
			"60", "-T", "250000", "/srv/tftp"));
	CHECK(cfg.mode == CONFIG_MODE_STANDALONE);
	CHECK(cfg.chroot == 1);
	CHECK(strcmp(cfg.user, "tftp") == 0);
	CHECK(cfg.nlisten == 1 && strcmp(cfg.listen[0].host, "0.0.0.0") == 0 &&
	      cfg.listen[0].port == 6969);
	CHECK(cfg.permissive == 1);
	CHECK(cfg.umask == 002);
	CHECK(cfg.max_block_size == 1468);
	CHECK(cfg.port_low == 4096 && cfg.port_high == 32767);
	CHECK(cfg.refused == OPTION_TSIZE);
	CHECK(cfg.verbosity == 2);
	CHECK(cfg.family == AF_INET);
	CHECK(cfg.foreground == 1);
	CHECK(strcmp(cfg.pidfile, "/run/tftpd.pid") == 0);
	CHECK(cfg.idle_timeout == 60);
	CHECK(cfg.timeout_ms == 250);
	CHECK(strcmp(cfg.root, "/srv/tftp") == 0);
	CHECK_RUN(PARSE("-6"));
	CHECK(cfg.family == AF_INET6);

	/* Grouped short options, a value attached or in the next word. */
	CHECK_RUN(PARSE("-Lps4", "-B512", "-vv"));
	CHECK(cfg.foreground && cfg.permissive && cfg.chroot);
	CHECK(cfg.family == AF_INET && cfg.max_block_size == 512);
	CHECK(cfg.verbosity == 3);
	CHECK_RUN(PARSE("-LT", "5000"));
	CHECK(cfg.foreground && cfg.timeout_ms == 5);
	CHECK_RUN(PARSE("-sa::1"));
	CHECK(cfg.chroot && cfg.nlisten == 1);
	/* Options after the operand (GNU order) with getopt_long. */
	if (LONG_OPTIONS) {
		CHECK_RUN(PARSE("/srv", "-L"));
		CHECK(cfg.foreground && strcmp(cfg.root, "/srv") == 0);
	}

	if (!LONG_OPTIONS)
		return;
	/* The same by their long names, tftpd-hpa's and ours. */
	CHECK_RUN(PARSE("--listen", "--secure", "--user", "tftp", "--address",
			"[::1]:69", "--permissive", "--umask", "0",
			"--blocksize", "1024", "--port-range", "1:2",
			"--refuse", "blksize", "--verbose", "--ipv6",
			"--foreground", "--pidfile", "p", "--retransmit",
			"3000000", "--idle-timeout", "0"));
	CHECK(cfg.mode == CONFIG_MODE_STANDALONE && cfg.chroot);
	CHECK(strcmp(cfg.user, "tftp") == 0 && cfg.nlisten == 1);
	CHECK(cfg.permissive && cfg.umask == 0 && cfg.max_block_size == 1024);
	CHECK(cfg.port_low == 1 && cfg.port_high == 2);
	CHECK(cfg.refused == OPTION_BLKSIZE && cfg.verbosity == 2);
	CHECK(cfg.family == AF_INET6 && cfg.foreground);
	CHECK(cfg.timeout_ms == 3000 && cfg.idle_timeout == 0);
	CHECK_RUN(PARSE("--chroot", "--max-block-size", "9000", "--ipv4"));
	CHECK(cfg.chroot && cfg.max_block_size == 9000);
	CHECK(cfg.family == AF_INET);
	/* Our names for what tftpd-hpa spells otherwise. */
	CHECK_RUN(PARSE("--max-window", "4", "--min-timeout", "5", "--retries",
			"9", "--max-clients", "10", "--cache-size", "0",
			"--cache-max-file", "1M", "--cache-min-age", "0"));
	CHECK(cfg.max_window == 4 && cfg.min_timeout_ms == 5);
	CHECK(cfg.retries == 9 && cfg.max_clients == 10);
	CHECK(cfg.cache_size == 0 && cfg.cache_max_file == (size_t)1 << 20);
	CHECK(cfg.cache_min_age_ms == 0);
	/* Unambiguous abbreviations, as getopt_long allows. */
	CHECK_RUN(PARSE("--time", "5", "--perm"));
	CHECK(cfg.timeout_ms == 5000 && cfg.permissive);
}

/* --- errors: getopt's, and --help/--version --- */

static void test_errors(void)
{
	CHECK(PARSE("-h") == CONFIG_HELP);
	CHECK(PARSE("-V") == CONFIG_VERSION);
	CHECK(PARSE("-hV") == CONFIG_HELP);
	CHECK(PARSE("-Vh") == CONFIG_VERSION);
	CHECK(PARSE("-L", "-h", "-t", "x") == CONFIG_HELP);
	CHECK_ERROR(PARSE("-t", "x", "-h"), "--idle-timeout");
	CHECK_ERROR(PARSE("-X"), "unknown option '-X'");
	CHECK_ERROR(PARSE("-LX"), "unknown option '-X'");
	CHECK_ERROR(PARSE("-XL"), "unknown option '-X'");
	CHECK_ERROR(PARSE("-a"), "option -a needs a value");
	CHECK_ERROR(PARSE("-La"), "option -a needs a value");

	/* After a call that stopped inside "-cL", a new call starts afresh:
	 * the old argv (now all L) must not be read.  (The short-option
	 * build is reset by parse() itself: see there.) */
	CHECK_ERROR(PARSE("-pXL"), "unknown option '-X'");
	CHECK_RUN(PARSE("-p"));
	CHECK(cfg.foreground == 0 && cfg.permissive == 1);
	CHECK_ERROR(PARSE("-vxL"), "--verbose");
	CHECK_RUN(PARSE("-s"));
	CHECK(cfg.foreground == 0 && cfg.chroot == 1);

	if (!LONG_OPTIONS) {
		/* Short options only: the long ones are not recognised. */
		CHECK_ERROR(PARSE("--port", "70"), "unknown option");
		return;
	}
	/* getopt_long also takes options after the operand. */
	CHECK_ERROR(PARSE("/srv", "-T"), "option -T needs a value");
	CHECK(PARSE("--help") == CONFIG_HELP);
	CHECK(PARSE("--version") == CONFIG_VERSION);
	CHECK(PARSE("--help", "--port", "0") == CONFIG_HELP);
	CHECK_ERROR(PARSE("--port", "0", "--help"), "--port");
	CHECK_ERROR(PARSE("--help=1"), "option --help takes no value");
	CHECK_ERROR(PARSE("--listen=x"), "option --listen takes no value");
	CHECK_ERROR(PARSE("--chroot=1"), "option --secure takes no value");
	CHECK_ERROR(PARSE("--no-such-option"),
		    "unknown option '--no-such-option'");
	CHECK_ERROR(PARSE("--timeout"), "option --timeout needs a value");
	CHECK_ERROR(PARSE("--time"), "option --timeout needs a value");
	CHECK_ERROR(PARSE("--host"), "option --address needs a value");
	CHECK_ERROR(PARSE("--ver"), "'--ver' is ambiguous", "--verbose",
		    "--verbosity", "--version");
	CHECK_ERROR(PARSE("--cache=1"), "'--cache' is ambiguous",
		    "--cache-size", "--cache-max-file", "--cache-min-age");
	/* Every name is known (whatever its value makes of it). */
	static const char *const names[] = {
		"listen",	  "inetd",	    "idle-timeout",
		"foreground",	  "pidfile",	    "user",
		"group",	  "secure",	    "chroot",
		"address",	  "host",	    "port",
		"ipv4",		  "ipv6",	    "port-range",
		"file-directory", "max-block-size", "blocksize",
		"max-window",	  "refuse",	    "timeout",
		"retransmit",	  "min-timeout",    "retries",
		"give-up",	  "strict-timeout", "max-clients",
		"permissive",	  "umask",	    "verbose",
		"verbosity",	  "cache-size",	    "cache-max-file",
		"cache-min-age",  "create",	    "map-file",
		"map-test",	  "readonly",	    "max-upload-size",
		"help",		  "version",	    "log-file"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char opt[64];
		snprintf(opt, sizeof(opt), "--%s", names[i]);
		PARSE(opt, "1");
		CHECK(strstr(err, "unknown option") == NULL);
		CHECK(strstr(err, "ambiguous") == NULL);
	}
}

/* --- help: complete, within 79 columns, sized like snprintf --- */

static void test_help(void)
{
	size_t n = config_usage(NULL, 0);
	char *help = malloc(n + 1), small[16];
	const char *line;

	CHECK(help != NULL);
	if (!help)
		return;
	CHECK(config_usage(help, n + 1) == n);
	CHECK(strlen(help) == n);
	CHECK(config_usage(small, sizeof(small)) == n);
	CHECK(strlen(small) == sizeof(small) - 1);
	CHECK(strncmp(help, small, sizeof(small) - 1) == 0);
	CHECK(strncmp(help, "Usage: ctftpd [OPTION]... [DIRECTORY]\n", 38) ==
	      0);
	CHECK(strstr(help, "(default " CTFTPD_DEFAULT_ROOT ")") != NULL);
	for (line = help; *line;) {
		size_t len = strcspn(line, "\n");
		CHECK(len <= 79);
		CHECK(len == 0 || line[len - 1] != ' ');
		line += len + (line[len] == '\n');
	}
	/* Each option with a range shows it, as its messages do. */
	for (size_t i = 0; i < sizeof(ranges) / sizeof(ranges[0]); i++) {
		char name[64];
		const char *at;
		snprintf(name, sizeof(name), "--%s", ranges[i].name);
		at = strstr(help, name);
		CHECK(at != NULL);
		CHECK(at && strstr(at, ranges[i].range) != NULL);
	}
	static const char *const shown[] = {
		"-l, --listen",
		"--inetd",
		"-t, --idle-timeout SECONDS",
		"-L, --foreground",
		"-P, --pidfile FILE",
		"--log-file FILE",
		"-u, --user USER",
		"--group GROUP",
		"-s, --secure, --chroot",
		"-a, --address, --host ADDR[:PORT]",
		"--port PORT",
		"-4, --ipv4",
		"-6, --ipv6",
		"-R, --port-range LOW:HIGH",
		"--file-directory DIR",
		"-B, --max-block-size, --blocksize N",
		"--max-window N",
		"-r, --refuse OPTION",
		"--timeout SECONDS",
		"-T, --retransmit USEC",
		"--min-timeout MS",
		"--retries N",
		"--give-up SECONDS",
		"--strict-timeout",
		"--max-clients N",
		"-p, --permissive",
		"-U, --umask MASK",
		"-v, --verbose[=LEVEL]",
		"--verbosity LEVEL",
		"--cache-size BYTES",
		"--cache-max-file BYTES",
		"--cache-min-age MS",
		"-c, --create",
		"-m, --map-file FILE",
		"--map-test",
		"-h, --help",
		"-V, --version",
		"(default 64M)",
		"(default 16M)",
		"(default 900)",
		"(default 1)",
		"(default 20)",
		"(default 16)",
		"(default 0; with --permissive the inherited umask",
		"--readonly",
		"--max-upload-size BYTES",
		"(default 2000)"};
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
		checks++;
		if (!strstr(help, shown[i])) {
			failures++;
			fprintf(stderr, "--help lacks '%s'\n", shown[i]);
		}
	}
	free(help);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} suites[] = {{"ranges", test_ranges},
		      {"values", test_values},
		      {"spellings", test_spellings},
		      {"errors", test_errors},
		      {"help", test_help}};

	for (size_t i = 0; argc == 2 && i < sizeof(suites) / sizeof(suites[0]);
	     i++) {
		if (strcmp(argv[1], suites[i].name) != 0)
			continue;
		suites[i].run();
		while (nargs > 0)
			free(args[--nargs]);
		while (old_nargs > 0)
			free(old_args[--old_nargs]);
		printf("%s%s: %d checks, %d failed\n", argv[1],
		       LONG_OPTIONS ? "" : " (short options only)", checks,
		       failures);
		return failures ? 1 : 0;
	}
	fprintf(stderr, "usage: config_test ranges|values|spellings|errors|"
			"help\n");
	return 2;
}
