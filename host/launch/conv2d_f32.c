/* Launcher of kernels/conv2d_f32.cl: chooses the plan (direct kernel,
 * 1x1 GEMM, implicit GEMM on a bordered copy of the input, Winograd
 * F(2x2, 3x3), or im2col + GEMM, the last three in chunks of images)
 * from the shape and the device profile, and enqueues its kernels on the
 * in-order queue.
 *
 * Profile parameters (fallbacks are the values measured on PoCL 3.1 on a
 * 2-core Zen 4 for CPU devices, and reasoned starting points for GPUs):
 *   conv2d_f32.direct_max_k  direct kernel when C/group·kh·kw <= this ...
 *   conv2d_f32.direct_max_mg ... or when M/group <= this (depthwise: the
 *                            GEMM's register tile gains nothing there)
 *   conv2d_f32.vw            vector width of the direct and epilogue kernels
 *   conv2d_f32.rows          output rows per work-item of im2col and direct
 *                            (0: whole planes, split up to ~64 work-items)
 *   conv2d_f32.wg            work-group size along dimension 0 (0: let the
 *                            driver choose; 1: single-item groups, which PoCL
 *                            spreads over the cores)
 *   conv2d_f32.batch_cols    planes with fewer outputs than this are batched
 *                            into one GEMM over several images
 *   conv2d_f32.scratch_mb    bound on the im2col (or bordered input) scratch
 *                            of a chunk
 *   conv2d_f32.implicit      1: implicit GEMM for stride-1 windows that are
 *                            neither 1x1 nor direct; 0: im2col for them
 *   conv2d_f32.tm, .tr       implicit GEMM tile: output channels and rows
 *                            (its columns are vw)
 *   conv2d_f32.winograd      Winograd F(2x2, 3x3) for 3x3 stride-1 windows
 *                            of one group when both channel counts reach
 *                            this; 0 (the default): never. On PoCL it
 *                            measures 1.1-6x slower than the implicit GEMM
 *                            (three passes over memory); on GPUs it is
 *                            unmeasured, and `pare tune` times it per shape.
 *                            Its transforms take vw tiles per work-item. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/launch/conv2d_f32.h"
#include "host/launch/conv2d_geom.h"

/* Output rows per work-item for `items` (image, channel) planes of oh rows:
 * the profile's value, or whole planes split into blocks until there are
 * about 64 work-items (enough for every core of a CPU). */
static size_t rows_for(const pare_conv2d_plan *pl, size_t oh, size_t items) {
  if (pl->rows > 0) return (size_t)pl->rows;
  size_t blocks = items >= 64 ? 1 : (64 + items - 1) / items;
  if (blocks > oh) blocks = oh;
  return (oh + blocks - 1) / blocks;
}

/* Shape checks; 0 and a message in err when the shape is refused. */
static pare_status check_args(const pare_conv2d_f32_args *a, const char *shape, pare_error *err) {
  pare_status st = pare_conv2d_check(a, "conv2d_f32", shape, err);
  if (st != PARE_OK) return st;
  if (!a->x || !a->weight || !a->y)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_f32 (%s): x, weight or y is NULL",
                          shape);
  if (a->act < PARE_CONV2D_ACT_NONE || a->act > PARE_CONV2D_ACT_CLIP)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_f32 (%s): unknown activation %d",
                          shape, a->act);
  if (a->residual && a->residual == a->y)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_f32 (%s): the residual is y", shape);
  return PARE_OK;
}

static void shape_text(const pare_conv2d_f32_args *a, char *buf, size_t size) {
  pare_conv2d_shape_text(a, "y", buf, size);
}

/* The pooled output dims of a checked pooling (0 when the window does not fit). */
static void pooled_dims(const pare_conv2d_f32_args *a, const pare_conv2d_pool *pool, size_t *ph,
                        size_t *pw) {
  *ph = *pw = 0;
  if (pool->kh == 0 || pool->kw == 0 || pool->sh == 0 || pool->sw == 0 || pool->kh > a->oh ||
      pool->kw > a->ow)
    return;
  *ph = (a->oh - pool->kh) / pool->sh + 1;
  *pw = (a->ow - pool->kw) / pool->sw + 1;
}

/* The plan of a checked launch; with a pooling, the GEMM's product always
 * goes to a chunk of scratch (the epilogue reads it from there). */
