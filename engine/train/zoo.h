/* Built-in architectures for training from scratch: SimpleCNN, LeNet-5 and
 * LeNet-300-100 (mlp), as pare graphs with PyTorch's default
 * initialisation (uniform in ±1/sqrt(fan_in) for weights and biases). */
#ifndef PARE_ENGINE_TRAIN_ZOO_H
#define PARE_ENGINE_TRAIN_ZOO_H

#include "engine/graph/graph.h"

/* arch: "simplecnn" (or "simplecnn:C1,C2" with other channel widths than
 * 16 and 32), "lenet5" or "mlp". Input "input" [N,1,28,28] (dynamic N),
 * output "logits" [N,10]. */
pare_status pare_zoo_build(const char *arch, uint64_t seed, pare_graph **out, pare_error *err);

/* 1 when arch names a built-in architecture. */
int pare_zoo_is_builtin(const char *arch);

/* "simplecnn[:C1,C2], lenet5, mlp" */
const char *pare_zoo_names(void);

#endif
