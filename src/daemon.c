/* Process set-up for the three ways ctftpd runs: standalone (detach, pidfile),
 * under inetd (a socket on fd 0), under systemd (sockets from fd 3), and the
 * confinement common to all: chroot, then a drop to an unprivileged user.
 * POSIX calls, with the non-POSIX ones (setgroups, chroot) behind configure
 * checks. */
#include "autoconfig.h"

#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#if HAVE_SYS_PRCTL_H && HAVE_LINUX_CAPABILITY_H && HAVE_SYS_SYSCALL_H
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#if defined(PR_SET_KEEPCAPS) && defined(SYS_capset) && \
	defined(_LINUX_CAPABILITY_VERSION_3)
#define KEEP_BIND_CAP 1
#endif
#endif

#define SD_LISTEN_FDS_START 3

static int is_datagram_socket(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_DGRAM;
}

/* Parse a decimal environment value; -1 when absent or malformed. */
static long env_number(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || *v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno || *end ? -1 : n;
}

int daemon_inherited_sockets(int allow_inetd, int force_inetd, int *fds,
			     int max, const char **why)
{
	long pid = env_number("LISTEN_PID"), n = env_number("LISTEN_FDS");

	if (pid > 0 && pid == (long)getpid() && n > 0) {
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		if (n > max) {
			*why = "systemd passed more sockets than ctftpd takes";
			return -1;
		}
		for (int i = 0; i < n; i++) {
			fds[i] = SD_LISTEN_FDS_START + i;
			if (!is_datagram_socket(fds[i])) {
				*why = "a socket systemd passed is not a "
				       "datagram socket (ListenDatagram=)";
				return -1;
			}
		}
		return (int)n;
	}
	if (force_inetd || allow_inetd) {
		if (is_datagram_socket(STDIN_FILENO)) {
			fds[0] = STDIN_FILENO;
			return 1;
		}
		if (force_inetd) {
			*why = "--inetd: standard input is not a datagram socket";
			return -1;
		}
	}
	return 0;
}

void daemon_close_inherited(int lowfd)
{
#if HAVE_DECL_CLOSEFROM && !HAVE_DECL_CLOSE_RANGE
	closefrom(lowfd);
#else
#if HAVE_DECL_CLOSE_RANGE
	if (close_range((unsigned)lowfd, ~0u, 0) == 0)
		return;
#endif
	/* The portable way; also where close_range fails (an old kernel). */
	long max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > INT_MAX)
		max = 65536; /* unknown or unlimited: a generous bound */
	for (int fd = lowfd; fd < (int)max; fd++)
		(void)close(fd);
#endif
}

int daemon_standard_streams(void)
{
	for (;;) {
		int fd = open("/dev/null", O_RDWR);
		if (fd < 0)
			return -1;
		if (fd > STDERR_FILENO) {
			close(fd);
			return 0;
		}
	}
}

const char *daemon_default_user(void)
{
	return getpwnam("tftp") ? "tftp" : "nobody";
}

int daemon_detach(int devnull, int keep_stderr)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		return -1;
	/* A second fork: the session leader exits, so the daemon can never
	 * acquire a controlling terminal again. */
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid > 0)
		_exit(0);
	if (chdir("/") != 0)
		return -1;
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	if (!keep_stderr)
		dup2(devnull, STDERR_FILENO);
	if (devnull > STDERR_FILENO)
		close(devnull);
	return 0;
}

static int pidfile_lock(int fd, int cmd, struct flock *fl)
{
	memset(fl, 0, sizeof(*fl));
	fl->l_type = F_WRLCK;
	fl->l_whence = SEEK_SET;
	return fcntl(fd, cmd, fl);
}

int daemon_pidfile_open(const char *path, pid_t *holder)
{
	struct flock fl;
	int fd;

	*holder = 0;
	fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW, 0644);
	if (fd < 0)
		return -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
	    pidfile_lock(fd, F_GETLK, &fl) != 0) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	if (fl.l_type != F_UNLCK) {
		*holder = fl.l_pid;
		close(fd);
		errno = EAGAIN;
		return -1;
	}
	return fd;
}

