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

static void int_attr(builder *b, const char *name, int64_t v) {
  if (b->failed) return;
  pare_attr *a = pare_node_add_attr(&b->g->nodes[b->g->n_nodes - 1], name, PARE_ATTR_INT);
  if (a)
    a->i = v;
  else
    b->failed = 1;
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
  int_attr(b, "transB", 1);
  return y;
}

/* A convolution with stride, groups and optional bias. */
static int conv_g(builder *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k,
                  int64_t stride, int64_t groups, int with_bias) {
  char wn[96], bn[96];
  snprintf(wn, sizeof wn, "%s.weight", name);
  snprintf(bn, sizeof bn, "%s.bias", name);
  int64_t wd[4] = {cout, cin / groups, k, k}, bd[1] = {cout};
  int w = param(b, wn, 4, wd, cin / groups * k * k);
  int ins[3] = {x, w, with_bias ? param(b, bn, 1, bd, cin / groups * k * k) : -1};
  int y = node(b, name, PARE_OP_CONV, ins, with_bias ? 3 : 2);
  int64_t ks[2] = {k, k}, st[2] = {stride, stride}, pads[4] = {k / 2, k / 2, k / 2, k / 2};
  ints_attr(b, "kernel_shape", ks, 2);
  ints_attr(b, "strides", st, 2);
  ints_attr(b, "pads", pads, 4);
  if (groups > 1) int_attr(b, "group", groups);
  return y;
}

/* A constant that is not trained (batch-norm statistics, clip bounds). */
static int constant(builder *b, const char *name, int rank, const int64_t *dims, float value) {
  int v = pare_graph_add_value(b->g, name, PARE_DT_F32, rank, dims);
  int64_t n = pare_shape_numel(rank, dims);
  float *d = v < 0 ? NULL : malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
  if (!d) {
    b->failed = 1;
    return -1;
  }
  for (int64_t i = 0; i < n; i++) d[i] = value;
  pare_value_set_data(&b->g->values[v], d, sizeof(float) * (size_t)n, 1);
  return v;
}

/* Inference batch norm: scale 1, shift 0 (trainable), mean 0, variance 1. */
static int batchnorm(builder *b, const char *name, int x, int64_t c) {
  char n[4][112];
  const char *parts[4] = {"weight", "bias", "running_mean", "running_var"};
  int64_t d[1] = {c};
  int ins[5] = {x, -1, -1, -1, -1};
  for (int i = 0; i < 4; i++) {
    snprintf(n[i], sizeof n[i], "%.90s.%s", name, parts[i]);
    ins[1 + i] = constant(b, n[i], 1, d, i == 0 || i == 3 ? 1.0f : 0.0f);
    if (i < 2 && ins[1 + i] >= 0) b->g->values[ins[1 + i]].is_param = 1;
  }
  return node(b, name, PARE_OP_BATCH_NORM, ins, 5);
}

/* Clip to [0, 6] with the bounds as constant inputs (opset 11 on). */
static int relu6(builder *b, const char *name, int x) {
  char lo[128], hi[128];
  snprintf(lo, sizeof lo, "%.100s.min", name);
  snprintf(hi, sizeof hi, "%.100s.max", name);
  int ins[3] = {x, constant(b, lo, 0, NULL, 0.0f), constant(b, hi, 0, NULL, 6.0f)};
  return node(b, name, PARE_OP_CLIP, ins, 3);
}

static int add2(builder *b, const char *name, int x, int y) {
  int ins[2] = {x, y};
  return node(b, name, PARE_OP_ADD, ins, 2);
}

/* conv → batch norm (→ activation: 0 none, 1 ReLU, 6 ReLU6). */
static int conv_bn(builder *b, const char *name, int x, int64_t cin, int64_t cout, int64_t k,
                   int64_t stride, int64_t groups, int act) {
  char n[112];
  int y = conv_g(b, name, x, cin, cout, k, stride, groups, 0);
  snprintf(n, sizeof n, "%.100s.bn", name);
  y = batchnorm(b, n, y, cout);
  snprintf(n, sizeof n, "%.100s.act", name);
  return act == 1 ? unary(b, n, PARE_OP_RELU, y) : act == 6 ? relu6(b, n, y) : y;
}

/* A basic block of ResNet: conv3×3-bn-relu-conv3×3-bn, plus x (through a
 * 1×1 conv-bn when the shape changes), relu. */
static int basic_block(builder *b, const char *name, int x, int64_t cin, int64_t c,
                       int64_t stride) {
  char m[80];
  snprintf(m, sizeof m, "%.60s.conv1", name);
  int h = conv_bn(b, m, x, cin, c, 3, stride, 1, 1);
  snprintf(m, sizeof m, "%.60s.conv2", name);
  h = conv_bn(b, m, h, c, c, 3, 1, 1, 0);
  int skip = x;
  if (stride != 1 || cin != c) {
    snprintf(m, sizeof m, "%.60s.downsample", name);
    skip = conv_bn(b, m, x, cin, c, 1, stride, 1, 0);
  }
  snprintf(m, sizeof m, "%.60s.add", name);
  int y = add2(b, m, h, skip);
  snprintf(m, sizeof m, "%.60s.relu", name);
  return unary(b, m, PARE_OP_RELU, y);
}

/* GoogLeNet's first inception module, 3a (Szegedy et al., 2015), with
 * batch-normalised convolutions as torchvision builds it: from
 * [N,192,28,28] four branches, a 1×1 convolution (64 channels), 1×1 then
 * 3×3 (96, 128), 1×1 then 3×3 (16, 32), and a 3×3 max pooling of stride 1
 * then 1×1 (32), concatenated to [N,256,28,28]. */
