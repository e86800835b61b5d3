/* Training kernels of pare (fp32): the backward passes the forward kernels
 * need, the classification / distillation losses and the optimizer steps,
 * each matching its reference in engine/ref (grad_ops.c, grad_pool.c,
 * loss.c, optim.c) within the tolerances of tests/kernels/test_train_f32.c.
 *
 *   tr_act_backward        dx = dy·act'(x), act = TR_ACT (pare_ref_act values)
 *   tr_maxpool_backward    gather form: every work-item owns whole rows of dx
 *                          and sums into them the dy of the windows whose
 *                          first maximum lies there (no atomics);
 *   tr_maxpool_backward_bands  the same when windows do not overlap
 *                          vertically: items own the row band of an output
 *                          row and scan each window once
 *   tr_avgpool_backward    the same rows sum dy/divisor of the windows that
 *                          contain each element
 *   tr_global_avg_backward dx[p, i] = dy[p] / spatial
 *   tr_loss_rows           softmax cross-entropy and / or the distillation
 *                          KL term per row: loss per row and the gradient
 *   tr_row_mean            out[0] = scale·Σ rows (compensated sum); small
 *                          problems get it fused into tr_loss_rows instead
 *   tr_sgd_step            SGD with momentum, weight decay, Nesterov, mask
 *   tr_adam_step           Adam / AdamW with host-computed bias corrections
 *   tr_accumulate          y += x
 *   tr_fake_quant_rows     symmetric weight fake quantization per row
 *   tr_bn_partial_stats / tr_bn_finish_stats / tr_bn_apply /
 *   tr_bn_partial_grad / tr_bn_finish_grad / tr_bn_backward_dx
 *                          BatchNormalization with batch statistics: forward
 *                          (running statistics updated) and backward
 *
 * The activation and the vector width are compile-time choices (-DTR_ACT,
 * -DTR_VW); everything else is a kernel argument. Optional buffers (mask,
 * labels, teacher, gradient) may be NULL when their flag says unused.
 * Elementwise kernels: every work-item owns `chunk` consecutive elements (a
 * multiple of TR_VW) and walks them with vector loads, then a scalar tail.
 * FP_CONTRACT is off so no multiply-add is fused behind the tests' back. */

#pragma OPENCL FP_CONTRACT OFF

#ifndef TR_ACT
#define TR_ACT 1
#endif
#ifndef TR_VW
#define TR_VW 8
#endif

#define TR_CAT_(a, b) a##b
#define TR_CAT(a, b)  TR_CAT_(a, b)
#define TR_INLINE     inline __attribute__((always_inline))

#if TR_VW == 1
#define TR_VEC          float
#define TR_IVEC         int
#define TR_VLOAD(p)     (*(p))
#define TR_VSTORE(v, p) (*(p) = (v))
#define TR_MLOAD(p)     convert_int(*(p))
#else
#define TR_VEC          TR_CAT(float, TR_VW)
#define TR_IVEC         TR_CAT(int, TR_VW)
#define TR_VLOAD(p)     TR_CAT(vload, TR_VW)(0, (p))
#define TR_VSTORE(v, p) TR_CAT(vstore, TR_VW)((v), 0, (p))
#define TR_MLOAD(p)     TR_CAT(convert_int, TR_VW)(TR_CAT(vload, TR_VW)(0, (p)))
#endif

/* The chunk [*start, *end) of this work-item; 0 when it has none. */
TR_INLINE int tr_chunk(const int n, const int chunk, int *start, int *end) {
  const int s = (int)get_global_id(0) * chunk;
  if (s >= n) return 0;
  *start = s;
  *end = min(n, s + chunk);
  return 1;
}

/* ---- activation backward ---- */

/* act'(x) for x of type T (float or vector); the kinks follow
 * pare_ref_act_backward_f32. sigmoid' = e/(1+e)² with e = exp(-|x|) and
 * tanh' = 1/cosh² avoid the cancellation of s(1-s) and 1-th². */
