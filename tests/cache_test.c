/* Tests for the shared-memory file cache, with real temporary files and
 * real child processes.  Usage: cache_test SUITE [SEED].  Prints each failed
 * check and exits 1 if any failed, 0 otherwise (2 for a bad suite name). */
#include "autoconfig.h"

#include "cache.h"
#include "cache_test_hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

/* The index must be consistent after every step. */
#define CHECK_INDEX(c)                                                        \
	do {                                                                  \
		char why_[256];                                               \
		checks++;                                                     \
		if (cache_check((c), why_, sizeof(why_)) != 0) {              \
			failures++;                                           \
			fprintf(stderr, "%s:%d: index check: %s\n", __FILE__, \
				__LINE__, why_);                              \
		}                                                             \
	} while (0)

#define CHUNK 4096
#define KIB 1024

static char tmpdir[PATH_MAX];
static uint32_t mtime_serial = 1;

/* --- files --- */

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Deterministic content for (seed, offset): any byte can be checked alone. */
static unsigned char content_byte(uint32_t seed, uint64_t i)
{
	uint64_t x = (i >> 3) * 0x9E3779B97F4A7C15ULL ^
		     (uint64_t)seed * 0xC2B2AE3D27D4EB4FULL;
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ULL;
	x ^= x >> 32;
	return (unsigned char)(x >> ((i & 7) * 8));
}

static void path_of(const char *key, char *out)
{
	if (snprintf(out, PATH_MAX, "%s/%s", tmpdir, key) >= PATH_MAX) {
		fprintf(stderr, "path too long\n");
		exit(1);
	}
}

/* Write key with size bytes of content seed, in place (same inode), and set
 * a unique old mtime so every version has a distinct identity even when the
 * coarse clock gives two writes the same ctime. */
static void write_file(const char *key, size_t size, uint32_t seed)
{
	char path[PATH_MAX];
	unsigned char buf[8192];
	struct timespec ts[2];
	int fd;

	path_of(key, path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		perror(path);
		exit(1);
	}
	for (size_t off = 0; off < size;) {
		size_t n = size - off < sizeof(buf) ? size - off : sizeof(buf);
		for (size_t k = 0; k < n; k++)
			buf[k] = content_byte(seed, off + k);
		if (write(fd, buf, n) != (ssize_t)n) {
			perror("write");
			exit(1);
		}
		off += n;
	}
	ts[0].tv_sec = ts[1].tv_sec = 1000000000 + (time_t)mtime_serial++;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	if (futimens(fd, ts) != 0) {
		perror("futimens");
		exit(1);
	}
	close(fd);
}

