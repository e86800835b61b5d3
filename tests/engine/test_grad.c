/* The training references of engine/ref/grad.h. Every backward is checked
 * against central finite differences of a forward reference: with a random
 * projection r, L(v) = Σ r·f(v) is evaluated in double from the float
 * forward output, and dL/dv[i] from the backward (fed dy = r) must match
 * (L(v + h·e_i) - L(v - h·e_i)) / (actual step) with h = 1e-2 at random
 * coordinates, within
 *   |analytic - fd| <= 1e-2·max(|analytic|, |fd|) + 1e-4 + 1e-5·Σ|r·f(v)|,
 * the last term covering the float rounding of the forward outputs (about
 * 6e-8 relative each, divided by 2h) and the relative one the O(h²)
 * truncation error. Inputs are drawn away from kinks and ties so a step of h
 * never crosses one. The optimizers, schedules, masks, fake quantization and
 * losses are also checked against values worked out by hand. */
#include <string.h>

#include "engine/ref/grad.h"
#include "tests/test_util.h"

#define FD_H    1e-2f
#define FD_RTOL 1e-2
#define FD_ATOL 1e-4
#define FD_MAG  1e-5
#define FD_PICK 24 /* coordinates checked per tensor */

static float *vec_new(size_t n) {
  float *v = calloc(n ? n : 1, sizeof *v);
  assert_non_null(v);
  return v;
}

static float *vec_rand(test_rng *rng, size_t n, float lo, float hi) {
  float *v = vec_new(n);
  test_fill(rng, v, n, lo, hi);
  return v;
}

/* |got - want| <= tol, compared in double (cmocka's float version rounds
 * its arguments to float first). */
#define assert_near(got, want, tol) assert_near_at((double)(got), (double)(want), (tol), __LINE__)

static void assert_near_at(double got, double want, double tol, int line) {
  if (!(fabs(got - want) <= tol))
    fail_msg("line %d: %.10g, want %.10g (tolerance %.3g)", line, got, want, tol);
}

/* Frees a NULL-terminated list of buffers. */
static void free_all(void *first, ...) {
  va_list ap;
  va_start(ap, first);
  for (void *q = first; q; q = va_arg(ap, void *)) free(q);
  va_end(ap);
}

/* Σ|r·y| of the latest projection, for the rounding term of the tolerance. */
static double g_mag;

static double project(const float *y, const float *r, size_t n) {
  double s = 0.0, mag = 0.0;
  for (size_t i = 0; i < n; i++) {
    s += (double)r[i] * (double)y[i];
    mag += fabs((double)r[i] * (double)y[i]);
  }
  g_mag = mag;
  return s;
}

static size_t numel(int rank, const int64_t *dims) {
  size_t n = 1;
  for (int i = 0; i < rank; i++) n *= (size_t)dims[i];
  return n;
}

/* Copies a case's spatial sizes into xd[2..] and its strides, dilations and
 * pads into w; returns the spatial size. */
static size_t set_window(pare_ref_window *w, int ns, const int64_t *in, const int64_t *s,
                         const int64_t *d, const int64_t *pads, int64_t *xd) {
  size_t size = 1;
  for (int i = 0; i < ns; i++) {
    xd[2 + i] = in[i];
    w->strides[i] = s[i];
    w->dilations[i] = d[i];
    w->pads[i] = pads[i];
    w->pads[ns + i] = pads[ns + i];
    size *= (size_t)in[i];
  }
  return size;
}

typedef double (*objective)(void *ctx);

/* Compares grad[n] with central differences of f in v at up to FD_PICK
 * coordinates (all of them when n is small). */
static void check_fd(objective f, void *ctx, float *v, const float *grad, size_t n, test_rng *rng,
                     const char *what) {
  size_t picks = n < FD_PICK ? n : FD_PICK;
  for (size_t s = 0; s < picks; s++) {
    size_t i = n <= FD_PICK ? s : test_rng_below(rng, n);
    float x0 = v[i], xp = x0 + FD_H, xm = x0 - FD_H;
    v[i] = xp;
    double lp = f(ctx), mag = g_mag;
    v[i] = xm;
    double lm = f(ctx);
    v[i] = x0;
    if (g_mag > mag) mag = g_mag;
    double fd = (lp - lm) / ((double)xp - (double)xm), an = (double)grad[i];
    double tol = FD_RTOL * fmax(fabs(fd), fabs(an)) + FD_ATOL + FD_MAG * mag;
    if (!(fabs(fd - an) <= tol))
      fail_msg("%s: d/dv[%zu] is %.7g, finite difference %.7g (tolerance %.3g)", what, i, an, fd,
               tol);
  }
}

/* ---- Conv ---- */

typedef struct conv_ctx {
  pare_ref_conv_params p;
  int64_t xd[5], wd[5];
  float *x, *w, *b, *y, *r;
  size_t ny;
} conv_ctx;

static double conv_obj(void *vc) {
  conv_ctx *c = vc;
  assert_int_equal(pare_ref_conv_f32(&c->p, c->x, c->xd, c->w, c->wd, c->b, c->y, NULL), 0);
  return project(c->y, c->r, c->ny);
}

typedef struct conv_case {
  int ns;
  int64_t n, c, m, group, in[3], k[3], s[3], d[3], pads[6];
  pare_ref_auto_pad auto_pad;
} conv_case;

