#!/usr/bin/env bats
# Hostile and unusual datagrams, sent by tests/probe to a real server on the
# loopback: malformed requests, traversal, foreign TIDs, duplicate ACKs,
# silence, repeated requests.  Each test starts its own server.

load helpers

# The probe counts every datagram, so its servers keep a fixed timer: the
# adaptive one would resend after a few milliseconds of scheduling delay on
# a loaded machine.  The adaptive timer has its own test, which overrides
# this.
CTFTPD_TEST_ARGS="--min-timeout 255000"

HOSTS="127.0.0.1 ::1"

@test "probe: usage errors exit 2, other addresses are refused" {
	run "$PROBE"
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 69 no-such-scenario
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 0 truncated
	[ "$status" -eq 2 ]
	run "$PROBE" 127.0.0.1 69 get
	[ "$status" -eq 2 ]
	# The probe sends hostile packets: never anywhere but the loopback.
	local host
	for host in 192.0.2.1 127.0.0.2 127.1.0.1 ::ffff:127.0.0.1 ::2 localhost; do
		run "$PROBE" "$host" 69 truncated
		echo "$host: $status $output"
		[ "$status" -eq 2 ]
		[[ "$output" == *"127.0.0.1 or ::1"* || "$output" == *"probe:"* ]]
	done
}

@test "probe: a normal download is byte-exact (IPv4 and IPv6)" {
	make_root
	make_file big.bin 70000
	make_file exact.bin 2048
	start_server
	local host f
	for host in $HOSTS; do
		for f in hello.txt big.bin exact.bin; do
			probe_fetch "$host" get "$f"
		done
	done
	log_has 'file "big.bin" mode octet: complete'
}

@test "probe: a missing file is ERROR 1, not a hang" {
	start_server
	run "$PROBE" 127.0.0.1 "$PORT" get no-such-file
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"ERROR 1 "* ]]
}

@test "probe: truncated requests get ERROR 4 from the server port" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" truncated
	done
	server_alive
}

@test "probe: requests missing a NUL get ERROR 4" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" missing-nul
	done
	server_alive
}

@test "probe: an empty file name is ERROR 2" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" empty-name
	done
}

@test "probe: a 600-byte file name is ERROR 1, and so is a 4000-byte one" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" long-name 600
		probe_pass "$host" long-name 4000
	done
	server_alive
}

@test "probe: unknown opcodes get ERROR 4" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" bad-opcode
	done
}

@test "probe: DATA, ACK and OACK to the listening port get no reply" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" stray-opcode
	done
}

@test "probe: an ERROR to the listening port gets no reply" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" error-no-reply
	done
}

@test "probe: modes mail and foo are ERROR 4; OcTeT works" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" mode-refused
		probe_fetch "$host" get hello.txt OcTeT
	done
}

@test "probe: traversal and symlinks out of the root are refused" {
	make_root
	# Outside the root but world-readable: confinement is the only reason
	# left to refuse it.
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	echo secret >"$BATS_TEST_TMPDIR/outside/secret.txt"
	chmod 755 "$BATS_TEST_TMPDIR/outside"
	chmod 644 "$BATS_TEST_TMPDIR/outside/secret.txt"
	ln -s "$BATS_TEST_TMPDIR/outside/secret.txt" "$ROOT/escape"
	ln -s "$BATS_TEST_TMPDIR/outside" "$ROOT/outdir"
	ln -s ../outside/secret.txt "$ROOT/relescape"
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" traversal
		probe_pass "$host" traversal "../etc/passwd" "a/../../x" "/../x" ".."
		probe_pass "$host" traversal escape outdir/secret.txt relescape \
			"../outside/secret.txt"
	done
	log_lacks '(escape|secret\.txt)" mode [a-z]+: complete'
}

@test "probe: WRQ without --create is refused and creates nothing" {
	start_server
	local host
	for host in $HOSTS; do
		probe_pass "$host" wrq
	done
	[ ! -e "$ROOT/probe-new.bin" ]
	[ ! -e "$ROOT/probe-new.txt" ]
	cmp "$ROOT/hello.txt" <(printf 'hello, world\n')
}

