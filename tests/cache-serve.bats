#!/usr/bin/env bats
# The shared cache as the daemon uses it: hits, never stale bytes after a
# rewrite, one fill under a crowd, eviction, a child killed holding a pin,
# --cache-size 0.  The summary line says "cache hit|fill|miss|off"; SIGUSR1
# logs the counters.  Files served through curl and compared with cmp.

load helpers

# get NAME: fetch into $BATS_TEST_TMPDIR/out and compare with the root's.
get() {
	rm -f "$BATS_TEST_TMPDIR/out"
	timeout 60 curl -sS --fail -o "$BATS_TEST_TMPDIR/out" \
		"tftp://127.0.0.1:$PORT/$1" 3>&-
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/$1"
}

# states NAME: the cache words of NAME's summary lines, in order.
states() {
	grep "file \"$1\" mode" "$SERVER_LOG" |
		sed 's/.*; cache \([a-z]*\);.*/\1/' | tr '\n' ' '
}

summaries_are() { # N NAME
	[ "$(grep -c "file \"$2\" mode .*: complete" "$SERVER_LOG")" -eq "$1" ]
}

# stats: ask for the counters and print the newest stats line.
stats() {
	local before
	before=$(grep -c 'cache: entries=' "$SERVER_LOG" || true)
	kill -USR1 "$SERVER_PID"
	wait_for 5 sh -c "[ \$(grep -c 'cache: entries=' '$SERVER_LOG') -gt $before ]"
	grep 'cache: entries=' "$SERVER_LOG" | tail -n 1
}

