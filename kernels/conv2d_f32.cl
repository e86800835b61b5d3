/* fp32 2-D convolution (ONNX Conv, NCHW) for pare.
 *
 *   y[n, m, oh, ow] = act(bias[m] + sum_{c, kh, kw} x[n, g*CG + c, ih, iw] * w[m, c, kh, kw]
 *                         + res[n, m, oh, ow])
 *   ih = oh*SH + kh*DH - PT, iw = ow*SW + kw*DW - PL, g = m / MG,
 *
 * where CG = C/group input and MG = M/group output channels per group and
 * positions outside the input read 0. The host (host/launch/conv2d_f32.c)
 * picks one of three plans (the implicit GEMM for stride 1 is described
 * further down, with its kernels):
 *
 *  - im2col + GEMM: conv2d_im2col unrolls the input windows of a chunk of NB
 *    images into a patch matrix col[group][CG*KH*KW][NB*OH*OW] (rows ordered
 *    c, kh, kw like the weight), then the tuned gemm_f32 computes, per group,
 *    W_g[MG x CG*KH*KW] * col_g into [MG x NB*OH*OW]. That is NCHW directly
 *    when NB == 1; otherwise conv2d_epilogue scatters the [M][NB][OH*OW]
 *    product into y. conv2d_epilogue also adds the bias and the residual
 *    and applies the activation (in place when NB == 1). 1x1 stride-1 unpadded convolutions
 *    skip im2col: x itself is the patch matrix of each image.
 *    conv2d_epilogue_pool instead pools the activated products (a MaxPool
 *    or AveragePool fused after the Conv) and writes only the pooled planes.
 *
 *  - direct: conv2d_direct, for convolutions with one or two output
 *    channels per group (depthwise), where a GEMM register tile has no
 *    weights to share and im2col only adds traffic: one work-item walks
 *    `rows` output rows of one (n, m) plane in register vectors of CONV_VW
 *    outputs along ow, with vector loads of input rows (stride 1) where the
 *    window lies inside the input, and guarded scalar code for the few
 *    columns that reach into the pads; bias, residual and activation fused.
 *
 * Variants (-D): CONV_ACT 0 none, 1 relu (max(v, 0)), 2 clip to [lo, hi]
 * (lo and hi are kernel arguments); NaN passes through both. CONV_VW: vector width of conv2d_direct
 * and conv2d_epilogue (1, 2, 4, 8 or 16). All indices are int: the host refuses buffers past 2^31
 * elements. The bias is a run-time flag (has_bias; bias is then [M]), so
 * one program serves convolutions with and without it; so is the residual
 * (has_res; res is then laid out as y: a ResNet block's skip connection,
 * added after the bias and before the activation, as an ONNX Add between
 * the Conv and the activation would). No load ever leaves the x, w, bias or
 * scratch buffers.
 */

#ifndef CONV_ACT
#define CONV_ACT 0
#endif
#ifndef CONV_VW
#define CONV_VW 16
#endif

#define CONV_INLINE     inline __attribute__((always_inline))
#define CONV_CAT_(a, b) a##b
#define CONV_CAT(a, b)  CONV_CAT_(a, b)

#if CONV_VW == 1
#define CONV_VEC          float
#define CONV_IVEC         int
#define CONV_VLOAD(p)     (*(p))
#define CONV_VSTORE(v, p) (*(p) = (v))
#else
#define CONV_VEC          CONV_CAT(float, CONV_VW)
#define CONV_IVEC         CONV_CAT(int, CONV_VW)
#define CONV_VLOAD(p)     CONV_CAT(vload, CONV_VW)(0, (p))
#define CONV_VSTORE(v, p) CONV_CAT(vstore, CONV_VW)((v), 0, (p))
#endif

/* The activation on one value and on a vector (kernels/common.h). */
CONV_INLINE float conv_act1(float v, const float lo, const float hi) {
  PARE_EPILOGUE_ACT(CONV_ACT, float, v, lo, hi);
  return v;
}

CONV_INLINE CONV_VEC conv_actv(CONV_VEC v, const float lo, const float hi) {
  PARE_EPILOGUE_ACT(CONV_ACT, CONV_VEC, v, lo, hi);
  return v;
}

/* Patch matrix of images n0 .. n0+NB-1 (global id 1 = j*blocks + b walks
 * image j and its b-th block of `rows` output rows; global id 0 is the
 * patch row r = (c*KH + kh)*KW + kw over all C channels):
 *   col[r * (NB*OH*OW) + j*OH*OW + oh*OW + ow] = x[n0+j, c, ih, iw] or 0. */
