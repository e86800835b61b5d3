/* fp32 GEMM for pare.
 *
 *   C[M x N] = act(alpha * op(A) * op(B) + beta * C + (has_bias ? bias[n] : 0))
 *
 * All matrices are row-major. op(A) is M x K, op(B) is K x N:
 *   op(A)(m,k) = TRANS_A ? A[k*lda + m] : A[m*lda + k]
 *   op(B)(k,n) = TRANS_B ? B[n*ldb + k] : B[k*ldb + n]
 * offA/offB/offC are element offsets added to the buffer pointers. When beta is
 * exactly 0 the kernel never reads C, so C may hold garbage (even NaN).
 *
 * Work decomposition: one work-item owns a register tile of GEMM_TM rows by
 * GEMM_TN = GEMM_VW * GEMM_NV columns of C and runs over the whole K range.
 * The tile lives in GEMM_TM * GEMM_NV vector accumulators of width GEMM_VW;
 * every k step loads GEMM_NV vectors from one row of op(B), broadcasts one
 * scalar of op(A) per tile row and does a multiply-add into the accumulators.
 * On CPU devices (PoCL) this maps onto SIMD registers directly, without
 * relying on vectorization across work-items.
 *
 * Grid: dimension 0 walks the tile rows (M direction), dimension 1 the tile
 * columns (N direction); work-items past the last tile return at once. So
 * neighbouring work-items share the same op(B) column panel, which stays in
 * cache while op(A) is streamed.
 *
 * Edges: a tile that would stick out past row M (column N) is shifted back
 * so that it ends exactly at M (N); it then overlaps its neighbour, computes
 * with the same fast unguarded loads, and only stores the rows and columns
 * that belong to it. When the matrix is narrower than one tile (N < GEMM_TN)
 * full-width loads are still used while they end inside the B view (see
 * below) and clamped per-element loads only for the last rows of op(B); when
 * M < GEMM_TM the row indices are clamped. No load ever leaves the span from
 * the first to the last element of the A, B and C views.
 *
 * Transposes: TRANS_A only changes how op(A) scalars are addressed. With
 * TRANS_B && !TRANS_A ("NT") a dot-product formulation along k is used (see
 * gemm_tile_dot) because column-wise gathers of op(B) thrash the cache. The
 * TRANS_A && TRANS_B case is correct but uses element gathers for op(B) and
 * is slow for large ldb.
 *
 * Accumulation is in fp32 with fma() in increasing k order (per vector lane
 * in the NT path); the result does not depend on the launch's local size.
 */

#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
/* Rows of C per work-item. */
#ifndef GEMM_TM
#define GEMM_TM 6
#endif
/* Vector width along N (1, 2, 4, 8 or 16). */
#ifndef GEMM_VW
#define GEMM_VW 16
#endif
/* Vectors per tile row; the tile is GEMM_TN = GEMM_VW * GEMM_NV columns. */
#ifndef GEMM_NV
#define GEMM_NV 2
#endif
/* Unroll factor of the k loop. */
#ifndef GEMM_KU
#define GEMM_KU 1
#endif
/* 1: use fma() (exact fused multiply-add); 0: use mad() (may be faster on
 * devices without hardware FMA). */
/* The activation applied last (a Gemm fused with the Relu or Clip after
 * it): 0 none, 1 relu, 2 clip to [lo, hi] (PARE_EPILOGUE_ACT). */
#ifndef GEMM_ACT
#define GEMM_ACT 0
#endif

#ifndef GEMM_USE_FMA
#define GEMM_USE_FMA 1
#endif

#define GEMM_TN (GEMM_VW * GEMM_NV)

/* The helpers must be inlined so that the `full` flag folds away and the
 * accumulator arrays become registers. */
#define GEMM_INLINE inline __attribute__((always_inline))

#define GEMM_CAT_(a, b) a##b
#define GEMM_CAT(a, b)  GEMM_CAT_(a, b)

#if GEMM_VW == 1
#define GEMM_VEC          float
#define GEMM_VLOAD(p)     (*(p))
#define GEMM_VSTORE(v, p) (*(p) = (v))
#else
#define GEMM_VEC          GEMM_CAT(float, GEMM_VW)
#define GEMM_VLOAD(p)     GEMM_CAT(vload, GEMM_VW)(0, (p))
#define GEMM_VSTORE(v, p) GEMM_CAT(vstore, GEMM_VW)((v), 0, (p))
#endif

