/* Low-rank factorization: a weight of exact rank r factored at rank r
 * computes what the original computed (Gemm with either transB and
 * transA, MatMul, Conv by channel SVD with stride, pads and dilation, Conv
 * by spatial SVD), the rank rules pick the ranks worked out by hand, and
 * the skip list, the "no saving" rule and trainability hold. */
#include <math.h>
#include <string.h>

#include "engine/compress/lowrank.h"
#include "engine/exec/exec.h"
#include "tests/test_graph_util.h"

/* P [rows×r] · Q [r×cols]: a matrix of rank r (almost surely). */
static float *low_rank_matrix(test_rng *rng, int64_t rows, int64_t cols, int64_t r) {
  float *p = malloc(sizeof(float) * (size_t)(rows * r)),
        *q = malloc(sizeof(float) * (size_t)(r * cols));
  float *m = calloc((size_t)(rows * cols), sizeof(float));
  test_fill(rng, p, (size_t)(rows * r), -1, 1);
  test_fill(rng, q, (size_t)(r * cols), -1, 1);
  for (int64_t i = 0; i < rows; i++)
    for (int64_t k = 0; k < r; k++)
      for (int64_t j = 0; j < cols; j++) m[i * cols + j] += p[i * r + k] * q[k * cols + j];
  free(p);
  free(q);
  return m;
}

static int add_const(pare_graph *g, const char *name, int rank, const int64_t *dims, float *data,
                     int is_param) {
  int v = pare_graph_add_value(g, name, PARE_DT_F32, rank, dims);
  pare_value_set_data(&g->values[v], data, sizeof(float) * (size_t)pare_shape_numel(rank, dims), 1);
  g->values[v].is_param = is_param;
  return v;
}

static void set_ints(pare_node *n, const char *name, int count, const int64_t *v) {
  pare_attr *a = pare_node_add_attr(n, name, PARE_ATTR_INTS);
  a->ints = malloc(sizeof(int64_t) * (size_t)count);
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
  a->count = count;
}

typedef enum kind { GEMM_T, GEMM_N, GEMM_TA, MATMUL, CONV_CH, CONV_SP } kind;

