/* Operator fusion in the OpenCL executor: each model runs fused (Conv with
 * BatchNormalization folded, residual Add, ReLU/Clip and a following
 * MaxPool/AveragePool in its epilogue; Gemm with ReLU) and with no fusion at all
 * (PARE_PLAN_NO_FUSE, PARE_NO_FUSE=1, pare_context_options.no_fuse: every node its own launch,
 * BatchNormalization as a per-channel affine kernel); both agree with each
 * other and with the reference backend within fp32 tolerance, and the
 * expected nodes are absorbed. */
#define _DEFAULT_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/context_internal.h"
#include "engine/io/onnx_export.h"
#include "engine/model_internal.h"
#include "engine/passes/passes.h"
#include "engine/train/zoo.h"
#include "host/exec_cl.h"
#include "host/launch/conv2d_geom.h"
#include "host/tuning.h"
#include "pare/pare_onnx.h"
#include "tests/test_cl.h"
#include "tests/test_graph_util.h"

/* Nodes of op in g. */
static int count_op(const pare_graph *g, pare_op op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].op == op;
  return n;
}

/* Whether run_cl's arena shrank when it was laid out again after the
 * first run (and check_graph's, fused). */
static int last_arena_shrank, fused_arena_shrank;

/* Output 0 of a run of g on the device with a plan made with `flags`;
 * *fused gets pare_exec_cl_fused_nodes of that plan. The same plan with
 * its activations in one device arena (PARE_PLAN_ARENA) must give the
 * same numbers, in fewer bytes than a buffer per value (training plans,
 * which keep parameters, keep a buffer per value). */
static void run_cl(const pare_graph *g, const pare_tensor *in, int flags, pare_tensor *out,
                   int *fused) {
  pare_tensor in_arena = {0};
  for (int arena = 0; arena < 2; arena++) {
    pare_plan *p;
    pare_error err;
    if (pare_plan_create_ex(g, in, 1, flags | (arena ? PARE_PLAN_ARENA : 0), &p, &err) != PARE_OK)
      fail_msg("%s", err.text);
    pare_tensor *y = arena ? &in_arena : out;
    size_t first_bytes = 0;
    for (int run = 0; run < 2; run++) { /* the second run reuses the folded weights */
      if (run) pare_tensor_release(y);
      if (pare_plan_run_cl(p, rt, in, 1, y, &err) != PARE_OK) fail_msg("%s", err.text);
      if (!run) first_bytes = pare_exec_cl_arena_bytes(p);
    }
    /* Laid out again after the first run without the values no launch wrote. */
    assert_true(pare_exec_cl_arena_bytes(p) <= first_bytes);
    last_arena_shrank = pare_exec_cl_arena_bytes(p) < first_bytes;
    if (arena) {
      pare_memory_plan mp;
      if (pare_memory_plan_build(p, &mp, &err) != PARE_OK) fail_msg("%s", err.text);
      size_t bytes = pare_exec_cl_arena_bytes(p);
      if (flags & PARE_PLAN_KEEP_PARAMS) /* training: the backward pass reads them all */
        assert_int_equal(bytes, 0);
      else if (!(bytes > 0 && bytes < mp.naive))
        fail_msg("device arena of %zu bytes (a buffer per value: %zu)", bytes, mp.naive);
      pare_memory_plan_free(&mp);
      test_assert_close(in_arena.data, out->data, (size_t)pare_tensor_numel(out), 0.0,
                        "activations in an arena vs a buffer each");
      pare_tensor_release(&in_arena);
    } else {
      *fused = pare_exec_cl_fused_nodes(p);
    }
    pare_plan_destroy(p);
  }
}

/* got within fp32 tolerance of want (relative to the largest output). */
static void assert_close(const pare_tensor *got, const pare_tensor *want, const char *what) {
  int64_t n = pare_tensor_numel(want);
  assert_int_equal(pare_tensor_numel(got), n);
  const float *a = got->data, *b = want->data;
  /* In float: aarch64 GCC 12 crashes (an internal compiler error) when it
   * vectorizes this reduction as fmax over doubles. */
  float amax = 0;
  for (int64_t i = 0; i < n; i++) amax = fmaxf(amax, fabsf(b[i]));
  test_assert_close(a, b, (size_t)n, 1e-5 * (1.0 + (double)amax), what);
}

