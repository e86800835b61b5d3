/* The reference trainer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/trainer_internal.h"
#ifdef PARE_HAVE_OPENCL
#include "host/train_cl.h"
#endif

void pare_train_config_init(pare_train_config *c) {
  memset(c, 0, sizeof *c);
  c->batch = 64;
  c->optimizer = PARE_OPT_SGD;
  pare_ref_sgd_params_init(&c->sgd, 0.05f);
  c->sgd.momentum = 0.9f;
  pare_ref_adam_params_init(&c->adam, 1e-3f);
  c->schedule.kind = PARE_REF_LR_CONSTANT;
  c->schedule.lr = 0.05;
  c->schedule.gamma = 0.1;
  c->schedule.step_size = 1;
  c->schedule.warmup_start_factor = 1.0;
  c->distill_alpha = 0.1f;
  c->distill_temperature = 4.0f;
}

static size_t numel_of(const pare_tensor *t) {
  int64_t n = pare_tensor_numel(t);
  return n > 0 ? (size_t)n : 0;
}

void pare_trainer_destroy(pare_trainer *t) {
  if (!t) return;
  int nv = t->g->n_values, nn = t->g->n_nodes;
  for (int i = 0; i < nv; i++) {
    free(t->grad[i]);
    free(t->state_a[i]);
    free(t->state_b[i]);
    free(t->mask[i]);
    free(t->master[i]);
    if (t->share_label) free(t->share_label[i]);
  }
  for (int i = 0; i < nn; i++) {
    free(t->bn_mean[i]);
    free(t->bn_inv_std[i]);
  }
  free(t->grad);
  free(t->state_a);
  free(t->state_b);
  free(t->mask);
  free(t->master);
  free(t->share_label);
  free(t->share_k);
  free(t->qbits);
  free(t->qrows);
  free(t->bn_mean);
  free(t->bn_inv_std);
  free(t->needs_grad);
  free(t->scratch);
#ifdef PARE_HAVE_OPENCL
  pare_train_cl_destroy(t->cl);
#endif
  pare_plan_destroy(t->plan);
  free(t);
}

int pare_trainer_is_layout(pare_op op) {
  return op == PARE_OP_FLATTEN || op == PARE_OP_RESHAPE || op == PARE_OP_SQUEEZE ||
         op == PARE_OP_UNSQUEEZE || op == PARE_OP_IDENTITY || op == PARE_OP_DROPOUT;
}

static int trainable_op(pare_op op) {
  switch (op) {
  case PARE_OP_CONV:
  case PARE_OP_GEMM:
  case PARE_OP_MATMUL:
  case PARE_OP_RELU:
  case PARE_OP_LEAKY_RELU:
  case PARE_OP_SIGMOID:
  case PARE_OP_TANH:
  case PARE_OP_CLIP:
  case PARE_OP_HARD_SIGMOID:
  case PARE_OP_HARD_SWISH:
  case PARE_OP_ELU:
  case PARE_OP_SELU:
  case PARE_OP_SHRINK:
  case PARE_OP_MAX_POOL:
  case PARE_OP_AVERAGE_POOL:
  case PARE_OP_GLOBAL_AVERAGE_POOL:
  case PARE_OP_BATCH_NORM:
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV: return 1;
  default: return pare_trainer_is_layout(op);
  }
}

pare_status pare_trainer_create(pare_graph *g, const pare_train_config *c, pare_cl_runtime *rt,
                                pare_trainer **out, pare_error *err) {
  *out = NULL;
  if (g->n_inputs != 1 || g->n_outputs != 1)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "training needs one input and one output (logits), the model has %d "
                          "and %d",
                          g->n_inputs, g->n_outputs);
  if (c->batch < 1) return pare_error_set(err, PARE_ERR_INVALID_ARG, "batch must be positive");
  /* Parameters become owned, writable copies (not views of a file mapping). */
  for (int i = 0; i < g->n_values; i++) {
    pare_value *v = &g->values[i];
    if (v->is_param && v->borrowed && pare_value_set_data(v, v->data, v->nbytes, 0) != PARE_OK)
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  pare_trainer *t = calloc(1, sizeof *t);
  if (!t) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  t->g = g;
  t->cfg = *c;
  t->x_value = g->inputs[0];
  t->logits_value = g->outputs[0];
  size_t nv = (size_t)g->n_values + 1, nn = (size_t)g->n_nodes + 1;
  t->needs_grad = calloc(nv, 1);
  t->grad = calloc(nv, sizeof(float *));
  t->state_a = calloc(nv, sizeof(float *));
  t->state_b = calloc(nv, sizeof(float *));
  t->mask = calloc(nv, sizeof(uint8_t *));
  t->qbits = calloc(nv, sizeof(int));
  t->qrows = calloc(nv, sizeof(int64_t));
  t->master = calloc(nv, sizeof(float *));
  t->share_label = calloc(nv, sizeof(uint8_t *));
  t->share_k = calloc(nv, sizeof(int));
  t->bn_mean = calloc(nn, sizeof(float *));
  t->bn_inv_std = calloc(nn, sizeof(float *));
  if (!t->needs_grad || !t->grad || !t->state_a || !t->state_b || !t->mask || !t->bn_mean ||
      !t->bn_inv_std || !t->qbits || !t->qrows || !t->master || !t->share_label || !t->share_k) {
    pare_trainer_destroy(t);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  const pare_value *xv = &g->values[t->x_value];
  pare_tensor in;
  memset(&in, 0, sizeof in);
  in.dtype = PARE_DT_F32;
  in.rank = xv->rank;
  for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] < 0 ? c->batch : xv->dims[d];
  in.dims[0] = c->batch;
  pare_status st = pare_plan_create_ex(g, &in, 1, PARE_PLAN_KEEP_PARAMS, &t->plan, err);
  if (st != PARE_OK) {
    pare_trainer_destroy(t);
    return st;
  }
  /* Which values carry a gradient: parameters, and whatever they flow into. */
  for (int i = 0; i < g->n_values; i++) t->needs_grad[i] = g->values[i].is_param != 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (t->plan->node_folded[i]) continue;
    int any = 0;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0 && t->needs_grad[n->inputs[k]]) any = 1;
    if (!any) continue;
    if (!trainable_op(n->op)) {
      pare_trainer_destroy(t);
      return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                            "node '%s' (%s): training through this op is not supported", n->name,
                            pare_op_name(n->op));
    }
    for (int o = 0; o < n->n_outputs; o++)
      if (n->outputs[o] >= 0) t->needs_grad[n->outputs[o]] = 1;
  }
  const pare_tensor *logits = &t->plan->values[t->logits_value];
  if (logits->rank != 2 || logits->dims[0] != c->batch) {
    pare_trainer_destroy(t);
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "the model's output must be [batch, classes] logits");
  }
  for (int i = 0; i < g->n_values; i++) {
    if (!t->needs_grad[i]) continue;
    size_t n = numel_of(&t->plan->values[i]);
    t->grad[i] = calloc(n ? n : 1, sizeof(float));
    if (g->values[i].is_param && !rt) { /* a device trainer keeps its state there */
      t->state_a[i] = calloc(n ? n : 1, sizeof(float));
      t->state_b[i] = calloc(n ? n : 1, sizeof(float));
    }
    if (!t->grad[i] || (g->values[i].is_param && !rt && (!t->state_a[i] || !t->state_b[i]))) {
      pare_trainer_destroy(t);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
  }
#ifdef PARE_HAVE_OPENCL
  if (rt) {
    st = pare_train_cl_create(t, rt, &t->cl, err);
    if (st != PARE_OK) {
      pare_trainer_destroy(t);
      return st;
    }
  }
#else
  if (rt) {
    pare_trainer_destroy(t);
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "this libpare was built without OpenCL");
  }
