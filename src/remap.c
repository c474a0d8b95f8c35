/* tftpd-hpa-compatible filename remapping.  The rule language is the one
 * in.tftpd(8) documents under "FILENAME REMAPPING"; where the page is silent,
 * in.tftpd 5.2 was observed from outside (tests/remap.bats runs both side by
 * side).  A rule file is compiled once into regex_t and a list of
 * replacement pieces, so mapping a name only runs regexec and copies. */
#include "autoconfig.h"

#include "remap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Operation letters, each with what in.tftpd(8) says of it; remap_map
 * implements them where the same letter is quoted again. */
enum {
	OP_REWRITE = 1 << 0, /* r: "Replace the substring matched by regex by
			      * the replacement pattern" */
	OP_GLOBAL = 1 << 1,  /* g: "Repeat this rule until it no longer
			      * matches.  This is always used with r" */
	OP_ICASE = 1 << 2,   /* i: "Match the regex case-insensitively" */
	OP_END = 1 << 3,     /* e: "If this rule matches, end rule processing
			      * after executing the rule" */
	OP_RESTART = 1 << 4, /* s: "If this rule matches, start rule
			      * processing over from the very first rule
			      * after executing this rule" */
	OP_REFUSE = 1 << 5,  /* a: "If this rule matches, refuse the request
			      * and send an access denied error" */
	OP_GET = 1 << 6,     /* G: "applies to GET (RRQ) requests only" */
	OP_PUT = 1 << 7,     /* P: "applies to PUT (WRQ) requests only" */
	OP_IPV4 = 1 << 8,    /* 4: "applies to IPv4 sessions only" */
	OP_IPV6 = 1 << 9,    /* 6: "applies to IPv6 sessions only" */
	OP_INVERT = 1 << 10, /* ~: "execute the operation only if the regex
			      * doesn't match.  Cannot be used together with
			      * r" */
	OP_CLIENT = 1 << 11, /* (not a letter) the replacement has \i or \x */
};

static const struct {
	char letter;
	unsigned op;
} op_letters[] = {
	{'r', OP_REWRITE}, {'g', OP_GLOBAL}, {'i', OP_ICASE},  {'e', OP_END},
	{'s', OP_RESTART}, {'a', OP_REFUSE}, {'G', OP_GET},    {'P', OP_PUT},
	{'4', OP_IPV4},	   {'6', OP_IPV6},   {'~', OP_INVERT},
};

/* A replacement is compiled into pieces, expanded left to right. */
enum piece_kind {
	PIECE_TEXT,  /* literal bytes */
	PIECE_GROUP, /* \0..\9: the text the regex (sub)expression matched */
	PIECE_IP,    /* \i: client address, dotted quad or RFC 5952 form */
	PIECE_HEX,   /* \x: client address as 8 or 32 upper-case hex digits */
	PIECE_UPPER, /* \U: letters from here on in upper case */
	PIECE_LOWER, /* \L: letters from here on in lower case */
	PIECE_ASIS,  /* \E: end \U or \L */
};

struct piece {
	enum piece_kind kind;
	unsigned group; /* PIECE_GROUP */
	size_t off;	/* PIECE_TEXT: offset in the rule's text */
	size_t len;	/* PIECE_TEXT: byte count */
};

struct rule {
	regex_t re;
	unsigned ops;
	unsigned line; /* line in the rule file, for messages */
	size_t nmatch; /* regmatch_t slots needed; 0: compiled REG_NOSUB */
	int has_replacement; /* a third field was given */
	struct piece *pieces;
	size_t npieces;
	char *text; /* literal bytes of the replacement */
	/* What every name the regex matches begins with (ASCII case folded
	 * with 'i'), or prefix_len 0: see literal_prefix. */
	char prefix[32];
	size_t prefix_len;
};

struct remap_rules {
	struct rule *rule;
	size_t n, cap;
	int uses_client; /* some replacement has \i or \x */
};

/* The client address as the replacement escapes need it. */
struct client_text {
	int family;		   /* 4, 6, or 0 when unknown */
	char ip[INET6_ADDRSTRLEN]; /* \i */
	char hex[33];		   /* \x */
};

static void set_error(struct remap_error *err, unsigned line, const char *fmt,
		      ...) __attribute__((format(printf, 3, 4)));

