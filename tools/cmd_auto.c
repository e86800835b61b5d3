/* pare auto: automated, hardware-aware compression in two stages.
 *
 * 1. Channels: each layer whose output channels can be removed (structured
 *    pruning) gets a ratio from a menu; the narrowed model is fine-tuned.
 * 2. Weights: each prunable layer (Conv, Gemm, MatMul) of the narrowed
 *    model gets a sparsity and a weight width from a menu; the result is
 *    pruned, fine-tuned with its zeros kept (each layer at its width) and
 *    quantized, with uint8 activations where they run faster.
 *
 * Each stage chooses from a per-layer sensitivity scan (validation accuracy
 * with that layer alone changed) and the cost of each option measured on
 * this device (bytes on disk, or batch-64 latency), by a greedy search
 * under an accuracy allowance checked on the validation images. The
 * accuracy budget is always counted against the original model. Each
 * stage's scan is kept beside the output, so an interrupted run resumes
 * where it stopped. See docs/compression.md ("Automated compression"). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/report.h"

static const double channel_ratios[] = {0, 0.25, 0.5};
/* A weights option is a form (a sparsity, or a low rank: the layer
 * factored into two whose weights hold at most that share of its
 * parameters) at a width. */
static const double sparsities[] = {0, 0.5, 0.7, 0.8, 0.9, 0.95};
static const double rank_ratios[] = {0.5, 0.25};
static const int widths[] = {32, 8, 4};
enum {
  N_CH = 3,
  N_SP = 6,
  N_RANK = 2,
  N_FORM = N_SP + N_RANK,
  N_W = 3,
  N_OPT = N_FORM * N_W,
  MAX_LAYERS = 64
};

typedef struct measure {
  int done;
  double acc; /* validation top-1 */
  double bytes, ms;
} measure;

typedef enum stage_kind { STAGE_CHANNELS, STAGE_WEIGHTS } stage_kind;

/* One stage: a menu of options per layer, applied to the model `from`.
 * Option 0 leaves a layer as it is. */
typedef struct stage {
  stage_kind kind;
  int n_opt;
  int nl;
  int layer[MAX_LAYERS]; /* index into auto_run.names */
  char from[1100];
  char state[1100]; /* the scan, kept for a resumed run */
  measure base_m;   /* `from` measured */
  double
      base_layers_ms; /* latency objective: `from`'s layers in the table, summed (< 0: not yet) */
  measure scan[MAX_LAYERS][N_OPT];
} stage;

typedef struct auto_run {
  const char *base, *out, *dataset, *objective;
  pare_context *ctx;
  int nl; /* every Conv, Gemm and MatMul with constant weights */
  char names[MAX_LAYERS][128];
  int64_t val_images;
  int reps, distill;
  float lr;
  uint64_t seed;  /* of the fine-tunes' shuffling */
  measure orig_m; /* the original model measured */
  char tmp[1100];
  report_point *points;
  int n_points, cap_points;
  int lut_measured, lut_found; /* layer times measured now / found in the device's table */
  double deadline;             /* seconds since the start; 0: none */
  double started;
} auto_run;

static double sp_of(int o) { return o % N_FORM < N_SP ? sparsities[o % N_FORM] : 0; }
/* The rank ratio of option o, or 0 when it keeps the layer whole. */
static double rank_of(int o) { return o % N_FORM < N_SP ? 0 : rank_ratios[o % N_FORM - N_SP]; }
static int bits_of(int o) { return widths[o / N_FORM]; }

static const char *kind_name(stage_kind k) { return k == STAGE_CHANNELS ? "channels" : "weights"; }

/* "conv1:-25%" (channels) or "conv1:0.5/8" (sparsity / bits). */
static void option_label(const auto_run *r, const stage *st, int l, int o, char *out, size_t size) {
  const char *name = r->names[st->layer[l]];
  if (st->kind == STAGE_CHANNELS)
    snprintf(out, size, "%s:-%g%%", name, 100 * channel_ratios[o]);
  else if (rank_of(o) > 0)
    snprintf(out, size, "%s:r%g/%d", name, rank_of(o), bits_of(o));
  else
    snprintf(out, size, "%s:%g/%d", name, sp_of(o), bits_of(o));
}

enum { LIST_BYTES = MAX_LAYERS * 3 * 140 }; /* three names of up to 127 characters a layer */

/* Comma-separated names of the layers not marked in `leave`, each also
 * under the two names it takes once factored (NAME.lowrank_a and _b: lists
 * ignore names a model lacks), or "none". */
static void name_list(const auto_run *r, const char *leave, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int l = 0; l < r->nl; l++)
    if (!leave[l])
      len +=
          (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s,%s.lowrank_a,%s.lowrank_b",
                           len ? "," : "", r->names[l], r->names[l], r->names[l]);
  if (!out[0]) snprintf(out, size, "none"); /* the dense lists' word for no layer */
}

/* Every layer but index `keep` (-1: all), or with cfg (the weights stage)
 * every layer whose width is not want_bits. */
static void others(const auto_run *r, int keep, const int *cfg, int want_bits, char *out,
                   size_t size) {
  char leave[MAX_LAYERS] = {0};
  for (int l = 0; l < r->nl; l++) leave[l] = l == keep || (cfg && bits_of(cfg[l]) == want_bits);
  name_list(r, leave, out, size);
}

static int model_fail(pare_model *m, char *err, size_t err_size) {
  snprintf(err, err_size, "%s", pare_model_last_error(m));
  return 1;
}

