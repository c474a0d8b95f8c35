#!/usr/bin/env bats
# Hostile and unusual datagrams, sent by tests/probe to a real server on the
# loopback: malformed requests, traversal, foreign TIDs, duplicate ACKs,
# silence, repeated requests.  Each test starts its own server.

load helpers

HOSTS="127.0.0.1 ::1"

# probe_pass HOST SCENARIO [ARGS...]: the probe must report PASS.
probe_pass() {
	local host=$1
	shift
	run "$PROBE" "$host" "$PORT" "$@"
	echo "probe $host $*: status $status: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == PASS* ]]
}

# log_has PATTERN: the server log gets a line matching PATTERN (grep -E)
# within 10 s.
log_has() {
	wait_for 10 grep -Eq -- "$1" "$SERVER_LOG" || {
		echo "no log line matching: $1" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

# log_lacks PATTERN: no line of the server log matches PATTERN (grep -E).
# (A bare "! grep" would not fail a bats test unless it is the last line.)
log_lacks() {
	if grep -Eq -- "$1" "$SERVER_LOG"; then
		echo "unexpected log line matching: $1" >&2
		grep -E -- "$1" "$SERVER_LOG" >&2
		return 1
	fi
}

no_zombies() {
	[ "$(zombies_of)" -eq 0 ]
}

# transfer summaries for a file: the one line a finished transfer logs
# ("... file \"NAME\" mode octet: OUTCOME; ...").  Refusals say "refused".
summaries_for() {
	grep -c "file \"$1\" mode [a-z]*: " "$SERVER_LOG" || true
}

server_alive() {
	kill -0 "$SERVER_PID"
}

@test "probe: usage errors exit 2, other addresses are refused" {
	run "$PROBE"
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 69 no-such-scenario
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 0 truncated
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 69 get
	[ "$status" -eq 2 ]
	# The probe sends hostile packets: never anywhere but the loopback.
	local host
	for host in 192.0.2.1 127.0.0.2 127.1.0.1 ::ffff:127.0.0.1 ::2 localhost; do
		run "$PROBE" "$host" 69 truncated
		echo "$host: $status $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"127.0.0.1 or ::1"* || "$output" == *"probe:"* ]]
	done
}

@test "probe: a normal download is byte-exact (IPv4 and IPv6)" {
	make_root
	make_file big.bin 70000
	make_file exact.bin 2048
	start_server
	local host f
	for host in $HOSTS; do
		for f in hello.txt big.bin exact.bin; do
			rm -f "$BATS_TEST_TMPDIR/out"
			probe_pass "$host" get "$f" "$BATS_TEST_TMPDIR/out"
			cmp "$ROOT/$f" "$BATS_TEST_TMPDIR/out"
		done
	done
	log_has 'file "big.bin" mode octet: complete'
}

@test "probe: a missing file is ERROR 1, not a hang" {
	start_server
	run "$PROBE" 127.0.0.1 "$PORT" get no-such-file
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ERROR 1 "* ]]
}

@test "probe: truncated requests get ERROR 4 from the server port" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" truncated
	done
	server_alive
}

@test "probe: requests missing a NUL get ERROR 4" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" missing-nul
	done
	server_alive
}

@test "probe: an empty file name is ERROR 2" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" empty-name
	done
}

@test "probe: a 600-byte file name is ERROR 1, and so is a 4000-byte one" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" long-name 600
		probe_pass "$host" long-name 4000
	done
	server_alive
}

@test "probe: unknown opcodes get ERROR 4" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" bad-opcode
	done
}

@test "probe: DATA, ACK and OACK to the listening port get no reply" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" stray-opcode
	done
}

@test "probe: an ERROR to the listening port gets no reply" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" error-no-reply
	done
}

@test "probe: modes mail and foo are ERROR 4; OcTeT works" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" mode-refused
		rm -f "$BATS_TEST_TMPDIR/out"
		probe_pass "$host" get hello.txt "$BATS_TEST_TMPDIR/out" OcTeT
		cmp "$ROOT/hello.txt" "$BATS_TEST_TMPDIR/out"
	done
}

@test "probe: traversal and symlinks out of the root are refused" {
	make_root
	# Outside the root but world-readable: confinement is the only reason
	# left to refuse it.
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	echo secret >"$BATS_TEST_TMPDIR/outside/secret.txt"
	chmod 755 "$BATS_TEST_TMPDIR/outside"
	chmod 644 "$BATS_TEST_TMPDIR/outside/secret.txt"
	ln -s "$BATS_TEST_TMPDIR/outside/secret.txt" "$ROOT/escape"
	ln -s "$BATS_TEST_TMPDIR/outside" "$ROOT/outdir"
	ln -s ../outside/secret.txt "$ROOT/relescape"
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" traversal
		probe_pass "$host" traversal "../etc/passwd" "a/../../x" "/../x" ".."
		probe_pass "$host" traversal escape outdir/secret.txt relescape \
			"../outside/secret.txt"
	done
	log_lacks '(escape|secret\.txt)" mode [a-z]+: complete'
}