/* x → layer (weight of rank 2 in the factored layout) → Relu → y. */
static pare_graph *layer_graph(kind k, uint64_t seed, int64_t *x_dims, int *x_rank) {
  test_rng rng = {seed};
  pare_graph *g = pare_graph_create();
  g->opset = 13;
  int conv = k == CONV_CH || k == CONV_SP;
  int64_t xd2[2] = {5, 12}, xd2t[2] = {12, 5}, xd4[4] = {2, 3, 9, 8};
  const int64_t *xd = conv ? xd4 : k == GEMM_TA ? xd2t : xd2;
  *x_rank = conv ? 4 : 2;
  memcpy(x_dims, xd, sizeof(int64_t) * (size_t)*x_rank);
  int x = pare_graph_add_value(g, "x", PARE_DT_F32, *x_rank, xd);
  g->inputs = malloc(sizeof(int));
  g->inputs[0] = x;
  g->n_inputs = 1;
  int w, b = -1, node;
  pare_op op = conv ? PARE_OP_CONV : k == MATMUL ? PARE_OP_MATMUL : PARE_OP_GEMM;
  if (!conv) {
    float *m = low_rank_matrix(&rng, 7, 12, 2); /* [out, in] */
    int64_t wd[2] = {7, 12};
    if (k == GEMM_N || k == MATMUL) { /* stored [in, out] */
      float *t = malloc(sizeof(float) * 84);
      for (int i = 0; i < 7; i++)
        for (int j = 0; j < 12; j++) t[j * 7 + i] = m[i * 12 + j];
      free(m);
      m = t;
      wd[0] = 12, wd[1] = 7;
    }
    w = add_const(g, "w", 2, wd, m, 1);
  } else if (k == CONV_CH) { /* W [6, 3·3·3] of rank 2 */
    int64_t wd[4] = {6, 3, 3, 3};
    w = add_const(g, "w", 4, wd, low_rank_matrix(&rng, 6, 27, 2), 1);
  } else { /* M[(c, i), (m, j)] of rank 2, stored as W[m, c, i, j] */
    float *m = low_rank_matrix(&rng, 3 * 3, 6 * 3, 2), *t = malloc(sizeof(float) * 162);
    for (int mo = 0; mo < 6; mo++)
      for (int c = 0; c < 3; c++)
        for (int i = 0; i < 3; i++)
          for (int j = 0; j < 3; j++)
            t[((mo * 3 + c) * 3 + i) * 3 + j] = m[(c * 3 + i) * 18 + mo * 3 + j];
    free(m);
    int64_t wd[4] = {6, 3, 3, 3};
    w = add_const(g, "w", 4, wd, t, 1);
  }
  if (k != MATMUL) {
    int64_t bd[1] = {conv ? 6 : 7};
    float *bias = malloc(sizeof(float) * 7);
    test_fill(&rng, bias, 7, -1, 1);
    b = add_const(g, "b", 1, bd, bias, 1);
  }
  int h = pare_graph_add_value(g, "h", PARE_DT_UNDEFINED, -1, NULL);
  node = pare_graph_add_node(g, "layer", op, b >= 0 ? 3 : 2, 1);
  pare_node *n = &g->nodes[node];
  n->inputs[0] = x, n->inputs[1] = w;
  if (b >= 0) n->inputs[2] = b;
  n->outputs[0] = h;
  g->values[h].producer = node;
  if (k == GEMM_T || k == GEMM_TA) pare_node_add_attr(n, "transB", PARE_ATTR_INT)->i = 1;
  if (k == GEMM_TA) pare_node_add_attr(n, "transA", PARE_ATTR_INT)->i = 1;
  if (k == GEMM_N) {
    pare_node_add_attr(n, "alpha", PARE_ATTR_FLOAT)->f = 0.5f;
    pare_node_add_attr(n, "beta", PARE_ATTR_FLOAT)->f = 2.0f;
  }
  if (conv) {
    int64_t st[2] = {2, 1}, pads[4] = {1, 2, 0, 1}, dil[2] = {1, 2};
    set_ints(n, "strides", 2, st);
    set_ints(n, "pads", 4, pads);
    set_ints(n, "dilations", 2, dil);
  }
  int y = pare_graph_add_value(g, "y", PARE_DT_UNDEFINED, -1, NULL);
  int r = pare_graph_add_node(g, "relu", PARE_OP_RELU, 1, 1);
  g->nodes[r].inputs[0] = h;
  g->nodes[r].outputs[0] = y;
  g->values[y].producer = r;
  g->outputs = malloc(sizeof(int));
  g->outputs[0] = y;
  g->n_outputs = 1;
  return g;
}

static void check_equivalent(kind k, pare_lowrank_conv mode) {
  int64_t xd[4];
  int xr;
  pare_graph *g = layer_graph(k, 3, xd, &xr);
  test_rng rng = {9};
  int64_t nx = pare_shape_numel(xr, xd);
  float *x = malloc(sizeof(float) * (size_t)nx);
  test_fill(&rng, x, (size_t)nx, -1, 1);
  pare_tensor before, after;
  test_run_ref(g, x, xr, xd, &before);
  pare_lowrank_options o;
  pare_lowrank_options_init(&o);
  o.rule = PARE_LOWRANK_ENERGY;
  o.value = 0.999999; /* the exact rank, 2 */
  o.conv = mode;
  pare_lowrank_layer *rep;
  int n;
  pare_error err;
  if (pare_lowrank_apply(g, &o, &rep, &n, &err) != PARE_OK) fail_msg("%s", err.text);
  assert_int_equal(n, 1);
  if (!rep[0].factored) fail_msg("kind %d not factored: %s", (int)k, rep[0].why ? rep[0].why : "");
  assert_int_equal(rep[0].rank, 2);
  assert_true(rep[0].params_after < rep[0].params_before);
  int layers = 0, params = 0;
  for (int i = 0; i < g->n_nodes; i++) layers += g->nodes[i].op != PARE_OP_RELU;
  for (int i = 0; i < g->n_values; i++) params += g->values[i].is_param;
  assert_int_equal(layers, 2);
  assert_int_equal(params, k == MATMUL ? 2 : 3); /* two factors (+ the bias), trainable */
  test_run_ref(g, x, xr, xd, &after);
  assert_int_equal(before.rank, after.rank);
  assert_memory_equal(before.dims, after.dims, sizeof(int64_t) * (size_t)before.rank);
  const float *a = before.data, *b = after.data;
  for (int64_t i = 0; i < pare_tensor_numel(&before); i++)
    if (fabsf(a[i] - b[i]) > 1e-4f * (1.0f + fabsf(a[i])))
      fail_msg("kind %d: y[%lld] %.6g before, %.6g after", (int)k, (long long)i, a[i], b[i]);
  pare_tensor_release(&before);
  pare_tensor_release(&after);
  free(rep);
  free(x);
  pare_graph_destroy(g);
}

