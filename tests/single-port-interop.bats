#!/usr/bin/env bats
# --single-port: tests/interop.bats passes whole in this mode.  Apart from
# single-port.bats so that a parallel make check can run it beside the rest.

load helpers

@test "--single-port: tests/interop.bats (every client, 0 B to 40 MiB, netascii) passes whole in this mode" {
	suite_single_port interop.bats
}