static void test_conv_backward(void **state) {
  (void)state;
  const conv_case cases[] = {
      {2, 2, 3, 4, 1, {7, 5}, {3, 2}, {2, 1}, {1, 2}, {1, 0, 2, 1}, 0},
      {2, 1, 4, 4, 4, {6, 6}, {3, 3}, {2, 2}, {2, 2}, {1, 1, 1, 1}, 0}, /* depthwise */
      {2, 2, 4, 6, 2, {5, 7}, {1, 3}, {1, 3}, {1, 1}, {0, 2, 0, 1}, 0},
      {1, 3, 2, 1, 1, {13}, {4}, {3}, {2}, {2, 0}, 0},
      {3, 1, 2, 3, 1, {4, 3, 5}, {2, 2, 3}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1, 0, 1, 2}, 0},
      {2, 2, 3, 2, 1, {5, 4}, {3, 2}, {2, 2}, {1, 1}, {0}, PARE_REF_AUTO_PAD_SAME_LOWER},
      {2, 1, 2, 2, 1, {5, 4}, {3, 2}, {3, 1}, {1, 1}, {0}, PARE_REF_AUTO_PAD_SAME_UPPER},
      {2, 1, 1, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 0},
  };
  test_rng rng = {0x1234};
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    const conv_case *q = &cases[t];
    conv_ctx c;
    pare_ref_conv_params_init(&c.p, q->ns);
    c.p.group = q->group;
    c.p.win.auto_pad = q->auto_pad;
    c.xd[0] = q->n;
    c.xd[1] = q->c;
    c.wd[0] = q->m;
    c.wd[1] = q->c / q->group;
    for (int i = 0; i < q->ns; i++) c.wd[2 + i] = q->k[i];
    size_t nx =
        (size_t)(q->n * q->c) * set_window(&c.p.win, q->ns, q->in, q->s, q->d, q->pads, c.xd);
    size_t nw = numel(2 + q->ns, c.wd);
    int64_t yd[5];
    assert_int_equal(pare_ref_conv_shape(&c.p, c.xd, c.wd, yd), PARE_REF_OK);
    c.ny = numel(2 + q->ns, yd);
    c.x = vec_rand(&rng, nx, -1, 1);
    c.w = vec_rand(&rng, nw, -1, 1);
    c.b = vec_rand(&rng, (size_t)q->m, -1, 1);
    c.r = vec_rand(&rng, c.ny, -1, 1);
    c.y = vec_new(c.ny);
    float *dx = vec_new(nx), *dw = vec_new(nw), *db = vec_new((size_t)q->m);
    assert_int_equal(pare_ref_conv_backward_f32(&c.p, c.x, c.xd, c.w, c.wd, c.r, dx, dw, db), 0);
    check_fd(conv_obj, &c, c.x, dx, nx, &rng, "conv dx");
    check_fd(conv_obj, &c, c.w, dw, nw, &rng, "conv dw");
    check_fd(conv_obj, &c, c.b, db, (size_t)q->m, &rng, "conv db");
    /* Only dw wanted: x is still needed, w is not. */
    float *dw2 = vec_new(nw);
    assert_int_equal(pare_ref_conv_backward_f32(&c.p, c.x, c.xd, NULL, c.wd, c.r, NULL, dw2, NULL),
                     0);
    assert_memory_equal(dw, dw2, nw * sizeof *dw);
    free_all(dw2, dx, dw, db, c.x, c.w, c.b, c.r, c.y, NULL);
  }
  /* Invalid: C not a multiple of group, and dx without w. */
  pare_ref_conv_params p;
  pare_ref_conv_params_init(&p, 2);
  p.group = 2;
  int64_t xd[] = {1, 3, 4, 4}, wd[] = {2, 1, 3, 3};
  float buf[64] = {0};
  assert_int_equal(pare_ref_conv_backward_f32(&p, buf, xd, buf, wd, buf, buf, NULL, NULL),
                   PARE_REF_EINVAL);
  p.group = 1;
  int64_t wd1[] = {2, 3, 3, 3};
  assert_int_equal(pare_ref_conv_backward_f32(&p, buf, xd, NULL, wd1, buf, buf, NULL, NULL),
                   PARE_REF_EINVAL);
}

/* ---- Gemm and MatMul ---- */

typedef struct gemm_ctx {
  int ta, tb;
  size_t m, n, k;
  float alpha, beta;
  int c_rank;
  int64_t c_dims[2];
  float *a, *b, *c, *y, *r, *zeros;
} gemm_ctx;

static double gemm_obj(void *vc) {
  gemm_ctx *g = vc;
  int64_t yd[] = {(int64_t)g->m, (int64_t)g->n};
  /* Broadcast C to [m, n] by adding it to zeros, then run the reference. */
  assert_int_equal(pare_ref_broadcast_binop_f32(PARE_REF_ADD, g->zeros, 2, yd, g->c, g->c_rank,
                                                g->c_dims, g->y, NULL, NULL),
                   0);
  pare_ref_gemm_f32(g->ta, g->tb, g->m, g->n, g->k, g->alpha, g->a, g->ta ? g->m : g->k, g->b,
                    g->tb ? g->k : g->n, g->beta, g->y, g->n, NULL);
  return project(g->y, g->r, g->m * g->n);
}

static void test_gemm_backward(void **state) {
  (void)state;
  test_rng rng = {0x77};
  const size_t dims[][3] = {{3, 5, 4}, {1, 7, 2}, {6, 1, 3}};
  for (size_t s = 0; s < 3; s++) {
    for (int tr = 0; tr < 4; tr++) {
      for (int cs = 0; cs < 5; cs++) {
        gemm_ctx g = {tr & 1, tr >> 1, dims[s][0], dims[s][1], dims[s][2], 0.7f, -1.3f, 0,
                      {0},    NULL,    NULL,       NULL,       NULL,       NULL, NULL};
        /* C as [m, n], [n], [m, 1], [1] and a scalar. */
        const int ranks[] = {2, 1, 2, 1, 0};
        const int64_t shapes[][2] = {
            {(int64_t)g.m, (int64_t)g.n}, {(int64_t)g.n, 0}, {(int64_t)g.m, 1}, {1, 0}, {0, 0}};
        g.c_rank = ranks[cs];
        memcpy(g.c_dims, shapes[cs], sizeof g.c_dims);
        size_t nc = 1;
        for (int i = 0; i < g.c_rank; i++) nc *= (size_t)g.c_dims[i];
        size_t na = g.m * g.k, nb = g.k * g.n, ny = g.m * g.n;
        g.a = vec_rand(&rng, na, -1, 1);
        g.b = vec_rand(&rng, nb, -1, 1);
        g.c = vec_rand(&rng, nc, -1, 1);
        g.r = vec_rand(&rng, ny, -1, 1);
        g.y = vec_new(ny);
        g.zeros = vec_new(ny);
        float *da = vec_new(na), *db = vec_new(nb), *dc = vec_new(nc);
        assert_int_equal(pare_ref_gemm_backward_f32(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.beta, g.a,
                                                    g.b, g.r, da, db, g.c_rank, g.c_dims, dc),
                         0);
        check_fd(gemm_obj, &g, g.a, da, na, &rng, "gemm dA");
        check_fd(gemm_obj, &g, g.b, db, nb, &rng, "gemm dB");
        check_fd(gemm_obj, &g, g.c, dc, nc, &rng, "gemm dC");
        free_all(da, db, dc, g.a, g.b, g.c, g.r, g.y, g.zeros, NULL);
      }
    }
  }
  /* MatMul 2-D is Gemm without transposes, alpha 1 and no C. */
  float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {1, -1, 2, 0, -2, 1}, dy[4] = {1, 0, 0, 1};
  float da[6], db[6];
  assert_int_equal(pare_ref_matmul_backward_f32(2, 2, 3, a, b, dy, da, db), 0);
  /* dA = dy·Bᵀ = Bᵀ, dB = Aᵀ·dy = Aᵀ for dy = I. */
  const float want_da[6] = {1, 2, -2, -1, 0, 1}, want_db[6] = {1, 4, 2, 5, 3, 6};
  test_assert_close(da, want_da, 6, 0, "matmul dA");
  test_assert_close(db, want_db, 6, 0, "matmul dB");
  int64_t bad[] = {3, 3};
  assert_int_equal(
      pare_ref_gemm_backward_f32(0, 0, 2, 2, 3, 1, 1, a, b, dy, NULL, NULL, 2, bad, da),
      PARE_REF_EINVAL);
}