#endif
  *out = t;
  return PARE_OK;
}

int pare_trainer_on_device(const pare_trainer *t) { return t->cl != NULL; }

pare_status pare_trainer_sync(pare_trainer *t, pare_error *err) {
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_sync(t, err);
#endif
  (void)t;
  (void)err;
  return PARE_OK;
}

pare_status pare_trainer_set_mask(pare_trainer *t, int value, const uint8_t *mask,
                                  pare_error *err) {
  if (value < 0 || value >= t->g->n_values || !t->g->values[value].is_param)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "value %d is not a parameter", value);
  size_t n = numel_of(&t->plan->values[value]);
  free(t->mask[value]);
  t->mask[value] = malloc(n ? n : 1);
  if (!t->mask[value]) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  memcpy(t->mask[value], mask, n);
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_set_mask(t, value, err);
#endif
  pare_ref_apply_mask_f32(t->g->values[value].data, t->mask[value], n);
  return PARE_OK;
}

/* Float master weights for parameter v (fake quantization or shared
 * weights, not both: `other` says whether v already has the other one),
 * copied from its current weights. */
static pare_status take_master(pare_trainer *t, int v, int other, const char *what,
                               pare_error *err) {
  if (v < 0 || v >= t->g->n_values || !t->g->values[v].is_param || !t->grad[v])
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "value %d is not a trained parameter", v);
  if (other)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "'%s': weights are either fake-quantized or shared, not both (%s)",
                          t->g->values[v].name, what);
  pare_status st = pare_trainer_sync(t, err); /* the float weights, current on the host */
  if (st != PARE_OK) return st;
  size_t n = numel_of(&t->plan->values[v]);
  if (!t->master[v] && !(t->master[v] = malloc(sizeof(float) * (n ? n : 1))))
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  memcpy(t->master[v], t->g->values[v].data, sizeof(float) * n);
  return PARE_OK;
}

