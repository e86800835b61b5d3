/* pare-bench sparse_f32: sparse weight x dense activation, C[M x N] =
 * A[M x K]·B[K x N] with A sparse, against pare's dense GEMM and CLBlast's
 * SGEMM on the same (dense-stored) A and B, all timed in the same run.
 *
 * Shapes (M,N,K): 1024³ and the CNN shapes of `pare-bench gemm_f32`
 * (--shapes M,N,K;... replaces them); sparsity 50, 70, 90 and 95 %, the
 * pattern uniform random from a fixed seed: per element for CSR (fp32 and
 * int8), per block for BSR 1×4 and 4×4 (a block-pruned matrix), and 2:4
 * (the largest two of every four, pare_nm_prune_f32) at 50 % only.
 * CLBlast is timed once per shape, pare's dense GEMM again before each
 * sparsity (its row carries that sparsity), so that a drifting machine
 * load does not skew the ratios.
 *
 * Rows: ms (min, median), "gflops" = 2·M·N·K / time (effective: the dense
 * work the product stands for), "useful_gflops" = 2·nnz·N / time, and the
 * speedups "ratio_vs_dense" = dense pare GEMM ms / sparse ms and
 * "ratio_vs_clblast" = CLBlast ms / sparse ms (> 1: sparse is faster, as
 * ratio_vs_clblast in bench_gemm_f32). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/ref/sparse.h"
#include "host/launch/launch.h"
#include "host/launch/sparse_f32.h"

enum { V_CSR, V_CSR_I8, V_BSR14, V_BSR44, V_NM24, V_COUNT };
static const char *const variant_names[V_COUNT] = {"csr_f32", "csr_i8", "bsr_1x4", "bsr_4x4",
                                                   "nm_2:4"};

typedef struct sparse_case {
  pare_cl_runtime *rt;
  int variant; /* -1: pare dense GEMM, -2: CLBlast */
  const pare_gemm_f32_args *gemm;
  pare_csr_cl csr;
  pare_bsr_cl bsr;
  pare_nm_cl nm;
  pare_sparse_f32_args args;
  pare_error err;
} sparse_case;

static int run_device(void *arg) {
  sparse_case *c = arg;
  pare_status st;
  switch (c->variant) {
  case -1: st = pare_launch_gemm_f32(c->rt, c->gemm, NULL, &c->err); break;
  case -2: st = pare_clblast_gemm_f32(c->rt, c->gemm, NULL, &c->err); break;
  case V_CSR:
  case V_CSR_I8: st = pare_launch_sparse_csr_f32(c->rt, &c->csr, &c->args, NULL, &c->err); break;
  case V_BSR14:
  case V_BSR44: st = pare_launch_sparse_bsr_f32(c->rt, &c->bsr, &c->args, NULL, &c->err); break;
  default: st = pare_launch_sparse_nm_f32(c->rt, &c->nm, &c->args, NULL, &c->err); break;
  }
  if (st != PARE_OK) return 1;
  return pare_cl_finish(c->rt, &c->err) != PARE_OK;
}

/* xorshift64* in [0, 1). */
static double uniform(uint64_t *s) {
  *s ^= *s >> 12;
  *s ^= *s << 25;
  *s ^= *s >> 27;
  return (double)((*s * UINT64_C(2685821657736338717)) >> 11) * (1.0 / 9007199254740992.0);
}

/* w = dense with a random pattern: every br x bc block (1x1: every element)
 * kept with probability 1 - sparsity. */
static void mask(float *w, const float *dense, size_t m, size_t k, size_t br, size_t bc,
                 double sparsity, uint64_t seed) {
  uint64_t s = seed;
  memcpy(w, dense, m * k * sizeof *w);
  for (size_t i0 = 0; i0 < m; i0 += br)
    for (size_t j0 = 0; j0 < k; j0 += bc) {
      if (uniform(&s) >= sparsity) continue;
      for (size_t i = i0; i < i0 + br && i < m; i++)
        for (size_t j = j0; j < j0 + bc && j < k; j++) w[i * k + j] = 0.0f;
    }
}

