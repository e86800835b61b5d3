/* The graph IR: creation, values, nodes, attributes, dead-node removal and
 * validation. */
#define _DEFAULT_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "engine/graph/graph.h"

static const char *const op_names[] = {
#define PARE_OP(id, onnx) onnx,
#include "engine/graph/ops.def"
#undef PARE_OP
};

const char *pare_op_name(pare_op op) {
  return (int)op >= 0 && op < PARE_OP_COUNT ? op_names[op] : NULL;
}

pare_op pare_op_from_onnx(const char *op_type) {
  for (int i = 0; i < PARE_OP_COUNT; i++)
    if (!strcmp(op_names[i], op_type)) return (pare_op)i;
  return PARE_OP_COUNT;
}

const char *pare_dtype_name(pare_dtype dt) {
  static const char *names[] = {"undefined", "f32", "f16", "i64", "i32", "i8", "u8", "i4", "bool"};
  return (int)dt >= 0 && dt < PARE_DT_COUNT ? names[dt] : "invalid";
}

int pare_op_is_unary_elementwise(pare_op op) {
  switch (op) {
  case PARE_OP_RELU:
  case PARE_OP_CLIP:
  case PARE_OP_LEAKY_RELU:
  case PARE_OP_SIGMOID:
  case PARE_OP_TANH:
  case PARE_OP_HARD_SIGMOID:
  case PARE_OP_HARD_SWISH:
  case PARE_OP_ELU:
  case PARE_OP_SELU:
  case PARE_OP_EXP:
  case PARE_OP_SQRT:
  case PARE_OP_NEG:
  case PARE_OP_RECIPROCAL:
  case PARE_OP_SHRINK: return 1;
  default: return 0;
  }
}

const char *pare_dtype_str(pare_dtype dt) { return pare_dtype_name(dt); }

pare_dtype pare_dtype_from_onnx(int32_t onnx_type) {
  /* TensorProto.DataType numbers, from the ONNX specification. */
  switch (onnx_type) {
  case 1: return PARE_DT_F32;
  case 11: return PARE_DT_F32; /* double: narrowed on import */
  case 10: return PARE_DT_F16;
  case 7: return PARE_DT_I64;
  case 6: return PARE_DT_I32;
  case 3: return PARE_DT_I8;
  case 2: return PARE_DT_U8;
  case 9: return PARE_DT_BOOL;
  default: return PARE_DT_UNDEFINED;
  }
}

size_t pare_dtype_bytes(pare_dtype dt, size_t count) {
  switch (dt) {
  case PARE_DT_F32:
  case PARE_DT_I32: return count * 4;
  case PARE_DT_F16: return count * 2;
  case PARE_DT_I64: return count * 8;
  case PARE_DT_I8:
  case PARE_DT_U8:
  case PARE_DT_BOOL: return count;
  case PARE_DT_I4: return (count + 1) / 2;
  default: return 0;
  }
}

static char *dup_str(const char *s) {
  if (!s) s = "";
  size_t n = strlen(s);
  char *d = malloc(n + 1);
  if (d) memcpy(d, s, n + 1);
  return d;
}

pare_graph *pare_graph_create(void) { return calloc(1, sizeof(pare_graph)); }

static void free_value(pare_value *v) {
  free(v->name);
  if (!v->borrowed) free(v->data);
  free(v->quant.scale);
  free(v->quant.zero_point);
}

static void free_node(pare_node *n) {
  free(n->name);
  free(n->inputs);
  free(n->outputs);
  for (int i = 0; i < n->n_attrs; i++) {
    free(n->attrs[i].name);
    free(n->attrs[i].s);
    free(n->attrs[i].ints);
    free(n->attrs[i].floats);
  }
  free(n->attrs);
}

