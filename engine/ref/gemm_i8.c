/* Reference of kernels/gemm_i8.cl: int8 GEMM and convolution with int32
 * accumulation and fixed-point requantization, weight-only int8/int4 GEMM,
 * quantize and dequantize. The scheme is described in quant.h. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref/quant.h"

int pare_quant_multiplier(double real, int32_t *multiplier, int32_t *shift) {
  if (!multiplier || !shift || !(real >= 0.0) || !isfinite(real) || real >= 2147483648.0)
    return PARE_REF_QUANT_EINVAL;
  if (real == 0.0) {
    *multiplier = 0;
    *shift = 0;
    return PARE_REF_QUANT_OK;
  }
  int e = 0;
  double q = frexp(real, &e); /* real = q·2^e, q in [0.5, 1) */
  int64_t m = llround(ldexp(q, 31));
  if (m == (int64_t)1 << 31) { /* q rounded up to 1 */
    m >>= 1;
    e++;
  }
  int s = -e; /* real ≈ m·2^(e − 31) = m·2^−(31 + s) */
  if (s < -31) return PARE_REF_QUANT_EINVAL;
  if (s > 31) { /* below 2^−32: keep the largest shift, shrink the multiplier */
    m = llround(ldexp(real, 62));
    s = 31;
  }
  *multiplier = (int32_t)m;
  *shift = s;
  return PARE_REF_QUANT_OK;
}

int64_t pare_quant_round_shift(int64_t x, int s) {
  if (s <= 0) return x;
  int64_t half = (int64_t)1 << (s - 1);
  return x >= 0 ? (x + half) >> s : -((-x + half) >> s);
}

int32_t pare_quant_requantize(int32_t acc, int32_t multiplier, int32_t shift, int32_t zero_point,
                              int32_t qmin, int32_t qmax) {
  int64_t r = pare_quant_round_shift((int64_t)acc * multiplier, 31 + shift) + zero_point;
  return (int32_t)(r < qmin ? qmin : r > qmax ? qmax : r);
}

int pare_quant_clamp_range(int act, float scale, int32_t zero_point, int32_t *qmin, int32_t *qmax) {
  if (!qmin || !qmax || !(scale > 0.0f) || !isfinite(scale) || zero_point < -128 ||
      zero_point > 127)
    return PARE_REF_QUANT_EINVAL;
  switch (act) {
  case 0: *qmin = -128, *qmax = 127; return PARE_REF_QUANT_OK;
  case 1: *qmin = zero_point, *qmax = 127; return PARE_REF_QUANT_OK;
  case 2: {
    double top = (double)zero_point + nearbyint(6.0 / scale);
    *qmin = zero_point;
    *qmax = top > 127.0 ? 127 : (int32_t)top;
    return PARE_REF_QUANT_OK;
  }
  default: return PARE_REF_QUANT_EINVAL;
  }
}

float pare_quant_inv_scale(float scale) { return 1.0f / scale; }

void pare_ref_i8_row_sums(size_t channels, size_t k, const int8_t *w, size_t ldw, int32_t *sums) {
  for (size_t c = 0; c < channels; c++) {
    int32_t s = 0;
    for (size_t p = 0; p < k; p++) s += w[c * ldw + p];
    sums[c] = s;
  }
}

static int requant_ok(const pare_requant *rq, size_t channels) {
  if (!rq || !rq->multiplier || !rq->shift || rq->qmin < -128 || rq->qmax > 127 ||
      rq->qmin > rq->qmax || rq->zero_point < -128 || rq->zero_point > 127)
    return 0;
  for (size_t c = 0; c < channels; c++)
    if (rq->multiplier[c] < 0 || rq->shift[c] < -31 || rq->shift[c] > 31) return 0;
  return 1;
}

/* The exact accumulator of one output: Σ (a − za)·b + bias. */
static int32_t dot_i8(size_t k, const int8_t *a, int32_t a_zero, const int8_t *b, int32_t bias) {
  int64_t acc = bias;
  for (size_t p = 0; p < k; p++) acc += (int64_t)(a[p] - a_zero) * b[p];
  return (int32_t)acc;
}

static int gemm_args_ok(size_t m, size_t n, size_t k, const void *a, size_t lda, int32_t a_zero,
                        const void *b, size_t ldb, const void *c, size_t ldc) {
  return a && b && c && k >= 1 && k <= PARE_QUANT_MAX_K && lda >= k && ldb >= k && ldc >= n &&
         a_zero >= -128 && a_zero <= 127 && (m >> 20 >> 20) == 0 &&
         (n >> 20 >> 20) == 0; /* < 2^40 */
}

