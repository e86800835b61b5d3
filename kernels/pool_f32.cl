/* Pooling over NCHW fp32 for pare, matching engine/ref/pool.c.
 *
 *   pool2d       MaxPool / AveragePool (POOL_MAX 1 / 0) with kernel, strides,
 *                dilations and explicit begin/end pads already resolved by
 *                the host (pare_ref_window_out_dims: auto_pad and ceil_mode
 *                are folded into OH, OW and the pads).
 *   global_pool  GlobalMaxPool / GlobalAveragePool: one value per (n, c)
 *                plane of `spatial` contiguous elements.
 *
 * Window rules, as the reference: the taps of output (oh, ow) are
 * (oh*SH - PT + kh*DH, ow*SW - PL + kw*DW); only taps inside the input are
 * read. Max: the largest of them, NaN inputs skipped (v > best), -inf when
 * the window holds no input. Average: their sum divided by the number of
 * taps inside the input (count_include_pad = 0; NaN when there are none) or
 * inside the input plus its pads (count_include_pad = 1; a ceil-mode window
 * hanging past the end pad does not count the overhang). The valid tap
 * ranges are computed in closed form per output row and column, so the
 * inner loops carry no bounds checks. Sums are fp32 in tap order (the
 * reference sums in double).
 *
 * Work decomposition: pool2d gives every work-item `rows_per_item`
 * consecutive output rows of the flattened [N*C*OH, OW] output;
 * global_pool gives every work-item `planes_per_item` planes, each reduced
 * with POOL_VW-wide vector loads and per-lane partial results. */

#ifndef POOL_MAX
#define POOL_MAX 1
#endif
#ifndef POOL_VW
#define POOL_VW 8
#endif

#define POOL_CAT_(a, b) a##b
#define POOL_CAT(a, b)  POOL_CAT_(a, b)
#define POOL_INLINE     inline __attribute__((always_inline))

#if POOL_VW == 1
#define POOL_VEC      float
#define POOL_VLOAD(p) (*(p))
#else
#define POOL_VEC      POOL_CAT(float, POOL_VW)
#define POOL_VLOAD(p) POOL_CAT(vload, POOL_VW)(0, (p))
#endif

/* Along one axis: the taps k in [*lo, *hi) of a window starting at i0 that
 * land inside [0, n), and the number of taps inside [.., n + pad_end). */
POOL_INLINE void pool_taps(const int i0, const int n, const int k, const int d, const int pad_end,
                           int *lo, int *hi, int *padded) {
  const int l = i0 >= 0 ? 0 : (-i0 + d - 1) / d;
  const int h = n - i0 > 0 ? min(k, (n - i0 + d - 1) / d) : 0;
  *lo = l;
  *hi = max(l, h);
  *padded = n + pad_end - i0 > 0 ? min(k, (n + pad_end - i0 + d - 1) / d) : 0;
}

/* Interior columns: the host may fix the window width and stride at
 * compile time (POOL_KW, POOL_SW, dilation 1) so that the taps unroll. */
#ifdef POOL_KW
#define POOL_IKW POOL_KW
#define POOL_ISW POOL_SW
#define POOL_IDW 1
#else
#define POOL_IKW KW
#define POOL_ISW SW
#define POOL_IDW DW
#endif

/* The output at column ow of a row whose kernel rows [kh_lo, kh_hi) are
 * inside the input (ph: inside input + pads): taps [kw_lo, kw_hi) along w. */
POOL_INLINE float pool_one(__global const float *xp, const int W, const int h0, const int kh_lo,
                           const int kh_hi, const int ph, const int DH, const int w0,
                           const int kw_lo, const int kw_hi, const int pw, const int DW,
                           const int count_include_pad) {
#if POOL_MAX
  float best = -INFINITY;
  for (int kh = kh_lo; kh < kh_hi; ++kh) {
    __global const float *xr = xp + (h0 + kh * DH) * W + w0;
    for (int kw = kw_lo; kw < kw_hi; ++kw) {
      const float v = xr[kw * DW];
      best = v > best ? v : best;
    }
  }
  return best;
#else
  float sum = 0.0f;
  for (int kh = kh_lo; kh < kh_hi; ++kh) {
    __global const float *xr = xp + (h0 + kh * DH) * W + w0;
    for (int kw = kw_lo; kw < kw_hi; ++kw) sum += xr[kw * DW];
  }
  const int div = count_include_pad ? ph * pw : (kh_hi - kh_lo) * (kw_hi - kw_lo);
  return div > 0 ? sum / (float)div : NAN;
#endif
}

