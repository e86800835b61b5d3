/* pare's graph IR: values (tensors) and nodes (ops) in topological order.
 *
 * A value has a dtype, a shape whose leading dimension may be dynamic (the
 * batch, chosen at run time: -1), optional constant data, quantization
 * parameters and a weight encoding. Encodings other than dense are filled in
 * by the compression passes (pruning, quantization, low rank); the IR
 * carries them from the start so that passes, the file format and the
 * executor agree on one description. */
#ifndef PARE_ENGINE_GRAPH_H
#define PARE_ENGINE_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "engine/core/core.h"

/* pare_dtype (public, in pare/pare.h): f32, f16, i64, i32, i8, u8, packed i4, bool. */
const char *pare_dtype_name(pare_dtype dt);
/* pare's dtype for an ONNX TensorProto.DataType number (UNDEFINED when
 * pare has none; double maps to f32, which pare narrows it to). */
pare_dtype pare_dtype_from_onnx(int32_t onnx_type);
/* Bytes for `count` elements (rounded up for packed types). */
size_t pare_dtype_bytes(pare_dtype dt, size_t count);

typedef enum pare_encoding_kind {
  PARE_ENC_DENSE = 0,
  PARE_ENC_CSR,          /* row pointers, column indices, values */
  PARE_ENC_BLOCK_SPARSE, /* nonzero blocks of block_rows × block_cols */
  PARE_ENC_NM,           /* n nonzeros in every m consecutive weights */
  PARE_ENC_LOWRANK,      /* W ≈ U·V, rank r: two factor values */
  PARE_ENC_CODEBOOK,     /* k-means shared weights: indices into a table */
} pare_encoding_kind;

typedef struct pare_encoding {
  pare_encoding_kind kind;
  int block_rows, block_cols; /* BLOCK_SPARSE */
  int n, m;                   /* NM */
  int rank;                   /* LOWRANK */
  int codebook_size;          /* CODEBOOK */
  int aux[2];                 /* values holding the second part (e.g. V, the table), or -1 */
} pare_encoding;

typedef struct pare_quant {
  int axis;            /* channel axis for per-channel parameters, -1 per tensor */
  int count;           /* number of (scale, zero point) pairs; 0 = not quantized */
  float *scale;        /* owned */
  int32_t *zero_point; /* owned */
} pare_quant;

typedef enum pare_value_kind {
  PARE_VALUE_ACTIVATION = 0, /* produced by a node or fed as a graph input */
  PARE_VALUE_CONSTANT,       /* initializer or folded constant: data != NULL */
} pare_value_kind;

typedef struct pare_value {
  char *name;
  pare_value_kind kind;
  pare_dtype dtype;
  int rank;                    /* -1: unknown */
  int64_t dims[PARE_MAX_RANK]; /* -1: dynamic */
  void *data;                  /* constants: owned, pare_dtype_bytes(dtype, numel) bytes */
  size_t nbytes;
  pare_quant quant;
  pare_encoding enc;
  int producer; /* node index, or -1 */
  int is_param; /* a trainable parameter (weights, biases) */
  int borrowed; /* data points into the graph's file mapping: not freed */
} pare_value;

typedef enum pare_op {
#define PARE_OP(id, onnx) PARE_OP_##id,
#include "engine/graph/ops.def"
#undef PARE_OP
  PARE_OP_COUNT
} pare_op;

/* 1 for the one-input elementwise ops that map each value alone (the
 * activations, Exp, Sqrt, Neg, Reciprocal, Shrink): the ones the
 * executor's pare_op_activation describes. */
int pare_op_is_unary_elementwise(pare_op op);

/* "Conv" for PARE_OP_CONV; NULL for unknown. */
const char *pare_op_name(pare_op op);
/* PARE_OP_COUNT when the ONNX op_type is not supported. */
pare_op pare_op_from_onnx(const char *op_type);

