/* Uses the installed library: version, a context and one small GEMM. */
#include <pare/pare.h>
#include <stdio.h>
#ifdef WITH_ONNX
#include <pare/pare_onnx.h>
#endif

int main(void) {
#ifdef WITH_ONNX
  pare_onnx_enable();
#endif
  pare_context_options opt = {0};
  opt.backend = PARE_BACKEND_REFERENCE;
  pare_context *ctx = NULL;
  if (pare_context_create(&opt, &ctx) != PARE_OK) return 1;
  const float a[] = {1, 2, 3, 4}, b[] = {5, 6, 7, 8};
  float c[4];
  pare_gemm_desc d = {0, 0, 2, 2, 2, 0, 0, 0, 1.0f, 0.0f};
  pare_status st = pare_gemm_f32(ctx, &d, a, b, c, NULL);
  pare_context_destroy(ctx);
  if (st != PARE_OK || c[0] != 19 || c[1] != 22 || c[2] != 43 || c[3] != 50) return 1;
  printf("pare %s ok\n", pare_version());
  return 0;
}
