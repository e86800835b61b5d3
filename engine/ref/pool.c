/* Reference MaxPool, AveragePool and the global pools. Windows over 1 to 3
 * spatial dims are lifted to 3 with size-1 axes in front, as in conv.c. */
#include <math.h>
#include <stdint.h>

#include "engine/ref/pool_geom.h"

void pare_ref_pool_params_init(pare_ref_pool_params *p, int nspatial) {
  pare_ref_window_init(&p->win, nspatial);
  p->ceil_mode = 0;
  p->count_include_pad = 0;
}

int pare_ref_pool_geom_of(const pare_ref_pool_params *p, const int64_t *x_dims,
                          pare_ref_pool_geom *g) {
  if (!p || !x_dims) return PARE_REF_EINVAL;
  int ns = p->win.nspatial;
  if (ns < 1 || ns > PARE_REF_MAX_SPATIAL) return PARE_REF_EINVAL;
  int64_t count;
  if (pare_ref_shape_numel(2 + ns, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  int64_t out[PARE_REF_MAX_SPATIAL], pads[2 * PARE_REF_MAX_SPATIAL];
  int rc = pare_ref_window_out_dims(&p->win, x_dims + 2, p->ceil_mode, out, pads);
  if (rc != PARE_REF_OK) return rc;
  g->planes = x_dims[0] * x_dims[1];
  for (int j = 0; j < 3; j++) {
    g->in[j] = g->k[j] = g->s[j] = g->d[j] = g->out[j] = 1;
    g->pb[j] = g->pe[j] = 0;
  }
  for (int i = 0; i < ns; i++) {
    int j = 3 - ns + i;
    g->in[j] = x_dims[2 + i];
    g->k[j] = p->win.kernel[i];
    g->s[j] = p->win.strides[i];
    g->d[j] = p->win.dilations[i];
    g->pb[j] = pads[i];
    g->pe[j] = pads[ns + i];
    g->out[j] = out[i];
  }
  return PARE_REF_OK;
}

int pare_ref_pool_shape(const pare_ref_pool_params *p, const int64_t *x_dims, int64_t *y_dims) {
  pare_ref_pool_geom g;
  int rc = pare_ref_pool_geom_of(p, x_dims, &g);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  y_dims[0] = x_dims[0];
  y_dims[1] = x_dims[1];
  for (int i = 0; i < ns; i++) y_dims[2 + i] = g.out[3 - ns + i];
  return PARE_REF_OK;
}

int64_t pare_ref_pool_divisor(const pare_ref_pool_geom *g, const int64_t *o,
                              int count_include_pad) {
  int64_t real = 1, padded = 1;
  for (int j = 0; j < 3; j++) {
    int64_t r = 0, q = 0;
    for (int64_t k = 0; k < g->k[j]; k++) {
      int64_t i = o[j] * g->s[j] + k * g->d[j] - g->pb[j];
      if (i >= 0 && i < g->in[j]) r++;
      if (i >= -g->pb[j] && i < g->in[j] + g->pe[j]) q++;
    }
    real *= r;
    padded *= q;
  }
  return count_include_pad ? padded : real;
}

/* Shared loop of both pools: is_max picks max or average. */
static int pool_run(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims, float *y,
                    int64_t *y_dims, int is_max) {
  pare_ref_pool_geom g;
  int rc = pare_ref_pool_geom_of(p, x_dims, &g);
  if (rc != PARE_REF_OK) return rc;
  if (y_dims) pare_ref_pool_shape(p, x_dims, y_dims);
  int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  size_t yi = 0;
  for (int64_t pl = 0; pl < g.planes; pl++) {
    const float *xp = x + (size_t)(pl * in_plane);
    for (int64_t o0 = 0; o0 < g.out[0]; o0++) {
      for (int64_t o1 = 0; o1 < g.out[1]; o1++) {
        for (int64_t o2 = 0; o2 < g.out[2]; o2++) {
          float best = -INFINITY;
          double sum = 0.0;
          for (int64_t k0 = 0; k0 < g.k[0]; k0++) {
            int64_t i0 = o0 * g.s[0] + k0 * g.d[0] - g.pb[0];
            if (i0 < 0 || i0 >= g.in[0]) continue;
            for (int64_t k1 = 0; k1 < g.k[1]; k1++) {
              int64_t i1 = o1 * g.s[1] + k1 * g.d[1] - g.pb[1];
              if (i1 < 0 || i1 >= g.in[1]) continue;
              const float *row = xp + (size_t)((i0 * g.in[1] + i1) * g.in[2]);
              for (int64_t k2 = 0; k2 < g.k[2]; k2++) {
                int64_t i2 = o2 * g.s[2] + k2 * g.d[2] - g.pb[2];
                if (i2 < 0 || i2 >= g.in[2]) continue;
                float v = row[i2];
                if (v > best) best = v;
                sum += (double)v;
              }
            }
          }
          if (is_max) {
            y[yi++] = best;
            continue;
          }
          int64_t o[3] = {o0, o1, o2};
          int64_t divisor = pare_ref_pool_divisor(&g, o, p->count_include_pad);
          y[yi++] = divisor > 0 ? (float)(sum / (double)divisor) : NAN;
        }
      }
    }
  }
  return PARE_REF_OK;
}

int pare_ref_maxpool_f32(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims,
                         float *y, int64_t *y_dims) {
  return pool_run(p, x, x_dims, y, y_dims, 1);
}

int pare_ref_avgpool_f32(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims,
                         float *y, int64_t *y_dims) {
  return pool_run(p, x, x_dims, y, y_dims, 0);
}

/* Splits x_dims into N·C planes of `plane` elements each. */
static int global_geom(int rank, const int64_t *x_dims, int64_t *planes, int64_t *plane) {
  int64_t count;
  if (rank < 2 || pare_ref_shape_numel(rank, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  *planes = x_dims[0] * x_dims[1];
  int64_t s = 1;
  for (int i = 2; i < rank; i++) s *= x_dims[i];
  *plane = s;
  return PARE_REF_OK;
}

int pare_ref_global_avgpool_f32(const float *x, int rank, const int64_t *x_dims, float *y) {
  int64_t planes, plane;
  int rc = global_geom(rank, x_dims, &planes, &plane);
  if (rc != PARE_REF_OK) return rc;
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + (size_t)(pl * plane);
    double sum = 0.0;
    for (int64_t i = 0; i < plane; i++) sum += (double)xp[i];
    y[pl] = plane > 0 ? (float)(sum / (double)plane) : NAN;
  }
  return PARE_REF_OK;
}

int pare_ref_global_maxpool_f32(const float *x, int rank, const int64_t *x_dims, float *y) {
  int64_t planes, plane;
  int rc = global_geom(rank, x_dims, &planes, &plane);
  if (rc != PARE_REF_OK) return rc;
  for (int64_t pl = 0; pl < planes; pl++) {
    const float *xp = x + (size_t)(pl * plane);
    float best = -INFINITY;
    for (int64_t i = 0; i < plane; i++)
      if (xp[i] > best) best = xp[i];
    y[pl] = best;
  }
  return PARE_REF_OK;
}
