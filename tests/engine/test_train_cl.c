/* The OpenCL trainer against the reference trainer (its oracle): the same
 * graph trained from the same initial weights on the same batches gives
 * the same losses, gradients and parameters, for the built-in
 * architectures and for a graph that reaches every backward path (batch
 * normalization, depthwise convolution, broadcasting, pooling, MatMul,
 * activations with and without a kernel); with SGD and Adam, masks and
 * distillation and quantization-aware training. The device gradients also pass a finite-difference
 * check of their own. */
#include <math.h>
#include <string.h>

#include "engine/model_internal.h"
#include "engine/train/trainer.h"
#include "engine/train/zoo.h"
#include "pare/pare_onnx.h"
#include "tests/test_cl.h"
#include "tests/test_train_util.h"

/* ---- a graph with every backward path ------------------------------------ */

typedef struct gb {
  pare_graph *g;
  test_rng r;
  int count;
} gb;

static int tensor(gb *b, const char *name, int rank, const int64_t *dims, float lo, float hi,
                  int is_param) {
  int v = pare_graph_add_value(b->g, name, PARE_DT_F32, rank, dims);
  int64_t n = pare_shape_numel(rank, dims);
  float *d = malloc(sizeof(float) * (size_t)n);
  test_fill(&b->r, d, (size_t)n, lo, hi);
  pare_value_set_data(&b->g->values[v], d, sizeof(float) * (size_t)n, 1);
  b->g->values[v].is_param = is_param;
  return v;
}

static int op(gb *b, pare_op o, int n_in, const int *ins) {
  char name[32];
  snprintf(name, sizeof name, "n%d", b->count++);
  int y = pare_graph_add_value(b->g, name, PARE_DT_UNDEFINED, -1, NULL);
  int k = pare_graph_add_node(b->g, name, o, n_in, 1);
  for (int i = 0; i < n_in; i++) b->g->nodes[k].inputs[i] = ins[i];
  b->g->nodes[k].outputs[0] = y;
  b->g->values[y].producer = k;
  return y;
}

static pare_attr *attr(gb *b, const char *name, pare_attr_type type) {
  return pare_node_add_attr(&b->g->nodes[b->g->n_nodes - 1], name, type);
}

static void ints(gb *b, const char *name, int n, int64_t v0, int64_t v1, int64_t v2, int64_t v3) {
  pare_attr *a = attr(b, name, PARE_ATTR_INTS);
  int64_t v[4] = {v0, v1, v2, v3};
  a->ints = malloc(sizeof(int64_t) * 4);
  memcpy(a->ints, v, sizeof v);
  a->count = n;
}

/* Value out becomes the graph's only output; the graph is checked. */
static pare_graph *finish(gb *b, int out) {
  b->g->outputs = malloc(sizeof(int));
  b->g->outputs[0] = out;
  b->g->n_outputs = 1;
  pare_error err;
  if (pare_graph_validate(b->g, &err) != PARE_OK) fail_msg("%s", err.text);
  return b->g;
}

/* x [b,1,12,12] → Conv 1→4 stride 2 → BN (batch statistics) → LeakyRelu
 * → AvgPool 2 → (+ depthwise Conv → Tanh) → Sigmoid → ·scale[1,4,1,1]
 * (broadcast Mul) → MaxPool 2 pad → Selu (reference backward) →
 * GlobalAveragePool → Flatten → MatMul [4,6] → Elu → Gemm [6,5] + bias. */
