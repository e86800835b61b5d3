/* Pruning (engine/compress/prune.c) and sparse storage in .pare files
 * (engine/io/sparse_storage.c): magnitude modes leave exactly the zeros
 * asked for and drop the smallest weights, N:M keeps the pattern, the dense
 * list holds, structured pruning computes what the model with those
 * channels zeroed computes, and sparse storage gives back the exact bytes
 * and rejects corrupt input. */
#include <math.h>
#include <string.h>

#include "engine/compress/prune.h"
#include "engine/compress/weights.h"
#include "engine/io/coded_storage.h"
#include "engine/io/pare_format.h"
#include "engine/io/sparse_storage.h"
#include "engine/train/zoo.h"
#include "tests/test_graph_util.h"

static pare_graph *zoo(const char *arch) {
  pare_graph *g = NULL;
  pare_error err;
  if (pare_zoo_build(arch, 7, &g, &err) != PARE_OK) fail_msg("%s", err.text);
  return g;
}

static int64_t zeros_of(const pare_graph *g, int node) {
  pare_layer_weight lw;
  assert_null(pare_layer_weight_of(g, node, &lw));
  const float *w = g->values[lw.weight].data;
  int64_t z = 0;
  for (int64_t i = 0; i < lw.outs * lw.ins; i++) z += w[i] == 0.0f;
  return z;
}

static int node_named(const pare_graph *g, const char *name) {
  for (int i = 0; i < g->n_nodes; i++)
    if (!strcmp(g->nodes[i].name, name)) return i;
  fail_msg("no node %s", name);
  return -1;
}

/* The largest |w| pruned is no larger than the smallest kept, per layer. */
static void assert_magnitude_order(const pare_graph *before, const pare_graph *after, int node) {
  pare_layer_weight lw;
  assert_null(pare_layer_weight_of(after, node, &lw));
  const float *w0 = before->values[lw.weight].data, *w1 = after->values[lw.weight].data;
  float max_cut = 0, min_kept = INFINITY;
  for (int64_t i = 0; i < lw.outs * lw.ins; i++) {
    if (w1[i] == 0.0f && fabsf(w0[i]) > max_cut) max_cut = fabsf(w0[i]);
    if (w1[i] != 0.0f) {
      assert_true(w1[i] == w0[i]); /* kept weights are untouched */
      if (fabsf(w1[i]) < min_kept) min_kept = fabsf(w1[i]);
    }
  }
  assert_true(max_cut <= min_kept);
}

static void prune(pare_graph *g, pare_prune_options *o, pare_prune_layer **rep, int *n) {
  pare_error err;
  if (pare_prune_apply(g, o, rep, n, &err) != PARE_OK) fail_msg("%s", err.text);
}

static void test_layer_mode(void **state) {
  (void)state;
  pare_graph *g = zoo("mlp"), *orig = zoo("mlp");
  pare_prune_options o;
  pare_prune_options_init(&o);
  o.amount = 0.7;
  o.dense = "last";
  pare_prune_layer *rep;
  int n;
  prune(g, &o, &rep, &n);
  assert_int_equal(n, 3);
  int fc1 = node_named(g, "fc1"), fc2 = node_named(g, "fc2"), fc3 = node_named(g, "fc3");
  assert_int_equal(zeros_of(g, fc1), (int64_t)(0.7 * 784 * 300));
  assert_int_equal(zeros_of(g, fc2), (int64_t)(0.7 * 300 * 100));
  assert_int_equal(zeros_of(g, fc3), 0); /* "last" stays dense */
  assert_false(rep[2].pruned);
  assert_int_equal(rep[0].zeros, zeros_of(g, fc1));
  assert_magnitude_order(orig, g, fc1);
  assert_magnitude_order(orig, g, fc2);
  /* Pruning again to less changes nothing; to more, only adds zeros. */
  o.amount = 0.5;
  free(rep);
  prune(g, &o, NULL, NULL);
  assert_int_equal(zeros_of(g, fc1), (int64_t)(0.7 * 784 * 300));
  pare_graph_destroy(g);
  pare_graph_destroy(orig);
}

