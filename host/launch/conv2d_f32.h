/* Launcher of kernels/conv2d_f32.cl: fp32 NCHW 2-D convolution (ONNX Conv)
 * with groups, stride, dilation, asymmetric pads, fused bias, residual and
 * activation, on device buffers. */
#ifndef PARE_HOST_LAUNCH_CONV2D_F32_H
#define PARE_HOST_LAUNCH_CONV2D_F32_H

#include "host/launch/launch.h"

/* The activations conv2d_f32 fuses (pare_conv2d_f32_args.act): those of
 * gemm_f32's epilogue. */
#define PARE_CONV2D_ACT_NONE PARE_GEMM_ACT_NONE
#define PARE_CONV2D_ACT_RELU PARE_GEMM_ACT_RELU
#define PARE_CONV2D_ACT_CLIP PARE_GEMM_ACT_CLIP

/* x [n, c, h, w], weight [m, c/group, kh, kw], bias [m] (may be NULL) and
 * y [n, m, oh, ow]: dense fp32 buffers at offset 0. oh and ow are the ONNX
 * output dims: (h + pad_top + pad_bottom - ((kh-1)·dil_h + 1)) / stride_h + 1
 * and likewise for w. act: PARE_CONV2D_ACT_*; act_min and act_max bound
 * the clip. scratch: a buffer of pare_conv2d_f32_scratch_bytes() bytes, NULL
 * when that is 0. residual (may be NULL): a buffer shaped as y, added after
 * the bias and before the activation (y = act(conv + bias + residual), the
 * second convolution of a ResNet block); it must not be y. */
typedef struct pare_conv2d_f32_args {
  size_t n, c, h, w;
  size_t m, kh, kw;
  size_t group;
  size_t stride_h, stride_w, dil_h, dil_w;
  size_t pad_top, pad_left, pad_bottom, pad_right;
  size_t oh, ow;
  cl_mem x, weight, bias /* may be NULL */, y;
  int act; /* 0 none, 1 relu, 2 clip */
  float act_min, act_max;
  cl_mem scratch;  /* may be NULL when pare_conv2d_f32_scratch_bytes() is 0 */
  cl_mem residual; /* may be NULL */
  /* in_quant 1: x passes a QuantizeLinear → DequantizeLinear pair on the
   * way in, x' = clamp(rint(x / in_scale), in_lo, in_hi)·in_scale (in_lo and
   * in_hi: the integer range less the zero point), as
   * pare_launch_fake_quant_f32 computes it; pads stay 0. Only the implicit
   * GEMM takes it (pare_conv2d_f32_can_quantize_input). */
  int in_quant;
  float in_scale, in_lo, in_hi;
  /* baked (may be NULL): this layer's weights (the same values as
   * `weight`) as code for the implicit GEMM (pare_conv2d_baked_make); a
   * shape the implicit GEMM cannot take, or a pooling its tile cannot,
   * runs on `weight` as without it. */
  const struct pare_conv2d_baked *baked;
  /* wino_u (may be NULL): Winograd's transformed weights U[16][M][C] of
   * `weight`, made beforehand by pare_conv2d_winograd_weights (a constant
   * weight's, kept between runs); NULL: a Winograd launch makes them in its
   * scratch. Other paths ignore it. */
  cl_mem wino_u;
} pare_conv2d_f32_args;

/* Bytes of device scratch the launch of `a` needs on rt's device (0 for
 * the direct and 1x1 paths); depends only on the shape and the profile. */
size_t pare_conv2d_f32_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a);

/* Enqueues the convolution (several kernels on the in-order queue; no
 * wait). `event` (may be NULL) gets the event of the last kernel enqueued,
 * whose completion means y is ready; no event is returned when nothing was
 * enqueued (an empty output), *event is then NULL. Errors name the kernel
 * and the shape. */
pare_status pare_launch_conv2d_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                   cl_event *event, pare_error *err);

/* A pooling window after the epilogue: the Conv → (BatchNormalization) →
 * Relu/Clip → MaxPool/AveragePool block in one launch sequence, the conv
 * output never stored. No pads, no dilation, floor mode; the average
 * divides by kh·kw. */
#define PARE_CONV2D_POOL_MAX 1
#define PARE_CONV2D_POOL_AVG 2
typedef struct pare_conv2d_pool {
  int kind;              /* PARE_CONV2D_POOL_MAX or PARE_CONV2D_POOL_AVG */
  size_t kh, kw, sh, sw; /* window and strides */
} pare_conv2d_pool;

/* 1 when a launch of `a` can take the pooling: the implicit GEMM (2×2/2
 * windows), im2col and 1×1 GEMM paths (not the direct one), no residual, a
 * window that fits the output.
 * Reads only the geometry and the residual (the other buffers may be unset). */
int pare_conv2d_f32_can_pool(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                             const pare_conv2d_pool *pool);
/* 1 when the launch of `a` (with `pool`, may be NULL) can take in_quant:
 * its plan is the implicit GEMM. Reads only the geometry. */
int pare_conv2d_f32_can_quantize_input(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                       const pare_conv2d_pool *pool);
/* Scratch bytes of the pooled launch (pool NULL: pare_conv2d_f32_scratch_bytes). */
size_t pare_conv2d_f32_pool_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                          const pare_conv2d_pool *pool);
/* The convolution with its epilogue and then the pooling: a->y is the
 * pooled output [n, m, (oh - kh)/sh + 1, (ow - kw)/sw + 1].
 * PARE_ERR_UNSUPPORTED when pare_conv2d_f32_can_pool says no. */
pare_status pare_launch_conv2d_pool_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                        const pare_conv2d_pool *pool, cl_event *event,
                                        pare_error *err);

/* When the launch of `a` (with `pool`, may be NULL) runs Winograd: *u gets
 * a new buffer (the caller's to release) holding its transformed weights
 * U[16][M][C] of a->weight, for a->wino_u; else *u is NULL. */
pare_status pare_conv2d_winograd_weights(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                         const pare_conv2d_pool *pool, cl_mem *u, pare_error *err);

/* Weights baked into the implicit GEMM's code (pare_conv2d_f32_args's
 * `baked`): the text that defines BAKED_BODY for w [m][cg·kh·kw] (per
 * block of tm output channels, each tap with a nonzero weight in the
 * block and one FMA per nonzero weight, the weight an exact hexadecimal
 * literal), its hash (the program's key, taken once here rather than on
 * every launch) and the tile: tr rows by tm = pare_conv2d_baked_tm(m /
 * group, tr) channels (a block never straddles two groups). */
typedef struct pare_conv2d_baked {
  char *text;
  uint64_t hash;
  int tm, tr;
} pare_conv2d_baked;

/* Fills *out (its text malloc'd); 0, or -1 (out zeroed) when a weight is
 * not finite or memory runs out. pare_conv2d_baked_free releases it. */
int pare_conv2d_baked_make(const float *w, size_t m, size_t group, size_t cg, size_t kh, size_t kw,
                           int tr, pare_conv2d_baked *out);
void pare_conv2d_baked_free(pare_conv2d_baked *b);
/* The channel tile a baked layer of mg channels per group runs with at tr
 * rows: the largest divisor of mg up to 24/tr (its tm·tr vector
 * accumulators stay in a CPU's 32 vector registers). On PoCL, 70% zeros,
 * SimpleCNN's pruned conv2: tr 1 and tm 24 ran 1.7× the dense implicit
 * GEMM, tr 2 and tm 12 1.3×, tr 4 and tm 6 1.0×. */
int pare_conv2d_baked_tm(size_t mg, int tr);

#endif
