/* Environment variables, with empty treated as unset. */
#include <stdlib.h>

#include "engine/core/core.h"

const char *pare_env(const char *name) {
  const char *v = getenv(name);
  return (v && v[0]) ? v : NULL;
}

size_t pare_max_tensor_bytes(void) {
  const char *v = pare_env("PARE_MAX_TENSOR_BYTES");
  unsigned long long cap = v ? strtoull(v, NULL, 10) : 0;
  return cap ? (size_t)cap : (size_t)1 << 34;
}
