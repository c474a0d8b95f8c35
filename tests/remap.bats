#!/usr/bin/env bats
# Filename remapping (src/remap.c): the unit suites of tests/remap_test, then
# the module side by side with tftpd-hpa.  For each rule file, in.tftpd serves
# a root of files whose bytes name themselves, tftp-hpa fetches a list of
# names, and what came back (a file, or an ERROR code and message) is compared
# with what the file the module maps each name to would give.  The side by
# side tests need root (in.tftpd chroots) and in.tftpd; they skip otherwise.
#
# The differences found, each asserted below where it shows:
#  - "s" restarts at the first rule here, as in.tftpd(8) says; in.tftpd 5.2
#    restarts at the second rule.
#  - Rules that loop end with an error here; in.tftpd spins forever.
#  - Rule files that in.tftpd accepts and half-ignores are refused here: text
#    after the replacement, a trailing backslash, a replacement without r or
#    a, \N beyond the regex's groups, g without r, G with P, 4 with 6.
#  - A back-reference in a rule's regex (\1 to \9) is refused here (see
#    remap.c back_reference); in.tftpd takes it, with no bound on its time.
#  - An IPv4-mapped IPv6 client is an IPv4 client here (see remap.h); not
#    compared, in.tftpd only meets one on a dual-stack socket.

load helpers

REMAP_TEST="$top_builddir/tests/remap_test"

run_suite() {
	run "$REMAP_TEST" "$@"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *" 0 failed"* ]]
}

@test "remap: rule syntax (comments, separators, field escapes)" {
	run_suite syntax
}

@test "remap: bad rule files are refused with the line and the reason" {
	run_suite errors
}

@test "remap: operations r g i e s a G P 4 6 ~" {
	run_suite ops
}

@test "remap: replacement escapes \\0-\\9 \\i \\x \\U \\L \\E" {
	run_suite escapes
}

@test "remap: loops stop at the restart and step caps; buffer edges" {
	run_suite limits
}

@test "remap: hostile rule files and names" {
	run_suite hostile
}

@test "remap: loading rule files (missing, directory, FIFO, too big)" {
	run_suite load
}

@test "remap: random rule sets and names stay in bounds" {
	run_suite random
}

@test "remap: anchored literal prefixes skip regexec, never an outcome" {
	run_suite prefix
}

@test "remap_test map: one line per name; a bad rule file names its line" {
	printf 'rg \\\\ /\nri ^/TFTPBOOT/\na ^secret\n~a ^ok\n' >"$BATS_TEST_TMPDIR/rules"
	run "$REMAP_TEST" map "$BATS_TEST_TMPDIR/rules" <<-'EOF'
	ok\pxe.0
	/tftpboot/ok
	secret
	other
	ok
	EOF
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "mapped 1 ok/pxe.0" ]
	[ "${lines[1]}" = "mapped 2 ok" ]
	[ "${lines[2]}" = "refused 3" ]
	[ "${lines[3]}" = "refused 4" ]
	[ "${lines[4]}" = "unchanged 0 ok" ]
	printf 'r a b\n\nr (a c\n' >"$BATS_TEST_TMPDIR/bad"
	run "$REMAP_TEST" map "$BATS_TEST_TMPDIR/bad" </dev/null
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == "$BATS_TEST_TMPDIR/bad:3: bad regular expression: "* ]]
}

# ---- side by side with tftpd-hpa ------------------------------------------

need_hpa() {
	[ "$(id -u)" -eq 0 ] || skip "needs root: in.tftpd -s chroots"
	command -v in.tftpd >/dev/null 2>&1 || skip "in.tftpd not found (apt-get install tftpd-hpa)"
	command -v tftp >/dev/null 2>&1 || skip "tftp not found (apt-get install tftp-hpa)"
	command -v ss >/dev/null 2>&1 || skip "ss not found (apt-get install iproute2)"
	HPA_ROOT="$BATS_TEST_TMPDIR/hparoot"
	mkdir -p "$HPA_ROOT"
	chmod 755 "$HPA_ROOT"
}

