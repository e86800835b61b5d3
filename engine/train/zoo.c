/* Builders of the built-in architectures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/train/zoo.h"

typedef struct builder {
  pare_graph *g;
  uint64_t rng;
  int failed;
  int count; /* for unique names */
} builder;

static float uniform(builder *b, float bound) {
  b->rng ^= b->rng >> 12;
  b->rng ^= b->rng << 25;
  b->rng ^= b->rng >> 27;
  uint64_t r = b->rng * UINT64_C(2685821657736338717);
  return bound * (2.0f * (float)((r >> 40) * (1.0 / 16777216.0)) - 1.0f);
}

static int param(builder *b, const char *name, int rank, const int64_t *dims, int64_t fan_in) {
  int v = pare_graph_add_value(b->g, name, PARE_DT_F32, rank, dims);
  int64_t n = pare_shape_numel(rank, dims);
  float *d = v < 0 ? NULL : malloc(sizeof(float) * (size_t)n);
  if (!d) {
    b->failed = 1;
    return -1;
  }
  float bound = 1.0f / sqrtf((float)fan_in);
  for (int64_t i = 0; i < n; i++) d[i] = uniform(b, bound);
  pare_value_set_data(&b->g->values[v], d, sizeof(float) * (size_t)n, 1);
  b->g->values[v].is_param = 1;
  return v;
}

/* A node with the given inputs and one new output value. */
static int node(builder *b, const char *name, pare_op op, const int *ins, int n_ins) {
  if (b->failed) return -1;
  char out_name[96];
  snprintf(out_name, sizeof out_name, "%s/out", name);
  int y = pare_graph_add_value(b->g, out_name, PARE_DT_F32, -1, NULL);
  int ni = y < 0 ? -1 : pare_graph_add_node(b->g, name, op, n_ins, 1);
  if (ni < 0) {
    b->failed = 1;
    return -1;
  }
  for (int i = 0; i < n_ins; i++) b->g->nodes[ni].inputs[i] = ins[i];
  b->g->nodes[ni].outputs[0] = y;
  b->g->values[y].producer = ni;
  return y;
}

static void ints_attr(builder *b, const char *name, const int64_t *v, int n) {
  if (b->failed) return;
  pare_attr *a = pare_node_add_attr(&b->g->nodes[b->g->n_nodes - 1], name, PARE_ATTR_INTS);
  if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)n))) {
    b->failed = 1;
    return;
  }
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)n);
  a->count = n;
}

static int conv(builder *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k,
                int64_t pad) {
  char wn[96], bn[96];
  snprintf(wn, sizeof wn, "%s.weight", name);
  snprintf(bn, sizeof bn, "%s.bias", name);
  int64_t wd[4] = {cout, cin, k, k}, bd[1] = {cout};
  int w = param(b, wn, 4, wd, cin * k * k), bias = param(b, bn, 1, bd, cin * k * k);
  int ins[3] = {x, w, bias};
  int y = node(b, name, PARE_OP_CONV, ins, 3);
  int64_t ks[2] = {k, k}, pads[4] = {pad, pad, pad, pad};
  ints_attr(b, "kernel_shape", ks, 2);
  ints_attr(b, "pads", pads, 4);
  return y;
}

static int unary(builder *b, const char *name, pare_op op, int x) {
  return node(b, name, op, &x, 1);
}

static int maxpool2(builder *b, const char *name, int x) {
  int y = node(b, name, PARE_OP_MAX_POOL, &x, 1);
  int64_t ks[2] = {2, 2};
  ints_attr(b, "kernel_shape", ks, 2);
  ints_attr(b, "strides", ks, 2);
  return y;
}

static int linear(builder *b, const char *name, int x, int64_t in, int64_t out) {
  char wn[96], bn[96];
  snprintf(wn, sizeof wn, "%s.weight", name);
  snprintf(bn, sizeof bn, "%s.bias", name);
  int64_t wd[2] = {out, in}, bd[1] = {out};
  int w = param(b, wn, 2, wd, in), bias = param(b, bn, 1, bd, in);
  int ins[3] = {x, w, bias};
  int y = node(b, name, PARE_OP_GEMM, ins, 3);
  if (!b->failed) {
    pare_attr *a = pare_node_add_attr(&b->g->nodes[b->g->n_nodes - 1], "transB", PARE_ATTR_INT);
    if (a)
      a->i = 1;
    else
      b->failed = 1;
  }
  return y;
}

const char *pare_zoo_names(void) { return "simplecnn[:C1,C2], lenet5, mlp[:H1,H2]"; }

/* `name` or "name:A,B" (widths 1..1024; a and b keep their defaults for the
 * plain name). */
