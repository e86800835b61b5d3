/* Reference thin SVD: one-sided Jacobi (Hestenes) in double precision.
 *
 * With M = max(m, n) and k = min(m, n), the k "columns" w_i (length M) are
 * the columns of A when m >= n and the rows of A (the columns of Aᵀ) when
 * m < n. Pairs (i, j) are rotated in cyclic order so that w_i·w_j = 0, the
 * rotations accumulated into the k×k matrix V (started at I). At
 * convergence W = B·V has orthogonal columns (B = A or Aᵀ), so
 * B = (W/‖W‖)·diag(‖w_i‖)·Vᵀ. For m >= n that is U·S·Vt directly; for
 * m < n, A = Bᵀ = V·S·(W/‖W‖)ᵀ, so U and Vt swap roles. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref/svd.h"

void pare_svd_params_init(pare_svd_params *p) {
  p->tol = 1e-7f;
  p->max_sweeps = 30;
}

static double dot(const double *x, const double *y, size_t len) {
  double acc = 0.0;
  for (size_t i = 0; i < len; i++) acc += x[i] * y[i];
  return acc;
}

/* Rotates x, y in place: x' = c·x - s·y, y' = s·x + c·y. */
static void rotate(double *x, double *y, size_t len, double c, double s) {
  for (size_t i = 0; i < len; i++) {
    double xi = x[i], yi = y[i];
    x[i] = c * xi - s * yi;
    y[i] = s * xi + c * yi;
  }
}

/* One Jacobi rotation of the pair (x, y) making them orthogonal, applied to
 * the columns vx, vy of V too. Returns 1 when it rotated. */
static int jacobi_pair(double *x, double *y, size_t len, double *vx, double *vy, size_t vlen,
                       double tol) {
  double alpha = dot(x, x, len), beta = dot(y, y, len), gamma = dot(x, y, len);
  if (gamma == 0.0 || !(fabs(gamma) > tol * sqrt(alpha) * sqrt(beta))) return 0;
  /* tan of the angle: the smaller root of t² + 2ζt - 1 = 0. */
  double zeta = (beta - alpha) / (2.0 * gamma);
  double t = (zeta >= 0 ? 1.0 : -1.0) / (fabs(zeta) + sqrt(1.0 + zeta * zeta));
  double c = 1.0 / sqrt(1.0 + t * t), s = c * t;
  rotate(x, y, len, c, s);
  rotate(vx, vy, vlen, c, s);
  return 1;
}

/* x = e_t minus its projection on the rows `done` of q (two Gram–Schmidt
 * passes); returns the remainder's norm. */
static double project_out(double *x, size_t t, const double *q, size_t len, const size_t *done,
                          size_t ndone) {
  memset(x, 0, len * sizeof *x);
  x[t] = 1.0;
  for (int pass = 0; pass < 2; pass++)
    for (size_t d = 0; d < ndone; d++) {
      const double *y = q + done[d] * len;
      double proj = dot(x, y, len);
      for (size_t r = 0; r < len; r++) x[r] -= proj * y[r];
    }
  return sqrt(dot(x, x, len));
}

/* Makes row `i` of q (rows of length len; the ndone < len rows in `done`
 * orthonormal) a unit vector orthogonal to those rows, from the first unit
 * vector e_t whose remainder is longer than 1/2, else the longest one (the
 * squared remainders of all e_t sum to len - ndone >= 1, so the longest is
 * at least 1/sqrt(len)). */
static void complete_row(double *q, size_t len, const size_t *done, size_t ndone, size_t i) {
  double *x = q + i * len, best = -1.0, nrm = 0.0;
  size_t best_t = 0;
  for (size_t t = 0; t < len; t++) {
    nrm = project_out(x, t, q, len, done, ndone);
    if (nrm > 0.5) break;
    if (nrm > best) best = nrm, best_t = t;
  }
  if (!(nrm > 0.5)) nrm = project_out(x, best_t, q, len, done, ndone);
  for (size_t r = 0; r < len; r++) x[r] /= nrm;
}

/* One Newton–Schulz step on the k rows of q (length len, near orthonormal):
 * q <- q - ½(q·qᵀ - I)·q, which squares their distance from orthonormality
 * (in double it leaves ~1e-15 of the ~1e-7 the convergence test allows).
 * e is k×k, t k×len scratch. */
