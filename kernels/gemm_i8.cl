/* Integer kernels for quantized inference (scheme: engine/ref/quant.h).
 *
 *   gemm_i8       C = requant(A·Bᵀ − z·wsum + bias), A m×k int8, B n×k int8
 *                 (one row per output channel), int32 accumulation; int8
 *                 output (I8_OUT_F32 0) or dequantized fp32 (1); the
 *                 channel of an output is its column (I8_CHAN_ROWS 0, GEMM:
 *                 A holds activations) or its row (1, convolution: A holds
 *                 the weights, B the im2col patches, C is NCHW).
 *   i8_row_sums   wsum[c] = Σ_k W[c][k], the pre-summed zero-point term.
 *   im2col_i8     patch rows of one image and group (pixels × taps), with
 *                 the input zero point in padded taps.
 *   conv_i8_direct  direct convolution, one output row per work-item (for
 *                 depthwise and other few-channels-per-group convolutions).
 *   gemm_wq_f32   weight-only GEMM, fp32 A times int8 (WQ_BITS 8) or int4
 *                 (4) weights dequantized in registers, per-channel scale.
 *   quantize_i8, dequantize_i8  per-tensor conversions.
 *
 * gemm_i8 work decomposition: a work-item owns I8_TM rows × I8_TN columns
 * of C and walks the whole k range. A rows and B rows are both contiguous
 * along k, so each output is a dot product: per step of I8_KW values it
 * loads one vector from each of its I8_TM A rows and I8_TN B rows and
 * multiply-accumulates every (row, column) pair into a vector of int32
 * partial sums, reduced once at the end. Edge tiles are shifted back to end
 * at M (N) and store only what they own (as in gemm_f32.cl); the k tail
 * below one vector is summed in scalars. The inner product (I8_PATH):
 *   0  portable: intN products of sign-extended chars, LLVM vectorizes it;
 *   1  x86: pmaddwd on sign-extended 16-bit lanes (32 products and 16
 *      pairwise sums per AVX-512BW instruction, 16 with AVX2), taken only
 *      when the compiler itself targets those features, else path 0;
 *   2  an int8 dot-product built-in: I8_DOT 1 cl_khr_integer_dot_product,
 *      2 cl_arm_integer_dot_product_int8, 0 the same code with a plain C
 *      dot4 (so that the path is tested where no extension exists);
 *   4  x86 AVX-512 VNNI (vpdpbusd, inline assembly), unsigned activations.
 * All paths give the same exact int32 sums. */

#pragma OPENCL FP_CONTRACT OFF

#ifndef I8_TM
#define I8_TM 4
#endif
#ifndef I8_TN
#define I8_TN 4
#endif
#ifndef I8_PATH
#define I8_PATH 0
#endif
#ifndef I8_DOT
#define I8_DOT 0
#endif
#ifndef I8_KW
#define I8_KW 16
#endif
/* Column tiles per work-item, one after the other. */
#ifndef I8_NREP
#define I8_NREP 1
#endif
#ifndef I8_OUT_F32
#define I8_OUT_F32 0
#endif
#ifndef I8_CHAN_ROWS
#define I8_CHAN_ROWS 0
#endif

#define I8_INLINE     inline __attribute__((always_inline))
#define I8_CAT_(a, b) a##b
#define I8_CAT(a, b)  I8_CAT_(a, b)

/* Horizontal sums of int32 vectors, one per accumulator width. */
I8_INLINE int i8_hsum4(int4 x) {
  int2 w = x.lo + x.hi;
  return w.x + w.y;
}
I8_INLINE int i8_hsum8(int8 x) { return i8_hsum4(x.lo + x.hi); }
I8_INLINE int i8_hsum16(int16 x) { return i8_hsum8(x.lo + x.hi); }

/* The VNNI path needs zmm registers (the compiler targeting AVX-512BW),
 * else it is the pmaddwd path; that one needs AVX-512BW or AVX2. */
#if I8_PATH == 4 && !defined(__AVX512BW__)
#undef I8_PATH
#define I8_PATH 1
#endif
#if I8_PATH == 1 && !defined(__AVX512BW__) && !defined(__AVX2__)
#undef I8_PATH
#define I8_PATH 0
#endif

/* What is added to each activation to make it an operand of the inner
 * product (path 4: unsigned bytes), taken off again with the zero point
 * term: Σ (a + U)·w = Σ a·w + U·wsum. */
