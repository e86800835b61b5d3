/* kernels/gemm_i8.cl against engine/ref/gemm_i8.c: every integer output
 * (int8 GEMM and convolution, the int32-exact dequantized GEMM output,
 * quantize, dequantize) must match the reference bit for bit; the
 * weight-only GEMMs within an fp32 dot-product tolerance. Shapes: 1,
 * primes, sizes below, on and above every tile edge, K = 1, K = 65536 with
 * the extreme values −128/127 and zero points at both ends of the range
 * (the largest accumulators int32 holds), offsets and padded leading
 * dimensions, ReLU/ReLU6 clamps, odd K for int4. Every inner-product path
 * (portable at three vector widths, x86 pmaddwd, the dot-product code with
 * an emulated built-in) and other tiles are forced through a profile
 * override. Also unit tests of pare_quant_multiplier and the requantization
 * rounding (ties, negative values, shifts 0..31). */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <string.h>

#include "engine/ref/quant.h"
#include "host/launch/gemm_i8.h"
#include "tests/test_cl.h"
#include "tests/test_util.h"

/* ---- profile overrides (paths and tiles this device would not take) ---- */

static const pare_profile *saved_profile;
static pare_profile override_profile;

static void use_params(const char *k1, int v1, const char *k2, int v2) {
  if (!saved_profile) saved_profile = rt->profile;
  memset(&override_profile, 0, sizeof override_profile);
  override_profile.name = "gemm-i8-test-override";
  override_profile.parent = saved_profile->name;
  override_profile.build_options = "";
  override_profile.summary = "test: gemm_i8 parameters overridden";
  override_profile.params[0].key = k1;
  override_profile.params[0].value = v1;
  if (k2) {
    override_profile.params[1].key = k2;
    override_profile.params[1].value = v2;
  }
  rt->profile = &override_profile;
}

static void restore(void) {
  if (saved_profile) rt->profile = saved_profile;
  saved_profile = NULL;
}

static int restore_profile(void **state) {
  (void)state;
  restore();
  return 0;
}

/* ---- helpers ---- */

static cl_mem dev(size_t bytes, const void *host) {
  cl_mem m;
  pare_error err;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, bytes ? bytes : 1, host, &m, &err) != PARE_OK)
    fail_msg("buffer: %s", err.text);
  return m;
}

static void rel(cl_mem m) {
  if (m) rt->cl->clReleaseMemObject(m);
}

static void get(cl_mem m, size_t bytes, void *host) {
  pare_error err;
  if (pare_cl_read(rt, m, 0, bytes, host, &err) != PARE_OK) fail_msg("read: %s", err.text);
}

static void fill_i8(test_rng *r, int8_t *x, size_t n, int lo, int hi) {
  for (size_t i = 0; i < n; i++)
    x[i] = (int8_t)(lo + (int)test_rng_below(r, (size_t)(hi - lo + 1)));
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  assert_non_null(p);
  return p;
}

/* Per-channel multipliers from random real multipliers in [lo, hi). */
static void make_requant(test_rng *r, size_t n, double lo, double hi, int32_t *mult,
                         int32_t *shift) {
  for (size_t c = 0; c < n; c++) {
    double real = lo == hi ? lo : lo + (hi - lo) * test_rng_uniform(r, 0.0f, 1.0f);
    assert_int_equal(pare_quant_multiplier(real, &mult[c], &shift[c]), PARE_REF_QUANT_OK);
  }
}

/* ---- the multiplier helper and the rounding ---- */

static void test_multiplier(void **state) {
  (void)state;
  int32_t m = -1, s = -1;
  assert_int_equal(pare_quant_multiplier(0.5, &m, &s), 0);
  assert_int_equal(m, 1 << 30);
  assert_int_equal(s, 0);
  assert_int_equal(pare_quant_multiplier(1.0, &m, &s), 0);
  assert_int_equal(m, 1 << 30);
  assert_int_equal(s, -1);
  assert_int_equal(pare_quant_multiplier(0.75, &m, &s), 0);
  assert_int_equal(m, 1610612736);
  assert_int_equal(s, 0);
  assert_int_equal(pare_quant_multiplier(0.0, &m, &s), 0);
  assert_true(m == 0 && s == 0);
  /* Just below 1: the mantissa rounds up to 2^31 and renormalizes. */
  assert_int_equal(pare_quant_multiplier(1.0 - 1e-12, &m, &s), 0);
  assert_true(m == 1 << 30 && s == -1);
  /* Below 2^-32 the shift stays 31. */
  assert_int_equal(pare_quant_multiplier(ldexp(1.0, -40), &m, &s), 0);
  assert_true(m == 1 << 22 && s == 31);
  assert_int_equal(pare_quant_multiplier(ldexp(1.0, -70), &m, &s), 0);
  assert_true(m == 0 && s == 31);
  assert_int_equal(pare_quant_multiplier(ldexp(1.0, 30), &m, &s), 0);
  assert_true(m == 1 << 30 && s == -31);
  m = 7, s = 7;
  assert_int_equal(pare_quant_multiplier(-0.5, &m, &s), PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_quant_multiplier(NAN, &m, &s), PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_quant_multiplier(INFINITY, &m, &s), PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_quant_multiplier(ldexp(1.0, 31), &m, &s), PARE_REF_QUANT_EINVAL);
  assert_true(m == 7 && s == 7);
  /* Random reals: normalized, and within half a unit of the Q31 mantissa. */
  test_rng r = {12345};
  for (int i = 0; i < 10000; i++) {
    double real =
        ldexp(test_rng_uniform(&r, 0.5f, 1.0f) + 1e-9 * i, (int)test_rng_below(&r, 60) - 30);
    assert_int_equal(pare_quant_multiplier(real, &m, &s), 0);
    assert_true(m >= (1 << 30) && s >= -31 && s <= 31);
    double back = ldexp((double)m, -(31 + s));
    assert_true(fabs(back - real) <= ldexp(1.0, -(32 + s)) * 1.0000001);
  }
}