#if TR_ACT == 1 /* relu: 0 at 0 */
#define TR_DACT(T, x) ((x) > (T)(0.0f) ? (T)(1.0f) : (T)(0.0f))
#elif TR_ACT == 3 /* leaky relu: 1 at 0 */
#define TR_DACT(T, x) ((x) >= (T)(0.0f) ? (T)(1.0f) : (T)(alpha))
#elif TR_ACT == 4 /* sigmoid */
#define TR_DACT(T, x) (exp(-fabs(x)) / (((T)(1.0f) + exp(-fabs(x))) * ((T)(1.0f) + exp(-fabs(x)))))
#elif TR_ACT == 5 /* tanh */
#define TR_DACT(T, x) ((T)(1.0f) / (cosh(x) * cosh(x)))
#elif TR_ACT == 7 /* hard swish: x/3 + 1/2 = (x + 1.5)/3 on [-3, 3] (no cancellation) */
#define TR_DACT(T, x)                                                                              \
  ((x) < (T)(-3.0f) ? (T)(0.0f) : ((x) > (T)(3.0f) ? (T)(1.0f) : ((x) + (T)(1.5f)) / (T)(3.0f)))
#elif TR_ACT == 8 /* elu: 1 at 0 */
#define TR_DACT(T, x) ((x) >= (T)(0.0f) ? (T)(1.0f) : (T)(alpha)*exp(x))
#elif TR_ACT == 10 /* clip: 1 on [alpha, beta], ends included */
#define TR_DACT(T, x) ((x) >= (T)(alpha) && (x) <= (T)(beta) ? (T)(1.0f) : (T)(0.0f))
#else
#error "unsupported TR_ACT"
#endif

#if TR_VW == 1
#define TR_VT float
#else
#define TR_VT TR_VEC
#endif

/* Launch: global = ceil(n / chunk) rounded up to the local size. */
__kernel void tr_act_backward(const int n, const int chunk, __global const float *x,
                              __global const float *dy, __global float *dx, const float alpha,
                              const float beta) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + TR_VW <= end; i += TR_VW) {
    const TR_VT xv = TR_VLOAD(x + i);
    TR_VSTORE(TR_VLOAD(dy + i) * TR_DACT(TR_VT, xv), dx + i);
  }
  for (; i < end; ++i) {
    const float xv = x[i];
    dx[i] = dy[i] * TR_DACT(float, xv);
  }
}

/* ---- pooling backward (2-D; 1-D is lifted with H = 1) ---- */

/* The geometry packed as int16: s0 H, s1 W, s2 OH, s3 OW, s4 KH, s5 KW,
 * s6 SH, s7 SW, s8 DH, s9 DW, sa PT (pad top), sb PL, sc PB, sd PR,
 * se count_include_pad. Work: `rows` = planes·H input rows, `rpi` rows per
 * work-item; every row is walked left to right. */

/* The first maximum of window (oh, ow) of plane xp, in row-major scan order
 * over its positions inside the input with a strict `>` from -inf (NaN
 * never wins), as the reference picks it: its offset i·W + j, or -1. */
TR_INLINE int tr_first_max(__global const float *xp, const int16 g, const int oh, const int ow) {
  const int h0 = oh * g.s6 - g.sa, w0 = ow * g.s7 - g.sb;
  float best = -INFINITY;
  int at = -1;
  for (int a = 0; a < g.s4; ++a) {
    const int i = h0 + a * g.s8;
    if (i < 0 || i >= g.s0) continue;
    for (int b = 0; b < g.s5; ++b) {
      const int j = w0 + b * g.s9;
      if (j < 0 || j >= g.s1) continue;
      const float v = xp[i * g.s1 + j];
      if (v > best) {
        best = v;
        at = i * g.s1 + j;
      }
    }
  }
  return at;
}

/* Number of taps of a window along one axis: inside [0, in) (real) or
 * inside [-pb, in + pe) (padded). */