# counter NAME LINE: the value of NAME=... in a stats line.
counter() {
	echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

@test "a second fetch is served from the cache, byte for byte" {
	make_root
	make_file f.bin 300000
	start_server --cache-min-age 0
	get f.bin
	get f.bin
	get f.bin
	wait_for 5 summaries_are 3 f.bin
	[ "$(states f.bin)" = "fill hit hit " ]
	local s
	s=$(stats)
	[ "$(counter hits "$s")" -eq 2 ]
	[ "$(counter fills "$s")" -eq 1 ]
	[ "$(counter pins "$s")" -eq 0 ]
}

@test "netascii and windowed transfers from the cache are intact" {
	make_root
	{ seq 1 20000; printf 'cr\rend'; } >"$ROOT/text.txt"
	chmod 644 "$ROOT/text.txt"
	make_file big.bin 2000000
	start_server --cache-min-age 0
	get big.bin
	local w
	for w in 1 4 16; do
		rm -f "$BATS_TEST_TMPDIR/w.out"
		timeout 60 atftp --option "blksize 1468" --option "windowsize $w" \
			-g -r big.bin -l "$BATS_TEST_TMPDIR/w.out" 127.0.0.1 "$PORT" \
			>/dev/null 2>&1 3>&-
		cmp "$BATS_TEST_TMPDIR/w.out" "$ROOT/big.bin"
	done
	wait_for 5 summaries_are 4 big.bin
	[ "$(states big.bin)" = "fill hit hit hit " ]
	# netascii twice: the fill and a hit give the same wire bytes.
	perl -0777 -pe 's/\r/\r\0/g; s/\n/\r\n/g' <"$ROOT/text.txt" >"$BATS_TEST_TMPDIR/want"
	local i
	for i in 1 2; do
		timeout 60 curl -sS --fail -o "$BATS_TEST_TMPDIR/na" \
			"tftp://127.0.0.1:$PORT/text.txt;mode=netascii" 3>&-
		cmp "$BATS_TEST_TMPDIR/na" "$BATS_TEST_TMPDIR/want"
	done
	wait_for 5 summaries_are 2 text.txt
	[ "$(states text.txt)" = "fill hit " ]
}

# cached NAME: the newest summary of NAME says hit.
last_is_hit() {
	[ "$(states "$1" | awk '{print $NF}')" = hit ]
}

@test "a rewritten file is never served stale: same size, then another size" {
	make_root
	make_file f.bin 200000
	# The default settle time would bypass a file younger than 2 s; a
	# short one keeps the test quick, and the rewrite below comes long
	# after any timestamp tick.
	start_server --cache-min-age 100
	# Fetch until the file is cached (it is, once it is 100 ms old).
	wait_for 10 sh -c "curl -s -o /dev/null tftp://127.0.0.1:$PORT/f.bin 3>&- &&
		grep 'file \"f.bin\"' '$SERVER_LOG' | tail -n 1 | grep -q 'cache hit'"
	# Same size, new bytes.
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/new"
	cat "$BATS_TEST_TMPDIR/new" >"$ROOT/f.bin"
	get f.bin
	# Until it is cached again, and after: always the new bytes.
	wait_for 10 sh -c "curl -s -o '$BATS_TEST_TMPDIR/o2' tftp://127.0.0.1:$PORT/f.bin 3>&- &&
		cmp -s '$BATS_TEST_TMPDIR/o2' '$ROOT/f.bin' &&
		grep 'file \"f.bin\"' '$SERVER_LOG' | tail -n 1 | grep -q 'cache hit'"
	get f.bin
	# Another size.
	head -c 123457 /dev/urandom >"$ROOT/f.bin"
	get f.bin
	wait_for 10 sh -c "curl -s -o '$BATS_TEST_TMPDIR/o3' tftp://127.0.0.1:$PORT/f.bin 3>&- &&
		cmp -s '$BATS_TEST_TMPDIR/o3' '$ROOT/f.bin' &&
		grep 'file \"f.bin\"' '$SERVER_LOG' | tail -n 1 | grep -q 'cache hit'"
	get f.bin
	local s
	s=$(stats)
	[ "$(counter stale "$s")" -ge 2 ]
}

@test "100 concurrent fetches while the file is first filled: all intact, one fill" {
	make_root
	make_file crowd.bin 4000000
	# All 100 come from 127.0.0.1: lift the per-address limits.
	start_server --cache-min-age 0 --max-per-client 0 --rate-limit 0
	local i pids=() failed=0
	for i in $(seq 1 100); do
		timeout 120 curl -sS --fail -o "$BATS_TEST_TMPDIR/c$i" \
			"tftp://127.0.0.1:$PORT/crowd.bin" 3>&- &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
	for i in $(seq 1 100); do
		cmp "$BATS_TEST_TMPDIR/c$i" "$ROOT/crowd.bin"
	done
	wait_for 10 summaries_are 100 crowd.bin
	local s
	s=$(stats)
	echo "$s"
	[ "$(counter fills "$s")" -eq 1 ]
	[ "$(counter pins "$s")" -eq 0 ]
	[ "$(counter loading "$s")" -eq 0 ]
	# Those that came while it was being filled were served from disk.
	[ "$(grep -c 'file "crowd.bin" .*cache hit' "$SERVER_LOG")" -ge 1 ]
}

@test "eviction under pressure: least recently used first" {
	make_root
	# 64 KiB chunks: 1 MiB holds 14 chunks after its index, so two
	# 400 KB files fit (7 chunks each) and a third evicts one.
	make_file a.bin 400000
	make_file b.bin 400000
	make_file c.bin 400000
	start_server --cache-min-age 0 --cache-size 1M
	get a.bin
	get b.bin
	get a.bin         # a is now more recent than b
	get c.bin         # evicts b, the least recently used
	get a.bin
	wait_for 5 summaries_are 3 a.bin
	[ "$(states a.bin)" = "fill hit hit " ]
	get b.bin
	wait_for 5 summaries_are 2 b.bin
	[ "$(states b.bin)" = "fill fill " ]
	local s
	s=$(stats)
	[ "$(counter evictions "$s")" -ge 1 ]
}

@test "files over --cache-max-file and entries larger than the cache are served from disk" {
	make_root
	make_file big.bin 3000000
	make_file small.bin 1000
	start_server --cache-min-age 0 --cache-max-file 2M
	get big.bin
	get big.bin
	wait_for 5 summaries_are 2 big.bin
	[ "$(states big.bin)" = "miss miss " ]
	get small.bin
	get small.bin
	wait_for 5 summaries_are 2 small.bin
	[ "$(states small.bin)" = "fill hit " ]
	stop_server
	# A cache of 1 MiB cannot hold 3 MB whatever --cache-max-file says.
	start_server --cache-min-age 0 --cache-size 1M --cache-max-file 64M
	get big.bin
	get big.bin
	wait_for 5 summaries_are 2 big.bin
	[ "$(states big.bin)" = "miss miss " ]
}

@test "a child killed mid-transfer leaves no pin behind; everything still serves" {
	make_root
	make_file big 41943040
	make_file other.bin 100000
	start_server --cache-min-age 0 --cache-max-file 64M --cache-size 128M --retries 20
	get other.bin
	# Hold a transfer of big open by stopping its client.
	curl -sS -o "$BATS_TEST_TMPDIR/held" "tftp://127.0.0.1:$PORT/big" \
		>/dev/null 2>&1 3>&- &
	HELD_PIDS="$HELD_PIDS $!"
	local held=$!
	wait_for 20 test -s "$BATS_TEST_TMPDIR/held"
	kill -STOP "$held"
	local child s
	child=$(children_of | head -n 1)
	[ -n "$child" ]
	s=$(stats)
	[ "$(counter pins "$s")" -eq 1 ]
	kill -KILL "$child"
	wait_for 10 grep -q "transfer process $child killed by signal 9" "$SERVER_LOG"
	s=$(stats)
	echo "$s"
	[ "$(counter pins "$s")" -eq 0 ]
	[ "$(counter released_dead "$s")" -eq 1 ]
	get big
	get other.bin
	wait_for 5 summaries_are 2 other.bin
	[ "$(states other.bin)" = "fill hit " ]
}

@test "--cache-size 0 turns the cache off; transfers are unchanged" {
	make_root
	make_file f.bin 100000
	start_server --cache-size 0
	get f.bin
	get f.bin
	wait_for 5 summaries_are 2 f.bin
	[ "$(states f.bin)" = "off off " ]
	kill -USR1 "$SERVER_PID"
	wait_for 5 grep -q 'notice: cache: off' "$SERVER_LOG"
}

@test "bad cache values exit 2" {
	make_root
	run "$CTFTPD" -L --port 1 --cache-size 12X "$ROOT"
	[ "$status" -eq 2 ]
	run "$CTFTPD" -L --port 1 --cache-size 65G "$ROOT"
	[ "$status" -eq 2 ]
	run "$CTFTPD" -L --port 1 --cache-max-file 0 "$ROOT"
	[ "$status" -eq 2 ]
	run "$CTFTPD" -L --port 1 --cache-min-age -1 "$ROOT"
	[ "$status" -eq 2 ]
	# Too small for one chunk and its index: said before serving.
	run "$CTFTPD" -L --host 127.0.0.1 --port $((20000 + RANDOM % 40000)) --cache-size 4K "$ROOT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"too small"* ]]
}
