#!/usr/bin/env bash
# Load test of a release build on loopback with wrk (apt-get install wrk),
# bounded in time: each run lasts DURATION (default 10s).
#   GET  /api/devices   64 connections
#   POST /api/estimate  64 connections (GPT-2 decode scenario, scripts/load/estimate.lua)
#   both at 256 connections (no errors, no request slower than 1 s expected)
# Starts the local Postgres unless JOULEPRINT_DATABASE_URL is set. Results: docs/api.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
THREADS="${THREADS:-2}"
PORT="${LOAD_PORT:-18080}"
command -v wrk >/dev/null || { echo "load.sh: wrk is not installed (apt-get install wrk)" >&2; exit 1; }

server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  declare -F pg_stop >/dev/null && pg_stop
}
trap cleanup EXIT
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start
cargo build --release -p jouleprint >&2
JOULEPRINT_HOST=127.0.0.1 JOULEPRINT_PORT="$PORT" JOULEPRINT_STATIC_DIR=/nonexistent RUST_LOG=warn \
  ./target/release/jouleprint serve &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/api/health" >/dev/null 2>&1 && break
  sleep 0.1
done
base="http://127.0.0.1:$PORT"
echo "== $(nproc) cores, wrk -t$THREADS -d$DURATION"
echo "== GET /api/devices, 64 connections"
wrk -t"$THREADS" -c64 -d"$DURATION" --latency "$base/api/devices"
echo "== POST /api/estimate, 64 connections"
wrk -t"$THREADS" -c64 -d"$DURATION" --latency -s scripts/load/estimate.lua "$base/api/estimate"
echo "== GET /api/devices, 256 connections"
wrk -t"$THREADS" -c256 -d"$DURATION" --latency --timeout 2s "$base/api/devices"
echo "== POST /api/estimate, 256 connections"
wrk -t"$THREADS" -c256 -d"$DURATION" --latency --timeout 2s -s scripts/load/estimate.lua "$base/api/estimate"
