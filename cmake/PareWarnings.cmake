# Warnings for pare's own targets; PARE_WERROR (set in CI) makes them errors.
function(pare_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wstrict-prototypes
                         -Wmissing-prototypes -Wno-unused-parameter)
  if(PARE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
