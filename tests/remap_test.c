/* Tests for the remap module (tftpd-hpa rule files), and a small tool.
 * Usage:
 *   remap_test SUITE             run a suite: syntax errors ops escapes
 *                                client limits hostile load random prefix
 *   remap_test map RULES [-w] [-c ADDR]
 *                                --map-test's loop (maptest.h) without the
 *                                path policy: each line of stdin is a
 *                                request, "NAME [ADDR] [RRQ|WRQ]", by
 *                                default an RRQ (-w: a WRQ) from ADDR
 *                                (default 127.0.0.1); one line out per name:
 *                                "mapped LINES NAME", "unchanged LINES NAME",
 *                                "refused LINE [MESSAGE]" or
 *                                "error LINE RESULT-TEXT"
 *   remap_test bench RULES NAME [CALLS]
 *                                median nanoseconds per remap_map call
 * A suite prints each failed check and exits 1 if any failed, 0 otherwise;
 * map and bench exit 1 on a bad rule file, 2 on bad usage. */
#include "autoconfig.h"

#include "maptest.h"
#include "remap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* --- helpers --- */

static union {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
} v4, v6, v4mapped;

static void make_clients(void)
{
	memset(&v4, 0, sizeof(v4));
	v4.sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.169", &v4.sin.sin_addr);
	memset(&v6, 0, sizeof(v6));
	v6.sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6.sin6_addr);
	memset(&v4mapped, 0, sizeof(v4mapped));
	v4mapped.sin6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, "::ffff:192.0.2.169", &v4mapped.sin6.sin6_addr);
}

static struct remap_rules *parse(const char *text)
{
	struct remap_error err;
	struct remap_rules *r = remap_parse(text, strlen(text), &err);

	if (!r)
		fprintf(stderr, "unexpected parse error, line %u: %s\n",
			err.line, err.message);
	return r;
}

/* Parse text that must be refused at line `line` with a message containing
 * `what`.  Returns nonzero when it was. */
static int refused_at(const char *text, size_t len, unsigned line,
		      const char *what)
{
	struct remap_error err;
	struct remap_rules *r = remap_parse(text, len, &err);

	if (r) {
		remap_free(r);
		fprintf(stderr, "accepted, expected line %u: %s\n", line, what);
		return 0;
	}
	if (err.line != line || !strstr(err.message, what) || errno != EINVAL) {
		fprintf(stderr,
			"got line %u \"%s\" (errno %d), expected line "
			"%u \"%s\"\n",
			err.line, err.message, errno, line, what);
		return 0;
	}
	return 1;
}

/* refused_at for a string literal, NUL bytes included. */
#define REFUSED(lit, line, what) refused_at(lit, sizeof(lit) - 1, line, what)

#define OUTSZ 4096

/* Map name with rule text; nonzero when the result and the output are the
 * ones expected (want_out NULL: not checked). */
static int maps(const char *rules_text, const char *name,
		enum remap_request kind, const struct sockaddr *client,
		enum remap_result want, const char *want_out)
{
	struct remap_rules *r = parse(rules_text);
	char out[OUTSZ];
	enum remap_result got;
	int ok;

	if (!r)
		return 0;
	memset(out, 'Z', sizeof(out));
	got = remap_map(r, name, kind, client, out, sizeof(out), NULL);
	ok = got == want && (!want_out || strcmp(out, want_out) == 0);
	if (!ok)
		fprintf(stderr,
			"rules \"%s\", name \"%s\": got %s \"%.80s\", "
			"expected %s \"%s\"\n",
			rules_text, name, remap_result_message(got), out,
			remap_result_message(want), want_out ? want_out : "?");
	remap_free(r);
	return ok;
}

/* An RRQ from 192.0.2.169. */
static int rrq(const char *rules_text, const char *name, enum remap_result want,
	       const char *want_out)
{
	return maps(rules_text, name, REMAP_RRQ, &v4.sa, want, want_out);
}

/* --- suites --- */

/* Comments, blank lines, separators and field escapes (in.tftpd(8), and
 * in.tftpd 5.2 observed: '#' ends a field, "\ " and "\#" do not). */
static void test_syntax(void)
{
	struct remap_rules *r;
	struct remap_error err;

	r = parse("# only a comment\n\n   \n\t# indented comment\n");
	CHECK(r && remap_count(r) == 0);
	remap_free(r);
	r = remap_parse("", 0, &err);
	CHECK(r && remap_count(r) == 0);
	remap_free(r);
	r = parse("r a b\n# c\nr c d # trailing comment\n\n  rg x y");
	CHECK(r && remap_count(r) == 3);
	remap_free(r);
	/* Text need not be NUL-terminated: the length bounds it. */
	r = remap_parse("r a b\nr c d XXXXX", 11, &err);
	CHECK(r && remap_count(r) == 2);
	remap_free(r);

	CHECK(rrq("r foo bar#baz", "foo", REMAP_MAPPED, "bar"));
	CHECK(rrq("r foo bar #baz", "foo", REMAP_MAPPED, "bar"));
	CHECK(rrq("r foo b\\#z", "foo", REMAP_MAPPED, "b#z"));
	CHECK(rrq("r foo a\\ b", "foo", REMAP_MAPPED, "a b"));
	CHECK(rrq("r foo a\\\tb", "foo", REMAP_MAPPED, "a\tb"));
	CHECK(rrq("r a\\ b X", "a b", REMAP_MAPPED, "X"));
	CHECK(rrq("r a\\#b X", "a#b", REMAP_MAPPED, "X"));
	CHECK(rrq("   r foo bar", "foo", REMAP_MAPPED, "bar"));
	CHECK(rrq("r\tfoo\t\tbar\t#x", "foo", REMAP_MAPPED, "bar"));
	/* A CRLF file: the CR is a separator, not part of the replacement. */
	CHECK(rrq("r foo bar\r\nr x y\r\n", "foo", REMAP_MAPPED, "bar"));
	/* No replacement: the match is deleted. */
	CHECK(rrq("r foo", "xfooy", REMAP_MAPPED, "xy"));
	CHECK(rrq("r foo", "foo", REMAP_MAPPED, ""));
	/* Regex escapes other than "\ " and "\#" reach regcomp. */
	CHECK(rrq("r a\\.b X", "a.b", REMAP_MAPPED, "X"));
	CHECK(rrq("r a\\.b X", "axb", REMAP_UNCHANGED, "axb"));
	CHECK(rrq("r \\\\ /", "a\\b", REMAP_MAPPED, "a/b"));
	/* Repeated letters are harmless. */
	CHECK(rrq("rr foo bar", "foo", REMAP_MAPPED, "bar"));
	/* A replacement rewriting to the same text is not a change. */
	CHECK(rrq("r a a", "abc", REMAP_UNCHANGED, "abc"));
}

