/* Quantization (engine/compress/quantize.c, engine/ref/qdq.c,
 * engine/core/half.c): weights come back within half a step of their
 * channel's scale, the quantized graph computes close to the float one and
 * round-trips through a .pare file bit for bit in a file about 4× smaller,
 * activations get QDQ pairs with calibrated ranges, calibration methods
 * clip as they should, fp16 conversions are exact. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/compress/quantize.h"
#include "engine/compress/weights.h"
#include "engine/io/pare_format.h"
#include "engine/ref/ops.h"
#include "engine/train/zoo.h"
#include "tests/test_graph_util.h"

static pare_graph *zoo(const char *arch) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 3, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static void run(const pare_graph *g, const float *x, int64_t batch, pare_tensor *out) {
  int64_t dims[4] = {batch, 1, 28, 28};
  test_run_ref(g, x, 4, dims, out);
}

static int count_op(const pare_graph *g, pare_op op) {
  int n = 0;
  for (int i = 0; i < g->n_nodes; i++) n += g->nodes[i].op == op;
  return n;
}

static size_t file_size(const pare_graph *g) {
  void *buf;
  size_t size;
  pare_error err;
  assert_int_equal(pare_format_write_buffer(g, &buf, &size, &err), PARE_OK);
  free(buf);
  return size;
}

/* Every stored integer weight, dequantized, lies within half a step of the
 * original weight (the step: its channel's or the tensor's scale). */
static void check_half_step(const pare_graph *g, const pare_graph *orig) {
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    if (n->op != PARE_OP_DEQUANTIZE_LINEAR) continue;
    const pare_value *q = &g->values[n->inputs[0]], *sc = &g->values[n->inputs[1]];
    char name[256];
    snprintf(name, sizeof name, "%s", q->name);
    name[strlen(name) - 2] = '\0'; /* "<weight>.q" */
    const pare_value *w = &orig->values[pare_graph_find_value(orig, name)];
    int axis = (int)pare_node_attr_int(n, "axis", 1);
    size_t count = (size_t)pare_value_numel(sc), inner = 1, total = (size_t)pare_value_numel(w);
    for (int d = axis + 1; d < w->rank && count > 1; d++) inner *= (size_t)w->dims[d];
    for (size_t e = 0; e < total; e++) {
      size_t c = count > 1 ? (e / inner) % count : 0;
      float s = ((const float *)sc->data)[c];
      double dq = (double)pare_ref_q_get(q->data, q->dtype, e) * s;
      assert_true(fabs(dq - ((const float *)w->data)[e]) <= 0.5 * s * (1 + 1e-6));
    }
  }
}

/* Weight-only int8 per channel and int4 per tensor on LeNet-5. */
static void test_weights(void **state) {
  (void)state;
  const int bits[3] = {8, 4, 16};
  for (int b = 0; b < 3; b++) {
    pare_graph *g = zoo("lenet5"), *orig = zoo("lenet5");
    pare_quant_options o;
    pare_quant_options_init(&o);
    o.weight_bits = bits[b];
    o.act_bits = 0;
    o.per_channel = bits[b] == 8;
    pare_quant_layer *rep;
    int n;
    pare_error err;
    if (pare_quantize_apply(g, &o, &rep, &n, &err) != PARE_OK) fail_msg("%s", err.text);
    assert_int_equal(n, 5);
    for (int i = 0; i < n; i++) {
      assert_int_equal(rep[i].weight_bits, bits[b]);
      /* Half a step of a uniform grid over ±max|w|: error below 1/qmax. */
      double bound = bits[b] == 16 ? 1e-3 : 1.0 / ((1 << (bits[b] - 1)) - 1);
      assert_true(rep[i].weight_error < bound);
    }
    assert_int_equal(count_op(g, bits[b] == 16 ? PARE_OP_CAST : PARE_OP_DEQUANTIZE_LINEAR), 5);
    if (bits[b] != 16) check_half_step(g, orig);
    test_rng rng = {9};
    float x[3 * 784];
    test_fill(&rng, x, 3 * 784, 0, 1);
    pare_tensor y0, y1;
    run(orig, x, 3, &y0);
    run(g, x, 3, &y1);
    double num = 0, den = 0;
    for (int64_t i = 0; i < pare_tensor_numel(&y0); i++) {
      double d = ((float *)y0.data)[i] - ((float *)y1.data)[i];
      num += d * d;
      den += (double)((float *)y0.data)[i] * ((float *)y0.data)[i];
    }
    assert_true(sqrt(num / den) < (bits[b] == 4 ? 0.3 : bits[b] == 8 ? 0.03 : 1e-3));
    /* The file: bit-identical outputs after a round trip, and smaller. */
    void *buf;
    size_t size;
    assert_int_equal(pare_format_write_buffer(g, &buf, &size, &err), PARE_OK);
    pare_graph *back = NULL;
    assert_int_equal(pare_format_read_buffer(buf, size, "q", &back, &err), PARE_OK);
    pare_tensor y2;
    run(back, x, 3, &y2);
    assert_memory_equal(y1.data, y2.data, y1.nbytes);
    size_t ratio_x10 = 10 * file_size(orig) / size;
    assert_true(ratio_x10 >= (bits[b] == 8 ? 30u : bits[b] == 4 ? 50u : 17u));
    free(buf);
    pare_tensor_release(&y0);
    pare_tensor_release(&y1);
    pare_tensor_release(&y2);
    free(rep);
    pare_graph_destroy(back);
    pare_graph_destroy(g);
    pare_graph_destroy(orig);
  }
}

