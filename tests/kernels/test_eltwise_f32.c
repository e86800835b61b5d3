/* kernels/eltwise_f32.cl against engine/ref: every activation, every
 * binary op over same-shape, block (scalar, per-channel, last-axis) and
 * general broadcasts up to rank 8, and the per-channel affine of a folded
 * BatchNormalization, over awkward sizes and NaN/inf inputs.
 *
 * Tolerances (|got - want| <= ulps·ulp(want) + abs; NaN must match NaN,
 * inf must match inf):
 *   exact: none, relu, relu6, leaky_relu, hard_sigmoid, clip, neg; add, sub,
 *          mul, max, min, prelu (only IEEE-exact operations; FP_CONTRACT off)
 *   3 ulp: sqrt, reciprocal, div (OpenCL's bounds without
 *          -cl-fp32-correctly-rounded-divide-sqrt; exact on PoCL)
 *   4 ulp + 2^-22: hard_swish (a division by 6 inside)
 *   4 ulp: exp (OpenCL allows 3); 6 ulp: tanh (OpenCL: 5); 8 ulp: sigmoid
 *          (exp, add, divide); 16 ulp: pow (OpenCL: 16)
 *   elu, selu: 4 ulp + |alpha|·(gamma)·2^-21 absolute (exp(x) - 1 cancels)
 *   transcendental results also get FLT_MIN absolute (denormals may flush)
 *   affine: 2^-23·(|x·scale| + |shift| + |y|) per element (the reference
 *          folds in double, the kernel in fp32 with one fma) */
#include <float.h>
#include <string.h>

#include "engine/ref/ops.h"
#include "host/launch/eltwise_f32.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

typedef struct tol {
  double ulps, abs;
} tol;

static double ulp_of(float w) {
  float a = fabsf(w);
  return (double)nextafterf(a, INFINITY) - (double)a;
}

static void assert_ulps(const float *got, const float *want, size_t n, tol t, const char *what) {
  for (size_t i = 0; i < n; i++) {
    float g = got[i], w = want[i];
    int ok;
    if (isnan(w))
      ok = isnan(g);
    else if (isinf(w))
      ok = g == w;
    else
      ok = !isnan(g) && !isinf(g) && fabs((double)g - (double)w) <= t.ulps * ulp_of(w) + t.abs;
    if (!ok)
      fail_msg("%s: element %zu is %.9g, want %.9g (%.1f ulp + %.3g)", what, i, g, w, t.ulps,
               t.abs);
  }
}

static cl_mem buf(size_t n, const float *host) {
  pare_error err;
  cl_mem m = NULL;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, (n ? n : 1) * sizeof(float), host, &m, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  return m;
}

static void read_back(cl_mem m, size_t n, float *out) {
  pare_error err;
  if (n && pare_cl_read(rt, m, 0, n * sizeof(float), out, &err) != PARE_OK)
    fail_msg("read: %s", err.text);
}

/* Random values in [lo, hi) with specials sprinkled in (every 11th). */
static void fill_special(test_rng *r, float *x, size_t n, float lo, float hi) {
  static const float specials[] = {NAN,     INFINITY, -INFINITY, 0.0f,  -0.0f,  1e-30f,
                                   -1e-30f, 1e30f,    -1e30f,    88.5f, -88.5f, 100.0f,
                                   -104.0f, 6.0f,     -3.0f,     3.0f,  1.0f,   -1.0f};
  test_fill(r, x, n, lo, hi);
  for (size_t i = 3; i < n; i += 11) x[i] = specials[test_rng_below(r, sizeof specials / 4)];
}

/* ---- unary ---- */

typedef struct act_case {
  pare_ref_act act;
  const char *name;
  float alpha, beta;
  tol t;
} act_case;

