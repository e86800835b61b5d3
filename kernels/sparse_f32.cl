/* Sparse weight x dense activation for pare (formats: engine/ref/sparse.h).
 *
 *   C(i, j) = sum_k A(i, k)·B(k, j) (+ bias[i]) (ReLU when relu != 0)
 *
 * A is sparse M x K (CSR fp32 or int8, BSR, N:M), B is K x N and C is
 * M x N, both dense:
 *   SP_LAYOUT 0   B(k, j) = B[k·bk + j], C(i, j) = C[i·cm + j]: rows of B
 *                 and C contiguous, loaded and stored as vectors.
 *   SP_LAYOUT 1   B(k, j) = B[k·bk + j·bn], C(i, j) = C[i·cm + j·cn]: any
 *                 strides, element gathers (a fully connected layer
 *                 Y = X·Wᵀ takes B = Xᵀ, C = Yᵀ, i.e. bk = 1, bn = ldx).
 *
 * Work decomposition: a work-item owns one output row (SP_BR rows for BSR)
 * and a tile of SP_TN = SP_VW·SP_NV columns, in SP_NV vector accumulators
 * of width SP_VW per row. It walks the row's non-zeros in storage order;
 * each one loads SP_NV vectors of the B row it names and does fused
 * multiply-adds with the broadcast weight. A BSR block of br x bc loads
 * bc B rows and uses each for br output rows. On CPUs (PoCL) the
 * accumulators are SIMD registers. NDRange dimension 0 walks rows,
 * dimension 1 column tiles: the items of a work-group share one B panel
 * (K x SP_TN), which stays in cache while the weights stream through.
 * SP_UNROLL 2 runs two non-zeros at a time into two accumulator sets (more
 * independent FMA chains), added at the end.
 *
 * Edges: a tile that sticks out past N is shifted back to end at N (when
 * N >= SP_TN) and stores only its own columns; when N < SP_TN the column
 * indices are clamped to N - 1 on loads. Column indices, N:M positions and
 * BSR block rows past K are clamped to K - 1 (their weights are 0), so no
 * load leaves B even for inconsistent format arrays.
 *
 * int8 (SP_INT8 1): w = scale[row]·q; the kernel sums q·B in fp32 and
 * scales the row's sums once at the end.
 *
 * sparse_conv: NCHW direct convolution, groups 1, weights [Cout x
 * Cin·KH·KW] in CSR; a work-item owns one output channel and SP_VW
 * consecutive outputs of one output row; each non-zero (ci, ky, kx) loads
 * the SP_VW input values it meets (one vector load at stride 1 inside the
 * row, bounds-checked gathers at the edges and for other strides). */

#ifndef SP_LAYOUT
#define SP_LAYOUT 0
#endif
#ifndef SP_VW
#define SP_VW 16
#endif
#ifndef SP_NV
#define SP_NV 2
#endif
#ifndef SP_UNROLL
#define SP_UNROLL 1
#endif
#ifndef SP_INT8
#define SP_INT8 0
#endif
#ifndef SP_BR
#define SP_BR 4
#endif
#ifndef SP_BC
#define SP_BC 4
#endif
#ifndef SP_NMN
#define SP_NMN 2
#endif
#ifndef SP_NMM
#define SP_NMM 4
#endif

#define SP_TN (SP_VW * SP_NV)
#define SP_INLINE inline __attribute__((always_inline))
#define SP_CAT_(a, b) a##b
#define SP_CAT(a, b) SP_CAT_(a, b)

#if SP_VW == 1
#define SP_VEC float
#define SP_VLOAD(p) (*(p))
#define SP_VSTORE(v, p) (*(p) = (v))
#else
#define SP_VEC SP_CAT(float, SP_VW)
#define SP_VLOAD(p) SP_CAT(vload, SP_VW)(0, (p))
#define SP_VSTORE(v, p) SP_CAT(vstore, SP_VW)((v), 0, (p))
#endif

#if SP_INT8
typedef char sp_wt;
#else
typedef float sp_wt;
#endif

