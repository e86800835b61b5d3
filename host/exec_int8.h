/* The integer path of the OpenCL executor. A Conv, Gemm or MatMul whose
 * input arrives through a per-tensor QuantizeLinear → DequantizeLinear
 * pair and whose weight is a DequantizeLinear of int8 constants (zero
 * point 0, one scale per output channel or one in all) is what an int8
 * engine runs: the pair quantizes x to int8 (uint8 zero points shifted by
 * −128, exactly), the layer multiplies int8 by int8 into int32
 * (kernels/gemm_i8.cl), the bias is added in int32 at scale s_x·s_w[c],
 * and the result leaves in fp32, dequantized and clamped by a fused Relu
 * or Clip. The float form computes the same products of the same integers
 * in fp32, so the two agree to within fp32 rounding and the bias's
 * rounding to s_x·s_w[c] (half a step).
 *
 * The layer is matched from constants alone when the plan's device state
 * is made, so that the Q and DQ nodes it absorbs are known before they
 * would run; on its first run the executor times both forms (the float one
 * being the pair's fake quantization and the fp32 kernel) and keeps the
 * faster, the figure going to the tuning database. Not matched: plans that keep parameters
 * (training), PARE_PLAN_NO_FUSE or PARE_NO_FUSE=1 (which also turn off every other fusion),
 * PARE_INT8=never, layers whose bias does not fit the int32 range the kernels keep exact,
 * reductions beyond PARE_QUANT_MAX_K, and any other shape of graph. */
#ifndef PARE_HOST_EXEC_INT8_H
#define PARE_HOST_EXEC_INT8_H

#include "engine/exec/exec.h"
#include "host/launch/conv2d_f32.h"
#include "host/runtime.h"

typedef struct pare_int8_layer {
  int q, dq;      /* the QuantizeLinear and DequantizeLinear it absorbs */
  int x;          /* the fp32 value the QuantizeLinear reads */
  float x_scale;  /* s_x */
  int32_t x_zero; /* int8 zero point */
  size_t n, k;    /* output channels and reduction length; n > 0: a matched layer */
  size_t ldw;     /* bytes per weight row: k, or for a Conv k rounded up to 64
                   * with zeros (whole vectors, no scalar tails) */
  /* Host copies until the first run uploads them: */
  int8_t *w;                       /* n rows of ldw, one per output channel */
  float *scale;                    /* [n]: s_x·s_w[c] */
  int32_t *bias;                   /* [n] at that scale, or NULL */
  int32_t *wsum;                   /* [n]: Σ_k w (the zero-point term) */
  cl_mem dw, dscale, dbias, dwsum; /* device copies, made on first run */
  int chosen;                      /* the executor's choice: 0 not yet, 1 integer, -1 float */
  int qdq_in_conv; /* float form of a Conv: the pair ran in the Conv's input copy last run */
} pare_int8_layer;

/* The DequantizeLinear that undoes QuantizeLinear n at once (the same
 * per-tensor scale and zero point, and the only reader of n's integer
 * output), or -1. */
int pare_exec_qdq_partner(const pare_plan *p, const pare_node *n);

/* 1 and L filled (host arrays allocated) when node idx runs on the
 * integer kernels; 0 otherwise, L zeroed. */
int pare_int8_layer_match(const pare_plan *p, int idx, pare_int8_layer *L);

/* Frees L's host arrays and device buffers (released through cl). */
void pare_int8_layer_release(pare_int8_layer *L, const pare_cl_api *cl);

/* Runs the layer: x (fp32, the QuantizeLinear's input) quantized into xq
 * (at least numel(x) bytes), then the integer Conv (geometry `conv`) or,
 * with conv NULL, the product of `rows` rows of k values; y fp32, clamped
 * to [act_min, act_max] when act is nonzero. */
pare_status pare_int8_layer_run(pare_cl_runtime *rt, pare_int8_layer *L,
                                const pare_conv2d_f32_args *conv, size_t rows, cl_mem x,
                                size_t x_count, cl_mem xq, cl_mem y, int act, float act_min,
                                float act_max, pare_error *err);

#endif
