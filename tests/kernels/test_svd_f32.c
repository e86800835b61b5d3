/* kernels/svd_f32.cl (both paths: all sweeps in one work-group, in local
 * or global memory, and one launch per tournament step; fp64 and
 * float-only accumulation) and pare_ref_svd_f32, each checked on its own
 * and against LAPACKE_dgesvd of the same fp32 matrix (when the build found
 * LAPACKE; otherwise the device is checked against the reference).
 *
 * Criteria, per matrix, with σ_max the largest true singular value, all
 * norms SPECTRAL (‖E‖₂, the largest singular value of E, from
 * LAPACKE_dgesvd of E in double; power iteration on EᵀE without LAPACKE):
 *   max_i |s_i - σ_i| <= 1e-5·σ_max        (also ill-conditioned: 1e-6..1)
 *   max_i |s_i - s_ref,i| <= 1e-5·σ_max    (device against reference)
 *   ‖A - U·diag(s)·Vt‖₂ <= 1e-5·‖A‖₂
 *   ‖UᵀU - I‖₂ <= 1e-5,  ‖Vt·Vtᵀ - I‖₂ <= 1e-5
 * at every size tested (up to 300×130 and 256×256; 1024×1024 opt-in, where
 * the limits are reported, not enforced). The Frobenius norms of the same
 * errors are printed too (the `F` figures of the summary line).
 * LAPACKE_sgesvd's own figures are measured on every case and printed next
 * to the device's as the yardstick.
 *
 * Measured: see docs/kernels.md (svd_f32).
 *
 * The 1024×1024 case runs only with PARE_TEST_SVD_1024=1 (about two
 * minutes on a 2-core CPU device, the double reference included); its
 * timing is in `pare-bench svd_f32`. */
#include <float.h>
#include <string.h>

#include "engine/ref/svd.h"
#include "host/launch/svd_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

#ifdef PARE_HAVE_LAPACKE
#include <lapacke.h>
#endif

typedef struct svd_figures {
  double sv_err;            /* max |s - truth| / σ_max */
  double residual;          /* ‖A - U S Vt‖₂ / ‖A‖₂ */
  double orth_u, orth_v;    /* ‖UᵀU - I‖₂, ‖Vt·Vtᵀ - I‖₂ */
  double res_f, ou_f, ov_f; /* the same in Frobenius norm (residual relative to ‖A‖_F) */
} svd_figures;

/* The worst figures over the whole run, printed at the end. */
static svd_figures worst_dev, worst_ref;

static void keep_worst(svd_figures *w, const svd_figures *f) {
  if (f->sv_err > w->sv_err) w->sv_err = f->sv_err;
  if (f->residual > w->residual) w->residual = f->residual;
  if (f->orth_u > w->orth_u) w->orth_u = f->orth_u;
  if (f->orth_v > w->orth_v) w->orth_v = f->orth_v;
  if (f->res_f > w->res_f) w->res_f = f->res_f;
  if (f->ou_f > w->ou_f) w->ou_f = f->ou_f;
  if (f->ov_f > w->ov_f) w->ov_f = f->ov_f;
}

/* ‖e‖₂ of a rows×cols matrix (row-major, overwritten). */
static double spectral_norm(size_t rows, size_t cols, double *e) {
  size_t k = rows < cols ? rows : cols;
  if (k == 0) return 0;
#ifdef PARE_HAVE_LAPACKE
  double *sv = malloc(k * sizeof *sv), *sup = malloc(k * sizeof *sup);
  assert_true(sv && sup);
  lapack_int rc = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)rows, (lapack_int)cols, e,
                                 (lapack_int)cols, sv, NULL, 1, NULL, 1, sup);
  assert_int_equal(rc, 0);
  double r = sv[0];
  free(sv), free(sup);
  return r;
