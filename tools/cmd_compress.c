/* pare compress: pruning, low-rank factorization and weight sharing, then
 * optional fine-tuning and quantization, into a new model file. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

static void print_factor_table(const pare_factor_layer *l, int n) {
  int64_t before = 0, after = 0;
  printf("%-24s %-6s %11s %6s %10s %10s %7s %17s  %s\n", "node", "op", "matrix", "rank", "params",
         "after", "energy", "ms alone/factored", "");
  for (int i = 0; i < n; i++) {
    char shape[32] = "-";
    if (l[i].rows)
      snprintf(shape, sizeof shape, "%lldx%lld", (long long)l[i].rows, (long long)l[i].cols);
    char ms[40] = "-";
    if (l[i].ms_before > 0) snprintf(ms, sizeof ms, "%.3f/%.3f", l[i].ms_before, l[i].ms_after);
    char how[160];
    snprintf(how, sizeof how, "%s",
             !l[i].factored    ? l[i].why
             : l[i].data_aware ? "factored (fitted to its inputs)"
                               : "factored");
    if (l[i].factored && l[i].accuracy > 0)
      snprintf(how, sizeof how, "factored (validation %.2f%%)", 100.0 * l[i].accuracy);
    printf("%-24.24s %-6s %11s %6lld %10lld %10lld %6.1f%% %17s  %s\n", l[i].node, l[i].op, shape,
           (long long)l[i].rank, (long long)l[i].params_before, (long long)l[i].params_after,
           100.0 * l[i].energy, ms, how);
    before += l[i].params_before;
    after += l[i].factored ? l[i].params_after : l[i].params_before;
  }
  if (before)
    printf("weights of these layers: %lld -> %lld parameters (%.1f%%)\n", (long long)before,
           (long long)after, 100.0 * (double)after / (double)before);
}

static void print_prune_table(const pare_prune_layer_info *l, int n) {
  int64_t params = 0, zeros = 0, before = 0;
  printf("%-24s %-6s %10s %10s %9s %10s  %s\n", "node", "op", "params", "after", "sparsity",
         "channels", "");
  for (int i = 0; i < n; i++) {
    char ch[32];
    snprintf(ch, sizeof ch, "%lld/%lld", (long long)l[i].channels, (long long)l[i].channels_before);
    printf("%-24.24s %-6s %10lld %10lld %8.1f%% %10s  %s\n", l[i].node, l[i].op,
           (long long)l[i].params_before, (long long)l[i].params,
           l[i].params ? 100.0 * (double)l[i].zeros / (double)l[i].params : 0.0, ch,
           l[i].pruned ? "pruned" : l[i].why);
    before += l[i].params_before;
    params += l[i].params;
    zeros += l[i].zeros;
  }
  if (params)
    printf("weights of these layers: %lld -> %lld nonzero (%.1f%% sparse, %.2fx fewer)\n",
           (long long)before, (long long)(params - zeros), 100.0 * (double)zeros / (double)params,
           params > zeros ? (double)before / (double)(params - zeros) : 0.0);
}

typedef struct finetune_opts {
  const char *dataset, *schedule;
  float lr, weight_decay;
  long long batch, seed;
  int keep_zeros;
  const char *teacher; /* distil from this model, or NULL */
  float alpha, temperature;
  int qat_bits;    /* quantization-aware fine-tuning, or 0 */
  int keep_shared; /* shared weights train as centroids */
} finetune_opts;

/* Trains the model saved at `path` for `epochs` and saves it back. */
static int finetune(const char *cmd, pare_context *ctx, const char *path, int epochs, float lr,
                    const char *schedule, const finetune_opts *f) {
  pare_train_options o;
  pare_train_options_init(&o);
  o.arch = path;
  o.dataset = f->dataset;
  o.epochs = epochs;
  o.lr = lr;
  o.weight_decay = f->weight_decay;
  o.batch = (int)f->batch;
  o.seed = (uint64_t)f->seed;
  o.schedule = schedule;
  o.keep_zeros = f->keep_zeros;
  o.qat_bits = f->qat_bits;
  o.keep_shared = f->keep_shared;
  if (f->teacher) {
    o.teacher = f->teacher;
    o.alpha = f->alpha;
    o.temperature = f->temperature;
  }
  char err[1024];
  pare_model *tuned = NULL;
  int rc = 0;
  if (pare_train(ctx, &o, &tuned, err, sizeof err) != PARE_OK)
    rc = cli_fail(cmd, "fine-tuning: %s", err);
  else if (pare_model_save(tuned, path) != PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(tuned));
  pare_model_destroy(tuned);
  return rc;
}

