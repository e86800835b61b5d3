#!/bin/sh
# The arm64 job: on a Debian 12 x86-64 machine (as root, or with sudo),
# cross-builds pare for aarch64-linux-gnu with Debian's cross toolchain and
# runs its tests under qemu-aarch64 (user-mode emulation).
#
#   sh scripts/test-arm64.sh            # everything below
#   sh scripts/test-arm64.sh --no-cli   # skip the CLI test (about 4 of the minutes)
#
# 1. The reference backend (PARE_OPENCL=OFF), -Werror: the whole ctest suite
#    through qemu (CMAKE_CROSSCOMPILING_EMULATOR, set by the toolchain file),
#    then the two script tests ctest cannot run through qemu, done here by
#    hand (test_cli.sh with a qemu wrapper for `pare`; the install test as a
#    cross-built consumer of an installed arm64 copy).
# 2. The OpenCL build Android uses (PARE_OPENCL_LOADER=dlopen), -Werror,
#    with pare-bench: built, and its device-free tests run. There is no arm64
#    OpenCL device here (see docs/android.md), so the kernel tests are not run.
# 3. Checks that libpare.so needs no protobuf-c and prints its stripped size.
# 4. The app build (PARE_ONNX=OFF, OpenCL through dlopen): libpare alone,
#    with no protobuf-c anywhere in its build, and its stripped size.
#
# Build folders: build-arm64, build-arm64-cl and build-arm64-app (ARM64_BUILD_DIR overrides
# the prefix). CMAKE_BUILD_PARALLEL_LEVEL sets the build's parallelism.
set -eu
cd "$(dirname "$0")/.."
src=$(pwd)
run_cli=1
for a in "$@"; do
  case "$a" in
    --no-cli) run_cli=0 ;;
    *) echo "usage: sh scripts/test-arm64.sh [--no-cli]" >&2; exit 2 ;;
  esac
done
bdir="${ARM64_BUILD_DIR:-$src/build-arm64}"
bcl="$bdir-cl"
toolchain="$src/cmake/toolchains/aarch64-linux-gnu.cmake"
t0=$(date +%s)
step() { echo "== test-arm64: $* ($(($(date +%s) - t0)) s)"; }

# --- Packages: the build machine's tools, then the arm64 libraries (multiarch).
HOST_PACKAGES="cmake ninja-build pkg-config python3 binutils protobuf-c-compiler libonnx-dev
libonnx-testdata opencl-headers dataset-fashion-mnist crossbuild-essential-arm64 qemu-user"
ARM64_PACKAGES="libc6-dev:arm64 libcmocka-dev:arm64 zlib1g-dev:arm64 libprotobuf-c-dev:arm64
ocl-icd-opencl-dev:arm64"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
missing=""
for p in $HOST_PACKAGES $ARM64_PACKAGES; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  step "installing$missing"
  export DEBIAN_FRONTEND=noninteractive
  dpkg --print-foreign-architectures | grep -qx arm64 || $SUDO dpkg --add-architecture arm64
  $SUDO apt-get update -qq
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# --- 1. Reference backend: build and the whole suite under qemu.
step "reference build ($bdir)"
cmake -S . -B "$bdir" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DPARE_OPENCL=OFF -DPARE_BENCH=OFF -DPARE_WERROR=ON >/dev/null
cmake --build "$bdir"
step "ctest under qemu-aarch64"
# test_cli and test_consumer are shell scripts that run arm64 binaries
# directly (no emulator prefix) or build a consumer with the host compiler:
# both are done below instead.
(cd "$bdir" && ctest --output-on-failure -E '^(test_cli|test_consumer)$')

if [ "$run_cli" -eq 1 ]; then
  step "test_cli.sh through qemu"
  wrap="$bdir/pare-qemu"
  printf '#!/bin/sh\nexec qemu-aarch64 "%s" "$@"\n' "$bdir/tools/pare" > "$wrap"
  chmod +x "$wrap"
  sh "$src/tests/cli/test_cli.sh" "$wrap" reference
fi