/* Every way a rule file is refused, with its line. */
static void test_errors(void)
{
	char *big;

	CHECK(REFUSED("r a b\nrq foo bar\n", 2,
		      "unknown operation letter 'q'"));
	CHECK(REFUSED("\xff foo\n", 1, "'\\xFF'"));
	CHECK(REFUSED("\\r foo\n", 1, "'\\'"));
	CHECK(REFUSED("# x\nr~ foo bar\n", 2, "'~' cannot be used"));
	CHECK(REFUSED("~r foo bar", 1, "'~' cannot be used"));
	CHECK(REFUSED("\n\n\nr\n", 4, "no regular expression"));
	CHECK(REFUSED("r # foo bar\n", 1, "no regular expression"));
	CHECK(REFUSED("r foo( bar\n", 1, "bad regular expression: "));
	CHECK(REFUSED("r [a bar\n", 1, "bad regular expression: "));
	CHECK(REFUSED("r a{2,1} b\n", 1, "bad regular expression: "));
	CHECK(REFUSED("r a b\nr c d\nr (( x\n", 3, "bad regular expression: "));
	CHECK(REFUSED("g ^s\n", 1, "'g' without 'r'"));
	CHECK(REFUSED("ga ^s", 1, "'g' without 'r'"));
	CHECK(REFUSED("rGP foo bar", 1, "'G' and 'P'"));
	CHECK(REFUSED("r46 foo bar", 1, "'4' and '6'"));
	CHECK(REFUSED("e foo bar", 1, "no 'r'"));
	CHECK(REFUSED("r (a) \\2", 1, "\\2 in the replacement"));
	CHECK(REFUSED("r a \\1", 1, "0 parenthesised groups"));
	/* Back-references in the regex (undefined in POSIX EREs; glibc's
	 * time for them has no bound); in a bracket, or after an escaped
	 * backslash, a digit is an ordinary byte. */
	CHECK(REFUSED("r (a)\\1 b", 1, "back-reference \\1 in the regular"));
	CHECK(REFUSED("r a b\nr (.*)*\\9x\n", 2, "back-reference \\9"));
	CHECK(REFUSED("r [a]((b))\\2", 1, "back-reference \\2"));
	CHECK(REFUSED("r [[:alpha:]](x)\\1", 1, "back-reference \\1"));
	CHECK(REFUSED("r []\\1](x)\\1", 1, "back-reference \\1"));
	CHECK(rrq("r [\\1] X", "1", REMAP_MAPPED, "X"));
	CHECK(rrq("r [\\1] X", "\\", REMAP_MAPPED, "X"));
	CHECK(rrq("r []\\1] X", "]", REMAP_MAPPED, "X"));
	CHECK(rrq("r [^]\\1]x X", "ax", REMAP_MAPPED, "X"));
	CHECK(rrq("r [[:digit:]\\1] X", "7", REMAP_MAPPED, "X"));
	CHECK(rrq("r [[.-.]\\1]y X", "\\y", REMAP_MAPPED, "X"));
	CHECK(rrq("r \\\\1 X", "a\\1", REMAP_MAPPED, "aX"));
	CHECK(REFUSED("r foo bar baz", 1, "text after the replacement"));
	CHECK(REFUSED("r foo bar\\\nr x y\n", 1, "backslash at the end"));
	CHECK(REFUSED("r foo bar\\", 1, "backslash at the end"));
	CHECK(REFUSED("r foo\\", 1, "backslash at the end"));
	CHECK(REFUSED("r a b\n# ok\nr f\0o bar\n", 3, "NUL byte"));
	CHECK(REFUSED("# \0 in a comment\n", 1, "NUL byte"));

	/* Line length: REMAP_MAX_LINE bytes is fine, one more is not. */
	big = malloc(REMAP_MAX_LINE + 16);
	memcpy(big, "r ", 2);
	memset(big + 2, 'a', REMAP_MAX_LINE - 2);
	big[REMAP_MAX_LINE] = '\n';
	{
		struct remap_error err;
		struct remap_rules *r =
			remap_parse(big, REMAP_MAX_LINE + 1, &err);
		CHECK(r && remap_count(r) == 1);
		remap_free(r);
	}
	memset(big + 2, 'a', REMAP_MAX_LINE - 1);
	big[REMAP_MAX_LINE + 1] = '\n';
	CHECK(refused_at(big, REMAP_MAX_LINE + 2, 1, "longer than"));
	free(big);
}

