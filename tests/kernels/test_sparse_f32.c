/* kernels/sparse_f32.cl (CSR fp32 and int8, BSR, N:M, sparse direct
 * convolution) against the reference products of engine/ref/sparse_f32.c,
 * and the reference and the builders against plain dense arithmetic.
 *
 * Cases: random patterns at densities 0 (all-zero matrix), 2 %, 30 % and
 * 100 % (fully dense), rows forced empty, shapes 1, primes and sizes on and
 * around every vector and tile width (up to 129, N = 1 included), K not a
 * multiple of the block or of the N:M group, both B/C layouts (row-major
 * C = A·B, and the layer Y = X·Wᵀ with B = Xᵀ, C = Yᵀ) plus a mixed one
 * (row-major B, transposed C), padded leading dimensions and offsets, bias
 * and ReLU on and off. C starts as NaN, so every element must be written
 * and nothing outside the view may be.
 *
 * Tolerance (device against the double-accumulated reference):
 *   test_dot_tolerance(k, max|w|, max|b|) + 4e-7·(1 + |bias|)
 * i.e. 2·(k+2)·2⁻²³·max|w|·max|b|: fp32 sums in any order of at most k
 * products, plus the rounding of the bias add. For int8 max|w| is the
 * dequantized maximum (scale·127): the kernel sums q·b in fp32 and scales
 * once, which is within the same bound. The reference against a dense
 * double product of the same (dequantized) matrix: 1e-5 relative. */
#include <string.h>

#include "engine/ref/sparse.h"
#include "host/launch/sparse_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

enum { FMT_CSR, FMT_CSR_I8, FMT_BSR, FMT_NM };
enum { LAY_ROW, LAY_FC, LAY_MIXED };

/* A random m×k matrix: each element non-zero with probability `density`
 * (values in [-1, 1], never 0); every 7th row forced empty when `holes`. */
