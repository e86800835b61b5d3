/* Launcher of kernels/sparse_f32.cl: sparse weight (CSR fp32 or int8, BSR,
 * N:M) times dense activation, and sparse direct convolution, on device
 * buffers. The formats are those of engine/ref/sparse.h, uploaded as they
 * are by the pare_sparse_*_upload helpers; results match the pare_ref_*
 * products within the tolerances of tests/kernels/test_sparse_f32.c. */
#ifndef PARE_HOST_LAUNCH_SPARSE_F32_H
#define PARE_HOST_LAUNCH_SPARSE_F32_H

#include "engine/ref/sparse.h"
#include "host/runtime.h"

/* A CSR matrix on the device: row_ptr (m+1 int32), col_idx (nnz int32),
 * values (nnz fp32, or nnz int8 when int8 != 0) and, for int8, scales (m
 * fp32). Arrays must be consistent (as the builders make them): the
 * kernels clamp column indices into the matrix, but trust row_ptr. */
typedef struct pare_csr_cl {
  size_t m, k, nnz;
  int int8;
  cl_mem row_ptr, col_idx, values, scales;
} pare_csr_cl;

/* BSR on the device: block_ptr (mb+1), block_col (nblocks), values
 * (nblocks·br·bc fp32). */
typedef struct pare_bsr_cl {
  size_t m, k, br, bc, nblocks;
  cl_mem block_ptr, block_col, values;
} pare_bsr_cl;

/* N:M on the device: values (m·groups·n fp32), pos (m·groups·n uint8). */
typedef struct pare_nm_cl {
  size_t m, k, n, mg, groups;
  cl_mem values, pos;
} pare_nm_cl;

/* Copies a host format to new device buffers (read-only); on error nothing
 * is left allocated. release frees them and zeroes the struct. */
pare_status pare_sparse_csr_upload(pare_cl_runtime *rt, const pare_csr *h, pare_csr_cl *d,
                                   pare_error *err);
pare_status pare_sparse_bsr_upload(pare_cl_runtime *rt, const pare_bsr *h, pare_bsr_cl *d,
                                   pare_error *err);
pare_status pare_sparse_nm_upload(pare_cl_runtime *rt, const pare_nm *h, pare_nm_cl *d,
                                  pare_error *err);
void pare_sparse_csr_release(pare_cl_runtime *rt, pare_csr_cl *d);
void pare_sparse_bsr_release(pare_cl_runtime *rt, pare_bsr_cl *d);
void pare_sparse_nm_release(pare_cl_runtime *rt, pare_nm_cl *d);

/* The dense side of a product C = A·B (+ bias[i]) (ReLU): B(k, j) =
 * b[off_b + k·b_rs + j·b_cs], C(i, j) = c[off_c + i·c_rs + j·c_cs], in
 * elements; C is written, never read; bias (m floats) may be NULL.
 * Row-major C = A·B: b_rs = ldb, b_cs = 1, c_rs = ldc, c_cs = 1 (the fast
 * vector path). A layer Y[n x m] = X[n x k]·Wᵀ + b: b_rs = 1, b_cs = ldx,
 * c_rs = 1, c_cs = ldy (element gathers). */
typedef struct pare_sparse_f32_args {
  size_t n;
  cl_mem b;
  size_t off_b, b_rs, b_cs;
  cl_mem c;
  size_t off_c, c_rs, c_cs;
  cl_mem bias;
  int relu;
} pare_sparse_f32_args;

/* C = A·B with A in CSR (fp32 or int8 by a->int8), BSR or N:M. An empty
 * product (m or n zero) launches nothing; k == 0 gives bias (or 0).
 * PARE_ERR_INVALID_ARG for NULL buffers, zero strides or a bad format
 * description, PARE_ERR_UNSUPPORTED beyond 2^31 elements. */
pare_status pare_launch_sparse_csr_f32(pare_cl_runtime *rt, const pare_csr_cl *a,
                                       const pare_sparse_f32_args *g, cl_event *event,
                                       pare_error *err);
pare_status pare_launch_sparse_bsr_f32(pare_cl_runtime *rt, const pare_bsr_cl *a,
                                       const pare_sparse_f32_args *g, cl_event *event,
                                       pare_error *err);
pare_status pare_launch_sparse_nm_f32(pare_cl_runtime *rt, const pare_nm_cl *a,
                                      const pare_sparse_f32_args *g, cl_event *event,
                                      pare_error *err);

/* y = conv(x, w) + bias (ReLU), NCHW, groups 1, as pare_ref_sparse_conv_f32;
 * w is m = cout, k = cin·kh·kw CSR (fp32 or int8); bias may be NULL. */
pare_status pare_launch_sparse_conv_f32(pare_cl_runtime *rt, const pare_sparse_conv *p,
                                        const pare_csr_cl *w, cl_mem x, cl_mem bias, int relu,
                                        cl_mem y, cl_event *event, pare_error *err);

#endif
