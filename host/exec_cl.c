/* The OpenCL executor: device buffers per value, a kernel per node where
 * one exists, the reference for the rest. Layout-only ops (Reshape,
 * Flatten, Squeeze, Unsqueeze, Identity, Dropout) alias their input's
 * buffer instead of copying. Unless the plan says PARE_PLAN_NO_FUSE (or
 * PARE_NO_FUSE=1), a Conv runs the nodes after it in its epilogue
 * (find_fusions): BatchNormalization folded into its weights, a residual
 * Add, ReLU or Clip; a Gemm/MatMul the ReLU or Clip after it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/queue_plan.h"
#include "engine/passes/passes.h"
#include "engine/ref/spact.h"
#include "host/exec_cl.h"
#include "host/exec_int8.h"
#include "host/launch/conv2d_f32.h"
#include "host/launch/eltwise_f32.h"
#include "host/launch/launch.h"
#include "host/launch/pool_f32.h"
#include "host/launch/softmax_f32.h"
#include "host/launch/sparse_f32.h"
#include "host/tuning.h"

typedef struct cl_value {
  cl_mem mem;     /* device copy, or NULL */
  int dev_valid;  /* device copy holds the current data */
  int host_valid; /* plan tensor's host data is current */
  cl_mem scaled;  /* a constant times `scale` (Gemm's beta·C), or NULL */
  float scale;
} cl_value;

/* Device state of one plan. It keeps the OpenCL context alive by itself,
 * so a plan (or model) may outlive the pare_context it ran on; `rt` is
 * used only during a run with that same runtime (checked by id). */
/* A Gemm/MatMul or Conv whose constant weight has zeros: it runs on the
 * sparse kernels when they measured faster on this device for its shape
 * and number of nonzeros (the measurement is kept in the tuning
 * database), else on the dense ones. */
typedef struct sparse_layer {
  int state;      /* SPARSE_UNDECIDED, SPARSE_NO or SPARSE_YES */
  int nm;         /* 1: runs on the N:M kernel (nm), 0: on CSR (w) */
  pare_csr_cl w;  /* the weight as [outputs × inputs] CSR */
  pare_nm_cl nmw; /* or in its N:M pattern (Gemm and MatMul only) */
  /* A dense Conv may run with its weights baked into the implicit GEMM's
   * code (zeros skipped, no weight loads) when that measured faster. */
  int baked_state;         /* SPARSE_UNDECIDED, SPARSE_NO or SPARSE_YES */
  pare_conv2d_baked baked; /* its text (NULL: none) and tile */
} sparse_layer;

enum { SPARSE_UNDECIDED = 0, SPARSE_NO, SPARSE_YES };

/* Baked layers are kept to this many nonzero weights (each is a program
 * to build, and its code grows with them) and to weights at least half
 * zeros (on PoCL a dense layer baked ran no faster, and at 70% zeros
 * 1.3-1.7× faster: the time of its build is not spent where it cannot
 * pay). */
#define BAKED_MAX_NNZ 8192

/* What a Conv or Gemm/MatMul node runs in one launch: the nodes after it
 * that it absorbs (-1: none), which are then skipped, and the value it
 * writes (the last absorbed node's output; its own output when none). */
typedef struct fusion {
  int bn;       /* BatchNormalization folded into the Conv's weight and bias */
  int add;      /* Add of a residual, in the Conv's epilogue */
  int residual; /* that Add's other input */
  int act;      /* Relu or Clip, applied last */
  int out;
  int pool; /* a MaxPool/AveragePool reading `out`, pooled in the Conv's epilogue when the
             * convolution runs dense on a path that can (then skipped, its output
             * written), else run as its own launch */
} fusion;

typedef struct cl_state {
  pare_cl_runtime *rt;
  uint64_t rt_id;
  const pare_cl_api *cl;
  cl_context context;
  cl_value *v; /* one per graph value */
  int n, n_nodes;
  /* Buffers of a launch's own intermediate data, one set per queue, so
   * that launches side by side never share one. */
  struct work_buffers {
    cl_mem scratch; /* grown as convolutions (and integer layers' quantized inputs) need */
    size_t scratch_bytes;
    cl_mem sparse_out; /* Yᵀ of a sparse fully connected layer, grown as needed */
    size_t sparse_out_bytes;
  } work[PARE_RT_QUEUES];
  int q;                  /* the queue launches go to now (0 outside a two-queue run) */
  fusion *fuse;           /* per node */
  cl_mem (*consts)[3];    /* per node, made on first use: a Conv's weight and bias with
                           * a BatchNormalization folded in; a BatchNormalization's
                           * scale and shift; [2] a Conv's weight transformed for
                           * Winograd where its launches run Winograd */
  unsigned *wino_checked; /* per node: the tuning version + 1 at which [2]'s need
                           * was last looked at */
  char *skip;             /* per node: done by the node it is fused into (this run) */
  sparse_layer *sparse;   /* per node */
  pare_int8_layer *int8;  /* per node: the integer form (int8[i].n set) or none */
  char *absorbed;         /* per node: a QuantizeLinear/DequantizeLinear an integer
                           * layer does itself (fixed when the state is made) */
  /* PARE_PLAN_ARENA: the activations in regions of one device buffer, laid
   * out by the memory plan over the steps this executor runs them at. */
  cl_mem arena;                      /* or NULL: a buffer per value */
  cl_mem *arena_sub;                 /* per buffer of the plan: its region */
  int *arena_buffer;                 /* per value: its buffer, -1 for constants and values
                                      * that need no device memory */
  size_t *arena_offset, *arena_size; /* per buffer: its region */
  int n_arena_sub;
  size_t arena_bytes;
  char *used;    /* per value: given device memory in a run (written, uploaded,
                  * or aliased) */
  int ran;       /* a run finished: every node's form is chosen */
  int baking;    /* the Conv being timed with its weights baked in, else -1 */
  int replanned; /* the arena was laid out again without the values no run used */
  /* Independent branches on two queues (plan_queues), from the second run. */
  int queues_planned;
  pare_queue_plan qp; /* qp.queues 2: runs use both queues */
  /* A run enqueued without waiting (pare_plan_run_cl_start): its main
   * queue (its branches on the other), and whether it is in flight. */
  int home;
  int pending;
  int async_upload; /* uploads of host values do not wait (a run in flight) */
} cl_state;

/* One way of running node idx (timed against another to choose). */
typedef pare_status (*node_fn)(pare_plan *p, cl_state *s, int idx, pare_error *err);

/* Releases the arena, its regions and the value-to-region map (the values'
 * own references to their regions stay theirs). */
static void drop_arena(cl_state *s) {
  for (int b = 0; s->arena_sub && b < s->n_arena_sub; b++)
    if (s->arena_sub[b]) s->cl->clReleaseMemObject(s->arena_sub[b]);
  free(s->arena_sub);
  free(s->arena_buffer);
  free(s->arena_offset);
  free(s->arena_size);
  if (s->arena) s->cl->clReleaseMemObject(s->arena);
  s->arena_sub = NULL;
  s->arena_buffer = NULL;
  s->arena_offset = s->arena_size = NULL;
  s->arena = NULL;
  s->n_arena_sub = 0;
  s->arena_bytes = 0;
}

static void state_free(void *s) {
  cl_state *st = s;
  for (int i = 0; i < st->n; i++) {
    if (st->v[i].mem) st->cl->clReleaseMemObject(st->v[i].mem);
    if (st->v[i].scaled) st->cl->clReleaseMemObject(st->v[i].scaled);
  }
  for (int q = 0; q < PARE_RT_QUEUES; q++) {
    if (st->work[q].scratch) st->cl->clReleaseMemObject(st->work[q].scratch);
    if (st->work[q].sparse_out) st->cl->clReleaseMemObject(st->work[q].sparse_out);
  }
  pare_queue_plan_free(&st->qp);
  /* st->rt may be gone by now (a plan can outlive its context): the
   * buffers go through the API table. */
  for (int i = 0; st->sparse && i < st->n_nodes; i++) {
    cl_mem bufs[6] = {st->sparse[i].w.row_ptr, st->sparse[i].w.col_idx,  st->sparse[i].w.values,
                      st->sparse[i].w.scales,  st->sparse[i].nmw.values, st->sparse[i].nmw.pos};
    for (int b = 0; b < 6; b++)
      if (bufs[b]) st->cl->clReleaseMemObject(bufs[b]);
  }
  for (int i = 0; st->sparse && i < st->n_nodes; i++) pare_conv2d_baked_free(&st->sparse[i].baked);
  free(st->sparse);
  for (int i = 0; st->int8 && i < st->n_nodes; i++) pare_int8_layer_release(&st->int8[i], st->cl);
  free(st->int8);
  free(st->absorbed);
  for (int i = 0; st->consts && i < st->n_nodes; i++)
    for (int b = 0; b < 3; b++)
      if (st->consts[i][b]) st->cl->clReleaseMemObject(st->consts[i][b]);
  free(st->consts);
  free(st->wino_checked);
  drop_arena(st);
  free(st->used);
  if (st->context) st->cl->clReleaseContext(st->context);
  free(st->v);
  free(st->fuse);
  free(st->skip);
  free(st);
}

static int is_alias_op(pare_op op) {
  return op == PARE_OP_RESHAPE || op == PARE_OP_FLATTEN || op == PARE_OP_SQUEEZE ||
         op == PARE_OP_UNSQUEEZE || op == PARE_OP_IDENTITY || op == PARE_OP_DROPOUT;
}

/* The plan's tensor of input k of n (shaped when planned), or NULL. */
static const pare_tensor *plan_input(const pare_plan *p, const pare_node *n, int k) {
  return k < n->n_inputs && n->inputs[k] >= 0 ? &p->values[n->inputs[k]] : NULL;
}

/* Inference BatchNormalization n with constant parameters: a per-channel
 * affine on the device. */
static int bn_supported(const pare_plan *p, const pare_node *n) {
  const pare_tensor *x = &p->values[n->inputs[0]];
  if (n->n_inputs != 5 || x->rank < 2 || pare_node_attr_int(n, "training_mode", 0)) return 0;
  for (int k = 1; k < n->n_outputs; k++)
    if (n->outputs[k] >= 0) return 0;
  for (int k = 1; k < 5; k++)
    if (!pare_plan_const_f32(p, n->inputs[k], x->dims[1])) return 0;
  return n->n_outputs >= 1 && n->outputs[0] >= 0;
}

int pare_exec_cl_supports(const pare_plan *p, const pare_node *n) {
  const pare_graph *g = p->graph;
  if (n->n_inputs < 1 || n->inputs[0] < 0 || p->values[n->inputs[0]].dtype != PARE_DT_F32) return 0;
  if (is_alias_op(n->op)) {
    /* Only the data output aliases (Dropout's mask runs on the reference). */
    for (int k = 1; k < n->n_outputs; k++)
      if (n->outputs[k] >= 0) return 0;
    return n->n_outputs >= 1;
  }
  if (pare_op_is_unary_elementwise(n->op) && n->op != PARE_OP_CLIP) return 1;
  switch (n->op) {
  case PARE_OP_GEMM: {
    /* C, when present, must be a constant row of N values (a per-column
     * bias) for the kernel. Shapes from the plan: a value computed from
     * constants (a dequantized weight) may have none in the graph. */
    const pare_tensor *b = plan_input(p, n, 1), *c = plan_input(p, n, 2);
    if (!c) return 1;
    if (!b || b->rank != 2 || !c->is_const) return 0;
    int64_t cols = pare_node_attr_int(n, "transB", 0) ? b->dims[0] : b->dims[1];
    return (c->rank == 1 || (c->rank == 2 && c->dims[0] == 1)) && pare_tensor_numel(c) == cols;
  }
  case PARE_OP_MATMUL: {
    const pare_tensor *b = plan_input(p, n, 1);
    return b && b->rank == 2;
  }
  case PARE_OP_QUANTIZE_LINEAR: return pare_exec_qdq_partner(p, n) >= 0;
  case PARE_OP_BATCH_NORM: return bn_supported(p, n);
  case PARE_OP_CLIP:
    /* Bounds must be known when enqueuing: constants or attributes. */
    for (int k = 1; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0 && !p->values[n->inputs[k]].is_const) return 0;
    return 1;
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV:
  case PARE_OP_POW:
  case PARE_OP_MAX:
  case PARE_OP_MIN:
  case PARE_OP_SUM:
  case PARE_OP_PRELU:
    /* Two f32 inputs with numpy broadcasting (no legacy axis attribute). */
    return n->n_inputs == 2 && n->inputs[1] >= 0 && p->values[n->inputs[1]].dtype == PARE_DT_F32 &&
           !pare_node_attr(n, "axis");
  case PARE_OP_CONCAT: { /* a strided copy per input */
    const pare_tensor *y = &p->values[n->outputs[0]];
    int64_t axis = pare_node_attr_int(n, "axis", 0);
    if (axis < 0) axis += y->rank;
    if (axis < 0 || axis >= y->rank || n->n_outputs != 1) return 0;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] < 0 || p->values[n->inputs[k]].dtype != PARE_DT_F32) return 0;
    return 1;
  }
  case PARE_OP_MAX_POOL:
  case PARE_OP_AVERAGE_POOL:
    return p->values[n->inputs[0]].rank == 4 && (n->n_outputs < 2 || n->outputs[1] < 0);
  case PARE_OP_GLOBAL_AVERAGE_POOL:
  case PARE_OP_GLOBAL_MAX_POOL: return p->values[n->inputs[0]].rank >= 3;
  case PARE_OP_SOFTMAX:
  case PARE_OP_LOG_SOFTMAX: {
    pare_tensor *in[1] = {&p->values[n->inputs[0]]};
    pare_op_ctx ctx = {g, n, in, 1, NULL, 0, NULL};
    int legacy, axis = pare_op_softmax_axis(&ctx, &legacy), rank = in[0]->rank;
    if (axis < 0) axis += rank;
    return rank >= 1 && axis >= 0 && axis < rank && (legacy || axis == rank - 1);
  }
  case PARE_OP_CONV: {
    /* 2-D, with weights (and bias) known when planned: constants, or
     * folded from constants (a dequantized weight). */
    const pare_tensor *w = plan_input(p, n, 1), *b = plan_input(p, n, 2);
    return w && w->rank == 4 && w->is_const && (!b || b->is_const);
  }
  default: return 0;
  }
}

