/* Checks and descriptions shared by the convolution launchers. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/launch/conv2d_geom.h"
#include "host/tuning.h"

pare_status pare_conv2d_check(const pare_conv2d_f32_args *a, const char *kernel, const char *shape,
                              pare_error *err) {
  if (a->group == 0 || a->c % a->group || a->m % a->group)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s (%s): channels must be multiples of the group", kernel, shape);
  if (a->kh == 0 || a->kw == 0 || a->stride_h == 0 || a->stride_w == 0 || a->dil_h == 0 ||
      a->dil_w == 0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "%s (%s): kernel, strides and dilations must be >= 1", kernel, shape);
  if (a->c == 0 || a->h == 0 || a->w == 0)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s (%s): empty input", kernel, shape);
  /* Every size below 2^31 (as ints in the kernels), products included. */
  const size_t lim = INT_MAX;
  size_t dims[] = {a->n,       a->c,        a->h,          a->w,         a->m,     a->kh,
                   a->kw,      a->group,    a->stride_h,   a->stride_w,  a->dil_h, a->dil_w,
                   a->pad_top, a->pad_left, a->pad_bottom, a->pad_right, a->oh,    a->ow};
  for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
    if (dims[i] > (1u << 20) && i != 0)
      return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s (%s): a size beyond 2^20", kernel,
                            shape);
  double xe = (double)a->n * a->c * a->h * a->w, ye = (double)a->n * a->m * a->oh * a->ow;
  double we = (double)a->m * (a->c / a->group) * a->kh * a->kw;
  double ce = (double)a->c * a->kh * a->kw * a->oh * a->ow + (double)a->m * a->oh * a->ow;
  if (xe > lim || ye > lim || we > lim || ce > lim)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s (%s): tensors beyond 2^31 elements",
                          kernel, shape);
  size_t eff_h = (a->kh - 1) * a->dil_h + 1, eff_w = (a->kw - 1) * a->dil_w + 1;
  size_t ph = a->h + a->pad_top + a->pad_bottom, pw = a->w + a->pad_left + a->pad_right;
  if (ph < eff_h || pw < eff_w || a->oh != (ph - eff_h) / a->stride_h + 1 ||
      a->ow != (pw - eff_w) / a->stride_w + 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "%s (%s): output dims do not match the window",
                          kernel, shape);
  return PARE_OK;
}

void pare_conv2d_shape_text(const pare_conv2d_f32_args *a, const char *y_name, char *buf,
                            size_t size) {
  snprintf(buf, size,
           "x %zux%zux%zux%zu, w %zux%zux%zux%zu, group %zu, stride %zux%zu, dil %zux%zu, "
           "pads %zu,%zu,%zu,%zu, %s %zux%zux%zux%zu",
           a->n, a->c, a->h, a->w, a->m, a->group ? a->c / a->group : 0, a->kh, a->kw, a->group,
           a->stride_h, a->stride_w, a->dil_h, a->dil_w, a->pad_top, a->pad_left, a->pad_bottom,
           a->pad_right, y_name, a->n, a->m, a->oh, a->ow);
}

int pare_conv2d_is_1x1(const pare_conv2d_f32_args *a) {
  return a->kh == 1 && a->kw == 1 && a->stride_h == 1 && a->stride_w == 1 && a->pad_top == 0 &&
         a->pad_left == 0 && a->pad_bottom == 0 && a->pad_right == 0;
}

int pare_conv2d_winograd_fits(const pare_conv2d_f32_args *a) {
  return a->kh == 3 && a->kw == 3 && a->stride_h == 1 && a->stride_w == 1 && a->dil_h == 1 &&
         a->dil_w == 1 && a->group == 1;
}

void pare_conv2d_shape_key(const pare_conv2d_f32_args *a, char *buf, size_t size) {
  snprintf(buf, size,
           "n=%zu,c=%zu,h=%zu,w=%zu,m=%zu,k=%zux%zu,g=%zu,s=%zux%zu,d=%zux%zu,p=%zu,%zu,%zu,%zu",
           a->n, a->c, a->h, a->w, a->m, a->kh, a->kw, a->group, a->stride_h, a->stride_w, a->dil_h,
           a->dil_w, a->pad_top, a->pad_left, a->pad_bottom, a->pad_right);
}

void pare_conv2d_pool_shape_key(const pare_conv2d_f32_args *a, const pare_conv2d_pool *pool,
                                char *buf, size_t size) {
  pare_conv2d_shape_key(a, buf, size);
  size_t len = strlen(buf);
  if (pool && len < size)
    snprintf(buf + len, size - len, ",pool=%d:%zux%zu/%zux%zu", pool->kind, pool->kh, pool->kw,
             pool->sh, pool->sw);
}

