#!/usr/bin/env bash
# The home feed at scale: fills a fresh database with bench/feedgen
# (10,000 users, 1,000,000 posts, ~100 follows each, through multi-row
# INSERTs, and the home timelines of the newest 10,000 posts), starts ConnectBook on it, signs in as the generated benchuser
# and measures with wrk, one page after another at the same concurrency:
#
#   GET /                 the home feed, signed in
#   GET /u/<busy user>    the profile page of the user with the most posts
#   GET /?before=<cursor> the home feed's second page
#   GET /profile          the signed-in settings page: the baseline
#
# then prints p50, p99 and req/s of each, the ratio of the home feed's p99
# to /profile's, and the plans of the feed and profile queries
# (feedgen -explain). Goal: home feed p99 <= 25 ms at 16 connections, and
# within 2x of /profile's p99 in the same run, on each database.
#
#   bench/feed.sh [sqlite|postgres|both] [seconds per page] [connections]
#
# SQLite lives in a temporary directory. PostgreSQL (127.0.0.1:5432, user
# root, trust authentication: that of the tests) gets a database of its own
# for the run, feedbench_<pid>, dropped at the end. Filling takes two to three
# minutes per database on 2 cores.
source "$(dirname "$0")/common.sh"
dbs=${1:-both}
secs=${2:-20}
conns=${3:-16}
case $dbs in sqlite | postgres) ;; both) dbs="sqlite postgres" ;; *)
	echo "usage: bench/feed.sh [sqlite|postgres|both] [seconds] [connections]" >&2
	exit 2
	;;
esac

PGHOST_=127.0.0.1
PGUSER_=root
pgdb=""
drop_pg() {
	if [ -n "$pgdb" ]; then
		dropdb -h "$PGHOST_" -U "$PGUSER_" --if-exists --force "$pgdb" || true
	fi
}
trap 'cleanup; drop_pg' EXIT

# The first free port from 8092 (other scripts use 8090 and 8091).
for port in $(seq 8092 8199); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
done
CB_ADDR=127.0.0.1:$port
CB_URL=http://$CB_ADDR
go build -o "$work/feedgen" ./bench/feedgen

user=benchuser
password="bench password 1"

# ms converts a wrk duration (850.00us, 1.23ms, 2.00s) to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
	f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : 0
	printf "%.2f", n * f }'; }
quantile() { ms "$(awk -v q="$1" '$1 == q { print $2 }' "$2")"; }
rps() { sed -n 's/^Requests\/sec: *//p' "$1" | awk '{ printf "%.0f", $1 }'; }
errors() {
	awk '/Non-2xx or 3xx responses:/ { n += $NF } /Socket errors:/ { gsub(/,/, ""); n += $4 + $6 + $8 + $10 } END { print n + 0 }' "$1"
}

# fetch prints a signed-in page's status and body size, and saves it.
fetch() { curl -s -o "$work/page.html" -w '%{http_code} %{size_download}\n' -H "Cookie: $cookie" "$CB_URL$1"; }

summary=()
run_db() {
	local name=$1 dsn=$2
	echo
	echo "######## $name"
	echo "== filling the database (bench/feedgen)"
	"$work/feedgen" -db "$dsn" | tee "$work/gen-$name.txt"
	busy=$(sed -n 's/^busy_user: //p' "$work/gen-$name.txt")

	CONNECTBOOK_DB=$dsn start_connectbook
	cookie=$(curl -fs -o /dev/null -D - --data-urlencode "username=$user" --data-urlencode "password=$password" "$CB_URL/login" |
		tr -d '\r' | sed -n 's/^Set-Cookie: \([^;]*\);.*/\1/p' | paste -sd ';' | sed 's/;/; /g')
	[ -n "$cookie" ] || { echo "sign-in failed" >&2; exit 1; }
	fetch /profile >/dev/null
	grep -q "Welcome, $user!" "$work/page.html" || { echo "not signed in" >&2; exit 1; }
	fetch / >/dev/null
	cursor=$(grep -o 'href="/?before=[0-9]*"' "$work/page.html" | grep -o '[0-9]*' | head -1)
	[ -n "$cursor" ] || { echo "the home feed has no second page" >&2; exit 1; }

	local pages=("/" "/u/$busy" "/?before=$cursor" "/profile")
	local labels=("home feed" "profile /u/$busy" "feed, 2nd page" "/profile (baseline)")
	echo "== warm-up, 3s per page"
	for p in "${pages[@]}"; do wrk -t2 -c"$conns" -d3s -H "Cookie: $cookie" "$CB_URL$p" >/dev/null; done

	echo "== wrk -t2 -c$conns -d${secs}s --latency, one page after another (load average $(cut -d' ' -f1-3 /proc/loadavg))"
	local i
	for i in "${!pages[@]}"; do
		local p=${pages[$i]} out="$work/wrk-$name-$i.txt"
		echo "-- GET $p"
		wrk -t2 -c"$conns" -d"${secs}s" --latency -H "Cookie: $cookie" "$CB_URL$p" | tee "$out"
		# Still signed in, and the page is what was meant (wrk counts
		# only 4xx and 5xx, not a redirect to the sign-in page).
		read -r status size < <(fetch "$p")
		[ "$status" = 200 ] || { echo "GET $p answered $status after the run" >&2; exit 1; }
		case $p in /profile) grep -q "Welcome, $user!" "$work/page.html" ;; *) grep -q 'class="post' "$work/page.html" ;; esac ||
			{ echo "GET $p: not the signed-in page after the run" >&2; exit 1; }
		summary+=("$(printf '| %s | %s | %s ms | %s ms | %s | %s | %s |' "$name" "${labels[$i]}" \
			"$(quantile 50% "$out")" "$(quantile 99% "$out")" "$(rps "$out")" "$size" "$(errors "$out")")")
	done
	local home99 base99
	home99=$(quantile 99% "$work/wrk-$name-0.txt")
	base99=$(quantile 99% "$work/wrk-$name-3.txt")
	ratios+=("$(awk -v h="$home99" -v b="$base99" -v n="$name" \
		'BEGIN { printf "%s: home feed p99 %.2f ms / /profile p99 %.2f ms = %.2f (goal: p99 <= 25 ms and ratio <= 2: %s)", n, h, b, h / b, (h <= 25 && h / b <= 2) ? "met" : "NOT met" }')")

	echo "== query plans"
	"$work/feedgen" -db "$dsn" -explain -user "$user" -busy "$busy" -before "$cursor" | tee "$work/explain-$name.txt"

	kill "$CB_PID"
	wait "$CB_PID" 2>/dev/null || true
}

echo "# $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- internal bench cmd || echo ' (with local changes)'), $(go version | cut -d' ' -f3)"
echo "# $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); load average $(cut -d' ' -f1-3 /proc/loadavg)"
ratios=()
for db in $dbs; do
	case $db in
	sqlite) run_db SQLite "$work/feed.db" ;;
	postgres)
		pgdb=feedbench_$$
		createdb -h "$PGHOST_" -U "$PGUSER_" "$pgdb"
		run_db PostgreSQL "postgres://$PGUSER_@$PGHOST_:5432/$pgdb?sslmode=disable"
		drop_pg
		pgdb=""
		;;
	esac
done

echo
echo "== summary: wrk -t2 -c$conns -d${secs}s --latency per page"
echo "| database | page | p50 | p99 | req/s | bytes | errors |"
echo "|---|---|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
echo
printf '%s\n' "${ratios[@]}"
