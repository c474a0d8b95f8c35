/* Becoming a daemon: where the sockets come from (standalone, inetd,
 * systemd socket activation), detaching, the pidfile, chroot and dropping
 * privileges. */
#ifndef CTFTPD_DAEMON_H
#define CTFTPD_DAEMON_H

#include <sys/types.h>

/* Sockets handed over by a super-server, if any.  systemd socket activation:
 * LISTEN_PID names this process and LISTEN_FDS counts descriptors from 3
 * (sd_listen_fds(3) protocol, read without libsystemd); the variables are
 * then removed so children do not see them.  inetd: fd 0 is a datagram
 * socket (checked when force_inetd is set or mode is automatic).  Fills fds
 * (at most max) and returns how many; 0 when there are none (standalone);
 * -1 with *why set when the handed-over descriptors are unusable. */
int daemon_inherited_sockets(int allow_inetd, int force_inetd, int *fds,
			     int max, const char **why);

/* Close every descriptor from lowfd up: what the process that started us
 * left open (a terminal's extra files, a supervisor's pipes) must not reach
 * the transfers.  lowfd is 3 plus the number of sockets systemd passed
 * (LISTEN_FDS are 3, 4, ...); inetd's socket is fd 0.  close_range or
 * closefrom where configure found them, else close(2) up to
 * sysconf(_SC_OPEN_MAX).  Call before anything else is opened. */
void daemon_close_inherited(int lowfd);

/* Open /dev/null on each of the standard descriptors 0, 1 and 2 that is
 * closed, so that no file opened later (the log file) lands on one of
 * them and is then written to as standard error, or replaced by /dev/null
 * when detaching.  Call first thing.  Returns 0, or -1 with errno set. */
int daemon_standard_streams(void);

/* The user a daemon started as root runs as when --user is not given, as
 * tftpd-hpa's packaging does: "tftp" if the user database has it, else
 * "nobody". */
const char *daemon_default_user(void);

/* Detach: fork (the original process exits 0), start a new session, chdir
 * to "/" and point standard input, output and error at devnull, a
 * descriptor of /dev/null opened before any chroot (and closed here);
 * standard error stays when keep_stderr is set (it is the log).  Call
 * after the sockets are bound, so bind errors still reach the terminal.
 * Returns 0 in the daemon, or -1 (errno) on failure. */
int daemon_detach(int devnull, int keep_stderr);

/* Open (creating, mode 0644) the pidfile at path, failing if another process
 * holds its lock.  Call before detaching and before dropping privileges (the
 * file usually lives in a root-only directory).  Returns the descriptor, or
 * -1 with errno; EAGAIN means another live daemon holds it, and *holder is
 * then its pid (or 0 if unknown). */
int daemon_pidfile_open(const char *path, pid_t *holder);

/* In the process that will run the daemon (after detaching: fcntl locks do
 * not pass through fork): lock the pidfile and write getpid() into it.
 * Returns 0, or -1 with errno. */
int daemon_pidfile_claim(int fd);

/* The uid and gid to run as, resolved from names (a numeric uid or gid is
 * accepted too).  Done before chroot, where the user database is out of
 * reach.  Returns 0, or -1 with *why set. */
int daemon_lookup_user(const char *user, const char *group, uid_t *uid,
		       gid_t *gid, const char **why);

/* Confine and drop: chroot into dir when dir is not NULL (then chdir "/"),
 * then, when drop is set, set the supplementary groups to gid alone (where
 * setgroups exists), the gid and the uid, and check that root cannot be
 * regained.  Returns 0, or -1 with *why set: the caller must not go on to
 * serve (a failed drop must never leave transfers running as root). */
int daemon_confine(const char *dir, int drop, uid_t uid, gid_t gid,
		   const char **why);

/* Linux: after a drop from root, keep CAP_NET_BIND_SERVICE (and no other
 * capability), so that --single-port's transfer sockets can bind a port
 * below 1024.  Call daemon_keep_bind_prepare before daemon_confine and
 * daemon_keep_bind_finish after it.  Both return 0, or -1 with *why set
 * where the platform cannot (then --single-port's start-up check refuses
 * a privileged port, as without it); after a failed finish the process may
 * still hold root's capabilities and must not serve.  finish returns 1,
 * with *why set and every capability dropped, when the capability was not
 * there to keep. */
int daemon_keep_bind_prepare(const char **why);
int daemon_keep_bind_finish(const char **why);

#endif