static const act_case act_cases[] = {
    {PARE_REF_ACT_NONE, "none", 0, 0, {0, 0}},
    {PARE_REF_ACT_RELU, "relu", 0, 0, {0, 0}},
    {PARE_REF_ACT_RELU6, "relu6", 0, 0, {0, 0}},
    {PARE_REF_ACT_LEAKY_RELU, "leaky_relu", 0.01f, 0, {0, 0}},
    {PARE_REF_ACT_SIGMOID, "sigmoid", 0, 0, {8, FLT_MIN}},
    {PARE_REF_ACT_TANH, "tanh", 0, 0, {6, FLT_MIN}},
    {PARE_REF_ACT_HARD_SIGMOID, "hard_sigmoid", 0.2f, 0.5f, {0, 0}},
    {PARE_REF_ACT_HARD_SWISH, "hard_swish", 0, 0, {4, 1.0 / 4194304.0}},
    {PARE_REF_ACT_ELU, "elu", 1.3f, 0, {4, 1.3 / 2097152.0 + FLT_MIN}},
    {PARE_REF_ACT_SELU, "selu", 1.6732632f, 1.0507010f, {4, 1.76 / 2097152.0 + FLT_MIN}},
    {PARE_REF_ACT_CLIP, "clip", -0.5f, 2.5f, {0, 0}},
    {PARE_REF_ACT_EXP, "exp", 0, 0, {4, FLT_MIN}},
    {PARE_REF_ACT_SQRT, "sqrt", 0, 0, {3, 0}},
    {PARE_REF_ACT_NEG, "neg", 0, 0, {0, 0}},
    {PARE_REF_ACT_RECIPROCAL, "reciprocal", 0, 0, {3, 0}},
    {PARE_REF_ACT_SHRINK, "shrink", 0.3f, 0.1f, {0, 0}},
};
#define ACT_CASES (sizeof act_cases / sizeof act_cases[0])

static void check_unary(const act_case *c, test_rng *r, size_t n, int in_place) {
  float *x = malloc((n + 1) * 4), *got = malloc((n + 1) * 4), *want = malloc((n + 1) * 4);
  assert_non_null(x);
  assert_non_null(got);
  assert_non_null(want);
  fill_special(r, x, n, -8.0f, 8.0f);
  pare_ref_act_f32(c->act, x, want, n, c->alpha, c->beta);
  cl_mem bx = buf(n, x), by = in_place ? bx : buf(n, NULL);
  pare_error err;
  if (pare_launch_eltwise_unary_f32(rt, c->act, c->alpha, c->beta, bx, by, n, NULL, &err) !=
      PARE_OK)
    fail_msg("%s: %s", c->name, err.text);
  read_back(by, n, got);
  char what[96];
  snprintf(what, sizeof what, "unary %s n=%zu%s", c->name, n, in_place ? " in place" : "");
  assert_ulps(got, want, n, c->t, what);
  rt->cl->clReleaseMemObject(bx);
  if (!in_place) rt->cl->clReleaseMemObject(by);
  free(x);
  free(got);
  free(want);
}

/* Around every vector width and chunk edge; primes; 1. */
static const size_t unary_sizes[] = {1, 2, 7, 15, 16, 17, 31, 33, 127, 1021, 4099, 65537, 100003};

static void test_unary(void **state) {
  (void)state;
  test_rng r = {0x1234567u};
  for (size_t a = 0; a < ACT_CASES; a++) {
    for (size_t s = 0; s < sizeof unary_sizes / sizeof unary_sizes[0]; s++)
      check_unary(&act_cases[a], &r, unary_sizes[s], 0);
    check_unary(&act_cases[a], &r, 1000, 1);
  }
}

static void test_unary_edges(void **state) {
  (void)state;
  pare_error err;
  /* n = 0: nothing launched, no error, buffers never touched. */
  assert_int_equal(
      pare_launch_eltwise_unary_f32(rt, PARE_REF_ACT_RELU, 0, 0, NULL, NULL, 0, NULL, &err),
      PARE_OK);
  assert_int_equal(
      pare_launch_eltwise_unary_f32(rt, (pare_ref_act)99, 0, 0, NULL, NULL, 4, NULL, &err),
      PARE_ERR_INVALID_ARG);
}

/* ---- binary ---- */

typedef struct op_case {
  int op;
  const char *name;
  tol t;
} op_case;

