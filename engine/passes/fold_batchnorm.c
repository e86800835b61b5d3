/* BatchNormalization folded into the Conv or Gemm that feeds it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/passes/passes.h"

static const float *const_f32(const pare_graph *g, int v, int64_t count) {
  if (v < 0) return NULL;
  const pare_value *val = &g->values[v];
  if (val->kind != PARE_VALUE_CONSTANT || val->dtype != PARE_DT_F32 || !val->data) return NULL;
  return pare_value_numel(val) == count ? val->data : NULL;
}

/* A fresh constant for the folded weights (the originals may be shared). */
static int new_const(pare_graph *g, const char *base, const char *suffix, const pare_value *like,
                     const float *data) {
  char name[512];
  snprintf(name, sizeof name, "%s%s", base, suffix);
  int v = pare_graph_add_value(g, name, PARE_DT_F32, like->rank, like->dims);
  if (v < 0) return -1;
  size_t bytes = pare_dtype_bytes(PARE_DT_F32, (size_t)pare_value_numel(like));
  if (pare_value_set_data(&g->values[v], (void *)data, bytes, 0) != PARE_OK) return -1;
  g->values[v].is_param = 1;
  return v;
}

void pare_bn_fold_f32(int64_t numel, int64_t channels, int channel_last, const float *w,
                      const float *bias, const float *gamma, const float *beta, const float *mean,
                      const float *var, float eps, float *w_out, float *b_out) {
  for (int64_t c = 0; c < channels; c++) {
    double s = (double)gamma[c] / sqrt((double)var[c] + (double)eps);
    b_out[c] = (float)(((bias ? (double)bias[c] : 0.0) - (double)mean[c]) * s + (double)beta[c]);
  }
  int64_t per_channel = channels ? numel / channels : 0;
  for (int64_t i = 0; i < numel; i++) {
    int64_t c = channel_last ? i % channels : i / per_channel;
    double s = (double)gamma[c] / sqrt((double)var[c] + (double)eps);
    w_out[i] = (float)((double)w[i] * s);
  }
}

static int fold_one(pare_graph *g, int li, int bi) {
  pare_node *layer = &g->nodes[li];
  const pare_node *bn = &g->nodes[bi];
  if (bn->n_inputs != 5 || layer->n_outputs < 1 || layer->n_inputs < 2) return 0;
  int wv = layer->inputs[1];
  if (wv < 0 || g->values[wv].kind != PARE_VALUE_CONSTANT) return 0;
  const pare_value *w = &g->values[wv];
  int64_t channels;
  int gemm_trans_b = 0;
  if (layer->op == PARE_OP_CONV) {
    if (w->rank < 3) return 0;
    channels = w->dims[0];
  } else {
    if (w->rank != 2 || pare_node_attr_int(layer, "transA", 0) != 0) return 0;
    gemm_trans_b = (int)pare_node_attr_int(layer, "transB", 0);
    channels = gemm_trans_b ? w->dims[0] : w->dims[1];
    if (pare_node_attr_float(layer, "beta", 1.0f) != 1.0f) return 0;
  }
  const float *gamma = const_f32(g, bn->inputs[1], channels),
              *beta = const_f32(g, bn->inputs[2], channels);
  const float *mean = const_f32(g, bn->inputs[3], channels),
              *var = const_f32(g, bn->inputs[4], channels);
  if (!gamma || !beta || !mean || !var || !const_f32(g, wv, pare_value_numel(w))) return 0;
  const float *bias = NULL;
  int bv = layer->n_inputs > 2 ? layer->inputs[2] : -1;
  if (bv >= 0 && !(bias = const_f32(g, bv, channels))) return 0;
  float eps = pare_node_attr_float(bn, "epsilon", 1e-5f);

  int64_t numel = pare_value_numel(w);
  float *nw = malloc(sizeof(float) * (size_t)numel), *nb = malloc(sizeof(float) * (size_t)channels);
  if (!nw || !nb) {
    free(nw);
    free(nb);
    return -1;
  }
  pare_bn_fold_f32(numel, channels, layer->op != PARE_OP_CONV && !gemm_trans_b, w->data, bias,
                   gamma, beta, mean, var, eps, nw, nb);
  char base[300];
  snprintf(base, sizeof base, "%s", layer->name);
  pare_value wcopy = *w; /* the array may move while adding values */
  int nwv = new_const(g, base, "/W_bn_folded", &wcopy, nw);
  int64_t bdims[1] = {channels};
  pare_value blike = {0};
  blike.rank = 1;
  blike.dims[0] = bdims[0];
  int nbv = nwv < 0 ? -1 : new_const(g, base, "/B_bn_folded", &blike, nb);
  free(nw);
  free(nb);
  if (nbv < 0) return -1;
  layer = &g->nodes[li];
  bn = &g->nodes[bi];
  layer->inputs[1] = nwv;
  if (layer->n_inputs < 3) {
    int *ins = realloc(layer->inputs, sizeof(int) * 3);
    if (!ins) return -1;
    layer->inputs = ins;
    layer->n_inputs = 3;
  }
  layer->inputs[2] = nbv;
  /* The layer now produces the BN's output; the BN computes nothing. */
  int out = bn->outputs[0];
  g->values[layer->outputs[0]].producer = -1;
  layer->outputs[0] = out;
  g->values[out].producer = li;
  g->nodes[bi].outputs[0] = -1;
  for (int k = 1; k < g->nodes[bi].n_outputs; k++) g->nodes[bi].outputs[k] = -1;
  return 1;
}

pare_status pare_pass_fold_batchnorm(pare_graph *g, int *folded, pare_error *err) {
  *folded = 0;
  for (int bi = 0; bi < g->n_nodes; bi++) {
    const pare_node *bn = &g->nodes[bi];
    if (bn->op != PARE_OP_BATCH_NORM || bn->n_inputs < 1 || bn->inputs[0] < 0) continue;
    if (pare_node_attr_int(bn, "training_mode", 0)) continue;
    int extra_outputs = 0;
    for (int k = 1; k < bn->n_outputs; k++) extra_outputs |= bn->outputs[k] >= 0;
    if (extra_outputs) continue;
    int x = bn->inputs[0];
    int li = g->values[x].producer;
    if (li < 0 || pare_graph_only_reader(g, x) < 0) continue;
    pare_op op = g->nodes[li].op;
    if (op != PARE_OP_CONV && op != PARE_OP_GEMM) continue;
    int r = fold_one(g, li, bi);
    if (r < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory folding BN");
    *folded += r;
  }
  if (*folded && pare_graph_remove_dead(g) != PARE_OK)
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  return PARE_OK;
}

pare_status pare_graph_optimize(pare_graph *g, pare_error *err) {
  return pare_graph_optimize_ex(g, 1, err);
}

pare_status pare_graph_optimize_ex(pare_graph *g, int fold_bn, pare_error *err) {
  int n = 0;
  pare_status st = pare_pass_fold_constants(g, &n, err);
  if (st == PARE_OK && fold_bn) st = pare_pass_fold_batchnorm(g, &n, err);
  if (st == PARE_OK && pare_graph_remove_dead(g) != PARE_OK)
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) st = pare_graph_validate(g, err);
  return st;
}
