#!/usr/bin/env bash
# The one command that runs all the tests (README). Starts what the tests need
# (a private Postgres in .local/pg unless JOULEPRINT_DATABASE_URL is set), runs
# the Rust tests, then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export SQLX_OFFLINE=true

# Tests need file and line in a backtrace, not full debug info: this halves
# the bytes the test build writes and links (a first run is 2 cores' worth
# of minutes shorter). Set CARGO_PROFILE_DEV_DEBUG to choose otherwise.
export CARGO_PROFILE_DEV_DEBUG="${CARGO_PROFILE_DEV_DEBUG:-line-tables-only}"

# What a fresh machine lacks (quick when everything is there).
scripts/install-deps.sh
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"

# pg.sh stops its Postgres from an EXIT trap after Ctrl-C or SIGTERM (a few seconds).
scripts/tests/pg-stop-on-interrupt.sh

if [ -f scripts/pg.sh ]; then
  # shellcheck source=/dev/null
  source scripts/pg.sh
  pg_start
  trap pg_stop EXIT
fi

cargo test --workspace --locked

# The importer runs in the browser build too: wasm-bindgen-test under node.
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test -p jouleprint-shared --target wasm32-unknown-unknown --test import_wasm --locked

# The browser tests serve the page with the `jouleprint` that `cargo test`
# built (its integration tests run that binary): one build instead of a
# second, release one (about 3.5 minutes on 2 cores).
if [ -x scripts/e2e.sh ]; then
  JOULEPRINT_BIN="${JOULEPRINT_BIN:-${CARGO_TARGET_DIR:-$PWD/target}/debug/jouleprint}" scripts/e2e.sh
fi
