/* The OpenCL trainer (see host/train_cl.h). A gradient buffer is "live"
 * once something was written to it in the current step: the first writer
 * overwrites it, later ones go through a temporary and accumulate, so no
 * buffer is cleared per step. */
#include <stdlib.h>
#include <string.h>

#include "host/exec_cl.h"
#include "host/launch/conv2d_grad_f32.h"
#include "host/launch/launch.h"
#include "host/launch/train_f32.h"
#include "host/train_cl.h"

enum { N_TMP = 3 };

struct pare_train_cl {
  pare_cl_runtime *rt;
  int n_values;
  cl_mem *grad;     /* per value carrying a gradient */
  char *live;       /* per value: grad written this step */
  cl_mem *m1, *m2;  /* per parameter: momentum / Adam moments */
  cl_mem *mask;     /* per parameter, optional */
  cl_mem *master;   /* per fake-quantized parameter: the float weights */
  cl_mem labels;    /* int64 [batch] */
  cl_mem teacher;   /* [batch, classes] */
  cl_mem loss_rows; /* [batch] */
  cl_mem loss;      /* [1] */
  cl_mem ones;      /* [rows] of 1: column sums for bias gradients */
  size_t ones_count;
  cl_mem tmp[N_TMP]; /* temporaries for gradients that accumulate */
  size_t tmp_bytes[N_TMP];
  cl_mem *bn_mean, *bn_inv_std; /* per BatchNormalization node: saved statistics */
  int n_nodes;
  cl_mem conv_scratch;
  size_t conv_scratch_bytes;
  float *logits;   /* [batch, classes], read back every step */
  float *host_tmp; /* a host gradient being uploaded or zeros */
  size_t host_tmp_count;
};

static size_t numel(const pare_tensor *t) {
  int64_t n = pare_tensor_numel(t);
  return n > 0 ? (size_t)n : 0;
}

static void release(pare_train_cl *c, cl_mem *m) {
  if (*m) c->rt->cl->clReleaseMemObject(*m);
  *m = NULL;
}

void pare_train_cl_destroy(pare_train_cl *c) {
  if (!c) return;
  for (int i = 0; i < c->n_values; i++) {
    if (c->grad) release(c, &c->grad[i]);
    if (c->m1) release(c, &c->m1[i]);
    if (c->m2) release(c, &c->m2[i]);
    if (c->mask) release(c, &c->mask[i]);
    if (c->master) release(c, &c->master[i]);
  }
  release(c, &c->labels);
  release(c, &c->teacher);
  release(c, &c->loss_rows);
  release(c, &c->loss);
  release(c, &c->ones);
  for (int i = 0; i < N_TMP; i++) release(c, &c->tmp[i]);
  release(c, &c->conv_scratch);
  for (int i = 0; i < c->n_nodes; i++) {
    if (c->bn_mean) release(c, &c->bn_mean[i]);
    if (c->bn_inv_std) release(c, &c->bn_inv_std[i]);
  }
  free(c->bn_mean);
  free(c->bn_inv_std);
  free(c->grad);
  free(c->live);
  free(c->m1);
  free(c->m2);
  free(c->mask);
  free(c->master);
  free(c->host_tmp);
  free(c->logits);
  free(c);
}

/* A host buffer of at least n floats, zeroed. */
static float *host_zeros(pare_train_cl *c, size_t n) {
  if (n > c->host_tmp_count) {
    free(c->host_tmp);
    c->host_tmp = malloc(sizeof(float) * n);
    c->host_tmp_count = c->host_tmp ? n : 0;
    if (!c->host_tmp) return NULL;
  }
  memset(c->host_tmp, 0, sizeof(float) * n);
  return c->host_tmp;
}

