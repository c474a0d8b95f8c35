#!/usr/bin/env bash
# Reflection: bytes back per byte in toward a source that sends one RRQ and
# never answers (as a spoofed address does), ctftpd beside tftpd-hpa in one
# run.  Not a test: it prints a table for the README and closing notes.
# Usage: tests/bench/amplification.sh [CTFTPD] [PROBE]
# Servers listen on 127.0.0.1 only; each request is sent once.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
CTFTPD=${1:-$top/src/ctftpd}
PROBE=${2:-$top/tests/probe}
QUIET_MS=${QUIET_MS:-15000}   # silence that ends a count
CAP_MS=${CAP_MS:-120000}      # longest count
work=$(mktemp -d)
chmod 755 "$work" # ctftpd started as root runs as tftp or nobody
trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"
chmod 755 "$root"
head -c 1000000 /dev/urandom >"$root/boot.img"
chmod 644 "$root/boot.img"

port=$((30000 + RANDOM % 20000))
"$CTFTPD" -L --host 127.0.0.1 --port "$port" "$root" 2>"$work/ctftpd.log" &
servers="ctftpd:$port"
if command -v in.tftpd >/dev/null; then
	in.tftpd -L -a "127.0.0.1:$((port + 1))" -s "$root" 2>"$work/hpa.log" &
	servers="$servers tftpd-hpa:$((port + 1))"
fi
sleep 1

cases=("no options|" "blksize 1468, tsize|blksize 1468 tsize 0"
	"blksize 65464, windowsize 16|blksize 65464 windowsize 16")
printf '| request | %s |\n' "$(for s in $servers; do printf '%s | ' "${s%%:*}"; done | sed 's/ | $//')"
printf '|---|%s\n' "$(for _ in $servers; do printf -- '---|'; done)"
for c in "${cases[@]}"; do
	label=${c%%|*}
	read -r -a opts <<<"${c#*|}"
	line="| $label |"
	pids=
	for s in $servers; do
		# The counts run at once, so the wait is one server's longest.
		"$PROBE" 127.0.0.1 "${s#*:}" amplify boot.img "$QUIET_MS" "$CAP_MS" "${opts[@]}" \
			>"$work/${s%%:*}.out" 2>&1 &
		pids="$pids $!"
	done
	wait $pids
	for s in $servers; do
		r=$(sed -n 's/.*request \([0-9]*\) bytes; \([0-9]*\) packets, \([0-9]*\) bytes back; ratio \([0-9.]*\).*/\2 pkts, \3 B: x\4/p' \
			"$work/${s%%:*}.out")
		line="$line ${r:-$(cat "$work/${s%%:*}.out")} |"
	done
	echo "$line"
done
echo "($(date -u +%Y-%m-%d), $(uname -sr), one RRQ each, counted until ${QUIET_MS} ms of quiet)"
