/* Reference Winograd F(2×2, 3×3) convolution: the transforms that
 * kernels/conv2d_f32.cl's conv2d_wino_* kernels compute, step by step, and
 * the convolution they make together. A 3×3 window of stride 1, dilation
 * 1 and one group; pads on every side; 2×2 blocks of outputs ("tiles").
 * Layouts, for n images of th × tw tiles each (T = n·th·tw tiles, tile t =
 * (image·th + row)·tw + column):
 *   u[16][m][c]  G g Gᵀ of each 3×3 weight g = w[m][c]
 *   v[16][c][T]  Bᵀ d B of each 4×4 input patch d under a tile
 *   p[16][m][T]  Σ_c u[k][m][c]·v[k][c][t], then y = Aᵀ p A per tile. */
#ifndef PARE_ENGINE_REF_WINOGRAD_H
#define PARE_ENGINE_REF_WINOGRAD_H

#include <stddef.h>

/* u[k][m][c] from w[m][c][3][3]. */
void pare_ref_winograd_weights_f32(const float *w, size_t m, size_t c, float *u);

/* v[k][c][t] from x[n][c][h][w], the tiles' 4×4 patches starting at
 * (2·row − pad_top, 2·column − pad_left), positions outside x reading 0. */
void pare_ref_winograd_input_f32(const float *x, size_t n, size_t c, size_t h, size_t w,
                                 size_t pad_top, size_t pad_left, size_t th, size_t tw, float *v);

/* y[n][m][oh][ow] = Aᵀ p A + bias[m] (bias may be NULL), the tiles' 2×2
 * blocks clipped to the oh × ow plane. */
void pare_ref_winograd_output_f32(const float *p, size_t m, size_t n, size_t th, size_t tw,
                                  size_t oh, size_t ow, const float *bias, float *y);

/* The whole convolution y = conv(x, w) + bias through the three steps (the
 * products summed in float, in increasing c, as the kernels do). oh and ow
 * follow from the pads: h + pad_top + pad_bottom − 2, likewise w. 0 on
 * success, -1 when a size is 0, the window does not fit, or memory runs
 * out. */
int pare_ref_conv2d_winograd_f32(const float *x, size_t n, size_t c, size_t h, size_t w,
                                 const float *weight, size_t m, const float *bias, size_t pad_top,
                                 size_t pad_left, size_t pad_bottom, size_t pad_right, float *y);

#endif
