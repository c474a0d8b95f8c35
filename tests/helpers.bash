# Shared by the bats suites: a server on a free high port on 127.0.0.1 and
# ::1, in a temporary root, started and stopped by its pid.  Nothing here
# sleeps for a fixed time: every wait polls for a condition, with a bound.

: "${top_builddir:=$(cd "$BATS_TEST_DIRNAME/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
: "${CTFTPD:=$top_builddir/src/ctftpd}"
UNIT="$top_builddir/tests/unit"
PROBE="$top_builddir/tests/probe"

# wait_for SECONDS COMMAND...: run COMMAND every 20 ms until it succeeds.
# Returns 1 when it never did within SECONDS of wall-clock time.
wait_for() {
	local end=$((SECONDS + $1 + 1))
	shift
	until "$@" 2>/dev/null; do
		[ "$SECONDS" -ge "$end" ] && return 1
		sleep 0.02
	done
	return 0
}

# make_root: a fresh root in $ROOT with a few files of well-known sizes.
make_root() {
	ROOT="$BATS_TEST_TMPDIR/root"
	mkdir -p "$ROOT"
	chmod 755 "$ROOT"
	printf 'hello, world\n' >"$ROOT/hello.txt"
	chmod 644 "$ROOT/hello.txt"
}

# make_file NAME BYTES: a file of random bytes under $ROOT, world-readable.
make_file() {
	head -c "$2" /dev/urandom >"$ROOT/$1"
	chmod 644 "$ROOT/$1"
}

server_ready() {
	grep -q 'listening on \[::1\]' "$SERVER_LOG"
}

server_dead() {
	! kill -0 "$SERVER_PID" 2>/dev/null
}

# start_server [ARGS...]: start ctftpd in the foreground on 127.0.0.1 and
# ::1 on a free high port (sets PORT, SERVER_PID, SERVER_LOG), serving
# $ROOT (make_root is called if needed).  Extra ARGS go to ctftpd, after
# those in $CTFTPD_TEST_ARGS (a suite-wide default; later options win).
start_server() {
	[ -n "${ROOT:-}" ] || make_root
	SERVER_LOG="$BATS_TEST_TMPDIR/server.log"
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$((20000 + (RANDOM * 7 + try * 131) % 40000))
		: >"$SERVER_LOG"
		# shellcheck disable=SC2086 # CTFTPD_TEST_ARGS is a word list
		"$CTFTPD" --foreground --host 127.0.0.1 --host ::1 --port "$PORT" \
			${CTFTPD_TEST_ARGS:-} "$@" "$ROOT" 2>"$SERVER_LOG" &
		SERVER_PID=$!
		if wait_for 10 server_ready; then
			return 0
		fi
		if server_dead; then
			wait "$SERVER_PID" 2>/dev/null || true
			grep -q 'in use' "$SERVER_LOG" && continue
		fi
		echo "server did not start:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	done
	echo "no free port found" >&2
	return 1
}

# stop_server: SIGTERM, then wait for the process to exit.
stop_server() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || true
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# children_of: the pids of the server's child processes, zombies included.
children_of() {
	pgrep -P "$SERVER_PID" || true
}

# zombies_of: the number of zombie children of the server.
zombies_of() {
	ps -o stat= --ppid "$SERVER_PID" | grep -c '^Z' || true
}

# no_children: true once the server has no child processes left.
no_children() {
	[ -z "$(children_of)" ]
}

# Clients held open with SIGSTOP (a test adds their pids to HELD_PIDS);
# teardown ends any that a failed test left, then the server.
HELD_PIDS=

teardown() {
	local pid
	for pid in $HELD_PIDS; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	HELD_PIDS=
	stop_server
}
