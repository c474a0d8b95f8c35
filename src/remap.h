/* Filename remapping with tftpd-hpa's rule files (in.tftpd(8), "FILENAME
 * REMAPPING"): parse a rule file once, then rewrite or refuse each requested
 * name.  Pure: no globals, no I/O except remap_load reading the rule file the
 * caller names; regex.h does the matching (REG_EXTENDED). */
#ifndef CTFTPD_REMAP_H
#define CTFTPD_REMAP_H

#include <stddef.h>
#include <sys/socket.h>

/* Bounds on the work one request may cost, so that a rule file that loops
 * (two "s" rules that undo each other, a "g" rule whose replacement matches
 * again, a regex that matches the empty string) or a hostile name (a
 * thousand backslashes for "rg \\ /") ends the request with an error instead
 * of spinning (in.tftpd 5.2 spins forever on "rg x* y"):
 *  - REMAP_MAX_RESTARTS: "s" restarts from the first rule;
 *  - REMAP_MAX_STEPS: rewrites (each replacement an "r" rule makes counts
 *    one, so does each repetition of a "g" rule): bounds the fixed cost of
 *    a regexec call and a copy per step;
 *  - REMAP_MAX_REWRITE_BYTES: bytes of the names the rewrites produce, the
 *    work that grows with the name's length: each step copies the whole name
 *    and a "g" step matches it again from its start (so N backslashes cost
 *    N steps of N bytes: 256 of them is the most "rg \\ /" will turn).
 * Per request, regexec thus runs at most (REMAP_MAX_RESTARTS + 1) * rules +
 * REMAP_MAX_STEPS times, on names no longer than the caller's buffer. */
#define REMAP_MAX_RESTARTS 64
#define REMAP_MAX_STEPS 1024
#define REMAP_MAX_REWRITE_BYTES (64 * 1024)

/* Longest rule-file line accepted (bytes, without the newline), and the
 * largest rule file remap_load reads (bytes). */
#define REMAP_MAX_LINE 4096
#define REMAP_MAX_FILE (4 * 1024 * 1024)

/* A compiled rule set; opaque, read-only once parsed (remap_map may run on
 * it from several processes or threads at once). */
struct remap_rules;

/* Why a rule file was refused. */
struct remap_error {
	unsigned line;	   /* 1-based line of the fault; 0: not a line's fault
			    * (out of memory, the file could not be read) */
	char message[256]; /* what is wrong, NUL-terminated */
};

/* Parse rule text (len bytes, need not be NUL-terminated).  Syntax, from
 * in.tftpd(8) and checked against in.tftpd 5.2 (tests/remap.bats):
 *  - one rule per line; '#' starts a comment anywhere it is not escaped;
 *    blank lines and comment lines are skipped;
 *  - fields are separated by spaces or tabs (CR counts as one, so CRLF files
 *    work): operation letters, an extended regex, an optional replacement;
 *    a backslash before a space, tab or '#' makes it part of the field.
 * Refused (NULL, *err filled, errno EINVAL): an unknown operation letter;
 * '~' with 'r'; 'g' without 'r'; G with P, or 4 with 6 (the rule could
 * never apply); a missing regex; a regex regcomp(3) refuses (with regerror's
 * text); a replacement on a rule with neither 'r' nor 'a'; a \1..\9 naming a
 * group the regex does not have; a back-reference (\1..\9) in the regex
 * (glibc's time to match one has no bound); text after the replacement; a
 * backslash ending a line; a NUL byte; a line longer than REMAP_MAX_LINE.
 * in.tftpd accepts some of these, then ignores text, puts a newline in the
 * name, never applies the rule or takes unbounded time: here the
 * administrator hears of it at start-up.
 * NULL with errno ENOMEM and line 0 when memory runs out.  Text without
 * rules gives an empty rule set. */
struct remap_rules *remap_parse(const char *text, size_t len,
				struct remap_error *err);

/* Read the rule file at path (a regular file of at most REMAP_MAX_FILE
 * bytes) and parse it.  NULL with errno set and *err filled on failure
 * (line 0 for I/O errors). */
