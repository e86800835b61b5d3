/* The model behind the public pare_model handle. */
#ifndef PARE_ENGINE_MODEL_INTERNAL_H
#define PARE_ENGINE_MODEL_INTERNAL_H

#include "engine/exec/exec.h"

struct pare_model {
  pare_graph *graph;
  pare_plan *plan; /* for the last input shapes */
  int evaluating;  /* runs are pare_accuracy_on's (pare_plan's `evaluating`) */
  char path[1024];
  pare_error error;
};

/* Multiply-adds of node n (Conv, ConvTranspose, Gemm, MatMul; 0 for the
 * rest) with the shapes planned in p. */
int64_t pare_node_macs(const pare_graph *g, const pare_plan *p, const pare_node *n);

/* Zero elements of a constant (fp32, fp16, int8, uint8, packed int4;
 * 0 for other dtypes). */
int64_t pare_value_zeros(const pare_value *v);

/* A plan of m with every dynamic input dimension set to `batch`. */
pare_status pare_model_plan_at_batch(pare_model *m, int64_t batch, pare_plan **p);

/* Top-1 accuracy of m on samples idx[0..n) of ds (idx NULL: 0..n-1), `batch`
 * at a time on ctx: *correct, and the confusion matrix (classes², may be
 * NULL) counted up. The loop of pare_model_evaluate, the trainer's
 * validation and the low-rank scan. */
pare_status pare_accuracy_on(pare_context *ctx, pare_model *m, const pare_dataset *ds,
                             const size_t *idx, size_t n, int batch, int64_t *confusion,
                             size_t *correct, pare_eval_progress_fn progress, void *user,
                             pare_error *err);

/* Batches of a stream: fill writes batch i's input (x: the floats of one
 * batch of the stream's shape); take gets its output. */
typedef pare_status (*pare_batch_fill_fn)(void *user, size_t i, float *x);
typedef pare_status (*pare_batch_take_fn)(void *user, size_t i, const pare_tensor *y);

/* Runs m (one f32 input, one output) on n batches of the input shape
 * `shape` on the OpenCL backend, two plans in turn, one on each queue:
 * while batch i computes, batch i+1's input is made (fill), goes to the
 * device and its launches are enqueued, and then batch i's output is
 * taken. *done counts the batches taken. PARE_ERR_UNSUPPORTED (nothing
 * run) off OpenCL, for other models or under PARE_NO_STREAM=1: the caller
 * runs them one by one. */
pare_status pare_model_run_stream(pare_context *ctx, pare_model *m, const pare_tensor *shape,
                                  size_t n, pare_batch_fill_fn fill, pare_batch_take_fn take,
                                  void *user, size_t *done, pare_error *err);

#endif