__kernel void conv2d_im2col(__global const float *x, __global float *col, const int C, const int H,
                            const int W, const int KH, const int KW, const int SH, const int SW,
                            const int DH, const int DW, const int PT, const int PL, const int OH,
                            const int OW, const int n0, const int NB, const int rows) {
  const int r = (int)get_global_id(0);
  const int jb = (int)get_global_id(1);
  const int blocks = (OH + rows - 1) / rows;
  if (r >= C * KH * KW || jb >= NB * blocks) return;
  const int j = jb / blocks;
  const int oh_begin = (jb % blocks) * rows;
  const int oh_end = min(oh_begin + rows, OH);
  const int kw = r % KW, kh = (r / KW) % KH, c = r / (KW * KH);
  const int P = OH * OW;
  __global const float *xc = x + ((n0 + j) * C + c) * H * W;
  __global float *dst = col + r * (NB * P) + j * P;

  /* Output columns whose input column lies inside [0, W): [ow_lo, ow_hi). */
  const int off = kw * DW - PL;
  int ow_lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
  int ow_hi = W - off <= 0 ? 0 : (W - off + SW - 1) / SW;
  ow_lo = min(ow_lo, OW);
  ow_hi = clamp(ow_hi, ow_lo, OW);

  for (int oh = oh_begin; oh < oh_end; ++oh) {
    __global float *d = dst + oh * OW;
    const int ih = oh * SH + kh * DH - PT;
    if (ih < 0 || ih >= H) {
      for (int ow = 0; ow < OW; ++ow) d[ow] = 0.0f;
      continue;
    }
    __global const float *src = xc + ih * W;
    for (int ow = 0; ow < ow_lo; ++ow) d[ow] = 0.0f;
    if (SW == 1) {
      for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow] = src[ow + off];
    } else {
      for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow] = src[ow * SW + off];
    }
    for (int ow = ow_hi; ow < OW; ++ow) d[ow] = 0.0f;
  }
}

/* Bias, residual and activation on GEMM results, and the scatter from the
 * [M][NB*P] product of a chunk to NCHW: global id 0 is m, id 1 the image j:
 *   y[i] = act(src[src_off + m*ld + j*P + p] + bias[m] + res[i]),
 *   i = y_off + (j*M + m)*P + p.
 * src and y may be the same buffer with the same layout (NB == 1, ld == P):
 * each element is read and then written by the same work-item. */
__kernel void conv2d_epilogue(__global const float *src, const int src_off, const int ld,
                              __global float *y, const int y_off, __global const float *bias,
                              const int has_bias, __global const float *res, const int has_res,
                              const int M, const int P, const int NB, const float lo,
                              const float hi) {
  const int m = (int)get_global_id(0);
  const int j = (int)get_global_id(1);
  if (m >= M || j >= NB) return;
  __global const float *s = src + src_off + m * ld + j * P;
  __global float *d = y + y_off + (j * M + m) * P;
  __global const float *r = res + y_off + (j * M + m) * P;
  const float b = has_bias ? bias[m] : 0.0f;
  int p = 0;
  if (has_res) {
#if CONV_VW > 1
    for (; p + CONV_VW <= P; p += CONV_VW) {
      const CONV_VEC v = CONV_VLOAD(s + p) + (CONV_VEC)(b) + CONV_VLOAD(r + p);
      CONV_VSTORE(conv_actv(v, lo, hi), d + p);
    }
#endif
    for (; p < P; ++p) d[p] = conv_act1(s[p] + b + r[p], lo, hi);
    return;
  }
#if CONV_VW > 1
  for (; p + CONV_VW <= P; p += CONV_VW) {
    const CONV_VEC v = CONV_VLOAD(s + p) + (CONV_VEC)(b);
    CONV_VSTORE(conv_actv(v, lo, hi), d + p);
  }
#endif
  for (; p < P; ++p) d[p] = conv_act1(s[p] + b, lo, hi);
}

/* conv2d_epilogue followed by a pooling window (CONV_POOL 1: max, NaN
 * never winning; 2: average), no pads, no dilation: bias and activation on
 * each GEMM result, then the window over them, written as NCHW pooled
 * planes y[y_off + ((j*M + m)*PH + py)*PW + px]. Global id 0 is m, id 1 the
 * pooled row j*PH + py of image j of the chunk. The conv output itself is
 * never stored: a Conv → Relu → MaxPool block writes a quarter of what it
 * would otherwise, and the pooling launch disappears. */
#ifndef CONV_POOL
#define CONV_POOL 1
#endif
/* A pooled accumulator's start, and folding the even and odd lanes of a
 * vector of activated outputs into it (max: NaN never wins; average: sum). */
#if CONV_POOL == 1
#define CONV_POOL_INIT (-INFINITY)
#define CONV_POOL_FOLD(p, v)                                                                       \
  do {                                                                                             \
    p = select(p, (v).even, (v).even > p);                                                         \
    p = select(p, (v).odd, (v).odd > p);                                                           \
  } while (0)