/* Makes value v's data current on the device. */
static pare_status to_device(pare_plan *p, cl_state *s, int v, pare_error *err) {
  cl_value *cv = &s->v[v];
  s->used[v] = 1;
  if (cv->dev_valid) return PARE_OK;
  pare_tensor *t = &p->values[v];
  if (!cv->mem) {
    pare_status st = pare_cl_buffer(s->rt, CL_MEM_READ_WRITE, t->nbytes, NULL, &cv->mem, err);
    if (st != PARE_OK) return st;
  }
  if (t->nbytes) {
    /* In a run enqueued without waiting, the plan's host copy stays as it
     * is until the run is waited for. */
    pare_status st = s->async_upload
                         ? pare_cl_write_async(s->rt, cv->mem, 0, t->nbytes, t->data, err)
                         : pare_cl_write(s->rt, cv->mem, 0, t->nbytes, t->data, err);
    if (st != PARE_OK) return st;
  }
  cv->dev_valid = 1;
  return PARE_OK;
}

/* Reads value v's device data into the plan tensor's host data; with
 * `wait` 0 only enqueues the read (the host data is current once the
 * queue is waited for, and host_valid is left to the caller). */
static pare_status read_back(pare_plan *p, cl_state *s, int v, int wait, pare_error *err) {
  cl_value *cv = &s->v[v];
  pare_tensor *t = &p->values[v];
  /* A borrowed buffer (a parameter of the graph) is read into in place. */
  int64_t n = pare_tensor_numel(t);
  int in_place =
      t->data && !t->owns && n >= 0 && t->nbytes == pare_dtype_bytes(t->dtype, (size_t)n);
  pare_status st = in_place ? PARE_OK : pare_tensor_alloc(t, err);
  if (st == PARE_OK && t->nbytes)
    st = wait ? pare_cl_read(s->rt, cv->mem, 0, t->nbytes, t->data, err)
              : pare_cl_read_async(s->rt, cv->mem, 0, t->nbytes, t->data, err);
  return st;
}

/* Makes value v's data current on the host. */
static pare_status to_host(pare_plan *p, cl_state *s, int v, pare_error *err) {
  if (s->v[v].host_valid) return PARE_OK;
  pare_status st = read_back(p, s, v, 1, err);
  if (st == PARE_OK) s->v[v].host_valid = 1;
  return st;
}

/* A device buffer for output value v (shape already known). */
static pare_status out_buffer(pare_plan *p, cl_state *s, int v, pare_error *err) {
  cl_value *cv = &s->v[v];
  s->used[v] = 1;
  size_t bytes = p->values[v].nbytes;
  if (!bytes) {
    int64_t n = pare_tensor_numel(&p->values[v]);
    bytes = pare_dtype_bytes(p->values[v].dtype, (size_t)(n > 0 ? n : 0));
    p->values[v].nbytes = bytes;
  }
  if (!cv->mem) {
    pare_status st = pare_cl_buffer(s->rt, CL_MEM_READ_WRITE, bytes, NULL, &cv->mem, err);
    if (st != PARE_OK) return st;
  }
  cv->dev_valid = 1;
  cv->host_valid = 0;
  return PARE_OK;
}

/* Constant value v times `scale` on the device, kept between runs until v
 * changes (pare_exec_cl_value_changed) or the scale does. */
static pare_status scaled_value(pare_plan *p, cl_state *s, int v, float scale, pare_error *err) {
  cl_value *cv = &s->v[v];
  if (cv->scaled && cv->scale == scale) return PARE_OK;
  pare_status st = to_host(p, s, v, err);
  if (st != PARE_OK) return st;
  const pare_tensor *c = &p->values[v];
  int64_t cn = pare_tensor_numel(c);
  float *host = malloc(sizeof(float) * (size_t)(cn > 0 ? cn : 1));
  if (!host) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (int64_t i = 0; i < cn; i++) host[i] = scale * ((const float *)c->data)[i];
  if (cv->scaled) s->cl->clReleaseMemObject(cv->scaled);
  cv->scaled = NULL;
  st = pare_cl_buffer(s->rt, CL_MEM_READ_ONLY, sizeof(float) * (size_t)cn, host, &cv->scaled, err);
  free(host);
  if (st == PARE_OK) cv->scale = scale;
  return st;
}

/* The activation node `a` fused into the node before it, as
 * PARE_GEMM_ACT_* (PARE_CONV2D_ACT_*) with its clip bounds; -1 when it is
 * not Relu or Clip with constant bounds. */
static int fusable_act(const pare_graph *g, const pare_node *a, float *lo, float *hi) {
  if (a->op == PARE_OP_RELU) return PARE_GEMM_ACT_RELU;
  if (a->op != PARE_OP_CLIP) return -1;
  *lo = pare_node_attr_float(a, "min", -3.402823466e38f);
  *hi = pare_node_attr_float(a, "max", 3.402823466e38f);
  for (int k = 1; k <= 2 && k < a->n_inputs; k++) {
    if (a->inputs[k] < 0) continue;
    const pare_value *v = &g->values[a->inputs[k]];
    if (v->kind != PARE_VALUE_CONSTANT || v->dtype != PARE_DT_F32 || pare_value_numel(v) != 1)
      return -1;
    *(k == 1 ? lo : hi) = *(const float *)v->data;
  }
  return PARE_GEMM_ACT_CLIP;
}

/* A MaxPool or AveragePool node a Conv's epilogue can take (2-D, no pads
 * or dilation, floor mode, no Indices output): 1 and its window in *pool. */
static int fusable_pool(const pare_plan *p, const pare_node *n, pare_conv2d_pool *pool) {
  if ((n->op != PARE_OP_MAX_POOL && n->op != PARE_OP_AVERAGE_POOL) || n->n_inputs < 1 ||
      n->inputs[0] < 0 || n->n_outputs < 1 || n->outputs[0] < 0 ||
      (n->n_outputs > 1 && n->outputs[1] >= 0) || p->values[n->inputs[0]].rank != 4)
    return 0;
  pare_tensor *in[1] = {&p->values[n->inputs[0]]}, *out[1] = {&p->values[n->outputs[0]]};
  pare_op_ctx ctx = {p->graph, n, in, 1, out, 1, NULL};
  pare_ref_pool_params pp;
  if (pare_op_pool_params(&ctx, &pp) != PARE_OK || pp.win.nspatial != 2 || pp.ceil_mode ||
      (pp.win.auto_pad != PARE_REF_AUTO_PAD_NOTSET && pp.win.auto_pad != PARE_REF_AUTO_PAD_VALID))
    return 0;
  for (int k = 0; k < 4; k++)
    if (pp.win.pads[k] != 0) return 0;
  if (pp.win.dilations[0] != 1 || pp.win.dilations[1] != 1 || pp.win.kernel[0] < 1 ||
      pp.win.kernel[1] < 1 || pp.win.strides[0] < 1 || pp.win.strides[1] < 1)
    return 0;
  *pool =
      (pare_conv2d_pool){n->op == PARE_OP_MAX_POOL ? PARE_CONV2D_POOL_MAX : PARE_CONV2D_POOL_AVG,
                         (size_t)pp.win.kernel[0], (size_t)pp.win.kernel[1],
                         (size_t)pp.win.strides[0], (size_t)pp.win.strides[1]};
  return 1;
}

/* The activation fused into node idx (PARE_GEMM_ACT_NONE when none). */
static int fused_act(const pare_plan *p, const cl_state *s, int idx, float *lo, float *hi) {
  *lo = *hi = 0.0f;
  int a = s->fuse[idx].act;
  return a >= 0 ? fusable_act(p->graph, &p->graph->nodes[a], lo, hi) : PARE_GEMM_ACT_NONE;
}

/* Node idx's constant input v ([rows, cols], fp32) on the device as its
 * transpose [cols, rows], made once in consts[idx][0] (and again after
 * pare_exec_cl_value_changed on v). */
static pare_status transposed_const(pare_plan *p, cl_state *s, int idx, int v, size_t rows,
                                    size_t cols, pare_error *err) {
  if (s->consts[idx][0]) return PARE_OK;
  const float *w = p->values[v].data;
  float *t = malloc(sizeof(float) * (rows * cols + 1));
  if (!t) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_ref_spact_transpose_f32(rows, cols, w, t);
  pare_status st = pare_cl_buffer(s->rt, CL_MEM_READ_ONLY, sizeof(float) * rows * cols, t,
                                  &s->consts[idx][0], err);
  free(t);
  return st;
}

static pare_status run_gemm(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  const pare_tensor *a = &p->values[n->inputs[0]], *b = &p->values[n->inputs[1]];
  const pare_tensor *y = &p->values[n->outputs[0]];
  pare_gemm_f32_args g;
  memset(&g, 0, sizeof g);
  if (n->op == PARE_OP_GEMM) {
    g.trans_a = (int)pare_node_attr_int(n, "transA", 0);
    g.trans_b = (int)pare_node_attr_int(n, "transB", 0);
    g.alpha = pare_node_attr_float(n, "alpha", 1.0f);
    g.m = (size_t)y->dims[0];
    g.n = (size_t)y->dims[1];
    g.k = (size_t)(g.trans_a ? a->dims[0] : a->dims[1]);
    g.lda = (size_t)a->dims[1];
    g.ldb = (size_t)b->dims[1];
  } else { /* MatMul with a 2-D B: A's leading dims fold into rows */
    g.alpha = 1.0f;
    g.k = (size_t)b->dims[0];
    g.n = (size_t)b->dims[1];
    g.m = g.k ? (size_t)pare_tensor_numel(a) / g.k : 0;
    g.lda = g.k;
    g.ldb = g.n;
  }
  g.ldc = g.n;
  g.beta = 0.0f;
  if (g.m == 0 || g.n == 0) return PARE_OK;
  float lo, hi;
  int act = fused_act(p, s, idx, &lo, &hi), out = s->fuse[idx].out;
  pare_status st = out_buffer(p, s, out, err);
  if (st != PARE_OK) return st;
  st = to_device(p, s, n->inputs[0], err);
  if (st != PARE_OK) return st;
  g.a = s->v[n->inputs[0]].mem;
  g.c = s->v[out].mem;
  if (g.trans_b && !(p->flags & PARE_PLAN_KEEP_PARAMS) && b->rank == 2 &&
      b->dims[0] == (int64_t)g.n && b->dims[1] == (int64_t)g.k &&
      pare_plan_const_f32(p, n->inputs[1], (int64_t)(g.n * g.k))) {
    /* A constant transposed B (a fully connected layer's [out, in] weight)
     * goes to the device transposed once (and only so): the kernel then
     * reads rows of B along its vectors instead of gathering a column
     * element by element. */
    st = transposed_const(p, s, idx, n->inputs[1], g.n, g.k, err);
    if (st != PARE_OK) return st;
    g.b = s->consts[idx][0];
    g.trans_b = 0;
    g.ldb = g.n;
  } else {
    if ((st = to_device(p, s, n->inputs[1], err)) != PARE_OK) return st;
    g.b = s->v[n->inputs[1]].mem;
  }
  if (n->op == PARE_OP_GEMM && n->n_inputs > 2 && n->inputs[2] >= 0) {
    float beta = pare_node_attr_float(n, "beta", 1.0f);
    if (beta != 1.0f) {
      st = scaled_value(p, s, n->inputs[2], beta, err);
      if (st != PARE_OK) return st;
      g.bias = s->v[n->inputs[2]].scaled;
    } else {
      st = to_device(p, s, n->inputs[2], err);
      if (st != PARE_OK) return st;
      g.bias = s->v[n->inputs[2]].mem;
    }
  }
  return pare_launch_gemm_f32_act(s->rt, &g, act, lo, hi, NULL, err);
}