static void random_sparse(test_rng *r, float *w, size_t m, size_t k, double density, int holes) {
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < k; j++) {
      float v = 0.0f;
      if (density >= 1.0 || (double)test_rng_uniform(r, 0.0f, 1.0f) < density) {
        v = test_rng_uniform(r, -1.0f, 1.0f);
        if (v == 0.0f) v = 0.5f;
      }
      w[i * k + j] = holes && i % 7 == 3 ? 0.0f : v;
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

/* One product through the device and the reference. */
static void check_mm(test_rng *r, int fmt, size_t p1, size_t p2, size_t m, size_t n, size_t k,
                     double density, int layout, int with_bias, int relu) {
  const size_t pad = test_rng_below(r, 3), off_b = test_rng_below(r, 3),
               off_c = test_rng_below(r, 3);
  float *w = malloc((m * k + 1) * sizeof *w), *dense = malloc((m * k + 1) * sizeof *dense);
  assert_true(w && dense);
  random_sparse(r, w, m, k, density, density > 0 && density < 1);
  if (fmt == FMT_NM) assert_int_equal(pare_nm_prune_f32(m, k, w, p1, p2), PARE_REF_SPARSE_OK);
  /* B and C views. */
  size_t b_rs, b_cs, c_rs, c_cs, nb, nc;
  if (layout == LAY_FC) { /* X[n x ldx], Y[n x ldy] */
    b_rs = 1, b_cs = k + pad, c_rs = 1, c_cs = m + pad;
    nb = off_b + n * b_cs, nc = off_c + n * c_cs;
  } else {
    b_rs = n + pad, b_cs = 1, nb = off_b + k * b_rs;
    if (layout == LAY_ROW)
      c_rs = n + pad, c_cs = 1, nc = off_c + m * c_rs;
    else
      c_rs = 1, c_cs = m + pad, nc = off_c + n * c_cs;
  }
  float *b = malloc((nb + 1) * sizeof *b), *c = malloc((nc + 1) * sizeof *c);
  float *want = malloc((nc + 1) * sizeof *want), *bias = malloc((m + 1) * sizeof *bias);
  assert_true(b && c && want && bias);
  test_fill(r, b, nb, -1.0f, 1.0f);
  test_fill(r, bias, m, -1.0f, 1.0f);
  for (size_t i = 0; i < nc; i++) c[i] = want[i] = NAN;
  pare_sparse_mm hm = {
      n, b + off_b, b_rs, b_cs, want + off_c, c_rs, c_cs, with_bias ? bias : NULL, relu};

  pare_csr csr = {0};
  pare_bsr bsr = {0};
  pare_nm nm = {0};
  pare_csr_cl dcsr = {0};
  pare_bsr_cl dbsr = {0};
  pare_nm_cl dnm = {0};
  pare_error err;
  int rc;
  const char *name;
  switch (fmt) {
  case FMT_CSR:
    name = "csr";
    assert_int_equal(pare_csr_from_dense_f32(m, k, w, &csr), 0);
    rc = pare_ref_csr_f32_mm(&csr, &hm);
    assert_int_equal(pare_csr_to_dense(&csr, dense), 0);
    break;
  case FMT_CSR_I8:
    name = "csr_i8";
    assert_int_equal(pare_csr_from_dense_i8(m, k, w, &csr), 0);
    rc = pare_ref_csr_i8_mm(&csr, &hm);
    assert_int_equal(pare_csr_to_dense(&csr, dense), 0);
    break;
  case FMT_BSR:
    name = "bsr";
    assert_int_equal(pare_bsr_from_dense_f32(m, k, w, p1, p2, &bsr), 0);
    rc = pare_ref_bsr_f32_mm(&bsr, &hm);
    assert_int_equal(pare_bsr_to_dense(&bsr, dense), 0);
    break;
  default:
    name = "nm";
    assert_int_equal(pare_nm_from_dense_f32(m, k, w, p1, p2, &nm), 0);
    rc = pare_ref_nm_f32_mm(&nm, &hm);
    assert_int_equal(pare_nm_to_dense(&nm, dense), 0);
    break;
  }
  assert_int_equal(rc, PARE_REF_SPARSE_OK);
  char what[200];
  snprintf(what, sizeof what,
           "%s(%zu,%zu) m=%zu n=%zu k=%zu density=%.2f layout=%d bias=%d relu=%d pad=%zu", name, p1,
           p2, m, n, k, density, layout, with_bias, relu, pad);
  /* The reference against a dense double product of the same matrix. */
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = with_bias ? bias[i] : 0.0, scale = 0.0;
      for (size_t q = 0; q < k; q++) {
        acc += (double)dense[i * k + q] * b[off_b + q * b_rs + j * b_cs];
        scale += fabs((double)dense[i * k + q]);
      }
      if (relu && !(acc > 0)) acc = 0;
      double got = want[off_c + i * c_rs + j * c_cs];
      if (!(fabs(got - acc) <= 1e-5 * (scale + 1.0)))
        fail_msg("%s: reference (%zu,%zu) = %.9g, dense %.9g", what, i, j, got, acc);
    }

  cl_mem db = NULL, dc = NULL, dbias = NULL;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (nb + 1) * 4, b, &db, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, (nc + 1) * 4, c, &dc, &err), PARE_OK);
  if (with_bias)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (m + 1) * 4, bias, &dbias, &err),
                     PARE_OK);
  pare_sparse_f32_args g = {n, db, off_b, b_rs, b_cs, dc, off_c, c_rs, c_cs, dbias, relu};
  pare_status st;
  if (fmt == FMT_CSR || fmt == FMT_CSR_I8) {
    assert_int_equal(pare_sparse_csr_upload(rt, &csr, &dcsr, &err), PARE_OK);
    st = pare_launch_sparse_csr_f32(rt, &dcsr, &g, NULL, &err);
  } else if (fmt == FMT_BSR) {
    assert_int_equal(pare_sparse_bsr_upload(rt, &bsr, &dbsr, &err), PARE_OK);
    st = pare_launch_sparse_bsr_f32(rt, &dbsr, &g, NULL, &err);
  } else {
    assert_int_equal(pare_sparse_nm_upload(rt, &nm, &dnm, &err), PARE_OK);
    st = pare_launch_sparse_nm_f32(rt, &dnm, &g, NULL, &err);
  }
  if (st != PARE_OK) fail_msg("%s: %s", what, err.text);
  assert_int_equal(pare_cl_read(rt, dc, 0, nc * 4, c, &err), PARE_OK);
  double tol = test_dot_tolerance(k, amax_of(dense, m * k), 1.0) + 4e-7 * 2.0;
  test_assert_close(c, want, nc, tol, what);

  pare_sparse_csr_release(rt, &dcsr);
  pare_sparse_bsr_release(rt, &dbsr);
  pare_sparse_nm_release(rt, &dnm);
  rt->cl->clReleaseMemObject(db);
  rt->cl->clReleaseMemObject(dc);
  if (dbias) rt->cl->clReleaseMemObject(dbias);
  pare_csr_free(&csr);
  pare_bsr_free(&bsr);
  pare_nm_free(&nm);
  free(w), free(dense), free(b), free(c), free(want), free(bias);
}

