/* Post-training quantization as QDQ graph rewrites (quantize.h). */
#include "engine/compress/quantize.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/calib.h"
#include "engine/compress/weights.h"
#include "engine/ref/ops.h"

void pare_quant_options_init(pare_quant_options *o) {
  memset(o, 0, sizeof *o);
  o->weight_bits = 8;
  o->per_channel = 1;
  o->act_bits = 8;
  o->method = PARE_CALIB_MINMAX;
  o->percentile = 99.99;
  o->dataset = "fashion-mnist";
  o->calib_images = 1000;
}

int pare_quant_parse(const char *spec, pare_quant_options *o) {
  if (!spec) return 0;
  int w = 0, a = 0, used = 0;
  if (!strcmp(spec, "int8")) {
    o->weight_bits = 8, o->act_bits = 8;
  } else if (!strcmp(spec, "int4")) {
    o->weight_bits = 4, o->act_bits = 8;
  } else if (!strcmp(spec, "fp16")) {
    o->weight_bits = 16, o->act_bits = 0;
  } else if (sscanf(spec, "w%da%d%n", &w, &a, &used) == 2 && !spec[used] && w >= 2 && w <= 8 &&
             a == 8) {
    o->weight_bits = w, o->act_bits = 8;
  } else if (sscanf(spec, "w%d%n", &w, &used) == 1 && !spec[used] && w >= 2 && w <= 8) {
    o->weight_bits = w, o->act_bits = 0;
  } else {
    return 0;
  }
  return 1;
}

int pare_calib_parse(const char *name, pare_calib_method *m) {
  static const char *names[] = {"minmax", "percentile", "entropy", "mse"};
  for (int i = 0; name && i < 4; i++)
    if (!strcmp(name, names[i])) {
      *m = (pare_calib_method)i;
      return 1;
    }
  return 0;
}

/* ---- calibration ranges ----------------------------------------------------- */

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

enum { HIST_BINS = 2048 };

/* KL(P || Q) for a clip at bin i: P is the histogram up to i with the
 * clipped tail folded into its last bin; Q spreads the mass of each of the
 * `levels` groups of the unclipped bins evenly over the group's nonempty
 * bins (the entropy calibration described for TensorRT's int8 mode). */
static double clipped_kl(const double *hist, int i, int levels) {
  double *p = malloc(sizeof(double) * (size_t)i), *q = calloc((size_t)i, sizeof(double));
  if (!p || !q) {
    free(p);
    free(q);
    return INFINITY;
  }
  double total = 0;
  for (int b = 0; b < i; b++) p[b] = hist[b];
  for (int b = i; b < HIST_BINS; b++) p[i - 1] += hist[b];
  for (int b = 0; b < i; b++) total += p[b];
  for (int g = 0; g < levels; g++) {
    int b0 = (int)((long)g * i / levels), b1 = (int)((long)(g + 1) * i / levels);
    double mass = 0;
    int nonempty = 0;
    for (int b = b0; b < b1; b++) { /* the clipped histogram, tail not folded in */
      mass += hist[b];
      nonempty += p[b] > 0;
    }
    for (int b = b0; b < b1; b++) q[b] = p[b] > 0 && nonempty ? mass / nonempty : 0;
  }
  double qtotal = 0, kl = 0;
  for (int b = 0; b < i; b++) qtotal += q[b];
  for (int b = 0; b < i && total > 0 && qtotal > 0; b++) {
    if (p[b] <= 0) continue;
    double pb = p[b] / total, qb = q[b] / qtotal;
    kl += pb * log(pb / (qb > 1e-6 ? qb : 1e-6)); /* a floor smooths empty groups */
  }
  free(p);
  free(q);
  return kl;
}

/* Squared error of fake-quantizing the samples to [lo, hi] at `levels`. */
static double fq_error(const float *x, size_t n, float lo, float hi, int levels) {
  double scale = (hi - lo) / (levels - 1), err = 0;
  if (!(scale > 0)) return INFINITY;
  double zp = nearbyint(-lo / scale);
  for (size_t i = 0; i < n; i++) {
    double q = nearbyint(x[i] / scale) + zp;
    q = q < 0 ? 0 : q > levels - 1 ? levels - 1 : q;
    double d = x[i] - (q - zp) * scale;
    err += d * d;
  }
  return err;
}

