/* Memory planning of a plan's activations (exec.h): which values can share
 * a buffer, when each buffer is alive, and where it goes in one arena.
 *
 *   aliases   the output of a layout op (Reshape, Flatten, Squeeze,
 *             Unsqueeze, Identity, Dropout) is its input's buffer;
 *   in place  an elementwise op whose input's buffer dies at it writes its
 *             output over that buffer;
 *   lifetime  a buffer lives from the step that produces it (graph inputs:
 *             from the start) to its last reader (graph outputs: the end);
 *   placement the buffers, largest first, each at the lowest 64-byte
 *             aligned offset that overlaps no placed buffer alive at the
 *             same time (greedy by size).
 * The lower bound is the largest total of buffers alive at one step: no
 * placement of these lifetimes can use less.
 *
 * An executor that runs some nodes inside another's launch (fusion, an
 * integer layer taking its quantize/dequantize pair) gives each node the
 * span of steps [lo, hi] in which it may run: its outputs are then alive
 * from lo, its inputs until hi, and it writes over an input in place only
 * when it is that input's one reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/exec/exec.h"

enum { ALIGN = 64 };

static int is_alias(pare_op op) {
  return op == PARE_OP_RESHAPE || op == PARE_OP_FLATTEN || op == PARE_OP_SQUEEZE ||
         op == PARE_OP_UNSQUEEZE || op == PARE_OP_IDENTITY || op == PARE_OP_DROPOUT;
}

/* Ops that may write over their input: each output value depends on the
 * same input value only. */
static int is_elementwise(pare_op op) {
  return pare_op_is_unary_elementwise(op) || op == PARE_OP_BATCH_NORM;
}

typedef struct buffer {
  size_t size, offset;
  int first, last; /* steps (node indices); -1 = before the first node */
  int placed;
} buffer;

static size_t align_up(size_t x, size_t a) { return (x + a - 1) / a * a; }

/* 1 when buffer a goes before b: larger first, then earlier. */
static int before(const buffer *a, const buffer *b) {
  return a->size != b->size ? a->size > b->size : a->first < b->first;
}

/* Node i's span of steps: [lo, hi] as the options give it, else i alone. */
static int span_lo(const pare_memory_plan_opts *o, int i) { return o && o->lo ? o->lo[i] : i; }
static int span_hi(const pare_memory_plan_opts *o, int i) { return o && o->hi ? o->hi[i] : i; }

/* The number of nodes (not folded) that read value v. */
static int readers(const pare_plan *p, int v) {
  const pare_graph *g = p->graph;
  int count = 0;
  for (int i = 0; i < g->n_nodes; i++)
    for (int k = 0; !p->node_folded[i] && k < g->nodes[i].n_inputs; k++)
      if (g->nodes[i].inputs[k] == v) {
        count++;
        break;
      }
  return count;
}

pare_status pare_memory_plan_build(const pare_plan *p, pare_memory_plan *mp, pare_error *err) {
  return pare_memory_plan_build_ex(p, NULL, mp, err);
}