#define I8_UOFF 0

#if I8_PATH == 4
/* x86 AVX-512 VNNI, written as inline assembly because the device compiler
 * may target a CPU model without it (PoCL 3.1 / LLVM 15 names Zen 4
 * skylake-avx512) while the CPU has it; the launcher takes this path only
 * when the host CPU reports avx512_vnni. vpdpbusd multiplies 64 unsigned
 * bytes by 64 signed bytes and adds each group of four products to one of
 * 16 int32 lanes: 64 products per instruction, twice pmaddwd's. The
 * activations become unsigned by flipping their sign bit (a + 128). */
#undef I8_KW
#define I8_KW 64
#undef I8_UOFF
#define I8_UOFF 128
typedef char i8_c64v __attribute__((ext_vector_type(64)));
typedef char i8_c64u __attribute__((ext_vector_type(64), aligned(1)));
typedef i8_c64v i8_op;
typedef int16 i8_acc;
I8_INLINE i8_op i8_load(__global const char *p) { return *(__global const i8_c64u *)p; }
I8_INLINE i8_op i8_load_act(__global const char *p) {
  return *(__global const i8_c64u *)p ^ (i8_c64v)((char)-128);
}
I8_INLINE i8_acc i8_dpbusd(i8_acc acc, i8_op u, i8_op w) {
  __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(w));
  return acc;
}
#if I8_CHAN_ROWS
#define I8_LOAD_A(p)      i8_load(p)
#define I8_LOAD_B(p)      i8_load_act(p)
#define I8_MAC(acc, a, b) ((acc) = i8_dpbusd((acc), (b), (a)))
#else
#define I8_LOAD_A(p)      i8_load_act(p)
#define I8_LOAD_B(p)      i8_load(p)
#define I8_MAC(acc, a, b) ((acc) = i8_dpbusd((acc), (a), (b)))
#endif
#define i8_hsum i8_hsum16
#elif I8_PATH == 1 && defined(__AVX512BW__)
/* 32 k values per step: one sign-extending load to 32 shorts, pmaddwd. */
#undef I8_KW
#define I8_KW 32
typedef short i8_s32v __attribute__((ext_vector_type(32)));
typedef char i8_c32v __attribute__((ext_vector_type(32), aligned(1)));
typedef i8_s32v i8_op;
typedef int16 i8_acc;
I8_INLINE i8_op i8_load(__global const char *p) {
  return __builtin_convertvector(*(__global const i8_c32v *)p, i8_s32v);
}
#define I8_MAC(acc, a, b) ((acc) += __builtin_ia32_pmaddwd512((a), (b)))
#define i8_hsum i8_hsum16
#elif I8_PATH == 1
#undef I8_KW
#define I8_KW             16
typedef short i8_s16v __attribute__((ext_vector_type(16)));
typedef char i8_c16v __attribute__((ext_vector_type(16), aligned(1)));
typedef i8_s16v i8_op;
typedef int8 i8_acc;
I8_INLINE i8_op i8_load(__global const char *p) {
  return __builtin_convertvector(*(__global const i8_c16v *)p, i8_s16v);
}
#define I8_MAC(acc, a, b) ((acc) += __builtin_ia32_pmaddwd256((a), (b)))
#define i8_hsum i8_hsum8
#elif I8_PATH == 2
/* Dot-product built-ins on char4, four per step of 16. */
#undef I8_KW
#define I8_KW 16
#if I8_DOT == 1
#pragma OPENCL EXTENSION cl_khr_integer_dot_product : enable
#define I8_DOT4(a, b) dot((a), (b))
#elif I8_DOT == 2
#pragma OPENCL EXTENSION cl_arm_integer_dot_product_int8 : enable
#define I8_DOT4(a, b) arm_dot((a), (b))
#else
I8_INLINE int i8_dot4(char4 a, char4 b) {
  int4 p = convert_int4(a) * convert_int4(b);
  return p.x + p.y + p.z + p.w;
}
#define I8_DOT4(a, b) i8_dot4((a), (b))
#endif
typedef char16 i8_op;
typedef int i8_acc;
#define i8_load(p) vload16(0, (p))
#define I8_MAC(acc, a, b)                                                                          \
  ((acc) += I8_DOT4((a).s0123, (b).s0123) + I8_DOT4((a).s4567, (b).s4567) +                        \
            I8_DOT4((a).s89ab, (b).s89ab) + I8_DOT4((a).scdef, (b).scdef))
