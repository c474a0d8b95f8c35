#!/usr/bin/env bats
# Deployment: ctftpd under the real superservers (xinetd, openbsd-inetd,
# systemd-socket-activate), as a detached daemon with a pidfile, through the
# init script in contrib/, with a privilege drop and a chroot (root only),
# and with tftpd-hpa's command lines.  Components that are missing skip the
# tests that need them, with the package to install.  Every wait polls for
# a condition; every process started here is ended by teardown, by pid.

load helpers

CLIENT_LIMIT=20
# Seconds of idleness after which an inetd-style ctftpd exits: long enough
# that the tests' own steps between two requests (a curl start, a scan of
# /proc) never reach it, even with both CI passes running at once (at 2 s,
# one did).
IDLE=5

# Processes to end in teardown (superservers, daemons, held clients), and
# parents whose ctftpd children are ended too.
KILL_PIDS=
REAP_PARENTS=
PRIV_DIRS=

teardown() {
	local pid parent
	for parent in $REAP_PARENTS; do
		for pid in $(ps -o pid= --ppid "$parent" 2>/dev/null); do
			KILL_PIDS="$KILL_PIDS $pid"
		done
	done
	for pid in $KILL_PIDS; do
		kill -KILL "$pid" 2>/dev/null || true
		kill -CONT "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
	KILL_PIDS=
	REAP_PARENTS=
	end_held_clients
	stop_server
	for pid in $PRIV_DIRS; do
		rm -rf "$pid"
	done
	PRIV_DIRS=
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (chroot, setuid, a second user)"
}

# public_root: a root that other users can reach (bats's own temporary
# directories are private to us): for the tests that drop privileges.
public_root() {
	make_root "$(mktemp -d /tmp/ctftpd-deploy.XXXXXX)"
	PRIV_DIRS="$PRIV_DIRS $ROOT"
}

# reachable_root: a root the daemon can read after its default privilege
# drop (to tftp or nobody) when the tests run as root; else make_root.
reachable_root() {
	if [ "$(id -u)" -eq 0 ]; then public_root; else make_root; fi
}

# DAEMON_LOG: the log file of daemons started without a terminal.  Where no
# syslog daemon listens, ctftpd would log to /var/log/ctftpd.log rather than
# nowhere: log_args gives it this file then (and nothing where syslog is
# there, so command lines stay as written).
log_args() {
	[ -S /dev/log ] || echo "--log-file $DAEMON_LOG"
}

setup() {
	DAEMON_LOG="$BATS_TEST_TMPDIR/ctftpd.log"
}

# pick_port: a free high UDP port in PORT (free_port: below the ephemeral
# range, so not in the 40000.. ranges the --port-range tests use).
pick_port() {
	PORT=$(free_port)
}

# fetch NAME [PORT [HOST]]: download NAME with curl and compare it with
# $ROOT/NAME.
fetch() {
	fetch_same -p "${2:-$PORT}" curl "${3:-127.0.0.1}" "$1"
}

