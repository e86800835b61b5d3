/* Launcher of kernels/eltwise_f32.cl: picks the program variant (act, op,
 * vector width), the chunk per work-item and, for binary ops, the kernel
 * from the broadcast pattern of the two shapes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/ref/ops.h"
#include "host/launch/eltwise_f32.h"

/* Largest element count: int indices with room for one chunk past the end. */
#define ELT_MAX_ELEMS ((size_t)INT32_MAX - ((size_t)1 << 20))

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static pare_status elt_kernel(pare_cl_runtime *rt, const pare_cl_chunks *g, int act, int op,
                              const char *name, cl_kernel *k, pare_error *err) {
  char defines[96];
  snprintf(defines, sizeof defines, "-DELT_ACT=%d -DELT_OP=%d -DELT_VW=%d", act, op, g->vw);
  return pare_cl_kernel(rt, PARE_KERNEL_eltwise_f32, defines, name, k, err);
}

typedef struct elt_arg {
  size_t size;
  const void *value;
} elt_arg;

/* Sets the arguments, launches n elements in chunks, releases the kernel. */
static pare_status elt_run(pare_cl_runtime *rt, cl_kernel k, const char *name, const elt_arg *args,
                           cl_uint nargs, size_t n, size_t chunk, size_t wg, cl_event *event,
                           pare_error *err) {
  pare_status st = PARE_OK;
  for (cl_uint i = 0; i < nargs && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, args[i].size, args[i].value, name, err);
  if (st == PARE_OK) {
    size_t local[1] = {wg};
    size_t global[1] = {round_up((n + chunk - 1) / chunk, wg)};
    st = pare_cl_launch(rt, k, name, 1, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

/* Kernel `name` (activation act, binary op) for n elements, with the
 * chunk each work-item takes and the work-group size. */
static pare_status elt_prepare(pare_cl_runtime *rt, int act, int op, const char *name, size_t n,
                               cl_kernel *k, size_t *chunk, size_t *wg, pare_error *err) {
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "eltwise_f32", 4096, &g, err);
  if (st == PARE_OK) st = elt_kernel(rt, &g, act, op, name, k, err);
  if (st != PARE_OK) return st;
  *chunk = pare_cl_chunk_for(rt, &g, n);
  *wg = g.wg;
  return PARE_OK;
}

static int act_valid(pare_ref_act act) {
  return (int)act >= (int)PARE_REF_ACT_NONE && (int)act <= (int)PARE_REF_ACT_SHRINK;
}

pare_status pare_launch_eltwise_unary_f32(pare_cl_runtime *rt, pare_ref_act act, float alpha,
                                          float beta, cl_mem x, cl_mem y, size_t n, cl_event *event,
                                          pare_error *err) {
  if (!act_valid(act))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "eltwise_f32: unknown activation %d",
                          (int)act);
  if (n == 0) return PARE_OK;
  if (n > ELT_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "eltwise_f32: %zu elements (limit 2^31)", n);
  size_t chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, (int)act, 0, "elt_unary", n, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)n, cc = (cl_int)chunk;
  elt_arg args[] = {{sizeof cn, &cn},     {sizeof cc, &cc},        {sizeof(cl_mem), &x},
                    {sizeof(cl_mem), &y}, {sizeof(float), &alpha}, {sizeof(float), &beta}};
  return elt_run(rt, k, "elt_unary", args, 6, n, chunk, wg, event, err);
}

/* ---- binary ---- */

/* The broadcast problem reduced to its essentials: output dims without
 * size-1 axes, adjacent axes merged where both inputs allow it. */
typedef struct elt_plan {
  int kind; /* 0 same, 1 block, 2 general */
  int64_t total;
  int rank;
  int64_t d[PARE_REF_MAX_RANK], sa[PARE_REF_MAX_RANK], sb[PARE_REF_MAX_RANK];
  int swap;         /* block: a is the broadcast input */
  int64_t C, inner; /* block */
  int y_rank;       /* the broadcast shape */
  int64_t y_dims[PARE_REF_MAX_RANK];
} elt_plan;

static int is_full(int rank, const int64_t *d, const int64_t *s) {
  int64_t want = 1;
  for (int k = rank - 1; k >= 0; k--) {
    if (s[k] != want) return 0;
    want *= d[k];
  }
  return 1;
}

/* Whether s varies over one run of axes [k0, k1] only, contiguously there;
 * gives C (the run's size) and inner (the size after it). */
