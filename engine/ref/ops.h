/* Reference implementations of the neural-network operators beyond GEMM and
 * elementwise math: convolution, pooling, normalization, reductions and the
 * layout ops. Tensors are dense and row-major (NCHW for images); shapes are
 * int64_t arrays as in ONNX, of rank at most PARE_REF_MAX_RANK. Every
 * function that can be handed an invalid shape or attribute returns an int:
 * PARE_REF_OK, or a negative code, and then it has read and written nothing
 * out of bounds. Semantics follow the ONNX operator specification (opsets
 * 7 to 18); where ONNX leaves a case open the comment says what happens. */
#ifndef PARE_ENGINE_REF_OPS_H
#define PARE_ENGINE_REF_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "engine/ref/ref.h"
#include "pare/pare.h"

#define PARE_REF_MAX_RANK 8
/* Convolution and pooling handle 1 to 3 spatial dimensions. */
#define PARE_REF_MAX_SPATIAL 3

#define PARE_REF_OK     0
#define PARE_REF_EINVAL (-1) /* bad rank, shape, attribute or axis */
#define PARE_REF_ERANGE (-2) /* a Gather index outside the data */
#define PARE_REF_ENOMEM (-3) /* a scratch allocation failed */

/* Number of elements of a shape into *count; PARE_REF_EINVAL when the rank is
 * outside [0, PARE_REF_MAX_RANK], a dim is negative or the product overflows.
 * Rank 0 (a scalar) has one element. */
int pare_ref_shape_numel(int rank, const int64_t *dims, int64_t *count);

/* ---- Convolution and pooling windows ---- */

typedef enum pare_ref_auto_pad {
  PARE_REF_AUTO_PAD_NOTSET = 0, /* use the explicit pads */
  PARE_REF_AUTO_PAD_SAME_UPPER, /* out = ceil(in / stride), odd padding at the end */
  PARE_REF_AUTO_PAD_SAME_LOWER, /* out = ceil(in / stride), odd padding at the beginning */
  PARE_REF_AUTO_PAD_VALID,      /* no padding */
} pare_ref_auto_pad;

/* The sliding-window attributes shared by Conv, ConvTranspose and pooling.
 * pads is laid out as in ONNX: the nspatial begin pads, then the nspatial end
 * pads. kernel, strides and dilations must be >= 1 (0 in kernel means "take
 * it from the weight" for Conv and ConvTranspose); pare_ref_window_init gives
 * the ONNX defaults. */
typedef struct pare_ref_window {
  int nspatial; /* 1..PARE_REF_MAX_SPATIAL */
  int64_t kernel[PARE_REF_MAX_SPATIAL];
  int64_t strides[PARE_REF_MAX_SPATIAL];
  int64_t dilations[PARE_REF_MAX_SPATIAL];
  int64_t pads[2 * PARE_REF_MAX_SPATIAL];
  pare_ref_auto_pad auto_pad;
} pare_ref_window;

/* Sets nspatial, kernel 0 (unknown), strides 1, dilations 1, pads 0, NOTSET. */
void pare_ref_window_init(pare_ref_window *w, int nspatial);

/* Output spatial dims of a forward window (Conv, MaxPool, AveragePool) over
 * in_dims[nspatial], with the effective kernel (k-1)·dilation+1:
 *   NOTSET: pads as given (must be >= 0);
 *           out = floor((in + pad_begin + pad_end - eff_k) / stride) + 1, or
 *           ceil(...) + 1 when ceil_mode, dropping the last window if it would
 *           start at or beyond in + pad_begin (it must start inside the input
 *           or the left padding, the PyTorch / onnxruntime rule);
 *   VALID:  pads 0, out = floor((in - eff_k) / stride) + 1;
 *   SAME_*: out = ceil(in / stride), total = max(0, (out-1)·stride + eff_k - in)
 *           split as begin = total/2 (UPPER) or total - total/2 (LOWER).
 * ceil_mode is ignored for VALID and SAME_*, as in the ONNX reference. The
 * resolved pads go to pads_out[2·nspatial] (may be NULL). Returns
 * PARE_REF_EINVAL for a bad attribute or when the window does not fit in the
 * padded input (out would be < 1). */
