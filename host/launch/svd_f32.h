/* Launcher of kernels/svd_f32.cl: batched thin SVD of fp32 matrices by
 * one-sided Jacobi, A[b] = U[b]·diag(s[b])·Vt[b] for b < batch, every A[b]
 * m×n row-major, k = min(m, n): u is batch×m×k, s batch×k (descending),
 * vt batch×k×n. Matches pare_ref_svd_f32 within the tolerances of
 * tests/kernels/test_svd_f32.c. */
#ifndef PARE_HOST_LAUNCH_SVD_F32_H
#define PARE_HOST_LAUNCH_SVD_F32_H

#include "engine/ref/svd.h"
#include "host/runtime.h"

/* Kernel choice: every sweep of a matrix in one work-group and one launch
 * (small k), or one launch per tournament step with a work-group per column
 * pair (large k). AUTO picks by k (profile key svd_f32.group_max_k: 64, and
 * no limit on CPUs, where the one-launch kernel measured faster at every
 * size tried). */
typedef enum pare_svd_mode {
  PARE_SVD_AUTO = 0,
  PARE_SVD_GROUP,
  PARE_SVD_STEP,
} pare_svd_mode;

/* Bytes of the scratch buffer a launch of that shape needs (0 when the
 * shape is empty; SIZE_MAX beyond what the kernels can index, 2^31 floats). */
size_t pare_svd_f32_scratch_bytes(size_t batch, size_t m, size_t n);

/* a (batch×m×n) is not modified; scratch holds at least
 * pare_svd_f32_scratch_bytes(batch, m, n) (not checked: OpenCL 1.2 offers
 * no portable query here). p may be NULL (pare_svd_params_init). An empty
 * shape launches nothing. Blocking: it reads convergence flags between
 * sweeps of the per-step path, and returns after the final kernel was
 * enqueued. A tol below FLT_EPSILON is raised to it: W and V are fp32, and
 * below that no sweep of theirs can certify convergence. PARE_ERR_INVALID_ARG for bad params or
 * NULL buffers, PARE_ERR_UNSUPPORTED beyond 2^31 floats of scratch. */
pare_status pare_launch_svd_f32(pare_cl_runtime *rt, size_t batch, size_t m, size_t n, cl_mem a,
                                cl_mem u, cl_mem s, cl_mem vt, const pare_svd_params *p,
                                cl_mem scratch, pare_error *err);

/* The same with the kernel chosen explicitly (tests, benchmarks). */
pare_status pare_launch_svd_mode_f32(pare_cl_runtime *rt, size_t batch, size_t m, size_t n,
                                     cl_mem a, cl_mem u, cl_mem s, cl_mem vt,
                                     const pare_svd_params *p, cl_mem scratch, pare_svd_mode mode,
                                     pare_error *err);

#endif
