/* Ops that change only how data is laid out or described: Flatten,
 * Reshape, Squeeze, Unsqueeze, Shape (and, with the reference's byte
 * movers, Transpose, Concat, Gather, Slice, Pad, Resize). */
#include <string.h>

#include <stdlib.h>

#include "engine/exec/exec.h"
#include "engine/ref/ops.h"

static size_t elem_size(const pare_tensor *t) { return pare_dtype_bytes(t->dtype, 1); }

/* Same bytes, new shape (nothing to move when the memory plan gave the
 * output its input's buffer). */
static pare_status copy_run(pare_op_ctx *ctx) {
  if (ctx->in[0]->nbytes && ctx->out[0]->data != ctx->in[0]->data)
    memcpy(ctx->out[0]->data, ctx->in[0]->data, ctx->in[0]->nbytes);
  return PARE_OK;
}

static pare_status flatten_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axis = pare_node_attr_int(ctx->node, "axis", 1);
  if (axis < 0) axis += x->rank;
  if (axis < 0 || axis > x->rank)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "axis %lld is out of range for rank %d",
                        (long long)axis, x->rank);
  int64_t dims[2] = {1, 1};
  for (int i = 0; i < x->rank; i++) dims[i < axis ? 0 : 1] *= x->dims[i];
  pare_op_set_out(ctx, 0, x->dtype, 2, dims);
  return PARE_OK;
}

static pare_status reshape_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t shape[PARE_MAX_RANK];
  int n = 0;
  if (ctx->n_in > 1 && ctx->in[1]) {
    st = pare_op_const_ints(ctx, 1, shape, PARE_MAX_RANK, &n);
    if (st != PARE_OK) return st;
  } else {
    const int64_t *s = pare_node_attr_ints(ctx->node, "shape", &n); /* opset < 5 */
    if (n > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "rank %d", n);
    for (int i = 0; i < n; i++) shape[i] = s[i];
  }
  int allowzero = (int)pare_node_attr_int(ctx->node, "allowzero", 0);
  int64_t total = pare_tensor_numel(x), known = 1;
  int infer = -1;
  for (int i = 0; i < n; i++) {
    if (shape[i] == 0 && !allowzero) {
      if (i >= x->rank)
        return pare_op_fail(ctx, PARE_ERR_FORMAT, "0 copies a missing dimension %d", i);
      shape[i] = x->dims[i];
    }
    if (shape[i] == -1) {
      if (infer >= 0) return pare_op_fail(ctx, PARE_ERR_FORMAT, "more than one -1 in the shape");
      infer = i;
    } else if (shape[i] < 0) {
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "negative dimension %lld", (long long)shape[i]);
    } else {
      known *= shape[i];
    }
  }
  if (infer >= 0) {
    if (known == 0 || total % known)
      return pare_op_fail(ctx, PARE_ERR_FORMAT,
                          "cannot infer -1: %lld elements into blocks of %lld", (long long)total,
                          (long long)known);
    shape[infer] = total / known;
    known *= shape[infer];
  }
  if (known != total)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "shape holds %lld elements, the input has %lld",
                        (long long)known, (long long)total);
  pare_op_set_out(ctx, 0, x->dtype, n, shape);
  return PARE_OK;
}

/* Axes from the attribute (old opsets) or the second input (opset 13 on). */
static pare_status axes_of(pare_op_ctx *ctx, int64_t *axes, int *n) {
  if (ctx->n_in > 1 && ctx->in[1]) return pare_op_const_ints(ctx, 1, axes, PARE_MAX_RANK, n);
  const int64_t *a = pare_node_attr_ints(ctx->node, "axes", n);
  if (*n > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "too many axes");
  for (int i = 0; i < *n; i++) axes[i] = a[i];
  return PARE_OK;
}

