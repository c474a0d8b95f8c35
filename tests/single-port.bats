#!/usr/bin/env bats
# --single-port: every transfer answers from the listening address and port.
# The real clients and tests/probe (which then requires the listening port
# as the transfer's port) fetch and upload through it; the listener must
# still get everybody else's requests while transfers run; a firewall that
# lets only the listening port out passes single-port transfers and stops
# normal ones.  The probe and interop suites passing whole in this mode are
# single-port-probe.bats and single-port-interop.bats (files of their own, so
# that a parallel make check runs them beside the rest).

load helpers

# probe_pass (clients.bash) reads it too: the probe then requires the
# listening port as the transfers' port.
CTFTPD_MODE_ARGS="--single-port"
NS=

teardown() {
	end_held_clients
	stop_server
	if [ -n "${SSA_PID:-}" ]; then
		kill "$SSA_PID" 2>/dev/null || true
		wait "$SSA_PID" 2>/dev/null || true
	fi
	if [ -n "$NS" ]; then
		ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	fi
	[ -z "${PUBLIC_ROOT:-}" ] || rm -rf "$PUBLIC_ROOT"
}

# public_root: a root the daemon reads after its default privilege drop
# (bats's own temporary directories are private to us).
public_root() {
	PUBLIC_ROOT=$(mktemp -d /tmp/ctftpd-sp.XXXXXX)
	make_root "$PUBLIC_ROOT"
}

# port_free PORT: no socket holds PORT (a condition for wait_for).
port_free() {
	! port_in_use "$1"
}

# fails COMMAND...: COMMAND must fail (a bare "!" would not fail a bats
# test).
fails() {
	if "$@"; then
		echo "succeeded, but must fail: $*" >&2
		return 1
	fi
}

# from_listening_port HOST FILE: tests/probe downloads FILE and requires
# every DATA (and OACK) from the listening port.
from_listening_port() {
	rm -f "$BATS_TEST_TMPDIR/out"
	run env PROBE_SINGLE_PORT=1 timeout "$CLIENT_LIMIT" "$PROBE" "$1" \
		"$PORT" get "$2" "$BATS_TEST_TMPDIR/out"
	echo "probe $1 get $2: status $status: $output"
	[ "$status" -eq 0 ] && cmp "$ROOT/$2" "$BATS_TEST_TMPDIR/out"
}

@test "--single-port: the start-up check is passed and logged; --port-range is refused with it" {
	start_server
	log_has 'listening on 127\.0\.0\.1:[0-9]+, serving .*; transfers answer from this port \(--single-port\)'
	log_has 'listening on \[::1\]:[0-9]+, serving .*--single-port'
	# The listening socket allows sharing only once bound: a second
	# daemon on the port still finds it in use.
	run "$CTFTPD" --foreground --single-port --host 127.0.0.1 --port "$PORT" "$ROOT"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot listen on 127.0.0.1:$PORT: Address already in use"* ]]
	stop_server
	run "$CTFTPD" --single-port --port-range 40000:40010 -L "$ROOT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"--single-port and --port-range exclude each other"* ]]
}

@test "--single-port: DATA and OACK come from the listening port (IPv4, IPv6); without it they do not" {
	make_root
	make_file big.bin 70000
	start_server
	local host
	for host in 127.0.0.1 ::1; do
		from_listening_port "$host" big.bin
		probe_pass "$host" oack big.bin "$BATS_TEST_TMPDIR/out" octet \
			blksize=1024,windowsize=4 blksize 1024 windowsize 4
		cmp "$ROOT/big.bin" "$BATS_TEST_TMPDIR/out"
	done
	stop_server
	# The check can fail: the normal mode answers from another port.
	CTFTPD_MODE_ARGS= start_server
	fails from_listening_port 127.0.0.1 big.bin
	[[ "$output" == *"not from a transfer port"* ]]
}

@test "--single-port: tftp-hpa, curl, busybox and atftp download over IPv4 and IPv6, windowsize and blksize too" {
	make_root
	make_file empty 0
	make_file one 512
	make_file mid 70000
	make_file big 1048576
	start_server
	local client host f
	for client in tftp-hpa curl busybox atftp; do
		for host in 127.0.0.1 ::1; do
			for f in empty one mid big; do
				fetch_same "$client" "$host" "$f"
			done
		done
	done
	fetch_same -b 1468 curl 127.0.0.1 big
	fetch_same -b 1468 busybox ::1 big
	fetch_same -w 8 -b 1024 atftp 127.0.0.1 big
	fetch_same -w 16 atftp ::1 mid
	fetch_same -m netascii tftp-hpa 127.0.0.1 hello.txt
	[ "$(summary_count big)" -eq 11 ]
	log_lacks 'ignoring|failed'
}

