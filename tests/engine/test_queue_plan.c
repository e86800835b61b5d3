/* Placing launches on two queues (engine/exec/queue_plan.c): branches go
 * to the second queue, chains stay on one, a launch waits for the other
 * queue where it reads what a launch there writes or shares bytes with it
 * in the arena, host launches wait for everything, and spans widened by
 * the queue plan give a memory plan that needs no more waits. */
#include <stdlib.h>
#include <string.h>

#include "engine/exec/queue_plan.h"
#include "engine/train/zoo.h"
#include "tests/test_graph_util.h"

/* Every node its own device launch of cost 1. */
static pare_launch_desc *each_node(const pare_graph *g) {
  pare_launch_desc *d = calloc((size_t)g->n_nodes, sizeof *d);
  assert_non_null(d);
  for (int i = 0; i < g->n_nodes; i++) {
    d[i].kind = PARE_LAUNCH_DEVICE;
    d[i].members[0] = i;
    d[i].n_members = 1;
    d[i].cost = 1;
  }
  return d;
}

static char *const_values(const pare_graph *g) {
  char *c = calloc((size_t)g->n_values + 1, 1);
  assert_non_null(c);
  for (int v = 0; v < g->n_values; v++) c[v] = g->values[v].data != NULL;
  return c;
}

/* Per value, its bytes in the arena of a memory plan. */
static int64_t (*ranges_of(const pare_memory_plan *mp, int n_values))[2] {
  int64_t(*r)[2] = malloc(sizeof *r * (size_t)n_values);
  assert_non_null(r);
  for (int v = 0; v < n_values; v++) {
    int b = mp->buffer[v];
    r[v][0] = b < 0 ? -1 : (int64_t)mp->buffer_offset[b];
    r[v][1] = b < 0 ? -1 : (int64_t)(mp->buffer_offset[b] + mp->buffer_size[b]);
  }
  return r;
}

static void plan_diamond(pare_graph **g, pare_plan **p) {
  *g = test_graph_diamond();
  pare_tensor in = {PARE_DT_F32, 2, {4, 1000}, NULL, 0, 0, 0};
  pare_error err;
  if (pare_plan_create(*g, &in, 1, p, &err) != PARE_OK) fail_msg("%s", err.text);
}

/* Relu 0 → Sigmoid 1 and Tanh 2 → Add 3, every value its own memory:
 * the Sigmoid continues the Relu's queue, the Tanh (a's second reader)
 * starts a branch on queue 1 after the Relu, the Add continues the
 * latest branch and waits for the Sigmoid. */
static void test_diamond_queues(void **state) {
  (void)state;
  pare_graph *g = test_graph_diamond();
  pare_launch_desc *d = each_node(g);
  char *c = const_values(g);
  pare_queue_plan qp;
  pare_error err;
  assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &qp, &err), PARE_OK);
  assert_int_equal(qp.queues, 2);
  assert_int_equal(qp.n_branches, 2);
  const int queue[4] = {0, 0, 1, 1}, wait[4] = {-1, -1, 0, 1};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(qp.queue[i], queue[i]);
    assert_int_equal(qp.wait_for[i], wait[i]);
  }
  pare_queue_plan_free(&qp);
  /* The Add on the host waits for the other queue as well (its
   * blocking reads see only its own queue); the Sigmoid folded away
   * (launching nothing) leaves the Tanh to continue a's queue: no
   * branch. */
  d[3].kind = PARE_LAUNCH_HOST;
  assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &qp, &err), PARE_OK);
  assert_int_equal(qp.queue[3], 0);
  assert_int_equal(qp.wait_for[3], 2);
  pare_queue_plan_free(&qp);
  d[3].kind = PARE_LAUNCH_DEVICE;
  d[1].kind = PARE_LAUNCH_NONE;
  assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &qp, &err), PARE_OK);
  assert_int_equal(qp.queues, 1);
  for (int i = 0; i < 4; i++) assert_int_equal(qp.wait_for[i], -1);
  pare_queue_plan_free(&qp);
  free(d);
  free(c);
  pare_graph_destroy(g);
}

/* With the memory plan made for one queue, c is computed in place over
 * a, which the Sigmoid reads on the other queue: the Tanh must wait for
 * the Sigmoid. Spans widened by the queue plan give c bytes of its own,
 * and the Tanh waits only for the Relu again. */
