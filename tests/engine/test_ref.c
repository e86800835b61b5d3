/* The reference backend checked against values worked out by hand. */
#include <string.h>

#include "engine/ref/ref.h"
#include "tests/test_util.h"

static void test_gemm_by_hand(void **state) {
  (void)state;
  /* A = [1 2 3; 4 5 6], B = [1 0; 0 1; 1 1]: A·B = [4 5; 10 11]. */
  const float a[] = {1, 2, 3, 4, 5, 6};
  const float b[] = {1, 0, 0, 1, 1, 1};
  float c[4] = {NAN, NAN, NAN, NAN};
  pare_ref_gemm_f32(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2, NULL);
  const float want[] = {4, 5, 10, 11};
  assert_memory_equal(c, want, sizeof c);
  /* Transposes: Aᵀ stored as 3×2, Bᵀ stored as 2×3; alpha, beta and bias. */
  const float at[] = {1, 4, 2, 5, 3, 6};
  const float bt[] = {1, 0, 1, 0, 1, 1};
  const float bias[] = {100, 200};
  float c2[4] = {1, 1, 1, 1};
  pare_ref_gemm_f32(1, 1, 2, 2, 3, 2.0f, at, 2, bt, 3, 3.0f, c2, 2, bias);
  const float want2[] = {111, 213, 123, 225};
  assert_memory_equal(c2, want2, sizeof c2);
  /* Leading dimensions larger than a row leave the gaps untouched. */
  float c3[2 * 4] = {0, 0, -7, -7, 0, 0, -7, -7};
  pare_ref_gemm_f32(0, 0, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c3, 4, NULL);
  assert_true(c3[2] == -7 && c3[3] == -7 && c3[6] == -7 && c3[4] == 10);
}

static void test_activations(void **state) {
  (void)state;
  const float x[] = {-2.0f, -0.5f, 0.0f, 0.5f, 7.0f};
  float y[5];
  pare_ref_act_f32(PARE_REF_ACT_RELU, x, y, 5, 0, 0);
  const float relu[] = {0, 0, 0, 0.5f, 7};
  assert_memory_equal(y, relu, sizeof y);
  pare_ref_act_f32(PARE_REF_ACT_RELU6, x, y, 5, 0, 0);
  assert_true(y[4] == 6.0f && y[0] == 0.0f);
  pare_ref_act_f32(PARE_REF_ACT_LEAKY_RELU, x, y, 5, 0.1f, 0);
  assert_float_equal(y[0], -0.2f, 1e-7);
  pare_ref_act_f32(PARE_REF_ACT_CLIP, x, y, 5, -1.0f, 1.0f);
  assert_true(y[0] == -1.0f && y[4] == 1.0f && y[3] == 0.5f);
  pare_ref_act_f32(PARE_REF_ACT_HARD_SIGMOID, x, y, 5, 0.2f, 0.5f);
  assert_float_equal(y[0], 0.1f, 1e-7);
  assert_float_equal(y[4], 1.0f, 0);
  pare_ref_act_f32(PARE_REF_ACT_HARD_SWISH, x, y, 5, 0, 0);
  assert_float_equal(y[3], 0.5f * (0.5f / 6.0f + 0.5f), 1e-7);
  assert_float_equal(pare_ref_act_apply(PARE_REF_ACT_SIGMOID, 0.0f, 0, 0), 0.5f, 1e-7);
  assert_float_equal(pare_ref_act_apply(PARE_REF_ACT_TANH, 1.0f, 0, 0), 0.7615942f, 1e-6);
  assert_float_equal(pare_ref_act_apply(PARE_REF_ACT_ELU, -1.0f, 1.0f, 0), -0.6321206f, 1e-6);
  assert_float_equal(pare_ref_act_apply(PARE_REF_ACT_SELU, -1.0f, 1.6732632f, 1.0507010f),
                     -1.1113307f, 1e-6);
  assert_float_equal(pare_ref_act_apply(PARE_REF_ACT_RECIPROCAL, 4.0f, 0, 0), 0.25f, 0);
  assert_true(isnan(pare_ref_act_apply(PARE_REF_ACT_SQRT, -1.0f, 0, 0)));
}

static void test_binops(void **state) {
  (void)state;
  const float a[] = {1, -2, 3, 2}, b[] = {4, 5, -6, 3};
  float y[4];
  pare_ref_binop_f32(PARE_REF_SUB, a, b, y, 4);
  const float sub[] = {-3, -7, 9, -1};
  assert_memory_equal(y, sub, sizeof y);
  pare_ref_binop_f32(PARE_REF_POW, a, b, y, 4);
  assert_float_equal(y[3], 8.0f, 0);
  pare_ref_binop_f32(PARE_REF_MAX, a, b, y, 4);
  const float mx[] = {4, 5, 3, 3};
  assert_memory_equal(y, mx, sizeof y);
  assert_float_equal(pare_ref_binop_apply(PARE_REF_DIV, 1.0f, 4.0f), 0.25f, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_by_hand),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_binops),
  };
  return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
