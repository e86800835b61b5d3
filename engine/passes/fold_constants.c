/* Constant folding with the executor's own op implementations. */
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/passes/passes.h"

#define MAX_IO 64

pare_status pare_pass_fold_constants(pare_graph *g, int *folded, pare_error *err) {
  return pare_pass_fold_constants_ex(g, 0, folded, err);
}

pare_status pare_pass_fold_constants_ex(pare_graph *g, int dequantize, int *folded,
                                        pare_error *err) {
  *folded = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    pare_node *n = &g->nodes[i];
    int all_const = n->n_inputs <= MAX_IO && n->n_outputs <= MAX_IO;
    for (int k = 0; k < n->n_inputs && all_const; k++)
      if (n->inputs[k] >= 0 && g->values[n->inputs[k]].kind != PARE_VALUE_CONSTANT) all_const = 0;
    for (int k = 0; k < g->n_outputs && all_const; k++)
      for (int o = 0; o < n->n_outputs; o++)
        if (n->outputs[o] == g->outputs[k]) all_const = 0; /* keep outputs computed */
    if (!all_const || n->op == PARE_OP_DROPOUT) continue;
    /* A DequantizeLinear of 8-bit integer constants is how a quantized
     * weight is stored (QDQ models): kept, so that the file holds the
     * integers and the executor can run the layer on integer kernels; a
     * plan still folds it (engine/exec/plan.c). */
    if (!dequantize && n->op == PARE_OP_DEQUANTIZE_LINEAR && n->n_inputs > 0 && n->inputs[0] >= 0 &&
        (g->values[n->inputs[0]].dtype == PARE_DT_I8 ||
         g->values[n->inputs[0]].dtype == PARE_DT_U8))
      continue;
    const pare_op_impl *impl = pare_op_impl_get(n->op);
    if (!impl) continue;
    pare_tensor tin[MAX_IO], tout[MAX_IO];
    pare_tensor *in[MAX_IO], *out[MAX_IO];
    memset(tout, 0, sizeof(pare_tensor) * (size_t)n->n_outputs);
    for (int k = 0; k < n->n_inputs; k++) {
      in[k] = NULL;
      if (n->inputs[k] < 0) continue;
      const pare_value *v = &g->values[n->inputs[k]];
      memset(&tin[k], 0, sizeof tin[k]);
      tin[k].dtype = v->dtype;
      tin[k].rank = v->rank;
      memcpy(tin[k].dims, v->dims, sizeof tin[k].dims);
      tin[k].data = v->data;
      tin[k].nbytes = v->nbytes;
      tin[k].is_const = 1;
      in[k] = &tin[k];
    }
    for (int o = 0; o < n->n_outputs; o++) out[o] = n->outputs[o] >= 0 ? &tout[o] : NULL;
    pare_op_ctx ctx = {g, n, in, n->n_inputs, out, n->n_outputs, err};
    pare_status st = impl->shape(&ctx);
    for (int o = 0; o < n->n_outputs && st == PARE_OK; o++)
      if (out[o]) st = pare_tensor_alloc(out[o], err);
    if (st == PARE_OK) st = impl->run(&ctx);
    if (st != PARE_OK) {
      /* Not foldable here (e.g. unsupported): leave it for run time. */
      for (int o = 0; o < n->n_outputs; o++) pare_tensor_release(&tout[o]);
      pare_error_clear(err);
      continue;
    }
    for (int o = 0; o < n->n_outputs; o++) {
      if (!out[o]) continue;
      pare_value *v = &g->values[n->outputs[o]];
      v->dtype = tout[o].dtype;
      v->rank = tout[o].rank;
      memcpy(v->dims, tout[o].dims, sizeof v->dims);
      pare_value_set_data(v, tout[o].data, tout[o].nbytes, 1);
      v->producer = -1;
      n->outputs[o] = -1;
    }
    (*folded)++;
  }
  if (*folded && pare_graph_remove_dead(g) != PARE_OK)
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  return PARE_OK;
}
