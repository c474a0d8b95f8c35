#!/usr/bin/env bats
# The command line: help, version, bad values (refused before anything is
# bound), exit statuses, signals, detaching.

load helpers

@test "--help lists every option and exits 0" {
	run "$CTFTPD" --help
	[ "$status" -eq 0 ]
	for opt in --address --host --port --file-directory --max-block-size \
		--blocksize --max-window --refuse --timeout --min-timeout \
		--retransmit --retries --give-up --strict-timeout \
		--max-clients --permissive --foreground \
		--verbose --verbosity --help --version --listen --inetd \
		--idle-timeout --pidfile --user --group --secure --chroot \
		--umask --port-range --ipv4 --ipv6 --create --map-file \
		--readonly --max-upload-size; do
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
	bad_value "--give-up" --give-up 0 "$ROOT"
	bad_value "--give-up" --give-up 3601 "$ROOT"
	bad_value "--give-up" --give-up 5s "$ROOT"
	bad_value "--max-block-size" --max-block-size 7 "$ROOT"
	bad_value "--max-block-size" --max-block-size 65465 "$ROOT"
	bad_value "--max-block-size" --max-block-size 99999999999999999999 "$ROOT"
	bad_value "--max-clients" --max-clients 0 "$ROOT"
	bad_value "--verbose" --verbose=9 "$ROOT"
	bad_value "--address" --host not-an-address "$ROOT"
	bad_value "--address" --address 127.0.0.1:99999 "$ROOT"
	bad_value "--idle-timeout" --idle-timeout 1x "$ROOT"
	bad_value "--port-range" --port-range 5000 "$ROOT"
	bad_value "--port-range" --port-range 6000:5000 "$ROOT"
	bad_value "--port-range" --port-range 0:10 "$ROOT"
	bad_value "--umask" --umask 8 "$ROOT"
	bad_value "--umask" --umask 01777 "$ROOT"
	bad_value "--retransmit" -T 999 "$ROOT"
	bad_value "--min-timeout" --min-timeout 0 "$ROOT"
	bad_value "--max-window" --max-window 0 "$ROOT"
	bad_value "--max-window" --max-window 32768 "$ROOT"
	bad_value "--group needs --user" --group root "$ROOT"
	bad_value "--refuse" --refuse multicast "$ROOT"
	bad_value "--verbosity" --verbosity 4 "$ROOT"
	bad_value "--max-upload-size" --max-upload-size 1T "$ROOT"
	bad_value "--map-file $BATS_TEST_TMPDIR/none: No such file or directory" \
		-m "$BATS_TEST_TMPDIR/none" "$ROOT"
	bad_value "--map-test needs --map-file" --map-test "$ROOT"
	bad_value "--user 'no-such-user-here': no such user" --user no-such-user-here "$ROOT"
	bad_value "--group 'no-such-group-here': no such group" --user root --group no-such-group-here "$ROOT"
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

@test "--inetd without a socket on standard input exits 2" {
	make_root
	run "$CTFTPD" --inetd "$ROOT" </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"standard input is not a datagram socket"* ]]
}

@test "-T sets the retransmission ceiling in microseconds (tftpd-hpa's unit)" {
	make_root
	make_file big.bin 5000
	# A 200 ms timer that does not adapt (--min-timeout at it): after 3
	# prompt ACKs the client falls silent and the copies of block 3 come
	# 200, 400 and 800 ms apart.  With the default 1 s timer (-T ignored)
	# only one would come within the 1.5 s the probe listens.
	start_server -T 200000 --min-timeout 200
	run "$PROBE" 127.0.0.1 "$PORT" backoff big.bin 3 1500 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"gaps (ms): 2"* ]]
}

@test "-4 binds IPv4 only, -6 IPv6 only" {
	make_root
	PORT=$(free_port)
	"$CTFTPD" -L -4 --port "$PORT" "$ROOT" 2>"$BATS_TEST_TMPDIR/log4" 3>&- &
	SERVER_PID=$!
	SERVER_LOG="$BATS_TEST_TMPDIR/log4"
	wait_for 10 grep -q "listening on 0.0.0.0:$PORT" "$SERVER_LOG"
	! grep -q 'listening on \[' "$SERVER_LOG"
	stop_server
	"$CTFTPD" -L -6 --port "$PORT" "$ROOT" 2>"$BATS_TEST_TMPDIR/log6" 3>&- &
	SERVER_PID=$!
	SERVER_LOG="$BATS_TEST_TMPDIR/log6"
	wait_for 10 grep -q "listening on \[::\]:$PORT" "$SERVER_LOG"
	! grep -q 'listening on 0.0.0.0' "$SERVER_LOG"
}