static const op_case op_cases[] = {
    {PARE_REF_ADD, "add", {0, 0}},        {PARE_REF_SUB, "sub", {0, 0}},
    {PARE_REF_MUL, "mul", {0, 0}},        {PARE_REF_DIV, "div", {3, 0}},
    {PARE_REF_POW, "pow", {16, FLT_MIN}}, {PARE_REF_MAX, "max", {0, 0}},
    {PARE_REF_MIN, "min", {0, 0}},        {PARE_ELT_PRELU, "prelu", {0, 0}},
};
#define OP_CASES (sizeof op_cases / sizeof op_cases[0])

typedef struct shape_case {
  int a_rank;
  int64_t a[8];
  int b_rank;
  int64_t b[8];
  const char *plan; /* expected kernel */
} shape_case;

static const shape_case shapes[] = {
    {1, {1}, 1, {1}, "same"},
    {1, {17}, 1, {17}, "same"},
    {4, {2, 3, 5, 7}, 4, {2, 3, 5, 7}, "same"},
    {1, {1031}, 1, {1031}, "same"},
    {0, {0}, 0, {0}, "same"},                      /* scalar op scalar */
    {2, {4, 33}, 0, {0}, "block"},                 /* tensor op scalar */
    {0, {0}, 2, {4, 33}, "block"},                 /* scalar op tensor */
    {2, {4, 33}, 2, {1, 1}, "block"},              /* [1, 1] is a scalar too */
    {4, {2, 16, 7, 9}, 3, {16, 1, 1}, "block"},    /* per-channel bias */
    {4, {2, 16, 7, 9}, 4, {1, 16, 1, 1}, "block"}, /* per-channel, rank 4 */
    {3, {16, 1, 1}, 4, {2, 16, 7, 9}, "block"},    /* per-channel on the left */
    {4, {2, 16, 7, 9}, 4, {2, 16, 1, 1}, "block"}, /* SE scale */
    {4, {3, 5, 1, 1}, 4, {1, 5, 1, 1}, "block"},   /* inner 1 after squeezing */
    {2, {5, 37}, 1, {37}, "block"},                /* last-axis vector */
    {3, {64, 3, 67}, 1, {67}, "block"},
    {3, {3, 1, 5}, 2, {4, 1}, "general"}, /* the classic */
    {3, {4, 1, 6}, 3, {1, 5, 1}, "general"},
    {2, {7, 1}, 2, {1, 9}, "general"},                                     /* outer product */
    {6, {2, 1, 3, 1, 4, 5}, 6, {1, 3, 1, 2, 1, 5}, "general"},             /* rank 6 */
    {8, {2, 1, 2, 1, 2, 1, 2, 3}, 8, {1, 2, 1, 2, 1, 2, 1, 3}, "general"}, /* rank 8 */
    {5, {2, 3, 1, 4, 1}, 3, {3, 1, 1}, "general"},
};
#define SHAPES (sizeof shapes / sizeof shapes[0])

static int64_t numel(int rank, const int64_t *d) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) n *= d[i];
  return n;
}

/* The reference of op over a broadcast (PRelu through pare_ref_prelu_f32),
 * then act. */
static int ref_binary(int op, const float *a, int ar, const int64_t *ad, const float *b, int br,
                      const int64_t *bd, float *y, pare_ref_act act, float alpha, float beta,
                      size_t *n) {
  int yr;
  int64_t yd[8], total;
  if (pare_ref_broadcast_shape(ar, ad, br, bd, &yr, yd) != PARE_REF_OK) return -1;
  pare_ref_shape_numel(yr, yd, &total);
  *n = (size_t)total;
  int rc = op == PARE_ELT_PRELU ? pare_ref_prelu_f32(a, ar, ad, b, br, bd, y)
                                : pare_ref_broadcast_binop_f32((pare_ref_binop)op, a, ar, ad, b, br,
                                                               bd, y, NULL, NULL);
  if (rc != PARE_REF_OK) return rc;
  pare_ref_act_f32(act, y, y, *n, alpha, beta);
  return 0;
}

