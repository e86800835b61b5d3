/* Launcher of kernels/gemm_i8.cl: picks each kernel's variant (inner
 * product path, tile, output type) from the device profile and device
 * info, checks the arguments and launches. Temporary buffers (weight sums
 * when the caller has none, im2col patches) are created per call and
 * released right after their last launch is enqueued (OpenCL keeps them
 * alive until the queue is done with them). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/gemm_i8.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* Tunables, from the profile (keys "gemm_i8.*") or these defaults. */
typedef struct i8_tune {
  int path;   /* kernel I8_PATH */
  int dot;    /* kernel I8_DOT (path 2) */
  int tm, tn; /* int8 GEMM tile */
  int nrep;   /* column tiles per work-item */
  int kw;     /* portable path vector width along k */
  int wq_tm, wq_tn;
  size_t wg0, wg1, wg2;
} i8_tune;

/* The host CPU has AVX-512 VNNI (a CPU device runs on it). */
static int host_has_vnni(void) {
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512bw");
#else
  return 0;
#endif
}

static pare_status tune_of(pare_cl_runtime *rt, i8_tune *t, pare_error *err) {
  const pare_profile *p = rt->profile;
  const int cpu = pare_cl_is_cpu(rt);
  /* path: -1 auto, 0 portable, 1 x86 pmaddwd, 2 dot built-in, 3 the dot
   * code with an emulated built-in (tests), 4 x86 VNNI (only on a CPU
   * device whose host has it; else path 1). */
  int path = pare_profile_int(p, "gemm_i8.path", -1);
  int dot = 0;
  if (path == -1) path = rt->info.int8_dot ? 2 : cpu ? 4 : 0;
  if (path == 4 && !(cpu && host_has_vnni())) path = cpu ? 1 : 0;
  if (path == 2) {
    if (!strcmp(rt->info.int8_dot_ext, "cl_khr_integer_dot_product"))
      dot = 1;
    else if (!strcmp(rt->info.int8_dot_ext, "cl_arm_integer_dot_product_int8"))
      dot = 2;
    else
      path = 0; /* cl_qcom_dot_product8 or none: no built-in this kernel uses */
  } else if (path == 3) {
    path = 2, dot = 0;
  }
  t->path = path;
  t->dot = dot;
  /* Measured on PoCL (Zen 4, pmaddwd path, interleaved runs): 4×6 and 5×5
   * about 5 % ahead of 4×4 and 6×4, 8×3 and 2×8 slower; 4 column tiles per
   * work-item 3-8 % ahead of 1 (fewer, longer work-groups); larger
   * work-groups changed nothing measurable. GPUs start from 4×4, nrep 1. */
  t->tm = pare_profile_int(p, "gemm_i8.tm", 4);
  t->tn = pare_profile_int(p, "gemm_i8.tn", cpu ? 6 : 4);
  t->kw = pare_profile_int(p, "gemm_i8.kw", cpu ? 16 : 4);
  t->nrep = pare_profile_int(p, "gemm_i8.nrep", cpu ? 4 : 1);
  t->wq_tm = pare_profile_int(p, "gemm_i8.wq_tm", 4);
  t->wq_tn = pare_profile_int(p, "gemm_i8.wq_tn", cpu ? 4 : 2);
  t->wg0 = (size_t)pare_profile_int(p, "gemm_i8.wg0", cpu ? 1 : 8);
  t->wg1 = (size_t)pare_profile_int(p, "gemm_i8.wg1", cpu ? 1 : 8);
  t->wg2 = (size_t)pare_profile_int(p, "gemm_i8.wg2", cpu ? 16 : 1);
  if (path < 0 || path > 4 || t->tm < 1 || t->tm > 8 || t->tn < 1 || t->tn > 8 || t->nrep < 1 ||
      t->nrep > 64 || (t->kw != 4 && t->kw != 8 && t->kw != 16) || t->wq_tm < 1 || t->wq_tm > 8 ||
      t->wq_tn < 1 || t->wq_tn > 8 || t->wg0 < 1 || t->wg1 < 1 || t->wg0 > 1024 || t->wg1 > 1024 ||
      t->wg2 < 1 || t->wg2 > 64)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad gemm_i8 parameters", p->name);
  return PARE_OK;
}

/* A tile height no larger than the matrix: small m (batch-1 layers) would
 * otherwise compute clamped duplicate rows. */