no_live_children() {
	[ -z "$(live_children_of "$1")" ]
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# ---- superservers -----------------------------------------------------

XINETD=${XINETD:-$(command -v xinetd || true)}
INETD=${INETD:-}

find_inetd() {
	if [ -z "$INETD" ]; then
		[ -x /usr/sbin/inetd ] || skip "inetd not found (apt-get install openbsd-inetd)"
		dpkg-query -S /usr/sbin/inetd 2>/dev/null | grep -q openbsd-inetd ||
			skip "/usr/sbin/inetd is not openbsd-inetd's"
		INETD=/usr/sbin/inetd
	fi
}

# superserver_up [READY...]: the superserver just started in the background
# ($!) becomes SS_PID, which teardown ends with its children.  True once
# READY (a command, if given) succeeds, PORT is bound and the superserver
# lives; otherwise it is ended (the caller tries another port).
superserver_up() {
	SS_PID=$!
	KILL_PIDS="$KILL_PIDS $SS_PID"
	REAP_PARENTS="$REAP_PARENTS $SS_PID"
	if wait_for 10 "${@:-true}" && wait_for 10 port_in_use "$PORT" &&
		! gone "$SS_PID"; then
		return 0
	fi
	kill "$SS_PID" 2>/dev/null || true
	wait "$SS_PID" 2>/dev/null || true
	return 1
}

# start_xinetd ARGS...: xinetd on 127.0.0.1:PORT (a free port is picked)
# running "ctftpd ARGS..." as a wait-mode datagram service.  Sets SS_PID.
start_xinetd() {
	[ -n "$XINETD" ] || skip "xinetd not found (apt-get install xinetd)"
	local conf="$BATS_TEST_TMPDIR/xinetd.conf" try
	for try in 1 2 3 4 5; do
		pick_port
		cat >"$conf" <<-EOF
			defaults
			{
				log_type = FILE $BATS_TEST_TMPDIR/xinetd.log
			}
			service ctftpd-test
			{
				type = UNLISTED
				id = ctftpd-test
				socket_type = dgram
				protocol = udp
				wait = yes
				user = $(id -un)
				server = $CTFTPD
				server_args = $*
				port = $PORT
				bind = 127.0.0.1
				disable = no
				passenv = ASAN_OPTIONS UBSAN_OPTIONS
			}
		EOF
		"$XINETD" -dontfork -pidfile "$BATS_TEST_TMPDIR/xinetd.pid" \
			-f "$conf" >"$BATS_TEST_TMPDIR/xinetd.out" 2>&1 3>&- &
		superserver_up && return 0
	done
	echo "xinetd did not start:" >&2
	cat "$BATS_TEST_TMPDIR/xinetd.out" "$BATS_TEST_TMPDIR/xinetd.log" >&2
	return 1
}

# start_inetd ARGV...: openbsd-inetd on 127.0.0.1:PORT running ARGV (argv[0]
# first, as in inetd.conf) as a wait-mode datagram service.  inetd writes
# /run/inetd.pid whatever it is told: as root it runs in a private mount
# namespace where /run is a directory of this test.  Sets SS_PID.
start_inetd() {
	find_inetd
	local conf="$BATS_TEST_TMPDIR/inetd.conf" try
	local -a wrap=()
	if [ "$(id -u)" -eq 0 ]; then
		mkdir -p "$BATS_TEST_TMPDIR/run"
		unshare --mount --propagation private true 2>/dev/null ||
			skip "cannot make a mount namespace: inetd would overwrite /run/inetd.pid"
		# shellcheck disable=SC2016 # expanded by that sh
		wrap=(unshare --mount --propagation private sh -c \
			'mount --bind "$0" /run && exec "$@"' "$BATS_TEST_TMPDIR/run")
	fi
	for try in 1 2 3 4 5; do
		pick_port
		printf '127.0.0.1:%s dgram udp wait %s %s %s\n' \
			"$PORT" "$(id -un)" "$CTFTPD" "$*" >"$conf"
		# -d: stay in the foreground; -E: keep the environment (sanitizer
		# options) for the server.
		"${wrap[@]}" "$INETD" -d -E "$conf" \
			>"$BATS_TEST_TMPDIR/inetd.out" 2>&1 3>&- &
		superserver_up && return 0
	done
	echo "inetd did not start:" >&2
	cat "$BATS_TEST_TMPDIR/inetd.out" >&2
	return 1
}

# superserver_cycle: the superserver in SS_PID runs ctftpd with
# --idle-timeout $IDLE.  A request is served by a ctftpd that then lingers;
# a second request is served by the same process; it exits once idle; the
# next request starts a new one, which serves it.
superserver_cycle() {
	local first second third t0 t1
	make_file bin 300000
	fetch hello.txt
	first=$(live_children_of "$SS_PID")
	[ -n "$first" ] || { echo "no ctftpd lingered after the first request" >&2; return 1; }
	[ "$(readlink "/proc/$first/exe")" = "$(readlink -f "$CTFTPD")" ]
	fetch bin
	t0=$(now_ms)
	second=$(live_children_of "$SS_PID")
	[ "$second" = "$first" ] || {
		echo "second request: ctftpd $second, not the lingering $first" >&2
		return 1
	}
	wait_for 15 gone "$first" || { echo "ctftpd $first did not exit when idle" >&2; return 1; }
	t1=$(now_ms)
	echo "exited $((t1 - t0)) ms after the last transfer"
	[ $((t1 - t0)) -ge $((IDLE * 1000 - 500)) ]
	wait_for 5 no_live_children "$SS_PID"
	fetch bin
	third=$(live_children_of "$SS_PID")
	[ -n "$third" ] && [ "$third" != "$first" ]
	! gone "$SS_PID" || false
}

@test "xinetd: serves, lingers for a second request, exits when idle, is started again" {
	need ss iproute2
	need curl curl
	reachable_root
	start_xinetd --idle-timeout "$IDLE" $(log_args) "$ROOT"
	superserver_cycle
}

@test "openbsd-inetd: serves, lingers for a second request, exits when idle, is started again" {
	need ss iproute2
	need curl curl
	reachable_root
	start_inetd ctftpd --idle-timeout "$IDLE" $(log_args) "$ROOT"
	superserver_cycle
}

@test "openbsd-inetd: --single-port on inetd's socket: every DATA from its port, byte-exact" {
	need ss iproute2
	need curl curl
	reachable_root
	make_file big 300000
	# shellcheck disable=SC2046 # nothing, or two words
	start_inetd ctftpd --single-port --idle-timeout 30 $(log_args) "$ROOT"
	run env PROBE_SINGLE_PORT=1 timeout "$CLIENT_LIMIT" "$PROBE" 127.0.0.1 \
		"$PORT" get big "$BATS_TEST_TMPDIR/out"
	echo "probe: status $status: $output"
	[ "$status" -eq 0 ]
	cmp "$ROOT/big" "$BATS_TEST_TMPDIR/out"
	fetch big
}

@test "openbsd-inetd: tftpd-hpa's inetd.conf argv (ctftpd -s DIR) serves, chrooted" {
	need_root
	need ss iproute2
	need curl curl
	public_root
	# shellcheck disable=SC2046 # nothing, or two words
	start_inetd ctftpd -s "$ROOT" $(log_args)
	fetch hello.txt
	local pid
	pid=$(live_children_of "$SS_PID")
	[ -n "$pid" ]
	[ "$(readlink "/proc/$pid/root")" = "$ROOT" ]
}

# ---- systemd socket activation -----------------------------------------

find_socket_activate() {
	SSA=$(command -v systemd-socket-activate ||
		ls /lib/systemd/systemd-socket-activate 2>/dev/null || true)
	[ -n "$SSA" ] || skip "systemd-socket-activate not found (apt-get install systemd)"
}

is_ctftpd() {
	[ "$(readlink "/proc/$1/exe")" = "$(readlink -f "$CTFTPD")" ]
}

# start_activated LISTEN ARGS...: systemd-socket-activate --datagram on
# LISTEN (with PORT in it, a free port picked) running ctftpd ARGS.  On the
# first datagram it execs ctftpd in its own process: SS_PID is then
# ctftpd's pid.
start_activated() {
	local listen=$1 try
	shift
	for try in 1 2 3 4 5; do
		pick_port
		"$SSA" --datagram -l "${listen/PORT/$PORT}" "$CTFTPD" "$@" \
			>"$BATS_TEST_TMPDIR/ssa.out" 2>&1 3>&- &
		superserver_up grep -q '^Listening on' "$BATS_TEST_TMPDIR/ssa.out" &&
			return 0
	done
	echo "systemd-socket-activate did not start ctftpd:" >&2
	cat "$BATS_TEST_TMPDIR/ssa.out" >&2
	return 1
}

@test "systemd-socket-activate: --address is ignored with a warning, the inherited socket serves" {
	need curl curl
	find_socket_activate
	reachable_root
	start_activated 127.0.0.1:PORT --address 127.0.0.1:1 --idle-timeout 30 \
		--log-file "$BATS_TEST_TMPDIR/ctftpd.log" "$ROOT"
	fetch hello.txt
	grep -q 'warning: --address/--host ignored: serving the 1 socket inherited from systemd' \
		"$BATS_TEST_TMPDIR/ctftpd.log"
}

@test "systemd-socket-activate: serves on the inherited socket as tftp (or nobody), exits 0 when idle" {
	need ss iproute2
	need curl curl
	find_socket_activate
	reachable_root
	make_file bin 300000
	start_activated 127.0.0.1:PORT --idle-timeout "$IDLE" \
		--log-file "$BATS_TEST_TMPDIR/ctftpd.log" "$ROOT"
	fetch hello.txt
	is_ctftpd "$SS_PID"
	if [ "$(id -u)" -eq 0 ]; then
		# Started as root without --user: the default drop.
		local user
		user=$(default_user)
		ids_are "$SS_PID" "$(id -u "$user")" "$(id -g "$user")" "$user"
	fi
	fetch bin
	local t0 t1 rc=0
	t0=$(now_ms)
	is_ctftpd "$SS_PID"
	wait_for 15 gone "$SS_PID"
	t1=$(now_ms)
	[ $((t1 - t0)) -ge $((IDLE * 1000 - 500)) ]
	wait "$SS_PID" || rc=$?
	echo "exit status $rc"
	[ "$rc" -eq 0 ]
	# Nothing on standard error with --log-file.
	[ ! -s "$BATS_TEST_TMPDIR/ssa.out" ] ||
		! grep -v -e '^Listening on' -e '^Execing' -e '^Communication attempt' \
			"$BATS_TEST_TMPDIR/ssa.out"
}

@test "systemd-socket-activate: one dual-stack socket ([::]:69 in ctftpd.socket) serves IPv4 and IPv6" {
	need ss iproute2
	need curl curl
	find_socket_activate
	[ "$(cat /proc/sys/net/ipv6/bindv6only 2>/dev/null)" = 0 ] ||
		skip "net.ipv6.bindv6only is not 0: no dual-stack sockets here"
	reachable_root
	make_file bin 300000
	start_activated '[::]:PORT' --idle-timeout 0 "$ROOT"
	fetch bin "$PORT" 127.0.0.1
	is_ctftpd "$SS_PID"
	fetch bin "$PORT" ::1
	fetch hello.txt "$PORT" 127.0.0.1
}

@test "systemd-socket-activate: an IPv4 client on a dual-stack socket gets the IPv4 loopback blksize" {
	need ss iproute2
	find_socket_activate
	[ "$(cat /proc/sys/net/ipv6/bindv6only 2>/dev/null)" = 0 ] ||
		skip "net.ipv6.bindv6only is not 0: no dual-stack sockets here"
	reachable_root
	# Bound to the IPv4-mapped address: no interface index comes with a
	# request, so the cap is guessed from the addresses.  The client is
	# IPv4 on the loopback: 65464, as 127.0.0.1 gets (it got 1448, the
	# cap of IPv6 over Ethernet).
	start_activated '[::ffff:127.0.0.1]:PORT' --idle-timeout 0 "$ROOT"
	run "$PROBE" 127.0.0.1 "$PORT" oack hello.txt "$BATS_TEST_TMPDIR/out" \
		octet blksize=65464 blksize 65464
	echo "$output"
	[ "$status" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/out" "$ROOT/hello.txt"
}

# ---- the detached daemon and its pidfile --------------------------------

pidfile_holds() {
	[ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null
}

# start_daemon PIDFILE ARGS...: ctftpd detached on 127.0.0.1:PORT (a free
# port) with --pidfile PIDFILE; sets DAEMON_PID from the pidfile.
start_daemon() {
	local pidfile=$1 try rc
	shift
	for try in 1 2 3 4 5; do
		pick_port
		rc=0
		# $AS_ROOT: the root and the pidfile's directory are private
		# shellcheck disable=SC2046,SC2086 # word lists
		"$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$pidfile" \
			$AS_ROOT $(log_args) "$@" \
			>"$BATS_TEST_TMPDIR/daemon.out" 2>&1 3>&- || rc=$?
		if [ "$rc" -eq 0 ] && wait_for 10 pidfile_holds "$pidfile"; then
			DAEMON_PID=$(cat "$pidfile")
			KILL_PIDS="$KILL_PIDS $DAEMON_PID"
			return 0
		fi
		grep -q 'in use' "$BATS_TEST_TMPDIR/daemon.out" || break
	done
	echo "the daemon did not start (status $rc):" >&2
	cat "$BATS_TEST_TMPDIR/daemon.out" >&2
	return 1
}

# locked_by FILE PID: /proc/locks shows a POSIX lock on FILE held by PID.
locked_by() {
	local ino
	ino=$(stat -c %i "$1")
	grep -Eq "^[0-9]+: POSIX +ADVISORY +WRITE +$2 +[0-9a-f]+:[0-9a-f]+:$ino " /proc/locks
}

@test "detached daemon: the pidfile holds its pid, locked; a second instance refuses it; SIGTERM removes it" {
	need ss iproute2
	need curl curl
	make_root
	local pf="$BATS_TEST_TMPDIR/ctftpd.pid" port1
	start_daemon "$pf" "$ROOT"
	port1=$PORT
	is_ctftpd "$DAEMON_PID"
	[ "$(cat "$pf")" = "$DAEMON_PID" ]
	fetch hello.txt
	# Detached: not our child, not in our session.
	[ "$(ps -o ppid= -p "$DAEMON_PID" | tr -d ' ')" != "$$" ]
	[ "$(ps -o sid= -p "$DAEMON_PID" | tr -d ' ')" != "$(ps -o sid= -p $$ | tr -d ' ')" ]
	locked_by "$pf" "$DAEMON_PID"
	# A second instance, on another port, with the same pidfile.
	pick_port
	# shellcheck disable=SC2046 # a word list
	run "$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$pf" $(log_args) "$ROOT"
	echo "second instance: status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$pf"* ]]
	[[ "$output" == *"$DAEMON_PID"* ]]
	[ "$(cat "$pf")" = "$DAEMON_PID" ]
	! port_in_use "$PORT" || false
	fetch hello.txt "$port1"
	kill -TERM "$DAEMON_PID"
	wait_for 10 gone "$DAEMON_PID"
	wait_for 5 test ! -e "$pf"
}

@test "detached daemon: started with its standard streams closed, --log-file gets every line once" {
	need curl curl
	make_root
	local pf="$BATS_TEST_TMPDIR/ctftpd.pid" log="$BATS_TEST_TMPDIR/own.log"
	pick_port
	# A log file opened on a free fd 0-2 would be replaced by /dev/null
	# when detaching.
	# shellcheck disable=SC2086 # a word list
	"$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$pf" $AS_ROOT \
		--log-file "$log" "$ROOT" <&- >&- 2>&- 3>&-
	wait_for 10 pidfile_holds "$pf"
	DAEMON_PID=$(cat "$pf")
	KILL_PIDS="$KILL_PIDS $DAEMON_PID"
	fetch hello.txt
	kill -TERM "$DAEMON_PID"
	wait_for 10 gone "$DAEMON_PID"
	cat "$log"
	[ "$(grep -c "listening on 127\.0\.0\.1:$PORT" "$log")" -eq 1 ]
	grep -q 'file "hello.txt" mode octet: complete' "$log"
	grep -q 'notice: stopped' "$log"
}

@test "detached daemon: errors before detaching reach the caller (status 1, stderr)" {
	need ss iproute2
	make_root
	start_server
	# shellcheck disable=SC2046 # a word list
	run "$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$BATS_TEST_TMPDIR/p" \
		$(log_args) "$ROOT"
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"in use"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/p" ]
}

# ---- the init script -----------------------------------------------------

@test "contrib/init.d/ctftpd: start, status, reload, restart, stop (start-stop-daemon, pidfile)" {
	need start-stop-daemon dpkg
	need ss iproute2
	need curl curl
	[ -r /lib/lsb/init-functions ] || skip "/lib/lsb/init-functions not found (apt-get install lsb-base)"
	make_root
	pick_port
	local script="$BATS_TEST_TMPDIR/ctftpd.init" pf="$BATS_TEST_TMPDIR/run.pid"
	local defaults="$BATS_TEST_TMPDIR/default" pid1 pid2
	sed -e "s|^DAEMON=.*|DAEMON=$CTFTPD|" -e "s|^PIDFILE=.*|PIDFILE=$pf|" \
		-e "s|^DEFAULTS=.*|DEFAULTS=$defaults|" \
		"$top_srcdir/contrib/init.d/ctftpd" >"$script"
	grep -q "^DAEMON=$CTFTPD\$" "$script"
	grep -q "^DEFAULTS=$defaults\$" "$script"
	cat >"$defaults" <<-EOF
		CTFTPD_OPTIONS="--address 127.0.0.1:$PORT $AS_ROOT $(log_args)"
		CTFTPD_DIRECTORY="$ROOT"
	EOF
	run sh "$script" status
	[ "$status" -eq 3 ]
	run sh "$script" start
	echo "start: $status: $output"
	[ "$status" -eq 0 ]
	wait_for 10 pidfile_holds "$pf"
	pid1=$(cat "$pf")
	KILL_PIDS="$KILL_PIDS $pid1"
	is_ctftpd "$pid1"
	fetch hello.txt
	run sh "$script" status
	[ "$status" -eq 0 ]
	run sh "$script" start # already running: 0, the same daemon
	[ "$status" -eq 0 ]
	[ "$(cat "$pf")" = "$pid1" ]
	run sh "$script" reload
	[ "$status" -eq 0 ]
	! gone "$pid1" || false
	fetch hello.txt
	run sh "$script" restart
	echo "restart: $status: $output"
	[ "$status" -eq 0 ]
	wait_for 5 gone "$pid1"
	wait_for 10 pidfile_holds "$pf"
	pid2=$(cat "$pf")
	KILL_PIDS="$KILL_PIDS $pid2"
	[ "$pid2" != "$pid1" ]
	fetch hello.txt
	run sh "$script" stop
	[ "$status" -eq 0 ]
	# (gone, or a zombie waiting for init: no longer ctftpd)
	wait_for 5 gone "$pid2"
	[ ! -e "$pf" ]
	run sh "$script" status
	[ "$status" -eq 3 ]
	run sh "$script" stop # not running: still 0
	[ "$status" -eq 0 ]
}

# ---- privileges and chroot (root) ---------------------------------------

# ids_are PID UID GID: all four Uid and Gid fields, and Groups only GID's
# user's groups (the supplementary groups of root are gone).
ids_are() {
	local pid=$1 uid=$2 gid=$3 user=$4 g
	local status_file="/proc/$pid/status"
	awk -v u="$uid" '/^Uid:/ { exit !($2 == u && $3 == u && $4 == u && $5 == u) }' "$status_file" || return 1
	awk -v g="$gid" '/^Gid:/ { exit !($2 == g && $3 == g && $4 == g && $5 == g) }' "$status_file" || return 1
	for g in $(awk '/^Groups:/ { $1 = ""; print }' "$status_file"); do
		[[ " $(id -G "$user") " == *" $g "* ]] || return 1
	done
}

@test "--user nobody: the listener and a transfer child run as nobody, no supplementary groups" {
	need_root
	need curl curl
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	public_root
	make_file big 41943040
	local uid gid
	uid=$(id -u nobody)
	gid=$(id -g nobody)
	start_server --user nobody
	wait_for 5 ids_are "$SERVER_PID" "$uid" "$gid" nobody || {
		grep -E '^(Uid|Gid|Groups):' "/proc/$SERVER_PID/status"
		return 1
	}
	fetch hello.txt
	hold_open "$BATS_TEST_TMPDIR/got.held"
	grep -E '^(Uid|Gid|Groups):' "/proc/$HELD_CHILD/status"
	ids_are "$HELD_CHILD" "$uid" "$gid" nobody
}

@test "--user with an unknown user, --group with an unknown group: exit 2 before binding" {
	make_root
	pick_port
	run "$CTFTPD" --foreground --address "127.0.0.1:$PORT" --user no-such-user-ctftpd "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no-such-user-ctftpd"* ]]
	run "$CTFTPD" --foreground --address "127.0.0.1:$PORT" --user "$(id -un)" \
		--group no-such-group-ctftpd "$ROOT"
	echo "$output"
	[ "$status" -eq 2 ]
	[[ "$output" == *"no-such-group-ctftpd"* ]]
}

