/* pare-bench svd_f32: the batched one-sided Jacobi SVD on the device vs
 * LAPACKE_sgesvd (jobu = jobvt = 'S': thin U and Vt, like for like with the
 * device's outputs) looped over the batch on the host, in one
 * run, for 64×(64×64), 16×(256×256) and 1×(1024×1024) (--shapes
 * BxMxN[,BxMxN...] replaces them). Without LAPACKE at build time the
 * baseline is pare_ref_svd_f32 (at most --ref-reps timed runs), and the rows
 * say so. Device times include every launch, the flag reads between sweeps
 * and clFinish; the 1024 case takes at most 3 timed runs and 1 warm-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/svd.h"
#include "host/launch/svd_f32.h"

#ifdef PARE_HAVE_LAPACKE
#include <lapacke.h>
#define SVD_BASELINE "lapacke_sgesvd"
#else
#define SVD_BASELINE "reference"
#endif

typedef struct svd_bench {
  pare_cl_runtime *rt;
  size_t batch, m, n, k;
  float *a, *work, *u, *s, *vt, *superb;
  cl_mem da, du, ds, dvt, dscr;
  pare_error err;
} svd_bench;

static int run_device(void *arg) {
  svd_bench *c = arg;
  if (pare_launch_svd_f32(c->rt, c->batch, c->m, c->n, c->da, c->du, c->ds, c->dvt, NULL, c->dscr,
                          &c->err) != PARE_OK)
    return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_baseline(void *arg) {
  svd_bench *c = arg;
  for (size_t b = 0; b < c->batch; b++) {
    const float *ab = c->a + b * c->m * c->n;
    float *u = c->u + b * c->m * c->k, *s = c->s + b * c->k, *vt = c->vt + b * c->k * c->n;
#ifdef PARE_HAVE_LAPACKE
    memcpy(c->work, ab, c->m * c->n * sizeof *ab); /* sgesvd overwrites its input */
    if (LAPACKE_sgesvd(LAPACK_ROW_MAJOR, 'S', 'S', (lapack_int)c->m, (lapack_int)c->n, c->work,
                       (lapack_int)c->n, s, u, (lapack_int)c->k, vt, (lapack_int)c->n,
                       c->superb) != 0)
      return 1;
#else
    if (pare_ref_svd_f32(c->m, c->n, ab, u, s, vt, NULL) != PARE_REF_SVD_OK) return 1;
#endif
  }
  return 0;
}

