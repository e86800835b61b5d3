#!/bin/sh
# ThreadSanitizer on the code that runs threads: sessions of one model in
# several threads (test_sessions) and the threaded reference backend
# (test_ref_ops), on a reference-only build (PoCL's own threads are not
# instrumented and would drown the report).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPARE_SANITIZE=thread \
  -DPARE_OPENCL=OFF -DPARE_BENCH=OFF -DPARE_WERROR=ON >/dev/null
cmake --build build-tsan --target test_sessions test_ref_ops
cd build-tsan
TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R 'test_sessions|test_ref_ops'