pare_status pare_trainer_set_weight_quant(pare_trainer *t, int v, int bits, int per_channel,
                                          pare_error *err) {
  if (bits < 2 || bits > 16)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%d bits for fake quantization (2 to 16)",
                          bits);
  /* A second width for the same weight starts again from its float master. */
  int again = v >= 0 && v < t->g->n_values && t->qbits[v] && t->master[v];
  pare_status st = again ? PARE_OK
                         : take_master(t, v, v >= 0 && v < t->g->n_values && t->share_k[v],
                                       "fake quantization", err);
  if (st != PARE_OK) return st;
  const pare_tensor *pt = &t->plan->values[v];
  size_t n = numel_of(pt);
  int64_t rows = per_channel && pt->rank >= 2 && pt->dims[0] > 0 ? pt->dims[0] : 1;
  float *w = t->g->values[v].data;
  t->qbits[v] = bits;
  t->qrows[v] = rows;
  pare_ref_fake_quant_rows_f32(t->master[v], (size_t)rows, n / (size_t)rows, bits, w);
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_set_master(t, v, err);
#endif
  return PARE_OK;
}

pare_status pare_trainer_set_shared(pare_trainer *t, int v, const uint8_t *label, int k,
                                    pare_error *err) {
  if (k < 1 || k > 255)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%d centroids (1 to 255)", k);
  pare_status st =
      take_master(t, v, v >= 0 && v < t->g->n_values && t->qbits[v], "shared weights", err);
  if (st != PARE_OK) return st;
  size_t n = numel_of(&t->plan->values[v]);
  float *w = t->g->values[v].data;
  uint8_t *copy = malloc(n ? n : 1);
  if (!copy) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  memcpy(copy, label, n);
  /* Labels are checked before w is written; a refusal leaves v as it was. */
  if (pare_ref_share_project_f32(t->master[v], copy, n, k, w) != PARE_REF_OK) {
    free(copy);
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "'%s': a centroid label beyond %d",
                          t->g->values[v].name, k);
  }
  free(t->share_label[v]);
  t->share_label[v] = copy;
  t->share_k[v] = k;
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_set_master(t, v, err);
#endif
  return PARE_OK;
}