@test "probe: an ACK from a foreign port gets no reply and the transfer goes on" {
	make_root
	make_file big.bin 5000
	start_server
	local host
	for host in $HOSTS; do
		probe_fetch "$host" foreign-tid big.bin
	done
	log_has 'file "big.bin" mode octet: complete'
}

@test "probe: duplicate ACKs never make the server send a block twice" {
	make_root
	make_file big.bin 20000
	make_file exact.bin 4096
	start_server
	local host f
	for host in $HOSTS; do
		for f in big.bin exact.bin; do
			probe_fetch "$host" dup-ack "$f"
		done
	done
	# No retransmissions at all: every summary says 0.
	wait_for 10 no_children
	log_lacks 'file "(big|exact)\.bin".* [1-9][0-9]* retransmits'
}

@test "probe: a silent source gets DATA 1 once, nothing on a timer, and is given up" {
	make_root
	make_file big.bin 2000
	# No ACK, no proof the address is real: DATA 1 is not resent on the
	# timer (1 s here), and --give-up (3 s) after its request the
	# transfer ends.
	start_server --timeout 1 --give-up 3
	local host
	for host in $HOSTS; do
		probe_pass "$host" silence big.bin 1 3500
	done
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: failed: no reply from the client, gave up after 3\.0 s; 512 bytes, 1 blocks, 0 retransmits'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: failed: no reply from the client, gave up after 3\.0 s'
	wait_for 10 no_children
	[ "$(summary_count big.bin)" -eq 2 ]
}

@test "probe: a source that repeats its RRQ gets the first packet once per request" {
	make_root
	make_file big.bin 3000
	start_server --timeout 1
	local host
	for host in $HOSTS; do
		# Twice repeated: three copies of DATA 1 in all, none on the
		# 1 s timer in the 1.5 s gaps.  Then the download completes.
		probe_fetch "$host" repeat-request big.bin 2 1500
		# The same for the OACK.
		probe_fetch "$host" repeat-request big.bin 2 1500 \
			blksize 1024 windowsize 2
	done
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: complete; 3000 bytes, 3 blocks, 2 retransmits.*blksize 1024, windowsize 2'
	wait_for 10 no_children
	[ "$(summary_count big.bin)" -eq 4 ]
}

@test "probe: a new request from a transfer's port replaces it at once" {
	make_root
	make_file big.bin 5000
	make_file other.bin 3000
	start_server --timeout 1
	local host
	for host in $HOSTS; do
		rm -f "$BATS_TEST_TMPDIR/out"
		probe_pass "$host" new-request big.bin other.bin "$BATS_TEST_TMPDIR/out"
		cmp "$ROOT/other.bin" "$BATS_TEST_TMPDIR/out"
	done
	log_has 'new request from \[::1\]:[0-9]+: ending its previous transfer'
	log_has 'file "big.bin" mode octet: stopped by the server; 1024 bytes, 2 blocks'
	wait_for 10 no_children
	log_lacks 'killed by signal'
}

# again_ok HOST FILE1 FILE2 ROUNDS [ARGS...]: the "again" scenario passes,
# and its last download (FILE2: ROUNDS is even) is intact.
again_ok() {
	rm -f "$BATS_TEST_TMPDIR/out"
	probe_pass "$1" again "$2" "$3" "$BATS_TEST_TMPDIR/out" "${@:4}"
	cmp "$ROOT/$3" "$BATS_TEST_TMPDIR/out"
}

@test "probe: a request right after a transfer ends, from its port, is answered at once" {
	make_root
	make_file a.bin 1500
	make_file b.bin 700
	make_file one.bin 100
	start_server
	local host
	for host in $HOSTS; do
		# The same request again and again (one block, then several),
		# and two requests in turn; each sent once only.
		again_ok "$host" one.bin one.bin 20
		again_ok "$host" a.bin a.bin 20
		again_ok "$host" a.bin b.bin 20
		again_ok "$host" a.bin a.bin 10 blksize 1024
		# A UEFI size probe (OACK, ERROR 8), then the file, repeatedly.
		again_ok "$host" a.bin a.bin 10 error8
	done
	wait_for 10 no_children
	log_lacks 'killed by signal|gave up'
}

