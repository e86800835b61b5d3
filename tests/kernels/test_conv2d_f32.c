/* pare's conv2d_f32 kernels (every plan: direct, 1x1 GEMM, im2col + GEMM
 * with one or several images per chunk, implicit GEMM with every tile)
 * against the reference Conv, the reference epilogue (residual,
 * activation) and pooling, over awkward shapes. */
#include <string.h>

#include "engine/ref/ops.h"
#include "engine/ref/winograd.h"
#include "host/launch/conv2d_f32.h"
#include "host/launch/conv2d_geom.h"
#include "host/tuning.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

typedef struct conv_case {
  size_t n, c, h, w, m, kh, kw, group;
  size_t sh, sw, dh, dw, pt, pl, pb, pr;
  int bias, act;
} conv_case;

/* One case; with_res adds a residual (a buffer shaped as y) before the
 * activation; pool (may be NULL) pools the result in the same launch, against
 * pare_ref_maxpool_f32 / pare_ref_avgpool_f32 on the reference's output. */
/* A QuantizeLinear → DequantizeLinear pair on the input (in_quant). */
typedef struct input_quant {
  float scale;
  int32_t zp, qmin, qmax;
} input_quant;

/* The tolerance's factor: Winograd's transforms scale values by up to 4
 * before the products and sum up to 9 products after them, so its
 * rounding is a bounded multiple of the direct sum's. */
static double tol_scale = 1.0;
/* Weights baked into the implicit GEMM (pare_conv2d_baked_make), and the
 * share of weights set to 0 first (a pruned layer). */
static int bake_weights;
static double zero_share;