static void test_global_and_threshold(void **state) {
  (void)state;
  pare_graph *g = zoo("simplecnn"), *orig = zoo("simplecnn");
  pare_prune_options o;
  pare_prune_options_init(&o);
  o.mode = PARE_PRUNE_GLOBAL;
  o.amount = 0.8;
  o.dense = "none";
  pare_prune_layer *rep;
  int n;
  prune(g, &o, &rep, &n);
  int64_t total = 0, zeros = 0;
  float max_cut = 0, min_kept = INFINITY;
  for (int i = 0; i < g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    total += lw.outs * lw.ins;
    zeros += zeros_of(g, i);
    const float *w0 = orig->values[lw.weight].data, *w1 = g->values[lw.weight].data;
    for (int64_t k = 0; k < lw.outs * lw.ins; k++) {
      if (w1[k] == 0.0f && fabsf(w0[k]) > max_cut) max_cut = fabsf(w0[k]);
      if (w1[k] != 0.0f && fabsf(w1[k]) < min_kept) min_kept = fabsf(w1[k]);
    }
  }
  assert_int_equal(zeros, (int64_t)(0.8 * (double)total));
  assert_true(max_cut <= min_kept); /* one cut over all layers */
  free(rep);
  /* Threshold: exactly the weights at or below it. */
  pare_graph_destroy(g);
  g = zoo("simplecnn");
  o.mode = PARE_PRUNE_THRESHOLD;
  o.amount = 0.05;
  o.dense = "conv1";
  prune(g, &o, NULL, NULL);
  for (int i = 0; i < g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    const float *w0 = orig->values[lw.weight].data, *w1 = g->values[lw.weight].data;
    int dense = !strcmp(g->nodes[i].name, "conv1");
    for (int64_t k = 0; k < lw.outs * lw.ins; k++)
      assert_true(w1[k] == (!dense && fabsf(w0[k]) <= 0.05f ? 0.0f : w0[k]));
  }
  pare_graph_destroy(g);
  pare_graph_destroy(orig);
}

/* LAMP: a layer scaled down 1000× keeps its largest weight (a global
 * magnitude cut would empty it), the total is exact, and within a layer
 * the order is by magnitude. */
static void test_lamp(void **state) {
  (void)state;
  pare_graph *gs[2] = {zoo("simplecnn"), zoo("simplecnn")}, *g = gs[0], *orig = gs[1];
  for (int c = 0; c < 2; c++)
    for (int i = 0; i < gs[c]->n_nodes; i++) {
      pare_layer_weight lw;
      if (strcmp(gs[c]->nodes[i].name, "conv1") || pare_layer_weight_of(gs[c], i, &lw)) continue;
      float *w = gs[c]->values[lw.weight].data;
      for (int64_t k = 0; k < lw.outs * lw.ins; k++) w[k] *= 1e-3f;
    }
  pare_prune_options o;
  pare_prune_options_init(&o);
  assert_true(pare_prune_parse_mode("lamp", &o));
  o.amount = 0.9;
  o.dense = "none";
  prune(g, &o, NULL, NULL);
  int64_t total = 0, zeros = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    pare_layer_weight lw;
    if (pare_layer_weight_of(g, i, &lw)) continue;
    int64_t n = lw.outs * lw.ins, z = zeros_of(g, i);
    total += n;
    zeros += z;
    assert_true(z < n); /* no layer emptied */
    const float *w0 = orig->values[lw.weight].data, *w1 = g->values[lw.weight].data;
    float max_cut = 0, min_kept = INFINITY;
    for (int64_t k = 0; k < n; k++) {
      if (w1[k] == 0.0f && fabsf(w0[k]) > max_cut) max_cut = fabsf(w0[k]);
      if (w1[k] != 0.0f && fabsf(w1[k]) < min_kept) min_kept = fabsf(w1[k]);
    }
    assert_true(max_cut <= min_kept);
  }
  assert_int_equal(zeros, (int64_t)(0.9 * (double)total));
  pare_graph_destroy(g);
  pare_graph_destroy(orig);
}

