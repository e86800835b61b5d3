/* Reference Conv and ConvTranspose over 1 to 3 spatial dims, and the window
 * geometry (output dims, auto_pad) that pooling shares. Internally every
 * problem is lifted to 3 spatial dims by putting size-1 axes in front. */
#include <stdint.h>
#include <stdlib.h>

#include "engine/core/core.h"
#include "engine/ref/ops.h"

/* Bounds that keep every product below 2^63: attributes up to 2^20, spatial
 * dims up to 2^40. Real models are far inside both. */
#define ATTR_LIMIT ((int64_t)1 << 20)
#define DIM_LIMIT  ((int64_t)1 << 40)

void pare_ref_window_init(pare_ref_window *w, int nspatial) {
  w->nspatial = nspatial;
  for (int i = 0; i < PARE_REF_MAX_SPATIAL; i++) {
    w->kernel[i] = 0;
    w->strides[i] = 1;
    w->dilations[i] = 1;
  }
  for (int i = 0; i < 2 * PARE_REF_MAX_SPATIAL; i++) w->pads[i] = 0;
  w->auto_pad = PARE_REF_AUTO_PAD_NOTSET;
}

void pare_ref_conv_params_init(pare_ref_conv_params *p, int nspatial) {
  pare_ref_window_init(&p->win, nspatial);
  p->group = 1;
}

void pare_ref_conv_transpose_params_init(pare_ref_conv_transpose_params *p, int nspatial) {
  pare_ref_window_init(&p->win, nspatial);
  p->group = 1;
  p->has_output_shape = 0;
  for (int i = 0; i < PARE_REF_MAX_SPATIAL; i++) {
    p->output_padding[i] = 0;
    p->output_shape[i] = 0;
  }
}

/* Floor division by 2 (Python's //), also for negative values. */
static int64_t floor_half(int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }

/* Checks nspatial, strides, dilations and the kernel (>= 1 unless
 * kernel_may_be_zero), and the auto_pad value. */
static int check_window(const pare_ref_window *w, int kernel_may_be_zero) {
  if (w->nspatial < 1 || w->nspatial > PARE_REF_MAX_SPATIAL) return PARE_REF_EINVAL;
  if (w->auto_pad < PARE_REF_AUTO_PAD_NOTSET || w->auto_pad > PARE_REF_AUTO_PAD_VALID)
    return PARE_REF_EINVAL;
  for (int i = 0; i < w->nspatial; i++) {
    if (w->strides[i] < 1 || w->strides[i] > ATTR_LIMIT) return PARE_REF_EINVAL;
    if (w->dilations[i] < 1 || w->dilations[i] > ATTR_LIMIT) return PARE_REF_EINVAL;
    if (w->kernel[i] > ATTR_LIMIT || w->kernel[i] < (kernel_may_be_zero ? 0 : 1))
      return PARE_REF_EINVAL;
  }
  return PARE_REF_OK;
}