#else
  /* Power iteration on eᵀe from a fixed start: 300 steps. */
  double *x = malloc(cols * sizeof *x), *y = malloc(rows * sizeof *y), lam = 0;
  assert_true(x && y);
  for (size_t j = 0; j < cols; j++) x[j] = 1.0 + 0.01 * (double)(j % 7);
  for (int it = 0; it < 300; it++) {
    double nx = 0;
    for (size_t j = 0; j < cols; j++) nx += x[j] * x[j];
    nx = sqrt(nx);
    if (nx == 0) break;
    for (size_t j = 0; j < cols; j++) x[j] /= nx;
    for (size_t i = 0; i < rows; i++) {
      y[i] = 0;
      for (size_t j = 0; j < cols; j++) y[i] += e[i * cols + j] * x[j];
    }
    lam = 0;
    for (size_t i = 0; i < rows; i++) lam += y[i] * y[i];
    for (size_t j = 0; j < cols; j++) {
      x[j] = 0;
      for (size_t i = 0; i < rows; i++) x[j] += e[i * cols + j] * y[i];
    }
  }
  free(x), free(y);
  return sqrt(lam);
#endif
}

/* Residual and orthogonality of one factorization, in double. */
static void measure(size_t m, size_t n, const float *a, const float *u, const float *s,
                    const float *vt, const double *truth, svd_figures *f) {
  size_t k = m < n ? m : n;
  double *res = malloc(m * n * sizeof *res), *gu = malloc(k * k * sizeof *gu),
         *gv = malloc(k * k * sizeof *gv);
  assert_true(res && gu && gv);
  double num = 0, den = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      double acc = 0;
      for (size_t c = 0; c < k; c++) acc += (double)u[i * k + c] * s[c] * vt[c * n + j];
      double d = (double)a[i * n + j] - acc;
      res[i * n + j] = d;
      num += d * d;
      den += (double)a[i * n + j] * a[i * n + j];
    }
  f->res_f = den > 0 ? sqrt(num / den) : sqrt(num);
  double ou = 0, ov = 0;
  for (size_t c = 0; c < k; c++)
    for (size_t d = 0; d < k; d++) {
      double eu = 0, ev = 0;
      for (size_t i = 0; i < m; i++) eu += (double)u[i * k + c] * u[i * k + d];
      for (size_t j = 0; j < n; j++) ev += (double)vt[c * n + j] * vt[d * n + j];
      eu -= c == d;
      ev -= c == d;
      gu[c * k + d] = eu;
      gv[c * k + d] = ev;
      ou += eu * eu;
      ov += ev * ev;
    }
  f->ou_f = sqrt(ou);
  f->ov_f = sqrt(ov);
  double smax = truth[0], err = 0;
  /* A compare, not fmax(): Debian 12's GCC 12.2 dies vectorizing a double fmax
   * reduction over floats for aarch64 at -O3. NaNs are skipped either way. */
  for (size_t c = 0; c < k; c++) {
    double e = fabs((double)s[c] - truth[c]);
    if (e > err) err = e;
  }
  f->sv_err = smax > 0 ? err / smax : err;
  /* ‖A‖₂ = σ_max. */
  double r2 = spectral_norm(m, n, res);
  f->residual = smax > 0 ? r2 / smax : r2;
  f->orth_u = spectral_norm(k, k, gu);
  f->orth_v = spectral_norm(k, k, gv);
  free(res), free(gu), free(gv);
}

/* The true singular values (descending), from LAPACKE_dgesvd, or from the
 * reference when LAPACKE is missing. */
static void truth_of(size_t m, size_t n, const float *a, double *sv) {
  size_t k = m < n ? m : n;
#ifdef PARE_HAVE_LAPACKE
  double *ad = malloc(m * n * sizeof *ad), *sup = malloc(k * sizeof *sup);
  assert_true(ad && sup);
  for (size_t i = 0; i < m * n; i++) ad[i] = a[i];
  lapack_int rc = LAPACKE_dgesvd(LAPACK_ROW_MAJOR, 'N', 'N', (lapack_int)m, (lapack_int)n, ad,
                                 (lapack_int)n, sv, NULL, 1, NULL, 1, sup);
  assert_int_equal(rc, 0);
  free(ad);
  free(sup);
#else
  float *u = malloc(m * k * 4), *s = malloc(k * 4), *vt = malloc(k * n * 4);
  assert_true(u && s && vt);
  assert_int_equal(pare_ref_svd_f32(m, n, a, u, s, vt, NULL), 0);
  for (size_t c = 0; c < k; c++) sv[c] = s[c];
  free(u), free(s), free(vt);
#endif
}

/* Set by the 1024×1024 case: figures printed, limits not enforced. */
static int report_only;