static pare_status squeeze_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axes[PARE_MAX_RANK];
  int n = 0;
  st = axes_of(ctx, axes, &n);
  if (st != PARE_OK) return st;
  char drop[PARE_MAX_RANK] = {0};
  for (int i = 0; i < n; i++) {
    int a;
    st = pare_op_axis(ctx, axes[i], x->rank, &a);
    if (st != PARE_OK) return st;
    if (x->dims[a] != 1)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "cannot squeeze axis %d of size %lld", a,
                          (long long)x->dims[a]);
    drop[a] = 1;
  }
  int64_t dims[PARE_MAX_RANK];
  int r = 0;
  for (int i = 0; i < x->rank; i++)
    if (!(n ? drop[i] : x->dims[i] == 1)) dims[r++] = x->dims[i];
  pare_op_set_out(ctx, 0, x->dtype, r, dims);
  return PARE_OK;
}

static pare_status unsqueeze_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t axes[PARE_MAX_RANK];
  int n = 0;
  st = axes_of(ctx, axes, &n);
  if (st != PARE_OK) return st;
  int r = x->rank + n;
  if (r > PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "rank %d", r);
  char ins[PARE_MAX_RANK] = {0};
  for (int i = 0; i < n; i++) {
    int a;
    st = pare_op_axis(ctx, axes[i], r, &a);
    if (st != PARE_OK) return st;
    if (ins[a]) return pare_op_fail(ctx, PARE_ERR_FORMAT, "axis %d given twice", a);
    ins[a] = 1;
  }
  int64_t dims[PARE_MAX_RANK];
  for (int i = 0, j = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[j++];
  pare_op_set_out(ctx, 0, x->dtype, r, dims);
  return PARE_OK;
}

static pare_status shape_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  if (st != PARE_OK) return st;
  int r = ctx->in[0]->rank;
  int64_t start = pare_node_attr_int(ctx->node, "start", 0);
  int64_t end = pare_node_attr_int(ctx->node, "end", r);
  if (start < 0) start += r;
  if (end < 0) end += r;
  start = start < 0 ? 0 : start > r ? r : start;
  end = end < 0 ? 0 : end > r ? r : end;
  int64_t n = end > start ? end - start : 0;
  pare_op_set_out(ctx, 0, PARE_DT_I64, 1, &n);
  return PARE_OK;
}

static pare_status shape_run(pare_op_ctx *ctx) {
  int r = ctx->in[0]->rank;
  int64_t start = pare_node_attr_int(ctx->node, "start", 0);
  if (start < 0) start += r;
  if (start < 0) start = 0;
  int64_t *out = ctx->out[0]->data;
  for (int64_t i = 0; i < ctx->out[0]->dims[0]; i++) out[i] = ctx->in[0]->dims[start + i];
  return PARE_OK;
}

/* ---- Transpose ---- */

static pare_status perm_of(pare_op_ctx *ctx, int64_t *perm) {
  int r = ctx->in[0]->rank, n = 0;
  const int64_t *p = pare_node_attr_ints(ctx->node, "perm", &n);
  if (p && n != r)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "perm has %d values for rank %d", n, r);
  for (int i = 0; i < r; i++) perm[i] = p ? p[i] : r - 1 - i;
  return PARE_OK;
}

static pare_status transpose_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 1);
  int64_t perm[PARE_MAX_RANK], dims[PARE_MAX_RANK];
  if (st == PARE_OK) st = perm_of(ctx, perm);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  char seen[PARE_MAX_RANK] = {0};
  for (int i = 0; i < x->rank; i++) {
    if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]])
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "perm is not a permutation");
    seen[perm[i]] = 1;
    dims[i] = x->dims[perm[i]];
  }
  pare_op_set_out(ctx, 0, x->dtype, x->rank, dims);
  return PARE_OK;
}

static pare_status transpose_run(pare_op_ctx *ctx) {
  int64_t perm[PARE_MAX_RANK], dims[PARE_MAX_RANK];
  pare_status st = perm_of(ctx, perm);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  return pare_op_ref_fail(
      ctx,
      pare_ref_transpose(x->data, elem_size(x), x->rank, x->dims, perm, ctx->out[0]->data, dims),
      "transpose failed");
}

/* ---- Concat ---- */

