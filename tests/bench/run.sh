#!/usr/bin/env bash
# ctftpd beside its peers (tftpd-hpa's in.tftpd, atftpd, dnsmasq) on the
# loopback, and the ceilings of this machine measured in the same run: a
# bare fork+_exit+waitpid, and a bare UDP exchange of each transfer's shape.
# RRQs and WRQs (uploads; not dnsmasq, which serves reads only).
# Every scenario runs in interleaved rounds (A B C D, B C D A, ...) so that
# drift hits all alike; the table gives medians and ratios of medians.
# Server cost is read from a cgroup v2 per server (its CPU and its
# children's, reaped or not), and the parent's RSS from /proc.
#
# Usage: tests/bench/run.sh [--smoke] [--rounds N] [--build DIR]
#                           [--note TEXT] [--single-port] OUTDIR
#   --smoke   tiny sizes, one round, no download: checks the kit works
#   --build   the build tree holding src/ctftpd and tests/bench/* (default:
#             $top_builddir, else ./build, else the source tree)
#   --note    a line for the report's header (e.g. "machine shared")
#   --single-port  also ctftpd --single-port, as the server ctftpd-sp
# Writes OUTDIR/bench.md (tables), OUTDIR/bench.png (plot, with gnuplot),
# OUTDIR/results.tsv (every run), OUTDIR/clients.log (every client line).
#
# As root with ip(8), everything runs in a private network namespace made
# here (dnsmasq serves TFTP on port 69 only); otherwise on the host's
# loopback, without dnsmasq.  Servers listen on 127.0.0.1 only; the client
# refuses any other address.  atftpd conflicts with tftpd-hpa as a package:
# outside --smoke, it is fetched with apt-get download and unpacked under
# ${XDG_CACHE_HOME:-~/.cache}/ctftpd-bench unless $ATFTPD names one.
set -u

die() {
	echo "run.sh: $*" >&2
	exit 2
}
usage() {
	sed -n '/^# Usage:/,/^#$/p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit "$1"
}

smoke=0 rounds='' build='' note='' out='' single_port=0
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) smoke=1 ;;
	--rounds) rounds=${2:?}; shift ;;
	--build) build=${2:?}; shift ;;
	--note) note=${2:?}; shift ;;
	--single-port) single_port=1 ;;
	-h | --help) usage 0 ;;
	-*) usage 2 ;;
	*) [ -z "$out" ] || usage 2; out=$1 ;;
	esac
	shift
done
[ -n "$out" ] || usage 2
[ -n "$rounds" ] || rounds=$((smoke ? 1 : 3))
case $rounds in '' | *[!0-9]* | 0) die "--rounds takes a positive number" ;; esac

top=$(cd "$(dirname "$0")/../.." && pwd)
if [ -z "$build" ]; then
	for d in "${top_builddir:-}" "$top/build" "$top"; do
		if [ -n "$d" ] && [ -x "$d/tests/bench/tftpbench" ]; then
			build=$d
			break
		fi
	done
fi
[ -n "$build" ] || die "no tests/bench/tftpbench: build it (make check TESTS=) or give --build"
CTFTPD=${CTFTPD:-$build/src/ctftpd}
BENCH=$build/tests/bench/tftpbench
LIMITS=$build/tests/bench/limits
LIMITS_DYN=$build/tests/bench/limits-dynamic
for b in "$CTFTPD" "$BENCH" "$LIMITS" "$LIMITS_DYN"; do
	[ -x "$b" ] || die "missing $b (make check TESTS= builds it)"
done
mkdir -p "$out" || die "cannot make $out"
out=$(cd "$out" && pwd)

# --- Sizes.  Each client run should take about a second at full size. ---
KiB=1024 MiB=1048576
if [ "$smoke" = 1 ]; then
	SEQ_N=20 BIG=$((256 * KiB)) HUGE=$((512 * KiB)) TEN=$((64 * KiB))
	QUARTER=$((16 * KiB)) CONC=8 MANY=20 FORK_N=200
	N512=1 N1468=1 N65464=1 NWIN1468=1 NWIN65464=1
else
	SEQ_N=2000 BIG=$((32 * MiB)) HUGE=$((256 * MiB)) TEN=$((10 * MiB))
	QUARTER=$((256 * KiB)) CONC=64 MANY=1000 FORK_N=2000
	N512=1 N1468=2 N65464=2 NWIN1468=2 NWIN65464=2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ctftpd-bench.XXXXXX") || die "mktemp"
chmod 755 "$work" # ctftpd started as root runs as tftp or nobody
ns='' cg=''
declare -A PORT PID
SERVERS=()

