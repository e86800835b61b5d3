/* Weight sharing (Deep Compression, Han et al. 2016): the weights of each
 * Conv, Gemm and MatMul are clustered by a 1-D k-means into at most 2^bits
 * values, a codebook per layer, and each weight is replaced by its
 * cluster's centroid. Zeros (pruned weights) are not clustered: they stay
 * exactly zero and take one of the 2^bits codes. See docs/compression.md
 * ("Weight sharing"). */
#ifndef PARE_ENGINE_COMPRESS_SHARE_H
#define PARE_ENGINE_COMPRESS_SHARE_H

#include "engine/graph/graph.h"

/* Lloyd's k-means of the n values `sorted` (ascending, finite) into at most
 * k clusters, centroids first spread evenly over [min, max]. Stops when no
 * value changes cluster, or after `max_iter` rounds. Clusters left empty
 * are dropped: centroids (room for k) receives the ones left, ascending,
 * and the call returns their count. Needs n >= 1 and k >= 1; returns -1
 * when out of memory. */
int pare_kmeans_1d(const float *sorted, size_t n, int k, int max_iter, double *centroids);

typedef struct pare_share_layer {
  char node[128];
  pare_op op;
  int64_t params, zeros; /* weight elements, zeros among them */
  int64_t values;        /* distinct values afterwards (0: not counted, left as it is) */
  int bits;              /* codebook of 2^bits entries (0: left as it is) */
  double rms_error;      /* ‖w − w_shared‖ / ‖w‖ */
  int shared;
  const char *why; /* when left as it is */
} pare_share_layer;

/* Shares the weights of every Conv, Gemm and MatMul of g in place, bits
 * 1..8, except the layers named in `dense` (comma-separated; "first" and
 * "last" for the first and last such layers; NULL or "none": none). The
 * weights must be owned (not mapped from a file). layers (may be NULL)
 * receives a malloc'ed report of every such layer, *n_layers their count. */
pare_status pare_share_apply(pare_graph *g, int bits, const char *dense, pare_share_layer **layers,
                             int *n_layers, pare_error *err);

#endif
