/* Batched thin SVD of fp32 matrices for pare: one-sided (Hestenes) Jacobi.
 *
 * Every matrix of the batch is m×n; with M = max(m, n) and K = min(m, n) the
 * launcher's svd_prep copies the K "columns" of B (B = A when m >= n, Aᵀ
 * when m < n: the transpose is taken here) into W, K rows of M floats each
 * padded with zeros to a stride LD (a multiple of 16), and sets V (K rows,
 * stride LDV, a multiple of 16) to I. A rotation of the pair (p, q) makes
 * w_p·w_q = 0 and is applied to rows p, q of W and V alike:
 *
 *   alpha = ‖w_p‖², beta = ‖w_q‖², gamma = w_p·w_q
 *   rotate when |gamma| > tol·sqrt(alpha·beta):
 *   zeta = (beta - alpha) / (2 gamma), t = sign(zeta) / (|zeta| + sqrt(1 + zeta²)),
 *   c = 1 / sqrt(1 + t²), s = c·t;  w_p' = c·w_p - s·w_q,  w_q' = s·w_p + c·w_q
 *   and then ‖w_p'‖² = alpha - t·gamma, ‖w_q'‖² = beta + t·gamma.
 *
 * Pairs are visited in round-robin (tournament) order: with K' = K rounded
 * up to even, step r (0 <= r < K'-1) holds the K'/2 disjoint pairs
 *   pair 0: (K'-1, r),  pair i > 0: ((r + i) mod (K'-1), (r - i) mod (K'-1))
 * (a pair naming column K when K is odd is skipped), so one sweep of K'-1
 * steps rotates every pair once and the pairs of a step run in parallel.
 *
 *   svd_sweeps     one work-group per matrix runs every sweep in one launch,
 *                  a work-item per pair, W and V in local memory when
 *                  SVD_LOCAL=1 (they fit) or in global memory otherwise.
 *                  The squared column norms are computed at the start of
 *                  each sweep and then kept up to date by the formula
 *                  above (recomputed when it cancels), so a pair costs one
 *                  dot product, not three; dot products and rotations run
 *                  on float16 vectors over the rows. Stops when a sweep
 *                  rotated nothing, or after max_sweeps; writes the number
 *                  of sweeps to flags[b].
 *   svd_step       one launch per step, a work-group per (pair, matrix):
 *                  the three dot products reduced through local memory.
 *                  Sets flags[b] when it rotated; the host clears the
 *                  flags before a sweep and stops once all stay 0.
 *   svd_finish     one work-group per matrix: s_i = ‖w_i‖, the descending
 *                  order by rank counting (ties by index), u_i = w_i / s_i,
 *                  columns with s_i <= SVD_TINY completed by Gram–Schmidt
 *                  against unit vectors, then one Newton–Schulz step
 *                  X <- X - ½(X·Xᵀ - I)·X on the rows of U and of V (the
 *                  Gram matrix summed exactly, in double or compensated),
 *                  which brings both from the ~1e-7 per entry that fp32
 *                  rotations leave back to the rounding of their entries,
 *                  and the outputs (U, s, Vt) written in that order.
 *
 * Sums: in double when SVD_FP64=1 (cl_khr_fp64; fp32 products are exact in
 * double), else in float, compensated: each product's rounding error (an
 * fma) and each addition's (Kahan) kept per lane, the lanes folded by
 * exact two-sums. Rotations are applied in float with an fma; in the float
 * path (c, s) get a Newton step towards c² + s² = 1. W and V stay fp32.
 * The launcher picks the path: svd_sweeps for k <= 64 on GPUs (W and V in
 * local memory when they fit) and at every size on CPUs, where one launch
 * with the matrix hot in cache measured 2-2.5x faster than a launch per
 * step; svd_step for larger k elsewhere.
 *
 * Scratch (global, floats): W at off_w (batch·K·LD), V at off_v
 * (batch·K·LDV), work copies of both at off_t (batch·K·LD) and off_tv
 * (batch·K·LDV), the Gram error E at
 * off_e (batch·K·K), norms at off_s (batch·K), the order at off_p (batch·K
 * ints), a vector per matrix at off_x (batch·LD) and the flags at off_f
 * (batch ints). */