/* The operation letters (in.tftpd(8), FILENAME REMAPPING). */
static void test_ops(void)
{
	/* r: the first match only; g: until it no longer matches, matching
	 * the rewritten name from its start each time ("aab" -> "b"). */
	CHECK(rrq("r o x\\Ly", "foo", REMAP_MAPPED, "fxyo"));
	CHECK(rrq("rg a b", "aab", REMAP_MAPPED, "bbb"));
	CHECK(rrq("rg ^a", "aab", REMAP_MAPPED, "b"));
	CHECK(rrq("rg ab b", "xaabab", REMAP_MAPPED, "xbb"));
	CHECK(rrq("gr ^a b", "aa", REMAP_MAPPED, "ba"));
	/* Windows PXE clients send backslashes. */
	CHECK(rrq("rg \\\\ /", "pxelinux.cfg\\01-aa-bb-cc-dd-ee-ff",
		  REMAP_MAPPED, "pxelinux.cfg/01-aa-bb-cc-dd-ee-ff"));
	CHECK(rrq("rg \\\\ /", "\\\\boot\\x86\\\\pxe.0", REMAP_MAPPED,
		  "//boot/x86//pxe.0"));
	/* i: case-insensitive match; the rest of the name is untouched. */
	CHECK(rrq("ri ^PXELINUX pxelinux", "PxeLinux.0", REMAP_MAPPED,
		  "pxelinux.0"));
	CHECK(rrq("r ^PXELINUX pxelinux", "PxeLinux.0", REMAP_UNCHANGED,
		  "PxeLinux.0"));
	CHECK(rrq("rgi A b", "xAa", REMAP_MAPPED, "xbb"));
	/* Case folding of the whole name. */
	CHECK(rrq("r .* \\L\\0", "BOOT/PXE.0", REMAP_MAPPED, "boot/pxe.0"));
	/* A leading path strip (configs written for another server). */
	CHECK(rrq("r ^/tftpboot/  # strip", "/tftpboot/pxe.0", REMAP_MAPPED,
		  "pxe.0"));
	CHECK(rrq("r ^/tftpboot/", "/other/pxe.0", REMAP_UNCHANGED,
		  "/other/pxe.0"));
	/* Rules run top down; all of them by default. */
	CHECK(rrq("r a b\nr b c\nr c d", "a", REMAP_MAPPED, "d"));
	/* e: stop after this rule when it matches. */
	CHECK(rrq("re foo bar\nr bar baz", "foo", REMAP_MAPPED, "bar"));
	CHECK(rrq("re foo bar\nr bar baz", "bar", REMAP_MAPPED, "baz"));
	CHECK(rrq("e foo\nr .* x", "foo", REMAP_UNCHANGED, "foo"));
	CHECK(rrq("e foo\nr .* x", "bar", REMAP_MAPPED, "x"));
	/* s: start over at the first rule (the manual's words; in.tftpd 5.2
	 * restarts at the second, so this one maps x to "y" there). */
	CHECK(rrq("r ^y$ z\nrs ^x$ y", "x", REMAP_MAPPED, "z"));
	CHECK(rrq("rs ^(a*)$ \\1a\nr ^a{3}$ done", "a", REMAP_TOO_MANY_RESTARTS,
		  ""));
	CHECK(rrq("r ^(a{1,4})$ \\1a\ns ^a{1,4}$", "a", REMAP_MAPPED, "aaaaa"));
	/* e wins over s; a wins over both. */
	CHECK(rrq("r ^y$ z\nrse ^x$ y", "x", REMAP_MAPPED, "y"));
	CHECK(rrq("rea ^x$ y\nr ^y$ z", "x", REMAP_REFUSED, "y"));
	/* a: refuse.  The message is the name as the rule rewrites it when
	 * it has a replacement, else empty (the caller's default). */
	CHECK(rrq("a ^secret\nr .* foo", "secret", REMAP_REFUSED, ""));
	CHECK(rrq("a ^secret\nr .* foo", "other", REMAP_MAPPED, "foo"));
	CHECK(rrq("ra foo bar", "xfooy", REMAP_REFUSED, "xbary"));
	CHECK(rrq("ra ^sec", "secret", REMAP_REFUSED, ""));
	CHECK(rrq("a ^sec foo", "secret", REMAP_REFUSED, "fooret"));
	CHECK(rrq("r e E\na ^sEc(.*) no:\\1", "secret", REMAP_REFUSED,
		  "no:ret"));
	CHECK(rrq("r e E\na ^sEc", "secret", REMAP_REFUSED, ""));
	/* ~: act when the regex does not match. */
	CHECK(rrq("~a ^pub/", "secret", REMAP_REFUSED, ""));
	CHECK(rrq("~a ^pub/", "pub/x", REMAP_UNCHANGED, "pub/x"));
	CHECK(rrq("~a ^pub/ denied:\\0:\\i", "secret", REMAP_REFUSED,
		  "denied::192.0.2.169"));
	CHECK(rrq("~e foo\nr .* x", "foo", REMAP_MAPPED, "x"));
	CHECK(rrq("~e foo\nr .* x", "bar", REMAP_UNCHANGED, "bar"));
	CHECK(rrq("~ ^a", "aa", REMAP_UNCHANGED, "aa"));
	/* G and P: RRQ and WRQ only. */
	CHECK(maps("rG foo bar\nrP foo baz", "foo", REMAP_RRQ, &v4.sa,
		   REMAP_MAPPED, "bar"));
	CHECK(maps("rG foo bar\nrP foo baz", "foo", REMAP_WRQ, &v4.sa,
		   REMAP_MAPPED, "baz"));
	CHECK(maps("Pa .", "foo", REMAP_WRQ, &v4.sa, REMAP_REFUSED, ""));
	CHECK(maps("Pa .", "foo", REMAP_RRQ, &v4.sa, REMAP_UNCHANGED, "foo"));
	/* 4 and 6: the client's address family. */
	CHECK(maps("r4 foo bar\nr6 foo baz", "foo", REMAP_RRQ, &v4.sa,
		   REMAP_MAPPED, "bar"));
	CHECK(maps("r4 foo bar\nr6 foo baz", "foo", REMAP_RRQ, &v6.sa,
		   REMAP_MAPPED, "baz"));
	CHECK(maps("r4 foo bar\nr6 foo baz", "foo", REMAP_RRQ, &v4mapped.sa,
		   REMAP_MAPPED, "bar"));
	CHECK(maps("r4 foo bar\nr6 foo baz", "foo", REMAP_RRQ, NULL,
		   REMAP_UNCHANGED, "foo"));
	CHECK(maps("r6G foo baz", "foo", REMAP_RRQ, &v6.sa, REMAP_MAPPED,
		   "baz"));
	CHECK(maps("r6G foo baz", "foo", REMAP_WRQ, &v6.sa, REMAP_UNCHANGED,
		   "foo"));
	/* No rules at all. */
	CHECK(maps("", "foo", REMAP_RRQ, &v4.sa, REMAP_UNCHANGED, "foo"));
	{
		char out[8];
		CHECK(remap_map(NULL, "foo", REMAP_RRQ, &v4.sa, out,
				sizeof(out), NULL) == REMAP_UNCHANGED &&
		      strcmp(out, "foo") == 0);
	}
}

