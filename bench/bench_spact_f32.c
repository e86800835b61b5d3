/* pare-bench spact_f32: fully connected layers over sparse activations,
 * Y[rows x M] = X[rows x K]·Wᵀ + b with most of X zero, against pare's
 * dense GEMM for the same layer (pare_launch_gemm_f32 over the weight
 * transposed once, as host/exec_cl.c runs a Gemm with a constant transB
 * weight), all timed in the same run.
 *
 * Shapes (rows, M, K): the LeNet-300-100 layers K=784 → M=300 and
 * K=300 → M=100, and 1024 → 1024, each at rows 1 and 64 (--shapes
 * R,M,K;... replaces them); activation sparsity 50, 70 and 90 %, zeros
 * placed uniformly at random from a fixed seed. The four variants below
 * are timed interleaved (one run of each per round, medians over the
 * rounds), so that a drifting load on a shared machine does not skew the
 * ratios.
 *
 * Rows: ms (min, median) of
 *   dense_gemm     the dense layer;
 *   spact          compaction + product (what a layer costs end to end);
 *   spact_fc       the product alone (compaction done once beforehand);
 *   spact_compact  the compaction alone;
 * and "ratio_vs_dense" = dense ms / this ms (> 1: faster than dense). Each
 * case also checks that the sparse and dense outputs agree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/spact.h"
#include "host/launch/launch.h"
#include "host/launch/spact_f32.h"

enum { V_DENSE, V_SPACT, V_FC, V_COMPACT, V_COUNT };
static const char *const variant_names[V_COUNT] = {"dense_gemm", "spact", "spact_fc",
                                                   "spact_compact"};

typedef struct spact_case {
  pare_cl_runtime *rt;
  int variant;
  const pare_gemm_f32_args *gemm;
  const pare_spact_f32_args *args;
  const pare_spact_cl *scratch;
  pare_error err;
} spact_case;

static int run_device(void *arg) {
  spact_case *c = arg;
  pare_status st;
  switch (c->variant) {
  case V_DENSE: st = pare_launch_gemm_f32(c->rt, c->gemm, NULL, &c->err); break;
  case V_SPACT: st = pare_launch_spact_f32(c->rt, c->args, c->scratch, NULL, &c->err); break;
  case V_FC: st = pare_launch_spact_fc_f32(c->rt, c->args, c->scratch, NULL, &c->err); break;
  default: st = pare_launch_spact_compact_f32(c->rt, c->args, c->scratch, NULL, &c->err); break;
  }
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

/* xorshift64* in [0, 1). */
static double uniform(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * UINT64_C(2685821657736338717)) >> 11) * (1.0 / 9007199254740992.0);
}

/* Times all variants interleaved: o->warmup untimed runs of each, then
 * o->reps rounds that run every variant once, so that a drifting load on
 * a shared machine hits all of them alike. 0 on success. */
static int time_interleaved(spact_case *c, const pare_bench_opts *o, pare_bench_timing *t) {
  const int reps = o->reps > 0 ? o->reps : 1;
  double *ms = calloc((size_t)reps * V_COUNT, sizeof *ms);
  if (!ms) {
    snprintf(c->err.text, sizeof c->err.text, "out of memory");
    return 1;
  }
  int rc = 0;
  for (int v = 0; v < V_COUNT && !rc; v++)
    for (int i = 0; i < o->warmup && !rc; i++) {
      c->variant = v;
      rc = run_device(c);
    }
  for (int i = 0; i < reps && !rc; i++)
    for (int v = 0; v < V_COUNT && !rc; v++) {
      c->variant = v;
      const double t0 = pare_now();
      rc = run_device(c);
      ms[v * reps + i] = (pare_now() - t0) * 1e3;
    }
  for (int v = 0; v < V_COUNT && !rc; v++) {
    double *m = ms + v * reps;
    t[v].ms_min = m[0];
    for (int i = 1; i < reps; i++)
      if (m[i] < t[v].ms_min) t[v].ms_min = m[i];
    t[v].ms_median = pare_median(m, reps);
    t[v].ok = 1;
  }
  free(ms);
  return rc;
}

static void json_row(pare_cl_runtime *rt, const char *variant, size_t rows, size_t m, size_t k,
                     double sparsity, size_t nnz, pare_bench_timing t, double dense_ms) {
  printf("{\"kernel\": \"spact_f32\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"rows\": %zu, \"m\": %zu, \"k\": %zu, "
         "\"sparsity\": %.2f, \"nnz\": %zu, \"ms_min\": %.4f, \"ms_median\": %.4f, "
         "\"gflops\": %.2f",
         variant, rt->profile->name, rt->info.name, rows, m, k, rows, m, k, sparsity, nnz, t.ms_min,
         t.ms_median, 2.0 * (double)rows * (double)m * (double)k / (t.ms_median * 1e6));
  if (dense_ms > 0) printf(", \"ratio_vs_dense\": %.3f", dense_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

/* Largest |a - b| over n values, relative to 1 + max|b|. */
static double rel_diff(const float *a, const float *b, size_t n) {
  double d = 0, s = 1;
  /* Compares, not fmax(): GCC 12's aarch64 vectorizer dies on a double fmax
   * reduction over floats at -O3. NaNs are skipped either way. */
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)a[i] - b[i]), v = fabs((double)b[i]);
    if (e > d) d = e;
    if (v > s) s = v;
  }
  return d / s;
}