# put_files NAME...: files under $HPA_ROOT whose bytes are "file:NAME".
put_files() {
	local f
	for f in "$@"; do
		mkdir -p "$HPA_ROOT/$(dirname "$f")"
		chmod 755 "$HPA_ROOT/$(dirname "$f")"
		printf 'file:%s' "$f" >"$HPA_ROOT/$f"
		chmod 644 "$HPA_ROOT/$f"
	done
}

hpa_bound() {
	[ -n "$(ss -Hlun "sport = :$HPA_PORT")" ]
}

hpa_dead() {
	! kill -0 "$HPA_PID" 2>/dev/null
}

# hpa_start RULES [HOST]: in.tftpd on HOST (127.0.0.1, or ::1) and a free
# high port, serving $HPA_ROOT with the rule file RULES.  Sets HPA_PID,
# HPA_HOST, HPA_PORT.
hpa_start() {
	local try bind
	HPA_HOST=${2:-127.0.0.1}
	for try in 1 2 3 4 5 6 7 8 9 10; do
		HPA_PORT=$(free_port) || break
		bind="$HPA_HOST:$HPA_PORT"
		[[ "$HPA_HOST" == *:* ]] && bind="[$HPA_HOST]:$HPA_PORT"
		in.tftpd -L -s -a "$bind" -m "$1" "$HPA_ROOT" &
		HPA_PID=$!
		wait_for 5 hpa_bound && return 0
		hpa_dead && continue
		echo "in.tftpd did not bind $bind" >&2
		return 1
	done
	echo "no free port for in.tftpd" >&2
	return 1
}

# hpa_stop: end in.tftpd and any child it left (one spinning on a rule
# loop), each by its pid.
hpa_stop() {
	local pid
	[ -n "${HPA_PID:-}" ] || return 0
	for pid in $(pgrep -P "$HPA_PID"); do
		kill -KILL "$pid" 2>/dev/null || true
	done
	kill -TERM "$HPA_PID" 2>/dev/null || true
	wait "$HPA_PID" 2>/dev/null || true
	HPA_PID=
}

teardown() {
	hpa_stop
}

# outcome MSG FILE: one line for what a tftp-hpa client saw: "file:NAME",
# "error CODE: MESSAGE", or "no answer".
outcome() {
	local e
	e=$(printf '%s\n' "$1" | grep -m1 -o 'Error code [0-9]*: .*')
	if [ -s "$2" ]; then
		cat "$2"
		echo
	elif [ -n "$e" ]; then
		echo "error ${e#Error code }"
	elif [ -z "$1" ]; then
		echo "no answer"
	else
		echo "client: $1"
	fi
}

# hpa_get NAME: what in.tftpd answers to an RRQ for NAME.  A bound on the
# wait: a rule loop leaves in.tftpd silent.
hpa_get() {
	local got="$BATS_TEST_TMPDIR/got" msg
	rm -f "$got"
	msg=$(timeout "${HPA_WAIT:-20}" tftp -m binary "$HPA_HOST" "$HPA_PORT" \
		-c get "$1" "$got" 2>&1)
	outcome "$msg" "$got"
}

# served NAME: what a server rooted at $HPA_ROOT sends for NAME once it is
# mapped (as in.tftpd -s: leading slashes are relative to the root).
served() {
	local rel=$1
	while [ "${rel#/}" != "$rel" ]; do rel=${rel#/}; done
	if [ -n "$rel" ] && [ -f "$HPA_ROOT/$rel" ]; then
		cat "$HPA_ROOT/$rel"
		echo
	else
		echo "error 1: File not found"
	fi
}

# ours RULES [map options] < NAMES: the module's answer for each name, in
# the outcome format.  A refusal without a message gets in.tftpd's.
ours() {
	local kind where rest
	"$REMAP_TEST" map "$@" | while read -r kind where rest; do
		case $kind in
		mapped | unchanged) served "$rest" ;;
		refused) echo "error 2: ${rest:-Access denied}" ;;
		*) echo "$kind $where $rest" ;;
		esac
	done
}

