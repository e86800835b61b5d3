/* Reference MaxPool, AveragePool and GlobalAveragePool backward. Windows are
 * lifted to 3 spatial dims as in pool.c and walked exactly as the forward
 * walks them; each plane's gradient is scattered into a double buffer and
 * rounded once at the end. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "engine/ref/grad.h"
#include "engine/ref/pool_geom.h"

/* Shared walk of both backward pools over one plane: for each window, either
 * routes dy to the first maximum of xp (is_max) or spreads dy/divisor over
 * its input positions, adding into acc[in_plane]. */
static void pool_plane(const pare_ref_pool_params *p, const pare_ref_pool_geom *g, const float *xp,
                       const float *dyp, double *acc, int is_max) {
  int64_t o[3];
  size_t yi = 0;
  for (o[0] = 0; o[0] < g->out[0]; o[0]++) {
    for (o[1] = 0; o[1] < g->out[1]; o[1]++) {
      for (o[2] = 0; o[2] < g->out[2]; o[2]++) {
        double gv = (double)dyp[yi++];
        double share = 0.0;
        if (!is_max) {
          int64_t divisor = pare_ref_pool_divisor(g, o, p->count_include_pad);
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
  pare_ref_pool_geom g;
  int rc = pare_ref_pool_geom_of(p, x_dims, &g);
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