/* ---- Activations ---- */

typedef struct act_ctx {
  pare_ref_act act;
  float alpha, beta;
  float *x, *y, *r;
  size_t n;
} act_ctx;

static double act_obj(void *vc) {
  act_ctx *a = vc;
  pare_ref_act_f32(a->act, a->x, a->y, a->n, a->alpha, a->beta);
  return project(a->y, a->r, a->n);
}

static void test_act_backward(void **state) {
  (void)state;
  /* Each act with its parameters, sampling range and up to 2 kinks. */
  const struct {
    pare_ref_act act;
    float alpha, beta, lo, hi, kink[2];
    int nkinks;
  } cases[] = {
      {PARE_REF_ACT_NONE, 0, 0, -3, 3, {0}, 0},
      {PARE_REF_ACT_RELU, 0, 0, -3, 3, {0}, 1},
      {PARE_REF_ACT_RELU6, 0, 0, -2, 8, {0, 6}, 2},
      {PARE_REF_ACT_LEAKY_RELU, 0.1f, 0, -3, 3, {0}, 1},
      {PARE_REF_ACT_SIGMOID, 0, 0, -6, 6, {0}, 0},
      {PARE_REF_ACT_TANH, 0, 0, -3, 3, {0}, 0},
      {PARE_REF_ACT_HARD_SIGMOID, 0.2f, 0.5f, -4, 4, {-2.5f, 2.5f}, 2},
      {PARE_REF_ACT_HARD_SWISH, 0, 0, -5, 5, {-3, 3}, 2},
      {PARE_REF_ACT_ELU, 1.3f, 0, -3, 3, {0}, 1},
      {PARE_REF_ACT_SELU, 1.6732632f, 1.0507010f, -3, 3, {0}, 1},
      {PARE_REF_ACT_CLIP, -0.7f, 1.9f, -2, 3, {-0.7f, 1.9f}, 2},
      {PARE_REF_ACT_EXP, 0, 0, -2, 2, {0}, 0},
      {PARE_REF_ACT_SQRT, 0, 0, 0.3f, 4, {0}, 0},
      {PARE_REF_ACT_NEG, 0, 0, -3, 3, {0}, 0},
      {PARE_REF_ACT_RECIPROCAL, 0, 0, 0.5f, 3, {0}, 0},
      {PARE_REF_ACT_SHRINK, 0.4f, 0.1f, -2, 2, {-0.4f, 0.4f}, 2},
  };
  test_rng rng = {0xac7};
  enum { N = 48 };
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    float x[N], y[N], r[N], dx[N], dx_y[N];
    for (int i = 0; i < N; i++) {
      /* Redraw until 5h away from every kink. */
      int near;
      do {
        x[i] = test_rng_uniform(&rng, cases[t].lo, cases[t].hi);
        near = 0;
        for (int k = 0; k < cases[t].nkinks; k++)
          if (fabsf(x[i] - cases[t].kink[k]) < 5 * FD_H) near = 1;
      } while (near);
      if (cases[t].act == PARE_REF_ACT_RECIPROCAL && i % 2) x[i] = -x[i];
    }
    test_fill(&rng, r, N, -1, 1);
    act_ctx a = {cases[t].act, cases[t].alpha, cases[t].beta, x, y, r, N};
    assert_int_equal(pare_ref_act_backward_f32(a.act, x, NULL, r, dx, N, a.alpha, a.beta), 0);
    check_fd(act_obj, &a, x, dx, N, &rng, "act dx");
    /* With the forward output given the result barely moves. */
    pare_ref_act_f32(a.act, x, y, N, a.alpha, a.beta);
    assert_int_equal(pare_ref_act_backward_f32(a.act, x, y, r, dx_y, N, a.alpha, a.beta), 0);
    test_assert_close(dx_y, dx, N, 1e-5, "act dx from y");
  }
  /* The kink conventions. */
  float x0[] = {0.0f, 6.0f, -0.7f}, g[] = {1, 1, 1}, d[3];
  pare_ref_act_backward_f32(PARE_REF_ACT_RELU, x0, NULL, g, d, 1, 0, 0);
  assert_true(d[0] == 0.0f);
  pare_ref_act_backward_f32(PARE_REF_ACT_LEAKY_RELU, x0, NULL, g, d, 1, 0.1f, 0);
  assert_true(d[0] == 1.0f);
  pare_ref_act_backward_f32(PARE_REF_ACT_RELU6, x0, NULL, g, d, 2, 0, 0);
  assert_true(d[0] == 0.0f && d[1] == 0.0f);
  pare_ref_act_backward_f32(PARE_REF_ACT_CLIP, x0 + 2, NULL, g, d, 1, -0.7f, 1.0f);
  assert_true(d[0] == 1.0f);
  assert_int_equal(pare_ref_act_backward_f32((pare_ref_act)99, x0, NULL, g, d, 1, 0, 0),
                   PARE_REF_EINVAL);
}

