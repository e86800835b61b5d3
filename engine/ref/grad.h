/* Reference implementations of what training needs on top of the forward
 * operators of ops.h: the backward pass of each operator a small CNN uses,
 * the training-mode BatchNormalization forward, the classification and
 * distillation losses, the SGD and Adam optimizers, learning-rate schedules,
 * pruning masks and fake quantization with a straight-through estimator.
 *
 * Conventions follow ops.h: dense row-major tensors, int64_t shapes, and an
 * int result (PARE_REF_OK or a negative PARE_REF_E* code; on an error nothing
 * has been read or written out of bounds and the outputs may be partly
 * written). A backward function takes the upstream gradient dy, shaped like
 * the forward output, and WRITES (does not accumulate into) the gradient of
 * each input it is given a buffer for; a NULL gradient buffer means "not
 * needed". Sums run in double. */
#ifndef PARE_ENGINE_REF_GRAD_H
#define PARE_ENGINE_REF_GRAD_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ref/ops.h"

/* ---- Conv ---- */

/* Backward of pare_ref_conv_f32 with the same parameters and shapes: x
 * [N, C, in...], w [M, C/group, k...], dy [N, M, out...] (out from
 * pare_ref_conv_shape). Writes dx [N, C, in...], dw like w and db [M]; any of
 * the three may be NULL. x is only read for dw, w only for dx. */
int pare_ref_conv_backward_f32(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                               const float *w, const int64_t *w_dims, const float *dy, float *dx,
                               float *dw, float *db);

/* ---- Gemm and MatMul ---- */

/* Backward of Y[m×n] = alpha·op(A)·op(B) + beta·C with dense operands: A is
 * [m, k] ([k, m] when trans_a), B is [k, n] ([n, k] when trans_b) and C has
 * c_rank (0 to 2) dims c_dims that broadcast unidirectionally to [m, n].
 * Writes dA (shaped like A), dB (like B) and dC (like C: beta·dy summed over
 * the broadcast axes); each may be NULL, and c_dims is only read for dC. */
int pare_ref_gemm_backward_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                               float beta, const float *a, const float *b, const float *dy,
                               float *da, float *db, int c_rank, const int64_t *c_dims, float *dc);

/* Backward of the 2-D MatMul Y[m×n] = A[m×k]·B[k×n]: dA = dY·Bᵀ, dB = Aᵀ·dY.
 * da or db may be NULL. */
int pare_ref_matmul_backward_f32(size_t m, size_t n, size_t k, const float *a, const float *b,
                                 const float *dy, float *da, float *db);

/* ---- Activations ---- */

/* dx[i] = dy[i]·f'(x[i]) for every pare_ref_act, with alpha and beta as in
 * pare_ref_act_apply. y (the forward output, may be NULL) is used where the
 * derivative is a function of it: sigmoid y(1-y), tanh 1-y², exp y,
 * sqrt 1/(2y), reciprocal -y²; without it the derivative comes from x in
 * double. At a kink the derivative is that of the branch the forward takes
 * for x: relu 0 at x = 0, leaky_relu / elu 1 at x = 0, selu alpha·gamma at
 * x = 0, relu6 0 at 0 and 6, clip 1 on [alpha, beta] (ends included, as
 * torch.clamp), hard_sigmoid alpha only strictly inside (0, 1) and
 * hard_swish x/3 + 1/2 on [-3, 3]. PARE_REF_EINVAL for an unknown act. */
int pare_ref_act_backward_f32(pare_ref_act act, const float *x, const float *y, const float *dy,
                              float *dx, size_t n, float alpha, float beta);

/* ---- Pooling ---- */

/* Backward of pare_ref_maxpool_f32 (1 to 3 spatial dims, same window rules,
 * ceil_mode, pads and dilations): each window's dy goes to the first
 * position, in row-major scan order, that holds its maximum (the one the
 * forward picked); windows with no input position drop their dy. dx has the
 * shape of x. */
