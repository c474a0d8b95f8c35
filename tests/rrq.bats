#!/usr/bin/env bats
# Read requests through a real client (curl): the path policy, refusals
# with the right TFTP error, and no hang on special files.  curl exits 68
# for ERROR 1 (file not found) and 69 for ERROR 2 (access violation).

load helpers

# get NAME: fetch NAME over IPv4 into $BATS_TEST_TMPDIR/out; sets status.
get() {
	rm -f "$BATS_TEST_TMPDIR/out"
	run timeout 20 curl -sS --fail --path-as-is -o "$BATS_TEST_TMPDIR/out" \
		"tftp://127.0.0.1:$PORT/$1"
}

@test "a leading slash is relative to the root" {
	make_root
	mkdir -p "$ROOT/boot"
	make_file boot/pxelinux.0 3000
	start_server
	get "/boot/pxelinux.0"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/boot/pxelinux.0"
	get "boot//./pxelinux.0"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/boot/pxelinux.0"
}

@test "a name spelling the root's absolute path is accepted" {
	make_root
	mkdir -p "$ROOT/boot"
	make_file boot/x 700
	start_server
	get "$ROOT/boot/x"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/boot/x"
}

@test "names with '..' are refused with ERROR 2" {
	start_server
	for name in "../etc/passwd" "a/../hello.txt" "/../hello.txt" ".."; do
		get "$name"
		echo "$name: $status"
		[ "$status" -eq 69 ]
		[ ! -s "$BATS_TEST_TMPDIR/out" ]
	done
	wait_for 5 grep -q 'refused: ".." is not allowed' "$SERVER_LOG"
}

@test "a missing file is ERROR 1 and logged" {
	start_server
	get "no-such-file"
	[ "$status" -eq 68 ]
	wait_for 5 grep -q 'file "no-such-file" refused: no such file (ERROR 1)' "$SERVER_LOG"
}

@test "a symlink inside the root is followed; one leaving it is refused" {
	make_root
	ln -s hello.txt "$ROOT/link-inside"
	ln -s /etc/passwd "$ROOT/link-outside"
	mkdir "$ROOT/sub"
	# Enough ".." to reach / from anywhere.
	ln -s ../../../../../../../../../../../.. "$ROOT/sub/up"
	start_server
	get link-inside
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/hello.txt"
	# A symlinked directory on the way is followed too.
	cp "$ROOT/hello.txt" "$ROOT/sub/deeper.txt"
	ln -s sub "$ROOT/alias"
	get alias/deeper.txt
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/hello.txt"
	get link-outside
	[ "$status" -eq 69 ]
	get sub/up/etc/passwd
	[ "$status" -eq 69 ]
	wait_for 5 grep -q 'resolves outside the root' "$SERVER_LOG"
}

@test "a directory is refused with ERROR 2" {
	make_root
	mkdir "$ROOT/dir"
	start_server
	get dir
	[ "$status" -eq 69 ]
	wait_for 5 grep -q 'is a directory' "$SERVER_LOG"
	get /
	[ "$status" -eq 69 ]
}

@test "a FIFO is refused at once, without waiting for a writer" {
	make_root
	mkfifo "$ROOT/fifo"
	chmod 644 "$ROOT/fifo"
	start_server
	get fifo
	[ "$status" -eq 69 ]
	wait_for 5 grep -q 'not a regular file' "$SERVER_LOG"
}

@test "a device node is refused with ERROR 2" {
	[ "$(id -u)" -eq 0 ] || skip "mknod needs root"
	make_root
	mknod "$ROOT/null" c 1 3
	chmod 666 "$ROOT/null"
	start_server
	get null
	[ "$status" -eq 69 ]
}

@test "a file that is not world-readable is refused unless --permissive" {
	make_root
	make_file secret 100
	chmod 640 "$ROOT/secret"
	start_server
	get secret
	[ "$status" -eq 69 ]
	wait_for 5 grep -q 'not world-readable' "$SERVER_LOG"
	stop_server
	start_server --permissive
	get secret
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/secret"
}

@test "--readonly: every write request is refused, even to a world-writable file" {
	start_server --readonly --create
	printf 'data\n' >"$BATS_TEST_TMPDIR/up"
	printf 'old\n' >"$ROOT/open.txt"
	chmod 666 "$ROOT/open.txt"
	run timeout 20 curl -sS -T "$BATS_TEST_TMPDIR/up" "tftp://127.0.0.1:$PORT/up"
	[ "$status" -eq 69 ]
	[ ! -e "$ROOT/up" ]
	run timeout 20 curl -sS -T "$BATS_TEST_TMPDIR/up" "tftp://127.0.0.1:$PORT/open.txt"
	[ "$status" -eq 69 ]
	cmp "$ROOT/open.txt" <(printf 'old\n')
	wait_for 5 grep -q 'WRQ from 127.0.0.1:[0-9]* refused: writes are disabled (--readonly)' "$SERVER_LOG"
}

@test "a file name with control characters is logged escaped" {
	start_server
	get "a%0Ab%1Bc"
	[ "$status" -eq 68 ]
	wait_for 5 grep -q 'file "a\\x0ab\\x1bc" refused' "$SERVER_LOG"
}

@test "an IPv6 request is answered from the address it was sent to" {
	start_server
	rm -f "$BATS_TEST_TMPDIR/out"
	run timeout 20 curl -sS --fail -o "$BATS_TEST_TMPDIR/out" "tftp://[::1]:$PORT/hello.txt"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/hello.txt"
	wait_for 5 grep -q 'RRQ from \[::1\]:[0-9]* file "hello.txt" mode octet: complete' "$SERVER_LOG"
}