const float *pare_trainer_grad(pare_trainer *t, int value) {
  if (value < 0 || value >= t->g->n_values) return NULL;
#ifdef PARE_HAVE_OPENCL
  if (t->cl && t->grad[value] && pare_train_cl_grad_to_host(t, value) != PARE_OK) return NULL;
#endif
  return t->grad[value];
}

int64_t pare_trainer_steps(const pare_trainer *t) { return t->steps; }

void pare_trainer_set_steps(pare_trainer *t, int64_t steps) { t->steps = steps; }

pare_status pare_trainer_state(pare_trainer *t, int v, int slot, float *data, int write,
                               pare_error *err) {
  int slots = t->cfg.optimizer == PARE_OPT_ADAM ? 2 : 1;
  if (v < 0 || v >= t->g->n_values || !t->g->values[v].is_param || !t->grad[v] || slot < 0 ||
      slot >= slots)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "no optimizer state %d for value %d", slot, v);
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_state(t, v, slot, data, write, err);
#endif
  float *s = slot ? t->state_b[v] : t->state_a[v];
  size_t n = numel_of(&t->plan->values[v]);
  if (write)
    memcpy(s, data, sizeof(float) * n);
  else
    memcpy(data, s, sizeof(float) * n);
  return PARE_OK;
}

static float *scratch(pare_trainer *t, size_t n) {
  if (n > t->scratch_size) {
    float *s = realloc(t->scratch, sizeof(float) * n);
    if (!s) return NULL;
    t->scratch = s;
    t->scratch_size = n;
  }
  return t->scratch;
}

/* grad[v] += src (n values). */
static void accumulate(pare_trainer *t, int v, const float *src, size_t n) {
  float *g = t->grad[v];
  for (size_t i = 0; i < n; i++) g[i] += src[i];
}

void pare_trainer_bind(pare_trainer *t, const pare_node *n, pare_tensor **in, pare_tensor **out,
                       pare_op_ctx *ctx, pare_error *err) {
  for (int k = 0; k < n->n_inputs && k < 8; k++)
    in[k] = n->inputs[k] >= 0 ? &t->plan->values[n->inputs[k]] : NULL;
  for (int k = 0; k < n->n_outputs && k < 8; k++)
    out[k] = n->outputs[k] >= 0 ? &t->plan->values[n->outputs[k]] : NULL;
  *ctx = (pare_op_ctx){
      t->g, n, in, n->n_inputs < 8 ? n->n_inputs : 8, out, n->n_outputs < 8 ? n->n_outputs : 8,
      err};
}

