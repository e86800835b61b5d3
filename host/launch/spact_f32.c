/* Launcher of kernels/spact_f32.cl: scratch sizes, argument checks, the
 * variant's defines (vector tile, unroll) from the shape and the device
 * profile, and the NDRange of the compaction and the product. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/spact_f32.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* a·b <= INT_MAX. */
static int fits2(size_t a, size_t b) { return a == 0 || b <= (size_t)INT_MAX / a; }

/* off + (rows-1)·ld + cols <= INT_MAX: the last element of a row-major view
 * (and one past it) addressable with int. */
static int view_ok(size_t off, size_t rows, size_t ld, size_t cols) {
  if (off > INT_MAX || ld > INT_MAX || cols > INT_MAX || rows > INT_MAX) return 0;
  if (rows > 1 && !fits2(rows - 1, ld)) return 0;
  const size_t last = rows > 1 ? (rows - 1) * ld : 0;
  return last <= (size_t)INT_MAX - off && cols <= (size_t)INT_MAX - off - last;
}

pare_status pare_spact_scratch_size(size_t rows, size_t k, size_t *idx_bytes, size_t *val_bytes,
                                    size_t *count_bytes, pare_error *err) {
  if (!idx_bytes || !val_bytes || !count_bytes)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_f32: NULL size output");
  if (rows > INT_MAX || k > INT_MAX || !fits2(rows, k))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "spact_f32 %zux%zu: beyond 2^31 elements",
                          rows, k);
  const size_t slots = rows * k;
  *idx_bytes = (slots ? slots : 1) * sizeof(cl_int);
  *val_bytes = (slots ? slots : 1) * sizeof(cl_float);
  *count_bytes = (rows ? rows : 1) * sizeof(cl_int);
  return PARE_OK;
}

void pare_spact_scratch_release(pare_cl_runtime *rt, pare_spact_cl *s) {
  if (!s) return;
  cl_mem *m[3] = {&s->idx, &s->val, &s->count};
  for (int i = 0; i < 3; i++)
    if (*m[i]) rt->cl->clReleaseMemObject(*m[i]);
  memset(s, 0, sizeof *s);
}

pare_status pare_spact_scratch_alloc(pare_cl_runtime *rt, size_t rows, size_t k, pare_spact_cl *s,
                                     pare_error *err) {
  if (!s) return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_f32: NULL scratch");
  memset(s, 0, sizeof *s);
  size_t bi = 0, bv = 0, bc = 0;
  pare_status st = pare_spact_scratch_size(rows, k, &bi, &bv, &bc, err);
  if (st == PARE_OK) st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, bi, NULL, &s->idx, err);
  if (st == PARE_OK) st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, bv, NULL, &s->val, err);
  if (st == PARE_OK) st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, bc, NULL, &s->count, err);
  if (st != PARE_OK) pare_spact_scratch_release(rt, s);
  return st;
}

/* Sets args[0..count) and launches global (g0, g1) in groups (l0, l1),
 * each global size rounded up to its group size. */
static pare_status run(pare_cl_runtime *rt, const char *name, const char *defines,
                       const pare_cl_arg *args, size_t count, size_t g0, size_t g1, size_t l0,
                       size_t l1, cl_event *event, pare_error *err) {
  cl_kernel k;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_spact_f32, defines, name, &k, err);
  if (st != PARE_OK) return st;
  for (cl_uint i = 0; i < count && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, args[i].size, args[i].value, name, err);
  if (st == PARE_OK) {
    if (l0 > g0) l0 = g0; /* small shapes: no empty work-items */
    if (l1 > g1) l1 = g1;
    size_t local[2] = {l0, l1}, global[2] = {round_up(g0, l0), round_up(g1, l1)};
    st = pare_cl_launch(rt, k, name, 2, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

static int scratch_ok(const pare_spact_cl *s) { return s->idx && s->val && s->count; }

pare_status pare_launch_spact_compact_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                          const pare_spact_cl *s, cl_event *event,
                                          pare_error *err) {
  if (!a || !s) return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_compact: NULL argument");
  if (a->rows == 0) return PARE_OK;
  if (!scratch_ok(s) || (a->k && !a->x))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_compact %zux%zu: NULL buffer", a->rows,
                          a->k);
  if (a->rows > 1 && a->ldx < a->k)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_compact %zux%zu: ldx %zu < k", a->rows,
                          a->k, a->ldx);
  if (!view_ok(a->off_x, a->rows, a->ldx, a->k) || !fits2(a->rows, a->k))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "spact_compact %zux%zu: beyond 2^31 elements",
                          a->rows, a->k);
  const int cpu = pare_cl_is_cpu(rt);
  int wg = pare_profile_int(rt->profile, "spact_f32.compact_wg", cpu ? 4 : 64);
  if (wg < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad spact_f32.compact_wg %d",
                          rt->profile->name, wg);
  cl_int rows = (cl_int)a->rows, k = (cl_int)a->k, off_x = (cl_int)a->off_x, ldx = (cl_int)a->ldx;
  cl_mem x = a->x ? a->x : s->val; /* never read when k == 0 */
  const pare_cl_arg args[] = {{sizeof rows, &rows},      {sizeof k, &k},
                              {sizeof(cl_mem), &x},      {sizeof off_x, &off_x},
                              {sizeof ldx, &ldx},        {sizeof(cl_mem), &s->idx},
                              {sizeof(cl_mem), &s->val}, {sizeof(cl_mem), &s->count}};
  return run(rt, "spact_compact", "", args, sizeof args / sizeof args[0], a->rows, 1, (size_t)wg, 1,
             event, err);
}

