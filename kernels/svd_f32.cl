/* Batched thin SVD of fp32 matrices for pare: one-sided (Hestenes) Jacobi.
 *
 * Every matrix of the batch is m×n; with M = max(m, n) and K = min(m, n) the
 * launcher's svd_prep copies the K "columns" of B (B = A when m >= n, Aᵀ
 * when m < n: the transpose is taken here) into W, K rows of length M, and
 * sets V (K rows of length K) to I. A rotation of the pair (p, q) makes
 * w_p·w_q = 0 and is applied to rows p, q of W and V alike:
 *
 *   alpha = ‖w_p‖², beta = ‖w_q‖², gamma = w_p·w_q
 *   rotate when |gamma| > tol·sqrt(alpha·beta):
 *   zeta = (beta - alpha) / (2 gamma), t = sign(zeta) / (|zeta| + sqrt(1 + zeta²)),
 *   c = 1 / sqrt(1 + t²), s = c·t;  w_p' = c·w_p - s·w_q,  w_q' = s·w_p + c·w_q
 *
 * Pairs are visited in round-robin (tournament) order: with K' = K rounded
 * up to even, step r (0 <= r < K'-1) holds the K'/2 disjoint pairs
 *   pair 0: (K'-1, r),  pair i > 0: ((r + i) mod (K'-1), (r - i) mod (K'-1))
 * (a pair naming column K when K is odd is skipped), so one sweep of K'-1
 * steps rotates every pair once and the pairs of a step run in parallel.
 *
 *   svd_sweeps     one work-group per matrix runs every sweep in one launch,
 *                  a work-item per pair, W and V in local memory when
 *                  SVD_LOCAL=1 (they fit) or in global memory otherwise;
 *                  stops when a sweep rotated nothing, or after max_sweeps.
 *   svd_step       one launch per step, a work-group per (pair, matrix):
 *                  the three dot products reduced through local memory.
 *                  Sets flags[b] when it rotated; the host clears the
 *                  flags before a sweep and stops once all stay 0.
 *   svd_finish     one work-group per matrix: s_i = ‖w_i‖, the rows of V
 *                  renormalized (rounding drift), the descending
 *                  order by rank counting (ties by index) on the device,
 *                  u_i = w_i / s_i, columns with s_i <= SVD_TINY completed
 *                  by Gram–Schmidt against unit vectors, and the outputs
 *                  (U, s, Vt) written in that order.
 *
 * Sums: in double when SVD_FP64=1 (cl_khr_fp64; the rotation is applied in
 * double too, one rounding per element), else in float with Kahan
 * summation in each work-item and a pairwise tree across work-items, the
 * rotation applied with an fma and (c, s) renormalized by a Newton step.
 * W and V stay fp32 throughout. The launcher picks the path: svd_sweeps
 * for k <= 64 on GPUs (W and V in local memory when they fit) and at every
 * size on CPUs, where one launch with the matrix hot in cache measured
 * 2-2.5x faster than a launch per step; svd_step for larger k elsewhere.
 *
 * Scratch (global, floats): W at off_w (batch·K·M), V at off_v (batch·K·K),
 * norms at off_s (batch·K), the order at off_p (batch·K ints), a vector
 * per matrix at off_x (batch·M) and the flags at off_f (batch ints). */

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

/* Kahan accumulation of a product: (sum, comp) += x·y. */
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

/* The pair of tournament step r: 0 when it names a padding column. */
static int svd_pair(int k, int r, int i, int *p, int *q) {
  const int kk = (k + 1) & ~1, last = kk - 1;
  int a, b;
  if (i == 0) {
    a = last;
    b = r;
  } else {
    a = (r + i) % last;
    b = (r - i + last) % last;
  }
  *p = min(a, b);
  *q = max(a, b);
  return *q < k;
}

/* The rotation of (alpha, beta, gamma): 0 when none is due. */
static int svd_rotation(acc_t alpha, acc_t beta, acc_t gamma, float tol, acc_t *c, acc_t *s) {
  if (gamma == (acc_t)0 || !(fabs(gamma) > (acc_t)tol * sqrt(alpha) * sqrt(beta))) return 0;
  acc_t zeta = (beta - alpha) / ((acc_t)2 * gamma);
  acc_t t = (zeta >= (acc_t)0 ? (acc_t)1 : (acc_t)-1) / (fabs(zeta) + sqrt((acc_t)1 + zeta * zeta));
  *c = (acc_t)1 / sqrt((acc_t)1 + t * t);
  *s = *c * t;
#if !SVD_FP64
  /* float sqrt and division may be off by ~3 ulp: one Newton step for
   * 1/sqrt(c² + s²) brings c² + s² back to 1 within an ulp or so, so each
   * rotation stays orthogonal to working precision. */
  const float r = fma(*c, *c, *s * *s), f = 1.5f - 0.5f * r;
  *c *= f;
  *s *= f;
#endif
  return 1;
}