TR_INLINE int tr_taps(const int o, const int k, const int s, const int d, const int pb,
                      const int pe, const int in, const int padded) {
  int c = 0;
  for (int t = 0; t < k; ++t) {
    const int i = o * s + t * d - pb;
    c += padded ? (i >= -pb && i < in + pe) : (i >= 0 && i < in);
  }
  return c;
}

/* One kernel for both: is_max selects the rule (uniform branch). Every
 * work-item owns whole input rows of dx and gathers into them the windows
 * that cover the row, in the reference's order (oh, then ow ascending), so
 * no two items write the same element and no atomics are needed. */
TR_INLINE void tr_pool_backward(const int is_max, const int rows, const int rpi, const int16 g,
                                __global const float *x, __global const float *dy,
                                __global float *dx) {
  const int r0 = (int)get_global_id(0) * rpi;
  if (r0 >= rows) return;
  const int r1 = min(rows, r0 + rpi);
  const int H = g.s0, W = g.s1, OH = g.s2, OW = g.s3;
  for (int r = r0; r < r1; ++r) {
    const int pl = r / H, h = r - pl * H;
    __global const float *xp = is_max ? x + pl * H * W : x;
    __global const float *dyp = dy + pl * OH * OW;
    __global float *dxr = dx + r * W;
    for (int w = 0; w < W; ++w) dxr[w] = 0.0f;
    /* The windows covering row h at tap kh: oh ascending as kh descends. */
    for (int kh = g.s4 - 1; kh >= 0; --kh) {
      const int th = h + g.sa - kh * g.s8;
      if (th < 0 || th % g.s6) continue;
      const int oh = th / g.s6;
      if (oh >= OH) continue;
      __global const float *dyr = dyp + oh * OW;
      if (is_max) {
        const int lo = h * W, hi = lo + W;
        for (int ow = 0; ow < OW; ++ow) {
          const int at = tr_first_max(xp, g, oh, ow);
          if (at >= lo && at < hi) dxr[at - lo] += dyr[ow];
        }
      } else {
        const int dh = tr_taps(oh, g.s4, g.s6, g.s8, g.sa, g.sc, H, g.se);
        for (int ow = 0; ow < OW; ++ow) {
          const int div = dh * tr_taps(ow, g.s5, g.s7, g.s9, g.sb, g.sd, W, g.se);
          if (div <= 0) continue; /* no input position: dy is dropped */
          const float share = dyr[ow] / (float)div;
          const int w0 = ow * g.s7 - g.sb;
          for (int kw = 0; kw < g.s5; ++kw) {
            const int j = w0 + kw * g.s9;
            if (j >= 0 && j < W) dxr[j] += share;
          }
        }
      }
    }
  }
}

__kernel void tr_maxpool_backward(const int rows, const int rpi, const int16 g,
                                  __global const float *x, __global const float *dy,
                                  __global float *dx) {
  tr_pool_backward(1, rows, rpi, g, x, dy, dx);
}

__kernel void tr_avgpool_backward(const int rows, const int rpi, const int16 g,
                                  __global const float *dy, __global float *dx) {
  tr_pool_backward(0, rows, rpi, g, dy, dy, dx);
}

/* MaxPool backward when windows do not overlap vertically ((KH-1)·DH < SH):
 * work-item b owns the band of input rows of output row oh = b % OH (from
 * oh·SH - PT up to the next band; the first and last bands reach the
 * edges), which holds every window of that output row and no other; it
 * zeroes the band, then adds each window's dy at its first maximum in the
 * reference's order. `bands` = planes·OH, `bpi` bands per work-item. */
