/* Reference BatchNormalization (inference), Softmax, LogSoftmax and
 * ReduceMean. Sums run in double. */
#include <math.h>
#include <stdint.h>

#include "engine/ref/ops.h"

int pare_ref_batchnorm_f32(const float *x, int rank, const int64_t *dims, const float *scale,
                           const float *bias, const float *mean, const float *var, float eps,
                           float *y) {
  int64_t count;
  if (rank < 2 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  int64_t n = dims[0], c = dims[1], inner = 1;
  for (int i = 2; i < rank; i++) inner *= dims[i];
  size_t idx = 0;
  for (int64_t b = 0; b < n; b++) {
    for (int64_t ch = 0; ch < c; ch++) {
      /* Fold the channel's statistics into one multiply and one add. */
      double mul = (double)scale[ch] / sqrt((double)var[ch] + (double)eps);
      double add = (double)bias[ch] - (double)mean[ch] * mul;
      for (int64_t i = 0; i < inner; i++, idx++) y[idx] = (float)((double)x[idx] * mul + add);
    }
  }
  return PARE_REF_OK;
}

int pare_ref_lrn_f32(const float *x, int rank, const int64_t *dims, int64_t size, float alpha,
                     float beta, float bias, float *y) {
  int64_t count;
  if (rank < 3 || size < 1 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  int64_t n = dims[0], c = dims[1], inner = 1;
  for (int i = 2; i < rank; i++) inner *= dims[i];
  const int64_t before = (size - 1) / 2, after = size - 1 - before;
  const double scale = (double)alpha / (double)size;
  for (int64_t b = 0; b < n; b++)
    for (int64_t ch = 0; ch < c; ch++) {
      int64_t lo = ch - before < 0 ? 0 : ch - before, hi = ch + after >= c ? c - 1 : ch + after;
      const float *xb = x + b * c * inner;
      float *yc = y + (b * c + ch) * inner;
      for (int64_t i = 0; i < inner; i++) {
        double sum = 0;
        for (int64_t k = lo; k <= hi; k++) {
          double v = xb[k * inner + i];
          sum += v * v;
        }
        yc[i] = (float)((double)xb[ch * inner + i] / pow((double)bias + scale * sum, (double)beta));
      }
    }
  return PARE_REF_OK;
}

/* Splits dims around axis into outer × len × inner, where the normalized
 * elements of one group are `len` apart by `inner`. legacy folds everything
 * from axis on into one contiguous row (len = that product, inner = 1). */
static int softmax_geom(int rank, const int64_t *dims, int64_t axis, int legacy, int64_t *outer,
                        int64_t *len, int64_t *inner) {
  int64_t count;
  if (rank < 1 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (axis < -rank || axis >= rank) return PARE_REF_EINVAL;
  if (axis < 0) axis += rank;
  int64_t o = 1, l = 1, in = 1;
  for (int i = 0; i < rank; i++) {
    if (i < axis)
      o *= dims[i];
    else if (i == axis || legacy)
      l *= dims[i];
    else
      in *= dims[i];
  }
  *outer = o;
  *len = l;
  *inner = in;
  return PARE_REF_OK;
}

static int softmax_any(const float *x, int rank, const int64_t *dims, int64_t axis, int legacy,
                       float *y, int log_out) {
  int64_t outer, len, inner;
  int rc = softmax_geom(rank, dims, axis, legacy, &outer, &len, &inner);
  if (rc != PARE_REF_OK) return rc;
  for (int64_t o = 0; o < outer; o++) {
    for (int64_t in = 0; in < inner; in++) {
      size_t base = (size_t)(o * len * inner + in), step = (size_t)inner;
      float mx = -INFINITY;
      for (int64_t i = 0; i < len; i++) mx = fmaxf(mx, x[base + (size_t)i * step]);
      double sum = 0.0;
      for (int64_t i = 0; i < len; i++) sum += exp((double)x[base + (size_t)i * step] - (double)mx);
      double log_sum = log(sum);
      for (int64_t i = 0; i < len; i++) {
        size_t at = base + (size_t)i * step;
        double shifted = (double)x[at] - (double)mx;
        y[at] = (float)(log_out ? shifted - log_sum : exp(shifted) / sum);
      }
    }
  }
  return PARE_REF_OK;
}

int pare_ref_softmax_f32(const float *x, int rank, const int64_t *dims, int64_t axis, int legacy,
                         float *y) {
  return softmax_any(x, rank, dims, axis, legacy, y, 0);
}

int pare_ref_log_softmax_f32(const float *x, int rank, const int64_t *dims, int64_t axis,
                             int legacy, float *y) {
  return softmax_any(x, rank, dims, axis, legacy, y, 1);
}

/* Marks the reduced axes in reduced[rank]. */
static int reduce_mask(int rank, const int64_t *dims, const int64_t *axes, size_t naxes,
                       int noop_with_empty_axes, int *reduced) {
  int64_t count;
  if (rank < 0 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (naxes > (size_t)rank || (naxes > 0 && !axes)) return PARE_REF_EINVAL;
  for (int i = 0; i < rank; i++) reduced[i] = naxes == 0 && !noop_with_empty_axes;
  for (size_t j = 0; j < naxes; j++) {
    int64_t a = axes[j];
    if (a < -rank || a >= rank) return PARE_REF_EINVAL;
    if (a < 0) a += rank;
    if (reduced[a]) return PARE_REF_EINVAL; /* repeated axis */
    reduced[a] = 1;
  }
  return PARE_REF_OK;
}

int pare_ref_reduce_shape(int rank, const int64_t *dims, const int64_t *axes, size_t naxes,
                          int keepdims, int noop_with_empty_axes, int *y_rank, int64_t *y_dims) {
  int reduced[PARE_REF_MAX_RANK];
  int rc = reduce_mask(rank, dims, axes, naxes, noop_with_empty_axes, reduced);
  if (rc != PARE_REF_OK) return rc;
  int r = 0;
  for (int i = 0; i < rank; i++) {
    if (!reduced[i])
      y_dims[r++] = dims[i];
    else if (keepdims)
      y_dims[r++] = 1;
  }
  *y_rank = r;
  return PARE_REF_OK;
}

int pare_ref_reduce_mean_f32(const float *x, int rank, const int64_t *dims, const int64_t *axes,
                             size_t naxes, int keepdims, int noop_with_empty_axes, float *y,
                             int *y_rank, int64_t *y_dims) {
  int reduced[PARE_REF_MAX_RANK];
  int rc = reduce_mask(rank, dims, axes, naxes, noop_with_empty_axes, reduced);
  if (rc != PARE_REF_OK) return rc;
  if (y_rank && y_dims) {
    pare_ref_reduce_shape(rank, dims, axes, naxes, keepdims, noop_with_empty_axes, y_rank, y_dims);
  }
  /* Split the axes into kept ones (walked by the output index) and reduced
   * ones (walked for each output), each with its input element stride. */
  int64_t stride[PARE_REF_MAX_RANK];
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    stride[i] = s;
    s *= dims[i];
  }
  int64_t kept_dims[PARE_REF_MAX_RANK], kept_stride[PARE_REF_MAX_RANK];
  int64_t red_dims[PARE_REF_MAX_RANK], red_stride[PARE_REF_MAX_RANK];
  int nk = 0, nr = 0;
  int64_t n_out = 1, n_red = 1;
  for (int i = 0; i < rank; i++) {
    if (reduced[i]) {
      red_dims[nr] = dims[i];
      red_stride[nr++] = stride[i];
      n_red *= dims[i];
    } else {
      kept_dims[nk] = dims[i];
      kept_stride[nk++] = stride[i];
      n_out *= dims[i];
    }
  }
  int64_t ko[PARE_REF_MAX_RANK] = {0};
  for (int64_t o = 0; o < n_out; o++) {
    int64_t base = 0;
    for (int i = 0; i < nk; i++) base += ko[i] * kept_stride[i];
    double sum = 0.0;
    int64_t ri[PARE_REF_MAX_RANK] = {0};
    int64_t off = 0;
    for (int64_t e = 0; e < n_red; e++) {
      sum += (double)x[(size_t)(base + off)];
      /* Advance the reduced-axes odometer, keeping off in step. */
      for (int i = nr - 1; i >= 0; i--) {
        off += red_stride[i];
        if (++ri[i] < red_dims[i]) break;
        off -= red_stride[i] * red_dims[i];
        ri[i] = 0;
      }
    }
    y[o] = n_red > 0 ? (float)(sum / (double)n_red) : NAN;
    for (int i = nk - 1; i >= 0; i--) {
      if (++ko[i] < kept_dims[i]) break;
      ko[i] = 0;
    }
  }
  return PARE_REF_OK;
}
