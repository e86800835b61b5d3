/* Environment variables, with empty treated as unset. */
#include <stdlib.h>

#include "engine/core/core.h"

const char *pare_env(const char *name) {
  const char *v = getenv(name);
  return (v && v[0]) ? v : NULL;
}