typedef enum pare_attr_type {
  PARE_ATTR_INT = 1,
  PARE_ATTR_FLOAT,
  PARE_ATTR_STRING,
  PARE_ATTR_INTS,
  PARE_ATTR_FLOATS,
  PARE_ATTR_TENSOR, /* index of a constant value */
} pare_attr_type;

typedef struct pare_attr {
  char *name;
  pare_attr_type type;
  int64_t i;
  float f;
  char *s;
  int64_t *ints; /* owned */
  float *floats; /* owned */
  int count;     /* elements in ints or floats */
} pare_attr;

typedef struct pare_node {
  char *name;
  pare_op op;
  int *inputs; /* value indices; -1 for an omitted optional input */
  int n_inputs;
  int *outputs;
  int n_outputs;
  pare_attr *attrs;
  int n_attrs;
} pare_node;

typedef struct pare_graph {
  pare_value *values;
  int n_values, cap_values;
  pare_node *nodes;
  int n_nodes, cap_nodes;
  int *inputs; /* value indices of the graph's inputs (not constants) */
  int n_inputs;
  int *outputs;
  int n_outputs;
  int opset; /* ONNX default-domain opset the model was written for */
  char *name;
  pare_error *err; /* where graph functions report; may be NULL */
  void *mapping;   /* the .pare file mapped read-only, or NULL */
  size_t mapping_size;
} pare_graph;

pare_graph *pare_graph_create(void);
void pare_graph_destroy(pare_graph *g);

/* Adds a value and returns its index, or -1 (out of memory). `name` is copied. */
int pare_graph_add_value(pare_graph *g, const char *name, pare_dtype dtype, int rank,
                         const int64_t *dims);
/* Index of the value of that name, or -1. */
int pare_graph_find_value(const pare_graph *g, const char *name);
/* The node that is the only reader of value v (v is no graph output and
 * feeds exactly one input slot of one node), or -1. */
int pare_graph_only_reader(const pare_graph *g, int v);
/* Makes value v a constant with a copy of `data` (or takes it when own != 0). */
pare_status pare_value_set_data(pare_value *v, void *data, size_t nbytes, int own);

/* Adds a node with room for its inputs/outputs and returns its index, or -1. */
int pare_graph_add_node(pare_graph *g, const char *name, pare_op op, int n_inputs, int n_outputs);
/* The same at position `at` (0..n_nodes), shifting the nodes after it and
 * the producers that point at them; returns `at`, or -1. The caller wires
 * the inputs and outputs (and sets the outputs' producer to `at`). */
int pare_graph_insert_node(pare_graph *g, int at, const char *name, pare_op op, int n_inputs,
                           int n_outputs);
/* Attributes: adding copies names, strings and arrays. */
pare_attr *pare_node_add_attr(pare_node *n, const char *name, pare_attr_type type);
const pare_attr *pare_node_attr(const pare_node *n, const char *name);
int64_t pare_node_attr_int(const pare_node *n, const char *name, int64_t fallback);
float pare_node_attr_float(const pare_node *n, const char *name, float fallback);
const char *pare_node_attr_string(const pare_node *n, const char *name, const char *fallback);
/* Ints of an INTS attribute (NULL and *count = 0 when absent). */
const int64_t *pare_node_attr_ints(const pare_node *n, const char *name, int *count);

/* Number of elements of a fully known shape; -1 when a dim is dynamic or
 * the product overflows. */
int64_t pare_shape_numel(int rank, const int64_t *dims);
int64_t pare_value_numel(const pare_value *v);

/* Removes nodes whose outputs reach no graph output, and values nothing
 * uses; keeps the topological order. PARE_ERR_NO_MEMORY (the graph left as
 * it was) when its bookkeeping cannot be allocated. */
pare_status pare_graph_remove_dead(pare_graph *g);

/* Checks that the graph is well formed (indices in range, every input
 * produced before use or constant or a graph input, one producer per
 * value). The error names the first offending node. */
pare_status pare_graph_validate(const pare_graph *g, pare_error *err);

#endif
