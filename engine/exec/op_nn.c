/* Convolutions, pooling, normalization, softmax and reductions, on the
 * reference implementations of engine/ref/ops.h. */
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/ref/ops.h"

/* Reads kernel_shape, strides, dilations, pads and auto_pad. */
static pare_status window_of(pare_op_ctx *ctx, int nspatial, pare_ref_window *w) {
  if (nspatial < 1 || nspatial > PARE_REF_MAX_SPATIAL)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "%d spatial dimensions", nspatial);
  pare_ref_window_init(w, nspatial);
  static const char *names[] = {"kernel_shape", "strides", "dilations", "pads"};
  int64_t *dst[] = {w->kernel, w->strides, w->dilations, w->pads};
  int want[] = {nspatial, nspatial, nspatial, 2 * nspatial};
  for (int i = 0; i < 4; i++) {
    int n = 0;
    const int64_t *v = pare_node_attr_ints(ctx->node, names[i], &n);
    if (!v) continue;
    if (n != want[i])
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "%s has %d values, needs %d", names[i], n, want[i]);
    memcpy(dst[i], v, sizeof(int64_t) * (size_t)n);
  }
  const char *ap = pare_node_attr_string(ctx->node, "auto_pad", "NOTSET");
  if (!strcmp(ap, "NOTSET"))
    w->auto_pad = PARE_REF_AUTO_PAD_NOTSET;
  else if (!strcmp(ap, "SAME_UPPER"))
    w->auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
  else if (!strcmp(ap, "SAME_LOWER"))
    w->auto_pad = PARE_REF_AUTO_PAD_SAME_LOWER;
  else if (!strcmp(ap, "VALID"))
    w->auto_pad = PARE_REF_AUTO_PAD_VALID;
  else
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "auto_pad '%s'", ap);
  return PARE_OK;
}

static pare_status f32_inputs(pare_op_ctx *ctx, int min, int max) {
  pare_status st = pare_op_need_inputs(ctx, min, max);
  for (int i = 0; i < ctx->n_in && st == PARE_OK; i++) st = pare_op_need_f32(ctx, i);
  if (st == PARE_OK && ctx->in[0]->rank < 1)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "input 0 is a scalar");
  return st;
}

/* ---- Conv ---------------------------------------------------------- */

pare_status pare_op_conv_window(pare_op_ctx *ctx, const pare_tensor *x, const pare_tensor *w,
                                pare_ref_conv_params *p) {
  int ns = x->rank - 2;
  if (w->rank != ns + 2)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "weight rank %d does not match input rank %d",
                        w->rank, x->rank);
  pare_ref_conv_params_init(p, ns < 1 ? 1 : ns);
  pare_status st = window_of(ctx, ns, &p->win);
  p->group = pare_node_attr_int(ctx->node, "group", 1);
  return st;
}

pare_status pare_op_conv_params(pare_op_ctx *ctx, pare_ref_conv_params *p) {
  pare_status st = f32_inputs(ctx, 2, 3);
  if (st != PARE_OK) return st;
  return pare_op_conv_window(ctx, ctx->in[0], ctx->in[1], p);
}

static pare_status conv_shape(pare_op_ctx *ctx) {
  pare_ref_conv_params p;
  pare_status st = pare_op_conv_params(ctx, &p);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  const pare_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
  if (b && (b->rank != 1 || b->dims[0] != ctx->in[1]->dims[0]))
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "bias must have %lld values",
                        (long long)ctx->in[1]->dims[0]);
  st = pare_op_ref_fail(ctx, pare_ref_conv_shape(&p, ctx->in[0]->dims, ctx->in[1]->dims, dims),
                        "shapes do not fit");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, dims);
  return st;
}

static pare_status conv_run(pare_op_ctx *ctx) {
  pare_ref_conv_params p;
  pare_status st = pare_op_conv_params(ctx, &p);
  if (st != PARE_OK) return st;
  const pare_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(ctx,
                          pare_ref_conv_f32(&p, ctx->in[0]->data, ctx->in[0]->dims,
                                            ctx->in[1]->data, ctx->in[1]->dims, b ? b->data : NULL,
                                            ctx->out[0]->data, dims),
                          "convolution failed");
}