/* Sizes around vector widths (1..16) and tiles (up to 64 columns). */
static const size_t sizes[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 31, 32, 33, 63, 64, 65, 97, 129};
static const double densities[] = {0.0, 0.02, 0.3, 1.0};

static void run_format(int fmt, size_t p1, size_t p2, uint64_t seed, int cases) {
  test_rng r = {seed};
  const size_t ns = sizeof sizes / sizeof sizes[0];
  for (int t = 0; t < cases; t++) {
    size_t m = sizes[test_rng_below(&r, ns)], n = sizes[test_rng_below(&r, ns)],
           k = sizes[test_rng_below(&r, ns)];
    if (t % 9 == 0) n = 1;
    double d = densities[t % 4];
    int layout = (t / 4) % 3, bias = (t / 2) % 2, relu = (t / 3) % 2;
    check_mm(&r, fmt, p1, p2, m, n, k, d, layout, bias, relu);
  }
  /* A larger one in each layout. */
  check_mm(&r, fmt, p1, p2, 200, 150, 301, 0.1, LAY_ROW, 1, 1);
  check_mm(&r, fmt, p1, p2, 131, 67, 250, 0.3, LAY_FC, 1, 0);
}

static void test_csr_f32(void **state) {
  (void)state;
  run_format(FMT_CSR, 0, 0, 11, 72);
}

static void test_csr_i8(void **state) {
  (void)state;
  run_format(FMT_CSR_I8, 0, 0, 12, 48);
}

static void test_bsr(void **state) {
  (void)state;
  run_format(FMT_BSR, 1, 4, 13, 36);
  run_format(FMT_BSR, 4, 4, 14, 48);
  run_format(FMT_BSR, 2, 3, 15, 16);
  run_format(FMT_BSR, 8, 1, 16, 12);
}

static void test_nm(void **state) {
  (void)state;
  run_format(FMT_NM, 2, 4, 17, 48);
  run_format(FMT_NM, 4, 8, 18, 36);
  run_format(FMT_NM, 1, 3, 19, 12);
}