static int fit_tile(int t, size_t m) {
  if ((size_t)t <= m) return t;
  return (int)m;
}

static pare_status set_args(pare_cl_runtime *rt, cl_kernel k, const char *what,
                            const pare_cl_arg *args, size_t count, pare_error *err) {
  pare_status st = PARE_OK;
  for (size_t i = 0; i < count && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, (cl_uint)i, args[i].size, args[i].value, what, err);
  return st;
}

/* The view (off, rows of ld, last row `cols` long) indexable with int. */
static int view_fits(size_t off, size_t rows, size_t ld, size_t cols) {
  if (off > INT_MAX || ld > INT_MAX || cols > INT_MAX || rows > INT_MAX) return 0;
  if (cols > (size_t)INT_MAX - off) return 0;
  return rows == 0 || (rows - 1) <= ((size_t)INT_MAX - off - cols) / (ld ? ld : 1);
}

pare_status pare_launch_i8_row_sums(pare_cl_runtime *rt, size_t channels, size_t k, cl_mem w,
                                    size_t off_w, size_t ldw, cl_mem sums, cl_event *event,
                                    pare_error *err) {
  if (channels == 0) return PARE_OK;
  if (!w || !sums || k == 0 || ldw < k)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "i8_row_sums (%zu×%zu, ldw %zu): NULL buffer, k == 0 or ldw < k",
                          channels, k, ldw);
  if (!view_fits(off_w, channels, ldw, k))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "i8_row_sums: sizes beyond 2^31");
  cl_kernel kr;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, "", "i8_row_sums", &kr, err);
  if (st != PARE_OK) return st;
  cl_int cc = (cl_int)channels, ck = (cl_int)k, co = (cl_int)off_w, cl = (cl_int)ldw;
  const pare_cl_arg args[] = {{sizeof cc, &cc}, {sizeof ck, &ck}, {sizeof w, &w},
                              {sizeof co, &co}, {sizeof cl, &cl}, {sizeof sums, &sums}};
  st = set_args(rt, kr, "i8_row_sums", args, sizeof args / sizeof args[0], err);
  /* One channel per work-item; single-item groups on CPUs (as gemm_f32). */
  size_t local = pare_cl_is_cpu(rt) ? 1 : 64, global = round_up(channels, local);
  if (st == PARE_OK) st = pare_cl_launch(rt, kr, "i8_row_sums", 1, &global, &local, event, err);
  rt->cl->clReleaseKernel(kr);
  return st;
}

/* gemm_i8 proper; chan_rows: the channel of an output is its row, chan0
 * that of the first row (column); `batch` products that share A, B and C
 * moving by stride_b and stride_c elements. */