static void test_nm(void **state) {
  (void)state;
  /* LeNet-5: conv inputs of 25 and 150 (not multiples of 4 or 8), Gemm of
   * 400, 120, 84 inputs. */
  for (int pattern = 0; pattern < 2; pattern++) {
    int nn = pattern ? 4 : 2, mm = pattern ? 8 : 4;
    pare_graph *g = zoo("lenet5"), *orig = zoo("lenet5");
    pare_prune_options o;
    pare_prune_options_init(&o);
    o.mode = PARE_PRUNE_NM;
    o.n = nn;
    o.m = mm;
    o.dense = "none";
    prune(g, &o, NULL, NULL);
    for (int i = 0; i < g->n_nodes; i++) {
      pare_layer_weight lw;
      if (pare_layer_weight_of(g, i, &lw)) continue;
      const float *w0 = orig->values[lw.weight].data, *w1 = g->values[lw.weight].data;
      for (int64_t r = 0; r < lw.outs; r++)
        for (int64_t g0 = 0; g0 < lw.ins; g0 += mm) {
          int64_t len = lw.ins - g0 < mm ? lw.ins - g0 : mm, kept = 0;
          float min_kept = INFINITY, max_cut = 0;
          for (int64_t k = g0; k < g0 + len; k++) {
            int64_t at = r * lw.so + k * lw.si;
            if (w1[at] != 0.0f) {
              kept++;
              if (fabsf(w1[at]) < min_kept) min_kept = fabsf(w1[at]);
            } else if (fabsf(w0[at]) > max_cut) {
              max_cut = fabsf(w0[at]);
            }
          }
          assert_true(kept == (len < nn ? len : nn));
          assert_true(max_cut <= min_kept);
        }
    }
    pare_graph_destroy(g);
    pare_graph_destroy(orig);
  }
}

/* Structured pruning computes what the unpruned model computes with the
 * removed channels' filters and biases zeroed (ReLU(0) = 0 and max-pool of
 * zeros is zero, so the next layer sees nothing from them). */