int pare_ref_window_out_dims(const pare_ref_window *w, const int64_t *in_dims, int ceil_mode,
                             int64_t *out_dims, int64_t *pads_out);

/* ---- Conv ---- */

typedef struct pare_ref_conv_params {
  pare_ref_window win; /* win.kernel: 0s, or equal to the weight's spatial dims */
  int64_t group;       /* >= 1; C and M must both be multiples of it */
} pare_ref_conv_params;

/* pare_ref_conv_params with pare_ref_window_init defaults and group 1. */
void pare_ref_conv_params_init(pare_ref_conv_params *p, int nspatial);

/* Output shape of Conv: x_dims [N, C, spatial...], w_dims [M, C/group,
 * kernel...], both of rank 2 + nspatial; y_dims gets [N, M, out...]. */
int pare_ref_conv_shape(const pare_ref_conv_params *p, const int64_t *x_dims, const int64_t *w_dims,
                        int64_t *y_dims);

/* Conv (cross-correlation, as ONNX): y[n, m, o] = bias[m] + Σ_c,k
 * x[n, g·C/group + c, o·stride + k·dilation - pad_begin] · w[m, c, k] where
 * g = m / (M/group) and padded positions read 0. bias [M] may be NULL.
 * Accumulates in double. y must hold the elements of pare_ref_conv_shape's
 * shape; y_dims may be NULL. */
int pare_ref_conv_f32(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                      const float *w, const int64_t *w_dims, const float *bias, float *y,
                      int64_t *y_dims);
/* The same sums left in double, no bias (exact for integer-valued inputs
 * whose products and sums stay below 2^53: ConvInteger, QLinearConv). */
int pare_ref_conv_f64(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                      const float *w, const int64_t *w_dims, double *y, int64_t *y_dims);

typedef struct pare_ref_conv_transpose_params {
  pare_ref_window win; /* win.kernel: 0s, or equal to the weight's spatial dims */
  int64_t group;
  int64_t output_padding[PARE_REF_MAX_SPATIAL]; /* >= 0, extra size at the end */
  int has_output_shape;                         /* output_shape (spatial dims) given */
  int64_t output_shape[PARE_REF_MAX_SPATIAL];
} pare_ref_conv_transpose_params;

/* Defaults: window defaults, group 1, output_padding 0, no output_shape. */
void pare_ref_conv_transpose_params_init(pare_ref_conv_transpose_params *p, int nspatial);

/* Output shape and resolved pads of ConvTranspose: x_dims [N, C, in...],
 * w_dims [C, M/group, kernel...]; y_dims gets [N, M, out...]. With
 * output_shape or SAME_* (where out = in·stride), the pads come from
 * total = stride·(in-1) + output_padding + eff_k - out, split (floor
 * division, so total may be negative) as begin = total/2 for SAME_UPPER and
 * begin = total - total/2 otherwise, per the ONNX spec; without them,
 * out = stride·(in-1) + output_padding + eff_k - pad_begin - pad_end.
 * pads_out[2·nspatial] may be NULL. */
int pare_ref_conv_transpose_shape(const pare_ref_conv_transpose_params *p, const int64_t *x_dims,
                                  const int64_t *w_dims, int64_t *y_dims, int64_t *pads_out);

/* ConvTranspose: the gradient of Conv with respect to its input, i.e. each
 * x[n, c, i] scatters x·w[c, m, k] to y[n, g·M/group + m, i·stride +
 * k·dilation - pad_begin] (positions outside y are dropped). Computed as a
 * gather per output in double. bias [M] may be NULL; y_dims may be NULL. */
int pare_ref_conv_transpose_f32(const pare_ref_conv_transpose_params *p, const float *x,
                                const int64_t *x_dims, const float *w, const int64_t *w_dims,
                                const float *bias, float *y, int64_t *y_dims);

/* ---- Pooling ---- */

typedef struct pare_ref_pool_params {
  pare_ref_window win;   /* win.kernel is required (all >= 1) */
  int ceil_mode;         /* see pare_ref_window_out_dims */
  int count_include_pad; /* AveragePool only */
} pare_ref_pool_params;

