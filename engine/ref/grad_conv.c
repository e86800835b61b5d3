/* Reference Conv backward: the gradients with respect to the input, the
 * weight and the bias, each computed as a gather in double (one output
 * element at a time, never a scatter). As in conv.c, every problem is lifted
 * to 3 spatial dims with size-1 axes in front. */
#include <stdint.h>

#include "engine/ref/grad.h"

/* A Conv problem in 3 spatial dims. */
typedef struct grad_conv_geom {
  int64_t n, c, m, group;
  int64_t in[3], k[3], s[3], d[3], pb[3], out[3];
} grad_conv_geom;

/* Validates the problem through pare_ref_conv_shape (which checks every
 * attribute and shape) and resolves the begin pads the forward uses. */
static int geom_of(const pare_ref_conv_params *p, const int64_t *x_dims, const int64_t *w_dims,
                   grad_conv_geom *g) {
  if (!p || !x_dims || !w_dims) return PARE_REF_EINVAL;
  int64_t y_dims[2 + PARE_REF_MAX_SPATIAL];
  int rc = pare_ref_conv_shape(p, x_dims, w_dims, y_dims);
  if (rc != PARE_REF_OK) return rc;
  int ns = p->win.nspatial;
  pare_ref_window win = p->win;
  int64_t out[PARE_REF_MAX_SPATIAL], pads[2 * PARE_REF_MAX_SPATIAL];
  for (int i = 0; i < ns; i++) win.kernel[i] = w_dims[2 + i];
  rc = pare_ref_window_out_dims(&win, x_dims + 2, 0, out, pads);
  if (rc != PARE_REF_OK) return rc;
  g->n = x_dims[0];
  g->c = x_dims[1];
  g->m = w_dims[0];
  g->group = p->group;
  for (int j = 0; j < 3; j++) {
    g->in[j] = g->k[j] = g->s[j] = g->d[j] = g->out[j] = 1;
    g->pb[j] = 0;
  }
  for (int i = 0; i < ns; i++) {
    int j = 3 - ns + i;
    g->in[j] = x_dims[2 + i];
    g->k[j] = w_dims[2 + i];
    g->s[j] = p->win.strides[i];
    g->d[j] = p->win.dilations[i];
    g->pb[j] = pads[i];
    g->out[j] = y_dims[2 + i];
  }
  return PARE_REF_OK;
}

/* Along one axis: the output position o whose window reads input i through
 * tap k, or -1 when there is none. */
static int64_t out_of(const grad_conv_geom *g, int axis, int64_t i, int64_t k) {
  int64_t t = i + g->pb[axis] - k * g->d[axis];
  if (t < 0 || t % g->s[axis] != 0) return -1;
  t /= g->s[axis];
  return t < g->out[axis] ? t : -1;
}

/* dx[n, ci, i] = Σ over the group's output channels m, taps k and outputs o
 * with o·s + k·d - pb = i of dy[n, m, o]·w[m, ci - c0, k]. */
static void conv_dx(const grad_conv_geom *g, const float *w, const float *dy, float *dx) {
  int64_t cg = g->c / g->group, mg = g->m / g->group;
  int64_t out_plane = g->out[0] * g->out[1] * g->out[2];
  int64_t k_plane = g->k[0] * g->k[1] * g->k[2];
  size_t xi = 0;
  for (int64_t n = 0; n < g->n; n++) {
    for (int64_t ci = 0; ci < g->c; ci++) {
      int64_t m0 = (ci / cg) * mg, c = ci % cg;
      for (int64_t i0 = 0; i0 < g->in[0]; i0++) {
        for (int64_t i1 = 0; i1 < g->in[1]; i1++) {
          for (int64_t i2 = 0; i2 < g->in[2]; i2++) {
            double acc = 0.0;
            for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
              int64_t o0 = out_of(g, 0, i0, k0);
              if (o0 < 0) continue;
              for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
                int64_t o1 = out_of(g, 1, i1, k1);
                if (o1 < 0) continue;
                for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
                  int64_t o2 = out_of(g, 2, i2, k2);
                  if (o2 < 0) continue;
                  int64_t ooff = (o0 * g->out[1] + o1) * g->out[2] + o2;
                  int64_t koff = (k0 * g->k[1] + k1) * g->k[2] + k2;
                  for (int64_t m = m0; m < m0 + mg; m++) {
                    double gv = (double)dy[(size_t)((n * g->m + m) * out_plane + ooff)];
                    double wv = (double)w[(size_t)((m * cg + c) * k_plane + koff)];
                    acc += gv * wv;
                  }
                }
              }
            }
            dx[xi++] = (float)acc;
          }
        }
      }
    }
  }
}

