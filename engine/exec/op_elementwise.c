/* Elementwise ops: activations, broadcasting arithmetic (f32 and the int64
 * of shape computations), Sum, PRelu, Identity and Dropout. */
#include <math.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/ref/ref.h"

/* ---- unary ------------------------------------------------------------ */

static pare_status unary_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 3);
  if (st != PARE_OK) return st;
  if (ctx->node->op == PARE_OP_DROPOUT) {
    /* Opset 12 on: training_mode is input 2; pare runs inference only. */
    const pare_tensor *mode = ctx->n_in > 2 ? ctx->in[2] : NULL;
    if (mode && (!mode->is_const || mode->dtype != PARE_DT_BOOL || !mode->data ||
                 ((const uint8_t *)mode->data)[0]))
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "training mode is not supported");
  }
  const pare_tensor *x = ctx->in[0];
  pare_op_set_out(ctx, 0, x->dtype, x->rank, x->dims);
  /* Dropout's optional mask output. */
  if (ctx->n_out > 1 && ctx->out[1]) pare_op_set_out(ctx, 1, PARE_DT_BOOL, x->rank, x->dims);
  return PARE_OK;
}

/* The activation and its two parameters for a node. */
pare_status pare_op_activation(pare_op_ctx *ctx, pare_ref_act *act, float *a, float *b) {
  const pare_node *n = ctx->node;
  *a = 0.0f;
  *b = 0.0f;
  switch (n->op) {
  case PARE_OP_RELU: *act = PARE_REF_ACT_RELU; break;
  case PARE_OP_SIGMOID: *act = PARE_REF_ACT_SIGMOID; break;
  case PARE_OP_TANH: *act = PARE_REF_ACT_TANH; break;
  case PARE_OP_HARD_SWISH: *act = PARE_REF_ACT_HARD_SWISH; break;
  case PARE_OP_EXP: *act = PARE_REF_ACT_EXP; break;
  case PARE_OP_SQRT: *act = PARE_REF_ACT_SQRT; break;
  case PARE_OP_NEG: *act = PARE_REF_ACT_NEG; break;
  case PARE_OP_RECIPROCAL: *act = PARE_REF_ACT_RECIPROCAL; break;
  case PARE_OP_LEAKY_RELU:
    *act = PARE_REF_ACT_LEAKY_RELU;
    *a = pare_node_attr_float(n, "alpha", 0.01f);
    break;
  case PARE_OP_ELU:
    *act = PARE_REF_ACT_ELU;
    *a = pare_node_attr_float(n, "alpha", 1.0f);
    break;
  case PARE_OP_SELU:
    *act = PARE_REF_ACT_SELU;
    *a = pare_node_attr_float(n, "alpha", 1.67326319217681884765625f);
    *b = pare_node_attr_float(n, "gamma", 1.05070102214813232421875f);
    break;
  case PARE_OP_SHRINK:
    *act = PARE_REF_ACT_SHRINK;
    *a = pare_node_attr_float(n, "lambd", 0.5f);
    *b = pare_node_attr_float(n, "bias", 0.0f);
    break;
  case PARE_OP_HARD_SIGMOID:
    *act = PARE_REF_ACT_HARD_SIGMOID;
    *a = pare_node_attr_float(n, "alpha", 0.2f);
    *b = pare_node_attr_float(n, "beta", 0.5f);
    break;
  case PARE_OP_CLIP: {
    *act = PARE_REF_ACT_CLIP;
    *a = pare_node_attr_float(n, "min", -INFINITY);
    *b = pare_node_attr_float(n, "max", INFINITY);
    /* Opset 11 on: min and max are optional scalar inputs, read at run time. */
    for (int i = 1; i <= 2 && i < ctx->n_in; i++) {
      const pare_tensor *t = ctx->in[i];
      if (!t) continue;
      if (t->dtype != PARE_DT_F32 || pare_tensor_numel(t) != 1 || !t->data)
        return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d must be an f32 scalar", i);
      *(i == 1 ? a : b) = *(const float *)t->data;
    }
    break;
  }
  default: return pare_op_fail(ctx, PARE_ERR_INTERNAL, "not an activation");
  }
  return PARE_OK;
}

