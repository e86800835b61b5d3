/* The integer path of the OpenCL executor (see exec_int8.h): matching a
 * quantized layer in the plan, preparing its integer constants once, and
 * running it on kernels/gemm_i8.cl. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/core.h"
#include "engine/ref/quant.h"
#include "host/exec_int8.h"
#include "host/launch/gemm_i8.h"

int pare_exec_qdq_partner(const pare_plan *p, const pare_node *n) {
  const pare_graph *g = p->graph;
  double s1, z1 = 0, s2, z2 = 0;
  if (n->op != PARE_OP_QUANTIZE_LINEAR || n->n_outputs < 1 || n->outputs[0] < 0 ||
      !pare_plan_const_scalar(p, n, 1, &s1) ||
      (n->n_inputs > 2 && n->inputs[2] >= 0 && !pare_plan_const_scalar(p, n, 2, &z1)))
    return -1;
  int q = n->outputs[0];
  pare_dtype dt = p->values[q].dtype;
  if (dt != PARE_DT_U8 && dt != PARE_DT_I8) return -1;
  int reader = pare_graph_only_reader(g, q);
  if (reader < 0) return -1;
  const pare_node *d = &g->nodes[reader];
  if (d->op != PARE_OP_DEQUANTIZE_LINEAR || d->inputs[0] != q ||
      !pare_plan_const_scalar(p, d, 1, &s2) ||
      (d->n_inputs > 2 && d->inputs[2] >= 0 && !pare_plan_const_scalar(p, d, 2, &z2)))
    return -1;
  return s1 == s2 && z1 == z2 ? reader : -1;
}

/* The input side: node idx's input 0 is the output of a DequantizeLinear
 * (its only reader) undoing a per-tensor QuantizeLinear of an fp32 value. */
static int match_input(const pare_plan *p, int idx, pare_int8_layer *L) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  int xd = n->inputs[0];
  int dq = g->values[xd].producer;
  if (dq < 0 || g->nodes[dq].op != PARE_OP_DEQUANTIZE_LINEAR || p->node_folded[dq] ||
      pare_graph_only_reader(g, xd) != idx)
    return 0;
  int qv = g->nodes[dq].inputs[0];
  int q = qv >= 0 ? g->values[qv].producer : -1;
  if (q < 0 || p->node_folded[q] || pare_exec_qdq_partner(p, &g->nodes[q]) != dq) return 0;
  const pare_node *qn = &g->nodes[q];
  if (qn->inputs[0] < 0 || p->values[qn->inputs[0]].dtype != PARE_DT_F32) return 0;
  double sx, zx = 0;
  pare_plan_const_scalar(p, qn, 1, &sx);
  if (qn->n_inputs > 2 && qn->inputs[2] >= 0) pare_plan_const_scalar(p, qn, 2, &zx);
  /* uint8 q − z equals int8 (q − 128) − (z − 128): the same integers. */
  double z = zx - (p->values[qv].dtype == PARE_DT_U8 ? 128 : 0);
  if (!(sx > 0 && sx <= 3.4e38) || (float)sx <= 0.0f || z < -128 || z > 127) return 0;
  L->q = q, L->dq = dq, L->x = qn->inputs[0];
  L->x_scale = (float)sx;
  L->x_zero = (int32_t)z;
  return 1;
}

/* The weight side: input 1 is a DequantizeLinear folded when planned, of
 * int8 constants with zero point 0 and one scale per output channel (or
 * one). Fills n, k, the rows (transposed when the channels run along the
 * columns) and each channel's weight scale into sw. */