/* Removes channels: cfg[l] indexes channel_ratios for the stage's layer l. */
static int apply_channels(const auto_run *r, const stage *st, const int *cfg, pare_model *m) {
  char dense[LIST_BYTES];
  for (int l = 0; l < st->nl; l++) {
    if (!cfg[l]) continue;
    others(r, st->layer[l], NULL, 0, dense, sizeof dense);
    if (pare_model_prune(m, "structured", channel_ratios[cfg[l]], dense, NULL, NULL) != PARE_OK)
      return 1;
  }
  return 0;
}

/* Low ranks, sparsities, then (unless prune_only) widths; act: int8
 * activations too. The weights stage lists every layer, in r->names'
 * order. */
static int apply_weights(const auto_run *r, const int *cfg, int prune_only, int act,
                         pare_model *m) {
  char dense[LIST_BYTES];
  for (int k = 0; k < N_RANK; k++) { /* each ratio factors its layers, the rest skipped */
    char leave[MAX_LAYERS] = {0};
    int any = 0;
    for (int l = 0; l < r->nl; l++) {
      leave[l] = rank_of(cfg[l]) == rank_ratios[k];
      any |= leave[l];
    }
    if (!any) continue;
    char spec[32];
    snprintf(spec, sizeof spec, "ratio=%g", rank_ratios[k]);
    name_list(r, leave, dense, sizeof dense);
    if (pare_model_factorize(r->ctx, m, spec, "channel", dense, 0, NULL, 0, NULL, NULL) != PARE_OK)
      return 1;
  }
  for (int l = 0; l < r->nl; l++) {
    if (sp_of(cfg[l]) <= 0) continue;
    others(r, l, NULL, 0, dense, sizeof dense);
    if (pare_model_prune(m, "layer", sp_of(cfg[l]), dense, NULL, NULL) != PARE_OK) return 1;
  }
  for (int w = 1; w < N_W && !prune_only; w++) {
    int any = 0;
    for (int l = 0; l < r->nl; l++) any |= bits_of(cfg[l]) == widths[w];
    if (!any) continue;
    char spec[16];
    snprintf(spec, sizeof spec, act ? "w%da8" : "w%d", widths[w]);
    others(r, -1, cfg, widths[w], dense, sizeof dense);
    if (pare_model_quantize(m, spec, "minmax", r->dataset, 500, dense, 0, NULL, NULL) != PARE_OK)
      return 1;
  }
  return 0;
}

/* The model `from` with the stage's options cfg applied, saved to path. */
static int apply(const auto_run *r, const stage *st, const int *cfg, int prune_only, int act,
                 const char *from, const char *path, char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(from, &m, err, err_size) != PARE_OK) return 1;
  int rc = st->kind == STAGE_CHANNELS ? apply_channels(r, st, cfg, m)
                                      : apply_weights(r, cfg, prune_only, act, m);
  if (rc || pare_model_save(m, path) != PARE_OK) rc = model_fail(m, err, err_size);
  pare_model_destroy(m);
  return rc;
}

/* Median batch-64 latency of a model file. */
static int latency_of(auto_run *r, const char *path, double *ms, char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, err_size) != PARE_OK) return 1;
  int rc = cli_latency(r->ctx, m, 64, r->reps, ms) ? model_fail(m, err, err_size) : 0;
  pare_model_destroy(m);
  return rc;
}

/* The batch-64 times of the model's layers (those of r->names it has),
 * summed, from the device's per-layer latency table
 * (pare_model_layer_latency): a layer already in it is not run again, by
 * this run or any later one. */
static int layers_ms(auto_run *r, pare_model *m, const int *cfg, double *sum, char *err,
                     size_t err_size) {
  char factored[MAX_LAYERS * 2][160]; /* a factored layer is two: NAME.lowrank_a, _b */
  const char *names[MAX_LAYERS * 2];
  double ms[MAX_LAYERS * 2];
  int n = 0;
  for (int l = 0; l < r->nl; l++)
    if (cfg && rank_of(cfg[l]) > 0) {
      for (int k = 0; k < 2; k++, n++) {
        snprintf(factored[n], sizeof factored[n], "%s.lowrank_%c", r->names[l], "ab"[k]);
        names[n] = factored[n];
      }
    } else {
      names[n++] = r->names[l];
    }
  int measured = 0;
  pare_status st = pare_model_layer_latency(r->ctx, m, 64, r->reps, names, n, ms, &measured);
  if (st == PARE_ERR_INVALID_ARG && cfg) { /* a rank that left its layer whole */
    for (int l = 0; l < r->nl; l++) names[l] = r->names[l];
    st = pare_model_layer_latency(r->ctx, m, 64, r->reps, names, n = r->nl, ms, &measured);
  }
  int rc = st != PARE_OK ? model_fail(m, err, err_size) : 0;
  *sum = 0;
  for (int l = 0; !rc && l < n; l++) *sum += ms[l];
  r->lut_measured += rc ? 0 : measured;
  r->lut_found += rc ? 0 : n - measured;
  return rc;
}

/* Validation accuracy, bytes and (latency objective) time of a model file.
 * With `st` (a scan point: the stage's model with one layer changed) the
 * time is the stage model's, measured whole, plus the change in its
 * layers' times in the per-layer table: a layer's own change, not lost in
 * the noise of timing the whole model again. */