static int is_block(int rank, const int64_t *d, const int64_t *s, int64_t *C, int64_t *inner) {
  int k0 = -1, k1 = -1;
  for (int k = 0; k < rank; k++) {
    if (s[k] == 0) continue;
    if (k0 < 0)
      k0 = k;
    else if (k1 != k - 1)
      return 0; /* a gap */
    k1 = k;
  }
  int64_t c = 1, in = 1;
  for (int k = rank - 1; k > k1; k--) in *= d[k];
  if (k0 >= 0) {
    int64_t want = 1;
    for (int k = k1; k >= k0; k--) {
      if (s[k] != want) return 0;
      want *= d[k];
    }
    c = want;
  }
  *C = c;
  *inner = in;
  return 1;
}

static int elt_plan_of(int op, int a_rank, const int64_t *a_dims, int b_rank, const int64_t *b_dims,
                       elt_plan *p) {
  memset(p, 0, sizeof *p);
  int r;
  int64_t out[PARE_REF_MAX_RANK], sa[PARE_REF_MAX_RANK], sb[PARE_REF_MAX_RANK];
  if (pare_ref_broadcast_shape(a_rank, a_dims, b_rank, b_dims, &r, out) != PARE_REF_OK ||
      pare_ref_shape_numel(r, out, &p->total) != PARE_REF_OK ||
      pare_ref_broadcast_strides(a_rank, a_dims, r, out, sa) != PARE_REF_OK ||
      pare_ref_broadcast_strides(b_rank, b_dims, r, out, sb) != PARE_REF_OK)
    return 0;
  if (op == PARE_ELT_PRELU) {
    /* Unidirectional: the output is the shape of a. */
    if (r != a_rank) return 0;
    for (int i = 0; i < r; i++)
      if (out[i] != a_dims[i]) return 0;
  }
  p->y_rank = r;
  memcpy(p->y_dims, out, sizeof(int64_t) * (size_t)r);
  /* Drop size-1 axes, then merge an axis into the one inside it when both
   * inputs step through the pair as through one axis. */
  int n = 0;
  for (int i = 0; i < r; i++) {
    if (out[i] == 1) continue;
    p->d[n] = out[i], p->sa[n] = sa[i], p->sb[n] = sb[i];
    n++;
  }
  int m = 0;
  for (int i = 0; i < n; i++) {
    if (m > 0 && p->sa[m - 1] == p->sa[i] * p->d[i] && p->sb[m - 1] == p->sb[i] * p->d[i]) {
      p->d[m - 1] *= p->d[i];
      p->sa[m - 1] = p->sa[i];
      p->sb[m - 1] = p->sb[i];
    } else {
      p->d[m] = p->d[i], p->sa[m] = p->sa[i], p->sb[m] = p->sb[i];
      m++;
    }
  }
  p->rank = m;
  int fa = is_full(m, p->d, p->sa), fb = is_full(m, p->d, p->sb);
  if (fa && fb) {
    p->kind = 0;
  } else if (fa && is_block(m, p->d, p->sb, &p->C, &p->inner)) {
    p->kind = 1;
  } else if (fb && is_block(m, p->d, p->sa, &p->C, &p->inner)) {
    p->kind = 1;
    p->swap = 1;
  } else {
    p->kind = 2;
  }
  return 1;
}

const char *pare_eltwise_binary_plan(int a_rank, const int64_t *a_dims, int b_rank,
                                     const int64_t *b_dims) {
  elt_plan p;
  if (!elt_plan_of(PARE_REF_ADD, a_rank, a_dims, b_rank, b_dims, &p)) return NULL;
  static const char *const names[] = {"same", "block", "general"};
  return names[p.kind];
}

