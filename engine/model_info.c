/* pare_model_layers: shapes, parameters, MACs, bytes and sparsity per node,
 * for `pare info` and the evaluation reports. */
#include <stdlib.h>
#include <string.h>

#include "engine/io/sparse_storage.h"
#include "engine/ref/ops.h"
#include "engine/context_internal.h"
#include "engine/model_internal.h"

int64_t pare_node_macs(const pare_graph *g, const pare_plan *p, const pare_node *n) {
  const pare_tensor *out =
      n->n_outputs > 0 && n->outputs[0] >= 0 ? &p->values[n->outputs[0]] : NULL;
  if (!out || n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return 0;
  /* The quantized forms keep their weights at another input: QLinearConv's
   * is input 3 (after x, its scale and zero point), QLinearMatMul's b too. */
  int wi = n->op == PARE_OP_QLINEAR_CONV || n->op == PARE_OP_QLINEAR_MATMUL ? 3 : 1;
  if (n->n_inputs <= wi || n->inputs[wi] < 0) return 0;
  const pare_tensor *x = &p->values[n->inputs[0]], *w = &p->values[n->inputs[wi]];
  int64_t out_numel = pare_tensor_numel(out);
  switch (n->op) {
  case PARE_OP_CONV:
  case PARE_OP_CONV_INTEGER:
  case PARE_OP_QLINEAR_CONV: {
    /* Each output element reduces over C/group · kernel elements. */
    int64_t per = 1;
    for (int i = 1; i < w->rank; i++) per *= w->dims[i];
    return out_numel * per;
  }
  case PARE_OP_CONV_TRANSPOSE: {
    int64_t per = 1;
    for (int i = 1; i < w->rank; i++) per *= w->dims[i];
    return pare_tensor_numel(x) * per;
  }
  case PARE_OP_GEMM: {
    int ta = (int)pare_node_attr_int(n, "transA", 0);
    int64_t k = x->rank == 2 ? (ta ? x->dims[0] : x->dims[1]) : 0;
    return out_numel * k;
  }
  case PARE_OP_MATMUL:
  case PARE_OP_MATMUL_INTEGER:
  case PARE_OP_QLINEAR_MATMUL: return x->rank >= 1 ? out_numel * x->dims[x->rank - 1] : 0;
  default: (void)g; return 0;
  }
}

int64_t pare_value_zeros(const pare_value *v) {
  int64_t numel = pare_value_numel(v), zeros = 0;
  if (!v->data) return 0;
  if (v->dtype == PARE_DT_F32)
    for (int64_t e = 0; e < numel; e++) zeros += ((const float *)v->data)[e] == 0.0f;
  else if (v->dtype == PARE_DT_I8 || v->dtype == PARE_DT_U8 || v->dtype == PARE_DT_I4 ||
           v->dtype == PARE_DT_F16)
    for (int64_t e = 0; e < numel; e++)
      zeros += v->dtype == PARE_DT_F16 ? (((const uint16_t *)v->data)[e] & 0x7fff) == 0
                                       : pare_ref_q_get(v->data, v->dtype, (size_t)e) == 0;
  return zeros;
}

pare_status pare_model_plan_at_batch(pare_model *m, int64_t batch, pare_plan **p) {
  const pare_graph *g = m->graph;
  pare_tensor in[64];
  if (g->n_inputs > 64) return pare_error_set(&m->error, PARE_ERR_UNSUPPORTED, "too many inputs");
  for (int i = 0; i < g->n_inputs; i++) {
    const pare_value *v = &g->values[g->inputs[i]];
    memset(&in[i], 0, sizeof in[i]);
    in[i].dtype = v->dtype;
    in[i].rank = v->rank < 0 ? 0 : v->rank;
    for (int d = 0; d < in[i].rank; d++) in[i].dims[d] = v->dims[d] < 0 ? batch : v->dims[d];
  }
  return pare_plan_create(g, in, g->n_inputs, p, &m->error);
}

pare_status pare_model_memory(pare_model *m, int64_t batch, uint64_t *naive, uint64_t *planned,
                              uint64_t *lower_bound) {
  if (!m || batch < 1 || !naive || !planned || !lower_bound) return PARE_ERR_INVALID_ARG;
  pare_plan *p = NULL;
  pare_status st = pare_model_plan_at_batch(m, batch, &p);
  pare_memory_plan mp;
  if (st == PARE_OK) st = pare_memory_plan_build(p, &mp, &m->error);
  if (st == PARE_OK) {
    *naive = mp.naive;
    *planned = mp.planned;
    *lower_bound = mp.lower_bound;
    pare_memory_plan_free(&mp);
  }
  pare_plan_destroy(p);
  return st;
}

pare_status pare_model_layers(pare_model *m, pare_context *ctx, int64_t batch,
                              pare_layer_info **layers, int *count) {
  if (!m || !layers || !count || batch < 1) return PARE_ERR_INVALID_ARG;
  *layers = NULL;
  *count = 0;
  const pare_graph *g = m->graph;
  pare_plan *p = NULL;
  pare_status st = pare_model_plan_at_batch(m, batch, &p);
  if (st != PARE_OK) return st;
  pare_layer_info *out = calloc((size_t)g->n_nodes + 1, sizeof *out);
  if (!out) {
    pare_plan_destroy(p);
    return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  }
  int on_opencl = ctx && pare_context_backend(ctx) == PARE_BACKEND_OPENCL;
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    pare_layer_info *li = &out[i];
    li->name = n->name;
    li->op = pare_op_name(n->op);
    if (n->n_outputs > 0 && n->outputs[0] >= 0) {
      const pare_tensor *t = &p->values[n->outputs[0]];
      li->rank = t->rank;
      memcpy(li->dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    }
    int64_t zeros = 0;
    for (int k = 0; k < n->n_inputs; k++) {
      if (n->inputs[k] < 0) continue;
      const pare_value *v = &g->values[n->inputs[k]];
      /* Weights: trainable constants, and the stored form of a quantized
       * (DequantizeLinear) or fp16 (Cast) weight. */
      int stored_weight = k == 0 && (n->op == PARE_OP_DEQUANTIZE_LINEAR || n->op == PARE_OP_CAST);
      if (v->kind != PARE_VALUE_CONSTANT || (!v->is_param && !stored_weight)) continue;
      int64_t numel = pare_value_numel(v);
      if (li->weight_dtype == PARE_DT_UNDEFINED) li->weight_dtype = v->dtype;
      li->params += numel;
      li->weight_bytes += pare_value_stored_bytes(v); /* as the .pare file holds it */
      zeros += pare_value_zeros(v);
    }
    li->sparsity = li->params ? (double)zeros / (double)li->params : 0.0;
    li->macs = pare_node_macs(g, p, n);
    li->backend = p->node_folded[i]                          ? "folded"
                  : on_opencl && pare_exec_cl_supports(p, n) ? "opencl"
                                                             : "reference";
  }
  pare_plan_destroy(p);
  *layers = out;
  *count = g->n_nodes;
  return PARE_OK;
}