static void json_row(pare_cl_runtime *rt, const char *variant, size_t m, size_t n, size_t k,
                     double sparsity, size_t nnz, pare_bench_timing t, double dense_ms,
                     double clblast_ms) {
  const double flops = 2.0 * (double)m * (double)n * (double)k;
  printf("{\"kernel\": \"sparse_f32\", \"variant\": \"%s\", \"profile\": \"%s\", "
         "\"device\": \"%s\", \"shape\": \"%zux%zux%zu\", \"sparsity\": %.2f, \"nnz\": %zu, "
         "\"ms_min\": %.4f, \"ms_median\": %.4f, \"gflops\": %.2f, \"useful_gflops\": %.2f",
         variant, rt->profile->name, rt->info.name, m, n, k, sparsity, nnz, t.ms_min, t.ms_median,
         flops / (t.ms_median * 1e6), 2.0 * (double)nnz * (double)n / (t.ms_median * 1e6));
  if (dense_ms > 0) printf(", \"ratio_vs_dense\": %.3f", dense_ms / t.ms_median);
  if (clblast_ms > 0) printf(", \"ratio_vs_clblast\": %.3f", clblast_ms / t.ms_median);
  printf("}\n");
  fflush(stdout);
}

/* Builds variant v from w (already masked) and uploads it into c. */
static int build(sparse_case *c, int v, size_t m, size_t k, const float *w, size_t *nnz) {
  int rc = 0;
  pare_status st = PARE_OK;
  if (v == V_CSR || v == V_CSR_I8) {
    pare_csr h;
    rc = v == V_CSR ? pare_csr_from_dense_f32(m, k, w, &h) : pare_csr_from_dense_i8(m, k, w, &h);
    if (rc == 0) {
      *nnz = h.nnz;
      st = pare_sparse_csr_upload(c->rt, &h, &c->csr, &c->err);
      pare_csr_free(&h);
    }
  } else if (v == V_BSR14 || v == V_BSR44) {
    pare_bsr h;
    rc = pare_bsr_from_dense_f32(m, k, w, v == V_BSR14 ? 1 : 4, 4, &h);
    if (rc == 0) {
      *nnz = h.nblocks * h.br * h.bc;
      st = pare_sparse_bsr_upload(c->rt, &h, &c->bsr, &c->err);
      pare_bsr_free(&h);
    }
  } else {
    pare_nm h;
    rc = pare_nm_from_dense_f32(m, k, w, 2, 4, &h);
    if (rc == 0) {
      *nnz = h.m * h.groups * h.n;
      st = pare_sparse_nm_upload(c->rt, &h, &c->nm, &c->err);
      pare_nm_free(&h);
    }
  }
  if (rc != 0)
    fprintf(stderr, "pare-bench: sparse_f32: building %s failed (%d)\n", variant_names[v], rc);
  else if (st != PARE_OK)
    fprintf(stderr, "pare-bench: sparse_f32: %s\n", c->err.text);
  return rc == 0 && st == PARE_OK;
}

static void unbuild(sparse_case *c) {
  pare_sparse_csr_release(c->rt, &c->csr);
  pare_sparse_bsr_release(c->rt, &c->bsr);
  pare_sparse_nm_release(c->rt, &c->nm);
}

