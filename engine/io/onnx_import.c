/* ONNX import through protobuf-c code generated from Debian's onnx.proto. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/io/onnx.h"
#include "onnx.pb-c.h"

#define ONNX_MIN_OPSET 1

#define ONNX_MAX_OPSET 18

/* The attributes each op accepts; anything else is refused by name. */
static const char *allowed_attrs(pare_op op) {
  switch (op) {
  case PARE_OP_CONV: return "auto_pad dilations group kernel_shape pads strides";
  case PARE_OP_CONV_TRANSPOSE:
    return "auto_pad dilations group kernel_shape output_padding output_shape pads strides";
  case PARE_OP_GEMM: return "alpha beta transA transB broadcast";
  case PARE_OP_CLIP: return "min max";
  case PARE_OP_LEAKY_RELU:
  case PARE_OP_ELU: return "alpha";
  case PARE_OP_SELU: return "alpha gamma";
  case PARE_OP_HARD_SIGMOID: return "alpha beta";
  case PARE_OP_SHRINK: return "bias lambd";
  case PARE_OP_LRN: return "alpha beta bias size";
  case PARE_OP_QUANTIZE_LINEAR: return "axis saturate";
  case PARE_OP_DEQUANTIZE_LINEAR: return "axis";
  case PARE_OP_CONV_INTEGER:
  case PARE_OP_QLINEAR_CONV: return "auto_pad dilations group kernel_shape pads strides";
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV: return "axis broadcast";
  case PARE_OP_BATCH_NORM: return "epsilon momentum spatial training_mode";
  case PARE_OP_MAX_POOL:
    return "auto_pad ceil_mode dilations kernel_shape pads storage_order strides";
  case PARE_OP_AVERAGE_POOL:
    return "auto_pad ceil_mode count_include_pad dilations kernel_shape pads strides";
  case PARE_OP_REDUCE_MEAN: return "axes keepdims noop_with_empty_axes";
  case PARE_OP_CONCAT:
  case PARE_OP_FLATTEN:
  case PARE_OP_SOFTMAX:
  case PARE_OP_LOG_SOFTMAX:
  case PARE_OP_GATHER: return "axis";
  case PARE_OP_RESHAPE: return "allowzero shape";
  case PARE_OP_TRANSPOSE: return "perm";
  case PARE_OP_SQUEEZE:
  case PARE_OP_UNSQUEEZE: return "axes";
  case PARE_OP_DROPOUT: return "ratio seed is_test";
  case PARE_OP_CONSTANT: return "value value_float value_floats value_int value_ints";
  case PARE_OP_SHAPE: return "start end";
  case PARE_OP_CAST: return "to saturate";
  case PARE_OP_SLICE: return "axes ends starts";
  case PARE_OP_PAD: return "mode pads value";
  case PARE_OP_RESIZE:
    return "coordinate_transformation_mode cubic_coeff_a exclude_outside extrapolation_value "
           "mode nearest_mode antialias keep_aspect_ratio_policy axes scales";
  default: return "";
  }
}

static int word_in(const char *word, const char *list) {
  size_t n = strlen(word);
  if (n == 0) return 0;
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
    int starts = p == list || p[-1] == ' ';
    int ends = p[n] == '\0' || p[n] == ' ';
    if (starts && ends) return 1;
  }
  return 0;
}

static const char *onnx_type_name(int32_t t) {
  static const char *names[] = {"undefined",  "float",   "uint8",  "int8",   "uint16",
                                "int16",      "int32",   "int64",  "string", "bool",
                                "float16",    "double",  "uint32", "uint64", "complex64",
                                "complex128", "bfloat16"};
  return t >= 0 && t <= 16 ? names[t] : "unknown";
}

/* Reads the bytes of an external-data tensor, refusing any path that
 * leaves the model's folder. */