static int measure_file(auto_run *r, const char *path, stage *st, const int *cfg, measure *out,
                        char *err, size_t err_size) {
  pare_model *m = NULL, *from = NULL;
  if (pare_model_load(path, &m, err, err_size) != PARE_OK) return 1;
  pare_eval_result e;
  int rc = pare_model_evaluate(r->ctx, m, r->dataset, "train", (size_t)r->val_images, 250, NULL,
                               NULL, &e, err, err_size) != PARE_OK;
  if (!rc) {
    out->acc = e.accuracy;
    pare_free(e.confusion);
  }
  struct stat sb;
  out->bytes = stat(path, &sb) == 0 ? (double)sb.st_size : 0;
  out->ms = 0;
  if (!rc && !strcmp(r->objective, "latency")) { /* the model as loaded for the evaluation */
    double now = 0;
    if (!st) {
      rc = cli_latency(r->ctx, m, 64, r->reps, &out->ms) ? model_fail(m, err, err_size) : 0;
    } else if (st->base_layers_ms < 0) { /* the stage's model, once */
      rc = pare_model_load(st->from, &from, err, err_size) != PARE_OK ||
           layers_ms(r, from, NULL, &st->base_layers_ms, err, err_size);
      pare_model_destroy(from);
    }
    if (!rc && st)
      rc = layers_ms(r, m, st->kind == STAGE_WEIGHTS ? cfg : NULL, &now, err, err_size);
    if (!rc && st) out->ms = st->base_m.ms + now - st->base_layers_ms;
  }
  pare_model_destroy(m);
  out->done = !rc;
  return rc;
}

/* 1 when a drop (accuracy as a fraction) is within limit. Accuracies are
 * counts over the validation images, so a drop of exactly the limit
 * (0.927 - 0.922 against 0.005) may differ from it in the last bits. */
static int within(double drop, double limit) { return drop <= limit + 1e-9; }

/* The allowance a search may spend before a fine-tune of `epochs`: six
 * times the drop allowed after it, since fine-tuning wins back much of
 * what a change costs a model on its own. */
static double allowance_before(double drop, int epochs) { return drop * (epochs > 0 ? 6 : 1); }

static double cost_of(const auto_run *r, const measure *m) {
  return !strcmp(r->objective, "latency") ? m->ms : m->bytes;
}

static void add_point(auto_run *r, const measure *m, const char *label) {
  if (r->n_points == r->cap_points) {
    int cap = r->cap_points ? 2 * r->cap_points : 64;
    report_point *p = realloc(r->points, sizeof *p * (size_t)cap);
    if (!p) return;
    r->points = p;
    r->cap_points = cap;
  }
  report_point *p = &r->points[r->n_points++];
  p->accuracy = m->acc;
  p->bytes = m->bytes;
  p->ms = m->ms;
  snprintf(p->label, sizeof p->label, "%s", label);
}

/* ---- the resumable scan ---------------------------------------------------- */

/* The stage's scan, and (done) the measured result it ended with. */
static void save_state(const auto_run *r, const stage *st, const measure *done) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp", st->state);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "pare-auto 3 %s %s %s %lld %s\n", kind_name(st->kind), r->objective, r->dataset,
          (long long)r->val_images, st->from);
  fprintf(f, "base %.8f %.0f %.6f\n", st->base_m.acc, st->base_m.bytes, st->base_m.ms);
  for (int l = 0; l < st->nl; l++)
    for (int o = 0; o < st->n_opt; o++)
      if (st->scan[l][o].done)
        fprintf(f, "%s %d %.8f %.0f %.6f\n", r->names[st->layer[l]], o, st->scan[l][o].acc,
                st->scan[l][o].bytes, st->scan[l][o].ms);
  if (done) fprintf(f, "done %.8f %.0f %.6f\n", done->acc, done->bytes, done->ms);
  if (fclose(f) == 0) rename(tmp, st->state);
}

/* Loads what an earlier run of the same settings measured; 1 when it did.
 * *done receives the stage's result when the earlier run finished it. */
static int load_state(const auto_run *r, stage *st, measure *done) {
  FILE *f = fopen(st->state, "r");
  if (!f) return 0;
  char kind[16], obj[32], ds[512], from[1100];
  long long val = 0;
  /* The same stage, settings and model (a path with spaces never matches:
   * the scan runs again). */
  int ok = fscanf(f, "pare-auto 3 %15s %31s %511s %lld %1099s\n", kind, obj, ds, &val, from) == 5 &&
           !strcmp(kind, kind_name(st->kind)) && !strcmp(obj, r->objective) &&
           !strcmp(ds, r->dataset) && val == r->val_images && !strcmp(from, st->from);
  if (ok)
    ok = fscanf(f, "base %lf %lf %lf\n", &st->base_m.acc, &st->base_m.bytes, &st->base_m.ms) == 3;
  if (ok) st->base_m.done = 1;
  char name[128];
  int o;
  measure m = {0};
  while (ok && fscanf(f, "%127s", name) == 1) {
    if (!strcmp(name, "done")) {
      if (fscanf(f, "%lf %lf %lf\n", &m.acc, &m.bytes, &m.ms) == 3 && done) {
        *done = m;
        done->done = 1;
      }
      break;
    }
    if (fscanf(f, "%d %lf %lf %lf\n", &o, &m.acc, &m.bytes, &m.ms) != 4) break;
    for (int l = 0; l < st->nl; l++)
      if (!strcmp(r->names[st->layer[l]], name) && o >= 0 && o < st->n_opt) {
        m.done = 1;
        st->scan[l][o] = m;
      }
  }
  fclose(f);
  return ok;
}