static pare_status gemm_i8(pare_cl_runtime *rt, const pare_gemm_i8_args *g, int chan_rows,
                           int chan0, size_t batch, size_t stride_b, size_t stride_c,
                           cl_event *event, pare_error *err) {
  const size_t chans = chan_rows ? g->m : g->n;
  i8_tune t;
  pare_status st = tune_of(rt, &t, err);
  if (st != PARE_OK) return st;
  cl_mem wsum = g->wsum, tmp = NULL;
  /* The VNNI path always takes off a zero-point term (its offset). */
  if ((g->a_zero != 0 || t.path == 4) && !wsum) {
    /* The weights are A (channels along rows) or B. */
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, chans * sizeof(cl_int), NULL, &tmp, err);
    if (st == PARE_OK)
      st = chan_rows
               ? pare_launch_i8_row_sums(rt, g->m, g->k, g->a, g->off_a, g->lda, tmp, NULL, err)
               : pare_launch_i8_row_sums(rt, g->n, g->k, g->b, g->off_b, g->ldb, tmp, NULL, err);
    if (st != PARE_OK) {
      if (tmp) rt->cl->clReleaseMemObject(tmp);
      return st;
    }
    wsum = tmp;
  }
  const int tm = fit_tile(t.tm, g->m), tn = fit_tile(t.tn, g->n);
  char defines[160];
  snprintf(defines, sizeof defines,
           "-DI8_PATH=%d -DI8_DOT=%d -DI8_TM=%d -DI8_TN=%d -DI8_KW=%d -DI8_NREP=%d "
           "-DI8_OUT_F32=%d -DI8_CHAN_ROWS=%d",
           t.path, t.dot, tm, tn, t.kw, t.nrep, g->out_f32 ? 1 : 0, chan_rows ? 1 : 0);
  cl_kernel k;
  st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, defines, "gemm_i8", &k, err);
  if (st == PARE_OK) {
    cl_int M = (cl_int)g->m, N = (cl_int)g->n, K = (cl_int)g->k;
    cl_int offA = (cl_int)g->off_a, offB = (cl_int)g->off_b, offC = (cl_int)g->off_c;
    cl_int lda = (cl_int)g->lda, ldb = (cl_int)g->ldb, ldc = (cl_int)g->ldc;
    cl_int has_bias = g->bias != NULL, zp = g->a_zero, zo = g->c_zero, qmin = g->qmin,
           qmax = g->qmax;
    /* Buffers a variant never reads still need a valid cl_mem. */
    cl_mem bias = g->bias ? g->bias : g->b, ws = wsum ? wsum : g->b;
    cl_mem mult = g->out_f32 ? g->b : g->multiplier, shift = g->out_f32 ? g->b : g->shift;
    cl_mem scale = g->out_f32 ? g->scale : g->b;
    cl_float lo = g->act ? g->act_min : -INFINITY, hi = g->act ? g->act_max : INFINITY;
    cl_int nb = (cl_int)batch, sb = (cl_int)stride_b, sc = (cl_int)stride_c;
    const pare_cl_arg args[] = {{sizeof M, &M},
                                {sizeof N, &N},
                                {sizeof K, &K},
                                {sizeof g->a, &g->a},
                                {sizeof offA, &offA},
                                {sizeof lda, &lda},
                                {sizeof g->b, &g->b},
                                {sizeof offB, &offB},
                                {sizeof ldb, &ldb},
                                {sizeof bias, &bias},
                                {sizeof has_bias, &has_bias},
                                {sizeof ws, &ws},
                                {sizeof zp, &zp},
                                {sizeof chan0, &chan0},
                                {sizeof mult, &mult},
                                {sizeof shift, &shift},
                                {sizeof scale, &scale},
                                {sizeof g->c, &g->c},
                                {sizeof offC, &offC},
                                {sizeof ldc, &ldc},
                                {sizeof zo, &zo},
                                {sizeof qmin, &qmin},
                                {sizeof qmax, &qmax},
                                {sizeof lo, &lo},
                                {sizeof hi, &hi},
                                {sizeof nb, &nb},
                                {sizeof sb, &sb},
                                {sizeof sc, &sc}};
    st = set_args(rt, k, "gemm_i8", args, sizeof args / sizeof args[0], err);
    if (st == PARE_OK) {
      /* Images share a work-group (up to gemm_i8.wg2): on a CPU each group
       * is a call, and one call per small product costs more than it. */
      size_t wg2 = batch < (size_t)t.wg2 ? batch : (size_t)t.wg2;
      size_t local[3] = {t.wg0, t.wg1, wg2};
      const size_t tiles_n = (g->n + (size_t)tn - 1) / (size_t)tn;
      size_t global[3] = {round_up((g->m + (size_t)tm - 1) / (size_t)tm, t.wg0),
                          round_up((tiles_n + (size_t)t.nrep - 1) / (size_t)t.nrep, t.wg1),
                          round_up(batch, wg2)};
      st = pare_cl_launch(rt, k, "gemm_i8", 3, global, local, event, err);
    }
    rt->cl->clReleaseKernel(k);
  }
  if (tmp) rt->cl->clReleaseMemObject(tmp);
  return st;
}

static pare_status check_requant(const char *what, int out_f32, cl_mem mult, cl_mem shift,
                                 cl_mem scale, int32_t zo, int32_t qmin, int32_t qmax,
                                 pare_error *err) {
  if (out_f32) {
    if (!scale) return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL scale", what);
    return PARE_OK;
  }
  if (!mult || !shift)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL multiplier or shift", what);
  if (zo < -128 || zo > 127 || qmin < -128 || qmax > 127 || qmin > qmax)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s: bad output zero point %d or clamp [%d, %d]", what, (int)zo,
                          (int)qmin, (int)qmax);
  return PARE_OK;
}

