#!/usr/bin/env bats
# Remapping as the daemon does it (-m, --map-file): real clients fetch and
# upload through rule files, refusals and work limits answer with ERRORs and
# log lines naming the rule's line, a rule cannot lead outside the root, a bad
# rule file stops start-up, SIGHUP reads the file again, and --map-test.
# The rule language itself is tested in remap.bats.

load helpers

CLIENT_LIMIT=60
# A client that mentions an error or a timeout has failed, whatever its
# status.
CLIENT_STRICT=1

# refused NAME CODE MESSAGE: tftp-hpa's RRQ for NAME gets ERROR CODE with
# MESSAGE, and nothing is written.
refused() {
	rm -f "$BATS_TEST_TMPDIR/got"
	tftp_get tftp-hpa 127.0.0.1 "$1" "$BATS_TEST_TMPDIR/got" || true
	cat "$BATS_TEST_TMPDIR/client.out"
	grep -qxF "Error code $2: $3" "$BATS_TEST_TMPDIR/client.out"
	[ ! -s "$BATS_TEST_TMPDIR/got" ]
}

# put_file PATH [BYTES]: random bytes at $ROOT/PATH, world-readable, in
# directories made as needed.
put_file() {
	mkdir -p "$ROOT/$(dirname "$1")"
	chmod -R a+rX "$ROOT"
	make_file "$1" "${2:-1500}"
}

# rules TEXT...: the rule file $RULES, one line per argument.
rules() {
	RULES="$BATS_TEST_TMPDIR/rules"
	printf '%s\n' "$@" >"$RULES"
}

# Windows Deployment Services: backslashes, a leading one, and any case.
PXE_RULES=(
	'# Windows PXE: backslashes, then the tree in lower case'
	'rg \\ /'
	'ri ^/?boot/(.*)$ boot/\L\1'
)