/* SP_VW columns j0 .. of row k of B. full: all exist (unguarded). */
SP_INLINE SP_VEC sp_load(__global const float *B, int k, int j0, int bk, int bn, int N, int full) {
#if SP_LAYOUT == 0 && SP_VW > 1
  if (full) return SP_VLOAD(B + k * bk + j0);
#endif
  float t[SP_VW];
#pragma unroll
  for (int l = 0; l < SP_VW; ++l) {
    int j = j0 + l;
    if (!full) j = min(j, N - 1);
    t[l] = B[k * bk + j * bn];
  }
#if SP_VW == 1
  return t[0];
#else
  return SP_VLOAD(t);
#endif
}

/* acc[v] += w·B(k, j0 + v·SP_VW ...) for every vector of the tile. */
#define SP_MAC(acc, w, k)                                                                          \
  do {                                                                                             \
    const SP_VEC w_ = (SP_VEC)(w);                                                                 \
    _Pragma("unroll") for (int v_ = 0; v_ < SP_NV; ++v_) (acc)[v_] =                               \
        fma(w_, sp_load(B, (k), j0 + v_ * SP_VW, bk, bn, N, full), (acc)[v_]);                     \
  } while (0)

/* Stores row i of the tile: scale, bias, ReLU; vectors when the tile is
 * interior (layout 0), else only the columns in [jown, N). */
SP_INLINE void sp_store(__global float *C, int i, int j0, int jown, int N, int cm, int cn,
                        float scale, float b, int relu, SP_VEC *acc) {
#if SP_LAYOUT == 0
  if (j0 == jown && j0 + SP_TN <= N) {
#pragma unroll
    for (int v = 0; v < SP_NV; ++v) {
      SP_VEC r = acc[v] * scale + b;
      if (relu) r = fmax(r, (SP_VEC)(0.0f));
      SP_VSTORE(r, C + i * cm + j0 + v * SP_VW);
    }
    return;
  }
#endif
#pragma unroll
  for (int v = 0; v < SP_NV; ++v) {
    float t[SP_VW];
    SP_VSTORE(acc[v], t);
#pragma unroll
    for (int l = 0; l < SP_VW; ++l) {
      const int j = j0 + v * SP_VW + l;
      if (j < jown || j >= N) continue;
      float r = t[l] * scale + b;
      if (relu) r = r > 0.0f ? r : 0.0f;
      C[i * cm + j * cn] = r;
    }
  }
}

/* The tile of work-item column index t: nominal start jown, computed start
 * j0 (shifted back inside the matrix), full = no clamping needed. */
#define SP_TILE(t)                                                                                 \
  const int jown = (t)*SP_TN;                                                                      \
  const int j0 = (jown + SP_TN > N && N >= SP_TN) ? N - SP_TN : jown;                              \
  const int full = N >= SP_TN

/* CSR rows e in [e0, e1) into acc; `full` a compile-time constant after
 * inlining. */
SP_INLINE void sp_csr_rows(int e0, int e1, __global const int *col_idx,
                           __global const sp_wt *values, int K, __global const float *B, int bk,
                           int bn, int j0, int N, int full, SP_VEC *acc) {
  int e = e0;
#if SP_UNROLL > 1
  SP_VEC acc2[SP_NV];
#pragma unroll
  for (int v = 0; v < SP_NV; ++v) acc2[v] = (SP_VEC)(0.0f);
  for (; e + 2 <= e1; e += 2) {
    const int k0 = clamp(col_idx[e], 0, K - 1), k1 = clamp(col_idx[e + 1], 0, K - 1);
    const float w0 = (float)values[e], w1 = (float)values[e + 1];
    SP_MAC(acc, w0, k0);
    SP_MAC(acc2, w1, k1);
  }
#endif
  for (; e < e1; ++e) {
    const int k = clamp(col_idx[e], 0, K - 1);
    SP_MAC(acc, (float)values[e], k);
  }
#if SP_UNROLL > 1
#pragma unroll
  for (int v = 0; v < SP_NV; ++v) acc[v] += acc2[v];
#endif
}