/* g at batch `batch` (input [batch, c, h, w]): fused and unfused on the
 * device and, when ref, on the reference; `want_fused` nodes absorbed. */
static void check_graph(const pare_graph *g, const char *name, int64_t batch, int64_t c, int64_t h,
                        int64_t w, int ref, int want_fused) {
  int64_t dims[4] = {batch, c, h, w}, numel = batch * c * h * w;
  float *x = malloc(sizeof(float) * (size_t)numel);
  assert_non_null(x);
  test_rng rng = {(uint64_t)(batch * 7 + c)};
  test_fill(&rng, x, (size_t)numel, -1, 1);
  pare_tensor in = {PARE_DT_F32, 4, {batch, c, h, w}, x, sizeof(float) * (size_t)numel, 0, 0};
  pare_tensor fused, unfused, want;
  int n_fused, n_unfused;
  run_cl(g, &in, 0, &fused, &n_fused);
  fused_arena_shrank = last_arena_shrank;
  run_cl(g, &in, PARE_PLAN_NO_FUSE, &unfused, &n_unfused);
  char what[128];
  snprintf(what, sizeof what, "%s batch %lld: fused vs unfused", name, (long long)batch);
  assert_close(&fused, &unfused, what);
  if (ref) {
    test_run_ref(g, x, 4, dims, &want);
    snprintf(what, sizeof what, "%s batch %lld: fused vs reference", name, (long long)batch);
    assert_close(&fused, &want, what);
    snprintf(what, sizeof what, "%s batch %lld: unfused vs reference", name, (long long)batch);
    assert_close(&unfused, &want, what);
    pare_tensor_release(&want);
  }
  if (n_fused != want_fused || n_unfused != 0)
    fail_msg("%s: %d nodes fused (want %d), %d without fusion", name, n_fused, want_fused,
             n_unfused);
  pare_tensor_release(&fused);
  pare_tensor_release(&unfused);
  free(x);
}

static pare_graph *zoo(const char *arch) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 11, &g, &err) != PARE_OK) fail_msg("%s: %s", arch, err.text);
  return g;
}

/* The BatchNormalizations of a zoo graph get random statistics (the zoo's
 * are the identity), so that folding them changes the weights. */
static void randomize_bn(pare_graph *g) {
  test_rng r = {99};
  for (int i = 0; i < g->n_nodes; i++) {
    if (g->nodes[i].op != PARE_OP_BATCH_NORM) continue;
    for (int k = 1; k < 5; k++) {
      pare_value *v = &g->values[g->nodes[i].inputs[k]];
      float *d = v->data;
      for (int64_t j = 0; j < pare_value_numel(v); j++)
        d[j] = k == 4 ? test_rng_uniform(&r, 0.5f, 2.0f) : test_rng_uniform(&r, -0.5f, 1.5f);
    }
  }
}

/* SimpleCNN and LeNet-5 (Conv + Relu + MaxPool/AveragePool, pooled in
 * the convolution's epilogue), the MLP and LeNet-5's hidden layers (Gemm +
 * Relu), at batch 1 and an odd batch. */
static void test_small_models(void **state) {
  (void)state;
  const char *archs[] = {"simplecnn", "lenet5", "mlp", "simplecnn:5,7"};
  for (int a = 0; a < 4; a++) {
    pare_graph *g = zoo(archs[a]);
    for (int64_t batch = 1; batch <= 3; batch += 2) {
      check_graph(g, archs[a], batch, 1, 28, 28, 1,
                  count_op(g, PARE_OP_RELU) + count_op(g, PARE_OP_MAX_POOL) +
                      count_op(g, PARE_OP_AVERAGE_POOL));
      /* The pooled convolutions never write their own output: the arena
       * laid out again leaves it out. */
      if (a < 2) assert_true(fused_arena_shrank);
    }
    pare_graph_destroy(g);
  }
}

