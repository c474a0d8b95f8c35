#!/usr/bin/env bats
# Faults around the server: files that change while they are sent, fork and
# descriptor limits, the listener killed under running transfers, a burst
# of mixed garbage and requests, a transfer stopped holding the cache lock.
# Slow transfers are held open by stopping their client (SIGSTOP); every
# wait is for a condition.

load helpers

FLOOD="$top_builddir/tests/flood"
CACHE_TEST="$top_builddir/tests/cache_test"

# resume_fails: let the held client go on; it must fail.
resume_fails() {
	local rc=0
	kill -CONT "$HELD_PID"
	wait "$HELD_PID" || rc=$?
	echo "client exit status $rc: $(cat "$1.msg")"
	[ "$rc" -ne 0 ]
}

# ---- a file that changes while it is served from disk ---------------

# changed_during CHANGE: a new 40 MiB file from disk ($ROOT/big), held open
# in lockstep (read into a buffer) and again windowed (sent from a mapping of
# the file), is changed by the function CHANGE meanwhile; each transfer must
# end with ERROR 0 and the warning, never a complete.  The client's copies are
# $BATS_TEST_TMPDIR/out.lockstep and out.window, with the file as it was
# before the change in out.lockstep.orig and out.window.orig.
changed_during() {
	local n=0 w out
	make_root
	start_server --cache-size 0
	for w in "" 4; do
		out=$BATS_TEST_TMPDIR/out.$([ -n "$w" ] && echo window || echo lockstep)
		make_file big 41943040
		cp "$ROOT/big" "$out.orig"
		hold_open ${w:+-w "$w"} "$out" big
		if [ -n "$w" ]; then
			grep -qF " $(readlink -f "$ROOT/big")" "/proc/$HELD_CHILD/maps"
		fi
		"$@"
		resume_fails "$out"
		n=$((n + 1))
		log_count_becomes "$n" 'warning: RRQ from 127\.0\.0\.1:[0-9]+ file "big" mode octet: failed: file changed during the transfer'
	done
	log_lacks 'file "big" mode octet: complete'
}

shrink() {
	truncate -s 60000 "$ROOT/big"
}

@test "a file that shrinks during the transfer ends with ERROR 0 and a warning, never a short complete" {
	changed_during shrink
	[ "$(wc -c <"$BATS_TEST_TMPDIR/out.lockstep")" -lt 41943040 ]
	[ "$(wc -c <"$BATS_TEST_TMPDIR/out.window")" -lt 41943040 ]
}

grow() {
	head -c 100000 /dev/urandom >>"$ROOT/big"
}

@test "a file that grows during the transfer: no byte past the size announced, ERROR 0, a warning" {
	changed_during grow
	# Nothing beyond the size it had when opened came (the tsize curl was
	# told), and what came is the file's.
	for out in "$BATS_TEST_TMPDIR"/out.lockstep "$BATS_TEST_TMPDIR"/out.window; do
		[ "$(wc -c <"$out")" -le 41943040 ]
		cmp -n "$(wc -c <"$out")" "$out" "$out.orig"
	done
}

rewrite_start() {
	# New bytes at the start, already sent: only the modification time
	# tells.
	dd if=/dev/urandom of="$ROOT/big" bs=1024 count=1 conv=notrunc 2>/dev/null
	touch -d '+1 second' "$ROOT/big"
}

@test "a file rewritten in place during the transfer (same size) ends with ERROR 0 at its end" {
	changed_during rewrite_start
}

