#!/usr/bin/env bats
# Option negotiation (RFC 2347 OACK; blksize RFC 2348; timeout and tsize
# RFC 2349; windowsize RFC 7440) with real clients: atftp, curl, busybox
# and tftp-hpa fetch files whose sizes sit on block boundaries, the bytes
# they write are compared with the source, and every transfer's summary
# line must show the blksize and windowsize that were really negotiated, so
# an option that is silently ignored fails the test.
#
# The files are made once, in setup_file, under a shared root; each test
# starts its own server on that root (its own log, transfers counted in
# order) and the default teardown from helpers stops it.
#
# Clients, as found on Debian 12:
# - atftp 0.8.0 asks blksize, windowsize and tsize with --option "NAME
#   VALUE".  Its man page documents --option "tsize enable", but that puts
#   the literal string "enable" on the wire as the tsize value, which a
#   strict server ignores (no tsize in the OACK); "tsize 0" is what RFC 2349
#   wants.  With --trace it prints the OACK it received, which lets the
#   tests check the granted values (tsize included) from the client's side.
# - curl 7.88 accepts --tftp-blksize 8..65464 (its man page says "must be
#   >512", which is wrong: 8 is accepted; 7 and 65465 fail with exit 71 and
#   a misleading "getpeername() failed").  It always asks tsize (and
#   timeout 6), never windowsize.
# - busybox 1.35 tftp -b accepts 24..65564, but the request it builds must
#   fit in the block size, so with a one-letter file name it fails ("remote
#   filename is too long") below -b 52; -b 8 is rejected by busybox itself.
#   It asks tsize too.  -b 65564 is above RFC 2348's 65464 and must be
#   granted 65464.
# - tftp-hpa 5.2 has no way to ask any option (no blksize command or flag),
#   so it is only checked to get plain RFC 1350 transfers: 512, window 1.

load helpers

# A small transfer takes milliseconds when it works; one that does not must
# not hold the suite for long.  A 40 MiB transfer takes 0.1-30 s.
: "${SMALL_LIMIT:=15}"
: "${BIG_LIMIT:=180}"
CLIENT_LIMIT=$SMALL_LIMIT

BLKSIZES="8 512 1428 1468 8192 65464"
WINDOWS="1 4 16 64"
BIG=41943040 # 40 MiB

setup_file() {
	make_root "$BATS_FILE_TMPDIR/root"
	export ROOT
	local n
	make_file empty 0
	# For each block size N: exactly one block (then an empty DATA),
	# exactly two, and an odd size whose last block is short.
	for n in $BLKSIZES; do
		make_file "b$n.one" "$n"
		make_file "b$n.two" $((2 * n))
		make_file "b$n.odd" $((3 * n + 7))
	done
	make_file m1 1048576
	make_file big "$BIG"
	make_text "$ROOT/text.txt"
}

# make_text FILE: text with LF, lone CR and CR LF endings: a lone CR as byte
# 511 (CR ends block 1 at blksize 512, its NUL starts block 2), then many
# lines so that conversion state crosses block boundaries at many offsets.
make_text() {
	{
		head -c 511 /dev/zero | tr '\0' 'y'
		printf '\rafter the boundary\n'
		mixed_line_ends 400
		printf 'no newline at the end\r'
	} >"$1"
	chmod 644 "$1"
}

# oack_has FIELD...: atftp's trace shows an OACK holding every "name: value"
# FIELD (atftp prints each as "name: value, ").
oack_has() {
	local line f
	line=$(grep -m1 '^received OACK' "$BATS_TEST_TMPDIR/client.out") || {
		echo "atftp received no OACK:" >&2
		head -n 10 "$BATS_TEST_TMPDIR/client.out" >&2
		return 1
	}
	for f in "$@"; do
		case $line in
		*"<$f, "* | *" $f, "*) ;;
		*)
			echo "OACK lacks '$f': $line" >&2
			return 1 ;;
		esac
	done
}

# oack_lacks NAME: the OACK atftp received has no NAME option.
oack_lacks() {
	local line
	line=$(grep -m1 '^received OACK' "$BATS_TEST_TMPDIR/client.out") ||
		return 0
	case $line in
	*"$1:"*)
		echo "OACK has $1: $line" >&2
		return 1 ;;
	esac
}

