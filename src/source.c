/* The read side's block producer: cache iovecs, iovecs into a mapping of
 * the file, file reads, and netascii conversion with its state carried from
 * one block to the next. */
#include "autoconfig.h"

#include "source.h"

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

void source_init(struct source *s, int fd, enum tftp_mode mode,
		 const struct stat *st)
{
	/* The stage (8 KiB) is written before it is read: zeroing it would
	 * cost more than the rest of a small transfer's setup. */
	memset(s, 0, offsetof(struct source, stage));
	s->fd = fd;
	s->mode = mode;
	s->st = *st;
	netascii_encoder_init(&s->enc);
}

const char *source_use_cache(struct source *s, struct cache *cache,
			     const char *rel, const struct stat *st)
{
	if (!cache)
		return "off";
	switch (cache_acquire(cache, rel, st, &s->ref)) {
	case CACHE_HIT:
		s->cached = 1;
		return "hit";
	case CACHE_FILL:
		/* One pass over the file into shared memory, checked against
		 * the fstat identity afterwards; on any failure, the file. */
		if (cache_fill(&s->ref, s->fd) != 0)
			return "miss";
		s->cached = 1;
		return "fill";
	default:
		return "miss";
	}
}

static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static ssize_t file_changed(struct source *s)
{
	s->changed = 1;
	errno = ESTALE;
	return -1;
}

/* The file still has the size and modification time it had when opened.
 * Returns 0, or -1 when it has not (or fstat failed). */
static int unchanged(const struct source *s)
{
	struct stat now;

	return fstat(s->fd, &now) == 0 && now.st_size == s->st.st_size &&
			       now.st_mtim.tv_sec == s->st.st_mtim.tv_sec &&
			       now.st_mtim.tv_nsec == s->st.st_mtim.tv_nsec
		       ? 0
		       : -1;
}

/* len bytes of the file at off into buf.  Returns 0, or -1 (errno; a short
 * read: the file shrank, s->changed). */
static int pread_full(struct source *s, uint8_t *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n =
			pread(s->fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return (int)file_changed(s);
		got += (size_t)n;
	}
	return 0;
}

/* Where the size the file had when opened is reached, the file must end
 * there too, with the modification time it had: otherwise it changed
 * under the transfer (checked once).  Returns 0, or -1 (errno, s->changed)
 * when it changed. */
static int check_end(struct source *s)
{
	uint8_t extra;
	ssize_t n;

	if (s->offset != (uint64_t)s->st.st_size || s->end_checked)
		return 0;
	s->end_checked = 1;
	while ((n = pread(s->fd, &extra, 1, s->st.st_size)) < 0 &&
	       errno == EINTR)
		;
	return n != 0 || unchanged(s) != 0 ? (int)file_changed(s) : 0;
}

/* Up to len bytes from the file, never past the size it had when opened,
 * checked at its end (check_end).  Returns bytes, 0 at the end, -1 (errno,
 * s->changed when it changed). */
static ssize_t read_file(struct source *s, uint8_t *buf, size_t len)
{
	uint64_t size = (uint64_t)s->st.st_size;
	uint64_t left = s->offset < size ? size - s->offset : 0;
	ssize_t n;

	if (len > left)
		len = (size_t)left;
	n = read_full(s->fd, buf, len);
	if (n < 0)
		return -1;
	s->offset += (uint64_t)n;
	if ((size_t)n < len)
		return file_changed(s); /* it ended early: shrunk */
	return check_end(s) != 0 ? -1 : n;
}

int source_map(struct source *s)
{
	uint64_t size = (uint64_t)s->st.st_size;
	void *p;

	if (s->cached || s->mode != TFTP_MODE_OCTET || size < SOURCE_MAP_MIN ||
	    size > (uint64_t)SIZE_MAX / 2 || s->offset != 0)
		return 0;
	p = mmap(NULL, (size_t)size, PROT_READ, MAP_SHARED, s->fd, 0);
	if (p == MAP_FAILED)
		return 0;
	s->map = p;
	return 1;
}

/* Up to len bytes of the mapped file as one iovec, never past the size it
 * had when opened.  The block that reaches that size is copied into buf
 * instead, then the end is checked (check_end): its bytes are fixed before
 * the check, as on the read path, so that nothing written after the check
 * goes out in it.  Returns bytes, 0 at the end, -1 (errno, s->changed). */
static ssize_t map_next(struct source *s, uint8_t *buf, size_t len,
			struct iovec iov[2], int *niov)
{
	uint64_t size = (uint64_t)s->st.st_size;
	uint64_t left = s->offset < size ? size - s->offset : 0;

