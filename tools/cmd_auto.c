/* pare auto: automated, hardware-aware compression. Each prunable layer
 * (Conv, Gemm, MatMul) gets a sparsity and a weight width from a menu; the
 * choice comes from a per-layer sensitivity scan (validation accuracy with
 * that layer alone changed) and the cost of each option measured on this
 * device (bytes on disk, or batch-64 latency), a greedy search under the
 * accuracy budget checked on the validation images, a final fine-tune
 * (optionally distilling from the original), and int8 activations. The
 * scan is kept in OUT.auto so an interrupted run resumes where it stopped.
 * See docs/compression.md ("Automated compression"). */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/cli.h"
#include "tools/report.h"

static const double sparsities[] = {0, 0.5, 0.7, 0.8, 0.9, 0.95};
static const int widths[] = {32, 8, 4};
enum { N_SP = 6, N_W = 3, N_OPT = N_SP * N_W, MAX_LAYERS = 64 };

typedef struct measure {
  int done;
  double acc; /* validation top-1 */
  double bytes, ms;
} measure;

typedef struct auto_run {
  const char *base, *out, *dataset, *objective;
  pare_context *ctx;
  int nl;
  char names[MAX_LAYERS][128];
  int64_t val_images;
  int reps;
  measure base_m;
  measure scan[MAX_LAYERS][N_OPT];
  char tmp[1100], state[1100];
  report_point *points;
  int n_points, cap_points;
  double deadline; /* seconds since the start; 0: none */
  double started;
} auto_run;

static double sp_of(int o) { return sparsities[o % N_SP]; }
static int bits_of(int o) { return widths[o / N_SP]; }

/* Comma-separated names of every layer but `keep` (-1: all). */
static void others(const auto_run *r, int keep, const int *cfg, int want_bits, char *out,
                   size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int l = 0; l < r->nl; l++) {
    if (l == keep || (cfg && bits_of(cfg[l]) == want_bits)) continue;
    len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s", len ? "," : "",
                            r->names[l]);
  }
  if (!out[0]) snprintf(out, size, "none"); /* the dense lists' word for no layer */
}

/* The model with layer options cfg applied (pruning only when prune_only),
 * saved to path. act: quantize activations too (int8). */
static int apply(const auto_run *r, const int *cfg, int prune_only, int act, const char *from,
                 const char *path, char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(from, &m, err, err_size) != PARE_OK) return 1;
  char dense[8192];
  int rc = 0;
  for (int l = 0; l < r->nl && !rc; l++) {
    if (sp_of(cfg[l]) <= 0) continue;
    others(r, l, NULL, 0, dense, sizeof dense);
    if (pare_model_prune(m, "layer", sp_of(cfg[l]), dense, NULL, NULL) != PARE_OK) rc = 1;
  }
  for (int w = 1; w < N_W && !rc && !prune_only; w++) {
    int any = 0;
    for (int l = 0; l < r->nl; l++) any |= bits_of(cfg[l]) == widths[w];
    if (!any) continue;
    char spec[16];
    snprintf(spec, sizeof spec, act ? "w%da8" : "w%d", widths[w]);
    others(r, -1, cfg, widths[w], dense, sizeof dense);
    if (pare_model_quantize(m, spec, "minmax", r->dataset, 500, dense, 0, NULL, NULL) != PARE_OK)
      rc = 1;
  }
  if (rc)
    snprintf(err, err_size, "%s", pare_model_last_error(m));
  else if (pare_model_save(m, path) != PARE_OK) {
    snprintf(err, err_size, "%s", pare_model_last_error(m));
    rc = 1;
  }
  pare_model_destroy(m);
  return rc;
}

