/* pare's GEMM kernel and the CLBlast path against the reference GEMM, over
 * random shapes that sit on and around every tile edge; the kernel's fused
 * ReLU / clip epilogue against the reference epilogue. */
#include <string.h>

#include "engine/ref/ref.h"
#include "host/launch/launch.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

typedef pare_status (*gemm_fn)(pare_cl_runtime *, const pare_gemm_f32_args *, cl_event *,
                               pare_error *);

/* Clip bounds of the epilogue tests. */
static const float clip_lo = -0.3f, clip_hi = 0.4f;

/* Runs one case through `fn` (act PARE_GEMM_ACT_NONE) or through
 * pare_launch_gemm_f32_act with that activation, and compares with the
 * reference. */
static void check_case(gemm_fn fn, const char *name, test_rng *r, int ta, int tb, size_t m,
                       size_t n, size_t k, size_t pad, size_t off, float alpha, float beta,
                       int with_bias, int act) {
  size_t a_rows = ta ? k : m, a_cols = ta ? m : k;
  size_t b_rows = tb ? n : k, b_cols = tb ? k : n;
  size_t lda = a_cols + pad, ldb = b_cols + pad, ldc = n + pad;
  size_t na = off + a_rows * lda, nb = off + b_rows * ldb, nc = off + m * ldc;
  float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b), *c = malloc(nc * sizeof *c);
  float *want = malloc(nc * sizeof *want), *bias = malloc((n + 1) * sizeof *bias);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(c);
  assert_non_null(want);
  assert_non_null(bias);
  test_fill(r, a, na, -1.0f, 1.0f);
  test_fill(r, b, nb, -1.0f, 1.0f);
  test_fill(r, bias, n + 1, -1.0f, 1.0f);
  if (beta == 0.0f) {
    for (size_t i = 0; i < nc; i++) c[i] = NAN; /* must not be read */
  } else {
    test_fill(r, c, nc, -1.0f, 1.0f);
  }
  memcpy(want, c, nc * sizeof *c);
  pare_ref_gemm_f32(ta, tb, m, n, k, alpha, a + off, lda, b + off, ldb, beta, want + off, ldc,
                    with_bias ? bias : NULL);
  pare_ref_act ract = act == PARE_GEMM_ACT_RELU   ? PARE_REF_ACT_RELU
                      : act == PARE_GEMM_ACT_CLIP ? PARE_REF_ACT_CLIP
                                                  : PARE_REF_ACT_NONE;
  for (size_t i = 0; i < m; i++)
    pare_ref_epilogue_f32(want + off + i * ldc, NULL, n, ract, clip_lo, clip_hi);

  pare_error err;
  cl_mem ba, bb, bc, bbias = NULL;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, na * 4, a, &ba, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nb * 4, b, &bb, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, nc * 4, c, &bc, &err), PARE_OK);
  if (with_bias)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, n * 4, bias, &bbias, &err), PARE_OK);
  pare_gemm_f32_args g = {ta,  tb,  m,   n,   k,   alpha, beta, ba, bb, bc, bbias,
                          off, off, off, lda, ldb, ldc,   1,    0,  0,  0};
  pare_status st = act == PARE_GEMM_ACT_NONE
                       ? fn(rt, &g, NULL, &err)
                       : pare_launch_gemm_f32_act(rt, &g, act, clip_lo, clip_hi, NULL, &err);
  if (st != PARE_OK) fail_msg("%s: %s", name, err.text);
  assert_int_equal(pare_cl_read(rt, bc, 0, nc * 4, c, &err), PARE_OK);

  double tol = test_dot_tolerance(k, fabs(alpha), 1.0) + 4e-7 * (fabs(beta) + 1.0);
  char what[160];
  snprintf(what, sizeof what,
           "%s ta=%d tb=%d m=%zu n=%zu k=%zu pad=%zu off=%zu bias=%d beta=%g act=%d", name, ta, tb,
           m, n, k, pad, off, with_bias, beta, act);
  test_assert_close(c, want, nc, tol, what);
  rt->cl->clReleaseMemObject(ba);
  rt->cl->clReleaseMemObject(bb);
  rt->cl->clReleaseMemObject(bc);
  if (bbias) rt->cl->clReleaseMemObject(bbias);
  free(a);
  free(b);
  free(c);
  free(want);
  free(bias);
}

