/* Context-modelled arithmetic coding of a tensor of bytes, most of them
 * zero: pruned int8 or int4 weights, or the codebook indices of shared
 * weights. It takes what deflate leaves: the positions of the nonzeros
 * cost about the entropy of a mask whose density varies by row and by
 * column (whole input pixels pruned away, some output neurons kept
 * denser than others), and each nonzero byte about the entropy of the
 * values' distribution.
 *
 * The tensor is seen as rows of `cols` bytes (the first dimension against
 * the rest: a layer's output channels against its inputs). Element by
 * element, in order, a binary range coder codes whether it is nonzero,
 * with an adaptive probability chosen by three things known to both sides:
 * how dense its row has been so far, how dense its column has been in the
 * rows before, and whether the element before it was nonzero. A nonzero
 * byte then follows as eight bits down a binary tree of adaptive
 * probabilities (one per node: an adaptive order-0 model of the values).
 * Probabilities are 32-bit fractions that follow the bits seen at a rate of
 * 1/(n + 2) after n bits, down to 1/256: close to the frequencies of a
 * stationary source, quick to learn at first. Everything is integer
 * arithmetic, so every machine decodes the same bytes.
 *
 * Stream: u64 cols, then the range coder's bytes (its leading byte, always
 * zero, left out). The coder spends at least 1/2840 of a bit on each bit it
 * codes, so a stream of P bytes codes at most about 22 700·P elements; the
 * decoder refuses a claim of more than 32 768·P. */
#ifndef PARE_ENGINE_IO_CODED_STORAGE_H
#define PARE_ENGINE_IO_CODED_STORAGE_H

#include <stddef.h>
#include <stdint.h>

/* Codes count bytes as rows of cols (count a multiple of cols, cols >= 1)
 * into *out (malloc'ed) of *size bytes. 0, or -1 when out of memory or the
 * shape does not divide. */
int pare_coded_encode(const uint8_t *bytes, size_t count, size_t cols, uint8_t **out, size_t *size);

/* Decodes in[0..size) into count bytes at out. 0, or -1 when the stream
 * does not describe count bytes (its row length does not divide them). A
 * damaged stream otherwise decodes to other bytes without reading or
 * writing out of bounds: callers check what the bytes mean. */
int pare_coded_decode(const uint8_t *in, size_t size, size_t count, uint8_t *out);

#endif