#define i8_hsum(x) (x)
#else
/* Portable: int vectors of I8_KW (4, 8 or 16) lanes. */
typedef I8_CAT(int, I8_KW) i8_op;
typedef I8_CAT(int, I8_KW) i8_acc;
#define i8_load(p)        I8_CAT(convert_int, I8_KW)(I8_CAT(vload, I8_KW)(0, (p)))
#define I8_MAC(acc, a, b) ((acc) += (a) * (b))
#define i8_hsum I8_CAT(i8_hsum, I8_KW)
#endif

#ifndef I8_LOAD_A
#define I8_LOAD_A(p) i8_load(p)
#define I8_LOAD_B(p) i8_load(p)
#endif

/* clamp(round(acc·mult / 2^(31 + shift)) + zo, qmin, qmax), one rounding to
 * nearest with ties away from zero, exact in 64 bits (quant.h). */
I8_INLINE int i8_requant(int acc, int mult, int shift, int zo, int qmin, int qmax) {
  const long p = (long)acc * (long)mult;
  const int s = 31 + shift;
  const long rnd = s > 0 ? ((long)1 << (s - 1)) : 0;
  const long mag = p < 0 ? -p : p;
  long r = (mag + rnd) >> s;
  r = (p < 0 ? -r : r) + zo;
  return (int)clamp(r, (long)qmin, (long)qmax);
}

#if I8_OUT_F32
#define I8_OUT_T float
#else
#define I8_OUT_T char
#endif

/* Launch: global = (ceil(M/I8_TM), ceil(ceil(N/I8_TN)/I8_NREP), batch),
 * each rounded up to the local size. Output (m, n) uses channel chan0 + (I8_CHAN_ROWS ? m : n) of the
 * per-channel buffers. wsum is read only when zp != 0, bias only when has_bias; mult and
 * shift only for int8 output, scale only for fp32 output, which is clamped to
 * [act_lo, act_hi] (a fused ReLU or Clip; ±INFINITY for none). */
__kernel void gemm_i8(const int M, const int N, const int K, __global const char *Abuf,
                      const int offA, const int lda, __global const char *Bbuf, const int offB,
                      const int ldb, __global const int *bias, const int has_bias,
                      __global const int *wsum, const int zp, const int chan0,
                      __global const int *mult, __global const int *shift,
                      __global const float *scale, __global I8_OUT_T *Cbuf, const int offC,
                      const int ldc, const int zo, const int qmin, const int qmax,
                      const float act_lo, const float act_hi, const int batch,
                      const int strideB, const int strideC) {
  const int tm = (int)get_global_id(0);
  const int tiles_n = (N + I8_TN - 1) / I8_TN;
  /* Global dimension 2 walks a batch of products sharing A (a convolution's
   * weights): B and C move by their strides. */
  const int bz = (int)get_global_id(2);
  if (tm >= (M + I8_TM - 1) / I8_TM || (int)get_global_id(1) * I8_NREP >= tiles_n || bz >= batch)
    return;
  __global const char *A = Abuf + offA;
  __global const char *B = Bbuf + offB + bz * strideB;
  __global I8_OUT_T *C = Cbuf + offC + bz * strideC;

  const int m_own = tm * I8_TM;
  const int m0 = (m_own + I8_TM > M && M >= I8_TM) ? M - I8_TM : m_own;
  __global const char *ap[I8_TM];
#pragma unroll
  for (int i = 0; i < I8_TM; ++i) ap[i] = A + min(m0 + i, M - 1) * lda;

  /* I8_NREP column tiles in turn: the A rows stay in L1 between them, and
   * each work-item carries enough work to hide the per-group cost. */
  for (int rep = 0; rep < I8_NREP; ++rep) {
    const int tn = (int)get_global_id(1) * I8_NREP + rep;
    if (tn >= tiles_n) break;
    const int n_own = tn * I8_TN;
    const int n0 = (n_own + I8_TN > N && N >= I8_TN) ? N - I8_TN : n_own;
    __global const char *bp[I8_TN];
#pragma unroll
    for (int j = 0; j < I8_TN; ++j) bp[j] = B + min(n0 + j, N - 1) * ldb;

    i8_acc acc[I8_TM][I8_TN];
#pragma unroll
    for (int i = 0; i < I8_TM; ++i) {
#pragma unroll
      for (int j = 0; j < I8_TN; ++j) acc[i][j] = (i8_acc)(0);
    }
    int k = 0;
    for (; k + I8_KW <= K; k += I8_KW) {
      i8_op a[I8_TM];
#pragma unroll
      for (int i = 0; i < I8_TM; ++i) a[i] = I8_LOAD_A(ap[i] + k);
#pragma unroll
      for (int j = 0; j < I8_TN; ++j) {
        const i8_op b = I8_LOAD_B(bp[j] + k);
#pragma unroll
        for (int i = 0; i < I8_TM; ++i) I8_MAC(acc[i][j], a[i], b);
      }
    }

#pragma unroll
    for (int i = 0; i < I8_TM; ++i) {
      const int m = m0 + i;
      if (m < m_own || m >= M) continue;
#pragma unroll
      for (int j = 0; j < I8_TN; ++j) {
        const int n = n0 + j;
        if (n < n_own || n >= N) continue;
        int s = i8_hsum(acc[i][j]);
        /* The tail in scalars, the activations offset as in the vectors. */
        for (int kr = k; kr < K; ++kr)
          s += ((int)ap[i][kr] + (I8_CHAN_ROWS ? 0 : I8_UOFF)) *
               ((int)bp[j][kr] + (I8_CHAN_ROWS ? I8_UOFF : 0));
        const int c = chan0 + (I8_CHAN_ROWS ? m : n);
        if (has_bias) s += bias[c];
        if (zp + I8_UOFF != 0) s -= (zp + I8_UOFF) * wsum[c];
#if I8_OUT_F32
        C[m * ldc + n] = fmin(fmax(convert_float(s) * scale[c], act_lo), act_hi);
#else
        C[m * ldc + n] = (char)i8_requant(s, mult[c], shift[c], zo, qmin, qmax);
#endif
      }
    }
  }
}

