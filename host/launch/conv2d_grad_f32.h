/* Launcher of kernels/conv2d_grad_f32.cl: the backward of the fp32 NCHW 2-D
 * convolution of host/launch/conv2d_f32.h (groups, stride, dilation,
 * asymmetric pads) on device buffers, for training. */
#ifndef PARE_HOST_LAUNCH_CONV2D_GRAD_F32_H
#define PARE_HOST_LAUNCH_CONV2D_GRAD_F32_H

#include "host/launch/conv2d_f32.h"

/* Bytes of device scratch pare_launch_conv2d_grad_f32 needs for `a` (0 for
 * the direct paths and 1x1 single-image plans); depends only on the shape
 * and the profile, not on which gradients are asked for. */
size_t pare_conv2d_grad_f32_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a);

/* Enqueues the gradients of the convolution described by `a` (the geometry,
 * a->x and a->weight; a->y, a->bias and a->scratch are ignored and a->act
 * must be PARE_CONV2D_ACT_NONE: the activation backward is separate) given
 * dy [n, m, oh, ow]:
 *   dx [n, c, h, w] = dL/dx (reads weight), dw like weight = dL/dw (reads x),
 *   db [m] = dL/db,
 * each overwritten (not accumulated); any of them may be NULL. scratch: a
 * buffer of pare_conv2d_grad_f32_scratch_bytes() bytes, or NULL when that is
 * 0. Kernels go on the in-order queue with no wait; `event` (may be NULL)
 * gets the event of the last one, or NULL when nothing was enqueued. The
 * same semantics as pare_ref_conv_backward_f32 (engine/ref/grad.h). */
pare_status pare_launch_conv2d_grad_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                        cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db, cl_mem scratch,
                                        cl_event *event, pare_error *err);

#endif
