/* Launcher of kernels/softmax_f32.cl: a row per work-item on CPUs, a row
 * per work-group on other devices once rows are long enough. */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/softmax_f32.h"

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static int is_cpu(const pare_cl_runtime *rt) { return !strcmp(rt->info.type, "cpu"); }

pare_status pare_launch_softmax_mode_f32(pare_cl_runtime *rt, int log, size_t rows, size_t cols,
                                         cl_mem x, cl_mem y, pare_softmax_mode mode,
                                         cl_event *event, pare_error *err) {
  if (mode < PARE_SOFTMAX_AUTO || mode > PARE_SOFTMAX_ROW_PER_GROUP)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "softmax_f32: unknown mode %d", (int)mode);
  if (rows == 0 || cols == 0) return PARE_OK;
  if (cols > (size_t)INT_MAX || rows > (size_t)INT_MAX / cols)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "softmax_f32: %zux%zu beyond 2^31 elements",
                          rows, cols);
  const pare_profile *p = rt->profile;
  int cpu = is_cpu(rt);
  int vw = pare_profile_int(p, "softmax_f32.vw", cpu ? 8 : 4);
  int wg = pare_profile_int(p, "softmax_f32.wg", cpu ? 1 : 64);
  int group_wg = pare_profile_int(p, "softmax_f32.group_wg", cpu ? 16 : 128);
  /* Rows at least this long take the work-group kernel (never on CPUs). */
  int group_cols = pare_profile_int(p, "softmax_f32.group_cols", cpu ? 0 : 256);
  if ((vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16) || wg < 1 || group_wg < 1 ||
      (group_wg & (group_wg - 1)) != 0)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad softmax_f32 parameters",
                          p->name);
  while ((size_t)group_wg > rt->info.max_work_group_size && group_wg > 1) group_wg /= 2;
  if (mode == PARE_SOFTMAX_AUTO)
    mode = group_cols > 0 && cols >= (size_t)group_cols ? PARE_SOFTMAX_ROW_PER_GROUP
                                                        : PARE_SOFTMAX_ROW_PER_ITEM;
  char defines[32];
  snprintf(defines, sizeof defines, "-DSM_VW=%d", vw);
  const char *name = mode == PARE_SOFTMAX_ROW_PER_GROUP ? "softmax_group" : "softmax_rows";
  cl_kernel k;
  pare_status st = pare_cl_kernel(rt, PARE_KERNEL_softmax_f32, defines, name, &k, err);
  if (st != PARE_OK) return st;
  cl_int crows = (cl_int)rows, ccols = (cl_int)cols, clog = log ? 1 : 0;
  size_t global[1], local[1];
  if (mode == PARE_SOFTMAX_ROW_PER_GROUP) {
    local[0] = (size_t)group_wg;
    global[0] = rows * local[0];
    const size_t sizes[6] = {sizeof crows,   sizeof ccols,   sizeof clog,
                             sizeof(cl_mem), sizeof(cl_mem), local[0] * sizeof(float)};
    const void *values[6] = {&crows, &ccols, &clog, &x, &y, NULL};
    for (cl_uint i = 0; i < 6 && st == PARE_OK; i++)
      st = pare_cl_set_arg(rt, k, i, sizes[i], values[i], name, err);
  } else {
    /* CPUs: a few items per compute unit, each taking a run of rows. */
    size_t rpi = 1;
    int per_cu = pare_profile_int(p, "softmax_f32.items_per_cu", cpu ? 16 : 0);
    if (per_cu > 0) {
      size_t items = (rt->info.compute_units ? rt->info.compute_units : 1) * (size_t)per_cu;
      rpi = (rows + items - 1) / items;
    }
    cl_int crpi = (cl_int)rpi;
    local[0] = (size_t)wg;
    global[0] = round_up((rows + rpi - 1) / rpi, local[0]);
    const size_t sizes[6] = {sizeof crows, sizeof ccols,   sizeof crpi,
                             sizeof clog,  sizeof(cl_mem), sizeof(cl_mem)};
    const void *values[6] = {&crows, &ccols, &crpi, &clog, &x, &y};
    for (cl_uint i = 0; i < 6 && st == PARE_OK; i++)
      st = pare_cl_set_arg(rt, k, i, sizes[i], values[i], name, err);
  }
  if (st == PARE_OK) st = pare_cl_launch(rt, k, name, 1, global, local, event, err);
  rt->cl->clReleaseKernel(k);
  return st;
}

pare_status pare_launch_softmax_f32(pare_cl_runtime *rt, int log, size_t rows, size_t cols,
                                    cl_mem x, cl_mem y, cl_event *event, pare_error *err) {
  return pare_launch_softmax_mode_f32(rt, log, rows, cols, x, y, PARE_SOFTMAX_AUTO, event, err);
}