# compare RULES NAMES-FILE [map options]: in.tftpd and the module agree on
# every name; prints the table either way.
compare() {
	local rules=$1 names=$2 n theirs mine diffs=0
	shift 2
	mapfile -t mine < <(ours "$rules" "$@" <"$names")
	n=0
	while IFS= read -r name; do
		theirs=$(hpa_get "$name")
		printf '%-36s hpa: %-36s ours: %s\n' "$name" "$theirs" "${mine[$n]}"
		[ "$theirs" = "${mine[$n]}" ] || diffs=$((diffs + 1))
		n=$((n + 1))
	done <"$names"
	[ "$n" -gt 0 ] && [ "${#mine[@]}" -eq "$n" ] && [ "$diffs" -eq 0 ]
}

@test "side by side: PXE rules (backslashes, /tftpboot strip, case folding)" {
	need_hpa
	put_files pxelinux.0 pxelinux.cfg/default \
		pxelinux.cfg/01-aa-bb-cc-dd-ee-ff boot/x86/pxe.0 PXELINUX.0
	cat >"$BATS_TEST_TMPDIR/rules" <<-'EOF'
	# Windows PXE clients send backslashes
	rg \\ /
	# configs written for a server rooted at /tftpboot
	ri ^/tftpboot/
	# the directory name in any case; MAC-named configs in lower case
	ri ^pxelinux\.cfg/ pxelinux.cfg/   # trailing comment
	r ^pxelinux\.cfg/01-(.*)$ pxelinux.cfg/01-\L\1
	EOF
	cat >"$BATS_TEST_TMPDIR/names" <<-'EOF'
	pxelinux.cfg\default
	\tftpboot\pxelinux.0
	/TFTPBOOT/pxelinux.0
	/tftpboot/PXELINUX.0
	PXELINUX.CFG/default
	PxeLinux.Cfg\01-AA-BB-CC-DD-EE-FF
	boot\x86\pxe.0
	boot\\x86\\\pxe.0
	/boot/x86/pxe.0
	missing.bin
	EOF
	hpa_start "$BATS_TEST_TMPDIR/rules"
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names"
}

@test "side by side: per-host paths with \\i and \\x, 4 and 6, e" {
	need_hpa
	put_files hosts/127.0.0.1/pxe.0 hosts/::1/pxe.0 \
		v6/00000000000000000000000000000001/pxe.0 hex/7F000001.cfg \
		hex/00000000000000000000000000000001.cfg pxe.0 never/x cfg
	cat >"$BATS_TEST_TMPDIR/rules" <<-'EOF'
	r4 ^pxe\.0$ hosts/\i/pxe.0
	r6 ^(pxe\.0)$ v6/\x/\1
	re ^cfg$ hex/\x.cfg
	r ^hex/ never/
	r ^ip$ \i
	r ^lowhex$ \L\x\E-\x
	EOF
	printf '%s\n' pxe.0 cfg hex/x ip lowhex >"$BATS_TEST_TMPDIR/names"
	put_files 127.0.0.1 ::1 7f000001-7F000001 \
		00000000000000000000000000000001-00000000000000000000000000000001
	hpa_start "$BATS_TEST_TMPDIR/rules"
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names" -c 127.0.0.1
	hpa_stop
	hpa_start "$BATS_TEST_TMPDIR/rules" ::1
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names" -c ::1
}