static pare_status convt_params(pare_op_ctx *ctx, pare_ref_conv_transpose_params *p) {
  pare_status st = f32_inputs(ctx, 2, 3);
  if (st != PARE_OK) return st;
  int ns = ctx->in[0]->rank - 2;
  if (ctx->in[1]->rank != ns + 2)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "weight rank %d does not match input rank %d",
                        ctx->in[1]->rank, ctx->in[0]->rank);
  pare_ref_conv_transpose_params_init(p, ns < 1 ? 1 : ns);
  st = window_of(ctx, ns, &p->win);
  p->group = pare_node_attr_int(ctx->node, "group", 1);
  int n = 0;
  const int64_t *op = pare_node_attr_ints(ctx->node, "output_padding", &n);
  if (op && n == ns) memcpy(p->output_padding, op, sizeof(int64_t) * (size_t)n);
  const int64_t *os = pare_node_attr_ints(ctx->node, "output_shape", &n);
  if (os) {
    /* Either the spatial dims or the full N, C, spatial shape. */
    if (n == ns + 2) os += 2, n -= 2;
    if (n != ns) return pare_op_fail(ctx, PARE_ERR_FORMAT, "output_shape has %d values", n);
    p->has_output_shape = 1;
    memcpy(p->output_shape, os, sizeof(int64_t) * (size_t)n);
  }
  return st;
}

static pare_status convt_shape(pare_op_ctx *ctx) {
  pare_ref_conv_transpose_params p;
  pare_status st = convt_params(ctx, &p);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK], pads[2 * PARE_REF_MAX_SPATIAL];
  st = pare_op_ref_fail(
      ctx, pare_ref_conv_transpose_shape(&p, ctx->in[0]->dims, ctx->in[1]->dims, dims, pads),
      "shapes do not fit");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, dims);
  return st;
}

static pare_status convt_run(pare_op_ctx *ctx) {
  pare_ref_conv_transpose_params p;
  pare_status st = convt_params(ctx, &p);
  if (st != PARE_OK) return st;
  const pare_tensor *b = ctx->n_in > 2 ? ctx->in[2] : NULL;
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(ctx,
                          pare_ref_conv_transpose_f32(&p, ctx->in[0]->data, ctx->in[0]->dims,
                                                      ctx->in[1]->data, ctx->in[1]->dims,
                                                      b ? b->data : NULL, ctx->out[0]->data, dims),
                          "transposed convolution failed");
}

/* ---- pooling ------------------------------------------------------- */

pare_status pare_op_pool_params(pare_op_ctx *ctx, pare_ref_pool_params *p) {
  pare_status st = f32_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  if (ctx->n_out > 1 && ctx->out[1])
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "the Indices output is not supported");
  int ns = ctx->in[0]->rank - 2;
  pare_ref_pool_params_init(p, ns < 1 ? 1 : ns);
  st = window_of(ctx, ns, &p->win);
  if (st != PARE_OK) return st;
  int n = 0;
  if (!pare_node_attr_ints(ctx->node, "kernel_shape", &n))
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "kernel_shape is required");
  p->ceil_mode = (int)pare_node_attr_int(ctx->node, "ceil_mode", 0);
  p->count_include_pad = (int)pare_node_attr_int(ctx->node, "count_include_pad", 0);
  if (pare_node_attr_int(ctx->node, "storage_order", 0) != 0)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "storage_order 1");
  return PARE_OK;
}

static pare_status pool_shape(pare_op_ctx *ctx) {
  pare_ref_pool_params p;
  pare_status st = pare_op_pool_params(ctx, &p);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  st =
      pare_op_ref_fail(ctx, pare_ref_pool_shape(&p, ctx->in[0]->dims, dims), "window does not fit");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, dims);
  return st;
}