/* A device buffer of n floats holding `init` (or zeros when NULL). */
static pare_status new_buffer(pare_train_cl *c, size_t n, const float *init, cl_mem *out,
                              pare_error *err) {
  if (!init) {
    init = host_zeros(c, n ? n : 1);
    if (!init) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  return pare_cl_buffer(c->rt, CL_MEM_READ_WRITE, sizeof(float) * (n ? n : 1), init, out, err);
}

/* Grows temporary i (or the conv scratch when i < 0) to `bytes`. */
static pare_status grow(pare_train_cl *c, cl_mem *m, size_t *have, size_t bytes, pare_error *err) {
  if (bytes <= *have && *m) return PARE_OK;
  release(c, m);
  *have = 0;
  pare_status st = pare_cl_buffer(c->rt, CL_MEM_READ_WRITE, bytes ? bytes : 4, NULL, m, err);
  if (st == PARE_OK) *have = bytes;
  return st;
}

pare_status pare_train_cl_create(pare_trainer *t, pare_cl_runtime *rt, pare_train_cl **out,
                                 pare_error *err) {
  *out = NULL;
  const pare_graph *g = t->g;
  pare_train_cl *c = calloc(1, sizeof *c);
  if (!c) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  c->rt = rt;
  c->n_values = g->n_values;
  size_t nv = (size_t)g->n_values + 1;
  c->grad = calloc(nv, sizeof(cl_mem));
  c->live = calloc(nv, 1);
  c->m1 = calloc(nv, sizeof(cl_mem));
  c->m2 = calloc(nv, sizeof(cl_mem));
  c->mask = calloc(nv, sizeof(cl_mem));
  c->master = calloc(nv, sizeof(cl_mem));
  c->n_nodes = g->n_nodes;
  c->bn_mean = calloc((size_t)g->n_nodes + 1, sizeof(cl_mem));
  c->bn_inv_std = calloc((size_t)g->n_nodes + 1, sizeof(cl_mem));
  pare_status st = PARE_OK;
  if (!c->grad || !c->live || !c->m1 || !c->m2 || !c->mask || !c->master || !c->bn_mean ||
      !c->bn_inv_std)
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  int adam = t->cfg.optimizer == PARE_OPT_ADAM;
  for (int i = 0; i < g->n_values && st == PARE_OK; i++) {
    if (!t->needs_grad[i]) continue;
    size_t n = numel(&t->plan->values[i]);
    st = new_buffer(c, n, NULL, &c->grad[i], err);
    if (st == PARE_OK && g->values[i].is_param) {
      st = new_buffer(c, n, NULL, &c->m1[i], err);
      if (st == PARE_OK && adam) st = new_buffer(c, n, NULL, &c->m2[i], err);
    }
  }
  /* Column sums for the bias gradient of Gemm need a row of ones. */
  size_t rows = 1;
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (n->op != PARE_OP_GEMM || n->outputs[0] < 0) continue;
    const pare_tensor *y = &t->plan->values[n->outputs[0]];
    if (y->rank == 2 && (size_t)y->dims[0] > rows) rows = (size_t)y->dims[0];
  }
  float *ones = st == PARE_OK ? malloc(sizeof(float) * rows) : NULL;
  if (st == PARE_OK && !ones) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) {
    for (size_t i = 0; i < rows; i++) ones[i] = 1.0f;
    st = new_buffer(c, rows, ones, &c->ones, err);
    c->ones_count = rows;
  }
  free(ones);
  const pare_tensor *logits = &t->plan->values[t->logits_value];
  size_t batch = (size_t)logits->dims[0], classes = (size_t)logits->dims[1];
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof(int64_t) * batch, NULL, &c->labels, err);
  if (st == PARE_OK) st = new_buffer(c, batch * classes, NULL, &c->teacher, err);
  c->logits = malloc(sizeof(float) * (batch * classes + 1));
  if (st == PARE_OK && !c->logits) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) st = new_buffer(c, batch, NULL, &c->loss_rows, err);
  if (st == PARE_OK) st = new_buffer(c, 1, NULL, &c->loss, err);
  if (st != PARE_OK) {
    pare_train_cl_destroy(c);
    return st;
  }
  *out = c;
  return PARE_OK;
}

/* ---- gradient bookkeeping ---------------------------------------------- */

/* Where a gradient contribution for value v goes: its buffer if nothing
 * was written there yet this step, else temporary `slot` (then `settle`
 * adds it in). */
static pare_status target(pare_trainer *t, int v, int slot, cl_mem *out, pare_error *err) {
  pare_train_cl *c = t->cl;
  if (!c->live[v]) {
    *out = c->grad[v];
    return PARE_OK;
  }
  size_t bytes = sizeof(float) * numel(&t->plan->values[v]);
  pare_status st = grow(c, &c->tmp[slot], &c->tmp_bytes[slot], bytes, err);
  *out = c->tmp[slot];
  return st;
}

static pare_status settle(pare_trainer *t, int v, cl_mem written, pare_error *err) {
  pare_train_cl *c = t->cl;
  pare_status st = PARE_OK;
  if (written != c->grad[v])
    st = pare_launch_train_accumulate_f32(c->rt, written, c->grad[v], numel(&t->plan->values[v]),
                                          NULL, err);
  c->live[v] = 1;
  return st;
}

/* Adds the host array src (value v's shape) into v's device gradient. */
static pare_status add_from_host(pare_trainer *t, int v, const float *src, pare_error *err) {
  cl_mem dst;
  pare_status st = target(t, v, 0, &dst, err);
  size_t bytes = sizeof(float) * numel(&t->plan->values[v]);
  if (st == PARE_OK && bytes) st = pare_cl_write(t->cl->rt, dst, 0, bytes, src, err);
  return st == PARE_OK ? settle(t, v, dst, err) : st;
}

