#!/usr/bin/env bash
# Throughput of a signed-in GET /profile against a bare net/http handler
# serving a page of the same size, under wrk -t1 -c16 and wrk -t2 -c32. The
# two servers are measured in alternating rounds, so that both see the same
# machine load; each round gives a ratio, and the result for each load is
# the median ratio. Target: at least 0.50 under both.
#
#   bench/profile.sh [seconds per measurement] [rounds]
source "$(dirname "$0")/common.sh"
secs=${1:-10}
rounds=${2:-5}

start_connectbook
cookie=$(sign_in benchuser "bench password 1")
[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
curl -fs -H "Cookie: $cookie" "$CB_URL/profile" | grep -q "Welcome, benchuser!" || { echo "not signed in" >&2; exit 1; }
size=$(curl -fs -H "Cookie: $cookie" "$CB_URL/profile" | wc -c)

"$work/bare" -addr 127.0.0.1:8091 -size "$size" &
pids+=($!)
sleep 0.5

measure() { wrk "${load[@]}" -d"${secs}s" --latency "$@"; }
rps() { sed -n 's/^Requests\/sec: *//p'; }
p99() { awk '$1 == "99%" { print $2 }'; }
non2xx() { sed -n 's/.*Non-2xx or 3xx responses: *//p'; }

echo "== warm-up"
wrk -t2 -c32 -d2s -H "Cookie: $cookie" "$CB_URL/profile" >/dev/null
wrk -t2 -c32 -d2s http://127.0.0.1:8091/ >/dev/null

for spec in "1 16" "2 32"; do
read -r threads conns <<<"$spec"
load=(-t"$threads" -c"$conns")
echo
echo "== wrk -t$threads -c$conns: ConnectBook GET /profile (signed in, $size bytes) and the bare handler, ${secs}s each, $rounds rounds"
printf '%-6s %14s %14s %7s %14s %14s\n' round "ConnectBook/s" "bare/s" ratio "ConnectBook p99" "non-2xx"
ratios=()
for i in $(seq 1 "$rounds"); do
	cb_out=$(measure -H "Cookie: $cookie" "$CB_URL/profile")
	bare_out=$(measure http://127.0.0.1:8091/)
	cb=$(echo "$cb_out" | rps)
	bare=$(echo "$bare_out" | rps)
	ratio=$(awk -v a="$cb" -v b="$bare" 'BEGIN { printf "%.2f", a / b }')
	ratios+=("$ratio")
	errors=$(echo "$cb_out" | non2xx)
	printf '%-6s %14s %14s %7s %14s %14s\n' "$i" "$cb" "$bare" "$ratio" "$(echo "$cb_out" | p99)" "${errors:-0}"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
echo "median ratio, wrk -t$threads -c$conns: $median (target >= 0.50)"
done
