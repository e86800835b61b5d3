/* Reference elementwise activations and binary arithmetic. */
#include <math.h>

#include "engine/ref/ref.h"

float pare_ref_act_apply(pare_ref_act act, float x, float alpha, float beta) {
  switch (act) {
  case PARE_REF_ACT_NONE: return x;
  case PARE_REF_ACT_RELU: return x > 0.0f ? x : 0.0f;
  case PARE_REF_ACT_RELU6: return fminf(fmaxf(x, 0.0f), 6.0f);
  case PARE_REF_ACT_LEAKY_RELU: return x >= 0.0f ? x : alpha * x;
  case PARE_REF_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
  case PARE_REF_ACT_TANH: return tanhf(x);
  case PARE_REF_ACT_HARD_SIGMOID: return fmaxf(0.0f, fminf(1.0f, alpha * x + beta));
  case PARE_REF_ACT_HARD_SWISH: return x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f));
  case PARE_REF_ACT_ELU: return x >= 0.0f ? x : alpha * (expf(x) - 1.0f);
  case PARE_REF_ACT_SELU: return beta * (x > 0.0f ? x : alpha * (expf(x) - 1.0f));
  case PARE_REF_ACT_CLIP: return fminf(fmaxf(x, alpha), beta);
  case PARE_REF_ACT_EXP: return expf(x);
  case PARE_REF_ACT_SQRT: return sqrtf(x);
  case PARE_REF_ACT_NEG: return -x;
  case PARE_REF_ACT_RECIPROCAL: return 1.0f / x;
  case PARE_REF_ACT_SHRINK: return x < -alpha ? x + beta : x > alpha ? x - beta : 0.0f;
  }
  return x;
}

void pare_ref_act_f32(pare_ref_act act, const float *in, float *out, size_t n, float alpha,
                      float beta) {
  for (size_t i = 0; i < n; i++) out[i] = pare_ref_act_apply(act, in[i], alpha, beta);
}

void pare_ref_epilogue_f32(float *y, const float *residual, size_t n, pare_ref_act act, float lo,
                           float hi) {
  for (size_t i = 0; i < n; i++) {
    float v = residual ? y[i] + residual[i] : y[i];
    if (act == PARE_REF_ACT_RELU) {
      v = v < 0.0f ? 0.0f : v;
    } else if (act == PARE_REF_ACT_CLIP) {
      v = v < lo ? lo : v;
      v = v > hi ? hi : v;
    }
    y[i] = v;
  }
}

float pare_ref_binop_apply(pare_ref_binop op, float a, float b) {
  switch (op) {
  case PARE_REF_ADD: return a + b;
  case PARE_REF_SUB: return a - b;
  case PARE_REF_MUL: return a * b;
  case PARE_REF_DIV: return a / b;
  case PARE_REF_POW: return powf(a, b);
  case PARE_REF_MAX: return fmaxf(a, b);
  case PARE_REF_MIN: return fminf(a, b);
  }
  return a;
}

void pare_ref_binop_f32(pare_ref_binop op, const float *a, const float *b, float *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = pare_ref_binop_apply(op, a[i], b[i]);
}