/* int8 weights and uint8 activations on the MLP, calibrated on Fashion-MNIST:
 * one QDQ pair per layer input, ranges that hold what ReLU gives, and
 * outputs close to the float model's on real images. */
static void test_activations(void **state) {
  (void)state;
  pare_graph *g = zoo("mlp"), *orig = zoo("mlp");
  pare_quant_options o;
  pare_quant_options_init(&o);
  o.calib_images = 200;
  o.dense = "last";
  pare_quant_layer *rep;
  int n;
  pare_error err;
  pare_status st = pare_quantize_apply(g, &o, &rep, &n, &err);
  if (st != PARE_OK) {
    skip(); /* no Fashion-MNIST here (Debian's dataset-fashion-mnist) */
    return;
  }
  assert_int_equal(n, 3);
  assert_int_equal(count_op(g, PARE_OP_QUANTIZE_LINEAR), 2);
  assert_int_equal(rep[2].weight_bits, 0); /* "last" stays float */
  assert_true(rep[0].act_lo == 0.0f && rep[0].act_hi > 0.9f && rep[0].act_hi <= 1.0f);
  assert_int_equal(rep[0].act_zero_point, 0);
  assert_true(rep[1].act_lo == 0.0f && rep[1].act_hi > 0); /* after a ReLU */
  test_rng rng = {2};
  float x[4 * 784];
  test_fill(&rng, x, 4 * 784, 0, 1);
  pare_tensor y0, y1;
  run(orig, x, 4, &y0);
  run(g, x, 4, &y1);
  for (int64_t i = 0; i < pare_tensor_numel(&y0); i++)
    assert_float_equal(((float *)y0.data)[i], ((float *)y1.data)[i],
                       0.05 * (1 + fabs(((float *)y0.data)[i])));
  pare_tensor_release(&y0);
  pare_tensor_release(&y1);
  free(rep);
  pare_graph_destroy(g);
  pare_graph_destroy(orig);
}

static void test_calibration_methods(void **state) {
  (void)state;
  enum { N = 100000 };
  static float s[N];
  test_rng rng = {4};
  /* ReLU-like: half zeros, the rest uniform on (0, 1], one outlier at 50. */
  float max = 0;
  for (int i = 0; i < N; i++) {
    s[i] = i % 2 ? test_rng_uniform(&rng, 0, 1) : 0.0f;
    if (s[i] > max) max = s[i];
  }
  s[7] = 50.0f;
  max = 50.0f;
  float lo, hi;
  pare_calib_range(PARE_CALIB_MINMAX, 0, s, N, 0, max, 256, &lo, &hi);
  assert_true(lo == 0 && hi == 50.0f);
  pare_calib_range(PARE_CALIB_PERCENTILE, 99.9, s, N, 0, max, 256, &lo, &hi);
  assert_true(lo == 0 && hi > 0.99f && hi <= 1.0f); /* the outlier is cut */
  /* MSE weighs the outlier's clip error (up to 50²) against the grid's
   * (50 000 values × step²/12): it keeps a wide range here. */
  pare_calib_range(PARE_CALIB_MSE, 0, s, N, 0, max, 256, &lo, &hi);
  assert_true(lo == 0 && hi >= 0.9f && hi <= 50.0f);
  /* Without the outlier it stays near the data's own extent. */
  s[7] = 0.5f;
  pare_calib_range(PARE_CALIB_MSE, 0, s, N, 0, 1.0f, 256, &lo, &hi);
  assert_true(lo == 0 && hi >= 0.9f && hi <= 1.0f);
  s[7] = 50.0f;
  pare_calib_range(PARE_CALIB_ENTROPY, 0, s, N, 0, max, 256, &lo, &hi);
  assert_true(lo == 0 && hi > 0.5f && hi < 50.0f);
  /* Signed data: symmetric clips keep lo <= 0 <= hi. */
  for (int i = 0; i < N; i++) s[i] = test_rng_uniform(&rng, -2, 2);
  pare_calib_range(PARE_CALIB_MSE, 0, s, N, -2, 2, 256, &lo, &hi);
  assert_true(lo < 0 && hi > 0 && lo >= -2 && hi <= 2);
}