static void check_case_full(test_rng *r, const conv_case *cc, int with_res,
                            const pare_conv2d_pool *pool, const input_quant *iq) {
  char what[300];
  snprintf(what, sizeof what,
           "conv n=%zu c=%zu %zux%zu m=%zu k=%zux%zu g=%zu s=%zux%zu d=%zux%zu "
           "pads=%zu,%zu,%zu,%zu bias=%d act=%d res=%d pool=%d %zux%zu/%zux%zu",
           cc->n, cc->c, cc->h, cc->w, cc->m, cc->kh, cc->kw, cc->group, cc->sh, cc->sw, cc->dh,
           cc->dw, cc->pt, cc->pl, cc->pb, cc->pr, cc->bias, cc->act, with_res,
           pool ? pool->kind : 0, pool ? pool->kh : 0, pool ? pool->kw : 0, pool ? pool->sh : 0,
           pool ? pool->sw : 0);
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
  size_t cg = cc->c / cc->group;
  int64_t xd[4] = {(int64_t)cc->n, (int64_t)cc->c, (int64_t)cc->h, (int64_t)cc->w};
  int64_t wd[4] = {(int64_t)cc->m, (int64_t)cg, (int64_t)cc->kh, (int64_t)cc->kw};
  int64_t yd[4];
  if (pare_ref_conv_shape(&p, xd, wd, yd) != PARE_REF_OK) fail_msg("%s: bad case", what);
  size_t nx = cc->n * cc->c * cc->h * cc->w, nw = cc->m * cg * cc->kh * cc->kw;
  size_t ny = (size_t)(yd[0] * yd[1] * yd[2] * yd[3]);
  float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(cc->m * 4);
  float *want = malloc(ny * 4), *got = malloc(ny * 4), *res = malloc(ny * 4 + 4);
  assert_true(x && w && b && want && got && res);
  test_fill(r, x, nx, -1.0f, 1.0f);
  test_fill(r, w, nw, -1.0f, 1.0f);
  if (zero_share > 0) {
    float *u = malloc(nw * 4);
    assert_non_null(u);
    test_fill(r, u, nw, 0.0f, 1.0f);
    for (size_t i = 0; i < nw; i++)
      if (u[i] < zero_share) w[i] = 0.0f;
    free(u);
  }
  test_fill(r, b, cc->m, -1.0f, 1.0f);
  test_fill(r, res, ny, -2.0f, 2.0f);
  for (size_t i = 0; i < ny; i++) got[i] = NAN; /* every output must be written */
  if (iq) {                                     /* the reference convolves the quantized input */
    /* Values the pair maps specially (NaN to 0, infinities to the range's
     * ends), at a row's start and inside it (the copy's vector chunks). */
    x[0] = NAN;
    x[nx / 2] = INFINITY;
    x[nx / 3] = -INFINITY;
    x[nx - 1] = -0.0f;
    float *xq = malloc(nx * 4);
    assert_non_null(xq);
    assert_int_equal(pare_ref_qdq_f32(x, nx, iq->scale, iq->zp, iq->qmin, iq->qmax, xq), 0);
    assert_int_equal(pare_ref_conv_f32(&p, xq, xd, w, wd, cc->bias ? b : NULL, want, NULL),
                     PARE_REF_OK);
    free(xq);
  } else {
    assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, cc->bias ? b : NULL, want, NULL),
                     PARE_REF_OK);
  }
  const float lo = -0.25f, hi = 0.3f;
  pare_ref_act act = cc->act == PARE_CONV2D_ACT_RELU   ? PARE_REF_ACT_RELU
                     : cc->act == PARE_CONV2D_ACT_CLIP ? PARE_REF_ACT_CLIP
                                                       : PARE_REF_ACT_NONE;
  pare_ref_epilogue_f32(want, with_res ? res : NULL, ny, act, lo, hi);
  size_t conv_ny = ny;
  if (pool) {
    pare_ref_pool_params pp;
    pare_ref_pool_params_init(&pp, 2);
    pp.win.kernel[0] = (int64_t)pool->kh, pp.win.kernel[1] = (int64_t)pool->kw;
    pp.win.strides[0] = (int64_t)pool->sh, pp.win.strides[1] = (int64_t)pool->sw;
    int64_t pd[4];
    assert_int_equal(pare_ref_pool_shape(&pp, yd, pd), PARE_REF_OK);
    float *pooled = malloc((size_t)(pd[0] * pd[1] * pd[2] * pd[3]) * 4 + 4);
    assert_non_null(pooled);
    if (pool->kind == PARE_CONV2D_POOL_MAX)
      assert_int_equal(pare_ref_maxpool_f32(&pp, want, yd, pooled, NULL), PARE_REF_OK);
    else
      assert_int_equal(pare_ref_avgpool_f32(&pp, want, yd, pooled, NULL), PARE_REF_OK);
    free(want);
    want = pooled;
    ny = (size_t)(pd[0] * pd[1] * pd[2] * pd[3]);
  }

  pare_error err;
  cl_mem bx, bw, bb = NULL, by, bs = NULL, br = NULL;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nx * 4, x, &bx, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, nw * 4, w, &bw, &err), PARE_OK);
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, ny * 4, got, &by, &err), PARE_OK);
  if (cc->bias)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, cc->m * 4, b, &bb, &err), PARE_OK);
  if (with_res)
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_ONLY, conv_ny * 4 + 4, res, &br, &err),
                     PARE_OK);
  pare_conv2d_f32_args a = {
      cc->n,  cc->c,  cc->h,  cc->w,  cc->m,   cc->kh, cc->kw, cc->group,     cc->sh,
      cc->sw, cc->dh, cc->dw, cc->pt, cc->pl,  cc->pb, cc->pr, (size_t)yd[2], (size_t)yd[3],
      bx,     bw,     bb,     by,     cc->act, lo,     hi,     NULL,          br,
      0,      0,      0,      0,      NULL,    NULL};
  if (iq) {
    a.in_quant = 1;
    a.in_scale = iq->scale;
    a.in_lo = (float)(iq->qmin - iq->zp);
    a.in_hi = (float)(iq->qmax - iq->zp);
  }
  pare_conv2d_baked body = {0};
  if (bake_weights) {
    int tr = pool ? 2 : 1 + (int)(cc->m % 3 == 0); /* (tr 2 unpooled too) */
    assert_int_equal(pare_conv2d_baked_make(w, cc->m, cc->group, cg, cc->kh, cc->kw, tr, &body), 0);
    assert_int_equal(body.tm, pare_conv2d_baked_tm(cc->m / cc->group, tr));
    a.baked = &body;
    pare_conv2d_plan pl;
    pare_conv2d_plan_make_pooled(rt, "conv2d_f32", &a, 1, pool, &pl);
    if (cc->sh == 1 && cc->sw == 1 && !pool) { /* (a pooled plan may take im2col) */
      assert_int_equal(pl.path, PARE_CONV2D_IMPLICIT);
      assert_int_equal(pl.tm, body.tm);
      assert_int_equal(pl.tr, body.tr);
    }
  }
  size_t scratch = pare_conv2d_f32_pool_scratch_bytes(rt, &a, pool);
  if (scratch) {
    assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, scratch, NULL, &bs, &err), PARE_OK);
    a.scratch = bs;
  }
  cl_event ev = NULL;
  pare_status st = pool ? pare_launch_conv2d_pool_f32(rt, &a, pool, &ev, &err)
                        : pare_launch_conv2d_f32(rt, &a, &ev, &err);
  if (st != PARE_OK) fail_msg("%s: %s", what, err.text);
  assert_non_null(ev);
  assert_int_equal(rt->cl->clWaitForEvents(1, &ev), CL_SUCCESS);
  rt->cl->clReleaseEvent(ev);
  assert_int_equal(pare_cl_read(rt, by, 0, ny * 4, got, &err), PARE_OK);
  /* The residual adds one rounding of a value up to about K + 3; an average
   * its window's sum of such values. */
  double tol = test_dot_tolerance(cg * cc->kh * cc->kw + 1, 1.0, 1.0) +
               (with_res ? (double)(cg * cc->kh * cc->kw + 3) * 0x1p-23 : 0.0);
  if (pool) tol += (double)(pool->kh * pool->kw) * (double)(cg * cc->kh * cc->kw + 3) * 0x1p-23;
  test_assert_close(got, want, ny, tol * tol_scale, what);
  /* Winograd's transformed weights made beforehand give the same bits;
   * other paths have none to make. */
  cl_mem u = NULL;
  pare_conv2d_plan plan;
  pare_conv2d_plan_make_pooled(rt, "conv2d_f32", &a, 1, pool, &plan);
  if (pare_conv2d_winograd_weights(rt, &a, pool, &u, &err) != PARE_OK) fail_msg("%s", err.text);
  if (plan.path == PARE_CONV2D_WINOGRAD && !pool) {
    assert_non_null(u);
    float *again = malloc(ny * 4);
    void *zeros = calloc(scratch, 1); /* no U left in the scratch from the first launch */
    assert_true(again && zeros);
    assert_int_equal(pare_cl_write(rt, bs, 0, scratch, zeros, &err), PARE_OK);
    free(zeros);
    a.wino_u = u;
    if (pare_launch_conv2d_f32(rt, &a, NULL, &err) != PARE_OK) fail_msg("%s: %s", what, err.text);
    assert_int_equal(pare_cl_read(rt, by, 0, ny * 4, again, &err), PARE_OK);
    if (memcmp(again, got, ny * 4)) fail_msg("%s: U made beforehand differs", what);
    free(again);
  } else if (plan.path != PARE_CONV2D_WINOGRAD) {
    assert_null(u);
  }
  if (u) rt->cl->clReleaseMemObject(u);

  pare_conv2d_baked_free(&body);
  rt->cl->clReleaseMemObject(bx);
  rt->cl->clReleaseMemObject(bw);
  rt->cl->clReleaseMemObject(by);
  if (bb) rt->cl->clReleaseMemObject(bb);
  if (bs) rt->cl->clReleaseMemObject(bs);
  if (br) rt->cl->clReleaseMemObject(br);
  free(res);
  free(x);
  free(w);
  free(b);
  free(want);
  free(got);
}

