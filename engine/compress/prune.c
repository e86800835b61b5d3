/* Pruning passes (prune.h). Weight pruning only writes zeros into the
 * weights; structured pruning rewrites shapes: the pruned layer's weight
 * rows and bias, the per-channel parameters of the ops between it and its
 * consumer, and the consumer's weight columns. */
#include "engine/compress/prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/weights.h"

void pare_prune_options_init(pare_prune_options *o) {
  memset(o, 0, sizeof *o);
  o->mode = PARE_PRUNE_LAYER;
  o->amount = 0.5;
  o->n = 2;
  o->m = 4;
  o->norm = 1;
}

int pare_prune_parse_mode(const char *text, pare_prune_options *o) {
  static const struct {
    const char *name;
    pare_prune_mode mode;
    int norm;
  } modes[] = {{"layer", PARE_PRUNE_LAYER, 1},
               {"global", PARE_PRUNE_GLOBAL, 1},
               {"lamp", PARE_PRUNE_LAMP, 1},
               {"threshold", PARE_PRUNE_THRESHOLD, 1},
               {"structured", PARE_PRUNE_STRUCTURED, 1},
               {"structured-l1", PARE_PRUNE_STRUCTURED, 1},
               {"structured-l2", PARE_PRUNE_STRUCTURED, 2}};
  if (!text) return 0;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
    if (!strcmp(text, modes[i].name)) {
      o->mode = modes[i].mode;
      o->norm = modes[i].norm;
      return 1;
    }
  int n = 0, m = 0, used = 0;
  if (sscanf(text, "%d:%d%n", &n, &m, &used) == 2 && !text[used] && n >= 1 && m > n && m <= 64) {
    o->mode = PARE_PRUNE_NM;
    o->n = n;
    o->m = m;
    return 1;
  }
  return 0;
}

/* ---- magnitude ------------------------------------------------------------ */

/* Zeroes the weights whose key is below cut, then those at cut while
 * *budget lasts; the key of w[i] is key[i], or |w[i]| when key is NULL. */
static void zero_below(float *w, const float *key, size_t n, float cut, int64_t *budget) {
  for (size_t i = 0; i < n; i++)
    if ((key ? key[i] : fabsf(w[i])) < cut && w[i] != 0.0f) w[i] = 0.0f;
  for (size_t i = 0; i<n && * budget> 0; i++)
    if ((key ? key[i] : fabsf(w[i])) == cut && w[i] != 0.0f) {
      w[i] = 0.0f;
      (*budget)--;
    }
}

typedef struct ranked {
  float mag;
  uint32_t at;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
  float x = ((const ranked *)a)->mag, y = ((const ranked *)b)->mag;
  return (x > y) - (x < y);
}

/* LAMP scores (Lee et al., "Layer-adaptive sparsity for the magnitude-based
 * pruning", ICLR 2021) of one layer's weights: w² divided by the sum of w'²
 * over the weights w' of the layer with |w'| >= |w|. The largest weight of
 * every layer scores 1, so one global cut on the scores never empties a
 * layer, and a layer's share of the cut follows how its magnitudes are
 * spread rather than their scale. Zeros score 0. Returns 0, or -1 out of
 * memory. */
static int lamp_scores(const float *w, size_t n, float *score) {
  ranked *r = malloc(sizeof *r * (n ? n : 1));
  if (!r) return -1;
  for (size_t i = 0; i < n; i++) r[i] = (ranked){fabsf(w[i]), (uint32_t)i};
  qsort(r, n, sizeof *r, cmp_ranked);
  double tail = 0; /* Σ w'² over this weight and the larger ones */
  for (size_t k = n; k-- > 0;) {
    double sq = (double)r[k].mag * r[k].mag;
    tail += sq;
    score[r[k].at] = tail > 0 ? (float)(sq / tail) : 0.0f;
  }
  free(r);
  return 0;
}

