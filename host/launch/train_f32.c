/* Launcher of kernels/train_f32.cl: picks the program variant (activation,
 * vector width), the chunk per work-item for the elementwise kernels and
 * the rows per work-item for the pooling and loss kernels. On CPUs (PoCL)
 * every group is one work-item and the work is cut into a few pieces per
 * compute unit; elsewhere groups of 64 items of one vector each. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "host/launch/train_f32.h"

/* Largest element count: int indices with room for one chunk past the end. */
#define TR_MAX_ELEMS ((size_t)INT32_MAX - ((size_t)1 << 20))
#define TR_MAX_COORD ((int64_t)1 << 28)

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static size_t units_of(const pare_cl_runtime *rt) {
  return rt->info.compute_units ? rt->info.compute_units : 1;
}

/* Rows per work-item: on CPUs `train_f32.<key>` pieces per compute unit,
 * elsewhere one row per item. */
static size_t rows_per_item(pare_cl_runtime *rt, const char *key, size_t rows) {
  int per_cu = pare_profile_int(rt->profile, key, pare_cl_is_cpu(rt) ? 8 : 0);
  if (per_cu <= 0) return 1;
  size_t items = units_of(rt) * (size_t)per_cu;
  size_t per = (rows + items - 1) / items;
  return per ? per : 1;
}

static pare_status tr_kernel(pare_cl_runtime *rt, const pare_cl_chunks *g, int act,
                             const char *name, cl_kernel *k, pare_error *err) {
  char defines[64];
  snprintf(defines, sizeof defines, "-DTR_ACT=%d -DTR_VW=%d", act, g->vw);
  return pare_cl_kernel(rt, PARE_KERNEL_train_f32, defines, name, k, err);
}

typedef struct tr_arg {
  size_t size;
  const void *value; /* NULL: a NULL buffer */
} tr_arg;

/* Sets the arguments and enqueues `items` work-items in groups of wg;
 * releases the kernel. */
static pare_status tr_run(pare_cl_runtime *rt, cl_kernel k, const char *name, const tr_arg *args,
                          cl_uint nargs, size_t items, size_t wg, cl_event *event,
                          pare_error *err) {
  pare_status st = PARE_OK;
  for (cl_uint i = 0; i < nargs && st == PARE_OK; i++)
    st = pare_cl_set_arg(rt, k, i, args[i].size, args[i].value, name, err);
  if (st == PARE_OK) {
    size_t local[1] = {wg};
    size_t global[1] = {round_up(items, wg)};
    st = pare_cl_launch(rt, k, name, 1, global, local, event, err);
  }
  rt->cl->clReleaseKernel(k);
  return st;
}

/* An elementwise kernel over n elements with args after (n, chunk). */
static pare_status tr_eltwise(pare_cl_runtime *rt, int act, const char *name, size_t n,
                              const tr_arg *rest, cl_uint nrest, cl_event *event, pare_error *err) {
  if (n == 0) return PARE_OK;
  if (n > TR_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "train_f32: %s of %zu elements (limit 2^31)",
                          name, n);
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "train_f32", 8192, &g, err);
  if (st != PARE_OK) return st;
  cl_kernel k;
  st = tr_kernel(rt, &g, act, name, &k, err);
  if (st != PARE_OK) return st;
  size_t chunk = pare_cl_chunk_for(rt, &g, n);
  cl_int cn = (cl_int)n, cc = (cl_int)chunk;
  tr_arg args[24] = {{sizeof cn, &cn}, {sizeof cc, &cc}};
  for (cl_uint i = 0; i < nrest; i++) args[2 + i] = rest[i];
  return tr_run(rt, k, name, args, 2 + nrest, (n + chunk - 1) / chunk, g.wg, event, err);
}

#define MEM(m)                                                                                     \
  { sizeof(cl_mem), &(m) }
#define NULLMEM                                                                                    \
  { sizeof(cl_mem), NULL }
#define VAL(v)                                                                                     \
  { sizeof(v), &(v) }