static pare_status pool_run(pare_op_ctx *ctx) {
  pare_ref_pool_params p;
  pare_status st = pare_op_pool_params(ctx, &p);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  int rc =
      ctx->node->op == PARE_OP_MAX_POOL
          ? pare_ref_maxpool_f32(&p, ctx->in[0]->data, ctx->in[0]->dims, ctx->out[0]->data, dims)
          : pare_ref_avgpool_f32(&p, ctx->in[0]->data, ctx->in[0]->dims, ctx->out[0]->data, dims);
  return pare_op_ref_fail(ctx, rc, "pooling failed");
}

static pare_status global_pool_shape(pare_op_ctx *ctx) {
  pare_status st = f32_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  if (x->rank < 2) return pare_op_fail(ctx, PARE_ERR_FORMAT, "input must be N x C x ...");
  int64_t dims[PARE_MAX_RANK];
  for (int i = 0; i < x->rank; i++) dims[i] = i < 2 ? x->dims[i] : 1;
  pare_op_set_out(ctx, 0, PARE_DT_F32, x->rank, dims);
  return PARE_OK;
}

static pare_status global_pool_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  int rc = ctx->node->op == PARE_OP_GLOBAL_MAX_POOL
               ? pare_ref_global_maxpool_f32(x->data, x->rank, x->dims, ctx->out[0]->data)
               : pare_ref_global_avgpool_f32(x->data, x->rank, x->dims, ctx->out[0]->data);
  return pare_op_ref_fail(ctx, rc, "pooling failed");
}

/* ---- normalization, softmax, reductions ----------------------------- */

static pare_status bn_shape(pare_op_ctx *ctx) {
  pare_status st = f32_inputs(ctx, 5, 5);
  if (st != PARE_OK) return st;
  if (pare_node_attr_int(ctx->node, "training_mode", 0))
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "training_mode 1 (inference only here)");
  const pare_tensor *x = ctx->in[0];
  if (x->rank < 2) return pare_op_fail(ctx, PARE_ERR_FORMAT, "input must be N x C x ...");
  for (int i = 1; i < 5; i++)
    if (pare_tensor_numel(ctx->in[i]) != x->dims[1])
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d must have %lld values", i,
                          (long long)x->dims[1]);
  for (int o = 1; o < ctx->n_out; o++)
    if (ctx->out[o])
      return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "running mean/var outputs (training)");
  pare_op_set_out(ctx, 0, PARE_DT_F32, x->rank, x->dims);
  return PARE_OK;
}

static pare_status bn_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  float eps = pare_node_attr_float(ctx->node, "epsilon", 1e-5f);
  return pare_op_ref_fail(ctx,
                          pare_ref_batchnorm_f32(x->data, x->rank, x->dims, ctx->in[1]->data,
                                                 ctx->in[2]->data, ctx->in[3]->data,
                                                 ctx->in[4]->data, eps, ctx->out[0]->data),
                          "batch normalization failed");
}

int pare_op_softmax_axis(const pare_op_ctx *ctx, int *legacy) {
  *legacy = ctx->graph->opset < 13;
  return (int)pare_node_attr_int(ctx->node, "axis", *legacy ? 1 : -1);
}

static pare_status softmax_shape(pare_op_ctx *ctx) {
  pare_status st = f32_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  int legacy, axis;
  axis = pare_op_softmax_axis(ctx, &legacy);
  int a;
  st = pare_op_axis(ctx, axis, ctx->in[0]->rank, &a);
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, ctx->in[0]->dims);
  return st;
}

static pare_status softmax_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  int legacy, axis = pare_op_softmax_axis(ctx, &legacy);
  int rc =
      ctx->node->op == PARE_OP_SOFTMAX
          ? pare_ref_softmax_f32(x->data, x->rank, x->dims, axis, legacy, ctx->out[0]->data)
          : pare_ref_log_softmax_f32(x->data, x->rank, x->dims, axis, legacy, ctx->out[0]->data);
  return pare_op_ref_fail(ctx, rc, "softmax failed");
}

/* Axes of ReduceMean: attribute before opset 18, optional input from 18. */
static pare_status reduce_axes(pare_op_ctx *ctx, int64_t *axes, int *n) {
  *n = 0;
  if (ctx->n_in > 1 && ctx->in[1]) return pare_op_const_ints(ctx, 1, axes, PARE_MAX_RANK, n);
  const int64_t *a = pare_node_attr_ints(ctx->node, "axes", n);
  if (*n > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_FORMAT, "too many axes");
  if (a) memcpy(axes, a, sizeof(int64_t) * (size_t)*n);
  return PARE_OK;
}

