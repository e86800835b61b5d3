/* Elementwise fp32 kernels for pare: activations, binary arithmetic with
 * numpy broadcasting, and the per-channel affine of a folded
 * BatchNormalization, each with an optional fused activation.
 *
 *   elt_unary          y[i] = act(x[i])
 *   elt_binary_same    y[i] = act(a[i] op b[i])                (equal shapes)
 *   elt_binary_block   y[i] = act(full[i] op part[(i / inner) % C])
 *                      (or part op full when `swap`): one input is complete,
 *                      the other varies over one block of axes only
 *                      (scalar, per-channel bias, SE scale, last-axis row)
 *   elt_binary_general y = act(a op b) over an output of rank <= 8 with
 *                      per-input element strides (0 along broadcast axes)
 *   elt_affine         y[i] = act(fma(x[i], scale[c], shift[c])),
 *                      c = (i / inner) % C
 *
 * The activation (ELT_ACT, the values of pare_ref_act) and the binary op
 * (ELT_OP, the values of pare_ref_binop, 7 = PRelu) are compile-time
 * choices; alpha and beta are kernel arguments. The formulas are written
 * exactly as in engine/ref/elementwise.c, including the NaN behaviour of
 * comparisons and fmin/fmax (relu(NaN) = 0, clip(NaN) = alpha), and
 * FP_CONTRACT is off so that a*x + b is not fused where the reference does
 * not fuse it.
 *
 * Work decomposition: every work-item owns `chunk` consecutive output
 * elements (a multiple of ELT_VW) and walks them with ELT_VW-wide vector
 * loads and stores, then a scalar tail; the work-items past the end return.
 * Within a chunk the broadcast kernels walk "segments" along which the
 * broadcast input is either constant or contiguous, so the vector loop has
 * no index arithmetic. Inputs and outputs may alias exactly (in place);
 * y must not overlap a broadcast input otherwise. Indices are int: the host
 * refuses tensors beyond 2^31 - 2^20 elements. */

#pragma OPENCL FP_CONTRACT OFF

#ifndef ELT_ACT
#define ELT_ACT 0
#endif
#ifndef ELT_OP
#define ELT_OP 0
#endif
/* Vector width (1, 2, 4, 8 or 16). */
#ifndef ELT_VW
#define ELT_VW 8
#endif

#define ELT_CAT_(a, b) a##b
#define ELT_CAT(a, b)  ELT_CAT_(a, b)
#define ELT_INLINE     inline __attribute__((always_inline))

#if ELT_VW == 1
#define ELT_VEC          float
#define ELT_VLOAD(p)     (*(p))
#define ELT_VSTORE(v, p) (*(p) = (v))
#else
#define ELT_VEC          ELT_CAT(float, ELT_VW)
#define ELT_VLOAD(p)     ELT_CAT(vload, ELT_VW)(0, (p))
#define ELT_VSTORE(v, p) ELT_CAT(vstore, ELT_VW)((v), 0, (p))
#endif

/* act(x) for x of type T (float or a float vector). The ternaries are
 * component-wise selections for vectors. */
