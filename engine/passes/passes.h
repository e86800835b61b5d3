/* Graph passes: rewrite a graph in place, keeping what it computes. */
#ifndef PARE_ENGINE_PASSES_H
#define PARE_ENGINE_PASSES_H

#include "engine/graph/graph.h"

/* Evaluates every node whose inputs are all constants and replaces its
 * outputs by constants (chains that depend on run-time shapes are folded
 * when a plan binds the shapes). *folded counts the nodes removed. */
pare_status pare_pass_fold_constants(pare_graph *g, int *folded, pare_error *err);

/* Folds BatchNormalization (inference) into the
 * Conv or Gemm before it when that layer's output feeds only the BN and all
 * parameters are constants: W' = W·s, b' = (b − mean)·s + beta with
 * s = gamma / sqrt(var + eps). */
pare_status pare_pass_fold_batchnorm(pare_graph *g, int *folded, pare_error *err);

/* The passes pare runs after import: constants, BN folding, dead nodes. */
pare_status pare_graph_optimize(pare_graph *g, pare_error *err);

#endif
