/* The public compression entry points (include/pare/pare.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/calib.h"
#include "engine/compress/lowrank.h"
#include "engine/compress/prune.h"
#include "engine/compress/quantize.h"
#include "engine/compress/share.h"
#include "engine/compress/weights.h"
#include "engine/context_internal.h"
#include "engine/model_internal.h"
#include "engine/passes/passes.h"
#include "engine/ref/svd.h"
#ifdef PARE_HAVE_OPENCL
#include "host/exec_cl.h"
#include "host/launch/svd_f32.h"

/* Median time of a run of a one-layer graph on the device, random input. */
static pare_status time_layer(void *user, const pare_graph *layer, double *ms, pare_error *err) {
  pare_cl_runtime *rt = user;
  const pare_value *xv = &layer->values[layer->inputs[0]];
  pare_tensor in;
  memset(&in, 0, sizeof in);
  in.dtype = PARE_DT_F32;
  in.rank = xv->rank;
  memcpy(in.dims, xv->dims, sizeof(int64_t) * (size_t)xv->rank);
  int64_t n = pare_shape_numel(xv->rank, xv->dims);
  in.nbytes = sizeof(float) * (size_t)(n > 0 ? n : 0);
  float *x = malloc(in.nbytes ? in.nbytes : 1);
  if (!x) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) x[i] = (float)((i * 7919) % 1000) / 1000.0f - 0.5f;
  in.data = x;
  pare_plan *p = NULL;
  pare_status st = pare_plan_create(layer, &in, 1, &p, err);
  enum { WARMUP = 2, REPS = 9 };
  double t[REPS];
  for (int r = 0; r < WARMUP + REPS && st == PARE_OK; r++) {
    pare_tensor out;
    double t0 = pare_now();
    st = pare_plan_run_cl(p, rt, &in, 1, &out, err);
    if (r >= WARMUP) t[r - WARMUP] = (pare_now() - t0) * 1e3;
    if (st == PARE_OK) pare_tensor_release(&out);
  }
  pare_plan_destroy(p);
  free(x);
  if (st != PARE_OK) return st;
  for (int a = 1; a < REPS; a++) /* insertion sort, then the median */
    for (int b = a; b > 0 && t[b] < t[b - 1]; b--) {
      double tmp = t[b];
      t[b] = t[b - 1];
      t[b - 1] = tmp;
    }
  *ms = t[REPS / 2];
  return PARE_OK;
}

/* One SVD on the context's device (kernels/svd_f32.cl); on an OpenCL
 * failure the reference takes over, said once on the log. */
static pare_status device_svd(void *user, size_t m, size_t n, const float *a, float *u, float *s,
                              float *vt, pare_error *err) {
  pare_cl_runtime *rt = user;
  size_t k = m < n ? m : n;
  cl_mem da = NULL, du = NULL, ds = NULL, dv = NULL, scratch = NULL;
  pare_error e = {0};
  pare_status st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof(float) * m * n, a, &da, &e);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof(float) * m * k, NULL, &du, &e);
  if (st == PARE_OK) st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof(float) * k, NULL, &ds, &e);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof(float) * k * n, NULL, &dv, &e);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, pare_svd_f32_scratch_bytes(1, m, n), NULL, &scratch,
                        &e);
  if (st == PARE_OK) st = pare_launch_svd_f32(rt, 1, m, n, da, du, ds, dv, NULL, scratch, &e);
  if (st == PARE_OK) st = pare_cl_read(rt, du, 0, sizeof(float) * m * k, u, &e);
  if (st == PARE_OK) st = pare_cl_read(rt, ds, 0, sizeof(float) * k, s, &e);
  if (st == PARE_OK) st = pare_cl_read(rt, dv, 0, sizeof(float) * k * n, vt, &e);
  cl_mem all[5] = {da, du, ds, dv, scratch};
  for (int i = 0; i < 5; i++)
    if (all[i]) rt->cl->clReleaseMemObject(all[i]);
  if (st == PARE_OK) return PARE_OK;
  pare_log_once("svd-fallback", PARE_LOG_WARN,
                "SVD on the OpenCL device failed (%s); using the reference", e.text);
  int rc = pare_ref_svd_f32(m, n, a, u, s, vt, NULL);
  return rc == PARE_REF_SVD_OK
             ? PARE_OK
             : pare_error_set(err, PARE_ERR_INTERNAL, "SVD of a %zux%zu matrix failed", m, n);
}
#endif