static pare_status read_external(const Onnx__TensorProto *t, const char *dir, size_t want,
                                 void *dst, pare_error *err) {
  const char *location = NULL;
  long long offset = 0, length = -1;
  for (size_t i = 0; i < t->n_external_data; i++) {
    const Onnx__StringStringEntryProto *kv = t->external_data[i];
    if (!kv->key || !kv->value) continue;
    if (!strcmp(kv->key, "location")) location = kv->value;
    if (!strcmp(kv->key, "offset")) offset = strtoll(kv->value, NULL, 10);
    if (!strcmp(kv->key, "length")) length = strtoll(kv->value, NULL, 10);
  }
  const char *tn = t->name ? t->name : "";
  if (!dir)
    return pare_error_set(err, PARE_ERR_FORMAT, "tensor '%s': external data is not allowed here",
                          tn);
  if (!location || !location[0])
    return pare_error_set(err, PARE_ERR_FORMAT, "tensor '%s': external data without a location",
                          tn);
  if (location[0] == '/' || strstr(location, "..") || strchr(location, '\\'))
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "tensor '%s': external data path '%s' leaves the model's folder", tn,
                          location);
  if (offset < 0 || (length >= 0 && (size_t)length != want))
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "tensor '%s': external data offset/length (%lld/%lld) do not match "
                          "its %zu bytes",
                          tn, offset, length, want);
  char path[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
  snprintf(path, sizeof path, "%s/%s", dir, location);
  if (!realpath(dir, real_dir) || !realpath(path, real_file))
    return pare_error_set(err, PARE_ERR_IO, "tensor '%s': external data '%s': %s", tn, path,
                          strerror(errno));
  size_t nd = strlen(real_dir);
  if (strncmp(real_file, real_dir, nd) != 0 || real_file[nd] != '/')
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "tensor '%s': external data '%s' resolves outside the model's folder", tn,
                          location);
  FILE *f = fopen(real_file, "rb");
  if (!f) return pare_error_set(err, PARE_ERR_IO, "%s: %s", real_file, strerror(errno));
  int ok = fseek(f, (long)offset, SEEK_SET) == 0 && fread(dst, 1, want, f) == want;
  fclose(f);
  if (!ok)
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "tensor '%s': external data file %s is shorter than offset %lld + %zu",
                          tn, real_file, offset, want);
  return PARE_OK;
}

