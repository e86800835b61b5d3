/* Reference optimizer steps (SGD with momentum / Nesterov, Adam, AdamW),
 * pruning masks, learning-rate schedules and fake quantization with a
 * straight-through estimator. Each step is computed per element in double
 * following the update order of torch.optim and rounded once into the
 * float state. */
#include <math.h>
#include <stdint.h>

#include "engine/ref/grad.h"

#define PI 3.14159265358979323846

void pare_ref_apply_mask_f32(float *w, const uint8_t *mask, size_t n) {
  if (!w || !mask) return;
  for (size_t i = 0; i < n; i++)
    if (mask[i] == 0) w[i] = 0.0f;
}

void pare_ref_sgd_params_init(pare_ref_sgd_params *p, float lr) {
  p->lr = lr;
  p->momentum = 0.0f;
  p->weight_decay = 0.0f;
  p->nesterov = 0;
}

int pare_ref_sgd_step_f32(const pare_ref_sgd_params *p, float *w, const float *g, float *velocity,
                          size_t n, const uint8_t *mask) {
  if (!p || !(p->lr >= 0.0f) || !(p->momentum >= 0.0f) || !(p->weight_decay >= 0.0f))
    return PARE_REF_EINVAL;
  int use_momentum = p->momentum != 0.0f;
  if (p->nesterov && !use_momentum) return PARE_REF_EINVAL;
  if (n == 0) return PARE_REF_OK;
  if (!w || !g || (use_momentum && !velocity)) return PARE_REF_EINVAL;
  double lr = p->lr, mu = p->momentum, wd = p->weight_decay;
  for (size_t i = 0; i < n; i++) {
    if (mask && mask[i] == 0) {
      /* A pruned weight stays zero and keeps no momentum. */
      w[i] = 0.0f;
      if (use_momentum) velocity[i] = 0.0f;
      continue;
    }
    double d = (double)g[i] + wd * (double)w[i];
    double step = d;
    if (use_momentum) {
      double v = mu * (double)velocity[i] + d;
      velocity[i] = (float)v;
      step = p->nesterov ? d + mu * v : v;
    }
    w[i] = (float)((double)w[i] - lr * step);
  }
  return PARE_REF_OK;
}

void pare_ref_adam_params_init(pare_ref_adam_params *p, float lr) {
  p->lr = lr;
  p->beta1 = 0.9f;
  p->beta2 = 0.999f;
  p->eps = 1e-8f;
  p->weight_decay = 0.0f;
  p->decoupled = 0;
}

int pare_ref_adam_step_f32(const pare_ref_adam_params *p, float *w, const float *g, float *m,
                           float *v, size_t n, int64_t t, const uint8_t *mask) {
  if (!p || t < 1 || !(p->lr >= 0.0f) || !(p->weight_decay >= 0.0f) || !(p->eps >= 0.0f))
    return PARE_REF_EINVAL;
  if (!(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f))
    return PARE_REF_EINVAL;
  if (n == 0) return PARE_REF_OK;
  if (!w || !g || !m || !v) return PARE_REF_EINVAL;
  double lr = p->lr, b1 = p->beta1, b2 = p->beta2, eps = p->eps, wd = p->weight_decay;
  /* Bias corrections of the zero-initialized moments after t steps. */
  double bc1 = 1.0 - pow(b1, (double)t), bc2_sqrt = sqrt(1.0 - pow(b2, (double)t));
  double step_size = lr / bc1;
  for (size_t i = 0; i < n; i++) {
    if (mask && mask[i] == 0) {
      w[i] = 0.0f;
      m[i] = 0.0f;
      v[i] = 0.0f;
      continue;
    }
    double wi = (double)w[i], gi = (double)g[i];
    if (wd != 0.0) {
      if (p->decoupled)
        wi *= 1.0 - lr * wd; /* AdamW: shrink the weight, leave the gradient */
      else
        gi += wd * wi; /* Adam: L2 term folded into the gradient */
    }
    double mi = b1 * (double)m[i] + (1.0 - b1) * gi;
    double vi = b2 * (double)v[i] + (1.0 - b2) * gi * gi;
    m[i] = (float)mi;
    v[i] = (float)vi;
    w[i] = (float)(wi - step_size * mi / (sqrt(vi) / bc2_sqrt + eps));
  }
  return PARE_REF_OK;
}

