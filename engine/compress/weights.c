/* Weight views of layers (weights.h). */
#include "engine/compress/weights.h"

#include <string.h>

#include "engine/core/core.h"

const char *pare_layer_weight_of(const pare_graph *g, int node, pare_layer_weight *lw) {
  const pare_node *n = &g->nodes[node];
  memset(lw, 0, sizeof *lw);
  lw->node = node;
  lw->bias = -1;
  if (n->op != PARE_OP_CONV && n->op != PARE_OP_GEMM && n->op != PARE_OP_MATMUL)
    return "not Conv, Gemm or MatMul";
  if (n->n_inputs < 2 || n->inputs[1] < 0 || n->n_outputs < 1 || n->outputs[0] < 0)
    return "no weight";
  const pare_value *w = &g->values[n->inputs[1]];
  if (w->kind != PARE_VALUE_CONSTANT || w->dtype != PARE_DT_F32 || !w->data)
    return "the weight is not a constant fp32 tensor";
  lw->weight = n->inputs[1];
  if (n->n_inputs > 2 && n->inputs[2] >= 0 && n->op != PARE_OP_MATMUL) lw->bias = n->inputs[2];
  if (n->op == PARE_OP_CONV) {
    if (w->rank != 4) return "not a 2-D convolution";
    lw->outs = w->dims[0];
    lw->ins = w->dims[1] * w->dims[2] * w->dims[3];
    lw->so = lw->ins, lw->si = 1;
    lw->out_axis = 0, lw->in_axis = 1;
    return NULL;
  }
  if (w->rank != 2) return "the weight is not 2-D";
  if (n->op == PARE_OP_GEMM && pare_node_attr_int(n, "transB", 0)) { /* [N, K] */
    lw->outs = w->dims[0], lw->ins = w->dims[1];
    lw->so = lw->ins, lw->si = 1;
    lw->out_axis = 0, lw->in_axis = 1;
  } else { /* [K, N] */
    lw->outs = w->dims[1], lw->ins = w->dims[0];
    lw->so = 1, lw->si = lw->outs;
    lw->out_axis = 1, lw->in_axis = 0;
  }
  return NULL;
}

int pare_layer_ends(const pare_graph *g, int *first, int *last) {
  int count = 0;
  *first = *last = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    if (*first < 0) *first = i;
    *last = i;
    count++;
  }
  return count;
}

int pare_layer_listed(const pare_graph *g, int node, const char *list, int first, int last) {
  return pare_name_in_list(list, g->nodes[node].name) ||
         (node == first && pare_name_in_list(list, "first")) ||
         (node == last && pare_name_in_list(list, "last"));
}

int64_t pare_count_zeros(const float *w, size_t n) {
  int64_t z = 0;
  for (size_t i = 0; i < n; i++) z += w[i] == 0.0f;
  return z;
}

float pare_kth_smallest(float *a, size_t n, size_t k) {
  size_t lo = 0, hi = n, want = k - 1; /* the answer's place lies in [lo, hi) */
  while (hi - lo > 1) {
    float x = a[lo], y = a[lo + (hi - lo) / 2], z = a[hi - 1];
    float pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
    /* Three ways: [lo, lt) below the pivot, [lt, i) equal, [gt, hi) above;
     * the equal part is never empty, so every round shrinks the range. */
    size_t lt = lo, i = lo, gt = hi;
    while (i < gt) {
      float v = a[i];
      if (v < pivot) {
        a[i++] = a[lt];
        a[lt++] = v;
      } else if (v > pivot) {
        a[i] = a[--gt];
        a[gt] = v;
      } else {
        i++;
      }
    }
    if (want < lt)
      hi = lt;
    else if (want >= gt)
      lo = gt;
    else
      return pivot;
  }
  return a[lo];
}
