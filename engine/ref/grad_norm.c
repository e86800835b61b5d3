/* Reference BatchNormalization in training mode: the forward that normalizes
 * with the batch statistics (and updates the running ones) and its
 * backward. Statistics and reductions run in double, per channel. */
#include <math.h>
#include <stdint.h>

#include "engine/ref/grad.h"

/* Splits dims into N images of C channels of `inner` values each; every
 * channel must see at least one value. */
static int bn_geom(int rank, const int64_t *dims, int64_t *n, int64_t *c, int64_t *inner) {
  int64_t count;
  if (rank < 2 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  int64_t in = 1;
  for (int i = 2; i < rank; i++) in *= dims[i];
  if (dims[0] * in < 1) return PARE_REF_EINVAL;
  *n = dims[0];
  *c = dims[1];
  *inner = in;
  return PARE_REF_OK;
}

int pare_ref_batchnorm_train_f32(const float *x, int rank, const int64_t *dims, const float *scale,
                                 const float *bias, float eps, float momentum, float *running_mean,
                                 float *running_var, float *y, float *saved_mean,
                                 float *saved_inv_std) {
  int64_t n, c, inner;
  int rc = bn_geom(rank, dims, &n, &c, &inner);
  if (rc != PARE_REF_OK) return rc;
  if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f)) return PARE_REF_EINVAL;
  if (c > 0 && (!x || !scale || !bias || !y)) return PARE_REF_EINVAL;
  int64_t count = n * inner;
  for (int64_t ch = 0; ch < c; ch++) {
    /* Two passes: the mean, then the centred sum of squares. */
    double sum = 0.0, sq = 0.0;
    for (int64_t b = 0; b < n; b++) {
      const float *xc = x + (size_t)((b * c + ch) * inner);
      for (int64_t i = 0; i < inner; i++) sum += (double)xc[i];
    }
    double mean = sum / (double)count;
    for (int64_t b = 0; b < n; b++) {
      const float *xc = x + (size_t)((b * c + ch) * inner);
      for (int64_t i = 0; i < inner; i++) {
        double t = (double)xc[i] - mean;
        sq += t * t;
      }
    }
    double var = sq / (double)count;
    double inv_std = 1.0 / sqrt(var + (double)eps);
    double mul = (double)scale[ch] * inv_std;
    for (int64_t b = 0; b < n; b++) {
      size_t base = (size_t)((b * c + ch) * inner);
      for (int64_t i = 0; i < inner; i++)
        y[base + (size_t)i] =
            (float)(((double)x[base + (size_t)i] - mean) * mul + (double)bias[ch]);
    }
    if (saved_mean) saved_mean[ch] = (float)mean;
    if (saved_inv_std) saved_inv_std[ch] = (float)inv_std;
    double mom = (double)momentum;
    if (running_mean)
      running_mean[ch] = (float)((double)running_mean[ch] * mom + mean * (1.0 - mom));
    if (running_var) {
      double unbiased = count > 1 ? sq / (double)(count - 1) : var;
      running_var[ch] = (float)((double)running_var[ch] * mom + unbiased * (1.0 - mom));
    }
  }
  return PARE_REF_OK;
}

int pare_ref_batchnorm_backward_f32(const float *x, int rank, const int64_t *dims,
                                    const float *scale, const float *saved_mean,
                                    const float *saved_inv_std, const float *dy, float *dx,
                                    float *dscale, float *dbias) {
  int64_t n, c, inner;
  int rc = bn_geom(rank, dims, &n, &c, &inner);
  if (rc != PARE_REF_OK) return rc;
  if (c > 0 && (!x || !saved_mean || !saved_inv_std || !dy)) return PARE_REF_EINVAL;
  if (c > 0 && dx && !scale) return PARE_REF_EINVAL;
  double count = (double)(n * inner);
  for (int64_t ch = 0; ch < c; ch++) {
    double mean = (double)saved_mean[ch], inv_std = (double)saved_inv_std[ch];
    /* Σ dy and Σ dy·x̂ over the channel. */
    double sum_dy = 0.0, sum_dy_xhat = 0.0;
    for (int64_t b = 0; b < n; b++) {
      size_t base = (size_t)((b * c + ch) * inner);
      for (int64_t i = 0; i < inner; i++) {
        double g = (double)dy[base + (size_t)i];
        sum_dy += g;
        sum_dy_xhat += g * ((double)x[base + (size_t)i] - mean) * inv_std;
      }
    }
    if (dbias) dbias[ch] = (float)sum_dy;
    if (dscale) dscale[ch] = (float)sum_dy_xhat;
    if (!dx) continue;
    /* The mean and variance depend on every x of the channel, which removes
     * dy's mean and its projection on x̂. */
    double mul = (double)scale[ch] * inv_std;
    double mean_dy = sum_dy / count, mean_dy_xhat = sum_dy_xhat / count;
    for (int64_t b = 0; b < n; b++) {
      size_t base = (size_t)((b * c + ch) * inner);
      for (int64_t i = 0; i < inner; i++) {
        double xhat = ((double)x[base + (size_t)i] - mean) * inv_std;
        double g = (double)dy[base + (size_t)i];
        dx[base + (size_t)i] = (float)(mul * (g - mean_dy - xhat * mean_dy_xhat));
      }
    }
  }
  return PARE_REF_OK;
}
