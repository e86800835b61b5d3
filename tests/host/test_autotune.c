/* Tuned kernel parameters (host/tuning.h) and the auto-tuner
 * (host/autotune.h, pare_model_tune): lookups and their checks, recording,
 * every parameter a tuning entry can force giving the untuned result, and
 * tuning runs whose winners persist and keep the model's outputs. Data are
 * small integers so that every summation order gives the same floats. */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "host/autotune.h"
#include "host/launch/conv2d_f32.h"
#include "host/launch/conv2d_geom.h"
#include "host/tuning.h"
#include "pare/pare.h"
#include "tests/test_util.h"

static char dir[] = "/tmp/pare-autotune-XXXXXX";
static pare_cl_runtime *rt;

static pare_cl_runtime *open_rt(void) {
  pare_cl_runtime_options opt = {0};
  opt.cache_dir = dir;
  pare_cl_runtime *r = NULL;
  pare_error err;
  if (pare_cl_runtime_create(&opt, &r, &err) != PARE_OK) fail_msg("no OpenCL device: %s", err.text);
  return r;
}

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir)) return -1;
  rt = open_rt();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  pare_cl_runtime_destroy(rt);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd) == 0 ? 0 : -1;
}

static int even(int v) { return v % 2 == 0; }

static void test_tuned_int_lookup(void **state) {
  (void)state;
  /* No entry: the profile's value (PoCL sets gemm_f32.vw), else the fallback. */
  int profile_vw = pare_profile_int(rt->profile, "gemm_f32.vw", -7);
  assert_int_equal(pare_tuned_int(rt, "gemm_f32", "vw", "s1", -7, NULL), profile_vw);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 42);
  pare_tuning_set(rt, "tune.nokernel.x@s1", 8);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, even), 8);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s2", 42, even), 42);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", NULL, 42, even), 42);
  /* Values the check rejects, fractions and huge numbers are ignored. */
  pare_tuning_set(rt, "tune.nokernel.x@s1", 7);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, even), 42);
  pare_tuning_set(rt, "tune.nokernel.x@s1", 2.5);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 42);
  pare_tuning_set(rt, "tune.nokernel.x@s1", 1e12);
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 42);
  pare_tuning_set(rt, "tune.nokernel.x@s1", 4);
  rt->no_tune = 1;
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 42);
  rt->no_tune = 0;
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 4);
  pare_tuning_forget(rt, "tune.nokernel.x@s1");
  assert_int_equal(pare_tuned_int(rt, "nokernel", "x", "s1", 42, NULL), 42);
}

static void test_recording(void **state) {
  (void)state;
  int n = -1;
  pare_tuning_record(rt, 1);
  pare_tuned_int(rt, "k1", "a", "s1", 0, NULL);
  pare_tuned_int(rt, "k1", "b", "s1", 0, NULL);
  pare_tuned_int(rt, "k1", "a", "s2", 0, NULL);
  pare_tuned_int(rt, "k2", "a", NULL, 0, NULL); /* no shape: not recorded */
  pare_tuning_record(rt, 0);
  pare_tuned_int(rt, "k3", "a", "s3", 0, NULL); /* after the recording */
  const char *const *list = pare_tuning_recorded(rt, &n);
  assert_int_equal(n, 2);
  assert_string_equal(list[0], "k1@s1");
  assert_string_equal(list[1], "k1@s2");
  pare_tuning_record(rt, 1); /* starts a new list */
  pare_tuning_record(rt, 0);
  pare_tuning_recorded(rt, &n);
  assert_int_equal(n, 0);
}

static cl_mem int_buffer(size_t n, test_rng *r, float **host) {
  float *h = malloc(n * sizeof *h);
  assert_non_null(h);
  for (size_t i = 0; i < n; i++) h[i] = (float)((int)test_rng_below(r, 5) - 2);
  cl_mem b;
  pare_error err;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, n * sizeof *h, h, &b, &err), PARE_OK);
  if (host)
    *host = h;
  else
    free(h);
  return b;
}

static void run_gemm(const pare_gemm_f32_args *g, float *out) {
  pare_error err;
  if (pare_launch_gemm_f32(rt, g, NULL, &err) != PARE_OK) fail_msg("gemm: %s", err.text);
  assert_int_equal(pare_cl_read(rt, g->c, 0, g->m * g->n * sizeof *out, out, &err), PARE_OK);
}

static void set_params(const char *stem, const char *shape, const char *const *names,
                       const int *values, int n) {
  for (int i = 0; i < n; i++) {
    char key[256];
    snprintf(key, sizeof key, "tune.%s.%s@%s", stem, names[i], shape);
    if (values[i] < 0)
      pare_tuning_forget(rt, key);
    else
      pare_tuning_set(rt, key, values[i]);
  }
}