static int widths(const char *arch, const char *name, int64_t *a_out, int64_t *b_out) {
  size_t len = strlen(name);
  if (!strcmp(arch, name)) return 1;
  if (strncmp(arch, name, len) || arch[len] != ':') return 0;
  char *end;
  long a = strtol(arch + len + 1, &end, 10);
  if (*end != ',') return 0;
  long b = strtol(end + 1, &end, 10);
  if (*end || a < 1 || a > 1024 || b < 1 || b > 1024) return 0;
  *a_out = a, *b_out = b;
  return 1;
}

/* "simplecnn" (16, 32) or "simplecnn:C1,C2": its two convolutions' widths. */
static int simplecnn_widths(const char *arch, int64_t *c1, int64_t *c2) {
  *c1 = 16, *c2 = 32;
  return widths(arch, "simplecnn", c1, c2);
}

/* "mlp" (LeNet-300-100) or "mlp:H1,H2": its two hidden layers' widths. */
static int mlp_widths(const char *arch, int64_t *h1, int64_t *h2) {
  *h1 = 300, *h2 = 100;
  return widths(arch, "mlp", h1, h2);
}

int pare_zoo_is_builtin(const char *arch) {
  int64_t c1, c2;
  return arch && (simplecnn_widths(arch, &c1, &c2) || !strcmp(arch, "lenet5") ||
                  mlp_widths(arch, &c1, &c2));
}

pare_status pare_zoo_build(const char *arch, uint64_t seed, pare_graph **out, pare_error *err) {
  *out = NULL;
  int64_t c1, c2;
  if (!pare_zoo_is_builtin(arch))
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "unknown architecture '%s' (known: %s)",
                          arch ? arch : "", pare_zoo_names());
  builder b = {pare_graph_create(), seed * UINT64_C(0x9e3779b97f4a7c15) + 1, 0, 0};
  if (!b.g) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_graph *g = b.g;
  g->opset = 13;
  g->name = malloc(strlen(arch) + 1);
  if (g->name) strcpy(g->name, arch);
  int64_t in_dims[4] = {-1, 1, 28, 28};
  int x = pare_graph_add_value(g, "input", PARE_DT_F32, 4, in_dims);
  g->inputs = malloc(sizeof(int));
  g->outputs = malloc(sizeof(int));
  if (x < 0 || !g->inputs || !g->outputs)
    b.failed = 1;
  else {
    g->inputs[0] = x;
    g->n_inputs = 1;
  }
  int y = -1;
  if (simplecnn_widths(arch, &c1, &c2)) {
    y = maxpool2(&b, "pool1", unary(&b, "relu1", PARE_OP_RELU, conv(&b, "conv1", x, 1, c1, 3, 1)));
    y = maxpool2(&b, "pool2", unary(&b, "relu2", PARE_OP_RELU, conv(&b, "conv2", y, c1, c2, 3, 1)));
    y = unary(&b, "flatten", PARE_OP_FLATTEN, y);
    y = linear(&b, "fc", y, c2 * 7 * 7, 10);
  } else if (!strcmp(arch, "lenet5")) {
    y = maxpool2(&b, "pool1", unary(&b, "relu1", PARE_OP_RELU, conv(&b, "conv1", x, 1, 6, 5, 2)));
    y = maxpool2(&b, "pool2", unary(&b, "relu2", PARE_OP_RELU, conv(&b, "conv2", y, 6, 16, 5, 0)));
    y = unary(&b, "flatten", PARE_OP_FLATTEN, y);
    y = unary(&b, "relu3", PARE_OP_RELU, linear(&b, "fc1", y, 16 * 5 * 5, 120));
    y = unary(&b, "relu4", PARE_OP_RELU, linear(&b, "fc2", y, 120, 84));
    y = linear(&b, "fc3", y, 84, 10);
  } else if (mlp_widths(arch, &c1, &c2)) {
    y = unary(&b, "flatten", PARE_OP_FLATTEN, x);
    y = unary(&b, "relu1", PARE_OP_RELU, linear(&b, "fc1", y, 784, c1));
    y = unary(&b, "relu2", PARE_OP_RELU, linear(&b, "fc2", y, c1, c2));
    y = linear(&b, "fc3", y, c2, 10);
  }
  if (!b.failed && y >= 0) {
    free(g->values[y].name);
    g->values[y].name = malloc(7);
    if (g->values[y].name) strcpy(g->values[y].name, "logits");
    g->outputs[0] = y;
    g->n_outputs = 1;
  }
  pare_status st = b.failed || y < 0 ? pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory")
                                     : pare_graph_validate(g, err);
  if (st != PARE_OK) {
    pare_graph_destroy(g);
    return st;
  }
  *out = g;
  return PARE_OK;
}
