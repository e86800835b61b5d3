/* Low-rank factorization: a constant weight W of a Gemm, MatMul or Conv is
 * replaced by the product of two thinner layers from its truncated SVD,
 * W ≈ (U_r·√Σ_r)·(√Σ_r·V_rᵀ). See docs/compression.md ("Low-rank"). */
#ifndef PARE_ENGINE_COMPRESS_LOWRANK_H
#define PARE_ENGINE_COMPRESS_LOWRANK_H

#include "engine/graph/graph.h"

typedef enum pare_lowrank_rule {
  PARE_LOWRANK_ENERGY = 0, /* smallest r with Σ_{i≤r} σ_i² ≥ value·Σ σ² */
  PARE_LOWRANK_RATIO,      /* largest r whose factors hold ≤ value × the layer's parameters */
  PARE_LOWRANK_RANK,       /* r = value (capped by the matrix) */
  PARE_LOWRANK_AUTO,       /* per layer from a sensitivity scan: the smallest rank of the
                            * energy ladder whose model stays within value (a fraction,
                            * 0.005 = half a point) of the original accuracy */
} pare_lowrank_rule;

typedef enum pare_lowrank_conv {
  PARE_LOWRANK_CONV_CHANNEL = 0, /* k×k conv with r filters, then 1×1 conv */
  PARE_LOWRANK_CONV_SPATIAL,     /* k×1 conv with r filters, then 1×k conv */
  PARE_LOWRANK_CONV_SKIP,        /* leave convolutions alone */
} pare_lowrank_conv;

/* Accuracy in [0, 1] of a whole graph on a validation set (AUTO). */
typedef pare_status (*pare_lowrank_eval_fn)(void *user, const pare_graph *g, double *accuracy,
                                            pare_error *err);

/* A thin SVD of a [m×n] row-major: u [m×k], s [k] descending, vt [k×n],
 * k = min(m, n). */
typedef pare_status (*pare_lowrank_svd_fn)(void *user, size_t m, size_t n, const float *a, float *u,
                                           float *s, float *vt, pare_error *err);

struct pare_plan;

/* Times a one-layer graph (its input bound to a concrete shape) on the
 * target: *ms is the median latency of a run. */
typedef pare_status (*pare_lowrank_time_fn)(void *user, const pare_graph *layer, double *ms,
                                            pare_error *err);

typedef struct pare_lowrank_options {
  pare_lowrank_rule rule;
  double value;
  pare_lowrank_conv conv;
  const char *only;        /* comma-separated node names to factor (NULL: every eligible node) */
  const char *skip;        /* comma-separated node names to leave dense */
  pare_lowrank_svd_fn svd; /* NULL: the reference SVD (engine/ref/svd.h) */
  void *svd_user;
  int dry_run; /* choose ranks and report, change nothing */
  /* Measured choice: with `time` set and `shapes` a plan of the graph at
   * the batch that matters, every layer is timed alone in both forms and
   * stays as it is where the factored form is not faster. */
  pare_lowrank_time_fn time;
  void *time_user;
  const struct pare_plan *shapes;
  pare_lowrank_eval_fn eval; /* AUTO: scores candidate graphs */
  void *eval_user;
  /* Data-aware factoring of Gemm/MatMul (optional): the second moment
   * E[x·xᵀ] [cols×cols] of node `node`'s input rows, or NULL. With it the
   * factors minimise the error on those inputs, ‖(W − W_r)·x‖, instead of
   * ‖W − W_r‖: the SVD is taken of W·S with S = (E[x·xᵀ] + δ·I)^½ and the
   * right factor multiplied by S⁻¹ (δ: 1% of the mean input power). */
  const float *(*input_moment)(void *user, const char *node, int64_t cols);
  void *moment_user;
} pare_lowrank_options;

/* Defaults: energy 0.9, channel SVD for convolutions, reference SVD. */
void pare_lowrank_options_init(pare_lowrank_options *o);

typedef struct pare_lowrank_layer {
  char node[128];
  pare_op op;
  int64_t rows, cols; /* the matrix factored */
  int64_t full_rank;  /* min(rows, cols) */
  int64_t rank;       /* chosen (0 when not factored) */
  int64_t params_before, params_after;
  double energy;              /* Σ_{i≤r} σ² / Σ σ² (of W·S when data-aware) */
  int data_aware;             /* fitted to the layer's inputs */
  double ms_before, ms_after; /* latency of the layer alone, both forms (0 unless timed) */
  double accuracy;            /* AUTO: validation accuracy with this layer (and the ones
                               * chosen before it) factored */
  int factored;
  const char *why; /* when not factored */
} pare_lowrank_layer;

/* Factors every eligible node of g in place (weights that were trainable
 * parameters stay trainable). layers (may be NULL) receives a malloc'ed
 * report of every candidate node, *n_layers their count. */
pare_status pare_lowrank_apply(pare_graph *g, const pare_lowrank_options *o,
                               pare_lowrank_layer **layers, int *n_layers, pare_error *err);

/* Rank by the rule for singular values s[0..k) of a [rows×cols] matrix whose
 * factors cost per_rank parameters per unit of rank against `params`. */
int64_t pare_lowrank_choose_rank(const pare_lowrank_options *o, const float *s, int64_t k,
                                 int64_t per_rank, int64_t params);

#endif