static void check_figures(const char *who, const char *what, size_t b, size_t m, size_t n,
                          const float *s, const svd_figures *f) {
  size_t k = m < n ? m : n;
  for (size_t c = 0; c < k; c++) {
    if (!(s[c] >= 0.0f)) fail_msg("%s %s [%zu] %zux%zu: s[%zu] = %g", who, what, b, m, n, c, s[c]);
    if (c > 0 && s[c] > s[c - 1])
      fail_msg("%s %s [%zu] %zux%zu: s not descending at %zu (%.9g > %.9g)", who, what, b, m, n, c,
               s[c], s[c - 1]);
  }
  const double ot = 1e-5;
  if (report_only) return;
  if (!(f->sv_err <= 1e-5) || !(f->residual <= 1e-5) || !(f->orth_u <= ot) || !(f->orth_v <= ot))
    fail_msg("%s %s [%zu] %zux%zu: sv_err %.3g residual %.3g orth_u %.3g orth_v %.3g (limits "
             "1e-5, 1e-5, %.3g)",
             who, what, b, m, n, f->sv_err, f->residual, f->orth_u, f->orth_v, ot);
}

/* Runs the device (mode) and the reference over a batch and checks both;
 * with_ref 1: the reference on every matrix, 0: on the first, -1: none. */
