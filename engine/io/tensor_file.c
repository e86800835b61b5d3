/* pare_tensor_load: a tensor from a .npy file or a serialized ONNX
 * TensorProto (.pb, as in the ONNX test data), told apart by content. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/onnx.h"

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
  pare_onnx_tensor t;
  st = pare_onnx_tensor_read_file(path, &t, &err);
  if (st != PARE_OK) {
    if (error && error_size)
      snprintf(error, error_size, "%s: neither .npy nor an ONNX TensorProto (%s)", path, err.text);
    return st;
  }
  out->dtype = t.dtype;
  out->rank = t.rank;
  memcpy(out->dims, t.dims, sizeof(int64_t) * (size_t)t.rank);
  out->data = t.data;
  out->nbytes = t.nbytes;
  return PARE_OK;
}