/* Sizes on and around tile edges (tiles are at most 32 wide), primes, 1. */
static const size_t edge_sizes[] = {1,  2,  3,  5,  7,  8,  13, 15, 16,  17,  31,
                                    32, 33, 37, 48, 63, 64, 65, 97, 127, 128, 129};

/* Shapes over every transpose; act -1 draws PARE_GEMM_ACT_* per case. */
static void run_shapes(gemm_fn fn, const char *name, int with_bias_allowed, int act) {
  test_rng r = {0x9e3779b97f4a7c15u};
  size_t ns = sizeof edge_sizes / sizeof edge_sizes[0];
  for (int ta = 0; ta < 2; ta++) {
    for (int tb = 0; tb < 2; tb++) {
      for (int i = 0; i < 14; i++) {
        size_t m = edge_sizes[test_rng_below(&r, ns)], n = edge_sizes[test_rng_below(&r, ns)];
        size_t k = edge_sizes[test_rng_below(&r, ns)];
        size_t pad = (i % 3 == 1) ? 1 + test_rng_below(&r, 5) : 0;
        size_t off = (i % 4 == 3) ? 1 + test_rng_below(&r, 7) : 0;
        float beta = (i % 2) ? 0.0f : 0.5f;
        float alpha = (i % 5 == 4) ? -1.5f : 1.0f;
        int a = act >= 0 ? act : (int)test_rng_below(&r, 3);
        check_case(fn, name, &r, ta, tb, m, n, k, pad, off, alpha, beta,
                   with_bias_allowed && (i % 3 == 0), a);
      }
    }
  }
  /* Larger CNN-like shapes, NN only. */
  int a = act >= 0 ? act : PARE_GEMM_ACT_RELU;
  check_case(fn, name, &r, 0, 0, 64, 313, 147, 0, 0, 1.0f, 0.0f, with_bias_allowed, a);
  check_case(fn, name, &r, 0, 0, 67, 196, 1031, 0, 0, 1.0f, 1.0f, 0, a);
  check_case(fn, name, &r, 0, 0, 1, 1031, 3, 0, 0, 1.0f, 0.0f, 0, a);
  check_case(fn, name, &r, 0, 0, 1031, 1, 5, 0, 0, 1.0f, 0.0f, 0, a);
}

static void test_own_gemm(void **state) {
  (void)state;
  run_shapes(pare_launch_gemm_f32, "gemm_f32", 1, PARE_GEMM_ACT_NONE);
}

/* The fused activation (a Gemm followed by Relu or Clip in a model), with
 * and without bias, on interior and edge tiles; unknown activations are
 * refused. */
static void test_own_gemm_act(void **state) {
  (void)state;
  run_shapes(pare_launch_gemm_f32, "gemm_f32", 1, -1);
  pare_error err;
  pare_gemm_f32_args g = {0};
  g.m = g.n = g.k = 1;
  assert_int_equal(pare_launch_gemm_f32_act(rt, &g, 3, 0, 0, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "activation"));
}

static void test_clblast_gemm(void **state) {
  (void)state;
  pare_error err;
  pare_gemm_f32_args none = {0};
  if (pare_clblast_gemm_f32(rt, &none, NULL, &err) == PARE_ERR_UNSUPPORTED) skip();
  run_shapes(pare_clblast_gemm_f32, "clblast", 0, PARE_GEMM_ACT_NONE);
}

/* The public entry point on host memory gives the reference's answer. */
/* A batch of products in one launch (Winograd's 16 per convolution):
 * strides that pack the matrices, strides with gaps and with an offset,
 * edge shapes, both transposes of A; each product against the reference,
 * the gaps left untouched. */
