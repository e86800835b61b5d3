/* Checks shared by the trainer tests: the loss of a graph on a batch, and
 * each parameter's gradient against a central finite difference of the
 * loss along that gradient (smooth enough even through max-pooling, where
 * single coordinates may switch their arg-max within the step). */
#ifndef PARE_TEST_TRAIN_UTIL_H
#define PARE_TEST_TRAIN_UTIL_H

#include <math.h>
#include <string.h>

#include "engine/train/trainer.h"
#include "tests/test_graph_util.h"

/* Mean cross-entropy of g on x ([b, 1, 28, 28]) with a fresh reference plan
 * (inference mode). */
static double test_loss_of(const pare_graph *g, const float *x, const int64_t *labels, int64_t b) {
  const int64_t dims[4] = {b, 1, 28, 28};
  pare_tensor out;
  test_run_ref(g, x, 4, dims, &out);
  float loss;
  assert_int_equal(pare_ref_softmax_xent_f32(out.data, labels, b, 10, &loss, NULL), PARE_REF_OK);
  pare_tensor_release(&out);
  return loss;
}

/* Every parameter's gradient of t's last step on (x, labels) against the
 * directional finite difference; the graph's weights are left as found. */
static void test_check_directional(const char *what, const pare_graph *g, pare_trainer *t,
                                   const float *x, const int64_t *labels, int64_t b) {
  for (int v = 0; v < g->n_values; v++) {
    if (!g->values[v].is_param) continue;
    const float *grad = pare_trainer_grad(t, v);
    assert_non_null(grad);
    float *w = g->values[v].data;
    int64_t n = pare_value_numel(&g->values[v]);
    float *keep = malloc(sizeof(float) * (size_t)n);
    memcpy(keep, w, sizeof(float) * (size_t)n);
    double norm2 = 0;
    for (int64_t i = 0; i < n; i++) norm2 += (double)grad[i] * grad[i];
    double h = 1e-3 / (sqrt(norm2) + 1e-12);
    for (int64_t i = 0; i < n; i++) w[i] = keep[i] + (float)(h * grad[i]);
    double up = test_loss_of(g, x, labels, b);
    for (int64_t i = 0; i < n; i++) w[i] = keep[i] - (float)(h * grad[i]);
    double down = test_loss_of(g, x, labels, b);
    memcpy(w, keep, sizeof(float) * (size_t)n);
    free(keep);
    double fd = (up - down) / (2.0 * h);
    if (fabs(fd - norm2) > 5e-2 * norm2 + 1e-6)
      fail_msg("%s %s: |grad|^2 %.6g, directional finite difference %.6g", what, g->values[v].name,
               norm2, fd);
  }
}

#endif
