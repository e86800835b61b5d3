/* Low-rank factorization of Gemm, MatMul and Conv weights. Each factored
 * node becomes two nodes inserted in its place (the first writes a new
 * intermediate value, the second the node's own output); the old node is
 * left without readers and removed with its weight by pare_graph_remove_dead.
 *
 * The matrix factored, with W in the node's own layout:
 *   Gemm (transB 1: W [N, K]; transB 0: W [K, N], transposed first) and
 *   MatMul (W [K, N], transposed first): M = W_out×in [N, K];
 *   Conv, channel SVD: M = W [Cout, Cin·kh·kw];
 *   Conv, spatial SVD: M[(c, i), (m, j)] = W[m, c, i, j], [Cin·kh, Cout·kw].
 * With M ≈ L·R, L = U_r·√Σ_r and R = √Σ_r·V_rᵀ, the first layer applies R
 * and the second L. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/compress/lowrank.h"
#include "engine/exec/exec.h"
#include "engine/io/pare_format.h"
#include "engine/ref/svd.h"

void pare_lowrank_options_init(pare_lowrank_options *o) {
  memset(o, 0, sizeof *o);
  o->rule = PARE_LOWRANK_ENERGY;
  o->value = 0.9;
  o->conv = PARE_LOWRANK_CONV_CHANNEL;
}

int64_t pare_lowrank_choose_rank(const pare_lowrank_options *o, const float *s, int64_t k,
                                 int64_t per_rank, int64_t params) {
  int64_t r = 0;
  if (k <= 0) return 0;
  switch (o->rule) {
  case PARE_LOWRANK_ENERGY: {
    double total = 0, kept = 0;
    for (int64_t i = 0; i < k; i++) total += (double)s[i] * s[i];
    if (total <= 0) return 1;
    for (r = 0; r < k && kept < o->value * total; r++) kept += (double)s[r] * s[r];
    break;
  }
  case PARE_LOWRANK_RATIO:
    r = per_rank > 0 ? (int64_t)floor(o->value * (double)params / (double)per_rank) : k;
    break;
  case PARE_LOWRANK_RANK: r = (int64_t)o->value; break;
  case PARE_LOWRANK_AUTO: r = k; break; /* chosen by the scan */
  }
  return r < 1 ? 1 : r > k ? k : r;
}

static pare_status reference_svd(void *user, size_t m, size_t n, const float *a, float *u, float *s,
                                 float *vt, pare_error *err) {
  (void)user;
  pare_svd_params p;
  pare_svd_params_init(&p);
  int rc = pare_ref_svd_f32(m, n, a, u, s, vt, &p);
  if (rc == PARE_REF_SVD_OK) return PARE_OK;
  return rc == PARE_REF_SVD_ENOMEM
             ? pare_error_set(err, PARE_ERR_NO_MEMORY, "SVD of a %zux%zu matrix: out of memory", m,
                              n)
             : pare_error_set(err, PARE_ERR_INVALID_ARG,
                              "SVD of a %zux%zu matrix: the weights are not finite", m, n);
}

/* A constant f32 value of the given shape holding data (taken over). */
static int new_weight(pare_graph *g, const char *base, const char *suffix, int rank,
                      const int64_t *dims, float *data, int is_param) {
  char name[256];
  snprintf(name, sizeof name, "%s.%s", base, suffix);
  int v = pare_graph_add_value(g, name, PARE_DT_F32, rank, dims);
  if (v < 0) {
    free(data);
    return -1;
  }
  size_t bytes = sizeof(float) * (size_t)pare_shape_numel(rank, dims);
  if (pare_value_set_data(&g->values[v], data, bytes, 1) != PARE_OK) {
    free(data);
    return -1;
  }
  g->values[v].is_param = is_param;
  return v;
}

static int set_ints(pare_node *n, const char *name, const int64_t *v, int count) {
  pare_attr *a = pare_node_add_attr(n, name, PARE_ATTR_INTS);
  if (!a || !(a->ints = malloc(sizeof(int64_t) * (size_t)count))) return 0;
  memcpy(a->ints, v, sizeof(int64_t) * (size_t)count);
  a->count = count;
  return 1;
}