/* Converts a TensorProto into pare's layout. */
static pare_status tensor_from_proto(const Onnx__TensorProto *t, const char *dir,
                                     pare_onnx_tensor *out, pare_error *err) {
  memset(out, 0, sizeof *out);
  const char *tn = t->name ? t->name : "";
  pare_strlcpy(out->name, tn, sizeof out->name);
  if (t->n_dims > PARE_MAX_RANK)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "tensor '%s': rank %zu exceeds %d", tn,
                          t->n_dims, PARE_MAX_RANK);
  out->rank = (int)t->n_dims;
  int64_t numel = 1;
  for (size_t i = 0; i < t->n_dims; i++) {
    if (t->dims[i] < 0 || (t->dims[i] > 0 && numel > INT64_MAX / 4 / t->dims[i]))
      return pare_error_set(err, PARE_ERR_FORMAT, "tensor '%s': bad dimension %lld", tn,
                            (long long)t->dims[i]);
    out->dims[i] = t->dims[i];
    numel *= t->dims[i];
  }
  pare_dtype dt = pare_dtype_from_onnx(t->data_type);
  if (dt == PARE_DT_UNDEFINED)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "tensor '%s': unsupported data type %s", tn,
                          onnx_type_name(t->data_type));
  out->dtype = dt;
  int is_double = t->data_type == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
  size_t n = (size_t)numel;
  size_t bytes = pare_dtype_bytes(dt, n);
  size_t src_elem = is_double ? 8 : pare_dtype_bytes(dt, 1);
  int external =
      t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
  /* Check that the data is really there before allocating for the shape:
   * a corrupt shape must not turn into a huge allocation. */
  size_t present = external            ? n /* checked against the file when read */
                   : t->has_raw_data   ? t->raw_data.len / (src_elem ? src_elem : 1)
                   : dt == PARE_DT_F32 ? (is_double ? t->n_double_data : t->n_float_data)
                   : dt == PARE_DT_I64 ? t->n_int64_data
                                       : t->n_int32_data;
  if (present != n)
    return pare_error_set(err, PARE_ERR_FORMAT, "tensor '%s': %zu values for a shape of %zu", tn,
                          present, n);
  /* External data is not in the buffer: its size comes from the shape
   * alone, so it is capped (counted in elements, so that it cannot wrap). */
  size_t cap = pare_max_tensor_bytes();
  if (external && (n > cap / (src_elem ? src_elem : 1) || bytes > cap))
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "tensor '%s': %zu elements exceed the %zu-byte limit "
                          "(PARE_MAX_TENSOR_BYTES)",
                          tn, n, cap);
  unsigned char *data = malloc(bytes ? bytes : 1);
  if (!data) return pare_error_set(err, PARE_ERR_NO_MEMORY, "tensor '%s': out of memory", tn);
  pare_status st = PARE_OK;
  if (external || t->has_raw_data) {
    unsigned char *raw = data;
    size_t raw_bytes = n * src_elem;
    if (is_double) raw = malloc(raw_bytes ? raw_bytes : 1);
    if (!raw) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "tensor '%s': out of memory", tn);
    if (st == PARE_OK && external) {
      st = read_external(t, dir, raw_bytes, raw, err);
    } else if (st == PARE_OK) {
      if (t->raw_data.len != raw_bytes)
        st = pare_error_set(err, PARE_ERR_FORMAT,
                            "tensor '%s': raw_data has %zu bytes, its shape needs %zu", tn,
                            t->raw_data.len, raw_bytes);
      else if (raw_bytes)
        memcpy(raw, t->raw_data.data, raw_bytes);
    }
    if (st == PARE_OK && is_double)
      for (size_t i = 0; i < n; i++) {
        double d;
        memcpy(&d, raw + 8 * i, 8);
        ((float *)data)[i] = (float)d;
      }
    if (is_double) free(raw);
  } else {
    size_t have = 0;
    switch (dt) {
    case PARE_DT_F32:
      have = is_double ? t->n_double_data : t->n_float_data;
      if (have == n)
        for (size_t i = 0; i < n; i++)
          ((float *)data)[i] = is_double ? (float)t->double_data[i] : t->float_data[i];
      break;
    case PARE_DT_I64:
      have = t->n_int64_data;
      if (have == n && n) memcpy(data, t->int64_data, n * 8);
      break;
    case PARE_DT_I32:
      have = t->n_int32_data;
      if (have == n && n) memcpy(data, t->int32_data, n * 4);
      break;
    case PARE_DT_F16:
      have = t->n_int32_data;
      if (have == n)
        for (size_t i = 0; i < n; i++) ((uint16_t *)data)[i] = (uint16_t)t->int32_data[i];
      break;
    default: /* int8, uint8, bool: one int32 per element */
      have = t->n_int32_data;
      if (have == n)
        for (size_t i = 0; i < n; i++) data[i] = (unsigned char)t->int32_data[i];
      break;
    }
    if (have != n)
      st = pare_error_set(err, PARE_ERR_FORMAT, "tensor '%s': %zu values for a shape of %zu", tn,
                          have, n);
  }
  if (st != PARE_OK) {
    free(data);
    return st;
  }
  out->data = data;
  out->nbytes = bytes;
  return PARE_OK;
}

/* Adds a constant value from a TensorProto. */
static int add_constant(pare_graph *g, const Onnx__TensorProto *t, const char *name,
                        const char *dir, pare_error *err) {
  pare_onnx_tensor tensor;
  if (tensor_from_proto(t, dir, &tensor, err) != PARE_OK) return -1;
  int v = pare_graph_add_value(g, name, tensor.dtype, tensor.rank, tensor.dims);
  if (v < 0) {
    free(tensor.data);
    pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    return -1;
  }
  pare_value_set_data(&g->values[v], tensor.data, tensor.nbytes, 1);
  g->values[v].is_param = tensor.dtype == PARE_DT_F32;
  return v;
}

