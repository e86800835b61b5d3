/* libFuzzer target: bytes -> the IDX dataset reader (gzip or plain).
 * Input layout: u16 little-endian length L of the labels file, then L
 * bytes of labels, then the images file; both are written into a scratch
 * dataset folder under the names pare_dataset_open() looks for. */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_setup();
  if (size < 2) return 0;
  size_t labels = (size_t)data[0] | (size_t)data[1] << 8;
  if (labels > size - 2) labels = size - 2;
  fuzz_write("t10k-labels-idx1-ubyte.gz", data + 2, labels);
  fuzz_write("t10k-images-idx3-ubyte.gz", data + 2 + labels, size - 2 - labels);
  pare_dataset *ds = NULL;
  char error[512];
  if (pare_dataset_open(fuzz_dir, "test", &ds, error, sizeof error) != PARE_OK) return 0;
  int64_t dims[3];
  int classes = 0;
  pare_dataset_info(ds, dims, &classes);
  size_t n = pare_dataset_count(ds), idx[2] = {0, n ? n - 1 : 0};
  size_t count = n ? 2 : 0;
  float *img = malloc(sizeof(float) * 2 * (size_t)(dims[1] * dims[2]));
  int64_t lab[2];
  if (img) pare_dataset_batch(ds, idx, count, img, lab);
  free(img);
  pare_dataset_destroy(ds);
  return 0;
}