@test "Windows PXE names (\\Boot\\x64\\..., any case): every client gets the right bytes" {
	make_root
	put_file boot/x64/wdsmgfw.efi 70000
	put_file boot/x64/bcd 3000
	rules "${PXE_RULES[@]}"
	start_server -m "$RULES"
	local client
	for client in tftp-hpa curl atftp busybox; do
		fetch_same "$client" 127.0.0.1 '\Boot\x64\WdsMgfw.EFI' \
			"$ROOT/boot/x64/wdsmgfw.efi"
		fetch_same "$client" 127.0.0.1 'BOOT\X64\bcd' "$ROOT/boot/x64/bcd"
	done
	fetch_same tftp-hpa ::1 '\boot\x64\BCD' "$ROOT/boot/x64/bcd"
	fetch_same curl ::1 '\Boot\x64\WdsMgfw.EFI' "$ROOT/boot/x64/wdsmgfw.efi"
	# The summary line names both, as sent and as mapped.
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "\\\\Boot\\\\x64\\\\WdsMgfw\.EFI" -> "boot/x64/wdsmgfw\.efi" mode octet: complete; 70000 bytes'
	log_has 'RRQ from \[::1\]:[0-9]+ file "\\\\boot\\\\x64\\\\BCD" -> "boot/x64/bcd" mode octet: complete; 3000 bytes'
	[ "$(log_count ' -> "boot/x64/.*: complete')" -eq 10 ]
}

@test "a name no rule changes logs as before; -v2 logs the rule lines that rewrote" {
	make_root
	put_file boot/x64/bcd 100
	rules "${PXE_RULES[@]}"
	start_server -m "$RULES" -v2
	fetch_same curl 127.0.0.1 hello.txt "$ROOT/hello.txt"
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	grep -F 'file "hello.txt" ->' "$SERVER_LOG" && return 1
	fetch_same curl 127.0.0.1 '\Boot\x64\BCD' "$ROOT/boot/x64/bcd"
	log_has "debug: RRQ from 127\.0\.0\.1:[0-9]+ file \"\\\\\\\\Boot\\\\\\\\x64\\\\\\\\BCD\" -> \"boot/x64/bcd\": remapped by $RULES lines 2,3\$"
	grep -F "notice: map file $RULES: 2 rules" "$SERVER_LOG"
}

@test "a leading path strip and per-host files by client address (\\i), IPv4 and IPv6" {
	make_root
	put_file pxelinux.0 2000
	put_file hosts/127.0.0.1/default 300
	put_file hosts/::1/default 400
	put_file default 500
	rules 'r ^/old/tftpboot/' \
		'r ^pxelinux\.cfg/default$ hosts/\i/default'
	start_server -m "$RULES"
	local client
	for client in tftp-hpa curl atftp busybox; do
		fetch_same "$client" 127.0.0.1 /old/tftpboot/pxelinux.0 \
			"$ROOT/pxelinux.0"
		fetch_same "$client" 127.0.0.1 pxelinux.cfg/default \
			"$ROOT/hosts/127.0.0.1/default"
		fetch_same "$client" ::1 /old/tftpboot/pxelinux.cfg/default \
			"$ROOT/hosts/::1/default"
	done
	log_has 'file "/old/tftpboot/pxelinux\.cfg/default" -> "hosts/::1/default" mode octet: complete; 400 bytes'
}

@test "an upload goes where a P rule says; reads of the name are not remapped" {
	make_root
	mkdir -m 755 "$ROOT/incoming"
	put_file up.bin 100
	rules 'rP ^(.*)$ incoming/\1'
	start_server -m "$RULES" -c
	local src="$BATS_TEST_TMPDIR/src"
	head -c 5000 /dev/urandom >"$src"
	tftp_put tftp-hpa 127.0.0.1 "$src" up.bin
	wait_for 10 test -f "$ROOT/incoming/up.bin"
	cmp "$src" "$ROOT/incoming/up.bin"
	log_has 'WRQ from 127\.0\.0\.1:[0-9]+ file "up\.bin" -> "incoming/up\.bin" mode octet: complete'
	fetch_same curl 127.0.0.1 up.bin "$ROOT/up.bin"
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "up\.bin" mode octet: complete'
}

@test "an a rule refuses with ERROR 2 (its own words, sanitised) and a log line naming its line" {
	make_root
	put_file secret/key 10
	put_file private/x 10
	rules '# refusals' 'r ^open/' 'a ^secret/' \
		'a ^private/(.*)$ no\ access\ to\ \1'
	start_server -m "$RULES"
	refused secret/key 2 "Access denied"
	log_has "RRQ from 127\.0\.0\.1:[0-9]+ file \"secret/key\" refused by $RULES line 3\$"
	refused 'private/x' 2 'no access to x'
	# The client's own bytes in the message come back escaped as in logs.
	refused 'private/a"b\c' 2 'no access to a\"b\\c'
	log_has "file \"private/a\\\\\"b\\\\\\\\c\" refused by $RULES line 4\$"
	# A rule that rewrites towards a refused name does not get past it.
	refused open/secret/key 2 "Access denied"
	# Uploads too.
	tftp_put tftp-hpa 127.0.0.1 "$ROOT/hello.txt" secret/new || true
	grep -qxF "Error code 2: Access denied" "$BATS_TEST_TMPDIR/client.out"
	log_has "WRQ from 127\.0\.0\.1:[0-9]+ file \"secret/new\" refused by $RULES line 3\$"
	[ ! -e "$ROOT/secret/new" ]
}

@test "rules that loop or grow the name stop at the work limits: ERROR 2, or 1 for too long" {
	make_root
	rules 'rg ^loop$ loop' 'rg ^(grow.*)$ \1\1' 'rs ^ping$ pong' \
		'rs ^pong$ ping'
	start_server -m "$RULES"
	refused loop 2 "remap rules rewrote the name too often (loop?)"
	log_has "RRQ from 127\.0\.0\.1:[0-9]+ file \"loop\" refused: remap rules rewrote the name too often \(loop\?\), at $RULES line 1\$"
	refused grow 1 "remapped name too long"
	log_has "file \"grow\" refused: remapped name too long, at $RULES line 2\$"
	refused ping 2 "remap rules restarted too often (loop?)"
	log_has "file \"ping\" refused: remap rules restarted too often \(loop\?\), at $RULES line [34]\$"
	# 400 backslashes for "rg \\ /": the byte cap (remap.h).
	rules 'rg \\ /'
	mv "$RULES" "$BATS_TEST_TMPDIR/rules2"
	stop_server
	start_server -m "$BATS_TEST_TMPDIR/rules2"
	refused "$(printf '%0400d' 0 | tr 0 '\\')" 2 \
		"remap rules rewrote too many bytes (loop?)"
	# The listener is still there and serving.
	fetch_same curl 127.0.0.1 hello.txt "$ROOT/hello.txt"
}

@test "a rule cannot lead outside the root: its result meets the path policy" {
	make_root
	# A file beside the root, which a rule applied after the policy
	# would reach.
	echo outside >"$BATS_TEST_TMPDIR/outside.txt"
	chmod 644 "$BATS_TEST_TMPDIR/outside.txt"
	rules 'r ^up$ ../outside.txt' 'r ^abs$ /etc/passwd' \
		'r ^dots$ a/../../outside.txt' 'r ^empty$'
	start_server -m "$RULES"
	refused up 2 '".." is not allowed in file names'
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "up" -> "\.\./outside\.txt" refused: "\.\." is not allowed in file names'
	refused dots 2 '".." is not allowed in file names'
	# A leading slash is relative to the root, as in a request.
	refused abs 1 "File not found"
	refused empty 2 "empty file name"
	# Uploads the same.
	tftp_put tftp-hpa 127.0.0.1 "$ROOT/hello.txt" up || true
	grep -qF 'Error code 2: ".." is not allowed' "$BATS_TEST_TMPDIR/client.out"
}

@test "a bad rule file stops start-up with status 2, the file and the line; nothing is bound" {
	make_root
	rules 'rg \\ /' '' '# fine so far' 'r ^(boot x'
	run "$CTFTPD" --foreground --host 127.0.0.1 --port 1 -m "$RULES" "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == "ctftpd: --map-file $RULES:4: bad regular expression: "* ]]
	rules 'rx foo bar'
	run "$CTFTPD" --foreground --host 127.0.0.1 --port 1 -m "$RULES" "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$RULES:1: unknown operation letter 'x'"* ]]
	# A back-reference in the regex: refused before it can stall the
	# listener on a name (glibc's matching time for it has no bound).
	rules 'r ^boot/ b/' 'r (.*)*\1x y'
	run "$CTFTPD" --foreground --host 127.0.0.1 --port 1 -m "$RULES" "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$RULES:2: back-reference \\1 in the regular expression: not supported"* ]]
	run "$CTFTPD" --foreground --host 127.0.0.1 --port 1 \
		-m "$BATS_TEST_TMPDIR/none" "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"$BATS_TEST_TMPDIR/none: No such file or directory"* ]]
	run "$CTFTPD" --foreground --host 127.0.0.1 --port 1 -m "$ROOT" "$ROOT"
	[ "$status" -eq 2 ]
	[[ "$output" == *"not a regular file"* ]]
}