pare_status pare_launch_spact_fc_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                     const pare_spact_cl *s, cl_event *event, pare_error *err) {
  if (!a || !s) return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_fc: NULL argument");
  if (a->rows == 0 || a->m == 0) return PARE_OK;
  if (!scratch_ok(s) || !a->y || (a->k && !a->wt))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_fc %zux%zux%zu: NULL buffer", a->rows,
                          a->m, a->k);
  if (a->rows > 1 && a->ldy < a->m)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_fc %zux%zux%zu: ldy %zu < m", a->rows,
                          a->m, a->k, a->ldy);
  if (!view_ok(a->off_y, a->rows, a->ldy, a->m) || !fits2(a->rows, a->k) || !fits2(a->k, a->m) ||
      a->k > INT_MAX)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "spact_fc %zux%zux%zu: beyond 2^31 elements",
                          a->rows, a->m, a->k);
  const pare_profile *prof = rt->profile;
  const int cpu = pare_cl_is_cpu(rt);
  int vw = pare_profile_int(prof, "spact_f32.vw", cpu ? 16 : 4);
  /* PoCL, 2-core Zen 4: 16x8 (128 columns, 8 independent FMA chains per
   * non-zero) beat 16x2 and 16x4 by 1.5-3x at 64x1024x1024; unroll 2 did
   * not help once there are 8 chains; 16 rows per group beat 8 and 64. */
  int nv = pare_profile_int(prof, "spact_f32.nv", cpu ? 8 : 1);
  int unroll = pare_profile_int(prof, "spact_f32.unroll", 1);
  int wg_rows = pare_profile_int(prof, "spact_f32.wg_rows", 16);
  int wg_tiles = pare_profile_int(prof, "spact_f32.wg_tiles", cpu ? 1 : 4);
  if ((vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) || nv < 1 || nv > 8 || unroll < 1 ||
      unroll > 2 || wg_rows < 1 || wg_tiles < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad spact_f32 tile %dx%d",
                          prof->name, vw, nv);
  /* Narrow layers: the widest tile that still fits, so that most loads stay
   * unguarded. */
  while (vw > 1 && (size_t)vw > a->m) vw /= 2;
  while (nv > 1 && (size_t)(vw * nv) > a->m) nv--;
  const size_t tn = (size_t)vw * (size_t)nv;
  char defines[96];
  snprintf(defines, sizeof defines, "-DSA_VW=%d -DSA_NV=%d -DSA_UNROLL=%d", vw, nv, unroll);
  cl_int rows = (cl_int)a->rows, m = (cl_int)a->m, k = (cl_int)a->k, off_y = (cl_int)a->off_y,
         ldy = (cl_int)a->ldy, has_bias = a->bias != NULL, relu = a->relu != 0;
  cl_mem wt = a->wt ? a->wt : a->y; /* never read when k == 0 */
  cl_mem bias = a->bias ? a->bias : a->y;
  const pare_cl_arg args[] = {{sizeof rows, &rows},
                              {sizeof m, &m},
                              {sizeof k, &k},
                              {sizeof(cl_mem), &s->idx},
                              {sizeof(cl_mem), &s->val},
                              {sizeof(cl_mem), &s->count},
                              {sizeof(cl_mem), &wt},
                              {sizeof(cl_mem), &bias},
                              {sizeof has_bias, &has_bias},
                              {sizeof relu, &relu},
                              {sizeof(cl_mem), &a->y},
                              {sizeof off_y, &off_y},
                              {sizeof ldy, &ldy}};
  return run(rt, "spact_fc", defines, args, sizeof args / sizeof args[0], a->rows,
             (a->m + tn - 1) / tn, (size_t)wg_rows, (size_t)wg_tiles, event, err);
}

pare_status pare_launch_spact_f32(pare_cl_runtime *rt, const pare_spact_f32_args *a,
                                  const pare_spact_cl *s, cl_event *event, pare_error *err) {
  if (!a || !s) return pare_error_set(err, PARE_ERR_INVALID_ARG, "spact_f32: NULL argument");
  if (a->rows == 0 || a->m == 0) return PARE_OK;
  pare_status st = pare_launch_spact_compact_f32(rt, a, s, NULL, err);
  if (st != PARE_OK) return st;
  return pare_launch_spact_fc_f32(rt, a, s, event, err);
}