static void check_binary(const op_case *oc, const shape_case *sc, test_rng *r, pare_ref_act act,
                         float alpha, float beta, tol t) {
  if (oc->op == PARE_ELT_PRELU) {
    /* PRelu is unidirectional: only shapes whose output is a's. */
    int yr;
    int64_t yd[8];
    pare_ref_broadcast_shape(sc->a_rank, sc->a, sc->b_rank, sc->b, &yr, yd);
    if (yr != sc->a_rank || numel(yr, yd) != numel(sc->a_rank, sc->a)) return;
  }
  size_t na = (size_t)numel(sc->a_rank, sc->a), nb = (size_t)numel(sc->b_rank, sc->b);
  int y_rank;
  int64_t y_dims[8];
  assert_int_equal(pare_ref_broadcast_shape(sc->a_rank, sc->a, sc->b_rank, sc->b, &y_rank, y_dims),
                   PARE_REF_OK);
  size_t ny = (size_t)numel(y_rank, y_dims);
  float *a = malloc(na * 4), *b = malloc(nb * 4), *want = malloc(ny * 4), *got = malloc(ny * 4);
  assert_non_null(a);
  assert_non_null(b);
  assert_non_null(want);
  assert_non_null(got);
  if (oc->op == PARE_REF_POW) {
    /* Bases of both signs; exponents half integers, half fractional. */
    fill_special(r, a, na, -4.0f, 4.0f);
    test_fill(r, b, nb, -3.0f, 3.0f);
    for (size_t i = 0; i < nb; i += 2) b[i] = roundf(b[i]);
  } else {
    fill_special(r, a, na, -8.0f, 8.0f);
    fill_special(r, b, nb, -8.0f, 8.0f);
  }
  size_t n;
  assert_int_equal(
      ref_binary(oc->op, a, sc->a_rank, sc->a, b, sc->b_rank, sc->b, want, act, alpha, beta, &n),
      0);
  assert_true(n == ny);
  const char *plan = pare_eltwise_binary_plan(sc->a_rank, sc->a, sc->b_rank, sc->b);
  assert_non_null(plan);
  assert_string_equal(plan, sc->plan);
  cl_mem ba = buf(na, a), bb = buf(nb, b), by = buf(n, NULL);
  pare_error err;
  if (pare_launch_eltwise_binary_act_f32(rt, oc->op, ba, sc->a_rank, sc->a, bb, sc->b_rank, sc->b,
                                         by, act, alpha, beta, NULL, &err) != PARE_OK)
    fail_msg("%s: %s", oc->name, err.text);
  read_back(by, n, got);
  char what[160];
  int len = snprintf(what, sizeof what, "%s (%s, act %d) a[", oc->name, plan, (int)act);
  for (int i = 0; i < sc->a_rank; i++)
    len += snprintf(what + len, sizeof what - (size_t)len, "%lld,", (long long)sc->a[i]);
  len += snprintf(what + len, sizeof what - (size_t)len, "] b[");
  for (int i = 0; i < sc->b_rank; i++)
    len += snprintf(what + len, sizeof what - (size_t)len, "%lld,", (long long)sc->b[i]);
  snprintf(what + len, sizeof what - (size_t)len, "]");
  assert_ulps(got, want, n, t, what);
  rt->cl->clReleaseMemObject(ba);
  rt->cl->clReleaseMemObject(bb);
  rt->cl->clReleaseMemObject(by);
  free(a);
  free(b);
  free(want);
  free(got);
}

static void test_binary(void **state) {
  (void)state;
  test_rng r = {0xabcdef12345u};
  for (size_t o = 0; o < OP_CASES; o++)
    for (size_t s = 0; s < SHAPES; s++)
      check_binary(&op_cases[o], &shapes[s], &r, PARE_REF_ACT_NONE, 0, 0, op_cases[o].t);
}

