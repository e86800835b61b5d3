/* kernels/spact_f32.cl (compaction of sparse activations, fully connected
 * product over the non-zeros) against engine/ref/spact_f32.c, and the
 * reference against a plain dense layer Y = X·Wᵀ + b.
 *
 * Cases: rows 1, 2, primes and 64/67; M and K from 1 through primes and
 * sizes on either side of every vector width and tile (16, 32, 64), up to
 * 300 and 784; activation densities 0 % (all-zero rows), 5 %, 50 % and
 * 100 %; negative values, zeros stored as -0.0 (they count as zero), bias
 * and ReLU on and off, element offsets and padded leading dimensions for
 * X and Y. Y starts as NaN, so every output must be written and the
 * padding between rows must not be. The compaction is compared exactly
 * (positions, values and counts); the product through the launcher's tile
 * and through explicit variants (vector widths 1..16, 1..3 vectors,
 * unroll 1 and 2).
 *
 * Tolerance (device against the double-accumulated reference):
 *   test_dot_tolerance(K, max|x|, max|w|) + 4e-7·(1 + max|bias|)
 * i.e. 2·(K+2)·2⁻²³·max|x|·max|w| for fp32 sums of at most K products in
 * any order, plus the rounding of the bias add. The reference against the
 * dense double product of W: 1e-6 relative to Σ|x·w| (both are double,
 * only the final rounding differs). */
#include <limits.h>
#include <string.h>

#include "engine/ref/spact.h"
#include "host/launch/spact_f32.h"
#include "kernels/kernel_sources.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

/* rows x k activations in a buffer with row stride ldx: each element
 * non-zero with probability `density` (values in [-2, 2], never 0); zeros
 * are -0.0 or +0.0 at random; row 3 of every 5 forced to zero when
 * `holes`. */
static void random_acts(test_rng *r, float *x, size_t rows, size_t k, size_t ldx, double density,
                        int holes) {
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < k; j++) {
      float v = test_rng_below(r, 2) ? -0.0f : 0.0f;
      if (density >= 1.0 || (double)test_rng_uniform(r, 0.0f, 1.0f) < density) {
        v = test_rng_uniform(r, -2.0f, 2.0f);
        if (v == 0.0f) v = -1.5f;
      }
      x[i * ldx + j] = holes && i % 5 == 3 ? -0.0f : v;
    }
}

static double amax_of(const float *x, size_t n) {
  double a = 0;
  /* A compare, not fmax(): Debian 12's GCC 12.2 dies vectorizing a double fmax
   * reduction over floats for aarch64 at -O3. NaNs are skipped either way. */
  for (size_t i = 0; i < n; i++)
    if (fabs((double)x[i]) > a) a = fabs((double)x[i]);
  return a;
}

/* The spact_fc kernel with explicit defines, on a compacted scratch. */
static pare_status launch_variant(const char *defines, int tn, const pare_spact_f32_args *a,
                                  const pare_spact_cl *s, pare_error *err) {
  cl_kernel kern;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_spact_f32, defines, "spact_fc", &kern, err);
  if (st != PARE_OK) return st;
  cl_int rows = (cl_int)a->rows, m = (cl_int)a->m, k = (cl_int)a->k, off_y = (cl_int)a->off_y,
         ldy = (cl_int)a->ldy, has_bias = a->bias != NULL, relu = a->relu != 0;
  cl_mem bias = a->bias ? a->bias : a->y;
  const pare_cl_arg args[] = {{sizeof rows, &rows},
                              {sizeof m, &m},
                              {sizeof k, &k},
                              {sizeof(cl_mem), &s->idx},
                              {sizeof(cl_mem), &s->val},
                              {sizeof(cl_mem), &s->count},
                              {sizeof(cl_mem), &a->wt},
                              {sizeof(cl_mem), &bias},
                              {sizeof has_bias, &has_bias},
                              {sizeof relu, &relu},
                              {sizeof(cl_mem), &a->y},
                              {sizeof off_y, &off_y},
                              {sizeof ldy, &ldy}};
  for (cl_uint i = 0; i < sizeof args / sizeof args[0] && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, kern, i, args[i].size, args[i].value, "spact_fc", err);
  const size_t global[2] = {a->rows, (a->m + (size_t)tn - 1) / (size_t)tn};
  if (st == PARE_OK) st = pare_cl_launch(rt, kern, "spact_fc", 2, global, NULL, NULL, err);
  rt->cl->clReleaseKernel(kern);
  return st;
}

