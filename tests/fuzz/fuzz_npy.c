/* libFuzzer target: bytes -> the .npy reader and pare_tensor_load (which
 * also reads ONNX TensorProto files through libpare_onnx). */
#include "tests/fuzz/fuzz_common.h"

#include "pare/pare_onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_setup();
  static int enabled;
  if (!enabled) {
    pare_onnx_enable();
    enabled = 1;
  }
  char path[512], out[512];
  snprintf(path, sizeof path, "%s", fuzz_write("tensor.bin", data, size));
  snprintf(out, sizeof out, "%s/back.npy", fuzz_dir);
  char error[512];
  pare_tensor_view t;
  if (pare_npy_read(path, &t, error, sizeof error) == PARE_OK) {
    /* What was read must write back. */
    if (pare_npy_write(out, &t, error, sizeof error) != PARE_OK) {
      fprintf(stderr, "fuzz: a tensor read from .npy does not write back: %s\n", error);
      abort();
    }
    pare_free(t.data);
  }
  if (pare_tensor_load(path, &t, error, sizeof error) == PARE_OK) pare_free(t.data);
  return 0;
}