static int64_t count_below(const float *w, size_t n, float cut) {
  int64_t c = 0;
  for (size_t i = 0; i < n; i++) c += fabsf(w[i]) < cut;
  return c;
}

/* Exactly `target` zeros in w (those already zero count). */
static pare_status prune_to(float *w, size_t n, int64_t target, pare_error *err) {
  if (target <= pare_count_zeros(w, n)) return PARE_OK;
  float *mag = malloc(sizeof(float) * (n ? n : 1));
  if (!mag) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (size_t i = 0; i < n; i++) mag[i] = fabsf(w[i]);
  float cut = pare_kth_smallest(mag, n, (size_t)target);
  free(mag);
  int64_t ties = target - count_below(w, n, cut);
  zero_below(w, NULL, n, cut, &ties);
  return PARE_OK;
}

/* n largest |w| of every m consecutive inputs of every output. */
static void prune_nm(const pare_layer_weight *lw, float *w, int n, int m) {
  for (int64_t o = 0; o < lw->outs; o++)
    for (int64_t g = 0; g < lw->ins; g += m) {
      int64_t len = lw->ins - g < m ? lw->ins - g : m;
      for (int64_t drop = len - n; drop > 0; drop--) { /* the smallest nonzero goes */
        int64_t best = -1;
        for (int64_t i = g; i < g + len; i++) {
          float v = w[o * lw->so + i * lw->si];
          if (v != 0.0f && (best < 0 || fabsf(v) < fabsf(w[o * lw->so + best * lw->si]))) best = i;
        }
        if (best < 0) break;
        w[o * lw->so + best * lw->si] = 0.0f;
      }
    }
}

/* ---- structured ------------------------------------------------------------- */

/* The single node reading value v, or -1 when none or several do (or v is
 * a graph output). */
static int sole_consumer(const pare_graph *g, int v) {
  for (int i = 0; i < g->n_outputs; i++)
    if (g->outputs[i] == v) return -1;
  int found = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int j = 0; j < g->nodes[i].n_inputs; j++)
      if (g->nodes[i].inputs[j] == v) {
        if (found >= 0 && found != i) return -1;
        found = i;
      }
  return found;
}

static int passes_channels(pare_op op) {
  return pare_op_is_unary_elementwise(op) || op == PARE_OP_BATCH_NORM || op == PARE_OP_MAX_POOL ||
         op == PARE_OP_AVERAGE_POOL || op == PARE_OP_IDENTITY || op == PARE_OP_DROPOUT;
}

/* The path from a layer's output to the one layer that reads its channels. */
typedef struct channel_path {
  int chain[16]; /* the channel-preserving nodes in between */
  int n_chain;
  int flatten;  /* node index of a Flatten before a Gemm/MatMul consumer, or -1 */
  int consumer; /* Conv, Gemm or MatMul reading the channels as its input 0 */
} channel_path;

static const char *find_path(const pare_graph *g, int node, channel_path *p) {
  memset(p, 0, sizeof *p);
  p->flatten = -1;
  if (pare_node_attr_int(&g->nodes[node], "group", 1) != 1) return "grouped convolution";
  int v = g->nodes[node].outputs[0];
  for (;;) {
    int c = sole_consumer(g, v);
    if (c < 0) return "its output is read by several nodes or is a model output";
    const pare_node *n = &g->nodes[c];
    if (n->inputs[0] != v) return "its output is not the first input of the next node";
    if (passes_channels(n->op) && p->flatten < 0) {
      if (p->n_chain == 16) return "too many nodes before the next layer";
      p->chain[p->n_chain++] = c;
      v = n->outputs[0];
      continue;
    }
    if (n->op == PARE_OP_FLATTEN && p->flatten < 0 && pare_node_attr_int(n, "axis", 1) == 1) {
      p->flatten = c;
      v = n->outputs[0];
      continue;
    }
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, c, &lw))
      return "the next node is not a layer with constant weights";
    if (n->op == PARE_OP_CONV && p->flatten >= 0) return "a Flatten feeds a convolution";
    if (pare_node_attr_int(n, "group", 1) != 1) return "the next convolution is grouped";
    if (n->op != PARE_OP_CONV && (n->op == PARE_OP_GEMM && pare_node_attr_int(n, "transA", 0)))
      return "the next Gemm transposes its input";
    p->consumer = c;
    return NULL;
  }
}