pare_status pare_launch_eltwise_binary_act_f32(pare_cl_runtime *rt, int op, cl_mem a, int a_rank,
                                               const int64_t *a_dims, cl_mem b, int b_rank,
                                               const int64_t *b_dims, cl_mem y, pare_ref_act act,
                                               float alpha, float beta, cl_event *event,
                                               pare_error *err) {
  if (op < (int)PARE_REF_ADD || op > PARE_ELT_PRELU)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "eltwise_f32: unknown binary op %d", op);
  if (!act_valid(act))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "eltwise_f32: unknown activation %d",
                          (int)act);
  elt_plan p;
  if (!elt_plan_of(op, a_rank, a_dims, b_rank, b_dims, &p))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "eltwise_f32: shapes of rank %d and %d do not broadcast%s", a_rank,
                          b_rank, op == PARE_ELT_PRELU ? " to the first (PRelu)" : "");
  if (p.total == 0) return PARE_OK;
  if ((uint64_t)p.total > ELT_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "eltwise_f32: %lld elements (limit 2^31)",
                          (long long)p.total);
  static const char *const names[] = {"elt_binary_same", "elt_binary_block", "elt_binary_general"};
  const char *name = names[p.kind];
  size_t n = (size_t)p.total, chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, (int)act, op, name, n, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)n, cc = (cl_int)chunk;
  if (p.kind == 0) {
    elt_arg args[] = {{sizeof cn, &cn},      {sizeof cc, &cc},     {sizeof(cl_mem), &a},
                      {sizeof(cl_mem), &b},  {sizeof(cl_mem), &y}, {sizeof(float), &alpha},
                      {sizeof(float), &beta}};
    return elt_run(rt, k, name, args, 7, n, chunk, wg, event, err);
  }
  if (p.kind == 1) {
    cl_int cC = (cl_int)p.C, ci = (cl_int)p.inner, sw = p.swap;
    cl_mem full = p.swap ? b : a, part = p.swap ? a : b;
    elt_arg args[] = {{sizeof cn, &cn},        {sizeof cc, &cc},     {sizeof cC, &cC},
                      {sizeof ci, &ci},        {sizeof sw, &sw},     {sizeof(cl_mem), &full},
                      {sizeof(cl_mem), &part}, {sizeof(cl_mem), &y}, {sizeof(float), &alpha},
                      {sizeof(float), &beta}};
    return elt_run(rt, k, name, args, 10, n, chunk, wg, event, err);
  }
  /* General: the innermost strides are 0 or 1 by construction (an input's
   * innermost non-1 axis aligned with the output's is its own last one). */
  cl_int8 dims, sa, sb;
  memset(&dims, 0, sizeof dims);
  memset(&sa, 0, sizeof sa);
  memset(&sb, 0, sizeof sb);
  for (int i = 0; i < p.rank; i++) {
    dims.s[i] = (cl_int)p.d[i];
    sa.s[i] = (cl_int)p.sa[i];
    sb.s[i] = (cl_int)p.sb[i];
  }
  if (p.rank < 1 || p.sa[p.rank - 1] > 1 || p.sb[p.rank - 1] > 1) {
    rt->cl->clReleaseKernel(k);
    return pare_error_set(err, PARE_ERR_INTERNAL, "eltwise_f32: unexpected broadcast strides");
  }
  cl_int rank = p.rank;
  elt_arg args[] = {{sizeof cn, &cn},        {sizeof cc, &cc},      {sizeof rank, &rank},
                    {sizeof dims, &dims},    {sizeof sa, &sa},      {sizeof sb, &sb},
                    {sizeof(cl_mem), &a},    {sizeof(cl_mem), &b},  {sizeof(cl_mem), &y},
                    {sizeof(float), &alpha}, {sizeof(float), &beta}};
  return elt_run(rt, k, name, args, 11, n, chunk, wg, event, err);
}

pare_status pare_launch_eltwise_binary_f32(pare_cl_runtime *rt, int op, cl_mem a, int a_rank,
                                           const int64_t *a_dims, cl_mem b, int b_rank,
                                           const int64_t *b_dims, cl_mem y, cl_event *event,
                                           pare_error *err) {
  return pare_launch_eltwise_binary_act_f32(rt, op, a, a_rank, a_dims, b, b_rank, b_dims, y,
                                            PARE_REF_ACT_NONE, 0.0f, 0.0f, event, err);
}

/* ---- affine ---- */

pare_status pare_launch_eltwise_affine_f32(pare_cl_runtime *rt, cl_mem x, cl_mem scale,
                                           cl_mem shift, size_t n, size_t c, size_t inner,
                                           pare_ref_act act, float alpha, float beta, cl_mem y,
                                           cl_event *event, pare_error *err) {
  if (!act_valid(act))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "eltwise_f32: unknown activation %d",
                          (int)act);
  if (n == 0 || c == 0 || inner == 0) return PARE_OK;
  if (c > ELT_MAX_ELEMS || inner > ELT_MAX_ELEMS || n > ELT_MAX_ELEMS / c / inner)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "eltwise_f32: affine of %zux%zux%zu (limit 2^31)", n, c, inner);
  size_t total = n * c * inner, chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, (int)act, 0, "elt_affine", total, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)total, cc = (cl_int)chunk, cC = (cl_int)c, ci = (cl_int)inner;
  elt_arg args[] = {{sizeof cn, &cn},         {sizeof cc, &cc},     {sizeof cC, &cC},
                    {sizeof ci, &ci},         {sizeof(cl_mem), &x}, {sizeof(cl_mem), &scale},
                    {sizeof(cl_mem), &shift}, {sizeof(cl_mem), &y}, {sizeof(float), &alpha},
                    {sizeof(float), &beta}};
  return elt_run(rt, k, "elt_affine", args, 10, total, chunk, wg, event, err);
}

