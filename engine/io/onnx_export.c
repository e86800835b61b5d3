/* ONNX export: the graph as a ModelProto built with protobuf-c.
 *
 * Every message, array and converted buffer is allocated from a small
 * arena (a list of blocks freed together), so error paths only have to
 * return; strings and raw data that need no conversion point into the
 * graph, which outlives the packed model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/io/onnx_export.h"
#include "engine/model_internal.h"
#include "onnx.pb-c.h"
#include "pare/pare_onnx.h"

/* ONNX TensorProto.DataType numbers. */
enum {
  ONNX_FLOAT = 1,
  ONNX_UINT8 = 2,
  ONNX_INT8 = 3,
  ONNX_INT32 = 6,
  ONNX_INT64 = 7,
  ONNX_BOOL = 9,
  ONNX_FLOAT16 = 10,
};

/* The oldest default-domain opset onnxruntime has kernels for. */
#define ONNX_RUNTIME_MIN_OPSET 7

typedef struct exporter {
  const pare_graph *g;
  pare_error *err;
  void **blocks; /* the arena */
  size_t n_blocks, cap_blocks;
  int base_opset;        /* the graph's */
  int opset;             /* what is written */
  const char *raised_by; /* a node that needs the higher opset (for messages) */
  /* Output arrays, sized for the worst case up front. */
  Onnx__NodeProto **nodes;
  size_t n_nodes;
  Onnx__TensorProto **inits;
  size_t n_inits;
  char **new_names; /* names invented here (extra initializers) */
  size_t n_new_names, cap_new_names;
  /* Shape inference by plans at batch 1 and 2, made when first needed. */
  pare_plan *plan[2];
  int plan_tried[2];
  pare_dtype *guess; /* dtypes propagated along the nodes, made when first needed */
  int guess_tried;
} exporter;

static void *ex_alloc(exporter *e, size_t size) {
  if (e->n_blocks == e->cap_blocks) {
    size_t cap = e->cap_blocks ? 2 * e->cap_blocks : 64;
    void **b = realloc(e->blocks, cap * sizeof *b);
    if (!b) return NULL;
    e->blocks = b;
    e->cap_blocks = cap;
  }
  void *p = calloc(1, size ? size : 1);
  if (p) e->blocks[e->n_blocks++] = p;
  return p;
}

