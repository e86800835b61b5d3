/* Integer quantization for inference: the scheme, its exact integer
 * arithmetic and the plain C reference of kernels/gemm_i8.cl (the oracle of
 * its tests and the CPU fallback).
 *
 * Scheme
 *   Activations: int8, asymmetric per tensor, real = s_x·(q − z_x),
 *     z_x in [−128, 127].
 *   Weights: int8 (or int4), symmetric per output channel c, zero point 0,
 *     real = s_w[c]·q.
 *   Bias: int32 at scale s_x·s_w[c] (zero point 0).
 *   Accumulator of output channel c (int32):
 *     acc = Σ_k (x_k − z_x)·w_k + bias[c]
 *         = Σ_k x_k·w_k − z_x·wsum[c] + bias[c],  wsum[c] = Σ_k w_k,
 *     which is how the kernels compute it: the zero-point term is one
 *     pre-summed value per channel. Every result is exact as long as the
 *     accumulator fits int32, which holds for K ≤ 65536 (|x − z_x| ≤ 255,
 *     |w| ≤ 128) and |bias| ≤ 2^23; the launchers refuse larger K.
 *   Output (int8, scale s_y, zero point z_y): the real multiplier
 *     s_x·s_w[c]/s_y is stored as a Q31 integer m[c] and a right shift
 *     r[c] (pare_quant_multiplier), so that real ≈ m·2^−(31 + r), and
 *       y = clamp(round(acc·m / 2^(31 + r)) + z_y, qmin, qmax)
 *     with one rounding, to nearest, ties away from zero, computed exactly
 *     in 64 bits (pare_quant_requantize). [qmin, qmax] ⊆ [−128, 127] is the
 *     fused activation: [−128, 127] none, [z_y, 127] ReLU, [z_y,
 *     z_y + round(6/s_y)] ReLU6 (pare_quant_clamp_range).
 *   fp32 output (last layers): y = (float)acc · scale[c] with scale[c] =
 *     s_x·s_w[c], one fp32 rounding of each step, bit-exact on the device.
 *   Weight-only GEMM: fp32 activations, int8 or int4 weights with a
 *     per-channel fp32 scale: y = scale[c]·Σ_k x_k·w_k + bias[c] (fp32).
 *     int4 weights hold two values per byte, the element with the lower k
 *     in the low nibble, each a signed value in [−8, 7] (a symmetric
 *     quantizer uses [−7, 7]); a row of K weights takes ceil(K/2) bytes
 *     and the high nibble of an odd row's last byte is ignored.
 *   Quantize: q = clamp(rint(x·inv_scale) + z, −128, 127), rint ties to
 *     even, inv_scale = 1/scale computed once in fp32 by the caller's side
 *     (pare_quant_inv_scale), NaN to −128. Dequantize: x = (float)(q − z)·scale.
 */
#ifndef PARE_ENGINE_REF_QUANT_H
#define PARE_ENGINE_REF_QUANT_H

#include <stddef.h>
#include <stdint.h>

#define PARE_REF_QUANT_OK     0
#define PARE_REF_QUANT_EINVAL (-1) /* NULL buffer, bad parameter, size overflow */
#define PARE_REF_QUANT_ENOMEM (-2)

/* The largest reduction length whose accumulators cannot overflow int32. */
#define PARE_QUANT_MAX_K 65536

/* Splits a real multiplier (finite, 0 <= real < 2^31) into a Q31
 * multiplier in [2^30, 2^31) and a right shift in [−31, 31] with
 * real ≈ multiplier·2^−(31 + shift); below 2^−32 the shift stays 31 and the
 * multiplier shrinks (down to 0). 0 gives (0, 0). Returns
 * PARE_REF_QUANT_EINVAL (outputs untouched) for a negative, NaN or too
 * large value. */
int pare_quant_multiplier(double real, int32_t *multiplier, int32_t *shift);

/* round(x / 2^s) to nearest, ties away from zero, for 0 <= s <= 62 and
 * |x| < 2^62. */
int64_t pare_quant_round_shift(int64_t x, int s);

/* The exact requantization: clamp(round(acc·multiplier / 2^(31 + shift)) +
 * zero_point, qmin, qmax), with multiplier >= 0 and shift in [−31, 31]. */
int32_t pare_quant_requantize(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                              int32_t qmin, int32_t qmax);

/* The clamp bounds of a fused activation on an int8 output of that scale
 * and zero point: act 0 none, 1 ReLU, 2 ReLU6. Returns EINVAL for another
 * act or a scale that is not positive and finite. */
int pare_quant_clamp_range(int act, float scale, int32_t zero_point, int32_t *qmin, int32_t *qmax);

/* 1/scale in fp32, the factor quantize multiplies by (kernels take it as
 * an argument so host and device round the same way). */
float pare_quant_inv_scale(float scale);