/* "energy=0.9", "ratio=0.25" or "rank=32". */
static int parse_spec(const char *spec, pare_lowrank_options *o) {
  static const struct {
    const char *key;
    pare_lowrank_rule rule;
  } rules[] = {{"energy=", PARE_LOWRANK_ENERGY},
               {"ratio=", PARE_LOWRANK_RATIO},
               {"rank=", PARE_LOWRANK_RANK},
               {"auto=", PARE_LOWRANK_AUTO}};
  for (size_t i = 0; spec && i < sizeof rules / sizeof rules[0]; i++) {
    size_t n = strlen(rules[i].key);
    if (strncmp(spec, rules[i].key, n)) continue;
    char *end;
    double v = strtod(spec + n, &end);
    if (end == spec + n || *end) return 0;
    o->rule = rules[i].rule;
    o->value = rules[i].rule == PARE_LOWRANK_AUTO ? v / 100.0 : v; /* auto: in points */
    return 1;
  }
  return 0;
}

/* The validation set of the sensitivity scan: a fixed subset of the
 * dataset's training split, scored on ctx. */
typedef struct scan_set {
  pare_context *ctx;
  pare_dataset *ds;
  size_t *idx;
  size_t n;
} scan_set;

enum { SCAN_IMAGES = 2000, SCAN_BATCH = 250 };

static pare_status scan_accuracy(void *user, const pare_graph *g, double *accuracy,
                                 pare_error *err) {
  scan_set *v = user;
  struct pare_model tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.graph = (pare_graph *)g;
  size_t correct = 0;
  pare_status st = pare_accuracy_on(v->ctx, &tmp, v->ds, v->idx, v->n, SCAN_BATCH, NULL, &correct,
                                    NULL, NULL, err);
  pare_plan_destroy(tmp.plan);
  *accuracy = v->n ? (double)correct / (double)v->n : 0;
  return st;
}

/* The graph changes: weights mapped from a file become owned copies. */
static pare_status own_weights(pare_model *m) {
  for (int i = 0; i < m->graph->n_values; i++) {
    pare_value *v = &m->graph->values[i];
    if (v->borrowed && v->data && pare_value_set_data(v, v->data, v->nbytes, 0) != PARE_OK)
      return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  }
  return PARE_OK;
}

pare_status pare_model_dequantize_weights(pare_model *m, int *count) {
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  int folded = 0;
  pare_status st = own_weights(m);
  if (st == PARE_OK) st = pare_pass_fold_constants_ex(m->graph, 1, &folded, &m->error);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (count) *count = folded;
  return st;
}

pare_status pare_model_prune(pare_model *m, const char *mode, double amount, const char *dense,
                             pare_prune_layer_info **layers, int *count) {
  if (layers) *layers = NULL;
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  pare_prune_options o;
  pare_prune_options_init(&o);
  if (!pare_prune_parse_mode(mode ? mode : "layer", &o))
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "prune: mode '%s' is not layer, global, threshold, structured, "
                          "structured-l2 or N:M (e.g. 2:4)",
                          mode);
  o.amount = amount;
  o.dense = dense;
  pare_status st = own_weights(m);
  pare_prune_layer *rep = NULL;
  int n = 0;
  if (st == PARE_OK) st = pare_prune_apply(m->graph, &o, &rep, &n, &m->error);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (st == PARE_OK && layers) {
    pare_prune_layer_info *out = calloc((size_t)n + 1, sizeof *out);
    if (!out) st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; out && i < n; i++) {
      const pare_prune_layer *L = &rep[i];
      pare_prune_layer_info *f = &out[i];
      snprintf(f->node, sizeof f->node, "%s", L->node);
      f->op = pare_op_name(L->op);
      f->params_before = L->params_before, f->params = L->params;
      f->zeros_before = L->zeros_before, f->zeros = L->zeros;
      f->channels_before = L->channels_before, f->channels = L->channels;
      f->pruned = L->pruned;
      snprintf(f->why, sizeof f->why, "%s", L->why ? L->why : "");
    }
    *layers = out;
    if (count && out) *count = n;
  }
  free(rep);
  return st;
}

