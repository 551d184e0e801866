#!/usr/bin/env bash
# The README's two commands:
#   bash scripts/run.sh demo   install what is missing, build, run `excap demo`
#   bash scripts/run.sh test   install what is missing, build, run every test
set -euo pipefail
cd "$(dirname "$0")/.."

what="${1:-}"
case "$what" in demo|test) ;; *) echo "usage: bash scripts/run.sh demo|test" >&2; exit 2 ;; esac

bash scripts/install-deps.sh
jobs="$(nproc)"
build="${EXCAP_BUILD_DIR:-build}"
warnings=()
# CI runs `test`: a new warning fails it, so warnings are fixed when they appear.
[ "$what" = test ] && warnings=(-DEXCAP_WARNINGS_AS_ERRORS=ON)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${warnings[@]}"
cmake --build "$build" -j "$jobs"

if [ "$what" = demo ]; then
  out="${EXCAP_DEMO_DIR:-demo-project}"
  rm -rf "$out"
  "$build/bin/excap" demo "$out"
else
  # Each doctest case is its own ctest test, beside the lint (label lint) and install checks.
  ctest --test-dir "$build" --output-on-failure -j "$jobs"
fi
