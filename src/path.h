/* File name policy: turn a requested name into a path under the root, and
 * open it only if it really is a readable regular file inside the root. */
#ifndef CTFTPD_PATH_H
#define CTFTPD_PATH_H

#include <limits.h>
#include <stddef.h>
#include <sys/stat.h>

enum path_result {
	PATH_OK = 0,
	PATH_EMPTY, /* empty name, or a name that is only slashes and dots */
	PATH_TRAVERSAL, /* a ".." component */
	PATH_TOO_LONG,	/* does not fit the output buffer */
	PATH_BAD_BYTE,	/* a NUL inside the name (cannot happen from packets) */
};

/* Normalise a requested file name (namelen bytes) into a path relative to
 * the root, written to out (outsz bytes, NUL-terminated).  Pure.
 *  - a leading "/" is relative to the root ("/boot/x" is ROOT/boot/x);
 *  - a name that starts with the root's own absolute path (root, without a
 *    trailing slash) followed by "/" has it removed, so PXE configs written
 *    for other servers work;
 *  - empty and "." components are dropped, ".." is refused (never resolved);
 *  - backslashes are ordinary bytes.
 * Returns PATH_OK or the reason for refusal. */
enum path_result path_normalize(const char *root, const char *name,
				size_t namelen, char *out, size_t outsz);

/* Human-readable reason for a path_result, for logs and ERROR packets. */
const char *path_result_message(enum path_result r);

/* Open ROOT/rel for reading (rel from path_normalize; root absolute and
 * canonical, as realpath(3) returns it).  Refuses, without opening it, a
 * path whose symlinks resolve outside the root, anything but a regular file
 * (no hang on a FIFO, no device opened), and a file without the
 * world-readable bit unless permissive.  Returns an open descriptor and fills
 * *st, or -1 with *tftp_error set to the TFTP error code (1 or 2; 0 when
 * the process is out of file descriptors) and *why to a static reason. */
int path_open_read(const char *root, const char *rel, int permissive,
		   struct stat *st, int *tftp_error, const char **why);

/* Where a WRQ may write ROOT/rel (tftpd-hpa's rules).  An existing file
 * must resolve inside the root, be a regular file, and be world-writable
 * (with permissive: writable by the server's user); a missing one may be
 * created only with create, in a directory inside the root.  Nothing is
 * opened for writing here: the caller writes beside the file and renames.
 * Returns 0 with *target filled (dirfd open: the caller closes it), or -1
 * with *tftp_error (1 or 2) and *why set. */
struct path_target {
	int dirfd;		 /* the directory that holds the file */
	char name[NAME_MAX + 1]; /* the file's name in it */
	int exists;		 /* the file exists: st is its lstat */
	struct stat st;
};

int path_open_write(const char *root, const char *rel, int permissive,
		    int create, struct path_target *target, int *tftp_error,
		    const char **why);

/* The directory that holds ROOT/rel, or would hold it when it does not
 * exist yet (symlinks resolved, inside the root, walked to without
 * following a link swapped in meanwhile), with the file's name in that
 * directory written to name (NAME_MAX + 1 bytes).  Returns its descriptor,
 * or -1 with *tftp_error and *why set. */
int path_parent_dir(const char *root, const char *rel, char *name,
		    int *tftp_error, const char **why);

#endif