static void plan_for(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                     const pare_conv2d_pool *pool, pare_conv2d_plan *pl) {
  /* The implicit GEMM pools only 2x2 windows of stride 2 itself. */
  int implicit_ok =
      !pool || (pool->kh == 2 && pool->kw == 2 && pool->sh == 2 && pool->sw == 2 && !a->residual);
  pare_conv2d_plan_make_pooled(rt, "conv2d_f32", a, implicit_ok, pool, pl);
  if (pool && pl->path == PARE_CONV2D_IMPLICIT && (pl->vw < 2 || pl->tr < 2))
    pare_conv2d_plan_make_pooled(rt, "conv2d_f32", a, 0, pool, pl);
  if (pool && pl->path != PARE_CONV2D_DIRECT && pl->path != PARE_CONV2D_IMPLICIT &&
      pl->path != PARE_CONV2D_WINOGRAD)
    pl->chunk_elems = a->m * (pl->path == PARE_CONV2D_IM2COL ? pl->nb : 1) * pl->p;
}

size_t pare_conv2d_f32_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a) {
  return pare_conv2d_f32_pool_scratch_bytes(rt, a, NULL);
}

/* The queries below check without an error (so with no shape text to
 * format: the executor asks them on every run). */
size_t pare_conv2d_f32_pool_scratch_bytes(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                          const pare_conv2d_pool *pool) {
  if (check_args(a, "", NULL) != PARE_OK || a->n == 0 || a->m == 0) return 0;
  pare_conv2d_plan pl;
  plan_for(rt, a, pool, &pl);
  return (pl.col_elems + pl.chunk_elems) * sizeof(float);
}

int pare_conv2d_f32_can_pool(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                             const pare_conv2d_pool *pool) {
  size_t ph, pw;
  if (pare_conv2d_check(a, "conv2d_f32", "", NULL) != PARE_OK || a->residual ||
      (pool->kind != PARE_CONV2D_POOL_MAX && pool->kind != PARE_CONV2D_POOL_AVG))
    return 0;
  pooled_dims(a, pool, &ph, &pw);
  if (ph == 0) return 0;
  pare_conv2d_plan pl;
  plan_for(rt, a, pool, &pl);
  return pl.path != PARE_CONV2D_DIRECT;
}

int pare_conv2d_f32_can_quantize_input(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                       const pare_conv2d_pool *pool) {
  if (pare_conv2d_check(a, "conv2d_f32", "", NULL) != PARE_OK) return 0;
  pare_conv2d_plan pl;
  plan_for(rt, a, pool, &pl);
  return pl.path == PARE_CONV2D_IMPLICIT;
}

static pare_status gemm(pare_cl_seq *r, pare_gemm_f32_args *g, pare_error *err) {
  return pare_launch_gemm_f32(r->rt, g, pare_cl_seq_event(r), err);
}

/* The implicit GEMM, chunk by chunk: the bordered copy of the chunk's
 * images, then the tiles (with the pooling that `defines` compiles in). */
