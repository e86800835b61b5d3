/* placeholder: replaced by the tuned kernel */
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
__kernel void gemm_f32(int M, int N, int K, float alpha, float beta,
                       __global const float *A, int offA, int lda,
                       __global const float *B, int offB, int ldb,
                       __global float *C, int offC, int ldc,
                       __global const float *bias, int has_bias) {
  int n = get_global_id(0), m = get_global_id(1);
  if (m >= M || n >= N) return;
  A += offA; B += offB; C += offC;
  float acc = 0.0f;
  for (int k = 0; k < K; k++) {
    float a = TRANS_A ? A[k * lda + m] : A[m * lda + k];
    float b = TRANS_B ? B[n * ldb + k] : B[k * ldb + n];
    acc = fma(a, b, acc);
  }
  float out = alpha * acc;
  if (beta != 0.0f) out += beta * C[m * ldc + n];
  if (has_bias) out += bias[n];
  C[m * ldc + n] = out;
}
