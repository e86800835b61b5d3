/* How a constant tensor is stored in a .pare file: as its raw bytes, or,
 * when mostly zero, as relative-index sparse storage, either of them
 * possibly deflated (zlib) — whichever is smallest; a tensor of wide
 * elements with at most 256 distinct values (shared weights) may instead
 * take codebook storage. Sparse storage:
 *
 *   u64 entries E, then E gap bytes, then E element values (elem bytes each)
 *
 * Entry j lands `gap_j` elements after the one before it (the first after
 * position −1), so a gap counts the zero elements skipped. Runs of more than
 * 255 zeros are bridged by filler entries of gap 255 whose value is zero.
 * An element is zero when all its bytes are (so −0.0 is kept, and decoding
 * gives back the exact bytes). Packed int4 is stored one value a byte
 * (sign-extended) and packed again when read. Sizes follow the density: at
 * 90% zeros an fp32 tensor takes about half a byte per weight, an int8 one
 * about a fifth; deflate then takes what the gaps and the few distinct
 * quantized values still waste. Deflated storage: u64 size once inflated,
 * then a zlib stream.
 *
 * Codebook storage (elements of 2 bytes or more): u16 K (1..256), the K
 * distinct values, then one index byte per element, raw or sparse, either
 * possibly deflated (the storage flags beside CODEBOOK say which); the
 * all-zero value is index 0, so a pruned tensor's indices are as sparse as
 * its values. At 16 shared values deflate codes each index in about 4
 * bits or less.
 *
 * Coded storage (bytes: int8, packed int4 one value a byte, a codebook's
 * indices): coded_storage.h's context-modelled arithmetic coding, which
 * follows each row's and column's density; usually the smallest form of
 * a pruned layer's bytes. */
#ifndef PARE_ENGINE_IO_SPARSE_STORAGE_H
#define PARE_ENGINE_IO_SPARSE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

/* Storage kinds: flags. */
enum {
  PARE_STORAGE_RAW = 0,
  PARE_STORAGE_SPARSE = 1,
  PARE_STORAGE_DEFLATE = 2,
  PARE_STORAGE_CODEBOOK = 4,
  PARE_STORAGE_CODED = 8 /* coded_storage.h; bytes only, alone (no SPARSE or DEFLATE) */
};

/* Bytes of the sparse storage of count elements of elem bytes. */
size_t pare_sparse_storage_size(const void *data, size_t count, size_t elem);
/* Writes it to out (pare_sparse_storage_size bytes). */
void pare_sparse_storage_encode(const void *data, size_t count, size_t elem, uint8_t *out);
/* Decodes in[0..size) into out (count elements, zero-filled first).
 * Returns 0, or −1 when the bytes do not describe such a tensor. */
int pare_sparse_storage_decode(const uint8_t *in, size_t size, size_t count, size_t elem,
                               void *out);

/* The stored form of constant v: *out (malloc'ed; NULL when raw: the data
 * itself) of *size bytes; returns its storage kind. A form that saves less
 * than a quarter of the raw bytes is not taken. -1: out of memory. */
int pare_value_encode(const pare_value *v, uint8_t **out, size_t *size);
/* The same with the coded form left out when `coded` is 0 (pare-bench
 * storage measures what it adds). */
int pare_value_encode_forms(const pare_value *v, int coded, uint8_t **out, size_t *size);
/* Bytes of v as stored (pare_value_encode's size). */
size_t pare_value_stored_bytes(const pare_value *v);
/* Decodes stored bytes of a `storage` kind into out (count elements of dt,
 * pare_dtype_bytes(dt, count) bytes). 0, or −1 when they do not describe
 * such a tensor. */
int pare_value_decode(const uint8_t *in, size_t size, int storage, pare_dtype dt, size_t count,
                      void *out);

#endif