/* The requantization, against long double arithmetic: acc·mult has at most
 * 62 significant bits, exact in the x87 64-bit mantissa, and roundl rounds
 * half away from zero. */
static int32_t requant_ld(int32_t acc, int32_t mult, int32_t shift, int32_t zo, int32_t lo,
                          int32_t hi) {
  long double v = ldexpl((long double)acc * (long double)mult, -(31 + shift));
  long double r = roundl(v) + zo;
  return r < lo ? lo : r > hi ? hi : (int32_t)r;
}

static void test_requant_rounding(void **state) {
  (void)state;
  /* Ties go away from zero, on both sides. */
  assert_int_equal(pare_quant_round_shift(3, 1), 2);
  assert_int_equal(pare_quant_round_shift(-3, 1), -2);
  assert_int_equal(pare_quant_round_shift(1, 1), 1);
  assert_int_equal(pare_quant_round_shift(-1, 1), -1);
  assert_int_equal(pare_quant_round_shift(5, 2), 1);
  assert_int_equal(pare_quant_round_shift(6, 2), 2);
  assert_int_equal(pare_quant_round_shift(-6, 2), -2);
  assert_int_equal(pare_quant_round_shift(-5, 2), -1);
  assert_int_equal(pare_quant_round_shift(-7, 2), -2);
  assert_int_equal(pare_quant_round_shift(7, 0), 7);
  assert_int_equal(pare_quant_round_shift(-7, 0), -7);
  /* mult 2^30 (0.5 at shift 0): acc/2^(1+shift) with exact ties. */
  for (int32_t shift = 0; shift <= 31; shift++) {
    int64_t unit = (int64_t)1 << (shift + 1);
    for (int64_t q = -3; q <= 3; q++) {
      if (q * unit + unit / 2 > INT32_MAX || q * unit - unit / 2 < INT32_MIN) continue;
      int32_t tie_up = (int32_t)(q * unit + unit / 2); /* q + 0.5 */
      int32_t want = q >= 0 ? (int32_t)q + 1 : (int32_t)q;
      assert_int_equal(pare_quant_requantize(tie_up, 1 << 30, shift, 0, -1000000, 1000000), want);
      int32_t tie_dn = (int32_t)(q * unit - unit / 2); /* q − 0.5 */
      want = q > 0 ? (int32_t)q : (int32_t)q - 1;
      assert_int_equal(pare_quant_requantize(tie_dn, 1 << 30, shift, 0, -1000000, 1000000), want);
    }
  }
  /* Random accumulators (with the extremes), multipliers, shifts 0..31 and
   * negative shifts, zero points and clamps. */
  test_rng r = {99};
  const int32_t accs[] = {INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX};
  for (int i = 0; i < 200000; i++) {
    int32_t acc = i < 6 * 32 ? accs[i % 6] : (int32_t)(uint32_t)test_rng_next(&r);
    if (i % 3 == 0) acc >>= (int)test_rng_below(&r, 31);
    int32_t mult = (int32_t)(test_rng_next(&r) >> 33);
    if (i % 5 == 0) mult = (1 << 30) | (mult >> 1);
    int32_t shift = i < 6 * 32 ? (i / 6) : (int32_t)test_rng_below(&r, 63) - 31;
    int32_t zo = (int32_t)test_rng_below(&r, 256) - 128;
    int32_t lo = -128, hi = 127;
    if (i % 7 == 0) lo = zo, hi = 127;
    int32_t got = pare_quant_requantize(acc, mult, shift, zo, lo, hi);
    int32_t want = requant_ld(acc, mult, shift, zo, lo, hi);
    if (got != want)
      fail_msg("requantize(%d, %d, %d, zo %d) = %d, want %d", acc, mult, shift, zo, got, want);
    /* Unclamped too, to see the rounding itself. */
    got = pare_quant_requantize(acc, mult, shift, 0, INT32_MIN, INT32_MAX);
    want = requant_ld(acc, mult, shift, 0, INT32_MIN, INT32_MAX);
    if (got != want)
      fail_msg("requantize(%d, %d, %d) unclamped = %d, want %d", acc, mult, shift, got, want);
  }
  /* Clamp ranges of the fused activations. */
  int32_t lo, hi;
  assert_int_equal(pare_quant_clamp_range(0, 0.1f, 5, &lo, &hi), 0);
  assert_true(lo == -128 && hi == 127);
  assert_int_equal(pare_quant_clamp_range(1, 0.1f, -5, &lo, &hi), 0);
  assert_true(lo == -5 && hi == 127);
  assert_int_equal(pare_quant_clamp_range(2, 0.1f, -100, &lo, &hi), 0);
  assert_true(lo == -100 && hi == -40);
  assert_int_equal(pare_quant_clamp_range(2, 0.01f, -100, &lo, &hi), 0);
  assert_true(lo == -100 && hi == 127);
  assert_int_equal(pare_quant_clamp_range(3, 0.1f, 0, &lo, &hi), PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_quant_clamp_range(1, 0.0f, 0, &lo, &hi), PARE_REF_QUANT_EINVAL);
}

/* ---- int8 GEMM ---- */