# hup_and_wait PATTERN: SIGHUP the server, wait for one more log line
# matching PATTERN.
hup_and_wait() {
	local before
	before=$(log_count "$1")
	kill -HUP "$SERVER_PID"
	log_count_becomes $((before + 1)) "$1"
}

@test "SIGHUP reads the rule file again; a bad one keeps the rules in force" {
	make_root
	put_file a.bin 100
	put_file b.bin 200
	rules 'r ^x$ a.bin'
	# A relative name: it must still be found after the server changes
	# directory.
	cd "$BATS_TEST_TMPDIR"
	start_server -m rules
	fetch_same curl 127.0.0.1 x "$ROOT/a.bin"
	# Replaced as an editor or a deploy tool should: a new file renamed
	# over the old one.
	printf 'r ^x$ b.bin\n' >rules.new
	mv rules.new rules
	hup_and_wait "notice: map file $RULES read again: 1 rules"
	fetch_same curl 127.0.0.1 x "$ROOT/b.bin"
	printf '# the next line is wrong\nr ^x$ a.bin\nr ^(x$ y\n' >rules.new
	mv rules.new rules
	hup_and_wait "error: $RULES:3: bad regular expression: .*; the 1 rules in force stay"
	fetch_same curl 127.0.0.1 x "$ROOT/b.bin"
	rm rules
	hup_and_wait "error: $RULES: No such file or directory; the 1 rules in force stay"
	fetch_same curl 127.0.0.1 x "$ROOT/b.bin"
	server_dead && return 1
	# Without -m, SIGHUP only re-opens the log (on standard error: nothing).
	stop_server
	start_server
	hup_and_wait "notice: logging to standard error: nothing to re-open"
	grep -F "map file" "$SERVER_LOG" && return 1
	fetch_same curl 127.0.0.1 hello.txt "$ROOT/hello.txt"
}

