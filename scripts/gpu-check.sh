#!/usr/bin/env bash
# One command on a GPU host: calibrate it and validate the model with the record.
#
#   scripts/gpu-check.sh [OUT_DIR] [--budget SECONDS] [--binary PATH] [--device N]
#                        [--quick-only] [--dry-run]
#
# Writes everything to OUT_DIR (default: $OUT when set, else
# ./gpu-check-<UTC time>): the records (calibration-quick.json, then
# calibration-full.json when the budget allows), each run's log and summary,
# `validate` with each record, nvidia-smi -q, versions and this script's log.
#
# Steps: find or build the binary (a carried target/release/jouleprint, else
# `cargo build --release` when cargo is there); make cuBLAS loadable (see
# "cuBLAS" below); `calibrate --quick`; `validate`; the full suite if the time
# left in the budget (default 540 s, under the 10 minutes a lent machine runs
# one command) covers its planned duration; `validate` again.
#
# cuBLAS: the runner loads libcublas/libcublasLt at run time. The rule of
# docs/calibration.md: LD_LIBRARY_PATH gets the CUDA toolkit's lib64, or the
# nvidia/cublas/lib folder of the `nvidia-cublas-cu12`/`nvidia-cublas` Python
# package. Without either, the script installs that package with pip, but only
# from wheels already on the machine (`pip install --no-index`, using
# $PIP_FIND_LINKS when set): it never downloads anything.
#
# --dry-run prints what would run, with the environment it found, and runs nothing
# on the GPU (it still prints the binary's `calibrate --plan` when there is one).
set -uo pipefail

usage() { sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; }

OUT_DIR="${OUT:-}"
BUDGET=540
BINARY=""
DEVICE=0
DRY=0
QUICK_ONLY=0
while [ $# -gt 0 ]; do
    case "$1" in
        --budget) BUDGET="${2:?--budget needs seconds}"; shift 2 ;;
        --binary) BINARY="${2:?--binary needs a path}"; shift 2 ;;
        --device) DEVICE="${2:?--device needs an index}"; shift 2 ;;
        --dry-run) DRY=1; shift ;;
        --quick-only) QUICK_ONLY=1; shift ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "gpu-check: unknown option $1" >&2; usage >&2; exit 2 ;;
        *) OUT_DIR="$1"; shift ;;
    esac
done
case "$BUDGET" in ''|*[!0-9]*) echo "gpu-check: --budget must be whole seconds, got '$BUDGET'" >&2; exit 2 ;; esac
case "$DEVICE" in ''|*[!0-9]*) echo "gpu-check: --device must be an index, got '$DEVICE'" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT" || exit 2
START=$(date +%s)
[ -n "$OUT_DIR" ] || OUT_DIR="$ROOT/gpu-check-$(date -u +%Y%m%dT%H%M%SZ)"
CASES="$ROOT/shared/data/h100-cases.jsonl"

elapsed() { echo $(( $(date +%s) - START )); }
left() { echo $(( BUDGET - $(elapsed) )); }
say() { echo "[gpu-check $(elapsed)s] $*"; }

# ---- what is here -------------------------------------------------------
have() { command -v "$1" >/dev/null 2>&1; }

find_binary() {
    if [ -n "$BINARY" ]; then echo "$BINARY"; return; fi
    for b in "$ROOT/target/release/jouleprint" "${CARGO_TARGET_DIR:-/nonexistent}/release/jouleprint"; do
        if [ -x "$b" ]; then echo "$b"; return; fi
    done
    echo ""
}