static int wants(const pare_trainer *t, int v) { return v >= 0 && t->cl->grad[v] != NULL; }

/* ---- batch normalization ------------------------------------------------ */

/* A BatchNormalization in training mode the device runs: f32 input of
 * rank >= 2, [n, C, inner]. */
static int bn_on_device(const pare_trainer *t, int i, size_t *n, size_t *C, size_t *inner) {
  const pare_node *nd = &t->g->nodes[i];
  const pare_tensor *x = &t->plan->values[nd->inputs[0]];
  if (!pare_trainer_is_batchnorm_train(t, i) || x->dtype != PARE_DT_F32 || x->rank < 2) return 0;
  for (int k = 1; k < 5; k++)
    if (nd->inputs[k] < 0 || t->plan->values[nd->inputs[k]].dtype != PARE_DT_F32) return 0;
  *n = (size_t)x->dims[0], *C = (size_t)x->dims[1];
  *inner = 1;
  for (int d = 2; d < x->rank; d++) *inner *= (size_t)x->dims[d];
  return 1;
}

static pare_status forward_bn(pare_trainer *t, int i, size_t n, size_t C, size_t inner,
                              pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *nd = &t->g->nodes[i];
  pare_status st = PARE_OK;
  if (!c->bn_mean[i]) st = new_buffer(c, C, NULL, &c->bn_mean[i], err);
  if (st == PARE_OK && !c->bn_inv_std[i]) st = new_buffer(c, C, NULL, &c->bn_inv_std[i], err);
  if (st != PARE_OK) return st;
  cl_mem in[5];
  for (int k = 0; k < 5; k++)
    if (!(in[k] = pare_exec_cl_device_value(t->plan, nd->inputs[k], err))) return PARE_ERR_OPENCL;
  cl_mem y = pare_exec_cl_output_value(t->plan, nd->outputs[0], err);
  if (!y) return PARE_ERR_OPENCL;
  st = pare_launch_train_bn_forward_f32(
      c->rt, n, C, inner, pare_node_attr_float(nd, "epsilon", 1e-5f),
      pare_node_attr_float(nd, "momentum", 0.9f), in[0], in[1], in[2], in[3], in[4], y,
      c->bn_mean[i], c->bn_inv_std[i], NULL, err);
  /* The running statistics changed on the device (read back by sync). */
  pare_exec_cl_value_changed(t->plan, nd->inputs[3], 1);
  pare_exec_cl_value_changed(t->plan, nd->inputs[4], 1);
  return st;
}

static pare_status backward_bn(pare_trainer *t, int i, size_t n, size_t C, size_t inner,
                               pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *nd = &t->g->nodes[i];
  int xv = nd->inputs[0], sv = nd->inputs[1], bv = nd->inputs[2];
  cl_mem x = pare_exec_cl_device_value(t->plan, xv, err);
  cl_mem scale = x ? pare_exec_cl_device_value(t->plan, sv, err) : NULL;
  if (!x || !scale) return PARE_ERR_OPENCL;
  cl_mem dx = NULL, ds, db;
  pare_status st = wants(t, xv) ? target(t, xv, 0, &dx, err) : PARE_OK;
  /* dscale and dbias are always formed (dx needs them): into their
   * gradients when wanted, else into a temporary. */
  if (st == PARE_OK)
    st = wants(t, sv) ? target(t, sv, 1, &ds, err)
                      : grow(c, &c->tmp[1], &c->tmp_bytes[1], sizeof(float) * C, err);
  if (st == PARE_OK && !wants(t, sv)) ds = c->tmp[1];
  if (st == PARE_OK)
    st = wants(t, bv) ? target(t, bv, 2, &db, err)
                      : grow(c, &c->tmp[2], &c->tmp_bytes[2], sizeof(float) * C, err);
  if (st == PARE_OK && !wants(t, bv)) db = c->tmp[2];
  if (st != PARE_OK) return st;
  st = pare_launch_train_bn_backward_f32(c->rt, n, C, inner, x, scale, c->bn_mean[i],
                                         c->bn_inv_std[i], c->grad[nd->outputs[0]], dx, ds, db,
                                         NULL, err);
  if (st == PARE_OK && dx) st = settle(t, xv, dx, err);
  if (st == PARE_OK && wants(t, sv)) st = settle(t, sv, ds, err);
  if (st == PARE_OK && wants(t, bv)) st = settle(t, bv, db, err);
  return st;
}

/* ---- backward, node by node --------------------------------------------- */

/* A node without a backward kernel: its data and dy are read back and the
 * reference backward runs; the input gradients are uploaded. */