static void test_qdq_reference(void **state) {
  (void)state;
  /* Ties to even, saturation, per-axis scales. */
  float x[6] = {0.5f, 1.5f, 2.5f, -1000.f, 1000.f, -0.5f}, scale[2] = {1.0f, 0.5f};
  int32_t zp[2] = {0, 10};
  int8_t q[6];
  assert_int_equal(pare_ref_quantize_linear(x, 6, 1, 1, scale, zp, PARE_DT_I8, q), PARE_REF_OK);
  int8_t want[6] = {0, 2, 2, -128, 127, 0};
  assert_memory_equal(q, want, 6);
  /* [2 × 3] along axis 0: row 1 has scale 0.5, zero point 10 (uint8). */
  uint8_t u[6];
  assert_int_equal(pare_ref_quantize_linear(x, 6, 2, 3, scale, zp, PARE_DT_U8, u), PARE_REF_OK);
  uint8_t uwant[6] = {0, 2, 2, 0, 255, 9};
  assert_memory_equal(u, uwant, 6);
  float back[6];
  assert_int_equal(pare_ref_dequantize_linear(u, PARE_DT_U8, 6, 2, 3, scale, zp, back),
                   PARE_REF_OK);
  assert_true(back[1] == 2.0f && back[5] == -0.5f && back[4] == 122.5f);
  /* int4, packed, odd count. */
  uint8_t p[3] = {0};
  float x4[5] = {-9, -8, 7, 8, 3};
  assert_int_equal(pare_ref_quantize_linear(x4, 5, 1, 1, scale, NULL, PARE_DT_I4, p), PARE_REF_OK);
  int32_t w4[5] = {-8, -8, 7, 7, 3};
  for (int i = 0; i < 5; i++) assert_int_equal(pare_ref_q_get(p, PARE_DT_I4, (size_t)i), w4[i]);
  float bad = 0;
  assert_int_equal(pare_ref_quantize_linear(x, 1, 1, 1, &bad, NULL, PARE_DT_I8, q),
                   PARE_REF_EINVAL);
}

static void test_half(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 65536; h++) { /* every half survives the round trip */
    float f = pare_f16_to_f32((uint16_t)h);
    if (isnan(f)) continue;
    assert_int_equal(pare_f32_to_f16(f), h);
  }
  assert_true(pare_f16_to_f32(pare_f32_to_f16(65520.0f)) == INFINITY);       /* rounds past max */
  assert_true(pare_f16_to_f32(pare_f32_to_f16(1.0f + 1.0f / 4096)) == 1.0f); /* tie to even */
  assert_true(pare_f16_to_f32(pare_f32_to_f16(5.96e-8f)) == 5.9604645e-8f); /* smallest subnormal */
}

static void test_parse(void **state) {
  (void)state;
  pare_quant_options o;
  pare_quant_options_init(&o);
  assert_true(pare_quant_parse("int4", &o) && o.weight_bits == 4 && o.act_bits == 8);
  assert_true(pare_quant_parse("w3", &o) && o.weight_bits == 3 && o.act_bits == 0);
  assert_true(pare_quant_parse("w6a8", &o) && o.weight_bits == 6 && o.act_bits == 8);
  assert_true(pare_quant_parse("fp16", &o) && o.weight_bits == 16 && o.act_bits == 0);
  assert_false(pare_quant_parse("w9", &o));
  assert_false(pare_quant_parse("w8a4", &o));
  assert_false(pare_quant_parse("int2x", &o));
  pare_calib_method m;
  assert_true(pare_calib_parse("entropy", &m) && m == PARE_CALIB_ENTROPY);
  assert_false(pare_calib_parse("kl", &m));
  pare_graph *g = zoo("mlp");
  pare_error err;
  o.weight_bits = 16;
  o.act_bits = 8;
  assert_int_equal(pare_quantize_apply(g, &o, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_weights),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_calibration_methods),
      cmocka_unit_test(test_qdq_reference),
      cmocka_unit_test(test_half),
      cmocka_unit_test(test_parse),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
