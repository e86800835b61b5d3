/* pare-bench conv2d_f32: pare's convolution vs the reference Conv and vs a
 * simple baseline (im2col on the host, upload, CLBlast SGEMM per image and
 * group; no bias), on the same data, in one run; where the plan is the
 * implicit GEMM, also against pare's im2col + GEMM path, interleaved; where
 * a 2×2/2 MaxPool fits the path, also conv + relu + pool in one launch
 * sequence (the pooling in the epilogue) against the convolution and a
 * pool_f32 launch after it, interleaved; for stride-1 shapes with 70% of
 * the weights zeroed, the weight buffer against the weights baked into
 * the implicit GEMM's code, interleaved. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/ops.h"
#include "host/launch/conv2d_f32.h"
#include "host/launch/conv2d_geom.h"
#include "host/launch/pool_f32.h"
#include "host/tuning.h"

typedef struct conv_shape {
  const char *name;
  size_t n, c, h, w, m, k, group, stride, pad;
} conv_shape;

typedef struct conv_bench {
  pare_cl_runtime *rt;
  const conv_shape *s;
  pare_conv2d_f32_args a;
  pare_ref_conv_params p;
  int64_t xd[4], wd[4];
  const float *x, *w, *bias;
  float *yref, *col; /* col: host patch matrix of every image, [n][kred·group][P] */
  cl_mem dcol;
  pare_error err;
} conv_bench;

static int run_pare(void *arg) {
  conv_bench *b = arg;
  if (pare_launch_conv2d_f32(b->rt, &b->a, NULL, &b->err) != PARE_OK) return 1;
  return pare_cl_finish(b->rt, &b->err) != PARE_OK;
}

/* The start of a JSON row of shape s (the fields every row has; `note`
 * extends the shape's text); the caller adds its own and closes it. */
static void json_open(pare_cl_runtime *rt, const conv_shape *s, const char *variant,
                      const char *note, pare_bench_timing t, double flops) {
  printf("{\"kernel\": \"conv2d_f32\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%s n%zu c%zu %zux%zu m%zu k%zu g%zu s%zu p%zu%s\", "
         "\"ms_min\": %.4f, \"ms_median\": %.4f, \"gflops\": %.2f",
         variant, rt->profile->name, rt->info.name, s->name, s->n, s->c, s->h, s->w, s->m, s->k,
         s->group, s->stride, s->pad, note, t.ms_min, t.ms_median, flops / (t.ms_median * 1e6));
}

/* Variant 0: the shape's plan; 1: another path (im2col + GEMM, or
 * Winograd), forced through the tuning entry of the shape's path (in
 * memory only), with its own scratch. */
typedef struct path_bench {
  conv_bench *b;
  pare_conv2d_f32_args alt; /* scratch: the other path's */
  int alt_path;
  char key[256];
} path_bench;

static int run_path_variant(void *arg, int v) {
  path_bench *pb = arg;
  conv_bench *b = pb->b;
  pare_status st;
  if (v == 0) {
    st = pare_launch_conv2d_f32(b->rt, &b->a, NULL, &b->err);
  } else {
    pare_tuning_set(b->rt, pb->key, pb->alt_path);
    st = pare_launch_conv2d_f32(b->rt, &pb->alt, NULL, &b->err);
    pare_tuning_forget(b->rt, pb->key);
  }
  return st != PARE_OK || pare_cl_finish(b->rt, &b->err) != PARE_OK;
}

/* The shape's plan against `alt_path` on the same shape, interleaved: a
 * row of variant `variant` whose `<plan>_ms_median` and `<plan>_speedup`
 * (the other path's time over the plan's) name the plan. 1 on failure. */