pare_status pare_launch_train_act_backward_f32(pare_cl_runtime *rt, pare_ref_act act, float alpha,
                                               float beta, cl_mem x, cl_mem dy, cl_mem dx, size_t n,
                                               cl_event *event, pare_error *err) {
  switch (act) {
  case PARE_REF_ACT_RELU:
  case PARE_REF_ACT_LEAKY_RELU:
  case PARE_REF_ACT_SIGMOID:
  case PARE_REF_ACT_TANH:
  case PARE_REF_ACT_CLIP:
  case PARE_REF_ACT_HARD_SWISH:
  case PARE_REF_ACT_ELU: break;
  default:
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "train_f32: tr_act_backward: activation %d not implemented", (int)act);
  }
  tr_arg rest[] = {MEM(x), MEM(dy), MEM(dx), VAL(alpha), VAL(beta)};
  return tr_eltwise(rt, (int)act, "tr_act_backward", n, rest, 5, event, err);
}

pare_status pare_launch_train_pool2d_backward_f32(pare_cl_runtime *rt, int is_max,
                                                  const pare_ref_pool_params *p,
                                                  const int64_t *x_dims, cl_mem x, cl_mem dy,
                                                  cl_mem dx, cl_event *event, pare_error *err) {
  const char *name = is_max ? "tr_maxpool_backward" : "tr_avgpool_backward";
  int ns = p ? p->win.nspatial : 0;
  int64_t out[PARE_REF_MAX_SPATIAL], pads[2 * PARE_REF_MAX_SPATIAL], count;
  if (ns == 3) return pare_error_set(err, PARE_ERR_UNSUPPORTED, "train_f32: %s: 3-D pooling", name);
  if (ns < 1 || ns > 2 || !x_dims || pare_ref_shape_numel(2 + ns, x_dims, &count) != PARE_REF_OK ||
      pare_ref_window_out_dims(&p->win, x_dims + 2, p->ceil_mode, out, pads) != PARE_REF_OK)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: %s: bad pooling attributes or shape (%d spatial dims)", name,
                          ns);
  if (count == 0) return PARE_OK;
  int64_t H = 1, KH = 1, SH = 1, DH = 1, PT = 0, PB = 0, OH = 1;
  if (ns == 2) {
    H = x_dims[2], KH = p->win.kernel[0], SH = p->win.strides[0], DH = p->win.dilations[0];
    PT = pads[0], PB = pads[2], OH = out[0];
  }
  int64_t W = x_dims[1 + ns], KW = p->win.kernel[ns - 1], SW = p->win.strides[ns - 1];
  int64_t DW = p->win.dilations[ns - 1], PL = pads[ns - 1], PR = pads[2 * ns - 1];
  int64_t OW = out[ns - 1], planes = x_dims[0] * x_dims[1];
  const int64_t coords[] = {H, W, KH, KW, SH, SW, DH, DW, PT, PB, PL, PR, OH, OW, KH * DH, KW * DW};
  for (size_t i = 0; i < sizeof coords / sizeof coords[0]; i++)
    if (coords[i] > TR_MAX_COORD)
      return pare_error_set(err, PARE_ERR_UNSUPPORTED, "train_f32: %s: window beyond 2^28", name);
  if ((size_t)count > TR_MAX_ELEMS || (size_t)(planes * OH * OW) > TR_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "train_f32: %s of %lld elements (limit 2^31)",
                          name, (long long)count);
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "train_f32", 8192, &g, err);
  if (st != PARE_OK) return st;
  /* Windows disjoint along H: one scan per window over row bands. */
  int bands_path =
      is_max && (KH - 1) * DH < SH && pare_profile_int(rt->profile, "train_f32.pool_bands", 1);
  if (bands_path) name = "tr_maxpool_backward_bands";
  cl_kernel k;
  st = tr_kernel(rt, &g, PARE_REF_ACT_RELU, name, &k, err);
  if (st != PARE_OK) return st;
  size_t rows = (size_t)(planes * H), rpi = rows_per_item(rt, "train_f32.pool_items_per_cu", rows);
  cl_int crows = (cl_int)rows, crpi = (cl_int)rpi;
  cl_int16 geo;
  memset(&geo, 0, sizeof geo);
  const int64_t gv[15] = {
      H, W, OH, OW, KH, KW, SH, SW, DH, DW, PT, PL, PB, PR, p->count_include_pad ? 1 : 0};
  for (int i = 0; i < 15; i++) geo.s[i] = (cl_int)gv[i];
  if (bands_path) {
    size_t bands = (size_t)(planes * OH);
    size_t bpi = rows_per_item(rt, "train_f32.pool_items_per_cu", bands);
    cl_int cb = (cl_int)bands, cbpi = (cl_int)bpi;
    tr_arg args[] = {VAL(cb), VAL(cbpi), VAL(geo), MEM(x), MEM(dy), MEM(dx)};
    return tr_run(rt, k, name, args, 6, (bands + bpi - 1) / bpi, g.wg, event, err);
  }
  if (is_max) {
    tr_arg args[] = {VAL(crows), VAL(crpi), VAL(geo), MEM(x), MEM(dy), MEM(dx)};
    return tr_run(rt, k, name, args, 6, (rows + rpi - 1) / rpi, g.wg, event, err);
  }
  tr_arg args[] = {VAL(crows), VAL(crpi), VAL(geo), MEM(dy), MEM(dx)};
  return tr_run(rt, k, name, args, 5, (rows + rpi - 1) / rpi, g.wg, event, err);
}