/* Fused activations after the op (residual add + relu, mul + sigmoid). */
static void test_binary_fused(void **state) {
  (void)state;
  test_rng r = {77};
  for (size_t s = 0; s < SHAPES; s++) {
    check_binary(&op_cases[0], &shapes[s], &r, PARE_REF_ACT_RELU, 0, 0, (tol){0, 0});
    check_binary(&op_cases[2], &shapes[s], &r, PARE_REF_ACT_CLIP, -1.0f, 1.0f, (tol){0, 0});
  }
}

/* Larger cases crossing chunk boundaries in every kernel. */
static void test_binary_large(void **state) {
  (void)state;
  test_rng r = {99};
  static const struct {
    int ar;
    int64_t a[4];
    int br;
    int64_t b[4];
  } big[] = {{4, {3, 37, 29, 31}, 4, {3, 37, 29, 31}}, /* same */
             {4, {3, 37, 29, 31}, 3, {37, 1, 1}},      /* per-channel */
             {2, {1031, 97}, 1, {97}},                 /* last-axis */
             {3, {61, 1, 67}, 2, {59, 1}}};            /* general */
  for (size_t i = 0; i < sizeof big / sizeof big[0]; i++) {
    size_t na = (size_t)numel(big[i].ar, big[i].a), nb = (size_t)numel(big[i].br, big[i].b);
    int yr;
    int64_t yd[4];
    pare_ref_broadcast_shape(big[i].ar, big[i].a, big[i].br, big[i].b, &yr, yd);
    size_t n = (size_t)numel(yr, yd);
    float *a = malloc(na * 4), *b = malloc(nb * 4), *want = malloc(n * 4), *got = malloc(n * 4);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(want);
    assert_non_null(got);
    fill_special(&r, a, na, -8, 8);
    fill_special(&r, b, nb, -8, 8);
    pare_ref_broadcast_binop_f32(PARE_REF_SUB, a, big[i].ar, big[i].a, b, big[i].br, big[i].b, want,
                                 NULL, NULL);
    cl_mem ba = buf(na, a), bb = buf(nb, b), by = buf(n, NULL);
    pare_error err;
    if (pare_launch_eltwise_binary_f32(rt, PARE_REF_SUB, ba, big[i].ar, big[i].a, bb, big[i].br,
                                       big[i].b, by, NULL, &err) != PARE_OK)
      fail_msg("large %zu: %s", i, err.text);
    read_back(by, n, got);
    char what[32];
    snprintf(what, sizeof what, "large sub %zu", i);
    assert_ulps(got, want, n, (tol){0, 0}, what);
    rt->cl->clReleaseMemObject(ba);
    rt->cl->clReleaseMemObject(bb);
    rt->cl->clReleaseMemObject(by);
    free(a);
    free(b);
    free(want);
    free(got);
  }
}

/* In place: y = a with a per-channel b. */
static void test_binary_in_place(void **state) {
  (void)state;
  test_rng r = {5};
  int64_t ad[4] = {2, 5, 3, 11}, bd[3] = {5, 1, 1};
  float a[330], b[5], want[330];
  test_fill(&r, a, 330, -1, 1);
  test_fill(&r, b, 5, -1, 1);
  pare_ref_broadcast_binop_f32(PARE_REF_MUL, a, 4, ad, b, 3, bd, want, NULL, NULL);
  cl_mem ba = buf(330, a), bb = buf(5, b);
  pare_error err;
  assert_int_equal(
      pare_launch_eltwise_binary_f32(rt, PARE_REF_MUL, ba, 4, ad, bb, 3, bd, ba, NULL, &err),
      PARE_OK);
  read_back(ba, 330, a);
  assert_ulps(a, want, 330, (tol){0, 0}, "in-place mul");
  rt->cl->clReleaseMemObject(ba);
  rt->cl->clReleaseMemObject(bb);
}