/* Replacement escapes (in.tftpd(8)): \0-\9, \i, \x, \\, "\ ", \#, \U \L
 * \E; an unknown escape gives its byte (in.tftpd: "\q" is "q"). */
static void test_escapes(void)
{
	CHECK(rrq("r (a)|(b) [\\1][\\2]\\0", "b", REMAP_MAPPED, "[][b]b"));
	CHECK(rrq("r ^(.)(.)(.)(.)(.)(.)(.)(.)(.)(.)$ \\9\\8\\7\\6\\5\\4\\3\\2"
		  "\\1\\0",
		  "abcdefghij", REMAP_MAPPED, "ihgfedcbaabcdefghij"));
	CHECK(rrq("r foo \\q\\.\\\\x", "foo", REMAP_MAPPED, "q.\\x"));
	CHECK(rrq("r foo a\\ b\\#c", "foo", REMAP_MAPPED, "a b#c"));
	CHECK(rrq("r (.*) \\U\\1", "foo", REMAP_MAPPED, "FOO"));
	CHECK(rrq("r (.*) \\U\\1\\E.x\\Lab\\0Q", "fOo", REMAP_MAPPED,
		  "FOO.xabfooq"));
	CHECK(rrq("r o \\U\\0", "foo", REMAP_MAPPED, "fOo"));
	/* \U reaches the end of the replacement, never the rest of the
	 * name. */
	CHECK(rrq("r ^a \\Ux", "abc", REMAP_MAPPED, "Xbc"));
	CHECK(rrq("r ^a \\Ux\\U\\L\\EY\\Ly", "abc", REMAP_MAPPED, "XYybc"));
	/* Non-ASCII bytes are not letters. */
	CHECK(rrq("r .* \\U\\0", "\xe9t\xe9", REMAP_MAPPED, "\xe9T\xe9"));
	/* \i and \x: the client address. */
	CHECK(rrq("r ^ \\i/", "pxe.0", REMAP_MAPPED, "192.0.2.169/pxe.0"));
	CHECK(rrq("r ^ \\x/", "pxe.0", REMAP_MAPPED, "C00002A9/pxe.0"));
	CHECK(rrq("r .* \\L\\x\\Ux\\i", "foo", REMAP_MAPPED,
		  "c00002a9X192.0.2.169"));
	CHECK(maps("r ^ \\i/\\x/", "pxe.0", REMAP_RRQ, &v6.sa, REMAP_MAPPED,
		   "2001:db8::1/20010DB8000000000000000000000001/pxe.0"));
	CHECK(maps("r ^ \\i/\\x/", "pxe.0", REMAP_RRQ, &v4mapped.sa,
		   REMAP_MAPPED, "192.0.2.169/C00002A9/pxe.0"));
	CHECK(maps("r ^ [\\i][\\x]", "f", REMAP_RRQ, NULL, REMAP_MAPPED,
		   "[][]f"));
	/* Per-host paths: a rule set that serves each client its own file. */
	CHECK(rrq("r ^pxelinux\\.cfg/default$ hosts/\\i/default",
		  "pxelinux.cfg/default", REMAP_MAPPED,
		  "hosts/192.0.2.169/default"));
}

