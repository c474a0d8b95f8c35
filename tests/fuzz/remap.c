/* Fuzz target: remap rule files (remap_parse) and the mapping of a hostile
 * name through them (remap_map).  Input layout:
 *   byte 0      bit 0: a WRQ (else an RRQ); bits 1-2: the client, none,
 *               IPv4, IPv6 or IPv4-mapped IPv6
 *   bytes 1-2   the output buffer size, 0..8191 bytes
 *   bytes 3-18  the client address (IPv4: the first four bytes)
 *   the rest    the rule text, a NUL, then the requested name (to the next
 *               NUL or the end)
 * Checked: a refused rule file says where and why; a mapping stays in its
 * buffer, within the work bounds remap.h promises (regexec calls included),
 * reports UNCHANGED only for the name as it came and MAPPED only for
 * another, names the deciding rule's line exactly when a rule decided,
 * leaves "" behind on an error, and gives the same answer twice.
 *
 * A rule file is the administrator's, not the network's: rule texts with
 * more than 8 repetition operators or more than one {m,n} bound are
 * skipped, as glibc's regcomp copies the expression under each and
 * "^(.+++++...)$" alone exhausts memory (such a file fails at start-up,
 * where the administrator sees it).  A name that makes sane rules spin is
 * a finding (libFuzzer's -timeout). */
#include "autoconfig.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "remap.h"

#define HEADER 19

/* The client address the input describes, or NULL for none. */
static const struct sockaddr *client_of(const uint8_t *data,
					struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	switch ((data[0] >> 1) & 3) {
	case 1:
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, data + 3, 4);
		return (struct sockaddr *)sin;
	case 2:
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, data + 3, 16);
		return (struct sockaddr *)sin6;
	case 3:
		sin6->sin6_family = AF_INET6;
		memset(sin6->sin6_addr.s6_addr + 10, 0xff, 2);
		memcpy(sin6->sin6_addr.s6_addr + 12, data + 3, 4);
		return (struct sockaddr *)sin6;
	default:
		return NULL;
	}
}

/* Nonzero for rule text whose regexes glibc would expand beyond reason
 * (see above). */
static int too_costly(const char *text, size_t len)
{
	unsigned repeats = 0, bounds = 0;

	for (size_t i = 0; i < len; i++) {
		repeats += text[i] == '+' || text[i] == '*' || text[i] == '?';
		bounds += text[i] == '{';
	}
	return repeats > 8 || bounds > 1;
}

