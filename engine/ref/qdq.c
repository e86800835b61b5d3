/* Reference QuantizeLinear / DequantizeLinear (ONNX semantics), the oracle
 * of every quantized path: y = saturate(round_half_even(x / scale) + zp)
 * and x = (q − zp)·scale, per tensor or per slice along one axis. */
#include <math.h>

#include "engine/ref/ops.h"

/* One scale and zero point per index along the axis: element i of a
 * [outer, len, inner] view belongs to slice (i / inner) % len. */
static size_t slice_of(size_t i, size_t len, size_t inner) {
  return len > 1 ? (i / inner) % len : 0;
}

static int32_t qmin_of(pare_dtype dt) {
  return dt == PARE_DT_U8 ? 0 : dt == PARE_DT_I8 ? -128 : dt == PARE_DT_I4 ? -8 : INT32_MIN;
}
static int32_t qmax_of(pare_dtype dt) {
  return dt == PARE_DT_U8 ? 255 : dt == PARE_DT_I8 ? 127 : dt == PARE_DT_I4 ? 7 : INT32_MAX;
}

int32_t pare_ref_quantize_value(float x, float scale, int32_t zp, pare_dtype dt) {
  /* The quotient in float, as ONNX runtimes compute it; ties to even. */
  double q = (double)nearbyintf(x / scale) + zp;
  if (isnan(q)) q = zp;
  double lo = qmin_of(dt), hi = qmax_of(dt);
  return (int32_t)(q < lo ? lo : q > hi ? hi : q);
}

int32_t pare_ref_q_get(const void *q, pare_dtype dt, size_t i) {
  switch (dt) {
  case PARE_DT_U8: return ((const uint8_t *)q)[i];
  case PARE_DT_I8: return ((const int8_t *)q)[i];
  case PARE_DT_I32: return ((const int32_t *)q)[i];
  case PARE_DT_I4: {
    int v = (((const uint8_t *)q)[i / 2] >> (4 * (i % 2))) & 15; /* low nibble first */
    return v >= 8 ? v - 16 : v;
  }
  default: return 0;
  }
}

static void q_set(void *q, pare_dtype dt, size_t i, int32_t v) {
  switch (dt) {
  case PARE_DT_U8: ((uint8_t *)q)[i] = (uint8_t)v; break;
  case PARE_DT_I8: ((int8_t *)q)[i] = (int8_t)v; break;
  case PARE_DT_I32: ((int32_t *)q)[i] = v; break;
  case PARE_DT_I4: {
    uint8_t *b = (uint8_t *)q + i / 2;
    int shift = 4 * (int)(i % 2);
    *b = (uint8_t)((*b & ~(15 << shift)) | ((v & 15) << shift));
    break;
  }
  default: break;
  }
}

int pare_ref_quantize_linear(const float *x, size_t n, size_t len, size_t inner, const float *scale,
                             const int32_t *zp, pare_dtype dt, void *y) {
  if (dt != PARE_DT_U8 && dt != PARE_DT_I8 && dt != PARE_DT_I4 && dt != PARE_DT_I32)
    return PARE_REF_EINVAL;
  for (size_t c = 0; c < len; c++)
    if (!(scale[c] > 0) || !isfinite(scale[c])) return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++) {
    size_t c = slice_of(i, len, inner);
    q_set(y, dt, i, pare_ref_quantize_value(x[i], scale[c], zp ? zp[c] : 0, dt));
  }
  return PARE_REF_OK;
}

int pare_ref_dequantize_linear(const void *q, pare_dtype dt, size_t n, size_t len, size_t inner,
                               const float *scale, const int32_t *zp, float *y) {
  if (dt != PARE_DT_U8 && dt != PARE_DT_I8 && dt != PARE_DT_I4 && dt != PARE_DT_I32)
    return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++) {
    size_t c = slice_of(i, len, inner);
    y[i] = (float)((double)(pare_ref_q_get(q, dt, i) - (zp ? zp[c] : 0)) * (double)scale[c]);
  }
  return PARE_REF_OK;
}

int pare_ref_qdq_f32(const float *x, size_t n, float scale, int32_t zp, int32_t qmin, int32_t qmax,
                     float *y) {
  if (!(scale > 0) || !isfinite(scale) || qmin > qmax) return PARE_REF_EINVAL;
  for (size_t i = 0; i < n; i++) {
    double q = (double)nearbyintf(x[i] / scale) + zp;
    if (isnan(q)) q = zp;
    q = q < qmin ? qmin : q > qmax ? qmax : q;
    y[i] = (float)((q - zp) * (double)scale);
  }
  return PARE_REF_OK;
}
