# Cross-compiling pare for 64-bit ARM Linux with Debian's cross toolchain
# (crossbuild-essential-arm64: aarch64-linux-gnu-gcc) and the arm64 libraries
# of a multiarch system (dpkg --add-architecture arm64; libfoo-dev:arm64).
#   cmake -S . -B /tmp/build_arm64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake -DPARE_OPENCL=OFF
# ctest then runs the test executables through qemu-aarch64 (qemu-user).
# scripts/test-arm64.sh does all of it.
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PARE_CROSS_TRIPLE aarch64-linux-gnu)
set(PARE_QEMU_ARCH aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
