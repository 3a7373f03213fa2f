#!/usr/bin/env bash
# Builds the estimator page into frontend/dist without trunk:
#   1. cargo, release, for wasm32 (opt-level z, fat LTO, one codegen unit: set
#      here for this build only, not in the workspace profile);
#   2. wasm-bindgen --target web (the CLI pinned to Cargo.lock's wasm-bindgen);
#   3. wasm-opt -Oz --converge (npm's binaryen, e2e/node_modules/.bin);
#   4. index.html, boot.js and styles.css copied beside them.
# Stable names (jouleprint-frontend.js, jouleprint-frontend_bg.wasm) and no
# inline script: index.html loads boot.js, so the page runs under a
# Content-Security-Policy without 'unsafe-inline'.
#   scripts/build-page.sh            release build (what the e2e tests and run.sh serve)
#   scripts/build-page.sh --no-opt   skip wasm-opt (quicker, larger)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

OPT=1
case "${1:-}" in
  "") ;;
  --no-opt) OPT="" ;;
  *) echo "usage: scripts/build-page.sh [--no-opt]" >&2; exit 2 ;;
esac

export PATH="$ROOT/e2e/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
NAME=jouleprint-frontend
OUT=frontend/dist

WB_WANT=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p' | head -1)
if ! wasm-bindgen --version 2>/dev/null | grep -qF "$WB_WANT"; then
  echo "build-page: wasm-bindgen $WB_WANT is needed (Cargo.lock); scripts/install-deps.sh installs it" >&2
  exit 1
fi
if [ -n "$OPT" ] && ! command -v wasm-opt >/dev/null 2>&1; then
  echo "build-page: wasm-opt is missing: (cd e2e && npm ci) installs npm's binaryen" >&2
  exit 1
fi

CARGO_PROFILE_RELEASE_OPT_LEVEL=z \
CARGO_PROFILE_RELEASE_LTO=fat \
CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  cargo build --release --locked --target wasm32-unknown-unknown -p "$NAME"

# Assembled aside, then swapped in, so a failed build leaves the last dist whole.
STAGE=$(mktemp -d "${TMPDIR:-/tmp}/jouleprint-dist.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$STAGE" --out-name "$NAME" \
  "$TARGET_DIR/wasm32-unknown-unknown/release/$NAME.wasm"
if [ -n "$OPT" ]; then
  # The features rustc enables by default for wasm32-unknown-unknown.
  # --converge repeats -Oz until nothing shrinks; debug names and the producers
  # section are not needed at run time (about 550 bytes gzipped together).
  wasm-opt -Oz --converge --strip-debug --strip-producers --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
    --enable-mutable-globals --enable-multivalue --enable-reference-types \
    -o "$STAGE/${NAME}_bg.opt.wasm" "$STAGE/${NAME}_bg.wasm"
  mv "$STAGE/${NAME}_bg.opt.wasm" "$STAGE/${NAME}_bg.wasm"
fi
cp frontend/index.html frontend/boot.js frontend/styles.css "$STAGE/"
chmod 755 "$STAGE"

rm -rf "$OUT.old"
[ -d "$OUT" ] && mv "$OUT" "$OUT.old"
mv "$STAGE" "$OUT"
rm -rf "$OUT.old"
trap - EXIT
echo "build-page: $OUT: $(ls "$OUT" | tr '\n' ' ')"