/* Measures every option of every layer of the stage alone. */
static int scan(auto_run *r, stage *st, char *err, size_t err_size) {
  int total = st->nl * (st->n_opt - 1), done = 0;
  for (int l = 0; l < st->nl; l++)
    for (int o = 1; o < st->n_opt; o++) done += st->scan[l][o].done;
  if (done)
    fprintf(stderr, "resuming the %s scan: %d of %d layer options already measured\n",
            kind_name(st->kind), done, total);
  int cfg[MAX_LAYERS] = {0}, lut_measured = r->lut_measured, lut_found = r->lut_found;
  for (int l = 0; l < st->nl; l++)
    for (int o = 1; o < st->n_opt; o++) {
      if (st->scan[l][o].done) continue;
      if (r->deadline > 0 && (cli_now_ms() / 1e3) - r->started > r->deadline) {
        fprintf(stderr, "\nthe time budget is spent: %d %s options left unmeasured\n", total - done,
                kind_name(st->kind));
        return 0;
      }
      cfg[l] = o;
      int rc = apply(r, st, cfg, 0, 0, st->from, r->tmp, err, err_size) ||
               measure_file(r, r->tmp, st, cfg, &st->scan[l][o], err, err_size);
      cfg[l] = 0;
      if (rc) return 1;
      done++;
      save_state(r, st, NULL);
      char label[200];
      option_label(r, st, l, o, label, sizeof label);
      if (isatty(2) || done % 10 == 0 || done == total)
        fprintf(stderr, "%sscanning %s %3d/%d  %-28.28s %.2f%%   %s", isatty(2) ? "\r" : "",
                kind_name(st->kind), done, total, label, 100 * st->scan[l][o].acc,
                isatty(2) ? "" : "\n");
    }
  if (isatty(2)) fprintf(stderr, "\n");
  if (!strcmp(r->objective, "latency"))
    fprintf(stderr,
            "per-layer latency table: %d layer time(s) measured, %d found in the device's "
            "tuning database\n",
            r->lut_measured - lut_measured, r->lut_found - lut_found);
  for (int l = 0; l < st->nl; l++)
    for (int o = 1; o < st->n_opt; o++)
      if (st->scan[l][o].done) {
        char label[200];
        option_label(r, st, l, o, label, sizeof label);
        add_point(r, &st->scan[l][o], label);
      }
  return 0;
}

/* ---- the search ---------------------------------------------------------- */

/* Estimated drop (points as a fraction) and cost of a configuration: the
 * sum of each layer's own change. */
static void estimate(const auto_run *r, const stage *st, const int *cfg, double *drop,
                     double *cost) {
  *drop = 0;
  *cost = cost_of(r, &st->base_m);
  for (int l = 0; l < st->nl; l++) {
    if (!cfg[l] || !st->scan[l][cfg[l]].done) continue;
    *drop += fmax(0, st->base_m.acc - st->scan[l][cfg[l]].acc);
    *cost += cost_of(r, &st->scan[l][cfg[l]]) - cost_of(r, &st->base_m);
  }
}

/* The move (layer, option) that saves the most cost per point of estimated
 * drop and keeps the estimate within `budget`; 0 when none does. */
static int best_move(const auto_run *r, const stage *st, const int *cfg, double budget,
                     const char *tried, int *ml, int *mo) {
  double drop0, cost0, best = 0;
  estimate(r, st, cfg, &drop0, &cost0);
  int found = 0;
  for (int l = 0; l < st->nl; l++)
    for (int o = 1; o < st->n_opt; o++) {
      if (o == cfg[l] || !st->scan[l][o].done || tried[l * N_OPT + o]) continue;
      int trial[MAX_LAYERS];
      memcpy(trial, cfg, sizeof(int) * (size_t)st->nl);
      trial[l] = o;
      double drop, cost;
      estimate(r, st, trial, &drop, &cost);
      if (cost >= cost0 || !within(drop, budget)) continue;
      double gain = (cost0 - cost) / fmax(drop - drop0, 1e-4);
      if (gain > best) best = gain, *ml = l, *mo = o, found = 1;
    }
  return found;
}

static void describe(const auto_run *r, const stage *st, const int *cfg, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int l = 0; l < st->nl; l++) {
    if (st->kind == STAGE_CHANNELS && !cfg[l]) continue;
    char label[200];
    option_label(r, st, l, cfg[l], label, sizeof label);
    len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", len ? " " : "", label);
  }
  if (!out[0]) snprintf(out, size, "all channels");
}

/* Greedy moves by estimate, each checked on the validation images; a move
 * whose real drop (against the stage's model) passes `allowance` is undone
 * and not tried again. */
static int search(auto_run *r, stage *st, double allowance, int *cfg, measure *chosen, char *err,
                  size_t err_size) {
  char tried[MAX_LAYERS * N_OPT] = {0};
  *chosen = st->base_m;
  int checks = 0;
  for (int l = 0, o = 0;
       checks < 4 * st->nl + 8 && best_move(r, st, cfg, 3 * allowance, tried, &l, &o);) {
    int before = cfg[l];
    cfg[l] = o;
    tried[l * N_OPT + o] = 1;
    measure m = {0};
    if (apply(r, st, cfg, 0, 0, st->from, r->tmp, err, err_size) ||
        measure_file(r, r->tmp, NULL, NULL, &m, err, err_size))
      return 1;
    checks++;
    char label[256];
    describe(r, st, cfg, label, sizeof label);
    add_point(r, &m, label);
    int keep = within(st->base_m.acc - m.acc, allowance) && cost_of(r, &m) < cost_of(r, chosen);
    fprintf(stderr, "search %2d: %-48.48s %.2f%% %s\n", checks, label, 100 * m.acc,
            keep ? "kept" : "undone");
    if (keep)
      *chosen = m;
    else
      cfg[l] = before;
  }
  return 0;
}