static char *ex_strdup(exporter *e, const char *s) {
  size_t n = strlen(s);
  char *d = ex_alloc(e, n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

static pare_status oom(exporter *e) {
  return pare_error_set(e->err, PARE_ERR_NO_MEMORY, "ONNX export: out of memory");
}

static void ex_free(exporter *e) {
  for (size_t i = 0; i < e->n_blocks; i++) free(e->blocks[i]);
  free(e->blocks);
  free(e->nodes);
  free(e->inits);
  free(e->new_names);
  free(e->guess);
  for (int i = 0; i < 2; i++) pare_plan_destroy(e->plan[i]);
}

static int host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char b;
  memcpy(&b, &one, 1);
  return b == 1;
}

static int onnx_type_of(pare_dtype dt) {
  switch (dt) {
  case PARE_DT_F32: return ONNX_FLOAT;
  case PARE_DT_U8: return ONNX_UINT8;
  case PARE_DT_I8: return ONNX_INT8;
  case PARE_DT_I4: return ONNX_INT8; /* unpacked: see tensor_proto() */
  case PARE_DT_I32: return ONNX_INT32;
  case PARE_DT_I64: return ONNX_INT64;
  case PARE_DT_F16: return ONNX_FLOAT16;
  case PARE_DT_BOOL: return ONNX_BOOL;
  default: return 0;
  }
}

static const char *node_label(const pare_node *n) { return n->name ? n->name : ""; }

static const char *op_label(const pare_node *n) {
  const char *s = pare_op_name(n->op);
  return s ? s : "?";
}

/* ---- shape inference (only for what the graph itself leaves unknown) -- */

/* The plan for every dynamic dimension set to `batch` (1 or 2), or NULL
 * when the graph cannot be planned without data. */
static const pare_plan *plan_at(exporter *e, int which) {
  if (e->plan_tried[which]) return e->plan[which];
  e->plan_tried[which] = 1;
  const pare_graph *g = e->g;
  pare_tensor *ins = calloc((size_t)g->n_inputs + 1, sizeof *ins);
  if (!ins) return NULL;
  int ok = 1;
  for (int i = 0; i < g->n_inputs; i++) {
    const pare_value *v = &g->values[g->inputs[i]];
    if (v->rank < 0) ok = 0;
    ins[i].dtype = v->dtype == PARE_DT_UNDEFINED ? PARE_DT_F32 : v->dtype;
    ins[i].rank = v->rank < 0 ? 0 : v->rank;
    for (int d = 0; d < v->rank; d++) ins[i].dims[d] = v->dims[d] < 0 ? which + 1 : v->dims[d];
  }
  pare_error scratch;
  if (ok && pare_plan_create(g, ins, g->n_inputs, &e->plan[which], &scratch) != PARE_OK)
    e->plan[which] = NULL;
  free(ins);
  return e->plan[which];
}

/* Element types by propagation along the nodes, for graphs that cannot be
 * planned without data (a Reshape whose shape is a graph input, ...): most
 * ops keep the type of their first input; the others are listed. */
static pare_dtype guessed_dtype(exporter *e, int v) {
  const pare_graph *g = e->g;
  if (!e->guess_tried) {
    e->guess_tried = 1;
    e->guess = calloc((size_t)g->n_values + 1, sizeof *e->guess);
    if (!e->guess) return PARE_DT_UNDEFINED;
    for (int i = 0; i < g->n_values; i++) e->guess[i] = g->values[i].dtype;
    for (int i = 0; i < g->n_inputs; i++)
      if (e->guess[g->inputs[i]] == PARE_DT_UNDEFINED) e->guess[g->inputs[i]] = PARE_DT_F32;
    for (int i = 0; i < g->n_nodes; i++) {
      const pare_node *n = &g->nodes[i];
      pare_dtype first = PARE_DT_UNDEFINED;
      for (int k = 0; k < n->n_inputs && first == PARE_DT_UNDEFINED; k++)
        if (n->inputs[k] >= 0) first = e->guess[n->inputs[k]];
      for (int k = 0; k < n->n_outputs; k++) {
        int o = n->outputs[k];
        if (o < 0 || e->guess[o] != PARE_DT_UNDEFINED) continue;
        pare_dtype dt = first;
        if (n->op == PARE_OP_SHAPE || (n->op == PARE_OP_MAX_POOL && k == 1))
          dt = PARE_DT_I64;
        else if (n->op == PARE_OP_DROPOUT && k == 1)
          dt = PARE_DT_BOOL;
        else if (n->op == PARE_OP_DEQUANTIZE_LINEAR)
          dt = PARE_DT_F32;
        else if (n->op == PARE_OP_QUANTIZE_LINEAR)
          dt = n->n_inputs > 2 && n->inputs[2] >= 0 ? e->guess[n->inputs[2]] : PARE_DT_U8;
        else if (n->op == PARE_OP_CAST)
          dt = pare_dtype_from_onnx((int32_t)pare_node_attr_int(n, "to", 0));
        e->guess[o] = dt;
      }
    }
  }
  return e->guess ? e->guess[v] : PARE_DT_UNDEFINED;
}

/* dtype, rank and dims of value v (dynamic dims -1), from the graph or, when
 * it does not know them, from the plans, or for the dtype from
 * propagation. 0 when the dtype stays unknown. */
static int value_type(exporter *e, int v, pare_dtype *dt, int *rank, int64_t *dims) {
  const pare_value *val = &e->g->values[v];
  *dt = val->dtype;
  *rank = val->rank;
  if (val->rank >= 0) memcpy(dims, val->dims, sizeof(int64_t) * (size_t)val->rank);
  if (*dt != PARE_DT_UNDEFINED && *rank >= 0) return 1;
  const pare_plan *p1 = plan_at(e, 0);
  if (!p1 || v >= p1->n_values) {
    if (*dt == PARE_DT_UNDEFINED) *dt = guessed_dtype(e, v);
    return *dt != PARE_DT_UNDEFINED;
  }
  const pare_tensor *t = &p1->values[v];
  if (*dt == PARE_DT_UNDEFINED) *dt = t->dtype;
  if (*rank < 0 && t->rank >= 0) {
    *rank = t->rank;
    memcpy(dims, t->dims, sizeof(int64_t) * (size_t)t->rank);
    /* A dimension that follows the batch is dynamic. */
    const pare_plan *p2 = plan_at(e, 1);
    const pare_tensor *t2 = p2 && v < p2->n_values ? &p2->values[v] : NULL;
    for (int d = 0; d < t->rank; d++)
      if (!t2 || t2->rank != t->rank || t2->dims[d] != t->dims[d]) dims[d] = -1;
  }
  if (*dt == PARE_DT_UNDEFINED) *dt = guessed_dtype(e, v);
  return *dt != PARE_DT_UNDEFINED;
}

/* ---- tensors ----------------------------------------------------------- */

/* A TensorProto of constant value v under `name`. */
static Onnx__TensorProto *tensor_proto(exporter *e, int v, const char *name, pare_status *st) {
  const pare_value *val = &e->g->values[v];
  const char *vn = val->name ? val->name : "";
  int type = onnx_type_of(val->dtype);
  if (!type) {
    *st = pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                         "ONNX export: constant '%s' has dtype %s, which ONNX export does not "
                         "support",
                         vn, pare_dtype_name(val->dtype));
    return NULL;
  }
  int64_t numel = pare_value_numel(val);
  if (val->kind != PARE_VALUE_CONSTANT || val->rank < 0 || numel < 0 || (numel > 0 && !val->data) ||
      val->nbytes < pare_dtype_bytes(val->dtype, (size_t)numel)) {
    *st = pare_error_set(e->err, PARE_ERR_FORMAT,
                         "ONNX export: constant '%s' has no data for its shape", vn);
    return NULL;
  }
  Onnx__TensorProto *t = ex_alloc(e, sizeof *t);
  int64_t *dims = ex_alloc(e, sizeof(int64_t) * (size_t)(val->rank + 1));
  if (!t || !dims) {
    *st = oom(e);
    return NULL;
  }
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->data_type = type;
  t->n_dims = (size_t)val->rank;
  t->dims = dims;
  for (int d = 0; d < val->rank; d++) dims[d] = val->dims[d];
  size_t n = (size_t)numel;
  size_t elem = val->dtype == PARE_DT_I4 ? 1 : pare_dtype_bytes(val->dtype, 1);
  t->has_raw_data = 1;
  t->raw_data.len = n * elem;
  if (val->dtype == PARE_DT_I4) {
    /* Packed int4 (low nibble first) becomes one sign-extended int8 a
     * value: DequantizeLinear maps the same integers to the same floats. */
    int8_t *q = ex_alloc(e, n);
    if (!q) {
      *st = oom(e);
      return NULL;
    }
    const uint8_t *p = val->data;
    for (size_t i = 0; i < n; i++) {
      int nib = (p[i / 2] >> (4 * (i % 2))) & 15;
      q[i] = (int8_t)(nib >= 8 ? nib - 16 : nib);
    }
    t->raw_data.data = (uint8_t *)q;
  } else if (elem == 1 || host_is_little_endian()) {
    t->raw_data.data = val->data; /* already ONNX's byte order */
  } else {
    uint8_t *b = ex_alloc(e, n * elem);
    if (!b) {
      *st = oom(e);
      return NULL;
    }
    const uint8_t *src = val->data;
    for (size_t i = 0; i < n; i++)
      for (size_t k = 0; k < elem; k++) b[i * elem + k] = src[i * elem + elem - 1 - k];
    t->raw_data.data = b;
  }
  return t;
}