pare_status pare_model_share_weights(pare_model *m, int bits, const char *dense,
                                     pare_share_layer_info **layers, int *count) {
  if (layers) *layers = NULL;
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  if (bits < 1 || bits > 8) /* before the weights are copied */
    return pare_share_apply(m->graph, bits, dense, NULL, NULL, &m->error);
  pare_status st = own_weights(m);
  pare_share_layer *rep = NULL;
  int n = 0;
  if (st == PARE_OK) st = pare_share_apply(m->graph, bits, dense, &rep, &n, &m->error);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (st == PARE_OK && layers) {
    pare_share_layer_info *out = calloc((size_t)n + 1, sizeof *out);
    if (!out) st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; out && i < n; i++) {
      const pare_share_layer *L = &rep[i];
      pare_share_layer_info *f = &out[i];
      snprintf(f->node, sizeof f->node, "%s", L->node);
      f->op = pare_op_name(L->op);
      f->params = L->params, f->zeros = L->zeros;
      f->values = L->values, f->bits = L->bits;
      f->rms_error = L->rms_error;
      f->shared = L->shared;
      snprintf(f->why, sizeof f->why, "%s", L->why ? L->why : "");
    }
    *layers = out;
    if (count && out) *count = n;
  }
  free(rep);
  return st;
}

/* Second moments E[x·xᵀ] of the input rows of every Gemm/MatMul with a
 * constant 2-D weight, over images of the dataset's training split (data-
 * aware low rank). */
typedef struct moment {
  char name[128];
  int value;    /* the node's input */
  int64_t cols; /* features */
  int64_t rows; /* input rows summed */
  float *m;     /* [cols×cols] */
} moment;

typedef struct moments {
  moment *items;
  int n;
} moments;

static const float *find_moment(void *user, const char *node, int64_t cols) {
  const moments *ms = user;
  for (int i = 0; i < ms->n; i++)
    if (!strcmp(ms->items[i].name, node) && ms->items[i].cols == cols) return ms->items[i].m;
  return NULL;
}

static void moments_free(moments *ms) {
  for (int i = 0; i < ms->n; i++) free(ms->items[i].m);
  free(ms->items);
  ms->items = NULL;
  ms->n = 0;
}

static pare_status moments_visit(void *user, const pare_plan *p, const float *x, size_t count,
                                 pare_error *err) {
  (void)count;
  (void)err;
  moments *ms = user;
  for (int k = 0; k < ms->n; k++) {
    moment *mo = &ms->items[k];
    int64_t elems;
    const float *a = pare_calib_value(p, mo->value, x, &elems);
    if (!a || elems % mo->cols) continue;
    int64_t rows = elems / mo->cols; /* E[x·xᵀ] summed here, divided at the end */
    pare_ref_gemm_f32(1, 0, (size_t)mo->cols, (size_t)mo->cols, (size_t)rows, 1.0f, a,
                      (size_t)mo->cols, a, (size_t)mo->cols, 1.0f, mo->m, (size_t)mo->cols, NULL);
    mo->rows += rows;
  }
  return PARE_OK;
}

static pare_status input_moments(const pare_graph *g, const char *dataset, int64_t images,
                                 moments *ms, pare_error *err) {
  memset(ms, 0, sizeof *ms);
  ms->items = calloc((size_t)g->n_nodes + 1, sizeof(moment));
  if (!ms->items) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if ((n->op != PARE_OP_GEMM && n->op != PARE_OP_MATMUL) || n->n_inputs < 2 ||
        pare_node_attr_int(n, "transA", 0))
      continue;
    const pare_value *w = &g->values[n->inputs[1]];
    if (w->kind != PARE_VALUE_CONSTANT || w->rank != 2 || w->dtype != PARE_DT_F32) continue;
    int tb = n->op == PARE_OP_GEMM && pare_node_attr_int(n, "transB", 0);
    moment *mo = &ms->items[ms->n];
    snprintf(mo->name, sizeof mo->name, "%s", n->name ? n->name : "");
    mo->value = n->inputs[0];
    mo->cols = tb ? w->dims[1] : w->dims[0];
    mo->m = calloc((size_t)(mo->cols * mo->cols), sizeof(float));
    if (!mo->m) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    ms->n++;
  }
  pare_status st = pare_calib_run(g, dataset, images, "low-rank data", moments_visit, ms, err);
  for (int k = 0; k < ms->n && st == PARE_OK; k++)
    for (int64_t e = 0; e < ms->items[k].cols * ms->items[k].cols && ms->items[k].rows; e++)
      ms->items[k].m[e] /= (float)ms->items[k].rows;
  return st;
}