/* Launch: global = (M, ceil(N/SP_TN)) rounded up to the local size. */
__kernel void sparse_csr(const int M, const int N, const int K, __global const int *row_ptr,
                         __global const int *col_idx, __global const sp_wt *values,
                         __global const float *scales, __global const float *Bbuf, const int offB,
                         const int bk, const int bn, __global float *Cbuf, const int offC,
                         const int cm, const int cn, __global const float *bias,
                         const int has_bias, const int relu) {
  const int i = (int)get_global_id(0), t = (int)get_global_id(1);
  if (i >= M || t * SP_TN >= N) return;
  __global const float *B = Bbuf + offB;
  SP_TILE(t);
  SP_VEC acc[SP_NV];
#pragma unroll
  for (int v = 0; v < SP_NV; ++v) acc[v] = (SP_VEC)(0.0f);
  const int e0 = row_ptr[i], e1 = row_ptr[i + 1];
  if (full)
    sp_csr_rows(e0, e1, col_idx, values, K, B, bk, bn, j0, N, 1, acc);
  else
    sp_csr_rows(e0, e1, col_idx, values, K, B, bk, bn, j0, N, 0, acc);
#if SP_INT8
  const float scale = scales[i];
#else
  const float scale = 1.0f;
  (void)scales;
#endif
  sp_store(Cbuf + offC, i, j0, jown, N, cm, cn, scale, has_bias ? bias[i] : 0.0f, relu, acc);
}

/* Blocks [b0, b1) of one block row into acc[SP_BR][SP_NV]. */
SP_INLINE void sp_bsr_rows(int b0, int b1, __global const int *block_col,
                           __global const float *values, int K, __global const float *B, int bk,
                           int bn, int j0, int N, int full, SP_VEC acc[SP_BR][SP_NV]) {
  for (int b = b0; b < b1; ++b) {
    const int k0 = block_col[b] * SP_BC;
    __global const float *w = values + b * (SP_BR * SP_BC);
#pragma unroll
    for (int c = 0; c < SP_BC; ++c) {
      const int k = clamp(k0 + c, 0, K - 1);
      SP_VEC bv[SP_NV];
#pragma unroll
      for (int v = 0; v < SP_NV; ++v) bv[v] = sp_load(B, k, j0 + v * SP_VW, bk, bn, N, full);
#pragma unroll
      for (int r = 0; r < SP_BR; ++r) {
        const SP_VEC a = (SP_VEC)(w[r * SP_BC + c]);
#pragma unroll
        for (int v = 0; v < SP_NV; ++v) acc[r][v] = fma(a, bv[v], acc[r][v]);
      }
    }
  }
}

/* Launch: global = (ceil(M/SP_BR), ceil(N/SP_TN)) rounded up to the local
 * size; a work-item owns block row get_global_id(0). */
__kernel void sparse_bsr(const int M, const int N, const int K, __global const int *block_ptr,
                         __global const int *block_col, __global const float *values,
                         __global const float *Bbuf, const int offB, const int bk, const int bn,
                         __global float *Cbuf, const int offC, const int cm, const int cn,
                         __global const float *bias, const int has_bias, const int relu) {
  const int r = (int)get_global_id(0), t = (int)get_global_id(1);
  if (r * SP_BR >= M || t * SP_TN >= N) return;
  __global const float *B = Bbuf + offB;
  SP_TILE(t);
  SP_VEC acc[SP_BR][SP_NV];
#pragma unroll
  for (int q = 0; q < SP_BR; ++q)
#pragma unroll
    for (int v = 0; v < SP_NV; ++v) acc[q][v] = (SP_VEC)(0.0f);
  const int b0 = block_ptr[r], b1 = block_ptr[r + 1];
  if (full)
    sp_bsr_rows(b0, b1, block_col, values, K, B, bk, bn, j0, N, 1, acc);
  else
    sp_bsr_rows(b0, b1, block_col, values, K, B, bk, bn, j0, N, 0, acc);
#pragma unroll
  for (int q = 0; q < SP_BR; ++q) {
    const int i = r * SP_BR + q;
    if (i < M)
      sp_store(Cbuf + offC, i, j0, jown, N, cm, cn, 1.0f, has_bias ? bias[i] : 0.0f, relu,
               acc[q]);
  }
}

/* The SP_NMN slots of groups [0, groups) of one row into acc. */
SP_INLINE void sp_nm_row(int groups, __global const float *vals, __global const uchar *pos, int K,
                         __global const float *B, int bk, int bn, int j0, int N, int full,
                         SP_VEC *acc) {
  for (int g = 0; g < groups; ++g) {
#pragma unroll
    for (int s = 0; s < SP_NMN; ++s) {
      const int e = g * SP_NMN + s;
      const int k = min(g * SP_NMM + (int)pos[e], K - 1);
      SP_MAC(acc, vals[e], k);
    }
  }
}

