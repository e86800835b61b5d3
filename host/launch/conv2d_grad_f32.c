/* Launcher of kernels/conv2d_grad_f32.cl: picks the plan from the shape and
 * the device profile and enqueues its kernels on the in-order queue.
 *
 * Plans (per chunk of nb images; P = OH·OW, kred = C/group·KH·KW):
 *   im2col: grad_im2col builds col [C·KH·KW][nb·P] from x, and per group
 *           the GEMM dW_g (+)= dy_g · col_gᵀ (NT; beta 1 after the first
 *           chunk); then per group col_g = W_gᵀ · dy_g (TN) and grad_col2im
 *           gathers col into dx. With nb > 1, grad_pack_dy first lays dy of
 *           the chunk out as [M][nb·P] so that one GEMM covers the chunk.
 *   1x1:    stride-1 unpadded 1x1 kernels, one image at a time: x and dx
 *           are the patch matrices themselves.
 *   direct: few output channels per group (depthwise): grad_direct_dx and
 *           grad_direct_dw gather straight from dy, w and x.
 * db is always grad_bias.
 *
 * Profile parameters (fallbacks measured / reasoned for PoCL 3.1 on a
 * 2-core Zen 4 for CPU devices, starting points for GPUs):
 *   conv2d_grad_f32.direct_max_mg  direct plan when M/group <= this
 *   conv2d_grad_f32.vw             vector width of bias / pack kernels
 *   conv2d_grad_f32.wg             work-group size along dimension 0 (0: the
 *                                  driver chooses; 1: single-item groups)
 *   conv2d_grad_f32.batch_cols     planes with fewer outputs than this are
 *                                  batched into one GEMM over several images
 *   conv2d_grad_f32.scratch_mb     bound on the scratch of a chunk */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/conv2d_geom.h"
#include "host/launch/conv2d_grad_f32.h"

static pare_status check_args(const pare_conv2d_f32_args *a, const char *shape, pare_error *err) {
  pare_status st = pare_conv2d_check(a, "conv2d_grad_f32", shape, err);
  if (st != PARE_OK) return st;
  if (a->act != PARE_CONV2D_ACT_NONE)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "conv2d_grad_f32 (%s): act must be none (activation backward is "
                          "separate), got %d",
                          shape, a->act);
  return PARE_OK;
}

static void shape_text(const pare_conv2d_f32_args *a, char *buf, size_t size) {
  pare_conv2d_shape_text(a, "dy", buf, size);
}

size_t pare_conv2d_grad_f32_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a) {
  char shape[320];
  shape_text(a, shape, sizeof shape);
  if (check_args(a, shape, NULL) != PARE_OK || a->n == 0 || a->m == 0) return 0;
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(rt, "conv2d_grad_f32", a, 0, &pl);
  return (pl.col_elems + pl.chunk_elems) * sizeof(float);
}

/* Builds kernel `name` and launches it once with `args`. */
static pare_status launch_named(pare_cl_seq *r, const char *defines, const char *name,
                                const pare_cl_arg *args, size_t nargs, size_t g0, size_t g1,
                                pare_error *err) {
  cl_kernel k;
  pare_status st = pare_cl_kernel(r->rt, PARE_KERNEL_conv2d_grad_f32, defines, name, &k, err);
  if (st != PARE_OK) return st;
  st = pare_cl_seq_launch(r, k, name, args, nargs, g0, g1, err);
  r->rt->cl->clReleaseKernel(k);
  return st;
}

static pare_status gemm(pare_cl_seq *r, pare_gemm_f32_args *g, pare_error *err) {
  return pare_launch_gemm_f32(r->rt, g, pare_cl_seq_event(r), err);
}

#define NARGS(a) (sizeof(a) / sizeof((a)[0]))