static void test_binary_errors(void **state) {
  (void)state;
  pare_error err;
  int64_t a[2] = {3, 4}, b[1] = {5}, e[2] = {0, 3}, e1[1] = {3}, x[3] = {16, 7, 9},
          s[4] = {2, 16, 7, 9};
  assert_null(pare_eltwise_binary_plan(2, a, 1, b));
  assert_int_equal(
      pare_launch_eltwise_binary_f32(rt, PARE_REF_ADD, NULL, 2, a, NULL, 1, b, NULL, NULL, &err),
      PARE_ERR_INVALID_ARG);
  /* Empty output: no launch, no error. */
  assert_int_equal(
      pare_launch_eltwise_binary_f32(rt, PARE_REF_ADD, NULL, 2, e, NULL, 1, e1, NULL, NULL, &err),
      PARE_OK);
  /* PRelu's slope may not grow the output. */
  assert_int_equal(
      pare_launch_eltwise_binary_f32(rt, PARE_ELT_PRELU, NULL, 3, x, NULL, 4, s, NULL, NULL, &err),
      PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_eltwise_binary_f32(rt, 42, NULL, 2, a, NULL, 2, a, NULL, NULL, &err),
                   PARE_ERR_INVALID_ARG);
}

/* ---- affine ---- */

static void check_affine(test_rng *r, int rank, const int64_t *dims, pare_ref_act act) {
  size_t n = (size_t)numel(rank, dims), c = (size_t)dims[1];
  size_t inner = c ? n / (size_t)dims[0] / c : 0;
  if (dims[0] == 0) inner = 1;
  float *x = malloc((n + 1) * 4), *want = malloc((n + 1) * 4), *got = malloc((n + 1) * 4);
  float *gm = malloc((c + 1) * 4), *bt = malloc((c + 1) * 4), *mu = malloc((c + 1) * 4);
  float *var = malloc((c + 1) * 4), *sc = malloc((c + 1) * 4), *sh = malloc((c + 1) * 4);
  assert_true(x && want && got && gm && bt && mu && var && sc && sh);
  fill_special(r, x, n, -4, 4);
  test_fill(r, gm, c, -2, 2);
  test_fill(r, bt, c, -1, 1);
  test_fill(r, mu, c, -1, 1);
  test_fill(r, var, c, 0, 3);
  const float eps = 1e-5f;
  pare_ref_batchnorm_f32(x, rank, dims, gm, bt, mu, var, eps, want);
  pare_ref_act_f32(act, want, want, n, 0, 0);
  pare_eltwise_fold_batchnorm(c, gm, bt, mu, var, eps, sc, sh);
  cl_mem bx = buf(n, x), bs = buf(c, sc), bh = buf(c, sh), by = buf(n, NULL);
  pare_error err;
  if (pare_launch_eltwise_affine_f32(rt, bx, bs, bh, (size_t)dims[0], c, inner, act, 0, 0, by, NULL,
                                     &err) != PARE_OK)
    fail_msg("affine: %s", err.text);
  read_back(by, n, got);
  for (size_t i = 0; i < n; i++) {
    size_t ch = (i / inner) % c;
    float g = got[i], w = want[i];
    double t = (fabs((double)x[i] * sc[ch]) + fabs((double)sh[ch]) + fabs((double)w)) / 8388608.0;
    if (!isfinite(t)) t = 0; /* NaN/inf x: the result must then match exactly */
    int ok = isnan(w) ? isnan(g) : isinf(w) ? g == w : fabs((double)g - (double)w) <= t;
    if (!ok)
      fail_msg("affine rank %d [%lld, %lld, ...] act %d: element %zu is %.9g, want %.9g (x %.9g)",
               rank, (long long)dims[0], (long long)dims[1], (int)act, i, g, w, x[i]);
  }
  rt->cl->clReleaseMemObject(bx);
  rt->cl->clReleaseMemObject(bs);
  rt->cl->clReleaseMemObject(bh);
  rt->cl->clReleaseMemObject(by);
  free(x);
  free(want);
  free(got);
  free(gm);
  free(bt);
  free(mu);
  free(var);
  free(sc);
  free(sh);
}

