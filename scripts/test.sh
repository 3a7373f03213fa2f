#!/usr/bin/env bash
# The one command that runs all the tests (README). Starts what the tests need
# (a private Postgres in .local/pg unless JOULEPRINT_DATABASE_URL is set), runs
# the Rust tests, then the browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export SQLX_OFFLINE=true

# What a fresh machine lacks (quick when everything is there).
scripts/install-deps.sh
export PATH="$HOME/.cargo/bin:$PATH"

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

if [ -x scripts/e2e.sh ]; then
  scripts/e2e.sh
fi