static pare_status backward_reference(pare_trainer *t, int i, pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *n = &t->g->nodes[i];
  int y = n->outputs[0];
  size_t ny = numel(&t->plan->values[y]);
  pare_status st =
      ny ? pare_cl_read(c->rt, c->grad[y], 0, sizeof(float) * ny, t->grad[y], err) : PARE_OK;
  for (int k = 0; k < n->n_inputs && st == PARE_OK; k++) {
    int v = n->inputs[k];
    if (v < 0) continue;
    st = pare_exec_cl_host_value(t->plan, v, err);
    if (st == PARE_OK && t->grad[v])
      memset(t->grad[v], 0, sizeof(float) * numel(&t->plan->values[v]));
  }
  if (st == PARE_OK) st = pare_exec_cl_host_value(t->plan, y, err);
  if (st == PARE_OK) st = pare_trainer_backward_node(t, i, err);
  for (int k = 0; k < n->n_inputs && st == PARE_OK; k++) {
    int v = n->inputs[k], seen = 0;
    for (int j = 0; j < k; j++) seen |= n->inputs[j] == v;
    if (wants(t, v) && !seen) st = add_from_host(t, v, t->grad[v], err);
  }
  return st;
}

static pare_status backward_conv(pare_trainer *t, int i, pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *n = &t->g->nodes[i];
  int xv = n->inputs[0], wv = n->inputs[1], bv = n->n_inputs > 2 ? n->inputs[2] : -1;
  pare_conv2d_f32_args a;
  pare_status st = pare_exec_cl_conv_geometry(t->plan, i, &a, err);
  if (st != PARE_OK) return st;
  a.x = pare_exec_cl_device_value(t->plan, xv, err);
  a.weight = a.x ? pare_exec_cl_device_value(t->plan, wv, err) : NULL;
  if (!a.x || !a.weight) return PARE_ERR_OPENCL;
  cl_mem dx = NULL, dw = NULL, db = NULL;
  if (wants(t, xv)) st = target(t, xv, 0, &dx, err);
  if (st == PARE_OK && wants(t, wv)) st = target(t, wv, 1, &dw, err);
  if (st == PARE_OK && wants(t, bv)) st = target(t, bv, 2, &db, err);
  size_t need = pare_conv2d_grad_f32_scratch_bytes(c->rt, &a);
  if (st == PARE_OK && need) st = grow(c, &c->conv_scratch, &c->conv_scratch_bytes, need, err);
  if (st == PARE_OK)
    st = pare_launch_conv2d_grad_f32(c->rt, &a, c->grad[n->outputs[0]], dx, dw, db,
                                     need ? c->conv_scratch : NULL, NULL, err);
  if (st == PARE_OK && dx) st = settle(t, xv, dx, err);
  if (st == PARE_OK && dw) st = settle(t, wv, dw, err);
  if (st == PARE_OK && db) st = settle(t, bv, db, err);
  return st;
}

/* One GEMM of the backward: C (+)= alpha · op(A) · op(B). */
static pare_status gemm(pare_train_cl *c, int ta, cl_mem a, size_t lda, int tb, cl_mem b,
                        size_t ldb, size_t m, size_t nn, size_t k, float alpha, cl_mem out,
                        pare_error *err) {
  pare_gemm_f32_args g;
  memset(&g, 0, sizeof g);
  g.trans_a = ta, g.trans_b = tb;
  g.m = m, g.n = nn, g.k = k;
  g.alpha = alpha, g.beta = 0.0f;
  g.a = a, g.b = b, g.c = out;
  g.lda = lda, g.ldb = ldb, g.ldc = nn;
  return pare_launch_gemm_f32(c->rt, &g, NULL, err);
}

/* Y[m, n] = alpha · op(A) · op(B) + beta · bias-row: A is [m, k] or (transA)
 * [k, m], B is [k, n] or (transB) [n, k]. */