# The directory holding libcublas.so*, if any can be found without installing.
find_cublas() {
    local d
    if have ldconfig && ldconfig -p 2>/dev/null | grep -q 'libcublas\.so'; then echo "system"; return; fi
    for d in ${LD_LIBRARY_PATH:+${LD_LIBRARY_PATH//:/ }} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
        if ls "$d"/libcublas.so* >/dev/null 2>&1; then echo "$d"; return; fi
    done
    if have python3; then
        d=$(python3 - <<'PY' 2>/dev/null
import importlib.util, os
for mod in ("nvidia.cublas", "nvidia.cu13", "nvidia.cu12"):
    try:
        spec = importlib.util.find_spec(mod)
    except ModuleNotFoundError:
        continue
    if spec and spec.submodule_search_locations:
        for base in spec.submodule_search_locations:
            for sub in ("lib", "cublas/lib"):
                p = os.path.join(base, sub)
                if os.path.isdir(p) and any(f.startswith("libcublas.so") for f in os.listdir(p)):
                    print(p)
                    raise SystemExit
PY
)
        if [ -n "$d" ]; then echo "$d"; return; fi
    fi
    echo ""
}

# Install nvidia-cublas from wheels already on this machine (never from the network).
install_cublas_offline() {
    have python3 || return 1
    local pkg
    for pkg in nvidia-cublas-cu12 nvidia-cublas nvidia-cublas-cu13; do
        if python3 -m pip install --quiet --no-index ${PIP_FIND_LINKS:+--find-links "$PIP_FIND_LINKS"} "$pkg" >/dev/null 2>&1; then
            say "installed $pkg from local wheels"
            return 0
        fi
    done
    return 1
}

BIN="$(find_binary)"
CUBLAS="$(find_cublas)"
GPU="$(nvidia-smi --query-gpu=name,driver_version,power.limit,memory.total --format=csv,noheader -i "$DEVICE" 2>/dev/null || true)"

plan() {
    cat <<EOF
gpu-check plan (budget ${BUDGET}s, out: $OUT_DIR)
  GPU $DEVICE:       ${GPU:-none found (nvidia-smi missing or no driver)}
  binary:      ${BIN:-none: would run 'cargo build --release -p jouleprint' ($(have cargo && echo cargo found || echo 'cargo NOT found: carry target/release/jouleprint'))}
  cuBLAS:      ${CUBLAS:-not found: would try 'pip install --no-index nvidia-cublas-cu12' from local wheels}
  1. nvidia-smi -q, versions                     -> nvidia-smi-q.txt, versions.txt
  2. jouleprint calibrate --quick --device $DEVICE   -> calibration-quick.json, calibrate-quick.log (< 60 s)
  3. jouleprint validate $CASES --calibration calibration-quick.json -> validate-quick.txt
  4. if the time left covers the full suite's plan: jouleprint calibrate (full)
                                                 -> calibration-full.json, calibrate-full.log
     and validate with it                        -> validate-full.txt
  5. summary.txt: what ran, exit codes, the flags of each record
EOF
    if [ -n "$BIN" ]; then
        echo
        "$BIN" calibrate --quick --plan 2>&1 | tail -1 | sed 's/^/  quick: /'
        "$BIN" calibrate --plan 2>&1 | tail -1 | sed 's/^/  full:  /'
    fi
}

if [ "$DRY" = 1 ]; then
    plan
    exit 0
fi

mkdir -p "$OUT_DIR" || { echo "gpu-check: cannot create $OUT_DIR" >&2; exit 2; }
exec > >(tee -a "$OUT_DIR/gpu-check.log") 2>&1
plan
SUMMARY="$OUT_DIR/summary.txt"
: > "$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }

# ---- 1. the machine ---------------------------------------------------------
{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(hostname 2>/dev/null)"
    echo "kernel: $(uname -a)"
    echo "git: $(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo 'not a git checkout')"
    echo "gpu: $GPU"
    echo "cuda driver (nvidia-smi): $(nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' || echo '?')"
    echo "pid namespace: $(readlink /proc/self/ns/pid 2>/dev/null) (4026531836 is the host's)"
    have rustc && echo "rustc: $(rustc --version)"
    have python3 && echo "python: $(python3 --version 2>&1)"
} > "$OUT_DIR/versions.txt" 2>&1
nvidia-smi -q -i "$DEVICE" > "$OUT_DIR/nvidia-smi-q.txt" 2>&1 || say "nvidia-smi -q failed (see nvidia-smi-q.txt)"
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$OUT_DIR/compute-apps-before.csv" 2>&1 || true

# ---- binary -----------------------------------------------------------------
if [ -z "$BIN" ]; then
    if have cargo; then
        say "building the release binary (SQLX_OFFLINE=true)"
        if SQLX_OFFLINE=true cargo build --release -p jouleprint > "$OUT_DIR/build.log" 2>&1; then
            BIN="$(find_binary)"
        else
            note "build failed: see build.log"; exit 2
        fi
    else
        note "no jouleprint binary and no cargo: build it elsewhere and pass --binary PATH (or carry target/release/jouleprint)"
        exit 2
    fi
fi
"$BIN" --version >> "$OUT_DIR/versions.txt" 2>&1 || true
say "binary: $BIN"

# ---- cuBLAS -----------------------------------------------------------------
if [ -z "$CUBLAS" ] && install_cublas_offline; then CUBLAS="$(find_cublas)"; fi
case "$CUBLAS" in
    "") note "cuBLAS not found: the GEMMs cannot run (install the CUDA toolkit or the nvidia-cublas-cu12 wheel)";;
    system) say "cuBLAS: in the loader's cache";;
    *) export LD_LIBRARY_PATH="$CUBLAS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; say "cuBLAS: LD_LIBRARY_PATH += $CUBLAS";;