/* Every tile and work-group a tuning entry can set computes the same product. */
static void test_forced_gemm_params(void **state) {
  (void)state;
  test_rng r = {11};
  static const char *const names[] = {"tm", "vw", "nv", "wg0", "wg1"};
  static const int configs[][5] = {{1, 1, 1, 1, 1}, {3, 4, 3, 2, 5}, {8, 16, 2, 16, 1}};
  for (int t = 0; t < 4; t += 3) {
    pare_gemm_f32_args g;
    memset(&g, 0, sizeof g);
    g.trans_a = t & 1;
    g.trans_b = t >> 1;
    g.m = 13, g.n = 37, g.k = 29;
    g.alpha = 1.0f;
    g.lda = g.trans_a ? g.m : g.k;
    g.ldb = g.trans_b ? g.k : g.n;
    g.ldc = g.n;
    g.a = int_buffer(g.m * g.k, &r, NULL);
    g.b = int_buffer(g.k * g.n, &r, NULL);
    g.c = int_buffer(g.m * g.n, &r, NULL);
    char shape[96];
    pare_gemm_f32_shape_key(&g, shape, sizeof shape);
    float want[13 * 37], got[13 * 37];
    run_gemm(&g, want);
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
      set_params("gemm_f32", shape, names, configs[c], 5);
      memset(got, 0, sizeof got);
      run_gemm(&g, got);
      for (size_t i = 0; i < 13 * 37; i++)
        if (got[i] != want[i])
          fail_msg("t=%d config %zu: element %zu %g != %g", t, c, i, got[i], want[i]);
    }
    static const int none[5] = {-1, -1, -1, -1, -1};
    set_params("gemm_f32", shape, names, none, 5);
    rt->cl->clReleaseMemObject(g.a);
    rt->cl->clReleaseMemObject(g.b);
    rt->cl->clReleaseMemObject(g.c);
  }
}

static void run_conv(pare_conv2d_f32_args *a, float *out) {
  pare_error err;
  size_t need = pare_conv2d_f32_scratch_bytes(rt, a);
  a->scratch = NULL;
  if (need)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, need, NULL, &a->scratch, &err), PARE_OK);
  if (pare_launch_conv2d_f32(rt, a, NULL, &err) != PARE_OK) fail_msg("conv: %s", err.text);
  size_t ny = a->n * a->m * a->oh * a->ow;
  assert_int_equal(pare_cl_read(rt, a->y, 0, ny * sizeof *out, out, &err), PARE_OK);
  if (a->scratch) rt->cl->clReleaseMemObject(a->scratch);
  a->scratch = NULL;
}

/* Every path and tile a tuning entry can force convolves alike (Winograd
 * too: on small integers its transforms are exact); a path the shape
 * cannot take (1×1 GEMM for a 3×3 window, Winograd for a grouped one)
 * leaves the rules' choice. */