/* The bounds on one request's work, and output buffer edges. */
static void test_limits(void)
{
	struct remap_rules *r;
	struct remap_trace t;
	char out[OUTSZ], small[8];
	enum remap_result res;

	/* Two "s" rules that undo each other. */
	r = parse("# first\nrs ^x$ y\nrs ^y$ x\n");
	res = remap_map(r, "x", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MANY_RESTARTS);
	CHECK(t.restarts == REMAP_MAX_RESTARTS);
	CHECK(t.line == 2 || t.line == 3);
	CHECK(out[0] == '\0');
	/* ...which stops only when they meet each other. */
	res = remap_map(r, "z", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_UNCHANGED && t.restarts == 0 && t.steps == 0);
	remap_free(r);

	/* An "s" rule without "r" restarts on a mere match. */
	r = parse("s .");
	res = remap_map(r, "x", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MANY_RESTARTS && t.line == 1);
	remap_free(r);

	/* A "g" rule whose replacement matches again: the same name... */
	r = parse("# first line\nrg a a");
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MANY_STEPS && t.line == 2);
	CHECK(t.steps == REMAP_MAX_STEPS && t.rewritten == REMAP_MAX_STEPS);
	remap_free(r);
	/* ...a name one byte longer each time: k steps make k + 1 bytes, so
	 * the bytes run out after 360 steps (360 * 363 / 2 <= 64 KiB)... */
	r = parse("# first line\nrg a ab");
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MUCH_REWRITING && t.line == 2);
	CHECK(t.steps == 360 && t.rewritten == 360 * 363 / 2);
	/* ...and with a small buffer the length runs out first. */
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, small, sizeof(small), &t);
	CHECK(res == REMAP_TOO_LONG && t.line == 2 && small[0] == '\0');
	remap_free(r);

	/* A regex that matches the empty string (in.tftpd 5.2 spins). */
	CHECK(rrq("rg x* y", "ab", REMAP_TOO_MUCH_REWRITING, ""));
	CHECK(rrq("rg x* ", "ab", REMAP_TOO_MANY_STEPS, ""));

	/* Exactly at the buffer: a name of outsz - 1 bytes fits. */
	r = parse("r a b");
	res = remap_map(r, "aaaaaaa", REMAP_RRQ, &v4.sa, small, sizeof(small),
			&t);
	CHECK(res == REMAP_MAPPED && strcmp(small, "baaaaaa") == 0);
	res = remap_map(r, "aaaaaaaa", REMAP_RRQ, &v4.sa, small, sizeof(small),
			&t);
	CHECK(res == REMAP_TOO_LONG && t.line == 0);
	res = remap_map(r, "", REMAP_RRQ, &v4.sa, small, 0, &t);
	CHECK(res == REMAP_TOO_LONG);
	res = remap_map(r, "", REMAP_RRQ, &v4.sa, small, 1, &t);
	CHECK(res == REMAP_UNCHANGED && small[0] == '\0');
	remap_free(r);
	r = parse("r a bc");
	res = remap_map(r, "aaaaaa", REMAP_RRQ, &v4.sa, small, sizeof(small),
			&t);
	CHECK(res == REMAP_MAPPED && strcmp(small, "bcaaaaa") == 0);
	res = remap_map(r, "aaaaaaa", REMAP_RRQ, &v4.sa, small, sizeof(small),
			&t);
	CHECK(res == REMAP_TOO_LONG && t.line == 1);
	/* A rule that could not rewrite is not listed as having done so. */
	CHECK(t.steps == 0 && t.nrewrote == 0);
	remap_free(r);

	/* Step counts: one per rewrite, each "g" repetition included. */
	r = parse("rg \\\\ /\nr ^/ \nr x y");
	res = remap_map(r, "\\a\\b\\c", REMAP_RRQ, &v4.sa, out, sizeof(out),
			&t);
	CHECK(res == REMAP_MAPPED && strcmp(out, "a/b/c") == 0);
	CHECK(t.steps == 4 && t.restarts == 0 && t.line == 0);
	CHECK(t.rewritten == 6 + 6 + 6 + 5);
	remap_free(r);

	/* A chain of rules each rewriting once: fine up to the cap. */
	{
		size_t n = 2000, cap = n * 40, len = 0;
		char *text = malloc(cap);

		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(text + len, cap - len,
						"r ^n%zu$ n%zu\n", i, i + 1);
		r = parse(text);
		res = remap_map(r, "n0", REMAP_RRQ, &v4.sa, out, sizeof(out),
				&t);
		CHECK(res == REMAP_TOO_MANY_STEPS &&
		      t.line == REMAP_MAX_STEPS + 1);
		res = remap_map(r, "n1000", REMAP_RRQ, &v4.sa, out, sizeof(out),
				&t);
		CHECK(res == REMAP_MAPPED && strcmp(out, "n2000") == 0 &&
		      t.steps == 1000);
		remap_free(r);
		free(text);
	}
}