static pare_status run_implicit(pare_cl_seq *r, const pare_conv2d_f32_args *a,
                                const pare_conv2d_plan *pl, const char *defines, pare_error *err) {
  pare_cl_runtime *rt = r->rt;
  char idefs[160];
  snprintf(idefs, sizeof idefs, "%s -DIG_TM=%d -DIG_R=%d", defines, pl->tm, pl->tr);
  cl_kernel kpad = NULL, kig = NULL;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, idefs, "conv2d_pad", &kpad, err);
  /* A layer's baked weights: its own program (the plan took its tile). */
  const pare_conv2d_baked *bk = a->baked && pl->tm == a->baked->tm ? a->baked : NULL;
  if (st == PARE_OK)
    st = pare_cl_kernel_ex(rt, PARE_KERNEL_conv2d_f32, bk ? bk->text : NULL, bk ? bk->hash : 0,
                           idefs, "conv2d_igemm", &kig, err);
  cl_int C = (cl_int)a->c, H = (cl_int)a->h, W = (cl_int)a->w, M = (cl_int)a->m;
  cl_int PT = (cl_int)a->pad_top, PL = (cl_int)a->pad_left;
  cl_int HP = (cl_int)pl->hp, WP = (cl_int)pl->wp, CG = (cl_int)pl->cg, MG = (cl_int)pl->mg;
  cl_int KH = (cl_int)a->kh, KW = (cl_int)a->kw, DH = (cl_int)a->dil_h, DW = (cl_int)a->dil_w;
  cl_int OH = (cl_int)a->oh, OW = (cl_int)a->ow, RB = (cl_int)pl->rb, CB = (cl_int)pl->cb;
  cl_int has_bias = a->bias != NULL, has_res = a->residual != NULL;
  cl_mem bias = a->bias ? a->bias : a->weight;   /* never read without has_bias */
  cl_mem res = a->residual ? a->residual : a->x; /* never read without has_res */
  float lo = a->act_min, hi = a->act_max;
  for (size_t n0 = 0; n0 < a->n && st == PARE_OK; n0 += pl->nb) {
    size_t cnb = a->n - n0 < pl->nb ? a->n - n0 : pl->nb;
    cl_int n0i = (cl_int)n0, NB = (cl_int)cnb, fq = a->in_quant != 0;
    float qs = a->in_scale, qlo = a->in_lo, qhi = a->in_hi;
    pare_cl_arg pargs[] = {{sizeof(cl_mem), &a->x}, {sizeof(cl_mem), &a->scratch},
                           {sizeof C, &C},          {sizeof H, &H},
                           {sizeof W, &W},          {sizeof PT, &PT},
                           {sizeof PL, &PL},        {sizeof HP, &HP},
                           {sizeof WP, &WP},        {sizeof n0i, &n0i},
                           {sizeof NB, &NB},        {sizeof fq, &fq},
                           {sizeof qs, &qs},        {sizeof qlo, &qlo},
                           {sizeof qhi, &qhi}};
    /* One short row per work-item: the driver groups them (single-item
     * groups, the tiles' setting on CPUs, would cost a group each). */
    st = pare_cl_seq_launch_driver_local(
        r, kpad, "conv2d_pad", pargs, sizeof pargs / sizeof pargs[0], cnb * a->c * pl->hp, 1, err);
    if (st != PARE_OK) break;
    pare_cl_arg args[] = {{sizeof(cl_mem), &a->scratch},
                          {sizeof(cl_mem), &a->weight},
                          {sizeof(cl_mem), &bias},
                          {sizeof has_bias, &has_bias},
                          {sizeof(cl_mem), &res},
                          {sizeof has_res, &has_res},
                          {sizeof(cl_mem), &a->y},
                          {sizeof C, &C},
                          {sizeof CG, &CG},
                          {sizeof M, &M},
                          {sizeof MG, &MG},
                          {sizeof KH, &KH},
                          {sizeof KW, &KW},
                          {sizeof DH, &DH},
                          {sizeof DW, &DW},
                          {sizeof HP, &HP},
                          {sizeof WP, &WP},
                          {sizeof OH, &OH},
                          {sizeof OW, &OW},
                          {sizeof RB, &RB},
                          {sizeof CB, &CB},
                          {sizeof n0i, &n0i},
                          {sizeof NB, &NB},
                          {sizeof lo, &lo},
                          {sizeof hi, &hi}};
    st = pare_cl_seq_launch(r, kig, "conv2d_igemm", args, sizeof args / sizeof args[0],
                            pl->rb * pl->cb * (a->m / (size_t)pl->tm), cnb, err);
  }
  if (kpad) rt->cl->clReleaseKernel(kpad);
  if (kig) rt->cl->clReleaseKernel(kig);
  return st;
}

/* Winograd F(2x2, 3x3): the weights transformed once, then chunk by
 * chunk the input transformed, the 16 products in one batched GEMM, and
 * the output transformed with the epilogue (and the pooling that `defines`
 * compiles in). */
/* A launch of the sequence in groups of `wg` × 1 work-items. */
static pare_status launch_grouped(pare_cl_seq *r, size_t wg, cl_kernel k, const char *name,
                                  const pare_cl_arg *args, size_t nargs, size_t g0, size_t g1,
                                  pare_error *err) {
  pare_cl_seq s = *r;
  s.local[0] = wg;
  s.local[1] = 1;
  s.use_local = 1;
  pare_status st = pare_cl_seq_launch(&s, k, name, args, nargs, g0, g1, err);
  r->last = s.last;
  return st;
}