typedef struct gemm_case {
  size_t m, n, k, pad; /* pad: extra leading dimension and offsets */
  int32_t za, zo, qmin, qmax;
  int extremes;  /* 0 random, 1 all −128, 2 mixed ±extremes, 3 small (|a − za|, |b| <= 3) */
  int bias;      /* 0 none, 1 random */
  int wsum;      /* 1: pass precomputed row sums */
  double lo, hi; /* real multiplier range */
} gemm_case;

static void run_gemm(const gemm_case *cs, int out_f32, uint64_t seed) {
  test_rng r = {seed};
  const size_t m = cs->m, n = cs->n, k = cs->k, lda = k + cs->pad, ldb = k + 2 * cs->pad,
               ldc = n + cs->pad, oa = cs->pad, ob = 3 * cs->pad, oc = cs->pad;
  int8_t *a = xmalloc(oa + m * lda), *b = xmalloc(ob + n * ldb);
  int32_t *bias = xmalloc(n * 4), *mult = xmalloc(n * 4), *shift = xmalloc(n * 4),
          *ws = xmalloc(n * 4);
  float *scale = xmalloc(n * 4);
  fill_i8(&r, a, oa + m * lda, -128, 127);
  fill_i8(&r, b, ob + n * ldb, -128, 127);
  if (cs->extremes == 1) {
    memset(a, -128, oa + m * lda);
    memset(b, -128, ob + n * ldb);
  } else if (cs->extremes == 3) { /* small values around the zero point: frequent exact ties */
    for (size_t i = 0; i < oa + m * lda; i++) {
      int v = cs->za + (int)test_rng_below(&r, 7) - 3;
      a[i] = (int8_t)(v < -128 ? -128 : v > 127 ? 127 : v);
    }
    fill_i8(&r, b, ob + n * ldb, -3, 3);
  } else if (cs->extremes == 2) {
    for (size_t i = 0; i < oa + m * lda; i++) a[i] = test_rng_below(&r, 2) ? 127 : -128;
    for (size_t i = 0; i < ob + n * ldb; i++) b[i] = (i / 7) % 2 ? 127 : -128;
  }
  for (size_t j = 0; j < n; j++) {
    bias[j] = (int32_t)test_rng_below(&r, 2000001) - 1000000;
    scale[j] = test_rng_uniform(&r, 1e-6f, 1e-3f);
  }
  make_requant(&r, n, cs->lo, cs->hi, mult, shift);
  pare_ref_i8_row_sums(n, k, b + ob, ldb, ws);
  const size_t csz = oc + m * ldc, esz = out_f32 ? 4 : 1;
  void *want = xmalloc(csz * esz), *got = xmalloc(csz * esz);
  memset(want, 0x5a, csz * esz);
  pare_requant rq = {mult, shift, cs->zo, cs->qmin, cs->qmax};
  int rc = out_f32 ? pare_ref_gemm_i8_f32(m, n, k, a + oa, lda, cs->za, b + ob, ldb,
                                          cs->bias ? bias : NULL, scale, (float *)want + oc, ldc)
                   : pare_ref_gemm_i8(m, n, k, a + oa, lda, cs->za, b + ob, ldb,
                                      cs->bias ? bias : NULL, &rq, (int8_t *)want + oc, ldc);
  assert_int_equal(rc, PARE_REF_QUANT_OK);
  /* Odd seeds clamp the fp32 output as a fused Clip would. */
  const int act = out_f32 && (seed & 1);
  for (size_t i = 0; act && i < m; i++)
    for (size_t j = 0; j < n; j++) {
      float *v = (float *)want + oc + i * ldc + j;
      *v = fminf(fmaxf(*v, -0.2f), 0.3f);
    }
  cl_mem da = dev(oa + m * lda, a), db = dev(ob + n * ldb, b), dbias = dev(n * 4, bias),
         dm = dev(n * 4, mult), dsh = dev(n * 4, shift), dsc = dev(n * 4, scale),
         dws = dev(n * 4, ws), dc = dev(csz * esz, want);
  pare_gemm_i8_args g = {0};
  g.m = m, g.n = n, g.k = k;
  g.a = da, g.off_a = oa, g.lda = lda, g.a_zero = cs->za;
  g.b = db, g.off_b = ob, g.ldb = ldb;
  g.bias = cs->bias ? dbias : NULL;
  g.wsum = cs->wsum ? dws : NULL;
  g.out_f32 = out_f32;
  g.multiplier = dm, g.shift = dsh, g.c_zero = cs->zo, g.qmin = cs->qmin, g.qmax = cs->qmax;
  g.scale = dsc;
  g.act = act, g.act_min = -0.2f, g.act_max = 0.3f;
  g.c = dc, g.off_c = oc, g.ldc = ldc;
  pare_error err;
  /* Outputs start as junk: every owned element must be written, the
   * padding left alone. */
  memset(got, 0x5a, csz * esz);
  for (size_t i = 0; i < m; i++) memset((char *)got + (oc + i * ldc) * esz, 0x77, n * esz);
  assert_int_equal(pare_cl_write(rt, dc, 0, csz * esz, got, &err), PARE_OK);
  if (pare_launch_gemm_i8(rt, &g, NULL, &err) != PARE_OK) fail_msg("gemm_i8: %s", err.text);
  get(dc, csz * esz, got);
  if (memcmp(got, want, csz * esz)) {
    for (size_t i = 0; i < csz; i++) {
      int bad = out_f32 ? memcmp((float *)got + i, (float *)want + i, 4)
                        : ((int8_t *)got)[i] != ((int8_t *)want)[i];
      if (bad)
        fail_msg("gemm_i8%s %zux%zux%zu (za %d zo %d [%d,%d], pad %zu, path %s): element %zu "
                 "is %g, want %g",
                 out_f32 ? "_f32" : "", m, n, k, cs->za, cs->zo, cs->qmin, cs->qmax, cs->pad,
                 rt->profile->name, i, out_f32 ? (double)((float *)got)[i] : ((int8_t *)got)[i],
                 out_f32 ? (double)((float *)want)[i] : ((int8_t *)want)[i]);
    }
  }
  rel(da), rel(db), rel(dbias), rel(dm), rel(dsh), rel(dsc), rel(dws), rel(dc);
  free(a), free(b), free(bias), free(mult), free(shift), free(ws), free(scale), free(want),
      free(got);
}