pare_status pare_launch_train_global_avgpool_backward_f32(pare_cl_runtime *rt, size_t planes,
                                                          size_t spatial, cl_mem dy, cl_mem dx,
                                                          cl_event *event, pare_error *err) {
  if (planes == 0 || spatial == 0) return PARE_OK;
  if (spatial > TR_MAX_ELEMS || planes > TR_MAX_ELEMS / spatial)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "train_f32: tr_global_avg_backward of %zux%zu (limit 2^31)", planes,
                          spatial);
  cl_int cs = (cl_int)spatial;
  tr_arg rest[] = {VAL(cs), MEM(dy), MEM(dx)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_global_avg_backward", planes * spatial, rest, 3,
                    event, err);
}

/* Both losses: rows, then the mean when `loss` is given. */
static pare_status tr_loss(pare_cl_runtime *rt, cl_mem teacher, cl_mem student, cl_mem labels,
                           size_t n, size_t k, float temperature, float w_ce, float w_kd,
                           cl_mem loss_rows, cl_mem loss, cl_mem grad, cl_event *event,
                           pare_error *err) {
  const char *name = "tr_loss_rows";
  if (n == 0 || k == 0) return PARE_OK;
  if (k > ((size_t)1 << 20) || n > TR_MAX_ELEMS / k)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "train_f32: %s of %zux%zu (limit 2^31)", name,
                          n, k);
  if (!student || !loss_rows || (w_ce != 0.0f && !labels) || (w_kd != 0.0f && !teacher))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "train_f32: %s %zux%zu: missing buffer", name,
                          n, k);
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "train_f32", 8192, &g, err);
  if (st != PARE_OK) return st;
  cl_kernel kr;
  st = tr_kernel(rt, &g, PARE_REF_ACT_RELU, name, &kr, err);
  if (st != PARE_OK) return st;
  /* Small problems: one work-item does every row and the mean (one launch
   * instead of two; on PoCL the launches dominate). */
  int fuse_max =
      pare_profile_int(rt->profile, "train_f32.loss_fuse_max", pare_cl_is_cpu(rt) ? 16384 : 0);
  int fused = loss && fuse_max > 0 && n * k <= (size_t)fuse_max;
  size_t rpi = fused ? n : rows_per_item(rt, "train_f32.loss_items_per_cu", n);
  cl_int cn = (cl_int)n, ck = (cl_int)k, crpi = (cl_int)rpi, has_grad = grad != NULL;
  cl_int has_mean = fused;
  float inv_n = (float)(1.0 / (double)n);
  tr_arg args[] = {VAL(cn),
                   VAL(ck),
                   VAL(crpi),
                   MEM(student),
                   w_kd != 0.0f ? (tr_arg)MEM(teacher) : (tr_arg)NULLMEM,
                   w_ce != 0.0f ? (tr_arg)MEM(labels) : (tr_arg)NULLMEM,
                   MEM(loss_rows),
                   grad ? (tr_arg)MEM(grad) : (tr_arg)NULLMEM,
                   VAL(has_grad),
                   VAL(w_ce),
                   VAL(w_kd),
                   VAL(temperature),
                   VAL(inv_n),
                   fused ? (tr_arg)MEM(loss) : (tr_arg)NULLMEM,
                   VAL(has_mean)};
  size_t wg = pare_cl_is_cpu(rt) ? 1 : g.wg;
  int last = !loss || fused;
  st = tr_run(rt, kr, name, args, 15, (n + rpi - 1) / rpi, wg, last ? event : NULL, err);
  if (st != PARE_OK || last) return st;
  cl_kernel km;
  st = tr_kernel(rt, &g, PARE_REF_ACT_RELU, "tr_row_mean", &km, err);
  if (st != PARE_OK) return st;
  tr_arg margs[] = {VAL(cn), MEM(loss_rows), MEM(loss), VAL(inv_n)};
  return tr_run(rt, km, "tr_row_mean", margs, 4, 1, 1, event, err);
}

