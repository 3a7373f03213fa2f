#!/usr/bin/env bash
# Runs each fuzz target for a fixed budget (default 60 s each), seeded with the
# ONNX fixtures. Needs a nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`). The bounded proptest run in
# shared/tests/import_robust.rs covers the same parsers in `cargo test`.
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
mkdir -p corpus/onnx corpus/safetensors
cp ../tests/fixtures/*.onnx corpus/onnx/ 2>/dev/null || true
for t in onnx safetensors; do
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048
done
