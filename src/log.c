/* Logging to syslog or stderr, filtered by verbosity. */
#include "autoconfig.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_to_stderr = 1;
static int log_verbosity = LOG_V_TRANSFERS;
static const char *log_ident = "ctftpd";

static int syslog_connected;
static int syslog_pinned; /* chrooted: /dev/log is out of reach */

void log_open(const char *ident, int to_stderr, int verbosity)
{
	log_ident = ident;
	log_to_stderr = to_stderr;
	log_verbosity = verbosity;
	if (!to_stderr)
		log_connect_syslog();
}

void log_connect_syslog(void)
{
	if (syslog_connected)
		return;
	openlog(log_ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	syslog_connected = 1;
}

void log_pin_syslog(void)
{
	syslog_pinned = 1;
}

void log_reopen(void)
{
	if (!log_to_stderr && !syslog_pinned) {
		closelog();
		syslog_connected = 0;
		log_connect_syslog();
	}
	log_msg(LOG_NOTICE, "logs re-opened");
}

int log_level(void)
{
	return log_verbosity;
}

int log_enabled(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
	case LOG_WARNING:
	case LOG_NOTICE:
		return 1;
	case LOG_INFO:
		return log_verbosity >= LOG_V_TRANSFERS;
	default:
		return log_verbosity >= LOG_V_REQUESTS;
	}
}

static const char *priority_name(int priority)
{
	switch (priority) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
		return "notice";
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(priority))
		return;
	va_start(ap, fmt);
	if (log_to_stderr) {
		/* One write(2) per line, so lines from concurrent children do
		 * not interleave mid-line. */
		char line[1024];
		int n = snprintf(line, sizeof(line), "%s[%ld]: %s: ", log_ident,
				 (long)getpid(), priority_name(priority));
		if (n < 0)
			n = 0;
		if ((size_t)n < sizeof(line)) {
			int m = vsnprintf(line + n, sizeof(line) - (size_t)n,
					  fmt, ap);
			if (m > 0)
				n += m;
		}
		if ((size_t)n >= sizeof(line) - 1)
			n = (int)sizeof(line) - 2;
		line[n++] = '\n';
		(void)!write(STDERR_FILENO, line, (size_t)n);
	} else {
		vsyslog(priority, fmt, ap);
	}
	va_end(ap);
}

char *log_sanitize(const char *in, size_t inlen, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		char esc[4];
		size_t n = 0;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
			esc[n++] = (char)c;
		} else if (c == '"' || c == '\\') {
			esc[n++] = '\\';
			esc[n++] = (char)c;
		} else {
			esc[n++] = '\\';
			esc[n++] = 'x';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 15];
		}
		if (o + n + 4 > outsz) { /* room for "..." and the NUL */
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(out + o, esc, n);
		o += n;
	}
	out[o] = '\0';
	return out;
}

char *log_file_names(const char *name, size_t namelen, const char *mapped,
		     char *out, size_t outsz)
{
	char a[LOG_NAME_MAX], b[LOG_NAME_MAX];

	log_sanitize(name, namelen, a, sizeof(a));
	if (mapped)
		snprintf(out, outsz, "\"%s\" -> \"%s\"", a,
			 log_sanitize(mapped, strlen(mapped), b, sizeof(b)));
	else
		snprintf(out, outsz, "\"%s\"", a);
	return out;
}
