/* Writing and reading .pare files (layout in docs/format.md).
 *
 *   header (64 bytes): magic "PAREMDL\1", u32 version, u32 header size,
 *     u64 file size, u32 section count, u32 CRC-32 of header and section
 *     table, u64 section table offset, reserved
 *   section table: per section u32 kind, u32 CRC-32 of its bytes, u64
 *     offset, u64 size, u64 inflated size (version 3: nonzero when the
 *     section is stored as a zlib stream of that many bytes)
 *   sections: VALUES (the tensor table), GRAPH (nodes, inputs, outputs),
 *     DATA (weights; each tensor stored raw at a 64-byte aligned offset,
 *     the compressed forms packed after one another)
 * All little-endian. The loader maps the file and points constants into
 * the mapping, so weights are never copied.
 */
#define _DEFAULT_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/core/bytes.h"
#include "engine/io/pare_format.h"
#include "engine/io/sparse_storage.h"

typedef struct header {
  char magic[8];
  uint32_t version, header_size;
  uint64_t file_size;
  uint32_t section_count, crc;
  uint64_t table_offset;
  uint8_t reserved[24];
} header;
_Static_assert(sizeof(header) == 64, ".pare header layout");

typedef struct section {
  uint32_t kind, crc;
  uint64_t offset, size, inflated; /* inflated: 0 stored as is */
} section;
_Static_assert(sizeof(section) == 32, ".pare section layout");

enum { SECTION_VALUES = 1, SECTION_GRAPH = 2, SECTION_DATA = 3, SECTION_COUNT = 3 };

static uint32_t crc_of(const void *p, size_t n) {
  uLong c = crc32(0L, Z_NULL, 0);
  const unsigned char *b = p;
  while (n > 0) { /* zlib takes uInt lengths */
    uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
    c = crc32(c, b, chunk);
    b += chunk;
    n -= chunk;
  }
  return (uint32_t)c;
}

/* CRC of the header (with its crc field zero) followed by the table. */
static uint32_t header_crc(const header *h, const section *table) {
  header copy = *h;
  copy.crc = 0;
  uLong c = crc32(0L, Z_NULL, 0);
  c = crc32(c, (const Bytef *)&copy, sizeof copy);
  c = crc32(c, (const Bytef *)table, (uInt)(sizeof(section) * h->section_count));
  return (uint32_t)c;
}

/* ---- pare_writer -------------------------------------------------------- */

/* VALUES: the tensor table. */
static void write_values(pare_writer *w, const pare_graph *g, const uint64_t *data_offsets,
                         const size_t *stored, const uint8_t *storage) {
  pare_put_i32(w, g->n_values);
  for (int i = 0; i < g->n_values; i++) {
    const pare_value *v = &g->values[i];
    pare_put_str(w, v->name);
    pare_put_i32(w, v->kind);
    pare_put_i32(w, v->dtype);
    pare_put_i32(w, v->rank);
    for (int d = 0; d < (v->rank > 0 ? v->rank : 0); d++) pare_put_i64(w, v->dims[d]);
    pare_put_i32(w, v->is_param);
    pare_put_u64(w, v->kind == PARE_VALUE_CONSTANT ? data_offsets[i] : 0);
    pare_put_u64(w, v->kind == PARE_VALUE_CONSTANT ? stored[i] : 0);
    pare_put_i32(w, v->quant.axis);
    pare_put_i32(w, v->quant.count);
    for (int q = 0; q < v->quant.count; q++) {
      pare_put_f32(w, v->quant.scale[q]);
      pare_put_i32(w, v->quant.zero_point[q]);
    }
    const pare_encoding *e = &v->enc;
    int32_t enc[9] = {e->kind, e->block_rows,    e->block_cols, e->n,     e->m,
                      e->rank, e->codebook_size, e->aux[0],     e->aux[1]};
    for (int k = 0; k < 9; k++) pare_put_i32(w, enc[k]);
    pare_put_i32(w, storage[i]);
  }
}