static int bench_shape(pare_cl_runtime *rt, const pare_bench_opts *o, size_t m, size_t n,
                       size_t k) {
  static const double sparsities[] = {0.5, 0.7, 0.9, 0.95};
  int status = 1;
  float *dense = malloc(m * k * 4), *w = malloc(m * k * 4), *b = malloc(k * n * 4);
  cl_mem da = NULL, db = NULL, dc = NULL;
  pare_error err;
  if (!dense || !w || !b) {
    fprintf(stderr, "pare-bench: sparse_f32 %zux%zux%zu: out of memory\n", m, n, k);
    goto done;
  }
  pare_bench_fill(dense, m * k, 1);
  pare_bench_fill(b, k * n, 2);
  if (!(da = pare_bench_buffer(rt, m * k * 4, dense, &err)) ||
      !(db = pare_bench_buffer(rt, k * n * 4, b, &err)) ||
      !(dc = pare_bench_buffer(rt, m * n * 4, NULL, &err))) {
    fprintf(stderr, "pare-bench: %s\n", err.text);
    goto done;
  }
  /* The dense baselines, once per shape. */
  pare_gemm_f32_args g = {0, 0, m, n, k, 1.0f, 0.0f, da, db, dc, NULL,
                          0, 0, 0, k, n, n,    1,    0,  0,  0};
  sparse_case c;
  memset(&c, 0, sizeof c);
  c.rt = rt;
  c.gemm = &g;
  c.args = (pare_sparse_f32_args){n, db, 0, n, 1, dc, 0, n, 1, NULL, 0};
  c.variant = -1;
  pare_bench_timing td = pare_bench_time(o->warmup, o->reps, run_device, &c);
  if (!td.ok) {
    fprintf(stderr, "pare-bench: dense gemm_f32 failed: %s\n", c.err.text);
    goto done;
  }
  c.variant = -2;
  pare_bench_timing tc = pare_bench_time(o->warmup, o->reps, run_device, &c);
  double dense_ms = td.ms_median;
  const double clblast_ms = tc.ok ? tc.ms_median : 0;
  json_row(rt, "dense_pare", m, n, k, sparsities[0], m * k, td, 0, clblast_ms);
  if (tc.ok) json_row(rt, "dense_clblast", m, n, k, 0.0, m * k, tc, 0, 0);
  char shape[48];
  snprintf(shape, sizeof shape, "%zux%zux%zu", m, n, k);
  fprintf(stderr, "%-16s %8s %-8s %9.3f ms  (dense pare)   clblast %s%.3f ms\n", shape, "-",
          "dense", dense_ms, tc.ok ? "" : "n/a ", clblast_ms);
  for (size_t si = 0; si < sizeof sparsities / sizeof sparsities[0]; si++) {
    const double sp = sparsities[si];
    /* The dense GEMM again, next to this sparsity's rows: on a shared
     * machine the load drifts, and the ratios should compare like with
     * like. */
    if (si > 0) {
      c.variant = -1;
      pare_bench_timing t = pare_bench_time(o->warmup, o->reps, run_device, &c);
      if (t.ok) {
        dense_ms = t.ms_median;
        json_row(rt, "dense_pare", m, n, k, sp, m * k, t, 0, clblast_ms);
        fprintf(stderr, "%-16s %7.0f%% %-8s %9.3f ms  (dense pare, timed again)\n", shape, sp * 100,
                "dense", dense_ms);
      }
    }
    for (int v = 0; v < V_COUNT; v++) {
      if (v == V_NM24 && sp != 0.5) continue;
      if (v == V_NM24) {
        memcpy(w, dense, m * k * 4);
        pare_nm_prune_f32(m, k, w, 2, 4);
      } else {
        size_t br = v == V_BSR44 ? 4 : 1, bc = v == V_BSR14 || v == V_BSR44 ? 4 : 1;
        mask(w, dense, m, k, br, bc, sp, 1000 + si);
      }
      size_t nnz = 0;
      if (!build(&c, v, m, k, w, &nnz)) goto done;
      c.variant = v;
      pare_bench_timing t = pare_bench_time(o->warmup, o->reps, run_device, &c);
      unbuild(&c);
      if (!t.ok) {
        fprintf(stderr, "pare-bench: sparse_f32 %s failed: %s\n", variant_names[v], c.err.text);
        goto done;
      }
      json_row(rt, variant_names[v], m, n, k, sp, nnz, t, dense_ms, clblast_ms);
      fprintf(stderr, "%-16s %7.0f%% %-8s %9.3f ms  %6.2fx dense  %6.2fx clblast  %7.1f GF/s eff\n",
              shape, sp * 100, variant_names[v], t.ms_median, dense_ms / t.ms_median,
              clblast_ms > 0 ? clblast_ms / t.ms_median : 0,
              2.0 * (double)m * n * k / (t.ms_median * 1e6));
    }
  }
  status = 0;
done:
  if (da) rt->cl->clReleaseMemObject(da);
  if (db) rt->cl->clReleaseMemObject(db);
  if (dc) rt->cl->clReleaseMemObject(dc);
  free(dense), free(w), free(b);
  return status;
}

int pare_bench_sparse_f32(pare_cl_runtime *rt, const pare_bench_opts *o) {
  static const size_t defaults[][3] = {
      {1024, 1024, 1024}, {64, 3136, 576}, {256, 196, 2304}, {64, 10, 1568}};
  size_t shapes[32][3];
  int ns = 0;
  if (pare_bench_gemm_shapes(o, defaults, (int)(sizeof defaults / sizeof defaults[0]), SIZE_MAX,
                             shapes, &ns))
    return 2;
  fprintf(stderr, "%-16s %8s %-8s %12s  (speedups: dense ms / sparse ms)\n", "shape MxNxK",
          "sparsity", "format", "median");
  int status = 0;
  for (int s = 0; s < ns && !status; s++)
    status = bench_shape(rt, o, shapes[s][0], shapes[s][1], shapes[s][2]);
  return status;
}