pare_status pare_trainer_batchnorm_forward(pare_trainer *t, int i, pare_error *err) {
  const pare_node *n = &t->g->nodes[i];
  pare_tensor *in[8], *out[8];
  pare_op_ctx ctx;
  pare_trainer_bind(t, n, in, out, &ctx, err);
  pare_status st = pare_tensor_alloc(out[0], err);
  if (st != PARE_OK) return st;
  const pare_tensor *x = in[0];
  size_t ch = (size_t)x->dims[1];
  if (!t->bn_mean[i]) {
    t->bn_mean[i] = malloc(sizeof(float) * ch);
    t->bn_inv_std[i] = malloc(sizeof(float) * ch);
    if (!t->bn_mean[i] || !t->bn_inv_std[i])
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  /* Running statistics are constants of the graph: updated in place. */
  float eps = pare_node_attr_float(n, "epsilon", 1e-5f);
  float momentum = pare_node_attr_float(n, "momentum", 0.9f);
  int rc = pare_ref_batchnorm_train_f32(x->data, x->rank, x->dims, in[1]->data, in[2]->data, eps,
                                        momentum, in[3]->data, in[4]->data, out[0]->data,
                                        t->bn_mean[i], t->bn_inv_std[i]);
  return pare_op_ref_fail(&ctx, rc, "batch normalization (training)");
}

int pare_trainer_is_batchnorm_train(const pare_trainer *t, int i) {
  const pare_node *n = &t->g->nodes[i];
  return n->op == PARE_OP_BATCH_NORM && n->n_inputs == 5;
}

/* Forward in training mode: BatchNormalization uses batch statistics. */
static pare_status forward(pare_trainer *t, pare_error *err) {
  const pare_graph *g = t->g;
  for (int i = 0; i < g->n_nodes; i++) {
    if (t->plan->node_folded[i]) continue;
    if (pare_trainer_is_batchnorm_train(t, i)) {
      pare_status st = pare_trainer_batchnorm_forward(t, i, err);
      if (st != PARE_OK) return st;
      continue;
    }
    const pare_node *n = &g->nodes[i];
    pare_tensor *in[8], *out[8];
    pare_op_ctx ctx;
    pare_trainer_bind(t, n, in, out, &ctx, err);
    for (int o = 0; o < ctx.n_out; o++) {
      pare_status st = out[o] ? pare_tensor_alloc(out[o], err) : PARE_OK;
      if (st != PARE_OK) return st;
    }
    pare_status st = pare_op_impl_get(n->op)->run(&ctx);
    if (st != PARE_OK) return st;
  }
  return PARE_OK;
}

/* dL/d(inputs) of node i from dL/d(output), accumulated into t->grad. */
pare_status pare_trainer_backward_node(pare_trainer *t, int i, pare_error *err) {
  const pare_node *n = &t->g->nodes[i];
  int y = n->outputs[0];
  if (y < 0 || !t->grad[y]) return PARE_OK;
  const float *dy = t->grad[y];
  pare_tensor *in[8], *out[8];
  pare_op_ctx ctx;
  pare_trainer_bind(t, n, in, out, &ctx, err);
  int xv = n->inputs[0];
  const pare_tensor *x = in[0];
  size_t nx = numel_of(x);
  int need_x = xv >= 0 && t->grad[xv] != NULL;
  if (pare_trainer_is_layout(n->op)) {
    if (need_x) accumulate(t, xv, dy, nx);
    return PARE_OK;
  }
  int rc = PARE_REF_OK;
  switch (n->op) {
  case PARE_OP_CONV: {
    pare_ref_conv_params cp;
    pare_status st = pare_op_conv_params(&ctx, &cp);
    if (st != PARE_OK) return st;
    int wv = n->inputs[1], bv = n->n_inputs > 2 ? n->inputs[2] : -1;
    size_t nw = numel_of(in[1]), nb = bv >= 0 ? numel_of(in[2]) : 0;
    float *s = scratch(t, nx + nw + nb + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    rc = pare_ref_conv_backward_f32(&cp, x->data, x->dims, in[1]->data, in[1]->dims, dy,
                                    need_x ? s : NULL, s + nx, bv >= 0 ? s + nx + nw : NULL);
    if (rc == PARE_REF_OK) {
      if (need_x) accumulate(t, xv, s, nx);
      if (t->grad[wv]) accumulate(t, wv, s + nx, nw);
      if (bv >= 0 && t->grad[bv]) accumulate(t, bv, s + nx + nw, nb);
    }
    break;
  }
  case PARE_OP_GEMM:
  case PARE_OP_MATMUL: {
    int ta = (int)pare_node_attr_int(n, "transA", 0), tb = (int)pare_node_attr_int(n, "transB", 0);
    float alpha = n->op == PARE_OP_GEMM ? pare_node_attr_float(n, "alpha", 1.0f) : 1.0f;
    float beta = n->op == PARE_OP_GEMM ? pare_node_attr_float(n, "beta", 1.0f) : 0.0f;
    const pare_tensor *b = in[1], *c = ctx.n_in > 2 ? in[2] : NULL;
    if (x->rank != 2 || b->rank != 2)
      return pare_op_fail(&ctx, PARE_ERR_UNSUPPORTED, "training needs 2-D operands");
    if (n->op == PARE_OP_MATMUL) ta = tb = 0;
    size_t m = (size_t)out[0]->dims[0], nn = (size_t)out[0]->dims[1];
    size_t k = (size_t)(ta ? x->dims[0] : x->dims[1]);
    size_t na = nx, nbv = numel_of(b), nc = c ? numel_of(c) : 0;
    float *s = scratch(t, na + nbv + nc + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    rc = pare_ref_gemm_backward_f32(ta, tb, m, nn, k, alpha, beta, x->data, b->data, dy,
                                    need_x ? s : NULL, s + na, c ? c->rank : 0, c ? c->dims : NULL,
                                    c ? s + na + nbv : NULL);
    if (rc == PARE_REF_OK) {
      if (need_x) accumulate(t, xv, s, na);
      if (t->grad[n->inputs[1]]) accumulate(t, n->inputs[1], s + na, nbv);
      if (c && t->grad[n->inputs[2]]) accumulate(t, n->inputs[2], s + na + nbv, nc);
    }
    break;
  }
  case PARE_OP_MAX_POOL:
  case PARE_OP_AVERAGE_POOL:
  case PARE_OP_GLOBAL_AVERAGE_POOL: {
    if (!need_x) return PARE_OK;
    float *s = scratch(t, nx + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    if (n->op == PARE_OP_GLOBAL_AVERAGE_POOL) {
      rc = pare_ref_global_avgpool_backward_f32(x->rank, x->dims, dy, s);
    } else {
      pare_ref_pool_params pp;
      pare_status st = pare_op_pool_params(&ctx, &pp);
      if (st != PARE_OK) return st;
      rc = n->op == PARE_OP_MAX_POOL ? pare_ref_maxpool_backward_f32(&pp, x->data, x->dims, dy, s)
                                     : pare_ref_avgpool_backward_f32(&pp, x->dims, dy, s);
    }
    if (rc == PARE_REF_OK) accumulate(t, xv, s, nx);
    break;
  }
  case PARE_OP_BATCH_NORM: {
    size_t ch = (size_t)x->dims[1];
    float *s = scratch(t, nx + 2 * ch + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    rc = pare_ref_batchnorm_backward_f32(x->data, x->rank, x->dims, in[1]->data, t->bn_mean[i],
                                         t->bn_inv_std[i], dy, s, s + nx, s + nx + ch);
    if (rc == PARE_REF_OK) {
      if (need_x) accumulate(t, xv, s, nx);
      if (t->grad[n->inputs[1]]) accumulate(t, n->inputs[1], s + nx, ch);
      if (t->grad[n->inputs[2]]) accumulate(t, n->inputs[2], s + nx + ch, ch);
    }
    break;
  }
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV: {
    if (ctx.n_in != 2) return pare_op_fail(&ctx, PARE_ERR_UNSUPPORTED, "training needs 2 inputs");
    const pare_tensor *b = in[1];
    size_t nb = numel_of(b);
    float *s = scratch(t, nx + nb + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    pare_ref_binop op = n->op == PARE_OP_ADD   ? PARE_REF_ADD
                        : n->op == PARE_OP_SUB ? PARE_REF_SUB
                        : n->op == PARE_OP_MUL ? PARE_REF_MUL
                                               : PARE_REF_DIV;
    rc = pare_ref_broadcast_binop_backward_f32(op, x->data, x->rank, x->dims, b->data, b->rank,
                                               b->dims, dy, s, s + nx);
    if (rc == PARE_REF_OK) {
      if (need_x) accumulate(t, xv, s, nx);
      if (t->grad[n->inputs[1]]) accumulate(t, n->inputs[1], s + nx, nb);
    }
    break;
  }
  default: { /* activations */
    if (!need_x) return PARE_OK;
    pare_ref_act act = PARE_REF_ACT_NONE;
    float a = 0, b = 0;
    pare_status st = pare_op_activation(&ctx, &act, &a, &b);
    if (st != PARE_OK) return st;
    float *s = scratch(t, nx + 1);
    if (!s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    rc = pare_ref_act_backward_f32(act, x->data, out[0]->data, dy, s, nx, a, b);
    if (rc == PARE_REF_OK) accumulate(t, xv, s, nx);
    break;
  }
  }
  return pare_op_ref_fail(&ctx, rc, "backward");
}

pare_status pare_trainer_step(pare_trainer *t, const float *x, const int64_t *labels,
                              const float *teacher, float *loss, int64_t *correct,
                              pare_error *err) {
#ifdef PARE_HAVE_OPENCL
  if (t->cl) return pare_train_cl_step(t, x, labels, teacher, loss, correct, err);
#endif
  const pare_graph *g = t->g;
  pare_tensor *xt = &t->plan->values[t->x_value];
  pare_tensor_release(xt);
  xt->data = (void *)x; /* borrowed for the step */
  xt->nbytes = sizeof(float) * numel_of(xt);
  pare_status st = forward(t, err);
  if (st != PARE_OK) {
    xt->data = NULL;
    return st;
  }
  const pare_tensor *lt = &t->plan->values[t->logits_value];
  int64_t n = lt->dims[0], k = lt->dims[1];
  for (int i = 0; i < g->n_values; i++)
    if (t->grad[i]) memset(t->grad[i], 0, sizeof(float) * numel_of(&t->plan->values[i]));
  const float *logits = lt->data;
  int rc =
      teacher ? pare_ref_distill_loss_f32(teacher, logits, labels, n, k, t->cfg.distill_temperature,
                                          t->cfg.distill_alpha, loss, t->grad[t->logits_value])
              : pare_ref_softmax_xent_f32(logits, labels, n, k, loss, t->grad[t->logits_value]);
  if (rc != PARE_REF_OK) {
    xt->data = NULL;
    return pare_error_set(err, rc == PARE_REF_ERANGE ? PARE_ERR_INVALID_ARG : PARE_ERR_INTERNAL,
                          "loss: %s", rc == PARE_REF_ERANGE ? "a label is out of range" : "failed");
  }
  if (correct) {
    *correct = 0;
    for (int64_t r = 0; r < n; r++) {
      int64_t best = 0;
      for (int64_t c = 1; c < k; c++)
        if (logits[r * k + c] > logits[r * k + best]) best = c;
      *correct += best == labels[r];
    }
  }
  for (int i = g->n_nodes - 1; i >= 0 && st == PARE_OK; i--)
    if (!t->plan->node_folded[i]) st = pare_trainer_backward_node(t, i, err);
  xt->data = NULL; /* the caller's batch is no longer needed */
  xt->nbytes = 0;
  if (st != PARE_OK) return st;
  double lr;
  if (pare_ref_lr_at(&t->cfg.schedule, t->steps, &lr) != PARE_REF_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "bad learning-rate schedule");
  for (int i = 0; i < g->n_values; i++) {
    if (!g->values[i].is_param || !t->grad[i]) continue;
    size_t nv = numel_of(&t->plan->values[i]);
    float *w = t->master[i] ? t->master[i] : g->values[i].data;
    if (t->cfg.optimizer == PARE_OPT_ADAM) {
      pare_ref_adam_params p = t->cfg.adam;
      p.lr = (float)lr;
      rc = pare_ref_adam_step_f32(&p, w, t->grad[i], t->state_a[i], t->state_b[i], nv, t->steps + 1,
                                  t->mask[i]);
    } else {
      pare_ref_sgd_params p = t->cfg.sgd;
      p.lr = (float)lr;
      rc = pare_ref_sgd_step_f32(&p, w, t->grad[i], t->state_a[i], nv, t->mask[i]);
    }
    if (rc == PARE_REF_OK && t->qbits[i])
      rc = pare_ref_fake_quant_rows_f32(w, (size_t)t->qrows[i], nv / (size_t)t->qrows[i],
                                        t->qbits[i], g->values[i].data);
    if (rc == PARE_REF_OK && t->share_k[i])
      rc = pare_ref_share_project_f32(w, t->share_label[i], nv, t->share_k[i], g->values[i].data);
    if (rc != PARE_REF_OK)
      return pare_error_set(err, PARE_ERR_INTERNAL, "optimizer step failed on '%s'",
                            g->values[i].name);
  }
  t->steps++;
  return PARE_OK;
}
