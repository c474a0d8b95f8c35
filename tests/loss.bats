#!/usr/bin/env bats
# Packet loss: inside a network namespace of its own, nftables drops a share
# of all UDP packets at random on the input hook, in both directions (on the
# loopback every packet passes input once): requests, OACKs, DATA, ACKs.
# Clients: tests/probe's "field" client (it restarts its timer on every
# datagram, ACKs a repeated DATA only once per block, and resends only on
# its own timer: 1 s, or 5 s as U-Boot and tftp-hpa's client wait), with
# lockstep and windowsize 16, and tftp-hpa's own client.  Every transfer
# must arrive byte-exact.  Needs root, ip and nft; skipped otherwise.

load helpers

NS=

# setup_loss PERCENT: a namespace whose input hook drops PERCENT% of UDP.
setup_loss() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	command -v nft >/dev/null || skip "nft (nftables) not installed"
	NS="ctftpd-loss-$$-$BATS_TEST_NUMBER"
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip -n "$NS" link set lo up
	ip netns exec "$NS" nft -f - <<-EOF2
	table inet ctftpd_loss {
		chain input {
			type filter hook input priority 0; policy accept;
			meta l4proto udp numgen random mod 100 < $1 drop
		}
	}
	EOF2
	# The daemon and the clients run in the namespace.
	WRAP="$BATS_TEST_TMPDIR/in-ns"
	printf '#!/bin/sh\nexec ip netns exec %s "$@"\n' "$NS" >"$WRAP"
	chmod +x "$WRAP"
	printf '#!/bin/sh\nexec %s %s "$@"\n' "$WRAP" "$CTFTPD" >"$BATS_TEST_TMPDIR/ctftpd"
	chmod +x "$BATS_TEST_TMPDIR/ctftpd"
	CTFTPD="$BATS_TEST_TMPDIR/ctftpd"
	make_root
	start_server
}

teardown() {
	stop_server
	if [ -n "$NS" ]; then
		ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	fi
}

# field_get FILE TIMER_MS [NAME VALUE]...: the field client fetches FILE
# (one repeated-DATA ACK per block) and the bytes must match.
field_get() {
	local file=$1 timer=$2 out="$BATS_TEST_TMPDIR/out"
	shift 2
	rm -f "$out"
	run timeout 300 "$WRAP" "$PROBE" 127.0.0.1 "$PORT" field "$file" "$out" "$timer" 1 0 "$@"
	echo "field $file $timer $*: $output"
	[ "$status" -eq 0 ]
	cmp "$ROOT/$file" "$out"
}

# hpa_get FILE: tftp-hpa's client fetches FILE in octet mode.
hpa_get() {
	local out="$BATS_TEST_TMPDIR/hpa.out"
	rm -f "$out"
	(cd "$BATS_TEST_TMPDIR" && timeout 300 "$WRAP" tftp -m binary 127.0.0.1 "$PORT" \
		-c get "$1" hpa.out) 3>&-
	cmp "$ROOT/$1" "$out"
}

@test "1% loss of all packets: lockstep and windowsize 16, three clients, intact" {
	setup_loss 1
	make_file f.bin 1048576
	field_get f.bin 1000
	field_get f.bin 1000 blksize 1468 windowsize 16
	field_get f.bin 5000
	field_get f.bin 5000 blksize 1468 windowsize 16
	command -v tftp >/dev/null || skip "tftp-hpa's client not installed"
	hpa_get f.bin
}

@test "10% loss of all packets: lockstep and windowsize 16, three clients, intact" {
	setup_loss 10
	make_file f.bin 262144
	make_file w.bin 1048576
	field_get f.bin 1000
	field_get w.bin 1000 blksize 1468 windowsize 16
	field_get f.bin 5000
	field_get w.bin 5000 blksize 1468 windowsize 16
	command -v tftp >/dev/null || skip "tftp-hpa's client not installed"
	hpa_get f.bin
}

@test "30% loss of all packets: lockstep and windowsize 16, three clients, intact" {
	setup_loss 30
	make_file f.bin 16384
	make_file w.bin 65536
	field_get f.bin 1000
	field_get w.bin 1000 blksize 1468 windowsize 16
	field_get f.bin 5000
	command -v tftp >/dev/null || skip "tftp-hpa's client not installed"
	hpa_get f.bin
}

@test "10% loss with atftp's windowsize 8: intact" {
	command -v atftp >/dev/null || skip "atftp not installed"
	setup_loss 10
	make_file w.bin 300000
	rm -f "$BATS_TEST_TMPDIR/w.out"
	timeout 120 "$WRAP" atftp --option "blksize 1468" --option "windowsize 8" \
		-g -r w.bin -l "$BATS_TEST_TMPDIR/w.out" 127.0.0.1 "$PORT" \
		>/dev/null 2>&1 3>&-
	cmp "$BATS_TEST_TMPDIR/w.out" "$ROOT/w.bin"
}
