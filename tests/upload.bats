#!/usr/bin/env bats
# Uploads (WRQ): tftpd-hpa's rules on who may write (world-writable files;
# -c for new ones; --permissive; --readonly), atomic replacement through a
# temporary file renamed over the target, real clients (tftp-hpa, curl,
# atftp, busybox) compared byte for byte, and the raw probe for what real
# clients never do (duplicates, gaps, aborts, a killed child, a full disk).

load helpers

CLIENT_LIMIT=120

PUBLIC_ROOT=

teardown() {
	stop_server
	if mountpoint -q "$BATS_TEST_TMPDIR/small" 2>/dev/null; then
		umount "$BATS_TEST_TMPDIR/small"
	fi
	[ -z "$PUBLIC_ROOT" ] || rm -rf "$PUBLIC_ROOT"
}

# put CLIENT HOST LOCAL REMOTE [MODE]: upload LOCAL as REMOTE.
put() {
	local client=$1 host=$2 local=$3 remote=$4 mode=${5:-octet} fam= url=$2
	case $host in *:*) fam=-6 url="[$host]" ;; esac
	case $client in
	tftp-hpa)
		timeout "$CLIENT_LIMIT" tftp $fam -m "$mode" "$host" "$PORT" \
			-c put "$local" "$remote" ;;
	curl)
		local suffix=
		[ "$mode" = netascii ] && suffix=";mode=netascii"
		timeout "$CLIENT_LIMIT" curl -sS --fail -T "$local" \
			"tftp://$url:$PORT/$remote$suffix" ;;
	busybox)
		timeout "$CLIENT_LIMIT" busybox tftp -p -l "$local" -r "$remote" \
			"$host" "$PORT" ;;
	atftp)
		timeout "$CLIENT_LIMIT" atftp --option "mode $mode" -p -l "$local" \
			-r "$remote" "$host" "$PORT" ;;
	esac >"$BATS_TEST_TMPDIR/client.out" 2>&1
}

# put_ok CLIENT HOST SIZE [MODE]: upload SIZE random bytes, compare them.
put_ok() {
	local src="$BATS_TEST_TMPDIR/src.$3"
	[ -e "$src" ] || head -c "$3" /dev/urandom >"$src"
	rm -f "$ROOT/up.$1.$3"
	put "$1" "$2" "$src" "up.$1.$3" || {
		echo "$1 $2 $3: client failed" >&2
		cat "$BATS_TEST_TMPDIR/client.out" >&2
		return 1
	}
	cmp "$src" "$ROOT/up.$1.$3"
}

# no_leftovers: no temporary upload file anywhere under the root.
no_leftovers() {
	[ -z "$(find "$ROOT" -name '.ctftpd-upload-*')" ]
}

probe_pass() {
	local host=$1
	shift
	run "$PROBE" "$host" "$PORT" "$@"
	echo "probe $host $*: status $status: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == PASS* ]]
}

log_has() {
	wait_for 10 grep -Eq -- "$1" "$SERVER_LOG" || {
		echo "no log line matching: $1" >&2
		cat "$SERVER_LOG" >&2
		return 1
	}
}

@test "every client uploads 0 B to 1 MiB intact over IPv4 (-c)" {
	start_server -c
	local client size
	for client in tftp-hpa curl atftp busybox; do
		for size in 0 1 511 512 513 1048576; do
			put_ok "$client" 127.0.0.1 "$size"
		done
	done
	no_leftovers
	log_has 'WRQ from 127\.0\.0\.1:[0-9]+ file "up\.curl\.513" mode octet: complete; 513 bytes, 2 blocks'
}

@test "every client uploads 1 MiB intact over IPv6" {
	start_server -c
	local client
	for client in tftp-hpa curl atftp busybox; do
		put_ok "$client" ::1 1048576
	done
	no_leftovers
}

@test "40 MiB uploads roll the block number over (tftp-hpa, curl) and use windows (atftp)" {
	start_server -c
	head -c 41943040 /dev/urandom >"$BATS_TEST_TMPDIR/big"
	put tftp-hpa 127.0.0.1 "$BATS_TEST_TMPDIR/big" big1
	cmp "$BATS_TEST_TMPDIR/big" "$ROOT/big1"
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/big" big2
	cmp "$BATS_TEST_TMPDIR/big" "$ROOT/big2"
	timeout "$CLIENT_LIMIT" atftp --option "blksize 1468" --option "windowsize 16" \
		-p -l "$BATS_TEST_TMPDIR/big" -r big3 127.0.0.1 "$PORT" >/dev/null 2>&1
	cmp "$BATS_TEST_TMPDIR/big" "$ROOT/big3"
	log_has 'file "big1" mode octet: complete; 41943040 bytes, 81921 blocks'
	log_has 'file "big3" mode octet: complete; 41943040 bytes, .*blksize 1468, windowsize 16'
}