static pare_status unary_run(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_f32(ctx, 0);
  if (st != PARE_OK) return st;
  pare_ref_act act = PARE_REF_ACT_NONE;
  float a, b;
  st = pare_op_activation(ctx, &act, &a, &b);
  if (st != PARE_OK) return st;
  pare_ref_act_f32(act, ctx->in[0]->data, ctx->out[0]->data, (size_t)pare_tensor_numel(ctx->in[0]),
                   a, b);
  return PARE_OK;
}

/* Identity and Dropout (inference): a copy, and an all-true mask. */
static pare_status copy_run(pare_op_ctx *ctx) {
  if (ctx->in[0]->nbytes && ctx->out[0]->data != ctx->in[0]->data) /* not aliased in an arena */
    memcpy(ctx->out[0]->data, ctx->in[0]->data, ctx->in[0]->nbytes);
  if (ctx->n_out > 1 && ctx->out[1]) memset(ctx->out[1]->data, 1, ctx->out[1]->nbytes);
  return PARE_OK;
}

/* ---- broadcasting ------------------------------------------------------ */

/* Output shape of numpy-style broadcasting of a and b. */
static pare_status broadcast_shape(pare_op_ctx *ctx, const pare_tensor *a, const pare_tensor *b,
                                   int *rank, int64_t *dims) {
  int r = a->rank > b->rank ? a->rank : b->rank;
  for (int i = 0; i < r; i++) {
    int ia = i - (r - a->rank), ib = i - (r - b->rank);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return pare_op_fail(ctx, PARE_ERR_FORMAT,
                          "shapes cannot broadcast: dimension %d is %lld vs %lld", i, (long long)da,
                          (long long)db);
    dims[i] = da == 1 ? db : da;
  }
  *rank = r;
  return PARE_OK;
}

/* Strides (in elements) of t seen through the output's rank, 0 where it broadcasts. */
static void broadcast_strides(const pare_tensor *t, int rank, const int64_t *out_dims,
                              int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    int it = i - (rank - t->rank);
    int64_t d = it >= 0 ? t->dims[it] : 1;
    strides[i] = (d == 1 && out_dims[i] != 1) ? 0 : s;
    s *= d;
  }
}

static double apply_binop(pare_op op, double a, double b, int integer) {
  switch (op) {
  case PARE_OP_ADD:
  case PARE_OP_SUM: return a + b;
  case PARE_OP_SUB: return a - b;
  case PARE_OP_MUL: return a * b;
  case PARE_OP_DIV:
    if (integer) return b != 0 ? (double)((int64_t)a / (int64_t)b) : 0;
    return a / b;
  case PARE_OP_POW: return pow(a, b);
  case PARE_OP_MAX: return a > b || isnan(a) ? a : b;
  case PARE_OP_MIN: return a < b || isnan(a) ? a : b;
  case PARE_OP_PRELU: return a >= 0 ? a : a * b;
  default: return a;
  }
}

static double load(const pare_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PARE_DT_F32: return ((const float *)t->data)[i];
  case PARE_DT_I64: return (double)((const int64_t *)t->data)[i];
  case PARE_DT_I32: return ((const int32_t *)t->data)[i];
  default: return 0;
  }
}

static void store(pare_tensor *t, int64_t i, double v) {
  switch (t->dtype) {
  case PARE_DT_F32: ((float *)t->data)[i] = (float)v; break;
  case PARE_DT_I64: ((int64_t *)t->data)[i] = (int64_t)v; break;
  case PARE_DT_I32: ((int32_t *)t->data)[i] = (int32_t)v; break;
  default: break;
  }
}

/* out = a op b with broadcasting; f32 in single precision like the
 * kernels, integers exactly. */
static void broadcast_apply(pare_op op, const pare_tensor *a, const pare_tensor *b,
                            pare_tensor *out) {
  int r = out->rank;
  int64_t sa[PARE_MAX_RANK], sb[PARE_MAX_RANK], idx[PARE_MAX_RANK] = {0};
  broadcast_strides(a, r, out->dims, sa);
  broadcast_strides(b, r, out->dims, sb);
  int64_t n = pare_tensor_numel(out), ia = 0, ib = 0;
  int f32 = out->dtype == PARE_DT_F32 && a->dtype == PARE_DT_F32 && b->dtype == PARE_DT_F32;
  int integer = out->dtype != PARE_DT_F32;
  for (int64_t i = 0; i < n; i++) {
    if (f32) {
      float x = ((const float *)a->data)[ia], y = ((const float *)b->data)[ib];
      float v;
      switch (op) {
      case PARE_OP_ADD:
      case PARE_OP_SUM: v = x + y; break;
      case PARE_OP_SUB: v = x - y; break;
      case PARE_OP_MUL: v = x * y; break;
      case PARE_OP_DIV: v = x / y; break;
      default: v = (float)apply_binop(op, x, y, 0); break;
      }
      ((float *)out->data)[i] = v;
    } else {
      store(out, i, apply_binop(op, load(a, ia), load(b, ib), integer));
    }
    /* Advance the multi-index: odometer over the output dims. */
    for (int d = r - 1; d >= 0; d--) {
      idx[d]++;
      ia += sa[d];
      ib += sb[d];
      if (idx[d] < out->dims[d]) break;
      ia -= sa[d] * idx[d];
      ib -= sb[d] * idx[d];
      idx[d] = 0;
    }
  }
}

