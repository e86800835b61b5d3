/* Writing and reading .pare files.
 *
 * Layout (little-endian):
 *   header (64 bytes): magic "PAREMDL\1", u32 version, u32 header size,
 *     u64 file size, u64 meta offset, u64 meta size, u64 data offset,
 *     u64 data size, u64 FNV-1a of meta and data
 *   meta: the graph as a sequence of fields (see write_graph)
 *   data: constant tensors, each at a 64-byte aligned offset
 */
#include <stdlib.h>
#include <string.h>

#include "engine/io/pare_format.h"

typedef struct header {
  char magic[8];
  uint32_t version, header_size;
  uint64_t file_size, meta_offset, meta_size, data_offset, data_size, checksum;
} header;
_Static_assert(sizeof(header) == 64, ".pare header layout");

/* ---- writer -------------------------------------------------------- */

typedef struct writer {
  unsigned char *buf;
  size_t len, cap;
  int failed;
} writer;

static void put(writer *w, const void *p, size_t n) {
  if (w->failed) return;
  if (w->len + n > w->cap) {
    size_t nc = w->cap ? w->cap * 2 : 4096;
    while (nc < w->len + n) nc *= 2;
    unsigned char *b = realloc(w->buf, nc);
    if (!b) {
      w->failed = 1;
      return;
    }
    w->buf = b;
    w->cap = nc;
  }
  if (n) memcpy(w->buf + w->len, p, n);
  w->len += n;
}

static void put_u32(writer *w, uint32_t v) { put(w, &v, 4); }
static void put_i32(writer *w, int32_t v) { put(w, &v, 4); }
static void put_i64(writer *w, int64_t v) { put(w, &v, 8); }
static void put_u64(writer *w, uint64_t v) { put(w, &v, 8); }
static void put_f32(writer *w, float v) { put(w, &v, 4); }
static void put_str(writer *w, const char *s) {
  uint32_t n = (uint32_t)(s ? strlen(s) : 0);
  put_u32(w, n);
  put(w, s, n);
}

static void write_graph(writer *w, const pare_graph *g, const uint64_t *data_offsets) {
  put_str(w, g->name);
  put_i32(w, g->opset);
  put_i32(w, g->n_values);
  for (int i = 0; i < g->n_values; i++) {
    const pare_value *v = &g->values[i];
    put_str(w, v->name);
    put_i32(w, v->kind);
    put_i32(w, v->dtype);
    put_i32(w, v->rank);
    for (int d = 0; d < (v->rank > 0 ? v->rank : 0); d++) put_i64(w, v->dims[d]);
    put_i32(w, v->is_param);
    put_u64(w, v->kind == PARE_VALUE_CONSTANT ? data_offsets[i] : 0);
    put_u64(w, v->kind == PARE_VALUE_CONSTANT ? v->nbytes : 0);
    put_i32(w, v->quant.axis);
    put_i32(w, v->quant.count);
    for (int q = 0; q < v->quant.count; q++) {
      put_f32(w, v->quant.scale[q]);
      put_i32(w, v->quant.zero_point[q]);
    }
    const pare_encoding *e = &v->enc;
    int32_t enc[9] = {e->kind, e->block_rows,    e->block_cols, e->n,     e->m,
                      e->rank, e->codebook_size, e->aux[0],     e->aux[1]};
    for (int k = 0; k < 9; k++) put_i32(w, enc[k]);
  }
  put_i32(w, g->n_nodes);
  for (int i = 0; i < g->n_nodes; i++) {
    const pare_node *n = &g->nodes[i];
    put_str(w, n->name);
    put_str(w, pare_op_name(n->op)); /* by name: op enums may be renumbered */
    put_i32(w, n->n_inputs);
    for (int k = 0; k < n->n_inputs; k++) put_i32(w, n->inputs[k]);
    put_i32(w, n->n_outputs);
    for (int k = 0; k < n->n_outputs; k++) put_i32(w, n->outputs[k]);
    put_i32(w, n->n_attrs);
    for (int k = 0; k < n->n_attrs; k++) {
      const pare_attr *a = &n->attrs[k];
      put_str(w, a->name);
      put_i32(w, a->type);
      put_i64(w, a->i);
      put_f32(w, a->f);
      put_str(w, a->s);
      put_i32(w, a->count);
      for (int j = 0; j < a->count; j++) {
        if (a->type == PARE_ATTR_INTS) put_i64(w, a->ints[j]);
        if (a->type == PARE_ATTR_FLOATS) put_f32(w, a->floats[j]);
      }
    }
  }
  put_i32(w, g->n_inputs);
  for (int i = 0; i < g->n_inputs; i++) put_i32(w, g->inputs[i]);
  put_i32(w, g->n_outputs);
  for (int i = 0; i < g->n_outputs; i++) put_i32(w, g->outputs[i]);
}

