#!/usr/bin/env bats
# The benchmark kit of tests/bench/, kept from rotting: the client checks
# every byte and refuses any address but the loopback, the ceilings print
# their line, and the driver's smoke run produces the table.

load helpers

BENCH="$top_builddir/tests/bench/tftpbench"
LIMITS="$top_builddir/tests/bench/limits"

# field KEY: the value of KEY=... in $output (a tftpbench or limits line).
field() {
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$output" | tail -1
}

# expect KEY VALUE: the client's line says KEY=VALUE.
expect() {
	local got
	got=$(field "$1")
	[ "$got" = "$2" ] || {
		echo "expected $1=$2, got '$got' in: $output" >&2
		return 1
	}
}

@test "tftpbench: RRQs from concurrent clients, every byte verified" {
	make_root
	make_file big.bin 300000
	start_server
	for host in 127.0.0.1 ::1; do
		run "$BENCH" -b 1468 -w 8 -t -n 2 -c 3 -V "$ROOT/big.bin" \
			"$host" "$PORT" big.bin
		echo "$output"
		[ "$status" -eq 0 ]
		expect ok 6
		expect failed 0
		expect verified 6
		expect bytes 1800000
		expect neg_blksize 1468
		expect neg_windowsize 8
	done
	# Two processes sharing the clients sum up the same way.
	run "$BENCH" -n 2 -c 4 -j 2 -V "$ROOT/big.bin" 127.0.0.1 "$PORT" big.bin
	echo "$output"
	[ "$status" -eq 0 ]
	expect ok 8
	expect verified 8
	expect bytes 2400000
	expect neg_blksize 512
}

@test "tftpbench: one byte changed or missing in the copy fails the transfer" {
	make_root
	make_file f.bin 5000
	cp "$ROOT/f.bin" "$BATS_TEST_TMPDIR/copy"
	printf 'X' | dd of="$BATS_TEST_TMPDIR/copy" bs=1 seek=3000 conv=notrunc 2>/dev/null
	cmp -s "$ROOT/f.bin" "$BATS_TEST_TMPDIR/copy" && skip "byte 3000 was already X"
	start_server
	run "$BENCH" -V "$BATS_TEST_TMPDIR/copy" 127.0.0.1 "$PORT" f.bin
	echo "$output"
	[ "$status" -eq 1 ]
	expect ok 0
	expect failed 1
	[[ "$output" == *"bytes differ in block 6"* ]]
	head -c 4999 "$ROOT/f.bin" >"$BATS_TEST_TMPDIR/short"
	run "$BENCH" -V "$BATS_TEST_TMPDIR/short" 127.0.0.1 "$PORT" f.bin
	echo "$output"
	[ "$status" -eq 1 ]
	expect failed 1
	head -c 5001 /dev/zero | cat "$ROOT/f.bin" - | head -c 5001 >"$BATS_TEST_TMPDIR/long"
	run "$BENCH" -b 1468 -t -V "$BATS_TEST_TMPDIR/long" 127.0.0.1 "$PORT" f.bin
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"tsize is not the file size"* ]]
}

@test "tftpbench: block numbers past 65535 wrap and the bytes still match" {
	make_root
	make_file roll.bin $((8 * 70000))
	start_server
	run "$BENCH" -b 8 -w 16 -V "$ROOT/roll.bin" 127.0.0.1 "$PORT" roll.bin
	echo "$output"
	[ "$status" -eq 0 ]
	expect verified 1
	expect bytes 560000
}

@test "tftpbench: refuses any address but the loopback, sending nothing" {
	local host
	for host in 10.0.0.1 192.0.2.1 127.0.0.2 127.1 ::ffff:127.0.0.1 \
		localhost 2001:db8::1; do
		run "$BENCH" "$host" 6969 f
		echo "$host: $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"HOST must be 127.0.0.1 or ::1"* ]]
	done
}

@test "tftpbench: WRQ to in.tftpd -c, windowed request, the written files checked" {
	command -v in.tftpd >/dev/null || skip "in.tftpd (tftpd-hpa) is not installed"
	make_root
	make_file up.bin 100000
	local up="$BATS_TEST_TMPDIR/up" port try
	mkdir -p "$up"
	chmod 777 "$up"
	for try in 1 2 3 4 5; do
		port=$(free_port)
		in.tftpd -L -c -a "127.0.0.1:$port" -s "$up" &
		HELD_PIDS="$HELD_PIDS $!"
		wait_for 5 "$BENCH" -T 50 -G 200 -o wrq -V "$ROOT/hello.txt" \
			127.0.0.1 "$port" probe.txt && break
	done
	# in.tftpd has no windowsize: it grants blksize and tsize only.
	run "$BENCH" -o wrq -b 1468 -w 4 -t -n 2 -c 2 -V "$ROOT/up.bin" \
		-U "$up/up.bin" 127.0.0.1 "$port" up.bin
	echo "$output"
	[ "$status" -eq 0 ]
	expect ok 4
	expect verified 2
	expect neg_blksize 1468
	expect neg_windowsize 1
	cmp "$ROOT/up.bin" "$up/up.bin.0"
	cmp "$ROOT/up.bin" "$up/up.bin.1"
	# The check reads the server's file: a wrong one fails the run.
	run "$BENCH" -o wrq -V "$ROOT/up.bin" -U "$ROOT/hello.txt" \
		127.0.0.1 "$port" other.bin
	echo "$output"
	[ "$status" -eq 1 ]
	expect verified 0
}