@test "probe: the retransmission timer adapts to the round trip (RFC 1123 4.2.3.2)" {
	make_root
	make_file big.bin 100000
	# A 3 s timeout: a fixed timer would resend nothing within 1.5 s.
	start_server --timeout 3 --min-timeout 20
	probe_pass 127.0.0.1 adaptive big.bin 50 1500 4
	# The probe has closed its port: the next resend meets ICMP port
	# unreachable and ends the transfer.
	log_has 'file "big.bin" mode octet: client gone \(ICMP port unreachable\)'
}

@test "probe: backoff on silence doubles past --timeout, then --give-up ends it" {
	make_root
	make_file big.bin 100000
	# --timeout 100 ms: the gaps between copies go 20, 40, ... past it,
	# until the client has been silent for --give-up (2 s; the probe
	# listens for 3 s with its port open).
	start_server -T 100000 --min-timeout 20 --give-up 2
	probe_pass 127.0.0.1 backoff big.bin 20 3000 300
	probe_pass ::1 backoff big.bin 20 3000 300
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: failed: client silent, gave up after 2\.0 s'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: failed: client silent, gave up after 2\.0 s'
}

@test "probe: the last ACK again ends the backoff (a client on its own timer)" {
	make_root
	make_file big.bin 100000
	start_server --min-timeout 20 --give-up 10
	probe_pass 127.0.0.1 backoff-ended big.bin 20
	probe_pass ::1 backoff-ended big.bin 20
}

@test "probe: a client's timeout option caps the timer, --strict-timeout fixes it" {
	make_root
	make_file big.bin 100000
	start_server --min-timeout 20 --give-up 5
	# timeout 1 negotiated: a DATA lost toward the client is resent
	# after about a round trip, not after 1 s.
	probe_pass 127.0.0.1 backoff big.bin 20 900 1 timeout 1
	stop_server
	start_server --min-timeout 20 --give-up 5 --strict-timeout
	run "$PROBE" 127.0.0.1 "$PORT" backoff big.bin 20 900 1 timeout 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"0 copies"* ]]
}

@test "probe: a client that ignores duplicates and waits 5 s still completes" {
	make_root
	make_file big.bin 5000
	# U-Boot: no ACK for a repeated DATA, its own 5 s timer restarted by
	# every datagram.  The ACK of block 3 is lost: only a gap of more
	# than 5 s in the server's resends lets the client's timer fire.
	start_server --min-timeout 20 --give-up 25
	probe_fetch 127.0.0.1 field big.bin 5000 0 3
	log_has 'file "big.bin" mode octet: complete'
}

@test "probe: a client gone after a lost final ACK ends the transfer at once" {
	make_root
	make_file big.bin 3000
	start_server --give-up 30
	probe_pass 127.0.0.1 gone big.bin
	probe_pass ::1 gone big.bin
	# One resend of the last block meets ICMP port unreachable: the
	# transfer ends then, not after 30 s.
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: client gone \(ICMP port unreachable\); 3000 bytes, 6 blocks, 1 retransmits'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: client gone \(ICMP port unreachable\)'
}

@test "probe: after a silence only the oldest block of a window is resent" {
	make_root
	make_file big.bin 30000
	start_server --timeout 1
	probe_pass 127.0.0.1 window-silence big.bin 8 2500
	probe_pass ::1 window-silence big.bin 8 2500
}

@test "probe: --min-timeout equal to --timeout keeps the timer fixed" {
	make_root
	make_file big.bin 100000
	start_server --timeout 3 --retries 1 --min-timeout 3000
	run "$PROBE" 127.0.0.1 "$PORT" adaptive big.bin 50 1500 2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"1 copies"* ]]
}

