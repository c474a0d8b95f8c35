#!/usr/bin/env bats
# The listener's limits against hostile or broken clients: transfers per
# client address (--max-per-client), new transfers per second per address
# (--rate-limit), rate-limited refusals and their log lines, and a client's
# timeout option that cannot stretch --give-up.  tests/flood sends the
# requests; every wait is for a condition.

load helpers

FLOOD="$top_builddir/tests/flood"
CLIENT_LIMIT=20

# flood ARGS...: run tests/flood against the server; its counts line in
# FLOODED ("served=N busy=N ...").
flood() {
	local host=$1
	shift
	run "$FLOOD" "$host" "$PORT" "$@"
	echo "flood $host $*: status $status: $output"
	[ "$status" -eq 0 ]
	FLOODED=$output
}

# count NAME: the value of NAME=N in FLOODED.
count() {
	local v
	v=$(printf '%s\n' "$FLOODED" | tr ' ' '\n' | sed -n "s/^$1=//p")
	echo "${v:-0}"
}

@test "--max-per-client: one address holds at most N transfers; the others are served meanwhile" {
	make_root
	make_file big.bin 100000
	# --give-up 8: the silent transfers below end 8 s after their request.
	start_server --max-per-client 4 --rate-limit 0 --give-up 8
	# 20 requests from as many ports of 127.0.0.1, none ever answered.
	flood 127.0.0.1 requests 20 big.bin 2000
	[ "$(count served)" -eq 4 ]
	[ "$(count busy)" -eq 16 ]
	[ "$(count silent)" -eq 0 ]
	nchildren_is 4
	log_has 'warning: RRQ from 127\.0\.0\.1:[0-9]+ refused: server busy \(4 transfers from this address, --max-per-client\)'
	# Another address is served while the four transfers wait.
	fetch_same curl ::1 hello.txt
	nchildren_is 4
	# The same address is not.
	run fetch_same curl 127.0.0.1 hello.txt
	[ "$status" -ne 0 ]
	# Each silent transfer ends --give-up after its request; then the
	# address is served again.
	wait_for 20 no_children
	fetch_same curl 127.0.0.1 hello.txt
}

@test "default limits: a flood of silent requests from one address never denies another" {
	make_root
	make_file big.bin 100000
	start_server
	# More than --max-clients (256) requests from one address: only the
	# default 8 are taken; the rest get ERROR 0 (while the per-address
	# allowance of refusals lasts) or nothing.
	flood 127.0.0.1 requests 300 big.bin 2000
	[ "$(count served)" -eq 8 ]
	[ "$(count refused)" -eq 0 ]
	[ "$(count busy)" -ge 10 ]
	[ "$(count busy)" -le 120 ]
	nchildren_is 8
	fetch_same curl ::1 hello.txt
	fetch_same curl ::1 big.bin
	log_has 'server busy \(8 transfers from this address, --max-per-client\)'
}

@test "--rate-limit: new transfers from one address beyond the rate and its burst get ERROR 0 busy" {
	make_root
	start_server --max-per-client 0 --rate-limit 5
	# 25 requests at once for a missing file: each served one ends at
	# once with ERROR 1, so only the rate holds them back.  A burst of
	# 2 x 5, plus what refills while they are sent (one per 200 ms).
	flood 127.0.0.1 requests 25 nosuch.bin 2000
	echo "refused=$(count refused) busy=$(count busy)"
	[ "$(count refused)" -ge 10 ]
	[ "$(count refused)" -le 12 ]
	[ "$(count busy)" -eq $((25 - $(count refused))) ]
	log_has 'warning: RRQ from 127\.0\.0\.1:[0-9]+ refused: server busy \(over 5 new transfers a second from this address, --rate-limit\)'
	# Another address has its own allowance.
	fetch_same curl ::1 hello.txt
	# The bucket refills: the address is served again.
	wait_for 5 fetch_same curl 127.0.0.1 hello.txt
}

@test "--rate-limit 0 and --max-per-client 0 turn the limits off" {
	make_root
	start_server --max-per-client 0 --rate-limit 0
	flood 127.0.0.1 requests 60 nosuch.bin 3000
	[ "$(count refused)" -eq 60 ]
	[ "$(count busy)" -eq 0 ]
}