/* GRAPH: name, opset, nodes, inputs and outputs. */
static void write_graph(pare_writer *w, const pare_graph *g) {
  pare_put_str(w, g->name);
  pare_put_i32(w, g->opset);
  pare_put_i32(w, g->n_nodes);
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    pare_put_str(w, n->name);
    pare_put_str(w, pare_op_name(n->op)); /* by name: op enums may be renumbered */
    pare_put_i32(w, n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++) pare_put_i32(w, n->inputs[k]);
    pare_put_i32(w, n->n_outputs);
    for (int k = 0; k < n->n_outputs; k++) pare_put_i32(w, n->outputs[k]);
    pare_put_i32(w, n->n_attrs);
    for (int k = 0; k < n->n_attrs; k++) {
      const pare_attr *a = &n->attrs[k];
      pare_put_str(w, a->name);
      pare_put_i32(w, a->type);
      pare_put_i64(w, a->i);
      pare_put_f32(w, a->f);
      pare_put_str(w, a->s);
      pare_put_i32(w, a->count);
      for (int j = 0; j < a->count; j++) {
        if (a->type == PARE_ATTR_INTS) pare_put_i64(w, a->ints[j]);
        if (a->type == PARE_ATTR_FLOATS) pare_put_f32(w, a->floats[j]);
      }
    }
  }
  pare_put_i32(w, g->n_inputs);
  for (int i = 0; i < g->n_inputs; i++) pare_put_i32(w, g->inputs[i]);
  pare_put_i32(w, g->n_outputs);
  for (int i = 0; i < g->n_outputs; i++) pare_put_i32(w, g->outputs[i]);
}

/* Replaces w's bytes by their zlib stream when that is smaller; returns
 * the original length then, 0 when w is kept as it is. Out of memory marks
 * w failed. */
static uint64_t deflate_section(pare_writer *w) {
  if (w->failed || w->len < 64) return 0;
  uLongf out_len = compressBound((uLong)w->len);
  unsigned char *out = malloc(out_len);
  if (!out) {
    w->failed = 1;
    return 0;
  }
  int rc = compress2(out, &out_len, w->buf, (uLong)w->len, 9);
  if (rc == Z_MEM_ERROR) w->failed = 1;
  if (rc != Z_OK || out_len >= w->len) {
    free(out);
    return 0;
  }
  uint64_t raw = w->len;
  free(w->buf);
  w->buf = out;
  w->len = out_len;
  return raw;
}

/* The bytes of section sec (stored at `bytes`): the file's own, or, for a
 * deflated one, its inflated copy in *owned (free it). Inflated sizes are
 * bounded by deflate's own ratio (1032:1) and the tensor cap. */
static pare_status section_bytes(const section *sec, const unsigned char *bytes, const char *name,
                                 const char *what, const unsigned char **out, size_t *out_size,
                                 unsigned char **owned, pare_error *err) {
  *owned = NULL;
  *out = bytes + sec->offset;
  *out_size = (size_t)sec->size;
  if (!sec->inflated) return PARE_OK;
  if (sec->inflated > 1032 * sec->size + 64 || sec->inflated > pare_max_tensor_bytes())
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: %s section claims %llu bytes inflated", what,
                          name, (unsigned long long)sec->inflated);
  unsigned char *buf = malloc((size_t)sec->inflated);
  if (!buf) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  uLongf len = (uLongf)sec->inflated;
  if (uncompress(buf, &len, bytes + sec->offset, (uLong)sec->size) != Z_OK ||
      len != sec->inflated) {
    free(buf);
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: %s section does not inflate", what, name);
  }
  *owned = buf;
  *out = buf;
  *out_size = (size_t)len;
  return PARE_OK;
}

static size_t align_up(size_t x) {
  return (x + PARE_FORMAT_ALIGN - 1) / PARE_FORMAT_ALIGN * PARE_FORMAT_ALIGN;
}

pare_status pare_format_write_buffer(const pare_graph *g, void **data, size_t *size,
                                     pare_error *err) {
  return pare_format_write_buffer_tables(g, 1, data, size, err);
}