@test "--single-port: uploads (WRQ) from every client arrive intact" {
	make_root
	make_file src.bin 300000
	start_server --create
	local client host name
	for client in tftp-hpa curl busybox atftp; do
		for host in 127.0.0.1 ::1; do
			# No colon: tftp-hpa reads HOST:FILE in a name.
			name="up-$client-${host//:/_}"
			tftp_put "$client" "$host" "$ROOT/src.bin" "$name"
			same "$ROOT/$name" "$ROOT/src.bin"
		done
	done
	tftp_put -w 8 atftp 127.0.0.1 "$ROOT/src.bin" up-window
	same "$ROOT/up-window" "$ROOT/src.bin"
}

@test "--single-port: the listener never sees a transfer's ACKs; a second client is served while the first runs" {
	make_root
	make_file big 41943040
	# -v2: the listener logs every datagram it ignores.
	start_server -v2
	hold_open "$BATS_TEST_TMPDIR/held" big
	fetch_same tftp-hpa 127.0.0.1 hello.txt
	fetch_same curl ::1 hello.txt
	kill -CONT "$HELD_PID"
	wait "$HELD_PID"
	same "$BATS_TEST_TMPDIR/held" "$ROOT/big"
	log_count_becomes 1 'file "big" mode octet: complete'
	log_lacks 'ignoring ACK'
	# The listener does log an ACK that reaches it: the check above can
	# fail.
	probe_pass 127.0.0.1 stray-opcode
	log_has 'ignoring ACK from 127\.0\.0\.1:[0-9]+ on the listening port'
}

@test "--single-port: a listener killed with SIGKILL takes its transfers with it; a new one binds the port at once" {
	make_root
	make_file big 41943040
	start_server
	hold_open "$BATS_TEST_TMPDIR/held" big
	kill -KILL "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
	# The held transfer stops (the kernel's SIGTERM at the listener's
	# death) and its socket, bound to the port, is closed.  Without that
	# it would hold the port until --give-up ends it.
	log_has 'file "big" mode octet: stopped by the server'
	wait_for 10 port_free "$PORT"
	SERVER_LOG="$BATS_TEST_TMPDIR/server2.log"
	# shellcheck disable=SC2086 # a word list
	"$CTFTPD" --foreground --host 127.0.0.1 --host ::1 --port "$PORT" \
		--single-port $AS_ROOT "$ROOT" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_for 10 server_ready
	fetch_same curl 127.0.0.1 hello.txt
}

@test "--single-port: --max-clients and --max-per-client refuse from the listening port while a transfer runs" {
	make_root
	make_file big 41943040
	start_server --max-clients 1
	hold_open "$BATS_TEST_TMPDIR/held" big
	fails fetch_same -T 20 curl 127.0.0.1 hello.txt
	log_has 'refused: server busy \(1 transfers, --max-clients\)'
	end_held_clients
	stop_server
	start_server --max-per-client 1
	hold_open "$BATS_TEST_TMPDIR/held2" big
	fails fetch_same -T 20 curl 127.0.0.1 hello.txt
	log_has 'refused: server busy \(1 transfers from this address, --max-per-client\)'
	fetch_same curl ::1 hello.txt
}

@test "--single-port: 64 simultaneous downloads with four clients arrive byte-exact" {
	start_server --max-per-client 0 --rate-limit 0
	make_file one-mib 1048576
	fetch_many 64 one-mib
	wait_for 20 no_children
	log_count_becomes 64 'file "one-mib" mode octet: complete'
	[ "$(log_count 'server busy')" -eq 0 ]
	[ "$(log_count 'killed by signal')" -eq 0 ]
}

# netns_server ARGS...: ctftpd in the namespace $NS on every address of it
# (the wildcard: the namespace has only its loopback) at port 69, as root.
netns_server() {
	SERVER_LOG="$BATS_TEST_TMPDIR/server.log"
	: >"$SERVER_LOG"
	ip netns exec "$NS" "$CTFTPD" --foreground --port 69 "$@" "$ROOT" \
		2>"$SERVER_LOG" &
	SERVER_PID=$!
	wait_for 10 grep -q 'listening on \[::\]:69' "$SERVER_LOG"
}

