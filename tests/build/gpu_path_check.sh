#!/bin/sh
# gpu_path_check.sh WORK EXCAP [LAUNCHER]: runs scripts/gpu_train_check.sh's whole
# path on CPU at tiny sizes, as a GPU machine would (no CMake package of the
# header-only libraries, no OpenSSL, libarchive, OpenCV or doctest), and fails
# unless the configure log shows the vendored headers were the ones used.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$1 EXCAP=$2 LAUNCHER=${3:-}
fail() { echo "gpu_path_check: $*" >&2; exit 1; }
# The build folder stays between runs (an incremental rebuild); the rest is made afresh.
rm -rf "$WORK/include" "$WORK/sample" "$WORK/log.txt"
mkdir -p "$WORK"

sh "$ROOT/scripts/vendor_headers.sh" "$WORK/include"
# A tiny labelled project with split "main", packed at 32x32 by the main build.
"$EXCAP" synth "$WORK/sample" --patients 3 --seconds 2 --fps 4 --size 64 --seed 7
P=$WORK/sample/project
"$EXCAP" adjudicate "$P" --auto-accept 0.5 --simulated-expert "$WORK/sample/truth" --expert expert
"$EXCAP" split "$P" --name main --group none
"$EXCAP" pack "$P" --split main --size 32

HIDE="--no-warn-unused-cli -DCMAKE_IGNORE_PATH=/usr/share/cmake/nlohmann_json;/usr/share/cmake/CLI11"
HIDE="$HIDE -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"
for pkg in OpenSSL LibArchive OpenCV doctest; do
  HIDE="$HIDE -DCMAKE_DISABLE_FIND_PACKAGE_$pkg=ON"
done
[ -n "$LAUNCHER" ] && HIDE="$HIDE -DCMAKE_CXX_COMPILER_LAUNCHER=$LAUNCHER"
# Unoptimised (-O0): the path is what is checked here, and it builds in about half the time.
BUILD_TYPE=None DEVICE=cpu BACKBONE=tiny SIZE=32 BATCH=2 BENCH_ITERS=2 ITERS=4 THREADS=2 JOBS=2 \
  BUILD="$WORK/build" VENDOR_INCLUDE="$WORK/include" PYTHON=/nonexistent CMAKE_ARGS="$HIDE" \
  sh "$ROOT/scripts/gpu_train_check.sh" "$P" >"$WORK/log.txt" 2>&1 ||
  { cat "$WORK/log.txt"; fail "scripts/gpu_train_check.sh failed"; }
cat "$WORK/log.txt"

for pkg in nlohmann_json CLI11; do
  grep -q "$pkg: vendored headers in $WORK/include" "$WORK/log.txt" ||
    fail "the configure did not take $pkg from the vendored headers in $WORK/include"
done
grep -q "isystem $WORK/include" "$WORK/build/compile_commands.json" ||
  fail "the compiler was not given the vendored headers"
[ -s "$WORK/build/bench_train_cpu.json" ] || fail "bench train wrote no JSON"
grep -q "mIoU" "$WORK/log.txt" || fail "eval printed no mIoU"
echo "gpu_path_check: passed"