static int copy_attr(pare_node *dst, const pare_attr *src) {
  pare_attr *a = pare_node_add_attr(dst, src->name, src->type);
  if (!a) return 0;
  a->i = src->i;
  a->f = src->f;
  a->count = src->count;
  if (src->s) {
    size_t len = strlen(src->s) + 1;
    if (!(a->s = malloc(len))) return 0;
    memcpy(a->s, src->s, len);
  }
  if (src->ints) {
    if (!(a->ints = malloc(sizeof(int64_t) * (size_t)(src->count ? src->count : 1)))) return 0;
    memcpy(a->ints, src->ints, sizeof(int64_t) * (size_t)src->count);
  }
  if (src->floats) {
    if (!(a->floats = malloc(sizeof(float) * (size_t)(src->count ? src->count : 1)))) return 0;
    memcpy(a->floats, src->floats, sizeof(float) * (size_t)src->count);
  }
  return 1;
}

/* What node i factors into: the matrix, its shape, and how the two layers
 * are laid out. */
typedef struct candidate {
  const float *unwhiten; /* S⁻¹ [cols×cols] of a data-aware factoring, or NULL */
  int node, weight, bias;
  int64_t rows, cols; /* the matrix */
  int64_t per_rank;   /* parameters of both factors per unit of rank */
  int64_t params;     /* parameters of W */
  int spatial;
} candidate;

static const char *eligible(const pare_graph *g, int i, const pare_lowrank_options *o,
                            candidate *c) {
  const pare_node *n = &g->nodes[i];
  memset(c, 0, sizeof *c);
  c->node = i;
  c->bias = -1;
  if (n->n_inputs < 2 || n->inputs[1] < 0 || n->n_outputs < 1 || n->outputs[0] < 0)
    return "no weight";
  const pare_value *w = &g->values[n->inputs[1]];
  if (w->kind != PARE_VALUE_CONSTANT || w->dtype != PARE_DT_F32 || !w->data)
    return "the weight is not a constant fp32 tensor";
  c->weight = n->inputs[1];
  c->params = pare_value_numel(w);
  if (n->op == PARE_OP_GEMM || n->op == PARE_OP_MATMUL) {
    if (w->rank != 2) return "the weight is not 2-D";
    int tb = n->op == PARE_OP_GEMM && pare_node_attr_int(n, "transB", 0);
    c->rows = tb ? w->dims[0] : w->dims[1]; /* outputs */
    c->cols = tb ? w->dims[1] : w->dims[0]; /* inputs */
    if (n->op == PARE_OP_GEMM && n->n_inputs > 2) c->bias = n->inputs[2];
  } else if (n->op == PARE_OP_CONV) {
    if (o->conv == PARE_LOWRANK_CONV_SKIP) return "convolutions are left alone";
    if (w->rank != 4) return "not a 2-D convolution";
    if (pare_node_attr_int(n, "group", 1) != 1) return "grouped convolution";
    c->spatial = o->conv == PARE_LOWRANK_CONV_SPATIAL;
    const char *pad = pare_node_attr_string(n, "auto_pad", "NOTSET");
    if (c->spatial && strcmp(pad, "NOTSET") && strcmp(pad, "VALID"))
      return "spatial SVD needs explicit pads";
    if (c->spatial && (w->dims[2] < 2 || w->dims[3] < 2)) return "spatial SVD needs a k×k kernel";
    c->rows = c->spatial ? w->dims[1] * w->dims[2] : w->dims[0];
    c->cols = c->spatial ? w->dims[0] * w->dims[3] : w->dims[1] * w->dims[2] * w->dims[3];
    if (n->n_inputs > 2) c->bias = n->inputs[2];
  } else {
    return "not Gemm, MatMul or Conv";
  }
  c->per_rank = c->rows + c->cols;
  if (c->rows < 2 || c->cols < 2) return "a vector";
  return NULL;
}

