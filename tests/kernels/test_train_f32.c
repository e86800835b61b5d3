/* kernels/train_f32.cl against engine/ref/grad.h: activation backward,
 * MaxPool / AveragePool / GlobalAveragePool backward, softmax
 * cross-entropy and distillation losses with gradients, SGD and Adam /
 * AdamW steps with masks, and gradient accumulation, over awkward sizes
 * (1, primes, not multiples of the vector width, ceil_mode windows).
 * Inputs are NaN-free and kept away from the activation kinks; pooling
 * inputs are distinct within a plane except in the explicit tie test
 * (three levels: the first-maximum rule decides). MaxPool cases cover both
 * the row-gather kernel (vertically overlapping windows) and the band
 * kernel (disjoint rows, incl. strides beyond the kernel and 1-D).
 *
 * Tolerances (|got - want| <= ulps·ulp(want) + abs):
 *   exact: relu, leaky_relu, clip backward (dy·1, dy·0, dy·alpha: one
 *          rounding, as the reference's), accumulate, global average pool
 *          to 1 ulp (float vs double-then-float division), masks (exactly
 *          0 for weight and state)
 *   hard_swish 4 ulp; elu 4 ulp; sigmoid, tanh 8 ulp (exp / cosh within
 *          OpenCL's 3-4 ulp, a division and a product); all + FLT_MIN
 *   max / average pool backward: 4 ulp + 2^-22 (dy in [-1, 1]: a float sum
 *          of at most a few window contributions vs the double sum)
 *   loss per row and mean: 2e-6·(1 + |want|)·(1 + log2 k); gradients:
 *          1e-5·|want| + 2e-6·(1 + log2 k)/n (float log-sum-exp over k
 *          classes vs double)
 *   SGD / Adam after 3 steps: w and state within 1e-5 relative plus 1e-6
 *          (w, velocity, m: operands up to 1, a few float roundings of
 *          values near 1 per step) or 1e-12 (v) absolute. */
#include <float.h>
#include <string.h>

#include "engine/ref/grad.h"
#include "host/launch/train_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

typedef struct tol {
  double ulps, abs, rel;
} tol;

static double ulp_of(float w) {
  float a = fabsf(w);
  return (double)nextafterf(a, INFINITY) - (double)a;
}

static void assert_tol(const float *got, const float *want, size_t n, tol t, const char *what) {
  for (size_t i = 0; i < n; i++) {
    float g = got[i], w = want[i];
    double lim = t.ulps * ulp_of(w) + t.abs + t.rel * fabs((double)w);
    int ok = !isnan(g) && !isinf(g) && fabs((double)g - (double)w) <= lim;
    if (isnan(w)) ok = isnan(g);
    if (!ok)
      fail_msg("%s: element %zu of %zu is %.9g, want %.9g (limit %.3g)", what, i, n, g, w, lim);
  }
}

static cl_mem buf(size_t bytes, const void *host) {
  pare_error err;
  cl_mem m = NULL;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, bytes ? bytes : 1, host, &m, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  return m;
}

static void read_back(cl_mem m, size_t bytes, void *out) {
  pare_error err;
  if (bytes && pare_cl_read(rt, m, 0, bytes, out, &err) != PARE_OK) fail_msg("read: %s", err.text);
}

static void release(cl_mem m) {
  if (m) rt->cl->clReleaseMemObject(m);
}

static void check(pare_status st, const pare_error *err) {
  if (st != PARE_OK) fail_msg("launch: %s", err->text);
}

static float *alloc_f(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  assert_non_null(p);
  return p;
}

/* ---- activation backward ---- */