/* Launch: global = ceil(N*C*OH / rows_per_item) rounded up to the local
 * size, any local size. Columns [ow_in0, ow_in1) have their whole window
 * inside the input along w (computed by the host; ow_in0 == ow_in1 when
 * there are none): they skip the range arithmetic. */
__kernel void pool2d(const int rows, const int rows_per_item, const int H, const int W,
                     const int OH, const int OW, const int KH, const int KW, const int SH,
                     const int SW, const int DH, const int DW, const int PT, const int PL,
                     const int PB, const int PR, const int count_include_pad, const int ow_in0,
                     const int ow_in1, __global const float *x, __global float *y) {
  const int r0 = (int)get_global_id(0) * rows_per_item;
  if (r0 >= rows) return;
  const int r1 = min(rows, r0 + rows_per_item);
  for (int row = r0; row < r1; ++row) {
    const int plane = row / OH, oh = row - plane * OH;
    __global const float *xp = x + plane * H * W;
    __global float *yp = y + row * OW;
    const int h0 = oh * SH - PT;
    int kh_lo, kh_hi, ph;
    pool_taps(h0, H, KH, DH, PB, &kh_lo, &kh_hi, &ph);
    for (int ow = 0; ow < ow_in0; ++ow) {
      const int w0 = ow * SW - PL;
      int kw_lo, kw_hi, pw;
      pool_taps(w0, W, KW, DW, PR, &kw_lo, &kw_hi, &pw);
      yp[ow] =
          pool_one(xp, W, h0, kh_lo, kh_hi, ph, DH, w0, kw_lo, kw_hi, pw, DW, count_include_pad);
    }
    for (int ow = ow_in0; ow < ow_in1; ++ow)
      yp[ow] = pool_one(xp, W, h0, kh_lo, kh_hi, ph, DH, ow * POOL_ISW - PL, 0, POOL_IKW, POOL_IKW,
                        POOL_IDW, count_include_pad);
    for (int ow = max(ow_in0, ow_in1); ow < OW; ++ow) {
      const int w0 = ow * SW - PL;
      int kw_lo, kw_hi, pw;
      pool_taps(w0, W, KW, DW, PR, &kw_lo, &kw_hi, &pw);
      yp[ow] =
          pool_one(xp, W, h0, kh_lo, kh_hi, ph, DH, w0, kw_lo, kw_hi, pw, DW, count_include_pad);
    }
  }
}

/* Launch: global = ceil(planes / planes_per_item) rounded up to the local
 * size, any local size. With spatial == 0, x is never read. */
__kernel void global_pool(const int planes, const int spatial, const int planes_per_item,
                          __global const float *x, __global float *y) {
  const int p0 = (int)get_global_id(0) * planes_per_item;
  if (p0 >= planes) return;
  const int p1 = min(planes, p0 + planes_per_item);
  for (int pl = p0; pl < p1; ++pl) {
    __global const float *xp = x + pl * spatial;
    int j = 0;
#if POOL_MAX
    POOL_VEC acc = (POOL_VEC)(-INFINITY);
    for (; j + POOL_VW <= spatial; j += POOL_VW) {
      const POOL_VEC v = POOL_VLOAD(xp + j);
      acc = v > acc ? v : acc; /* NaN lanes never win */
    }
    float lanes[POOL_VW];
#if POOL_VW == 1
    lanes[0] = acc;
#else
    POOL_CAT(vstore, POOL_VW)(acc, 0, lanes);
#endif
    float best = -INFINITY;
    for (int l = 0; l < POOL_VW; ++l) best = lanes[l] > best ? lanes[l] : best;
    for (; j < spatial; ++j) best = xp[j] > best ? xp[j] : best;
    y[pl] = best;
#else
    POOL_VEC acc = (POOL_VEC)(0.0f);
    for (; j + POOL_VW <= spatial; j += POOL_VW) acc += POOL_VLOAD(xp + j);
    float lanes[POOL_VW];
#if POOL_VW == 1
    lanes[0] = acc;
#else
    POOL_CAT(vstore, POOL_VW)(acc, 0, lanes);
#endif
    float sum = 0.0f;
    for (int l = 0; l < POOL_VW; ++l) sum += lanes[l];
    for (; j < spatial; ++j) sum += xp[j];
    y[pl] = spatial > 0 ? sum / (float)spatial : NAN;
#endif
  }
}