/* The matrix of candidate c, row-major [rows×cols]. */
static float *matrix_of(const pare_graph *g, const candidate *c) {
  const pare_node *n = &g->nodes[c->node];
  const pare_value *w = &g->values[c->weight];
  const float *src = w->data;
  float *m = malloc(sizeof(float) * (size_t)(c->rows * c->cols));
  if (!m) return NULL;
  if (n->op == PARE_OP_CONV && c->spatial) { /* [(c, i), (m, j)] */
    int64_t M = w->dims[0], C = w->dims[1], KH = w->dims[2], KW = w->dims[3];
    for (int64_t mo = 0; mo < M; mo++)
      for (int64_t ci = 0; ci < C; ci++)
        for (int64_t i = 0; i < KH; i++)
          for (int64_t j = 0; j < KW; j++)
            m[(ci * KH + i) * (M * KW) + mo * KW + j] = src[((mo * C + ci) * KH + i) * KW + j];
  } else if (n->op == PARE_OP_CONV ||
             (n->op == PARE_OP_GEMM && pare_node_attr_int(n, "transB", 0))) {
    memcpy(m, src, sizeof(float) * (size_t)(c->rows * c->cols));
  } else { /* [K, N] stored: transpose into [N, K] */
    for (int64_t r = 0; r < c->rows; r++)
      for (int64_t k = 0; k < c->cols; k++) m[r * c->cols + k] = src[k * c->rows + r];
  }
  return m;
}

/* Inserts the two layers for candidate c with factors left [rows×r] and
 * right [r×cols] (both taken over). */
