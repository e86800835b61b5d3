/* The OpenCL trainer: the step of engine/train/trainer.h on a device. The
 * forward runs through the OpenCL executor node by node (Conv+ReLU/Clip
 * stay fused: those activations' backward reads their output), with
 * BatchNormalization in training mode on its own kernels; gradients,
 * optimizer state, masks and QAT master weights live in device buffers;
 * nodes without a backward kernel (broadcasting arithmetic, some
 * activations, ...) run on the reference with their data read back.
 * Parameters stay on the device between steps. */
#ifndef PARE_HOST_TRAIN_CL_H
#define PARE_HOST_TRAIN_CL_H

#include "engine/train/trainer_internal.h"
#include "host/runtime.h"

typedef struct pare_train_cl pare_train_cl;

pare_status pare_train_cl_create(pare_trainer *t, pare_cl_runtime *rt, pare_train_cl **out,
                                 pare_error *err);
void pare_train_cl_destroy(pare_train_cl *c);

/* pare_trainer_step on the device. */
pare_status pare_train_cl_step(pare_trainer *t, const float *x, const int64_t *labels,
                               const float *teacher, float *loss, int64_t *correct,
                               pare_error *err);
/* Parameters (device) into the graph (host). */
pare_status pare_train_cl_sync(pare_trainer *t, pare_error *err);
/* t->mask[value] was set: applies it to the parameter and uploads it. */
pare_status pare_train_cl_set_mask(pare_trainer *t, int value, pare_error *err);
/* t->master[v] was set (and the graph's weight fake-quantized or shared
 * from it): the device keeps its own master copy from now on. */
pare_status pare_train_cl_set_master(pare_trainer *t, int v, pare_error *err);
/* pare_trainer_state on the device. */
pare_status pare_train_cl_state(pare_trainer *t, int v, int slot, float *data, int write,
                                pare_error *err);
/* The last step's gradient of value into t->grad[value]. */
pare_status pare_train_cl_grad_to_host(pare_trainer *t, int value);

#endif