/* ---- activation pruning ------------------------------------------------------ */

/* 1 when value v is the model's input, or a reshaping of it. */
static int is_model_input(const pare_graph *g, int v) {
  for (;;) {
    for (int i = 0; i < g->n_inputs; i++)
      if (g->inputs[i] == v) return 1;
    int p = g->values[v].producer;
    if (p < 0) return 0;
    pare_op op = g->nodes[p].op;
    if (op != PARE_OP_FLATTEN && op != PARE_OP_RESHAPE && op != PARE_OP_SQUEEZE &&
        op != PARE_OP_UNSQUEEZE && op != PARE_OP_IDENTITY)
      return 0;
    v = g->nodes[p].inputs[0];
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

pare_status pare_model_prune_activations(pare_model *m, double sparsity, const char *dataset,
                                         int64_t images, const char *dense,
                                         pare_act_prune_info **layers, int *count) {
  if (layers) *layers = NULL;
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  if (!(sparsity > 0 && sparsity < 1) || images < 1)
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "activation pruning: the sparsity must be in (0, 1) (got %g) and the "
                          "calibration images at least 1",
                          sparsity);
  pare_graph *g = m->graph;
  pare_calib_sampling as = {calloc((size_t)g->n_nodes + 1, sizeof(pare_calib_samples)), 0};
  int *layer_of = calloc((size_t)g->n_nodes + 1, sizeof(int));
  pare_act_prune_info *out = calloc((size_t)g->n_nodes + 1, sizeof *out);
  pare_status st =
      as.items && out ? PARE_OK : pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  /* Layers with constant weights that read an activation (not the model's
   * input: pixels are data, not activations). */
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    const pare_node *n = &g->nodes[i];
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw) || is_model_input(g, n->inputs[0])) continue;
    if (pare_name_in_list(dense, n->name)) continue;
    layer_of[as.n] = i;
    pare_calib_samples *L = &as.items[as.n++];
    L->value = n->inputs[0];
    L->min = INFINITY;
    L->max = -INFINITY;
    L->samples = malloc(sizeof(float) * PARE_CALIB_SAMPLES);
    if (!L->samples) st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
  }
  if (st == PARE_OK)
    st =
        pare_calib_run(g, dataset, images, "activation pruning", pare_calib_sample, &as, &m->error);
  int nout = 0;
  /* Thresholds first (node indices shift as Shrink nodes go in), then the
   * rewrites from the last layer back. */
  for (int k = 0; k < as.n && st == PARE_OK; k++) {
    pare_calib_samples *L = &as.items[k];
    pare_act_prune_info *f = &out[nout++];
    snprintf(f->node, sizeof f->node, "%s", g->nodes[layer_of[k]].name);
    f->sparsity_before = L->n ? (double)L->zeros / (double)L->n : 0;
    if (!L->n) continue;
    for (size_t i = 0; i < L->n; i++) L->samples[i] = fabsf(L->samples[i]);
    qsort(L->samples, L->n, sizeof(float), cmp_float);
    size_t at = (size_t)(sparsity * (double)L->n);
    f->threshold = at ? L->samples[at - 1] : 0.0f;
    size_t below = 0;
    for (size_t i = 0; i < L->n; i++) below += L->samples[i] <= f->threshold;
    f->sparsity = f->threshold > 0 ? (double)below / (double)L->n : f->sparsity_before;
  }
  for (int k = as.n - 1; k >= 0 && st == PARE_OK; k--) {
    pare_act_prune_info *f = &out[k];
    if (!(f->threshold > 0)) continue; /* already that sparse */
    int i = layer_of[k], src = as.items[k].value;
    char name[300];
    snprintf(name, sizeof name, "%s.pruned_input", f->node);
    const pare_value *sv = &g->values[src];
    int v = pare_graph_add_value(g, name, sv->dtype, sv->rank, sv->dims);
    int at = v < 0 ? -1 : pare_graph_insert_node(g, i, name, PARE_OP_SHRINK, 1, 1);
    pare_attr *lambd = at < 0 ? NULL : pare_node_add_attr(&g->nodes[at], "lambd", PARE_ATTR_FLOAT);
    if (!lambd) {
      st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
      break;
    }
    lambd->f = f->threshold;
    g->nodes[at].inputs[0] = src;
    g->nodes[at].outputs[0] = v;
    g->values[v].producer = at;
    g->nodes[at + 1].inputs[0] = v; /* the layer, shifted by one */
    f->pruned = 1;
  }
  for (int k = 0; k < as.n; k++) free(as.items[k].samples);
  free(as.items);
  free(layer_of);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (st == PARE_OK) st = pare_graph_validate(g, &m->error);
  if (st != PARE_OK || !layers) {
    free(out);
    return st;
  }
  *layers = out;
  if (count) *count = nout;
  return PARE_OK;
}

