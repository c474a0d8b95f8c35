#!/usr/bin/env bats
# Interoperability: real TFTP clients (tftp-hpa, curl, busybox, atftp) fetch
# files from ctftpd and the bytes they write are compared with the source.
#
# The files are made once, in setup_file, under a shared root; each test
# starts its own server on that root (so each test has its own log to count
# summary lines in) and the default teardown from helpers stops it.

load helpers

# A client that mentions an error or a timeout has failed, whatever its
# status.
CLIENT_STRICT=1

# Octet sizes: empty, one byte, around one block, 1 MiB, and 40 MiB, which is
# 81921 blocks of 512 bytes: the 16-bit block number rolls over past 65535.
SIZES="0 1 511 512 513 1048576 41943040"

setup_file() {
	make_root "$BATS_FILE_TMPDIR/root"
	export ROOT
	local s
	for s in $SIZES; do
		make_file "f$s" "$s"
	done
	make_netascii_files "$ROOT"
}

# make_netascii_files DIR: text files for netascii mode.  Every file name
# ends in .txt; NETASCII_FILES lists them.
NETASCII_FILES="empty.txt lf.txt lonecr.txt crlf.txt long.txt boundary-lf.txt
boundary-cr.txt exact-block.txt nonl.txt endcr.txt mixed.txt"
make_netascii_files() {
	local d=$1 i
	: >"$d/empty.txt"
	printf 'first line\nsecond line\n\nfourth, after an empty line\n' \
		>"$d/lf.txt"
	printf 'before a lone CR\rafter it\n' >"$d/lonecr.txt"
	printf 'already DOS\r\nline two\r\n' >"$d/crlf.txt"
	# A line far longer than a block, then a short one.
	{
		head -c 1500 /dev/zero | tr '\0' 'L'
		printf '\nshort\n'
	} >"$d/long.txt"
	# LF as byte 511: its CR is the last byte of block 1, the LF the first
	# byte of block 2.
	{
		head -c 511 /dev/zero | tr '\0' 'x'
		printf '\nafter the boundary\n'
	} >"$d/boundary-lf.txt"
	# A lone CR as byte 511: CR ends block 1, its NUL starts block 2.
	{
		head -c 511 /dev/zero | tr '\0' 'y'
		printf '\rafter the boundary\n'
	} >"$d/boundary-cr.txt"
	# 256 LFs encode to exactly 512 bytes: a full block, then an empty one.
	head -c 256 /dev/zero | tr '\0' '\n' >"$d/exact-block.txt"
	printf 'line one\nno newline at the end' >"$d/nonl.txt"
	printf 'ends with a CR\r' >"$d/endcr.txt"
	# Several blocks of mixed endings, so conversion state crosses many
	# block boundaries at varying offsets.
	mixed_line_ends 300 >"$d/mixed.txt"
	for i in $NETASCII_FILES; do
		chmod 644 "$d/$i"
	done
}

