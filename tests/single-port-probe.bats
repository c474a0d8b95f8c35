#!/usr/bin/env bats
# --single-port: tests/probe.bats passes whole in this mode.  Apart from
# single-port.bats so that a parallel make check can run it beside the rest.

load helpers

@test "--single-port: tests/probe.bats passes whole in this mode (repeated and new requests included)" {
	# PROBE_SINGLE_PORT too for the tests that run the probe directly.
	run env CTFTPD_MODE_ARGS=--single-port PROBE_SINGLE_PORT=1 \
		bats --tap "$top_srcdir/tests/probe.bats"
	echo "$output" | grep -v '^ok ' | head -40
	[ "$status" -eq 0 ]
}