pare_status pare_memory_plan_build_ex(const pare_plan *p, const pare_memory_plan_opts *o,
                                      pare_memory_plan *mp, pare_error *err) {
  memset(mp, 0, sizeof *mp);
  const pare_graph *g = p->graph;
  int nv = p->n_values, nn = g->n_nodes;
  size_t align = o && o->align > ALIGN ? o->align : ALIGN;
  int *root = malloc(sizeof(int) * (size_t)(nv + 1)),
      *last_use = malloc(sizeof(int) * (size_t)(nv + 1));
  int *buf_of = malloc(sizeof(int) * (size_t)(nv + 1)), *order = NULL;
  buffer *bufs = calloc((size_t)nv + 1, sizeof(buffer));
  mp->offset = malloc(sizeof(size_t) * (size_t)(nv + 1));
  mp->buffer = malloc(sizeof(int) * (size_t)(nv + 1));
  mp->buffer_size = calloc((size_t)nv + 1, sizeof(size_t));
  mp->buffer_offset = calloc((size_t)nv + 1, sizeof(size_t));
  if (!root || !last_use || !buf_of || !bufs || !mp->offset || !mp->buffer || !mp->buffer_size ||
      !mp->buffer_offset) {
    free(root), free(last_use), free(buf_of), free(bufs);
    pare_memory_plan_free(mp);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  /* Activations: values not known at plan time. */
  for (int v = 0; v < nv; v++) {
    root[v] = p->values[v].is_const || (o && o->skip && o->skip[v]) ? -1 : v;
    last_use[v] = -2;
    mp->offset[v] = SIZE_MAX;
    mp->buffer[v] = -1;
  }
  for (int i = 0; i < nn; i++) {
    if (p->node_folded[i]) continue;
    for (int k = 0; k < g->nodes[i].n_inputs; k++) {
      int v = g->nodes[i].inputs[k];
      if (v >= 0 && v < nv && span_hi(o, i) > last_use[v]) last_use[v] = span_hi(o, i);
    }
  }
  for (int k = 0; k < g->n_outputs; k++) last_use[g->outputs[k]] = nn; /* read after the run */
  for (int v = 0; v < nv; v++) {
    if (root[v] < 0) continue;
    int64_t n = pare_tensor_numel(&p->values[v]);
    mp->naive += align_up(pare_dtype_bytes(p->values[v].dtype, (size_t)(n > 0 ? n : 0)), align);
  }
  /* Sharing, in node order (a root's lifetime grows with its members'). */
  for (int i = 0; i < nn; i++) {
    const pare_node *n = &g->nodes[i];
    if (p->node_folded[i] || n->n_inputs < 1 || n->n_outputs < 1) continue;
    int x = n->inputs[0], y = n->outputs[0];
    if (x < 0 || y < 0 || root[x] < 0 || root[y] < 0) continue;
    int rx = root[x];
    int64_t nx = pare_tensor_numel(&p->values[x]), ny = pare_tensor_numel(&p->values[y]);
    int same_size = nx == ny && p->values[x].dtype == p->values[y].dtype;
    int hi = span_hi(o, i);
    int x_dies_here = last_use[x] == hi && (span_lo(o, i) == hi || readers(p, x) == 1);
    for (int v = 0; v < nv && x_dies_here; v++) /* every member of x's buffer */
      if (root[v] == rx && last_use[v] > hi) x_dies_here = 0;
    if ((is_alias(n->op) && same_size) ||
        (is_elementwise(n->op) && same_size && x_dies_here && n->n_outputs == 1))
      root[y] = rx;
  }
  /* Buffers: one per root, alive over its members' span. */
  int nb = 0;
  for (int v = 0; v < nv; v++) buf_of[v] = -1;
  for (int v = 0; v < nv; v++) {
    if (root[v] < 0) continue;
    int r = root[v];
    if (buf_of[r] < 0) {
      buf_of[r] = nb;
      bufs[nb].first = nn + 1;
      bufs[nb].last = -1;
      nb++;
    }
    buffer *b = &bufs[buf_of[r]];
    int64_t n = pare_tensor_numel(&p->values[v]);
    size_t size = align_up(pare_dtype_bytes(p->values[v].dtype, (size_t)(n > 0 ? n : 0)), align);
    if (size > b->size) b->size = size;
    int first = p->values[v].is_const ? nn : -1, written = first; /* graph inputs: from the start */
    if (g->values[v].producer >= 0) {
      first = span_lo(o, g->values[v].producer);
      written = span_hi(o, g->values[v].producer);
    }
    if (first < b->first) b->first = first;
    if (last_use[v] > b->last) b->last = last_use[v];
    if (written > b->last) b->last = written; /* produced, never read: alive while written */
  }
  /* The lower bound: the most bytes alive at one step. */
  for (int t = -1; t <= nn; t++) {
    size_t live = 0;
    for (int b = 0; b < nb; b++)
      if (bufs[b].first <= t && t <= bufs[b].last) live += bufs[b].size;
    if (live > mp->lower_bound) mp->lower_bound = live;
  }
  /* Placement, largest first. */
  order = malloc(sizeof(int) * (size_t)(nb + 1));
  if (!order) {
    free(root), free(last_use), free(buf_of), free(bufs);
    pare_memory_plan_free(mp);
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  for (int b = 0; b < nb; b++) { /* insertion sort: buffers are few */
    int k = b;
    for (; k > 0 && before(&bufs[b], &bufs[order[k - 1]]); k--) order[k] = order[k - 1];
    order[k] = b;
  }
  for (int k = 0; k < nb; k++) {
    buffer *b = &bufs[order[k]];
    size_t at = 0;
    for (int moved = 1; moved;) { /* lowest offset clear of every overlapping placed buffer */
      moved = 0;
      for (int j = 0; j < nb; j++) {
        const buffer *c = &bufs[j];
        if (!c->placed || c->last < b->first || b->last < c->first) continue;
        if (at < c->offset + c->size && c->offset < at + b->size) {
          at = c->offset + c->size;
          moved = 1;
        }
      }
    }
    b->offset = at;
    b->placed = 1;
    if (at + b->size > mp->planned) mp->planned = at + b->size;
  }
  for (int v = 0; v < nv; v++)
    if (root[v] >= 0) {
      mp->buffer[v] = buf_of[root[v]];
      mp->offset[v] = bufs[buf_of[root[v]]].offset;
    }
  for (int b = 0; b < nb; b++) {
    mp->buffer_size[b] = bufs[b].size;
    mp->buffer_offset[b] = bufs[b].offset;
  }
  mp->n_buffers = nb;
  free(order);
  free(root);
  free(last_use);
  free(buf_of);
  free(bufs);
  return PARE_OK;
}

void pare_memory_plan_free(pare_memory_plan *mp) {
  free(mp->offset);
  free(mp->buffer);
  free(mp->buffer_size);
  free(mp->buffer_offset);
  mp->buffer_offset = NULL;
  mp->offset = NULL;
  mp->buffer = NULL;
  mp->buffer_size = NULL;
}