# expect_summaries N MODE: N transfers were made; wait for their summary
# lines, then check that each one completed and that there is no other.
expect_summaries() {
	log_count_becomes "$1" "mode $2: complete"
	[ "$(log_count 'RRQ from')" -eq "$1" ] || {
		echo "expected exactly $1 RRQ lines, log:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

# octet_all_sizes CLIENT: one server, every size, through CLIENT.
octet_all_sizes() {
	local client=$1 s n=0
	start_server
	for s in $SIZES; do
		fetch_same "$client" 127.0.0.1 "f$s"
		n=$((n + 1))
	done
	expect_summaries "$n" octet
	for s in $SIZES; do
		[ "$(log_count "file \"f$s\" mode octet: complete; $s bytes")" \
			-eq 1 ]
	done
}

@test "tftp-hpa: octet files of 0 B to 40 MiB (block number rollover) arrive intact" {
	octet_all_sizes tftp-hpa
}

@test "curl: octet files of 0 B to 40 MiB (block number rollover) arrive intact" {
	octet_all_sizes curl
}

@test "busybox tftp: octet files of 0 B to 40 MiB (block number rollover) arrive intact" {
	octet_all_sizes busybox
}

@test "atftp: octet files of 0 B to 40 MiB (block number rollover) arrive intact" {
	octet_all_sizes atftp
}

@test "IPv6: tftp-hpa, curl, atftp and busybox fetch 1 MiB over ::1" {
	local client n=0
	start_server
	for client in tftp-hpa curl atftp busybox; do
		fetch_same "$client" ::1 f1048576
		n=$((n + 1))
	done
	expect_summaries "$n" octet
	# Every transfer went over IPv6.
	[ "$(log_count 'RRQ from \[::1\]:')" -eq "$n" ]
}

@test "netascii encoder reference (the test's own expectation) is right" {
	# A hand-written check of netascii_encode, so the comparisons below do
	# not rest on an expectation computed by code nobody checked.
	printf 'a\nb\rc\r\nd' >"$BATS_TEST_TMPDIR/in"
	printf 'a\r\nb\r\0c\r\0\r\nd' >"$BATS_TEST_TMPDIR/want"
	netascii_encode "$BATS_TEST_TMPDIR/in" "$BATS_TEST_TMPDIR/got"
	same "$BATS_TEST_TMPDIR/got" "$BATS_TEST_TMPDIR/want"
}

@test "curl netascii: raw wire encoding is LF -> CR LF, CR -> CR NUL, across block boundaries" {
	# curl writes the netascii bytes as they came off the wire, so its
	# output must be the encoding of the source.
	local f n=0
	start_server
	for f in $NETASCII_FILES; do
		netascii_encode "$ROOT/$f" "$BATS_TEST_TMPDIR/want.$f"
		fetch_same -m netascii curl 127.0.0.1 "$f" "$BATS_TEST_TMPDIR/want.$f"
		n=$((n + 1))
		# Hand-written expectations for the block-boundary cases.
		case $f in
		boundary-lf.txt)
			{
				head -c 511 /dev/zero | tr '\0' 'x'
				printf '\r\nafter the boundary\r\n'
			} >"$BATS_TEST_TMPDIR/hand"
			same "$GOT" "$BATS_TEST_TMPDIR/hand" ;;
		boundary-cr.txt)
			{
				head -c 511 /dev/zero | tr '\0' 'y'
				printf '\r\0after the boundary\r\n'
			} >"$BATS_TEST_TMPDIR/hand"
			same "$GOT" "$BATS_TEST_TMPDIR/hand" ;;
		exact-block.txt)
			[ "$(size_of "$GOT")" -eq 512 ] ;;
		esac
	done
	expect_summaries "$n" netascii
}

# netascii_round_trip CLIENT: CLIENT decodes CR LF -> LF and CR NUL -> CR, so
# what it writes of any file (lone CRs and existing CR LFs included) is the
# file itself.
netascii_round_trip() {
	local f n=0
	start_server
	for f in $NETASCII_FILES; do
		fetch_same -m netascii "$1" 127.0.0.1 "$f"
		n=$((n + 1))
	done
	expect_summaries "$n" netascii
}

@test "tftp-hpa netascii: converted back to local line ends, equal to the source" {
	netascii_round_trip tftp-hpa
}

@test "atftp netascii: converted back to local line ends, equal to the source" {
	netascii_round_trip atftp
}

# refused CLIENT NAME PATTERN [STATUS]: CLIENT's request for NAME fails (with
# STATUS when given) and leaves no data; its messages match PATTERN.
refused() {
	local rc=0
	tftp_get "$1" 127.0.0.1 "$2" "$BATS_TEST_TMPDIR/refused" || rc=$?
	echo "$1 $2: status $rc"
	[ "$rc" -ne 0 ]
	[ -z "${4:-}" ] || [ "$rc" -eq "$4" ]
	[ -z "$3" ] || grep -q -- "$3" "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$BATS_TEST_TMPDIR/refused" ]
}

@test "missing file: every client fails with File not found and leaves no data" {
	make_root
	start_server
	# curl maps ERROR 1 to CURLE_TFTP_NOTFOUND (68).
	refused curl no-such-file "" 68
	refused tftp-hpa no-such-file 'Error code 1: File not found'
	refused busybox no-such-file 'File not found'
	refused atftp no-such-file 'File not found'
	log_count_becomes 4 'refused: no such file \(ERROR 1\)'
	[ "$(log_count 'complete')" -eq 0 ]
}

@test "not world-readable: refused with ERROR 2, served with --permissive" {
	make_root
	printf 'private bytes\n' >"$ROOT/private"
	chmod 640 "$ROOT/private"
	start_server
	# curl maps ERROR 2 to CURLE_TFTP_PERM (69).
	refused curl private "" 69
	refused tftp-hpa private 'Error code 2: Access violation'
	log_count_becomes 2 'refused: not world-readable \(ERROR 2\)'
	[ "$(log_count 'complete')" -eq 0 ]

	stop_server
	start_server --permissive
	fetch_same curl 127.0.0.1 private
	fetch_same tftp-hpa 127.0.0.1 private
	expect_summaries 2 octet
}
