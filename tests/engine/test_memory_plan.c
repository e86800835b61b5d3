/* Memory planning (engine/exec/memory_plan.c): chains reach the lower
 * bound, layout ops alias, elementwise ops run in place only over an input
 * that dies there, buffers alive together never overlap. */
#include <string.h>

#include "engine/train/zoo.h"
#include "engine/exec/exec.h"
#include "tests/test_util.h"

static void plan_of(const pare_graph *g, int64_t batch, pare_plan **p, pare_memory_plan *mp) {
  const pare_value *xv = &g->values[g->inputs[0]];
  pare_tensor in = {PARE_DT_F32, xv->rank, {0}, NULL, 0, 0, 0};
  for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] < 0 ? batch : xv->dims[d];
  pare_error err;
  if (pare_plan_create(g, &in, 1, p, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_memory_plan_build(*p, mp, &err) != PARE_OK) fail_msg("%s", err.text);
}

static int value_named(const pare_graph *g, const char *name) {
  int v = pare_graph_find_value(g, name);
  if (v < 0) fail_msg("no value %s", name);
  return v;
}

static void test_zoo_chains(void **state) {
  (void)state;
  const char *archs[] = {"simplecnn", "lenet5", "mlp", "resnet18", "mobilenetv2"};
  for (int a = 0; a < 5; a++) {
    pare_graph *g;
    pare_error err;
    assert_int_equal(pare_zoo_build(archs[a], 1, &g, &err), PARE_OK);
    pare_plan *p;
    pare_memory_plan mp;
    plan_of(g, a < 3 ? 64 : 1, &p, &mp);
    assert_true(mp.planned >= mp.lower_bound);
    assert_true(mp.planned <= mp.lower_bound + mp.lower_bound / 10); /* within 1.1x */
    assert_true(mp.naive > mp.planned);
    /* Relu runs in place over the layer before it; Flatten aliases. */
    for (int i = 0; i < g->n_nodes; i++) {
      const pare_node *n = &g->nodes[i];
      if (n->op == PARE_OP_RELU || n->op == PARE_OP_FLATTEN)
        assert_int_equal(mp.offset[n->outputs[0]], mp.offset[n->inputs[0]]);
    }
    pare_memory_plan_free(&mp);
    pare_plan_destroy(p);
    pare_graph_destroy(g);
  }
}

/* x → a = Relu(x) → b = Sigmoid(a), c = Tanh(a) → y = b + c: a is still
 * read by Tanh when Sigmoid runs, so b gets a buffer of its own; c may take
 * a's (a dies at Tanh); b and c are alive together at the Add. */
static void test_diamond(void **state) {
  (void)state;
  pare_graph *g = pare_graph_create();
  int64_t dims[2] = {-1, 1000};
  const char *names[] = {"x", "a", "b", "c", "y"};
  int v[5];
  for (int i = 0; i < 5; i++) v[i] = pare_graph_add_value(g, names[i], PARE_DT_F32, 2, dims);
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(sizeof(int));
  g->inputs[0] = v[0], g->n_inputs = 1;
  g->outputs[0] = v[4], g->n_outputs = 1;
  const pare_op ops[4] = {PARE_OP_RELU, PARE_OP_SIGMOID, PARE_OP_TANH, PARE_OP_ADD};
  const int ins[4][2] = {{0, -1}, {1, -1}, {1, -1}, {2, 3}}, outs[4] = {1, 2, 3, 4};
  for (int i = 0; i < 4; i++) {
    int k = pare_graph_add_node(g, names[outs[i]], ops[i], ins[i][1] >= 0 ? 2 : 1, 1);
    g->nodes[k].inputs[0] = v[ins[i][0]];
    if (ins[i][1] >= 0) g->nodes[k].inputs[1] = v[ins[i][1]];
    g->nodes[k].outputs[0] = v[outs[i]];
    g->values[v[outs[i]]].producer = k;
  }
  pare_plan *p;
  pare_memory_plan mp;
  plan_of(g, 4, &p, &mp);
  size_t buf = 4 * 1000 * sizeof(float); /* a multiple of 64 */
  assert_int_equal(mp.naive, 5 * buf);
  /* x (the input) dies at Relu: a is in place over it. */
  assert_int_equal(mp.offset[value_named(g, "a")], mp.offset[value_named(g, "x")]);
  assert_true(mp.offset[value_named(g, "b")] != mp.offset[value_named(g, "a")]);
  assert_int_equal(mp.offset[value_named(g, "c")], mp.offset[value_named(g, "a")]);
  assert_true(mp.offset[value_named(g, "b")] != mp.offset[value_named(g, "c")]);
  assert_int_equal(mp.lower_bound, 3 * buf); /* b, c and y at the Add */
  assert_int_equal(mp.planned, 3 * buf);
  pare_memory_plan_free(&mp);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_zoo_chains),
                                     cmocka_unit_test(test_diamond)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