static size_t align_up(size_t x) {
  return (x + PARE_FORMAT_ALIGN - 1) / PARE_FORMAT_ALIGN * PARE_FORMAT_ALIGN;
}

pare_status pare_format_write_buffer(const pare_graph *g, void **data, size_t *size,
                                     pare_error *err) {
  *data = NULL;
  *size = 0;
  uint64_t *offsets = calloc((size_t)g->n_values + 1, sizeof *offsets);
  if (!offsets) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  size_t data_size = 0;
  for (int i = 0; i < g->n_values; i++) {
    if (g->values[i].kind != PARE_VALUE_CONSTANT) continue;
    offsets[i] = data_size;
    data_size = align_up(data_size + g->values[i].nbytes);
  }
  writer meta = {0};
  write_graph(&meta, g, offsets);
  if (meta.failed) {
    free(offsets);
    free(meta.buf);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  header h;
  memset(&h, 0, sizeof h);
  memcpy(h.magic, PARE_FORMAT_MAGIC, 8);
  h.version = PARE_FORMAT_VERSION;
  h.header_size = sizeof h;
  h.meta_offset = sizeof h;
  h.meta_size = meta.len;
  h.data_offset = align_up(sizeof h + meta.len);
  h.data_size = data_size;
  h.file_size = h.data_offset + data_size;
  unsigned char *buf = calloc(1, h.file_size);
  if (!buf) {
    free(offsets);
    free(meta.buf);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory (%llu bytes)",
                          (unsigned long long)h.file_size);
  }
  memcpy(buf + h.meta_offset, meta.buf, meta.len);
  for (int i = 0; i < g->n_values; i++)
    if (g->values[i].kind == PARE_VALUE_CONSTANT && g->values[i].nbytes)
      memcpy(buf + h.data_offset + offsets[i], g->values[i].data, g->values[i].nbytes);
  h.checksum = pare_hash64(buf + sizeof h, h.file_size - sizeof h, PARE_HASH_SEED);
  memcpy(buf, &h, sizeof h);
  free(offsets);
  free(meta.buf);
  *data = buf;
  *size = h.file_size;
  return PARE_OK;
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

/* ---- reader -------------------------------------------------------- */

typedef struct reader {
  const unsigned char *p;
  size_t left;
  int failed;
} reader;

static void get(reader *r, void *dst, size_t n) {
  if (r->failed || n > r->left) {
    r->failed = 1;
    memset(dst, 0, n);
    return;
  }
  memcpy(dst, r->p, n);
  r->p += n;
  r->left -= n;
}

static int32_t get_i32(reader *r) {
  int32_t v;
  get(r, &v, 4);
  return v;
}
static int64_t get_i64(reader *r) {
  int64_t v;
  get(r, &v, 8);
  return v;
}
static uint64_t get_u64(reader *r) {
  uint64_t v;
  get(r, &v, 8);
  return v;
}
static float get_f32(reader *r) {
  float v;
  get(r, &v, 4);
  return v;
}
/* A malloc'ed NUL-terminated string. */
static char *get_str(reader *r) {
  uint32_t n;
  get(r, &n, 4);
  if (r->failed || n > r->left) {
    r->failed = 1;
    return NULL;
  }
  char *s = malloc((size_t)n + 1);
  if (!s) {
    r->failed = 1;
    return NULL;
  }
  get(r, s, n);
  s[n] = '\0';
  return s;
}

/* A count that must fit in what is left of the buffer at `min_bytes` each. */
static int get_count(reader *r, size_t min_bytes, int max) {
  int32_t n = get_i32(r);
  if (r->failed || n < 0 || n > max || (size_t)n * min_bytes > r->left) {
    r->failed = 1;
    return 0;
  }
  return n;
}

static pare_status read_graph(reader *r, pare_graph *g, const unsigned char *data, size_t data_size,
                              const char *what, pare_error *err) {
  free(g->name);
  g->name = get_str(r);
  g->opset = get_i32(r);
  int nv = get_count(r, 40, 1 << 24);
  for (int i = 0; i < nv && !r->failed; i++) {
    char *name = get_str(r);
    int kind = get_i32(r), dtype = get_i32(r), rank = get_i32(r);
    int64_t dims[PARE_MAX_RANK] = {0};
    if (rank < -1 || rank > PARE_MAX_RANK || dtype < 0 || dtype >= PARE_DT_COUNT ||
        (kind != PARE_VALUE_ACTIVATION && kind != PARE_VALUE_CONSTANT)) {
      free(name);
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: value %d has a bad kind, dtype or rank",
                            what, i);
    }
    for (int d = 0; d < rank; d++) dims[d] = get_i64(r);
    int v = pare_graph_add_value(g, name ? name : "", (pare_dtype)dtype, rank, dims);
    free(name);
    if (v < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    pare_value *val = &g->values[v];
    val->is_param = get_i32(r) != 0;
    uint64_t off = get_u64(r), nbytes = get_u64(r);
    if (kind == PARE_VALUE_CONSTANT) {
      int64_t numel = pare_shape_numel(rank, dims);
      if (off > data_size || nbytes > data_size - off || numel < 0 ||
          pare_dtype_bytes((pare_dtype)dtype, (size_t)numel) != nbytes)
        return pare_error_set(err, PARE_ERR_FORMAT,
                              "%s: tensor '%s' points outside the data section or has the "
                              "wrong size",
                              what, val->name);
      if (pare_value_set_data(val, (void *)(data + off), (size_t)nbytes, 0) != PARE_OK)
        return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    val->quant.axis = get_i32(r);
    int qc = get_count(r, 8, 1 << 20);
    if (qc) {
      val->quant.scale = malloc(sizeof(float) * (size_t)qc);
      val->quant.zero_point = malloc(sizeof(int32_t) * (size_t)qc);
      if (!val->quant.scale || !val->quant.zero_point)
        return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      val->quant.count = qc;
      for (int q = 0; q < qc; q++) {
        val->quant.scale[q] = get_f32(r);
        val->quant.zero_point[q] = get_i32(r);
      }
    }
    pare_encoding *e = &val->enc;
    e->kind = (pare_encoding_kind)get_i32(r);
    e->block_rows = get_i32(r);
    e->block_cols = get_i32(r);
    e->n = get_i32(r);
    e->m = get_i32(r);
    e->rank = get_i32(r);
    e->codebook_size = get_i32(r);
    e->aux[0] = get_i32(r);
    e->aux[1] = get_i32(r);
    if (e->kind < PARE_ENC_DENSE || e->kind > PARE_ENC_CODEBOOK || e->aux[0] < -1 ||
        e->aux[0] >= nv || e->aux[1] < -1 || e->aux[1] >= nv)
      return pare_error_set(err, PARE_ERR_FORMAT, "%s: tensor '%s' has a bad encoding", what,
                            val->name);
  }
  int nn = get_count(r, 24, 1 << 24);
  for (int i = 0; i < nn && !r->failed; i++) {
    char *name = get_str(r), *op_name = get_str(r);
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
    for (int k = 0; k < ni; k++) ins[k] = get_i32(r);
    int no = get_count(r, 4, 4096);
    int idx = r->failed ? -1 : pare_graph_add_node(g, name ? name : "", op, ni, no);
    free(name);
    if (idx < 0) break;
    pare_node *n = &g->nodes[idx];
    for (int k = 0; k < ni; k++) n->inputs[k] = ins[k];
    for (int k = 0; k < no; k++) n->outputs[k] = get_i32(r);
    int na = get_count(r, 24, 4096);
    for (int k = 0; k < na && !r->failed; k++) {
      char *an = get_str(r);
      int type = get_i32(r);
      pare_attr *a = an ? pare_node_add_attr(n, an, (pare_attr_type)type) : NULL;
      free(an);
      if (!a) {
        r->failed = 1;
        break;
      }
      a->i = get_i64(r);
      a->f = get_f32(r);
      a->s = get_str(r);
      int cnt = get_count(r, 4, 1 << 20);
      if (type == PARE_ATTR_INTS) a->ints = malloc(sizeof(int64_t) * ((size_t)cnt + 1));
      if (type == PARE_ATTR_FLOATS) a->floats = malloc(sizeof(float) * ((size_t)cnt + 1));
      if ((type == PARE_ATTR_INTS && !a->ints) || (type == PARE_ATTR_FLOATS && !a->floats))
        return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      a->count = (type == PARE_ATTR_INTS || type == PARE_ATTR_FLOATS) ? cnt : 0;
      for (int j = 0; j < cnt && !r->failed; j++) {
        if (type == PARE_ATTR_INTS)
          a->ints[j] = get_i64(r);
        else if (type == PARE_ATTR_FLOATS)
          a->floats[j] = get_f32(r);
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
  for (int i = 0; i < nin && g->inputs; i++) g->inputs[i] = get_i32(r);
  g->n_inputs = g->inputs ? nin : 0;
  int nout = get_count(r, 4, 1 << 16);
  g->outputs = malloc(sizeof(int) * ((size_t)nout + 1));
  for (int i = 0; i < nout && g->outputs; i++) g->outputs[i] = get_i32(r);
  g->n_outputs = g->outputs ? nout : 0;
  if (r->failed || !g->inputs || !g->outputs)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: the graph description is truncated or corrupt",
                          what);
  for (int i = 0; i < g->n_nodes; i++)
    for (int o = 0; o < g->nodes[i].n_outputs; o++)
      if (g->nodes[i].outputs[o] >= 0 && g->nodes[i].outputs[o] < g->n_values)
        g->values[g->nodes[i].outputs[o]].producer = i;
  return pare_graph_validate(g, err);
}

int pare_format_is_pare(const void *data, size_t size) {
  return size >= 8 && memcmp(data, PARE_FORMAT_MAGIC, 8) == 0;
}

pare_status pare_format_read_buffer(const void *data, size_t size, const char *what,
                                    pare_graph **out, pare_error *err) {
  *out = NULL;
  header h;
  if (size < sizeof h || !pare_format_is_pare(data, size))
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: not a .pare file (bad magic or too short)",
                          what);
  memcpy(&h, data, sizeof h);
  if (h.version != PARE_FORMAT_VERSION)
    return pare_error_set(err, PARE_ERR_UNSUPPORTED,
                          "%s: .pare format version %u, this pare reads %u", what, h.version,
                          PARE_FORMAT_VERSION);
  if (h.file_size != size)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: truncated (%zu bytes, the header says %llu)",
                          what, size, (unsigned long long)h.file_size);
  if (h.header_size != sizeof h || h.meta_offset < sizeof h || h.meta_offset > size ||
      h.meta_size > size - h.meta_offset || h.data_offset > size ||
      h.data_size > size - h.data_offset)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: section offsets are out of range", what);
  const unsigned char *bytes = data;
  if (pare_hash64(bytes + sizeof h, size - sizeof h, PARE_HASH_SEED) != h.checksum)
    return pare_error_set(err, PARE_ERR_FORMAT, "%s: checksum mismatch (the file is corrupt)",
                          what);
  pare_graph *g = pare_graph_create();
  if (!g) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  reader r = {bytes + h.meta_offset, (size_t)h.meta_size, 0};
  pare_status st = read_graph(&r, g, bytes + h.data_offset, (size_t)h.data_size, what, err);
  if (st != PARE_OK) {
    pare_graph_destroy(g);
    return st;
  }
  *out = g;
  return PARE_OK;
}

pare_status pare_format_load(const char *path, pare_graph **out, pare_error *err) {
  void *data;
  size_t size;
  pare_status st = pare_file_read(path, &data, &size, err);
  if (st != PARE_OK) return st;
  st = pare_format_read_buffer(data, size, path, out, err);
  free(data);
  return st;
}