/* 1 when BatchNormalization node b, the only reader of Conv c's output,
 * can be folded into c's weight and bias (all fp32 constants). */
static int bn_foldable(const pare_plan *p, int c, int b) {
  const pare_node *conv = &p->graph->nodes[c], *bn = &p->graph->nodes[b];
  if (bn->op != PARE_OP_BATCH_NORM || bn->inputs[0] != conv->outputs[0] || !bn_supported(p, bn))
    return 0;
  const pare_tensor *w = &p->values[conv->inputs[1]];
  int has_bias = conv->n_inputs > 2 && conv->inputs[2] >= 0;
  return w->rank == 4 && pare_plan_const_f32(p, conv->inputs[1], pare_tensor_numel(w)) &&
         (!has_bias || pare_plan_const_f32(p, conv->inputs[2], w->dims[0]));
}

/* When Add node a adds value y and another value of y's shape that exists
 * before node i runs (a graph input, a constant, or an output of an
 * earlier node), that other value; else -1. */
static int residual_of(const pare_plan *p, int a, int y, int i) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[a];
  if (n->op != PARE_OP_ADD || n->n_inputs != 2 || n->n_outputs < 1 || n->outputs[0] < 0 ||
      !pare_exec_cl_supports(p, n))
    return -1;
  int r = n->inputs[0] == y ? n->inputs[1] : n->inputs[0];
  if (r < 0 || r == y || g->values[r].producer >= i) return -1;
  const pare_tensor *rt = &p->values[r], *yt = &p->values[y];
  if (rt->dtype != PARE_DT_F32 || rt->rank != yt->rank ||
      memcmp(rt->dims, yt->dims, sizeof(int64_t) * (size_t)yt->rank))
    return -1;
  return r;
}

/* The one place that decides what runs fused. A Conv absorbs, each step
 * only when the value so far has that node as its only reader: a
 * BatchNormalization (folded), then an Add of a residual computed earlier
 * (same shape), then a Relu or Clip with constant bounds, then (no
 * residual) a MaxPool or AveragePool without pads, which the dense float
 * convolution pools in its epilogue when its path can (run_conv decides
 * per run and skips the pooling node then). A Gemm or MatMul
 * absorbs the Relu or Clip. Nothing is fused for PARE_PLAN_NO_FUSE or
 * PARE_NO_FUSE=1; plans that keep parameters (training) fuse only a Conv's
 * activation, which the OpenCL trainer's backward pass expects. */
static void find_fusions(const pare_plan *p, fusion *f) {
  const pare_graph *g = p->graph;
  int fuse = pare_plan_fuses(p), training = (p->flags & PARE_PLAN_KEEP_PARAMS) != 0;
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    f[i] = (fusion){-1, -1, -1, -1, n->n_outputs > 0 ? n->outputs[0] : -1, -1};
    int conv = n->op == PARE_OP_CONV, gemm = n->op == PARE_OP_GEMM || n->op == PARE_OP_MATMUL;
    if (!fuse || !(conv || (gemm && !training)) || f[i].out < 0 || p->node_folded[i] ||
        !pare_exec_cl_supports(p, n))
      continue;
    int y = f[i].out, r = pare_graph_only_reader(g, y), res;
    if (conv && !training && r > i && bn_foldable(p, i, r)) {
      f[i].bn = r;
      y = g->nodes[r].outputs[0];
      r = pare_graph_only_reader(g, y);
    }
    if (conv && !training && r > i && (res = residual_of(p, r, y, i)) >= 0) {
      f[i].add = r;
      f[i].residual = res;
      y = g->nodes[r].outputs[0];
      r = pare_graph_only_reader(g, y);
    }
    float lo, hi;
    if (r > i && g->nodes[r].inputs[0] == y && g->nodes[r].n_outputs >= 1 &&
        g->nodes[r].outputs[0] >= 0 && fusable_act(g, &g->nodes[r], &lo, &hi) >= 0) {
      f[i].act = r;
      y = g->nodes[r].outputs[0];
      r = pare_graph_only_reader(g, y);
    }
    pare_conv2d_pool pool;
    if (conv && !training && f[i].add < 0 && r > i && g->nodes[r].inputs[0] == y &&
        fusable_pool(p, &g->nodes[r], &pool))
      f[i].pool = r;
    f[i].out = y;
  }
}

pare_status pare_exec_cl_conv_geometry(const pare_plan *p, int idx, pare_conv2d_f32_args *a,
                                       pare_error *err) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  pare_tensor *in[3] = {NULL, NULL, NULL}, *out[1];
  for (int k = 0; k < n->n_inputs && k < 3; k++)
    in[k] = n->inputs[k] >= 0 ? &p->values[n->inputs[k]] : NULL;
  out[0] = &p->values[n->outputs[0]];
  pare_op_ctx ctx = {g, n, in, n->n_inputs < 3 ? n->n_inputs : 3, out, 1, err};
  pare_ref_conv_params cp;
  pare_status st = pare_op_conv_params(&ctx, &cp);
  if (st != PARE_OK) return st;
  const pare_tensor *x = in[0], *w = in[1];
  if (x->rank != 4 || !w || w->rank != 4)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (Conv): not 2-D", n->name);
  int64_t ks[2] = {w->dims[2], w->dims[3]}, od[2], pads[4];
  if (cp.win.kernel[0] == 0) cp.win.kernel[0] = ks[0], cp.win.kernel[1] = ks[1];
  if (pare_ref_window_out_dims(&cp.win, x->dims + 2, 0, od, pads) != PARE_REF_OK)
    return pare_error_set(err, PARE_ERR_FORMAT, "node '%s' (Conv): the window does not fit",
                          n->name);
  memset(a, 0, sizeof *a);
  a->act = PARE_CONV2D_ACT_NONE;
  a->n = (size_t)x->dims[0], a->c = (size_t)x->dims[1], a->h = (size_t)x->dims[2];
  a->w = (size_t)x->dims[3];
  a->m = (size_t)w->dims[0], a->kh = (size_t)ks[0], a->kw = (size_t)ks[1];
  a->group = (size_t)cp.group;
  a->stride_h = (size_t)cp.win.strides[0], a->stride_w = (size_t)cp.win.strides[1];
  a->dil_h = (size_t)cp.win.dilations[0], a->dil_w = (size_t)cp.win.dilations[1];
  a->pad_top = (size_t)pads[0], a->pad_left = (size_t)pads[1];
  a->pad_bottom = (size_t)pads[2], a->pad_right = (size_t)pads[3];
  a->oh = (size_t)od[0], a->ow = (size_t)od[1];
  return PARE_OK;
}

/* Grows a work buffer to `need` bytes (released and made anew: commands
 * already enqueued keep the old one alive until they finish). */
static pare_status grow(cl_state *s, cl_mem *buf, size_t *bytes, size_t need, pare_error *err) {
  if (need <= *bytes) return PARE_OK;
  if (*buf) s->rt->cl->clReleaseMemObject(*buf);
  *buf = NULL;
  *bytes = 0;
  pare_status st = pare_cl_buffer(s->rt, CL_MEM_READ_WRITE, need, NULL, buf, err);
  if (st == PARE_OK) *bytes = need;
  return st;
}

/* The current queue's scratch buffer, grown to `need` bytes. */
static pare_status scratch_for(cl_state *s, size_t need, pare_error *err) {
  return grow(s, &s->work[s->q].scratch, &s->work[s->q].scratch_bytes, need, err);
}

/* Device constants of node idx, made once (and again after
 * pare_exec_cl_value_changed on an input): for a Conv with a folded
 * BatchNormalization its new weight and bias, for a BatchNormalization its
 * scale and shift. */
static pare_status node_consts(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  if (s->consts[idx][0]) return PARE_OK;
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  const pare_node *bn = n->op == PARE_OP_CONV ? &g->nodes[s->fuse[idx].bn] : n;
  const pare_tensor *w = n->op == PARE_OP_CONV ? &p->values[n->inputs[1]] : NULL;
  int64_t c = w ? w->dims[0] : p->values[n->inputs[0]].dims[1];
  int64_t numel = w ? pare_tensor_numel(w) : c;
  const float *par[4];
  for (int k = 0; k < 4; k++) par[k] = pare_plan_const_f32(p, bn->inputs[1 + k], c);
  float eps = pare_node_attr_float(bn, "epsilon", 1e-5f);
  float *a = malloc(sizeof(float) * (size_t)(numel + 1)),
        *b = malloc(sizeof(float) * (size_t)(c + 1));
  pare_status st = a && b ? PARE_OK : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK && w) {
    int has_bias = n->n_inputs > 2 && n->inputs[2] >= 0;
    pare_bn_fold_f32(numel, c, 0, w->data,
                     has_bias ? pare_plan_const_f32(p, n->inputs[2], c) : NULL, par[0], par[1],
                     par[2], par[3], eps, a, b);
  } else if (st == PARE_OK) {
    pare_eltwise_fold_batchnorm((size_t)c, par[0], par[1], par[2], par[3], eps, a, b);
  }
  if (st == PARE_OK)
    st = pare_cl_buffer(s->rt, CL_MEM_READ_ONLY, sizeof(float) * (size_t)numel, a,
                        &s->consts[idx][0], err);
  if (st == PARE_OK)
    st = pare_cl_buffer(s->rt, CL_MEM_READ_ONLY, sizeof(float) * (size_t)c, b, &s->consts[idx][1],
                        err);
  free(a);
  free(b);
  return st;
}

static void release_consts(cl_state *s, int idx) {
  for (int b = 0; b < 3; b++) {
    if (s->consts[idx][b]) s->cl->clReleaseMemObject(s->consts[idx][b]);
    s->consts[idx][b] = NULL;
  }
  s->wino_checked[idx] = 0;
}

/* Inference BatchNormalization as its own launch (unfused runs). */
static pare_status run_batchnorm(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  int x = n->inputs[0], y = n->outputs[0];
  const pare_tensor *xt = &p->values[x];
  pare_status st = out_buffer(p, s, y, err);
  if (st == PARE_OK) st = to_device(p, s, x, err);
  if (st == PARE_OK) st = node_consts(p, s, idx, err);
  if (st != PARE_OK) return st;
  size_t planes = (size_t)(xt->dims[0] * xt->dims[1]);
  size_t inner = planes ? (size_t)pare_tensor_numel(xt) / planes : 0;
  return pare_launch_eltwise_affine_f32(s->rt, s->v[x].mem, s->consts[idx][0], s->consts[idx][1],
                                        (size_t)xt->dims[0], (size_t)xt->dims[1], inner,
                                        PARE_REF_ACT_NONE, 0.0f, 0.0f, s->v[y].mem, NULL, err);
}

/* The fp32 value QuantizeLinear q reads, and its pair's effect as
 * clamp(rint(x / scale), lo, hi)·scale. */
static void qdq_params(const pare_plan *p, const pare_node *q, int *x, float *scale, float *lo,
                       float *hi) {
  double sc, zp = 0;
  pare_plan_const_scalar(p, q, 1, &sc);
  if (q->n_inputs > 2 && q->inputs[2] >= 0) pare_plan_const_scalar(p, q, 2, &zp);
  int is_u8 = p->values[q->outputs[0]].dtype == PARE_DT_U8;
  *x = q->inputs[0];
  *scale = (float)sc;
  *lo = (float)((is_u8 ? 0 : -128) - (int32_t)zp);
  *hi = (float)((is_u8 ? 255 : 127) - (int32_t)zp);
}

/* A QuantizeLinear → DequantizeLinear pair as one kernel into the
 * DequantizeLinear's output. */
static pare_status run_fake_quant(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  int j = pare_exec_qdq_partner(p, n), x;
  if (j < 0) return pare_error_set(err, PARE_ERR_INTERNAL, "node '%s': no quantize pair", n->name);
  s->skip[j] = 1;
  int y = p->graph->nodes[j].outputs[0];
  float scale, lo, hi;
  qdq_params(p, n, &x, &scale, &lo, &hi);
  pare_status st = to_device(p, s, x, err);
  if (st == PARE_OK) st = out_buffer(p, s, y, err);
  if (st != PARE_OK) return st;
  return pare_launch_fake_quant_f32(s->rt, s->v[x].mem, s->v[y].mem,
                                    (size_t)pare_tensor_numel(&p->values[x]), scale, 0, (int32_t)lo,
                                    (int32_t)hi, NULL, err);
}

