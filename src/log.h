/* Logging: one place decides where a line goes (syslog, a file, standard
 * error) and whether the verbosity lets it through.  The destination is
 * chosen once at start-up, and never left to be nowhere: see ctftpd(8),
 * LOGGING. */
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
	LOG_V_PACKETS = 3,  /* + a line per packet sent or received, at most
			     * LOG_PACKET_RATE a second per transfer (debug) */
};

/* Per-packet lines (LOG_V_PACKETS): a transfer logs at most this many a
 * second on average, in bursts of up to LOG_PACKET_BURST (the negotiation
 * and the first blocks); the rest are counted and a line says how many
 * were suppressed. */
#define LOG_PACKET_RATE 50
#define LOG_PACKET_BURST 100

/* The file a daemon logs to when no syslog daemon listens and standard
 * error leads nowhere (under inetd, or detached from a pipe), rather than
 * losing its lines. */
#define LOG_FALLBACK_FILE "/var/log/ctftpd.log"

/* Where the lines go. */
enum log_dest {
	LOG_DEST_STDERR, /* standard error, one write(2) a line */
	LOG_DEST_SYSLOG, /* syslog(3), facility daemon */
	LOG_DEST_FILE,	 /* --log-file: appended, with a UTC timestamp */
};

/* Start logging, or switch where lines go.  to_stderr: write to standard
 * error; otherwise to syslog (connecting to it if not yet done). */
void log_open(const char *ident, int to_stderr, int verbosity);

/* Nonzero when a syslog daemon accepts connections on its socket
 * (/dev/log): a datagram or a stream connection is tried, as syslog(3)
 * does; errno says why not otherwise.  Nothing is kept open. */
int log_syslog_reachable(void);

/* The path of the syslog socket that log_syslog_reachable tries. */
const char *log_syslog_path(void);

/* Nonzero when standard error leads somewhere a person will read it: a
 * terminal, the systemd journal (JOURNAL_STREAM names it), a regular file,
 * or, unless detaching, a pipe (a supervisor's logger; a detached daemon
 * holding it would keep "$(ctftpd ...)" waiting forever).  Zero for
 * /dev/null, a socket (under inetd, the client's) or a closed
 * descriptor. */
int log_stderr_usable(int detaching);

/* Send every line to the file at path from now on: opened (created with
 * mode 0640) for appending, close-on-exec.  Call before chroot and the
 * privilege drop.  Returns 0, or -1 with errno (the destination is then
 * unchanged). */
int log_open_file(const char *path);

/* Also write every line to standard error (set) or stop (clear): a
 * standalone daemon's start-up lines reach the terminal as well until it
 * detaches. */
void log_echo_stderr(int on);

/* The destination lines go to now. */
enum log_dest log_destination(void);

/* Connect to syslog now (LOG_NDELAY), whatever the destination: before a
 * chroot hides /dev/log. */
void log_connect_syslog(void);

/* After chroot: nothing can be re-opened by its path any more (/dev/log,
 * the log file), so SIGHUP says so instead of pretending. */
void log_pin_syslog(void);

/* SIGHUP: re-open what can be re-opened, and log one line saying exactly
 * what was done: the log file by its path (for logrotate), the syslog
 * connection (for a restarted syslog daemon); not chrooted only. */
void log_reopen(void);

/* Log one line at a syslog priority (LOG_ERR .. LOG_DEBUG).  The message is
 * dropped when the verbosity does not admit the priority. */
void log_msg(int priority, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A per-packet line at LOG_DEBUG, written only at LOG_V_PACKETS and within
 * LOG_PACKET_RATE (per process: one transfer).  When lines were
 * suppressed, the next line written is preceded by one counting them. */
void log_packet(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The count of per-packet lines suppressed and not yet reported, as one
 * line (at the end of a transfer, before its summary).  Nothing when none
 * were. */
void log_packet_flush(void);

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
