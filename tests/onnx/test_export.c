/* ONNX export: models written by pare_onnx_export and read back by the
 * importer give bit-identical outputs on the reference backend; opsets are
 * raised where the ops need it; what cannot be written is refused by name. */
#define _DEFAULT_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/exec/exec.h"
#include "engine/io/onnx.h"
#include "engine/io/onnx_export.h"
#include "engine/train/zoo.h"
#include "pare/pare_onnx.h"
#include "tests/test_util.h"

#define TESTDATA "/usr/share/libonnx-testdata/data/node"
#define MAX_IO   8

static char tmp_dir[256];

static int setup(void **state) {
  (void)state;
  snprintf(tmp_dir, sizeof tmp_dir, "/tmp/pare_test_export_XXXXXX");
  return mkdtemp(tmp_dir) ? 0 : -1;
}

/* PARE_TEST_EXPORT_KEEP=1 leaves the exported models (to try them in
 * other runtimes). */
static int teardown(void **state) {
  (void)state;
  const char *keep = getenv("PARE_TEST_EXPORT_KEEP");
  if (keep && !strcmp(keep, "1")) {
    print_message("exported models kept in %s\n", tmp_dir);
    return 0;
  }
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t size, const char *name) {
  snprintf(buf, size, "%s/%s", tmp_dir, name);
}

/* Runs g on the reference backend; outs[i] receives graph output i. */
static void run_graph(const pare_graph *g, const pare_tensor *ins, int n_ins, pare_tensor *outs) {
  pare_plan *p;
  pare_error err;
  if (pare_plan_create(g, ins, n_ins, &p, &err) != PARE_OK) fail_msg("plan: %s", err.text);
  if (pare_plan_run_ref(p, ins, n_ins, outs, &err) != PARE_OK) fail_msg("run: %s", err.text);
  pare_plan_destroy(p);
}

static void assert_same(const pare_tensor *a, const pare_tensor *b, const char *what) {
  if (a->dtype != b->dtype || a->rank != b->rank || a->nbytes != b->nbytes)
    fail_msg("%s: dtype/rank/size differ (%d/%d/%zu vs %d/%d/%zu)", what, (int)a->dtype, a->rank,
             a->nbytes, (int)b->dtype, b->rank, b->nbytes);
  for (int d = 0; d < a->rank; d++)
    if (a->dims[d] != b->dims[d]) fail_msg("%s: dimension %d differs", what, d);
  if (a->nbytes && memcmp(a->data, b->data, a->nbytes) != 0)
    fail_msg("%s: outputs are not bit-identical", what);
}

/* Exports g, imports the file again (*back), and checks that both give the
 * same bits on these inputs. */
static void round_trip(const pare_graph *g, const pare_tensor *ins, int n_ins, const char *what,
                       pare_graph **back) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.onnx", tmp_dir, what);
  pare_error err;
  if (pare_onnx_export(g, path, &err) != PARE_OK) fail_msg("%s: export: %s", what, err.text);
  pare_graph *h;
  if (pare_onnx_import_file(path, &h, &err) != PARE_OK) fail_msg("%s: import: %s", what, err.text);
  assert_int_equal(h->n_inputs, g->n_inputs);
  assert_int_equal(h->n_outputs, g->n_outputs);
  assert_true(g->n_outputs <= MAX_IO);
  pare_tensor want[MAX_IO], got[MAX_IO];
  memset(want, 0, sizeof want);
  memset(got, 0, sizeof got);
  run_graph(g, ins, n_ins, want);
  run_graph(h, ins, n_ins, got);
  for (int i = 0; i < g->n_outputs; i++) {
    assert_string_equal(h->values[h->outputs[i]].name, g->values[g->outputs[i]].name);
    assert_same(&got[i], &want[i], what);
    pare_tensor_release(&want[i]);
    pare_tensor_release(&got[i]);
  }
  if (back)
    *back = h;
  else
    pare_graph_destroy(h);
}

/* ---- the zoo ------------------------------------------------------------- */