/* The convolution; with qdq >= 0 (the QuantizeLinear of an integer layer
 * run in float, whose pair feeds it) the pair is applied to its input in the
 * launch's own input copy where the plan takes it (the implicit GEMM), else
 * by a fake-quantization launch first. */
static pare_status decide_baked(pare_plan *p, cl_state *s, int idx, pare_error *err);

static pare_status run_conv_q(pare_plan *p, cl_state *s, int idx, int qdq, pare_error *err) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  const fusion *f = &s->fuse[idx];
  sparse_layer *L = &s->sparse[idx];
  if (L->baked_state == SPARSE_UNDECIDED && !p->evaluating) {
    pare_status st = decide_baked(p, s, idx, err);
    if (st != PARE_OK) return st;
  }
  pare_conv2d_f32_args a;
  pare_status st = pare_exec_cl_conv_geometry(p, idx, &a, err);
  if (st != PARE_OK) return st;
  if (L->baked.text && (L->baked_state == SPARSE_YES || s->baking == idx)) a.baked = &L->baked;
  a.act = fused_act(p, s, idx, &a.act_min, &a.act_max);
  pare_conv2d_pool pool;
  int pooled = f->pool >= 0 && fusable_pool(p, &g->nodes[f->pool], &pool) &&
               pare_conv2d_f32_can_pool(s->rt, &a, &pool);
  int x = n->inputs[0];
  if (qdq >= 0) {
    s->int8[idx].qdq_in_conv = pare_conv2d_f32_can_quantize_input(s->rt, &a, pooled ? &pool : NULL);
    if (s->int8[idx].qdq_in_conv) {
      a.in_quant = 1;
      qdq_params(p, &g->nodes[qdq], &x, &a.in_scale, &a.in_lo, &a.in_hi);
    } else {
      st = run_fake_quant(p, s, qdq, err);
      if (st != PARE_OK) return st;
    }
  }
  /* A fused node's output goes straight into the last absorbed node's
   * value; a pooling the launch can take, into the pooling's output. */
  int y = f->out;
  int has_bias = n->n_inputs > 2 && n->inputs[2] >= 0;
  if (f->pool >= 0) s->skip[f->pool] = (char)pooled;
  if (pooled) y = g->nodes[f->pool].outputs[0];
  st = out_buffer(p, s, y, err);
  if (st == PARE_OK) st = to_device(p, s, x, err);
  if (st == PARE_OK && f->residual >= 0) st = to_device(p, s, f->residual, err);
  if (st == PARE_OK && f->bn >= 0) {
    st = node_consts(p, s, idx, err);
    a.weight = s->consts[idx][0];
    a.bias = s->consts[idx][1];
  } else if (st == PARE_OK) {
    st = to_device(p, s, n->inputs[1], err);
    if (st == PARE_OK && has_bias) st = to_device(p, s, n->inputs[2], err);
    a.weight = s->v[n->inputs[1]].mem;
    a.bias = has_bias ? s->v[n->inputs[2]].mem : NULL;
  }
  if (st != PARE_OK) return st;
  a.x = s->v[x].mem;
  a.residual = f->residual >= 0 ? s->v[f->residual].mem : NULL;
  a.y = s->v[y].mem;
  size_t need = pare_conv2d_f32_pool_scratch_bytes(s->rt, &a, pooled ? &pool : NULL);
  st = scratch_for(s, need, err);
  if (st != PARE_OK) return st;
  a.scratch = need ? s->work[s->q].scratch : NULL;
  /* A launch on Winograd takes its transformed weights made once (looked
   * for again when tuned values change the plan). */
  unsigned version = s->rt->tuning_version + 1;
  if (!s->consts[idx][2] && s->wino_checked[idx] != version) {
    s->wino_checked[idx] = version;
    st = pare_conv2d_winograd_weights(s->rt, &a, pooled ? &pool : NULL, &s->consts[idx][2], err);
    if (st != PARE_OK) return st;
  }
  a.wino_u = s->consts[idx][2];
  return pooled ? pare_launch_conv2d_pool_f32(s->rt, &a, &pool, NULL, err)
                : pare_launch_conv2d_f32(s->rt, &a, NULL, err);
}

static pare_status run_conv(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  return run_conv_q(p, s, idx, -1, err);
}

/* run_conv with the layer's weights baked in (while it is being timed). */
static pare_status run_conv_baked(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  s->baking = idx;
  pare_status st = run_conv_q(p, s, idx, -1, err);
  s->baking = -1;
  return st;
}

/* Binds a node's plan tensors to an op context (inputs/outputs up to 8). */
static void bind_ctx(pare_plan *p, const pare_node *n, pare_tensor **in, pare_tensor **out,
                     pare_op_ctx *ctx, pare_error *err) {
  int ni = n->n_inputs < 8 ? n->n_inputs : 8, no = n->n_outputs < 8 ? n->n_outputs : 8;
  for (int k = 0; k < ni; k++) in[k] = n->inputs[k] >= 0 ? &p->values[n->inputs[k]] : NULL;
  for (int k = 0; k < no; k++) out[k] = n->outputs[k] >= 0 ? &p->values[n->outputs[k]] : NULL;
  *ctx = (pare_op_ctx){p->graph, n, in, ni, out, no, err};
}

/* Unary activations, elementwise arithmetic, pooling and softmax. */
static pare_status run_simple(pare_plan *p, cl_state *s, const pare_node *n, pare_error *err) {
  pare_tensor *in[8], *out[8];
  pare_op_ctx ctx;
  bind_ctx(p, n, in, out, &ctx, err);
  int x = n->inputs[0], y = n->outputs[0];
  pare_status st = to_device(p, s, x, err);
  if (st == PARE_OK) st = out_buffer(p, s, y, err);
  if (st != PARE_OK) return st;
  cl_mem xm = s->v[x].mem, ym = s->v[y].mem;
  const pare_tensor *xt = &p->values[x];
  switch (n->op) {
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV:
  case PARE_OP_POW:
  case PARE_OP_MAX:
  case PARE_OP_MIN:
  case PARE_OP_SUM:
  case PARE_OP_PRELU: {
    int b = n->inputs[1];
    st = to_device(p, s, b, err);
    if (st != PARE_OK) return st;
    pare_tensor bt = p->values[b];
    int op = n->op == PARE_OP_SUB     ? PARE_REF_SUB
             : n->op == PARE_OP_MUL   ? PARE_REF_MUL
             : n->op == PARE_OP_DIV   ? PARE_REF_DIV
             : n->op == PARE_OP_POW   ? PARE_REF_POW
             : n->op == PARE_OP_MAX   ? PARE_REF_MAX
             : n->op == PARE_OP_MIN   ? PARE_REF_MIN
             : n->op == PARE_OP_PRELU ? PARE_ELT_PRELU
                                      : PARE_REF_ADD;
    if (n->op == PARE_OP_PRELU && bt.rank == 1 && xt->rank > 2 && bt.dims[0] == xt->dims[1] &&
        xt->dims[xt->rank - 1] != bt.dims[0]) /* per-channel slope of NCHW, as the reference */
      for (int i = 0; i < xt->rank - 2; i++) bt.dims[bt.rank++] = 1;
    return pare_launch_eltwise_binary_f32(s->rt, op, xm, xt->rank, xt->dims, s->v[b].mem, bt.rank,
                                          bt.dims, ym, NULL, err);
  }
  case PARE_OP_MAX_POOL:
  case PARE_OP_AVERAGE_POOL: {
    pare_ref_pool_params pp;
    st = pare_op_pool_params(&ctx, &pp);
    if (st != PARE_OK) return st;
    return pare_launch_pool2d_f32(s->rt, n->op == PARE_OP_MAX_POOL, &pp, xt->dims, xm, ym, NULL,
                                  err);
  }
  case PARE_OP_GLOBAL_AVERAGE_POOL:
  case PARE_OP_GLOBAL_MAX_POOL: {
    size_t planes = (size_t)(xt->dims[0] * xt->dims[1]);
    size_t spatial = planes ? (size_t)pare_tensor_numel(xt) / planes : 0;
    return pare_launch_global_pool_f32(s->rt, n->op == PARE_OP_GLOBAL_MAX_POOL, planes, spatial, xm,
                                       ym, NULL, err);
  }
  case PARE_OP_SOFTMAX:
  case PARE_OP_LOG_SOFTMAX: {
    int legacy, axis = pare_op_softmax_axis(&ctx, &legacy);
    if (axis < 0) axis += xt->rank;
    size_t cols = 1;
    for (int d = axis; d < xt->rank; d++) cols *= (size_t)xt->dims[d];
    size_t rows = cols ? (size_t)pare_tensor_numel(xt) / cols : 0;
    return pare_launch_softmax_f32(s->rt, n->op == PARE_OP_LOG_SOFTMAX, rows, cols, xm, ym, NULL,
                                   err);
  }
  default: {
    pare_ref_act act = PARE_REF_ACT_NONE;
    float a = 0, b = 0;
    st = pare_op_activation(&ctx, &act, &a, &b);
    if (st != PARE_OK) return st;
    return pare_launch_eltwise_unary_f32(s->rt, act, a, b, xm, ym, (size_t)pare_tensor_numel(xt),
                                         NULL, err);
  }
  }
}

/* Output shares the input's buffer: a view with another shape. */
static pare_status run_alias(pare_plan *p, cl_state *s, const pare_node *n, pare_error *err) {
  int x = n->inputs[0], y = n->outputs[0];
  pare_status st = to_device(p, s, x, err);
  if (st != PARE_OK) return st;
  s->used[y] = 1;
  if (s->arena && s->arena_buffer[y] >= 0 && s->arena_buffer[x] >= 0 &&
      s->arena_buffer[y] != s->arena_buffer[x]) {
    /* The plan gave y a region of its own (x's ends here): a copy. */
    size_t bytes = p->values[x].nbytes;
    if ((st = out_buffer(p, s, y, err)) != PARE_OK) return st;
    if (bytes > p->values[y].nbytes) bytes = p->values[y].nbytes;
    cl_int rc = bytes ? s->cl->clEnqueueCopyBuffer(s->rt->queue, s->v[x].mem, s->v[y].mem, 0, 0,
                                                   bytes, 0, NULL, NULL)
                      : CL_SUCCESS;
    if (rc != CL_SUCCESS)
      return pare_error_set(err, PARE_ERR_OPENCL, "node '%s': copying its input failed (%d)",
                            n->name, (int)rc);
    return PARE_OK;
  }
  if (s->v[y].mem) s->rt->cl->clReleaseMemObject(s->v[y].mem);
  s->rt->cl->clRetainMemObject(s->v[x].mem);
  s->v[y].mem = s->v[x].mem;
  s->v[y].dev_valid = 1;
  s->v[y].host_valid = 0;
  p->values[y].nbytes = p->values[x].nbytes;
  return PARE_OK;
}

/* Concat: each input copied into its slab of the output, `outer` rows
 * (the dimensions before the axis) of its own length into the output's
 * rows. (A kernel, not clEnqueueCopyBufferRect: PoCL 3.1 crashes on that
 * between sub-buffers, which the arena's values are.) */
static pare_status run_concat(pare_plan *p, cl_state *s, const pare_node *n, pare_error *err) {
  const pare_tensor *yt = &p->values[n->outputs[0]];
  int axis = (int)pare_node_attr_int(n, "axis", 0);
  if (axis < 0) axis += yt->rank;
  size_t outer = 1, y_row = 1, at = 0;
  for (int d = 0; d < yt->rank; d++) *(d < axis ? &outer : &y_row) *= (size_t)yt->dims[d];
  pare_status st = out_buffer(p, s, n->outputs[0], err);
  for (int k = 0; k < n->n_inputs && st == PARE_OK; k++) {
    int x = n->inputs[k];
    const pare_tensor *xt = &p->values[x];
    size_t row = 1;
    for (int d = axis; d < xt->rank; d++) row *= (size_t)xt->dims[d];
    if (!row || !outer) continue;
    st = to_device(p, s, x, err);
    if (st != PARE_OK) break;
    st = pare_launch_copy_rows_f32(s->rt, s->v[x].mem, outer, row, s->v[n->outputs[0]].mem, y_row,
                                   at, NULL, err);
    at += row;
  }
  return st;
}

static pare_status run_reference_node(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  pare_tensor *in[64], *out[64];
  if (n->n_inputs > 64 || n->n_outputs > 64)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s': too many inputs", n->name);
  for (int k = 0; k < n->n_inputs; k++) {
    in[k] = NULL;
    if (n->inputs[k] < 0) continue;
    pare_status st = to_host(p, s, n->inputs[k], err);
    if (st != PARE_OK) return st;
    in[k] = &p->values[n->inputs[k]];
  }
  for (int k = 0; k < n->n_outputs; k++) {
    out[k] = NULL;
    if (n->outputs[k] < 0) continue;
    out[k] = &p->values[n->outputs[k]];
    pare_status st = pare_tensor_alloc(out[k], err);
    if (st != PARE_OK) return st;
    s->v[n->outputs[k]].host_valid = 1;
    s->v[n->outputs[k]].dev_valid = 0;
  }
  pare_op_ctx ctx = {p->graph, n, in, n->n_inputs, out, n->n_outputs, err};
  return pare_op_impl_get(n->op)->run(&ctx);
}