/* Hostile rule files and names. */
static void test_hostile(void)
{
	struct remap_rules *r;
	struct remap_trace t;
	struct remap_error err;
	char out[OUTSZ];
	char *name, *text;
	size_t n, cap, len;
	enum remap_result res;

	/* 10,000 rules: parsed, and all of them run for each name. */
	n = 10000;
	cap = n * 48;
	text = malloc(cap);
	len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"ri ^host%zu/(.*)$ h/%zu/\\1  # %zu\n",
					i, i, i);
	r = remap_parse(text, len, &err);
	CHECK(r && remap_count(r) == n);
	res = remap_map(r, "HOST9999/pxe.0", REMAP_RRQ, &v4.sa, out,
			sizeof(out), &t);
	CHECK(res == REMAP_MAPPED && strcmp(out, "h/9999/pxe.0") == 0);
	res = remap_map(r, "none", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_UNCHANGED);
	remap_free(r);
	/* ...and the same 10,000 with a broken one at the end. */
	len += (size_t)snprintf(text + len, cap - len, "r [ x\n");
	CHECK(refused_at(text, len, 10001, "bad regular expression"));
	free(text);

	/* Very long lines in a file: comments too. */
	text = malloc(3 * REMAP_MAX_LINE);
	memset(text, '#', 3 * REMAP_MAX_LINE);
	CHECK(refused_at(text, 3 * REMAP_MAX_LINE, 1, "longer than"));
	free(text);

	/* Random bytes never crash the parser. */
	{
		unsigned char junk[512];
		uint32_t s = 12345;

		for (int round = 0; round < 2000; round++) {
			size_t jl = (size_t)(round % 500) + 1;

			for (size_t i = 0; i < jl; i++) {
				s = s * 1103515245u + 12345u;
				junk[i] = (unsigned char)(s >> 16);
			}
			r = remap_parse((const char *)junk, jl, &err);
			CHECK(r || err.message[0] != '\0');
			remap_free(r);
		}
	}

	/* Huge names: longer than the buffer, refused before any rule. */
	name = malloc(100000);
	memset(name, '\\', 99999);
	name[99999] = '\0';
	r = parse("rg \\\\ /");
	res = remap_map(r, name, REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_LONG && t.steps == 0 && t.line == 0);
	/* A name of N backslashes that fits costs N steps of N bytes: 256 is
	 * the most that 64 KiB of rewriting turns. */
	name[256] = '\0';
	res = remap_map(r, name, REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_MAPPED && t.steps == 256 &&
	      t.rewritten == REMAP_MAX_REWRITE_BYTES);
	name[256] = '\\';
	name[257] = '\0';
	res = remap_map(r, name, REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MUCH_REWRITING && t.line == 1 && t.steps == 255);
	name[257] = '\\';
	name[OUTSZ - 1] = '\0';
	res = remap_map(r, name, REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MUCH_REWRITING && t.line == 1 && t.steps == 16);
	remap_free(r);
	/* Names that grow on each "g" step: doubling, and by one byte. */
	r = parse("rg ^(a+)$ \\1\\1");
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_LONG && out[0] == '\0');
	remap_free(r);
	r = parse("rg ^(a*)$ \\1aaaaaaaa");
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, out, sizeof(out), &t);
	CHECK(res == REMAP_TOO_MUCH_REWRITING && t.line == 1 && t.steps == 127);
	res = remap_map(r, "a", REMAP_RRQ, &v4.sa, out, 512, &t);
	CHECK(res == REMAP_TOO_LONG && t.line == 1 && t.steps == 63);
	remap_free(r);
	free(name);
}

/* remap_load: files, and what is not one. */
static void test_load(void)
{
	char dir[] = "/tmp/remap_test.XXXXXX", path[64], fifo[64];
	struct remap_rules *r;
	struct remap_error err;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/rules", dir);
	f = fopen(path, "w");
	fputs("# rules\nrg \\\\ /\nri ^/TFTPBOOT/\n", f);
	fclose(f);
	r = remap_load(path, &err);
	CHECK(r && remap_count(r) == 2);
	remap_free(r);

	f = fopen(path, "w");
	fputs("r a b\nr (a c\n", f);
	fclose(f);
	r = remap_load(path, &err);
	CHECK(!r && err.line == 2 && errno == EINVAL);

	unlink(path);
	r = remap_load(path, &err);
	CHECK(!r && err.line == 0 && errno == ENOENT &&
	      strstr(err.message, path));
	r = remap_load(dir, &err);
	CHECK(!r && err.line == 0 && errno == EINVAL);
	/* A FIFO must not hang start-up. */
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	if (mkfifo(fifo, 0600) == 0) {
		r = remap_load(fifo, &err);
		CHECK(!r && errno == EINVAL);
		unlink(fifo);
	}
	/* Too big: refused unread. */
	f = fopen(path, "w");
	fseek(f, REMAP_MAX_FILE, SEEK_SET);
	fputc('\n', f);
	fclose(f);
	r = remap_load(path, &err);
	CHECK(!r && errno == EFBIG);
	unlink(path);
	rmdir(dir);
}

/* Random rule sets built from rule-shaped lines (operation letters, regex
 * tokens, replacement tokens, now and then a stray token), mapped against
 * random names through small buffers: whatever the result, the output is a
 * string inside the buffer and the work stays within the bounds. */
static uint32_t rng = 0x5eed;

static const char *pick(const char *const *set, size_t n)
{
	rng = rng * 1103515245u + 12345u;
	return set[(rng >> 16) % n];
}

#define PICK(set) pick(set, sizeof(set) / sizeof(set[0]))

static void append(char *buf, size_t size, size_t *len, const char *w)
{
	size_t n = strlen(w);

	if (*len + n < size) {
		memcpy(buf + *len, w, n);
		*len += n;
	}
}