void pare_graph_destroy(pare_graph *g) {
  if (!g) return;
  for (int i = 0; i < g->n_values; i++) free_value(&g->values[i]);
  for (int i = 0; i < g->n_nodes; i++) free_node(&g->nodes[i]);
  free(g->values);
  free(g->nodes);
  free(g->inputs);
  free(g->outputs);
  free(g->name);
  if (g->mapping) munmap(g->mapping, g->mapping_size);
  free(g);
}

/* Grows an array to hold at least need elements. */
static int grow(void **arr, int *cap, int need, size_t elem) {
  if (need <= *cap) return 1;
  int nc = *cap ? *cap * 2 : 16;
  while (nc < need) nc *= 2;
  void *p = realloc(*arr, (size_t)nc * elem);
  if (!p) return 0;
  memset((char *)p + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return 1;
}

int pare_graph_add_value(pare_graph *g, const char *name, pare_dtype dtype, int rank,
                         const int64_t *dims) {
  if (rank > PARE_MAX_RANK) return -1;
  if (!grow((void **)&g->values, &g->cap_values, g->n_values + 1, sizeof(pare_value))) return -1;
  pare_value *v = &g->values[g->n_values];
  memset(v, 0, sizeof *v);
  v->name = dup_str(name);
  if (!v->name) return -1;
  v->dtype = dtype;
  v->rank = rank;
  for (int i = 0; i < rank && dims; i++) v->dims[i] = dims[i];
  v->producer = -1;
  v->quant.axis = -1;
  v->enc.aux[0] = v->enc.aux[1] = -1;
  return g->n_values++;
}

int pare_graph_find_value(const pare_graph *g, const char *name) {
  for (int i = g->n_values - 1; i >= 0; i--)
    if (!strcmp(g->values[i].name, name)) return i;
  return -1;
}

int pare_graph_only_reader(const pare_graph *g, int v) {
  int reader = -1, count = 0;
  for (int k = 0; k < g->n_outputs; k++) count += g->outputs[k] == v;
  for (int j = 0; j < g->n_nodes; j++)
    for (int k = 0; k < g->nodes[j].n_inputs; k++)
      if (g->nodes[j].inputs[k] == v) reader = j, count++;
  return count == 1 ? reader : -1;
}

pare_status pare_value_set_data(pare_value *v, void *data, size_t nbytes, int own) {
  void *copy = data;
  if (!own) {
    copy = malloc(nbytes ? nbytes : 1);
    if (!copy) return PARE_ERR_NO_MEMORY;
    if (nbytes) memcpy(copy, data, nbytes);
  }
  if (!v->borrowed) free(v->data);
  v->borrowed = 0;
  v->data = copy;
  v->nbytes = nbytes;
  v->kind = PARE_VALUE_CONSTANT;
  return PARE_OK;
}

int pare_graph_add_node(pare_graph *g, const char *name, pare_op op, int n_inputs, int n_outputs) {
  if (n_inputs < 0 || n_outputs < 0) return -1;
  if (!grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1, sizeof(pare_node))) return -1;
  pare_node *n = &g->nodes[g->n_nodes];
  memset(n, 0, sizeof *n);
  n->name = dup_str(name);
  n->op = op;
  n->inputs = malloc(sizeof(int) * (size_t)(n_inputs ? n_inputs : 1));
  n->outputs = malloc(sizeof(int) * (size_t)(n_outputs ? n_outputs : 1));
  if (!n->name || !n->inputs || !n->outputs) {
    free_node(n);
    return -1;
  }
  for (int i = 0; i < n_inputs; i++) n->inputs[i] = -1;
  for (int i = 0; i < n_outputs; i++) n->outputs[i] = -1;
  n->n_inputs = n_inputs;
  n->n_outputs = n_outputs;
  return g->n_nodes++;
}

int pare_graph_insert_node(pare_graph *g, int at, const char *name, pare_op op, int n_inputs,
                           int n_outputs) {
  if (at < 0 || at > g->n_nodes) return -1;
  int idx = pare_graph_add_node(g, name, op, n_inputs, n_outputs);
  if (idx < 0) return -1;
  pare_node added = g->nodes[idx];
  memmove(&g->nodes[at + 1], &g->nodes[at], sizeof(pare_node) * (size_t)(idx - at));
  g->nodes[at] = added;
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].producer >= at) g->values[i].producer++;
  return at;
}