/* ---- Pooling ---- */

typedef struct pool_ctx {
  pare_ref_pool_params p;
  int64_t xd[5];
  int is_max, global, rank;
  float *x, *y, *r;
  size_t ny;
} pool_ctx;

static double pool_obj(void *vc) {
  pool_ctx *c = vc;
  int rc = c->global   ? pare_ref_global_avgpool_f32(c->x, c->rank, c->xd, c->y)
           : c->is_max ? pare_ref_maxpool_f32(&c->p, c->x, c->xd, c->y, NULL)
                       : pare_ref_avgpool_f32(&c->p, c->x, c->xd, c->y, NULL);
  assert_int_equal(rc, 0);
  return project(c->y, c->r, c->ny);
}

typedef struct pool_case {
  int ns, ceil_mode;
  int64_t n, c, in[3], k[3], s[3], d[3], pads[6];
  pare_ref_auto_pad auto_pad;
} pool_case;

/* Distinct values 0.05 apart in random order: no ties, and a step of h
 * cannot reorder them. */
static void fill_distinct(test_rng *rng, float *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)i * 0.05f - (float)n * 0.025f;
  for (size_t i = n; i > 1; i--) {
    size_t j = test_rng_below(rng, i);
    float t = x[i - 1];
    x[i - 1] = x[j];
    x[j] = t;
  }
}

static void test_pool_backward(void **state) {
  (void)state;
  const pool_case cases[] = {
      {2, 1, 2, 3, {7, 6}, {3, 2}, {2, 2}, {1, 1}, {1, 0, 1, 1}, 0},
      {2, 0, 1, 2, {9, 8}, {2, 3}, {1, 2}, {2, 1}, {0, 1, 0, 1}, 0},
      {2, 1, 1, 1, {5, 5}, {2, 2}, {2, 2}, {2, 1}, {1, 0, 0, 1}, 0},
      {1, 1, 3, 1, {11}, {3}, {2}, {1}, {1, 1}, 0},
      {3, 1, 1, 2, {3, 4, 5}, {2, 2, 2}, {2, 2, 2}, {1, 1, 1}, {0}, 0},
      {2, 0, 1, 2, {5, 7}, {3, 3}, {2, 3}, {1, 1}, {0}, PARE_REF_AUTO_PAD_SAME_UPPER},
      {2, 0, 1, 1, {1, 1}, {1, 1}, {1, 1}, {1, 1}, {0}, 0},
  };
  test_rng rng = {0x9001};
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    const pool_case *q = &cases[t];
    for (int mode = 0; mode < 3; mode++) { /* max, avg, avg with count_include_pad */
      pool_ctx c = {.is_max = mode == 0};
      pare_ref_pool_params_init(&c.p, q->ns);
      c.p.ceil_mode = q->ceil_mode;
      c.p.count_include_pad = mode == 2;
      c.p.win.auto_pad = q->auto_pad;
      c.xd[0] = q->n;
      c.xd[1] = q->c;
      for (int i = 0; i < q->ns; i++) c.p.win.kernel[i] = q->k[i];
      size_t nx =
          (size_t)(q->n * q->c) * set_window(&c.p.win, q->ns, q->in, q->s, q->d, q->pads, c.xd);
      int64_t yd[5];
      assert_int_equal(pare_ref_pool_shape(&c.p, c.xd, yd), 0);
      c.ny = numel(2 + q->ns, yd);
      c.x = vec_new(nx);
      if (c.is_max)
        fill_distinct(&rng, c.x, nx);
      else
        test_fill(&rng, c.x, nx, -1, 1);
      c.r = vec_rand(&rng, c.ny, -1, 1);
      c.y = vec_new(c.ny);
      float *dx = vec_new(nx);
      int rc = c.is_max ? pare_ref_maxpool_backward_f32(&c.p, c.x, c.xd, c.r, dx)
                        : pare_ref_avgpool_backward_f32(&c.p, c.xd, c.r, dx);
      assert_int_equal(rc, 0);
      check_fd(pool_obj, &c, c.x, dx, nx, &rng, c.is_max ? "maxpool dx" : "avgpool dx");
      free_all(dx, c.x, c.r, c.y, NULL);
    }
  }
  /* Ties go to the first maximum in scan order, as the forward picks it. */
  pare_ref_pool_params p;
  pare_ref_pool_params_init(&p, 2);
  p.win.kernel[0] = p.win.kernel[1] = 2;
  int64_t xd[] = {1, 1, 2, 2};
  float x[] = {1, 3, 3, 2}, dy[] = {5}, dx[4];
  assert_int_equal(pare_ref_maxpool_backward_f32(&p, x, xd, dy, dx), 0);
  const float want[] = {0, 5, 0, 0};
  test_assert_close(dx, want, 4, 0, "maxpool tie");
  p.win.kernel[0] = 3;
  assert_int_equal(pare_ref_maxpool_backward_f32(&p, x, xd, dy, dx), PARE_REF_EINVAL);
}

static void test_global_avgpool_backward(void **state) {
  (void)state;
  test_rng rng = {0x61};
  const int64_t shapes[][4] = {{2, 3, 4, 5}, {1, 2, 7, 1}, {3, 4, 1, 1}};
  const int ranks[] = {4, 3, 2};
  for (int t = 0; t < 3; t++) {
    pool_ctx c = {.global = 1, .rank = ranks[t]};
    memcpy(c.xd, shapes[t], sizeof shapes[t]);
    size_t nx = 1;
    for (int i = 0; i < c.rank; i++) nx *= (size_t)c.xd[i];
    c.ny = (size_t)(c.xd[0] * c.xd[1]);
    c.x = vec_rand(&rng, nx, -1, 1);
    c.r = vec_rand(&rng, c.ny, -1, 1);
    c.y = vec_new(c.ny);
    float *dx = vec_new(nx);
    assert_int_equal(pare_ref_global_avgpool_backward_f32(c.rank, c.xd, c.r, dx), 0);
    check_fd(pool_obj, &c, c.x, dx, nx, &rng, "global avgpool dx");
    free_all(dx, c.x, c.r, c.y, NULL);
  }
}

