/* The reference trainer: whole-graph gradients against finite differences
 * of the loss, loss going down on real Fashion-MNIST images, and masks
 * keeping pruned weights at zero through updates. */
#include <math.h>
#include <string.h>

#include "engine/model_internal.h"
#include "engine/train/trainer.h"
#include "engine/train/zoo.h"
#include "pare/pare.h"
#include "tests/test_train_util.h"

static void check_gradients(const char *arch) {
  pare_graph *g;
  pare_error err;
  assert_int_equal(pare_zoo_build(arch, 5, &g, &err), PARE_OK);
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 3;
  c.schedule.lr = 0.0; /* gradients only: the weights stay */
  c.sgd.momentum = 0.0f;
  pare_trainer *t;
  if (pare_trainer_create(g, &c, NULL, &t, &err) != PARE_OK) fail_msg("%s", err.text);
  test_rng r = {11};
  float x[3 * 784];
  test_fill(&r, x, 3 * 784, 0, 1);
  int64_t labels[3] = {1, 7, 3};
  float loss;
  assert_int_equal(pare_trainer_step(t, x, labels, NULL, &loss, NULL, &err), PARE_OK);
  assert_float_equal(loss, test_loss_of(g, x, labels, 3), 1e-5);
  test_check_directional(arch, g, t, x, labels, 3);
  if (strcmp(arch, "mlp")) {
    pare_trainer_destroy(t);
    pare_graph_destroy(g);
    return;
  }
  /* Single coordinates where nothing switches (no pooling). */
  int checked = 0;
  for (int v = 0; v < g->n_values; v++) {
    if (!g->values[v].is_param) continue;
    const float *grad = pare_trainer_grad(t, v);
    assert_non_null(grad);
    float *w = g->values[v].data;
    int64_t n = pare_value_numel(&g->values[v]);
    for (int s = 0; s < 4; s++) {
      int64_t i = (int64_t)test_rng_below(&r, (size_t)n);
      float keep = w[i], h = 1e-3f;
      w[i] = keep + h;
      double up = test_loss_of(g, x, labels, 3);
      w[i] = keep - h;
      double down = test_loss_of(g, x, labels, 3);
      w[i] = keep;
      double fd = (up - down) / (2.0 * h);
      /* Loss in float: rounding ~1e-7 / 2h, plus kinks crossed by the step. */
      double tol = 3e-2 * fabs(fd) + 5e-4;
      if (fabs(fd - grad[i]) > tol)
        fail_msg("%s %s[%lld]: grad %.6g, finite difference %.6g", arch, g->values[v].name,
                 (long long)i, grad[i], fd);
      checked++;
    }
  }
  assert_true(checked >= 12);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

static void test_gradients_simplecnn(void **state) {
  (void)state;
  check_gradients("simplecnn");
}

static void test_gradients_mlp(void **state) {
  (void)state;
  check_gradients("mlp");
}

/* A few hundred real images: the loss falls and the accuracy rises. */
static void test_learns_fashion_mnist(void **state) {
  (void)state;
  pare_dataset *ds;
  char msg[256];
  if (pare_dataset_open("fashion-mnist", "train", &ds, msg, sizeof msg) != PARE_OK) skip();
  pare_graph *g;
  pare_error err;
  assert_int_equal(pare_zoo_build("simplecnn", 1, &g, &err), PARE_OK);
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 32;
  c.schedule.lr = 0.05;
  pare_trainer *t;
  assert_int_equal(pare_trainer_create(g, &c, NULL, &t, &err), PARE_OK);
  float x[32 * 784];
  int64_t labels[32];
  size_t idx[32];
  double first = 0, last = 0;
  int64_t correct_last = 0;
  const int steps = 40;
  for (int s = 0; s < steps; s++) {
    for (int i = 0; i < 32; i++) idx[i] = (size_t)((s % 10) * 32 + i); /* 320 images, 4 passes */
    assert_int_equal(pare_dataset_batch(ds, idx, 32, x, labels), PARE_OK);
    float loss;
    int64_t correct;
    if (pare_trainer_step(t, x, labels, NULL, &loss, &correct, &err) != PARE_OK)
      fail_msg("%s", err.text);
    if (s < 10) first += loss / 10;
    if (s >= steps - 10) {
      last += loss / 10;
      correct_last += correct;
    }
  }
  if (!(last < 0.6 * first)) fail_msg("loss %.3f -> %.3f did not fall enough", first, last);
  assert_true(correct_last > 320 * 0.6);
  assert_int_equal(pare_trainer_steps(t), steps);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
  pare_dataset_destroy(ds);
}

/* A reference trainer of the MLP at batch 4 (the graph in *g). */
static pare_trainer *mlp_trainer(uint64_t seed, pare_graph **g) {
  pare_error err;
  assert_int_equal(pare_zoo_build("mlp", seed, g, &err), PARE_OK);
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 4;
  pare_trainer *t;
  assert_int_equal(pare_trainer_create(*g, &c, NULL, &t, &err), PARE_OK);
  return t;
}

/* Three steps on random images. */
static void random_steps(pare_trainer *t) {
  test_rng r = {4};
  float x[4 * 784];
  int64_t labels[4] = {0, 1, 2, 3};
  pare_error err;
  for (int s = 0; s < 3; s++) {
    test_fill(&r, x, 4 * 784, 0, 1);
    float loss;
    assert_int_equal(pare_trainer_step(t, x, labels, NULL, &loss, NULL, &err), PARE_OK);
    assert_true(isfinite(loss));
  }
}

static void test_mask_keeps_zeros(void **state) {
  (void)state;
  pare_graph *g;
  pare_error err;
  pare_trainer *t = mlp_trainer(2, &g);
  int w = pare_graph_find_value(g, "fc1.weight");
  int64_t n = pare_value_numel(&g->values[w]);
  uint8_t *mask = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)(i % 3 != 0);
  assert_int_equal(pare_trainer_set_mask(t, w, mask, &err), PARE_OK);
  random_steps(t);
  const float *wd = g->values[w].data;
  int64_t nonzero_kept = 0;
  for (int64_t i = 0; i < n; i++) {
    if (!mask[i])
      assert_true(wd[i] == 0.0f);
    else
      nonzero_kept += wd[i] != 0.0f;
  }
  assert_true(nonzero_kept > n / 2);
  free(mask);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

/* Quantization-aware training: the graph's weight stays on a 4-bit grid
 * per output channel while its float master weights move. */
static void test_weight_quant(void **state) {
  (void)state;
  pare_graph *g;
  pare_error err;
  pare_trainer *t = mlp_trainer(3, &g);
  int w = pare_graph_find_value(g, "fc2.weight");
  assert_int_equal(pare_trainer_set_weight_quant(t, w, 1, 1, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_trainer_set_weight_quant(t, w, 4, 1, &err), PARE_OK);
  const int64_t rows = g->values[w].dims[0], cols = g->values[w].dims[1];
  float *before = malloc(sizeof(float) * (size_t)(rows * cols));
  memcpy(before, g->values[w].data, sizeof(float) * (size_t)(rows * cols));
  random_steps(t);
  const float *wd = g->values[w].data;
  int moved = 0;
  for (int64_t row = 0; row < rows; row++) {
    float m = 0;
    for (int64_t j = 0; j < cols; j++) m = fmaxf(m, fabsf(wd[row * cols + j]));
    for (int64_t j = 0; j < cols; j++) { /* every value is k·max/7 */
      float k = wd[row * cols + j] / m * 7.0f;
      if (fabsf(k - nearbyintf(k)) > 1e-4f)
        fail_msg("fc2.weight[%lld, %lld] off the grid", (long long)row, (long long)j);
      moved += wd[row * cols + j] != before[row * cols + j];
    }
  }
  assert_true(moved > 0);
  free(before);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

static void stop_after_two(const pare_train_progress *p, void *user) {
  if (p->batch >= 2) *(volatile int *)user = 1;
}

/* pare_train's qat_layers: the listed layer trains on its own grid (fc2 at
 * 4 bits, per output row), the others in float; bad lists are refused with
 * the item named. Two batches of real images. */
static void test_train_qat_layers(void **state) {
  (void)state;
  pare_dataset *ds;
  char msg[256];
  if (pare_dataset_open("fashion-mnist", "train", &ds, msg, sizeof msg) != PARE_OK) skip();
  pare_dataset_destroy(ds);
  volatile int stop = 0;
  pare_train_options o;
  pare_train_options_init(&o);
  o.arch = "mlp";
  o.lr = 0.05f;
  o.stop = &stop;
  o.progress = stop_after_two;
  o.user = (void *)&stop;
  const char *bad[] = {"fc9:4", "fc2:1", "fc2", "relu1:8", "fc2:4x"};
  const char *named[] = {"fc9", "fc2:1", "fc2", "relu1", "fc2:4x"};
  for (int i = 0; i < 5; i++) {
    o.qat_layers = bad[i];
    pare_model *m = NULL;
    char err[512] = "";
    assert_int_not_equal(pare_train(NULL, &o, &m, err, sizeof err), PARE_OK);
    assert_null(m);
    if (!strstr(err, named[i])) fail_msg("'%s': the error does not name it: %s", bad[i], err);
  }
  o.qat_layers = "fc2:4,fc3:8";
  pare_model *m = NULL;
  char err[512];
  if (pare_train(NULL, &o, &m, err, sizeof err) != PARE_OK) fail_msg("%s", err);
  const pare_graph *g = m->graph;
  const char *names[] = {"fc1.weight", "fc2.weight", "fc3.weight"};
  const float levels[] = {0, 7, 127};
  for (int k = 0; k < 3; k++) {
    int w = pare_graph_find_value(g, names[k]);
    assert_true(w >= 0);
    const int64_t rows = g->values[w].dims[0], cols = g->values[w].dims[1];
    const float *wd = g->values[w].data;
    int64_t off = 0;
    for (int64_t row = 0; row < rows; row++) {
      float mx = 0;
      for (int64_t j = 0; j < cols; j++) mx = fmaxf(mx, fabsf(wd[row * cols + j]));
      for (int64_t j = 0; j < cols; j++) {
        float q = wd[row * cols + j] / mx * (levels[k] ? levels[k] : 127.0f);
        off += fabsf(q - nearbyintf(q)) > 1e-3f;
      }
    }
    if (levels[k] && off)
      fail_msg("%s: %lld weights off the %g-level grid", names[k], (long long)off, levels[k]);
    if (!levels[k] && off < rows * cols / 2) fail_msg("%s (float) sits on a grid", names[k]);
  }
  pare_model_destroy(m);
}

/* Centroids: the mean of the members, zeros for label 255, in place;
 * bad labels and counts refused. A trainer with shared weights keeps one
 * value per centroid while the centroids move. */
static void test_shared_centroids(void **state) {
  (void)state;
  float x[7] = {1, 2, 3, 10, 20, 5, -4}, y[7];
  const uint8_t lab[7] = {0, 0, 0, 1, 1, 255, 2};
  assert_int_equal(pare_ref_share_project_f32(x, lab, 7, 3, y), PARE_REF_OK);
  const float want[7] = {2, 2, 2, 15, 15, 0, -4};
  for (int i = 0; i < 7; i++) assert_true(y[i] == want[i]);
  assert_int_equal(pare_ref_share_project_f32(x, lab, 7, 3, x), PARE_REF_OK);
  for (int i = 0; i < 7; i++) assert_true(x[i] == want[i]);
  assert_int_equal(pare_ref_share_project_f32(x, lab, 7, 2, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_share_project_f32(x, lab, 7, 0, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_share_project_f32(x, lab, 7, 256, y), PARE_REF_EINVAL);

  pare_graph *g;
  pare_error err;
  pare_trainer *t = mlp_trainer(4, &g);
  int w = pare_graph_find_value(g, "fc2.weight");
  int64_t n = pare_value_numel(&g->values[w]);
  uint8_t *label = malloc((size_t)n);
  for (int64_t i = 0; i < n; i++) label[i] = i % 4 == 0 ? 255 : (uint8_t)(i % 3);
  assert_int_equal(pare_trainer_set_shared(t, w, label, 0, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_trainer_set_shared(t, w, label, 2, &err), PARE_ERR_INVALID_ARG);
  /* The refusal left fc2 unshared: fake quantization is still allowed on it... */
  int w1 = pare_graph_find_value(g, "fc1.weight");
  assert_int_equal(pare_trainer_set_weight_quant(t, w1, 4, 1, &err), PARE_OK);
  /* ...and shared weights are refused there, as fake-quantized ones are on a shared layer. */
  assert_int_equal(pare_trainer_set_shared(t, w1, label, 3, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "not both"));
  assert_int_equal(pare_trainer_set_shared(t, w, label, 3, &err), PARE_OK);
  assert_int_equal(pare_trainer_set_weight_quant(t, w, 4, 1, &err), PARE_ERR_INVALID_ARG);
  const float *wd = g->values[w].data;
  float c0[3] = {wd[1], wd[2], wd[3]}; /* labels 1, 2, 0 */
  random_steps(t);
  for (int64_t i = 0; i < n; i++) {
    if (label[i] == 255)
      assert_true(wd[i] == 0.0f);
    else
      assert_true(wd[i] == wd[1 + (label[i] + 2) % 3]);
  }
  assert_true(wd[1] != c0[0] || wd[2] != c0[1] || wd[3] != c0[2]);
  free(label);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gradients_simplecnn),  cmocka_unit_test(test_gradients_mlp),
      cmocka_unit_test(test_mask_keeps_zeros),     cmocka_unit_test(test_weight_quant),
      cmocka_unit_test(test_train_qat_layers),     cmocka_unit_test(test_shared_centroids),
      cmocka_unit_test(test_learns_fashion_mnist),
  };
  return cmocka_run_group_tests_name("trainer", tests, NULL, NULL);
}