pare_status pare_model_factorize(pare_context *ctx, pare_model *m, const char *spec,
                                 const char *conv, const char *skip, int64_t measure_batch,
                                 const char *dataset, int64_t data_images,
                                 pare_factor_layer **layers, int *count) {
  if (layers) *layers = NULL;
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  pare_lowrank_options o;
  pare_lowrank_options_init(&o);
  if (!parse_spec(spec, &o))
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "low-rank: '%s' is not energy=E, ratio=R, rank=N or auto=D",
                          spec ? spec : "");
  if (!conv || !strcmp(conv, "channel"))
    o.conv = PARE_LOWRANK_CONV_CHANNEL;
  else if (!strcmp(conv, "spatial"))
    o.conv = PARE_LOWRANK_CONV_SPATIAL;
  else if (!strcmp(conv, "none"))
    o.conv = PARE_LOWRANK_CONV_SKIP;
  else
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "low-rank: convolution mode '%s' is not channel, spatial or none", conv);
  o.skip = skip;
#ifdef PARE_HAVE_OPENCL
  if (ctx && ctx->rt) {
    o.svd = device_svd;
    o.svd_user = ctx->rt;
  }
#else
  (void)ctx;
#endif
  if (own_weights(m) != PARE_OK) return PARE_ERR_NO_MEMORY;
  pare_plan *shapes = NULL;
  if (measure_batch > 0) {
#ifdef PARE_HAVE_OPENCL
    if (!ctx || !ctx->rt)
      return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                            "low-rank: measuring layers needs an OpenCL context");
    /* Shapes at the measuring batch: every graph input's dynamic dims. */
    pare_tensor in[16];
    const pare_graph *g = m->graph;
    if (g->n_inputs > 16)
      return pare_error_set(&m->error, PARE_ERR_UNSUPPORTED, "low-rank: more than 16 inputs");
    for (int i = 0; i < g->n_inputs; i++) {
      const pare_value *v = &g->values[g->inputs[i]];
      memset(&in[i], 0, sizeof in[i]);
      in[i].dtype = v->dtype;
      in[i].rank = v->rank;
      for (int d = 0; d < v->rank; d++) in[i].dims[d] = v->dims[d] < 0 ? measure_batch : v->dims[d];
    }
    pare_status pst = pare_plan_create(g, in, g->n_inputs, &shapes, &m->error);
    if (pst != PARE_OK) return pst;
    o.time = time_layer;
    o.time_user = ctx->rt;
    o.shapes = shapes;
#else
    return pare_error_set(&m->error, PARE_ERR_UNSUPPORTED,
                          "low-rank: measuring layers needs OpenCL (this libpare has none)");
