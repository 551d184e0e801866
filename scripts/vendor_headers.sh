#!/bin/sh
# Copies the header-only libraries the build needs (nlohmann_json, CLI11) from this
# machine's Debian packages into a git-ignored folder, so a machine without them
# (a lent GPU machine) configures from the copy: carry the folder there.
#
#   scripts/vendor_headers.sh [DEST]     (default: third_party/include)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/third_party/include}
SRC=${VENDOR_SOURCE:-/usr/include}
for lib in nlohmann CLI; do
  if [ ! -d "$SRC/$lib" ]; then
    echo "vendor_headers: $SRC/$lib is missing (Debian: nlohmann-json3-dev, libcli11-dev)" >&2
    exit 1
  fi
done
mkdir -p "$DEST"
for lib in nlohmann CLI; do
  rm -rf "${DEST:?}/$lib"
  cp -R "$SRC/$lib" "$DEST/$lib"
done
echo "vendored nlohmann_json and CLI11 headers into $DEST"
