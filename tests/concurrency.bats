#!/usr/bin/env bats
# Concurrency: many transfers at once, the --max-clients limit, and a
# SIGTERM that stops the listener while transfers finish.  Every wait is for
# a condition; slow transfers are held open by stopping their client
# (SIGSTOP), not by hoping a transfer is still running.

load helpers

@test "100 simultaneous downloads with four clients: all intact, no zombies, 100 summaries" {
	# All 100 come from 127.0.0.1: lift the per-address limits.
	start_server --max-per-client 0 --rate-limit 0
	make_file one-mib 1048576
	fetch_many 100 one-mib
	wait_for 20 no_children
	[ "$(zombies_of)" -eq 0 ]
	log_count_becomes 100 'file "one-mib" mode octet: complete'
	# One summary per transfer, none of them a failure, no refusals.
	[ "$(log_count 'RRQ from')" -eq 100 ]
	[ "$(log_count 'server busy')" -eq 0 ]
	[ "$(log_count 'killed by signal')" -eq 0 ]
}

@test "--max-clients 2: requests beyond the limit get ERROR 0 server busy; running transfers finish" {
	local rc a b
	start_server --max-clients 2 --retries 10
	make_file big 41943040
	a="$BATS_TEST_TMPDIR/a.big"
	b="$BATS_TEST_TMPDIR/b.big"

	hold_open "$a"
	local pid_a=$HELD_PID
	hold_open "$b"
	local pid_b=$HELD_PID
	nchildren_is 2

	# Third and fourth requests while both slots are taken.
	tftp_get tftp-hpa 127.0.0.1 hello.txt "$BATS_TEST_TMPDIR/c.txt" || true
	grep -q 'Error code 0: server busy' "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$BATS_TEST_TMPDIR/c.txt" ]
	rc=0
	tftp_get curl 127.0.0.1 hello.txt "$BATS_TEST_TMPDIR/d.txt" || rc=$?
	[ "$rc" -ne 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/d.txt" ]
	log_count_becomes 2 'server busy'
	# The refusals forked nothing.
	nchildren_is 2

	kill -CONT "$pid_a" "$pid_b"
	rc=0
	wait "$pid_a" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$a.msg" >&2; false; }
	wait "$pid_b" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$b.msg" >&2; false; }
	cmp "$a" "$ROOT/big"
	cmp "$b" "$ROOT/big"
	log_count_becomes 2 'file "big" mode octet: complete'

	# The slots are free again.
	wait_for 20 no_children
	fetch_same curl 127.0.0.1 hello.txt
	[ "$(log_count 'server busy')" -eq 2 ]
}

@test "SIGTERM: the listener stops, the running transfer completes intact, exit status 0" {
	local rc a status
	start_server --retries 20
	make_file big 41943040
	a="$BATS_TEST_TMPDIR/a.big"

	hold_open "$a"
	local pid_a=$HELD_PID

	kill -TERM "$SERVER_PID"
	log_has 'stopping: no new requests'
	# The parent waits for its transfer: alive, with the child still there.
	kill -0 "$SERVER_PID"
	nchildren_is 1

	# New requests fail: nothing listens on the port any more ...
	if command -v ss >/dev/null 2>&1; then
		[ -z "$(ss -Hunl "sport = :$PORT")" ]
	fi
	# ... and a client gets no answer, on IPv4 or IPv6.
	rc=0
	curl -sS --fail --connect-timeout 1 -o "$BATS_TEST_TMPDIR/new.txt" \
		"tftp://127.0.0.1:$PORT/hello.txt" 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/new.txt" ]
	rc=0
	curl -sS --fail --connect-timeout 1 -o "$BATS_TEST_TMPDIR/new6.txt" \
		"tftp://[::1]:$PORT/hello.txt" 2>/dev/null || rc=$?
	[ "$rc" -ne 0 ]
	[ ! -s "$BATS_TEST_TMPDIR/new6.txt" ]
	[ "$(log_count 'file "hello.txt"')" -eq 0 ]
	# The transfer is still open through all that.
	kill -0 "$SERVER_PID"
	nchildren_is 1

	kill -CONT "$pid_a"
	rc=0
	wait "$pid_a" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$a.msg" >&2; false; }
	cmp "$a" "$ROOT/big"

	status=0
	wait "$SERVER_PID" || status=$?
	SERVER_PID=
	[ "$status" -eq 0 ]
	log_has 'file "big" mode octet: complete; 41943040 bytes'
	log_has 'stopped'
	[ "$(log_count 'killed by signal')" -eq 0 ]
}