static void test_random(void)
{
	static const char *const ops[] = {"r", "g", "s", "e", "a",  "i", "~",
					  "G", "P", "4", "6", "rg", "r", "r"};
	static const char *const re[] = {
		"a", "b",    "(a)",  "(b|a)", "*",   "+", "?", "^", "$",
		".", "[ab]", "\\\\", "{2}",   "\\ ", "/", "(", ")"};
	static const char *const rep[] = {"a",	 "b",	"\\1", "\\0", "\\i",
					  "\\x", "\\U", "\\L", "\\E", "\\ ",
					  "\\#", "/",	"\\q", "\\"};
	static const char *const junk[] = {" ", "#", "\t", "\\", "q", "\n"};
	char text[512], name[64], out[48];
	struct remap_trace t;
	struct remap_error err;
	unsigned parsed = 0;

	for (int round = 0; round < 20000; round++) {
		size_t len = 0, nl;
		int lines = (int)(rng >> 20) % 4 + 1;
		struct remap_rules *r;

		for (int l = 0; l < lines; l++) {
			int k;

			for (k = (int)(rng >> 12) % 2; k >= 0; k--)
				append(text, sizeof(text), &len, PICK(ops));
			append(text, sizeof(text), &len, " ");
			for (k = (int)(rng >> 13) % 5; k >= 0; k--)
				append(text, sizeof(text), &len, PICK(re));
			if ((rng >> 9) % 2) {
				append(text, sizeof(text), &len, " ");
				for (k = (int)(rng >> 14) % 4; k >= 0; k--)
					append(text, sizeof(text), &len,
					       PICK(rep));
			}
			if ((rng >> 7) % 16 == 0)
				append(text, sizeof(text), &len, PICK(junk));
			append(text, sizeof(text), &len, "\n");
		}
		r = remap_parse(text, len, &err);
		if (!r) {
			CHECK(err.message[0] != '\0');
			continue;
		}
		parsed++;
		for (int k = 0; k < 4; k++) {
			enum remap_result res;

			rng = rng * 1103515245u + 12345u;
			nl = (rng >> 16) % 40;
			for (size_t i = 0; i < nl; i++) {
				rng = rng * 1103515245u + 12345u;
				name[i] = "ab\\/.AB"[(rng >> 16) % 7];
			}
			name[nl] = '\0';
			memset(out, 'Z', sizeof(out));
			res = remap_map(r, name, k & 1 ? REMAP_WRQ : REMAP_RRQ,
					k & 2 ? &v6.sa : &v4.sa, out,
					sizeof(out), &t);
			CHECK(memchr(out, '\0', sizeof(out)) != NULL);
			CHECK(res <= REMAP_NO_MEMORY);
			CHECK(t.steps <= REMAP_MAX_STEPS &&
			      t.restarts <= REMAP_MAX_RESTARTS &&
			      t.rewritten <= REMAP_MAX_REWRITE_BYTES);
			if (res >= REMAP_TOO_LONG)
				CHECK(out[0] == '\0' && t.line > 0);
		}
		remap_free(r);
	}
	printf("random: %u of 20000 rule sets parsed\n", parsed);
	CHECK(parsed > 2000);
}

/* Literal prefixes (remap.c literal_prefix): a rule whose anchored prefix
 * the name lacks costs no regexec, and skipping it never changes an
 * outcome: random anchored regexes, each as an 'a' rule (with and without
 * 'i'), refuse exactly the names regexec matches. */