/* Keeps the entries at positions keep[0..nk) of `axis` of a constant fp32
 * value (every other axis whole). */
static pare_status slice_axis(pare_value *v, int axis, const int64_t *keep, int64_t nk,
                              pare_error *err) {
  int64_t outer = 1, inner = 1, len = v->dims[axis];
  for (int d = 0; d < axis; d++) outer *= v->dims[d];
  for (int d = axis + 1; d < v->rank; d++) inner *= v->dims[d];
  float *dst = malloc(sizeof(float) * (size_t)(outer * nk * inner + 1));
  if (!dst) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  const float *src = v->data;
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < nk; k++)
      memcpy(dst + (o * nk + k) * inner, src + (o * len + keep[k]) * inner,
             sizeof(float) * (size_t)inner);
  v->dims[axis] = nk;
  pare_status st = pare_value_set_data(v, dst, sizeof(float) * (size_t)(outer * nk * inner), 1);
  if (st != PARE_OK) {
    free(dst);
    return pare_error_set(err, st, "out of memory");
  }
  return PARE_OK;
}

static int is_f32_constant(const pare_graph *g, int v) {
  return v >= 0 && g->values[v].kind == PARE_VALUE_CONSTANT && g->values[v].dtype == PARE_DT_F32 &&
         g->values[v].data;
}

/* Output channels of layer `node` kept: the largest-norm (1 - amount). */
static int64_t *channels_to_keep(const pare_graph *g, const pare_layer_weight *lw, double amount,
                                 int norm, int64_t *nk) {
  const float *w = g->values[lw->weight].data;
  double *score = malloc(sizeof(double) * (size_t)lw->outs);
  int64_t *order = malloc(sizeof(int64_t) * (size_t)lw->outs);
  if (!score || !order) {
    free(score);
    free(order);
    return NULL;
  }
  for (int64_t o = 0; o < lw->outs; o++) {
    double s = 0;
    for (int64_t i = 0; i < lw->ins; i++) {
      double x = w[o * lw->so + i * lw->si];
      s += norm == 2 ? x * x : fabs(x);
    }
    score[o] = s;
    order[o] = o;
  }
  /* Stable selection by descending score: insertion sort of the order
   * (channel counts are small). */
  for (int64_t a = 1; a < lw->outs; a++)
    for (int64_t b = a; b > 0 && score[order[b]] > score[order[b - 1]]; b--) {
      int64_t t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  int64_t keep = lw->outs - (int64_t)(amount * (double)lw->outs);
  if (keep < 1) keep = 1;
  /* Kept channels in their original order. */
  for (int64_t a = 1; a < keep; a++)
    for (int64_t b = a; b > 0 && order[b] < order[b - 1]; b--) {
      int64_t t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  free(score);
  *nk = keep;
  return order;
}

static pare_status prune_channels(pare_graph *g, const pare_layer_weight *lw, const channel_path *p,
                                  const int64_t *keep, int64_t nk, pare_error *err) {
  pare_node *n = &g->nodes[lw->node];
  pare_status st = slice_axis(&g->values[lw->weight], lw->out_axis, keep, nk, err);
  if (st == PARE_OK && lw->bias >= 0) {
    pare_value *b = &g->values[lw->bias];
    if (b->rank >= 1 && b->dims[b->rank - 1] == lw->outs && pare_value_numel(b) == lw->outs)
      st = slice_axis(b, b->rank - 1, keep, nk, err);
  }
  int64_t before = lw->outs;
  /* Activations along the path lose the channels too. */
  int v = n->outputs[0];
  if (g->values[v].rank >= 2)
    g->values[v].dims[n->op == PARE_OP_CONV ? 1 : g->values[v].rank - 1] = nk;
  for (int c = 0; c < p->n_chain && st == PARE_OK; c++) {
    pare_node *m = &g->nodes[p->chain[c]];
    if (m->op == PARE_OP_BATCH_NORM)
      for (int j = 1; j < m->n_inputs && j < 5 && st == PARE_OK; j++) {
        if (!is_f32_constant(g, m->inputs[j]) ||
            pare_value_numel(&g->values[m->inputs[j]]) != before)
          return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                                "node '%s': batch-norm parameters are not constant", m->name);
        st = slice_axis(&g->values[m->inputs[j]], 0, keep, nk, err);
      }
    pare_value *y = &g->values[m->outputs[0]];
    if (y->rank >= 2) y->dims[1] = nk;
  }
  if (st != PARE_OK) return st;
  /* The consumer's inputs: whole channels, or their blocks after a Flatten. */
  pare_layer_weight cw;
  pare_layer_weight_of(g, p->consumer, &cw);
  int64_t block = 1;
  if (p->flatten >= 0) {
    if (cw.ins % before)
      return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                            "node '%s': %lld inputs are not whole blocks of %lld channels",
                            g->nodes[p->consumer].name, (long long)cw.ins, (long long)before);
    block = cw.ins / before;
  }
  int64_t *cols = malloc(sizeof(int64_t) * (size_t)(nk * block));
  if (!cols) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (int64_t k = 0; k < nk; k++)
    for (int64_t s = 0; s < block; s++) cols[k * block + s] = keep[k] * block + s;
  st = slice_axis(&g->values[cw.weight], cw.in_axis, cols, nk * block, err);
  free(cols);
  if (st == PARE_OK && p->flatten >= 0) {
    pare_value *f = &g->values[g->nodes[p->flatten].outputs[0]];
    if (f->rank == 2) f->dims[1] = nk * block;
  }
  return st;
}

