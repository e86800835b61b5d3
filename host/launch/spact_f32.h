/* Launcher of kernels/spact_f32.cl: fully connected layers over sparse
 * activations, Y[rows x m] = X[rows x k]·Wᵀ + bias (ReLU), computed from
 * the non-zeros of X only (notation and oracle: engine/ref/spact.h).
 *
 * Two steps: compaction of X's non-zeros into device scratch buffers the
 * caller provides (sizes from pare_spact_scratch_size), then the product
 * with Wt = Wᵀ [k x m] (pare_ref_spact_transpose_f32 makes it on the host,
 * once per model). pare_launch_spact_f32 enqueues both. Results match the
 * reference within the tolerance of tests/kernels/test_spact_f32.c. */
#ifndef PARE_HOST_LAUNCH_SPACT_F32_H
#define PARE_HOST_LAUNCH_SPACT_F32_H

#include "engine/ref/spact.h"
#include "host/runtime.h"

/* Device scratch of the compaction: idx (rows·k int32), val (rows·k fp32),
 * count (rows int32); row r's slots start at r·k. Written by the
 * compaction, read by the product. */
typedef struct pare_spact_cl {
  cl_mem idx, val, count;
} pare_spact_cl;

/* The layer: X(r, j) = x[off_x + r·ldx + j], Y(r, c) = y[off_y + r·ldy + c]
 * (elements), wt [k x m] row-major, bias m floats or NULL. The compaction
 * uses rows, k and x; the product rows, m, k, wt, bias, relu and y. */
typedef struct pare_spact_f32_args {
  size_t rows, m, k;
  cl_mem x;
  size_t off_x, ldx;
  cl_mem wt;
  cl_mem bias;
  int relu;
  cl_mem y;
  size_t off_y, ldy;
} pare_spact_f32_args;

/* Bytes of each scratch buffer for rows x k (at least 4 each, so that an
 * empty shape still gets valid buffers). PARE_ERR_UNSUPPORTED beyond 2^31
 * elements. */
pare_status pare_spact_scratch_size(size_t rows, size_t k, size_t *idx_bytes, size_t *val_bytes,
                                    size_t *count_bytes, pare_error *err);

/* Allocates (READ_WRITE) or releases the three scratch buffers; on error
 * nothing is left allocated; release zeroes the struct. */
pare_status pare_spact_scratch_alloc(pare_cl_runtime *rt, size_t rows, size_t k, pare_spact_cl *s,
                                     pare_error *err);
void pare_spact_scratch_release(pare_cl_runtime *rt, pare_spact_cl *s);

/* Compaction of X into s. rows == 0 launches nothing; k == 0 writes zero
 * counts. */
pare_status pare_launch_spact_compact_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                          const pare_spact_cl *s, cl_event *event, pare_error *err);
/* The product from a compacted s. rows or m zero launches nothing; k == 0
 * gives bias (or 0). */
pare_status pare_launch_spact_fc_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                     const pare_spact_cl *s, cl_event *event, pare_error *err);
/* Both, in order on the runtime's queue; `event` is the product's. */
pare_status pare_launch_spact_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                  const pare_spact_cl *s, cl_event *event, pare_error *err);

#endif
