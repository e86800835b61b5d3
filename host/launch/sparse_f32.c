/* Launcher of kernels/sparse_f32.cl: uploads of the formats, the variant's
 * defines (layout, vector tile, block and N:M sizes, int8) from the shape
 * and the device profile, and the NDRange. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/sparse_f32.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* a·b·c <= lim without overflow. */
static int prod_ok(size_t a, size_t b, size_t c, size_t lim) {
  if (a == 0 || b == 0 || c == 0) return 1;
  return a <= lim / b && a * b <= lim / c;
}

/* A read-only buffer of `bytes` copied from host; an empty array still gets
 * a (4-byte, unused) buffer so that kernel arguments stay valid. */
static pare_status upload(pare_cl_runtime *rt, size_t bytes, const void *host, cl_mem *out,
                          pare_error *err) {
  if (bytes && !host)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: NULL host array");
  return pare_cl_buffer(rt, CL_MEM_READ_ONLY, bytes ? bytes : 4, bytes ? host : NULL, out, err);
}

static void release(pare_cl_runtime *rt, cl_mem *m) {
  if (*m) rt->cl->clReleaseMemObject(*m);
  *m = NULL;
}

void pare_sparse_csr_release(pare_cl_runtime *rt, pare_csr_cl *d) {
  if (!d) return;
  release(rt, &d->row_ptr);
  release(rt, &d->col_idx);
  release(rt, &d->values);
  release(rt, &d->scales);
  memset(d, 0, sizeof *d);
}

void pare_sparse_bsr_release(pare_cl_runtime *rt, pare_bsr_cl *d) {
  if (!d) return;
  release(rt, &d->block_ptr);
  release(rt, &d->block_col);
  release(rt, &d->values);
  memset(d, 0, sizeof *d);
}

void pare_sparse_nm_release(pare_cl_runtime *rt, pare_nm_cl *d) {
  if (!d) return;
  release(rt, &d->values);
  release(rt, &d->pos);
  memset(d, 0, sizeof *d);
}

pare_status pare_sparse_csr_upload(pare_cl_runtime *rt, const pare_csr *h, pare_csr_cl *d,
                                   pare_error *err) {
  if (!d) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: NULL output");
  memset(d, 0, sizeof *d);
  if (!h || !h->row_ptr || (!h->values == !h->qvalues) || (h->qvalues && !h->scales))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: bad CSR matrix");
  d->m = h->m, d->k = h->k, d->nnz = h->nnz, d->int8 = h->qvalues != NULL;
  pare_status st = upload(rt, (h->m + 1) * 4, h->row_ptr, &d->row_ptr, err);
  if (st == PARE_OK) st = upload(rt, h->nnz * 4, h->col_idx, &d->col_idx, err);
  if (st == PARE_OK)
    st = d->int8 ? upload(rt, h->nnz, h->qvalues, &d->values, err)
                 : upload(rt, h->nnz * 4, h->values, &d->values, err);
  if (st == PARE_OK) st = upload(rt, d->int8 ? h->m * 4 : 0, h->scales, &d->scales, err);
  if (st != PARE_OK) pare_sparse_csr_release(rt, d);
  return st;
}

