/* The auto-tuner (autotune.h): coordinate descent over a kernel's
 * parameters for one recorded shape, timed on scratch buffers. */
#include "host/autotune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/launch/conv2d_f32.h"
#include "host/launch/conv2d_geom.h"
#include "host/tuning.h"

enum { MAX_PARAMS = 5, MAX_CAND = 6 };

/* The parameters searched for a kernel: names, the values in force and
 * the candidates of each. */
typedef struct space {
  const char *stem;
  int n;
  const char *name[MAX_PARAMS];
  int value[MAX_PARAMS];
  int cand[MAX_PARAMS][MAX_CAND];
  int n_cand[MAX_PARAMS];
} space;

static void space_add(space *sp, const char *name, int value, const int *cand, int n_cand) {
  if (sp->n >= MAX_PARAMS || n_cand > MAX_CAND) return; /* (the spaces below fit) */
  sp->name[sp->n] = name;
  sp->value[sp->n] = value;
  memcpy(sp->cand[sp->n], cand, sizeof(int) * (size_t)n_cand);
  sp->n_cand[sp->n] = n_cand;
  sp->n++;
}

/* One shape's buffers and launch. */
typedef struct tune_case {
  pare_cl_runtime *rt;
  int is_conv;
  pare_gemm_f32_args g;
  pare_conv2d_f32_args c;
  pare_conv2d_pool pool; /* kind 0: the convolution's launches do not pool */
  cl_mem out;
  size_t out_elems;
  size_t scratch_size;
  float *ref, *got; /* the untuned output, a candidate's */
} tune_case;

static void key_of(const space *sp, int i, const char *shape, char *buf, size_t size) {
  snprintf(buf, size, "tune.%s.%s@%s", sp->stem, sp->name[i], shape);
}

/* Puts the space's values in memory (set) or takes every one out. */
static void apply(pare_cl_runtime *rt, const space *sp, const char *shape, int set) {
  for (int i = 0; i < sp->n; i++) {
    char key[256];
    key_of(sp, i, shape, key, sizeof key);
    if (set)
      pare_tuning_set(rt, key, sp->value[i]);
    else
      pare_tuning_forget(rt, key);
  }
}

static pare_status launch_once(tune_case *tc, pare_error *err) {
  if (!tc->is_conv) return pare_launch_gemm_f32(tc->rt, &tc->g, NULL, err);
  const pare_conv2d_pool *pool = tc->pool.kind ? &tc->pool : NULL;
  size_t need = pare_conv2d_f32_pool_scratch_bytes(tc->rt, &tc->c, pool);
  if (need > tc->scratch_size) {
    if (tc->c.scratch) tc->rt->cl->clReleaseMemObject(tc->c.scratch);
    tc->c.scratch = NULL;
    tc->scratch_size = 0;
    pare_status st = pare_cl_buffer(tc->rt, CL_MEM_READ_WRITE, need, NULL, &tc->c.scratch, err);
    if (st != PARE_OK) return st;
    tc->scratch_size = need;
  }
  return pool ? pare_launch_conv2d_pool_f32(tc->rt, &tc->c, pool, NULL, err)
              : pare_launch_conv2d_f32(tc->rt, &tc->c, NULL, err);
}

/* Median milliseconds of one launch over `reps`, after an untimed one
 * (which builds the program), and the output read into `into`. */
static pare_status time_launch(tune_case *tc, int reps, float *into, double *ms, pare_error *err) {
  pare_status st = launch_once(tc, err);
  if (st == PARE_OK) st = pare_cl_finish(tc->rt, err);
  double t[64];
  if (reps > 64) reps = 64;
  for (int r = 0; r < reps && st == PARE_OK; r++) {
    double t0 = pare_now();
    st = launch_once(tc, err);
    if (st == PARE_OK) st = pare_cl_finish(tc->rt, err);
    t[r] = (pare_now() - t0) * 1e3;
  }
  if (st != PARE_OK) return st;
  *ms = pare_median(t, reps);
  return pare_cl_read(tc->rt, tc->out, 0, tc->out_elems * sizeof(float), into, err);
}