static const size_t shapes[][3] = {
    {1, 1, 1},     {1, 1, 16},   {1, 1, 32},    {2, 3, 5},    {3, 5, 1},   {4, 4, 32},
    {5, 4, 33},    {7, 13, 31},  {6, 9, 47},    {17, 5, 64},  {8, 8, 63},  {9, 3, 97},
    {31, 37, 100}, {33, 32, 15}, {1, 129, 300}, {130, 1, 17}, {3, 200, 1}, {65, 67, 129},
};

static void gemm_shapes(int out_f32, uint64_t seed) {
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    gemm_case cs = {shapes[s][0], shapes[s][1], shapes[s][2], s % 3, 0, 0, -128, 127, 0, 1,
                    s % 2,        1e-4,         5e-3};
    /* Zero points at the ends and inside the range. */
    const int32_t zas[] = {-128, 127, 3, 0};
    cs.za = zas[s % 4];
    cs.zo = zas[(s + 1) % 4];
    run_gemm(&cs, out_f32, seed + s);
  }
}

static void test_gemm_int8(void **state) {
  (void)state;
  gemm_shapes(0, 1000);
}

static void test_gemm_f32_out(void **state) {
  (void)state;
  gemm_shapes(1, 2000);
}

/* Clamps: ReLU and ReLU6 bounds, and large multipliers that saturate. */
static void test_gemm_clamps(void **state) {
  (void)state;
  int32_t lo, hi;
  assert_int_equal(pare_quant_clamp_range(1, 0.05f, -20, &lo, &hi), 0);
  gemm_case cs = {13, 19, 70, 1, 5, -20, lo, hi, 0, 1, 0, 1e-4, 3e-3};
  run_gemm(&cs, 0, 11);
  assert_int_equal(pare_quant_clamp_range(2, 0.05f, -128, &lo, &hi), 0);
  cs.zo = -128, cs.qmin = lo, cs.qmax = hi;
  run_gemm(&cs, 0, 12);
  cs.qmin = 0, cs.qmax = 0; /* a one-value range */
  run_gemm(&cs, 0, 13);
  cs.qmin = -128, cs.qmax = 127, cs.lo = 0.5, cs.hi = 4.0; /* saturates often */
  run_gemm(&cs, 0, 14);
  /* Power-of-two multipliers: acc/2^s, one accumulator in 2^s an exact tie
   * (positive and negative), shifts from 0 to 31 through the range. */
  const double pow2[] = {0.5, 0.25, 1.0 / 8};
  const int32_t zas[] = {-128, 127, 3};
  for (int i = 0; i < 3; i++) {
    gemm_case t = {11, 21, 37, 0, zas[i], 0, -128, 127, 3, 0, 1, pow2[i], pow2[i]};
    run_gemm(&t, 0, 15 + (uint64_t)i);
  }
}

/* K = 65536 with −128/127 everywhere and zero points at the ends: the
 * accumulators reach ±2^31 − 2^23. */
static void test_gemm_large_k(void **state) {
  (void)state;
  const size_t k = PARE_QUANT_MAX_K;
  gemm_case cs = {3, 5, k, 0, 127, 0, -128, 127, 1, 0, 1, 2e-8, 5.5e-8};
  run_gemm(&cs, 0, 21); /* (−128 − 127)·(−128)·65536 = 2^31 − 2^23 */
  run_gemm(&cs, 1, 22);
  cs.za = -128, cs.extremes = 2, cs.bias = 1, cs.m = 6, cs.n = 9, cs.lo = 1e-6, cs.hi = 2e-5;
  run_gemm(&cs, 0, 23);
  run_gemm(&cs, 1, 24);
  cs.za = 127, cs.extremes = 0, cs.k = k - 1;
  run_gemm(&cs, 0, 25);
}

/* Every inner-product path and a few other tiles on a few shapes. */
static void test_gemm_paths(void **state) {
  (void)state;
  struct {
    const char *k1;
    int v1;
    const char *k2;
    int v2;
  } over[] = {{"gemm_i8.path", 0, "gemm_i8.kw", 16}, {"gemm_i8.path", 0, "gemm_i8.kw", 8},
              {"gemm_i8.path", 0, "gemm_i8.kw", 4},  {"gemm_i8.path", 1, NULL, 0},
              {"gemm_i8.path", 3, NULL, 0},          {"gemm_i8.path", 4, NULL, 0},
              {"gemm_i8.tm", 3, "gemm_i8.tn", 5},    {"gemm_i8.tm", 1, "gemm_i8.tn", 8},
              {"gemm_i8.wg0", 2, "gemm_i8.wg1", 3},  {"gemm_i8.nrep", 3, "gemm_i8.tn", 2},
              {"gemm_i8.tm", 4, "gemm_i8.tn", 4}};
  const size_t few[][3] = {{1, 1, 1}, {5, 7, 33}, {17, 23, 100}, {9, 65, 70}, {2, 3, 4096}};
  for (size_t o = 0; o < sizeof over / sizeof over[0]; o++) {
    use_params(over[o].k1, over[o].v1, over[o].k2, over[o].v2);
    for (size_t s = 0; s < sizeof few / sizeof few[0]; s++) {
      gemm_case cs = {few[s][0], few[s][1], few[s][2], s % 2,          -128 + (int32_t)(s * 60),
                      7,         -128,      127,       s == 4 ? 2 : 0, 1,
                      0,         1e-4,      3e-3};
      if (s == 4) cs.lo = 1e-7, cs.hi = 1e-6;
      if (s == 2) cs.lo = cs.hi = 1.0 / 256; /* exact ties */
      run_gemm(&cs, 0, 300 + o * 10 + s);
      run_gemm(&cs, 1, 400 + o * 10 + s);
    }
    restore();
  }
}