@test "netascii uploads: CR LF and CR NUL come back as LF and CR, across blocks" {
	start_server -c
	local src="$BATS_TEST_TMPDIR/text"
	# Line ends at every offset around the 512-byte block edge, bare CRs,
	# and a CR as the very last byte.
	awk 'BEGIN { for (i = 0; i < 300; i++) { s = ""; for (j = 0; j < i % 13; j++) s = s "x"; printf "%s\n", s; if (i % 7 == 0) printf "a\rb" } printf "\r" }' >"$src"
	put tftp-hpa 127.0.0.1 "$src" t1 netascii
	cmp "$src" "$ROOT/t1"
	put atftp 127.0.0.1 "$src" t2 netascii
	cmp "$src" "$ROOT/t2"
	# curl sends the file as it is: give it the wire form.
	perl -pe 's/\r(?!\x00)/\r\x00/g; s/\n/\r\n/g' "$src" >"$BATS_TEST_TMPDIR/wire"
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/wire" t3 netascii
	cmp "$src" "$ROOT/t3"
	log_has 'file "t1" mode netascii: complete'
}

@test "tftpd-hpa's rules: world-writable files only, -c for new ones, --permissive" {
	printf 'old\n' >"$BATS_TEST_TMPDIR/new"
	printf 'new contents\n' >"$BATS_TEST_TMPDIR/src"
	make_root
	printf 'old\n' >"$ROOT/open"
	chmod 666 "$ROOT/open"
	printf 'old\n' >"$ROOT/closed"
	chmod 644 "$ROOT/closed"
	start_server
	# A world-writable file is replaced.
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" open
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/open"
	# Not world-writable: ERROR 2 (curl exit 69); missing, no -c: ERROR 1 (68).
	run put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" closed
	[ "$status" -eq 69 ]
	cmp "$ROOT/closed" <(printf 'old\n')
	run put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" missing
	[ "$status" -eq 68 ]
	[ ! -e "$ROOT/missing" ]
	log_has 'WRQ from .* file "closed" refused: not world-writable \(ERROR 2\)'
	log_has 'WRQ from .* file "missing" refused: no such file \(and no --create\) \(ERROR 1\)'
	stop_server
	# --permissive: any file the server may write (root may write all).
	start_server --permissive
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" closed
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/closed"
	no_leftovers
}

@test "the replaced file keeps its mode and owner; new files get 0666 less --umask" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to own files as another user"
	make_root
	printf 'old\n' >"$ROOT/owned"
	chown nobody:nogroup "$ROOT/owned" 2>/dev/null || chown 65534:65534 "$ROOT/owned"
	chmod 646 "$ROOT/owned"
	printf 'new\n' >"$BATS_TEST_TMPDIR/src"
	start_server -c -U 027
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" owned
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/owned"
	[ "$(stat -c '%a %u' "$ROOT/owned")" = "646 65534" ]
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" fresh
	[ "$(stat -c '%a' "$ROOT/fresh")" = 640 ]
	stop_server
	# tftpd-hpa's default umask is 0: anyone may read and write.
	start_server -c
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/src" fresh2
	[ "$(stat -c '%a' "$ROOT/fresh2")" = 666 ]
}

@test "a finished upload is what the next read gets, cache or not" {
	make_root
	head -c 200000 /dev/urandom >"$ROOT/f"
	chmod 666 "$ROOT/f"
	head -c 200000 /dev/urandom >"$BATS_TEST_TMPDIR/v2"
	start_server --cache-min-age 0
	# Read twice so the file is in the cache, then replace it.
	curl -sS -o "$BATS_TEST_TMPDIR/r1" "tftp://127.0.0.1:$PORT/f"
	curl -sS -o "$BATS_TEST_TMPDIR/r1" "tftp://127.0.0.1:$PORT/f"
	cmp "$BATS_TEST_TMPDIR/r1" "$ROOT/f"
	log_has 'RRQ .*file "f" .*cache hit'
	put curl 127.0.0.1 "$BATS_TEST_TMPDIR/v2" f
	curl -sS -o "$BATS_TEST_TMPDIR/r2" "tftp://127.0.0.1:$PORT/f"
	cmp "$BATS_TEST_TMPDIR/r2" "$BATS_TEST_TMPDIR/v2"
}