static void check_batch(const char *what, size_t batch, size_t m, size_t n, const float *a,
                        pare_svd_mode mode, int with_ref) {
  size_t k = m < n ? m : n;
  float *u = malloc(batch * m * k * 4), *s = malloc(batch * k * 4), *vt = malloc(batch * k * n * 4);
  float *ru = malloc(m * k * 4), *rs = malloc(k * 4), *rvt = malloc(k * n * 4);
  double *truth = malloc(k * sizeof *truth);
  assert_true(u && s && vt && ru && rs && rvt && truth);
  pare_error err;
  cl_mem da = NULL, du = NULL, ds = NULL, dvt = NULL, dscr = NULL;
  size_t scr = pare_svd_f32_scratch_bytes(batch, m, n);
  assert_true(scr > 0 && scr != SIZE_MAX);
  if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, batch * m * n * 4, a, &da, &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, batch * m * k * 4, NULL, &du, &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, batch * k * 4, NULL, &ds, &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, batch * k * n * 4, NULL, &dvt, &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, scr, NULL, &dscr, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  if (pare_launch_svd_mode_f32(rt, batch, m, n, da, du, ds, dvt, NULL, dscr, mode, &err) != PARE_OK)
    fail_msg("svd: %s", err.text);
  if (pare_cl_read(rt, du, 0, batch * m * k * 4, u, &err) != PARE_OK ||
      pare_cl_read(rt, ds, 0, batch * k * 4, s, &err) != PARE_OK ||
      pare_cl_read(rt, dvt, 0, batch * k * n * 4, vt, &err) != PARE_OK)
    fail_msg("read: %s", err.text);
  /* a is not modified. */
  float *back = malloc(batch * m * n * 4);
  assert_true(back != NULL);
  if (pare_cl_read(rt, da, 0, batch * m * n * 4, back, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_memory_equal(back, a, batch * m * n * 4);
  free(back);
  svd_figures wd = {0}, wr = {0};
  for (size_t b = 0; b < batch; b++) {
    const float *ab = a + b * m * n;
    truth_of(m, n, ab, truth);
    svd_figures f;
    measure(m, n, ab, u + b * m * k, s + b * k, vt + b * k * n, truth, &f);
    keep_worst(&wd, &f);
    check_figures("device", what, b, m, n, s + b * k, &f);
    if (with_ref > 0 || (with_ref == 0 && b == 0)) {
      assert_int_equal(pare_ref_svd_f32(m, n, ab, ru, rs, rvt, NULL), PARE_REF_SVD_OK);
      svd_figures g;
      measure(m, n, ab, ru, rs, rvt, truth, &g);
      keep_worst(&wr, &g);
      check_figures("reference", what, b, m, n, rs, &g);
      /* Device against reference. */
      double smax = fmax(truth[0], 1e-30), d = 0;
      for (size_t c = 0; c < k; c++) { /* a compare, not fmax(): see above */
        double e = fabs((double)s[b * k + c] - rs[c]);
        if (e > d) d = e;
      }
      if (!report_only && !(d <= 1e-5 * smax))
        fail_msg("%s [%zu] %zux%zu: device vs reference singular values differ by %.3g·σ_max", what,
                 b, m, n, d / smax);
    }
  }
  keep_worst(&worst_dev, &wd);
  keep_worst(&worst_ref, &wr);
  fprintf(stderr,
          "  %-16s %4zu x %4zux%-4zu mode %d  device: sv %.2e res %.2e orthU %.2e orthV %.2e"
          " (F: %.2e %.2e %.2e) | ref: sv %.2e res %.2e orthU %.2e orthV %.2e\n",
          what, batch, m, n, (int)mode, wd.sv_err, wd.residual, wd.orth_u, wd.orth_v, wd.res_f,
          wd.ou_f, wd.ov_f, wr.sv_err, wr.residual, wr.orth_u, wr.orth_v);
#ifdef PARE_HAVE_LAPACKE
  {
    /* LAPACKE_sgesvd's own figures on the first matrix: the fp32 yardstick. */
    float *la = malloc(m * n * 4), *sup = malloc(k * 4);
    assert_true(la && sup);
    memcpy(la, a, m * n * 4);
    lapack_int rc = LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'S', 'S', (lapack_int)m, (lapack_int)n, la,
                                   (lapack_int)n, rs, ru, (lapack_int)k, rvt, (lapack_int)n, sup);
    assert_int_equal(rc, 0);
    truth_of(m, n, a, truth);
    svd_figures g;
    measure(m, n, a, ru, rs, rvt, truth, &g);
    fprintf(stderr,
            "  %-16s %4d x %4zux%-4zu sgesvd: sv %.2e res %.2e orthU %.2e orthV %.2e (F: %.2e "
            "%.2e %.2e)\n",
            what, 1, m, n, g.sv_err, g.residual, g.orth_u, g.orth_v, g.res_f, g.ou_f, g.ov_f);
    free(la), free(sup);
  }
#endif
  rt->cl->clReleaseMemObject(da);
  rt->cl->clReleaseMemObject(du);
  rt->cl->clReleaseMemObject(ds);
  rt->cl->clReleaseMemObject(dvt);
  rt->cl->clReleaseMemObject(dscr);
  free(u), free(s), free(vt), free(ru), free(rs), free(rvt), free(truth);
}

/* Orthonormal columns: q (rows×cols, cols <= rows) by modified
 * Gram–Schmidt of random columns, twice, in double. */
static void random_orthonormal(test_rng *r, size_t rows, size_t cols, double *q) {
  for (size_t i = 0; i < rows * cols; i++) q[i] = test_rng_uniform(r, -1, 1);
  for (size_t c = 0; c < cols; c++)
    for (int pass = 0; pass < 2; pass++) {
      for (size_t d = 0; d < c; d++) {
        double p = 0;
        for (size_t i = 0; i < rows; i++) p += q[i * cols + c] * q[i * cols + d];
        for (size_t i = 0; i < rows; i++) q[i * cols + c] -= p * q[i * cols + d];
      }
      double nrm = 0;
      for (size_t i = 0; i < rows; i++) nrm += q[i * cols + c] * q[i * cols + c];
      nrm = sqrt(nrm);
      for (size_t i = 0; i < rows; i++) q[i * cols + c] /= nrm;
    }
}

/* kind 0: uniform [-1, 1); 1: rank r as a product B(m×r)·C(r×n);
 * 2: Q1·diag(σ)·Q2ᵀ with σ log-spaced from 1 down to 1e-6. */
static void make_matrix(test_rng *r, size_t m, size_t n, int kind, size_t rank, float *a) {
  size_t k = m < n ? m : n;
  if (kind == 0) {
    test_fill(r, a, m * n, -1, 1);
  } else if (kind == 1) {
    float *b = malloc(m * rank * 4), *c = malloc(rank * n * 4);
    assert_true(b && c);
    test_fill(r, b, m * rank, -1, 1);
    test_fill(r, c, rank * n, -1, 1);
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double acc = 0;
        for (size_t p = 0; p < rank; p++) acc += (double)b[i * rank + p] * c[p * n + j];
        a[i * n + j] = (float)acc;
      }
    free(b), free(c);
  } else {
    double *q1 = malloc(m * k * sizeof *q1), *q2 = malloc(n * k * sizeof *q2);
    assert_true(q1 && q2);
    random_orthonormal(r, m, k, q1);
    random_orthonormal(r, n, k, q2);
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++) {
        double acc = 0;
        for (size_t c = 0; c < k; c++) {
          double sig = k > 1 ? pow(10.0, -6.0 * (double)c / (double)(k - 1)) : 1.0;
          acc += q1[i * k + c] * sig * q2[j * k + c];
        }
        a[i * n + j] = (float)acc;
      }
    free(q1), free(q2);
  }
}