int pare_conv2d_pool_shape_parse(const char *key, pare_conv2d_f32_args *a, pare_conv2d_pool *pool) {
  memset(pool, 0, sizeof *pool);
  const char *at = strstr(key, ",pool=");
  if (!at) return pare_conv2d_shape_parse(key, a);
  char head[160];
  if ((size_t)(at - key) >= sizeof head) return 0;
  memcpy(head, key, (size_t)(at - key));
  head[at - key] = '\0';
  int end = 0, kind = 0;
  if (!pare_conv2d_shape_parse(head, a) ||
      sscanf(at, ",pool=%d:%zux%zu/%zux%zu%n", &kind, &pool->kh, &pool->kw, &pool->sh, &pool->sw,
             &end) != 5 ||
      at[end] != '\0' || (kind != PARE_CONV2D_POOL_MAX && kind != PARE_CONV2D_POOL_AVG) ||
      !pool->kh || !pool->kw || !pool->sh || !pool->sw || pool->kh > a->oh || pool->kw > a->ow) {
    memset(pool, 0, sizeof *pool);
    return 0;
  }
  pool->kind = kind;
  return 1;
}

int pare_conv2d_shape_parse(const char *key, pare_conv2d_f32_args *a) {
  memset(a, 0, sizeof *a);
  int end = 0;
  if (sscanf(
          key,
          "n=%zu,c=%zu,h=%zu,w=%zu,m=%zu,k=%zux%zu,g=%zu,s=%zux%zu,d=%zux%zu,p=%zu,%zu,%zu,%zu%n",
          &a->n, &a->c, &a->h, &a->w, &a->m, &a->kh, &a->kw, &a->group, &a->stride_h, &a->stride_w,
          &a->dil_h, &a->dil_w, &a->pad_top, &a->pad_left, &a->pad_bottom, &a->pad_right,
          &end) != 16 ||
      key[end] != '\0')
    return 0;
  size_t eff_h = (a->kh - 1) * a->dil_h + 1, eff_w = (a->kw - 1) * a->dil_w + 1;
  size_t ph = a->h + a->pad_top + a->pad_bottom, pw = a->w + a->pad_left + a->pad_right;
  if (!a->stride_h || !a->stride_w || !a->kh || !a->kw || ph < eff_h || pw < eff_w) return 0;
  a->oh = (ph - eff_h) / a->stride_h + 1;
  a->ow = (pw - eff_w) / a->stride_w + 1;
  return 1;
}

/* What a tuned value may be: a path, a non-negative count. */
static int path_ok(int v) { return v >= PARE_CONV2D_DIRECT && v <= PARE_CONV2D_WINOGRAD; }
static int count_ok(int v) { return v >= 0 && v <= 4096; }

static int tile_rows_ok(int v) { return v == 1 || v == 2 || v == 4; }
static int tile_channels_ok(int v) { return v >= 1 && v <= 16; }

/* Bounds the chunk of images whose scratch (per_image bytes each) fits
 * scratch_mb (below 2 GiB, so every scratch offset fits an int). */
static size_t chunk_images(size_t n, size_t per_image, int scratch_mb) {
  size_t limit = (size_t)(scratch_mb < 1 ? 1 : scratch_mb > 2047 ? 2047 : scratch_mb) << 20;
  size_t nb = per_image ? limit / per_image : n;
  if (nb > n) nb = n;
  return nb < 1 ? 1 : nb;
}

/* A launch asks for its plan several times (scratch bytes, whether it can
 * pool or quantize its input, the launch itself), on every run; each plan
 * is a dozen lookups of formatted keys in the tuning table. The last
 * MEMO_SIZE plans are kept per runtime, keyed by everything plan_compute
 * reads: the geometry (sizes, groups, strides, dilations, pads and the
 * output size), the stem, implicit_ok, the tuning table's version and
 * switch, and the device profile. */
#define MEMO_SIZE 16
#define GEOMETRY  26

typedef struct memo_entry {
  size_t geometry[GEOMETRY];
  char stem[32];
  int implicit_ok, no_tune, used;
  unsigned version;
  const pare_profile *profile;
  pare_conv2d_plan plan;
} memo_entry;

struct pare_conv2d_memo {
  memo_entry e[MEMO_SIZE];
  int next;
};