#else
#define CONV_POOL_INIT       0.0f
#define CONV_POOL_FOLD(p, v) (p += (v).even + (v).odd)
#endif
__kernel void conv2d_epilogue_pool(__global const float *src, const int src_off, const int ld,
                                   __global float *y, const int y_off, __global const float *bias,
                                   const int has_bias, const int M, const int OH, const int OW,
                                   const int NB, const int PKH, const int PKW, const int PSH,
                                   const int PSW, const int PH, const int PW, const float lo,
                                   const float hi) {
  const int m = (int)get_global_id(0);
  const int jp = (int)get_global_id(1);
  if (m >= M || jp >= NB * PH) return;
  const int j = jp / PH, py = jp - j * PH;
  __global const float *s = src + src_off + m * ld + j * (OH * OW) + py * PSH * OW;
  __global float *d = y + y_off + ((j * M + m) * PH + py) * PW;
  const float b = has_bias ? bias[m] : 0.0f;
  int px = 0;
  if (PKW == 2 && PSW == 2) {
    /* The common 2-wide, stride-2 window: 8 outputs from 16 contiguous
     * values per window row, their even and odd lanes (2·(px + 8) <= OW,
     * so every load stays in the row). */
    for (; px + 8 <= PW; px += 8) {
      float8 acc = (float8)(CONV_POOL_INIT);
      for (int ky = 0; ky < PKH; ++ky) {
        float16 v = vload16(0, s + ky * OW + 2 * px) + (float16)(b);
        PARE_EPILOGUE_ACT(CONV_ACT, float16, v, lo, hi);
        CONV_POOL_FOLD(acc, v);
      }
#if CONV_POOL == 1
      vstore8(acc, 0, d + px);
#else
      vstore8(acc / (float8)((float)(2 * PKH)), 0, d + px);
#endif
    }
  }
  for (; px < PW; ++px) {
    __global const float *w = s + px * PSW;
#if CONV_POOL == 1
    float acc = -INFINITY;
    for (int ky = 0; ky < PKH; ++ky)
      for (int kx = 0; kx < PKW; ++kx) {
        const float v = conv_act1(w[ky * OW + kx] + b, lo, hi);
        acc = v > acc ? v : acc;
      }
    d[px] = acc;
#else
    float acc = 0.0f;
    for (int ky = 0; ky < PKH; ++ky)
      for (int kx = 0; kx < PKW; ++kx) acc += conv_act1(w[ky * OW + kx] + b, lo, hi);
    d[px] = acc / (float)(PKH * PKW);
#endif
  }
}

/* CONV_VW input values row[iw0 + i*SW], all inside the row. */
CONV_INLINE CONV_VEC conv_load_row(__global const float *row, const int iw0, const int SW) {
#if CONV_VW == 1
  (void)SW;
  return row[iw0];
#else
  if (SW == 1) return CONV_VLOAD(row + iw0);
  float t[CONV_VW];
#pragma unroll
  for (int i = 0; i < CONV_VW; ++i) t[i] = row[iw0 + i * SW];
  return CONV_VLOAD(t);
#endif
}

/* One output y[oh, ow] of the direct kernel, with bounds checks on every
 * tap (for the columns whose window reaches into the left or right pad). */
CONV_INLINE float conv_direct_one(__global const float *xg, __global const float *wm, const int CG,
                                  const int H, const int W, const int KH, const int KW,
                                  const int SH, const int SW, const int DH, const int DW,
                                  const int PT, const int PL, const int oh, const int ow) {
  float acc = 0.0f;
  for (int c = 0; c < CG; ++c) {
    for (int kh = 0; kh < KH; ++kh) {
      const int ih = oh * SH + kh * DH - PT;
      if (ih < 0 || ih >= H) continue;
      __global const float *row = xg + (c * H + ih) * W;
      __global const float *wk = wm + (c * KH + kh) * KW;
      for (int kw = 0; kw < KW; ++kw) {
        const int iw = ow * SW + kw * DW - PL;
        if (iw >= 0 && iw < W) acc = fma(wk[kw], row[iw], acc);
      }
    }
  }
  return acc;
}

/* Direct convolution: global id 0 is the block of `rows` output rows, id 1
 * is n*M + m. The output columns [ia, ib) whose whole window lies inside
 * the input row are computed in vectors of CONV_VW columns with unguarded
 * (vector, for stride 1) loads, accumulating over the CG*KH*KW taps with
 * fma in (c, kh, kw) order; a last vector that would stick out past ib is
 * shifted back to end at ib (recomputing a few outputs). The other columns
 * (and all of them when the interior is narrower than CONV_VW) are computed
 * one by one with guarded loads. Rows of the window above or below the
 * input are skipped. */
