/* libpare_onnx's entry point: registers the ONNX importers with libpare. */
#include <string.h>

#include "engine/io/importers.h"
#include "engine/io/onnx.h"
#include "engine/passes/passes.h"
#include "pare/pare_onnx.h"

/* PARE_NO_FUSE=1 keeps BatchNormalization as its own node (unfused runs). */
static pare_status import_model(const char *path, pare_graph **out, pare_error *err) {
  pare_status st = pare_onnx_import_file(path, out, err);
  if (st == PARE_OK) st = pare_graph_optimize_ex(*out, !pare_env_on("PARE_NO_FUSE"), err);
  if (st != PARE_OK) {
    pare_graph_destroy(*out);
    *out = NULL;
  }
  return st;
}

static pare_status import_tensor(const char *path, pare_tensor_view *out, pare_error *err) {
  pare_onnx_tensor t;
  pare_status st = pare_onnx_tensor_read_file(path, &t, err);
  if (st != PARE_OK) return st;
  memset(out, 0, sizeof *out);
  out->dtype = t.dtype;
  out->rank = t.rank;
  memcpy(out->dims, t.dims, sizeof(int64_t) * (size_t)t.rank);
  out->data = t.data;
  out->nbytes = t.nbytes;
  return PARE_OK;
}

void pare_onnx_enable(void) { pare_importers_set(import_model, import_tensor); }
