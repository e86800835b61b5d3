/* Running a graph: tensors, the per-op table (shape function and
 * reference run function), and plans that bind a graph to concrete input
 * shapes, fold what is constant and run the rest. */
#ifndef PARE_ENGINE_EXEC_H
#define PARE_ENGINE_EXEC_H

#include "engine/graph/graph.h"
#include "engine/ref/ops.h"

typedef struct pare_tensor {
  pare_dtype dtype;
  int rank;
  int64_t dims[PARE_MAX_RANK];
  void *data;
  size_t nbytes;
  int owns;     /* 1: data is freed with the tensor; 2: it lies in its plan's arena */
  int is_const; /* known at plan time (initializer or folded) */
} pare_tensor;

int64_t pare_tensor_numel(const pare_tensor *t);
/* (Re)allocates t->data for its dtype and shape; contents undefined. */
pare_status pare_tensor_alloc(pare_tensor *t, pare_error *err);
void pare_tensor_release(pare_tensor *t);
/* dst becomes an owning copy of src (shape, dtype and data). */
pare_status pare_tensor_copy(const pare_tensor *src, pare_tensor *dst, pare_error *err);

/* What an op's functions see of one node. */
typedef struct pare_op_ctx {
  const pare_graph *graph;
  const pare_node *node;
  pare_tensor **in; /* NULL for an omitted optional input */
  int n_in;
  pare_tensor **out;
  int n_out;
  pare_error *err;
} pare_op_ctx;

/* Sets each output's dtype and shape (constant inputs have data). */
typedef pare_status (*pare_op_shape_fn)(pare_op_ctx *ctx);
/* Computes the outputs into allocated buffers with the reference code. */
typedef pare_status (*pare_op_run_fn)(pare_op_ctx *ctx);

typedef struct pare_op_impl {
  pare_op_shape_fn shape;
  pare_op_run_fn run;
} pare_op_impl;

/* The activation of a unary node and its two parameters (Clip's bounds
 * read from its inputs when present). */
pare_status pare_op_activation(pare_op_ctx *ctx, pare_ref_act *act, float *a, float *b);
/* MaxPool / AveragePool window from the node's attributes. */
pare_status pare_op_pool_params(pare_op_ctx *ctx, pare_ref_pool_params *p);
/* Softmax axis (as written, maybe negative) and whether the opset < 13
 * semantics (flatten at axis) apply. */
int pare_op_softmax_axis(const pare_op_ctx *ctx, int *legacy);

/* Conv's window, groups and pads from the node's attributes and inputs. */
pare_status pare_op_conv_params(pare_op_ctx *ctx, pare_ref_conv_params *p);
/* The window and group of a convolution node over input x and weight w of
 * any dtype (ConvInteger, QLinearConv). */
pare_status pare_op_conv_window(pare_op_ctx *ctx, const pare_tensor *x, const pare_tensor *w,
                                pare_ref_conv_params *p);

/* 1 when input `slot` of op decides output shapes (Reshape's shape,
 * Resize's scales and sizes, Slice's starts...): its value must be known
 * when planning. */
int pare_op_input_decides_shape(pare_op op, int slot);

/* The implementation of an op, or NULL. */
const pare_op_impl *pare_op_impl_get(pare_op op);

/* Error helpers that name the node: "node 'conv1' (Conv): ...". */
pare_status pare_op_fail(pare_op_ctx *ctx, pare_status st, const char *fmt, ...) PARE_PRINTF(3, 4);

/* The status for a reference op's return code (engine/ref/ops.h), naming
 * the node and `what` failed. */
pare_status pare_op_ref_fail(pare_op_ctx *ctx, int rc, const char *what);

/* Inputs with checks: the input must exist and have dtype f32 (or any). */
pare_status pare_op_need_inputs(pare_op_ctx *ctx, int min, int max);
pare_status pare_op_need_f32(pare_op_ctx *ctx, int input);
/* Int64 (or int32) values of a constant input, into vals (up to cap). */
pare_status pare_op_const_ints(pare_op_ctx *ctx, int input, int64_t *vals, int cap, int *count);
/* A float scalar of a constant input (Clip's min/max). */
pare_status pare_op_const_float(pare_op_ctx *ctx, int input, float *out);
/* Normalizes a possibly negative axis into [0, rank). */
pare_status pare_op_axis(pare_op_ctx *ctx, int64_t axis, int rank, int *out);
/* Sets output o's dtype and shape. */
void pare_op_set_out(pare_op_ctx *ctx, int o, pare_dtype dt, int rank, const int64_t *dims);

/* Op families (engine/exec/op_*.c) fill the table. */
const pare_op_impl *pare_op_impl_elementwise(pare_op op);
const pare_op_impl *pare_op_impl_linear(pare_op op);
const pare_op_impl *pare_op_impl_layout(pare_op op);
const pare_op_impl *pare_op_impl_nn(pare_op op);
const pare_op_impl *pare_op_impl_quant(pare_op op);

