/* pare-bench pool_f32: the pooling kernels vs the plain-C reference on
 * shapes of a small CNN at batch 64 (default; --shapes B sets the batch),
 * in one run. Device times include enqueue and clFinish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/ops.h"
#include "host/launch/pool_f32.h"

typedef struct pool_bench {
  pare_cl_runtime *rt;
  int global, is_max;
  pare_ref_pool_params p;
  int64_t x_dims[4];
  float *x, *y;
  cl_mem dx, dy;
  pare_error err;
} pool_bench;

static int run_device(void *arg) {
  pool_bench *c = arg;
  pare_status st;
  if (c->global)
    st = pare_launch_global_pool_f32(c->rt, c->is_max, (size_t)(c->x_dims[0] * c->x_dims[1]),
                                     (size_t)(c->x_dims[2] * c->x_dims[3]), c->dx, c->dy, NULL,
                                     &c->err);
  else
    st = pare_launch_pool2d_f32(c->rt, c->is_max, &c->p, c->x_dims, c->dx, c->dy, NULL, &c->err);
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_reference(void *arg) {
  pool_bench *c = arg;
  int rc;
  if (c->global)
    rc = c->is_max ? pare_ref_global_maxpool_f32(c->x, 4, c->x_dims, c->y)
                   : pare_ref_global_avgpool_f32(c->x, 4, c->x_dims, c->y);
  else
    rc = c->is_max ? pare_ref_maxpool_f32(&c->p, c->x, c->x_dims, c->y, NULL)
                   : pare_ref_avgpool_f32(&c->p, c->x, c->x_dims, c->y, NULL);
  return rc != PARE_REF_OK;
}

int pare_bench_pool_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  int64_t B = 64;
  if (o->shapes && (sscanf(o->shapes, "%lld", (long long *)&B) != 1 || B < 1)) {
    fprintf(stderr, "pare-bench: pool_f32 --shapes: expected a batch size\n");
    return 2;
  }
  const struct {
    const char *name;
    int global, is_max;
    int64_t k, s, pad;
    int64_t x[4];
  } cases[] = {
      {"maxpool_2x2_s2", 0, 1, 2, 2, 0, {B, 16, 28, 28}},
      {"avgpool_2x2_s2", 0, 0, 2, 2, 0, {B, 16, 28, 28}},
      {"maxpool_3x3_s2_p1", 0, 1, 3, 2, 1, {B, 32, 28, 28}},
      {"avgpool_3x3_s1_p1", 0, 0, 3, 1, 1, {B, 32, 14, 14}},
      {"global_avgpool", 1, 0, 0, 0, 0, {B, 512, 7, 7}},
      {"global_maxpool", 1, 1, 0, 0, 0, {B, 512, 7, 7}},
  };
  fprintf(stderr, "%-20s %-14s %10s %10s %8s\n", "case", "shape", "pare ms", "ref ms", "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !status; i++) {
    pool_bench c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.global = cases[i].global;
    c.is_max = cases[i].is_max;
    memcpy(c.x_dims, cases[i].x, sizeof c.x_dims);
    pare_ref_pool_params_init(&c.p, 2);
    int64_t y_dims[4] = {c.x_dims[0], c.x_dims[1], 1, 1};
    if (!c.global) {
      for (int k = 0; k < 2; k++) {
        c.p.win.kernel[k] = cases[i].k;
        c.p.win.strides[k] = cases[i].s;
        c.p.win.pads[k] = c.p.win.pads[2 + k] = cases[i].pad;
      }
      if (pare_ref_pool_shape(&c.p, c.x_dims, y_dims) != PARE_REF_OK) {
        status = 1;
        continue;
      }
    }
    size_t nx = (size_t)(c.x_dims[0] * c.x_dims[1] * c.x_dims[2] * c.x_dims[3]);
    size_t ny = (size_t)(y_dims[0] * y_dims[1] * y_dims[2] * y_dims[3]);
    c.x = malloc(nx * 4);
    c.y = malloc(ny * 4);
    if (!c.x || !c.y) {
      status = 1;
      goto next;
    }
    pare_bench_fill(c.x, nx, 1);
    if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, nx * 4, c.x, &c.dx, &c.err) != PARE_OK ||
        pare_cl_buffer(rt, CL_MEM_READ_WRITE, ny * 4, NULL, &c.dy, &c.err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", c.err.text);
      status = 1;
      goto next;
    }
    pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_device, &c);
    pare_bench_timing tr = pare_bench_time(o->warmup > 0 ? 1 : 0, o->reps, run_reference, &c);
    if (!tp.ok) {
      fprintf(stderr, "pare-bench: pool_f32 %s failed: %s\n", cases[i].name, c.err.text);
      status = 1;
      goto next;
    }
    char shape[64];
    snprintf(shape, sizeof shape, "%lldx%lldx%lldx%lld", (long long)c.x_dims[0],
             (long long)c.x_dims[1], (long long)c.x_dims[2], (long long)c.x_dims[3]);
    double bytes = 4.0 * (double)(nx + ny);
    if (tr.ok) pare_bench_row_gbs(rt, "pool_f32", "reference", cases[i].name, shape, tr, bytes, 0);
    pare_bench_row_gbs(rt, "pool_f32", "pare", cases[i].name, shape, tp, bytes,
                       tr.ok ? tr.ms_median : 0);
    fprintf(stderr, "%-20s %-14s %10.3f %10.3f %7.1fx\n", cases[i].name, shape, tp.ms_median,
            tr.ok ? tr.ms_median : 0, tr.ok ? tr.ms_median / tp.ms_median : 0);
  next:
    if (c.dx) rt->cl->clReleaseMemObject(c.dx);
    if (c.dy) rt->cl->clReleaseMemObject(c.dy);
    free(c.x);
    free(c.y);
  }
  return status;
}