static void check_case_pool(test_rng *r, const conv_case *cc, int with_res,
                            const pare_conv2d_pool *pool) {
  check_case_full(r, cc, with_res, pool, NULL);
}

static void check_case(test_rng *r, const conv_case *cc, int with_res) {
  check_case_pool(r, cc, with_res, NULL);
}

/* Conv → act → pool in one launch: max and average windows, overlapping
 * (3/2) and odd (2×3/1×2), windows that leave a remainder of the plane,
 * batched im2col chunks and the 1×1 path, with and without bias. */
static void test_pooled(void **state) {
  (void)state;
  test_rng r = {77};
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {4, 3, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* SimpleCNN's conv1 */
      {3, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* conv2 */
      {2, 5, 13, 11, 7, 3, 2, 1, 2, 1, 1, 1, 0, 1, 2, 0, 0, 2},
      {3, 8, 9, 10, 12, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0}, /* 1×1 */
      {1, 6, 17, 19, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* groups */
  };
  static const pare_conv2d_pool pools[] = {{PARE_CONV2D_POOL_MAX, 2, 2, 2, 2},
                                           {PARE_CONV2D_POOL_MAX, 3, 3, 2, 2},
                                           {PARE_CONV2D_POOL_AVG, 2, 2, 2, 2},
                                           {PARE_CONV2D_POOL_AVG, 2, 3, 1, 2}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t k = 0; k < sizeof pools / sizeof pools[0]; k++)
      check_case_pool(&r, &cases[i], 0, &pools[k]);
  /* What cannot pool: a residual, a window larger than the output, an
   * unknown kind; a depthwise shape (the direct path). */
  pare_error err;
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 1 << 16, NULL, &buf, &err), PARE_OK);
  pare_conv2d_f32_args a = {2, 4,   6,   6,    8,   3, 3, 1, 1,   1,    1, 1, 1, 1, 1,    1,   6,
                            6, buf, buf, NULL, buf, 0, 0, 0, buf, NULL, 0, 0, 0, 0, NULL, NULL};
  pare_conv2d_pool pl = {PARE_CONV2D_POOL_MAX, 2, 2, 2, 2};
  assert_true(pare_conv2d_f32_can_pool(rt, &a, &pl));
  a.residual = buf;
  assert_false(pare_conv2d_f32_can_pool(rt, &a, &pl));
  a.residual = NULL;
  pl.kh = 7;
  assert_false(pare_conv2d_f32_can_pool(rt, &a, &pl));
  assert_int_equal(pare_launch_conv2d_pool_f32(rt, &a, &pl, NULL, &err), PARE_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.text, "cannot pool 7x2"));
  pl.kh = 2;
  pl.kind = 3;
  assert_false(pare_conv2d_f32_can_pool(rt, &a, &pl));
  pl.kind = PARE_CONV2D_POOL_MAX;
  a.group = a.c = a.m = 4; /* depthwise: the direct path */
  assert_false(pare_conv2d_f32_can_pool(rt, &a, &pl));
  assert_int_equal(pare_launch_conv2d_pool_f32(rt, &a, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  rt->cl->clReleaseMemObject(buf);
}

/* Hand-picked shapes: each plan, edges of the 16-wide vectors, tiny and
 * odd images, asymmetric pads, strides and dilations. */
static void test_fixed_shapes(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {1, 3, 13, 17, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0},    /* im2col, 1 image */
      {3, 3, 13, 17, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},    /* im2col, 3 per chunk */
      {3, 17, 13, 17, 7, 5, 5, 1, 2, 3, 1, 1, 2, 1, 0, 3, 0, 2},   /* strides, asym pads */
      {1, 32, 9, 11, 32, 3, 3, 32, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* depthwise */
      {3, 32, 19, 37, 32, 3, 3, 32, 2, 2, 1, 1, 0, 1, 1, 0, 1, 2}, /* depthwise stride 2 */
      {1, 6, 20, 33, 12, 5, 5, 6, 1, 1, 2, 2, 4, 4, 4, 4, 0, 1},   /* depthwise x2, dil 2 */
      {1, 32, 7, 5, 16, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},    /* 1x1 GEMM */
      {3, 34, 48, 48, 10, 1, 1, 2, 1, 1, 1, 1, 0, 0, 0, 0, 1, 2},  /* 1x1 GEMM, groups, batch */
      {3, 17, 5, 6, 11, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0},    /* 1x1 batched im2col */
      {2, 16, 9, 9, 24, 1, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1, 0},    /* 1x1 stride 2 */
      {1, 4, 1, 1, 6, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},      /* 1x1 image, groups 2 */
      {3, 1, 1, 1, 3, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 2},      /* 1x1 image, 1x1 kernel */
      {1, 13, 13, 17, 9, 1, 7, 1, 1, 1, 1, 1, 0, 3, 0, 3, 1, 0},   /* 1x7 */
      {3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* MNIST conv 1 */
      {1, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* MNIST conv 2 */
      {1, 5, 3, 40, 7, 3, 5, 1, 1, 1, 1, 2, 0, 7, 2, 0, 0, 2},     /* dilated pads > input */
      {3, 2, 50, 3, 2, 2, 2, 2, 3, 1, 2, 1, 1, 0, 0, 1, 1, 0},     /* g == C == M, k 2x2 */
  };
  test_rng r = {0x2545f4914f6cdd1du};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check_case(&r, &cases[i], 0);
    check_case(&r, &cases[i], 1);
  }
}

/* Random shapes drawn from awkward sizes. */
static void test_random_shapes(void **state) {
  (void)state;
  static const size_t chans[] = {1, 3, 7, 17, 32};
  static const size_t sizes[] = {1, 2, 5, 13, 17, 23};
  static const size_t ks[] = {1, 3, 5};
  test_rng r = {0x9e3779b97f4a7c15u};
  for (int i = 0; i < 40; i++) {
    conv_case cc;
    memset(&cc, 0, sizeof cc);
    cc.n = test_rng_below(&r, 2) ? 3 : 1;
    int gkind = (int)test_rng_below(&r, 3); /* 0: group 1, 1: group 2, 2: depthwise */
    cc.c = chans[test_rng_below(&r, 5)];
    cc.m = chans[test_rng_below(&r, 5)];
    if (gkind == 1) {
      cc.c = cc.c * 2;
      cc.m = cc.m * 2;
      cc.group = 2;
    } else if (gkind == 2) {
      cc.group = cc.c;
      cc.m = cc.c * (1 + test_rng_below(&r, 2));
    } else {
      cc.group = 1;
    }
    cc.h = sizes[test_rng_below(&r, 6)];
    cc.w = sizes[test_rng_below(&r, 6)];
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
    /* Pad up to the effective kernel so the window always fits. */
    size_t eh = (cc.kh - 1) * cc.dh + 1, ew = (cc.kw - 1) * cc.dw + 1;
    if (cc.h + cc.pt + cc.pb < eh) cc.pb += eh - (cc.h + cc.pt + cc.pb);
    if (cc.w + cc.pl + cc.pr < ew) cc.pr += ew - (cc.w + cc.pl + cc.pr);
    cc.bias = (int)test_rng_below(&r, 2);
    cc.act = (int)test_rng_below(&r, 3);
    check_case(&r, &cc, (int)test_rng_below(&r, 2));
  }
}

/* Forces cc's plan through the tuning database: path, vw, tm, tr (a
 * negative value removes the entry); the plan made must be the one asked. */
static void force_plan(const conv_case *cc, const int v[4]) {
  pare_conv2d_f32_args a = {0};
  a.n = cc->n, a.c = cc->c, a.h = cc->h, a.w = cc->w, a.m = cc->m, a.kh = cc->kh, a.kw = cc->kw;
  a.group = cc->group, a.stride_h = cc->sh, a.stride_w = cc->sw, a.dil_h = cc->dh;
  a.dil_w = cc->dw, a.pad_top = cc->pt, a.pad_left = cc->pl, a.pad_bottom = cc->pb;
  a.pad_right = cc->pr;
  a.oh = (cc->h + cc->pt + cc->pb - (cc->kh - 1) * cc->dh - 1) / cc->sh + 1;
  a.ow = (cc->w + cc->pl + cc->pr - (cc->kw - 1) * cc->dw - 1) / cc->sw + 1;
  char shape[160], key[256];
  pare_conv2d_shape_key(&a, shape, sizeof shape);
  static const char *const names[4] = {"path", "vw", "tm", "tr"};
  for (int i = 0; i < 4; i++) {
    snprintf(key, sizeof key, "tune.conv2d_f32.%s@%s", names[i], shape);
    if (v[i] < 0)
      pare_tuning_forget(rt, key);
    else
      pare_tuning_set(rt, key, v[i]);
  }
  if (v[0] < 0) return;
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(rt, "conv2d_f32", &a, 1, &pl);
  assert_int_equal(pl.path, v[0]);
  if (v[0] == PARE_CONV2D_IMPLICIT) {
    assert_int_equal(pl.vw, v[1]);
    assert_int_equal(pl.tr, v[3]);
    assert_true(pl.tm <= v[2] && cc->m / cc->group % (size_t)pl.tm == 0);
  }
}

/* The implicit GEMM with every tile (vector width, channels: powers of
 * two and not, rows) on
 * shapes whose planes end inside a tile, channel counts the tile does not
 * divide, groups, dilations and asymmetric pads; with residual, and with
 * 2x2/2 max and average pooling in the same launch (odd planes leave a
 * row and column unpooled). im2col is forced on the same shapes. */
static void test_implicit_tiles(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* SimpleCNN conv1 */
      {2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* conv2 */
      {2, 5, 13, 19, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2},  /* M % 8 != 0 */
      {1, 6, 11, 23, 9, 3, 5, 3, 1, 1, 2, 1, 0, 2, 3, 1, 1, 1},   /* groups, dil, asym */
      {2, 4, 7, 5, 8, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 0},     /* 5x5 on tiny planes */
      {1, 3, 9, 33, 4, 1, 3, 1, 1, 1, 1, 2, 0, 0, 0, 0, 1, 1},    /* 1x3 dilated, no pads */
      {1, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},     /* one output */
  };
  static const int tiles[][3] = {{16, 8, 2}, {16, 4, 4}, {8, 8, 1},   {4, 2, 2}, {2, 1, 4},
                                 {1, 8, 1},  {16, 1, 2}, {16, 12, 2}, {8, 6, 1}};
  static const pare_conv2d_pool pools[] = {{PARE_CONV2D_POOL_MAX, 2, 2, 2, 2},
                                           {PARE_CONV2D_POOL_AVG, 2, 2, 2, 2}};
  test_rng r = {0x5851f42d4c957f2du};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const conv_case *cc = &cases[i];
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
      const int v[4] = {PARE_CONV2D_IMPLICIT, tiles[t][0], tiles[t][1], tiles[t][2]};
      force_plan(cc, v);
      check_case(&r, cc, (int)(t % 2));
      size_t oh = cc->h + cc->pt + cc->pb - (cc->kh - 1) * cc->dh; /* stride 1 */
      size_t ow = cc->w + cc->pl + cc->pr - (cc->kw - 1) * cc->dw;
      /* Tiles that cannot pool their row pairs (vw or tr of 1) leave the
       * pooled launch to im2col. */
      if (oh >= 2 && ow >= 2) check_case_pool(&r, cc, 0, &pools[t % 2]);
    }
    const int im2col[4] = {PARE_CONV2D_IM2COL, -1, -1, -1};
    force_plan(cc, im2col);
    check_case(&r, cc, 1);
    if (cc->h + cc->pt + cc->pb >= cc->kh + 1) check_case_pool(&r, cc, 0, &pools[0]);
    const int none[4] = {-1, -1, -1, -1};
    force_plan(cc, none);
  }
}

