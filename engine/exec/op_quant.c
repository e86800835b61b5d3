/* The quantized ops of ONNX: QuantizeLinear and DequantizeLinear (opset
 * 10 on: per tensor; 13 on: per axis), the boundaries between float and
 * integer values (arithmetic in engine/ref/qdq.c); ConvInteger and
 * MatMulInteger (int32 sums of zero-point-corrected products) and their
 * QLinear forms (requantized to uint8/int8, round half to even); and
 * DynamicQuantizeLinear (uint8 over the input's own range). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/ref/ops.h"

static int is_quant_dtype(pare_dtype dt) {
  return dt == PARE_DT_U8 || dt == PARE_DT_I8 || dt == PARE_DT_I4 || dt == PARE_DT_I32;
}

/* The [outer, len, inner] view of x for a scale of `count` values: len 1
 * per tensor, else x's extent along the node's axis (checked). */
static pare_status scale_view(pare_op_ctx *ctx, const pare_tensor *x, int64_t count, size_t *len,
                              size_t *inner) {
  *len = 1;
  *inner = 1;
  if (count == 1) return PARE_OK;
  int axis;
  pare_status st = pare_op_axis(ctx, pare_node_attr_int(ctx->node, "axis", 1), x->rank, &axis);
  if (st != PARE_OK) return st;
  if (x->dims[axis] != count)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "%lld scales for an axis of %lld", (long long)count,
                        (long long)x->dims[axis]);
  *len = (size_t)count;
  for (int d = axis + 1; d < x->rank; d++) *inner *= (size_t)x->dims[d];
  return PARE_OK;
}

/* Scale (f32) and zero point (optional, any quantized dtype) inputs 1, 2. */
static pare_status params(pare_op_ctx *ctx, int64_t *count, pare_dtype *zp_dtype) {
  const pare_tensor *s = ctx->in[1], *z = ctx->n_in > 2 ? ctx->in[2] : NULL;
  if (!s || s->dtype != PARE_DT_F32 || s->rank > 1)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "the scale must be an f32 scalar or vector");
  *count = pare_tensor_numel(s);
  *zp_dtype = PARE_DT_UNDEFINED;
  if (z) {
    if (!is_quant_dtype(z->dtype) || pare_tensor_numel(z) != *count)
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED,
                          "the zero point must be u8, i8, i4 or i32 and match the scale");
    *zp_dtype = z->dtype;
  }
  return PARE_OK;
}

static int32_t *zero_points(const pare_tensor *z, int64_t count) {
  int32_t *zp = malloc(sizeof(int32_t) * (size_t)(count > 0 ? count : 1));
  for (int64_t i = 0; zp && i < count; i++)
    zp[i] = z ? pare_ref_q_get(z->data, z->dtype, (size_t)i) : 0;
  return zp;
}

static pare_status quantize_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 3);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  int64_t count = 0;
  pare_dtype zdt = PARE_DT_UNDEFINED;
  if (st == PARE_OK) st = params(ctx, &count, &zdt);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  size_t len, inner;
  st = scale_view(ctx, x, count, &len, &inner);
  if (st == PARE_OK)
    pare_op_set_out(ctx, 0, zdt == PARE_DT_UNDEFINED ? PARE_DT_U8 : zdt, x->rank, x->dims);
  return st;
}

static pare_status quantize_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0], *z = ctx->n_in > 2 ? ctx->in[2] : NULL;
  int64_t count = pare_tensor_numel(ctx->in[1]);
  size_t len, inner;
  pare_status st = scale_view(ctx, x, count, &len, &inner);
  if (st != PARE_OK) return st;
  int32_t *zp = zero_points(z, count);
  if (!zp) return pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  pare_tensor *y = ctx->out[0];
  if (y->dtype == PARE_DT_I4) memset(y->data, 0, y->nbytes);
  int rc = pare_ref_quantize_linear(x->data, (size_t)pare_tensor_numel(x), len, inner,
                                    ctx->in[1]->data, zp, y->dtype, y->data);
  free(zp);
  return rc == PARE_REF_OK
             ? PARE_OK
             : pare_op_fail(ctx, PARE_ERR_INVALID_ARG, "every scale must be positive and finite");
}

