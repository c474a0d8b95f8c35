#!/usr/bin/env bash
# Downloads under random loss of all UDP packets (both directions), in a
# network namespace made here (nftables, input hook), ctftpd beside
# tftpd-hpa in one run.  Not a test: it prints median times for the closing
# notes.  Needs root.  Usage: tests/bench/loss.sh [LOSS%...]
# Env: SIZE (bytes, default 10 MiB), ROUNDS (default 3), LIMIT (s per fetch),
# ONLY (an extended regex: run only the rows whose label matches).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
CTFTPD=${CTFTPD:-$top/src/ctftpd}
PROBE=${PROBE:-$top/tests/probe}
SIZE=${SIZE:-10485760}
ROUNDS=${ROUNDS:-3}
LIMIT=${LIMIT:-300}
[ $# -gt 0 ] || set -- 10 30
[ "$(id -u)" -eq 0 ] || { echo "needs root" >&2; exit 2; }
ns=ctftpd-bench-$$
work=$(mktemp -d)
chmod 755 "$work" # ctftpd started as root runs as tftp or nobody
trap 'ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL; ip netns del "$ns" 2>/dev/null; rm -rf "$work"' EXIT
ip netns add "$ns" && ip -n "$ns" link set lo up || exit 1
# A command in the namespace, as a program (timeout runs programs only).
in_ns=$work/in-ns
printf '#!/bin/sh\nexec ip netns exec %s "$@"\n' "$ns" >"$in_ns"
chmod +x "$in_ns"
in_ns() { "$in_ns" "$@"; }
root=$work/root
mkdir -p "$root" && chmod 755 "$root"
head -c "$SIZE" /dev/urandom >"$root/f.bin" && chmod 644 "$root/f.bin"
port=$((30000 + RANDOM % 20000))
in_ns "$CTFTPD" -L -v0 --host 127.0.0.1 --port "$port" "$root" 2>"$work/ctftpd.log" &
command -v in.tftpd >/dev/null &&
	in_ns in.tftpd -L -a "127.0.0.1:$((port + 1))" -s "$root" 2>/dev/null &
sleep 1

now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# run_fetch: time one fetch into $work/out; prints seconds, or "fail".
run_fetch() {
	local t0 t1
	rm -f "$work/out"
	t0=$(now)
	(cd "$work" && timeout "$LIMIT" "$@") >/dev/null 2>&1
	t1=$(now)
	if cmp -s "$work/out" "$root/f.bin"; then echo "$t1 - $t0" | bc; else echo fail; fi
}
# measure LABEL CMD...: the median of ROUNDS runs, and how many failed.
measure() {
	local label=$1 results
	shift
	[[ -z "${ONLY:-}" || "$label" =~ $ONLY ]] || return 0
	results=$(for _ in $(seq "$ROUNDS"); do run_fetch "$@"; done)
	printf '| %s | %s | %s/%s |\n' "$label" \
		"$(grep -v fail <<<"$results" | median)" \
		"$(grep -vc fail <<<"$results")" "$ROUNDS"
}

for loss in "$@"; do
	in_ns nft flush ruleset
	in_ns nft -f - <<-EOF2
	table inet bench_loss {
		chain input {
			type filter hook input priority 0; policy accept;
			meta l4proto udp numgen random mod 100 < $loss drop
		}
	}
	EOF2
	echo "## $loss% loss of all UDP packets, $SIZE bytes, median of $ROUNDS"
	echo "| server, client | seconds | complete |"
	echo "|---|---|---|"
	for spec in "field client 1 s timer, 1 dup ACK|1000 1" \
		"field client 1 s timer, ACKs every dup|1000 100" \
		"field client 5 s timer, no dup ACK (U-Boot)|5000 0"; do
		read -r timer dups <<<"${spec#*|}"
		measure "ctftpd lockstep, ${spec%%|*}" "$in_ns" "$PROBE" 127.0.0.1 "$port" \
			field f.bin "$work/out" "$timer" "$dups" 0
		measure "ctftpd windowsize 16, ${spec%%|*}" "$in_ns" "$PROBE" 127.0.0.1 "$port" \
			field f.bin "$work/out" "$timer" "$dups" 0 blksize 1468 windowsize 16
		command -v in.tftpd >/dev/null &&
			measure "tftpd-hpa lockstep, ${spec%%|*}" "$in_ns" "$PROBE" 127.0.0.1 \
				$((port + 1)) field f.bin "$work/out" "$timer" "$dups" 0
	done
	if command -v tftp >/dev/null; then
		measure "ctftpd, tftp-hpa client" "$in_ns" tftp -m binary 127.0.0.1 "$port" -c get f.bin out
		command -v in.tftpd >/dev/null &&
			measure "tftpd-hpa, tftp-hpa client" "$in_ns" tftp -m binary 127.0.0.1 $((port + 1)) -c get f.bin out
	fi
done
echo "($(date -u +%Y-%m-%d), $(uname -sr), $(nproc) cores)"