/* ---- the integer path ----------------------------------------------------- */

/* Marks each Conv, Gemm and MatMul that runs on the integer kernels (see
 * exec_int8.h) and the QuantizeLinear/DequantizeLinear pair it absorbs.
 * Only where fusing is on, for inference plans, and when nothing but a
 * Relu or Clip is fused into the layer. */
static void find_int8_layers(const pare_plan *p, cl_state *s) {
  const pare_graph *g = p->graph;
  if (!pare_plan_fuses(p) || (p->flags & PARE_PLAN_KEEP_PARAMS)) return;
  for (int i = 0; i < g->n_nodes; i++) {
    const fusion *f = &s->fuse[i];
    if (f->bn >= 0 || f->add >= 0 || !pare_exec_cl_supports(p, &g->nodes[i])) continue;
    /* The pair's output has this layer as its only reader (the match
     * checks it), so no two layers claim one pair. */
    pare_int8_layer *L = &s->int8[i];
    if (pare_int8_layer_match(p, i, L)) s->absorbed[L->q] = s->absorbed[L->dq] = 1;
  }
}

static pare_status run_int8(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  pare_int8_layer *L = &s->int8[idx];
  float lo, hi;
  int act = fused_act(p, s, idx, &lo, &hi), y = s->fuse[idx].out;
  if (act == PARE_GEMM_ACT_RELU) lo = 0.0f, hi = INFINITY;
  const int64_t count = pare_tensor_numel(&p->values[L->x]);
  if (count <= 0 || pare_tensor_numel(&p->values[y]) <= 0) return PARE_OK;
  pare_conv2d_f32_args geom;
  pare_status st = PARE_OK;
  if (n->op == PARE_OP_CONV) st = pare_exec_cl_conv_geometry(p, idx, &geom, err);
  if (st == PARE_OK) st = out_buffer(p, s, y, err);
  if (st == PARE_OK) st = to_device(p, s, L->x, err);
  /* The quantized input goes to the scratch buffer (no fp32 convolution
   * runs in between to need it). */
  if (st == PARE_OK) st = scratch_for(s, (size_t)count, err);
  if (st != PARE_OK) return st;
  return pare_int8_layer_run(s->rt, L, n->op == PARE_OP_CONV ? &geom : NULL, (size_t)count / L->k,
                             s->v[L->x].mem, (size_t)count, s->work[s->q].scratch, s->v[y].mem,
                             act != PARE_GEMM_ACT_NONE, lo, hi, err);
}

int pare_exec_cl_int8_nodes(const pare_plan *p) {
  const cl_state *s = p->device;
  int count = 0;
  for (int i = 0; s && i < s->n_nodes; i++) count += s->int8[i].n && s->int8[i].chosen > 0;
  return count;
}

int pare_exec_cl_qdq_conv_nodes(const pare_plan *p) {
  const cl_state *s = p->device;
  int count = 0;
  for (int i = 0; s && i < s->n_nodes; i++) count += s->int8[i].n && s->int8[i].qdq_in_conv;
  return count;
}

const char *pare_exec_cl_node_form(const pare_plan *p, int i) {
  const cl_state *s = p->device;
  if (!pare_exec_cl_supports(p, &p->graph->nodes[i]) && !(s && (s->absorbed[i] || s->skip[i])))
    return "reference";
  if (!s) return "opencl";
  if (s->absorbed[i] || s->skip[i]) return "absorbed";
  if (s->int8[i].n && s->int8[i].chosen > 0) return "int8";
  if (s->sparse[i].state == SPARSE_YES) return s->sparse[i].nm ? "sparse N:M" : "sparse";
  if (s->sparse[i].baked_state == SPARSE_YES) return "baked";
  return "opencl";
}

static pare_status measured_speedup(pare_plan *p, cl_state *s, int idx, const char *key,
                                    node_fn base, node_fn alt, const char *what, double *speedup,
                                    pare_error *err);

/* The float form of an integer layer, for timing: fake quantization, then
 * the dense fp32 kernel. */
static pare_status run_int8_as_float(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  /* (Timed before the layer's sparse choice, so always with the separate
   * fake quantization, which a Conv on the implicit GEMM later saves.) */
  pare_status st = run_fake_quant(p, s, s->int8[idx].q, err);
  if (st != PARE_OK) return st;
  return p->graph->nodes[idx].op == PARE_OP_CONV ? run_conv(p, s, idx, err)
                                                 : run_gemm(p, s, idx, err);
}

/* Chooses the form of integer layer idx on its first run: the one that
 * measured faster for this shape (looked up in, or else measured into, the
 * tuning database; PARE_INT8=always takes the integer form untimed, float
 * the float form). A
 * failure of the integer kernels keeps the float form. */
static pare_status decide_int8(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  pare_int8_layer *L = &s->int8[idx];
  const pare_node *n = &p->graph->nodes[idx];
  const pare_tensor *x = &p->values[L->x];
  char key[192];
  int len = snprintf(key, sizeof key, "int8.%s:x=", n->op == PARE_OP_CONV ? "conv" : "fc");
  for (int d = 0; d < x->rank && len < 120; d++)
    len += snprintf(key + len, sizeof key - (size_t)len, "%s%lld", d ? "x" : "",
                    (long long)x->dims[d]);
  snprintf(key + len, sizeof key - (size_t)len, ",w=%zux%zu", L->n, L->k);
  const char *mode = pare_env("PARE_INT8"); /* always: integer, float: float, else timed */
  double speedup = mode && !strcmp(mode, "float") ? 0.0 : 2.0;
  if (!(mode && (!strcmp(mode, "always") || !strcmp(mode, "float")))) {
    pare_status st =
        measured_speedup(p, s, idx, key, run_int8_as_float, run_int8, "integer", &speedup, err);
    if (st != PARE_OK) return st;
  }
  L->chosen = speedup > 1.0 ? 1 : -1;
  return PARE_OK;
}

/* ---- the sparse path ------------------------------------------------------ */

/* Layers with more nonzeros than this are not timed: a sparse kernel
 * cannot win there on any device pare knows (the choice itself is measured). */
#define SPARSE_MAX_DENSITY 0.7

/* The weight of node idx as an [outputs × inputs] matrix (a copy), when the
 * node can take the sparse path: Gemm without transA, alpha 1 and a bias
 * vector (or none) at beta 1; MatMul with a 2-D constant B; Conv with
 * groups 1 and no BatchNormalization or residual fused; nothing fused but
 * a Relu. NULL otherwise. */
static float *sparse_weight(const pare_plan *p, const cl_state *s, int idx, size_t *m, size_t *k) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  if (n->n_inputs < 2 || n->inputs[1] < 0) return NULL;
  const pare_tensor *w = &p->values[n->inputs[1]];
  if (!w->is_const || w->dtype != PARE_DT_F32 || !w->data) return NULL;
  int transposed = 0;
  const fusion *f = &s->fuse[idx];
  if (f->bn >= 0 || f->add >= 0 || (f->act >= 0 && g->nodes[f->act].op != PARE_OP_RELU))
    return NULL;
  if (n->op == PARE_OP_CONV) {
    if (w->rank != 4 || pare_node_attr_int(n, "group", 1) != 1) return NULL;
    *m = (size_t)w->dims[0];
    *k = (size_t)(w->dims[1] * w->dims[2] * w->dims[3]);
  } else {
    if (w->rank != 2) return NULL;
    if (n->op == PARE_OP_GEMM) {
      if (pare_node_attr_int(n, "transA", 0) || pare_node_attr_float(n, "alpha", 1.0f) != 1.0f)
        return NULL;
      if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        const pare_tensor *c = &p->values[n->inputs[2]];
        int64_t outs = pare_node_attr_int(n, "transB", 0) ? w->dims[0] : w->dims[1];
        if (!c->is_const || pare_tensor_numel(c) != outs ||
            pare_node_attr_float(n, "beta", 1.0f) != 1.0f)
          return NULL;
      }
      transposed = !pare_node_attr_int(n, "transB", 0);
    } else {
      transposed = 1;
    }
    *m = (size_t)(transposed ? w->dims[1] : w->dims[0]);
    *k = (size_t)(transposed ? w->dims[0] : w->dims[1]);
  }
  float *out = malloc(sizeof(float) * (*m) * (*k) + 1);
  const float *src = w->data;
  for (size_t r = 0; out && r < *m; r++)
    for (size_t c = 0; c < *k; c++)
      out[r * *k + c] = transposed ? src[c * *m + r] : src[r * *k + c];
  return out;
}

/* The sparse product of layer L in its chosen format. */
static pare_status launch_sparse(cl_state *s, const sparse_layer *L, const pare_sparse_f32_args *a,
                                 pare_error *err) {
  return L->nm ? pare_launch_sparse_nm_f32(s->rt, &L->nmw, a, NULL, err)
               : pare_launch_sparse_csr_f32(s->rt, &L->w, a, NULL, err);
}

static pare_status run_sparse_fc(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_node *n = &p->graph->nodes[idx];
  const sparse_layer *L = &s->sparse[idx];
  const pare_tensor *x = &p->values[n->inputs[0]];
  const size_t wm = L->nm ? L->nmw.m : L->w.m, wk = L->nm ? L->nmw.k : L->w.k;
  size_t rows = wk ? (size_t)pare_tensor_numel(x) / wk : 0;
  if (!rows || !wm) return PARE_OK;
  int relu = s->fuse[idx].act >= 0;
  pare_status st = out_buffer(p, s, s->fuse[idx].out, err);
  if (st == PARE_OK) st = to_device(p, s, n->inputs[0], err);
  int has_bias = n->op == PARE_OP_GEMM && n->n_inputs > 2 && n->inputs[2] >= 0;
  if (st == PARE_OK && has_bias) st = to_device(p, s, n->inputs[2], err);
  if (st != PARE_OK) return st;
  cl_mem x_mem = s->v[n->inputs[0]].mem, y_mem = s->v[s->fuse[idx].out].mem;
  cl_mem bias = has_bias ? s->v[n->inputs[2]].mem : NULL;
  if (rows == 1) { /* a sparse matrix-vector product: no layout to change */
    pare_sparse_f32_args a = {1, x_mem, 0, 1, 1, y_mem, 0, 1, 1, bias, relu};
    return launch_sparse(s, L, &a, err);
  }
  /* Y[rows × m] = X·Wᵀ as Yᵀ = W·Xᵀ with Xᵀ and Yᵀ row-major, so that the
   * kernel reads and writes whole vectors along the batch; two transposes
   * around it cost far less than gathering X column by column. */
  size_t xt_bytes = sizeof(float) * rows * wk, yt_bytes = sizeof(float) * rows * wm;
  struct work_buffers *w = &s->work[s->q];
  st = scratch_for(s, xt_bytes, err);
  if (st == PARE_OK) st = grow(s, &w->sparse_out, &w->sparse_out_bytes, yt_bytes, err);
  if (st == PARE_OK)
    st = pare_launch_transpose2d_f32(s->rt, x_mem, 1, rows, wk, w->scratch, NULL, err);
  pare_sparse_f32_args a = {rows, w->scratch, 0, rows, 1, w->sparse_out, 0, rows, 1, bias, relu};
  if (st == PARE_OK) st = launch_sparse(s, L, &a, err);
  if (st == PARE_OK)
    st = pare_launch_transpose2d_f32(s->rt, w->sparse_out, 1, wm, rows, y_mem, NULL, err);
  return st;
}

static pare_status run_sparse_conv(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  const pare_graph *g = p->graph;
  const pare_node *n = &g->nodes[idx];
  pare_conv2d_f32_args a;
  pare_status st = pare_exec_cl_conv_geometry(p, idx, &a, err);
  if (st != PARE_OK) return st;
  int relu = s->fuse[idx].act >= 0, y = s->fuse[idx].out;
  int has_bias = n->n_inputs > 2 && n->inputs[2] >= 0;
  st = out_buffer(p, s, y, err);
  if (st == PARE_OK) st = to_device(p, s, n->inputs[0], err);
  if (st == PARE_OK && has_bias) st = to_device(p, s, n->inputs[2], err);
  if (st != PARE_OK) return st;
  pare_sparse_conv c = {a.n,        a.c,          a.h,         a.w,        a.m,
                        a.kh,       a.kw,         a.stride_h,  a.stride_w, a.pad_top,
                        a.pad_left, a.pad_bottom, a.pad_right, a.dil_h,    a.dil_w};
  return pare_launch_sparse_conv_f32(s->rt, &c, &s->sparse[idx].w, s->v[n->inputs[0]].mem,
                                     has_bias ? s->v[n->inputs[2]].mem : NULL, relu, s->v[y].mem,
                                     NULL, err);
}

