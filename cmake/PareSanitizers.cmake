# PARE_SANITIZE=address,undefined builds every target with those sanitizers.
if(PARE_SANITIZE)
  set(_pare_san "-fsanitize=${PARE_SANITIZE}")
  # GCC leaves float-to-integer overflow (NaN to uint8 and the like) out of
  # "undefined"; clang includes it. Ask for it either way.
  if(PARE_SANITIZE MATCHES "undefined")
    set(_pare_san ${_pare_san} -fsanitize=float-cast-overflow)
  endif()
  add_compile_options(${_pare_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(${_pare_san})
  message(STATUS "pare: sanitizers ${PARE_SANITIZE}")
endif()
# PARE_FUZZ=ON (clang only): everything is compiled with the coverage
# instrumentation libFuzzer needs plus ASan and UBSan; only the targets of
# tests/fuzz link libFuzzer's main (-fsanitize=fuzzer).
if(PARE_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "PARE_FUZZ=ON needs clang: CC=clang cmake -DPARE_FUZZ=ON ...")
  endif()
  if(PARE_SANITIZE)
    message(FATAL_ERROR "PARE_FUZZ=ON brings its own sanitizers: leave PARE_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined -g)
  add_link_options(-fsanitize=address,undefined)
  message(STATUS "pare: fuzzing build (libFuzzer, ASan, UBSan)")
endif()