static void test_batched(void **state) {
  (void)state;
  test_rng r = {0xd1b54a32d192ed03u};
  static const size_t shapes[][3] = {{1, 1, 1}, {7, 13, 5}, {17, 33, 16}, {24, 49, 12}};
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
    for (int ta = 0; ta < 2; ta++) {
      size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2], batch = 3 + s;
      size_t gap = s % 2 ? 5 : 0, off = s;
      size_t sa = m * k + gap, sb = k * n + gap, sc = m * n + gap;
      size_t na = off + batch * sa, nb = off + batch * sb, nc = off + batch * sc;
      float *a = malloc(na * 4), *b = malloc(nb * 4), *c = malloc(nc * 4), *want = malloc(nc * 4);
      assert_true(a && b && c && want);
      test_fill(&r, a, na, -1.0f, 1.0f);
      test_fill(&r, b, nb, -1.0f, 1.0f);
      test_fill(&r, c, nc, -1.0f, 1.0f);
      memcpy(want, c, nc * 4);
      size_t lda = ta ? m : k;
      for (size_t z = 0; z < batch; z++)
        pare_ref_gemm_f32(ta, 0, m, n, k, 1.0f, a + off + z * sa, lda, b + off + z * sb, n, 0.0f,
                          want + off + z * sc, n, NULL);
      pare_error err;
      cl_mem ba, bb, bc;
      assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, na * 4, a, &ba, &err), PARE_OK);
      assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nb * 4, b, &bb, &err), PARE_OK);
      assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, nc * 4, c, &bc, &err), PARE_OK);
      pare_gemm_f32_args g = {0};
      g.trans_a = ta, g.m = m, g.n = n, g.k = k, g.alpha = 1.0f, g.beta = 0.0f;
      g.a = ba, g.b = bb, g.c = bc, g.off_a = g.off_b = g.off_c = off;
      g.lda = lda, g.ldb = g.ldc = n;
      g.batch = batch, g.stride_a = sa, g.stride_b = sb, g.stride_c = sc;
      if (pare_launch_gemm_f32(rt, &g, NULL, &err) != PARE_OK) fail_msg("%s", err.text);
      assert_int_equal(pare_cl_read(rt, bc, 0, nc * 4, c, &err), PARE_OK);
      char what[96];
      snprintf(what, sizeof what, "batched %zux%zux%zu x%zu ta=%d gap=%zu", m, n, k, batch, ta,
               gap);
      test_assert_close(c, want, nc, test_dot_tolerance(k, 1.0, 1.0), what);
      rt->cl->clReleaseMemObject(ba);
      rt->cl->clReleaseMemObject(bb);
      rt->cl->clReleaseMemObject(bc);
      free(a);
      free(b);
      free(c);
      free(want);
    }
}

static void test_public_gemm(void **state) {
  (void)state;
  pare_context *ctx;
  pare_context_options opt = {0};
  opt.backend = PARE_BACKEND_OPENCL;
  opt.no_cache = 1;
  assert_int_equal(pare_context_create(&opt, &ctx), PARE_OK);
  test_rng r = {42};
  size_t m = 37, n = 29, k = 53;
  float a[37 * 53], b[53 * 29], c[37 * 29], want[37 * 29], bias[29];
  test_fill(&r, a, sizeof a / 4, -1, 1);
  test_fill(&r, b, sizeof b / 4, -1, 1);
  test_fill(&r, bias, n, -1, 1);
  pare_gemm_desc d = {0, 0, m, n, k, 0, 0, 0, 1.0f, 0.0f};
  assert_int_equal(pare_gemm_f32(ctx, &d, a, b, c, bias), PARE_OK);
  pare_ref_gemm_f32(0, 0, m, n, k, 1.0f, a, k, b, n, 0.0f, want, n, bias);
  test_assert_close(c, want, m * n, test_dot_tolerance(k, 1, 1), "pare_gemm_f32");
  /* K == 0: C = beta·C + bias. */
  pare_gemm_desc d0 = {0, 0, m, n, 0, 0, 0, 0, 1.0f, 2.0f};
  memcpy(want, c, sizeof c);
  assert_int_equal(pare_gemm_f32(ctx, &d0, a, b, c, NULL), PARE_OK);
  for (size_t i = 0; i < m * n; i++) want[i] *= 2.0f;
  test_assert_close(c, want, m * n, 1e-6, "pare_gemm_f32 k=0");
  /* A leading dimension shorter than a row is refused with a reason. */
  pare_gemm_desc bad = {0, 0, m, n, k, 3, 0, 0, 1.0f, 0.0f};
  assert_int_equal(pare_gemm_f32(ctx, &bad, a, b, c, NULL), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(pare_context_last_error(ctx), "lda 3"));
  pare_context_destroy(ctx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_own_gemm),     cmocka_unit_test(test_own_gemm_act),
      cmocka_unit_test(test_clblast_gemm), cmocka_unit_test(test_public_gemm),
      cmocka_unit_test(test_batched),
  };
  return cmocka_run_group_tests_name("gemm_f32", tests, test_cl_setup, test_cl_teardown);
}
