/* ONNX import: ModelProto → pare graph, and TensorProto files → tensors. */
#ifndef PARE_ENGINE_IO_ONNX_H
#define PARE_ENGINE_IO_ONNX_H

#include "engine/graph/graph.h"

/* Imports a model file. Initializers become constants (float ones
 * trainable parameters); external data is read from files that must stay
 * inside the model's folder. An unsupported op, attribute or dtype stops the
 * import with an error naming the node, its op type and what is wrong. */
pare_status pare_onnx_import_file(const char *path, pare_graph **out, pare_error *err);

/* The same from memory; `dir` is the folder for external data (NULL: none
 * allowed), `what` names the source in messages. */
pare_status pare_onnx_import_buffer(const void *data, size_t size, const char *dir,
                                    const char *what, pare_graph **out, pare_error *err);

/* A serialized TensorProto (the .pb files of the ONNX test suite) as a
 * tensor: *data is malloc'ed in pare's dtype layout. */
typedef struct pare_onnx_tensor {
  char name[128];
  pare_dtype dtype;
  int rank;
  int64_t dims[PARE_MAX_RANK];
  void *data;
  size_t nbytes;
} pare_onnx_tensor;

pare_status pare_onnx_tensor_read_file(const char *path, pare_onnx_tensor *out, pare_error *err);

#endif
