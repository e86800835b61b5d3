/* Plans: shapes inferred for concrete inputs, constant nodes folded at
 * plan time (which also resolves the Shape → Gather → Concat → Reshape
 * chains exporters emit), and a reference run of the remaining nodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"

/* Points ctx at node n's tensors. */
static pare_status bind(pare_plan *p, const pare_node *n, pare_tensor **in, pare_tensor **out,
                        pare_op_ctx *ctx, pare_error *err) {
  ctx->graph = p->graph;
  ctx->node = n;
  ctx->in = in;
  ctx->out = out;
  ctx->n_in = n->n_inputs;
  ctx->n_out = n->n_outputs;
  ctx->err = err;
  for (int i = 0; i < n->n_inputs; i++) in[i] = n->inputs[i] >= 0 ? &p->values[n->inputs[i]] : NULL;
  for (int i = 0; i < n->n_outputs; i++)
    out[i] = n->outputs[i] >= 0 ? &p->values[n->outputs[i]] : NULL;
  return PARE_OK;
}

#define MAX_IO 64

static pare_status run_node(pare_plan *p, int idx, const pare_op_impl *impl, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  pare_tensor *in[MAX_IO], *out[MAX_IO];
  pare_op_ctx ctx;
  bind(p, n, in, out, &ctx, err);
  for (int o = 0; o < n->n_outputs; o++) {
    if (!out[o]) continue;
    pare_status st = pare_tensor_alloc(out[o], err);
    if (st != PARE_OK) return st;
  }
  return impl->run(&ctx);
}

pare_status pare_plan_create(const pare_graph *g, const pare_tensor *inputs, int n_inputs,
                             pare_plan **out, pare_error *err) {
  return pare_plan_create_ex(g, inputs, n_inputs, 0, out, err);
}

