#!/usr/bin/env bash
# Throughput of an authenticated GET /profile against a bare net/http
# handler, measured in the same run. Target: ConnectBook at least half the
# bare handler's requests per second.
#
#   bench/profile.sh [seconds] [connections]
source "$(dirname "$0")/common.sh"
secs=${1:-10}
conns=${2:-32}

start_connectbook
cookie=$(sign_in benchuser "bench password 1")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
curl -fs -H "Cookie: $cookie" "$CB_URL/profile" | grep -q "Welcome, benchuser!" || { echo "not signed in" >&2; exit 1; }
size=$(curl -fs -H "Cookie: $cookie" "$CB_URL/profile" | wc -c)

"$work/bare" -addr 127.0.0.1:8091 -size "$size" &
pids+=($!)
sleep 0.5

rps() { sed -n 's/^Requests\/sec: *//p'; }
echo "== warm-up"
wrk -t2 -c"$conns" -d2s -H "Cookie: $cookie" "$CB_URL/profile" >/dev/null
wrk -t2 -c"$conns" -d2s http://127.0.0.1:8091/ >/dev/null
echo "== ConnectBook GET /profile (signed in, ${size} bytes), ${secs}s, $conns connections"
cb_out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Cookie: $cookie" "$CB_URL/profile")
echo "$cb_out"
echo "== bare net/http handler (${size} bytes), ${secs}s, $conns connections"
bare_out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency http://127.0.0.1:8091/)
echo "$bare_out"
cb=$(echo "$cb_out" | rps)
bare=$(echo "$bare_out" | rps)
errors=$(echo "$cb_out" | sed -n 's/.*Non-2xx or 3xx responses: *//p')
echo
echo "ConnectBook /profile: $cb req/s; bare: $bare req/s; ratio: $(awk -v a="$cb" -v b="$bare" 'BEGIN { printf "%.2f", a / b }') (target >= 0.50); non-2xx: ${errors:-0}"
