/* Reference MaxPool, AveragePool and GlobalAveragePool backward. Windows are
 * lifted to 3 spatial dims as in pool.c and walked exactly as the forward
 * walks them; each plane's gradient is scattered into a double buffer and
 * rounded once at the end. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/ref/grad.h"

/* A pooling problem in 3 spatial dims (pe: the end pads). */
typedef struct grad_pool_geom {
  int64_t planes; /* N·C */
  int64_t in[3], k[3], s[3], d[3], pb[3], pe[3], out[3];
} grad_pool_geom;

static int geom_of(const pare_ref_pool_params *p, const int64_t *x_dims, grad_pool_geom *g) {
  if (!p || !x_dims) return PARE_REF_EINVAL;
  int ns = p->win.nspatial;
  if (ns < 1 || ns > PARE_REF_MAX_SPATIAL) return PARE_REF_EINVAL;
  int64_t count, out[PARE_REF_MAX_SPATIAL], pads[2 * PARE_REF_MAX_SPATIAL];
  if (pare_ref_shape_numel(2 + ns, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
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

/* The forward's divisor of AveragePool for the window at (o0, o1, o2): the
 * taps inside the input, or with count_include_pad those inside the input
 * plus its pads. */
static int64_t avg_divisor(const grad_pool_geom *g, const int64_t *o, int count_include_pad) {
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

/* Shared walk of both backward pools over one plane: for each window, either
 * routes dy to the first maximum of xp (is_max) or spreads dy/divisor over
 * its input positions, adding into acc[in_plane]. */
static void pool_plane(const pare_ref_pool_params *p, const grad_pool_geom *g, const float *xp,
                       const float *dyp, double *acc, int is_max) {
  int64_t o[3];
  size_t yi = 0;
  for (o[0] = 0; o[0] < g->out[0]; o[0]++) {
    for (o[1] = 0; o[1] < g->out[1]; o[1]++) {
      for (o[2] = 0; o[2] < g->out[2]; o[2]++) {
        double gv = (double)dyp[yi++];
        double share = 0.0;
        if (!is_max) {
          int64_t divisor = avg_divisor(g, o, p->count_include_pad);
          if (divisor <= 0) continue; /* no input position: nothing to route */
          share = gv / (double)divisor;
        }
        float best = -INFINITY;
        int64_t best_at = -1;
        for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
          int64_t i0 = o[0] * g->s[0] + k0 * g->d[0] - g->pb[0];
          if (i0 < 0 || i0 >= g->in[0]) continue;
          for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
            int64_t i1 = o[1] * g->s[1] + k1 * g->d[1] - g->pb[1];
            if (i1 < 0 || i1 >= g->in[1]) continue;
            for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
              int64_t i2 = o[2] * g->s[2] + k2 * g->d[2] - g->pb[2];
              if (i2 < 0 || i2 >= g->in[2]) continue;
              int64_t at = (i0 * g->in[1] + i1) * g->in[2] + i2;
              if (!is_max) {
                acc[at] += share;
              } else if (xp[at] > best) {
                /* Strictly greater, as the forward: the first maximum wins
                 * and NaN never does. */
                best = xp[at];
                best_at = at;
              }
            }
          }
        }
        if (is_max && best_at >= 0) acc[best_at] += gv;
      }
    }
  }
}

static int pool_backward(const pare_ref_pool_params *p, const float *x, const int64_t *x_dims,
                         const float *dy, float *dx, int is_max) {
  grad_pool_geom g;
  int rc = geom_of(p, x_dims, &g);
  if (rc != PARE_REF_OK) return rc;
  int64_t in_plane = g.in[0] * g.in[1] * g.in[2];
  int64_t out_plane = g.out[0] * g.out[1] * g.out[2];
  if (g.planes == 0 || in_plane == 0) return PARE_REF_OK;
  if (!dy || !dx || (is_max && !x)) return PARE_REF_EINVAL;
  if ((uint64_t)in_plane > SIZE_MAX / sizeof(double)) return PARE_REF_ENOMEM;
  double *acc = malloc((size_t)in_plane * sizeof *acc);
  if (!acc) return PARE_REF_ENOMEM;
  for (int64_t pl = 0; pl < g.planes; pl++) {
    for (int64_t i = 0; i < in_plane; i++) acc[i] = 0.0;
    const float *xp = is_max ? x + (size_t)(pl * in_plane) : NULL;
    pool_plane(p, &g, xp, dy + (size_t)(pl * out_plane), acc, is_max);
    float *dxp = dx + (size_t)(pl * in_plane);
    for (int64_t i = 0; i < in_plane; i++) dxp[i] = (float)acc[i];
  }
  free(acc);
  return PARE_REF_OK;
}

int pare_ref_maxpool_backward_f32(const pare_ref_pool_params *p, const float *x,
                                  const int64_t *x_dims, const float *dy, float *dx) {
  return pool_backward(p, x, x_dims, dy, dx, 1);
}

int pare_ref_avgpool_backward_f32(const pare_ref_pool_params *p, const int64_t *x_dims,
                                  const float *dy, float *dx) {
  return pool_backward(p, NULL, x_dims, dy, dx, 0);
}

int pare_ref_global_avgpool_backward_f32(int rank, const int64_t *x_dims, const float *dy,
                                         float *dx) {
  int64_t count;
  if (rank < 2 || pare_ref_shape_numel(rank, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (count == 0) return PARE_REF_OK;
  if (!dy || !dx) return PARE_REF_EINVAL;
  int64_t planes = x_dims[0] * x_dims[1], plane = count / planes;
  for (int64_t pl = 0; pl < planes; pl++) {
    float v = (float)((double)dy[pl] / (double)plane);
    for (int64_t i = 0; i < plane; i++) dx[(size_t)(pl * plane + i)] = v;
  }
  return PARE_REF_OK;
}