static pare_status dequantize_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 3);
  int64_t count = 0;
  pare_dtype zdt = PARE_DT_UNDEFINED;
  if (st == PARE_OK) st = params(ctx, &count, &zdt);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  if (!is_quant_dtype(x->dtype) || (zdt != PARE_DT_UNDEFINED && zdt != x->dtype))
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED,
                        "the input must be u8, i8, i4 or i32 (and its zero point alike)");
  size_t len, inner;
  st = scale_view(ctx, x, count, &len, &inner);
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, x->rank, x->dims);
  return st;
}

static pare_status dequantize_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0], *z = ctx->n_in > 2 ? ctx->in[2] : NULL;
  int64_t count = pare_tensor_numel(ctx->in[1]);
  size_t len, inner;
  pare_status st = scale_view(ctx, x, count, &len, &inner);
  if (st != PARE_OK) return st;
  int32_t *zp = zero_points(z, count);
  if (!zp) return pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  pare_ref_dequantize_linear(x->data, x->dtype, (size_t)pare_tensor_numel(x), len, inner,
                             ctx->in[1]->data, zp, ctx->out[0]->data);
  free(zp);
  return PARE_OK;
}

/* ---- integer convolution and matrix product ------------------------------- */

/* Zero point `i` of an optional zero-point input (0 when absent). */
static int32_t zp_at(const pare_tensor *z, size_t i) {
  if (!z || !z->data) return 0;
  size_t n = (size_t)pare_tensor_numel(z);
  return pare_ref_q_get(z->data, z->dtype, n > 1 ? i : 0);
}

static float scale_at(const pare_tensor *s, size_t i) {
  size_t n = (size_t)pare_tensor_numel(s);
  return ((const float *)s->data)[n > 1 ? i : 0];
}

/* t − zero point as floats (exact: |value| < 2^9); the zero point per
 * tensor, or one per index `slice` of a [outer, len, inner] view. */
static float *centered(const pare_tensor *t, const pare_tensor *z, size_t len, size_t inner) {
  size_t n = (size_t)pare_tensor_numel(t);
  float *out = malloc(sizeof(float) * (n ? n : 1));
  size_t zn = z ? (size_t)pare_tensor_numel(z) : 1;
  for (size_t i = 0; out && i < n; i++) {
    size_t c = zn > 1 && len > 1 ? (i / inner) % len : 0;
    out[i] = (float)(pare_ref_q_get(t->data, t->dtype, i) - zp_at(z, c));
  }
  return out;
}

static int is_int8ish(pare_dtype dt) { return dt == PARE_DT_U8 || dt == PARE_DT_I8; }

/* Stores an integer accumulator: int32 as is, or requantized to a uint8 /
 * int8 output as QLinear ops do (round half to even, saturate). */
static void store(pare_tensor *y, size_t i, double acc, double multiplier, int32_t zp) {
  if (y->dtype == PARE_DT_I32) {
    ((int32_t *)y->data)[i] = (int32_t)(acc < INT32_MIN   ? INT32_MIN
                                        : acc > INT32_MAX ? INT32_MAX
                                                          : acc);
    return;
  }
  double q = nearbyint(acc * multiplier) + zp;
  if (isnan(q)) q = zp; /* a zero or NaN scale */
  double lo = y->dtype == PARE_DT_U8 ? 0 : -128, hi = y->dtype == PARE_DT_U8 ? 255 : 127;
  q = q < lo ? lo : q > hi ? hi : q;
  if (y->dtype == PARE_DT_U8)
    ((uint8_t *)y->data)[i] = (uint8_t)q;
  else
    ((int8_t *)y->data)[i] = (int8_t)q;
}

/* Input slots of the integer ops: x, its zero point, w, its zero point,
 * and (QLinear) the scales, the output zero point and the bias. */
