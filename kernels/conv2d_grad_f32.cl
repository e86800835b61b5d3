/* fp32 2-D convolution backward (NCHW, groups) for pare: the gradients of
 * the forward of conv2d_f32.cl,
 *
 *   y[n, m, oh, ow] = b[m] + sum_{c, kh, kw} x[n, g*CG + c, ih, iw] * w[m, c, kh, kw]
 *   ih = oh*SH + kh*DH - PT, iw = ow*SW + kw*DW - PL, g = m / MG,
 *
 * given dy = dL/dy:
 *
 *   dx[n, g*CG + c, ih, iw] = sum over m of the group and taps (kh, kw) whose
 *                             output (oh, ow) reads (ih, iw) of dy * w
 *   dw[m, c, kh, kw]        = sum over n, oh, ow of dy[n, m, oh, ow] * x[...]
 *   db[m]                   = sum over n, oh, ow of dy[n, m, oh, ow].
 *
 * The host (host/launch/conv2d_grad_f32.c) runs, per chunk of NB images:
 *   - grad_pack_dy: dy of the chunk as [M][NB*P] (only when NB > 1; P = OH*OW);
 *   - grad_im2col: x of the chunk as the patch matrix col[C*KH*KW][NB*P]
 *     (rows c, kh, kw, as the forward), then per group the tuned GEMM
 *     dW_g += dy_g[MG x NB*P] * col_gᵀ (NT form);
 *   - per group the GEMM col_g = W_gᵀ * dy_g (TN form), then grad_col2im,
 *     which gathers, for each input element, the patch entries that read it
 *     (no scatter, no atomics) and writes dx.
 * 1x1 stride-1 unpadded convolutions with NB == 1 skip im2col and col2im.
 * Depthwise-like convolutions (few output channels per group) use the
 * direct gathers grad_direct_dx and grad_direct_dw instead. grad_bias
 * reduces dy per channel; grad_zero clears gradients of an empty batch.
 *
 * Variants (-D): GRAD_VW, vector width of the contiguous reductions and
 * copies (1, 2, 4, 8 or 16). All indices are int: the host refuses tensors
 * past 2^31 elements. No load leaves the buffers.
 */

#ifndef GRAD_VW
#define GRAD_VW 16
#endif

#define GRAD_CAT_(a, b) a##b
#define GRAD_CAT(a, b)  GRAD_CAT_(a, b)

#if GRAD_VW == 1
#define GRAD_VEC          float
#define GRAD_VLOAD(p)     (*(p))
#define GRAD_VSTORE(v, p) (*(p) = (v))
#else
#define GRAD_VEC          GRAD_CAT(float, GRAD_VW)
#define GRAD_VLOAD(p)     GRAD_CAT(vload, GRAD_VW)(0, (p))
#define GRAD_VSTORE(v, p) GRAD_CAT(vstore, GRAD_VW)((v), 0, (p))
#endif

inline float grad_hsum(GRAD_VEC v) {
#if GRAD_VW == 1
  return v;
#elif GRAD_VW == 2
  return v.s0 + v.s1;
#elif GRAD_VW == 4
  return (v.s0 + v.s1) + (v.s2 + v.s3);
#elif GRAD_VW == 8
  float4 q = v.lo + v.hi;
  return (q.s0 + q.s1) + (q.s2 + q.s3);
#else
  float8 h = v.lo + v.hi;
  float4 q = h.lo + h.hi;
  return (q.s0 + q.s1) + (q.s2 + q.s3);
#endif
}

/* Sum of n contiguous floats. */
inline float grad_sum(__global const float *p, const int n) {
  int i = 0;
  float s = 0.0f;
#if GRAD_VW > 1
  GRAD_VEC acc = (GRAD_VEC)(0.0f);
  for (; i + GRAD_VW <= n; i += GRAD_VW) acc += GRAD_VLOAD(p + i);
  s = grad_hsum(acc);
#endif
  for (; i < n; ++i) s += p[i];
  return s;
}

/* db[m] = sum over n and p of dy[(n*M + m)*P + p]; global id 0 is m. */
__kernel void grad_bias(__global const float *dy, __global float *db, const int N, const int M,
                        const int P) {
  const int m = (int)get_global_id(0);
  if (m >= M) return;
  float s = 0.0f;
  for (int n = 0; n < N; ++n) s += grad_sum(dy + (n * M + m) * P, P);
  db[m] = s;
}

