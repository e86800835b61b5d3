/* pare_model: a graph loaded from ONNX or .pare, with a plan cached for the
 * last input shapes, run on the context's backend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/context_internal.h"
#include "engine/exec/exec.h"
#include "engine/io/importers.h"
#include "engine/io/pare_format.h"
#include "engine/model_internal.h"
#include "engine/train/zoo.h"
#ifdef PARE_HAVE_OPENCL
#include "host/exec_cl.h"
#endif

void pare_free(void *p) { free(p); }

pare_status pare_model_load(const char *path, pare_model **out, char *error, size_t error_size) {
  pare_error err = {{0}};
  pare_status st = PARE_OK;
  if (!out || !path) return PARE_ERR_INVALID_ARG;
  *out = NULL;
  pare_graph *g = NULL;
  /* The magic decides: .pare is mapped (weights are not copied), anything
   * else goes to a registered importer. */
  unsigned char magic[8] = {0};
  FILE *f = fopen(path, "rb");
  if (!f) {
    st = pare_error_set(&err, PARE_ERR_IO, "%s: cannot open", path);
  } else {
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (pare_format_is_pare(magic, got)) st = pare_format_load(path, &g, &err);
  }
  if (st == PARE_OK && !g) {
    pare_model_importer import = pare_importers_model();
    if (import)
      st = import(path, &g, &err);
    else
      st = pare_error_set(&err, PARE_ERR_UNSUPPORTED,
                          "%s: not a .pare file (ONNX models need libpare_onnx: "
                          "pare_onnx_enable(), or `pare import`)",
                          path);
  }
  pare_model *m = NULL;
  if (st == PARE_OK) {
    m = calloc(1, sizeof *m);
    if (!m) st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  if (st != PARE_OK) {
    pare_graph_destroy(g);
    if (error && error_size) pare_strlcpy(error, err.text, error_size);
    return st;
  }
  m->graph = g;
  pare_strlcpy(m->path, path, sizeof m->path);
  *out = m;
  return PARE_OK;
}

pare_status pare_model_create(const char *arch, uint64_t seed, pare_model **out, char *error,
                              size_t error_size) {
  if (!out) return PARE_ERR_INVALID_ARG;
  *out = NULL;
  pare_graph *g = NULL;
  pare_error err = {{0}};
  pare_status st = pare_zoo_build(arch, seed ? seed : 1, &g, &err);
  pare_model *m = st == PARE_OK ? calloc(1, sizeof *m) : NULL;
  if (st == PARE_OK && !m) st = pare_error_set(&err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st != PARE_OK) {
    pare_graph_destroy(g);
    if (error && error_size) pare_strlcpy(error, err.text, error_size);
    return st;
  }
  m->graph = g;
  pare_strlcpy(m->path, arch, sizeof m->path);
  *out = m;
  return PARE_OK;
}

pare_status pare_model_save(pare_model *m, const char *path) {
  if (!m || !path) return PARE_ERR_INVALID_ARG;
  return pare_format_save(m->graph, path, &m->error);
}

void pare_model_destroy(pare_model *m) {
  if (!m) return;
  pare_plan_destroy(m->plan);
  pare_graph_destroy(m->graph);
  free(m);
}

const char *pare_model_last_error(const pare_model *m) { return m ? m->error.text : "no model"; }

int pare_model_input_count(const pare_model *m) { return m ? m->graph->n_inputs : 0; }
int pare_model_output_count(const pare_model *m) { return m ? m->graph->n_outputs : 0; }

static pare_status value_info(const pare_model *m, int v, pare_tensor_view *info) {
  const pare_value *val = &m->graph->values[v];
  memset(info, 0, sizeof *info);
  info->name = val->name;
  info->dtype = val->dtype;
  info->rank = val->rank;
  for (int i = 0; i < val->rank && i < PARE_MAX_RANK; i++) info->dims[i] = val->dims[i];
  return PARE_OK;
}

pare_status pare_model_input_info(const pare_model *m, int i, pare_tensor_view *info) {
  if (!m || !info || i < 0 || i >= m->graph->n_inputs) return PARE_ERR_INVALID_ARG;
  return value_info(m, m->graph->inputs[i], info);
}

pare_status pare_model_output_info(const pare_model *m, int i, pare_tensor_view *info) {
  if (!m || !info || i < 0 || i >= m->graph->n_outputs) return PARE_ERR_INVALID_ARG;
  return value_info(m, m->graph->outputs[i], info);
}