/* 1 when a candidate's output matches the untuned one (sums taken in
 * another order: relative 1e-4 of the output's scale). */
static int agrees(const tune_case *tc) {
  /* In float: aarch64 GCC 12 crashes (an internal compiler error) when it
   * vectorizes this reduction as fmax over doubles. */
  float scale = 0;
  for (size_t i = 0; i < tc->out_elems; i++) scale = fmaxf(scale, fabsf(tc->ref[i]));
  double tol = 1e-4 * (scale + 1.0);
  for (size_t i = 0; i < tc->out_elems; i++)
    if (!(fabs((double)tc->got[i] - tc->ref[i]) <= tol)) return 0;
  return 1;
}

/* A device buffer of n floats, uniform in [-1, 1) from a fixed seed. */
static pare_status random_buffer(pare_cl_runtime *rt, size_t n, uint64_t seed, cl_mem *out,
                                 pare_error *err) {
  float *h = malloc((n ? n : 1) * sizeof *h);
  if (!h) return pare_error_set(err, PARE_ERR_NO_MEMORY, "autotune: no memory for %zu floats", n);
  uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; i++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    h[i] = (float)((double)(x >> 11) / 9007199254740992.0 * 2.0 - 1.0);
  }
  pare_status st = pare_cl_buffer(rt, CL_MEM_READ_WRITE, (n ? n : 1) * sizeof *h, h, out, err);
  free(h);
  return st;
}

static int parse_gemm(const char *shape, pare_gemm_f32_args *g) {
  memset(g, 0, sizeof *g);
  int ta, tb, end = 0;
  if (sscanf(shape, "m=%zu,n=%zu,k=%zu,t=%1d%1d%n", &g->m, &g->n, &g->k, &ta, &tb, &end) != 5 ||
      shape[end] != '\0' || !g->m || !g->n || !g->k || (ta | tb) > 1)
    return 0;
  g->trans_a = ta;
  g->trans_b = tb;
  g->lda = ta ? g->m : g->k;
  g->ldb = tb ? g->k : g->n;
  g->ldc = g->n;
  g->alpha = 1.0f;
  return 1;
}