#if SVD_FP64
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double acc_t;
#else
typedef float acc_t;
#endif

#ifndef SVD_LOCAL
#define SVD_LOCAL 0
#endif
#if SVD_LOCAL
#define SVD_AS __local
#else
#define SVD_AS __global
#endif

/* Columns of zero norm (to fp32 resolution) are completed, not normalized. */
#define SVD_TINY (FLT_MIN * 16.0f)

/* Kahan accumulation of a product: (sum, comp) += x·y (svd_step). */
#if SVD_FP64
#define SVD_ADD(sum, comp, x, y) ((sum) += (acc_t)(x) * (acc_t)(y))
#else
#define SVD_ADD(sum, comp, x, y)                                                                   \
  do {                                                                                             \
    float y_ = (x) * (y) - (comp);                                                                 \
    float t_ = (sum) + y_;                                                                         \
    (comp) = (t_ - (sum)) - y_;                                                                    \
    (sum) = t_;                                                                                    \
  } while (0)
#endif

#if !SVD_FP64
/* One level of an exact fold: the sums of the halves, their rounding
 * errors added to the compensation. */
#define SVD_FOLD(s, c, sn, cn, T)                                                                  \
  do {                                                                                             \
    const T a_ = (s).lo, b_ = (s).hi, h_ = a_ + b_, bb_ = h_ - a_;                                 \
    (cn) = (c).lo + (c).hi + ((a_ - (h_ - bb_)) + (b_ - bb_));                                     \
    (sn) = h_;                                                                                     \
  } while (0)

/* The sum of 16 lanes s plus their compensations c. */
static float svd_fold16(float16 s, float16 c) {
  float8 s8, c8;
  float4 s4, c4;
  float2 s2, c2;
  SVD_FOLD(s, c, s8, c8, float8);
  SVD_FOLD(s8, c8, s4, c4, float4);
  SVD_FOLD(s4, c4, s2, c2, float2);
  const float h = s2.x + s2.y, bb = h - s2.x;
  return h + (c2.x + c2.y + ((s2.x - (h - bb)) + (s2.y - bb)));
}
#endif

/* x·y over len floats (len a multiple of 16). */
#if SVD_FP64
#define SVD_DOT_BODY                                                                               \
  double8 a0 = 0.0, a1 = 0.0;                                                                      \
  for (int e = 0; e < len; e += 16) {                                                              \
    const float16 xv = vload16(0, x + e), yv = vload16(0, y + e);                                  \
    a0 = fma(convert_double8(xv.lo), convert_double8(yv.lo), a0);                                  \
    a1 = fma(convert_double8(xv.hi), convert_double8(yv.hi), a1);                                  \
  }                                                                                                \
  a0 += a1;                                                                                        \
  const double4 a2 = a0.lo + a0.hi;                                                                \
  const double2 a3 = a2.lo + a2.hi;                                                                \
  return a3.x + a3.y;
#else
#define SVD_DOT_BODY                                                                               \
  float16 sum = 0.0f, comp = 0.0f, err = 0.0f;                                                     \
  for (int e = 0; e < len; e += 16) {                                                              \
    const float16 xv = vload16(0, x + e), yv = vload16(0, y + e), p = xv * yv;                     \
    err += fma(xv, yv, -p);                                                                        \
    const float16 d = p - comp, t = sum + d;                                                       \
    comp = (t - sum) - d;                                                                          \
    sum = t;                                                                                       \
  }                                                                                                \
  return svd_fold16(sum, err - comp);
#endif

/* Rotates rows x, y (len floats, a multiple of 16) by (c, s). */
#define SVD_ROT_BODY                                                                               \
  const float16 cv = (float16)c, sv = (float16)s;                                                  \
  for (int e = 0; e < len; e += 16) {                                                              \
    const float16 xv = vload16(0, x + e), yv = vload16(0, y + e);                                  \
    vstore16(fma(cv, xv, -(sv * yv)), 0, x + e);                                                   \
    vstore16(fma(cv, yv, sv *xv), 0, y + e);                                                       \
  }