cleanup() {
	local name
	for name in "${SERVERS[@]}"; do
		kill -TERM "${PID[$name]}" 2>/dev/null
	done
	if [ -n "$cg" ]; then
		# Whatever a server left behind (children still sending) ends
		# with its group; then the groups go.
		for name in "$cg"/*/; do
			if [ -f "$name/cgroup.kill" ]; then
				echo 1 >"$name/cgroup.kill" 2>/dev/null
			else
				xargs -r kill -KILL <"$name/cgroup.procs" 2>/dev/null
			fi
		done
	fi
	wait 2>/dev/null
	if [ -n "$cg" ]; then
		for name in "$cg"/*/; do
			[ -d "$name" ] || continue
			for _ in $(seq 100); do
				rmdir "$name" 2>/dev/null && break
				sleep 0.02
			done
		done
		rmdir "$cg" 2>/dev/null
	fi
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Isolation: a network namespace, and a cgroup per server. ---
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null &&
	ip netns add "ctftpd-bench-$$" 2>/dev/null; then
	ns=ctftpd-bench-$$
	ip -n "$ns" link set lo up || die "cannot bring up lo in $ns"
	# in.tftpd resolves -a with AI_ADDRCONFIG, which fails where the only
	# IPv4 addresses are loopback ones: give lo a documentation address
	# (RFC 5737) too.  Nothing is sent to it; the namespace has no link.
	ip -n "$ns" addr add 192.0.2.1/32 dev lo
fi
# NS: the words that run a command inside the namespace (none without one).
NS=()
[ -n "$ns" ] && NS=(ip netns exec "$ns")
in_ns() { "${NS[@]}" "$@"; }
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/self/mounts)
if [ -n "$cg2" ] && mkdir "$cg2/ctftpd-bench-$$" 2>/dev/null; then
	cg=$cg2/ctftpd-bench-$$
	mkdir "$cg/limits"
fi
# launch GROUP CMD...: become CMD, in cgroup GROUP (made if needed); call it
# in a subshell (& or $()), whose pid is then CMD's.  The shell joins the
# group before it execs, so every process CMD makes is counted.  (ip netns
# exec hides /sys/fs/cgroup, so the group is joined first.)
launch() {
	local group=$1
	shift
	if [ -n "$cg" ]; then
		mkdir -p "$cg/$group"
		exec sh -c 'echo $$ >"$0/cgroup.procs" && exec "$@"' "$cg/$group" "$@"
	else
		exec "$@"
	fi
}
# cpu_usec GROUP: CPU time used so far by everything that was in GROUP.
cpu_usec() {
	[ -n "$cg" ] && awk '$1 == "usage_usec" { print $2 }' "$cg/$1/cpu.stat" 2>/dev/null
}
# quiet GROUP PID: wait (at most 5 s) until the server PID is alone in its
# group (has no child left), so that a run's CPU includes its children's
# exits.
quiet() {
	local end=$((SECONDS + 5))
	while [ $SECONDS -lt $end ]; do
		if [ -n "$cg" ]; then
			[ "$(wc -l <"$cg/$1/cgroup.procs")" -le 1 ] && return
		else
			[ -z "$(pgrep -P "$2")" ] && return
		fi
		sleep 0.01
	done
}