static pare_status backward_gemm(pare_trainer *t, int i, pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *n = &t->g->nodes[i];
  int gemm_op = n->op == PARE_OP_GEMM;
  int ta = gemm_op ? (int)pare_node_attr_int(n, "transA", 0) : 0;
  int tb = gemm_op ? (int)pare_node_attr_int(n, "transB", 0) : 0;
  float alpha = gemm_op ? pare_node_attr_float(n, "alpha", 1.0f) : 1.0f;
  float beta = gemm_op ? pare_node_attr_float(n, "beta", 1.0f) : 0.0f;
  int av = n->inputs[0], bv = n->inputs[1], cv = gemm_op && n->n_inputs > 2 ? n->inputs[2] : -1;
  const pare_tensor *y = &t->plan->values[n->outputs[0]];
  size_t m = (size_t)y->dims[0], nn = (size_t)y->dims[1];
  const pare_tensor *at = &t->plan->values[av];
  size_t k = (size_t)(ta ? at->dims[0] : at->dims[1]);
  cl_mem dy = c->grad[n->outputs[0]];
  cl_mem a = pare_exec_cl_device_value(t->plan, av, err);
  cl_mem b = a ? pare_exec_cl_device_value(t->plan, bv, err) : NULL;
  if (!a || !b) return PARE_ERR_OPENCL;
  pare_status st = PARE_OK;
  cl_mem out;
  if (wants(t, av)) { /* dA = alpha·dY·op(B)ᵀ, or its transpose */
    st = target(t, av, 0, &out, err);
    if (st == PARE_OK)
      st = !ta ? gemm(c, 0, dy, nn, !tb, b, tb ? k : nn, m, k, nn, alpha, out, err)
               : gemm(c, tb, b, tb ? k : nn, 1, dy, nn, k, m, nn, alpha, out, err);
    if (st == PARE_OK) st = settle(t, av, out, err);
  }
  if (st == PARE_OK && wants(t, bv)) { /* dB = alpha·op(A)ᵀ·dY, or its transpose */
    st = target(t, bv, 1, &out, err);
    if (st == PARE_OK)
      st = !tb ? gemm(c, !ta, a, ta ? m : k, 0, dy, nn, k, nn, m, alpha, out, err)
               : gemm(c, 1, dy, nn, ta, a, ta ? m : k, nn, k, m, alpha, out, err);
    if (st == PARE_OK) st = settle(t, bv, out, err);
  }
  if (st == PARE_OK && wants(t, cv)) { /* dC = beta·(column sums of dY) */
    st = target(t, cv, 2, &out, err);
    if (st == PARE_OK) st = gemm(c, 0, c->ones, m, 0, dy, nn, 1, nn, m, beta, out, err);
    if (st == PARE_OK) st = settle(t, cv, out, err);
  }
  return st;
}

/* Gemm / MatMul on the device: 2-D operands, and C absent or a row of N
 * (the executor's rule) that fits the column-sum row of ones. */
static int gemm_on_device(const pare_trainer *t, const pare_node *n) {
  const pare_tensor *a = &t->plan->values[n->inputs[0]], *b = &t->plan->values[n->inputs[1]];
  const pare_tensor *y = &t->plan->values[n->outputs[0]];
  return a->rank == 2 && b->rank == 2 && y->rank == 2 && (size_t)y->dims[0] <= t->cl->ones_count;
}

/* Pools and the activations backward_node routes here (those with a
 * tr_act_backward kernel). */
static pare_status backward_simple(pare_trainer *t, int i, pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *n = &t->g->nodes[i];
  int xv = n->inputs[0], y = n->outputs[0];
  if (!wants(t, xv)) return PARE_OK;
  pare_tensor *in[8], *out[8];
  pare_op_ctx ctx;
  pare_trainer_bind(t, n, in, out, &ctx, err);
  const pare_tensor *x = in[0];
  pare_ref_act act = PARE_REF_ACT_NONE;
  float a = 0, b = 0;
  int pool = n->op == PARE_OP_MAX_POOL || n->op == PARE_OP_AVERAGE_POOL ||
             n->op == PARE_OP_GLOBAL_AVERAGE_POOL;
  if (!pool) {
    pare_status st = pare_op_activation(&ctx, &act, &a, &b);
    if (st != PARE_OK) return st;
  }
  /* ReLU and Clip pass the gradient where lo < x < hi, which is where
   * lo < y < hi: they read their output, so the forward may fuse them into
   * the convolution before them and never keep its output. */
  int src = act == PARE_REF_ACT_RELU || act == PARE_REF_ACT_CLIP ? y : xv;
  cl_mem xm = pare_exec_cl_device_value(t->plan, src, err), dst;
  if (!xm) return PARE_ERR_OPENCL;
  pare_status st = target(t, xv, 0, &dst, err);
  if (st != PARE_OK) return st;
  if (n->op == PARE_OP_GLOBAL_AVERAGE_POOL) {
    size_t planes = (size_t)(x->dims[0] * x->dims[1]);
    size_t spatial = planes ? numel(x) / planes : 0;
    st = pare_launch_train_global_avgpool_backward_f32(c->rt, planes, spatial, c->grad[y], dst,
                                                       NULL, err);
  } else if (pool) {
    pare_ref_pool_params pp;
    st = pare_op_pool_params(&ctx, &pp);
    if (st == PARE_OK)
      st = pare_launch_train_pool2d_backward_f32(c->rt, n->op == PARE_OP_MAX_POOL, &pp, x->dims, xm,
                                                 c->grad[y], dst, NULL, err);
  } else {
    st = pare_launch_train_act_backward_f32(c->rt, act, a, b, xm, c->grad[y], dst, numel(x), NULL,
                                            err);
  }
  return st == PARE_OK ? settle(t, xv, dst, err) : st;
}