@test "a windowed transfer of a large file from disk is sent from a read-only mapping; lockstep and cached ones are not" {
	make_root
	make_file big 41943040
	start_server --cache-size 0
	hold_open -w 4 "$BATS_TEST_TMPDIR/out" big
	# The DATA payloads are iovecs into the file's pages (no read into a
	# buffer per block): the child maps the file.
	grep -F " $(readlink -f "$ROOT/big")" "/proc/$HELD_CHILD/maps"
	kill -CONT "$HELD_PID"
	wait "$HELD_PID"
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/big"
	log_has 'file "big" mode octet: complete; 41943040 bytes.*cache off; blksize 512, windowsize 4'
	# In lockstep a block is read into a buffer: faster there.
	hold_open "$BATS_TEST_TMPDIR/out1" big
	run grep -F " $(readlink -f "$ROOT/big")" "/proc/$HELD_CHILD/maps"
	[ "$status" -eq 1 ]
	kill -CONT "$HELD_PID"
	wait "$HELD_PID"
	cmp "$BATS_TEST_TMPDIR/out1" "$ROOT/big"
	stop_server
	# In the cache (a shared region made before any fork), no mapping of
	# the file itself.
	# (Large enough that the held client is caught mid-transfer.)
	make_file mid 41943040
	start_server --cache-min-age 0 --cache-max-file 64M
	fetch_same curl 127.0.0.1 mid
	hold_open -w 4 "$BATS_TEST_TMPDIR/out2" mid
	run grep -F " $(readlink -f "$ROOT/mid")" "/proc/$HELD_CHILD/maps"
	[ "$status" -eq 1 ]
	kill -CONT "$HELD_PID"
	wait "$HELD_PID"
	cmp "$BATS_TEST_TMPDIR/out2" "$ROOT/mid"
	log_has 'file "mid" mode octet: complete; 41943040 bytes.*cache hit'
}

@test "an unchanged file from disk still completes, in octet and netascii" {
	make_root
	make_file big 3000000
	start_server --cache-size 0
	fetch_same curl 127.0.0.1 big
	fetch_same -m netascii tftp-hpa 127.0.0.1 hello.txt
	log_has 'file "big" mode octet: complete'
	log_has 'file "hello.txt" mode netascii: complete'
}

# ---- resource limits of the server process ---------------------------

# A root other users can read (bats's temporary directories are private):
# for a server that runs as nobody.  Removed by teardown.
PUBLIC_ROOTS=
public_root() {
	ROOT=$(mktemp -d /tmp/ctftpd-faults.XXXXXX)
	PUBLIC_ROOTS="$PUBLIC_ROOTS $ROOT"
	chmod 755 "$ROOT"
	printf 'hello, world\n' >"$ROOT/hello.txt"
	chmod 644 "$ROOT/hello.txt"
}

# Processes a test started besides the server and held clients.
KILL_PIDS=

teardown() {
	local pid
	for pid in $HELD_PIDS $KILL_PIDS; do
		kill -KILL "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	HELD_PIDS=
	KILL_PIDS=
	stop_server
	for pid in $PUBLIC_ROOTS; do
		rm -rf "$pid"
	done
	PUBLIC_ROOTS=
}

# server_prlimit ARGS...: prlimit on the server, as the server's own user
# when it dropped privileges (changing another user's limits needs
# CAP_SYS_RESOURCE, which a container may not grant even to root).
SERVER_USER=
server_prlimit() {
	if [ -n "$SERVER_USER" ]; then
		setpriv --reuid="$SERVER_USER" --regid="$(id -g "$SERVER_USER")" \
			--clear-groups prlimit --pid "$SERVER_PID" "$@"
	else
		prlimit --pid "$SERVER_PID" "$@"
	fi
}

# soft_limit RESOURCE: the server's soft limit (prlimit's name, e.g. nproc).
soft_limit() {
	server_prlimit "--$1" --raw --noheadings -o SOFT
}

# hpa_get NAME OUT: tftp-hpa's client (it prints the server's ERROR text);
# its messages in OUT.msg.
hpa_get() {
	tftp_get -o "$2.msg" tftp-hpa 127.0.0.1 "$1" "$2"
}