# --- The files. ---
root=$work/root
# Servers that drop privileges (to nobody, dnsmasq...) must reach the root.
chmod 755 "$work"
mkdir -p "$root" && chmod 755 "$root"
mk() { head -c "$2" /dev/urandom >"$root/$1" && chmod 644 "$root/$1"; }
mk small1k 1024
mk big "$BIG"
mk huge "$HUGE"
mk ten "$TEN"
mk quarter "$QUARTER"
# Uploads (WRQ) land here, one file per server, checked after each run.
mkdir -p "$root/up" && chmod 777 "$root/up"
# Older than any "recently changed" rule (ctftpd --cache-min-age), so that
# every server may cache them from the first request.
touch -d '1 hour ago' "$root"/*

# --- The servers. ---
if [ -n "$ns" ]; then base=6900; else base=$((30000 + RANDOM % 20000)); fi
find_atftpd() {
	local cache=${XDG_CACHE_HOME:-$HOME/.cache}/ctftpd-bench
	if [ -n "${ATFTPD:-}" ]; then
		echo "$ATFTPD"
	elif command -v atftpd >/dev/null; then
		command -v atftpd
	elif [ -x "$cache/atftpd/usr/sbin/atftpd" ]; then
		echo "$cache/atftpd/usr/sbin/atftpd"
	elif [ "$smoke" = 0 ] && command -v apt-get >/dev/null; then
		# It conflicts with tftpd-hpa as a package: unpack, not install.
		mkdir -p "$cache/atftpd" && (cd "$cache" && rm -f atftpd_*.deb &&
			apt-get download atftpd >/dev/null 2>&1 &&
			dpkg-deb -x atftpd_*.deb atftpd) &&
			echo "$cache/atftpd/usr/sbin/atftpd"
	fi
}
ready() { # PORT: the server answers an RRQ
	in_ns "$BENCH" -T 50 -G 300 -V "$root/small1k" 127.0.0.1 "$1" small1k \
		>/dev/null 2>&1
}
start() { # NAME PORT CMD...
	local name=$1 port=$2 end=$((SECONDS + 10))
	shift 2
	launch "$name" "${NS[@]}" "$@" >"$work/$name.log" 2>&1 &
	PID[$name]=$!
	PORT[$name]=$port
	until ready "$port"; do
		if [ $SECONDS -ge $end ] || ! kill -0 "${PID[$name]}" 2>/dev/null; then
			echo "run.sh: $name did not start:" >&2
			tail -5 "$work/$name.log" >&2
			kill "${PID[$name]}" 2>/dev/null
			SKIPPED="$SKIPPED $name"
			return 1
		fi
	done
	SERVERS+=("$name")
}
SKIPPED=
# Each server at its defaults, but with room for the 1,000 concurrent
# transfers, new files allowed (the WRQ rows), and logging to a file or
# nowhere.  Every client is on 127.0.0.1: ctftpd's per-address limits
# (--max-per-client, --rate-limit) are lifted.
start ctftpd $base "$CTFTPD" -L --host 127.0.0.1 --port $base \
	--max-clients 2000 --max-per-client 0 --rate-limit 0 --create "$root"
# The same with every transfer answering from the listening port.
[ "$single_port" = 0 ] ||
	start ctftpd-sp $((base + 3)) "$CTFTPD" -L --host 127.0.0.1 \
		--port $((base + 3)) --single-port --max-clients 2000 \
		--max-per-client 0 --rate-limit 0 --create "$root"
if command -v in.tftpd >/dev/null; then
	start tftpd-hpa $((base + 1)) in.tftpd -L -a "127.0.0.1:$((base + 1))" \
		-c -s "$root"
else
	SKIPPED="$SKIPPED tftpd-hpa(not installed)"
fi
atftpd=$(find_atftpd)
if [ -n "$atftpd" ] && [ -x "$atftpd" ]; then
	start atftpd $((base + 2)) "$atftpd" --daemon --no-fork \
		--port $((base + 2)) --bind-address 127.0.0.1 --maxthread 2000 \
		--logfile /dev/null "$root"
else
	SKIPPED="$SKIPPED atftpd(not found)"
fi
if [ -n "$ns" ] && command -v dnsmasq >/dev/null; then
	start dnsmasq 69 dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--port=0 --enable-tftp --tftp-root="$root" --tftp-max=2000 \
		--listen-address=127.0.0.1 --bind-interfaces \
		--log-facility=/dev/null --pid-file=
else
	SKIPPED="$SKIPPED dnsmasq(needs root, ip netns, dnsmasq)"
fi
[ -n "${PORT[ctftpd]:-}" ] || die "ctftpd did not start"
declare -A RSS_IDLE RSS_PEAK RSS_ANON
rss() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null; }
for s in "${SERVERS[@]}"; do RSS_IDLE[$s]=$(rss "${PID[$s]}" VmRSS); done

# --- The scenarios. ---
# name|label|label in the plot|unit|better|file|client options|limit|ceilings
# ceilings: KEY=ARGS;... further limits runs, each with what a server of
# some kind must also do (CEILING_LABEL): limit-KEY in results.tsv.
declare -A CEILING_LABEL=(
	[file]="bare UDP, the payloads from the served file, mapped anew for each transfer (limits udp ... FILE)"
	[procs]="bare UDP, one sending process per transfer, as a fork-per-transfer server has (limits many ... procs)"
	[one]="bare UDP, one sending process polling every transfer, as an event-loop server has (limits many ... one)"
)
SCENARIOS=(
	"seq1k|sequential 1 KiB RRQs|1 KiB RRQs|req/s|high|small1k|-n $SEQ_N|fork $FORK_N|"
	"lock512|lockstep, blksize 512|lockstep 512|MB/s|high|big|-b 512 -n $N512|udp 512 1 $((BIG * N512))|"
	"lock1468|lockstep, blksize 1468|lockstep 1468|MB/s|high|big|-b 1468 -n $N1468|udp 1468 1 $((BIG * N1468))|"
	"lock65464|lockstep, blksize 65464|lockstep 65464|MB/s|high|huge|-b 65464 -n $N65464|udp 65464 1 $((HUGE * N65464))|file=udp 65464 1 $((HUGE * N65464)) $root/huge"
	"win1468|windowsize 16, blksize 1468|window 16 x 1468|MB/s|high|big|-b 1468 -w 16 -n $NWIN1468|udp 1468 16 $((BIG * NWIN1468))|file=udp 1468 16 $((BIG * NWIN1468)) $root/big"
	"win65464|windowsize 16, blksize 65464|window 16 x 65464|MB/s|high|huge|-b 65464 -w 16 -n $NWIN65464|udp 65464 16 $((HUGE * NWIN65464))|file=udp 65464 16 $((HUGE * NWIN65464)) $root/huge"
	"wrq1468|WRQ (upload), lockstep, blksize 1468|WRQ 1468|MB/s|high|big|-o wrq -b 1468|udp 1468 1 $BIG|"
	"wrqwin1468|WRQ (upload), windowsize 16, blksize 1468|WRQ window 16 x 1468|MB/s|high|big|-o wrq -b 1468 -w 16|udp 1468 16 $BIG|"
	"conc|$CONC clients x $((TEN / KiB)) KiB at 1468, aggregate|$CONC clients x 1468|MB/s|high|ten|-b 1468 -c $CONC -j 2 -G 30000||procs=many $CONC 1468 $TEN procs;one=many $CONC 1468 $TEN one"
	"many|$MANY concurrent transfers of $((QUARTER / KiB)) KiB (all done)|$MANY transfers|s|low|quarter|-b 1468 -c $MANY -j 2 -G 30000||"
)
# ceilings SPEC: SPEC's ceilings, one KEY=ARGS a line.
ceilings() {
	local extra
	IFS='|' read -r _ _ _ _ _ _ _ _ extra <<<"$1"
	[ -z "$extra" ] || tr ';' '\n' <<<"$extra"
}
# ceiling SPEC KEY: the limits arguments of ceiling KEY in SPEC.
ceiling() {
	ceilings "$1" | sed -n "s/^$2=//p"
}
field() { # KEY LINE: the value of KEY=... in a key=value line
	sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$2"
}
results=$out/results.tsv
printf 'scenario\twho\tround\tvalue\tcpu_usec\tbytes\ttransfers\tok\tfailed\tresends\tdups\tneg_windowsize\tseconds\tneg_blksize\n' >"$results"
: >"$out/clients.log"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
t_start=$SECONDS

# one SCENARIO-SPEC WHO ROUND: one measurement, one line of results.tsv.
one() {
	local spec=$1 who=$2 r=$3 name file opts lim line value u0 u1 cpu=
	IFS='|' read -r name _ _ _ _ file opts lim _ <<<"$spec"
	case $who in
	limit*)
		local prog=$LIMITS args=$lim
		# The floor of fork-per-transfer (xfer): the same 1 KiB RRQs,
		# from a static program and from a dynamically linked one (as
		# a distribution ships a daemon).
		case $who in
		limit) ;;
		limit-dynamic) prog=$LIMITS_DYN ;;
		limit-xfer) args="forkxfer $FORK_N 1024" ;;
		limit-xferdyn) prog=$LIMITS_DYN args="forkxfer $FORK_N 1024" ;;
		*) args=$(ceiling "$spec" "${who#limit-}") ;;
		esac
		u0=$(cpu_usec limits)
		# shellcheck disable=SC2086 # args is a word list
		line=$(launch limits "${NS[@]}" "$prog" $args 2>>"$out/clients.log")
		u1=$(cpu_usec limits)
		# Where the limit tells its server's CPU apart from its
		# client's, that CPU (us).
		if [ -n "$(field server_cpu_us_per "$line")" ]; then
			u0=0 u1=$(awk -v a="$(field server_cpu_us_per "$line")" \
				-v n="$(field n "$line")" 'BEGIN { printf "%.0f", a * n }')
		elif [ -n "$(field server_cpu_s "$line")" ]; then
			u0=0 u1=$(awk -v a="$(field server_cpu_s "$line")" \
				'BEGIN { printf "%.0f", a * 1e6 }')
		fi
		;;
	*)
		local remote=$file check=()
		if [[ "$opts" == *"-o wrq"* ]]; then
			remote=up/$who.bin
			check=(-U "$root/$remote")
		fi
		u0=$(cpu_usec "$who")
		# shellcheck disable=SC2086 # opts is a word list
		line=$(in_ns "$BENCH" -l "$name/$who/$r" $opts -V "$root/$file" \
			"${check[@]}" 127.0.0.1 "${PORT[$who]}" "$remote" \
			2>>"$out/clients.log")
		quiet "$who" "${PID[$who]}"
		u1=$(cpu_usec "$who")
		;;
	esac
	echo "$who round $r: ${line:-no output}" >>"$out/clients.log"
	[ -n "$u0" ] && [ -n "$u1" ] && cpu=$((u1 - u0))
	case $who in
	limit*) value=$(field rate "$line")$(field MBps "$line") ;;
	*) if [ "$name" = many ]; then value=$(field seconds "$line"); else
		value=$(field "$([ "$name" = seq1k ] && echo rps || echo MBps)" "$line"); fi ;;
	esac
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$who" \
		"$r" "${value:--}" "${cpu:--}" "$(field bytes "$line")" \
		"$(field transfers "$line")$(field n "$line")" "$(field ok "$line")" \
		"$(field failed "$line")" "$(field resends "$line")$(field lost "$line")" \
		"$(field dups "$line")" "$(field neg_windowsize "$line")" \
		"$(field seconds "$line")" "$(field neg_blksize "$line")" >>"$results"
}

for spec in "${SCENARIOS[@]}"; do
	IFS='|' read -r name label _ _ _ _ _ lim _ <<<"$spec"
	who=("${SERVERS[@]}")
	# dnsmasq serves reads only.
	[[ "$name" == wrq* ]] && mapfile -t who < <(printf '%s\n' "${who[@]}" | grep -vx dnsmasq)
	[ -n "$lim" ] && who+=(limit)
	[ "$name" = seq1k ] && who+=(limit-dynamic limit-xfer limit-xferdyn)
	for key in $(ceilings "$spec" | cut -d= -f1); do who+=("limit-$key"); done
	echo "run.sh: $label: ${who[*]} x $rounds rounds" >&2
	for r in $(seq "$rounds"); do
		# Round r starts r-1 places further along: A B C, B C A, ...
		for i in $(seq 0 $((${#who[@]} - 1))); do
			one "$spec" "${who[$(((i + r - 1) % ${#who[@]}))]}" "$r"
		done
	done
done
for s in "${SERVERS[@]}"; do
	RSS_PEAK[$s]=$(rss "${PID[$s]}" VmHWM)
	# The parent's own memory, not the pages of its program and libraries
	# that every process running them shares.
	RSS_ANON[$s]=$(rss "${PID[$s]}" RssAnon)
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)

# --- The report. ---
cols=("${SERVERS[@]}")
peers=$(printf '%s\n' "${SERVERS[@]}" | grep -vx -e ctftpd -e ctftpd-sp | tr '\n' ' ')
rss_line() { # IDLE|PEAK|ANON
	local s
	for s in "${cols[@]}"; do
		case $1 in
		IDLE) printf '%s=%s ' "$s" "${RSS_IDLE[$s]:-}" ;;
		PEAK) printf '%s=%s ' "$s" "${RSS_PEAK[$s]:-}" ;;
		ANON) printf '%s=%s ' "$s" "${RSS_ANON[$s]:-}" ;;
		esac
	done
}
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
{
	echo "# ctftpd benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
	echo
	echo "- machine: $(uname -srm), ${cpu_model:-unknown CPU}, $(getconf _NPROCESSORS_ONLN) CPUs," \
		"$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
	echo "- load average (1, 5, 15 min) at start: $load_start; at end: $load_end"
	[ -n "$note" ] && echo "- note: $note"
	echo "- $( [ "$smoke" = 1 ] && echo "SMOKE run (tiny sizes: not a measurement), " )$rounds interleaved round(s);" \
		"$( [ -n "$ns" ] && echo "private network namespace" || echo "host loopback" );" \
		"server CPU from $( [ -n "$cg" ] && echo "cgroup v2 cpu.stat" || echo "nowhere (no writable cgroup v2: n/a)" );" \
		"$((SECONDS - t_start)) s of measuring"
	echo "- servers: ctftpd $("$CTFTPD" --version 2>&1 | head -1 | awk '{print $NF}')$(for s in "${SERVERS[@]}"; do case $s in
			tftpd-hpa) printf ', tftpd-hpa %s' "$(in.tftpd -V 2>&1 | awk 'NR == 1 {sub(",", "", $2); print $2}')" ;;
			atftpd) printf ', atftpd %s' "$("$atftpd" -V 2>&1 | sed -n '1s/atftp-\([^ ]*\).*/\1/p')" ;;
			dnsmasq) printf ', dnsmasq %s' "$(dnsmasq -v | awk 'NR == 1 {print $3}')" ;;
			esac; done)${SKIPPED:+; not run:$SKIPPED}"
	echo "- limits: fork+_exit+waitpid of a minimal $("$LIMITS" fork 1 | sed 's/.*linkage=\([a-z]*\).*/\1/') program" \
		"(and of a dynamic one); the same with a 1 KiB lockstep transfer in the child (limits forkxfer);" \
		"a bare UDP exchange of the same shape between two processes" \
		"(limits udp); socket buffer maximum (net.core.wmem_max / rmem_max):" \
		"$(cat /proc/sys/net/core/wmem_max 2>/dev/null) / $(cat /proc/sys/net/core/rmem_max 2>/dev/null) bytes"
	echo
	awk -F'\t' -v cols="${cols[*]}" -v peers="$peers" \
		-v rss_idle="$(rss_line IDLE)" -v rss_peak="$(rss_line PEAK)" \
		-v rss_anon="$(rss_line ANON)" \
		-v specs="$(printf '%s\n' "${SCENARIOS[@]}")" \
		-v ceiling_labels="$(for k in "${!CEILING_LABEL[@]}"; do printf '%s=%s\n' "$k" "${CEILING_LABEL[$k]}"; done)" \
		-v plotdir="$work" -f /dev/stdin "$results" <<'AWK'