/* ---- Broadcasting binary ops ---- */

typedef struct binop_ctx {
  pare_ref_binop op;
  int ar, br;
  const int64_t *ad, *bd;
  float *a, *b, *y, *r;
  size_t ny;
} binop_ctx;

static double binop_obj(void *vc) {
  binop_ctx *c = vc;
  assert_int_equal(
      pare_ref_broadcast_binop_f32(c->op, c->a, c->ar, c->ad, c->b, c->br, c->bd, c->y, NULL, NULL),
      0);
  return project(c->y, c->r, c->ny);
}

static void test_binop_backward(void **state) {
  (void)state;
  const struct {
    int ar, br;
    int64_t ad[3], bd[3];
  } cases[] = {
      {3, 2, {2, 3, 4}, {3, 1}}, {1, 2, {1}, {5, 2}},    {3, 3, {4, 1, 3}, {1, 5, 1}},
      {0, 1, {0}, {3}},          {2, 2, {2, 3}, {2, 3}}, {2, 3, {7, 1}, {2, 1, 5}},
  };
  const pare_ref_binop ops[] = {PARE_REF_ADD, PARE_REF_SUB, PARE_REF_MUL, PARE_REF_DIV};
  test_rng rng = {0xb1};
  for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
    for (int o = 0; o < 4; o++) {
      binop_ctx c = {
          .op = ops[o], .ar = cases[t].ar, .br = cases[t].br, .ad = cases[t].ad, .bd = cases[t].bd};
      int yr;
      int64_t yd[PARE_REF_MAX_RANK];
      assert_int_equal(pare_ref_broadcast_shape(c.ar, c.ad, c.br, c.bd, &yr, yd), 0);
      size_t na = numel(c.ar, c.ad), nb = numel(c.br, c.bd);
      c.ny = numel(yr, yd);
      c.a = vec_rand(&rng, na, -1, 1);
      c.b = vec_rand(&rng, nb, 0.5f, 2); /* away from 0 for DIV */
      for (size_t i = 0; i < nb; i += 2) c.b[i] = -c.b[i];
      c.r = vec_rand(&rng, c.ny, -1, 1);
      c.y = vec_new(c.ny);
      float *da = vec_new(na), *db = vec_new(nb);
      assert_int_equal(pare_ref_broadcast_binop_backward_f32(c.op, c.a, c.ar, c.ad, c.b, c.br, c.bd,
                                                             c.r, da, db),
                       0);
      check_fd(binop_obj, &c, c.a, da, na, &rng, "binop da");
      check_fd(binop_obj, &c, c.b, db, nb, &rng, "binop db");
      free_all(da, db, c.a, c.b, c.r, c.y, NULL);
    }
  }
  float v[4] = {1, 2, 3, 4}, g[4];
  int64_t d2[] = {2}, d3[] = {3};
  assert_int_equal(pare_ref_broadcast_binop_backward_f32(PARE_REF_POW, v, 1, d2, v, 1, d2, v, g, g),
                   PARE_REF_EINVAL);
  assert_int_equal(
      pare_ref_broadcast_binop_backward_f32(PARE_REF_ADD, v, 1, d2, v, 1, d3, v, g, NULL),
      PARE_REF_EINVAL);
}

/* ---- BatchNormalization (training) ---- */

typedef struct bn_ctx {
  int rank;
  const int64_t *dims;
  float *x, *scale, *bias, *y, *r;
  size_t n;
} bn_ctx;

static double bn_obj(void *vc) {
  bn_ctx *c = vc;
  assert_int_equal(pare_ref_batchnorm_train_f32(c->x, c->rank, c->dims, c->scale, c->bias, 1e-5f,
                                                0.9f, NULL, NULL, c->y, NULL, NULL),
                   0);
  return project(c->y, c->r, c->n);
}

static void test_batchnorm_train(void **state) {
  (void)state;
  const int64_t shapes[][4] = {{3, 4, 5, 1}, {2, 3, 4, 2}, {5, 2, 1, 1}, {1, 2, 2, 1}};
  const int ranks[] = {3, 4, 2, 4};
  test_rng rng = {0xbeef};
  for (int t = 0; t < 4; t++) {
    bn_ctx c = {.rank = ranks[t], .dims = shapes[t]};
    int64_t ch = c.dims[1];
    c.n = numel(c.rank, c.dims);
    size_t per = c.n / (size_t)ch;
    c.x = vec_rand(&rng, c.n, -2, 3);
    c.scale = vec_rand(&rng, (size_t)ch, 0.5f, 1.5f);
    c.bias = vec_rand(&rng, (size_t)ch, -1, 1);
    c.r = vec_rand(&rng, c.n, -1, 1);
    c.y = vec_new(c.n);
    float mean[4], inv_std[4], rm[4], rv[4], want_y[64];
    for (int i = 0; i < 4; i++) rm[i] = rv[i] = 1.0f + (float)i;
    assert_int_equal(pare_ref_batchnorm_train_f32(c.x, c.rank, c.dims, c.scale, c.bias, 1e-5f, 0.9f,
                                                  rm, rv, c.y, mean, inv_std),
                     0);
    /* Statistics by hand, then the inference op with the biased variance
     * must give the same y. */
    float var[4];
    size_t inner = per / (size_t)c.dims[0];
    for (int64_t k = 0; k < ch; k++) {
      double s = 0, sq = 0;
      for (size_t e = 0; e < c.n; e++) s += (int64_t)(e / inner % (size_t)ch) == k ? c.x[e] : 0;
      double mu = s / (double)per;
      for (size_t e = 0; e < c.n; e++)
        sq += (int64_t)(e / inner % (size_t)ch) == k ? (c.x[e] - mu) * (c.x[e] - mu) : 0;
      var[k] = (float)(sq / (double)per);
      assert_near(mean[k], mu, 1e-6);
      assert_near(inv_std[k], 1.0 / sqrt(sq / (double)per + 1e-5), 1e-5 * inv_std[k]);
      assert_near(rm[k], (1.0f + (float)k) * 0.9 + mu * 0.1, 1e-6);
      double unbiased = per > 1 ? sq / (double)(per - 1) : 0.0;
      assert_near(rv[k], (1.0f + (float)k) * 0.9 + unbiased * 0.1, 1e-6);
    }
    assert_int_equal(
        pare_ref_batchnorm_f32(c.x, c.rank, c.dims, c.scale, c.bias, mean, var, 1e-5f, want_y), 0);
    test_assert_close(c.y, want_y, c.n, 1e-5, "bn train y");
    float *dx = vec_new(c.n), dscale[4], dbias[4];
    assert_int_equal(pare_ref_batchnorm_backward_f32(c.x, c.rank, c.dims, c.scale, mean, inv_std,
                                                     c.r, dx, dscale, dbias),
                     0);
    check_fd(bn_obj, &c, c.x, dx, c.n, &rng, "bn dx");
    check_fd(bn_obj, &c, c.scale, dscale, (size_t)ch, &rng, "bn dscale");
    check_fd(bn_obj, &c, c.bias, dbias, (size_t)ch, &rng, "bn dbias");
    free_all(dx, c.x, c.scale, c.bias, c.r, c.y, NULL);
  }
  int64_t empty[] = {0, 2};
  float z[2] = {0};
  assert_int_equal(
      pare_ref_batchnorm_train_f32(z, 2, empty, z, z, 1e-5f, 0.9f, NULL, NULL, z, NULL, NULL),
      PARE_REF_EINVAL);
}