/* The value of that name, creating an activation of unknown shape. */
static int value_for(pare_graph *g, const char *name) {
  int v = pare_graph_find_value(g, name);
  return v >= 0 ? v : pare_graph_add_value(g, name, PARE_DT_UNDEFINED, -1, NULL);
}

static pare_status import_attr(pare_graph *g, pare_node *n, const char *op_type,
                               const Onnx__AttributeProto *a, const char *dir, pare_error *err) {
  const char *an = a->name ? a->name : "";
  if (!word_in(an, allowed_attrs(n->op)))
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (%s): unsupported attribute '%s'",
                          n->name, op_type, an);
  pare_attr *at = NULL;
  switch (a->type) {
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_INT))) at->i = a->i;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_FLOAT))) at->f = a->f;
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_STRING))) {
      at->s = malloc(a->s.len + 1);
      if (!at->s) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      if (a->s.len) memcpy(at->s, a->s.data, a->s.len);
      at->s[a->s.len] = '\0';
    }
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_INTS))) {
      at->ints = malloc(sizeof(int64_t) * (a->n_ints + 1));
      if (!at->ints) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      if (a->n_ints) memcpy(at->ints, a->ints, sizeof(int64_t) * a->n_ints);
      at->count = (int)a->n_ints;
    }
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_FLOATS))) {
      at->floats = malloc(sizeof(float) * (a->n_floats + 1));
      if (!at->floats) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      if (a->n_floats) memcpy(at->floats, a->floats, sizeof(float) * a->n_floats);
      at->count = (int)a->n_floats;
    }
    break;
  case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR: {
    if (!a->t)
      return pare_error_set(err, PARE_ERR_FORMAT, "node '%s' (%s): attribute '%s' has no tensor",
                            n->name, op_type, an);
    char name[300];
    snprintf(name, sizeof name, "%s/%s", n->name, an);
    int v = add_constant(g, a->t, name, dir, err);
    if (v < 0) return PARE_ERR_FORMAT;
    if ((at = pare_node_add_attr(n, an, PARE_ATTR_TENSOR))) at->i = v;
    break;
  }
  default:
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "node '%s' (%s): attribute '%s' has an unsupported type (%d)", n->name,
                          op_type, an, (int)a->type);
  }
  if (!at) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  return PARE_OK;
}

/* A Constant node becomes a constant value right away. */
static pare_status import_constant(pare_graph *g, const Onnx__NodeProto *np, const char *dir,
                                   const char *nname, pare_error *err) {
  if (np->n_output != 1 || np->n_attribute != 1)
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "node '%s' (Constant): needs one output and one value attribute", nname);
  const Onnx__AttributeProto *a = np->attribute[0];
  const char *an = a->name ? a->name : "";
  const char *out = np->output[0];
  int v = -1;
  if (!strcmp(an, "value") && a->t) {
    v = add_constant(g, a->t, out, dir, err);
    if (v < 0) return PARE_ERR_FORMAT;
  } else if (!strcmp(an, "value_float") || !strcmp(an, "value_int")) {
    int is_f = an[6] == 'f';
    v = pare_graph_add_value(g, out, is_f ? PARE_DT_F32 : PARE_DT_I64, 0, NULL);
    if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    if (is_f)
      pare_value_set_data(&g->values[v], (void *)&a->f, 4, 0);
    else
      pare_value_set_data(&g->values[v], (void *)&a->i, 8, 0);
  } else if (!strcmp(an, "value_floats") || !strcmp(an, "value_ints")) {
    int is_f = an[6] == 'f';
    int64_t count = is_f ? (int64_t)a->n_floats : (int64_t)a->n_ints;
    v = pare_graph_add_value(g, out, is_f ? PARE_DT_F32 : PARE_DT_I64, 1, &count);
    if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    if (is_f)
      pare_value_set_data(&g->values[v], a->floats, 4 * (size_t)count, 0);
    else
      pare_value_set_data(&g->values[v], a->ints, 8 * (size_t)count, 0);
  } else {
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "node '%s' (Constant): unsupported attribute '%s'", nname, an);
  }
  g->values[v].is_param = 0;
  return PARE_OK;
}

