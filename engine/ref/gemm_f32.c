/* Reference fp32 GEMM: the oracle for pare's GEMM kernels. */
#include "engine/ref/ref.h"

void pare_ref_gemm_f32(int trans_a, int trans_b, size_t m, size_t n, size_t k, float alpha,
                       const float *a, size_t lda, const float *b, size_t ldb, float beta, float *c,
                       size_t ldc, const float *bias) {
  for (size_t i = 0; i < m; i++) {
    for (size_t j = 0; j < n; j++) {
      double acc = 0.0;
      for (size_t p = 0; p < k; p++) {
        float av = trans_a ? a[p * lda + i] : a[i * lda + p];
        float bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += (double)av * (double)bv;
      }
      double out = (double)alpha * acc;
      if (beta != 0.0f) out += (double)beta * (double)c[i * ldc + j];
      if (bias) out += (double)bias[j];
      c[i * ldc + j] = (float)out;
    }
  }
}
