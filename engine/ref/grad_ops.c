/* Reference backward passes of Gemm, MatMul, the activations and the
 * broadcasting binary ops. Every gradient element is a sum formed in double
 * and rounded once. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/ref/grad.h"

/* a·b into *out unless it overflows size_t. */
static int mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return 0;
  *out = a * b;
  return 1;
}

/* dC of Gemm: C viewed as [cr, cc] (its dims padded with leading 1s) and
 * each element collects beta·dy over the rows and columns it was broadcast
 * to. */
static int gemm_dc(size_t m, size_t n, float beta, const float *dy, int c_rank,
                   const int64_t *c_dims, float *dc) {
  int64_t count, pad[2] = {1, 1};
  if (c_rank < 0 || c_rank > 2 || pare_ref_shape_numel(c_rank, c_dims, &count) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  for (int i = 0; i < c_rank; i++) pad[2 - c_rank + i] = c_dims[i];
  if ((pad[0] != 1 && (uint64_t)pad[0] != m) || (pad[1] != 1 && (uint64_t)pad[1] != n))
    return PARE_REF_EINVAL;
  size_t cr = (size_t)pad[0], cc = (size_t)pad[1];
  for (size_t ci = 0; ci < cr; ci++) {
    for (size_t cj = 0; cj < cc; cj++) {
      size_t i0 = cr == 1 ? 0 : ci, i1 = cr == 1 ? m : ci + 1;
      size_t j0 = cc == 1 ? 0 : cj, j1 = cc == 1 ? n : cj + 1;
      double acc = 0.0;
      for (size_t i = i0; i < i1; i++)
        for (size_t j = j0; j < j1; j++) acc += (double)dy[i * n + j];
      dc[ci * cc + cj] = (float)((double)beta * acc);
    }
  }
  return PARE_REF_OK;
}

int pare_ref_gemm_backward_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                               float beta, const float *a, const float *b, const float *dy,
                               float *da, float *db, int c_rank, const int64_t *c_dims, float *dc) {
  size_t t;
  if (!mul_size(m, k, &t) || !mul_size(k, n, &t) || !mul_size(m, n, &t)) return PARE_REF_EINVAL;
  if ((da || db || dc) && !dy) return PARE_REF_EINVAL;
  if ((da && !b) || (db && !a)) return PARE_REF_EINVAL;
  if (dc) {
    int rc = gemm_dc(m, n, beta, dy, c_rank, c_dims, dc);
    if (rc != PARE_REF_OK) return rc;
  }
  /* d op(A)[i, p] = alpha·Σ_j dy[i, j]·op(B)[p, j], stored back through the
   * transpose when trans_a. */
  if (da) {
    for (size_t i = 0; i < m; i++) {
      for (size_t p = 0; p < k; p++) {
        double acc = 0.0;
        for (size_t j = 0; j < n; j++) {
          float bv = trans_b ? b[j * k + p] : b[p * n + j];
          acc += (double)dy[i * n + j] * (double)bv;
        }
        da[trans_a ? p * m + i : i * k + p] = (float)((double)alpha * acc);
      }
    }
  }
  /* d op(B)[p, j] = alpha·Σ_i op(A)[i, p]·dy[i, j]. */
  if (db) {
    for (size_t p = 0; p < k; p++) {
      for (size_t j = 0; j < n; j++) {
        double acc = 0.0;
        for (size_t i = 0; i < m; i++) {
          float av = trans_a ? a[p * m + i] : a[i * k + p];
          acc += (double)av * (double)dy[i * n + j];
        }
        db[trans_b ? j * k + p : p * n + j] = (float)((double)alpha * acc);
      }
    }
  }
  return PARE_REF_OK;
}

int pare_ref_matmul_backward_f32(size_t m, size_t n, size_t k, const float *a, const float *b,
                                 const float *dy, float *da, float *db) {
  return pare_ref_gemm_backward_f32(0, 0, m, n, k, 1.0f, 0.0f, a, b, dy, da, db, 0, NULL, NULL);
}

/* f'(x) of one activation in double; yv is the forward output (only read
 * when has_y). */
static double act_derivative(pare_ref_act act, double x, int has_y, double yv, double alpha,
                             double beta) {
  switch (act) {
  case PARE_REF_ACT_NONE: return 1.0;
  case PARE_REF_ACT_RELU: return x > 0.0 ? 1.0 : 0.0;
  case PARE_REF_ACT_RELU6: return x > 0.0 && x < 6.0 ? 1.0 : 0.0;
  case PARE_REF_ACT_LEAKY_RELU: return x >= 0.0 ? 1.0 : alpha;
  case PARE_REF_ACT_SIGMOID: {
    double s = has_y ? yv : 1.0 / (1.0 + exp(-x));
    return s * (1.0 - s);
  }
  case PARE_REF_ACT_TANH: {
    double th = has_y ? yv : tanh(x);
    return 1.0 - th * th;
  }
  case PARE_REF_ACT_HARD_SIGMOID: {
    double v = alpha * x + beta;
    return v > 0.0 && v < 1.0 ? alpha : 0.0;
  }
  case PARE_REF_ACT_HARD_SWISH:
    if (x < -3.0) return 0.0;
    if (x > 3.0) return 1.0;
    return x / 3.0 + 0.5;
  case PARE_REF_ACT_ELU: return x >= 0.0 ? 1.0 : alpha * exp(x);
  case PARE_REF_ACT_SELU: return beta * (x > 0.0 ? 1.0 : alpha * exp(x));
  case PARE_REF_ACT_CLIP: return x >= alpha && x <= beta ? 1.0 : 0.0;
  case PARE_REF_ACT_EXP: return has_y ? yv : exp(x);
  case PARE_REF_ACT_SQRT: return 0.5 / (has_y ? yv : sqrt(x));
  case PARE_REF_ACT_NEG: return -1.0;
  case PARE_REF_ACT_RECIPROCAL: return has_y ? -yv * yv : -1.0 / (x * x);
  case PARE_REF_ACT_SHRINK: return x < -alpha || x > alpha ? 1.0 : 0.0;
  }
  return NAN;
}