static pare_graph *mixed_graph(void) {
  gb b = {pare_graph_create(), {77}, 0};
  b.g->opset = 13;
  int64_t xd[4] = {-1, 1, 12, 12};
  int x = pare_graph_add_value(b.g, "x", PARE_DT_F32, 4, xd);
  b.g->inputs = malloc(sizeof(int));
  b.g->inputs[0] = x;
  b.g->n_inputs = 1;
  int64_t w1d[4] = {4, 1, 3, 3}, c4[1] = {4}, dwd[4] = {4, 1, 3, 3}, sd[4] = {1, 4, 1, 1};
  int64_t md[2] = {4, 6}, gd[2] = {6, 5}, bd[1] = {5};
  int ins[5];
  /* No bias before batch normalization: its gradient would be rounding
   * noise, which Adam turns into full-size steps. */
  ins[0] = x, ins[1] = tensor(&b, "w1", 4, w1d, -0.5f, 0.5f, 1);
  int h = op(&b, PARE_OP_CONV, 2, ins);
  ints(&b, "strides", 2, 2, 2, 0, 0);
  ints(&b, "pads", 4, 1, 1, 1, 1);
  ins[0] = h, ins[1] = tensor(&b, "gamma", 1, c4, 0.5f, 1.5f, 1);
  ins[2] = tensor(&b, "beta", 1, c4, -0.2f, 0.2f, 1);
  ins[3] = tensor(&b, "mean", 1, c4, 0, 0, 0);
  ins[4] = tensor(&b, "var", 1, c4, 1, 1, 0);
  h = op(&b, PARE_OP_BATCH_NORM, 5, ins);
  h = op(&b, PARE_OP_LEAKY_RELU, 1, &h);
  attr(&b, "alpha", PARE_ATTR_FLOAT)->f = 0.1f;
  h = op(&b, PARE_OP_AVERAGE_POOL, 1, &h); /* [b,4,3,3] */
  ints(&b, "kernel_shape", 2, 2, 2, 0, 0);
  ints(&b, "strides", 2, 2, 2, 0, 0);
  ins[0] = h, ins[1] = tensor(&b, "dw", 4, dwd, -0.5f, 0.5f, 1);
  int d = op(&b, PARE_OP_CONV, 2, ins);
  attr(&b, "group", PARE_ATTR_INT)->i = 4;
  ints(&b, "pads", 4, 1, 1, 1, 1);
  d = op(&b, PARE_OP_TANH, 1, &d);
  ins[0] = h, ins[1] = d;
  h = op(&b, PARE_OP_ADD, 2, ins);
  h = op(&b, PARE_OP_SIGMOID, 1, &h);
  ins[0] = h, ins[1] = tensor(&b, "scale", 4, sd, 0.5f, 2.0f, 1);
  h = op(&b, PARE_OP_MUL, 2, ins);
  h = op(&b, PARE_OP_MAX_POOL, 1, &h); /* [b,4,2,2] */
  ints(&b, "kernel_shape", 2, 2, 2, 0, 0);
  ints(&b, "strides", 2, 2, 2, 0, 0);
  ints(&b, "pads", 4, 0, 0, 1, 1);
  h = op(&b, PARE_OP_SELU, 1, &h);
  h = op(&b, PARE_OP_GLOBAL_AVERAGE_POOL, 1, &h);
  h = op(&b, PARE_OP_FLATTEN, 1, &h);
  ins[0] = h, ins[1] = tensor(&b, "m", 2, md, -1, 1, 1);
  h = op(&b, PARE_OP_MATMUL, 2, ins);
  h = op(&b, PARE_OP_ELU, 1, &h);
  ins[0] = h, ins[1] = tensor(&b, "fc", 2, gd, -1, 1, 1);
  ins[2] = tensor(&b, "fcb", 1, bd, -0.1f, 0.1f, 1);
  h = op(&b, PARE_OP_GEMM, 3, ins);
  attr(&b, "alpha", PARE_ATTR_FLOAT)->f = 1.5f;
  attr(&b, "beta", PARE_ATTR_FLOAT)->f = 0.5f;
  return finish(&b, h);
}

/* x [b, 12] → Gemm(Pᵀ, xᵀ) [6, b] (transA and transB) → Gemm(yᵀ, W) + c
 * [b, 5] (transA): the transposed GEMM backward paths. */
static pare_graph *transposed_graph(void) {
  gb b = {pare_graph_create(), {91}, 0};
  b.g->opset = 13;
  int64_t xd[2] = {-1, 12}, pd[2] = {12, 6}, wd[2] = {6, 5}, cd[1] = {5};
  int x = pare_graph_add_value(b.g, "x", PARE_DT_F32, 2, xd);
  b.g->inputs = malloc(sizeof(int));
  b.g->inputs[0] = x;
  b.g->n_inputs = 1;
  int ins[3] = {tensor(&b, "p", 2, pd, -0.5f, 0.5f, 1), x, -1};
  int h = op(&b, PARE_OP_GEMM, 2, ins);
  attr(&b, "transA", PARE_ATTR_INT)->i = 1;
  attr(&b, "transB", PARE_ATTR_INT)->i = 1;
  h = op(&b, PARE_OP_TANH, 1, &h);
  ins[0] = h, ins[1] = tensor(&b, "w", 2, wd, -1, 1, 1),
  ins[2] = tensor(&b, "c", 1, cd, -0.1f, 0.1f, 1);
  h = op(&b, PARE_OP_GEMM, 3, ins);
  attr(&b, "transA", PARE_ATTR_INT)->i = 1;
  attr(&b, "alpha", PARE_ATTR_FLOAT)->f = 0.75f;
  return finish(&b, h);
}