pare_status pare_launch_train_softmax_xent_f32(pare_cl_runtime *rt, cl_mem logits, cl_mem labels,
                                               size_t n, size_t k, cl_mem loss_rows, cl_mem loss,
                                               cl_mem dlogits, cl_event *event, pare_error *err) {
  return tr_loss(rt, NULL, logits, labels, n, k, 1.0f, 1.0f, 0.0f, loss_rows, loss, dlogits, event,
                 err);
}

pare_status pare_launch_train_distill_loss_f32(pare_cl_runtime *rt, cl_mem teacher, cl_mem student,
                                               cl_mem labels, size_t n, size_t k, float temperature,
                                               float alpha, cl_mem loss_rows, cl_mem loss,
                                               cl_mem dstudent, cl_event *event, pare_error *err) {
  if (!(alpha >= 0.0f && alpha <= 1.0f) || !(temperature > 0.0f) || !isfinite(temperature))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: tr_loss_rows %zux%zu: alpha %g or temperature %g invalid", n,
                          k, (double)alpha, (double)temperature);
  return tr_loss(rt, teacher, student, labels, n, k, temperature, alpha, 1.0f - alpha, loss_rows,
                 loss, dstudent, event, err);
}

pare_status pare_launch_train_sgd_step_f32(pare_cl_runtime *rt, const pare_ref_sgd_params *p,
                                           cl_mem w, cl_mem g, cl_mem velocity, cl_mem mask,
                                           size_t n, cl_event *event, pare_error *err) {
  if (!p || !(p->lr >= 0.0f) || !(p->momentum >= 0.0f) || !(p->weight_decay >= 0.0f) ||
      (p->nesterov && p->momentum == 0.0f))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "train_f32: tr_sgd_step of %zu: bad params",
                          n);
  cl_int use_momentum = p->momentum != 0.0f, nesterov = p->nesterov ? 1 : 0, has_mask = !!mask;
  if (n > 0 && use_momentum && !velocity)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: tr_sgd_step of %zu: momentum without velocity", n);
  float lr = p->lr, mu = p->momentum, wd = p->weight_decay;
  tr_arg rest[] = {MEM(w),
                   MEM(g),
                   use_momentum ? (tr_arg)MEM(velocity) : (tr_arg)NULLMEM,
                   mask ? (tr_arg)MEM(mask) : (tr_arg)NULLMEM,
                   VAL(has_mask),
                   VAL(lr),
                   VAL(mu),
                   VAL(wd),
                   VAL(use_momentum),
                   VAL(nesterov)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_sgd_step", n, rest, 10, event, err);
}

pare_status pare_launch_train_adam_step_f32(pare_cl_runtime *rt, const pare_ref_adam_params *p,
                                            int64_t t, cl_mem w, cl_mem g, cl_mem m, cl_mem v,
                                            cl_mem mask, size_t n, cl_event *event,
                                            pare_error *err) {
  if (!p || t < 1 || !(p->lr >= 0.0f) || !(p->weight_decay >= 0.0f) || !(p->eps >= 0.0f) ||
      !(p->beta1 >= 0.0f && p->beta1 < 1.0f) || !(p->beta2 >= 0.0f && p->beta2 < 1.0f))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: tr_adam_step of %zu: bad params or step %lld", n,
                          (long long)t);
  double lr = p->lr, b1 = p->beta1, b2 = p->beta2, wd = p->weight_decay;
  float fb1 = p->beta1, fb2 = p->beta2, c1 = (float)(1.0 - b1), c2 = (float)(1.0 - b2);
  float eps = p->eps, fwd = p->weight_decay;
  float decay = (float)(1.0 - lr * wd);
  float step_size = (float)(lr / (1.0 - pow(b1, (double)t)));
  float inv_bc2 = (float)(1.0 / sqrt(1.0 - pow(b2, (double)t)));
  cl_int decoupled = p->decoupled && wd != 0.0 ? 1 : 0, has_mask = !!mask;
  tr_arg rest[] = {MEM(w),
                   MEM(g),
                   MEM(m),
                   MEM(v),
                   mask ? (tr_arg)MEM(mask) : (tr_arg)NULLMEM,
                   VAL(has_mask),
                   VAL(fb1),
                   VAL(c1),
                   VAL(fb2),
                   VAL(c2),
                   VAL(eps),
                   VAL(fwd),
                   VAL(decoupled),
                   VAL(decay),
                   VAL(step_size),
                   VAL(inv_bc2)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_adam_step", n, rest, 16, event, err);
}

