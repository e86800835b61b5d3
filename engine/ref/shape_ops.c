/* Reference layout ops (Transpose, Concat, Slice, Gather, Pad), Resize, and
 * numpy-style broadcasting for the binary ops and PRelu. The layout ops move
 * elements of any size as bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/ref/ops.h"

/* Largest output dim Resize will produce (keeps products far from 2^63). */
#define RESIZE_DIM_LIMIT ((int64_t)1 << 40)

int pare_ref_shape_numel(int rank, const int64_t *dims, int64_t *count) {
  if (rank < 0 || rank > PARE_REF_MAX_RANK || (rank > 0 && !dims)) return PARE_REF_EINVAL;
  int64_t n = 1;
  int zero = 0;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return PARE_REF_EINVAL;
    if (dims[i] == 0) zero = 1;
  }
  /* Check the product of the nonzero dims for overflow even when a zero dim
   * makes the count 0, so every partial product a caller forms is safe. */
  for (int i = 0; i < rank; i++) {
    if (dims[i] == 0) continue;
    if (n > INT64_MAX / dims[i]) return PARE_REF_EINVAL;
    n *= dims[i];
  }
  *count = zero ? 0 : n;
  return PARE_REF_OK;
}

/* Row-major element strides of dims. */
static void row_major_strides(int rank, const int64_t *dims, int64_t *strides) {
  int64_t s = 1;
  for (int i = rank - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i];
  }
}

/* Steps the row-major index idx over dims by one, moving each of the offsets
 * off_a / off_b (off_b may be NULL) by its strides. */
static void odometer_step(int rank, const int64_t *dims, int64_t *idx, const int64_t *st_a,
                          int64_t *off_a, const int64_t *st_b, int64_t *off_b) {
  for (int i = rank - 1; i >= 0; i--) {
    *off_a += st_a[i];
    if (off_b) *off_b += st_b[i];
    if (++idx[i] < dims[i]) return;
    *off_a -= st_a[i] * dims[i];
    if (off_b) *off_b -= st_b[i] * dims[i];
    idx[i] = 0;
  }
}

/* Copies the elements of a strided view (dims, element strides, starting at
 * src) into contiguous dst. */
static void strided_copy(const char *src, size_t es, int rank, const int64_t *dims,
                         const int64_t *strides, char *dst) {
  int64_t count = 1;
  for (int i = 0; i < rank; i++) count *= dims[i];
  int64_t idx[PARE_REF_MAX_RANK] = {0};
  int64_t off = 0;
  for (int64_t e = 0; e < count; e++) {
    memcpy(dst + (size_t)e * es, src + (ptrdiff_t)off * (ptrdiff_t)es, es);
    odometer_step(rank, dims, idx, strides, &off, NULL, NULL);
  }
}