step "install + cross-built consumer (find_package, shared and static) under qemu"
tmp=$(mktemp -d /tmp/pare-arm64-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$bdir" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$tmp/consumer" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'libpare.so.0' | head -1)")
for c in consumer_shared consumer_static consumer_onnx; do
  LD_LIBRARY_PATH="$libdir" qemu-aarch64 "$tmp/consumer/$c"
done

# --- 3. The runtime library: arm64, SONAME, no protobuf, stripped size.
lib=$(ls "$bdir"/libpare.so.*.*.* | head -1)
aarch64-linux-gnu-readelf -h "$lib" | grep -q 'Machine: *AArch64' || { echo "$lib is not AArch64"; exit 1; }
aarch64-linux-gnu-readelf -d "$lib" | grep -q 'SONAME.*libpare.so.0' || { echo "no SONAME"; exit 1; }
if aarch64-linux-gnu-readelf -d "$lib" | grep NEEDED | grep -q protobuf; then
  echo "FAIL: libpare.so depends on protobuf-c"; exit 1
fi
aarch64-linux-gnu-readelf -d "$bdir"/libpare_onnx.so.0 | grep NEEDED | grep -q protobuf-c ||
  { echo "FAIL: libpare_onnx.so should carry the protobuf-c dependency"; exit 1; }
size_of() { aarch64-linux-gnu-strip -o "$tmp/s" "$1" && wc -c < "$tmp/s"; }
echo "libpare.so (arm64, reference only): needs $(aarch64-linux-gnu-readelf -d "$lib" |
  sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
echo "  stripped: $(size_of "$lib") bytes; libpare_onnx.so stripped: $(size_of "$bdir/libpare_onnx.so.0") bytes"

# --- 2. The OpenCL build with the dlopen loader (Android's configuration).
step "OpenCL (dlopen loader) build with pare-bench ($bcl)"
cmake -S . -B "$bcl" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DPARE_OPENCL=ON -DPARE_OPENCL_LOADER=dlopen -DPARE_WERROR=ON >/dev/null
cmake --build "$bcl"
step "device-free tests of the OpenCL build under qemu"
# unit and onnx need no device; test_fallback checks that a missing OpenCL
# platform falls back to the reference backend.
(cd "$bcl" && ctest --output-on-failure -L 'unit|onnx' -E '^test_onnx_conformance' &&
  ctest --output-on-failure -R '^test_fallback$')
lcl=$(ls "$bcl"/libpare.so.*.*.* | head -1)
if aarch64-linux-gnu-readelf -d "$lcl" | grep NEEDED | grep -qE 'protobuf|OpenCL'; then
  echo "FAIL: the dlopen libpare.so links protobuf-c or libOpenCL"; exit 1
fi
echo "libpare.so (arm64, OpenCL, dlopen loader): needs $(aarch64-linux-gnu-readelf -d "$lcl" |
  sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
echo "  stripped: $(size_of "$lcl") bytes"

# --- 4. The app build: the runtime alone, no protobuf-c in the build at all.
bapp="$bdir-app"
step "app build: PARE_ONNX=OFF, OpenCL through dlopen ($bapp)"
cmake -S . -B "$bapp" -G Ninja -DCMAKE_TOOLCHAIN_FILE="$toolchain" -DCMAKE_BUILD_TYPE=Release \
  -DPARE_ONNX=OFF -DPARE_OPENCL=ON -DPARE_OPENCL_LOADER=dlopen -DPARE_WERROR=ON >/dev/null
cmake --build "$bapp"
if grep -qi protobuf "$bapp/build.ninja" || grep -v '^//' "$bapp/CMakeCache.txt" | grep -qi protobuf; then
  echo "FAIL: the PARE_ONNX=OFF build mentions protobuf"; exit 1
fi
lapp=$(ls "$bapp"/libpare.so.*.*.* | head -1)
echo "libpare.so (arm64, app build: OpenCL via dlopen, no ONNX): needs $(aarch64-linux-gnu-readelf -d "$lapp" |
  sed -n 's/.*NEEDED.*\[\(.*\)\]/\1/p' | tr '\n' ' ')"
echo "  stripped: $(size_of "$lapp") bytes"
step "done"