static acc_t svd_dot_g(__global const float *x, __global const float *y, int len) { SVD_DOT_BODY }
#if SVD_LOCAL
static acc_t svd_dot_l(__local const float *x, __local const float *y, int len) { SVD_DOT_BODY }
static void svd_rot_l(__local float *x, __local float *y, int len, float c, float s) {
  SVD_ROT_BODY
}
#define SVD_DOT svd_dot_l
#define SVD_ROT svd_rot_l
#else
static void svd_rot_g(__global float *x, __global float *y, int len, float c, float s) {
  SVD_ROT_BODY
}
#define SVD_DOT svd_dot_g
#define SVD_ROT svd_rot_g
#endif

/* The pair of tournament step r: 0 when it names a padding column. */
static int svd_pair(int k, int r, int i, int *p, int *q) {
  const int last = ((k + 1) & ~1) - 1;
  int a, b;
  if (i == 0) {
    a = last;
    b = r;
  } else {
    a = r + i;
    a -= a >= last ? last : 0;
    b = r - i;
    b += b < 0 ? last : 0;
  }
  *p = min(a, b);
  *q = max(a, b);
  return *q < k;
}

/* The rotation of (alpha, beta, gamma) as fp32 (c, s) and the tangent t:
 * 0 when none is due. */
static int svd_rotation(acc_t alpha, acc_t beta, acc_t gamma, float tol, float *c, float *s,
                        acc_t *t) {
  if (gamma == (acc_t)0 || !(fabs(gamma) > (acc_t)tol * sqrt(alpha) * sqrt(beta))) return 0;
  const acc_t zeta = (beta - alpha) / ((acc_t)2 * gamma);
  const acc_t tt =
      (zeta >= (acc_t)0 ? (acc_t)1 : (acc_t)-1) / (fabs(zeta) + sqrt((acc_t)1 + zeta * zeta));
  const acc_t cc = (acc_t)1 / sqrt((acc_t)1 + tt * tt);
  *t = tt;
  *c = (float)cc;
  *s = (float)(cc * tt);
#if !SVD_FP64
  /* float sqrt and division may be off by ~3 ulp: one Newton step for
   * 1/sqrt(c² + s²) brings c² + s² back to 1 within an ulp or so. */
  const float r = fma(*c, *c, *s * *s), f = 1.5f - 0.5f * r;
  *c *= f;
  *s *= f;
#endif
  return 1;
}

/* Launch: global = (LD, K, batch), any local size: item (r, i, b) writes
 * W[b] row i entry r and, when r < LDV, V[b] row i entry r. */
__kernel void svd_prep(const int m, const int n, const int ld, const int ldv,
                       __global const float *a, __global float *scratch, const int off_w,
                       const int off_v) {
  const int r = (int)get_global_id(0), i = (int)get_global_id(1), b = (int)get_global_id(2);
  const int big = max(m, n), k = min(m, n);
  __global const float *ab = a + b * m * n;
  scratch[off_w + (b * k + i) * ld + r] = r >= big ? 0.0f : m >= n ? ab[r * n + i] : ab[i * n + r];
  if (r < ldv) scratch[off_v + (b * k + i) * ldv + r] = r == i ? 1.0f : 0.0f;
}

/* Launch: global = batch·L, local = L (any L). With SVD_LOCAL, `lw` holds
 * K·LD + K·LDV floats, else it is unused (size of one float); nrm holds K
 * acc_t and cs 2·K' floats.
 *
 * Each step runs in two phases over the pairs of a work-item: first the dot
 * products and the rotations (c, s) of all of them, a short loop body whose
 * divisions and square roots of one pair overlap the next pair's loads,
 * then the rotations themselves, a stream of fma over the rows. */