/* A new tensor from attribute values (ints → int64 1-D, a float → f32
 * scalar), for attributes that newer opsets take as inputs. */
static Onnx__TensorProto *attr_tensor(exporter *e, const pare_attr *a, const char *name,
                                      pare_status *st) {
  Onnx__TensorProto *t = ex_alloc(e, sizeof *t);
  if (!t) {
    *st = oom(e);
    return NULL;
  }
  onnx__tensor_proto__init(t);
  t->name = (char *)name;
  t->has_data_type = 1;
  t->has_raw_data = 1;
  if (a->type == PARE_ATTR_INTS) {
    int64_t *dims = ex_alloc(e, sizeof(int64_t));
    uint8_t *raw = ex_alloc(e, 8 * (size_t)a->count);
    if (!dims || !raw) {
      *st = oom(e);
      return NULL;
    }
    t->data_type = ONNX_INT64;
    t->n_dims = 1;
    t->dims = dims;
    dims[0] = a->count;
    for (int i = 0; i < a->count; i++) {
      uint64_t u = (uint64_t)a->ints[i];
      for (int k = 0; k < 8; k++) raw[8 * i + k] = (uint8_t)(u >> (8 * k));
    }
    t->raw_data.data = raw;
    t->raw_data.len = 8 * (size_t)a->count;
  } else {
    uint8_t *raw = ex_alloc(e, 4);
    if (!raw) {
      *st = oom(e);
      return NULL;
    }
    uint32_t u;
    float f = a->type == PARE_ATTR_INT ? (float)a->i : a->f;
    memcpy(&u, &f, 4);
    for (int k = 0; k < 4; k++) raw[k] = (uint8_t)(u >> (8 * k));
    t->data_type = ONNX_FLOAT;
    t->raw_data.data = raw;
    t->raw_data.len = 4;
  }
  return t;
}

/* A value name no graph value and no earlier invented name has. */
static const char *fresh_name(exporter *e, const char *base) {
  char buf[512];
  for (int k = 0; k < 1000; k++) {
    if (k == 0)
      snprintf(buf, sizeof buf, "%s", base);
    else
      snprintf(buf, sizeof buf, "%s_%d", base, k);
    int taken = pare_graph_find_value(e->g, buf) >= 0;
    for (size_t i = 0; i < e->n_new_names && !taken; i++) taken = !strcmp(e->new_names[i], buf);
    if (taken) continue;
    if (e->n_new_names == e->cap_new_names) {
      size_t cap = e->cap_new_names ? 2 * e->cap_new_names : 16;
      char **nn = realloc(e->new_names, cap * sizeof *nn);
      if (!nn) return NULL;
      e->new_names = nn;
      e->cap_new_names = cap;
    }
    char *s = ex_strdup(e, buf);
    if (!s) return NULL;
    e->new_names[e->n_new_names++] = s;
    return s;
  }
  return NULL;
}

/* ---- opsets -------------------------------------------------------------- */

/* The first opset of the default domain that has the op. */
static int op_since(pare_op op) {
  switch (op) {
  case PARE_OP_QUANTIZE_LINEAR:
  case PARE_OP_DEQUANTIZE_LINEAR:
  case PARE_OP_RESIZE: return 10;
  case PARE_OP_SHRINK: return 9;
  case PARE_OP_HARD_SWISH: return 14;
  default: return 1;
  }
}

/* The opset node n needs as written. */
static int node_needs(const pare_graph *g, const pare_node *n) {
  int need = op_since(n->op);
  if (n->op == PARE_OP_QUANTIZE_LINEAR || n->op == PARE_OP_DEQUANTIZE_LINEAR) {
    /* Per-axis parameters (an axis attribute, or a scale with more than one
     * element) arrived in opset 13. */
    int per_axis = pare_node_attr(n, "axis") != NULL;
    if (n->n_inputs > 1 && n->inputs[1] >= 0) {
      const pare_value *s = &g->values[n->inputs[1]];
      if (s->rank > 0 && pare_value_numel(s) != 1) per_axis = 1;
    }
    if (per_axis && need < 13) need = 13;
  }
  return need;
}

/* How one node is rewritten for the opset written. */
typedef struct node_fix {
  const char *drop[4]; /* attributes left out */
  int n_drop;
  struct {
    const char *attr;
    int slot;
  } move[3]; /* attributes that became inputs */
  int n_move;
  const char *set_name; /* an INT attribute written explicitly */
  int64_t set_value;
} node_fix;

static int crossing(const exporter *e, int version) {
  return e->base_opset < version && e->opset >= version;
}