static void test_structured(void **state) {
  (void)state;
  const char *archs[] = {"simplecnn:6,10", "mlp"};
  for (int a = 0; a < 2; a++) {
    pare_graph *g = zoo(archs[a]), *ref = zoo(archs[a]);
    pare_prune_options o;
    pare_prune_options_init(&o);
    o.mode = PARE_PRUNE_STRUCTURED;
    o.amount = 0.5;
    pare_prune_layer *rep;
    int n;
    prune(g, &o, &rep, &n);
    /* The last layer's outputs are the model's: it keeps them all. */
    assert_false(rep[n - 1].pruned);
    for (int l = 0; l < n - 1; l++) {
      assert_true(rep[l].pruned);
      assert_int_equal(rep[l].channels, rep[l].channels_before - rep[l].channels_before / 2);
    }
    /* In ref, layer by layer, zero the channels with the smallest L1 norms
     * and the next layer's inputs from them (as the pass removes them
     * before it ranks the next layer's channels). */
    int layer_nodes[8], nl = 0;
    for (int i = 0; i < ref->n_nodes && nl < 8; i++) {
      pare_layer_weight lw;
      if (!pare_layer_weight_of(ref, i, &lw)) layer_nodes[nl++] = i;
    }
    assert_int_equal(nl, n);
    for (int l = 0; l < n - 1; l++) {
      pare_layer_weight lw, next;
      pare_layer_weight_of(ref, layer_nodes[l], &lw);
      pare_layer_weight_of(ref, layer_nodes[l + 1], &next);
      int64_t drop = rep[l].channels_before - rep[l].channels, block = next.ins / lw.outs;
      float *w = ref->values[lw.weight].data, *wn = ref->values[next.weight].data;
      float *b = lw.bias >= 0 ? ref->values[lw.bias].data : NULL;
      for (int64_t d = 0; d < drop; d++) {
        int64_t best = -1;
        double best_norm = INFINITY;
        for (int64_t r = 0; r < lw.outs; r++) {
          double s = 0;
          for (int64_t k = 0; k < lw.ins; k++) s += fabs(w[r * lw.so + k * lw.si]);
          if (s > 0 && s < best_norm) best_norm = s, best = r;
        }
        for (int64_t k = 0; k < lw.ins; k++) w[best * lw.so + k * lw.si] = 0.0f;
        if (b) b[best] = 0.0f;
        for (int64_t r = 0; r < next.outs; r++)
          for (int64_t k = best * block; k < (best + 1) * block; k++)
            wn[r * next.so + k * next.si] = 0.0f;
      }
    }
    test_rng rng = {11};
    int64_t dims4[4] = {3, 1, 28, 28};
    float x[3 * 784];
    test_fill(&rng, x, 3 * 784, 0, 1);
    pare_tensor y0, y1;
    test_run_ref(ref, x, 4, dims4, &y0);
    test_run_ref(g, x, 4, dims4, &y1);
    assert_int_equal(pare_tensor_numel(&y0), pare_tensor_numel(&y1));
    for (int64_t i = 0; i < pare_tensor_numel(&y0); i++)
      assert_float_equal(((float *)y0.data)[i], ((float *)y1.data)[i], 1e-4);
    pare_tensor_release(&y0);
    pare_tensor_release(&y1);
    free(rep);
    pare_graph_destroy(g);
    pare_graph_destroy(ref);
  }
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* Quickselect (the magnitude cuts) against a sort, on values with many
 * repeats and without. */
static void test_kth_smallest(void **state) {
  (void)state;
  test_rng r = {9};
  static const size_t sizes[] = {1, 2, 3, 17, 1000, 4099};
  for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
    size_t n = sizes[s];
    float *a = malloc(sizeof(float) * n), *sorted = malloc(sizeof(float) * n);
    float *work = malloc(sizeof(float) * n);
    for (int repeats = 0; repeats < 2; repeats++) {
      for (size_t i = 0; i < n; i++)
        a[i] = repeats ? (float)test_rng_below(&r, 5) : test_rng_uniform(&r, -1.0f, 1.0f);
      memcpy(sorted, a, sizeof(float) * n);
      qsort(sorted, n, sizeof(float), cmp_float);
      for (size_t k = 1; k <= n; k += 1 + n / 7) {
        memcpy(work, a, sizeof(float) * n);
        assert_true(pare_kth_smallest(work, n, k) == sorted[k - 1]);
      }
      memcpy(work, a, sizeof(float) * n);
      assert_true(pare_kth_smallest(work, n, n) == sorted[n - 1]);
    }
    free(a);
    free(sorted);
    free(work);
  }
}

