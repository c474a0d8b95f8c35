/* --map-test: try a rule file (remap.h) on names offline, as the listener
 * would map them, without serving anything.  Shared by ctftpd --map-test
 * and tests/remap_test's map mode, so both print the same lines. */
#ifndef CTFTPD_MAPTEST_H
#define CTFTPD_MAPTEST_H

#include <stdio.h>
#include <sys/socket.h>

#include "remap.h"

/* What a line of input leaves out. */
struct maptest_defaults {
	const struct sockaddr *client; /* the client address; NULL: none (4
					* and 6 rules never apply, \i and \x
					* expand to nothing) */
	enum remap_request kind;       /* RRQ or WRQ */
	const char *root; /* the root as the listener names it (its prefix is
			   * stripped, path.h); NULL: no path policy check */
};

/* Read requests from in, one a line: "NAME [CLIENT-ADDRESS] [RRQ|WRQ]".
 * The optional fields are taken from the end of the line, each only after
 * a space or tab (an IPv4 or IPv6 address as inet_pton(3) reads it; RRQ or
 * WRQ in either case); whatever precedes them is the name, byte for byte
 * (backslashes included; a CR before the newline is dropped).  For each,
 * write one line to out, "WHAT LINES TEXT":
 *   mapped LINES NAME      the rules rewrote the name into NAME
 *   unchanged LINES NAME   no rule changed it (LINES "0"), or rules
 *                          rewrote it back
 *   refused LINE [MESSAGE] an 'a' rule at LINE refused it (ERROR 2); the
 *                          message sent instead of "Access denied", as the
 *                          listener sanitises it (log_sanitize)
 *   error LINE TEXT        the rule at LINE hit a work limit (remap.h), or
 *                          the name was too long (LINE 0)
 *   policy LINES REASON    the rules let it through, and the path policy
 *                          (path_normalize) refuses the result (only with
 *                          a root)
 * LINES are the lines of the rules that rewrote the name
 * (remap_trace_lines).  The name buffer is as large as the listener's
 * (PATH_MAX bytes), so the limits hit the same names.  Returns 0, or -1
 * with errno set when reading or writing failed. */
int maptest_run(const struct remap_rules *rules,
		const struct maptest_defaults *defaults, FILE *in, FILE *out);

/* Fill *ss from a numeric IPv4 or IPv6 address (inet_pton(3)), as a
 * request line gives it.  Returns 0, or -1 when s is neither. */
int maptest_address(const char *s, struct sockaddr_storage *ss);

#endif