/* Validation accuracy, bytes and (latency objective) time of a model file. */
static int measure_file(auto_run *r, const char *path, measure *out, char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, err_size) != PARE_OK) return 1;
  pare_eval_result e;
  int rc = pare_model_evaluate(r->ctx, m, r->dataset, "train", (size_t)r->val_images, 250, NULL,
                               NULL, &e, err, err_size) != PARE_OK;
  struct stat sb;
  if (!rc) {
    out->acc = e.accuracy;
    pare_free(e.confusion);
    out->bytes = stat(path, &sb) == 0 ? (double)sb.st_size : 0;
    out->ms = 0;
    if (!strcmp(r->objective, "latency") && cli_latency(r->ctx, m, 64, r->reps, &out->ms)) {
      snprintf(err, err_size, "%s", pare_model_last_error(m));
      rc = 1;
    }
    out->done = !rc;
  }
  pare_model_destroy(m);
  return rc;
}

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

static void save_state(const auto_run *r) {
  char tmp[1200];
  snprintf(tmp, sizeof tmp, "%s.tmp", r->state);
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  fprintf(f, "pare-auto 1 %s %s %lld\n", r->objective, r->dataset, (long long)r->val_images);
  fprintf(f, "base %.8f %.0f %.6f\n", r->base_m.acc, r->base_m.bytes, r->base_m.ms);
  for (int l = 0; l < r->nl; l++)
    for (int o = 0; o < N_OPT; o++)
      if (r->scan[l][o].done)
        fprintf(f, "%s %d %.8f %.0f %.6f\n", r->names[l], o, r->scan[l][o].acc, r->scan[l][o].bytes,
                r->scan[l][o].ms);
  if (fclose(f) == 0) rename(tmp, r->state);
}

/* Loads what an earlier run of the same settings measured; 1 when it did. */
static int load_state(auto_run *r) {
  FILE *f = fopen(r->state, "r");
  if (!f) return 0;
  char obj[32], ds[512];
  long long val = 0;
  int ok = fscanf(f, "pare-auto 1 %31s %511s %lld\n", obj, ds, &val) == 3 &&
           !strcmp(obj, r->objective) && !strcmp(ds, r->dataset) && val == r->val_images;
  if (ok)
    ok = fscanf(f, "base %lf %lf %lf\n", &r->base_m.acc, &r->base_m.bytes, &r->base_m.ms) == 3;
  if (ok) r->base_m.done = 1;
  char name[128];
  int o;
  measure m;
  while (ok && fscanf(f, "%127s %d %lf %lf %lf\n", name, &o, &m.acc, &m.bytes, &m.ms) == 5) {
    for (int l = 0; l < r->nl; l++)
      if (!strcmp(r->names[l], name) && o >= 0 && o < N_OPT) {
        m.done = 1;
        r->scan[l][o] = m;
      }
  }
  fclose(f);
  return ok;
}

static int scan(auto_run *r, char *err, size_t err_size) {
  int total = r->nl * (N_OPT - 1), done = 0;
  for (int l = 0; l < r->nl; l++)
    for (int o = 1; o < N_OPT; o++) done += r->scan[l][o].done;
  if (done) fprintf(stderr, "resuming: %d of %d layer options already measured\n", done, total);
  int cfg[MAX_LAYERS] = {0};
  for (int l = 0; l < r->nl; l++)
    for (int o = 1; o < N_OPT; o++) {
      if (r->scan[l][o].done) continue;
      if (r->deadline > 0 && (cli_now_ms() / 1e3) - r->started > r->deadline) {
        fprintf(stderr, "\nthe time budget is spent: %d layer options left unmeasured\n",
                total - done);
        return 0;
      }
      cfg[l] = o;
      int rc = apply(r, cfg, 0, 0, r->base, r->tmp, err, err_size) ||
               measure_file(r, r->tmp, &r->scan[l][o], err, err_size);
      cfg[l] = 0;
      if (rc) return 1;
      done++;
      save_state(r);
      if (isatty(2) || done % 10 == 0 || done == total)
        fprintf(stderr, "%sscanning %3d/%d  %-20.20s sparsity %.2f, %2d bits: %.2f%%   %s",
                isatty(2) ? "\r" : "", done, total, r->names[l], sp_of(o), bits_of(o),
                100 * r->scan[l][o].acc, isatty(2) ? "" : "\n");
    }
  if (isatty(2)) fprintf(stderr, "\n");
  return 0;
}

