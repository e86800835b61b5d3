#!/bin/sh
# Installs every Debian package that pare's build, tests, demo and benches
# need on a fresh Debian 12 machine. Idempotent, and quiet when all is
# there. Run as root (or with sudo available).
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config git python3
opencl-headers ocl-icd-opencl-dev pocl-opencl-icd clinfo
libclblast-dev libcmocka-dev
libprotobuf-c-dev protobuf-c-compiler libonnx-dev libonnx-testdata
dataset-fashion-mnist zlib1g-dev liblapacke-dev
clang libclang-rt-14-dev clang-format binutils"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: run as root to install:$missing" >&2; exit 1; }
  SUDO=sudo
fi
echo "setup: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "setup: done"