/* buf[0 .. count) = 0; global id 0 is the index. */
__kernel void grad_zero(__global float *buf, const int count) {
  const int i = (int)get_global_id(0);
  if (i < count) buf[i] = 0.0f;
}

/* dst[m*(NB*P) + j*P + p] = dy[((n0 + j)*M + m)*P + p]; global id 0 is m,
 * id 1 the image j of the chunk. */
__kernel void grad_pack_dy(__global const float *dy, __global float *dst, const int dst_off,
                           const int M, const int P, const int n0, const int NB) {
  const int m = (int)get_global_id(0);
  const int j = (int)get_global_id(1);
  if (m >= M || j >= NB) return;
  __global const float *s = dy + ((n0 + j) * M + m) * P;
  __global float *d = dst + dst_off + m * (NB * P) + j * P;
  int p = 0;
#if GRAD_VW > 1
  for (; p + GRAD_VW <= P; p += GRAD_VW) GRAD_VSTORE(GRAD_VLOAD(s + p), d + p);
#endif
  for (; p < P; ++p) d[p] = s[p];
}

/* Patch matrix of images n0 .. n0+NB-1: global id 0 is the patch row
 * r = (c*KH + kh)*KW + kw, id 1 the image j of the chunk:
 *   col[r*(NB*P) + j*P + oh*OW + ow] = x[n0+j, c, ih, iw] or 0 in the pads. */
__kernel void grad_im2col(__global const float *x, __global float *col, const int C, const int H,
                          const int W, const int KH, const int KW, const int SH, const int SW,
                          const int DH, const int DW, const int PT, const int PL, const int OH,
                          const int OW, const int n0, const int NB) {
  const int r = (int)get_global_id(0);
  const int j = (int)get_global_id(1);
  if (r >= C * KH * KW || j >= NB) return;
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
  for (int oh = 0; oh < OH; ++oh) {
    __global float *d = dst + oh * OW;
    const int ih = oh * SH + kh * DH - PT;
    if (ih < 0 || ih >= H) {
      for (int ow = 0; ow < OW; ++ow) d[ow] = 0.0f;
      continue;
    }
    __global const float *src = xc + ih * W + off;
    for (int ow = 0; ow < ow_lo; ++ow) d[ow] = 0.0f;
    for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow] = src[ow * SW];
    for (int ow = ow_hi; ow < OW; ++ow) d[ow] = 0.0f;
  }
}

/* The output index o along one axis whose window reads input i through
 * tap k, or -1. */
inline int grad_out_of(const int i, const int k, const int S, const int D, const int PB,
                       const int O) {
  const int t = i + PB - k * D;
  if (t < 0) return -1;
  const int o = t / S;
  return (o * S == t && o < O) ? o : -1;
}

/* col2im as a gather: global id 0 walks the input rows ih of one plane,
 * id 1 is j*C + c (image j of the chunk, channel c). For each (ih, iw):
 *   dx[((n0+j)*C + c)*H*W + ih*W + iw] =
 *     sum_{kh, kw reading it} col[((c*KH + kh)*KW + kw)*(NB*P) + j*P + oh*OW + ow],
 * summed in increasing kh, kw order. The work-item owns its dx row: it
 * clears it, then adds each tap's patch row along ow (no division per
 * element; contiguous when SW == 1). */
__kernel void grad_col2im(__global const float *col, __global float *dx, const int C, const int H,
                          const int W, const int KH, const int KW, const int SH, const int SW,
                          const int DH, const int DW, const int PT, const int PL, const int OH,
                          const int OW, const int n0, const int NB) {
  const int ih = (int)get_global_id(0);
  const int jc = (int)get_global_id(1);
  if (ih >= H || jc >= NB * C) return;
  const int j = jc / C, c = jc % C;
  const int P = OH * OW, ld = NB * P;
  __global const float *cc = col + c * KH * KW * ld + j * P;
  __global float *d = dx + ((n0 + j) * C + c) * H * W + ih * W;
  for (int iw = 0; iw < W; ++iw) d[iw] = 0.0f;
  for (int kh = 0; kh < KH; ++kh) {
    const int oh = grad_out_of(ih, kh, SH, DH, PT, OH);
    if (oh < 0) continue;
    for (int kw = 0; kw < KW; ++kw) {
      /* Outputs ow whose input column ow*SW + off lies inside [0, W). */
      const int off = kw * DW - PL;
      int ow_lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
      int ow_hi = W - off <= 0 ? 0 : (W - off + SW - 1) / SW;
      ow_lo = min(ow_lo, OW);
      ow_hi = clamp(ow_hi, ow_lo, OW);
      __global const float *src = cc + (kh * KW + kw) * ld + oh * OW;
      if (SW == 1) {
        for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow + off] += src[ow];
      } else {
        for (int ow = ow_lo; ow < ow_hi; ++ow) d[ow * SW + off] += src[ow];
      }
    }
  }
}