static int open_file(const char *key, struct stat *st)
{
	char path[PATH_MAX];
	int fd;

	path_of(key, path);
	fd = open(path, O_RDONLY);
	if (fd < 0 || fstat(fd, st) != 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* Open key, acquire, and fill on CACHE_FILL; a failed fill is BYPASS. */
static enum cache_result get(struct cache *c, const char *key,
			     struct cache_ref *ref)
{
	struct stat st;
	int fd = open_file(key, &st);
	enum cache_result r = cache_acquire(c, key, &st, ref);

	if (r == CACHE_FILL && cache_fill(ref, fd) != 0)
		r = CACHE_BYPASS;
	close(fd);
	return r;
}

/* Do the ref's bytes equal content seed over size bytes?  Reads through
 * cache_iov in blocks of blk bytes, as a transfer would. */
static int ref_matches(struct cache_ref *ref, size_t size, uint32_t seed,
		       size_t blk)
{
	for (uint64_t off = 0; off < size; off += blk) {
		struct iovec iov[2];
		int niov;
		size_t want = size - off < blk ? size - off : blk;
		size_t n = cache_iov(ref, off, blk, iov, &niov), got = 0;
		if (n != want)
			return 0;
		for (int k = 0; k < niov; k++) {
			const unsigned char *p = iov[k].iov_base;
			for (size_t j = 0; j < iov[k].iov_len; j++)
				if (p[j] != content_byte(seed, off + got + j))
					return 0;
			got += iov[k].iov_len;
		}
		if (got != n)
			return 0;
	}
	return 1;
}

/* Does the ref hold exactly the bytes of open file fd? */
static int ref_equals_fd(struct cache_ref *ref, int fd, size_t size)
{
	unsigned char buf[1428];

	for (uint64_t off = 0; off < size; off += sizeof(buf)) {
		struct iovec iov[2];
		int niov;
		size_t n = cache_iov(ref, off, sizeof(buf), iov, &niov),
		       got = 0;
		if (pread(fd, buf, n, (off_t)off) != (ssize_t)n || n == 0)
			return 0;
		for (int k = 0; k < niov; k++) {
			if (memcmp(buf + got, iov[k].iov_base, iov[k].iov_len))
				return 0;
			got += iov[k].iov_len;
		}
	}
	return 1;
}

/* A cache of exactly nchunks chunks of CHUNK bytes (the index is carved out
 * of the size, so search for the size that gives that many). */
static struct cache *make_cache(unsigned nchunks, unsigned pins,
				size_t max_file, unsigned settle_ms)
{
	struct cache_params p;
	struct cache_stats s;

	cache_params_default(&p);
	p.chunk_size = CHUNK;
	p.max_pins = pins;
	p.max_file = max_file;
	p.settle_ms = settle_ms;
	for (p.size = (size_t)nchunks * CHUNK;; p.size += 512) {
		struct cache *c = cache_create(&p);
		if (!c)
			continue;
		cache_stats(c, &s);
		if (s.chunks_total == nchunks)
			return c;
		cache_destroy(c);
		if (s.chunks_total > nchunks) {
			fprintf(stderr, "cannot make %u chunks\n", nchunks);
			exit(1);
		}
	}
}

static struct cache_stats stats_of(struct cache *c)
{
	struct cache_stats s;

	cache_stats(c, &s);
	return s;
}

/* --- suites --- */

static void test_chain(void)
{
	struct cache *c = make_cache(8, 4, 0, 0);
	struct cache_ref a, b, r;
	struct iovec iov[2];
	struct cache_stats s;
	int niov;

	write_file("a", 10000, 1);
	write_file("b", CHUNK, 2);
	write_file("c", CHUNK + 1, 3);
	CHECK(get(c, "a", &a) == CACHE_FILL);
	s = stats_of(c);
	CHECK(s.chunks_used == 3 && s.entries == 1 && s.bytes_used == 10000);
	CHECK(s.fills == 1 && s.misses == 1 && s.pins == 1);
	CHECK_INDEX(c);
	/* Every offset, a DATA-sized range: right bytes, two pieces exactly
	 * when the range crosses a chunk boundary. */
	for (uint64_t off = 0; off < 10000; off += 7) {
		size_t n = cache_iov(&a, off, 512, iov, &niov);
		size_t want = 10000 - off < 512 ? 10000 - off : 512;
		int crosses = off / CHUNK != (off + want - 1) / CHUNK;
		CHECK(n == want);
		CHECK(niov == (crosses ? 2 : 1));
		if (n != want)
			break;
	}
	CHECK(ref_matches(&a, 10000, 1, 512));
	CHECK(ref_matches(&a, 10000, 1, 1428));
	CHECK(ref_matches(&a, 10000, 1, CHUNK));
	{
		size_t n = cache_iov(&a, 4000, 512, iov, &niov);
		CHECK(n == 512 && niov == 2 && iov[0].iov_len == 96 &&
		      iov[1].iov_len == 416);
		n = cache_iov(&a, 8192, CHUNK, iov, &niov);
		CHECK(n == 10000 - 8192 && niov == 1);
		CHECK(cache_iov(&a, 10000, 512, iov, &niov) == 0 && niov == 0);
		CHECK(cache_iov(&a, UINT64_MAX, 512, iov, &niov) == 0);
		CHECK(cache_iov(&a, 9999, 10, iov, &niov) == 1 && niov == 1);
		/* More than two pieces' worth: cut at two chunks. */
		n = cache_iov(&a, 100, 10000, iov, &niov);
		CHECK(n == 2 * CHUNK - 100 && niov == 2);
		/* Backwards after forwards (retransmission). */
		n = cache_iov(&a, 9000, 100, iov, &niov);
		CHECK(n == 100 && *(unsigned char *)iov[0].iov_base ==
					  content_byte(1, 9000));
		n = cache_iov(&a, 10, 100, iov, &niov);
		CHECK(n == 100 &&
		      *(unsigned char *)iov[0].iov_base == content_byte(1, 10));
		n = cache_iov(&a, 5000, 1, iov, &niov);
		CHECK(n == 1 && *(unsigned char *)iov[0].iov_base ==
					content_byte(1, 5000));
		CHECK(cache_iov(&a, 0, 0, iov, &niov) == 0);
	}
	CHECK(get(c, "b", &b) == CACHE_FILL);
	CHECK(get(c, "c", &r) == CACHE_FILL);
	s = stats_of(c);
	CHECK(s.chunks_used == 3 + 1 + 2 && s.entries == 3);
	CHECK(s.bytes_used == 10000 + CHUNK + CHUNK + 1);
	CHECK(ref_matches(&b, CHUNK, 2, 512));
	CHECK(ref_matches(&r, CHUNK + 1, 3, 512));
	CHECK(cache_release(&a) == 0);
	CHECK(cache_release(&b) == 0);
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "a", &a) == CACHE_HIT);
	CHECK(ref_matches(&a, 10000, 1, 1000));
	CHECK(cache_release(&a) == 0);
	s = stats_of(c);
	CHECK(s.hits == 1 && s.pins == 0 && s.fills == 3);
	CHECK(s.bytes_served >= 10000);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_fragment(void)
{
	struct cache *c = make_cache(8, 8, 0, 0);
	struct cache_ref r[8], big, big2;
	struct cache_stats s;
	char key[8];

	for (int i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "f%d", i);
		write_file(key, CHUNK, (uint32_t)(10 + i));
		CHECK(get(c, key, &r[i]) == CACHE_FILL);
		CHECK(cache_release(&r[i]) == 0);
	}
	CHECK(stats_of(c).chunks_used == 8);
	/* Free every other chunk: emptied files drop their entries. */
	for (int i = 1; i < 8; i += 2) {
		snprintf(key, sizeof(key), "f%d", i);
		write_file(key, 0, 0);
		CHECK(get(c, key, &r[i]) == CACHE_BYPASS);
	}
	s = stats_of(c);
	CHECK(s.chunks_used == 4 && s.stale == 4 && s.evictions == 0);
	CHECK_INDEX(c);
	/* Four scattered free chunks hold a four-chunk file: no eviction. */
	write_file("big", 4 * CHUNK, 99);
	CHECK(get(c, "big", &big) == CACHE_FILL);
	s = stats_of(c);
	CHECK(s.evictions == 0 && s.chunks_used == 8);
	CHECK(ref_matches(&big, 4 * CHUNK, 99, 1468));
	for (int i = 0; i < 8; i += 2) {
		snprintf(key, sizeof(key), "f%d", i);
		CHECK(get(c, key, &r[i]) == CACHE_HIT);
		CHECK(ref_matches(&r[i], CHUNK, (uint32_t)(10 + i), 512));
	}
	CHECK(cache_release(&big) == 0);
	/* Pinned f0 f2 f4 f6; big (4 chunks) is the only unpinned entry.  A
	 * 5-chunk file cannot fit: bypass, and nothing is evicted for it. */
	write_file("big2", 5 * CHUNK, 98);
	CHECK(get(c, "big2", &big2) == CACHE_BYPASS);
	s = stats_of(c);
	CHECK(s.evictions == 0 && s.bypass_no_space == 1);
	CHECK(get(c, "big", &big) == CACHE_HIT);
	CHECK(cache_release(&big) == 0);
	/* Unpin two: now 4 + 2 chunks are evictable, big2 fits. */
	CHECK(cache_release(&r[0]) == 0);
	CHECK(cache_release(&r[2]) == 0);
	CHECK(get(c, "big2", &big2) == CACHE_FILL);
	s = stats_of(c);
	CHECK(s.evictions >= 2 && s.chunks_used <= 8);
	CHECK(ref_matches(&big2, 5 * CHUNK, 98, 512));
	CHECK(ref_matches(&r[4], CHUNK, 14, 512));
	CHECK(ref_matches(&r[6], CHUNK, 16, 512));
	CHECK_INDEX(c);
	CHECK(cache_release(&big2) == 0);
	CHECK(cache_release(&r[4]) == 0);
	CHECK(cache_release(&r[6]) == 0);
	CHECK(stats_of(c).pins == 0);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_lru(void)
{
	struct cache *c = make_cache(4, 4, 0, 0);
	struct cache_ref r;
	const char *keys[] = {"A", "B", "C", "D", "E", "X"};

	for (int i = 0; i < 5; i++)
		write_file(keys[i], CHUNK - 10 * (size_t)i, (uint32_t)(20 + i));
	write_file("X", 3 * CHUNK, 30);
#define GET(k, want)                                   \
	do {                                           \
		CHECK(get(c, k, &r) == (want));        \
		if (r.cache)                           \
			CHECK(cache_release(&r) == 0); \
	} while (0)
	GET("A", CACHE_FILL);
	GET("B", CACHE_FILL);
	GET("C", CACHE_FILL);
	GET("D", CACHE_FILL); /* LRU: A B C D */
	GET("A", CACHE_HIT);  /* B C D A */
	GET("E", CACHE_FILL); /* evicts B: C D A E */
	CHECK(stats_of(c).evictions == 1);
	GET("D", CACHE_HIT);  /* C A E D */
	GET("B", CACHE_FILL); /* evicts C: A E D B */
	CHECK(stats_of(c).evictions == 2);
	GET("A", CACHE_HIT);
	GET("E", CACHE_HIT);
	GET("D", CACHE_HIT);
	GET("B", CACHE_HIT); /* A E D B */
	/* Three chunks: evicts exactly the three least recent. */
	GET("X", CACHE_FILL); /* B X */
	CHECK(stats_of(c).evictions == 5);
	GET("X", CACHE_HIT);
	GET("B", CACHE_HIT);  /* X B */
	GET("A", CACHE_FILL); /* evicts X (3 chunks, the oldest): B A */
	CHECK(stats_of(c).evictions == 6);
	GET("B", CACHE_HIT);
	CHECK(stats_of(c).entries == 2 && stats_of(c).chunks_used == 2);
#undef GET
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_pinned(void)
{
	struct cache *c = make_cache(4, 8, 0, 0);
	struct cache_ref r[4], e, x;
	const char *keys[] = {"A", "B", "C", "D"};
	struct cache_stats s;

	for (int i = 0; i < 4; i++) {
		write_file(keys[i], CHUNK, (uint32_t)(40 + i));
		CHECK(get(c, keys[i], &r[i]) == CACHE_FILL);
	}
	write_file("E", CHUNK, 50);
	write_file("F2", 2 * CHUNK, 51);
	/* All pinned: a new file bypasses, nothing is evicted. */
	CHECK(get(c, "E", &e) == CACHE_BYPASS);
	s = stats_of(c);
	CHECK(s.evictions == 0 && s.bypass_no_space == 1 && s.pins == 4);
	CHECK(cache_release(&r[1]) == 0);
	/* One unpinned chunk: a two-chunk file still bypasses and B stays. */
	CHECK(get(c, "F2", &x) == CACHE_BYPASS);
	CHECK(stats_of(c).evictions == 0);
	CHECK(get(c, "E", &e) == CACHE_FILL); /* evicts B, the only one */
	CHECK(stats_of(c).evictions == 1);
	CHECK(ref_matches(&e, CHUNK, 50, 512));
	for (int i = 0; i < 4; i++)
		if (i != 1)
			CHECK(ref_matches(&r[i], CHUNK, (uint32_t)(40 + i),
					  512));
	CHECK(get(c, "B", &x) == CACHE_BYPASS);
	CHECK_INDEX(c);
	for (int i = 0; i < 4; i++)
		if (i != 1)
			CHECK(cache_release(&r[i]) == 0);
	CHECK(cache_release(&e) == 0);
	s = stats_of(c);
	CHECK(s.pins == 0 && s.entries == 4);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_refcount(void)
{
	struct cache *c = make_cache(2, 3, 0, 0);
	struct cache_ref r1, r2, r3, r4, b;

	write_file("A", 100, 60);
	write_file("B", 2 * CHUNK, 61);
	CHECK(get(c, "A", &r1) == CACHE_FILL);
	CHECK(get(c, "A", &r2) == CACHE_HIT);
	CHECK(get(c, "A", &r3) == CACHE_HIT);
	CHECK(stats_of(c).pins == 3);
	/* The pin table is full. */
	CHECK(get(c, "A", &r4) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_no_space == 1);
	CHECK(cache_release(&r2) == 0);
	CHECK(stats_of(c).pins == 2);
	/* A is pinned twice: B (both chunks) cannot evict it. */
	CHECK(get(c, "B", &b) == CACHE_BYPASS);
	CHECK(cache_release(&r1) == 0);
	CHECK(get(c, "B", &b) == CACHE_BYPASS);
	CHECK(ref_matches(&r3, 100, 60, 512));
	CHECK(cache_release(&r3) == 0);
	CHECK(get(c, "B", &b) == CACHE_FILL);
	CHECK(stats_of(c).evictions == 1);
	CHECK(ref_matches(&b, 2 * CHUNK, 61, 1000));
	CHECK(cache_release(&b) == 0);
	CHECK(stats_of(c).pins == 0);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_stale(void)
{
	struct cache *c = make_cache(16, 8, 0, 0);
	struct cache_ref r, old;
	struct stat st1, st2;
	struct cache_stats s;
	int fd;

	write_file("A", 5000, 70);
	CHECK(get(c, "A", &r) == CACHE_FILL);
	CHECK(cache_release(&r) == 0);
	/* Same size, new content and mtime. */
	write_file("A", 5000, 71);
	CHECK(get(c, "A", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, 5000, 71, 512));
	CHECK(cache_release(&r) == 0);
	CHECK(stats_of(c).stale == 1);
	/* Same size, mtime put back: only st_ctim differs. */
	close(open_file("A", &st1));
	{
		struct timespec pause = {0, 30 * 1000000L};
		struct timespec ts[2];
		nanosleep(&pause, NULL); /* let the coarse clock tick */
		write_file("A", 5000, 72);
		fd = open_file("A", &st2);
		ts[0] = st1.st_atim;
		ts[1] = st1.st_mtim;
		CHECK(futimens(fd, ts) == 0);
		CHECK(fstat(fd, &st2) == 0);
		close(fd);
	}
	CHECK(st2.st_size == st1.st_size && st2.st_ino == st1.st_ino);
	CHECK(st2.st_mtim.tv_sec == st1.st_mtim.tv_sec &&
	      st2.st_mtim.tv_nsec == st1.st_mtim.tv_nsec);
	CHECK(st2.st_ctim.tv_sec != st1.st_ctim.tv_sec ||
	      st2.st_ctim.tv_nsec != st1.st_ctim.tv_nsec);
	CHECK(get(c, "A", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, 5000, 72, 512));
	CHECK(cache_release(&r) == 0);
	/* Another size. */
	write_file("A", 7000, 73);
	CHECK(get(c, "A", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, 7000, 73, 512));
	CHECK(cache_release(&r) == 0);
	CHECK(stats_of(c).stale == 3);
	/* Each identity field alone makes a miss.  A real rewrite changes
	 * ctime too, so forge the stat to change one field at a time. */
	for (int field = 0; field < 7; field++) {
		struct stat forged;
		fd = open_file("A", &st1);
		CHECK(cache_acquire(c, "A", &st1, &r) == CACHE_HIT);
		CHECK(cache_release(&r) == 0);
		forged = st1;
		switch (field) {
		case 0:
			forged.st_dev++;
			break;
		case 1:
			forged.st_ino++;
			break;
		case 2:
			forged.st_size--;
			break;
		case 3:
			forged.st_mtim.tv_sec++;
			break;
		case 4:
			forged.st_mtim.tv_nsec ^= 1;
			break;
		case 5:
			forged.st_ctim.tv_sec--;
			break;
		default:
			forged.st_ctim.tv_nsec ^= 1;
			break;
		}
		CHECK(cache_acquire(c, "A", &forged, &r) == CACHE_FILL);
		/* the file is not what the forged stat says: refused */
		CHECK(cache_fill(&r, fd) == -1 && errno == ESTALE);
		CHECK(cache_acquire(c, "A", &st1, &r) == CACHE_FILL);
		CHECK(cache_fill(&r, fd) == 0);
		CHECK(ref_matches(&r, 7000, 73, 512));
		CHECK(cache_release(&r) == 0);
		close(fd);
	}
	CHECK(stats_of(c).stale == 3 + 7);
	CHECK_INDEX(c);
	/* Changed while pinned: the pin keeps its snapshot, new acquirers
	 * get the new bytes, the old chunks go at the last release. */
	CHECK(get(c, "A", &old) == CACHE_HIT);
	write_file("A", 9000, 74);
	CHECK(get(c, "A", &r) == CACHE_FILL);
	s = stats_of(c);
	CHECK(s.chunks_used == 2 + 3 && s.entries == 1);
	CHECK(ref_matches(&old, 7000, 73, 512));
	CHECK(ref_matches(&r, 9000, 74, 512));
	CHECK_INDEX(c);
	CHECK(cache_release(&old) == 0);
	CHECK(stats_of(c).chunks_used == 3);
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "A", &r) == CACHE_HIT);
	CHECK(ref_matches(&r, 9000, 74, 512));
	CHECK(cache_release(&r) == 0);
	/* Changed between the open and the end of the fill: abandoned. */
	write_file("B", 6000, 80);
	fd = open_file("B", &st1);
	CHECK(cache_acquire(c, "B", &st1, &r) == CACHE_FILL);
	write_file("B", 6000, 81);
	errno = 0;
	CHECK(cache_fill(&r, fd) == -1 && errno == ESTALE);
	CHECK(r.cache == NULL);
	close(fd);
	s = stats_of(c);
	CHECK(s.fill_failures == 7 + 1 && s.loading == 0);
	CHECK_INDEX(c);
	CHECK(get(c, "B", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, 6000, 81, 512));
	CHECK(cache_release(&r) == 0);
	/* Truncated during the fill. */
	write_file("T", 9000, 82);
	fd = open_file("T", &st1);
	CHECK(cache_acquire(c, "T", &st1, &r) == CACHE_FILL);
	{
		char tp[PATH_MAX];
		path_of("T", tp);
		CHECK(truncate(tp, 100) == 0);
	}
	CHECK(cache_fill(&r, fd) == -1 && errno == ESTALE);
	close(fd);
	/* Many versions in a row: the first acquire after a change is never
	 * a hit, and a hit always has the current bytes. */
	for (uint32_t v = 0; v < 40; v++) {
		size_t size = 1 + (size_t)(rnd() % (3 * CHUNK));
		write_file("V", size, 100 + v);
		CHECK(get(c, "V", &r) == CACHE_FILL);
		CHECK(ref_matches(&r, size, 100 + v, 512));
		CHECK(cache_release(&r) == 0);
		CHECK(get(c, "V", &r) == CACHE_HIT);
		CHECK(ref_matches(&r, size, 100 + v, 1428));
		CHECK(cache_release(&r) == 0);
	}
	CHECK_INDEX(c);
	cache_destroy(c);
	/* With the default settle time a file written just now is served
	 * from the file: its timestamps may not show a rewrite yet. */
	c = make_cache(4, 4, 0, 2000);
	write_file("N", 100, 90);
	fd = open_file("N", &st1);
	CHECK(cache_acquire(c, "N", &st1, &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_settling == 1);
	close(fd);
	cache_destroy(c);
}

static void test_maxfile(void)
{
	struct cache *c = make_cache(8, 4, 10000, 0);
	struct cache_ref r;
	struct stat st;
	char key[CACHE_KEY_MAX + 1];
	int fd;

	write_file("ok", 10000, 1);
	write_file("big", 10001, 2);
	write_file("empty", 0, 3);
	CHECK(get(c, "ok", &r) == CACHE_FILL);
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "big", &r) == CACHE_BYPASS);
	CHECK(get(c, "empty", &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_too_big == 2);
	/* Keys: CACHE_KEY_MAX - 1 bytes fit, longer ones bypass. */
	fd = open_file("ok", &st);
	memset(key, 'k', sizeof(key));
	key[CACHE_KEY_MAX] = '\0';
	CHECK(cache_acquire(c, key, &st, &r) == CACHE_BYPASS);
	key[CACHE_KEY_MAX - 1] = '\0';
	CHECK(cache_acquire(c, key, &st, &r) == CACHE_FILL);
	CHECK(cache_fill(&r, fd) == 0);
	CHECK(cache_release(&r) == 0);
	CHECK(cache_acquire(c, key, &st, &r) == CACHE_HIT);
	CHECK(cache_release(&r) == 0);
	CHECK(cache_acquire(c, "", &st, &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_too_big == 4);
	close(fd);
	/* A file grown past max_file drops its entry. */
	write_file("ok", 20000, 4);
	CHECK(get(c, "ok", &r) == CACHE_BYPASS);
	CHECK(stats_of(c).stale == 1 && stats_of(c).entries == 1);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_toobig(void)
{
	struct cache *c = make_cache(4, 4, 0, 0); /* max_file = the arena */
	struct cache_ref r;

	write_file("small", 100, 1);
	write_file("over", 4 * CHUNK + 1, 2);
	write_file("exact", 4 * CHUNK, 3);
	CHECK(get(c, "small", &r) == CACHE_FILL);
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "over", &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_too_big == 1 && stats_of(c).evictions == 0);
	CHECK(get(c, "small", &r) == CACHE_HIT);
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "exact", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, 4 * CHUNK, 3, 512));
	CHECK(cache_release(&r) == 0);
	CHECK_INDEX(c);
	cache_destroy(c);
	/* max_file above the arena: still refused. */
	c = make_cache(2, 4, 1 << 20, 0);
	write_file("mid", 3 * CHUNK, 4);
	CHECK(get(c, "mid", &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_too_big == 1);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_loading(void)
{
	struct cache *c = make_cache(8, 4, 0, 0);
	struct cache_ref r1, r2, h;
	struct iovec iov[2];
	struct stat st;
	int fd, niov, status;
	pid_t pid;

	write_file("A", 5000, 1);
	fd = open_file("A", &st);
	CHECK(cache_acquire(c, "A", &st, &r1) == CACHE_FILL);
	CHECK(cache_iov(&r1, 0, 512, iov, &niov) == 0 && niov == 0);
	/* Others do not wait: they serve from the file. */
	CHECK(get(c, "A", &r2) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_loading == 1);
	pid = fork();
	if (pid == 0) {
		struct cache_ref rc;
		_exit(get(c, "A", &rc) == CACHE_BYPASS ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK(stats_of(c).bypass_loading == 2);
	CHECK(stats_of(c).loading == 1);
	CHECK_INDEX(c);
	CHECK(cache_fill(&r1, fd) == 0);
	close(fd);
	CHECK(ref_matches(&r1, 5000, 1, 512));
	CHECK(get(c, "A", &r2) == CACHE_HIT);
	/* A hit is not a fill. */
	CHECK(cache_abandon(&r2) == -1 && errno == EINVAL);
	fd = open_file("A", &st);
	CHECK(cache_fill(&r2, fd) == -1 && errno == EINVAL);
	close(fd);
	CHECK(cache_release(&r1) == 0);
	CHECK(cache_release(&r2) == 0);
	/* Abandoned: the next acquirer fills. */
	write_file("B", 3000, 2);
	fd = open_file("B", &st);
	CHECK(cache_acquire(c, "B", &st, &h) == CACHE_FILL);
	CHECK(cache_abandon(&h) == 0);
	CHECK(cache_abandon(&h) == -1);
	CHECK(stats_of(c).fill_failures == 1 && stats_of(c).loading == 0);
	CHECK(cache_acquire(c, "B", &st, &h) == CACHE_FILL);
	/* Released without a fill: same as abandoned. */
	CHECK(cache_release(&h) == 0);
	CHECK(cache_acquire(c, "B", &st, &h) == CACHE_FILL);
	CHECK(cache_fill(&h, fd) == 0);
	CHECK(ref_matches(&h, 3000, 2, 512));
	CHECK(cache_release(&h) == 0);
	close(fd);
	CHECK(stats_of(c).fill_failures == 2 && stats_of(c).fills == 2);
	CHECK_INDEX(c);
	cache_destroy(c);
}

static void test_hostile(void)
{
	struct cache_params p;
	struct cache_stats s;
	struct cache_ref r, copy, zero;
	struct iovec iov[2];
	struct cache *c;
	struct stat st;
	char line[16];
	int niov, status, fd;
	pid_t pid;

	/* Off, and bad parameters. */
	cache_params_default(&p);
	p.size = 0;
	errno = 123;
	CHECK(cache_create(&p) == NULL && errno == 0);
	CHECK(cache_create(NULL) == NULL && errno == EINVAL);
	cache_params_default(&p);
	p.chunk_size = 3000;
	CHECK(cache_create(&p) == NULL && errno == EINVAL);
	p.chunk_size = 2048;
	CHECK(cache_create(&p) == NULL && errno == EINVAL);
	cache_params_default(&p);
	p.max_pins = 0;
	CHECK(cache_create(&p) == NULL && errno == EINVAL);
	cache_params_default(&p);
	p.size = 4096;
	CHECK(cache_create(&p) == NULL && errno == EINVAL);
	/* A NULL cache does nothing and bypasses. */
	write_file("A", 100, 1);
	fd = open_file("A", &st);
	CHECK(cache_acquire(NULL, "A", &st, &r) == CACHE_BYPASS);
	CHECK(r.cache == NULL);
	CHECK(cache_release(&r) == -1 && errno == EINVAL);
	CHECK(cache_release_owner(NULL, getpid()) == 0);
	cache_stats(NULL, &s);
	CHECK(s.hits == 0 && s.chunks_total == 0);
	cache_destroy(NULL);
	CHECK(cache_iov(&r, 0, 10, iov, &niov) == 0 && niov == 0);
	CHECK(cache_fill(&r, fd) == -1 && errno == EINVAL);
	CHECK(cache_abandon(&r) == -1);
	close(fd);

	c = make_cache(4, 2, 0, 0);
	/* Double release, release of a copy, of a zeroed ref. */
	CHECK(get(c, "A", &r) == CACHE_FILL);
	copy = r;
	CHECK(cache_release(&r) == 0);
	CHECK(cache_release(&r) == -1 && errno == EINVAL);
	CHECK(cache_release(&copy) == -1 && errno == EINVAL);
	memset(&zero, 0, sizeof(zero));
	CHECK(cache_release(&zero) == -1 && errno == EINVAL);
	CHECK(stats_of(c).pins == 0);
	/* A stale copy must not release the record's next holder. */
	CHECK(get(c, "A", &r) == CACHE_HIT);
	copy = r;
	CHECK(cache_release(&r) == 0);
	CHECK(get(c, "A", &r) == CACHE_HIT);
	CHECK(get(c, "A", &zero) == CACHE_HIT);
	CHECK(cache_release(&copy) == -1);
	CHECK(stats_of(c).pins == 2);
	CHECK(cache_release(&zero) == 0);
	/* A ref inherited across fork belongs to the parent. */
	pid = fork();
	if (pid == 0) {
		struct cache_ref mine = r;
		_exit(cache_release(&mine) == -1 && errno == EINVAL ? 0 : 1);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0);
	CHECK(stats_of(c).pins == 1);
	CHECK(cache_release(&r) == 0);
	CHECK_INDEX(c);
	/* Forged refs: refused, and cache_iov never points outside the
	 * arena (touching the bytes would fault otherwise). */
	CHECK(get(c, "A", &r) == CACHE_HIT);
	for (int i = 0; i < 20000; i++) {
		struct cache_ref f = r;
		unsigned sum = 0;
		switch (i % 4) {
		case 0:
			f.pin = (uint32_t)rnd();
			break;
		case 1:
			f.seq = (uint32_t)rnd();
			break;
		case 2:
			f.slot = (uint32_t)rnd() % 8;
			break;
		default:
			f.first = (uint32_t)rnd() % 16;
			f.cur_chunk = (uint32_t)rnd() % 16;
			f.cur_ord = (uint32_t)rnd() % 4;
			f.size = rnd() % (1 << 20);
			break;
		}
		size_t n = cache_iov(&f, rnd() % (1 << 20), 1 + rnd() % 70000,
				     iov, &niov);
		for (int k = 0; k < niov; k++)
			for (size_t j = 0; j < iov[k].iov_len; j += 512)
				sum += ((unsigned char *)iov[k].iov_base)[j];
		(void)sum;
		CHECK(niov >= 0 && niov <= 2 && n <= 2 * CHUNK);
		if (i % 4 != 3 &&
		    (f.pin != r.pin || f.seq != r.seq || f.slot != r.slot))
			CHECK(cache_release(&f) == -1 && errno == EINVAL);
	}
	CHECK(stats_of(c).pins == 1);
	CHECK(cache_release(&r) == 0);
	/* Owners that hold nothing. */
	CHECK(cache_release_owner(c, getpid()) == 0);
	CHECK(cache_release_owner(c, 0) == 0);
	CHECK(cache_release_owner(c, -1) == 0);
	CHECK_INDEX(c);
	/* The stats line: bounded, NUL-terminated. */
	s = stats_of(c);
	CHECK(strlen(cache_stats_format(&s, line, sizeof(line))) ==
	      sizeof(line) - 1);
	CHECK(strncmp(line, "cache: entries=", 15) == 0);
	{
		char full[1024];
		cache_stats_format(&s, full, sizeof(full));
		CHECK(strstr(full, " hits=4 ") != NULL);
		CHECK(strstr(full, " repairs=0") != NULL);
		printf("%s\n", full);
	}
	cache_destroy(c);
}

/* --- the model: exact expected results for random operations --- */

#define MFILES 10
#define MCHUNKS 16
#define MPINS 6
#define MHELD 8
#define MMAXFILE (5 * CHUNK)

enum mstate {
	M_NONE = 0,
	M_LOADING,
	M_READY,
	M_STALE
};

struct mentry {
	enum mstate state;
	int file;
	uint32_t seed; /* the version it holds */
	size_t size;
	unsigned chunks, pins;
	uint64_t stamp;
};

struct mheld {
	int used;
	struct cache_ref ref;
	struct mentry *e;
	int fd; /* LOADING: the file to fill from */
};

static struct mentry ments[64];
static struct mheld mheld[MHELD];
static struct {
	size_t size;
	uint32_t seed;
} mfiles[MFILES];
static uint64_t mtick, mhits, mevict, mfillfail;

static unsigned model_pins(void)
{
	unsigned n = 0;

	for (int i = 0; i < 64; i++)
		n += ments[i].pins;
	return n;
}

static unsigned model_used(void)
{
	unsigned n = 0;

	for (int i = 0; i < 64; i++)
		if (ments[i].state != M_NONE)
			n += ments[i].chunks;
	return n;
}

static struct mentry *model_find(int file)
{
	for (int i = 0; i < 64; i++)
		if ((ments[i].state == M_LOADING ||
		     ments[i].state == M_READY) &&
		    ments[i].file == file)
			return &ments[i];
	return NULL;
}

static struct mentry *model_new(void)
{
	for (int i = 0; i < 64; i++)
		if (ments[i].state == M_NONE)
			return &ments[i];
	fprintf(stderr, "model full\n");
	exit(1);
}

/* What cache_acquire must do, applied to the model. */
static enum cache_result model_acquire(int file, struct mentry **out)
{
	struct mentry *e = model_find(file);
	unsigned need = (unsigned)((mfiles[file].size + CHUNK - 1) / CHUNK);

	*out = NULL;
	if (e) {
		if (e->state == M_LOADING)
			return CACHE_BYPASS;
		if (e->seed == mfiles[file].seed) {
			if (model_pins() == MPINS)
				return CACHE_BYPASS;
			e->pins++;
			e->stamp = ++mtick;
			mhits++;
			*out = e;
			return CACHE_HIT;
		}
		e->state = e->pins ? M_STALE : M_NONE;
	}
	if (mfiles[file].size == 0 || mfiles[file].size > MMAXFILE)
		return CACHE_BYPASS;
	if (model_pins() == MPINS)
		return CACHE_BYPASS;
	if (MCHUNKS - model_used() < need) {
		unsigned avail = MCHUNKS - model_used();
		for (int i = 0; i < 64; i++)
			if (ments[i].state == M_READY && ments[i].pins == 0)
				avail += ments[i].chunks;
		if (avail < need)
			return CACHE_BYPASS;
		while (MCHUNKS - model_used() < need) {
			struct mentry *old = NULL;
			for (int i = 0; i < 64; i++)
				if (ments[i].state == M_READY &&
				    ments[i].pins == 0 &&
				    (!old || ments[i].stamp < old->stamp))
					old = &ments[i];
			old->state = M_NONE;
			mevict++;
		}
	}
	e = model_new();
	e->state = M_LOADING;
	e->file = file;
	e->seed = mfiles[file].seed;
	e->size = mfiles[file].size;
	e->chunks = need;
	e->pins = 1;
	*out = e;
	return CACHE_FILL;
}

static void model_unpin(struct mentry *e)
{
	e->pins--;
	if (e->state == M_LOADING) {
		e->state = M_NONE;
		mfillfail++;
	} else if (e->state == M_STALE && e->pins == 0) {
		e->state = M_NONE;
	}
}

static void model_compare(struct cache *c, unsigned long op)
{
	struct cache_stats s = stats_of(c);
	uint64_t ready = 0, loading = 0;

	for (int i = 0; i < 64; i++) {
		ready += ments[i].state == M_READY;
		loading += ments[i].state == M_LOADING;
	}
	CHECK_INDEX(c);
	if (s.entries != ready || s.loading != loading ||
	    s.chunks_used != model_used() || s.pins != model_pins() ||
	    s.hits != mhits || s.evictions != mevict ||
	    s.fill_failures != mfillfail) {
		failures++;
		fprintf(stderr,
			"op %lu: cache/model entries %llu/%llu loading "
			"%llu/%llu chunks %llu/%u pins %llu/%u hits %llu/%llu "
			"evictions %llu/%llu fill_failures %llu/%llu\n",
			op, (unsigned long long)s.entries,
			(unsigned long long)ready,
			(unsigned long long)s.loading,
			(unsigned long long)loading,
			(unsigned long long)s.chunks_used, model_used(),
			(unsigned long long)s.pins, model_pins(),
			(unsigned long long)s.hits, (unsigned long long)mhits,
			(unsigned long long)s.evictions,
			(unsigned long long)mevict,
			(unsigned long long)s.fill_failures,
			(unsigned long long)mfillfail);
	}
	checks++;
}

static void test_random(unsigned long ops)
{
	struct cache *c = make_cache(MCHUNKS, MPINS, MMAXFILE, 0);
	char key[16];
	uint32_t seed = 1000;
	unsigned long op;

	for (int f = 0; f < MFILES; f++) {
		snprintf(key, sizeof(key), "m%d", f);
		mfiles[f].size = (size_t)(rnd() % (3 * CHUNK)) + 1;
		mfiles[f].seed = seed++;
		write_file(key, mfiles[f].size, mfiles[f].seed);
	}
	for (op = 0; op < ops && failures == 0; op++) {
		unsigned what = (unsigned)(rnd() % 100);
		int f = (int)(rnd() % MFILES);
		struct mheld *h = &mheld[rnd() % MHELD];
		snprintf(key, sizeof(key), "m%d", f);
		if (what < 45) {
			/* acquire into a free holder, fill most fills now */
			struct mentry *e;
			struct stat st;
			enum cache_result want, got;
			int fd;
			if (h->used)
				continue;
			fd = open_file(key, &st);
			want = model_acquire(f, &e);
			got = cache_acquire(c, key, &st, &h->ref);
			CHECK(got == want);
			if (got != want) {
				fprintf(stderr,
					"op %lu: acquire m%d: %d, "
					"model %d\n",
					op, f, got, want);
				close(fd);
				break;
			}
			if (got == CACHE_BYPASS) {
				close(fd);
				continue;
			}
			h->used = 1;
			h->e = e;
			h->fd = fd;
			if (got == CACHE_HIT) {
				CHECK(ref_matches(&h->ref, e->size, e->seed,
						  1428));
				close(fd);
				h->fd = -1;
			} else if (rnd() % 10 != 0) {
				CHECK(cache_fill(&h->ref, fd) == 0);
				e->state = M_READY;
				e->stamp = ++mtick;
				CHECK(ref_matches(&h->ref, e->size, e->seed,
						  512));
				close(fd);
				h->fd = -1;
			}
		} else if (what < 55) {
			/* fill a pending LOADING ref */
			if (!h->used || h->fd < 0)
				continue;
			if (h->e->seed == mfiles[h->e->file].seed) {
				CHECK(cache_fill(&h->ref, h->fd) == 0);
				h->e->state = M_READY;
				h->e->stamp = ++mtick;
				CHECK(ref_matches(&h->ref, h->e->size,
						  h->e->seed, 1024));
			} else {
				/* rewritten since the acquire */
				CHECK(cache_fill(&h->ref, h->fd) == -1 &&
				      errno == ESTALE);
				model_unpin(h->e);
				h->used = 0;
			}
			close(h->fd);
			h->fd = -1;
		} else if (what < 85) {
			/* release (a LOADING one is abandoned) */
			struct cache_ref copy = h->ref;
			if (!h->used)
				continue;
			CHECK(cache_release(&h->ref) == 0);
			CHECK(cache_release(&copy) == -1 && errno == EINVAL);
			model_unpin(h->e);
			if (h->fd >= 0)
				close(h->fd);
			h->fd = -1;
			h->used = 0;
		} else {
			/* rewrite a file, sometimes empty or too big */
			unsigned k = (unsigned)(rnd() % 10);
			mfiles[f].size =
				k == 0	 ? 0
				: k == 1 ? MMAXFILE + 1 + (size_t)(rnd() % 100)
					 : (size_t)(rnd() % (4 * CHUNK)) + 1;
			mfiles[f].seed = seed++;
			write_file(key, mfiles[f].size, mfiles[f].seed);
		}
		model_compare(c, op);
	}
	for (int i = 0; i < MHELD; i++)
		if (mheld[i].used) {
			CHECK(cache_release(&mheld[i].ref) == 0);
			model_unpin(mheld[i].e);
			if (mheld[i].fd >= 0)
				close(mheld[i].fd);
			mheld[i].used = 0;
		}
	model_compare(c, op);
	CHECK(stats_of(c).pins == 0);
	printf("%lu random operations, %llu hits, %llu evictions\n", op,
	       (unsigned long long)mhits, (unsigned long long)mevict);
	cache_destroy(c);
}

/* --- many processes --- */

struct child_report {
	uint32_t acquires, hits, fills, bypasses, bad;
};

/* One reader: acquire random files, check every cached byte against the
 * file it opened, release.  Reports through the pipe. */
static void reader(struct cache *c, int nfiles, unsigned iters, uint32_t id,
		   int out)
{
	struct child_report rep = {0};
	char key[16];

	rng_state = 0x1234567ULL * (id + 1);
	for (unsigned i = 0; i < iters; i++) {
		struct cache_ref r;
		struct stat st;
		int fd;
		enum cache_result res;
		snprintf(key, sizeof(key), "p%d",
			 (int)(rnd() % (uint64_t)nfiles));
		fd = open_file(key, &st);
		res = cache_acquire(c, key, &st, &r);
		rep.acquires++;
		if (res == CACHE_FILL) {
			if (cache_fill(&r, fd) == 0)
				rep.fills++;
			else
				res = CACHE_BYPASS;
		} else if (res == CACHE_HIT) {
			rep.hits++;
		}
		if (res == CACHE_BYPASS)
			rep.bypasses++;
		else if (!ref_equals_fd(&r, fd, (size_t)st.st_size) ||
			 cache_release(&r) != 0)
			rep.bad++;
		close(fd);
	}
	if (write(out, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
	_exit(rep.bad ? 1 : 0);
}

/* Rewrite files by rename, so an open descriptor keeps its bytes. */
static void writer(int nfiles, unsigned iters)
{
	char key[16], tmp[16], a[PATH_MAX], b[PATH_MAX];

	rng_state = 0xfeedULL;
	for (unsigned i = 0; i < iters; i++) {
		int f = (int)(rnd() % (uint64_t)nfiles);
		snprintf(key, sizeof(key), "p%d", f);
		snprintf(tmp, sizeof(tmp), "t%d", f);
		write_file(tmp, 1 + (size_t)(rnd() % (6 * CHUNK)), 5000 + i);
		path_of(tmp, a);
		path_of(key, b);
		if (rename(a, b) != 0)
			_exit(1);
	}
	_exit(0);
}

static void run_readers(struct cache *c, int nfiles, int nchildren,
			unsigned iters, int with_writer,
			struct child_report *total)
{
	pid_t pids[32], wpid = -1;
	int pfd[2], status;

	memset(total, 0, sizeof(*total));
	if (pipe(pfd) != 0) {
		perror("pipe");
		exit(1);
	}
	for (int i = 0; i < nchildren; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			close(pfd[0]);
			reader(c, nfiles, iters, (uint32_t)i, pfd[1]);
		}
	}
	if (with_writer) {
		wpid = fork();
		if (wpid == 0)
			writer(nfiles, iters / 4);
	}
	close(pfd[1]);
	for (int i = 0; i < nchildren; i++) {
		struct child_report rep;
		CHECK(read(pfd[0], &rep, sizeof(rep)) == (ssize_t)sizeof(rep));
		total->acquires += rep.acquires;
		total->hits += rep.hits;
		total->fills += rep.fills;
		total->bypasses += rep.bypasses;
		total->bad += rep.bad;
	}
	close(pfd[0]);
	for (int i = 0; i < nchildren; i++) {
		CHECK(waitpid(pids[i], &status, 0) == pids[i]);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CHECK(cache_release_owner(c, pids[i]) == 0);
	}
	if (wpid > 0) {
		CHECK(waitpid(wpid, &status, 0) == wpid);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
}

/* Every acquire is accounted for exactly once. */
static void check_sums(struct cache *c, const struct child_report *t)
{
	struct cache_stats s = stats_of(c);

	CHECK(t->bad == 0);
	CHECK(s.hits == t->hits);
	CHECK(s.fills == t->fills);
	CHECK(s.hits + s.misses + s.bypass_loading + s.bypass_too_big +
		      s.bypass_settling + s.bypass_lock ==
	      t->acquires);
	CHECK(s.misses == s.fills + s.fill_failures + s.bypass_no_space);
	CHECK(s.pins == 0 && s.loading == 0);
	CHECK_INDEX(c);
	printf("%u acquires: %u hits, %u fills, %u bypasses; %llu evictions, "
	       "%llu stale\n",
	       t->acquires, t->hits, t->fills, t->bypasses,
	       (unsigned long long)s.evictions, (unsigned long long)s.stale);
}

static void test_multi(void)
{
	struct cache *c;
	struct child_report t;
	char key[16];
	int nfiles = 6;
	size_t total = 0;

	/* Everything fits: exactly one fill per file, however many race. */
	rng_state = 42;
	for (int f = 0; f < nfiles; f++) {
		size_t size = 1 + (size_t)(rnd() % (8 * CHUNK));
		snprintf(key, sizeof(key), "p%d", f);
		write_file(key, size, (uint32_t)(200 + f));
		total += (size + CHUNK - 1) / CHUNK;
	}
	c = make_cache((unsigned)total + 2, 16, 0, 0);
	run_readers(c, nfiles, 8, 400, 0, &t);
	check_sums(c, &t);
	CHECK(t.fills == (unsigned)nfiles);
	CHECK(stats_of(c).evictions == 0 && stats_of(c).fill_failures == 0);
	CHECK(stats_of(c).entries == (uint64_t)nfiles);
	CHECK(t.hits > t.acquires / 2);
	cache_destroy(c);

	/* Under pressure: evictions, pins in the way, no wrong byte. */
	c = make_cache(12, 16, 0, 0);
	run_readers(c, nfiles, 8, 400, 0, &t);
	check_sums(c, &t);
	CHECK(stats_of(c).evictions > 0);
	cache_destroy(c);

	/* Files replaced while served: every hit equals the file the reader
	 * opened. */
	c = make_cache(24, 16, 0, 0);
	run_readers(c, nfiles, 8, 400, 1, &t);
	check_sums(c, &t);
	/* Whether a replacement lands between a fill and a later acquire
	 * above depends on scheduling; make one happen for sure. */
	{
		struct cache_ref ref;
		uint64_t before;
		CHECK(get(c, "p0", &ref) != CACHE_BYPASS);
		cache_release(&ref);
		before = stats_of(c).stale;
		write_file("p0", 1000, 999);
		CHECK(get(c, "p0", &ref) == CACHE_FILL);
		CHECK(ref_matches(&ref, 1000, 999, 512));
		cache_release(&ref);
		CHECK(stats_of(c).stale == before + 1);
	}
	cache_destroy(c);
}

/* --- children that die --- */

/* Fork a child that runs fn(c, arg), writes one byte to say it is there,
 * and waits to be killed.  Returns its pid once the byte arrived. */
static pid_t spawn_victim(struct cache *c, void (*fn)(struct cache *, int),
			  int arg)
{
	int pfd[2];
	char b;
	pid_t pid;

	if (pipe(pfd) != 0)
		exit(1);
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		fn(c, arg);
		(void)!write(pfd[1], "x", 1);
		for (;;)
			pause();
	}
	close(pfd[1]);
	CHECK(read(pfd[0], &b, 1) == 1);
	close(pfd[0]);
	return pid;
}

static void kill_victim(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

static void victim_lock(struct cache *c, int arg)
{
	(void)arg;
	if (cache_debug_lock(c) != 0)
		_exit(1);
}

static void victim_pin(struct cache *c, int arg)
{
	struct cache_ref r;

	(void)arg;
	if (get(c, "A", &r) != CACHE_HIT)
		_exit(1);
}

static void victim_loading(struct cache *c, int arg)
{
	struct cache_ref r;
	struct stat st;

	(void)arg;
	close(open_file("E", &st));
	if (cache_acquire(c, "E", &st, &r) != CACHE_FILL)
		_exit(1);
}

static void victim_stop(struct cache *c, int arg)
{
	(void)arg;
	if (cache_debug_lock(c) != 0)
		_exit(1);
	/* stop after the byte is sent: done by the parent with SIGSTOP */
}

static struct cache *four_files(void)
{
	struct cache *c = make_cache(4, 4, 0, 0);
	struct cache_ref r;
	const char *keys[] = {"A", "B", "C", "D"};

	for (int i = 0; i < 4; i++) {
		write_file(keys[i], CHUNK - 1, (uint32_t)(300 + i));
		CHECK(get(c, keys[i], &r) == CACHE_FILL);
		CHECK(cache_release(&r) == 0);
	}
	write_file("E", CHUNK, 304);
	return c;
}

/* Every file is served right, whatever the cache holds now. */
static void all_files_right(struct cache *c)
{
	const char *keys[] = {"A", "B", "C", "D", "E"};

	for (int i = 0; i < 5; i++) {
		struct cache_ref r;
		enum cache_result res = get(c, keys[i], &r);
		if (res != CACHE_BYPASS) {
			CHECK(ref_matches(&r, CHUNK - (i < 4),
					  (uint32_t)(300 + i), 512));
			CHECK(cache_release(&r) == 0);
		}
	}
	CHECK_INDEX(c);
}

static void test_crash(void)
{
	struct cache *c;
	struct cache_ref r;
	struct cache_stats s;
	pid_t pid;

	/* Killed holding the lock: the next locker repairs the index. */
	c = four_files();
	CHECK(get(c, "B", &r) == CACHE_HIT); /* LRU: A C D B */
	CHECK(cache_release(&r) == 0);
	pid = spawn_victim(c, victim_lock, 0);
	kill_victim(pid);
	CHECK(get(c, "E", &r) == CACHE_FILL); /* EOWNERDEAD: repair */
	CHECK(cache_release(&r) == 0);
	s = stats_of(c);
	CHECK(s.repairs == 1 && s.evictions == 1 && s.entries == 4);
	/* The LRU order survived: A went, C D B stayed. */
	CHECK(get(c, "C", &r) == CACHE_HIT && cache_release(&r) == 0);
	CHECK(get(c, "D", &r) == CACHE_HIT && cache_release(&r) == 0);
	CHECK(get(c, "B", &r) == CACHE_HIT && cache_release(&r) == 0);
	CHECK(cache_release_owner(c, pid) == 0);
	all_files_right(c);
	cache_destroy(c);

	/* Killed holding a pin: the entry stays until the parent says. */
	c = four_files();
	pid = spawn_victim(c, victim_pin, 0);
	kill_victim(pid);
	CHECK(stats_of(c).pins == 1);
	{
		struct cache_ref h[3];
		const char *keys[] = {"B", "C", "D"};
		for (int i = 0; i < 3; i++)
			CHECK(get(c, keys[i], &h[i]) == CACHE_HIT);
		CHECK(get(c, "E", &r) == CACHE_BYPASS); /* only A, pinned */
		CHECK(cache_release_owner(c, pid) == 1);
		CHECK(cache_release_owner(c, pid) == 0);
		CHECK(stats_of(c).released_dead == 1);
		CHECK(get(c, "E", &r) == CACHE_FILL); /* evicts A */
		CHECK(cache_release(&r) == 0);
		for (int i = 0; i < 3; i++)
			CHECK(cache_release(&h[i]) == 0);
	}
	CHECK(stats_of(c).pins == 0 && stats_of(c).repairs == 0);
	all_files_right(c);
	cache_destroy(c);

	/* Killed while LOADING: others bypass, then the parent abandons it. */
	c = four_files();
	pid = spawn_victim(c, victim_loading, 0);
	CHECK(get(c, "E", &r) == CACHE_BYPASS);
	kill_victim(pid);
	CHECK(get(c, "E", &r) == CACHE_BYPASS);
	CHECK(stats_of(c).bypass_loading == 2 && stats_of(c).loading == 1);
	CHECK(cache_release_owner(c, pid) == 1);
	s = stats_of(c);
	CHECK(s.loading == 0 && s.fill_failures == 1 && s.pins == 0);
	CHECK(get(c, "E", &r) == CACHE_FILL);
	CHECK(ref_matches(&r, CHUNK, 304, 512));
	CHECK(cache_release(&r) == 0);
	all_files_right(c);
	cache_destroy(c);

	/* Killed at each point inside a critical section, the index half
	 * updated: the next locker repairs it, a pin held across the crash
	 * survives, and every file is still served right. */
	for (int p = CACHE_CRASH_NONE + 1; p < CACHE_CRASH_MAX; p++) {
		struct cache_ref held;
		int status;
		c = four_files();
		CHECK(get(c, "B", &held) == CACHE_HIT); /* LRU: A C D B */
		pid = fork();
		if (pid == 0) {
			struct cache_ref e;
			cache_debug_crash_at(c, (enum cache_crash_point)p);
			/* evicts A, fills E, releases: passes every point */
			if (get(c, "E", &e) == CACHE_FILL)
				cache_release(&e);
			_exit(0);
		}
		CHECK(waitpid(pid, &status, 0) == pid);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		CHECK_INDEX(c); /* the first locker after the crash repairs */
		CHECK(stats_of(c).repairs == 1);
		CHECK(cache_release_owner(c, pid) >= 0);
		CHECK_INDEX(c);
		s = stats_of(c);
		CHECK(s.loading == 0 && s.pins == 1);
		CHECK(ref_matches(&held, CHUNK - 1, 301, 512));
		CHECK(cache_release(&held) == 0);
		all_files_right(c);
		if (failures)
			fprintf(stderr, "after crash point %d\n", p);
		cache_destroy(c);
	}

	/* A stopped holder: acquires give up after lock_ms and bypass. */
	c = four_files();
	pid = spawn_victim(c, victim_stop, 0);
	kill(pid, SIGSTOP);
	{
		struct timespec t0, t1;
		double ms;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK(get(c, "A", &r) == CACHE_BYPASS);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		CHECK(ms >= 90 && ms < 1000);
		CHECK(stats_of(c).bypass_lock == 1);
		CHECK(cache_release_owner(c, pid) == -1 && errno == EAGAIN);
	}
	kill_victim(pid);
	CHECK(cache_release_owner(c, pid) == 0);
	CHECK(stats_of(c).repairs == 1);
	all_files_right(c);
	cache_destroy(c);
}

/* --- costs --- */

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static void test_bench(void)
{
	struct cache_params p;
	struct cache *c;
	struct cache_ref r;
	struct stat st;
	struct iovec iov[2];
	double t0, t1;
	long f0, f1;
	int fd, niov, n = 200000;
	size_t big = (size_t)16 << 20;
	volatile size_t sink = 0;

	cache_params_default(&p);
	p.settle_ms = 0;
	f0 = minflt();
	t0 = now_ns();
	c = cache_create(&p);
	t1 = now_ns();
	f1 = minflt();
	CHECK(c != NULL);
	if (!c)
		return;
	printf("cache_create(64 MiB): %.1f us, %ld pages faulted in "
	       "(allocator included)\n",
	       (t1 - t0) / 1e3, f1 - f0);

	write_file("bench", big, 7);
	fd = open_file("bench", &st);
	CHECK(cache_acquire(c, "bench", &st, &r) == CACHE_FILL);
	t0 = now_ns();
	CHECK(cache_fill(&r, fd) == 0);
	t1 = now_ns();
	printf("cache_fill(16 MiB): %.1f ms (%.0f MB/s)\n", (t1 - t0) / 1e6,
	       (double)big / ((t1 - t0) / 1e9) / 1e6);
	CHECK(cache_release(&r) == 0);

	t0 = now_ns();
	for (int i = 0; i < n; i++) {
		if (cache_acquire(c, "bench", &st, &r) != CACHE_HIT)
			break;
		cache_release(&r);
	}
	t1 = now_ns();
	printf("acquire (hit) + release: %.0f ns\n", (t1 - t0) / n);

	CHECK(cache_acquire(c, "bench", &st, &r) == CACHE_HIT);
	t0 = now_ns();
	for (uint64_t off = 0; off < big; off += 1428)
		sink += cache_iov(&r, off, 1428, iov, &niov);
	t1 = now_ns();
	printf("cache_iov: %.1f ns per 1428-byte block\n",
	       (t1 - t0) / (double)(big / 1428 + 1));
	CHECK(sink == big);
	cache_release(&r);
	close(fd);

	t0 = now_ns();
	for (int i = 0; i < n; i++)
		cache_release_owner(c, 999999);
	t1 = now_ns();
	printf("cache_release_owner (nothing held, 64 pins): %.0f ns\n",
	       (t1 - t0) / n);
	cache_destroy(c);
}

/* --- driver --- */

static void cleanup(void)
{
	char cmd[PATH_MAX + 16];

	if (tmpdir[0] && getenv("CACHE_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		(void)!system(cmd);
	}
}

int main(int argc, char **argv)
{
	const char *base = getenv("TMPDIR");
	const char *suite = argc > 1 ? argv[1] : "";
	pid_t me = getpid();

	setvbuf(stdout, NULL, _IOLBF, 0); /* no copies in forked children */
	if (argc > 2)
		rng_state = strtoull(argv[2], NULL, 0) | 1;
	snprintf(tmpdir, sizeof(tmpdir), "%s/cache_test.XXXXXX",
		 base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	if (strcmp(suite, "chain") == 0)
		test_chain();
	else if (strcmp(suite, "fragment") == 0)
		test_fragment();
	else if (strcmp(suite, "lru") == 0)
		test_lru();
	else if (strcmp(suite, "pinned") == 0)
		test_pinned();
	else if (strcmp(suite, "refcount") == 0)
		test_refcount();
	else if (strcmp(suite, "stale") == 0)
		test_stale();
	else if (strcmp(suite, "maxfile") == 0)
		test_maxfile();
	else if (strcmp(suite, "toobig") == 0)
		test_toobig();
	else if (strcmp(suite, "loading") == 0)
		test_loading();
	else if (strcmp(suite, "hostile") == 0)
		test_hostile();
	else if (strcmp(suite, "random") == 0)
		test_random(20000);
	else if (strcmp(suite, "multi") == 0)
		test_multi();
	else if (strcmp(suite, "crash") == 0)
		test_crash();
	else if (strcmp(suite, "bench") == 0)
		test_bench();
	else {
		fprintf(stderr,
			"usage: cache_test chain|fragment|lru|pinned|"
			"refcount|stale|maxfile|toobig|loading|hostile|random|"
			"multi|crash|bench [seed]\n");
		cleanup();
		return 2;
	}
	if (getpid() == me)
		cleanup();
	printf("%s: %d checks, %d failed\n", suite, checks, failures);
	return failures ? 1 : 0;
}