static void test_act_backward(void **state) {
  (void)state;
  test_rng r = {12345};
  static const struct {
    pare_ref_act act;
    const char *name;
    float alpha, beta;
    tol t;
  } acts[] = {
      {PARE_REF_ACT_RELU, "relu", 0, 0, {0, 0, 0}},
      {PARE_REF_ACT_LEAKY_RELU, "leaky_relu", 0.01f, 0, {0, 0, 0}},
      {PARE_REF_ACT_CLIP, "clip", -1.0f, 2.0f, {0, 0, 0}},
      {PARE_REF_ACT_HARD_SWISH, "hard_swish", 0, 0, {4, FLT_MIN, 0}},
      {PARE_REF_ACT_ELU, "elu", 0.7f, 0, {4, FLT_MIN, 0}},
      {PARE_REF_ACT_SIGMOID, "sigmoid", 0, 0, {8, FLT_MIN, 0}},
      {PARE_REF_ACT_TANH, "tanh", 0, 0, {8, FLT_MIN, 0}},
  };
  static const size_t sizes[] = {1, 7, 16, 17, 31, 257, 1031, 4099, 65537};
  for (size_t a = 0; a < sizeof acts / sizeof acts[0]; a++) {
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      size_t n = sizes[s];
      float *x = alloc_f(n), *dy = alloc_f(n), *want = alloc_f(n), *got = alloc_f(n);
      /* Away from the kinks at 0, -3, 3, -1 and 2. */
      for (size_t i = 0; i < n; i++) {
        float v;
        do v = test_rng_uniform(&r, -6.0f, 6.0f);
        while (fabsf(v) < 1e-3f || fabsf(fabsf(v) - 3.0f) < 1e-3f || fabsf(v + 1.0f) < 1e-3f ||
               fabsf(v - 2.0f) < 1e-3f);
        x[i] = v;
      }
      test_fill(&r, dy, n, -2.0f, 2.0f);
      assert_int_equal(
          pare_ref_act_backward_f32(acts[a].act, x, NULL, dy, want, n, acts[a].alpha, acts[a].beta),
          PARE_REF_OK);
      cl_mem dx_ = buf(n * 4, x), ddy = buf(n * 4, dy), ddx = buf(n * 4, NULL);
      pare_error err;
      /* Odd sizes also run in place (dx = dy). */
      cl_mem out = (n & 1) ? ddy : ddx;
      check(pare_launch_train_act_backward_f32(rt, acts[a].act, acts[a].alpha, acts[a].beta, dx_,
                                               ddy, out, n, NULL, &err),
            &err);
      read_back(out, n * 4, got);
      char what[64];
      snprintf(what, sizeof what, "act_backward %s n=%zu", acts[a].name, n);
      assert_tol(got, want, n, acts[a].t, what);
      release(dx_);
      release(ddy);
      release(ddx);
      free(x);
      free(dy);
      free(want);
      free(got);
    }
  }
  pare_error err;
  assert_int_equal(pare_launch_train_act_backward_f32(rt, PARE_REF_ACT_RELU, 0, 0, NULL, NULL, NULL,
                                                      0, NULL, &err),
                   PARE_OK);
  assert_int_equal(pare_launch_train_act_backward_f32(rt, PARE_REF_ACT_SQRT, 0, 0, NULL, NULL, NULL,
                                                      4, NULL, &err),
                   PARE_ERR_UNSUPPORTED);
}

/* ---- pooling backward ---- */

typedef struct pool_case {
  int ns;
  int64_t x[4];
  int64_t k[2], s[2], d[2], pads[4];
  int ceil_mode, cip;
} pool_case;

