/* Host launchers of pare's kernels: one per kernels/<stem>.cl. */
#ifndef PARE_HOST_LAUNCH_H
#define PARE_HOST_LAUNCH_H

#include "host/runtime.h"

/* C = alpha·op(A)·op(B) + beta·C (+ bias[j]) on device buffers, row-major;
 * offsets and leading dimensions in elements; bias may be NULL. batch > 1
 * runs that many products of the shape in one launch, the z-th on the
 * matrices z·stride_a, z·stride_b and z·stride_c elements further on
 * (batch 0 is 1). */
typedef struct pare_gemm_f32_args {
  int trans_a, trans_b;
  size_t m, n, k;
  float alpha, beta;
  cl_mem a, b, c, bias;
  size_t off_a, off_b, off_c;
  size_t lda, ldb, ldc;
  size_t batch, stride_a, stride_b, stride_c;
} pare_gemm_f32_args;

/* pare's own GEMM kernel, tiled for the device profile. */
pare_status pare_launch_gemm_f32(pare_cl_runtime *rt, const pare_gemm_f32_args *args,
                                 cl_event *event, pare_error *err);

/* The activations gemm_f32 applies last (a Gemm fused with the Relu or Clip
 * that reads it), the same values as PARE_CONV2D_ACT_*; NaN passes through. */
#define PARE_GEMM_ACT_NONE 0
#define PARE_GEMM_ACT_RELU 1
#define PARE_GEMM_ACT_CLIP 2

/* The same with C = act(...): PARE_GEMM_ACT_*, clip bounds lo and hi. */
pare_status pare_launch_gemm_f32_act(pare_cl_runtime *rt, const pare_gemm_f32_args *args, int act,
                                     float lo, float hi, cl_event *event, pare_error *err);

/* The shape of a product as the tuning database keys it
 * ("m=..,n=..,k=..,t=<trans_a><trans_b>"), and the vector widths the
 * kernels take (1, 2, 4, 8, 16). */
void pare_gemm_f32_shape_key(const pare_gemm_f32_args *args, char *buf, size_t size);
/* The launch parameters of a shape, in the order of
 * pare_gemm_f32_param_names (tm, vw, nv, wg0, wg1): tuned for `shape`, else
 * the profile's (shape NULL: the profile's). */
#define PARE_GEMM_F32_PARAMS 5
extern const char *const pare_gemm_f32_param_names[PARE_GEMM_F32_PARAMS];
void pare_gemm_f32_params(pare_cl_runtime *rt, const char *shape, int *values);
int pare_vector_width_ok(int v);

/* The same product through CLBlast (no bias): the baseline for benchmarks.
 * PARE_ERR_UNSUPPORTED when libpare was built without CLBlast. */
pare_status pare_clblast_gemm_f32(pare_cl_runtime *rt, const pare_gemm_f32_args *args,
                                  cl_event *event, pare_error *err);

#endif