@test "--secure --user nobody: chrooted into the root; a symlink to /etc/passwd is not served" {
	need_root
	need curl curl
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	public_root
	ln -s /etc/passwd "$ROOT/passwd"
	ln -s ../../../../../../../etc/passwd "$ROOT/passwd-rel"
	ln -s hello.txt "$ROOT/inside"
	start_server --secure --user nobody
	[ "$(readlink "/proc/$SERVER_PID/root")" = "$ROOT" ]
	fetch hello.txt
	# A symlink that stays inside the root is an ordinary file.
	fetch_same curl 127.0.0.1 inside "$ROOT/hello.txt"
	# A name spelling the root's absolute path still works in the chroot
	# (PXE configs written for tftpd-hpa).
	fetch_same curl 127.0.0.1 "$ROOT/hello.txt" "$ROOT/hello.txt"
	local name rc
	for name in passwd passwd-rel; do
		rm -f "$BATS_TEST_TMPDIR/got"
		rc=0
		tftp_get curl 127.0.0.1 "$name" "$BATS_TEST_TMPDIR/got" || rc=$?
		echo "$name: curl status $rc"
		# 68: TFTP error 1 (not found), 69: TFTP error 2 (access violation)
		[ "$rc" -eq 68 ] || [ "$rc" -eq 69 ]
		! grep -q '^root:' "$BATS_TEST_TMPDIR/got" 2>/dev/null || false
	done
}

