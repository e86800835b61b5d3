/* FNV-1a 64-bit hash: keys of the program cache and tuning data. */
#include "engine/core/core.h"

uint64_t pare_hash64(const void *data, size_t size, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t h = seed;
  for (size_t i = 0; i < size; i++) {
    h ^= p[i];
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}