pare_status pare_format_write_buffer_tables(const pare_graph *g, int deflate_tables, void **data,
                                            size_t *size, pare_error *err) {
  *data = NULL;
  *size = 0;
  uint64_t *offsets = calloc((size_t)g->n_values + 1, sizeof *offsets);
  size_t *stored = calloc((size_t)g->n_values + 1, sizeof *stored);
  uint8_t *storage = calloc((size_t)g->n_values + 1, 1);
  uint8_t **encoded = calloc((size_t)g->n_values + 1, sizeof(uint8_t *));
  pare_writer values = {0}, graph = {0};
  pare_status st = PARE_OK;
  unsigned char *buf = NULL;
  size_t data_size = 0;
  if (!offsets || !stored || !storage || !encoded) {
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    goto done;
  }
  for (int i = 0; i < g->n_values; i++) {
    if (g->values[i].kind != PARE_VALUE_CONSTANT) continue;
    int kind = pare_value_encode(&g->values[i], &encoded[i], &stored[i]);
    if (kind < 0) {
      st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      goto done;
    }
    storage[i] = (uint8_t)kind;
    /* Raw tensors are mapped in place: aligned. The others are decoded
     * into memory when loaded, so they need no alignment. */
    offsets[i] = kind == PARE_STORAGE_RAW ? align_up(data_size) : data_size;
    data_size = offsets[i] + stored[i];
  }
  write_values(&values, g, offsets, stored, storage);
  write_graph(&graph, g);
  /* The tables deflated where that is smaller (names and zeros pack well:
   * most of a small model's file besides its weights). */
  uint64_t values_raw = deflate_tables ? deflate_section(&values) : 0;
  uint64_t graph_raw = deflate_tables ? deflate_section(&graph) : 0;
  header h;
  section table[SECTION_COUNT];
  if (values.failed || graph.failed) {
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    goto done;
  }
  memset(&h, 0, sizeof h);
  memset(table, 0, sizeof table);
  memcpy(h.magic, PARE_FORMAT_MAGIC, 8);
  h.version = PARE_FORMAT_VERSION;
  h.header_size = sizeof h;
  h.section_count = SECTION_COUNT;
  h.table_offset = sizeof h;
  table[0] = (section){SECTION_VALUES, crc_of(values.buf, values.len), sizeof h + sizeof table,
                       values.len, values_raw};
  table[1] = (section){SECTION_GRAPH, crc_of(graph.buf, graph.len), table[0].offset + table[0].size,
                       graph.len, graph_raw};
  table[2] = (section){SECTION_DATA, 0, align_up(table[1].offset + table[1].size), data_size, 0};
  h.file_size = table[2].offset + data_size;
  buf = calloc(1, h.file_size);
  if (!buf) {
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory (%llu bytes)",
                        (unsigned long long)h.file_size);
    goto done;
  }
  memcpy(buf + table[0].offset, values.buf, values.len);
  memcpy(buf + table[1].offset, graph.buf, graph.len);
  for (int i = 0; i < g->n_values; i++) {
    const pare_value *v = &g->values[i];
    if (v->kind != PARE_VALUE_CONSTANT || !v->nbytes) continue;
    memcpy(buf + table[2].offset + offsets[i], encoded[i] ? encoded[i] : v->data, stored[i]);
  }
  table[2].crc = crc_of(buf + table[2].offset, data_size);
  h.crc = header_crc(&h, table);
  memcpy(buf, &h, sizeof h);
  memcpy(buf + sizeof h, table, sizeof table);
  *data = buf;
  *size = h.file_size;
done:
  for (int i = 0; encoded && i < g->n_values; i++) free(encoded[i]);
  free(encoded);
  free(offsets);
  free(stored);
  free(storage);
  free(values.buf);
  free(graph.buf);
  return st;
}

pare_status pare_format_save(const pare_graph *g, const char *path, pare_error *err) {
  void *buf;
  size_t size;
  pare_status st = pare_format_write_buffer(g, &buf, &size, err);
  if (st != PARE_OK) return st;
  st = pare_file_write_atomic(path, buf, size, err);
  free(buf);
  return st;
}

