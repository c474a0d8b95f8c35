#!/usr/bin/env bats
# Interoperability: real TFTP clients (tftp-hpa, curl, busybox, atftp) fetch
# files from ctftpd and the bytes they write are compared with the source.
#
# The files are made once, in setup_file, under a shared root; each test
# starts its own server on that root (so each test has its own log to count
# summary lines in) and the default teardown from helpers stops it.

load helpers

# No client may hang the suite: a transfer that takes 5 s when it works gets
# this many seconds before it counts as failed.
: "${CLIENT_LIMIT:=120}"

# Octet sizes: empty, one byte, around one block, 1 MiB, and 40 MiB, which is
# 81921 blocks of 512 bytes: the 16-bit block number rolls over past 65535.
SIZES="0 1 511 512 513 1048576 41943040"

setup_file() {
	ROOT="$BATS_FILE_TMPDIR/root"
	export ROOT
	mkdir -p "$ROOT"
	chmod 755 "$ROOT"
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
	for i in $(seq 1 300); do
		printf 'line %d\n' "$i"
		[ $((i % 7)) -eq 0 ] && printf 'cr %d\r' "$i"
		[ $((i % 11)) -eq 0 ] && printf 'dos %d\r\n' "$i"
	done >"$d/mixed.txt"
	for i in $NETASCII_FILES; do
		chmod 644 "$d/$i"
	done
}

# netascii_encode IN OUT: RFC 764 encoding, computed here independently of
# the daemon: CR -> CR NUL, then LF -> CR LF.
netascii_encode() {
	perl -0777 -pe 's/\r/\r\0/g; s/\n/\r\n/g' <"$1" >"$2"
}

# url_host HOST: HOST as it goes in a URL.
url_host() {
	case $1 in
	*:*) echo "[$1]" ;;
	*) echo "$1" ;;
	esac
}

# get_octet CLIENT HOST NAME LOCAL: fetch NAME in octet mode.  Output goes to
# $BATS_TEST_TMPDIR/client.out so a failure can show it.
get_octet() {
	local client=$1 host=$2 name=$3 local=$4 fam=
	case $host in *:*) fam=-6 ;; esac
	case $client in
	tftp-hpa)
		timeout "$CLIENT_LIMIT" tftp $fam -m binary "$host" "$PORT" \
			-c get "$name" "$local" ;;
	curl)
		timeout "$CLIENT_LIMIT" curl -sS --fail -o "$local" \
			"tftp://$(url_host "$host"):$PORT/$name" ;;
	busybox)
		timeout "$CLIENT_LIMIT" busybox tftp -g -r "$name" -l "$local" \
			"$host" "$PORT" ;;
	atftp)
		timeout "$CLIENT_LIMIT" atftp -g -r "$name" -l "$local" \
			"$host" "$PORT" ;;
	*)
		echo "unknown client $client" >&2
		return 2 ;;
	esac >"$BATS_TEST_TMPDIR/client.out" 2>&1
}

# get_netascii CLIENT NAME LOCAL: fetch NAME from 127.0.0.1 in netascii mode.
get_netascii() {
	local client=$1 name=$2 local=$3
	case $client in
	tftp-hpa)
		timeout "$CLIENT_LIMIT" tftp -m netascii 127.0.0.1 "$PORT" \
			-c get "$name" "$local" ;;
	curl)
		timeout "$CLIENT_LIMIT" curl -sS --fail -o "$local" \
			"tftp://127.0.0.1:$PORT/$name;mode=netascii" ;;
	atftp)
		timeout "$CLIENT_LIMIT" atftp --option "mode netascii" \
			-g -r "$name" -l "$local" 127.0.0.1 "$PORT" ;;
	*)
		echo "unknown client $client" >&2
		return 2 ;;
	esac >"$BATS_TEST_TMPDIR/client.out" 2>&1
}

