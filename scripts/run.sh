#!/bin/sh
# The main job of the README. Until the Fashion-MNIST demo lands it builds
# pare, lists the OpenCL devices and runs the GEMM and start-up benches.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
./build/tools/pare devices
./build/bench/pare-bench gemm startup
