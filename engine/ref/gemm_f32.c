/* Reference fp32 GEMM: the oracle for pare's GEMM kernels, and the CPU
 * fallback (rows split over threads: engine/core/parallel.c). */
#include "engine/core/core.h"
#include "engine/ref/ref.h"

typedef struct gemm_job {
  int trans_a, trans_b;
  size_t n, k, lda, ldb, ldc;
  float alpha, beta;
  const float *a, *b, *bias;
  float *c;
} gemm_job;

static void gemm_rows(void *ctx, size_t begin, size_t end) {
  const gemm_job *g = ctx;
  for (size_t i = begin; i < end; i++) {
    for (size_t j = 0; j < g->n; j++) {
      double acc = 0.0;
      for (size_t p = 0; p < g->k; p++) {
        float av = g->trans_a ? g->a[p * g->lda + i] : g->a[i * g->lda + p];
        float bv = g->trans_b ? g->b[j * g->ldb + p] : g->b[p * g->ldb + j];
        acc += (double)av * (double)bv;
      }
      double out = (double)g->alpha * acc;
      if (g->beta != 0.0f) out += (double)g->beta * (double)g->c[i * g->ldc + j];
      if (g->bias) out += (double)g->bias[j];
      g->c[i * g->ldc + j] = (float)out;
    }
  }
}

void pare_ref_gemm_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                       size_t ldc, const float *bias) {
  gemm_job g = {trans_a, trans_b, n, k, lda, ldb, ldc, alpha, beta, a, b, bias, c};
  pare_parallel_for(m, (double)m * (double)n * (double)k, gemm_rows, &g);
}