@test "--single-port: a firewall that lets out only the listening port passes it and stops the normal mode (wildcard listener, port 69, dropped to the default user)" {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	command -v nft >/dev/null || skip "nft (nftables) not installed"
	NS="ctftpd-sp-$$-$BATS_TEST_NUMBER"
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip -n "$NS" link set lo up
	public_root
	make_file big 300000
	CLIENT_WRAP="ip netns exec $NS"
	PORT=69
	# The start-up check runs on the loopback's other ports: before the
	# firewall.
	netns_server --single-port
	# Started as root, it dropped to its default user and kept only
	# CAP_NET_BIND_SERVICE (bit 10), for the transfers' port 69 sockets.
	grep -q 'kept CAP_NET_BIND_SERVICE alone' "$SERVER_LOG"
	grep -Eq '^Uid:[[:space:]]+[1-9]' "/proc/$SERVER_PID/status"
	grep -Eq '^CapEff:[[:space:]]+0+400$' "/proc/$SERVER_PID/status"
	grep -Eq '^CapPrm:[[:space:]]+0+400$' "/proc/$SERVER_PID/status"
	# On the loopback every datagram leaves through output once: what is
	# neither to nor from port 69 is the server's, from another port.
	# (Three rules: nft 1.0.6 merges "udp sport != 69 udp dport != 69"
	# into one 4-byte comparison that drops the requests too.)
	ip netns exec "$NS" nft -f - <<-EOF
	table inet ctftpd_sp {
		chain output {
			type filter hook output priority 0; policy accept;
			udp sport 69 accept
			udp dport 69 accept
			meta l4proto udp counter drop
		}
	}
	EOF
	fetch_same tftp-hpa 127.0.0.1 big
	fetch_same curl ::1 big
	fetch_same -w 8 atftp 127.0.0.1 big
	fetch_same busybox 127.0.0.1 big
	ip netns exec "$NS" nft list ruleset | grep -q 'counter packets 0 '
	stop_server
	# The rule does bite: the normal mode's transfer ports are dropped.
	netns_server
	fails fetch_same -T 10 curl 127.0.0.1 big
	ip netns exec "$NS" nft list ruleset | grep -Eq 'counter packets [1-9]'
}

@test "--single-port: with CAP_NET_BIND_SERVICE outside the bounding set, it drops every capability and still serves a high port" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (the privilege drop)"
	command -v setpriv >/dev/null || skip "setpriv (util-linux) not installed"
	public_root
	make_file big 300000
	printf '#!/bin/sh\nexec setpriv --bounding-set=-net_bind_service "%s" "$@"\n' \
		"$CTFTPD" >"$BATS_TEST_TMPDIR/no-bind-cap"
	chmod +x "$BATS_TEST_TMPDIR/no-bind-cap"
	CTFTPD="$BATS_TEST_TMPDIR/no-bind-cap" AS_ROOT='' start_server --single-port
	log_has 'cannot keep CAP_NET_BIND_SERVICE: not in the permitted set'
	grep -Eq '^Uid:[[:space:]]+[1-9]' "/proc/$SERVER_PID/status"
	grep -Eq '^CapPrm:[[:space:]]+0+$' "/proc/$SERVER_PID/status"
	grep -Eq '^CapEff:[[:space:]]+0+$' "/proc/$SERVER_PID/status"
	from_listening_port 127.0.0.1 big
}

@test "--single-port: systemd socket activation (an inherited socket without SO_REUSEADDR) answers from its port" {
	local ssa
	ssa=$(command -v systemd-socket-activate ||
		ls /lib/systemd/systemd-socket-activate 2>/dev/null || true)
	[ -n "$ssa" ] || skip "systemd-socket-activate not found (apt-get install systemd)"
	public_root
	make_file big 300000
	PORT=$(free_port)
	"$ssa" --datagram -l "127.0.0.1:$PORT" "$CTFTPD" --single-port \
		--foreground --idle-timeout 30 "$ROOT" \
		>"$BATS_TEST_TMPDIR/ssa.out" 2>&1 3>&- &
	SSA_PID=$!
	wait_for 10 grep -q '^Listening on' "$BATS_TEST_TMPDIR/ssa.out"
	from_listening_port 127.0.0.1 big
	fetch_same curl 127.0.0.1 big
	fetch_same -w 4 atftp 127.0.0.1 big
	grep -q 'transfers answer from this port (--single-port)' "$BATS_TEST_TMPDIR/ssa.out"
}
