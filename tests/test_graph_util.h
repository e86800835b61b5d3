/* Graphs in tests: a whole graph run on the reference backend (a fresh
 * plan for the input's shape, one run), values by name, a small graph with
 * two branches. */
#ifndef PARE_TEST_GRAPH_UTIL_H
#define PARE_TEST_GRAPH_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "tests/test_util.h"

/* out receives graph output 0 (owned: pare_tensor_release). */
static inline void test_run_ref(const pare_graph *g, const float *x, int rank, const int64_t *dims,
                                pare_tensor *out) {
  pare_tensor in = {PARE_DT_F32, rank, {0}, (void *)x, 0, 0, 0};
  memcpy(in.dims, dims, sizeof(int64_t) * (size_t)rank);
  in.nbytes = sizeof(float) * (size_t)pare_shape_numel(rank, dims);
  pare_plan *p;
  pare_error err;
  if (pare_plan_create(g, &in, 1, &p, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_plan_run_ref(p, &in, 1, out, &err) != PARE_OK) fail_msg("%s", err.text);
  pare_plan_destroy(p);
}

/* The index of the value called name (the test fails without one). */
static inline int test_value_named(const pare_graph *g, const char *name) {
  int v = pare_graph_find_value(g, name);
  if (v < 0) fail_msg("no value %s", name);
  return v;
}

/* The diamond: x → a = Relu(x) → b = Sigmoid(a), c = Tanh(a) → y = b + c: a is still
 * read by Tanh when Sigmoid runs, so b gets a buffer of its own; c may take
 * a's (a dies at Tanh); b and c are alive together at the Add. */
static inline pare_graph *test_graph_diamond(void) {
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
  return g;
}

#endif