/* Direct dx for few output channels per group: global id 0 walks the input
 * rows ih, id 1 is n*C + ci. Sums dy * w over the MG channels m of the
 * group, in increasing m, kh, kw order. */
__kernel void grad_direct_dx(__global const float *dy, __global const float *w, __global float *dx,
                             const int C, const int H, const int W, const int M, const int KH,
                             const int KW, const int SH, const int SW, const int DH, const int DW,
                             const int PT, const int PL, const int OH, const int OW, const int CG,
                             const int MG, const int NC) {
  const int ih = (int)get_global_id(0);
  const int nc = (int)get_global_id(1);
  if (ih >= H || nc >= NC) return;
  const int n = nc / C, ci = nc % C;
  const int g = ci / CG, c = ci % CG;
  const int P = OH * OW;
  __global float *d = dx + nc * H * W + ih * W;
  for (int iw = 0; iw < W; ++iw) {
    float s = 0.0f;
    for (int mm = 0; mm < MG; ++mm) {
      const int m = g * MG + mm;
      __global const float *dym = dy + (n * M + m) * P;
      __global const float *wm = w + (m * CG + c) * KH * KW;
      for (int kh = 0; kh < KH; ++kh) {
        const int oh = grad_out_of(ih, kh, SH, DH, PT, OH);
        if (oh < 0) continue;
        for (int kw = 0; kw < KW; ++kw) {
          const int ow = grad_out_of(iw, kw, SW, DW, PL, OW);
          if (ow >= 0) s = fma(dym[oh * OW + ow], wm[kh * KW + kw], s);
        }
      }
    }
    d[iw] = s;
  }
}

/* Direct dw: global id 0 is the weight element (m*CG + c)*KH*KW + kh*KW + kw;
 * sums dy[n, m, oh, ow] * x[n, g*CG + c, ih, iw] over n, oh, ow whose input
 * lies inside x. */
__kernel void grad_direct_dw(__global const float *dy, __global const float *x, __global float *dw,
                             const int N, const int C, const int H, const int W, const int M,
                             const int KH, const int KW, const int SH, const int SW, const int DH,
                             const int DW, const int PT, const int PL, const int OH, const int OW,
                             const int CG, const int MG) {
  const int e = (int)get_global_id(0);
  if (e >= M * CG * KH * KW) return;
  const int kw = e % KW, kh = (e / KW) % KH, c = (e / (KW * KH)) % CG, m = e / (KW * KH * CG);
  const int ci = (m / MG) * CG + c;
  const int P = OH * OW;
  const int offh = kh * DH - PT, offw = kw * DW - PL;
  /* Outputs whose input lies inside: [oh_lo, oh_hi) x [ow_lo, ow_hi). */
  int oh_lo = offh >= 0 ? 0 : (-offh + SH - 1) / SH;
  int oh_hi = H - offh <= 0 ? 0 : (H - offh + SH - 1) / SH;
  int ow_lo = offw >= 0 ? 0 : (-offw + SW - 1) / SW;
  int ow_hi = W - offw <= 0 ? 0 : (W - offw + SW - 1) / SW;
  oh_lo = min(oh_lo, OH);
  oh_hi = clamp(oh_hi, oh_lo, OH);
  ow_lo = min(ow_lo, OW);
  ow_hi = clamp(ow_hi, ow_lo, OW);
  float s = 0.0f;
  for (int n = 0; n < N; ++n) {
    __global const float *dym = dy + (n * M + m) * P;
    __global const float *xc = x + (n * C + ci) * H * W;
    for (int oh = oh_lo; oh < oh_hi; ++oh) {
      __global const float *g = dym + oh * OW;
      __global const float *xr = xc + (oh * SH + offh) * W + offw;
      for (int ow = ow_lo; ow < ow_hi; ++ow) s = fma(g[ow], xr[ow * SW], s);
    }
  }
  dw[e] = s;
}