int pare_ref_act_backward_f32(pare_ref_act act, const float *x, const float *y, const float *dy,
                              float *dx, size_t n, float alpha, float beta) {
  if (act < PARE_REF_ACT_NONE || act > PARE_REF_ACT_SHRINK) return PARE_REF_EINVAL;
  if (n == 0) return PARE_REF_OK;
  if (!x || !dy || !dx) return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++) {
    double d = act_derivative(act, (double)x[i], y != NULL, y ? (double)y[i] : 0.0, (double)alpha,
                              (double)beta);
    dx[i] = (float)((double)dy[i] * d);
  }
  return PARE_REF_OK;
}

/* ---- Broadcasting binary ops ---- */

/* Advances the multi-index idx over dims (last axis fastest) and moves the
 * offsets *oa and *ob by their strides. */
static void odometer(int rank, const int64_t *dims, int64_t *idx, const int64_t *sa, int64_t *oa,
                     const int64_t *sb, int64_t *ob) {
  for (int i = rank - 1; i >= 0; i--) {
    idx[i]++;
    *oa += sa[i];
    *ob += sb[i];
    if (idx[i] < dims[i]) return;
    *oa -= sa[i] * dims[i];
    *ob -= sb[i] * dims[i];
    idx[i] = 0;
  }
}

int pare_ref_broadcast_binop_backward_f32(pare_ref_binop op, const float *a, int a_rank,
                                          const int64_t *a_dims, const float *b, int b_rank,
                                          const int64_t *b_dims, const float *dy, float *da,
                                          float *db) {
  if (op != PARE_REF_ADD && op != PARE_REF_SUB && op != PARE_REF_MUL && op != PARE_REF_DIV)
    return PARE_REF_EINVAL;
  int r;
  int64_t out[PARE_REF_MAX_RANK], sa[PARE_REF_MAX_RANK], sb[PARE_REF_MAX_RANK];
  int64_t total, na, nb;
  int rc = pare_ref_broadcast_shape(a_rank, a_dims, b_rank, b_dims, &r, out);
  if (rc != PARE_REF_OK) return rc;
  if (pare_ref_shape_numel(r, out, &total) != PARE_REF_OK ||
      pare_ref_shape_numel(a_rank, a_dims, &na) != PARE_REF_OK ||
      pare_ref_shape_numel(b_rank, b_dims, &nb) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  if ((uint64_t)na > SIZE_MAX / sizeof(double) || (uint64_t)nb > SIZE_MAX / sizeof(double))
    return PARE_REF_ENOMEM;
  int mul_like = op == PARE_REF_MUL || op == PARE_REF_DIV;
  if (total > 0 && (da || db) && !dy) return PARE_REF_EINVAL;
  int need_a = db && mul_like, need_b = (da && mul_like) || (db && op == PARE_REF_DIV);
  if (total > 0 && ((need_a && !a) || (need_b && !b))) return PARE_REF_EINVAL;
  pare_ref_broadcast_strides(a_rank, a_dims, r, out, sa);
  pare_ref_broadcast_strides(b_rank, b_dims, r, out, sb);
  /* One double accumulator per input element (at least one, so calloc's
   * NULL always means failure). */
  double *acc_a = da ? calloc(na > 0 ? (size_t)na : 1, sizeof *acc_a) : NULL;
  double *acc_b = db ? calloc(nb > 0 ? (size_t)nb : 1, sizeof *acc_b) : NULL;
  if ((da && !acc_a) || (db && !acc_b)) {
    free(acc_a);
    free(acc_b);
    return PARE_REF_ENOMEM;
  }
  int64_t idx[PARE_REF_MAX_RANK] = {0}, oa = 0, ob = 0;
  for (int64_t e = 0; e < total && (da || db); e++) {
    double g = (double)dy[e];
    double av = need_a ? (double)a[oa] : 0.0;
    double bv = need_b ? (double)b[ob] : 0.0;
    switch (op) {
    case PARE_REF_ADD:
      if (da) acc_a[oa] += g;
      if (db) acc_b[ob] += g;
      break;
    case PARE_REF_SUB:
      if (da) acc_a[oa] += g;
      if (db) acc_b[ob] -= g;
      break;
    case PARE_REF_MUL:
      if (da) acc_a[oa] += g * bv;
      if (db) acc_b[ob] += g * av;
      break;
    default: /* DIV: d(a/b)/da = 1/b, d(a/b)/db = -a/b² */
      if (da) acc_a[oa] += g / bv;
      if (db) acc_b[ob] -= g * av / (bv * bv);
      break;
    }
    odometer(r, out, idx, sa, &oa, sb, &ob);
  }
  for (int64_t i = 0; da && i < na; i++) da[i] = (float)acc_a[i];
  for (int64_t i = 0; db && i < nb; i++) db[i] = (float)acc_b[i];
  free(acc_a);
  free(acc_b);
  return PARE_REF_OK;
}
