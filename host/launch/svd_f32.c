/* Launcher of kernels/svd_f32.cl: svd_prep (transpose into the scratch
 * working copy), then svd_sweeps (one launch, a work-group per matrix) or
 * svd_step (a launch per tournament step, the host reading the
 * convergence flags after each sweep), then svd_finish (norms, descending
 * order, normalization, completion of zero columns, one Newton–Schulz
 * reorthogonalization of U and V, outputs), all on the
 * device: the host reads back only the flags. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/launch/svd_f32.h"

/* Offsets (in floats) of the scratch parts; total = floats in all; ld and
 * ldv the row strides of W and V (max(m, n) and min(m, n) rounded up to a
 * multiple of 16: the kernels work on float16 vectors). */
typedef struct svd_layout {
  size_t ld, ldv, w, v, t, tv, e, s, p, x, f, total;
} svd_layout;

/* *at += batch·a·b, within lim. */
static int layout_add(size_t *at, size_t batch, size_t a, size_t b, size_t lim) {
  if (a && b > lim / a) return 0;
  const size_t ab = a * b;
  if (ab && batch > lim / ab) return 0;
  if (*at > lim - batch * ab) return 0;
  *at += batch * ab;
  return 1;
}

static int layout_of(size_t batch, size_t m, size_t n, svd_layout *l) {
  const size_t big = m > n ? m : n, k = m < n ? m : n;
  const size_t lim = (size_t)INT_MAX - 1024; /* room for rounding up global sizes */
  if (big > lim - 16 || batch > lim) return 0;
  if (m && n > lim / m) return 0;
  if (m * n != 0 && batch > lim / (m * n)) return 0; /* the input's indices */
  l->ld = (big + 15) / 16 * 16;
  l->ldv = (k + 15) / 16 * 16;
  size_t at = 0;
  l->w = at;
  if (!layout_add(&at, batch, k, l->ld, lim)) return 0;
  l->v = at;
  if (!layout_add(&at, batch, k, l->ldv, lim)) return 0;
  l->t = at;
  if (!layout_add(&at, batch, k, l->ld, lim)) return 0;
  l->tv = at;
  if (!layout_add(&at, batch, k, l->ldv, lim)) return 0;
  l->e = at;
  if (!layout_add(&at, batch, k, k, lim)) return 0;
  l->s = at;
  if (!layout_add(&at, batch, k, 1, lim)) return 0;
  l->p = at;
  if (!layout_add(&at, batch, k, 1, lim)) return 0;
  l->x = at;
  if (!layout_add(&at, batch, l->ld, 1, lim)) return 0;
  l->f = at;
  if (!layout_add(&at, batch, 1, 1, lim)) return 0;
  l->total = at;
  return 1;
}

size_t pare_svd_f32_scratch_bytes(size_t batch, size_t m, size_t n) {
  if (batch == 0 || m == 0 || n == 0) return 0;
  svd_layout l;
  if (!layout_of(batch, m, n, &l)) return SIZE_MAX;
  return l.total * sizeof(float);
}

static size_t pow2_floor(size_t x) {
  size_t p = 1;
  while (p * 2 <= x) p *= 2;
  return p;
}

static int has_fp64(pare_cl_runtime *rt) {
  size_t len = 0;
  if (rt->cl->clGetDeviceInfo(rt->device, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS ||
      len == 0)
    return 0;
  char *ext = malloc(len + 1);
  if (!ext) return 0;
  int yes = 0;
  if (rt->cl->clGetDeviceInfo(rt->device, CL_DEVICE_EXTENSIONS, len, ext, NULL) == CL_SUCCESS) {
    ext[len] = 0;
    yes = strstr(ext, "cl_khr_fp64") != NULL;
  }
  free(ext);
  return yes;
}

/* The largest local size the kernel takes (a power of two <= want). */
static size_t fit_local(pare_cl_runtime *rt, cl_kernel k, size_t want) {
  size_t max = rt->info.max_work_group_size ? rt->info.max_work_group_size : 1;
  size_t kmax = 0;
  if (rt->cl->clGetKernelWorkGroupInfo(k, rt->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof kmax, &kmax,
                                       NULL) == CL_SUCCESS &&
      kmax > 0 && kmax < max)
    max = kmax;
  return pow2_floor(want < max ? want : max);
}

/* The kernel object, with the shape added to a build error. */
static pare_status get_kernel(pare_cl_runtime *rt, const char *defines, const char *name,
                              const char *what, cl_kernel *k, pare_error *err) {
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_svd_f32, defines, name, k, err);
  if (st != PARE_OK && err) {
    char text[PARE_ERROR_TEXT];
    snprintf(text, sizeof text, "%s", err->text);
    pare_error_set(err, st, "%s: %s", what, text);
  }
  return st;
}

static pare_status set_args(pare_cl_runtime *rt, cl_kernel k, const char *what, const size_t *sizes,
                            const void *const *values, cl_uint count, pare_error *err) {
  pare_status st = PARE_OK;
  for (cl_uint i = 0; i < count && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, sizes[i], values[i], what, err);
  return st;
}