/* Trains the model in `path` for `epochs` in place, its zeros kept
 * (--distill: the original is the teacher); qat: the layers' widths
 * ("NODE:BITS,..."), trained quantization-aware, or NULL. */
static int finetune(auto_run *r, const char *path, int epochs, const char *qat, char *err,
                    size_t err_size) {
  if (epochs <= 0) return 0;
  pare_train_options o;
  pare_train_options_init(&o);
  o.arch = path;
  o.dataset = r->dataset;
  o.epochs = epochs;
  o.lr = r->lr;
  o.schedule = "cosine";
  o.seed = r->seed;
  o.keep_zeros = 1;
  o.qat_layers = qat;
  if (r->distill) {
    o.teacher = r->base;
    o.alpha = 0.5f;
    o.temperature = 4.0f;
  }
  fprintf(stderr, "fine-tuning %d epoch(s)%s%s\n", epochs, r->distill ? ", distilling" : "",
          qat && *qat ? ", quantization-aware" : "");
  pare_model *tuned = NULL;
  int rc = pare_train(r->ctx, &o, &tuned, err, err_size) != PARE_OK;
  if (!rc && pare_model_save(tuned, path) != PARE_OK) rc = model_fail(tuned, err, err_size);
  pare_model_destroy(tuned);
  return rc;
}

/* ---- the stages ------------------------------------------------------------ */

/* pare_model_prune's dry look at `path` (pruning by `mode` at 0 changes
 * nothing and describes every Conv, Gemm and MatMul): *layers (pare_free). */
static int layer_report(const char *path, const char *mode, pare_prune_layer_info **layers, int *n,
                        char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, err_size) != PARE_OK) return 1;
  int rc =
      pare_model_prune(m, mode, 0, "none", layers, n) != PARE_OK ? model_fail(m, err, err_size) : 0;
  pare_model_destroy(m);
  return rc;
}

/* r->names: the layers of `path` that can be pruned. */
static int list_layers(auto_run *r, const char *path, char *err, size_t err_size) {
  pare_prune_layer_info *layers = NULL;
  int n = 0, rc = layer_report(path, "layer", &layers, &n, err, err_size);
  for (int i = 0; i < n && !rc; i++) {
    if (!layers[i].params_before || layers[i].why[0]) continue;
    if (r->nl == MAX_LAYERS) {
      snprintf(err, err_size, "more than %d layers", MAX_LAYERS);
      rc = 1;
    } else {
      snprintf(r->names[r->nl++], sizeof r->names[0], "%s", layers[i].node);
    }
  }
  pare_free(layers);
  if (!rc && !r->nl) {
    snprintf(err, err_size, "%s has no Conv, Gemm or MatMul layer with constant weights", path);
    rc = 1;
  }
  return rc;
}

/* st->layer: those of r->names whose output channels structured pruning
 * can remove. */
static int list_channel_layers(auto_run *r, stage *st, char *err, size_t err_size) {
  pare_prune_layer_info *layers = NULL;
  int n = 0, rc = layer_report(st->from, "structured", &layers, &n, err, err_size);
  for (int i = 0; i < n && !rc; i++)
    for (int l = 0; l < r->nl; l++)
      if (!strcmp(r->names[l], layers[i].node) && !layers[i].why[0] &&
          layers[i].channels_before > 1)
        st->layer[st->nl++] = l;
  pare_free(layers);
  return rc;
}

/* Sets up a stage on the model `from`, which `known` measured (this run
 * measures every model it makes). *done: the earlier run's result when it
 * finished the stage. */
static int stage_open(auto_run *r, stage *st, stage_kind kind, const char *from,
                      const measure *known, measure *done, char *err, size_t err_size) {
  st->kind = kind;
  st->n_opt = kind == STAGE_CHANNELS ? N_CH : N_OPT;
  st->base_layers_ms = -1;
  snprintf(st->from, sizeof st->from, "%s", from);
  snprintf(st->state, sizeof st->state, "%s.auto%s", r->out,
           kind == STAGE_CHANNELS ? "-channels" : "");
  if (kind == STAGE_CHANNELS) {
    if (list_channel_layers(r, st, err, err_size)) return 1;
  } else {
    st->nl = r->nl;
    for (int l = 0; l < r->nl; l++) st->layer[l] = l;
  }
  if (load_state(r, st, done)) return 0;
  memset(st->scan, 0, sizeof st->scan);
  st->base_m = *known;
  save_state(r, st, NULL);
  return 0;
}