# client_ok CLIENT RC: the client succeeded.  tftp-hpa exits 0 even after an
# ERROR or a timeout, so its messages are checked as well.
client_ok() {
	if [ "$2" -ne 0 ]; then
		echo "$1 exited $2:" >&2
		cat "$BATS_TEST_TMPDIR/client.out" >&2
		return 1
	fi
	if grep -Eqi 'error|timed out|timeout' "$BATS_TEST_TMPDIR/client.out"; then
		echo "$1 reported a failure:" >&2
		cat "$BATS_TEST_TMPDIR/client.out" >&2
		return 1
	fi
	return 0
}

# same FILE EXPECTED: cmp, with a useful message.
same() {
	if ! cmp "$1" "$2" >&2; then
		echo "$1 differs from $2 ($(wc -c <"$1" 2>/dev/null) vs" \
			"$(wc -c <"$2") bytes)" >&2
		return 1
	fi
}

# log_count PATTERN: lines of the server log matching the fixed string.
log_count() {
	grep -cF -- "$1" "$SERVER_LOG" || true
}

log_count_is() {
	[ "$(log_count "$2")" -eq "$1" ]
}

# expect_summaries N MODE: N transfers were made; wait for their summary
# lines, then check that each one completed and that there is no other.
expect_summaries() {
	local n=$1 mode=$2
	if ! wait_for 10 log_count_is "$n" "mode $mode: complete"; then
		echo "expected $n 'mode $mode: complete' lines, log:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	fi
	if [ "$(log_count 'RRQ from')" -ne "$n" ]; then
		echo "expected exactly $n RRQ summary lines, log:" >&2
		cat "$SERVER_LOG" >&2
		return 1
	fi
}

# octet_all_sizes CLIENT: one server, every size, through CLIENT.
octet_all_sizes() {
	local client=$1 s rc out n=0
	start_server
	for s in $SIZES; do
		out="$BATS_TEST_TMPDIR/$client.$s"
		rc=0
		get_octet "$client" 127.0.0.1 "f$s" "$out" || rc=$?
		client_ok "$client" "$rc"
		same "$out" "$ROOT/f$s"
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
	local client rc out n=0
	start_server
	for client in tftp-hpa curl atftp busybox; do
		out="$BATS_TEST_TMPDIR/$client.v6"
		rc=0
		get_octet "$client" ::1 f1048576 "$out" || rc=$?
		client_ok "$client" "$rc"
		same "$out" "$ROOT/f1048576"
		n=$((n + 1))
	done
	expect_summaries "$n" octet
	# Every transfer went over IPv6.
	[ "$(log_count 'RRQ from [::1]:')" -eq "$n" ]
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
	local f rc out n=0
	start_server
	for f in $NETASCII_FILES; do
		out="$BATS_TEST_TMPDIR/curl.$f"
		rc=0
		get_netascii curl "$f" "$out" || rc=$?
		client_ok curl "$rc"
		netascii_encode "$ROOT/$f" "$BATS_TEST_TMPDIR/want.$f"
		same "$out" "$BATS_TEST_TMPDIR/want.$f"
		n=$((n + 1))
	done
	# Hand-written expectations for the block-boundary cases.
	{
		head -c 511 /dev/zero | tr '\0' 'x'
		printf '\r\nafter the boundary\r\n'
	} >"$BATS_TEST_TMPDIR/hand.boundary-lf"
	same "$BATS_TEST_TMPDIR/curl.boundary-lf.txt" \
		"$BATS_TEST_TMPDIR/hand.boundary-lf"
	{
		head -c 511 /dev/zero | tr '\0' 'y'
		printf '\r\0after the boundary\r\n'
	} >"$BATS_TEST_TMPDIR/hand.boundary-cr"
	same "$BATS_TEST_TMPDIR/curl.boundary-cr.txt" \
		"$BATS_TEST_TMPDIR/hand.boundary-cr"
	[ "$(wc -c <"$BATS_TEST_TMPDIR/curl.exact-block.txt")" -eq 512 ]
	expect_summaries "$n" netascii
}