typedef struct int_slots {
  int x, xz, w, wz, xs, ws, ys, yz, bias;
} int_slots;

static int_slots slots_of(pare_op op) {
  switch (op) {
  case PARE_OP_CONV_INTEGER:
  case PARE_OP_MATMUL_INTEGER: return (int_slots){0, 2, 1, 3, -1, -1, -1, -1, -1};
  case PARE_OP_QLINEAR_CONV: return (int_slots){0, 2, 3, 5, 1, 4, 6, 7, 8};
  default: /* QLinearMatMul */ return (int_slots){0, 2, 3, 5, 1, 4, 6, 7, -1};
  }
}

static const pare_tensor *slot(pare_op_ctx *ctx, int k) {
  return k >= 0 && k < ctx->n_in ? ctx->in[k] : NULL;
}

static pare_status check_int_inputs(pare_op_ctx *ctx, const int_slots *s) {
  const pare_tensor *x = slot(ctx, s->x), *w = slot(ctx, s->w);
  if (!x || !w || !is_int8ish(x->dtype) || !is_int8ish(w->dtype))
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "the inputs must be uint8 or int8");
  const int scales[3] = {s->xs, s->ws, s->ys};
  for (int k = 0; k < 3; k++) {
    const pare_tensor *t = slot(ctx, scales[k]);
    if (scales[k] >= 0 && (!t || t->dtype != PARE_DT_F32 || t->rank > 1))
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d must be an f32 scale", scales[k]);
  }
  const int zps[3] = {s->xz, s->wz, s->yz};
  for (int k = 0; k < 3; k++) {
    const pare_tensor *t = slot(ctx, zps[k]);
    if (t && (!is_int8ish(t->dtype) || t->rank > 1))
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d must be a uint8/int8 zero point",
                          zps[k]);
  }
  if (s->yz >= 0 && !slot(ctx, s->yz))
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "the output zero point is needed");
  /* How many values each scale and zero point may hold: one, or one per
   * output channel (w's; its first axis for a convolution, its last for a
   * product) or per row of x (a product's zero point). */
  int conv = ctx->node->op == PARE_OP_CONV_INTEGER || ctx->node->op == PARE_OP_QLINEAR_CONV;
  int64_t channels = w->rank < 1 ? 1 : conv ? w->dims[0] : w->dims[w->rank - 1];
  int64_t rows = conv || x->rank < 2 ? 1 : x->dims[x->rank - 2];
  const struct {
    int slot;
    int64_t many;
  } counts[] = {{s->xs, 1},    {s->ys, 1},        {s->yz, 1},
                {s->xz, rows}, {s->ws, channels}, {s->wz, channels}};
  for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++) {
    const pare_tensor *t = slot(ctx, counts[k].slot);
    int64_t n = t ? pare_tensor_numel(t) : 1;
    if (n != 1 && n != counts[k].many)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d holds %lld values: 1 or %lld expected",
                          counts[k].slot, (long long)n, (long long)counts[k].many);
  }
  return PARE_OK;
}

static pare_dtype int_out_dtype(pare_op_ctx *ctx, const int_slots *s) {
  return s->yz >= 0 ? slot(ctx, s->yz)->dtype : PARE_DT_I32;
}

static pare_status iconv_shape(pare_op_ctx *ctx) {
  int_slots s = slots_of(ctx->node->op);
  pare_status st = check_int_inputs(ctx, &s);
  pare_ref_conv_params p;
  if (st == PARE_OK) st = pare_op_conv_window(ctx, slot(ctx, s.x), slot(ctx, s.w), &p);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(ctx,
                        pare_ref_conv_shape(&p, slot(ctx, s.x)->dims, slot(ctx, s.w)->dims, dims),
                        "shapes do not fit");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, int_out_dtype(ctx, &s), slot(ctx, s.x)->rank, dims);
  return st;
}

