/* Confinement of requested names under the root.  Normalisation is pure;
 * opening checks the resolved path and the opened file against each other,
 * so a symlink swapped in between cannot lead outside the root. */
#include "autoconfig.h"

#include "path.h"
#include "packet.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Nonzero when s (slen bytes) begins with directory dir followed by '/'. */
static int starts_with_dir(const char *s, size_t slen, const char *dir)
{
	size_t dlen = strlen(dir);

	while (dlen > 0 && dir[dlen - 1] == '/')
		dlen--;
	return dlen > 0 && slen > dlen && memcmp(s, dir, dlen) == 0 &&
	       s[dlen] == '/';
}

enum path_result path_normalize(const char *root, const char *name,
				size_t namelen, char *out, size_t outsz)
{
	size_t i = 0, o = 0;

	if (outsz == 0)
		return PATH_TOO_LONG;
	if (memchr(name, '\0', namelen))
		return PATH_BAD_BYTE;
	if (root && starts_with_dir(name, namelen, root)) {
		size_t dlen = strlen(root);
		while (dlen > 0 && root[dlen - 1] == '/')
			dlen--;
		i = dlen;
	}
	while (i < namelen) {
		size_t start, len;

		while (i < namelen && name[i] == '/')
			i++;
		start = i;
		while (i < namelen && name[i] != '/')
			i++;
		len = i - start;
		if (len == 0 || (len == 1 && name[start] == '.'))
			continue;
		if (len == 2 && name[start] == '.' && name[start + 1] == '.')
			return PATH_TRAVERSAL;
		if (o + (o > 0) + len + 1 > outsz)
			return PATH_TOO_LONG;
		if (o > 0)
			out[o++] = '/';
		memcpy(out + o, name + start, len);
		o += len;
	}
	out[o] = '\0';
	return o == 0 ? PATH_EMPTY : PATH_OK;
}

const char *path_result_message(enum path_result r)
{
	switch (r) {
	case PATH_OK:
		return "ok";
	case PATH_EMPTY:
		return "empty file name";
	case PATH_TRAVERSAL:
		return "\"..\" is not allowed in file names";
	case PATH_TOO_LONG:
		return "file name too long";
	default:
		return "invalid file name";
	}
}

/* Nonzero when the canonical path real lies inside the canonical root. */
static int inside_root(const char *root, const char *real)
{
	size_t rlen = strlen(root);

	if (rlen == 1 && root[0] == '/')
		return real[0] == '/' && real[1] != '\0';
	return strncmp(real, root, rlen) == 0 && real[rlen] == '/';
}

static int refuse(int code, const char *reason, int *tftp_error,
		  const char **why)
{
	*tftp_error = code;
	*why = reason;
	return -1;
}

/* A failed open: a missing file is ERROR 1; running out of descriptors is
 * the server's trouble, not the client's, ERROR 0; anything else ERROR 2
 * with reason. */
static int open_refused(int err, const char *reason, int *tftp_error,
			const char **why)
{
	if (err == ENOENT)
		return refuse(TFTP_ENOTFOUND, "no such file", tftp_error, why);
	if (err == EMFILE || err == ENFILE)
		return refuse(TFTP_EUNDEF, "out of file descriptors",
			      tftp_error, why);
	return refuse(TFTP_EACCESS, reason, tftp_error, why);
}

/* Walk to the directory holding the last component of real (canonical,
 * inside root) one component at a time from the root, refusing symlinks on
 * the way: realpath() has already resolved them all, so a symlink found now
 * was swapped in since, and could lead anywhere.  Holding each directory
 * open pins the path.  Returns the directory's descriptor with the last
 * component's name in comp (NAME_MAX + 1 bytes), or -1 after refuse(). */
