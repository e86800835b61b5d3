/* Allocation failures: pare's own malloc/calloc/realloc calls are routed
 * through wrappers (the test links with -Wl,--wrap) that fail the k-th one;
 * for every k, loading a .pare file (sparse and deflated constants
 * included), importing ONNX, planning and running on the reference,
 * pruning and quantizing must return an error or succeed — never crash —
 * and free what they took (LeakSanitizer in the ASan build). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/prune.h"
#include "engine/compress/quantize.h"
#include "engine/exec/exec.h"
#include "engine/io/pare_format.h"
#include "engine/train/zoo.h"
#include "pare/pare_onnx.h"
#include "tests/test_util.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static long fail_at = -1, calls = 0;
static int failed;

static int should_fail(void) {
  if (fail_at < 0) return 0;
  if (++calls == fail_at) {
    failed = 1;
    return 1;
  }
  return 0;
}

void *__wrap_malloc(size_t n) { return should_fail() ? NULL : __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { return should_fail() ? NULL : __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { return should_fail() ? NULL : __real_realloc(p, n); }

typedef int (*path_fn)(const void *ctx); /* 0 ok, else the status */

/* Runs `fn` with the k-th allocation failing for k = 1, 2, ... until a run
 * meets no failure; every failing run must report an error. Returns the
 * number of allocation sites tried. */
static long try_every(const char *what, path_fn fn, const void *ctx) {
  long k = 1;
  for (;; k++) {
    if (getenv("PARE_ALLOC_TRACE")) fprintf(stderr, "%s: failing allocation %ld\n", what, k);
    fail_at = k;
    calls = 0;
    failed = 0;
    int rc = fn(ctx);
    fail_at = -1;
    if (!failed) {
      assert_int_equal(rc, 0); /* no failure injected: it must work */
      break;
    }
    if (rc == 0) fail_msg("%s: allocation %ld failed and the call still reported success", what, k);
  }
  printf("%-28s %ld allocation sites failed one by one, each reported\n", what, k - 1);
  return k - 1;
}

typedef struct buffers {
  void *pare_file;
  size_t pare_size;
} buffers;

static int load_and_run(const void *ctx) {
  const buffers *b = ctx;
  pare_graph *g = NULL;
  pare_error err;
  pare_status st = pare_format_read_buffer(b->pare_file, b->pare_size, "mem", &g, &err);
  if (st != PARE_OK) return st;
  float x[2 * 784] = {0};
  pare_tensor in = {PARE_DT_F32, 4, {2, 1, 28, 28}, x, sizeof x, 0, 0}, out;
  pare_plan *p = NULL;
  st = pare_plan_create(g, &in, 1, &p, &err);
  if (st == PARE_OK) st = pare_plan_run_ref(p, &in, 1, &out, &err);
  if (st == PARE_OK) pare_tensor_release(&out);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
  return st;
}

static int compress(const void *ctx) {
  const buffers *b = ctx;
  pare_graph *g = NULL;
  pare_error err;
  pare_status st = pare_format_read_buffer(b->pare_file, b->pare_size, "mem", &g, &err);
  if (st != PARE_OK) return st;
  pare_prune_options po;
  pare_prune_options_init(&po);
  po.mode = PARE_PRUNE_STRUCTURED;
  pare_prune_layer *rep = NULL;
  st = pare_prune_apply(g, &po, &rep, NULL, &err);
  free(rep);
  pare_quant_options qo;
  pare_quant_options_init(&qo);
  qo.act_bits = 0; /* weights only: no dataset needed */
  qo.weight_bits = 4;
  pare_quant_layer *qrep = NULL;
  if (st == PARE_OK) st = pare_quantize_apply(g, &qo, &qrep, NULL, &err);
  free(qrep);
  void *out = NULL;
  size_t size = 0;
  if (st == PARE_OK) st = pare_format_write_buffer(g, &out, &size, &err);
  free(out);
  pare_graph_destroy(g);
  return st;
}

static int import_onnx(const void *ctx) {
  const char *path = ctx;
  char err[256];
  pare_model *m = NULL;
  pare_status st = pare_model_load(path, &m, err, sizeof err);
  pare_model_destroy(m);
  return st;
}

static void test_every_allocation(void **state) {
  (void)state;
  pare_graph *g = NULL;
  pare_error err;
  assert_int_equal(pare_zoo_build("simplecnn:4,8", 2, &g, &err), PARE_OK);
  /* Sparse weights so the loader decodes sparse storage. */
  pare_prune_options po;
  pare_prune_options_init(&po);
  po.amount = 0.9;
  po.dense = "none";
  assert_int_equal(pare_prune_apply(g, &po, NULL, NULL, &err), PARE_OK);
  buffers b = {NULL, 0};
  assert_int_equal(pare_format_write_buffer(g, &b.pare_file, &b.pare_size, &err), PARE_OK);
  pare_graph_destroy(g);
  long sites = try_every("load .pare, plan, run", load_and_run, &b);
  sites += try_every("prune, quantize, save", compress, &b);
  pare_onnx_enable();
  const char *onnx =
      "/usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx";
  FILE *f = fopen(onnx, "rb");
  if (f) {
    fclose(f);
    sites += try_every("import ONNX", import_onnx, onnx);
  }
  assert_true(sites > 100);
  free(b.pare_file);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_every_allocation)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