static pare_status refuse(exporter *e, const pare_node *n, const char *why) {
  if (e->opset <= e->base_opset)
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' (%s) cannot be written for opset %d: %s",
                          node_label(n), op_label(n), e->opset, why);
  if (!e->raised_by)
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' (%s) is written for opset %d and cannot be "
                          "raised to opset %d: %s",
                          node_label(n), op_label(n), e->base_opset, e->opset, why);
  return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                        "ONNX export: node '%s' (%s) is written for opset %d, and node '%s' needs "
                        "opset %d: %s",
                        node_label(n), op_label(n), e->base_opset,
                        e->raised_by ? e->raised_by : "?", e->opset, why);
}

static void fix_drop(node_fix *f, const pare_node *n, const char *attr) {
  if (pare_node_attr(n, attr) && f->n_drop < 4) f->drop[f->n_drop++] = attr;
}

static void fix_move(node_fix *f, const pare_node *n, const char *attr, int slot) {
  if (pare_node_attr(n, attr) && f->n_move < 3) {
    f->move[f->n_move].attr = attr;
    f->move[f->n_move].slot = slot;
    f->n_move++;
  }
}

/* Input `slot` is known not to be f32 (moved float attributes are f32). */
static int input_not_f32(exporter *e, const pare_node *n, int slot) {
  if (slot >= n->n_inputs || n->inputs[slot] < 0) return 0;
  pare_dtype dt;
  int rank;
  int64_t dims[PARE_MAX_RANK];
  if (!value_type(e, n->inputs[slot], &dt, &rank, dims)) return 0;
  return dt != PARE_DT_F32;
}

/* How the node is written for the opset chosen. Attributes that the opset
 * takes as inputs move there (and ones it no longer has are dropped) even
 * when the graph's own opset is that high: pare's executor reads both
 * forms, ONNX runtimes only the one of their opset. Ops whose meaning
 * changed are refused when the opset is raised across the change and the
 * node cannot keep its meaning. */
static pare_status plan_fix(exporter *e, const pare_node *n, node_fix *f) {
  memset(f, 0, sizeof *f);
  if ((n->op == PARE_OP_QUANTIZE_LINEAR || n->op == PARE_OP_CAST) && e->opset < 19)
    fix_drop(f, n, "saturate"); /* only about float8, which pare has not */
  switch (n->op) {
  case PARE_OP_GEMM:
  case PARE_OP_ADD:
  case PARE_OP_SUB:
  case PARE_OP_MUL:
  case PARE_OP_DIV:
    if (e->opset >= 7) {
      if (pare_node_attr(n, "axis"))
        return refuse(e, n, "legacy broadcasting along an axis has no opset 7 form");
      fix_drop(f, n, "broadcast"); /* suffix broadcasting: numpy's does the same */
    }
    break;
  case PARE_OP_CLIP:
    if (e->opset >= 11) {
      if ((pare_node_attr(n, "min") || pare_node_attr(n, "max")) && input_not_f32(e, n, 0))
        return refuse(e, n, "min/max attributes of a non-float Clip");
      fix_move(f, n, "min", 1);
      fix_move(f, n, "max", 2);
    }
    break;
  case PARE_OP_SOFTMAX:
  case PARE_OP_LOG_SOFTMAX:
    if (crossing(e, 13)) {
      /* Before 13 the input was flattened to 2-D at the axis; from 13 on
       * only that axis is normalized. The same when nothing follows it. */
      pare_dtype dt;
      int rank;
      int64_t dims[PARE_MAX_RANK];
      if (n->n_inputs < 1 || n->inputs[0] < 0 || !value_type(e, n->inputs[0], &dt, &rank, dims) ||
          rank < 1)
        return refuse(e, n, "the rank of its input is unknown, so the axis cannot be kept");
      int64_t axis = pare_node_attr_int(n, "axis", 1);
      if (axis < 0) axis += rank;
      if (axis < 0 || axis >= rank) return refuse(e, n, "its axis is out of range");
      for (int d = (int)axis + 1; d < rank; d++)
        if (dims[d] != 1)
          return refuse(e, n, "it normalizes over several trailing axes (opset < 13 meaning)");
      fix_drop(f, n, "axis");
      f->set_name = "axis";
      f->set_value = axis;
    }
    break;
  case PARE_OP_SQUEEZE:
  case PARE_OP_UNSQUEEZE:
    if (e->opset >= 13) fix_move(f, n, "axes", 1);
    break;
  case PARE_OP_REDUCE_MEAN:
    if (e->opset >= 18) fix_move(f, n, "axes", 1);
    break;
  case PARE_OP_RESHAPE:
    if (e->opset >= 5) fix_move(f, n, "shape", 1);
    break;
  case PARE_OP_SLICE:
    if (e->opset >= 10) {
      fix_move(f, n, "starts", 1);
      fix_move(f, n, "ends", 2);
      fix_move(f, n, "axes", 3);
    }
    break;
  case PARE_OP_PAD:
    if (e->opset >= 11) {
      if (pare_node_attr(n, "value") && input_not_f32(e, n, 0))
        return refuse(e, n, "the pad value of a non-float Pad");
      fix_move(f, n, "pads", 1);
      fix_move(f, n, "value", 2);
    }
    break;
  case PARE_OP_DROPOUT:
    if (crossing(e, 10) && n->n_outputs > 1 && n->outputs[1] >= 0)
      return refuse(e, n, "its mask output changed type in opset 10");
    if (e->opset >= 7) fix_drop(f, n, "is_test");
    if (e->opset >= 12) fix_drop(f, n, "ratio"); /* inference: the ratio is unused */
    break;
  case PARE_OP_BATCH_NORM:
    if (e->opset >= 9) {
      if (pare_node_attr_int(n, "spatial", 1) != 1)
        return refuse(e, n, "spatial=0 has no form in opset 9 and later");
      fix_drop(f, n, "spatial");
    }
    for (int k = 1; k < n->n_outputs && e->opset > e->base_opset; k++)
      if (n->outputs[k] >= 0) return refuse(e, n, "its training outputs changed over the opsets");
    break;
  case PARE_OP_CONCAT:
    if (crossing(e, 4) && !pare_node_attr(n, "axis")) {
      f->set_name = "axis"; /* the old default */
      f->set_value = 1;
    }
    break;
  case PARE_OP_RESIZE:
    if (crossing(e, 11)) return refuse(e, n, "Resize changed its inputs and defaults in opset 11");
    break;
  case PARE_OP_CAST: {
    const pare_attr *to = pare_node_attr(n, "to");
    if (crossing(e, 6) && to && to->type == PARE_ATTR_STRING)
      return refuse(e, n, "its 'to' is a type name (opset < 6)");
    if (to && to->type == PARE_ATTR_INT && to->i == 11) {
      /* pare holds doubles as float (narrowed on import): a cast to double
       * is a cast to float here, and is written so. */
      fix_drop(f, n, "to");
      f->set_name = "to";
      f->set_value = ONNX_FLOAT;
    }
    break;
  }
  default: break;
  }
  return PARE_OK;
}