@test "--secure: the rules read before the chroot serve; SIGHUP keeps them, saying why" {
	[ "$(id -u)" -eq 0 ] || skip "needs root (chroot)"
	make_root
	put_file boot/x64/bcd 100
	rules "${PXE_RULES[@]}"
	start_server -m "$RULES" --secure
	[ "$(readlink "/proc/$SERVER_PID/root")" = "$ROOT" ]
	fetch_same curl 127.0.0.1 '\Boot\x64\BCD' "$ROOT/boot/x64/bcd"
	rules 'r .* hello.txt'
	hup_and_wait "error: map file $RULES not read again: out of reach in the chroot \(--secure\); the 2 rules read at start-up stay in force until a restart"
	fetch_same curl 127.0.0.1 '\Boot\x64\BCD' "$ROOT/boot/x64/bcd"
}

@test "--map-test: one line per name, with the rule lines; nothing is served" {
	make_root
	rules "${PXE_RULES[@]}" \
		'a ^secret' \
		'r4 ^pxelinux\.cfg/default$ hosts/\i/default' \
		'rP ^(up.*)$ incoming/\1' \
		'r ^evil$ ../etc/passwd' \
		'rg ^(grow.*)$ \1\1' \
		'ra ^no/(.*)$ denied:\1'
	run "$CTFTPD" -m "$RULES" --map-test "$ROOT" <<-'EOF'
	\Boot\x64\WdsMgfw.EFI
	hello.txt
	secret/x
	pxelinux.cfg/default 192.0.2.7
	pxelinux.cfg/default ::1 RRQ
	pxelinux.cfg/default
	up.bin
	up.bin 127.0.0.1 WRQ
	up.bin wrq
	evil
	grow
	no/"x"
	a name with spaces
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "mapped 2,3 boot/x64/wdsmgfw.efi" ]
	[ "${lines[1]}" = "unchanged 0 hello.txt" ]
	[ "${lines[2]}" = "refused 4" ]
	[ "${lines[3]}" = "mapped 5 hosts/192.0.2.7/default" ]
	[ "${lines[4]}" = "unchanged 0 pxelinux.cfg/default" ]
	[ "${lines[5]}" = "unchanged 0 pxelinux.cfg/default" ]
	[ "${lines[6]}" = "unchanged 0 up.bin" ]
	[ "${lines[7]}" = "mapped 6 incoming/up.bin" ]
	[ "${lines[8]}" = "mapped 6 incoming/up.bin" ]
	[ "${lines[9]}" = 'policy 7 ".." is not allowed in file names' ]
	[ "${lines[10]}" = "error 8 remapped name too long" ]
	[ "${lines[11]}" = 'refused 9 denied:\"x\"' ]
	[ "${lines[12]}" = "unchanged 0 a name with spaces" ]
	[ "${#lines[@]}" -eq 13 ]
	# A bad rule file: status 2 and the line, as at start-up.
	rules 'r a b' 'r (a c'
	run "$CTFTPD" -m "$RULES" --map-test "$ROOT" </dev/null
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == "ctftpd: --map-file $RULES:2: bad regular expression: "* ]]
	run "$CTFTPD" --map-test "$ROOT" </dev/null
	[ "$status" -eq 2 ]
	[[ "$output" == *"--map-test needs --map-file"* ]]
}