static pare_status reduce_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  int64_t axes[PARE_MAX_RANK];
  int n;
  if (st == PARE_OK) st = reduce_axes(ctx, axes, &n);
  if (st != PARE_OK) return st;
  int keep = (int)pare_node_attr_int(ctx->node, "keepdims", 1);
  int noop = (int)pare_node_attr_int(ctx->node, "noop_with_empty_axes", 0);
  int rank;
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(ctx,
                        pare_ref_reduce_shape(ctx->in[0]->rank, ctx->in[0]->dims, axes, (size_t)n,
                                              keep, noop, &rank, dims),
                        "bad axes");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, rank, dims);
  return st;
}

static pare_status reduce_run(pare_op_ctx *ctx) {
  int64_t axes[PARE_MAX_RANK];
  int n;
  pare_status st = reduce_axes(ctx, axes, &n);
  if (st != PARE_OK) return st;
  int keep = (int)pare_node_attr_int(ctx->node, "keepdims", 1);
  int noop = (int)pare_node_attr_int(ctx->node, "noop_with_empty_axes", 0);
  int rank;
  int64_t dims[PARE_MAX_RANK];
  const pare_tensor *x = ctx->in[0];
  return pare_op_ref_fail(ctx,
                          pare_ref_reduce_mean_f32(x->data, x->rank, x->dims, axes, (size_t)n, keep,
                                                   noop, ctx->out[0]->data, &rank, dims),
                          "reduction failed");
}

static pare_status lrn_shape(pare_op_ctx *ctx) {
  pare_status st = f32_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  if (ctx->in[0]->rank < 3)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "input must be N x C x D1 ... (rank %d)",
                        ctx->in[0]->rank);
  int64_t size = pare_node_attr_int(ctx->node, "size", 0);
  if (size < 1)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "attribute size must be at least 1 (got %lld)",
                        (long long)size);
  pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, ctx->in[0]->dims);
  return PARE_OK;
}

static pare_status lrn_run(pare_op_ctx *ctx) {
  const pare_tensor *x = ctx->in[0];
  return pare_op_ref_fail(
      ctx,
      pare_ref_lrn_f32(x->data, x->rank, x->dims, pare_node_attr_int(ctx->node, "size", 0),
                       pare_node_attr_float(ctx->node, "alpha", 1e-4f),
                       pare_node_attr_float(ctx->node, "beta", 0.75f),
                       pare_node_attr_float(ctx->node, "bias", 1.0f), ctx->out[0]->data),
      "local response normalization failed");
}

static const pare_op_impl conv = {conv_shape, conv_run};
static const pare_op_impl convt = {convt_shape, convt_run};
static const pare_op_impl pool = {pool_shape, pool_run};
static const pare_op_impl global_pool = {global_pool_shape, global_pool_run};
static const pare_op_impl bn = {bn_shape, bn_run};
static const pare_op_impl softmax = {softmax_shape, softmax_run};
static const pare_op_impl reduce = {reduce_shape, reduce_run};
static const pare_op_impl lrn = {lrn_shape, lrn_run};

const pare_op_impl *pare_op_impl_nn(pare_op op) {
  switch (op) {
  case PARE_OP_CONV: return &conv;
  case PARE_OP_CONV_TRANSPOSE: return &convt;
  case PARE_OP_MAX_POOL:
  case PARE_OP_AVERAGE_POOL: return &pool;
  case PARE_OP_GLOBAL_AVERAGE_POOL:
  case PARE_OP_GLOBAL_MAX_POOL: return &global_pool;
  case PARE_OP_BATCH_NORM: return &bn;
  case PARE_OP_SOFTMAX:
  case PARE_OP_LOG_SOFTMAX: return &softmax;
  case PARE_OP_REDUCE_MEAN: return &reduce;
  case PARE_OP_LRN: return &lrn;
  default: return NULL;
  }
}