static const struct {
  const char *defines;
  int tn;
} variants[] = {{"-DSA_VW=1 -DSA_NV=1 -DSA_UNROLL=1", 1},
                {"-DSA_VW=4 -DSA_NV=3 -DSA_UNROLL=2", 12},
                {"-DSA_VW=8 -DSA_NV=1 -DSA_UNROLL=1", 8},
                {"-DSA_VW=16 -DSA_NV=2 -DSA_UNROLL=1", 32},
                {"-DSA_VW=16 -DSA_NV=4 -DSA_UNROLL=2", 64}};

/* One layer: reference against dense, device compaction against the
 * reference's, device products against the reference product. */
static void check_layer(test_rng *r, size_t rows, size_t m, size_t k, double density, int with_bias,
                        int relu, int all_variants) {
  const size_t padx = test_rng_below(r, 3), pady = test_rng_below(r, 3);
  const size_t off_x = test_rng_below(r, 3), off_y = test_rng_below(r, 3);
  const size_t ldx = k + padx, ldy = m + pady;
  const size_t nx = off_x + rows * ldx, ny = off_y + rows * ldy;
  float *x = malloc((nx + 1) * 4), *w = malloc((m * k + 1) * 4), *wt = malloc((m * k + 1) * 4);
  float *bias = malloc((m + 1) * 4), *y = malloc((ny + 1) * 4), *want = malloc((ny + 1) * 4);
  float *val = malloc((rows * k + 1) * 4), *dval = malloc((rows * k + 1) * 4);
  int32_t *idx = malloc((rows * k + 1) * 4), *didx = malloc((rows * k + 1) * 4);
  int32_t *count = malloc((rows + 1) * 4), *dcount = malloc((rows + 1) * 4);
  assert_true(x && w && wt && bias && y && want && val && dval && idx && didx && count && dcount);
  test_fill(r, x, nx, -2.0f, 2.0f); /* the padding: must be ignored */
  random_acts(r, x + off_x, rows, k, ldx, density, density > 0 && density < 1);
  test_fill(r, w, m * k, -1.0f, 1.0f);
  test_fill(r, bias, m, -1.0f, 1.0f);
  assert_int_equal(pare_ref_spact_transpose_f32(m, k, w, wt), PARE_REF_SPACT_OK);
  for (size_t i = 0; i < ny; i++) y[i] = want[i] = NAN;
  char what[200];
  snprintf(what, sizeof what,
           "rows=%zu m=%zu k=%zu density=%.2f bias=%d relu=%d ldx=%zu ldy=%zu off=%zu,%zu", rows, m,
           k, density, with_bias, relu, ldx, ldy, off_x, off_y);

  /* Reference: compaction by definition, product against dense W. */
  assert_int_equal(pare_ref_spact_compact_f32(rows, k, x + off_x, ldx, idx, val, count),
                   PARE_REF_SPACT_OK);
  for (size_t i = 0; i < rows; i++) {
    size_t c = 0;
    for (size_t j = 0; j < k; j++) {
      const float v = x[off_x + i * ldx + j];
      if (v == 0.0f) continue;
      if ((size_t)count[i] <= c || idx[i * k + c] != (int32_t)j || val[i * k + c] != v)
        fail_msg("%s: reference compaction of row %zu, slot %zu", what, i, c);
      c++;
    }
    assert_int_equal(count[i], c);
  }
  assert_int_equal(pare_ref_spact_fc_f32(rows, m, k, idx, val, count, wt, with_bias ? bias : NULL,
                                         relu, want + off_y, ldy),
                   PARE_REF_SPACT_OK);
  for (size_t i = 0; i < rows; i++)
    for (size_t c = 0; c < m; c++) {
      double acc = with_bias ? bias[c] : 0.0, scale = 1.0;
      for (size_t j = 0; j < k; j++) {
        acc += (double)x[off_x + i * ldx + j] * w[c * k + j];
        scale += fabs((double)x[off_x + i * ldx + j] * w[c * k + j]);
      }
      if (relu && !(acc > 0)) acc = 0;
      const double got = want[off_y + i * ldy + c];
      if (!(fabs(got - acc) <= 1e-6 * scale))
        fail_msg("%s: reference (%zu,%zu) = %.9g, dense %.9g", what, i, c, got, acc);
    }

  /* Device. */
  pare_error err;
  cl_mem dx, dwt, dy, dbias = NULL;
  pare_spact_cl s;
  assert_int_equal(pare_spact_scratch_alloc(rt, rows, k, &s, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (nx + 1) * 4, x, &dx, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (m * k + 1) * 4, wt, &dwt, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, (ny + 1) * 4, y, &dy, &err), PARE_OK);
  if (with_bias)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (m + 1) * 4, bias, &dbias, &err),
                     PARE_OK);
  pare_spact_f32_args a = {rows, m, k, dx, off_x, ldx, dwt, dbias, relu, dy, off_y, ldy};
  if (pare_launch_spact_f32(rt, &a, &s, NULL, &err) != PARE_OK) fail_msg("%s: %s", what, err.text);
  assert_int_equal(pare_cl_read(rt, dy, 0, ny * 4, y, &err), PARE_OK);
  const double tol = test_dot_tolerance(k, amax_of(x + off_x, nx - off_x), amax_of(w, m * k)) +
                     4e-7 * (1.0 + amax_of(bias, m));
  test_assert_close(y, want, ny, tol, what);
  /* The compaction, exactly. */
  assert_int_equal(pare_cl_read(rt, s.count, 0, rows * 4, dcount, &err), PARE_OK);
  if (k) {
    assert_int_equal(pare_cl_read(rt, s.idx, 0, rows * k * 4, didx, &err), PARE_OK);
    assert_int_equal(pare_cl_read(rt, s.val, 0, rows * k * 4, dval, &err), PARE_OK);
  }
  for (size_t i = 0; i < rows; i++) {
    if (dcount[i] != count[i])
      fail_msg("%s: row %zu has %d non-zeros on the device, %d in the reference", what, i,
               dcount[i], count[i]);
    for (int32_t j = 0; j < count[i]; j++) {
      const size_t e = i * k + (size_t)j;
      if (didx[e] != idx[e] || memcmp(&dval[e], &val[e], 4) != 0)
        fail_msg("%s: row %zu slot %d: device (%d, %g), reference (%d, %g)", what, i, j, didx[e],
                 dval[e], idx[e], val[e]);
    }
  }
  /* Explicit variants on the same compaction. */
  for (size_t v = 0; all_variants && v < sizeof variants / sizeof variants[0]; v++) {
    for (size_t i = 0; i < ny; i++) y[i] = NAN;
    assert_int_equal(pare_cl_write(rt, dy, 0, ny * 4, y, &err), PARE_OK);
    if (launch_variant(variants[v].defines, variants[v].tn, &a, &s, &err) != PARE_OK)
      fail_msg("%s %s: %s", what, variants[v].defines, err.text);
    assert_int_equal(pare_cl_read(rt, dy, 0, ny * 4, y, &err), PARE_OK);
    char w2[300];
    snprintf(w2, sizeof w2, "%s %s", what, variants[v].defines);
    test_assert_close(y, want, ny, tol, w2);
  }
  pare_spact_scratch_release(rt, &s);
  rt->cl->clReleaseMemObject(dx);
  rt->cl->clReleaseMemObject(dwt);
  rt->cl->clReleaseMemObject(dy);
  if (dbias) rt->cl->clReleaseMemObject(dbias);
  free(x), free(w), free(wt), free(bias), free(y), free(want);
  free(val), free(dval), free(idx), free(didx), free(count), free(dcount);
}