/* ---- the pass ----------------------------------------------------------------- */

pare_status pare_prune_apply(pare_graph *g, const pare_prune_options *o, pare_prune_layer **layers,
                             int *n_layers, pare_error *err) {
  if (layers) *layers = NULL;
  if (n_layers) *n_layers = 0;
  if (!g || !o) return pare_error_set(err, PARE_ERR_INVALID_ARG, "prune: no graph or options");
  int threshold = o->mode == PARE_PRUNE_THRESHOLD;
  if (!(o->amount >= 0) || (!threshold && !(o->amount < 1)) || !isfinite(o->amount))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          threshold ? "prune: the threshold must be >= 0 (got %g)"
                                    : "prune: the amount must be in [0, 1) (got %g)",
                          o->amount);
  if (o->mode == PARE_PRUNE_NM && !(o->n >= 1 && o->m > o->n))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "prune: %d:%d is not an N:M pattern", o->n,
                          o->m);
  const char *dense = o->dense                           ? o->dense
                      : o->mode == PARE_PRUNE_STRUCTURED ? "none"
                                                         : "first,last";
  int first, last, count = pare_layer_ends(g, &first, &last);
  pare_prune_layer *rep = calloc((size_t)count + 1, sizeof *rep);
  if (!rep) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_status st = PARE_OK;
  int nr = 0;
  size_t global_n = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    pare_prune_layer *L = &rep[nr++];
    snprintf(L->node, sizeof L->node, "%s", g->nodes[i].name ? g->nodes[i].name : "");
    L->op = g->nodes[i].op;
    size_t n = (size_t)(lw.outs * lw.ins);
    L->params_before = (int64_t)n;
    L->zeros_before = L->zeros = pare_count_zeros(g->values[lw.weight].data, n);
    L->channels_before = L->channels = lw.outs;
    if (pare_layer_listed(g, i, dense, first, last))
      L->why = "left dense";
    else if (g->values[lw.weight].borrowed)
      L->why = "the weight is mapped read-only";
    else
      L->pruned = 1;
    if (L->pruned) global_n += n;
  }
  /* Global and LAMP: one cut over a key of every weight of every pruned
   * layer (|w|, or its LAMP score), the keys kept in layer order for the
   * zeroing below. */
  float cut = 0, *keys = NULL;
  int64_t ties = 0;
  const int lamp = o->mode == PARE_PRUNE_LAMP;
  if ((o->mode == PARE_PRUNE_GLOBAL || lamp) && global_n > 0) {
    keys = malloc(sizeof(float) * global_n);
    float *sorted = malloc(sizeof(float) * global_n);
    if (!keys || !sorted) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    size_t at = 0;
    for (int i = 0, r = 0; i < g->n_nodes && st == PARE_OK; i++) {
      pare_layer_weight lw;
      if (pare_layer_weight_of(g, i, &lw)) continue;
      if (!rep[r++].pruned) continue;
      const float *w = g->values[lw.weight].data;
      size_t n = (size_t)(lw.outs * lw.ins);
      if (!lamp)
        for (size_t k = 0; k < n; k++) keys[at + k] = fabsf(w[k]);
      else if (lamp_scores(w, n, keys + at))
        st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      at += n;
    }
    int64_t target = (int64_t)(o->amount * (double)global_n);
    if (st == PARE_OK && target > 0) {
      memcpy(sorted, keys, sizeof(float) * global_n);
      cut = pare_kth_smallest(sorted, global_n, (size_t)target);
      int64_t below = 0;
      for (size_t k = 0; k < global_n; k++) below += keys[k] < cut;
      ties = target - below;
    }
    free(sorted);
    if (target == 0) cut = -1; /* nothing to prune */
  }
  size_t key_at = 0;
  for (int i = 0, r = 0; i < g->n_nodes && st == PARE_OK; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    pare_prune_layer *L = &rep[r++];
    if (!L->pruned) continue;
    float *w = g->values[lw.weight].data;
    size_t n = (size_t)(lw.outs * lw.ins);
    switch (o->mode) {
    case PARE_PRUNE_LAYER: st = prune_to(w, n, (int64_t)(o->amount * (double)n), err); break;
    case PARE_PRUNE_GLOBAL:
    case PARE_PRUNE_LAMP:
      if (cut >= 0) zero_below(w, keys + key_at, n, cut, &ties);
      key_at += n;
      break;
    case PARE_PRUNE_THRESHOLD:
      for (size_t k = 0; k < n; k++)
        if (fabsf(w[k]) <= (float)o->amount) w[k] = 0.0f;
      break;
    case PARE_PRUNE_NM: prune_nm(&lw, w, o->n, o->m); break;
    case PARE_PRUNE_STRUCTURED: {
      channel_path p;
      const char *why = find_path(g, i, &p);
      if (why) {
        L->why = why;
        L->pruned = 0;
        break;
      }
      int64_t nk = 0;
      int64_t *keep = channels_to_keep(g, &lw, o->amount, o->norm, &nk);
      if (!keep) {
        st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
        break;
      }
      if (nk < lw.outs) st = prune_channels(g, &lw, &p, keep, nk, err);
      free(keep);
      break;
    }
    }
  }
  free(keys);
  /* Every layer as it is now (structured pruning also shrinks consumers). */
  for (int i = 0, r = 0; i < g->n_nodes && st == PARE_OK; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    pare_prune_layer *L = &rep[r++];
    L->params = lw.outs * lw.ins;
    L->zeros = pare_count_zeros(g->values[lw.weight].data, (size_t)L->params);
    L->channels = lw.outs;
  }
  if (st != PARE_OK || !layers) {
    free(rep);
    return st;
  }
  *layers = rep;
  if (n_layers) *n_layers = nr;
  return PARE_OK;
}
