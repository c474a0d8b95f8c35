/* Logging to syslog, a file or standard error, filtered by verbosity; the
 * per-packet lines of --verbose=3 rate-limited per transfer. */
#include "autoconfig.h"

#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#ifdef HAVE_PATHS_H
#include <paths.h>
#endif

#include "ratelimit.h"

/* Where syslog(3) sends lines: /dev/log on Linux, /var/run/log on the BSDs. */
#ifdef _PATH_LOG
#define LOG_SYSLOG_PATH _PATH_LOG
#else
#define LOG_SYSLOG_PATH "/dev/log"
#endif

static enum log_dest log_dest = LOG_DEST_STDERR;
static int log_verbosity = LOG_V_TRANSFERS;
static const char *log_ident = "ctftpd";
static int log_echo; /* also to standard error (before detaching) */

static int syslog_connected;
static int log_pinned;	     /* chrooted: nothing re-opens by path */
static int log_fd = -1;	     /* LOG_DEST_FILE's descriptor */
static const char *log_path; /* and its path, for SIGHUP */

/* Per-packet lines of this process (one transfer). */
static struct ratelimit_bucket packet_bucket;
static unsigned long packet_suppressed;

void log_open(const char *ident, int to_stderr, int verbosity)
{
	log_ident = ident;
	log_verbosity = verbosity;
	if (log_dest == LOG_DEST_FILE)
		return; /* --log-file wins over both */
	log_dest = to_stderr ? LOG_DEST_STDERR : LOG_DEST_SYSLOG;
	if (!to_stderr)
		log_connect_syslog();
}

static int syslog_try(int type)
{
	struct sockaddr_un sun;
	int fd, ok, saved;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", LOG_SYSLOG_PATH);
	fd = socket(AF_UNIX, type, 0);
	if (fd < 0)
		return 0;
	ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	saved = errno;
	close(fd);
	errno = saved;
	return ok;
}

int log_syslog_reachable(void)
{
	int saved;

	if (syslog_try(SOCK_DGRAM))
		return 1;
	saved = errno;
	if (syslog_try(SOCK_STREAM))
		return 1;
	errno = saved; /* the datagram attempt's reason, usually ENOENT */
	return 0;
}

const char *log_syslog_path(void)
{
	return LOG_SYSLOG_PATH;
}

int log_stderr_usable(int detaching)
{
	struct stat st;
	const char *js = getenv("JOURNAL_STREAM");

	if (fstat(STDERR_FILENO, &st) != 0)
		return 0;
	if (js) {
		/* "DEVICE:INODE" of the journal's stream, when standard
		 * error is still it (systemd.exec(5)). */
		unsigned long long dev, ino;
		if (sscanf(js, "%llu:%llu", &dev, &ino) == 2 &&
		    dev == (unsigned long long)st.st_dev &&
		    ino == (unsigned long long)st.st_ino)
			return 1;
	}
	return isatty(STDERR_FILENO) || S_ISREG(st.st_mode) ||
	       (S_ISFIFO(st.st_mode) && !detaching);
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0640);

	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	log_fd = fd;
	log_path = path;
	log_dest = LOG_DEST_FILE;
	return 0;
}

void log_echo_stderr(int on)
{
	log_echo = on;
}

enum log_dest log_destination(void)
{
	return log_dest;
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
	log_pinned = 1;
}

/* SIGHUP on a log file: open the path again (logrotate moved the old file
 * away) onto the same descriptor number, so transfers started later
 * inherit the new file. */
static void reopen_file(void)
{
	int fd;

	if (log_pinned) {
		log_msg(LOG_NOTICE,
			"log file %s not re-opened: its path is out of reach "
			"in the chroot (--secure); still writing to the file "
			"opened at start-up",
			log_path);
		return;
	}
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_NOCTTY, 0640);
	if (fd < 0 || dup2(fd, log_fd) < 0) {
		log_msg(LOG_ERR,
			"log file %s not re-opened: %s; still writing to the "
			"file opened before",
			log_path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return;
	}
	close(fd);
	log_msg(LOG_NOTICE, "log file %s re-opened", log_path);
}