static void run_case(test_rng *r, const char *what, size_t batch, size_t m, size_t n, int kind,
                     size_t rank, pare_svd_mode mode, int with_ref) {
  float *a = malloc(batch * m * n * 4);
  assert_true(a != NULL);
  for (size_t b = 0; b < batch; b++) make_matrix(r, m, n, kind, rank, a + b * m * n);
  check_batch(what, batch, m, n, a, mode, with_ref);
  free(a);
}

static const size_t small_shapes[][2] = {{1, 1}, {1, 7},  {7, 1},  {2, 2},  {3, 5},
                                         {5, 3}, {17, 9}, {9, 17}, {31, 4}, {4, 40}};

static void run_small(pare_svd_mode mode) {
  test_rng r = {0x5eedu + (uint64_t)mode};
  for (size_t i = 0; i < sizeof small_shapes / sizeof small_shapes[0]; i++)
    run_case(&r, "random", 3, small_shapes[i][0], small_shapes[i][1], 0, 0, mode, 1);
  run_case(&r, "rank-4", 2, 17, 9, 1, 4, mode, 1);
  run_case(&r, "rank-3 wide", 2, 12, 30, 1, 3, mode, 1);
  run_case(&r, "rank-1", 2, 20, 20, 1, 1, mode, 1);
  run_case(&r, "ill-conditioned", 2, 32, 32, 2, 0, mode, 1);
  run_case(&r, "ill-cond tall", 2, 48, 20, 2, 0, mode, 1);
  run_case(&r, "ill-cond wide", 2, 20, 48, 2, 0, mode, 1);
  /* All zero: every column completed. */
  float z[4 * 3] = {0};
  check_batch("zero", 1, 4, 3, z, mode, 1);
  check_batch("zero row", 1, 1, 5, z, mode, 1);
}

static void test_small_group(void **state) {
  (void)state;
  run_small(PARE_SVD_GROUP);
}

static void test_small_step(void **state) {
  (void)state;
  run_small(PARE_SVD_STEP);
}

static void test_64_batch16(void **state) {
  (void)state;
  test_rng r = {64};
  run_case(&r, "random", 16, 64, 64, 0, 0, PARE_SVD_AUTO, 0);
  run_case(&r, "random", 4, 64, 64, 0, 0, PARE_SVD_STEP, 0);
  run_case(&r, "rank-16", 2, 64, 64, 1, 16, PARE_SVD_AUTO, 1);
  run_case(&r, "ill-conditioned", 2, 64, 64, 2, 0, PARE_SVD_AUTO, 1);
  run_case(&r, "tall", 2, 100, 40, 0, 0, PARE_SVD_AUTO, 1);
  run_case(&r, "wide", 2, 40, 100, 0, 0, PARE_SVD_AUTO, 1);
}

static void test_256_batch2(void **state) {
  (void)state;
  test_rng r = {256};
  run_case(&r, "random", 2, 256, 256, 0, 0, PARE_SVD_AUTO, 0);
  run_case(&r, "random", 1, 256, 256, 0, 0, PARE_SVD_STEP, -1);
  run_case(&r, "tall", 1, 300, 130, 0, 0, PARE_SVD_AUTO, 0);
  run_case(&r, "wide", 1, 130, 300, 0, 0, PARE_SVD_AUTO, 0);
  run_case(&r, "rank-40", 1, 256, 256, 1, 40, PARE_SVD_AUTO, 0);
  run_case(&r, "ill-conditioned", 1, 256, 256, 2, 0, PARE_SVD_AUTO, 0);
  run_case(&r, "row", 2, 1, 256, 0, 0, PARE_SVD_AUTO, 1);
  run_case(&r, "column", 2, 256, 1, 0, 0, PARE_SVD_AUTO, 1);
}

