/* Post-training quantization, written into the graph as ONNX does it:
 *   weights   the fp32 weight of every Conv, Gemm and MatMul becomes an
 *             integer constant (int8, or packed int4 for 2..4 bits;
 *             symmetric, per output channel or per tensor) read through a
 *             DequantizeLinear node, or an fp16 constant read through a
 *             Cast: the file holds the small form;
 *   activations  each layer's input passes through QuantizeLinear →
 *             DequantizeLinear (uint8, asymmetric, per tensor) with a
 *             scale and zero point calibrated on sample data.
 * Every backend runs such a graph with int8 numerics exactly (the QDQ
 * semantics), onnxruntime runs it when exported, and the runtime may fuse
 * the QDQ pattern around a layer into integer kernels. See
 * docs/compression.md ("Quantization"). */
#ifndef PARE_ENGINE_COMPRESS_QUANTIZE_H
#define PARE_ENGINE_COMPRESS_QUANTIZE_H

#include "engine/graph/graph.h"

typedef enum pare_calib_method {
  PARE_CALIB_MINMAX = 0, /* the range seen */
  PARE_CALIB_PERCENTILE, /* the range of the central `percentile` of values */
  PARE_CALIB_ENTROPY,    /* the clip that keeps the quantized histogram closest (KL) */
  PARE_CALIB_MSE,        /* the clip with the least mean squared quantization error */
} pare_calib_method;

typedef struct pare_quant_options {
  int weight_bits; /* 2..8 (integer), 16 (fp16 weights) */
  int per_channel; /* weights: one scale per output channel (default) or per tensor */
  int act_bits;    /* 0: weights only; 8: uint8 activations */
  pare_calib_method method;
  double percentile; /* PARE_CALIB_PERCENTILE, e.g. 99.99 */
  const char *dense; /* layers left in float: names, "first", "last"; NULL: none */
  const char *dataset;
  int64_t calib_images;
} pare_quant_options;

/* Defaults: int8 weights per channel, uint8 activations, min-max, 99.99,
 * fashion-mnist, 1000 images. */
void pare_quant_options_init(pare_quant_options *o);

/* "int8" (w8a8), "int4" (w4a8), "fp16", "wN" (weights only, N = 2..8),
 * "wNa8". 0 when not one of them. */
int pare_quant_parse(const char *spec, pare_quant_options *o);
/* "minmax", "percentile", "entropy", "mse". 0 when not one of them. */
int pare_calib_parse(const char *name, pare_calib_method *m);

typedef struct pare_quant_layer {
  char node[128];
  pare_op op;
  int weight_bits;      /* 0: left in float */
  double weight_error;  /* relative RMS error of the quantized weight */
  float act_lo, act_hi; /* calibrated input range (act_bits > 0) */
  float act_scale;
  int32_t act_zero_point;
  uint64_t bytes_before, bytes_after; /* weight bytes as stored */
  const char *why;                    /* when left in float */
} pare_quant_layer;

/* Quantizes g in place (weights mapped from a file must be owned first).
 * layers (may be NULL): a malloc'ed report of every Conv, Gemm and MatMul. */
pare_status pare_quantize_apply(pare_graph *g, const pare_quant_options *o,
                                pare_quant_layer **layers, int *n_layers, pare_error *err);

/* The clip range [lo, hi] (lo <= 0 <= hi) of n sampled values with exact
 * extremes min/max by the method, for `levels` quantization levels. */
void pare_calib_range(pare_calib_method m, double percentile, float *samples, size_t n, float min,
                      float max, int levels, float *lo, float *hi);

#endif