void log_reopen(void)
{
	switch (log_dest) {
	case LOG_DEST_FILE:
		reopen_file();
		break;
	case LOG_DEST_SYSLOG:
		if (log_pinned) {
			log_msg(LOG_NOTICE,
				"syslog connection kept, not re-opened: "
				"%s is out of reach in the chroot (--secure)",
				LOG_SYSLOG_PATH);
			break;
		}
		closelog();
		syslog_connected = 0;
		log_connect_syslog();
		log_msg(LOG_NOTICE, "syslog connection re-opened");
		break;
	case LOG_DEST_STDERR:
		log_msg(LOG_NOTICE,
			"logging to standard error: nothing to re-open");
		break;
	}
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

/* One line "[TIME ]IDENT[PID]: PRIORITY: MESSAGE\n" written with one
 * write(2), so lines from concurrent children do not interleave mid-line
 * (O_APPEND makes each write land at the end of a file).  The time, in
 * UTC (a chroot hides the zone files), only for a file: syslog and the
 * journal stamp lines themselves. */
static void write_line(int fd, int stamp, int priority, const char *fmt,
		       va_list ap) __attribute__((format(printf, 4, 0)));

static void write_line(int fd, int stamp, int priority, const char *fmt,
		       va_list ap)
{
	char line[1024];
	size_t n = 0;
	int m;

	if (stamp) {
		struct timespec now;
		struct tm tm;
		clock_gettime(CLOCK_REALTIME, &now);
		if (gmtime_r(&now.tv_sec, &tm))
			n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S",
				     &tm);
		m = snprintf(line + n, sizeof(line) - n, ".%03ldZ ",
			     now.tv_nsec / 1000000);
		if (m > 0)
			n += (size_t)m;
	}
	m = snprintf(line + n, sizeof(line) - n, "%s[%ld]: %s: ", log_ident,
		     (long)getpid(), priority_name(priority));
	if (m > 0)
		n += (size_t)m;
	if (n < sizeof(line)) {
		m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
		if (m > 0)
			n += (size_t)m;
	}
	if (n >= sizeof(line) - 1)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	(void)!write(fd, line, n);
}

static void vlog(int priority, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void vlog(int priority, const char *fmt, va_list ap)
{
	va_list again;

	if (log_echo && log_dest != LOG_DEST_STDERR) {
		va_copy(again, ap);
		write_line(STDERR_FILENO, 0, priority, fmt, again);
		va_end(again);
	}
	switch (log_dest) {
	case LOG_DEST_STDERR:
		write_line(STDERR_FILENO, 0, priority, fmt, ap);
		break;
	case LOG_DEST_FILE:
		write_line(log_fd, 1, priority, fmt, ap);
		break;
	case LOG_DEST_SYSLOG:
		vsyslog(priority, fmt, ap);
		break;
	}
}

void log_msg(int priority, const char *fmt, ...)
{
	va_list ap;

	if (!log_enabled(priority))
		return;
	va_start(ap, fmt);
	vlog(priority, fmt, ap);
	va_end(ap);
}

void log_packet_flush(void)
{
	if (packet_suppressed == 0)
		return;
	log_msg(LOG_DEBUG,
		"%lu per-packet lines suppressed (at most %d a "
		"second per transfer)",
		packet_suppressed, LOG_PACKET_RATE);
	packet_suppressed = 0;
}

void log_packet(const char *fmt, ...)
{
	struct timespec now;
	va_list ap;

	if (log_verbosity < LOG_V_PACKETS)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!ratelimit_take(&packet_bucket, LOG_PACKET_RATE, LOG_PACKET_BURST,
			    (int64_t)now.tv_sec * 1000 +
				    now.tv_nsec / 1000000)) {
		packet_suppressed++;
		return;
	}
	log_packet_flush();
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap);
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
