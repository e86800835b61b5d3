/* Memory planning (engine/exec/memory_plan.c): chains reach the lower
 * bound, layout ops alias, elementwise ops run in place only over an input
 * that dies there, buffers alive together never overlap. */
#include <stdlib.h>
#include <string.h>

#include "engine/train/zoo.h"
#include "engine/exec/exec.h"
#include "tests/test_graph_util.h"

static void plan_of(const pare_graph *g, int64_t batch, pare_plan **p, pare_memory_plan *mp) {
  const pare_value *xv = &g->values[g->inputs[0]];
  pare_tensor in = {PARE_DT_F32, xv->rank, {0}, NULL, 0, 0, 0};
  for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] < 0 ? batch : xv->dims[d];
  pare_error err;
  if (pare_plan_create(g, &in, 1, p, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_memory_plan_build(*p, mp, &err) != PARE_OK) fail_msg("%s", err.text);
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

static void test_diamond(void **state) {
  (void)state;
  pare_graph *g = test_graph_diamond();
  pare_plan *p;
  pare_memory_plan mp;
  plan_of(g, 4, &p, &mp);
  size_t buf = 4 * 1000 * sizeof(float); /* a multiple of 64 */
  assert_int_equal(mp.naive, 5 * buf);
  /* x (the input) dies at Relu: a is in place over it. */
  assert_int_equal(mp.offset[test_value_named(g, "a")], mp.offset[test_value_named(g, "x")]);
  assert_true(mp.offset[test_value_named(g, "b")] != mp.offset[test_value_named(g, "a")]);
  assert_int_equal(mp.offset[test_value_named(g, "c")], mp.offset[test_value_named(g, "a")]);
  assert_true(mp.offset[test_value_named(g, "b")] != mp.offset[test_value_named(g, "c")]);
  assert_int_equal(mp.lower_bound, 3 * buf); /* b, c and y at the Add */
  assert_int_equal(mp.planned, 3 * buf);
  pare_memory_plan_free(&mp);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

/* Spans (an executor running nodes inside others' launches) and values
 * that need no memory, on the diamond, nodes Relu 0, Sigmoid 1, Tanh 2,
 * Add 3: with the Add fused into
 * the Sigmoid's launch (span [1, 3]), y is alive from step 1, with a still
 * alive (Tanh reads it at 2), so y may not take a's place; with the Tanh
 * fused into the Relu's launch (span [0, 2]) it may not write over a in
 * place, a having two readers. Offsets keep the alignment asked for. */
static void test_spans(void **state) {
  (void)state;
  pare_graph *g = test_graph_diamond();
  pare_plan *p;
  pare_memory_plan mp;
  plan_of(g, 4, &p, &mp);
  pare_memory_plan_free(&mp);
  int a = test_value_named(g, "a"), c = test_value_named(g, "c"), y = test_value_named(g, "y");
  pare_error err;
  int lo[4] = {0, 1, 0, 1}, hi[4] = {0, 1, 2, 3};
  pare_memory_plan_opts o = {4096, lo, hi, NULL};
  if (pare_memory_plan_build_ex(p, &o, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_true(mp.offset[c] != mp.offset[a]);
  assert_true(mp.offset[y] != mp.offset[a]);
  for (int v = 0; v < p->n_values; v++)
    if (mp.offset[v] != SIZE_MAX) assert_int_equal(mp.offset[v] % 4096, 0);
  assert_int_equal(mp.buffer_size[mp.buffer[a]] % 4096, 0);
  assert_true(mp.buffer[c] != mp.buffer[a]);
  /* x's buffer (a in place over it), b, c and y alive at step 1. */
  assert_int_equal(mp.offset[a], mp.offset[test_value_named(g, "x")]);
  assert_int_equal(mp.lower_bound, 4 * 16384);
  assert_true(mp.planned >= mp.lower_bound);
  pare_memory_plan_free(&mp);
  /* Without spans the same call gives the plain plan. */
  o.lo = o.hi = NULL;
  o.align = 0;
  if (pare_memory_plan_build_ex(p, &o, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(mp.offset[c], mp.offset[a]);
  assert_int_equal(mp.planned, 3 * 16000);
  pare_memory_plan_free(&mp);
  /* A value the executor never writes (b, say, computed inside the Add's
   * launch) takes no room: c and y alone at the Add. */
  char skip[8] = {0};
  int b = test_value_named(g, "b");
  skip[b] = 1;
  o.skip = skip;
  if (pare_memory_plan_build_ex(p, &o, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(mp.offset[b], SIZE_MAX);
  assert_int_equal(mp.buffer[b], -1);
  assert_int_equal(mp.planned, 2 * 16000);
  pare_memory_plan_free(&mp);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

/* Runs g on the reference twice with its activations in the arena and
 * once without: the same outputs to the bit, the caller's input left as it
 * was (the diamond writes a over x in place: the arena holds a copy). */
static void check_arena_run(const pare_graph *g, int64_t batch) {
  const pare_value *xv = &g->values[g->inputs[0]];
  pare_tensor in = {PARE_DT_F32, xv->rank, {0}, NULL, 0, 0, 0};
  for (int d = 0; d < xv->rank; d++) in.dims[d] = xv->dims[d] < 0 ? batch : xv->dims[d];
  size_t n = (size_t)pare_tensor_numel(&in);
  float *x = malloc(sizeof(float) * n), *kept = malloc(sizeof(float) * n);
  test_rng r = {7};
  test_fill(&r, x, n, -1, 1);
  memcpy(kept, x, sizeof(float) * n);
  in.data = x;
  in.nbytes = sizeof(float) * n;
  pare_error err;
  pare_plan *plain, *arena;
  if (pare_plan_create(g, &in, 1, &plain, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_plan_create_ex(g, &in, 1, PARE_PLAN_ARENA, &arena, &err) != PARE_OK)
    fail_msg("%s", err.text);
  pare_tensor want, got;
  if (pare_plan_run_ref(plain, &in, 1, &want, &err) != PARE_OK) fail_msg("%s", err.text);
  for (int run = 0; run < 2; run++) {
    if (pare_plan_run_ref(arena, &in, 1, &got, &err) != PARE_OK) fail_msg("%s", err.text);
    assert_non_null(arena->arena);
    assert_int_equal(got.nbytes, want.nbytes);
    assert_memory_equal(got.data, want.data, want.nbytes);
    assert_memory_equal(x, kept, sizeof(float) * n);
    pare_tensor_release(&got);
  }
  /* Dropped (as the OpenCL executor asks), then laid out again. */
  pare_plan_drop_arena(arena);
  assert_null(arena->arena);
  if (pare_plan_run_ref(arena, &in, 1, &got, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_memory_equal(got.data, want.data, want.nbytes);
  pare_tensor_release(&got);
  pare_tensor_release(&want);
  pare_plan_destroy(plain);
  pare_plan_destroy(arena);
  free(x);
  free(kept);
}

static void test_arena_runs(void **state) {
  (void)state;
  const char *archs[] = {"simplecnn", "lenet5", "mlp"};
  for (int a = 0; a < 3; a++) {
    pare_graph *g;
    pare_error err;
    assert_int_equal(pare_zoo_build(archs[a], 1, &g, &err), PARE_OK);
    check_arena_run(g, 3);
    pare_graph_destroy(g);
  }
  pare_graph *g = test_graph_diamond();
  check_arena_run(g, 4);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_zoo_chains),
                                     cmocka_unit_test(test_diamond), cmocka_unit_test(test_spans),
                                     cmocka_unit_test(test_arena_runs)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