static void test_forced_conv_params(void **state) {
  (void)state;
  test_rng r = {12};
  static const char *const keys[] = {"n=3,c=5,h=9,w=11,m=7,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1",
                                     "n=2,c=6,h=7,w=5,m=9,k=1x1,g=1,s=1x1,d=1x1,p=0,0,0,0",
                                     "n=4,c=4,h=10,w=9,m=6,k=3x2,g=2,s=2x1,d=1x2,p=0,1,2,0"};
  static const char *const names[] = {"path", "vw", "rows", "wg", "scratch_mb"};
  static const int configs[][5] = {{0, 4, 0, 1, -1},    {0, 16, 1, 4, -1},  {0, 8, 2, 16, -1},
                                   {1, -1, -1, -1, -1}, {2, -1, -1, -1, 1}, {2, -1, -1, -1, 64},
                                   {2, 1, 3, 2, 4},     {4, 4, -1, -1, -1}, {4, 16, -1, -1, 2}};
  for (size_t s = 0; s < sizeof keys / sizeof keys[0]; s++) {
    pare_conv2d_f32_args a;
    assert_true(pare_conv2d_shape_parse(keys[s], &a));
    char back[160];
    pare_conv2d_shape_key(&a, back, sizeof back);
    assert_string_equal(back, keys[s]);
    size_t ny = a.n * a.m * a.oh * a.ow;
    a.x = int_buffer(a.n * a.c * a.h * a.w, &r, NULL);
    a.weight = int_buffer(a.m * (a.c / a.group) * a.kh * a.kw, &r, NULL);
    a.bias = int_buffer(a.m, &r, NULL);
    a.y = int_buffer(ny, &r, NULL);
    a.act = PARE_CONV2D_ACT_RELU;
    float *want = malloc(ny * sizeof *want), *got = malloc(ny * sizeof *got);
    assert_non_null(want);
    assert_non_null(got);
    run_conv(&a, want);
    for (size_t c = 0; c < sizeof configs / sizeof configs[0]; c++) {
      set_params("conv2d_f32", keys[s], names, configs[c], 5);
      pare_conv2d_plan pl;
      pare_conv2d_plan_make(rt, "conv2d_f32", &a, 1, &pl);
      /* The 1×1 GEMM takes only key 1, Winograd only key 0. */
      int takes = configs[c][0] == 1 ? s == 1 : configs[c][0] == 4 ? s == 0 : 1;
      if (takes) assert_int_equal(pl.path, configs[c][0]);
      memset(got, 0, ny * sizeof *got);
      run_conv(&a, got);
      for (size_t i = 0; i < ny; i++)
        if (got[i] != want[i])
          fail_msg("%s config %zu: element %zu %g != %g", keys[s], c, i, got[i], want[i]);
    }
    static const int none[5] = {-1, -1, -1, -1, -1};
    set_params("conv2d_f32", keys[s], names, none, 5);
    free(want);
    free(got);
    cl_mem mems[] = {a.x, a.weight, a.bias, a.y};
    for (int i = 0; i < 4; i++) rt->cl->clReleaseMemObject(mems[i]);
  }
  /* Keys that are not conv shapes. */
  pare_conv2d_f32_args a;
  assert_false(pare_conv2d_shape_parse("n=1,c=1,h=2,w=2,m=1,k=3x3,g=1,s=1x1,d=1x1,p=0,0,0,0", &a));
  assert_false(pare_conv2d_shape_parse("n=1,c=1,h=2,w=2,m=1,k=1x1,g=1,s=0x1,d=1x1,p=0,0,0,0", &a));
  assert_false(pare_conv2d_shape_parse("n=1,c=1,h=2,w=2,m=1,k=1x1,g=1,s=1x1,d=1x1,p=0,0,0,0x", &a));
  assert_false(pare_conv2d_shape_parse("m=1,n=2,k=3,t=00", &a));
  /* Pooled launches' keys: back and forth; a pooling the plane cannot
   * hold, an unknown kind or trailing text is refused. */
  pare_conv2d_pool pool;
  const char *pooled = "n=1,c=2,h=5,w=6,m=3,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1,pool=2:3x2/2x2";
  assert_true(pare_conv2d_pool_shape_parse(pooled, &a, &pool));
  assert_int_equal(pool.kind, PARE_CONV2D_POOL_AVG);
  assert_int_equal(pool.kh, 3);
  assert_int_equal(pool.kw, 2);
  char back[200];
  pare_conv2d_pool_shape_key(&a, &pool, back, sizeof back);
  assert_string_equal(back, pooled);
  assert_true(pare_conv2d_pool_shape_parse(keys[0], &a, &pool));
  assert_int_equal(pool.kind, 0);
  assert_false(pare_conv2d_shape_parse(pooled, &a)); /* not a plain shape */
  assert_false(pare_conv2d_pool_shape_parse(
      "n=1,c=2,h=5,w=6,m=3,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1,pool=1:6x2/1x1", &a, &pool));
  assert_false(pare_conv2d_pool_shape_parse(
      "n=1,c=2,h=5,w=6,m=3,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1,pool=3:2x2/2x2", &a, &pool));
  assert_false(pare_conv2d_pool_shape_parse(
      "n=1,c=2,h=5,w=6,m=3,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1,pool=1:2x2/2x2x", &a, &pool));
}

/* A tuning run: the result names what it chose, and the database holds
 * exactly that, also for a runtime opened later on the same cache: the
 * chosen values, or, when nothing won, none (a stale value stored before
 * the run is gone from memory and file). The tuner checks each
 * candidate's output; test_forced_* checks the forced values themselves. */
