/* pare_tensor_load: a tensor from a .npy file, or from whatever a
 * registered importer reads (ONNX TensorProto .pb with libpare_onnx). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/importers.h"

pare_status pare_tensor_load(const char *path, pare_tensor_view *out, char *error,
                             size_t error_size) {
  if (!path || !out) return PARE_ERR_INVALID_ARG;
  memset(out, 0, sizeof *out);
  pare_error err;
  void *data;
  size_t size;
  pare_status st = pare_file_read(path, &data, &size, &err);
  if (st != PARE_OK) {
    if (error && error_size) pare_strlcpy(error, err.text, error_size);
    return st;
  }
  int is_npy = size >= 6 && !memcmp(data, "\x93NUMPY", 6);
  free(data);
  if (is_npy) return pare_npy_read(path, out, error, error_size);
  pare_tensor_importer import = pare_importers_tensor();
  if (!import) {
    if (error && error_size)
      snprintf(error, error_size,
               "%s: not a .npy file (ONNX TensorProto files need libpare_onnx: "
               "pare_onnx_enable())",
               path);
    return PARE_ERR_UNSUPPORTED;
  }
  st = import(path, out, &err);
  if (st != PARE_OK && error && error_size)
    snprintf(error, error_size, "%s: neither .npy nor an ONNX TensorProto (%s)", path, err.text);
  return st;
}