/* ---- nodes ------------------------------------------------------------- */

static const char *value_name(exporter *e, int v, const pare_node *n, pare_status *st) {
  const char *s = e->g->values[v].name;
  if (!s || !s[0]) {
    *st = pare_error_set(e->err, PARE_ERR_FORMAT,
                         "ONNX export: node '%s' (%s) uses a value without a name", node_label(n),
                         op_label(n));
    return NULL;
  }
  return s;
}

static pare_status attr_proto(exporter *e, const pare_node *n, const pare_attr *a,
                              Onnx__AttributeProto **out) {
  Onnx__AttributeProto *p = ex_alloc(e, sizeof *p);
  if (!p) return oom(e);
  onnx__attribute_proto__init(p);
  p->name = a->name;
  p->has_type = 1;
  pare_status st = PARE_OK;
  switch (a->type) {
  case PARE_ATTR_INT:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    p->has_i = 1;
    p->i = a->i;
    break;
  case PARE_ATTR_FLOAT:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
    p->has_f = 1;
    p->f = a->f;
    break;
  case PARE_ATTR_STRING:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
    p->has_s = 1;
    p->s.data = (uint8_t *)(a->s ? a->s : "");
    p->s.len = a->s ? strlen(a->s) : 0;
    break;
  case PARE_ATTR_INTS:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
    p->n_ints = a->count > 0 ? (size_t)a->count : 0;
    p->ints = a->ints;
    break;
  case PARE_ATTR_FLOATS:
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
    p->n_floats = a->count > 0 ? (size_t)a->count : 0;
    p->floats = a->floats;
    break;
  case PARE_ATTR_TENSOR: {
    p->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
    int v = (int)a->i;
    if (a->i < 0 || a->i >= e->g->n_values || e->g->values[v].kind != PARE_VALUE_CONSTANT)
      return pare_error_set(e->err, PARE_ERR_FORMAT,
                            "ONNX export: node '%s' (%s): tensor attribute '%s' has no constant",
                            node_label(n), op_label(n), a->name);
    /* Inside an attribute the tensor needs no name. */
    p->t = tensor_proto(e, v, "", &st);
    if (!p->t) return st;
    break;
  }
  default:
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' (%s): attribute '%s' has type %d, which ONNX "
                          "export does not support",
                          node_label(n), op_label(n), a->name ? a->name : "", (int)a->type);
  }
  if (!a->name || !a->name[0])
    return pare_error_set(e->err, PARE_ERR_FORMAT,
                          "ONNX export: node '%s' (%s) has an attribute without a name",
                          node_label(n), op_label(n));
  *out = p;
  return PARE_OK;
}

static int dropped(const node_fix *f, const char *name) {
  for (int i = 0; i < f->n_drop; i++)
    if (!strcmp(f->drop[i], name)) return 1;
  for (int i = 0; i < f->n_move; i++)
    if (!strcmp(f->move[i].attr, name)) return 1;
  return 0;
}

/* pare's PRelu also takes a slope [C] for an input [N,C,...] whose last
 * dimension is not C (old exporters, opset < 7): it applies along axis 1.
 * ONNX broadcasts from the right, so a constant slope of that kind is
 * written as [C,1,...,1]. */