/* ---- Losses ---- */

typedef struct loss_ctx {
  int which; /* 0 CE, 1 KL, 2 combined */
  float *t, *s, temp, alpha;
  const int64_t *labels;
  int64_t n, k;
} loss_ctx;

static double loss_obj(void *vc) {
  loss_ctx *c = vc;
  float l = 0;
  int rc = c->which == 0   ? pare_ref_softmax_xent_f32(c->s, c->labels, c->n, c->k, &l, NULL)
           : c->which == 1 ? pare_ref_distill_kl_f32(c->t, c->s, c->n, c->k, c->temp, &l, NULL)
                           : pare_ref_distill_loss_f32(c->t, c->s, c->labels, c->n, c->k, c->temp,
                                                       c->alpha, &l, NULL);
  assert_int_equal(rc, 0);
  g_mag = fabs((double)l);
  return (double)l;
}

static void test_losses(void **state) {
  (void)state;
  /* CE: row 0 [0, 0] with label 1 gives ln 2; row 1 [ln 3, 0] with label 0
   * has softmax (3/4, 1/4) and gives ln(4/3). */
  float logits[] = {0, 0, (float)log(3.0), 0}, g[4], l;
  int64_t labels[] = {1, 0};
  assert_int_equal(pare_ref_softmax_xent_f32(logits, labels, 2, 2, &l, g), 0);
  assert_near(l, (log(2.0) + log(4.0 / 3.0)) / 2, 1e-7);
  const float want_g[] = {0.25f, -0.25f, -0.125f, 0.125f};
  test_assert_close(g, want_g, 4, 1e-7, "xent grad");
  /* Large logits stay finite. */
  float big[] = {1000, 0};
  int64_t one[] = {1};
  assert_int_equal(pare_ref_softmax_xent_f32(big, one, 1, 2, &l, g), 0);
  assert_near(l, 1000, 1e-3);
  assert_near(g[0], 1, 0);
  assert_near(g[1], -1, 0);
  int64_t bad[] = {2};
  assert_int_equal(pare_ref_softmax_xent_f32(big, bad, 1, 2, &l, g), PARE_REF_ERANGE);
  /* KL at T = 2: teacher [2 ln 3, 0] / 2 gives p = (3/4, 1/4), student 0s
   * q = (1/2, 1/2); loss = 4·(3/4 ln 3/2 + 1/4 ln 1/2), grad = 2·(q - p). */
  float t[] = {(float)(2 * log(3.0)), 0}, s[] = {0, 0};
  assert_int_equal(pare_ref_distill_kl_f32(t, s, 1, 2, 2.0f, &l, g), 0);
  assert_near(l, 4 * (0.75 * log(1.5) + 0.25 * log(0.5)), 1e-6);
  assert_near(g[0], -0.5, 1e-6);
  assert_near(g[1], 0.5, 1e-6);
  assert_int_equal(pare_ref_distill_kl_f32(t, t, 1, 2, 2.0f, &l, g), 0);
  assert_near(l, 0, 1e-7);
  assert_near(g[0], 0, 1e-7);
  assert_int_equal(pare_ref_distill_kl_f32(t, s, 1, 2, 0.0f, &l, g), PARE_REF_EINVAL);
  /* Random cases: the combined loss is the weighted sum, and every gradient
   * matches finite differences. */
  test_rng rng = {0x1055};
  enum { N = 3, K = 5 };
  float tt[N * K], ss[N * K], gc[N * K], gk[N * K], gm[N * K], lc, lk, lm;
  int64_t lab[N] = {4, 0, 2};
  test_fill(&rng, tt, N * K, -3, 3);
  test_fill(&rng, ss, N * K, -3, 3);
  assert_int_equal(pare_ref_softmax_xent_f32(ss, lab, N, K, &lc, gc), 0);
  assert_int_equal(pare_ref_distill_kl_f32(tt, ss, N, K, 3.0f, &lk, gk), 0);
  assert_int_equal(pare_ref_distill_loss_f32(tt, ss, lab, N, K, 3.0f, 0.4f, &lm, gm), 0);
  assert_near(lm, 0.4 * lc + 0.6 * lk, 1e-6);
  for (int i = 0; i < N * K; i++) assert_near(gm[i], 0.4 * gc[i] + 0.6 * gk[i], 1e-7);
  float *grads[] = {gc, gk, gm};
  for (int w = 0; w < 3; w++) {
    loss_ctx c = {w, tt, ss, 3.0f, 0.4f, lab, N, K};
    check_fd(loss_obj, &c, ss, grads[w], N * K, &rng, "loss dstudent");
  }
}

/* ---- Optimizers, schedules, masks ---- */

