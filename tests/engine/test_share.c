/* Weight sharing (engine/compress/share.c, pare_model_share_weights): the
 * 1-D k-means finds the centroids of well separated groups and drops empty
 * clusters; shared layers hold at most 2^bits distinct values, zeros stay
 * exactly zero, every weight takes its nearest value; 1 and 8 bits, equal
 * and all-zero layers, the dense list, and bits out of range. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/prune.h"
#include "engine/compress/share.h"
#include "engine/compress/weights.h"
#include "engine/model_internal.h"
#include "engine/train/zoo.h"
#include "tests/test_util.h"

/* LeNet-300-100 as the zoo builds it, and the weights of fc1, fc2, fc3
 * (784×300, 300×100, 100×10) with their element counts. */
typedef struct mlp_layers {
  pare_graph *g;
  float *w[3];
  size_t n[3];
} mlp_layers;

static mlp_layers mlp(void) {
  mlp_layers m;
  memset(&m, 0, sizeof m);
  pare_error err;
  if (pare_zoo_build("mlp", 7, &m.g, &err) != PARE_OK) fail_msg("%s", err.text);
  int k = 0;
  for (int i = 0; i < m.g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(m.g, i, &lw)) continue;
    assert_true(k < 3);
    m.w[k] = m.g->values[lw.weight].data;
    m.n[k++] = (size_t)(lw.outs * lw.ins);
  }
  assert_int_equal(k, 3);
  return m;
}

static float *copy_of(const float *w, size_t n) {
  float *c = malloc(sizeof(float) * n);
  assert_non_null(c);
  memcpy(c, w, sizeof(float) * n);
  return c;
}