static int numeric(pare_dtype dt) {
  return dt == PARE_DT_F32 || dt == PARE_DT_I64 || dt == PARE_DT_I32;
}

/* Opset < 7 files may ask for legacy broadcasting of B at `axis`: B's
 * dims are aligned to A's starting there, so B gets trailing 1s. */
static void legacy_align(const pare_op_ctx *ctx, const pare_tensor *a, pare_tensor *b_view) {
  if (pare_node_attr_int(ctx->node, "broadcast", 0) != 1) return;
  const pare_attr *ax = pare_node_attr(ctx->node, "axis");
  if (!ax || ax->type != PARE_ATTR_INT) return;
  int64_t axis = ax->i < 0 ? ax->i + a->rank : ax->i;
  int trailing = a->rank - (int)axis - b_view->rank;
  for (int i = 0; i < trailing && b_view->rank < PARE_MAX_RANK; i++)
    b_view->dims[b_view->rank++] = 1;
}

static pare_status binary_shape(pare_op_ctx *ctx) {
  int max_in =
      ctx->node->op == PARE_OP_SUM || ctx->node->op == PARE_OP_MAX || ctx->node->op == PARE_OP_MIN
          ? 64
          : 2;
  int min_in = max_in == 64 ? 1 : 2;
  pare_status st = pare_op_need_inputs(ctx, min_in, max_in);
  if (st != PARE_OK) return st;
  pare_tensor acc = *ctx->in[0];
  for (int i = 0; i < ctx->n_in; i++) {
    if (!ctx->in[i] || !numeric(ctx->in[i]->dtype))
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d has unsupported dtype %s", i,
                          ctx->in[i] ? pare_dtype_name(ctx->in[i]->dtype) : "none");
    if (i == 0) continue;
    pare_tensor b = *ctx->in[i];
    legacy_align(ctx, &acc, &b);
    if (ctx->node->op == PARE_OP_POW && b.dtype != acc.dtype) b.dtype = acc.dtype;
    if (b.dtype != acc.dtype)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "inputs have dtypes %s and %s",
                          pare_dtype_name(acc.dtype), pare_dtype_name(b.dtype));
    int rank;
    int64_t dims[PARE_MAX_RANK];
    st = broadcast_shape(ctx, &acc, &b, &rank, dims);
    if (st != PARE_OK) return st;
    acc.rank = rank;
    memcpy(acc.dims, dims, sizeof dims);
  }
  pare_op_set_out(ctx, 0, ctx->in[0]->dtype, acc.rank, acc.dims);
  return PARE_OK;
}

static pare_status binary_run(pare_op_ctx *ctx) {
  pare_tensor *out = ctx->out[0];
  if (ctx->n_in == 1) return copy_run(ctx);
  pare_tensor b = *ctx->in[1];
  legacy_align(ctx, ctx->in[0], &b);
  broadcast_apply(ctx->node->op, ctx->in[0], &b, out);
  /* Variadic Sum/Max/Min: fold the rest into the output. */
  for (int i = 2; i < ctx->n_in; i++) {
    pare_tensor acc = *out;
    broadcast_apply(ctx->node->op, &acc, ctx->in[i], out);
  }
  return PARE_OK;
}