__kernel void tr_maxpool_backward_bands(const int bands, const int bpi, const int16 g,
                                        __global const float *x, __global const float *dy,
                                        __global float *dx) {
  const int b0 = (int)get_global_id(0) * bpi;
  if (b0 >= bands) return;
  const int b1 = min(bands, b0 + bpi);
  const int H = g.s0, W = g.s1, OH = g.s2, OW = g.s3;
  for (int b = b0; b < b1; ++b) {
    const int pl = b / OH, oh = b - pl * OH;
    const int lo = oh == 0 ? 0 : clamp(oh * g.s6 - g.sa, 0, H);
    const int hi = oh == OH - 1 ? H : clamp((oh + 1) * g.s6 - g.sa, 0, H);
    __global const float *xp = x + pl * H * W;
    __global const float *dyr = dy + b * OW;
    __global float *dxp = dx + pl * H * W;
    for (int i = lo * W; i < hi * W; ++i) dxp[i] = 0.0f;
    for (int ow = 0; ow < OW; ++ow) {
      const int at = tr_first_max(xp, g, oh, ow);
      if (at >= 0) dxp[at] += dyr[ow];
    }
  }
}

/* dx has n = planes·spatial elements; chunked like the elementwise kernels. */
__kernel void tr_global_avg_backward(const int n, const int chunk, const int spatial,
                                     __global const float *dy, __global float *dx) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  const float fs = (float)spatial;
  int i = start, pl = start / spatial;
  while (i < end) {
    const int seg_end = min(end, (pl + 1) * spatial);
    const float v = dy[pl] / fs;
    const TR_VT vv = (TR_VT)(v);
    for (; i + TR_VW <= seg_end; i += TR_VW) TR_VSTORE(vv, dx + i);
    for (; i < seg_end; ++i) dx[i] = v;
    ++pl;
  }
}

/* ---- losses ---- */

/* scale·Σ rows[0..n), Kahan-compensated. */
TR_INLINE float tr_mean_of(const int n, __global const float *rows, const float scale) {
  float sum = 0.0f, c = 0.0f;
  for (int i = 0; i < n; ++i) {
    const float y = rows[i] - c;
    const float t = sum + y;
    c = (t - sum) - y;
    sum = t;
  }
  return sum * scale;
}

/* Row r of [n, k] logits per work-item (rows_per_item rows each):
 *   loss_rows[r] = w_ce·(lse(s) - s[label]) + w_kd·T²·KL(softmax(t/T) ‖ softmax(s/T))
 *   grad[r, j]   = (w_ce·(softmax(s)_j - [j == label]) + w_kd·T·(q_j - p_j))·inv_n
 * labels are read only when w_ce != 0, teacher only when w_kd != 0, grad may
 * be NULL (has_grad 0). A label outside [0, k) gives a NaN loss row. With
 * has_mean (only when one work-item owns all rows), that item also writes
 * mean_out[0] = inv_n·Σ loss_rows, as tr_row_mean. */
