/* Importers of foreign formats, registered at run time so that the runtime
 * library needs no protobuf: libpare_onnx registers ONNX models and
 * TensorProto files through pare_onnx_enable(). */
#ifndef PARE_ENGINE_IO_IMPORTERS_H
#define PARE_ENGINE_IO_IMPORTERS_H

#include "engine/graph/graph.h"

typedef pare_status (*pare_model_importer)(const char *path, pare_graph **out, pare_error *err);
typedef pare_status (*pare_tensor_importer)(const char *path, pare_tensor_view *out,
                                            pare_error *err);

void pare_importers_set(pare_model_importer model, pare_tensor_importer tensor);
pare_model_importer pare_importers_model(void);
pare_tensor_importer pare_importers_tensor(void);

#endif
