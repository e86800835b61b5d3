/* pare_model_layer_latency: what each layer costs on the device, kept in
 * the device's tuning database as a lookup table (include/pare/pare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/core/core.h"
#include "engine/model_internal.h"
#ifdef PARE_HAVE_OPENCL
#include "host/tuning.h"
#endif

/* The node producing value v (-1 for none, or a graph input or constant). */
static int producer(const pare_graph *g, int v) { return v < 0 ? -1 : g->values[v].producer; }

/* 1 when every consumer of node i's outputs is node `only`. */
static int feeds_only(const pare_graph *g, int i, int only) {
  const pare_node *n = &g->nodes[i];
  for (int k = 0; k < n->n_outputs; k++) {
    for (int v = 0; v < g->n_outputs; v++)
      if (g->outputs[v] == n->outputs[k]) return 0;
    for (int j = 0; j < g->n_nodes; j++)
      for (int a = 0; a < g->nodes[j].n_inputs; a++)
        if (g->nodes[j].inputs[a] == n->outputs[k] && j != only) return 0;
  }
  return 1;
}

static int is_adapter(pare_op op) {
  return op == PARE_OP_DEQUANTIZE_LINEAR || op == PARE_OP_QUANTIZE_LINEAR || op == PARE_OP_CAST;
}

/* The nodes whose time is layer i's: itself, and the quantize, dequantize
 * and cast nodes that exist only to feed it (its weights' dequantization,
 * its input's quantize-dequantize pair), two deep. Returns the count. */
static int owned_nodes(const pare_graph *g, int i, int *owned) {
  int n = 0;
  owned[n++] = i;
  for (int depth = 0, from = 0; depth < 2; depth++) {
    int to = n;
    for (int o = from; o < to; o++) {
      const pare_node *node = &g->nodes[owned[o]];
      for (int a = 0; a < node->n_inputs && n < 16; a++) {
        int p = producer(g, node->inputs[a]);
        if (p >= 0 && is_adapter(g->nodes[p].op) && feeds_only(g, p, owned[o])) owned[n++] = p;
      }
    }
    from = to;
  }
  return n;
}

static size_t put_dims(char *out, size_t size, const pare_tensor *t) {
  size_t len = 0;
  for (int d = 0; d < t->rank; d++)
    len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%lld", d ? "x" : "",
                            (long long)t->dims[d]);
  return len;
}

/* The constant behind input a of node i (through a dequantize or cast),
 * or NULL. */
static const pare_value *constant_behind(const pare_graph *g, const pare_node *n, int a) {
  if (a >= n->n_inputs || n->inputs[a] < 0) return NULL;
  const pare_value *v = &g->values[n->inputs[a]];
  if (v->kind == PARE_VALUE_CONSTANT) return v;
  int p = producer(g, n->inputs[a]);
  if (p < 0 || !is_adapter(g->nodes[p].op) || g->nodes[p].inputs[0] < 0) return NULL;
  v = &g->values[g->nodes[p].inputs[0]];
  return v->kind == PARE_VALUE_CONSTANT ? v : NULL;
}

/* The database key of layer i: what decides its time. "layer_ms." then the
 * op, input and weight shapes, weight dtype and zeros (to 0.01), whether the
 * input arrives quantized, the integer attributes (strides, pads, group,
 * transB...) and the backend's form of the node. */
static void layer_key(const pare_graph *g, const pare_plan *p, int i, const char *form,
                      char out[192]) {
  const pare_node *n = &g->nodes[i];
  char key[2048];
  size_t size = sizeof key;
  size_t len = (size_t)snprintf(key, size, "layer_ms.%s:x=", pare_op_name(n->op));
  if (n->n_inputs > 0 && n->inputs[0] >= 0)
    len += put_dims(key + len, len < size ? size - len : 0, &p->values[n->inputs[0]]);
  const pare_value *w = constant_behind(g, n, 1);
  if (w) {
    int64_t numel = pare_value_numel(w), zeros = pare_value_zeros(w);
    len += (size_t)snprintf(key + len, len < size ? size - len : 0, ":w=");
    len += put_dims(key + len, len < size ? size - len : 0, &p->values[n->inputs[1]]);
    len += (size_t)snprintf(key + len, len < size ? size - len : 0, ":%s:z=%.2f",
                            pare_dtype_name(w->dtype), numel ? (double)zeros / (double)numel : 0.0);
  }
  int q = n->inputs[0] >= 0 && producer(g, n->inputs[0]) >= 0 &&
          g->nodes[producer(g, n->inputs[0])].op == PARE_OP_DEQUANTIZE_LINEAR;
  len += (size_t)snprintf(key + len, len < size ? size - len : 0, ":q=%d", q);
  for (int a = 0; a < n->n_attrs; a++) {
    const pare_attr *at = &n->attrs[a];
    if (at->type != PARE_ATTR_INT && at->type != PARE_ATTR_INTS) continue;
    len += (size_t)snprintf(key + len, len < size ? size - len : 0, ":%s=", at->name);
    if (at->type == PARE_ATTR_INT)
      len += (size_t)snprintf(key + len, len < size ? size - len : 0, "%lld", (long long)at->i);
    for (int k = 0; at->type == PARE_ATTR_INTS && k < at->count; k++)
      len += (size_t)snprintf(key + len, len < size ? size - len : 0, "%s%lld", k ? "," : "",
                              (long long)at->ints[k]);
  }
  len += (size_t)snprintf(key + len, len < size ? size - len : 0, ":%s", form);
  /* The database keeps keys of fewer than 192 bytes without spaces: a long
   * description becomes its hash. */
  if (len >= 160 || strchr(key, ' ')) {
    uint64_t h = pare_hash64(key, len < size ? len : size - 1, 0);
    snprintf(out, 192, "layer_ms.%s:h=%016llx", pare_op_name(n->op), (unsigned long long)h);
  } else {
    memcpy(out, key, len + 1);
  }
}

