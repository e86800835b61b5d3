/* Running a whole graph in tests: a fresh plan for the input's shape, one
 * run on the reference backend. */
#ifndef PARE_TEST_GRAPH_UTIL_H
#define PARE_TEST_GRAPH_UTIL_H

#include <string.h>

#include "engine/exec/exec.h"
#include "tests/test_util.h"

/* out receives graph output 0 (owned: pare_tensor_release). */
static void test_run_ref(const pare_graph *g, const float *x, int rank, const int64_t *dims,
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

#endif
