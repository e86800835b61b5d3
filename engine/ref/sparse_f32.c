/* Reference sparse formats and products (see engine/ref/sparse.h): clear
 * loops, sums in double. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref/sparse.h"

/* a·b fits in size_t and in int32 indices. */
static int dims_ok(size_t a, size_t b) {
  if (a > INT32_MAX || b > INT32_MAX) return 0;
  return a == 0 || b <= (size_t)INT32_MAX / a;
}

/* calloc of n elements, at least one (so that an empty array is not NULL). */
static void *alloc0(size_t n, size_t size) { return calloc(n ? n : 1, size); }

void pare_csr_free(pare_csr *a) {
  if (!a) return;
  free(a->row_ptr);
  free(a->col_idx);
  free(a->values);
  free(a->qvalues);
  free(a->scales);
  memset(a, 0, sizeof *a);
}

void pare_bsr_free(pare_bsr *a) {
  if (!a) return;
  free(a->block_ptr);
  free(a->block_col);
  free(a->values);
  memset(a, 0, sizeof *a);
}

void pare_nm_free(pare_nm *a) {
  if (!a) return;
  free(a->values);
  free(a->pos);
  memset(a, 0, sizeof *a);
}

/* The structure of a CSR from a dense matrix; quant != 0 keeps only the
 * entries whose quantized value is non-zero (scales filled first). */
static int csr_build(size_t m, size_t k, const float *w, int quant, pare_csr *out) {
  if (!out) return PARE_REF_SPARSE_EINVAL;
  memset(out, 0, sizeof *out);
  if (((m) && (k) && !w) || !dims_ok(m, k)) return PARE_REF_SPARSE_EINVAL;
  out->m = m;
  out->k = k;
  out->row_ptr = alloc0(m + 1, sizeof *out->row_ptr);
  if (quant) out->scales = alloc0(m, sizeof *out->scales);
  if (!out->row_ptr || (quant && !out->scales)) goto nomem;
  size_t nnz = 0;
  for (size_t i = 0; i < m; i++) {
    const float *row = w + i * k;
    if (quant) {
      float amax = 0.0f;
      for (size_t j = 0; j < k; j++) {
        if (!isfinite(row[j])) goto inval;
        amax = fmaxf(amax, fabsf(row[j]));
      }
      out->scales[i] = amax > 0.0f ? amax / 127.0f : 1.0f;
    }
    for (size_t j = 0; j < k; j++) {
      if (row[j] == 0.0f) continue;
      if (quant && lrintf(row[j] / out->scales[i]) == 0) continue;
      nnz++;
    }
    out->row_ptr[i + 1] = (int32_t)nnz;
  }
  out->nnz = nnz;
  out->col_idx = alloc0(nnz, sizeof *out->col_idx);
  if (quant)
    out->qvalues = alloc0(nnz, sizeof *out->qvalues);
  else
    out->values = alloc0(nnz, sizeof *out->values);
  if (!out->col_idx || (quant ? !out->qvalues : !out->values)) goto nomem;
  size_t e = 0;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < k; j++) {
      float v = w[i * k + j];
      if (v == 0.0f) continue;
      if (quant) {
        long q = lrintf(v / out->scales[i]);
        if (q == 0) continue;
        out->qvalues[e] = (int8_t)(q > 127 ? 127 : q < -127 ? -127 : q);
      } else {
        out->values[e] = v;
      }
      out->col_idx[e++] = (int32_t)j;
    }
  return PARE_REF_SPARSE_OK;
nomem:
  pare_csr_free(out);
  return PARE_REF_SPARSE_ENOMEM;
inval:
  pare_csr_free(out);
  return PARE_REF_SPARSE_EINVAL;
}

int pare_csr_from_dense_f32(size_t m, size_t k, const float *w, pare_csr *out) {
  return csr_build(m, k, w, 0, out);
}

int pare_csr_from_dense_i8(size_t m, size_t k, const float *w, pare_csr *out) {
  return csr_build(m, k, w, 1, out);
}