int daemon_pidfile_claim(int fd)
{
	struct flock fl;
	char buf[32];
	int n;

	if (pidfile_lock(fd, F_SETLK, &fl) != 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return 0;
}

/* A name, or failing that a plain decimal id. */
static int numeric_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end ? -1 : 0;
}

int daemon_lookup_user(const char *user, const char *group, uid_t *uid,
		       gid_t *gid, const char **why)
{
	struct passwd *pw = user ? getpwnam(user) : NULL;
	unsigned long id;

	if (user && pw) {
		*uid = pw->pw_uid;
		*gid = pw->pw_gid;
	} else if (user && numeric_id(user, &id) == 0) {
		/* A numeric uid: its primary group if it has an entry. */
		struct passwd *byid = getpwuid((uid_t)id);
		*uid = (uid_t)id;
		*gid = byid ? byid->pw_gid : (gid_t)id;
	} else if (user) {
		*why = "no such user";
		return -1;
	}
	if (group) {
		struct group *gr = getgrnam(group);
		if (gr)
			*gid = gr->gr_gid;
		else if (numeric_id(group, &id) == 0)
			*gid = (gid_t)id;
		else {
			*why = "no such group";
			return -1;
		}
	}
	return 0;
}

int daemon_confine(const char *dir, int drop, uid_t uid, gid_t gid,
		   const char **why)
{
	if (dir) {
#ifdef HAVE_CHROOT
		if (chroot(dir) != 0 || chdir("/") != 0) {
			*why = strerror(errno);
			return -1;
		}
#else
		*why = "chroot is not available on this platform";
		return -1;
#endif
	}
	if (!drop)
		return 0;
#ifdef HAVE_SETGROUPS
	/* Supplementary groups first: root's (disk, adm...) must not
	 * survive the drop. */
	if (setgroups(1, &gid) != 0) {
		*why = "setgroups failed";
		return -1;
	}
#endif
	if (setgid(gid) != 0 || setuid(uid) != 0) {
		*why = strerror(errno);
		return -1;
	}
	/* Verify: the ids took, and root cannot be regained. */
	if (getuid() != uid || geteuid() != uid || getgid() != gid ||
	    getegid() != gid || (uid != 0 && setuid(0) == 0)) {
		*why = "the privilege drop did not take";
		return -1;
	}
	return 0;
}

#ifdef KEEP_BIND_CAP
int daemon_keep_bind_prepare(const char **why)
{
	/* Without it, setuid away from root clears the permitted set. */
	if (prctl(PR_SET_KEEPCAPS, 1L, 0L, 0L, 0L) != 0) {
		*why = strerror(errno);
		return -1;
	}
	return 0;
}

int daemon_keep_bind_finish(const char **why)
{
	/* Permitted and effective: CAP_NET_BIND_SERVICE alone; the rest
	 * (CAP_SETUID among them) is gone for good.  The raw system calls,
	 * as libcap is not ours to depend on.  A capability outside the
	 * bounding set (CapabilityBoundingSet=, docker --cap-drop) cannot be
	 * kept: then every capability is dropped and the caller goes on
	 * without it. */
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	const uint32_t bind = 1u << CAP_NET_BIND_SERVICE;
	int rc, have;

	memset(data, 0, sizeof(data));
	have = syscall(SYS_capget, &hdr, data) == 0 &&
	       (data[0].permitted & bind) != 0;
	memset(data, 0, sizeof(data));
	if (have)
		data[0].permitted = data[0].effective = bind;
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	rc = (int)syscall(SYS_capset, &hdr, data);
	(void)prctl(PR_SET_KEEPCAPS, 0L, 0L, 0L, 0L);
	if (rc != 0) {
		*why = strerror(errno);
		return -1;
	}
	if (!have) {
		*why = "not in the permitted set (the bounding set lacks it)";
		return 1;
	}
	return 0;
}
#else
int daemon_keep_bind_prepare(const char **why)
{
	*why = "keeping a capability across setuid is not supported here";
	return -1;
}

int daemon_keep_bind_finish(const char **why)
{
	*why = "keeping a capability across setuid is not supported here";
	return -1;
}
#endif