/* Launch: global = (M, ceil(N/SP_TN)) rounded up to the local size. */
__kernel void sparse_nm(const int M, const int N, const int K, const int groups,
                        __global const float *values, __global const uchar *pos,
                        __global const float *Bbuf, const int offB, const int bk, const int bn,
                        __global float *Cbuf, const int offC, const int cm, const int cn,
                        __global const float *bias, const int has_bias, const int relu) {
  const int i = (int)get_global_id(0), t = (int)get_global_id(1);
  if (i >= M || t * SP_TN >= N) return;
  __global const float *B = Bbuf + offB;
  SP_TILE(t);
  SP_VEC acc[SP_NV];
#pragma unroll
  for (int v = 0; v < SP_NV; ++v) acc[v] = (SP_VEC)(0.0f);
  __global const float *vals = values + i * groups * SP_NMN;
  __global const uchar *p = pos + i * groups * SP_NMN;
  if (full)
    sp_nm_row(groups, vals, p, K, B, bk, bn, j0, N, 1, acc);
  else
    sp_nm_row(groups, vals, p, K, B, bk, bn, j0, N, 0, acc);
  sp_store(Cbuf + offC, i, j0, jown, N, cm, cn, 1.0f, has_bias ? bias[i] : 0.0f, relu, acc);
}

/* Launch: global = (Cout, batch·OH·ceil(OW/SP_VW)) rounded up to the local
 * size. */
__kernel void sparse_conv(const int batch, const int Cout, const int Cin, const int H, const int W,
                          const int KH, const int KW, const int OH, const int OW, const int sh,
                          const int sw, const int pt, const int pl, const int dh, const int dw,
                          __global const int *row_ptr, __global const int *col_idx,
                          __global const sp_wt *values, __global const float *scales,
                          __global const float *X, __global float *Y, __global const float *bias,
                          const int has_bias, const int relu) {
  const int co = (int)get_global_id(0), g1 = (int)get_global_id(1);
  const int tiles = (OW + SP_VW - 1) / SP_VW;
  if (co >= Cout || g1 >= batch * OH * tiles) return;
  const int tx = g1 % tiles, oy = g1 / tiles % OH, b = g1 / tiles / OH;
  const int x0 = tx * SP_VW, khw = KH * KW;
  SP_VEC acc = (SP_VEC)(0.0f);
  __global const float *xb = X + b * Cin * H * W;
  const int e1 = row_ptr[co + 1];
  for (int e = row_ptr[co]; e < e1; ++e) {
    const int col = clamp(col_idx[e], 0, Cin * khw - 1);
    const int ci = col / khw, rem = col - ci * khw, ky = rem / KW, kx = rem - ky * KW;
    const int iy = oy * sh - pt + ky * dh;
    if (iy < 0 || iy >= H) continue;
    __global const float *row = xb + (ci * H + iy) * W;
    const int ix0 = x0 * sw - pl + kx * dw;
    SP_VEC xv;
    if (sw == 1 && ix0 >= 0 && ix0 + SP_VW <= W) {
      xv = SP_VLOAD(row + ix0);
    } else {
      float t[SP_VW];
#pragma unroll
      for (int l = 0; l < SP_VW; ++l) {
        const int ix = ix0 + l * sw;
        t[l] = ix >= 0 && ix < W ? row[ix] : 0.0f;
      }
#if SP_VW == 1
      xv = t[0];
#else
      xv = SP_VLOAD(t);
#endif
    }
    acc = fma((SP_VEC)((float)values[e]), xv, acc);
  }
#if SP_INT8
  acc *= scales[co];
#else
  (void)scales;
#endif
  if (has_bias) acc += bias[co];
  if (relu) acc = fmax(acc, (SP_VEC)(0.0f));
  __global float *y = Y + ((b * Cout + co) * OH + oy) * OW + x0;
  if (x0 + SP_VW <= OW) {
    SP_VSTORE(acc, y);
  } else {
    float t[SP_VW];
    SP_VSTORE(acc, t);
    for (int l = 0; l < OW - x0; ++l) y[l] = t[l];
  }
}