/* Launch: global = batch·K·M + batch·K·K items (any local size). */
__kernel void svd_prep(const int batch, const int m, const int n, __global const float *a,
                       __global float *scratch, const int off_w, const int off_v) {
  const int big = max(m, n), k = min(m, n);
  const int nw = batch * k * big, nv = batch * k * k;
  int g = (int)get_global_id(0);
  if (g < nw) {
    const int b = g / (k * big), rem = g % (k * big), i = rem / big, r = rem % big;
    __global const float *ab = a + b * m * n;
    scratch[off_w + g] = m >= n ? ab[r * n + i] : ab[i * n + r];
    return;
  }
  g -= nw;
  if (g < nv) {
    const int rem = g % (k * k);
    scratch[off_v + g] = rem / k == rem % k ? 1.0f : 0.0f;
  }
}

/* Rotates x, y (len floats, strided by `step` from `first`) by (c, s):
 * in double with one rounding per element, or in float as c·x - s·y with
 * one fma (the product s·y is small near convergence, so its rounding is). */
#if SVD_FP64
#define SVD_ROTATE(x, y, len, first, step, c, s)                                                   \
  for (int r_ = (first); r_ < (len); r_ += (step)) {                                               \
    acc_t xr_ = (acc_t)(x)[r_], yr_ = (acc_t)(y)[r_];                                              \
    (x)[r_] = (float)((c)*xr_ - (s)*yr_);                                                          \
    (y)[r_] = (float)((s)*xr_ + (c)*yr_);                                                          \
  }
#else
#define SVD_ROTATE(x, y, len, first, step, c, s)                                                   \
  for (int r_ = (first); r_ < (len); r_ += (step)) {                                               \
    float xr_ = (x)[r_], yr_ = (y)[r_];                                                            \
    (x)[r_] = fma((c), xr_, -((s)*yr_));                                                           \
    (y)[r_] = fma((c), yr_, (s)*xr_);                                                              \
  }
#endif

/* Launch: global = batch·L, local = L (any L). With SVD_LOCAL, `lw` holds
 * K·M + K·K floats, else it is unused (size of one float). */
__kernel void svd_sweeps(const int batch, const int big, const int k, const float tol,
                         const int max_sweeps, __global float *scratch, const int off_w,
                         const int off_v, __local float *lw) {
  const int b = (int)get_group_id(0), lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  if (b >= batch) return;
  __local int rotated;
  __global float *gw = scratch + off_w + b * k * big, *gv = scratch + off_v + b * k * k;
#if SVD_LOCAL
  SVD_AS float *w = lw, *v = lw + k * big;
  for (int e = lid; e < k * big; e += ls) w[e] = gw[e];
  for (int e = lid; e < k * k; e += ls) v[e] = gv[e];
#else
  (void)lw;
  SVD_AS float *w = gw, *v = gv;
#endif
  const int kk = (k + 1) & ~1;
  for (int sweep = 0; sweep < max_sweeps; sweep++) {
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    if (lid == 0) rotated = 0;
    for (int r = 0; r < kk - 1; r++) {
      barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
      for (int i = lid; i < kk / 2; i += ls) {
        int p, q;
        if (!svd_pair(k, r, i, &p, &q)) continue;
        SVD_AS float *x = w + p * big, *y = w + q * big;
        acc_t alpha = 0, beta = 0, gamma = 0, ca = 0, cb = 0, cg = 0;
        for (int e = 0; e < big; e++) {
          const float xe = x[e], ye = y[e];
          SVD_ADD(alpha, ca, xe, xe);
          SVD_ADD(beta, cb, ye, ye);
          SVD_ADD(gamma, cg, xe, ye);
        }
        acc_t c, s;
        if (!svd_rotation(alpha, beta, gamma, tol, &c, &s)) continue;
        rotated = 1;
        SVD_ROTATE(x, y, big, 0, 1, c, s);
        SVD_AS float *vx = v + p * k, *vy = v + q * k;
        SVD_ROTATE(vx, vy, k, 0, 1, c, s);
      }
    }
    barrier(CLK_LOCAL_MEM_FENCE | CLK_GLOBAL_MEM_FENCE);
    if (!rotated) break; /* uniform: every item read the flag after the barrier */
  }
#if SVD_LOCAL
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int e = lid; e < k * big; e += ls) gw[e] = w[e];
  for (int e = lid; e < k * k; e += ls) gv[e] = v[e];
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

/* Launch: global = (L, K'/2, batch), local = (L, 1, 1), L a power of two;
 * red holds 3·L acc_t. */
