/* The public compression entry points (include/pare/pare.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/lowrank.h"
#include "engine/compress/prune.h"
#include "engine/context_internal.h"
#include "engine/model_internal.h"
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
  int64_t sample; /* floats per image */
} scan_set;

enum { SCAN_IMAGES = 2000, SCAN_BATCH = 250 };

static pare_status scan_accuracy(void *user, const pare_graph *g, double *accuracy,
                                 pare_error *err) {
  scan_set *v = user;
  struct pare_model tmp;
  memset(&tmp, 0, sizeof tmp);
  tmp.graph = (pare_graph *)g;
  if (g->n_inputs != 1)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "low-rank auto: the model needs one input");
  const pare_value *xv = &g->values[g->inputs[0]];
  float *x = malloc(sizeof(float) * SCAN_BATCH * (size_t)v->sample);
  int64_t labels[SCAN_BATCH];
  pare_status st = x ? PARE_OK : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  size_t correct = 0;
  for (size_t first = 0; first < v->n && st == PARE_OK; first += SCAN_BATCH) {
    size_t count = v->n - first < SCAN_BATCH ? v->n - first : SCAN_BATCH;
    st = pare_dataset_batch(v->ds, v->idx + first, count, x, labels);
    pare_tensor_view in;
    memset(&in, 0, sizeof in);
    in.dtype = PARE_DT_F32;
    in.rank = xv->rank;
    for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] > 0 ? xv->dims[d] : 1;
    in.dims[0] = (int64_t)count;
    in.data = x;
    in.nbytes = sizeof(float) * count * (size_t)v->sample;
    pare_tensor_view out;
    if (st == PARE_OK && pare_model_run(v->ctx, &tmp, &in, 1, &out, 1) != PARE_OK)
      st = pare_error_set(err, PARE_ERR_INVALID_ARG, "low-rank auto: %s", tmp.error.text);
    if (st != PARE_OK) break;
    const float *y = out.data;
    int64_t k = out.rank == 2 ? out.dims[1] : 0;
    for (size_t i = 0; i < count && k > 0; i++) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; c++)
        if (y[i * (size_t)k + (size_t)c] > y[i * (size_t)k + (size_t)best]) best = c;
      correct += best == labels[i];
    }
    pare_free(out.data);
  }
  pare_plan_destroy(tmp.plan);
  free(x);
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

pare_status pare_model_factorize(pare_context *ctx, pare_model *m, const char *spec,
                                 const char *conv, const char *skip, int64_t measure_batch,
                                 const char *dataset, pare_factor_layer **layers, int *count) {
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
    int64_t sd[3];
    int classes;
    size_t total = scan.ds ? pare_dataset_count(scan.ds) : 0;
    scan.n = total < SCAN_IMAGES ? total : SCAN_IMAGES;
    scan.idx = st == PARE_OK ? malloc(sizeof(size_t) * (scan.n + 1)) : NULL;
    if (st == PARE_OK && (!scan.idx || pare_dataset_info(scan.ds, sd, &classes) != PARE_OK))
      st = pare_error_set(&m->error, PARE_ERR_NO_MEMORY, "out of memory");
    if (st == PARE_OK) {
      scan.sample = sd[0] * sd[1] * sd[2];
      for (size_t i = 0; i < scan.n; i++) scan.idx[i] = i * (total / scan.n); /* spread out */
      scan.ctx = ctx;
      o.eval = scan_accuracy;
      o.eval_user = &scan;
    }
  }
  pare_lowrank_layer *rep = NULL;
  int n = 0;
  if (st == PARE_OK) st = pare_lowrank_apply(m->graph, &o, &rep, &n, &m->error);
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
      snprintf(f->why, sizeof f->why, "%s", L->why ? L->why : "");
    }
    *layers = out;
    if (count) *count = n;
  }
  free(rep);
  return st;
}