int pare_ref_window_out_dims(const pare_ref_window *w, const int64_t *in_dims, int ceil_mode,
                             int64_t *out_dims, int64_t *pads_out) {
  int rc = check_window(w, 0);
  if (rc != PARE_REF_OK) return rc;
  int ns = w->nspatial;
  int64_t pads[2 * PARE_REF_MAX_SPATIAL];
  int64_t outs[PARE_REF_MAX_SPATIAL];
  for (int i = 0; i < ns; i++) {
    int64_t in = in_dims[i], s = w->strides[i];
    if (in < 0 || in > DIM_LIMIT) return PARE_REF_EINVAL;
    int64_t eff_k = (w->kernel[i] - 1) * w->dilations[i] + 1;
    int64_t pb = 0, pe = 0, out;
    if (w->auto_pad == PARE_REF_AUTO_PAD_SAME_UPPER ||
        w->auto_pad == PARE_REF_AUTO_PAD_SAME_LOWER) {
      out = (in + s - 1) / s;
      int64_t total = (out - 1) * s + eff_k - in;
      if (total < 0) total = 0;
      pb = w->auto_pad == PARE_REF_AUTO_PAD_SAME_UPPER ? total / 2 : total - total / 2;
      pe = total - pb;
    } else {
      if (w->auto_pad == PARE_REF_AUTO_PAD_NOTSET) {
        pb = w->pads[i];
        pe = w->pads[ns + i];
        if (pb < 0 || pe < 0 || pb > ATTR_LIMIT || pe > ATTR_LIMIT) return PARE_REF_EINVAL;
      }
      int64_t span = in + pb + pe - eff_k;
      if (span < 0) return PARE_REF_EINVAL;
      int use_ceil = ceil_mode && w->auto_pad == PARE_REF_AUTO_PAD_NOTSET;
      out = (use_ceil ? (span + s - 1) / s : span / s) + 1;
      /* The last window must start inside the input or the begin padding. */
      if (use_ceil && (out - 1) * s >= in + pb) out--;
    }
    if (out < 1) return PARE_REF_EINVAL;
    outs[i] = out;
    pads[i] = pb;
    pads[ns + i] = pe;
  }
  for (int i = 0; i < ns; i++) out_dims[i] = outs[i];
  if (pads_out)
    for (int i = 0; i < 2 * ns; i++) pads_out[i] = pads[i];
  return PARE_REF_OK;
}

/* A convolution problem lifted to 3 spatial dims (real ones at the end). */
typedef struct conv_geom {
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
} conv_geom;

/* Checks shared by Conv and ConvTranspose, and the lift to 3 spatial dims:
 * x's spatial dims become g->in, the weight's g->k (checked against a nonzero
 * win->kernel), and strides and dilations are copied. Pads, output dims and
 * the output channel count are left to the caller. */