/* ---- Learning-rate schedules ---- */

int pare_ref_lr_at(const pare_ref_lr_params *p, int64_t t, double *lr) {
  if (!p || !lr || t < 0 || p->warmup < 0 || !isfinite(p->lr)) return PARE_REF_EINVAL;
  double f = p->warmup_start_factor;
  if (p->warmup > 0 && !(f >= 0.0 && f <= 1.0)) return PARE_REF_EINVAL;
  if (t < p->warmup) {
    *lr = p->lr * (f + (1.0 - f) * (double)t / (double)p->warmup);
    return PARE_REF_OK;
  }
  int64_t e = t - p->warmup;
  switch (p->kind) {
  case PARE_REF_LR_CONSTANT: *lr = p->lr; return PARE_REF_OK;
  case PARE_REF_LR_STEP:
    if (p->step_size < 1 || !isfinite(p->gamma)) return PARE_REF_EINVAL;
    *lr = p->lr * pow(p->gamma, (double)(e / p->step_size));
    return PARE_REF_OK;
  case PARE_REF_LR_COSINE: {
    if (p->total < 1 || !isfinite(p->lr_min)) return PARE_REF_EINVAL;
    /* Holds at lr_min once the decay is over. */
    double frac = (double)(e < p->total ? e : p->total) / (double)p->total;
    *lr = p->lr_min + (p->lr - p->lr_min) * (1.0 + cos(PI * frac)) / 2.0;
    return PARE_REF_OK;
  }
  }
  return PARE_REF_EINVAL;
}

/* ---- Fake quantization ---- */

static int check_quant(float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  if (!(scale > 0.0f) || !isfinite(scale)) return PARE_REF_EINVAL;
  if (qmin > qmax || zp < qmin || zp > qmax) return PARE_REF_EINVAL;
  return PARE_REF_OK;
}

/* The unclamped integer code round(x/scale) + zp, rounding half to even
 * (nearbyint in the default rounding mode); NaN for a NaN x. */
static double quant_code(float x, float scale, int32_t zp) {
  return nearbyint((double)x / (double)scale) + (double)zp;
}

static float fake_quant_one(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  double q = quant_code(x, scale, zp);
  if (isnan(q)) return x;
  if (q < (double)qmin) q = (double)qmin;
  if (q > (double)qmax) q = (double)qmax;
  return (float)((q - (double)zp) * (double)scale);
}

/* 1 where the code fell inside [qmin, qmax] (the straight-through region). */
static int quant_passes(float x, float scale, int32_t zp, int32_t qmin, int32_t qmax) {
  double q = quant_code(x, scale, zp);
  return q >= (double)qmin && q <= (double)qmax;
}

int pare_ref_fake_quant_f32(const float *x, size_t n, float scale, int32_t zero_point, int32_t qmin,
                            int32_t qmax, float *y) {
  int rc = check_quant(scale, zero_point, qmin, qmax);
  if (rc != PARE_REF_OK) return rc;
  if (n > 0 && (!x || !y)) return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++) y[i] = fake_quant_one(x[i], scale, zero_point, qmin, qmax);
  return PARE_REF_OK;
}

int pare_ref_fake_quant_backward_f32(const float *x, size_t n, float scale, int32_t zero_point,
                                     int32_t qmin, int32_t qmax, const float *dy, float *dx) {
  int rc = check_quant(scale, zero_point, qmin, qmax);
  if (rc != PARE_REF_OK) return rc;
  if (n > 0 && (!x || !dy || !dx)) return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++)
    dx[i] = quant_passes(x[i], scale, zero_point, qmin, qmax) ? dy[i] : 0.0f;
  return PARE_REF_OK;
}

/* Channel geometry of the per-channel variants: element e belongs to channel
 * (e / inner) % len. Checks every channel's scale and zero point. */
