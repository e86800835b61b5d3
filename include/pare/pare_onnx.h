/* pare ONNX import and export (libpare_onnx): link it and call
 * pare_onnx_enable() once to let pare_model_load() read .onnx files and
 * pare_tensor_load() read ONNX TensorProto (.pb) files;
 * pare_model_export_onnx() writes a model back as ONNX. The runtime library
 * libpare itself reads only .pare and .npy and needs no protobuf. */
#ifndef PARE_PARE_ONNX_H
#define PARE_PARE_ONNX_H

#include "pare/pare.h"

#ifdef __cplusplus
extern "C" {
#endif

PARE_API void pare_onnx_enable(void);

/* Writes the model as an ONNX file (atomically), runnable by ONNX runtimes:
 * initializers for its constants, its nodes and attributes as they are, the
 * opset raised to what its ops need (QuantizeLinear/DequantizeLinear with an
 * axis: 13). Packed int4 weights are written as int8. On failure the
 * message (naming the node or value) is in pare_model_last_error(). */
PARE_API pare_status pare_model_export_onnx(pare_model *m, const char *path);

#ifdef __cplusplus
}
#endif

#endif
