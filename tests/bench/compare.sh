#!/usr/bin/env bash
# Side-by-side benchmark of ctftpd and its peers on loopback, in one run:
# tftpd-hpa (in.tftpd), atftpd and dnsmasq when they are installed.
# Not a test: it prints medians and ratios to ctftpd, for closing notes and
# the README.  Usage: tests/bench/compare.sh [CTFTPD] [ROUNDS]
#   - lockstep: curl fetches a 40 MiB file at blksize 512 and 1468;
#   - windowed: atftp fetches it at blksize 1468, windowsize 16 (servers
#     with RFC 7440 only);
#   - small files: sequential fetches of a 100-byte file (requests/s),
#     against a baseline of fork()+exit()+wait() of a shell-less process.
# Servers listen on 127.0.0.1 only.
set -u
CTFTPD=${1:-$(cd "$(dirname "$0")/../.." && pwd)/src/ctftpd}
ROUNDS=${2:-5}
SMALL=${SMALL:-300}
ATFTPD=${ATFTPD:-$(command -v atftpd || echo /tmp/atftpd-x/usr/sbin/atftpd)}
work=$(mktemp -d)
chmod 755 "$work" # ctftpd started as root runs as tftp or nobody
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"
chmod 755 "$root"
head -c 41943040 /dev/urandom >"$root/big"
head -c 100 /dev/urandom >"$root/small"
chmod 644 "$root"/*

port=$((30000 + RANDOM % 20000))
declare -A PORTS
start() { # name port command...
	local name=$1 p=$2
	shift 2
	"$@" >"$work/$name.log" 2>&1 &
	PORTS[$name]=$p
	for _ in $(seq 100); do
		curl -s --max-time 1 -o /dev/null "tftp://127.0.0.1:$p/small" && return 0
		sleep 0.05
	done
	echo "$name did not start" >&2
	unset "PORTS[$name]"
}

# One client address, many requests: ctftpd's per-address limits lifted.
start ctftpd $port "$CTFTPD" -L -v0 --host 127.0.0.1 --port $port \
	--max-per-client 0 --rate-limit 0 "$root"
command -v in.tftpd >/dev/null &&
	start tftpd-hpa $((port + 1)) in.tftpd -L -a 127.0.0.1:$((port + 1)) -s "$root"
[ -x "$ATFTPD" ] &&
	start atftpd $((port + 2)) "$ATFTPD" --daemon --no-fork --port $((port + 2)) \
		--bind-address 127.0.0.1 --user root --group root --logfile /dev/null "$root"
command -v dnsmasq >/dev/null &&
	start dnsmasq $((port + 3)) dnsmasq --no-daemon --conf-file=/dev/null --port=0 \
		--enable-tftp --tftp-root="$root" --tftp-port=$((port + 3)) \
		--listen-address=127.0.0.1 --bind-interfaces --user=root --log-facility=/dev/null

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# measure NAME CMD...: median wall time of ROUNDS runs, checking the bytes.
measure() {
	local t0 t1
	for _ in $(seq "$ROUNDS"); do
		rm -f "$work/out"
		t0=$(now)
		"$@" >/dev/null 2>&1
		t1=$(now)
		cmp -s "$work/out" "$root/big" || { echo "BAD"; return; }
		echo "$t1 - $t0" | bc
	done | median
}

declare -A RES
for name in ctftpd tftpd-hpa atftpd dnsmasq; do
	p=${PORTS[$name]:-}
	[ -n "$p" ] || continue
	RES[$name,lock512]=$(measure curl -s -o "$work/out" "tftp://127.0.0.1:$p/big")
	RES[$name,lock1468]=$(measure curl -s --tftp-blksize 1468 -o "$work/out" "tftp://127.0.0.1:$p/big")
	case $name in ctftpd | atftpd)
		RES[$name,win16]=$(measure atftp --option "blksize 1468" --option "windowsize 16" \
			-g -r big -l "$work/out" 127.0.0.1 "$p") ;;
	esac
	t0=$(now)
	for _ in $(seq "$SMALL"); do
		curl -s -o /dev/null "tftp://127.0.0.1:$p/small"
	done
	t1=$(now)
	RES[$name,small]=$(echo "$SMALL / ($t1 - $t0)" | bc)
done
# Baseline for small files: the same loop, curl against nothing but a
# process spawn (curl --version), so client cost is subtracted by ratio.
t0=$(now)
for _ in $(seq "$SMALL"); do curl --version >/dev/null; done
t1=$(now)
base=$(echo "$SMALL / ($t1 - $t0)" | bc)

printf '%-10s %12s %12s %12s %12s\n' server "40MiB@512 s" "40MiB@1468 s" "win16 s" "small req/s"
for name in ctftpd tftpd-hpa atftpd dnsmasq; do
	[ -n "${PORTS[$name]:-}" ] || continue
	printf '%-10s %12s %12s %12s %12s\n' "$name" "${RES[$name,lock512]}" \
		"${RES[$name,lock1468]}" "${RES[$name,win16]:--}" "${RES[$name,small]}"
done
echo "client-only loop (curl --version): $base runs/s"
