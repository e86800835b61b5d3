/* Reference Winograd F(2×2, 3×3) (engine/ref/winograd.h). The matrices,
 * from Lavin and Gray (2016):
 *   Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G  = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   Aᵀ = [1 1 1 0; 0 1 -1 -1] */
#include "engine/ref/winograd.h"

#include <math.h>
#include <stdlib.h>

void pare_ref_winograd_weights_f32(const float *w, size_t m, size_t c, float *u) {
  size_t mc = m * c;
  for (size_t i = 0; i < mc; i++) {
    const float *g = w + i * 9;
    float t[4][3]; /* G g */
    for (int s = 0; s < 3; s++) {
      t[0][s] = g[s];
      t[1][s] = 0.5f * (g[s] + g[3 + s] + g[6 + s]);
      t[2][s] = 0.5f * (g[s] - g[3 + s] + g[6 + s]);
      t[3][s] = g[6 + s];
    }
    for (int r = 0; r < 4; r++) { /* (G g) Gᵀ */
      u[(size_t)(4 * r + 0) * mc + i] = t[r][0];
      u[(size_t)(4 * r + 1) * mc + i] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
      u[(size_t)(4 * r + 2) * mc + i] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
      u[(size_t)(4 * r + 3) * mc + i] = t[r][2];
    }
  }
}

void pare_ref_winograd_input_f32(const float *x, size_t n, size_t c, size_t h, size_t w,
                                 size_t pad_top, size_t pad_left, size_t th, size_t tw, float *v) {
  size_t T = n * th * tw, ct = c * T;
  for (size_t img = 0; img < n; img++)
    for (size_t ch = 0; ch < c; ch++)
      for (size_t ty = 0; ty < th; ty++)
        for (size_t tx = 0; tx < tw; tx++) {
          float d[4][4];
          for (size_t r = 0; r < 4; r++)
            for (size_t s = 0; s < 4; s++) {
              /* Row 2·ty + r of the padded input is row 2·ty + r − pad_top of x. */
              size_t yy = 2 * ty + r, xx = 2 * tx + s;
              int inside = yy >= pad_top && yy - pad_top < h && xx >= pad_left && xx - pad_left < w;
              d[r][s] = inside ? x[((img * c + ch) * h + (yy - pad_top)) * w + (xx - pad_left)] : 0;
            }
          float e[4][4]; /* Bᵀ d */
          for (int s = 0; s < 4; s++) {
            e[0][s] = d[0][s] - d[2][s];
            e[1][s] = d[1][s] + d[2][s];
            e[2][s] = d[2][s] - d[1][s];
            e[3][s] = d[1][s] - d[3][s];
          }
          float *o = v + ch * T + (img * th + ty) * tw + tx;
          for (int r = 0; r < 4; r++) { /* (Bᵀ d) B */
            o[(size_t)(4 * r + 0) * ct] = e[r][0] - e[r][2];
            o[(size_t)(4 * r + 1) * ct] = e[r][1] + e[r][2];
            o[(size_t)(4 * r + 2) * ct] = e[r][2] - e[r][1];
            o[(size_t)(4 * r + 3) * ct] = e[r][1] - e[r][3];
          }
        }
}

void pare_ref_winograd_output_f32(const float *p, size_t m, size_t n, size_t th, size_t tw,
                                  size_t oh, size_t ow, const float *bias, float *y) {
  size_t T = n * th * tw, mt = m * T;
  for (size_t img = 0; img < n; img++)
    for (size_t ch = 0; ch < m; ch++)
      for (size_t ty = 0; ty < th; ty++)
        for (size_t tx = 0; tx < tw; tx++) {
          const float *q = p + ch * T + (img * th + ty) * tw + tx;
          float s[2][4]; /* Aᵀ p */
          for (int col = 0; col < 4; col++) {
            s[0][col] = q[(size_t)col * mt] + q[(size_t)(4 + col) * mt] + q[(size_t)(8 + col) * mt];
            s[1][col] =
                q[(size_t)(4 + col) * mt] - q[(size_t)(8 + col) * mt] - q[(size_t)(12 + col) * mt];
          }
          for (size_t r = 0; r < 2; r++) { /* (Aᵀ p) A */
            float o[2] = {s[r][0] + s[r][1] + s[r][2], s[r][1] - s[r][2] - s[r][3]};
            for (size_t col = 0; col < 2; col++) {
              size_t yy = 2 * ty + r, xx = 2 * tx + col;
              if (yy < oh && xx < ow)
                y[((img * m + ch) * oh + yy) * ow + xx] = o[col] + (bias ? bias[ch] : 0.0f);
            }
          }
        }
}

int pare_ref_conv2d_winograd_f32(const float *x, size_t n, size_t c, size_t h, size_t w,
                                 const float *weight, size_t m, const float *bias, size_t pad_top,
                                 size_t pad_left, size_t pad_bottom, size_t pad_right, float *y) {
  size_t ph = h + pad_top + pad_bottom, pw = w + pad_left + pad_right;
  if (!n || !c || !m || ph < 3 || pw < 3) return -1;
  size_t oh = ph - 2, ow = pw - 2, th = (oh + 1) / 2, tw = (ow + 1) / 2, T = n * th * tw;
  float *u = malloc(16 * m * c * sizeof *u), *v = malloc(16 * c * T * sizeof *v);
  float *p = malloc(16 * m * T * sizeof *p);
  int rc = u && v && p ? 0 : -1;
  if (rc == 0) {
    pare_ref_winograd_weights_f32(weight, m, c, u);
    pare_ref_winograd_input_f32(x, n, c, h, w, pad_top, pad_left, th, tw, v);
    for (size_t k = 0; k < 16; k++)
      for (size_t i = 0; i < m; i++)
        for (size_t t = 0; t < T; t++) {
          float acc = 0.0f;
          for (size_t ch = 0; ch < c; ch++)
            acc = fmaf(u[(k * m + i) * c + ch], v[(k * c + ch) * T + t], acc);
          p[(k * m + i) * T + t] = acc;
        }
    pare_ref_winograd_output_f32(p, m, n, th, tw, oh, ow, bias, y);
  }
  free(u);
  free(v);
  free(p);
  return rc;
}