/* Orders the caller's inputs as the graph's: by name when named. */
static pare_status order_inputs(const pare_model *m, pare_error *err,
                                const pare_tensor_view *inputs, int n, pare_tensor *ordered) {
  const pare_graph *g = m->graph;
  if (n != g->n_inputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s takes %d input(s), %d given", m->path,
                          g->n_inputs, n);
  char used[64] = {0};
  if (n > 64) return pare_error_set(err, PARE_ERR_UNSUPPORTED, "more than 64 inputs");
  for (int i = 0; i < n; i++) {
    int slot = i;
    if (inputs[i].name) {
      slot = -1;
      for (int k = 0; k < g->n_inputs; k++)
        if (!strcmp(g->values[g->inputs[k]].name, inputs[i].name)) slot = k;
      if (slot < 0)
        return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s has no input named '%s'", m->path,
                              inputs[i].name);
    }
    if (used[slot])
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "input '%s' given twice",
                            g->values[g->inputs[slot]].name);
    used[slot] = 1;
    if (inputs[i].rank < 0 || inputs[i].rank > PARE_MAX_RANK)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "input %d: bad rank %d", i, inputs[i].rank);
    pare_tensor *t = &ordered[slot];
    memset(t, 0, sizeof *t);
    t->dtype = inputs[i].dtype;
    t->rank = inputs[i].rank;
    memcpy(t->dims, inputs[i].dims, sizeof(int64_t) * (size_t)t->rank);
    int64_t numel = pare_tensor_numel(t);
    if (numel < 0 || pare_dtype_bytes(t->dtype, (size_t)numel) != inputs[i].nbytes ||
        (numel > 0 && !inputs[i].data))
      return pare_error_set(
          err, PARE_ERR_INVALID_ARG, "input '%s': %zu bytes of data do not fit its %s shape",
          g->values[g->inputs[slot]].name, inputs[i].nbytes, pare_dtype_name(t->dtype));
    t->data = inputs[i].data;
    t->nbytes = inputs[i].nbytes;
  }
  return PARE_OK;
}

/* 1 when the cached plan was made for these input shapes and values, and
 * with these flags. */
static int plan_fits(const pare_model *m, const pare_plan *plan, int flags, const pare_tensor *in,
                     int n) {
  if (!plan || plan->flags != flags) return 0;
  for (int i = 0; i < n; i++) {
    const pare_tensor *t = &plan->values[m->graph->inputs[i]];
    if (t->dtype != in[i].dtype || t->rank != in[i].rank ||
        memcmp(t->dims, in[i].dims, sizeof(int64_t) * (size_t)t->rank))
      return 0;
    if (t->is_const && (t->nbytes != in[i].nbytes || memcmp(t->data, in[i].data, t->nbytes)))
      return 0;
  }
  return 1;
}

/* A run of m with the plan in *plan (remade when the input shapes
 * change), errors into err: the model's own state, or a session's. The
 * model is only read. */
uint64_t pare_model_device_activation_bytes(const pare_model *m) {
#ifdef PARE_HAVE_OPENCL
  return m && m->plan ? (uint64_t)pare_exec_cl_arena_bytes(m->plan) : 0;
#else
  (void)m;
  return 0;
#endif
}