/* Buffers of the shape and the untuned values of the parameters. */
static pare_status setup(pare_cl_runtime *rt, const char *stem, const char *shape, tune_case *tc,
                         space *sp, pare_error *err) {
  memset(sp, 0, sizeof *sp);
  sp->stem = stem;
  tc->rt = rt;
  pare_status st = PARE_OK;
  /* Shapes are capped at 2^28 elements per buffer: the tuner is for layers. */
  const double cap = (double)(1u << 28);
  if (!strcmp(stem, "gemm_f32")) {
    if (!parse_gemm(shape, &tc->g) || (double)tc->g.m * tc->g.k > cap ||
        (double)tc->g.k * tc->g.n > cap || (double)tc->g.m * tc->g.n > cap)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "autotune: not a gemm_f32 shape: %s", shape);
    pare_gemm_f32_args *g = &tc->g;
    tc->out_elems = g->m * g->n;
    st = random_buffer(rt, g->m * g->k, 1, &g->a, err);
    if (st == PARE_OK) st = random_buffer(rt, g->k * g->n, 2, &g->b, err);
    if (st == PARE_OK) st = random_buffer(rt, tc->out_elems, 3, &g->c, err);
    tc->out = g->c;
    /* Candidates per parameter, in the order of pare_gemm_f32_param_names. */
    static const int cand[PARE_GEMM_F32_PARAMS][MAX_CAND] = {
        {2, 4, 6, 8}, {4, 8, 16}, {1, 2, 4}, {1, 2, 4, 8, 16}, {1, 2, 4, 8, 16}};
    static const int n_cand[PARE_GEMM_F32_PARAMS] = {4, 3, 3, 5, 5};
    int untuned[PARE_GEMM_F32_PARAMS];
    pare_gemm_f32_params(rt, NULL, untuned);
    for (int i = 0; i < PARE_GEMM_F32_PARAMS; i++)
      space_add(sp, pare_gemm_f32_param_names[i], untuned[i], cand[i], n_cand[i]);
  } else if (!strcmp(stem, "conv2d_f32")) {
    pare_conv2d_f32_args *c = &tc->c;
    pare_error perr;
    if (!pare_conv2d_pool_shape_parse(shape, c, &tc->pool) ||
        pare_conv2d_check(c, stem, shape, &perr) != PARE_OK ||
        (double)c->n * c->c * c->h * c->w > cap || (double)c->n * c->m * c->oh * c->ow > cap)
      return pare_error_set(err, PARE_ERR_INVALID_ARG, "autotune: not a conv2d_f32 shape: %s",
                            shape);
    tc->is_conv = 1;
    const pare_conv2d_pool *pool = tc->pool.kind ? &tc->pool : NULL;
    tc->out_elems = c->n * c->m * c->oh * c->ow; /* (room for the pooled output too) */
    st = random_buffer(rt, c->n * c->c * c->h * c->w, 1, &c->x, err);
    if (st == PARE_OK)
      st = random_buffer(rt, c->m * (c->c / c->group) * c->kh * c->kw, 2, &c->weight, err);
    if (st == PARE_OK) st = random_buffer(rt, c->m, 3, &c->bias, err);
    if (st == PARE_OK) st = random_buffer(rt, tc->out_elems, 4, &c->y, err);
    c->act = PARE_CONV2D_ACT_RELU;
    tc->out = c->y;
    if (pool)
      tc->out_elems =
          c->n * c->m * ((c->oh - pool->kh) / pool->sh + 1) * ((c->ow - pool->kw) / pool->sw + 1);
    pare_conv2d_plan pl;
    pare_conv2d_plan_make_pooled(rt, stem, c, 1, pool, &pl);
    /* The 1x1 GEMM for 1x1 windows, the implicit GEMM for stride 1,
     * Winograd for the 3x3 windows it takes; a pooled launch cannot run
     * direct. */
    int paths[5] = {PARE_CONV2D_IM2COL}, n_paths = 1;
    if (!pool) paths[n_paths++] = PARE_CONV2D_DIRECT;
    if (pare_conv2d_is_1x1(c)) paths[n_paths++] = PARE_CONV2D_GEMM_1X1;
    if (c->stride_h == 1 && c->stride_w == 1) paths[n_paths++] = PARE_CONV2D_IMPLICIT;
    if (pare_conv2d_winograd_fits(c)) paths[n_paths++] = PARE_CONV2D_WINOGRAD;
    space_add(sp, "path", pl.path, paths, n_paths);
  } else {
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "autotune: no search for kernel %s", stem);
  }
  if (st != PARE_OK) return st;
  tc->ref = malloc(tc->out_elems * sizeof(float));
  tc->got = malloc(tc->out_elems * sizeof(float));
  if (!tc->ref || !tc->got)
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "autotune: no memory for %zu outputs",
                          tc->out_elems);
  return PARE_OK;
}

/* The parameters of the conv path chosen in the first round. */
static void conv_second_round(pare_cl_runtime *rt, const tune_case *tc, space *sp) {
  int path = sp->value[0];
  pare_conv2d_plan pl;
  pare_conv2d_plan_make_pooled(rt, "conv2d_f32", &tc->c, 1, tc->pool.kind ? &tc->pool : NULL, &pl);
  if (path == PARE_CONV2D_DIRECT) {
    static const int vw[] = {4, 8, 16}, rows[] = {0, 1, 2, 4}, wg[] = {1, 2, 4, 8, 16};
    space_add(sp, "vw", pl.vw, vw, 3);
    space_add(sp, "rows", pl.rows, rows, 4);
    space_add(sp, "wg", pl.wg, wg, 5);
  } else if (path == PARE_CONV2D_IMPLICIT) {
    /* wg 0: the driver's group size (the profiles' choice for GPUs). */
    static const int vw[] = {4, 8, 16}, tm[] = {2, 4, 6, 8, 12, 16}, tr[] = {1, 2, 4},
                     wg[] = {0, 1, 4, 16, 64};
    space_add(sp, "vw", pl.vw, vw, 3);
    space_add(sp, "tm", pl.tm, tm, 6);
    space_add(sp, "tr", pl.tr, tr, 3);
    space_add(sp, "wg", pl.wg, wg, 5);
  } else if (path == PARE_CONV2D_WINOGRAD) {
    /* The transforms' tiles per work-item. */
    static const int vw[] = {1, 4, 8, 16};
    space_add(sp, "vw", pl.vw, vw, 4);
  } else if (path == PARE_CONV2D_IM2COL && tc->c.n > 1) {
    static const int mb[] = {4, 16, 64, 256};
    space_add(sp, "scratch_mb", pare_tuned_int(rt, "conv2d_f32", "scratch_mb", NULL, 64, NULL), mb,
              4);
  }
}