static pare_graph *build(const char *arch) {
  if (!strcmp(arch, "mixed")) return mixed_graph();
  if (!strcmp(arch, "transposed")) return transposed_graph();
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build(arch, 3, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static int64_t input_size(const pare_graph *g) {
  const pare_value *x = &g->values[g->inputs[0]];
  int64_t n = 1;
  for (int d = 1; d < x->rank; d++) n *= x->dims[d];
  return n;
}

/* ||a - b|| relative to ||b||, with a floor for values that are zero in
 * exact arithmetic (a bias followed by batch normalization has no
 * gradient: both sides hold rounding noise). */
static double rel_diff(const float *a, const float *b, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
    den += (double)b[i] * b[i];
  }
  return sqrt(num) / (sqrt(den) + 1e-3 * sqrt((double)n));
}

typedef struct run_opts {
  const char *arch;
  pare_optimizer optimizer;
  int steps;
  int teacher; /* distil against fixed random teacher logits */
  int mask;    /* mask every third weight of each parameter */
  int quant;   /* 4-bit per-channel fake quantization of every matrix / kernel */
  int share;   /* every matrix / kernel shared as 5 trained centroids (and zeros) */
} run_opts;

/* Trains two copies, on the reference and on the device, and compares. */
static void compare(const run_opts *o) {
  pare_graph *gr = build(o->arch), *gd = build(o->arch);
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 6;
  c.optimizer = o->optimizer;
  c.schedule.lr = o->optimizer == PARE_OPT_ADAM ? 1e-2 : 0.05;
  c.sgd.weight_decay = 1e-3f;
  c.sgd.nesterov = 1;
  pare_trainer *tr, *td;
  pare_error err;
  if (pare_trainer_create(gr, &c, NULL, &tr, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_trainer_create(gd, &c, rt, &td, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_true(pare_trainer_on_device(td));
  assert_false(pare_trainer_on_device(tr));
  if (o->mask) {
    for (int v = 0; v < gr->n_values; v++) {
      if (!gr->values[v].is_param) continue;
      int64_t n = pare_value_numel(&gr->values[v]);
      uint8_t *m = malloc((size_t)n);
      for (int64_t i = 0; i < n; i++) m[i] = (uint8_t)(i % 3 != 1);
      assert_int_equal(pare_trainer_set_mask(tr, v, m, &err), PARE_OK);
      assert_int_equal(pare_trainer_set_mask(td, v, m, &err), PARE_OK);
      free(m);
    }
  }
  if (o->quant) {
    for (int v = 0; v < gr->n_values; v++) {
      if (!gr->values[v].is_param || gr->values[v].rank < 2) continue;
      assert_int_equal(pare_trainer_set_weight_quant(tr, v, 4, 1, &err), PARE_OK);
      assert_int_equal(pare_trainer_set_weight_quant(td, v, 4, 1, &err), PARE_OK);
    }
  }
  if (o->share) {
    for (int v = 0; v < gr->n_values; v++) {
      if (!gr->values[v].is_param || gr->values[v].rank < 2) continue;
      int64_t n = pare_value_numel(&gr->values[v]);
      uint8_t *lab = malloc((size_t)n);
      for (int64_t i = 0; i < n; i++) lab[i] = i % 7 == 3 ? 255 : (uint8_t)(i % 5);
      assert_int_equal(pare_trainer_set_shared(tr, v, lab, 5, &err), PARE_OK);
      assert_int_equal(pare_trainer_set_shared(td, v, lab, 5, &err), PARE_OK);
      free(lab);
    }
  }
  int64_t per = input_size(gr), classes = 0;
  float *x = malloc(sizeof(float) * (size_t)(6 * per));
  float teacher[6 * 10];
  int64_t labels[6];
  test_rng r = {5};
  for (int s = 0; s < o->steps; s++) {
    test_fill(&r, x, (size_t)(6 * per), 0, 1);
    classes = strcmp(o->arch, "mixed") && strcmp(o->arch, "transposed") ? 10 : 5;
    for (int i = 0; i < 6; i++) labels[i] = (int64_t)test_rng_below(&r, (size_t)classes);
    test_fill(&r, teacher, (size_t)(6 * classes), -3, 3);
    float lr_loss, ld_loss;
    int64_t cr, cd;
    if (pare_trainer_step(tr, x, labels, o->teacher ? teacher : NULL, &lr_loss, &cr, &err))
      fail_msg("reference: %s", err.text);
    if (pare_trainer_step(td, x, labels, o->teacher ? teacher : NULL, &ld_loss, &cd, &err))
      fail_msg("device: %s", err.text);
    if (fabs(lr_loss - ld_loss) > 1e-4 * fabs(lr_loss) + 1e-5)
      fail_msg("%s step %d: loss %.7g (reference) vs %.7g (device)", o->arch, s, lr_loss, ld_loss);
    assert_int_equal(cr, cd);
    if (s == 0) { /* first-step gradients, before the weights diverge at all */
      for (int v = 0; v < gr->n_values; v++) {
        if (!gr->values[v].is_param) continue;
        int64_t n = pare_value_numel(&gr->values[v]);
        const float *a = pare_trainer_grad(tr, v), *b = pare_trainer_grad(td, v);
        assert_non_null(a);
        assert_non_null(b);
        double d = rel_diff(b, a, n);
        if (d > 1e-4)
          fail_msg("%s: gradient of %s differs by %.3g", o->arch, gr->values[v].name, d);
      }
    }
  }
  assert_int_equal(pare_trainer_sync(td, &err), PARE_OK);
  for (int v = 0; v < gr->n_values; v++) {
    if (!gr->values[v].is_param && strcmp(gr->values[v].name, "mean") &&
        strcmp(gr->values[v].name, "var"))
      continue;
    int64_t n = pare_value_numel(&gr->values[v]);
    const float *a = gr->values[v].data, *b = gd->values[v].data;
    double d = rel_diff(b, a, n);
    if (d > 5e-4)
      fail_msg("%s after %d steps: %s differs by %.3g", o->arch, o->steps, gr->values[v].name, d);
    if (o->mask && gr->values[v].is_param)
      for (int64_t i = 1; i < n; i += 3) assert_true(b[i] == 0.0f);
    if (o->share && gr->values[v].is_param && gr->values[v].rank >= 2) {
      /* Still one value per centroid (its first member's), zeros kept. */
      int64_t first[5] = {-1, -1, -1, -1, -1};
      for (int64_t i = 0; i < n; i++) {
        if (i % 7 == 3) {
          assert_true(b[i] == 0.0f);
          continue;
        }
        if (first[i % 5] < 0) first[i % 5] = i;
        assert_true(b[i] == b[first[i % 5]]);
      }
    }
  }
  assert_int_equal(pare_trainer_steps(td), o->steps);
  free(x);
  pare_trainer_destroy(tr);
  pare_trainer_destroy(td);
  pare_graph_destroy(gr);
  pare_graph_destroy(gd);
}

static void test_simplecnn_sgd(void **state) {
  (void)state;
  run_opts o = {"simplecnn", PARE_OPT_SGD, 3, 0, 0, 0, 0};
  compare(&o);
}

static void test_lenet5_adam(void **state) {
  (void)state;
  run_opts o = {"lenet5", PARE_OPT_ADAM, 3, 0, 0, 0, 0};
  compare(&o);
}

static void test_mlp_masked_distill(void **state) {
  (void)state;
  run_opts o = {"mlp", PARE_OPT_SGD, 3, 1, 1, 0, 0};
  compare(&o);
}

static void test_mixed_sgd(void **state) {
  (void)state;
  run_opts o = {"mixed", PARE_OPT_SGD, 4, 0, 0, 0, 0};
  compare(&o);
}

static void test_mixed_adam_distill(void **state) {
  (void)state;
  run_opts o = {"mixed", PARE_OPT_ADAM, 3, 1, 0, 0, 0};
  compare(&o);
}

static void test_transposed_gemms(void **state) {
  (void)state;
  run_opts o = {"transposed", PARE_OPT_SGD, 3, 0, 0, 0, 0};
  compare(&o);
}

/* Shared weights trained as centroids, on both backends alike. */
static void test_mlp_shared_centroids(void **state) {
  (void)state;
  run_opts o = {"mlp", PARE_OPT_SGD, 4, 0, 0, 0, 1};
  compare(&o);
}

static void test_simplecnn_quant_aware(void **state) {
  (void)state;
  run_opts o = {"simplecnn", PARE_OPT_SGD, 3, 0, 1, 1, 0};
  compare(&o);
}

/* The device's own gradients against a central difference of the loss
 * along each parameter's gradient direction. */
static void test_device_gradients_finite_differences(void **state) {
  (void)state;
  pare_graph *g = build("lenet5");
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 3;
  c.schedule.lr = 0.0; /* the weights stay */
  c.sgd.momentum = 0.0f;
  pare_trainer *t;
  pare_error err;
  if (pare_trainer_create(g, &c, rt, &t, &err) != PARE_OK) fail_msg("%s", err.text);
  test_rng r = {19};
  float x[3 * 784];
  test_fill(&r, x, 3 * 784, 0, 1);
  int64_t labels[3] = {2, 9, 4};
  float loss;
  assert_int_equal(pare_trainer_step(t, x, labels, NULL, &loss, NULL, &err), PARE_OK);
  assert_float_equal(loss, test_loss_of(g, x, labels, 3), 1e-4);
  test_check_directional("device", g, t, x, labels, 3);
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

/* A model imported from ONNX trains: its initializers are parameters, and
 * the device and the reference agree step by step (PyTorch's exported
 * Linear layer from the ONNX test data). */
static void test_onnx_model_trains(void **state) {
  (void)state;
  const char *path = "/usr/share/libonnx-testdata/data/pytorch-converted/test_Linear/model.onnx";
  pare_model *mr = NULL, *md = NULL;
  char msg[512];
  pare_onnx_enable();
  if (pare_model_load(path, &mr, msg, sizeof msg) != PARE_OK) skip();
  assert_int_equal(pare_model_load(path, &md, msg, sizeof msg), PARE_OK);
  pare_graph *gr = mr->graph, *gd = md->graph;
  int params = 0;
  for (int v = 0; v < gr->n_values; v++) params += gr->values[v].is_param;
  assert_true(params >= 2); /* weight and bias */
  const pare_value *xv = &gr->values[gr->inputs[0]];
  assert_int_equal(xv->rank, 2);
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 4;
  c.schedule.lr = 0.05;
  pare_trainer *tr, *td;
  pare_error err;
  if (pare_trainer_create(gr, &c, NULL, &tr, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_trainer_create(gd, &c, rt, &td, &err) != PARE_OK) fail_msg("%s", err.text);
  int64_t features = xv->dims[1];
  float *x = malloc(sizeof(float) * (size_t)(4 * features));
  test_rng r = {23};
  test_fill(&r, x, (size_t)(4 * features), -1, 1);
  int64_t labels[4] = {0, 1, 2, 3};
  float first = 0, loss_r = 0, loss_d = 0;
  for (int s = 0; s < 20; s++) {
    assert_int_equal(pare_trainer_step(tr, x, labels, NULL, &loss_r, NULL, &err), PARE_OK);
    assert_int_equal(pare_trainer_step(td, x, labels, NULL, &loss_d, NULL, &err), PARE_OK);
    if (s == 0) first = loss_r;
    assert_float_equal(loss_r, loss_d, 1e-4 * fabsf(loss_r) + 1e-5);
  }
  if (!(loss_r < 0.5f * first)) fail_msg("loss %.4f -> %.4f on a repeated batch", first, loss_r);
  free(x);
  pare_trainer_destroy(tr);
  pare_trainer_destroy(td);
  pare_model_destroy(mr);
  pare_model_destroy(md);
}

static void test_bad_label_is_refused(void **state) {
  (void)state;
  pare_graph *g = build("mlp");
  pare_train_config c;
  pare_train_config_init(&c);
  c.batch = 2;
  pare_trainer *t;
  pare_error err;
  assert_int_equal(pare_trainer_create(g, &c, rt, &t, &err), PARE_OK);
  float x[2 * 784] = {0};
  int64_t labels[2] = {3, 10};
  float loss;
  assert_int_equal(pare_trainer_step(t, x, labels, NULL, &loss, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "label 10"));
  pare_trainer_destroy(t);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_simplecnn_sgd),
      cmocka_unit_test(test_lenet5_adam),
      cmocka_unit_test(test_mlp_masked_distill),
      cmocka_unit_test(test_mixed_sgd),
      cmocka_unit_test(test_mixed_adam_distill),
      cmocka_unit_test(test_simplecnn_quant_aware),
      cmocka_unit_test(test_mlp_shared_centroids),
      cmocka_unit_test(test_transposed_gemms),
      cmocka_unit_test(test_device_gradients_finite_differences),
      cmocka_unit_test(test_onnx_model_trains),
      cmocka_unit_test(test_bad_label_is_refused),
  };
  return cmocka_run_group_tests_name("train_cl", tests, test_cl_setup, test_cl_teardown);
}