__kernel void tr_loss_rows(const int n, const int k, const int rpi, __global const float *student,
                           __global const float *teacher, __global const long *labels,
                           __global float *loss_rows, __global float *grad, const int has_grad,
                           const float w_ce, const float w_kd, const float temperature,
                           const float inv_n, __global float *mean_out, const int has_mean) {
  const int r0 = (int)get_global_id(0) * rpi;
  if (r0 >= n) return;
  const int r1 = min(n, r0 + rpi);
  const float inv_t = 1.0f / temperature;
  for (int r = r0; r < r1; ++r) {
    __global const float *s = student + (size_t)r * (size_t)k;
    __global const float *t = teacher + (size_t)r * (size_t)k;
    float loss = 0.0f;
    /* Cross-entropy at temperature 1. */
    float mx1 = -INFINITY, sum1 = 0.0f;
    long label = -1;
    if (w_ce != 0.0f) {
      label = labels[r];
      for (int j = 0; j < k; ++j) mx1 = fmax(mx1, s[j]);
      for (int j = 0; j < k; ++j) sum1 += exp(s[j] - mx1);
      const float lse = log(sum1);
      const float sl = label >= 0 && label < k ? s[label] : NAN;
      loss += w_ce * ((mx1 - sl) + lse);
    }
    /* KL at temperature T. */
    float mxs = -INFINITY, mxt = -INFINITY, sums = 0.0f, sumt = 0.0f;
    if (w_kd != 0.0f) {
      for (int j = 0; j < k; ++j) {
        mxs = fmax(mxs, s[j] * inv_t);
        mxt = fmax(mxt, t[j] * inv_t);
      }
      for (int j = 0; j < k; ++j) {
        sums += exp(s[j] * inv_t - mxs);
        sumt += exp(t[j] * inv_t - mxt);
      }
      const float lses = log(sums), lset = log(sumt);
      float kl = 0.0f;
      for (int j = 0; j < k; ++j) {
        const float logp = (t[j] * inv_t - mxt) - lset;
        const float logq = (s[j] * inv_t - mxs) - lses;
        const float p = exp(logp);
        if (p > 0.0f) kl += p * (logp - logq);
      }
      loss += w_kd * temperature * temperature * kl;
    }
    loss_rows[r] = loss;
    if (!has_grad) continue;
    __global float *gr = grad + (size_t)r * (size_t)k;
    const float r1s = 1.0f / sum1, rs = 1.0f / sums, rt = 1.0f / sumt;
    const float kd_scale = w_kd * temperature;
    for (int j = 0; j < k; ++j) {
      float v = 0.0f;
      if (w_ce != 0.0f) v += w_ce * (exp(s[j] - mx1) * r1s - (j == label ? 1.0f : 0.0f));
      if (w_kd != 0.0f) {
        const float q = exp(s[j] * inv_t - mxs) * rs;
        const float p = exp(t[j] * inv_t - mxt) * rt;
        v += kd_scale * (q - p);
      }
      gr[j] = v * inv_n;
    }
  }
  if (has_mean) mean_out[0] = tr_mean_of(n, loss_rows, inv_n);
}

/* out[0] = scale·Σ rows[0..n); one work-item. */
__kernel void tr_row_mean(const int n, __global const float *rows, __global float *out,
                          const float scale) {
  if (get_global_id(0) == 0) out[0] = tr_mean_of(n, rows, scale);
}

/* ---- optimizer steps, in place ---- */

/* Keeps v where the mask is nonzero, else 0 (mask: int or int vector). */
#define TR_KEEP(T, m, v) ((m) != 0 ? (v) : (T)(0.0f))

/* One SGD element (T float or vector): d = g + wd·w; v = mu·v + d;
 * w -= lr·(nesterov ? d + mu·v : v), or w -= lr·d without momentum. */
#define TR_SGD(T, wv, gv, vv)                                                                      \
  do {                                                                                             \
    const T d = (gv) + (T)(wd) * (wv);                                                             \
    T step = d;                                                                                    \
    if (use_momentum) {                                                                            \
      vv = (T)(mu) * (vv) + d;                                                                     \
      step = nesterov ? d + (T)(mu) * (vv) : (vv);                                                 \
    }                                                                                              \
    wv = (wv) - (T)(lr)*step;                                                                      \
  } while (0)

/* velocity is only touched with use_momentum, mask only with has_mask. */
__kernel void tr_sgd_step(const int n, const int chunk, __global float *w, __global const float *g,
                          __global float *velocity, __global const uchar *mask, const int has_mask,
                          const float lr, const float mu, const float wd, const int use_momentum,
                          const int nesterov) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + TR_VW <= end; i += TR_VW) {
    TR_VT wv = TR_VLOAD(w + i), vv = use_momentum ? TR_VLOAD(velocity + i) : (TR_VT)(0.0f);
    TR_SGD(TR_VT, wv, TR_VLOAD(g + i), vv);
    if (has_mask) {
      const TR_IVEC m = TR_MLOAD(mask + i);
      wv = TR_KEEP(TR_VT, m, wv);
      vv = TR_KEEP(TR_VT, m, vv);
    }
    TR_VSTORE(wv, w + i);
    if (use_momentum) TR_VSTORE(vv, velocity + i);
  }
  for (; i < end; ++i) {
    float wv = w[i], vv = use_momentum ? velocity[i] : 0.0f;
    TR_SGD(float, wv, g[i], vv);
    if (has_mask && mask[i] == 0) wv = vv = 0.0f;
    w[i] = wv;
    if (use_momentum) velocity[i] = vv;
  }
}