pare_attr *pare_node_add_attr(pare_node *n, const char *name, pare_attr_type type) {
  pare_attr *a = realloc(n->attrs, sizeof(pare_attr) * (size_t)(n->n_attrs + 1));
  if (!a) return NULL;
  n->attrs = a;
  pare_attr *at = &a[n->n_attrs];
  memset(at, 0, sizeof *at);
  at->name = dup_str(name);
  if (!at->name) return NULL;
  at->type = type;
  at->i = -1;
  n->n_attrs++;
  return at;
}

const pare_attr *pare_node_attr(const pare_node *n, const char *name) {
  for (int i = 0; i < n->n_attrs; i++)
    if (!strcmp(n->attrs[i].name, name)) return &n->attrs[i];
  return NULL;
}

int64_t pare_node_attr_int(const pare_node *n, const char *name, int64_t fallback) {
  const pare_attr *a = pare_node_attr(n, name);
  return a && a->type == PARE_ATTR_INT ? a->i : fallback;
}

float pare_node_attr_float(const pare_node *n, const char *name, float fallback) {
  const pare_attr *a = pare_node_attr(n, name);
  if (a && a->type == PARE_ATTR_FLOAT) return a->f;
  if (a && a->type == PARE_ATTR_INT) return (float)a->i;
  return fallback;
}

const char *pare_node_attr_string(const pare_node *n, const char *name, const char *fallback) {
  const pare_attr *a = pare_node_attr(n, name);
  return a && a->type == PARE_ATTR_STRING && a->s ? a->s : fallback;
}

const int64_t *pare_node_attr_ints(const pare_node *n, const char *name, int *count) {
  const pare_attr *a = pare_node_attr(n, name);
  if (a && a->type == PARE_ATTR_INTS) {
    *count = a->count;
    return a->ints;
  }
  *count = 0;
  return NULL;
}

int64_t pare_shape_numel(int rank, const int64_t *dims) {
  int64_t n = 1;
  for (int i = 0; i < rank; i++) {
    if (dims[i] < 0) return -1;
    if (dims[i] > 0 && n > INT64_MAX / dims[i]) return -1; /* overflow: not a real shape */
    n *= dims[i];
  }
  return n;
}

int64_t pare_value_numel(const pare_value *v) {
  return v->rank < 0 ? -1 : pare_shape_numel(v->rank, v->dims);
}