static void test_gemm_trans_b(void **s) {
  (void)s;
  check_equivalent(GEMM_T, PARE_LOWRANK_CONV_CHANNEL);
}
static void test_gemm_plain_alpha_beta(void **s) {
  (void)s;
  check_equivalent(GEMM_N, PARE_LOWRANK_CONV_CHANNEL);
}
static void test_gemm_trans_a(void **s) {
  (void)s;
  check_equivalent(GEMM_TA, PARE_LOWRANK_CONV_CHANNEL);
}
static void test_matmul(void **s) {
  (void)s;
  check_equivalent(MATMUL, PARE_LOWRANK_CONV_CHANNEL);
}
static void test_conv_channel(void **s) {
  (void)s;
  check_equivalent(CONV_CH, PARE_LOWRANK_CONV_CHANNEL);
}
static void test_conv_spatial(void **s) {
  (void)s;
  check_equivalent(CONV_SP, PARE_LOWRANK_CONV_SPATIAL);
}

static void test_rank_rules(void **state) {
  (void)state;
  const float s[4] = {3, 2, 1, 0.5f}; /* squares 9, 4, 1, 0.25: total 14.25 */
  pare_lowrank_options o;
  pare_lowrank_options_init(&o);
  o.value = 0.9; /* 9/14.25 = 0.63 < 0.9 <= 13/14.25 = 0.912 */
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 2);
  o.value = 0.95; /* 14/14.25 = 0.982 */
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 3);
  o.value = 1.0;
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 4);
  o.rule = PARE_LOWRANK_RATIO;
  o.value = 0.5; /* floor(48 / 20) */
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 2);
  o.value = 0.01; /* at least 1 */
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 1);
  o.rule = PARE_LOWRANK_RANK;
  o.value = 9; /* capped */
  assert_int_equal(pare_lowrank_choose_rank(&o, s, 4, 20, 96), 4);
}

static void test_skip_and_no_saving(void **state) {
  (void)state;
  int64_t xd[4];
  int xr;
  pare_graph *g = layer_graph(GEMM_T, 5, xd, &xr);
  pare_lowrank_options o;
  pare_lowrank_options_init(&o);
  o.skip = "other,layer";
  pare_lowrank_layer *rep;
  int n;
  pare_error err;
  assert_int_equal(pare_lowrank_apply(g, &o, &rep, &n, &err), PARE_OK);
  assert_int_equal(n, 1);
  assert_false(rep[0].factored);
  assert_string_equal(rep[0].why, "skipped");
  free(rep);
  o.skip = NULL;
  o.rule = PARE_LOWRANK_RANK;
  o.value = 7; /* (7 + 12)·7 > 84: no saving */
  assert_int_equal(pare_lowrank_apply(g, &o, &rep, &n, &err), PARE_OK);
  assert_false(rep[0].factored);
  assert_non_null(strstr(rep[0].why, "no saving"));
  assert_int_equal(g->n_nodes, 2);
  free(rep);
  o.rule = PARE_LOWRANK_ENERGY;
  o.value = 1.5;
  assert_int_equal(pare_lowrank_apply(g, &o, &rep, &n, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "energy"));
  pare_graph_destroy(g);
}

/* A stand-in for the device timer: a one-layer graph costs `per_node`
 * times its node count; it also checks that the layer came with a concrete
 * input shape. */
static pare_status fake_time(void *user, const pare_graph *layer, double *ms, pare_error *err) {
  (void)err;
  const pare_value *x = &layer->values[layer->inputs[0]];
  assert_int_equal(x->rank, 2);
  assert_int_equal(x->dims[0], 5);
  *ms = *(const double *)user * layer->n_nodes;
  return PARE_OK;
}