pare_status pare_launch_svd_mode_f32(pare_cl_runtime *rt, size_t batch, size_t m, size_t n,
                                     cl_mem a, cl_mem u, cl_mem s, cl_mem vt,
                                     const pare_svd_params *p, cl_mem scratch, pare_svd_mode mode,
                                     pare_error *err) {
  pare_svd_params def;
  if (!p) {
    pare_svd_params_init(&def);
    p = &def;
  }
  if (mode < PARE_SVD_AUTO || mode > PARE_SVD_STEP)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "svd_f32: unknown mode %d", (int)mode);
  if (!(p->tol >= 0.0f) || !isfinite(p->tol) || p->max_sweeps < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "svd_f32 %zux(%zux%zu): bad params (tol %g, max_sweeps %d)", batch, m, n,
                          (double)p->tol, p->max_sweeps);
  if (batch == 0 || m == 0 || n == 0) return PARE_OK;
  if (!a || !u || !s || !vt || !scratch)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "svd_f32 %zux(%zux%zu): NULL buffer", batch, m,
                          n);
  svd_layout l;
  if (!layout_of(batch, m, n, &l))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "svd_f32 %zux(%zux%zu): scratch beyond 2^31 floats", batch, m, n);
  const size_t big = m > n ? m : n, k = m < n ? m : n, kk = (k + 1) & ~(size_t)1;
  const pare_profile *prof = rt->profile;
  const int cpu = pare_cl_is_cpu(rt);
  const int fp64 = pare_profile_int(prof, "svd_f32.fp64", 1) && has_fp64(rt);
  /* CPUs (PoCL) always take svd_sweeps: one launch, W and V hot in cache,
   * measured 2-2.5x faster than svd_step even at batch 1 (512x512). */
  const int group_max_k = pare_profile_int(prof, "svd_f32.group_max_k", cpu ? INT_MAX : 64);
  /* On PoCL a work-group runs on one core, its items one after another:
   * few items (4) measured ~10% faster than 16 at 64x64. */
  const int group_wg = pare_profile_int(prof, "svd_f32.group_wg", cpu ? 4 : 64);
  const int step_wg = pare_profile_int(prof, "svd_f32.step_wg", cpu ? 16 : 128);
  const int finish_wg = pare_profile_int(prof, "svd_f32.finish_wg", cpu ? 16 : 128);
  if (group_wg < 1 || step_wg < 1 || finish_wg < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad svd_f32 parameters",
                          prof->name);
  if (mode == PARE_SVD_AUTO) mode = k <= (size_t)group_max_k ? PARE_SVD_GROUP : PARE_SVD_STEP;
  /* W and V of one matrix in local memory when they fit. */
  const size_t acc = fp64 ? sizeof(double) : sizeof(float);
  const size_t local_bytes = (k * l.ld + k * l.ldv) * sizeof(float);
  const int use_local = mode == PARE_SVD_GROUP && pare_profile_int(prof, "svd_f32.local", 1) &&
                        local_bytes + k * acc + 256 <= rt->info.local_mem_bytes;
  char defines[64], what[112];
  snprintf(defines, sizeof defines, "-DSVD_FP64=%d -DSVD_LOCAL=%d", fp64, use_local);
  /* Below fp32 resolution no sweep can certify convergence. */
  const float tol = p->tol > FLT_EPSILON ? p->tol : FLT_EPSILON;
  cl_int cb = (cl_int)batch, cm = (cl_int)m, cn = (cl_int)n, ck = (cl_int)k;
  cl_int cld = (cl_int)l.ld, cldv = (cl_int)l.ldv;
  cl_int ow = (cl_int)l.w, ov = (cl_int)l.v, ot = (cl_int)l.t, otv = (cl_int)l.tv, oe = (cl_int)l.e,
         os = (cl_int)l.s, op = (cl_int)l.p, ox = (cl_int)l.x, of = (cl_int)l.f,
         csweeps = (cl_int)p->max_sweeps;
  cl_kernel kp = NULL, kj = NULL, kf = NULL;
  pare_status st;

  /* svd_prep: the working copy W (transposed when tall, rows padded) and
   * V = I. */
  snprintf(what, sizeof what, "svd_prep (batch %zu, %zux%zu)", batch, m, n);
  st = get_kernel(rt, defines, "svd_prep", what, &kp, err);
  if (st == PARE_OK) {
    const size_t sz[8] = {sizeof cm, sizeof cn,      sizeof cld, sizeof cldv,
                          sizeof a,  sizeof scratch, sizeof ow,  sizeof ov};
    const void *val[8] = {&cm, &cn, &cld, &cldv, &a, &scratch, &ow, &ov};
    st = set_args(rt, kp, what, sz, val, 8, err);
    const size_t global[3] = {l.ld, k, batch};
    if (st == PARE_OK) st = pare_cl_launch(rt, kp, what, 3, global, NULL, NULL, err);
  }

  if (st == PARE_OK && mode == PARE_SVD_GROUP) {
    snprintf(what, sizeof what, "svd_sweeps (batch %zu, %zux%zu)", batch, m, n);
    st = get_kernel(rt, defines, "svd_sweeps", what, &kj, err);
    if (st == PARE_OK) {
      size_t local = fit_local(rt, kj, (size_t)group_wg < kk / 2 ? (size_t)group_wg : kk / 2);
      size_t global = batch * local;
      const size_t sz[13] = {sizeof cb,
                             sizeof ck,
                             sizeof cld,
                             sizeof cldv,
                             sizeof tol,
                             sizeof csweeps,
                             sizeof scratch,
                             sizeof ow,
                             sizeof ov,
                             sizeof of,
                             use_local ? local_bytes : sizeof(float),
                             k * acc,
                             kk * sizeof(float)};
      const void *val[13] = {&cb, &ck, &cld, &cldv, &tol, &csweeps, &scratch,
                             &ow, &ov, &of,  NULL,  NULL, NULL};
      st = set_args(rt, kj, what, sz, val, 13, err);
      if (st == PARE_OK) st = pare_cl_launch(rt, kj, what, 1, &global, &local, NULL, err);
    }
  } else if (st == PARE_OK) {
    snprintf(what, sizeof what, "svd_step (batch %zu, %zux%zu)", batch, m, n);
    st = get_kernel(rt, defines, "svd_step", what, &kj, err);
    int *flags = st == PARE_OK ? calloc(batch, sizeof *flags) : NULL;
    int *zeros = st == PARE_OK ? calloc(batch, sizeof *zeros) : NULL;
    if (st == PARE_OK && (!flags || !zeros))
      st = pare_error_set(err, PARE_ERR_NO_MEMORY, "%s: out of memory", what);
    size_t local[3] = {1, 1, 1}, global[3];
    if (st == PARE_OK) {
      size_t want = (size_t)step_wg < big ? (size_t)step_wg : big;
      local[0] = fit_local(rt, kj, want);
      global[0] = local[0];
      global[1] = kk / 2;
      global[2] = batch;
      cl_int r0 = 0;
      const size_t sz[11] = {sizeof cb, sizeof ck,  sizeof cld,        sizeof cldv,
                             sizeof r0, sizeof tol, sizeof scratch,    sizeof ow,
                             sizeof ov, sizeof of,  3 * local[0] * acc};
      const void *val[11] = {&cb, &ck, &cld, &cldv, &r0, &tol, &scratch, &ow, &ov, &of, NULL};
      st = set_args(rt, kj, what, sz, val, 11, err);
    }
    for (int sweep = 0; st == PARE_OK && sweep < p->max_sweeps; sweep++) {
      st = pare_cl_write(rt, scratch, l.f * sizeof(float), batch * sizeof(int), zeros, err);
      for (size_t r = 0; st == PARE_OK && r + 1 < kk; r++) {
        cl_int cr = (cl_int)r;
        st = pare_cl_set_arg(rt, kj, 4, sizeof cr, &cr, what, err);
        if (st == PARE_OK) st = pare_cl_launch(rt, kj, what, 3, global, local, NULL, err);
      }
      if (st == PARE_OK)
        st = pare_cl_read(rt, scratch, l.f * sizeof(float), batch * sizeof(int), flags, err);
      int any = 0;
      for (size_t b = 0; st == PARE_OK && b < batch; b++) any |= flags[b];
      if (!any) break;
    }
    free(flags);
    free(zeros);
  }

  if (st == PARE_OK) {
    snprintf(what, sizeof what, "svd_finish (batch %zu, %zux%zu)", batch, m, n);
    st = get_kernel(rt, defines, "svd_finish", what, &kf, err);
    if (st == PARE_OK) {
      size_t local = fit_local(rt, kf, (size_t)finish_wg), global = batch * local;
      const size_t sz[18] = {sizeof cb,      sizeof cm, sizeof cn,  sizeof cld, sizeof cldv,
                             sizeof scratch, sizeof ow, sizeof ov,  sizeof ot,  sizeof otv,
                             sizeof oe,      sizeof os, sizeof op,  sizeof ox,  sizeof u,
                             sizeof s,       sizeof vt, local * acc};
      const void *val[18] = {&cb,  &cm, &cn, &cld, &cldv, &scratch, &ow, &ov, &ot,
                             &otv, &oe, &os, &op,  &ox,   &u,       &s,  &vt, NULL};
      st = set_args(rt, kf, what, sz, val, 18, err);
      if (st == PARE_OK) st = pare_cl_launch(rt, kf, what, 1, &global, &local, NULL, err);
    }
  }
  if (kp) rt->cl->clReleaseKernel(kp);
  if (kj) rt->cl->clReleaseKernel(kj);
  if (kf) rt->cl->clReleaseKernel(kf);
  return st;
}

pare_status pare_launch_svd_f32(pare_cl_runtime *rt, size_t batch, size_t m, size_t n, cl_mem a,
                                cl_mem u, cl_mem s, cl_mem vt, const pare_svd_params *p,
                                cl_mem scratch, pare_error *err) {
  return pare_launch_svd_mode_f32(rt, batch, m, n, a, u, s, vt, p, scratch, PARE_SVD_AUTO, err);
}