/* Winograd F(2x2, 3x3): planes of odd and even sizes (a last tile
 * half outside), pads on no side, one side or all, one input channel,
 * channel counts no GEMM tile divides, a plane of one output, batches
 * split into chunks (scratch_mb 1); with residual, every activation, and
 * 2x2/2 max and average pooling in the output transform. Each against the
 * reference Conv, and the reference Winograd (engine/ref/winograd.c)
 * against it too. Windows Winograd does not take are refused: the plan
 * falls back to another path. */
static void test_winograd(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* SimpleCNN conv1 */
      {2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* conv2 */
      {2, 5, 13, 19, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2},  /* odd planes */
      {1, 7, 9, 8, 3, 3, 3, 1, 1, 1, 1, 1, 0, 2, 1, 0, 1, 0},     /* asymmetric pads */
      {2, 3, 6, 5, 5, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},     /* no pads */
      {1, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1},     /* one output */
      {3, 33, 40, 37, 17, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2}, /* in chunks */
  };
  static const pare_conv2d_pool pools[] = {{PARE_CONV2D_POOL_MAX, 2, 2, 2, 2},
                                           {PARE_CONV2D_POOL_AVG, 2, 2, 2, 2}};
  test_rng r = {0x9e3779b97f4a7c15u};
  tol_scale = 16.0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const conv_case *cc = &cases[i];
    const int wino[4] = {PARE_CONV2D_WINOGRAD, -1, -1, -1};
    force_plan(cc, wino);
    char shape[160], mb_key[256];
    pare_conv2d_f32_args geo = {0};
    geo.n = cc->n, geo.c = cc->c, geo.h = cc->h, geo.w = cc->w, geo.m = cc->m, geo.kh = 3;
    geo.kw = 3, geo.group = 1, geo.stride_h = geo.stride_w = geo.dil_h = geo.dil_w = 1;
    geo.pad_top = cc->pt, geo.pad_left = cc->pl, geo.pad_bottom = cc->pb, geo.pad_right = cc->pr;
    pare_conv2d_shape_key(&geo, shape, sizeof shape);
    snprintf(mb_key, sizeof mb_key, "tune.conv2d_f32.scratch_mb@%s", shape);
    if (i + 1 == sizeof cases / sizeof cases[0]) {
      pare_tuning_set(rt, mb_key, 1);
      geo.oh = cc->h + cc->pt + cc->pb - 2, geo.ow = cc->w + cc->pl + cc->pr - 2;
      pare_conv2d_plan pl;
      pare_conv2d_plan_make(rt, "conv2d_f32", &geo, 1, &pl);
      assert_int_equal(pl.path, PARE_CONV2D_WINOGRAD);
      assert_true(pl.nb < cc->n); /* chunks */
    }
    check_case(&r, cc, 0);
    check_case(&r, cc, 1);
    size_t oh = cc->h + cc->pt + cc->pb - 2, ow = cc->w + cc->pl + cc->pr - 2;
    if (oh >= 2 && ow >= 2) {
      check_case_pool(&r, cc, 0, &pools[0]);
      check_case_pool(&r, cc, 0, &pools[1]);
    }
    pare_tuning_forget(rt, mb_key);
    const int none[4] = {-1, -1, -1, -1};
    force_plan(cc, none);

    /* The reference Winograd against the reference Conv. */
    size_t nx = cc->n * cc->c * cc->h * cc->w, nw = cc->m * cc->c * 9;
    size_t ny = cc->n * cc->m * oh * ow;
    float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(cc->m * 4);
    float *want = malloc(ny * 4), *got = malloc(ny * 4);
    assert_true(x && w && b && want && got);
    test_fill(&r, x, nx, -1.0f, 1.0f);
    test_fill(&r, w, nw, -1.0f, 1.0f);
    test_fill(&r, b, cc->m, -1.0f, 1.0f);
    pare_ref_conv_params p;
    pare_ref_conv_params_init(&p, 2);
    p.win.pads[0] = (int64_t)cc->pt, p.win.pads[1] = (int64_t)cc->pl;
    p.win.pads[2] = (int64_t)cc->pb, p.win.pads[3] = (int64_t)cc->pr;
    int64_t xd[4] = {(int64_t)cc->n, (int64_t)cc->c, (int64_t)cc->h, (int64_t)cc->w};
    int64_t wd[4] = {(int64_t)cc->m, (int64_t)cc->c, 3, 3};
    assert_int_equal(pare_ref_conv_f32(&p, x, xd, w, wd, b, want, NULL), PARE_REF_OK);
    assert_int_equal(pare_ref_conv2d_winograd_f32(x, cc->n, cc->c, cc->h, cc->w, w, cc->m, b,
                                                  cc->pt, cc->pl, cc->pb, cc->pr, got),
                     0);
    test_assert_close(got, want, ny, 16.0 * test_dot_tolerance(cc->c * 9 + 1, 1.0, 1.0),
                      "reference winograd");
    free(x);
    free(w);
    free(b);
    free(want);
    free(got);
  }
  tol_scale = 1.0;
  /* A 3x3 window Winograd does not take (stride 2, dilation 2, groups):
   * the tuned path is ignored. */
  static const conv_case other[] = {
      {1, 4, 9, 9, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 4, 9, 9, 4, 3, 3, 1, 1, 1, 2, 2, 2, 2, 2, 2, 1, 1},
      {1, 4, 9, 9, 8, 3, 3, 2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
  };
  for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
    const conv_case *cc = &other[i];
    pare_conv2d_f32_args a = {0};
    a.n = cc->n, a.c = cc->c, a.h = cc->h, a.w = cc->w, a.m = cc->m, a.kh = 3, a.kw = 3;
    a.group = cc->group, a.stride_h = cc->sh, a.stride_w = cc->sw, a.dil_h = cc->dh;
    a.dil_w = cc->dw, a.pad_top = cc->pt, a.pad_left = cc->pl, a.pad_bottom = cc->pb;
    a.pad_right = cc->pr;
    a.oh = (cc->h + cc->pt + cc->pb - 2 * cc->dh - 1) / cc->sh + 1;
    a.ow = (cc->w + cc->pl + cc->pr - 2 * cc->dw - 1) / cc->sw + 1;
    assert_false(pare_conv2d_winograd_fits(&a));
    char shape[160], key[256];
    pare_conv2d_shape_key(&a, shape, sizeof shape);
    snprintf(key, sizeof key, "tune.conv2d_f32.path@%s", shape);
    pare_tuning_set(rt, key, PARE_CONV2D_WINOGRAD);
    pare_conv2d_plan pl;
    pare_conv2d_plan_make(rt, "conv2d_f32", &a, 1, &pl);
    assert_int_not_equal(pl.path, PARE_CONV2D_WINOGRAD);
    check_case(&r, cc, 0);
    pare_tuning_forget(rt, key);
  }
  assert_int_equal(pare_ref_conv2d_winograd_f32(NULL, 1, 1, 2, 2, NULL, 1, NULL, 0, 0, 0, 0, NULL),
                   -1);
}