pare_status pare_graph_remove_dead(pare_graph *g) {
  char *live_value = calloc((size_t)g->n_values + 1, 1);
  char *live_node = calloc((size_t)g->n_nodes + 1, 1);
  int *remap = malloc(sizeof(int) * (size_t)(g->n_values + 1));
  if (!live_value || !live_node || !remap) { /* nothing changed yet */
    free(live_value);
    free(live_node);
    free(remap);
    return PARE_ERR_NO_MEMORY;
  }
  for (int i = 0; i < g->n_outputs; i++) live_value[g->outputs[i]] = 1;
  for (int i = g->n_nodes - 1; i >= 0; i--) {
    pare_node *n = &g->nodes[i];
    for (int o = 0; o < n->n_outputs; o++)
      if (n->outputs[o] >= 0 && live_value[n->outputs[o]]) live_node[i] = 1;
    if (!live_node[i]) continue;
    for (int k = 0; k < n->n_inputs; k++)
      if (n->inputs[k] >= 0) live_value[n->inputs[k]] = 1;
  }
  int w = 0;
  for (int i = 0; i < g->n_nodes; i++) {
    if (live_node[i])
      g->nodes[w++] = g->nodes[i];
    else
      free_node(&g->nodes[i]);
  }
  g->n_nodes = w;
  /* Unused constants are dropped; graph inputs and outputs stay. */
  for (int i = 0; i < g->n_inputs; i++) live_value[g->inputs[i]] = 1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0) live_value[g->nodes[i].outputs[o]] = 1;
  {
    int nv = 0;
    for (int i = 0; i < g->n_values; i++) {
      if (live_value[i]) {
        remap[i] = nv;
        g->values[nv++] = g->values[i];
      } else {
        remap[i] = -1;
        free_value(&g->values[i]);
      }
    }
    g->n_values = nv;
    for (int i = 0; i < g->n_nodes; i++) {
      pare_node *n = &g->nodes[i];
      for (int k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0) n->inputs[k] = remap[n->inputs[k]];
      for (int k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0) n->outputs[k] = remap[n->outputs[k]];
      for (int k = 0; k < n->n_attrs; k++)
        if (n->attrs[k].type == PARE_ATTR_TENSOR && n->attrs[k].i >= 0)
          n->attrs[k].i = remap[n->attrs[k].i];
    }
    for (int i = 0; i < g->n_inputs; i++) g->inputs[i] = remap[g->inputs[i]];
    for (int i = 0; i < g->n_outputs; i++) g->outputs[i] = remap[g->outputs[i]];
    for (int i = 0; i < g->n_values; i++) {
      pare_encoding *e = &g->values[i].enc;
      for (int k = 0; k < 2; k++)
        if (e->aux[k] >= 0) e->aux[k] = remap[e->aux[k]];
    }
    free(remap);
  }
  for (int i = 0; i < g->n_values; i++) g->values[i].producer = -1;
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0) g->values[g->nodes[i].outputs[o]].producer = i;
  free(live_value);
  free(live_node);
  return PARE_OK;
}

pare_status pare_graph_validate(const pare_graph *g, pare_error *err) {
  char *ready = calloc((size_t)g->n_values + 1, 1);
  if (!ready) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_status st = PARE_OK;
  for (int i = 0; i < g->n_values; i++) ready[i] = g->values[i].kind == PARE_VALUE_CONSTANT;
  for (int i = 0; i < g->n_inputs && st == PARE_OK; i++) {
    if (g->inputs[i] < 0 || g->inputs[i] >= g->n_values)
      st = pare_error_set(err, PARE_ERR_FORMAT, "graph input %d is out of range", i);
    else
      ready[g->inputs[i]] = 1;
  }
  for (int i = 0; i < g->n_nodes && st == PARE_OK; i++) {
    const pare_node *n = &g->nodes[i];
    for (int k = 0; k < n->n_inputs && st == PARE_OK; k++) {
      int v = n->inputs[k];
      if (v < -1 || v >= g->n_values)
        st = pare_error_set(err, PARE_ERR_FORMAT, "node %s (%s): input %d is out of range", n->name,
                            pare_op_name(n->op), k);
      else if (v >= 0 && !ready[v])
        st = pare_error_set(err, PARE_ERR_FORMAT,
                            "node %s (%s): input '%s' is used before it is produced", n->name,
                            pare_op_name(n->op), g->values[v].name);
    }
    for (int k = 0; k < n->n_outputs && st == PARE_OK; k++) {
      int v = n->outputs[k];
      if (v < -1 || v >= g->n_values)
        st = pare_error_set(err, PARE_ERR_FORMAT, "node %s (%s): output %d is out of range",
                            n->name, pare_op_name(n->op), k);
      else if (v >= 0 && ready[v])
        st = pare_error_set(err, PARE_ERR_FORMAT, "node %s (%s): output '%s' is produced twice",
                            n->name, pare_op_name(n->op), g->values[v].name);
      else if (v >= 0)
        ready[v] = 1;
    }
  }
  for (int i = 0; i < g->n_outputs && st == PARE_OK; i++) {
    int v = g->outputs[i];
    if (v < 0 || v >= g->n_values || !ready[v])
      st = pare_error_set(err, PARE_ERR_FORMAT, "graph output %d is never produced", i);
  }
  free(ready);
  return st;
}