static void release_case(tune_case *tc) {
  const pare_cl_api *cl = tc->rt ? tc->rt->cl : NULL;
  cl_mem mems[] = {tc->g.a,      tc->g.b,    tc->g.c, tc->c.x,
                   tc->c.weight, tc->c.bias, tc->c.y, tc->c.scratch};
  for (size_t i = 0; cl && i < sizeof mems / sizeof mems[0]; i++)
    if (mems[i]) cl->clReleaseMemObject(mems[i]);
  free(tc->ref);
  free(tc->got);
}

int pare_autotune_knows(const char *recorded) {
  return !strncmp(recorded, "gemm_f32@", 9) || !strncmp(recorded, "conv2d_f32@", 11);
}

/* The speed-up of parameter i at `cand` over `base`, the others as they
 * are: the two launch alternately (`reps` pairs after one of each, which
 * builds the program; the order swaps every pair), and the speed-up is the
 * median of the pairs' ratios, so that load that comes and goes on the
 * machine between measurements does not choose the winner. */
static pare_status pair_speedup(tune_case *tc, space *sp, const char *shape, int i, int base,
                                int cand, int reps, double *speedup, pare_error *err) {
  enum { MAX_PAIRS = 64 };
  double ratio[MAX_PAIRS], t[2] = {0, 0};
  if (reps > MAX_PAIRS) reps = MAX_PAIRS;
  pare_status st = PARE_OK;
  for (int r = -1; r < reps && st == PARE_OK; r++) {
    for (int k = 0; k < 2 && st == PARE_OK; k++) {
      int v = (r & 1) ? 1 - k : k; /* 0: base, 1: cand */
      sp->value[i] = v ? cand : base;
      apply(tc->rt, sp, shape, 1);
      double t0 = pare_now();
      st = launch_once(tc, err);
      if (st == PARE_OK) st = pare_cl_finish(tc->rt, err);
      t[v] = (pare_now() - t0) * 1e3;
    }
    if (r >= 0) ratio[r] = t[1] > 0 ? t[0] / t[1] : 0;
  }
  sp->value[i] = base;
  if (st == PARE_OK) *speedup = pare_median(ratio, reps);
  return st;
}

/* Tries every candidate of parameters [from, sp->n) in turn against the
 * best so far (pair_speedup), keeping one that agrees with the untuned
 * output and runs at least 3% faster; *improved set when any is kept. */
static void descend(tune_case *tc, space *sp, int from, const char *shape, double deadline,
                    int reps, int *improved, pare_autotune_result *res) {
  for (int i = from; i < sp->n; i++) {
    int keep = sp->value[i];
    for (int c = 0; c < sp->n_cand[i]; c++) {
      int cand = sp->cand[i][c];
      if (cand == keep) continue;
      if (deadline > 0 && pare_now() > deadline) break;
      sp->value[i] = cand;
      apply(tc->rt, sp, shape, 1);
      pare_error err = {0};
      res->tried++;
      pare_status st = launch_once(tc, &err);
      if (st == PARE_OK)
        st = pare_cl_read(tc->rt, tc->out, 0, tc->out_elems * sizeof(float), tc->got, &err);
      double speedup = 0;
      if (st != PARE_OK || !agrees(tc)) {
        res->rejected++;
        pare_log(PARE_LOG_DEBUG, "autotune %s %s=%d: rejected (%s)", shape, sp->name[i], cand,
                 err.text);
      } else if (pair_speedup(tc, sp, shape, i, keep, cand, reps, &speedup, &err) == PARE_OK &&
                 speedup * 0.97 > 1.0) {
        keep = cand;
        *improved = 1;
      }
      sp->value[i] = keep;
    }
    sp->value[i] = keep;
  }
  apply(tc->rt, sp, shape, 0);
}