static int match_weight(const pare_plan *p, int idx, pare_int8_layer *L, double **sw) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  int wd = g->values[n->inputs[1]].producer;
  if (wd < 0 || g->nodes[wd].op != PARE_OP_DEQUANTIZE_LINEAR || !p->node_folded[wd]) return 0;
  const pare_node *d = &g->nodes[wd];
  if (d->n_inputs < 2 || d->inputs[0] < 0 || d->inputs[1] < 0) return 0;
  const pare_tensor *wq = &p->values[d->inputs[0]], *ws = &p->values[d->inputs[1]];
  if (!wq->is_const || !wq->data || wq->dtype != PARE_DT_I8 || !ws->is_const || !ws->data ||
      ws->dtype != PARE_DT_F32)
    return 0;
  if (d->n_inputs > 2 && d->inputs[2] >= 0) {
    const pare_tensor *zt = &p->values[d->inputs[2]];
    if (!zt->is_const || !zt->data || zt->dtype != PARE_DT_I8) return 0;
    for (int64_t i = 0; i < pare_tensor_numel(zt); i++)
      if (((const int8_t *)zt->data)[i] != 0) return 0;
  }
  /* Where the output channels run: along dimension 0 of a Conv weight or
   * of a Gemm's B with transB, along dimension 1 of a plain B. */
  int chan_axis, transposed = 0;
  if (n->op == PARE_OP_CONV) {
    if (wq->rank != 4) return 0;
    chan_axis = 0;
  } else {
    if (wq->rank != 2) return 0;
    transposed = n->op == PARE_OP_MATMUL || !pare_node_attr_int(n, "transB", 0);
    chan_axis = transposed ? 1 : 0;
  }
  const size_t channels = (size_t)wq->dims[chan_axis];
  const size_t k = channels ? (size_t)pare_tensor_numel(wq) / channels : 0;
  if (!channels || !k || k > PARE_QUANT_MAX_K) return 0;
  int64_t scales = pare_tensor_numel(ws);
  int64_t axis = pare_node_attr_int(d, "axis", 1);
  if (axis < 0) axis += wq->rank;
  if (scales != 1 && (axis != chan_axis || scales != (int64_t)channels)) return 0;
  L->n = channels, L->k = k;
  L->ldw = n->op == PARE_OP_CONV ? (k + 63) / 64 * 64 : k;
  if (L->ldw > PARE_QUANT_MAX_K) L->ldw = k;
  L->w = calloc(channels, L->ldw);
  *sw = malloc(sizeof(double) * channels);
  if (!L->w || !*sw) return 0;
  const int8_t *src = wq->data;
  const float *s = ws->data;
  for (size_t c = 0; c < channels; c++) {
    double v = s[scales == 1 ? 0 : c];
    if (!(v >= 0 && v <= 3.4e38)) return 0;
    (*sw)[c] = v;
    for (size_t j = 0; j < k; j++)
      L->w[c * L->ldw + j] = transposed ? src[j * channels + c] : src[c * k + j];
    /* A channel of scale 0 is all zeros whatever its integers say. */
    if (v == 0) {
      memset(L->w + c * L->ldw, 0, k);
      (*sw)[c] = 1;
    }
  }
  return 1;
}

/* The layer's own form: a Conv (groups dividing both channel counts, as
 * planned), a Gemm without transA and with alpha 1, or a MatMul with a
 * 2-D B; its fp32 bias (beta folded in) or NULL. */
static int match_layer(const pare_plan *p, int idx, const float **bias, double *beta) {
  const pare_node *n = &p->graph->nodes[idx];
  const pare_tensor *x = &p->values[n->inputs[0]], *y = &p->values[n->outputs[0]];
  *bias = NULL;
  *beta = 1;
  int64_t outs = y->rank >= 2 ? (n->op == PARE_OP_CONV ? y->dims[1] : y->dims[y->rank - 1]) : 0;
  if (outs <= 0) return 0;
  if (n->op == PARE_OP_CONV) {
    if (x->rank != 4) return 0;
  } else if (n->op == PARE_OP_GEMM) {
    if (x->rank != 2 || pare_node_attr_int(n, "transA", 0) ||
        pare_node_attr_float(n, "alpha", 1.0f) != 1.0f)
      return 0;
    *beta = pare_node_attr_float(n, "beta", 1.0f);
  } else if (n->op == PARE_OP_MATMUL) {
    if (x->rank < 2 || y->rank != x->rank) return 0;
  } else {
    return 0;
  }
  int bi = n->op == PARE_OP_MATMUL ? -1 : 2;
  if (bi > 0 && n->n_inputs > bi && n->inputs[bi] >= 0) {
    *bias = pare_plan_const_f32(p, n->inputs[bi], outs);
    if (!*bias) return 0;
  }
  return 1;
}

int pare_int8_layer_match(const pare_plan *p, int idx, pare_int8_layer *L) {
  memset(L, 0, sizeof *L);
  const char *env = pare_env("PARE_INT8");
  if (env && !strcmp(env, "never")) return 0;
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  if ((n->op != PARE_OP_CONV && n->op != PARE_OP_GEMM && n->op != PARE_OP_MATMUL) ||
      n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0 || n->n_outputs < 1 ||
      n->outputs[0] < 0 || p->node_folded[idx])
    return 0;
  const float *bias;
  double beta, *sw = NULL;
  int ok =
      match_layer(p, idx, &bias, &beta) && match_input(p, idx, L) && match_weight(p, idx, L, &sw);
  if (ok) {
    L->scale = malloc(sizeof(float) * L->n);
    L->wsum = malloc(sizeof(int32_t) * L->n);
    L->bias = bias ? malloc(sizeof(int32_t) * L->n) : NULL;
    ok = L->scale && L->wsum && (!bias || L->bias);
  }
  for (size_t c = 0; ok && c < L->n; c++) {
    L->scale[c] = (float)((double)L->x_scale * sw[c]);
    if (!(L->scale[c] > 0.0f)) ok = 0;
    /* The bias in accumulator steps; beyond 2^23 the sums could leave int32. */
    double b = bias ? beta * bias[c] / (double)L->scale[c] : 0;
    if (!(fabs(b) <= 8388608.0)) ok = 0;
    if (ok && L->bias) L->bias[c] = (int32_t)lround(b);
  }
  if (ok) pare_ref_i8_row_sums(L->n, L->k, L->w, L->ldw, L->wsum);
  free(sw);
  if (!ok) pare_int8_layer_release(L, NULL);
  return ok;
}