int pare_ref_maxpool_backward_f32(const pare_ref_pool_params *p, const float *x,
                                  const int64_t *x_dims, const float *dy, float *dx);

/* Backward of pare_ref_avgpool_f32: each window's dy divided by the same
 * divisor as the forward (count_include_pad rules included) is added to every
 * input position inside the window. Only x_dims is needed, not x. */
int pare_ref_avgpool_backward_f32(const pare_ref_pool_params *p, const int64_t *x_dims,
                                  const float *dy, float *dx);

/* Backward of GlobalAveragePool: dx[n, c, ...] = dy[n, c] / (spatial size). */
int pare_ref_global_avgpool_backward_f32(int rank, const int64_t *x_dims, const float *dy,
                                         float *dx);

/* ---- Broadcasting binary ops ---- */

/* Backward of pare_ref_broadcast_binop_f32 for PARE_REF_ADD, SUB, MUL and DIV
 * (others give PARE_REF_EINVAL): the elementwise partials times dy (shaped
 * like the broadcast result) summed over the axes each input was broadcast
 * along, written to da (shape of a) and db (shape of b); either may be NULL.
 * a is read only for db of MUL / DIV, b for da of MUL / DIV and db of DIV.
 * PARE_REF_ENOMEM when the double accumulators cannot be allocated. */
int pare_ref_broadcast_binop_backward_f32(pare_ref_binop op, const float *a, int a_rank,
                                          const int64_t *a_dims, const float *b, int b_rank,
                                          const int64_t *b_dims, const float *dy, float *da,
                                          float *db);

/* ---- BatchNormalization, training mode ---- */

/* Training-mode BatchNormalization, channel axis 1, rank >= 2, with
 * M = N·(spatial size) >= 1 values per channel:
 *   mean = Σ x / M, var = Σ (x - mean)² / M (biased, used to normalize),
 *   y = scale·(x - mean)·inv_std + bias with inv_std = 1/sqrt(var + eps).
 * saved_mean and saved_inv_std [C] (may be NULL) receive mean and inv_std for
 * the backward. running_mean and running_var [C] (may be NULL) are updated
 * in place as ONNX defines, running = running·momentum + batch·(1-momentum),
 * where the batch variance for running_var is the UNBIASED one,
 * Σ (x - mean)² / (M - 1), as PyTorch does (the ONNX reference uses the
 * biased one); with M == 1 it falls back to the biased one (0). */
int pare_ref_batchnorm_train_f32(const float *x, int rank, const int64_t *dims, const float *scale,
                                 const float *bias, float eps, float momentum, float *running_mean,
                                 float *running_var, float *y, float *saved_mean,
                                 float *saved_inv_std);

/* Backward of pare_ref_batchnorm_train_f32 given its saved mean and inverse
 * std. With x̂ = (x - mean)·inv_std: dbias = Σ dy, dscale = Σ dy·x̂, and
 * dx = scale·inv_std·(dy - dbias/M - x̂·dscale/M). dx, dscale and dbias may
 * each be NULL. */
int pare_ref_batchnorm_backward_f32(const float *x, int rank, const int64_t *dims,
                                    const float *scale, const float *saved_mean,
                                    const float *saved_inv_std, const float *dy, float *dx,
                                    float *dscale, float *dbias);

/* ---- Losses (logits are [N, K] rows, N >= 1, K >= 1) ---- */

/* Softmax cross-entropy with int64 class labels [N] in [0, K):
 * loss = mean_n (logsumexp(logits[n]) - logits[n, label[n]]), and (when
 * dlogits is not NULL) dlogits = (softmax(logits) - onehot(label)) / N.
 * PARE_REF_ERANGE for a label outside [0, K), before anything is written. */
int pare_ref_softmax_xent_f32(const float *logits, const int64_t *labels, int64_t n, int64_t k,
                              float *loss, float *dlogits);