static void print_choice(const auto_run *r, const stage *st, const int *cfg, const measure *m) {
  printf("%-24s %9s %5s %12s %12s\n", "layer", st->kind == STAGE_CHANNELS ? "channels" : "sparsity",
         st->kind == STAGE_CHANNELS ? "" : "bits", "scan acc", "scan cost");
  for (int l = 0; l < st->nl; l++) {
    const measure *s = cfg[l] ? &st->scan[l][cfg[l]] : &st->base_m;
    if (st->kind == STAGE_CHANNELS)
      printf("%-24.24s %8.0f%% %5s", r->names[st->layer[l]],
             cfg[l] ? -100 * channel_ratios[cfg[l]] : 0.0, "");
    else if (rank_of(cfg[l]) > 0)
      printf("%-24.24s %4s%3.0f%% %5d", r->names[st->layer[l]], "rank", 100 * rank_of(cfg[l]),
             bits_of(cfg[l]));
    else
      printf("%-24.24s %8.0f%% %5d", r->names[st->layer[l]], 100 * sp_of(cfg[l]), bits_of(cfg[l]));
    printf(" %11.2f%% %12.4g\n", 100 * s->acc, cost_of(r, s));
  }
  printf("%s search: validation %.2f%% before fine-tuning (its model %.2f%%), %s %.4g -> %.4g\n",
         kind_name(st->kind), 100 * m->acc, 100 * st->base_m.acc, r->objective,
         cost_of(r, &st->base_m), cost_of(r, m));
}

/* One round of a stage's search from nothing changed: its choice in cfg,
 * printed with what the scan measured. */
static int search_round(auto_run *r, stage *st, double allowance, int *cfg, char *err,
                        size_t err_size) {
  measure chosen;
  fprintf(stderr, "%s search with an allowance of %.2f points before fine-tuning\n",
          st->kind == STAGE_CHANNELS ? "channel" : "weights", 100 * allowance);
  if (search(r, st, allowance, cfg, &chosen, err, err_size)) return 1;
  print_choice(r, st, cfg, &chosen);
  return 0;
}

/* The channel stage: removes channels from the original, fine-tunes the
 * narrowed model for `epochs` into `narrow`, and keeps it when it is within
 * `share` of the budget (points as a fraction) of the original; over it,
 * the allowance halves and the search runs again (three rounds at most),
 * and after that the original goes on as it is. *used: 1 when `narrow` is
 * the model the weights stage starts from. */
static int channel_stage(auto_run *r, double share, int epochs, const char *narrow, int *used,
                         measure *narrow_m, char *err, size_t err_size) {
  stage *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, err_size, "out of memory");
    return 1;
  }
  measure done = {0}, m = {0};
  *used = 0;
  int rc = stage_open(r, st, STAGE_CHANNELS, r->base, &r->orig_m, &done, err, err_size);
  struct stat sb;
  /* A finished stage's record: the narrowed model's measure, or accuracy 0
   * when it kept every channel. Its model gone, the stage runs again. */
  int kept_all = done.done && done.acc == 0;
  if (!rc && done.done && (kept_all || stat(narrow, &sb) == 0)) {
    fprintf(stderr, "resuming: the channel stage is done (%s)\n",
            kept_all ? "channels kept" : narrow);
    *used = !kept_all;
    *narrow_m = done;
    free(st);
    return 0;
  }
  if (!rc && !st->nl) {
    fprintf(stderr, "no layer of %s has output channels to remove: the channel stage is skipped\n",
            r->base);
    save_state(r, st, &m);
    free(st);
    return 0;
  }
  if (!rc) rc = scan(r, st, err, err_size);
  double allowance = allowance_before(share, epochs);
  for (int round = 0; round < 3 && !rc; round++, allowance /= 2) {
    int cfg[MAX_LAYERS] = {0};
    if ((rc = search_round(r, st, allowance, cfg, err, err_size))) break;
    int any = 0;
    for (int l = 0; l < st->nl; l++) any |= cfg[l] != 0;
    if (!any) break;
    if ((rc = apply(r, st, cfg, 0, 0, r->base, narrow, err, err_size) ||
              finetune(r, narrow, epochs, NULL, err, err_size) ||
              measure_file(r, narrow, NULL, NULL, &m, err, err_size)))
      break;
    char label[256];
    describe(r, st, cfg, label, sizeof label);
    snprintf(label + strlen(label), sizeof label - strlen(label), " (fine-tuned)");
    add_point(r, &m, label);
    printf("channels removed and fine-tuned: validation %.2f%% (%+.2f points), %.0f bytes\n",
           100 * m.acc, 100 * (m.acc - r->orig_m.acc), m.bytes);
    if (within(r->orig_m.acc - m.acc, share)) {
      *used = 1;
      break;
    }
  }
  if (!rc && !*used) {
    fprintf(stderr, "the channel stage keeps every channel\n");
    remove(narrow);
    m.acc = 0;
  }
  if (!rc) {
    save_state(r, st, &m);
    *narrow_m = m;
    /* The weights stage's scan was of another model. */
    char weights_state[1200];
    snprintf(weights_state, sizeof weights_state, "%s.auto", r->out);
    remove(weights_state);
  }
  free(st);
  return rc;
}

/* Quantizes r->out's weights to their widths (widths_only), with uint8
 * activations where that runs faster on this device: int8 activations
 * leave the file as it is, and where the device has no faster integer
 * kernels their quantize/dequantize pairs only cost time (and a little
 * accuracy). any: some layer has a width below 32. */