# curl_status NAME: curl's exit status fetching NAME (0; 68: TFTP ERROR 1,
# not found; 69: ERROR 2, access violation).
curl_status() {
	local rc=0
	rm -f "$BATS_TEST_TMPDIR/got"
	curl -sS --fail --max-time "$CLIENT_LIMIT" -o "$BATS_TEST_TMPDIR/got" \
		"tftp://127.0.0.1:$PORT/$1" 2>/dev/null || rc=$?
	echo "$rc"
}

@test "--secure: absolute symlinks are taken from the root; links out of it are ERROR 1, not 2 (as documented)" {
	need_root
	need curl curl
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	public_root
	ln -s hello.txt "$ROOT/relative"
	ln -s /hello.txt "$ROOT/from-root"
	ln -s "$ROOT/hello.txt" "$ROOT/full-path"
	ln -s /etc/passwd "$ROOT/passwd"
	start_server --user nobody
	[ "$(curl_status relative)" -eq 0 ]
	[ "$(curl_status full-path)" -eq 0 ]
	[ "$(curl_status passwd)" -eq 69 ]
	stop_server
	start_server --secure --user nobody
	[ "$(curl_status relative)" -eq 0 ]
	[ "$(curl_status from-root)" -eq 0 ]
	cmp "$BATS_TEST_TMPDIR/got" "$ROOT/hello.txt"
	[ "$(curl_status full-path)" -eq 68 ]
	[ "$(curl_status passwd)" -eq 68 ]
}