__kernel void conv2d_direct(__global const float *x, __global const float *w,
                            __global const float *bias, const int has_bias,
                            __global const float *res, const int has_res, __global float *y,
                            const int N, const int C, const int H, const int W, const int M,
                            const int KH, const int KW, const int SH, const int SW, const int DH,
                            const int DW, const int PT, const int PL, const int OH, const int OW,
                            const int CG, const int MG, const int rows, const float lo,
                            const float hi) {
  const int blk = (int)get_global_id(0);
  const int nm = (int)get_global_id(1);
  const int oh_begin = blk * rows;
  if (oh_begin >= OH || nm >= N * M) return;
  const int oh_end = min(oh_begin + rows, OH);
  const int n = nm / M, m = nm % M;
  __global const float *xg = x + (n * C + (m / MG) * CG) * H * W;
  __global const float *wm = w + m * CG * KH * KW;
  __global float *ym = y + nm * OH * OW;
  __global const float *rm = res + nm * OH * OW;
  const float b = has_bias ? bias[m] : 0.0f;

  /* Interior columns: ow*SW - PL >= 0 and ow*SW + (KW-1)*DW - PL <= W-1. */
  const int ia = min((PL + SW - 1) / SW, OW);
  const int last = W - 1 + PL - (KW - 1) * DW;
  const int ib = last < 0 ? ia : clamp(last / SW + 1, ia, OW);
  const int vec_end = ib - ia >= CONV_VW ? ib : ia; /* vectors cover [ia, vec_end) */

  for (int oh = oh_begin; oh < oh_end; ++oh) {
    __global float *yrow = ym + oh * OW;
    __global const float *rrow = rm + oh * OW;
    for (int ow = 0; ow < OW; ++ow) {
      if (ow == ia) ow = vec_end;
      if (ow >= OW) break;
      const float v = conv_direct_one(xg, wm, CG, H, W, KH, KW, SH, SW, DH, DW, PT, PL, oh, ow);
      yrow[ow] = conv_act1(has_res ? v + b + rrow[ow] : v + b, lo, hi);
    }
    for (int own = ia; own < vec_end; own += CONV_VW) {
      const int ow0 = min(own, vec_end - CONV_VW);
      CONV_VEC acc = (CONV_VEC)(0.0f);
      for (int c = 0; c < CG; ++c) {
        for (int kh = 0; kh < KH; ++kh) {
          const int ih = oh * SH + kh * DH - PT;
          if (ih < 0 || ih >= H) continue;
          __global const float *row = xg + (c * H + ih) * W + ow0 * SW - PL;
          __global const float *wk = wm + (c * KH + kh) * KW;
          for (int kw = 0; kw < KW; ++kw)
            acc = fma((CONV_VEC)(wk[kw]), conv_load_row(row, kw * DW, SW), acc);
        }
      }
      acc += (CONV_VEC)(b);
      if (has_res) acc += CONV_VLOAD(rrow + ow0);
      CONV_VSTORE(conv_actv(acc, lo, hi), yrow + ow0);
    }
  }
}

/* ---- Implicit GEMM (stride 1): the patch matrix is never written. ----
 *
 * conv2d_pad copies images n0 .. n0+NB-1 into a zero-bordered buffer
 * xp[j][c][HP][WP] with x[n0+j, c, ih, iw] at row PT + ih, column PL + iw.
 * HP and WP (chosen by the host) leave room for every tile below, so
 * conv2d_igemm loads whole vectors without a bound check: the input of
 * output (oh, ow) and tap (kh, kw) sits at row oh + kh*DH, column
 * ow + kw*DW of xp, and CONV_VW consecutive outputs of a row read
 * CONV_VW consecutive values.
 *
 * One work-item of conv2d_igemm holds a tile of IG_TM output channels ×
 * IG_R output rows × CONV_VW output columns in registers, and walks the
 * CG*KH*KW taps of its group: per tap, IG_R vector loads of input and
 * IG_TM weights feed IG_TM*IG_R vector fmas. Global id 0 is
 * t*(M/IG_TM) plus the channel block, t the tile (row block * CB + column
 * block), so that the work-items of one input tile run together and share
 * it in cache; id 1 is the image j of the chunk. M/group must be a
 * multiple of IG_TM. The epilogue
 * adds the bias and the residual, applies the activation and stores the
 * outputs inside [OH, OW] (columns past OW are computed and dropped). With
 * CONV_POOL (1 max, NaN never winning; 2 average) it pools 2x2 windows of
 * stride 2 instead (IG_R even) and writes only the pooled planes
 * [PH = OH/2, PW = OW/2]. */
