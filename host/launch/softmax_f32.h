/* Launcher of kernels/softmax_f32.cl: Softmax / LogSoftmax along the last
 * axis of a [rows, cols] fp32 view on device buffers (the executor uses it
 * when the axis is the last one, or for the flattened view of opsets < 13).
 * Matches pare_ref_softmax_f32 / pare_ref_log_softmax_f32 within the
 * tolerances in tests/kernels/test_softmax_f32.c. y may be x. */
#ifndef PARE_HOST_LAUNCH_SOFTMAX_F32_H
#define PARE_HOST_LAUNCH_SOFTMAX_F32_H

#include "host/runtime.h"

/* Kernel choice: one work-item per row (CPUs) or one work-group per row
 * (GPUs, long rows). AUTO picks by device type and row length. */
typedef enum pare_softmax_mode {
  PARE_SOFTMAX_AUTO = 0,
  PARE_SOFTMAX_ROW_PER_ITEM,
  PARE_SOFTMAX_ROW_PER_GROUP,
} pare_softmax_mode;

/* log != 0: LogSoftmax. rows == 0 or cols == 0 launch nothing.
 * PARE_ERR_UNSUPPORTED beyond 2^31 elements. */
pare_status pare_launch_softmax_f32(pare_cl_runtime *rt, int log, size_t rows, size_t cols,
                                    cl_mem x, cl_mem y, cl_event *event, pare_error *err);

/* The same with the kernel chosen explicitly (tests, benchmarks). */
pare_status pare_launch_softmax_mode_f32(pare_cl_runtime *rt, int log, size_t rows, size_t cols,
                                         cl_mem x, cl_mem y, pare_softmax_mode mode,
                                         cl_event *event, pare_error *err);

#endif