/* Requantization of int32 accumulators to int8, one multiplier and shift
 * per output channel (fill all with the same values for per-tensor). */
typedef struct pare_requant {
  const int32_t *multiplier; /* [channels], in [0, 2^31) */
  const int32_t *shift;      /* [channels], in [−31, 31] */
  int32_t zero_point;        /* output zero point, in [−128, 127] */
  int32_t qmin, qmax;        /* −128 <= qmin <= qmax <= 127 */
} pare_requant;

/* Σ_k w[c·ldw + k] over k < K for each of `channels` rows (the pre-summed
 * weights of the zero-point term). */
void pare_ref_i8_row_sums(size_t channels, size_t k, const int8_t *w, size_t ldw, int32_t *sums);

/* int8 GEMM, row-major: A (m×k, lda) activations with zero point a_zero,
 * B (n×k, ldb) weights, one row per output channel (ONNX Gemm transB=1,
 * flattened convolution weights); bias (n, int32) may be NULL.
 *   acc[i][j] = Σ_p (A[i][p] − a_zero)·B[j][p] + bias[j]
 *   C[i·ldc + j] = requantize(acc[i][j]) with channel j's multiplier/shift.
 * k in [1, PARE_QUANT_MAX_K]; m == 0 or n == 0 does nothing. */
int pare_ref_gemm_i8(size_t m, size_t n, size_t k, const int8_t *a, size_t lda, int32_t a_zero,
                     const int8_t *b, size_t ldb, const int32_t *bias, const pare_requant *rq,
                     int8_t *c, size_t ldc);

/* The same accumulators dequantized: C[i·ldc + j] = (float)acc[i][j]·scale[j]. */
int pare_ref_gemm_i8_f32(size_t m, size_t n, size_t k, const int8_t *a, size_t lda, int32_t a_zero,
                         const int8_t *b, size_t ldb, const int32_t *bias, const float *scale,
                         float *c, size_t ldc);

/* Geometry of an NCHW 2-D convolution (ONNX Conv). */
typedef struct pare_conv_i8_shape {
  size_t n, c, h, w; /* input */
  size_t oc;         /* output channels (a multiple of groups) */
  size_t kh, kw;     /* window */
  size_t groups;     /* divides c and oc; c == groups: depthwise */
  size_t stride_h, stride_w, dil_h, dil_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
} pare_conv_i8_shape;

/* Output height and width; EINVAL for a bad shape (zero sizes other than
 * n, groups not dividing c and oc, a window larger than the padded input,
 * sizes of 2^24 and beyond). */
int pare_conv_i8_out_dims(const pare_conv_i8_shape *s, size_t *oh, size_t *ow);

/* int8 convolution: x (n×c×h×w, zero point x_zero), w (oc×(c/groups)×kh×kw),
 * bias (oc, int32, may be NULL), y (n×oc×oh×ow) requantized per output
 * channel. Padded taps hold x_zero (real zero), so they add nothing:
 *   acc = Σ_{taps inside} (x − x_zero)·w + bias[o]. */
int pare_ref_conv2d_i8(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero,
                       const int8_t *w, const int32_t *bias, const pare_requant *rq, int8_t *y);

/* The same accumulators dequantized (fp32 y): y = (float)acc·scale[o]. */
int pare_ref_conv2d_i8_f32(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero,
                           const int8_t *w, const int32_t *bias, const float *scale, float *y);

/* Weight-only GEMM: C[i·ldc + j] = scale[j]·Σ_p A[i·lda + p]·W[j][p] +
 * (bias ? bias[j] : 0), A fp32 (m×k), W int8 (n×k, ldw) or int4 (n rows of
 * ldw >= ceil(k/2) bytes, see the scheme above). Accumulates in double;
 * the kernels match within an fp32 dot-product tolerance. */
int pare_ref_gemm_w8_f32(size_t m, size_t n, size_t k, const float *a, size_t lda, const int8_t *w,
                         size_t ldw, const float *scale, const float *bias, float *c, size_t ldc);
int pare_ref_gemm_w4_f32(size_t m, size_t n, size_t k, const float *a, size_t lda, const uint8_t *w,
                         size_t ldw, const float *scale, const float *bias, float *c, size_t ldc);

/* The int4 weight of row-relative index p in a packed row. */
static inline int pare_quant_int4_at(const uint8_t *row, size_t p) {
  int byte = row[p / 2];
  int nib = (p & 1) ? (byte >> 4) & 15 : byte & 15;
  return nib >= 8 ? nib - 16 : nib;
}

/* Per-tensor quantize and dequantize of count values (see the scheme). */
void pare_ref_quantize_i8(size_t count, const float *x, float inv_scale, int32_t zero_point,
                          int8_t *q);
void pare_ref_dequantize_i8(size_t count, const int8_t *q, float scale, int32_t zero_point,
                            float *x);

#endif