/* ---- pare_reader -------------------------------------------------------- */

/* A count that must fit in what is left of the buffer at `min_bytes` each. */
static int get_count(pare_reader *r, size_t min_bytes, int max) {
  int32_t n = pare_get_i32(r);
  if (r->failed || n < 0 || n > max || (size_t)n * min_bytes > r->left) {
    r->failed = 1;
    return 0;
  }
  return n;
}

/* The data of constant val: raw bytes (pointed into the mapping with
 * `borrow`, else copied) or sparse storage (decoded into owned memory). */
static pare_status read_constant(pare_value *val, const unsigned char *data, size_t data_size,
                                 uint64_t off, uint64_t nbytes, int storage, int borrow,
                                 size_t *decoded, const char *what, pare_error *err) {
  int64_t numel = pare_value_numel(val);
  /* Element counts whose byte size would wrap are refused with the rest. */
  if ((uint64_t)numel > SIZE_MAX / 8) numel = -1;
  size_t raw = numel < 0 ? 0 : pare_dtype_bytes(val->dtype, (size_t)numel);
  if (off > data_size || nbytes > data_size - off || numel < 0 ||
      (storage == PARE_STORAGE_RAW && raw != nbytes) ||
      (storage &
       ~(PARE_STORAGE_SPARSE | PARE_STORAGE_DEFLATE | PARE_STORAGE_CODEBOOK | PARE_STORAGE_CODED)))
    return pare_error_set(err, PARE_ERR_FORMAT,
                          "%s: tensor '%s' points outside the data section or has the wrong size",
                          what, val->name);
  if (storage != PARE_STORAGE_RAW) {
    /* A few stored bytes may stand for a large run of zeros: what the file
     * decodes to is capped, per tensor and in all. */
    size_t cap = pare_max_tensor_bytes();
    if (raw > cap || raw > cap - *decoded)
      return pare_error_set(err, PARE_ERR_FORMAT,
                            "%s: tensor '%s' decodes to %zu bytes, beyond the %zu-byte limit "
                            "(PARE_MAX_TENSOR_BYTES)",
                            what, val->name, raw, cap);
    *decoded += raw;
    void *dense = malloc(raw ? raw : 1);
    if (!dense) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    if (pare_value_decode(data + off, (size_t)nbytes, storage, val->dtype, (size_t)numel, dense)) {
      free(dense);
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: tensor '%s': corrupt compressed storage",
                            what, val->name);
    }
    if (pare_value_set_data(val, dense, raw, 1) != PARE_OK) {
      free(dense);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    return PARE_OK;
  }
  if (borrow) {
    val->data = (void *)(data + off);
    val->nbytes = (size_t)nbytes;
    val->kind = PARE_VALUE_CONSTANT;
    val->borrowed = 1;
  } else if (pare_value_set_data(val, (void *)(data + off), (size_t)nbytes, 0) != PARE_OK) {
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  return PARE_OK;
}

/* VALUES. With `borrow`, constants point into `data` (a mapping the graph
 * keeps) instead of being copied. */
static pare_status read_values(pare_reader *r, pare_graph *g, const unsigned char *data,
                               size_t data_size, int borrow, uint32_t version, const char *what,
                               pare_error *err) {
  int nv = get_count(r, 40, 1 << 24);
  size_t decoded = 0;
  for (int i = 0; i < nv && !r->failed; i++) {
    char *name = pare_get_str(r);
    int kind = pare_get_i32(r), dtype = pare_get_i32(r), rank = pare_get_i32(r);
    int64_t dims[PARE_MAX_RANK] = {0};
    if (rank < -1 || rank > PARE_MAX_RANK || dtype < 0 || dtype >= PARE_DT_COUNT ||
        (kind != PARE_VALUE_ACTIVATION && kind != PARE_VALUE_CONSTANT)) {
      free(name);
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: value %d has a bad kind, dtype or rank",
                            what, i);
    }
    for (int d = 0; d < rank; d++) dims[d] = pare_get_i64(r);
    int v = pare_graph_add_value(g, name ? name : "", (pare_dtype)dtype, rank, dims);
    free(name);
    if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    pare_value *val = &g->values[v];
    val->is_param = pare_get_i32(r) != 0;
    uint64_t off = pare_get_u64(r), nbytes = pare_get_u64(r);
    val->kind = (pare_value_kind)kind;
    val->quant.axis = pare_get_i32(r);
    int qc = get_count(r, 8, 1 << 20);
    if (qc) {
      val->quant.scale = malloc(sizeof(float) * (size_t)qc);
      val->quant.zero_point = malloc(sizeof(int32_t) * (size_t)qc);
      if (!val->quant.scale || !val->quant.zero_point)
        return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      val->quant.count = qc;
      for (int q = 0; q < qc; q++) {
        val->quant.scale[q] = pare_get_f32(r);
        val->quant.zero_point[q] = pare_get_i32(r);
      }
    }
    pare_encoding *e = &val->enc;
    e->kind = (pare_encoding_kind)pare_get_i32(r);
    e->block_rows = pare_get_i32(r);
    e->block_cols = pare_get_i32(r);
    e->n = pare_get_i32(r);
    e->m = pare_get_i32(r);
    e->rank = pare_get_i32(r);
    e->codebook_size = pare_get_i32(r);
    e->aux[0] = pare_get_i32(r);
    e->aux[1] = pare_get_i32(r);
    if (e->kind < PARE_ENC_DENSE || e->kind > PARE_ENC_CODEBOOK || e->aux[0] < -1 ||
        e->aux[0] >= nv || e->aux[1] < -1 || e->aux[1] >= nv)
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' has a bad encoding", what,
                            val->name);
    int storage = version >= 2 ? pare_get_i32(r) : PARE_STORAGE_RAW;
    if (kind == PARE_VALUE_CONSTANT && !r->failed) {
      pare_status st =
          read_constant(val, data, data_size, off, nbytes, storage, borrow, &decoded, what, err);
      if (st != PARE_OK) return st;
    }
  }
  if (r->failed || r->left)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the tensor table is truncated or corrupt",
                          what);
  return PARE_OK;
}