static pare_status run_winograd(pare_cl_seq *r, const pare_conv2d_f32_args *a,
                                const pare_conv2d_plan *pl, const char *defines, pare_error *err) {
  pare_cl_runtime *rt = r->rt;
  static const char *const names[3] = {"conv2d_wino_weights", "conv2d_wino_input",
                                       "conv2d_wino_output"};
  cl_kernel k[3] = {NULL, NULL, NULL};
  pare_status st = PARE_OK;
  for (int i = 0; i < 3 && st == PARE_OK; i++)
    st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, defines, names[i], &k[i], err);
  size_t mc = a->m * a->c;
  cl_int MC = (cl_int)mc, C = (cl_int)a->c, H = (cl_int)a->h, W = (cl_int)a->w;
  cl_int M = (cl_int)a->m, OH = (cl_int)a->oh, OW = (cl_int)a->ow;
  cl_int PT = (cl_int)a->pad_top, PL = (cl_int)a->pad_left;
  cl_int TH = (cl_int)pl->th, TW = (cl_int)pl->tw;
  cl_int has_bias = a->bias != NULL, has_res = a->residual != NULL;
  cl_mem bias = a->bias ? a->bias : a->weight;   /* never read without has_bias */
  cl_mem res = a->residual ? a->residual : a->x; /* never read without has_res */
  float lo = a->act_min, hi = a->act_max;
  if (st == PARE_OK && !a->wino_u) { /* U made beforehand, or here in the scratch */
    pare_cl_arg args[] = {
        {sizeof(cl_mem), &a->weight}, {sizeof(cl_mem), &a->scratch}, {sizeof MC, &MC}};
    st = pare_cl_seq_launch_driver_local(r, k[0], names[0], args, 3, mc, 1, err);
  }
  for (size_t n0 = 0; n0 < a->n && st == PARE_OK; n0 += pl->nb) {
    size_t cnb = a->n - n0 < pl->nb ? a->n - n0 : pl->nb;
    size_t t = cnb * pl->th * pl->tw, blocks = (t + (size_t)pl->vw - 1) / (size_t)pl->vw;
    cl_int n0i = (cl_int)n0, NB = (cl_int)cnb;
    size_t v_off = 16 * mc, p_off = v_off + 16 * a->c * t;
    cl_int v_offi = (cl_int)v_off, p_offi = (cl_int)p_off;
    pare_cl_arg iargs[] = {{sizeof(cl_mem), &a->x},  {sizeof(cl_mem), &a->scratch},
                           {sizeof v_offi, &v_offi}, {sizeof C, &C},
                           {sizeof H, &H},           {sizeof W, &W},
                           {sizeof PT, &PT},         {sizeof PL, &PL},
                           {sizeof TH, &TH},         {sizeof TW, &TW},
                           {sizeof n0i, &n0i},       {sizeof NB, &NB}};
    st = launch_grouped(r, 64, k[1], names[1], iargs, sizeof iargs / sizeof iargs[0], blocks, a->c,
                        err);
    if (st != PARE_OK) break;
    /* Per transformed position k: P[k] (M x T) = U[k] (M x C) · V[k] (C x T). */
    pare_gemm_f32_args ga = {0};
    ga.m = a->m;
    ga.n = t;
    ga.k = a->c;
    ga.alpha = 1.0f;
    ga.a = a->wino_u ? a->wino_u : a->scratch;
    ga.b = ga.c = a->scratch;
    ga.off_a = 0;
    ga.off_b = v_off;
    ga.off_c = p_off;
    ga.lda = a->c;
    ga.ldb = ga.ldc = t;
    ga.batch = 16;
    ga.stride_a = mc;
    ga.stride_b = a->c * t;
    ga.stride_c = a->m * t;
    st = gemm(r, &ga, err);
    if (st != PARE_OK) break;
    pare_cl_arg oargs[] = {{sizeof(cl_mem), &a->scratch},
                           {sizeof p_offi, &p_offi},
                           {sizeof(cl_mem), &bias},
                           {sizeof has_bias, &has_bias},
                           {sizeof(cl_mem), &res},
                           {sizeof has_res, &has_res},
                           {sizeof(cl_mem), &a->y},
                           {sizeof M, &M},
                           {sizeof OH, &OH},
                           {sizeof OW, &OW},
                           {sizeof TH, &TH},
                           {sizeof TW, &TW},
                           {sizeof n0i, &n0i},
                           {sizeof NB, &NB},
                           {sizeof lo, &lo},
                           {sizeof hi, &hi}};
    st = launch_grouped(r, 64, k[2], names[2], oargs, sizeof oargs / sizeof oargs[0], blocks, a->m,
                        err);
  }
  for (int i = 0; i < 3; i++)
    if (k[i]) rt->cl->clReleaseKernel(k[i]);
  return st;
}

