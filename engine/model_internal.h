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

/* Top-1 accuracy of m on samples idx[0..n) of ds (idx NULL: 0..n-1), `batch`
 * at a time on ctx: *correct, and the confusion matrix (classes², may be
 * NULL) counted up. The loop of pare_model_evaluate, the trainer's
 * validation and the low-rank scan. */
/* Multiply-adds of node n (Conv, ConvTranspose, Gemm, MatMul; 0 for the
 * rest) with the shapes planned in p. */
int64_t pare_node_macs(const pare_graph *g, const pare_plan *p, const pare_node *n);

/* Zero elements of a constant (fp32, fp16, int8, uint8, packed int4;
 * 0 for other dtypes). */
int64_t pare_value_zeros(const pare_value *v);

/* A plan of m with every dynamic input dimension set to `batch`. */
pare_status pare_model_plan_at_batch(pare_model *m, int64_t batch, pare_plan **p);

pare_status pare_accuracy_on(pare_context *ctx, pare_model *m, const pare_dataset *ds,
                             const size_t *idx, size_t n, int batch, int64_t *confusion,
                             size_t *correct, pare_eval_progress_fn progress, void *user,
                             pare_error *err);

#endif
