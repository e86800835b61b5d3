/* Tensors and the helpers every op uses: errors naming the node, input
 * checks, constant inputs and axes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"

int64_t pare_tensor_numel(const pare_tensor *t) { return pare_shape_numel(t->rank, t->dims); }

pare_status pare_tensor_copy(const pare_tensor *src, pare_tensor *dst, pare_error *err) {
  memset(dst, 0, sizeof *dst);
  dst->dtype = src->dtype;
  dst->rank = src->rank;
  memcpy(dst->dims, src->dims, sizeof dst->dims);
  pare_status st = pare_tensor_alloc(dst, err);
  if (st == PARE_OK && src->nbytes) memcpy(dst->data, src->data, src->nbytes);
  return st;
}

pare_status pare_op_ref_fail(pare_op_ctx *ctx, int rc, const char *what) {
  if (rc == PARE_REF_OK) return PARE_OK;
  if (rc == PARE_REF_ENOMEM) return pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  return pare_op_fail(ctx, PARE_ERR_FORMAT, "%s (%s)", what,
                      rc == PARE_REF_ERANGE ? "index out of range"
                                            : "invalid attributes or shapes");
}

pare_status pare_tensor_alloc(pare_tensor *t, pare_error *err) {
  int64_t n = pare_tensor_numel(t);
  if (n < 0) return pare_error_set(err, PARE_ERR_INTERNAL, "allocating a tensor of unknown shape");
  size_t cap = pare_max_tensor_bytes();        /* shapes from a model: bounded */
  size_t per8 = pare_dtype_bytes(t->dtype, 8); /* bytes of 8 elements: no overflow below */
  if (per8 && (uint64_t)n / 8 > cap / per8)
    return pare_error_set(err, PARE_ERR_NO_MEMORY,
                          "a tensor of %lld elements exceeds the %zu-byte limit "
                          "(PARE_MAX_TENSOR_BYTES)",
                          (long long)n, cap);
  size_t bytes = pare_dtype_bytes(t->dtype, (size_t)n);
  if (t->owns && t->data && t->nbytes == bytes) return PARE_OK;
  if (t->owns == 1) free(t->data);
  t->data = malloc(bytes ? bytes : 1);
  t->owns = 1;
  t->nbytes = bytes;
  if (!t->data) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory (%zu bytes)", bytes);
  return PARE_OK;
}

void pare_tensor_release(pare_tensor *t) {
  if (t->owns == 1) free(t->data);
  t->data = NULL;
  t->owns = 0;
  t->nbytes = 0;
}

pare_status pare_op_fail(pare_op_ctx *ctx, pare_status st, const char *fmt, ...) {
  char msg[700];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return pare_error_set(ctx->err, st, "node '%s' (%s): %s", ctx->node->name,
                        pare_op_name(ctx->node->op), msg);
}

pare_status pare_op_need_inputs(pare_op_ctx *ctx, int min, int max) {
  if (ctx->n_in < min || ctx->n_in > max)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "takes %d to %d inputs, has %d", min, max, ctx->n_in);
  for (int i = 0; i < min; i++)
    if (!ctx->in[i]) return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d is missing", i);
  if (ctx->n_out < 1 || !ctx->out[0]) return pare_op_fail(ctx, PARE_ERR_FORMAT, "has no output");
  return PARE_OK;
}

pare_status pare_op_need_f32(pare_op_ctx *ctx, int input) {
  const pare_tensor *t = ctx->in[input];
  if (t && t->dtype != PARE_DT_F32)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d has dtype %s; only f32 is supported",
                        input, pare_dtype_name(t->dtype));
  return PARE_OK;
}

pare_status pare_op_const_ints(pare_op_ctx *ctx, int input, int64_t *vals, int cap, int *count) {
  const pare_tensor *t = input < ctx->n_in ? ctx->in[input] : NULL;
  if (!t) return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d is missing", input);
  if (!t->is_const || !t->data)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED,
                        "input %d must be known before running (a constant or computed from "
                        "shapes only)",
                        input);
  int64_t n = pare_tensor_numel(t);
  if (n > cap)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d has too many values", input);
  for (int64_t i = 0; i < n; i++) {
    if (t->dtype == PARE_DT_I64)
      vals[i] = ((const int64_t *)t->data)[i];
    else if (t->dtype == PARE_DT_I32)
      vals[i] = ((const int32_t *)t->data)[i];
    else
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d must be int64, is %s", input,
                          pare_dtype_name(t->dtype));
  }
  *count = (int)n;
  return PARE_OK;
}

pare_status pare_op_const_float(pare_op_ctx *ctx, int input, float *out) {
  const pare_tensor *t = input < ctx->n_in ? ctx->in[input] : NULL;
  if (!t || !t->is_const || !t->data || pare_tensor_numel(t) != 1 || t->dtype != PARE_DT_F32)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "input %d must be a constant f32 scalar", input);
  *out = *(const float *)t->data;
  return PARE_OK;
}

pare_status pare_op_axis(pare_op_ctx *ctx, int64_t axis, int rank, int *out) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= (rank > 0 ? rank : 1))
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "axis %lld is out of range for rank %d",
                        (long long)axis, rank);
  *out = (int)a;
  return PARE_OK;
}

void pare_op_set_out(pare_op_ctx *ctx, int o, pare_dtype dt, int rank, const int64_t *dims) {
  pare_tensor *t = ctx->out[o];
  if (!t) return;
  t->dtype = dt;
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->dims[i] = dims[i];
}

int pare_op_input_decides_shape(pare_op op, int slot) {
  switch (op) {
  case PARE_OP_RESHAPE:
  case PARE_OP_SQUEEZE:
  case PARE_OP_UNSQUEEZE:
  case PARE_OP_REDUCE_MEAN: return slot == 1;
  case PARE_OP_PAD: return slot == 1 || slot == 3;
  case PARE_OP_RESIZE:
  case PARE_OP_SLICE: return slot >= 1;
  default: return 0;
  }
}

const pare_op_impl *pare_op_impl_get(pare_op op) {
  const pare_op_impl *impl = pare_op_impl_elementwise(op);
  if (!impl) impl = pare_op_impl_linear(op);
  if (!impl) impl = pare_op_impl_layout(op);
  if (!impl) impl = pare_op_impl_nn(op);
  if (!impl) impl = pare_op_impl_quant(op);
  return impl;
}