static int inception_block(builder *b, int x) {
  int br[4];
  br[0] = conv_bn(b, "3a.branch1", x, 192, 64, 1, 1, 1, 1);
  br[1] = conv_bn(b, "3a.branch2.0", x, 192, 96, 1, 1, 1, 1);
  br[1] = conv_bn(b, "3a.branch2.1", br[1], 96, 128, 3, 1, 1, 1);
  br[2] = conv_bn(b, "3a.branch3.0", x, 192, 16, 1, 1, 1, 1);
  br[2] = conv_bn(b, "3a.branch3.1", br[2], 16, 32, 3, 1, 1, 1);
  br[3] = node(b, "3a.branch4.pool", PARE_OP_MAX_POOL, &x, 1);
  int64_t k3[2] = {3, 3}, s1[2] = {1, 1}, p1[4] = {1, 1, 1, 1};
  ints_attr(b, "kernel_shape", k3, 2);
  ints_attr(b, "strides", s1, 2);
  ints_attr(b, "pads", p1, 4);
  br[3] = conv_bn(b, "3a.branch4.1", br[3], 192, 32, 1, 1, 1, 1);
  int y = node(b, "3a.concat", PARE_OP_CONCAT, br, 4);
  int_attr(b, "axis", 1);
  return y;
}

/* ResNet-18 (He et al., 2016) for 3×224×224 images and 1000 classes. */
static int resnet18(builder *b, int x) {
  int y = conv_bn(b, "conv1", x, 3, 64, 7, 2, 1, 1);
  y = node(b, "maxpool", PARE_OP_MAX_POOL, &y, 1);
  int64_t k3[2] = {3, 3}, s2[2] = {2, 2}, p1[4] = {1, 1, 1, 1};
  ints_attr(b, "kernel_shape", k3, 2);
  ints_attr(b, "strides", s2, 2);
  ints_attr(b, "pads", p1, 4);
  int64_t cin = 64;
  const int64_t widths[4] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; stage++)
    for (int blk = 0; blk < 2; blk++) {
      int64_t c = widths[stage], stride = stage > 0 && blk == 0 ? 2 : 1;
      char n[64];
      snprintf(n, sizeof n, "layer%d.%d", stage + 1, blk);
      y = basic_block(b, n, y, cin, c, stride);
      cin = c;
    }
  y = unary(b, "avgpool", PARE_OP_GLOBAL_AVERAGE_POOL, y);
  y = unary(b, "flatten", PARE_OP_FLATTEN, y);
  return linear(b, "fc", y, 512, 1000);
}

/* MobileNetV2 (Sandler et al., 2018), width 1.0, for 3×224×224 images. */
static int mobilenetv2(builder *b, int x) {
  int y = conv_bn(b, "features.0", x, 3, 32, 3, 2, 1, 6);
  static const int64_t cfg[7][4] = {{1, 16, 1, 1}, {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  int64_t cin = 32;
  int idx = 1;
  for (int s = 0; s < 7; s++)
    for (int64_t r = 0; r < cfg[s][2]; r++, idx++) {
      int64_t t = cfg[s][0], c = cfg[s][1], stride = r == 0 ? cfg[s][3] : 1, hidden = cin * t;
      char n[64], m[80];
      snprintf(n, sizeof n, "features.%d", idx);
      int h = y;
      if (t != 1) {
        snprintf(m, sizeof m, "%s.expand", n);
        h = conv_bn(b, m, h, cin, hidden, 1, 1, 1, 6);
      }
      snprintf(m, sizeof m, "%s.dw", n);
      h = conv_bn(b, m, h, hidden, hidden, 3, stride, hidden, 6);
      snprintf(m, sizeof m, "%s.project", n);
      h = conv_bn(b, m, h, hidden, c, 1, 1, 1, 0);
      if (stride == 1 && cin == c) {
        snprintf(m, sizeof m, "%s.add", n);
        h = add2(b, m, h, y);
      }
      y = h;
      cin = c;
    }
  y = conv_bn(b, "features.18", y, 320, 1280, 1, 1, 1, 6);
  y = unary(b, "avgpool", PARE_OP_GLOBAL_AVERAGE_POOL, y);
  y = unary(b, "flatten", PARE_OP_FLATTEN, y);
  return linear(b, "classifier", y, 1280, 1000);
}

const char *pare_zoo_names(void) {
  return "simplecnn[:C1,C2], lenet5, mlp[:H1,H2], resnet18, mobilenetv2, resnet-block, "
         "inception-block";
}

/* Built for 3×224×224 images and 1000 classes (benchmarks, memory). */
static int imagenet_arch(const char *arch) {
  return !strcmp(arch, "resnet18") || !strcmp(arch, "mobilenetv2");
}

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
                  mlp_widths(arch, &c1, &c2) || imagenet_arch(arch) ||
                  !strcmp(arch, "resnet-block") || !strcmp(arch, "inception-block"));
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
  if (imagenet_arch(arch)) in_dims[1] = 3, in_dims[2] = in_dims[3] = 224;
  if (!strcmp(arch, "resnet-block")) in_dims[1] = 64, in_dims[2] = in_dims[3] = 56;
  if (!strcmp(arch, "inception-block")) in_dims[1] = 192, in_dims[2] = in_dims[3] = 28;
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
  } else if (!strcmp(arch, "resnet18")) {
    y = resnet18(&b, x);
  } else if (!strcmp(arch, "mobilenetv2")) {
    y = mobilenetv2(&b, x);
  } else if (!strcmp(arch, "resnet-block")) {
    y = basic_block(&b, "layer1.0", x, 64, 64, 1); /* ResNet-18's first block */
  } else if (!strcmp(arch, "inception-block")) {
    y = inception_block(&b, x);
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
