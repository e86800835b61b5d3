/* Relative-index sparse storage of constant tensors (sparse_storage.h). */
#include "engine/io/sparse_storage.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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

/* The elements of v one per byte when it is packed int4 (sign-extended). */
static uint8_t *unpack_i4(const uint8_t *packed, size_t count) {
  uint8_t *out = malloc(count ? count : 1);
  for (size_t i = 0; out && i < count; i++) {
    int v = (packed[i / 2] >> (4 * (i % 2))) & 15;
    out[i] = (uint8_t)(int8_t)(v >= 8 ? v - 16 : v);
  }
  return out;
}

static void pack_i4(const uint8_t *bytes, size_t count, uint8_t *packed) {
  memset(packed, 0, (count + 1) / 2);
  for (size_t i = 0; i < count; i++) packed[i / 2] |= (uint8_t)((bytes[i] & 15) << (4 * (i % 2)));
}

/* u64 inflated size + zlib stream of data[0..n) into *out, or *out NULL
 * when zlib cannot; -1 when out of memory. */
static int deflate_bytes(const uint8_t *data, size_t n, uint8_t **result, size_t *size) {
  *result = NULL;
  uLongf cap = compressBound((uLong)n);
  uint8_t *out = malloc(8 + cap);
  if (!out) return -1;
  if (compress2(out + 8, &cap, data, (uLong)n, 9) != Z_OK) {
    free(out);
    return 0;
  }
  for (int b = 0; b < 8; b++) out[b] = (uint8_t)((uint64_t)n >> (8 * b));
  *size = 8 + cap;
  *result = out;
  return 0;
}

/* 1 when a level-1 deflate of the first 16 KiB saves a fifth of them. */
static int worth_deflating(const void *data, size_t n) {
  enum { PROBE = 16384 };
  uint8_t buf[PROBE + 1024];
  uLongf got = sizeof buf;
  uLong len = (uLong)(n < PROBE ? n : PROBE);
  return compress2(buf, &got, data, len, 1) == Z_OK && got * 5 <= len * 4;
}

int pare_value_encode(const pare_value *v, uint8_t **out, size_t *size) {
  *out = NULL;
  *size = v->nbytes;
  int64_t n = pare_value_numel(v);
  if (v->kind != PARE_VALUE_CONSTANT || !v->data || n < 64 || v->dtype == PARE_DT_UNDEFINED ||
      v->nbytes != pare_dtype_bytes(v->dtype, (size_t)n))
    return PARE_STORAGE_RAW;
  size_t count = (size_t)n, budget = v->nbytes - v->nbytes / 4; /* save a quarter or more */
  int packed = v->dtype == PARE_DT_I4;
  size_t elem = packed ? 1 : pare_dtype_bytes(v->dtype, 1);
  uint8_t *bytes = packed ? unpack_i4(v->data, count) : (uint8_t *)v->data;
  if (!bytes) return -1;
  /* Sparse when it pays; then deflate whichever of the two is smaller. */
  uint8_t *sparse = NULL;
  size_t ssize = pare_sparse_storage_size(bytes, count, elem);
  if (ssize <= budget) {
    if (!(sparse = malloc(ssize))) {
      if (packed) free(bytes);
      return -1;
    }
    pare_sparse_storage_encode(bytes, count, elem, sparse);
  }
  if (packed) free(bytes);
  int kind = PARE_STORAGE_RAW;
  if (sparse) {
    kind = PARE_STORAGE_SPARSE;
    *out = sparse;
    *size = ssize;
  }
  /* Deflate pays on sparse streams (gap bytes), narrow quantized values and
   * repetitive data (batch-norm statistics); trained fp32 weights do not
   * shrink by a quarter. A fast pass over the first 16 KiB decides whether
   * wide raw data gets the full level-9 pass, which would otherwise run over
   * every weight on each save and each `pare info`. */
  size_t dsize = 0;
  uint8_t *deflated = NULL;
  if ((sparse || elem <= 2 || worth_deflating(v->data, v->nbytes)) &&
      (sparse ? deflate_bytes(sparse, ssize, &deflated, &dsize)
              : deflate_bytes(v->data, v->nbytes, &deflated, &dsize)) < 0) {
    free(sparse);
    *out = NULL; /* it was sparse */
    *size = v->nbytes;
    return -1;
  }
  if (deflated && dsize <= budget && dsize < *size) {
    free(*out);
    *out = deflated;
    *size = dsize;
    kind |= PARE_STORAGE_DEFLATE;
  } else {
    free(deflated);
  }
  return kind;
}

size_t pare_value_stored_bytes(const pare_value *v) {
  uint8_t *buf;
  size_t size;
  if (pare_value_encode(v, &buf, &size) < 0) return v->nbytes;
  free(buf);
  return size;
}

int pare_value_decode(const uint8_t *in, size_t size, int storage, pare_dtype dt, size_t count,
                      void *out) {
  size_t raw = pare_dtype_bytes(dt, count);
  int packed = dt == PARE_DT_I4;
  size_t elem = packed ? 1 : pare_dtype_bytes(dt, 1);
  if (storage & ~(PARE_STORAGE_SPARSE | PARE_STORAGE_DEFLATE) || !elem) return -1;
  uint8_t *inflated = NULL;
  if (storage & PARE_STORAGE_DEFLATE) { /* u64 size, then the zlib stream */
    if (size < 8) return -1;
    uint64_t n = 0;
    for (int b = 0; b < 8; b++) n |= (uint64_t)in[b] << (8 * b);
    /* Bounded: raw data never exceeds the tensor, sparse at most 9 bytes an element. */
    if (n > (uint64_t)raw * 9 + 8 || !(inflated = malloc(n ? (size_t)n : 1))) return -1;
    uLongf got = (uLongf)n;
    if (uncompress(inflated, &got, in + 8, (uLong)(size - 8)) != Z_OK || got != n) {
      free(inflated);
      return -1;
    }
    in = inflated;
    size = (size_t)n;
  }
  int rc = 0;
  if (!(storage & PARE_STORAGE_SPARSE)) {
    if (size != raw)
      rc = -1;
    else
      memcpy(out, in, raw);
  } else if (!packed) {
    rc = pare_sparse_storage_decode(in, size, count, elem, out);
  } else {
    uint8_t *bytes = malloc(count ? count : 1);
    rc = bytes ? pare_sparse_storage_decode(in, size, count, 1, bytes) : -1;
    if (!rc) pack_i4(bytes, count, out);
    free(bytes);
  }
  free(inflated);
  return rc;
}