static pare_status prelu_slope(exporter *e, const pare_node *n, Onnx__NodeProto *p) {
  if (n->n_inputs < 2 || n->inputs[0] < 0 || n->inputs[1] < 0) return PARE_OK;
  const pare_value *slope = &e->g->values[n->inputs[1]];
  pare_dtype dt;
  int rank;
  int64_t dims[PARE_MAX_RANK];
  if (slope->rank != 1 || !value_type(e, n->inputs[0], &dt, &rank, dims)) return PARE_OK;
  int64_t c = slope->dims[0];
  if (rank < 0 || !(rank > 2 && dims[1] == c && dims[rank - 1] != c)) return PARE_OK;
  if (dims[rank - 1] < 0 || slope->kind != PARE_VALUE_CONSTANT)
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' (PRelu): its per-channel slope cannot be "
                          "aligned to axis 1 (the slope is not a constant or the input's last "
                          "dimension is unknown)",
                          node_label(n));
  char base[400];
  snprintf(base, sizeof base, "%s_channels", slope->name);
  const char *name = fresh_name(e, base);
  if (!name) return oom(e);
  pare_status st = PARE_OK;
  Onnx__TensorProto *t = tensor_proto(e, n->inputs[1], name, &st);
  if (!t) return st;
  int64_t *d = ex_alloc(e, sizeof(int64_t) * (size_t)(rank - 1));
  if (!d) return oom(e);
  d[0] = c;
  for (int k = 1; k < rank - 1; k++) d[k] = 1;
  t->dims = d;
  t->n_dims = (size_t)(rank - 1);
  e->inits[e->n_inits++] = t;
  p->input[1] = (char *)name;
  return PARE_OK;
}

static pare_status node_proto(exporter *e, int ni) {
  const pare_node *n = &e->g->nodes[ni];
  const char *op_type = pare_op_name(n->op);
  if (!op_type)
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' has an unknown op (%d)", node_label(n),
                          (int)n->op);
  node_fix fix;
  pare_status st = plan_fix(e, n, &fix);
  if (st != PARE_OK) return st;
  /* A QuantizeLinear whose zero point is int4 produces int4, which is not
   * written (see onnx_export.h). */
  if (n->op == PARE_OP_QUANTIZE_LINEAR && n->n_inputs > 2 && n->inputs[2] >= 0 &&
      e->g->values[n->inputs[2]].dtype == PARE_DT_I4)
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: node '%s' (QuantizeLinear) quantizes to int4, which needs "
                          "opset 21; ONNX export writes opsets up to 18",
                          node_label(n));
  Onnx__NodeProto *p = ex_alloc(e, sizeof *p);
  if (!p) return oom(e);
  onnx__node_proto__init(p);
  p->name = n->name ? n->name : "";
  p->op_type = (char *)op_type;
  int n_in = n->n_inputs;
  for (int k = 0; k < fix.n_move; k++)
    if (fix.move[k].slot + 1 > n_in) n_in = fix.move[k].slot + 1;
  p->input = ex_alloc(e, sizeof(char *) * (size_t)(n_in + 1));
  p->output = ex_alloc(e, sizeof(char *) * (size_t)(n->n_outputs + 1));
  p->attribute = ex_alloc(e, sizeof(Onnx__AttributeProto *) * (size_t)(n->n_attrs + 2));
  if (!p->input || !p->output || !p->attribute) return oom(e);
  for (int k = 0; k < n_in; k++) {
    p->input[k] = "";
    if (k < n->n_inputs && n->inputs[k] >= 0) {
      const char *s = value_name(e, n->inputs[k], n, &st);
      if (!s) return st;
      p->input[k] = (char *)s;
    }
  }
  for (int k = 0; k < fix.n_move; k++) {
    const pare_attr *a = pare_node_attr(n, fix.move[k].attr);
    int slot = fix.move[k].slot;
    if (p->input[slot][0])
      return pare_error_set(e->err, PARE_ERR_FORMAT,
                            "ONNX export: node '%s' (%s) has both attribute '%s' and input %d",
                            node_label(n), op_label(n), a->name, slot);
    if (a->type != PARE_ATTR_INTS && a->type != PARE_ATTR_FLOAT && a->type != PARE_ATTR_INT)
      return pare_error_set(e->err, PARE_ERR_FORMAT,
                            "ONNX export: node '%s' (%s): attribute '%s' has an unexpected type",
                            node_label(n), op_label(n), a->name);
    char base[400];
    snprintf(base, sizeof base, "%s_%s", node_label(n)[0] ? node_label(n) : op_type, a->name);
    const char *name = fresh_name(e, base);
    if (!name) return oom(e);
    Onnx__TensorProto *t = attr_tensor(e, a, name, &st);
    if (!t) return st;
    e->inits[e->n_inits++] = t;
    p->input[slot] = (char *)name;
  }
  if (n->op == PARE_OP_PRELU) {
    st = prelu_slope(e, n, p);
    if (st != PARE_OK) return st;
  }
  while (n_in > 0 && !p->input[n_in - 1][0]) n_in--; /* trailing omitted inputs */
  p->n_input = (size_t)n_in;
  int n_out = n->n_outputs;
  for (int k = 0; k < n->n_outputs; k++) {
    p->output[k] = "";
    if (n->outputs[k] >= 0) {
      const char *s = value_name(e, n->outputs[k], n, &st);
      if (!s) return st;
      p->output[k] = (char *)s;
    }
  }
  while (n_out > 0 && !p->output[n_out - 1][0]) n_out--;
  p->n_output = (size_t)n_out;
  for (int k = 0; k < n->n_attrs; k++) {
    const pare_attr *a = &n->attrs[k];
    if (a->name && dropped(&fix, a->name)) continue;
    st = attr_proto(e, n, a, &p->attribute[p->n_attribute]);
    if (st != PARE_OK) return st;
    p->n_attribute++;
  }
  if (fix.set_name) {
    Onnx__AttributeProto *a = ex_alloc(e, sizeof *a);
    if (!a) return oom(e);
    onnx__attribute_proto__init(a);
    a->name = (char *)fix.set_name;
    a->has_type = 1;
    a->type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
    a->has_i = 1;
    a->i = fix.set_value;
    p->attribute[p->n_attribute++] = a;
  }
  e->nodes[e->n_nodes++] = p;
  return PARE_OK;
}