pare_status pare_conv2d_winograd_weights(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                         const pare_conv2d_pool *pool, cl_mem *u, pare_error *err) {
  *u = NULL;
  pare_status st = pare_conv2d_check(a, "conv2d_f32", "", err);
  if (st != PARE_OK) return st;
  pare_conv2d_plan pl;
  plan_for(rt, a, pool, &pl);
  if (pl.path != PARE_CONV2D_WINOGRAD) return PARE_OK;
  char defines[96]; /* the launch's program: built once for both */
  snprintf(defines, sizeof defines, "-DCONV_ACT=%d -DCONV_VW=%d -DCONV_POOL=%d", a->act, pl.vw,
           pool ? pool->kind : 0);
  cl_kernel k = NULL;
  size_t mc = a->m * a->c;
  st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, defines, "conv2d_wino_weights", &k, err);
  if (st == PARE_OK)
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, 16 * mc * sizeof(float), NULL, u, err);
  if (st == PARE_OK) {
    pare_cl_seq r = {rt, 0, NULL, {0, 0}, 0};
    cl_int MC = (cl_int)mc;
    pare_cl_arg args[] = {{sizeof(cl_mem), &a->weight}, {sizeof(cl_mem), u}, {sizeof MC, &MC}};
    st = pare_cl_seq_launch_driver_local(&r, k, "conv2d_wino_weights", args, 3, mc, 1, err);
  }
  if (k) rt->cl->clReleaseKernel(k);
  if (st != PARE_OK && *u) {
    rt->cl->clReleaseMemObject(*u);
    *u = NULL;
  }
  return st;
}