@test "probe: WRQ is ERROR 2 and creates nothing" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" wrq
	done
	[ ! -e "$ROOT/probe-new.bin" ]
	[ ! -e "$ROOT/probe-new.txt" ]
	cmp "$ROOT/hello.txt" <(printf 'hello, world\n')
}

@test "probe: an ACK from a foreign port gets ERROR 5 and the transfer goes on" {
	make_root
	make_file big.bin 5000
	start_server
	local host
	for host in $HOSTS; do
		rm -f "$BATS_TEST_TMPDIR/out"
		probe_pass "$host" foreign-tid big.bin "$BATS_TEST_TMPDIR/out"
		cmp "$ROOT/big.bin" "$BATS_TEST_TMPDIR/out"
	done
	log_has 'unknown TID'
}

@test "probe: duplicate ACKs never make the server send a block twice" {
	make_root
	make_file big.bin 20000
	make_file exact.bin 4096
	start_server
	local host f
	for host in $HOSTS; do
		for f in big.bin exact.bin; do
			rm -f "$BATS_TEST_TMPDIR/out"
			probe_pass "$host" dup-ack "$f" "$BATS_TEST_TMPDIR/out"
			cmp "$ROOT/$f" "$BATS_TEST_TMPDIR/out"
		done
	done
	# No retransmissions at all: every summary says 0.
	wait_for 10 no_children
	log_lacks 'file "(big|exact)\.bin".* [1-9][0-9]* retransmits'
}

@test "probe: a silent client gets --retries resends, then the server gives up" {
	make_root
	make_file big.bin 2000
	start_server --timeout 1 --retries 2
	probe_pass 127.0.0.1 silence big.bin 3
	log_has 'file "big.bin" mode octet: .*gave up'
	log_has 'gave up.* 2 retransmits'
	[ "$(summaries_for big.bin)" -eq 1 ]
}

@test "probe: a silent IPv6 client gets the same treatment" {
	make_root
	make_file big.bin 2000
	start_server --timeout 1 --retries 2
	probe_pass ::1 silence big.bin 3
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" .*gave up'
}

@test "probe: a repeated RRQ starts exactly one transfer" {
	make_root
	make_file twice4.bin 3000
	make_file twice6.bin 3000
	# The probe waits 1.5 s before its first ACK: --retries 2 keeps the
	# real transfer alive well past that, and a second, phantom transfer
	# would give up (and log its summary) after 3 s of silence, before
	# no_children can succeed.
	start_server --timeout 1 --retries 2
	local host f
	for host in $HOSTS; do
		f=twice4.bin
		[ "$host" = ::1 ] && f=twice6.bin
		rm -f "$BATS_TEST_TMPDIR/out"
		probe_pass "$host" retransmitted-rrq "$f" "$BATS_TEST_TMPDIR/out"
		cmp "$ROOT/$f" "$BATS_TEST_TMPDIR/out"
		log_has "file \"$f\" mode octet: complete"
		wait_for 10 no_children
		echo "summaries for $f: $(summaries_for "$f")"
		[ "$(summaries_for "$f")" -eq 1 ]
	done
}

@test "probe: an ERROR from the client ends the transfer at once" {
	make_root
	make_file big.bin 5000
	start_server --timeout 1 --retries 3
	local host
	for host in $HOSTS; do
		probe_pass "$host" client-error big.bin 2500
	done
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" .*ended by client'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" .*ended by client'
	log_lacks 'file "big\.bin" .*gave up'
}

@test "probe: the server survives the whole hostile set and serves afterwards" {
	make_root
	make_file big.bin 3000
	start_server
	local host s
	for host in $HOSTS; do
		for s in truncated missing-nul empty-name bad-opcode \
			error-no-reply mode-refused traversal wrq; do
			probe_pass "$host" "$s"
		done
	done
	server_alive
	wait_for 5 no_zombies
	rm -f "$BATS_TEST_TMPDIR/out"
	probe_pass 127.0.0.1 get big.bin "$BATS_TEST_TMPDIR/out"
	cmp "$ROOT/big.bin" "$BATS_TEST_TMPDIR/out"
}