static pare_status rewrite(pare_graph *g, const candidate *c, int64_t r, float *left, float *right,
                           pare_error *err) {
  int i = c->node;
  char base[200];
  snprintf(base, sizeof base, "%s", g->nodes[i].name ? g->nodes[i].name : "node");
  pare_op op = g->nodes[i].op;
  int is_param = g->values[c->weight].is_param;
  int x = g->nodes[i].inputs[0], y = g->nodes[i].outputs[0];
  int wa = -1, wb = -1;
  const pare_value *w = &g->values[c->weight];
  int64_t M = w->dims[0], C = w->rank == 4 ? w->dims[1] : 0;
  int64_t KH = w->rank == 4 ? w->dims[2] : 0, KW = w->rank == 4 ? w->dims[3] : 0;
  if (op == PARE_OP_GEMM) { /* both transB 1: A [r, K], B [N, r] */
    int64_t da[2] = {r, c->cols}, db[2] = {c->rows, r};
    wa = new_weight(g, base, "lowrank_a", 2, da, right, is_param);
    wb = new_weight(g, base, "lowrank_b", 2, db, left, is_param);
  } else if (op == PARE_OP_MATMUL) { /* A [K, r] = rightᵀ, B [r, N] = leftᵀ */
    float *ra = malloc(sizeof(float) * (size_t)(r * c->cols));
    float *lb = malloc(sizeof(float) * (size_t)(r * c->rows));
    if (ra && lb) {
      for (int64_t k = 0; k < r; k++)
        for (int64_t j = 0; j < c->cols; j++) ra[j * r + k] = right[k * c->cols + j];
      for (int64_t q = 0; q < c->rows; q++)
        for (int64_t k = 0; k < r; k++) lb[k * c->rows + q] = left[q * r + k];
    }
    free(left);
    free(right);
    if (!ra || !lb) {
      free(ra);
      free(lb);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    int64_t da[2] = {c->cols, r}, db[2] = {r, c->rows};
    wa = new_weight(g, base, "lowrank_a", 2, da, ra, is_param);
    wb = new_weight(g, base, "lowrank_b", 2, db, lb, is_param);
  } else if (!c->spatial) { /* A [r, C, KH, KW] = right, B [M, r, 1, 1] = left */
    int64_t da[4] = {r, C, KH, KW}, db[4] = {M, r, 1, 1};
    wa = new_weight(g, base, "lowrank_a", 4, da, right, is_param);
    wb = new_weight(g, base, "lowrank_b", 4, db, left, is_param);
  } else { /* A [r, C, KH, 1] from left [(c, i), k]; B [M, r, 1, KW] from right [k, (m, j)] */
    float *va = malloc(sizeof(float) * (size_t)(r * C * KH));
    float *hb = malloc(sizeof(float) * (size_t)(M * r * KW));
    if (va && hb) {
      for (int64_t k = 0; k < r; k++)
        for (int64_t ci = 0; ci < C * KH; ci++) va[k * C * KH + ci] = left[ci * r + k];
      for (int64_t mo = 0; mo < M; mo++)
        for (int64_t k = 0; k < r; k++)
          for (int64_t j = 0; j < KW; j++)
            hb[(mo * r + k) * KW + j] = right[k * (M * KW) + mo * KW + j];
    }
    free(left);
    free(right);
    if (!va || !hb) {
      free(va);
      free(hb);
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    int64_t da[4] = {r, C, KH, 1}, db[4] = {M, r, 1, KW};
    wa = new_weight(g, base, "lowrank_a", 4, da, va, is_param);
    wb = new_weight(g, base, "lowrank_b", 4, db, hb, is_param);
  }
  char name[256];
  snprintf(name, sizeof name, "%s.lowrank_mid", base);
  int mid = wa >= 0 && wb >= 0 ? pare_graph_add_value(g, name, PARE_DT_F32, -1, NULL) : -1;
  snprintf(name, sizeof name, "%s.replaced", base);
  int dead = mid >= 0 ? pare_graph_add_value(g, name, PARE_DT_F32, -1, NULL) : -1;
  if (dead < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  int has_bias = c->bias >= 0;
  snprintf(name, sizeof name, "%s.lowrank_a", base);
  int na = pare_graph_insert_node(g, i, name, op, 2, 1);
  snprintf(name, sizeof name, "%s.lowrank_b", base);
  int nb = na >= 0 ? pare_graph_insert_node(g, i + 1, name, op, has_bias ? 3 : 2, 1) : -1;
  if (nb < 0) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  pare_node *old = &g->nodes[i + 2], *a = &g->nodes[i], *b = &g->nodes[i + 1];
  a->inputs[0] = x, a->inputs[1] = wa, a->outputs[0] = mid;
  b->inputs[0] = mid, b->inputs[1] = wb, b->outputs[0] = y;
  if (has_bias) b->inputs[2] = c->bias;
  old->outputs[0] = dead;
  g->values[mid].producer = i;
  g->values[y].producer = i + 1;
  g->values[dead].producer = i + 2;
  int ok = 1;
  if (op == PARE_OP_GEMM) {
    const pare_attr *ta = pare_node_attr(old, "transA"), *al = pare_node_attr(old, "alpha");
    const pare_attr *be = pare_node_attr(old, "beta");
    if (ta) ok &= copy_attr(a, ta);
    if (al) ok &= copy_attr(a, al);
    if (be) ok &= copy_attr(b, be);
    pare_attr *t1 = pare_node_add_attr(a, "transB", PARE_ATTR_INT);
    pare_attr *t2 = pare_node_add_attr(b, "transB", PARE_ATTR_INT);
    ok &= t1 && t2;
    if (ok) t1->i = t2->i = 1;
  } else if (op == PARE_OP_CONV && !c->spatial) {
    for (int k = 0; k < old->n_attrs; k++) ok &= copy_attr(a, &old->attrs[k]);
  } else if (op == PARE_OP_CONV) {
    int cnt;
    const int64_t *st = pare_node_attr_ints(old, "strides", &cnt);
    int64_t sh = st && cnt == 2 ? st[0] : 1, sw = st && cnt == 2 ? st[1] : 1;
    const int64_t *dl = pare_node_attr_ints(old, "dilations", &cnt);
    int64_t dh = dl && cnt == 2 ? dl[0] : 1, dw = dl && cnt == 2 ? dl[1] : 1;
    const int64_t *pd = pare_node_attr_ints(old, "pads", &cnt);
    int64_t pads[4] = {0, 0, 0, 0};
    if (pd && cnt == 4) memcpy(pads, pd, sizeof pads);
    int64_t a_k[2] = {KH, 1}, a_s[2] = {sh, 1}, a_d[2] = {dh, 1}, a_p[4] = {pads[0], 0, pads[2], 0};
    int64_t b_k[2] = {1, KW}, b_s[2] = {1, sw}, b_d[2] = {1, dw}, b_p[4] = {0, pads[1], 0, pads[3]};
    ok &= set_ints(a, "kernel_shape", a_k, 2) && set_ints(a, "strides", a_s, 2) &&
          set_ints(a, "dilations", a_d, 2) && set_ints(a, "pads", a_p, 4);
    ok &= set_ints(b, "kernel_shape", b_k, 2) && set_ints(b, "strides", b_s, 2) &&
          set_ints(b, "dilations", b_d, 2) && set_ints(b, "pads", b_p, 4);
  }
  return ok ? PARE_OK : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
}

/* Node i of g alone: its first input becomes the graph input, with the
 * shape `x` (concrete dims), the other inputs copies of g's constants.
 * NULL when another input is not a constant or memory runs out. */
static pare_graph *extract_layer(const pare_graph *g, int i, const pare_tensor *x) {
  const pare_node *n = &g->nodes[i];
  pare_graph *m = pare_graph_create();
  if (!m) return NULL;
  m->opset = g->opset;
  int ok = 1;
  int xin = pare_graph_add_value(m, "x", x->dtype, x->rank, x->dims);
  int y = pare_graph_add_value(m, "y", PARE_DT_UNDEFINED, -1, NULL);
  int k = xin >= 0 && y >= 0
              ? pare_graph_add_node(m, n->name ? n->name : "layer", n->op, n->n_inputs, 1)
              : -1;
  m->inputs = malloc(sizeof(int));
  m->outputs = malloc(sizeof(int));
  if (k < 0 || !m->inputs || !m->outputs) ok = 0;
  for (int j = 1; ok && j < n->n_inputs; j++) {
    int v = n->inputs[j];
    if (v < 0) continue;
    const pare_value *src = &g->values[v];
    if (src->kind != PARE_VALUE_CONSTANT || !src->data) {
      ok = 0;
      break;
    }
    int c = pare_graph_add_value(m, src->name ? src->name : "w", src->dtype, src->rank, src->dims);
    ok = c >= 0 && pare_value_set_data(&m->values[c], src->data, src->nbytes, 0) == PARE_OK;
    if (ok) m->values[c].is_param = src->is_param, m->nodes[k].inputs[j] = c;
  }
  for (int a = 0; ok && a < n->n_attrs; a++) ok = copy_attr(&m->nodes[k], &n->attrs[a]);
  if (!ok) {
    pare_graph_destroy(m);
    return NULL;
  }
  m->nodes[k].inputs[0] = xin;
  m->nodes[k].outputs[0] = y;
  m->values[y].producer = k;
  m->inputs[0] = xin, m->n_inputs = 1;
  m->outputs[0] = y, m->n_outputs = 1;
  return m;
}

/* Times candidate c alone and factored at rank r (factors copied). */
static pare_status time_both(const pare_graph *g, const candidate *c, const pare_lowrank_options *o,
                             int64_t r, const float *left, const float *right, double *before,
                             double *after, pare_error *err) {
  *before = *after = 0;
  int x = g->nodes[c->node].inputs[0];
  const pare_tensor *xs = &o->shapes->values[x];
  if (xs->rank < 1 || pare_tensor_numel(xs) < 0) return PARE_OK; /* shape unknown: no verdict */
  pare_graph *m = extract_layer(g, c->node, xs);
  if (!m) return PARE_OK;
  candidate mc;
  pare_status st = o->time(o->time_user, m, before, err);
  float *l = NULL, *rr = NULL;
  if (st == PARE_OK && !eligible(m, 0, o, &mc)) {
    l = malloc(sizeof(float) * (size_t)(c->rows * r));
    rr = malloc(sizeof(float) * (size_t)(r * c->cols));
    if (!l || !rr) {
      free(l);
      free(rr);
      st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    } else {
      memcpy(l, left, sizeof(float) * (size_t)(c->rows * r));
      memcpy(rr, right, sizeof(float) * (size_t)(r * c->cols));
      st = rewrite(m, &mc, r, l, rr, err);
      if (st == PARE_OK && pare_graph_remove_dead(m) != PARE_OK)
        st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
      if (st == PARE_OK) st = o->time(o->time_user, m, after, err);
    }
  }
  pare_graph_destroy(m);
  return st;
}

/* The energy ladder of the sensitivity scan, cheapest first. */
static const double scan_energies[] = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99};

/* left = U_r·√Σ_r [rows×r], right = √Σ_r·V_rᵀ [r×cols], from a thin SVD
 * with k singular values. */
static pare_status factors(const candidate *c, int64_t k, int64_t r, const float *u, const float *s,
                           const float *vt, float **left, float **right, pare_error *err) {
  *left = malloc(sizeof(float) * (size_t)(c->rows * r));
  *right = malloc(sizeof(float) * (size_t)(r * c->cols));
  if (!*left || !*right) {
    free(*left);
    free(*right);
    *left = *right = NULL;
    return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  }
  for (int64_t q = 0; q < c->rows; q++)
    for (int64_t t = 0; t < r; t++) (*left)[q * r + t] = u[q * k + t] * sqrtf(s[t]);
  for (int64_t t = 0; t < r; t++)
    for (int64_t j = 0; j < c->cols; j++)
      (*right)[t * c->cols + j] = sqrtf(s[t]) * vt[t * c->cols + j];
  if (c->unwhiten) { /* right ← right·S⁻¹ */
    float *row = malloc(sizeof(float) * (size_t)c->cols);
    if (!row) {
      free(*left);
      free(*right);
      *left = *right = NULL;
      return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    }
    for (int64_t t = 0; t < r; t++) {
      float *rt = *right + t * c->cols;
      for (int64_t j = 0; j < c->cols; j++) {
        double acc = 0;
        for (int64_t q = 0; q < c->cols; q++) acc += (double)rt[q] * c->unwhiten[q * c->cols + j];
        row[j] = (float)acc;
      }
      memcpy(rt, row, sizeof(float) * (size_t)c->cols);
    }
    free(row);
  }
  return PARE_OK;
}

/* S = (M + δ·I)^½ and S⁻¹ from the second moment M [n×n] (symmetric), by
 * its eigen-decomposition (the SVD of a symmetric positive definite
 * matrix); then m [rows×n] ← m·S. */
static pare_status whiten(pare_lowrank_svd_fn svd, void *svd_user, const float *moment,
                          int64_t rows, int64_t n, float *m, float **unwhiten, pare_error *err) {
  *unwhiten = NULL;
  size_t nn = (size_t)(n * n);
  float *a = malloc(sizeof(float) * nn), *q = malloc(sizeof(float) * nn);
  float *lam = malloc(sizeof(float) * (size_t)n), *qt = malloc(sizeof(float) * nn);
  float *sq = malloc(sizeof(float) * nn), *inv = malloc(sizeof(float) * nn);
  float *row = malloc(sizeof(float) * (size_t)n);
  pare_status st = a && q && lam && qt && sq && inv && row
                       ? PARE_OK
                       : pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) {
    double power = 0;
    for (int64_t i = 0; i < n; i++) power += moment[i * n + i];
    double delta = 0.01 * power / (double)n;
    if (!(delta > 0)) delta = 1e-6;
    memcpy(a, moment, sizeof(float) * nn);
    for (int64_t i = 0; i < n; i++) a[i * n + i] += (float)delta;
    st = svd(svd_user, (size_t)n, (size_t)n, a, q, lam, qt, err);
  }
  if (st == PARE_OK) {
    /* S = Q·diag(√λ)·Qᵀ, S⁻¹ = Q·diag(1/√λ)·Qᵀ (λ ≥ δ > 0). */
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++) {
        double s1 = 0, s2 = 0;
        for (int64_t k = 0; k < n; k++) {
          double l = lam[k] > 0 ? lam[k] : 1e-30, p = (double)q[i * n + k] * q[j * n + k];
          s1 += p * sqrt(l);
          s2 += p / sqrt(l);
        }
        sq[i * n + j] = (float)s1;
        inv[i * n + j] = (float)s2;
      }
    for (int64_t r = 0; r < rows; r++) { /* m ← m·S */
      float *mr = m + r * n;
      for (int64_t j = 0; j < n; j++) {
        double acc = 0;
        for (int64_t k = 0; k < n; k++) acc += (double)mr[k] * sq[k * n + j];
        row[j] = (float)acc;
      }
      memcpy(mr, row, sizeof(float) * (size_t)n);
    }
    *unwhiten = inv;
    inv = NULL;
  }
  free(a);
  free(q);
  free(lam);
  free(qt);
  free(sq);
  free(inv);
  free(row);
  return st;
}