@test "fork failing (RLIMIT_NPROC): ERROR 0 and a log line; served again once forks work" {
	need prlimit util-linux
	need tftp tftp-hpa
	public_root
	# RLIMIT_NPROC does not bind root: as root, run the server as nobody
	# (after binding, as deployed).
	if [ "$(id -u)" -eq 0 ]; then
		need setpriv util-linux
		SERVER_USER=nobody
		start_server --user nobody
	else
		start_server
	fi
	local soft
	soft=$(soft_limit nproc)
	# The server itself counts: no fork is possible.
	server_prlimit --nproc=1:
	local rc=0
	hpa_get hello.txt "$BATS_TEST_TMPDIR/a" || rc=$?
	cat "$BATS_TEST_TMPDIR/a.msg"
	grep -q 'Error code 0: server busy' "$BATS_TEST_TMPDIR/a.msg"
	log_has 'error: RRQ from 127\.0\.0\.1:[0-9]+ refused: server busy \(fork: Resource temporarily unavailable\)'
	kill -0 "$SERVER_PID"
	server_prlimit --nproc="$soft":
	hpa_get hello.txt "$BATS_TEST_TMPDIR/b"
	cmp "$BATS_TEST_TMPDIR/b" "$ROOT/hello.txt"
}

@test "out of file descriptors (RLIMIT_NOFILE): ERROR 0 and a log line at every limit; served again after" {
	need prlimit util-linux
	need tftp tftp-hpa
	make_root
	start_server --cache-size 0
	local soft n rc errors=0
	soft=$(soft_limit nofile)
	# From none beyond stdin, stdout and stderr up to enough: the
	# transfer runs out of descriptors at each step (wake-up pipe,
	# transfer socket, directories, the file).  The client always gets
	# the file or an ERROR 0, never silence and never "not found".
	for n in 3 4 5 6 7 8 9 10 11 12; do
		server_prlimit --nofile="$n":
		rc=0
		hpa_get hello.txt "$BATS_TEST_TMPDIR/got.$n" || rc=$?
		echo "nofile $n: status $rc: $(cat "$BATS_TEST_TMPDIR/got.$n.msg")"
		if [ "$rc" -eq 0 ] && ! grep -q 'Error' "$BATS_TEST_TMPDIR/got.$n.msg"; then
			cmp "$BATS_TEST_TMPDIR/got.$n" "$ROOT/hello.txt"
		else
			grep -q 'Error code 0: ' "$BATS_TEST_TMPDIR/got.$n.msg"
			errors=$((errors + 1))
		fi
		# One summary per request: every refusal is in the log.
		wait_for 10 no_children
	done
	[ "$errors" -ge 2 ]
	log_has 'failed: no transfer socket on 127\.0\.0\.1:[0-9]+: Too many open files'
	log_has 'warning: RRQ from 127\.0\.0\.1:[0-9]+ file "hello.txt" mode octet: failed: out of file descriptors \(ERROR 0\)'
	kill -0 "$SERVER_PID"
	server_prlimit --nofile="$soft":
	hpa_get hello.txt "$BATS_TEST_TMPDIR/after"
	cmp "$BATS_TEST_TMPDIR/after" "$ROOT/hello.txt"
}

# ---- the listener killed ---------------------------------------------

@test "the listener killed with SIGKILL: a running transfer finishes; a new listener binds the port at once" {
	make_root
	make_file big 41943040
	start_server
	hold_open "$BATS_TEST_TMPDIR/out" big
	local child old_log=$SERVER_LOG rc=0
	child=$(children_of)
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	KILL_PIDS="$KILL_PIDS $child"
	kill -0 "$child"
	# The orphaned transfer does not hold the listening port.
	SERVER_LOG="$BATS_TEST_TMPDIR/second.log"
	# shellcheck disable=SC2086 # a word list
	"$CTFTPD" --foreground --host 127.0.0.1 --host ::1 --port "$PORT" \
		$AS_ROOT "$ROOT" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_for 10 server_ready
	fetch_same curl 127.0.0.1 hello.txt
	# The held client goes on with the orphan and gets the whole file.
	kill -CONT "$HELD_PID"
	wait "$HELD_PID" || rc=$?
	[ "$rc" -eq 0 ] || { cat "$BATS_TEST_TMPDIR/out.msg"; false; }
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/big"
	SERVER_LOG=$old_log
	log_has 'file "big" mode octet: complete; 41943040 bytes'
}

