# Shared by the bench scripts: build, start a fresh ConnectBook, sign in.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/connectbook" ./cmd/connectbook
go build -o "$work/bare" ./bench/bare

CB_ADDR=127.0.0.1:8090
CB_URL=http://$CB_ADDR
export CONNECTBOOK_DB=$work/connectbook.db

# start_connectbook starts the server and waits for it.
start_connectbook() {
	"$work/connectbook" serve --addr "$CB_ADDR" --log-format json ${CB_ARGS:-} >"$work/server.log" 2>&1 &
	CB_PID=$!
	pids+=("$CB_PID")
	for _ in $(seq 1 50); do
		# Our server, not another process on the port: it is alive and says so.
		if kill -0 "$CB_PID" 2>/dev/null && grep -q "ConnectBook is serving" "$work/server.log" &&
			curl -fs -o /dev/null "$CB_URL/"; then
			return 0
		fi
		kill -0 "$CB_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "ConnectBook did not start:" >&2
	cat "$work/server.log" >&2
	exit 1
}

# sign_in creates the user (if needed) and prints a Cookie header value.
sign_in() {
	local user=$1 pw=$2
	echo "$pw" | "$work/connectbook" user add "$user" >/dev/null 2>&1 || true
	curl -fs -o /dev/null -D - --data-urlencode "username=$user" --data-urlencode "password=$pw" "$CB_URL/login" |
		tr -d '\r' | sed -n 's/^Set-Cookie: \([^;]*\);.*/\1/p' | paste -sd ';' | sed 's/;/; /g'
}
