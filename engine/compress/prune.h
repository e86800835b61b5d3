/* Pruning: weights of Conv, Gemm and MatMul nodes set to zero by magnitude
 * (per layer, global, or below a threshold), in N:M patterns along each
 * output's inputs, or whole output channels removed from a layer and from
 * the inputs of the layers that read them (structured). See
 * docs/compression.md ("Pruning"). */
#ifndef PARE_ENGINE_COMPRESS_PRUNE_H
#define PARE_ENGINE_COMPRESS_PRUNE_H

#include "engine/graph/graph.h"

typedef enum pare_prune_mode {
  PARE_PRUNE_LAYER = 0,  /* every layer to `amount` zeros by |w| */
  PARE_PRUNE_GLOBAL,     /* one |w| cut over all layers: `amount` zeros in total */
  PARE_PRUNE_THRESHOLD,  /* |w| <= amount becomes zero */
  PARE_PRUNE_NM,         /* n nonzeros (the largest |w|) in every m consecutive inputs */
  PARE_PRUNE_STRUCTURED, /* remove `amount` of each layer's output channels, smallest norm first */
  PARE_PRUNE_LAMP,       /* one cut over all layers by LAMP score (w² over the sum of the
                          * squares of the layer's weights at least as large) */
} pare_prune_mode;

typedef struct pare_prune_options {
  pare_prune_mode mode;
  double amount; /* sparsity or channel fraction in [0, 1), or the threshold θ */
  int n, m;      /* PARE_PRUNE_NM */
  int norm;      /* PARE_PRUNE_STRUCTURED: 1 (L1, default) or 2 (L2) */
  /* Nodes left dense: comma-separated names, and the words "first" and
   * "last" for the first and last prunable layers; "none" prunes all.
   * NULL means "first,last". */
  const char *dense;
} pare_prune_options;

/* Defaults: LAYER, amount 0.5, 2:4, L1, first and last layers dense. */
void pare_prune_options_init(pare_prune_options *o);

/* "layer", "global", "threshold", "structured", "structured-l2", or "N:M"
 * such as "2:4" into o's mode (and n, m, norm). 0 when not one of them. */
int pare_prune_parse_mode(const char *text, pare_prune_options *o);

typedef struct pare_prune_layer {
  char node[128];
  pare_op op;
  int64_t params_before, params;     /* weight elements before and after */
  int64_t zeros_before, zeros;       /* zero weights before and after */
  int64_t channels_before, channels; /* output channels before and after */
  int pruned;
  const char *why; /* when left as it is */
} pare_prune_layer;

/* Prunes g in place. Weights mapped from a file must be owned first.
 * layers (may be NULL) receives a malloc'ed report of every Conv, Gemm and
 * MatMul node, *n_layers their count. */
pare_status pare_prune_apply(pare_graph *g, const pare_prune_options *o, pare_prune_layer **layers,
                             int *n_layers, pare_error *err);

#endif