/* Paths this device would not take on its own, forced through a profile
 * that overrides one svd_f32 parameter on top of the device's profile;
 * the teardown restores the device's. */
static const pare_profile *saved_profile;
static pare_profile override_profile;

static void use_profile_param(const char *key, int value) {
  if (!saved_profile) saved_profile = rt->profile;
  memset(&override_profile, 0, sizeof override_profile);
  override_profile.name = "svd-test-override";
  override_profile.parent = saved_profile->name;
  override_profile.build_options = "";
  override_profile.summary = "test: one svd_f32 parameter overridden";
  override_profile.params[0].key = key;
  override_profile.params[0].value = value;
  rt->profile = &override_profile;
}

static int restore_profile(void **state) {
  (void)state;
  if (saved_profile) rt->profile = saved_profile;
  saved_profile = NULL;
  return 0;
}

/* Float accumulation (devices without cl_khr_fp64: Kahan sums, rotations
 * in float). */
static void test_float_path(void **state) {
  (void)state;
  use_profile_param("svd_f32.fp64", 0);
  test_rng r = {32};
  for (int mode = PARE_SVD_GROUP; mode <= PARE_SVD_STEP; mode++) {
    run_case(&r, "fp32 random", 3, 17, 9, 0, 0, (pare_svd_mode)mode, 1);
    run_case(&r, "fp32 random", 3, 9, 17, 0, 0, (pare_svd_mode)mode, 1);
    run_case(&r, "fp32 rank-4", 2, 17, 9, 1, 4, (pare_svd_mode)mode, 1);
    run_case(&r, "fp32 ill-cond", 2, 32, 32, 2, 0, (pare_svd_mode)mode, 1);
    run_case(&r, "fp32 random", 4, 64, 64, 0, 0, (pare_svd_mode)mode, 0);
  }
  float z[4 * 3] = {0};
  check_batch("fp32 zero", 1, 4, 3, z, PARE_SVD_AUTO, 1);
}

/* svd_sweeps on W and V in global memory (SVD_LOCAL=0: matrices too large
 * for local memory, which a CPU device's 1 MiB rarely is). */
static void test_group_global(void **state) {
  (void)state;
  use_profile_param("svd_f32.local", 0);
  test_rng r = {33};
  run_case(&r, "global random", 3, 17, 9, 0, 0, PARE_SVD_GROUP, 1);
  run_case(&r, "global random", 3, 9, 17, 0, 0, PARE_SVD_GROUP, 1);
  run_case(&r, "global rank-3", 2, 12, 30, 1, 3, PARE_SVD_GROUP, 1);
  run_case(&r, "global random", 4, 64, 64, 0, 0, PARE_SVD_GROUP, 0);
  float z[4 * 3] = {0};
  check_batch("global zero", 1, 4, 3, z, PARE_SVD_GROUP, 1);
}

/* Opt-in (PARE_TEST_SVD_1024=1): about two minutes on a 2-core CPU device. */
static void test_1024(void **state) {
  (void)state;
  const char *on = getenv("PARE_TEST_SVD_1024");
  if (!on || strcmp(on, "1") != 0) {
    fprintf(stderr, "  1024x1024 skipped: set PARE_TEST_SVD_1024=1 (or see pare-bench svd_f32)\n");
    skip();
  }
  test_rng r = {1024};
  report_only = 1;
  run_case(&r, "random", 1, 1024, 1024, 0, 0, PARE_SVD_AUTO, 0);
  report_only = 0;
}