static pare_status concat_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 1, 64);
  if (st != PARE_OK) return st;
  const pare_tensor *x0 = ctx->in[0];
  int axis;
  st = pare_op_axis(ctx, pare_node_attr_int(ctx->node, "axis", 0), x0->rank, &axis);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  memcpy(dims, x0->dims, sizeof dims);
  dims[axis] = 0;
  for (int i = 0; i < ctx->n_in; i++) {
    const pare_tensor *x = ctx->in[i];
    if (!x || x->rank != x0->rank || x->dtype != x0->dtype)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d differs in rank or dtype", i);
    for (int d = 0; d < x->rank; d++)
      if (d != axis && x->dims[d] != x0->dims[d])
        return pare_op_fail(ctx, PARE_ERR_FORMAT, "input %d differs in dimension %d", i, d);
    dims[axis] += x->dims[axis];
  }
  pare_op_set_out(ctx, 0, x0->dtype, x0->rank, dims);
  return PARE_OK;
}

static pare_status concat_run(pare_op_ctx *ctx) {
  const void *xs[64];
  const int64_t *xd[64];
  for (int i = 0; i < ctx->n_in; i++) {
    xs[i] = ctx->in[i]->data;
    xd[i] = ctx->in[i]->dims;
  }
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(ctx,
                          pare_ref_concat(xs, xd, (size_t)ctx->n_in, ctx->in[0]->rank,
                                          pare_node_attr_int(ctx->node, "axis", 0),
                                          elem_size(ctx->in[0]), ctx->out[0]->data, dims),
                          "concat failed");
}

/* ---- Gather ---- */

/* The indices as int64 (malloc'ed). */
static pare_status gather_indices(pare_op_ctx *ctx, int64_t **out) {
  const pare_tensor *t = ctx->in[1];
  int64_t n = pare_tensor_numel(t);
  int64_t *idx = malloc(sizeof(int64_t) * (size_t)(n > 0 ? n : 1));
  if (!idx) return pare_op_fail(ctx, PARE_ERR_NO_MEMORY, "out of memory");
  for (int64_t i = 0; i < n; i++) {
    if (t->dtype == PARE_DT_I64)
      idx[i] = ((const int64_t *)t->data)[i];
    else if (t->dtype == PARE_DT_I32)
      idx[i] = ((const int32_t *)t->data)[i];
    else {
      free(idx);
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "indices must be int32 or int64");
    }
  }
  *out = idx;
  return PARE_OK;
}

static pare_status gather_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 2);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0], *i = ctx->in[1];
  int axis;
  st = pare_op_axis(ctx, pare_node_attr_int(ctx->node, "axis", 0), x->rank, &axis);
  if (st != PARE_OK) return st;
  if (x->rank + i->rank - 1 > PARE_MAX_RANK)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "output rank above %d", PARE_MAX_RANK);
  int64_t dims[PARE_MAX_RANK];
  int r = 0;
  for (int d = 0; d < axis; d++) dims[r++] = x->dims[d];
  for (int d = 0; d < i->rank; d++) dims[r++] = i->dims[d];
  for (int d = axis + 1; d < x->rank; d++) dims[r++] = x->dims[d];
  pare_op_set_out(ctx, 0, x->dtype, r, dims);
  return PARE_OK;
}

static pare_status gather_run(pare_op_ctx *ctx) {
  int64_t *idx = NULL;
  pare_status st = gather_indices(ctx, &idx);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0], *i = ctx->in[1];
  int rank;
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(ctx,
                        pare_ref_gather(x->data, elem_size(x), x->rank, x->dims, idx, i->rank,
                                        i->dims, pare_node_attr_int(ctx->node, "axis", 0),
                                        ctx->out[0]->data, &rank, dims),
                        "gather failed");
  free(idx);
  return st;
}

/* ---- Slice ---- */

typedef struct slice_args {
  int64_t starts[PARE_MAX_RANK], ends[PARE_MAX_RANK], axes[PARE_MAX_RANK], steps[PARE_MAX_RANK];
  int n;
} slice_args;