static pare_status iconv_run(pare_op_ctx *ctx) {
  int_slots s = slots_of(ctx->node->op);
  const pare_tensor *x = slot(ctx, s.x), *w = slot(ctx, s.w), *b = slot(ctx, s.bias);
  pare_ref_conv_params p;
  pare_status st = pare_op_conv_window(ctx, x, w, &p);
  if (st != PARE_OK) return st;
  size_t m = (size_t)w->dims[0], wk = (size_t)(pare_tensor_numel(w) / w->dims[0]);
  float *xf = centered(x, slot(ctx, s.xz), 1, 1), *wf = centered(w, slot(ctx, s.wz), m, wk);
  pare_tensor *y = ctx->out[0];
  size_t n = (size_t)pare_tensor_numel(y), plane = n / ((size_t)y->dims[0] * m);
  double *acc = malloc(sizeof(double) * (n ? n : 1));
  if (!xf || !wf || !acc) st = pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK)
    st = pare_op_ref_fail(ctx, pare_ref_conv_f64(&p, xf, x->dims, wf, w->dims, acc, NULL),
                          "convolution failed");
  for (size_t i = 0; i < n && st == PARE_OK; i++) {
    size_t c = (i / plane) % m;
    double a = acc[i] + (b ? ((const int32_t *)b->data)[c] : 0);
    double mult = s.ys >= 0 ? (double)scale_at(slot(ctx, s.xs), 0) * scale_at(slot(ctx, s.ws), c) /
                                  scale_at(slot(ctx, s.ys), 0)
                            : 1;
    store(y, i, a, mult, s.yz >= 0 ? zp_at(slot(ctx, s.yz), 0) : 0);
  }
  free(xf);
  free(wf);
  free(acc);
  return st;
}

/* Batch dims of A [..., M, K] and B [..., K, N] broadcast to the output's. */
static pare_status imatmul_dims(pare_op_ctx *ctx, const pare_tensor *a, const pare_tensor *b,
                                int *rank, int64_t *dims) {
  if (a->rank < 2 || b->rank < 2 || a->dims[a->rank - 1] != b->dims[b->rank - 2])
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "the shapes do not multiply");
  int r = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < r - 2; i++) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "batch dimensions do not broadcast");
    dims[i] = da > db ? da : db;
  }
  dims[r - 2] = a->dims[a->rank - 2];
  dims[r - 1] = b->dims[b->rank - 1];
  *rank = r;
  return PARE_OK;
}

static pare_status imatmul_shape(pare_op_ctx *ctx) {
  int_slots s = slots_of(ctx->node->op);
  pare_status st = check_int_inputs(ctx, &s);
  int rank = 0;
  int64_t dims[PARE_MAX_RANK] = {0};
  if (st == PARE_OK) st = imatmul_dims(ctx, slot(ctx, s.x), slot(ctx, s.w), &rank, dims);
  if (st == PARE_OK) pare_op_set_out(ctx, 0, int_out_dtype(ctx, &s), rank, dims);
  return st;
}

/* Offset of batch index `bi` of the output in a tensor of rank tr whose
 * batch dims broadcast to the output's (out_rank − 2 of them). */
static size_t batch_offset(const pare_tensor *t, const int64_t *out_dims, int out_rank, size_t bi) {
  size_t off = 0, stride = (size_t)(t->dims[t->rank - 2] * t->dims[t->rank - 1]);
  for (int i = out_rank - 3; i >= 0; i--) {
    size_t idx = bi % (size_t)out_dims[i];
    bi /= (size_t)out_dims[i];
    int it = i - (out_rank - t->rank);
    if (it < 0) continue;
    if (t->dims[it] != 1) off += idx * stride;
    stride *= (size_t)t->dims[it];
  }
  return off;
}