/* Pooled MaxPool nodes of the plan's last run (form "absorbed"), of 2. */
static int pools_absorbed(const pare_graph *g, const pare_plan *p) {
  int pools = 0, absorbed = 0;
  for (int i = 0; i < g->n_nodes; i++)
    if (g->nodes[i].op == PARE_OP_MAX_POOL) {
      pools++;
      absorbed += !strcmp(pare_exec_cl_node_form(p, i), "absorbed");
    }
  assert_int_equal(pools, 2);
  return absorbed;
}

/* A pooling planned into a convolution that then takes the direct path
 * (forced here by a tuning entry) runs as its own launch, with the same
 * result; the other convolution still pools. In the arena: the first run
 * pools both, so conv1's own output is left out when the arena is laid
 * out again; the second run, conv1 direct, writes it all the same. */
static void test_pool_fallback(void **state) {
  (void)state;
  pare_graph *g = zoo("simplecnn");
  /* The direct path for conv1, pooled (the launch the executor tries
   * first) or not. */
  const char *key = "tune.conv2d_f32.path@n=3,c=1,h=28,w=28,m=16,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1";
  const char *pooled_key = "tune.conv2d_f32.path@n=3,c=1,h=28,w=28,m=16,k=3x3,g=1,s=1x1,d=1x1,p=1,"
                           "1,1,1,pool=1:2x2/2x2";
  float x[3 * 784];
  test_rng rng = {21};
  test_fill(&rng, x, 3 * 784, 0, 1);
  int64_t dims[4] = {3, 1, 28, 28};
  pare_tensor in = {PARE_DT_F32, 4, {3, 1, 28, 28}, x, sizeof x, 0, 0}, got, want;
  test_run_ref(g, x, 4, dims, &want);
  for (int arena = 0; arena < 2; arena++) {
    pare_plan *p;
    pare_error err;
    assert_int_equal(pare_plan_create_ex(g, &in, 1, arena ? PARE_PLAN_ARENA : 0, &p, &err),
                     PARE_OK);
    if (arena) { /* both pooled first */
      if (pare_plan_run_cl(p, rt, &in, 1, &got, &err) != PARE_OK) fail_msg("%s", err.text);
      assert_int_equal(pools_absorbed(g, p), 2);
      assert_close(&got, &want, "simplecnn in the arena, both pooled");
      pare_tensor_release(&got);
    }
    size_t before = pare_exec_cl_arena_bytes(p);
    pare_tuning_set(rt, key, 0);
    pare_tuning_set(rt, pooled_key, 0);
    if (pare_plan_run_cl(p, rt, &in, 1, &got, &err) != PARE_OK) fail_msg("%s", err.text);
    pare_tuning_forget(rt, key);
    pare_tuning_forget(rt, pooled_key);
    assert_int_equal(pools_absorbed(g, p), 1);
    assert_close(&got, &want, "simplecnn, conv1 direct: pooled apart");
    if (arena) assert_true(pare_exec_cl_arena_bytes(p) < before);
    pare_tensor_release(&got);
    pare_plan_destroy(p);
  }
  pare_tensor_release(&want);
  pare_graph_destroy(g);
}

/* Every 3x3 convolution on Winograd F(2x2, 3x3) (a profile whose
 * conv2d_f32.winograd is 1): SimpleCNN with
 * both poolings in the output transform, and the ResNet block with its
 * residual, each against the reference. */