/* Window defaults (kernel still to be set), floor mode, count_include_pad 0. */
void pare_ref_pool_params_init(pare_ref_pool_params *p, int nspatial);

/* Output shape [N, C, out...] of MaxPool / AveragePool over x_dims of rank
 * 2 + nspatial. */
int pare_ref_pool_shape(const pare_ref_pool_params *p, const int64_t *x_dims, int64_t *y_dims);

/* MaxPool: the maximum over the window's positions inside the input (padding
 * never wins; NaN inputs are skipped). A window holding no input position
 * (possible with large pads or dilation) gives -inf. y_dims may be NULL. */
int pare_ref_maxpool_f32(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims,
                         float *y, int64_t *y_dims);

/* AveragePool: the sum over the window's positions inside the input divided
 * by, with count_include_pad = 0, the number of those positions (NaN when
 * there are none), or with count_include_pad = 1, the number of window
 * positions inside the input plus its begin/end pads (a ceil-mode window
 * hanging past the end padding does not count the overhang). */
int pare_ref_avgpool_f32(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims,
                         float *y, int64_t *y_dims);

/* GlobalAveragePool / GlobalMaxPool over all dims after the first two of x
 * (rank >= 2); y is [N, C] laid out as [N, C, 1, ...]. */
int pare_ref_global_avgpool_f32(const float *x, int rank, const int64_t *x_dims, float *y);
int pare_ref_global_maxpool_f32(const float *x, int rank, const int64_t *x_dims, float *y);

/* ---- Normalization, softmax, reductions ---- */

/* BatchNormalization in inference mode, channel axis 1, rank >= 2:
 * y = scale[c]·(x - mean[c]) / sqrt(var[c] + eps) + bias[c]. y may equal x. */
int pare_ref_batchnorm_f32(const float *x, int rank, const int64_t *dims, const float *scale,
                           const float *bias, const float *mean, const float *var, float eps,
                           float *y);

/* Local response normalization across channels (ONNX LRN), channel axis
 * 1, rank >= 3: y = x / (bias + alpha/size · Σ x²)^beta, the sum over the
 * channels c - floor((size-1)/2) .. c + ceil((size-1)/2) that exist. size
 * >= 1. The sums in double. y must not alias x. */
int pare_ref_lrn_f32(const float *x, int rank, const int64_t *dims, int64_t size, float alpha,
                     float beta, float bias, float *y);

/* Softmax / LogSoftmax along axis (negative counts from the end, rank >= 1).
 * legacy = 0: opset >= 13, normalize along that single axis. legacy = 1:
 * opsets < 13, flatten to [prod(dims[:axis]), prod(dims[axis:])] and
 * normalize each row. Subtracts the maximum first; sums in double. */
int pare_ref_softmax_f32(const float *x, int rank, const int64_t *dims, int64_t axis, int legacy,
                         float *y);
int pare_ref_log_softmax_f32(const float *x, int rank, const int64_t *dims, int64_t axis,
                             int legacy, float *y);

/* Output shape of a reduction: axes[naxes] (negative allowed, no repeats);
 * naxes == 0 reduces every axis, or none when noop_with_empty_axes. keepdims
 * keeps reduced axes as 1s. *y_rank and y_dims get the result. */
int pare_ref_reduce_shape(int rank, const int64_t *dims, const int64_t *axes, size_t naxes,
                          int keepdims, int noop_with_empty_axes, int *y_rank, int64_t *y_dims);

/* ReduceMean with the same arguments; sums in double. The mean over zero
 * elements is NaN. y_rank and y_dims may be NULL. */
int pare_ref_reduce_mean_f32(const float *x, int rank, const int64_t *dims, const int64_t *axes,
                             size_t naxes, int keepdims, int noop_with_empty_axes, float *y,
                             int *y_rank, int64_t *y_dims);

/* ---- Layout ops (element-size generic byte movers) ---- */

/* Transpose: y dims[i] = x dims[perm[i]]; perm NULL reverses the axes. perm
 * must be a permutation of 0..rank-1. y_dims may be NULL. */