@test "probe: a repeated RRQ starts exactly one transfer" {
	make_root
	make_file twice4.bin 3000
	make_file twice6.bin 3000
	# The probe waits 1.5 s before its first ACK; a second, phantom
	# transfer would give up (and log its summary) after --give-up.
	start_server --timeout 1 --give-up 3
	local host f
	for host in $HOSTS; do
		f=twice4.bin
		[ "$host" = ::1 ] && f=twice6.bin
		probe_fetch "$host" retransmitted-rrq "$f"
		log_has "file \"$f\" mode octet: complete"
		wait_for 10 no_children
		echo "summaries for $f: $(summary_count "$f")"
		[ "$(summary_count "$f")" -eq 1 ]
	done
}

@test "probe: an ERROR from the client ends the transfer at once" {
	make_root
	make_file big.bin 5000
	start_server --timeout 1 --retries 3
	local host
	for host in $HOSTS; do
		probe_pass "$host" client-error big.bin 2500
	done
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" .*ended by client'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" .*ended by client'
	log_lacks 'file "big\.bin" .*gave up'
}

@test "probe: the server survives the whole hostile set and serves afterwards" {
	make_root
	make_file big.bin 3000
	start_server
	local host s
	for host in $HOSTS; do
		for s in truncated missing-nul empty-name bad-opcode \
			error-no-reply mode-refused traversal wrq; do
			probe_pass "$host" "$s"
		done
	done
	server_alive
	wait_for 5 no_zombies
	probe_fetch 127.0.0.1 get big.bin
}

# ---- option negotiation (RFC 2347, 2348, 2349, 7440) ----------------------


# oack_ok HOST FILE MODE EXPECT [NAME VALUE]...: the OACK holds exactly
# EXPECT ("none": no OACK at all), and the file then arrives intact with the
# granted blksize and windowsize.  For netascii, NETASCII_REF names the
# expected converted bytes.
oack_ok() {
	local host=$1 f=$2 mode=$3
	shift 3
	rm -f "$BATS_TEST_TMPDIR/out"
	probe_pass "$host" oack "$f" "$BATS_TEST_TMPDIR/out" "$mode" "$@"
	if [ "$mode" = netascii ]; then
		cmp "$NETASCII_REF" "$BATS_TEST_TMPDIR/out"
	else
		cmp "$ROOT/$f" "$BATS_TEST_TMPDIR/out"
	fi
}

@test "probe: the OACK grants blksize, tsize and windowsize, and the download uses them" {
	make_root
	make_file big.bin 100000
	make_file k.bin 1000
	make_file exact.bin 4096
	start_server
	local host
	for host in $HOSTS; do
		oack_ok "$host" big.bin octet blksize=1024,tsize=100000,windowsize=4 \
			blksize 1024 tsize 0 windowsize 4
		# Names come back in lower case, in any order the server likes.
		oack_ok "$host" big.bin octet windowsize=3,blksize=1428 \
			WindowSize 3 BLKSIZE 1428
		# The RFC 2348 bounds: 8 is granted, on the loopback 65464 too,
		# and anything above gets the cap.
		oack_ok "$host" k.bin octet blksize=8 blksize 8
		oack_ok "$host" big.bin octet blksize=65464 blksize 65464
		oack_ok "$host" big.bin octet blksize=65464 blksize 65465
		oack_ok "$host" big.bin octet blksize=65464 blksize 18446744073709551615
		# A multiple of blksize ends with an empty block.
		oack_ok "$host" exact.bin octet blksize=1024,windowsize=2 \
			blksize 1024 windowsize 2
		oack_ok "$host" exact.bin octet windowsize=4 windowsize 4
		# windowsize above --max-window (default 16) gets the cap.
		oack_ok "$host" big.bin octet windowsize=16 windowsize 65535
		# timeout (RFC 2349) 1..255 s, echoed as asked.
		oack_ok "$host" big.bin octet timeout=1 timeout 1
		oack_ok "$host" big.bin octet timeout=255,tsize=100000 timeout 255 tsize 0
		# tsize in an RRQ: whatever the client says, the file's size.
		oack_ok "$host" big.bin octet tsize=100000 tsize 12345
		oack_ok "$host" hello.txt octet tsize=13 tsize 0
	done
	log_has 'file "big.bin" mode octet: complete; .*; blksize 1024, windowsize 4$'
	log_has 'file "big.bin" mode octet: complete; .*; blksize 65464, windowsize 1$'
	log_lacks 'warning|error'
}

