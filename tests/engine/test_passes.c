/* Graph passes keep what a graph computes: BatchNormalization folded into
 * Conv and Gemm, and constant subgraphs folded away. */
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/passes/passes.h"
#include "tests/test_graph_util.h"

static int add_const(pare_graph *g, const char *name, int rank, const int64_t *dims, test_rng *r,
                     float lo, float hi) {
  int v = pare_graph_add_value(g, name, PARE_DT_F32, rank, dims);
  int64_t n = pare_shape_numel(rank, dims);
  float *d = malloc(sizeof(float) * (size_t)n);
  test_fill(r, d, (size_t)n, lo, hi);
  pare_value_set_data(&g->values[v], d, sizeof(float) * (size_t)n, 1);
  return v;
}

/* x → layer → BatchNormalization → y, with random parameters. */
static pare_graph *layer_bn_graph(pare_op op, test_rng *r, int64_t ch) {
  pare_graph *g = pare_graph_create();
  g->opset = 13;
  int64_t xd[4] = {2, 3, 5, 5}, fd[2] = {2, 12};
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, op == PARE_OP_CONV ? 4 : 2,
                               op == PARE_OP_CONV ? xd : fd);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->n_inputs = 1;
  int64_t wd4[4] = {ch, 3, 3, 3}, wd2[2] = {ch, 12}, cd[1] = {ch};
  int w = op == PARE_OP_CONV ? add_const(g, "w", 4, wd4, r, -1, 1)
                             : add_const(g, "w", 2, wd2, r, -1, 1);
  int b = add_const(g, "b", 1, cd, r, -1, 1);
  int h = pare_graph_add_value(g, "h", PARE_DT_UNDEFINED, -1, NULL);
  int ln = pare_graph_add_node(g, "layer", op, 3, 1);
  g->nodes[ln].inputs[0] = x;
  g->nodes[ln].inputs[1] = w;
  g->nodes[ln].inputs[2] = b;
  g->nodes[ln].outputs[0] = h;
  g->values[h].producer = ln;
  if (op == PARE_OP_CONV) {
    pare_attr *a = pare_node_add_attr(&g->nodes[ln], "pads", PARE_ATTR_INTS);
    a->ints = malloc(sizeof(int64_t) * 4);
    for (int i = 0; i < 4; i++) a->ints[i] = 1;
    a->count = 4;
  } else {
    pare_node_add_attr(&g->nodes[ln], "transB", PARE_ATTR_INT)->i = 1;
  }
  int gamma = add_const(g, "gamma", 1, cd, r, 0.5f, 2.0f);
  int beta = add_const(g, "beta", 1, cd, r, -1, 1);
  int mean = add_const(g, "mean", 1, cd, r, -1, 1);
  int var = add_const(g, "var", 1, cd, r, 0.1f, 2.0f);
  int y = pare_graph_add_value(g, "y", PARE_DT_UNDEFINED, -1, NULL);
  int bn = pare_graph_add_node(g, "bn", PARE_OP_BATCH_NORM, 5, 1);
  int ins[5] = {h, gamma, beta, mean, var};
  memcpy(g->nodes[bn].inputs, ins, sizeof ins);
  g->nodes[bn].outputs[0] = y;
  g->values[y].producer = bn;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->n_outputs = 1;
  return g;
}

static void check_fold(pare_op op) {
  test_rng r = {1234 + (uint64_t)op};
  pare_graph *g = layer_bn_graph(op, &r, 7);
  int64_t xd[4] = {2, 3, 5, 5}, fd[2] = {2, 12};
  int rank = op == PARE_OP_CONV ? 4 : 2;
  const int64_t *dims = op == PARE_OP_CONV ? xd : fd;
  float x[150];
  test_fill(&r, x, 150, -1, 1);
  pare_tensor before, after;
  test_run_ref(g, x, rank, dims, &before);
  int folded = 0;
  pare_error err;
  assert_int_equal(pare_pass_fold_batchnorm(g, &folded, &err), PARE_OK);
  assert_int_equal(folded, 1);
  assert_int_equal(g->n_nodes, 1);
  assert_int_equal(g->nodes[0].op, op);
  test_run_ref(g, x, rank, dims, &after);
  assert_int_equal(before.nbytes, after.nbytes);
  test_assert_close(after.data, before.data, before.nbytes / 4, 2e-5, "bn folded");
  pare_tensor_release(&before);
  pare_tensor_release(&after);
  pare_graph_destroy(g);
}

static void test_fold_bn_into_conv(void **state) {
  (void)state;
  check_fold(PARE_OP_CONV);
}

static void test_fold_bn_into_gemm(void **state) {
  (void)state;
  check_fold(PARE_OP_GEMM);
}

/* A BN whose input has another reader must stay. */
static void test_shared_output_not_folded(void **state) {
  (void)state;
  test_rng r = {5};
  pare_graph *g = layer_bn_graph(PARE_OP_CONV, &r, 4);
  int h = g->nodes[0].outputs[0];
  int *outs = realloc(g->outputs, sizeof(int) * 2);
  g->outputs = outs;
  g->outputs[g->n_outputs++] = h;
  int folded = -1;
  pare_error err;
  assert_int_equal(pare_pass_fold_batchnorm(g, &folded, &err), PARE_OK);
  assert_int_equal(folded, 0);
  assert_int_equal(g->n_nodes, 2);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold_bn_into_conv),
      cmocka_unit_test(test_fold_bn_into_gemm),
      cmocka_unit_test(test_shared_output_not_folded),
  };
  return cmocka_run_group_tests_name("passes", tests, NULL, NULL);
}
