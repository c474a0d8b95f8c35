#!/usr/bin/env bash
# Benchmark of the shared cache: two ctftpd listeners side by side in one
# run, one with the cache (default 64M) and one with --cache-size 0, serving
# the same hot set (FILES files of SIZE bytes) to ROUNDS interleaved rounds
# of sequential curl fetches at blksize 1468.  Reports, per server, the
# transfers per second and the server's CPU time (listener and its reaped
# children: utime + stime + cutime + cstime) per GiB served.  Not a test.
# Usage: tests/bench/cache.sh [CTFTPD]   (env: FILES, SIZE, ROUNDS)
set -u
CTFTPD=${1:-$(cd "$(dirname "$0")/../.." && pwd)/src/ctftpd}
FILES=${FILES:-16}
SIZE=${SIZE:-1048576}
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
chmod 755 "$work" # ctftpd started as root runs as tftp or nobody
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
mkdir -p "$work/root"
chmod 755 "$work/root"
for i in $(seq "$FILES"); do head -c "$SIZE" /dev/urandom >"$work/root/f$i"; done
chmod 644 "$work/root"/*
# Let the files age past --cache-min-age so the first round fills.
sleep 2.2
hz=$(getconf CLK_TCK)
port=$((30000 + RANDOM % 20000))
# One client address fetching file after file: no per-address limits.
"$CTFTPD" -L -v0 --host 127.0.0.1 --port $port --max-per-client 0 --rate-limit 0 \
	"$work/root" 2>/dev/null &
on=$!
"$CTFTPD" -L -v0 --host 127.0.0.1 --port $((port + 1)) --cache-size 0 \
	--max-per-client 0 --rate-limit 0 "$work/root" 2>/dev/null &
off=$!
for p in $port $((port + 1)); do
	for _ in $(seq 100); do
		curl -s -o /dev/null "tftp://127.0.0.1:$p/f1" && break
		sleep 0.05
	done
done
cpu() { # ticks used by a listener and its reaped children
	awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"
}
declare -A WALL TICKS
WALL[on]=0 WALL[off]=0 TICKS[on]=0 TICKS[off]=0
for r in $(seq "$ROUNDS"); do
	for mode in on off; do
		pid=${!mode}
		p=$([ $mode = on ] && echo $port || echo $((port + 1)))
		c0=$(cpu "$pid")
		t0=$(date +%s.%N)
		for i in $(seq "$FILES"); do
			curl -s --tftp-blksize 1468 -o "$work/out" "tftp://127.0.0.1:$p/f$i"
			cmp -s "$work/out" "$work/root/f$i" || echo "BAD f$i ($mode)" >&2
		done
		t1=$(date +%s.%N)
		c1=$(cpu "$pid")
		WALL[$mode]=$(echo "${WALL[$mode]} + $t1 - $t0" | bc)
		TICKS[$mode]=$((TICKS[$mode] + c1 - c0))
	done
done
n=$((FILES * ROUNDS))
gib=$(echo "scale=6; $n * $SIZE / 1073741824" | bc)
printf '%-10s %14s %18s\n' cache "transfers/s" "server CPU s/GiB"
for mode in on off; do
	printf '%-10s %14.1f %18.3f\n' "$mode" "$(echo "$n / ${WALL[$mode]}" | bc -l)" \
		"$(echo "${TICKS[$mode]} / $hz / $gib" | bc -l)"
done
kill -USR1 "$on"