static int bench_shape(pare_cl_runtime *rt, const pare_bench_opts *o, size_t rows, size_t m,
                       size_t k) {
  static const double sparsities[] = {0.5, 0.7, 0.9};
  int status = 1;
  float *w = malloc(m * k * 4), *wt = malloc(m * k * 4), *bias = malloc(m * 4);
  float *x = malloc(rows * k * 4), *y0 = malloc(rows * m * 4), *y1 = malloc(rows * m * 4);
  cl_mem dwt = NULL, dbias = NULL, dx = NULL, dy = NULL;
  pare_spact_cl s = {0};
  pare_error err;
  if (!w || !wt || !bias || !x || !y0 || !y1) {
    fprintf(stderr, "pare-bench: spact_f32 %zux%zux%zu: out of memory\n", rows, m, k);
    goto done;
  }
  pare_bench_fill(w, m * k, 1);
  pare_bench_fill(bias, m, 3);
  if (pare_ref_spact_transpose_f32(m, k, w, wt) != PARE_REF_SPACT_OK) goto done;
  if (!(dwt = pare_bench_buffer(rt, m * k * 4, wt, &err)) ||
      !(dbias = pare_bench_buffer(rt, m * 4, bias, &err)) ||
      !(dx = pare_bench_buffer(rt, rows * k * 4, NULL, &err)) ||
      !(dy = pare_bench_buffer(rt, rows * m * 4, NULL, &err)) ||
      pare_spact_scratch_alloc(rt, rows, k, &s, &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    goto done;
  }
  /* Y = X·Wᵀ + b as the executor runs a Gemm with a constant transB = 1
   * weight: over Wᵀ [K × M], stored once. */
  pare_gemm_f32_args g = {0, 0, rows, m, k, 1.0f, 0.0f, dx, dwt, dy, dbias,
                          0, 0, 0,    k, m, m,    1,    0,  0,   0};
  pare_spact_f32_args a = {rows, m, k, dx, 0, k, dwt, dbias, 0, dy, 0, m};
  spact_case c;
  memset(&c, 0, sizeof c);
  c.rt = rt, c.gemm = &g, c.args = &a, c.scratch = &s;
  char shape[48];
  snprintf(shape, sizeof shape, "%zux%zux%zu", rows, m, k);
  for (size_t si = 0; si < sizeof sparsities / sizeof sparsities[0]; si++) {
    const double sp = sparsities[si];
    uint64_t seed = 77 + si;
    pare_bench_fill(x, rows * k, 2 + si);
    size_t nnz = 0;
    for (size_t i = 0; i < rows * k; i++) {
      if (uniform(&seed) < sp)
        x[i] = 0.0f;
      else
        nnz++;
    }
    if (pare_cl_write(rt, dx, 0, rows * k * 4, x, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      goto done;
    }
    /* Outputs first (they must agree), then the timings. */
    c.variant = V_DENSE;
    int bad = run_device(&c) || pare_cl_read(rt, dy, 0, rows * m * 4, y0, &c.err) != PARE_OK;
    c.variant = V_SPACT;
    bad = bad || run_device(&c) || pare_cl_read(rt, dy, 0, rows * m * 4, y1, &c.err) != PARE_OK;
    pare_bench_timing t[V_COUNT];
    memset(t, 0, sizeof t);
    if (bad || time_interleaved(&c, o, t)) {
      fprintf(stderr, "pare-bench: spact_f32 %s failed: %s\n", shape, c.err.text);
      goto done;
    }
    const double dense_ms = t[V_DENSE].ms_median;
    for (int v = 0; v < V_COUNT; v++) {
      json_row(rt, variant_names[v], rows, m, k, sp, nnz, t[v], v == V_DENSE ? 0 : dense_ms);
      fprintf(stderr, "%-16s %7.0f%% %-14s %9.4f ms", shape, sp * 100, variant_names[v],
              t[v].ms_median);
      if (v != V_DENSE) fprintf(stderr, "  %6.2fx dense", dense_ms / t[v].ms_median);
      fprintf(stderr, "\n");
    }
    const double d = rel_diff(y1, y0, rows * m);
    if (!(d <= 1e-4)) {
      fprintf(stderr, "pare-bench: spact_f32 %s: sparse and dense differ by %.3g\n", shape, d);
      goto done;
    }
  }
  status = 0;
done:
  pare_spact_scratch_release(rt, &s);
  cl_mem bufs[] = {dwt, dbias, dx, dy};
  for (size_t i = 0; i < sizeof bufs / sizeof bufs[0]; i++)
    if (bufs[i]) rt->cl->clReleaseMemObject(bufs[i]);
  free(w), free(wt), free(bias), free(x), free(y0), free(y1);
  return status;
}

int pare_bench_spact_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const size_t defaults[][3] = {{1, 300, 784},  {64, 300, 784},  {1, 100, 300},
                                       {64, 100, 300}, {1, 1024, 1024}, {64, 1024, 1024}};
  size_t shapes[32][3];
  int ns = 0;
  if (o->shapes) {
    const char *p = o->shapes;
    while (*p && ns < 32) {
      unsigned long r, m, k;
      int used = 0;
      if (sscanf(p, "%lu,%lu,%lu%n", &r, &m, &k, &used) != 3 || !r || !m || !k) {
        fprintf(stderr, "pare-bench: --shapes: expected ROWS,M,K;ROWS,M,K... at \"%s\"\n", p);
        return 2;
      }
      shapes[ns][0] = r, shapes[ns][1] = m, shapes[ns][2] = k;
      ns++;
      p += used;
      if (*p == ';') p++;
    }
  } else {
    ns = (int)(sizeof defaults / sizeof defaults[0]);
    memcpy(shapes, defaults, sizeof defaults);
  }
  fprintf(stderr, "%-16s %8s %-14s %12s  (speedups: dense ms / this ms)\n", "rows x M x K",
          "sparsity", "variant", "median");
  int status = 0;
  for (int i = 0; i < ns && !status; i++)
    status = bench_shape(rt, o, shapes[i][0], shapes[i][1], shapes[i][2]);
  return status;
}