static void reorthonormalize(double *q, size_t k, size_t len, double *e, double *t) {
  for (size_t i = 0; i < k; i++)
    for (size_t j = i; j < k; j++) {
      double d = dot(q + i * len, q + j * len, len) - (i == j ? 1.0 : 0.0);
      e[i * k + j] = d;
      e[j * k + i] = d;
    }
  for (size_t i = 0; i < k; i++) {
    double *ti = t + i * len;
    memcpy(ti, q + i * len, len * sizeof *ti);
    for (size_t j = 0; j < k; j++) {
      const double f = -0.5 * e[i * k + j];
      const double *qj = q + j * len;
      for (size_t r = 0; r < len; r++) ti[r] += f * qj[r];
    }
  }
  memcpy(q, t, k * len * sizeof *q);
}

int pare_ref_svd_f32(size_t m, size_t n, const float *a, float *u, float *s, float *vt,
                     const pare_svd_params *p) {
  pare_svd_params def;
  if (!p) {
    pare_svd_params_init(&def);
    p = &def;
  }
  if (!(p->tol >= 0.0f) || !isfinite(p->tol) || p->max_sweeps < 1) return PARE_REF_SVD_EINVAL;
  if (m == 0 || n == 0) return PARE_REF_SVD_OK;
  if (!a || !u || !s || !vt) return PARE_REF_SVD_EINVAL;
  const size_t big = m > n ? m : n, k = m < n ? m : n;
  if (big > SIZE_MAX / sizeof(double) / big) return PARE_REF_SVD_EINVAL;
  for (size_t i = 0; i < m * n; i++)
    if (!isfinite(a[i])) return PARE_REF_SVD_EINVAL;
  const int tall = m >= n;
  double *w = malloc(k * big * sizeof *w), *v = calloc(k * k, sizeof *v);
  double *norm = malloc(k * sizeof *norm);
  size_t *order = malloc(k * sizeof *order), *done = malloc(k * sizeof *done);
  double *e = malloc(k * k * sizeof *e), *t = malloc(k * big * sizeof *t);
  if (!w || !v || !norm || !order || !done || !e || !t) {
    free(w), free(v), free(norm), free(order), free(done), free(e), free(t);
    return PARE_REF_SVD_ENOMEM;
  }
  /* w row i = column i of B (B = A when tall, Aᵀ when wide). */
  for (size_t i = 0; i < k; i++)
    for (size_t r = 0; r < big; r++) w[i * big + r] = tall ? a[r * n + i] : a[i * n + r];
  for (size_t i = 0; i < k; i++) v[i * k + i] = 1.0;

  for (int sweep = 0; sweep < p->max_sweeps; sweep++) {
    int rotated = 0;
    for (size_t i = 0; i + 1 < k; i++)
      for (size_t j = i + 1; j < k; j++)
        rotated |= jacobi_pair(w + i * big, w + j * big, big, v + i * k, v + j * k, k, p->tol);
    if (!rotated) break;
  }

  /* Norms, then the order by descending norm (insertion sort, stable). */
  for (size_t i = 0; i < k; i++) norm[i] = sqrt(dot(w + i * big, w + i * big, big));
  for (size_t i = 0; i < k; i++) {
    size_t j = i;
    while (j > 0 && norm[order[j - 1]] < norm[i]) {
      order[j] = order[j - 1];
      j--;
    }
    order[j] = i;
  }
  /* Normalize; columns of zero norm are completed after all others. */
  size_t ndone = 0;
  for (size_t i = 0; i < k; i++)
    if (norm[i] > 0.0) {
      for (size_t r = 0; r < big; r++) w[i * big + r] /= norm[i];
      done[ndone++] = i;
    }
  for (size_t i = 0; i < k; i++)
    if (!(norm[i] > 0.0)) {
      complete_row(w, big, done, ndone, i);
      done[ndone++] = i;
    }
  /* The columns of W/‖W‖ are orthogonal only to the convergence tolerance
   * and V's to the rounding of the rotations: one Newton–Schulz step each. */
  reorthonormalize(w, k, big, e, t);
  reorthonormalize(v, k, k, e, t);

  for (size_t c = 0; c < k; c++) {
    size_t i = order[c];
    s[c] = (float)norm[i];
    const double *wi = w + i * big, *vi = v + i * k;
    if (tall) { /* U = W/‖W‖ (m×k), Vt row c = column i of V */
      for (size_t r = 0; r < m; r++) u[r * k + c] = (float)wi[r];
      for (size_t j = 0; j < n; j++) vt[c * n + j] = (float)vi[j];
    } else { /* U column c = column i of V, Vt row c = w_i/‖w_i‖ */
      for (size_t r = 0; r < m; r++) u[r * k + c] = (float)vi[r];
      for (size_t j = 0; j < n; j++) vt[c * n + j] = (float)wi[j];
    }
  }
  free(w), free(v), free(norm), free(order), free(done), free(e), free(t);
  return PARE_REF_SVD_OK;
}
