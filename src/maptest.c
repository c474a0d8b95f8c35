/* --map-test: one line of verdict per requested name, so that an
 * administrator can check a rule file before deploying it, and the tests can
 * compare the rules with in.tftpd's. */
#include "autoconfig.h"

#include "maptest.h"

#include "log.h"
#include "path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Room for the lines of REMAP_TRACE_RULES rules and ",...". */
#define LINES_MAX (REMAP_TRACE_RULES * 11 + 8)

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* The last blank-separated word of line[0..*len), when something precedes
 * it: its start, with *len cut to the text before the blanks.  NULL when
 * the line is a single word. */
static char *last_word(char *line, size_t *len)
{
	size_t end = *len, start = end, before;

	while (start > 0 && !is_blank(line[start - 1]))
		start--;
	if (start == 0 || start == end)
		return NULL;
	before = start;
	while (before > 0 && is_blank(line[before - 1]))
		before--;
	if (before == 0)
		return NULL;
	*len = before;
	return line + start;
}

int maptest_address(const char *s, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Split a request line (NUL-terminated, without its newline) in place:
 * the name stays at line, cut where the optional fields begin. */
static void parse_line(char *line, const struct maptest_defaults *d,
		       enum remap_request *kind, const struct sockaddr **client,
		       struct sockaddr_storage *ss)
{
	size_t len = strlen(line), keep = len;
	char *w;

	*kind = d->kind;
	*client = d->client;
	w = last_word(line, &keep);
	if (w && (strcasecmp(w, "RRQ") == 0 || strcasecmp(w, "WRQ") == 0)) {
		*kind = strcasecmp(w, "WRQ") == 0 ? REMAP_WRQ : REMAP_RRQ;
		len = keep;
		line[len] = '\0';
		w = last_word(line, &keep);
	}
	if (w && maptest_address(w, ss) == 0) {
		*client = (const struct sockaddr *)ss;
		len = keep;
	}
	line[len] = '\0';
}

/* One verdict line for one name. */
static void verdict(const struct remap_rules *rules, const char *name,
		    enum remap_request kind, const struct sockaddr *client,
		    const char *root, FILE *out)
{
	/* As large as the listener's buffers, so the same names fit. */
	static char mapped[PATH_MAX], rel[PATH_MAX];
	char lines[LINES_MAX], msg[256];
	struct remap_trace t;
	enum remap_result res;
	enum path_result pr;

	res = remap_map(rules, name, kind, client, mapped, sizeof(mapped), &t);
	remap_trace_lines(&t, lines, sizeof(lines));
	switch (res) {
	case REMAP_MAPPED:
	case REMAP_UNCHANGED:
		pr = root ? path_normalize(root, mapped, strlen(mapped), rel,
					   sizeof(rel))
			  : PATH_OK;
		if (pr != PATH_OK)
			fprintf(out, "policy %s %s\n", lines,
				path_result_message(pr));
		else
			fprintf(out, "%s %s %s\n",
				res == REMAP_MAPPED ? "mapped" : "unchanged",
				lines, mapped);
		break;
	case REMAP_REFUSED:
		log_sanitize(mapped, strlen(mapped), msg, sizeof(msg));
		fprintf(out, "refused %u%s%s\n", t.line, msg[0] ? " " : "",
			msg);
		break;
	default:
		fprintf(out, "error %u %s\n", t.line,
			remap_result_message(res));
		break;
	}
}

int maptest_run(const struct remap_rules *rules,
		const struct maptest_defaults *defaults, FILE *in, FILE *out)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	while ((n = getline(&line, &cap, in)) >= 0) {
		struct sockaddr_storage ss;
		const struct sockaddr *client;
		enum remap_request kind;

		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		parse_line(line, defaults, &kind, &client, &ss);
		verdict(rules, line, kind, client, defaults->root, out);
		/* One answer per question, at once: a script may ask one
		 * name at a time through a pipe. */
		if (fflush(out) != 0) {
			rc = -1;
			break;
		}
	}
	if (rc == 0 && ferror(in))
		rc = -1;
	free(line);
	return rc;
}
