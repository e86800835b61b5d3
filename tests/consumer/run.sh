#!/bin/sh
# Installs the build into a temporary prefix, then builds and runs the
# consumer project with find_package(pare) (shared and static) and with
# pkg-config. Usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
build="$1"; src="$2"
tmp=$(mktemp -d /tmp/pare-consumer-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src/tests/consumer" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/$(ls "$tmp/prefix/lib" | grep -m1 linux-gnu || true)" \
  "$tmp/build/consumer_shared"
"$tmp/build/consumer_static"
LD_LIBRARY_PATH="$tmp/prefix/lib:$tmp/prefix/lib/$(ls "$tmp/prefix/lib" | grep -m1 linux-gnu || true)" \
  "$tmp/build/consumer_onnx"
# The shared library carries a versioned SONAME.
lib=$(find "$tmp/prefix" -name 'libpare.so.*.*.*' | head -1)
objdump -p "$lib" | grep -q 'SONAME *libpare.so.0' || { echo "no versioned SONAME"; exit 1; }
# pkg-config
pc=$(dirname "$(find "$tmp/prefix" -name pare.pc | head -1)")
PKG_CONFIG_PATH="$pc" cc "$src/tests/consumer/main.c" -o "$tmp/pc_consumer" \
  $(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs pare)
LD_LIBRARY_PATH="$(dirname "$lib")" "$tmp/pc_consumer"
echo "consumer: find_package (shared, static) and pkg-config ok"
