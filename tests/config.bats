#!/usr/bin/env bats
# The command line as a module: tests/config_test calls config_parse with
# argument vectors, once built with getopt_long and once (config_test_short)
# with the short-option fallback.

load helpers

CONFIG_TEST="$top_builddir/tests/config_test"
CONFIG_TEST_SHORT="$top_builddir/tests/config_test_short"

run_suite() {
	local suite=$1 driver
	for driver in "$CONFIG_TEST" "$CONFIG_TEST_SHORT"; do
		run "$driver" "$suite"
		echo "$output"
		[ "$status" -eq 0 ]
		[[ "$output" == *" 0 failed"* ]]
	done
}

@test "config: every option's range edges, junk values, sizes" {
	run_suite ranges
}

@test "config: defaults, repeats, addresses, port ranges, -v, refused options" {
	run_suite values
}

@test "config: tftpd-hpa's spellings, grouped short options, abbreviations" {
	run_suite spellings
}

@test "config: --help, --version, unknown, ambiguous, missing values, reparse" {
	run_suite errors
}

@test "config: --help is complete, fits 79 columns, shows every range" {
	run_suite help
}

@test "config test driver rejects an unknown suite" {
	run "$CONFIG_TEST" nosuch
	[ "$status" -eq 2 ]
}