/* wsum[c] = Σ_k W[c·ldw + k]; global = channels (rounded up). */
__kernel void i8_row_sums(const int channels, const int K, __global const char *Wbuf,
                          const int offW, const int ldw, __global int *sums) {
  const int c = (int)get_global_id(0);
  if (c >= channels) return;
  __global const char *w = Wbuf + offW + c * ldw;
  int16 v = (int16)(0);
  int k = 0;
  for (; k + 16 <= K; k += 16) v += convert_int16(vload16(0, w + k));
  int8 y = v.lo + v.hi;
  int4 z = y.lo + y.hi;
  int s = z.x + z.y + z.z + z.w;
  for (; k < K; ++k) s += w[k];
  sums[c] = s;
}

/* Patch rows of one group of images: image b's col[b·strideCol + p·ldcol +
 * (ci·KH + u)·KW + v] = x[b·strideX + c0 + ci][oh·SH + u·DH − PT][ow·SW +
 * v·DW − PL], or xz outside the input. global = (P = OH·OW, cg, images),
 * the first two rounded up. */
__kernel void im2col_i8(const int H, const int W, const int OW, const int P, const int cg,
                        const int KH, const int KW, const int SH, const int SW, const int DH,
                        const int DW, const int PT, const int PL, __global const char *xbuf,
                        const int offX, const char xz, __global char *col, const int ldcol,
                        const int strideX, const int strideCol) {
  const int p = (int)get_global_id(0), ci = (int)get_global_id(1), b = (int)get_global_id(2);
  if (p >= P || ci >= cg) return;
  const int oh = p / OW, ow = p - oh * OW;
  __global const char *x = xbuf + offX + b * strideX + ci * H * W;
  __global char *out = col + b * strideCol + p * ldcol + ci * KH * KW;
  for (int u = 0; u < KH; ++u) {
    const int r = oh * SH + u * DH - PT;
    const int rin = r >= 0 && r < H;
    for (int v = 0; v < KW; ++v) {
      const int q = ow * SW + v * DW - PL;
      out[u * KW + v] = (rin && q >= 0 && q < W) ? x[r * W + q] : xz;
    }
  }
}