int pare_bsr_from_dense_f32(size_t m, size_t k, const float *w, size_t br, size_t bc,
                            pare_bsr *out) {
  if (!out) return PARE_REF_SPARSE_EINVAL;
  memset(out, 0, sizeof *out);
  if (((m) && (k) && !w) || !dims_ok(m, k) || br < 1 || br > 16 || bc < 1 || bc > 16)
    return PARE_REF_SPARSE_EINVAL;
  const size_t mb = (m + br - 1) / br, kb = (k + bc - 1) / bc;
  if (!dims_ok(mb * br, kb * bc)) return PARE_REF_SPARSE_EINVAL;
  out->m = m, out->k = k, out->br = br, out->bc = bc, out->mb = mb, out->kb = kb;
  out->block_ptr = alloc0(mb + 1, sizeof *out->block_ptr);
  if (!out->block_ptr) goto nomem;
  size_t nb = 0;
  for (int pass = 0; pass < 2; pass++) {
    nb = 0;
    for (size_t r = 0; r < mb; r++) {
      for (size_t c = 0; c < kb; c++) {
        int any = 0;
        for (size_t i = r * br; i < (r + 1) * br && i < m && !any; i++)
          for (size_t j = c * bc; j < (c + 1) * bc && j < k; j++)
            if (w[i * k + j] != 0.0f) {
              any = 1;
              break;
            }
        if (!any) continue;
        if (pass == 1) {
          out->block_col[nb] = (int32_t)c;
          float *v = out->values + nb * br * bc;
          for (size_t ii = 0; ii < br; ii++)
            for (size_t jj = 0; jj < bc; jj++) {
              size_t i = r * br + ii, j = c * bc + jj;
              v[ii * bc + jj] = i < m && j < k ? w[i * k + j] : 0.0f;
            }
        }
        nb++;
      }
      if (pass == 0) out->block_ptr[r + 1] = (int32_t)nb;
    }
    if (pass == 0) {
      out->nblocks = nb;
      out->block_col = alloc0(nb, sizeof *out->block_col);
      out->values = alloc0(nb * br * bc, sizeof *out->values);
      if (!out->block_col || !out->values) goto nomem;
    }
  }
  return PARE_REF_SPARSE_OK;
nomem:
  pare_bsr_free(out);
  return PARE_REF_SPARSE_ENOMEM;
}

static int nm_args_ok(size_t m, size_t k, const float *w, size_t n, size_t mg) {
  return (!(m && k) || w) && dims_ok(m, k + mg) && n >= 1 && n <= mg && mg <= 16;
}

int pare_nm_from_dense_f32(size_t m, size_t k, const float *w, size_t n, size_t mg, pare_nm *out) {
  if (!out) return PARE_REF_SPARSE_EINVAL;
  memset(out, 0, sizeof *out);
  if (!nm_args_ok(m, k, w, n, mg)) return PARE_REF_SPARSE_EINVAL;
  const size_t groups = (k + mg - 1) / mg;
  out->m = m, out->k = k, out->n = n, out->mg = mg, out->kp = groups * mg, out->groups = groups;
  out->values = alloc0(m * groups * n, sizeof *out->values);
  out->pos = alloc0(m * groups * n, sizeof *out->pos);
  if (!out->values || !out->pos) {
    pare_nm_free(out);
    return PARE_REF_SPARSE_ENOMEM;
  }
  for (size_t i = 0; i < m; i++)
    for (size_t g = 0; g < groups; g++) {
      size_t e = (i * groups + g) * n, s = 0;
      for (size_t p = 0; p < mg && g * mg + p < k; p++) {
        float v = w[i * k + g * mg + p];
        if (v == 0.0f) continue;
        if (s == n) {
          pare_nm_free(out);
          return PARE_REF_SPARSE_EPATTERN;
        }
        out->values[e + s] = v;
        out->pos[e + s] = (uint8_t)p;
        s++;
      }
      /* Unused slots: value 0 at the group's first column (already zero). */
    }
  return PARE_REF_SPARSE_OK;
}

int pare_nm_prune_f32(size_t m, size_t k, float *w, size_t n, size_t mg) {
  if (!nm_args_ok(m, k, w, n, mg)) return PARE_REF_SPARSE_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t g0 = 0; g0 < k; g0 += mg) {
      float *x = w + i * k + g0;
      size_t len = k - g0 < mg ? k - g0 : mg;
      unsigned keep = 0; /* bit p: element p is kept */
      for (size_t t = 0; t < n && t < len; t++) {
        size_t best = len;
        for (size_t p = 0; p < len; p++)
          if (!(keep >> p & 1u) && (best == len || fabsf(x[p]) > fabsf(x[best]))) best = p;
        keep |= 1u << best;
      }
      for (size_t p = 0; p < len; p++)
        if (!(keep >> p & 1u)) x[p] = 0.0f;
    }
  return PARE_REF_SPARSE_OK;
}