static pare_status run_model(pare_context *ctx, pare_model *m, pare_plan **plan, pare_error *err,
                             const pare_tensor_view *inputs, int n_inputs,
                             pare_tensor_view *outputs, int n_outputs) {
  pare_error_clear(err);
  if (!ctx || (n_inputs > 0 && !inputs) || !outputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "pare_model_run: NULL argument");
  const pare_graph *g = m->graph;
  if (n_outputs != g->n_outputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s has %d output(s), room for %d given",
                          m->path, g->n_outputs, n_outputs);
  pare_tensor ordered[64];
  pare_status st = order_inputs(m, err, inputs, n_inputs, ordered);
  if (st != PARE_OK) return st;
  int flags = (ctx->no_fuse ? PARE_PLAN_NO_FUSE : 0) | PARE_PLAN_ARENA;
  if (!plan_fits(m, *plan, flags, ordered, n_inputs)) {
    pare_plan_destroy(*plan);
    *plan = NULL;
    st = pare_plan_create_ex(g, ordered, n_inputs, flags, plan, err);
    if (st != PARE_OK) return st;
  }
  pare_tensor outs[64];
  if (n_outputs > 64) return pare_error_set(err, PARE_ERR_UNSUPPORTED, "more than 64 outputs");
  st = PARE_ERR_NO_DEVICE;
#ifdef PARE_HAVE_OPENCL
  if (ctx->backend == PARE_BACKEND_OPENCL) {
    (*plan)->evaluating = m->evaluating;
    st = pare_plan_run_cl(*plan, ctx->rt, ordered, n_inputs, outs, err);
    if (st != PARE_OK) {
      pare_error_set(&ctx->error, st, "%s", err->text);
      /* Device state of the plan belongs to the runtime about to go. */
      if ((*plan)->device && (*plan)->device_free) (*plan)->device_free((*plan)->device);
      (*plan)->device = NULL;
      if (!pare_context_fall_back(ctx, "running the model")) return st;
    }
  }
#endif
  if (st != PARE_OK) st = pare_plan_run_ref(*plan, ordered, n_inputs, outs, err);
  if (st != PARE_OK) return st;
  for (int i = 0; i < n_outputs; i++) {
    memset(&outputs[i], 0, sizeof outputs[i]);
    outputs[i].name = g->values[g->outputs[i]].name;
    outputs[i].dtype = outs[i].dtype;
    outputs[i].rank = outs[i].rank;
    memcpy(outputs[i].dims, outs[i].dims, sizeof(int64_t) * (size_t)outs[i].rank);
    outputs[i].data = outs[i].data; /* malloc'ed: the caller frees with pare_free */
    outputs[i].nbytes = outs[i].nbytes;
  }
  return PARE_OK;
}

pare_status pare_model_run_stream(pare_context *ctx, pare_model *m, const pare_tensor *shape,
                                  size_t n, pare_batch_fill_fn fill, pare_batch_take_fn take,
                                  void *user, size_t *done, pare_error *err) {
  *done = 0;
#ifdef PARE_HAVE_OPENCL
  const pare_graph *g = m->graph;
  if (!ctx || ctx->backend != PARE_BACKEND_OPENCL || g->n_inputs != 1 || g->n_outputs != 1 ||
      shape->dtype != PARE_DT_F32 || n == 0 || pare_env_on("PARE_NO_STREAM"))
    return PARE_ERR_UNSUPPORTED;
  int flags = (ctx->no_fuse ? PARE_PLAN_NO_FUSE : 0) | PARE_PLAN_ARENA;
  pare_tensor in = *shape;
  in.data = calloc(in.nbytes ? in.nbytes : 1, 1);
  in.owns = 0;
  if (!in.data) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  /* Plan 0 is the model's own (kept for later runs of this shape), plan 1
   * a second one for the stream. */
  pare_plan *plans[2] = {NULL, NULL};
  pare_status st = PARE_OK;
  if (!plan_fits(m, m->plan, flags, &in, 1)) {
    pare_plan_destroy(m->plan);
    m->plan = NULL;
    st = pare_plan_create_ex(g, &in, 1, flags, &m->plan, err);
  }
  plans[0] = m->plan;
  if (st == PARE_OK) st = pare_plan_create_ex(g, &in, 1, flags, &plans[1], err);
  for (int k = 0; k < 2 && st == PARE_OK; k++) plans[k]->evaluating = m->evaluating;
  /* Batch i runs on plan i % 2 with that queue as its home; a plan's run
   * starts only once its previous one was taken. */
  int pending[2] = {0, 0};
  if (st == PARE_OK) st = fill(user, 0, in.data);
  if (st == PARE_OK) st = pare_plan_run_cl_start(plans[0], ctx->rt, 0, &in, 1, err);
  pending[0] = st == PARE_OK;
  for (size_t i = 0; i < n && st == PARE_OK; i++) {
    int k = (int)(i % 2), next = 1 - k;
    if (i + 1 < n) {
      st = fill(user, i + 1, in.data);
      if (st == PARE_OK) st = pare_plan_run_cl_start(plans[next], ctx->rt, next, &in, 1, err);
      pending[next] = st == PARE_OK;
    }
    pare_tensor y;
    memset(&y, 0, sizeof y);
    pare_status fin = pare_plan_run_cl_finish(plans[k], ctx->rt, &y, err);
    pending[k] = 0;
    if (st == PARE_OK) st = fin;
    if (st == PARE_OK) st = take(user, i, &y);
    pare_tensor_release(&y);
    if (st == PARE_OK) *done = i + 1;
  }
  for (int k = 0; k < 2; k++) /* a run still in flight after a failure */
    if (pending[k]) {
      pare_error ignored;
      pare_tensor y;
      memset(&y, 0, sizeof y);
      if (pare_plan_run_cl_finish(plans[k], ctx->rt, &y, &ignored) == PARE_OK)
        pare_tensor_release(&y);
    }
  if (st != PARE_OK && plans[0] && plans[0]->device && plans[0]->device_free) {
    /* The model's plan keeps no device state from a failed stream. */
    plans[0]->device_free(plans[0]->device);
    plans[0]->device = NULL;
  }
  pare_plan_destroy(plans[1]);
  free(in.data);
  return st;
#else
  (void)ctx, (void)m, (void)shape, (void)n, (void)fill, (void)take, (void)user, (void)err;
  return PARE_ERR_UNSUPPORTED;
#endif
}