/* Add of two inputs of the output's shape (a residual connection). */
static int same_shape_add(const pare_trainer *t, const pare_node *n) {
  if (n->n_inputs != 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return 0;
  const pare_tensor *y = &t->plan->values[n->outputs[0]];
  for (int k = 0; k < 2; k++) {
    const pare_tensor *x = &t->plan->values[n->inputs[k]];
    if (x->rank != y->rank || memcmp(x->dims, y->dims, sizeof(int64_t) * (size_t)y->rank)) return 0;
  }
  return 1;
}

/* dL/dv += src where src has v's size: a copy into an untouched gradient,
 * else a sum. */
static pare_status pass_gradient(pare_trainer *t, int v, cl_mem src, const char *node,
                                 pare_error *err) {
  pare_train_cl *c = t->cl;
  if (c->live[v]) return settle(t, v, src, err);
  size_t bytes = sizeof(float) * numel(&t->plan->values[v]);
  cl_int rc = bytes ? c->rt->cl->clEnqueueCopyBuffer(c->rt->queue, src, c->grad[v], 0, 0, bytes, 0,
                                                     NULL, NULL)
                    : CL_SUCCESS;
  if (rc != CL_SUCCESS)
    return pare_error_set(err, PARE_ERR_OPENCL, "node '%s': copying a gradient failed (%d)", node,
                          (int)rc);
  c->live[v] = 1;
  return PARE_OK;
}

/* dL/da = dL/db = dL/dy (and twice dL/dy for x + x). */
static pare_status backward_add(pare_trainer *t, const pare_node *n, pare_error *err) {
  cl_mem dy = t->cl->grad[n->outputs[0]];
  pare_status st = PARE_OK;
  for (int k = 0; k < 2 && st == PARE_OK; k++)
    if (wants(t, n->inputs[k])) st = pass_gradient(t, n->inputs[k], dy, n->name, err);
  return st;
}

static pare_status backward_node(pare_trainer *t, int i, pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_node *n = &t->g->nodes[i];
  int y = n->outputs[0];
  if (y < 0 || !c->grad[y] || !c->live[y]) return PARE_OK; /* dL/dy is zero */
  int xv = n->inputs[0];
  if (pare_trainer_is_layout(n->op))
    return wants(t, xv) ? pass_gradient(t, xv, c->grad[y], n->name, err) : PARE_OK;
  size_t bn_n, bn_c, bn_inner;
  if (bn_on_device(t, i, &bn_n, &bn_c, &bn_inner) && c->bn_mean[i])
    return backward_bn(t, i, bn_n, bn_c, bn_inner, err);
  int on_device = pare_exec_cl_supports(t->plan, n) && !pare_trainer_is_batchnorm_train(t, i);
  if (on_device) {
    switch (n->op) {
    case PARE_OP_CONV: return backward_conv(t, i, err);
    case PARE_OP_GEMM:
    case PARE_OP_MATMUL:
      if (gemm_on_device(t, n)) return backward_gemm(t, i, err);
      break;
    case PARE_OP_MAX_POOL:
    case PARE_OP_AVERAGE_POOL:
    case PARE_OP_GLOBAL_AVERAGE_POOL:
    case PARE_OP_RELU:
    case PARE_OP_LEAKY_RELU:
    case PARE_OP_SIGMOID:
    case PARE_OP_TANH:
    case PARE_OP_CLIP:
    case PARE_OP_HARD_SWISH:
    case PARE_OP_ELU: return backward_simple(t, i, err);
    case PARE_OP_ADD:
      if (same_shape_add(t, n)) return backward_add(t, n, err);
      break;
    default: break;
    }
  }
  return backward_reference(t, i, err);
}

/* ---- the step ------------------------------------------------------------ */

static pare_status forward(pare_trainer *t, const float *x, pare_error *err) {
  pare_tensor in = t->plan->values[t->x_value];
  in.data = (void *)x;
  in.owns = 0;
  pare_status st = pare_exec_cl_begin(t->plan, t->cl->rt, &in, 1, err);
  for (int i = 0; i < t->g->n_nodes && st == PARE_OK; i++) {
    if (t->plan->node_folded[i]) continue;
    size_t bn_n, bn_c, bn_inner;
    if (!pare_trainer_is_batchnorm_train(t, i)) {
      st = pare_exec_cl_run_node(t->plan, i, err);
      continue;
    }
    if (bn_on_device(t, i, &bn_n, &bn_c, &bn_inner)) {
      st = forward_bn(t, i, bn_n, bn_c, bn_inner, err);
      continue;
    }
    /* Batch statistics on the reference; running statistics change there. */
    const pare_node *n = &t->g->nodes[i];
    for (int k = 0; k < n->n_inputs && st == PARE_OK; k++)
      if (n->inputs[k] >= 0) st = pare_exec_cl_host_value(t->plan, n->inputs[k], err);
    if (st == PARE_OK) st = pare_trainer_batchnorm_forward(t, i, err);
    if (st != PARE_OK) break;
    pare_exec_cl_value_changed(t->plan, n->outputs[0], 0);
    pare_exec_cl_value_changed(t->plan, n->inputs[3], 0);
    pare_exec_cl_value_changed(t->plan, n->inputs[4], 0);
  }
  return st;
}

static pare_status update(pare_trainer *t, pare_error *err) {
  pare_train_cl *c = t->cl;
  double lr;
  if (pare_ref_lr_at(&t->cfg.schedule, t->steps, &lr) != PARE_REF_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "bad learning-rate schedule");
  pare_status st = PARE_OK;
  for (int i = 0; i < t->g->n_values && st == PARE_OK; i++) {
    if (!t->g->values[i].is_param || !c->grad[i]) continue;
    size_t n = numel(&t->plan->values[i]);
    if (!c->live[i]) { /* nothing reached it: a zero gradient */
      float *z = host_zeros(c, n ? n : 1);
      st = z ? pare_cl_write(c->rt, c->grad[i], 0, sizeof(float) * n, z, err)
             : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      if (st != PARE_OK) break;
    }
    cl_mem param = pare_exec_cl_device_value(t->plan, i, err);
    if (!param) return PARE_ERR_OPENCL;
    cl_mem w = c->master[i] ? c->master[i] : param; /* QAT: the float weights */
    if (t->cfg.optimizer == PARE_OPT_ADAM) {
      pare_ref_adam_params p = t->cfg.adam;
      p.lr = (float)lr;
      st = pare_launch_train_adam_step_f32(c->rt, &p, t->steps + 1, w, c->grad[i], c->m1[i],
                                           c->m2[i], c->mask[i], n, NULL, err);
    } else {
      pare_ref_sgd_params p = t->cfg.sgd;
      p.lr = (float)lr;
      st = pare_launch_train_sgd_step_f32(c->rt, &p, w, c->grad[i], c->m1[i], c->mask[i], n, NULL,
                                          err);
    }
    if (st == PARE_OK && c->master[i] && t->qbits[i])
      st = pare_launch_train_fake_quant_rows_f32(
          c->rt, (size_t)t->qrows[i], n / (size_t)t->qrows[i], t->qbits[i], w, param, NULL, err);
    if (st == PARE_OK && c->master[i] && t->share_k[i]) {
      /* Centroids on the host: the master weights read back, averaged per
       * centroid, the shared weights written (fine on CPU devices; a
       * device kernel would spare a GPU the round trip). */
      float *host = t->g->values[i].data;
      st = pare_cl_read(c->rt, w, 0, sizeof(float) * n, t->master[i], err);
      if (st == PARE_OK && pare_ref_share_project_f32(t->master[i], t->share_label[i], n,
                                                      t->share_k[i], host) != PARE_REF_OK)
        st = pare_error_set(err, PARE_ERR_INTERNAL, "centroids of '%s'", t->g->values[i].name);
      if (st == PARE_OK) st = pare_cl_write(c->rt, param, 0, sizeof(float) * n, host, err);
    }
    pare_exec_cl_value_changed(t->plan, i, 1);
  }
  return st;
}

pare_status pare_train_cl_step(pare_trainer *t, const float *x, const int64_t *labels,
                               const float *teacher, float *loss, int64_t *correct,
                               pare_error *err) {
  pare_train_cl *c = t->cl;
  const pare_tensor *lt = &t->plan->values[t->logits_value];
  size_t n = (size_t)lt->dims[0], k = (size_t)lt->dims[1];
  for (size_t r = 0; r < n; r++)
    if (labels[r] < 0 || (size_t)labels[r] >= k)
      return pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "loss: label %lld of sample %zu is outside [0, %zu)",
                            (long long)labels[r], r, k);
  memset(c->live, 0, (size_t)t->g->n_values);
  pare_status st = forward(t, x, err);
  cl_mem logits = st == PARE_OK ? pare_exec_cl_device_value(t->plan, t->logits_value, err) : NULL;
  if (!logits) return st != PARE_OK ? st : PARE_ERR_OPENCL;
  /* The caller's labels and teacher logits outlive the step, whose last
   * read waits for everything: the uploads need not block. */
  st = pare_cl_write_async(c->rt, c->labels, 0, sizeof(int64_t) * n, labels, err);
  if (st == PARE_OK && teacher)
    st = pare_cl_write_async(c->rt, c->teacher, 0, sizeof(float) * n * k, teacher, err);
  cl_mem dlogits = c->grad[t->logits_value];
  if (st == PARE_OK)
    st = teacher
             ? pare_launch_train_distill_loss_f32(c->rt, c->teacher, logits, c->labels, n, k,
                                                  t->cfg.distill_temperature, t->cfg.distill_alpha,
                                                  c->loss_rows, c->loss, dlogits, NULL, err)
             : pare_launch_train_softmax_xent_f32(c->rt, logits, c->labels, n, k, c->loss_rows,
                                                  c->loss, dlogits, NULL, err);
  if (st != PARE_OK) return st;
  c->live[t->logits_value] = 1;
  for (int i = t->g->n_nodes - 1; i >= 0 && st == PARE_OK; i--)
    if (!t->plan->node_folded[i]) st = backward_node(t, i, err);
  if (st == PARE_OK) st = update(t, err);
  /* The logits and the loss come back with one wait. */
  if (st == PARE_OK && correct)
    st = pare_cl_read_async(c->rt, logits, 0, sizeof(float) * n * k, c->logits, err);
  if (st == PARE_OK) st = pare_cl_read(c->rt, c->loss, 0, sizeof(float), loss, err);
  if (st == PARE_OK && correct) {
    *correct = 0;
    for (size_t r = 0; r < n; r++) {
      size_t best = 0;
      for (size_t j = 1; j < k; j++)
        if (c->logits[r * k + j] > c->logits[r * k + best]) best = j;
      *correct += (int64_t)best == labels[r];
    }
  }
  if (st == PARE_OK) t->steps++;
  return st;
}