static const size_t row_sizes[] = {1, 1, 2, 3, 7, 13, 64, 67};
static const size_t widths[] = {1, 2, 3, 5, 7, 8, 13, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 129};
static const double densities[] = {0.0, 0.05, 0.5, 1.0};

static void test_layers(void **state) {
  (void)state;
  test_rng r = {41};
  const size_t nr = sizeof row_sizes / sizeof row_sizes[0], nw = sizeof widths / sizeof widths[0];
  for (int t = 0; t < 96; t++) {
    const size_t rows = row_sizes[test_rng_below(&r, nr)], m = widths[test_rng_below(&r, nw)],
                 k = widths[test_rng_below(&r, nw)];
    check_layer(&r, rows, m, k, densities[t % 4], (t / 4) % 2, (t / 8) % 2, t % 3 == 0);
  }
  /* Degenerate and real shapes. */
  check_layer(&r, 1, 1, 1, 1.0, 1, 0, 1);
  check_layer(&r, 5, 1, 97, 0.5, 1, 1, 1);
  check_layer(&r, 3, 131, 1, 1.0, 0, 1, 1);
  check_layer(&r, 7, 37, 1, 0.0, 1, 0, 1);
  check_layer(&r, 64, 300, 784, 0.3, 1, 1, 1);
  check_layer(&r, 1, 300, 784, 0.1, 1, 0, 0);
  check_layer(&r, 67, 100, 300, 0.05, 1, 1, 0);
  check_layer(&r, 13, 100, 300, 1.0, 0, 0, 0);
}

