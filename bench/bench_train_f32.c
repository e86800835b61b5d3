/* pare-bench train_f32: the training kernels vs the plain-C references of
 * engine/ref/grad.h, in one run: relu backward and MaxPool 2x2/2 backward
 * on 64x16x28x28, softmax cross-entropy on 64x10, SGD (momentum) and Adam
 * steps on 1M parameters, 8-bit weight fake quantization of a 512x2048
 * weight per row, batch normalization forward + backward on Bx16x28x28. --shapes B sets the batch
 * of the first three. Device times include enqueue and clFinish. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/grad.h"
#include "host/launch/train_f32.h"

enum { TB_RELU, TB_MAXPOOL, TB_XENT, TB_SGD, TB_ADAM, TB_FQ, TB_BN };

typedef struct tr_bench {
  pare_cl_runtime *rt;
  int kind;
  size_t n, ny;
  int64_t x_dims[4];
  pare_ref_pool_params pool;
  float *a, *b, *c, *d, *e;
  int64_t *labels;
  cl_mem da, db, dc, dd, de, dl;
  int64_t t;
  pare_error err;
} tr_bench;

static int run_device(void *arg) {
  tr_bench *c = arg;
  pare_status st = PARE_OK;
  switch (c->kind) {
  case TB_RELU:
    st = pare_launch_train_act_backward_f32(c->rt, PARE_REF_ACT_RELU, 0, 0, c->da, c->db, c->dc,
                                            c->n, NULL, &c->err);
    break;
  case TB_MAXPOOL:
    st = pare_launch_train_pool2d_backward_f32(c->rt, 1, &c->pool, c->x_dims, c->da, c->db, c->dc,
                                               NULL, &c->err);
    break;
  case TB_XENT:
    st = pare_launch_train_softmax_xent_f32(c->rt, c->da, c->dl, (size_t)c->x_dims[0],
                                            (size_t)c->x_dims[1], c->db, c->dd, c->dc, NULL,
                                            &c->err);
    break;
  case TB_SGD: {
    pare_ref_sgd_params p;
    pare_ref_sgd_params_init(&p, 1e-3f);
    p.momentum = 0.9f;
    p.weight_decay = 1e-4f;
    st = pare_launch_train_sgd_step_f32(c->rt, &p, c->da, c->db, c->dc, NULL, c->n, NULL, &c->err);
    break;
  }
  case TB_BN: {
    size_t n = (size_t)c->x_dims[0], inner = 28 * 28;
    st = pare_launch_train_bn_forward_f32(c->rt, n, 16, inner, 1e-5f, 0.9f, c->da, c->dd, c->de,
                                          NULL, NULL, c->dc, c->dl, c->db, NULL, &c->err);
    if (st == PARE_OK) /* dy = x, dx into y: the same traffic as a real step */
      st = pare_launch_train_bn_backward_f32(c->rt, n, 16, inner, c->da, c->dd, c->dl, c->db, c->da,
                                             c->dc, c->dd, c->de, NULL, &c->err);
    break;
  }
  case TB_FQ:
    st = pare_launch_train_fake_quant_rows_f32(c->rt, 512, c->n / 512, 8, c->da, c->dc, NULL,
                                               &c->err);
    break;
  default: {
    pare_ref_adam_params p;
    pare_ref_adam_params_init(&p, 1e-6f);
    st = pare_launch_train_adam_step_f32(c->rt, &p, ++c->t, c->da, c->db, c->dc, c->dd, NULL, c->n,
                                         NULL, &c->err);
  }
  }
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int run_reference(void *arg) {
  tr_bench *c = arg;
  float loss;
  switch (c->kind) {
  case TB_RELU:
    return pare_ref_act_backward_f32(PARE_REF_ACT_RELU, c->a, NULL, c->b, c->c, c->n, 0, 0) !=
           PARE_REF_OK;
  case TB_MAXPOOL:
    return pare_ref_maxpool_backward_f32(&c->pool, c->a, c->x_dims, c->b, c->c) != PARE_REF_OK;
  case TB_XENT:
    return pare_ref_softmax_xent_f32(c->a, c->labels, c->x_dims[0], c->x_dims[1], &loss, c->c) !=
           PARE_REF_OK;
  case TB_SGD: {
    pare_ref_sgd_params p;
    pare_ref_sgd_params_init(&p, 1e-3f);
    p.momentum = 0.9f;
    p.weight_decay = 1e-4f;
    return pare_ref_sgd_step_f32(&p, c->a, c->b, c->c, c->n, NULL) != PARE_REF_OK;
  }
  case TB_FQ: return pare_ref_fake_quant_rows_f32(c->a, 512, c->n / 512, 8, c->c) != PARE_REF_OK;
  case TB_BN: {
    float mean[16], inv[16], ds[16], db[16];
    return pare_ref_batchnorm_train_f32(c->a, 4, c->x_dims, c->d, c->e, 1e-5f, 0.9f, NULL, NULL,
                                        c->c, mean, inv) != PARE_REF_OK ||
           pare_ref_batchnorm_backward_f32(c->a, 4, c->x_dims, c->d, mean, inv, c->a, c->c, ds,
                                           db) != PARE_REF_OK;
  }
  default: {
    pare_ref_adam_params p;
    pare_ref_adam_params_init(&p, 1e-6f);
    return pare_ref_adam_step_f32(&p, c->a, c->b, c->c, c->d, c->n, 1, NULL) != PARE_REF_OK;
  }
  }
}