static int lift_geom(const pare_ref_window *win, int64_t group, const int64_t *x_dims,
                     const int64_t *w_dims, conv_geom *g) {
  int rc = check_window(win, 1);
  if (rc != PARE_REF_OK) return rc;
  int ns = win->nspatial;
  int64_t count;
  if (pare_ref_shape_numel(2 + ns, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (pare_ref_shape_numel(2 + ns, w_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (group < 1 || group > DIM_LIMIT) return PARE_REF_EINVAL;
  g->n = x_dims[0];
  g->c = x_dims[1];
  g->group = group;
  for (int i = 0; i < 3; i++) {
    g->in[i] = g->k[i] = g->s[i] = g->d[i] = g->out[i] = 1;
    g->pb[i] = 0;
  }
  for (int i = 0; i < ns; i++) {
    int j = 3 - ns + i;
    int64_t k = w_dims[2 + i];
    if (k < 1 || k > ATTR_LIMIT) return PARE_REF_EINVAL;
    if (win->kernel[i] != 0 && win->kernel[i] != k) return PARE_REF_EINVAL;
    if (x_dims[2 + i] > DIM_LIMIT) return PARE_REF_EINVAL;
    g->in[j] = x_dims[2 + i];
    g->k[j] = k;
    g->s[j] = win->strides[i];
    g->d[j] = win->dilations[i];
  }
  return PARE_REF_OK;
}

static int conv_geom_of(const pare_ref_conv_params *p, const int64_t *x_dims, const int64_t *w_dims,
                        conv_geom *g) {
  int rc = lift_geom(&p->win, p->group, x_dims, w_dims, g);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  g->m = w_dims[0];
  if (g->c % g->group != 0 || g->m % g->group != 0) return PARE_REF_EINVAL;
  if (w_dims[1] != g->c / g->group) return PARE_REF_EINVAL;
  pare_ref_window win = p->win;
  int64_t in[PARE_REF_MAX_SPATIAL] = {0}, out[PARE_REF_MAX_SPATIAL] = {0};
  int64_t pads[2 * PARE_REF_MAX_SPATIAL] = {0};
  for (int i = 0; i < ns; i++) {
    win.kernel[i] = w_dims[2 + i];
    in[i] = x_dims[2 + i];
  }
  rc = pare_ref_window_out_dims(&win, in, 0, out, pads);
  if (rc != PARE_REF_OK) return rc;
  for (int i = 0; i < ns; i++) {
    g->out[3 - ns + i] = out[i];
    g->pb[3 - ns + i] = pads[i];
  }
  return PARE_REF_OK;
}

int pare_ref_conv_shape(const pare_ref_conv_params *p, const int64_t *x_dims, const int64_t *w_dims,
                        int64_t *y_dims) {
  conv_geom g;
  int rc = conv_geom_of(p, x_dims, w_dims, &g);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  y_dims[0] = g.n;
  y_dims[1] = g.m;
  for (int i = 0; i < ns; i++) y_dims[2 + i] = g.out[3 - ns + i];
  return PARE_REF_OK;
}

typedef struct conv_job {
  conv_geom g;
  const float *x, *w, *bias;
  float *yf;
  double *yd;
} conv_job;

/* Output planes [begin, end) of the (image, output channel) pairs. */
static void conv_planes(void *ctx, size_t begin, size_t end) {
  const conv_job *j = ctx;
  const conv_geom *g = &j->g;
  int64_t cg = g->c / g->group, mg = g->m / g->group;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2];
  int64_t k_plane = g->k[0] * g->k[1] * g->k[2];
  size_t out_plane = (size_t)(g->out[0] * g->out[1] * g->out[2]);
  for (size_t nm = begin; nm < end; nm++) {
    int64_t n = (int64_t)nm / g->m, m = (int64_t)nm % g->m;
    size_t yi = nm * out_plane;
    int64_t c0 = (m / mg) * cg;
    const float *wm = j->w + (size_t)(m * cg * k_plane);
    for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
      for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
        for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
          double acc = j->bias ? (double)j->bias[m] : 0.0;
          for (int64_t c = 0; c < cg; c++) {
            const float *xc = j->x + (size_t)((n * g->c + c0 + c) * in_plane);
            const float *wc = wm + (size_t)(c * k_plane);
            for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
              int64_t i0 = o0 * g->s[0] + k0 * g->d[0] - g->pb[0];
              if (i0 < 0 || i0 >= g->in[0]) continue;
              for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
                int64_t i1 = o1 * g->s[1] + k1 * g->d[1] - g->pb[1];
                if (i1 < 0 || i1 >= g->in[1]) continue;
                const float *xrow = xc + (size_t)((i0 * g->in[1] + i1) * g->in[2]);
                const float *wrow = wc + (size_t)((k0 * g->k[1] + k1) * g->k[2]);
                for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                  int64_t i2 = o2 * g->s[2] + k2 * g->d[2] - g->pb[2];
                  if (i2 < 0 || i2 >= g->in[2]) continue;
                  acc += (double)xrow[i2] * (double)wrow[k2];
                }
              }
            }
          }
          if (j->yd)
            j->yd[yi++] = acc;
          else
            j->yf[yi++] = (float)acc;
        }
      }
    }
  }
}

/* The convolution into float outputs (yf) or double ones (yd, exact sums
 * of products of small integers); output planes split over threads. */
static int conv_core(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                     const float *w, const int64_t *w_dims, const float *bias, float *yf,
                     double *yd, int64_t *y_dims) {
  conv_job j = {{0}, x, w, bias, yf, yd};
  int rc = conv_geom_of(p, x_dims, w_dims, &j.g);
  if (rc != PARE_REF_OK) return rc;
  if (y_dims) pare_ref_conv_shape(p, x_dims, w_dims, y_dims);
  const conv_geom *g = &j.g;
  double work = (double)g->n * (double)g->m * (double)(g->out[0] * g->out[1] * g->out[2]) *
                (double)(g->c / g->group) * (double)(g->k[0] * g->k[1] * g->k[2]);
  pare_parallel_for((size_t)(g->n * g->m), work, conv_planes, &j);
  return PARE_REF_OK;
}

