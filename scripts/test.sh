#!/bin/sh
# The test command of the README: set-up, a warnings-as-errors build, and
# the default ctest suite (labels: unit, kernel, host, cli, install).
# Also builds the reference-only library (PARE_OPENCL=OFF) to keep it honest.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPARE_WERROR=ON >/dev/null
cmake --build build
cmake -S . -B build-noopencl -G Ninja -DPARE_OPENCL=OFF -DPARE_BENCH=OFF -DPARE_WERROR=ON >/dev/null
cmake --build build-noopencl
(cd build-noopencl && ctest --output-on-failure)
cd build && ctest --output-on-failure "$@"
