/* pare_gemm_f32: GEMM on host memory, on the context's backend. */
#include <stdlib.h>

#include "engine/context_internal.h"
#include "engine/ref/ref.h"
#ifdef PARE_HAVE_OPENCL
#include "host/launch/launch.h"
#endif

#ifdef PARE_HAVE_OPENCL
/* Elements spanned by a rows×cols row-major matrix with leading dim ld. */
static size_t span(size_t rows, size_t cols, size_t ld) {
  return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

static pare_status gemm_opencl(pare_context *ctx, const pare_gemm_desc *d, size_t lda, size_t ldb,
                               size_t ldc, const float *a, const float *b, float *c,
                               const float *bias) {
  pare_cl_runtime *rt = ctx->rt;
  size_t na = d->trans_a ? span(d->k, d->m, lda) : span(d->m, d->k, lda);
  size_t nb = d->trans_b ? span(d->n, d->k, ldb) : span(d->k, d->n, ldb);
  size_t nc = span(d->m, d->n, ldc);
  cl_mem ba = NULL, bb = NULL, bc = NULL, bbias = NULL;
  pare_error *err = &ctx->error;
  pare_status st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, na * sizeof(float), a, &ba, err);
  if (st == PARE_OK) st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, nb * sizeof(float), b, &bb, err);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, nc * sizeof(float), d->beta != 0.0f ? c : NULL, &bc,
                        err);
  if (st == PARE_OK && bias)
    st = pare_cl_buffer(rt, CL_MEM_READ_ONLY, d->n * sizeof(float), bias, &bbias, err);
  if (st == PARE_OK && d->beta == 0.0f && ldc != d->n) /* keep the gaps between rows */
    st = pare_cl_write(rt, bc, 0, nc * sizeof(float), c, err);
  if (st == PARE_OK) {
    pare_gemm_f32_args g = {d->trans_a, d->trans_b, d->m, d->n,  d->k, d->alpha, d->beta,
                            ba,         bb,         bc,   bbias, 0,    0,        0,
                            lda,        ldb,        ldc,  1,     0,    0,        0};
    st = pare_launch_gemm_f32(rt, &g, NULL, err);
  }
  if (st == PARE_OK) st = pare_cl_read(rt, bc, 0, nc * sizeof(float), c, err);
  cl_mem all[] = {ba, bb, bc, bbias};
  for (int i = 0; i < 4; i++)
    if (all[i]) rt->cl->clReleaseMemObject(all[i]);
  return st;
}
#endif

pare_status pare_gemm_f32(pare_context *ctx, const pare_gemm_desc *d, const float *a,
                          const float *b, float *c, const float *bias) {
  if (!ctx) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&ctx->error);
  if (!d) return pare_error_set(&ctx->error, PARE_ERR_INVALID_ARG, "pare_gemm_f32: desc is NULL");
  size_t a_cols = d->trans_a ? d->m : d->k, b_cols = d->trans_b ? d->k : d->n;
  size_t lda = d->lda ? d->lda : a_cols, ldb = d->ldb ? d->ldb : b_cols,
         ldc = d->ldc ? d->ldc : d->n;
  if (lda < a_cols || ldb < b_cols || ldc < d->n)
    return pare_error_set(&ctx->error, PARE_ERR_INVALID_ARG,
                          "pare_gemm_f32: leading dimension smaller than a row (lda %zu < %zu, "
                          "ldb %zu < %zu or ldc %zu < %zu)",
                          lda, a_cols, ldb, b_cols, ldc, d->n);
  if (d->m == 0 || d->n == 0) return PARE_OK;
  if (!c || (d->k > 0 && (!a || !b)))
    return pare_error_set(&ctx->error, PARE_ERR_INVALID_ARG, "pare_gemm_f32: NULL matrix");
#ifdef PARE_HAVE_OPENCL
  if (ctx->backend == PARE_BACKEND_OPENCL && d->k > 0) {
    pare_status st = gemm_opencl(ctx, d, lda, ldb, ldc, a, b, c, bias);
    if (st == PARE_OK || !pare_context_fall_back(ctx, "gemm_f32")) return st;
  }
#endif
  pare_ref_gemm_f32(d->trans_a, d->trans_b, d->m, d->n, d->k, d->alpha, a, lda, b, ldb, d->beta, c,
                    ldc, bias);
  return PARE_OK;
}