static void geometry_of(const pare_conv2d_f32_args *a, const pare_conv2d_pool *pool, size_t *g) {
  const size_t v[GEOMETRY] = {a->n,
                              a->c,
                              a->h,
                              a->w,
                              a->m,
                              a->kh,
                              a->kw,
                              a->group,
                              a->stride_h,
                              a->stride_w,
                              a->dil_h,
                              a->dil_w,
                              a->pad_top,
                              a->pad_left,
                              a->pad_bottom,
                              a->pad_right,
                              a->oh,
                              a->ow,
                              pool ? (size_t)pool->kind : 0,
                              pool ? pool->kh : 0,
                              pool ? pool->kw : 0,
                              pool ? pool->sh : 0,
                              pool ? pool->sw : 0,
                              a->baked != NULL,
                              a->baked ? (size_t)a->baked->tm : 0,
                              a->baked ? (size_t)a->baked->tr : 0};
  memcpy(g, v, sizeof v);
}

static memo_entry *memo_find(pare_cl_runtime *rt, const size_t *g, const char *stem,
                             int implicit_ok) {
  struct pare_conv2d_memo *m = rt->conv_plans;
  for (int i = 0; m && i < MEMO_SIZE; i++) {
    memo_entry *e = &m->e[i];
    if (e->used && e->implicit_ok == implicit_ok && e->version == rt->tuning_version &&
        e->no_tune == rt->no_tune && e->profile == rt->profile && !strcmp(e->stem, stem) &&
        !memcmp(e->geometry, g, sizeof e->geometry))
      return e;
  }
  return NULL;
}

static void plan_compute(pare_cl_runtime *rt, const char *stem, const pare_conv2d_f32_args *a,
                         int implicit_ok, const pare_conv2d_pool *pool, pare_conv2d_plan *pl) {
  int cpu = !strcmp(rt->info.type, "cpu");
  memset(pl, 0, sizeof *pl);
  pl->cg = a->c / a->group;
  pl->mg = a->m / a->group;
  pl->kred = pl->cg * a->kh * a->kw;
  pl->p = a->oh * a->ow;
  pl->nb = 1;
  char shape[200];
  pare_conv2d_pool_shape_key(a, pool, shape, sizeof shape);
  pl->vw = pare_tuned_int(rt, stem, "vw", shape, cpu ? 16 : 4, pare_vector_width_ok);
  pl->rows = pare_tuned_int(rt, stem, "rows", shape, cpu ? 0 : 1, count_ok);
  pl->wg = pare_tuned_int(rt, stem, "wg", shape, cpu ? 1 : 0, count_ok);
  int direct_max_k = pare_tuned_int(rt, stem, "direct_max_k", NULL, 0, NULL);
  int direct_max_mg = pare_tuned_int(rt, stem, "direct_max_mg", NULL, 2, NULL);
  int batch_cols = pare_tuned_int(rt, stem, "batch_cols", NULL, 2048, NULL);
  int scratch_mb = pare_tuned_int(rt, stem, "scratch_mb", shape, 64, count_ok);
  /* The path: tuned for the shape (-1: none), else from the profile's rules. */
  int path = pare_tuned_int(rt, stem, "path", shape, -1, path_ok);
  int implicit = pare_tuned_int(rt, stem, "implicit", NULL, 1, NULL);
  int winograd = pare_tuned_int(rt, stem, "winograd", NULL, 0, NULL);
  int wino_ok = implicit_ok && pare_conv2d_winograd_fits(a);
  if (pl->rows > 0 && (size_t)pl->rows > a->oh) pl->rows = (int)a->oh;
  int small = batch_cols > 0 && pl->p < (size_t)batch_cols;
  int is_1x1 = pare_conv2d_is_1x1(a);
  int stride1 = a->stride_h == 1 && a->stride_w == 1;
  if (path == PARE_CONV2D_GEMM_1X1 && !is_1x1) path = -1;
  if (path == PARE_CONV2D_IMPLICIT && (!implicit_ok || !stride1)) path = -1;
  if (path == PARE_CONV2D_WINOGRAD && !wino_ok) path = -1;
  /* Weights baked into the implicit GEMM: that path, the caller's tile. */
  int baked =
      a->baked && a->baked->tm > 0 && pl->mg % (size_t)a->baked->tm == 0 && implicit_ok && stride1;
  if (baked) path = PARE_CONV2D_IMPLICIT;
  if (path < 0) {
    if (pl->kred <= (size_t)(direct_max_k > 0 ? direct_max_k : 0) ||
        pl->mg <= (size_t)(direct_max_mg > 0 ? direct_max_mg : 0))
      path = PARE_CONV2D_DIRECT;
    else if (is_1x1 && (a->n == 1 || !small))
      path = PARE_CONV2D_GEMM_1X1;
    else if (wino_ok && winograd > 0 && a->c >= (size_t)winograd && a->m >= (size_t)winograd)
      path = PARE_CONV2D_WINOGRAD;
    else if (implicit_ok && implicit > 0 && stride1 && !is_1x1)
      path = PARE_CONV2D_IMPLICIT;
    else
      path = PARE_CONV2D_IM2COL;
  }
  pl->path = path;
  if (path == PARE_CONV2D_IMPLICIT) {
    /* The largest tile height and channel count the shape takes (the
     * channel tile must divide M/group). */
    pl->tm = baked ? a->baked->tm : pare_tuned_int(rt, stem, "tm", shape, 8, tile_channels_ok);
    pl->tr = baked && tile_rows_ok(a->baked->tr)
                 ? a->baked->tr
                 : pare_tuned_int(rt, stem, "tr", shape, 2, tile_rows_ok);
    while (pl->tm > 1 && pl->mg % (size_t)pl->tm) pl->tm--;
    pl->rb = (a->oh + (size_t)pl->tr - 1) / (size_t)pl->tr;
    pl->cb = (a->ow + (size_t)pl->vw - 1) / (size_t)pl->vw;
    pl->hp = pl->rb * (size_t)pl->tr + (a->kh - 1) * a->dil_h;
    pl->wp = pl->cb * (size_t)pl->vw + (a->kw - 1) * a->dil_w;
    if ((double)a->c * pl->hp * pl->wp <= INT_MAX) {
      pl->nb = chunk_images(a->n, a->c * pl->hp * pl->wp * sizeof(float), scratch_mb);
      pl->col_elems = pl->nb * a->c * pl->hp * pl->wp;
      return;
    }
    path = pl->path = PARE_CONV2D_IM2COL; /* a bordered image past int indices */
  }
  if (path == PARE_CONV2D_WINOGRAD) {
    pl->th = (a->oh + 1) / 2;
    pl->tw = (a->ow + 1) / 2;
    size_t per_image = 16 * (a->c + a->m) * pl->th * pl->tw;
    if ((double)per_image + 16.0 * a->m * a->c <= INT_MAX) {
      pl->nb = chunk_images(a->n, per_image * sizeof(float), scratch_mb);
      pl->col_elems = 16 * a->m * a->c + pl->nb * per_image;
      return;
    }
    path = pl->path = PARE_CONV2D_IM2COL; /* transforms past int indices */
  }
  if (path != PARE_CONV2D_IM2COL) return;
  if (small && a->n > 1)
    pl->nb = chunk_images(a->n, (a->c * a->kh * a->kw + a->m) * pl->p * sizeof(float), scratch_mb);
  pl->col_elems = a->c * a->kh * a->kw * pl->nb * pl->p;
  pl->chunk_elems = pl->nb > 1 ? a->m * pl->nb * pl->p : 0;
}