/* ---- convolution ---- */

/* The fp32-output convolution against pare_ref_conv2d_i8_f32, clamped by
 * act (0 none, 1 ReLU, 2 Clip [-0.25, 0.5]); bit for bit. */
static void run_conv_f32(const pare_conv_i8_shape *s, int32_t xz, int act, uint64_t seed) {
  test_rng r = {seed};
  size_t oh, ow;
  assert_int_equal(pare_conv_i8_out_dims(s, &oh, &ow), 0);
  const size_t kc = s->c / s->groups * s->kh * s->kw;
  const size_t nx = s->n * s->c * s->h * s->w, nw = s->oc * kc, ny = s->n * s->oc * oh * ow;
  int8_t *x = xmalloc(nx), *w = xmalloc(nw);
  float *want = xmalloc(ny * 4), *got = xmalloc(ny * 4), *scale = xmalloc(s->oc * 4);
  int32_t *bias = xmalloc(s->oc * 4);
  fill_i8(&r, x, nx, -128, 127);
  fill_i8(&r, w, nw, -127, 127);
  for (size_t o = 0; o < s->oc; o++) {
    bias[o] = (int32_t)test_rng_below(&r, 20001) - 10000;
    scale[o] = test_rng_uniform(&r, 1e-6f, 1e-4f);
  }
  const float lo = act == 1 ? 0.0f : -0.25f, hi = act == 1 ? 3.0e38f : 0.5f;
  assert_int_equal(pare_ref_conv2d_i8_f32(s, x, xz, w, bias, scale, want), 0);
  for (size_t i = 0; act && i < ny; i++) want[i] = fminf(fmaxf(want[i], lo), hi);
  /* Weight rows padded with zeros to a multiple of 32 (or by 5) on two
   * seeds of three, as the executor keeps them. */
  const size_t ldw = seed % 3 == 0 ? kc : seed % 3 == 1 ? (kc + 31) / 32 * 32 : kc + 5;
  int8_t *wp = xmalloc(s->oc * ldw);
  memset(wp, 0, s->oc * ldw);
  for (size_t o = 0; o < s->oc; o++) memcpy(wp + o * ldw, w + o * kc, kc);
  cl_mem dx = dev(nx, x), dw = dev(s->oc * ldw, wp), db = dev(s->oc * 4, bias),
         ds = dev(s->oc * 4, scale), dy = dev(ny * 4, NULL);
  pare_error err;
  memset(got, 0x77, ny * 4);
  assert_int_equal(pare_cl_write(rt, dy, 0, ny * 4, got, &err), PARE_OK);
  pare_conv2d_i8_args a = {0};
  a.shape = *s;
  a.x = dx, a.x_zero = xz, a.w = dw, a.ldw = ldw, a.bias = db;
  a.out_f32 = 1, a.scale = ds, a.act = act != 0, a.act_min = lo, a.act_max = hi, a.y = dy;
  if (pare_launch_conv2d_i8(rt, &a, NULL, &err) != PARE_OK) fail_msg("conv2d_i8_f32: %s", err.text);
  get(dy, ny * 4, got);
  for (size_t i = 0; i < ny; i++)
    if (memcmp(&got[i], &want[i], 4))
      fail_msg("conv2d_i8_f32 x %zux%zux%zux%zu oc %zu k %zux%zu g %zu act %d ldw %zu (%s): "
               "y[%zu] = %g, want %g",
               s->n, s->c, s->h, s->w, s->oc, s->kh, s->kw, s->groups, act, ldw, rt->profile->name,
               i, (double)got[i], (double)want[i]);
  rel(dx), rel(dw), rel(db), rel(ds), rel(dy);
  free(wp), free(x), free(w), free(want), free(got), free(scale), free(bias);
}