static pare_status import_graph(pare_graph *g, const Onnx__ModelProto *m, const char *dir,
                                const char *what, pare_error *err) {
  const Onnx__GraphProto *gp = m->graph;
  if (!gp) return pare_error_set(err, PARE_ERR_FORMAT, "%s: the model has no graph", what);
  g->opset = 0;
  for (size_t i = 0; i < m->n_opset_import; i++) {
    const Onnx__OperatorSetIdProto *o = m->opset_import[i];
    const char *d = o->domain ? o->domain : "";
    if (!d[0] || !strcmp(d, "ai.onnx")) g->opset = (int)o->version;
  }
  if (g->opset == 0) g->opset = ONNX_MIN_OPSET; /* very old files omit it */
  if (g->opset < ONNX_MIN_OPSET || g->opset > ONNX_MAX_OPSET)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: opset %d is outside the supported %d-%d",
                          what, g->opset, ONNX_MIN_OPSET, ONNX_MAX_OPSET);
  if (gp->n_sparse_initializer)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: sparse initializers are not supported",
                          what);
  g->name = strdup(gp->name ? gp->name : "");
  for (size_t i = 0; i < gp->n_initializer; i++) {
    const char *name = gp->initializer[i]->name ? gp->initializer[i]->name : "";
    if (add_constant(g, gp->initializer[i], name, dir, err) < 0) return PARE_ERR_FORMAT;
  }
  g->inputs = malloc(sizeof(int) * (gp->n_input + 1));
  g->outputs = malloc(sizeof(int) * (gp->n_output + 1));
  if (!g->inputs || !g->outputs) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  for (size_t i = 0; i < gp->n_input; i++) {
    const Onnx__ValueInfoProto *vi = gp->input[i];
    const char *name = vi->name ? vi->name : "";
    if (pare_graph_find_value(g, name) >= 0) continue; /* an initializer with a default */
    int rank = -1;
    int64_t dims[PARE_MAX_RANK] = {0};
    pare_dtype dt = PARE_DT_F32;
    if (vi->type && vi->type->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE) {
      const Onnx__TypeProto__Tensor *tt = vi->type->tensor_type;
      dt = pare_dtype_from_onnx(tt->elem_type);
      if (dt == PARE_DT_UNDEFINED)
        return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: input '%s' has unsupported type %s",
                              what, name, onnx_type_name(tt->elem_type));
      if (tt->shape) {
        if (tt->shape->n_dim > PARE_MAX_RANK)
          return pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: input '%s' has rank %zu", what,
                                name, tt->shape->n_dim);
        rank = (int)tt->shape->n_dim;
        for (int d = 0; d < rank; d++) {
          const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[d];
          dims[d] = dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                            dim->dim_value > 0
                        ? dim->dim_value
                        : -1;
        }
      }
    }
    int v = pare_graph_add_value(g, name, dt, rank, dims);
    if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    g->inputs[g->n_inputs++] = v;
  }
  for (size_t i = 0; i < gp->n_node; i++) {
    const Onnx__NodeProto *np = gp->node[i];
    const char *op_type = np->op_type ? np->op_type : "";
    char nname[256];
    if (np->name && np->name[0])
      snprintf(nname, sizeof nname, "%s", np->name);
    else
      snprintf(nname, sizeof nname, "#%zu", i);
    const char *domain = np->domain ? np->domain : "";
    if (domain[0] && strcmp(domain, "ai.onnx"))
      return pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (%s): unsupported domain '%s'",
                            nname, op_type, domain);
    pare_op op = pare_op_from_onnx(op_type);
    if (op == PARE_OP_COUNT)
      return pare_error_set(err, PARE_ERR_UNSUPPORTED, "node '%s' (%s): unsupported op", nname,
                            op_type);
    if (op == PARE_OP_CONSTANT) {
      pare_status st = import_constant(g, np, dir, nname, err);
      if (st != PARE_OK) return st;
      continue;
    }
    int ni = pare_graph_add_node(g, nname, op, (int)np->n_input, (int)np->n_output);
    if (ni < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    for (size_t k = 0; k < np->n_input; k++) {
      const char *in = np->input[k];
      if (!in || !in[0]) continue; /* omitted optional input */
      int v = pare_graph_find_value(g, in);
      if (v < 0)
        return pare_error_set(err, PARE_ERR_FORMAT,
                              "node '%s' (%s): input '%s' is not produced by any earlier node",
                              nname, op_type, in);
      g->nodes[ni].inputs[k] = v;
    }
    for (size_t k = 0; k < np->n_output; k++) {
      const char *o = np->output[k];
      if (!o || !o[0]) continue;
      if (pare_graph_find_value(g, o) >= 0)
        return pare_error_set(err, PARE_ERR_FORMAT, "node '%s' (%s): output '%s' is produced twice",
                              nname, op_type, o);
      int v = value_for(g, o);
      if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      g->values[v].producer = ni;
      g->nodes[ni].outputs[k] = v;
    }
    for (size_t k = 0; k < np->n_attribute; k++) {
      /* The node array may move while attributes add constants: index again. */
      pare_status st = import_attr(g, &g->nodes[ni], op_type, np->attribute[k], dir, err);
      if (st != PARE_OK) return st;
    }
  }
  for (size_t i = 0; i < gp->n_output; i++) {
    const char *name = gp->output[i]->name ? gp->output[i]->name : "";
    int v = pare_graph_find_value(g, name);
    if (v < 0)
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: graph output '%s' is never produced", what,
                            name);
    g->outputs[g->n_outputs++] = v;
  }
  return pare_graph_validate(g, err);
}

