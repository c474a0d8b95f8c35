#!/usr/bin/env bats
# Packet loss: inside a network namespace of its own, nftables drops 10% of
# the DATA packets at random on the input hook (matched by the TFTP opcode
# after the UDP header).  Only DATA is dropped so that every loss is the
# server's to repair: a lost request or final ACK would leave the outcome to
# the client's own timer, or have the server log a transfer the client
# completed as abandoned.  The adaptive retransmission timer (RFC 1123
# 4.2.3.2) resends after tens of milliseconds instead of a fixed second, so
# a transfer that needs many resends still finishes well inside the
# client's limit.  Needs root, ip and nft; skipped otherwise.

load helpers

NS=

setup() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
	command -v ip >/dev/null || skip "ip (iproute2) not installed"
	command -v nft >/dev/null || skip "nft (nftables) not installed"
	NS="ctftpd-loss-$$-$BATS_TEST_NUMBER"
	ip netns add "$NS" || skip "cannot create a network namespace"
	ip -n "$NS" link set lo up
	ip netns exec "$NS" nft -f - <<-'EOF2'
	table inet ctftpd_loss {
		chain input {
			type filter hook input priority 0; policy accept;
			meta l4proto udp @th,64,16 3 numgen random mod 10 < 1 drop
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
}

teardown() {
	stop_server
	if [ -n "$NS" ]; then
		ip netns pids "$NS" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
		ip netns del "$NS" 2>/dev/null || true
	fi
}

@test "10% DATA loss: 512 KiB in lockstep arrives intact, resent quickly" {
	make_root
	make_file f.bin 524288
	start_server
	rm -f "$BATS_TEST_TMPDIR/out"
	# About 100 of the 1025 DATA packets are lost: a fixed 1 s timer
	# would need some 100 s; the client is given 60.
	(cd "$BATS_TEST_TMPDIR" && timeout 60 "$WRAP" tftp -m binary 127.0.0.1 "$PORT" \
		-c get f.bin out) 3>&-
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/f.bin"
	wait_for 10 grep -q 'file "f.bin" mode octet: complete' "$SERVER_LOG"
	local resends
	resends=$(sed -n 's/.*file "f.bin" mode octet: complete; .* blocks, \([0-9]*\) retransmits.*/\1/p' "$SERVER_LOG")
	echo "retransmits: $resends"
	# The drops really happened, and were recovered from by resending.
	[ "$resends" -ge 20 ]
}

@test "10% DATA loss with windowsize 8: intact" {
	command -v atftp >/dev/null || skip "atftp not installed"
	make_root
	make_file w.bin 300000
	start_server
	rm -f "$BATS_TEST_TMPDIR/w.out"
	timeout 60 "$WRAP" atftp --option "blksize 1468" --option "windowsize 8" \
		-g -r w.bin -l "$BATS_TEST_TMPDIR/w.out" 127.0.0.1 "$PORT" \
		>/dev/null 2>&1 3>&-
	cmp "$BATS_TEST_TMPDIR/w.out" "$ROOT/w.bin"
	wait_for 10 grep -q 'file "w.bin" mode octet: complete; .*windowsize 8' "$SERVER_LOG"
}