#ifndef IG_TM
#define IG_TM 8
#endif
#ifndef IG_R
#define IG_R 2
#endif

/* Zeros d[from .. to), 8 at a time where it can. */
CONV_INLINE void conv_pad_zero(__global float *d, int from, const int to) {
  for (; from < to && (from & 7); ++from) d[from] = 0.0f;
  for (; from + 8 <= to; from += 8) vstore8((float8)(0.0f), 0, d + from);
  for (; from < to; ++from) d[from] = 0.0f;
}

/* One row of xp per work-item: borders zeroed and the interior copied 8,
 * then 4 values at a time (a CPU driver turns each into one vector
 * instruction; scalar rows would cost one store per value). With fq,
 * each copied value passes a QuantizeLinear → DequantizeLinear pair first
 * (PARE_FAKE_QUANT, as elt_fake_quant). */
__kernel void conv2d_pad(__global const float *x, __global float *xp, const int C, const int H,
                         const int W, const int PT, const int PL, const int HP, const int WP,
                         const int n0, const int NB, const int fq, const float scale,
                         const float lo, const float hi) {
  const int row = (int)get_global_id(0); /* (j*C + c)*HP + hp */
  if (row >= NB * C * HP) return;
  const int hp = row % HP, jc = row / HP;
  __global float *d = xp + row * WP;
  const int ih = hp - PT;
  if (ih < 0 || ih >= H) {
    conv_pad_zero(d, 0, WP);
    return;
  }
  __global const float *s = x + (n0 * C + jc) * H * W + ih * W;
  __global float *o = d + PL;
  conv_pad_zero(d, 0, PL);
  int i = 0;
  if (fq) {
    for (; i + 8 <= W; i += 8)
      vstore8(PARE_FAKE_QUANT(float8, vload8(0, s + i), scale, lo, hi), 0, o + i);
    for (; i + 4 <= W; i += 4)
      vstore4(PARE_FAKE_QUANT(float4, vload4(0, s + i), scale, lo, hi), 0, o + i);
    for (; i < W; ++i) o[i] = PARE_FAKE_QUANT(float, s[i], scale, lo, hi);
  } else {
    for (; i + 8 <= W; i += 8) vstore8(vload8(0, s + i), 0, o + i);
    for (; i + 4 <= W; i += 4) vstore4(vload4(0, s + i), 0, o + i);
    for (; i < W; ++i) o[i] = s[i];
  }
  conv_pad_zero(d, PL + W, WP);
}

/* Stores CONV_VW outputs act(v + b + res) at y[idx .. idx+count), count <= CONV_VW. */
CONV_INLINE void conv_ig_store(CONV_VEC v, const float b, __global const float *res,
                               const int has_res, __global float *y, const int idx, const int count,
                               const float lo, const float hi) {
  if (count == CONV_VW) {
    v += (CONV_VEC)(b);
    if (has_res) v += CONV_VLOAD(res + idx);
    CONV_VSTORE(conv_actv(v, lo, hi), y + idx);
    return;
  }
  float t[CONV_VW];
  CONV_VSTORE(v, t);
  for (int i = 0; i < count; ++i)
    y[idx + i] = conv_act1(t[i] + b + (has_res ? res[idx + i] : 0.0f), lo, hi);
}

/* Half a vector: the pooled outputs of one tile row. */
#if CONV_VW == 2
#define CONV_HALF_VW 1
#define CONV_HVEC    float
#elif CONV_VW == 4
#define CONV_HALF_VW 2
#define CONV_HVEC    float2
#elif CONV_VW == 8
#define CONV_HALF_VW 4
#define CONV_HVEC    float4
#elif CONV_VW == 16
#define CONV_HALF_VW 8
#define CONV_HVEC    float8
#endif
#define CONV_VSTORE_HALF CONV_CAT(vstore, CONV_HALF_VW)

