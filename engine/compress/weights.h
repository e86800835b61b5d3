/* The weight matrix of a Conv, Gemm or MatMul node seen as [outputs ×
 * inputs], whatever its storage order: element (o, i) of the view is
 * data[o·so + i·si]. Shared by the compression passes. */
#ifndef PARE_ENGINE_COMPRESS_WEIGHTS_H
#define PARE_ENGINE_COMPRESS_WEIGHTS_H

#include "engine/graph/graph.h"

typedef struct pare_layer_weight {
  int node, weight, bias; /* value indices; bias -1 when absent */
  int64_t outs, ins;      /* Conv: ins = C/group · kh · kw */
  int64_t so, si;         /* strides of the view */
  int out_axis, in_axis;  /* the weight tensor's axes of outputs and (first) inputs */
} pare_layer_weight;

/* Fills lw for node `node` and returns NULL, or returns why the node has
 * no such weight: not Conv/Gemm/MatMul, or a weight that is not a constant
 * fp32 tensor of rank 2 (4 for Conv). */
const char *pare_layer_weight_of(const pare_graph *g, int node, pare_layer_weight *lw);

/* The first and last nodes that have such a weight (-1 when none); returns
 * how many nodes have one. */
int pare_layer_ends(const pare_graph *g, int *first, int *last);

/* 1 when the comma-separated `list` names node `node`, or holds "first"
 * (or "last") and node is `first` (`last`), as found by pare_layer_ends.
 * The lists of layers left alone by the compression passes. */
int pare_layer_listed(const pare_graph *g, int node, const char *list, int first, int last);

/* How many of the n weights are zero (either sign). */
int64_t pare_count_zeros(const float *w, size_t n);

/* The k-th smallest (k from 1 to n) of the n values of a, which it
 * reorders (quickselect, expected linear time). No NaN. */
float pare_kth_smallest(float *a, size_t n, size_t k);

#endif