static void test_sgd(void **state) {
  (void)state;
  pare_ref_sgd_params p;
  pare_ref_sgd_params_init(&p, 0.1f);
  p.momentum = 0.9f;
  p.weight_decay = 0.01f;
  float w[] = {1, -2}, v[] = {0, 0}, g1[] = {0.5f, 0.25f}, g2[] = {0.1f, -0.3f};
  /* d = g + 0.01·w = (0.51, 0.23), v = d, w -= 0.1·v. */
  assert_int_equal(pare_ref_sgd_step_f32(&p, w, g1, v, 2, NULL), 0);
  assert_near(w[0], 0.949, 1e-6);
  assert_near(w[1], -2.023, 1e-6);
  /* d = (0.10949, -0.32023), v = 0.9·(0.51, 0.23) + d = (0.56849, -0.11323). */
  assert_int_equal(pare_ref_sgd_step_f32(&p, w, g2, v, 2, NULL), 0);
  assert_near(v[0], 0.56849, 1e-6);
  assert_near(v[1], -0.11323, 1e-6);
  assert_near(w[0], 0.892151, 1e-6);
  assert_near(w[1], -2.011677, 1e-6);
  /* Nesterov's first step moves by lr·(d + 0.9·d). */
  p.nesterov = 1;
  float wn[] = {1, -2}, vn[] = {0, 0};
  assert_int_equal(pare_ref_sgd_step_f32(&p, wn, g1, vn, 2, NULL), 0);
  assert_near(wn[0], 1 - 0.1 * 1.9 * 0.51, 1e-6);
  assert_near(wn[1], -2 - 0.1 * 1.9 * 0.23, 1e-6);
  /* Plain SGD needs no velocity; a mask zeroes the pruned weight. */
  pare_ref_sgd_params_init(&p, 0.5f);
  float wp[] = {1, -2, 3}, gp[] = {1, 1, 1}, vbuf[] = {7, 7, 7};
  const uint8_t mask[] = {1, 0, 1};
  assert_int_equal(pare_ref_sgd_step_f32(&p, wp, gp, NULL, 3, mask), 0);
  const float want[] = {0.5f, 0, 2.5f};
  test_assert_close(wp, want, 3, 0, "sgd mask");
  p.momentum = 0.5f;
  assert_int_equal(pare_ref_sgd_step_f32(&p, wp, gp, vbuf, 3, mask), 0);
  assert_true(wp[1] == 0.0f && vbuf[1] == 0.0f && vbuf[0] == 4.5f);
  p.momentum = 0;
  p.nesterov = 1;
  assert_int_equal(pare_ref_sgd_step_f32(&p, wp, gp, NULL, 3, NULL), PARE_REF_EINVAL);
  float wm[] = {1, 2};
  const uint8_t m2[] = {0, 1};
  pare_ref_apply_mask_f32(wm, m2, 2);
  assert_true(wm[0] == 0.0f && wm[1] == 2.0f);
}

static void test_adam(void **state) {
  (void)state;
  pare_ref_adam_params p;
  pare_ref_adam_params_init(&p, 0.1f);
  /* Step 1 bias-corrects m and v to g and g²: w moves by lr·g/(|g| + eps). */
  float w[] = {1, -2}, m[2] = {0}, v[2] = {0}, g1[] = {0.5f, -0.25f}, g2[] = {0.1f, 0.3f};
  assert_int_equal(pare_ref_adam_step_f32(&p, w, g1, m, v, 2, 1, NULL), 0);
  assert_near(w[0], 0.9, 1e-6);
  assert_near(w[1], -1.9, 1e-6);
  /* Step 2 by hand: m = 0.9·0.05 + 0.1·0.1 = 0.055, v = 0.999·0.00025 +
   * 0.001·0.01 = 0.00025975; w -= 0.1·(m/0.19)/(sqrt(v/0.001999) + eps).
   * The betas are floats, and 1 - 0.999f is 1.3e-5 off 0.001 relatively,
   * so v is compared to 1e-8 and w to 1e-5. */
  assert_int_equal(pare_ref_adam_step_f32(&p, w, g2, m, v, 2, 2, NULL), 0);
  assert_near(m[0], 0.055, 1e-7);
  assert_near(v[0], 0.00025975, 1e-8);
  assert_near(w[0], 0.9 - 0.1 * (0.055 / 0.19) / sqrt(0.00025975 / 0.001999), 1e-5);
  /* And exactly, with the float betas. */
  double b1 = 0.9f, b2 = 0.999f, m1 = (1 - b1) * 0.5, v1 = (1 - b2) * 0.25;
  double m2 = b1 * m1 + (1 - b1) * (double)0.1f, v2 = b2 * v1 + (1 - b2) * (double)0.1f * 0.1f;
  double w2 = (double)0.9f - 0.1f / (1 - b1 * b1) * m2 / (sqrt(v2) / sqrt(1 - b2 * b2) + 1e-8f);
  assert_near(v[0], v2, 1e-11);
  assert_near(w[0], w2, 1e-7);
  /* Coupled decay: g' = 0.1 + 0.1·(-2) = -0.1 so w rises by lr. Decoupled:
   * w = -2·(1 - 0.01) - lr·sign(0.1). */
  float wa[] = {-2}, ma[1] = {0}, va[1] = {0}, ga[] = {0.1f};
  p.weight_decay = 0.1f;
  assert_int_equal(pare_ref_adam_step_f32(&p, wa, ga, ma, va, 1, 1, NULL), 0);
  assert_near(wa[0], -1.9, 1e-6);
  float ww[] = {-2}, mw[1] = {0}, vw[1] = {0};
  p.decoupled = 1;
  assert_int_equal(pare_ref_adam_step_f32(&p, ww, ga, mw, vw, 1, 1, NULL), 0);
  assert_near(ww[0], -2.08, 1e-6);
  /* Mask and invalid arguments. */
  float wk[] = {1, 1}, mk[] = {3, 3}, vk[] = {3, 3};
  const uint8_t mask[] = {0, 1};
  assert_int_equal(pare_ref_adam_step_f32(&p, wk, g1, mk, vk, 2, 3, mask), 0);
  assert_true(wk[0] == 0.0f && mk[0] == 0.0f && vk[0] == 0.0f && wk[1] != 1.0f);
  assert_int_equal(pare_ref_adam_step_f32(&p, wk, g1, mk, vk, 2, 0, NULL), PARE_REF_EINVAL);
  p.beta2 = 1.0f;
  assert_int_equal(pare_ref_adam_step_f32(&p, wk, g1, mk, vk, 2, 1, NULL), PARE_REF_EINVAL);
}

