/* pare-bench softmax_f32: the softmax kernels (the automatic choice, and
 * the row-per-work-group kernel as a second variant) vs the plain-C
 * reference, at batch 64 (default; --shapes B sets the batch), in one run.
 * Device times include enqueue and clFinish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/ops.h"
#include "host/launch/softmax_f32.h"

typedef struct sm_bench {
  pare_cl_runtime *rt;
  int log_out;
  pare_softmax_mode mode;
  size_t rows, cols;
  float *x, *y;
  cl_mem dx, dy;
  pare_error err;
} sm_bench;

static int run_device(void *arg) {
  sm_bench *c = arg;
  if (pare_launch_softmax_mode_f32(c->rt, c->log_out, c->rows, c->cols, c->dx, c->dy, c->mode, NULL,
                                   &c->err) != PARE_OK)
    return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_reference(void *arg) {
  sm_bench *c = arg;
  int64_t dims[2] = {(int64_t)c->rows, (int64_t)c->cols};
  int rc = c->log_out ? pare_ref_log_softmax_f32(c->x, 2, dims, 1, 1, c->y)
                      : pare_ref_softmax_f32(c->x, 2, dims, 1, 1, c->y);
  return rc != PARE_REF_OK;
}

static void json_row(pare_cl_runtime *rt, const char *variant, const char *name, size_t rows,
                     size_t cols, pare_bench_timing t, double ref_ms) {
  printf("{\"kernel\": \"softmax_f32\", \"variant\": \"%s\", \"case\": \"%s\", \"profile\": "
         "\"%s\", \"device\": \"%s\", \"shape\": \"%zux%zu\", \"ms_min\": %.4f, \"ms_median\": "
         "%.4f, \"gb_per_s\": %.2f",
         variant, name, rt->profile->name, rt->info.name, rows, cols, t.ms_min, t.ms_median,
         8.0 * (double)(rows * cols) / (t.ms_median * 1e6));
  if (ref_ms > 0) printf(", \"ratio_vs_reference\": %.3f", ref_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

int pare_bench_softmax_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  long long B = 64;
  if (o->shapes && (sscanf(o->shapes, "%lld", &B) != 1 || B < 1)) {
    fprintf(stderr, "pare-bench: softmax_f32 --shapes: expected a batch size\n");
    return 2;
  }
  const struct {
    const char *name;
    int log_out;
    size_t cols;
  } cases[] = {
      {"softmax", 0, 10}, {"softmax", 0, 1000}, {"logsoftmax", 1, 1000}, {"softmax", 0, 21841}};
  fprintf(stderr, "%-12s %-12s %10s %10s %10s %8s\n", "case", "shape", "pare ms", "group ms",
          "ref ms", "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !status; i++) {
    sm_bench c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.log_out = cases[i].log_out;
    c.rows = (size_t)B;
    c.cols = cases[i].cols;
    size_t n = c.rows * c.cols;
    c.x = malloc(n * 4);
    c.y = malloc(n * 4);
    if (!c.x || !c.y) {
      status = 1;
      goto next;
    }
    pare_bench_fill(c.x, n, 1);
    for (size_t j = 0; j < n; j++) c.x[j] *= 8.0f;
    if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, n * 4, c.x, &c.dx, &c.err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_WRITE, n * 4, NULL, &c.dy, &c.err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", c.err.text);
      status = 1;
      goto next;
    }
    c.mode = PARE_SOFTMAX_AUTO;
    pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_device, &c);
    c.mode = PARE_SOFTMAX_ROW_PER_GROUP;
    pare_bench_timing tg = pare_bench_time(o->warmup, o->reps, run_device, &c);
    pare_bench_timing tr = pare_bench_time(o->warmup > 0 ? 1 : 0, o->reps, run_reference, &c);
    if (!tp.ok || !tg.ok) {
      fprintf(stderr, "pare-bench: softmax_f32 %s failed: %s\n", cases[i].name, c.err.text);
      status = 1;
      goto next;
    }
    double ref_ms = tr.ok ? tr.ms_median : 0;
    if (tr.ok) json_row(rt, "reference", cases[i].name, c.rows, c.cols, tr, 0);
    json_row(rt, "pare", cases[i].name, c.rows, c.cols, tp, ref_ms);
    json_row(rt, "pare_group", cases[i].name, c.rows, c.cols, tg, ref_ms);
    char shape[48];
    snprintf(shape, sizeof shape, "%zux%zu", c.rows, c.cols);
    fprintf(stderr, "%-12s %-12s %10.3f %10.3f %10.3f %7.1fx\n", cases[i].name, shape, tp.ms_median,
            tg.ms_median, ref_ms, ref_ms > 0 ? ref_ms / tp.ms_median : 0);
  next:
    if (c.dx) rt->cl->clReleaseMemObject(c.dx);
    if (c.dy) rt->cl->clReleaseMemObject(c.dy);
    free(c.x);
    free(c.y);
  }
  return status;
}
