/* Reference compaction and product over sparse activations (see
 * engine/ref/spact.h): straightforward loops, sums in double. */
#include "engine/ref/spact.h"

/* Positions must fit the int32 index arrays, and rows·k a size_t. */
static int shape_ok(size_t rows, size_t k) {
  if (k > INT32_MAX || rows > INT32_MAX) return 0;
  return rows == 0 || k <= SIZE_MAX / rows;
}

int pare_ref_spact_compact_f32(size_t rows, size_t k, const float *x, size_t ldx, int32_t *idx,
                               float *val, int32_t *count) {
  if (!shape_ok(rows, k)) return PARE_REF_SPACT_EINVAL;
  if (rows == 0) return PARE_REF_SPACT_OK;
  if (!count || (k && (!x || !idx || !val || ldx < k))) return PARE_REF_SPACT_EINVAL;
  for (size_t r = 0; r < rows; r++) {
    int32_t c = 0;
    for (size_t j = 0; j < k; j++) {
      const float v = x[r * ldx + j];
      if (v == 0.0f) continue; /* +0.0 and -0.0 */
      idx[r * k + (size_t)c] = (int32_t)j;
      val[r * k + (size_t)c] = v;
      c++;
    }
    count[r] = c;
  }
  return PARE_REF_SPACT_OK;
}

int pare_ref_spact_fc_f32(size_t rows, size_t m, size_t k, const int32_t *idx, const float *val,
                          const int32_t *count, const float *wt, const float *bias, int relu,
                          float *y, size_t ldy) {
  if (!shape_ok(rows, k) || (m && k > SIZE_MAX / m)) return PARE_REF_SPACT_EINVAL;
  if (rows == 0 || m == 0) return PARE_REF_SPACT_OK;
  if (!count || !y || ldy < m || (k && (!idx || !val || !wt))) return PARE_REF_SPACT_EINVAL;
  /* Validate everything first, so that a bad index leaves y untouched. */
  for (size_t r = 0; r < rows; r++) {
    if (count[r] < 0 || (size_t)count[r] > k) return PARE_REF_SPACT_EINVAL;
    for (int32_t j = 0; j < count[r]; j++) {
      const int32_t q = idx[r * k + (size_t)j];
      if (q < 0 || (size_t)q >= k) return PARE_REF_SPACT_EINVAL;
    }
  }
  for (size_t r = 0; r < rows; r++) {
    const int32_t *ri = idx ? idx + r * k : NULL;
    const float *rv = val ? val + r * k : NULL;
    for (size_t c = 0; c < m; c++) {
      double acc = bias ? (double)bias[c] : 0.0;
      for (int32_t j = 0; j < count[r]; j++)
        acc += (double)rv[j] * (double)wt[(size_t)ri[j] * m + c];
      if (relu && !(acc > 0.0)) acc = 0.0;
      y[r * ldy + c] = (float)acc;
    }
  }
  return PARE_REF_SPACT_OK;
}

int pare_ref_spact_transpose_f32(size_t m, size_t k, const float *w, float *wt) {
  if (m && k > SIZE_MAX / m) return PARE_REF_SPACT_EINVAL;
  if (m == 0 || k == 0) return PARE_REF_SPACT_OK;
  if (!w || !wt) return PARE_REF_SPACT_EINVAL;
  for (size_t i = 0; i < m; i++)
    for (size_t j = 0; j < k; j++) wt[j * m + i] = w[i * k + j];
  return PARE_REF_SPACT_OK;
}