int pare_bench_train_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  int64_t B = 64;
  if (o->shapes && (sscanf(o->shapes, "%lld", (long long *)&B) != 1 || B < 1)) {
    fprintf(stderr, "pare-bench: train_f32 --shapes: expected a batch size\n");
    return 2;
  }
  const struct {
    const char *name;
    int kind;
  } cases[] = {{"relu_backward", TB_RELU},  {"maxpool2x2s2_backward", TB_MAXPOOL},
               {"softmax_xent", TB_XENT},   {"sgd_momentum_step", TB_SGD},
               {"adam_step", TB_ADAM},      {"fake_quant_rows_8bit", TB_FQ},
               {"batchnorm_fwd_bwd", TB_BN}};
  fprintf(stderr, "%-22s %-14s %10s %10s %8s\n", "case", "shape", "pare ms", "ref ms", "vs ref");
  int status = 0;
  for (size_t i = 0; i < sizeof cases / sizeof cases[0] && !status; i++) {
    tr_bench c;
    memset(&c, 0, sizeof c);
    c.rt = rt;
    c.kind = cases[i].kind;
    char shape[64];
    size_t na, nb, nc, nd = 1;
    double bytes;
    if (c.kind == TB_BN) {
      c.x_dims[0] = B, c.x_dims[1] = 16, c.x_dims[2] = 28, c.x_dims[3] = 28;
      c.n = (size_t)B * 16 * 28 * 28;
      na = nc = c.n, nb = nd = 16;
      snprintf(shape, sizeof shape, "%lldx16x28x28", (long long)B);
      bytes = 4.0 * (double)c.n * 7; /* 2 reads + write forward, 3 reads + write backward */
    } else if (c.kind == TB_RELU || c.kind == TB_MAXPOOL) {
      c.x_dims[0] = B, c.x_dims[1] = 16, c.x_dims[2] = 28, c.x_dims[3] = 28;
      c.n = (size_t)B * 16 * 28 * 28;
      c.ny = c.kind == TB_MAXPOOL ? c.n / 4 : c.n;
      na = c.n, nb = c.ny, nc = c.n;
      snprintf(shape, sizeof shape, "%lldx16x28x28", (long long)B);
      bytes = 4.0 * (double)(na + nb + nc);
      pare_ref_pool_params_init(&c.pool, 2);
      c.pool.win.kernel[0] = c.pool.win.kernel[1] = 2;
      c.pool.win.strides[0] = c.pool.win.strides[1] = 2;
    } else if (c.kind == TB_XENT) {
      c.x_dims[0] = B, c.x_dims[1] = 10;
      c.n = (size_t)B * 10;
      na = c.n, nb = (size_t)B, nc = c.n;
      snprintf(shape, sizeof shape, "%lldx10", (long long)B);
      bytes = 4.0 * (double)(2 * c.n + (size_t)B) + 8.0 * (double)B;
    } else if (c.kind == TB_FQ) {
      c.n = (size_t)512 * 2048;
      na = nb = nc = c.n;
      snprintf(shape, sizeof shape, "512x2048");
      bytes = 4.0 * (double)c.n * 3; /* two reads (max, quantize) and a write */
    } else {
      c.n = (size_t)1 << 20;
      na = nb = nc = nd = c.n;
      snprintf(shape, sizeof shape, "%zu", c.n);
      bytes = 4.0 * (double)c.n * (c.kind == TB_SGD ? 5 : 7);
    }
    c.a = malloc(na * 4);
    c.b = malloc(nb * 4);
    c.c = malloc(nc * 4);
    c.d = malloc(nd * 4);
    c.e = malloc(nd * 4);
    c.labels = malloc((size_t)B * sizeof *c.labels);
    if (!c.a || !c.b || !c.c || !c.d || !c.e || !c.labels) {
      status = 1;
      goto next;
    }
    pare_bench_fill(c.a, na, 1);
    pare_bench_fill(c.b, nb, 2);
    memset(c.c, 0, nc * 4);
    memset(c.d, 0, nd * 4);
    for (size_t j = 0; j < nd; j++) c.e[j] = 0.1f; /* batch-norm bias */
    if (c.kind == TB_BN)
      for (size_t j = 0; j < nd; j++) c.d[j] = 1.0f; /* batch-norm scale */
    for (int64_t r = 0; r < B; r++) c.labels[r] = r % 10;
    c.da = pare_bench_buffer(rt, na * 4, c.a, &c.err);
    c.db = pare_bench_buffer(rt, nb * 4, c.b, &c.err);
    c.dc = pare_bench_buffer(rt, nc * 4, c.c, &c.err);
    c.dd = pare_bench_buffer(rt, nd * 4, c.d, &c.err);
    c.de = pare_bench_buffer(rt, nd * 4, c.e, &c.err);
    c.dl = pare_bench_buffer(rt, (size_t)B * 8, c.labels, &c.err);
    if (!c.da || !c.db || !c.dc || !c.dd || !c.de || !c.dl) {
      fprintf(stderr, "pare-bench: %s\n", c.err.text);
      status = 1;
      goto next;
    }
    pare_bench_timing tp = pare_bench_time(o->warmup, o->reps, run_device, &c);
    int ref_reps = o->ref_max_reps > 0 && o->ref_max_reps < o->reps ? o->ref_max_reps : o->reps;
    pare_bench_timing tr = pare_bench_time(o->warmup > 0 ? 1 : 0, ref_reps, run_reference, &c);
    if (!tp.ok) {
      fprintf(stderr, "pare-bench: train_f32 %s failed: %s\n", cases[i].name, c.err.text);
      status = 1;
      goto next;
    }
    if (tr.ok) pare_bench_row_gbs(rt, "train_f32", "reference", cases[i].name, shape, tr, bytes, 0);
    pare_bench_row_gbs(rt, "train_f32", "pare", cases[i].name, shape, tp, bytes,
                       tr.ok ? tr.ms_median : 0);
    fprintf(stderr, "%-22s %-14.14s %10.3f %10.3f %7.1fx\n", cases[i].name, shape, tp.ms_median,
            tr.ok ? tr.ms_median : 0, tr.ok ? tr.ms_median / tp.ms_median : 0);
  next:
    if (c.da) rt->cl->clReleaseMemObject(c.da);
    if (c.db) rt->cl->clReleaseMemObject(c.db);
    if (c.dc) rt->cl->clReleaseMemObject(c.dc);
    if (c.dd) rt->cl->clReleaseMemObject(c.dd);
    if (c.de) rt->cl->clReleaseMemObject(c.de);
    if (c.dl) rt->cl->clReleaseMemObject(c.dl);
    free(c.a);
    free(c.b);
    free(c.c);
    free(c.d);
    free(c.e);
    free(c.labels);
  }
  return status;
}