static void test_winograd(void **state) {
  (void)state;
  const pare_profile *saved = rt->profile;
  pare_profile wino = {"winograd-test",
                       saved->name,
                       "",
                       "test: Winograd for every 3x3 window",
                       {{"conv2d_f32.winograd", 1}, {NULL, 0}}};
  rt->profile = &wino;
  pare_conv2d_f32_args conv1;
  assert_true(
      pare_conv2d_shape_parse("n=3,c=1,h=28,w=28,m=16,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1", &conv1));
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(rt, "conv2d_f32", &conv1, 1, &pl);
  assert_int_equal(pl.path, PARE_CONV2D_WINOGRAD);
  pare_graph *g = zoo("simplecnn");
  check_graph(g, "simplecnn on winograd", 3, 1, 28, 28, 1, 4);
  float x[2 * 784];
  test_rng rng = {5};
  test_fill(&rng, x, 2 * 784, 0, 1);
  pare_tensor in = {PARE_DT_F32, 4, {2, 1, 28, 28}, x, sizeof x, 0, 0}, got;
  pare_plan *p;
  pare_error err;
  assert_int_equal(pare_plan_create_ex(g, &in, 1, PARE_PLAN_ARENA, &p, &err), PARE_OK);
  if (pare_plan_run_cl(p, rt, &in, 1, &got, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(pools_absorbed(g, p), 2);
  pare_tensor_release(&got);
  pare_plan_destroy(p);
  pare_graph_destroy(g);
  g = zoo("resnet-block");
  randomize_bn(g);
  check_graph(g, "resnet-block on winograd", 1, 64, 56, 56, 1, 5);
  pare_graph_destroy(g);
  rt->profile = saved;
}

/* ResNet-18's first basic block: conv-bn-relu and conv-bn-add-relu each
 * become one launch; with BatchNormalization folded beforehand (as ONNX
 * import does), conv+relu and conv+add+relu. */
static void test_basic_block(void **state) {
  (void)state;
  pare_graph *g = zoo("resnet-block");
  randomize_bn(g);
  check_graph(g, "resnet-block", 1, 64, 56, 56, 1, 5);
  check_graph(g, "resnet-block", 2, 64, 56, 56, 0, 5);
  int folded;
  pare_error err;
  assert_int_equal(pare_pass_fold_batchnorm(g, &folded, &err), PARE_OK);
  assert_int_equal(folded, 2);
  check_graph(g, "resnet-block (BN folded)", 1, 64, 56, 56, 1, 3);
  pare_graph_destroy(g);
}

/* MobileNetV2: depthwise convolutions (the direct kernel) with BN and
 * ReLU6 (Clip with constant bounds), projections with a residual Add and
 * no activation. Every BN, Clip and Add is absorbed. */
static void test_mobilenetv2(void **state) {
  (void)state;
  pare_graph *g = zoo("mobilenetv2");
  randomize_bn(g);
  int want = count_op(g, PARE_OP_BATCH_NORM) + count_op(g, PARE_OP_CLIP) + count_op(g, PARE_OP_ADD);
  check_graph(g, "mobilenetv2", 1, 3, 224, 224, 0, want);
  pare_graph_destroy(g);
}

/* PARE_NO_FUSE=1 turns fusion off for every plan; training plans (which
 * keep parameters) fuse only a Conv's activation. */
static void test_switches(void **state) {
  (void)state;
  pare_graph *g = zoo("resnet-block");
  size_t bytes = sizeof(float) * 64 * 56 * 56;
  float *x = calloc(1, bytes);
  assert_non_null(x);
  pare_tensor in = {PARE_DT_F32, 4, {1, 64, 56, 56}, x, bytes, 0, 0}, out;
  int n;
  setenv("PARE_NO_FUSE", "1", 1);
  run_cl(g, &in, 0, &out, &n);
  assert_int_equal(n, 0);
  pare_tensor_release(&out);
  setenv("PARE_NO_FUSE", "0", 1);
  run_cl(g, &in, 0, &out, &n);
  assert_int_equal(n, 5);
  pare_tensor_release(&out);
  unsetenv("PARE_NO_FUSE");
  run_cl(g, &in, PARE_PLAN_KEEP_PARAMS, &out, &n);
  assert_int_equal(n, 0); /* a BN sits between each Conv and its activation */
  pare_tensor_release(&out);
  pare_graph_destroy(g);
  free(x);
  g = zoo("simplecnn");
  float y[28 * 28] = {0};
  pare_tensor in1 = {PARE_DT_F32, 4, {1, 1, 28, 28}, y, sizeof y, 0, 0};
  run_cl(g, &in1, PARE_PLAN_KEEP_PARAMS, &out, &n);
  assert_int_equal(n, 2);
  pare_tensor_release(&out);
  pare_graph_destroy(g);
}

/* The public switch: a context with no_fuse plans without fusion (a model
 * run on a fusing context again plans anew) and gets the same outputs. */
static void test_context_option(void **state) {
  (void)state;
  pare_model *m;
  char msg[256];
  assert_int_equal(pare_model_create("resnet-block", 3, &m, msg, sizeof msg), PARE_OK);
  randomize_bn(m->graph);
  pare_context *ctx[2];
  for (int k = 0; k < 2; k++) {
    pare_context_options o = {0};
    o.backend = PARE_BACKEND_OPENCL;
    o.no_fuse = k;
    assert_int_equal(pare_context_create(&o, &ctx[k]), PARE_OK);
  }
  float *x = malloc(sizeof(float) * 64 * 56 * 56);
  assert_non_null(x);
  test_rng r = {5};
  test_fill(&r, x, 64 * 56 * 56, -1, 1);
  pare_tensor_view in = {0}, out[3];
  in.dtype = PARE_DT_F32;
  in.rank = 4;
  in.dims[0] = 1, in.dims[1] = 64, in.dims[2] = 56, in.dims[3] = 56;
  in.data = x;
  in.nbytes = sizeof(float) * 64 * 56 * 56;
  for (int k = 0; k < 3; k++) {
    assert_int_equal(pare_model_run(ctx[k % 2], m, &in, 1, &out[k], 1), PARE_OK);
    assert_int_equal(pare_exec_cl_fused_nodes(m->plan), k % 2 ? 0 : 5);
  }
  size_t n = 64 * 56 * 56;
  test_assert_close(out[1].data, out[0].data, n, 1e-4, "no_fuse context vs fused");
  test_assert_close(out[2].data, out[0].data, n, 0, "fused again");
  for (int k = 0; k < 3; k++) pare_free(out[k].data);
  free(x);
  pare_context_destroy(ctx[0]);
  pare_context_destroy(ctx[1]);
  pare_model_destroy(m);
}

/* ONNX import folds BatchNormalization into the Conv before it, except
 * under PARE_NO_FUSE=1; the two imports compute the same. */
static void test_onnx_import(void **state) {
  (void)state;
  pare_onnx_enable();
  pare_graph *g = zoo("resnet-block");
  randomize_bn(g);
  char path[] = "/tmp/pare-fusion-XXXXXX.onnx";
  int fd = mkstemps(path, 5);
  assert_true(fd >= 0);
  close(fd);
  pare_error err;
  if (pare_onnx_export(g, path, &err) != PARE_OK) fail_msg("%s", err.text);
  pare_graph_destroy(g);
  pare_model *m[2];
  char msg[256];
  assert_int_equal(pare_model_load(path, &m[0], msg, sizeof msg), PARE_OK);
  setenv("PARE_NO_FUSE", "1", 1);
  assert_int_equal(pare_model_load(path, &m[1], msg, sizeof msg), PARE_OK);
  unsetenv("PARE_NO_FUSE");
  unlink(path);
  assert_int_equal(count_op(m[0]->graph, PARE_OP_BATCH_NORM), 0);
  assert_int_equal(count_op(m[1]->graph, PARE_OP_BATCH_NORM), 2);
  float *x = calloc(64 * 56 * 56, sizeof(float));
  assert_non_null(x);
  test_rng r = {8};
  test_fill(&r, x, 64 * 56 * 56, -1, 1);
  pare_tensor in = {PARE_DT_F32, 4, {1, 64, 56, 56}, x, sizeof(float) * 64 * 56 * 56, 0, 0};
  pare_tensor out[2];
  int n[2];
  run_cl(m[0]->graph, &in, 0, &out[0], &n[0]);
  run_cl(m[1]->graph, &in, PARE_PLAN_NO_FUSE, &out[1], &n[1]);
  assert_int_equal(n[0], 3); /* conv+relu, conv+add+relu */
  assert_int_equal(n[1], 0);
  assert_close(&out[1], &out[0], "onnx: BN kept and unfused vs BN folded and fused");
  for (int k = 0; k < 2; k++) {
    pare_tensor_release(&out[k]);
    pare_model_destroy(m[k]);
  }
  free(x);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small_models),   cmocka_unit_test(test_basic_block),
      cmocka_unit_test(test_mobilenetv2),    cmocka_unit_test(test_switches),
      cmocka_unit_test(test_context_option), cmocka_unit_test(test_onnx_import),
      cmocka_unit_test(test_pool_fallback),  cmocka_unit_test(test_winograd),
  };
  return cmocka_run_group_tests_name("exec_fusion", tests, test_cl_setup, test_cl_teardown);
}
