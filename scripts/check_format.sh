#!/usr/bin/env bash
# Checks that every tracked .cpp/.h is formatted as the repository's
# .clang-format asks; prints clang-format's file:line:col for each difference.
#   scripts/check_format.sh [ROOT]      check the tree at ROOT (default: this repository)
#   scripts/check_format.sh --self-test
set -euo pipefail

if ! command -v clang-format >/dev/null 2>&1; then
  echo "check_format: clang-format is not installed (scripts/install-deps.sh installs it)" >&2
  exit 1
fi

if [ "${1:-}" = "--self-test" ]; then
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  cp "$(dirname "$0")/../.clang-format" "$tmp/"
  printf 'int f() { return 1; }\n' >"$tmp/good.cpp"
  if ! bash "$0" "$tmp" >/dev/null 2>&1; then
    echo "check_format self-test failed: a formatted file was reported" >&2; exit 1
  fi
  printf 'int   g( ) {return 2;}\n' >"$tmp/bad.h"
  if bash "$0" "$tmp" >/dev/null 2>&1; then
    echo "check_format self-test failed: an unformatted file passed" >&2; exit 1
  fi
  echo "check_format self-test: ok"
  exit 0
fi

cd "${1:-$(dirname "$0")/..}"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1 && [ -n "$(git ls-files '*.cpp' '*.h')" ]; then
  mapfile -t files < <(git ls-files '*.cpp' '*.h')
else
  mapfile -t files < <(find . -path ./build -prune -o \( -name '*.cpp' -o -name '*.h' \) -print | sort)
fi
bad=0
for f in "${files[@]}"; do
  if ! clang-format --style=file --dry-run -Werror "$f" 2>&1; then
    bad=$((bad + 1))
  fi
done
if [ "$bad" -ne 0 ]; then
  echo "check_format: $bad file(s) differ from .clang-format (fix: clang-format -i FILE)"
  exit 1
fi
echo "check_format: ${#files[@]} files formatted"