/* ---- the search ---------------------------------------------------------- */

/* Estimated drop (points as a fraction) and cost of a configuration: the
 * sum of each layer's own change. */
static void estimate(const auto_run *r, const int *cfg, double *drop, double *cost) {
  *drop = 0;
  *cost = cost_of(r, &r->base_m);
  for (int l = 0; l < r->nl; l++) {
    if (!cfg[l] || !r->scan[l][cfg[l]].done) continue;
    *drop += fmax(0, r->base_m.acc - r->scan[l][cfg[l]].acc);
    *cost += cost_of(r, &r->scan[l][cfg[l]]) - cost_of(r, &r->base_m);
  }
}

/* The move (layer, option) that saves the most cost per point of estimated
 * drop and keeps the estimate within `budget`; 0 when none does. */
static int best_move(const auto_run *r, const int *cfg, double budget, const char *tried, int *ml,
                     int *mo) {
  double drop0, cost0, best = 0;
  estimate(r, cfg, &drop0, &cost0);
  int found = 0;
  for (int l = 0; l < r->nl; l++)
    for (int o = 1; o < N_OPT; o++) {
      if (o == cfg[l] || !r->scan[l][o].done || tried[l * N_OPT + o]) continue;
      int trial[MAX_LAYERS];
      memcpy(trial, cfg, sizeof(int) * (size_t)r->nl);
      trial[l] = o;
      double drop, cost;
      estimate(r, trial, &drop, &cost);
      if (cost >= cost0 || drop > budget) continue;
      double gain = (cost0 - cost) / fmax(drop - drop0, 1e-4);
      if (gain > best) best = gain, *ml = l, *mo = o, found = 1;
    }
  return found;
}

static void describe(const auto_run *r, const int *cfg, char *out, size_t size) {
  size_t len = 0;
  out[0] = 0;
  for (int l = 0; l < r->nl; l++)
    len += (size_t)snprintf(out + len, len < size ? size - len : 0, "%s%s:%g/%d", l ? " " : "",
                            r->names[l], sp_of(cfg[l]), bits_of(cfg[l]));
}

/* Greedy moves by estimate, each checked on the validation images; a move
 * whose real drop passes the budget is undone and not tried again. */
static int search(auto_run *r, double budget, int *cfg, measure *chosen, char *err,
                  size_t err_size) {
  char tried[MAX_LAYERS * N_OPT] = {0};
  *chosen = r->base_m;
  int checks = 0;
  for (int l = 0, o = 0; checks < 4 * r->nl + 8 && best_move(r, cfg, 3 * budget, tried, &l, &o);) {
    int before = cfg[l];
    cfg[l] = o;
    tried[l * N_OPT + o] = 1;
    measure m = {0};
    if (apply(r, cfg, 0, 0, r->base, r->tmp, err, err_size) ||
        measure_file(r, r->tmp, &m, err, err_size))
      return 1;
    checks++;
    char label[256];
    describe(r, cfg, label, sizeof label);
    add_point(r, &m, label);
    int keep = r->base_m.acc - m.acc <= budget && cost_of(r, &m) < cost_of(r, chosen);
    fprintf(stderr, "search %2d: %-48.48s %.2f%% %s\n", checks, label, 100 * m.acc,
            keep ? "kept" : "undone");
    if (keep)
      *chosen = m;
    else
      cfg[l] = before;
  }
  return 0;
}

/* The model of configuration cfg in r->out: pruned, fine-tuned with the
 * zeros kept (distilling from the original), quantized with int8
 * activations; then measured. */
