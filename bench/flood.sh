#!/usr/bin/env bash
# A login flood from one client network (200 concurrent logins for 10 s,
# valid and wrong passwords) while signed-in users load /profile and users
# on another network sign in. Targets: /profile p99 <= 50 ms, every other
# user's sign-in succeeds on the first try with p99 < 1 s, server RSS <=
# 300 MiB. The server runs behind a (pretend) proxy, so that
# X-Forwarded-For gives each client its network.
#
#   bench/flood.sh [seconds] [flood connections]
source "$(dirname "$0")/common.sh"
secs=${1:-10}
flood=${2:-200}

CB_ARGS=--behind-proxy start_connectbook
cookie=$(sign_in benchuser "bench password 1")
legit=30
for i in $(seq 1 "$legit"); do echo "bench password 1" | "$work/connectbook" user add "legit$i" >/dev/null; done
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
wrk -t1 -c4 -d"$((secs - 1))s" --latency -H "Cookie: $cookie" "$CB_URL/profile" >"$work/busy.txt" &
busypid=$!
# Users on another network sign in, one after another, during the flood.
for i in $(seq 1 "$legit"); do
	curl -s -o /dev/null -w '%{http_code} %{time_total}\n' -H "X-Forwarded-For: 203.0.113.9" \
		--data-urlencode "username=legit$i" --data-urlencode "password=bench password 1" "$CB_URL/login"
	sleep "0.$((RANDOM % 3))"
done >"$work/legit.txt"
wait "$busypid"
cat "$work/busy.txt"
wait "$floodpid"
cat "$work/flood.txt"

p99() { awk '$1 == "99%" { print $2 }' "$1"; }
echo
echo "/profile p99 alone: $(p99 "$work/quiet.txt"); during the flood: $(p99 "$work/busy.txt") (target <= 50ms)"
ok=$(awk '$1 == 303' "$work/legit.txt" | wc -l)
echo "other network's sign-ins: $ok of $legit on the first try; p99 $(sort -n -k2 "$work/legit.txt" | awk '{ t[NR] = $2 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.0fms", t[i] * 1000 }') (target: all, < 1s)"
echo "server peak RSS: $(( $(cat "$work/peak") / 1024 )) MiB (target <= 300 MiB)"
