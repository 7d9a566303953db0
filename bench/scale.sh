#!/usr/bin/env bash
# The session stores at scale: fills each store through the session.Store
# API to each size (default 10k, 100k, 1M sessions) and measures Find of
# sessions that exist and of IDs that do not (p50, p99), Find throughput,
# List and the expiry sweep; prints a Markdown table. Goal: Find p99 at the
# largest size within 1.5x of the smallest, on every store.
#
#   bench/scale.sh [flags of bench/scale]     e.g. bench/scale.sh -stores sqlite -sizes 10000,100000
#
# PostgreSQL and Redis are those of CONNECTBOOK_TEST_POSTGRES and
# CONNECTBOOK_TEST_REDIS if set, else on loopback. Each store works in a
# place of its own (a temporary SQLite file, the table sessions_scale, the
# Redis prefix cb:scale:), which must not exist and is removed at the end.
# A million sessions take about two minutes to fill per store on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/scale" ./bench/scale

args=()
[ -n "${CONNECTBOOK_TEST_POSTGRES:-}" ] && args+=(-postgres "$CONNECTBOOK_TEST_POSTGRES")
[ -n "${CONNECTBOOK_TEST_REDIS:-}" ] && args+=(-redis "$CONNECTBOOK_TEST_REDIS")

echo "# $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- session bench || echo ' (with local changes)'), $(go version | cut -d' ' -f3)"
echo "# $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
"$work/scale" "${args[@]}" "$@"
