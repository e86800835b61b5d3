/* The registered importers (set once by libpare_onnx; read by the loaders). */
#include <stdatomic.h>

#include "engine/io/importers.h"

static _Atomic(pare_model_importer) model_importer;
static _Atomic(pare_tensor_importer) tensor_importer;

void pare_importers_set(pare_model_importer model, pare_tensor_importer tensor) {
  atomic_store(&model_importer, model);
  atomic_store(&tensor_importer, tensor);
}

pare_model_importer pare_importers_model(void) { return atomic_load(&model_importer); }
pare_tensor_importer pare_importers_tensor(void) { return atomic_load(&tensor_importer); }
