/* Built-in architectures for training from scratch: SimpleCNN, LeNet-5 and
 * LeNet-300-100 (mlp), as pare graphs with PyTorch's default
 * initialisation (uniform in ±1/sqrt(fan_in) for weights and biases); and
 * for benchmarks ResNet-18, MobileNetV2, one ResNet basic block and one
 * GoogLeNet inception module. */
#ifndef PARE_ENGINE_TRAIN_ZOO_H
#define PARE_ENGINE_TRAIN_ZOO_H

#include "engine/graph/graph.h"

/* arch: "simplecnn" (or "simplecnn:C1,C2" with other channel widths than
 * 16 and 32), "lenet5" or "mlp": input "input" [N,1,28,28] (dynamic N),
 * output "logits" [N,10]; "resnet18", "mobilenetv2": [N,3,224,224] to
 * [N,1000]; "resnet-block": [N,64,56,56] to the same shape;
 * "inception-block": [N,192,28,28] to [N,256,28,28]. */
pare_status pare_zoo_build(const char *arch, uint64_t seed, pare_graph **out, pare_error *err);

/* 1 when arch names a built-in architecture. */
int pare_zoo_is_builtin(const char *arch);

/* The names above, for messages. */
const char *pare_zoo_names(void);

#endif
