#!/bin/sh
# The test command of the README: set-up, a warnings-as-errors build, and
# the default ctest suite (labels: unit, kernel, host, onnx, train, cli, install).
# Also builds the reference-only library (PARE_OPENCL=OFF), runs the unit,
# onnx, host, train and cli tests under ASan/UBSan, and the threaded tests
# under ThreadSanitizer.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARE_WERROR=ON >/dev/null
cmake --build build
cmake -S . -B build-noopencl -G Ninja -DPARE_OPENCL=OFF -DPARE_BENCH=OFF -DPARE_WERROR=ON >/dev/null
cmake --build build-noopencl
(cd build-noopencl && ctest --output-on-failure)
# The parsers, the executor, the trainers and the CLI under AddressSanitizer
# and UBSan.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARE_SANITIZE=address,undefined \
  -DPARE_BENCH=OFF -DPARE_WERROR=ON >/dev/null
cmake --build build-asan
# A test that fails is run once more: LeakSanitizer's end-of-process scan
# sometimes crashes in its own tracer thread ("Tracer caught signal 11")
# while PoCL's worker threads are live, after every check of the test has
# passed (twice in the last dozen runs). A failure of pare's fails twice.
(cd build-asan && ctest --output-on-failure -L 'unit|onnx|host|train|cli' --repeat until-pass:2)
# Threads under ThreadSanitizer: sessions of one model, the threaded
# reference backend.
sh scripts/tsan.sh
cd build && ctest --output-on-failure "$@"
