#!/usr/bin/env bats
# Faults around the server: files that change while they are sent, fork and
# descriptor limits, the listener killed under running transfers, a burst
# of mixed garbage and requests, a transfer stopped holding the cache lock.
# Slow transfers are held open by stopping their client (SIGSTOP); every
# wait is for a condition.

load helpers

FLOOD="$top_builddir/tests/flood"
CACHE_TEST="$top_builddir/tests/cache_test"
: "${CLIENT_LIMIT:=120}"

log_has() {
	wait_for 10 grep -Eq -- "$1" "$SERVER_LOG" || {
		echo "no log line matching: $1" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

log_lacks() {
	if grep -Eq -- "$1" "$SERVER_LOG"; then
		echo "unexpected log line matching: $1" >&2
		grep -E -- "$1" "$SERVER_LOG" >&2
		return 1
	fi
}

nchildren() {
	children_of | wc -l
}

nchildren_is() {
	[ "$(nchildren)" -eq "$1" ]
}

is_nonempty() {
	[ -s "$1" ]
}

# fetch HOST NAME: curl downloads NAME, compared with the root.
fetch() {
	local out="$BATS_TEST_TMPDIR/got.$RANDOM"
	curl -sS --fail --max-time 20 -o "$out" "tftp://$1:$PORT/$2" 3>&- &&
		cmp "$out" "$ROOT/$2"
}

# hold_open NAME LOCAL: a curl download of NAME into LOCAL in the
# background, stopped (SIGSTOP) once data flows and the server has one more
# child.  Sets HELD_PID.
hold_open() {
	local name=$1 local=$2 before
	before=$(nchildren)
	curl -sS --fail --max-time "$CLIENT_LIMIT" -o "$local" \
		"tftp://127.0.0.1:$PORT/$name" >"$local.msg" 2>&1 3>&- &
	HELD_PID=$!
	HELD_PIDS="$HELD_PIDS $HELD_PID"
	wait_for 10 nchildren_is $((before + 1))
	wait_for 10 is_nonempty "$local"
	kill -STOP "$HELD_PID"
	[ "$(nchildren)" -eq $((before + 1)) ]
}

# resume_fails: let the held client go on; it must fail.
resume_fails() {
	local rc=0
	kill -CONT "$HELD_PID"
	wait "$HELD_PID" || rc=$?
	echo "client exit status $rc: $(cat "$1.msg")"
	[ "$rc" -ne 0 ]
}

# ---- a file that changes while it is served from disk ---------------

@test "a file that shrinks during the transfer ends with ERROR 0 and a warning, never a short complete" {
	make_root
	make_file big 41943040
	start_server --cache-size 0
	hold_open big "$BATS_TEST_TMPDIR/out"
	truncate -s 60000 "$ROOT/big"
	resume_fails "$BATS_TEST_TMPDIR/out"
	log_has 'warning: RRQ from 127\.0\.0\.1:[0-9]+ file "big" mode octet: failed: file changed during the transfer'
	log_lacks 'file "big" mode octet: complete'
	[ "$(wc -c <"$BATS_TEST_TMPDIR/out")" -lt 41943040 ]
}

@test "a file that grows during the transfer: no byte past the size announced, ERROR 0, a warning" {
	make_root
	make_file big 41943040
	start_server --cache-size 0
	hold_open big "$BATS_TEST_TMPDIR/out"
	head -c 100000 /dev/urandom >>"$ROOT/big"
	resume_fails "$BATS_TEST_TMPDIR/out"
	log_has 'warning: RRQ from 127\.0\.0\.1:[0-9]+ file "big" mode octet: failed: file changed during the transfer'
	log_lacks 'file "big" mode octet: complete'
	# curl asks for tsize and was told 41943040: nothing beyond it came.
	[ "$(wc -c <"$BATS_TEST_TMPDIR/out")" -le 41943040 ]
	cmp -n "$(wc -c <"$BATS_TEST_TMPDIR/out")" "$BATS_TEST_TMPDIR/out" "$ROOT/big"
}

@test "a file rewritten in place during the transfer (same size) ends with ERROR 0 at its end" {
	make_root
	make_file big 41943040
	start_server --cache-size 0
	hold_open big "$BATS_TEST_TMPDIR/out"
	# New bytes at the start, already sent: only the modification time
	# tells.
	dd if=/dev/urandom of="$ROOT/big" bs=1024 count=1 conv=notrunc 2>/dev/null
	touch -d '+1 second' "$ROOT/big"
	resume_fails "$BATS_TEST_TMPDIR/out"
	log_has 'file "big" mode octet: failed: file changed during the transfer'
	log_lacks 'file "big" mode octet: complete'
}

@test "an unchanged file from disk still completes, in octet and netascii" {
	make_root
	make_file big 3000000
	start_server --cache-size 0
	fetch 127.0.0.1 big
	run tftp -m netascii 127.0.0.1 "$PORT" -c get hello.txt "$BATS_TEST_TMPDIR/h.txt"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/h.txt" "$ROOT/hello.txt"
	log_has 'file "big" mode octet: complete'
	log_has 'file "hello.txt" mode netascii: complete'
}