# Transfers made by the current test, in order: the k-th "RRQ from" line
# of the server log is the k-th transfer's summary, because every test waits
# for a transfer's line before it starts the next transfer.
XFERS=0

# expect_transfer NAME MODE BYTES BLKSIZE WINDOWSIZE: the next transfer's
# summary says it completed with BYTES bytes on the wire in BYTES/BLKSIZE+1
# blocks (the last one short, possibly empty), with these options.
expect_transfer() {
	local bytes=$3 bs=$4
	XFERS=$((XFERS + 1))
	if ! wait_for 10 summaries_at_least "$XFERS"; then
		echo "no summary line for transfer $XFERS ($1); log:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	fi
	summary_is "$(summaries | sed -n "${XFERS}p")" file="$1" mode="$2" \
		outcome=complete bytes="$bytes" blocks=$((bytes / bs + 1)) \
		blksize="$bs" windowsize="$5"
}

# atftp_small_matrix N: with blksize N, every windowsize, every small file:
# intact, the OACK grants N, the window and the file's size, and the log
# agrees.
atftp_small_matrix() {
	local n=$1 w f size
	start_server --max-window 64
	for w in $WINDOWS; do
		for f in empty "b$n.one" "b$n.two" "b$n.odd"; do
			size=$(size_of "$ROOT/$f")
			fetch_same -v -b "$n" -w "$w" -s atftp 127.0.0.1 "$f"
			# An empty file's OACK leaves tsize out (see the curl
			# test below for why).
			if [ "$size" -eq 0 ]; then
				oack_has "blksize: $n" "windowsize: $w"
				oack_lacks "tsize"
			else
				oack_has "blksize: $n" "windowsize: $w" "tsize: $size"
			fi
			expect_transfer "$f" octet "$size" "$n" "$w"
		done
	done
}

# The OACK must fit whatever blksize is granted: at blksize 8 the OACK
# "blksize 8, tsize N, windowsize W" is longer than a DATA packet.
@test "atftp blksize 8: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 8
}

@test "atftp blksize 512: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 512
}

@test "atftp blksize 1428: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 1428
}

@test "atftp blksize 1468: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 1468
}

@test "atftp blksize 8192: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 8192
}

@test "atftp blksize 65464: 0 B, 1, 2 and 3+ blocks, windowsize 1, 4, 16, 64" {
	atftp_small_matrix 65464
}

# 40 MiB is too slow for the full cross product; this subset covers every
# blksize and every windowsize.  A window of big blocks must fit the
# client's socket receive buffer (Linux's default rmem is 208 KiB): above
# that, loopback drops the tail of every window, atftp waits for the rest
# of the window before it ACKs, and every window costs a retransmission
# timeout.  Measured: 40 MiB at 65464 x 16 took 50-105 s and 8192 x 16
# 45-120 s or more (65464 x 4 stalls on some runs), so the big blocks use
# 65464 x 2 and 8192 x 8 here, and windowsize 16 and 64 are covered at 512
# and 1468 (64 x 1468 fits the buffer).
# big_atftp BLKSIZE WINDOWSIZE (without -v: a trace of 40 MiB at blksize 8
# would be 5 M lines)
big_atftp() {
	fetch_same -T "$BIG_LIMIT" -b "$1" -w "$2" -s atftp 127.0.0.1 big
	rm -f "$GOT"
	expect_transfer big octet "$BIG" "$1" "$2"
}

@test "atftp 40 MiB: blksize 1468 with windowsize 1, 4, 16 and 64" {
	start_server --max-window 64
	big_atftp 1468 1
	big_atftp 1468 4
	big_atftp 1468 16
	big_atftp 1468 64
}

@test "atftp 40 MiB: blksize 512 x 16 (block number rollover in a window), 1428 x 4, 8192 x 8, 65464 x 2" {
	start_server --max-window 64
	big_atftp 512 16
	big_atftp 1428 4
	big_atftp 8192 8
	big_atftp 65464 2
}

# 5.2 M DATA packets, the block number rolling over 80 times, windows of 64
# crossing each rollover: measured 28 s on an idle 2-core VM.
@test "atftp 40 MiB at blksize 8, windowsize 64 (5.2 M blocks)" {
	start_server --max-window 64
	big_atftp 8 64
}

