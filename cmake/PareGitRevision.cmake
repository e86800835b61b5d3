# Writes OUT (a header defining PARE_GIT_REVISION) from `git describe` of
# SRC, rewriting it only when the revision changed, so that every build
# stamps the revision it was built from without recompiling needlessly.
#   cmake -DSRC=... -DOUT=... -P PareGitRevision.cmake
execute_process(COMMAND git -C "${SRC}" describe --always --dirty --abbrev=12
                OUTPUT_VARIABLE rev OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR rev STREQUAL "")
  set(rev "unknown")
endif()
set(text "#define PARE_GIT_REVISION \"${rev}\"\n")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
