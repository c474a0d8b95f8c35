#!/usr/bin/env bats
# The command line: help, version, bad values (refused before anything is
# bound), exit statuses, signals, detaching.

load helpers

@test "--help lists every option and exits 0" {
	run "$CTFTPD" --help
	[ "$status" -eq 0 ]
	for opt in --address --host --port --file-directory --max-block-size \
		--timeout --retries --max-clients --permissive --foreground \
		--verbose --help --version; do
		[[ "$output" == *"$opt"* ]] || { echo "missing $opt"; return 1; }
	done
}

@test "--version prints the package version and exits 0" {
	run "$CTFTPD" --version
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^ctftpd\ [0-9]+\.[0-9]+ ]]
}

# bad_value EXPECTED-TEXT ARGS...: exit status 2 and a message naming it.
bad_value() {
	local want=$1
	shift
	run "$CTFTPD" --foreground --port 1 "$@"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$want"* ]]
}

@test "bad values exit 2 with a message naming the option" {
	make_root
	bad_value "--port" --port 70000 "$ROOT"
	bad_value "--port" --port 0 "$ROOT"
	bad_value "--port" --port 12ab "$ROOT"
	bad_value "--port" --port -5 "$ROOT"
	bad_value "--timeout" --timeout 0 "$ROOT"
	bad_value "--timeout" --timeout 256 "$ROOT"
	bad_value "--retries" --retries 0 "$ROOT"
	bad_value "--max-block-size" --max-block-size 7 "$ROOT"
	bad_value "--max-block-size" --max-block-size 65465 "$ROOT"
	bad_value "--max-block-size" --max-block-size 99999999999999999999 "$ROOT"
	bad_value "--max-clients" --max-clients 0 "$ROOT"
	bad_value "--verbose" --verbose=9 "$ROOT"
	bad_value "--address" --host not-an-address "$ROOT"
	bad_value "--address" --address 127.0.0.1:99999 "$ROOT"
	bad_value "unknown option" --no-such-option "$ROOT"
	bad_value "needs a value" "$ROOT" --timeout
	bad_value "unexpected argument" "$ROOT" "$ROOT"
}

@test "a missing or non-directory root exits 2 before binding" {
	make_root
	bad_value "No such file" "$BATS_TEST_TMPDIR/nonexistent"
	bad_value "not a directory" "$ROOT/hello.txt"
	bad_value "No such file" --file-directory "$BATS_TEST_TMPDIR/none"
}

@test "bad values are refused before binding: a taken port is not reported" {
	start_server
	# The port is in use; validation must fail first, with status 2.
	run "$CTFTPD" --foreground --host 127.0.0.1 --port "$PORT" --timeout 0 "$ROOT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--timeout"* ]]
	[[ "$output" != *"in use"* ]]
}

@test "a port already in use exits 1 with the reason" {
	start_server
	run "$CTFTPD" --foreground --host 127.0.0.1 --port "$PORT" "$ROOT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"cannot listen on 127.0.0.1:$PORT"*"in use"* ]]
}

@test "SIGTERM stops the server with status 0 and a log line" {
	start_server
	kill -TERM "$SERVER_PID"
	# Not "run wait": run's subshell cannot wait for our child.
	local rc=0
	wait "$SERVER_PID" || rc=$?
	[ "$rc" -eq 0 ]
	SERVER_PID=
	grep -q 'stopped' "$SERVER_LOG"
}

@test "SIGINT stops the server with status 0" {
	start_server
	kill -INT "$SERVER_PID"
	# Not "run wait": run's subshell cannot wait for our child.
	local rc=0
	wait "$SERVER_PID" || rc=$?
	[ "$rc" -eq 0 ]
	SERVER_PID=
}

@test "SIGHUP re-opens the logs and the server keeps serving" {
	start_server
	kill -HUP "$SERVER_PID"
	wait_for 5 grep -q 're-opened' "$SERVER_LOG"
	run curl -sS --fail "tftp://127.0.0.1:$PORT/hello.txt"
	[ "$status" -eq 0 ]
	[ "$output" = "hello, world" ]
	kill -0 "$SERVER_PID"
}

daemon_pid() {
	pgrep -f -- "--port $PORT .*$ROOT" | head -n 1
}

@test "without --foreground it detaches, serves, and stops on SIGTERM" {
	make_root
	PORT=$((20000 + RANDOM % 40000))
	# 3>&-: bats waits for fd 3 to close; the daemon must not hold it.
	run "$CTFTPD" --host 127.0.0.1 --port "$PORT" "$ROOT" 3>&-
	# The command returns at once: the daemon lives on in the background.
	[ "$status" -eq 0 ]
	wait_for 5 daemon_pid
	local pid
	pid=$(daemon_pid)
	[ -n "$pid" ]
	# Detached: in a session of its own, not ours, and not our child.
	[ "$(ps -o sid= -p "$pid")" != "$(ps -o sid= -p $$)" ]
	[ "$(ps -o ppid= -p "$pid" | tr -d ' ')" != "$$" ]
	run curl -sS --fail "tftp://127.0.0.1:$PORT/hello.txt"
	kill -TERM "$pid"
	[ "$status" -eq 0 ]
	[ "$output" = "hello, world" ]
	wait_for 5 sh -c "! kill -0 $pid"
}

@test "the default verbosity logs one summary line per transfer" {
	start_server
	run curl -sS --fail -o /dev/null "tftp://127.0.0.1:$PORT/hello.txt"
	[ "$status" -eq 0 ]
	wait_for 5 grep -q 'complete' "$SERVER_LOG"
	run grep -c 'RRQ from 127.0.0.1:[0-9]* file "hello.txt" mode octet: complete; 13 bytes, 1 blocks, 0 retransmits, [0-9.]* s' "$SERVER_LOG"
	[ "$output" = 1 ]
}

@test "--verbose=0 logs no summary lines, only problems" {
	start_server --verbose=0
	run curl -sS --fail -o /dev/null "tftp://127.0.0.1:$PORT/hello.txt"
	[ "$status" -eq 0 ]
	run curl -sS -o /dev/null "tftp://127.0.0.1:$PORT/missing"
	[ "$status" -ne 0 ]
	! grep -q 'complete' "$SERVER_LOG"
}