__kernel void svd_step(const int batch, const int big, const int k, const int r, const float tol,
                       __global float *scratch, const int off_w, const int off_v, const int off_f,
                       __local acc_t *red) {
  const int lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  const int i = (int)get_group_id(1), b = (int)get_group_id(2);
  int p, q;
  if (b >= batch || !svd_pair(k, r, i, &p, &q)) return; /* uniform across the group */
  __global float *x = scratch + off_w + (b * k + p) * big, *y = scratch + off_w + (b * k + q) * big;
  acc_t alpha = 0, beta = 0, gamma = 0, ca = 0, cb = 0, cg = 0;
  for (int e = lid; e < big; e += ls) {
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
  acc_t c, s;
  if (!svd_rotation(red[0], red[ls], red[2 * ls], tol, &c, &s)) return;
  if (lid == 0) ((__global int *)(scratch + off_f))[b] = 1;
  SVD_ROTATE(x, y, big, lid, ls, c, s);
  __global float *vx = scratch + off_v + (b * k + p) * k, *vy = scratch + off_v + (b * k + q) * k;
  SVD_ROTATE(vx, vy, k, lid, ls, c, s);
}

/* The sort key of a norm: NaN sorts last, so the ranks stay a permutation. */
static float svd_key(float s) { return isnan(s) ? -1.0f : s; }

/* Launch: global = batch·L, local = L, L a power of two; red holds L acc_t.
 * Writes u (batch·m·K), s (batch·K), vt (batch·K·n). */
__kernel void svd_finish(const int batch, const int m, const int n, __global float *scratch,
                         const int off_w, const int off_v, const int off_s, const int off_p,
                         const int off_x, __global float *u, __global float *sv, __global float *vt,
                         __local acc_t *red) {
  const int b = (int)get_group_id(0), lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  if (b >= batch) return;
  const int big = max(m, n), k = min(m, n);
  __global float *w = scratch + off_w + b * k * big, *v = scratch + off_v + b * k * k;
  __global float *nrm = scratch + off_s + b * k, *x = scratch + off_x + b * big;
  __global int *order = (__global int *)(scratch + off_p) + b * k;
  /* Norms: one column per item. */
  for (int i = lid; i < k; i += ls) {
    acc_t sum = 0, comp = 0;
    for (int e = 0; e < big; e++) SVD_ADD(sum, comp, w[i * big + e], w[i * big + e]);
    nrm[i] = (float)sqrt(sum);
    /* The rows of V are unit vectors in exact arithmetic: take out the norm
     * drift of the rotations' roundings. */
    acc_t vs = 0, vc = 0;
    for (int e = 0; e < k; e++) SVD_ADD(vs, vc, v[i * k + e], v[i * k + e]);
    const float vn = (float)sqrt(vs);
    if (vn > 0.0f)
      for (int e = 0; e < k; e++) v[i * k + e] /= vn;
  }
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
    if (!(nrm[i] <= SVD_TINY)) /* NaN columns too: they stay NaN */
      for (int e = 0; e < big; e++) w[i * big + e] /= si;
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
      for (int e = lid; e < big; e += ls) x[e] = e == tt ? 1.0f : 0.0f;
      barrier(CLK_GLOBAL_MEM_FENCE);
      for (int pass = 0; pass < 2; pass++)
        for (int d = 0; d < c; d++) {
          __global const float *y = w + order[d] * big;
          acc_t part = 0, comp = 0;
          for (int e = lid; e < big; e += ls) SVD_ADD(part, comp, x[e], y[e]);
          red[lid] = part;
          const float proj = (float)svd_reduce(red, lid, ls);
          for (int e = lid; e < big; e += ls) x[e] -= proj * y[e];
          barrier(CLK_GLOBAL_MEM_FENCE);
        }
      acc_t part = 0, comp = 0;
      for (int e = lid; e < big; e += ls) SVD_ADD(part, comp, x[e], x[e]);
      red[lid] = part;
      len = (float)sqrt(svd_reduce(red, lid, ls));
      if (len > 0.5f || t == big) break; /* uniform */
      if (len > best) {
        best = len;
        best_t = t;
      }
    }
    for (int e = lid; e < big; e += ls) w[i * big + e] = x[e] / len;
    barrier(CLK_GLOBAL_MEM_FENCE);
  }
  /* Outputs in descending order. */
  for (int c = lid; c < k; c += ls)
    sv[b * k + c] = nrm[order[c]] <= SVD_TINY ? 0.0f : nrm[order[c]];
  __global float *ub = u + b * m * k, *vb = vt + b * k * n;
  if (m >= n) { /* U = W/‖W‖ transposed, Vt row c = V row order[c] */
    for (int e = lid; e < m * k; e += ls) ub[e] = w[order[e % k] * big + e / k];
    for (int e = lid; e < k * n; e += ls) vb[e] = v[order[e / n] * k + e % n];
  } else { /* U column c = V row order[c], Vt row c = W row order[c] */
    for (int e = lid; e < m * k; e += ls) ub[e] = v[order[e % k] * k + e / k];
    for (int e = lid; e < k * n; e += ls) vb[e] = w[order[e / n] * big + e % n];
  }
}