pare_status pare_launch_gemm_i8(pare_cl_runtime *rt, const pare_gemm_i8_args *g, cl_event *event,
                                pare_error *err) {
  if (!g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "gemm_i8: NULL arguments");
  if (g->m == 0 || g->n == 0) return PARE_OK;
  char what[96];
  snprintf(what, sizeof what, "gemm_i8 %zux%zux%zu", g->m, g->n, g->k);
  if (!g->a || !g->b || !g->c)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL buffer", what);
  if (g->k == 0 || g->k > PARE_QUANT_MAX_K || g->lda < g->k || g->ldb < g->k || g->ldc < g->n)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s: k outside [1, %d] or leading dimensions too small (%zu, %zu, %zu)",
                          what, PARE_QUANT_MAX_K, g->lda, g->ldb, g->ldc);
  if (g->a_zero < -128 || g->a_zero > 127)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bad zero point %d", what, (int)g->a_zero);
  pare_status st = check_requant(what, g->out_f32, g->multiplier, g->shift, g->scale, g->c_zero,
                                 g->qmin, g->qmax, err);
  if (st != PARE_OK) return st;
  if (!view_fits(g->off_a, g->m, g->lda, g->k) || !view_fits(g->off_b, g->n, g->ldb, g->k) ||
      !view_fits(g->off_c, g->m, g->ldc, g->n))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: sizes beyond 2^31 elements", what);
  if (g->out_f32 && g->act && !(g->act_min <= g->act_max))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bad clamp [%g, %g]", what,
                          (double)g->act_min, (double)g->act_max);
  return gemm_i8(rt, g, 0, 0, 1, 0, 0, event, err);
}

