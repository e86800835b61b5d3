# pare for Android: glue around the NDK's own toolchain file
# (<ndk>/build/cmake/android.toolchain.cmake), which does the real work.
# NOT tested here: the NDK cannot be installed on the machines pare is built
# on (see docs/android.md for what was and was not tested).
#
#   cmake -S . -B build-android -G Ninja \
#     -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/android.cmake \
#     -DPARE_ANDROID_NDK=$HOME/Android/Sdk/ndk/26.3.11579264 \
#     -DANDROID_ABI=arm64-v8a -DANDROID_PLATFORM=android-24 \
#     -DPARE_OPENCL_HEADERS=/path/to/OpenCL-Headers \
#     -DPARE_ANDROID_PREFIX=/path/to/android-arm64-prefix
#
# Variables:
#   PARE_ANDROID_NDK      the NDK (else $ANDROID_NDK_HOME, $ANDROID_NDK_ROOT, $ANDROID_NDK)
#   ANDROID_ABI           arm64-v8a (default) or armeabi-v7a (x86_64 for the emulator)
#   ANDROID_PLATFORM      android-24 (default) or later: the oldest API pare builds for
#   PARE_OPENCL_HEADERS   a folder holding CL/cl.h (Khronos OpenCL-Headers, or a copy of
#                         Debian's /usr/include/CL): the NDK ships no OpenCL headers
#   PARE_ANDROID_PREFIX   optional: where protobuf-c's runtime library was installed for
#                         this ABI (lib/libprotobuf-c.*, include/protobuf-c/,
#                         lib/pkgconfig/libprotobuf-c.pc), for libpare_onnx and the tools
#
# It also sets pare's defaults for Android: PARE_OPENCL_LOADER=dlopen (there
# is no ICD loader; vendors ship libOpenCL.so under their own names),
# PARE_CLBLAST=OFF and PARE_TESTS=OFF (cmocka is not in the NDK); without
# PARE_ANDROID_PREFIX, PARE_ONNX=OFF: libpare alone, which apps link, and no
# protobuf-c in the build at all.

# The toolchain file is read again for every try_compile, where -D values
# are not passed on: keep what the first read resolved in the environment.
if(NOT PARE_ANDROID_NDK)
  foreach(v _PARE_ANDROID_NDK ANDROID_NDK_HOME ANDROID_NDK_ROOT ANDROID_NDK)
    if(DEFINED ENV{${v}} AND EXISTS "$ENV{${v}}/build/cmake/android.toolchain.cmake")
      set(PARE_ANDROID_NDK "$ENV{${v}}")
      break()
    endif()
  endforeach()
endif()
if(NOT PARE_ANDROID_NDK OR NOT EXISTS "${PARE_ANDROID_NDK}/build/cmake/android.toolchain.cmake")
  message(FATAL_ERROR "pare: no Android NDK: pass -DPARE_ANDROID_NDK=/path/to/ndk (or set "
                      "ANDROID_NDK_HOME); it must contain build/cmake/android.toolchain.cmake")
endif()
set(ENV{_PARE_ANDROID_NDK} "${PARE_ANDROID_NDK}")
foreach(v PARE_OPENCL_HEADERS PARE_ANDROID_PREFIX)
  if(${v})
    set(ENV{_${v}} "${${v}}")
  elseif(DEFINED ENV{_${v}})
    set(${v} "$ENV{_${v}}")
  endif()
endforeach()

if(NOT ANDROID_ABI)
  set(ANDROID_ABI arm64-v8a)
endif()
if(NOT ANDROID_ABI MATCHES "^(arm64-v8a|armeabi-v7a|x86_64)$")
  message(FATAL_ERROR "pare: ANDROID_ABI=${ANDROID_ABI}: use arm64-v8a or armeabi-v7a (x86_64 for the emulator)")
endif()
if(NOT ANDROID_PLATFORM)
  set(ANDROID_PLATFORM android-24)