#if GEMM_USE_FMA
#define GEMM_MAC(a, b, c) fma((a), (b), (c))
#else
#define GEMM_MAC(a, b, c) mad((a), (b), (c))
#endif

/* Element (m,k) of op(A) and (k,n) of op(B), relative to offset pointers. */
#if TRANS_A
#define GEMM_A(m, k) A[(k)*lda + (m)]
#else
#define GEMM_A(m, k) A[(m)*lda + (k)]
#endif
#if TRANS_B
#define GEMM_B(k, n) B[(n)*ldb + (k)]
#else
#define GEMM_B(k, n) B[(k)*ldb + (n)]
#endif

/* One row of op(B) restricted to the tile columns n0 + v*VW ... as vector v.
 * full != 0: all GEMM_TN columns exist, loads are unguarded.
 * full == 0: columns are clamped to N-1 (values for columns >= N are junk
 * that is never stored). */
GEMM_INLINE GEMM_VEC gemm_load_b(__global const float *B, int ldb, int k, int n0, int N, int full) {
#if !TRANS_B && GEMM_VW > 1
  if (full) return GEMM_VLOAD(B + k * ldb + n0);
#endif
  float t[GEMM_VW];
#pragma unroll
  for (int j = 0; j < GEMM_VW; ++j) {
    int n = n0 + j;
    if (!full) n = min(n, N - 1);
    t[j] = GEMM_B(k, n);
  }
#if GEMM_VW == 1
  return t[0];
#else
  return GEMM_CAT(vload, GEMM_VW)(0, t);
#endif
}

/* Accumulates into acc the products over k in [kb, ke) for the register tile
 * of op(A) rows rows[0..TM) (already clamped into [0, M)) and op(B) columns
 * n0 .. n0 + GEMM_TN - 1. full: see gemm_load_b. */
GEMM_INLINE void gemm_tile(const int kb, const int ke, __global const float *A, const int lda,
                           __global const float *B, const int ldb, const int n0, const int N,
                           const int full, const int *rows, GEMM_VEC acc[GEMM_TM][GEMM_NV]) {
  /* Per-row base pointers into op(A) and the k stride between elements. */
  __global const float *ap[GEMM_TM];
#if TRANS_A
  const int ak = lda;
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) ap[i] = A + rows[i];
#else
  const int ak = 1;
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) ap[i] = A + rows[i] * lda;
#endif

  int k = kb;
  for (; k + GEMM_KU <= ke; k += GEMM_KU) {
#pragma unroll
    for (int u = 0; u < GEMM_KU; ++u) {
      GEMM_VEC b[GEMM_NV];
#pragma unroll
      for (int v = 0; v < GEMM_NV; ++v) {
        b[v] = gemm_load_b(B, ldb, k + u, n0 + v * GEMM_VW, N, full);
      }
#pragma unroll
      for (int i = 0; i < GEMM_TM; ++i) {
        const GEMM_VEC a = (GEMM_VEC)(ap[i][(k + u) * ak]);
#pragma unroll
        for (int v = 0; v < GEMM_NV; ++v) acc[i][v] = GEMM_MAC(a, b[v], acc[i][v]);
      }
    }
  }
  for (; k < ke; ++k) {
    GEMM_VEC b[GEMM_NV];
#pragma unroll
    for (int v = 0; v < GEMM_NV; ++v) {
      b[v] = gemm_load_b(B, ldb, k, n0 + v * GEMM_VW, N, full);
    }
#pragma unroll
    for (int i = 0; i < GEMM_TM; ++i) {
      const GEMM_VEC a = (GEMM_VEC)(ap[i][k * ak]);
#pragma unroll
      for (int v = 0; v < GEMM_NV; ++v) acc[i][v] = GEMM_MAC(a, b[v], acc[i][v]);
    }
  }
}

#if TRANS_B && !TRANS_A
/* "NT" case: rows of op(A) and columns of op(B) are both contiguous along k,
 * so each C element is a dot product of two contiguous vectors. Loading
 * op(B) column-wise with strided gathers would thrash the cache, so this path
 * keeps vector partial sums along k instead: GEMM_TM rows x GEMM_DOT_NC
 * columns of GEMM_VW-wide partial sums, reduced horizontally at the end. The
 * work-item's tile and launch geometry are the same as in the other paths. */