pare_status pare_train_cl_sync(pare_trainer *t, pare_error *err) {
  if (!t->plan->device) return PARE_OK; /* no step yet: the graph is current */
  pare_status st = PARE_OK;
  for (int i = 0; i < t->g->n_values && st == PARE_OK; i++)
    if (t->g->values[i].is_param) st = pare_exec_cl_host_value(t->plan, i, err);
  /* Running statistics that batch normalization updated on the device. */
  for (int i = 0; i < t->g->n_nodes && st == PARE_OK; i++)
    if (t->cl->bn_mean[i]) {
      st = pare_exec_cl_host_value(t->plan, t->g->nodes[i].inputs[3], err);
      if (st == PARE_OK) st = pare_exec_cl_host_value(t->plan, t->g->nodes[i].inputs[4], err);
    }
  return st;
}

pare_status pare_train_cl_set_mask(pare_trainer *t, int value, pare_error *err) {
  pare_train_cl *c = t->cl;
  pare_status st = t->plan->device ? pare_exec_cl_host_value(t->plan, value, err) : PARE_OK;
  if (st != PARE_OK) return st;
  size_t n = numel(&t->plan->values[value]);
  pare_ref_apply_mask_f32(t->g->values[value].data, t->mask[value], n);
  pare_exec_cl_value_changed(t->plan, value, 0);
  release(c, &c->mask[value]);
  return pare_cl_buffer(c->rt, CL_MEM_READ_ONLY, n ? n : 1, t->mask[value], &c->mask[value], err);
}