static pare_status run_plan(pare_cl_seq *r, const pare_conv2d_f32_args *a,
                            const pare_conv2d_plan *pl, cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db,
                            cl_mem scratch, pare_error *err) {
  char defines[64];
  snprintf(defines, sizeof defines, "-DGRAD_VW=%d", pl->vw);
  cl_int N = (cl_int)a->n, C = (cl_int)a->c, H = (cl_int)a->h, W = (cl_int)a->w;
  cl_int M = (cl_int)a->m, KH = (cl_int)a->kh, KW = (cl_int)a->kw;
  cl_int SH = (cl_int)a->stride_h, SW = (cl_int)a->stride_w;
  cl_int DH = (cl_int)a->dil_h, DW = (cl_int)a->dil_w;
  cl_int PT = (cl_int)a->pad_top, PL = (cl_int)a->pad_left;
  cl_int OH = (cl_int)a->oh, OW = (cl_int)a->ow, P = (cl_int)pl->p;
  cl_int CG = (cl_int)pl->cg, MG = (cl_int)pl->mg;
  pare_status st = PARE_OK;

  if (a->n == 0) { /* dx is empty; dw and db are sums of nothing */
    cl_mem bufs[2] = {dw, db};
    size_t counts[2] = {a->m * pl->kred, a->m};
    for (int i = 0; i < 2 && st == PARE_OK; i++) {
      if (!bufs[i]) continue;
      cl_int cnt = (cl_int)counts[i];
      pare_cl_arg args[] = {{sizeof(cl_mem), &bufs[i]}, {sizeof cnt, &cnt}};
      st = launch_named(r, defines, "grad_zero", args, NARGS(args), counts[i], 1, err);
    }
    return st;
  }

  if (db) {
    pare_cl_arg args[] = {{sizeof(cl_mem), &dy},
                          {sizeof(cl_mem), &db},
                          {sizeof N, &N},
                          {sizeof M, &M},
                          {sizeof P, &P}};
    st = launch_named(r, defines, "grad_bias", args, NARGS(args), a->m, 1, err);
    if (st != PARE_OK) return st;
  }
  if (!dx && !dw) return PARE_OK;

  if (pl->path == PARE_CONV2D_DIRECT) {
    if (dx) {
      cl_int NC = (cl_int)(a->n * a->c);
      pare_cl_arg args[] = {{sizeof(cl_mem), &dy}, {sizeof(cl_mem), &a->weight},
                            {sizeof(cl_mem), &dx}, {sizeof C, &C},
                            {sizeof H, &H},        {sizeof W, &W},
                            {sizeof M, &M},        {sizeof KH, &KH},
                            {sizeof KW, &KW},      {sizeof SH, &SH},
                            {sizeof SW, &SW},      {sizeof DH, &DH},
                            {sizeof DW, &DW},      {sizeof PT, &PT},
                            {sizeof PL, &PL},      {sizeof OH, &OH},
                            {sizeof OW, &OW},      {sizeof CG, &CG},
                            {sizeof MG, &MG},      {sizeof NC, &NC}};
      st = launch_named(r, defines, "grad_direct_dx", args, NARGS(args), a->h, a->n * a->c, err);
      if (st != PARE_OK) return st;
    }
    if (dw) {
      pare_cl_arg args[] = {
          {sizeof(cl_mem), &dy}, {sizeof(cl_mem), &a->x}, {sizeof(cl_mem), &dw}, {sizeof N, &N},
          {sizeof C, &C},        {sizeof H, &H},          {sizeof W, &W},        {sizeof M, &M},
          {sizeof KH, &KH},      {sizeof KW, &KW},        {sizeof SH, &SH},      {sizeof SW, &SW},
          {sizeof DH, &DH},      {sizeof DW, &DW},        {sizeof PT, &PT},      {sizeof PL, &PL},
          {sizeof OH, &OH},      {sizeof OW, &OW},        {sizeof CG, &CG},      {sizeof MG, &MG}};
      st = launch_named(r, defines, "grad_direct_dw", args, NARGS(args), a->m * pl->kred, 1, err);
    }
    return st;
  }

  cl_kernel kcol = NULL, kc2i = NULL, kpack = NULL;
  const size_t nb = pl->nb;
  if (pl->path == PARE_CONV2D_IM2COL) {
    if (dw)
      st = pare_cl_kernel(r->rt, PARE_KERNEL_conv2d_grad_f32, defines, "grad_im2col", &kcol, err);
    if (st == PARE_OK && dx)
      st = pare_cl_kernel(r->rt, PARE_KERNEL_conv2d_grad_f32, defines, "grad_col2im", &kc2i, err);
    if (st == PARE_OK && nb > 1)
      st = pare_cl_kernel(r->rt, PARE_KERNEL_conv2d_grad_f32, defines, "grad_pack_dy", &kpack, err);
  }
  for (size_t n0 = 0; n0 < a->n && st == PARE_OK; n0 += nb) {
    size_t cnb = a->n - n0 < nb ? a->n - n0 : nb;
    size_t cld = cnb * pl->p;
    cl_int n0i = (cl_int)n0, NB = (cl_int)cnb;
    int packed = cnb > 1;
    /* dy of the chunk: packed [M][cld] in scratch after col, or in place. */
    cl_mem dyb = packed ? scratch : dy;
    size_t dy_off = packed ? pl->col_elems : n0 * a->m * pl->p;
    size_t dy_ld = packed ? cld : pl->p;
    if (packed) {
      cl_int off = (cl_int)pl->col_elems;
      pare_cl_arg args[] = {
          {sizeof(cl_mem), &dy}, {sizeof(cl_mem), &scratch}, {sizeof off, &off}, {sizeof M, &M},
          {sizeof P, &P},        {sizeof n0i, &n0i},         {sizeof NB, &NB}};
      st = pare_cl_seq_launch(r, kpack, "grad_pack_dy", args, NARGS(args), a->m, cnb, err);
    }
    if (st == PARE_OK && dw && pl->path == PARE_CONV2D_IM2COL) {
      pare_cl_arg args[] = {
          {sizeof(cl_mem), &a->x}, {sizeof(cl_mem), &scratch}, {sizeof C, &C},   {sizeof H, &H},
          {sizeof W, &W},          {sizeof KH, &KH},           {sizeof KW, &KW}, {sizeof SH, &SH},
          {sizeof SW, &SW},        {sizeof DH, &DH},           {sizeof DW, &DW}, {sizeof PT, &PT},
          {sizeof PL, &PL},        {sizeof OH, &OH},           {sizeof OW, &OW}, {sizeof n0i, &n0i},
          {sizeof NB, &NB}};
      st = pare_cl_seq_launch(r, kcol, "grad_im2col", args, NARGS(args), a->c * a->kh * a->kw, cnb,
                              err);
    }
    /* dW_g[MG x kred] (+)= dy_g[MG x cld] · col_g[kred x cld]ᵀ. */
    for (size_t g = 0; g < a->group && dw && st == PARE_OK; g++) {
      pare_gemm_f32_args ga = {0};
      ga.trans_b = 1;
      ga.m = pl->mg;
      ga.n = pl->kred;
      ga.k = cld;
      ga.alpha = 1.0f;
      ga.beta = n0 == 0 ? 0.0f : 1.0f;
      ga.a = dyb;
      ga.off_a = dy_off + g * pl->mg * dy_ld;
      ga.lda = dy_ld;
      if (pl->path == PARE_CONV2D_IM2COL) {
        ga.b = scratch;
        ga.off_b = g * pl->kred * cld;
        ga.ldb = cld;
      } else {
        ga.b = a->x;
        ga.off_b = (n0 * a->c + g * pl->cg) * pl->p;
        ga.ldb = pl->p;
      }
      ga.c = dw;
      ga.off_c = g * pl->mg * pl->kred;
      ga.ldc = pl->kred;
      st = gemm(r, &ga, err);
    }
    /* col_g[kred x cld] = W_g[MG x kred]ᵀ · dy_g[MG x cld]; then col2im. */
    for (size_t g = 0; g < a->group && dx && st == PARE_OK; g++) {
      pare_gemm_f32_args ga = {0};
      ga.trans_a = 1;
      ga.m = pl->kred;
      ga.n = cld;
      ga.k = pl->mg;
      ga.alpha = 1.0f;
      ga.beta = 0.0f;
      ga.a = a->weight;
      ga.off_a = g * pl->mg * pl->kred;
      ga.lda = pl->kred;
      ga.b = dyb;
      ga.off_b = dy_off + g * pl->mg * dy_ld;
      ga.ldb = dy_ld;
      if (pl->path == PARE_CONV2D_IM2COL) {
        ga.c = scratch;
        ga.off_c = g * pl->kred * cld;
        ga.ldc = cld;
      } else {
        ga.c = dx;
        ga.off_c = (n0 * a->c + g * pl->cg) * pl->p;
        ga.ldc = pl->p;
      }
      st = gemm(r, &ga, err);
    }
    if (st == PARE_OK && dx && pl->path == PARE_CONV2D_IM2COL) {
      pare_cl_arg args[] = {{sizeof(cl_mem), &scratch},
                            {sizeof(cl_mem), &dx},
                            {sizeof C, &C},
                            {sizeof H, &H},
                            {sizeof W, &W},
                            {sizeof KH, &KH},
                            {sizeof KW, &KW},
                            {sizeof SH, &SH},
                            {sizeof SW, &SW},
                            {sizeof DH, &DH},
                            {sizeof DW, &DW},
                            {sizeof PT, &PT},
                            {sizeof PL, &PL},
                            {sizeof OH, &OH},
                            {sizeof OW, &OW},
                            {sizeof n0i, &n0i},
                            {sizeof NB, &NB}};
      st = pare_cl_seq_launch(r, kc2i, "grad_col2im", args, NARGS(args), a->h, cnb * a->c, err);
    }
  }
  if (kcol) r->rt->cl->clReleaseKernel(kcol);
  if (kc2i) r->rt->cl->clReleaseKernel(kc2i);
  if (kpack) r->rt->cl->clReleaseKernel(kpack);
  return st;
}

