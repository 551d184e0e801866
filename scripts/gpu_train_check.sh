#!/bin/sh
# The trainer's GPU check in one command, for a lent GPU machine (no OpenCV,
# no Debian packages; its python3 holds a CUDA LibTorch). Builds `excap-model`
# (the program of the LibTorch commands) without OpenCV against that LibTorch,
# then benchmarks the paper's recipe (MTCSN, ResNet-50, 240x240, batch 8) and,
# when a packed project is given, trains on it for a few thousand iterations.
#
#   scripts/gpu_train_check.sh [PROJECT_DIR [ITERS]]
#
# PROJECT_DIR must already hold packed/<split>-240/{train,val}.safetensors made
# with `excap pack` on a machine with OpenCV (split name: $SPLIT, default "main").
# nlohmann_json: copy /usr/include/nlohmann into third_party/include (git-ignored)
# on the CPU machine and carry it.
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build-gpu}
PY=${PYTHON:-python3}
PREFIX=$($PY -c 'import torch; print(torch.utils.cmake_prefix_path)')
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DEXCAP_WITH_OPENCV=OFF \
  -DEXCAP_WITH_STUDIO=OFF -DEXCAP_BUILD_TESTS=OFF \
  -DCMAKE_PREFIX_PATH="$PREFIX" -DCMAKE_CXX_FLAGS="-I$ROOT/third_party/include"
cmake --build "$BUILD" --target excap-model -j "$(nproc)"
EXCAP=$BUILD/bin/excap-model
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
"$EXCAP" bench train --device cuda --model mtcsn --backbone resnet50 --size 240 --batch 8 \
  --iters 50 --warmup 10 --python none --json "$BUILD/bench_train_cuda.json"
if [ $# -ge 1 ]; then
  ITERS=${2:-3000}
  "$EXCAP" train "$1" --split "${SPLIT:-main}" --model mtcsn --backbone resnet50 --device cuda \
    --iters "$ITERS" --run "gpu-check-$ITERS" --amp "${AMP:-off}"
  "$EXCAP" eval "$1" --run "gpu-check-$ITERS" --subset "${SUBSET:-val}" --device cuda
fi