static int walk_beneath(const char *root, const char *real, char *comp,
			int *tftp_error, const char **why)
{
	const char *p = real + (strcmp(root, "/") == 0 ? 1 : strlen(root) + 1);
	int dirfd, fd;

	dirfd = open(root, O_RDONLY | O_DIRECTORY);
	if (dirfd < 0)
		return open_refused(errno == ENOENT ? EACCES : errno,
				    "cannot open the root", tftp_error, why);
	for (;;) {
		size_t len = strcspn(p, "/");
		if (len == 0 || len > NAME_MAX) {
			close(dirfd);
			return refuse(TFTP_ENOTFOUND, "no such file",
				      tftp_error, why);
		}
		memcpy(comp, p, len);
		comp[len] = '\0';
		p += len;
		if (*p == '\0')
			return dirfd;
		p++;
		fd = openat(dirfd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0) {
			int err = errno;
			close(dirfd);
			return open_refused(err, "path changed while opening",
					    tftp_error, why);
		}
		close(dirfd);
		dirfd = fd;
	}
}

/* Open the regular file at real (canonical, inside root) for reading. */
static int open_beneath(const char *root, const char *real, int permissive,
			struct stat *st, int *tftp_error, const char **why)
{
	char comp[NAME_MAX + 1];
	struct stat lst;
	int dirfd, fd;

	dirfd = walk_beneath(root, real, comp, tftp_error, why);
	if (dirfd < 0)
		return -1;
	/* Check the type before opening: a device is never opened. */
	if (fstatat(dirfd, comp, &lst, AT_SYMLINK_NOFOLLOW) != 0) {
		close(dirfd);
		return refuse(TFTP_ENOTFOUND, "no such file", tftp_error, why);
	}
	if (!S_ISREG(lst.st_mode)) {
		close(dirfd);
		return refuse(TFTP_EACCESS,
			      S_ISDIR(lst.st_mode) ? "is a directory"
			      : S_ISLNK(lst.st_mode)
				      ? "path changed while opening"
				      : "not a regular file",
			      tftp_error, why);
	}
	if (!permissive && !(lst.st_mode & S_IROTH)) {
		close(dirfd);
		return refuse(TFTP_EACCESS, "not world-readable", tftp_error,
			      why);
	}
	/* O_NONBLOCK: should a FIFO be swapped in after the fstatat, open must
	 * not wait for a writer; the fstat below then refuses it. */
	fd = openat(dirfd, comp, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
	if (fd < 0) {
		int err = errno;
		close(dirfd);
		return open_refused(err, strerror(err), tftp_error, why);
	}
	close(dirfd);
	if (fstat(fd, st) != 0 || st->st_dev != lst.st_dev ||
	    st->st_ino != lst.st_ino || !S_ISREG(st->st_mode)) {
		close(fd);
		return refuse(TFTP_EACCESS, "file changed while opening",
			      tftp_error, why);
	}
	/* Reads are plain blocking reads from here on.  Of the flags
	 * F_SETFL changes, O_NONBLOCK is the only one set at the open: 0
	 * clears it without an F_GETFL first. */
	fcntl(fd, F_SETFL, 0);
	return fd;
}

/* ROOT/rel into full (PATH_MAX bytes).  Returns 0, or -1 after refuse(). */
static int full_path(const char *root, const char *rel, char *full,
		     int *tftp_error, const char **why)
{
	int n = snprintf(full, PATH_MAX, "%s/%s",
			 strcmp(root, "/") == 0 ? "" : root, rel);

	if (n < 0 || n >= PATH_MAX)
		return refuse(TFTP_ENOTFOUND, "file name too long", tftp_error,
			      why);
	return 0;
}

int path_open_read(const char *root, const char *rel, int permissive,
		   struct stat *st, int *tftp_error, const char **why)
{
	char full[PATH_MAX], real[PATH_MAX];

	int fd;

