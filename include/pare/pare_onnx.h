/* pare ONNX import (libpare_onnx): link it and call pare_onnx_enable() once
 * to let pare_model_load() read .onnx files and pare_tensor_load() read
 * ONNX TensorProto (.pb) files. The runtime library libpare itself reads
 * only .pare and .npy and needs no protobuf. */
#ifndef PARE_PARE_ONNX_H
#define PARE_PARE_ONNX_H

#include "pare/pare.h"

#ifdef __cplusplus
extern "C" {
#endif

PARE_API void pare_onnx_enable(void);

#ifdef __cplusplus
}
#endif

#endif