pare_status pare_launch_conv2d_i8(pare_cl_runtime *rt, const pare_conv2d_i8_args *a,
                                  cl_event *event, pare_error *err) {
  if (!a) return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_i8: NULL arguments");
  const pare_conv_i8_shape *s = &a->shape;
  size_t oh, ow;
  if (pare_conv_i8_out_dims(s, &oh, &ow) != PARE_REF_QUANT_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "conv2d_i8: bad shape");
  char what[160];
  snprintf(what, sizeof what, "conv2d_i8 x %zux%zux%zux%zu w %zux%zux%zux%zu g %zu", s->n, s->c,
           s->h, s->w, s->oc, s->c / s->groups, s->kh, s->kw, s->groups);
  if (s->n == 0) return PARE_OK;
  if (!a->x || !a->w || !a->y)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL buffer", what);
  if (a->x_zero < -128 || a->x_zero > 127)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bad zero point %d", what, (int)a->x_zero);
  pare_status st = check_requant(what, a->out_f32, a->multiplier, a->shift, a->scale, a->y_zero,
                                 a->qmin, a->qmax, err);
  if (st != PARE_OK) return st;
  if (a->out_f32 && a->act && !(a->act_min <= a->act_max))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bad clamp [%g, %g]", what,
                          (double)a->act_min, (double)a->act_max);
  const char *out_define = a->out_f32 ? "-DI8_OUT_F32=1" : "";
  cl_float lo = a->out_f32 && a->act ? a->act_min : -INFINITY,
           hi = a->out_f32 && a->act ? a->act_max : INFINITY;
  const size_t cg = s->c / s->groups, mg = s->oc / s->groups, taps = s->kh * s->kw;
  const size_t kc0 = cg * taps, p = oh * ow, kc = a->ldw ? a->ldw : kc0;
  if (kc < kc0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: weight row stride %zu below %zu", what,
                          kc, kc0);
  if (kc > PARE_QUANT_MAX_K)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: reduction %zu beyond %d", what, kc,
                          PARE_QUANT_MAX_K);
  if (s->n * s->c > (size_t)INT_MAX / (s->h * s->w) || s->n * s->oc > (size_t)INT_MAX / p ||
      p > (size_t)INT_MAX / kc || s->oc > (size_t)INT_MAX / kc)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: sizes beyond 2^31 elements", what);
  i8_tune t;
  st = tune_of(rt, &t, err);
  if (st != PARE_OK) return st;
  const int cpu = pare_cl_is_cpu(rt);
  const int direct_max_mg = pare_profile_int(rt->profile, "gemm_i8.direct_max_mg", 2);
  cl_int H = (cl_int)s->h, W = (cl_int)s->w, OW = (cl_int)ow, OH = (cl_int)oh;
  cl_int KH = (cl_int)s->kh, KW = (cl_int)s->kw, SH = (cl_int)s->stride_h, SW = (cl_int)s->stride_w,
         DH = (cl_int)s->dil_h, DW = (cl_int)s->dil_w, PT = (cl_int)s->pad_top,
         PL = (cl_int)s->pad_left;
  if (mg <= (size_t)direct_max_mg) {
    cl_kernel k;
    st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, out_define, "conv_i8_direct", &k, err);
    if (st != PARE_OK) return st;
    cl_int N = (cl_int)s->n, C = (cl_int)s->c, OC = (cl_int)s->oc, G = (cl_int)s->groups;
    cl_int xz = a->x_zero, has_bias = a->bias != NULL, zo = a->y_zero, qmin = a->qmin,
           qmax = a->qmax, LDW = (cl_int)kc;
    /* Buffers a variant never reads still need a valid cl_mem. */
    cl_mem bias = a->bias ? a->bias : a->w;
    cl_mem mult = a->out_f32 ? a->w : a->multiplier, shift = a->out_f32 ? a->w : a->shift;
    cl_mem scale = a->out_f32 ? a->scale : a->w;
    const pare_cl_arg args[] = {{sizeof N, &N},         {sizeof C, &C},
                                {sizeof H, &H},         {sizeof W, &W},
                                {sizeof OC, &OC},       {sizeof OH, &OH},
                                {sizeof OW, &OW},       {sizeof G, &G},
                                {sizeof KH, &KH},       {sizeof KW, &KW},
                                {sizeof SH, &SH},       {sizeof SW, &SW},
                                {sizeof DH, &DH},       {sizeof DW, &DW},
                                {sizeof PT, &PT},       {sizeof PL, &PL},
                                {sizeof a->x, &a->x},   {sizeof xz, &xz},
                                {sizeof a->w, &a->w},   {sizeof LDW, &LDW},
                                {sizeof bias, &bias},   {sizeof has_bias, &has_bias},
                                {sizeof mult, &mult},   {sizeof shift, &shift},
                                {sizeof a->y, &a->y},   {sizeof zo, &zo},
                                {sizeof qmin, &qmin},   {sizeof qmax, &qmax},
                                {sizeof scale, &scale}, {sizeof lo, &lo},
                                {sizeof hi, &hi}};
    st = set_args(rt, k, "conv_i8_direct", args, sizeof args / sizeof args[0], err);
    if (st == PARE_OK) {
      size_t local[2] = {1, cpu ? 1 : 64};
      size_t global[2] = {oh, round_up(s->n * s->oc, local[1])};
      st = pare_cl_launch(rt, k, "conv_i8_direct", 2, global, local, event, err);
    }
    rt->cl->clReleaseKernel(k);
    return st;
  }
  /* im2col + GEMM per group and run of images: W_g (mg × kc) · col_b
   * (p × kc)ᵀ for each image b of the run, one batched launch each. With
   * zero-padded weight rows the patch rows are as long (their tails left
   * unwritten: they meet zero weights) and the product runs over whole
   * vectors. */
  const int col_mib = pare_profile_int(rt->profile, "gemm_i8.col_mib", 64);
  size_t run = ((size_t)(col_mib > 0 ? col_mib : 1) << 20) / (p * kc);
  if (run < 1) run = 1;
  if (run > s->n) run = s->n;
  cl_mem col = NULL, wsum = a->wsum, tmp = NULL;
  cl_kernel kc_k = NULL;
  st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, run * p * kc, NULL, &col, err);
  if (st == PARE_OK && (a->x_zero != 0 || t.path == 4) && !wsum) {
    st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, s->oc * sizeof(cl_int), NULL, &tmp, err);
    if (st == PARE_OK) st = pare_launch_i8_row_sums(rt, s->oc, kc, a->w, 0, kc, tmp, NULL, err);
    wsum = tmp;
  }
  if (st == PARE_OK) st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, "", "im2col_i8", &kc_k, err);
  cl_int P = (cl_int)p, CG = (cl_int)cg, LD = (cl_int)kc;
  cl_int strideX = (cl_int)(s->c * s->h * s->w), strideCol = (cl_int)(p * kc);
  cl_char xz = (cl_char)a->x_zero;
  for (size_t b = 0; b < s->n && st == PARE_OK; b += run)
    for (size_t gi = 0; gi < s->groups && st == PARE_OK; gi++) {
      const size_t images = s->n - b < run ? s->n - b : run;
      cl_int offX = (cl_int)((b * s->c + gi * cg) * s->h * s->w);
      const pare_cl_arg args[] = {{sizeof H, &H},
                                  {sizeof W, &W},
                                  {sizeof OW, &OW},
                                  {sizeof P, &P},
                                  {sizeof CG, &CG},
                                  {sizeof KH, &KH},
                                  {sizeof KW, &KW},
                                  {sizeof SH, &SH},
                                  {sizeof SW, &SW},
                                  {sizeof DH, &DH},
                                  {sizeof DW, &DW},
                                  {sizeof PT, &PT},
                                  {sizeof PL, &PL},
                                  {sizeof a->x, &a->x},
                                  {sizeof offX, &offX},
                                  {sizeof xz, &xz},
                                  {sizeof col, &col},
                                  {sizeof LD, &LD},
                                  {sizeof strideX, &strideX},
                                  {sizeof strideCol, &strideCol}};
      st = set_args(rt, kc_k, "im2col_i8", args, sizeof args / sizeof args[0], err);
      if (st == PARE_OK) {
        size_t local[3] = {64, 1, 1};
        size_t global[3] = {round_up(p, local[0]), cg, images};
        st = pare_cl_launch(rt, kc_k, "im2col_i8", 3, global, local, NULL, err);
      }
      if (st != PARE_OK) break;
      pare_gemm_i8_args g = {0};
      g.m = mg, g.n = p, g.k = kc;
      g.a = a->w, g.off_a = gi * mg * kc, g.lda = kc;
      g.a_zero = a->x_zero; /* the zero point of the activations, here B */
      g.b = col, g.off_b = 0, g.ldb = kc;
      g.bias = a->bias;
      g.wsum = wsum;
      g.multiplier = a->multiplier, g.shift = a->shift;
      g.c_zero = a->y_zero, g.qmin = a->qmin, g.qmax = a->qmax;
      g.out_f32 = a->out_f32, g.scale = a->scale;
      g.act = a->act, g.act_min = a->act_min, g.act_max = a->act_max;
      g.c = a->y, g.off_c = (b * s->oc + gi * mg) * p, g.ldc = p;
      const int last = b + images >= s->n && gi + 1 == s->groups;
      st = gemm_i8(rt, &g, 1, (int)(gi * mg), images, p * kc, s->oc * p, last ? event : NULL, err);
    }
  if (kc_k) rt->cl->clReleaseKernel(kc_k);
  if (col) rt->cl->clReleaseMemObject(col);
  if (tmp) rt->cl->clReleaseMemObject(tmp);
  return st;
}

