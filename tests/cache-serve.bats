#!/usr/bin/env bats
# The shared cache as the daemon uses it: hits, never stale bytes after a
# rewrite, one fill under a crowd, eviction, a child killed holding a pin,
# --cache-size 0.  The summary line says "cache hit|fill|miss|off"; SIGUSR1
# logs the counters.  Files served through curl and compared with cmp.

load helpers

# get NAME: fetch with curl and compare with the root's.
get() {
	fetch_same curl 127.0.0.1 "$1"
}

# states NAME: the cache words of NAME's summary lines, oldest first.
states() {
	summary_values cache "$1"
}

# states_are NAME WORD...: once NAME has one complete summary per WORD, the
# cache words of its summaries are the WORDs, in order.
states_are() {
	wait_for 5 summaries_are $(($# - 1)) "$1" complete
	[ "$(states "$1")" = "${*:2}" ] || {
		echo "$1: cache $(states "$1"), expected ${*:2}" >&2
		return 1
	}
}

# until_cached NAME: fetch NAME until a fetch brings its bytes from the
# cache.  The bound is generous (CI once gave up here after 10 s under
# ASan, with both suites and the fuzzers on two cores); on failure the
# server log says what each fetch got and the counters say why.
until_cached() {
	wait_for 30 fetched_from_cache "$1" && return 0
	echo "$1 never came from the cache; cache states: $(states "$1")" >&2
	grep -E "$1|cache" "$SERVER_LOG" | tail -n 15 >&2
	stats >&2
	return 1
}

# stats: ask for the counters and print the newest stats line.
stats() {
	local before
	before=$(log_count 'cache: entries=')
	kill -USR1 "$SERVER_PID"
	wait_for 5 log_count_is $((before + 1)) 'cache: entries='
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
	states_are f.bin fill hit hit
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
		fetch_same -b 1468 -w "$w" atftp 127.0.0.1 big.bin
	done
	states_are big.bin fill hit hit hit
	# netascii twice: the fill and a hit give the same wire bytes.
	netascii_encode "$ROOT/text.txt" "$BATS_TEST_TMPDIR/want"
	local i
	for i in 1 2; do
		fetch_same -m netascii curl 127.0.0.1 text.txt "$BATS_TEST_TMPDIR/want"
	done
	states_are text.txt fill hit
}

@test "a rewritten file is never served stale: same size, then another size" {
	make_root
	make_file f.bin 200000
	# The default settle time would bypass a file younger than 2 s; a
	# short one keeps the test quick, and the rewrite below comes long
	# after any timestamp tick.
	start_server --cache-min-age 100
	# Fetch until the file is cached (it is, once it is 100 ms old).
	until_cached f.bin
	# Same size, new bytes.
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/new"
	cat "$BATS_TEST_TMPDIR/new" >"$ROOT/f.bin"
	get f.bin
	# Until it is cached again, and after: always the new bytes.
	until_cached f.bin
	get f.bin
	# Another size.
	head -c 123457 /dev/urandom >"$ROOT/f.bin"
	get f.bin
	until_cached f.bin
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
		tftp_get -o "$BATS_TEST_TMPDIR/c$i.msg" curl 127.0.0.1 crowd.bin \
			"$BATS_TEST_TMPDIR/c$i" 3>&- &
		pids+=($!)
	done
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || failed=$((failed + 1))
	done
	[ "$failed" -eq 0 ]
	for i in $(seq 1 100); do
		cmp "$BATS_TEST_TMPDIR/c$i" "$ROOT/crowd.bin"
	done
	wait_for 10 summaries_are 100 crowd.bin complete
	local s
	s=$(stats)
	echo "$s"
	[ "$(counter fills "$s")" -eq 1 ]
	[ "$(counter pins "$s")" -eq 0 ]
	[ "$(counter loading "$s")" -eq 0 ]
	# Those that came while it was being filled were served from disk.
	[ "$(log_count 'file "crowd.bin" .*cache hit')" -ge 1 ]
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
	states_are a.bin fill hit hit
	get b.bin
	states_are b.bin fill fill
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
	states_are big.bin miss miss
	get small.bin
	get small.bin
	states_are small.bin fill hit
	stop_server
	# A cache of 1 MiB cannot hold 3 MB whatever --cache-max-file says.
	start_server --cache-min-age 0 --cache-size 1M --cache-max-file 64M
	get big.bin
	get big.bin
	states_are big.bin miss miss
}

@test "a child killed mid-transfer leaves no pin behind; everything still serves" {
	make_root
	make_file big 41943040
	make_file other.bin 100000
	start_server --cache-min-age 0 --cache-max-file 64M --cache-size 128M --retries 20
	get other.bin
	# Hold a transfer of big open by stopping its client.
	hold_open "$BATS_TEST_TMPDIR/held"
	local child=$HELD_CHILD s
	s=$(stats)
	[ "$(counter pins "$s")" -eq 1 ]
	kill -KILL "$child"
	log_has "transfer process $child killed by signal 9"
	s=$(stats)
	echo "$s"
	[ "$(counter pins "$s")" -eq 0 ]
	[ "$(counter released_dead "$s")" -eq 1 ]
	get big
	get other.bin
	states_are other.bin fill hit
}

@test "--cache-size 0 turns the cache off; transfers are unchanged" {
	make_root
	make_file f.bin 100000
	start_server --cache-size 0
	get f.bin
	get f.bin
	states_are f.bin off off
	kill -USR1 "$SERVER_PID"
	log_has 'notice: cache: off'
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
	run "$CTFTPD" -L --host 127.0.0.1 --port "$(free_port)" --cache-size 4K "$ROOT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"too small"* ]]
}