pare_status pare_plan_create_ex(const pare_graph *g, const pare_tensor *inputs, int n_inputs,
                                int flags, pare_plan **out, pare_error *err) {
  *out = NULL;
  if (n_inputs != g->n_inputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "the model takes %d input(s), %d given",
                          g->n_inputs, n_inputs);
  pare_plan *p = calloc(1, sizeof *p);
  if (!p) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  p->graph = g;
  p->flags = flags;
  p->values = calloc((size_t)g->n_values + 1, sizeof *p->values);
  p->n_values = g->n_values;
  p->node_folded = calloc((size_t)g->n_nodes + 1, 1);
  if (!p->values || !p->node_folded) {
    pare_plan_destroy(p);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  for (int i = 0; i < g->n_values; i++) {
    const pare_value *v = &g->values[i];
    pare_tensor *t = &p->values[i];
    t->dtype = v->dtype;
    t->rank = v->rank;
    memcpy(t->dims, v->dims, sizeof t->dims);
    if (v->kind == PARE_VALUE_CONSTANT) {
      t->data = v->data; /* borrowed from the graph */
      t->nbytes = v->nbytes;
      t->is_const = 1;
    }
  }
  pare_status st = PARE_OK;
  for (int i = 0; i < n_inputs && st == PARE_OK; i++) {
    const pare_value *v = &g->values[g->inputs[i]];
    const pare_tensor *in = &inputs[i];
    pare_tensor *t = &p->values[g->inputs[i]];
    if (v->rank >= 0 && v->rank != in->rank)
      st =
          pare_error_set(err, PARE_ERR_INVALID_ARG, "input '%s': rank %d given, the model wants %d",
                         v->name, in->rank, v->rank);
    for (int d = 0; st == PARE_OK && v->rank >= 0 && d < v->rank; d++)
      if (v->dims[d] >= 0 && v->dims[d] != in->dims[d])
        st = pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "input '%s': dimension %d is %lld, the model wants %lld", v->name, d,
                            (long long)in->dims[d], (long long)v->dims[d]);
    if (st == PARE_OK && v->dtype != PARE_DT_UNDEFINED && in->dtype != v->dtype)
      st = pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "input '%s': dtype %s given, the model wants %s", v->name,
                          pare_dtype_name(in->dtype), pare_dtype_name(v->dtype));
    t->dtype = in->dtype;
    t->rank = in->rank;
    memcpy(t->dims, in->dims, sizeof t->dims);
    /* Inputs that decide shapes (Reshape's shape, Resize's sizes...) are
     * bound as constants when given with data. Runs must pass the same. */
    int decides = 0;
    for (int k = 0; k < g->n_nodes && !decides; k++)
      for (int s = 0; s < g->nodes[k].n_inputs; s++)
        if (g->nodes[k].inputs[s] == g->inputs[i] && pare_op_input_decides_shape(g->nodes[k].op, s))
          decides = 1;
    if (st == PARE_OK && in->data && decides) {
      t->nbytes = in->nbytes;
      t->data = malloc(in->nbytes ? in->nbytes : 1);
      t->owns = 1;
      t->is_const = 1;
      if (!t->data)
        st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      else if (in->nbytes)
        memcpy(t->data, in->data, in->nbytes);
    }
  }
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    const pare_node *n = &g->nodes[i];
    const pare_op_impl *impl = pare_op_impl_get(n->op);
    if (!impl) {
      st = pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (%s): no implementation", n->name,
                          pare_op_name(n->op));
      break;
    }
    if (n->n_inputs > MAX_IO || n->n_outputs > MAX_IO) {
      st = pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (%s): too many inputs or outputs",
                          n->name, pare_op_name(n->op));
      break;
    }
    /* Every op writes its first output; the kernels rely on it. */
    if (n->n_outputs < 1 || n->outputs[0] < 0) {
      st = pare_error_set(err, PARE_ERR_FORMAT, "node '%s' (%s): its first output is missing",
                          n->name, pare_op_name(n->op));
      break;
    }
    pare_tensor *in[MAX_IO], *outs[MAX_IO];
    pare_op_ctx ctx;
    bind(p, n, in, outs, &ctx, err);
    st = impl->shape(&ctx);
    if (st != PARE_OK) break;
    int all_const = 1;
    for (int k = 0; k < n->n_inputs; k++)
      if (in[k] && !in[k]->is_const) all_const = 0;
    /* Shape only needs the input's shape, never its data. */
    if (n->op == PARE_OP_SHAPE) all_const = 1;
    /* Training changes parameters: what reads them must run every time. */
    for (int k = 0; k < n->n_inputs && (flags & PARE_PLAN_KEEP_PARAMS); k++)
      if (n->inputs[k] >= 0 && g->values[n->inputs[k]].is_param) all_const = 0;
    if (all_const) {
      st = run_node(p, i, impl, err);
      for (int o = 0; o < n->n_outputs; o++)
        if (outs[o]) outs[o]->is_const = 1;
      p->node_folded[i] = 1;
    }
  }
  if (st != PARE_OK) {
    pare_plan_destroy(p);
    return st;
  }
  *out = p;
  return PARE_OK;
}

int pare_plan_fuses(const pare_plan *p) {
  return !(p->flags & PARE_PLAN_NO_FUSE) && !pare_env_on("PARE_NO_FUSE");
}

const float *pare_plan_const_f32(const pare_plan *p, int v, int64_t count) {
  const pare_tensor *t = v >= 0 ? &p->values[v] : NULL;
  return t && t->is_const && t->data && t->dtype == PARE_DT_F32 && pare_tensor_numel(t) == count
             ? t->data
             : NULL;
}

int pare_plan_const_scalar(const pare_plan *p, const pare_node *n, int k, double *v) {
  if (k >= n->n_inputs || n->inputs[k] < 0) return 0;
  const pare_tensor *t = &p->values[n->inputs[k]];
  if (!t->is_const || !t->data || pare_tensor_numel(t) != 1) return 0;
  switch (t->dtype) {
  case PARE_DT_F32: *v = *(const float *)t->data; return 1;
  case PARE_DT_U8: *v = *(const uint8_t *)t->data; return 1;
  case PARE_DT_I8: *v = *(const int8_t *)t->data; return 1;
  default: return 0;
  }
}

void pare_plan_drop_arena(pare_plan *p) {
  if (!p->arena) return;
  for (int i = 0; i < p->n_values; i++)
    if (p->values[i].owns == 2) pare_tensor_release(&p->values[i]);
  free(p->arena);
  p->arena = NULL;
}

