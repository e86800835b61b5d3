/* Reference thin SVD of an fp32 matrix: the oracle of kernels/svd_f32.cl.
 * One-sided (Hestenes) Jacobi in double precision, clear rather than fast. */
#ifndef PARE_ENGINE_REF_SVD_H
#define PARE_ENGINE_REF_SVD_H

#include <stddef.h>

typedef struct pare_svd_params {
  float tol;      /* stop when max |a_i·a_j| / (‖a_i‖·‖a_j‖) < tol over a sweep */
  int max_sweeps; /* ... or after this many sweeps */
} pare_svd_params;

/* Defaults: tol 1e-7, 30 sweeps. */
void pare_svd_params_init(pare_svd_params *p);

#define PARE_REF_SVD_OK     0
#define PARE_REF_SVD_EINVAL (-1) /* NULL buffer, bad params, size overflow, non-finite input */
#define PARE_REF_SVD_ENOMEM (-2)

/* A (m×n, row-major) = U·diag(s)·Vt with k = min(m, n): u is m×k, s is k,
 * vt is k×n, all row-major; s descending and >= 0; the columns of U and the
 * rows of Vt orthonormal, also where s_i = 0 (completed by Gram–Schmidt
 * against unit vectors), to the rounding of their fp32 entries (one
 * Newton–Schulz step after convergence). m < n works on the transpose. p may be NULL
 * (defaults). m == 0 or n == 0 writes nothing and succeeds. */
int pare_ref_svd_f32(size_t m, size_t n, const float *a, float *u, float *s, float *vt,
                     const pare_svd_params *p);

#endif