static void run_conv(const pare_conv_i8_shape *s, int32_t xz, int32_t zo, int act, int with_wsum,
                     int pow2, uint64_t seed) {
  test_rng r = {seed};
  size_t oh, ow;
  assert_int_equal(pare_conv_i8_out_dims(s, &oh, &ow), 0);
  const size_t cg = s->c / s->groups, kc = cg * s->kh * s->kw;
  const size_t nx = s->n * s->c * s->h * s->w, nw = s->oc * kc, ny = s->n * s->oc * oh * ow;
  int8_t *x = xmalloc(nx), *w = xmalloc(nw), *want = xmalloc(ny), *got = xmalloc(ny);
  int32_t *bias = xmalloc(s->oc * 4), *mult = xmalloc(s->oc * 4), *shift = xmalloc(s->oc * 4),
          *ws = xmalloc(s->oc * 4);
  fill_i8(&r, x, nx, -128, 127);
  fill_i8(&r, w, nw, -127, 127);
  for (size_t o = 0; o < s->oc; o++) bias[o] = (int32_t)test_rng_below(&r, 20001) - 10000;
  if (pow2) /* exact ties: acc/16 */
    make_requant(&r, s->oc, 1.0 / 16, 1.0 / 16, mult, shift);
  else
    make_requant(&r, s->oc, 0.2 / (double)kc / 64.0, 2.0 / (double)kc / 64.0, mult, shift);
  pare_ref_i8_row_sums(s->oc, kc, w, kc, ws);
  int32_t lo = -128, hi = 127;
  assert_int_equal(pare_quant_clamp_range(act, 0.05f, zo, &lo, &hi), 0);
  pare_requant rq = {mult, shift, zo, lo, hi};
  assert_int_equal(pare_ref_conv2d_i8(s, x, xz, w, bias, &rq, want), 0);
  cl_mem dx = dev(nx, x), dw = dev(nw, w), db = dev(s->oc * 4, bias), dm = dev(s->oc * 4, mult),
         dsh = dev(s->oc * 4, shift), dws = dev(s->oc * 4, ws), dy = dev(ny, NULL);
  memset(got, 0x77, ny);
  pare_error err;
  assert_int_equal(pare_cl_write(rt, dy, 0, ny, got, &err), PARE_OK);
  pare_conv2d_i8_args a = {0};
  a.shape = *s;
  a.x = dx, a.x_zero = xz, a.w = dw, a.bias = db, a.wsum = with_wsum ? dws : NULL;
  a.multiplier = dm, a.shift = dsh, a.y_zero = zo, a.qmin = lo, a.qmax = hi, a.y = dy;
  if (pare_launch_conv2d_i8(rt, &a, NULL, &err) != PARE_OK) fail_msg("conv2d_i8: %s", err.text);
  get(dy, ny, got);
  for (size_t i = 0; i < ny; i++)
    if (got[i] != want[i])
      fail_msg("conv2d_i8 x %zux%zux%zux%zu oc %zu k %zux%zu g %zu s %zu,%zu d %zu,%zu (%s): "
               "y[%zu] = %d, want %d",
               s->n, s->c, s->h, s->w, s->oc, s->kh, s->kw, s->groups, s->stride_h, s->stride_w,
               s->dil_h, s->dil_w, rt->profile->name, i, got[i], want[i]);
  rel(dx), rel(dw), rel(db), rel(dm), rel(dsh), rel(dws), rel(dy);
  free(x), free(w), free(want), free(got), free(bias), free(mult), free(shift), free(ws);
}

static const pare_conv_i8_shape conv_shapes[] = {
    /* n  c  h   w  oc kh kw g  sh sw dh dw pt pl pb pr */
    {2, 3, 9, 11, 5, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},  /* 3×3 same */
    {1, 4, 13, 7, 6, 3, 2, 1, 2, 1, 2, 1, 0, 1, 2, 0},  /* stride, dilation, asymmetric pads */
    {1, 16, 5, 5, 17, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0}, /* 1×1 */
    {2, 8, 10, 10, 8, 3, 3, 8, 1, 1, 1, 1, 1, 1, 1, 1}, /* depthwise */
    {1, 6, 9, 8, 12, 3, 3, 6, 2, 2, 1, 1, 1, 0, 1, 1},  /* depthwise, multiplier 2, stride 2 */
    {1, 6, 7, 7, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},   /* groups 3, 3 outputs per group */
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0},   /* 1×1×1×1 */
    {1, 2, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, 2, 2, 2, 2},   /* padding wider than the window */
    {5, 3, 6, 5, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1},   /* a batch of 5 */
};

static void conv_all(uint64_t seed) {
  const int32_t zs[] = {-128, 127, 0, 17};
  for (size_t i = 0; i < sizeof conv_shapes / sizeof conv_shapes[0]; i++) {
    for (int pow2 = 0; pow2 < 2; pow2++)
      run_conv(&conv_shapes[i], zs[i % 4], zs[(i + 2) % 4], (int)(i % 3), (int)(i % 2), pow2,
               seed + i);
    run_conv_f32(&conv_shapes[i], zs[(i + 1) % 4], (int)(i % 3), seed + 100 + i);
  }
}

static void test_conv(void **state) {
  (void)state;
  conv_all(500);
}

