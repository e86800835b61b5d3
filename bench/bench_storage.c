/* pare-bench storage: what the coded form (engine/io/coded_storage.h) adds
 * to a .pare file's stored tensors, against the best of the other forms
 * (raw, sparse, deflated, codebook), measured in the same run: bytes, and
 * the time to decode each when the file is loaded. With --model (a .pare
 * file), every
 * constant of that model; otherwise synthetic layers: a pruned layer with
 * 7 shared values whose rows and image-border columns differ in density,
 * int8 at 90% and 0% sparsity, int4 at 80%. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"
#include "engine/io/pare_format.h"
#include "engine/io/sparse_storage.h"

typedef struct {
  const uint8_t *in;
  size_t size, count;
  int kind;
  pare_dtype dt;
  void *out;
} decode_job;

static int run_decode(void *arg) {
  decode_job *j = arg;
  return pare_value_decode(j->in, j->size, j->kind, j->dt, j->count, j->out);
}

/* A standard normal value from two uniform ones. */
static double normal(uint64_t *s) {
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  double u = ((double)(*s >> 11) + 0.5) / 9007199254740992.0;
  *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
  double v = (double)(*s >> 11) / 9007199254740992.0;
  return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

/* The synthetic layers (see the top of the file) as constants of g. */
static void synthetic(pare_graph *g) {
  uint64_t s = 7;
  { /* fc1 of an MLP on 28×28 images: 300 × 784, about 7% kept */
    int64_t dims[2] = {300, 784};
    float *w = calloc(300 * 784, sizeof *w);
    static const float shared[7] = {-0.3f, -0.15f, -0.05f, 0.05f, 0.12f, 0.2f, 0.35f};
    for (int r = 0; r < 300; r++) {
      double row = 0.07 * exp(0.6 * normal(&s));
      for (int c = 0; c < 784; c++) {
        int x = c % 28, y = c / 28;
        double edge = x < 3 || x > 24 || y < 3 || y > 24 ? 0.05 : 1.4;
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        if ((double)(s >> 11) / 9007199254740992.0 < row * edge)
          w[r * 784 + c] = shared[(int)((s >> 3) % 7)];
      }
    }
    int v = pare_graph_add_value(g, "mlp_fc1_shared7", PARE_DT_F32, 2, dims);
    pare_value_set_data(&g->values[v], w, 300 * 784 * sizeof *w, 1);
  }
  for (int k = 0; k < 3; k++) { /* int8 at 90% and 0%, int4 at 80% */
    int64_t rows = k == 2 ? 512 : 1024, cols = rows, n = rows * cols;
    int64_t dims[2] = {rows, cols};
    pare_dtype dt = k == 2 ? PARE_DT_I4 : PARE_DT_I8;
    size_t bytes = pare_dtype_bytes(dt, (size_t)n);
    uint8_t *d = calloc(bytes, 1);
    int keep = k == 0 ? 10 : k == 1 ? 100 : 20; /* percent */
    for (int64_t i = 0; i < n; i++) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      if ((int)((s >> 33) % 100) >= keep) continue;
      double x = normal(&s) * (k == 2 ? 2.5 : 30);
      int q = (int)lround(x), lim = k == 2 ? 7 : 127;
      q = q > lim ? lim : q < -lim ? -lim : q == 0 ? 1 : q;
      if (dt == PARE_DT_I8)
        d[i] = (uint8_t)(int8_t)q;
      else
        d[i / 2] |= (uint8_t)((q & 15) << (4 * (i % 2)));
    }
    static const char *names[3] = {"int8_90pct_sparse", "int8_dense", "int4_80pct_sparse"};
    int v = pare_graph_add_value(g, names[k], dt, 2, dims);
    pare_value_set_data(&g->values[v], d, bytes, 1);
  }
}

/* Decode time of v's stored form (coded or not), median of o's runs. */
static pare_bench_timing time_decode(const pare_bench_opts *o, const pare_value *v,
                                     const uint8_t *enc, size_t size, int kind, void *out) {
  decode_job j = {enc ? enc : v->data, size, (size_t)pare_value_numel(v), kind, v->dtype, out};
  return pare_bench_time(o->warmup, o->reps, run_decode, &j);
}

int pare_bench_storage(const pare_bench_opts *o, const char *model) {
  pare_graph *g = NULL;
  pare_error err;
  if (model) {
    if (pare_format_load(model, &g, &err) != PARE_OK) {
      fprintf(stderr, "pare-bench storage: %s\n", err.text);
      return 1;
    }
  } else {
    g = pare_graph_create();
    synthetic(g);
  }
  size_t total[2] = {0, 0};
  int status = 0;
  for (int i = 0; i < g->n_values && !status; i++) {
    const pare_value *v = &g->values[i];
    if (v->kind != PARE_VALUE_CONSTANT || !v->data || pare_value_numel(v) < 64) continue;
    uint8_t *enc[2];
    size_t size[2];
    int kind[2];
    kind[0] = pare_value_encode_forms(v, 0, &enc[0], &size[0]);
    kind[1] = pare_value_encode_forms(v, 1, &enc[1], &size[1]);
    void *out = malloc(v->nbytes ? v->nbytes : 1);
    if (kind[0] < 0 || kind[1] < 0 || !out) {
      fprintf(stderr, "pare-bench storage: out of memory\n");
      status = 1;
    } else {
      pare_bench_timing t[2] = {time_decode(o, v, enc[0], size[0], kind[0], out),
                                time_decode(o, v, enc[1], size[1], kind[1], out)};
      if (!t[0].ok || !t[1].ok || memcmp(out, v->data, v->nbytes)) {
        fprintf(stderr, "pare-bench storage: '%s' does not decode to its bytes\n", v->name);
        status = 1;
      }
      printf("{\"bench\":\"storage\",\"tensor\":\"%s\",\"dtype\":\"%s\",\"elements\":%lld,"
             "\"raw_bytes\":%zu,\"bytes\":%zu,\"kind\":%d,\"bytes_without_coded\":%zu,"
             "\"kind_without_coded\":%d,\"size_ratio\":%.4f,\"decode_ms\":%.4f,"
             "\"decode_ms_without_coded\":%.4f}\n",
             v->name, pare_dtype_name(v->dtype), (long long)pare_value_numel(v), v->nbytes, size[1],
             kind[1], size[0], kind[0], (double)size[0] / (double)size[1], t[1].ms_median,
             t[0].ms_median);
      fprintf(stderr,
              "%-28s %9zu raw  %9zu (kind %2d) -> %9zu (kind %2d)  %.2fx smaller; decode "
              "%.3f -> %.3f ms\n",
              v->name, v->nbytes, size[0], kind[0], size[1], kind[1],
              (double)size[0] / (double)size[1], t[0].ms_median, t[1].ms_median);
      total[0] += size[0];
      total[1] += size[1];
    }
    free(out);
    free(enc[0]);
    free(enc[1]);
  }
  if (!status && total[1])
    fprintf(stderr, "all constants: %zu bytes without the coded form, %zu with (%.2fx)\n", total[0],
            total[1], (double)total[0] / (double)total[1]);
  pare_graph_destroy(g);
  return status;
}
