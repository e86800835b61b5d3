/* Environment variables, with empty treated as unset. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/core.h"

const char *pare_env(const char *name) {
  const char *v = getenv(name);
  return (v && v[0]) ? v : NULL;
}

int pare_env_on(const char *name) {
  const char *v = pare_env(name);
  return v && !strcmp(v, "1");
}

size_t pare_max_tensor_bytes(void) {
  const char *v = pare_env("PARE_MAX_TENSOR_BYTES");
  unsigned long long cap = v ? strtoull(v, NULL, 10) : 0;
  if (!cap) cap = 1ull << 34; /* 16 GiB */
  /* 32-bit targets: no tensor can exceed half the address space. */
  return cap > SIZE_MAX / 2 ? SIZE_MAX / 2 : (size_t)cap;
}
