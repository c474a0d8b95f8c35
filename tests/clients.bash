# The clients the suites fetch with: the real ones (tftp-hpa's tftp, curl,
# busybox tftp, atftp) behind one call, a download held open by stopping its
# client, and tests/probe's raw-packet scenarios.  Loaded by helpers.bash.
#
# What each client can ask, as found on Debian 12 (tests/options.bats says
# more): tftp-hpa 5.2 asks no option at all; curl 7.88 asks blksize
# (--tftp-blksize) and always tsize, never windowsize; busybox 1.35 asks
# blksize (-b) and always tsize, and has no netascii; atftp 0.8.0 asks
# anything with --option "NAME VALUE".

# No client may hang a suite: a transfer that takes 5 s when it works gets
# this many seconds before it counts as failed (tftp_get -T overrides).
: "${CLIENT_LIMIT:=120}"

# A command (word list) that clients run under: loss.bats runs them inside a
# network namespace.
CLIENT_WRAP=${CLIENT_WRAP:-}

# Set (to 1) by a suite in which a client that mentions an error or a
# timeout has failed even if its status was 0 (it had to retry).  tftp-hpa's
# status says nothing either way: its messages always decide.
CLIENT_STRICT=${CLIENT_STRICT:-}

# tftp_get [-m MODE] [-b BLKSIZE] [-w WINDOWSIZE] [-s] [-v] [-p PORT]
#          [-T SECONDS] [-o MESSAGES] CLIENT HOST NAME LOCAL
# Fetch NAME from HOST (127.0.0.1 or ::1), port PORT (default $PORT), into
# LOCAL with CLIENT: tftp-hpa, curl, busybox or atftp.  -m netascii (default
# octet); -b and -w ask blksize and windowsize (RFC 2348, RFC 7440); -s asks
# tsize (RFC 2349) with the value 0; -v has atftp print its trace, the OACK it
# received included.  The client's messages go to MESSAGES (default
# $BATS_TEST_TMPDIR/client.out).  Returns the client's status, 2 when the
# client cannot ask what was asked, 1 when its messages say it failed (see
# CLIENT_STRICT).
tftp_get() {
	tftp_transfer get "$@"
}

# tftp_put [the options of tftp_get] CLIENT HOST LOCAL NAME: upload LOCAL
# as NAME (a WRQ), the same way.
tftp_put() {
	tftp_transfer put "$@"
}

# tftp_transfer get|put [OPTIONS] CLIENT HOST FROM TO: what tftp_get and
# tftp_put share.
tftp_transfer() {
	local dir=$1 mode=octet blksize= window= tsize= trace= port=$PORT
	local limit=$CLIENT_LIMIT msgs="$BATS_TEST_TMPDIR/client.out"
	local OPTIND=2 opt url host name local
	local -a cmd
	while getopts 'm:b:w:svp:T:o:' opt; do
		case $opt in
		m) mode=$OPTARG ;;
		b) blksize=$OPTARG ;;
		w) window=$OPTARG ;;
		s) tsize=1 ;;
		v) trace=1 ;;
		p) port=$OPTARG ;;
		T) limit=$OPTARG ;;
		o) msgs=$OPTARG ;;
		*) return 2 ;;
		esac
	done
	shift $((OPTIND - 1))
	local client=$1
	host=$2
	# name: the server's side; local: ours.
	if [ "$dir" = get ]; then
		name=$3 local=$4
	else
		local=$3 name=$4
	fi
	case $client in
	tftp-hpa)
		[ -z "$blksize$window$tsize$trace" ] || return 2
		cmd=(tftp)
		[[ $host == *:* ]] && cmd+=(-6)
		[ "$mode" = octet ] && cmd+=(-m binary) || cmd+=(-m "$mode")
		cmd+=("$host" "$port" -c "$dir")
		[ "$dir" = get ] && cmd+=("$name" "$local") ||
			cmd+=("$local" "$name") ;;
	curl)
		[ -z "$window$trace" ] || return 2
		[[ $host == *:* ]] && host="[$host]"
		url="tftp://$host:$port/$name"
		[ "$mode" = octet ] || url="$url;mode=$mode"
		cmd=(curl -sS --fail ${blksize:+--tftp-blksize "$blksize"})
		[ "$dir" = get ] && cmd+=(-o "$local") || cmd+=(-T "$local")
		cmd+=("$url") ;;
	busybox)
		[ -z "$window$trace" ] && [ "$mode" = octet ] || return 2
		cmd=(busybox tftp ${blksize:+-b "$blksize"} "-${dir:0:1}"
			-r "$name" -l "$local" "$host" "$port") ;;
	atftp)
		cmd=(atftp ${trace:+--trace})
		[ "$mode" = octet ] || cmd+=(--option "mode $mode")
		[ -z "$blksize" ] || cmd+=(--option "blksize $blksize")
		[ -z "$window" ] || cmd+=(--option "windowsize $window")
		[ -z "$tsize" ] || cmd+=(--option "tsize 0")
		cmd+=("-${dir:0:1}" -r "$name" -l "$local" "$host" "$port") ;;
	*)
		echo "unknown client $client" >&2
		return 2 ;;
	esac
	# shellcheck disable=SC2086 # CLIENT_WRAP is a word list
	timeout "$limit" $CLIENT_WRAP "${cmd[@]}" >"$msgs" 2>&1 3>&- || return
	if [ "$client" = tftp-hpa ] || [ -n "$CLIENT_STRICT" ]; then
		! client_complained "$msgs"
	fi
}

