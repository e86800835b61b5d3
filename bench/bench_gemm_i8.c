/* pare-bench gemm_i8 (alias int8): pare's int8 GEMM (int8 output,
 * requantized per channel, weight sums precomputed as for constant
 * weights) and the weight-only GEMMs (fp32 activations × int8 or int4
 * weights) against pare's fp32 GEMM (pare_launch_gemm_f32, A·B with B
 * k×n, its fastest layout) and CLBlast's SGEMM, all timed in the same run
 * on the same shapes: 1024³, the CNN shapes of bench_gemm_f32
 * (64×3136×576, 256×196×2304, 64×10×1568) and a batch-1 layer 1×4096×4096
 * (memory-bound, where weight-only quantization pays). --shapes M,N,K;...
 * replaces them. C is m×n, A m×k; the quantized weights are n×k.
 * GOP/s counts 2·m·n·k operations for every row. The variants run
 * interleaved, one of each per round, each timed from enqueue to finish. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/core/core.h"
#include "engine/ref/quant.h"
#include "host/launch/conv2d_f32.h"
#include "host/launch/gemm_i8.h"
#include "host/launch/launch.h"

typedef struct i8_bench {
  pare_cl_runtime *rt;
  int which; /* 0 pare fp32, 1 clblast, 2 int8, 3 w8, 4 w4 */
  pare_gemm_f32_args f;
  pare_gemm_i8_args q;
  pare_gemm_wq_args w8, w4;
  pare_error err;
} i8_bench;