function median(list,   n, a, i, j, t) {
	n = split(list, a, " ")
	if (n == 0) return ""
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) {
			t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
		}
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function fmt(v) {
	if (v == "") return "-"
	if (v >= 100) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	if (v >= 1) return sprintf("%.2f", v)
	return sprintf("%.3f", v)
}
function ratio(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.2f", a / b) }
NR == 1 { next }
{
	k = $1 SUBSEP $2
	if ($3 > NROUNDS) NROUNDS = $3
	if ($4 != "-" && $4 != "") { V[k] = V[k] " " $4; VR[k, $3] = $4 }
	FAILED[k] += $9; TRANSFERS[k] += $7; OK[k] += $8
	if ($10 != "") RESENDS[k] = RESENDS[k] " " $10
	if ($12 != "" && (!(k in NEGW) || $12 < NEGW[k])) NEGW[k] = $12
	if ($14 != "" && (!(k in NEGB) || $14 < NEGB[k])) NEGB[k] = $14
	if ($5 != "-" && $5 != "") {
		c = ""
		if ($1 == "seq1k" && $8 > 0) c = $5 / $8 / 1000
		if ($1 == "seq1k" && ($2 == "limit" || $2 ~ /^limit-xfer/)) c = $5 / $7 / 1000
		if (c != "") { CPUREQ[k] = CPUREQ[k] " " c; CR[k, $3] = c }
		if ($6 > 0 && $1 != "seq1k") {
			c = $5 / 1e6 / ($6 / 1073741824)
			CPUGIB[k] = CPUGIB[k] " " c; CR[k, $3] = c
		}
	}
}
END {
	nc = split(cols, C, " ")
	np = split(peers, P, " ")
	ns = split(specs, S, "\n")
	head = "| scenario | unit |"
	rule = "|---|---|"
	for (c = 1; c <= nc; c++) { head = head " " C[c] " |"; rule = rule "---|" }
	print "## Speed (median of the rounds; higher is better, except seconds)"
	print ""
	print head " limit | ctftpd / limit | ctftpd / best peer | ctftpd min-max |"
	print rule "---|---|---|---|"
	for (s = 1; s <= ns; s++) {
		split(S[s], F, "|")
		name = F[1]; better = F[5]
		asked = match(F[7], /-b [0-9]+/) ? substr(F[7], RSTART + 3, RLENGTH - 3) + 0 : 0
		line = "| " F[2] " | " F[4] " |"
		for (c = 1; c <= nc; c++) {
			k = name SUBSEP C[c]
			m = median(V[k]); M[name, C[c]] = m
			cell = fmt(m)
			if (asked && (k in NEGB) && NEGB[k] < asked) cell = cell " (b=" NEGB[k] ")"
			if (F[7] ~ /-w 16/ && NEGW[k] == 1) cell = cell " (w=1)"
			if (FAILED[k] > 0) cell = cell " (" FAILED[k] " failed)"
			else if (name == "many") cell = cell " (" OK[k] "/" TRANSFERS[k] " ok)"
			r = median(RESENDS[k])
			if (r > 0) cell = cell " (" r " resends)"
			line = line " " cell " |"
		}
		bestp = ""
		for (p = 1; p <= np; p++) {
			m = M[name, P[p]]
			if (m == "") continue
			if (bestp == "" || (better == "high" ? m > M[name, bestp] : m < M[name, bestp])) bestp = P[p]
		}
		lim = median(V[name SUBSEP "limit"]); M[name, "limit"] = lim
		lr = better == "high" ? rratio(VR, name, "ctftpd", "limit") : "-"
		pr = bestp == "" ? "-" : better == "high" ? rratio(VR, name, "ctftpd", bestp) \
			: rratio(VR, name, bestp, "ctftpd")
		print line " " fmt(lim) " | " lr " | " pr " | " spread(V[name SUBSEP "ctftpd"]) " |"
	}
	dyn = median(V["seq1k" SUBSEP "limit-dynamic"])
	xfer = median(V["seq1k" SUBSEP "limit-xfer"])
	print ""
	print "Floor of fork-per-transfer for the 1 KiB RRQs (limits forkxfer: a minimal static server" \
		" that forks a child per request, which sends the same three DATA from a socket of its own," \
		" waits for each ACK and exits; its client in the same program): " fmt(xfer) " req/s;" \
		" ctftpd / floor " rratio(VR, "seq1k", "ctftpd", "limit-xfer") "." \
		" Its server CPU per request (parent and children, from its rusage): " \
		fmt(median(CPUREQ["seq1k" SUBSEP "limit-xfer"])) " ms; ctftpd / floor " \
		rratio(CR, "seq1k", "ctftpd", "limit-xfer") \
		"; the floor / a bare fork+_exit+waitpid " rratio(CR, "seq1k", "limit-xfer", "limit") "." \
		" The same floor dynamically linked (as distributions ship daemons): " \
		fmt(median(V["seq1k" SUBSEP "limit-xferdyn"])) " req/s, ctftpd / it " \
		rratio(VR, "seq1k", "ctftpd", "limit-xferdyn") "; its server CPU per request " \
		fmt(median(CPUREQ["seq1k" SUBSEP "limit-xferdyn"])) " ms, ctftpd / it " \
		rratio(CR, "seq1k", "ctftpd", "limit-xferdyn") ", it / a bare fork+_exit+waitpid " \
		rratio(CR, "seq1k", "limit-xferdyn", "limit") "."
	# The ceilings with what a server must also do (file pages, one
	# process per transfer).
	nl = split(ceiling_labels, L, "\n")
	for (i = 1; i <= nl; i++) { e = index(L[i], "="); CL[substr(L[i], 1, e - 1)] = substr(L[i], e + 1) }
	first = 1
	for (s = 1; s <= ns; s++) {
		split(S[s], F, "|")
		if (F[9] == "") continue
		nk = split(F[9], K, ";")
		for (k = 1; k <= nk; k++) {
			key = substr(K[k], 1, index(K[k], "=") - 1)
			who = "limit-" key
			if (first) {
				print ""
				print "Ceilings with what a server must also do (same run, medians; ctftpd / ceiling and" \
					" best peer / ceiling are medians of per-round ratios):"
				print ""
				print "| scenario | ceiling | MB/s | ctftpd / ceiling | best peer / ceiling | the ceiling's sender CPU per GiB (s) |"
				print "|---|---|---|---|---|---|"
				first = 0
			}
			bestp = ""
			for (p = 1; p <= np; p++) {
				m = median(V[F[1] SUBSEP P[p]])
				if (m != "" && (bestp == "" || m > median(V[F[1] SUBSEP bestp]))) bestp = P[p]
			}
			print "| " F[2] " | " CL[key] " | " fmt(median(V[F[1] SUBSEP who])) " | " \
				rratio(VR, F[1], "ctftpd", who) " | " \
				(bestp == "" ? "-" : bestp " " rratio(VR, F[1], bestp, who)) " | " \
				(key == "file" ? "-" : fmt(median(CPUGIB[F[1] SUBSEP who]))) " |"
		}
	}
	print ""
	print "Ratios are medians of per-round ratios (the two ran side by side in each round);" \
		" the best peer is the one with the best median." \
		" limit: for the 1 KiB RRQs, fork+_exit+waitpid per second of the minimal program (a dynamic one: " fmt(dyn) "/s);" \
		" for transfers, the bare UDP exchange of the same blksize and windowsize." \
		" (w=1): the server does not do windowsize, the transfer ran in lockstep;" \
		" (b=N): the server granted a smaller blksize; resends: the client's, median per round." \
		" For the concurrent transfers, ctftpd / best peer is the peer's time over ctftpd's."
	print ""
	print "## Server cost (median of the rounds; lower is better)"
	print ""
	head = "| cost |"; rule = "|---|"
	for (c = 1; c <= nc; c++) { head = head " " C[c] " |"; rule = rule "---|" }
	print head " limit | ctftpd / limit | ctftpd / best peer |"
	print rule "---|---|---|"
	costrow("server CPU per 1 KiB RRQ (ms)", CPUREQ, "seq1k", 1)
	for (s = 1; s <= ns; s++) {
		split(S[s], F, "|")
		if (F[1] == "seq1k") continue
		costrow("server CPU per GiB (s), " F[2], CPUGIB, F[1], 0)
	}
	rssrow("server parent RSS at start (KiB)", rss_idle)
	rssrow("server parent RSS, peak (KiB)", rss_peak)
	rssrow("server parent private memory (RssAnon) at the end (KiB)", rss_anon)
	print ""
	print "CPU: the server and all its processes (children and threads), from its cgroup;" \
		" the limit is a bare fork+_exit+waitpid (parent and child). Peak RSS: VmHWM after every scenario;" \
		" RSS counts the program's and the C library's pages, which every process running them shares;" \
		" RssAnon is the parent's own memory."
	# Data for the plot: one file per panel.
	f = plotdir "/seq.dat"
	for (c = 1; c <= nc; c++) print "\"" C[c] "\" " (M["seq1k", C[c]] == "" ? "-" : M["seq1k", C[c]]) > f
	print "\"fork (minimal)\" " (M["seq1k", "limit"] == "" ? "-" : M["seq1k", "limit"]) > f
	print "\"fork (dynamic)\" " (dyn == "" ? "-" : dyn) > f
	print "\"fork + transfer (minimal)\" " (xfer == "" ? "-" : xfer) > f
	xferdyn = median(V["seq1k" SUBSEP "limit-xferdyn"])
	print "\"fork + transfer (dynamic)\" " (xferdyn == "" ? "-" : xferdyn) > f
	f = plotdir "/bulk.dat"
	h = "scenario"
	for (c = 1; c <= nc; c++) h = h " \"" C[c] "\""
	print h " \"bare UDP\"" > f
	for (s = 1; s <= ns; s++) {
		split(S[s], F, "|")
		if (F[4] != "MB/s") continue
		l = "\"" F[3] "\""
		for (c = 1; c <= nc; c++) l = l " " (M[F[1], C[c]] == "" ? "-" : M[F[1], C[c]])
		print l " " (M[F[1], "limit"] == "" ? "-" : M[F[1], "limit"]) > f
	}
}
function costrow(label, A, name, withlimit,   line, c, m, bestp, p, lim) {
	line = "| " label " |"
	bestp = ""
	for (c = 1; c <= nc; c++) {
		m = median(A[name SUBSEP C[c]]); CM[C[c]] = m
		line = line " " fmt(m) " |"
	}
	for (p = 1; p <= np; p++)
		if (CM[P[p]] != "" && (bestp == "" || CM[P[p]] < CM[bestp])) bestp = P[p]
	lim = withlimit ? median(A[name SUBSEP "limit"]) : ""
	print line " " fmt(lim) " | " (withlimit ? rratio(CR, name, "ctftpd", "limit") : "-") \
		" | " (bestp == "" ? "-" : rratio(CR, name, "ctftpd", bestp)) " |"
}
# rratio(R, name, a, b): the median over the rounds of R[a] / R[b].
function rratio(R, name, a, b,   r, list, x, y) {
	list = ""
	for (r = 1; r <= NROUNDS; r++) {
		x = R[name SUBSEP a, r]; y = R[name SUBSEP b, r]
		if (x != "" && y != "" && y > 0) list = list " " x / y
	}
	return list == "" ? "-" : sprintf("%.2f", median(list))
}
function spread(list,   n, a, i, lo, hi) {
	n = split(list, a, " ")
	if (n == 0) return "-"
	lo = hi = a[1] + 0
	for (i = 2; i <= n; i++) { if (a[i] + 0 < lo) lo = a[i] + 0; if (a[i] + 0 > hi) hi = a[i] + 0 }
	return fmt(lo) "-" fmt(hi)
}
function rssrow(label, list,   line, n, a, c, kv, R, best, p) {
	n = split(list, a, " ")
	for (c = 1; c <= n; c++) { split(a[c], kv, "="); R[kv[1]] = kv[2] }
	line = "| " label " |"
	for (c = 1; c <= nc; c++) line = line " " (R[C[c]] == "" ? "-" : R[C[c]]) " |"
	best = ""
	for (p = 1; p <= np; p++)
		if (R[P[p]] != "" && (best == "" || R[P[p]] + 0 < best + 0)) best = R[P[p]]
	print line " - | - | " ratio(R["ctftpd"], best) " |"
}
AWK
} >"$out/bench.md"

