/* libFuzzer target: bytes -> ONNX import from memory -> (optimize, save as
 * .pare and read back) -> plan and run once on the reference backend. */
#include "tests/fuzz/fuzz_common.h"

#include "engine/io/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_setup();
  /* External data may only come from the scratch folder, which holds one
   * small file: paths that leave it must be refused. */
  static int have_weights;
  if (!have_weights) {
    unsigned char w[4096];
    for (size_t i = 0; i < sizeof w; i++) w[i] = (unsigned char)(i * 37u);
    fuzz_write("weights.bin", w, sizeof w);
    have_weights = 1;
  }
  pare_graph *g = NULL;
  pare_error err;
  if (pare_onnx_import_buffer(data, size, fuzz_dir, "fuzz.onnx", &g, &err) != PARE_OK) {
    if (getenv("PARE_FUZZ_VERBOSE")) fprintf(stderr, "fuzz: import: %s\n", err.text);
    return 0;
  }
  fuzz_run_graph(g);
  if (pare_graph_optimize(g, &err) == PARE_OK) {
    fuzz_roundtrip(g);
    fuzz_run_graph(g);
  }
  pare_graph_destroy(g);
  return 0;
}