# client_complained MESSAGES: a client's messages mention an error or a
# timeout.
client_complained() {
	grep -Eqi 'error|timed out|timeout' "$1"
}

# fetch_same [tftp_get options] CLIENT HOST NAME [EXPECTED]: fetch NAME into
# $GOT ($BATS_TEST_TMPDIR/got, replaced) and compare it with EXPECTED
# (default $ROOT/NAME).  A failing client is shown with its messages and the
# end of the server log.
fetch_same() {
	local OPTIND=1 opt rc=0
	while getopts 'm:b:w:svp:T:o:' opt; do :; done
	local -a opts=("${@:1:OPTIND-1}")
	shift $((OPTIND - 1))
	GOT="$BATS_TEST_TMPDIR/got"
	rm -f "$GOT"
	tftp_get "${opts[@]}" "$1" "$2" "$3" "$GOT" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "$1 ${opts[*]} $2 $3: status $rc:" >&2
		tail -n 20 "$BATS_TEST_TMPDIR/client.out" >&2
		if [ -n "${SERVER_LOG:-}" ] && [ -f "$SERVER_LOG" ]; then
			echo "server log:" >&2
			tail -n 5 "$SERVER_LOG" >&2
		fi
		return 1
	fi
	same "$GOT" "${4:-$ROOT/$3}"
}

# find_new_child BEFORE: a live child of the server that is not in the list
# BEFORE goes to HELD_CHILD (a condition for wait_for).
find_new_child() {
	local pid
	for pid in $(live_children_of "$SERVER_PID"); do
		[[ " $1 " == *" $pid "* ]] && continue
		HELD_CHILD=$pid
		return 0
	done
	return 1
}