pare_status pare_model_layer_latency(pare_context *ctx, pare_model *m, int64_t batch, int runs,
                                     const char *const *layers, int n_layers, double *ms,
                                     int *measured) {
  if (!ctx || !m || batch < 1 || runs < 1 || n_layers < 0 || (n_layers && (!layers || !ms)))
    return PARE_ERR_INVALID_ARG;
  if (measured) *measured = 0;
  const pare_graph *g = m->graph;
  pare_plan *p = NULL;
  pare_status st = pare_model_plan_at_batch(m, batch, &p);
  if (st != PARE_OK) return st;
  int *node = calloc((size_t)n_layers + 1, sizeof *node),
      *missing = node ? calloc((size_t)n_layers + 1, sizeof *missing) : NULL;
  char(*key)[192] = missing ? calloc((size_t)n_layers + 1, sizeof *key) : NULL;
  if (!key) {
    free(node);
    free(missing);
    pare_plan_destroy(p);
    return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  }
  pare_cl_runtime *rt = NULL;
#ifdef PARE_HAVE_OPENCL
  if (pare_context_backend(ctx) == PARE_BACKEND_OPENCL) rt = ctx->rt;
#endif
  char form[32];
  snprintf(form, sizeof form, "%s:f%d", rt ? "cl" : "ref", ctx->no_fuse);
  int n_missing = 0;
  for (int l = 0; l < n_layers && st == PARE_OK; l++) {
    node[l] = -1;
    for (int i = 0; i < g->n_nodes; i++)
      if (layers[l] && !strcmp(g->nodes[i].name, layers[l])) node[l] = i;
    if (node[l] < 0) {
      st = pare_error_set(&m->error, PARE_ERR_INVALID_ARG, "no node named '%s' in the model",
                          layers[l] ? layers[l] : "(null)");
      break;
    }
    layer_key(g, p, node[l], form, key[l]);
    int found = 0;
#ifdef PARE_HAVE_OPENCL
    if (rt) found = pare_tuning_get(rt, key[l], &ms[l]);
#endif
    if (!found) missing[n_missing++] = l;
  }
  pare_plan_destroy(p);
  /* One profile measures every layer not in the table. */
  if (st == PARE_OK && n_missing) {
    pare_tensor_view in[64];
    float *data[64] = {0};
    int n_in = g->n_inputs;
    if (n_in > 64) st = pare_error_set(&m->error, PARE_ERR_UNSUPPORTED, "more than 64 inputs");
    for (int i = 0; i < n_in && st == PARE_OK; i++) {
      const pare_value *v = &g->values[g->inputs[i]];
      memset(&in[i], 0, sizeof in[i]);
      in[i].name = v->name;
      in[i].dtype = v->dtype;
      in[i].rank = v->rank < 0 ? 0 : v->rank;
      int64_t numel = 1;
      for (int d = 0; d < in[i].rank; d++) {
        in[i].dims[d] = v->dims[d] < 0 ? batch : v->dims[d];
        numel *= in[i].dims[d];
      }
      if (v->dtype != PARE_DT_F32) {
        st = pare_error_set(&m->error, PARE_ERR_UNSUPPORTED,
                            "input '%s' is %s: layer latency feeds float inputs only", v->name,
                            pare_dtype_name(v->dtype));
        break;
      }
      in[i].nbytes = sizeof(float) * (size_t)numel;
      data[i] = malloc(in[i].nbytes ? in[i].nbytes : 1);
      if (!data[i]) {
        st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
        break;
      }
      for (int64_t e = 0; e < numel; e++) data[i][e] = (float)((e * 7919) % 1000) / 1000.0f;
      in[i].data = data[i];
    }
    pare_node_time *t = NULL;
    int count = 0;
    if (st == PARE_OK) st = pare_model_profile(ctx, m, in, n_in, runs, &t, &count);
    for (int k = 0; st == PARE_OK && k < n_missing; k++) {
      int l = missing[k], owned[16], n_owned = owned_nodes(g, node[l], owned);
      ms[l] = 0;
      for (int o = 0; o < n_owned; o++) ms[l] += t[owned[o]].ms;
#ifdef PARE_HAVE_OPENCL
      if (rt) pare_tuning_put(rt, key[l], ms[l]);
#endif
    }
#ifdef PARE_HAVE_OPENCL
    if (rt && st == PARE_OK) pare_tuning_flush(rt); /* the file written once, not per layer */
#endif
    if (st == PARE_OK && measured) *measured = n_missing;
    free(t);
    for (int i = 0; i < n_in; i++) free(data[i]);
  }
  free(node);
  free(missing);
  free(key);
  return st;
}