pare_status pare_launch_conv2d_grad_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                        cl_mem dy, cl_mem dx, cl_mem dw, cl_mem db, cl_mem scratch,
                                        cl_event *event, pare_error *err) {
  if (event) *event = NULL;
  char shape[320];
  shape_text(a, shape, sizeof shape);
  pare_status st = check_args(a, shape, err);
  if (st != PARE_OK) return st;
  if (a->m == 0 || (!dx && !dw && !db)) return PARE_OK;
  if ((a->n > 0 && !dy) || (dx && !a->weight) || (dw && a->n > 0 && !a->x))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "conv2d_grad_f32 (%s): dy, weight (for dx) or x (for dw) is NULL", shape);
  pare_conv2d_plan pl;
  pare_conv2d_plan_make(rt, "conv2d_grad_f32", a, 0, &pl);
  if (!pare_vector_width_ok(pl.vw) || pl.wg < 0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "profile %s: bad conv2d_grad_f32 vw %d or wg %d", rt->profile->name,
                          pl.vw, pl.wg);
  int needs_scratch = a->n > 0 && (dx || dw) && pl.col_elems + pl.chunk_elems > 0;
  if (needs_scratch && !scratch)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "conv2d_grad_f32 (%s): needs %zu bytes of scratch, got none", shape,
                          (pl.col_elems + pl.chunk_elems) * sizeof(float));
  pare_cl_seq r = {rt, event != NULL, NULL, {(size_t)pl.wg, 1}, pl.wg > 0};
  st = run_plan(&r, a, &pl, dy, dx, dw, db, scratch, err);
  if (st != PARE_OK) {
    if (r.last) rt->cl->clReleaseEvent(r.last);
    if (err) {
      char inner[PARE_ERROR_TEXT];
      memcpy(inner, err->text, sizeof inner);
      inner[sizeof inner - 1] = '\0';
      if (strncmp(inner, "conv2d_grad_f32 (", 17) != 0)
        pare_error_set(err, st, "conv2d_grad_f32 (%s): %.700s", shape, inner);
    }
    return st;
  }
  if (event) *event = r.last;
  return PARE_OK;
}