static void json_row(pare_cl_runtime *rt, const char *variant, const svd_bench *c,
                     pare_bench_timing t, double base_ms) {
  printf("{\"kernel\": \"svd_f32\", \"variant\": \"%s\", \"case\": \"svd\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"ms_min\": %.4f, \"ms_median\": %.4f",
         variant, rt->profile->name, rt->info.name, c->batch, c->m, c->n, t.ms_min, t.ms_median);
  if (base_ms > 0)
    printf(", \"baseline\": \"%s\", \"baseline_ms\": %.4f, \"ratio_vs_baseline\": %.3f",
           SVD_BASELINE, base_ms, base_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

static void release(svd_bench *c) {
  cl_mem *mems[5] = {&c->da, &c->du, &c->ds, &c->dvt, &c->dscr};
  for (int i = 0; i < 5; i++)
    if (*mems[i]) c->rt->cl->clReleaseMemObject(*mems[i]);
  free(c->a), free(c->work), free(c->u), free(c->s), free(c->vt), free(c->superb);
}

static int bench_case(pare_cl_runtime *rt, const pare_bench_opts *o, size_t batch, size_t m,
                      size_t n) {
  svd_bench c;
  memset(&c, 0, sizeof c);
  c.rt = rt;
  c.batch = batch;
  c.m = m;
  c.n = n;
  c.k = m < n ? m : n;
  size_t scr = pare_svd_f32_scratch_bytes(batch, m, n);
  int status = 1;
  c.a = malloc(batch * m * n * 4);
  c.work = malloc(m * n * 4);
  c.u = malloc(batch * m * c.k * 4);
  c.s = malloc(batch * c.k * 4);
  c.vt = malloc(batch * c.k * n * 4);
  c.superb = malloc(c.k * 4);
  if (!c.a || !c.work || !c.u || !c.s || !c.vt || !c.superb || scr == SIZE_MAX) {
    fprintf(stderr, "pare-bench: svd_f32 %zux%zux%zu: out of memory or too large\n", batch, m, n);
    goto done;
  }
  pare_bench_fill(c.a, batch * m * n, 7);
  if (!(c.da = pare_bench_buffer(rt, batch * m * n * 4, c.a, &c.err)) ||
      !(c.du = pare_bench_buffer(rt, batch * m * c.k * 4, NULL, &c.err)) ||
      !(c.ds = pare_bench_buffer(rt, batch * c.k * 4, NULL, &c.err)) ||
      !(c.dvt = pare_bench_buffer(rt, batch * c.k * n * 4, NULL, &c.err)) ||
      !(c.dscr = pare_bench_buffer(rt, scr, NULL, &c.err))) {
    fprintf(stderr, "pare-bench: %s\n", c.err.text);
    goto done;
  }
  const int big = c.k >= 1024;
  int reps = big && o->reps > 3 ? 3 : o->reps, warmup = big && o->warmup > 1 ? 1 : o->warmup;
  pare_bench_timing td = pare_bench_time(warmup, reps, run_device, &c);
  if (!td.ok) {
    fprintf(stderr, "pare-bench: svd_f32 %zux%zux%zu failed: %s\n", batch, m, n, c.err.text);
    goto done;
  }
#ifdef PARE_HAVE_LAPACKE
  int breps = reps, bwarm = warmup;
#else
  int breps = o->ref_max_reps < reps ? o->ref_max_reps : reps, bwarm = warmup > 0 ? 1 : 0;
#endif
  pare_bench_timing tb =
      breps > 0 ? pare_bench_time(bwarm, breps, run_baseline, &c) : (pare_bench_timing){0};
  double base_ms = tb.ok ? tb.ms_median : 0;
  if (tb.ok) json_row(rt, SVD_BASELINE, &c, tb, 0);
  json_row(rt, "pare", &c, td, base_ms);
  char shape[48];
  snprintf(shape, sizeof shape, "%zux(%zux%zu)", batch, m, n);
  if (tb.ok)
    fprintf(stderr, "%-18s %12.3f %14.3f %9.2fx  %s\n", shape, td.ms_median, base_ms,
            base_ms / td.ms_median, SVD_BASELINE);
  else
    fprintf(stderr, "%-18s %12.3f %14s %10s  %s not timed\n", shape, td.ms_median, "-", "-",
            SVD_BASELINE);
  status = 0;
done:
  release(&c);
  return status;
}

int pare_bench_svd_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  size_t cases[16][3] = {{64, 64, 64}, {16, 256, 256}, {1, 1024, 1024}};
  size_t count = 3;
  if (o->shapes) {
    count = 0;
    const char *p = o->shapes;
    while (*p && count < 16) {
      unsigned long long b, m, n;
      int used = 0;
      if (sscanf(p, "%llux%llux%llu%n", &b, &m, &n, &used) != 3 || !b || !m || !n) {
        fprintf(stderr, "pare-bench: svd_f32 --shapes: expected BxMxN[,BxMxN...]\n");
        return 2;
      }
      cases[count][0] = (size_t)b, cases[count][1] = (size_t)m, cases[count][2] = (size_t)n;
      count++;
      p += used;
      if (*p == ',') p++;
    }
  }
  fprintf(stderr, "%-18s %12s %14s %10s  baseline\n", "batch x (m x n)", "device ms", "baseline ms",
          "ratio");
  int status = 0;
  for (size_t i = 0; i < count && !status; i++)
    status = bench_case(rt, o, cases[i][0], cases[i][1], cases[i][2]);
  return status;
}