static void check_zoo(const char *arch) {
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build(arch, 7, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  test_rng r = {0x5eed};
  float x[3 * 28 * 28];
  test_fill(&r, x, 3 * 28 * 28, 0, 1);
  pare_tensor in = {PARE_DT_F32, 4, {3, 1, 28, 28}, x, sizeof x, 0, 0};
  pare_graph *h;
  round_trip(g, &in, 1, arch, &h);
  /* The batch stays dynamic, the opset is the graph's. */
  assert_int_equal(h->opset, 13);
  const pare_value *hin = &h->values[h->inputs[0]];
  assert_int_equal(hin->rank, 4);
  assert_int_equal(hin->dims[0], -1);
  assert_int_equal(hin->dims[3], 28);
  /* Weights come back as trainable constants with the same bytes. */
  int params = 0;
  for (int v = 0; v < g->n_values; v++) {
    if (g->values[v].kind != PARE_VALUE_CONSTANT) continue;
    int w = pare_graph_find_value(h, g->values[v].name);
    assert_true(w >= 0);
    assert_int_equal(h->values[w].nbytes, g->values[v].nbytes);
    assert_memory_equal(h->values[w].data, g->values[v].data, g->values[v].nbytes);
    params += h->values[w].is_param;
  }
  assert_true(params > 0);
  pare_graph_destroy(h);
  pare_graph_destroy(g);
}

static void test_zoo_simplecnn(void **state) {
  (void)state;
  check_zoo("simplecnn");
}

static void test_zoo_lenet5(void **state) {
  (void)state;
  check_zoo("lenet5");
}

static void test_zoo_mlp(void **state) {
  (void)state;
  check_zoo("mlp");
}

/* ---- ONNX conformance models --------------------------------------------- */

static void check_case(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s/model.onnx", TESTDATA, name);
  if (access(path, R_OK) != 0) {
    print_message("skipping %s: %s not installed\n", name, TESTDATA);
    return;
  }
  pare_graph *g;
  pare_error err;
  if (pare_onnx_import_file(path, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  pare_onnx_tensor raw[MAX_IO];
  pare_tensor ins[MAX_IO];
  int n = 0;
  for (; n < MAX_IO; n++) {
    snprintf(path, sizeof path, "%s/%s/test_data_set_0/input_%d.pb", TESTDATA, name, n);
    if (access(path, R_OK) != 0) break;
    if (pare_onnx_tensor_read_file(path, &raw[n], &err) != PARE_OK) fail_msg("%s", err.text);
    memset(&ins[n], 0, sizeof ins[n]);
    ins[n].dtype = raw[n].dtype;
    ins[n].rank = raw[n].rank;
    memcpy(ins[n].dims, raw[n].dims, sizeof ins[n].dims);
    ins[n].data = raw[n].data;
    ins[n].nbytes = raw[n].nbytes;
  }
  assert_int_equal(n, g->n_inputs);
  pare_graph *h;
  round_trip(g, ins, n, name, &h);
  assert_true(h->opset >= g->opset);
  pare_graph_destroy(h);
  pare_graph_destroy(g);
  for (int i = 0; i < n; i++) free(raw[i].data);
}

static void test_conformance_models(void **state) {
  (void)state;
  static const char *cases[] = {
      "test_conv_with_strides_padding",
      "test_gemm_default_vector_bias",
      "test_maxpool_2d_pads",
      "test_quantizelinear_axis",
      "test_dequantizelinear_axis",
      "test_quantizelinear",
      "test_dequantizelinear",
      "test_shrink_soft",
      "test_shrink_hard",
      "test_lrn",
      "test_lrn_default",
      "test_softmax_axis_1",
      "test_squeeze",
      "test_unsqueeze_axis_1",
      "test_clip",
      "test_reshape_reduced_dims",
      "test_slice",
      "test_resize_upsample_scales_linear",
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_case(cases[i]);
}

/* ---- hand-built quantized graphs ----------------------------------------- */

static int add_const(pare_graph *g, const char *name, pare_dtype dt, int rank, const int64_t *dims,
                     const void *data, size_t nbytes) {
  int v = pare_graph_add_value(g, name, dt, rank, dims);
  assert_true(v >= 0);
  assert_int_equal(pare_value_set_data(&g->values[v], (void *)data, nbytes, 0), PARE_OK);
  return v;
}

static int add_node(pare_graph *g, const char *name, pare_op op, const int *ins, int n_ins,
                    const char *out) {
  int n = pare_graph_add_node(g, name, op, n_ins, 1);
  assert_true(n >= 0);
  for (int k = 0; k < n_ins; k++) g->nodes[n].inputs[k] = ins[k];
  int y = pare_graph_add_value(g, out, PARE_DT_UNDEFINED, -1, NULL);
  assert_true(y >= 0);
  g->nodes[n].outputs[0] = y;
  g->values[y].producer = n;
  return y;
}

static void set_int(pare_graph *g, int node, const char *name, int64_t v) {
  pare_attr *a = pare_node_add_attr(&g->nodes[node], name, PARE_ATTR_INT);
  assert_non_null(a);
  a->i = v;
}

static void set_float(pare_graph *g, int node, const char *name, float v) {
  pare_attr *a = pare_node_add_attr(&g->nodes[node], name, PARE_ATTR_FLOAT);
  assert_non_null(a);
  a->f = v;
}

static void set_ints(pare_graph *g, int node, const char *name, const int64_t *v, int n) {
  pare_attr *a = pare_node_add_attr(&g->nodes[node], name, PARE_ATTR_INTS);
  assert_non_null(a);
  a->ints = malloc(sizeof(int64_t) * (size_t)n);
  assert_non_null(a->ints);
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
  a->count = n;
}

/* x [N,4] → QuantizeLinear (u8) → DequantizeLinear → Shrink → Gemm with a
 * weight DequantizeLinear'd along axis 0 from int8 (or packed int4) →
 * Softmax (axis 1) → Unsqueeze (axes [1]). Written for opset 11, where
 * Softmax still flattens and Unsqueeze takes its axes as an attribute. */
static pare_graph *quant_graph(pare_dtype wdt, int opset) {
  pare_graph *g = pare_graph_create();
  assert_non_null(g);
  g->opset = opset;
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(sizeof(int));
  assert_true(g->inputs && g->outputs);
  int64_t xd[2] = {-1, 4};
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, 2, xd);
  g->inputs[g->n_inputs++] = x;
  float as = 0.02f;
  uint8_t azp = 128;
  int asv = add_const(g, "x_scale", PARE_DT_F32, 0, NULL, &as, 4);
  int azv = add_const(g, "x_zero_point", PARE_DT_U8, 0, NULL, &azp, 1);
  int qi[3] = {x, asv, azv};
  int xq = add_node(g, "quant_x", PARE_OP_QUANTIZE_LINEAR, qi, 3, "x_q");
  qi[0] = xq;
  int xdq = add_node(g, "dequant_x", PARE_OP_DEQUANTIZE_LINEAR, qi, 3, "x_dq");
  int xs = add_node(g, "shrink", PARE_OP_SHRINK, &xdq, 1, "x_shrunk");
  set_float(g, g->n_nodes - 1, "lambd", 0.1f);
  set_float(g, g->n_nodes - 1, "bias", 0.05f);
  /* Weight [3,4], per output channel. */
  int8_t wq[12] = {-7, -3, 0, 1, 2, 3, 4, 5, 6, 7, -8, -1};
  uint8_t w4[6];
  for (int i = 0; i < 6; i++) w4[i] = (uint8_t)((wq[2 * i] & 15) | ((wq[2 * i + 1] & 15) << 4));
  int64_t wd[2] = {3, 4}, sd[1] = {3};
  int wv = wdt == PARE_DT_I4 ? add_const(g, "w_q", PARE_DT_I4, 2, wd, w4, sizeof w4)
                             : add_const(g, "w_q", PARE_DT_I8, 2, wd, wq, sizeof wq);
  float ws[3] = {0.5f, 0.25f, 0.125f};
  int wsv = add_const(g, "w_scale", PARE_DT_F32, 1, sd, ws, sizeof ws);
  int di[2] = {wv, wsv};
  int w = add_node(g, "dequant_w", PARE_OP_DEQUANTIZE_LINEAR, di, 2, "w");
  set_int(g, g->n_nodes - 1, "axis", 0);
  float b[3] = {0.1f, -0.2f, 0.3f};
  int bv = add_const(g, "b", PARE_DT_F32, 1, sd, b, sizeof b);
  int gi[3] = {xs, w, bv};
  int y = add_node(g, "fc", PARE_OP_GEMM, gi, 3, "y");
  set_int(g, g->n_nodes - 1, "transB", 1);
  int sm = add_node(g, "softmax", PARE_OP_SOFTMAX, &y, 1, "prob");
  set_int(g, g->n_nodes - 1, "axis", 1);
  int out = add_node(g, "unsqueeze", PARE_OP_UNSQUEEZE, &sm, 1, "out");
  int64_t axes[1] = {1};
  set_ints(g, g->n_nodes - 1, "axes", axes, 1);
  g->outputs[g->n_outputs++] = out;
  pare_error err;
  if (pare_graph_validate(g, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static void check_quant(pare_dtype wdt, int opset, const char *what) {
  pare_graph *g = quant_graph(wdt, opset);
  test_rng r = {42};
  float x[5 * 4];
  test_fill(&r, x, 20, -2, 2);
  pare_tensor in = {PARE_DT_F32, 2, {5, 4}, x, sizeof x, 0, 0};
  pare_graph *h;
  round_trip(g, &in, 1, what, &h);
  /* DequantizeLinear along an axis needs opset 13. */
  assert_int_equal(h->opset, opset < 13 ? 13 : opset);
  int wq = pare_graph_find_value(h, "w_q");
  assert_true(wq >= 0);
  assert_int_equal(h->values[wq].dtype, PARE_DT_I8); /* int4 comes back as int8 */
  int zp = pare_graph_find_value(h, "x_zero_point");
  assert_true(zp >= 0);
  assert_int_equal(h->values[zp].dtype, PARE_DT_U8);
  pare_graph_destroy(h);
  pare_graph_destroy(g);
}

static void test_int8_dequant_gemm(void **state) {
  (void)state;
  check_quant(PARE_DT_I8, 13, "quant_i8_opset13");
}

static void test_int8_dequant_gemm_raised(void **state) {
  (void)state;
  check_quant(PARE_DT_I8, 11, "quant_i8_opset11");
}

static void test_int4_written_as_int8(void **state) {
  (void)state;
  check_quant(PARE_DT_I4, 13, "quant_i4");
}

/* ---- refusals ------------------------------------------------------------- */

static void test_refuses_int4_quantize(void **state) {
  (void)state;
  pare_graph *g = quant_graph(PARE_DT_I8, 13);
  int zp = pare_graph_find_value(g, "x_zero_point");
  uint8_t z4 = 0;
  pare_value *v = &g->values[zp];
  v->dtype = PARE_DT_I4;
  assert_int_equal(pare_value_set_data(v, &z4, 1, 0), PARE_OK);
  char path[400];
  tmp_path(path, sizeof path, "int4_quantize.onnx");
  pare_error err;
  assert_int_equal(pare_onnx_export(g, path, &err), PARE_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.text, "quant_x"));
  assert_int_equal(access(path, F_OK), -1); /* nothing written */
  pare_graph_destroy(g);
}

/* x [N,2,3] → Softmax (axis 1) + a per-channel DequantizeLinear'd bias,
 * written for opset 11 (Softmax over the flattened [2,3]) or for 13. */
static pare_graph *softmax_graph(int opset, int64_t last) {
  pare_graph *g = pare_graph_create();
  assert_non_null(g);
  g->opset = opset;
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(sizeof(int));
  assert_true(g->inputs && g->outputs);
  int64_t xd[3] = {-1, 2, last};
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, 3, xd);
  g->inputs[g->n_inputs++] = x;
  int y = add_node(g, "softmax", PARE_OP_SOFTMAX, &x, 1, "prob");
  set_int(g, g->n_nodes - 1, "axis", 1);
  int8_t bq[3] = {1, -2, 3};
  float bs[3] = {0.5f, 0.25f, 0.125f};
  int64_t bd[1] = {last};
  int bqv = add_const(g, "b_q", PARE_DT_I8, 1, bd, bq, (size_t)last);
  int bsv = add_const(g, "b_scale", PARE_DT_F32, 1, bd, bs, 4 * (size_t)last);
  int di[2] = {bqv, bsv};
  int b = add_node(g, "dequant_b", PARE_OP_DEQUANTIZE_LINEAR, di, 2, "b");
  set_int(g, g->n_nodes - 1, "axis", 0);
  int ai[2] = {y, b};
  g->outputs[g->n_outputs++] = add_node(g, "add", PARE_OP_ADD, ai, 2, "out");
  pare_error err;
  if (pare_graph_validate(g, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static void test_refuses_legacy_softmax(void **state) {
  (void)state;
  /* Before opset 13 it normalizes over 6 values; raising the opset (for
   * the per-channel bias) would change that. */
  pare_graph *g = softmax_graph(11, 3);
  char path[400];
  tmp_path(path, sizeof path, "legacy_softmax.onnx");
  pare_error err;
  assert_int_equal(pare_onnx_export(g, path, &err), PARE_ERR_UNSUPPORTED);
  assert_non_null(strstr(err.text, "'softmax'"));
  assert_non_null(strstr(err.text, "'dequant_b'"));
  pare_graph_destroy(g);
  /* Written for 13, or with nothing after the axis, it is the same. */
  test_rng r = {3};
  float x[4 * 2 * 3];
  test_fill(&r, x, 24, -3, 3);
  pare_tensor in = {PARE_DT_F32, 3, {4, 2, 3}, x, sizeof x, 0, 0};
  g = softmax_graph(13, 3);
  round_trip(g, &in, 1, "softmax13", NULL);
  pare_graph_destroy(g);
  pare_tensor in1 = {PARE_DT_F32, 3, {4, 2, 1}, x, 4 * 8, 0, 0};
  g = softmax_graph(11, 1);
  round_trip(g, &in1, 1, "softmax11_last", NULL);
  pare_graph_destroy(g);
}

/* Outputs that are constants (all folded): one only an output, one read
 * by a node too. */
static void test_constant_outputs(void **state) {
  (void)state;
  pare_graph *g = pare_graph_create();
  assert_non_null(g);
  g->opset = 13;
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(3 * sizeof(int));
  assert_true(g->inputs && g->outputs);
  int64_t xd[2] = {-1, 3}, cd[1] = {3};
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, 2, xd);
  g->inputs[g->n_inputs++] = x;
  float c[3] = {1.5f, -2, 0.25f};
  int64_t k[2] = {7, -7};
  int cv = add_const(g, "c", PARE_DT_F32, 1, cd, c, sizeof c);
  int64_t kd[1] = {2};
  int kv = add_const(g, "k", PARE_DT_I64, 1, kd, k, sizeof k);
  int ai[2] = {x, cv};
  int y = add_node(g, "add", PARE_OP_ADD, ai, 2, "y");
  g->outputs[g->n_outputs++] = y;
  g->outputs[g->n_outputs++] = kv;
  g->outputs[g->n_outputs++] = cv;
  float xs[6] = {1, 2, 3, 4, 5, 6};
  pare_tensor in = {PARE_DT_F32, 2, {2, 3}, xs, sizeof xs, 0, 0};
  round_trip(g, &in, 1, "constant_outputs", NULL);
  pare_graph_destroy(g);
}

static void test_unwritable_path(void **state) {
  (void)state;
  pare_graph *g;
  pare_error err;
  if (pare_zoo_build("mlp", 1, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(pare_onnx_export(g, "/nonexistent-dir/pare/model.onnx", &err), PARE_ERR_IO);
  assert_true(err.text[0] != '\0');
  /* A folder where the file should be. */
  assert_int_not_equal(pare_onnx_export(g, tmp_dir, &err), PARE_OK);
  pare_graph_destroy(g);
}

static void test_public_api(void **state) {
  (void)state;
  pare_onnx_enable();
  char src[512], dst[400], msg[512];
  snprintf(src, sizeof src, "%s/test_gemm_default_vector_bias/model.onnx", TESTDATA);
  if (access(src, R_OK) != 0) {
    print_message("skipping: %s not installed\n", TESTDATA);
    return;
  }
  pare_model *m;
  if (pare_model_load(src, &m, msg, sizeof msg) != PARE_OK) fail_msg("%s", msg);
  tmp_path(dst, sizeof dst, "api.onnx");
  assert_int_equal(pare_model_export_onnx(m, dst), PARE_OK);
  assert_int_equal(pare_model_export_onnx(m, "/nonexistent-dir/x.onnx"), PARE_ERR_IO);
  assert_true(pare_model_last_error(m)[0] != '\0');
  assert_int_equal(pare_model_export_onnx(NULL, dst), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_model_export_onnx(m, NULL), PARE_ERR_INVALID_ARG);
  pare_model_destroy(m);
  pare_model *back;
  if (pare_model_load(dst, &back, msg, sizeof msg) != PARE_OK) fail_msg("%s", msg);
  assert_int_equal(pare_model_input_count(back), 3);
  pare_model_destroy(back);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_zoo_simplecnn),
      cmocka_unit_test(test_zoo_lenet5),
      cmocka_unit_test(test_zoo_mlp),
      cmocka_unit_test(test_conformance_models),
      cmocka_unit_test(test_int8_dequant_gemm),
      cmocka_unit_test(test_int8_dequant_gemm_raised),
      cmocka_unit_test(test_int4_written_as_int8),
      cmocka_unit_test(test_refuses_int4_quantize),
      cmocka_unit_test(test_refuses_legacy_softmax),
      cmocka_unit_test(test_constant_outputs),
      cmocka_unit_test(test_unwritable_path),
      cmocka_unit_test(test_public_api),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
