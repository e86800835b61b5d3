/* kernels/pool_f32.cl against engine/ref/pool.c: MaxPool and AveragePool
 * over random windows (1 and 2 spatial dims, kernel, strides, dilations,
 * asymmetric pads, auto_pad, ceil_mode, count_include_pad), hand-picked
 * edge cases (windows hanging past the end, windows of padding only,
 * NaN/inf inputs), and the global pools of spatial rank 0 to 3.
 *
 * Tolerances: MaxPool and GlobalMaxPool exact (the same value is selected;
 * -inf for windows without input). AveragePool: test_dot_tolerance(taps)
 * with |x| <= 1, i.e. 2·(taps + 2)·2^-23 absolute (fp32 sums in tap order vs
 * the reference's double); GlobalAveragePool likewise with taps = spatial.
 * NaN where the reference gives NaN (no input taps, NaN inputs). */
#include <string.h>

#include "engine/ref/ops.h"
#include "host/launch/pool_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

static cl_mem buf(size_t n, const float *host) {
  pare_error err;
  cl_mem m = NULL;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, (n ? n : 1) * sizeof(float), host, &m, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  return m;
}

static int64_t numel(int rank, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= d[i];
  return n;
}

/* Values in [-1, 1); with `specials`, NaN and ±inf at a few places. */
static void fill(test_rng *r, float *x, size_t n, int specials) {
  test_fill(r, x, n, -1.0f, 1.0f);
  if (!specials) return;
  static const float sp[] = {NAN, INFINITY, -INFINITY};
  for (size_t i = 5; i < n; i += 37) x[i] = sp[test_rng_below(r, 3)];
}

static void describe(char *what, size_t size, int is_max, const pare_ref_pool_params *p,
                     const int64_t *xd) {
  int ns = p->win.nspatial;
  int len = snprintf(what, size, "%s x[%lld,%lld", is_max ? "maxpool" : "avgpool", (long long)xd[0],
                     (long long)xd[1]);
  for (int i = 0; i < ns; i++)
    len += snprintf(what + len, size - (size_t)len, ",%lld", (long long)xd[2 + i]);
  len += snprintf(what + len, size - (size_t)len, "] k");
  for (int i = 0; i < ns; i++)
    len += snprintf(what + len, size - (size_t)len, "%s%lld", i ? "x" : "",
                    (long long)p->win.kernel[i]);
  len += snprintf(what + len, size - (size_t)len, " s");
  for (int i = 0; i < ns; i++)
    len += snprintf(what + len, size - (size_t)len, "%s%lld", i ? "x" : "",
                    (long long)p->win.strides[i]);
  len += snprintf(what + len, size - (size_t)len, " d");
  for (int i = 0; i < ns; i++)
    len += snprintf(what + len, size - (size_t)len, "%s%lld", i ? "x" : "",
                    (long long)p->win.dilations[i]);
  len += snprintf(what + len, size - (size_t)len, " pads");
  for (int i = 0; i < 2 * ns; i++)
    len +=
        snprintf(what + len, size - (size_t)len, "%s%lld", i ? "," : "", (long long)p->win.pads[i]);
  snprintf(what + len, size - (size_t)len, " auto %d ceil %d cip %d", (int)p->win.auto_pad,
           p->ceil_mode, p->count_include_pad);
}

/* One pooling problem through both the reference and the kernel. */
static void check_pool(test_rng *r, int is_max, const pare_ref_pool_params *p,
                       const int64_t *x_dims, int specials) {
  int ns = p->win.nspatial;
  char what[256];
  describe(what, sizeof what, is_max, p, x_dims);
  int64_t y_dims[2 + PARE_REF_MAX_SPATIAL];
  pare_error err;
  if (pare_ref_pool_shape(p, x_dims, y_dims) != PARE_REF_OK) {
    /* The launcher refuses what the reference refuses. */
    if (pare_launch_pool2d_f32(rt, is_max, p, x_dims, NULL, NULL, NULL, &err) !=
        PARE_ERR_INVALID_ARG)
      fail_msg("%s: accepted an invalid window", what);
    return;
  }
  size_t nx = (size_t)numel(2 + ns, x_dims), ny = (size_t)numel(2 + ns, y_dims);
  float *x = malloc((nx + 1) * 4), *want = malloc((ny + 1) * 4), *got = malloc((ny + 1) * 4);
  assert_true(x && want && got);
  fill(r, x, nx, specials);
  int rc = is_max ? pare_ref_maxpool_f32(p, x, x_dims, want, NULL)
                  : pare_ref_avgpool_f32(p, x, x_dims, want, NULL);
  assert_int_equal(rc, PARE_REF_OK);
  cl_mem bx = buf(nx, x), by = buf(ny, NULL);
  if (pare_launch_pool2d_f32(rt, is_max, p, x_dims, bx, by, NULL, &err) != PARE_OK)
    fail_msg("%s: %s", what, err.text);
  if (ny && pare_cl_read(rt, by, 0, ny * 4, got, &err) != PARE_OK) fail_msg("read: %s", err.text);
  int64_t taps = 1;
  for (int i = 0; i < ns; i++) taps *= p->win.kernel[i];
  test_assert_close(got, want, ny, is_max ? 0.0 : test_dot_tolerance((size_t)taps, 1.0, 1.0), what);
  rt->cl->clReleaseMemObject(bx);
  rt->cl->clReleaseMemObject(by);
  free(x);
  free(want);
  free(got);
}