esac
echo "cublas: ${CUBLAS:-none}" >> "$OUT_DIR/versions.txt"

# ---- runs -------------------------------------------------------------------
calibrate() { # NAME EXTRA_ARGS... ; returns the command's status
    local name="$1"; shift
    local limit; limit=$(left)
    if [ "$limit" -lt 30 ]; then note "$name: skipped, ${limit}s left"; return 99; fi
    say "calibrate $name (at most ${limit}s)"
    timeout --signal=INT --kill-after=10 "$limit" \
        "$BIN" calibrate --device "$DEVICE" --no-progress --out "$OUT_DIR/calibration-$name.json" "$@" \
        > "$OUT_DIR/calibrate-$name.log" 2>&1
    local rc=$?
    note "calibrate $name: exit $rc after $(elapsed)s (log: calibrate-$name.log)"
    tail -n 40 "$OUT_DIR/calibrate-$name.log"
    return $rc
}

validate() { # NAME
    local rec="$OUT_DIR/calibration-$1.json"
    [ -s "$rec" ] || return 1
    "$BIN" validate "$CASES" --calibration "$rec" > "$OUT_DIR/validate-$1.txt" 2>&1
    local rc=$?
    note "validate $1: exit $rc (validate-$1.txt)"
    cat "$OUT_DIR/validate-$1.txt"
    if have python3; then
        python3 - "$rec" <<'PY' | tee -a "$SUMMARY"
import json, sys
r = json.load(open(sys.argv[1]))
print(f"  {sys.argv[1]}: {r['device']['name']}, flags: {r.get('flags') or 'none'}")
for m in r["micro"]:
    if m["name"] in ("gemm_bf16_8192", "copy_bf16_2GiB", "fma_bf16_2GiB"):
        rate = m.get("tflops") and f"{m['tflops']:.1f} TFLOP/s" or f"{m.get('gb_per_s', 0):.0f} GB/s"
        print(f"  {m['name']}: {rate}, {m['joules']/m['seconds']:.0f} W")
PY
    fi
    return $rc
}

calibrate quick --quick
QRC=$?
validate quick || true

if [ "$QUICK_ONLY" = 0 ] && [ "$QRC" = 0 ]; then
    FULL_S=$("$BIN" calibrate --plan 2>/dev/null | sed -n 's/^planned at most \([0-9]*\) s.*/\1/p')
    if [ -n "$FULL_S" ] && [ "$(left)" -gt $(( FULL_S + 20 )) ]; then
        if calibrate full; then validate full || true; fi
    else
        note "full suite skipped: planned ${FULL_S:-?}s, $(left)s left of the ${BUDGET}s budget"
    fi
fi
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv > "$OUT_DIR/compute-apps-after.csv" 2>&1 || true
note "done in $(elapsed)s; everything is in $OUT_DIR"
exit "$QRC"