static pare_status run_plan(pare_cl_seq *r, const pare_conv2d_f32_args *a,
                            const pare_conv2d_plan *pl, const pare_conv2d_pool *pool,
                            pare_error *err) {
  pare_cl_runtime *rt = r->rt;
  char defines[96];
  snprintf(defines, sizeof defines, "-DCONV_ACT=%d -DCONV_VW=%d -DCONV_POOL=%d", a->act, pl->vw,
           pool ? pool->kind : 0);
  cl_int N = (cl_int)a->n, C = (cl_int)a->c, H = (cl_int)a->h, W = (cl_int)a->w;
  cl_int M = (cl_int)a->m, KH = (cl_int)a->kh, KW = (cl_int)a->kw;
  cl_int SH = (cl_int)a->stride_h, SW = (cl_int)a->stride_w;
  cl_int DH = (cl_int)a->dil_h, DW = (cl_int)a->dil_w;
  cl_int PT = (cl_int)a->pad_top, PL = (cl_int)a->pad_left;
  cl_int OH = (cl_int)a->oh, OW = (cl_int)a->ow, P = (cl_int)pl->p;
  cl_int CG = (cl_int)pl->cg, MG = (cl_int)pl->mg;
  cl_int has_bias = a->bias != NULL;
  cl_mem bias = a->bias ? a->bias : a->weight; /* never read without has_bias */
  cl_int has_res = a->residual != NULL;
  cl_mem res = a->residual ? a->residual : a->x; /* never read without has_res */
  float lo = a->act_min, hi = a->act_max;
  pare_status st;
  cl_kernel k;

  if (pl->path == PARE_CONV2D_IMPLICIT) return run_implicit(r, a, pl, defines, err);
  if (pl->path == PARE_CONV2D_WINOGRAD) return run_winograd(r, a, pl, defines, err);
  if (pl->path == PARE_CONV2D_DIRECT) {
    cl_int rows = (cl_int)rows_for(pl, a->oh, a->n * a->m);
    size_t blocks = (a->oh + (size_t)rows - 1) / (size_t)rows;
    st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, defines, "conv2d_direct", &k, err);
    if (st != PARE_OK) return st;
    pare_cl_arg args[] = {{sizeof(cl_mem), &a->x}, {sizeof(cl_mem), &a->weight},
                          {sizeof(cl_mem), &bias}, {sizeof has_bias, &has_bias},
                          {sizeof(cl_mem), &res},  {sizeof has_res, &has_res},
                          {sizeof(cl_mem), &a->y}, {sizeof N, &N},
                          {sizeof C, &C},          {sizeof H, &H},
                          {sizeof W, &W},          {sizeof M, &M},
                          {sizeof KH, &KH},        {sizeof KW, &KW},
                          {sizeof SH, &SH},        {sizeof SW, &SW},
                          {sizeof DH, &DH},        {sizeof DW, &DW},
                          {sizeof PT, &PT},        {sizeof PL, &PL},
                          {sizeof OH, &OH},        {sizeof OW, &OW},
                          {sizeof CG, &CG},        {sizeof MG, &MG},
                          {sizeof rows, &rows},    {sizeof lo, &lo},
                          {sizeof hi, &hi}};
    st = pare_cl_seq_launch(r, k, "conv2d_direct", args, sizeof args / sizeof args[0], blocks,
                            a->n * a->m, err);
    rt->cl->clReleaseKernel(k);
    return st;
  }

  int need_epilogue =
      has_bias || has_res || a->act != PARE_CONV2D_ACT_NONE || pl->nb > 1 || pool != NULL;
  const char *epilogue = pool ? "conv2d_epilogue_pool" : "conv2d_epilogue";
  cl_kernel kcol = NULL, kepi = NULL;
  if (pl->path == PARE_CONV2D_IM2COL) {
    st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, defines, "conv2d_im2col", &kcol, err);
    if (st != PARE_OK) return st;
  }
  if (need_epilogue) {
    st = pare_cl_kernel(rt, PARE_KERNEL_conv2d_f32, defines, epilogue, &kepi, err);
    if (st != PARE_OK) {
      if (kcol) rt->cl->clReleaseKernel(kcol);
      return st;
    }
  }
  size_t nb = pl->path == PARE_CONV2D_IM2COL ? pl->nb : 1;
  cl_int rows = (cl_int)rows_for(pl, a->oh, a->c * a->kh * a->kw * nb);
  size_t blocks = (a->oh + (size_t)rows - 1) / (size_t)rows;
  st = PARE_OK;
  for (size_t n0 = 0; n0 < a->n && st == PARE_OK; n0 += nb) {
    size_t cnb = a->n - n0 < nb ? a->n - n0 : nb;
    size_t cld = cnb * pl->p;
    cl_int n0i = (cl_int)n0, NB = (cl_int)cnb;
    if (pl->path == PARE_CONV2D_IM2COL) {
      pare_cl_arg args[] = {{sizeof(cl_mem), &a->x}, {sizeof(cl_mem), &a->scratch},
                            {sizeof C, &C},          {sizeof H, &H},
                            {sizeof W, &W},          {sizeof KH, &KH},
                            {sizeof KW, &KW},        {sizeof SH, &SH},
                            {sizeof SW, &SW},        {sizeof DH, &DH},
                            {sizeof DW, &DW},        {sizeof PT, &PT},
                            {sizeof PL, &PL},        {sizeof OH, &OH},
                            {sizeof OW, &OW},        {sizeof n0i, &n0i},
                            {sizeof NB, &NB},        {sizeof rows, &rows}};
      st = pare_cl_seq_launch(r, kcol, "conv2d_im2col", args, sizeof args / sizeof args[0],
                              a->c * a->kh * a->kw, cnb * blocks, err);
    }
    /* Per group: Y_g[MG x cld] = W_g[MG x kred] · B_g[kred x cld]. */
    for (size_t g = 0; g < a->group && st == PARE_OK; g++) {
      pare_gemm_f32_args ga = {0};
      ga.m = pl->mg;
      ga.n = cld;
      ga.k = pl->kred;
      ga.alpha = 1.0f;
      ga.beta = 0.0f;
      ga.a = a->weight;
      ga.off_a = g * pl->mg * pl->kred;
      ga.lda = pl->kred;
      if (pl->path == PARE_CONV2D_IM2COL) {
        ga.b = a->scratch;
        ga.off_b = g * pl->kred * cld;
      } else {
        ga.b = a->x;
        ga.off_b = (n0 * a->c + g * pl->cg) * pl->p;
      }
      ga.ldb = cld;
      if (cnb > 1 || pool) {
        ga.c = a->scratch;
        ga.off_c = pl->col_elems + g * pl->mg * cld;
      } else {
        ga.c = a->y;
        ga.off_c = (n0 * a->m + g * pl->mg) * pl->p;
      }
      ga.ldc = cld;
      st = gemm(r, &ga, err);
    }
    if (st == PARE_OK && pool) {
      size_t phs, pws;
      pooled_dims(a, pool, &phs, &pws);
      cl_int src_off = (cl_int)pl->col_elems, ldi = (cl_int)cld;
      cl_int y_off = (cl_int)(n0 * a->m * phs * pws);
      cl_int PKH = (cl_int)pool->kh, PKW = (cl_int)pool->kw, PSH = (cl_int)pool->sh;
      cl_int PSW = (cl_int)pool->sw, PH = (cl_int)phs, PW = (cl_int)pws;
      pare_cl_arg args[] = {{sizeof(cl_mem), &a->scratch},
                            {sizeof src_off, &src_off},
                            {sizeof ldi, &ldi},
                            {sizeof(cl_mem), &a->y},
                            {sizeof y_off, &y_off},
                            {sizeof(cl_mem), &bias},
                            {sizeof has_bias, &has_bias},
                            {sizeof M, &M},
                            {sizeof OH, &OH},
                            {sizeof OW, &OW},
                            {sizeof NB, &NB},
                            {sizeof PKH, &PKH},
                            {sizeof PKW, &PKW},
                            {sizeof PSH, &PSH},
                            {sizeof PSW, &PSW},
                            {sizeof PH, &PH},
                            {sizeof PW, &PW},
                            {sizeof lo, &lo},
                            {sizeof hi, &hi}};
      st = pare_cl_seq_launch(r, kepi, epilogue, args, sizeof args / sizeof args[0], a->m,
                              cnb * phs, err);
    } else if (st == PARE_OK && need_epilogue) {
      cl_mem src = cnb > 1 ? a->scratch : a->y;
      cl_int src_off = cnb > 1 ? (cl_int)pl->col_elems : (cl_int)(n0 * a->m * pl->p);
      cl_int y_off = (cl_int)(n0 * a->m * pl->p), ldi = (cl_int)cld;
      pare_cl_arg args[] = {{sizeof(cl_mem), &src},
                            {sizeof src_off, &src_off},
                            {sizeof ldi, &ldi},
                            {sizeof(cl_mem), &a->y},
                            {sizeof y_off, &y_off},
                            {sizeof(cl_mem), &bias},
                            {sizeof has_bias, &has_bias},
                            {sizeof(cl_mem), &res},
                            {sizeof has_res, &has_res},
                            {sizeof M, &M},
                            {sizeof P, &P},
                            {sizeof NB, &NB},
                            {sizeof lo, &lo},
                            {sizeof hi, &hi}};
      st = pare_cl_seq_launch(r, kepi, "conv2d_epilogue", args, sizeof args / sizeof args[0], a->m,
                              cnb, err);
    }
  }
  if (kcol) rt->cl->clReleaseKernel(kcol);
  if (kepi) rt->cl->clReleaseKernel(kepi);
  return st;
}