/* One Adam element: AdamW scales w by `decay` (= 1 - lr·wd) first, Adam adds
 * wd·w to g; m = b1·m + (1-b1)·g, v = b2·v + (1-b2)·g²,
 * w -= step_size·m / (sqrt(v)·inv_bc2 + eps), step_size = lr / (1 - b1^t)
 * and inv_bc2 = 1 / sqrt(1 - b2^t) from the host. */
#define TR_ADAM(T, wv, gv0, mv, vv)                                                                \
  do {                                                                                             \
    T gv = (gv0);                                                                                  \
    if (decoupled)                                                                                 \
      wv = (wv) * (T)(decay);                                                                      \
    else if (wd != 0.0f)                                                                           \
      gv = gv + (T)(wd) * (wv);                                                                    \
    mv = (T)(b1) * (mv) + (T)(c1)*gv;                                                              \
    vv = (T)(b2) * (vv) + (T)(c2) * (gv * gv);                                                     \
    wv = (wv) - (T)(step_size) * (mv) / (sqrt(vv) * (T)(inv_bc2) + (T)(eps));                      \
  } while (0)

__kernel void tr_adam_step(const int n, const int chunk, __global float *w, __global const float *g,
                           __global float *m, __global float *v, __global const uchar *mask,
                           const int has_mask, const float b1, const float c1, const float b2,
                           const float c2, const float eps, const float wd, const int decoupled,
                           const float decay, const float step_size, const float inv_bc2) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + TR_VW <= end; i += TR_VW) {
    TR_VT wv = TR_VLOAD(w + i), mv = TR_VLOAD(m + i), vv = TR_VLOAD(v + i);
    TR_ADAM(TR_VT, wv, TR_VLOAD(g + i), mv, vv);
    if (has_mask) {
      const TR_IVEC mk = TR_MLOAD(mask + i);
      wv = TR_KEEP(TR_VT, mk, wv);
      mv = TR_KEEP(TR_VT, mk, mv);
      vv = TR_KEEP(TR_VT, mk, vv);
    }
    TR_VSTORE(wv, w + i);
    TR_VSTORE(mv, m + i);
    TR_VSTORE(vv, v + i);
  }
  for (; i < end; ++i) {
    float wv = w[i], mv = m[i], vv = v[i];
    TR_ADAM(float, wv, g[i], mv, vv);
    if (has_mask && mask[i] == 0) wv = mv = vv = 0.0f;
    w[i] = wv;
    m[i] = mv;
    v[i] = vv;
  }
}

/* ---- gradient accumulation ---- */

__kernel void tr_accumulate(const int n, const int chunk, __global const float *x,
                            __global float *y) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int i = start;
  for (; i + TR_VW <= end; i += TR_VW) TR_VSTORE(TR_VLOAD(y + i) + TR_VLOAD(x + i), y + i);
  for (; i < end; ++i) y[i] = y[i] + x[i];
}

/* Symmetric fake quantization of `rows` rows of `cols` values, as
 * pare_ref_fake_quant_rows_f32: scale = max|x|/qmax per row (1 for an
 * all-zero row), y = clamp(rint(x/scale), -qmax, qmax)·scale. One work-item
 * per row (weights are small; this runs once per training step). */
