/* Ops that change only how data is laid out or described: Flatten,
 * Reshape, Squeeze, Unsqueeze, Shape (and, with the reference's byte
 * movers, Transpose, Concat, Gather, Slice, Pad, Resize). */
#include <string.h>

#include "engine/exec/exec.h"

/* Same bytes, new shape. */
static pare_status copy_run(pare_op_ctx *ctx) {
  if (ctx->in[0]->nbytes) memcpy(ctx->out[0]->data, ctx->in[0]->data, ctx->in[0]->nbytes);
  return PARE_OK;
}

static pare_status flatten_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axis = pare_node_attr_int(ctx->node, "axis", 1);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "axis %lld is out of range for rank %d",
                        (long long)axis, x->rank);
  int64_t dims[2] = {1, 1};
  for (int i = 0; i < x->rank; i++) dims[i < axis ? 0 : 1] *= x->dims[i];
  pare_op_set_out(ctx, 0, x->dtype, 2, dims);
  return PARE_OK;
}

static pare_status reshape_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t shape[PARE_MAX_RANK];
  int n = 0;
  if (ctx->n_in > 1 && ctx->in[1]) {
    st = pare_op_const_ints(ctx, 1, shape, PARE_MAX_RANK, &n);
    if (st != PARE_OK) return st;
  } else {
    const int64_t *s = pare_node_attr_ints(ctx->node, "shape", &n); /* opset < 5 */
    if (n > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "rank %d", n);
    for (int i = 0; i < n; i++) shape[i] = s[i];
  }
  int allowzero = (int)pare_node_attr_int(ctx->node, "allowzero", 0);
  int64_t total = pare_tensor_numel(x), known = 1;
  int infer = -1;
  for (int i = 0; i < n; i++) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->rank) return pare_op_fail(ctx, PARE_ERR_FORMAT, "0 copies a missing dimension %d", i);
      shape[i] = x->dims[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return pare_op_fail(ctx, PARE_ERR_FORMAT, "more than one -1 in the shape");
      infer = i;
    } else if (shape[i] < 0) {
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "negative dimension %lld", (long long)shape[i]);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "cannot infer -1: %lld elements into blocks of %lld",
                          (long long)total, (long long)known);
    shape[infer] = total / known;
    known *= shape[infer];
  }
  if (known != total)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "shape holds %lld elements, the input has %lld",
                        (long long)known, (long long)total);
  pare_op_set_out(ctx, 0, x->dtype, n, shape);
  return PARE_OK;
}

/* Axes from the attribute (old opsets) or the second input (opset 13 on). */
static pare_status axes_of(pare_op_ctx *ctx, int64_t *axes, int *n) {
  if (ctx->n_in > 1 && ctx->in[1]) return pare_op_const_ints(ctx, 1, axes, PARE_MAX_RANK, n);
  const int64_t *a = pare_node_attr_ints(ctx->node, "axes", n);
  if (*n > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "too many axes");
  for (int i = 0; i < *n; i++) axes[i] = a[i];
  return PARE_OK;
}

static pare_status squeeze_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axes[PARE_MAX_RANK];
  int n = 0;
  st = axes_of(ctx, axes, &n);
  if (st != PARE_OK) return st;
  char drop[PARE_MAX_RANK] = {0};
  for (int i = 0; i < n; i++) {
    int a;
    st = pare_op_axis(ctx, axes[i], x->rank, &a);
    if (st != PARE_OK) return st;
    if (x->dims[a] != 1)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "cannot squeeze axis %d of size %lld", a,
                          (long long)x->dims[a]);
    drop[a] = 1;
  }
  int64_t dims[PARE_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (!(n ? drop[i] : x->dims[i] == 1)) dims[r++] = x->dims[i];
  pare_op_set_out(ctx, 0, x->dtype, r, dims);
  return PARE_OK;
}

static pare_status unsqueeze_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axes[PARE_MAX_RANK];
  int n = 0;
  st = axes_of(ctx, axes, &n);
  if (st != PARE_OK) return st;
  int r = x->rank + n;
  if (r > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "rank %d", r);
  char ins[PARE_MAX_RANK] = {0};
  for (int i = 0; i < n; i++) {
    int a;
    st = pare_op_axis(ctx, axes[i], r, &a);
    if (st != PARE_OK) return st;
    if (ins[a]) return pare_op_fail(ctx, PARE_ERR_FORMAT, "axis %d given twice", a);
    ins[a] = 1;
  }
  int64_t dims[PARE_MAX_RANK];
  for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
  pare_op_set_out(ctx, 0, x->dtype, r, dims);
  return PARE_OK;
}

static pare_status shape_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  int r = ctx->in[0]->rank;
  int64_t start = pare_node_attr_int(ctx->node, "start", 0);
  int64_t end = pare_node_attr_int(ctx->node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  pare_op_set_out(ctx, 0, PARE_DT_I64, 1, &n);
  return PARE_OK;
}

static pare_status shape_run(pare_op_ctx *ctx) {
  int r = ctx->in[0]->rank;
  int64_t start = pare_node_attr_int(ctx->node, "start", 0);
  if (start < 0) start += r;
  if (start < 0) start = 0;
  int64_t *out = ctx->out[0]->data;
  for (int64_t i = 0; i < ctx->out[0]->dims[0]; i++) out[i] = ctx->in[0]->dims[start + i];
  return PARE_OK;
}

static const pare_op_impl flatten = {flatten_shape, copy_run};
static const pare_op_impl reshape = {reshape_shape, copy_run};
static const pare_op_impl squeeze = {squeeze_shape, copy_run};
static const pare_op_impl unsqueeze = {unsqueeze_shape, copy_run};
static const pare_op_impl shape = {shape_shape, shape_run};

const pare_op_impl *pare_op_impl_layout(pare_op op) {
  switch (op) {
  case PARE_OP_FLATTEN: return &flatten;
  case PARE_OP_RESHAPE: return &reshape;
  case PARE_OP_SQUEEZE: return &squeeze;
  case PARE_OP_UNSQUEEZE: return &unsqueeze;
  case PARE_OP_SHAPE: return &shape;
  default: return NULL;
  }
}
