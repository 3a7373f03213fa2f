#!/usr/bin/env bash
# Load test of a release build on loopback with wrk (apt-get install wrk),
# bounded in time: each run lasts DURATION (default 10s).
#   Rate limits off:
#     GET  /api/devices   64 connections
#     POST /api/estimate  64 connections (GPT-2 decode scenario, scripts/load/estimate.lua)
#     both at 256 connections (no errors, no request slower than 1 s expected)
#   Rate limits on, set above the offered load (every wrk connection is one client, 127.0.0.1):
#     mixed (scripts/load/mixed.lua: 45% device list, 20% link reads, 20%
#     estimates, 10% link writes, 5% health) at 64 and 256 connections; it
#     prints the share of 429s (expected 0) and of errors.
# Starts the local Postgres unless JOULEPRINT_DATABASE_URL is set. Results: docs/api.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
PORT="${LOAD_PORT:-18080}"
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  server_pid=""
}
cleanup() {
  stop_server
  declare -F pg_stop >/dev/null && pg_stop
}
trap cleanup EXIT
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start
cargo build --release -p jouleprint >&2
bin="${CARGO_TARGET_DIR:-target}/release/jouleprint"
base="http://127.0.0.1:$PORT"

# start_server VAR=VALUE...: the release server with these settings, on loopback.
start_server() {
  env JOULEPRINT_HOST=127.0.0.1 JOULEPRINT_PORT="$PORT" JOULEPRINT_STATIC_DIR=/nonexistent RUST_LOG=warn "$@" \
    "$bin" serve &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fsS "$base/api/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "load.sh: the server did not start" >&2
  exit 1
}
load() { echo "== load average $(cut -d' ' -f1-3 /proc/loadavg)"; }

echo "== $(nproc) cores, wrk -t$THREADS -d$DURATION"
start_server JOULEPRINT_RATE_LIMITS=false
echo "== GET /api/devices, 64 connections (rate limits off)"; load
wrk -t"$THREADS" -c64 -d"$DURATION" --latency "$base/api/devices"
echo "== POST /api/estimate, 64 connections"; load
wrk -t"$THREADS" -c64 -d"$DURATION" --latency -s scripts/load/estimate.lua "$base/api/estimate"
echo "== GET /api/devices, 256 connections"; load
wrk -t"$THREADS" -c256 -d"$DURATION" --latency --timeout 2s "$base/api/devices"
echo "== POST /api/estimate, 256 connections"; load
wrk -t"$THREADS" -c256 -d"$DURATION" --latency --timeout 2s -s scripts/load/estimate.lua "$base/api/estimate"
stop_server

# Rate limits on, far above what one loopback client can offer here.
start_server JOULEPRINT_RATE_LIMITS=true \
  JOULEPRINT_RATE_WRITE_PER_MINUTE=100000000 JOULEPRINT_RATE_WRITE_BURST=1000000 \
  JOULEPRINT_RATE_HEAVY_PER_MINUTE=100000000 JOULEPRINT_RATE_HEAVY_BURST=1000000
# Links to read: 50 distinct scenarios stored first.
ids=""
for i in $(seq 1 50); do
  body="{\"version\":1,\"model\":{\"preset\":\"gpt2\"},\"stages\":[{\"kind\":\"deployment\",\"workload\":{\"phase\":\"decode\",\"precision\":\"bf16\",\"batch\":8,\"prompt\":128,\"new_tokens\":128},\"requests_per_day\":$((1000 + i)),\"days\":30}],\"hardware\":{\"device\":\"h100-sxm\",\"count\":1},\"infrastructure\":{\"pue\":1.2,\"region\":\"FR\"}}"
  # The answer starts with the link's id (the scenario holds other "id"s).
  id=$(curl -fsS -H 'content-type: application/json' -d "$body" "$base/api/estimates" | sed -n 's/^{"id":"\([^"]*\)".*/\1/p')
  [ -n "$id" ] || { echo "load.sh: could not store a link" >&2; exit 1; }
  ids="$ids${ids:+,}$id"
done
export LINK_IDS="$ids"
for c in 64 256; do
  echo "== mixed, $c connections (rate limits on, above the offered load)"; load
  wrk -t"$THREADS" -c"$c" -d"$DURATION" --latency --timeout 2s -s scripts/load/mixed.lua "$base"
done