static int finish(auto_run *r, const int *cfg, int epochs, float lr, int distill, measure *out,
                  char *err, size_t err_size) {
  if (apply(r, cfg, 1, 0, r->base, r->out, err, err_size)) return 1;
  if (epochs > 0) {
    pare_train_options o;
    pare_train_options_init(&o);
    o.arch = r->out;
    o.dataset = r->dataset;
    o.epochs = epochs;
    o.lr = lr;
    o.schedule = "cosine";
    o.keep_zeros = 1;
    if (distill) {
      o.teacher = r->base;
      o.alpha = 0.5f;
      o.temperature = 4.0f;
    }
    fprintf(stderr, "fine-tuning %d epoch(s)%s\n", epochs, distill ? ", distilling" : "");
    pare_model *tuned = NULL;
    int rc = pare_train(r->ctx, &o, &tuned, err, err_size) != PARE_OK;
    if (!rc && pare_model_save(tuned, r->out) != PARE_OK) {
      snprintf(err, err_size, "%s", pare_model_last_error(tuned));
      rc = 1;
    }
    pare_model_destroy(tuned);
    if (rc) return 1;
  }
  int widths_only[MAX_LAYERS];
  for (int l = 0; l < r->nl; l++) widths_only[l] = cfg[l] / N_SP * N_SP; /* already pruned */
  return apply(r, widths_only, 0, 1, r->out, r->out, err, err_size) ||
         measure_file(r, r->out, out, err, err_size);
}

/* ---- the command ------------------------------------------------------------ */

static int list_layers(auto_run *r, char *err, size_t err_size) {
  pare_model *m = NULL;
  if (pare_model_load(r->base, &m, err, err_size) != PARE_OK) return 1;
  pare_prune_layer_info *layers = NULL;
  int n = 0, rc = 0;
  /* A dry look: pruning at 0 changes nothing and lists the layers. */
  if (pare_model_prune(m, "layer", 0, "none", &layers, &n) != PARE_OK) {
    snprintf(err, err_size, "%s", pare_model_last_error(m));
    rc = 1;
  }
  for (int i = 0; i < n && !rc; i++) {
    if (!layers[i].params_before || layers[i].why[0]) continue;
    if (r->nl == MAX_LAYERS) {
      snprintf(err, err_size, "more than %d layers", MAX_LAYERS);
      rc = 1;
      break;
    }
    snprintf(r->names[r->nl++], sizeof r->names[0], "%s", layers[i].node);
  }
  pare_free(layers);
  pare_model_destroy(m);
  if (!rc && !r->nl) {
    snprintf(err, err_size, "%s has no Conv, Gemm or MatMul layer with constant weights", r->base);
    rc = 1;
  }
  return rc;
}

