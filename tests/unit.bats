#!/usr/bin/env bats
# The C unit-test driver, one suite per pure module.

load helpers

@test "packet codec: requests, options, replies, encoders, truncations" {
	run "$UNIT" packet
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "netascii: LF and CR conversion, split pairs, random block sizes" {
	run "$UNIT" netascii
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "path policy: normalisation, traversal, root prefix, bounds" {
	run "$UNIT" path
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "options: RFC 2347 negotiation, caps, junk values, duplicates, OACK" {
	run "$UNIT" options
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "rto: RFC 6298 smoothing, floor, ceiling, backoff, fixed timeout" {
	run "$UNIT" rto
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "shmem: shared memory reaches children, the listener's own does not" {
	run "$UNIT" shmem
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
	# On Linux the listener's child table and per-address limits are not
	# copied into each child (MADV_DONTFORK).
	if [ "$(uname -s)" = Linux ]; then
		[[ "$output" == *"parent-only memory is not inherited"* ]]
	fi
}

@test "unit driver rejects an unknown suite" {
	run "$UNIT" nosuch
	[ "$status" -eq 2 ]
}

@test "ratelimit: token buckets, hostile clocks and rates, a bounded table of sources" {
	run "$UNIT" ratelimit
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}

@test "source: large octet files from a mapping, the last block copied, resends pinned or refused once the file changed" {
	run "$UNIT" source
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"0 failed"* ]]
}