	if (full_path(root, rel, full, tftp_error, why) != 0)
		return -1;
	/* Most names hold no symlink: rel is normalised and root canonical,
	 * so such a name is its own canonical path, and open_beneath (which
	 * refuses any symlink on the way) opens it without realpath's
	 * readlink of every component, root included.  Any refusal there,
	 * a symlink to follow among them, is decided again below. */
	fd = open_beneath(root, full, permissive, st, tftp_error, why);
	if (fd >= 0)
		return fd;
	/* Resolve symlinks first, so one that stays inside the root works and
	 * one that leaves it is refused by where it leads. */
	if (!realpath(full, real)) {
		if (errno == EACCES)
			return refuse(TFTP_EACCESS, "permission denied",
				      tftp_error, why);
		return refuse(TFTP_ENOTFOUND, "no such file", tftp_error, why);
	}
	if (!inside_root(root, real))
		return refuse(TFTP_EACCESS, "resolves outside the root",
			      tftp_error, why);
	return open_beneath(root, real, permissive, st, tftp_error, why);
}

int path_parent_dir(const char *root, const char *rel, char *name,
		    int *tftp_error, const char **why)
{
	char full[PATH_MAX], real[PATH_MAX], dir[PATH_MAX], *slash;
	size_t rl;

	if (full_path(root, rel, full, tftp_error, why) != 0)
		return -1;
	/* An existing file (or a symlink to one) resolves as for a read. */
	if (realpath(full, real)) {
		if (!inside_root(root, real))
			return refuse(TFTP_EACCESS, "resolves outside the root",
				      tftp_error, why);
		return walk_beneath(root, real, name, tftp_error, why);
	}
	if (errno != ENOENT)
		return refuse(errno == EACCES ? TFTP_EACCESS : TFTP_ENOTFOUND,
			      errno == EACCES ? "permission denied"
					      : "no such file",
			      tftp_error, why);
	/* A new name: its directory must exist inside the root (or be the
	 * root); the name is then walked to like any other. */
	slash = strrchr(full, '/');
	memcpy(dir, full, (size_t)(slash - full));
	dir[slash - full] = '\0';
	if (!realpath(dir[0] ? dir : "/", real))
		return refuse(TFTP_ENOTFOUND, "no such directory", tftp_error,
			      why);
	if (strcmp(real, root) != 0 && !inside_root(root, real))
		return refuse(TFTP_EACCESS, "resolves outside the root",
			      tftp_error, why);
	rl = strlen(real);
	if (rl + strlen(slash) >= sizeof(real))
		return refuse(TFTP_ENOTFOUND, "file name too long", tftp_error,
			      why);
	if (rl == 1) /* the root "/": no second slash */
		rl = 0;
	memcpy(real + rl, slash, strlen(slash) + 1);
	return walk_beneath(root, real, name, tftp_error, why);
}

int path_open_write(const char *root, const char *rel, int permissive,
		    int create, struct path_target *target, int *tftp_error,
		    const char **why)
{
	const char *no = NULL;
	int dirfd;

	target->exists = 0;
	target->dirfd = dirfd =
		path_parent_dir(root, rel, target->name, tftp_error, why);
	if (dirfd < 0)
		return -1;
	if (fstatat(dirfd, target->name, &target->st, AT_SYMLINK_NOFOLLOW) ==
	    0) {
		target->exists = 1;
		if (!S_ISREG(target->st.st_mode))
			no = S_ISLNK(target->st.st_mode)
				     ? "a symbolic link that leads nowhere"
				     : "not a regular file";
		/* tftpd-hpa's rule: only files anyone may write, unless
		 * --permissive leaves it to the server user's rights. */
		else if (!permissive && !(target->st.st_mode & S_IWOTH))
			no = "not world-writable";
		else if (permissive &&
			 faccessat(dirfd, target->name, W_OK, AT_EACCESS) != 0)
			no = "not writable by the server";
	} else if (errno != ENOENT) {
		no = "cannot look at the file";
	} else if (!create) {
		close(dirfd);
		target->dirfd = -1;
		return refuse(TFTP_ENOTFOUND, "no such file (and no --create)",
			      tftp_error, why);
	}
	if (no) {
		close(dirfd);
		target->dirfd = -1;
		return refuse(TFTP_EACCESS, no, tftp_error, why);
	}
	return 0;
}