void pare_int8_layer_release(pare_int8_layer *L, const pare_cl_api *cl) {
  cl_mem bufs[4] = {L->dw, L->dscale, L->dbias, L->dwsum};
  for (int b = 0; b < 4; b++)
    if (bufs[b] && cl) cl->clReleaseMemObject(bufs[b]);
  free(L->w);
  free(L->scale);
  free(L->bias);
  free(L->wsum);
  memset(L, 0, sizeof *L);
}

static pare_status upload(pare_cl_runtime *rt, pare_int8_layer *L, pare_error *err) {
  if (L->dw) return PARE_OK;
  pare_status st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, L->n * L->ldw, L->w, &L->dw, err);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof(float) * L->n, L->scale, &L->dscale, err);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof(int32_t) * L->n, L->wsum, &L->dwsum, err);
  if (st == PARE_OK && L->bias)
    st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof(int32_t) * L->n, L->bias, &L->dbias, err);
  if (st != PARE_OK) {
    cl_mem *bufs[4] = {&L->dw, &L->dscale, &L->dbias, &L->dwsum};
    for (int b = 0; b < 4; b++)
      if (*bufs[b]) rt->cl->clReleaseMemObject(*bufs[b]), *bufs[b] = NULL;
    return st;
  }
  /* The device holds them now; the plan's state (and so the layer) goes
   * with its runtime, so the host copies are not needed again. */
  void *host[4] = {L->w, L->scale, L->bias, L->wsum};
  for (int b = 0; b < 4; b++) free(host[b]);
  L->w = NULL, L->scale = NULL, L->bias = NULL, L->wsum = NULL;
  return PARE_OK;
}

pare_status pare_int8_layer_run(pare_cl_runtime *rt, pare_int8_layer *L,
                                const pare_conv2d_f32_args *conv, size_t rows, cl_mem x,
                                size_t x_count, cl_mem xq, cl_mem y, int act, float act_min,
                                float act_max, pare_error *err) {
  pare_status st = upload(rt, L, err);
  if (st == PARE_OK)
    st = pare_launch_quantize_i8(rt, x_count, x, 0, L->x_scale, L->x_zero, xq, 0, NULL, err);
  if (st != PARE_OK) return st;
  if (conv) {
    pare_conv2d_i8_args a = {0};
    pare_conv_i8_shape *s = &a.shape;
    s->n = conv->n, s->c = conv->c, s->h = conv->h, s->w = conv->w, s->oc = conv->m;
    s->kh = conv->kh, s->kw = conv->kw, s->groups = conv->group;
    s->stride_h = conv->stride_h, s->stride_w = conv->stride_w;
    s->dil_h = conv->dil_h, s->dil_w = conv->dil_w;
    s->pad_top = conv->pad_top, s->pad_left = conv->pad_left;
    s->pad_bottom = conv->pad_bottom, s->pad_right = conv->pad_right;
    a.x = xq, a.x_zero = L->x_zero, a.w = L->dw, a.ldw = L->ldw, a.bias = L->dbias,
    a.wsum = L->dwsum;
    a.out_f32 = 1, a.scale = L->dscale;
    a.act = act, a.act_min = act_min, a.act_max = act_max;
    a.y = y;
    return pare_launch_conv2d_i8(rt, &a, NULL, err);
  }
  pare_gemm_i8_args g = {0};
  g.m = rows, g.n = L->n, g.k = L->k;
  g.a = xq, g.lda = L->k, g.a_zero = L->x_zero;
  g.b = L->dw, g.ldb = L->ldw;
  g.bias = L->dbias, g.wsum = L->dwsum;
  g.out_f32 = 1, g.scale = L->dscale;
  g.act = act, g.act_min = act_min, g.act_max = act_max;
  g.c = y, g.ldc = L->n;
  return pare_launch_gemm_i8(rt, &g, NULL, err);
}