/* One convolution, fp32 or int8 weights. */
static void check_conv(test_rng *r, const pare_sparse_conv *p, double density, int int8,
                       int with_bias, int relu) {
  size_t oh, ow;
  assert_int_equal(pare_sparse_conv_out(p, &oh, &ow), 0);
  const size_t kk = p->cin * p->kh * p->kw, nx = p->batch * p->cin * p->h * p->w,
               ny = p->batch * p->cout * oh * ow;
  float *w = malloc((p->cout * kk + 1) * 4), *x = malloc((nx + 1) * 4), *y = malloc((ny + 1) * 4),
        *want = malloc((ny + 1) * 4), *bias = malloc((p->cout + 1) * 4),
        *dense = malloc((p->cout * kk + 1) * 4);
  assert_true(w && x && y && want && bias && dense);
  random_sparse(r, w, p->cout, kk, density, 1);
  test_fill(r, x, nx, -1.0f, 1.0f);
  test_fill(r, bias, p->cout, -1.0f, 1.0f);
  pare_csr csr;
  assert_int_equal(int8 ? pare_csr_from_dense_i8(p->cout, kk, w, &csr)
                        : pare_csr_from_dense_f32(p->cout, kk, w, &csr),
                   0);
  assert_int_equal(pare_csr_to_dense(&csr, dense), 0);
  assert_int_equal(pare_ref_sparse_conv_f32(p, &csr, x, with_bias ? bias : NULL, relu, want), 0);
  char what[240];
  snprintf(what, sizeof what,
           "conv%s n=%zu c=%zu %zux%zu -> %zu k=%zux%zu s=%zu,%zu pad=%zu,%zu,%zu,%zu "
           "d=%zu,%zu density=%.2f bias=%d relu=%d",
           int8 ? "_i8" : "", p->batch, p->cin, p->h, p->w, p->cout, p->kh, p->kw, p->stride_h,
           p->stride_w, p->pad_t, p->pad_l, p->pad_b, p->pad_r, p->dil_h, p->dil_w, density,
           with_bias, relu);
  /* The reference against a dense direct convolution of the same weights. */
  for (size_t b = 0; b < p->batch; b++)
    for (size_t co = 0; co < p->cout; co++)
      for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++) {
          double acc = with_bias ? bias[co] : 0.0;
          for (size_t ci = 0; ci < p->cin; ci++)
            for (size_t ky = 0; ky < p->kh; ky++)
              for (size_t kx = 0; kx < p->kw; kx++) {
                long iy = (long)(oy * p->stride_h + ky * p->dil_h) - (long)p->pad_t;
                long ix = (long)(ox * p->stride_w + kx * p->dil_w) - (long)p->pad_l;
                if (iy < 0 || ix < 0 || iy >= (long)p->h || ix >= (long)p->w) continue;
                acc += (double)dense[co * kk + (ci * p->kh + ky) * p->kw + kx] *
                       x[((b * p->cin + ci) * p->h + (size_t)iy) * p->w + (size_t)ix];
              }
          if (relu && !(acc > 0)) acc = 0;
          double got = want[((b * p->cout + co) * oh + oy) * ow + ox];
          if (!(fabs(got - acc) <= 1e-5 * ((double)kk + 1.0)))
            fail_msg("%s: reference %.9g, dense %.9g", what, got, acc);
        }
  for (size_t i = 0; i < ny; i++) y[i] = NAN;
  pare_error err;
  pare_csr_cl dw;
  cl_mem dx, dy, db = NULL;
  assert_int_equal(pare_sparse_csr_upload(rt, &csr, &dw, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (nx + 1) * 4, x, &dx, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, (ny + 1) * 4, y, &dy, &err), PARE_OK);
  if (with_bias)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, (p->cout + 1) * 4, bias, &db, &err),
                     PARE_OK);
  if (pare_launch_sparse_conv_f32(rt, p, &dw, dx, db, relu, dy, NULL, &err) != PARE_OK)
    fail_msg("%s: %s", what, err.text);
  assert_int_equal(pare_cl_read(rt, dy, 0, ny * 4, y, &err), PARE_OK);
  test_assert_close(y, want, ny, test_dot_tolerance(kk, amax_of(dense, p->cout * kk), 1.0) + 8e-7,
                    what);
  pare_sparse_csr_release(rt, &dw);
  rt->cl->clReleaseMemObject(dx);
  rt->cl->clReleaseMemObject(dy);
  if (db) rt->cl->clReleaseMemObject(db);
  pare_csr_free(&csr);
  free(w), free(x), free(y), free(want), free(bias), free(dense);
}