@test "tftpbench: WRQ to ctftpd --create, lockstep and windowed, files checked" {
	local src="$BATS_TEST_TMPDIR/up.bin" up="$BATS_TEST_TMPDIR/up"
	head -c 200000 /dev/urandom >"$src"
	mkdir -p "$up"
	chmod 777 "$up"
	ROOT=$up
	start_server --create
	run "$BENCH" -o wrq -b 1468 -w 16 -t -c 2 -V "$src" -U "$up/w.bin" \
		127.0.0.1 "$PORT" w.bin
	echo "$output"
	[ "$status" -eq 0 ]
	expect ok 2
	expect verified 2
	expect neg_windowsize 16
	run "$BENCH" -o wrq -V "$src" -U "$up/l.bin" ::1 "$PORT" l.bin
	echo "$output"
	[ "$status" -eq 0 ]
	expect verified 1
	expect neg_blksize 512
	cmp "$src" "$up/l.bin"
}

@test "limits: bare fork and bare UDP exchange print their line" {
	run "$LIMITS" fork 50
	echo "$output"
	[ "$status" -eq 0 ]
	expect n 50
	[[ "$(field rate)" =~ ^[0-9]+\.[0-9]$ ]]
	run "$LIMITS" udp 1468 4 100000
	echo "$output"
	[ "$status" -eq 0 ]
	expect bytes 100000
	[[ "$(field MBps)" =~ ^[0-9]+\.[0-9]+$ ]]
	run "$LIMITS" udp 0 4 100000
	[ "$status" -eq 2 ]
}

@test "limits: the ceilings with a server's handicaps print their line" {
	local f="$BATS_TEST_TMPDIR/src.bin"
	head -c 300000 /dev/urandom >"$f"
	# Payloads from a file, mapped anew at each pass over it.
	run "$LIMITS" udp 1468 4 1000000 "$f"
	echo "$output"
	[ "$status" -eq 0 ]
	expect source file
	expect bytes 1000000
	[[ "$(field MBps)" =~ ^[0-9]+\.[0-9]+$ ]]
	run "$LIMITS" udp 1468 4 1000000 "$BATS_TEST_TMPDIR/none"
	[ "$status" -eq 1 ]
	[[ "$output" == *"none: No such file or directory"* ]]
	head -c 100 /dev/urandom >"$BATS_TEST_TMPDIR/small"
	run "$LIMITS" udp 1468 4 1000000 "$BATS_TEST_TMPDIR/small"
	[ "$status" -eq 1 ]
	[[ "$output" == *"small: shorter than a block"* ]]
	# Concurrent transfers: a process each, or one for all.
	for mode in procs one; do
		run "$LIMITS" many 6 512 20000 "$mode"
		echo "$output"
		[ "$status" -eq 0 ]
		expect mode "$mode"
		expect bytes 120000
		[[ "$(field server_cpu_s)" =~ ^[0-9]+\.[0-9]{6}$ ]]
		[ "$(field server_cpu_s)" != 0.000000 ]
	done
	run "$LIMITS" many 6 512 20000 threads
	[ "$status" -eq 2 ]
	# The floor of fork-per-transfer tells its server's CPU apart.
	run "$LIMITS" forkxfer 20 1024
	echo "$output"
	[ "$status" -eq 0 ]
	expect n 20
	[[ "$(field server_cpu_us_per)" =~ ^[0-9]+\.[0-9]+$ ]]
	[ "$(field server_cpu_us_per)" != 0.00 ]
}

@test "run.sh --smoke: every transfer verified and the table written" {
	local out="$BATS_TEST_TMPDIR/out"
	run "$top_srcdir/tests/bench/run.sh" --smoke --build "$top_builddir" "$out"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -s "$out/bench.md" ]
	grep -q '^| sequential 1 KiB RRQs | req/s | [0-9.]* |' "$out/bench.md"
	grep -q '^| windowsize 16, blksize 65464 | MB/s | [0-9.]* |' "$out/bench.md"
	grep -q '^| server CPU per 1 KiB RRQ (ms) |' "$out/bench.md"
	# The ceilings with a server's handicaps, each with a value.
	grep -q '^| windowsize 16, blksize 65464 | bare UDP, the payloads from the served file.* | [0-9.]* | [0-9.]* |' "$out/bench.md"
	[ "$(grep -c '^| 8 clients x 64 KiB at 1468, aggregate | bare UDP, one sending process .* | [0-9.]* | [0-9.]* |' "$out/bench.md")" -eq 2 ]
	grep -q 'Its server CPU per request (parent and children, from its rusage): [0-9.]* ms' "$out/bench.md"
	grep -q 'The same floor dynamically linked .*: [0-9.]* req/s, ctftpd / it [0-9.]*;' "$out/bench.md"
	grep -q '^| server parent private memory (RssAnon) at the end (KiB) | [0-9][0-9]* |' "$out/bench.md"
	# Every ctftpd run completed all its transfers, each one verified.
	awk -F'\t' 'NR > 1 { rows[$1] = 1 }
		$2 == "ctftpd" { n++; if ($8 != $7 || $9 != 0 || $4 == "-") bad++ }
		END { for (r in rows) want++; exit !(n == want && want >= 10 && !bad) }' \
		"$out/results.tsv"
	if command -v gnuplot >/dev/null; then
		[ "$(head -c 4 "$out/bench.png" | tail -c 3)" = PNG ]
	fi
}