/* Direct convolution: one output row (image b, channel o, row i) per
 * work-item, global = (OH, N·OC) rounded up. Taps outside the input add
 * nothing (they would hold the zero point). Output as gemm_i8's: int8
 * requantized (mult, shift, zo, qmin, qmax) or, with I8_OUT_F32, fp32
 * dequantized by scale[o] and clamped to [act_lo, act_hi]. */
__kernel void conv_i8_direct(const int N, const int C, const int H, const int W, const int OC,
                             const int OH, const int OW, const int groups, const int KH,
                             const int KW, const int SH, const int SW, const int DH, const int DW,
                             const int PT, const int PL, __global const char *x, const int xz,
                             __global const char *w, const int ldw, __global const int *bias,
                             const int has_bias,
                             __global const int *mult, __global const int *shift,
                             __global I8_OUT_T *y, const int zo, const int qmin, const int qmax,
                             __global const float *scale, const float act_lo,
                             const float act_hi) {
  const int i = (int)get_global_id(0), bo = (int)get_global_id(1);
  if (i >= OH || bo >= N * OC) return;
  const int b = bo / OC, o = bo - b * OC;
  const int cg = C / groups, mg = OC / groups, g = o / mg;
  __global const char *wo = w + o * ldw;
  __global I8_OUT_T *yrow = y + (bo * OH + i) * OW;
#if I8_OUT_F32
  const float sc = scale[o];
#else
  const int mo = mult[o], so = shift[o];
#endif
  const int b0 = has_bias ? bias[o] : 0;
  for (int j = 0; j < OW; ++j) {
    int acc = b0;
    for (int ci = 0; ci < cg; ++ci) {
      __global const char *xc = x + (b * C + g * cg + ci) * H * W;
      __global const char *wc = wo + ci * KH * KW;
      for (int u = 0; u < KH; ++u) {
        const int r = i * SH + u * DH - PT;
        if (r < 0 || r >= H) continue;
        for (int v = 0; v < KW; ++v) {
          const int q = j * SW + v * DW - PL;
          if (q < 0 || q >= W) continue;
          acc += ((int)xc[r * W + q] - xz) * (int)wc[u * KW + v];
        }
      }
    }
#if I8_OUT_F32
    yrow[j] = fmin(fmax(convert_float(acc) * sc, act_lo), act_hi);
#else
    yrow[j] = (char)i8_requant(acc, mo, so, zo, qmin, qmax);
#endif
  }
}

/* Weight-only GEMM: C[m][n] = scale[n]·Σ_k A[m][k]·W[n][k] (+ bias[n]),
 * fp32 out. Same tile and edge rules as gemm_i8 (I8_TM × I8_TN per
 * work-item); sixteen fp32 partial sums per output along k. WQ_BITS 8: W
 * rows of int8; 4: rows of packed nibbles, low nibble first (32 k values
 * per step, the A vector split into its even and odd k). */
#ifndef WQ_BITS
#define WQ_BITS 8
#endif
#if WQ_BITS == 4
#define WQ_STEP 32
#define WQ_T    uchar
#else
#define WQ_STEP 16
#define WQ_T    char
#endif

I8_INLINE float wq_at(__global const WQ_T *row, int k) {
#if WQ_BITS == 4
  const int byte = row[k >> 1];
  const int nib = (k & 1) ? (byte >> 4) & 15 : byte & 15;
  return (float)(nib >= 8 ? nib - 16 : nib);
#else
  return (float)row[k];
#endif
}

I8_INLINE float wq_hsum(float16 x) {
  float8 y = x.lo + x.hi;
  float4 z = y.lo + y.hi;
  float2 w = z.lo + z.hi;
  return w.x + w.y;
}