pare_status pare_model_run(pare_context *ctx, pare_model *m, const pare_tensor_view *inputs,
                           int n_inputs, pare_tensor_view *outputs, int n_outputs) {
  if (!m) return PARE_ERR_INVALID_ARG;
  return run_model(ctx, m, &m->plan, &m->error, inputs, n_inputs, outputs, n_outputs);
}

struct pare_session {
  pare_model *model;
  pare_plan *plan;
  pare_error error;
};

pare_status pare_session_create(pare_model *m, pare_session **out) {
  if (!m || !out) return PARE_ERR_INVALID_ARG;
  *out = calloc(1, sizeof **out);
  if (!*out) return PARE_ERR_NO_MEMORY;
  (*out)->model = m;
  return PARE_OK;
}

void pare_session_destroy(pare_session *s) {
  if (!s) return;
  pare_plan_destroy(s->plan);
  free(s);
}

pare_status pare_session_run(pare_context *ctx, pare_session *s, const pare_tensor_view *inputs,
                             int n_inputs, pare_tensor_view *outputs, int n_outputs) {
  if (!s) return PARE_ERR_INVALID_ARG;
  return run_model(ctx, s->model, &s->plan, &s->error, inputs, n_inputs, outputs, n_outputs);
}

const char *pare_session_last_error(const pare_session *s) { return s ? s->error.text : ""; }

pare_status pare_model_profile(pare_context *ctx, pare_model *m, const pare_tensor_view *inputs,
                               int n_inputs, int runs, pare_node_time **nodes, int *count) {
  if (!m || !nodes || !count || runs < 1) return PARE_ERR_INVALID_ARG;
  *nodes = NULL;
  *count = 0;
  const pare_graph *g = m->graph;
  pare_tensor_view outs[64];
  if (g->n_outputs > 64) return pare_error_set(&m->error, PARE_ERR_UNSUPPORTED, "too many outputs");
  /* An untimed run plans the model (and builds the device programs). */
  pare_status st = pare_model_run(ctx, m, inputs, n_inputs, outs, g->n_outputs);
  for (int k = 0; st == PARE_OK && k < g->n_outputs; k++) pare_free(outs[k].data);
  if (st != PARE_OK) return st;
  double *ms = calloc((size_t)g->n_nodes + 1, sizeof(double));
  pare_node_time *out = calloc((size_t)g->n_nodes + 1, sizeof *out);
  if (!ms || !out) {
    free(ms);
    free(out);
    return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  }
  for (int r = 0; r < runs && st == PARE_OK; r++) {
    m->plan->node_ms = ms; /* the plan made by the first run, while shapes stay */
    st = pare_model_run(ctx, m, inputs, n_inputs, outs, g->n_outputs);
    if (m->plan) m->plan->node_ms = NULL;
    for (int k = 0; st == PARE_OK && k < g->n_outputs; k++) pare_free(outs[k].data);
  }
  int on_opencl = ctx && pare_context_backend(ctx) == PARE_BACKEND_OPENCL;
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    out[i].name = g->nodes[i].name;
    out[i].op = pare_op_name(g->nodes[i].op);
    out[i].ms = ms[i] / runs;
    out[i].backend = m->plan->node_folded[i] ? "folded"
                     : on_opencl             ? pare_exec_cl_node_form(m->plan, i)
                                             : "reference";
  }
  free(ms);
  if (st != PARE_OK) {
    free(out);
    return st;
  }
  *nodes = out;
  *count = g->n_nodes;
  return PARE_OK;
}