static void test_affine(void **state) {
  (void)state;
  test_rng r = {31337};
  static const struct {
    int rank;
    int64_t d[5];
  } cases[] = {{4, {2, 16, 7, 9}}, {2, {3, 5}},    {4, {1, 1, 1, 1}},    {4, {4, 3, 1, 17}},
               {3, {2, 7, 1031}},  {2, {67, 129}}, {5, {2, 3, 2, 5, 7}}, {4, {1, 37, 64, 65}}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    check_affine(&r, cases[i].rank, cases[i].d, PARE_REF_ACT_NONE);
    check_affine(&r, cases[i].rank, cases[i].d, PARE_REF_ACT_RELU);
  }
  pare_error err;
  assert_int_equal(pare_launch_eltwise_affine_f32(rt, NULL, NULL, NULL, 0, 3, 4, PARE_REF_ACT_NONE,
                                                  0, 0, NULL, NULL, &err),
                   PARE_OK);
}

/* Batched 2-D transpose against pare_ref_transpose (perm {0, 2, 1}):
 * bit-exact copies, awkward shapes. */
static void test_transpose(void **state) {
  (void)state;
  test_rng r = {77};
  static const size_t tshapes[][3] = {{1, 1, 1},    {1, 1, 37},   {1, 37, 1},  {3, 5, 7},
                                      {2, 64, 784}, {7, 13, 129}, {1, 1000, 3}};
  for (size_t s = 0; s < sizeof tshapes / sizeof tshapes[0]; s++) {
    size_t b = tshapes[s][0], rows = tshapes[s][1], cols = tshapes[s][2], n = b * rows * cols;
    float *x = malloc(n * sizeof(float)), *y = malloc(n * sizeof(float)),
          *want = malloc(n * sizeof(float));
    fill_special(&r, x, n, -2, 2);
    int64_t dims[3] = {(int64_t)b, (int64_t)rows, (int64_t)cols}, perm[3] = {0, 2, 1};
    assert_int_equal(pare_ref_transpose(x, sizeof(float), 3, dims, perm, want, NULL), PARE_REF_OK);
    cl_mem dx = buf(n, x), dy = buf(n, NULL);
    pare_error err;
    if (pare_launch_transpose2d_f32(rt, dx, b, rows, cols, dy, NULL, &err) != PARE_OK)
      fail_msg("%s", err.text);
    read_back(dy, n, y);
    assert_memory_equal(y, want, n * sizeof(float));
    assert_int_equal(pare_launch_transpose2d_f32(rt, dx, b, rows, cols, dx, NULL, &err),
                     PARE_ERR_INVALID_ARG);
    rt->cl->clReleaseMemObject(dx);
    rt->cl->clReleaseMemObject(dy);
    free(x);
    free(y);
    free(want);
  }
}

/* Concat by copying each input's rows into its slab of the output's rows
 * (pare_launch_copy_rows_f32, as the executor runs Concat) against
 * pare_ref_concat: bit-exact, every axis of ranks 1 to 4, one to four
 * inputs of uneven widths, empty ones included; argument errors. */
