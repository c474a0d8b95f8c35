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
load loss

@test "1% loss of all packets: lockstep and windowsize 16, three clients, intact" {
	loss_suite 1 1048576 1048576 "1000 5000"
}

@test "10% loss of all packets: lockstep and windowsize 16, three clients, intact" {
	loss_suite 10 262144 1048576 "1000 5000"
}

@test "10% loss with atftp's windowsize 8: intact" {
	command -v atftp >/dev/null || skip "atftp not installed"
	setup_loss 10
	make_file w.bin 300000
	fetch_same -b 1468 -w 8 atftp 127.0.0.1 w.bin
}