/* The launch of pare_launch_conv2d_f32 and pare_launch_conv2d_pool_f32. */
static pare_status launch(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                          const pare_conv2d_pool *pool, cl_event *event, pare_error *err) {
  if (event) *event = NULL;
  char shape[320];
  shape_text(a, shape, sizeof shape);
  pare_status st = check_args(a, shape, err);
  if (st != PARE_OK) return st;
  if (pool && !pare_conv2d_f32_can_pool(rt, a, pool))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "conv2d_f32 (%s): cannot pool %zux%zu/%zux%zu (kind %d) here: the "
                          "direct path, a residual or a window that does not fit",
                          shape, pool->kh, pool->kw, pool->sh, pool->sw, pool->kind);
  if (a->n == 0 || a->m == 0) return PARE_OK;
  pare_conv2d_plan pl;
  plan_for(rt, a, pool, &pl);
  if (a->in_quant &&
      (pl.path != PARE_CONV2D_IMPLICIT || !(a->in_scale > 0) || !(a->in_lo <= a->in_hi)))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "conv2d_f32 (%s): input quantization (scale %g, range %g..%g) needs the "
                          "implicit GEMM path and a positive scale",
                          shape, a->in_scale, a->in_lo, a->in_hi);
  if (!pare_vector_width_ok(pl.vw) || pl.wg < 0 || pl.rows < 0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "profile %s: bad conv2d_f32 vw %d, wg %d or rows %d", rt->profile->name,
                          pl.vw, pl.wg, pl.rows);
  if (pl.col_elems + pl.chunk_elems > 0 && !a->scratch)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "conv2d_f32 (%s): needs %zu bytes of scratch, got none", shape,
                          (pl.col_elems + pl.chunk_elems) * sizeof(float));
  pare_cl_seq r = {rt, event != NULL, NULL, {(size_t)pl.wg, 1}, pl.wg > 0};
  st = run_plan(&r, a, &pl, pool, err);
  if (st != PARE_OK) {
    if (r.last) rt->cl->clReleaseEvent(r.last);
    if (err) {
      char inner[PARE_ERROR_TEXT];
      memcpy(inner, err->text, sizeof inner);
      inner[sizeof inner - 1] = '\0';
      if (strncmp(inner, "conv2d_f32 (", 12) != 0)
        pare_error_set(err, st, "conv2d_f32 (%s): %.700s", shape, inner);
    }
    return st;
  }
  if (event) *event = r.last;
  return PARE_OK;
}