/* Weights baked into the implicit GEMM's code: dense, pruned (70% and
 * 95% zeros, so whole taps and blocks of channels drop out) and all-zero
 * layers; groups, dilations, asymmetric pads, channel counts 8 does not
 * divide, one input channel; with residual and max/average pooling; a
 * stride-2 window ignores the baked text and runs on the weight buffer. */
static void test_baked(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {3, 1, 28, 28, 12, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* pruned SimpleCNN conv1 */
      {2, 12, 14, 14, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, /* and conv2 */
      {2, 5, 13, 19, 10, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 2},  /* tile 5 */
      {1, 6, 11, 23, 9, 3, 5, 3, 1, 1, 2, 1, 0, 2, 3, 1, 1, 1},   /* groups, dil, asym */
      {2, 4, 7, 5, 7, 5, 5, 1, 1, 1, 1, 1, 2, 2, 2, 2, 1, 0},     /* tile 7, 5x5 */
      {1, 4, 9, 9, 4, 3, 3, 1, 2, 2, 1, 1, 1, 1, 1, 1, 1, 1},     /* stride 2: not baked */
  };
  static const double shares[] = {0.0, 0.7, 0.95, 1.0};
  static const pare_conv2d_pool pools[] = {{PARE_CONV2D_POOL_MAX, 2, 2, 2, 2},
                                           {PARE_CONV2D_POOL_AVG, 2, 2, 2, 2}};
  test_rng r = {0x2545f4914f6cdd1du};
  bake_weights = 1;
  /* (Each baked layer is a program of its own to build: one share per
   * case and launch, cycled.) */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    zero_share = shares[i % 4];
    check_case(&r, &cases[i], (int)(i % 2));
    zero_share = shares[(i + 1) % 4];
    if (cases[i].sh == 1) check_case_pool(&r, &cases[i], 0, &pools[i % 2]);
  }
  bake_weights = 0;
  zero_share = 0;
  /* The text, its hash, and a weight not finite. */
  float w[2 * 9] = {1.0f, 0, 0, 0, 0, 0, 0, 0, 0.5f};
  pare_conv2d_baked b;
  assert_int_equal(pare_conv2d_baked_make(w, 2, 1, 1, 3, 3, 2, &b), 0);
  assert_int_equal(b.tm, 2);
  assert_int_equal(b.tr, 2);
  assert_non_null(strstr(b.text, "BAKED_TAP(0,0,0) BAKED_FMA(0,0x1p+0f)"));
  assert_null(strstr(b.text, "BAKED_TAP(0,1,1)")); /* a tap of zeros only */
  assert_true(b.hash == pare_hash64(b.text, strlen(b.text), PARE_HASH_SEED));
  pare_conv2d_baked_free(&b);
  assert_null(b.text);
  w[4] = NAN;
  assert_int_equal(pare_conv2d_baked_make(w, 2, 1, 1, 3, 3, 1, &b), -1);
  assert_null(b.text);
  assert_int_equal(pare_conv2d_baked_tm(12, 2), 12);
  assert_int_equal(pare_conv2d_baked_tm(24, 1), 24);
  assert_int_equal(pare_conv2d_baked_tm(24, 2), 12);
  assert_int_equal(pare_conv2d_baked_tm(48, 4), 6);
  assert_int_equal(pare_conv2d_baked_tm(7, 2), 7);
  assert_int_equal(pare_conv2d_baked_tm(13, 2), 1);
}