int pare_ref_conv_f32(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                      const float *w, const int64_t *w_dims, const float *bias, float *y,
                      int64_t *y_dims) {
  return conv_core(p, x, x_dims, w, w_dims, bias, y, NULL, y_dims);
}

int pare_ref_conv_f64(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                      const float *w, const int64_t *w_dims, double *y, int64_t *y_dims) {
  return conv_core(p, x, x_dims, w, w_dims, NULL, NULL, y, y_dims);
}

/* ConvTranspose geometry: output dims and begin pads per the ONNX spec. */
static int conv_transpose_geom_of(const pare_ref_conv_transpose_params *p, const int64_t *x_dims,
                                  const int64_t *w_dims, conv_geom *g, int64_t *pads_out) {
  int rc = lift_geom(&p->win, p->group, x_dims, w_dims, g);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  if (w_dims[0] != g->c || g->c % g->group != 0) return PARE_REF_EINVAL;
  if (w_dims[1] > DIM_LIMIT / g->group) return PARE_REF_EINVAL;
  g->m = w_dims[1] * g->group;
  int64_t pads[2 * PARE_REF_MAX_SPATIAL];
  for (int i = 0; i < ns; i++) {
    int j = 3 - ns + i;
    int64_t op = p->output_padding[i];
    if (op < 0 || op > ATTR_LIMIT) return PARE_REF_EINVAL;
    /* The size of the full (unpadded) transposed convolution. */
    int64_t full = g->s[j] * (g->in[j] - 1) + op + (g->k[j] - 1) * g->d[j] + 1;
    int same = p->win.auto_pad == PARE_REF_AUTO_PAD_SAME_UPPER ||
               p->win.auto_pad == PARE_REF_AUTO_PAD_SAME_LOWER;
    int64_t pb, pe, out;
    if (p->has_output_shape || same) {
      out = p->has_output_shape ? p->output_shape[i] : g->in[j] * g->s[j];
      if (out < 1 || out > DIM_LIMIT) return PARE_REF_EINVAL;
      int64_t total = full - out;
      if (p->win.auto_pad == PARE_REF_AUTO_PAD_SAME_UPPER) {
        pb = floor_half(total);
        pe = total - pb;
      } else {
        pe = floor_half(total);
        pb = total - pe;
      }
    } else {
      pb = pe = 0;
      if (p->win.auto_pad == PARE_REF_AUTO_PAD_NOTSET) {
        pb = p->win.pads[i];
        pe = p->win.pads[ns + i];
        if (pb < -ATTR_LIMIT || pb > ATTR_LIMIT || pe < -ATTR_LIMIT || pe > ATTR_LIMIT)
          return PARE_REF_EINVAL;
      }
      out = full - pb - pe;
      if (out < 1) return PARE_REF_EINVAL;
    }
    g->out[j] = out;
    g->pb[j] = pb;
    pads[i] = pb;
    pads[ns + i] = pe;
  }
  if (pads_out)
    for (int i = 0; i < 2 * ns; i++) pads_out[i] = pads[i];
  return PARE_REF_OK;
}

int pare_ref_conv_transpose_shape(const pare_ref_conv_transpose_params *p, const int64_t *x_dims,
                                  const int64_t *w_dims, int64_t *y_dims, int64_t *pads_out) {
  conv_geom g;
  int rc = conv_transpose_geom_of(p, x_dims, w_dims, &g, pads_out);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  y_dims[0] = g.n;
  y_dims[1] = g.m;
  for (int i = 0; i < ns; i++) y_dims[2 + i] = g.out[3 - ns + i];
  return PARE_REF_OK;
}