static void test_prefix(void)
{
	static const char *const re[] = {
		"a",   "b",	"A",   "\\.",  ".",  "*",   "+",    "?",
		"{0}", "{2}",	"(a)", "[ab]", "$",  "|",   "\\\\", "\\*",
		"\\{", "{0,1}", "\\w", "^",    "a+", "\\|", "\\$",  "x"};
	char pat[128], text[160], name[16];
	struct remap_trace t;
	struct remap_rules *r;
	char out[64];
	unsigned compared = 0, skipped = 0;

	/* The cost the prefix saves, visible in the trace. */
	r = parse("rg \\\\ /\nr ^host7/ x\nri ^PXELINUX\\.cfg/ p/\na ^\\.\n"
		  "r ^site1\\.cfg$ y\n");
	CHECK(r != NULL);
	if (r) {
		CHECK(remap_map(r, "ldlinux.c32", REMAP_RRQ, &v4.sa, out,
				sizeof(out), &t) == REMAP_UNCHANGED);
		CHECK(t.regexecs == 1);
		CHECK(remap_map(r, "pxeLinux.CFG\\x", REMAP_RRQ, &v4.sa, out,
				sizeof(out), &t) == REMAP_MAPPED);
		/* rg: the match and the rematch; ri: one. */
		CHECK(strcmp(out, "p/x") == 0 && t.regexecs == 3);
		CHECK(remap_map(r, "site1.cfg", REMAP_RRQ, &v4.sa, out,
				sizeof(out), &t) == REMAP_MAPPED);
		CHECK(strcmp(out, "y") == 0 && t.regexecs == 2);
		CHECK(remap_map(r, "host", REMAP_RRQ, &v4.sa, out, sizeof(out),
				&t) == REMAP_UNCHANGED);
		CHECK(t.regexecs == 1);
		CHECK(remap_map(r, ".x", REMAP_RRQ, &v4.sa, out, sizeof(out),
				&t) == REMAP_REFUSED);
		remap_free(r);
	}
	/* Not anchored, or '|' anywhere: always matched by regexec. */
	CHECK(rrq("r ^a|b X", "b", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^a|^b X", "b", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^ab?c X", "ac", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^ab*c X", "ac", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^ab{0}c X", "ac", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^a\\{2} X", "a{2}", REMAP_MAPPED, "X"));
	CHECK(rrq("r ^a\\.b+ X", "a.bbbc", REMAP_MAPPED, "Xc"));
	CHECK(rrq("ri ^AbC X", "aBcd", REMAP_MAPPED, "Xd"));
	CHECK(rrq("r ^AbC X", "aBcd", REMAP_UNCHANGED, "aBcd"));

	for (int round = 0; round < 20000; round++) {
		size_t plen = 1, tlen = 0, nl;
		int icase = (int)(rng >> 11) % 2, k;
		regex_t direct;
		int want;

		pat[0] = '^';
		pat[1] = '\0';
		for (k = (int)(rng >> 13) % 6; k >= 0; k--)
			append(pat, sizeof(pat), &plen, PICK(re));
		pat[plen] = '\0';
		if (regcomp(&direct, pat,
			    REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0)))
			continue;
		append(text, sizeof(text), &tlen, icase ? "ai " : "a ");
		append(text, sizeof(text), &tlen, pat);
		text[tlen] = '\0';
		r = remap_parse(text, tlen, NULL);
		CHECK(r != NULL);
		if (!r) {
			fprintf(stderr, "rule \"%s\" refused\n", text);
			regfree(&direct);
			continue;
		}
		for (int n = 0; n < 8; n++) {
			rng = rng * 1103515245u + 12345u;
			nl = (rng >> 16) % 6;
			for (size_t i = 0; i < nl; i++) {
				rng = rng * 1103515245u + 12345u;
				name[i] = "abAB.\\*{x|$"[(rng >> 16) % 11];
			}
			name[nl] = '\0';
			want = regexec(&direct, name, 0, NULL, 0) == 0;
			if ((remap_map(r, name, REMAP_RRQ, &v4.sa, out,
				       sizeof(out), &t) == REMAP_REFUSED) !=
			    want) {
				failures++;
				fprintf(stderr,
					"rule \"%s\", name \"%s\": "
					"regexec says %d\n",
					text, name, want);
			}
			checks++;
			compared++;
			skipped += t.regexecs == 0;
		}
		remap_free(r);
		regfree(&direct);
	}
	printf("prefix: %u names compared with regexec, %u skipped it\n",
	       compared, skipped);
	CHECK(compared > 50000 && skipped > compared / 10);
}

/* --- tools --- */

static struct remap_rules *load_or_die(const char *path)
{
	struct remap_error err;
	struct remap_rules *r = remap_load(path, &err);
	char why[512];

	if (!r) {
		fprintf(stderr, "%s\n",
			remap_error_format(path, &err, why, sizeof(why)));
		exit(1);
	}
	return r;
}

static int run_map(int argc, char **argv)
{
	struct sockaddr_storage client;
	struct maptest_defaults d = {(struct sockaddr *)&client, REMAP_RRQ,
				     NULL};
	struct remap_rules *r;
	int i, rc;

	if (argc < 3)
		return 2;
	maptest_address("127.0.0.1", &client);
	for (i = 3; i < argc; i++) {
		if (strcmp(argv[i], "-w") == 0) {
			d.kind = REMAP_WRQ;
		} else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc) {
			if (maptest_address(argv[++i], &client) != 0)
				return 2;
		} else {
			return 2;
		}
	}
	r = load_or_die(argv[2]);
	rc = maptest_run(r, &d, stdin, stdout);
	remap_free(r);
	return rc != 0 ? 1 : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median over 31 batches of the mean time per call in each batch. */
static int run_bench(int argc, char **argv)
{
	enum {
		BATCHES = 31
	};
	struct sockaddr_storage client;
	struct remap_rules *r;
	double ns[BATCHES];
	char out[4096];
	long calls = argc > 4 ? atol(argv[4]) : 20000;
	enum remap_result res = REMAP_UNCHANGED;

	if (argc < 4 || calls <= 0)
		return 2;
	maptest_address("192.0.2.169", &client);
	r = load_or_die(argv[2]);
	for (int b = 0; b < BATCHES; b++) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		for (long i = 0; i < calls; i++)
			res = remap_map(r, argv[3], REMAP_RRQ,
					(struct sockaddr *)&client, out,
					sizeof(out), NULL);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[b] = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 +
			 (double)(t1.tv_nsec - t0.tv_nsec)) /
			(double)calls;
	}
	qsort(ns, BATCHES, sizeof(ns[0]), cmp_double);
	printf("%zu rules, name \"%.40s%s\" (%zu bytes) -> %s \"%.40s%s\": "
	       "median %.0f ns per call (min %.0f, max %.0f, %d batches of "
	       "%ld)\n",
	       remap_count(r), argv[3], strlen(argv[3]) > 40 ? "..." : "",
	       strlen(argv[3]), remap_result_message(res), out,
	       strlen(out) > 40 ? "..." : "", ns[BATCHES / 2], ns[0],
	       ns[BATCHES - 1], BATCHES, calls);
	remap_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} suites[] = {
		{"syntax", test_syntax}, {"errors", test_errors},
		{"ops", test_ops},	 {"escapes", test_escapes},
		{"limits", test_limits}, {"hostile", test_hostile},
		{"load", test_load},	 {"random", test_random},
		{"prefix", test_prefix},
	};
	size_t i;

	if (argc < 2)
		goto usage;
	if (strcmp(argv[1], "map") == 0) {
		int rc = run_map(argc, argv);
		if (rc == 2)
			goto usage;
		return rc;
	}
	if (strcmp(argv[1], "bench") == 0) {
		int rc = run_bench(argc, argv);
		if (rc == 2)
			goto usage;
		return rc;
	}
	make_clients();
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		if (strcmp(argv[1], suites[i].name) == 0)
			break;
	if (i == sizeof(suites) / sizeof(suites[0]))
		goto usage;
	suites[i].run();
	printf("%s: %d checks, %d failed\n", argv[1], checks, failures);
	return failures ? 1 : 0;
usage:
	fprintf(stderr, "usage: remap_test syntax|errors|ops|escapes|limits|"
			"hostile|load|random|prefix\n"
			"       remap_test map RULES [-w] [-c ADDR] <names\n"
			"       remap_test bench RULES NAME [CALLS]\n");
	return 2;
}
