/* The executor on compressed models: pruned models (magnitude and 2:4) run
 * on the sparse kernels (PARE_SPARSE=always) compute what the reference
 * computes, every eligible layer takes that path, a weight that changes
 * leaves it; quantized (QDQ) models run their quantize/dequantize pairs on
 * the device with the reference's numbers, with each activation in a device
 * buffer of its own and all of them in one arena; the tuning database keeps
 * values across runtimes and survives a damaged file. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/compress/prune.h"
#include "engine/compress/quantize.h"
#include "engine/train/zoo.h"
#include "host/exec_cl.h"
#include "host/tuning.h"
#include "tests/test_cl.h"
#include "tests/test_graph_util.h"

/* pare_exec_cl_qdq_conv_nodes after run_both_tol's last run, and the
 * nodes that ran on the N:M kernel. */
static int last_qdq_conv, last_nm, last_baked;

/* Runs g on the device twice and on the reference; outputs within tol;
 * want_sparse (want_int8, unless negative) nodes on the sparse (integer)
 * kernels. */
static void run_both_tol(const pare_graph *g, int64_t batch, int want_sparse, int want_int8,
                         double tol) {
  test_rng rng = {batch};
  int64_t dims[4] = {batch, 1, 28, 28};
  float *x = malloc(sizeof(float) * (size_t)(batch * 784));
  test_fill(&rng, x, (size_t)(batch * 784), 0, 1);
  pare_tensor ref;
  test_run_ref(g, x, 4, dims, &ref);
  pare_tensor in = {PARE_DT_F32, 4, {batch, 1, 28, 28}, x, sizeof(float) * (size_t)(batch * 784),
                    0,           0};
  /* Each value a buffer of its own, then the activations in one arena. */
  for (int arena = 0; arena < 2; arena++) {
    pare_plan *p;
    pare_error err;
    if (pare_plan_create_ex(g, &in, 1, arena ? PARE_PLAN_ARENA : 0, &p, &err) != PARE_OK)
      fail_msg("%s", err.text);
    pare_tensor out;
    for (int run = 0; run < 2; run++) { /* the first run decides, the second reuses */
      if (pare_plan_run_cl(p, rt, &in, 1, &out, &err) != PARE_OK) fail_msg("%s", err.text);
      assert_int_equal(pare_tensor_numel(&out), pare_tensor_numel(&ref));
      double worst = 0;
      for (int64_t i = 0; i < pare_tensor_numel(&ref); i++) {
        double d = fabs((double)((float *)out.data)[i] - ((float *)ref.data)[i]);
        if (d > worst) worst = d;
      }
      if (worst > tol)
        fail_msg("device output%s differs from the reference by %g (> %g)",
                 arena ? " (activations in an arena)" : "", worst, tol);
      pare_tensor_release(&out);
    }
    assert_int_equal(pare_exec_cl_sparse_nodes(p), want_sparse);
    if (want_int8 >= 0) assert_int_equal(pare_exec_cl_int8_nodes(p), want_int8);
    last_qdq_conv = pare_exec_cl_qdq_conv_nodes(p);
    last_nm = last_baked = 0;
    for (int i = 0; i < g->n_nodes; i++) {
      last_nm += !strcmp(pare_exec_cl_node_form(p, i), "sparse N:M");
      last_baked += !strcmp(pare_exec_cl_node_form(p, i), "baked");
    }
    /* A weight that changes leaves the baked code too. */
    if (last_baked) {
      for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == PARE_OP_CONV) pare_exec_cl_value_changed(p, g->nodes[i].inputs[1], 0);
      for (int i = 0; i < g->n_nodes; i++)
        assert_string_not_equal(pare_exec_cl_node_form(p, i), "baked");
    }
    /* A weight that changes (as in training) sends its node back to dense. */
    if (want_sparse) {
      for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == PARE_OP_CONV || g->nodes[i].op == PARE_OP_GEMM)
          pare_exec_cl_value_changed(p, g->nodes[i].inputs[1], 0);
      assert_int_equal(pare_exec_cl_sparse_nodes(p), 0);
    }
    assert_true(arena == (pare_exec_cl_arena_bytes(p) > 0));
    pare_plan_destroy(p);
  }
  pare_tensor_release(&ref);
  free(x);
}