/* The kernel taps [*lo, *hi) along `axis` through which input position i
 * lands inside the output: 0 <= i*s - pb + k*d < out. */
static void tap_range(const conv_geom *g, int axis, int64_t i, int64_t *lo, int64_t *hi) {
  int64_t base = i * g->s[axis] - g->pb[axis], d = g->d[axis];
  int64_t first = base >= 0 ? 0 : (-base + d - 1) / d; /* smallest k with base+k*d >= 0 */
  int64_t last = base >= g->out[axis] ? 0 : (g->out[axis] - 1 - base) / d + 1; /* one past */
  *lo = first;
  *hi = last < g->k[axis] ? last : g->k[axis];
  if (*hi < *lo) *hi = *lo;
}

/* Scatter form: every input element times every kernel tap is added to
 * the output it lands on, so the work is the layer's true multiply-adds
 * (a gather over output positions would test every tap at every output,
 * stride^d times more, which a large kernel makes prohibitive). Sums are
 * kept in double, one output plane at a time. */
int pare_ref_conv_transpose_f32(const pare_ref_conv_transpose_params *p, const float *x,
                                const int64_t *x_dims, const float *w, const int64_t *w_dims,
                                const float *bias, float *y, int64_t *y_dims) {
  conv_geom g;
  int rc = conv_transpose_geom_of(p, x_dims, w_dims, &g, NULL);
  if (rc != PARE_REF_OK) return rc;
  int64_t cg = g.c / g.group, mg = g.m / g.group;
  int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  int64_t k_plane = g.k[0] * g.k[1] * g.k[2];
  int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  double *acc = malloc(sizeof(double) * (size_t)(out_plane > 0 ? out_plane : 1));
  if (!acc) return PARE_REF_ENOMEM;
  if (y_dims) pare_ref_conv_transpose_shape(p, x_dims, w_dims, y_dims, NULL);
  for (int64_t n = 0; n < g.n; n++) {
    for (int64_t m = 0; m < g.m; m++) {
      int64_t c0 = (m / mg) * cg, mm = m % mg;
      for (int64_t o = 0; o < out_plane; o++) acc[o] = bias ? (double)bias[m] : 0.0;
      for (int64_t c = 0; c < cg; c++) {
        const float *xc = x + (size_t)((n * g.c + c0 + c) * in_plane);
        const float *wc = w + (size_t)(((c0 + c) * mg + mm) * k_plane);
        for (int64_t i0 = 0; i0 < g.in[0]; i0++)
          for (int64_t i1 = 0; i1 < g.in[1]; i1++)
            for (int64_t i2 = 0; i2 < g.in[2]; i2++) {
              double xv = xc[(i0 * g.in[1] + i1) * g.in[2] + i2];
              int64_t lo[3], hi[3], i[3] = {i0, i1, i2};
              for (int a = 0; a < 3; a++) tap_range(&g, a, i[a], &lo[a], &hi[a]);
              for (int64_t k0 = lo[0]; k0 < hi[0]; k0++) {
                int64_t o0 = i0 * g.s[0] - g.pb[0] + k0 * g.d[0];
                for (int64_t k1 = lo[1]; k1 < hi[1]; k1++) {
                  int64_t o1 = i1 * g.s[1] - g.pb[1] + k1 * g.d[1];
                  double *ao = acc + (o0 * g.out[1] + o1) * g.out[2];
                  const float *wk = wc + (k0 * g.k[1] + k1) * g.k[2];
                  for (int64_t k2 = lo[2]; k2 < hi[2]; k2++)
                    ao[i2 * g.s[2] - g.pb[2] + k2 * g.d[2]] += xv * wk[k2];
                }
              }
            }
      }
      float *ym = y + (size_t)((n * g.m + m) * out_plane);
      for (int64_t o = 0; o < out_plane; o++) ym[o] = (float)acc[o];
    }
  }
  free(acc);
  return PARE_REF_OK;
}