/* GRAPH, after VALUES. */
static pare_status read_graph(pare_reader *r, pare_graph *g, const char *what, pare_error *err) {
  free(g->name);
  g->name = pare_get_str(r);
  g->opset = pare_get_i32(r);
  int nn = get_count(r, 24, 1 << 24);
  for (int i = 0; i < nn && !r->failed; i++) {
    char *name = pare_get_str(r), *op_name = pare_get_str(r);
    pare_op op = op_name ? pare_op_from_onnx(op_name) : PARE_OP_COUNT;
    if (op == PARE_OP_COUNT && !r->failed) {
      pare_status st =
          pare_error_set(err, PARE_ERR_UNSUPPORTED, "%s: node '%s' has unknown op '%s'", what,
                         name ? name : "", op_name ? op_name : "");
      free(name);
      free(op_name);
      return st;
    }
    free(op_name);
    int ni = get_count(r, 4, 4096);
    int32_t ins[4096];
    for (int k = 0; k < ni; k++) ins[k] = pare_get_i32(r);
    int no = get_count(r, 4, 4096);
    int idx = r->failed ? -1 : pare_graph_add_node(g, name ? name : "", op, ni, no);
    free(name);
    if (idx < 0) break;
    pare_node *n = &g->nodes[idx];
    for (int k = 0; k < ni; k++) n->inputs[k] = ins[k];
    for (int k = 0; k < no; k++) n->outputs[k] = pare_get_i32(r);
    int na = get_count(r, 24, 4096);
    for (int k = 0; k < na && !r->failed; k++) {
      char *an = pare_get_str(r);
      int type = pare_get_i32(r);
      pare_attr *a = an ? pare_node_add_attr(n, an, (pare_attr_type)type) : NULL;
      free(an);
      if (!a) {
        r->failed = 1;
        break;
      }
      a->i = pare_get_i64(r);
      a->f = pare_get_f32(r);
      a->s = pare_get_str(r);
      int cnt = get_count(r, 4, 1 << 20);
      if (type == PARE_ATTR_INTS) a->ints = malloc(sizeof(int64_t) * ((size_t)cnt + 1));
      if (type == PARE_ATTR_FLOATS) a->floats = malloc(sizeof(float) * ((size_t)cnt + 1));
      if ((type == PARE_ATTR_INTS && !a->ints) || (type == PARE_ATTR_FLOATS && !a->floats))
        return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      a->count = (type == PARE_ATTR_INTS || type == PARE_ATTR_FLOATS) ? cnt : 0;
      for (int j = 0; j < cnt && !r->failed; j++) {
        if (type == PARE_ATTR_INTS)
          a->ints[j] = pare_get_i64(r);
        else if (type == PARE_ATTR_FLOATS)
          a->floats[j] = pare_get_f32(r);
        else
          r->failed = 1;
      }
      if (type < PARE_ATTR_INT || type > PARE_ATTR_TENSOR ||
          (type == PARE_ATTR_TENSOR && (a->i < 0 || a->i >= g->n_values)))
        r->failed = 1;
    }
  }
  int nin = get_count(r, 4, 1 << 16);
  g->inputs = malloc(sizeof(int) * ((size_t)nin + 1));
  for (int i = 0; i < nin && g->inputs; i++) g->inputs[i] = pare_get_i32(r);
  g->n_inputs = g->inputs ? nin : 0;
  int nout = get_count(r, 4, 1 << 16);
  g->outputs = malloc(sizeof(int) * ((size_t)nout + 1));
  for (int i = 0; i < nout && g->outputs; i++) g->outputs[i] = pare_get_i32(r);
  g->n_outputs = g->outputs ? nout : 0;
  if (r->failed || r->left || !g->inputs || !g->outputs)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the graph description is truncated or corrupt",
                          what);
  for (int i = 0; i < g->n_inputs; i++)
    if (g->inputs[i] < 0 || g->inputs[i] >= g->n_values)
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: graph input %d is out of range", what, i);
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0 && g->nodes[i].outputs[o] < g->n_values)
        g->values[g->nodes[i].outputs[o]].producer = i;
  return pare_graph_validate(g, err);
}

