# Shared by loss.bats and loss-30.bats (the 30% case is a file of its own so
# that a parallel make check runs it beside the rest): a network namespace
# whose nftables input hook drops a share of all UDP packets, the daemon and
# the clients inside it, and the suite each loss rate runs.

# Under 30% loss a download of 64 KiB may take minutes.
CLIENT_LIMIT=300
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
	CLIENT_WRAP="ip netns exec $NS"
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NS" "$CTFTPD" \
		>"$BATS_TEST_TMPDIR/ctftpd"
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

# loss_suite PERCENT LOCKSTEP_BYTES WINDOWED_BYTES WINDOWED_TIMERS: with
# PERCENT% of all UDP packets dropped, the field client fetches a file of
# LOCKSTEP_BYTES in lockstep and one of WINDOWED_BYTES at blksize 1468 and
# windowsize 16, with its timer at 1 s and at 5 s (windowed only at the
# timers listed), then tftp-hpa fetches the first: all intact.
loss_suite() {
	local timer
	setup_loss "$1"
	make_file f.bin "$2"
	make_file w.bin "$3"
	for timer in 1000 5000; do
		probe_fetch 127.0.0.1 field f.bin "$timer" 1 0
		if [[ " $4 " == *" $timer "* ]]; then
			probe_fetch 127.0.0.1 field w.bin "$timer" 1 0 \
				blksize 1468 windowsize 16
		fi
	done
	# tftp-hpa's client gives up by itself after about 25 s without
	# progress, which 30% loss reaches now and then whatever the server
	# does: it is tried up to 10%.
	[ "$1" -le 10 ] || return 0
	command -v tftp >/dev/null || skip "tftp-hpa's client not installed"
	fetch_same tftp-hpa 127.0.0.1 f.bin
}
