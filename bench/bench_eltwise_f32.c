/* pare-bench eltwise_f32: the elementwise kernels vs the plain-C reference
 * on the activations of a small CNN at batch 64 (default; --shapes B sets
 * the batch), in one run. Device times include enqueue and clFinish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/ops.h"
#include "host/launch/eltwise_f32.h"

typedef struct elt_bench {
  pare_cl_runtime *rt;
  int kind; /* 0 unary, 1 binary, 2 affine, 3 transpose, 4 quantize/dequantize pair,
             * 5 a Concat of two copies of a along axis 1 */
  pare_ref_act act;
  int op;
  int a_rank, b_rank;
  int64_t a_dims[4], b_dims[4];
  size_t na, nb, ny;
  float *a, *b, *y, *scale, *shift, *mean, *var;
  cl_mem da, db, dy, dscale, dshift;
  pare_error err;
} elt_bench;

static int run_device(void *arg) {
  elt_bench *c = arg;
  pare_status st;
  if (c->kind == 0)
    st = pare_launch_eltwise_unary_f32(c->rt, c->act, 0.0f, 0.0f, c->da, c->dy, c->na, NULL,
                                       &c->err);
  else if (c->kind == 1)
    st = pare_launch_eltwise_binary_act_f32(c->rt, c->op, c->da, c->a_rank, c->a_dims, c->db,
                                            c->b_rank, c->b_dims, c->dy, c->act, 0.0f, 0.0f, NULL,
                                            &c->err);
  else if (c->kind == 4)
    st = pare_launch_fake_quant_f32(c->rt, c->da, c->dy, c->na, 0.0125f, 3, 0, 255, NULL, &c->err);
  else if (c->kind == 3)
    st = pare_launch_transpose2d_f32(c->rt, c->da, 1, (size_t)c->a_dims[0], (size_t)c->a_dims[1],
                                     c->dy, NULL, &c->err);
  else if (c->kind == 5) {
    size_t rows = (size_t)c->a_dims[0], cols = c->na / rows;
    st = pare_launch_copy_rows_f32(c->rt, c->da, rows, cols, c->dy, 2 * cols, 0, NULL, &c->err);
    if (st == PARE_OK)
      st =
          pare_launch_copy_rows_f32(c->rt, c->da, rows, cols, c->dy, 2 * cols, cols, NULL, &c->err);
  } else
    st = pare_launch_eltwise_affine_f32(c->rt, c->da, c->dscale, c->dshift, (size_t)c->a_dims[0],
                                        (size_t)c->a_dims[1],
                                        c->na / (size_t)c->a_dims[0] / (size_t)c->a_dims[1], c->act,
                                        0.0f, 0.0f, c->dy, NULL, &c->err);
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_reference(void *arg) {
  elt_bench *c = arg;
  if (c->kind == 0) {
    pare_ref_act_f32(c->act, c->a, c->y, c->na, 0.0f, 0.0f);
  } else if (c->kind == 1) {
    if (pare_ref_broadcast_binop_f32((pare_ref_binop)c->op, c->a, c->a_rank, c->a_dims, c->b,
                                     c->b_rank, c->b_dims, c->y, NULL, NULL) != PARE_REF_OK)
      return 1;
    if (c->act != PARE_REF_ACT_NONE) pare_ref_act_f32(c->act, c->y, c->y, c->ny, 0.0f, 0.0f);
  } else if (c->kind == 4) {
    if (pare_ref_qdq_f32(c->a, c->na, 0.0125f, 3, 0, 255, c->y) != PARE_REF_OK) return 1;
  } else if (c->kind == 5) {
    const void *xs[2] = {c->a, c->a};
    const int64_t *xd[2] = {c->a_dims, c->a_dims};
    if (pare_ref_concat(xs, xd, 2, c->a_rank, 1, sizeof(float), c->y, NULL) != PARE_REF_OK)
      return 1;
  } else if (c->kind == 3) {
    int64_t perm[2] = {1, 0};
    if (pare_ref_transpose(c->a, sizeof(float), 2, c->a_dims, perm, c->y, NULL) != PARE_REF_OK)
      return 1;
  } else {
    if (pare_ref_batchnorm_f32(c->a, c->a_rank, c->a_dims, c->scale, c->shift, c->mean, c->var,
                               1e-5f, c->y) != PARE_REF_OK)
      return 1;
    if (c->act != PARE_REF_ACT_NONE) pare_ref_act_f32(c->act, c->y, c->y, c->ny, 0.0f, 0.0f);
  }
  return 0;
}

int pare_bench_eltwise_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  int64_t B = 64;
  if (o->shapes && (sscanf(o->shapes, "%lld", (long long *)&B) != 1 || B < 1)) {
    fprintf(stderr, "pare-bench: eltwise_f32 --shapes: expected a batch size\n");
    return 2;
  }
  const struct {
    const char *name;
    int kind;
    pare_ref_act act;
    int op;
    int a_rank;
    int64_t a[4];
    int b_rank;
    int64_t b[4];
  } cases[] = {
      {"relu", 0, PARE_REF_ACT_RELU, 0, 4, {B, 16, 28, 28}, 0, {0}},
      {"sigmoid", 0, PARE_REF_ACT_SIGMOID, 0, 4, {B, 16, 28, 28}, 0, {0}},
      {"add_bias_channel", 1, PARE_REF_ACT_NONE, PARE_REF_ADD, 4, {B, 16, 28, 28}, 3, {16, 1, 1}},
      {"add_residual_relu",
       1,
       PARE_REF_ACT_RELU,
       PARE_REF_ADD,
       4,
       {B, 32, 14, 14},
       4,
       {B, 32, 14, 14}},
      {"mul_se_scale", 1, PARE_REF_ACT_NONE, PARE_REF_MUL, 4, {B, 64, 7, 7}, 4, {B, 64, 1, 1}},
      {"add_bias_fc", 1, PARE_REF_ACT_NONE, PARE_REF_ADD, 2, {B, 1000}, 1, {1000}},
      {"sub_broadcast_general", 1, PARE_REF_ACT_NONE, PARE_REF_SUB, 3, {B, 1, 784}, 2, {16, 1}},
      {"batchnorm_relu", 2, PARE_REF_ACT_RELU, 0, 4, {B, 16, 28, 28}, 1, {16}},
      {"transpose_fc_input", 3, PARE_REF_ACT_NONE, 0, 2, {B, 784}, 0, {0}},
      {"quantize_dequantize_u8", 4, PARE_REF_ACT_NONE, 0, 4, {B, 16, 28, 28}, 0, {0}},
      {"concat_two_branches", 5, PARE_REF_ACT_NONE, 0, 4, {B, 32, 28, 28}, 0, {0}},
  };
  fprintf(stderr, "%-22s %-16s %10s %10s %8s\n", "case", "shape", "pare ms", "ref ms", "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !status; i++) {
    elt_bench c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.kind = cases[i].kind;
    c.act = cases[i].act;
    c.op = cases[i].op;
    c.a_rank = cases[i].a_rank;
    c.b_rank = cases[i].b_rank;
    memcpy(c.a_dims, cases[i].a, sizeof c.a_dims);
    memcpy(c.b_dims, cases[i].b, sizeof c.b_dims);
    int64_t na, nb = 1, ny;
    int yr;
    int64_t yd[8];
    pare_ref_shape_numel(c.a_rank, c.a_dims, &na);
    if (c.kind == 1) {
      pare_ref_shape_numel(c.b_rank, c.b_dims, &nb);
      pare_ref_broadcast_shape(c.a_rank, c.a_dims, c.b_rank, c.b_dims, &yr, yd);
      pare_ref_shape_numel(yr, yd, &ny);
    } else {
      ny = c.kind == 5 ? 2 * na : na;
      nb = c.kind == 2 ? c.a_dims[1] : 1;
    }
    c.na = (size_t)na, c.nb = (size_t)nb, c.ny = (size_t)ny;
    c.a = malloc(c.na * 4);
    c.b = malloc(c.nb * 4);
    c.y = malloc(c.ny * 4);
    c.scale = malloc(c.nb * 4);
    c.shift = malloc(c.nb * 4);
    c.mean = malloc(c.nb * 4);
    c.var = malloc(c.nb * 4);
    if (!c.a || !c.b || !c.y || !c.scale || !c.shift || !c.mean || !c.var) {
      status = 1;
      goto next;
    }
    pare_bench_fill(c.a, c.na, 1);
    pare_bench_fill(c.b, c.nb, 2);
    pare_bench_fill(c.scale, c.nb, 3);
    pare_bench_fill(c.shift, c.nb, 4);
    pare_bench_fill(c.mean, c.nb, 5);
    pare_bench_fill(c.var, c.nb, 6);
    for (size_t k = 0; k < c.nb; k++) c.var[k] += 1.5f;
    float *fs = malloc(c.nb * 4), *ft = malloc(c.nb * 4);
    if (!fs || !ft) {
      free(fs);
      free(ft);
      status = 1;
      goto next;
    }
    pare_eltwise_fold_batchnorm(c.nb, c.scale, c.shift, c.mean, c.var, 1e-5f, fs, ft);
    c.da = pare_bench_buffer(rt, c.na * sizeof(float), c.a, &c.err);
    c.db = pare_bench_buffer(rt, c.nb * sizeof(float), c.b, &c.err);
    c.dy = pare_bench_buffer(rt, c.ny * sizeof(float), NULL, &c.err);
    c.dscale = pare_bench_buffer(rt, c.nb * sizeof(float), fs, &c.err);
    c.dshift = pare_bench_buffer(rt, c.nb * sizeof(float), ft, &c.err);
    free(fs);
    free(ft);
    if (!c.da || !c.db || !c.dy || !c.dscale || !c.dshift) {
      fprintf(stderr, "pare-bench: %s\n", c.err.text);
      status = 1;
      goto next;
    }
    pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_device, &c);
    pare_bench_timing tr = pare_bench_time(o->warmup > 0 ? 1 : 0, o->reps, run_reference, &c);
    if (!tp.ok) {
      fprintf(stderr, "pare-bench: eltwise_f32 %s failed: %s\n", cases[i].name, c.err.text);
      status = 1;
      goto next;
    }
    char shape[96];
    int len = 0;
    for (int k = 0; k < c.a_rank; k++)
      len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%lld", k ? "x" : "",
                      (long long)c.a_dims[k]);
    if (c.kind == 1) {
      len += snprintf(shape + len, sizeof shape - (size_t)len, ",");
      for (int k = 0; k < c.b_rank; k++)
        len += snprintf(shape + len, sizeof shape - (size_t)len, "%s%lld", k ? "x" : "",
                        (long long)c.b_dims[k]);
    }
    double bytes = 4.0 * (double)(c.na + c.ny + (c.kind == 1 ? c.nb : 0));
    if (tr.ok)
      pare_bench_row_gbs(rt, "eltwise_f32", "reference", cases[i].name, shape, tr, bytes, 0);
    pare_bench_row_gbs(rt, "eltwise_f32", "pare", cases[i].name, shape, tp, bytes,
                       tr.ok ? tr.ms_median : 0);
    fprintf(stderr, "%-22s %-16.16s %10.3f %10.3f %7.1fx\n", cases[i].name, shape, tp.ms_median,
            tr.ok ? tr.ms_median : 0, tr.ok ? tr.ms_median / tp.ms_median : 0);
  next:
    if (c.da) rt->cl->clReleaseMemObject(c.da);
    if (c.db) rt->cl->clReleaseMemObject(c.db);
    if (c.dy) rt->cl->clReleaseMemObject(c.dy);
    if (c.dscale) rt->cl->clReleaseMemObject(c.dscale);
    if (c.dshift) rt->cl->clReleaseMemObject(c.dshift);
    free(c.a);
    free(c.b);
    free(c.y);
    free(c.scale);
    free(c.shift);
    free(c.mean);
    free(c.var);
  }
  return status;
}
