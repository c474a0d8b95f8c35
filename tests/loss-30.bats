#!/usr/bin/env bats
# Packet loss at 30%, as loss.bats describes (tests/loss.bash): apart from
# it so that a parallel make check runs it beside the rest.

load helpers
load loss

@test "30% loss of all packets: lockstep and windowsize 16, the field client at 1 s and 5 s, intact" {
	loss_suite 30 16384 65536 "1000 5000"
}