static void check_pool(test_rng *r, const pool_case *c, int is_max, int ties) {
  pare_ref_pool_params p;
  pare_ref_pool_params_init(&p, c->ns);
  for (int i = 0; i < c->ns; i++) {
    p.win.kernel[i] = c->k[i];
    p.win.strides[i] = c->s[i];
    p.win.dilations[i] = c->d[i];
    p.win.pads[i] = c->pads[i];
    p.win.pads[c->ns + i] = c->pads[c->ns + i];
  }
  p.ceil_mode = c->ceil_mode;
  p.count_include_pad = c->cip;
  int64_t yd[4], nx, ny;
  assert_int_equal(pare_ref_pool_shape(&p, c->x, yd), PARE_REF_OK);
  pare_ref_shape_numel(2 + c->ns, c->x, &nx);
  pare_ref_shape_numel(2 + c->ns, yd, &ny);
  float *x = alloc_f((size_t)nx), *dy = alloc_f((size_t)ny);
  float *want = alloc_f((size_t)nx), *got = alloc_f((size_t)nx);
  /* Distinct values per tensor (a shuffled ramp), or few levels for ties. */
  for (int64_t i = 0; i < nx; i++)
    x[i] = ties ? (float)test_rng_below(r, 3) : (float)i / (float)nx - 0.5f;
  for (int64_t i = nx - 1; i > 0 && !ties; i--) {
    size_t j = test_rng_below(r, (size_t)i + 1);
    float t = x[i];
    x[i] = x[j];
    x[j] = t;
  }
  test_fill(r, dy, (size_t)ny, -1.0f, 1.0f);
  if (is_max)
    assert_int_equal(pare_ref_maxpool_backward_f32(&p, x, c->x, dy, want), PARE_REF_OK);
  else
    assert_int_equal(pare_ref_avgpool_backward_f32(&p, c->x, dy, want), PARE_REF_OK);
  cl_mem dx_ = buf((size_t)nx * 4, x), ddy = buf((size_t)ny * 4, dy),
         ddx = buf((size_t)nx * 4, NULL);
  pare_error err;
  check(pare_launch_train_pool2d_backward_f32(rt, is_max, &p, c->x, is_max ? dx_ : NULL, ddy, ddx,
                                              NULL, &err),
        &err);
  read_back(ddx, (size_t)nx * 4, got);
  char what[128];
  snprintf(what, sizeof what, "%s backward %dD x=%lldx%lldx%lld k=%lld s=%lld ceil=%d cip=%d%s",
           is_max ? "maxpool" : "avgpool", c->ns, (long long)c->x[1], (long long)c->x[2],
           (long long)(c->ns == 2 ? c->x[3] : 1), (long long)c->k[c->ns - 1],
           (long long)c->s[c->ns - 1], c->ceil_mode, c->cip, ties ? " ties" : "");
  tol t = {4, 1.0 / 4194304.0, 0};
  assert_tol(got, want, (size_t)nx, t, what);
  release(dx_);
  release(ddy);
  release(ddx);
  free(x);
  free(dy);
  free(want);
  free(got);
}