static int prune(const char *cmd, pare_model *m, const char *mode, double amount,
                 const char *dense) {
  pare_prune_layer_info *layers = NULL;
  int n = 0;
  if (pare_model_prune(m, mode, amount, dense, &layers, &n) != PARE_OK)
    return cli_fail(cmd, "%s", pare_model_last_error(m));
  print_prune_table(layers, n);
  pare_free(layers);
  return 0;
}

/* The options of epoch e (from 1) when training one epoch at a time: a
 * seed of its own, so that every epoch draws a new order of the images
 * (with one seed, each call would replay the first epoch's order). */
static finetune_opts epoch_opts(const finetune_opts *f, int e) {
  finetune_opts g = *f;
  g.seed = f->seed + (long long)(e - 1) * 1000003;
  return g;
}

/* The rate of fine-tuning epoch e of E (from 1) when training one epoch at
 * a time: a cosine over the epochs from lr, constant within each. */
static float epoch_lr(float lr, int e, int epochs) {
  return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979 * (e - 1) / epochs)));
}

/* Gradual pruning: the sparsity rises over the first R = ramp·E of the E
 * fine-tuning epochs (at least one), S·(1 − (1 − e/R)³) before epoch e,
 * and the epochs after R train at S; the rate follows a cosine over all
 * the epochs, constant within each. */
static int prune_gradually(const char *cmd, pare_context *ctx, const char *output, int epochs,
                           double ramp, const char *mode, double amount, const char *dense,
                           float lr, const finetune_opts *f) {
  int ramp_epochs = (int)(ramp * epochs + 0.5);
  if (ramp_epochs < 1) ramp_epochs = 1;
  for (int e = 1; e <= epochs; e++) {
    char err[1024];
    pare_model *m = NULL;
    if (pare_model_load(output, &m, err, sizeof err) != PARE_OK) return cli_fail(cmd, "%s", err);
    double r = e >= ramp_epochs ? 0.0 : 1.0 - (double)e / ramp_epochs;
    double s = amount * (1.0 - r * r * r);
    float lr_e = epoch_lr(lr, e, epochs);
    printf("gradual pruning, epoch %d/%d: sparsity %.3f, lr %g\n", e, epochs, s, (double)lr_e);
    int rc = prune(cmd, m, mode, s, dense);
    if (!rc && pare_model_save(m, output) != PARE_OK)
      rc = cli_fail(cmd, "%s", pare_model_last_error(m));
    pare_model_destroy(m);
    finetune_opts fe = epoch_opts(f, e);
    if (!rc) rc = finetune(cmd, ctx, output, 1, lr_e, "constant", &fe);
    if (rc) return rc;
  }
  return 0;
}

static void print_share_table(const pare_share_layer_info *l, int n) {
  printf("%-24s %-6s %10s %10s %8s %10s  %s\n", "node", "op", "weights", "zeros", "values",
         "rms error", "");
  for (int i = 0; i < n; i++) {
    char values[24] = "-", error[24] = "-";
    if (l[i].shared) {
      snprintf(values, sizeof values, "%lld", (long long)l[i].values);
      snprintf(error, sizeof error, "%.3f%%", 100.0 * l[i].rms_error);
    }
    char how[128];
    snprintf(how, sizeof how, "%s", l[i].why);
    if (l[i].shared) snprintf(how, sizeof how, "shared, %d bits", l[i].bits);
    printf("%-24.24s %-6s %10lld %10lld %8s %10s  %s\n", l[i].node, l[i].op, (long long)l[i].params,
           (long long)l[i].zeros, values, error, how);
  }
}

