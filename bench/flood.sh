#!/usr/bin/env bash
# A login flood (200 concurrent logins for 10 s) while signed-in users load
# /profile. Targets: /profile p99 <= 50 ms, server RSS <= 300 MiB.
#
#   bench/flood.sh [seconds] [flood connections]
source "$(dirname "$0")/common.sh"
secs=${1:-10}
flood=${2:-200}

start_connectbook
cookie=$(sign_in benchuser "bench password 1")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }

rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$CB_PID/status"; }
peak=0
sample() {
	while kill -0 "$CB_PID" 2>/dev/null; do
		r=$(rss_kib || echo 0)
		[ "${r:-0}" -gt "$peak" ] && peak=$r && echo "$peak" >"$work/peak"
		sleep 0.2
	done
}
echo 0 >"$work/peak"
sample &
pids+=($!)

echo "== /profile alone, ${secs}s, 4 connections"
wrk -t1 -c4 -d"${secs}s" --latency -H "Cookie: $cookie" "$CB_URL/profile" | tee "$work/quiet.txt"
echo "RSS before the flood: $(rss_kib) KiB"

echo "== login flood: $flood connections for ${secs}s, while /profile is measured"
wrk -t1 -c"$flood" -d"${secs}s" -s bench/login.lua "$CB_URL/login" >"$work/flood.txt" &
floodpid=$!
sleep 0.5
wrk -t1 -c4 -d"$((secs - 1))s" --latency -H "Cookie: $cookie" "$CB_URL/profile" | tee "$work/busy.txt"
wait "$floodpid"
cat "$work/flood.txt"

p99() { awk '$1 == "99%" { print $2 }' "$1"; }
echo
echo "/profile p99 alone: $(p99 "$work/quiet.txt"); during the flood: $(p99 "$work/busy.txt") (target <= 50ms)"
echo "server peak RSS: $(( $(cat "$work/peak") / 1024 )) MiB (target <= 300 MiB)"
