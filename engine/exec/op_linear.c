/* Gemm and MatMul on the reference GEMM. */
#include <string.h>

#include "engine/exec/exec.h"
#include "engine/ref/ref.h"

static pare_status gemm_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 3);
  for (int i = 0; i < ctx->n_in && st == PARE_OK; i++) st = pare_op_need_f32(ctx, i);
  if (st != PARE_OK) return st;
  const pare_tensor *a = ctx->in[0], *b = ctx->in[1];
  if (a->rank != 2 || b->rank != 2)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "A and B must be 2-D, are %d-D and %d-D", a->rank,
                        b->rank);
  int ta = (int)pare_node_attr_int(ctx->node, "transA", 0);
  int tb = (int)pare_node_attr_int(ctx->node, "transB", 0);
  int64_t m = ta ? a->dims[1] : a->dims[0], k = ta ? a->dims[0] : a->dims[1];
  int64_t kb = tb ? b->dims[1] : b->dims[0], n = tb ? b->dims[0] : b->dims[1];
  if (k != kb)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "inner dimensions differ: %lld vs %lld", (long long)k,
                        (long long)kb);
  const pare_tensor *c = ctx->n_in > 2 ? ctx->in[2] : NULL;
  if (c) {
    if (c->rank > 2)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "C must have rank <= 2, has %d", c->rank);
    int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    if ((cm != 1 && cm != m) || (cn != 1 && cn != n))
      return pare_op_fail(ctx, PARE_ERR_FORMAT,
                          "C of shape %lldx%lld does not broadcast to %lldx%lld", (long long)cm,
                          (long long)cn, (long long)m, (long long)n);
  }
  int64_t dims[2] = {m, n};
  pare_op_set_out(ctx, 0, PARE_DT_F32, 2, dims);
  return PARE_OK;
}

static pare_status gemm_run(pare_op_ctx *ctx) {
  const pare_tensor *a = ctx->in[0], *b = ctx->in[1];
  const pare_tensor *c = ctx->n_in > 2 ? ctx->in[2] : NULL;
  pare_tensor *y = ctx->out[0];
  int ta = (int)pare_node_attr_int(ctx->node, "transA", 0);
  int tb = (int)pare_node_attr_int(ctx->node, "transB", 0);
  float alpha = pare_node_attr_float(ctx->node, "alpha", 1.0f);
  float beta = pare_node_attr_float(ctx->node, "beta", 1.0f);
  size_t m = (size_t)y->dims[0], n = (size_t)y->dims[1];
  size_t k = (size_t)(ta ? a->dims[0] : a->dims[1]);
  float *out = y->data;
  float use_beta = 0.0f;
  if (c && beta != 0.0f) {
    /* Y starts as beta·C broadcast to m×n. */
    int64_t cm = c->rank == 2 ? c->dims[0] : 1, cn = c->rank >= 1 ? c->dims[c->rank - 1] : 1;
    const float *cd = c->data;
    for (size_t i = 0; i < m; i++)
      for (size_t j = 0; j < n; j++)
        out[i * n + j] = cd[(cm == 1 ? 0 : i) * (size_t)cn + (cn == 1 ? 0 : j)];
    use_beta = beta;
  }
  pare_ref_gemm_f32(ta, tb, m, n, k, alpha, a->data, (size_t)a->dims[1], b->data,
                    (size_t)b->dims[1], use_beta, out, n, NULL);
  return PARE_OK;
}

/* MatMul with numpy semantics: 1-D operands are promoted, batch dims broadcast. */
typedef struct matmul_dims {
  int64_t m, k, n;
  int rank; /* of the output */
  int64_t batch[PARE_MAX_RANK];
  int nbatch;
} matmul_dims;