pare_status pare_launch_conv2d_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                   cl_event *event, pare_error *err) {
  return launch(rt, a, NULL, event, err);
}

pare_status pare_launch_conv2d_pool_f32(pare_cl_runtime *rt, const pare_conv2d_f32_args *a,
                                        const pare_conv2d_pool *pool, cl_event *event,
                                        pare_error *err) {
  if (!pool) return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_f32: no pooling given");
  return launch(rt, a, pool, event, err);
}

int pare_conv2d_baked_tm(size_t mg, int tr) {
  int tm = 24 / (tr < 1 ? 1 : tr);
  while (tm > 1 && mg % (size_t)tm) tm--;
  return tm;
}

int pare_conv2d_baked_make(const float *w, size_t m, size_t group, size_t cg, size_t kh, size_t kw,
                           int tr, pare_conv2d_baked *out) {
  memset(out, 0, sizeof *out);
  int tm = pare_conv2d_baked_tm(group ? m / group : m, tr);
  size_t k = cg * kh * kw, nnz = 0, blocks = m / (size_t)tm;
  for (size_t i = 0; i < m * k; i++) {
    if (!isfinite(w[i])) return -1;
    nnz += w[i] != 0.0f;
  }
  /* Per block "case b:", per tap of the block with a nonzero weight
   * "BAKED_TAP(c,kh,kw)", per nonzero "BAKED_FMA(i,<hex float>f)". */
  size_t cap = 64 + blocks * 24 + k * blocks * 48 + nnz * 48;
  char *t = malloc(cap);
  if (!t) return -1;
  size_t n = (size_t)snprintf(t, cap, "#define BAKED_BODY switch (m0 / IG_TM) { \\\n");
  for (size_t b = 0; b < blocks; b++) {
    const float *wb = w + b * (size_t)tm * k;
    n += (size_t)snprintf(t + n, cap - n, "case %zu: \\\n", b);
    for (size_t tap = 0; tap < k; tap++) {
      int any = 0;
      for (int i = 0; i < tm; i++) any |= wb[(size_t)i * k + tap] != 0.0f;
      if (!any) continue;
      n += (size_t)snprintf(t + n, cap - n, "BAKED_TAP(%zu,%zu,%zu)", tap / (kh * kw),
                            tap / kw % kh, tap % kw);
      for (int i = 0; i < tm; i++)
        if (wb[(size_t)i * k + tap] != 0.0f)
          n += (size_t)snprintf(t + n, cap - n, " BAKED_FMA(%d,%af)", i,
                                (double)wb[(size_t)i * k + tap]);
      n += (size_t)snprintf(t + n, cap - n, " \\\n");
    }
    n += (size_t)snprintf(t + n, cap - n, "break; \\\n");
  }
  n += (size_t)snprintf(t + n, cap - n, "}\n");
  out->text = t;
  out->hash = pare_hash64(t, n, PARE_HASH_SEED);
  out->tm = tm;
  out->tr = tr;
  return 0;
}

void pare_conv2d_baked_free(pare_conv2d_baked *b) {
  free(b->text);
  memset(b, 0, sizeof *b);
}
