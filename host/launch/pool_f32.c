/* Launcher of kernels/pool_f32.cl: resolves the window with the
 * reference's geometry (auto_pad, ceil_mode) and splits the output rows or
 * planes over work-items. */
#include <stdio.h>
#include <string.h>

#include "host/launch/pool_f32.h"

/* Largest tensor and window coordinate the int indexing of the kernels takes. */
#define POOL_MAX_ELEMS ((int64_t)INT32_MAX)
#define POOL_MAX_COORD ((int64_t)1 << 28)

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static int is_cpu(const pare_cl_runtime *rt) { return !strcmp(rt->info.type, "cpu"); }

/* Items of work per launch: on CPUs a few per compute unit (PoCL runs
 * single-item groups on its threads), elsewhere one per item. */
static size_t per_item(pare_cl_runtime *rt, const char *key, size_t count) {
  int per_cu = pare_profile_int(rt->profile, key, is_cpu(rt) ? 16 : 0);
  if (per_cu <= 0) return 1;
  size_t units = rt->info.compute_units ? rt->info.compute_units : 1;
  size_t items = units * (size_t)per_cu;
  size_t per = (count + items - 1) / items;
  return per ? per : 1;
}

/* One program per pool kind (global_pool and the generic pool2d share it)
 * and per specialized window. */
static pare_status pool_kernel(pare_cl_runtime *rt, int is_max, int64_t kw, int64_t sw, int64_t dw,
                               const char *name, cl_kernel *k, pare_error *err) {
  int vw = pare_profile_int(rt->profile, "pool_f32.vw", is_cpu(rt) ? 8 : 4);
  if (vw != 1 && vw != 2 && vw != 4 && vw != 8 && vw != 16)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "profile %s: bad pool_f32.vw %d",
                          rt->profile->name, vw);
  char defines[96];
  int len = snprintf(defines, sizeof defines, "-DPOOL_MAX=%d -DPOOL_VW=%d", is_max ? 1 : 0, vw);
  /* The common windows (2 or 3 wide, stride 1 or 2) get unrolled variants. */
  if (dw == 1 && (kw == 2 || kw == 3) && (sw == 1 || sw == 2) &&
      pare_profile_int(rt->profile, "pool_f32.specialize", 1))
    snprintf(defines + len, sizeof defines - (size_t)len, " -DPOOL_KW=%d -DPOOL_SW=%d", (int)kw,
             (int)sw);
  return pare_cl_kernel(rt, PARE_KERNEL_pool_f32, defines, name, k, err);
}