__kernel void tr_fake_quant_rows(const int rows, const int cols, const float qmax,
                                 __global const float *x, __global float *y) {
  const int r = (int)get_global_id(0);
  if (r >= rows) return;
  __global const float *xr = x + (size_t)r * (size_t)cols;
  __global float *yr = y + (size_t)r * (size_t)cols;
  float m = 0.0f;
  for (int j = 0; j < cols; ++j) m = fmax(m, fabs(xr[j]));
  const float scale = m > 0.0f ? m / qmax : 1.0f;
  for (int j = 0; j < cols; ++j) yr[j] = clamp(rint(xr[j] / scale), -qmax, qmax) * scale;
}

/* ---- BatchNormalization with batch statistics ----
 * x is [n, C, inner]; the statistics of channel c run over its count =
 * n·inner values, indexed j = b·inner + i. Reductions are split: work-item
 * (c, p) covers part p (about a thousand values, summed in fp32) of channel
 * c's index range, then one item per channel combines the `parts` partial
 * results (the variance by Chan et al.'s pairwise update). */

/* Walks values [lo, hi) of channel c as runs inside one plane; the body
 * (the variadic arguments) sees `at`, the offset of each value. */
#define TR_BN_WALK(C, inner, c, lo, hi, ...)                                                       \
  {                                                                                                \
    int j_ = (lo), b_ = (lo) / (inner), i_ = (lo)-b_ * (inner);                                    \
    while (j_ < (hi)) {                                                                            \
      const int run_ = min((inner)-i_, (hi)-j_);                                                   \
      const size_t base_ = ((size_t)b_ * (size_t)(C) + (size_t)(c)) * (size_t)(inner) + i_;        \
      for (int q_ = 0; q_ < run_; ++q_) {                                                          \
        const size_t at = base_ + (size_t)q_;                                                      \
        __VA_ARGS__                                                                                \
      }                                                                                            \
      j_ += run_;                                                                                  \
      ++b_;                                                                                        \
      i_ = 0;                                                                                      \
    }                                                                                              \
  }

/* Part p of [0, count) split in `parts`. */
TR_INLINE void tr_bn_range(const int count, const int parts, const int p, int *lo, int *hi) {
  *lo = (int)((long)count * p / parts);
  *hi = (int)((long)count * (p + 1) / parts);
}

/* Item (c, p): the count, mean and centred sum of squares of its part
 * (two passes, no division per value) into partial[(c·parts + p)·3 +
 * {0, 1, 2}]. */
__kernel void tr_bn_partial_stats(const int count, const int C, const int inner, const int parts,
                                  __global const float *x, __global float *partial) {
  const int id = (int)get_global_id(0);
  if (id >= C * parts) return;
  const int c = id / parts, p = id - c * parts;
  int lo, hi;
  tr_bn_range(count, parts, p, &lo, &hi);
  float sum = 0.0f;
  TR_BN_WALK(C, inner, c, lo, hi, { sum += x[at]; })
  const float mean = hi > lo ? sum / (float)(hi - lo) : 0.0f;
  float m2 = 0.0f;
  TR_BN_WALK(C, inner, c, lo, hi, {
    const float d = x[at] - mean;
    m2 += d * d;
  })
  partial[id * 3] = (float)(hi - lo);
  partial[id * 3 + 1] = mean;
  partial[id * 3 + 2] = m2;
}

/* Item c: the parts combined (Chan et al.), mean and 1/sqrt(var + eps),
 * and with has_running rm = rm·mom + mean·(1 - mom), rv = rv·mom +
 * unbiased·(1 - mom). */
