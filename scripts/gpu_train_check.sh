#!/bin/sh
# The trainer's GPU check in one command, for a lent GPU machine (a compiler, CMake
# and a python3 whose torch is a CUDA LibTorch; no Debian dev packages). Builds
# `excap-model` without OpenCV, studio or tests against that LibTorch, benchmarks
# a training step and, when a packed project is given, trains and scores on it.
# The defaults are the paper's recipe on CUDA (MTCSN, ResNet-50, 240x240, batch 8);
# the same path runs on CPU at tiny sizes (the ctest label gpu-path does so).
#
#   scripts/gpu_train_check.sh [options] [PROJECT_DIR [ITERS]]
#     --device cuda|cpu   (DEVICE, default cuda)     --backbone NAME (BACKBONE, resnet50)
#     --size N            (SIZE, 240)                --batch N       (BATCH, 8)
#     --bench-iters N     (BENCH_ITERS, 50)          --iters N       (ITERS, 3000)
#     --threads N         (THREADS, 0: all)          --model NAME    (MODEL, mtcsn)
# Environment too: BUILD (build folder, default build-gpu), PYTHON (python3),
# SPLIT (main), AMP (off), SUBSET (val), UNITY (1: unity build), JOBS (nproc),
# BUILD_TYPE (Release; the CPU check in CI builds None, i.e. -O0, to build fast),
# VENDOR_INCLUDE (third_party/include), CMAKE_ARGS (more configure arguments).
#
# PROJECT_DIR must already hold packed/<SPLIT>-<SIZE>/{train,val}.safetensors, made
# with `excap pack` on a machine with OpenCV. Before going to the GPU machine, run
# scripts/vendor_headers.sh here and carry third_party/include (nlohmann_json, CLI11).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEVICE=${DEVICE:-cuda} BACKBONE=${BACKBONE:-resnet50} SIZE=${SIZE:-240} BATCH=${BATCH:-8}
BENCH_ITERS=${BENCH_ITERS:-50} ITERS=${ITERS:-3000} THREADS=${THREADS:-0} MODEL=${MODEL:-mtcsn}
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2 ;;
    --backbone) BACKBONE=$2 ;;
    --size) SIZE=$2 ;;
    --batch) BATCH=$2 ;;
    --bench-iters) BENCH_ITERS=$2 ;;
    --iters) ITERS=$2 ;;
    --threads) THREADS=$2 ;;
    --model) MODEL=$2 ;;
    -h | --help) sed -n '2,21p' "$0"; exit 0 ;;
    --*) echo "gpu_train_check: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
  shift 2
done
PROJECT=${1:-}
[ $# -ge 2 ] && ITERS=$2
BUILD=${BUILD:-$ROOT/build-gpu}
PY=${PYTHON:-python3}
VENDOR_INCLUDE=${VENDOR_INCLUDE:-$ROOT/third_party/include}
started=$(date +%s)
elapsed() { echo "gpu_train_check: $1 after $(($(date +%s) - started)) s"; }

# The CUDA LibTorch of the machine's torch; without one, the system's (Debian's, on CPU).
PREFIX=$("$PY" -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
echo "gpu_train_check: LibTorch from ${PREFIX:-the system paths}"
GENERATOR=
command -v ninja >/dev/null 2>&1 && GENERATOR="-G Ninja"
# A unity build compiles each target's LibTorch-heavy sources in a few translation units.
# shellcheck disable=SC2086  # GENERATOR and CMAKE_ARGS are word lists on purpose
cmake -S "$ROOT" -B "$BUILD" $GENERATOR -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-Release}" -DEXCAP_WITH_OPENCV=OFF \
  -DEXCAP_WITH_STUDIO=OFF -DEXCAP_BUILD_TESTS=OFF -DCMAKE_UNITY_BUILD="${UNITY:-1}" \
  -DEXCAP_VENDOR_INCLUDE="$VENDOR_INCLUDE" ${PREFIX:+-DCMAKE_PREFIX_PATH="$PREFIX"} \
  ${CMAKE_ARGS:-}
cmake --build "$BUILD" --target excap-model -j "${JOBS:-$(nproc)}"
elapsed "excap-model built"
EXCAP=$BUILD/bin/excap-model

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
elif [ "$DEVICE" != cpu ]; then
  "$PY" -c 'import torch; print(torch.cuda.get_device_name(0))' || true
fi
WARMUP=$((BENCH_ITERS / 5 + 1))
"$EXCAP" bench train --device "$DEVICE" --model "$MODEL" --backbone "$BACKBONE" --size "$SIZE" \
  --batch "$BATCH" --iters "$BENCH_ITERS" --warmup "$WARMUP" --threads "$THREADS" \
  --python none --json "$BUILD/bench_train_$DEVICE.json"
elapsed "bench train done"
[ -n "$PROJECT" ] || exit 0

RUN="gpu-check-$DEVICE-$ITERS"
"$EXCAP" train "$PROJECT" --split "${SPLIT:-main}" --model "$MODEL" --backbone "$BACKBONE" \
  --size "$SIZE" --batch "$BATCH" --device "$DEVICE" --threads "$THREADS" --iters "$ITERS" \
  --run "$RUN" --amp "${AMP:-off}"
"$EXCAP" eval "$PROJECT" --run "$RUN" --subset "${SUBSET:-val}" --device "$DEVICE" \
  --threads "$THREADS"
elapsed "train and eval done"