static pare_status imatmul_run(pare_op_ctx *ctx) {
  int_slots s = slots_of(ctx->node->op);
  const pare_tensor *a = slot(ctx, s.x), *b = slot(ctx, s.w);
  pare_tensor *y = ctx->out[0];
  size_t m = (size_t)a->dims[a->rank - 2], k = (size_t)a->dims[a->rank - 1];
  size_t n = (size_t)b->dims[b->rank - 1];
  /* a's zero point per row (its M axis), b's per column (its N axis). */
  float *af = centered(a, slot(ctx, s.xz), m, k), *bf = centered(b, slot(ctx, s.wz), n, 1);
  if (!af || !bf) {
    free(af);
    free(bf);
    return pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  }
  size_t batches = (size_t)(pare_tensor_numel(y) / (int64_t)(m * n));
  for (size_t bi = 0; bi < batches; bi++) {
    const float *ab = af + batch_offset(a, y->dims, y->rank, bi);
    const float *bb = bf + batch_offset(b, y->dims, y->rank, bi);
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double acc = 0;
        for (size_t q = 0; q < k; q++) acc += (double)ab[i * k + q] * bb[q * n + j];
        double mult = s.ys >= 0 ? (double)scale_at(slot(ctx, s.xs), 0) *
                                      scale_at(slot(ctx, s.ws), j) / scale_at(slot(ctx, s.ys), 0)
                                : 1;
        store(y, (bi * m + i) * n + j, acc, mult, s.yz >= 0 ? zp_at(slot(ctx, s.yz), 0) : 0);
      }
  }
  free(af);
  free(bf);
  return PARE_OK;
}

/* ---- DynamicQuantizeLinear -------------------------------------------------- */

static pare_status dynq_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  pare_op_set_out(ctx, 0, PARE_DT_U8, x->rank, x->dims);
  if (ctx->n_out > 1) pare_op_set_out(ctx, 1, PARE_DT_F32, 0, NULL);
  if (ctx->n_out > 2) pare_op_set_out(ctx, 2, PARE_DT_U8, 0, NULL);
  return PARE_OK;
}

/* uint8 over the range of x widened to hold 0: scale (max − min)/255, zero
 * point round(−min/scale). */
static pare_status dynq_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  const float *xd = x->data;
  size_t n = (size_t)pare_tensor_numel(x);
  float lo = 0, hi = 0;
  for (size_t i = 0; i < n; i++) {
    if (xd[i] < lo) lo = xd[i];
    if (xd[i] > hi) hi = xd[i];
  }
  float scale = (hi - lo) / 255.0f;
  double z = scale > 0 ? nearbyint(-lo / scale) : 0;
  int32_t zp = (int32_t)(z < 0 ? 0 : z > 255 ? 255 : z);
  uint8_t *q = ctx->out[0]->data;
  for (size_t i = 0; i < n; i++)
    q[i] = (uint8_t)(scale > 0 ? pare_ref_quantize_value(xd[i], scale, zp, PARE_DT_U8) : zp);
  if (ctx->n_out > 1 && ctx->out[1]) *(float *)ctx->out[1]->data = scale;
  if (ctx->n_out > 2 && ctx->out[2]) *(uint8_t *)ctx->out[2]->data = (uint8_t)zp;
  return PARE_OK;
}

static const pare_op_impl quantize = {quantize_shape, quantize_run};
static const pare_op_impl dequantize = {dequantize_shape, dequantize_run};
static const pare_op_impl iconv = {iconv_shape, iconv_run};
static const pare_op_impl imatmul = {imatmul_shape, imatmul_run};
static const pare_op_impl dynq = {dynq_shape, dynq_run};

const pare_op_impl *pare_op_impl_quant(pare_op op) {
  switch (op) {
  case PARE_OP_QUANTIZE_LINEAR: return &quantize;
  case PARE_OP_DEQUANTIZE_LINEAR: return &dequantize;
  case PARE_OP_CONV_INTEGER:
  case PARE_OP_QLINEAR_CONV: return &iconv;
  case PARE_OP_MATMUL_INTEGER:
  case PARE_OP_QLINEAR_MATMUL: return &imatmul;
  case PARE_OP_DYNAMIC_QUANTIZE_LINEAR: return &dynq;
  default: return NULL;
  }
}