/* -0.0 is zero, NaN and infinities are kept and propagate like the dense
 * product would. */
static void test_special_values(void **state) {
  (void)state;
  const size_t k = 6, m = 3;
  const float x[2 * 6] = {-0.0f, 1.0f,  0.0f,  -0.0f, -2.0f, -0.0f,
                          -0.0f, -0.0f, -0.0f, -0.0f, -0.0f, -0.0f};
  int32_t idx[12], count[2];
  float val[12], wt[18], y[6];
  for (int i = 0; i < 18; i++) wt[i] = (float)(i % 5) - 2.0f;
  assert_int_equal(pare_ref_spact_compact_f32(2, k, x, k, idx, val, count), 0);
  assert_int_equal(count[0], 2);
  assert_int_equal(count[1], 0);
  assert_int_equal(idx[0], 1);
  assert_int_equal(idx[1], 4);
  assert_true(val[0] == 1.0f && val[1] == -2.0f);
  const float bias[3] = {0.5f, -0.5f, 0.0f};
  assert_int_equal(pare_ref_spact_fc_f32(2, m, k, idx, val, count, wt, bias, 0, y, m), 0);
  for (size_t c = 0; c < m; c++) {
    assert_true(y[c] == bias[c] + wt[1 * m + c] - 2.0f * wt[4 * m + c]);
    assert_true(y[m + c] == bias[c]);
  }
  /* The device agrees, NaN included (NaN is non-zero: it stays). */
  float x2[12];
  memcpy(x2, x, sizeof x2);
  x2[7] = NAN;
  pare_error err;
  cl_mem dx, dwt, dy, db;
  pare_spact_cl s;
  float got[6];
  assert_int_equal(pare_spact_scratch_alloc(rt, 2, k, &s, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof x2, x2, &dx, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof wt, wt, &dwt, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, sizeof bias, bias, &db, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof got, NULL, &dy, &err), PARE_OK);
  pare_spact_f32_args a = {2, m, k, dx, 0, k, dwt, db, 0, dy, 0, m};
  assert_int_equal(pare_launch_spact_f32(rt, &a, &s, NULL, &err), PARE_OK);
  assert_int_equal(pare_cl_read(rt, dy, 0, sizeof got, got, &err), PARE_OK);
  assert_int_equal(pare_ref_spact_compact_f32(2, k, x2, k, idx, val, count), 0);
  assert_int_equal(count[1], 1);
  assert_int_equal(pare_ref_spact_fc_f32(2, m, k, idx, val, count, wt, bias, 0, y, m), 0);
  for (int i = 0; i < 6; i++) {
    if (isnan(y[i]))
      assert_true(isnan(got[i]));
    else
      assert_true(fabsf(got[i] - y[i]) <= 1e-6f);
  }
  /* ReLU maps NaN to 0, as the reference does. */
  a.relu = 1;
  assert_int_equal(pare_launch_spact_f32(rt, &a, &s, NULL, &err), PARE_OK);
  assert_int_equal(pare_cl_read(rt, dy, 0, sizeof got, got, &err), PARE_OK);
  assert_int_equal(pare_ref_spact_fc_f32(2, m, k, idx, val, count, wt, bias, 1, y, m), 0);
  assert_memory_equal(got, y, sizeof got);
  pare_spact_scratch_release(rt, &s);
  rt->cl->clReleaseMemObject(dx);
  rt->cl->clReleaseMemObject(dwt);
  rt->cl->clReleaseMemObject(db);
  rt->cl->clReleaseMemObject(dy);
}

