/* Fully connected layers over sparse activations (oracle and notation:
 * engine/ref/spact.h).
 *
 *   Y[r, c] = bias[c] + sum_k X[r, k]·Wt[k, c]   (ReLU when relu != 0)
 *
 * with Wt = Wᵀ stored [K x M] row-major, so that the weights of one input
 * k are one contiguous row of M floats.
 *
 * spact_compact: one work-item per row of X walks its K values in order
 * and writes the position and value of each non-zero to the row's slots
 * of idx / val (capacity K per row), then count[r]. The walk is branch
 * free: every value is written at the current slot and the slot advances
 * only for a non-zero, so unpredictable patterns cost no mispredictions
 * and the positions come out increasing (deterministic sums downstream).
 * A value is zero when it compares equal to 0: -0.0 is dropped, NaN kept.
 *
 * spact_fc: a work-item owns row r and a tile of SA_TN = SA_VW·SA_NV output
 * columns, SA_NV vector accumulators of width SA_VW. It walks the row's
 * count[r] non-zeros; each loads SA_NV vectors of the Wt row it names and
 * does fused multiply-adds with the broadcast activation. Every loaded
 * weight contributes; zero activations cost nothing. NDRange dimension 0
 * walks rows, dimension 1 column tiles; a work-group of rows on one tile
 * reuses the K x SA_TN panel of Wt from cache. SA_UNROLL 2 takes two
 * non-zeros at a time into two accumulator sets (more independent FMA
 * chains), added at the end.
 *
 * Edges: a tile that sticks out past M is shifted back to end at M (when
 * M >= SA_TN) and stores only its own columns; when M < SA_TN the column
 * indices are clamped to M - 1 on loads. Counts are clamped to [0, K] and
 * positions to [0, K - 1], so no load leaves Wt even for inconsistent
 * scratch arrays. */

#ifndef SA_VW
#define SA_VW 16
#endif
#ifndef SA_NV
#define SA_NV 2
#endif
#ifndef SA_UNROLL
#define SA_UNROLL 1
#endif

#define SA_TN     (SA_VW * SA_NV)
#define SA_INLINE inline __attribute__((always_inline))
#define SA_CAT_(a, b) a##b
#define SA_CAT(a, b)  SA_CAT_(a, b)

#if SA_VW == 1
#define SA_VEC         float
#define SA_VLOAD(p)    (*(p))
#define SA_VSTORE(v, p) (*(p) = (v))
#else
#define SA_VEC          SA_CAT(float, SA_VW)
#define SA_VLOAD(p)     SA_CAT(vload, SA_VW)(0, (p))
#define SA_VSTORE(v, p) SA_CAT(vstore, SA_VW)((v), 0, (p))
#endif

/* Launch: global = rows rounded up to the local size. */
__kernel void spact_compact(const int rows, const int K, __global const float *Xbuf,
                            const int offX, const int ldx, __global int *idx,
                            __global float *val, __global int *count) {
  const int r = (int)get_global_id(0);
  if (r >= rows) return;
  __global const float *x = Xbuf + offX + r * ldx;
  __global int *ri = idx + r * K;
  __global float *rv = val + r * K;
  int c = 0;
  for (int j = 0; j < K; ++j) {
    const float v = x[j];
    /* c <= j < K: the slot is always inside the row's capacity. */
    ri[c] = j;
    rv[c] = v;
    c += v != 0.0f;
  }
  count[r] = c;
}

/* SA_VW weights j0 .. of Wt row k. full: all columns exist (unguarded). */
SA_INLINE SA_VEC sa_load(__global const float *Wt, int k, int j0, int M, int full) {
  __global const float *row = Wt + k * M;
#if SA_VW > 1
  if (full) return SA_VLOAD(row + j0);
  float t[SA_VW];
#pragma unroll
  for (int l = 0; l < SA_VW; ++l) t[l] = row[min(j0 + l, M - 1)];
  return SA_VLOAD(t);
#else
  return row[full ? j0 : min(j0, M - 1)];
#endif
}

