/* The built-in architectures build, validate and run, with the parameter
 * counts of their definitions. */
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/train/zoo.h"
#include "tests/test_util.h"

static int64_t param_count(const pare_graph *g) {
  int64_t n = 0;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].is_param) n += pare_value_numel(&g->values[i]);
  return n;
}

/* The ImageNet-sized architectures: parameters and a plan for one image
 * (running them on the reference is left to the benchmarks). */
static void check_params_only(const char *arch, int64_t params) {
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build(arch, 1, &g, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  assert_int_equal(param_count(g), params);
  pare_tensor in = {PARE_DT_F32, 4, {1, 3, 224, 224}, NULL, 0, 0, 0};
  pare_plan *p;
  if (pare_plan_create(g, &in, 1, &p, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  const pare_tensor *y = &p->values[g->outputs[0]];
  assert_int_equal(y->rank, 2);
  assert_int_equal(y->dims[1], 1000);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

static void check(const char *arch, int64_t params) {
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build(arch, 1, &g, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  assert_int_equal(param_count(g), params);
  float x[2 * 784];
  test_rng r = {3};
  test_fill(&r, x, 2 * 784, 0, 1);
  pare_tensor in = {PARE_DT_F32, 4, {2, 1, 28, 28}, x, sizeof x, 0, 0}, out;
  pare_plan *p;
  if (pare_plan_create(g, &in, 1, &p, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  assert_int_equal(pare_plan_run_ref(p, &in, 1, &out, &err), PARE_OK);
  assert_int_equal(out.rank, 2);
  assert_int_equal(out.dims[0], 2);
  assert_int_equal(out.dims[1], 10);
  assert_string_equal(g->values[g->outputs[0]].name, "logits");
  pare_tensor_release(&out);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

static void test_architectures(void **state) {
  (void)state;
  check("simplecnn", 160 + 4640 + 15690);
  check("lenet5", 156 + 2416 + 48120 + 10164 + 850);
  check("mlp", 235500 + 30100 + 1010);
  check("mlp:100,30", 78500 + 3030 + 310);
  /* torchvision's counts (batch-norm statistics are not parameters). */
  check_params_only("resnet18", 11689512);
  check_params_only("mobilenetv2", 3504872);
  check("simplecnn:8,16", 80 + 1168 + 7850);
  /* Two 3x3 convolutions without bias, two batch norms' scale and shift;
   * the block keeps its input's shape. */
  pare_graph *blk;
  pare_error e;
  assert_int_equal(pare_zoo_build("resnet-block", 1, &blk, &e), PARE_OK);
  assert_int_equal(param_count(blk), 2 * 64 * 64 * 9 + 4 * 64);
  pare_tensor bin = {PARE_DT_F32, 4, {1, 64, 56, 56}, NULL, 0, 0, 0};
  pare_plan *bp;
  assert_int_equal(pare_plan_create(blk, &bin, 1, &bp, &e), PARE_OK);
  const pare_tensor *by = &bp->values[blk->outputs[0]];
  assert_int_equal(by->rank, 4);
  assert_memory_equal(by->dims, bin.dims, sizeof(int64_t) * 4);
  pare_plan_destroy(bp);
  pare_graph_destroy(blk);
  pare_graph *g;
  pare_error err;
  assert_int_equal(pare_zoo_build("resnet9000", 1, &g, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "simplecnn"));
  const char *bad[] = {"mlp:0,3", "mlp:3", "mlp:3,4,5", "mlp;3,4", "simplecnn:2000,3", "mlpx"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(pare_zoo_build(bad[i], 1, &g, &err), PARE_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_architectures)};
  return cmocka_run_group_tests_name("zoo", tests, NULL, NULL);
}
