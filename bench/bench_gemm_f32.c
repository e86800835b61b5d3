/* pare-bench gemm_f32: pare's GEMM kernel vs CLBlast's SGEMM vs the
 * reference, on the same buffers, in one run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/ref.h"
#include "host/launch/launch.h"

typedef pare_status (*gemm_fn)(pare_cl_runtime *, const pare_gemm_f32_args *, cl_event *,
                               pare_error *);

typedef struct gemm_case {
  pare_cl_runtime *rt;
  gemm_fn fn;
  const pare_gemm_f32_args *g;
  const float *a, *b;
  float *c;
  pare_error err;
} gemm_case;

/* Enqueue + finish: counts every kernel a path launches. */
static int run_device(void *arg) {
  gemm_case *c = arg;
  if (c->fn(c->rt, c->g, NULL, &c->err) != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_reference(void *arg) {
  gemm_case *c = arg;
  const pare_gemm_f32_args *g = c->g;
  pare_ref_gemm_f32(g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha, c->a, g->lda, c->b, g->ldb,
                    g->beta, c->c, g->ldc, NULL);
  return 0;
}

static void json_row(pare_cl_runtime *rt, const char *variant, size_t m, size_t n, size_t k,
                     pare_bench_timing t, double flops, double clblast_ms, double ref_ms) {
  printf("{\"kernel\": \"gemm_f32\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"ms_min\": %.4f, "
         "\"ms_median\": %.4f, \"gflops\": %.2f",
         variant, rt->profile->name, rt->info.name, m, n, k, t.ms_min, t.ms_median,
         flops / (t.ms_median * 1e6));
  if (clblast_ms > 0) printf(", \"ratio_vs_clblast\": %.3f", clblast_ms / t.ms_median);
  if (ref_ms > 0) printf(", \"ratio_vs_reference\": %.3f", ref_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

int pare_bench_gemm_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const size_t defaults[][3] = {{128, 128, 128},    {256, 256, 256}, {512, 512, 512},
                                       {1024, 1024, 1024}, {64, 3136, 576}, {256, 196, 2304},
                                       {64, 10, 1568}};
  size_t shapes[32][3];
  int ns = 0;
  if (pare_bench_gemm_shapes(o, defaults, (int)(sizeof defaults / sizeof defaults[0]), SIZE_MAX,
                             shapes, &ns))
    return 2;
  fprintf(stderr, "%-16s %10s %10s %10s %10s %9s\n", "shape MxNxK", "pare GF/s", "clblast",
          "reference", "vs clblast", "vs ref");
  int status = 0;
  for (int s = 0; s < ns && !status; s++) {
    size_t m = shapes[s][0], n = shapes[s][1], k = shapes[s][2];
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = calloc(m * n, 4);
    cl_mem ba = NULL, bb = NULL, bc = NULL;
    pare_error err;
    if (!a || !b || !c) {
      status = 1;
      goto next;
    }
    pare_bench_fill(a, m * k, 1);
    pare_bench_fill(b, k * n, 2);
    if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, m * k * 4, a, &ba, &err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_ONLY, k * n * 4, b, &bb, &err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_WRITE, m * n * 4, c, &bc, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      status = 1;
      goto next;
    }
    pare_gemm_f32_args g = {0, 0, m, n, k, 1.0f, 0.0f, ba, bb, bc, NULL,
                            0, 0, 0, k, n, n,    1,    0,  0,  0};
    double flops = 2.0 * (double)m * (double)n * (double)k;
    gemm_case cc = {rt, pare_clblast_gemm_f32, &g, a, b, c, {{0}}};
    gemm_case cp = {rt, pare_launch_gemm_f32, &g, a, b, c, {{0}}};
    gemm_case cr = {rt, NULL, &g, a, b, c, {{0}}};
    pare_bench_timing tc = pare_bench_time(o->warmup, o->reps, run_device, &cc);
    pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_device, &cp);
    int ref_reps = o->reps < o->ref_max_reps ? o->reps : o->ref_max_reps;
    pare_bench_timing tr = pare_bench_time(0, ref_reps, run_reference, &cr);
    if (!tp.ok) {
      fprintf(stderr, "pare-bench: gemm_f32 failed: %s\n", cp.err.text);
      status = 1;
      goto next;
    }
    if (tc.ok) json_row(rt, "clblast", m, n, k, tc, flops, 0, 0);
    if (tr.ok) json_row(rt, "reference", m, n, k, tr, flops, 0, 0);
    json_row(rt, "pare", m, n, k, tp, flops, tc.ok ? tc.ms_median : 0, tr.ok ? tr.ms_median : 0);
    char shape[48];
    snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
    fprintf(stderr, "%-16s %10.1f %10.1f %10.2f %9.2fx %8.1fx\n", shape,
            flops / (tp.ms_median * 1e6), tc.ok ? flops / (tc.ms_median * 1e6) : 0,
            tr.ok ? flops / (tr.ms_median * 1e6) : 0, tc.ok ? tc.ms_median / tp.ms_median : 0,
            tr.ok ? tr.ms_median / tp.ms_median : 0);
  next:
    if (ba) rt->cl->clReleaseMemObject(ba);
    if (bb) rt->cl->clReleaseMemObject(bb);
    if (bc) rt->cl->clReleaseMemObject(bc);
    free(a);
    free(b);
    free(c);
  }
  return status;
}