int pare_csr_to_dense(const pare_csr *a, float *w) {
  if (!a || ((a->m) && (a->k) && !w) || !a->row_ptr || (!a->values && !a->qvalues) ||
      (a->qvalues && !a->scales))
    return PARE_REF_SPARSE_EINVAL;
  if (a->m && a->k) memset(w, 0, a->m * a->k * sizeof *w);
  for (size_t i = 0; i < a->m; i++)
    for (int32_t e = a->row_ptr[i]; e < a->row_ptr[i + 1]; e++)
      w[i * a->k + (size_t)a->col_idx[e]] =
          a->values ? a->values[e] : a->scales[i] * (float)a->qvalues[e];
  return PARE_REF_SPARSE_OK;
}

int pare_bsr_to_dense(const pare_bsr *a, float *w) {
  if (!a || ((a->m) && (a->k) && !w) || !a->block_ptr) return PARE_REF_SPARSE_EINVAL;
  if (a->m && a->k) memset(w, 0, a->m * a->k * sizeof *w);
  for (size_t r = 0; r < a->mb; r++)
    for (int32_t b = a->block_ptr[r]; b < a->block_ptr[r + 1]; b++)
      for (size_t ii = 0; ii < a->br; ii++)
        for (size_t jj = 0; jj < a->bc; jj++) {
          size_t i = r * a->br + ii, j = (size_t)a->block_col[b] * a->bc + jj;
          if (i < a->m && j < a->k)
            w[i * a->k + j] = a->values[(size_t)b * a->br * a->bc + ii * a->bc + jj];
        }
  return PARE_REF_SPARSE_OK;
}

int pare_nm_to_dense(const pare_nm *a, float *w) {
  if (!a || ((a->m) && (a->k) && !w) || ((a->m) && (a->groups) && (!a->values || !a->pos)))
    return PARE_REF_SPARSE_EINVAL;
  if (a->m && a->k) memset(w, 0, a->m * a->k * sizeof *w);
  for (size_t i = 0; i < a->m; i++)
    for (size_t g = 0; g < a->groups; g++)
      for (size_t s = 0; s < a->n; s++) {
        size_t e = (i * a->groups + g) * a->n + s, j = g * a->mg + a->pos[e];
        if (a->values[e] != 0.0f && j < a->k) w[i * a->k + j] = a->values[e];
      }
  return PARE_REF_SPARSE_OK;
}

static int mm_ok(size_t m, const pare_sparse_mm *p) {
  return p && (!(m && p->n) || (p->c && p->b));
}

/* Bias, ReLU and the store of one element. */
static void put(const pare_sparse_mm *p, size_t i, size_t j, double acc) {
  if (p->bias) acc += p->bias[i];
  float v = (float)acc;
  if (p->relu && !(v > 0.0f)) v = 0.0f;
  p->c[i * p->c_rs + j * p->c_cs] = v;
}

static double bval(const pare_sparse_mm *p, size_t k, size_t j) {
  return (double)p->b[k * p->b_rs + j * p->b_cs];
}

static int csr_mm(const pare_csr *a, const pare_sparse_mm *p, int quant) {
  if (!a || !mm_ok(a->m, p) || !a->row_ptr || (quant ? !a->qvalues || !a->scales : !a->values))
    return PARE_REF_SPARSE_EINVAL;
  for (size_t i = 0; i < a->m; i++)
    for (size_t j = 0; j < p->n; j++) {
      double acc = 0.0;
      for (int32_t e = a->row_ptr[i]; e < a->row_ptr[i + 1]; e++) {
        double v = quant ? (double)a->scales[i] * a->qvalues[e] : (double)a->values[e];
        acc += v * bval(p, (size_t)a->col_idx[e], j);
      }
      put(p, i, j, acc);
    }
  return PARE_REF_SPARSE_OK;
}

int pare_ref_csr_f32_mm(const pare_csr *a, const pare_sparse_mm *p) { return csr_mm(a, p, 0); }

int pare_ref_csr_i8_mm(const pare_csr *a, const pare_sparse_mm *p) { return csr_mm(a, p, 1); }