# --- The plot. ---
if command -v gnuplot >/dev/null; then
	when=$(date -u '+%Y-%m-%d')
	mach="$(uname -sr), $(getconf _NPROCESSORS_ONLN) CPUs"
	term="pngcairo size 1400,560 font ',9'"
	gnuplot -e 'set terminal pngcairo' </dev/null >/dev/null 2>&1 || term="png size 1400,560"
	gnuplot <<EOF 2>"$work/gnuplot.err" || { echo "run.sh: gnuplot failed:" >&2; cat "$work/gnuplot.err" >&2; }
set terminal $term
set output "$out/bench.png"
set datafile missing "-"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set grid ytics
set key top left
set multiplot layout 1,2 title "ctftpd and its peers on the loopback: medians of $rounds interleaved round(s), $when, $mach"
set title "sequential 1 KiB RRQs"
set ylabel "requests per second"
set xtics rotate by -25
plot "$work/seq.dat" using 2:xtic(1) notitle lc rgb "#4477aa"
set title "transfers (log scale)"
set ylabel "MB/s"
set logscale y
set key top left
plot for [i=2:$((${#cols[@]} + 2))] "$work/bulk.dat" using i:xtic(1) title columnheader(i)
unset multiplot
EOF
else
	echo "(no plot: gnuplot is not installed)" >>"$out/bench.md"
fi
[ -f "$out/bench.png" ] && printf '\n![ctftpd and its peers](bench.png)\n' >>"$out/bench.md"
mkdir -p "$out/logs"
for s in "${SERVERS[@]}"; do tail -200 "$work/$s.log" >"$out/logs/$s.log" 2>/dev/null; done
cat "$out/bench.md"