static int share(const char *cmd, pare_model *m, int bits, const char *dense) {
  pare_share_layer_info *layers = NULL;
  int n = 0;
  if (pare_model_share_weights(m, bits, dense, &layers, &n) != PARE_OK)
    return cli_fail(cmd, "%s", pare_model_last_error(m));
  print_share_table(layers, n);
  pare_free(layers);
  return 0;
}

/* Fine-tuning of shared weights, one epoch at a time at the rate of
 * epoch_lr (constant within each epoch: annealing to 0 inside every epoch
 * did worse on LeNet-300-100), zeros kept. After each epoch the trained
 * weights are shared again (k-means afresh), so the file always holds at
 * most 2^bits values per layer and the next epoch starts from the
 * codebook. */
static int finetune_shared(const char *cmd, pare_context *ctx, const char *output, int epochs,
                           int bits, const char *dense, float lr, const finetune_opts *f) {
  for (int e = 1; e <= epochs; e++) {
    float lr_e = epoch_lr(lr, e, epochs);
    printf("fine-tuning shared weights, epoch %d/%d at lr %g, then sharing again\n", e, epochs,
           (double)lr_e);
    finetune_opts fe = epoch_opts(f, e);
    int rc = finetune(cmd, ctx, output, 1, lr_e, "constant", &fe);
    char err[1024];
    pare_model *m = NULL;
    if (!rc && pare_model_load(output, &m, err, sizeof err) != PARE_OK)
      rc = cli_fail(cmd, "%s", err);
    if (!rc) rc = share(cmd, m, bits, dense);
    if (!rc && pare_model_save(m, output) != PARE_OK)
      rc = cli_fail(cmd, "%s", pare_model_last_error(m));
    pare_model_destroy(m);
    if (rc) return rc;
  }
  return 0;
}

static void print_act_table(const pare_act_prune_info *l, int n) {
  printf("%-24s %10s %14s %14s  %s\n", "layer (its input)", "threshold", "zeros before",
         "zeros after", "");
  for (int i = 0; i < n; i++)
    printf("%-24.24s %10.4g %13.1f%% %13.1f%%  %s\n", l[i].node, (double)l[i].threshold,
           100.0 * l[i].sparsity_before, 100.0 * l[i].sparsity,
           l[i].pruned ? "pruned" : "already that sparse");
}

static void print_quant_table(const pare_quant_layer_info *l, int n) {
  uint64_t before = 0, after = 0;
  printf("%-24s %-6s %5s %10s %10s %9s %22s  %s\n", "node", "op", "bits", "bytes", "after",
         "w error", "input range (scale, zp)", "");
  for (int i = 0; i < n; i++) {
    char range[64] = "-";
    if (l[i].act_scale > 0)
      snprintf(range, sizeof range, "[%.3g, %.3g] (%.3g, %d)", (double)l[i].act_lo,
               (double)l[i].act_hi, (double)l[i].act_scale, (int)l[i].act_zero_point);
    printf("%-24.24s %-6s %5d %10llu %10llu %8.3f%% %22s  %s\n", l[i].node, l[i].op,
           l[i].weight_bits, (unsigned long long)l[i].bytes_before,
           (unsigned long long)l[i].bytes_after, 100.0 * l[i].weight_error, range, l[i].why);
    before += l[i].bytes_before;
    after += l[i].weight_bits ? l[i].bytes_after : l[i].bytes_before;
  }
  if (after)
    printf("weights of these layers: %llu -> %llu bytes (%.2fx smaller)\n",
           (unsigned long long)before, (unsigned long long)after, (double)before / (double)after);
}