static void test_conv(void **state) {
  (void)state;
  test_rng r = {21};
  static const size_t hw[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 23, 33};
  int done = 0;
  for (int t = 0; done < 60; t++) {
    pare_sparse_conv p;
    p.batch = 1 + test_rng_below(&r, 2);
    p.cin = 1 + test_rng_below(&r, 5);
    p.h = hw[test_rng_below(&r, 11)];
    p.w = hw[test_rng_below(&r, 11)];
    p.cout = 1 + test_rng_below(&r, 9);
    static const size_t ks[] = {1, 2, 3, 3, 5};
    p.kh = ks[test_rng_below(&r, 5)];
    p.kw = ks[test_rng_below(&r, 5)];
    p.stride_h = 1 + test_rng_below(&r, t % 3 ? 1 : 3);
    p.stride_w = 1 + test_rng_below(&r, t % 3 ? 1 : 3);
    p.pad_t = test_rng_below(&r, 3), p.pad_l = test_rng_below(&r, 3);
    p.pad_b = test_rng_below(&r, 3), p.pad_r = test_rng_below(&r, 3);
    p.dil_h = 1 + test_rng_below(&r, t % 4 ? 1 : 2);
    p.dil_w = 1 + test_rng_below(&r, t % 4 ? 1 : 2);
    size_t oh, ow;
    if (pare_sparse_conv_out(&p, &oh, &ow) != 0) continue; /* window larger than the input */
    check_conv(&r, &p, densities[done % 4], done % 3 == 1, done % 2, (done / 2) % 2);
    done++;
  }
  /* A CNN-like layer: 64 -> 64 channels, 3x3, 28x28, 90 % sparse. */
  pare_sparse_conv p = {1, 64, 28, 28, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1};
  check_conv(&r, &p, 0.1, 0, 1, 1);
  check_conv(&r, &p, 0.1, 1, 1, 0);
}

