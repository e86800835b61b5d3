/* Launchers of kernels/gemm_i8.cl: int8 GEMM and convolution with int32
 * accumulation and fixed-point requantization, weight-only int8/int4 GEMM,
 * quantize and dequantize. The scheme and the reference they match (bit
 * for bit for every integer output and for the dequantized fp32 GEMM
 * output) are in engine/ref/quant.h.
 *
 * Conventions: device buffers, row-major, offsets and leading dimensions
 * in elements (bytes for int8/int4); an empty shape launches nothing and
 * accepts NULL buffers; PARE_ERR_INVALID_ARG for NULL buffers, bad leading
 * dimensions, zero points, clamps or k outside [1, PARE_QUANT_MAX_K];
 * PARE_ERR_UNSUPPORTED beyond 2^31 elements. `event` (may be NULL)
 * receives the last kernel's event. Per-channel parameter buffers
 * (multiplier, shift, scale, bias, wsum) are not checked for size. */
#ifndef PARE_HOST_LAUNCH_GEMM_I8_H
#define PARE_HOST_LAUNCH_GEMM_I8_H

#include "engine/ref/quant.h"
#include "host/runtime.h"

/* C = requant(A·Bᵀ − a_zero·wsum + bias) (pare_ref_gemm_i8), or with
 * out_f32 the dequantized C = (float)acc·scale[j] (pare_ref_gemm_i8_f32). */
typedef struct pare_gemm_i8_args {
  size_t m, n, k;
  cl_mem a; /* int8 m×k activations */
  size_t off_a, lda;
  int32_t a_zero;
  cl_mem b; /* int8 n×k weights, one row per output channel */
  size_t off_b, ldb;
  cl_mem bias; /* int32 [n], or NULL */
  /* int32 [n]: Σ_k B[j][k] (pare_launch_i8_row_sums, once per weight);
   * NULL: computed into a temporary buffer by each call with a_zero != 0. */
  cl_mem wsum;
  int out_f32;                /* 0: int8 C, 1: fp32 C */
  cl_mem multiplier, shift;   /* int8 C: int32 [n] each */
  int32_t c_zero, qmin, qmax; /* int8 C: zero point and clamp */
  cl_mem scale;               /* fp32 C: float [n] = s_a·s_w[j] */
  /* fp32 C: nonzero clamps each output to [act_min, act_max] (a fused ReLU
   * or Clip); int8 C takes its activation through qmin/qmax. */
  int act;
  float act_min, act_max;
  cl_mem c;
  size_t off_c, ldc;
} pare_gemm_i8_args;

pare_status pare_launch_gemm_i8(pare_cl_runtime *rt, const pare_gemm_i8_args *args, cl_event *event,
                                pare_error *err);

/* sums[c] = Σ_{p<k} w[off_w + c·ldw + p] for c < channels (int32). */
pare_status pare_launch_i8_row_sums(pare_cl_runtime *rt, size_t channels, size_t k, cl_mem w,
                                    size_t off_w, size_t ldw, cl_mem sums, cl_event *event,
                                    pare_error *err);

/* NCHW int8 convolution (pare_ref_conv2d_i8, or with out_f32
 * pare_ref_conv2d_i8_f32 clamped as gemm_i8's fp32 output). Plans: a direct
 * kernel when an output channel's group has few channels (depthwise;
 * profile key gemm_i8.direct_max_mg, 2), else per group im2col of a run of
 * images into a temporary buffer (at most gemm_i8.col_mib, 64 MiB) and one batched gemm_i8
 * with the channels along the rows. */
typedef struct pare_conv2d_i8_args {
  pare_conv_i8_shape shape;
  cl_mem x; /* int8 n×c×h×w */
  int32_t x_zero;
  cl_mem w; /* int8 oc×(c/groups)×kh×kw */
  /* Bytes from one weight row to the next (0: (c/groups)·kh·kw). Longer
   * rows must end in zeros; the product then runs over ldw values, which a
   * multiple of the kernel's vector length keeps free of scalar tails. */
  size_t ldw;
  cl_mem bias;                /* int32 [oc], or NULL */
  cl_mem wsum;                /* int32 [oc] row sums of w, or NULL (computed per call) */
  cl_mem multiplier, shift;   /* int8 y */
  int32_t y_zero, qmin, qmax; /* int8 y */
  int out_f32;                /* 0: int8 y, 1: fp32 y */
  cl_mem scale;               /* fp32 y: float [oc] = s_x·s_w[o] */
  int act;                    /* fp32 y: clamp to [act_min, act_max] */
  float act_min, act_max;
  cl_mem y; /* n×oc×oh×ow, int8 or fp32 */
} pare_conv2d_i8_args;

pare_status pare_launch_conv2d_i8(pare_cl_runtime *rt, const pare_conv2d_i8_args *args,
                                  cl_event *event, pare_error *err);

/* Weight-only GEMM (pare_ref_gemm_w8_f32 / pare_ref_gemm_w4_f32):
 * C = scale[j]·(A·Wᵀ) + bias[j], fp32 A and C, W int8 (bits 8) or packed
 * int4 (bits 4, ldw >= ceil(k/2) bytes). */
typedef struct pare_gemm_wq_args {
  size_t m, n, k;
  int bits; /* 8 or 4 */
  cl_mem a; /* fp32 m×k */
  size_t off_a, lda;
  cl_mem w; /* n rows of ldw bytes */
  size_t off_w, ldw;
  cl_mem scale; /* float [n] */
  cl_mem bias;  /* float [n], or NULL */
  cl_mem c;     /* fp32 m×n */
  size_t off_c, ldc;
} pare_gemm_wq_args;

pare_status pare_launch_gemm_wq_f32(pare_cl_runtime *rt, const pare_gemm_wq_args *args,
                                    cl_event *event, pare_error *err);

/* q[i] = clamp(rint(x[i]·(1/scale)) + zero_point, −128, 127) and
 * x[i] = (float)(q[i] − zero_point)·scale over count values (scale > 0 and
 * finite, zero_point in [−128, 127]). */
pare_status pare_launch_quantize_i8(pare_cl_runtime *rt, size_t count, cl_mem x, size_t off_x,
                                    float scale, int32_t zero_point, cl_mem q, size_t off_q,
                                    cl_event *event, pare_error *err);
pare_status pare_launch_dequantize_i8(pare_cl_runtime *rt, size_t count, cl_mem q, size_t off_q,
                                      float scale, int32_t zero_point, cl_mem x, size_t off_x,
                                      cl_event *event, pare_error *err);

#endif
