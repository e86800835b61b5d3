/* The reference backend: plain C11 implementations of every op and kernel.
 * It is the oracle of every test and the fallback when OpenCL is missing or
 * fails. Correctness and clarity come before speed here. */
#ifndef PARE_ENGINE_REF_H
#define PARE_ENGINE_REF_H

#include <stddef.h>

/* C[m×n] = alpha·op(A)·op(B) + beta·C (+ bias[j]), row-major with leading
 * dimensions; op(A)(i,p) = trans_a ? A[p*lda+i] : A[i*lda+p], likewise B.
 * Accumulates in double. With beta == 0, C is not read. */
void pare_ref_gemm_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                       size_t ldc, const float *bias);

/* Elementwise activations and arithmetic over n values; out may equal in. */
typedef enum pare_ref_act {
  PARE_REF_ACT_NONE = 0,
  PARE_REF_ACT_RELU,
  PARE_REF_ACT_RELU6,
  PARE_REF_ACT_LEAKY_RELU, /* alpha: negative slope */
  PARE_REF_ACT_SIGMOID,
  PARE_REF_ACT_TANH,
  PARE_REF_ACT_HARD_SIGMOID, /* max(0, min(1, alpha·x + beta)) */
  PARE_REF_ACT_HARD_SWISH,
  PARE_REF_ACT_ELU,  /* alpha */
  PARE_REF_ACT_SELU, /* alpha, beta = gamma */
  PARE_REF_ACT_CLIP, /* [alpha, beta] */
  PARE_REF_ACT_EXP,
  PARE_REF_ACT_SQRT,
  PARE_REF_ACT_NEG,
  PARE_REF_ACT_RECIPROCAL,
  PARE_REF_ACT_SHRINK, /* x < -alpha ? x + beta : x > alpha ? x - beta : 0 (ONNX Shrink: lambd,
                          bias) */
} pare_ref_act;

float pare_ref_act_apply(pare_ref_act act, float x, float alpha, float beta);
void pare_ref_act_f32(pare_ref_act act, const float *in, float *out, size_t n, float alpha,
                      float beta);

typedef enum pare_ref_binop {
  PARE_REF_ADD = 0,
  PARE_REF_SUB,
  PARE_REF_MUL,
  PARE_REF_DIV,
  PARE_REF_POW,
  PARE_REF_MAX,
  PARE_REF_MIN,
} pare_ref_binop;

/* The epilogue that pare's Conv and Gemm kernels fuse, over n outputs of
 * the layer (bias already added): y[i] = act(y[i] + residual[i]), residual
 * NULL for none, act NONE, RELU or CLIP to [lo, hi]. As those kernels do, it
 * passes NaN through the activation (unlike pare_ref_act_apply). */
void pare_ref_epilogue_f32(float *y, const float *residual, size_t n, pare_ref_act act, float lo,
                           float hi);

float pare_ref_binop_apply(pare_ref_binop op, float a, float b);
/* out[i] = a[i] op b[i] over n values (no broadcasting here). */
void pare_ref_binop_f32(pare_ref_binop op, const float *a, const float *b, float *out, size_t n);

#endif