# ---- a burst of garbage and requests ---------------------------------

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

@test "a burst of 10,000 datagrams, malformed and valid mixed: the valid are served, the listener's memory stays flat" {
	[ -r /proc/self/status ] || skip "no /proc"
	make_root
	start_server
	# A first burst of the same shape touches every page the listener
	# will use (buffers, the table of sources) ...
	run "$FLOOD" 127.0.0.1 "$PORT" mixed 10000 100 hello.txt
	echo "$output"
	[ "$status" -eq 0 ]
	local before after
	wait_for 20 no_children
	before=$(rss_kb)
	# ... so that the second may not grow it.  One datagram in 100 is a
	# valid request, from its own loopback address (127.0.0.2 ...); the
	# rest come from 127.0.0.1, ten kinds of malformed request.
	run "$FLOOD" 127.0.0.1 "$PORT" mixed 10000 100 hello.txt
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "PASS: valid=100 complete=100 "* ]]
	wait_for 20 no_children
	after=$(rss_kb)
	echo "listener RSS: $before kB before, $after kB after"
	[ "$after" -le $((before + 16)) ]
	kill -0 "$SERVER_PID"
	fetch_same curl ::1 hello.txt
}

# ---- a transfer stopped holding the cache lock -----------------------

@test "a process stopped holding the cache lock: transfers go on from disk; the cache recovers when it dies" {
	make_root
	make_file f.bin 300000
	# tests/lockheld: ctftpd's listener, with the cache's lock taken by a
	# process that then stopped (SIGSTOP) in its critical section.
	CTFTPD="$top_builddir/tests/lockheld" start_server --cache-min-age 0
	local holder i t0
	holder=$(sed -n 's/.*cache lock held by stopped process \([0-9]*\).*/\1/p' "$SERVER_LOG")
	[ -n "$holder" ]
	KILL_PIDS="$KILL_PIDS $holder"
	t0=$SECONDS
	for i in $(seq 1 20); do
		fetch_same curl 127.0.0.1 f.bin
		fetch_same curl ::1 hello.txt
	done
	# Each waits 100 ms for the lock at most, then reads the file.
	[ $((SECONDS - t0)) -lt 30 ]
	[ "$(log_count 'file "f.bin" mode octet: complete.*cache miss')" -eq 20 ]
	log_lacks 'server busy'
	# The holder dies: the next to lock repairs the index; f.bin is
	# cached again.  (The bound is generous: with both CI passes and their
	# bats files running at once, one ASan pass once took over 10 s; on
	# failure the log says how far the cache got.)
	kill -KILL "$holder"
	if ! wait_for 30 fetched_from_cache f.bin; then
		grep -E 'f\.bin|cache|repair' "$SERVER_LOG" | tail -n 15
		false
	fi
	fetch_same curl 127.0.0.1 f.bin
}

# ---- transfer ports used up ------------------------------------------

@test "--port-range used up: ERROR 0 \"no free transfer port\", and the log names the range" {
	need ss iproute2
	need tftp tftp-hpa
	make_root
	make_file big 41943040
	local p try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		p=$((40200 + RANDOM % 800))
		[ -z "$(ss -Huan "sport = :$p")" ] && break
	done
	start_server --port-range "$p:$p"
	# The only transfer port is taken by a held transfer ...
	hold_open "$BATS_TEST_TMPDIR/out" big
	# ... so the next request cannot have one.
	local rc=0
	hpa_get hello.txt "$BATS_TEST_TMPDIR/h" || rc=$?
	cat "$BATS_TEST_TMPDIR/h.msg"
	grep -q 'Error code 0: no free transfer port' "$BATS_TEST_TMPDIR/h.msg"
	log_has "warning: RRQ from 127\\.0\\.0\\.1:[0-9]+ file \"hello.txt\" mode octet: failed: no transfer socket on $p-$p: Address already in use"
}