pare_status pare_launch_train_accumulate_f32(pare_cl_runtime *rt, cl_mem x, cl_mem y, size_t n,
                                             cl_event *event, pare_error *err) {
  tr_arg rest[] = {MEM(x), MEM(y)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_accumulate", n, rest, 2, event, err);
}

pare_status pare_launch_train_fake_quant_rows_f32(pare_cl_runtime *rt, size_t rows, size_t cols,
                                                  int bits, cl_mem x, cl_mem y, cl_event *event,
                                                  pare_error *err) {
  const char *name = "tr_fake_quant_rows";
  if (bits < 2 || bits > 16)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "train_f32: %s: %d bits (2 to 16)", name,
                          bits);
  if (rows == 0 || cols == 0) return PARE_OK;
  if (rows > TR_MAX_ELEMS || cols > TR_MAX_ELEMS || rows * cols > TR_MAX_ELEMS)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "train_f32: %s of %zu x %zu elements (limit 2^31)", name, rows, cols);
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "train_f32", 8192, &g, err);
  cl_kernel k;
  if (st == PARE_OK) st = tr_kernel(rt, &g, PARE_REF_ACT_RELU, name, &k, err);
  if (st != PARE_OK) return st;
  cl_int cr = (cl_int)rows, cc = (cl_int)cols;
  cl_float qmax = (cl_float)((1 << (bits - 1)) - 1);
  tr_arg args[] = {VAL(cr), VAL(cc), VAL(qmax), MEM(x), MEM(y)};
  return tr_run(rt, k, name, args, 5, rows, g.wg, event, err);
}

/* The size checks and kernel of the BatchNormalization launchers. */
static pare_status bn_kernel(pare_cl_runtime *rt, const char *name, size_t n, size_t C,
                             size_t inner, cl_kernel *k, size_t *wg, pare_error *err) {
  if (n > TR_MAX_ELEMS || C > TR_MAX_ELEMS || inner > TR_MAX_ELEMS ||
      (C && inner && n > TR_MAX_ELEMS / C / inner))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "train_f32: %s of %zu x %zu x %zu elements (limit 2^31)", name, n, C,
                          inner);
  pare_cl_chunks g;
  pare_status st = pare_cl_chunks_of(rt, "train_f32", 8192, &g, err);
  if (st == PARE_OK) st = tr_kernel(rt, &g, PARE_REF_ACT_RELU, name, k, err);
  *wg = g.wg;
  return st;
}

/* Parts per channel of the split reductions: about train_f32.bn_part
 * values each (profile key, default 1024: short enough for fp32 sums,
 * many enough work-items to fill the device), at most 2^16 items. */
static size_t bn_parts(pare_cl_runtime *rt, size_t C, size_t count) {
  int per_part = pare_profile_int(rt->profile, "train_f32.bn_part", 1024);
  size_t parts =
      (count + (size_t)(per_part > 0 ? per_part : 1) - 1) / (size_t)(per_part > 0 ? per_part : 1);
  size_t most = C < 65536 ? 65536 / C : 1;
  if (parts > most) parts = most;
  return parts < 1 ? 1 : parts;
}

/* A temporary device buffer of `floats` floats (released by the caller
 * after enqueuing: OpenCL keeps it until the kernels are done). */
static pare_status bn_partials(pare_cl_runtime *rt, size_t floats, cl_mem *out, pare_error *err) {
  return pare_cl_buffer(rt, CL_MEM_READ_WRITE, sizeof(float) * floats, NULL, out, err);
}

/* A split reduction: kernel `first` over C·parts items (partials), then
 * `second` over C items (one per channel). */
static pare_status bn_reduce(pare_cl_runtime *rt, size_t n, size_t C, size_t inner, size_t parts,
                             const char *first, const tr_arg *a1, cl_uint n1, const char *second,
                             const tr_arg *a2, cl_uint n2, cl_event *event, pare_error *err) {
  cl_kernel k;
  size_t wg = 1;
  pare_status st = bn_kernel(rt, first, n, C, inner, &k, &wg, err);
  if (st == PARE_OK) st = tr_run(rt, k, first, a1, n1, C * parts, wg, NULL, err);
  if (st == PARE_OK) st = bn_kernel(rt, second, n, C, inner, &k, &wg, err);
  if (st == PARE_OK) st = tr_run(rt, k, second, a2, n2, C, wg, event, err);
  return st;
}

