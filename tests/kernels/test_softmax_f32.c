/* kernels/softmax_f32.cl against pare_ref_softmax_f32 /
 * pare_ref_log_softmax_f32 (legacy flattened view, axis 1 of [rows, cols]),
 * through both kernels (a row per work-item, a row per work-group), over
 * awkward shapes and rows holding NaN, +inf, -inf and huge values.
 *
 * Tolerances (NaN must match NaN, inf must match inf):
 *   softmax:    |got - want| <= want·((cols + 24)·2^-24 + |x - max|·2^-23)
 *               + FLT_MIN: the fp32 sum of cols exponentials (each within
 *               4 ulp) vs the reference's double sum, the rounding of the
 *               fp32 shift x - max (amplified by exp), and the division
 *   logsoftmax: |got - want| <= 2^-23·(|x - max| + |log sum| + |want|) +
 *               (cols + 24)·2^-24: the rounding of the shift and of log(sum)
 *               plus the relative error of the sum */
#include <float.h>
#include <string.h>

#include "engine/ref/ops.h"
#include "host/launch/softmax_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

/* Rows of kind 0: random in [-8, 8); 1..6: special rows. */
static void fill_row(test_rng *r, float *x, size_t cols, int kind) {
  test_fill(r, x, cols, -8.0f, 8.0f);
  size_t at = test_rng_below(r, cols);
  switch (kind) {
  case 1: x[at] = NAN; break;
  case 2: x[at] = INFINITY; break;
  case 3:
    for (size_t j = 0; j < cols; j++) x[j] = -INFINITY;
    break;
  case 4: x[at] = -INFINITY; break;
  case 5: /* huge values: only the max-subtraction keeps this finite */
    for (size_t j = 0; j < cols; j++) x[j] = x[j] * 1e4f + 1e30f;
    break;
  case 6: x[at] = 80.0f; break;
  default: break;
  }
}

static void check_softmax(test_rng *r, size_t rows, size_t cols, int log_out,
                          pare_softmax_mode mode, int specials) {
  size_t n = rows * cols;
  float *x = malloc((n + 1) * 4), *want = malloc((n + 1) * 4), *got = malloc((n + 1) * 4);
  assert_true(x && want && got);
  for (size_t i = 0; i < rows; i++)
    fill_row(r, x + i * cols, cols, specials && cols > 1 ? (int)(i % 7) : 0);
  int64_t dims[2] = {(int64_t)rows, (int64_t)cols};
  int rc = log_out ? pare_ref_log_softmax_f32(x, 2, dims, 1, 1, want)
                   : pare_ref_softmax_f32(x, 2, dims, 1, 1, want);
  assert_int_equal(rc, PARE_REF_OK);
  pare_error err;
  cl_mem bx = NULL, by = NULL;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, (n + 1) * 4, x, &bx, &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, (n + 1) * 4, NULL, &by, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  if (pare_launch_softmax_mode_f32(rt, log_out, rows, cols, bx, by, mode, NULL, &err) != PARE_OK)
    fail_msg("softmax: %s", err.text);
  if (pare_cl_read(rt, by, 0, n * 4, got, &err) != PARE_OK) fail_msg("read: %s", err.text);
  double sum_rel = ((double)cols + 24.0) / 16777216.0;
  for (size_t i = 0; i < rows; i++) {
    const float *xr = x + i * cols;
    double m = -INFINITY, s = 0.0;
    /* A compare, not fmax(): Debian 12's GCC 12.2 dies vectorizing a double fmax
     * reduction over floats for aarch64 at -O3. NaNs are skipped either way. */
    for (size_t j = 0; j < cols; j++)
      if ((double)xr[j] > m) m = (double)xr[j];
    for (size_t j = 0; j < cols; j++) s += exp((double)xr[j] - m);
    for (size_t j = 0; j < cols; j++) {
      float g = got[i * cols + j], w = want[i * cols + j];
      double tol =
          log_out ? (fabs((double)xr[j] - m) + fabs(log(s)) + fabs((double)w)) / 8388608.0 + sum_rel
                  : fabs((double)w) * (sum_rel + fabs((double)xr[j] - m) / 8388608.0) + FLT_MIN;
      if (!isfinite(tol)) tol = 0; /* -inf inputs: exact zeros / -inf */
      int ok;
      if (isnan(w))
        ok = isnan(g);
      else if (isinf(w))
        ok = g == w;
      else
        ok = !isnan(g) && fabs((double)g - (double)w) <= tol;
      if (!ok)
        fail_msg("%s mode %d %zux%zu: row %zu col %zu is %.9g, want %.9g (tolerance %.3g)",
                 log_out ? "logsoftmax" : "softmax", (int)mode, rows, cols, i, j, g, w, tol);
    }
  }
  rt->cl->clReleaseMemObject(bx);
  rt->cl->clReleaseMemObject(by);
  free(x);
  free(want);
  free(got);
}

static const size_t shapes[][2] = {{1, 1},    {1, 7},    {3, 8},      {5, 17}, {64, 10}, {64, 1000},
                                   {2, 1031}, {7, 4099}, {1, 100003}, {97, 3}, {33, 129}};

static void run_mode(pare_softmax_mode mode) {
  test_rng r = {0xfeedu + (uint64_t)mode};
  for (int log_out = 0; log_out < 2; log_out++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      for (int specials = 0; specials < 2; specials++)
        check_softmax(&r, shapes[s][0], shapes[s][1], log_out, mode, specials);
}

static void test_row_per_item(void **state) {
  (void)state;
  run_mode(PARE_SOFTMAX_ROW_PER_ITEM);
}

static void test_row_per_group(void **state) {
  (void)state;
  run_mode(PARE_SOFTMAX_ROW_PER_GROUP);
}

static void test_auto_and_edges(void **state) {
  (void)state;
  test_rng r = {3};
  check_softmax(&r, 64, 1000, 0, PARE_SOFTMAX_AUTO, 1);
  check_softmax(&r, 64, 10, 1, PARE_SOFTMAX_AUTO, 0);
  pare_error err;
  /* Empty views: nothing launched, no error. */
  assert_int_equal(pare_launch_softmax_f32(rt, 0, 0, 5, NULL, NULL, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_softmax_f32(rt, 1, 5, 0, NULL, NULL, NULL, &err), PARE_OK);
  /* In place. */
  float x[3 * 5], want[3 * 5];
  test_fill(&r, x, 15, -3, 3);
  int64_t dims[2] = {3, 5};
  pare_ref_softmax_f32(x, 2, dims, 1, 1, want);
  cl_mem bx;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof x, x, &bx, &err), PARE_OK);
  assert_int_equal(pare_launch_softmax_f32(rt, 0, 3, 5, bx, bx, NULL, &err), PARE_OK);
  assert_int_equal(pare_cl_read(rt, bx, 0, sizeof x, x, &err), PARE_OK);
  test_assert_close(x, want, 15, 1e-6, "in-place softmax");
  rt->cl->clReleaseMemObject(bx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_row_per_item),
      cmocka_unit_test(test_row_per_group),
      cmocka_unit_test(test_auto_and_edges),
  };
  return cmocka_run_group_tests_name("softmax_f32", tests, test_cl_setup, test_cl_teardown);
}