@test "two uploads of one name at once: both end cleanly, the file is one of them" {
	start_server -c
	head -c 3000000 /dev/urandom >"$BATS_TEST_TMPDIR/a"
	head -c 2000000 /dev/urandom >"$BATS_TEST_TMPDIR/b"
	local i
	for i in 1 2 3; do
		put curl 127.0.0.1 "$BATS_TEST_TMPDIR/a" same &
		local pa=$!
		put tftp-hpa 127.0.0.1 "$BATS_TEST_TMPDIR/b" same
		wait "$pa"
		cmp -s "$ROOT/same" "$BATS_TEST_TMPDIR/a" || cmp "$ROOT/same" "$BATS_TEST_TMPDIR/b"
	done
	no_leftovers
}

@test "probe: duplicate DATA is written once, a gap in a window is ACKed and resent" {
	start_server -c
	head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/src"
	local host
	for host in 127.0.0.1 ::1; do
		probe_pass "$host" put d.bin "$BATS_TEST_TMPDIR/src" dup
		cmp "$BATS_TEST_TMPDIR/src" "$ROOT/d.bin"
		probe_pass "$host" put s.bin "$BATS_TEST_TMPDIR/src" swap blksize 1024 windowsize 8
		cmp "$BATS_TEST_TMPDIR/src" "$ROOT/s.bin"
		probe_pass "$host" put w.bin "$BATS_TEST_TMPDIR/src" ok blksize 1468 windowsize 16 tsize 100000
		cmp "$BATS_TEST_TMPDIR/src" "$ROOT/w.bin"
	done
	log_has 'file "d.bin" mode octet: complete; 100000 bytes, 196 blocks'
}

@test "probe: an upload ended by ERROR, silence or SIGKILL leaves the old file whole and no temporary file" {
	make_root
	head -c 100000 /dev/urandom >"$ROOT/keep"
	chmod 666 "$ROOT/keep"
	cp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	head -c 100000 /dev/urandom >"$BATS_TEST_TMPDIR/src"
	start_server --give-up 2
	probe_pass 127.0.0.1 put keep "$BATS_TEST_TMPDIR/src" error@50
	log_has 'WRQ .*file "keep" mode octet: ended by client'
	cmp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	no_leftovers
	probe_pass 127.0.0.1 put keep "$BATS_TEST_TMPDIR/src" quiet@50
	log_has 'WRQ .*file "keep" mode octet: failed: client silent, gave up'
	cmp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	wait_for 10 no_children
	no_leftovers
	# SIGKILL of the child mid-upload: the listener removes its file.
	"$PROBE" 127.0.0.1 "$PORT" put keep "$BATS_TEST_TMPDIR/src" hold@50 \
		2>"$BATS_TEST_TMPDIR/held" &
	local probe=$!
	wait_for 10 grep -q held "$BATS_TEST_TMPDIR/held"
	[ -n "$(find "$ROOT" -name '.ctftpd-upload-*')" ]
	kill -KILL $(children_of)
	wait_for 10 no_children
	log_has 'removed the unfinished upload of process'
	kill "$probe" 2>/dev/null || true
	wait "$probe" 2>/dev/null || true
	cmp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	no_leftovers
}

@test "probe: tsize over --max-upload-size or the free space is ERROR 3 at once" {
	start_server -c --max-upload-size 50K
	head -c 60000 /dev/urandom >"$BATS_TEST_TMPDIR/src"
	probe_pass 127.0.0.1 put big "$BATS_TEST_TMPDIR/src" error:3 tsize 60000
	probe_pass 127.0.0.1 put huge "$BATS_TEST_TMPDIR/src" error:3 tsize 999999999999999
	# Without tsize the limit ends the upload when it is passed.
	probe_pass 127.0.0.1 put big "$BATS_TEST_TMPDIR/src" error:3
	[ ! -e "$ROOT/big" ]
	[ ! -e "$ROOT/huge" ]
	no_leftovers
	log_has 'WRQ .*file "big" refused: tsize 60000 over --max-upload-size \(ERROR 3\)'
}

