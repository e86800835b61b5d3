/* Launchers of kernels/pool_f32.cl: MaxPool / AveragePool over NCHW with 1
 * or 2 spatial dims, and the global pools of any spatial rank, on device
 * buffers of fp32. The output shapes and every window rule are those of
 * engine/ref/pool.c (pare_ref_pool_shape, pare_ref_maxpool_f32,
 * pare_ref_avgpool_f32, pare_ref_global_*pool_f32). Empty outputs launch
 * nothing. Tensors are limited to 2^31 elements (PARE_ERR_UNSUPPORTED). */
#ifndef PARE_HOST_LAUNCH_POOL_F32_H
#define PARE_HOST_LAUNCH_POOL_F32_H

#include <stdint.h>

#include "engine/ref/ops.h"
#include "host/runtime.h"

/* MaxPool (is_max) or AveragePool of x [N, C, spatial...] (rank 2 +
 * p->win.nspatial, nspatial 1 or 2; 3 is PARE_ERR_UNSUPPORTED) into y of
 * pare_ref_pool_shape's shape. PARE_ERR_INVALID_ARG where the reference
 * refuses the attributes. */
pare_status pare_launch_pool2d_f32(pare_cl_runtime *rt, int is_max, const pare_ref_pool_params *p,
                                   const int64_t *x_dims, cl_mem x, cl_mem y, cl_event *event,
                                   pare_error *err);

/* GlobalMaxPool (is_max) or GlobalAveragePool: y[i] = max or mean of the
 * `spatial` contiguous values of plane i, for `planes` = N·C planes. An
 * empty plane gives -inf (max) or NaN (average). */
pare_status pare_launch_global_pool_f32(pare_cl_runtime *rt, int is_max, size_t planes,
                                        size_t spatial, cl_mem x, cl_mem y, cl_event *event,
                                        pare_error *err);

#endif