static int quantize_widths(auto_run *r, const stage *st, const int *widths_only, int any, char *err,
                           size_t err_size) {
  if (!any) return 0;
  if (apply(r, st, widths_only, 0, 1, r->out, r->tmp, err, err_size) ||
      apply(r, st, widths_only, 0, 0, r->out, r->out, err, err_size))
    return 1;
  /* Alternating, twice each, the faster of each pair kept. */
  double ms_w = 1e30, ms_wa = 1e30;
  for (int k = 0; k < 2; k++) {
    double a, b;
    if (latency_of(r, r->out, &a, err, err_size) || latency_of(r, r->tmp, &b, err, err_size))
      return 1;
    ms_w = fmin(ms_w, a);
    ms_wa = fmin(ms_wa, b);
  }
  int act = ms_wa < 0.97 * ms_w;
  printf("batch-64 latency with uint8 activations %.3f ms, weights alone %.3f ms: %s\n", ms_wa,
         ms_w, act ? "uint8 activations" : "float activations");
  if (act && rename(r->tmp, r->out) != 0) {
    snprintf(err, err_size, "cannot replace %.900s", r->out);
    return 1;
  }
  return 0;
}

/* The weights stage on `from`: scan, search and finish, in rounds (the
 * fine-tuned result is checked against the original; over --max-drop the
 * allowance halves and the search runs again, three rounds at most). */
static int weights_stage(auto_run *r, const char *from, const measure *from_m, double budget,
                         int epochs, measure *final, char *err, size_t err_size) {
  stage *st = calloc(1, sizeof *st);
  if (!st) {
    snprintf(err, err_size, "out of memory");
    return 1;
  }
  int rc = stage_open(r, st, STAGE_WEIGHTS, from, from_m, NULL, err, err_size) ||
           scan(r, st, err, err_size);
  /* What the channel stage spent comes off the budget; what it won is not
   * spent again (validation images are training images). */
  double left = budget - fmax(0, r->orig_m.acc - st->base_m.acc);
  double allowance = allowance_before(fmax(0, left), epochs);
  for (int round = 0; round < 3 && !rc; round++, allowance /= 2) {
    int cfg[MAX_LAYERS] = {0};
    if ((rc = search_round(r, st, allowance, cfg, err, err_size))) break;
    /* Prune, fine-tune (each layer seeing its weights at their width),
     * then quantize the widths. */
    int widths_only[MAX_LAYERS];
    char qat[LIST_BYTES]; /* names of up to 127 characters, ":BITS," */
    size_t len = 0;
    qat[0] = 0;
    for (int l = 0; l < r->nl; l++) {
      widths_only[l] = cfg[l] / N_FORM * N_FORM;
      if (bits_of(cfg[l]) < 32 && rank_of(cfg[l]) > 0) /* factored: its two layers */
        len += (size_t)snprintf(qat + len, len < sizeof qat ? sizeof qat - len : 0,
                                "%s%s.lowrank_a:%d,%s.lowrank_b:%d", len ? "," : "", r->names[l],
                                bits_of(cfg[l]), r->names[l], bits_of(cfg[l]));
      else if (bits_of(cfg[l]) < 32)
        len += (size_t)snprintf(qat + len, len < sizeof qat ? sizeof qat - len : 0, "%s%s:%d",
                                len ? "," : "", r->names[l], bits_of(cfg[l]));
    }
    if ((rc = apply(r, st, cfg, 1, 0, from, r->out, err, err_size) ||
              finetune(r, r->out, epochs, qat, err, err_size) ||
              quantize_widths(r, st, widths_only, len > 0, err, err_size) ||
              measure_file(r, r->out, NULL, NULL, final, err, err_size)))
      break;
    printf("fine-tuned and quantized: validation %.2f%% (%+.2f points against the original), "
           "%.0f bytes\n",
           100 * final->acc, 100 * (final->acc - r->orig_m.acc), final->bytes);
    char label[256];
    describe(r, st, cfg, label, sizeof label);
    snprintf(label + strlen(label), sizeof label - strlen(label), " (final)");
    add_point(r, final, label);
    if (within(r->orig_m.acc - final->acc, budget)) break;
  }
  free(st);
  return rc;
}

/* ---- the command ------------------------------------------------------------ */

