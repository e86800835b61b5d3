/* Fully connected layers over sparse activations: the plain C oracle (and
 * CPU fallback) of kernels/spact_f32.cl.
 *
 * Activation pruning (ReLU, or |a| <= θ → 0 with a calibrated θ) leaves
 * most of the input X of a layer Y[rows x M] = X[rows x K]·Wᵀ + b at zero.
 * The product then runs in two steps:
 *   compaction  per row r of X, the positions (increasing) and values of
 *               its non-zeros: idx[r·K + j], val[r·K + j] for j < count[r].
 *               A value counts as zero when it compares equal to 0, so -0.0
 *               is dropped and NaN is kept.
 *   product     Y[r, :] = b + Σ_{j < count[r]} val[r·K + j]·Wt[idx[r·K + j], :]
 *               with Wt = Wᵀ stored [K x M] row-major (made once from W
 *               when the model is planned), ReLU optional.
 * Every weight row read is useful; zero activations cost nothing.
 *
 * Sums in double, rounded once. */
#ifndef PARE_ENGINE_REF_SPACT_H
#define PARE_ENGINE_REF_SPACT_H

#include <stddef.h>
#include <stdint.h>

#define PARE_REF_SPACT_OK     0
#define PARE_REF_SPACT_EINVAL (-1) /* NULL array, bad shape or stride, index out of range */

/* Non-zeros of the rows of x (row r at x + r·ldx, ldx >= k) into idx and
 * val (capacity rows·k each, row r at offset r·k) and count (rows). Only
 * the first count[r] slots of a row are written. rows or k may be 0. */
int pare_ref_spact_compact_f32(size_t rows, size_t k, const float *x, size_t ldx, int32_t *idx,
                               float *val, int32_t *count);

/* y[r·ldy + c] = bias[c] + Σ_j val[r·k + j]·wt[idx[r·k + j]·m + c] for
 * c < m (ReLU when relu != 0); bias may be NULL, ldy >= m. EINVAL when a
 * count is outside [0, k] or an index outside [0, k). */
int pare_ref_spact_fc_f32(size_t rows, size_t m, size_t k, const int32_t *idx, const float *val,
                          const int32_t *count, const float *wt, const float *bias, int relu,
                          float *y, size_t ldy);

/* wt[j·m + i] = w[i·k + j]: the [k x m] transpose of a layer's weight
 * w [m x k] (ONNX Gemm with transB = 1). */
int pare_ref_spact_transpose_f32(size_t m, size_t k, const float *w, float *wt);

#endif
