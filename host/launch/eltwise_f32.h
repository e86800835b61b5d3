/* Launchers of kernels/eltwise_f32.cl: activations, broadcasting binary
 * arithmetic and the per-channel affine of a folded BatchNormalization, on
 * device buffers of fp32. Results match engine/ref (pare_ref_act_apply,
 * pare_ref_binop_apply, pare_ref_broadcast_binop_f32, pare_ref_prelu_f32,
 * pare_ref_batchnorm_f32) within the tolerances in
 * tests/kernels/test_eltwise_f32.c. Empty tensors launch nothing. Sizes are
 * limited to 2^31 - 2^20 elements (PARE_ERR_UNSUPPORTED beyond). */
#ifndef PARE_HOST_LAUNCH_ELTWISE_F32_H
#define PARE_HOST_LAUNCH_ELTWISE_F32_H

#include <stdint.h>

#include "engine/ref/ref.h"
#include "host/runtime.h"

/* The binary op beyond pare_ref_binop: PRelu, y = a < 0 ? a·b : a, where b
 * (the slope) must broadcast to the shape of a (unidirectional). */
#define PARE_ELT_PRELU 7

/* y[i] = act(x[i]) for n contiguous values; y may be x. One program per
 * act, built on first use. alpha/beta as in pare_ref_act. */
pare_status pare_launch_eltwise_unary_f32(pare_cl_runtime *rt, pare_ref_act act, float alpha,
                                          float beta, cl_mem x, cl_mem y, size_t n, cl_event *event,
                                          pare_error *err);

/* y = a op b with numpy broadcasting (ranks up to PARE_REF_MAX_RANK = 8);
 * op is a pare_ref_binop or PARE_ELT_PRELU. y holds the broadcast shape
 * (pare_ref_broadcast_shape) and may be a or b when that input already has
 * the output's shape. PARE_ERR_INVALID_ARG for shapes that do not
 * broadcast. */
pare_status pare_launch_eltwise_binary_f32(pare_cl_runtime *rt, int op, cl_mem a, int a_rank,
                                           const int64_t *a_dims, cl_mem b, int b_rank,
                                           const int64_t *b_dims, cl_mem y, cl_event *event,
                                           pare_error *err);

/* The same with an activation fused after the op: y = act(a op b). */
pare_status pare_launch_eltwise_binary_act_f32(pare_cl_runtime *rt, int op, cl_mem a, int a_rank,
                                               const int64_t *a_dims, cl_mem b, int b_rank,
                                               const int64_t *b_dims, cl_mem y, pare_ref_act act,
                                               float alpha, float beta, cl_event *event,
                                               pare_error *err);

/* Which kernel the binary launcher uses for these shapes: "same" (equal
 * shapes), "block" (one input complete, the other varying over one block of
 * axes: scalar, per-channel, last-axis vector), "general" (strided), or
 * NULL when they do not broadcast. */
const char *pare_eltwise_binary_plan(int a_rank, const int64_t *a_dims, int b_rank,
                                     const int64_t *b_dims);

/* y[b, ch, i] = act(x[b, ch, i]·scale[ch] + shift[ch]) (one fused
 * multiply-add) over x viewed as [n, c, inner]; y may be x. */
pare_status pare_launch_eltwise_affine_f32(pare_cl_runtime *rt, cl_mem x, cl_mem scale,
                                           cl_mem shift, size_t n, size_t c, size_t inner,
                                           pare_ref_act act, float alpha, float beta, cl_mem y,
                                           cl_event *event, pare_error *err);

/* Folds inference BatchNormalization into the affine's scale and shift (on
 * the host, in double): scale = gamma / sqrt(var + eps), shift = beta -
 * mean·scale. */
void pare_eltwise_fold_batchnorm(size_t c, const float *gamma, const float *beta, const float *mean,
                                 const float *var, float eps, float *scale, float *shift);

/* y = DequantizeLinear(QuantizeLinear(x)) for a per-tensor scale and zero
 * point over the integer range [qmin, qmax] (as pare_ref_qdq_f32);
 * y may be x. PARE_ERR_INVALID_ARG for a scale that is not positive. */
pare_status pare_launch_fake_quant_f32(pare_cl_runtime *rt, cl_mem x, cl_mem y, size_t n,
                                       float scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                                       cl_event *event, pare_error *err);

/* y = x transposed, batch by batch: x is batch × [rows × cols], y batch ×
 * [cols × rows] (as pare_ref_transpose with perm {0, 2, 1}); y must not be x. */
pare_status pare_launch_transpose2d_f32(pare_cl_runtime *rt, cl_mem x, size_t batch, size_t rows,
                                        size_t cols, cl_mem y, cl_event *event, pare_error *err);
/* y[r·ld + off + c] = x[r·cols + c] for r < rows, c < cols: the rows of x
 * copied into a slab of the wider rows of y (one input of a Concat into
 * its output, rows the product of the dimensions before the axis). x and
 * y must differ; off + cols must fit in ld. */
pare_status pare_launch_copy_rows_f32(pare_cl_runtime *rt, cl_mem x, size_t rows, size_t cols,
                                      cl_mem y, size_t ld, size_t off, cl_event *event,
                                      pare_error *err);

#endif