/* Distillation term with temperature T > 0, p = softmax(teacher/T) and
 * q = softmax(student/T): loss = T²·mean_n KL(p ‖ q) = T²·mean_n Σ_k p·(log p -
 * log q), and dstudent (may be NULL) = T·(q - p)/N. */
int pare_ref_distill_kl_f32(const float *teacher, const float *student, int64_t n, int64_t k,
                            float temperature, float *loss, float *dstudent);

/* Combined distillation loss L = alpha·CE(labels, student) + (1 - alpha)·
 * T²·mean KL(softmax(teacher/T) ‖ softmax(student/T)), alpha in [0, 1], and
 * its gradient with respect to the student logits (may be NULL). With
 * alpha == 1 the teacher is not read, with alpha == 0 the labels are not. */
int pare_ref_distill_loss_f32(const float *teacher, const float *student, const int64_t *labels,
                              int64_t n, int64_t k, float temperature, float alpha, float *loss,
                              float *dstudent);

/* ---- Optimizers (PyTorch semantics), in place over n values ---- */

/* mask (may be NULL): where mask[i] == 0 the weight is forced to 0 after the
 * update and its optimizer state is reset to 0, so pruned weights stay zero
 * and carry no momentum. */

typedef struct pare_ref_sgd_params {
  float lr;
  float momentum;     /* μ >= 0; 0 turns momentum off */
  float weight_decay; /* coupled L2: added to the gradient */
  int nesterov;       /* needs momentum > 0 */
} pare_ref_sgd_params;

/* lr as given, no momentum, no weight decay, no Nesterov. */
void pare_ref_sgd_params_init(pare_ref_sgd_params *p, float lr);

/* One SGD step: d = g + wd·w; with momentum v = μ·v + d (v starts at zeros,
 * which matches PyTorch's first step) and w -= lr·(nesterov ? d + μ·v : v);
 * without it w -= lr·d. velocity [n] is only used (and may only be NULL)
 * when momentum is 0. PARE_REF_EINVAL for a negative lr, momentum or weight
 * decay, or Nesterov without momentum. */
int pare_ref_sgd_step_f32(const pare_ref_sgd_params *p, float *w, const float *g, float *velocity,
                          size_t n, const uint8_t *mask);

typedef struct pare_ref_adam_params {
  float lr;
  float beta1, beta2; /* in [0, 1) */
  float eps;
  float weight_decay;
  int decoupled; /* 1: AdamW (w *= 1 - lr·wd first); 0: Adam (g += wd·w) */
} pare_ref_adam_params;

/* lr as given, betas 0.9 and 0.999, eps 1e-8, no weight decay, Adam. */
void pare_ref_adam_params_init(pare_ref_adam_params *p, float lr);

/* One Adam / AdamW step number t >= 1 (counting this one), as torch.optim:
 *   m = β1·m + (1-β1)·g, v = β2·v + (1-β2)·g²,
 *   w -= (lr / (1-β1^t))·m / (sqrt(v) / sqrt(1-β2^t) + eps),
 * with the weight decay applied as `decoupled` says. m and v [n] start at
 * zeros and are updated in place. */
int pare_ref_adam_step_f32(const pare_ref_adam_params *p, float *w, const float *g, float *m,
                           float *v, size_t n, int64_t t, const uint8_t *mask);

/* w[i] = 0 wherever mask[i] == 0 (the hook the steps apply). */
void pare_ref_apply_mask_f32(float *w, const uint8_t *mask, size_t n);

/* ---- Learning-rate schedules ---- */

typedef enum pare_ref_lr_kind {
  PARE_REF_LR_CONSTANT = 0,
  PARE_REF_LR_STEP,   /* lr·gamma^floor(t / step_size) */
  PARE_REF_LR_COSINE, /* lr_min + (lr - lr_min)·(1 + cos(π·min(t, total)/total))/2 */
} pare_ref_lr_kind;