int pare_ref_gemm_i8(size_t m, size_t n, size_t k, const int8_t *a, size_t lda, int32_t a_zero,
                     const int8_t *b, size_t ldb, const int32_t *bias, const pare_requant *rq,
                     int8_t *c, size_t ldc) {
  if (m == 0 || n == 0) return PARE_REF_QUANT_OK;
  if (!gemm_args_ok(m, n, k, a, lda, a_zero, b, ldb, c, ldc) || !requant_ok(rq, n))
    return PARE_REF_QUANT_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      int32_t acc = dot_i8(k, a + i * lda, a_zero, b + j * ldb, bias ? bias[j] : 0);
      c[i * ldc + j] = (int8_t)pare_quant_requantize(acc, rq->multiplier[j], rq->shift[j],
                                                     rq->zero_point, rq->qmin, rq->qmax);
    }
  return PARE_REF_QUANT_OK;
}

int pare_ref_gemm_i8_f32(size_t m, size_t n, size_t k, const int8_t *a, size_t lda, int32_t a_zero,
                         const int8_t *b, size_t ldb, const int32_t *bias, const float *scale,
                         float *c, size_t ldc) {
  if (m == 0 || n == 0) return PARE_REF_QUANT_OK;
  if (!gemm_args_ok(m, n, k, a, lda, a_zero, b, ldb, c, ldc) || !scale)
    return PARE_REF_QUANT_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      int32_t acc = dot_i8(k, a + i * lda, a_zero, b + j * ldb, bias ? bias[j] : 0);
      float v = (float)acc;
      c[i * ldc + j] = v * scale[j];
    }
  return PARE_REF_QUANT_OK;
}

int pare_conv_i8_out_dims(const pare_conv_i8_shape *s, size_t *oh, size_t *ow) {
  const size_t lim = (size_t)1 << 24;
  if (!s || !oh || !ow || !s->c || !s->h || !s->w || !s->oc || !s->kh || !s->kw || !s->groups ||
      !s->stride_h || !s->stride_w || !s->dil_h || !s->dil_w)
    return PARE_REF_QUANT_EINVAL;
  if (s->c >= lim || s->h >= lim || s->w >= lim || s->oc >= lim || s->kh >= lim || s->kw >= lim ||
      s->stride_h >= lim || s->stride_w >= lim || s->dil_h >= lim || s->dil_w >= lim ||
      s->pad_top >= lim || s->pad_left >= lim || s->pad_bottom >= lim || s->pad_right >= lim ||
      s->n >= lim)
    return PARE_REF_QUANT_EINVAL;
  if (s->c % s->groups || s->oc % s->groups) return PARE_REF_QUANT_EINVAL;
  size_t eh = s->dil_h * (s->kh - 1) + 1, ew = s->dil_w * (s->kw - 1) + 1;
  size_t ph = s->h + s->pad_top + s->pad_bottom, pw = s->w + s->pad_left + s->pad_right;
  if (eh > ph || ew > pw) return PARE_REF_QUANT_EINVAL;
  *oh = (ph - eh) / s->stride_h + 1;
  *ow = (pw - ew) / s->stride_w + 1;
  return PARE_REF_QUANT_OK;
}

/* The int32 accumulator of output (b, o, i, j) of an int8 convolution. */
static int32_t conv_acc(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero,
                        const int8_t *w, const int32_t *bias, size_t b, size_t o, size_t i,
                        size_t j) {
  const size_t cg = s->c / s->groups, mg = s->oc / s->groups, g = o / mg;
  const int8_t *wo = w + o * cg * s->kh * s->kw;
  int64_t acc = bias ? bias[o] : 0;
  for (size_t ci = 0; ci < cg; ci++) {
    const int8_t *xc = x + ((b * s->c) + g * cg + ci) * s->h * s->w;
    for (size_t u = 0; u < s->kh; u++) {
      /* Input row i·stride + u·dil − pad_top, skipped when outside. */
      size_t r = i * s->stride_h + u * s->dil_h;
      if (r < s->pad_top || r - s->pad_top >= s->h) continue;
      r -= s->pad_top;
      for (size_t v = 0; v < s->kw; v++) {
        size_t q = j * s->stride_w + v * s->dil_w;
        if (q < s->pad_left || q - s->pad_left >= s->w) continue;
        q -= s->pad_left;
        acc += (int64_t)(xc[r * s->w + q] - x_zero) * wo[(ci * s->kh + u) * s->kw + v];
      }
    }
  }
  return (int32_t)acc;
}