static void test_pool_random(void **state) {
  (void)state;
  test_rng r = {0x5eed5eedu};
  static const int64_t sizes[] = {1, 2, 3, 4, 5, 7, 8, 13, 28};
  const size_t nsizes = sizeof sizes / sizeof sizes[0];
  for (int it = 0; it < 500; it++) {
    int ns = 1 + (int)test_rng_below(&r, 2);
    pare_ref_pool_params p;
    pare_ref_pool_params_init(&p, ns);
    int64_t xd[4] = {1 + (int64_t)test_rng_below(&r, 2), 1 + (int64_t)test_rng_below(&r, 3)};
    for (int i = 0; i < ns; i++) {
      xd[2 + i] = sizes[test_rng_below(&r, nsizes)];
      p.win.kernel[i] = 1 + (int64_t)test_rng_below(&r, 4);
      p.win.strides[i] = 1 + (int64_t)test_rng_below(&r, 3);
      p.win.dilations[i] = test_rng_below(&r, 4) == 0 ? 2 : 1;
      /* Mostly pads below the kernel, sometimes beyond it. */
      int64_t lim = p.win.kernel[i] + (test_rng_below(&r, 5) == 0 ? 2 : 0);
      p.win.pads[i] = (int64_t)test_rng_below(&r, (size_t)lim);
      p.win.pads[ns + i] = (int64_t)test_rng_below(&r, (size_t)lim);
    }
    size_t ap = test_rng_below(&r, 10);
    if (ap >= 7) {
      p.win.auto_pad = (pare_ref_auto_pad)(ap - 6); /* SAME_UPPER, SAME_LOWER, VALID */
      memset(p.win.pads, 0, sizeof p.win.pads);
    }
    p.ceil_mode = (int)test_rng_below(&r, 2);
    p.count_include_pad = (int)test_rng_below(&r, 2);
    check_pool(&r, 1, &p, xd, it % 4 == 0);
    check_pool(&r, 0, &p, xd, it % 4 == 0);
  }
}

static pare_ref_pool_params pool2(int64_t k0, int64_t k1, int64_t s0, int64_t s1, int64_t pt,
                                  int64_t pl, int64_t pb, int64_t pr, int ceil_mode, int cip) {
  pare_ref_pool_params p;
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = k0, p.win.kernel[1] = k1;
  p.win.strides[0] = s0, p.win.strides[1] = s1;
  p.win.pads[0] = pt, p.win.pads[1] = pl, p.win.pads[2] = pb, p.win.pads[3] = pr;
  p.ceil_mode = ceil_mode;
  p.count_include_pad = cip;
  return p;
}