pare_status pare_onnx_import_buffer(const void *data, size_t size, const char *dir,
                                    const char *what, pare_graph **out, pare_error *err) {
  *out = NULL;
  Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, size, data);
  if (!m)
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "%s: not a valid ONNX model (protobuf parse failed)", what);
  pare_graph *g = pare_graph_create();
  pare_status st = g ? import_graph(g, m, dir, what, err)
                     : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  onnx__model_proto__free_unpacked(m, NULL);
  if (st != PARE_OK) {
    pare_graph_destroy(g);
    return st;
  }
  *out = g;
  return PARE_OK;
}

/* The folder part of a path ("." when there is none). */
static void dir_of(const char *path, char *buf, size_t size) {
  const char *slash = strrchr(path, '/');
  if (!slash) {
    pare_strlcpy(buf, ".", size);
    return;
  }
  size_t n = (size_t)(slash - path);
  if (n == 0) n = 1;
  if (n >= size) n = size - 1;
  memcpy(buf, path, n);
  buf[n] = '\0';
}

pare_status pare_onnx_import_file(const char *path, pare_graph **out, pare_error *err) {
  void *data;
  size_t size;
  pare_status st = pare_file_read(path, &data, &size, err);
  if (st != PARE_OK) return st;
  char dir[PATH_MAX];
  dir_of(path, dir, sizeof dir);
  st = pare_onnx_import_buffer(data, size, dir, path, out, err);
  free(data);
  return st;
}

pare_status pare_onnx_tensor_read_file(const char *path, pare_onnx_tensor *out, pare_error *err) {
  memset(out, 0, sizeof *out);
  void *data;
  size_t size;
  pare_status st = pare_file_read(path, &data, &size, err);
  if (st != PARE_OK) return st;
  Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, size, data);
  free(data);
  if (!t) return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a TensorProto", path);
  char dir[PATH_MAX];
  dir_of(path, dir, sizeof dir);
  st = tensor_from_proto(t, dir, out, err);
  onnx__tensor_proto__free_unpacked(t, NULL);
  return st;
}
