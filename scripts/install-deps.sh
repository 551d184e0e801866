#!/usr/bin/env bash
# Installs exactly the Debian 12 packages ExCap's build, demo and tests need;
# does nothing when they are all present. Run as root.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config git
  libtorch-dev libopenblas0-openmp          # LibTorch 1.13 (CPU) with an optimised BLAS
  libgloo-dev                               # Gloo headers: data-parallel training on CPU (c10d)
  libopencv-dev libopencv-contrib-dev       # video/image I/O, SLIC superpixels
  libglfw3-dev libimgui-dev libgl-dev       # excap-studio
  libgl1-mesa-dri xvfb xauth xdotool        # the studio under Xvfb (llvmpipe), driven by xdotool
  nlohmann-json3-dev libcli11-dev doctest-dev
  libssl-dev                                # SHA-256 / HMAC (pseudonyms, fingerprints)
  libarchive-dev                            # reading and (in tests) writing CVAT zips
  ffmpeg                                    # the extraction benchmark's peer
  clang-format                              # the format check (scripts/check_format.sh)
  python3 python3-torch python3-torchvision python3-sklearn  # test-time references only
  python3-opencv                            # the triage benchmark's Python peer decodes with cv2
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
