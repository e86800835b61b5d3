/* The bridge to CLBlast's SGEMM, pare's fp32 baseline. */
#include "host/launch/launch.h"

#ifdef PARE_HAVE_CLBLAST
#include <clblast_c.h>
#endif

pare_status pare_clblast_gemm_f32(pare_cl_runtime *rt, const pare_gemm_f32_args *g, cl_event *event,
                                  pare_error *err) {
#ifdef PARE_HAVE_CLBLAST
  if (g->bias)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "CLBlast SGEMM takes no bias vector");
  if (g->m == 0 || g->n == 0) return PARE_OK;
  CLBlastStatusCode rc = CLBlastSgemm(
      CLBlastLayoutRowMajor, g->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
      g->trans_b ? CLBlastTransposeYes : CLBlastTransposeNo, g->m, g->n, g->k, g->alpha, g->a,
      g->off_a, g->lda, g->b, g->off_b, g->ldb, g->beta, g->c, g->off_c, g->ldc, &rt->queue, event);
  if (rc != CLBlastSuccess)
    return pare_error_set(err, PARE_ERR_OPENCL, "CLBlastSgemm(%zux%zux%zu) failed with status %d",
                          g->m, g->n, g->k, (int)rc);
  return PARE_OK;
#else
  (void)rt;
  (void)g;
  (void)event;
  return pare_error_set(err, PARE_ERR_UNSUPPORTED, "libpare was built without CLBlast");
#endif
}
