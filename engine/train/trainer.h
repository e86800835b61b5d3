/* Training a graph's parameters: forward with the activations kept,
 * backward node by node in reverse, a loss (cross-entropy, or distillation
 * against teacher logits), and an optimizer step. This is the reference
 * (plain C) path, the oracle of the OpenCL training kernels. */
#ifndef PARE_ENGINE_TRAIN_TRAINER_H
#define PARE_ENGINE_TRAIN_TRAINER_H

#include "engine/exec/exec.h"
#include "engine/ref/grad.h"

typedef enum pare_optimizer { PARE_OPT_SGD = 0, PARE_OPT_ADAM = 1 } pare_optimizer;

typedef struct pare_train_config {
  int64_t batch;
  pare_optimizer optimizer;
  pare_ref_sgd_params sgd;   /* lr is taken from the schedule each step */
  pare_ref_adam_params adam; /* likewise */
  pare_ref_lr_params schedule;
  float distill_alpha; /* weight of the label loss when teacher logits are given */
  float distill_temperature;
} pare_train_config;

/* Defaults: batch 64, SGD momentum 0.9, lr 0.05 constant, alpha 0.1, T 4. */
void pare_train_config_init(pare_train_config *c);

typedef struct pare_trainer pare_trainer;

typedef struct pare_cl_runtime pare_cl_runtime;

/* Takes over nothing: the graph's parameters are trained in place (file
 * mappings are replaced by owned copies first). The graph needs one input
 * of [batch, ...] and one output of [batch, classes] logits. rt: train on
 * that OpenCL device (host/train_cl.c), or NULL for the reference. On a
 * device the parameters live there between steps: pare_trainer_sync
 * brings them back into the graph. */
pare_status pare_trainer_create(pare_graph *g, const pare_train_config *c, pare_cl_runtime *rt,
                                pare_trainer **out, pare_error *err);
/* 1 when the trainer runs on an OpenCL device. */
int pare_trainer_on_device(const pare_trainer *t);
/* Copies the trained parameters into the graph (no-op on the reference). */
pare_status pare_trainer_sync(pare_trainer *t, pare_error *err);
void pare_trainer_destroy(pare_trainer *t);

/* One step on a full batch: x [batch, ...], labels [batch]; teacher logits
 * [batch, classes] or NULL. Returns the mean loss and the number of
 * correct top-1 predictions of the batch (before the update). */
pare_status pare_trainer_step(pare_trainer *t, const float *x, const int64_t *labels,
                              const float *teacher, float *loss, int64_t *correct, pare_error *err);

/* Keeps pruned weights at zero through updates: mask[i] == 0 pins
 * parameter value v's element i (the mask is copied). */
pare_status pare_trainer_set_mask(pare_trainer *t, int value, const uint8_t *mask, pare_error *err);

/* Quantization-aware training of parameter v: from now on the forward
 * sees it fake-quantized to `bits` (2..16, symmetric, scale max|w|/qmax per
 * output channel (axis 0) with per_channel, else per tensor), recomputed
 * after every update from float master weights, which the optimizer
 * updates with the straight-through gradient (the gradient of the
 * quantized weights; this scale clamps nothing). The graph holds the
 * quantized weights. */
pare_status pare_trainer_set_weight_quant(pare_trainer *t, int v, int bits, int per_channel,
                                          pare_error *err);

/* Shared weights (pare compress --share-bits) trained as centroids:
 * label[i] (copied) is element i's centroid in [0, k), 255 for a weight
 * that stays zero. From now on the forward sees each centroid as the mean
 * of float master weights over its members, which the optimizer updates:
 * every centroid moves with the mean gradient of the weights sharing it,
 * and the assignments never change. Not with set_weight_quant. */
pare_status pare_trainer_set_shared(pare_trainer *t, int v, const uint8_t *label, int k,
                                    pare_error *err);

/* Gradient of the last step for a value (NULL if it has none; on a
 * device it is read back first). */
const float *pare_trainer_grad(pare_trainer *t, int value);

/* Steps taken so far; set when resuming (the schedule and Adam's bias
 * correction follow it). */
int64_t pare_trainer_steps(const pare_trainer *t);
void pare_trainer_set_steps(pare_trainer *t, int64_t steps);

/* Optimizer state of parameter v, slot 0 (SGD velocity or Adam's first
 * moment) or 1 (Adam's second moment), copied out (write 0) or in
 * (write 1): as many floats as the parameter has. */
pare_status pare_trainer_state(pare_trainer *t, int v, int slot, float *data, int write,
                               pare_error *err);

#endif