/* dense -> format -> dense, N:M pruning and pattern checks, int8 error. */
static void test_builders(void **state) {
  (void)state;
  test_rng r = {31};
  static const size_t dims[][2] = {{1, 1}, {5, 7}, {13, 17}, {64, 33}, {3, 129}, {0, 5}, {4, 0}};
  for (size_t s = 0; s < sizeof dims / sizeof dims[0]; s++) {
    const size_t m = dims[s][0], k = dims[s][1];
    float *w = malloc((m * k + 1) * 4), *back = malloc((m * k + 1) * 4);
    assert_true(w && back);
    for (int di = 0; di < 4; di++) {
      random_sparse(&r, w, m, k, densities[di], 1);
      pare_csr csr;
      assert_int_equal(pare_csr_from_dense_f32(m, k, w, &csr), 0);
      assert_int_equal(pare_csr_to_dense(&csr, back), 0);
      assert_memory_equal(w, back, m * k * 4);
      size_t nz = 0;
      for (size_t i = 0; i < m * k; i++) nz += w[i] != 0.0f;
      assert_int_equal(csr.nnz, nz);
      pare_csr_free(&csr);
      /* int8: within half a step of each row's scale. */
      assert_int_equal(pare_csr_from_dense_i8(m, k, w, &csr), 0);
      assert_int_equal(pare_csr_to_dense(&csr, back), 0);
      for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < k; j++)
          if (!(fabs((double)back[i * k + j] - w[i * k + j]) <= 0.5001 * csr.scales[i]))
            fail_msg("int8 round trip (%zu,%zu): %g vs %g", i, j, back[i * k + j], w[i * k + j]);
      pare_csr_free(&csr);
      static const size_t blocks[][2] = {{1, 4}, {4, 4}, {3, 5}, {2, 1}};
      for (size_t bi = 0; bi < 4; bi++) {
        pare_bsr bsr;
        assert_int_equal(pare_bsr_from_dense_f32(m, k, w, blocks[bi][0], blocks[bi][1], &bsr), 0);
        assert_int_equal(pare_bsr_to_dense(&bsr, back), 0);
        assert_memory_equal(w, back, m * k * 4);
        if (densities[di] == 0.0) assert_int_equal(bsr.nblocks, 0);
        pare_bsr_free(&bsr);
      }
      static const size_t nms[][2] = {{2, 4}, {4, 8}};
      for (size_t ni = 0; ni < 2; ni++) {
        const size_t n = nms[ni][0], mg = nms[ni][1];
        pare_nm nm;
        int rc = pare_nm_from_dense_f32(m, k, w, n, mg, &nm);
        /* Does w already satisfy the pattern? */
        int fits = 1;
        for (size_t i = 0; i < m; i++)
          for (size_t g = 0; g < k; g += mg) {
            size_t c = 0;
            for (size_t j = g; j < g + mg && j < k; j++) c += w[i * k + j] != 0.0f;
            fits &= c <= n;
          }
        assert_int_equal(rc, fits ? PARE_REF_SPARSE_OK : PARE_REF_SPARSE_EPATTERN);
        if (!fits) {
          assert_null(nm.values);
          /* Pruning keeps the n largest of each group and then fits. */
          float *pr = malloc((m * k + 1) * 4);
          assert_non_null(pr);
          memcpy(pr, w, m * k * 4);
          assert_int_equal(pare_nm_prune_f32(m, k, pr, n, mg), 0);
          for (size_t i = 0; i < m; i++)
            for (size_t g = 0; g < k; g += mg)
              for (size_t j = g; j < g + mg && j < k; j++) {
                /* Ranked by |w|, ties to the earlier column: the first n stay. */
                size_t ahead = 0;
                for (size_t q = g; q < g + mg && q < k; q++)
                  ahead += fabsf(w[i * k + q]) > fabsf(w[i * k + j]) ||
                           (fabsf(w[i * k + q]) == fabsf(w[i * k + j]) && q < j);
                assert_true(pr[i * k + j] == (ahead < n ? w[i * k + j] : 0.0f));
              }
          assert_int_equal(pare_nm_from_dense_f32(m, k, pr, n, mg, &nm), 0);
          assert_int_equal(nm.kp % mg, 0);
          assert_int_equal(pare_nm_to_dense(&nm, back), 0);
          assert_memory_equal(pr, back, m * k * 4);
          free(pr);
        } else {
          assert_int_equal(pare_nm_to_dense(&nm, back), 0);
          assert_memory_equal(w, back, m * k * 4);
        }
        for (size_t e = 0; e < m * nm.groups * n; e++) assert_true(nm.pos[e] < mg);
        pare_nm_free(&nm);
      }
    }
    free(w), free(back);
  }
  /* A 2:4 violation in the last, partial group. */
  float v[6] = {1, 0, 0, 0, 1, 1};
  pare_nm nm;
  assert_int_equal(pare_nm_from_dense_f32(1, 6, v, 2, 4, &nm), PARE_REF_SPARSE_OK);
  pare_nm_free(&nm);
  float v2[7] = {1, 0, 0, 0, 1, 1, 1};
  assert_int_equal(pare_nm_from_dense_f32(1, 7, v2, 2, 4, &nm), PARE_REF_SPARSE_EPATTERN);
  /* Bad arguments. */
  pare_csr csr;
  pare_bsr bsr;
  assert_int_equal(pare_csr_from_dense_f32(2, 2, NULL, &csr), PARE_REF_SPARSE_EINVAL);
  assert_int_equal(pare_bsr_from_dense_f32(1, 4, v, 0, 4, &bsr), PARE_REF_SPARSE_EINVAL);
  assert_int_equal(pare_nm_from_dense_f32(1, 4, v, 3, 2, &nm), PARE_REF_SPARSE_EINVAL);
  float inf[2] = {1.0f, INFINITY};
  assert_int_equal(pare_csr_from_dense_i8(1, 2, inf, &csr), PARE_REF_SPARSE_EINVAL);
  pare_csr_free(NULL);
  pare_bsr_free(NULL);
  pare_nm_free(NULL);
}