__kernel void conv2d_igemm(__global const float *xp, __global const float *w,
                           __global const float *bias, const int has_bias,
                           __global const float *res, const int has_res, __global float *y,
                           const int C, const int CG, const int M, const int MG, const int KH,
                           const int KW, const int DH, const int DW, const int HP, const int WP,
                           const int OH, const int OW, const int RB, const int CB, const int n0,
                           const int NB, const float lo, const float hi) {
  const int tm = (int)get_global_id(0);
  const int j = (int)get_global_id(1);
  const int MB = M / IG_TM;
  if (tm >= RB * CB * MB || j >= NB) return;
#ifdef BAKED_BODY
  /* Neighbouring work-items take the same block of channels, so they run
   * the same stretch of baked code (a layer's code can outgrow the
   * instruction cache; alternating blocks would thrash it). */
  const int t = tm % (RB * CB), m0 = (tm / (RB * CB)) * IG_TM;
#else
  const int t = tm / MB, m0 = (tm - t * MB) * IG_TM;
#endif
  const int oh0 = (t / CB) * IG_R, ow0 = (t % CB) * CONV_VW;
  const int plane = HP * WP, K = CG * KH * KW;
  __global const float *xg = xp + (j * C + (m0 / MG) * CG) * plane + oh0 * WP + ow0;
  __global const float *wm = w + m0 * K;

  CONV_VEC acc[IG_TM][IG_R];
#pragma unroll
  for (int i = 0; i < IG_TM; ++i)
#pragma unroll
    for (int r = 0; r < IG_R; ++r) acc[i][r] = (CONV_VEC)(0.0f);

#ifdef BAKED_BODY
  /* The layer's weights are literals in the code (BAKED_BODY, written by
   * pare_conv2d_baked_make for this layer): for the work-item's block of
   * channels, each tap with a nonzero weight loads its tr input vectors,
   * then one FMA per nonzero weight. Zeros cost nothing, and no weight is
   * loaded. */
  (void)wm;
  (void)K;
  CONV_VEC xv[IG_R];
#define BAKED_TAP(c, kh, kw)                                                                       \
  for (int r = 0; r < IG_R; ++r) xv[r] = CONV_VLOAD(xg + (c)*plane + ((kh)*DH + r) * WP + (kw)*DW);
#define BAKED_FMA(i, wv)                                                                           \
  for (int r = 0; r < IG_R; ++r) acc[i][r] = fma((CONV_VEC)(wv), xv[r], acc[i][r]);
  BAKED_BODY
#else
  int tap = 0;
  for (int c = 0; c < CG; ++c) {
    for (int kh = 0; kh < KH; ++kh) {
      __global const float *xr = xg + c * plane + kh * DH * WP;
      for (int kw = 0; kw < KW; ++kw, ++tap) {
        CONV_VEC xv[IG_R];
#pragma unroll
        for (int r = 0; r < IG_R; ++r) xv[r] = CONV_VLOAD(xr + r * WP + kw * DW);
#pragma unroll
        for (int i = 0; i < IG_TM; ++i) {
          const CONV_VEC wv = (CONV_VEC)(wm[i * K + tap]);
#pragma unroll
          for (int r = 0; r < IG_R; ++r) acc[i][r] = fma(wv, xv[r], acc[i][r]);
        }
      }
    }
  }
#endif

  const int n = n0 + j;
#if CONV_POOL != 0 && CONV_VW > 1
  /* 2x2 windows of stride 2: rows 2q and 2q+1 of the tile, even and odd lanes. */
  const int PH = OH / 2, PW = OW / 2;
  const int px0 = ow0 / 2;
  const int count = min(CONV_HALF_VW, PW - px0);
  if (count <= 0) return;
#pragma unroll
  for (int i = 0; i < IG_TM; ++i) {
    const int m = m0 + i;
    const float b = has_bias ? bias[m] : 0.0f;
#pragma unroll
    for (int q = 0; q < IG_R / 2; ++q) {
      const int py = oh0 / 2 + q;
      if (py >= PH) break;
      CONV_HVEC p = (CONV_HVEC)(CONV_POOL_INIT);
#pragma unroll
      for (int r = 2 * q; r < 2 * q + 2; ++r) {
        const CONV_VEC v = conv_actv(acc[i][r] + (CONV_VEC)(b), lo, hi);
        CONV_POOL_FOLD(p, v);
      }
#if CONV_POOL == 2
      p = p / (CONV_HVEC)(4.0f);
#endif
      const int idx = ((n * M + m) * PH + py) * PW + px0;
#if CONV_HALF_VW == 1
      y[idx] = p;
#else
      if (count == CONV_HALF_VW) {
        CONV_VSTORE_HALF(p, 0, y + idx);
      } else {
        float pt[CONV_HALF_VW];
        CONV_VSTORE_HALF(p, 0, pt);
        for (int e = 0; e < count; ++e) y[idx + e] = pt[e];
      }
#endif
    }
  }
#else
  const int count = min(CONV_VW, OW - ow0);
#pragma unroll
  for (int i = 0; i < IG_TM; ++i) {
    const int m = m0 + i;
    const float b = has_bias ? bias[m] : 0.0f;
#pragma unroll
    for (int r = 0; r < IG_R; ++r) {
      const int oh = oh0 + r;
      if (oh >= OH) break;
      conv_ig_store(acc[i][r], b, res, has_res, y, ((n * M + m) * OH + oh) * OW + ow0, count, lo,
                    hi);
    }
  }
#endif
}