@test "tftp-hpa netascii: converted back to local line ends, equal to the source" {
	# tftp-hpa decodes CR LF -> LF and CR NUL -> CR, so the round trip of
	# any file (lone CRs and existing CR LFs included) is the file itself.
	local f rc out n=0
	start_server
	for f in $NETASCII_FILES; do
		out="$BATS_TEST_TMPDIR/hpa.$f"
		rc=0
		get_netascii tftp-hpa "$f" "$out" || rc=$?
		client_ok tftp-hpa "$rc"
		same "$out" "$ROOT/$f"
		n=$((n + 1))
	done
	expect_summaries "$n" netascii
}

@test "atftp netascii: converted back to local line ends, equal to the source" {
	local f rc out n=0
	start_server
	for f in $NETASCII_FILES; do
		out="$BATS_TEST_TMPDIR/atftp.$f"
		rc=0
		get_netascii atftp "$f" "$out" || rc=$?
		client_ok atftp "$rc"
		same "$out" "$ROOT/$f"
		n=$((n + 1))
	done
	expect_summaries "$n" netascii
}

@test "missing file: every client fails with File not found and leaves no data" {
	local rc out
	make_root
	start_server

	out="$BATS_TEST_TMPDIR/curl.missing"
	rc=0
	get_octet curl 127.0.0.1 no-such-file "$out" || rc=$?
	[ "$rc" -ne 0 ]
	# curl maps ERROR 1 to CURLE_TFTP_NOTFOUND (68).
	[ "$rc" -eq 68 ]
	[ ! -s "$out" ]

	out="$BATS_TEST_TMPDIR/hpa.missing"
	rc=0
	get_octet tftp-hpa 127.0.0.1 no-such-file "$out" || rc=$?
	grep -q 'Error code 1: File not found' "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$out" ]

	out="$BATS_TEST_TMPDIR/busybox.missing"
	rc=0
	get_octet busybox 127.0.0.1 no-such-file "$out" || rc=$?
	[ "$rc" -ne 0 ]
	grep -q 'File not found' "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$out" ]

	out="$BATS_TEST_TMPDIR/atftp.missing"
	rc=0
	get_octet atftp 127.0.0.1 no-such-file "$out" || rc=$?
	[ "$rc" -ne 0 ]
	grep -q 'File not found' "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$out" ]

	wait_for 10 log_count_is 4 'refused: no such file (ERROR 1)'
	[ "$(log_count 'complete')" -eq 0 ]
}

@test "not world-readable: refused with ERROR 2, served with --permissive" {
	local rc out
	make_root
	printf 'private bytes\n' >"$ROOT/private"
	chmod 640 "$ROOT/private"
	start_server

	out="$BATS_TEST_TMPDIR/curl.private"
	rc=0
	get_octet curl 127.0.0.1 private "$out" || rc=$?
	# curl maps ERROR 2 to CURLE_TFTP_PERM (69).
	[ "$rc" -eq 69 ]
	[ ! -s "$out" ]

	out="$BATS_TEST_TMPDIR/hpa.private"
	get_octet tftp-hpa 127.0.0.1 private "$out" || true
	grep -q 'Error code 2: Access violation' "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$out" ]

	wait_for 10 log_count_is 2 'refused: not world-readable (ERROR 2)'
	[ "$(log_count 'complete')" -eq 0 ]

	stop_server
	start_server --permissive
	out="$BATS_TEST_TMPDIR/curl.private.ok"
	rc=0
	get_octet curl 127.0.0.1 private "$out" || rc=$?
	client_ok curl "$rc"
	same "$out" "$ROOT/private"
	out="$BATS_TEST_TMPDIR/hpa.private.ok"
	rc=0
	get_octet tftp-hpa 127.0.0.1 private "$out" || rc=$?
	client_ok tftp-hpa "$rc"
	same "$out" "$ROOT/private"
	expect_summaries 2 octet
}