static pare_status slice_args_of(pare_op_ctx *ctx, slice_args *a) {
  pare_status st = pare_op_need_inputs(ctx, 1, 5);
  if (st != PARE_OK) return st;
  int r = ctx->in[0]->rank, n_ends = 0, n_axes = 0, n_steps = 0;
  if (ctx->n_in == 1) { /* opset < 10: attributes */
    const int64_t *s = pare_node_attr_ints(ctx->node, "starts", &a->n);
    const int64_t *e = pare_node_attr_ints(ctx->node, "ends", &n_ends);
    const int64_t *x = pare_node_attr_ints(ctx->node, "axes", &n_axes);
    if (!s || !e || n_ends != a->n || a->n > PARE_MAX_RANK || (x && n_axes != a->n))
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "starts/ends/axes attributes disagree");
    for (int i = 0; i < a->n; i++) {
      a->starts[i] = s[i];
      a->ends[i] = e[i];
      a->axes[i] = x ? x[i] : i;
      a->steps[i] = 1;
    }
    return PARE_OK;
  }
  if (ctx->n_in < 3 || !ctx->in[1] || !ctx->in[2])
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "starts and ends inputs are required");
  st = pare_op_const_ints(ctx, 1, a->starts, PARE_MAX_RANK, &a->n);
  if (st == PARE_OK) st = pare_op_const_ints(ctx, 2, a->ends, PARE_MAX_RANK, &n_ends);
  /* On failure a->n is unset: the defaults below must not run. */
  if (st != PARE_OK) return st;
  if (ctx->n_in > 3 && ctx->in[3])
    st = pare_op_const_ints(ctx, 3, a->axes, PARE_MAX_RANK, &n_axes);
  else
    for (int i = 0; i < a->n; i++) a->axes[i] = i, n_axes = a->n;
  if (st != PARE_OK) return st;
  if (ctx->n_in > 4 && ctx->in[4])
    st = pare_op_const_ints(ctx, 4, a->steps, PARE_MAX_RANK, &n_steps);
  else
    for (int i = 0; i < a->n; i++) a->steps[i] = 1, n_steps = a->n;
  if (st != PARE_OK) return st;
  if (n_ends != a->n || n_axes != a->n || n_steps != a->n || a->n > r)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "starts, ends, axes and steps differ in length");
  return PARE_OK;
}

static pare_status slice_shape(pare_op_ctx *ctx) {
  slice_args a;
  pare_status st = slice_args_of(ctx, &a);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(
      ctx,
      pare_ref_slice_shape(x->rank, x->dims, a.starts, a.ends, a.axes, a.steps, (size_t)a.n, dims),
      "bad slice");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, x->dtype, x->rank, dims);
  return st;
}

static pare_status slice_run(pare_op_ctx *ctx) {
  slice_args a;
  pare_status st = slice_args_of(ctx, &a);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(ctx,
                          pare_ref_slice(x->data, elem_size(x), x->rank, x->dims, a.starts, a.ends,
                                         a.axes, a.steps, (size_t)a.n, ctx->out[0]->data, dims),
                          "slice failed");
}

/* ---- Pad ---- */

typedef struct pad_args {
  int64_t pads[2 * PARE_MAX_RANK];
  pare_ref_pad_mode mode;
  float value;
} pad_args;