/* Launcher argument checks; empty shapes launch nothing. */
static void test_errors(void **state) {
  (void)state;
  float w[4] = {1, 0, 2, 3};
  pare_csr csr;
  assert_int_equal(pare_csr_from_dense_f32(2, 2, w, &csr), 0);
  pare_csr_cl d;
  pare_error err;
  assert_int_equal(pare_sparse_csr_upload(rt, &csr, &d, &err), PARE_OK);
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 256, NULL, &buf, &err), PARE_OK);
  pare_sparse_f32_args g = {2, buf, 0, 2, 1, buf, 0, 2, 1, NULL, 0};
  pare_sparse_f32_args bad = g;
  bad.c = NULL;
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, &bad, NULL, &err), PARE_ERR_INVALID_ARG);
  bad = g;
  bad.b = NULL;
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, &bad, NULL, &err), PARE_ERR_INVALID_ARG);
  bad = g;
  bad.b_rs = 0;
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, &bad, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_sparse_csr_f32(rt, NULL, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  bad = g;
  bad.off_b = (size_t)1 << 40;
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, &bad, NULL, &err), PARE_ERR_UNSUPPORTED);
  /* n == 0: nothing to do, even without buffers. */
  pare_sparse_f32_args empty = {0};
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &d, &empty, NULL, &err), PARE_OK);
  pare_csr_cl none = {0};
  assert_int_equal(pare_launch_sparse_csr_f32(rt, &none, &g, NULL, &err), PARE_OK);
  pare_bsr_cl nob = {0};
  assert_int_equal(pare_launch_sparse_bsr_f32(rt, &nob, &g, NULL, &err), PARE_OK);
  pare_nm_cl nonm = {0};
  assert_int_equal(pare_launch_sparse_nm_f32(rt, &nonm, &g, NULL, &err), PARE_OK);
  nob.m = 2, nob.k = 2;
  assert_int_equal(pare_launch_sparse_bsr_f32(rt, &nob, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  nonm.m = 2, nonm.k = 2;
  assert_int_equal(pare_launch_sparse_nm_f32(rt, &nonm, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  /* Convolution: bad geometry, mismatched weights, empty batch. */
  pare_sparse_conv p = {1, 1, 4, 4, 2, 1, 2, 1, 1, 0, 0, 0, 0, 1, 1};
  assert_int_equal(pare_launch_sparse_conv_f32(rt, &p, &d, buf, NULL, 0, buf, NULL, &err), PARE_OK);
  p.stride_h = 0;
  assert_int_equal(pare_launch_sparse_conv_f32(rt, &p, &d, buf, NULL, 0, buf, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  p.stride_h = 1, p.kw = 3;
  assert_int_equal(pare_launch_sparse_conv_f32(rt, &p, &d, buf, NULL, 0, buf, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  p.kw = 2;
  assert_int_equal(pare_launch_sparse_conv_f32(rt, &p, &d, NULL, NULL, 0, buf, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  p.batch = 0;
  assert_int_equal(pare_launch_sparse_conv_f32(rt, &p, &d, NULL, NULL, 0, NULL, NULL, &err),
                   PARE_OK);
  assert_int_equal(pare_cl_finish(rt, &err), PARE_OK);
  rt->cl->clReleaseMemObject(buf);
  pare_sparse_csr_release(rt, &d);
  pare_csr_free(&csr);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_builders), cmocka_unit_test(test_errors),
      cmocka_unit_test(test_csr_f32),  cmocka_unit_test(test_csr_i8),
      cmocka_unit_test(test_bsr),      cmocka_unit_test(test_nm),
      cmocka_unit_test(test_conv),
  };
  return cmocka_run_group_tests(tests, test_cl_setup, test_cl_teardown);
}
