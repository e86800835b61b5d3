/* The library's version, set by CMake from project(VERSION). */
#include "engine/core/core.h"

const char *pare_version(void) { return PARE_VERSION_STRING; }