static void test_schedules(void **state) {
  (void)state;
  pare_ref_lr_params p = {PARE_REF_LR_STEP, 0.1, 0.5, 3, 0, 0, 0, 0};
  double lr;
  const int64_t ts[] = {0, 2, 3, 7};
  const double step_want[] = {0.1, 0.1, 0.05, 0.025};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pare_ref_lr_at(&p, ts[i], &lr), 0);
    assert_near(lr, step_want[i], 1e-12);
  }
  p = (pare_ref_lr_params){PARE_REF_LR_COSINE, 1.0, 0, 0, 0.1, 10, 0, 0};
  const int64_t tc[] = {0, 5, 10, 20};
  const double cos_want[] = {1.0, 0.55, 0.1, 0.1};
  for (int i = 0; i < 4; i++) {
    assert_int_equal(pare_ref_lr_at(&p, tc[i], &lr), 0);
    assert_near(lr, cos_want[i], 1e-12);
  }
  /* Warm-up over 4 from 0.25·lr, then the cosine from its start. */
  p.warmup = 4;
  p.warmup_start_factor = 0.25;
  const int64_t tw[] = {0, 2, 4, 9, 14};
  const double warm_want[] = {0.25, 0.625, 1.0, 0.55, 0.1};
  for (int i = 0; i < 5; i++) {
    assert_int_equal(pare_ref_lr_at(&p, tw[i], &lr), 0);
    assert_near(lr, warm_want[i], 1e-12);
  }
  assert_int_equal(pare_ref_lr_at(&p, -1, &lr), PARE_REF_EINVAL);
  p = (pare_ref_lr_params){PARE_REF_LR_STEP, 0.1, 0.5, 0, 0, 0, 0, 0};
  assert_int_equal(pare_ref_lr_at(&p, 1, &lr), PARE_REF_EINVAL);
}

static void test_fake_quant(void **state) {
  (void)state;
  /* scale 0.5, zero point 2, codes [0, 7]: x/scale rounds half to even. */
  const float x[] = {0.0f, 0.26f, 0.25f, 0.75f, -1.0f, -1.3f, 2.5f, 2.8f, NAN};
  const float want_y[] = {0.0f, 0.5f, 0.0f, 1.0f, -1.0f, -1.0f, 2.5f, 2.5f, NAN};
  const float want_d[] = {1, 1, 1, 1, 1, 0, 1, 0, 0};
  float y[9], dy[9], dx[9];
  for (int i = 0; i < 9; i++) dy[i] = 1.0f;
  assert_int_equal(pare_ref_fake_quant_f32(x, 9, 0.5f, 2, 0, 7, y), 0);
  test_assert_close(y, want_y, 9, 0, "fake quant");
  assert_int_equal(pare_ref_fake_quant_backward_f32(x, 9, 0.5f, 2, 0, 7, dy, dx), 0);
  test_assert_close(dx, want_d, 9, 0, "fake quant ste");
  assert_int_equal(pare_ref_fake_quant_f32(x, 9, 0.0f, 2, 0, 7, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_fake_quant_f32(x, 9, 0.5f, 9, 0, 7, y), PARE_REF_EINVAL);
  assert_int_equal(pare_ref_fake_quant_f32(x, 9, 0.5f, 0, 7, 0, y), PARE_REF_EINVAL);
  /* Per channel along axis 0 of [3, 4] and axis -1 of [4, 3] must match the
   * per-tensor op on each channel. */
  test_rng rng = {0xf9};
  float xc[12], yc[12], gc[12], dc[12], yt[12], dt[12];
  test_fill(&rng, xc, 12, -3, 3);
  test_fill(&rng, gc, 12, -1, 1);
  const float scales[] = {0.25f, 0.5f, 0.1f};
  const int32_t zps[] = {-3, 0, 5};
  int64_t d0[] = {3, 4}, d1[] = {4, 3};
  for (int ax = 0; ax < 2; ax++) {
    const int32_t *z = ax ? NULL : zps;
    assert_int_equal(
        pare_ref_fake_quant_channel_f32(xc, 2, ax ? d1 : d0, ax ? -1 : 0, scales, z, -8, 7, yc), 0);
    assert_int_equal(pare_ref_fake_quant_channel_backward_f32(xc, 2, ax ? d1 : d0, ax ? -1 : 0,
                                                              scales, z, -8, 7, gc, dc),
                     0);
    for (int e = 0; e < 12; e++) {
      int c = ax ? e % 3 : e / 4;
      pare_ref_fake_quant_f32(xc + e, 1, scales[c], z ? z[c] : 0, -8, 7, yt + e);
      pare_ref_fake_quant_backward_f32(xc + e, 1, scales[c], z ? z[c] : 0, -8, 7, gc + e, dt + e);
    }
    test_assert_close(yc, yt, 12, 0, "fake quant per channel");
    test_assert_close(dc, dt, 12, 0, "fake quant per channel ste");
  }
  assert_int_equal(pare_ref_fake_quant_channel_f32(xc, 2, d0, 2, scales, zps, -8, 7, yc),
                   PARE_REF_EINVAL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_conv_backward),
      cmocka_unit_test(test_gemm_backward),
      cmocka_unit_test(test_act_backward),
      cmocka_unit_test(test_pool_backward),
      cmocka_unit_test(test_global_avgpool_backward),
      cmocka_unit_test(test_binop_backward),
      cmocka_unit_test(test_batchnorm_train),
      cmocka_unit_test(test_losses),
      cmocka_unit_test(test_sgd),
      cmocka_unit_test(test_adam),
      cmocka_unit_test(test_schedules),
      cmocka_unit_test(test_fake_quant),
  };
  return cmocka_run_group_tests_name("training references", tests, NULL, NULL);
}