static void test_pool_edges(void **state) {
  (void)state;
  test_rng r = {7};
  for (int is_max = 0; is_max < 2; is_max++) {
    for (int cip = 0; cip < 2; cip++) {
      /* ceil_mode: the last window hangs past the end (5 = 2 + 2 + 1). */
      int64_t x5[4] = {1, 2, 5, 5};
      pare_ref_pool_params p = pool2(2, 2, 2, 2, 0, 0, 0, 0, 1, cip);
      check_pool(&r, is_max, &p, x5, 0);
      /* ceil_mode with pads: the window that would start in the end pad is
       * dropped; the one hanging past the pad counts only the pad. */
      int64_t x4[4] = {1, 1, 4, 6};
      p = pool2(2, 3, 2, 2, 1, 1, 1, 0, 1, cip);
      check_pool(&r, is_max, &p, x4, 0);
      p = pool2(3, 3, 2, 2, 1, 1, 1, 1, 1, cip);
      check_pool(&r, is_max, &p, x4, 0);
      /* Pads as large as the kernel: corner windows hold padding only. */
      int64_t x2[4] = {1, 1, 2, 2};
      p = pool2(2, 2, 1, 1, 2, 2, 2, 2, 0, cip);
      check_pool(&r, is_max, &p, x2, 0);
      /* Dilation with asymmetric pads. */
      int64_t x9[4] = {2, 3, 9, 11};
      p = pool2(3, 2, 1, 2, 2, 0, 1, 3, 1, cip);
      p.win.dilations[0] = 2, p.win.dilations[1] = 3;
      check_pool(&r, is_max, &p, x9, 1);
      /* 1x1 input, kernel 1; SAME_UPPER / SAME_LOWER on odd sizes. */
      int64_t x1[4] = {1, 1, 1, 1};
      p = pool2(1, 1, 1, 1, 0, 0, 0, 0, 0, cip);
      check_pool(&r, is_max, &p, x1, 0);
      int64_t x7[4] = {1, 2, 7, 6};
      p = pool2(3, 2, 2, 2, 0, 0, 0, 0, 0, cip);
      p.win.auto_pad = PARE_REF_AUTO_PAD_SAME_UPPER;
      check_pool(&r, is_max, &p, x7, 1);
      p.win.auto_pad = PARE_REF_AUTO_PAD_SAME_LOWER;
      check_pool(&r, is_max, &p, x7, 1);
      /* CNN shapes: 2x2/2 on 28x28 and 3x3/2 pad 1 on 56x56 (many rows per item). */
      int64_t xa[4] = {64, 16, 28, 28}, xb[4] = {2, 8, 56, 56};
      p = pool2(2, 2, 2, 2, 0, 0, 0, 0, 0, cip);
      check_pool(&r, is_max, &p, xa, 0);
      p = pool2(3, 3, 2, 2, 1, 1, 1, 1, 0, cip);
      check_pool(&r, is_max, &p, xb, 1);
    }
  }
  /* Empty batch: nothing to launch. 3-D pooling: not implemented. */
  pare_error err;
  int64_t x0[4] = {0, 3, 4, 4};
  pare_ref_pool_params p = pool2(2, 2, 2, 2, 0, 0, 0, 0, 0, 0);
  assert_int_equal(pare_launch_pool2d_f32(rt, 1, &p, x0, NULL, NULL, NULL, &err), PARE_OK);
  pare_ref_pool_params p3;
  pare_ref_pool_params_init(&p3, 3);
  p3.win.kernel[0] = p3.win.kernel[1] = p3.win.kernel[2] = 1;
  int64_t x3[5] = {1, 1, 2, 2, 2};
  assert_int_equal(pare_launch_pool2d_f32(rt, 1, &p3, x3, NULL, NULL, NULL, &err),
                   PARE_ERR_UNSUPPORTED);
}

static void check_global(test_rng *r, int is_max, int rank, const int64_t *xd, int specials) {
  int64_t planes = xd[0] * xd[1], spatial = 1;
  for (int i = 2; i < rank; i++) spatial *= xd[i];
  size_t nx = (size_t)(planes * spatial);
  float *x = malloc((nx + 1) * 4), *want = malloc(((size_t)planes + 1) * 4);
  float *got = malloc(((size_t)planes + 1) * 4);
  assert_true(x && want && got);
  fill(r, x, nx, specials);
  int rc = is_max ? pare_ref_global_maxpool_f32(x, rank, xd, want)
                  : pare_ref_global_avgpool_f32(x, rank, xd, want);
  assert_int_equal(rc, PARE_REF_OK);
  cl_mem bx = buf(nx, x), by = buf((size_t)planes, NULL);
  pare_error err;
  if (pare_launch_global_pool_f32(rt, is_max, (size_t)planes, (size_t)spatial, bx, by, NULL,
                                  &err) != PARE_OK)
    fail_msg("global pool: %s", err.text);
  if (planes && pare_cl_read(rt, by, 0, (size_t)planes * 4, got, &err) != PARE_OK)
    fail_msg("read: %s", err.text);
  char what[96];
  snprintf(what, sizeof what, "global %s rank %d planes %lld spatial %lld", is_max ? "max" : "avg",
           rank, (long long)planes, (long long)spatial);
  test_assert_close(got, want, (size_t)planes,
                    is_max ? 0.0 : test_dot_tolerance((size_t)spatial, 1.0, 1.0), what);
  rt->cl->clReleaseMemObject(bx);
  rt->cl->clReleaseMemObject(by);
  free(x);
  free(want);
  free(got);
}

static void test_global_pool(void **state) {
  (void)state;
  test_rng r = {2024};
  static const struct {
    int rank;
    int64_t d[5];
  } cases[] = {{2, {3, 5}},         {3, {2, 3, 1031}},    {4, {2, 5, 7, 7}},
               {4, {1, 1, 1, 1}},   {5, {2, 2, 3, 4, 5}}, {4, {64, 512, 7, 7}},
               {4, {3, 7, 15, 17}}, {4, {2, 3, 0, 4}},    {3, {1, 1, 100003}}};
  for (int is_max = 0; is_max < 2; is_max++)
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
      check_global(&r, is_max, cases[i].rank, cases[i].d, (int)(i % 2));
  pare_error err;
  assert_int_equal(pare_launch_global_pool_f32(rt, 0, 0, 49, NULL, NULL, NULL, &err), PARE_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pool_random),
      cmocka_unit_test(test_pool_edges),
      cmocka_unit_test(test_global_pool),
  };
  return cmocka_run_group_tests_name("pool_f32", tests, test_cl_setup, test_cl_teardown);
}