static int bench_path_pair(conv_bench *b, const pare_bench_opts *o, double flops, int alt_path,
                           const char *variant, const char *plan_name, const char *alt_text) {
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(b->rt, "conv2d_f32", &b->a, 1, &pl);
  path_bench pb;
  memset(&pb, 0, sizeof pb);
  pb.b = b;
  pb.alt = b->a;
  pb.alt_path = alt_path;
  char shape[160];
  pare_conv2d_shape_key(&b->a, shape, sizeof shape);
  snprintf(pb.key, sizeof pb.key, "tune.conv2d_f32.path@%s", shape);
  pare_tuning_set(b->rt, pb.key, alt_path);
  size_t scratch = pare_conv2d_f32_scratch_bytes(b->rt, &b->a);
  pare_tuning_forget(b->rt, pb.key);
  pare_error err;
  if (pare_cl_buffer(b->rt, CL_MEM_READ_WRITE, scratch ? scratch : 4, NULL, &pb.alt.scratch,
                     &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    return 1;
  }
  pare_bench_timing t[2];
  memset(t, 0, sizeof t);
  int status = pare_bench_time_variants(o->warmup, o->reps, 2, run_path_variant, &pb, t) ||
               !t[0].ok || !t[1].ok;
  if (status) {
    fprintf(stderr, "pare-bench: conv2d_f32 paths: %s\n", b->err.text);
  } else {
    json_open(b->rt, b->s, variant, "", t[1], flops);
    printf(", \"%s_ms_median\": %.4f, \"%s_speedup\": %.3f}\n", plan_name, t[0].ms_median,
           plan_name, t[1].ms_median / t[0].ms_median);
    fflush(stdout);
    fprintf(stderr, "%-14s %9.3f  %s; %s %.3f ms: %.2fx\n", "  (paths)", t[0].ms_median, plan_name,
            alt_text, t[1].ms_median, t[1].ms_median / t[0].ms_median);
  }
  b->rt->cl->clReleaseMemObject(pb.alt.scratch);
  return status;
}

/* Where the plan is the implicit GEMM, against im2col + GEMM; where
 * Winograd F(2x2, 3x3) takes the window and the plan is another path,
 * against Winograd. 1 on failure. */
static int bench_paths(conv_bench *b, const pare_bench_opts *o, double flops) {
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(b->rt, "conv2d_f32", &b->a, 1, &pl);
  int status = 0;
  if (pl.path == PARE_CONV2D_IMPLICIT)
    status = bench_path_pair(b, o, flops, PARE_CONV2D_IM2COL, "pare_im2col", "implicit",
                             "im2col + GEMM");
  if (!status && pl.path != PARE_CONV2D_WINOGRAD && pare_conv2d_winograd_fits(&b->a))
    status = bench_path_pair(b, o, flops, PARE_CONV2D_WINOGRAD, "pare_winograd",
                             pl.path == PARE_CONV2D_IMPLICIT ? "implicit" : "plan",
                             "Winograd F(2x2,3x3)");
  return status;
}

/* Variant 0: the pooling in the convolution's epilogue; 1: a pool_f32
 * launch after the convolution. */
typedef struct pool_bench {
  conv_bench *b;
  pare_conv2d_f32_args pooled; /* y: the pooled output, scratch for the pooled plan */
  pare_conv2d_pool pool;
  pare_ref_pool_params pp;
  int64_t yd[4];
} pool_bench;

static int run_pool_variant(void *arg, int v) {
  pool_bench *pb = arg;
  conv_bench *b = pb->b;
  pare_status st = v == 0
                       ? pare_launch_conv2d_pool_f32(b->rt, &pb->pooled, &pb->pool, NULL, &b->err)
                       : pare_launch_conv2d_f32(b->rt, &b->a, NULL, &b->err);
  if (st == PARE_OK && v == 1)
    st = pare_launch_pool2d_f32(b->rt, 1, &pb->pp, pb->yd, b->a.y, pb->pooled.y, NULL, &b->err);
  return st != PARE_OK || pare_cl_finish(b->rt, &b->err) != PARE_OK;
}

/* The pooled rows of a shape whose path can pool: 1 on failure. */
static int bench_pooled(conv_bench *b, const pare_bench_opts *o, double flops) {
  pool_bench pb;
  memset(&pb, 0, sizeof pb);
  pb.b = b;
  pb.pooled = b->a;
  pb.pool = (pare_conv2d_pool){PARE_CONV2D_POOL_MAX, 2, 2, 2, 2};
  if (!pare_conv2d_f32_can_pool(b->rt, &b->a, &pb.pool)) return 0;
  pare_ref_pool_params_init(&pb.pp, 2);
  pb.pp.win.kernel[0] = pb.pp.win.kernel[1] = 2;
  pb.pp.win.strides[0] = pb.pp.win.strides[1] = 2;
  const pare_conv2d_f32_args *a = &b->a;
  int64_t yd[4] = {(int64_t)a->n, (int64_t)a->m, (int64_t)a->oh, (int64_t)a->ow};
  memcpy(pb.yd, yd, sizeof yd);
  size_t np = a->n * a->m * (a->oh / 2) * (a->ow / 2);
  size_t scratch = pare_conv2d_f32_pool_scratch_bytes(b->rt, a, &pb.pool);
  cl_mem py = NULL, ps = NULL;
  pare_error err;
  int status = 0;
  if (pare_cl_buffer(b->rt, CL_MEM_READ_WRITE, np * 4, NULL, &py, &err) != PARE_OK ||
      (scratch && pare_cl_buffer(b->rt, CL_MEM_READ_WRITE, scratch, NULL, &ps, &err) != PARE_OK)) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    status = 1;
  }
  pare_bench_timing t[2];
  memset(t, 0, sizeof t);
  if (!status) {
    pb.pooled.y = py;
    pb.pooled.scratch = ps;
    status = pare_bench_time_variants(o->warmup, o->reps, 2, run_pool_variant, &pb, t) ||
             !t[0].ok || !t[1].ok;
    if (status) fprintf(stderr, "pare-bench: conv2d_f32 pooled: %s\n", b->err.text);
  }
  if (!status) {
    json_open(b->rt, b->s, "pare_relu_maxpool_fused", ", maxpool 2x2/2", t[0], flops);
    printf(", \"unfused_ms_median\": %.4f, \"speedup_vs_unfused\": %.3f}\n", t[1].ms_median,
           t[1].ms_median / t[0].ms_median);
    fflush(stdout);
    fprintf(stderr, "%-14s %9.3f  + maxpool 2x2 fused; conv then pool_f32 %.3f ms: %.2fx\n",
            "  (pooled)", t[0].ms_median, t[1].ms_median, t[1].ms_median / t[0].ms_median);
  }
  if (py) b->rt->cl->clReleaseMemObject(py);
  if (ps) b->rt->cl->clReleaseMemObject(ps);
  return status;
}