@test "side by side: a and ~ refuse, with in.tftpd's ERROR messages" {
	need_hpa
	put_files pub/file ask/me secret/x other
	cat >"$BATS_TEST_TMPDIR/rules" <<-'EOF'
	a ^secret/
	ra ^priv/(.*)$ private:\1
	a ^ask/ denied\ by\ rule\ 3:
	~a ^(pub|ask|priv|secret)/
	EOF
	printf '%s\n' secret/x priv/key ask/me pub/file pub/none other \
		>"$BATS_TEST_TMPDIR/names"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names"
}

@test "side by side: g repeats from the start; i; \\U \\L \\E; escapes" {
	need_hpa
	put_files xbb b README.txt doc/file.txt 'a#b' q.x gy fOo FOO.xabcaseq
	cat >"$BATS_TEST_TMPDIR/rules" <<-'EOF'
	rg ab b
	rg ^a
	ri ^readme(.*)$ \Ureadme\E\1
	r ^DOC/(.*)$ doc/\L\1
	r ^esc$ a\#b
	r ^qq$ \q\.x
	r ^(x)$|^(y)$ g\1\2
	r ^(f)(o)o$ \1\U\2\Eo#comment
	r ^case$ \Ufoo\E.x\Lab\0Q
	EOF
	printf '%s\n' xaabab aab aaaab ReadMe.txt DOC/FILE.TXT esc qq y foo \
		case >"$BATS_TEST_TMPDIR/names"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names"
}

@test "side by side: s and e where in.tftpd 5.2 keeps to its manual" {
	need_hpa
	put_files end middle y z
	cat >"$BATS_TEST_TMPDIR/rules" <<-'EOF'
	r ^first$ never
	rs ^start$ middle
	r ^middle$ end
	rse ^x$ y
	r ^y$ z
	EOF
	printf '%s\n' start middle x first >"$BATS_TEST_TMPDIR/names"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	compare "$BATS_TEST_TMPDIR/rules" "$BATS_TEST_TMPDIR/names"
}

@test "side by side: s restarts at the first rule here, the second in in.tftpd 5.2" {
	need_hpa
	put_files y z
	printf 'r ^y$ z\nrs ^x$ y\n' >"$BATS_TEST_TMPDIR/rules"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	run hpa_get x
	[ "$output" = "file:y" ]
	run ours "$BATS_TEST_TMPDIR/rules" <<<x
	[ "$output" = "file:z" ]
}

@test "side by side: G and P split RRQ and WRQ" {
	need_hpa
	put_files incoming/up.bin outgoing/up.bin up.bin
	chmod 666 "$HPA_ROOT"/incoming/up.bin "$HPA_ROOT"/up.bin
	printf 'rP ^(up.*)$ incoming/\\1\nrG ^(up.*)$ outgoing/\\1\n' \
		>"$BATS_TEST_TMPDIR/rules"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	run hpa_get up.bin
	[ "$output" = "file:outgoing/up.bin" ]
	run ours "$BATS_TEST_TMPDIR/rules" <<<up.bin
	[ "$output" = "file:outgoing/up.bin" ]
	printf 'uploaded' >"$BATS_TEST_TMPDIR/new"
	run timeout 20 tftp -m binary "$HPA_HOST" "$HPA_PORT" -c put \
		"$BATS_TEST_TMPDIR/new" up.bin
	echo "$output"
	[ "$(cat "$HPA_ROOT/incoming/up.bin")" = uploaded ]
	[ "$(cat "$HPA_ROOT/up.bin")" = "file:up.bin" ]
	run "$REMAP_TEST" map "$BATS_TEST_TMPDIR/rules" -w <<<up.bin
	[ "$output" = "mapped 1 incoming/up.bin" ]
}

@test "side by side: a g rule that never stops: in.tftpd spins, we refuse" {
	need_hpa
	printf 'rg a ab\n' >"$BATS_TEST_TMPDIR/rules"
	hpa_start "$BATS_TEST_TMPDIR/rules"
	HPA_WAIT=3 run hpa_get a
	echo "$output"
	[ "$output" = "no answer" ]
	# The child in.tftpd forked for the request is still at it.
	[ -n "$(pgrep -P "$HPA_PID")" ]
	run "$REMAP_TEST" map "$BATS_TEST_TMPDIR/rules" <<<a
	[ "$output" = "error 1 remap rules rewrote too many bytes (loop?)" ]
}

