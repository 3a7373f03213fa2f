#!/usr/bin/env bash
# The browser tests of the estimator page (e2e/, Playwright driving Debian's
# Chromium). Builds the frontend (scripts/build-page.sh: release, wasm-bindgen,
# wasm-opt from e2e's npm binaryen), checks the .wasm size, builds the release
# `jouleprint` (unless JOULEPRINT_BIN names a built one: scripts/test.sh passes
# the binary its `cargo test` built, so one build serves both), starts Postgres
# (scripts/pg.sh, unless JOULEPRINT_DATABASE_URL is set) and `jouleprint serve`
# on a free port with frontend/dist as its static folder, runs Playwright, and
# stops all it started.
#   scripts/e2e.sh                 everything
#   scripts/e2e.sh --build-only    only build frontend/dist
#   scripts/e2e.sh -- ARGS         pass ARGS to `playwright test` (e.g. -g "broken link")
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export SQLX_OFFLINE=true

BUILD_ONLY=""
PW_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --build-only) BUILD_ONLY=1 ;;
    --) shift; PW_ARGS=("$@"); break ;;
    *) echo "usage: scripts/e2e.sh [--build-only] [-- playwright args]" >&2; exit 2 ;;
  esac
  shift
done

if [ ! -d e2e/node_modules ]; then
  (cd e2e && npm ci --no-audit --no-fund)
fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# The page: the size-optimised release build.
scripts/build-page.sh
test -f frontend/dist/index.html
[ -n "$BUILD_ONLY" ] && exit 0

scripts/wasm-size.sh

if [ -n "${JOULEPRINT_BIN:-}" ]; then
  BIN="$JOULEPRINT_BIN"
  [ -x "$BIN" ] || { echo "e2e: JOULEPRINT_BIN=$BIN is not an executable" >&2; exit 1; }
else
  cargo build --release --locked -p jouleprint
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/jouleprint"
fi
echo "e2e: serving with $BIN"

SERVER_PID=""
PG_STARTED=""
LOG=$(mktemp -t jouleprint-serve.XXXXXX.log)
cleanup() {
  local rc=$?
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$PG_STARTED" ]; then
    pg_stop || true
  fi
  rm -f "$LOG"
  exit "$rc"
}
trap cleanup EXIT INT TERM

if [ -f scripts/pg.sh ]; then
  # shellcheck source=/dev/null
  source scripts/pg.sh
  pg_start
  PG_STARTED=1
fi

"$BIN" serve --host 127.0.0.1 --port 0 --static-dir "$ROOT/frontend/dist" >"$LOG" 2>&1 &
SERVER_PID=$!
URL=""
for _ in $(seq 1 300); do
  URL=$(sed -n 's/.*listening on \(http:\/\/[0-9.]*:[0-9][0-9]*\)$/\1/p' "$LOG" | head -1)
  [ -n "$URL" ] && break
  if ! kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "e2e: jouleprint serve exited:" >&2
    cat "$LOG" >&2
    exit 1
  fi
  sleep 0.1
done
if [ -z "$URL" ]; then
  echo "e2e: jouleprint serve did not say where it listens within 30 s:" >&2
  cat "$LOG" >&2
  exit 1
fi
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "$URL/" && break
  sleep 0.1
done
echo "e2e: jouleprint serve at $URL"

export JOULEPRINT_URL="$URL" JOULEPRINT_BIN="$BIN" JOULEPRINT_ROOT="$ROOT"
cd e2e
npx playwright test "${PW_ARGS[@]}"