# curl 7.88 always asks tsize and rejects an OACK whose tsize is 0 ("invalid
# tsize -:0:- value in OACK packet", exit 71).  ctftpd leaves tsize out of
# the OACK of an empty file, so curl fetches it with its default options.
@test "curl --tftp-blksize: 0 B, 1, 2 and 3+ blocks at 8, 512, 1428, 1468, 8192, 65464" {
	local n f size
	start_server
	fetch_same curl 127.0.0.1 empty
	expect_transfer empty octet 0 512 1
	fetch_same -b 1468 curl 127.0.0.1 empty
	expect_transfer empty octet 0 1468 1
	for n in $BLKSIZES; do
		for f in "b$n.one" "b$n.two" "b$n.odd"; do
			size=$(size_of "$ROOT/$f")
			fetch_same -b "$n" curl 127.0.0.1 "$f"
			expect_transfer "$f" octet "$size" "$n" 1
		done
	done
}

@test "curl --tftp-blksize: 40 MiB at 1468 and at 65464" {
	local n
	start_server
	for n in 1468 65464; do
		fetch_same -T "$BIG_LIMIT" -b "$n" curl 127.0.0.1 big
		rm -f "$GOT"
		expect_transfer big octet "$BIG" "$n" 1
	done
}

@test "busybox tftp -b: 64, 512, 1468, 65464, and 65564 (granted 65464)" {
	local n f size granted
	start_server
	for n in 64 512 1468 65464 65564; do
		granted=$n
		[ "$n" -gt 65464 ] && granted=65464
		for f in empty b512.odd b1468.odd b65464.two b65464.odd m1; do
			size=$(size_of "$ROOT/$f")
			fetch_same -b "$n" busybox 127.0.0.1 "$f"
			expect_transfer "$f" octet "$size" "$granted" 1
		done
	done
}

@test "tftp-hpa (which cannot ask options) gets plain 512-byte lockstep transfers" {
	local f size
	start_server
	for f in empty b512.one b512.two b1468.odd m1; do
		size=$(size_of "$ROOT/$f")
		# (tftp_get judges tftp-hpa by its messages: it exits 0 after an
		# ERROR or a timeout.)
		fetch_same tftp-hpa 127.0.0.1 "$f"
		expect_transfer "$f" octet "$size" 512 1
	done
}

@test "--max-block-size 1024: atftp, curl and busybox asking 8192 get 1024" {
	start_server --max-block-size 1024
	fetch_same -v -b 8192 -s atftp 127.0.0.1 b8192.odd
	oack_has "blksize: 1024" "tsize: 24583"
	expect_transfer b8192.odd octet 24583 1024 1

	fetch_same -b 8192 curl 127.0.0.1 b8192.odd
	expect_transfer b8192.odd octet 24583 1024 1

	fetch_same -b 8192 busybox 127.0.0.1 b8192.odd
	expect_transfer b8192.odd octet 24583 1024 1

	# Below the cap, what was asked is what is granted.
	fetch_same -v -b 1000 atftp 127.0.0.1 b512.odd
	oack_has "blksize: 1000"
	expect_transfer b512.odd octet 1543 1000 1
}

@test "--max-window 4: atftp asking windowsize 16 gets 4; by default 64 gets 16" {
	start_server --max-window 4
	fetch_same -v -b 1468 -w 16 -s atftp 127.0.0.1 m1
	oack_has "blksize: 1468" "windowsize: 4" "tsize: 1048576"
	expect_transfer m1 octet 1048576 1468 4

	stop_server
	XFERS=0
	start_server
	fetch_same -v -b 1468 -w 64 -s atftp 127.0.0.1 m1
	oack_has "blksize: 1468" "windowsize: 16" "tsize: 1048576"
	expect_transfer m1 octet 1048576 1468 16
}

@test "--refuse blksize: atftp asking 8192 gets 512-byte blocks, with and without other options" {
	start_server --refuse blksize
	# With tsize also asked: an OACK holding tsize only.
	fetch_same -v -b 8192 -s atftp 127.0.0.1 b8192.odd
	oack_has "tsize: 24583"
	oack_lacks blksize
	expect_transfer b8192.odd octet 24583 512 1

	# blksize alone: nothing accepted, so no OACK at all, DATA 1 at once.
	fetch_same -v -b 8192 atftp 127.0.0.1 b8192.odd
	[ "$(grep -c '^received OACK' "$BATS_TEST_TMPDIR/client.out")" -eq 0 ]
	expect_transfer b8192.odd octet 24583 512 1

	fetch_same -b 8192 curl 127.0.0.1 b8192.odd
	expect_transfer b8192.odd octet 24583 512 1
}