/* The direct kernel for everything, then im2col+GEMM for everything. */
static void test_conv_plans(void **state) {
  (void)state;
  use_params("gemm_i8.direct_max_mg", 1 << 20, NULL, 0);
  conv_all(600);
  use_params("gemm_i8.direct_max_mg", 0, NULL, 0);
  conv_all(700);
  /* im2col buffers of 1 MiB at most: runs of images. */
  use_params("gemm_i8.direct_max_mg", 0, "gemm_i8.col_mib", 1);
  pare_conv_i8_shape big = {9, 16, 30, 30, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  run_conv(&big, 3, -2, 1, 0, 0, 800);
  run_conv_f32(&big, -7, 2, 801);
  restore();
}

/* ---- weight-only GEMM ---- */

static void run_wq(size_t m, size_t n, size_t k, int bits, size_t pad, int with_bias,
                   uint64_t seed) {
  test_rng r = {seed};
  const size_t lda = k + pad, wb = bits == 8 ? k : (k + 1) / 2, ldw = wb + pad, ldc = n + pad;
  float *a = xmalloc((pad + m * lda) * 4), *scale = xmalloc(n * 4), *bias = xmalloc(n * 4);
  float *want = xmalloc((pad + m * ldc) * 4), *got = xmalloc((pad + m * ldc) * 4);
  uint8_t *w = xmalloc(pad + n * ldw);
  test_fill(&r, a, pad + m * lda, -2.0f, 2.0f);
  for (size_t i = 0; i < pad + n * ldw; i++) w[i] = (uint8_t)test_rng_below(&r, 256);
  if (bits == 4 && n > 2) memset(w + pad + ldw, 0x88, wb); /* a row of −8 */
  test_fill(&r, scale, n, 0.001f, 0.1f);
  test_fill(&r, bias, n, -1.0f, 1.0f);
  for (size_t i = 0; i < pad + m * ldc; i++) want[i] = got[i] = NAN;
  int rc = bits == 8 ? pare_ref_gemm_w8_f32(m, n, k, a + pad, lda, (const int8_t *)w + pad, ldw,
                                            scale, with_bias ? bias : NULL, want + pad, ldc)
                     : pare_ref_gemm_w4_f32(m, n, k, a + pad, lda, w + pad, ldw, scale,
                                            with_bias ? bias : NULL, want + pad, ldc);
  assert_int_equal(rc, 0);
  cl_mem da = dev((pad + m * lda) * 4, a), dw = dev(pad + n * ldw, w), ds = dev(n * 4, scale),
         db = dev(n * 4, bias), dc = dev((pad + m * ldc) * 4, got);
  pare_gemm_wq_args g = {m,  n,   k,  bits, da, pad, lda, dw, pad, ldw, ds, with_bias ? db : NULL,
                         dc, pad, ldc};
  pare_error err;
  if (pare_launch_gemm_wq_f32(rt, &g, NULL, &err) != PARE_OK)
    fail_msg("gemm_w%d: %s", bits, err.text);
  get(dc, (pad + m * ldc) * 4, got);
  const double wmax = bits == 8 ? 128.0 : 8.0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < n; j++) {
      size_t at = pad + i * ldc + j;
      double tol = test_dot_tolerance(k, 2.0, wmax) * scale[j] + 4e-7 * (fabs(want[at]) + 1.0);
      if (!(fabs((double)got[at] - want[at]) <= tol))
        fail_msg("gemm_w%d %zux%zux%zu: C[%zu][%zu] = %.9g, want %.9g (tol %.3g)", bits, m, n, k, i,
                 j, got[at], want[at], tol);
    }
  for (size_t i = 0; i < pad; i++) assert_true(isnan(got[i]));
  rel(da), rel(dw), rel(ds), rel(db), rel(dc);
  free(a), free(scale), free(bias), free(want), free(got), free(w);
}

static void test_weight_only(void **state) {
  (void)state;
  const size_t s[][3] = {{1, 1, 1},    {1, 7, 3},    {2, 5, 33},  {5, 4, 63},   {4, 4, 64},
                         {7, 13, 100}, {1, 65, 257}, {17, 9, 31}, {33, 3, 512}, {6, 17, 1031}};
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    run_wq(s[i][0], s[i][1], s[i][2], 8, i % 3, (int)(i % 2), 800 + i);
    run_wq(s[i][0], s[i][1], s[i][2], 4, i % 3, (int)((i + 1) % 2), 900 + i);
  }
  use_params("gemm_i8.wq_tm", 3, "gemm_i8.wq_tn", 5);
  for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
    run_wq(s[i][0], s[i][1], s[i][2], 8, 1, 1, 1800 + i);
    run_wq(s[i][0], s[i][1], s[i][2], 4, 1, 0, 1900 + i);
  }
  restore();
}

/* ---- quantize / dequantize ---- */

static void test_quantize(void **state) {
  (void)state;
  test_rng r = {77};
  const size_t n = 100003, off = 5;
  const float scale = 0.0375f;
  const float inv = pare_quant_inv_scale(scale);
  float *x = xmalloc((n + off) * 4), *back = xmalloc(n * 4), *want_back = xmalloc(n * 4);
  int8_t *q = xmalloc(n + off), *want = xmalloc(n);
  test_fill(&r, x, n + off, -6.0f, 6.0f);
  /* Exact ties of x·inv (ties to even), huge values, inf and NaN. */
  for (size_t i = 0; i < 2000; i++) x[off + i] = ((float)i - 1000.0f + 0.5f) / inv;
  x[off + 2000] = NAN, x[off + 2001] = INFINITY, x[off + 2002] = -INFINITY;
  x[off + 2003] = 1e30f, x[off + 2004] = -1e30f, x[off + 2005] = -0.0f;
  const int32_t zps[] = {-128, 127, 0, -3};
  for (int zi = 0; zi < 4; zi++) {
    pare_ref_quantize_i8(n, x + off, inv, zps[zi], want);
    cl_mem dx = dev((n + off) * 4, x), dq = dev(n + off, NULL), dback = dev(n * 4, NULL);
    pare_error err;
    assert_int_equal(pare_launch_quantize_i8(rt, n, dx, off, scale, zps[zi], dq, off, NULL, &err),
                     PARE_OK);
    get(dq, n + off, q);
    for (size_t i = 0; i < n; i++)
      if (q[off + i] != want[i])
        fail_msg("quantize zp %d: q[%zu] = %d, want %d (x %.9g)", zps[zi], i, q[off + i], want[i],
                 x[off + i]);
    assert_int_equal(
        pare_launch_dequantize_i8(rt, n, dq, off, scale, zps[zi], dback, 0, NULL, &err), PARE_OK);
    get(dback, n * 4, back);
    pare_ref_dequantize_i8(n, want, scale, zps[zi], want_back);
    assert_int_equal(memcmp(back, want_back, n * 4), 0);
    rel(dx), rel(dq), rel(dback);
  }
  free(x), free(back), free(want_back), free(q), free(want);
}

/* ---- bad arguments ---- */