	if (len >= left) {
		len = (size_t)left;
		if (pread_full(s, buf, len, (off_t)s->offset) != 0)
			return -1;
		s->offset += len;
		return check_end(s) != 0 ? -1 : (ssize_t)len;
	}
	iov[0].iov_base = (void *)(s->map + s->offset);
	iov[0].iov_len = len;
	*niov = 1;
	s->offset += len;
	return (ssize_t)len;
}

int source_pin(struct source *s, struct iovec iov[2], int *niov, uint8_t *buf)
{
	const uint8_t *p;

	if (!s->map || *niov != 1)
		return 0;
	p = iov[0].iov_base;
	if (p < s->map || p >= s->map + s->st.st_size)
		return 0; /* not in the mapping */
	if (pread_full(s, buf, iov[0].iov_len, (off_t)(p - s->map)) != 0)
		return -1;
	if (unchanged(s) != 0)
		return (int)file_changed(s);
	*niov = 0;
	return 0;
}

/* Up to len bytes of the file from where the source stands, copied from the
 * cache or read from the file.  Returns bytes, 0 at the end, -1 (errno). */
static ssize_t take(struct source *s, uint8_t *buf, size_t len)
{
	size_t got = 0;

	if (!s->cached)
		return read_file(s, buf, len);
	while (got < len) {
		struct iovec v[2];
		int niov;
		size_t n = cache_iov(&s->ref, s->offset, len - got, v, &niov);
		if (n == 0)
			break;
		for (int i = 0; i < niov; i++) {
			memcpy(buf + got, v[i].iov_base, v[i].iov_len);
			got += v[i].iov_len;
		}
		s->offset += n;
	}
	return (ssize_t)got;
}

/* The next len bytes of netascii, converted from the staged file bytes. */
static ssize_t next_netascii(struct source *s, uint8_t *out, size_t len)
{
	size_t o = 0;

	while (o < len) {
		size_t used;
		if (s->stage_pos == s->stage_len && !s->eof) {
			ssize_t n = take(s, s->stage, sizeof(s->stage));
			if (n < 0)
				return -1;
			s->stage_pos = 0;
			s->stage_len = (size_t)n;
			s->eof = n == 0;
		}
		if (s->stage_pos == s->stage_len &&
		    !netascii_encoder_pending(&s->enc))
			break;
		o += netascii_encode(&s->enc, s->stage + s->stage_pos,
				     s->stage_len - s->stage_pos, &used,
				     out + o, len - o);
		s->stage_pos += used;
	}
	return (ssize_t)o;
}

ssize_t source_next(struct source *s, uint8_t *buf, size_t len,
		    struct iovec iov[2], int *niov)
{
	ssize_t n;

	*niov = 0;
	if (s->mode == TFTP_MODE_NETASCII) {
		n = next_netascii(s, buf, len);
		/* Same size, other bytes, caught before the end: more line
		 * ends than were counted for tsize. */
		if (n > 0 && s->netascii_size &&
		    (s->produced += (uint64_t)n) > s->netascii_size)
			return file_changed(s);
		return n;
	}
	if (s->cached) {
		size_t k = cache_iov(&s->ref, s->offset, len, iov, niov);
		s->offset += k;
		return (ssize_t)k;
	}
	if (s->map)
		return map_next(s, buf, len, iov, niov);
	return read_file(s, buf, len);
}

int source_changed(const struct source *s)
{
	return s->changed;
}

int source_size(struct source *s, const struct stat *st, uint64_t *size)
{
	uint64_t total = 0;
	ssize_t n;

	if (s->mode != TFTP_MODE_NETASCII) {
		*size = (uint64_t)st->st_size;
		return 0;
	}
	if ((uint64_t)st->st_size > SOURCE_NETASCII_TSIZE_MAX)
		return 1;
	if (s->cached) {
		/* Straight over the shared pages, no copy. */
		struct iovec v[2];
		int niov;
		size_t k;
		for (uint64_t off = 0;
		     (k = cache_iov(&s->ref, off, 65536, v, &niov)) > 0;
		     off += k)
			for (int i = 0; i < niov; i++)
				total += netascii_encoded_size(v[i].iov_base,
							       v[i].iov_len);
		*size = total;
		return 0;
	}
	while ((n = read_full(s->fd, s->stage, sizeof(s->stage))) > 0)
		total += netascii_encoded_size(s->stage, (size_t)n);
	if (n < 0 || lseek(s->fd, 0, SEEK_SET) != 0)
		return -1;
	*size = s->netascii_size = total;
	return 0;
}

void source_close(struct source *s)
{
	if (s->cached)
		cache_release(&s->ref);
	s->cached = 0;
	if (s->map)
		munmap((void *)s->map, (size_t)s->st.st_size);
	s->map = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
