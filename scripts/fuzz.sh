#!/bin/sh
# Fuzzing: a clang build with libFuzzer, ASan and UBSan (PARE_FUZZ=ON) in
# build-fuzz/, then every fuzz target for PARE_FUZZ_SECONDS (60) seconds on
# its seed corpus (`ctest -L fuzz`). Not part of scripts/test.sh.
#   sh scripts/fuzz.sh              # all targets, 60 s each
#   PARE_FUZZ_SECONDS=600 sh scripts/fuzz.sh -R fuzz_onnx
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPARE_FUZZ=ON \
  -DPARE_OPENCL=OFF -DPARE_BENCH=OFF -DPARE_FUZZ_SECONDS="${PARE_FUZZ_SECONDS:-60}" >/dev/null
cmake --build build-fuzz --target fuzz_onnx fuzz_pare fuzz_npy fuzz_idx fuzz_cli fuzz_seeds
cd build-fuzz && ctest --output-on-failure -L fuzz "$@"
