#!/usr/bin/env bats
# --single-port: tests/interop.bats passes whole in this mode.  Apart from
# single-port.bats so that a parallel make check can run it beside the rest.

load helpers

@test "--single-port: tests/interop.bats (every client, 0 B to 40 MiB, netascii) passes whole in this mode" {
	run env CTFTPD_MODE_ARGS=--single-port PROBE_SINGLE_PORT=1 \
		bats --tap "$top_srcdir/tests/interop.bats"
	echo "$output" | grep -v '^ok ' | head -40
	[ "$status" -eq 0 ]
}
