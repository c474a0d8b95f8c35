/* Where the bytes of each DATA block of a read come from: the shared cache
 * (as iovecs into it, no copy), a read-only mapping of the file (iovecs,
 * see source_map), the file, or the netascii encoder (RFC 1350 section 5)
 * fed by the cache or the file.  One source per transfer, read front to
 * back. */
#ifndef CTFTPD_SOURCE_H
#define CTFTPD_SOURCE_H

#include "cache.h"
#include "netascii.h"
#include "packet.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

struct source {
	int fd; /* the open file, owned by the source */
	enum tftp_mode mode;
	int cached; /* the bytes come from ref, not from fd */
	struct cache_ref ref;
	const uint8_t *map; /* the file mapped read-only (NULL: read from fd);
			     * only the kernel touches it, see source_map */
	uint64_t offset;    /* next byte of the file to take */
	struct stat st;	    /* the file when opened: its size is the end */
	int end_checked;    /* the file was found unchanged at its end */
	int changed;	    /* the file changed size or was rewritten */
	uint64_t netascii_size; /* what source_size counted (0: not asked) */
	uint64_t produced;	/* bytes of DATA payload made so far */
	struct netascii_encoder enc;
	int eof;
	size_t stage_pos, stage_len; /* netascii input not yet converted */
	uint8_t stage[8192];
};

/* Start reading fd (an open regular file; the source closes it) in mode;
 * st is its fstat, taken when it was opened. */
void source_init(struct source *s, int fd, enum tftp_mode mode,
		 const struct stat *st);

/* Take the file from the shared cache (NULL: none) when it holds it, or
 * put it there now when it can (rel is the cache key, st the fstat of fd).
 * Returns the word for the summary line: "hit", "fill", "miss" or "off". */
const char *source_use_cache(struct source *s, struct cache *cache,
			     const char *rel, const struct stat *st);

/* The smallest file (bytes) source_map maps: below it, a read per block
 * costs less than mapping and unmapping the file. */
#define SOURCE_MAP_MIN ((uint64_t)64 << 10)

/* Serve an octet-mode file that the cache does not hold from a read-only
 * shared mapping of it, when it is at least SOURCE_MAP_MIN bytes: the DATA
 * payloads are then iovecs into the page cache, copied once, by the kernel,
 * into the datagram (no read into a buffer first).  This process never
 * reads the mapping itself: were the file cut short under the transfer, a
 * send from pages past its new end fails with EFAULT (the file changed)
 * instead of raising SIGBUS.  Does nothing when the mapping fails (the
 * file is then read).  The transfer maps only for windowsize > 1
 * (transfer.c).  Returns 1 when mapped, 0 otherwise. */
int source_map(struct source *s);

/* Before a resend of a payload that source_next gave as an iovec into the
 * mapping: copy it into buf from the file (*niov becomes 0) and make sure
 * the file still has the size and modification time it had when opened,
 * so that a resend carries the bytes first sent or none (a resend reading
 * the mapping again would carry whatever was written since, even after the
 * end check).  Payloads in the cache or in buf are left as they are.
 * Returns 0, or -1 (errno; source_changed says whether the file changed). */
int source_pin(struct source *s, struct iovec iov[2], int *niov, uint8_t *buf);

/* The largest file (bytes) whose netascii size is counted for tsize: the
 * count reads the whole file, and a request of a few bytes must not cost
 * more than this much reading. */
#define SOURCE_NETASCII_TSIZE_MAX ((uint64_t)4 << 20)

/* The RFC 2349 tsize of the transfer in bytes: the file's size, or for
 * netascii the converted size (one pass over the file or its cache entry,
 * then rewound), for files up to SOURCE_NETASCII_TSIZE_MAX bytes.  Returns
 * 0; 1 when a netascii file is larger (tsize is then left out of the OACK,
 * as RFC 2347 lets a server do); -1 on a read error. */
int source_size(struct source *s, const struct stat *st, uint64_t *size);

/* The payload of the next block, at most len bytes: as up to two iovecs
 * into the cache or the mapping (*niov set, nothing copied) when the file
 * is cached or mapped in octet mode, otherwise copied into buf (*niov =
 * 0).  A result shorter than
 * len marks the last block.  From disk, never more than the file's size
 * when it was opened (the tsize announced); on reaching it, a read past it
 * and an fstat make sure the file has not grown, shrunk or been written
 * since (not on every block: that would cost an fstat each).  Returns the
 * bytes, or -1 (errno; source_changed says whether the file changed). */
ssize_t source_next(struct source *s, uint8_t *buf, size_t len,
		    struct iovec iov[2], int *niov);

/* Nonzero once source_next has failed because the file served from disk
 * changed size or was written during the transfer (or its netascii form
 * outgrew the size source_size counted): the client must not take what it
 * has for the whole file. */
int source_changed(const struct source *s);

/* Release the cache entry or the mapping, and close the file. */
void source_close(struct source *s);

#endif
