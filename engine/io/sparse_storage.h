/* How a constant tensor is stored in a .pare file: as its raw bytes, or,
 * when mostly zero, as relative-index sparse storage:
 *
 *   u64 entries E, then E gap bytes, then E element values (elem bytes each)
 *
 * Entry j lands `gap_j` elements after the one before it (the first after
 * position −1), so a gap counts the zero elements skipped. Runs of more than
 * 255 zeros are bridged by filler entries of gap 255 whose value is zero.
 * An element is zero when all its bytes are (so −0.0 is kept, and decoding
 * gives back the exact bytes). Used for elements of whole bytes (not packed
 * int4). Sizes follow the density: at 90% zeros an fp32 tensor takes about
 * half a byte per weight, an int8 one about a fifth. */
#ifndef PARE_ENGINE_IO_SPARSE_STORAGE_H
#define PARE_ENGINE_IO_SPARSE_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include "engine/graph/graph.h"

enum { PARE_STORAGE_RAW = 0, PARE_STORAGE_SPARSE = 1 };

/* Bytes of the sparse storage of count elements of elem bytes. */
size_t pare_sparse_storage_size(const void *data, size_t count, size_t elem);
/* Writes it to out (pare_sparse_storage_size bytes). */
void pare_sparse_storage_encode(const void *data, size_t count, size_t elem, uint8_t *out);
/* Decodes in[0..size) into out (count elements, zero-filled first).
 * Returns 0, or −1 when the bytes do not describe such a tensor. */
int pare_sparse_storage_decode(const uint8_t *in, size_t size, size_t count, size_t elem,
                               void *out);

/* How constant v is written, and its stored bytes: sparse storage when it
 * takes at most 3/4 of the raw bytes, else raw. */
int pare_value_storage(const pare_value *v, size_t *stored_bytes);

#endif