/* The activations into one arena laid out by the memory plan. */
static pare_status place_in_arena(pare_plan *p, pare_error *err) {
  pare_memory_plan mp;
  pare_status st = pare_memory_plan_build(p, &mp, err);
  if (st != PARE_OK) return st;
  size_t bytes = mp.planned;
  /* Offsets are 64-byte aligned from base. Never NULL once placed, even
   * with no activations, so that later runs do not plan again. */
  p->arena = malloc(bytes + 64);
  if (!p->arena) {
    pare_memory_plan_free(&mp);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory (an arena of %zu bytes)", bytes);
  }
  char *base = (char *)(((uintptr_t)p->arena + 63) & ~(uintptr_t)63);
  for (int v = 0; v < p->n_values; v++) {
    pare_tensor *t = &p->values[v];
    int64_t n = pare_tensor_numel(t);
    if (mp.offset[v] == SIZE_MAX || t->is_const || n < 0) continue;
    pare_tensor_release(t);
    t->data = base + mp.offset[v];
    t->nbytes = pare_dtype_bytes(t->dtype, (size_t)n);
    t->owns = 2;
  }
  pare_memory_plan_free(&mp);
  return PARE_OK;
}

void pare_plan_destroy(pare_plan *p) {
  if (!p) return;
  if (p->device && p->device_free) p->device_free(p->device);
  if (p->values)
    for (int i = 0; i < p->n_values; i++) pare_tensor_release(&p->values[i]);
  free(p->arena);
  free(p->values);
  free(p->node_folded);
  free(p);
}

pare_status pare_plan_run_ref(pare_plan *p, const pare_tensor *inputs, int n_inputs,
                              pare_tensor *outputs, pare_error *err) {
  const pare_graph *g = p->graph;
  if (n_inputs != g->n_inputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "the model takes %d input(s), %d given",
                          g->n_inputs, n_inputs);
  for (int i = 0; i < n_inputs; i++) {
    pare_tensor *t = &p->values[g->inputs[i]];
    if (inputs[i].rank != t->rank ||
        memcmp(inputs[i].dims, t->dims, sizeof(int64_t) * (size_t)t->rank))
      return pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "input '%s': shape differs from the one the plan was made for",
                            g->values[g->inputs[i]].name);
    if (t->is_const) {
      if (t->nbytes != inputs[i].nbytes || memcmp(t->data, inputs[i].data, t->nbytes))
        return pare_error_set(err, PARE_ERR_INVALID_ARG,
                              "input '%s' decides shapes and differs from the planned value",
                              g->values[g->inputs[i]].name);
      continue;
    }
  }
  pare_status st = PARE_OK;
  if ((p->flags & PARE_PLAN_ARENA) && !p->arena && !p->device) st = place_in_arena(p, err);
  for (int i = 0; i < n_inputs && st == PARE_OK; i++) {
    pare_tensor *t = &p->values[g->inputs[i]];
    if (t->is_const) continue;
    if (t->owns == 2) { /* a copy in the arena: ops may write over it in place */
      if (inputs[i].nbytes != t->nbytes)
        return pare_error_set(err, PARE_ERR_INVALID_ARG, "input '%s': %zu bytes, %zu expected",
                              g->values[g->inputs[i]].name, inputs[i].nbytes, t->nbytes);
      if (t->nbytes) memcpy(t->data, inputs[i].data, t->nbytes);
      continue;
    }
    pare_tensor_release(t);
    t->data = inputs[i].data; /* borrowed for the run */
    t->nbytes = inputs[i].nbytes;
  }
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    if (p->node_folded[i]) continue;
    double t0 = p->node_ms ? pare_now() : 0;
    st = run_node(p, i, pare_op_impl_get(g->nodes[i].op), err);
    if (p->node_ms) p->node_ms[i] += (pare_now() - t0) * 1e3;
  }
  for (int i = 0; i < g->n_outputs && st == PARE_OK; i++)
    st = pare_tensor_copy(&p->values[g->outputs[i]], &outputs[i], err);
  for (int i = 0; i < n_inputs; i++) {
    pare_tensor *t = &p->values[g->inputs[i]];
    if (t->is_const || t->owns == 2) continue;
    t->data = NULL;
    t->nbytes = 0;
  }
  return st;
}

#ifndef PARE_HAVE_OPENCL
int pare_exec_cl_supports(const pare_plan *p, const pare_node *n) {
  (void)p;
  (void)n;
  return 0;
}

const char *pare_exec_cl_node_form(const pare_plan *p, int i) {
  (void)p;
  (void)i;
  return "reference";
}
#endif