static void set_error(struct remap_error *err, unsigned line, const char *fmt,
		      ...)
{
	va_list ap;

	if (!err)
		return;
	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* A byte for a message: printable as itself, anything else as \xNN. */
static const char *show_byte(unsigned char c, char buf[8])
{
	if (c > 0x20 && c < 0x7f)
		snprintf(buf, 8, "%c", c);
	else
		snprintf(buf, 8, "\\x%02X", c);
	return buf;
}

/* Field separators: space and tab as in.tftpd(8) shows; CR, VT and FF too,
 * so a rule file saved with CRLF line ends means what it shows. */
static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

struct field {
	const char *s;
	size_t len;
};

/* Split one line into at most 3 fields (operation, regex, replacement).  A
 * '#' outside a field's escapes starts a comment, even inside a field
 * (in.tftpd: "r foo bar#x" replaces with "bar").  A backslash keeps the next
 * byte in the field whatever it is; the escape itself is interpreted later.
 * Returns the field count, or -1 with *why set. */
static int split_fields(const char *line, size_t len, struct field f[3],
			const char **why)
{
	size_t i = 0;
	int n = 0;

	for (;;) {
		size_t start;

		while (i < len && is_blank(line[i]))
			i++;
		if (i == len || line[i] == '#')
			return n;
		if (n == 3) {
			*why = "text after the replacement (escape a space "
			       "that belongs to it as \"\\ \", start a comment "
			       "with #)";
			return -1;
		}
		start = i;
		while (i < len && !is_blank(line[i]) && line[i] != '#') {
			if (line[i] == '\\') {
				if (i + 1 == len) {
					/* in.tftpd would take the newline into
					 * the name. */
					*why = "backslash at the end of the line";
					return -1;
				}
				i++;
			}
			i++;
		}
		f[n].s = line + start;
		f[n].len = i - start;
		n++;
	}
}

/* Parse the operation letters into *ops. */
static int parse_ops(struct field f, unsigned *ops, struct remap_error *err,
		     unsigned line)
{
	char b[8];

	*ops = 0;
	for (size_t i = 0; i < f.len; i++) {
		size_t k;

		for (k = 0; k < sizeof(op_letters) / sizeof(op_letters[0]); k++)
			if (op_letters[k].letter == f.s[i])
				break;
		if (k == sizeof(op_letters) / sizeof(op_letters[0])) {
			set_error(err, line,
				  "unknown operation letter '%s' (known: "
				  "r g i e s a G P 4 6 ~)",
				  show_byte((unsigned char)f.s[i], b));
			return -1;
		}
		*ops |= op_letters[k].op;
	}
	/* in.tftpd(8): "~ ... Cannot be used together with r". */
	if ((*ops & OP_INVERT) && (*ops & OP_REWRITE)) {
		set_error(err, line, "'~' cannot be used together with 'r'");
		return -1;
	}
	if ((*ops & OP_GET) && (*ops & OP_PUT)) {
		set_error(err, line,
			  "'G' and 'P' together: the rule could never apply");
		return -1;
	}
	/* in.tftpd(8): g "is always used with r"; alone it does nothing. */
	if ((*ops & OP_GLOBAL) && !(*ops & OP_REWRITE)) {
		set_error(err, line, "'g' without 'r' does nothing");
		return -1;
	}
	if ((*ops & OP_IPV4) && (*ops & OP_IPV6)) {
		set_error(err, line,
			  "'4' and '6' together: the rule could never apply");
		return -1;
	}
	return 0;
}

/* The regex as regcomp sees it: "\ " and "\#" lose their backslash (they
 * only kept the byte in the field); every other escape goes to regcomp
 * untouched, so "\\" still matches one backslash and "\." a dot.  Returns a
 * malloc'd string or NULL (ENOMEM). */
static char *unescape_regex(struct field f)
{
	char *re = malloc(f.len + 1);
	size_t o = 0;

	if (!re)
		return NULL;
	for (size_t i = 0; i < f.len; i++) {
		if (f.s[i] == '\\' && i + 1 < f.len &&
		    (is_blank(f.s[i + 1]) || f.s[i + 1] == '#'))
			i++;
		else if (f.s[i] == '\\' && i + 1 < f.len)
			re[o++] = f.s[i++];
		re[o++] = f.s[i];
	}
	re[o] = '\0';
	return re;
}

/* The digit of the first back-reference in re (as regcomp gets it), \1 to
 * \9 outside a bracket expression, or 0 when it holds none.  An unclosed
 * bracket ends the search: regcomp refuses the regex anyway.
 * Why: POSIX.1-2017 leaves back-references undefined in an extended regex,
 * and glibc, which takes them, matches them by backtracking with no bound on
 * its time: "(a|b)*\1x" takes 19 s on a name of 512 a's, "(.*)*\1x" 8 s
 * on "abab..." of 256 bytes (the time grows with the fourth power of the
 * length), in the listener, before it forks.  remap.h's limits cannot
 * bound one regexec call. */
static char back_reference(const char *re)
{
	size_t i = 0;

	while (re[i]) {
		if (re[i] == '\\') {
			if (re[i + 1] >= '1' && re[i + 1] <= '9')
				return re[i + 1];
			i += re[i + 1] ? 2 : 1;
			continue;
		}
		if (re[i] != '[') {
			i++;
			continue;
		}
		/* A bracket expression: a ']' first (after a '^') is a member;
		 * "[:", "[." and "[=" open a class, a collating element or an
		 * equivalence class that ends at ":]", ".]" or "=]". */
		i++;
		if (re[i] == '^')
			i++;
		if (re[i] == ']')
			i++;
		while (re[i] && re[i] != ']') {
			if (re[i] == '[' && re[i + 1] &&
			    strchr(":.=", re[i + 1])) {
				char end[3] = {re[i + 1], ']', '\0'};
				const char *close = strstr(re + i + 2, end);

				if (!close)
					return 0;
				i = (size_t)(close - re) + 2;
				continue;
			}
			i++;
		}
		if (!re[i])
			return 0;
		i++;
	}
	return 0;
}

static void add_piece(struct rule *r, enum piece_kind kind, unsigned group,
		      size_t off, size_t len)
{
	/* A literal byte right after literal bytes extends that piece. */
	if (kind == PIECE_TEXT && r->npieces > 0 &&
	    r->pieces[r->npieces - 1].kind == PIECE_TEXT) {
		r->pieces[r->npieces - 1].len += len;
		return;
	}
	r->pieces[r->npieces].kind = kind;
	r->pieces[r->npieces].group = group;
	r->pieces[r->npieces].off = off;
	r->pieces[r->npieces].len = len;
	r->npieces++;
}

/* Compile the replacement field (in.tftpd(8) escapes): \0..\9, \i, \x, \U,
 * \L, \E; "\\", "\ " and "\#" give the byte itself, and so does a backslash
 * before any other byte (in.tftpd turns "\q" into "q").  A group the regex
 * does not have is refused: in.tftpd expands it to nothing, silently. */
static int compile_replacement(struct rule *r, struct field f,
			       struct remap_error *err)
{
	size_t t = 0, maxgroup = 0;

	/* Each byte makes at most one piece and one text byte. */
	r->pieces = malloc((f.len + 1) * sizeof(*r->pieces));
	r->text = malloc(f.len + 1);
	if (!r->pieces || !r->text) {
		set_error(err, 0, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	for (size_t i = 0; i < f.len; i++) {
		char c = f.s[i];

		if (c != '\\') {
			r->text[t] = c;
			add_piece(r, PIECE_TEXT, 0, t++, 1);
			continue;
		}
		c = f.s[++i]; /* split_fields saw to it that there is one */
		if (c >= '0' && c <= '9') {
			unsigned g = (unsigned)(c - '0');

			if (g > r->re.re_nsub) {
				set_error(err, r->line,
					  "\\%u in the replacement, but the "
					  "regex has %zu parenthesised group%s",
					  g, (size_t)r->re.re_nsub,
					  r->re.re_nsub == 1 ? "" : "s");
				errno = EINVAL;
				return -1;
			}
			if (g > maxgroup)
				maxgroup = g;
			add_piece(r, PIECE_GROUP, g, 0, 0);
		} else if (c == 'i' || c == 'x') {
			add_piece(r, c == 'i' ? PIECE_IP : PIECE_HEX, 0, 0, 0);
			r->ops |= OP_CLIENT;
		} else if (c == 'U' || c == 'L' || c == 'E') {
			add_piece(r,
				  c == 'U'   ? PIECE_UPPER
				  : c == 'L' ? PIECE_LOWER
					     : PIECE_ASIS,
				  0, 0, 0);
		} else {
			r->text[t] = c;
			add_piece(r, PIECE_TEXT, 0, t++, 1);
		}
	}
	/* \0 (the span to replace) and the highest group used. */
	r->nmatch = maxgroup + 1;
	return 0;
}

/* Find the bytes every name the regex (as regcomp gets it) matches must
 * begin with: after a '^' that starts it, the ordinary bytes (or escaped
 * special ones) up to the first special byte.  A byte that a '*', '?' or
 * '{' follows may be absent and is left out; one that '+' follows ends the
 * prefix.  None when the regex is not anchored, or holds a '|' anywhere
 * ("^a|b" is anchored on its left only).  A prefix cut at sizeof(prefix)
 * is still a condition every match meets.  tests/remap_test prefix checks
 * it against regexec on random anchored regexes.
 * Why: rule sets are mostly anchored rules ("^pxelinux\.cfg/", "^host7/"),
 * and a name that does not begin their way need not go to regexec.  That
 * saves more than the call: glibc's regexec writes to the compiled regex
 * (its lock) on every call, and after each fork the listener's first write
 * to each page costs it a page fault (copy-on-write): with 50 rules, about
 * one fault per rule per request. */
static void literal_prefix(const char *re, struct rule *r)
{
	static const char special[] = ".[]()*+?{}|^$\\";
	size_t i = 1, n = 0, q;

	r->prefix_len = 0;
	if (re[0] != '^' || strchr(re, '|'))
		return;
	while (re[i] && n < sizeof(r->prefix)) {
		char c = re[i];
		size_t adv = 1;

		if (c == '\\') {
			if (!re[i + 1] || !strchr(special, re[i + 1]))
				/* A GNU operator (\w, \<...) or an escaped
				 * ordinary byte: stop, to stay safe. */
				break;
			c = re[i + 1];
			adv = 2;
		} else if (strchr(special, c)) {
			break;
		}
		/* What repeats it: nothing, or only '+' (at least once), keeps
		 * it; anything else may drop it (glibc takes "a+*" and
		 * "a+{0}" too). */
		q = strspn(re + i + adv, "*+?{");
		if (q != strspn(re + i + adv, "+"))
			break;
		if ((r->ops & OP_ICASE) && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		r->prefix[n++] = c;
		i += adv;
		if (q > 0)
			break;
	}
	r->prefix_len = n;
}

/* Nonzero when name may match rule r: it begins with r's literal prefix.
 * REG_ICASE folds ASCII only here (the daemon keeps the C locale). */
static int may_match(const struct rule *r, const char *name)
{
	for (size_t i = 0; i < r->prefix_len; i++) {
		char c = name[i];

		if ((r->ops & OP_ICASE) && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != r->prefix[i])
			return 0; /* a shorter name stops at its NUL */
	}
	return 1;
}

static void free_rule(struct rule *r)
{
	regfree(&r->re);
	free(r->pieces);
	free(r->text);
}

/* Parse one line into rules->rule[rules->n]; a comment or blank line adds
 * nothing.  Returns 0 or -1 with *err set and errno EINVAL or ENOMEM. */
static int parse_line(struct remap_rules *rules, const char *s, size_t len,
		      unsigned line, struct remap_error *err)
{
	struct field f[3];
	struct rule *r;
	const char *why;
	char *re, br;
	int n, flags, rc;

	if (memchr(s, '\0', len)) {
		set_error(err, line, "NUL byte in the line");
		errno = EINVAL;
		return -1;
	}
	if (len > REMAP_MAX_LINE) {
		set_error(err, line, "line longer than %d bytes",
			  REMAP_MAX_LINE);
		errno = EINVAL;
		return -1;
	}
	n = split_fields(s, len, f, &why);
	if (n < 0) {
		set_error(err, line, "%s", why);
		errno = EINVAL;
		return -1;
	}
	if (n == 0)
		return 0;
	if (rules->n == rules->cap) {
		size_t cap = rules->cap ? rules->cap * 2 : 16;
		struct rule *grown = realloc(rules->rule, cap * sizeof(*grown));

		if (!grown) {
			set_error(err, 0, "out of memory");
			errno = ENOMEM;
			return -1;
		}
		rules->rule = grown;
		rules->cap = cap;
	}
	r = &rules->rule[rules->n];
	memset(r, 0, sizeof(*r));
	r->line = line;
	if (parse_ops(f[0], &r->ops, err, line) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (n < 2) {
		set_error(err, line,
			  "no regular expression after the operation");
		errno = EINVAL;
		return -1;
	}
	r->has_replacement = n == 3;
	if (r->has_replacement && !(r->ops & (OP_REWRITE | OP_REFUSE))) {
		/* in.tftpd ignores it: surely a forgotten 'r'. */
		set_error(err, line,
			  "a replacement, but no 'r' (or 'a') to use it");
		errno = EINVAL;
		return -1;
	}
	re = unescape_regex(f[1]);
	if (!re) {
		set_error(err, 0, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	br = back_reference(re);
	if (br) {
		set_error(err, line,
			  "back-reference \\%c in the regular expression: not "
			  "supported (its matching time has no bound)",
			  br);
		free(re);
		errno = EINVAL;
		return -1;
	}
	/* Only a rule that rewrites (or words a refusal) needs to know where
	 * the match was; REG_NOSUB lets regexec skip that work. */
	flags = REG_EXTENDED;
	if (r->ops & OP_ICASE)
		flags |= REG_ICASE;
	if (!(r->ops & OP_REWRITE) && !r->has_replacement)
		flags |= REG_NOSUB;
	rc = regcomp(&r->re, re, flags);
	literal_prefix(re, r);
	free(re);
	if (rc != 0) {
		char msg[160];

		regerror(rc, &r->re, msg, sizeof(msg));
		set_error(err, line, "bad regular expression: %s", msg);
		errno = rc == REG_ESPACE ? ENOMEM : EINVAL;
		return -1;
	}
	if ((r->ops & OP_REWRITE) || r->has_replacement) {
		struct field none = {"", 0};

		if (compile_replacement(r, n == 3 ? f[2] : none, err) != 0) {
			free_rule(r);
			return -1;
		}
	}
	if (r->ops & OP_CLIENT)
		rules->uses_client = 1;
	rules->n++;
	return 0;
}

struct remap_rules *remap_parse(const char *text, size_t len,
				struct remap_error *err)
{
	struct remap_rules *rules = calloc(1, sizeof(*rules));
	size_t pos = 0;
	unsigned line = 0;

	if (!rules) {
		set_error(err, 0, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	while (pos < len) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - s) : len - pos;

		line++;
		if (parse_line(rules, s, n, line, err) != 0) {
			int saved = errno;

			remap_free(rules);
			errno = saved;
			return NULL;
		}
		pos += n + (nl != NULL);
	}
	return rules;
}

struct remap_rules *remap_load(const char *path, struct remap_error *err)
{
	struct remap_rules *rules;
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, saved;

	/* O_NONBLOCK: a FIFO put in the rule file's place must not hang
	 * start-up; it is refused below as not a regular file. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		set_error(err, 0, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0) {
		saved = errno;
		set_error(err, 0, "%s: %s", path, strerror(saved));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		saved = EINVAL;
		set_error(err, 0, "%s: not a regular file", path);
		goto fail;
	}
	if (st.st_size > REMAP_MAX_FILE) {
		saved = EFBIG;
		set_error(err, 0, "%s: larger than %d bytes", path,
			  REMAP_MAX_FILE);
		goto fail;
	}
	/* Read to EOF, not st_size bytes: the file may change meanwhile. */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	for (;;) {
		ssize_t got;

		if (!buf) {
			saved = ENOMEM;
			set_error(err, 0, "out of memory");
			goto fail;
		}
		if (len == cap) {
			char *grown;

			if (cap > REMAP_MAX_FILE) {
				saved = EFBIG;
				set_error(err, 0, "%s: larger than %d bytes",
					  path, REMAP_MAX_FILE);
				goto fail;
			}
			grown = realloc(buf, cap * 2);
			if (!grown)
				free(buf);
			buf = grown;
			cap *= 2;
			continue;
		}
		got = read(fd, buf + len, cap - len);
		if (got == 0)
			break;
		if (got < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			set_error(err, 0, "%s: %s", path, strerror(saved));
			goto fail;
		}
		len += (size_t)got;
	}
	close(fd);
	rules = remap_parse(buf, len, err);
	saved = errno;
	free(buf);
	errno = saved;
	return rules;
fail:
	free(buf);
	close(fd);
	errno = saved;
	return NULL;
}

char *remap_error_format(const char *path, const struct remap_error *err,
			 char *buf, size_t size)
{
	if (size == 0)
		return buf;
	size_t plen = strlen(path);

	if (err->line)
		snprintf(buf, size, "%s:%u: %s", path, err->line, err->message);
	else if (strncmp(err->message, path, plen) == 0 &&
		 err->message[plen] == ':')
		snprintf(buf, size, "%s", err->message);
	else
		snprintf(buf, size, "%s: %s", path, err->message);
	return buf;
}

void remap_free(struct remap_rules *rules)
{
	if (!rules)
		return;
	for (size_t i = 0; i < rules->n; i++)
		free_rule(&rules->rule[i]);
	free(rules->rule);
	free(rules);
}

size_t remap_count(const struct remap_rules *rules)
{
	return rules ? rules->n : 0;
}

/* --- mapping --- */

/* Fill *ct from the client address; the texts only when with_text is set
 * (inet_ntop costs as much as a few rules).  An IPv4-mapped IPv6 address is an
 * IPv4 client: in.tftpd treats it as IPv6 (\i "::ffff:192.0.2.1", '6' rules),
 * which only happens when its socket is dual-stack; here rules written for
 * IPv4 clients work whichever socket the request came in on. */
static void client_text(const struct sockaddr *sa, int with_text,
			struct client_text *ct)
{
	static const char digits[] = "0123456789ABCDEF";
	const unsigned char *b = NULL;
	size_t n = 0;

	memset(ct, 0, sizeof(*ct));
	if (sa && sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		b = (const unsigned char *)&sin->sin_addr;
		n = 4;
	} else if (sa && sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)sa;

		b = sin6->sin6_addr.s6_addr;
		n = 16;
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			b += 12;
			n = 4;
		}
	}
	if (!b)
		return;
	ct->family = n == 4 ? 4 : 6;
	if (!with_text)
		return;
	if (!inet_ntop(n == 4 ? AF_INET : AF_INET6, b, ct->ip, sizeof(ct->ip)))
		ct->ip[0] = '\0';
	/* in.tftpd(8): "expanded hexadecimal notation (e.g. C00002A9 for
	 * IPv4, or 20010DB8000000000000000000000001 for IPv6)". */
	for (size_t i = 0; i < n; i++) {
		ct->hex[2 * i] = digits[b[i] >> 4];
		ct->hex[2 * i + 1] = digits[b[i] & 15];
	}
	ct->hex[2 * n] = '\0';
}

/* A bounded output buffer with the case conversion in force. */
struct sink {
	char *buf;
	size_t size, len;
	int casing; /* 0, 'U' or 'L' */
	int full;   /* something did not fit */
};

static void sink_put(struct sink *s, const char *p, size_t n)
{
	if (s->full || n >= s->size - s->len) {
		s->full = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		/* ASCII only: names are bytes, not text in a locale. */
		if (s->casing == 'U' && c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (s->casing == 'L' && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		s->buf[s->len++] = c;
	}
}

/* Write into dst (dstsz bytes) the replacement of rule r expanded against
 * the match m in cur, with the text around the match when around is set
 * (in.tftpd(8) 'r': "Replace the substring matched by regex").  m == NULL
 * expands the groups as empty (a '~' rule has no match).  Returns 0 and the
 * length in *len, or -1 when the result does not fit. */
static int expand(const struct rule *r, const char *cur, const regmatch_t *m,
		  int around, const struct client_text *ct, char *dst,
		  size_t dstsz, size_t *len)
{
	struct sink s = {dst, dstsz, 0, 0, 0};

	if (m && around)
		sink_put(&s, cur, (size_t)m[0].rm_so);
	for (size_t i = 0; i < r->npieces; i++) {
		const struct piece *p = &r->pieces[i];

		switch (p->kind) {
		case PIECE_TEXT:
			sink_put(&s, r->text + p->off, p->len);
			break;
		case PIECE_GROUP:
			/* A group that took no part in the match is empty. */
			if (m && m[p->group].rm_so >= 0)
				sink_put(&s, cur + m[p->group].rm_so,
					 (size_t)(m[p->group].rm_eo -
						  m[p->group].rm_so));
			break;
		case PIECE_IP:
			sink_put(&s, ct->ip, strlen(ct->ip));
			break;
		case PIECE_HEX:
			sink_put(&s, ct->hex, strlen(ct->hex));
			break;
		case PIECE_UPPER:
			s.casing = 'U';
			break;
		case PIECE_LOWER:
			s.casing = 'L';
			break;
		case PIECE_ASIS:
			s.casing = 0;
			break;
		}
	}
	/* The rest of the name is not part of the replacement: no \U. */
	s.casing = 0;
	if (m && around)
		sink_put(&s, cur + m[0].rm_eo, strlen(cur + m[0].rm_eo));
	if (s.full)
		return -1;
	dst[s.len] = '\0';
	*len = s.len;
	return 0;
}

/* Nonzero when the rule is for this kind of request and client
 * (in.tftpd(8): G, P, 4, 6). */
static int rule_applies(const struct rule *r, enum remap_request kind,
			int family)
{
	if ((r->ops & OP_GET) && kind != REMAP_RRQ)
		return 0;
	if ((r->ops & OP_PUT) && kind != REMAP_WRQ)
		return 0;
	if ((r->ops & OP_IPV4) && family != 4)
		return 0;
	if ((r->ops & OP_IPV6) && family != 6)
		return 0;
	return 1;
}

/* The state of one remap_map call.  The name being rewritten (cur) lives
 * in out or in a spare buffer of the same size; each rewrite goes to the
 * other one. */
struct mapping {
	char *out, *spare, *cur;
	size_t outsz;
	struct client_text ct;
	struct remap_trace *trace;
};

/* The buffer that cur is not in, the spare allocated at the first rewrite
 * (most names meet no rule that rewrites).  NULL when malloc fails. */
static char *other_buffer(struct mapping *mp)
{
	if (!mp->spare && !(mp->spare = malloc(mp->outsz)))
		return NULL;
	return mp->cur == mp->out ? mp->spare : mp->out;
}

/* Rule r matched the name at m: 'r' replaces the match; 'g' repeats the
 * rule, matching the whole rewritten name again each time, "until it no
 * longer matches" (in.tftpd 5.2 turns "aab" into "b" with "rg ^a", and
 * spins forever on "rg a ab").  Every step is counted against the bounds.
 * Returns REMAP_UNCHANGED when done, or the error that stopped it. */
static enum remap_result rewrite(struct mapping *mp, const struct rule *r,
				 regmatch_t *m)
{
	struct remap_trace *t = mp->trace;
	unsigned before = t->steps;

	for (;;) {
		char *other;
		size_t len;
		int rc;

		if (t->steps == REMAP_MAX_STEPS)
			return REMAP_TOO_MANY_STEPS;
		if (!(other = other_buffer(mp)))
			return REMAP_NO_MEMORY;
		if (expand(r, mp->cur, m, 1, &mp->ct, other, mp->outsz, &len) !=
		    0)
			return REMAP_TOO_LONG;
		if (len > REMAP_MAX_REWRITE_BYTES - t->rewritten)
			return REMAP_TOO_MUCH_REWRITING;
		t->rewritten += len;
		/* Listed once it has rewritten: a rule stopped by a bound or
		 * the buffer before its first step changed nothing. */
		if (t->steps++ == before) {
			if (t->nrewrote < REMAP_TRACE_RULES)
				t->rewrote[t->nrewrote] = r->line;
			t->nrewrote++;
		}
		mp->cur = other;
		if (!(r->ops & OP_GLOBAL))
			return REMAP_UNCHANGED;
		t->regexecs++;
		rc = regexec(&r->re, mp->cur, r->nmatch, m, 0);
		if (rc == REG_NOMATCH)
			return REMAP_UNCHANGED;
		if (rc != 0)
			return REMAP_NO_MEMORY;
	}
}

/* Refusing rule r ('a') matched (m: where, or NULL for a '~' rule): put in
 * out the ERROR message in.tftpd would send.  With a replacement that is
 * the name as the rule rewrites it ("ra foo bar" answers "xfooy" with
 * "xbary"; "a ^x y", without 'r', likewise); without one, "" for the
 * caller's default (in.tftpd's "Access denied").  Returns REMAP_REFUSED, or
 * REMAP_NO_MEMORY. */
static enum remap_result refuse(struct mapping *mp, const struct rule *r,
				const regmatch_t *m)
{
	char *other;
	size_t len;

	if (!r->has_replacement) {
		mp->out[0] = '\0';
		return REMAP_REFUSED;
	}
	/* With 'r', rewrite() has already made the text. */
	if (!(r->ops & OP_REWRITE)) {
		if (!(other = other_buffer(mp)))
			return REMAP_NO_MEMORY;
		if (expand(r, mp->cur, m, m != NULL, &mp->ct, other, mp->outsz,
			   &len) != 0)
			other[0] = '\0';
		mp->cur = other;
	}
	if (mp->cur != mp->out)
		memcpy(mp->out, mp->cur, strlen(mp->cur) + 1);
	return REMAP_REFUSED;
}

enum remap_result remap_map(const struct remap_rules *rules, const char *name,
			    enum remap_request kind,
			    const struct sockaddr *client, char *out,
			    size_t outsz, struct remap_trace *trace)
{
	struct remap_trace local;
	struct mapping mp = {out, NULL, out, outsz, {0, "", ""}, trace};
	regmatch_t m[10];
	size_t namelen = strlen(name);
	enum remap_result res = REMAP_UNCHANGED;
	unsigned line = 0;

	if (!mp.trace)
		mp.trace = &local;
	memset(mp.trace, 0, sizeof(*mp.trace));
	if (namelen >= outsz) {
		res = REMAP_TOO_LONG;
		goto done;
	}
	memcpy(out, name, namelen + 1);
	client_text(client, rules && rules->uses_client, &mp.ct);

	/* in.tftpd(8): "Rules are processed from the top down, and by
	 * default, all rules are processed even if there is a match." */
	for (size_t i = 0; rules && i < rules->n;) {
		const struct rule *r = &rules->rule[i];
		int rc;

		if (!rule_applies(r, kind, mp.ct.family)) {
			i++;
			continue;
		}
		if (may_match(r, mp.cur)) {
			mp.trace->regexecs++;
			rc = regexec(&r->re, mp.cur, r->nmatch,
				     r->nmatch ? m : NULL, 0);
		} else {
			rc = REG_NOMATCH;
		}
		if (rc != 0 && rc != REG_NOMATCH) {
			res = REMAP_NO_MEMORY;
			line = r->line;
			goto done;
		}
		/* in.tftpd(8) '~': "execute the operation only if the regex
		 * doesn't match". */
		if ((rc == 0) == !!(r->ops & OP_INVERT)) {
			i++;
			continue;
		}
		if (r->ops & OP_REWRITE)
			res = rewrite(&mp, r, m);
		if (res == REMAP_UNCHANGED && (r->ops & OP_REFUSE))
			res = refuse(&mp, r, rc == 0 ? m : NULL);
		if (res != REMAP_UNCHANGED) {
			line = r->line;
			goto done;
		}
		/* 'e' ends processing, and wins over 's' (as in in.tftpd). */
		if (r->ops & OP_END)
			break;
		/* 's': "start rule processing over from the very first rule".
		 * in.tftpd 5.2 restarts at the second rule instead; this
		 * follows its manual page. */
		if (r->ops & OP_RESTART) {
			if (mp.trace->restarts == REMAP_MAX_RESTARTS) {
				res = REMAP_TOO_MANY_RESTARTS;
				line = r->line;
				goto done;
			}
			mp.trace->restarts++;
			i = 0;
			continue;
		}
		i++;
	}
	if (mp.cur != out)
		memcpy(out, mp.cur, strlen(mp.cur) + 1);
	res = strcmp(out, name) != 0 ? REMAP_MAPPED : REMAP_UNCHANGED;
done:
	free(mp.spare);
	mp.trace->line = line;
	/* The errors leave no half-rewritten name behind. */
	if (res != REMAP_UNCHANGED && res != REMAP_MAPPED &&
	    res != REMAP_REFUSED && outsz > 0)
		out[0] = '\0';
	return res;
}

const char *remap_result_message(enum remap_result r)
{
	switch (r) {
	case REMAP_UNCHANGED:
		return "unchanged";
	case REMAP_MAPPED:
		return "remapped";
	case REMAP_REFUSED:
		return "refused by a remap rule";
	case REMAP_TOO_LONG:
		return "remapped name too long";
	case REMAP_TOO_MANY_RESTARTS:
		return "remap rules restarted too often (loop?)";
	case REMAP_TOO_MANY_STEPS:
		return "remap rules rewrote the name too often (loop?)";
	case REMAP_TOO_MUCH_REWRITING:
		return "remap rules rewrote too many bytes (loop?)";
	case REMAP_NO_MEMORY:
		return "remap regex matching failed";
	}
	return "unknown remap result";
}

char *remap_trace_lines(const struct remap_trace *trace, char *buf, size_t size)
{
	size_t len = 0;
	unsigned n = trace->nrewrote < REMAP_TRACE_RULES ? trace->nrewrote
							 : REMAP_TRACE_RULES;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (trace->nrewrote == 0) {
		snprintf(buf, size, "0");
		return buf;
	}
	for (unsigned i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s%u",
					i ? "," : "", trace->rewrote[i]);
	if (trace->nrewrote > n && len < size)
		snprintf(buf + len, size - len, ",...");
	return buf;
}