#endif
  }
  scan_set scan;
  memset(&scan, 0, sizeof scan);
  pare_status st = PARE_OK;
  if (o.rule == PARE_LOWRANK_AUTO) {
    char msg[512];
    st = pare_dataset_open(dataset ? dataset : "fashion-mnist", "train", &scan.ds, msg, sizeof msg);
    if (st != PARE_OK) pare_error_set(&m->error, st, "low-rank auto: %s", msg);
    size_t total = scan.ds ? pare_dataset_count(scan.ds) : 0;
    scan.n = total < SCAN_IMAGES ? total : SCAN_IMAGES;
    scan.idx = st == PARE_OK ? malloc(sizeof(size_t) * (scan.n + 1)) : NULL;
    if (st == PARE_OK && !scan.idx)
      st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    if (st == PARE_OK) {
      for (size_t i = 0; i < scan.n; i++) scan.idx[i] = i * (total / scan.n); /* spread out */
      scan.ctx = ctx;
      o.eval = scan_accuracy;
      o.eval_user = &scan;
    }
  }
  moments ms = {0};
  if (st == PARE_OK && data_images > 0) {
    st = input_moments(m->graph, dataset, data_images, &ms, &m->error);
    o.input_moment = find_moment;
    o.moment_user = &ms;
  }
  pare_lowrank_layer *rep = NULL;
  int n = 0;
  if (st == PARE_OK) st = pare_lowrank_apply(m->graph, &o, &rep, &n, &m->error);
  moments_free(&ms);
  pare_plan_destroy(shapes);
  pare_dataset_destroy(scan.ds);
  free(scan.idx);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (st == PARE_OK && layers) {
    pare_factor_layer *out = calloc((size_t)n + 1, sizeof *out);
    if (!out) {
      free(rep);
      return pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    }
    for (int i = 0; i < n; i++) {
      const pare_lowrank_layer *L = &rep[i];
      pare_factor_layer *f = &out[i];
      snprintf(f->node, sizeof f->node, "%s", L->node);
      f->op = pare_op_name(L->op);
      f->rows = L->rows, f->cols = L->cols, f->full_rank = L->full_rank, f->rank = L->rank;
      f->params_before = L->params_before, f->params_after = L->params_after;
      f->energy = L->energy;
      f->ms_before = L->ms_before, f->ms_after = L->ms_after;
      f->accuracy = L->accuracy;
      f->factored = L->factored;
      f->data_aware = L->data_aware;
      snprintf(f->why, sizeof f->why, "%s", L->why ? L->why : "");
    }
    *layers = out;
    if (count) *count = n;
  }
  free(rep);
  return st;
}

pare_status pare_model_quantize(pare_model *m, const char *spec, const char *calib,
                                const char *dataset, int64_t calib_images, const char *dense,
                                int per_tensor, pare_quant_layer_info **layers, int *count) {
  if (layers) *layers = NULL;
  if (count) *count = 0;
  if (!m) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  pare_quant_options o;
  pare_quant_options_init(&o);
  if (!pare_quant_parse(spec, &o))
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "quantize: '%s' is not int8, int4, fp16, wN or wNa8 (N = 2..8)",
                          spec ? spec : "");
  if (calib && !pare_calib_parse(calib, &o.method))
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "quantize: calibration '%s' is not minmax, percentile, entropy or mse",
                          calib);
  if (calib_images < 1 && o.act_bits) /* weights alone need no images */
    return pare_error_set(&m->error, PARE_ERR_INVALID_ARG,
                          "quantize: '%s' calibrates activations: at least one image is needed",
                          spec);
  o.per_channel = !per_tensor;
  o.dense = dense;
  if (dataset) o.dataset = dataset;
  o.calib_images = calib_images; /* read only when activations are calibrated */
  pare_status st = own_weights(m);
  pare_quant_layer *rep = NULL;
  int n = 0;
  if (st == PARE_OK) st = pare_quantize_apply(m->graph, &o, &rep, &n, &m->error);
  pare_plan_destroy(m->plan);
  m->plan = NULL;
  if (st == PARE_OK && layers) {
    pare_quant_layer_info *out = calloc((size_t)n + 1, sizeof *out);
    if (!out) st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    for (int i = 0; out && i < n; i++) {
      const pare_quant_layer *L = &rep[i];
      pare_quant_layer_info *f = &out[i];
      snprintf(f->node, sizeof f->node, "%s", L->node);
      f->op = pare_op_name(L->op);
      f->weight_bits = L->weight_bits;
      f->weight_error = L->weight_error;
      f->act_lo = L->act_lo, f->act_hi = L->act_hi;
      f->act_scale = L->act_scale, f->act_zero_point = L->act_zero_point;
      f->bytes_before = L->bytes_before, f->bytes_after = L->bytes_after;
      snprintf(f->why, sizeof f->why, "%s", L->why ? L->why : "");
    }
    *layers = out;
    if (count && out) *count = n;
  }
  free(rep);
  return st;
}