/* with_value: read constant_value too (at run time, when inputs have data). */
static pare_status pad_args_of(pare_op_ctx *ctx, pad_args *a, int with_value) {
  pare_status st = pare_op_need_inputs(ctx, 1, 4);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  if (st != PARE_OK) return st;
  int r = ctx->in[0]->rank, n = 0;
  if (ctx->n_in > 3 && ctx->in[3])
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "the axes input of opset 18");
  if (ctx->n_in > 1 && ctx->in[1]) {
    st = pare_op_const_ints(ctx, 1, a->pads, 2 * PARE_MAX_RANK, &n);
    if (st != PARE_OK) return st;
  } else {
    const int64_t *p = pare_node_attr_ints(ctx->node, "pads", &n);
    if (!p || n > 2 * PARE_MAX_RANK) return pare_op_fail(ctx, PARE_ERR_FORMAT, "pads are required");
    memcpy(a->pads, p, sizeof(int64_t) * (size_t)n);
  }
  if (n != 2 * r) return pare_op_fail(ctx, PARE_ERR_FORMAT, "pads has %d values for rank %d", n, r);
  a->value = pare_node_attr_float(ctx->node, "value", 0.0f);
  if (with_value && ctx->n_in > 2 && ctx->in[2]) {
    const pare_tensor *v = ctx->in[2];
    if (v->dtype != PARE_DT_F32 || pare_tensor_numel(v) != 1 || !v->data)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "constant_value must be an f32 scalar");
    a->value = *(const float *)v->data;
  }
  const char *mode = pare_node_attr_string(ctx->node, "mode", "constant");
  if (!strcmp(mode, "constant"))
    a->mode = PARE_REF_PAD_CONSTANT;
  else if (!strcmp(mode, "reflect"))
    a->mode = PARE_REF_PAD_REFLECT;
  else if (!strcmp(mode, "edge"))
    a->mode = PARE_REF_PAD_EDGE;
  else
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "mode '%s'", mode);
  return PARE_OK;
}

static pare_status pad_shape(pare_op_ctx *ctx) {
  pad_args a;
  pare_status st = pad_args_of(ctx, &a, 0);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(ctx, pare_ref_pad_shape(ctx->in[0]->rank, ctx->in[0]->dims, a.pads, dims),
                        "bad pads");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, dims);
  return st;
}

static pare_status pad_run(pare_op_ctx *ctx) {
  pad_args a;
  pare_status st = pad_args_of(ctx, &a, 1);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(
      ctx,
      pare_ref_pad_f32(x->data, x->rank, x->dims, a.pads, a.mode, a.value, ctx->out[0]->data, dims),
      "pad failed");
}

/* ---- Resize ---- */

typedef struct resize_args {
  pare_ref_resize_params p;
  float scales[PARE_MAX_RANK];
  int64_t sizes[PARE_MAX_RANK];
  int use_sizes;
} resize_args;

static pare_status resize_args_of(pare_op_ctx *ctx, resize_args *a) {
  pare_status st = pare_op_need_inputs(ctx, 1, 4);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  if (st != PARE_OK) return st;
  int r = ctx->in[0]->rank;
  const pare_node *n = ctx->node;
  const char *mode = pare_node_attr_string(n, "mode", "nearest");
  if (!strcmp(mode, "nearest"))
    a->p.mode = PARE_REF_RESIZE_NEAREST;
  else if (!strcmp(mode, "linear") || !strcmp(mode, "bilinear"))
    a->p.mode = PARE_REF_RESIZE_LINEAR;
  else
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "mode '%s'", mode);
  static const char *coords[] = {"half_pixel",
                                 "asymmetric",
                                 "align_corners",
                                 "pytorch_half_pixel",
                                 "tf_half_pixel_for_nearest",
                                 "half_pixel_symmetric"};
  const char *coord = pare_node_attr_string(n, "coordinate_transformation_mode",
                                            ctx->graph->opset < 11 ? "asymmetric" : "half_pixel");
  int found = 0;
  for (int i = 0; i < 6; i++)
    if (!strcmp(coord, coords[i])) a->p.coord = (pare_ref_resize_coord)i, found = 1;
  if (!found)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "coordinate_transformation_mode '%s'", coord);
  static const char *nearest[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
  const char *nm = pare_node_attr_string(n, "nearest_mode", "round_prefer_floor");
  found = 0;
  for (int i = 0; i < 4; i++)
    if (!strcmp(nm, nearest[i])) a->p.nearest = (pare_ref_resize_nearest)i, found = 1;
  if (!found) return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "nearest_mode '%s'", nm);
  if (pare_node_attr_int(n, "antialias", 0) || pare_node_attr(n, "axes") ||
      pare_node_attr(n, "keep_aspect_ratio_policy"))
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "antialias, axes and keep_aspect_ratio_policy");
  if (pare_node_attr(n, "scales")) /* Upsample-style attribute: not in Resize's spec */
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "a scales attribute");
  /* Opset 10: X, scales. Opset 11 on: X, roi, scales, sizes. */
  int scales_at = ctx->graph->opset < 11 ? 1 : 2, sizes_at = 3;
  const pare_tensor *s = scales_at < ctx->n_in ? ctx->in[scales_at] : NULL;
  const pare_tensor *z = sizes_at < ctx->n_in ? ctx->in[sizes_at] : NULL;
  if (s && pare_tensor_numel(s) == 0) s = NULL;
  if (z && pare_tensor_numel(z) == 0) z = NULL;
  if (!!s == !!z)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "needs exactly one of scales and sizes");
  a->use_sizes = z != NULL;
  if (z) {
    int cnt;
    st = pare_op_const_ints(ctx, sizes_at, a->sizes, PARE_MAX_RANK, &cnt);
    if (st == PARE_OK && cnt != r)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "sizes has %d values", cnt);
    return st;
  }
  if (!s->is_const || s->dtype != PARE_DT_F32 || pare_tensor_numel(s) != r)
    return pare_op_fail(ctx, PARE_ERR_UNSUPPORTED, "scales must be %d known f32 values", r);
  memcpy(a->scales, s->data, sizeof(float) * (size_t)r);
  return PARE_OK;
}