endif()
string(REGEX MATCH "[0-9]+$" _pare_api "${ANDROID_PLATFORM}")
if(NOT _pare_api OR _pare_api LESS 24)
  message(FATAL_ERROR "pare: ANDROID_PLATFORM=${ANDROID_PLATFORM}: pare needs android-24 or later")
endif()
# pare is C only: no C++ runtime to bundle.
if(NOT ANDROID_STL)
  set(ANDROID_STL none)
endif()
if(ANDROID_ABI STREQUAL "armeabi-v7a" AND NOT DEFINED ANDROID_ARM_NEON)
  set(ANDROID_ARM_NEON ON)
endif()

include("${PARE_ANDROID_NDK}/build/cmake/android.toolchain.cmake")

# The prefix with protobuf-c for this ABI: searched by find_*, pkg-config and the linker
# (pare links protobuf-c by its plain name).
if(PARE_ANDROID_PREFIX)
  list(APPEND CMAKE_FIND_ROOT_PATH "${PARE_ANDROID_PREFIX}")
  set(ENV{PKG_CONFIG_LIBDIR} "${PARE_ANDROID_PREFIX}/lib/pkgconfig")
  set(ENV{PKG_CONFIG_PATH} "")
  set(ENV{PKG_CONFIG_SYSROOT_DIR} "")
  set(CMAKE_SHARED_LINKER_FLAGS_INIT "-L${PARE_ANDROID_PREFIX}/lib")
  set(CMAKE_MODULE_LINKER_FLAGS_INIT "-L${PARE_ANDROID_PREFIX}/lib")
  set(CMAKE_EXE_LINKER_FLAGS_INIT "-L${PARE_ANDROID_PREFIX}/lib")
else()
  # Never let pkg-config hand the build machine's libraries to the NDK.
  set(ENV{PKG_CONFIG_LIBDIR} "/nonexistent")
endif()

# pare's defaults for Android (the cache wins over the option() defaults in CMakeLists.txt).
set(PARE_OPENCL_LOADER dlopen CACHE STRING "How libpare reaches OpenCL: link (ICD loader) or dlopen")
set(PARE_CLBLAST OFF CACHE BOOL "Use CLBlast as the fp32 GEMM baseline/path when found")
set(PARE_TESTS OFF CACHE BOOL "Build the tests")
if(NOT PARE_ANDROID_PREFIX)
  set(PARE_ONNX OFF CACHE BOOL "Build ONNX import/export (protobuf-c), the tools, tests and benches")
endif()

# OpenCL: headers only. With the dlopen loader libpare never links an
# OpenCL library, but CMakeLists.txt calls find_package(OpenCL REQUIRED),
# which wants a library path as well: the NDK's libdl stands in (it is
# linked anyway), and OpenCL::OpenCL is never used.
get_property(_pare_in_try GLOBAL PROPERTY IN_TRY_COMPILE)
if(NOT _pare_in_try AND NOT PARE_OPENCL_HEADERS AND NOT (DEFINED PARE_OPENCL AND NOT PARE_OPENCL))
  message(FATAL_ERROR "pare: the NDK has no OpenCL headers: pass -DPARE_OPENCL_HEADERS=DIR "
                      "(DIR/CL/cl.h), or -DPARE_OPENCL=OFF for the reference backend only")
endif()
if(PARE_OPENCL_HEADERS)
  if(NOT EXISTS "${PARE_OPENCL_HEADERS}/CL/cl.h")
    message(FATAL_ERROR "pare: PARE_OPENCL_HEADERS=${PARE_OPENCL_HEADERS} has no CL/cl.h")
  endif()
  set(OpenCL_INCLUDE_DIR "${PARE_OPENCL_HEADERS}" CACHE PATH "OpenCL headers (Khronos)")
  set(OpenCL_LIBRARY dl CACHE STRING "Unused with PARE_OPENCL_LOADER=dlopen")
  list(APPEND CMAKE_FIND_ROOT_PATH "${PARE_OPENCL_HEADERS}")
endif()
