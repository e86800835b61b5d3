/* pare's conv2d_grad_f32 (every plan: direct, 1x1 GEMM, im2col + GEMM with
 * one or several images per chunk) against pare_ref_conv_backward_f32 over
 * awkward shapes, each of dx, dw and db alone and all together. */
#include <string.h>

#include "engine/ref/grad.h"
#include "host/launch/conv2d_grad_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

typedef struct grad_case {
  size_t n, c, h, w, m, kh, kw, group;
  size_t sh, sw, dh, dw, pt, pl, pb, pr;
} grad_case;

enum { WANT_DX = 1, WANT_DW = 2, WANT_DB = 4 };

/* Runs the case with the gradients in `want` and compares them with the
 * reference; the others get NULL. */
static void check_case(test_rng *r, const grad_case *cc, int want) {
  char what[256];
  snprintf(what, sizeof what,
           "conv grad n=%zu c=%zu %zux%zu m=%zu k=%zux%zu g=%zu s=%zux%zu d=%zux%zu "
           "pads=%zu,%zu,%zu,%zu want=%d",
           cc->n, cc->c, cc->h, cc->w, cc->m, cc->kh, cc->kw, cc->group, cc->sh, cc->sw, cc->dh,
           cc->dw, cc->pt, cc->pl, cc->pb, cc->pr, want);
  pare_ref_conv_params p;
  pare_ref_conv_params_init(&p, 2);
  p.group = (int64_t)cc->group;
  p.win.strides[0] = (int64_t)cc->sh;
  p.win.strides[1] = (int64_t)cc->sw;
  p.win.dilations[0] = (int64_t)cc->dh;
  p.win.dilations[1] = (int64_t)cc->dw;
  p.win.pads[0] = (int64_t)cc->pt;
  p.win.pads[1] = (int64_t)cc->pl;
  p.win.pads[2] = (int64_t)cc->pb;
  p.win.pads[3] = (int64_t)cc->pr;
  size_t cg = cc->c / cc->group, mg = cc->m / cc->group;
  int64_t xd[4] = {(int64_t)cc->n, (int64_t)cc->c, (int64_t)cc->h, (int64_t)cc->w};
  int64_t wd[4] = {(int64_t)cc->m, (int64_t)cg, (int64_t)cc->kh, (int64_t)cc->kw};
  int64_t yd[4];
  if (pare_ref_conv_shape(&p, xd, wd, yd) != PARE_REF_OK) fail_msg("%s: bad case", what);
  size_t nx = cc->n * cc->c * cc->h * cc->w, nw = cc->m * cg * cc->kh * cc->kw;
  size_t ny = (size_t)(yd[0] * yd[1] * yd[2] * yd[3]), P = (size_t)(yd[2] * yd[3]);
  float *x = malloc(nx * 4 + 4), *w = malloc(nw * 4), *dy = malloc(ny * 4 + 4);
  float *wdx = malloc(nx * 4 + 4), *wdw = malloc(nw * 4), *wdb = malloc(cc->m * 4);
  float *gdx = malloc(nx * 4 + 4), *gdw = malloc(nw * 4), *gdb = malloc(cc->m * 4);
  assert_true(x && w && dy && wdx && wdw && wdb && gdx && gdw && gdb);
  test_fill(r, x, nx, -1.0f, 1.0f);
  test_fill(r, w, nw, -1.0f, 1.0f);
  test_fill(r, dy, ny, -1.0f, 1.0f);
  /* Every requested output must be written: start from NaN. */
  for (size_t i = 0; i < nx; i++) gdx[i] = NAN;
  for (size_t i = 0; i < nw; i++) gdw[i] = NAN;
  for (size_t i = 0; i < cc->m; i++) gdb[i] = NAN;
  assert_int_equal(pare_ref_conv_backward_f32(&p, x, xd, w, wd, dy, wdx, wdw, wdb), PARE_REF_OK);

  pare_error err;
  cl_mem bx, bw, bdy, bdx = NULL, bdw = NULL, bdb = NULL, bs = NULL;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nx * 4 + 4, x, &bx, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nw * 4, w, &bw, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, ny * 4 + 4, dy, &bdy, &err), PARE_OK);
  if (want & WANT_DX)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, nx * 4 + 4, gdx, &bdx, &err), PARE_OK);
  if (want & WANT_DW)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, nw * 4, gdw, &bdw, &err), PARE_OK);
  if (want & WANT_DB)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, cc->m * 4, gdb, &bdb, &err), PARE_OK);
  pare_conv2d_f32_args a = {
      cc->n,  cc->c,  cc->h,  cc->w,  cc->m,  cc->kh, cc->kw, cc->group,     cc->sh,
      cc->sw, cc->dh, cc->dw, cc->pt, cc->pl, cc->pb, cc->pr, (size_t)yd[2], (size_t)yd[3],
      bx,     bw,     NULL,   NULL,   0,      0,      0,      NULL,          NULL,
      0,      0,      0,      0,      NULL,   NULL};
  size_t scratch = pare_conv2d_grad_f32_scratch_bytes(rt, &a);
  if (scratch)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, scratch, NULL, &bs, &err), PARE_OK);
  cl_event ev = NULL;
  pare_status st = pare_launch_conv2d_grad_f32(rt, &a, bdy, bdx, bdw, bdb, bs, &ev, &err);
  if (st != PARE_OK) fail_msg("%s: %s", what, err.text);
  if (cc->n > 0 || (want & (WANT_DW | WANT_DB))) {
    assert_non_null(ev);
    assert_int_equal(rt->cl->clWaitForEvents(1, &ev), CL_SUCCESS);
    rt->cl->clReleaseEvent(ev);
  }
  if (want & WANT_DX) {
    assert_int_equal(pare_cl_read(rt, bdx, 0, nx * 4, gdx, &err), PARE_OK);
    test_assert_close(gdx, wdx, nx, test_dot_tolerance(mg * cc->kh * cc->kw, 1.0, 1.0), what);
  }
  if (want & WANT_DW) {
    assert_int_equal(pare_cl_read(rt, bdw, 0, nw * 4, gdw, &err), PARE_OK);
    test_assert_close(gdw, wdw, nw, test_dot_tolerance(cc->n * P, 1.0, 1.0), what);
  }
  if (want & WANT_DB) {
    assert_int_equal(pare_cl_read(rt, bdb, 0, cc->m * 4, gdb, &err), PARE_OK);
    test_assert_close(gdb, wdb, cc->m, test_dot_tolerance(cc->n * P, 1.0, 1.0), what);
  }

  cl_mem bufs[] = {bx, bw, bdy, bdx, bdw, bdb, bs};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i]) rt->cl->clReleaseMemObject(bufs[i]);
  free(x);
  free(w);
  free(dy);
  free(wdx);
  free(wdw);
  free(wdb);
  free(gdx);
  free(gdw);
  free(gdb);
}

