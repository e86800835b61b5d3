/* libFuzzer target: bytes -> .pare reader -> save again and read back ->
 * plan and run once on the reference backend. */
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_setup();
  pare_graph *g = NULL;
  pare_error err;
  /* Half of the inputs get their CRCs recomputed, so that mutations
   * behind the checksums reach the parser. */
  unsigned char *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  if (size) memcpy(copy, data, size);
  if (size && (data[size - 1] & 1)) pare_format_reseal(copy, size);
  if (pare_format_read_buffer(copy, size, "fuzz.pare", &g, &err) == PARE_OK) {
    fuzz_roundtrip(g);
    fuzz_run_graph(g);
    pare_graph_destroy(g);
  }
  free(copy);
  return 0;
}
