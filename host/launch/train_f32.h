/* Launchers of kernels/train_f32.cl: activation and pooling backward, the
 * softmax cross-entropy and distillation losses with their gradients, the
 * SGD and Adam / AdamW steps and gradient accumulation, on device buffers
 * of fp32. Each matches its reference of engine/ref/grad.h within the
 * tolerances of tests/kernels/test_train_f32.c. Launchers only enqueue (no
 * clFinish); `event` (may be NULL) is that of the last kernel enqueued.
 * Empty sizes launch nothing. Sizes are limited to 2^31 - 2^20 elements
 * (PARE_ERR_UNSUPPORTED beyond); errors name the kernel and the size. */
#ifndef PARE_HOST_LAUNCH_TRAIN_F32_H
#define PARE_HOST_LAUNCH_TRAIN_F32_H

#include <stdint.h>

#include "engine/ref/grad.h"
#include "host/runtime.h"

/* dx[i] = dy[i]·act'(x[i]) as pare_ref_act_backward_f32 without y, for
 * RELU, LEAKY_RELU, SIGMOID, TANH, CLIP, HARD_SWISH and ELU (others:
 * PARE_ERR_UNSUPPORTED). dx may be dy. */
pare_status pare_launch_train_act_backward_f32(pare_cl_runtime *rt, pare_ref_act act, float alpha,
                                               float beta, cl_mem x, cl_mem dy, cl_mem dx, size_t n,
                                               cl_event *event, pare_error *err);

/* MaxPool (is_max; x is read) or AveragePool (x unused, may be NULL)
 * backward over x_dims [N, C, spatial...] with 1 or 2 spatial dims, the
 * window rules of pare_ref_maxpool_backward_f32 / pare_ref_avgpool_
 * backward_f32 (ceil_mode, pads, dilations, count_include_pad). dy has
 * pare_ref_pool_shape's shape; dx (written, not accumulated) that of x. */
pare_status pare_launch_train_pool2d_backward_f32(pare_cl_runtime *rt, int is_max,
                                                  const pare_ref_pool_params *p,
                                                  const int64_t *x_dims, cl_mem x, cl_mem dy,
                                                  cl_mem dx, cl_event *event, pare_error *err);

/* GlobalAveragePool backward: dx[p, i] = dy[p] / spatial over `planes`
 * planes of `spatial` values. */
pare_status pare_launch_train_global_avgpool_backward_f32(pare_cl_runtime *rt, size_t planes,
                                                          size_t spatial, cl_mem dy, cl_mem dx,
                                                          cl_event *event, pare_error *err);

/* Softmax cross-entropy of logits [n, k] (k <= 2^20) with int64 labels [n]:
 * loss_rows[r] (float [n], required) = logsumexp(row) - row[label]; loss
 * (float [1], may be NULL) = their mean, by a second one-item kernel;
 * dlogits (may be NULL) = (softmax - onehot)/n. A label outside [0, k)
 * gives a NaN loss (the reference refuses it instead). */
pare_status pare_launch_train_softmax_xent_f32(pare_cl_runtime *rt, cl_mem logits, cl_mem labels,
                                               size_t n, size_t k, cl_mem loss_rows, cl_mem loss,
                                               cl_mem dlogits, cl_event *event, pare_error *err);

/* pare_ref_distill_loss_f32: alpha·CE + (1-alpha)·T²·KL per row into
 * loss_rows, their mean into loss (may be NULL), the student gradient into
 * dstudent (may be NULL). With alpha == 1 teacher may be NULL, with
 * alpha == 0 labels may be. PARE_ERR_INVALID_ARG for alpha outside [0, 1]
 * or T not positive and finite. */
pare_status pare_launch_train_distill_loss_f32(pare_cl_runtime *rt, cl_mem teacher, cl_mem student,
                                               cl_mem labels, size_t n, size_t k, float temperature,
                                               float alpha, cl_mem loss_rows, cl_mem loss,
                                               cl_mem dstudent, cl_event *event, pare_error *err);

/* One SGD step in place, as pare_ref_sgd_step_f32: velocity may be NULL
 * only without momentum; mask (uint8 [n], may be NULL): 0 forces the weight
 * and its velocity to 0. PARE_ERR_INVALID_ARG where the reference refuses
 * the parameters. */
pare_status pare_launch_train_sgd_step_f32(pare_cl_runtime *rt, const pare_ref_sgd_params *p,
                                           cl_mem w, cl_mem g, cl_mem velocity, cl_mem mask,
                                           size_t n, cl_event *event, pare_error *err);

/* Adam / AdamW step number t >= 1 in place, as pare_ref_adam_step_f32 (the
 * bias corrections are formed on the host in double from t and p->lr). */
pare_status pare_launch_train_adam_step_f32(pare_cl_runtime *rt, const pare_ref_adam_params *p,
                                            int64_t t, cl_mem w, cl_mem g, cl_mem m, cl_mem v,
                                            cl_mem mask, size_t n, cl_event *event,
                                            pare_error *err);

/* Gradient accumulation: y[i] += x[i]. */
pare_status pare_launch_train_accumulate_f32(pare_cl_runtime *rt, cl_mem x, cl_mem y, size_t n,
                                             cl_event *event, pare_error *err);

/* pare_ref_fake_quant_rows_f32 on the device: rows of cols values, bits in
 * [2, 16]; y may be x. The quotient x/scale is formed in fp32 (the
 * reference uses double), so a value within an ulp of a rounding tie may
 * land one step away. */
pare_status pare_launch_train_fake_quant_rows_f32(pare_cl_runtime *rt, size_t rows, size_t cols,
                                                  int bits, cl_mem x, cl_mem y, cl_event *event,
                                                  pare_error *err);

/* BatchNormalization with batch statistics over x [n, C, inner] (inner =
 * the product of the spatial dims), as pare_ref_batchnorm_train_f32: y,
 * the saved mean and 1/sqrt(var + eps) per channel, and (when both are
 * given) the running mean and variance updated in place. */
pare_status pare_launch_train_bn_forward_f32(pare_cl_runtime *rt, size_t n, size_t C, size_t inner,
                                             float eps, float momentum, cl_mem x, cl_mem scale,
                                             cl_mem bias, cl_mem running_mean, cl_mem running_var,
                                             cl_mem y, cl_mem saved_mean, cl_mem saved_inv_std,
                                             cl_event *event, pare_error *err);
/* Its backward, as pare_ref_batchnorm_backward_f32: dscale and dbias
 * (required, overwritten) and dx (may be NULL). */
pare_status pare_launch_train_bn_backward_f32(pare_cl_runtime *rt, size_t n, size_t C, size_t inner,
                                              cl_mem x, cl_mem scale, cl_mem saved_mean,
                                              cl_mem saved_inv_std, cl_mem dy, cl_mem dx,
                                              cl_mem dscale, cl_mem dbias, cl_event *event,
                                              pare_error *err);

#endif