# in.tftpd takes these rule files (and ignores part of each, puts a
# newline in names, or, for a back-reference in the regex, may take
# unbounded time on a name); the module refuses them.
HALF_IGNORED=(
	'r foo bar baz'
	'r foo bar\'
	'e ^foo bar'
	'r (a) [\2]'
	'g ^a'
	'rGP foo bar'
	'r46 foo bar'
	'r (o)\1 bar'
)

# Both refuse these.
REFUSED_BOTH=(
	'rq foo bar'
	'r~ foo bar'
	'r'
	'r foo( bar'
	'r [a bar'
)

# ours_refuse RULES TEXT: the module refuses the rule file, naming line 1.
ours_refuse() {
	run "$REMAP_TEST" map "$1" </dev/null
	echo "$2: ours: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == "$1:1: "* ]]
}

@test "side by side: rule files in.tftpd half-ignores are refused here" {
	need_hpa
	put_files foo
	local rules="$BATS_TEST_TMPDIR/rules" text
	for text in "${HALF_IGNORED[@]}"; do
		printf '%s\n' "$text" >"$rules"
		hpa_start "$rules"
		run hpa_get foo
		echo "$text: in.tftpd: $output"
		[[ "$output" == file:* || "$output" == "error "* ]]
		hpa_stop
		ours_refuse "$rules" "$text"
	done
	for text in "${REFUSED_BOTH[@]}"; do
		printf '%s\n' "$text" >"$rules"
		HPA_PORT=$(free_port)
		in.tftpd -L -s -a "127.0.0.1:$HPA_PORT" -m "$rules" "$HPA_ROOT" &
		HPA_PID=$!
		wait_for 5 hpa_dead
		hpa_stop
		ours_refuse "$rules" "$text"
	done
}

# ---- cost -------------------------------------------------------------------

@test "cost: remap_map with a 50-rule file (median ns per call, reported)" {
	local rules="$BATS_TEST_TMPDIR/rules50" i
	{
		echo 'rg \\ /'
		echo 'ri ^/tftpboot/'
		echo 'ri ^pxelinux\.cfg/ pxelinux.cfg/'
		echo 'r ^pxelinux\.cfg/01-(.*)$ pxelinux.cfg/01-\L\1'
		echo 'a ^\.'
		for i in $(seq 1 45); do
			case $((i % 3)) in
			0) echo "ri ^host$i/(.*)\$ hosts/$i/\\1" ;;
			1) echo "rG ^images/v$i/(.*)\$ img/$i/\\1" ;;
			2) echo "r4 ^site$i\\.cfg\$ cfg/\\i/site$i.cfg" ;;
			esac
		done
	} >"$rules"
	[ "$(grep -c . "$rules")" -eq 50 ]
	# Typical names, then hostile ones: 256 backslashes (the most "rg \\ /"
	# turns), 4000 of them (stopped by the rewrite byte cap), 4000 bytes
	# that no rule matches.
	local hostile256 hostile4000 plain4000
	hostile256=$(printf '%0256d' 0 | tr 0 '\\')
	hostile4000=$(printf '%04000d' 0 | tr 0 '\\')
	plain4000=$(printf '%04000d' 0 | tr 0 a)
	for name in 'pxelinux.cfg\01-AA-BB-CC-DD-EE-FF' ldlinux.c32 site44.cfg \
		"$hostile256" "$hostile4000" "$plain4000"; do
		run "$REMAP_TEST" bench "$rules" "$name" 200
		echo "$output"
		[ "$status" -eq 0 ]
		echo "# $output" >&3
	done
}