int pare_ref_transpose(const void *x, size_t elem_size, int rank, const int64_t *dims,
                       const int64_t *perm, void *y, int64_t *y_dims) {
  int64_t count;
  if (pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  int64_t p[PARE_REF_MAX_RANK], in_st[PARE_REF_MAX_RANK];
  int64_t out_dims[PARE_REF_MAX_RANK], st[PARE_REF_MAX_RANK];
  int seen[PARE_REF_MAX_RANK] = {0};
  for (int i = 0; i < rank; i++) {
    p[i] = perm ? perm[i] : rank - 1 - i;
    if (p[i] < 0 || p[i] >= rank || seen[p[i]]) return PARE_REF_EINVAL;
    seen[p[i]] = 1;
  }
  row_major_strides(rank, dims, in_st);
  for (int i = 0; i < rank; i++) {
    out_dims[i] = dims[p[i]];
    st[i] = in_st[p[i]];
  }
  if (y_dims)
    for (int i = 0; i < rank; i++) y_dims[i] = out_dims[i];
  if (count > 0) strided_copy(x, elem_size, rank, out_dims, st, y);
  return PARE_REF_OK;
}

int pare_ref_concat(const void *const *xs, const int64_t *const *x_dims, size_t k, int rank,
                    int64_t axis, size_t elem_size, void *y, int64_t *y_dims) {
  if (k < 1 || rank < 1 || rank > PARE_REF_MAX_RANK) return PARE_REF_EINVAL;
  if (axis < -rank || axis >= rank) return PARE_REF_EINVAL;
  if (axis < 0) axis += rank;
  int64_t out[PARE_REF_MAX_RANK], count;
  for (int i = 0; i < rank; i++) out[i] = x_dims[0][i];
  out[axis] = 0;
  for (size_t j = 0; j < k; j++) {
    if (pare_ref_shape_numel(rank, x_dims[j], &count) != PARE_REF_OK) return PARE_REF_EINVAL;
    for (int i = 0; i < rank; i++)
      if (i != axis && x_dims[j][i] != out[i]) return PARE_REF_EINVAL;
    if (out[axis] > INT64_MAX - x_dims[j][axis]) return PARE_REF_EINVAL;
    out[axis] += x_dims[j][axis];
  }
  if (pare_ref_shape_numel(rank, out, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (y_dims)
    for (int i = 0; i < rank; i++) y_dims[i] = out[i];
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= out[i];
  for (int i = (int)axis + 1; i < rank; i++) inner *= out[i];
  char *dst = y;
  for (int64_t o = 0; o < outer; o++) {
    for (size_t j = 0; j < k; j++) {
      size_t block = (size_t)(x_dims[j][axis] * inner) * elem_size;
      if (block == 0) continue; /* an empty input may come as NULL */
      memcpy(dst, (const char *)xs[j] + (size_t)o * block, block);
      dst += block;
    }
  }
  return PARE_REF_OK;
}

/* Resolves Slice's arguments into per-axis start, step and count. */
static int slice_plan(int rank, const int64_t *dims, const int64_t *starts, const int64_t *ends,
                      const int64_t *axes, const int64_t *steps, size_t n, int64_t *start,
                      int64_t *step, int64_t *cnt) {
  int64_t count;
  if (pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (n > (size_t)rank || (n > 0 && (!starts || !ends))) return PARE_REF_EINVAL;
  int seen[PARE_REF_MAX_RANK] = {0};
  for (int i = 0; i < rank; i++) {
    start[i] = 0;
    step[i] = 1;
    cnt[i] = dims[i];
  }
  for (size_t j = 0; j < n; j++) {
    int64_t a = axes ? axes[j] : (int64_t)j;
    if (a < -rank || a >= rank) return PARE_REF_EINVAL;
    if (a < 0) a += rank;
    if (seen[a]) return PARE_REF_EINVAL;
    seen[a] = 1;
    int64_t d = dims[a], s = steps ? steps[j] : 1, b = starts[j], e = ends[j];
    if (s == 0) return PARE_REF_EINVAL;
    if (b < 0) b += d; /* d >= 0, so these cannot overflow */
    if (e < 0) e += d;
    int64_t c;
    if (s > 0) {
      b = b < 0 ? 0 : (b > d ? d : b);
      e = e < 0 ? 0 : (e > d ? d : e);
      c = e > b ? 1 + (e - b - 1) / s : 0;
    } else {
      b = b < 0 ? 0 : (b > d - 1 ? d - 1 : b);
      e = e < -1 ? -1 : (e > d - 1 ? d - 1 : e);
      /* -s overflows for INT64_MIN; any step past d takes one element. */
      c = b > e ? (s < -d ? 1 : 1 + (b - e - 1) / -s) : 0;
      if (d == 0) c = 0; /* [0, d - 1] is empty: nothing to start from */
    }
    start[a] = b;
    step[a] = s;
    cnt[a] = c;
  }
  return PARE_REF_OK;
}

int pare_ref_slice_shape(int rank, const int64_t *dims, const int64_t *starts, const int64_t *ends,
                         const int64_t *axes, const int64_t *steps, size_t n, int64_t *y_dims) {
  int64_t start[PARE_REF_MAX_RANK], step[PARE_REF_MAX_RANK], cnt[PARE_REF_MAX_RANK];
  int rc = slice_plan(rank, dims, starts, ends, axes, steps, n, start, step, cnt);
  if (rc != PARE_REF_OK) return rc;
  for (int i = 0; i < rank; i++) y_dims[i] = cnt[i];
  return PARE_REF_OK;
}

int pare_ref_slice(const void *x, size_t elem_size, int rank, const int64_t *dims,
                   const int64_t *starts, const int64_t *ends, const int64_t *axes,
                   const int64_t *steps, size_t n, void *y, int64_t *y_dims) {
  int64_t start[PARE_REF_MAX_RANK], step[PARE_REF_MAX_RANK], cnt[PARE_REF_MAX_RANK];
  int rc = slice_plan(rank, dims, starts, ends, axes, steps, n, start, step, cnt);
  if (rc != PARE_REF_OK) return rc;
  if (y_dims)
    for (int i = 0; i < rank; i++) y_dims[i] = cnt[i];
  int64_t in_st[PARE_REF_MAX_RANK], st[PARE_REF_MAX_RANK], total = 1, base = 0;
  row_major_strides(rank, dims, in_st);
  for (int i = 0; i < rank; i++) total *= cnt[i];
  if (total == 0) return PARE_REF_OK; /* starts may point past the end then */
  for (int i = 0; i < rank; i++) {
    /* With one element the step is never taken (and may be huge). */
    st[i] = cnt[i] > 1 ? step[i] * in_st[i] : 0;
    base += start[i] * in_st[i];
  }
  strided_copy((const char *)x + (size_t)base * elem_size, elem_size, rank, cnt, st, y);
  return PARE_REF_OK;
}

int pare_ref_gather(const void *data, size_t elem_size, int rank, const int64_t *dims,
                    const int64_t *indices, int idx_rank, const int64_t *idx_dims, int64_t axis,
                    void *y, int *y_rank, int64_t *y_dims) {
  int64_t count, n_idx;
  if (rank < 1 || pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (pare_ref_shape_numel(idx_rank, idx_dims, &n_idx) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (rank + idx_rank - 1 > PARE_REF_MAX_RANK) return PARE_REF_EINVAL;
  if (axis < -rank || axis >= rank) return PARE_REF_EINVAL;
  if (axis < 0) axis += rank;
  int64_t len = dims[axis];
  for (int64_t j = 0; j < n_idx; j++)
    if (indices[j] < -len || indices[j] >= len) return PARE_REF_ERANGE;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; i++) outer *= dims[i];
  for (int i = (int)axis + 1; i < rank; i++) inner *= dims[i];
  if (y_rank) *y_rank = rank + idx_rank - 1;
  if (y_dims) {
    int r = 0;
    for (int i = 0; i < axis; i++) y_dims[r++] = dims[i];
    for (int i = 0; i < idx_rank; i++) y_dims[r++] = idx_dims[i];
    for (int i = (int)axis + 1; i < rank; i++) y_dims[r++] = dims[i];
  }
  size_t block = (size_t)inner * elem_size;
  if (block == 0 || n_idx == 0) return PARE_REF_OK;
  char *dst = y;
  for (int64_t o = 0; o < outer; o++) {
    const char *src = (const char *)data + (size_t)(o * len) * block;
    for (int64_t j = 0; j < n_idx; j++) {
      int64_t at = indices[j] < 0 ? indices[j] + len : indices[j];
      memcpy(dst, src + (size_t)at * block, block);
      dst += block;
    }
  }
  return PARE_REF_OK;
}

/* Per axis of Pad: the begin/end crops and the positive pads. */
typedef struct pad_axis {
  int64_t lo, len, pad_begin, out;
} pad_axis;

static int pad_plan(int rank, const int64_t *dims, const int64_t *pads, pad_axis *ax) {
  int64_t count;
  if (pare_ref_shape_numel(rank, dims, &count) != PARE_REF_OK || !pads) return PARE_REF_EINVAL;
  for (int i = 0; i < rank; i++) {
    int64_t pb = pads[i], pe = pads[rank + i];
    if (pb < -dims[i] || pe < -dims[i] || pb > INT64_MAX / 4 || pe > INT64_MAX / 4)
      return PARE_REF_EINVAL;
    ax[i].lo = pb < 0 ? -pb : 0;
    ax[i].len = dims[i] - ax[i].lo - (pe < 0 ? -pe : 0);
    if (ax[i].len < 0) return PARE_REF_EINVAL;
    ax[i].pad_begin = pb > 0 ? pb : 0;
    ax[i].out = ax[i].pad_begin + ax[i].len + (pe > 0 ? pe : 0);
  }
  int64_t out[PARE_REF_MAX_RANK];
  for (int i = 0; i < rank; i++) out[i] = ax[i].out;
  return pare_ref_shape_numel(rank, out, &count);
}

int pare_ref_pad_shape(int rank, const int64_t *dims, const int64_t *pads, int64_t *y_dims) {
  pad_axis ax[PARE_REF_MAX_RANK];
  int rc = pad_plan(rank, dims, pads, ax);
  if (rc != PARE_REF_OK) return rc;
  for (int i = 0; i < rank; i++) y_dims[i] = ax[i].out;
  return PARE_REF_OK;
}

/* Maps a position r relative to the cropped data of length len to a data
 * index in [0, len), or -1 for the constant value. */
static int64_t pad_source(pare_ref_pad_mode mode, int64_t r, int64_t len) {
  if (r >= 0 && r < len) return r;
  if (mode == PARE_REF_PAD_EDGE) return r < 0 ? 0 : len - 1;
  if (mode == PARE_REF_PAD_REFLECT) {
    if (len == 1) return 0;
    int64_t period = 2 * (len - 1);
    int64_t m = r % period;
    if (m < 0) m += period;
    return m < len ? m : period - m;
  }
  return -1;
}

int pare_ref_pad_f32(const float *x, int rank, const int64_t *dims, const int64_t *pads,
                     pare_ref_pad_mode mode, float value, float *y, int64_t *y_dims) {
  pad_axis ax[PARE_REF_MAX_RANK];
  int rc = pad_plan(rank, dims, pads, ax);
  if (rc != PARE_REF_OK) return rc;
  if (mode < PARE_REF_PAD_CONSTANT || mode > PARE_REF_PAD_EDGE) return PARE_REF_EINVAL;
  int64_t total = 1, in_st[PARE_REF_MAX_RANK], out_dims[PARE_REF_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    out_dims[i] = ax[i].out;
    total *= ax[i].out;
    /* Reflect and edge have nothing to copy from along an emptied axis. */
    if (mode != PARE_REF_PAD_CONSTANT && ax[i].len == 0 && ax[i].out > 0) return PARE_REF_EINVAL;
  }
  if (y_dims)
    for (int i = 0; i < rank; i++) y_dims[i] = out_dims[i];
  row_major_strides(rank, dims, in_st);
  int64_t idx[PARE_REF_MAX_RANK] = {0};
  for (int64_t e = 0; e < total; e++) {
    int64_t off = 0;
    int outside = 0;
    for (int i = 0; i < rank && !outside; i++) {
      int64_t s = pad_source(mode, idx[i] - ax[i].pad_begin, ax[i].len);
      if (s < 0)
        outside = 1;
      else
        off += (ax[i].lo + s) * in_st[i];
    }
    y[e] = outside ? value : x[off];
    for (int i = rank - 1; i >= 0; i--) {
      if (++idx[i] < out_dims[i]) break;
      idx[i] = 0;
    }
  }
  return PARE_REF_OK;
}

int pare_ref_resize_shape(int rank, const int64_t *x_dims, const float *scales,
                          const int64_t *sizes, int64_t *y_dims) {
  int64_t count, out[PARE_REF_MAX_RANK] = {0};
  if (pare_ref_shape_numel(rank, x_dims, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  if (!scales == !sizes) return PARE_REF_EINVAL;
  for (int i = 0; i < rank; i++) {
    if (scales) {
      double s = (double)scales[i];
      if (!(s > 0.0) || !isfinite(s)) return PARE_REF_EINVAL;
      double o = floor((double)x_dims[i] * s);
      if (o > (double)RESIZE_DIM_LIMIT) return PARE_REF_EINVAL;
      out[i] = (int64_t)o;
    } else {
      out[i] = sizes[i];
      if (out[i] < 0 || out[i] > RESIZE_DIM_LIMIT) return PARE_REF_EINVAL;
    }
    if (x_dims[i] == 0 && out[i] > 0) return PARE_REF_EINVAL;
  }
  if (pare_ref_shape_numel(rank, out, &count) != PARE_REF_OK) return PARE_REF_EINVAL;
  for (int i = 0; i < rank; i++) y_dims[i] = out[i];
  return PARE_REF_OK;
}

/* The source coordinate of output coordinate o along an axis of in -> out
 * elements at the given scale. length is the unrounded output length: in ·
 * scale when scales are given, else out; as in the ONNX reference,
 * align_corners divides by length - 1, not by out - 1. */
static double resize_coord(pare_ref_resize_coord mode, double o, int64_t in, int64_t out,
                           double scale, double length) {
  switch (mode) {
  case PARE_REF_COORD_HALF_PIXEL: return (o + 0.5) / scale - 0.5;
  case PARE_REF_COORD_ASYMMETRIC: return o / scale;
  case PARE_REF_COORD_ALIGN_CORNERS:
    return length == 1.0 ? 0.0 : o * (double)(in - 1) / (length - 1.0);
  case PARE_REF_COORD_PYTORCH_HALF_PIXEL: return out > 1 ? (o + 0.5) / scale - 0.5 : 0.0;
  case PARE_REF_COORD_TF_HALF_PIXEL_FOR_NN: return (o + 0.5) / scale;
  case PARE_REF_COORD_HALF_PIXEL_SYMMETRIC: {
    double adjust = (double)out / length;
    double offset = (double)in / 2.0 * (1.0 - adjust);
    return offset + (o + 0.5) / scale - 0.5;
  }
  }
  return o / scale;
}

/* Rounds a nearest-mode source coordinate to an index. */
static double resize_round(pare_ref_resize_nearest mode, double x) {
  double f = floor(x);
  switch (mode) {
  case PARE_REF_NEAREST_ROUND_PREFER_FLOOR: return x == f + 0.5 ? f : round(x);
  case PARE_REF_NEAREST_ROUND_PREFER_CEIL: return x == f + 0.5 ? f + 1.0 : round(x);
  case PARE_REF_NEAREST_FLOOR: return f;
  case PARE_REF_NEAREST_CEIL: return ceil(x);
  }
  return f;
}

/* Clamps a double to [0, hi] (NaN goes to 0). */
static double clamp_index(double v, int64_t hi) {
  if (!(v > 0.0)) return 0.0;
  return v > (double)hi ? (double)hi : v;
}

int pare_ref_resize_f32(const pare_ref_resize_params *p, const float *x, int rank,
                        const int64_t *x_dims, const float *scales, const int64_t *sizes, float *y,
                        int64_t *y_dims) {
  int64_t out[PARE_REF_MAX_RANK];
  int rc = pare_ref_resize_shape(rank, x_dims, scales, sizes, out);
  if (rc != PARE_REF_OK) return rc;
  if (p->mode != PARE_REF_RESIZE_NEAREST && p->mode != PARE_REF_RESIZE_LINEAR)
    return PARE_REF_EINVAL;
  if (y_dims)
    for (int i = 0; i < rank; i++) y_dims[i] = out[i];
  int64_t total = 1, table_len = 0, in_st[PARE_REF_MAX_RANK], first[PARE_REF_MAX_RANK];
  for (int i = 0; i < rank; i++) {
    total *= out[i];
    first[i] = table_len;
    table_len += out[i];
  }
  if (total == 0) return PARE_REF_OK;
  /* Per axis and output coordinate: the lower source index, the step to the
   * upper one (0 or 1) and the upper one's weight (0 for nearest). */
  int64_t *lo = malloc((size_t)table_len * sizeof *lo);
  int64_t *up = malloc((size_t)table_len * sizeof *up);
  double *wt = malloc((size_t)table_len * sizeof *wt);
  if (!lo || !up || !wt) {
    free(lo);
    free(up);
    free(wt);
    return PARE_REF_ENOMEM;
  }
  for (int i = 0; i < rank; i++) {
    int64_t in = x_dims[i];
    double scale = scales ? (double)scales[i] : (double)out[i] / (double)in;
    double length = scales ? (double)in * scale : (double)out[i];
    for (int64_t o = 0; o < out[i]; o++) {
      double c = resize_coord(p->coord, (double)o, in, out[i], scale, length);
      int64_t t = first[i] + o;
      if (p->mode == PARE_REF_RESIZE_NEAREST) {
        lo[t] = (int64_t)clamp_index(resize_round(p->nearest, c), in - 1);
        up[t] = 0;
        wt[t] = 0.0;
      } else {
        c = clamp_index(c, in - 1);
        lo[t] = (int64_t)floor(c);
        up[t] = lo[t] < in - 1 ? 1 : 0;
        wt[t] = c - (double)lo[t];
      }
    }
  }
  row_major_strides(rank, x_dims, in_st);
  int64_t idx[PARE_REF_MAX_RANK] = {0};
  for (int64_t e = 0; e < total; e++) {
    /* The axes that interpolate here; the corners are the 2^na mixes of
     * their lower and upper indexes. */
    int active[PARE_REF_MAX_RANK], na = 0;
    int64_t base = 0;
    for (int i = 0; i < rank; i++) {
      int64_t t = first[i] + idx[i];
      base += lo[t] * in_st[i];
      if (up[t] && wt[t] != 0.0) active[na++] = i;
    }
    double acc = 0.0;
    for (unsigned corner = 0; corner < (1u << na); corner++) {
      double w = 1.0;
      int64_t off = base;
      for (int a = 0; a < na; a++) {
        int64_t t = first[active[a]] + idx[active[a]];
        if (corner & (1u << a)) {
          w *= wt[t];
          off += in_st[active[a]];
        } else {
          w *= 1.0 - wt[t];
        }
      }
      acc += w * (double)x[off];
    }
    y[e] = (float)acc;
    for (int i = rank - 1; i >= 0; i--) {
      if (++idx[i] < out[i]) break;
      idx[i] = 0;
    }
  }
  free(lo);
  free(up);
  free(wt);
  return PARE_REF_OK;
}

int pare_ref_broadcast_shape(int a_rank, const int64_t *a_dims, int b_rank, const int64_t *b_dims,
                             int *y_rank, int64_t *y_dims) {
  int64_t count;
  if (pare_ref_shape_numel(a_rank, a_dims, &count) != PARE_REF_OK ||
      pare_ref_shape_numel(b_rank, b_dims, &count) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  int r = a_rank > b_rank ? a_rank : b_rank;
  int64_t out[PARE_REF_MAX_RANK];
  for (int i = 0; i < r; i++) {
    /* Align at the end; a missing dim acts as 1. */
    int ia = i - (r - a_rank), ib = i - (r - b_rank);
    int64_t da = ia >= 0 ? a_dims[ia] : 1, db = ib >= 0 ? b_dims[ib] : 1;
    if (da != db && da != 1 && db != 1) return PARE_REF_EINVAL;
    out[i] = da == 1 ? db : da;
  }
  *y_rank = r;
  for (int i = 0; i < r; i++) y_dims[i] = out[i];
  return PARE_REF_OK;
}

int pare_ref_broadcast_strides(int in_rank, const int64_t *in_dims, int y_rank,
                               const int64_t *y_dims, int64_t *strides) {
  if (in_rank < 0 || y_rank > PARE_REF_MAX_RANK || in_rank > y_rank) return PARE_REF_EINVAL;
  int64_t in_st[PARE_REF_MAX_RANK];
  row_major_strides(in_rank, in_dims, in_st);
  for (int i = 0; i < y_rank; i++) {
    int j = i - (y_rank - in_rank);
    if (j < 0) {
      strides[i] = 0;
    } else if (in_dims[j] == y_dims[i]) {
      strides[i] = in_dims[j] == 1 ? 0 : in_st[j];
    } else if (in_dims[j] == 1) {
      strides[i] = 0;
    } else {
      return PARE_REF_EINVAL;
    }
  }
  return PARE_REF_OK;
}

int pare_ref_broadcast_binop_f32(pare_ref_binop op, const float *a, int a_rank,
                                 const int64_t *a_dims, const float *b, int b_rank,
                                 const int64_t *b_dims, float *y, int *y_rank, int64_t *y_dims) {
  int r;
  int64_t out[PARE_REF_MAX_RANK], sa[PARE_REF_MAX_RANK], sb[PARE_REF_MAX_RANK], total;
  int rc = pare_ref_broadcast_shape(a_rank, a_dims, b_rank, b_dims, &r, out);
  if (rc != PARE_REF_OK) return rc;
  if (pare_ref_shape_numel(r, out, &total) != PARE_REF_OK) return PARE_REF_EINVAL;
  pare_ref_broadcast_strides(a_rank, a_dims, r, out, sa);
  pare_ref_broadcast_strides(b_rank, b_dims, r, out, sb);
  if (y_rank) *y_rank = r;
  if (y_dims)
    for (int i = 0; i < r; i++) y_dims[i] = out[i];
  int64_t idx[PARE_REF_MAX_RANK] = {0}, oa = 0, ob = 0;
  for (int64_t e = 0; e < total; e++) {
    y[e] = pare_ref_binop_apply(op, a[oa], b[ob]);
    odometer_step(r, out, idx, sa, &oa, sb, &ob);
  }
  return PARE_REF_OK;
}

int pare_ref_prelu_f32(const float *x, int rank, const int64_t *dims, const float *slope,
                       int s_rank, const int64_t *s_dims, float *y) {
  int64_t total, count, ss[PARE_REF_MAX_RANK], zero[PARE_REF_MAX_RANK] = {0};
  if (pare_ref_shape_numel(rank, dims, &total) != PARE_REF_OK ||
      pare_ref_shape_numel(s_rank, s_dims, &count) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  /* Unidirectional: the slope must broadcast to exactly the shape of x. */
  if (pare_ref_broadcast_strides(s_rank, s_dims, rank, dims, ss) != PARE_REF_OK)
    return PARE_REF_EINVAL;
  int64_t idx[PARE_REF_MAX_RANK] = {0}, os = 0, ox = 0;
  for (int64_t e = 0; e < total; e++) {
    float v = x[e];
    y[e] = v < 0.0f ? slope[os] * v : v;
    odometer_step(rank, dims, idx, ss, &os, zero, &ox);
  }
  return PARE_REF_OK;
}