#if ELT_ACT == 0 /* none */
#define ELT_ACT_EXPR(T, x) (x)
#elif ELT_ACT == 1 /* relu: x > 0 ? x : 0 (NaN -> 0) */
#define ELT_ACT_EXPR(T, x) ((x) > (T)(0.0f) ? (x) : (T)(0.0f))
#elif ELT_ACT == 2 /* relu6 */
#define ELT_ACT_EXPR(T, x) fmin(fmax((x), (T)(0.0f)), (T)(6.0f))
#elif ELT_ACT == 3 /* leaky relu */
#define ELT_ACT_EXPR(T, x) ((x) >= (T)(0.0f) ? (x) : (T)(alpha) * (x))
#elif ELT_ACT == 4 /* sigmoid */
#define ELT_ACT_EXPR(T, x) ((T)(1.0f) / ((T)(1.0f) + exp(-(x))))
#elif ELT_ACT == 5 /* tanh */
#define ELT_ACT_EXPR(T, x) tanh(x)
#elif ELT_ACT == 6 /* hard sigmoid */
#define ELT_ACT_EXPR(T, x) fmax((T)(0.0f), fmin((T)(1.0f), (T)(alpha) * (x) + (T)(beta)))
#elif ELT_ACT == 7 /* hard swish */
#define ELT_ACT_EXPR(T, x) ((x)*fmax((T)(0.0f), fmin((T)(1.0f), (x) / (T)(6.0f) + (T)(0.5f))))
#elif ELT_ACT == 8 /* elu */
#define ELT_ACT_EXPR(T, x) ((x) >= (T)(0.0f) ? (x) : (T)(alpha) * (exp(x) - (T)(1.0f)))
#elif ELT_ACT == 9 /* selu: beta is gamma */
#define ELT_ACT_EXPR(T, x) ((T)(beta) * ((x) > (T)(0.0f) ? (x) : (T)(alpha) * (exp(x) - (T)(1.0f))))
#elif ELT_ACT == 10 /* clip to [alpha, beta] */
#define ELT_ACT_EXPR(T, x) fmin(fmax((x), (T)(alpha)), (T)(beta))
#elif ELT_ACT == 11 /* exp */
#define ELT_ACT_EXPR(T, x) exp(x)
#elif ELT_ACT == 12 /* sqrt */
#define ELT_ACT_EXPR(T, x) sqrt(x)
#elif ELT_ACT == 13 /* neg */
#define ELT_ACT_EXPR(T, x) (-(x))
#elif ELT_ACT == 14 /* reciprocal */
#define ELT_ACT_EXPR(T, x) ((T)(1.0f) / (x))
#elif ELT_ACT == 15 /* shrink: alpha is lambd, beta the bias */
#define ELT_ACT_EXPR(T, x)                                                                         \
  ((x) < (T)(-alpha) ? (x) + (T)(beta) : ((x) > (T)(alpha) ? (x) - (T)(beta) : (T)(0.0f)))
#else
#error "unknown ELT_ACT"
#endif

/* a op b. */
#if ELT_OP == 0
#define ELT_OP_EXPR(T, a, b) ((a) + (b))
#elif ELT_OP == 1
#define ELT_OP_EXPR(T, a, b) ((a) - (b))
#elif ELT_OP == 2
#define ELT_OP_EXPR(T, a, b) ((a) * (b))
#elif ELT_OP == 3
#define ELT_OP_EXPR(T, a, b) ((a) / (b))
#elif ELT_OP == 4
#define ELT_OP_EXPR(T, a, b) pow((a), (b))
#elif ELT_OP == 5
#define ELT_OP_EXPR(T, a, b) fmax((a), (b))
#elif ELT_OP == 6
#define ELT_OP_EXPR(T, a, b) fmin((a), (b))
#elif ELT_OP == 7 /* PRelu: a < 0 ? a * slope : a, as pare_ref_prelu_f32 */
#define ELT_OP_EXPR(T, a, b) ((a) < (T)(0.0f) ? (a) * (b) : (a))
#else
#error "unknown ELT_OP"
#endif

ELT_INLINE float elt_act_s(float x, float alpha, float beta) { return ELT_ACT_EXPR(float, x); }
ELT_INLINE ELT_VEC elt_act_v(ELT_VEC x, float alpha, float beta) {
  return ELT_ACT_EXPR(ELT_VEC, x);
}
ELT_INLINE float elt_op_s(float a, float b) { return ELT_OP_EXPR(float, a, b); }
ELT_INLINE ELT_VEC elt_op_v(ELT_VEC a, ELT_VEC b) { return ELT_OP_EXPR(ELT_VEC, a, b); }

/* The chunk [*start, *end) of this work-item; 0 when it has none. */
ELT_INLINE int elt_chunk(const int n, const int chunk, int *start, int *end) {
  const int s = (int)get_global_id(0) * chunk;
  if (s >= n) return 0;
  *start = s;
  *end = min(n, s + chunk);
  return 1;
}

/* Launch (all kernels): global = ceil(n / chunk) rounded up to the local
 * size, any local size; chunk a multiple of ELT_VW. */
__kernel void elt_unary(const int n, const int chunk, __global const float *x, __global float *y,
                        const float alpha, const float beta) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + ELT_VW <= end; i += ELT_VW)
    ELT_VSTORE(elt_act_v(ELT_VLOAD(x + i), alpha, beta), y + i);
  for (; i < end; ++i) y[i] = elt_act_s(x[i], alpha, beta);
}

__kernel void elt_binary_same(const int n, const int chunk, __global const float *a,
                              __global const float *b, __global float *y, const float alpha,
                              const float beta) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + ELT_VW <= end; i += ELT_VW) {
    const ELT_VEC r = elt_op_v(ELT_VLOAD(a + i), ELT_VLOAD(b + i));
    ELT_VSTORE(elt_act_v(r, alpha, beta), y + i);
  }
  for (; i < end; ++i) y[i] = elt_act_s(elt_op_s(a[i], b[i]), alpha, beta);
}