@test "--refuse windowsize: atftp asking windowsize 16 gets lockstep, blksize still granted" {
	start_server --refuse windowsize
	fetch_same -v -b 1468 -w 16 -s atftp 127.0.0.1 m1
	oack_has "blksize: 1468" "tsize: 1048576"
	oack_lacks windowsize
	expect_transfer m1 octet 1048576 1468 1
}

@test "--refuse with an unknown option name exits 2 without serving" {
	make_root
	# timeout: a daemon that accepted the name would run in the foreground.
	run timeout 10 "$CTFTPD" --foreground --host 127.0.0.1 --port 1 \
		--refuse bogus "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ $output == *--refuse* ]]
	[[ $output == *bogus* ]]
	# An option name is not a prefix or a list.
	run timeout 10 "$CTFTPD" --foreground --host 127.0.0.1 --port 1 \
		--refuse blk "$ROOT"
	[ "$status" -eq 2 ]
	run timeout 10 "$CTFTPD" --foreground --host 127.0.0.1 --port 1 \
		--refuse blksize,tsize "$ROOT"
	[ "$status" -eq 2 ]
}

@test "netascii with tsize: curl gets the RFC 764 wire encoding, at 512 and 1468" {
	local n want enc
	want="$BATS_TEST_TMPDIR/want.text"
	netascii_encode "$ROOT/text.txt" "$want"
	enc=$(size_of "$want")
	# The encoding grew the file, so tsize (the converted size) differs
	# from the file's size.
	[ "$enc" -gt "$(size_of "$ROOT/text.txt")" ]
	start_server
	for n in 512 1468; do
		fetch_same -m netascii -b "$n" curl 127.0.0.1 text.txt "$want"
		expect_transfer text.txt netascii "$enc" "$n" 1
	done
}

@test "netascii with tsize: atftp at blksize 1468 decodes back to the source; tsize is the converted size" {
	local want enc
	want="$BATS_TEST_TMPDIR/want.text"
	netascii_encode "$ROOT/text.txt" "$want"
	enc=$(size_of "$want")
	start_server
	fetch_same -v -m netascii -b 1468 -w 4 -s atftp 127.0.0.1 text.txt
	oack_has "blksize: 1468" "windowsize: 4" "tsize: $enc"
	expect_transfer text.txt netascii "$enc" 1468 4
}

@test "IPv6: atftp fetches 1 MiB over ::1 at blksize 1468, windowsize 4" {
	start_server
	fetch_same -v -b 1468 -w 4 -s atftp ::1 m1
	oack_has "blksize: 1468" "windowsize: 4" "tsize: 1048576"
	expect_transfer m1 octet 1048576 1468 4
	[ "$(log_count 'RRQ from \[::1\]:')" -eq 1 ]
}

# RFC 7440 windows of big blocks: the kernel's default send buffer (about
# 200 KiB) holds three 64 KiB blocks, so a window of 16 used to stall in
# sendmsg.  The transfer sizes its buffer for the window and logs (at the
# packet level) what the kernel granted; only root (not dropped), or a
# net.core.wmem_max that allows it, gets all of it.
@test "a window of 16 x 65464-byte blocks gets a send buffer that holds it" {
	start_server -v3
	fetch_same -b 65464 -w 16 atftp 127.0.0.1 m1
	log_has 'SO_SNDBUF [0-9]+ bytes for a window of 1055680'
	local granted
	granted=$(grep -ao 'SO_SNDBUF [0-9]*' "$SERVER_LOG" | tail -1 | cut -d' ' -f2)
	# The server may have dropped root (the default), so only the cap
	# says whether all of it can be had.
	if [ "$(cat /proc/sys/net/core/wmem_max 2>/dev/null || echo 0)" -ge 1055680 ]; then
		[ "$granted" -ge 1055680 ]
	fi
	# Lockstep needs no more than the default: nothing is asked.
	fetch_same -b 65464 atftp 127.0.0.1 m1
	log_count_is 1 'SO_SNDBUF'
}