__kernel void tr_bn_finish_stats(const int C, const int parts, const float eps,
                                 const float momentum, __global const float *partial,
                                 __global float *mean, __global float *inv_std,
                                 __global float *rmean, __global float *rvar,
                                 const int has_running) {
  const int c = (int)get_global_id(0);
  if (c >= C) return;
  float na = 0.0f, ma = 0.0f, m2a = 0.0f;
  for (int p = 0; p < parts; ++p) {
    __global const float *q = partial + (c * parts + p) * 3;
    const float nb = q[0];
    if (nb == 0.0f) continue;
    const float nab = na + nb, delta = q[1] - ma;
    ma += delta * (nb / nab);
    m2a += q[2] + delta * delta * (na * nb / nab);
    na = nab;
  }
  const float var = na > 0.0f ? m2a / na : 0.0f;
  mean[c] = ma;
  inv_std[c] = 1.0f / sqrt(var + eps);
  if (has_running) {
    const float unbiased = na > 1.0f ? m2a / (na - 1.0f) : var;
    rmean[c] = rmean[c] * momentum + ma * (1.0f - momentum);
    rvar[c] = rvar[c] * momentum + unbiased * (1.0f - momentum);
  }
}

/* y = (x - mean[c])·(scale[c]·inv_std[c]) + bias[c]; chunked like the
 * elementwise kernels, walking whole runs of `inner` values of one plane. */
__kernel void tr_bn_apply(const int n, const int chunk, const int C, const int inner,
                          __global const float *x, __global const float *mean,
                          __global const float *inv_std, __global const float *scale,
                          __global const float *bias, __global float *y) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int plane = start / inner, i = start;
  while (i < end) {
    const int seg_end = min(end, (plane + 1) * inner), c = plane % C;
    const float m = mean[c], mul = scale[c] * inv_std[c], add = bias[c];
    for (; i < seg_end; ++i) y[i] = (x[i] - m) * mul + add;
    ++plane;
  }
}

/* Item (c, p): Σ dy and Σ dy·x̂ over its part into
 * partial[(c·parts + p)·2 + {0, 1}]. */
__kernel void tr_bn_partial_grad(const int count, const int C, const int inner, const int parts,
                                 __global const float *x, __global const float *dy,
                                 __global const float *mean, __global const float *inv_std,
                                 __global float *partial) {
  const int id = (int)get_global_id(0);
  if (id >= C * parts) return;
  const int c = id / parts, p = id - c * parts;
  int lo, hi;
  tr_bn_range(count, parts, p, &lo, &hi);
  const float m = mean[c], is = inv_std[c];
  float s1 = 0.0f, s2 = 0.0f;
  TR_BN_WALK(C, inner, c, lo, hi, {
    const float g = dy[at];
    s1 += g;
    s2 += g * ((x[at] - m) * is);
  })
  partial[id * 2] = s1;
  partial[id * 2 + 1] = s2;
}

/* Item c: dbias and dscale, the sums of its parts. */
__kernel void tr_bn_finish_grad(const int C, const int parts, __global const float *partial,
                                __global float *dscale, __global float *dbias) {
  const int c = (int)get_global_id(0);
  if (c >= C) return;
  float s1 = 0.0f, s2 = 0.0f;
  for (int p = 0; p < parts; ++p) {
    s1 += partial[(c * parts + p) * 2];
    s2 += partial[(c * parts + p) * 2 + 1];
  }
  dbias[c] = s1;
  dscale[c] = s2;
}

/* dx = scale·inv_std·(dy - dbias/count - x̂·dscale/count); chunked, by
 * runs of one plane. */
__kernel void tr_bn_backward_dx(const int n, const int chunk, const int C, const int inner,
                                const float count, __global const float *x,
                                __global const float *dy, __global const float *mean,
                                __global const float *inv_std, __global const float *scale,
                                __global const float *dscale, __global const float *dbias,
                                __global float *dx) {
  int start, end;
  if (!tr_chunk(n, chunk, &start, &end)) return;
  int plane = start / inner, i = start;
  while (i < end) {
    const int seg_end = min(end, (plane + 1) * inner), c = plane % C;
    const float m = mean[c], is = inv_std[c], mul = scale[c] * is;
    const float mdb = dbias[c] / count, mds = dscale[c] / count;
    for (; i < seg_end; ++i) dx[i] = mul * (dy[i] - mdb - (x[i] - m) * is * mds);
    ++plane;
  }
}