/* One segment of elt_binary_block: y[j] = full[j] op p (or p op full[j])
 * for j < len, with p = part[j] (contiguous) or part[0] (constant). */
ELT_INLINE void elt_block_segment(const int len, const int contiguous, const int swap,
                                  __global const float *full, __global const float *part,
                                  __global float *y, const float alpha, const float beta) {
  int j = 0;
  if (contiguous) {
    for (; j + ELT_VW <= len; j += ELT_VW) {
      const ELT_VEC f = ELT_VLOAD(full + j), p = ELT_VLOAD(part + j);
      const ELT_VEC r = swap ? elt_op_v(p, f) : elt_op_v(f, p);
      ELT_VSTORE(elt_act_v(r, alpha, beta), y + j);
    }
    for (; j < len; ++j) {
      const float r = swap ? elt_op_s(part[j], full[j]) : elt_op_s(full[j], part[j]);
      y[j] = elt_act_s(r, alpha, beta);
    }
  } else {
    const float ps = part[0];
    const ELT_VEC p = (ELT_VEC)(ps);
    if (swap) {
      for (; j + ELT_VW <= len; j += ELT_VW)
        ELT_VSTORE(elt_act_v(elt_op_v(p, ELT_VLOAD(full + j)), alpha, beta), y + j);
      for (; j < len; ++j) y[j] = elt_act_s(elt_op_s(ps, full[j]), alpha, beta);
    } else {
      for (; j + ELT_VW <= len; j += ELT_VW)
        ELT_VSTORE(elt_act_v(elt_op_v(ELT_VLOAD(full + j), p), alpha, beta), y + j);
      for (; j < len; ++j) y[j] = elt_act_s(elt_op_s(full[j], ps), alpha, beta);
    }
  }
}

/* full has n elements viewed as [n / (C*inner), C, inner]; part has C. */
__kernel void elt_binary_block(const int n, const int chunk, const int C, const int inner,
                               const int swap, __global const float *full,
                               __global const float *part, __global float *y, const float alpha,
                               const float beta) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  const int q = start / inner;
  int c = q % C, r = start - q * inner, i = start;
  while (i < end) {
    if (inner == 1) {
      /* part runs along with the output until it wraps at C. */
      const int len = min(end - i, C - c);
      elt_block_segment(len, 1, swap, full + i, part + c, y + i, alpha, beta);
      i += len;
      c = 0;
    } else {
      /* part[c] is constant until the end of this inner block. */
      const int len = min(end - i, inner - r);
      elt_block_segment(len, 0, swap, full + i, part + c, y + i, alpha, beta);
      i += len;
      r = 0;
      c = c + 1 == C ? 0 : c + 1;
    }
  }
}

/* Output of `rank` dims (1..8, dims8 in the first lanes), row-major; input
 * element strides sa8/sb8 (0 along broadcast axes). The host guarantees
 * that the innermost strides are 0 or 1. */
__kernel void elt_binary_general(const int n, const int chunk, const int rank, const int8 dims8,
                                 const int8 sa8, const int8 sb8, __global const float *a,
                                 __global const float *b, __global float *y, const float alpha,
                                 const float beta) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  int d[8], sa[8], sb[8], idx[8];
  vstore8(dims8, 0, d);
  vstore8(sa8, 0, sa);
  vstore8(sb8, 0, sb);
  int rem = start, oa = 0, ob = 0;
  for (int k = rank - 1; k >= 0; --k) {
    idx[k] = rem % d[k];
    rem /= d[k];
    oa += idx[k] * sa[k];
    ob += idx[k] * sb[k];
  }
  const int L = rank - 1, dl = d[L], sal = sa[L], sbl = sb[L];
  int i = start;
  while (i < end) {
    const int len = min(end - i, dl - idx[L]);
    __global const float *pa = a + oa, *pb = b + ob;
    __global float *py = y + i;
    int j = 0;
    for (; j + ELT_VW <= len; j += ELT_VW) {
      const ELT_VEC av = sal ? ELT_VLOAD(pa + j) : (ELT_VEC)(pa[0]);
      const ELT_VEC bv = sbl ? ELT_VLOAD(pb + j) : (ELT_VEC)(pb[0]);
      ELT_VSTORE(elt_act_v(elt_op_v(av, bv), alpha, beta), py + j);
    }
    for (; j < len; ++j) py[j] = elt_act_s(elt_op_s(pa[j * sal], pb[j * sbl]), alpha, beta);
    i += len;
    /* Step the index past the segment; carry into the outer axes. */
    idx[L] += len;
    oa += len * sal;
    ob += len * sbl;
    if (idx[L] == dl) {
      idx[L] = 0;
      oa -= dl * sal;
      ob -= dl * sbl;
      for (int k = L - 1; k >= 0; --k) {
        idx[k]++;
        oa += sa[k];
        ob += sb[k];
        if (idx[k] < d[k]) break;
        idx[k] = 0;
        oa -= d[k] * sa[k];
        ob -= d[k] * sb[k];
      }
    }
  }
}