@test "probe: writes outside the root, through a symlink out, or to a directory are refused" {
	make_root
	mkdir -p "$BATS_TEST_TMPDIR/outside" "$ROOT/dir"
	printf 'secret\n' >"$BATS_TEST_TMPDIR/outside/victim"
	chmod 666 "$BATS_TEST_TMPDIR/outside/victim"
	ln -s "$BATS_TEST_TMPDIR/outside/victim" "$ROOT/link"
	ln -s "$BATS_TEST_TMPDIR/outside" "$ROOT/outdir"
	printf 'x\n' >"$BATS_TEST_TMPDIR/src"
	start_server -c
	probe_pass 127.0.0.1 put link "$BATS_TEST_TMPDIR/src" error:2
	probe_pass 127.0.0.1 put outdir/new "$BATS_TEST_TMPDIR/src" error:2
	probe_pass 127.0.0.1 put ../escape "$BATS_TEST_TMPDIR/src" error:2
	probe_pass 127.0.0.1 put dir "$BATS_TEST_TMPDIR/src" error:2
	probe_pass 127.0.0.1 put nodir/new "$BATS_TEST_TMPDIR/src" error:1
	cmp "$BATS_TEST_TMPDIR/outside/victim" <(printf 'secret\n')
	[ ! -e "$BATS_TEST_TMPDIR/outside/new" ]
	[ ! -e "$BATS_TEST_TMPDIR/escape" ]
}

@test "a full disk: ERROR 3, the old file whole, no temporary file" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a small tmpfs"
	ROOT="$BATS_TEST_TMPDIR/small"
	mkdir -p "$ROOT"
	mount -t tmpfs -o size=1m tmpfs "$ROOT" || skip "cannot mount a tmpfs"
	chmod 755 "$ROOT"
	head -c 300000 /dev/urandom >"$ROOT/keep"
	chmod 666 "$ROOT/keep"
	cp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	head -c 900000 /dev/urandom >"$BATS_TEST_TMPDIR/src"
	start_server -c
	probe_pass 127.0.0.1 put keep "$BATS_TEST_TMPDIR/src" error:3
	probe_pass 127.0.0.1 put new "$BATS_TEST_TMPDIR/src" error:3 tsize 900000
	cmp "$ROOT/keep" "$BATS_TEST_TMPDIR/orig"
	[ ! -e "$ROOT/new" ]
	no_leftovers
	log_has 'WRQ .*file "keep" mode octet: failed: disk full'
	stop_server
	umount "$ROOT"
}

@test "a world-writable file in a directory the server may not write is still replaced whole" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to run the server as nobody"
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	# A root nobody can reach: outside the private bats directory.
	ROOT=$(mktemp -d /tmp/ctftpd-upload.XXXXXX)
	PUBLIC_ROOT=$ROOT
	chmod 755 "$ROOT"
	printf 'hello, world\n' >"$ROOT/hello.txt"
	head -c 100000 /dev/urandom >"$ROOT/cfg"
	chmod 666 "$ROOT/cfg"
	head -c 70000 /dev/urandom >"$BATS_TEST_TMPDIR/src"
	chmod 644 "$BATS_TEST_TMPDIR/src"
	local ino
	ino=$(stat -c %i "$ROOT/cfg")
	start_server --user nobody
	put tftp-hpa 127.0.0.1 "$BATS_TEST_TMPDIR/src" cfg
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/cfg"
	# Copied in place: the same inode, the new length.
	[ "$(stat -c %i "$ROOT/cfg")" = "$ino" ]
	no_leftovers
	log_has 'WRQ .*file "cfg" mode octet: complete'
}

@test "tftpd-hpa's upload lines work unchanged: -s -c -U 022 -p" {
	make_root
	printf 'new\n' >"$BATS_TEST_TMPDIR/src"
	# As /etc/default/tftpd-hpa would have them (plus -L and the port).
	start_server -s -c -U 022 -p
	put tftp-hpa 127.0.0.1 "$BATS_TEST_TMPDIR/src" made.cfg
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/made.cfg"
	[ "$(stat -c '%a' "$ROOT/made.cfg")" = 644 ]
	# -p: a file the server may write, not world-writable, is replaced.
	printf 'old\n' >"$ROOT/own.cfg"
	chmod 600 "$ROOT/own.cfg"
	[ "$(id -u)" -eq 0 ] || chmod 600 "$ROOT/own.cfg"
	put tftp-hpa 127.0.0.1 "$BATS_TEST_TMPDIR/src" own.cfg
	cmp "$BATS_TEST_TMPDIR/src" "$ROOT/own.cfg"
	[ "$(stat -c '%a' "$ROOT/own.cfg")" = 600 ]
	no_leftovers
}