/* ---- graph inputs and outputs -------------------------------------------- */

static pare_status value_info(exporter *e, int v, int is_input, Onnx__ValueInfoProto **out) {
  const pare_value *val = &e->g->values[v];
  const char *vn = val->name ? val->name : "";
  if (!vn[0])
    return pare_error_set(e->err, PARE_ERR_FORMAT, "ONNX export: a graph %s has no name",
                          is_input ? "input" : "output");
  pare_dtype dt;
  int rank;
  int64_t dims[PARE_MAX_RANK];
  int known = value_type(e, v, &dt, &rank, dims);
  if (is_input && !known) {
    dt = PARE_DT_F32; /* what the importer assumes for an untyped input */
    known = 1;
  }
  Onnx__ValueInfoProto *vi = ex_alloc(e, sizeof *vi);
  if (!vi) return oom(e);
  onnx__value_info_proto__init(vi);
  vi->name = (char *)vn;
  *out = vi;
  if (!known) return PARE_OK; /* the runtime infers it */
  if (dt == PARE_DT_I4 || !onnx_type_of(dt))
    return pare_error_set(e->err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: graph %s '%s' has dtype %s, which ONNX export does not "
                          "support there",
                          is_input ? "input" : "output", vn, pare_dtype_name(dt));
  Onnx__TypeProto *tp = ex_alloc(e, sizeof *tp);
  Onnx__TypeProto__Tensor *tt = ex_alloc(e, sizeof *tt);
  if (!tp || !tt) return oom(e);
  onnx__type_proto__init(tp);
  onnx__type_proto__tensor__init(tt);
  tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
  tp->tensor_type = tt;
  tt->has_elem_type = 1;
  tt->elem_type = onnx_type_of(dt);
  vi->type = tp;
  if (rank < 0) return PARE_OK;
  Onnx__TensorShapeProto *sh = ex_alloc(e, sizeof *sh);
  Onnx__TensorShapeProto__Dimension **dv = ex_alloc(e, sizeof *dv * (size_t)(rank + 1));
  if (!sh || !dv) return oom(e);
  onnx__tensor_shape_proto__init(sh);
  sh->n_dim = (size_t)rank;
  sh->dim = dv;
  tt->shape = sh;
  for (int d = 0; d < rank; d++) {
    Onnx__TensorShapeProto__Dimension *dim = ex_alloc(e, sizeof *dim);
    if (!dim) return oom(e);
    onnx__tensor_shape_proto__dimension__init(dim);
    if (dims[d] >= 0) {
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
      dim->dim_value = dims[d];
    } else {
      /* The leading dynamic dimension is the batch; others get a name of
       * their own so that no equality is claimed that pare does not know. */
      char buf[300];
      if (d == 0)
        snprintf(buf, sizeof buf, "batch");
      else
        snprintf(buf, sizeof buf, "%s_dim%d", vn, d);
      dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
      dim->dim_param = ex_strdup(e, buf);
      if (!dim->dim_param) return oom(e);
    }
    dv[d] = dim;
  }
  return PARE_OK;
}

/* ---- the model ------------------------------------------------------------- */