void pare_calib_range(pare_calib_method m, double percentile, float *samples, size_t n, float min,
                      float max, int levels, float *lo, float *hi) {
  *lo = min < 0 ? min : 0;
  *hi = max > 0 ? max : 0;
  if (!n || m == PARE_CALIB_MINMAX) return;
  int is_signed = min < 0;
  float amax = fmaxf(fabsf(min), fabsf(max));
  if (m == PARE_CALIB_PERCENTILE) {
    qsort(samples, n, sizeof(float), cmp_float);
    double f = percentile / 100.0;
    size_t top = (size_t)(f * (double)(n - 1)), bottom = (size_t)((1 - f) * (double)(n - 1));
    *hi = fmaxf(samples[top], 0.0f);
    *lo = is_signed ? fminf(samples[bottom], 0.0f) : 0.0f;
  } else if (m == PARE_CALIB_ENTROPY && amax > 0) {
    double *hist = calloc(HIST_BINS, sizeof(double));
    if (!hist) return;
    for (size_t i = 0; i < n; i++) { /* zeros (ReLU's) are exact at any clip: left out */
      if (samples[i] == 0.0f) continue;
      int b = (int)(fabsf(samples[i]) / amax * HIST_BINS);
      hist[b < HIST_BINS ? b : HIST_BINS - 1] += 1;
    }
    int side = is_signed ? levels / 2 : levels, best = HIST_BINS;
    double best_kl = INFINITY;
    for (int i = side; i <= HIST_BINS; i += 8) {
      double kl = clipped_kl(hist, i, side);
      if (kl < best_kl) best_kl = kl, best = i;
    }
    free(hist);
    float t = amax * (float)best / HIST_BINS;
    *hi = fminf(t, *hi);
    *lo = is_signed ? fmaxf(-t, *lo) : 0.0f;
  } else if (m == PARE_CALIB_MSE && amax > 0) {
    double best = INFINITY;
    float blo = *lo, bhi = *hi;
    for (int k = 5; k <= 100; k++) {
      float t = amax * (float)k / 100.0f;
      float l = is_signed ? fmaxf(-t, *lo) : 0.0f, h = fminf(t, *hi);
      double e = fq_error(samples, n, l, h, levels);
      if (e < best) best = e, blo = l, bhi = h;
    }
    *lo = blo;
    *hi = bhi;
  }
}

/* ---- rewrites ----------------------------------------------------------------- */

static int new_const(pare_graph *g, const char *base, const char *suffix, pare_dtype dt, int rank,
                     const int64_t *dims, void *data, size_t bytes) {
  char name[400];
  snprintf(name, sizeof name, "%.300s.%s", base, suffix);
  int v = pare_graph_add_value(g, name, dt, rank, dims);
  if (v < 0 || pare_value_set_data(&g->values[v], data, bytes, 1) != PARE_OK) {
    free(data);
    return -1;
  }
  return v;
}

/* Inserts node `op` at position `at` reading ins[0..n_in) and producing a
 * new value like `like` (dtype dt); returns the new value, or -1. */
static int insert_node(pare_graph *g, int at, const char *name, pare_op op, const int *ins,
                       int n_in, int like, pare_dtype dt) {
  const pare_value *lv = &g->values[like];
  int64_t dims[PARE_MAX_RANK];
  int rank = lv->rank;
  memcpy(dims, lv->dims, sizeof dims);
  int v = pare_graph_add_value(g, name, dt, rank, dims);
  if (v < 0 || pare_graph_insert_node(g, at, name, op, n_in, 1) < 0) return -1;
  for (int k = 0; k < n_in; k++) g->nodes[at].inputs[k] = ins[k];
  g->nodes[at].outputs[0] = v;
  g->values[v].producer = at;
  return v;
}

/* The weight of layer node `i` quantized: an integer constant and its
 * scales through DequantizeLinear (or fp16 through Cast), inserted before
 * the layer. Returns the number of nodes inserted (1), 0 if left, -1 on
 * failure. */