void pare_conv2d_plan_make(pare_cl_runtime *rt, const char *stem, const pare_conv2d_f32_args *a,
                           int implicit_ok, pare_conv2d_plan *pl) {
  pare_conv2d_plan_make_pooled(rt, stem, a, implicit_ok, NULL, pl);
}

void pare_conv2d_plan_make_pooled(pare_cl_runtime *rt, const char *stem,
                                  const pare_conv2d_f32_args *a, int implicit_ok,
                                  const pare_conv2d_pool *pool, pare_conv2d_plan *pl) {
  size_t g[GEOMETRY];
  geometry_of(a, pool, g);
  pthread_mutex_lock(&rt->lock);
  memo_entry *e = memo_find(rt, g, stem, implicit_ok);
  if (e) *pl = e->plan;
  unsigned version = rt->tuning_version;
  pthread_mutex_unlock(&rt->lock);
  if (e) return;
  plan_compute(rt, stem, a, implicit_ok, pool, pl);
  pthread_mutex_lock(&rt->lock);
  if (!rt->conv_plans) rt->conv_plans = calloc(1, sizeof *rt->conv_plans);
  struct pare_conv2d_memo *m = rt->conv_plans;
  if (m && strlen(stem) < sizeof m->e[0].stem) { /* under the version the lookups began with */
    memo_entry *slot = &m->e[m->next];
    m->next = (m->next + 1) % MEMO_SIZE;
    memcpy(slot->geometry, g, sizeof slot->geometry);
    memcpy(slot->stem, stem, strlen(stem) + 1);
    slot->implicit_ok = implicit_ok;
    slot->no_tune = rt->no_tune;
    slot->profile = rt->profile;
    slot->version = version;
    slot->plan = *pl;
    slot->used = 1;
  }
  pthread_mutex_unlock(&rt->lock);
}