/* One timed run of node idx in milliseconds, its work finished. */
static pare_status time_once(pare_plan *p, cl_state *s, int idx, node_fn run, double *ms,
                             pare_error *err) {
  double t0 = pare_now();
  pare_status st = run(p, s, idx, err);
  if (st == PARE_OK) st = pare_cl_finish(s->rt, err);
  *ms = (pare_now() - t0) * 1e3;
  return st;
}

/* The speed-up of running node idx with `alt` instead of `base`: looked up
 * in the tuning database under key, else measured and stored there. The
 * two run in pairs, alternating which goes first, after a warm-up run of
 * each (the first builds the kernels); the speed-up is the median of the
 * pairs' ratios, so that a change in the machine's load between the
 * pairs (other processes, a frequency step) moves both sides of a ratio
 * alike. A failure of `alt` gives 0, with a warning once that the `what`
 * kernels failed; a failure of `base` is the error returned. */
static pare_status measured_speedup(pare_plan *p, cl_state *s, int idx, const char *key,
                                    node_fn base, node_fn alt, const char *what, double *speedup,
                                    pare_error *err) {
  enum { PAIRS = 9 };
  if (pare_tuning_get(s->rt, key, speedup)) return PARE_OK;
  double ratio[PAIRS], base_ms = 0, alt_ms = 0;
  pare_error e = {0};
  pare_status st = time_once(p, s, idx, base, &base_ms, err);
  if (st != PARE_OK) return st;
  pare_status alt_st = time_once(p, s, idx, alt, &alt_ms, &e);
  for (int r = 0; r < PAIRS && st == PARE_OK && alt_st == PARE_OK; r++) {
    if (r & 1) alt_st = time_once(p, s, idx, alt, &alt_ms, &e);
    if (alt_st == PARE_OK) st = time_once(p, s, idx, base, &base_ms, err);
    if (!(r & 1) && st == PARE_OK) alt_st = time_once(p, s, idx, alt, &alt_ms, &e);
    ratio[r] = alt_ms > 0 ? base_ms / alt_ms : 0;
  }
  if (st != PARE_OK) return st;
  if (alt_st != PARE_OK) {
    pare_log_once(what, PARE_LOG_WARN, "%s kernels failed on node '%s' (%s); it runs without them",
                  what, p->graph->nodes[idx].name, e.text);
    *speedup = 0;
    return PARE_OK;
  }
  *speedup = pare_median(ratio, PAIRS);
  pare_tuning_put(s->rt, key, *speedup);
  return PARE_OK;
}

/* Chooses the path of node idx on its first run: dense unless its weight
 * is sparse enough to try and the sparse kernel measured faster for this
 * shape and nonzero count (looked up in, or else measured into, the
 * tuning database). A failure of the sparse kernels keeps the node dense. */
static pare_status decide_sparse(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  sparse_layer *L = &s->sparse[idx];
  L->state = SPARSE_NO;
  const char *mode = pare_env("PARE_SPARSE"); /* auto (default), always, never */
  if (mode && !strcmp(mode, "never")) return PARE_OK;
  int always = mode && !strcmp(mode, "always");
  const pare_node *n = &p->graph->nodes[idx];
  size_t m = 0, k = 0;
  float *w = sparse_weight(p, s, idx, &m, &k);
  if (!w) return PARE_OK;
  size_t nnz = 0;
  for (size_t i = 0; i < m * k; i++) nnz += w[i] != 0.0f;
  pare_csr h;
  memset(&h, 0, sizeof h);
  pare_error e = {0};
  int csr_ok = m * k > 0 && (double)nnz <= SPARSE_MAX_DENSITY * (double)(m * k) &&
               pare_csr_from_dense_f32(m, k, w, &h) == PARE_REF_SPARSE_OK &&
               pare_sparse_csr_upload(s->rt, &h, &L->w, &e) == PARE_OK;
  pare_csr_free(&h);
  /* A fully connected weight in a 2:4 or 4:8 pattern also has the N:M
   * kernel to try: values and positions, no row pointers. */
  static const size_t patterns[2][2] = {{2, 4}, {4, 8}};
  int nm_ok = 0;
  size_t nm_n = 0, nm_mg = 0;
  for (int t = 0; t < 2 && !nm_ok && n->op != PARE_OP_CONV && m * k > 0; t++) {
    pare_nm hn;
    memset(&hn, 0, sizeof hn);
    nm_n = patterns[t][0], nm_mg = patterns[t][1];
    nm_ok = k >= nm_mg && pare_nm_from_dense_f32(m, k, w, nm_n, nm_mg, &hn) == PARE_REF_SPARSE_OK &&
            pare_sparse_nm_upload(s->rt, &hn, &L->nmw, &e) == PARE_OK;
    pare_nm_free(&hn);
  }
  free(w);
  if (!csr_ok && !nm_ok) return PARE_OK;
  const pare_tensor *x = &p->values[n->inputs[0]];
  char shape[160];
  if (n->op == PARE_OP_CONV)
    snprintf(shape, sizeof shape, "conv:x=%lldx%lldx%lldx%lld,w=%zux%zu,nnz=%zu",
             (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
             (long long)x->dims[3], m, k, nnz);
  else
    snprintf(shape, sizeof shape, "fc:rows=%lld,w=%zux%zu,nnz=%zu",
             (long long)(pare_tensor_numel(x) / (int64_t)k), m, k, nnz);
  /* Each format against the dense kernels; the faster one above 1 wins
   * (without measuring, PARE_SPARSE=always takes N:M where it fits). */
  double speed[2] = {0, 0}; /* CSR, N:M */
  for (int f = 0; f < 2; f++) {
    if (!(f ? nm_ok : csr_ok)) continue;
    speed[f] = 2.0 + f;
    if (always) continue;
    char key[192];
    if (f)
      snprintf(key, sizeof key, "sparse_f32.nm%zu:%zu.%s", nm_n, nm_mg, shape);
    else
      snprintf(key, sizeof key, "sparse_f32.%s", shape);
    L->nm = f;
    pare_status st = measured_speedup(p, s, idx, key, n->op == PARE_OP_CONV ? run_conv : run_gemm,
                                      n->op == PARE_OP_CONV ? run_sparse_conv : run_sparse_fc,
                                      "sparse", &speed[f], err);
    if (st != PARE_OK) {
      pare_sparse_csr_release(s->rt, &L->w);
      pare_sparse_nm_release(s->rt, &L->nmw);
      return st;
    }
  }
  L->nm = speed[1] > speed[0];
  if (speed[L->nm] > 1.0) L->state = SPARSE_YES;
  if (L->state != SPARSE_YES || L->nm) pare_sparse_csr_release(s->rt, &L->w);
  if (L->state != SPARSE_YES || !L->nm) pare_sparse_nm_release(s->rt, &L->nmw);
  return PARE_OK;
}

/* Chooses, on a dense Conv's first run, whether its weights run baked
 * into the implicit GEMM's code: a constant fp32 weight of one group, at
 * least half zeros, with at most BAKED_MAX_NNZ nonzeros, when that
 * measured faster than the
 * weight buffer for this shape and nonzero count (looked up in, or else
 * measured into, the tuning database under "conv2d_baked.<shape>");
 * PARE_BAKE=always bakes without measuring, =never never bakes. A
 * failure to build or run it keeps the weight buffer. */
static pare_status decide_baked(pare_plan *p, cl_state *s, int idx, pare_error *err) {
  sparse_layer *L = &s->sparse[idx];
  L->baked_state = SPARSE_NO;
  const char *mode = pare_env("PARE_BAKE"); /* auto (default), always, never */
  if (L->state == SPARSE_YES || (mode && !strcmp(mode, "never")) ||
      p->graph->nodes[idx].op != PARE_OP_CONV)
    return PARE_OK;
  const pare_tensor *wt = &p->values[p->graph->nodes[idx].inputs[1]];
  size_t m = 0, k = 0;
  float *w = wt->rank == 4 ? sparse_weight(p, s, idx, &m, &k) : NULL;
  if (!w) return PARE_OK;
  size_t nnz = 0;
  for (size_t i = 0; i < m * k; i++) nnz += w[i] != 0.0f;
  /* One row per tile, or the two a fused 2x2 pooling needs. */
  int made =
      nnz <= BAKED_MAX_NNZ && 2 * nnz <= m * k &&
      pare_conv2d_baked_make(w, m, 1, (size_t)wt->dims[1], (size_t)wt->dims[2], (size_t)wt->dims[3],
                             s->fuse[idx].pool >= 0 ? 2 : 1, &L->baked) == 0;
  free(w);
  if (!made) return PARE_OK;
  const pare_tensor *x = &p->values[p->graph->nodes[idx].inputs[0]];
  char key[192];
  snprintf(key, sizeof key, "conv2d_baked.x=%lldx%lldx%lldx%lld,w=%zux%zu,nnz=%zu",
           (long long)x->dims[0], (long long)x->dims[1], (long long)x->dims[2],
           (long long)x->dims[3], m, k, nnz);
  double speed = 2.0;
  pare_status st =
      mode && !strcmp(mode, "always")
          ? PARE_OK
          : measured_speedup(p, s, idx, key, run_conv, run_conv_baked, "baked", &speed, err);
  if (st == PARE_OK && speed > 1.0)
    L->baked_state = SPARSE_YES;
  else
    pare_conv2d_baked_free(&L->baked);
  return st;
}

/* ---- the activations' arena ---------------------------------------------- */

/* The steps at which each node may run (memory_plan.c's spans): a node
 * fused into a Conv or Gemm runs in that node's launch or (a pooling the
 * convolution's path cannot take) at its own step; an integer layer may
 * run its QuantizeLinear/DequantizeLinear pair in its own launch; a
 * DequantizeLinear runs in its QuantizeLinear's fake-quantization launch. */
static void node_spans(const pare_plan *p, const cl_state *s, int *lo, int *hi) {
  const pare_graph *g = p->graph;
  for (int i = 0; i < g->n_nodes; i++) lo[i] = hi[i] = i;
  for (int i = 0; i < g->n_nodes; i++) {
    const fusion *f = &s->fuse[i];
    int members[4] = {f->bn, f->add, f->act, f->pool};
    for (int k = 0; k < 4; k++)
      if (members[k] >= 0 && i < lo[members[k]]) lo[members[k]] = i;
    if (s->int8[i].n) {
      int pair[2] = {s->int8[i].q, s->int8[i].dq};
      for (int k = 0; k < 2; k++)
        if (pair[k] >= 0 && i > hi[pair[k]]) hi[pair[k]] = i;
    }
    if (g->nodes[i].op == PARE_OP_QUANTIZE_LINEAR) {
      int j = pare_exec_qdq_partner(p, &g->nodes[i]);
      if (j >= 0 && i < lo[j]) lo[j] = i;
    }
  }
}

/* Lays the activations of an inference plan out in one device buffer
 * (PARE_PLAN_ARENA; PARE_NO_ARENA=1 turns it off): a region per buffer of
 * the memory plan, aligned as the device needs sub-buffers to be. A device
 * that refuses a region leaves a buffer per value; one that cannot give
 * the arena fails as any allocation does. */
static pare_status make_arena(pare_plan *p, cl_state *s, const char *skip,
                              const pare_queue_plan *qp, const pare_launch_desc *launch,
                              pare_error *err) {
  const pare_graph *g = p->graph;
  cl_uint align_bits = 0;
  if (!(p->flags & PARE_PLAN_ARENA) || (p->flags & PARE_PLAN_KEEP_PARAMS) ||
      pare_env_on("PARE_NO_ARENA") ||
      s->cl->clGetDeviceInfo(s->rt->device, CL_DEVICE_MEM_BASE_ADDR_ALIGN, sizeof align_bits,
                             &align_bits, NULL) != CL_SUCCESS)
    return PARE_OK;
  int *span = malloc(sizeof(int) * 2 * (size_t)(g->n_nodes + 1));
  if (!span) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  node_spans(p, s, span, span + g->n_nodes);
  if (qp) pare_queue_plan_spans(qp, launch, g->n_nodes, span, span + g->n_nodes);
  pare_memory_plan_opts o = {align_bits / 8, span, span + g->n_nodes, skip};
  pare_memory_plan mp;
  pare_status st = pare_memory_plan_build_ex(p, &o, &mp, err);
  free(span);
  if (st != PARE_OK) return st;
  s->arena_sub = calloc((size_t)mp.n_buffers + 1, sizeof(cl_mem));
  if (!s->arena_sub) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK && mp.planned)
    st = pare_cl_buffer(s->rt, CL_MEM_READ_WRITE, mp.planned, NULL, &s->arena, err);
  s->n_arena_sub = mp.n_buffers;
  int refused = !s->arena;
  for (int b = 0; st == PARE_OK && !refused && b < mp.n_buffers; b++) {
    cl_buffer_region r = {mp.buffer_offset[b], mp.buffer_size[b]};
    cl_int rc = CL_SUCCESS;
    if (r.size)
      s->arena_sub[b] = s->cl->clCreateSubBuffer(s->arena, CL_MEM_READ_WRITE,
                                                 CL_BUFFER_CREATE_TYPE_REGION, &r, &rc);
    refused = rc != CL_SUCCESS;
  }
  if (st == PARE_OK && !refused) {
    s->arena_buffer = mp.buffer;
    s->arena_offset = mp.buffer_offset;
    s->arena_size = mp.buffer_size;
    mp.buffer = NULL;
    mp.buffer_offset = mp.buffer_size = NULL;
    s->arena_bytes = mp.planned;
  } else { /* a buffer per value, as without the flag */
    drop_arena(s);
  }
  pare_memory_plan_free(&mp);
  return st;
}