static pare_status run(pare_cl_runtime *rt, cl_kernel k, const char *name, const size_t *sizes,
                       const void *const *values, cl_uint nargs, size_t items, cl_event *event,
                       pare_error *err) {
  pare_status st = PARE_OK;
  for (cl_uint i = 0; i < nargs && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, sizes[i], values[i], name, err);
  if (st == PARE_OK) {
    size_t wg = (size_t)pare_profile_int(rt->profile, "pool_f32.wg", is_cpu(rt) ? 1 : 64);
    if (wg < 1) wg = 1;
    size_t local[1] = {wg}, global[1] = {round_up(items, wg)};
    st = pare_cl_launch(rt, k, name, 1, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

pare_status pare_launch_pool2d_f32(pare_cl_runtime *rt, int is_max, const pare_ref_pool_params *p,
                                   const int64_t *x_dims, cl_mem x, cl_mem y, cl_event *event,
                                   pare_error *err) {
  int ns = p->win.nspatial;
  if (ns == 3)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "pool_f32: 3-D pooling is not implemented");
  int64_t out[PARE_REF_MAX_SPATIAL], pads[2 * PARE_REF_MAX_SPATIAL], count, ycount;
  int64_t y_dims[2 + PARE_REF_MAX_SPATIAL];
  if (ns < 1 || ns > 2 || pare_ref_shape_numel(2 + ns, x_dims, &count) != PARE_REF_OK ||
      pare_ref_window_out_dims(&p->win, x_dims + 2, p->ceil_mode, out, pads) != PARE_REF_OK ||
      pare_ref_pool_shape(p, x_dims, y_dims) != PARE_REF_OK ||
      pare_ref_shape_numel(2 + ns, y_dims, &ycount) != PARE_REF_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "pool_f32: bad pooling attributes or shape (%d spatial dims)", ns);
  if (ycount == 0) return PARE_OK;
  /* Lift 1-D to 2-D with a size-1 leading spatial axis. */
  int64_t H = 1, W, KH = 1, KW, SH = 1, SW, DH = 1, DW, PT = 0, PB = 0, PL, PR, OH = 1, OW;
  if (ns == 2) {
    H = x_dims[2], KH = p->win.kernel[0], SH = p->win.strides[0], DH = p->win.dilations[0];
    PT = pads[0], PB = pads[2], OH = out[0];
  }
  W = x_dims[1 + ns], KW = p->win.kernel[ns - 1], SW = p->win.strides[ns - 1];
  DW = p->win.dilations[ns - 1], PL = pads[ns - 1], PR = pads[2 * ns - 1], OW = out[ns - 1];
  int64_t planes = x_dims[0] * x_dims[1];
  const int64_t coords[] = {H,
                            W,
                            KH,
                            KW,
                            SH,
                            SW,
                            DH,
                            DW,
                            PT,
                            PB,
                            PL,
                            PR,
                            OH,
                            OW,
                            OH * SH + KH * DH,
                            OW * SW + KW * DW,
                            H + PB + KH * DH,
                            W + PR + KW * DW};
  for (size_t i = 0; i < sizeof coords / sizeof coords[0]; i++)
    if (coords[i] > POOL_MAX_COORD)
      return pare_error_set(err, PARE_ERR_UNSUPPORTED, "pool_f32: window beyond 2^28");
  if (count > POOL_MAX_ELEMS || ycount > POOL_MAX_ELEMS || planes * OH > POOL_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "pool_f32: tensors beyond 2^31 elements");
  cl_kernel k;
  pare_status st = pool_kernel(rt, is_max, KW, SW, DW, "pool2d", &k, err);
  if (st != PARE_OK) return st;
  size_t rows = (size_t)(planes * OH), rpi = per_item(rt, "pool_f32.items_per_cu", rows);
  /* Interior columns: w0 = ow·SW - PL >= 0 and w0 + (KW-1)·DW < W. */
  int64_t in0 = (PL + SW - 1) / SW, last = W - 1 - (KW - 1) * DW + PL;
  int64_t in1 = last < 0 ? 0 : last / SW + 1;
  if (in1 > OW) in1 = OW;
  if (in0 > in1) in0 = in1 = 0;
  cl_int a[19] = {(cl_int)rows,
                  (cl_int)rpi,
                  (cl_int)H,
                  (cl_int)W,
                  (cl_int)OH,
                  (cl_int)OW,
                  (cl_int)KH,
                  (cl_int)KW,
                  (cl_int)SH,
                  (cl_int)SW,
                  (cl_int)DH,
                  (cl_int)DW,
                  (cl_int)PT,
                  (cl_int)PL,
                  (cl_int)PB,
                  (cl_int)PR,
                  p->count_include_pad ? 1 : 0,
                  (cl_int)in0,
                  (cl_int)in1};
  size_t sizes[21];
  const void *values[21];
  for (int i = 0; i < 19; i++) sizes[i] = sizeof(cl_int), values[i] = &a[i];
  sizes[19] = sizes[20] = sizeof(cl_mem);
  values[19] = &x;
  values[20] = &y;
  return run(rt, k, "pool2d", sizes, values, 21, (rows + rpi - 1) / rpi, event, err);
}

pare_status pare_launch_global_pool_f32(pare_cl_runtime *rt, int is_max, size_t planes,
                                        size_t spatial, cl_mem x, cl_mem y, cl_event *event,
                                        pare_error *err) {
  if (planes == 0) return PARE_OK;
  if (planes > (size_t)POOL_MAX_ELEMS || spatial > (size_t)POOL_MAX_ELEMS ||
      (spatial && planes > (size_t)POOL_MAX_ELEMS / spatial))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "pool_f32: tensors beyond 2^31 elements");
  cl_kernel k;
  pare_status st = pool_kernel(rt, is_max, 0, 0, 0, "global_pool", &k, err);
  if (st != PARE_OK) return st;
  size_t ppi = per_item(rt, "pool_f32.items_per_cu", planes);
  cl_int a[3] = {(cl_int)planes, (cl_int)spatial, (cl_int)ppi};
  const size_t sizes[5] = {sizeof(cl_int), sizeof(cl_int), sizeof(cl_int), sizeof(cl_mem),
                           sizeof(cl_mem)};
  const void *values[5] = {&a[0], &a[1], &a[2], &x, &y};
  return run(rt, k, "global_pool", sizes, values, 5, (planes + ppi - 1) / ppi, event, err);
}