#ifndef GEMM_DOT_NC
#if GEMM_TN % 4 == 0
#define GEMM_DOT_NC 4
#else
#define GEMM_DOT_NC 1
#endif
#endif

GEMM_INLINE float gemm_hsum(GEMM_VEC x) {
#if GEMM_VW == 1
  return x;
#else
  float t[GEMM_VW];
  GEMM_CAT(vstore, GEMM_VW)(x, 0, t);
  float s = 0.0f;
#pragma unroll
  for (int j = 0; j < GEMM_VW; ++j) s += t[j];
  return s;
#endif
}

GEMM_INLINE void gemm_tile_dot(const int K, __global const float *A, const int lda,
                               __global const float *B, const int ldb, const int n0, const int N,
                               const int *rows, GEMM_VEC acc[GEMM_TM][GEMM_NV]) {
  __global const float *ap[GEMM_TM];
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) ap[i] = A + rows[i] * lda;

  float res[GEMM_TM][GEMM_TN];
  for (int c0 = 0; c0 < GEMM_TN; c0 += GEMM_DOT_NC) {
    /* Columns past N are clamped to N-1; their results are never stored. */
    __global const float *bp[GEMM_DOT_NC];
#pragma unroll
    for (int j = 0; j < GEMM_DOT_NC; ++j) bp[j] = B + min(n0 + c0 + j, N - 1) * ldb;

    GEMM_VEC d[GEMM_TM][GEMM_DOT_NC];
#pragma unroll
    for (int i = 0; i < GEMM_TM; ++i) {
#pragma unroll
      for (int j = 0; j < GEMM_DOT_NC; ++j) d[i][j] = (GEMM_VEC)(0.0f);
    }
    int k = 0;
    for (; k + GEMM_VW <= K; k += GEMM_VW) {
      GEMM_VEC a[GEMM_TM];
#pragma unroll
      for (int i = 0; i < GEMM_TM; ++i) a[i] = GEMM_VLOAD(ap[i] + k);
#pragma unroll
      for (int j = 0; j < GEMM_DOT_NC; ++j) {
        const GEMM_VEC b = GEMM_VLOAD(bp[j] + k);
#pragma unroll
        for (int i = 0; i < GEMM_TM; ++i) d[i][j] = GEMM_MAC(a[i], b, d[i][j]);
      }
    }
#pragma unroll
    for (int i = 0; i < GEMM_TM; ++i) {
#pragma unroll
      for (int j = 0; j < GEMM_DOT_NC; ++j) {
        float sum = gemm_hsum(d[i][j]);
        for (int kr = k; kr < K; ++kr) sum = GEMM_MAC(ap[i][kr], bp[j][kr], sum);
        res[i][c0 + j] = sum;
      }
    }
  }
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) {
#pragma unroll
    for (int v = 0; v < GEMM_NV; ++v) {
#if GEMM_VW == 1
      acc[i][v] = res[i][v];
#else
      acc[i][v] = GEMM_CAT(vload, GEMM_VW)(0, &res[i][v * GEMM_VW]);
#endif
    }
  }
}
#endif

/* Launch: global = (ceil(M/GEMM_TM), ceil(N/GEMM_TN)) rounded up to the local
 * size, any local size; a third dimension of `batch` runs that many
 * products of the same shape, the z-th on the matrices strideA, strideB
 * and strideC elements further on (Winograd's 16 per convolution). Argument order is part of the
 * host contract. */