struct remap_rules *remap_load(const char *path, struct remap_error *err);

/* Write err as a message for people into buf (size bytes, NUL-terminated
 * when size > 0): "PATH:LINE: what is wrong" for a line's fault, else
 * "PATH: what is wrong".  Returns buf. */
char *remap_error_format(const char *path, const struct remap_error *err,
			 char *buf, size_t size);

/* Release a rule set; NULL is fine. */
void remap_free(struct remap_rules *rules);

/* Number of rules in the set (comment and blank lines do not count). */
size_t remap_count(const struct remap_rules *rules);

enum remap_request {
	REMAP_RRQ, /* a read request: rules with P do not apply */
	REMAP_WRQ, /* a write request: rules with G do not apply */
};

enum remap_result {
	/* out holds the name as it came, or a different one. */
	REMAP_UNCHANGED = 0,
	REMAP_MAPPED,
	/* An "a" rule matched: answer Access violation. */
	REMAP_REFUSED,
	/* The name, as given or as rewritten, does not fit out.  This and the
	 * rest are errors: refuse the request. */
	REMAP_TOO_LONG,
	/* Over REMAP_MAX_RESTARTS, REMAP_MAX_STEPS, REMAP_MAX_REWRITE_BYTES:
	 * the rules loop for this name, or the name is made to cost. */
	REMAP_TOO_MANY_RESTARTS,
	REMAP_TOO_MANY_STEPS,
	REMAP_TOO_MUCH_REWRITING,
	/* regexec(3) or malloc ran out of memory. */
	REMAP_NO_MEMORY,
};

/* How many rewriting rules a remap_trace names. */
#define REMAP_TRACE_RULES 8

/* Where remap_map stopped and what it cost. */
struct remap_trace {
	/* The file line of the rule that decided a REFUSED or an error; 0 for
	 * UNCHANGED and MAPPED, and for a name too long before any rule. */
	unsigned line;
	/* The lines of the rules that rewrote the name, in the order they
	 * did (a "g" rule once for all its repetitions, a rule met again
	 * after an "s" restart again): the first REMAP_TRACE_RULES of them;
	 * nrewrote counts them all.  For logs and --map-test. */
	unsigned rewrote[REMAP_TRACE_RULES];
	unsigned nrewrote;
	unsigned regexecs; /* regexec(3) calls made (rules whose literal
			    * prefix the name lacks are skipped) */
	unsigned steps;	   /* rewrites made */
	unsigned restarts; /* "s" restarts made */
	size_t rewritten;  /* bytes of the names the rewrites produced */
};

/* Rewrite name (NUL-terminated, not overlapping out) for a request of the
 * given kind from the client address (AF_INET or AF_INET6; an IPv4-mapped
 * IPv6 address counts as IPv4, so rules behave the same whichever socket
 * family the request came in on; NULL or another family: rules with 4 or 6
 * never apply and \i, \x expand to nothing).  Rules run top down
 * (in.tftpd(8)); remap.c quotes the manual for each operation.  On UNCHANGED
 * and MAPPED, out (outsz bytes) holds the NUL-terminated result.  On
 * REFUSED, out holds the text in.tftpd sends as the ERROR message when the
 * refusing rule has a replacement (the name as that rule rewrites it;
 * untrusted bytes: sanitise before logging or sending), or "" for the
 * caller's default message.  On the errors out holds "" (outsz 0: nothing is
 * written, the result is REMAP_TOO_LONG).  trace may be NULL. */
enum remap_result remap_map(const struct remap_rules *rules, const char *name,
			    enum remap_request kind,
			    const struct sockaddr *client, char *out,
			    size_t outsz, struct remap_trace *trace);

/* A short constant description of a result, for logs. */
const char *remap_result_message(enum remap_result r);

/* Write the lines of trace->rewrote into buf (size bytes, NUL-terminated
 * when size > 0) as "3" or "1,4,4" ("1,2,3,4,5,6,7,8,..." past
 * REMAP_TRACE_RULES), or "0" when no rule rewrote the name.  Returns buf. */
char *remap_trace_lines(const struct remap_trace *trace, char *buf,
			size_t size);

#endif