static pare_status prelu_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 2);
  if (st != PARE_OK) return st;
  pare_tensor slope = *ctx->in[1];
  /* Opset < 7 and common exports give a per-channel slope [C] for NCHW:
   * align it to axis 1 when it does not broadcast from the right. */
  const pare_tensor *x = ctx->in[0];
  if (slope.rank == 1 && x->rank > 2 && slope.dims[0] == x->dims[1] &&
      x->dims[x->rank - 1] != slope.dims[0]) {
    for (int i = 0; i < x->rank - 2; i++) slope.dims[slope.rank++] = 1;
  }
  int rank;
  int64_t dims[PARE_MAX_RANK];
  st = broadcast_shape(ctx, x, &slope, &rank, dims);
  if (st != PARE_OK) return st;
  pare_op_set_out(ctx, 0, x->dtype, rank, dims);
  return pare_op_need_f32(ctx, 0);
}

static pare_status prelu_run(pare_op_ctx *ctx) {
  pare_tensor slope = *ctx->in[1];
  const pare_tensor *x = ctx->in[0];
  if (slope.rank == 1 && x->rank > 2 && slope.dims[0] == x->dims[1] &&
      x->dims[x->rank - 1] != slope.dims[0]) {
    for (int i = 0; i < x->rank - 2; i++) slope.dims[slope.rank++] = 1;
  }
  broadcast_apply(PARE_OP_PRELU, x, &slope, ctx->out[0]);
  return PARE_OK;
}

/* ---- Cast --------------------------------------------------------------- */

static pare_status cast_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  pare_dtype to = pare_dtype_from_onnx((int32_t)pare_node_attr_int(ctx->node, "to", 0));
  if (to == PARE_DT_UNDEFINED || to == PARE_DT_I4 ||
      pare_node_attr_int(ctx->node, "to", 0) == 11 /* double */)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "cast to ONNX type %lld",
                        (long long)pare_node_attr_int(ctx->node, "to", 0));
  const pare_tensor *x = ctx->in[0];
  if (!numeric(x->dtype) && x->dtype != PARE_DT_I8 && x->dtype != PARE_DT_U8 &&
      x->dtype != PARE_DT_BOOL && x->dtype != PARE_DT_F16)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "cast from %s", pare_dtype_name(x->dtype));
  pare_op_set_out(ctx, 0, to, x->rank, x->dims);
  return PARE_OK;
}

static double load_any(const pare_tensor *t, int64_t i) {
  switch (t->dtype) {
  case PARE_DT_I8: return ((const int8_t *)t->data)[i];
  case PARE_DT_U8: return ((const uint8_t *)t->data)[i];
  case PARE_DT_BOOL: return ((const uint8_t *)t->data)[i] != 0;
  case PARE_DT_F16: return pare_f16_to_f32(((const uint16_t *)t->data)[i]);
  default: return load(t, i);
  }
}

static pare_status cast_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  pare_tensor *y = ctx->out[0];
  int64_t n = pare_tensor_numel(x);
  for (int64_t i = 0; i < n; i++) {
    double v = load_any(x, i);
    switch (y->dtype) {
    case PARE_DT_I8: ((int8_t *)y->data)[i] = (int8_t)(isnan(v) ? 0 : v); break;
    case PARE_DT_U8: ((uint8_t *)y->data)[i] = (uint8_t)(isnan(v) ? 0 : v); break;
    case PARE_DT_BOOL: ((uint8_t *)y->data)[i] = v != 0; break;
    case PARE_DT_F16: ((uint16_t *)y->data)[i] = pare_f32_to_f16((float)v); break;
    case PARE_DT_I64:
    case PARE_DT_I32: store(y, i, isnan(v) ? 0 : trunc(v)); break;
    default: store(y, i, v); break;
    }
  }
  return PARE_OK;
}

static const pare_op_impl unary = {unary_shape, unary_run};
static const pare_op_impl cast = {cast_shape, cast_run};
static const pare_op_impl copy = {unary_shape, copy_run};
static const pare_op_impl binary = {binary_shape, binary_run};
static const pare_op_impl prelu = {prelu_shape, prelu_run};

const pare_op_impl *pare_op_impl_elementwise(pare_op op) {
  if (pare_op_is_unary_elementwise(op)) return &unary;
  switch (op) {
  case PARE_OP_IDENTITY:
  case PARE_OP_DROPOUT: return &copy;
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV:
  case PARE_OP_POW:
  case PARE_OP_MAX:
  case PARE_OP_MIN:
  case PARE_OP_SUM: return &binary;
  case PARE_OP_PRELU: return &prelu;
  case PARE_OP_CAST: return &cast;
  default: return NULL;
  }
}