typedef struct pare_ref_lr_params {
  pare_ref_lr_kind kind;
  double lr;                  /* the base rate */
  double gamma;               /* STEP */
  int64_t step_size;          /* STEP, >= 1 */
  double lr_min;              /* COSINE */
  int64_t total;              /* COSINE: length of the decay after warm-up, >= 1 */
  int64_t warmup;             /* >= 0 warm-up epochs (or steps) */
  double warmup_start_factor; /* in [0, 1]: the warm-up starts at lr·this */
} pare_ref_lr_params;

/* The rate at epoch (or step) t >= 0. For t < warmup the rate rises linearly
 * from lr·warmup_start_factor at t = 0 towards lr, lr·(f + (1 - f)·t/warmup);
 * from t = warmup on, the schedule runs at t - warmup. PARE_REF_EINVAL for a
 * negative t or a bad parameter. */
int pare_ref_lr_at(const pare_ref_lr_params *p, int64_t t, double *lr);

/* ---- Fake quantization with a straight-through estimator ---- */

/* y = (clamp(round(x/scale) + zero_point, qmin, qmax) - zero_point)·scale,
 * rounding half to even as QuantizeLinear and torch.fake_quantize do; x/scale
 * is formed in double. NaN stays NaN. Needs scale > 0 and finite and
 * qmin <= zero_point <= qmax. y may equal x. */
int pare_ref_fake_quant_f32(const float *x, size_t n, float scale, int32_t zero_point, int32_t qmin,
                            int32_t qmax, float *y);

/* Straight-through backward: dx = dy where qmin <= round(x/scale) + zp <= qmax
 * (the value was not clamped), else 0. dx may equal dy. */
int pare_ref_fake_quant_backward_f32(const float *x, size_t n, float scale, int32_t zero_point,
                                     int32_t qmin, int32_t qmax, const float *dy, float *dx);

/* Per-channel variants: x has rank >= 1 and dims; scales and zero_points
 * (may be NULL: all 0) have dims[axis] entries (axis negative counts from the
 * end) and the channel of an element is its index along axis. */
int pare_ref_fake_quant_channel_f32(const float *x, int rank, const int64_t *dims, int64_t axis,
                                    const float *scales, const int32_t *zero_points, int32_t qmin,
                                    int32_t qmax, float *y);
int pare_ref_fake_quant_channel_backward_f32(const float *x, int rank, const int64_t *dims,
                                             int64_t axis, const float *scales,
                                             const int32_t *zero_points, int32_t qmin, int32_t qmax,
                                             const float *dy, float *dx);

/* Symmetric weight fake quantization for quantization-aware training:
 * `rows` rows of `cols` values (a weight's output channels, or one row for
 * the whole tensor), each with scale = max|x|/qmax, qmax = 2^(bits-1) - 1
 * (narrow range; the scale is formed in float), y = clamp(round(x/scale),
 * -qmax, qmax)·scale; an all-zero row stays zero. With this scale nothing
 * is clamped, so the straight-through gradient is dy itself. bits in
 * [2, 16]. y may equal x. */
int pare_ref_fake_quant_rows_f32(const float *x, size_t rows, size_t cols, int bits, float *y);

/* Shared weights with trained centroids (Deep Compression's trained
 * quantization): y[i] = the mean of x over the elements that share i's
 * label, label[i] in [0, k); label 255 makes y[i] 0 (a pruned weight).
 * Means are taken in double. With x the master weights after an optimizer
 * step from y, each centroid moves by the mean of its members' updates:
 * the centroid's gradient is the mean gradient of the weights sharing it
 * (an SGD step on the centroid, the rate divided by the cluster's size).
 * k in [1, 255]; a label >= k and != 255 is an error. y may equal x. */
int pare_ref_share_project_f32(const float *x, const uint8_t *label, size_t n, int k, float *y);

#endif
