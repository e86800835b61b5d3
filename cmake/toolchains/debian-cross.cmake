# Shared part of the Debian cross toolchain files (aarch64-linux-gnu.cmake,
# arm-linux-gnueabihf.cmake): they set CMAKE_SYSTEM_PROCESSOR,
# PARE_CROSS_TRIPLE and PARE_QEMU_ARCH, then include this.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_LIBRARY_ARCHITECTURE ${PARE_CROSS_TRIPLE})

find_program(PARE_CROSS_CC ${PARE_CROSS_TRIPLE}-gcc REQUIRED)
set(CMAKE_C_COMPILER ${PARE_CROSS_CC})
find_program(CMAKE_AR ${PARE_CROSS_TRIPLE}-ar)
find_program(CMAKE_RANLIB ${PARE_CROSS_TRIPLE}-ranlib)
find_program(CMAKE_STRIP ${PARE_CROSS_TRIPLE}-strip)
find_program(CMAKE_OBJDUMP ${PARE_CROSS_TRIPLE}-objdump)

# Multiarch: the target's libraries live in /usr/lib/<triple> of the build
# machine itself, so there is no separate sysroot. Libraries and headers
# are looked up for the target, programs (protoc-c) on the build machine.
set(CMAKE_FIND_ROOT_PATH /usr/${PARE_CROSS_TRIPLE})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE BOTH)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE BOTH)
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

# pkg-config must read the target's .pc files, never the build machine's.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${PARE_CROSS_TRIPLE}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# ctest (and add_test with a target as its command) runs the target's
# binaries through qemu-user. The target's libc6 (pulled in by every
# multiarch library) puts its loader under /lib, so qemu needs no -L.
find_program(PARE_QEMU_${PARE_QEMU_ARCH} qemu-${PARE_QEMU_ARCH})
if(PARE_QEMU_${PARE_QEMU_ARCH})
  set(CMAKE_CROSSCOMPILING_EMULATOR ${PARE_QEMU_${PARE_QEMU_ARCH}})
endif()