__kernel void gemm_wq_f32(const int M, const int N, const int K, __global const float *Abuf,
                          const int offA, const int lda, __global const WQ_T *Wbuf, const int offW,
                          const int ldw, __global const float *scale, __global const float *bias,
                          const int has_bias, __global float *Cbuf, const int offC, const int ldc) {
  const int tm = (int)get_global_id(0);
  const int tn = (int)get_global_id(1);
  if (tm >= (M + I8_TM - 1) / I8_TM || tn >= (N + I8_TN - 1) / I8_TN) return;
  __global const float *A = Abuf + offA;
  __global const WQ_T *Wm = Wbuf + offW;
  __global float *C = Cbuf + offC;
  const int m_own = tm * I8_TM, n_own = tn * I8_TN;
  const int m0 = (m_own + I8_TM > M && M >= I8_TM) ? M - I8_TM : m_own;
  const int n0 = (n_own + I8_TN > N && N >= I8_TN) ? N - I8_TN : n_own;
  __global const float *ap[I8_TM];
  __global const WQ_T *wp[I8_TN];
#pragma unroll
  for (int i = 0; i < I8_TM; ++i) ap[i] = A + min(m0 + i, M - 1) * lda;
#pragma unroll
  for (int j = 0; j < I8_TN; ++j) wp[j] = Wm + min(n0 + j, N - 1) * ldw;
  float16 acc[I8_TM][I8_TN];
#pragma unroll
  for (int i = 0; i < I8_TM; ++i) {
#pragma unroll
    for (int j = 0; j < I8_TN; ++j) acc[i][j] = (float16)(0.0f);
  }
  int k = 0;
  for (; k + WQ_STEP <= K; k += WQ_STEP) {
#if WQ_BITS == 4
    float16 ae[I8_TM], ao[I8_TM];
#pragma unroll
    for (int i = 0; i < I8_TM; ++i) {
      const float16 a0 = vload16(0, ap[i] + k), a1 = vload16(1, ap[i] + k);
      ae[i] = (float16)(a0.even, a1.even);
      ao[i] = (float16)(a0.odd, a1.odd);
    }
#pragma unroll
    for (int j = 0; j < I8_TN; ++j) {
      const uint16 v = convert_uint16(vload16(0, wp[j] + (k >> 1)));
      /* Nibbles sign-extended with 32-bit shifts (x86 has no byte shifts). */
      const float16 lo = convert_float16(as_int16(v << 28) >> 28);
      const float16 hi = convert_float16(as_int16(v << 24) >> 28);
#pragma unroll
      for (int i = 0; i < I8_TM; ++i) acc[i][j] = fma(ae[i], lo, fma(ao[i], hi, acc[i][j]));
    }
#else
    float16 a[I8_TM];
#pragma unroll
    for (int i = 0; i < I8_TM; ++i) a[i] = vload16(0, ap[i] + k);
#pragma unroll
    for (int j = 0; j < I8_TN; ++j) {
      const float16 wv = convert_float16(vload16(0, wp[j] + k));
#pragma unroll
      for (int i = 0; i < I8_TM; ++i) acc[i][j] = fma(a[i], wv, acc[i][j]);
    }
#endif
  }
#pragma unroll
  for (int i = 0; i < I8_TM; ++i) {
    const int m = m0 + i;
    if (m < m_own || m >= M) continue;
#pragma unroll
    for (int j = 0; j < I8_TN; ++j) {
      const int n = n0 + j;
      if (n < n_own || n >= N) continue;
      float s = wq_hsum(acc[i][j]);
      for (int kr = k; kr < K; ++kr) s = fma(ap[i][kr], wq_at(wp[j], kr), s);
      float r = s * scale[n];
      if (has_bias) r += bias[n];
      C[m * ldc + n] = r;
    }
  }
}

/* q = clamp(rint(x·inv) + zp, −128, 127) over [start, start + chunk) per
 * work-item; NaN becomes −128 (fmax picks the number). */
__kernel void quantize_i8(const int n, const int chunk, __global const float *xbuf, const int offX,
                          const float inv, const int zp, __global char *qbuf, const int offQ) {
  const int s = (int)get_global_id(0) * chunk;
  if (s >= n) return;
  const int e = min(n, s + chunk);
  __global const float *x = xbuf + offX;
  __global char *q = qbuf + offQ;
  for (int i = s; i < e; ++i) {
    const float prod = x[i] * inv;
    const float r = fmin(fmax(rint(prod), -512.0f), 512.0f);
    q[i] = (char)clamp((int)r + zp, -128, 127);
  }
}

/* x = (float)(q − zp)·scale per element. */
__kernel void dequantize_i8(const int n, const int chunk, __global const char *qbuf, const int offQ,
                            const float scale, const int zp, __global float *xbuf, const int offX) {
  const int s = (int)get_global_id(0) * chunk;
  if (s >= n) return;
  const int e = min(n, s + chunk);
  __global const char *q = qbuf + offQ;
  __global float *x = xbuf + offX;
  for (int i = s; i < e; ++i) {
    const float d = (float)((int)q[i] - zp);
    x[i] = d * scale;
  }
}