pare_status pare_launch_gemm_wq_f32(pare_cl_runtime *rt, const pare_gemm_wq_args *g,
                                    cl_event *event, pare_error *err) {
  if (!g) return pare_error_set(err, PARE_ERR_INVALID_ARG, "gemm_wq_f32: NULL arguments");
  if (g->m == 0 || g->n == 0) return PARE_OK;
  char what[96];
  snprintf(what, sizeof what, "gemm_w%d_f32 %zux%zux%zu", g->bits, g->m, g->n, g->k);
  if (g->bits != 8 && g->bits != 4)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bits must be 8 or 4", what);
  if (!g->a || !g->w || !g->scale || !g->c)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: NULL buffer", what);
  const size_t wbytes = g->bits == 8 ? g->k : (g->k + 1) / 2;
  if (g->k == 0 || g->lda < g->k || g->ldw < wbytes || g->ldc < g->n)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s: k == 0 or leading dimensions too small (%zu, %zu, %zu)", what,
                          g->lda, g->ldw, g->ldc);
  if (!view_fits(g->off_a, g->m, g->lda, g->k) || !view_fits(g->off_w, g->n, g->ldw, wbytes) ||
      !view_fits(g->off_c, g->m, g->ldc, g->n))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: sizes beyond 2^31 elements", what);
  i8_tune t;
  pare_status st = tune_of(rt, &t, err);
  if (st != PARE_OK) return st;
  const int tm = fit_tile(t.wq_tm, g->m), tn = fit_tile(t.wq_tn, g->n);
  char defines[96];
  snprintf(defines, sizeof defines, "-DWQ_BITS=%d -DI8_TM=%d -DI8_TN=%d", g->bits, tm, tn);
  cl_kernel k;
  st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, defines, "gemm_wq_f32", &k, err);
  if (st != PARE_OK) return st;
  cl_int M = (cl_int)g->m, N = (cl_int)g->n, K = (cl_int)g->k;
  cl_int offA = (cl_int)g->off_a, offW = (cl_int)g->off_w, offC = (cl_int)g->off_c;
  cl_int lda = (cl_int)g->lda, ldw = (cl_int)g->ldw, ldc = (cl_int)g->ldc;
  cl_int has_bias = g->bias != NULL;
  cl_mem bias = g->bias ? g->bias : g->scale;
  const pare_cl_arg args[] = {{sizeof M, &M},       {sizeof N, &N},
                              {sizeof K, &K},       {sizeof g->a, &g->a},
                              {sizeof offA, &offA}, {sizeof lda, &lda},
                              {sizeof g->w, &g->w}, {sizeof offW, &offW},
                              {sizeof ldw, &ldw},   {sizeof g->scale, &g->scale},
                              {sizeof bias, &bias}, {sizeof has_bias, &has_bias},
                              {sizeof g->c, &g->c}, {sizeof offC, &offC},
                              {sizeof ldc, &ldc}};
  st = set_args(rt, k, "gemm_wq_f32", args, sizeof args / sizeof args[0], err);
  if (st == PARE_OK) {
    size_t local[2] = {t.wg0, t.wg1};
    size_t global[2] = {round_up((g->m + (size_t)tm - 1) / (size_t)tm, t.wg0),
                        round_up((g->n + (size_t)tn - 1) / (size_t)tn, t.wg1)};
    st = pare_cl_launch(rt, k, "gemm_wq_f32", 2, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

/* quantize_i8 / dequantize_i8: chunks of consecutive elements per item. */
static pare_status convert_launch(pare_cl_runtime *rt, const char *name, size_t count, cl_mem in,
                                  size_t off_in, float factor, int32_t zero_point, cl_mem out,
                                  size_t off_out, cl_event *event, pare_error *err) {
  if (count == 0) return PARE_OK;
  if (!in || !out)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s (%zu values): NULL buffer", name, count);
  if (zero_point < -128 || zero_point > 127)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s: bad zero point %d", name,
                          (int)zero_point);
  if (count > INT_MAX || off_in > INT_MAX - count || off_out > INT_MAX - count)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: sizes beyond 2^31 elements", name);
  pare_cl_chunks ch;
  pare_status st = pare_cl_chunks_of(rt, "gemm_i8", 16384, &ch, err);
  if (st != PARE_OK) return st;
  size_t chunk = pare_cl_chunk_for(rt, &ch, count);
  cl_kernel k;
  st = pare_cl_kernel(rt, PARE_KERNEL_gemm_i8, "", name, &k, err);
  if (st != PARE_OK) return st;
  cl_int n = (cl_int)count, c = (cl_int)chunk, oi = (cl_int)off_in, oo = (cl_int)off_out,
         zp = zero_point;
  const pare_cl_arg args[] = {{sizeof n, &n},     {sizeof c, &c},           {sizeof in, &in},
                              {sizeof oi, &oi},   {sizeof factor, &factor}, {sizeof zp, &zp},
                              {sizeof out, &out}, {sizeof oo, &oo}};
  st = set_args(rt, k, name, args, sizeof args / sizeof args[0], err);
  if (st == PARE_OK) {
    size_t local = ch.wg, global = round_up((count + chunk - 1) / chunk, local);
    st = pare_cl_launch(rt, k, name, 1, &global, &local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

static int scale_ok(float scale) { return scale > 0.0f && scale <= 3.4e38f; }

pare_status pare_launch_quantize_i8(pare_cl_runtime *rt, size_t count, cl_mem x, size_t off_x,
                                    float scale, int32_t zero_point, cl_mem q, size_t off_q,
                                    cl_event *event, pare_error *err) {
  if (count && !scale_ok(scale))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "quantize_i8: bad scale %g", (double)scale);
  return convert_launch(rt, "quantize_i8", count, x, off_x, pare_quant_inv_scale(scale), zero_point,
                        q, off_q, event, err);
}

pare_status pare_launch_dequantize_i8(pare_cl_runtime *rt, size_t count, cl_mem q, size_t off_q,
                                      float scale, int32_t zero_point, cl_mem x, size_t off_x,
                                      cl_event *event, pare_error *err) {
  if (count && !(scale >= 0.0f && scale <= 3.4e38f))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "dequantize_i8: bad scale %g", (double)scale);
  return convert_launch(rt, "dequantize_i8", count, q, off_q, scale, zero_point, x, off_x, event,
                        err);
}
