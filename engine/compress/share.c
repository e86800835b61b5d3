/* Weight sharing by 1-D k-means (share.h).
 *
 * In one dimension a cluster of Lloyd's algorithm is a run of the sorted
 * values: the values nearer to centroid j than to its neighbours lie
 * between the midpoints (c[j-1] + c[j]) / 2 and (c[j] + c[j+1]) / 2. So the
 * values are sorted once, each round finds the k − 1 run boundaries by
 * binary search and takes each run's mean from a prefix sum: a round costs
 * O(k log n), the whole pass O(n log n) for the sort. */
#include "engine/compress/share.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/weights.h"

enum { SHARE_MAX_ITER = 50, SHARE_MAX_K = 256 };

/* The first index in sorted[lo..n) whose value is >= x (n when none). */
static size_t first_at_least(const float *sorted, size_t lo, size_t n, double x) {
  size_t hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if ((double)sorted[mid] >= x)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

/* The cluster of value x: how many of the k − 1 midpoints are <= x (a value
 * on a midpoint goes to the upper cluster, as first_at_least places it). */
static int cluster_of(const double *mid, int k, double x) {
  int lo = 0, hi = k - 1;
  while (lo < hi) {
    int m = lo + (hi - lo) / 2;
    if (mid[m] <= x)
      lo = m + 1;
    else
      hi = m;
  }
  return lo;
}

static void midpoints(const double *c, int k, double *mid) {
  for (int j = 0; j + 1 < k; j++) mid[j] = 0.5 * (c[j] + c[j + 1]);
}

int pare_kmeans_1d(const float *sorted, size_t n, int k, int max_iter, double *centroids) {
  double *sum = malloc(sizeof(double) * (n + 1)); /* sum[i]: the first i values */
  size_t *start = malloc(sizeof(size_t) * ((size_t)k + 1));
  size_t *prev = malloc(sizeof(size_t) * ((size_t)k + 1));
  if (!sum || !start || !prev) {
    free(sum);
    free(start);
    free(prev);
    return -1;
  }
  sum[0] = 0;
  for (size_t i = 0; i < n; i++) sum[i + 1] = sum[i] + (double)sorted[i];
  double lo = sorted[0], hi = sorted[n - 1];
  if (k == 1 || lo == hi) {
    k = 1;
    centroids[0] = lo;
  } else {
    for (int j = 0; j < k; j++) centroids[j] = lo + (hi - lo) * j / (k - 1);
  }
  int have_prev = 0;
  for (int it = 0; it < max_iter; it++) {
    /* Runs of the current centroids: cluster j holds sorted[start[j]..start[j+1]). */
    start[0] = 0;
    start[k] = n;
    for (int j = 1; j < k; j++)
      start[j] = first_at_least(sorted, start[j - 1], n, 0.5 * (centroids[j - 1] + centroids[j]));
    if (have_prev && !memcmp(start, prev, sizeof(size_t) * ((size_t)k + 1))) break;
    /* New centroids: the runs' means; empty runs are dropped. */
    int m = 0;
    for (int j = 0; j < k; j++) {
      size_t a = start[j], b = start[j + 1];
      if (a == b) continue;
      centroids[m] = (sum[b] - sum[a]) / (double)(b - a);
      prev[m++] = a;
    }
    prev[m] = n;
    k = m;
    have_prev = 1;
  }
  free(sum);
  free(start);
  free(prev);
  return k;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Shares one layer's n weights w in place into at most 2^bits values. */
static pare_status share_weights(float *w, size_t n, int bits, pare_share_layer *L,
                                 pare_error *err) {
  size_t nz = 0;
  double norm = 0;
  for (size_t i = 0; i < n; i++) {
    if (w[i] == 0.0f) continue;
    if (!isfinite(w[i])) {
      L->why = "the weight has non-finite values";
      return PARE_OK;
    }
    nz++;
    norm += (double)w[i] * w[i];
  }
  L->shared = 1;
  L->bits = bits;
  if (nz == 0) { /* all zero: one value already */
    L->values = n ? 1 : 0;
    return PARE_OK;
  }
  float *sorted = malloc(sizeof(float) * nz);
  if (!sorted) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (size_t i = 0, at = 0; i < n; i++)
    if (w[i] != 0.0f) sorted[at++] = w[i];
  qsort(sorted, nz, sizeof(float), cmp_float);
  /* Zero is one of the 2^bits values when the layer has zeros. */
  int k = (1 << bits) - (nz < n ? 1 : 0);
  double c[SHARE_MAX_K], mid[SHARE_MAX_K];
  /* Already at most k values (a layer shared before): they are the
   * clusters, so sharing again changes nothing. */
  int d = 0;
  for (size_t i = 0; i < nz && d <= k; i++)
    if (i == 0 || sorted[i] != sorted[i - 1]) {
      if (d < k) c[d] = sorted[i];
      d++;
    }
  if (d > k)
    k = pare_kmeans_1d(sorted, nz, k, SHARE_MAX_ITER, c);
  else
    k = d;
  if (k < 0) {
    free(sorted);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  midpoints(c, k, mid);
  float code[SHARE_MAX_K];
  for (int j = 0; j < k; j++) code[j] = (float)c[j];
  double diff = 0;
  for (size_t i = 0; i < n; i++) {
    if (w[i] == 0.0f) continue;
    float v = code[cluster_of(mid, k, w[i])];
    diff += ((double)w[i] - v) * ((double)w[i] - v);
    w[i] = v;
  }
  /* Distinct values: the codes in use (ascending with the sorted values),
   * and zero when the layer has any. */
  int64_t distinct = 0, zero = nz < n;
  float last = 0;
  for (size_t i = 0; i < nz; i++) {
    float v = code[cluster_of(mid, k, sorted[i])];
    if (v == 0.0f)
      zero = 1;
    else if (distinct == 0 || v != last)
      distinct++, last = v;
  }
  free(sorted);
  L->values = distinct + zero;
  L->rms_error = norm > 0 ? sqrt(diff / norm) : 0;
  return PARE_OK;
}

pare_status pare_share_apply(pare_graph *g, int bits, const char *dense, pare_share_layer **layers,
                             int *n_layers, pare_error *err) {
  if (layers) *layers = NULL;
  if (n_layers) *n_layers = 0;
  if (!g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "share: no graph");
  if (bits < 1 || bits > 8)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "share: bits must be 1..8 (a codebook of 2 to 256 values), not %d", bits);
  int first, last, count = pare_layer_ends(g, &first, &last);
  pare_share_layer *rep = calloc((size_t)count + 1, sizeof *rep);
  if (!rep) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_status st = PARE_OK;
  int nr = 0;
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    pare_share_layer *L = &rep[nr++];
    snprintf(L->node, sizeof L->node, "%s", g->nodes[i].name ? g->nodes[i].name : "");
    L->op = g->nodes[i].op;
    pare_value *v = &g->values[lw.weight];
    size_t n = (size_t)(lw.outs * lw.ins);
    L->params = (int64_t)n;
    if (pare_layer_listed(g, i, dense, first, last))
      L->why = "left dense";
    else if (v->borrowed)
      L->why = "the weight is mapped read-only";
    else
      st = share_weights(v->data, n, bits, L, err);
    L->zeros = pare_count_zeros(v->data, n);
  }
  if (st != PARE_OK || !layers) {
    free(rep);
    return st;
  }
  *layers = rep;
  if (n_layers) *n_layers = nr;
  return PARE_OK;
}