pare_status pare_launch_train_bn_forward_f32(pare_cl_runtime *rt, size_t n, size_t C, size_t inner,
                                             float eps, float momentum, cl_mem x, cl_mem scale,
                                             cl_mem bias, cl_mem running_mean, cl_mem running_var,
                                             cl_mem y, cl_mem saved_mean, cl_mem saved_inv_std,
                                             cl_event *event, pare_error *err) {
  if (!(eps >= 0.0f) || !(momentum >= 0.0f && momentum <= 1.0f))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: batch normalization: epsilon %g or momentum %g out of range",
                          (double)eps, (double)momentum);
  if (n == 0 || C == 0 || inner == 0) return PARE_OK;
  size_t count = n * inner, parts = bn_parts(rt, C, count);
  cl_mem partial = NULL;
  pare_status st = bn_partials(rt, C * parts * 3, &partial, err);
  if (st != PARE_OK) return st;
  cl_int ccount = (cl_int)count, cc = (cl_int)C, ci = (cl_int)inner, cp = (cl_int)parts;
  cl_int run = running_mean && running_var;
  cl_float ce = eps, cm = momentum;
  tr_arg pa[] = {VAL(ccount), VAL(cc), VAL(ci), VAL(cp), MEM(x), MEM(partial)};
  tr_arg fa[] = {VAL(cc),
                 VAL(cp),
                 VAL(ce),
                 VAL(cm),
                 MEM(partial),
                 MEM(saved_mean),
                 MEM(saved_inv_std),
                 MEM(running_mean),
                 MEM(running_var),
                 VAL(run)};
  st = bn_reduce(rt, n, C, inner, parts, "tr_bn_partial_stats", pa, 6, "tr_bn_finish_stats", fa, 10,
                 NULL, err);
  rt->cl->clReleaseMemObject(partial);
  if (st != PARE_OK) return st;
  tr_arg aa[] = {VAL(cc),    VAL(ci),   MEM(x), MEM(saved_mean), MEM(saved_inv_std),
                 MEM(scale), MEM(bias), MEM(y)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_bn_apply", n * C * inner, aa, 8, event, err);
}

pare_status pare_launch_train_bn_backward_f32(pare_cl_runtime *rt, size_t n, size_t C, size_t inner,
                                              cl_mem x, cl_mem scale, cl_mem saved_mean,
                                              cl_mem saved_inv_std, cl_mem dy, cl_mem dx,
                                              cl_mem dscale, cl_mem dbias, cl_event *event,
                                              pare_error *err) {
  if (n == 0 || C == 0 || inner == 0) return PARE_OK;
  if (!dscale || !dbias)
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "train_f32: batch normalization backward needs dscale and dbias");
  size_t count = n * inner, parts = bn_parts(rt, C, count);
  cl_mem partial = NULL;
  pare_status st = bn_partials(rt, C * parts * 2, &partial, err);
  if (st != PARE_OK) return st;
  cl_int ccount = (cl_int)count, cc = (cl_int)C, ci = (cl_int)inner, cp = (cl_int)parts;
  tr_arg pa[] = {VAL(ccount), VAL(cc), VAL(ci),         VAL(cp),
                 MEM(x),      MEM(dy), MEM(saved_mean), MEM(saved_inv_std),
                 MEM(partial)};
  tr_arg fa[] = {VAL(cc), VAL(cp), MEM(partial), MEM(dscale), MEM(dbias)};
  st = bn_reduce(rt, n, C, inner, parts, "tr_bn_partial_grad", pa, 9, "tr_bn_finish_grad", fa, 5,
                 dx ? NULL : event, err);
  rt->cl->clReleaseMemObject(partial);
  if (st != PARE_OK || !dx) return st;
  cl_float fcount = (cl_float)((double)n * (double)inner);
  tr_arg da[] = {
      VAL(cc),    VAL(ci),     VAL(fcount), MEM(x), MEM(dy), MEM(saved_mean), MEM(saved_inv_std),
      MEM(scale), MEM(dscale), MEM(dbias),  MEM(dx)};
  return tr_eltwise(rt, PARE_REF_ACT_RELU, "tr_bn_backward_dx", n * C * inner, da, 11, event, err);
}
