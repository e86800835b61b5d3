/* Geometry shared by the forward and backward convolution launchers:
 * checking a pare_conv2d_f32_args and describing it in messages. */
#ifndef PARE_HOST_LAUNCH_CONV2D_GEOM_H
#define PARE_HOST_LAUNCH_CONV2D_GEOM_H

#include "host/launch/conv2d_f32.h"

/* Checks groups, window, sizes (every size below 2^20 but the batch,
 * tensors below 2^31 elements) and that oh/ow match the window; errors
 * start with "<kernel> (<shape>): ". The activation is the caller's to check. */
pare_status pare_conv2d_check(const pare_conv2d_f32_args *a, const char *kernel, const char *shape,
                              pare_error *err);

/* "x NxCxHxW, w ..., y NxMxOHxOW" with `y_name` for the output's name. */
void pare_conv2d_shape_text(const pare_conv2d_f32_args *a, const char *y_name, char *buf,
                            size_t size);

#endif