int cmd_auto(int argc, char **argv) {
  const char *cmd = "auto", *report = NULL, *backend = "auto", *device = NULL;
  auto_run *r = calloc(1, sizeof *r);
  if (!r) return cli_fail(cmd, "out of memory%s", "");
  r->dataset = "fashion-mnist";
  r->objective = "size";
  r->val_images = 2000;
  r->reps = 10;
  float max_drop = 0.5f, lr = 0.01f, minutes = 0;
  long long epochs = 2, val = 2000;
  int distill = 0, rc = 0;
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
    } else if (cli_flag_value(argc, argv, &i, "--lr", &v)) {
      rc = cli_parse_float(cmd, "--lr", v, &lr);
    } else if (cli_flag_value(argc, argv, &i, "--val-images", &v)) {
      rc = cli_parse_count(cmd, "--val-images", v, 100, 1 << 24, &val);
    } else if (!strcmp(argv[i], "--distill")) {
      distill = 1;
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
  r->val_images = val;
  r->started = (cli_now_ms() / 1e3);
  r->deadline = minutes > 0 ? 60.0 * minutes : 0;
  snprintf(r->tmp, sizeof r->tmp, "%s.auto-trial.pare", r->out);
  snprintf(r->state, sizeof r->state, "%s.auto", r->out);
  char err[1024];
  rc = cli_open_context(cmd, backend, device, &r->ctx);
  if (!rc && list_layers(r, err, sizeof err)) rc = cli_fail(cmd, "%s", err);
  int resumed = !rc && load_state(r);
  if (!rc && !resumed) {
    fprintf(stderr, "measuring %s on %lld validation images\n", r->base, (long long)val);
    if (measure_file(r, r->base, &r->base_m, err, sizeof err)) rc = cli_fail(cmd, "%s", err);
    if (!rc) save_state(r);
  }
  if (!rc) add_point(r, &r->base_m, "original");
  if (!rc && scan(r, err, sizeof err)) rc = cli_fail(cmd, "%s", err);
  for (int l = 0; l < r->nl && !rc; l++)
    for (int o = 1; o < N_OPT; o++)
      if (r->scan[l][o].done) {
        char label[200];
        snprintf(label, sizeof label, "%s:%g/%d", r->names[l], sp_of(o), bits_of(o));
        add_point(r, &r->scan[l][o], label);
      }
  /* Fine-tuning wins back much of what pruning a layer alone costs, so the
   * search may spend a larger budget before it (6x the allowed drop), and
   * the fine-tuned result is checked against the real budget; over it, the
   * allowance halves and the search runs again (three rounds at most). */
  double allowance = max_drop / 100.0 * (epochs > 0 ? 6 : 1);
  int cfg[MAX_LAYERS] = {0};
  measure final = {0};
  for (int round = 0; round < 3 && !rc; round++, allowance /= 2) {
    memset(cfg, 0, sizeof cfg);
    measure chosen;
    fprintf(stderr, "search with an allowance of %.2f points before fine-tuning\n",
            100 * allowance);
    if (search(r, allowance, cfg, &chosen, err, sizeof err)) {
      rc = cli_fail(cmd, "%s", err);
      break;
    }
    printf("%-24s %9s %5s %12s %12s\n", "layer", "sparsity", "bits", "scan acc", "scan cost");
    for (int l = 0; l < r->nl; l++)
      printf("%-24.24s %8.0f%% %5d %11.2f%% %12.4g\n", r->names[l], 100 * sp_of(cfg[l]),
             bits_of(cfg[l]), 100 * (cfg[l] ? r->scan[l][cfg[l]].acc : r->base_m.acc),
             cfg[l] ? cost_of(r, &r->scan[l][cfg[l]]) : cost_of(r, &r->base_m));
    printf("search: validation %.2f%% before fine-tuning (original %.2f%%), %s %.4g -> %.4g\n",
           100 * chosen.acc, 100 * r->base_m.acc, r->objective, cost_of(r, &r->base_m),
           cost_of(r, &chosen));
    rc = finish(r, cfg, (int)epochs, lr, distill, &final, err, sizeof err);
    if (rc) {
      rc = cli_fail(cmd, "%s", err);
      break;
    }
    printf("fine-tuned and quantized: validation %.2f%% (%+.2f points), %.0f bytes\n",
           100 * final.acc, 100 * (final.acc - r->base_m.acc), final.bytes);
    char label[256];
    describe(r, cfg, label, sizeof label);
    snprintf(label + strlen(label), sizeof label - strlen(label), " (final)");
    add_point(r, &final, label);
    if (r->base_m.acc - final.acc <= max_drop / 100.0) break;
  }

  if (!rc && r->base_m.acc - final.acc > max_drop / 100.0)
    fprintf(stderr,
            "pare auto: warning: no configuration met --max-drop %.2f after three rounds; "
            "kept the last, %.2f points below the original (more --finetune-epochs, or a "
            "larger --max-drop)\n",
            (double)max_drop, 100 * (r->base_m.acc - final.acc));
  if (!rc) {
    printf("final: validation %.2f%%, %.0f bytes%s", 100 * final.acc, final.bytes,
           final.ms > 0 ? "" : "\n");
    if (final.ms > 0) printf(", %.3f ms at batch 64\n", final.ms);
    char front[1200];
    snprintf(front, sizeof front, "%s-front.csv", r->out);
    if (report_write_front_csv(front, r->points, r->n_points, err, sizeof err))
      rc = cli_fail(cmd, "%s", err);
    else
      printf("Pareto front and every point measured: %s\n", front);
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