static void test_autotune_shapes(void **state) {
  (void)state;
  static const char *const recorded[] = {
      "gemm_f32@m=20,n=300,k=40,t=00",
      "conv2d_f32@n=2,c=3,h=12,w=12,m=8,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1",
      "conv2d_f32@n=2,c=3,h=12,w=12,m=8,k=3x3,g=1,s=1x1,d=1x1,p=1,1,1,1,pool=1:2x2/2x2"};
  for (int i = 0; i < 3; i++) {
    pare_autotune_result res;
    pare_error err;
    assert_true(pare_autotune_knows(recorded[i]));
    char stale[256];
    snprintf(stale, sizeof stale, "tune.%s.wg@%s", i ? "conv2d_f32" : "gemm_f32",
             strchr(recorded[i], '@') + 1);
    pare_tuning_put(rt, stale, 3); /* a value no search here chooses (wg 3) */
    if (pare_autotune_shape(rt, recorded[i], 0, 1, &res, &err) != PARE_OK)
      fail_msg("%s: %s", recorded[i], err.text);
    assert_true(res.tried > 0);
    assert_true(res.untuned_ms > 0);
    assert_true(res.tuned_ms > 0 && res.tuned_ms <= res.untuned_ms);
    assert_string_equal(res.kernel, i ? "conv2d_f32" : "gemm_f32");
    assert_string_equal(res.shape, strchr(recorded[i], '@') + 1);
    pare_cl_runtime *later = open_rt();
    double old = 0;
    assert_false(pare_tuning_get(rt, stale, &old) && old == 3);
    assert_false(pare_tuning_get(later, stale, &old) && old == 3);
    /* "name=value,...": each in the database, here and from the file. */
    char params[128];
    if (!strcmp(res.params, "untuned"))
      params[0] = '\0';
    else
      snprintf(params, sizeof params, "%s", res.params);
    for (char *tok = strtok(params, ","); tok; tok = strtok(NULL, ",")) {
      char *eq = strchr(tok, '=');
      assert_non_null(eq);
      *eq = '\0';
      char key[256];
      snprintf(key, sizeof key, "tune.%s.%s@%s", res.kernel, tok, res.shape);
      double v = -1, w = -1;
      assert_true(pare_tuning_get(rt, key, &v));
      assert_true(pare_tuning_get(later, key, &w));
      assert_true(v == atof(eq + 1) && w == v);
    }
    pare_cl_runtime_destroy(later);
  }
  pare_autotune_result res;
  pare_error err;
  assert_int_equal(pare_autotune_shape(rt, "gemm_f32@m=0,n=3,k=4,t=00", 0, 1, &res, &err),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "m=0,n=3,k=4"));
  assert_int_equal(pare_autotune_shape(rt, "gemm_f32@m=2,n=3,k=4", 0, 1, &res, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_autotune_shape(rt, "pool_f32@n=1", 0, 1, &res, &err), PARE_ERR_UNSUPPORTED);
  assert_int_equal(pare_autotune_shape(rt, "no shape", 0, 1, &res, &err), PARE_ERR_INVALID_ARG);
  assert_false(pare_autotune_knows("pool_f32@n=1"));
}

static void run_model(pare_context *ctx, pare_model *m, const pare_tensor_view *in, float *out) {
  pare_tensor_view y;
  assert_int_equal(pare_model_run(ctx, m, in, 1, &y, 1), PARE_OK);
  memcpy(out, y.data, y.nbytes);
  pare_free(y.data);
}

/* pare_model_tune end to end: a small CNN tuned at batch 5 keeps its
 * outputs (against the reference backend); the reference backend cannot tune. */
static void test_model_tune(void **state) {
  (void)state;
  pare_model *m = NULL;
  assert_int_equal(pare_model_create("simplecnn:4,8", 3, &m, NULL, 0), PARE_OK);
  float x[5 * 784];
  test_rng r = {13};
  test_fill(&r, x, 5 * 784, 0.0f, 1.0f);
  pare_tensor_view in = {0};
  in.dtype = PARE_DT_F32;
  in.rank = 4;
  in.dims[0] = 5, in.dims[1] = 1, in.dims[2] = 28, in.dims[3] = 28;
  in.data = x;
  in.nbytes = sizeof x;
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_REFERENCE;
  pare_context *ref = NULL, *cl = NULL;
  assert_int_equal(pare_context_create(&o, &ref), PARE_OK);
  pare_tune_result *res = NULL;
  int n = -1;
  assert_int_equal(pare_model_tune(ref, m, &in, 1, NULL, &res, &n), PARE_ERR_NO_DEVICE);
  assert_non_null(strstr(pare_model_last_error(m), "OpenCL"));
  o.backend = PARE_BACKEND_OPENCL;
  o.cache_dir = dir;
  assert_int_equal(pare_context_create(&o, &cl), PARE_OK);
  pare_tune_options to = {0};
  to.budget_seconds = -1;
  assert_int_equal(pare_model_tune(cl, m, &in, 1, &to, &res, &n), PARE_ERR_INVALID_ARG);
  to.budget_seconds = 120;
  to.reps = 1;
  assert_int_equal(pare_model_tune(cl, m, &in, 1, &to, &res, &n), PARE_OK);
  /* Two convolutions and at least the classifier's GEMM. */
  int convs = 0, gemms = 0;
  for (int i = 0; i < n; i++) {
    convs += !strcmp(res[i].kernel, "conv2d_f32");
    gemms += !strcmp(res[i].kernel, "gemm_f32");
    assert_true(res[i].tuned_ms <= res[i].untuned_ms);
  }
  assert_int_equal(convs, 2);
  assert_true(gemms >= 1);
  pare_free(res);
  float want[50], got[50];
  run_model(ref, m, &in, want);
  run_model(cl, m, &in, got);
  for (int i = 0; i < 50; i++) assert_float_equal(got[i], want[i], 1e-4);
  pare_context_destroy(cl);
  pare_context_destroy(ref);
  pare_model_destroy(m);
}