static pare_status resize_shape(pare_op_ctx *ctx) {
  resize_args a;
  pare_status st = resize_args_of(ctx, &a);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  st = pare_op_ref_fail(ctx,
                        pare_ref_resize_shape(ctx->in[0]->rank, ctx->in[0]->dims,
                                              a.use_sizes ? NULL : a.scales,
                                              a.use_sizes ? a.sizes : NULL, dims),
                        "bad scales or sizes");
  if (st == PARE_OK) pare_op_set_out(ctx, 0, PARE_DT_F32, ctx->in[0]->rank, dims);
  return st;
}

static pare_status resize_run(pare_op_ctx *ctx) {
  resize_args a;
  pare_status st = resize_args_of(ctx, &a);
  if (st != PARE_OK) return st;
  const pare_tensor *x = ctx->in[0];
  int64_t dims[PARE_MAX_RANK];
  return pare_op_ref_fail(
      ctx,
      pare_ref_resize_f32(&a.p, x->data, x->rank, x->dims, a.use_sizes ? NULL : a.scales,
                          a.use_sizes ? a.sizes : NULL, ctx->out[0]->data, dims),
      "resize failed");
}

static const pare_op_impl flatten = {flatten_shape, copy_run};
static const pare_op_impl reshape = {reshape_shape, copy_run};
static const pare_op_impl squeeze = {squeeze_shape, copy_run};
static const pare_op_impl unsqueeze = {unsqueeze_shape, copy_run};
static const pare_op_impl shape = {shape_shape, shape_run};
static const pare_op_impl transpose = {transpose_shape, transpose_run};
static const pare_op_impl concat = {concat_shape, concat_run};
static const pare_op_impl gather = {gather_shape, gather_run};
static const pare_op_impl slice = {slice_shape, slice_run};
static const pare_op_impl pad = {pad_shape, pad_run};
static const pare_op_impl resize = {resize_shape, resize_run};

const pare_op_impl *pare_op_impl_layout(pare_op op) {
  switch (op) {
  case PARE_OP_FLATTEN: return &flatten;
  case PARE_OP_RESHAPE: return &reshape;
  case PARE_OP_SQUEEZE: return &squeeze;
  case PARE_OP_UNSQUEEZE: return &unsqueeze;
  case PARE_OP_SHAPE: return &shape;
  case PARE_OP_TRANSPOSE: return &transpose;
  case PARE_OP_CONCAT: return &concat;
  case PARE_OP_GATHER: return &gather;
  case PARE_OP_SLICE: return &slice;
  case PARE_OP_PAD: return &pad;
  case PARE_OP_RESIZE: return &resize;
  default: return NULL;
  }
}
