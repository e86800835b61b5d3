/* Launcher of kernels/gemm_f32.cl: picks the variant's defines from the
 * device profile and the transposes, and the NDRange from the tile. */
#include <limits.h>
#include <stdio.h>

#include "host/launch/launch.h"
#include "host/tuning.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

/* What a tuned value may be: rows or vectors per work-item, work-group sides. */
static int tile_ok(int v) { return v >= 1 && v <= 16; }
static int group_ok(int v) { return v >= 1 && v <= 256; }

int pare_vector_width_ok(int v) { return v == 1 || v == 2 || v == 4 || v == 8 || v == 16; }

const char *const pare_gemm_f32_param_names[PARE_GEMM_F32_PARAMS] = {"tm", "vw", "nv", "wg0",
                                                                     "wg1"};

void pare_gemm_f32_params(pare_cl_runtime *rt, const char *shape, int *v) {
  static const int fallback[PARE_GEMM_F32_PARAMS] = {4, 4, 1, 8, 8};
  int (*const ok[PARE_GEMM_F32_PARAMS])(int) = {tile_ok, pare_vector_width_ok, tile_ok, group_ok,
                                                group_ok};
  for (int i = 0; i < PARE_GEMM_F32_PARAMS; i++)
    v[i] = pare_tuned_int(rt, "gemm_f32", pare_gemm_f32_param_names[i], shape, fallback[i], ok[i]);
}

void pare_gemm_f32_shape_key(const pare_gemm_f32_args *g, char *buf, size_t size) {
  snprintf(buf, size, "m=%zu,n=%zu,k=%zu,t=%d%d", g->m, g->n, g->k, g->trans_a ? 1 : 0,
           g->trans_b ? 1 : 0);
}

pare_status pare_launch_gemm_f32(pare_cl_runtime *rt, const pare_gemm_f32_args *g, cl_event *event,
                                 pare_error *err) {
  return pare_launch_gemm_f32_act(rt, g, PARE_GEMM_ACT_NONE, 0.0f, 0.0f, event, err);
}

pare_status pare_launch_gemm_f32_act(pare_cl_runtime *rt, const pare_gemm_f32_args *g, int act,
                                     float lo, float hi, cl_event *event, pare_error *err) {
  if (act < PARE_GEMM_ACT_NONE || act > PARE_GEMM_ACT_CLIP)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "gemm_f32: unknown activation %d", act);
  if (g->m == 0 || g->n == 0) return PARE_OK;
  if (g->k == 0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "gemm_f32: K == 0 is handled on the host");
  size_t batch = g->batch ? g->batch : 1;
  if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX || g->lda > INT_MAX || g->ldb > INT_MAX ||
      g->ldc > INT_MAX || g->off_a > INT_MAX || g->off_b > INT_MAX || g->off_c > INT_MAX ||
      batch > INT_MAX || (double)g->off_a + (double)(batch - 1) * g->stride_a > INT_MAX ||
      (double)g->off_b + (double)(batch - 1) * g->stride_b > INT_MAX ||
      (double)g->off_c + (double)(batch - 1) * g->stride_c > INT_MAX)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "gemm_f32: sizes beyond 2^31 elements");
  /* Tile and work-group: tuned for this shape, else the device profile's. */
  const pare_profile *p = rt->profile;
  char shape[96];
  pare_gemm_f32_shape_key(g, shape, sizeof shape);
  int tile[PARE_GEMM_F32_PARAMS];
  pare_gemm_f32_params(rt, shape, tile);
  int tm = tile[0], vw = tile[1], nv = tile[2];
  size_t wg0 = (size_t)tile[3], wg1 = (size_t)tile[4];
  if (tm < 1 || nv < 1 || (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) || wg0 < 1 ||
      wg1 < 1)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad gemm_f32 tile %dx%dx%d",
                          p->name, tm, vw, nv);
  char defines[256];
  snprintf(defines, sizeof defines,
           "-DTRANS_A=%d -DTRANS_B=%d -DGEMM_TM=%d -DGEMM_VW=%d -DGEMM_NV=%d%s", g->trans_a ? 1 : 0,
           g->trans_b ? 1 : 0, tm, vw, nv,
           act == PARE_GEMM_ACT_RELU   ? " -DGEMM_ACT=1"
           : act == PARE_GEMM_ACT_CLIP ? " -DGEMM_ACT=2"
                                       : "");
  cl_kernel k;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_gemm_f32, defines, "gemm_f32", &k, err);
  if (st != PARE_OK) return st;
  cl_int M = (cl_int)g->m, N = (cl_int)g->n, K = (cl_int)g->k;
  cl_int offA = (cl_int)g->off_a, offB = (cl_int)g->off_b, offC = (cl_int)g->off_c;
  cl_int lda = (cl_int)g->lda, ldb = (cl_int)g->ldb, ldc = (cl_int)g->ldc;
  cl_int has_bias = g->bias != NULL;
  cl_mem bias = g->bias ? g->bias : g->c;
  cl_int sa = batch > 1 ? (cl_int)g->stride_a : 0, sb = batch > 1 ? (cl_int)g->stride_b : 0;
  cl_int sc = batch > 1 ? (cl_int)g->stride_c : 0;
  struct {
    size_t size;
    const void *value;
  } args[] = {{sizeof M, &M},
              {sizeof N, &N},
              {sizeof K, &K},
              {sizeof(float), &g->alpha},
              {sizeof(float), &g->beta},
              {sizeof(cl_mem), &g->a},
              {sizeof offA, &offA},
              {sizeof lda, &lda},
              {sizeof(cl_mem), &g->b},
              {sizeof offB, &offB},
              {sizeof ldb, &ldb},
              {sizeof(cl_mem), &g->c},
              {sizeof offC, &offC},
              {sizeof ldc, &ldc},
              {sizeof(cl_mem), &bias},
              {sizeof has_bias, &has_bias},
              {sizeof lo, &lo},
              {sizeof hi, &hi},
              {sizeof sa, &sa},
              {sizeof sb, &sb},
              {sizeof sc, &sc}};
  for (cl_uint i = 0; i < sizeof args / sizeof args[0] && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, args[i].size, args[i].value, "gemm_f32", err);
  if (st == PARE_OK) {
    /* Dimension 0 walks tiles of rows, dimension 1 tiles of columns, 2
     * the products of a batch. */
    size_t tn = (size_t)vw * (size_t)nv;
    size_t local[3] = {wg0, wg1, 1};
    size_t global[3] = {round_up((g->m + (size_t)tm - 1) / (size_t)tm, wg0),
                        round_up((g->n + tn - 1) / tn, wg1), batch};
    st = pare_cl_launch(rt, k, "gemm_f32", batch > 1 ? 3 : 2, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}