/* The per-layer latency table: every layer measured once and found in the
 * device's tuning database after (by a new context too); a layer whose
 * zeros or weight width changed is measured again, and only it; the
 * reference backend measures each time; an unknown layer is named. */
static void test_layer_latency(void **state) {
  (void)state;
  pare_model *m = NULL;
  assert_int_equal(pare_model_create("mlp:64,32", 5, &m, NULL, 0), PARE_OK);
  const char *names[3] = {"fc1", "fc2", "fc3"};
  double ms[3], again[3];
  int measured = -1;
  pare_context_options o = {0};
  o.backend = PARE_BACKEND_REFERENCE;
  pare_context *ref = NULL, *cl = NULL;
  assert_int_equal(pare_context_create(&o, &ref), PARE_OK);
  assert_int_equal(pare_model_layer_latency(ref, m, 16, 2, names, 3, ms, &measured), PARE_OK);
  assert_int_equal(measured, 3);
  assert_int_equal(pare_model_layer_latency(ref, m, 16, 2, names, 3, ms, &measured), PARE_OK);
  assert_int_equal(measured, 3);
  o.backend = PARE_BACKEND_OPENCL;
  o.cache_dir = dir;
  assert_int_equal(pare_context_create(&o, &cl), PARE_OK);
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, names, 3, ms, &measured), PARE_OK);
  assert_int_equal(measured, 3);
  for (int l = 0; l < 3; l++) assert_true(ms[l] > 0);
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, names, 3, again, &measured), PARE_OK);
  assert_int_equal(measured, 0);
  assert_memory_equal(again, ms, sizeof ms);
  /* Another batch is another shape. */
  assert_int_equal(pare_model_layer_latency(cl, m, 3, 3, names, 1, again, &measured), PARE_OK);
  assert_int_equal(measured, 1);
  /* A new context reads the table from the folder. */
  pare_context_destroy(cl);
  assert_int_equal(pare_context_create(&o, &cl), PARE_OK);
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, names, 3, again, &measured), PARE_OK);
  assert_int_equal(measured, 0);
  for (int l = 0; l < 3; l++) assert_true(fabs(again[l] - ms[l]) <= 1e-6 * ms[l]); /* as text */
  /* fc2 pruned: its key changes, the others' do not. */
  assert_int_equal(pare_model_prune(m, "layer", 0.9, "fc1,fc3", NULL, NULL), PARE_OK);
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, names, 3, again, &measured), PARE_OK);
  assert_int_equal(measured, 1);
  assert_true(fabs(again[0] - ms[0]) <= 1e-6 * ms[0] && fabs(again[2] - ms[2]) <= 1e-6 * ms[2]);
  /* int8 weights for all three (behind DequantizeLinear nodes). */
  assert_int_equal(pare_model_quantize(m, "w8", "minmax", NULL, 0, "none", 0, NULL, NULL), PARE_OK);
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, names, 3, again, &measured), PARE_OK);
  assert_int_equal(measured, 3);
  const char *bad[1] = {"fc9"};
  assert_int_equal(pare_model_layer_latency(cl, m, 16, 3, bad, 1, again, &measured),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(pare_model_last_error(m), "fc9"));
  pare_context_destroy(cl);
  pare_context_destroy(ref);
  pare_model_destroy(m);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_tuned_int_lookup),   cmocka_unit_test(test_recording),
      cmocka_unit_test(test_forced_gemm_params), cmocka_unit_test(test_forced_conv_params),
      cmocka_unit_test(test_autotune_shapes),    cmocka_unit_test(test_model_tune),
      cmocka_unit_test(test_layer_latency),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
