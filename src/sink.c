/* The write side of a transfer: temporary file, netascii decoding, flush,
 * rename (or the in-place copy), and removal on any early end. */
#include "autoconfig.h"

#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

void sink_temp_name(char *buf, long pid)
{
	snprintf(buf, 64, ".ctftpd-upload-%ld", pid);
}

/* A staging file nobody else can reach: created in the temporary directory
 * and unlinked at once. */
static int private_file(void)
{
	const char *dir = getenv("TMPDIR");
	char path[PATH_MAX];
	int fd;

	if (!dir || !*dir)
		dir = P_tmpdir;
	if (snprintf(path, sizeof(path), "%s/ctftpd-upload-XXXXXX", dir) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = mkstemp(path);
	if (fd >= 0)
		unlink(path);
	return fd;
}

int sink_open(struct sink *s, struct path_target *target, enum tftp_mode mode,
	      mode_t create_mode, uint64_t max_bytes)
{
	int saved;

	memset(s, 0, offsetof(struct sink, conv));
	s->fd = s->target_fd = -1;
	s->dirfd = target->dirfd;
	target->dirfd = -1;
	memcpy(s->name, target->name, sizeof(s->name));
	s->exists = target->exists;
	s->st = target->st;
	s->create_mode = create_mode;
	s->mode = mode;
	s->max_bytes = max_bytes;
	netascii_decoder_init(&s->dec);
	sink_temp_name(s->tmpname, (long)getpid());
	/* A leftover of a process with our pid that died: not ours to keep. */
	(void)unlinkat(s->dirfd, s->tmpname, 0);
	s->fd = openat(s->dirfd, s->tmpname,
		       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		       0600);
	if (s->fd >= 0)
		return 0;
	saved = errno;
	s->tmpname[0] = '\0';
	if ((saved == EACCES || saved == EPERM) && s->exists) {
		/* The directory is closed to us, the file is not. */
		s->target_fd = openat(s->dirfd, s->name,
				      O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
		if (s->target_fd >= 0 && (s->fd = private_file()) >= 0)
			return 0;
		saved = errno;
	}
	sink_close(s);
	errno = saved;
	return -1;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int put(struct sink *s, const uint8_t *buf, size_t len)
{
	if (s->max_bytes && s->bytes + len > s->max_bytes) {
		errno = EFBIG;
		return -1;
	}
	if (write_all(s->fd, buf, len) != 0)
		return -1;
	s->bytes += len;
	return 0;
}

int sink_write(struct sink *s, const uint8_t *data, size_t len)
{
	if (s->mode != TFTP_MODE_NETASCII)
		return put(s, data, len);
	return put(s, s->conv, netascii_decode(&s->dec, data, len, s->conv));
}

/* In place: the staged bytes over the target, then its new length. */
static int copy_over(struct sink *s)
{
	uint8_t buf[65536];
	ssize_t n;

	if (lseek(s->fd, 0, SEEK_SET) != 0 ||
	    lseek(s->target_fd, 0, SEEK_SET) != 0)
		return -1;
	while ((n = read(s->fd, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (write_all(s->target_fd, buf, (size_t)n) != 0)
			return -1;
	}
	if (ftruncate(s->target_fd, (off_t)s->bytes) != 0)
		return -1;
	return fsync(s->target_fd);
}

int sink_commit(struct sink *s)
{
	uint8_t cr[1];

	if (s->mode == TFTP_MODE_NETASCII &&
	    put(s, cr, netascii_decode_finish(&s->dec, cr)) != 0)
		return -1;
	if (s->target_fd >= 0)
		return copy_over(s);
	if (fsync(s->fd) != 0)
		return -1;
	/* The replaced file's mode and (as root) owner carry over; a new
	 * file gets 0666 less the umask, as tftpd-hpa does. */
	if (fchmod(s->fd, s->exists ? s->st.st_mode & 07777 : s->create_mode) !=
	    0)
		return -1;
	if (s->exists && geteuid() == 0 &&
	    fchown(s->fd, s->st.st_uid, s->st.st_gid) != 0)
		return -1;
	if (renameat(s->dirfd, s->tmpname, s->dirfd, s->name) != 0)
		return -1;
	s->tmpname[0] = '\0';
	/* The rename itself on disk: best effort, the data is already. */
	(void)fsync(s->dirfd);
	return 0;
}

uint64_t sink_free_space(const struct sink *s)
{
	struct statvfs v;

	if (fstatvfs(s->fd, &v) != 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
}

void sink_close(struct sink *s)
{
	if (s->tmpname[0] && s->dirfd >= 0)
		(void)unlinkat(s->dirfd, s->tmpname, 0);
	s->tmpname[0] = '\0';
	if (s->fd >= 0)
		close(s->fd);
	if (s->target_fd >= 0)
		close(s->target_fd);
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->fd = s->target_fd = s->dirfd = -1;
}