@test "probe: a small blksize with other options still gets its OACK" {
	make_root
	make_file k.bin 1000
	start_server
	# The OACK is longer than one 8-byte block: it must still go out.
	oack_ok 127.0.0.1 k.bin octet blksize=8,tsize=1000 blksize 8 tsize 0
	oack_ok 127.0.0.1 k.bin octet blksize=16,windowsize=4 blksize 16 windowsize 4
	oack_ok ::1 k.bin octet blksize=8,timeout=3 blksize 8 timeout 3
}

@test "probe: duplicate, empty, junk and out-of-range option values are ignored" {
	make_root
	make_file big.bin 30000
	start_server
	local host v
	for host in $HOSTS; do
		# The first occurrence wins, whatever the case of the name.
		oack_ok "$host" big.bin octet blksize=1024 blksize 1024 blksize 2048
		oack_ok "$host" big.bin octet blksize=1024 BlkSize 1024 blksize 2048
		oack_ok "$host" big.bin octet blksize=1024,windowsize=2 \
			blksize 1024 windowsize 2 windowsize 8 BLKSIZE 4096
		# An invalid first occurrence is still the first one.
		oack_ok "$host" big.bin octet none blksize 7 blksize 1024
		# Empty values, and only ignored options: no OACK at all, DATA 1
		# comes at once with 512 bytes.
		oack_ok "$host" big.bin octet none blksize ""
		oack_ok "$host" big.bin octet windowsize=2 blksize "" windowsize 2
		oack_ok "$host" big.bin octet none timeout "" tsize "" windowsize ""
		# Not plain decimal.
		for v in 12abc -5 99999999999999999999999 18446744073709551616 \
			" 512" "512 " +512 0x400 1e3 "５１２"; do
			oack_ok "$host" big.bin octet none blksize "$v"
			oack_ok "$host" big.bin octet tsize=30000 blksize "$v" tsize 0
		done
		# Out of range.
		oack_ok "$host" big.bin octet none blksize 7
		oack_ok "$host" big.bin octet none blksize 0
		oack_ok "$host" big.bin octet none windowsize 0
		oack_ok "$host" big.bin octet none windowsize 65536
		oack_ok "$host" big.bin octet none timeout 0
		oack_ok "$host" big.bin octet none timeout 256
		oack_ok "$host" big.bin octet none tsize abc
		# Unknown options, a name with a trailing space, and a name
		# without a value at the end (a malformed tail).
		oack_ok "$host" big.bin octet none foo bar multicast "" "blksize " 1024
		oack_ok "$host" big.bin octet blksize=1024 blksize 1024 windowsize
		oack_ok "$host" big.bin octet none windowsize
	done
	server_alive
	log_lacks 'warning|error'
}

@test "probe: an empty file's OACK leaves tsize out (curl rejects tsize 0)" {
	make_root
	: >"$ROOT/empty"
	chmod 644 "$ROOT/empty"
	start_server
	local host
	for host in $HOSTS; do
		# tsize alone: nothing to acknowledge, so no OACK at all.
		oack_ok "$host" empty octet none tsize 0
		oack_ok "$host" empty octet blksize=1024 blksize 1024 tsize 0
		NETASCII_REF="$ROOT/empty"
		oack_ok "$host" empty netascii windowsize=2 tsize 0 windowsize 2
	done
}