/* dw[m, c, k] = Σ over images n and outputs o of dy[n, m, o]·x[n, c0 + c,
 * o·s + k·d - pb], positions in the padding contributing nothing. */
static void conv_dw(const grad_conv_geom *g, const float *x, const float *dy, float *dw) {
  int64_t cg = g->c / g->group, mg = g->m / g->group;
  int64_t in_plane = g->in[0] * g->in[1] * g->in[2];
  int64_t out_plane = g->out[0] * g->out[1] * g->out[2];
  size_t wi = 0;
  for (int64_t m = 0; m < g->m; m++) {
    int64_t c0 = (m / mg) * cg;
    for (int64_t c = 0; c < cg; c++) {
      for (int64_t k0 = 0; k0 < g->k[0]; k0++) {
        for (int64_t k1 = 0; k1 < g->k[1]; k1++) {
          for (int64_t k2 = 0; k2 < g->k[2]; k2++) {
            double acc = 0.0;
            for (int64_t n = 0; n < g->n; n++) {
              const float *xc = x + (size_t)((n * g->c + c0 + c) * in_plane);
              const float *dym = dy + (size_t)((n * g->m + m) * out_plane);
              for (int64_t o0 = 0; o0 < g->out[0]; o0++) {
                int64_t i0 = o0 * g->s[0] + k0 * g->d[0] - g->pb[0];
                if (i0 < 0 || i0 >= g->in[0]) continue;
                for (int64_t o1 = 0; o1 < g->out[1]; o1++) {
                  int64_t i1 = o1 * g->s[1] + k1 * g->d[1] - g->pb[1];
                  if (i1 < 0 || i1 >= g->in[1]) continue;
                  const float *xrow = xc + (size_t)((i0 * g->in[1] + i1) * g->in[2]);
                  const float *grow = dym + (size_t)((o0 * g->out[1] + o1) * g->out[2]);
                  for (int64_t o2 = 0; o2 < g->out[2]; o2++) {
                    int64_t i2 = o2 * g->s[2] + k2 * g->d[2] - g->pb[2];
                    if (i2 < 0 || i2 >= g->in[2]) continue;
                    acc += (double)grow[o2] * (double)xrow[i2];
                  }
                }
              }
            }
            dw[wi++] = (float)acc;
          }
        }
      }
    }
  }
}

/* db[m] = Σ over images and output positions of dy[n, m, o]. */
static void conv_db(const grad_conv_geom *g, const float *dy, float *db) {
  int64_t out_plane = g->out[0] * g->out[1] * g->out[2];
  for (int64_t m = 0; m < g->m; m++) {
    double acc = 0.0;
    for (int64_t n = 0; n < g->n; n++) {
      const float *dym = dy + (size_t)((n * g->m + m) * out_plane);
      for (int64_t o = 0; o < out_plane; o++) acc += (double)dym[o];
    }
    db[m] = (float)acc;
  }
}

int pare_ref_conv_backward_f32(const pare_ref_conv_params *p, const float *x, const int64_t *x_dims,
                               const float *w, const int64_t *w_dims, const float *dy, float *dx,
                               float *dw, float *db) {
  grad_conv_geom g;
  int rc = geom_of(p, x_dims, w_dims, &g);
  if (rc != PARE_REF_OK) return rc;
  if ((dx && !w) || (dw && !x) || ((dx || dw || db) && !dy)) return PARE_REF_EINVAL;
  if (dx) conv_dx(&g, w, dy, dx);
  if (dw) conv_dw(&g, x, dy, dw);
  if (db) conv_db(&g, dy, db);
  return PARE_REF_OK;
}