static pare_status matmul_dims_of(pare_op_ctx *ctx, matmul_dims *md) {
  const pare_tensor *a = ctx->in[0], *b = ctx->in[1];
  if (a->rank < 1 || b->rank < 1)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "operands must have rank >= 1");
  md->m = a->rank == 1 ? 1 : a->dims[a->rank - 2];
  md->k = a->dims[a->rank - 1];
  int64_t kb = b->rank == 1 ? b->dims[0] : b->dims[b->rank - 2];
  md->n = b->rank == 1 ? 1 : b->dims[b->rank - 1];
  if (md->k != kb)
    return pare_op_fail(ctx, PARE_ERR_FORMAT, "inner dimensions differ: %lld vs %lld",
                        (long long)md->k, (long long)kb);
  int ba = a->rank > 2 ? a->rank - 2 : 0, bb = b->rank > 2 ? b->rank - 2 : 0;
  md->nbatch = ba > bb ? ba : bb;
  for (int i = 0; i < md->nbatch; i++) {
    int ia = i - (md->nbatch - ba), ib = i - (md->nbatch - bb);
    int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
    if (da != db && da != 1 && db != 1)
      return pare_op_fail(ctx, PARE_ERR_FORMAT, "batch dimensions %lld and %lld do not broadcast",
                          (long long)da, (long long)db);
    md->batch[i] = da == 1 ? db : da;
  }
  return PARE_OK;
}

static pare_status matmul_shape(pare_op_ctx *ctx) {
  pare_status st = pare_op_need_inputs(ctx, 2, 2);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 0);
  if (st == PARE_OK) st = pare_op_need_f32(ctx, 1);
  matmul_dims md;
  if (st == PARE_OK) st = matmul_dims_of(ctx, &md);
  if (st != PARE_OK) return st;
  int64_t dims[PARE_MAX_RANK];
  int r = 0;
  for (int i = 0; i < md.nbatch; i++) dims[r++] = md.batch[i];
  if (ctx->in[0]->rank > 1) dims[r++] = md.m;
  if (ctx->in[1]->rank > 1) dims[r++] = md.n;
  pare_op_set_out(ctx, 0, PARE_DT_F32, r, dims);
  return PARE_OK;
}

/* Offset of batch index `bi` (over the broadcast batch dims) in operand t. */
static int64_t batch_offset(const pare_tensor *t, const matmul_dims *md, int64_t bi,
                            int64_t mat_elems) {
  int tb = t->rank > 2 ? t->rank - 2 : 0;
  int64_t off = 0, stride = mat_elems;
  for (int i = md->nbatch - 1; i >= 0; i--) {
    int64_t idx = bi % md->batch[i];
    bi /= md->batch[i];
    int it = i - (md->nbatch - tb);
    if (it < 0) continue;
    if (t->dims[it] != 1) off += idx * stride;
    stride *= t->dims[it];
  }
  return off;
}

static pare_status matmul_run(pare_op_ctx *ctx) {
  matmul_dims md;
  pare_status st = matmul_dims_of(ctx, &md);
  if (st != PARE_OK) return st;
  int64_t nb = 1;
  for (int i = 0; i < md.nbatch; i++) nb *= md.batch[i];
  const float *a = ctx->in[0]->data, *b = ctx->in[1]->data;
  float *y = ctx->out[0]->data;
  for (int64_t bi = 0; bi < nb; bi++) {
    int64_t oa = batch_offset(ctx->in[0], &md, bi, md.m * md.k);
    int64_t ob = batch_offset(ctx->in[1], &md, bi, md.k * md.n);
    pare_ref_gemm_f32(0, 0, (size_t)md.m, (size_t)md.n, (size_t)md.k, 1.0f, a + oa, (size_t)md.k,
                      b + ob, (size_t)md.n, 0.0f, y + bi * md.m * md.n, (size_t)md.n, NULL);
  }
  return PARE_OK;
}

static const pare_op_impl gemm = {gemm_shape, gemm_run};
static const pare_op_impl matmul = {matmul_shape, matmul_run};

const pare_op_impl *pare_op_impl_linear(pare_op op) {
  switch (op) {
  case PARE_OP_GEMM: return &gemm;
  case PARE_OP_MATMUL: return &matmul;
  default: return NULL;
  }
}
