#!/usr/bin/env bash
# Installs, only when missing, what the build and the tests need on a fresh
# Debian machine with rustup: Postgres, Chromium, wrk, the wasm target,
# wasm-bindgen-cli (pinned to Cargo.lock), the e2e npm packages (Playwright,
# axe-core, binaryen's wasm-opt for scripts/build-page.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium chromium-driver)
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
      echo "install-deps.sh: missing Debian packages: ${need_apt[*]} (install them as root)" >&2
      exit 1
    fi
  fi
  echo "install-deps.sh: installing ${need_apt[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
WB_VERSION=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)
if [ -n "$WB_VERSION" ] && ! wasm-bindgen --version 2>/dev/null | grep -q "$WB_VERSION"; then
  # opt-level 1: it processes one .wasm per build, and compiles in far less
  # time than at the default 3 (a first run on 2 cores)
  CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo install wasm-bindgen-cli --version "=$WB_VERSION"
fi

if [ -f e2e/package.json ] && [ ! -d e2e/node_modules ]; then
  (cd e2e && npm ci --no-audit --no-fund)
fi