/* After the first finished run, when every node's form is chosen, the
 * arena is laid out again without the values that run gave no device
 * memory (a Conv's output that its fused pooling never writes, a value
 * only host nodes read), and with the values of launches that may run
 * side by side on two queues (qp, NULL: one queue) apart. A value a later
 * run does need (a choice made again) gets a buffer of its own, as
 * without the arena. */
static pare_status replan_arena(pare_plan *p, cl_state *s, const pare_queue_plan *qp,
                                const pare_launch_desc *launch, pare_error *err) {
  const pare_graph *g = p->graph;
  char *skip = malloc((size_t)g->n_values + 1);
  if (!skip) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (int v = 0; v < g->n_values; v++) {
    skip[v] = !s->used[v];
    if (s->arena_buffer[v] >= 0 && s->v[v].mem) { /* a region of the old arena */
      s->cl->clReleaseMemObject(s->v[v].mem);
      s->v[v].mem = NULL;
      s->v[v].dev_valid = 0;
    }
  }
  drop_arena(s);
  s->replanned = 1;
  pare_status st = make_arena(p, s, skip, qp, launch, err);
  free(skip);
  return st;
}

/* ---- independent branches on two queues --------------------------------- */

/* A launch's work for balancing the queues: multiply-adds of a Conv, Gemm
 * or MatMul, else the elements it writes. */
static double launch_cost(const pare_plan *p, const pare_node *n) {
  double out = 0;
  for (int k = 0; k < n->n_outputs; k++)
    if (n->outputs[k] >= 0) out += (double)pare_tensor_numel(&p->values[n->outputs[k]]);
  const pare_tensor *x = &p->values[n->inputs[0]];
  const pare_tensor *w = n->n_inputs > 1 && n->inputs[1] >= 0 ? &p->values[n->inputs[1]] : NULL;
  if (n->op == PARE_OP_CONV && w && w->rank > 0 && w->dims[0] > 0)
    out *= (double)pare_tensor_numel(w) / (double)w->dims[0];
  else if ((n->op == PARE_OP_GEMM || n->op == PARE_OP_MATMUL) && x->rank > 0)
    out *= (double)x->dims[x->rank - 1];
  return out;
}

/* The plan's launches as the last run made them (its skip marks): what
 * each node does at its turn, the nodes it runs, and its work. */
static pare_launch_desc *launch_descs(const pare_plan *p, const cl_state *s) {
  const pare_graph *g = p->graph;
  pare_launch_desc *d = calloc((size_t)g->n_nodes + 1, sizeof *d);
  for (int i = 0; d && i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (p->node_folded[i] || s->skip[i] || s->absorbed[i]) continue;
    pare_launch_desc *l = &d[i];
    l->kind = pare_exec_cl_supports(p, n) ? PARE_LAUNCH_DEVICE : PARE_LAUNCH_HOST;
    l->cost = launch_cost(p, n);
    const fusion *f = &s->fuse[i];
    int pool = f->pool >= 0 && s->skip[f->pool] ? f->pool : -1;
    int q = s->int8[i].n ? s->int8[i].q : -1, dq = s->int8[i].n ? s->int8[i].dq : -1;
    int partner = n->op == PARE_OP_QUANTIZE_LINEAR ? pare_exec_qdq_partner(p, n) : -1;
    int members[PARE_QUEUE_PLAN_MAX_MEMBERS] = {i, f->bn, f->add, f->act, pool, q, dq, partner};
    for (int k = 0; k < PARE_QUEUE_PLAN_MAX_MEMBERS; k++)
      if (members[k] >= 0 && (k == 0 || l->kind == PARE_LAUNCH_DEVICE))
        l->members[l->n_members++] = members[k];
  }
  return d;
}

/* Per value, the bytes of the arena it occupies ({-1, -1}: memory of its
 * own); a layout op's output that shares its input's memory has its
 * input's. */
static int64_t (*arena_ranges(const pare_plan *p, const cl_state *s))[2] {
  const pare_graph *g = p->graph;
  int64_t(*r)[2] = malloc(sizeof *r * (size_t)(g->n_values + 1));
  for (int v = 0; r && v < g->n_values; v++) {
    int b = s->arena_buffer ? s->arena_buffer[v] : -1;
    r[v][0] = b >= 0 ? (int64_t)s->arena_offset[b] : -1;
    r[v][1] = b >= 0 ? (int64_t)(s->arena_offset[b] + s->arena_size[b]) : -1;
  }
  for (int i = 0; r && s->arena_buffer && i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (!is_alias_op(n->op) || p->node_folded[i]) continue;
    int x = n->inputs[0], y = n->outputs[0];
    if (s->arena_buffer[y] < 0 || s->arena_buffer[y] == s->arena_buffer[x])
      r[y][0] = r[x][0], r[y][1] = r[x][1];
  }
  return r;
}

/* 1 when runs should put independent branches on a second queue: where
 * the runtime allows two (host/runtime.h), never for plans that keep
 * parameters (training drives the executor node by node). */
static int want_two_queues(const pare_plan *p, const cl_state *s) {
  return !(p->flags & PARE_PLAN_KEEP_PARAMS) && s->rt->max_queues >= 2;
}

/* On the second run, when every node's form is chosen: the queue of each
 * launch, the arena laid out again (replan_arena) so that launches that
 * may run together do not share bytes, and the waits that layout needs. */