/* Variant 0: the shape's plan on a pruned weight buffer; 1: the same
 * weights baked into the implicit GEMM's code. */
typedef struct baked_bench {
  conv_bench *b;
  pare_conv2d_f32_args dense, baked;
} baked_bench;

static int run_baked_variant(void *arg, int v) {
  baked_bench *bb = arg;
  pare_status st =
      pare_launch_conv2d_f32(bb->b->rt, v ? &bb->baked : &bb->dense, NULL, &bb->b->err);
  return st != PARE_OK || pare_cl_finish(bb->b->rt, &bb->b->err) != PARE_OK;
}

/* A stride-1 shape of one group with 70% of its weights zeroed (every
 * index whose hash falls in 7 of 10 buckets), where that leaves at most
 * 8192 nonzeros (the executor's bound): the weight buffer against the
 * weights baked in (one row per tile), interleaved. 1 on failure. */
static int bench_baked(conv_bench *b, const pare_bench_opts *o, double flops) {
  const pare_conv2d_f32_args *a = &b->a;
  if (a->group != 1 || a->stride_h != 1 || a->stride_w != 1) return 0;
  size_t nw = a->m * a->c * a->kh * a->kw, nnz = 0;
  float *w = malloc(nw * sizeof *w);
  if (!w) return 1;
  for (size_t i = 0; i < nw; i++) {
    w[i] = ((i * 2654435761u) >> 7) % 10 < 7 ? 0.0f : b->w[i];
    nnz += w[i] != 0.0f;
  }
  baked_bench bb;
  memset(&bb, 0, sizeof bb);
  bb.b = b;
  bb.dense = *a;
  bb.baked = *a;
  pare_conv2d_baked body;
  cl_mem dw = NULL, ds = NULL;
  pare_error err;
  int status = 0;
  if (nnz > 8192 || pare_conv2d_baked_make(w, a->m, 1, a->c, a->kh, a->kw, 1, &body) != 0) {
    free(w);
    return 0;
  }
  bb.baked.baked = &body;
  size_t s0 = pare_conv2d_f32_scratch_bytes(b->rt, &bb.dense);
  size_t s1 = pare_conv2d_f32_scratch_bytes(b->rt, &bb.baked);
  if (pare_cl_buffer(b->rt, CL_MEM_READ_ONLY, nw * 4, w, &dw, &err) != PARE_OK ||
      pare_cl_buffer(b->rt, CL_MEM_READ_WRITE, (s0 > s1 ? s0 : s1) + 4, NULL, &ds, &err) !=
          PARE_OK) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    status = 1;
  }
  pare_bench_timing t[2];
  memset(t, 0, sizeof t);
  if (!status) {
    bb.dense.weight = bb.baked.weight = dw;
    bb.dense.scratch = bb.baked.scratch = ds;
    status = pare_bench_time_variants(o->warmup, o->reps, 2, run_baked_variant, &bb, t) ||
             !t[0].ok || !t[1].ok;
    if (status) fprintf(stderr, "pare-bench: conv2d_f32 baked: %s\n", b->err.text);
  }
  if (!status) {
    char note[64];
    snprintf(note, sizeof note, ", 70%% zeros (%zu nonzeros)", nnz);
    json_open(b->rt, b->s, "pare_baked", note, t[1], flops);
    printf(", \"dense_ms_median\": %.4f, \"baked_speedup\": %.3f}\n", t[0].ms_median,
           t[0].ms_median / t[1].ms_median);
    fflush(stdout);
    fprintf(stderr, "%-14s %9.3f  70%% zeros baked in; on the weight buffer %.3f ms: %.2fx\n",
            "  (baked)", t[1].ms_median, t[0].ms_median, t[0].ms_median / t[1].ms_median);
  }
  if (dw) b->rt->cl->clReleaseMemObject(dw);
  if (ds) b->rt->cl->clReleaseMemObject(ds);
  pare_conv2d_baked_free(&body);
  free(w);
  return status;
}

