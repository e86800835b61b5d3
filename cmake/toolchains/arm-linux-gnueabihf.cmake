# Cross-compiling pare for 32-bit ARM Linux (ARMv7, hard float: the
# instruction set of Android's armeabi-v7a) with Debian's cross toolchain
# (crossbuild-essential-armhf) and armhf multiarch libraries
# (dpkg --add-architecture armhf; zlib1g-dev:armhf). scripts/test-arm64.sh
# builds the app library (PARE_ONNX=OFF) with it to keep pare 32-bit clean.
set(CMAKE_SYSTEM_PROCESSOR armv7-a)
set(PARE_CROSS_TRIPLE arm-linux-gnueabihf)
set(PARE_QEMU_ARCH arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-cross.cmake)
