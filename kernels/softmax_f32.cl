/* Softmax and LogSoftmax of fp32 rows for pare: y[r, :] = softmax(x[r, :])
 * over a [rows, cols] row-major view (the last axis, or the flattened view
 * of opsets < 13), numerically stable as engine/ref/norm.c:
 *
 *   m = max_j x[j]         (fmax: NaN entries are skipped)
 *   s = sum_j exp(x[j] - m)
 *   softmax:    y[j] = exp(x[j] - m) / s
 *   logsoftmax: y[j] = (x[j] - m) - log(s)
 *
 * so a row with a NaN or +inf, or of only -inf, gives NaN everywhere, as the
 * reference does. Sums are fp32 (the reference sums in double).
 *
 *   softmax_rows   one work-item per row (rows_per_item rows each), with
 *                  SM_VW-wide vector loads and per-lane partial max/sum:
 *                  for CPUs, where a work-item is a thread.
 *   softmax_group  one work-group per row: the group's items stride over
 *                  the row and reduce through local memory (local size a
 *                  power of two): for GPUs and long rows.
 *
 * y may be x (in place). */

#ifndef SM_VW
#define SM_VW 8
#endif

#define SM_CAT_(a, b) a##b
#define SM_CAT(a, b)  SM_CAT_(a, b)

#if SM_VW == 1
#define SM_VEC          float
#define SM_VLOAD(p)     (*(p))
#define SM_VSTORE(v, p) (*(p) = (v))
#else
#define SM_VEC          SM_CAT(float, SM_VW)
#define SM_VLOAD(p)     SM_CAT(vload, SM_VW)(0, (p))
#define SM_VSTORE(v, p) SM_CAT(vstore, SM_VW)((v), 0, (p))
#endif

/* Launch: global = ceil(rows / rows_per_item) rounded up to the local size,
 * any local size. */
__kernel void softmax_rows(const int rows, const int cols, const int rows_per_item,
                           const int log_out, __global const float *x, __global float *y) {
  const int r0 = (int)get_global_id(0) * rows_per_item;
  if (r0 >= rows) return;
  const int r1 = min(rows, r0 + rows_per_item);
  for (int row = r0; row < r1; ++row) {
    __global const float *xr = x + row * cols;
    __global float *yr = y + row * cols;
    float lanes[SM_VW];
    /* Maximum. */
    SM_VEC vm = (SM_VEC)(-INFINITY);
    int j = 0;
    for (; j + SM_VW <= cols; j += SM_VW) vm = fmax(vm, SM_VLOAD(xr + j));
    SM_VSTORE(vm, lanes);
    float m = -INFINITY;
    for (int l = 0; l < SM_VW; ++l) m = fmax(m, lanes[l]);
    for (; j < cols; ++j) m = fmax(m, xr[j]);
    /* Sum of the shifted exponentials. */
    SM_VEC vs = (SM_VEC)(0.0f);
    for (j = 0; j + SM_VW <= cols; j += SM_VW) vs += exp(SM_VLOAD(xr + j) - m);
    SM_VSTORE(vs, lanes);
    float s = 0.0f;
    for (int l = 0; l < SM_VW; ++l) s += lanes[l];
    for (; j < cols; ++j) s += exp(xr[j] - m);
    /* Output. */
    if (log_out) {
      const float ls = log(s);
      for (j = 0; j + SM_VW <= cols; j += SM_VW) SM_VSTORE((SM_VLOAD(xr + j) - m) - ls, yr + j);
      for (; j < cols; ++j) yr[j] = (xr[j] - m) - ls;
    } else {
      for (j = 0; j + SM_VW <= cols; j += SM_VW) SM_VSTORE(exp(SM_VLOAD(xr + j) - m) / s, yr + j);
      for (; j < cols; ++j) yr[j] = exp(xr[j] - m) / s;
    }
  }
}

/* Launch: global = rows * local, local a power of two; scratch holds
 * `local` floats. */
__kernel void softmax_group(const int rows, const int cols, const int log_out,
                            __global const float *x, __global float *y, __local float *scratch) {
  const int row = (int)get_group_id(0);
  const int lid = (int)get_local_id(0), ls = (int)get_local_size(0);
  if (row >= rows) return; /* uniform across the group */
  __global const float *xr = x + row * cols;
  __global float *yr = y + row * cols;
  float m = -INFINITY;
  for (int j = lid; j < cols; j += ls) m = fmax(m, xr[j]);
  scratch[lid] = m;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int h = ls / 2; h > 0; h /= 2) {
    if (lid < h) scratch[lid] = fmax(scratch[lid], scratch[lid + h]);
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  m = scratch[0];
  barrier(CLK_LOCAL_MEM_FENCE);
  float s = 0.0f;
  for (int j = lid; j < cols; j += ls) s += exp(xr[j] - m);
  scratch[lid] = s;
  barrier(CLK_LOCAL_MEM_FENCE);
  for (int h = ls / 2; h > 0; h /= 2) {
    if (lid < h) scratch[lid] += scratch[lid + h];
    barrier(CLK_LOCAL_MEM_FENCE);
  }
  s = scratch[0];
  if (log_out) {
    const float lsum = log(s);
    for (int j = lid; j < cols; j += ls) yr[j] = (xr[j] - m) - lsum;
  } else {
    for (int j = lid; j < cols; j += ls) yr[j] = exp(xr[j] - m) / s;
  }
}