static int run_reference(void *arg) {
  conv_bench *b = arg;
  return pare_ref_conv_f32(&b->p, b->x, b->xd, b->w, b->wd, b->bias, b->yref, NULL) != PARE_REF_OK;
}

/* Host im2col of every image (rows c, kh, kw of all channels), one upload,
 * then per image and group y_g = W_g · col_g with CLBlast. */
static int run_clblast(void *arg) {
  conv_bench *b = arg;
  const pare_conv2d_f32_args *a = &b->a;
  size_t P = a->oh * a->ow, kk = a->kh * a->kw, rows = a->c * kk;
  for (size_t n = 0; n < a->n; n++) {
    for (size_t r = 0; r < rows; r++) {
      size_t c = r / kk, kh = (r / a->kw) % a->kh, kw = r % a->kw;
      const float *xc = b->x + (n * a->c + c) * a->h * a->w;
      float *d = b->col + (n * rows + r) * P;
      for (size_t oh = 0; oh < a->oh; oh++) {
        long ih = (long)(oh * a->stride_h + kh * a->dil_h) - (long)a->pad_top;
        for (size_t ow = 0; ow < a->ow; ow++) {
          long iw = (long)(ow * a->stride_w + kw * a->dil_w) - (long)a->pad_left;
          int in = ih >= 0 && ih < (long)a->h && iw >= 0 && iw < (long)a->w;
          d[oh * a->ow + ow] = in ? xc[(size_t)ih * a->w + (size_t)iw] : 0.0f;
        }
      }
    }
  }
  if (pare_cl_write(b->rt, b->dcol, 0, a->n * rows * P * 4, b->col, &b->err) != PARE_OK) return 1;
  size_t cg = a->c / a->group, mg = a->m / a->group, kred = cg * kk;
  for (size_t n = 0; n < a->n; n++) {
    for (size_t g = 0; g < a->group; g++) {
      pare_gemm_f32_args ga = {0,
                               0,
                               mg,
                               P,
                               kred,
                               1.0f,
                               0.0f,
                               a->weight,
                               b->dcol,
                               a->y,
                               NULL,
                               g * mg * kred,
                               (n * rows + g * kred) * P,
                               (n * a->m + g * mg) * P,
                               kred,
                               P,
                               P,
                               1,
                               0,
                               0,
                               0};
      if (pare_clblast_gemm_f32(b->rt, &ga, NULL, &b->err) != PARE_OK) return 1;
    }
  }
  return pare_cl_finish(b->rt, &b->err) != PARE_OK;
}