int pare_format_is_pare(const void *data, size_t size) {
  return size >= 8 && memcmp(data, PARE_FORMAT_MAGIC, 8) == 0;
}

void pare_format_reseal(void *data, size_t size) {
  header h;
  section table[SECTION_COUNT];
  if (size < sizeof h + sizeof table) return;
  unsigned char *bytes = data;
  memcpy(&h, bytes, sizeof h);
  memcpy(table, bytes + sizeof h, sizeof table);
  if (h.section_count != SECTION_COUNT) return;
  for (int i = 0; i < SECTION_COUNT; i++)
    if (table[i].offset <= size && table[i].size <= size - table[i].offset)
      table[i].crc = crc_of(bytes + table[i].offset, (size_t)table[i].size);
  h.crc = header_crc(&h, table);
  memcpy(bytes, &h, sizeof h);
  memcpy(bytes + sizeof h, table, sizeof table);
}

/* Checks header, table and CRCs, then parses; see pare_format_read_buffer. */
static pare_status read_file_bytes(const void *data, size_t size, const char *what, int borrow,
                                   pare_graph **out, pare_error *err) {
  *out = NULL;
  header h;
  if (size < sizeof h || !pare_format_is_pare(data, size))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a .pare file (bad magic or too short)",
                          what);
  memcpy(&h, data, sizeof h);
  if (h.version < 1 || h.version > PARE_FORMAT_VERSION)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "%s: .pare format version %u, this pare reads 1 to %u", what, h.version,
                          PARE_FORMAT_VERSION);
  if (h.file_size != size)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: truncated (%zu bytes, the header says %llu)",
                          what, size, (unsigned long long)h.file_size);
  section table[SECTION_COUNT];
  if (h.header_size != sizeof h || h.section_count != SECTION_COUNT || h.table_offset != sizeof h ||
      sizeof h + sizeof table > size)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: bad header or section table", what);
  const unsigned char *bytes = data;
  memcpy(table, bytes + sizeof h, sizeof table);
  if (header_crc(&h, table) != h.crc)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: header CRC mismatch (the file is corrupt)",
                          what);
  static const char *names[] = {"", "VALUES", "GRAPH", "DATA"};
  for (int i = 0; i < SECTION_COUNT; i++) {
    const section *sec = &table[i];
    if (sec->kind != (uint32_t)(i + 1) || sec->offset > size || sec->size > size - sec->offset)
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: section %d is out of range", what, i);
    if (crc_of(bytes + sec->offset, (size_t)sec->size) != sec->crc)
      return pare_error_set(err, PARE_ERR_FORMAT,
                            "%s: %s section CRC mismatch (the file is "
                            "corrupt)",
                            what, names[i + 1]);
  }
  if (table[2].offset % PARE_FORMAT_ALIGN || table[0].offset != sizeof h + sizeof table ||
      table[1].offset != table[0].offset + table[0].size ||
      table[2].offset < table[1].offset + table[1].size || table[2].offset + table[2].size != size)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: sections are out of order", what);
  /* The alignment gap before DATA is covered by no CRC: it must be zero. */
  for (uint64_t i = table[1].offset + table[1].size; i < table[2].offset; i++)
    if (bytes[i])
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: nonzero padding before the data", what);
  if (h.version < 3 && (table[0].inflated || table[1].inflated || table[2].inflated))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: nonzero reserved section field", what);
  if (table[2].inflated)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the DATA section cannot be deflated", what);
  const unsigned char *vb, *gb;
  size_t vn, gn;
  unsigned char *vown = NULL, *gown = NULL;
  pare_status st = section_bytes(&table[0], bytes, "VALUES", what, &vb, &vn, &vown, err);
  if (st == PARE_OK) st = section_bytes(&table[1], bytes, "GRAPH", what, &gb, &gn, &gown, err);
  pare_graph *g = st == PARE_OK ? pare_graph_create() : NULL;
  if (st == PARE_OK && !g) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) {
    pare_reader rv = {vb, vn, 0};
    pare_reader rg = {gb, gn, 0};
    st = read_values(&rv, g, bytes + table[2].offset, (size_t)table[2].size, borrow, h.version,
                     what, err);
    if (st == PARE_OK) st = read_graph(&rg, g, what, err);
  }
  free(vown);
  free(gown);
  if (st != PARE_OK) {
    if (g) pare_graph_destroy(g);
    return st;
  }
  *out = g;
  return PARE_OK;
}

pare_status pare_format_read_buffer(const void *data, size_t size, const char *what,
                                    pare_graph **out, pare_error *err) {
  return read_file_bytes(data, size, what, 0, out, err);
}

pare_status pare_format_load(const char *path, pare_graph **out, pare_error *err) {
  *out = NULL;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return pare_error_set(err, PARE_ERR_IO, "%s: cannot open", path);
  struct stat stbuf;
  if (fstat(fd, &stbuf) != 0 || !S_ISREG(stbuf.st_mode) || stbuf.st_size <= 0) {
    close(fd);
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a regular, non-empty file", path);
  }
  size_t size = (size_t)stbuf.st_size;
  void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  close(fd);
  if (map == MAP_FAILED) {
    /* Some filesystems cannot map: read it instead. */
    void *data;
    pare_status st = pare_file_read(path, &data, &size, err);
    if (st != PARE_OK) return st;
    st = read_file_bytes(data, size, path, 0, out, err);
    free(data);
    return st;
  }
  pare_status st = read_file_bytes(map, size, path, 1, out, err);
  if (st != PARE_OK) {
    munmap(map, size);
    return st;
  }
  (*out)->mapping = map;
  (*out)->mapping_size = size;
  return PARE_OK;
}