static int quantize_weight(pare_graph *g, int i, const pare_quant_options *o, pare_quant_layer *L,
                           pare_error *err) {
  pare_layer_weight lw;
  if ((L->why = pare_layer_weight_of(g, i, &lw))) return 0;
  pare_value *w = &g->values[lw.weight];
  const float *wd = w->data;
  size_t n = (size_t)pare_value_numel(w);
  const char *base = w->name;
  int64_t dims[PARE_MAX_RANK];
  int rank = w->rank;
  memcpy(dims, w->dims, sizeof dims);
  L->bytes_before = w->nbytes;
  char name[300];
  snprintf(name, sizeof name, "%s.dequant", base);
  if (o->weight_bits == 16) {
    uint16_t *h = malloc(sizeof(uint16_t) * (n ? n : 1));
    if (!h) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory"), -1;
    double e2 = 0, w2 = 0;
    for (size_t k = 0; k < n; k++) {
      h[k] = pare_f32_to_f16(wd[k]);
      double d = wd[k] - pare_f16_to_f32(h[k]);
      e2 += d * d;
      w2 += (double)wd[k] * wd[k];
    }
    L->weight_error = w2 > 0 ? sqrt(e2 / w2) : 0;
    int hv = new_const(g, base, "f16", PARE_DT_F16, rank, dims, h, sizeof(uint16_t) * n);
    int v = hv < 0 ? -1 : insert_node(g, i, name, PARE_OP_CAST, &hv, 1, lw.weight, PARE_DT_F32);
    pare_attr *to = v < 0 ? NULL : pare_node_add_attr(&g->nodes[i], "to", PARE_ATTR_INT);
    if (!to) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory"), -1;
    to->i = 1; /* ONNX FLOAT */
    g->nodes[i + 1].inputs[1] = v;
    L->bytes_after = sizeof(uint16_t) * n;
    L->weight_bits = 16;
    return 1;
  }
  /* Symmetric scales: max|w| / qmax per output channel (or the tensor). */
  int32_t qmax = (1 << (o->weight_bits - 1)) - 1;
  int64_t channels = o->per_channel ? lw.outs : 1;
  float *scale = malloc(sizeof(float) * (size_t)channels);
  pare_dtype dt = o->weight_bits <= 4 ? PARE_DT_I4 : PARE_DT_I8;
  size_t qbytes = pare_dtype_bytes(dt, n);
  void *q = calloc(qbytes ? qbytes : 1, 1);
  if (!scale || !q) {
    free(scale);
    free(q);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory"), -1;
  }
  for (int64_t c = 0; c < channels; c++) scale[c] = 0;
  for (int64_t oc = 0; oc < lw.outs; oc++)
    for (int64_t k = 0; k < lw.ins; k++) {
      float a = fabsf(wd[oc * lw.so + k * lw.si]);
      int64_t c = o->per_channel ? oc : 0;
      if (a > scale[c]) scale[c] = a;
    }
  for (int64_t c = 0; c < channels; c++) scale[c] = scale[c] > 0 ? scale[c] / (float)qmax : 1.0f;
  /* The [outer, len, inner] view of the weight along its output axis. */
  size_t len = (size_t)channels, inner = 1;
  for (int d = lw.out_axis + 1; d < rank && channels > 1; d++) inner *= (size_t)dims[d];
  pare_ref_quantize_linear(wd, n, len, inner, scale, NULL, dt, q);
  double e2 = 0, w2 = 0; /* |w / s| <= qmax: nothing saturates */
  for (size_t k = 0; k < n; k++) {
    size_t c = len > 1 ? (k / inner) % len : 0;
    int32_t v = pare_ref_q_get(q, dt, k);
    double d = wd[k] - (double)v * scale[c];
    e2 += d * d;
    w2 += (double)wd[k] * wd[k];
  }
  L->weight_error = w2 > 0 ? sqrt(e2 / w2) : 0;
  int64_t sdims[1] = {channels};
  int qv = new_const(g, base, "q", dt, rank, dims, q, qbytes);
  int sv = qv < 0 ? -1
                  : new_const(g, base, "scale", PARE_DT_F32, channels > 1 ? 1 : 0, sdims, scale,
                              sizeof(float) * (size_t)channels);
  if (qv < 0) free(scale);
  int ins[2] = {qv, sv};
  int v = sv < 0
              ? -1
              : insert_node(g, i, name, PARE_OP_DEQUANTIZE_LINEAR, ins, 2, lw.weight, PARE_DT_F32);
  if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory"), -1;
  if (channels > 1) {
    pare_attr *axis = pare_node_add_attr(&g->nodes[i], "axis", PARE_ATTR_INT);
    if (!axis) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory"), -1;
    axis->i = lw.out_axis;
  }
  g->nodes[i + 1].inputs[1] = v;
  L->bytes_after = qbytes + sizeof(float) * (size_t)channels;
  L->weight_bits = o->weight_bits;
  return 1;
}

/* QuantizeLinear → DequantizeLinear of value `src` before node `at`;
 * returns the dequantized value or -1. */
static int insert_qdq(pare_graph *g, int at, int src, float scale, int32_t zp) {
  char base[256];
  snprintf(base, sizeof base, "%.255s", g->values[src].name);
  float *s = malloc(sizeof(float));
  uint8_t *z = malloc(1);
  if (!s || !z) {
    free(s);
    free(z);
    return -1;
  }
  *s = scale;
  *z = (uint8_t)zp;
  int sv = new_const(g, base, "act_scale", PARE_DT_F32, 0, NULL, s, sizeof(float));
  int zv = sv < 0 ? -1 : new_const(g, base, "act_zero_point", PARE_DT_U8, 0, NULL, z, 1);
  if (sv < 0) free(z);
  if (zv < 0) return -1;
  char name[330];
  snprintf(name, sizeof name, "%s.quant", base);
  int ins[3] = {src, sv, zv};
  int qv = insert_node(g, at, name, PARE_OP_QUANTIZE_LINEAR, ins, 3, src, PARE_DT_U8);
  if (qv < 0) return -1;
  snprintf(name, sizeof name, "%s.dequant", base);
  ins[0] = qv;
  return insert_node(g, at + 1, name, PARE_OP_DEQUANTIZE_LINEAR, ins, 3, src, PARE_DT_F32);
}

