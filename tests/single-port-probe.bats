#!/usr/bin/env bats
# --single-port: tests/probe.bats passes whole in this mode.  Apart from
# single-port.bats so that a parallel make check can run it beside the rest.

load helpers

@test "--single-port: tests/probe.bats passes whole in this mode (repeated and new requests included)" {
	suite_single_port probe.bats
}