/* acc[v] += a·Wt(k, j0 + v·SA_VW ..) for every vector of the tile. */
#define SA_MAC(acc, a, k)                                                                          \
  do {                                                                                             \
    const SA_VEC a_ = (SA_VEC)(a);                                                                 \
    _Pragma("unroll") for (int v_ = 0; v_ < SA_NV; ++v_) (acc)[v_] =                               \
        fma(a_, sa_load(Wt, (k), j0 + v_ * SA_VW, M, full), (acc)[v_]);                            \
  } while (0)

/* The n non-zeros of one row into acc; `full` a compile-time constant
 * after inlining. */
SA_INLINE void sa_row(int n, __global const int *ri, __global const float *rv, int K,
                      __global const float *Wt, int j0, int M, int full, SA_VEC *acc) {
  int j = 0;
#if SA_UNROLL > 1
  SA_VEC acc2[SA_NV];
#pragma unroll
  for (int v = 0; v < SA_NV; ++v) acc2[v] = (SA_VEC)(0.0f);
  for (; j + 2 <= n; j += 2) {
    const int k0 = clamp(ri[j], 0, K - 1), k1 = clamp(ri[j + 1], 0, K - 1);
    const float a0 = rv[j], a1 = rv[j + 1];
    SA_MAC(acc, a0, k0);
    SA_MAC(acc2, a1, k1);
  }
#endif
  for (; j < n; ++j) {
    const int k = clamp(ri[j], 0, K - 1);
    SA_MAC(acc, rv[j], k);
  }
#if SA_UNROLL > 1
#pragma unroll
  for (int v = 0; v < SA_NV; ++v) acc[v] += acc2[v];
#endif
}

/* Launch: global = (rows, ceil(M/SA_TN)) rounded up to the local size. */
__kernel void spact_fc(const int rows, const int M, const int K, __global const int *idx,
                       __global const float *val, __global const int *count,
                       __global const float *Wt, __global const float *bias, const int has_bias,
                       const int relu, __global float *Ybuf, const int offY, const int ldy) {
  const int r = (int)get_global_id(0), t = (int)get_global_id(1);
  if (r >= rows || t * SA_TN >= M) return;
  const int jown = t * SA_TN;
  const int j0 = (jown + SA_TN > M && M >= SA_TN) ? M - SA_TN : jown;
  const int full = M >= SA_TN;
  SA_VEC acc[SA_NV];
#pragma unroll
  for (int v = 0; v < SA_NV; ++v) acc[v] = (SA_VEC)(0.0f);
  const int n = clamp(count[r], 0, K);
  __global const int *ri = idx + r * K;
  __global const float *rv = val + r * K;
  if (full)
    sa_row(n, ri, rv, K, Wt, j0, M, 1, acc);
  else
    sa_row(n, ri, rv, K, Wt, j0, M, 0, acc);
  __global float *y = Ybuf + offY + r * ldy;
  if (full && j0 == jown) {
#pragma unroll
    for (int v = 0; v < SA_NV; ++v) {
      SA_VEC o = acc[v];
      if (has_bias) o += SA_VLOAD(bias + j0 + v * SA_VW);
      if (relu) o = fmax(o, (SA_VEC)(0.0f));
      SA_VSTORE(o, y + j0 + v * SA_VW);
    }
    return;
  }
  /* Edge tile: only the columns in [jown, M). */
#pragma unroll
  for (int v = 0; v < SA_NV; ++v) {
    float o[SA_VW];
    SA_VSTORE(acc[v], o);
#pragma unroll
    for (int l = 0; l < SA_VW; ++l) {
      const int c = j0 + v * SA_VW + l;
      if (c < jown || c >= M) continue;
      float s = o[l];
      if (has_bias) s += bias[c];
      if (relu) s = s > 0.0f ? s : 0.0f;
      y[c] = s;
    }
  }
}