static void test_measured_choice(void **state) {
  (void)state;
  for (int faster = 0; faster < 2; faster++) {
    int64_t xd[4];
    int xr;
    pare_graph *g = layer_graph(GEMM_T, 3, xd, &xr);
    pare_tensor in = {PARE_DT_F32, xr, {0}, NULL, 0, 0, 0};
    memcpy(in.dims, xd, sizeof(int64_t) * (size_t)xr);
    pare_plan *shapes;
    pare_error err;
    assert_int_equal(pare_plan_create(g, &in, 1, &shapes, &err), PARE_OK);
    /* Two nodes cost 2·c, one node c: factored is slower with c > 0 as is;
     * a negative c makes the two-node form "faster". */
    double per_node = faster ? -1.0 : 1.0;
    pare_lowrank_options o;
    pare_lowrank_options_init(&o);
    o.value = 0.999999;
    o.time = fake_time;
    o.time_user = &per_node;
    o.shapes = shapes;
    pare_lowrank_layer *rep;
    int n;
    assert_int_equal(pare_lowrank_apply(g, &o, &rep, &n, &err), PARE_OK);
    pare_plan_destroy(shapes); /* after the graph grew: the plan keeps its own count */
    assert_int_equal(rep[0].factored, faster);
    assert_true(rep[0].ms_before != 0 && rep[0].ms_after != 0);
    assert_int_equal(g->n_nodes, faster ? 3 : 2);
    if (!faster) assert_non_null(strstr(rep[0].why, "slower"));
    free(rep);
    pare_graph_destroy(g);
  }
}

/* A stand-in for the validation set: 0.9 for the original or an exact
 * factorization (rank 2 here), 0.8 at rank 1. */
static pare_status fake_accuracy(void *user, const pare_graph *g, double *acc, pare_error *err) {
  (void)user;
  (void)err;
  int a = pare_graph_find_value(g, "layer.lowrank_a");
  int64_t r = a >= 0 ? g->values[a].dims[0] : 2;
  *acc = r >= 2 ? 0.9 : 0.8;
  return PARE_OK;
}

static void test_auto_scan(void **state) {
  (void)state;
  static const double budgets[] = {0.05, 0.2};
  for (int b = 0; b < 2; b++) {
    int64_t xd[4];
    int xr;
    pare_graph *g = layer_graph(GEMM_T, 3, xd, &xr);
    pare_lowrank_options o;
    pare_lowrank_options_init(&o);
    o.rule = PARE_LOWRANK_AUTO;
    o.value = budgets[b];
    o.eval = fake_accuracy;
    pare_lowrank_layer *rep;
    int n;
    pare_error err;
    assert_int_equal(pare_lowrank_apply(g, &o, &rep, &n, &err), PARE_OK);
    assert_true(rep[0].factored);
    assert_int_equal(rep[0].rank, b == 0 ? 2 : 1); /* the smallest rank within the budget */
    assert_true(fabs(rep[0].accuracy - (b == 0 ? 0.9 : 0.8)) < 1e-12);
    free(rep);
    pare_graph_destroy(g);
  }
  pare_lowrank_options o;
  pare_lowrank_options_init(&o);
  o.rule = PARE_LOWRANK_AUTO;
  o.value = 0.01;
  int64_t xd[4];
  int xr;
  pare_graph *g = layer_graph(GEMM_T, 3, xd, &xr);
  pare_error err;
  assert_int_equal(pare_lowrank_apply(g, &o, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(err.text, "validation"));
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gemm_trans_b),    cmocka_unit_test(test_gemm_plain_alpha_beta),
      cmocka_unit_test(test_gemm_trans_a),    cmocka_unit_test(test_matmul),
      cmocka_unit_test(test_conv_channel),    cmocka_unit_test(test_conv_spatial),
      cmocka_unit_test(test_rank_rules),      cmocka_unit_test(test_skip_and_no_saving),
      cmocka_unit_test(test_measured_choice), cmocka_unit_test(test_auto_scan),
  };
  return cmocka_run_group_tests_name("lowrank", tests, NULL, NULL);
}