static int run_one(void *arg) {
  i8_bench *c = arg;
  pare_status st;
  switch (c->which) {
  case 0: st = pare_launch_gemm_f32(c->rt, &c->f, NULL, &c->err); break;
  case 1: st = pare_clblast_gemm_f32(c->rt, &c->f, NULL, &c->err); break;
  case 2: st = pare_launch_gemm_i8(c->rt, &c->q, NULL, &c->err); break;
  case 3: st = pare_launch_gemm_wq_f32(c->rt, &c->w8, NULL, &c->err); break;
  default: st = pare_launch_gemm_wq_f32(c->rt, &c->w4, NULL, &c->err); break;
  }
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static void json_row(pare_cl_runtime *rt, const char *variant, size_t m, size_t n, size_t k,
                     pare_bench_timing t, double ops, double f32_ms, double clblast_ms) {
  printf("{\"kernel\": \"gemm_i8\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"ms_min\": %.4f, "
         "\"ms_median\": %.4f, \"gops\": %.2f",
         variant, rt->profile->name, rt->info.name, m, n, k, t.ms_min, t.ms_median,
         ops / (t.ms_median * 1e6));
  if (f32_ms > 0) printf(", \"ratio_vs_pare_f32\": %.3f", f32_ms / t.ms_median);
  if (clblast_ms > 0) printf(", \"ratio_vs_clblast\": %.3f", clblast_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

static void fill_bytes(void *p, size_t n, uint64_t seed) {
  uint8_t *b = p;
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; i++) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    b[i] = (uint8_t)(s >> 24);
  }
}

static int bench_shape(pare_cl_runtime *rt, const pare_bench_opts *o, size_t m, size_t n,
                       size_t k) {
  int status = 0;
  pare_error err;
  const size_t k4 = (k + 1) / 2;
  float *af = malloc(m * k * 4), *bf = malloc(k * n * 4), *scale = malloc(n * 4);
  int8_t *a8 = malloc(m * k), *b8 = malloc(n * k);
  uint8_t *b4 = malloc(n * k4);
  int32_t *bias = malloc(n * 4), *mult = malloc(n * 4), *shift = malloc(n * 4);
  cl_mem mem[14] = {0};
  if (!af || !bf || !scale || !a8 || !b8 || !b4 || !bias || !mult || !shift) {
    fprintf(stderr, "pare-bench: gemm_i8 %zux%zux%zu: out of memory\n", m, n, k);
    status = 1;
    goto done;
  }
  pare_bench_fill(af, m * k, 1);
  pare_bench_fill(bf, k * n, 2);
  fill_bytes(a8, m * k, 3);
  fill_bytes(b8, n * k, 4);
  fill_bytes(b4, n * k4, 5);
  for (size_t j = 0; j < n; j++) {
    bias[j] = (int32_t)(j * 37 % 2001) - 1000;
    scale[j] = 0.01f;
    if (pare_quant_multiplier(1.0 / (64.0 * (double)k), &mult[j], &shift[j]) != 0) status = 1;
  }
  const size_t sizes[14] = {m * k * 4, k * n * 4, m * n * 4, m * k, n * k, n * k4, m * n,
                            n * 4,     n * 4,     n * 4,     n * 4, n * 4, 4,      4};
  const void *host[14] = {af,   bf,   NULL,  a8,    b8,   b4,   NULL,
                          bias, mult, shift, scale, NULL, NULL, NULL};
  for (int i = 0; i < 12 && !status; i++)
    if (!(mem[i] = pare_bench_buffer(rt, sizes[i], host[i], &err))) {
      fprintf(stderr, "pare-bench: %s\n", err.text);
      status = 1;
    }
  if (status) goto done;
  i8_bench c;
  memset(&c, 0, sizeof c);
  c.rt = rt;
  c.f = (pare_gemm_f32_args){0, 0, m, n, k, 1.0f, 0.0f, mem[0], mem[1], mem[2], NULL,
                             0, 0, 0, k, n, n,    1,    0,      0,      0};
  pare_gemm_i8_args q = {0};
  q.m = m, q.n = n, q.k = k;
  q.a = mem[3], q.lda = k, q.a_zero = -3;
  q.b = mem[4], q.ldb = k;
  q.bias = mem[7], q.wsum = mem[11];
  q.multiplier = mem[8], q.shift = mem[9], q.c_zero = 5, q.qmin = -128, q.qmax = 127;
  q.c = mem[6], q.ldc = n;
  c.q = q;
  c.w8 = (pare_gemm_wq_args){m, n, k, 8, mem[0], 0, k, mem[4], 0, k, mem[10], NULL, mem[2], 0, n};
  c.w4 = (pare_gemm_wq_args){m, n, k, 4, mem[0], 0, k, mem[5], 0, k4, mem[10], NULL, mem[2], 0, n};
  /* The weight sums, once, as an executor would keep them. */
  if (pare_launch_i8_row_sums(rt, n, k, mem[4], 0, k, mem[11], NULL, &err) != PARE_OK ||
      pare_cl_finish(rt, &err) != PARE_OK) {
    fprintf(stderr, "pare-bench: i8_row_sums: %s\n", err.text);
    status = 1;
    goto done;
  }
  const double ops = 2.0 * (double)m * (double)n * (double)k;
  /* Interleaved: every timed round runs each variant once, so that load
   * from other processes drifting over the run hits all of them alike;
   * warm-up rounds first, then the median (and minimum) per variant. */
  pare_bench_timing t[5];
  double ms[5][64] = {{0}};
  int ok[5] = {1, 1, 1, 1, 1};
  const int reps = o->reps < 64 ? o->reps : 64;
  for (int round = 0; round < o->warmup + reps; round++)
    for (int w = 0; w < 5; w++) {
      if (!ok[w]) continue;
      c.which = w;
      double t0 = pare_now();
      if (run_one(&c)) {
        ok[w] = 0;
        if (w != 1) {
          fprintf(stderr, "pare-bench: gemm_i8 %zux%zux%zu variant %d failed: %s\n", m, n, k, w,
                  c.err.text);
          status = 1;
          goto done;
        }
        continue;
      }
      if (round >= o->warmup) ms[w][round - o->warmup] = (pare_now() - t0) * 1e3;
    }
  for (int w = 0; w < 5; w++) {
    t[w].ok = ok[w];
    t[w].ms_min = ms[w][0];
    for (int i = 1; i < reps; i++)
      if (ms[w][i] < t[w].ms_min) t[w].ms_min = ms[w][i];
    t[w].ms_median = ok[w] ? pare_median(ms[w], reps) : 0;
  }
  const double f32 = t[0].ms_median, cb = t[1].ok ? t[1].ms_median : 0;
  json_row(rt, "pare_f32", m, n, k, t[0], ops, 0, cb);
  if (t[1].ok) json_row(rt, "clblast_f32", m, n, k, t[1], ops, 0, 0);
  json_row(rt, "int8", m, n, k, t[2], ops, f32, cb);
  json_row(rt, "w8_f32", m, n, k, t[3], ops, f32, cb);
  json_row(rt, "w4_f32", m, n, k, t[4], ops, f32, cb);
  char shape[48];
  snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
  fprintf(stderr, "%-16s %9.1f %9.1f %9.1f %9.1f %9.1f %8.2fx %8.2fx %8.2fx\n", shape,
          ops / (f32 * 1e6), cb > 0 ? ops / (cb * 1e6) : 0, ops / (t[2].ms_median * 1e6),
          ops / (t[3].ms_median * 1e6), ops / (t[4].ms_median * 1e6), f32 / t[2].ms_median,
          f32 / t[3].ms_median, f32 / t[4].ms_median);
done:
  for (int i = 0; i < 14; i++)
    if (mem[i]) rt->cl->clReleaseMemObject(mem[i]);
  free(af), free(bf), free(scale), free(a8), free(b8), free(b4), free(bias), free(mult),
      free(shift);
  return status;
}

/* The int8 convolution with fp32 output (what the executor runs for a
 * quantized Conv: quantize x, integer convolution, dequantize with a fused
 * ReLU) against pare's fp32 convolution on the same shape, interleaved. */
typedef struct conv_bench {
  pare_cl_runtime *rt;
  int which; /* 0 fp32 conv, 1 quantize + int8 conv */
  pare_conv2d_f32_args f;
  pare_conv2d_i8_args q;
  cl_mem xf;
  size_t x_count;
  pare_error err;
} conv_bench;

static int run_conv_one(void *arg) {
  conv_bench *c = arg;
  pare_status st = c->which == 0 ? pare_launch_conv2d_f32(c->rt, &c->f, NULL, &c->err)
                                 : pare_launch_quantize_i8(c->rt, c->x_count, c->xf, 0, 0.02f, -3,
                                                           c->q.x, 0, NULL, &c->err);
  if (st == PARE_OK && c->which == 1) st = pare_launch_conv2d_i8(c->rt, &c->q, NULL, &c->err);
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

static int bench_conv(pare_cl_runtime *rt, const pare_bench_opts *o, const char *name, size_t n,
                      size_t c, size_t hw, size_t oc, size_t kk, size_t pad) {
  pare_error err;
  pare_conv2d_f32_args f;
  memset(&f, 0, sizeof f);
  f.n = n, f.c = c, f.h = f.w = hw, f.m = oc, f.kh = f.kw = kk, f.group = 1;
  f.stride_h = f.stride_w = f.dil_h = f.dil_w = 1;
  f.pad_top = f.pad_left = f.pad_bottom = f.pad_right = pad;
  f.oh = f.ow = hw + 2 * pad - kk + 1;
  f.act = PARE_CONV2D_ACT_RELU;
  /* The int8 weight rows padded with zeros to whole vectors, as the
   * executor keeps them. */
  const size_t kc = c * kk * kk, ldw = (kc + 63) / 64 * 64;
  const size_t nx = n * c * hw * hw, nw = oc * kc, ny = n * oc * f.oh * f.ow;
  float *xf = malloc(nx * 4), *wf = malloc(nw * 4), *sc = malloc(oc * 4);
  int8_t *w8 = calloc(oc, ldw);
  int32_t *ws = malloc(oc * 4);
  cl_mem mem[8] = {0};
  int status = !xf || !wf || !sc || !w8 || !ws;
  if (!status) {
    pare_bench_fill(xf, nx, 11);
    pare_bench_fill(wf, nw, 12);
    for (size_t i = 0; i < oc; i++) {
      fill_bytes(w8 + i * ldw, kc, 13 + i);
      sc[i] = 1e-4f;
    }
    pare_ref_i8_row_sums(oc, kc, w8, ldw, ws);
  }
  const size_t sizes[8] = {nx * 4, nw * 4, ny * 4, nx, oc * ldw, oc * 4, oc * 4, 0};
  const void *host[8] = {xf, wf, NULL, NULL, w8, sc, ws, NULL};
  size_t scratch = 0;
  for (int i = 0; i < 7 && !status; i++)
    if (!(mem[i] = pare_bench_buffer(rt, sizes[i], host[i], &err))) status = 1;
  if (!status) {
    f.x = mem[0], f.weight = mem[1], f.y = mem[2];
    scratch = pare_conv2d_f32_scratch_bytes(rt, &f);
    if (scratch && !(mem[7] = pare_bench_buffer(rt, scratch, NULL, &err))) status = 1;
    f.scratch = mem[7];
  }
  if (status) {
    fprintf(stderr, "pare-bench: conv %s: out of memory\n", name);
    goto done;
  }
  conv_bench b;
  memset(&b, 0, sizeof b);
  b.rt = rt, b.f = f, b.xf = mem[0], b.x_count = nx;
  pare_conv_i8_shape *q = &b.q.shape;
  q->n = n, q->c = c, q->h = q->w = hw, q->oc = oc, q->kh = q->kw = kk, q->groups = 1;
  q->stride_h = q->stride_w = q->dil_h = q->dil_w = 1;
  q->pad_top = q->pad_left = q->pad_bottom = q->pad_right = pad;
  b.q.x = mem[3], b.q.x_zero = -3, b.q.w = mem[4], b.q.ldw = ldw, b.q.wsum = mem[6];
  b.q.out_f32 = 1, b.q.scale = mem[5], b.q.act = 1, b.q.act_min = 0.0f, b.q.act_max = 3e38f;
  b.q.y = mem[2];
  double ms[2][64] = {{0}};
  const int reps = o->reps < 64 ? o->reps : 64;
  for (int round = 0; round < o->warmup + reps && !status; round++)
    for (int w = 0; w < 2 && !status; w++) {
      b.which = w;
      double t0 = pare_now();
      if (run_conv_one(&b)) {
        fprintf(stderr, "pare-bench: conv %s variant %d failed: %s\n", name, w, b.err.text);
        status = 1;
      }
      if (round >= o->warmup) ms[w][round - o->warmup] = (pare_now() - t0) * 1e3;
    }
  if (!status) {
    double f32 = pare_median(ms[0], reps), i8 = pare_median(ms[1], reps);
    double ops = 2.0 * (double)ny * (double)(c * kk * kk);
    printf("{\"kernel\": \"gemm_i8\", \"variant\": \"conv_int8\", \"profile\": \"%s\", "
           "\"device\": \"%s\", \"shape\": \"%s\", \"ms_median\": %.4f, "
           "\"f32_ms_median\": %.4f, \"ratio_vs_pare_f32\": %.3f}\n",
           rt->profile->name, rt->info.name, name, i8, f32, f32 / i8);
    fflush(stdout);
    fprintf(stderr, "%-28s %9.1f %9.1f %8.2fx\n", name, ops / (f32 * 1e6), ops / (i8 * 1e6),
            f32 / i8);
  }
done:
  for (int i = 0; i < 8; i++)
    if (mem[i]) rt->cl->clReleaseMemObject(mem[i]);
  free(xf), free(wf), free(sc), free(w8), free(ws);
  return status;
}

int pare_bench_gemm_i8(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const size_t defaults[][3] = {
      {1024, 1024, 1024}, {64, 3136, 576}, {256, 196, 2304}, {64, 10, 1568}, {1, 4096, 4096}};
  size_t shapes[32][3];
  int ns = 0;
  if (pare_bench_gemm_shapes(o, defaults, (int)(sizeof defaults / sizeof defaults[0]),
                             PARE_QUANT_MAX_K, shapes, &ns))
    return 2;
  fprintf(stderr, "GOP/s (2·m·n·k per run); ratios are pare fp32 time / this time\n");
  fprintf(stderr, "%-16s %9s %9s %9s %9s %9s %9s %9s %9s\n", "shape MxNxK", "pare f32", "clblast",
          "int8", "w8", "w4", "int8/f32", "w8/f32", "w4/f32");
  int status = 0;
  for (int s = 0; s < ns && !status; s++)
    status = bench_shape(rt, o, shapes[s][0], shapes[s][1], shapes[s][2]);
  /* Convolutions: SimpleCNN's two at batch 64, a ResNet-18 stage-3 layer. */
  fprintf(stderr, "\nConv with ReLU, fp32 in and out; GOP/s; ratio: fp32 time / int8 time\n");
  fprintf(stderr, "%-28s %9s %9s %9s\n", "conv NxCxHW->OC kxk", "pare f32", "int8", "int8/f32");
  if (!status) status = bench_conv(rt, o, "64x1x28->16 3x3", 64, 1, 28, 16, 3, 1);
  if (!status) status = bench_conv(rt, o, "64x16x14->32 3x3", 64, 16, 14, 32, 3, 1);
  if (!status) status = bench_conv(rt, o, "1x256x14->256 3x3", 1, 256, 14, 256, 3, 1);
  return status;
}