/* The winner against the untuned parameters once more, alternating launch
 * by launch so that a drifting machine load hits both alike: the figures
 * reported, and the winner kept only if it still wins. */
static pare_status confirm(tune_case *tc, const space *sp, const char *shape, int reps,
                           pare_autotune_result *res) {
  enum { MAX_ROUNDS = 64 };
  double t[2][MAX_ROUNDS];
  int rounds = 2 * reps + 1 < MAX_ROUNDS ? 2 * reps + 1 : MAX_ROUNDS;
  pare_status st = PARE_OK;
  for (int r = -1; r < rounds && st == PARE_OK; r++) /* round -1 warms both up */
    for (int v = 0; v < 2 && st == PARE_OK; v++) {
      apply(tc->rt, sp, shape, v);
      pare_error err;
      double t0 = pare_now();
      st = launch_once(tc, &err);
      if (st == PARE_OK) st = pare_cl_finish(tc->rt, &err);
      if (r >= 0) t[v][r] = (pare_now() - t0) * 1e3;
    }
  apply(tc->rt, sp, shape, 0);
  if (st != PARE_OK) return st;
  res->untuned_ms = pare_median(t[0], rounds);
  res->tuned_ms = pare_median(t[1], rounds);
  return PARE_OK;
}

pare_status pare_autotune_shape(pare_cl_runtime *rt, const char *recorded, double deadline,
                                int reps, pare_autotune_result *res, pare_error *err) {
  memset(res, 0, sizeof *res);
  const char *at = strchr(recorded, '@');
  if (!at || (size_t)(at - recorded) >= sizeof res->kernel)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "autotune: \"%s\" is not <kernel>@<shape>",
                          recorded);
  memcpy(res->kernel, recorded, (size_t)(at - recorded));
  snprintf(res->shape, sizeof res->shape, "%s", at + 1);
  const char *shape = at + 1;
  if (reps < 1) reps = 5;
  tune_case tc;
  memset(&tc, 0, sizeof tc);
  space sp;
  /* Earlier tuned values of the shape out of the way: the untuned first. */
  static const char *const all[] = {"tm",   "vw", "nv",   "wg0", "wg1",
                                    "path", "tr", "rows", "wg",  "scratch_mb"};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    char key[256];
    snprintf(key, sizeof key, "tune.%s.%s@%s", res->kernel, all[i], shape);
    pare_tuning_forget(rt, key);
  }
  pare_status st = setup(rt, res->kernel, shape, &tc, &sp, err);
  if (st == PARE_OK) st = time_launch(&tc, reps, tc.ref, &res->untuned_ms, err);
  if (st != PARE_OK) {
    release_case(&tc);
    pare_tuning_save(rt);
    return st;
  }
  int improved = 0;
  descend(&tc, &sp, 0, shape, deadline, reps, &improved, res);
  if (tc.is_conv) {
    int from = sp.n;
    conv_second_round(rt, &tc, &sp);
    /* The round's parameters, with the chosen path in force. */
    if (sp.n > from) descend(&tc, &sp, from, shape, deadline, reps, &improved, res);
  }
  res->tuned_ms = res->untuned_ms;
  size_t len = 0;
  if (improved && confirm(&tc, &sp, shape, reps, res) == PARE_OK &&
      res->tuned_ms < res->untuned_ms * 0.97) {
    for (int i = 0; i < sp.n; i++) {
      char key[256];
      key_of(&sp, i, shape, key, sizeof key);
      pare_tuning_set(rt, key, sp.value[i]);
      if (len < sizeof res->params)
        len += (size_t)snprintf(res->params + len, sizeof res->params - len, "%s%s=%d",
                                i ? "," : "", sp.name[i], sp.value[i]);
    }
  } else {
    res->tuned_ms = res->untuned_ms;
    snprintf(res->params, sizeof res->params, "untuned");
  }
  pare_tuning_save(rt);
  release_case(&tc);
  return PARE_OK;
}