@test "malformed datagrams: ERROR replies and log lines are rate-limited, with a summary line" {
	make_root
	start_server
	flood 127.0.0.1 garbage 20000 1000
	# 20 a second per source, in bursts of 50, however long the flood
	# took (longer on a loaded machine).
	local most=$((50 + 20 * ($(count ms) / 1000 + 1)))
	echo "replies: $(count replies), at most $most"
	[ "$(count replies)" -ge 20 ]
	[ "$(count replies)" -le "$most" ]
	log_has 'rate limit: [0-9]+ log lines and [0-9]+ ERROR replies about refused requests suppressed in the last [0-9.]+ s'
	# 20 lines a second in bursts of 50, not one per datagram (and a few
	# for the start and the summaries).
	echo "log lines: $(wc -l <"$SERVER_LOG")"
	[ "$(wc -l <"$SERVER_LOG")" -le $((most + 10)) ]
	# The server still serves, and another address still gets its
	# ERROR for a malformed request.
	fetch_same curl 127.0.0.1 hello.txt
	run "$PROBE" ::1 "$PORT" bad-opcode
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "a client's timeout option holds a silent transfer no longer than --give-up" {
	make_root
	make_file big.bin 100000
	local strict
	for strict in "" --strict-timeout; do
		start_server --give-up 2 $strict
		# Confirmed (blocks acknowledged, then silence) and unconfirmed
		# (the OACK never acknowledged), both asking for 255 s.
		"$PROBE" 127.0.0.1 "$PORT" backoff big.bin 5 3000 300 timeout 255 || true
		"$PROBE" ::1 "$PORT" oack-silence big.bin 1 2500 timeout 255 || true
		# Each ends after the 2 s without progress, not 255 s or more.
		wait_for 10 no_children
		log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: failed: client silent, gave up after 2\.0 s'
		log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: failed: no reply from the client, gave up after 2\.0 s'
		stop_server
	done
}

@test "netascii tsize: counted for files up to 4 MiB, left out of the OACK above" {
	make_root
	# Text lines: every LF becomes CR LF, so the netascii size is larger
	# than the file's.
	yes 'a line of text' | head -c 4194304 >"$ROOT/4m.txt"
	cp "$ROOT/4m.txt" "$ROOT/4m1.txt"
	printf 'x' >>"$ROOT/4m1.txt"
	chmod 644 "$ROOT/4m.txt" "$ROOT/4m1.txt"
	local want
	want=$((4194304 + $(tr -cd '\n' <"$ROOT/4m.txt" | wc -c)))
	start_server
	run "$PROBE" 127.0.0.1 "$PORT" oack 4m.txt "$BATS_TEST_TMPDIR/out" \
		netascii "tsize=$want,blksize=65464" tsize 0 blksize 65464
	echo "$output"
	[ "$status" -eq 0 ]
	# One byte more: the server does not read 4 MiB to answer a request,
	# and the OACK goes without tsize (RFC 2347 lets it leave an option
	# out).
	run "$PROBE" 127.0.0.1 "$PORT" oack 4m1.txt "$BATS_TEST_TMPDIR/out" \
		netascii blksize=65464 tsize 0 blksize 65464
	echo "$output"
	[ "$status" -eq 0 ]
	# In octet mode the size is known without reading: tsize is sent.
	run "$PROBE" 127.0.0.1 "$PORT" oack 4m1.txt "$BATS_TEST_TMPDIR/out" \
		octet tsize=4194305 tsize 0
	echo "$output"
	[ "$status" -eq 0 ]
}

@test "--max-per-client and --rate-limit: bad values are refused, naming the option" {
	run "$CTFTPD" --max-per-client x /tmp
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value 'x' for --max-per-client"* ]]
	run "$CTFTPD" --rate-limit 100001 /tmp
	[ "$status" -eq 2 ]
	[[ "$output" == *"invalid value '100001' for --rate-limit"* ]]
	run "$CTFTPD" --max-per-client 65536 /tmp
	[ "$status" -eq 2 ]
}