static void test_diamond_arena(void **state) {
  (void)state;
  pare_graph *g;
  pare_plan *p;
  plan_diamond(&g, &p);
  pare_launch_desc *d = each_node(g);
  char *c = const_values(g);
  pare_error err;
  pare_memory_plan mp;
  if (pare_memory_plan_build(p, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
  int a = test_value_named(g, "a"), cv = test_value_named(g, "c");
  assert_int_equal(mp.offset[cv], mp.offset[a]);
  int64_t(*r)[2] = ranges_of(&mp, g->n_values);
  pare_queue_plan qp, order;
  assert_int_equal(pare_queue_plan_build(g, d, (const int64_t(*)[2])r, c, &qp, &err), PARE_OK);
  assert_int_equal(qp.queue[2], 1);
  assert_int_equal(qp.wait_for[2], 1);
  pare_queue_plan_free(&qp);
  pare_memory_plan_free(&mp);
  free(r);

  assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &order, &err), PARE_OK);
  int lo[4] = {0, 1, 2, 3}, hi[4] = {0, 1, 2, 3};
  pare_queue_plan_spans(&order, d, 4, lo, hi);
  /* The Sigmoid may run beside the Tanh (the Add waits for it), the
   * Tanh beside the Sigmoid. */
  assert_int_equal(lo[1], 0);
  assert_int_equal(hi[1], 2);
  assert_int_equal(lo[2], 1);
  assert_int_equal(hi[2], 3);
  pare_memory_plan_opts o = {0, lo, hi, NULL};
  if (pare_memory_plan_build_ex(p, &o, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_true(mp.offset[cv] != mp.offset[a]);
  r = ranges_of(&mp, g->n_values);
  assert_int_equal(pare_queue_plan_build(g, d, (const int64_t(*)[2])r, c, &qp, &err), PARE_OK);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(qp.queue[i], order.queue[i]);
    assert_int_equal(qp.wait_for[i], order.wait_for[i]);
  }
  pare_queue_plan_free(&qp);
  pare_queue_plan_free(&order);
  pare_memory_plan_free(&mp);
  free(r);
  free(d);
  free(c);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
}

/* Chains (SimpleCNN, MobileNetV2) use one queue. The inception module's
 * four branches: the first continues the input's queue, the costliest
 * (1×1 then 3×3 to 128 channels) goes to the other, and the Concat
 * waits for it. */
static void test_zoo(void **state) {
  (void)state;
  const char *chains[] = {"simplecnn", "mobilenetv2"};
  pare_error err;
  for (int k = 0; k < 2; k++) {
    pare_graph *g;
    assert_int_equal(pare_zoo_build(chains[k], 1, &g, &err), PARE_OK);
    pare_launch_desc *d = each_node(g);
    char *c = const_values(g);
    pare_queue_plan qp;
    assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &qp, &err), PARE_OK);
    assert_int_equal(qp.queues, 1);
    pare_queue_plan_free(&qp);
    free(d);
    free(c);
    pare_graph_destroy(g);
  }
  pare_graph *g;
  assert_int_equal(pare_zoo_build("inception-block", 1, &g, &err), PARE_OK);
  pare_launch_desc *d = each_node(g);
  char *c = const_values(g);
  /* Costs: multiply-adds per image of each convolution, 1 elsewhere. */
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (n->op != PARE_OP_CONV) continue;
    const pare_value *w = &g->values[n->inputs[1]];
    d[i].cost = 28.0 * 28.0 * (double)pare_value_numel(w);
  }
  pare_queue_plan qp;
  assert_int_equal(pare_queue_plan_build(g, d, NULL, c, &qp, &err), PARE_OK);
  assert_int_equal(qp.queues, 2);
  int b1 = -1, b2 = -1, cat = -1;
  for (int i = 0; i < g->n_nodes; i++) {
    if (!strcmp(g->nodes[i].name, "3a.branch1")) b1 = i;
    if (!strcmp(g->nodes[i].name, "3a.branch2.1")) b2 = i;
    if (g->nodes[i].op == PARE_OP_CONCAT) cat = i;
  }
  assert_true(b1 >= 0 && b2 >= 0 && cat >= 0);
  assert_int_equal(qp.queue[b1], 0);
  assert_int_equal(qp.queue[b2], 1);
  assert_true(qp.wait_for[cat] >= b2 || qp.queue[cat] == 1);
  pare_queue_plan_free(&qp);
  free(d);
  free(c);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_diamond_queues),
      cmocka_unit_test(test_diamond_arena),
      cmocka_unit_test(test_zoo),
  };
  return cmocka_run_group_tests_name("queue_plan", tests, NULL, NULL);
}