int pare_ref_bsr_f32_mm(const pare_bsr *a, const pare_sparse_mm *p) {
  if (!a || !mm_ok(a->m, p) || !a->block_ptr) return PARE_REF_SPARSE_EINVAL;
  for (size_t i = 0; i < a->m; i++) {
    size_t r = i / a->br, ii = i % a->br;
    for (size_t j = 0; j < p->n; j++) {
      double acc = 0.0;
      for (int32_t b = a->block_ptr[r]; b < a->block_ptr[r + 1]; b++) {
        const float *v = a->values + ((size_t)b * a->br + ii) * a->bc;
        for (size_t jj = 0; jj < a->bc; jj++) {
          size_t kk = (size_t)a->block_col[b] * a->bc + jj;
          if (kk < a->k) acc += (double)v[jj] * bval(p, kk, j);
        }
      }
      put(p, i, j, acc);
    }
  }
  return PARE_REF_SPARSE_OK;
}

int pare_ref_nm_f32_mm(const pare_nm *a, const pare_sparse_mm *p) {
  if (!a || !mm_ok(a->m, p) || ((a->m) && (a->groups) && (!a->values || !a->pos)))
    return PARE_REF_SPARSE_EINVAL;
  for (size_t i = 0; i < a->m; i++)
    for (size_t j = 0; j < p->n; j++) {
      double acc = 0.0;
      for (size_t g = 0; g < a->groups; g++)
        for (size_t s = 0; s < a->n; s++) {
          size_t e = (i * a->groups + g) * a->n + s, kk = g * a->mg + a->pos[e];
          if (a->values[e] != 0.0f && kk < a->k) acc += (double)a->values[e] * bval(p, kk, j);
        }
      put(p, i, j, acc);
    }
  return PARE_REF_SPARSE_OK;
}

int pare_sparse_conv_out(const pare_sparse_conv *p, size_t *oh, size_t *ow) {
  if (!p || !oh || !ow || !p->stride_h || !p->stride_w || !p->dil_h || !p->dil_w || !p->kh ||
      !p->kw)
    return PARE_REF_SPARSE_EINVAL;
  const size_t eh = p->dil_h * (p->kh - 1) + 1, ew = p->dil_w * (p->kw - 1) + 1;
  const size_t ph = p->h + p->pad_t + p->pad_b, pw = p->w + p->pad_l + p->pad_r;
  if (eh > ph || ew > pw) return PARE_REF_SPARSE_EINVAL;
  *oh = (ph - eh) / p->stride_h + 1;
  *ow = (pw - ew) / p->stride_w + 1;
  return PARE_REF_SPARSE_OK;
}

int pare_ref_sparse_conv_f32(const pare_sparse_conv *p, const pare_csr *w, const float *x,
                             const float *bias, int relu, float *y) {
  size_t oh, ow;
  if (pare_sparse_conv_out(p, &oh, &ow) != PARE_REF_SPARSE_OK || !w || !w->row_ptr ||
      (!w->values && !w->qvalues) || (w->qvalues && !w->scales) || w->m != p->cout ||
      w->k != p->cin * p->kh * p->kw || !x || !y)
    return PARE_REF_SPARSE_EINVAL;
  const size_t khw = p->kh * p->kw;
  for (size_t b = 0; b < p->batch; b++)
    for (size_t co = 0; co < p->cout; co++)
      for (size_t oy = 0; oy < oh; oy++)
        for (size_t ox = 0; ox < ow; ox++) {
          double acc = bias ? (double)bias[co] : 0.0;
          for (int32_t e = w->row_ptr[co]; e < w->row_ptr[co + 1]; e++) {
            size_t col = (size_t)w->col_idx[e], ci = col / khw, ky = col % khw / p->kw,
                   kx = col % p->kw;
            /* Input coordinates, shifted by the pad so that they stay unsigned. */
            size_t iy = oy * p->stride_h + ky * p->dil_h, ix = ox * p->stride_w + kx * p->dil_w;
            if (iy < p->pad_t || ix < p->pad_l) continue;
            iy -= p->pad_t, ix -= p->pad_l;
            if (iy >= p->h || ix >= p->w) continue;
            double v = w->values ? (double)w->values[e] : (double)w->scales[co] * w->qvalues[e];
            acc += v * x[((b * p->cin + ci) * p->h + iy) * p->w + ix];
          }
          float v = (float)acc;
          if (relu && !(v > 0.0f)) v = 0.0f;
          y[((b * p->cout + co) * oh + oy) * ow + ox] = v;
        }
  return PARE_REF_SPARSE_OK;
}