@test "probe: tsize of a netascii file is its converted size" {
	make_root
	# LF becomes CR LF, CR becomes CR NUL; pairs straddle block edges.
	{
		seq 1 3000
		printf 'bare\rcr\r\nboth\n\r\n'
		head -c 511 /dev/zero | tr '\0' a
		printf '\n'
	} >"$ROOT/text.txt"
	{ head -c 511 /dev/zero | tr '\0' b; printf '\n'; } >"$ROOT/edge.txt"
	{ head -c 510 /dev/zero | tr '\0' c; printf '\n'; } >"$ROOT/exact.txt"
	{ head -c 511 /dev/zero | tr '\0' d; printf '\r'; } >"$ROOT/cr.txt"
	chmod 644 "$ROOT"/*.txt
	start_server
	local f size lf cr want host
	for f in text.txt edge.txt exact.txt cr.txt; do
		size=$(wc -c <"$ROOT/$f")
		lf=$(tr -cd '\n' <"$ROOT/$f" | wc -c)
		cr=$(tr -cd '\r' <"$ROOT/$f" | wc -c)
		want=$((size + lf + cr))
		echo "$f: $size bytes, $lf LF, $cr CR: $want in netascii"
		NETASCII_REF="$BATS_TEST_TMPDIR/$f.ref"
		netascii_encode "$ROOT/$f" "$NETASCII_REF"
		[ "$(wc -c <"$NETASCII_REF")" -eq "$want" ]
		for host in $HOSTS; do
			oack_ok "$host" "$f" netascii "tsize=$want" tsize 0
			oack_ok "$host" "$f" netascii "tsize=$want,blksize=100,windowsize=3" \
				tsize 0 blksize 100 windowsize 3
			# octet is unconverted
			oack_ok "$host" "$f" octet "tsize=$size" tsize 0
		done
	done
}

@test "probe: 255 options are handled; a request over 4096 bytes is ERROR 4" {
	make_root
	make_file big.bin 20000
	start_server
	local host
	for host in $HOSTS; do
		probe_fetch "$host" many-options big.bin 255 none
		probe_fetch "$host" many-options big.bin 255 \
			blksize=1024,tsize=20000,windowsize=4 \
			blksize 1024 tsize 0 windowsize 4
		# 500 options (about 3400 bytes), the known one last.
		probe_fetch "$host" many-options big.bin 500 \
			blksize=2048 blksize 2048
		# The listener's buffer is 4096 bytes: that much is a request,
		# one byte more is refused, and so is a 65000-byte datagram.
		probe_pass "$host" long-request 4096
		probe_pass "$host" long-request 4097
		probe_pass "$host" long-request 65000
	done
	server_alive
	log_has 'request from 127\.0\.0\.1:[0-9]+ longer than 4096 bytes'
	log_has 'request from \[::1\]:[0-9]+ longer than 4096 bytes'
}

@test "probe: ERROR 8 after the OACK ends the transfer quietly" {
	make_root
	make_file big.bin 5000
	start_server --timeout 1 --retries 3
	local host
	for host in $HOSTS; do
		probe_pass "$host" oack-error big.bin 2500
		probe_pass "$host" oack-error big.bin 2500 tsize 0 blksize 1468 windowsize 8
	done
	log_has 'info: RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: ended by client: ERROR 8 '
	log_has 'info: RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: ended by client: ERROR 8 '
	wait_for 10 no_children
	[ "$(summary_count big.bin)" -eq 4 ]
	log_lacks '(warning|error): .*big\.bin'
	log_lacks 'big\.bin.*gave up'
}

@test "probe: a silent source gets the OACK once, and is given up" {
	make_root
	make_file big.bin 5000
	start_server --timeout 1 --give-up 2
	local host
	for host in $HOSTS; do
		probe_pass "$host" oack-silence big.bin 1 2500
		probe_pass "$host" oack-silence big.bin 1 2500 timeout 1
	done
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "big.bin" mode octet: failed: no reply from the client, gave up after 2\.0 s; 0 bytes, 0 blocks, 0 retransmits'
	log_has 'RRQ from \[::1\]:[0-9]+ file "big.bin" mode octet: .*no reply from the client'
	wait_for 10 no_children
	[ "$(summary_count big.bin)" -eq 4 ]
}

@test "probe: ACKs outside the window are ignored" {
	make_root
	make_file big.bin 30000
	make_file w8.bin 70000
	# The probe listens 0.5 s for a reaction: the server's timer must
	# not fire meanwhile.
	start_server --timeout 3
	local host
	for host in $HOSTS; do
		probe_fetch "$host" window-stray big.bin 4
		probe_fetch "$host" window-stray w8.bin 8
	done
	wait_for 10 no_children
	log_lacks 'file "(big|w8)\.bin".* [1-9][0-9]* retransmits'
}

@test "probe: an ACK inside the window restarts sending after it" {
	make_root
	make_file big.bin 30000
	# The server's timer must not fire while the probe reads: a resend
	# after a timeout would not prove the ACK was understood.
	start_server --timeout 5
	local host
	for host in $HOSTS; do
		probe_fetch "$host" window-ack-inside big.bin
	done
	# Blocks 4..8 went twice: 5 retransmits, no more.
	wait_for 10 no_children
	log_has 'file "big.bin" mode octet: complete; .* 5 retransmits, .*; blksize 512, windowsize 8$'
	log_lacks 'file "big.bin".* ([0-46-9]|[1-9][0-9]+) retransmits'
}

@test "probe: duplicate ACKs in window mode never repeat a window" {
	make_root
	make_file big.bin 50000
	make_file exact.bin 16384
	start_server
	local host f w
	for host in $HOSTS; do
		for f in big.bin exact.bin; do
			for w in 2 8 16; do
				probe_fetch "$host" window-dup-ack "$f" "$w"
			done
		done
	done
	wait_for 10 no_children
	log_lacks 'file "(big|exact)\.bin".* [1-9][0-9]* retransmits'
}

@test "probe: block numbers roll over in window mode (32 MiB at blksize 512)" {
	make_root
	# 65536 full blocks and then some: block 65535 is followed by 0.
	make_file huge.bin $((33554432 + 1000))
	start_server
	rm -f "$BATS_TEST_TMPDIR/out"
	probe_pass 127.0.0.1 oack huge.bin "$BATS_TEST_TMPDIR/out" octet \
		blksize=512,tsize=33555432,windowsize=16 blksize 512 tsize 0 windowsize 16
	[[ "$output" == *"65538 blocks of 512"*"wrapped 1 times"* ]]
	cmp "$ROOT/huge.bin" "$BATS_TEST_TMPDIR/out"
	log_has 'file "huge.bin" mode octet: complete; 33555432 bytes, 65538 blocks'
}

@test "probe: the UEFI PXE sequence (tsize, ERROR 8, then the download)" {
	make_root
	make_file boot.efi 1000000
	start_server
	local host
	for host in $HOSTS; do
		probe_fetch "$host" pxe boot.efi 1000000
		# Firmware that asks again from the same port.
		probe_fetch "$host" pxe boot.efi 1000000 same-port
	done
	log_has 'info: RRQ from 127\.0\.0\.1:[0-9]+ file "boot.efi" mode octet: ended by client: ERROR 8 '
	log_has 'file "boot.efi" mode octet: complete; 1000000 bytes, 682 blocks, .*; blksize 1468, windowsize 4$'
	log_lacks '(warning|error): .*boot\.efi'
}

@test "probe: --refuse blksize leaves blksize out of the OACK" {
	make_root
	make_file big.bin 20000
	start_server --refuse blksize
	local host
	for host in $HOSTS; do
		# blksize alone: no OACK, DATA 1 at once, 512-byte blocks.
		oack_ok "$host" big.bin octet none blksize 1024
		oack_ok "$host" big.bin octet tsize=20000 blksize 1024 tsize 0
		oack_ok "$host" big.bin octet windowsize=4 BLKSIZE 8192 windowsize 4
	done
	log_lacks 'blksize (1024|8192)'
}

@test "probe: --max-block-size and --max-window cap what is granted" {
	make_root
	make_file big.bin 20000
	start_server --max-block-size 1024 --max-window 4
	local host
	for host in $HOSTS; do
		oack_ok "$host" big.bin octet blksize=1024 blksize 8192
		oack_ok "$host" big.bin octet blksize=1024 blksize 1025
		oack_ok "$host" big.bin octet blksize=1024 blksize 1024
		oack_ok "$host" big.bin octet blksize=600,windowsize=4 blksize 600 windowsize 16
		oack_ok "$host" big.bin octet windowsize=3 windowsize 3
	done
}
