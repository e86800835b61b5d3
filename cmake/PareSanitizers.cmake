# PARE_SANITIZE=address,undefined builds every target with those sanitizers.
if(PARE_SANITIZE)
  set(_pare_san "-fsanitize=${PARE_SANITIZE}")
  add_compile_options(${_pare_san} -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(${_pare_san})
  message(STATUS "pare: sanitizers ${PARE_SANITIZE}")
endif()