pare_status pare_sparse_bsr_upload(pare_cl_runtime *rt, const pare_bsr *h, pare_bsr_cl *d,
                                   pare_error *err) {
  if (!d) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: NULL output");
  memset(d, 0, sizeof *d);
  if (!h || !h->block_ptr || h->br < 1 || h->bc < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: bad BSR matrix");
  d->m = h->m, d->k = h->k, d->br = h->br, d->bc = h->bc, d->nblocks = h->nblocks;
  pare_status st = upload(rt, (h->mb + 1) * 4, h->block_ptr, &d->block_ptr, err);
  if (st == PARE_OK) st = upload(rt, h->nblocks * 4, h->block_col, &d->block_col, err);
  if (st == PARE_OK) st = upload(rt, h->nblocks * h->br * h->bc * 4, h->values, &d->values, err);
  if (st != PARE_OK) pare_sparse_bsr_release(rt, d);
  return st;
}

pare_status pare_sparse_nm_upload(pare_cl_runtime *rt, const pare_nm *h, pare_nm_cl *d,
                                  pare_error *err) {
  if (!d) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: NULL output");
  memset(d, 0, sizeof *d);
  if (!h || h->n < 1 || h->mg < h->n)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_f32: bad N:M matrix");
  d->m = h->m, d->k = h->k, d->n = h->n, d->mg = h->mg, d->groups = h->groups;
  size_t slots = h->m * h->groups * h->n;
  pare_status st = upload(rt, slots * 4, h->values, &d->values, err);
  if (st == PARE_OK) st = upload(rt, slots, h->pos, &d->pos, err);
  if (st != PARE_OK) pare_sparse_nm_release(rt, d);
  return st;
}

/* The last element index of a strided 2-D view fits in an int. */
static int span_ok(size_t off, size_t rows, size_t rs, size_t cols, size_t cs) {
  if (off > INT_MAX || rows > INT_MAX || cols > INT_MAX || rs > INT_MAX || cs > INT_MAX) return 0;
  size_t span = off;
  if (rows > 1) {
    if ((rows - 1) > (size_t)INT_MAX / rs) return 0;
    span += (rows - 1) * rs;
  }
  if (cols > 1) {
    if ((cols - 1) > (size_t)INT_MAX / cs) return 0;
    span += (cols - 1) * cs;
  }
  return span <= INT_MAX;
}

/* The shared part of a product launch: defines and NDRange geometry. */
typedef struct mm_plan {
  int layout, vw, nv, unroll;
  size_t wg, tn;
  cl_int m, n, k, off_b, bk, bn, off_c, cm, cn, has_bias, relu;
  cl_mem b, bias;
} mm_plan;

static pare_status plan_mm(pare_cl_runtime *rt, const char *what, size_t m, size_t k,
                           const pare_sparse_f32_args *g, mm_plan *p, pare_error *err) {
  if (!g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL arguments", what);
  const size_t n = g->n;
  if (!g->c || (k && !g->b))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s %zux%zux%zu: NULL buffer", what, m, n, k);
  if ((m > 1 && !g->c_rs) || (n > 1 && (!g->c_cs || (k && !g->b_cs))) || (k > 1 && !g->b_rs))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s %zux%zux%zu: zero stride", what, m, n, k);
  if (!span_ok(g->off_c, m, g->c_rs, n, g->c_cs) || !span_ok(g->off_b, k, g->b_rs, n, g->b_cs) ||
      k > INT_MAX)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s %zux%zux%zu: beyond 2^31 elements", what,
                          m, n, k);
  const pare_profile *prof = rt->profile;
  const int cpu = pare_cl_is_cpu(rt);
  /* Row-major B and C take vector loads; anything else gathers. */
  p->layout = (n <= 1 || (g->b_cs == 1 && g->c_cs == 1)) ? 0 : 1;
  if (n == 1) p->layout = 1; /* a vector: gathers over k need no tile at all */
  int vw = p->layout == 0 ? pare_profile_int(prof, "sparse_f32.vw", cpu ? 16 : 4)
                          : pare_profile_int(prof, "sparse_f32.gather_vw", 8);
  int nv = p->layout == 0 ? pare_profile_int(prof, "sparse_f32.nv", cpu ? 8 : 1) : 1;
  int unroll = pare_profile_int(prof, "sparse_f32.unroll", 1);
  int wg = pare_profile_int(prof, "sparse_f32.wg", cpu ? 16 : 64);
  if ((vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) || nv < 1 || nv > 8 || wg < 1 ||
      unroll < 1 || unroll > 2)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad sparse_f32 tile %dx%d",
                          prof->name, vw, nv);
  /* Narrow matrices: the widest tile that still fits, so that most loads
   * stay unguarded. */
  while (vw > 1 && (size_t)vw > n) vw /= 2;
  while (nv > 1 && (size_t)(vw * nv) > n) nv--;
  p->vw = vw, p->nv = nv, p->unroll = unroll, p->wg = (size_t)wg;
  p->tn = (size_t)vw * (size_t)nv;
  p->m = (cl_int)m, p->n = (cl_int)n, p->k = (cl_int)k;
  p->off_b = (cl_int)g->off_b, p->bk = (cl_int)g->b_rs, p->bn = (cl_int)g->b_cs;
  p->off_c = (cl_int)g->off_c, p->cm = (cl_int)g->c_rs, p->cn = (cl_int)g->c_cs;
  if (p->layout == 0) p->bn = 1, p->cn = 1;
  p->has_bias = g->bias != NULL, p->relu = g->relu != 0;
  p->b = g->b ? g->b : g->c; /* never read when k == 0 */
  p->bias = g->bias ? g->bias : g->c;
  return PARE_OK;
}

