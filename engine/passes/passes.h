/* Graph passes: rewrite a graph in place, keeping what it computes. */
#ifndef PARE_ENGINE_PASSES_H
#define PARE_ENGINE_PASSES_H

#include "engine/graph/graph.h"

/* Evaluates every node whose inputs are all constants and replaces its
 * outputs by constants (chains that depend on run-time shapes are folded
 * when a plan binds the shapes). *folded counts the nodes removed. */
pare_status pare_pass_fold_constants(pare_graph *g, int *folded, pare_error *err);
/* The same; with dequantize, DequantizeLinear of integer constants (a
 * quantized weight as stored) is folded too, into float weights. */
pare_status pare_pass_fold_constants_ex(pare_graph *g, int dequantize, int *folded,
                                        pare_error *err);

/* Folds BatchNormalization (inference) into the
 * Conv or Gemm before it when that layer's output feeds only the BN and all
 * parameters are constants: W' = W·s, b' = (b − mean)·s + beta with
 * s = gamma / sqrt(var + eps). */
pare_status pare_pass_fold_batchnorm(pare_graph *g, int *folded, pare_error *err);

/* The arithmetic of that fold (the pass and the OpenCL executor's Conv +
 * BatchNormalization fusion share it), in double: a weight of `numel`
 * values with `channels` output channels, element i belonging to channel
 * i % channels when channel_last (a Gemm without transB), else to
 * i / (numel / channels); bias may be NULL (zeros). Writes w_out[numel]
 * and b_out[channels]. */
void pare_bn_fold_f32(int64_t numel, int64_t channels, int channel_last, const float *w,
                      const float *bias, const float *gamma, const float *beta, const float *mean,
                      const float *var, float eps, float *w_out, float *b_out);

/* The passes pare runs after import: constants, BN folding, dead nodes.
 * The _ex form leaves BatchNormalization unfolded when fold_bn is 0 (ONNX
 * import under PARE_NO_FUSE=1). */
pare_status pare_graph_optimize(pare_graph *g, pare_error *err);
pare_status pare_graph_optimize_ex(pare_graph *g, int fold_bn, pare_error *err);

#endif