/* The input quantized and dequantized on its way into the implicit GEMM
 * (a QuantizeLinear → DequantizeLinear pair absorbed by the Conv): int8
 * and uint8 ranges, a zero point, values that saturate (x in [-1, 1] at
 * scale 1/64 for int8 leaves -1 .. -128/64 inside and 127/64 .. clipped),
 * NaN and infinities,
 * with and without pooling; refused where the plan is not the implicit
 * GEMM. */
static void test_input_quant(void **state) {
  (void)state;
  static const conv_case cases[] = {
      /* n  c   h   w   m  kh kw g sh sw dh dw pt pl pb pr bias act */
      {3, 1, 28, 28, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 16, 14, 14, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1},
      {1, 6, 11, 23, 9, 3, 5, 3, 1, 1, 2, 1, 0, 2, 3, 1, 1, 2},
  };
  static const input_quant quants[] = {{1.0f / 64, 0, -128, 127}, {0.01f, 100, 0, 255}};
  static const pare_conv2d_pool pool = {PARE_CONV2D_POOL_MAX, 2, 2, 2, 2};
  test_rng r = {0x243f6a8885a308d3u};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t q = 0; q < 2; q++) {
      check_case_full(&r, &cases[i], 0, NULL, &quants[q]);
      check_case_full(&r, &cases[i], 0, &pool, &quants[q]);
    }
  /* Stride 2 takes im2col: refused. */
  pare_error err;
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 1 << 16, NULL, &buf, &err), PARE_OK);
  pare_conv2d_f32_args a = {2, 4, 6, 6,   8,    3, 3,    1,    1,   1,    1,
                            1, 1, 1, 1,   1,    6, 6,    buf,  buf, NULL, buf,
                            0, 0, 0, buf, NULL, 1, 0.5f, -128, 127, NULL, NULL};
  assert_true(pare_conv2d_f32_can_quantize_input(rt, &a, NULL));
  a.stride_h = a.stride_w = 2;
  a.oh = a.ow = 3;
  assert_false(pare_conv2d_f32_can_quantize_input(rt, &a, NULL));
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.text, "input quantization"));
  a.stride_h = a.stride_w = 1;
  a.oh = a.ow = 6;
  a.in_scale = 0; /* not a scale */
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_UNSUPPORTED);
  rt->cl->clReleaseMemObject(buf);
}

