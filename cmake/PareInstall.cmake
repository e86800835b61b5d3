# Installs headers, both libraries, the tools, a pkg-config file and a CMake
# package, so that find_package(pare) and pkg-config --libs pare both work.
include(CMakePackageConfigHelpers)

set(_pare_libs pare pare_static)
if(PARE_ONNX)
  list(APPEND _pare_libs pare_onnx pare_onnx_static)
endif()
install(TARGETS ${_pare_libs} EXPORT pareTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET pare_cli)
  install(TARGETS pare_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
if(TARGET pare-bench)
  install(TARGETS pare-bench RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
install(DIRECTORY include/pare DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(PARE_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/pare)
install(EXPORT pareTargets NAMESPACE pare:: DESTINATION ${PARE_CMAKE_DIR})
configure_package_config_file(cmake/pareConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/pareConfig.cmake
                              INSTALL_DESTINATION ${PARE_CMAKE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/pareConfigVersion.cmake
                                 COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pareConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/pareConfigVersion.cmake
        DESTINATION ${PARE_CMAKE_DIR})

set(PARE_PC_REQUIRES_PRIVATE "")
set(PARE_PC_LIBS_PRIVATE "-lz -lm -lpthread -ldl")
if(PARE_ONNX)
  set(PARE_PC_LIBS_PRIVATE "-lprotobuf-c ${PARE_PC_LIBS_PRIVATE}")
endif()
if(PARE_OPENCL AND PARE_OPENCL_LOADER STREQUAL "link")
  set(PARE_PC_REQUIRES_PRIVATE "OpenCL")
endif()
if(PARE_CLBLAST)
  string(APPEND PARE_PC_REQUIRES_PRIVATE " clblast")
endif()
# Relocatable: the prefix is found from the .pc file's own folder.
file(RELATIVE_PATH PARE_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
string(REGEX REPLACE "/$" "" PARE_PC_TO_PREFIX "${PARE_PC_TO_PREFIX}")
configure_file(cmake/pare.pc.in ${CMAKE_CURRENT_BINARY_DIR}/pare.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/pare.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
