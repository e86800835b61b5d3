/* QuantizeLinear and DequantizeLinear (ONNX, opset 10 on: per tensor; 13
 * on: per axis): the quantized graph's boundaries between float and
 * integer values. The arithmetic is engine/ref/qdq.c. */
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

static const pare_op_impl quantize = {quantize_shape, quantize_run};
static const pare_op_impl dequantize = {dequantize_shape, dequantize_run};

const pare_op_impl *pare_op_impl_quant(pare_op op) {
  switch (op) {
  case PARE_OP_QUANTIZE_LINEAR: return &quantize;
  case PARE_OP_DEQUANTIZE_LINEAR: return &dequantize;
  default: return NULL;
  }
}