__kernel void svd_sweeps(const int batch, const int k, const int ld, const int ldv, const float tol,
                         const int max_sweeps, __global float *scratch, const int off_w,
                         const int off_v, const int off_f, __local float *lw, __local acc_t *nrm,
                         __local float *cs) {
  const int b = (int)get_group_id(0), lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  if (b >= batch) return;
  __local int rotated;
  __global float *gw = scratch + off_w + b * k * ld, *gv = scratch + off_v + b * k * ldv;
#if SVD_LOCAL
  SVD_AS float *w = lw, *v = lw + k * ld;
  for (int e = lid; e < k * ld / 16; e += ls) vstore16(vload16(e, gw), e, w);
  for (int e = lid; e < k * ldv / 16; e += ls) vstore16(vload16(e, gv), e, v);
#else
  (void)lw;
  SVD_AS float *w = gw, *v = gv;
#endif
  const int kk = (k + 1) & ~1, npair = kk / 2;
  int sweep = 0;
  while (sweep < max_sweeps) {
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    /* Exact squared norms once a sweep: the updates below drift. */
    for (int i = lid; i < k; i += ls) nrm[i] = SVD_DOT(w + i * ld, w + i * ld, ld);
    if (lid == 0) rotated = 0;
    sweep++;
    for (int r = 0; r < kk - 1; r++) {
      barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
      int any = 0;
      for (int i = lid; i < npair; i += ls) {
        int p, q;
        float c = 0.0f, s = 0.0f;
        if (svd_pair(k, r, i, &p, &q)) {
          const acc_t alpha = nrm[p], beta = nrm[q];
          const acc_t gamma = SVD_DOT(w + p * ld, w + q * ld, ld);
          acc_t t;
          if (svd_rotation(alpha, beta, gamma, tol, &c, &s, &t)) {
            any = 1;
            /* The updated norms; a negative one is recomputed after the
             * rotation (the update cancelled: a column of a rank-deficient
             * matrix shrinking to rounding noise). */
            const acc_t a2 = alpha - t * gamma, b2 = beta + t * gamma;
            nrm[p] = a2 > (acc_t)0.125 * alpha ? a2 : (acc_t)-1;
            nrm[q] = b2 > (acc_t)0.125 * beta ? b2 : (acc_t)-1;
          }
        }
        cs[2 * i] = c; /* c = 0: no rotation (a rotation has c >= 1/sqrt(2)) */
        cs[2 * i + 1] = s;
      }
      if (!any) continue;
      rotated = 1;
      for (int i = lid; i < npair; i += ls) {
        const float c = cs[2 * i], s = cs[2 * i + 1];
        int p, q;
        if (c == 0.0f || !svd_pair(k, r, i, &p, &q)) continue;
        SVD_AS float *x = w + p * ld, *y = w + q * ld;
        SVD_ROT(x, y, ld, c, s);
        SVD_ROT(v + p * ldv, v + q * ldv, ldv, c, s);
        if (nrm[p] < (acc_t)0) nrm[p] = SVD_DOT(x, x, ld);
        if (nrm[q] < (acc_t)0) nrm[q] = SVD_DOT(y, y, ld);
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    if (!rotated) break; /* uniform: every item read the flag after the barrier */
  }
  if (lid == 0) ((__global int *)(scratch + off_f))[b] = sweep;
#if SVD_LOCAL
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int e = lid; e < k * ld / 16; e += ls) vstore16(vload16(e, w), e, gw);
  for (int e = lid; e < k * ldv / 16; e += ls) vstore16(vload16(e, v), e, gv);
#endif
}

/* Tree sum of red[0..ls) (ls a power of two) into red[0]; every item
 * returns the total. */
static acc_t svd_reduce(__local acc_t *red, int lid, int ls) {
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int h = ls / 2; h > 0; h /= 2) {
    if (lid < h) red[lid] += red[lid + h];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  acc_t total = red[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  return total;
}

/* Rotates x, y (len floats, strided by `step` from `first`) by (c, s). */
#define SVD_ROTATE(x, y, len, first, step, c, s)                                                   \
  for (int r_ = (first); r_ < (len); r_ += (step)) {                                               \
    float xr_ = (x)[r_], yr_ = (y)[r_];                                                            \
    (x)[r_] = fma((c), xr_, -((s)*yr_));                                                           \
    (y)[r_] = fma((c), yr_, (s)*xr_);                                                              \
  }

/* Launch: global = (L, K'/2, batch), local = (L, 1, 1), L a power of two;
 * red holds 3·L acc_t. */
__kernel void svd_step(const int batch, const int k, const int ld, const int ldv, const int r,
                       const float tol, __global float *scratch, const int off_w, const int off_v,
                       const int off_f, __local acc_t *red) {
  const int lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  const int i = (int)get_group_id(1), b = (int)get_group_id(2);
  int p, q;
  if (b >= batch || !svd_pair(k, r, i, &p, &q)) return; /* uniform across the group */
  __global float *x = scratch + off_w + (b * k + p) * ld, *y = scratch + off_w + (b * k + q) * ld;
  acc_t alpha = 0, beta = 0, gamma = 0, ca = 0, cb = 0, cg = 0;
  for (int e = lid; e < ld; e += ls) {
    const float xe = x[e], ye = y[e];
    SVD_ADD(alpha, ca, xe, xe);
    SVD_ADD(beta, cb, ye, ye);
    SVD_ADD(gamma, cg, xe, ye);
  }
  red[lid] = alpha;
  red[ls + lid] = beta;
  red[2 * ls + lid] = gamma;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int h = ls / 2; h > 0; h /= 2) {
    if (lid < h) {
      red[lid] += red[lid + h];
      red[ls + lid] += red[ls + lid + h];
      red[2 * ls + lid] += red[2 * ls + lid + h];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  float c, s;
  acc_t t;
  if (!svd_rotation(red[0], red[ls], red[2 * ls], tol, &c, &s, &t)) return;
  if (lid == 0) ((__global int *)(scratch + off_f))[b] = 1;
  SVD_ROTATE(x, y, ld, lid, ls, c, s);
  __global float *vx = scratch + off_v + (b * k + p) * ldv,
                 *vy = scratch + off_v + (b * k + q) * ldv;
  SVD_ROTATE(vx, vy, ldv, lid, ls, c, s);
}

/* One Newton–Schulz step on the k rows of x (stride len, a multiple of
 * 16): t = x - ½(x·xᵀ - I)·x, with the Gram error e (k×k) summed exactly
 * enough (double, or compensated float) that t is orthonormal to the
 * rounding of its entries when x was within ~1e-3 of it. */
static void svd_reorth(__global const float *x, int k, int len, __global float *t,
                       __global float *e, int lid, int ls) {
  for (int g = lid; g < k * k; g += ls) {
    const int i = g / k, j = g % k;
    if (j < i) continue;
    const float d = (float)(svd_dot_g(x + i * len, x + j * len, len) - (i == j ? 1 : 0));
    e[i * k + j] = d;
    e[j * k + i] = d;
  }
  barrier(CLK_GLOBAL_MEM_FENCE);
  /* The correction (~1e-7 of x) summed apart from x, so that x's entries
   * are rounded once, not once per term. */
  for (int i = lid; i < k; i += ls)
    for (int c = 0; c < len; c += 16) {
      float16 corr = 0.0f;
      for (int j = 0; j < k; j++)
        corr = fma((float16)e[i * k + j], vload16(0, x + j * len + c), corr);
      vstore16(fma((float16)-0.5f, corr, vload16(0, x + i * len + c)), 0, t + i * len + c);
    }
  barrier(CLK_GLOBAL_MEM_FENCE);
}

/* The sort key of a norm: NaN sorts last, so the ranks stay a permutation. */
static float svd_key(float s) { return isnan(s) ? -1.0f : s; }

/* Launch: global = batch·L, local = L, L a power of two; red holds L acc_t.
 * Writes u (batch·m·K), s (batch·K), vt (batch·K·n). */
__kernel void svd_finish(const int batch, const int m, const int n, const int ld, const int ldv,
                         __global float *scratch, const int off_w, const int off_v, const int off_t,
                         const int off_tv, const int off_e, const int off_s, const int off_p,
                         const int off_x, __global float *u, __global float *sv, __global float *vt,
                         __local acc_t *red) {
  const int b = (int)get_group_id(0), lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  if (b >= batch) return;
  const int big = max(m, n), k = min(m, n);
  __global float *w = scratch + off_w + b * k * ld, *v = scratch + off_v + b * k * ldv;
  __global float *tw = scratch + off_t + b * k * ld, *tv = scratch + off_tv + b * k * ldv;
  __global float *e = scratch + off_e + b * k * k;
  __global float *nrm = scratch + off_s + b * k, *x = scratch + off_x + b * ld;
  __global int *order = (__global int *)(scratch + off_p) + b * k;
  /* Norms: one column per item. */
  for (int i = lid; i < k; i += ls) nrm[i] = (float)sqrt(svd_dot_g(w + i * ld, w + i * ld, ld));
  barrier(CLK_GLOBAL_MEM_FENCE);
  /* order[rank] = column, descending, ties by index; normalize. */
  for (int i = lid; i < k; i += ls) {
    const float si = svd_key(nrm[i]);
    int rank = 0;
    for (int j = 0; j < k; j++) {
      const float sj = svd_key(nrm[j]);
      rank += sj > si || (sj == si && j < i);
    }
    order[rank] = i;
    if (!(nrm[i] <= SVD_TINY)) { /* NaN columns too: they stay NaN */
      const float16 d = (float16)si;
      for (int c = 0; c < ld; c += 16) vstore16(vload16(0, w + i * ld + c) / d, 0, w + i * ld + c);
    }
  }
  barrier(CLK_GLOBAL_MEM_FENCE);
  /* Completion of zero columns, in rank order, against every column before
   * them in that order (all non-zero ones come first). */
  for (int c = 0; c < k; c++) {
    const int i = order[c];
    if (!(nrm[i] <= SVD_TINY)) continue; /* uniform */
    float len = 0.0f;
    int best_t = 0;
    float best = -1.0f;
    for (int t = 0; t <= big; t++) {
      const int tt = t < big ? t : best_t; /* the last pass retries the best */
      for (int r = lid; r < ld; r += ls) x[r] = r == tt ? 1.0f : 0.0f;
      barrier(CLK_GLOBAL_MEM_FENCE);
      for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < c; d++) {
          __global const float *y = w + order[d] * ld;
          acc_t part = 0, comp = 0;
          for (int r = lid; r < ld; r += ls) SVD_ADD(part, comp, x[r], y[r]);
          red[lid] = part;
          const float proj = (float)svd_reduce(red, lid, ls);
          for (int r = lid; r < ld; r += ls) x[r] -= proj * y[r];
          barrier(CLK_GLOBAL_MEM_FENCE);
        }
      acc_t part = 0, comp = 0;
      for (int r = lid; r < ld; r += ls) SVD_ADD(part, comp, x[r], x[r]);
      red[lid] = part;
      len = (float)sqrt(svd_reduce(red, lid, ls));
      if (len > 0.5f || t == big) break; /* uniform */
      if (len > best) {
        best = len;
        best_t = t;
      }
    }
    for (int r = lid; r < ld; r += ls) w[i * ld + r] = x[r] / len;
    barrier(CLK_GLOBAL_MEM_FENCE);
  }
  /* Singular values in descending order. */
  for (int c = lid; c < k; c += ls)
    sv[b * k + c] = nrm[order[c]] <= SVD_TINY ? 0.0f : nrm[order[c]];
  /* The rows of W and of V reorthogonalized, into tw and tv. */
  svd_reorth(w, k, ld, tw, e, lid, ls);
  svd_reorth(v, k, ldv, tv, e, lid, ls);
  __global float *ub = u + b * m * k, *vb = vt + b * k * n;
  if (m >= n) { /* U = Wᵀ, Vt row c = V row order[c] */
    for (int g = lid; g < m * k; g += ls) ub[g] = tw[order[g % k] * ld + g / k];
    for (int g = lid; g < k * n; g += ls) vb[g] = tv[order[g / n] * ldv + g % n];
  } else { /* U column c = V row order[c], Vt row c = W row order[c] */
    for (int g = lid; g < m * k; g += ls) ub[g] = tv[order[g % k] * ldv + g / k];
    for (int g = lid; g < k * n; g += ls) vb[g] = tw[order[g / n] * ld + g % n];
  }
}