/* Post-training quantization of the model saved at `path`, in place. */
static int quantize(const char *cmd, const char *path, const char *spec, const char *method,
                    const char *dataset, long long images, const char *dense, int per_tensor) {
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail(cmd, "%s", err);
  pare_quant_layer_info *layers = NULL;
  int n = 0, rc = 0;
  if (pare_model_quantize(m, spec, method, dataset, images, dense, per_tensor, &layers, &n) !=
      PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  else
    print_quant_table(layers, n);
  if (!rc && pare_model_save(m, path) != PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  pare_free(layers);
  pare_model_destroy(m);
  return rc;
}

/* Activation pruning of the model saved at `path`, in place. */
static int prune_activations(const char *cmd, const char *path, double sparsity,
                             const char *dataset, long long images, const char *dense) {
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(path, &m, err, sizeof err) != PARE_OK) return cli_fail(cmd, "%s", err);
  pare_act_prune_info *layers = NULL;
  int n = 0, rc = 0;
  if (pare_model_prune_activations(m, sparsity, dataset, images, dense, &layers, &n) != PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  else
    print_act_table(layers, n);
  if (!rc && pare_model_save(m, path) != PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  pare_free(layers);
  pare_model_destroy(m);
  return rc;
}

int cmd_compress(int argc, char **argv) {
  const char *cmd = "compress", *input = NULL, *output = NULL, *lowrank = NULL;
  const char *conv = "channel", *skip = NULL, *dataset = "fashion-mnist";
  const char *backend = "auto", *device = NULL;
  const char *schedule = "cosine", *prune_mode = "layer", *dense = NULL;
  const char *prune_schedule = "oneshot";
  float ramp = 1.0f;
  long long epochs = 0, batch = 64, seed = 1, measure = 0, data_images = 0;
  float lr = 0.01f, weight_decay = 0.0f, amount = -1.0f, alpha = 0.5f, temperature = 4.0f,
        act_sparsity = 0.0f;
  long long calib_images = 1000;
  const char *quant = NULL, *calib_method = "minmax", *quant_dense = NULL;
  const char *share_dense = NULL;
  long long share_bits = 0;
  int per_tensor = 0, qat = 0, reshare = 0;
  int distill = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int rc = 0;
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      cli_print_usage(cmd);
      return 0;
    } else if (cli_flag_value(argc, argv, &i, "--prune", &v)) {
      rc = cli_parse_float(cmd, "--prune", v, &amount);
      if (!rc && !(amount >= 0))
        return cli_usage_error(cmd, "--prune must be a fraction or threshold >= 0, not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--prune-mode", &v)) {
      prune_mode = v;
    } else if (cli_flag_value(argc, argv, &i, "--prune-schedule", &v)) {
      prune_schedule = v;
      if (strcmp(v, "oneshot") && strcmp(v, "gradual"))
        return cli_usage_error(cmd, "--prune-schedule is oneshot or gradual, not '%s'", v);
    } else if (cli_flag_value(argc, argv, &i, "--prune-ramp", &v)) {
      rc = cli_parse_float(cmd, "--prune-ramp", v, &ramp);
      if (!rc && !(ramp > 0 && ramp <= 1))
        return cli_usage_error(cmd, "--prune-ramp is a fraction of the epochs in (0, 1], not '%s'",
                               v);
      if (rc) return rc;
    } else if (cli_flag_value(argc, argv, &i, "--prune-activations", &v)) {
      rc = cli_parse_float(cmd, "--prune-activations", v, &act_sparsity);
      if (!rc && !(act_sparsity > 0 && act_sparsity < 1))
        return cli_usage_error(cmd, "--prune-activations must be in (0, 1), not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--calib-images", &v)) {
      rc = cli_parse_count(cmd, "--calib-images", v, 1, 1 << 24, &calib_images);
    } else if (cli_flag_value(argc, argv, &i, "--quant", &v)) {
      quant = v;
    } else if (cli_flag_value(argc, argv, &i, "--share-bits", &v)) {
      rc = cli_parse_count(cmd, "--share-bits", v, 0, 1000, &share_bits);
      if (!rc && !(share_bits >= 1 && share_bits <= 8))
        return cli_usage_error(cmd, "--share-bits is 1..8 (2 to 256 values a layer), not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--share-dense", &v)) {
      share_dense = v;
    } else if (cli_flag_value(argc, argv, &i, "--calib-method", &v)) {
      calib_method = v;
    } else if (cli_flag_value(argc, argv, &i, "--quant-dense", &v)) {
      quant_dense = v;
    } else if (!strcmp(argv[i], "--per-tensor")) {
      per_tensor = 1;
    } else if (!strcmp(argv[i], "--qat")) {
      qat = 1;
    } else if (cli_flag_value(argc, argv, &i, "--share-finetune", &v)) {
      if (strcmp(v, "centroids") && strcmp(v, "reshare"))
        return cli_usage_error(cmd, "--share-finetune is centroids or reshare, not '%s'", v);
      reshare = !strcmp(v, "reshare");
    } else if (!strcmp(argv[i], "--distill")) {
      distill = 1;
    } else if (cli_flag_value(argc, argv, &i, "--alpha", &v)) {
      rc = cli_parse_float(cmd, "--alpha", v, &alpha);
    } else if (cli_flag_value(argc, argv, &i, "--temperature", &v)) {
      rc = cli_parse_float(cmd, "--temperature", v, &temperature);
    } else if (cli_flag_value(argc, argv, &i, "--dense", &v)) {
      dense = v;
    } else if (cli_flag_value(argc, argv, &i, "--lowrank", &v)) {
      lowrank = v;
    } else if (cli_flag_value(argc, argv, &i, "--lowrank-data", &v)) {
      rc = cli_parse_count(cmd, "--lowrank-data", v, 1, 1 << 24, &data_images);
    } else if (cli_flag_value(argc, argv, &i, "--lowrank-conv", &v)) {
      conv = v;
    } else if (cli_flag_value(argc, argv, &i, "--measure-batch", &v)) {
      rc = cli_parse_count(cmd, "--measure-batch", v, 1, 1 << 20, &measure);
    } else if (cli_flag_value(argc, argv, &i, "--skip", &v)) {
      skip = v;
    } else if (cli_flag_value(argc, argv, &i, "--finetune-epochs", &v)) {
      rc = cli_parse_count(cmd, "--finetune-epochs", v, 1, 1000000, &epochs);
    } else if (cli_flag_value(argc, argv, &i, "--lr", &v)) {
      rc = cli_parse_float(cmd, "--lr", v, &lr);
      if (!rc && !(lr > 0)) return cli_usage_error(cmd, "--lr must be positive, not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--weight-decay", &v)) {
      rc = cli_parse_float(cmd, "--weight-decay", v, &weight_decay);
      if (!rc && !(weight_decay >= 0))
        return cli_usage_error(cmd, "--weight-decay must be >= 0, not %s", v);
    } else if (cli_flag_value(argc, argv, &i, "--schedule", &v)) {
      schedule = v;
    } else if (cli_flag_value(argc, argv, &i, "--batch", &v)) {
      rc = cli_parse_count(cmd, "--batch", v, 1, 1000000, &batch);
    } else if (cli_flag_value(argc, argv, &i, "--seed", &v)) {
      rc = cli_parse_count(cmd, "--seed", v, 0, INT64_MAX, &seed);
    } else if (cli_flag_value(argc, argv, &i, "--dataset", &v)) {
      dataset = v;
    } else if (cli_flag_value(argc, argv, &i, "-o", &v) ||
               cli_flag_value(argc, argv, &i, "--output", &v)) {
      output = v;
    } else if (cli_flag_value(argc, argv, &i, "--backend", &v)) {
      backend = v;
    } else if (cli_flag_value(argc, argv, &i, "--device", &v)) {
      device = v;
    } else if (argv[i][0] != '-' && !input) {
      input = argv[i];
    } else {
      return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[i]);
    }
    if (rc) return rc;
  }
  if (!input) return cli_usage_error(cmd, "no model given%s", "");
  if (!output) return cli_usage_error(cmd, "no output given (-o out.pare)%s", "");
  if (!lowrank && amount < 0 && !(act_sparsity > 0) && !quant && !share_bits)
    return cli_usage_error(
        cmd,
        "nothing to do: give --prune, --lowrank, --share-bits, --prune-activations or --quant%s",
        "");
  if (share_bits && quant && strcmp(quant, "fp16"))
    return cli_usage_error(cmd,
                           "--share-bits cannot be combined with --quant %s (integer weights): "
                           "shared weights stay float; use one of them, or --quant fp16",
                           quant);
  if (distill && epochs < 1) return cli_usage_error(cmd, "--distill needs --finetune-epochs%s", "");
  if (qat &&
      (!quant || epochs < 1 || (strcmp(quant, "int8") && strcmp(quant, "int4") && quant[0] != 'w')))
    return cli_usage_error(cmd, "--qat needs an integer --quant and --finetune-epochs%s", "");
  int gradual = amount >= 0 && !strcmp(prune_schedule, "gradual");
  if (gradual && epochs < 1)
    return cli_usage_error(cmd, "--prune-schedule gradual needs --finetune-epochs%s", "");
  if (gradual && strcmp(prune_mode, "layer") && strcmp(prune_mode, "global") &&
      strcmp(prune_mode, "lamp"))
    return cli_usage_error(cmd,
                           "--prune-schedule gradual works with --prune-mode layer, global or "
                           "lamp, not %s",
                           prune_mode);
  if (gradual && share_bits)
    return cli_usage_error(cmd, "--share-bits works with --prune-schedule oneshot, not gradual%s",
                           "");
  if (cli_parse_only()) return 0;
  char err[1024];
  pare_model *m = NULL;
  if (pare_model_load(input, &m, err, sizeof err) != PARE_OK) return cli_fail(cmd, "%s", err);
  pare_context *ctx = NULL;
  int rc = cli_open_context(cmd, backend, device, &ctx);
  if (rc) {
    pare_model_destroy(m);
    return rc;
  }
  if (amount >= 0 && !gradual) rc = prune(cmd, m, prune_mode, amount, dense);
  pare_factor_layer *layers = NULL;
  int n = 0;
  if (!rc && lowrank) {
    if (pare_model_factorize(ctx, m, lowrank, conv, skip, (int64_t)measure, dataset,
                             (int64_t)data_images, &layers, &n) != PARE_OK)
      rc = cli_fail(cmd, "%s", pare_model_last_error(m));
    else
      print_factor_table(layers, n);
  }
  /* Weight sharing after pruning and low rank (zeros stay zero). */
  if (!rc && share_bits) rc = share(cmd, m, (int)share_bits, share_dense);
  if (!rc && pare_model_save(m, output) != PARE_OK)
    rc = cli_fail(cmd, "%s", pare_model_last_error(m));
  pare_free(layers);
  pare_model_destroy(m);
  /* Activation thresholds are calibrated on the compressed model, before
   * the fine-tuning that lets the layers adapt to them. */
  if (!rc && act_sparsity > 0)
    rc = prune_activations(cmd, output, act_sparsity, dataset, calib_images, NULL);
  /* --qat: the fine-tuning sees the weights at the bits --quant will give. */
  int qat_bits = 0;
  if (qat) {
    int w = 0;
    qat_bits = !strcmp(quant, "int8")          ? 8
               : !strcmp(quant, "int4")        ? 4
               : sscanf(quant, "w%d", &w) == 1 ? w
                                               : 0;
  }
  finetune_opts f = {dataset,
                     schedule,
                     lr,
                     weight_decay,
                     batch,
                     seed,
                     amount >= 0 || share_bits,
                     distill ? input : NULL,
                     alpha,
                     temperature,
                     qat_bits,
                     0};
  if (!rc && gradual)
    rc = prune_gradually(cmd, ctx, output, (int)epochs, ramp, prune_mode, amount, dense, lr, &f);
  if (!rc && epochs > 0 && share_bits && reshare)
    rc = finetune_shared(cmd, ctx, output, (int)epochs, (int)share_bits, share_dense, lr, &f);
  else if (!rc && epochs > 0 && share_bits) {
    printf("fine-tuning the shared weights' centroids %lld epoch(s) at lr %g (%s)\n", epochs,
           (double)lr, schedule);
    f.keep_shared = 1;
    rc = finetune(cmd, ctx, output, (int)epochs, lr, schedule, &f);
  } else if (!rc && epochs > 0 && !gradual) {
    printf("fine-tuning %lld epoch(s) at lr %g (%s)\n", epochs, (double)lr, schedule);
    rc = finetune(cmd, ctx, output, (int)epochs, lr, schedule, &f);
  }
  /* Post-training quantization comes last, on the fine-tuned weights. */
  if (!rc && quant)
    rc = quantize(cmd, output, quant, calib_method, dataset, calib_images, quant_dense, per_tensor);
  if (!rc) printf("saved %s\n", output);
  pare_context_destroy(ctx);
  return rc;
}