/* Winograd F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional
 * Neural Networks", 2016), for 3x3 windows of stride 1, dilation 1 and one
 * group. Each 2x2 block of outputs ("tile") of a plane is
 *
 *   Y = Aᵀ [ sum_c (G g_mc Gᵀ) ⊙ (Bᵀ d_c B) ] A,
 *
 * d_c the 4x4 input patch of channel c under the tile (pads read 0), g_mc
 * the 3x3 weight: 16 multiplications per tile and channel pair where the
 * window needs 36. Three kernels and the tuned GEMM:
 *   conv2d_wino_weights  U[k][m][c] = (G g_mc Gᵀ)[k]           (k = 4i + j)
 *   conv2d_wino_input    V[k][c][t] = (Bᵀ d_ct B)[k]           (t: a tile)
 *   gemm_f32, 16 times in one launch: P[k] = U[k] · V[k]        ([M][T])
 *   conv2d_wino_output   Aᵀ P_mt A, with bias, residual, activation and a
 *                        2x2/2 pooling (a tile is one pooling window)
 * with Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1],
 *      G  = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1],
 *      Aᵀ = [1 1 1 0; 0 1 -1 -1].
 * The tiles of a chunk of NB images are t = (j*TH + th)*TW + tw, TH and TW
 * the tiles per column and row (OH and OW rounded up to even, halved). The
 * rounding differs from the direct sum: the transforms scale values by up
 * to 4 before the products (engine/ref/winograd.c is the reference). */

/* One work-item per (m, c): the 16 transformed weights of g = w[m][c]. */
__kernel void conv2d_wino_weights(__global const float *w, __global float *u, const int MC) {
  const int mc = (int)get_global_id(0);
  if (mc >= MC) return;
  __global const float *g = w + mc * 9;
  float t[4][3];
  for (int s = 0; s < 3; ++s) {
    t[0][s] = g[s];
    t[1][s] = 0.5f * (g[s] + g[3 + s] + g[6 + s]);
    t[2][s] = 0.5f * (g[s] - g[3 + s] + g[6 + s]);
    t[3][s] = g[6 + s];
  }
  for (int i = 0; i < 4; ++i) {
    u[(4 * i + 0) * MC + mc] = t[i][0];
    u[(4 * i + 1) * MC + mc] = 0.5f * (t[i][0] + t[i][1] + t[i][2]);
    u[(4 * i + 2) * MC + mc] = 0.5f * (t[i][0] - t[i][1] + t[i][2]);
    u[(4 * i + 3) * MC + mc] = t[i][2];
  }
}

/* Lane i of v: the i-th of CONV_VW values of `a` (a private array). */
#define WINO_VLOAD(a) CONV_VLOAD(a)

/* CONV_VW tiles per work-item: global id 0 is the block of tiles t0 =
 * id·CONV_VW .. of the chunk's images n0 .. n0+NB-1, id 1 the channel c.
 * The patches are gathered lane by lane (bounds checked: pads read 0),
 * transformed as vectors, and stored as vectors along t:
 * v[v_off + k*C*T + c*T + t] = (Bᵀ d B)[k]. Lanes past the last tile are
 * computed on zeros and not stored. */
__kernel void conv2d_wino_input(__global const float *x, __global float *v, const int v_off,
                                const int C, const int H, const int W, const int PT, const int PL,
                                const int TH, const int TW, const int n0, const int NB) {
  const int t0 = (int)get_global_id(0) * CONV_VW;
  const int c = (int)get_global_id(1);
  const int T = NB * TH * TW;
  if (t0 >= T || c >= C) return;
  const int nl = min(CONV_VW, T - t0);
  float g[16][CONV_VW];
  int tw = t0 % TW, th = (t0 / TW) % TH, j = t0 / (TW * TH);
  for (int i = 0; i < CONV_VW; ++i) {
    __global const float *xp = x + ((n0 + j) * C + c) * H * W;
    const int ih0 = 2 * th - PT, iw0 = 2 * tw - PL;
    for (int r = 0; r < 4; ++r)
      for (int q = 0; q < 4; ++q) {
        const int ih = ih0 + r, iw = iw0 + q;
        g[4 * r + q][i] = i < nl && ih >= 0 && ih < H && iw >= 0 && iw < W ? xp[ih * W + iw] : 0.0f;
      }
    if (++tw == TW) {
      tw = 0;
      if (++th == TH) th = 0, ++j;
    }
  }
  CONV_VEC d[16];
  for (int k = 0; k < 16; ++k) d[k] = WINO_VLOAD(g[k]);
  CONV_VEC e[16]; /* Bᵀ d */
  for (int q = 0; q < 4; ++q) {
    e[q] = d[q] - d[8 + q];
    e[4 + q] = d[4 + q] + d[8 + q];
    e[8 + q] = d[8 + q] - d[4 + q];
    e[12 + q] = d[4 + q] - d[12 + q];
  }
  CONV_VEC f[16]; /* (Bᵀ d) B */
  for (int r = 0; r < 4; ++r) {
    f[4 * r + 0] = e[4 * r + 0] - e[4 * r + 2];
    f[4 * r + 1] = e[4 * r + 1] + e[4 * r + 2];
    f[4 * r + 2] = e[4 * r + 2] - e[4 * r + 1];
    f[4 * r + 3] = e[4 * r + 1] - e[4 * r + 3];
  }
  const int CT = C * T;
  __global float *o = v + v_off + c * T + t0;
  if (nl == CONV_VW) {
    for (int k = 0; k < 16; ++k) CONV_VSTORE(f[k], o + k * CT);
    return;
  }
  for (int k = 0; k < 16; ++k) {
    float lane[CONV_VW];
    CONV_VSTORE(f[k], lane);
    for (int i = 0; i < nl; ++i) o[k * CT + i] = lane[i];
  }
}