/* Lines in text: a last line without its newline counts too. */
static unsigned lines_in(const char *text, size_t len)
{
	unsigned n = 1;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_storage ss;
	const struct sockaddr *client;
	const char *text, *nul;
	char *name, *out, *again, list[16 * REMAP_TRACE_RULES + 8];
	size_t textlen, namelen, outsz;
	struct remap_rules *rules;
	struct remap_error err;
	struct remap_trace trace, trace2;
	enum remap_request kind;
	enum remap_result res;
	unsigned lines;

	if (size < HEADER)
		return 0;
	kind = data[0] & 1 ? REMAP_WRQ : REMAP_RRQ;
	client = client_of(data, &ss);
	outsz = fuzz_get16(data + 1) & 8191u;
	text = (const char *)data + HEADER;
	nul = memchr(text, '\0', size - HEADER);
	textlen = nul ? (size_t)(nul - text) : size - HEADER;
	if (too_costly(text, textlen))
		return 0;
	lines = lines_in(text, textlen);

	memset(&err, 0xa5, sizeof(err));
	errno = 0;
	rules = remap_parse(text, textlen, &err);
	if (!rules) {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM);
		FUZZ_CHECK(memchr(err.message, '\0', sizeof(err.message)) &&
			   err.message[0] != '\0');
		FUZZ_CHECK(err.line <= lines);
		FUZZ_CHECK(errno == ENOMEM || err.line >= 1);
		return 0;
	}
	FUZZ_CHECK(remap_count(rules) <= lines);

	/* The name, NUL-terminated in a buffer of its own size, and the
	 * output in exactly outsz bytes: an overrun is an ASan report. */
	namelen = 0;
	if (nul) {
		const char *end = (const char *)data + size;
		const char *n2 = memchr(nul + 1, '\0', (size_t)(end - nul - 1));
		namelen = (size_t)((n2 ? n2 : end) - (nul + 1));
	}
	name = malloc(namelen + 1);
	out = malloc(outsz ? outsz : 1);
	again = malloc(outsz ? outsz : 1);
	FUZZ_CHECK(name != NULL && out != NULL && again != NULL);
	if (namelen)
		memcpy(name, nul + 1, namelen);
	name[namelen] = '\0';

	res = remap_map(rules, name, kind, client, out, outsz, &trace);
	FUZZ_CHECK(remap_result_message(res)[0] != '\0');
	FUZZ_CHECK(trace.steps <= REMAP_MAX_STEPS &&
		   trace.restarts <= REMAP_MAX_RESTARTS &&
		   trace.rewritten <= REMAP_MAX_REWRITE_BYTES);
	/* remap.h's bound on the regexec calls of one request. */
	FUZZ_CHECK(trace.regexecs <=
		   (REMAP_MAX_RESTARTS + 1) * remap_count(rules) +
			   REMAP_MAX_STEPS);
	/* Each rule that rewrote did so at least once, and is a line. */
	FUZZ_CHECK(trace.nrewrote <= trace.steps);
	for (unsigned i = 0; i < trace.nrewrote && i < REMAP_TRACE_RULES; i++)
		FUZZ_CHECK(trace.rewrote[i] >= 1 && trace.rewrote[i] <= lines);
	FUZZ_CHECK(remap_trace_lines(&trace, list, sizeof(list)) == list);
	FUZZ_CHECK(memchr(list, '\0', sizeof(list)) && list[0] != '\0');
	if (outsz == 0)
		FUZZ_CHECK(res == REMAP_TOO_LONG);
	else
		FUZZ_CHECK(memchr(out, '\0', outsz) != NULL);
	switch (res) {
	case REMAP_UNCHANGED:
		FUZZ_CHECK(strcmp(out, name) == 0 && trace.line == 0);
		break;
	case REMAP_MAPPED:
		FUZZ_CHECK(strcmp(out, name) != 0 && trace.line == 0);
		FUZZ_CHECK(trace.steps > 0 && trace.nrewrote > 0);
		break;
	case REMAP_REFUSED:
		FUZZ_CHECK(trace.line >= 1 && trace.line <= lines);
		break;
	case REMAP_TOO_LONG:
		/* Either the name never fitted (no rule ran) or a rule made
		 * it too long. */
		FUZZ_CHECK(trace.line == 0 ? namelen >= outsz
					   : trace.line <= lines);
		FUZZ_CHECK(outsz == 0 || out[0] == '\0');
		break;
	case REMAP_TOO_MANY_RESTARTS:
		FUZZ_CHECK(trace.restarts == REMAP_MAX_RESTARTS);
		FUZZ_CHECK(trace.line >= 1 && trace.line <= lines &&
			   out[0] == '\0');
		break;
	case REMAP_TOO_MANY_STEPS:
		FUZZ_CHECK(trace.steps == REMAP_MAX_STEPS);
		FUZZ_CHECK(trace.line >= 1 && trace.line <= lines &&
			   out[0] == '\0');
		break;
	case REMAP_TOO_MUCH_REWRITING:
	case REMAP_NO_MEMORY:
		FUZZ_CHECK(trace.line >= 1 && trace.line <= lines &&
			   out[0] == '\0');
		break;
	default:
		FUZZ_CHECK(!"a result remap.h does not list");
	}

	/* Read-only rules: the same request gets the same answer. */
	FUZZ_CHECK(remap_map(rules, name, kind, client, again, outsz,
			     &trace2) == res);
	FUZZ_CHECK(trace.line == trace2.line && trace.steps == trace2.steps &&
		   trace.restarts == trace2.restarts &&
		   trace.rewritten == trace2.rewritten &&
		   trace.regexecs == trace2.regexecs &&
		   trace.nrewrote == trace2.nrewrote &&
		   memcmp(trace.rewrote, trace2.rewrote,
			  sizeof(trace.rewrote)) == 0);
	if (outsz > 0)
		FUZZ_CHECK(strcmp(again, out) == 0);

	remap_free(rules);
	free(name);
	free(out);
	free(again);
	return 0;
}
