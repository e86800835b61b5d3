/* Helpers shared by pare's cmocka tests: seeded random data and float
 * comparisons with tolerances derived from the reduction length. */
#ifndef PARE_TEST_UTIL_H
#define PARE_TEST_UTIL_H

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

/* xorshift64*: reproducible across platforms. */
typedef struct test_rng {
  uint64_t s;
} test_rng;

static inline uint64_t test_rng_next(test_rng *r) {
  r->s ^= r->s >> 12;
  r->s ^= r->s << 25;
  r->s ^= r->s >> 27;
  return r->s * UINT64_C(2685821657736338717);
}

/* Uniform in [lo, hi). */
static inline float test_rng_uniform(test_rng *r, float lo, float hi) {
  return lo + (hi - lo) * (float)((test_rng_next(r) >> 40) * (1.0 / 16777216.0));
}

static inline size_t test_rng_below(test_rng *r, size_t n) {
  return (size_t)(test_rng_next(r) % n);
}

static inline void test_fill(test_rng *r, float *x, size_t n, float lo, float hi) {
  for (size_t i = 0; i < n; i++) x[i] = test_rng_uniform(r, lo, hi);
}

/* Tolerance of an fp32 dot product of length k over values bounded by
 * amax and bmax, accumulated in any order: each of the k roundings can be
 * off by one ulp of the running sum, bounded by k·amax·bmax. */
static inline double test_dot_tolerance(size_t k, double amax, double bmax) {
  double eps = 1.0 / 8388608.0; /* 2^-23 */
  return 2.0 * (double)(k + 2) * eps * amax * bmax + 1e-30;
}

/* Compares n values with one absolute tolerance; NaN must match NaN and
 * inf must match inf of the same sign. Fails naming the first bad index. */
static inline void test_assert_close(const float *got, const float *want, size_t n, double tol,
                                     const char *what) {
  for (size_t i = 0; i < n; i++) {
    float g = got[i], w = want[i];
    int ok;
    if (isnan(w))
      ok = isnan(g);
    else if (isinf(w))
      ok = g == w;
    else
      ok = !isnan(g) && fabs((double)g - (double)w) <= tol;
    if (!ok) fail_msg("%s: element %zu is %.9g, want %.9g (tolerance %.3g)", what, i, g, w, tol);
  }
}

#endif
