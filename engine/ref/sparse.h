/* Sparse weights times dense activations: the storage formats, their
 * builders, and the plain C products that are the oracle (and the CPU
 * fallback) of kernels/sparse_f32.cl.
 *
 * Formats, all built from a dense row-major [m x k] weight matrix:
 *   CSR        row_ptr[m+1], col_idx[nnz] (int32), values fp32, or int8 with
 *              one fp32 scale per row (weight-only, symmetric: w = scale·q,
 *              q in [-127, 127]).
 *   BSR        br x bc blocks (the matrix padded with zeros up to whole
 *              blocks); a block is stored when any element is non-zero.
 *   N:M        at most n non-zeros in every group of mg consecutive elements
 *              of a row (2:4, 4:8); exactly n (value, position) slots per
 *              group, k padded up to a multiple of mg.
 *
 * Products C = A·B (+ bias per row of C) (ReLU optional), A the sparse
 * m x k matrix, B k x n and C m x n addressed through strides, so that
 *   row-major C = A·B:          b_rs = ldb, b_cs = 1, c_rs = ldc, c_cs = 1
 *   a layer Y = X·Wᵀ + b:       B = Xᵀ, C = Yᵀ: b_rs = 1, b_cs = K (the
 *                               row stride of X), c_rs = 1, c_cs = M.
 * Sums in double, rounded once. */
#ifndef PARE_ENGINE_REF_SPARSE_H
#define PARE_ENGINE_REF_SPARSE_H

#include <stddef.h>
#include <stdint.h>

#define PARE_REF_SPARSE_OK       0
#define PARE_REF_SPARSE_EINVAL   (-1) /* NULL, bad shape or stride, wrong value kind */
#define PARE_REF_SPARSE_ENOMEM   (-2)
#define PARE_REF_SPARSE_EPATTERN (-3) /* the dense matrix breaks the N:M pattern */

/* Compressed sparse rows. Exactly one of `values` (fp32) and `qvalues`
 * (int8, with `scales`) is set. */
typedef struct pare_csr {
  size_t m, k, nnz;
  int32_t *row_ptr; /* m + 1 */
  int32_t *col_idx; /* nnz, increasing within a row */
  float *values;    /* nnz, or NULL for int8 */
  int8_t *qvalues;  /* nnz, or NULL for fp32 */
  float *scales;    /* m, int8 only: w = scales[row]·q */
} pare_csr;

/* Block-sparse rows: block row r (rows r·br ..) holds the blocks
 * block_ptr[r] .. block_ptr[r+1]-1, block b at columns block_col[b]·bc ..,
 * its br·bc values row-major at values + b·br·bc (zeros where it sticks
 * out of the matrix). */
typedef struct pare_bsr {
  size_t m, k, br, bc, nblocks;
  size_t mb, kb;      /* block rows, block columns: ceil(m/br), ceil(k/bc) */
  int32_t *block_ptr; /* mb + 1 */
  int32_t *block_col; /* nblocks */
  float *values;      /* nblocks·br·bc */
} pare_bsr;

/* N:M structured sparsity: row i, group g (columns g·mg .. g·mg+mg-1) has
 * n slots e = (i·groups + g)·n + s: values[e] at column g·mg + pos[e].
 * Groups with fewer than n non-zeros fill the rest with value 0 at a
 * position inside the matrix (the group's first column). */
typedef struct pare_nm {
  size_t m, k, n, mg;
  size_t kp;     /* k rounded up to a multiple of mg */
  size_t groups; /* kp / mg */
  float *values; /* m·groups·n */
  uint8_t *pos;  /* m·groups·n, each < mg */
} pare_nm;

/* Builders: 0 or a PARE_REF_SPARSE_* error; on error *out is zeroed and
 * owns nothing. Every builder takes m, k >= 0 (an empty matrix is valid). */
int pare_csr_from_dense_f32(size_t m, size_t k, const float *w, pare_csr *out);
/* Quantizes each row with scale = max|w|/127 (1 for an all-zero row),
 * q = round(w/scale); entries that are zero before or after quantization
 * are dropped. */
int pare_csr_from_dense_i8(size_t m, size_t k, const float *w, pare_csr *out);
/* br, bc in 1..16. */
int pare_bsr_from_dense_f32(size_t m, size_t k, const float *w, size_t br, size_t bc,
                            pare_bsr *out);
/* 1 <= n <= mg <= 16; EPATTERN when a group holds more than n non-zeros. */
int pare_nm_from_dense_f32(size_t m, size_t k, const float *w, size_t n, size_t mg, pare_nm *out);

/* Makes w N:M in place: in every group of mg consecutive elements of a row
 * (the last one may be shorter) all but the n largest |w| are set to 0
 * (ties keep the earlier column). */
int pare_nm_prune_f32(size_t m, size_t k, float *w, size_t n, size_t mg);

/* Back to dense row-major [m x k] (int8 dequantized). */
int pare_csr_to_dense(const pare_csr *a, float *w);
int pare_bsr_to_dense(const pare_bsr *a, float *w);
int pare_nm_to_dense(const pare_nm *a, float *w);

/* Free the arrays and zero the struct (NULL or zeroed is fine). */
void pare_csr_free(pare_csr *a);
void pare_bsr_free(pare_bsr *a);
void pare_nm_free(pare_nm *a);

/* The dense operand and result of a product, see the top of this file.
 * C(i, j) = c[i·c_rs + j·c_cs] for i < m, j < n; written, never read. */
typedef struct pare_sparse_mm {
  size_t n;
  const float *b;
  size_t b_rs, b_cs;
  float *c;
  size_t c_rs, c_cs;
  const float *bias; /* m values, or NULL */
  int relu;
} pare_sparse_mm;

int pare_ref_csr_f32_mm(const pare_csr *a, const pare_sparse_mm *p);
int pare_ref_csr_i8_mm(const pare_csr *a, const pare_sparse_mm *p);
int pare_ref_bsr_f32_mm(const pare_bsr *a, const pare_sparse_mm *p);
int pare_ref_nm_f32_mm(const pare_nm *a, const pare_sparse_mm *p);

/* Direct NCHW convolution, groups 1, weights [cout x cin·kh·kw] (column
 * (ci·kh + ky)·kw + kx) in CSR, fp32 or int8. Pads are top, left, bottom,
 * right; strides and dilations >= 1. */
typedef struct pare_sparse_conv {
  size_t batch, cin, h, w;
  size_t cout, kh, kw;
  size_t stride_h, stride_w, pad_t, pad_l, pad_b, pad_r, dil_h, dil_w;
} pare_sparse_conv;

/* Output height and width; EINVAL for a bad geometry (a zero stride or
 * dilation, or a window larger than the padded input). */
int pare_sparse_conv_out(const pare_sparse_conv *p, size_t *oh, size_t *ow);

/* y[batch x cout x oh x ow] = conv(x[batch x cin x h x w], w) + bias[co],
 * ReLU when relu != 0; bias may be NULL. w is m = cout, k = cin·kh·kw. */
int pare_ref_sparse_conv_f32(const pare_sparse_conv *p, const pare_csr *w, const float *x,
                             const float *bias, int relu, float *y);

#endif