# ---- tftpd-hpa's command lines, refused options, port range ---------------

@test "tftpd-hpa's -m with -s -u: a root-only rule file outside the root is read before the chroot" {
	need_root
	need curl curl
	id nobody >/dev/null 2>&1 || skip "no user nobody"
	public_root
	# Readable by root only, and outside the root: out of reach once
	# chrooted and running as nobody.
	printf 'r ^PXE$ hello.txt\n' >"$BATS_TEST_TMPDIR/tftpd.remap"
	chmod 600 "$BATS_TEST_TMPDIR/tftpd.remap"
	start_server -s -u nobody -m "$BATS_TEST_TMPDIR/tftpd.remap"
	[ "$(readlink "/proc/$SERVER_PID/root")" = "$ROOT" ]
	fetch_same curl 127.0.0.1 PXE "$ROOT/hello.txt"
}

@test "tftpd-hpa's /etc/default/tftpd-hpa command line works unchanged (plus -L)" {
	need curl curl
	local user=nobody options="--secure"
	if [ "$(id -u)" -eq 0 ]; then
		id nobody >/dev/null 2>&1 || skip "no user nobody"
		public_root
	else
		# Without root: no chroot, no change of user.
		user=$(id -un) options="--verbose"
		make_root
	fi
	make_file bin 100000
	SERVER_LOG="$BATS_TEST_TMPDIR/server.log"
	local try
	for try in 1 2 3 4 5; do
		pick_port
		# in.tftpd --listen --user $TFTP_USERNAME --address $TFTP_ADDRESS \
		#   $TFTP_OPTIONS $TFTP_DIRECTORY, as tftpd-hpa's init script runs it
		"$CTFTPD" --listen --user "$user" --address "127.0.0.1:$PORT" \
			$options "$ROOT" -L 2>"$SERVER_LOG" 3>&- &
		SERVER_PID=$!
		wait_for 10 port_in_use "$PORT" && ! server_dead && break
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
		grep -q 'in use' "$SERVER_LOG" || { cat "$SERVER_LOG"; return 1; }
	done
	[ -n "$SERVER_PID" ]
	fetch bin
	fetch hello.txt
	# tftpd-hpa's short options and -T (microseconds), -B, -r, -v, -U
	stop_server
	"$CTFTPD" -l -u "$user" -a "127.0.0.1:$PORT" -T 1000000 -B 1468 -r tsize \
		-U 022 -v -p "$ROOT" -L 2>"$SERVER_LOG" 3>&- &
	SERVER_PID=$!
	wait_for 10 port_in_use "$PORT"
	fetch bin
}

