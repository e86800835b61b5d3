/* pare-bench conv2d_grad_f32: pare's convolution backward (dx, dw and db
 * together) vs pare_ref_conv_backward_f32 on the same data, in one run. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/grad.h"
#include "host/launch/conv2d_grad_f32.h"

typedef struct grad_shape {
  const char *name;
  size_t n, c, h, w, m, k, group, stride, pad;
} grad_shape;

typedef struct grad_bench {
  pare_cl_runtime *rt;
  pare_conv2d_f32_args a;
  pare_ref_conv_params p;
  int64_t xd[4], wd[4];
  const float *x, *w, *dy;
  float *rdx, *rdw, *rdb;
  cl_mem dy_buf, dx_buf, dw_buf, db_buf, scratch;
  pare_error err;
} grad_bench;

static int run_pare(void *arg) {
  grad_bench *b = arg;
  if (pare_launch_conv2d_grad_f32(b->rt, &b->a, b->dy_buf, b->dx_buf, b->dw_buf, b->db_buf,
                                  b->scratch, NULL, &b->err) != PARE_OK)
    return 1;
  return pare_cl_finish(b->rt, &b->err) != PARE_OK;
}

static int run_reference(void *arg) {
  grad_bench *b = arg;
  return pare_ref_conv_backward_f32(&b->p, b->x, b->xd, b->w, b->wd, b->dy, b->rdx, b->rdw,
                                    b->rdb) != PARE_REF_OK;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) {
    double d = fabs((double)a[i] - (double)b[i]);
    if (!(d <= m)) m = d;
  }
  return m;
}

static void json_row(pare_cl_runtime *rt, const grad_shape *s, const char *variant,
                     pare_bench_timing t, double flops, double ref_ms, double max_err) {
  printf("{\"kernel\": \"conv2d_grad_f32\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%s n%zu c%zu %zux%zu m%zu k%zu g%zu s%zu p%zu\", "
         "\"ms_min\": %.4f, \"ms_median\": %.4f, \"gflops\": %.2f",
         variant, rt->profile->name, rt->info.name, s->name, s->n, s->c, s->h, s->w, s->m, s->k,
         s->group, s->stride, s->pad, t.ms_min, t.ms_median, flops / (t.ms_median * 1e6));
  if (ref_ms > 0) printf(", \"ratio_vs_reference\": %.3f", ref_ms / t.ms_median);
  if (max_err >= 0) printf(", \"max_abs_err\": %.3g", max_err);
  printf("}\n");
  fflush(stdout);
}

static int bench_shape(pare_cl_runtime *rt, const pare_bench_opts *o, const grad_shape *s) {
  grad_bench b;
  memset(&b, 0, sizeof b);
  b.rt = rt;
  pare_conv2d_f32_args *a = &b.a;
  size_t cg = s->c / s->group;
  a->n = s->n, a->c = s->c, a->h = s->h, a->w = s->w, a->m = s->m, a->kh = s->k, a->kw = s->k;
  a->group = s->group;
  a->stride_h = a->stride_w = s->stride;
  a->dil_h = a->dil_w = 1;
  a->pad_top = a->pad_left = a->pad_bottom = a->pad_right = s->pad;
  a->oh = (s->h + 2 * s->pad - s->k) / s->stride + 1;
  a->ow = (s->w + 2 * s->pad - s->k) / s->stride + 1;
  a->act = PARE_CONV2D_ACT_NONE;
  pare_ref_conv_params_init(&b.p, 2);
  b.p.group = (int64_t)s->group;
  for (int i = 0; i < 2; i++) b.p.win.strides[i] = (int64_t)s->stride;
  for (int i = 0; i < 4; i++) b.p.win.pads[i] = (int64_t)s->pad;
  int64_t xd[4] = {(int64_t)s->n, (int64_t)s->c, (int64_t)s->h, (int64_t)s->w};
  int64_t wd[4] = {(int64_t)s->m, (int64_t)cg, (int64_t)s->k, (int64_t)s->k};
  memcpy(b.xd, xd, sizeof xd);
  memcpy(b.wd, wd, sizeof wd);
  size_t nx = s->n * s->c * s->h * s->w, nw = s->m * cg * s->k * s->k;
  size_t P = a->oh * a->ow, ny = s->n * s->m * P;
  float *x = malloc(nx * 4), *w = malloc(nw * 4), *dy = malloc(ny * 4);
  float *rdx = malloc(nx * 4), *rdw = malloc(nw * 4), *rdb = malloc(s->m * 4);
  float *gdx = malloc(nx * 4), *gdw = malloc(nw * 4), *gdb = malloc(s->m * 4);
  int status = 0;
  pare_error err;
  cl_mem bufs[7] = {NULL};
  if (!x || !w || !dy || !rdx || !rdw || !rdb || !gdx || !gdw || !gdb) {
    status = 1;
    goto done;
  }
  pare_bench_fill(x, nx, 1);
  pare_bench_fill(w, nw, 2);
  pare_bench_fill(dy, ny, 3);
  b.x = x, b.w = w, b.dy = dy, b.rdx = rdx, b.rdw = rdw, b.rdb = rdb;
  if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, nx * 4, x, &bufs[0], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_ONLY, nw * 4, w, &bufs[1], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_ONLY, ny * 4, dy, &bufs[2], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, nx * 4, NULL, &bufs[3], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, nw * 4, NULL, &bufs[4], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, s->m * 4, NULL, &bufs[5], &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    status = 1;
    goto done;
  }
  a->x = bufs[0], a->weight = bufs[1];
  b.dy_buf = bufs[2], b.dx_buf = bufs[3], b.dw_buf = bufs[4], b.db_buf = bufs[5];
  size_t scratch = pare_conv2d_grad_f32_scratch_bytes(rt, a);
  if (scratch) {
    if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, scratch, NULL, &bufs[6], &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      status = 1;
      goto done;
    }
    b.scratch = bufs[6];
  }
  /* dx and dw: one multiply-add each per (output, reduction) pair. */
  double flops = 2.0 * 2.0 * (double)ny * (double)(cg * s->k * s->k) + (double)ny;

  pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_pare, &b);
  if (!tp.ok) {
    fprintf(stderr, "pare-bench: conv2d_grad_f32 failed: %s\n", b.err.text);
    status = 1;
    goto done;
  }
  /* The reference is slow: one timed run, in this same process. */
  int ref_reps = o->ref_max_reps < 1 ? 0 : 1;
  pare_bench_timing tr = {0};
  double max_err = -1;
  if (ref_reps > 0) {
    tr = pare_bench_time(0, ref_reps, run_reference, &b);
    if (tr.ok && pare_cl_read(rt, b.dx_buf, 0, nx * 4, gdx, &err) == PARE_OK &&
        pare_cl_read(rt, b.dw_buf, 0, nw * 4, gdw, &err) == PARE_OK &&
        pare_cl_read(rt, b.db_buf, 0, s->m * 4, gdb, &err) == PARE_OK) {
      max_err = max_abs_diff(gdx, rdx, nx);
      double e = max_abs_diff(gdw, rdw, nw);
      if (e > max_err) max_err = e;
      e = max_abs_diff(gdb, rdb, s->m);
      if (e > max_err) max_err = e;
    }
  }
  if (tr.ok) json_row(rt, s, "reference", tr, flops, 0, -1);
  json_row(rt, s, "pare", tp, flops, tr.ok ? tr.ms_median : 0, max_err);
  fprintf(stderr, "%-14s %9.3f %9.1f %9.3f %9.1fx\n", s->name, tp.ms_median,
          flops / (tp.ms_median * 1e6), tr.ok ? tr.ms_median : 0,
          tr.ok ? tr.ms_median / tp.ms_median : 0);
done:
  for (int i = 0; i < 7; i++)
    if (bufs[i]) rt->cl->clReleaseMemObject(bufs[i]);
  free(x);
  free(w);
  free(dy);
  free(rdx);
  free(rdw);
  free(rdb);
  free(gdx);
  free(gdw);
  free(gdb);
  return status;
}

int pare_bench_conv2d_grad_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const grad_shape shapes[] = {
      /* name         n   c   h   w   m   k  g  s  p */
      {"mnist_conv1", 64, 1, 28, 28, 16, 3, 1, 1, 1},
      {"mnist_conv2", 64, 16, 14, 14, 32, 3, 1, 1, 1},
      {"resnet_3x3", 1, 64, 56, 56, 64, 3, 1, 1, 1},
  };
  if (o->shapes) fprintf(stderr, "pare-bench: conv2d_grad_f32 ignores --shapes\n");
  fprintf(stderr, "%-14s %9s %9s %9s %10s\n", "shape (dx+dw+db)", "pare ms", "GF/s", "ref ms",
          "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !status; i++)
    status = bench_shape(rt, o, &shapes[i]);
  return status;
}