static void test_errors(void **state) {
  (void)state;
  pare_error err;
  cl_mem buf = dev(4096, NULL);
  pare_gemm_i8_args g = {0};
  /* Empty shapes launch nothing, even with NULL buffers. */
  g.m = 0, g.n = 5, g.k = 3;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_OK);
  g.m = 5, g.n = 0;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_gemm_i8(rt, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  g.m = 2, g.n = 2, g.k = 3;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.a = g.b = g.c = buf, g.lda = g.ldb = 3, g.ldc = 2;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG); /* mult */
  g.multiplier = g.shift = buf, g.qmin = -128, g.qmax = 127;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_OK);
  g.lda = 2;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.lda = 3, g.k = 0;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.k = PARE_QUANT_MAX_K + 1, g.lda = g.ldb = g.k;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.k = 3, g.lda = g.ldb = 3, g.a_zero = 128;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.a_zero = 0, g.qmin = 5, g.qmax = 4;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.qmin = -128, g.qmax = 127, g.c_zero = -129;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG);
  g.c_zero = 0, g.out_f32 = 1;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_INVALID_ARG); /* scale */
  g.off_a = (size_t)INT_MAX;
  g.scale = buf;
  assert_int_equal(pare_launch_gemm_i8(rt, &g, NULL, &err), PARE_ERR_UNSUPPORTED);
  /* Row sums, weight-only, conversions, convolution. */
  assert_int_equal(pare_launch_i8_row_sums(rt, 0, 3, NULL, 0, 3, NULL, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_i8_row_sums(rt, 2, 3, buf, 0, 2, buf, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  pare_gemm_wq_args w = {0, 3, 3, 8, NULL, 0, 3, NULL, 0, 3, NULL, NULL, NULL, 0, 3};
  assert_int_equal(pare_launch_gemm_wq_f32(rt, &w, NULL, &err), PARE_OK);
  w.m = 2;
  assert_int_equal(pare_launch_gemm_wq_f32(rt, &w, NULL, &err), PARE_ERR_INVALID_ARG);
  w.a = w.w = w.scale = w.c = buf, w.bits = 5;
  assert_int_equal(pare_launch_gemm_wq_f32(rt, &w, NULL, &err), PARE_ERR_INVALID_ARG);
  w.bits = 4, w.ldw = 1;
  assert_int_equal(pare_launch_gemm_wq_f32(rt, &w, NULL, &err), PARE_ERR_INVALID_ARG);
  w.ldw = 2;
  assert_int_equal(pare_launch_gemm_wq_f32(rt, &w, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_quantize_i8(rt, 0, NULL, 0, 0.0f, 0, NULL, 0, NULL, &err), PARE_OK);
  assert_int_equal(pare_launch_quantize_i8(rt, 4, buf, 0, 0.0f, 0, buf, 0, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_quantize_i8(rt, 4, buf, 0, NAN, 0, buf, 0, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_quantize_i8(rt, 4, buf, 0, 1.0f, 200, buf, 0, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_launch_dequantize_i8(rt, 4, NULL, 0, 1.0f, 0, buf, 0, NULL, &err),
                   PARE_ERR_INVALID_ARG);
  pare_conv2d_i8_args c = {0};
  c.shape = conv_shapes[0];
  c.shape.n = 0;
  assert_int_equal(pare_launch_conv2d_i8(rt, &c, NULL, &err), PARE_OK);
  c.shape.n = 1;
  assert_int_equal(pare_launch_conv2d_i8(rt, &c, NULL, &err), PARE_ERR_INVALID_ARG);
  c.shape.groups = 2; /* does not divide c = 3 */
  c.x = c.w = c.y = c.multiplier = c.shift = buf, c.qmin = -128, c.qmax = 127;
  assert_int_equal(pare_launch_conv2d_i8(rt, &c, NULL, &err), PARE_ERR_INVALID_ARG);
  c.shape.groups = 1, c.shape.kh = 20; /* window larger than the padded input */
  assert_int_equal(pare_launch_conv2d_i8(rt, &c, NULL, &err), PARE_ERR_INVALID_ARG);
  rel(buf);
  /* The reference refuses the same. */
  int8_t a8[4] = {0}, c8[4];
  int32_t mu[2] = {1 << 30, 1 << 30}, sh[2] = {0, 40};
  pare_requant rq = {mu, sh, 0, -128, 127};
  assert_int_equal(pare_ref_gemm_i8(1, 2, 2, a8, 2, 0, a8, 2, NULL, &rq, c8, 2),
                   PARE_REF_QUANT_EINVAL); /* shift 40 */
  sh[1] = 0;
  assert_int_equal(pare_ref_gemm_i8(1, 2, 2, a8, 2, 0, a8, 2, NULL, &rq, c8, 2), 0);
  assert_int_equal(pare_ref_gemm_i8(1, 2, 0, a8, 2, 0, a8, 2, NULL, &rq, c8, 2),
                   PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_ref_gemm_i8(1, 2, 2, NULL, 2, 0, a8, 2, NULL, &rq, c8, 2),
                   PARE_REF_QUANT_EINVAL);
  assert_int_equal(pare_ref_gemm_i8(0, 2, 2, NULL, 2, 0, NULL, 2, NULL, NULL, NULL, 2), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_multiplier),
      cmocka_unit_test(test_requant_rounding),
      cmocka_unit_test(test_errors),
      cmocka_unit_test(test_gemm_int8),
      cmocka_unit_test(test_gemm_f32_out),
      cmocka_unit_test(test_gemm_clamps),
      cmocka_unit_test(test_gemm_large_k),
      cmocka_unit_test_teardown(test_gemm_paths, restore_profile),
      cmocka_unit_test(test_conv),
      cmocka_unit_test_teardown(test_conv_plans, restore_profile),
      cmocka_unit_test_teardown(test_weight_only, restore_profile),
      cmocka_unit_test(test_quantize),
  };
  return cmocka_run_group_tests_name("gemm_i8", tests, test_cl_setup, test_cl_teardown);
}