@test "--port-range 40000:40010: transfers are sent from ports in the range" {
	[ -x "$PROBE" ] || skip "tests/probe not built"
	make_root
	make_file bin 100000
	start_server --port-range 40000:40010
	local tid port
	for _ in 1 2 3 4; do
		probe_fetch 127.0.0.1 get bin
		tid=${output##*from TID }
		port=${tid##*:}
		port=${port%%[!0-9]*}
		[ "$port" -ge 40000 ] && [ "$port" -le 40010 ]
	done
}

# ---- safe defaults: the privilege drop, inherited descriptors, the log ------

# default_user: whom ctftpd started as root runs as without --user.
default_user() {
	if id tftp >/dev/null 2>&1; then echo tftp; else echo nobody; fi
}

@test "started as root without --user: the listener and a transfer run as tftp (or nobody), named in the log" {
	need_root
	need curl curl
	local user uid gid
	user=$(default_user)
	id "$user" >/dev/null 2>&1 || skip "neither tftp nor nobody exists"
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	public_root
	make_file big 41943040
	AS_ROOT='' start_server
	grep -E '^(Uid|Gid|Groups):' "/proc/$SERVER_PID/status"
	ids_are "$SERVER_PID" "$uid" "$gid" "$user"
	log_has "notice: running as user $user \\(uid $uid, gid $gid\\), the default when started as root"
	fetch hello.txt
	hold_open "$BATS_TEST_TMPDIR/got.held"
	ids_are "$HELD_CHILD" "$uid" "$gid" "$user"
}

@test "under inetd, tftpd-hpa's line (root, no --user): the server and a transfer run as tftp (or nobody)" {
	need_root
	need ss iproute2
	need curl curl
	local user uid gid pid
	user=$(default_user)
	id "$user" >/dev/null 2>&1 || skip "neither tftp nor nobody exists"
	uid=$(id -u "$user")
	gid=$(id -g "$user")
	public_root
	make_file big 41943040
	# shellcheck disable=SC2046 # nothing, or two words
	start_inetd ctftpd -s $(log_args) "$ROOT"
	fetch hello.txt
	pid=$(live_children_of "$SS_PID")
	[ -n "$pid" ]
	ids_are "$pid" "$uid" "$gid" "$user"
	SERVER_PID=$pid hold_open "$BATS_TEST_TMPDIR/got.held"
	ids_are "$HELD_CHILD" "$uid" "$gid" "$user"
	[ -S /dev/log ] || grep "running as user $user" "$DAEMON_LOG"
}

@test "--user root: stays root, with a warning" {
	need_root
	make_root
	start_server --user root
	ids_are "$SERVER_PID" 0 0 root
	log_has 'warning: running as root \(--user root\)'
}

# no_fd_to PID FILE...: no descriptor of PID leads to one of the FILEs.
no_fd_to() {
	local pid=$1 fd target f
	shift
	for fd in "/proc/$pid/fd/"*; do
		target=$(readlink "$fd") || continue
		for f in "$@"; do
			if [ "$target" = "$f" ]; then
				echo "process $pid: $fd -> $f" >&2
				return 1
			fi
		done
	done
}

@test "inherited descriptors are closed: neither the listener nor a transfer holds them" {
	need curl curl
	make_root
	make_file big 41943040
	local m=$BATS_TEST_TMPDIR/inherited
	: >"$m.3"
	: >"$m.5"
	: >"$m.9"
	start_server 3<"$m.3" 5<"$m.5" 9>>"$m.9"
	ls -l "/proc/$SERVER_PID/fd/"
	no_fd_to "$SERVER_PID" "$m.3" "$m.5" "$m.9"
	hold_open "$BATS_TEST_TMPDIR/got.held"
	ls -l "/proc/$HELD_CHILD/fd/"
	no_fd_to "$HELD_CHILD" "$m.3" "$m.5" "$m.9"
	# Kept: the standard streams (the log is standard error here).
	[ "$(readlink "/proc/$SERVER_PID/fd/2")" = "$SERVER_LOG" ]
}

# without_syslog COMMAND...: run COMMAND where no syslog daemon listens: as
# is where there is no /dev/log; else in a mount namespace with an empty
# file over /dev/log (connecting to it is refused).
without_syslog() {
	if [ ! -e /dev/log ]; then
		"$@"
		return
	fi
	[ "$(id -u)" -eq 0 ] || skip "a syslog daemon listens here; hiding it needs root"
	: >"$BATS_TEST_TMPDIR/not-a-socket"
	# shellcheck disable=SC2016 # expanded by that sh
	unshare --mount --propagation private sh -c \
		'mount --bind "$0" /dev/log && exec "$@"' \
		"$BATS_TEST_TMPDIR/not-a-socket" "$@"
}

# private_var_log MOUNT-OPTIONS COMMAND...: COMMAND in a mount namespace
# with an empty tmpfs over /var/log, mounted with MOUNT-OPTIONS (rw, ro).
private_var_log() {
	# shellcheck disable=SC2016 # expanded by that sh
	unshare --mount --propagation private sh -c \
		'mount -t tmpfs -o "$0" none /var/log && exec "$@"' "$@"
}

@test "no syslog, standard error a pipe: a detaching daemon logs to /var/log/ctftpd.log, or refuses to log nowhere" {
	need_root
	need curl curl
	unshare --mount --propagation private true 2>/dev/null ||
		skip "cannot make a mount namespace"
	make_root
	pick_port
	local pf=$BATS_TEST_TMPDIR/pid pid
	# shellcheck disable=SC2086 # a word list
	run without_syslog private_var_log rw "$CTFTPD" --address "127.0.0.1:$PORT" \
		--pidfile "$pf" $AS_ROOT "$ROOT" 3>&-
	echo "status $status: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"warning: no syslog at /dev/log"*": logging to /var/log/ctftpd.log"* ]]
	wait_for 10 pidfile_holds "$pf"
	pid=$(cat "$pf")
	KILL_PIDS="$KILL_PIDS $pid"
	fetch hello.txt
	SERVER_LOG=/proc/$pid/root/var/log/ctftpd.log \
		log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	# Nowhere to write it: no start, and the reason.
	pick_port
	run without_syslog private_var_log ro "$CTFTPD" --address "127.0.0.1:$PORT" \
		"$ROOT" 3>&-
	echo "status $status: $output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no syslog at /dev/log"*"/var/log/ctftpd.log: Read-only file system: give --log-file FILE, or --foreground"* ]]
	! port_in_use "$PORT" || false
}