/* Sets args[0..count) and launches (rows, tiles) work-items in groups of
 * (wg, 1). */
static pare_status run(pare_cl_runtime *rt, const char *name, const char *defines,
                       const pare_cl_arg *args, size_t count, size_t rows, size_t tiles, size_t wg,
                       cl_event *event, pare_error *err) {
  cl_kernel k;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_sparse_f32, defines, name, &k, err);
  if (st != PARE_OK) return st;
  for (cl_uint i = 0; i < count && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, args[i].size, args[i].value, name, err);
  if (st == PARE_OK) {
    if (wg > rows) wg = rows; /* small matrices: no empty work-items */
    size_t local[2] = {wg, 1}, global[2] = {round_up(rows, wg), tiles};
    st = pare_cl_launch(rt, k, name, 2, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

static int base_defines(char *buf, size_t size, const mm_plan *p) {
  return snprintf(buf, size, "-DSP_LAYOUT=%d -DSP_VW=%d -DSP_NV=%d -DSP_UNROLL=%d", p->layout,
                  p->vw, p->nv, p->unroll);
}

pare_status pare_launch_sparse_csr_f32(pare_cl_runtime *rt, const pare_csr_cl *a,
                                       const pare_sparse_f32_args *g, cl_event *event,
                                       pare_error *err) {
  if (!a || !g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_csr: NULL argument");
  if (a->m == 0 || g->n == 0) return PARE_OK;
  if (!a->row_ptr || !a->col_idx || !a->values || (a->int8 && !a->scales) || a->nnz > INT_MAX ||
      a->m > INT_MAX - 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_csr %zux%zu: bad CSR matrix", a->m,
                          a->k);
  mm_plan p;
  pare_status st = plan_mm(rt, "sparse_csr", a->m, a->k, g, &p, err);
  if (st != PARE_OK) return st;
  char defines[160];
  int len = base_defines(defines, sizeof defines, &p);
  snprintf(defines + len, sizeof defines - (size_t)len, " -DSP_INT8=%d", a->int8 ? 1 : 0);
  cl_mem scales = a->int8 ? a->scales : a->values;
  const pare_cl_arg args[] = {{sizeof p.m, &p.m},
                              {sizeof p.n, &p.n},
                              {sizeof p.k, &p.k},
                              {sizeof(cl_mem), &a->row_ptr},
                              {sizeof(cl_mem), &a->col_idx},
                              {sizeof(cl_mem), &a->values},
                              {sizeof(cl_mem), &scales},
                              {sizeof(cl_mem), &p.b},
                              {sizeof p.off_b, &p.off_b},
                              {sizeof p.bk, &p.bk},
                              {sizeof p.bn, &p.bn},
                              {sizeof(cl_mem), &g->c},
                              {sizeof p.off_c, &p.off_c},
                              {sizeof p.cm, &p.cm},
                              {sizeof p.cn, &p.cn},
                              {sizeof(cl_mem), &p.bias},
                              {sizeof p.has_bias, &p.has_bias},
                              {sizeof p.relu, &p.relu}};
  return run(rt, "sparse_csr", defines, args, sizeof args / sizeof args[0], a->m,
             (g->n + p.tn - 1) / p.tn, p.wg, event, err);
}

pare_status pare_launch_sparse_bsr_f32(pare_cl_runtime *rt, const pare_bsr_cl *a,
                                       const pare_sparse_f32_args *g, cl_event *event,
                                       pare_error *err) {
  if (!a || !g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_bsr: NULL argument");
  if (a->m == 0 || g->n == 0) return PARE_OK;
  if (!a->block_ptr || !a->block_col || !a->values || a->br < 1 || a->br > 16 || a->bc < 1 ||
      a->bc > 16 || a->nblocks > INT_MAX / (a->br * a->bc) || a->m > INT_MAX - 16 ||
      a->k > INT_MAX - 16)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_bsr %zux%zu: bad BSR matrix", a->m,
                          a->k);
  mm_plan p;
  pare_status st = plan_mm(rt, "sparse_bsr", a->m, a->k, g, &p, err);
  if (st != PARE_OK) return st;
  /* Registers: br rows of nv vectors each; keep the tile at <= 16 vectors. */
  while (p.nv > 1 && (size_t)p.nv * a->br > 16) p.nv--;
  p.tn = (size_t)p.vw * (size_t)p.nv;
  char defines[160];
  int len = base_defines(defines, sizeof defines, &p);
  snprintf(defines + len, sizeof defines - (size_t)len, " -DSP_BR=%zu -DSP_BC=%zu", a->br, a->bc);
  const pare_cl_arg args[] = {{sizeof p.m, &p.m},
                              {sizeof p.n, &p.n},
                              {sizeof p.k, &p.k},
                              {sizeof(cl_mem), &a->block_ptr},
                              {sizeof(cl_mem), &a->block_col},
                              {sizeof(cl_mem), &a->values},
                              {sizeof(cl_mem), &p.b},
                              {sizeof p.off_b, &p.off_b},
                              {sizeof p.bk, &p.bk},
                              {sizeof p.bn, &p.bn},
                              {sizeof(cl_mem), &g->c},
                              {sizeof p.off_c, &p.off_c},
                              {sizeof p.cm, &p.cm},
                              {sizeof p.cn, &p.cn},
                              {sizeof(cl_mem), &p.bias},
                              {sizeof p.has_bias, &p.has_bias},
                              {sizeof p.relu, &p.relu}};
  size_t wg = p.wg / a->br ? p.wg / a->br : 1;
  return run(rt, "sparse_bsr", defines, args, sizeof args / sizeof args[0],
             (a->m + a->br - 1) / a->br, (g->n + p.tn - 1) / p.tn, wg, event, err);
}

pare_status pare_launch_sparse_nm_f32(pare_cl_runtime *rt, const pare_nm_cl *a,
                                      const pare_sparse_f32_args *g, cl_event *event,
                                      pare_error *err) {
  if (!a || !g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_nm: NULL argument");
  if (a->m == 0 || g->n == 0) return PARE_OK;
  if (!a->values || !a->pos || a->n < 1 || a->mg < a->n || a->mg > 16 ||
      a->groups != (a->k + a->mg - 1) / a->mg || a->m > INT_MAX ||
      a->groups * a->n > (size_t)INT_MAX / a->m)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_nm %zux%zu: bad N:M matrix", a->m,
                          a->k);
  mm_plan p;
  pare_status st = plan_mm(rt, "sparse_nm", a->m, a->k, g, &p, err);
  if (st != PARE_OK) return st;
  char defines[160];
  int len = base_defines(defines, sizeof defines, &p);
  snprintf(defines + len, sizeof defines - (size_t)len, " -DSP_NMN=%zu -DSP_NMM=%zu", a->n, a->mg);
  cl_int groups = (cl_int)a->groups;
  const pare_cl_arg args[] = {{sizeof p.m, &p.m},           {sizeof p.n, &p.n},
                              {sizeof p.k, &p.k},           {sizeof groups, &groups},
                              {sizeof(cl_mem), &a->values}, {sizeof(cl_mem), &a->pos},
                              {sizeof(cl_mem), &p.b},       {sizeof p.off_b, &p.off_b},
                              {sizeof p.bk, &p.bk},         {sizeof p.bn, &p.bn},
                              {sizeof(cl_mem), &g->c},      {sizeof p.off_c, &p.off_c},
                              {sizeof p.cm, &p.cm},         {sizeof p.cn, &p.cn},
                              {sizeof(cl_mem), &p.bias},    {sizeof p.has_bias, &p.has_bias},
                              {sizeof p.relu, &p.relu}};
  return run(rt, "sparse_nm", defines, args, sizeof args / sizeof args[0], a->m,
             (g->n + p.tn - 1) / p.tn, p.wg, event, err);
}

pare_status pare_launch_sparse_conv_f32(pare_cl_runtime *rt, const pare_sparse_conv *p,
                                        const pare_csr_cl *w, cl_mem x, cl_mem bias, int relu,
                                        cl_mem y, cl_event *event, pare_error *err) {
  size_t oh, ow;
  if (!p || !w || pare_sparse_conv_out(p, &oh, &ow) != PARE_REF_SPARSE_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_conv: bad geometry");
  if (w->m != p->cout || w->k != p->cin * p->kh * p->kw)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_conv: weights %zux%zu, want %zux%zu",
                          w->m, w->k, p->cout, p->cin * p->kh * p->kw);
  if (p->batch == 0 || p->cout == 0) return PARE_OK;
  if (!x || !y || !w->row_ptr || !w->col_idx || !w->values || (w->int8 && !w->scales))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "sparse_conv: NULL buffer");
  const size_t lim = (size_t)INT_MAX / 2;
  const size_t dims[] = {p->batch, p->cin,   p->h,        p->w,        p->cout,
                         p->kh,    p->kw,    p->stride_h, p->stride_w, p->pad_t,
                         p->pad_l, p->dil_h, p->dil_w,    oh,          ow};
  int ok = 1;
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) ok &= dims[i] <= lim;
  ok = ok && prod_ok(p->batch, p->cin, p->h * p->w, lim) &&
       prod_ok(p->batch, p->cout, oh * ow, lim) && prod_ok(p->h, p->w, 1, lim) &&
       prod_ok(oh, ow, 1, lim) && prod_ok(oh, p->stride_h, 1, lim) &&
       prod_ok(ow, p->stride_w, 1, lim) && prod_ok(p->kh, p->dil_h, 1, lim) &&
       prod_ok(p->kw, p->dil_w, 1, lim) && prod_ok(p->cin, p->kh, p->kw, lim);
  if (!ok) return pare_error_set(err, PARE_ERR_UNSUPPORTED, "sparse_conv: beyond 2^31 elements");
  const int cpu = pare_cl_is_cpu(rt);
  int vw = pare_profile_int(rt->profile, "sparse_f32.conv_vw", cpu ? 16 : 4);
  int wg = pare_profile_int(rt->profile, "sparse_f32.conv_wg", cpu ? 16 : 64);
  if ((vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) || wg < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad sparse_f32 conv tile",
                          rt->profile->name);
  while (vw > 1 && (size_t)vw > ow) vw /= 2;
  char defines[96];
  snprintf(defines, sizeof defines, "-DSP_VW=%d -DSP_INT8=%d", vw, w->int8 ? 1 : 0);
  cl_int v[15] = {(cl_int)p->batch, (cl_int)p->cout,     (cl_int)p->cin,      (cl_int)p->h,
                  (cl_int)p->w,     (cl_int)p->kh,       (cl_int)p->kw,       (cl_int)oh,
                  (cl_int)ow,       (cl_int)p->stride_h, (cl_int)p->stride_w, (cl_int)p->pad_t,
                  (cl_int)p->pad_l, (cl_int)p->dil_h,    (cl_int)p->dil_w};
  cl_int has_bias = bias != NULL, crelu = relu != 0;
  cl_mem scales = w->int8 ? w->scales : w->values, bb = bias ? bias : y;
  pare_cl_arg args[24];
  size_t na = 0;
  for (int i = 0; i < 15; i++) args[na++] = (pare_cl_arg){sizeof v[i], &v[i]};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &w->row_ptr};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &w->col_idx};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &w->values};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &scales};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &x};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &y};
  args[na++] = (pare_cl_arg){sizeof(cl_mem), &bb};
  args[na++] = (pare_cl_arg){sizeof has_bias, &has_bias};
  args[na++] = (pare_cl_arg){sizeof crelu, &crelu};
  const size_t tiles = p->batch * oh * ((ow + (size_t)vw - 1) / (size_t)vw);
  if (tiles > (size_t)INT_MAX)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "sparse_conv: beyond 2^31 work-items");
  return run(rt, "sparse_conv", defines, args, na, p->cout, tiles, (size_t)wg, event, err);
}