/* A plan: the graph bound to concrete input shapes. */
typedef struct pare_plan {
  const pare_graph *graph;
  pare_tensor *values; /* one per graph value */
  int n_values;        /* the graph's count when planned (values added later have none) */
  char *node_folded;   /* 1: evaluated at plan time */
  pare_error *err;
  void *device;    /* backend state (device buffers), or NULL */
  double *node_ms; /* profiling: when set, each run adds each node's milliseconds here
                    * (on a device every node is waited for) */
  void (*device_free)(void *state); /* releases `device` */
  int flags;                        /* PARE_PLAN_* given when it was made */
  void *arena;    /* PARE_PLAN_ARENA: the reference's activations, once it has run */
  int evaluating; /* set per run: an accuracy pass over many batches, where
                   * the OpenCL executor builds no program for one layer's
                   * weights (baked convolutions are decided on a later run) */
} pare_plan;

/* Binds input shapes (dtype, rank, dims of inputs[i] for graph input i),
 * infers every shape and folds every node whose inputs are all constant.
 * Inputs given with data that feed a slot which decides shapes
 * (pare_op_input_decides_shape) are bound as constants; other data is
 * ignored here. */
pare_status pare_plan_create(const pare_graph *g, const pare_tensor *inputs, int n_inputs,
                             pare_plan **out, pare_error *err);
/* PARE_PLAN_KEEP_PARAMS: never fold a node that reads a trainable
 * parameter (training updates them in place between runs). */
#define PARE_PLAN_KEEP_PARAMS 1
/* PARE_PLAN_NO_FUSE: the OpenCL executor runs every node as its own launch
 * (no epilogue fusion, BatchNormalization not folded): for comparisons. */
#define PARE_PLAN_NO_FUSE 2
/* PARE_PLAN_ARENA: the reference backend places the activations in one
 * arena laid out by pare_memory_plan_build (buffers shared between values
 * whose lifetimes do not meet, layout ops aliased, elementwise ops in
 * place), so a value is only valid until its buffer is reused: for runs
 * that want the outputs alone (pare_model_run), not for reading
 * intermediate values afterwards (calibration, training). The OpenCL
 * executor gives the plan its per-value buffers back (pare_plan_drop_arena). */
#define PARE_PLAN_ARENA 4
pare_status pare_plan_create_ex(const pare_graph *g, const pare_tensor *inputs, int n_inputs,
                                int flags, pare_plan **out, pare_error *err);
void pare_plan_destroy(pare_plan *p);
/* Every activation of p back to a buffer of its own (made on the next
 * run); the arena is freed. */
void pare_plan_drop_arena(pare_plan *p);
/* 1 when a backend may fuse nodes of p: neither PARE_PLAN_NO_FUSE nor the
 * environment's PARE_NO_FUSE=1 says otherwise. */
int pare_plan_fuses(const pare_plan *p);
/* Constants of a plan (values known when it was made, folded ones
 * included): the data of value v when it is an fp32 constant of `count`
 * values, else NULL; and input k of n as a double when it is a constant
 * scalar (f32, u8 or i8), returning 1, else 0. */
const float *pare_plan_const_f32(const pare_plan *p, int v, int64_t count);
int pare_plan_const_scalar(const pare_plan *p, const pare_node *n, int k, double *v);

/* Runs the plan on the reference backend with the input data; outputs[i]
 * receives graph output i (allocated, owned by the caller). */
pare_status pare_plan_run_ref(pare_plan *p, const pare_tensor *inputs, int n_inputs,
                              pare_tensor *outputs, pare_error *err);

/* 1 when the OpenCL executor has a kernel for this node of the plan (else
 * the node runs on the reference backend within an OpenCL run). */
struct pare_plan;
int pare_exec_cl_supports(const struct pare_plan *p, const pare_node *n);
/* How node i ran in the plan's last OpenCL run (host/exec_cl.h);
 * "reference" in builds without OpenCL. */
const char *pare_exec_cl_node_form(const struct pare_plan *p, int i);

/* Memory planning of a plan's activations (engine/exec/memory_plan.c):
 * layout ops alias their input, elementwise ops run in place over an input
 * that dies there, and the buffers go into one arena by greedy placement.
 * Sizes are rounded up to 64 bytes. */
typedef struct pare_memory_plan {
  size_t naive;       /* every activation a buffer of its own */
  size_t lower_bound; /* the most bytes alive at one step */
  size_t planned;     /* the arena */
  size_t *offset;     /* per value: its offset in the arena, SIZE_MAX for constants */
  int *buffer;        /* per value: the buffer it shares with values before or after
                       * it (aliases, in place), -1 for constants */
  size_t *buffer_size, *buffer_offset; /* per buffer */
  int n_buffers;
} pare_memory_plan;

/* How an executor runs the plan, when not one node per step in order. */
typedef struct pare_memory_plan_opts {
  size_t align;       /* offsets and sizes rounded up to this many bytes (at least 64) */
  const int *lo, *hi; /* per node: the first and last step at which it may run
                       * (a node fused into one before or after it); NULL: its index */
  const char *skip;   /* per value: 1 when it needs no memory (the executor never
                       * writes it), as a constant; NULL: none */
} pare_memory_plan_opts;

pare_status pare_memory_plan_build(const pare_plan *p, pare_memory_plan *mp, pare_error *err);
pare_status pare_memory_plan_build_ex(const pare_plan *p, const pare_memory_plan_opts *o,
                                      pare_memory_plan *mp, pare_error *err);
void pare_memory_plan_free(pare_memory_plan *mp);

#endif