pare_status pare_train_cl_grad_to_host(pare_trainer *t, int value) {
  pare_train_cl *c = t->cl;
  size_t n = numel(&t->plan->values[value]);
  if (!c->live[value]) {
    memset(t->grad[value], 0, sizeof(float) * n);
    return PARE_OK;
  }
  pare_error err;
  return n ? pare_cl_read(c->rt, c->grad[value], 0, sizeof(float) * n, t->grad[value], &err)
           : PARE_OK;
}

pare_status pare_train_cl_state(pare_trainer *t, int v, int slot, float *data, int write,
                                pare_error *err) {
  pare_train_cl *c = t->cl;
  cl_mem m = slot ? c->m2[v] : c->m1[v];
  size_t bytes = sizeof(float) * numel(&t->plan->values[v]);
  if (!m || !bytes) return PARE_OK;
  return write ? pare_cl_write(c->rt, m, 0, bytes, data, err)
               : pare_cl_read(c->rt, m, 0, bytes, data, err);
}

pare_status pare_train_cl_set_master(pare_trainer *t, int v, pare_error *err) {
  pare_train_cl *c = t->cl;
  release(c, &c->master[v]);
  pare_exec_cl_value_changed(t->plan, v, 0); /* the quantized weights are on the host */
  return new_buffer(c, numel(&t->plan->values[v]), t->master[v], &c->master[v], err);
}