# as-inetd.py PORT COMMAND...: COMMAND with a UDP socket bound to
# 127.0.0.1:PORT as its standard input, output and error, as inetd starts a
# dgram "wait" service.
write_as_inetd() {
	cat >"$BATS_TEST_TMPDIR/as-inetd.py" <<-'EOF'
		import os, socket, sys
		s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		s.bind(("127.0.0.1", int(sys.argv[1])))
		for fd in (0, 1, 2):
		    os.dup2(s.fileno(), fd)
		s.close()
		os.execvp(sys.argv[2], sys.argv[2:])
	EOF
}

# udp_owner PORT: the pid of the process holding UDP 127.0.0.1:PORT.
udp_owner() {
	ss -Hulpn "sport = :$1" | grep -o 'pid=[0-9]*' | head -n 1 | cut -d= -f2
}

@test "no syslog, under inetd with --foreground: standard error is the socket, so the log goes to /var/log/ctftpd.log" {
	need_root
	need ss iproute2
	need curl curl
	command -v python3 >/dev/null || skip "python3 not installed"
	unshare --mount --propagation private true 2>/dev/null ||
		skip "cannot make a mount namespace"
	make_root
	pick_port
	write_as_inetd
	# shellcheck disable=SC2086 # a word list
	without_syslog private_var_log rw python3 "$BATS_TEST_TMPDIR/as-inetd.py" \
		"$PORT" "$CTFTPD" --foreground --idle-timeout 30 $AS_ROOT "$ROOT" 3>&- &
	local pid
	wait_for 10 port_in_use "$PORT"
	pid=$(udp_owner "$PORT")
	[ -n "$pid" ]
	KILL_PIDS="$KILL_PIDS $pid"
	wait_for 10 is_ctftpd "$pid"
	fetch hello.txt
	SERVER_LOG=/proc/$pid/root/var/log/ctftpd.log \
		log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
}

@test "no syslog, standard error a file: the daemon logs there, after a warning, and keeps it when detached" {
	need curl curl
	make_root
	pick_port
	local err=$BATS_TEST_TMPDIR/stderr pf=$BATS_TEST_TMPDIR/pid
	# shellcheck disable=SC2086 # a word list
	without_syslog "$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$pf" \
		$AS_ROOT "$ROOT" 2>"$err" 3>&-
	wait_for 10 pidfile_holds "$pf"
	KILL_PIDS="$KILL_PIDS $(cat "$pf")"
	cat "$err"
	grep -q 'warning: no syslog at /dev/log (.*): logging to standard error' "$err"
	[ "$(readlink "/proc/$(cat "$pf")/fd/2")" = "$err" ]
	fetch hello.txt
	SERVER_LOG=$err log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
}

@test "no syslog, detached, standard error the journal's (JOURNAL_STREAM): the daemon logs there" {
	need curl curl
	need stat coreutils
	make_root
	pick_port
	local out=$BATS_TEST_TMPDIR/journal pf=$BATS_TEST_TMPDIR/pid
	# A pipe, as journald's stream would be a socket: either is refused
	# when detaching, unless JOURNAL_STREAM names it (systemd.exec(5)).
	# shellcheck disable=SC2016,SC2086 # expanded by that sh; a word list
	without_syslog sh -c 'JOURNAL_STREAM=$(stat -L -c %d:%i /dev/stderr) exec "$@"' \
		sh "$CTFTPD" --address "127.0.0.1:$PORT" --pidfile "$pf" $AS_ROOT \
		"$ROOT" 2> >(cat >"$out") 3>&-
	wait_for 10 pidfile_holds "$pf"
	KILL_PIDS="$KILL_PIDS $(cat "$pf")"
	fetch hello.txt
	SERVER_LOG=$out log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	grep -q 'logging to standard error' "$out"
}