static void json_row(pare_cl_runtime *rt, const conv_shape *s, const char *variant,
                     pare_bench_timing t, double flops, double ref_ms, double clblast_ms,
                     double max_err) {
  json_open(rt, s, variant, "", t, flops);
  if (ref_ms > 0) printf(", \"ratio_vs_reference\": %.3f", ref_ms / t.ms_median);
  if (clblast_ms > 0) printf(", \"ratio_vs_clblast\": %.3f", clblast_ms / t.ms_median);
  if (max_err >= 0) printf(", \"max_abs_err\": %.3g", max_err);
  printf("}\n");
  fflush(stdout);
}

static int bench_shape(pare_cl_runtime *rt, const pare_bench_opts *o, const conv_shape *s) {
  conv_bench b;
  memset(&b, 0, sizeof b);
  b.rt = rt;
  b.s = s;
  pare_conv2d_f32_args *a = &b.a;
  size_t cg = s->c / s->group;
  a->n = s->n, a->c = s->c, a->h = s->h, a->w = s->w, a->m = s->m, a->kh = s->k, a->kw = s->k;
  a->group = s->group;
  a->stride_h = a->stride_w = s->stride;
  a->dil_h = a->dil_w = 1;
  a->pad_top = a->pad_left = a->pad_bottom = a->pad_right = s->pad;
  a->oh = (s->h + 2 * s->pad - s->k) / s->stride + 1;
  a->ow = (s->w + 2 * s->pad - s->k) / s->stride + 1;
  a->act = PARE_CONV2D_ACT_RELU;
  pare_ref_conv_params_init(&b.p, 2);
  b.p.group = (int64_t)s->group;
  for (int i = 0; i < 2; i++) b.p.win.strides[i] = (int64_t)s->stride;
  for (int i = 0; i < 4; i++) b.p.win.pads[i] = (int64_t)s->pad;
  int64_t xd[4] = {(int64_t)s->n, (int64_t)s->c, (int64_t)s->h, (int64_t)s->w};
  int64_t wd[4] = {(int64_t)s->m, (int64_t)cg, (int64_t)s->k, (int64_t)s->k};
  memcpy(b.xd, xd, sizeof xd);
  memcpy(b.wd, wd, sizeof wd);
  size_t nx = s->n * s->c * s->h * s->w, nw = s->m * cg * s->k * s->k;
  size_t P = a->oh * a->ow, ny = s->n * s->m * P, ncol = s->n * s->c * s->k * s->k * P;
  float *x = malloc(nx * 4), *w = malloc(nw * 4), *bias = malloc(s->m * 4);
  float *y = malloc(ny * 4), *yref = malloc(ny * 4), *col = malloc(ncol * 4);
  int status = 0;
  pare_error err;
  cl_mem bufs[6] = {NULL};
  if (!x || !w || !bias || !y || !yref || !col) {
    status = 1;
    goto done;
  }
  pare_bench_fill(x, nx, 1);
  pare_bench_fill(w, nw, 2);
  pare_bench_fill(bias, s->m, 3);
  b.x = x, b.w = w, b.bias = bias, b.yref = yref, b.col = col;
  if (pare_cl_buffer(rt, CL_MEM_READ_ONLY, nx * 4, x, &bufs[0], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_ONLY, nw * 4, w, &bufs[1], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_ONLY, s->m * 4, bias, &bufs[2], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, ny * 4, NULL, &bufs[3], &err) != PARE_OK ||
      pare_cl_buffer(rt, CL_MEM_READ_WRITE, ncol * 4, NULL, &bufs[4], &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    status = 1;
    goto done;
  }
  a->x = bufs[0], a->weight = bufs[1], a->bias = bufs[2], a->y = bufs[3];
  b.dcol = bufs[4];
  size_t scratch = pare_conv2d_f32_scratch_bytes(rt, a);
  if (scratch) {
    if (pare_cl_buffer(rt, CL_MEM_READ_WRITE, scratch, NULL, &bufs[5], &err) != PARE_OK) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      status = 1;
      goto done;
    }
    a->scratch = bufs[5];
  }
  double flops = 2.0 * (double)ny * (double)(cg * s->k * s->k);

  /* The baseline first (it overwrites y without bias), then pare. */
  pare_bench_timing tc = {0};
  pare_gemm_f32_args probe = {0};
  if (pare_clblast_gemm_f32(rt, &probe, NULL, &err) != PARE_ERR_UNSUPPORTED)
    tc = pare_bench_time(o->warmup, o->reps, run_clblast, &b);
  pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_pare, &b);
  if (!tp.ok) {
    fprintf(stderr, "pare-bench: conv2d_f32 failed: %s\n", b.err.text);
    status = 1;
    goto done;
  }
  int ref_reps = o->reps < o->ref_max_reps ? o->reps : o->ref_max_reps;
  pare_bench_timing tr = {0};
  double max_err = -1;
  if (ref_reps > 0) {
    tr = pare_bench_time(0, ref_reps, run_reference, &b);
    if (tr.ok && pare_cl_read(rt, a->y, 0, ny * 4, y, &err) == PARE_OK) {
      max_err = 0;
      for (size_t i = 0; i < ny; i++) {
        double d = fabs((double)y[i] - (yref[i] < 0 ? 0.0 : (double)yref[i]));
        if (!(d <= max_err)) max_err = d;
      }
    }
  }
  if (tc.ok) json_row(rt, s, "clblast_im2col", tc, flops, 0, 0, -1);
  if (tr.ok) json_row(rt, s, "reference", tr, flops, 0, 0, -1);
  json_row(rt, s, "pare", tp, flops, tr.ok ? tr.ms_median : 0, tc.ok ? tc.ms_median : 0, max_err);
  fprintf(stderr, "%-14s %9.3f %9.1f %9.3f %9.3f %9.2fx %8.1fx\n", s->name, tp.ms_median,
          flops / (tp.ms_median * 1e6), tc.ok ? tc.ms_median : 0, tr.ok ? tr.ms_median : 0,
          tc.ok ? tc.ms_median / tp.ms_median : 0, tr.ok ? tr.ms_median / tp.ms_median : 0);
  status = bench_paths(&b, o, flops);
  if (!status) status = bench_pooled(&b, o, flops);
  if (!status) status = bench_baked(&b, o, flops);