static int cmp_f(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Distinct values of w (0.0 and -0.0 count once); *values receives them
 * sorted (malloc'ed) when not NULL. */
static int64_t distinct(const float *w, size_t n, float **values) {
  float *s = copy_of(w, n);
  for (size_t i = 0; i < n; i++)
    if (s[i] == 0.0f) s[i] = 0.0f;
  qsort(s, n, sizeof(float), cmp_f);
  size_t d = 0;
  for (size_t i = 0; i < n; i++)
    if (i == 0 || s[i] != s[d - 1]) s[d++] = s[i];
  if (values)
    *values = s;
  else
    free(s);
  return (int64_t)d;
}

static void share(pare_graph *g, int bits, const char *dense, pare_share_layer **rep, int *n) {
  pare_error err;
  if (pare_share_apply(g, bits, dense, rep, n, &err) != PARE_OK) fail_msg("%s", err.text);
}

static void test_kmeans_known(void **state) {
  (void)state;
  double c[8];
  /* Three tight groups: their means. */
  const float groups[] = {0.9f, 1.0f, 1.1f, 4.8f, 5.0f, 5.2f, 9.9f, 10.0f, 10.1f};
  assert_int_equal(pare_kmeans_1d(groups, 9, 3, 50, c), 3);
  assert_true(fabs(c[0] - 1.0) < 1e-6 && fabs(c[1] - 5.0) < 1e-6 && fabs(c[2] - 10.0) < 1e-6);
  /* Linear initialisation puts the middle centroid in the gap: it is
   * dropped and the two groups keep their means. */
  const float two[] = {0.0f, 0.1f, 10.0f, 10.1f};
  assert_int_equal(pare_kmeans_1d(two, 4, 3, 50, c), 2);
  assert_true(fabs(c[0] - 0.05) < 1e-6 && fabs(c[1] - 10.05) < 1e-6);
  /* Lloyd moves the boundary: 0..8 and 20 settle at 4 and 20. */
  const float skew[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 20};
  assert_int_equal(pare_kmeans_1d(skew, 10, 2, 50, c), 2);
  assert_true(fabs(c[0] - 4.0) < 1e-9 && fabs(c[1] - 20.0) < 1e-9);
  /* One value, one cluster, whatever k. */
  const float one[] = {-2.5f};
  assert_int_equal(pare_kmeans_1d(one, 1, 16, 50, c), 1);
  assert_true(c[0] == -2.5);
  /* k = 1: the mean. */
  assert_int_equal(pare_kmeans_1d(skew, 10, 1, 50, c), 1);
  assert_true(fabs(c[0] - 5.6) < 1e-9);
}

/* A pruned layer keeps exactly its zeros and gets at most 2^bits values,
 * zero among them; every other weight takes the nearest of its values. */
static void test_zeros_kept(void **state) {
  (void)state;
  mlp_layers L = mlp();
  pare_graph *g = L.g;
  pare_prune_options o;
  pare_prune_options_init(&o);
  o.amount = 0.7;
  o.dense = "none";
  pare_error err;
  assert_int_equal(pare_prune_apply(g, &o, NULL, NULL, &err), PARE_OK);
  size_t n = L.n[1];
  float *w = L.w[1], *before = copy_of(w, n);
  pare_share_layer *rep;
  int nr;
  share(g, 3, NULL, &rep, &nr);
  assert_int_equal(nr, 3);
  float *values;
  int64_t d = distinct(w, n, &values);
  assert_true(d <= 8);
  assert_true(values[0] < 0 && values[d - 1] > 0);
  assert_int_equal(rep[1].values, d);
  assert_int_equal(rep[1].zeros, (int64_t)(0.7 * 300 * 100));
  assert_int_equal(rep[1].bits, 3);
  assert_true(rep[1].shared);
  assert_true(rep[1].rms_error > 0 && rep[1].rms_error < 0.5);
  double diff = 0, norm = 0;
  for (size_t i = 0; i < n; i++) {
    assert_true((before[i] == 0.0f) == (w[i] == 0.0f));
    if (before[i] == 0.0f) continue;
    for (int64_t j = 0; j < d; j++) /* the nearest nonzero value */
      if (values[j] != 0.0f) assert_true(fabsf(before[i] - w[i]) <= fabsf(before[i] - values[j]));
    diff += ((double)before[i] - w[i]) * ((double)before[i] - w[i]);
    norm += (double)before[i] * before[i];
  }
  assert_true(fabs(sqrt(diff / norm) - rep[1].rms_error) < 1e-9);
  /* Sharing again changes nothing. */
  float *once = copy_of(w, n);
  share(g, 3, NULL, NULL, NULL);
  assert_memory_equal(once, w, sizeof(float) * n);
  free(once);
  free(values);
  free(before);
  free(rep);
  pare_graph_destroy(g);
}

static void test_bits_1_and_8(void **state) {
  (void)state;
  mlp_layers L = mlp();
  pare_graph *g = L.g;
  size_t n1 = L.n[0], n2 = L.n[1], n3 = L.n[2];
  float *fc1 = L.w[0], *fc2 = L.w[1], *fc3 = L.w[2];
  for (size_t i = 0; i < n2; i += 2) fc2[i] = 0.0f; /* half zeros */
  float *orig2 = copy_of(fc2, n2);
  pare_share_layer *rep;
  int nr;
  share(g, 1, "fc1", &rep, &nr);
  /* fc2 with zeros: the nonzeros all become their mean. */
  double mean = 0;
  size_t nz = 0;
  for (size_t i = 0; i < n2; i++)
    if (orig2[i] != 0.0f) mean += orig2[i], nz++;
  mean /= (double)nz;
  for (size_t i = 0; i < n2; i++) {
    if (orig2[i] == 0.0f)
      assert_true(fc2[i] == 0.0f);
    else
      assert_true(fabs(fc2[i] - mean) <= 1e-6 * fabs(mean) + 1e-9);
  }
  assert_int_equal(rep[1].values, 2);
  /* fc3 without zeros: two values, the negatives and positives. */
  assert_int_equal(distinct(fc3, n3, NULL), 2);
  assert_int_equal(rep[2].values, 2);
  assert_int_equal(rep[2].zeros, 0);
  assert_false(rep[0].shared);
  free(rep);
  /* 8 bits on fc1's 235 200 weights: at most 256 values, a small error. */
  float *orig1 = copy_of(fc1, n1);
  share(g, 8, NULL, &rep, &nr);
  assert_true(distinct(fc1, n1, NULL) <= 256);
  assert_true(rep[0].values <= 256 && rep[0].values > 128);
  assert_true(rep[0].rms_error > 0 && rep[0].rms_error < 0.02);
  free(rep);
  memcpy(fc1, orig1, sizeof(float) * n1);
  share(g, 4, NULL, &rep, &nr);
  assert_true(rep[0].values <= 16);
  assert_true(rep[0].rms_error > 0.02); /* coarser than 8 bits */
  free(rep);
  free(orig1);
  free(orig2);
  pare_graph_destroy(g);
}

static void test_equal_and_zero_layers(void **state) {
  (void)state;
  mlp_layers L = mlp();
  pare_graph *g = L.g;
  size_t n2 = L.n[1], n3 = L.n[2];
  float *fc2 = L.w[1], *fc3 = L.w[2];
  for (size_t i = 0; i < n2; i++) fc2[i] = 0.25f;
  memset(fc3, 0, sizeof(float) * n3);
  pare_share_layer *rep;
  int nr;
  share(g, 2, "first", &rep, &nr);
  for (size_t i = 0; i < n2; i++) assert_true(fc2[i] == 0.25f);
  for (size_t i = 0; i < n3; i++) assert_true(fc3[i] == 0.0f);
  assert_int_equal(rep[1].values, 1);
  assert_true(rep[1].rms_error == 0);
  assert_int_equal(rep[2].values, 1);
  assert_int_equal(rep[2].zeros, (int64_t)n3);
  assert_true(rep[2].shared && rep[2].rms_error == 0);
  free(rep);
  pare_graph_destroy(g);
}

static void test_dense_list(void **state) {
  (void)state;
  mlp_layers L = mlp();
  pare_graph *g = L.g;
  size_t n1 = L.n[0], n2 = L.n[1], n3 = L.n[2];
  float *fc1 = L.w[0], *fc2 = L.w[1], *fc3 = L.w[2];
  float *o1 = copy_of(fc1, n1), *o3 = copy_of(fc3, n3);
  pare_share_layer *rep;
  int nr;
  share(g, 2, "first,last", &rep, &nr);
  assert_memory_equal(o1, fc1, sizeof(float) * n1);
  assert_memory_equal(o3, fc3, sizeof(float) * n3);
  assert_true(distinct(fc2, n2, NULL) <= 4);
  assert_false(rep[0].shared);
  assert_string_equal(rep[0].why, "left dense");
  assert_true(rep[1].shared);
  assert_false(rep[2].shared);
  assert_int_equal(rep[2].bits, 0);
  free(rep);
  /* By name. */
  share(g, 2, "fc1", NULL, NULL);
  assert_memory_equal(o1, fc1, sizeof(float) * n1);
  assert_true(distinct(fc3, n3, NULL) <= 4);
  free(o1);
  free(o3);
  pare_graph_destroy(g);
}

static void test_bad_bits(void **state) {
  (void)state;
  mlp_layers L = mlp();
  pare_graph *g = L.g;
  size_t n1 = L.n[0];
  float *fc1 = L.w[0], *o1 = copy_of(fc1, n1);
  pare_error err;
  pare_share_layer *rep = (pare_share_layer *)&err;
  assert_int_equal(pare_share_apply(g, 0, NULL, &rep, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_null(rep);
  assert_int_equal(pare_share_apply(g, 9, NULL, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_int_equal(pare_share_apply(NULL, 4, NULL, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  /* The public entry point: an error that says the range, weights untouched. */
  struct pare_model m;
  memset(&m, 0, sizeof m);
  m.graph = g;
  pare_share_layer_info *info = NULL;
  int count = -1;
  assert_int_equal(pare_model_share_weights(&m, -1, NULL, &info, &count), PARE_ERR_INVALID_ARG);
  assert_non_null(strstr(pare_model_last_error(&m), "1..8"));
  assert_null(info);
  assert_int_equal(count, 0);
  assert_int_equal(pare_model_share_weights(&m, 9, NULL, NULL, NULL), PARE_ERR_INVALID_ARG);
  assert_memory_equal(o1, fc1, sizeof(float) * n1);
  assert_int_equal(pare_model_share_weights(NULL, 4, NULL, NULL, NULL), PARE_ERR_INVALID_ARG);
  /* And a valid call through it. */
  assert_int_equal(pare_model_share_weights(&m, 2, "last", &info, &count), PARE_OK);
  assert_int_equal(count, 3);
  assert_string_equal(info[0].node, "fc1");
  assert_string_equal(info[0].op, "Gemm");
  assert_true(info[0].shared && info[0].values <= 4 && info[0].bits == 2);
  assert_int_equal(info[0].params, (int64_t)n1);
  assert_false(info[2].shared);
  assert_string_equal(info[2].why, "left dense");
  assert_true(distinct(fc1, n1, NULL) <= 4);
  pare_free(info);
  pare_plan_destroy(m.plan);
  free(o1);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_kmeans_known), cmocka_unit_test(test_zeros_kept),
      cmocka_unit_test(test_bits_1_and_8), cmocka_unit_test(test_equal_and_zero_layers),
      cmocka_unit_test(test_dense_list),   cmocka_unit_test(test_bad_bits),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