static void run_both(const pare_graph *g, int64_t batch, int want_sparse) {
  run_both_tol(g, batch, want_sparse, -1, 2e-4);
}

static pare_graph *pruned(const char *arch, const char *mode) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 5, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  pare_prune_options o;
  pare_prune_options_init(&o);
  assert_true(pare_prune_parse_mode(mode, &o));
  o.amount = 0.9;
  o.dense = "none";
  if (pare_prune_apply(g, &o, NULL, NULL, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static void test_sparse_models(void **state) {
  (void)state;
  setenv("PARE_SPARSE", "always", 1);
  /* Every Conv and Gemm of these models is eligible (groups 1, Relu). */
  /* N:M weights of fully connected layers run on the N:M kernel (at 90%
   * unstructured a layer often fits 4:8 as well: not checked, -1). */
  const struct {
    const char *arch, *mode;
    int layers, nm;
  } cases[] = {{"mlp", "global", 3, -1},
               {"simplecnn", "layer", 3, -1},
               {"lenet5", "2:4", 5, 3},
               {"mlp", "4:8", 3, 3}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    pare_graph *g = pruned(cases[c].arch, cases[c].mode);
    run_both(g, 1, cases[c].layers);
    if (cases[c].nm >= 0) assert_int_equal(last_nm, cases[c].nm);
    run_both(g, 7, cases[c].layers);
    if (cases[c].nm >= 0) assert_int_equal(last_nm, cases[c].nm);
    pare_graph_destroy(g);
  }
  /* A dense model has nothing to run sparse. */
  pare_graph *g = NULL;
  pare_error err;
  assert_int_equal(pare_zoo_build("mlp", 5, &g, &err), PARE_OK);
  run_both(g, 3, 0);
  pare_graph_destroy(g);
  setenv("PARE_SPARSE", "never", 1);
  g = pruned("mlp", "global");
  run_both(g, 3, 0);
  pare_graph_destroy(g);
  unsetenv("PARE_SPARSE");
}

/* Pruned convolutions with their weights baked into the implicit GEMM
 * (PARE_BAKE=always; the sparse kernels off): SimpleCNN and LeNet-5 at
 * 90% per layer (SimpleCNN's convolutions pooled in the epilogue),
 * against the reference at batch 1 and 7; a dense model (and LeNet-5 in
 * 2:4, whose 5x5 windows keep more than half their weights) and
 * PARE_BAKE=never bake nothing. */
static void test_baked_models(void **state) {
  (void)state;
  setenv("PARE_SPARSE", "never", 1);
  setenv("PARE_BAKE", "always", 1);
  const char *const cases[][2] = {{"simplecnn", "layer"}, {"lenet5", "layer"}};
  for (size_t c = 0; c < 2; c++) {
    pare_graph *g = pruned(cases[c][0], cases[c][1]);
    run_both(g, 1, 0);
    assert_int_equal(last_baked, 2);
    run_both(g, 7, 0);
    assert_int_equal(last_baked, 2);
    pare_graph_destroy(g);
  }
  pare_graph *g = NULL;
  pare_error err;
  assert_int_equal(pare_zoo_build("simplecnn", 5, &g, &err), PARE_OK);
  run_both(g, 3, 0);
  assert_int_equal(last_baked, 0);
  pare_graph_destroy(g);
  g = pruned("lenet5", "2:4");
  run_both(g, 3, 0);
  assert_int_equal(last_baked, 0);
  pare_graph_destroy(g);
  /* Runs marked as an accuracy pass leave the choice to a later run. */
  g = pruned("simplecnn", "layer");
  {
    float x[784];
    test_rng rng = {3};
    test_fill(&rng, x, 784, 0, 1);
    pare_tensor in = {PARE_DT_F32, 4, {1, 1, 28, 28}, x, sizeof x, 0, 0}, out;
    pare_plan *p;
    assert_int_equal(pare_plan_create_ex(g, &in, 1, 0, &p, &err), PARE_OK);
    p->evaluating = 1;
    assert_int_equal(pare_plan_run_cl(p, rt, &in, 1, &out, &err), PARE_OK);
    pare_tensor_release(&out);
    for (int i = 0; i < g->n_nodes; i++)
      assert_string_not_equal(pare_exec_cl_node_form(p, i), "baked");
    p->evaluating = 0;
    assert_int_equal(pare_plan_run_cl(p, rt, &in, 1, &out, &err), PARE_OK);
    pare_tensor_release(&out);
    int baked = 0;
    for (int i = 0; i < g->n_nodes; i++) baked += !strcmp(pare_exec_cl_node_form(p, i), "baked");
    assert_int_equal(baked, 2);
    pare_plan_destroy(p);
  }
  pare_graph_destroy(g);
  setenv("PARE_BAKE", "never", 1);
  g = pruned("simplecnn", "layer");
  run_both(g, 3, 0);
  assert_int_equal(last_baked, 0);
  pare_graph_destroy(g);
  unsetenv("PARE_BAKE");
  unsetenv("PARE_SPARSE");
}

/* A plan outlives the runtime it ran on: freeing it later touches no
 * freed runtime (the sparse buffers included; ASan checks this). */
static void test_plan_outlives_runtime(void **state) {
  (void)state;
  setenv("PARE_SPARSE", "always", 1);
  pare_graph *g = pruned("mlp", "global");
  pare_cl_runtime_options opt = {0};
  opt.no_cache = 1;
  pare_cl_runtime *own;
  pare_error err;
  assert_int_equal(pare_cl_runtime_create(&opt, &own, &err), PARE_OK);
  float x[5 * 784] = {0};
  pare_tensor in = {PARE_DT_F32, 4, {5, 1, 28, 28}, x, sizeof x, 0, 0}, out;
  pare_plan *p;
  assert_int_equal(pare_plan_create(g, &in, 1, &p, &err), PARE_OK);
  assert_int_equal(pare_plan_run_cl(p, own, &in, 1, &out, &err), PARE_OK);
  assert_int_equal(pare_exec_cl_sparse_nodes(p), 3);
  pare_tensor_release(&out);
  pare_cl_runtime_destroy(own);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
  unsetenv("PARE_SPARSE");
}

/* int8 weights and uint8 activations (calibrated on Fashion-MNIST). In
 * float (PARE_INT8=never: the pairs as nodes; float: the matched layers'
 * float form) the device output matches the reference to float
 * rounding of the layers (the quantize/dequantize pairs agree exactly);
 * on the integer kernels (PARE_INT8=always: every layer, three in each
 * model) to the bias's rounding to the accumulator's scale, which can move
 * a later activation by one quantization step. */
static void test_qdq_models(void **state) {
  (void)state;
  const char *archs[] = {"simplecnn", "mlp"};
  static const char *const modes[3] = {"never", "always", "float"};
  for (int a = 0; a < 6; a++) {
    const int int8 = a / 2 == 1;
    setenv("PARE_INT8", modes[a / 2], 1);
    pare_graph *g = NULL;
    pare_error err;
    assert_int_equal(pare_zoo_build(archs[a % 2], 5, &g, &err), PARE_OK);
    pare_quant_options o;
    pare_quant_options_init(&o);
    o.calib_images = 100;
    if (pare_quantize_apply(g, &o, NULL, NULL, &err) != PARE_OK) {
      pare_graph_destroy(g);
      skip(); /* no Fashion-MNIST here */
    }
    /* In the matched float form (PARE_INT8=float), SimpleCNN's two
     * convolutions take their input's pair in the implicit GEMM's input
     * copy (from the second run on). */
    run_both_tol(g, 6, 0, int8 ? 3 : 0, int8 ? 5e-3 : 2e-4);
    assert_int_equal(last_qdq_conv, a == 4 ? 2 : 0);
    pare_graph_destroy(g);
  }
  unsetenv("PARE_INT8");
}

/* ---- QDQ graphs as other tools write them ---- */

static int qdq_const(pare_graph *g, const char *name, pare_dtype dt, int rank, const int64_t *dims,
                     const void *data, size_t elem) {
  int v = pare_graph_add_value(g, name, dt, rank, dims);
  size_t bytes = elem * (size_t)pare_shape_numel(rank, dims);
  pare_value_set_data(&g->values[v], (void *)data, bytes, 0);
  return v;
}

static int qdq_node(pare_graph *g, const char *name, pare_op op, int n_in, const int *ins) {
  int y = pare_graph_add_value(g, name, PARE_DT_UNDEFINED, -1, NULL);
  int k = pare_graph_add_node(g, name, op, n_in, 1);
  memcpy(g->nodes[k].inputs, ins, sizeof(int) * (size_t)n_in);
  g->nodes[k].outputs[0] = y;
  g->values[y].producer = k;
  return y;
}

/* x → QuantizeLinear (int8, zero point −7) → DequantizeLinear → layer on
 * DequantizeLinear(int8 weight) → Relu, the way onnxruntime's quantizer
 * writes models: a MatMul whose weight has one scale per column (axis 1,
 * one column of scale 0) and a reduction of 70 (not whole vectors), or a
 * padded Conv with one scale for the whole weight and a bias. */
static pare_graph *qdq_graph(int conv, test_rng *r) {
  pare_graph *g = pare_graph_create();
  g->opset = 13;
  /* Constants are copied into the graph (qdq_const). The MatMul weight,
   * 70 × 9, is the larger of the two. */
  float xs = 1.0f / 100, ws_all[9], bias[6], one_scale = 0.02f;
  int8_t xz = -7, w8[70 * 9];
  int64_t xd4[4] = {2, 3, 9, 9}, xd2[2] = {5, 70}, wd4[4] = {6, 3, 3, 3}, wd2[2] = {70, 9};
  int64_t one[1] = {1}, nine[1] = {9}, six[1] = {6};
  for (size_t i = 0; i < sizeof w8; i++) w8[i] = (int8_t)(test_rng_below(r, 255) - 127);
  for (int i = 0; i < 9; i++) ws_all[i] = i == 4 ? 0.0f : test_rng_uniform(r, 0.005f, 0.02f);
  for (int i = 0; i < 6; i++) bias[i] = test_rng_uniform(r, -0.3f, 0.3f);
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, conv ? 4 : 2, conv ? xd4 : xd2);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->n_inputs = 1;
  int s = qdq_const(g, "x_scale", PARE_DT_F32, 0, one, &xs, 4);
  int z = qdq_const(g, "x_zero", PARE_DT_I8, 0, one, &xz, 1);
  int q = qdq_node(g, "x_q", PARE_OP_QUANTIZE_LINEAR, 3, (int[]){x, s, z});
  int xdq = qdq_node(g, "x_dq", PARE_OP_DEQUANTIZE_LINEAR, 3, (int[]){q, s, z});
  int w = qdq_const(g, "w_q", PARE_DT_I8, conv ? 4 : 2, conv ? wd4 : wd2, w8, 1);
  int ws = conv ? qdq_const(g, "w_scale", PARE_DT_F32, 0, one, &one_scale, 4)
                : qdq_const(g, "w_scale", PARE_DT_F32, 1, nine, ws_all, 4);
  int wdq = qdq_node(g, "w_dq", PARE_OP_DEQUANTIZE_LINEAR, 2, (int[]){w, ws});
  if (!conv) pare_node_add_attr(&g->nodes[g->values[wdq].producer], "axis", PARE_ATTR_INT)->i = 1;
  int h;
  if (conv) {
    int b = qdq_const(g, "b", PARE_DT_F32, 1, six, bias, 4);
    h = qdq_node(g, "conv", PARE_OP_CONV, 3, (int[]){xdq, wdq, b});
    pare_attr *a = pare_node_add_attr(&g->nodes[g->values[h].producer], "pads", PARE_ATTR_INTS);
    a->ints = malloc(sizeof(int64_t) * 4);
    for (int i = 0; i < 4; i++) a->ints[i] = 1;
    a->count = 4;
  } else {
    h = qdq_node(g, "matmul", PARE_OP_MATMUL, 2, (int[]){xdq, wdq});
  }
  int y = qdq_node(g, "relu", PARE_OP_RELU, 1, (int[]){h});
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->n_outputs = 1;
  return g;
}

static void run_qdq_graph(int conv, int int8) {
  test_rng r = {77 + (uint64_t)conv};
  pare_graph *g = qdq_graph(conv, &r);
  int64_t dims[4] = {2, 3, 9, 9};
  if (!conv) dims[0] = 5, dims[1] = 70;
  size_t n = (size_t)pare_shape_numel(conv ? 4 : 2, dims);
  float *x = malloc(sizeof(float) * n);
  test_fill(&r, x, n, -0.5f, 1.0f);
  pare_tensor ref;
  test_run_ref(g, x, conv ? 4 : 2, dims, &ref);
  pare_tensor in = {PARE_DT_F32, conv ? 4 : 2, {0}, x, sizeof(float) * n, 0, 0}, out;
  memcpy(in.dims, dims, sizeof dims);
  pare_plan *p;
  pare_error err;
  if (pare_plan_create(g, &in, 1, &p, &err) != PARE_OK) fail_msg("%s", err.text);
  if (pare_plan_run_cl(p, rt, &in, 1, &out, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(pare_exec_cl_int8_nodes(p), int8);
  /* The float form matches to rounding; the integer one to the bias's
   * rounding (half a step of s_x·s_w, about 1e-4 here). */
  double tol = int8 ? 2e-4 : 1e-5;
  for (int64_t i = 0; i < pare_tensor_numel(&ref); i++)
    assert_float_equal(((float *)out.data)[i], ((float *)ref.data)[i], tol);
  pare_tensor_release(&out);
  pare_tensor_release(&ref);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
  free(x);
}

static void test_qdq_graphs(void **state) {
  (void)state;
  for (int conv = 0; conv < 2; conv++) {
    setenv("PARE_INT8", "always", 1);
    run_qdq_graph(conv, 1);
    setenv("PARE_INT8", "never", 1);
    run_qdq_graph(conv, 0);
  }
  unsetenv("PARE_INT8");
}

static void test_tuning_database(void **state) {
  (void)state;
  char dir[] = "/tmp/pare-tuning-XXXXXX";
  assert_non_null(mkdtemp(dir));
  pare_cl_runtime_options opt = {0};
  opt.cache_dir = dir;
  pare_error err;
  pare_cl_runtime *a, *b;
  assert_int_equal(pare_cl_runtime_create(&opt, &a, &err), PARE_OK);
  double v = 0;
  assert_false(pare_tuning_get(a, "k.one", &v));
  pare_tuning_put(a, "k.one", 1.5);
  pare_tuning_put(a, "k.two", -2);
  pare_tuning_put(a, "k.one", 3.25);  /* replaces */
  pare_tuning_put(a, "has space", 9); /* refused */
  assert_true(pare_tuning_get(a, "k.one", &v));
  assert_true(v == 3.25);
  /* Puts are written together at a flush, not one by one. */
  char ls[600];
  snprintf(ls, sizeof ls, "ls %s/tuning-*.txt > /dev/null 2>&1", dir);
  assert_int_not_equal(system(ls), 0);
  pare_tuning_flush(a);
  assert_int_equal(system(ls), 0);
  pare_tuning_put(a, "k.two", -2.5);
  pare_tuning_put(a, "k.two", -2); /* written when the runtime goes */
  pare_cl_runtime_destroy(a);
  /* A new runtime reads the file; junk lines in it are skipped. */
  char path[512], cmd[700];
  snprintf(cmd, sizeof cmd,
           "for f in %s/tuning-*.txt; do printf 'garbage\\n\\n k.three 7 \\n' >> \"$f\"; done",
           dir);
  assert_int_equal(system(cmd), 0);
  assert_int_equal(pare_cl_runtime_create(&opt, &b, &err), PARE_OK);
  assert_true(pare_tuning_get(b, "k.one", &v) && v == 3.25);
  assert_true(pare_tuning_get(b, "k.two", &v) && v == -2);
  assert_true(pare_tuning_get(b, "k.three", &v) && v == 7);
  assert_false(pare_tuning_get(b, "has", &v));
  pare_cl_runtime_destroy(b);
  snprintf(path, sizeof path, "rm -rf %s", dir);
  assert_int_equal(system(path), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sparse_models),
      cmocka_unit_test(test_baked_models),
      cmocka_unit_test(test_plan_outlives_runtime),
      cmocka_unit_test(test_qdq_models),
      cmocka_unit_test(test_qdq_graphs),
      cmocka_unit_test(test_tuning_database),
  };
  return cmocka_run_group_tests(tests, test_cl_setup, test_cl_teardown);
}