@test "--pidfile: written, locked against a second instance, removed on SIGTERM" {
	make_root
	PORT=$(free_port)
	local pidfile="$BATS_TEST_TMPDIR/ctftpd.pid" pid
	# $AS_ROOT: the daemon removes its own pidfile (as root: under
	# tftp it could not); --log-file: where there is no syslog.
	# shellcheck disable=SC2086 # a word list
	run "$CTFTPD" --host 127.0.0.1 --port "$PORT" --pidfile "$pidfile" $AS_ROOT \
		--log-file "$BATS_TEST_TMPDIR/ctftpd.log" "$ROOT" 3>&-
	[ "$status" -eq 0 ]
	wait_for 5 test -s "$pidfile"
	pid=$(cat "$pidfile")
	kill -0 "$pid"
	# The same pidfile: refused while the first one lives.
	run "$CTFTPD" --host 127.0.0.1 --port $((PORT + 1)) --pidfile "$pidfile" \
		--log-file "$BATS_TEST_TMPDIR/ctftpd.log" "$ROOT" 3>&-
	[ "$status" -eq 1 ]
	[[ "$output" == *"already running (pid $pid)"* ]]
	[ "$(cat "$pidfile")" = "$pid" ]
	kill -TERM "$pid"
	wait_for 5 sh -c "! kill -0 $pid"
	wait_for 5 test ! -e "$pidfile"
}

@test "--port-range: transfers come from a port inside the range" {
	make_root
	make_file f.bin 3000
	start_server --port-range 40100:40103
	local i
	for i in 1 2 3; do
		run "$PROBE" 127.0.0.1 "$PORT" get f.bin "$BATS_TEST_TMPDIR/out"
		[ "$status" -eq 0 ]
		cmp "$BATS_TEST_TMPDIR/out" "$ROOT/f.bin"
	done
	# The probe names the transfer's port (its TID) in its diagnosis.
	run "$PROBE" 127.0.0.1 "$PORT" get f.bin "$BATS_TEST_TMPDIR/out"
	echo "$output"
	[[ "$output" =~ "from TID 127.0.0.1:4010"[0-3]$ ]]
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

@test "SIGHUP says what it re-opened (nothing, on standard error) and the server keeps serving" {
	start_server
	kill -HUP "$SERVER_PID"
	wait_for 5 grep -q 'logging to standard error: nothing to re-open' "$SERVER_LOG"
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
	PORT=$(free_port)
	# 3>&-: bats waits for fd 3 to close; the daemon must not hold it.
	# shellcheck disable=SC2086 # a word list
	run "$CTFTPD" --host 127.0.0.1 --port "$PORT" $AS_ROOT \
		--log-file "$BATS_TEST_TMPDIR/ctftpd.log" "$ROOT" 3>&-
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

@test "--verbose=3 logs a line per packet a transfer sends and receives" {
	make_root
	make_file f.bin 2000
	start_server --verbose=3
	run curl -sS --fail -o /dev/null "tftp://127.0.0.1:$PORT/f.bin"
	[ "$status" -eq 0 ]
	wait_for 5 grep -q 'complete' "$SERVER_LOG"
	cat "$SERVER_LOG"
	# 2000 bytes: three blocks of 512 and one of 464, each acknowledged.
	local b
	for b in 1 2 3; do
		log_has "debug: 127\\.0\\.0\\.1:[0-9]+: sent DATA $b, 512 bytes\$"
		log_has "debug: 127\\.0\\.0\\.1:[0-9]+: received ACK $b\$"
	done
	log_has 'debug: 127\.0\.0\.1:[0-9]+: sent DATA 4, 464 bytes$'
	log_has 'debug: 127\.0\.0\.1:[0-9]+: received ACK 4$'
	log_lacks 'suppressed'
}

@test "--verbose=3: per-packet lines are rate-limited per transfer, with a count of those left out" {
	make_root
	make_file big.bin 1048576
	start_server --verbose=3
	run curl -sS --fail -o /dev/null --tftp-blksize 512 "tftp://127.0.0.1:$PORT/big.bin"
	[ "$status" -eq 0 ]
	wait_for 10 grep -q 'complete' "$SERVER_LOG"
	local line lines suppressed
	line=$(grep 'complete' "$SERVER_LOG")
	parse_summary "$line"
	# 2049 DATA (the last one empty) and as many ACKs, at least.
	lines=$(log_count ': (sent|received) (DATA|ACK|OACK)')
	suppressed=$(grep -Eo '[0-9]+ per-packet lines suppressed' "$SERVER_LOG" |
		awk '{ n += $1 } END { print n + 0 }')
	echo "logged $lines, suppressed $suppressed, in $S_SECONDS s"
	[ "$suppressed" -gt 0 ]
	[ $((lines + suppressed)) -ge 4098 ]
	# A burst of 100, then 50 a second.
	[ "$lines" -le $((100 + 50 * (${S_SECONDS%.*} + 1))) ]
	# The count comes before the summary line.
	grep -n 'per-packet lines suppressed' "$SERVER_LOG" | tail -n 1 |
		awk -F: -v s="$(grep -n 'complete' "$SERVER_LOG" | cut -d: -f1)" \
			'{ exit !($1 < s) }'
}