# start_logged ARGS...: ctftpd in the foreground on 127.0.0.1:PORT with
# --log-file $SERVER_LOG (a file that already holds one line), its standard
# error in $BATS_TEST_TMPDIR/stderr.
start_logged() {
	SERVER_LOG=$BATS_TEST_TMPDIR/ctftpd.log
	echo "an older line" >"$SERVER_LOG"
	pick_port
	# shellcheck disable=SC2086 # a word list
	"$CTFTPD" -L --address "127.0.0.1:$PORT" --log-file "$SERVER_LOG" \
		$AS_ROOT "$@" "$ROOT" 2>"$BATS_TEST_TMPDIR/stderr" 3>&- &
	SERVER_PID=$!
	log_has "listening on 127\\.0\\.0\\.1:$PORT"
}

@test "--log-file: appended, one line per event with a UTC time; SIGHUP re-opens it after a rename (logrotate)" {
	need curl curl
	make_root
	start_logged
	fetch hello.txt
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	cat "$SERVER_LOG"
	[ "$(head -n 1 "$SERVER_LOG")" = "an older line" ]
	# Every line but the older one: "TIME ctftpd[PID]: PRIORITY: TEXT".
	! tail -n +2 "$SERVER_LOG" | grep -Ev \
		'^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9]{3}Z ctftpd\[[0-9]+\]: (error|warning|notice|info|debug): ' ||
		false
	[ ! -s "$BATS_TEST_TMPDIR/stderr" ]
	mv "$SERVER_LOG" "$SERVER_LOG.1"
	kill -HUP "$SERVER_PID"
	log_has "notice: log file $SERVER_LOG re-opened"
	fetch hello.txt
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	[ "$(grep -c 'complete' "$SERVER_LOG.1")" -eq 1 ]
	[ "$(grep -c 'complete' "$SERVER_LOG")" -eq 1 ]
}

@test "--log-file with --secure: SIGHUP says the file cannot be re-opened, and logging goes on" {
	need_root
	need curl curl
	public_root
	start_logged --secure
	kill -HUP "$SERVER_PID"
	log_has "log file $SERVER_LOG not re-opened: its path is out of reach in the chroot"
	fetch hello.txt
	log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
}

# start_syslogd SOCKET FILE: a stand-in syslog daemon: a datagram socket at
# SOCKET whose messages are appended to FILE, one a line.  Sets SYSLOGD_PID.
start_syslogd() {
	rm -f "$1"
	perl -MSocket -MIO::Handle -e '
		my ($path, $file) = @ARGV;
		socket(my $s, PF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
		bind($s, pack_sockaddr_un($path)) or die "bind $path: $!";
		open(my $out, ">>", $file) or die "$file: $!";
		$out->autoflush(1);
		while (defined(recv($s, my $m, 65536, 0))) { print $out "$m\n"; }
	' "$1" "$2" 3>&- &
	SYSLOGD_PID=$!
	KILL_PIDS="$KILL_PIDS $SYSLOGD_PID"
	wait_for 5 test -S "$1"
}

# with_dev_log SOCKET COMMAND...: run COMMAND in a mount namespace whose
# /dev is a copy holding only null, zero, urandom and a /dev/log that leads
# to SOCKET.
with_dev_log() {
	local sock=$1
	shift
	mkdir -p "$BATS_TEST_TMPDIR/olddev"
	# shellcheck disable=SC2016 # expanded by that sh
	unshare --mount --propagation private sh -c '
		old=$1 sock=$2; shift 2
		mount --bind /dev "$old" && mount -t tmpfs none /dev || exit 1
		for d in null zero urandom; do
			: >"/dev/$d" && mount --bind "$old/$d" "/dev/$d" || exit 1
		done
		ln -s "$sock" /dev/log && exec "$@"' \
		sh "$BATS_TEST_TMPDIR/olddev" "$sock" "$@"
}

@test "syslog: a detached daemon logs there; after a syslog daemon restart, SIGHUP reconnects (not chrooted)" {
	need_root
	need curl curl
	unshare --mount --propagation private true 2>/dev/null ||
		skip "cannot make a mount namespace"
	make_root
	pick_port
	local sock=$BATS_TEST_TMPDIR/syslog.sock msgs=$BATS_TEST_TMPDIR/syslog.msgs
	local pf=$BATS_TEST_TMPDIR/pid pid
	start_syslogd "$sock" "$msgs"
	# shellcheck disable=SC2086 # a word list
	run with_dev_log "$sock" "$CTFTPD" --address "127.0.0.1:$PORT" \
		--pidfile "$pf" $AS_ROOT "$ROOT" 3>&-
	echo "$output"
	[ "$status" -eq 0 ]
	wait_for 10 pidfile_holds "$pf"
	pid=$(cat "$pf")
	KILL_PIDS="$KILL_PIDS $pid"
	SERVER_LOG=$msgs log_has "^<29>.* ctftpd\\[$pid\\]: listening on 127\\.0\\.0\\.1:$PORT"
	fetch hello.txt
	SERVER_LOG=$msgs log_has '^<30>.* ctftpd\[[0-9]+\]: RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
	# The syslog daemon restarts: a new socket at the same path.
	kill "$SYSLOGD_PID"
	wait "$SYSLOGD_PID" 2>/dev/null || true
	start_syslogd "$sock" "$msgs.new"
	kill -HUP "$pid"
	SERVER_LOG=$msgs.new log_has "ctftpd\\[$pid\\]: syslog connection re-opened"
	fetch hello.txt
	SERVER_LOG=$msgs.new log_has 'RRQ from 127\.0\.0\.1:[0-9]+ file "hello\.txt" mode octet: complete'
}