/* g with candidate c factored at rank r, scored by o->eval. */
static pare_status score(const pare_graph *g, const candidate *c, const pare_lowrank_options *o,
                         int64_t k, int64_t r, const float *u, const float *s, const float *vt,
                         double *acc, pare_error *err) {
  void *buf = NULL;
  size_t size = 0;
  pare_graph *copy = NULL;
  pare_status st = pare_format_write_buffer(g, &buf, &size, err);
  if (st == PARE_OK) st = pare_format_read_buffer(buf, size, "low-rank scan", &copy, err);
  free(buf);
  float *left = NULL, *right = NULL;
  candidate cc;
  if (st == PARE_OK && eligible(copy, c->node, o, &cc))
    st = pare_error_set(err, PARE_ERR_INTERNAL, "low-rank scan: the copy differs");
  cc.unwhiten = c->unwhiten;
  if (st == PARE_OK) st = factors(&cc, k, r, u, s, vt, &left, &right, err);
  if (st == PARE_OK) st = rewrite(copy, &cc, r, left, right, err);
  if (st == PARE_OK && pare_graph_remove_dead(copy) != PARE_OK)
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK) st = o->eval(o->eval_user, copy, acc, err);
  pare_graph_destroy(copy);
  return st;
}

/* AUTO: the smallest rank of the ladder that keeps the graph within the
 * budget of the original accuracy `base` (0 when none does). */
