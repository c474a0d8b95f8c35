/* Logging: syslog for a daemon, stderr in the foreground.  One place decides
 * where a line goes and whether the verbosity lets it through. */
#ifndef CTFTPD_LOG_H
#define CTFTPD_LOG_H

#include <stddef.h>
#include <syslog.h>

/* Verbosity levels (--verbose): each admits the syslog priorities above it. */
enum log_verbosity {
	LOG_V_QUIET = 0, /* errors, warnings, start and stop (notice) */
	LOG_V_TRANSFERS =
		1,	    /* + a summary line per transfer, refusals (info) */
	LOG_V_REQUESTS = 2, /* + each request as it is decided (debug) */
	LOG_V_PACKETS = 3,  /* + per-packet debugging */
};

/* Start logging, or switch where lines go.  to_stderr: write to standard
 * error instead of syslog (connecting to syslog if not yet done). */
void log_open(const char *ident, int to_stderr, int verbosity);

/* Connect to syslog now (LOG_NDELAY), whatever the destination: before a
 * chroot hides /dev/log. */
void log_connect_syslog(void);

/* After chroot: keep the syslog connection for good; SIGHUP no longer
 * re-opens it (it could not reconnect). */
void log_pin_syslog(void);

/* Re-open the syslog connection (SIGHUP), for a restarted syslog daemon. */
void log_reopen(void);

/* Log one line at a syslog priority (LOG_ERR .. LOG_DEBUG).  The message is
 * dropped when the verbosity does not admit the priority. */
void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Nonzero when a message of this priority would be written: lets callers skip
 * formatting work on the hot path. */
int log_enabled(int priority);

/* The current verbosity (enum log_verbosity). */
int log_level(void);

/* Copy an untrusted string (a file name from a packet) into out (outsz bytes,
 * outsz >= 4) so it is safe to print: bytes outside printable ASCII, quotes
 * and backslashes become \xHH or \", and a string too long is cut with "...".
 * Always NUL-terminates.  Returns out. */
char *log_sanitize(const char *in, size_t inlen, char *out, size_t outsz);

/* Room for one sanitised file name in a log line, and for the pair
 * log_file_names writes (bytes, with the NUL). */
#define LOG_NAME_MAX 256
#define LOG_FILE_NAMES_MAX (2 * LOG_NAME_MAX + 8)

/* A requested file name (namelen bytes) as log lines show it, quoted and
 * sanitised: "NAME", or "NAME" -> "MAPPED" when the remap rules rewrote it
 * (mapped: NUL-terminated, or NULL).  out: outsz bytes, at least
 * LOG_FILE_NAMES_MAX for the whole of both.  Returns out. */
char *log_file_names(const char *name, size_t namelen, const char *mapped,
		     char *out, size_t outsz);

#endif