static int channel_geom(int rank, const int64_t *dims, int64_t axis, const float *scales,
                        const int32_t *zps, int32_t qmin, int32_t qmax, int64_t *total,
                        int64_t *len, int64_t *inner) {
  if (rank < 1 || pare_ref_shape_numel(rank, dims, total) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (axis < -rank || axis >= rank) return PARE_REF_EINVAL;
  if (axis < 0) axis += rank;
  int64_t in = 1;
  for (int i = (int)axis + 1; i < rank; i++) in *= dims[i];
  *len = dims[axis];
  *inner = in;
  if (*len > 0 && !scales) return PARE_REF_EINVAL;
  for (int64_t c = 0; c < *len; c++) {
    int rc = check_quant(scales[c], zps ? zps[c] : 0, qmin, qmax);
    if (rc != PARE_REF_OK) return rc;
  }
  return PARE_REF_OK;
}

int pare_ref_fake_quant_channel_f32(const float *x, int rank, const int64_t *dims, int64_t axis,
                                    const float *scales, const int32_t *zero_points, int32_t qmin,
                                    int32_t qmax, float *y) {
  int64_t total, len, inner;
  int rc = channel_geom(rank, dims, axis, scales, zero_points, qmin, qmax, &total, &len, &inner);
  if (rc != PARE_REF_OK) return rc;
  if (total > 0 && (!x || !y)) return PARE_REF_EINVAL;
  for (int64_t e = 0; e < total; e++) {
    int64_t c = (e / inner) % len;
    int32_t zp = zero_points ? zero_points[c] : 0;
    y[e] = fake_quant_one(x[e], scales[c], zp, qmin, qmax);
  }
  return PARE_REF_OK;
}

int pare_ref_fake_quant_channel_backward_f32(const float *x, int rank, const int64_t *dims,
                                             int64_t axis, const float *scales,
                                             const int32_t *zero_points, int32_t qmin, int32_t qmax,
                                             const float *dy, float *dx) {
  int64_t total, len, inner;
  int rc = channel_geom(rank, dims, axis, scales, zero_points, qmin, qmax, &total, &len, &inner);
  if (rc != PARE_REF_OK) return rc;
  if (total > 0 && (!x || !dy || !dx)) return PARE_REF_EINVAL;
  for (int64_t e = 0; e < total; e++) {
    int64_t c = (e / inner) % len;
    int32_t zp = zero_points ? zero_points[c] : 0;
    dx[e] = quant_passes(x[e], scales[c], zp, qmin, qmax) ? dy[e] : 0.0f;
  }
  return PARE_REF_OK;
}

int pare_ref_fake_quant_rows_f32(const float *x, size_t rows, size_t cols, int bits, float *y) {
  if (bits < 2 || bits > 16 || (rows * cols > 0 && (!x || !y))) return PARE_REF_EINVAL;
  const int32_t qmax = (1 << (bits - 1)) - 1;
  for (size_t r = 0; r < rows; r++) {
    const float *xr = x + r * cols;
    float *yr = y + r * cols, m = 0.0f;
    for (size_t j = 0; j < cols; j++) m = fabsf(xr[j]) > m ? fabsf(xr[j]) : m;
    const float scale = m > 0.0f ? m / (float)qmax : 1.0f;
    for (size_t j = 0; j < cols; j++) yr[j] = fake_quant_one(xr[j], scale, 0, -qmax, qmax);
  }
  return PARE_REF_OK;
}

int pare_ref_share_project_f32(const float *x, const uint8_t *label, size_t n, int k, float *y) {
  if (k < 1 || k > 255 || (n > 0 && (!x || !label || !y))) return PARE_REF_EINVAL;
  double sum[255] = {0};
  size_t count[255] = {0};
  for (size_t i = 0; i < n; i++) {
    if (label[i] == 255) continue;
    if (label[i] >= k) return PARE_REF_EINVAL;
    sum[label[i]] += x[i];
    count[label[i]]++;
  }
  float mean[255];
  for (int c = 0; c < k; c++) mean[c] = count[c] ? (float)(sum[c] / (double)count[c]) : 0.0f;
  for (size_t i = 0; i < n; i++) y[i] = label[i] == 255 ? 0.0f : mean[label[i]];
  return PARE_REF_OK;
}
