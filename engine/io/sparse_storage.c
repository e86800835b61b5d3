/* Relative-index sparse storage of constant tensors (sparse_storage.h). */
#include "engine/io/sparse_storage.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/core/core.h"
#include "engine/io/coded_storage.h"

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

/* The smallest of raw, sparse, deflated raw, deflated sparse and (one-byte
 * elements, rows of `cols`; 0: not tried) coded storage of count elements
 * of elem bytes at `bytes` (whose raw form is raw[0..raw_size): packed
 * int4 is stored unpacked), when it is within `budget` bytes: *out
 * (malloc'ed, NULL when raw), *size and the kind; -1 when out of memory.
 * `wide` asks for deflate on raw data only when a probe says it pays
 * (trained fp32 weights do not shrink by a quarter). */
static int encode_bytes(const uint8_t *bytes, size_t count, size_t elem, size_t cols,
                        const void *raw, size_t raw_size, size_t budget, int wide, uint8_t **out,
                        size_t *size) {
  *out = NULL;
  *size = raw_size;
  uint8_t *sparse = NULL;
  size_t ssize = pare_sparse_storage_size(bytes, count, elem);
  if (ssize <= budget) {
    if (!(sparse = malloc(ssize))) return -1;
    pare_sparse_storage_encode(bytes, count, elem, sparse);
  }
  int kind = PARE_STORAGE_RAW;
  if (sparse) {
    kind = PARE_STORAGE_SPARSE;
    *out = sparse;
    *size = ssize;
  }
  /* Deflate pays on sparse streams (gap bytes), narrow quantized values and
   * repetitive data (batch-norm statistics). A fast pass over the first
   * 16 KiB decides whether wide raw data gets the full level-9 pass, which
   * would otherwise run over every weight on each save and `pare info`. */
  size_t dsize = 0;
  uint8_t *deflated = NULL;
  if ((sparse || !wide || worth_deflating(raw, raw_size)) &&
      (sparse ? deflate_bytes(sparse, ssize, &deflated, &dsize)
              : deflate_bytes(raw, raw_size, &deflated, &dsize)) < 0) {
    free(sparse);
    *out = NULL;
    *size = raw_size;
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
  /* Bytes (quantized weights, codebook indices) may code smaller still. */
  uint8_t *coded = NULL;
  size_t csize = 0;
  if (elem == 1 && cols && pare_coded_encode(bytes, count, cols, &coded, &csize) < 0) {
    free(*out);
    *out = NULL;
    *size = raw_size;
    return -1;
  }
  if (coded && csize <= budget && csize < *size) {
    free(*out);
    *out = coded;
    *size = csize;
    kind = PARE_STORAGE_CODED;
  } else {
    free(coded);
  }
  return kind;
}

/* Codebook storage of elements of elem >= 2 bytes that take at most 256
 * distinct values (weight sharing, or any tensor of few values): u16 K,
 * the K values, then one index byte per element, itself stored as
 * encode_bytes chooses. An element of all zero bytes gets index 0, so the
 * index stream is as sparse as the tensor. Returns the number of distinct
 * values, filling table and idx, or 0 when there are more than 256. */
static int codebook_of(const uint8_t *d, size_t count, size_t elem, uint8_t *table, uint8_t *idx) {
  enum { SLOTS = 1024 };
  int16_t slot[SLOTS];
  memset(slot, -1, sizeof slot);
  memset(table, 0, elem); /* index 0: zero, whether or not it occurs */
  int k = 1;
  slot[pare_hash64(table, elem, 0) % SLOTS] = 0;
  for (size_t i = 0; i < count; i++) {
    const uint8_t *e = d + i * elem;
    size_t h = pare_hash64(e, elem, 0) % SLOTS;
    while (slot[h] >= 0 && memcmp(table + (size_t)slot[h] * elem, e, elem)) h = (h + 1) % SLOTS;
    if (slot[h] < 0) {
      if (k == 256) return 0;
      memcpy(table + (size_t)k * elem, e, elem);
      slot[h] = (int16_t)k++;
    }
    idx[i] = (uint8_t)slot[h];
  }
  return k;
}

/* Codebook storage of v's elements, when they have few distinct values:
 * *out and *size, and the kind (CODEBOOK | the index stream's kind), or 0
 * when it does not apply or is not smaller than `budget`; -1 when out of
 * memory. */
static int encode_codebook(const uint8_t *d, size_t count, size_t elem, size_t cols, size_t budget,
                           uint8_t **out, size_t *size) {
  *out = NULL;
  uint8_t *table = malloc(256 * elem), *idx = malloc(count ? count : 1);
  if (!table || !idx) {
    free(table);
    free(idx);
    return -1;
  }
  int k = codebook_of(d, count, elem, table, idx), kind = 0;
  size_t head = 2 + (size_t)k * elem;
  if (k && head < budget) {
    uint8_t *stream = NULL;
    size_t ssize = 0;
    int sk = encode_bytes(idx, count, 1, cols, idx, count, budget - head, 0, &stream, &ssize);
    uint8_t *whole = sk >= 0 && head + ssize <= budget ? malloc(head + ssize) : NULL;
    if (sk < 0 || (head + ssize <= budget && !whole)) {
      kind = -1;
    } else if (whole) {
      whole[0] = (uint8_t)(k & 255);
      whole[1] = (uint8_t)(k >> 8);
      memcpy(whole + 2, table, (size_t)k * elem);
      memcpy(whole + head, stream ? stream : idx, ssize);
      *out = whole;
      *size = head + ssize;
      kind = sk | PARE_STORAGE_CODEBOOK;
    }
    free(stream);
  }
  free(table);
  free(idx);
  return kind;
}

int pare_value_encode(const pare_value *v, uint8_t **out, size_t *size) {
  return pare_value_encode_forms(v, 1, out, size);
}

int pare_value_encode_forms(const pare_value *v, int coded, uint8_t **out, size_t *size) {
  *out = NULL;
  *size = v->nbytes;
  int64_t n = pare_value_numel(v);
  if (v->kind != PARE_VALUE_CONSTANT || !v->data || n < 64 || v->dtype == PARE_DT_UNDEFINED ||
      v->nbytes != pare_dtype_bytes(v->dtype, (size_t)n))
    return PARE_STORAGE_RAW;
  size_t count = (size_t)n, budget = v->nbytes - v->nbytes / 4; /* save a quarter or more */
  int packed = v->dtype == PARE_DT_I4;
  size_t elem = packed ? 1 : pare_dtype_bytes(v->dtype, 1);
  /* Rows for the coded form: the first dimension against the rest (0:
   * not tried). */
  size_t cols = !coded ? 0
                : v->rank >= 2 && v->dims[0] > 0 && count % (size_t)v->dims[0] == 0
                    ? count / (size_t)v->dims[0]
                    : count;
  uint8_t *bytes = packed ? unpack_i4(v->data, count) : (uint8_t *)v->data;
  if (!bytes) return -1;
  int kind =
      encode_bytes(bytes, count, elem, cols, v->data, v->nbytes, budget, elem > 2, out, size);
  if (packed) free(bytes);
  if (kind < 0 || elem < 2) return kind;
  uint8_t *cb = NULL;
  size_t cbsize = 0;
  int ck =
      encode_codebook(v->data, count, elem, cols, *size < budget ? *size : budget, &cb, &cbsize);
  if (ck < 0) {
    free(*out);
    *out = NULL;
    *size = v->nbytes;
    return -1;
  }
  if (cb && cbsize < *size) {
    free(*out);
    *out = cb;
    *size = cbsize;
    return ck;
  }
  free(cb);
  return kind;
}

size_t pare_value_stored_bytes(const pare_value *v) {
  uint8_t *buf;
  size_t size;
  if (pare_value_encode(v, &buf, &size) < 0) return v->nbytes;
  free(buf);
  return size;
}

/* count elements of elem bytes stored as `storage` (raw or sparse, either
 * possibly deflated) in in[0..size), into out. */
static int decode_stream(const uint8_t *in, size_t size, int storage, size_t count, size_t elem,
                         void *out) {
  size_t raw = count * elem;
  if (storage & PARE_STORAGE_CODED) /* a form of its own, for bytes */
    return storage == PARE_STORAGE_CODED && elem == 1 ? pare_coded_decode(in, size, count, out)
                                                      : -1;
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
  if (storage & PARE_STORAGE_SPARSE)
    rc = pare_sparse_storage_decode(in, size, count, elem, out);
  else if (size != raw)
    rc = -1;
  else
    memcpy(out, in, raw);
  free(inflated);
  return rc;
}

/* Codebook storage: u16 K, K values, the index stream as `storage` says. */
static int decode_codebook(const uint8_t *in, size_t size, int storage, size_t count, size_t elem,
                           uint8_t *out) {
  if (size < 2) return -1;
  size_t k = (size_t)in[0] | (size_t)in[1] << 8;
  if (k < 1 || k > 256 || size < 2 + k * elem) return -1;
  const uint8_t *table = in + 2;
  uint8_t *idx = malloc(count ? count : 1);
  if (!idx) return -1;
  size_t head = 2 + k * elem;
  int rc = decode_stream(in + head, size - head, storage, count, 1, idx);
  for (size_t i = 0; !rc && i < count; i++) {
    if (idx[i] >= k)
      rc = -1;
    else
      memcpy(out + i * elem, table + (size_t)idx[i] * elem, elem);
  }
  free(idx);
  return rc;
}

int pare_value_decode(const uint8_t *in, size_t size, int storage, pare_dtype dt, size_t count,
                      void *out) {
  int packed = dt == PARE_DT_I4;
  size_t elem = packed ? 1 : pare_dtype_bytes(dt, 1);
  if (storage & ~(PARE_STORAGE_SPARSE | PARE_STORAGE_DEFLATE | PARE_STORAGE_CODEBOOK |
                  PARE_STORAGE_CODED) ||
      !elem)
    return -1;
  if (storage & PARE_STORAGE_CODEBOOK)
    return elem < 2 ? -1
                    : decode_codebook(in, size, storage & ~PARE_STORAGE_CODEBOOK, count, elem, out);
  if (!packed || !(storage & (PARE_STORAGE_SPARSE | PARE_STORAGE_CODED))) /* packed int4 raw */
    return decode_stream(in, size, storage, packed ? 1 : count,
                         packed ? pare_dtype_bytes(dt, count) : elem, out);
  uint8_t *bytes = malloc(count ? count : 1);
  int rc = bytes ? decode_stream(in, size, storage, count, 1, bytes) : -1;
  if (!rc) pack_i4(bytes, count, out);
  free(bytes);
  return rc;
}