static const grad_case fixed_cases[] = {
    /* n  c   h   w   m  kh kw g  sh sw dh dw pt pl pb pr */
    {1, 3, 13, 17, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* im2col, 1 image */
    {3, 3, 13, 17, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* im2col, 3 per chunk */
    {3, 17, 13, 17, 7, 5, 5, 1, 2, 3, 1, 1, 2, 1, 0, 3},   /* strides, asym pads */
    {3, 17, 11, 9, 6, 3, 3, 1, 3, 2, 2, 2, 2, 0, 1, 2},    /* stride 3, dilation 2 */
    {1, 17, 9, 11, 17, 3, 3, 17, 1, 1, 1, 1, 1, 1, 1, 1},  /* depthwise */
    {3, 17, 19, 37, 17, 3, 3, 17, 2, 2, 1, 1, 0, 1, 1, 0}, /* depthwise stride 2 */
    {1, 6, 20, 33, 12, 5, 5, 6, 1, 1, 2, 2, 4, 4, 4, 4},   /* depthwise x2, dil 2 */
    {1, 17, 7, 5, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* 1x1 GEMM */
    {3, 34, 48, 48, 10, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0},  /* 1x1 GEMM, groups, batch */
    {3, 17, 5, 6, 11, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},    /* 1x1 batched im2col */
    {2, 16, 9, 9, 24, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0},    /* 1x1 stride 2 */
    {1, 4, 1, 1, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1},      /* 1x1 image, groups 2 */
    {3, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},      /* 1x1 image, 1x1 kernel */
    {1, 13, 13, 17, 9, 1, 7, 1, 1, 1, 1, 1, 0, 3, 0, 3},   /* 1x7 */
    {3, 6, 13, 17, 10, 1, 7, 2, 1, 2, 1, 1, 0, 2, 0, 4},   /* 1x7, groups 2 */
    {3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* MNIST conv 1 */
    {3, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* MNIST conv 2 */
    {1, 5, 3, 40, 7, 3, 5, 1, 1, 1, 1, 2, 0, 7, 2, 0},     /* dilated, pads > input */
    {3, 2, 50, 3, 2, 2, 2, 2, 3, 1, 2, 1, 1, 0, 0, 1},     /* g == C == M, k 2x2 */
    {1, 3, 9, 9, 6, 3, 3, 1, 3, 3, 1, 1, 0, 0, 0, 0},      /* stride 3 skips inputs */
    {0, 3, 5, 5, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},      /* empty batch */
};

/* Each fixed shape with all three gradients together. */
static void test_fixed_all(void **state) {
  (void)state;
  test_rng r = {0x2545f4914f6cdd1du};
  for (size_t i = 0; i < sizeof fixed_cases / sizeof fixed_cases[0]; i++)
    check_case(&r, &fixed_cases[i], WANT_DX | WANT_DW | WANT_DB);
}

/* Each fixed shape with each gradient alone. */
static void test_fixed_alone(void **state) {
  (void)state;
  test_rng r = {0x853c49e6748fea9bu};
  for (size_t i = 0; i < sizeof fixed_cases / sizeof fixed_cases[0]; i++)
    for (int want = 1; want <= 4; want <<= 1) check_case(&r, &fixed_cases[i], want);
}

/* Random shapes drawn from awkward sizes, random subsets of the gradients. */
static void test_random_shapes(void **state) {
  (void)state;
  static const size_t chans[] = {1, 3, 7, 17};
  static const size_t sizes[] = {1, 2, 5, 13, 17};
  static const size_t ks[] = {1, 3, 5};
  test_rng r = {0x9e3779b97f4a7c15u};
  for (int i = 0; i < 40; i++) {
    grad_case cc;
    memset(&cc, 0, sizeof cc);
    cc.n = test_rng_below(&r, 2) ? 3 : 1;
    int gkind = (int)test_rng_below(&r, 3); /* 0: group 1, 1: group 2, 2: depthwise */
    cc.c = chans[test_rng_below(&r, 4)];
    cc.m = chans[test_rng_below(&r, 4)];
    if (gkind == 1) {
      cc.c *= 2;
      cc.m *= 2;
      cc.group = 2;
    } else if (gkind == 2) {
      cc.group = cc.c;
      cc.m = cc.c * (1 + test_rng_below(&r, 3));
    } else {
      cc.group = 1;
    }
    cc.h = sizes[test_rng_below(&r, 5)];
    cc.w = sizes[test_rng_below(&r, 5)];
    cc.kh = ks[test_rng_below(&r, 3)];
    cc.kw = test_rng_below(&r, 4) ? cc.kh : ks[test_rng_below(&r, 3)];
    cc.sh = 1 + test_rng_below(&r, 3);
    cc.sw = test_rng_below(&r, 2) ? cc.sh : 1 + test_rng_below(&r, 3);
    cc.dh = 1 + test_rng_below(&r, 2);
    cc.dw = 1 + test_rng_below(&r, 2);
    cc.pt = test_rng_below(&r, 3);
    cc.pl = test_rng_below(&r, 3);
    cc.pb = test_rng_below(&r, 3);
    cc.pr = test_rng_below(&r, 3);
    size_t eh = (cc.kh - 1) * cc.dh + 1, ew = (cc.kw - 1) * cc.dw + 1;
    if (cc.h + cc.pt + cc.pb < eh) cc.pb += eh - (cc.h + cc.pt + cc.pb);
    if (cc.w + cc.pl + cc.pr < ew) cc.pr += ew - (cc.w + cc.pl + cc.pr);
    int want = 1 + (int)test_rng_below(&r, 7);
    check_case(&r, &cc, want);
  }
}

/* Bad arguments are refused with a message naming the kernel and shape. */
static void test_errors(void **state) {
  (void)state;
  pare_error err;
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 4096, NULL, &buf, &err), PARE_OK);
  pare_conv2d_f32_args a = {1, 3,   8,   8,    4,    3, 3, 2, 1,    1,    1, 1, 1, 1, 1,    1,   8,
                            8, buf, buf, NULL, NULL, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, NULL};
  assert_int_equal(pare_launch_conv2d_grad_f32(rt, &a, buf, buf, buf, buf, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "conv2d_grad_f32"));
  assert_non_null(strstr(err.text, "x 1x3x8x8"));
  a.group = 1;
  a.oh = 7;
  assert_int_equal(pare_launch_conv2d_grad_f32(rt, &a, buf, buf, buf, buf, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  a.oh = 8;
  a.act = PARE_CONV2D_ACT_RELU;
  assert_int_equal(pare_launch_conv2d_grad_f32(rt, &a, buf, buf, buf, buf, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  a.act = PARE_CONV2D_ACT_NONE;
  assert_true(pare_conv2d_grad_f32_scratch_bytes(rt, &a) > 0);
  assert_int_equal(pare_launch_conv2d_grad_f32(rt, &a, buf, buf, NULL, NULL, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "scratch"));
  /* Nothing asked for: nothing enqueued. */
  cl_event ev = (cl_event)1;
  assert_int_equal(pare_launch_conv2d_grad_f32(rt, &a, buf, NULL, NULL, NULL, NULL, &ev, &err),
                   PARE_OK);
  assert_null(ev);
  rt->cl->clReleaseMemObject(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_all),
      cmocka_unit_test(test_fixed_alone),
      cmocka_unit_test(test_random_shapes),
      cmocka_unit_test(test_errors),
  };
  return cmocka_run_group_tests_name("conv2d_grad_f32", tests, test_cl_setup, test_cl_teardown);
}