/* Bad arguments are refused; empty shapes launch nothing and succeed. */
static void test_bad_args(void **state) {
  (void)state;
  pare_error err;
  pare_spact_cl s, none = {0};
  assert_int_equal(pare_spact_scratch_alloc(rt, 4, 8, &s, &err), PARE_OK);
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 1024, NULL, &buf, &err), PARE_OK);
  pare_spact_f32_args a = {4, 8, 8, buf, 0, 8, buf, NULL, 0, buf, 0, 8};
  assert_int_equal(pare_launch_spact_f32(rt, &a, &s, NULL, &err), PARE_OK);
  assert_int_equal(pare_cl_finish(rt, &err), PARE_OK);
  assert_int_equal(pare_launch_spact_f32(rt, NULL, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_spact_f32(rt, &a, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_spact_f32(rt, &a, &none, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_spact_compact_f32(rt, &a, &none, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_spact_fc_f32(rt, &a, &none, NULL, &err), PARE_ERR_INVALID_ARG);
  pare_spact_f32_args b = a;
  b.x = NULL;
  assert_int_equal(pare_launch_spact_compact_f32(rt, &b, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  b = a, b.wt = NULL;
  assert_int_equal(pare_launch_spact_fc_f32(rt, &b, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  b = a, b.y = NULL;
  assert_int_equal(pare_launch_spact_fc_f32(rt, &b, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  b = a, b.ldx = 7;
  assert_int_equal(pare_launch_spact_compact_f32(rt, &b, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  b = a, b.ldy = 3;
  assert_int_equal(pare_launch_spact_fc_f32(rt, &b, &s, NULL, &err), PARE_ERR_INVALID_ARG);
  b = a, b.k = (size_t)INT_MAX + 2;
  assert_int_equal(pare_launch_spact_fc_f32(rt, &b, &s, NULL, &err), PARE_ERR_UNSUPPORTED);
  /* Empty shapes: nothing launched, even with NULL buffers. */
  pare_spact_f32_args e = {0};
  assert_int_equal(pare_launch_spact_f32(rt, &e, &none, NULL, &err), PARE_OK);
  e.rows = 3;
  assert_int_equal(pare_launch_spact_fc_f32(rt, &e, &none, NULL, &err), PARE_OK);
  e.rows = 0, e.m = 5, e.k = 5;
  assert_int_equal(pare_launch_spact_compact_f32(rt, &e, &none, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_spact_fc_f32(rt, &e, &none, NULL, &err), PARE_OK);
  /* Scratch sizes. */
  size_t bi, bv, bc;
  assert_int_equal(pare_spact_scratch_size(3, 5, &bi, &bv, &bc, &err), PARE_OK);
  assert_true(bi == 60 && bv == 60 && bc == 12);
  assert_int_equal(pare_spact_scratch_size(0, 0, &bi, &bv, &bc, &err), PARE_OK);
  assert_true(bi >= 4 && bv >= 4 && bc >= 4);
  assert_int_equal(pare_spact_scratch_size(1u << 20, 1u << 12, &bi, &bv, &bc, &err),
                   PARE_ERR_UNSUPPORTED);
  assert_int_equal(pare_spact_scratch_size(1, 1, NULL, &bv, &bc, &err), PARE_ERR_INVALID_ARG);
  /* The reference refuses what it cannot do. */
  int32_t idx[4] = {0, 5, 0, 0}, cnt[1] = {2};
  float val[4] = {1, 1, 1, 1}, wt[16] = {0}, y[4];
  assert_int_equal(pare_ref_spact_fc_f32(1, 4, 4, idx, val, cnt, wt, NULL, 0, y, 4),
                   PARE_REF_SPACT_EINVAL);
  idx[1] = 1, cnt[0] = 5;
  assert_int_equal(pare_ref_spact_fc_f32(1, 4, 4, idx, val, cnt, wt, NULL, 0, y, 4),
                   PARE_REF_SPACT_EINVAL);
  assert_int_equal(pare_ref_spact_fc_f32(1, 4, 4, idx, val, cnt, wt, NULL, 0, y, 3),
                   PARE_REF_SPACT_EINVAL);
  assert_int_equal(pare_ref_spact_compact_f32(1, 4, NULL, 4, idx, val, cnt), PARE_REF_SPACT_EINVAL);
  assert_int_equal(pare_ref_spact_compact_f32(2, 4, val, 3, idx, val, cnt), PARE_REF_SPACT_EINVAL);
  assert_int_equal(pare_ref_spact_transpose_f32(2, 2, NULL, wt), PARE_REF_SPACT_EINVAL);
  assert_int_equal(pare_ref_spact_compact_f32(0, 4, NULL, 0, NULL, NULL, NULL), PARE_REF_SPACT_OK);
  pare_spact_scratch_release(rt, &s);
  rt->cl->clReleaseMemObject(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layers),
      cmocka_unit_test(test_special_values),
      cmocka_unit_test(test_bad_args),
  };
  return cmocka_run_group_tests(tests, test_cl_setup, test_cl_teardown);
}
