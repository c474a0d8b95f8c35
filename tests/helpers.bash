# Shared by the bats suites: a server on a free high port on 127.0.0.1 and
# ::1, in a temporary root, started and stopped by its pid; its log read
# line by line and its per-transfer summary lines split into fields.  The
# real TFTP clients are in clients.bash, loaded at the end.  Nothing here
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

# make_root [DIR]: a fresh root in $ROOT (DIR, or root under the test's
# temporary directory) holding hello.txt, world-readable.
make_root() {
	ROOT=${1:-$BATS_TEST_TMPDIR/root}
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

# size_of FILE: its size in bytes.
size_of() {
	wc -c <"$1" | tr -d ' '
}

# netascii_encode IN OUT: RFC 764 encoding, computed independently of the
# daemon: CR -> CR NUL, then LF -> CR LF.
netascii_encode() {
	perl -0777 -pe 's/\r/\r\0/g; s/\n/\r\n/g' <"$1" >"$2"
}

# mixed_line_ends N: N numbered lines of text ending in LF, with a lone CR
# every 7th line and a CR LF every 11th, so that netascii conversion state
# crosses block boundaries at many offsets.
mixed_line_ends() {
	local i
	for i in $(seq 1 "$1"); do
		printf 'line %d\n' "$i"
		if [ $((i % 7)) -eq 0 ]; then printf 'cr %d\r' "$i"; fi
		if [ $((i % 11)) -eq 0 ]; then printf 'dos %d\r\n' "$i"; fi
	done
}

# same FILE EXPECTED: cmp, saying both sizes when they differ.
same() {
	if ! cmp "$1" "$2" >&2; then
		echo "$1 differs from $2 ($(size_of "$1" 2>/dev/null) vs" \
			"$(size_of "$2") bytes)" >&2
		return 1
	fi
}

server_ready() {
	grep -q 'listening on \[::1\]' "$SERVER_LOG"
}

server_dead() {
	! kill -0 "$SERVER_PID" 2>/dev/null
}

server_alive() {
	kill -0 "$SERVER_PID"
}

# AS_ROOT: as root, "--user root": a test server stays root, as it was before
# ctftpd dropped to tftp or nobody by default (the temporary roots are
# private to the test's user).  Tests of the drop give --user or leave it.
AS_ROOT=
[ "$(id -u)" -ne 0 ] || AS_ROOT="--user root"
# The warning that line brings, which log_lacks does not count.
AS_ROOT_WARNING='warning: running as root \(--user root\)'

# port_in_use PORT: a UDP socket, IPv4 or IPv6, holds PORT now.
port_in_use() {
	local hex
	printf -v hex '%04X' "$1"
	grep -Eq "^ *[0-9]+: [0-9A-F]+:$hex " /proc/net/udp /proc/net/udp6 \
		2>/dev/null
}

# free_port: print a UDP port from 20000 up that no socket holds now, below
# the kernel's ephemeral range (ip_local_port_range, 32768 up by default) so
# that no client or transfer socket takes it before the server binds it.
# Where that range starts too low to leave room, any port up to 59999.
# Fails after 50 tries.
free_port() {
	local try p lo=32768 span
	read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
	span=$((lo - 20000))
	[ "$span" -ge 1000 ] || span=40000
	for try in $(seq 50); do
		p=$((20000 + RANDOM % span))
		if ! port_in_use "$p"; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# start_server [ARGS...]: start ctftpd in the foreground on 127.0.0.1 and
# ::1 on a free high port (sets PORT, SERVER_PID, SERVER_LOG), serving
# $ROOT (make_root is called if needed).  Extra ARGS go to ctftpd, after
# $AS_ROOT, those in $CTFTPD_TEST_ARGS (a suite-wide default; later options
# win) and in $CTFTPD_MODE_ARGS (set from outside to run a whole suite in
# another mode: single-port.bats runs the client and probe suites with
# --single-port).
start_server() {
	[ -n "${ROOT:-}" ] || make_root
	SERVER_LOG="$BATS_TEST_TMPDIR/server.log"
	local try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		PORT=$(free_port) || break
		: >"$SERVER_LOG"
		# shellcheck disable=SC2086 # word lists
		"$CTFTPD" --foreground --host 127.0.0.1 --host ::1 --port "$PORT" \
			$AS_ROOT ${CTFTPD_TEST_ARGS:-} ${CTFTPD_MODE_ARGS:-} "$@" "$ROOT" \
			2>"$SERVER_LOG" &
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

# live_children_of PARENT: the pids of PARENT's children that are not zombies.
live_children_of() {
	ps -o pid=,stat= --ppid "$1" 2>/dev/null | awk '$2 !~ /^Z/ { print $1 }'
}

# zombies_of: the number of zombie children of the server.
zombies_of() {
	ps -o stat= --ppid "$SERVER_PID" | grep -c '^Z' || true
}

# no_children: true once the server has no child processes left.
no_children() {
	[ -z "$(children_of)" ]
}

no_zombies() {
	[ "$(zombies_of)" -eq 0 ]
}

# nchildren: how many child processes the server has, zombies included.
nchildren() {
	children_of | wc -l
}

nchildren_is() {
	[ "$(nchildren)" -eq "$1" ]
}

# need COMMAND PACKAGE: skip the test when COMMAND is not installed.
need() {
	command -v "$1" >/dev/null 2>&1 || skip "$1 not found (apt-get install $2)"
}

# ---- the server log ----------------------------------------------------------
# Patterns are extended regular expressions (grep -E): escape ( ) [ ] . when
# they are meant literally.

# log_has PATTERN: a line of the server log matches PATTERN within 10 s
# (the summary of a transfer comes a moment after its client is done).
log_has() {
	wait_for 10 grep -Eq -- "$1" "$SERVER_LOG" || {
		echo "no log line matching: $1" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

# log_lacks PATTERN: no line of the server log matches PATTERN, now, but
# the warning of $AS_ROOT.  (A bare "! grep" would not fail a bats test
# unless it is the last line.)
log_lacks() {
	if grep -Ev -- "$AS_ROOT_WARNING" "$SERVER_LOG" | grep -Eq -- "$1"; then
		echo "unexpected log line matching: $1" >&2
		grep -E -- "$1" "$SERVER_LOG" >&2
		return 1
	fi
}

# log_count PATTERN: how many lines of the server log match PATTERN.
log_count() {
	grep -Ec -- "$1" "$SERVER_LOG" || true
}

# log_count_is N PATTERN: exactly N lines match (a condition for wait_for).
log_count_is() {
	[ "$(log_count "$2")" -eq "$1" ]
}

# log_count_becomes N PATTERN: exactly N lines match within 10 s; the log is
# shown when they do not.
log_count_becomes() {
	wait_for 10 log_count_is "$1" "$2" || {
		echo "expected $1 log lines matching: $2; log:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

# ---- per-transfer summary lines ---------------------------------------------
# A transfer that started logs one line when it ends (src/transfer.c):
#   RRQ from 127.0.0.1:40000 file "f.bin" mode octet: complete; 1000 bytes,
#   2 blocks, 0 retransmits, 0.001 s; cache fill; blksize 512, windowsize 1
# (one line), with ' -> "MAPPED"' after the name when a remap rule rewrote
# it.  Names are logged escaped: \" and \\ for a quote and a backslash.  A
# request refused before anything was sent logs a short form without the
# numbers, which is not a summary here.
SUMMARY_NAME='"(([^"\\]|\\.)*)"'
SUMMARY_RE="(RRQ|WRQ) from (.+) file $SUMMARY_NAME( -> $SUMMARY_NAME)? mode ([a-z]+): (.*); ([0-9]+) bytes, ([0-9]+) blocks, ([0-9]+) retransmits, ([0-9.]+) s; cache ([a-z]+); blksize ([0-9]+), windowsize ([0-9]+)\$"
# The fields, and the group of SUMMARY_RE each is in.
SUMMARY_FIELDS="request:1 client:2 file:3 mapped:6 mode:8 outcome:9 bytes:10
blocks:11 retransmits:12 seconds:13 cache:14 blksize:15 windowsize:16"

# parse_summary LINE: split a summary line into S_REQUEST (RRQ or WRQ),
# S_CLIENT (address:port), S_FILE (as logged), S_MAPPED (the remapped name,
# or empty), S_MODE, S_OUTCOME ("complete", "failed: ...", "client gone
# ..."), S_BYTES, S_BLOCKS, S_RETRANSMITS, S_SECONDS, S_CACHE (hit, fill,
# miss or off), S_BLKSIZE and S_WINDOWSIZE.  Fails when LINE is not a
# summary line.
parse_summary() {
	local f name
	[[ $1 =~ $SUMMARY_RE ]] || return 1
	for f in $SUMMARY_FIELDS; do
		name=${f%:*}
		printf -v "S_${name^^}" '%s' "${BASH_REMATCH[${f#*:}]}"
	done
}

# summaries [NAME [OUTCOME]]: the summary lines (of file NAME, with exactly
# that OUTCOME), oldest first.
summaries() {
	local line
	while IFS= read -r line; do
		parse_summary "$line" || continue
		[ $# -lt 1 ] || [ "$S_FILE" = "$1" ] || continue
		[ $# -lt 2 ] || [ "$S_OUTCOME" = "$2" ] || continue
		printf '%s\n' "$line"
	done <"$SERVER_LOG"
}

# summary_count [NAME [OUTCOME]]: how many there are.
summary_count() {
	summaries "$@" | wc -l
}

# summaries_are N [NAME [OUTCOME]]: exactly N (a condition for wait_for).
summaries_are() {
	[ "$(summary_count "${@:2}")" -eq "$1" ]
}

# summaries_at_least N [NAME [OUTCOME]]: N or more (for wait_for).
summaries_at_least() {
	[ "$(summary_count "${@:2}")" -ge "$1" ]
}

# summary_values FIELD NAME: FIELD (as named in SUMMARY_FIELDS) of each
# summary of file NAME, oldest first, on one line: "fill hit hit".
summary_values() {
	local line v=S_${1^^} out=()
	while IFS= read -r line; do
		parse_summary "$line"
		out+=("${!v}")
	done < <(summaries "$2")
	echo "${out[*]}"
}

# last_is_hit NAME: the newest summary of NAME says cache hit.
last_is_hit() {
	[ "$(summary_values cache "$1" | awk '{print $NF}')" = hit ]
}

# fetched_from_cache NAME: a fetch of NAME with curl brings the file's
# bytes, and the newest summary of NAME says hit (a condition for wait_for).
fetched_from_cache() {
	tftp_get curl 127.0.0.1 "$1" "$BATS_TEST_TMPDIR/cached" &&
		cmp -s "$BATS_TEST_TMPDIR/cached" "$ROOT/$1" && last_is_hit "$1"
}

# summary_is LINE FIELD=VALUE...: LINE is a summary line, and each FIELD
# (as named in SUMMARY_FIELDS) has exactly that VALUE.
summary_is() {
	local line=$1 kv v
	shift
	if ! parse_summary "$line"; then
		echo "not a transfer summary: $line" >&2
		return 1
	fi
	for kv in "$@"; do
		v=S_${kv%%=*}
		v=${v^^}
		if [ "${!v}" != "${kv#*=}" ]; then
			echo "summary ${kv%%=*} is '${!v}', expected '${kv#*=}':" >&2
			echo "$line" >&2
			return 1
		fi
	done
}

# Clients held open with SIGSTOP (a test adds their pids to HELD_PIDS);
# teardown ends any that a failed test left, then the server.
HELD_PIDS=

end_held_clients() {
	local pid
	for pid in $HELD_PIDS; do
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	HELD_PIDS=
}

teardown() {
	end_held_clients
	stop_server
}

load clients
