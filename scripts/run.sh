#!/usr/bin/env bash
# Run the app locally: installs missing tools, builds the frontend, starts a
# private Postgres in .local/pg unless JOULEPRINT_DATABASE_URL is set, builds
# and starts the release server, and stops both on exit (Ctrl-C).
# Settings: JOULEPRINT_PORT (default 8080), JOULEPRINT_HOST (default 127.0.0.1),
# and every other JOULEPRINT_* variable of docs/api.md.
set -euo pipefail
cd "$(dirname "$0")/.."

server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if declare -F pg_stop >/dev/null; then
    pg_stop
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# 0. Tools a fresh machine lacks (Postgres, wasm-bindgen, npm packages).
scripts/install-deps.sh >&2
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# 1. The frontend: the same size-optimised build the browser tests use.
static_note=""
echo "run.sh: building the frontend..." >&2
if ! scripts/build-page.sh >&2; then
  static_note="the frontend build failed: serving the API only"
fi
if [ -z "$static_note" ] && [ ! -f frontend/dist/index.html ]; then
  static_note="frontend/dist/index.html is missing: serving the API only"
fi

# 2. The database.
# shellcheck source=scripts/pg.sh
source scripts/pg.sh
pg_start

# 3. The server (release build).
echo "run.sh: building the server (cargo build --release)..." >&2
cargo build --release -p jouleprint >&2
host="${JOULEPRINT_HOST:-127.0.0.1}"
port="${JOULEPRINT_PORT:-8080}"
JOULEPRINT_HOST="$host" JOULEPRINT_PORT="$port" "${CARGO_TARGET_DIR:-target}/release/jouleprint" serve &
server_pid=$!

for _ in $(seq 1 100); do
  if curl -fsS "http://$host:$port/api/health" >/dev/null 2>&1; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "run.sh: the server exited; see the messages above" >&2
    exit 1
  fi
  sleep 0.1
done
[ -n "$static_note" ] && echo "run.sh: $static_note" >&2
echo "jouleprint is running at http://$host:$port/ (API: http://$host:$port/api, Ctrl-C stops it)"
wait "$server_pid"