int pare_ref_transpose(const void *x, size_t elem_size, int rank, const int64_t *dims,
                       const int64_t *perm, void *y, int64_t *y_dims);

/* Concat of k inputs of equal rank along axis (negative allowed); all other
 * dims must agree. y_dims may be NULL. */
int pare_ref_concat(const void *const *xs, const int64_t *const *x_dims, size_t k, int rank,
                    int64_t axis, size_t elem_size, void *y, int64_t *y_dims);

/* Output shape of Slice: n entries of starts, ends, axes (NULL: 0..n-1,
 * negative allowed, no repeats) and steps (NULL: all 1, never 0). Negative
 * starts/ends count from the end; they are then clamped to [0, dim] for a
 * positive step and to [0, dim-1] (start) / [-1, dim-1] (end) for a
 * negative one, so INT64_MAX and INT64_MIN work as "to the end". */
int pare_ref_slice_shape(int rank, const int64_t *dims, const int64_t *starts, const int64_t *ends,
                         const int64_t *axes, const int64_t *steps, size_t n, int64_t *y_dims);
int pare_ref_slice(const void *x, size_t elem_size, int rank, const int64_t *dims,
                   const int64_t *starts, const int64_t *ends, const int64_t *axes,
                   const int64_t *steps, size_t n, void *y, int64_t *y_dims);

/* Gather along axis (negative allowed) with int64 indices of any shape
 * (negative indices count from the end): y has dims[:axis] + idx_dims +
 * dims[axis+1:], so rank + idx_rank - 1 must be <= PARE_REF_MAX_RANK. All
 * indices are checked before anything is written: PARE_REF_ERANGE if one
 * falls outside [-dims[axis], dims[axis]). y_rank and y_dims may be NULL. */
int pare_ref_gather(const void *data, size_t elem_size, int rank, const int64_t *dims,
                    const int64_t *indices, int idx_rank, const int64_t *idx_dims, int64_t axis,
                    void *y, int *y_rank, int64_t *y_dims);

typedef enum pare_ref_pad_mode {
  PARE_REF_PAD_CONSTANT = 0,
  PARE_REF_PAD_REFLECT, /* mirror without repeating the edge, as numpy 'reflect' */
  PARE_REF_PAD_EDGE,    /* repeat the edge value */
} pare_ref_pad_mode;

/* Output shape of Pad: pads[2·rank] = begins then ends, negative ones crop;
 * every out dim must be >= 0. */
int pare_ref_pad_shape(int rank, const int64_t *dims, const int64_t *pads, int64_t *y_dims);

/* Pad. Negative pads crop first, then reflect/edge pad relative to the
 * cropped data (onnxruntime's order); reflect folds back and forth when the
 * pad exceeds the data, and reflect/edge need non-empty data along an axis
 * they pad. y_dims may be NULL. */
int pare_ref_pad_f32(const float *x, int rank, const int64_t *dims, const int64_t *pads,
                     pare_ref_pad_mode mode, float value, float *y, int64_t *y_dims);

/* ---- Resize ---- */

typedef enum pare_ref_resize_mode {
  PARE_REF_RESIZE_NEAREST = 0,
  PARE_REF_RESIZE_LINEAR, /* (multi)linear over every axis whose size changes */
} pare_ref_resize_mode;

typedef enum pare_ref_resize_coord {
  PARE_REF_COORD_HALF_PIXEL = 0,       /* (x + 0.5) / scale - 0.5 */
  PARE_REF_COORD_ASYMMETRIC,           /* x / scale */
  PARE_REF_COORD_ALIGN_CORNERS,        /* x · (in - 1) / (in·scale - 1), 0 if in·scale == 1 */
  PARE_REF_COORD_PYTORCH_HALF_PIXEL,   /* half_pixel, but 0 when out == 1 */
  PARE_REF_COORD_TF_HALF_PIXEL_FOR_NN, /* (x + 0.5) / scale */
  PARE_REF_COORD_HALF_PIXEL_SYMMETRIC, /* opset 18 */
} pare_ref_resize_coord;

