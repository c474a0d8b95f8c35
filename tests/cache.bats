#!/usr/bin/env bats
# The shared-memory file cache, as a module: real temporary files and real
# child processes, no daemon.  Each test is one suite of tests/cache_test.

load helpers

CACHE_TEST="$top_builddir/tests/cache_test"

run_suite() {
	TMPDIR="$BATS_TEST_TMPDIR" run "$CACHE_TEST" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "cache: allocation and chaining across chunks, iovecs over two chunks" {
	run_suite chain
}

@test "cache: scattered free chunks hold a large entry; evict only if enough" {
	run_suite fragment
}

@test "cache: LRU eviction order under pressure" {
	run_suite lru
}

@test "cache: pinned entries are never evicted" {
	run_suite pinned
}

@test "cache: refcounts and a full pin table" {
	run_suite refcount
}

@test "cache: a changed file (mtime, ctime only, size, during fill) is a miss" {
	run_suite stale
}

@test "cache: files over --cache-max-file, empty files and long keys bypass" {
	run_suite maxfile
}

@test "cache: an entry larger than the arena is refused" {
	run_suite toobig
}

@test "cache: a second acquirer bypasses a LOADING entry; abandon" {
	run_suite loading
}

@test "cache: hostile use: double release, forged and inherited refs" {
	run_suite hostile
}

@test "cache: random operations agree with a reference model" {
	run_suite random 0x5eed
	run_suite random 0xbadc0ffee
}

@test "cache: concurrent processes, one fill per file, replaced files" {
	run_suite multi
}

@test "cache: children killed holding the lock, a pin, a LOADING entry" {
	run_suite crash
}

@test "cache: costs (create, fill, acquire, iov, release_owner)" {
	run_suite bench
}

@test "cache_test rejects an unknown suite" {
	TMPDIR="$BATS_TEST_TMPDIR" run "$CACHE_TEST" nosuch
	[ "$status" -eq 2 ]
}
