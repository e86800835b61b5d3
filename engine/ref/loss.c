/* Reference classification losses: softmax cross-entropy, the distillation
 * KL term and their weighted sum, with gradients. Every softmax is formed in
 * double from the shifted row (maximum subtracted) through its
 * log-sum-exp, so no exp overflows and log q never meets log 0 for finite
 * logits. */
#include <math.h>
#include <stdint.h>

#include "engine/ref/grad.h"

/* For the row z[k] scaled by inv_t: *mx = max_j z_j·inv_t and the return
 * value log Σ_j exp(z_j·inv_t - mx), so log softmax_j = z_j·inv_t - mx - lse. */
static double row_lse(const float *z, int64_t k, double inv_t, double *mx) {
  double m = -INFINITY;
  /* A compare, not fmax(): GCC 12's aarch64 vectorizer (Debian 12's
   * aarch64-linux-gnu-gcc) dies on an fmax reduction at -O3. Same result:
   * NaNs are skipped either way. */
  for (int64_t j = 0; j < k; j++) {
    double v = (double)z[j] * inv_t;
    if (v > m) m = v;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < k; j++) sum += exp((double)z[j] * inv_t - m);
  *mx = m;
  return log(sum);
}

/* L = w_ce·CE(labels, student) + w_kd·T²·mean KL(softmax(teacher/T) ‖
 * softmax(student/T)) and dL/dstudent. teacher is only read when w_kd != 0,
 * labels only when w_ce != 0. */
static int loss_any(const float *teacher, const float *student, const int64_t *labels, int64_t n,
                    int64_t k, double temperature, double w_ce, double w_kd, float *loss,
                    float *dstudent) {
  if (n < 1 || k < 1 || n > INT64_MAX / k) return PARE_REF_EINVAL;
  if (!(temperature > 0.0) || !isfinite(temperature)) return PARE_REF_EINVAL;
  if (!student || !loss || (w_ce != 0.0 && !labels) || (w_kd != 0.0 && !teacher))
    return PARE_REF_EINVAL;
  if (w_ce != 0.0)
    for (int64_t r = 0; r < n; r++)
      if (labels[r] < 0 || labels[r] >= k) return PARE_REF_ERANGE;
  double inv_t = 1.0 / temperature, inv_n = 1.0 / (double)n;
  double total_ce = 0.0, total_kl = 0.0;
  for (int64_t r = 0; r < n; r++) {
    const float *s = student + (size_t)(r * k);
    const float *t = w_kd != 0.0 ? teacher + (size_t)(r * k) : NULL;
    double mx1 = 0.0, lse1 = 0.0, mxs = 0.0, lses = 0.0, mxt = 0.0, lset = 0.0;
    if (w_ce != 0.0) {
      lse1 = row_lse(s, k, 1.0, &mx1);
      total_ce += mx1 + lse1 - (double)s[labels[r]];
    }
    if (w_kd != 0.0) {
      lses = row_lse(s, k, inv_t, &mxs);
      lset = row_lse(t, k, inv_t, &mxt);
      double kl = 0.0;
      for (int64_t j = 0; j < k; j++) {
        double logp = (double)t[j] * inv_t - mxt - lset;
        double logq = (double)s[j] * inv_t - mxs - lses;
        double p = exp(logp);
        if (p > 0.0) kl += p * (logp - logq);
      }
      total_kl += kl;
    }
    if (!dstudent) continue;
    float *g = dstudent + (size_t)(r * k);
    for (int64_t j = 0; j < k; j++) {
      double v = 0.0;
      if (w_ce != 0.0) {
        double q1 = exp((double)s[j] - mx1 - lse1);
        v += w_ce * (q1 - (j == labels[r] ? 1.0 : 0.0));
      }
      if (w_kd != 0.0) {
        double q = exp((double)s[j] * inv_t - mxs - lses);
        double p = exp((double)t[j] * inv_t - mxt - lset);
        v += w_kd * temperature * (q - p);
      }
      g[j] = (float)(v * inv_n);
    }
  }
  double l = 0.0;
  if (w_ce != 0.0) l += w_ce * total_ce * inv_n;
  if (w_kd != 0.0) l += w_kd * temperature * temperature * total_kl * inv_n;
  *loss = (float)l;
  return PARE_REF_OK;
}

int pare_ref_softmax_xent_f32(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                              float *loss, float *dlogits) {
  return loss_any(NULL, logits, labels, n, k, 1.0, 1.0, 0.0, loss, dlogits);
}

int pare_ref_distill_kl_f32(const float *teacher, const float *student, int64_t n, int64_t k,
                            float temperature, float *loss, float *dstudent) {
  return loss_any(teacher, student, NULL, n, k, (double)temperature, 0.0, 1.0, loss, dstudent);
}

int pare_ref_distill_loss_f32(const float *teacher, const float *student, const int64_t *labels,
                              int64_t n, int64_t k, float temperature, float alpha, float *loss,
                              float *dstudent) {
  if (!(alpha >= 0.0f && alpha <= 1.0f)) return PARE_REF_EINVAL;
  double a = (double)alpha;
  return loss_any(teacher, student, labels, n, k, (double)temperature, a, 1.0 - a, loss, dstudent);
}
