# Cross-compiling pare for 64-bit ARM Linux with Debian's cross toolchain
# (crossbuild-essential-arm64: aarch64-linux-gnu-gcc) and the arm64 libraries
# of a multiarch system (dpkg --add-architecture arm64; libfoo-dev:arm64).
#   cmake -S . -B /tmp/build_arm64 -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/aarch64-linux-gnu.cmake -DPARE_OPENCL=OFF
# ctest then runs the test executables through qemu-aarch64 (qemu-user).
# scripts/test-arm64.sh does all of it.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(PARE_CROSS_TRIPLE aarch64-linux-gnu)
set(CMAKE_LIBRARY_ARCHITECTURE ${PARE_CROSS_TRIPLE})

find_program(PARE_CROSS_CC ${PARE_CROSS_TRIPLE}-gcc REQUIRED)
set(CMAKE_C_COMPILER ${PARE_CROSS_CC})
find_program(CMAKE_AR ${PARE_CROSS_TRIPLE}-ar)
find_program(CMAKE_RANLIB ${PARE_CROSS_TRIPLE}-ranlib)
find_program(CMAKE_STRIP ${PARE_CROSS_TRIPLE}-strip)
find_program(CMAKE_OBJDUMP ${PARE_CROSS_TRIPLE}-objdump)

# Multiarch: the arm64 libraries live in /usr/lib/aarch64-linux-gnu of the
# build machine itself, so there is no separate sysroot. Libraries and headers
# are looked up for the target, programs (protoc-c) on the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${PARE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# pkg-config must read the arm64 .pc files, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${PARE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest (and add_test with a target as its command) runs arm64 binaries
# through qemu-aarch64. libc6:arm64 (pulled in by every :arm64 library) puts
# the arm64 loader at /lib/ld-linux-aarch64.so.1, so qemu needs no -L.
find_program(PARE_QEMU_AARCH64 qemu-aarch64)
if(PARE_QEMU_AARCH64)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PARE_QEMU_AARCH64})
endif()