static void test_errors(void **state) {
  (void)state;
  pare_error err;
  pare_svd_params p;
  pare_svd_params_init(&p);
  assert_true(p.tol > 0 && p.tol < 1e-5f && p.max_sweeps >= 10);
  /* Empty shapes launch nothing, even with NULL buffers. */
  assert_int_equal(pare_launch_svd_f32(rt, 0, 3, 3, NULL, NULL, NULL, NULL, &p, NULL, &err),
                   PARE_OK);
  assert_int_equal(pare_launch_svd_f32(rt, 2, 0, 3, NULL, NULL, NULL, NULL, &p, NULL, &err),
                   PARE_OK);
  assert_int_equal(pare_svd_f32_scratch_bytes(2, 3, 0), 0);
  assert_true(pare_svd_f32_scratch_bytes(1, (size_t)1 << 20, (size_t)1 << 20) == SIZE_MAX);
  /* NULL buffers, bad params, an unknown mode. */
  assert_int_equal(pare_launch_svd_f32(rt, 1, 3, 3, NULL, NULL, NULL, NULL, &p, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "3x3"));
  pare_svd_params bad = p;
  bad.max_sweeps = 0;
  assert_int_equal(pare_launch_svd_f32(rt, 1, 3, 3, NULL, NULL, NULL, NULL, &bad, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  bad = p;
  bad.tol = NAN;
  assert_int_equal(pare_launch_svd_f32(rt, 1, 3, 3, NULL, NULL, NULL, NULL, &bad, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_svd_mode_f32(rt, 1, 3, 3, NULL, NULL, NULL, NULL, &p, NULL,
                                            (pare_svd_mode)7, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_svd_f32(rt, 1, (size_t)1 << 20, (size_t)1 << 20, NULL, NULL, NULL,
                                       NULL, &p, NULL, &err),
                   PARE_ERR_INVALID_ARG); /* NULL buffers are checked first */
  /* Reference: bad arguments and non-finite input are refused. */
  float a[6] = {1, 2, 3, 4, 5, 6}, u[6], s[2], vt[6];
  assert_int_equal(pare_ref_svd_f32(2, 3, NULL, u, s, vt, NULL), PARE_REF_SVD_EINVAL);
  assert_int_equal(pare_ref_svd_f32(2, 3, a, u, s, vt, &bad), PARE_REF_SVD_EINVAL);
  assert_int_equal(pare_ref_svd_f32(0, 3, NULL, NULL, NULL, NULL, NULL), PARE_REF_SVD_OK);
  a[4] = INFINITY;
  assert_int_equal(pare_ref_svd_f32(2, 3, a, u, s, vt, NULL), PARE_REF_SVD_EINVAL);
  /* The device does not fail on NaN input: it returns NaN singular values
   * within max_sweeps. */
  a[4] = NAN;
  cl_mem da, du, ds, dvt, dscr;
  size_t scr = pare_svd_f32_scratch_bytes(1, 2, 3);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof a, a, &da, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof u, NULL, &du, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof s, NULL, &ds, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof vt, NULL, &dvt, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, scr, NULL, &dscr, &err), PARE_OK);
  for (int mode = PARE_SVD_GROUP; mode <= PARE_SVD_STEP; mode++) {
    assert_int_equal(
        pare_launch_svd_mode_f32(rt, 1, 2, 3, da, du, ds, dvt, &p, dscr, (pare_svd_mode)mode, &err),
        PARE_OK);
    assert_int_equal(pare_cl_read(rt, ds, 0, sizeof s, s, &err), PARE_OK);
    assert_true(isnan(s[0]) || isnan(s[1]));
  }
  rt->cl->clReleaseMemObject(da);
  rt->cl->clReleaseMemObject(du);
  rt->cl->clReleaseMemObject(ds);
  rt->cl->clReleaseMemObject(dvt);
  rt->cl->clReleaseMemObject(dscr);
}

static int print_worst(void **state) {
  (void)state;
  fprintf(stderr,
          "worst device: sv %.3g res %.3g orthU %.3g orthV %.3g (Frobenius: res %.3g orthU %.3g "
          "orthV %.3g); worst reference: sv %.3g res %.3g orthU %.3g orthV %.3g (Frobenius: res "
          "%.3g orthU %.3g orthV %.3g)\n",
          worst_dev.sv_err, worst_dev.residual, worst_dev.orth_u, worst_dev.orth_v, worst_dev.res_f,
          worst_dev.ou_f, worst_dev.ov_f, worst_ref.sv_err, worst_ref.residual, worst_ref.orth_u,
          worst_ref.orth_v, worst_ref.res_f, worst_ref.ou_f, worst_ref.ov_f);
  return test_cl_teardown(state);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_small_group),
      cmocka_unit_test(test_small_step),
      cmocka_unit_test(test_64_batch16),
      cmocka_unit_test(test_256_batch2),
      cmocka_unit_test(test_1024),
      cmocka_unit_test_teardown(test_float_path, restore_profile),
      cmocka_unit_test_teardown(test_group_global, restore_profile),
  };
  return cmocka_run_group_tests_name("svd_f32", tests, test_cl_setup, print_worst);
}