/* Bad shapes are refused with a message naming the kernel and shape. */
static void test_errors(void **state) {
  (void)state;
  pare_error err;
  cl_mem buf;
  assert_int_equal(pare_cl_buffer(rt, CL_MEM_READ_WRITE, 4096, NULL, &buf, &err), PARE_OK);
  pare_conv2d_f32_args a = {1, 3,   8,   8,    4,   3, 3, 2, 1,    1,    1, 1, 1, 1, 1,    1,   8,
                            8, buf, buf, NULL, buf, 0, 0, 0, NULL, NULL, 0, 0, 0, 0, NULL, NULL};
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "conv2d_f32"));
  assert_non_null(strstr(err.text, "x 1x3x8x8"));
  a.group = 1;
  a.oh = 7; /* not the ONNX output size */
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_INVALID_ARG);
  a.oh = 8;
  a.act = 7;
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_INVALID_ARG);
  a.act = 0;
  a.residual = buf; /* the residual may not be the output */
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "residual"));
  a.residual = NULL;
  /* An im2col plan without its scratch. */
  if (pare_conv2d_f32_scratch_bytes(rt, &a) > 0) {
    assert_int_equal(pare_launch_conv2d_f32(rt, &a, NULL, &err), PARE_ERR_INVALID_ARG);
    assert_non_null(strstr(err.text, "scratch"));
  }
  /* An empty batch enqueues nothing. */
  a.n = 0;
  cl_event ev = (cl_event)1;
  assert_int_equal(pare_launch_conv2d_f32(rt, &a, &ev, &err), PARE_OK);
  assert_null(ev);
  rt->cl->clReleaseMemObject(buf);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fixed_shapes),   cmocka_unit_test(test_random_shapes),
      cmocka_unit_test(test_errors),         cmocka_unit_test(test_pooled),
      cmocka_unit_test(test_implicit_tiles), cmocka_unit_test(test_input_quant),
      cmocka_unit_test(test_winograd),       cmocka_unit_test(test_baked),
  };
  return cmocka_run_group_tests_name("conv2d_f32", tests, test_cl_setup, test_cl_teardown);
}