static void test_pool_backward(void **state) {
  (void)state;
  test_rng r = {777};
  static const pool_case cases[] = {
      /* ns  x dims          k       s       d       pads          ceil cip */
      {2, {2, 3, 28, 28}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 0, 0},
      {2, {1, 1, 1, 1}, {1, 1}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 0, 0},
      {2, {2, 2, 13, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 0},
      {2, {2, 2, 13, 11}, {3, 3}, {2, 2}, {1, 1}, {1, 1, 1, 1}, 0, 1},
      {2, {1, 3, 7, 9}, {2, 2}, {2, 2}, {1, 1}, {0, 0, 0, 0}, 1, 0},
      {2, {1, 3, 17, 19}, {3, 2}, {2, 3}, {1, 1}, {1, 0, 0, 1}, 1, 1},
      {2, {1, 2, 17, 23}, {3, 3}, {1, 1}, {2, 2}, {2, 2, 2, 2}, 0, 0},
      {2, {3, 1, 31, 29}, {5, 4}, {3, 2}, {1, 2}, {2, 1, 2, 3}, 1, 0},
      {2, {1, 1, 5, 5}, {5, 5}, {1, 1}, {1, 1}, {0, 0, 0, 0}, 0, 0},
      {2, {1, 2, 11, 10}, {2, 2}, {3, 3}, {1, 1}, {1, 0, 0, 1}, 1, 0},
      {2, {2, 1, 9, 8}, {2, 3}, {3, 1}, {1, 1}, {0, 1, 1, 1}, 0, 1},
      {1, {2, 3, 37, 0}, {3, 0}, {2, 0}, {1, 0}, {1, 1, 0, 0}, 1, 0},
      {1, {1, 2, 10, 0}, {2, 0}, {2, 0}, {1, 0}, {0, 0, 0, 0}, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check_pool(&r, &cases[i], 1, 0);
    check_pool(&r, &cases[i], 0, 0);
    check_pool(&r, &cases[i], 1, 1);
  }
  pare_error err;
  pare_ref_pool_params p;
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 2;
  const int64_t empty[4] = {0, 3, 4, 4};
  assert_int_equal(
      pare_launch_train_pool2d_backward_f32(rt, 1, &p, empty, NULL, NULL, NULL, NULL, &err),
      PARE_OK);
}

static void test_global_avgpool_backward(void **state) {
  (void)state;
  test_rng r = {4242};
  static const size_t cases[][2] = {{1, 1}, {3, 7}, {64, 49}, {5, 1031}, {7, 1}, {2, 4096}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t planes = cases[c][0], sp = cases[c][1], n = planes * sp;
    float *dy = alloc_f(planes), *want = alloc_f(n), *got = alloc_f(n);
    test_fill(&r, dy, planes, -3.0f, 3.0f);
    const int64_t xd[3] = {1, (int64_t)planes, (int64_t)sp};
    assert_int_equal(pare_ref_global_avgpool_backward_f32(3, xd, dy, want), PARE_REF_OK);
    cl_mem ddy = buf(planes * 4, dy), ddx = buf(n * 4, NULL);
    pare_error err;
    check(pare_launch_train_global_avgpool_backward_f32(rt, planes, sp, ddy, ddx, NULL, &err),
          &err);
    read_back(ddx, n * 4, got);
    tol t = {1, 0, 0};
    assert_tol(got, want, n, t, "global_avgpool_backward");
    release(ddy);
    release(ddx);
    free(dy);
    free(want);
    free(got);
  }
}

/* ---- losses ---- */

static void check_loss(test_rng *r, size_t n, size_t k, int distill, float temperature,
                       float alpha) {
  size_t nk = n * k;
  float *s = alloc_f(nk), *t = alloc_f(nk), *want = alloc_f(nk), *got = alloc_f(nk);
  float *rows_want = alloc_f(n), *rows_got = alloc_f(n);
  int64_t *labels = malloc(n * sizeof *labels);
  assert_non_null(labels);
  test_fill(r, s, nk, -6.0f, 6.0f);
  test_fill(r, t, nk, -6.0f, 6.0f);
  for (size_t i = 0; i < n; i++) labels[i] = (int64_t)test_rng_below(r, k);
  float loss_want, loss_got;
  if (distill) {
    assert_int_equal(pare_ref_distill_loss_f32(t, s, labels, (int64_t)n, (int64_t)k, temperature,
                                               alpha, &loss_want, want),
                     PARE_REF_OK);
    for (size_t i = 0; i < n; i++)
      assert_int_equal(pare_ref_distill_loss_f32(t + i * k, s + i * k, labels + i, 1, (int64_t)k,
                                                 temperature, alpha, &rows_want[i], NULL),
                       PARE_REF_OK);
  } else {
    assert_int_equal(pare_ref_softmax_xent_f32(s, labels, (int64_t)n, (int64_t)k, &loss_want, want),
                     PARE_REF_OK);
    for (size_t i = 0; i < n; i++)
      assert_int_equal(
          pare_ref_softmax_xent_f32(s + i * k, labels + i, 1, (int64_t)k, &rows_want[i], NULL),
          PARE_REF_OK);
  }
  cl_mem ds = buf(nk * 4, s), dt = buf(nk * 4, t), dl = buf(n * 8, labels);
  cl_mem drows = buf(n * 4, NULL), dloss = buf(4, NULL), dg = buf(nk * 4, NULL);
  pare_error err;
  /* The unused inputs go in as NULL. */
  if (distill)
    check(pare_launch_train_distill_loss_f32(rt, alpha == 1.0f ? NULL : dt, ds,
                                             alpha == 0.0f ? NULL : dl, n, k, temperature, alpha,
                                             drows, dloss, dg, NULL, &err),
          &err);
  else
    check(pare_launch_train_softmax_xent_f32(rt, ds, dl, n, k, drows, dloss, dg, NULL, &err), &err);
  read_back(drows, n * 4, rows_got);
  read_back(dloss, 4, &loss_got);
  read_back(dg, nk * 4, got);
  char what[96];
  snprintf(what, sizeof what, "%s n=%zu k=%zu T=%g alpha=%g", distill ? "distill" : "xent", n, k,
           (double)temperature, (double)alpha);
  double lk = 1.0 + log2((double)k);
  tol tl = {0, 2e-6 * lk, 2e-6 * lk};
  for (size_t i = 0; i < n; i++) {
    tol ti = {0, tl.abs * (1.0 + fabs((double)rows_want[i])), 0};
    assert_tol(&rows_got[i], &rows_want[i], 1, ti, what);
  }
  tol tm = {0, tl.abs * (1.0 + fabs((double)loss_want)), 0};
  assert_tol(&loss_got, &loss_want, 1, tm, what);
  tol tg = {0, 2e-6 * lk / (double)n, 1e-5};
  assert_tol(got, want, nk, tg, what);
  release(ds);
  release(dt);
  release(dl);
  release(drows);
  release(dloss);
  release(dg);
  free(s);
  free(t);
  free(want);
  free(got);
  free(rows_want);
  free(rows_got);
  free(labels);
}

static const size_t loss_sizes[][2] = {{1, 1},     {1, 10},  {3, 7}, {64, 10},
                                       {17, 1000}, {5, 999}, {2, 2}};

static void test_softmax_xent(void **state) {
  (void)state;
  test_rng r = {99};
  for (size_t i = 0; i < sizeof loss_sizes / sizeof loss_sizes[0]; i++)
    check_loss(&r, loss_sizes[i][0], loss_sizes[i][1], 0, 1.0f, 1.0f);
  pare_error err;
  assert_int_equal(
      pare_launch_train_softmax_xent_f32(rt, NULL, NULL, 0, 10, NULL, NULL, NULL, NULL, &err),
      PARE_OK);
}

static void test_distill(void **state) {
  (void)state;
  test_rng r = {1999};
  static const float ts[] = {1.0f, 2.5f, 4.0f}, as[] = {0.0f, 0.3f, 1.0f};
  for (size_t i = 0; i < sizeof loss_sizes / sizeof loss_sizes[0]; i++)
    for (size_t a = 0; a < 3; a++)
      check_loss(&r, loss_sizes[i][0], loss_sizes[i][1], 1, ts[(i + a) % 3], as[a]);
  pare_error err;
  assert_int_equal(pare_launch_train_distill_loss_f32(rt, NULL, NULL, NULL, 2, 3, 1.0f, 1.5f, NULL,
                                                      NULL, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
}

/* ---- optimizers ---- */

static const size_t opt_sizes[] = {1, 17, 1000, 4099, 65537};

static uint8_t *make_mask(test_rng *r, size_t n) {
  uint8_t *m = malloc(n);
  assert_non_null(m);
  for (size_t i = 0; i < n; i++)
    m[i] = test_rng_below(r, 4) ? (uint8_t)(1 + test_rng_below(r, 3)) : 0;
  return m;
}

static void assert_masked(const float *v, const uint8_t *mask, size_t n, const char *what) {
  for (size_t i = 0; mask && i < n; i++)
    if (mask[i] == 0 && !(v[i] == 0.0f)) fail_msg("%s: masked element %zu is %g", what, i, v[i]);
}

static void test_sgd(void **state) {
  (void)state;
  test_rng r = {2024};
  static const struct {
    float lr, mu, wd;
    int nesterov, masked;
  } cfg[] = {{0.1f, 0, 0, 0, 0},
             {0.05f, 0.9f, 0, 0, 0},
             {0.05f, 0.9f, 1e-4f, 1, 0},
             {0.01f, 0.8f, 5e-4f, 0, 1},
             {0.1f, 0, 1e-3f, 0, 1}};
  for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
    for (size_t s = 0; s < sizeof opt_sizes / sizeof opt_sizes[0]; s++) {
      size_t n = opt_sizes[s];
      pare_ref_sgd_params p;
      pare_ref_sgd_params_init(&p, cfg[c].lr);
      p.momentum = cfg[c].mu;
      p.weight_decay = cfg[c].wd;
      p.nesterov = cfg[c].nesterov;
      float *w = alloc_f(n), *v = alloc_f(n), *g = alloc_f(n), *wg = alloc_f(n), *vg = alloc_f(n);
      uint8_t *mask = cfg[c].masked ? make_mask(&r, n) : NULL;
      test_fill(&r, w, n, -1.0f, 1.0f);
      memset(v, 0, n * 4);
      cl_mem dw = buf(n * 4, w), dv = buf(n * 4, v), dg = buf(n * 4, NULL);
      cl_mem dm = mask ? buf(n, mask) : NULL;
      pare_error err;
      for (int step = 0; step < 3; step++) {
        test_fill(&r, g, n, -1.0f, 1.0f);
        check(pare_cl_write(rt, dg, 0, n * 4, g, &err), &err);
        assert_int_equal(pare_ref_sgd_step_f32(&p, w, g, v, n, mask), PARE_REF_OK);
        check(pare_launch_train_sgd_step_f32(rt, &p, dw, dg, p.momentum != 0 ? dv : NULL, dm, n,
                                             NULL, &err),
              &err);
      }
      read_back(dw, n * 4, wg);
      read_back(dv, n * 4, vg);
      char what[96];
      snprintf(what, sizeof what, "sgd cfg %zu n=%zu", c, n);
      tol t = {0, 1e-6, 1e-5};
      assert_tol(wg, w, n, t, what);
      assert_tol(vg, v, n, t, what);
      assert_masked(wg, mask, n, what);
      assert_masked(vg, mask, n, what);
      release(dw);
      release(dv);
      release(dg);
      release(dm);
      free(w);
      free(v);
      free(g);
      free(wg);
      free(vg);
      free(mask);
    }
  }
  pare_error err;
  pare_ref_sgd_params p;
  pare_ref_sgd_params_init(&p, 0.1f);
  p.nesterov = 1;
  assert_int_equal(pare_launch_train_sgd_step_f32(rt, &p, NULL, NULL, NULL, NULL, 5, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "tr_sgd_step"));
}

static void test_adam(void **state) {
  (void)state;
  test_rng r = {31};
  static const struct {
    float lr, wd;
    int decoupled, masked;
  } cfg[] = {{1e-3f, 0, 0, 0}, {1e-2f, 1e-2f, 1, 0}, {1e-3f, 1e-2f, 0, 1}, {5e-3f, 5e-2f, 1, 1}};
  for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
    for (size_t s = 0; s < sizeof opt_sizes / sizeof opt_sizes[0]; s++) {
      size_t n = opt_sizes[s];
      pare_ref_adam_params p;
      pare_ref_adam_params_init(&p, cfg[c].lr);
      p.weight_decay = cfg[c].wd;
      p.decoupled = cfg[c].decoupled;
      float *w = alloc_f(n), *m = alloc_f(n), *v = alloc_f(n), *g = alloc_f(n);
      float *wg = alloc_f(n), *mg = alloc_f(n), *vg = alloc_f(n);
      uint8_t *mask = cfg[c].masked ? make_mask(&r, n) : NULL;
      test_fill(&r, w, n, -1.0f, 1.0f);
      memset(m, 0, n * 4);
      memset(v, 0, n * 4);
      cl_mem dw = buf(n * 4, w), dm = buf(n * 4, m), dv = buf(n * 4, v), dg = buf(n * 4, NULL);
      cl_mem dk = mask ? buf(n, mask) : NULL;
      pare_error err;
      for (int64_t t = 1; t <= 3; t++) {
        test_fill(&r, g, n, -1.0f, 1.0f);
        check(pare_cl_write(rt, dg, 0, n * 4, g, &err), &err);
        assert_int_equal(pare_ref_adam_step_f32(&p, w, g, m, v, n, t, mask), PARE_REF_OK);
        check(pare_launch_train_adam_step_f32(rt, &p, t, dw, dg, dm, dv, dk, n, NULL, &err), &err);
      }
      read_back(dw, n * 4, wg);
      read_back(dm, n * 4, mg);
      read_back(dv, n * 4, vg);
      char what[96];
      snprintf(what, sizeof what, "adam cfg %zu n=%zu", c, n);
      tol t = {0, 1e-6, 1e-5}, tv = {0, 1e-12, 1e-5};
      assert_tol(wg, w, n, t, what);
      assert_tol(mg, m, n, t, what);
      assert_tol(vg, v, n, tv, what);
      assert_masked(wg, mask, n, what);
      assert_masked(mg, mask, n, what);
      assert_masked(vg, mask, n, what);
      release(dw);
      release(dm);
      release(dv);
      release(dg);
      release(dk);
      free(w);
      free(m);
      free(v);
      free(g);
      free(wg);
      free(mg);
      free(vg);
      free(mask);
    }
  }
  pare_error err;
  pare_ref_adam_params p;
  pare_ref_adam_params_init(&p, 1e-3f);
  assert_int_equal(
      pare_launch_train_adam_step_f32(rt, &p, 0, NULL, NULL, NULL, NULL, NULL, 5, NULL, &err),
      PARE_ERR_INVALID_ARG);
  assert_int_equal(
      pare_launch_train_adam_step_f32(rt, &p, 1, NULL, NULL, NULL, NULL, NULL, 0, NULL, &err),
      PARE_OK);
}

static void test_accumulate(void **state) {
  (void)state;
  test_rng r = {5};
  static const size_t sizes[] = {1, 15, 16, 33, 1031, 65537};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *x = alloc_f(n), *y = alloc_f(n), *got = alloc_f(n);
    test_fill(&r, x, n, -1.0f, 1.0f);
    test_fill(&r, y, n, -1.0f, 1.0f);
    cl_mem dx = buf(n * 4, x), dy = buf(n * 4, y);
    pare_error err;
    for (int rep = 0; rep < 2; rep++) {
      check(pare_launch_train_accumulate_f32(rt, dx, dy, n, NULL, &err), &err);
      for (size_t i = 0; i < n; i++) y[i] = y[i] + x[i];
    }
    read_back(dy, n * 4, got);
    tol t = {0, 0, 0};
    assert_tol(got, y, n, t, "accumulate");
    release(dx);
    release(dy);
    free(x);
    free(y);
    free(got);
  }
}

/* Weight fake quantization per row against the reference. The kernel
 * divides in fp32 and the reference in double, so an element may land one
 * step away where x/scale is within 2^-20 (relative) of a rounding tie;
 * everything else must match to the last bit of the rescaling. */
static void test_fake_quant_rows(void **state) {
  (void)state;
  test_rng r = {8};
  static const size_t shapes[][2] = {{1, 1}, {3, 7}, {16, 27}, {10, 1568}, {1, 5000}, {4, 3}};
  static const int bits[] = {2, 4, 8};
  pare_error err;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (size_t b = 0; b < sizeof bits / sizeof bits[0]; b++) {
      size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
      float *x = alloc_f(n), *want = alloc_f(n), *got = alloc_f(n);
      test_fill(&r, x, n, -3.0f, 3.0f);
      if (s == 5) { /* an all-zero row and a huge one */
        for (size_t j = 0; j < cols; j++) x[j] = 0.0f, x[cols + j] *= 1e30f;
      }
      assert_int_equal(pare_ref_fake_quant_rows_f32(x, rows, cols, bits[b], want), PARE_REF_OK);
      cl_mem dx = buf(n * 4, x), dy = buf(n * 4, NULL);
      check(pare_launch_train_fake_quant_rows_f32(rt, rows, cols, bits[b], dx, dy, NULL, &err),
            &err);
      read_back(dy, n * 4, got);
      float qmax = (float)((1 << (bits[b] - 1)) - 1);
      for (size_t i = 0; i < n; i++) {
        if (got[i] == want[i] || fabsf(got[i] - want[i]) <= 1e-6f * fabsf(want[i])) continue;
        float m = 0.0f; /* the row's scale, to see whether x sat on a tie */
        for (size_t j = 0; j < cols; j++) m = fmaxf(m, fabsf(x[(i / cols) * cols + j]));
        double q = (double)x[i] / ((double)m / qmax), frac = q - floor(q);
        if (fabs(frac - 0.5) > 1e-6 * fabs(q) + 1e-6)
          fail_msg("%zux%zu %d bits: y[%zu] = %.9g, want %.9g (x %.9g)", rows, cols, bits[b], i,
                   got[i], want[i], x[i]);
      }
      release(dx);
      release(dy);
      free(x);
      free(want);
      free(got);
    }
  assert_int_equal(pare_launch_train_fake_quant_rows_f32(rt, 2, 2, 1, NULL, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
}

/* BatchNormalization with batch statistics, forward (y, saved statistics,
 * running statistics) and backward (dx, dscale, dbias) against the
 * reference, which sums in double: the kernels' Kahan-compensated fp32
 * sums agree to a few ulps of the largest term, so the tolerances scale
 * with the output's own magnitude (rel 2e-5) plus 1e-5 absolute for the
 * gradients, whose terms cancel. */
static void test_batchnorm(void **state) {
  (void)state;
  test_rng r = {12};
  static const size_t shapes[][3] = {{2, 3, 35}, {1, 1, 1}, {5, 4, 1}, {64, 8, 196}, {3, 16, 49}};
  pare_error err;
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    size_t n = shapes[s][0], C = shapes[s][1], inner = shapes[s][2], total = n * C * inner;
    int64_t dims[3] = {(int64_t)n, (int64_t)C, (int64_t)inner};
    float *x = alloc_f(total), *dy = alloc_f(total), *y = alloc_f(total), *dx = alloc_f(total);
    float *got = alloc_f(total), *sc = alloc_f(C), *bi = alloc_f(C), *rm = alloc_f(C);
    float *rv = alloc_f(C), *m = alloc_f(C), *is = alloc_f(C), *ds = alloc_f(C), *db = alloc_f(C);
    float *gotc = alloc_f(C);
    test_fill(&r, x, total, -2.0f, 3.0f);
    test_fill(&r, dy, total, -1.0f, 1.0f);
    test_fill(&r, sc, C, 0.5f, 1.5f);
    test_fill(&r, bi, C, -0.5f, 0.5f);
    test_fill(&r, rm, C, -0.1f, 0.1f);
    test_fill(&r, rv, C, 0.5f, 1.5f);
    cl_mem dxm = buf(total * 4, x), ddy = buf(total * 4, dy), dsc = buf(C * 4, sc);
    cl_mem dbi = buf(C * 4, bi), drm = buf(C * 4, rm), drv = buf(C * 4, rv);
    cl_mem dyo = buf(total * 4, NULL), dm = buf(C * 4, NULL), dis = buf(C * 4, NULL);
    cl_mem ddx = buf(total * 4, NULL), dds = buf(C * 4, NULL), ddb = buf(C * 4, NULL);
    check(pare_launch_train_bn_forward_f32(rt, n, C, inner, 1e-5f, 0.9f, dxm, dsc, dbi, drm, drv,
                                           dyo, dm, dis, NULL, &err),
          &err);
    check(pare_launch_train_bn_backward_f32(rt, n, C, inner, dxm, dsc, dm, dis, ddy, ddx, dds, ddb,
                                            NULL, &err),
          &err);
    assert_int_equal(
        pare_ref_batchnorm_train_f32(x, 3, dims, sc, bi, 1e-5f, 0.9f, rm, rv, y, m, is),
        PARE_REF_OK);
    assert_int_equal(pare_ref_batchnorm_backward_f32(x, 3, dims, sc, m, is, dy, dx, ds, db),
                     PARE_REF_OK);
    tol t = {8, 1e-6, 2e-5}, tg = {8, 1e-5, 2e-5};
    read_back(dyo, total * 4, got);
    assert_tol(got, y, total, t, "batchnorm y");
    read_back(dm, C * 4, gotc);
    assert_tol(gotc, m, C, t, "batchnorm mean");
    read_back(dis, C * 4, gotc);
    assert_tol(gotc, is, C, t, "batchnorm inv_std");
    read_back(drm, C * 4, gotc);
    assert_tol(gotc, rm, C, t, "batchnorm running mean");
    read_back(drv, C * 4, gotc);
    assert_tol(gotc, rv, C, t, "batchnorm running var");
    read_back(ddx, total * 4, got);
    assert_tol(got, dx, total, tg, "batchnorm dx");
    tol tc = {8, 1e-5 * (double)(n * inner), 2e-5}; /* sums of n·inner terms */
    read_back(dds, C * 4, gotc);
    assert_tol(gotc, ds, C, tc, "batchnorm dscale");
    read_back(ddb, C * 4, gotc);
    assert_tol(gotc, db, C, tc, "batchnorm dbias");
    cl_mem all[] = {dxm, ddy, dsc, dbi, drm, drv, dyo, dm, dis, ddx, dds, ddb};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) release(all[i]);
    float *host[] = {x, dy, y, dx, got, sc, bi, rm, rv, m, is, ds, db, gotc};
    for (size_t i = 0; i < sizeof host / sizeof host[0]; i++) free(host[i]);
  }
  assert_int_equal(pare_launch_train_bn_backward_f32(rt, 2, 2, 2, NULL, NULL, NULL, NULL, NULL,
                                                     NULL, NULL, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_act_backward),
      cmocka_unit_test(test_pool_backward),
      cmocka_unit_test(test_global_avgpool_backward),
      cmocka_unit_test(test_softmax_xent),
      cmocka_unit_test(test_distill),
      cmocka_unit_test(test_sgd),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_accumulate),
      cmocka_unit_test(test_fake_quant_rows),
      cmocka_unit_test(test_batchnorm),
  };
  return cmocka_run_group_tests_name("train_f32", tests, test_cl_setup, test_cl_teardown);
}