pare_status pare_launch_fake_quant_f32(pare_cl_runtime *rt, cl_mem x, cl_mem y, size_t n,
                                       float scale, int32_t zero_point, int32_t qmin, int32_t qmax,
                                       cl_event *event, pare_error *err) {
  if (!(scale > 0) || !isfinite(scale) || qmin > qmax)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "eltwise_f32: fake quant scale %g, range [%d, %d]", (double)scale,
                          (int)qmin, (int)qmax);
  if (n == 0) return PARE_OK;
  if (n > ELT_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "eltwise_f32: fake quant of %zu (limit 2^31)",
                          n);
  size_t chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, 0, 0, "elt_fake_quant", n, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)n, cc = (cl_int)chunk;
  float lo = (float)(qmin - zero_point), hi = (float)(qmax - zero_point);
  elt_arg args[] = {{sizeof cn, &cn},     {sizeof cc, &cc},        {sizeof(cl_mem), &x},
                    {sizeof(cl_mem), &y}, {sizeof(float), &scale}, {sizeof(float), &lo},
                    {sizeof(float), &hi}};
  return elt_run(rt, k, "elt_fake_quant", args, 7, n, chunk, wg, event, err);
}

pare_status pare_launch_transpose2d_f32(pare_cl_runtime *rt, cl_mem x, size_t batch, size_t rows,
                                        size_t cols, cl_mem y, cl_event *event, pare_error *err) {
  if (!x || !y || x == y)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "eltwise_f32: transpose needs two buffers");
  if (batch == 0 || rows == 0 || cols == 0) return PARE_OK;
  if (rows > ELT_MAX_ELEMS || cols > ELT_MAX_ELEMS || batch > ELT_MAX_ELEMS / rows / cols)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "eltwise_f32: transpose of %zux%zux%zu (limit 2^31)", batch, rows, cols);
  size_t total = batch * rows * cols, chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, 0, 0, "elt_transpose2d", total, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)total, cc = (cl_int)chunk, cr = (cl_int)rows, ck = (cl_int)cols;
  elt_arg args[] = {{sizeof cn, &cn}, {sizeof cc, &cc},     {sizeof cr, &cr},
                    {sizeof ck, &ck}, {sizeof(cl_mem), &x}, {sizeof(cl_mem), &y}};
  return elt_run(rt, k, "elt_transpose2d", args, 6, total, chunk, wg, event, err);
}

pare_status pare_launch_copy_rows_f32(pare_cl_runtime *rt, cl_mem x, size_t rows, size_t cols,
                                      cl_mem y, size_t ld, size_t off, cl_event *event,
                                      pare_error *err) {
  if (!x || !y || x == y || off + cols > ld)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "eltwise_f32: copying rows of %zu into rows of %zu at %zu needs two "
                          "buffers and room",
                          cols, ld, off);
  if (rows == 0 || cols == 0) return PARE_OK;
  if (ld > ELT_MAX_ELEMS || rows > ELT_MAX_ELEMS / ld)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "eltwise_f32: copying %zu rows of %zu (limit 2^31)", rows, ld);
  size_t total = rows * cols, chunk, wg;
  cl_kernel k;
  pare_status st = elt_prepare(rt, 0, 0, "elt_copy_rows", total, &k, &chunk, &wg, err);
  if (st != PARE_OK) return st;
  cl_int cn = (cl_int)total, cc = (cl_int)chunk, ck = (cl_int)cols, cl = (cl_int)ld,
         co = (cl_int)off;
  elt_arg args[] = {{sizeof cn, &cn}, {sizeof cc, &cc},     {sizeof ck, &ck},    {sizeof cl, &cl},
                    {sizeof co, &co}, {sizeof(cl_mem), &x}, {sizeof(cl_mem), &y}};
  return elt_run(rt, k, "elt_copy_rows", args, 7, total, chunk, wg, event, err);
}

void pare_eltwise_fold_batchnorm(size_t c, const float *gamma, const float *beta, const float *mean,
                                 const float *var, float eps, float *scale, float *shift) {
  for (size_t i = 0; i < c; i++) {
    double s = (double)gamma[i] / sqrt((double)var[i] + (double)eps);
    scale[i] = (float)s;
    shift[i] = (float)((double)beta[i] - (double)mean[i] * s);
  }
}