static void test_copy_rows(void **state) {
  (void)state;
  test_rng r = {123};
  for (int rank = 1; rank <= 4; rank++)
    for (int axis = 0; axis < rank; axis++)
      for (int k = 1; k <= 4; k++) {
        static const int64_t base[4] = {3, 5, 7, 2};
        int64_t dims[4][4], y_dims[4];
        const int64_t *dp[4];
        float *xs[4];
        const void *xv[4];
        cl_mem dx[4];
        size_t y_n = 0;
        for (int i = 0; i < k; i++) {
          memcpy(dims[i], base, sizeof base);
          dims[i][axis] = (i * 7 + rank + axis) % 5; /* 0..4: an empty input now and then */
          size_t n = 1;
          for (int d = 0; d < rank; d++) n *= (size_t)dims[i][d];
          xs[i] = malloc((n ? n : 1) * sizeof(float));
          fill_special(&r, xs[i], n, -3, 3);
          dp[i] = dims[i];
          xv[i] = xs[i];
          dx[i] = buf(n ? n : 1, xs[i]);
          y_n += n;
        }
        float *want = malloc((y_n ? y_n : 1) * sizeof(float)),
              *got = malloc((y_n ? y_n : 1) * sizeof(float));
        assert_int_equal(
            pare_ref_concat(xv, dp, (size_t)k, rank, axis, sizeof(float), want, y_dims),
            PARE_REF_OK);
        cl_mem dy = buf(y_n ? y_n : 1, NULL);
        size_t outer = 1, ld = 1, at = 0;
        for (int d = 0; d < rank; d++) *(d < axis ? &outer : &ld) *= (size_t)y_dims[d];
        pare_error err;
        for (int i = 0; i < k; i++) {
          size_t row = 1;
          for (int d = axis; d < rank; d++) row *= (size_t)dims[i][d];
          if (pare_launch_copy_rows_f32(rt, dx[i], outer, row, dy, ld, at, NULL, &err) != PARE_OK)
            fail_msg("%s", err.text);
          at += row;
        }
        if (y_n) {
          read_back(dy, y_n, got);
          assert_memory_equal(got, want, y_n * sizeof(float));
        }
        assert_int_equal(pare_launch_copy_rows_f32(rt, dy, 1, 1, dy, 1, 0, NULL, &err),
                         PARE_ERR_INVALID_ARG);
        assert_int_equal(pare_launch_copy_rows_f32(rt, dx[0], 1, 3, dy, 4, 2, NULL, &err),
                         PARE_ERR_INVALID_ARG);
        for (int i = 0; i < k; i++) {
          rt->cl->clReleaseMemObject(dx[i]);
          free(xs[i]);
        }
        rt->cl->clReleaseMemObject(dy);
        free(want);
        free(got);
      }
}

/* A QuantizeLinear → DequantizeLinear pair in one kernel against
 * pare_ref_qdq_f32: bit-exact for uint8 and int8 ranges, specials
 * included (NaN gives 0, infinities saturate). */
static void test_fake_quant(void **state) {
  (void)state;
  test_rng r = {91};
  const size_t sizes[] = {1, 17, 4099, 65537};
  const struct {
    float scale;
    int32_t zp, qmin, qmax;
  } q[] = {{0.0123f, 0, 0, 255}, {0.05f, 37, 0, 255}, {0.2f, -3, -128, 127}, {1e-3f, 128, 0, 255}};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
    for (size_t k = 0; k < sizeof q / sizeof q[0]; k++) {
      size_t n = sizes[s];
      float *x = malloc(n * 4), *got = malloc(n * 4), *want = malloc(n * 4);
      fill_special(&r, x, n, -4, 4);
      assert_int_equal(pare_ref_qdq_f32(x, n, q[k].scale, q[k].zp, q[k].qmin, q[k].qmax, want),
                       PARE_REF_OK);
      cl_mem dx = buf(n, x), dy = buf(n, NULL);
      pare_error err;
      if (pare_launch_fake_quant_f32(rt, dx, dy, n, q[k].scale, q[k].zp, q[k].qmin, q[k].qmax, NULL,
                                     &err) != PARE_OK)
        fail_msg("%s", err.text);
      read_back(dy, n, got);
      assert_memory_equal(got, want, n * 4);
      rt->cl->clReleaseMemObject(dx);
      rt->cl->clReleaseMemObject(dy);
      free(x);
      free(got);
      free(want);
    }
  pare_error err;
  assert_int_equal(pare_launch_fake_quant_f32(rt, NULL, NULL, 4, 0.0f, 0, 0, 255, NULL, &err),
                   PARE_ERR_INVALID_ARG);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_unary),         cmocka_unit_test(test_unary_edges),
      cmocka_unit_test(test_binary),        cmocka_unit_test(test_binary_fused),
      cmocka_unit_test(test_binary_large),  cmocka_unit_test(test_binary_in_place),
      cmocka_unit_test(test_binary_errors), cmocka_unit_test(test_affine),
      cmocka_unit_test(test_transpose),     cmocka_unit_test(test_fake_quant),
      cmocka_unit_test(test_copy_rows),
  };
  return cmocka_run_group_tests_name("eltwise_f32", tests, test_cl_setup, test_cl_teardown);
}