typedef enum pare_ref_resize_nearest {
  PARE_REF_NEAREST_ROUND_PREFER_FLOOR = 0,
  PARE_REF_NEAREST_ROUND_PREFER_CEIL,
  PARE_REF_NEAREST_FLOOR,
  PARE_REF_NEAREST_CEIL,
} pare_ref_resize_nearest;

typedef struct pare_ref_resize_params {
  pare_ref_resize_mode mode;
  pare_ref_resize_coord coord;
  pare_ref_resize_nearest nearest;
} pare_ref_resize_params;

/* Output shape of Resize from exactly one of scales[rank] (> 0; out =
 * floor(in · scale)) or sizes[rank] (>= 1 where in >= 1). */
int pare_ref_resize_shape(int rank, const int64_t *x_dims, const float *scales,
                          const int64_t *sizes, int64_t *y_dims);

/* Resize. The scale in the coordinate transforms is the given one, or
 * out / in when sizes are given. Source coordinates are clamped to
 * [0, in - 1] (linear) or the rounded index is (nearest). Not covered:
 * cubic, tf_crop_and_resize, antialias, axes, keep_aspect_ratio_policy. */
int pare_ref_resize_f32(const pare_ref_resize_params *p, const float *x, int rank,
                        const int64_t *x_dims, const float *scales, const int64_t *sizes, float *y,
                        int64_t *y_dims);

/* ---- Broadcasting ---- */

/* Multidirectional (numpy) broadcast shape of a and b: ranks are aligned at
 * the end, each pair of dims must be equal or contain a 1. */
int pare_ref_broadcast_shape(int a_rank, const int64_t *a_dims, int b_rank, const int64_t *b_dims,
                             int *y_rank, int64_t *y_dims);

/* Element strides for reading an input of shape in_dims as if it had shape
 * y_dims (y_rank >= in_rank): strides[y_rank], 0 along broadcast axes.
 * PARE_REF_EINVAL when in_dims does not broadcast to y_dims. */
int pare_ref_broadcast_strides(int in_rank, const int64_t *in_dims, int y_rank,
                               const int64_t *y_dims, int64_t *strides);

/* y = a op b with multidirectional broadcasting; y has the broadcast shape
 * (which y_rank / y_dims receive, both may be NULL). */
int pare_ref_broadcast_binop_f32(pare_ref_binop op, const float *a, int a_rank,
                                 const int64_t *a_dims, const float *b, int b_rank,
                                 const int64_t *b_dims, float *y, int *y_rank, int64_t *y_dims);

/* PRelu: y = x < 0 ? slope · x : x, slope broadcast unidirectionally to the
 * shape of x (numpy rules; [C] against [N, C, H, W] aligns with W, so
 * per-channel slopes must be [C, 1, 1]). */
int pare_ref_prelu_f32(const float *x, int rank, const int64_t *dims, const float *slope,
                       int s_rank, const int64_t *s_dims, float *y);

/* ---- quantization (ONNX QuantizeLinear / DequantizeLinear) ------------------ */

/* x [n] viewed as [outer, len, inner] with one (scale, zero point) per
 * index of the middle axis (len 1: per tensor); zp may be NULL (0). dt:
 * U8, I8, I4 (packed, low nibble first) or I32. Rounds half to even and
 * saturates. EINVAL for another dtype or a scale that is not positive and
 * finite. */
int pare_ref_quantize_linear(const float *x, size_t n, size_t len, size_t inner, const float *scale,
                             const int32_t *zp, pare_dtype dt, void *y);
int pare_ref_dequantize_linear(const void *q, pare_dtype dt, size_t n, size_t len, size_t inner,
                               const float *scale, const int32_t *zp, float *y);
/* y = DequantizeLinear(QuantizeLinear(x)) with one scale and zero point
 * over the integer range [qmin, qmax]; y may be x. */
int pare_ref_qdq_f32(const float *x, size_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                     float *y);
/* One value: saturate(round_half_even(x / scale) + zp) in dt's range. */
int32_t pare_ref_quantize_value(float x, float scale, int32_t zp, pare_dtype dt);
/* Element i of a quantized buffer. */
int32_t pare_ref_q_get(const void *q, pare_dtype dt, size_t i);

#endif