/* One segment of elt_affine (see elt_block_segment). */
ELT_INLINE void elt_affine_segment(const int len, const int contiguous, __global const float *x,
                                   __global const float *scale, __global const float *shift,
                                   __global float *y, const float alpha, const float beta) {
  int j = 0;
  if (contiguous) {
    for (; j + ELT_VW <= len; j += ELT_VW) {
      const ELT_VEC r = fma(ELT_VLOAD(x + j), ELT_VLOAD(scale + j), ELT_VLOAD(shift + j));
      ELT_VSTORE(elt_act_v(r, alpha, beta), y + j);
    }
    for (; j < len; ++j) y[j] = elt_act_s(fma(x[j], scale[j], shift[j]), alpha, beta);
  } else {
    const float ss = scale[0], ts = shift[0];
    const ELT_VEC s = (ELT_VEC)(ss), t = (ELT_VEC)(ts);
    for (; j + ELT_VW <= len; j += ELT_VW)
      ELT_VSTORE(elt_act_v(fma(ELT_VLOAD(x + j), s, t), alpha, beta), y + j);
    for (; j < len; ++j) y[j] = elt_act_s(fma(x[j], ss, ts), alpha, beta);
  }
}

/* x has n elements viewed as [n / (C*inner), C, inner]. */
__kernel void elt_affine(const int n, const int chunk, const int C, const int inner,
                         __global const float *x, __global const float *scale,
                         __global const float *shift, __global float *y, const float alpha,
                         const float beta) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  const int q = start / inner;
  int c = q % C, r = start - q * inner, i = start;
  while (i < end) {
    if (inner == 1) {
      const int len = min(end - i, C - c);
      elt_affine_segment(len, 1, x + i, scale + c, shift + c, y + i, alpha, beta);
      i += len;
      c = 0;
    } else {
      const int len = min(end - i, inner - r);
      elt_affine_segment(len, 0, x + i, scale + c, shift + c, y + i, alpha, beta);
      i += len;
      r = 0;
      c = c + 1 == C ? 0 : c + 1;
    }
  }
}

/* y[b][c][r] = x[b][r][c]: n = batch·rows·cols elements of a batch of
 * [rows × cols] matrices, transposed; each work-item writes a contiguous
 * chunk of y (reads stride through x). */
__kernel void elt_transpose2d(const int n, const int chunk, const int rows, const int cols,
                              __global const float *x, __global float *y) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  const int plane = rows * cols;
  int b = start / plane, rest = start - b * plane;
  int c = rest / rows, r = rest - c * rows;
  for (int o = start; o < end; ++o) {
    y[o] = x[b * plane + r * cols + c];
    if (++r == rows) {
      r = 0;
      if (++c == cols) {
        c = 0;
        ++b;
      }
    }
  }
}

/* y[r·ld + off + c] = x[r·cols + c] for the n = rows·cols elements of x:
 * its rows copied into a slab of the wider rows of y (an input of a
 * Concat into the output). Each work-item copies a contiguous chunk of x. */
__kernel void elt_copy_rows(const int n, const int chunk, const int cols, const int ld,
                            const int off, __global const float *x, __global float *y) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  int r = start / cols, c = start - r * cols;
  for (int i = start; i < end; c = 0, ++r) { /* the chunk's part of each row */
    const int seg = min(end - i, cols - c);
    __global const float *src = x + i;
    __global float *dst = y + r * ld + off + c;
    for (int j = 0; j < seg; ++j) dst[j] = src[j];
    i += seg;
  }
}

/* A QuantizeLinear → DequantizeLinear pair in one pass (PARE_FAKE_QUANT,
 * common.h). */
__kernel void elt_fake_quant(const int n, const int chunk, __global const float *x,
                             __global float *y, const float scale, const float lo, const float hi) {
  int start, end;
  if (!elt_chunk(n, chunk, &start, &end)) return;
  for (int i = start; i < end; ++i) y[i] = PARE_FAKE_QUANT(float, x[i], scale, lo, hi);
}