static void test_bad_options(void **state) {
  (void)state;
  pare_graph *g = zoo("mlp");
  pare_prune_options o;
  pare_prune_options_init(&o);
  pare_error err;
  o.amount = 1.0;
  assert_int_equal(pare_prune_apply(g, &o, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  o.amount = NAN;
  assert_int_equal(pare_prune_apply(g, &o, NULL, NULL, &err), PARE_ERR_INVALID_ARG);
  assert_false(pare_prune_parse_mode("3:2", &o));
  assert_false(pare_prune_parse_mode("2:4x", &o));
  assert_false(pare_prune_parse_mode("blocks", &o));
  assert_true(pare_prune_parse_mode("structured-l2", &o));
  assert_int_equal(o.norm, 2);
  assert_true(pare_prune_parse_mode("4:8", &o));
  assert_int_equal(o.mode, PARE_PRUNE_NM);
  pare_graph_destroy(g);
}

/* Sparse storage: exact bytes back for runs of zeros around the filler
 * boundaries (255, 256, 257, 511, 512), -0.0, all zero, dense, and
 * elements of 1, 4 and 8 bytes. */
static void test_sparse_storage(void **state) {
  (void)state;
  test_rng rng = {3};
  size_t elems[3] = {1, 4, 8};
  for (int e = 0; e < 3; e++)
    for (int pattern = 0; pattern < 6; pattern++) {
      size_t elem = elems[e], count = 3000;
      unsigned char *d = calloc(count, elem), *back = malloc(count * elem);
      for (size_t i = 0; i < count; i++) {
        int nonzero = pattern == 0   ? 0
                      : pattern == 1 ? 1
                      : pattern == 2 ? test_rng_below(&rng, 10) == 0
                      : pattern == 3 ? (i == 255 || i == 512 || i == 1024 + 511 || i == 2999)
                      : pattern == 4 ? (i % 257 == 256)
                                     : (i == 0);
        if (nonzero)
          for (size_t b = 0; b < elem; b++)
            d[i * elem + b] = (unsigned char)(1 + test_rng_below(&rng, 255));
      }
      if (pattern == 2) d[5 * elem + elem - 1] = 0x80; /* -0.0 in the last byte */
      size_t size = pare_sparse_storage_size(d, count, elem);
      unsigned char *enc = malloc(size);
      pare_sparse_storage_encode(d, count, elem, enc);
      assert_int_equal(pare_sparse_storage_decode(enc, size, count, elem, back), 0);
      assert_memory_equal(d, back, count * elem);
      /* Corruptions are refused: a size that does not match, a gap that
       * runs past the end. */
      assert_int_equal(pare_sparse_storage_decode(enc, size - 1, count, elem, back), -1);
      assert_int_equal(pare_sparse_storage_decode(enc, size, 10, elem, back),
                       pattern == 0 || pattern == 5 ? 0 : -1);
      free(enc);
      free(d);
      free(back);
    }
}

/* Empirical entropy, in bits, of n binary outcomes of which k are 1. */
static double binary_entropy_bits(double k, double n) {
  if (k <= 0 || k >= n) return 0;
  double p = k / n;
  return -n * (p * log2(p) + (1 - p) * log2(1 - p));
}

/* Coded storage: exact bytes back for every shape (one row, one column,
 * rows of 1..9000), all zero, all nonzero and values of every byte; its
 * size within 8% (and 64 bytes) of what an oracle that knew each row's
 * density and the values' frequencies would need, where rows differ in
 * density (a tenth of them 40%, the rest 3%); claims it cannot back are
 * refused. */
static void test_coded_storage(void **state) {
  (void)state;
  test_rng rng = {11};
  const struct {
    size_t rows, cols;
    int pattern; /* 0 zero, 1 all nonzero, 2 random bytes at 20%, 3 rows of two densities */
  } cases[] = {{1, 1, 1},   {1, 5000, 2},  {5000, 1, 2},   {3, 7, 0},    {64, 64, 0},
               {17, 33, 1}, {300, 784, 3}, {120, 9000, 3}, {257, 129, 2}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    size_t rows = cases[c].rows, cols = cases[c].cols, count = rows * cols;
    unsigned char *d = calloc(count, 1), *back = malloc(count);
    double oracle = 0;
    size_t freq[8] = {0}, nonzero = 0;
    for (size_t r = 0; r < rows; r++) {
      size_t density = r % 10 == 0 ? 400 : 30, row_nz = 0; /* per mille, pattern 3 */
      for (size_t j = 0; j < cols; j++) {
        unsigned char v = 0;
        if (cases[c].pattern == 1)
          v = (unsigned char)(1 + test_rng_below(&rng, 255));
        else if (cases[c].pattern == 2 && test_rng_below(&rng, 5) == 0)
          v = (unsigned char)test_rng_below(&rng, 256);
        else if (cases[c].pattern == 3 && test_rng_below(&rng, 1000) < density)
          v = (unsigned char)(1 + test_rng_below(&rng, 7)); /* seven shared values */
        d[r * cols + j] = v;
        if (v && v < 8) freq[v]++;
        row_nz += v != 0;
      }
      oracle += binary_entropy_bits((double)row_nz, (double)cols);
      nonzero += row_nz;
    }
    uint8_t *enc;
    size_t size;
    assert_int_equal(pare_coded_encode(d, count, cols, &enc, &size), 0);
    memset(back, 0x55, count);
    assert_int_equal(pare_coded_decode(enc, size, count, back), 0);
    assert_memory_equal(back, d, count);
    if (cases[c].pattern == 3) {
      for (int v = 1; v < 8; v++)
        if (freq[v]) oracle -= (double)freq[v] * log2((double)freq[v] / (double)nonzero);
      assert_true((double)size * 8 <= oracle * 1.08 + 64 * 8);
    }
    if (cases[c].pattern == 0) /* nothing to code: the header and the coder's last bytes */
      assert_true(size <= 8 + 32 + count / 2000);
    /* The row length must divide the elements; a stream cannot claim more
     * than 32 768 elements a byte; a header alone is refused. */
    if (cols > 1) assert_int_equal(pare_coded_decode(enc, size, count + 1, back), -1);
    assert_int_equal(pare_coded_decode(enc, size, (size - 8 + 1) * 32768 * cols, back), -1);
    assert_int_equal(pare_coded_decode(enc, 7, count, back), -1);
    free(enc);
    if (cols > 1) assert_int_equal(pare_coded_encode(d, count, cols + 1, &enc, &size), -1);
    free(d);
    free(back);
  }
}

/* Stored forms of whole values: the smallest of raw, sparse, deflated and
 * codebook comes back byte for byte (fp32, int8 with few distinct values,
 * packed int4 of odd length, fp32 of 16, 256 and 257 shared values), and
 * damaged bytes are refused. */
static void test_value_codecs(void **state) {
  (void)state;
  test_rng rng = {8};
  const struct {
    pare_dtype dt;
    int64_t n;
    int zero_in; /* one element in zero_in nonzero */
    int levels;  /* fp32: values drawn from this many (0: any) */
  } cases[] = {{PARE_DT_F32, 5000, 10, 0}, {PARE_DT_I8, 6000, 1, 0},    {PARE_DT_I8, 6001, 20, 0},
               {PARE_DT_I4, 4001, 12, 0},  {PARE_DT_F32, 300, 1, 0},    {PARE_DT_F32, 5000, 10, 15},
               {PARE_DT_F32, 4000, 1, 16}, {PARE_DT_F32, 9000, 1, 255}, {PARE_DT_F32, 9000, 1, 257},
               {PARE_DT_F32, 70, 2, 3}};
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    pare_graph *g = pare_graph_create();
    int64_t dims[1] = {cases[c].n};
    int v = pare_graph_add_value(g, "w", cases[c].dt, 1, dims);
    size_t bytes = pare_dtype_bytes(cases[c].dt, (size_t)cases[c].n);
    unsigned char *d = calloc(bytes, 1), *back = malloc(bytes);
    for (int64_t i = 0; i < cases[c].n; i++) {
      if (test_rng_below(&rng, (size_t)cases[c].zero_in)) continue;
      if (cases[c].dt == PARE_DT_F32 && cases[c].levels)
        ((float *)d)[i] = 0.01f * (float)(1 + test_rng_below(&rng, (size_t)cases[c].levels));
      else if (cases[c].dt == PARE_DT_F32)
        ((float *)d)[i] = test_rng_uniform(&rng, -1, 1);
      else if (cases[c].dt == PARE_DT_I8)
        ((int8_t *)d)[i] = (int8_t)(test_rng_below(&rng, 7) - 3); /* few distinct values */
      else
        d[i / 2] |= (unsigned char)((test_rng_below(&rng, 16) & 15) << (4 * (i % 2)));
    }
    pare_value_set_data(&g->values[v], d, bytes, 1);
    uint8_t *enc;
    size_t size;
    int kind = pare_value_encode(&g->values[v], &enc, &size);
    assert_true(kind >= 0);
    if (kind == PARE_STORAGE_RAW) {
      assert_null(enc);
      assert_int_equal(size, bytes);
    } else {
      assert_true(size * 4 <= bytes * 3);
      assert_int_equal(pare_value_decode(enc, size, kind, cases[c].dt, (size_t)cases[c].n, back),
                       0);
      assert_memory_equal(back, d, bytes);
      assert_int_equal(pare_value_stored_bytes(&g->values[v]), size);
      if (kind & PARE_STORAGE_DEFLATE) { /* a damaged stream */
        enc[size / 2] ^= 0x5a;
        assert_int_equal(pare_value_decode(enc, size, kind, cases[c].dt, (size_t)cases[c].n, back),
                         -1);
        assert_int_equal(pare_value_decode(enc, 7, kind, cases[c].dt, (size_t)cases[c].n, back),
                         -1);
      }
    }
    /* Shared fp32 values (with zero, at most 256) take a codebook; other
     * mostly-zero fp32 goes sparse, mostly-zero bytes (int8, int4) and
     * dense int8 of seven values are coded; dense random fp32 stays raw. */
    int shared = cases[c].levels + (cases[c].zero_in > 1);
    if (cases[c].levels && shared <= 256) {
      assert_true(kind & PARE_STORAGE_CODEBOOK);
      /* An index beyond the codebook is refused. */
      if (kind == PARE_STORAGE_CODEBOOK && cases[c].levels <= 16) {
        enc[size - 1] = 0xff;
        assert_int_equal(pare_value_decode(enc, size, kind, cases[c].dt, (size_t)cases[c].n, back),
                         -1);
      }
      if (cases[c].levels <= 16 && cases[c].n >= 1000) /* about 4 bits a weight, or less */
        assert_true(size * 8 <= (size_t)cases[c].n * 5);
    } else if (cases[c].levels) {
      assert_false(kind & PARE_STORAGE_CODEBOOK);
    } else if (cases[c].dt != PARE_DT_F32)
      assert_int_equal(kind, PARE_STORAGE_CODED);
    else if (cases[c].zero_in > 1)
      assert_true(kind & PARE_STORAGE_SPARSE);
    else
      assert_int_equal(kind, PARE_STORAGE_RAW);
    assert_int_equal(pare_value_decode(enc ? enc : d, size, 16, cases[c].dt, 1, back), -1);
    free(enc);
    free(back);
    pare_graph_destroy(g);
  }
}

/* A pruned model saved and loaded computes the same outputs, bit for bit,
 * and its file is smaller. */
static void test_file_roundtrip(void **state) {
  (void)state;
  pare_graph *g = zoo("mlp");
  pare_error err;
  void *dense_buf, *sparse_buf;
  size_t dense_size, sparse_size;
  assert_int_equal(pare_format_write_buffer(g, &dense_buf, &dense_size, &err), PARE_OK);
  pare_prune_options o;
  pare_prune_options_init(&o);
  o.mode = PARE_PRUNE_GLOBAL;
  o.amount = 0.9;
  o.dense = "none";
  prune(g, &o, NULL, NULL);
  assert_int_equal(pare_format_write_buffer(g, &sparse_buf, &sparse_size, &err), PARE_OK);
  assert_true(sparse_size * 5 < dense_size); /* ~0.5 byte a weight against 4 */
  pare_graph *back = NULL;
  assert_int_equal(pare_format_read_buffer(sparse_buf, sparse_size, "t", &back, &err), PARE_OK);
  test_rng rng = {5};
  float x[2 * 784];
  test_fill(&rng, x, 2 * 784, 0, 1);
  int64_t dims[4] = {2, 1, 28, 28};
  pare_tensor y0, y1;
  test_run_ref(g, x, 4, dims, &y0);
  test_run_ref(back, x, 4, dims, &y1);
  assert_memory_equal(y0.data, y1.data, y0.nbytes);
  pare_tensor_release(&y0);
  pare_tensor_release(&y1);
  free(dense_buf);
  free(sparse_buf);
  pare_graph_destroy(back);
  pare_graph_destroy(g);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layer_mode),     cmocka_unit_test(test_global_and_threshold),
      cmocka_unit_test(test_lamp),           cmocka_unit_test(test_nm),
      cmocka_unit_test(test_structured),     cmocka_unit_test(test_bad_options),
      cmocka_unit_test(test_sparse_storage), cmocka_unit_test(test_coded_storage),
      cmocka_unit_test(test_file_roundtrip), cmocka_unit_test(test_value_codecs),
      cmocka_unit_test(test_kth_smallest),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
