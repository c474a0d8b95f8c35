/* Where the bytes of an upload (WRQ) go: a temporary file beside the target,
 * flushed and renamed over it once the last block is in, so the old file
 * stays whole until the new one is complete.  Where the directory is not
 * writable but the file is (tftpd-hpa's classic world-writable file in a
 * root-owned directory), a private unlinked staging file instead, copied
 * over the target in place at the end: the one case where a crash during
 * that final local copy can damage the file. */
#ifndef CTFTPD_SINK_H
#define CTFTPD_SINK_H

#include "netascii.h"
#include "packet.h"
#include "path.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct sink {
	int fd;			 /* the temporary (or staging) file */
	int dirfd;		 /* the target's directory */
	int target_fd;		 /* in place: the target, open for writing */
	char name[NAME_MAX + 1]; /* the target's name in dirfd */
	char tmpname[64];	 /* the temporary file in dirfd; "" when none */
	int exists;		 /* the target existed: st is its lstat */
	struct stat st;
	mode_t create_mode; /* a new file's mode */
	enum tftp_mode mode;
	struct netascii_decoder dec;
	uint64_t bytes;	    /* bytes written to the file (after netascii) */
	uint64_t max_bytes; /* larger uploads fail with EFBIG; 0: no limit */
	uint8_t conv[TFTP_BLKSIZE_MAX + 1]; /* netascii output */
};

/* The temporary file's name for the transfer process pid, in the target's
 * directory (buf: 64 bytes).  The listener removes it when that process
 * dies without doing so itself. */
void sink_temp_name(char *buf, long pid);

/* Start an upload to target (from path_open_write; the sink takes over its
 * dirfd) in mode.  New files get create_mode.  Returns 0, or -1 (errno;
 * the target is left as it was). */
int sink_open(struct sink *s, struct path_target *target, enum tftp_mode mode,
	      mode_t create_mode, uint64_t max_bytes);

/* Write one DATA payload.  Returns 0, or -1 with errno: ENOSPC or EDQUOT
 * (disk full: RFC 1350 ERROR 3), EFBIG (over max_bytes: ERROR 3), other. */
int sink_write(struct sink *s, const uint8_t *data, size_t len);

/* The last block is in: end netascii, flush the file to disk, give it the
 * replaced file's mode (and owner and group when running as root), and
 * rename it over the target (or copy it over in place).  Returns 0, or -1
 * (errno; the target is whole: old or new). */
int sink_commit(struct sink *s);

/* Release everything; an upload not committed leaves no temporary file and
 * the target untouched. */
void sink_close(struct sink *s);

/* The free space (bytes) of the target's file system, or UINT64_MAX when
 * unknown. */
uint64_t sink_free_space(const struct sink *s);

#endif