# hold_open [-w WINDOWSIZE] LOCAL [NAME]: start curl (lockstep) or with -w
# atftp (that windowsize, blksize 512: slow enough to be caught) fetching NAME
# (default big: it must take far longer than a few polls) from 127.0.0.1 into
# LOCAL in the
# background; once the server has a new transfer child and bytes have
# arrived, stop the client (SIGSTOP) so that the transfer stays open.  Sets
# HELD_PID (added to HELD_PIDS, which teardown ends) and HELD_CHILD, the
# transfer's process.
hold_open() {
	local window=
	if [ "$1" = -w ]; then
		window=$2
		shift 2
	fi
	local local=$1 name=${2:-big} before
	before=$(live_children_of "$SERVER_PID")
	if [ -n "$window" ]; then
		# Not under timeout(1): SIGSTOP must reach atftp itself (its
		# pid is HELD_PID, which teardown ends).
		atftp --option "windowsize $window" --option "blksize 512" \
			-g -r "$name" -l "$local" 127.0.0.1 "$PORT" \
			>"$local.msg" 2>&1 3>&- &
	else
		curl -sS --fail --max-time "$CLIENT_LIMIT" -o "$local" \
			"tftp://127.0.0.1:$PORT/$name" >"$local.msg" 2>&1 3>&- &
	fi
	HELD_PID=$!
	HELD_PIDS="$HELD_PIDS $HELD_PID"
	HELD_CHILD=
	wait_for 10 find_new_child "$before"
	wait_for 10 test -s "$local"
	kill -STOP "$HELD_PID"
	# Still running on the server's side: the transfer is not over.
	kill -0 "$HELD_CHILD"
	[ "$(live_children_of "$SERVER_PID" | wc -l)" -eq \
		$(($(echo "$before" | grep -c .) + 1)) ]
	[ "$(size_of "$local")" -lt "$(size_of "$ROOT/$name")" ]
}

# suite_single_port FILE: the bats FILE passes whole with every server in
# --single-port mode (and the probe requiring replies from the listening
# port); what did not pass is shown.
suite_single_port() {
	run env CTFTPD_MODE_ARGS=--single-port PROBE_SINGLE_PORT=1 \
		bats --tap "$top_srcdir/tests/$1"
	echo "$output" | grep -v '^ok ' | head -40
	[ "$status" -eq 0 ]
}

# probe_pass HOST SCENARIO [ARGS...]: tests/probe (a raw-packet client, see
# tests/probe.c) must report PASS for SCENARIO against the server.  Its
# verdict line is in $output.  With --single-port in $CTFTPD_MODE_ARGS the
# probe requires the transfers to answer from the listening port.
probe_pass() {
	local host=$1 single=
	shift
	[[ " ${CTFTPD_MODE_ARGS:-} " == *" --single-port "* ]] && single=1
	# shellcheck disable=SC2086 # CLIENT_WRAP is a word list
	run env PROBE_SINGLE_PORT=$single timeout "$CLIENT_LIMIT" $CLIENT_WRAP \
		"$PROBE" "$host" "$PORT" "$@"
	echo "probe $host $*: status $status: $output"
	[ "$status" -eq 0 ]
	[[ "$output" == PASS* ]]
}

# probe_fetch HOST SCENARIO FILE [ARGS...]: a probe scenario that downloads
# FILE into the OUT it takes next passes, and OUT holds FILE's bytes.
probe_fetch() {
	local host=$1 scenario=$2 file=$3
	shift 3
	rm -f "$BATS_TEST_TMPDIR/out"
	probe_pass "$host" "$scenario" "$file" "$BATS_TEST_TMPDIR/out" "$@"
	cmp "$ROOT/$file" "$BATS_TEST_TMPDIR/out"
}

# fetch_many N FILE: N simultaneous downloads of $ROOT/FILE from 127.0.0.1,
# the four clients in turn (curl, tftp-hpa, busybox, atftp); each must exit
# 0 and arrive byte-exact.  Says which did not; fails if any did not.
fetch_many() {
	local n=$1 file=$2 i rc failed=0
	local -a pids clients=(curl tftp-hpa busybox atftp)
	for ((i = 0; i < n; i++)); do
		tftp_get -o "$BATS_TEST_TMPDIR/msg.$i" "${clients[i % 4]}" \
			127.0.0.1 "$file" "$BATS_TEST_TMPDIR/got.$i" 3>&- &
		pids[i]=$!
	done
	for ((i = 0; i < n; i++)); do
		rc=0
		wait "${pids[i]}" || rc=$?
		if [ "$rc" -ne 0 ] ||
			! cmp "$BATS_TEST_TMPDIR/got.$i" "$ROOT/$file" >&2; then
			echo "download $i (${clients[i % 4]}) exited $rc or is corrupt:" >&2
			cat "$BATS_TEST_TMPDIR/msg.$i" >&2
			failed=$((failed + 1))
		fi
	done
	[ "$failed" -eq 0 ]
}
