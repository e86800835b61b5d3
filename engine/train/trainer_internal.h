/* The trainer's state, shared by the reference step (trainer.c) and the
 * OpenCL step (host/train_cl.c), which runs the nodes it has no kernel for
 * through the reference functions below. */
#ifndef PARE_ENGINE_TRAIN_TRAINER_INTERNAL_H
#define PARE_ENGINE_TRAIN_TRAINER_INTERNAL_H

#include "engine/train/trainer.h"

struct pare_train_cl;

struct pare_trainer {
  pare_graph *g;
  pare_train_config cfg;
  pare_plan *plan;
  int x_value, logits_value;
  char *needs_grad;              /* per value */
  float **grad;                  /* per value: gradient of the loss (host), or NULL */
  float **state_a;               /* per parameter: momentum / Adam m (reference only) */
  float **state_b;               /* per parameter: Adam v (reference only) */
  uint8_t **mask;                /* per parameter, optional */
  int *qbits;                    /* per parameter: weight fake-quantization bits, or 0 */
  int64_t *qrows;                /* per parameter: rows quantized apart (1: per tensor) */
  float **master;                /* per quantized or shared parameter: the float weights
                                  * trained */
  uint8_t **share_label;         /* per shared parameter: each weight's centroid (255: zero) */
  int *share_k;                  /* per parameter: centroids, or 0 */
  float **bn_mean, **bn_inv_std; /* per node: saved BatchNormalization statistics */
  float *scratch;
  size_t scratch_size;
  int64_t steps;
  struct pare_train_cl *cl; /* the device part, or NULL on the reference */
};

/* Layout-only ops: the gradient passes through unchanged. */
int pare_trainer_is_layout(pare_op op);

/* Binds node n's plan tensors to an op context (up to 8 inputs/outputs). */
void pare_trainer_bind(pare_trainer *t, const pare_node *n, pare_tensor **in, pare_tensor **out,
                       pare_op_ctx *ctx, pare_error *err);

/* 1 when node i is a BatchNormalization run with batch statistics. */
int pare_trainer_is_batchnorm_train(const pare_trainer *t, int i);
/* Its training-mode forward on the plan's host tensors: the output, the
 * saved statistics, and the running mean and variance updated in place. */
pare_status pare_trainer_batchnorm_forward(pare_trainer *t, int i, pare_error *err);

/* Reference backward of node i on the plan's host tensors: adds
 * dL/d(input) into t->grad[input] for every input that carries a gradient,
 * from t->grad[output 0]. */
pare_status pare_trainer_backward_node(pare_trainer *t, int i, pare_error *err);

#endif
