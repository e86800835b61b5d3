/* Independent branches on two queues in the OpenCL executor (from a
 * plan's second run): every run gives the same bits as the plan run on
 * one queue (a runtime that allows one), fused or not, with the activations in one
 * arena or a buffer each, with a node run on the host inside a branch,
 * and agrees with the reference backend. */
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/train/zoo.h"
#include "host/exec_cl.h"
#include "tests/test_cl.h"
#include "tests/test_graph_util.h"

#define RUNS 3

/* Output 0 of each of RUNS runs of g (a fresh plan with `flags`) on the
 * device with `queues` queues allowed; *branches: launches on the second. */
static void run_runs(const pare_graph *g, const pare_tensor *in, int flags, int queues,
                     pare_tensor *out, int *branches) {
  rt->max_queues = queues;
  pare_plan *p;
  pare_error err;
  if (pare_plan_create_ex(g, in, 1, flags, &p, &err) != PARE_OK) fail_msg("%s", err.text);
  for (int r = 0; r < RUNS; r++)
    if (pare_plan_run_cl(p, rt, in, 1, &out[r], &err) != PARE_OK) fail_msg("%s", err.text);
  *branches = pare_exec_cl_branch_nodes(p);
  pare_plan_destroy(p);
}

/* g at input shape dims: two queues against one, bit for bit, in every
 * plan form; the first form also against the reference. Returns the
 * launches the two-queue plans put on the second queue (the least). */
static int check(const pare_graph *g, const int64_t *dims, const char *name) {
  int64_t numel = dims[0] * dims[1] * dims[2] * dims[3];
  float *x = malloc(sizeof(float) * (size_t)numel);
  assert_non_null(x);
  test_rng rng = {(uint64_t)numel};
  test_fill(&rng, x, (size_t)numel, -1, 1);
  pare_tensor in = {
      PARE_DT_F32, 4, {dims[0], dims[1], dims[2], dims[3]}, x, sizeof(float) * (size_t)numel, 0, 0};
  static const int forms[] = {PARE_PLAN_ARENA, 0, PARE_PLAN_ARENA | PARE_PLAN_NO_FUSE};
  int least = 1 << 30;
  for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++) {
    pare_tensor one[RUNS], two[RUNS];
    int b1 = 0, b2 = 0;
    run_runs(g, &in, forms[f], 1, one, &b1);
    run_runs(g, &in, forms[f], 2, two, &b2);
    assert_int_equal(b1, 0);
    if (b2 < least) least = b2;
    size_t n = (size_t)pare_tensor_numel(&one[0]);
    for (int r = 0; r < RUNS; r++) {
      assert_int_equal(pare_tensor_numel(&two[r]), (int64_t)n);
      if (memcmp(one[r].data, two[r].data, n * sizeof(float)))
        fail_msg("%s, form %zu, run %d: two queues differ from one", name, f, r);
    }
    if (f == 0) {
      pare_tensor want;
      test_run_ref(g, x, 4, dims, &want);
      float amax = 0;
      for (size_t i = 0; i < n; i++) {
        float v = ((const float *)want.data)[i];
        amax = amax > (v < 0 ? -v : v) ? amax : (v < 0 ? -v : v);
      }
      test_assert_close(two[RUNS - 1].data, want.data, n, 1e-5 * (1.0 + amax), name);
      pare_tensor_release(&want);
    }
    for (int r = 0; r < RUNS; r++) {
      pare_tensor_release(&one[r]);
      pare_tensor_release(&two[r]);
    }
  }
  free(x);
  return least;
}

static pare_graph *zoo(const char *arch) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 5, &g, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  return g;
}

/* GoogLeNet's inception 3a at batch 1 and 3: its branches run on both
 * queues. */
static void test_inception(void **state) {
  (void)state;
  pare_graph *g = zoo("inception-block");
  const int64_t batches[2] = {1, 3};
  for (int b = 0; b < 2; b++) {
    int64_t dims[4] = {batches[b], 192, 28, 28};
    assert_true(check(g, dims, "inception-block") > 0);
  }
  pare_graph_destroy(g);
}

/* ResNet-18 unfused: each downsampling 1×1 convolution and its batch norm
 * run beside the block's main path (fused, the residual Add joins them
 * into one chain and one queue is used). */
static void test_resnet18(void **state) {
  (void)state;
  pare_graph *g = zoo("resnet18");
  int64_t dims[4] = {1, 3, 224, 224};
  check(g, dims, "resnet18");
  pare_tensor in = {PARE_DT_F32, 4, {1, 3, 224, 224}, NULL, 0, 0, 0};
  in.nbytes = sizeof(float) * 3 * 224 * 224;
  in.data = calloc(3 * 224 * 224, sizeof(float));
  pare_tensor out[RUNS];
  int branches = 0;
  run_runs(g, &in, PARE_PLAN_ARENA | PARE_PLAN_NO_FUSE, 2, out, &branches);
  assert_true(branches >= 3 * 2); /* three downsampling convolutions and batch norms */
  for (int r = 0; r < RUNS; r++) pare_tensor_release(&out[r]);
  free(in.data);
  pare_graph_destroy(g);
}

/* The inception module with an LRN (run on the host) after the pooling of
 * its fourth branch: the host node waits for both queues, and its output
 * goes to the device before any launch may overwrite what it reads. */
static void test_host_node_in_branch(void **state) {
  (void)state;
  pare_graph *g = zoo("inception-block");
  int pool = -1;
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].name, "3a.branch4.pool")) pool = i;
  assert_true(pool >= 0);
  int pooled = g->nodes[pool].outputs[0];
  int v = pare_graph_add_value(g, "3a.branch4.lrn/out", PARE_DT_F32, -1, NULL);
  int at = pare_graph_insert_node(g, pool + 1, "3a.branch4.lrn", PARE_OP_LRN, 1, 1);
  assert_true(v >= 0 && at == pool + 1);
  g->nodes[at].inputs[0] = pooled;
  g->nodes[at].outputs[0] = v;
  g->values[v].producer = at;
  pare_attr *size = pare_node_add_attr(&g->nodes[at], "size", PARE_ATTR_INT);
  assert_non_null(size);
  size->i = 3;
  for (int i = at + 1; i < g->n_nodes; i++)
    if (g->nodes[i].inputs[0] == pooled) g->nodes[i].inputs[0] = v;
  pare_error err;
  if (pare_graph_validate(g, &err) != PARE_OK) fail_msg("%s", err.text);
  int64_t dims[4] = {2, 192, 28, 28};
  check(g, dims, "inception-block with an LRN");
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_inception),
      cmocka_unit_test(test_resnet18),
      cmocka_unit_test(test_host_node_in_branch),
  };
  return cmocka_run_group_tests_name("exec_queues", tests, test_cl_setup, test_cl_teardown);
}