pare_status pare_quantize_apply(pare_graph *g, const pare_quant_options *o,
                                pare_quant_layer **layers, int *n_layers, pare_error *err) {
  if (layers) *layers = NULL;
  if (n_layers) *n_layers = 0;
  if (!o || !((o->weight_bits >= 2 && o->weight_bits <= 8) || o->weight_bits == 16) ||
      (o->act_bits != 0 && o->act_bits != 8) || (o->weight_bits == 16 && o->act_bits))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "quantize: weights take 2..8 bits or fp16, activations 8 bits or none "
                          "(fp16 goes without)");
  int first, last, count = 0;
  pare_layer_ends(g, &first, &last);
  for (int i = 0; i < g->n_nodes; i++)
    count += g->nodes[i].op == PARE_OP_CONV || g->nodes[i].op == PARE_OP_GEMM ||
             g->nodes[i].op == PARE_OP_MATMUL;
  pare_quant_layer *rep = calloc((size_t)count + 1, sizeof *rep);
  int *todo = calloc((size_t)count + 1, sizeof(int));
  pare_calib_sampling as = {calloc((size_t)count + 1, sizeof(pare_calib_samples)), 0};
  pare_status st =
      rep && todo && as.items ? PARE_OK : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  int nr = 0;
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    const pare_node *n = &g->nodes[i];
    if (n->op != PARE_OP_CONV && n->op != PARE_OP_GEMM && n->op != PARE_OP_MATMUL) continue;
    pare_quant_layer *L = &rep[nr];
    snprintf(L->node, sizeof L->node, "%s", n->name ? n->name : "");
    L->op = n->op;
    pare_layer_weight lw;
    todo[nr] = -1;
    if ((L->why = pare_layer_weight_of(g, i, &lw))) {
    } else if (pare_layer_listed(g, i, o->dense, first, last)) {
      L->why = "left in float";
    } else {
      todo[nr] = i;
      if (o->act_bits) {
        pare_calib_samples *s = &as.items[as.n++];
        s->value = n->inputs[0];
        s->min = INFINITY;
        s->max = -INFINITY;
        s->samples = malloc(sizeof(float) * PARE_CALIB_SAMPLES);
        if (!s->samples) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      }
    }
    nr++;
  }
  if (st == PARE_OK && as.n)
    st = pare_calib_run(g, o->dataset, o->calib_images, "quantize", pare_calib_sample, &as, err);
  /* Rewrites from the last layer back: insertions leave earlier indices. */
  for (int r = nr - 1, a = as.n - 1; r >= 0 && st == PARE_OK; r--) {
    int i = todo[r];
    if (i < 0) continue;
    pare_quant_layer *L = &rep[r];
    int added = quantize_weight(g, i, o, L, err);
    if (added < 0) {
      st = PARE_ERR_NO_MEMORY; /* quantize_weight said so in err */
      break;
    }
    if (!o->act_bits) continue;
    pare_calib_samples *s = &as.items[a--];
    float lo, hi;
    pare_calib_range(o->method, o->percentile, s->samples, s->n, s->n ? s->min : 0,
                     s->n ? s->max : 0, 256, &lo, &hi);
    float scale = (hi - lo) / 255.0f;
    if (!(scale > 0)) scale = 1.0f;
    double zp = nearbyint(-lo / scale);
    int32_t z = (int32_t)(zp < 0 ? 0 : zp > 255 ? 255 : zp);
    L->act_lo = lo, L->act_hi = hi, L->act_scale = scale, L->act_zero_point = z;
    int layer = i + added; /* the layer moved past its weight's dequantization */
    int v = insert_qdq(g, layer, g->nodes[layer].inputs[0], scale, z);
    if (v < 0) {
      st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      break;
    }
    g->nodes[layer + 2].inputs[0] = v;
  }
  for (int k = 0; k < as.n; k++) free(as.items[k].samples);
  free(as.items);
  free(todo);
  if (st == PARE_OK) {
    st = pare_graph_remove_dead(g);
    if (st != PARE_OK) pare_error_set(err, st, "out of memory");
    if (st == PARE_OK) st = pare_graph_validate(g, err);
  }
  if (st != PARE_OK || !layers) {
    free(rep);
    return st;
  }
  *layers = rep;
  if (n_layers) *n_layers = nr;
  return PARE_OK;
}