static pare_status scan_rank(const pare_graph *g, const candidate *c, const pare_lowrank_options *o,
                             double base, int64_t k, const float *u, const float *s,
                             const float *vt, int64_t *rank, double *acc, pare_error *err) {
  pare_lowrank_options e = *o;
  e.rule = PARE_LOWRANK_ENERGY;
  int64_t tried = 0;
  *rank = 0;
  for (size_t i = 0; i < sizeof scan_energies / sizeof scan_energies[0]; i++) {
    e.value = scan_energies[i];
    int64_t r = pare_lowrank_choose_rank(&e, s, k, c->per_rank, c->params);
    if (r * c->per_rank >= c->params) break; /* no saving from here on */
    if (r == tried) continue;
    tried = r;
    double a;
    pare_status st = score(g, c, o, k, r, u, s, vt, &a, err);
    if (st != PARE_OK) return st;
    if (a >= base - o->value) {
      *rank = r;
      *acc = a;
      return PARE_OK;
    }
  }
  return PARE_OK;
}

pare_status pare_lowrank_apply(pare_graph *g, const pare_lowrank_options *o,
                               pare_lowrank_layer **layers, int *n_layers, pare_error *err) {
  if (layers) *layers = NULL;
  if (n_layers) *n_layers = 0;
  if ((o->rule == PARE_LOWRANK_ENERGY && !(o->value > 0 && o->value <= 1)) ||
      (o->rule == PARE_LOWRANK_RATIO && !(o->value > 0 && o->value < 1)) ||
      (o->rule == PARE_LOWRANK_RANK && !(o->value >= 1)) ||
      (o->rule == PARE_LOWRANK_AUTO && !(o->value >= 0 && o->value < 1)))
    return pare_error_set(err, PARE_ERR_INVALID_ARG,
                          "low-rank: energy must be in (0, 1], ratio in (0, 1), rank >= 1 "
                          "(got %g)",
                          o->value);
  if (o->rule == PARE_LOWRANK_AUTO && !o->eval)
    return pare_error_set(err, PARE_ERR_INVALID_ARG, "low-rank: auto needs a validation set");
  pare_lowrank_svd_fn svd = o->svd ? o->svd : reference_svd;
  double base = 0;
  if (o->rule == PARE_LOWRANK_AUTO) {
    pare_status bst = o->eval(o->eval_user, g, &base, err);
    if (bst != PARE_OK) return bst;
  }
  pare_lowrank_layer *rep = calloc((size_t)g->n_nodes + 1, sizeof *rep);
  if (!rep) return pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  int count = 0, changed = 0;
  pare_status st = PARE_OK;
  /* Walk backwards: inserting before node i leaves the nodes before it. */
  for (int i = g->n_nodes - 1; i >= 0 && st == PARE_OK; i--) {
    pare_op op = g->nodes[i].op;
    if (op != PARE_OP_GEMM && op != PARE_OP_MATMUL && op != PARE_OP_CONV) continue;
    const char *name = g->nodes[i].name ? g->nodes[i].name : "";
    if (o->only && !pare_name_in_list(o->only, name)) continue;
    pare_lowrank_layer *L = &rep[count++];
    snprintf(L->node, sizeof L->node, "%s", name);
    L->op = op;
    candidate c;
    L->why = eligible(g, i, o, &c);
    L->params_before = L->params_after = c.params;
    if (!L->why && pare_name_in_list(o->skip, name)) L->why = "skipped";
    if (L->why) continue;
    L->rows = c.rows, L->cols = c.cols;
    L->full_rank = c.rows < c.cols ? c.rows : c.cols;
    int64_t k = L->full_rank;
    float *m = matrix_of(g, &c);
    float *u = malloc(sizeof(float) * (size_t)(c.rows * k));
    float *s = malloc(sizeof(float) * (size_t)k);
    float *vt = malloc(sizeof(float) * (size_t)(k * c.cols));
    float *unwhiten = NULL;
    if (!m || !u || !s || !vt) st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
    const float *moment = st == PARE_OK && o->input_moment && op != PARE_OP_CONV
                              ? o->input_moment(o->moment_user, name, c.cols)
                              : NULL;
    if (moment) {
      st = whiten(svd, o->svd_user, moment, c.rows, c.cols, m, &unwhiten, err);
      c.unwhiten = unwhiten;
      L->data_aware = 1;
    }
    if (st == PARE_OK) st = svd(o->svd_user, (size_t)c.rows, (size_t)c.cols, m, u, s, vt, err);
    if (st == PARE_OK) {
      int64_t r = pare_lowrank_choose_rank(o, s, k, c.per_rank, c.params);
      if (o->rule == PARE_LOWRANK_AUTO) {
        st = scan_rank(g, &c, o, base, k, u, s, vt, &r, &L->accuracy, err);
        if (st == PARE_OK && r == 0) {
          L->why = "every rank of the scan costs too much accuracy";
          r = k;
        }
      }
      double total = 0, kept = 0;
      for (int64_t q = 0; q < k; q++) total += (double)s[q] * s[q];
      for (int64_t q = 0; q < r; q++) kept += (double)s[q] * s[q];
      L->rank = r;
      L->energy = total > 0 ? kept / total : 1.0;
      if (L->why) {
        /* left as it is by the scan */
      } else if (r * c.per_rank >= c.params) {
        L->why = "no saving at this rank";
      } else if (!o->dry_run) {
        float *left, *right;
        st = factors(&c, k, r, u, s, vt, &left, &right, err);
        if (st == PARE_OK) {
          if (o->time && o->shapes)
            st = time_both(g, &c, o, r, left, right, &L->ms_before, &L->ms_after, err);
          if (st == PARE_OK && L->ms_after > 0 && L->ms_after >= L->ms_before) {
            L->why = "slower factored on the device";
            free(left);
            free(right);
          } else if (st == PARE_OK) {
            st = rewrite(g, &c, r, left, right, err);
            changed = 1;
          } else {
            free(left);
            free(right);
          }
        }
      }
      if (!L->why) {
        L->factored = !o->dry_run;
        L->params_after = r * c.per_rank;
      }
    }
    free(m);
    free(u);
    free(s);
    free(vt);
    free(unwhiten);
  }
  if (st == PARE_OK && changed && pare_graph_remove_dead(g) != PARE_OK)
    st = pare_error_set(err, PARE_ERR_NO_MEMORY, "out of memory");
  if (st == PARE_OK && changed) st = pare_graph_validate(g, err);
  if (layers && st == PARE_OK) {
    /* Report in graph order. */
    for (int a = 0, b = count - 1; a < b; a++, b--) {
      pare_lowrank_layer t = rep[a];
      rep[a] = rep[b];
      rep[b] = t;
    }
    *layers = rep;
    if (n_layers) *n_layers = count;
  } else {
    free(rep);
  }
  return st;
}
