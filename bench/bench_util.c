/* Timing and data helpers shared by the benches. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

int pare_bench_time_variants(int warmup, int reps, int n, int (*run)(void *arg, int variant),
                             void *arg, pare_bench_timing *t) {
  memset(t, 0, sizeof *t * (size_t)n);
  double *ms = reps > 0 ? calloc((size_t)(reps * n), sizeof *ms) : NULL;
  if (!ms) return 1;
  for (int i = 0; i < warmup + reps; i++)
    for (int v = 0; v < n; v++) {
      double t0 = pare_now();
      if (run(arg, v) != 0) {
        free(ms);
        memset(t, 0, sizeof *t * (size_t)n);
        return 1;
      }
      double elapsed = (pare_now() - t0) * 1e3;
      if (i == 0) t[v].ms_first = elapsed;
      if (i >= warmup) ms[v * reps + i - warmup] = elapsed;
    }
  for (int v = 0; v < n; v++) {
    double *m = ms + v * reps;
    t[v].ms_min = m[0];
    for (int i = 1; i < reps; i++)
      if (m[i] < t[v].ms_min) t[v].ms_min = m[i];
    t[v].ms_median = pare_median(m, reps); /* sorts m */
    t[v].ms_p90 = m[(size_t)((reps - 1) * 0.90 + 0.5)];
    t[v].ms_p99 = m[(size_t)((reps - 1) * 0.99 + 0.5)];
    t[v].ok = 1;
  }
  free(ms);
  return 0;
}

typedef struct one_run {
  int (*run)(void *arg);
  void *arg;
} one_run;

static int run_one(void *arg, int variant) {
  (void)variant;
  one_run *r = arg;
  return r->run(r->arg);
}

pare_bench_timing pare_bench_time(int warmup, int reps, int (*run)(void *arg), void *arg) {
  pare_bench_timing t;
  one_run r = {run, arg};
  pare_bench_time_variants(warmup, reps, 1, run_one, &r, &t);
  return t;
}

void pare_bench_fill(float *x, size_t n, uint64_t seed) {
  uint64_t s = seed * 6364136223846793005u + 1442695040888963407u;
  for (size_t i = 0; i < n; i++) {
    s = s * 6364136223846793005u + 1442695040888963407u;
    x[i] = (float)(s >> 40) / 8388608.0f - 1.0f;
  }
}

void pare_bench_row_gbs(pare_cl_runtime *rt, const char *kernel, const char *variant,
                        const char *name, const char *shape, pare_bench_timing t, double bytes,
                        double ref_ms) {
  printf("{\"kernel\": \"%s\", \"variant\": \"%s\", \"case\": \"%s\", \"profile\": "
         "\"%s\", \"device\": \"%s\", \"shape\": \"%s\", \"ms_min\": %.4f, \"ms_median\": %.4f, "
         "\"gb_per_s\": %.2f",
         kernel, variant, name, rt->profile->name, rt->info.name, shape, t.ms_min, t.ms_median,
         bytes / (t.ms_median * 1e6));
  if (ref_ms > 0) printf(", \"ratio_vs_reference\": %.3f", ref_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

cl_mem pare_bench_buffer(pare_cl_runtime *rt, size_t bytes, const void *host, pare_error *err) {
  cl_mem m = NULL;
  if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, bytes ? bytes : 1, host, &m, err) != PARE_OK)
    return NULL;
  return m;
}

int pare_bench_gemm_shapes(const pare_bench_opts *o, const size_t (*defaults)[3], int n_defaults,
                           size_t max_k, size_t shapes[32][3], int *ns) {
  *ns = 0;
  if (!o->shapes) {
    for (int i = 0; i < n_defaults && i < 32; i++) memcpy(shapes[i], defaults[i], sizeof shapes[i]);
    *ns = n_defaults < 32 ? n_defaults : 32;
    return 0;
  }
  for (const char *p = o->shapes; *p && *ns < 32;) {
    unsigned long m, n, k;
    int used = 0;
    if (sscanf(p, "%lu,%lu,%lu%n", &m, &n, &k, &used) != 3 || !m || !n || !k || k > max_k) {
      if (max_k < SIZE_MAX)
        fprintf(stderr, "pare-bench: --shapes: expected M,N,K;M,N,K... (K <= %zu) at \"%s\"\n",
                max_k, p);
      else
        fprintf(stderr, "pare-bench: --shapes: expected M,N,K;M,N,K... at \"%s\"\n", p);
      return 2;
    }
    shapes[*ns][0] = m, shapes[*ns][1] = n, shapes[*ns][2] = k;
    (*ns)++;
    p += used;
    if (*p == ';') p++;
  }
  return 0;
}

void pare_bench_json_field(const char *line, const char *name, char *out, size_t size) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", name);
  const char *p = strstr(line, pat);
  out[0] = '\0';
  if (!p) return;
  p += strlen(pat);
  size_t n = 0;
  if (*p == '"')
    for (p++; *p && *p != '"' && n + 1 < size; p++) out[n++] = *p;
  else
    for (; *p && *p != ',' && *p != '}' && n + 1 < size; p++) out[n++] = *p;
  out[n] = '\0';
}