/* Both convolutions: int8 y requantized by rq, or fp32 yf dequantized by scale. */
static int conv2d_i8(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero, const int8_t *w,
                     const int32_t *bias, const pare_requant *rq, int8_t *y, const float *scale,
                     float *yf) {
  size_t oh, ow;
  if (pare_conv_i8_out_dims(s, &oh, &ow) != PARE_REF_QUANT_OK) return PARE_REF_QUANT_EINVAL;
  if (s->n == 0) return PARE_REF_QUANT_OK;
  const size_t cg = s->c / s->groups;
  if (!x || !w || (!y && !yf) || x_zero < -128 || x_zero > 127 ||
      (y ? !requant_ok(rq, s->oc) : !scale) || cg * s->kh * s->kw > PARE_QUANT_MAX_K)
    return PARE_REF_QUANT_EINVAL;
  for (size_t b = 0; b < s->n; b++)
    for (size_t o = 0; o < s->oc; o++)
      for (size_t i = 0; i < oh; i++)
        for (size_t j = 0; j < ow; j++) {
          int32_t acc = conv_acc(s, x, x_zero, w, bias, b, o, i, j);
          size_t at = ((b * s->oc + o) * oh + i) * ow + j;
          if (y) {
            y[at] = (int8_t)pare_quant_requantize(acc, rq->multiplier[o], rq->shift[o],
                                                  rq->zero_point, rq->qmin, rq->qmax);
          } else {
            float v = (float)acc;
            yf[at] = v * scale[o];
          }
        }
  return PARE_REF_QUANT_OK;
}

int pare_ref_conv2d_i8(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero,
                       const int8_t *w, const int32_t *bias, const pare_requant *rq, int8_t *y) {
  if (!y) return PARE_REF_QUANT_EINVAL;
  return conv2d_i8(s, x, x_zero, w, bias, rq, y, NULL, NULL);
}

int pare_ref_conv2d_i8_f32(const pare_conv_i8_shape *s, const int8_t *x, int32_t x_zero,
                           const int8_t *w, const int32_t *bias, const float *scale, float *y) {
  if (!y) return PARE_REF_QUANT_EINVAL;
  return conv2d_i8(s, x, x_zero, w, bias, NULL, NULL, scale, y);
}

int pare_ref_gemm_w8_f32(size_t m, size_t n, size_t k, const float *a, size_t lda, const int8_t *w,
                         size_t ldw, const float *scale, const float *bias, float *c, size_t ldc) {
  if (m == 0 || n == 0) return PARE_REF_QUANT_OK;
  if (!a || !w || !scale || !c || k == 0 || lda < k || ldw < k || ldc < n)
    return PARE_REF_QUANT_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (size_t p = 0; p < k; p++) acc += (double)a[i * lda + p] * w[j * ldw + p];
      c[i * ldc + j] = (float)((double)scale[j] * acc + (bias ? (double)bias[j] : 0.0));
    }
  return PARE_REF_QUANT_OK;
}

int pare_ref_gemm_w4_f32(size_t m, size_t n, size_t k, const float *a, size_t lda, const uint8_t *w,
                         size_t ldw, const float *scale, const float *bias, float *c, size_t ldc) {
  if (m == 0 || n == 0) return PARE_REF_QUANT_OK;
  if (!a || !w || !scale || !c || k == 0 || lda < k || ldw < (k + 1) / 2 || ldc < n)
    return PARE_REF_QUANT_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (size_t p = 0; p < k; p++)
        acc += (double)a[i * lda + p] * pare_quant_int4_at(w + j * ldw, p);
      c[i * ldc + j] = (float)((double)scale[j] * acc + (bias ? (double)bias[j] : 0.0));
    }
  return PARE_REF_QUANT_OK;
}

void pare_ref_quantize_i8(size_t count, const float *x, float inv_scale, int32_t zero_point,
                          int8_t *q) {
  for (size_t i = 0; i < count; i++) {
    float prod = x[i] * inv_scale;
    float r = rintf(prod);
    r = fminf(fmaxf(r, -512.0f), 512.0f); /* NaN becomes −512 */
    int32_t v = (int32_t)r + zero_point;
    q[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
  }
}

void pare_ref_dequantize_i8(size_t count, const int8_t *q, float scale, int32_t zero_point,
                            float *x) {
  for (size_t i = 0; i < count; i++) {
    float d = (float)(q[i] - zero_point);
    x[i] = d * scale;
  }
}
