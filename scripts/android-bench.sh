#!/bin/sh
# Runs pare-bench on an Android phone over adb and pulls its JSON lines back.
# NOT tested here: no phone (and no NDK) is reachable from pare's build
# machines; see docs/android.md.
#
#   sh scripts/android-bench.sh [OPTIONS] [-- PARE_BENCH_ARGS...]
#
# options:
#   --build DIR     the NDK build holding bench/pare-bench (default build-android)
#   --model FILE    push FILE (.pare or .onnx) and run `models --model FILE`
#   --baseline FILE push FILE too and pass --baseline (the uncompressed model)
#   --lib FILE      push a shared library pare-bench needs (e.g. libprotobuf-c.so
#                   of the NDK prefix); repeatable
#   --out DIR       where the results go (default android-bench-out)
#   -s SERIAL       the device, when several are attached (as adb -s)
#
# Without --model and without arguments after --, it runs `gemm startup`.
# Results: DIR/bench.jsonl (pare-bench's stdout: one JSON object per line)
# and DIR/bench.log (its stderr summary), both pulled from the phone.
set -eu
cd "$(dirname "$0")/.."
build=build-android
model=""
baseline=""
libs=""
out=android-bench-out
adb="adb"
while [ $# -gt 0 ]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --model) model="$2"; shift 2 ;;
    --baseline) baseline="$2"; shift 2 ;;
    --lib) libs="$libs $2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    -s) adb="adb -s $2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "android-bench: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
bench="$build/bench/pare-bench"
[ -x "$bench" ] || { echo "android-bench: no $bench: build with cmake/toolchains/android.cmake first" >&2; exit 1; }
command -v adb >/dev/null || { echo "android-bench: adb not found (Android SDK platform-tools)" >&2; exit 1; }

dir=/data/local/tmp/pare
# 64-bit phones keep the vendor OpenCL library in lib64, 32-bit processes use lib.
abi=$($adb shell getprop ro.product.cpu.abi | tr -d '\r')
case "$abi" in
  arm64*|x86_64) vlib=lib64 ;;
  *) vlib=lib ;;
esac
if command -v readelf >/dev/null && readelf -h "$bench" 2>/dev/null | grep -q 'Class:.*ELF32'; then
  vlib=lib
fi
echo "android-bench: device $($adb shell getprop ro.product.model | tr -d '\r') ($abi), vendor libraries in /vendor/$vlib"

$adb shell "mkdir -p $dir/cache"
$adb push "$bench" "$dir/pare-bench" >/dev/null
$adb shell "chmod 755 $dir/pare-bench"
for l in $libs; do $adb push "$l" "$dir/" >/dev/null; done
args=""
if [ -n "$model" ]; then
  $adb push "$model" "$dir/" >/dev/null
  args="models --model $dir/$(basename "$model")"
  if [ -n "$baseline" ]; then
    $adb push "$baseline" "$dir/" >/dev/null
    args="$args --baseline $dir/$(basename "$baseline")"
  fi
fi
[ $# -gt 0 ] && args="$args $*"
[ -n "$args" ] || args="gemm startup"

# LD_LIBRARY_PATH: the pushed libraries, then the vendor folders that hold
# libOpenCL.so and the libraries it depends on (pare opens it with dlopen;
# PARE_OPENCL_LIBRARY=/path/libOpenCL.so overrides the search).
# PARE_CACHE_DIR: the shell user cannot write $HOME (/) on most phones.
env="LD_LIBRARY_PATH=$dir:/vendor/$vlib:/system/vendor/$vlib:/system/$vlib PARE_CACHE_DIR=$dir/cache"
for v in PARE_OPENCL_LIBRARY PARE_DEVICE PARE_PROFILE; do
  eval "val=\${$v:-}"
  [ -n "$val" ] && env="$env $v=$val"
done
echo "android-bench: $env ./pare-bench $args"
# adb shell's own exit status is unreliable on old adb: echo it.
rc=$($adb shell "cd $dir && $env ./pare-bench $args > bench.jsonl 2> bench.log; echo \$?" | tr -d '\r' | tail -1)
mkdir -p "$out"
$adb pull "$dir/bench.jsonl" "$out/bench.jsonl" >/dev/null
$adb pull "$dir/bench.log" "$out/bench.log" >/dev/null
cat "$out/bench.log" >&2
echo "android-bench: pare-bench exited $rc; $(wc -l < "$out/bench.jsonl") JSON lines in $out/bench.jsonl"
[ "$rc" = 0 ]