static pare_status build(exporter *e, Onnx__ModelProto *m) {
  const pare_graph *g = e->g;
  pare_status st = pare_graph_validate(g, e->err);
  if (st != PARE_OK) return st;
  if (g->n_outputs < 1)
    return pare_error_set(e->err, PARE_ERR_INVALID_ARG, "ONNX export: the graph has no outputs");
  /* The opset: the graph's, raised to what its nodes need, and to 7, the
   * oldest that onnxruntime runs, when every node keeps its meaning there
   * (else the older opset is written as it is). */
  e->base_opset = g->opset > 0 ? g->opset : 13;
  e->opset = e->base_opset;
  for (int i = 0; i < g->n_nodes; i++) {
    int need = node_needs(g, &g->nodes[i]);
    if (need > e->opset) {
      e->opset = need;
      e->raised_by = node_label(&g->nodes[i]);
    }
  }
  if (e->opset < ONNX_RUNTIME_MIN_OPSET) {
    int own = e->opset;
    e->opset = ONNX_RUNTIME_MIN_OPSET;
    pare_error scratch;
    pare_error *keep = e->err;
    e->err = &scratch;
    node_fix fix;
    for (int i = 0; i < g->n_nodes && e->opset != own; i++)
      if (plan_fix(e, &g->nodes[i], &fix) != PARE_OK) e->opset = own;
    e->err = keep;
  }
  size_t max_inits = (size_t)g->n_values + 4 * (size_t)g->n_nodes + (size_t)g->n_outputs + 1;
  e->nodes = calloc((size_t)g->n_nodes + (size_t)g->n_outputs + 1, sizeof *e->nodes);
  e->inits = calloc(max_inits, sizeof *e->inits);
  char *used = calloc((size_t)g->n_values + 1, 1);
  if (!e->nodes || !e->inits || !used) {
    free(used);
    return oom(e);
  }
  /* Constants that nodes read become initializers. */
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; k < g->nodes[i].n_inputs; k++)
      if (g->nodes[i].inputs[k] >= 0) used[g->nodes[i].inputs[k]] = 1;
  for (int v = 0; v < g->n_values && st == PARE_OK; v++) {
    if (!used[v] || g->values[v].kind != PARE_VALUE_CONSTANT) continue;
    const char *vn = g->values[v].name;
    if (!vn || !vn[0]) {
      st = pare_error_set(e->err, PARE_ERR_FORMAT, "ONNX export: a constant has no name");
      break;
    }
    Onnx__TensorProto *t = tensor_proto(e, v, vn, &st);
    if (t) e->inits[e->n_inits++] = t;
  }
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) st = node_proto(e, i);
  if (st != PARE_OK) {
    free(used);
    return st;
  }

  Onnx__GraphProto *gp = ex_alloc(e, sizeof *gp);
  Onnx__ValueInfoProto **ins = ex_alloc(e, sizeof *ins * (size_t)(g->n_inputs + 1));
  Onnx__ValueInfoProto **outs = ex_alloc(e, sizeof *outs * (size_t)(g->n_outputs + 1));
  if (!gp || !ins || !outs) {
    free(used);
    return oom(e);
  }
  onnx__graph_proto__init(gp);
  gp->name = g->name && g->name[0] ? g->name : "pare";
  for (int i = 0; i < g->n_inputs; i++) {
    int v = g->inputs[i];
    if (g->values[v].kind == PARE_VALUE_CONSTANT) continue; /* folded: an initializer now */
    st = value_info(e, v, 1, &ins[gp->n_input]);
    if (st != PARE_OK) break;
    gp->n_input++;
  }
  for (int i = 0; i < g->n_outputs && st == PARE_OK; i++) {
    int v = g->outputs[i];
    st = value_info(e, v, 0, &outs[i]);
    /* A constant that a node reads is an initializer already, which the
     * output names. */
    if (st == PARE_OK && g->values[v].kind == PARE_VALUE_CONSTANT && !used[v]) {
      used[v] = 1; /* twice an output: one Identity */
      /* A constant output: an initializer under another name and an
       * Identity that gives it the output's name. */
      char base[400];
      snprintf(base, sizeof base, "%s_value", g->values[v].name);
      const char *cn = fresh_name(e, base);
      Onnx__NodeProto *id = ex_alloc(e, sizeof *id);
      char **in = ex_alloc(e, sizeof(char *));
      char **out = ex_alloc(e, sizeof(char *));
      if (!cn || !id || !in || !out) {
        st = oom(e);
        break;
      }
      Onnx__TensorProto *t = tensor_proto(e, v, cn, &st);
      if (!t) break;
      e->inits[e->n_inits++] = t;
      onnx__node_proto__init(id);
      id->op_type = "Identity";
      id->name = (char *)cn;
      in[0] = (char *)cn;
      out[0] = g->values[v].name;
      id->n_input = id->n_output = 1;
      id->input = in;
      id->output = out;
      e->nodes[e->n_nodes++] = id;
    }
  }
  free(used);
  if (st != PARE_OK) return st;
  gp->n_output = (size_t)g->n_outputs;
  gp->input = ins;
  gp->output = outs;
  gp->n_node = e->n_nodes;
  gp->node = e->nodes;
  gp->n_initializer = e->n_inits;
  gp->initializer = e->inits;

  Onnx__OperatorSetIdProto *os = ex_alloc(e, sizeof *os);
  Onnx__OperatorSetIdProto **osl = ex_alloc(e, sizeof *osl);
  if (!os || !osl) return oom(e);
  onnx__operator_set_id_proto__init(os);
  os->domain = "";
  os->has_version = 1;
  os->version = e->opset;
  osl[0] = os;
  onnx__model_proto__init(m);
  /* IR 8 reads every opset up to 18; later opsets came with later IRs. */
  m->has_ir_version = 1;
  m->ir_version = e->opset <= 18 ? 8 : e->opset <= 20 ? 9 : 10;
  m->n_opset_import = 1;
  m->opset_import = osl;
  m->producer_name = "pare";
  m->producer_version = (char *)pare_version();
  m->graph = gp;
  return PARE_OK;
}

pare_status pare_onnx_export_buffer(const pare_graph *g, void **data, size_t *size,
                                    pare_error *err) {
  if (!g || !data || !size)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "ONNX export: NULL argument");
  *data = NULL;
  *size = 0;
  exporter e;
  memset(&e, 0, sizeof e);
  e.g = g;
  e.err = err;
  Onnx__ModelProto m;
  pare_status st = build(&e, &m);
  if (st == PARE_OK) {
    size_t n = onnx__model_proto__get_packed_size(&m);
    /* protobuf messages are limited to 2 GiB; larger models would need
     * external data, which is not written. */
    if (n > (size_t)INT32_MAX) {
      st = pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "ONNX export: the model takes %zu bytes, more than the 2 GiB a "
                          "protobuf message may hold",
                          n);
    } else {
      uint8_t *buf = malloc(n ? n : 1);
      if (!buf) {
        st = pare_error_set(err, PARE_ERR_NO_MEMORY, "ONNX export: out of memory");
      } else {
        onnx__model_proto__pack(&m, buf);
        *data = buf;
        *size = n;
      }
    }
  }
  ex_free(&e);
  return st;
}

pare_status pare_onnx_export(const pare_graph *g, const char *path, pare_error *err) {
  if (!path) return pare_error_set(err, PARE_ERR_INVALID_ARG, "ONNX export: no path");
  void *data;
  size_t size;
  pare_status st = pare_onnx_export_buffer(g, &data, &size, err);
  if (st != PARE_OK) return st;
  st = pare_file_write_atomic(path, data, size, err);
  free(data);
  return st;
}

pare_status pare_model_export_onnx(pare_model *m, const char *path) {
  if (!m || !path) return PARE_ERR_INVALID_ARG;
  pare_error_clear(&m->error);
  return pare_onnx_export(m->graph, path, &m->error);
}