static pare_status plan_queues(pare_plan *p, cl_state *s, pare_error *err) {
  const pare_graph *g = p->graph;
  s->queues_planned = 1;
  pare_queue_plan_free(&s->qp);
  pare_queue_plan order = {0};
  pare_launch_desc *launch = NULL;
  char *consts = NULL;
  int64_t(*range)[2] = NULL;
  pare_status st = PARE_OK;
  if (want_two_queues(p, s)) {
    launch = launch_descs(p, s);
    consts = malloc((size_t)g->n_values + 1);
    if (!launch || !consts) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    for (int v = 0; st == PARE_OK && v < g->n_values; v++) consts[v] = p->values[v].is_const != 0;
    if (st == PARE_OK) st = pare_queue_plan_build(g, launch, NULL, consts, &order, err);
  }
  int two = st == PARE_OK && order.queues == 2;
  if (st == PARE_OK && s->arena) st = replan_arena(p, s, two ? &order : NULL, launch, err);
  if (st == PARE_OK && two) {
    range = arena_ranges(p, s);
    st = range ? pare_queue_plan_build(g, launch, (const int64_t(*)[2])range, consts, &s->qp, err)
               : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  if (st == PARE_OK && two) {
    int waits = 0;
    for (int i = 0; i < g->n_nodes; i++) waits += s->qp.wait_for[i] >= 0;
    pare_log(PARE_LOG_DEBUG, "two queues: %d launch(es) on the second, %d wait(s) between them",
             s->qp.n_branches, waits);
  }
  pare_queue_plan_free(&order);
  free(launch);
  free(consts);
  free(range);
  return st;
}

/* Before node i's launch in a two-queue run: its queue waits for the
 * other where the queue plan says, and becomes the one launches go to.
 * last[q]: the latest launch enqueued on queue q; seen[q]: the latest
 * launch of the other queue that q has waited for. */
static pare_status enter_queue(pare_plan *p, cl_state *s, int i, int *last, int *seen,
                               pare_error *err) {
  if (p->node_folded[i] || s->skip[i] || s->absorbed[i]) return PARE_OK;
  int q = s->qp.queue[i]; /* the plan's queue: the run's home one for 0, the other for 1 */
  pare_status st = pare_cl_use_queue(s->rt, q ^ s->home, err);
  if (st == PARE_OK && s->qp.wait_for[i] > seen[q]) {
    st = pare_cl_queue_after(s->rt, q ^ s->home, (1 - q) ^ s->home, err);
    seen[q] = last[1 - q];
  }
  s->q = q ^ s->home;
  last[q] = i;
  return st;
}

/* After a host node in a two-queue run: its outputs that live in the
 * arena go to the device now, on queue 0 after every launch before it,
 * where the queue plan counts their writing. */
static pare_status host_outputs_up(pare_plan *p, cl_state *s, int i, pare_error *err) {
  const pare_node *n = &p->graph->nodes[i];
  if (p->node_folded[i] || s->skip[i] || s->absorbed[i] || pare_exec_cl_supports(p, n))
    return PARE_OK;
  pare_status st = PARE_OK;
  for (int k = 0; k < n->n_outputs && st == PARE_OK; k++) {
    int v = n->outputs[k];
    if (v >= 0 && s->arena_buffer && s->arena_buffer[v] >= 0) st = to_device(p, s, v, err);
  }
  return st;
}

int pare_exec_cl_branch_nodes(const pare_plan *p) {
  const cl_state *s = p->device;
  return s && s->qp.queues == 2 ? s->qp.n_branches : 0;
}

size_t pare_exec_cl_arena_bytes(const pare_plan *p) {
  const cl_state *s = p->device;
  return s && s->arena ? s->arena_bytes : 0;
}

/* The plan's device state for rt, made on first use (or when rt or the
 * runtime changes). Constants start valid on the host only. */
static pare_status state_for(pare_plan *p, pare_cl_runtime *rt, cl_state **out, pare_error *err) {
  const pare_graph *g = p->graph;
  cl_state *s = p->device;
  if (s && s->rt_id != rt->id) {
    p->device_free(s);
    p->device = s = NULL;
  }
  if (s) s->rt = rt;
  if (!s) {
    s = calloc(1, sizeof *s);
    if (s) s->v = calloc((size_t)g->n_values + 1, sizeof *s->v);
    if (!s || !s->v) {
      free(s);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    s->rt = rt;
    s->rt_id = rt->id;
    s->cl = rt->cl;
    s->context = rt->context;
    rt->cl->clRetainContext(rt->context);
    s->n = g->n_values;
    s->fuse = malloc(sizeof *s->fuse * (size_t)(g->n_nodes + 1));
    s->consts = calloc((size_t)g->n_nodes + 1, sizeof *s->consts);
    s->wino_checked = calloc((size_t)g->n_nodes + 1, sizeof *s->wino_checked);
    s->skip = calloc((size_t)g->n_nodes + 1, 1);
    s->sparse = calloc((size_t)g->n_nodes + 1, sizeof *s->sparse);
    s->baking = -1;
    s->int8 = calloc((size_t)g->n_nodes + 1, sizeof *s->int8);
    s->absorbed = calloc((size_t)g->n_nodes + 1, 1);
    s->used = calloc((size_t)g->n_values + 1, 1);
    s->n_nodes = g->n_nodes;
    if (!s->fuse || !s->consts || !s->wino_checked || !s->skip || !s->sparse || !s->int8 ||
        !s->absorbed || !s->used) {
      state_free(s);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    p->device = s;
    p->device_free = state_free;
    find_fusions(p, s->fuse);
    find_int8_layers(p, s);
    pare_status st = make_arena(p, s, NULL, NULL, NULL, err);
    if (st != PARE_OK) {
      p->device_free(s);
      p->device = NULL;
      return st;
    }
    for (int i = 0; i < g->n_values; i++) s->v[i].host_valid = p->values[i].is_const != 0;
  }
  *out = s;
  return PARE_OK;
}

pare_status pare_exec_cl_begin(pare_plan *p, pare_cl_runtime *rt, const pare_tensor *inputs,
                               int n_inputs, pare_error *err) {
  pare_plan_drop_arena(p); /* host copies of values must not share buffers here */
  const pare_graph *g = p->graph;
  if (n_inputs != g->n_inputs)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "the model takes %d input(s), %d given",
                          g->n_inputs, n_inputs);
  cl_state *s = NULL;
  pare_status st = state_for(p, rt, &s, err);
  if (st != PARE_OK) return st;
  /* Constants and folded values stay where they are between runs; the
   * rest is produced anew. */
  for (int i = 0; i < g->n_values; i++)
    if (!p->values[i].is_const) s->v[i].dev_valid = s->v[i].host_valid = 0;
  if (s->ran && !s->queues_planned) {
    st = plan_queues(p, s, err);
    if (st != PARE_OK) return st;
  }
  for (int i = 0; s->arena && i < g->n_values; i++) { /* each value in its region again */
    int b = s->arena_buffer[i];
    cl_mem sub = b >= 0 ? s->arena_sub[b] : NULL;
    if (!sub || s->v[i].mem == sub) continue;
    if (s->v[i].mem) s->cl->clReleaseMemObject(s->v[i].mem);
    s->cl->clRetainMemObject(sub);
    s->v[i].mem = sub;
  }
  memset(s->skip, 0, (size_t)g->n_nodes);
  for (int i = 0; i < n_inputs; i++) {
    int v = g->inputs[i];
    pare_tensor *t = &p->values[v];
    if (t->is_const) continue;
    if (inputs[i].rank != t->rank ||
        memcmp(inputs[i].dims, t->dims, sizeof(int64_t) * (size_t)t->rank))
      return pare_error_set(err, PARE_ERR_INVALID_ARG,
                            "input '%s': shape differs from the one the plan was made for",
                            g->values[v].name);
    st = pare_tensor_alloc(t, err);
    if (st != PARE_OK) return st;
    if (t->nbytes) memcpy(t->data, inputs[i].data, t->nbytes);
    s->v[v].host_valid = 1;
  }
  return PARE_OK;
}

pare_status pare_exec_cl_run_node(pare_plan *p, int i, pare_error *err) {
  cl_state *s = p->device;
  if (!s) return pare_error_set(err, PARE_ERR_INTERNAL, "pare_exec_cl_begin was not called");
  if (p->node_folded[i] || s->skip[i] || s->absorbed[i]) return PARE_OK;
  const pare_node *n = &p->graph->nodes[i];
  if (!pare_exec_cl_supports(p, n)) return run_reference_node(p, s, i, err);
  if (is_alias_op(n->op)) return run_alias(p, s, n, err);
  if (n->op == PARE_OP_CONCAT) return run_concat(p, s, n, err);
  const fusion *f = &s->fuse[i];
  int absorbed[3] = {f->bn, f->add, f->act};
  for (int k = 0; k < 3; k++)
    if (absorbed[k] >= 0) s->skip[absorbed[k]] = 1;
  if (s->int8[i].n) {
    if (!s->int8[i].chosen) {
      pare_status st = decide_int8(p, s, i, err);
      if (st != PARE_OK) return st;
    }
    if (s->int8[i].chosen > 0) return run_int8(p, s, i, err);
    /* The float form: a dense Conv (its sparse choice made) takes the
     * absorbed pair itself; anything else runs it as fake quantization
     * first. */
    if (n->op == PARE_OP_CONV && s->sparse[i].state == SPARSE_NO)
      return run_conv_q(p, s, i, s->int8[i].q, err);
    s->int8[i].qdq_in_conv = 0;
    pare_status st = run_fake_quant(p, s, s->int8[i].q, err);
    if (st != PARE_OK) return st;
  }
  if (n->op == PARE_OP_BATCH_NORM) return run_batchnorm(p, s, i, err);
  if (n->op == PARE_OP_CONV) {
    if (s->sparse[i].state == SPARSE_UNDECIDED) {
      pare_status st = decide_sparse(p, s, i, err);
      if (st != PARE_OK) return st;
    }
    return s->sparse[i].state == SPARSE_YES ? run_sparse_conv(p, s, i, err)
                                            : run_conv(p, s, i, err);
  }
  if (n->op == PARE_OP_QUANTIZE_LINEAR) return run_fake_quant(p, s, i, err);
  if (n->op == PARE_OP_GEMM || n->op == PARE_OP_MATMUL) {
    if (s->sparse[i].state == SPARSE_UNDECIDED) {
      pare_status st = decide_sparse(p, s, i, err);
      if (st != PARE_OK) return st;
    }
    return s->sparse[i].state == SPARSE_YES ? run_sparse_fc(p, s, i, err) : run_gemm(p, s, i, err);
  }
  return run_simple(p, s, n, err);
}

int pare_exec_cl_sparse_nodes(const pare_plan *p) {
  const cl_state *s = p->device;
  int count = 0;
  for (int i = 0; s && i < s->n_nodes; i++) count += s->sparse[i].state == SPARSE_YES;
  return count;
}

int pare_exec_cl_fused_nodes(const pare_plan *p) {
  const cl_state *s = p->device;
  int count = 0;
  for (int i = 0; s && i < s->n_nodes; i++)
    count += (s->fuse[i].bn >= 0) + (s->fuse[i].add >= 0) + (s->fuse[i].act >= 0) +
             (s->fuse[i].pool >= 0);
  return count;
}

cl_mem pare_exec_cl_device_value(pare_plan *p, int v, pare_error *err) {
  cl_state *s = p->device;
  if (!s) {
    pare_error_set(err, PARE_ERR_INTERNAL, "pare_exec_cl_begin was not called");
    return NULL;
  }
  return to_device(p, s, v, err) == PARE_OK ? s->v[v].mem : NULL;
}

cl_mem pare_exec_cl_output_value(pare_plan *p, int v, pare_error *err) {
  cl_state *s = p->device;
  if (!s) {
    pare_error_set(err, PARE_ERR_INTERNAL, "pare_exec_cl_begin was not called");
    return NULL;
  }
  return out_buffer(p, s, v, err) == PARE_OK ? s->v[v].mem : NULL;
}

pare_status pare_exec_cl_host_value(pare_plan *p, int v, pare_error *err) {
  cl_state *s = p->device;
  if (!s) return pare_error_set(err, PARE_ERR_INTERNAL, "pare_exec_cl_begin was not called");
  return to_host(p, s, v, err);
}

void pare_exec_cl_value_changed(pare_plan *p, int v, int on_device) {
  cl_state *s = p->device;
  if (!s) return;
  s->v[v].dev_valid = on_device != 0;
  s->v[v].host_valid = on_device == 0;
  if (s->v[v].scaled) s->cl->clReleaseMemObject(s->v[v].scaled);
  s->v[v].scaled = NULL;
  /* A weight that changes (training) leaves the sparse path for good;
   * constants made from it are made again. */
  const pare_graph *g = p->graph;
  for (int i = 0; i < s->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (n->n_inputs > 1 && n->inputs[1] == v) {
      pare_sparse_csr_release(s->rt, &s->sparse[i].w);
      pare_sparse_nm_release(s->rt, &s->sparse[i].nmw);
      s->sparse[i].state = SPARSE_NO;
      pare_conv2d_baked_free(&s->sparse[i].baked);
      s->sparse[i].baked_state = SPARSE_NO;
    }
    int bn = s->fuse[i].bn;
    for (int k = 1; k < n->n_inputs; k++) /* weights, biases, statistics */
      if (n->inputs[k] == v) release_consts(s, i);
    for (int k = 1; bn >= 0 && k < g->nodes[bn].n_inputs; k++)
      if (g->nodes[bn].inputs[k] == v) release_consts(s, i);
  }
}

/* After a failure: every queue waited for, so that no transfer still in
 * flight writes or reads host memory the caller is about to free (the
 * reference fallback releases the plan's tensors). A failed wait is tried
 * once more. */
static void drain(pare_cl_runtime *rt) {
  pare_error ignored;
  if (pare_cl_finish_all(rt, &ignored) != PARE_OK) pare_cl_finish_all(rt, &ignored);
}

/* pare_plan_run_cl_start; with allow_async 0 the run is always waited for
 * (pare_plan_run_cl: nothing would overlap it). */
static pare_status run_start(pare_plan *p, pare_cl_runtime *rt, int home, int allow_async,
                             const pare_tensor *inputs, int n_inputs, pare_error *err) {
  const pare_graph *g = p->graph;
  if (home < 0 || home > 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "queue %d: a run's home queue is 0 or 1",
                          home);
  cl_state *s = p->device;
  if (s && s->pending)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "the plan's last run was not waited for");
  pare_status st = pare_exec_cl_begin(p, rt, inputs, n_inputs, err);
  if (st != PARE_OK) return st;
  s = p->device;
  /* Without waiting once every choice is made (the first run times them),
   * and not while timing each node. */
  int async = allow_async && s->ran && !p->node_ms;
  /* Independent branches side by side (not while timing each node). */
  int two = s->qp.queues == 2 && !p->node_ms;
  s->home = async ? home : 0;
  s->async_upload = async;
  int last[2] = {-1, -1}, seen[2] = {-1, -1};
  st = pare_cl_use_queue(rt, s->home, err);
  s->q = s->home;
  if (async) {
    /* The inputs first, on the home queue (their writes no longer wait),
     * and the other queue after them: its launches do not wait for the
     * home queue where the queue plan sees no reason to. */
    for (int i = 0; i < g->n_inputs && st == PARE_OK; i++) {
      int v = g->inputs[i];
      if (!p->values[v].is_const && s->used[v]) st = to_device(p, s, v, err);
    }
    if (two && st == PARE_OK) st = pare_cl_use_queue(rt, 1 - s->home, err);
    if (two && st == PARE_OK) st = pare_cl_queue_after(rt, 1 - s->home, s->home, err);
  }
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    double t0 = p->node_ms ? pare_now() : 0;
    if (two) st = enter_queue(p, s, i, last, seen, err);
    if (st == PARE_OK) st = pare_exec_cl_run_node(p, i, err);
    if (two && st == PARE_OK) st = host_outputs_up(p, s, i, err);
    if (p->node_ms && st == PARE_OK) { /* the node's work done, not just enqueued */
      st = pare_cl_finish(rt, err);
      p->node_ms[i] += (pare_now() - t0) * 1e3;
    }
  }
  if (async && st == PARE_OK) {
    /* The outputs read back on the home queue after every launch. */
    if (two) st = pare_cl_use_queue(rt, s->home, err);
    if (two && st == PARE_OK) st = pare_cl_queue_after(rt, s->home, 1 - s->home, err);
    for (int i = 0; i < g->n_outputs && st == PARE_OK; i++) {
      int v = g->outputs[i];
      if (!s->v[v].host_valid) st = read_back(p, s, v, 0, err);
    }
    for (int q = 0; q < PARE_RT_QUEUES && st == PARE_OK; q++) st = pare_cl_flush_queue(rt, q, err);
    s->pending = st == PARE_OK;
  }
  s->async_upload = 0;
  if (!s->pending) { /* done here (or failed): every queue waited for */
    pare_error e2;
    pare_status fin = pare_cl_finish_all(rt, st == PARE_OK ? err : &e2);
    if (st == PARE_OK) st = fin;
    if (st != PARE_OK) drain(rt);
  }
  s->q = 0;
  pare_error e3;
  pare_status back = pare_cl_use_queue(rt, 0, st == PARE_OK ? err : &e3);
  return st == PARE_OK ? back : st;
}

pare_status pare_plan_run_cl_start(pare_plan *p, pare_cl_runtime *rt, int home,
                                   const pare_tensor *inputs, int n_inputs, pare_error *err) {
  return run_start(p, rt, home, 1, inputs, n_inputs, err);
}

pare_status pare_plan_run_cl_finish(pare_plan *p, pare_cl_runtime *rt, pare_tensor *outputs,
                                    pare_error *err) {
  const pare_graph *g = p->graph;
  cl_state *s = p->device;
  if (!s) return pare_error_set(err, PARE_ERR_INTERNAL, "pare_plan_run_cl_start was not called");
  pare_status st = PARE_OK;
  if (s->pending) { /* its queues: the home one, and the other for branches */
    st = pare_cl_finish_queue(rt, s->home, err);
    if (st == PARE_OK && s->qp.queues == 2) st = pare_cl_finish_queue(rt, 1 - s->home, err);
    for (int i = 0; i < g->n_outputs && st == PARE_OK; i++) s->v[g->outputs[i]].host_valid = 1;
    s->pending = 0;
    if (st != PARE_OK) drain(rt);
  }
  for (int i = 0; i < g->n_outputs && st == PARE_OK; i++) {
    int v = g->outputs[i];
    st = pare_exec_cl_host_value(p, v, err);
    if (st == PARE_OK) st = pare_tensor_copy(&p->values[v], &outputs[i], err);
  }
  if (st == PARE_OK) s->ran = 1;
  pare_tuning_flush(rt); /* what this run measured, in one write */
  return st;
}

pare_status pare_plan_run_cl(pare_plan *p, pare_cl_runtime *rt, const pare_tensor *inputs,
                             int n_inputs, pare_tensor *outputs, pare_error *err) {
  pare_status st = run_start(p, rt, 0, 0, inputs, n_inputs, err);
  if (st != PARE_OK) {
    pare_tuning_flush(rt);
    if (p->device) ((cl_state *)p->device)->pending = 0;
    return st;
  }
  return pare_plan_run_cl_finish(p, rt, outputs, err);
}
