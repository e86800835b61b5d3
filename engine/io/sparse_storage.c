/* Relative-index sparse storage of constant tensors (sparse_storage.h). */
#include "engine/io/sparse_storage.h"

#include <string.h>

static int is_zero(const uint8_t *p, size_t elem) {
  for (size_t b = 0; b < elem; b++)
    if (p[b]) return 0;
  return 1;
}

/* Entries, fillers included. */
static size_t count_entries(const uint8_t *d, size_t count, size_t elem) {
  size_t entries = 0, gap = 0;
  for (size_t i = 0; i < count; i++) {
    if (is_zero(d + i * elem, elem)) {
      gap++;
      continue;
    }
    entries += 1 + gap / 256; /* a filler for every 256 zeros bridged */
    gap = 0;
  }
  return entries;
}

size_t pare_sparse_storage_size(const void *data, size_t count, size_t elem) {
  return 8 + count_entries(data, count, elem) * (1 + elem);
}

void pare_sparse_storage_encode(const void *data, size_t count, size_t elem, uint8_t *out) {
  const uint8_t *d = data;
  uint64_t entries = count_entries(d, count, elem);
  for (int b = 0; b < 8; b++) out[b] = (uint8_t)(entries >> (8 * b));
  uint8_t *gaps = out + 8, *values = out + 8 + entries;
  size_t j = 0, gap = 0;
  for (size_t i = 0; i < count; i++) {
    if (is_zero(d + i * elem, elem)) {
      gap++;
      continue;
    }
    for (; gap >= 256; gap -= 256) { /* a zero filler 255 zeros on, then 256 fewer to bridge */
      gaps[j] = 255;
      memset(values + j * elem, 0, elem);
      j++;
    }
    gaps[j] = (uint8_t)gap;
    memcpy(values + j * elem, d + i * elem, elem);
    j++;
    gap = 0;
  }
}

int pare_sparse_storage_decode(const uint8_t *in, size_t size, size_t count, size_t elem,
                               void *out) {
  if (size < 8 || !elem) return -1;
  uint64_t entries = 0;
  for (int b = 0; b < 8; b++) entries |= (uint64_t)in[b] << (8 * b);
  if (entries > (size - 8) / (1 + elem) || 8 + entries * (1 + elem) != size) return -1;
  memset(out, 0, count * elem);
  const uint8_t *gaps = in + 8, *values = in + 8 + entries;
  uint8_t *o = out;
  size_t pos = 0; /* the next position an entry of gap 0 would take */
  for (uint64_t j = 0; j < entries; j++) {
    pos += gaps[j];
    if (pos >= count) return -1;
    memcpy(o + pos * elem, values + j * elem, elem);
    pos++;
  }
  return 0;
}

int pare_value_storage(const pare_value *v, size_t *stored_bytes) {
  *stored_bytes = v->nbytes;
  int64_t n = pare_value_numel(v);
  if (v->kind != PARE_VALUE_CONSTANT || !v->data || n < 64 || v->dtype == PARE_DT_I4 ||
      v->dtype == PARE_DT_UNDEFINED)
    return PARE_STORAGE_RAW;
  size_t elem = pare_dtype_bytes(v->dtype, 1);
  if (!elem || elem * (size_t)n != v->nbytes) return PARE_STORAGE_RAW;
  size_t sparse = pare_sparse_storage_size(v->data, (size_t)n, elem);
  if (sparse * 4 > v->nbytes * 3) return PARE_STORAGE_RAW;
  *stored_bytes = sparse;
  return PARE_STORAGE_SPARSE;
}