done:
  for (int i = 0; i < 6; i++)
    if (bufs[i]) rt->cl->clReleaseMemObject(bufs[i]);
  free(x);
  free(w);
  free(bias);
  free(y);
  free(yref);
  free(col);
  return status;
}

int pare_bench_conv2d_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const conv_shape shapes[] = {
      /* name         n   c    h    w    m   k  g   s  p */
      {"mnist_conv1", 64, 1, 28, 28, 16, 3, 1, 1, 1},
      {"mnist_conv2", 64, 16, 14, 14, 32, 3, 1, 1, 1},
      {"resnet_3x3", 1, 64, 56, 56, 64, 3, 1, 1, 1},
      {"resnet_3x3_l3", 1, 256, 14, 14, 256, 3, 1, 1, 1},
      {"pointwise", 1, 256, 56, 56, 64, 1, 1, 1, 0},
      {"depthwise", 1, 32, 112, 112, 32, 3, 32, 1, 1},
  };
  if (o->shapes) fprintf(stderr, "pare-bench: conv2d_f32 ignores --shapes\n");
  fprintf(stderr, "%-14s %9s %9s %9s %9s %10s %9s\n", "shape (relu)", "pare ms", "GF/s", "clblast",
          "ref ms", "vs clblast", "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && !status; i++)
    status = bench_shape(rt, o, &shapes[i]);
  return status;
}