int cmd_auto(int argc, char **argv) {
  const char *cmd = "auto", *report = NULL, *backend = "auto", *device = NULL;
  auto_run *r = calloc(1, sizeof *r);
  if (!r) return cli_fail(cmd, "out of memory%s", "");
  r->dataset = "fashion-mnist";
  r->objective = "size";
  r->val_images = 2000;
  r->reps = 10;
  r->lr = 0.01f;
  float max_drop = 0.5f, minutes = 0, channel_share = 0.5f;
  long long epochs = 2, channel_epochs = -1, val = 2000, seed = 1;
  int rc = 0, channels = 1;
  for (int i = 1; i < argc && !rc; i++) {
    const char *v;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage(cmd);
      free(r);
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      r->dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "--max-drop", &v)) {
      rc = cli_parse_float(cmd, "--max-drop", v, &max_drop);
      if (!rc && !(max_drop >= 0 && max_drop < 100))
        rc = cli_usage_error(cmd, "--max-drop is in points, 0 to 100, not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--objective", &v)) {
      r->objective = v;
      if (strcmp(v, "size") && strcmp(v, "latency"))
        rc = cli_usage_error(cmd, "--objective is size or latency, not '%s'", v);
    } else if (cli_flag_value(argc, argv, &i, "--budget-minutes", &v)) {
      rc = cli_parse_float(cmd, "--budget-minutes", v, &minutes);
    } else if (cli_flag_value(argc, argv, &i, "--finetune-epochs", &v)) {
      rc = cli_parse_count(cmd, "--finetune-epochs", v, 0, 1000, &epochs);
    } else if (cli_flag_value(argc, argv, &i, "--channel-epochs", &v)) {
      rc = cli_parse_count(cmd, "--channel-epochs", v, 0, 1000, &channel_epochs);
    } else if (cli_flag_value(argc, argv, &i, "--channel-share", &v)) {
      rc = cli_parse_float(cmd, "--channel-share", v, &channel_share);
      if (!rc && !(channel_share >= 0 && channel_share <= 1))
        rc = cli_usage_error(cmd, "--channel-share is a fraction of --max-drop, 0 to 1, not %s", v);
    } else if (!strcmp(argv[i], "--no-channels")) {
      channels = 0;
    } else if (cli_flag_value(argc, argv, &i, "--lr", &v)) {
      rc = cli_parse_float(cmd, "--lr", v, &r->lr);
    } else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
      rc = cli_parse_count(cmd, "--seed", v, 0, INT64_MAX, &seed);
    } else if (cli_flag_value(argc, argv, &i, "--val-images", &v)) {
      rc = cli_parse_count(cmd, "--val-images", v, 100, 1 << 24, &val);
    } else if (!strcmp(argv[i], "--distill")) {
      r->distill = 1;
    } else if (cli_flag_value(argc, argv, &i, "--report", &v)) {
      report = v;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      r->out = v;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] != '-' && !r->base) {
      r->base = argv[i];
    } else {
      rc = cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[i]);
    }
  }
  if (!rc && !r->base) rc = cli_usage_error(cmd, "no model given%s", "");
  if (!rc && !r->out) rc = cli_usage_error(cmd, "no output given (-o out.pare)%s", "");
  if (!rc && cli_parse_only()) {
    free(r);
    return 0;
  }
  if (rc) {
    free(r);
    return rc;
  }
  if (channel_epochs < 0) channel_epochs = epochs;
  r->val_images = val;
  r->seed = (uint64_t)seed;
  r->started = (cli_now_ms() / 1e3);
  r->deadline = minutes > 0 ? 60.0 * minutes : 0;
  snprintf(r->tmp, sizeof r->tmp, "%s.auto-trial.pare", r->out);
  char narrow[1100];
  snprintf(narrow, sizeof narrow, "%s.auto-channels.pare", r->out);
  char err[1024];
  double budget = max_drop / 100.0;
  rc = cli_open_context(cmd, backend, device, &r->ctx);
  if (!rc && list_layers(r, r->base, err, sizeof err)) rc = cli_fail(cmd, "%s", err);
  if (!rc) {
    fprintf(stderr, "measuring %s on %lld validation images\n", r->base, (long long)val);
    if (measure_file(r, r->base, NULL, NULL, &r->orig_m, err, sizeof err))
      rc = cli_fail(cmd, "%s", err);
  }
  if (!rc) add_point(r, &r->orig_m, "original");
  int narrowed = 0;
  measure narrow_m = {0}, final = {0};
  if (!rc && channels &&
      channel_stage(r, channel_share * budget, (int)channel_epochs, narrow, &narrowed, &narrow_m,
                    err, sizeof err))
    rc = cli_fail(cmd, "%s", err);
  if (!rc && weights_stage(r, narrowed ? narrow : r->base, narrowed ? &narrow_m : &r->orig_m,
                           budget, (int)epochs, &final, err, sizeof err))
    rc = cli_fail(cmd, "%s", err);

  if (!rc && !within(r->orig_m.acc - final.acc, budget))
    fprintf(stderr,
            "pare auto: warning: no configuration met --max-drop %.2f after three rounds; "
            "kept the last, %.2f points below the original (more --finetune-epochs, or a "
            "larger --max-drop)\n",
            (double)max_drop, 100 * (r->orig_m.acc - final.acc));
  if (!rc) {
    printf("final: validation %.2f%% (original %.2f%%), %.0f bytes (original %.0f)%s",
           100 * final.acc, 100 * r->orig_m.acc, final.bytes, r->orig_m.bytes,
           final.ms > 0 ? "" : "\n");
    if (final.ms > 0) printf(", %.3f ms at batch 64 (original %.3f)\n", final.ms, r->orig_m.ms);
    char front[1200], svg[1200], svg_ms[1200];
    snprintf(front, sizeof front, "%s-front.csv", r->out);
    snprintf(svg, sizeof svg, "%s-front.svg", r->out);
    snprintf(svg_ms, sizeof svg_ms, "%s-front-latency.svg", r->out);
    int timed = 0;
    for (int i = 0; i < r->n_points; i++) timed |= r->points[i].ms > 0;
    if (report_write_front_csv(front, r->points, r->n_points, err, sizeof err) ||
        report_write_front_svg(svg, r->points, r->n_points, 0, err, sizeof err) ||
        (timed && report_write_front_svg(svg_ms, r->points, r->n_points, 1, err, sizeof err)))
      rc = cli_fail(cmd, "%s", err);
    else
      printf("Pareto front and every point measured: %s; plotted: %s%s%s\n", front, svg,
             timed ? ", " : "", timed ? svg_ms : "");
    if (!rc && report) {
      char title[600];
      snprintf(title, sizeof title, "pare auto: %s (%s, max drop %.2f points)", r->base,
               r->objective, (double)max_drop);
      if (report_write_front_html(report, title, r->points, r->n_points, err, sizeof err))
        rc = cli_fail(cmd, "%s", err);
      else
        printf("report: %s\n", report);
    }
    printf("saved %s\n", r->out);
  }
  remove(r->tmp);
  free(r->points);
  pare_context_destroy(r->ctx);
  free(r);
  return rc;
}