/* CONV_VW tiles per work-item: global id 0 is the block of tiles t0 =
 * id·CONV_VW .., id 1 the output channel m. The tiles' 2x2 outputs Aᵀ P A
 * (P from p_off on, loaded as vectors along t), then per tile the bias
 * and residual and the activation, stored inside the OH x OW plane. With
 * CONV_POOL (1 max, 2 average) a tile is the 2x2/2 window: one pooled
 * value per tile inside the (OH/2) x (OW/2) pooled plane, none for a last
 * tile row or column half outside the plane. */
__kernel void conv2d_wino_output(__global const float *p, const int p_off,
                                 __global const float *bias, const int has_bias,
                                 __global const float *res, const int has_res, __global float *y,
                                 const int M, const int OH, const int OW, const int TH,
                                 const int TW, const int n0, const int NB, const float lo,
                                 const float hi) {
  const int t0 = (int)get_global_id(0) * CONV_VW;
  const int m = (int)get_global_id(1);
  const int T = NB * TH * TW;
  if (t0 >= T || m >= M) return;
  const int nl = min(CONV_VW, T - t0);
  const int MT = M * T;
  __global const float *q = p + p_off + m * T + t0;
  CONV_VEC pv[16];
  for (int k = 0; k < 16; ++k) {
    if (nl == CONV_VW) {
      pv[k] = CONV_VLOAD(q + k * MT);
    } else {
      float lane[CONV_VW];
      for (int i = 0; i < CONV_VW; ++i) lane[i] = i < nl ? q[k * MT + i] : 0.0f;
      pv[k] = WINO_VLOAD(lane);
    }
  }
  CONV_VEC s[8]; /* Aᵀ P */
  for (int c = 0; c < 4; ++c) {
    s[c] = pv[c] + pv[4 + c] + pv[8 + c];
    s[4 + c] = pv[4 + c] - pv[8 + c] - pv[12 + c];
  }
  float o[4][CONV_VW]; /* (Aᵀ P) A: outputs (0,0), (0,1), (1,0), (1,1) of each tile */
  for (int r = 0; r < 2; ++r) {
    CONV_VSTORE(s[4 * r] + s[4 * r + 1] + s[4 * r + 2], o[2 * r]);
    CONV_VSTORE(s[4 * r + 1] - s[4 * r + 2] - s[4 * r + 3], o[2 * r + 1]);
  }
  const float b = has_bias ? bias[m] : 0.0f;
  int tw = t0 % TW, th = (t0 / TW) % TH, n = n0 + t0 / (TW * TH);
#if CONV_POOL != 0
  const int PH = OH / 2, PW = OW / 2;
#endif
  for (int i = 0; i < nl; ++i) {
#if CONV_POOL != 0
    if (th < PH && tw < PW) {
      float acc = CONV_POOL_INIT;
      for (int e = 0; e < 4; ++e) {
        const float a = conv_act1(o[e][i] + b, lo, hi);
#if CONV_POOL == 1
        acc = a > acc ? a : acc;
#else
        acc += a;
#endif
      }
#if CONV_POOL == 2
      acc *= 0.25f;
#endif
      y[((n * M + m) * PH + th) * PW + tw] = acc;
    }
#else
    for (int e = 0; e < 4; ++e) {
      const int oh = 2 * th + e / 2, ow = 2 * tw + e % 2;
      if (oh < OH && ow < OW) {
        const int at = ((n * M + m) * OH + oh) * OW + ow;
        y[at] = conv_act1(o[e][i] + b + (has_res ? res[at] : 0.0f), lo, hi);
      }
    }
#endif
    if (++tw == TW) {
      tw = 0;
      if (++th == TH) th = 0, ++n;
    }
  }
}