__kernel void gemm_f32(const int M, const int N, const int K, const float alpha, const float beta,
                       __global const float *Abuf, const int offA, const int lda,
                       __global const float *Bbuf, const int offB, const int ldb,
                       __global float *Cbuf, const int offC, const int ldc,
                       __global const float *bias, const int has_bias, const float lo,
                       const float hi, const int strideA, const int strideB, const int strideC) {
  const int tm = (int)get_global_id(0);
  const int tn = (int)get_global_id(1);
  const int z = (int)get_global_id(2); /* the product of a batch: its matrices at z·stride */
  const int tiles_m = (M + GEMM_TM - 1) / GEMM_TM;
  const int tiles_n = (N + GEMM_TN - 1) / GEMM_TN;
  if (tm >= tiles_m || tn >= tiles_n) return;

  __global const float *A = Abuf + offA + z * strideA;
  __global const float *B = Bbuf + offB + z * strideB;
  __global float *C = Cbuf + offC + z * strideC;

  /* Nominal tile start, and the computed start shifted back inside the
   * matrix when the tile would stick out (only if the matrix is big enough). */
  const int m_own = tm * GEMM_TM;
  const int n_own = tn * GEMM_TN;
  const int m0 = (m_own + GEMM_TM > M && M >= GEMM_TM) ? M - GEMM_TM : m_own;
  const int n0 = (n_own + GEMM_TN > N && N >= GEMM_TN) ? N - GEMM_TN : n_own;
  const int full_n = N >= GEMM_TN;

  int rows[GEMM_TM];
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) rows[i] = min(m0 + i, M - 1);

  GEMM_VEC acc[GEMM_TM][GEMM_NV];
#pragma unroll
  for (int i = 0; i < GEMM_TM; ++i) {
#pragma unroll
    for (int v = 0; v < GEMM_NV; ++v) acc[i][v] = (GEMM_VEC)(0.0f);
  }

#if TRANS_B && !TRANS_A
  gemm_tile_dot(K, A, lda, B, ldb, n0, N, rows, acc);
#else
  if (full_n) {
    gemm_tile(0, K, A, lda, B, ldb, n0, N, 1, rows, acc);
  } else {
    /* The matrix is narrower than one tile (N < GEMM_TN, so n0 == 0). */
    int kfast = 0;
#if !TRANS_B
    /* Row k of op(B) may still be read with full-width vector loads as long
     * as the load ends inside the B view, whose last element is
     * B[(K-1)*ldb + N-1]; the lanes past column N then hold unrelated but
     * valid memory and are never stored. Only the last few rows need the
     * clamped per-element loads. */
    const int room = (K - 1) * ldb + N - GEMM_TN;
    if (room >= 0) kfast = min(room / ldb + 1, K);
#endif
    gemm_tile(0, kfast, A, lda, B, ldb, n0, N, 1, rows, acc);
    gemm_tile(kfast, K, A, lda, B, ldb, n0, N, 0, rows, acc);
  }
#endif

  const int interior = m0 == m_own && n0 == n_own && m0 + GEMM_TM <= M && n0 + GEMM_TN <= N;
  if (interior) {
    /* Whole tile is ours: vector stores. */
#pragma unroll
    for (int i = 0; i < GEMM_TM; ++i) {
      __global float *c = C + (m0 + i) * ldc + n0;
#pragma unroll
      for (int v = 0; v < GEMM_NV; ++v) {
        GEMM_VEC r = alpha * acc[i][v];
        if (beta != 0.0f) r += beta * GEMM_VLOAD(c + v * GEMM_VW);
        if (has_bias) r += GEMM_VLOAD(bias + n0 + v * GEMM_VW);
        PARE_EPILOGUE_ACT(GEMM_ACT, GEMM_VEC, r, lo, hi);
        GEMM_VSTORE(r, c + v * GEMM_VW);
      }
    }
  } else {
    /* Edge tile: store only elements inside the matrix that this work-item
     * owns (the overlapped part belongs to the neighbouring tile). */
#pragma unroll
    for (int i = 0; i < GEMM_TM; ++i) {
      const int m = m0 + i;
      if (m < m_own || m >= M) continue;
#pragma unroll
      for (int v = 0; v < GEMM_NV; ++v) {
        float t[GEMM_VW];
#if GEMM_VW == 1
        t[0] = acc[i][v];
#else
        GEMM_CAT(vstore, GEMM_VW)(acc[i][v], 0, t);
#endif
#pragma unroll
        for (int j = 0; j < GEMM_VW; ++j) {
          const int n = n0 + v * GEMM_VW + j;
          if (n < n_own || n >= N) continue;
          float r = alpha * t[j];
          if (beta != 0.0f) r += beta * C[m * ldc + n];
          if (has_bias) r += bias[n];
          PARE_EPILOGUE_ACT(GEMM_ACT, float, r, lo, hi);
          C[m * ldc + n] = r;
        }
      }
    }
  }
}
